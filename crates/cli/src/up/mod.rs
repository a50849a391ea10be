//! `linkplane up` / `linkplane down`: one command to a working private link (issue 6).
//!
//! `up` performs document 000 end to end through the real APIs: it starts (or reuses) a
//! background `linkplane serve`, then, on the control plane's `/v1` API, a LOCAL DEDICATED
//! cluster, a deployment and an agent token; on localcloud's `/cloud/v1` API, as the
//! customer's account, a VPC with two subnets in two zones, the endpoint in them with a
//! security group allowing 443 from the agents' subnet, a private hosted zone
//! `external.<baseDomain>` with the record `<clusterId>` → the endpoint, and an instance
//! running `linkplane agent run`; the provider accepts the endpoint on `/v1`; finally
//! `linkplane verify` runs the document's checks from the customer's instance. Every object
//! is found by name before it is created, so running `up` twice changes nothing.
//!
//! `down` stops the background control plane, removes every kernel object of the prefix
//! (`linkplane local gc`) and deletes the data directory `up` made.
//!
//! Modules: [`args`] the command lines, [`api`] the two APIs (through `linkplane-client`)
//! and waiting, [`local`] this machine (preflight, the background serve, secrets, verify),
//! [`plane`] the steps on `/v1`, [`customer`] the steps on `/cloud/v1`, [`report`] progress
//! and the summary, [`down`] the teardown. This file runs the steps in order.

use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use linkplane_client::Client;

mod api;
mod args;
mod customer;
mod down;
mod local;
mod plane;
mod report;

use api::*;
pub use args::*;
use customer::*;
pub use down::down;
use local::*;
use plane::*;
pub use report::*;

/// The customer's account in localcloud (document 000's "your AWS account").
pub const CUSTOMER_PRINCIPAL: &str = "arn:aws:iam::111122223333:root";
const CLUSTER_NAME: &str = "playground";
const CLUSTER_CIDR: &str = "10.20.0.0/16";
const DEPLOYMENT_NAME: &str = "etl";
const AGENT_TOKEN_NAME: &str = "playground-agents";
const AGENT_NAME: &str = "playground-agent-1";
const VPC_NAME: &str = "customer";
const VPC_CIDR: &str = "10.1.0.0/16";
/// (name, CIDR) of the customer's two subnets; the first holds the agents.
const SUBNETS: [(&str, &str); 2] = [
    ("customer-agents", "10.1.1.0/24"),
    ("customer-b", "10.1.2.0/24"),
];
const ENDPOINT_SG: &str = "privatelink-endpoint";
const INSTANCE_NAME: &str = "agent-host";
/// Written into the data directory by `up`; `down` deletes only a directory that has it.
const MARKER: &str = "up.json";
const PID_FILE: &str = "serve.pid";
const LOG_FILE: &str = "serve.log";
const AGENT_TOKEN_FILE: &str = "agent.token";

/// Everything `up` found or created, filled step by step.
#[derive(Default)]
struct State {
    cluster_id: String,
    public_ip: Option<String>,
    external_ips: Vec<String>,
    deployment_id: String,
    api_url: String,
    host: String,
    service_name: String,
    zones: Vec<String>,
    vpc_id: String,
    subnet_ids: Vec<String>,
    sg_id: String,
    endpoint_id: String,
    endpoint_dns: String,
    endpoint_ips: Vec<String>,
    instance_id: String,
}

pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    linkplane_localcloud::Prefix::parse(&args.prefix).map_err(|e| anyhow!("--prefix: {e}"))?;
    preflight()?;
    linkplane_exe()?;
    let data_dir = absolute(&args.data_dir)?;
    let timeout = Duration::from_secs(args.timeout);
    let client = |token: Option<String>, principal: Option<&str>| {
        let mut b = Client::builder(format!("http://{}", args.listen))
            .token_opt(token)
            .timeout(Duration::from_secs(120));
        if let Some(p) = principal {
            b = b.principal(p);
        }
        b.build().map_err(|e| anyhow!("--listen {e}"))
    };
    let server = client(None, None)?;
    let mut p = Progress {
        step: 0,
        total: 13,
        started: Instant::now(),
    };

    let url = p
        .run("control plane", async {
            ensure_serve(&args, &data_dir, &server)
                .await
                .map(|(u, d)| (u.clone(), d))
        })
        .await?;
    let token_file = data_dir.join("admin.token");
    let org = read_secret(&data_dir.join("organization-id"))?;
    let plane = Api {
        client: client(Some(read_secret(&token_file)?), None)?,
        prefix: Some(format!("/v1/organizations/{org}")),
    };
    let cloud = Api {
        client: client(
            Some(read_secret(
                &data_dir.join(linkplane_localcloud::TOKEN_FILE),
            )?),
            Some(CUSTOMER_PRINCIPAL),
        )?,
        prefix: None,
    };
    let mut s = State::default();

    p.run(
        "cluster (LOCAL, DEDICATED)",
        cluster(&plane, &mut s, timeout),
    )
    .await?;
    p.run("deployment", deployment(&plane, &mut s)).await?;
    let agent_token_file = data_dir.join(AGENT_TOKEN_FILE);
    p.run("agent token", agent_token(&plane, &s, &agent_token_file))
        .await?;
    p.run("PrivateLink service", private_link(&plane, &mut s, timeout))
        .await?;
    p.run("customer VPC and subnets", customer_vpc(&cloud, &mut s))
        .await?;
    p.run(
        "endpoint security group (443 from the agents' subnet)",
        endpoint_sg(&cloud, &mut s),
    )
    .await?;
    p.run("customer endpoint", endpoint(&cloud, &mut s)).await?;
    p.run("private hosted zone and record", zone(&cloud, &s))
        .await?;
    p.run(
        "accept the endpoint",
        accept(&plane, &cloud, &mut s, timeout),
    )
    .await?;
    let ca_file = data_dir.join("ca.pem");
    p.run(
        "customer instance running the agent",
        instance(&cloud, &mut s, &agent_token_file, &ca_file),
    )
    .await?;
    p.run("agent heartbeating", agent_healthy(&plane, &s, timeout))
        .await?;
    let verify = p
        .run("verify", async {
            let v = verify(&url, &data_dir, &org, &s).await;
            let d = format!(
                "{} ({} checks)",
                if v.passed { "passed" } else { "FAILED" },
                v.checks.len()
            );
            Ok((v, d))
        })
        .await?;

    s.public_ip = public_ip(&cloud, &s.host).await;
    let summary = Summary {
        control_plane_url: url,
        data_dir: data_dir.display().to_string(),
        organization_id: org,
        token_file: token_file.display().to_string(),
        cluster_id: s.cluster_id,
        deployment_id: s.deployment_id,
        api_url: s.api_url,
        public_ip: s.public_ip,
        external_ips: s.external_ips,
        customer_principal: CUSTOMER_PRINCIPAL.to_owned(),
        customer_vpc: s.vpc_id,
        customer_instance: s.instance_id,
        endpoint_id: s.endpoint_id,
        endpoint_ips: s.endpoint_ips,
        service_name: s.service_name,
        ca_file: ca_file.display().to_string(),
        agent_token_file: agent_token_file.display().to_string(),
        verify,
    };
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        Output::Table => print_summary(&summary, &s.host, p.started.elapsed()),
    }
    if !summary.verify.passed {
        bail!("verification failed: see the checks above");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
