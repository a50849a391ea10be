//! Request bodies as clients send them (strings, unknown fields rejected) and their
//! validation into typed specs. Each `validate` returns every broken rule at once.

use std::collections::HashSet;

use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use crate::error::{ValidationErrors, Validator};
use crate::fields::*;
use crate::id::{ResourceId, ResourceKind};
use crate::resources::*;

/// Most entries accepted in list fields (CIDRs, principals, targets, records …).
pub const MAX_LIST: usize = 100;

fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn check_list_len(v: &mut Validator, field: &str, len: usize, min: usize, max: usize) {
    if len < min || len > max {
        v.push(
            field,
            format!("must have between {min} and {max} entries (got {len})"),
        );
    }
}

fn parse_list<T>(
    v: &mut Validator,
    field: &str,
    items: &[String],
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<Vec<T>> {
    let parsed: Vec<Option<T>> = items
        .iter()
        .enumerate()
        .map(|(i, s)| v.check(&format!("{field}[{i}]"), parse(s)))
        .collect();
    parsed.into_iter().collect()
}

// ----------------------------------------------------------------------------- cluster

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateClusterRequest {
    pub name: String,
    pub cloud_provider: CloudProvider,
    #[serde(rename = "type")]
    pub cluster_type: ClusterType,
    pub region: String,
    /// RFC 1918, /16 to /28.
    pub vpc_subnet_range: String,
    #[serde(default)]
    pub private_only: bool,
}

impl CreateClusterRequest {
    pub fn validate(&self) -> Result<ClusterSpec, ValidationErrors> {
        let mut v = Validator::new();
        let name = v.check("name", Name::parse(&self.name));
        let region = v.check(
            "region",
            Region::parse_in(&self.region, self.cloud_provider.region_cloud()),
        );
        let range = v.check(
            "vpcSubnetRange",
            Cidr::parse(&self.vpc_subnet_range)
                .and_then(Cidr::require_rfc1918)
                .and_then(Cidr::require_vpc_size)
                .and_then(|c| require_cluster_layout(c, self.cloud_provider)),
        );
        v.finish(|| {
            Some(ClusterSpec {
                name: name?,
                cloud_provider: self.cloud_provider,
                cluster_type: self.cluster_type,
                region: region?,
                vpc_subnet_range: range?,
                private_only: self.private_only,
            })
        })
    }
}

/// The smallest range of a `LOCAL` or `AWS` cluster: its network is two private and two
/// public subnets in two availability zones, and a subnet is at least a /28 (AWS's smallest).
pub const SMALLEST_CLUSTER_PREFIX: u8 = 26;

/// A `LOCAL` or `AWS` cluster's range must hold its four /28 subnets.
fn require_cluster_layout(c: Cidr, cloud: CloudProvider) -> Result<Cidr, String> {
    if matches!(cloud, CloudProvider::Local | CloudProvider::Aws)
        && c.prefix_len() > SMALLEST_CLUSTER_PREFIX
    {
        let cloud = match cloud {
            CloudProvider::Local => "LOCAL",
            _ => "AWS",
        };
        return Err(format!(
            "{c} is too small: a {cloud} cluster needs at least a /{SMALLEST_CLUSTER_PREFIX} \
             (two private and two public /28 subnets in two availability zones)"
        ));
    }
    Ok(c)
}

/// Change a cluster. Provider, type, region and range are fixed for its lifetime.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateClusterRequest {
    pub name: Option<String>,
    pub private_only: Option<bool>,
}

impl UpdateClusterRequest {
    pub fn apply(&self, spec: &ClusterSpec) -> Result<ClusterSpec, ValidationErrors> {
        let mut v = Validator::new();
        let name = match &self.name {
            Some(n) => v.check("name", Name::parse(n)),
            None => Some(spec.name.clone()),
        };
        v.finish(|| {
            Some(ClusterSpec {
                name: name?,
                private_only: self.private_only.unwrap_or(spec.private_only),
                ..spec.clone()
            })
        })
    }
}

