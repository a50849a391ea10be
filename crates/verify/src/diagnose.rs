//! From what the probes saw and what the providers know, the documents' checks with a
//! verdict and, on failure, the troubleshooting case by name and its fix. Pure: no I/O.
//!
//! The checks are document 000's verification steps:
//! 1. "The response should show the private IP addresses assigned to your VPC Endpoint
//!    rather than public IP addresses." (`dns-resolves-to-endpoint`)
//! 2. TCP 443 connects (`tcp-443`).
//! 3. "The expected response is 404 page not found." over TLS that validates against the
//!    installation CA (`https-404`).
//! 4. "Validate … that the agents are heart beating and reporting a Healthy status."
//!    (`agents-healthy`)
//!
//! and its troubleshooting cases, plus document 001's manual approval:
//! - [`Diagnosis::EndpointPendingAcceptance`]: "may require manual acceptance of endpoint
//!   connections, if still in pending state after 5 minutes";
//! - [`Diagnosis::ZoneNotAssociated`]: "Verify that your Route53 private hosted zone is
//!   correctly configured and associated with the VPC where you are testing.";
//! - [`Diagnosis::RecordPointsElsewhere`]: the zone answers, but not with the endpoint;
//! - [`Diagnosis::SecurityGroupWithout443`]: "Check that the security group attached to the
//!   VPC Endpoint allows inbound traffic on port 443 from the subnets where your Remote
//!   Execution Agents are running.";
//! - [`Diagnosis::SubnetAzNotSupported`]: "If there is a mismatch, you must create subnet(s)
//!   in the zones provided".

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A troubleshooting case of documents 000 and 001, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Diagnosis {
    EndpointPendingAcceptance,
    EndpointRejected,
    ZoneNotAssociated,
    ZoneMissing,
    RecordMissing,
    RecordPointsElsewhere,
    // serde's kebab-case does not split before digits.
    #[serde(rename = "security-group-without-443")]
    SecurityGroupWithout443,
    SubnetAzNotSupported,
    CertificateNotTrusted,
    NoAgents,
    AgentsNotHealthy,
}

impl Diagnosis {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EndpointPendingAcceptance => "endpoint-pending-acceptance",
            Self::EndpointRejected => "endpoint-rejected",
            Self::ZoneNotAssociated => "zone-not-associated",
            Self::ZoneMissing => "zone-missing",
            Self::RecordMissing => "record-missing",
            Self::RecordPointsElsewhere => "record-points-elsewhere",
            Self::SecurityGroupWithout443 => "security-group-without-443",
            Self::SubnetAzNotSupported => "subnet-az-not-supported",
            Self::CertificateNotTrusted => "certificate-not-trusted",
            Self::NoAgents => "no-agents",
            Self::AgentsNotHealthy => "agents-not-healthy",
        }
    }
}

/// One check, as `linkplane verify` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// All checks; `passed` only when every one passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub passed: bool,
    pub checks: Vec<Check>,
}

/// What the DNS probe saw for the host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsSeen {
    Addresses(Vec<IpAddr>),
    NxDomain,
    Failed(String),
}

/// What the TCP probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpSeen {
    Connected(IpAddr),
    Refused(String),
    Failed(String),
    TimedOut,
    NotTried,
}

/// What the HTTPS probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpsSeen {
    Answered { status: u16, body: String },
    CertificateRejected(String),
    Failed(String),
    NotTried,
}

/// Everything the probes observed from inside the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub dns: DnsSeen,
    pub tcp: TcpSeen,
    pub https: HttpsSeen,
}

