//! `linkplane verify`: document 000's verification and troubleshooting steps, run for real
//! from inside a customer instance (see crates/verify).
//!
//! Facts come from the control plane (`/v1`: the deployment's host name, its cluster's
//! private link and the agents) and from localcloud (`/cloud/v1`, as the customer's
//! principal: the instance, its subnet, the endpoints in its VPC to the cluster's service,
//! their security groups, the private hosted zone `external.<baseDomain>`). The probes (DNS
//! through the VPC resolver, TCP 443, HTTPS `GET /` against the CA) run inside the
//! instance's network namespace, so this needs root on the machine that runs localcloud.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use linkplane_localcloud::types::{Endpoint, HostedZone, Instance, SecurityGroup, Subnet};
use linkplane_verify::diagnose::{
    AgentFacts, Check, Diagnosis, EndpointFacts, Facts, Report, ZoneFacts, evaluate,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  linkplane verify --deployment dep… --from i-…\n  linkplane verify --deployment dep… --from i-… --as arn:aws:iam::222222222222:root --output json\n\nExit status: 0 when every check passed, 1 when one failed, 2 when verify could not run."
)]
pub struct VerifyArgs {
    /// The deployment whose orchestration plane the agents must reach.
    #[arg(long)]
    pub deployment: String,
    /// The customer instance (i-…) to run the checks from.
    #[arg(long = "from", value_name = "INSTANCE")]
    pub from: String,
    /// Base URL of `linkplane serve`.
    #[arg(long, env = "LINKPLANE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API token [default: $LINKPLANE_DATA_DIR/admin.token or ./.linkplane/admin.token].
    #[arg(long, env = "LINKPLANE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The instance's owner in localcloud (the customer's principal).
    #[arg(
        long = "as",
        value_name = "ARN",
        env = "LINKPLANE_CLOUD_PRINCIPAL",
        default_value = "arn:aws:iam::000000000001:root"
    )]
    pub principal: String,
    /// The localcloud operator token file [default: $LINKPLANE_DATA_DIR/cloud.token or
    /// ./.linkplane/cloud.token].
    #[arg(long, value_name = "PATH")]
    pub cloud_token_file: Option<PathBuf>,
    /// Leave the agents' health out of the verdict (e.g. before any agent runs).
    #[arg(long)]
    pub skip_agents: bool,
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

fn data_file(name: &str) -> PathBuf {
    std::env::var_os("LINKPLANE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("./.linkplane"))
        .join(name)
}

fn read_secret(path: &std::path::Path, what: &str) -> anyhow::Result<String> {
    let t = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} from {}", path.display()))?;
    let t = t.trim().to_owned();
    if t.is_empty() {
        bail!("{} is empty: it should hold the {what}", path.display());
    }
    Ok(t)
}

struct Apis {
    http: reqwest::Client,
    base: String,
    token: String,
    cloud_token: String,
    principal: String,
}

impl Apis {
    async fn get<T: DeserializeOwned>(&self, path: &str, cloud: bool) -> anyhow::Result<Option<T>> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.get(&url);
        req = if cloud {
            req.bearer_auth(&self.cloud_token)
                .header(linkplane_localcloud::api::PRINCIPAL_HEADER, &self.principal)
        } else {
            req.bearer_auth(&self.token)
        };
        let resp = req.send().await.with_context(|| {
            format!(
                "cannot reach linkplane at {}: is `linkplane serve` running? (set --url)",
                self.base
            )
        })?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("GET {path} answered {status}: {text}");
        }
        Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("GET {path}: unexpected answer")
        })?))
    }

    async fn must<T: DeserializeOwned>(
        &self,
        path: &str,
        cloud: bool,
        what: &str,
    ) -> anyhow::Result<T> {
        self.get(path, cloud)
            .await?
            .with_context(|| format!("{what} not found (GET {path})"))
    }
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let report = match verify(&args).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("verify could not run: {e:#}");
            std::process::exit(2);
        }
    };
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Output::Text => print_text(&report),
    }
    if !report.passed {
        std::process::exit(1);
    }
    Ok(())
}

fn print_text(r: &Report) {
    for c in &r.checks {
        let mark = if c.passed { "PASS" } else { "FAIL" };
        println!("{mark}  {:<28} {}", c.name, c.detail);
        if let Some(d) = c.diagnosis {
            println!("      diagnosis: {}", d.as_str());
        }
        if let Some(f) = &c.fix {
            println!("      fix: {f}");
        }
    }
    println!(
        "{}",
        if r.passed {
            "all checks passed"
        } else {
            "some checks failed"
        }
    );
}

