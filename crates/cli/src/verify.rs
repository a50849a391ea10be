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
use linkplane_client::v1::PrivateLink;
use linkplane_client::{Client, Optional as _};
use linkplane_localcloud::DEFAULT_PRINCIPAL;
use linkplane_localcloud::types::{Endpoint, HostedZone, Instance, SecurityGroup, Subnet};
use linkplane_verify::diagnose::{
    AgentFacts, Check, Diagnosis, EndpointFacts, Facts, Ids, Report, ZoneFacts, evaluate,
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
    after_help = "Examples:\n  linkplane verify --deployment dep… --from i-…\n  linkplane verify --deployment dep… --from i-… --as arn:aws:iam::222222222222:root --output json\n\nWithout --as, verify looks the instance up with the operator token and acts as its owner\n(arn:aws:iam::<owner>:root), saying so on stderr. Every fix it prints is a command with the\nids it found filled in.\n\nExit status: 0 when every check passed, 1 when one failed, 2 when verify could not run."
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
    /// The customer's principal in localcloud [default: the instance's owner account, found
    /// with the operator token: arn:aws:iam::<owner>:root].
    #[arg(long = "as", value_name = "ARN", env = "LINKPLANE_CLOUD_PRINCIPAL")]
    pub principal: Option<String>,
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

/// The control plane's `/v1` (API token) and localcloud's `/cloud/v1` (operator token,
/// as the customer's principal) on the same server.
struct Apis {
    plane: Client,
    cloud: Client,
    base: String,
}

impl Apis {
    /// GET `path` below `/cloud/v1`; a 404 is `None`.
    async fn cloud<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<Option<T>> {
        let answer = self.cloud.cloud().get(path).await;
        self.found(&format!("/cloud/v1{path}"), answer)
    }

    async fn cloud_must<T: DeserializeOwned>(&self, path: &str, what: &str) -> anyhow::Result<T> {
        self.cloud(path)
            .await?
            .with_context(|| format!("{what} not found (GET /cloud/v1{path})"))
    }

    /// A `/v1` or `/cloud/v1` answer of `GET path`; a 404 is `None`.
    fn found<T>(
        &self,
        path: &str,
        answer: linkplane_client::Result<T>,
    ) -> anyhow::Result<Option<T>> {
        match answer.optional() {
            Ok(v) => Ok(v),
            Err(e @ linkplane_client::Error::Unreachable { .. }) => Err(anyhow::Error::new(e)
                .context(format!(
                    "cannot reach linkplane at {}: is `linkplane serve` running? (set --url)",
                    self.base
                ))),
            Err(e @ linkplane_client::Error::Status { .. }) => {
                let status = e.status().map(|s| s.to_string()).unwrap_or_default();
                match e.detail().and_then(crate::cloud::owner_in) {
                    Some(owner) => bail!(
                        "GET {path} answered {status}: {e}\nhint: act as its owner: --as arn:aws:iam::{owner}:root (or leave --as out: verify then finds the owner)"
                    ),
                    None => bail!("GET {path} answered {status}: {e}"),
                }
            }
            Err(e) => Err(anyhow::Error::new(e).context(format!("GET {path}: unexpected answer"))),
        }
    }
}

/// The account that owns `instance`: the default principal may describe it when it is its
/// own, and otherwise localcloud's refusal names the owner (the operator token may act as
/// any account).
async fn instance_owner(cloud: &Client, instance: &str) -> anyhow::Result<String> {
    match cloud
        .cloud()
        .get::<Instance>(&format!("/instances/{instance}"))
        .await
    {
        Ok(_) => Ok(DEFAULT_PRINCIPAL
            .trim_start_matches("arn:aws:iam::")
            .trim_end_matches(":root")
            .to_owned()),
        Err(e) if e.status().map(|s| s.as_u16()) == Some(403) => e
            .detail()
            .and_then(crate::cloud::owner_in)
            .map(str::to_owned)
            .with_context(|| format!("localcloud refused to describe {instance}: {e}")),
        Err(e) if e.is_not_found() => bail!("instance {instance} does not exist (check --from)"),
        Err(e @ linkplane_client::Error::Unreachable { .. }) => Err(anyhow::Error::new(e)
            .context("cannot reach linkplane: is `linkplane serve` running? (set --url)")),
        Err(e) => Err(anyhow::Error::new(e).context(format!("GET /cloud/v1/instances/{instance}"))),
    }
}

/// An enum's wire spelling (`HEALTHY`).
fn wire(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
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
    let base = args.url.trim_end_matches('/').to_owned();
    let client = |token: String, principal: &str| {
        Client::builder(&base)
            .token(token)
            .principal(principal)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| anyhow::anyhow!("--url {e}"))
    };
    let principal = match &args.principal {
        Some(p) => p.clone(),
        None => {
            let owner =
                instance_owner(&client(cloud_token.clone(), DEFAULT_PRINCIPAL)?, &args.from)
                    .await
                    .map_err(|e| {
                        e.context(format!(
                            "cannot find the owner of {} (pass --as ARN)",
                            args.from
                        ))
                    })?;
            let p = format!("arn:aws:iam::{owner}:root");
            eprintln!(
                "verify: {} belongs to account {owner}; checking as {p} (--as to choose)",
                args.from
            );
            p
        }
    };
    let apis = Apis {
        plane: client(token, &principal)?,
        cloud: client(cloud_token, &principal)?,
        base: base.clone(),
    };
    let orgs = apis
        .found("/v1/organizations", apis.plane.organizations().await)?
        .context("organizations not found (GET /v1/organizations)")?;
    let org = orgs
        .items
        .first()
        .map(|o| o.id.as_str().to_owned())
        .context("the token sees no organization")?;
    let o = format!("/v1/organizations/{org}");
    let dep_path = format!("{o}/deployments/{}", args.deployment);
    let dep = apis
        .found(
            &dep_path,
            apis.plane.deployment(&org, &args.deployment).await,
        )?
        .with_context(|| format!("deployment not found (GET {dep_path})"))?;
    let cluster_id = dep.spec.cluster_id.as_str();
    let api_url = dep.api_url.as_str();
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
    let agents_path = format!("{o}/deployments/{}/agents", args.deployment);
    let agents = apis
        .found(
            &agents_path,
            apis.plane.agents(&org, &args.deployment).await,
        )?
        .with_context(|| format!("agents not found (GET {agents_path})"))?;
    let agents: Vec<AgentFacts> = agents
        .items
        .iter()
        .map(|x| AgentFacts {
            name: x.spec.name.to_string(),
            status: wire(&x.status),
        })
        .collect();
    let pl: Option<PrivateLink> = apis.found(
        &format!("{o}/clusters/{cluster_id}/private-link"),
        apis.plane.private_link(&org, cluster_id).await,
    )?;

    let inst: Instance = apis
        .cloud_must(
            &format!("/instances/{}", args.from),
            "instance (check --from)",
        )
        .await?;
    let subnet: Subnet = apis
        .cloud_must(
            &format!("/subnets/{}", inst.subnet_id),
            "the instance's subnet",
        )
        .await?;
    let ids = Ids {
        cluster_id: cluster_id.to_owned(),
        deployment_id: args.deployment.clone(),
        api_url: api_url.to_owned(),
        instance_id: inst.instance_id.clone(),
        vpc_id: inst.vpc_id.clone(),
        cloud: format!("linkplane cloud --as {principal}"),
    };
    let endpoint = match &pl {
        Some(pl) => endpoint_facts(&apis, &org, cluster_id, pl, &inst, &subnet).await?,
        None => None,
    };
    let zone = zone_facts(&apis, &base_domain, &host, &inst).await?;
    let public: Vec<Value> = apis.cloud("/public-records").await?.unwrap_or_default();
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
        ids,
    };

    let ca_pem = apis.plane.ca_pem().await.context("GET /v1/ca.pem")?;
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
        && let Some(check) = instance_zone_check(&facts.ids, pl, &subnet)
    {
        report.passed = false;
        report.checks.insert(0, check);
    }
    Ok(report)
}

