//! Every resource of DESIGN.md's vocabulary table: its spec (desired state, written by
//! clients) and its status (observed state, written by reconcilers). JSON is camelCase,
//! enum values UPPER_SNAKE.

use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::fields::*;
use crate::id::ResourceId;
use crate::status::*;

/// An API token's role. Network changes need `ORGANIZATION_OWNER`; members read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    OrganizationOwner,
    OrganizationMember,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrganizationOwner => "ORGANIZATION_OWNER",
            Self::OrganizationMember => "ORGANIZATION_MEMBER",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ORGANIZATION_OWNER" => Some(Self::OrganizationOwner),
            "ORGANIZATION_MEMBER" => Some(Self::OrganizationMember),
            _ => None,
        }
    }
    pub fn is_owner(self) -> bool {
        self == Self::OrganizationOwner
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CloudProvider {
    /// localcloud: the AWS-shaped network built from namespaces on this machine.
    Local,
    Aws,
    Azure,
}

impl CloudProvider {
    /// Which region names and principal shapes apply. localcloud is AWS-shaped.
    pub fn region_cloud(self) -> RegionCloud {
        match self {
            Self::Local | Self::Aws => RegionCloud::Aws,
            Self::Azure => RegionCloud::Azure,
        }
    }
    pub fn is_aws_shaped(self) -> bool {
        self.region_cloud() == RegionCloud::Aws
    }
    pub const ALL: [CloudProvider; 3] = [Self::Local, Self::Aws, Self::Azure];
    /// As on the wire: `LOCAL`, `AWS`, `AZURE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "LOCAL",
            Self::Aws => "AWS",
            Self::Azure => "AZURE",
        }
    }
}

/// The implementation that serves a cluster's cloud in this installation (`serve --provider
/// aws=local`): `local` emulates the cloud on localcloud, `aws` drives the real one.
/// Lower-case on the wire, as on the command line and in finalizer names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Local,
    Aws,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 2] = [Self::Local, Self::Aws];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Aws => "aws",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a provider (local or aws)"))
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterType {
    Standard,
    Dedicated,
}

// ------------------------------------------------------------------------ organization

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: ResourceId,
    pub name: Name,
    pub created_at: DateTime<Utc>,
}

// ----------------------------------------------------------------------------- cluster

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    pub name: Name,
    pub cloud_provider: CloudProvider,
    #[serde(rename = "type")]
    pub cluster_type: ClusterType,
    pub region: Region,
    pub vpc_subnet_range: Cidr,
    /// Refuse orchestration-plane requests that did not arrive through an accepted endpoint.
    #[serde(default)]
    pub private_only: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterObserved {
    pub status: ClusterStatus,
    pub status_reason: Option<String>,
    /// External IPs that persist for the lifetime of the cluster (filled by the reconciler).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub external_ips: Vec<Ipv4Addr>,
    /// The cloud account that holds the cluster's network (the peering requester, and the
    /// account to share resolver rules and authorize hosted zones with).
    #[serde(default)]
    pub account_id: Option<String>,
    /// The cluster's VPC (to authorize a private hosted zone association with).
    #[serde(default)]
    pub vpc_id: Option<String>,
    /// The provider that serves the cluster (recorded by the cluster controller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderKind>,
}

impl Default for ClusterObserved {
    fn default() -> Self {
        Self {
            status: ClusterStatus::Creating,
            status_reason: None,
            external_ips: vec![],
            account_id: None,
            vpc_id: None,
            provider: None,
        }
    }
}

/// The orchestration plane's host name of a cluster: `<clusterId>.external.<baseDomain>`.
pub fn cluster_host_name(cluster_id: &ResourceId, base_domain: &DomainName) -> String {
    format!("{}.external.{}", cluster_id, base_domain)
}