// -------------------------------------------------------------------------- deployment

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemoteExecutionRequest {
    pub enabled: bool,
    #[serde(default)]
    pub allowed_ip_address_ranges: Vec<String>,
}

impl RemoteExecutionRequest {
    fn validate(&self, v: &mut Validator) -> Option<RemoteExecution> {
        let field = "remoteExecution.allowedIpAddressRanges";
        check_list_len(v, field, self.allowed_ip_address_ranges.len(), 0, MAX_LIST);
        let ranges = parse_list(v, field, &self.allowed_ip_address_ranges, Cidr::parse)?;
        Some(RemoteExecution {
            enabled: self.enabled,
            allowed_ip_address_ranges: ranges,
        })
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateDeploymentRequest {
    pub name: String,
    pub cluster_id: String,
    pub remote_execution: Option<RemoteExecutionRequest>,
    pub airflow_api_url: Option<String>,
}

impl CreateDeploymentRequest {
    /// Validates the fields; whether `clusterId` exists in the organization is the caller's.
    pub fn validate(&self) -> Result<DeploymentSpec, ValidationErrors> {
        let mut v = Validator::new();
        let name = v.check("name", Name::parse(&self.name));
        let cluster_id = v.check(
            "clusterId",
            ResourceId::parse_kind(&self.cluster_id, ResourceKind::Cluster),
        );
        let remote = match &self.remote_execution {
            Some(r) => r.validate(&mut v),
            None => Some(RemoteExecution::default()),
        };
        let url = match &self.airflow_api_url {
            Some(u) => v.check("airflowApiUrl", HttpUrl::parse(u)).map(Some),
            None => Some(None),
        };
        v.finish(|| {
            Some(DeploymentSpec {
                name: name?,
                cluster_id: cluster_id?,
                remote_execution: remote?,
                airflow_api_url: url?,
            })
        })
    }
}

/// Change a deployment. `airflowApiUrl: null` removes the URL. The cluster is fixed.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateDeploymentRequest {
    pub name: Option<String>,
    pub remote_execution: Option<RemoteExecutionRequest>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub airflow_api_url: Option<Option<String>>,
}

impl UpdateDeploymentRequest {
    pub fn apply(&self, spec: &DeploymentSpec) -> Result<DeploymentSpec, ValidationErrors> {
        let mut v = Validator::new();
        let name = match &self.name {
            Some(n) => v.check("name", Name::parse(n)),
            None => Some(spec.name.clone()),
        };
        let remote = match &self.remote_execution {
            Some(r) => r.validate(&mut v),
            None => Some(spec.remote_execution.clone()),
        };
        let url = match &self.airflow_api_url {
            Some(Some(u)) => v.check("airflowApiUrl", HttpUrl::parse(u)).map(Some),
            Some(None) => Some(None),
            None => Some(spec.airflow_api_url.clone()),
        };
        v.finish(|| {
            Some(DeploymentSpec {
                name: name?,
                cluster_id: spec.cluster_id.clone(),
                remote_execution: remote?,
                airflow_api_url: url?,
            })
        })
    }
}

// ------------------------------------------------------------------ tokens and agents

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateApiTokenRequest {
    pub name: String,
    pub role: Role,
}

impl CreateApiTokenRequest {
    pub fn validate(&self) -> Result<(Name, Role), ValidationErrors> {
        let mut v = Validator::new();
        let name = v.check("name", Name::parse(&self.name));
        v.finish(|| Some((name?, self.role)))
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateAgentTokenRequest {
    pub name: String,
}

impl CreateAgentTokenRequest {
    pub fn validate(&self) -> Result<Name, ValidationErrors> {
        let mut v = Validator::new();
        let name = v.check("name", Name::parse(&self.name));
        v.finish(|| name)
    }
}

// -------------------------------------------------------------------- cluster context

/// A CIDR already claimed on a cluster by a live connection.
#[derive(Debug, Clone, PartialEq)]
pub struct TakenCidr {
    pub owner: ResourceId,
    pub cidr: Cidr,
}

/// What validating a connection needs to know about its cluster.
#[derive(Debug, Clone)]
pub struct ClusterContext {
    pub cluster_id: ResourceId,
    pub cluster: ClusterSpec,
    /// CIDRs of the cluster's live connections (peerings, transit gateway attachments,
    /// static VPN prefixes).
    pub taken: Vec<TakenCidr>,
    /// Ids that a route may target: the cluster's peerings, attachments and VPNs.
    pub route_targets: Vec<ResourceId>,
}

impl ClusterContext {
    /// "This connection option is only available for dedicated clusters."
    fn require_dedicated(&self, what: &str) -> Result<(), ValidationErrors> {
        if self.cluster.cluster_type == ClusterType::Dedicated {
            return Ok(());
        }
        Err(ValidationErrors::single(
            "clusterId",
            format!(
                "{what} is only available for dedicated clusters; cluster {} is STANDARD (create a DEDICATED cluster)",
                self.cluster_id
            ),
        ))
    }

    fn require_aws_shaped(&self, what: &str) -> Result<(), ValidationErrors> {
        if self.cluster.cloud_provider.is_aws_shaped() {
            return Ok(());
        }
        Err(ValidationErrors::single(
            "clusterId",
            format!(
                "{what} is only available for AWS and LOCAL clusters; cluster {} is AZURE",
                self.cluster_id
            ),
        ))
    }

    /// The rule "a connection's CIDR may not overlap the cluster's VPC CIDR nor another live
    /// connection's CIDR on the same cluster".
    fn check_overlap(&self, v: &mut Validator, field: &str, cidr: Cidr) {
        let vpc = self.cluster.vpc_subnet_range;
        if cidr.overlaps(&vpc) {
            v.push(
                field,
                format!("{cidr} overlaps the cluster's VPC range {vpc}"),
            );
        }
        if let Some(t) = self.taken.iter().find(|t| t.cidr.overlaps(&cidr)) {
            v.push(
                field,
                format!(
                    "{cidr} overlaps {} of connection {} on this cluster",
                    t.cidr, t.owner
                ),
            );
        }
    }
}

fn check_distinct_cidrs(v: &mut Validator, field: &str, cidrs: &[Cidr]) {
    for (i, a) in cidrs.iter().enumerate() {
        if let Some(b) = cidrs[..i].iter().find(|b| b.overlaps(a)) {
            v.push(
                format!("{field}[{i}]"),
                format!("{a} overlaps {b} in the same list"),
            );
        }
    }
}

// ------------------------------------------------------------------------ private link

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PutPrivateLinkRequest {
    pub allowed_principals: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub auto_accept: bool,
}

impl PutPrivateLinkRequest {
    pub fn validate(&self, cluster: &ClusterSpec) -> Result<PrivateLinkSpec, ValidationErrors> {
        let mut v = Validator::new();
        let cloud = cluster.cloud_provider.region_cloud();
        check_list_len(
            &mut v,
            "allowedPrincipals",
            self.allowed_principals.len(),
            1,
            MAX_LIST,
        );
        check_list_len(&mut v, "regions", self.regions.len(), 0, 20);
        let principals = parse_list(&mut v, "allowedPrincipals", &self.allowed_principals, |s| {
            AllowedPrincipal::parse_for(s, cloud)
        });
        let regions = parse_list(&mut v, "regions", &self.regions, |s| {
            Region::parse_in(s, cloud)
        });
        let mut seen = HashSet::new();
        for (i, p) in self.allowed_principals.iter().enumerate() {
            if !seen.insert(p) {
                v.push(
                    format!("allowedPrincipals[{i}]"),
                    format!("{p:?} is listed twice"),
                );
            }
        }
        v.finish(|| {
            Some(PrivateLinkSpec {
                allowed_principals: principals?,
                regions: regions?,
                auto_accept: self.auto_accept,
            })
        })
    }
}

// ------------------------------------------------------------------------- VPC peering

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateVpcPeeringRequest {
    pub name: String,
    pub peer_account_id: String,
    pub peer_vpc_id: String,
    pub peer_region: String,
    pub peer_cidr: String,
}

impl CreateVpcPeeringRequest {
    pub fn validate(&self, ctx: &ClusterContext) -> Result<VpcPeeringSpec, ValidationErrors> {
        ctx.require_dedicated("VPC peering")?;
        ctx.require_aws_shaped("VPC peering")?;
        let mut v = Validator::new();
        let name = v.check("name", Name::parse(&self.name));
        let account = v.check("peerAccountId", AccountId::parse(&self.peer_account_id));
        let vpc = v.check("peerVpcId", VpcId::parse(&self.peer_vpc_id));
        let region = v.check(
            "peerRegion",
            Region::parse_in(&self.peer_region, RegionCloud::Aws),
        );
        let cidr = v.check(
            "peerCidr",
            Cidr::parse(&self.peer_cidr).and_then(Cidr::require_rfc1918),
        );
        if let Some(c) = cidr {
            ctx.check_overlap(&mut v, "peerCidr", c);
        }
        v.finish(|| {
            Some(VpcPeeringSpec {
                name: name?,
                peer_account_id: account?,
                peer_vpc_id: vpc?,
                peer_region: region?,
                peer_cidr: cidr?,
            })
        })
    }
}

// ----------------------------------------------------------------------------- routes

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateRouteRequest {
    pub name: String,
    pub destination_cidr: String,
    pub target_id: String,
}

impl CreateRouteRequest {
    pub fn validate(&self, ctx: &ClusterContext) -> Result<RouteSpec, ValidationErrors> {
        let mut v = Validator::new();
        let name = v.check("name", Name::parse(&self.name));
        let dest = v.check("destinationCidr", Cidr::parse(&self.destination_cidr));
        if let Some(d) = dest
            && d.overlaps(&ctx.cluster.vpc_subnet_range)
        {
            v.push(
                "destinationCidr",
                format!(
                    "{d} overlaps the cluster's VPC range {}",
                    ctx.cluster.vpc_subnet_range
                ),
            );
        }
        let target = v.check(
            "targetId",
            ResourceId::parse(&self.target_id).and_then(|id| {
                if ctx.route_targets.contains(&id) {
                    Ok(id)
                } else {
                    Err(format!(
                        "{id} is not a VPC peering connection, transit gateway attachment or VPN connection of cluster {}",
                        ctx.cluster_id
                    ))
                }
            }),
        );
        v.finish(|| {
            Some(RouteSpec {
                name: name?,
                destination_cidr: dest?,
                target_id: target?,
            })
        })
    }
}

// ------------------------------------------------------------------- transit gateways

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateTransitGatewayAttachmentRequest {
    pub name: String,
    pub transit_gateway_id: String,
    pub peer_account_id: String,
    pub cidrs: Vec<String>,
}

impl CreateTransitGatewayAttachmentRequest {
    pub fn validate(
        &self,
        ctx: &ClusterContext,
    ) -> Result<TransitGatewayAttachmentSpec, ValidationErrors> {
        ctx.require_dedicated("Transit gateway")?;
        ctx.require_aws_shaped("Transit gateway")?;
        let mut v = Validator::new();
        let name = v.check("name", Name::parse(&self.name));
        let tgw = v.check(
            "transitGatewayId",
            TransitGatewayId::parse(&self.transit_gateway_id),
        );
        let account = v.check("peerAccountId", AccountId::parse(&self.peer_account_id));
        check_list_len(&mut v, "cidrs", self.cidrs.len(), 1, MAX_LIST);
        let cidrs = parse_list(&mut v, "cidrs", &self.cidrs, Cidr::parse);
        if let Some(cs) = &cidrs {
            check_distinct_cidrs(&mut v, "cidrs", cs);
            for (i, c) in cs.iter().enumerate() {
                ctx.check_overlap(&mut v, &format!("cidrs[{i}]"), *c);
            }
        }
        v.finish(|| {
            Some(TransitGatewayAttachmentSpec {
                name: name?,
                transit_gateway_id: tgw?,
                peer_account_id: account?,
                cidrs: cidrs?,
            })
        })
    }
}

// ------------------------------------------------------------------ outbound endpoints

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateOutboundEndpointRequest {
    pub name: String,
    pub service_name: String,
    /// Default INTERFACE.
    #[serde(rename = "type")]
    pub endpoint_type: Option<OutboundEndpointType>,
    /// Default true ("Astronomer support activates the Enable DNS Name option").
    pub private_dns_enabled: Option<bool>,
    pub dns_name: Option<String>,
}

impl CreateOutboundEndpointRequest {
    /// Custom endpoints; the preconfigured ones come with every AWS cluster.
    pub fn validate(&self, ctx: &ClusterContext) -> Result<OutboundEndpointSpec, ValidationErrors> {
        ctx.require_dedicated("A custom PrivateLink endpoint")?;
        ctx.require_aws_shaped("A PrivateLink endpoint")?;
        let mut v = Validator::new();
        let name = v.check("name", Name::parse(&self.name));
        let region = ctx.cluster.region.as_str();
        let svc = v.check(
            "serviceName",
            EndpointServiceName::parse(&self.service_name).and_then(|s| {
                let same_region = s.as_str().starts_with(&format!("com.amazonaws.{region}."))
                    || s.as_str().starts_with(&format!("com.amazonaws.vpce.{region}."));
                if same_region {
                    Ok(s)
                } else {
                    Err(format!(
                        "{s} is not in the cluster's region {region}; services in other regions need inter-Region VPC peering"
                    ))
                }
            }),
        );
        let dns_name = match &self.dns_name {
            Some(d) => v.check("dnsName", DomainName::parse(d)).map(Some),
            None => Some(None),
        };
        let endpoint_type = self
            .endpoint_type
            .unwrap_or(OutboundEndpointType::Interface);
        let private_dns = self.private_dns_enabled.unwrap_or(true);
        if endpoint_type == OutboundEndpointType::Gateway && self.private_dns_enabled == Some(true)
        {
            v.push("privateDnsEnabled", "gateway endpoints have no private DNS");
        }
        v.finish(|| {
            Some(OutboundEndpointSpec {
                name: name?,
                service_name: svc?,
                endpoint_type,
                private_dns_enabled: private_dns
                    && endpoint_type == OutboundEndpointType::Interface,
                preconfigured: false,
                dns_name: dns_name?,
            })
        })
    }
}

// ------------------------------------------------------------------------------- VPN

// `Debug` redacts the pre-shared key (below), so no log line or error can print it.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateVpnConnectionRequest {
    pub name: String,
    /// One or two public IPv4 addresses of the customer's gateway(s).
    pub gateway_ips: Vec<String>,
    /// IKE pre-shared key: 8–64 of [A-Za-z0-9._], not starting with 0. Never returned.
    pub pre_shared_key: String,
    /// BGP routing: the customer ASN. Give this or `staticPrefixes`, not both.
    pub bgp_asn: Option<i64>,
    pub static_prefixes: Option<Vec<String>>,
    /// Optional /30 inside 169.254.0.0/16 for the tunnel's inside addresses.
    pub inside_cidr: Option<String>,
}

impl std::fmt::Debug for CreateVpnConnectionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateVpnConnectionRequest")
            .field("name", &self.name)
            .field("gateway_ips", &self.gateway_ips)
            .field("pre_shared_key", &"<redacted>")
            .field("bgp_asn", &self.bgp_asn)
            .field("static_prefixes", &self.static_prefixes)
            .field("inside_cidr", &self.inside_cidr)
            .finish()
    }
}