/// Without an endpoint in the instance's VPC: is the instance's subnet in a zone the
/// service supports? (An endpoint cannot be placed in a subnet of another zone.)
fn instance_zone_check(ids: &Ids, pl: &PrivateLink, subnet: &Subnet) -> Option<Check> {
    let supported: Vec<&str> = pl.availability_zones.iter().map(String::as_str).collect();
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
        fix: Some(linkplane_verify::diagnose::subnet_fix(
            ids,
            &pl.availability_zones,
            None,
        )),
    })
}

async fn endpoint_facts(
    apis: &Apis,
    org: &str,
    cluster_id: &str,
    pl: &PrivateLink,
    inst: &Instance,
    subnet: &Subnet,
) -> anyhow::Result<Option<EndpointFacts>> {
    // No name yet: the service is not provisioned, so no endpoint can be connected to it.
    let Some(service) = pl.service_name.as_deref() else {
        return Ok(None);
    };
    let supported: Vec<String> = pl.availability_zones.clone();
    let eps: Vec<Endpoint> = apis.cloud("/vpc-endpoints").await?.unwrap_or_default();
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
            .cloud::<SecurityGroup>(&format!("/security-groups/{g}"))
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
    // The platform's id of the connection, which `private-link accept` takes.
    let connection_id = apis
        .found(
            &format!("/v1/organizations/{org}/clusters/{cluster_id}/private-link/connections"),
            apis.plane.endpoint_connections(org, cluster_id).await,
        )?
        .and_then(|l| {
            l.items
                .into_iter()
                .find(|c| c.spec.cloud_endpoint_id == ep.vpc_endpoint_id)
        })
        .map(|c| c.meta.id.as_str().to_owned());
    Ok(Some(EndpointFacts {
        connection_id,
        security_group_ids: ep.security_group_ids.clone(),
        dns_names: ep.dns_entries.iter().map(|d| d.dns_name.clone()).collect(),
        service_name: ep.service_name.clone(),
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
    let zones: Vec<HostedZone> = apis.cloud("/hosted-zones").await?.unwrap_or_default();
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
            zone_id: None,
            associated_with_instance_vpc: false,
            record_values: Vec::new(),
        },
        Some(z) => ZoneFacts {
            zone_name,
            exists: true,
            zone_id: Some(z.hosted_zone_id.clone()),
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

#[cfg(test)]
mod tests {
    //! Every fix verify can print is a command the CLI's own parser accepts.

    use super::*;
    use chrono::TimeZone as _;
    use clap::Parser as _;
    use linkplane_verify::diagnose::{DnsSeen, HttpsSeen, Observed, TcpSeen};

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn ids() -> Ids {
        Ids {
            cluster_id: "cl7g2k4m7p3q5r6s2t".into(),
            deployment_id: "dep4n7q2x5z3b6c2df".into(),
            api_url: "https://cl7g2k4m7p3q5r6s2t.external.linkplane.test/dep4n7q2x5z3b6c2df".into(),
            instance_id: "i-0a1b2c3d".into(),
            vpc_id: "vpc-0a1b2c3d".into(),
            cloud: "linkplane cloud --as arn:aws:iam::111122223333:root".into(),
        }
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 21, 12, 0, 0)
            .single()
            .expect("time")
    }

    fn facts() -> Facts {
        Facts {
            host: "cl7g2k4m7p3q5r6s2t.external.linkplane.test".into(),
            public_ips: vec![ip("198.51.100.12")],
            endpoint: Some(EndpointFacts {
                endpoint_id: "vpce-0a1b2c3d".into(),
                state: "available".into(),
                state_since: now(),
                private_ips: vec![ip("10.1.1.254"), ip("10.1.2.254")],
                subnet_azs: vec![
                    ("subnet-1a".into(), "us-east-1a".into()),
                    ("subnet-1b".into(), "us-east-1b".into()),
                ],
                supported_azs: vec!["us-east-1a".into(), "us-east-1b".into()],
                admits_443_from_instance: true,
                instance_subnet_cidr: "10.1.1.0/24".into(),
                connection_id: Some("vpce3i5k7m2o4q6s3uv".into()),
                security_group_ids: vec!["sg-0a1b2c3d".into()],
                dns_names: vec!["vpce-0a1b2c3d.vpce-svc-1.us-east-1.vpce.linkplane.test".into()],
                service_name: "com.linkplane.vpce.us-east-1.vpce-svc-1".into(),
            }),
            zone: Some(ZoneFacts {
                zone_name: "external.linkplane.test".into(),
                exists: true,
                zone_id: Some("hz-0a1b2c3d".into()),
                associated_with_instance_vpc: true,
                record_values: vec!["10.1.1.254".into(), "10.1.2.254".into()],
            }),
            agents: vec![AgentFacts {
                name: "agent-1".into(),
                status: "HEALTHY".into(),
            }],
            check_agents: true,
            ids: ids(),
        }
    }

    fn seen() -> Observed {
        Observed {
            dns: DnsSeen::Addresses(vec![ip("10.1.1.254"), ip("10.1.2.254")]),
            tcp: TcpSeen::Connected(ip("10.1.1.254")),
            https: HttpsSeen::Answered {
                status: 404,
                body: "404 page not found".into(),
            },
        }
    }

    /// Every broken case verify knows, as (facts, what the probes saw).
    fn cases() -> Vec<(&'static str, Facts, Observed)> {
        let mut out = Vec::new();
        fn ep(f: &mut Facts) -> &mut EndpointFacts {
            f.endpoint.as_mut().expect("endpoint")
        }
        fn zone(f: &mut Facts) -> &mut ZoneFacts {
            f.zone.as_mut().expect("zone")
        }
        let unreachable = |s: &mut Observed| {
            s.tcp = TcpSeen::TimedOut;
            s.https = HttpsSeen::NotTried;
        };
        for state in ["pendingAcceptance", "rejected", "failed"] {
            let mut f = facts();
            ep(&mut f).state = state.into();
            let mut s = seen();
            s.tcp = TcpSeen::Refused("connection refused".into());
            s.https = HttpsSeen::NotTried;
            out.push((state, f, s));
        }
        let mut f = facts();
        ep(&mut f).subnet_azs[1].1 = "us-east-1c".into();
        out.push(("subnet-az", f, seen()));
        let mut f = facts();
        ep(&mut f).admits_443_from_instance = false;
        let mut s = seen();
        unreachable(&mut s);
        out.push(("sg", f.clone(), s.clone()));
        s.tcp = TcpSeen::Refused("refused".into());
        out.push(("sg-refused", f, s));
        for (name, edit) in [
            (
                "zone-missing",
                (|z: &mut ZoneFacts| z.exists = false) as fn(&mut ZoneFacts),
            ),
            ("zone-not-associated", |z| {
                z.associated_with_instance_vpc = false
            }),
        ] {
            let mut f = facts();
            edit(zone(&mut f));
            let mut s = seen();
            s.dns = DnsSeen::Addresses(vec![ip("198.51.100.12")]);
            unreachable(&mut s);
            out.push((name, f, s));
        }
        let mut f = facts();
        zone(&mut f).record_values.clear();
        let mut s = seen();
        s.dns = DnsSeen::NxDomain;
        s.tcp = TcpSeen::NotTried;
        s.https = HttpsSeen::NotTried;
        out.push(("record-missing", f.clone(), s.clone()));
        f.endpoint = None;
        out.push(("record-missing-no-endpoint", f, s));
        let mut f = facts();
        zone(&mut f).record_values = vec!["10.1.9.9".into()];
        let mut s = seen();
        s.dns = DnsSeen::Addresses(vec![ip("10.1.9.9")]);
        unreachable(&mut s);
        out.push(("record-elsewhere", f, s));
        let mut s = seen();
        s.dns = DnsSeen::Failed("timeout".into());
        s.tcp = TcpSeen::NotTried;
        s.https = HttpsSeen::NotTried;
        out.push(("dns-failed", facts(), s));
        let mut s = seen();
        unreachable(&mut s);
        out.push(("tcp-timeout", facts(), s.clone()));
        s.tcp = TcpSeen::Failed("reset".into());
        out.push(("tcp-failed", facts(), s));
        let mut s = seen();
        s.https = HttpsSeen::CertificateRejected("unknown issuer".into());
        out.push(("certificate", facts(), s.clone()));
        s.https = HttpsSeen::Answered {
            status: 200,
            body: "hello".into(),
        };
        out.push(("https-other", facts(), s.clone()));
        s.https = HttpsSeen::Failed("eof".into());
        out.push(("https-failed", facts(), s));
        let mut f = facts();
        f.agents.clear();
        out.push(("no-agents", f.clone(), seen()));
        f.agents.push(AgentFacts {
            name: "a".into(),
            status: "UNHEALTHY".into(),
        });
        out.push(("agents-unhealthy", f, seen()));
        out
    }

    /// The `linkplane …` commands quoted (in backticks) in a fix, as argv.
    fn commands(fix: &str) -> Vec<Vec<String>> {
        fix.split('`')
            .skip(1)
            .step_by(2)
            .filter(|c| c.starts_with("linkplane "))
            .map(|c| {
                c.split_whitespace()
                    .take_while(|w| *w != ">" && *w != "|")
                    .map(str::to_owned)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_fix_is_a_command_the_cli_parses() {
        let mut seen_diagnoses = std::collections::BTreeSet::new();
        let mut parsed = 0;
        let mut checks: Vec<(String, Check)> = Vec::new();
        for (case, f, s) in cases() {
            let r = evaluate(&f, &s, now());
            assert!(!r.passed, "{case}: should fail");
            checks.extend(r.checks.into_iter().map(|c| (case.to_owned(), c)));
        }
        let pl_subnet = Subnet {
            subnet_id: "subnet-1c".into(),
            vpc_id: "vpc-0a1b2c3d".into(),
            owner_id: "111122223333".into(),
            cidr_block: "10.1.3.0/24".into(),
            availability_zone: "us-east-1c".into(),
            map_public_ip_on_launch: false,
            gateway: "10.1.3.1".into(),
            route_table: 100,
            bridge: "br0".into(),
            name: None,
            created_at: "2026-11-21T12:00:00Z".into(),
        };
        let pl: PrivateLink = serde_json::from_value(serde_json::json!({
            "id": "pl7g2k4m7p3q5r6s2t", "organizationId": "org7g2k4m7p3q5r6s2t",
            "createdAt": "2026-11-21T12:00:00Z", "updatedAt": "2026-11-21T12:00:00Z",
            "generation": 1, "observedGeneration": 1, "clusterId": "cl7g2k4m7p3q5r6s2t",
            "allowedPrincipals": [], "regions": [], "autoAccept": false, "status": "AVAILABLE",
            "statusReason": null, "serviceName": "com.linkplane.vpce.us-east-1.vpce-svc-1",
            "serviceRegion": "us-east-1", "availabilityZones": ["us-east-1a", "us-east-1b"]
        }))
        .expect("a private link");
        let check = instance_zone_check(&ids(), &pl, &pl_subnet).expect("a failed check");
        checks.push(("instance-subnet-az".into(), check));
        for (case, c) in checks.iter().filter(|(_, c)| !c.passed) {
            let fix = c.fix.as_deref().unwrap_or_default();
            let cmds = commands(fix);
            if let Some(d) = c.diagnosis {
                seen_diagnoses.insert(d.as_str());
                assert!(
                    !cmds.is_empty(),
                    "{case}/{}: the fix for {} names no command: {fix}",
                    c.name,
                    d.as_str()
                );
            }
            for argv in cmds {
                assert!(
                    !argv.iter().any(|w| w.contains('<')),
                    "{case}: a placeholder verify knows is left in {argv:?}"
                );
                if let Err(e) = crate::Cli::try_parse_from(&argv) {
                    panic!(
                        "{case}/{}: `{}` does not parse: {e}",
                        c.name,
                        argv.join(" ")
                    );
                }
                parsed += 1;
            }
        }
        use Diagnosis::*;
        for d in [
            EndpointPendingAcceptance,
            EndpointRejected,
            ZoneNotAssociated,
            ZoneMissing,
            RecordMissing,
            RecordPointsElsewhere,
            SecurityGroupWithout443,
            SubnetAzNotSupported,
            CertificateNotTrusted,
            NoAgents,
            AgentsNotHealthy,
        ] {
            assert!(
                seen_diagnoses.contains(d.as_str()),
                "no case prints the fix for {}",
                d.as_str()
            );
        }
        assert!(parsed >= 15, "{parsed} commands parsed");
    }

    #[test]
    fn a_name_resolving_elsewhere_does_not_blame_the_security_group() {
        let mut f = facts();
        f.zone.as_mut().expect("zone").associated_with_instance_vpc = false;
        let mut s = seen();
        s.dns = DnsSeen::Addresses(vec![ip("198.51.100.12")]);
        s.tcp = TcpSeen::TimedOut;
        s.https = HttpsSeen::NotTried;
        let r = evaluate(&f, &s, now());
        let tcp = r
            .checks
            .iter()
            .find(|c| c.name == "tcp-443")
            .expect("tcp-443");
        let fix = tcp.fix.as_deref().unwrap_or_default();
        assert!(!fix.contains("security group"), "{fix}");
        assert!(fix.contains("dns-resolves-to-endpoint"), "{fix}");
        let dns = &r.checks[3];
        assert!(
            dns.fix
                .as_deref()
                .is_some_and(|f| f.contains("zone associate hz-0a1b2c3d --vpc vpc-0a1b2c3d")),
            "{dns:?}"
        );
    }
}