/// The customer's endpoint as the provider knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointFacts {
    pub endpoint_id: String,
    /// Provider state (`pendingAcceptance`, `available`, `rejected`, …).
    pub state: String,
    pub state_since: DateTime<Utc>,
    pub private_ips: Vec<IpAddr>,
    /// `(subnet id, its AZ)` of each subnet the endpoint was placed in.
    pub subnet_azs: Vec<(String, String)>,
    pub supported_azs: Vec<String>,
    /// Whether the endpoint's security groups admit TCP 443 from the instance's subnet.
    pub admits_443_from_instance: bool,
    pub instance_subnet_cidr: String,
    /// The platform's id of the endpoint connection (`linkplane private-link accept` takes
    /// it), when the control plane mirrors it.
    pub connection_id: Option<String>,
    /// The endpoint's security groups.
    pub security_group_ids: Vec<String>,
    /// The endpoint's DNS names (the first is what the record should alias).
    pub dns_names: Vec<String>,
    /// The endpoint service's name (`--service` of `endpoint create`).
    pub service_name: String,
}

/// The private hosted zone for `external.<baseDomain>` as the provider knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFacts {
    pub zone_name: String,
    pub exists: bool,
    /// The zone's id (hz-…) when it exists.
    pub zone_id: Option<String>,
    pub associated_with_instance_vpc: bool,
    /// Values of the record for the host name (IPs or an alias target), empty if none.
    pub record_values: Vec<String>,
}

/// An agent of the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFacts {
    pub name: String,
    pub status: String,
}

/// What verify expects and what the providers know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub host: String,
    pub public_ips: Vec<IpAddr>,
    pub endpoint: Option<EndpointFacts>,
    pub zone: Option<ZoneFacts>,
    pub agents: Vec<AgentFacts>,
    /// Whether the agents' health is part of the verdict.
    pub check_agents: bool,
    /// The ids verify knows, filled into the fixes so that each is a command to run.
    pub ids: Ids,
}

/// The ids and names every fix is written with: a fix is a command that runs as printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    pub cluster_id: String,
    pub deployment_id: String,
    pub api_url: String,
    /// The instance the checks run from, and its VPC.
    pub instance_id: String,
    pub vpc_id: String,
    /// The customer's command prefix, `linkplane cloud --as <the instance owner's ARN>`.
    pub cloud: String,
}

fn pass(name: &'static str, detail: String) -> Check {
    Check {
        name,
        passed: true,
        detail,
        diagnosis: None,
        fix: None,
    }
}

fn fail(name: &'static str, detail: String, diagnosis: Option<Diagnosis>, fix: String) -> Check {
    Check {
        name,
        passed: false,
        detail,
        diagnosis,
        fix: Some(fix),
    }
}