impl CreateVpnConnectionRequest {
    pub fn validate(
        &self,
        ctx: &ClusterContext,
    ) -> Result<(VpnConnectionSpec, PreSharedKey), ValidationErrors> {
        ctx.require_dedicated("VPN")?;
        let mut v = Validator::new();
        let name = v.check("name", Name::parse(&self.name));
        check_list_len(&mut v, "gatewayIps", self.gateway_ips.len(), 1, 2);
        let ips = parse_list(&mut v, "gatewayIps", &self.gateway_ips, GatewayIp::parse);
        if let [a, b] = self.gateway_ips.as_slice()
            && a == b
        {
            v.push("gatewayIps[1]", "the two gateway addresses must differ");
        }
        let psk = v.check("preSharedKey", PreSharedKey::parse(&self.pre_shared_key));
        let (asn, prefixes) = self.validate_routing(ctx, &mut v);
        let inside = match &self.inside_cidr {
            Some(c) => v.check("insideCidr", InsideCidr::parse(c)).map(Some),
            None => Some(None),
        };
        v.finish(|| {
            Some((
                VpnConnectionSpec {
                    name: name?,
                    gateway_ips: ips?,
                    bgp_asn: asn?,
                    static_prefixes: prefixes?,
                    inside_cidr: inside?,
                },
                psk?,
            ))
        })
    }