// -------------------------------------------------------------------------- deployment

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoteExecution {
    pub enabled: bool,
    /// Source ranges agents may connect from (empty: any).
    #[serde(default)]
    pub allowed_ip_address_ranges: Vec<Cidr>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    pub name: Name,
    pub cluster_id: ResourceId,
    #[serde(default)]
    pub remote_execution: RemoteExecution,
    /// Where the ingress gateway forwards non-agent paths (the Airflow API server).
    pub airflow_api_url: Option<HttpUrl>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentObserved {
    /// The cluster's external IPs assigned to this deployment (filled by the reconciler).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub external_ips: Vec<Ipv4Addr>,
}

/// A deployment's API URL behind its cluster's ingress gateway.
pub fn deployment_api_url(
    cluster_id: &ResourceId,
    deployment_id: &ResourceId,
    base_domain: &DomainName,
) -> String {
    format!(
        "https://{}/{}",
        cluster_host_name(cluster_id, base_domain),
        deployment_id
    )
}

// ------------------------------------------------------------------ agents and tokens

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentSpec {
    pub name: Name,
    pub hostname: String,
    pub version: String,
    #[serde(default)]
    pub queues: Vec<String>,
    /// The agent token it registered with.
    pub agent_token_id: ResourceId,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentObserved {
    pub last_heartbeat_at: Option<DateTime<Utc>>,
}

/// At most this many live (unrevoked) agent tokens per deployment.
pub const MAX_AGENT_TOKENS_PER_DEPLOYMENT: u32 = 50;

// ------------------------------------------------------------------------ private link

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateLinkSpec {
    /// Who may create endpoints: `*`, IAM principal ARNs (AWS) or subscriptions (Azure).
    pub allowed_principals: Vec<AllowedPrincipal>,
    /// Extra consumer regions (cross-region endpoints); the cluster's region is implied.
    #[serde(default)]
    pub regions: Vec<Region>,
    /// Accept endpoint connections without manual approval.
    #[serde(default)]
    pub auto_accept: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateLinkObserved {
    pub status: ProvisioningStatus,
    pub status_reason: Option<String>,
}

impl Default for PrivateLinkObserved {
    fn default() -> Self {
        Self {
            status: ProvisioningStatus::Pending,
            status_reason: None,
        }
    }
}

/// The endpoint service name customers use: for AWS-shaped clusters
/// `com.linkplane.vpce.<region>.<clusterId>`, for Azure the Private Link Service alias
/// `<clusterId>.<region>.privatelinkservice.<baseDomain>`.
pub fn private_link_service_name(
    cluster_id: &ResourceId,
    cluster: &ClusterSpec,
    base_domain: &DomainName,
) -> String {
    match cluster.cloud_provider.region_cloud() {
        RegionCloud::Aws => format!("com.linkplane.vpce.{}.{}", cluster.region, cluster_id),
        RegionCloud::Azure => format!(
            "{}.{}.privatelinkservice.{}",
            cluster_id, cluster.region, base_domain
        ),
    }
}

/// Provider-side record of one consumer endpoint connected to a cluster's service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConnectionSpec {
    /// The endpoint's id in the consumer's cloud (e.g. `vpce-0123…`).
    pub cloud_endpoint_id: String,
    /// The principal (ARN) or subscription that created the endpoint.
    pub requester: String,
    pub region: Option<Region>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConnectionObserved {
    pub status: EndpointConnectionStatus,
    pub status_reason: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub private_ips: Vec<IpAddr>,
}

// ------------------------------------------------------------------------- VPC peering

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VpcPeeringSpec {
    pub name: Name,
    pub peer_account_id: AccountId,
    pub peer_vpc_id: VpcId,
    pub peer_region: Region,
    pub peer_cidr: Cidr,
}

/// What the customer does to complete activation ("accept the connection from your external
/// VPC and create routes from the external VPC to Astro").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivationInstructions {
    pub peering_connection_id: String,
    pub cluster_vpc_cidr: Cidr,
    pub steps: Vec<String>,
}

pub fn activation_instructions(
    peering_connection_id: &str,
    cluster_vpc_cidr: Cidr,
    peer: &VpcPeeringSpec,
) -> ActivationInstructions {
    ActivationInstructions {
        peering_connection_id: peering_connection_id.to_owned(),
        cluster_vpc_cidr,
        steps: vec![
            format!(
                "In account {} (region {}), accept VPC peering connection {} into {}.",
                peer.peer_account_id, peer.peer_region, peering_connection_id, peer.peer_vpc_id
            ),
            format!(
                "In the route tables of {}, add a route: destination {}, target {}.",
                peer.peer_vpc_id, cluster_vpc_cidr, peering_connection_id
            ),
        ],
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VpcPeeringObserved {
    pub status: PeeringStatus,
    pub status_reason: Option<String>,
    /// Present while the status is PENDING_ACTIVATION ("Complete Activation").
    pub activation_instructions: Option<ActivationInstructions>,
    /// The provider's peering connection id (e.g. `pcx-…`).
    pub cloud_peering_id: Option<String>,
    /// When the status last changed (drives the NOT_FOUND retry after 5 minutes).
    pub status_changed_at: Option<DateTime<Utc>>,
    /// Whether the customer enabled "Accepter DNS Resolution" on their side of the peering
    /// (so the cluster resolves the external VPC's public DNS host names to private IPs);
    /// observed while ACTIVE.
    #[serde(default)]
    pub accepter_dns_resolution: Option<bool>,
}

impl Default for VpcPeeringObserved {
    fn default() -> Self {
        Self {
            status: PeeringStatus::Pending,
            status_reason: None,
            activation_instructions: None,
            cloud_peering_id: None,
            status_changed_at: None,
            accepter_dns_resolution: None,
        }
    }
}

// ----------------------------------------------------------------------------- routes

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    pub name: Name,
    pub destination_cidr: Cidr,
    /// A VPC peering connection, transit gateway attachment or VPN connection of the cluster.
    pub target_id: ResourceId,
}

/// Status block shared by resources whose status is a [`ProvisioningStatus`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Provisioning {
    pub status: ProvisioningStatus,
    pub status_reason: Option<String>,
}

impl Default for Provisioning {
    fn default() -> Self {
        Self {
            status: ProvisioningStatus::Pending,
            status_reason: None,
        }
    }
}

// ------------------------------------------------------------------- transit gateways

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransitGatewayAttachmentSpec {
    pub name: Name,
    pub transit_gateway_id: TransitGatewayId,
    /// The account that shared the transit gateway over RAM.
    pub peer_account_id: AccountId,
    /// Networks behind the transit gateway; the cluster routes them to it.
    pub cidrs: Vec<Cidr>,
}

// ------------------------------------------------------------------ outbound endpoints

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutboundEndpointType {
    Interface,
    Gateway,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboundEndpointSpec {
    pub name: Name,
    pub service_name: EndpointServiceName,
    #[serde(rename = "type")]
    pub endpoint_type: OutboundEndpointType,
    pub private_dns_enabled: bool,
    /// One of the endpoints every AWS cluster comes with; cannot be deleted.
    #[serde(default)]
    pub preconfigured: bool,
    /// Optional Route 53 alias for the endpoint (e.g. for Snowflake or EKS).
    pub dns_name: Option<DomainName>,
}

/// "All Astro clusters are pre-configured with the following AWS PrivateLink endpoint
/// services": S3 (gateway); EC2 Auto Scaling, ECR API, ECR Docker registry, ELB, STS (interface).
pub fn preconfigured_outbound_endpoints(region: &Region) -> Vec<OutboundEndpointSpec> {
    let list: [(&str, &str, OutboundEndpointType); 6] = [
        ("Amazon S3", "s3", OutboundEndpointType::Gateway),
        (
            "Amazon EC2 Auto Scaling",
            "autoscaling",
            OutboundEndpointType::Interface,
        ),
        ("Amazon ECR API", "ecr.api", OutboundEndpointType::Interface),
        (
            "Amazon ECR Docker Registry",
            "ecr.dkr",
            OutboundEndpointType::Interface,
        ),
        (
            "Elastic Load Balancing",
            "elasticloadbalancing",
            OutboundEndpointType::Interface,
        ),
        ("AWS STS", "sts", OutboundEndpointType::Interface),
    ];
    list.iter()
        .filter_map(|(name, svc, t)| {
            let service_name =
                EndpointServiceName::parse(&format!("com.amazonaws.{region}.{svc}")).ok()?;
            Some(OutboundEndpointSpec {
                name: Name::parse(name).ok()?,
                service_name,
                endpoint_type: *t,
                private_dns_enabled: *t == OutboundEndpointType::Interface,
                preconfigured: true,
                dns_name: None,
            })
        })
        .collect()
}

// ------------------------------------------------------------------------------- VPN

/// A VPN connection. The pre-shared key is not part of the spec: it is stored apart as a
/// secret and never returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VpnConnectionSpec {
    pub name: Name,
    /// One gateway, or two for HA.
    pub gateway_ips: Vec<GatewayIp>,
    /// BGP routing with this customer ASN, or static routing with `staticPrefixes`.
    pub bgp_asn: Option<Asn>,
    #[serde(default)]
    pub static_prefixes: Vec<Cidr>,
    pub inside_cidr: Option<InsideCidr>,
}

// ----------------------------------------------------------------------- DNS resolution

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DnsResolutionKind {
    /// A Route 53 Resolver rule shared with the cluster's account.
    ResolverRule,
    /// Forward queries for `domain` to `targets`.
    Forwarding,
    /// A private hosted zone with `records`, authoritative for `domain`.
    PrivateZone,
    /// The customer's own private hosted zone `hostedZoneId` (for `domain`), associated with
    /// the cluster's VPC once its owner authorizes the association (document 002, "DNS
    /// considerations for VPC peering").
    HostedZoneAssociation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum RecordType {
    A,
    AAAA,
    CNAME,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsRecord {
    /// Relative to the zone (`db`, `a.b`) or `@` for the zone apex.
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: RecordType,
    pub value: String,
    pub ttl: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsResolutionSpec {
    pub name: Name,
    pub kind: DnsResolutionKind,
    pub domain: DomainName,
    #[serde(default)]
    pub targets: Vec<ForwardTarget>,
    #[serde(default)]
    pub records: Vec<DnsRecord>,
    pub resolver_rule_id: Option<ResolverRuleId>,
    #[serde(default)]
    pub hosted_zone_id: Option<HostedZoneId>,
}

/// What a reconciler observed of a resource its provider provisions: DNS resolutions,
/// transit gateway attachments, VPN connections, outbound endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionedObserved {
    pub status: ProvisioningStatus,
    pub status_reason: Option<String>,
    /// The provider object that implements it in the cluster's account (a resolver rule,
    /// hosted zone, attachment, VPN connection or endpoint id), once created.
    #[serde(default)]
    pub cloud_resource_id: Option<String>,
    /// Commands the customer still has to run (authorize a zone association, share a
    /// transit gateway, accept an attachment), while the resource waits for them.
    #[serde(default)]
    pub instructions: Vec<String>,
}

/// What the transit gateway attachment controller observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransitGatewayAttachmentObserved {
    pub status: TransitGatewayAttachmentStatus,
    pub status_reason: Option<String>,
    /// The attachment (`tgw-attach-…`) in the cluster's account, once created.
    #[serde(default)]
    pub cloud_resource_id: Option<String>,
    /// Commands the customer runs next: the RAM share (PENDING_SHARE), the acceptance
    /// (PENDING_ACCEPTANCE), the back routes to the cluster (ACTIVE).
    #[serde(default)]
    pub instructions: Vec<String>,
    /// The cluster's account, the one the transit gateway is shared with (document 003's
    /// "contact support to retrieve your cluster's AWS account ID", as a field).
    #[serde(default)]
    pub cluster_account_id: Option<AccountId>,
    /// The cluster's CIDRs, for the customer's back routes (document 002: "provides you with
    /// the Astro CIDRs").
    #[serde(default)]
    pub cluster_cidrs: Vec<Cidr>,
}

impl Default for TransitGatewayAttachmentObserved {
    fn default() -> Self {
        Self {
            status: TransitGatewayAttachmentStatus::Pending,
            status_reason: None,
            cloud_resource_id: None,
            instructions: Vec::new(),
            cluster_account_id: None,
            cluster_cidrs: Vec::new(),
        }
    }
}

/// What the DNS reconciler observed of a resolution.
pub type DnsResolutionObserved = ProvisionedObserved;

impl Default for ProvisionedObserved {
    fn default() -> Self {
        Self {
            status: ProvisioningStatus::Pending,
            status_reason: None,
            cloud_resource_id: None,
            instructions: Vec::new(),
        }
    }
}