fn list(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The verdict. `now` is passed in (the model reads no clock).
pub fn evaluate(facts: &Facts, seen: &Observed, now: DateTime<Utc>) -> Report {
    let mut checks = Vec::new();
    if let Some(ep) = &facts.endpoint {
        checks.push(check_endpoint_state(&facts.ids, ep, now));
        checks.push(check_subnet_azs(&facts.ids, ep));
        checks.push(check_security_group(&facts.ids, ep));
    }
    checks.push(check_dns(facts, seen));
    checks.push(check_tcp(facts, seen));
    checks.push(check_https(facts, seen));
    if facts.check_agents {
        checks.push(check_agents(&facts.ids, &facts.agents));
    }
    Report {
        passed: checks.iter().all(|c| c.passed),
        checks,
    }
}

/// The command that accepts the endpoint (the platform's side of document 001).
fn accept_command(ids: &Ids, ep: &EndpointFacts) -> String {
    format!(
        "`linkplane private-link accept --cluster {} {}`",
        ids.cluster_id,
        ep.connection_id.as_deref().unwrap_or(&ep.endpoint_id)
    )
}

/// The customer's command that creates an endpoint like `ep` (in `subnets`).
fn endpoint_create_command(ids: &Ids, ep: &EndpointFacts, subnets: &[String]) -> String {
    let mut cmd = format!(
        "{} endpoint create --vpc {} --service {}",
        ids.cloud, ids.vpc_id, ep.service_name
    );
    for s in subnets {
        cmd.push_str(&format!(" --subnet {s}"));
    }
    for g in &ep.security_group_ids {
        cmd.push_str(&format!(" --sg {g}"));
    }
    format!("`{cmd} --no-private-dns`")
}

/// The customer's command that allows 443 from the instance's subnet on the endpoint's group.
fn allow_443_command(ids: &Ids, ep: &EndpointFacts) -> String {
    let group = ep
        .security_group_ids
        .first()
        .map(String::as_str)
        .unwrap_or("SG_ID");
    format!(
        "`{} sg allow {group} --protocol tcp --port 443 --cidr {}`",
        ids.cloud, ep.instance_subnet_cidr
    )
}

fn check_endpoint_state(ids: &Ids, ep: &EndpointFacts, now: DateTime<Utc>) -> Check {
    const NAME: &str = "endpoint-accepted";
    let minutes = (now - ep.state_since).num_minutes().max(0);
    match ep.state.as_str() {
        "available" => pass(NAME, format!("endpoint {} is available", ep.endpoint_id)),
        "pendingAcceptance" => fail(
            NAME,
            format!(
                "endpoint {} is still pending acceptance, since {} ({minutes} min)",
                ep.endpoint_id,
                ep.state_since.to_rfc3339()
            ),
            Some(Diagnosis::EndpointPendingAcceptance),
            format!(
                "the service owner (the platform) must accept it: {}",
                accept_command(ids, ep)
            ),
        ),
        "rejected" => fail(
            NAME,
            format!(
                "endpoint {} was rejected by the service owner",
                ep.endpoint_id
            ),
            Some(Diagnosis::EndpointRejected),
            format!(
                "a rejected endpoint stays rejected: delete it with `{} endpoint delete {}`, create a new one with {} and ask the service owner to accept it",
                ids.cloud,
                ep.endpoint_id,
                endpoint_create_command(
                    ids,
                    ep,
                    &ep.subnet_azs
                        .iter()
                        .map(|(s, _)| s.clone())
                        .collect::<Vec<_>>()
                )
            ),
        ),
        other => fail(
            NAME,
            format!("endpoint {} is {other}", ep.endpoint_id),
            None,
            format!(
                "create a new endpoint to the cluster's endpoint service: {}",
                endpoint_create_command(
                    ids,
                    ep,
                    &ep.subnet_azs
                        .iter()
                        .map(|(s, _)| s.clone())
                        .collect::<Vec<_>>()
                )
            ),
        ),
    }
}

fn check_subnet_azs(ids: &Ids, ep: &EndpointFacts) -> Check {
    const NAME: &str = "endpoint-subnet-azs";
    let bad: Vec<String> = ep
        .subnet_azs
        .iter()
        .filter(|(_, az)| !ep.supported_azs.contains(az))
        .map(|(s, az)| format!("{s} ({az})"))
        .collect();
    if bad.is_empty() {
        return pass(
            NAME,
            format!(
                "endpoint subnets are in supported zones: {}",
                ep.supported_azs.join(", ")
            ),
        );
    }
    let good: Vec<String> = ep
        .subnet_azs
        .iter()
        .filter(|(_, az)| ep.supported_azs.contains(az))
        .map(|(s, _)| s.clone())
        .collect();
    fail(
        NAME,
        format!(
            "subnet(s) {} are not in a zone the endpoint service supports ({})",
            bad.join(", "),
            ep.supported_azs.join(", ")
        ),
        Some(Diagnosis::SubnetAzNotSupported),
        subnet_fix(ids, &ep.supported_azs, Some((ep, &good))),
    )
}

/// Create a subnet in a supported zone (CIDR: a free range of the VPC, which verify does
/// not choose for you), then (re)create the endpoint with it.
pub fn subnet_fix(
    ids: &Ids,
    supported: &[String],
    endpoint: Option<(&EndpointFacts, &[String])>,
) -> String {
    let az = supported.first().map(String::as_str).unwrap_or("AZ");
    let create = format!(
        "`{} subnet create --vpc {} --az {az} --cidr CIDR`",
        ids.cloud, ids.vpc_id
    );
    let zones = supported.join(" or ");
    match endpoint {
        Some((ep, good)) => {
            let mut subnets = good.to_vec();
            subnets.push("NEW_SUBNET".into());
            format!(
                "create a subnet in {zones} (CIDR: a free range of {}): {create}; then replace the endpoint: `{} endpoint delete {}` and {}",
                ids.vpc_id,
                ids.cloud,
                ep.endpoint_id,
                endpoint_create_command(ids, ep, &subnets)
            )
        }
        None => format!(
            "create a subnet in {zones} (CIDR: a free range of {}) for the endpoint and the agents: {create}",
            ids.vpc_id
        ),
    }
}

fn check_security_group(ids: &Ids, ep: &EndpointFacts) -> Check {
    const NAME: &str = "endpoint-security-group";
    if ep.admits_443_from_instance {
        return pass(
            NAME,
            format!(
                "the endpoint's security group admits TCP 443 from {}",
                ep.instance_subnet_cidr
            ),
        );
    }
    fail(
        NAME,
        format!(
            "the endpoint's security group(s) {} do not admit TCP 443 from the instance's subnet {}",
            ep.security_group_ids.join(", "),
            ep.instance_subnet_cidr
        ),
        Some(Diagnosis::SecurityGroupWithout443),
        format!("add an inbound rule: {}", allow_443_command(ids, ep)),
    )
}

/// The customer's command that points the record at the endpoint (ALIAS to its first DNS
/// name), or what is missing for one.
fn record_command(facts: &Facts, zone_id: &str) -> String {
    match facts.endpoint.as_ref().and_then(|e| e.dns_names.first()) {
        Some(name) => format!(
            "`{} zone set {zone_id} --name {} --type ALIAS --value {name}`",
            facts.ids.cloud, facts.host
        ),
        None => format!(
            "(no endpoint in {} yet: create it first, then) `{} zone set {zone_id} --name {} --type A --value ENDPOINT_IP`",
            facts.ids.vpc_id, facts.ids.cloud, facts.host
        ),
    }
}

fn zone_diagnosis(facts: &Facts) -> Option<(Diagnosis, String)> {
    let zone = facts.zone.as_ref()?;
    let ids = &facts.ids;
    let endpoint_ips: Vec<String> = facts
        .endpoint
        .as_ref()
        .map(|e| e.private_ips.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let zone_id = zone.zone_id.as_deref().unwrap_or("ZONE_ID");
    if !zone.exists {
        return Some((
            Diagnosis::ZoneMissing,
            format!(
                "create the private hosted zone {} associated with the instance's VPC: `{} zone create --name {} --vpc {}`, then add the record: {}",
                zone.zone_name,
                ids.cloud,
                zone.zone_name,
                ids.vpc_id,
                record_command(facts, "hz-…")
            ),
        ));
    }
    if !zone.associated_with_instance_vpc {
        return Some((
            Diagnosis::ZoneNotAssociated,
            format!(
                "associate the private hosted zone {} ({zone_id}) with the instance's VPC {}: `{} zone associate {zone_id} --vpc {}`",
                zone.zone_name, ids.vpc_id, ids.cloud, ids.vpc_id
            ),
        ));
    }
    if zone.record_values.is_empty() {
        return Some((
            Diagnosis::RecordMissing,
            format!(
                "add the record {} to zone {} ({zone_id}): {}",
                facts.host,
                zone.zone_name,
                record_command(facts, zone_id)
            ),
        ));
    }
    let points_at_endpoint = zone.record_values.iter().all(|v| {
        endpoint_ips.contains(v)
            || facts
                .endpoint
                .as_ref()
                .is_some_and(|e| v.contains(&e.endpoint_id))
    });
    if !points_at_endpoint {
        return Some((
            Diagnosis::RecordPointsElsewhere,
            format!(
                "the record {} points at {}; point it at the endpoint ({}): {}",
                facts.host,
                zone.record_values.join(", "),
                endpoint_ips.join(", "),
                record_command(facts, zone_id)
            ),
        ));
    }
    None
}

/// Whether the DNS probe saw only the endpoint's private IPs.
fn resolved_to_endpoint(facts: &Facts, seen: &Observed) -> bool {
    let endpoint_ips = facts
        .endpoint
        .as_ref()
        .map(|e| e.private_ips.clone())
        .unwrap_or_default();
    matches!(&seen.dns, DnsSeen::Addresses(got)
        if !got.is_empty() && got.iter().all(|ip| endpoint_ips.contains(ip)))
}

fn check_dns(facts: &Facts, seen: &Observed) -> Check {
    const NAME: &str = "dns-resolves-to-endpoint";
    let endpoint_ips = facts
        .endpoint
        .as_ref()
        .map(|e| e.private_ips.clone())
        .unwrap_or_default();
    let diag = zone_diagnosis(facts);
    let with_diag = |detail: String, fallback: String| match &diag {
        Some((d, fix)) => fail(NAME, detail, Some(*d), fix.clone()),
        None => fail(NAME, detail, None, fallback),
    };
    match &seen.dns {
        DnsSeen::Addresses(got) if resolved_to_endpoint(facts, seen) => pass(
            NAME,
            format!(
                "{} resolves to the endpoint's private IPs {}",
                facts.host,
                list(got)
            ),
        ),
        DnsSeen::Addresses(got) if got.iter().any(|ip| facts.public_ips.contains(ip)) => with_diag(
            format!(
                "{} resolves to the public IP {}, not to the endpoint's private IPs",
                facts.host,
                list(got)
            ),
            "make the private hosted zone answer for the host name in this VPC".into(),
        ),
        DnsSeen::Addresses(got) => with_diag(
            format!(
                "{} resolves to {}, not to the endpoint's private IPs ({})",
                facts.host,
                list(got),
                list(&endpoint_ips)
            ),
            "point the record at the endpoint".into(),
        ),
        DnsSeen::NxDomain => with_diag(
            format!("{} does not exist (NXDOMAIN) for this instance", facts.host),
            "add the record for the host name to the private hosted zone".into(),
        ),
        DnsSeen::Failed(e) => fail(
            NAME,
            format!("resolving {} failed: {e}", facts.host),
            None,
            "check that the instance reaches its VPC resolver (VPC base + 2)".into(),
        ),
    }
}

fn check_tcp(facts: &Facts, seen: &Observed) -> Check {
    const NAME: &str = "tcp-443";
    let ids = &facts.ids;
    let sg_diag = facts
        .endpoint
        .as_ref()
        .filter(|e| !e.admits_443_from_instance);
    let pending = facts
        .endpoint
        .as_ref()
        .filter(|e| e.state == "pendingAcceptance");
    // A connection to something that is not the endpoint says nothing about the endpoint
    // or its security group: the DNS check names the cause.
    let elsewhere = match &seen.dns {
        DnsSeen::Addresses(got) if !resolved_to_endpoint(facts, seen) => Some(list(got)),
        _ => None,
    };
    match &seen.tcp {
        TcpSeen::Connected(ip) => pass(NAME, format!("TCP {ip}:443 connects")),
        TcpSeen::NotTried => fail(
            NAME,
            "not tried: the host name did not resolve".into(),
            None,
            "fix dns-resolves-to-endpoint first".into(),
        ),
        TcpSeen::Refused(_) | TcpSeen::Failed(_) | TcpSeen::TimedOut if elsewhere.is_some() => {
            fail(
                NAME,
                format!(
                    "TCP 443 to {} ({}, not the endpoint) did not connect",
                    facts.host,
                    elsewhere.unwrap_or_default()
                ),
                None,
                "fix dns-resolves-to-endpoint first: the host name must resolve to the endpoint"
                    .into(),
            )
        }
        TcpSeen::Refused(e) | TcpSeen::Failed(e) => {
            let detail = format!("TCP 443 to {} failed: {e}", facts.host);
            if let Some(ep) = pending {
                fail(
                    NAME,
                    detail,
                    Some(Diagnosis::EndpointPendingAcceptance),
                    format!(
                        "accept endpoint {} first: {}",
                        ep.endpoint_id,
                        accept_command(ids, ep)
                    ),
                )
            } else if let Some(ep) = sg_diag {
                fail(
                    NAME,
                    detail,
                    Some(Diagnosis::SecurityGroupWithout443),
                    format!(
                        "allow inbound TCP 443 from {} on the endpoint's security group: {}",
                        ep.instance_subnet_cidr,
                        allow_443_command(ids, ep)
                    ),
                )
            } else {
                fail(
                    NAME,
                    detail,
                    None,
                    "the endpoint does not forward: check the cluster's private link (`linkplane private-link get --cluster ".to_owned()
                        + &ids.cluster_id
                        + "`)",
                )
            }
        }
        TcpSeen::TimedOut => {
            let detail = format!("TCP 443 to {} timed out", facts.host);
            match (pending, sg_diag) {
                (Some(ep), _) => fail(
                    NAME,
                    detail,
                    Some(Diagnosis::EndpointPendingAcceptance),
                    format!(
                        "accept endpoint {} first: {}",
                        ep.endpoint_id,
                        accept_command(ids, ep)
                    ),
                ),
                (None, Some(ep)) => fail(
                    NAME,
                    detail,
                    Some(Diagnosis::SecurityGroupWithout443),
                    format!(
                        "allow inbound TCP 443 from {} on the endpoint's security group: {}",
                        ep.instance_subnet_cidr,
                        allow_443_command(ids, ep)
                    ),
                ),
                (None, None) => fail(
                    NAME,
                    detail,
                    None,
                    format!(
                        "check the routes of the instance's subnet and its security groups: `{} instance show {}`",
                        ids.cloud, ids.instance_id
                    ),
                ),
            }
        }
    }
}

fn check_https(facts: &Facts, seen: &Observed) -> Check {
    const NAME: &str = "https-404";
    match &seen.https {
        HttpsSeen::Answered { status: 404, body } if body.trim() == "404 page not found" => pass(
            NAME,
            format!(
                "https://{}/ answers 404 page not found with a certificate the CA validates",
                facts.host
            ),
        ),
        HttpsSeen::Answered { status, body } => fail(
            NAME,
            format!(
                "https://{}/ answered {status} {:?}, expected 404 page not found",
                facts.host,
                body.chars().take(120).collect::<String>()
            ),
            None,
            "the host name reaches something other than the orchestration plane's gateway".into(),
        ),
        HttpsSeen::CertificateRejected(e) => fail(
            NAME,
            format!("the certificate of {} does not validate: {e}", facts.host),
            Some(Diagnosis::CertificateNotTrusted),
            "use the installation's CA bundle (`linkplane ca > ca.pem`)".into(),
        ),
        HttpsSeen::Failed(e) => fail(
            NAME,
            format!("HTTPS to {} failed: {e}", facts.host),
            None,
            "check the previous checks".into(),
        ),
        HttpsSeen::NotTried => fail(
            NAME,
            "not tried: TCP 443 did not connect".into(),
            None,
            "fix the TCP check first".into(),
        ),
    }
}

fn check_agents(ids: &Ids, agents: &[AgentFacts]) -> Check {
    const NAME: &str = "agents-healthy";
    if agents.is_empty() {
        return fail(
            NAME,
            "the deployment has no agents".into(),
            Some(Diagnosis::NoAgents),
            format!(
                "start one in the instance: `linkplane agent-token create --deployment {} --name agents > agent.token`, then `{} instance run {} -- linkplane agent run --api-url {} --token-file $PWD/agent.token --ca-file $PWD/ca.pem` (`linkplane ca > ca.pem` writes the CA bundle)",
                ids.deployment_id, ids.cloud, ids.instance_id, ids.api_url
            ),
        );
    }
    let unhealthy: Vec<String> = agents
        .iter()
        .filter(|a| a.status != "HEALTHY")
        .map(|a| format!("{} ({})", a.name, a.status))
        .collect();
    if unhealthy.is_empty() {
        return pass(NAME, format!("{} agent(s) HEALTHY", agents.len()));
    }
    fail(
        NAME,
        format!("not heartbeating: {}", unhealthy.join(", ")),
        Some(Diagnosis::AgentsNotHealthy),
        format!(
            "the agents must reach {} through the endpoint: see their processes and logs with `{} instance processes {}`",
            ids.api_url, ids.cloud, ids.instance_id
        ),
    )
}

#[cfg(test)]
mod tests;