    fn validate_routing(
        &self,
        ctx: &ClusterContext,
        v: &mut Validator,
    ) -> (Option<Option<Asn>>, Option<Vec<Cidr>>) {
        match (self.bgp_asn, &self.static_prefixes) {
            (Some(_), Some(_)) => {
                v.push(
                    "staticPrefixes",
                    "give either bgpAsn (BGP routing) or staticPrefixes (static routing), not both",
                );
                (None, None)
            }
            (None, None) => {
                v.push(
                    "bgpAsn",
                    "give either bgpAsn (BGP routing) or a non-empty staticPrefixes (static routing)",
                );
                (None, None)
            }
            (Some(n), None) => (v.check("bgpAsn", Asn::parse(n)).map(Some), Some(vec![])),
            (None, Some(list)) => {
                check_list_len(v, "staticPrefixes", list.len(), 1, MAX_LIST);
                let cidrs = parse_list(v, "staticPrefixes", list, Cidr::parse);
                if let Some(cs) = &cidrs {
                    check_distinct_cidrs(v, "staticPrefixes", cs);
                    for (i, c) in cs.iter().enumerate() {
                        ctx.check_overlap(v, &format!("staticPrefixes[{i}]"), *c);
                    }
                }
                (Some(None), cidrs)
            }
        }
    }
}

