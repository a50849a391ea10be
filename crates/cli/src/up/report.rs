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

/// The lines a newcomer pastes into a shell so that the README's commands work on what `up`
/// made: the environment (`LINKPLANE_URL`, `LINKPLANE_DATA_DIR`, `PATH` when needed), the
/// walkthrough's `customer()` function and the ids under the walkthrough's names; then
/// commands to try with them. Each line is indented by two spaces.
pub(super) fn paste_block(s: &Summary, host: &str) -> String {
    let mut out =
        String::from("Paste into your shell (the names the README's walkthroughs use):\n");
    if let Ok(exe) = linkplane_exe() {
        let on_path = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| Some(d.as_path()) == exe.parent()));
        if let (false, Some(dir)) = (on_path, exe.parent()) {
            out.push_str(&format!(
                "  export PATH={}:$PATH\n",
                shell_quote(&dir.display().to_string())
            ));
        }
    }
    out.push_str(&format!(
        "  export LINKPLANE_URL={} LINKPLANE_DATA_DIR={}\n",
        shell_quote(&s.control_plane_url),
        shell_quote(&s.data_dir)
    ));
    out.push_str(&format!(
        "  export CUSTOMER={}\n",
        shell_quote(&s.customer_principal)
    ));
    out.push_str("  customer() { linkplane cloud --as \"$CUSTOMER\" \"$@\"; }\n");
    out.push_str(&format!(
        "  CLUSTER={} DEPLOYMENT={} VPC={} ENDPOINT={} INSTANCE={}\n",
        s.cluster_id, s.deployment_id, s.customer_vpc, s.endpoint_id, s.customer_instance
    ));
    out.push_str("\nThen try:\n");
    out.push_str("  linkplane agent list --deployment $DEPLOYMENT              # HEALTHY\n");
    out.push_str(&format!(
        "  customer exec $INSTANCE -- dig +short {host}    # the endpoint's private IPs\n"
    ));
    out.push_str(&format!(
        "  customer exec $INSTANCE -- curl -sS --cacert $LINKPLANE_DATA_DIR/ca.pem https://{host}/    # 404 page not found\n"
    ));
    if let Some(ip) = &s.public_ip {
        out.push_str(&format!(
            "  linkplane cloud internet exec -- curl -sS --cacert $LINKPLANE_DATA_DIR/ca.pem \\\n      --resolve {host}:443:{ip} https://{host}/    # the public path; refused once --private-only\n"
        ));
    }
    out
}

/// `s` quoted for a POSIX shell when it holds anything but safe characters.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=@,+%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
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
    print!("{}", paste_block(s, host));
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
