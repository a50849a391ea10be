//! What `up` reports: progress lines on stderr, the summary (table or JSON), the verification.

use std::io::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::*;

/// One check of the verification, as `linkplane verify --output json` prints it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
    /// Which troubleshooting case of the document a failure matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Value>,
    /// What to do about a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Verification {
    pub passed: bool,
    pub checks: Vec<Check>,
}

/// What `up --output json` prints.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub control_plane_url: String,
    pub data_dir: String,
    pub organization_id: String,
    pub token_file: String,
    pub cluster_id: String,
    pub deployment_id: String,
    pub api_url: String,
    /// The cluster's ingress address on the public path (its public DNS record).
    pub public_ip: Option<String>,
    /// The cluster's external (egress) IPs that customers allowlist.
    pub external_ips: Vec<String>,
    pub customer_principal: String,
    pub customer_vpc: String,
    pub customer_instance: String,
    pub endpoint_id: String,
    pub endpoint_ips: Vec<String>,
    pub service_name: String,
    pub ca_file: String,
    pub agent_token_file: String,
    pub verify: Verification,
}

pub(super) struct Progress {
    pub(super) step: usize,
    pub(super) total: usize,
    pub(super) started: Instant,
}

impl Progress {
    /// Runs one step and prints `[ n/total] name: detail (1.2s)` on stderr.
    pub(super) async fn run<T, Fut>(&mut self, name: &str, fut: Fut) -> anyhow::Result<T>
    where
        Fut: std::future::Future<Output = anyhow::Result<(T, String)>>,
    {
        self.step += 1;
        let t = Instant::now();
        eprint!("[{:>2}/{}] {name} … ", self.step, self.total);
        let _ = std::io::stderr().flush();
        match fut.await {
            Ok((v, detail)) => {
                eprintln!("{detail} ({:.2}s)", t.elapsed().as_secs_f64());
                Ok(v)
            }
            Err(e) => {
                eprintln!("FAILED ({:.1}s)", t.elapsed().as_secs_f64());
                Err(e.context(format!("step {} ({name}) failed", self.step)))
            }
        }
    }
}

pub(super) fn made(created: bool) -> &'static str {
    if created { "created" } else { "exists" }
}

pub(super) fn print_summary(s: &Summary, host: &str, took: Duration) {
    println!();
    println!(
        "linkplane is up ({:.0}s). Document 000, working:",
        took.as_secs_f64()
    );
    println!(
        "  control plane     {}  (token file {})",
        s.control_plane_url, s.token_file
    );
    println!("  organization      {}", s.organization_id);
    println!(
        "  cluster           {}  public IP {}, external IPs {}",
        s.cluster_id,
        s.public_ip.as_deref().unwrap_or("-"),
        s.external_ips.join(", ")
    );
    println!(
        "  deployment        {}  API URL {}",
        s.deployment_id, s.api_url
    );
    println!("  service name      {}", s.service_name);
    println!(
        "  customer          {}  VPC {}",
        s.customer_principal, s.customer_vpc
    );
    println!(
        "  endpoint          {}  private IPs {}",
        s.endpoint_id,
        s.endpoint_ips.join(", ")
    );
    println!("  agent instance    {}", s.customer_instance);
    println!();
    if let Ok(exe) = linkplane_exe() {
        let on_path = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| Some(d.as_path()) == exe.parent()));
        if !on_path {
            println!("(`linkplane` below is {})", exe.display());
        }
    }
    println!("Try it from the customer's instance:");
    let cloud = format!(
        "linkplane cloud --url {} --cloud-token-file {}/cloud.token --as {}",
        s.control_plane_url, s.data_dir, s.customer_principal
    );
    println!(
        "  {cloud} exec {} -- dig +short {host}",
        s.customer_instance
    );
    println!(
        "  {cloud} exec {} -- curl -sS --cacert {} https://{host}/    # 404 page not found",
        s.customer_instance, s.ca_file
    );
    if let Some(ip) = &s.public_ip {
        println!();
        println!(
            "The public path (from the internet namespace; refused once the cluster is --private-only):"
        );
        println!(
            "  {cloud} internet exec -- curl -sS --cacert {} --resolve {host}:443:{ip} https://{host}/",
            s.ca_file
        );
    }
    println!();
    println!("The control plane, with the CLI:");
    println!(
        "  export LINKPLANE_URL={} LINKPLANE_TOKEN_FILE={}",
        s.control_plane_url, s.token_file
    );
    println!("  linkplane agent list --deployment {}", s.deployment_id);
    println!();
    println!(
        "Verification: {}",
        if s.verify.passed { "PASSED" } else { "FAILED" }
    );
    for c in &s.verify.checks {
        println!(
            "  [{}] {}: {}",
            if c.passed { "ok" } else { "FAIL" },
            c.name,
            c.detail
        );
        if let Some(fix) = c.fix.as_deref().filter(|_| !c.passed) {
            println!("         fix: {fix}");
        }
    }
    println!();
    println!(
        "Remove everything with: linkplane down --data-dir {}",
        s.data_dir
    );
}