// ----------------------------------------------------------------------- DNS resolution

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsRecordRequest {
    /// Relative to the zone (`db`) or `@` for the apex.
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: RecordType,
    pub value: String,
    /// Seconds, default 300.
    pub ttl: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateDnsResolutionRequest {
    pub name: String,
    pub kind: DnsResolutionKind,
    pub domain: String,
    /// FORWARDING (required) and RESOLVER_RULE (optional): resolvers as `ip[:port]`.
    #[serde(default)]
    pub targets: Vec<String>,
    /// PRIVATE_ZONE only: A, AAAA and CNAME records.
    #[serde(default)]
    pub records: Vec<DnsRecordRequest>,
    /// RESOLVER_RULE only: the shared rule's id.
    pub resolver_rule_id: Option<String>,
    /// HOSTED_ZONE_ASSOCIATION only: the customer's private hosted zone for `domain`.
    pub hosted_zone_id: Option<String>,
}

fn validate_record(v: &mut Validator, i: usize, r: &DnsRecordRequest) -> Option<DnsRecord> {
    let field = |f: &str| format!("records[{i}].{f}");
    let name_ok = if r.name == "@" {
        Some(())
    } else {
        v.check(&field("name"), DomainName::parse(&r.name).map(|_| ()))
    };
    let value = match r.record_type {
        RecordType::A => v.check(
            &field("value"),
            parse_ipv4(&r.value).map(|ip| ip.to_string()),
        ),
        RecordType::AAAA => v.check(
            &field("value"),
            parse_ipv6(&r.value).map(|ip| ip.to_string()),
        ),
        RecordType::CNAME => v.check(
            &field("value"),
            DomainName::parse(&r.value)
                .map(|d| d.as_str().to_owned())
                .map_err(|e| format!("a CNAME needs a domain name: {e}")),
        ),
    };
    if r.record_type == RecordType::CNAME && r.name == "@" {
        v.push(field("name"), "a CNAME cannot be at the zone apex (@)");
    }
    let ttl = r.ttl.unwrap_or(300);
    if !(1..=604_800).contains(&ttl) {
        v.push(field("ttl"), "must be between 1 and 604800 seconds");
    }
    name_ok?;
    Some(DnsRecord {
        name: r.name.to_ascii_lowercase(),
        record_type: r.record_type,
        value: value?,
        ttl,
    })
}

impl CreateDnsResolutionRequest {
    pub fn validate(&self) -> Result<DnsResolutionSpec, ValidationErrors> {
        let mut v = Validator::new();
        let name = v.check("name", Name::parse(&self.name));
        let domain = v.check("domain", DomainName::parse(&self.domain));
        self.check_kind_fields(&mut v);
        check_list_len(&mut v, "targets", self.targets.len(), 0, 6);
        check_list_len(&mut v, "records", self.records.len(), 0, MAX_LIST);
        let targets = parse_list(&mut v, "targets", &self.targets, ForwardTarget::parse);
        let records: Option<Vec<DnsRecord>> = self
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| validate_record(&mut v, i, r))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        if let Some(rs) = &records {
            check_cname_exclusive(&mut v, rs);
        }
        let rule = match &self.resolver_rule_id {
            Some(r) => v
                .check("resolverRuleId", ResolverRuleId::parse(r))
                .map(Some),
            None => Some(None),
        };
        let zone = match &self.hosted_zone_id {
            Some(z) => v.check("hostedZoneId", HostedZoneId::parse(z)).map(Some),
            None => Some(None),
        };
        v.finish(|| {
            Some(DnsResolutionSpec {
                name: name?,
                kind: self.kind,
                domain: domain?,
                targets: targets?,
                records: records?,
                resolver_rule_id: rule?,
                hosted_zone_id: zone?,
            })
        })
    }

    fn check_kind_fields(&self, v: &mut Validator) {
        use DnsResolutionKind as K;
        match self.kind {
            K::Forwarding => {
                if self.targets.is_empty() {
                    v.push("targets", "FORWARDING needs at least one target resolver");
                }
            }
            K::ResolverRule => {
                if self.resolver_rule_id.is_none() {
                    v.push("resolverRuleId", "RESOLVER_RULE needs the shared rule's id");
                }
            }
            K::PrivateZone => {
                if self.records.is_empty() {
                    v.push("records", "PRIVATE_ZONE needs at least one record");
                }
            }
            K::HostedZoneAssociation => {
                if self.hosted_zone_id.is_none() {
                    v.push(
                        "hostedZoneId",
                        "HOSTED_ZONE_ASSOCIATION needs the id of your private hosted zone",
                    );
                }
            }
        }
        if matches!(self.kind, K::PrivateZone | K::HostedZoneAssociation)
            && !self.targets.is_empty()
        {
            v.push("targets", "only FORWARDING and RESOLVER_RULE have targets");
        }
        if self.kind != K::HostedZoneAssociation && self.hosted_zone_id.is_some() {
            v.push(
                "hostedZoneId",
                "only HOSTED_ZONE_ASSOCIATION has a hosted zone id",
            );
        }
        if self.kind != K::PrivateZone && !self.records.is_empty() {
            v.push("records", "only PRIVATE_ZONE has records");
        }
        if self.kind != K::ResolverRule && self.resolver_rule_id.is_some() {
            v.push(
                "resolverRuleId",
                "only RESOLVER_RULE has a resolver rule id",
            );
        }
    }
}

/// A name that has a CNAME has no other record.
fn check_cname_exclusive(v: &mut Validator, records: &[DnsRecord]) {
    for (i, r) in records.iter().enumerate() {
        let clash = records.iter().enumerate().any(|(j, o)| {
            j != i
                && o.name == r.name
                && (r.record_type == RecordType::CNAME || o.record_type == RecordType::CNAME)
        });
        if clash && r.record_type == RecordType::CNAME {
            v.push(
                format!("records[{i}].name"),
                format!(
                    "{:?} has a CNAME and another record; a CNAME must be alone",
                    r.name
                ),
            );
        }
    }
}