async fn verify(args: &VerifyArgs) -> anyhow::Result<Report> {
    let token = match &args.token {
        Some(t) => t.clone(),
        None => read_secret(&data_file("admin.token"), "API token (or pass --token)")?,
    };
    let cloud_token = read_secret(
        &args
            .cloud_token_file
            .clone()
            .unwrap_or_else(|| data_file(linkplane_localcloud::TOKEN_FILE)),
        "localcloud operator token (or pass --cloud-token-file)",
    )?;
    let apis = Apis {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        base: args.url.trim_end_matches('/').to_owned(),
        token,
        cloud_token,
        principal: args.principal.clone(),
    };
    let orgs: Value = apis
        .must("/v1/organizations", false, "organizations")
        .await?;
    let org = orgs["items"][0]["id"]
        .as_str()
        .context("the token sees no organization")?
        .to_owned();
    let o = format!("/v1/organizations/{org}");
    let dep: Value = apis
        .must(
            &format!("{o}/deployments/{}", args.deployment),
            false,
            "deployment",
        )
        .await?;
    let cluster_id = dep["clusterId"]
        .as_str()
        .context("deployment without clusterId")?;
    let api_url = dep["apiUrl"]
        .as_str()
        .context("deployment without apiUrl")?;
    let host = api_url
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let base_domain = host
        .split_once(".external.")
        .map(|(_, b)| b.to_owned())
        .context("apiUrl is not https://<clusterId>.external.<baseDomain>/…")?;
    let agents: Value = apis
        .must(
            &format!("{o}/deployments/{}/agents", args.deployment),
            false,
            "agents",
        )
        .await?;
    let agents: Vec<AgentFacts> = agents["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| AgentFacts {
                    name: x["name"].as_str().unwrap_or_default().to_owned(),
                    status: x["status"].as_str().unwrap_or_default().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    let pl: Option<Value> = apis
        .get(&format!("{o}/clusters/{cluster_id}/private-link"), false)
        .await?;

    let inst: Instance = apis
        .must(
            &format!("/cloud/v1/instances/{}", args.from),
            true,
            "instance (check --from and --as)",
        )
        .await?;
    let subnet: Subnet = apis
        .must(
            &format!("/cloud/v1/subnets/{}", inst.subnet_id),
            true,
            "the instance's subnet",
        )
        .await?;
    let endpoint = match &pl {
        Some(pl) => endpoint_facts(&apis, pl, &inst, &subnet).await?,
        None => None,
    };
    let zone = zone_facts(&apis, &base_domain, &host, &inst).await?;
    let public: Vec<Value> = apis
        .get("/cloud/v1/public-records", true)
        .await?
        .unwrap_or_default();
    let public_ips: Vec<IpAddr> = public
        .iter()
        .filter(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| n.trim_end_matches('.') == host)
        })
        .flat_map(|r| r["values"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
        .collect();
    let facts = Facts {
        host: host.clone(),
        public_ips,
        endpoint,
        zone,
        agents,
        check_agents: !args.skip_agents,
    };

    let ca_pem = apis
        .http
        .get(format!("{}/v1/ca.pem", apis.base))
        .send()
        .await?
        .error_for_status()
        .context("GET /v1/ca.pem")?
        .text()
        .await?;
    let resolver = linkplane_verify::probe::resolver_of(&inst.namespace).with_context(|| {
        format!(
            "no resolver in /etc/netns/{}/resolv.conf: verify runs as root on the machine that runs localcloud",
            inst.namespace
        )
    })?;
    let probe = linkplane_verify::probe::Probe {
        netns: inst.namespace.clone(),
        resolver: SocketAddr::new(resolver, 53),
        host,
        port: 443,
        ca_pem,
        timeout: Duration::from_secs(5),
    };
    let seen = linkplane_verify::probe::run(&probe)
        .await
        .with_context(|| format!("cannot probe from {} (run verify as root)", inst.namespace))?;
    let no_endpoint = facts.endpoint.is_none();
    let mut report = evaluate(&facts, &seen, chrono::Utc::now());
    if let (true, Some(pl)) = (no_endpoint, &pl)
        && let Some(check) = instance_zone_check(pl, &subnet)
    {
        report.passed = false;
        report.checks.insert(0, check);
    }
    Ok(report)
}

/// Without an endpoint in the instance's VPC: is the instance's subnet in a zone the
/// service supports? (An endpoint cannot be placed in a subnet of another zone.)
fn instance_zone_check(pl: &Value, subnet: &Subnet) -> Option<Check> {
    let supported: Vec<&str> = pl["availabilityZones"]
        .as_array()?
        .iter()
        .filter_map(|z| z.as_str())
        .collect();
    if supported.contains(&subnet.availability_zone.as_str()) {
        return None;
    }
    Some(Check {
        name: "instance-subnet-az",
        passed: false,
        detail: format!(
            "the instance's subnet {} is in {}, which the endpoint service does not support ({})",
            subnet.subnet_id,
            subnet.availability_zone,
            supported.join(", ")
        ),
        diagnosis: Some(Diagnosis::SubnetAzNotSupported),
        fix: Some(format!(
            "create subnet(s) in {} for the endpoint (and the agents), then create the endpoint there",
            supported.join(" or ")
        )),
    })
}

async fn endpoint_facts(
    apis: &Apis,
    pl: &Value,
    inst: &Instance,
    subnet: &Subnet,
) -> anyhow::Result<Option<EndpointFacts>> {
    let service = pl["serviceName"].as_str().unwrap_or_default();
    let supported: Vec<String> = pl["availabilityZones"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|z| z.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let eps: Vec<Endpoint> = apis
        .get("/cloud/v1/vpc-endpoints", true)
        .await?
        .unwrap_or_default();
    let Some(ep) = eps
        .into_iter()
        .filter(|e| e.vpc_id == inst.vpc_id && e.service_name == service)
        .find(|e| e.state != "deleted")
    else {
        return Ok(None);
    };
    let instance_net: Option<ipnet::Ipv4Net> = subnet.cidr_block.parse().ok();
    let mut admits = false;
    for g in &ep.security_group_ids {
        let Some(sg) = apis
            .get::<SecurityGroup>(&format!("/cloud/v1/security-groups/{g}"), true)
            .await?
        else {
            continue;
        };
        admits |= sg.rules.iter().any(|r| {
            let port_ok = r.ip_protocol == "-1"
                || (r.ip_protocol == "tcp"
                    && (r.from_port == -1 || (r.from_port <= 443 && 443 <= r.to_port)));
            let from_ok = match (&r.cidr_ip, &r.source_security_group_id, instance_net) {
                (Some(c), _, Some(n)) => c.parse::<ipnet::Ipv4Net>().is_ok_and(|c| c.contains(&n)),
                (_, Some(src), _) => inst.security_group_ids.contains(src),
                _ => false,
            };
            r.direction == "ingress" && port_ok && from_ok
        });
    }
    let since = chrono::DateTime::parse_from_rfc3339(&ep.created_at)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    Ok(Some(EndpointFacts {
        endpoint_id: ep.vpc_endpoint_id.clone(),
        state: ep.state.clone(),
        state_since: since,
        private_ips: ep
            .network_interfaces
            .iter()
            .filter_map(|n| n.private_ip_address.parse().ok())
            .collect(),
        subnet_azs: ep
            .network_interfaces
            .iter()
            .map(|n| (n.subnet_id.clone(), n.availability_zone.clone()))
            .collect(),
        supported_azs: supported,
        admits_443_from_instance: admits,
        instance_subnet_cidr: subnet.cidr_block.clone(),
    }))
}

async fn zone_facts(
    apis: &Apis,
    base_domain: &str,
    host: &str,
    inst: &Instance,
) -> anyhow::Result<Option<ZoneFacts>> {
    let zone_name = format!("external.{base_domain}");
    let zones: Vec<HostedZone> = apis
        .get("/cloud/v1/hosted-zones", true)
        .await?
        .unwrap_or_default();
    let same = |n: &str| n.trim_end_matches('.').eq_ignore_ascii_case(&zone_name);
    let zone = zones
        .iter()
        .filter(|z| same(&z.name))
        .find(|z| z.vpc_ids.contains(&inst.vpc_id))
        .or_else(|| zones.iter().find(|z| same(&z.name)));
    Ok(Some(match zone {
        None => ZoneFacts {
            zone_name,
            exists: false,
            associated_with_instance_vpc: false,
            record_values: Vec::new(),
        },
        Some(z) => ZoneFacts {
            zone_name,
            exists: true,
            associated_with_instance_vpc: z.vpc_ids.contains(&inst.vpc_id),
            record_values: z
                .record_sets
                .iter()
                .filter(|r| r.name.trim_end_matches('.').eq_ignore_ascii_case(host))
                .flat_map(|r| r.values.clone())
                .collect(),
        },
    }))
}
