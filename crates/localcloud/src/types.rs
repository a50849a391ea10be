//! Resources and requests as the API shows them (JSON camelCase, AWS-like field names).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Vpc {
    pub vpc_id: String,
    pub owner_id: String,
    pub cidr_block: String,
    pub region: String,
    pub name: Option<String>,
    pub state: String,
    /// The VPC's DNS resolver address (VPC base+2), held by the router.
    pub dns_resolver: String,
    pub default_security_group_id: String,
    /// The router's network namespace.
    pub namespace: String,
    /// Instances with a public IP get a public DNS host name (`publicDnsName`), resolvable
    /// from the internet and, to the private IP, inside the VPC. Default false (as for an
    /// AWS non-default VPC); change it with `PATCH /vpcs/{id}`.
    pub enable_dns_hostnames: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Subnet {
    pub subnet_id: String,
    pub vpc_id: String,
    pub owner_id: String,
    pub cidr_block: String,
    pub availability_zone: String,
    pub map_public_ip_on_launch: bool,
    /// base+1, held by the subnet's bridge in the VPC router.
    pub gateway: String,
    /// The kernel routing table of the subnet's route table.
    pub route_table: u32,
    pub bridge: String,
    pub name: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub destination_cidr_block: String,
    /// `local`, `igw-…`, `nat-…` or `pcx-…`.
    pub target_id: String,
    /// `active`, or `blackhole` when the target cannot carry traffic (e.g. a peering
    /// connection that is not active).
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub instance_id: String,
    pub owner_id: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub private_ip_address: String,
    pub public_ip_address: Option<String>,
    /// `ip-10-1-1-5.<region>.compute.internal`: resolves to the private IP inside the VPC.
    pub private_dns_name: String,
    /// `ec2-198-51-100-12.<region>.compute.linkplane.test`, only with a public IP in a VPC
    /// with `enableDnsHostnames`: the public IP from the internet, the private IP inside
    /// the VPC (and from peered VPCs this VPC's side allows, see [`PeeringOptions`]).
    pub public_dns_name: Option<String>,
    pub security_group_ids: Vec<String>,
    pub namespace: String,
    pub state: String,
    pub name: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroup {
    pub group_id: String,
    pub group_name: String,
    pub description: String,
    pub vpc_id: String,
    pub owner_id: String,
    pub rules: Vec<SecurityGroupRule>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupRule {
    pub rule_id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `tcp`, `udp`, `icmp` or `-1` (all).
    pub ip_protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub cidr_ip: Option<String>,
    pub source_security_group_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InternetGateway {
    pub internet_gateway_id: String,
    pub owner_id: String,
    pub vpc_id: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ElasticIp {
    pub allocation_id: String,
    pub owner_id: String,
    pub public_ip: String,
    /// The NAT gateway using it, if any.
    pub nat_gateway_id: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NatGateway {
    pub nat_gateway_id: String,
    pub owner_id: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub allocation_id: String,
    pub public_ip: String,
    pub state: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PeeringVpcInfo {
    pub owner_id: String,
    pub vpc_id: String,
    pub cidr_block: String,
    pub region: String,
    /// This side's options (set by this side's account).
    pub peering_options: PeeringOptions,
}

/// One side's options of a peering connection (EC2's `VpcPeeringConnectionOptionsDescription`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeeringOptions {
    /// If true, instances in the peer VPC resolve this side's public DNS host names
    /// (`publicDnsName`) to private IP addresses (while the peering is active). AWS: "If
    /// true, enables a local VPC to resolve public DNS hostnames to private IP addresses
    /// when queried from instances in the peer VPC."
    pub allow_dns_resolution_from_remote_vpc: bool,
}

/// `POST /vpc-peering-connections/{id}/options` (EC2's ModifyVpcPeeringConnectionOptions):
/// give at least one side; only that side's account may set it; the peering must be active.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModifyPeeringOptions {
    #[serde(default)]
    pub requester_peering_connection_options: Option<PeeringOptions>,
    #[serde(default)]
    pub accepter_peering_connection_options: Option<PeeringOptions>,
}

/// `PATCH /vpcs/{id}` (EC2's ModifyVpcAttribute): absent fields are kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModifyVpc {
    #[serde(default)]
    pub enable_dns_hostnames: Option<bool>,
}

/// Attributes of a VPC given at creation (`POST /vpcs` accepts them beside [`CreateVpc`]'s
/// fields, unknown fields refused; see `Engine::create_vpc_with_attributes`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VpcAttributes {
    #[serde(default)]
    pub enable_dns_hostnames: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PeeringStatus {
    /// `initiating-request`, `pending-acceptance`, `active`, `rejected`, `failed`, `deleted`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PeeringConnection {
    pub vpc_peering_connection_id: String,
    pub requester_vpc_info: PeeringVpcInfo,
    pub accepter_vpc_info: PeeringVpcInfo,
    pub status: PeeringStatus,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    pub process_id: String,
    /// The instance it runs in, or `internet`.
    pub owner_id: String,
    pub namespace: String,
    pub pid: i32,
    pub command: Vec<String>,
    pub log_path: String,
    pub running: bool,
    pub started_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Internet {
    pub namespace: String,
    /// The internet namespace's own address; `internet run` servers listen there.
    pub host_address: String,
    pub internet_hosts: String,
    pub public_ip_pool: String,
}

/// The result of a command run inside a namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOutput {
    /// The exit code; 128+N when killed by signal N; 124 on timeout.
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateVpc {
    pub cidr_block: String,
    pub region: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSubnet {
    pub vpc_id: String,
    pub cidr_block: String,
    pub availability_zone: String,
    #[serde(default)]
    pub map_public_ip_on_launch: bool,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRoute {
    pub destination_cidr_block: String,
    pub target_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateInstance {
    pub subnet_id: String,
    pub private_ip_address: Option<String>,
    /// Defaults to the VPC's `default` group.
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    /// Defaults to the subnet's `mapPublicIpOnLaunch`.
    pub associate_public_ip_address: Option<bool>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSecurityGroup {
    pub vpc_id: String,
    pub group_name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSecurityGroupRule {
    /// `ingress` or `egress`.
    pub direction: String,
    /// `tcp`, `udp`, `icmp` or `-1` (all).
    pub ip_protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub cidr_ip: Option<String>,
    pub source_security_group_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateInternetGateway {
    pub vpc_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateNatGateway {
    pub subnet_id: String,
    pub allocation_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePeering {
    pub vpc_id: String,
    pub peer_vpc_id: String,
    /// Defaults to the caller's account.
    pub peer_owner_id: Option<String>,
    /// Defaults to the requester VPC's region.
    pub peer_region: Option<String>,
}

// ---- PrivateLink: network load balancers, endpoint services, interface endpoints ----

/// `POST /load-balancers`: a network load balancer with one address (ENI) in each subnet.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateLoadBalancer {
    /// Subnets of one VPC, at most one per availability zone.
    pub subnet_ids: Vec<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// One address of a load balancer or endpoint: a private IP of a subnet, held on the VPC
/// router.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterface {
    pub subnet_id: String,
    pub availability_zone: String,
    pub private_ip_address: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    pub load_balancer_id: String,
    pub owner_id: String,
    pub vpc_id: String,
    pub name: Option<String>,
    pub availability_zones: Vec<String>,
    pub addresses: Vec<NetworkInterface>,
    pub listeners: Vec<Listener>,
    pub created_at: String,
}

/// `POST /load-balancers/{id}/listeners`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateListener {
    pub port: u16,
    pub target_group_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    pub listener_id: String,
    pub port: u16,
    pub protocol: String,
    pub target_group_id: String,
}

/// Health check settings (AWS names; times in milliseconds so tests can be fast).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheck {
    /// `TCP` or `HTTP`.
    #[serde(default = "default_hc_protocol")]
    pub protocol: String,
    /// HTTP only: the path (default `/`).
    #[serde(default)]
    pub path: Option<String>,
    /// HTTP only: status codes such as `200`, `200,302`, `200-399` (default `200-399`).
    #[serde(default)]
    pub matcher: Option<String>,
    /// Port to check instead of the traffic port.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default = "default_interval")]
    pub interval_millis: u64,
    #[serde(default = "default_timeout")]
    pub timeout_millis: u64,
    #[serde(default = "default_threshold")]
    pub healthy_threshold: u32,
    #[serde(default = "default_threshold")]
    pub unhealthy_threshold: u32,
}

fn default_hc_protocol() -> String {
    "TCP".into()
}
fn default_interval() -> u64 {
    10_000
}
fn default_timeout() -> u64 {
    5_000
}
fn default_threshold() -> u32 {
    3
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            protocol: default_hc_protocol(),
            path: None,
            matcher: None,
            port: None,
            interval_millis: default_interval(),
            timeout_millis: default_timeout(),
            healthy_threshold: default_threshold(),
            unhealthy_threshold: default_threshold(),
        }
    }
}

/// `POST /target-groups`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTargetGroup {
    pub vpc_id: String,
    /// The traffic port of targets registered without one.
    pub port: u16,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroup {
    pub target_group_id: String,
    pub owner_id: String,
    pub vpc_id: String,
    pub name: Option<String>,
    pub port: u16,
    pub protocol: String,
    pub health_check: HealthCheck,
    /// The load balancer whose listener uses it (health checks run from its address).
    pub load_balancer_id: Option<String>,
    pub created_at: String,
}

/// One target to register or deregister.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetRef {
    pub instance_id: String,
    #[serde(default)]
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Targets {
    pub targets: Vec<TargetRef>,
}

/// `GET /target-groups/{id}/health`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TargetHealth {
    pub instance_id: String,
    pub private_ip_address: String,
    pub port: u16,
    /// `initial`, `healthy`, `unhealthy`, `draining`, or `unused` (no listener uses the
    /// group, so nothing checks it).
    pub state: String,
    pub active_connections: u64,
}

/// `POST /endpoint-services`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEndpointService {
    pub load_balancer_id: String,
    #[serde(default = "yes")]
    pub acceptance_required: bool,
    #[serde(default)]
    pub private_dns_name: Option<String>,
    /// Send a PROXY protocol v2 header with the endpoint id to targets.
    #[serde(default)]
    pub proxy_protocol: bool,
    /// Other regions whose consumers may connect (the service's own region always may).
    #[serde(default)]
    pub supported_regions: Vec<String>,
    /// Principals allowed to create endpoints (`*` for everyone).
    #[serde(default)]
    pub allowed_principals: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Default for CreateEndpointService {
    fn default() -> Self {
        Self {
            load_balancer_id: String::new(),
            acceptance_required: true,
            private_dns_name: None,
            proxy_protocol: false,
            supported_regions: Vec::new(),
            allowed_principals: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EndpointService {
    pub service_id: String,
    pub service_name: String,
    pub owner_id: String,
    pub load_balancer_id: String,
    pub region: String,
    pub acceptance_required: bool,
    pub private_dns_name: Option<String>,
    pub proxy_protocol: bool,
    pub supported_regions: Vec<String>,
    pub availability_zones: Vec<String>,
    pub allowed_principals: Vec<String>,
    pub created_at: String,
}

/// `PATCH /endpoint-services/{id}`: change the configuration (absent fields are kept).
/// Existing endpoint connections keep their state (as AWS does).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModifyEndpointService {
    #[serde(default)]
    pub acceptance_required: Option<bool>,
    /// Replaces the list of other supported regions.
    #[serde(default)]
    pub supported_regions: Option<Vec<String>>,
    /// Set a private DNS name.
    #[serde(default)]
    pub private_dns_name: Option<String>,
    /// Remove the private DNS name.
    #[serde(default)]
    pub remove_private_dns_name: bool,
}

/// `POST /endpoint-services/{id}/permissions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModifyPermissions {
    #[serde(default)]
    pub add_allowed_principals: Vec<String>,
    #[serde(default)]
    pub remove_allowed_principals: Vec<String>,
}

/// An endpoint as its service's owner sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConnection {
    pub vpc_endpoint_id: String,
    pub vpc_endpoint_owner: String,
    pub vpc_endpoint_state: String,
    pub created_at: String,
}

/// `POST /vpc-endpoints`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEndpoint {
    pub vpc_id: String,
    pub service_name: String,
    pub subnet_ids: Vec<String>,
    /// Defaults to the VPC's default security group.
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    /// Resolve the service's private DNS name to this endpoint inside the VPC (default true
    /// when the service has one).
    #[serde(default)]
    pub private_dns_enabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DnsEntry {
    pub dns_name: String,
    pub availability_zone: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub vpc_endpoint_id: String,
    pub owner_id: String,
    pub vpc_id: String,
    pub service_name: String,
    /// `pendingAcceptance`, `available`, `rejected`, `failed` or `deleted`.
    pub state: String,
    pub network_interfaces: Vec<NetworkInterface>,
    pub security_group_ids: Vec<String>,
    pub dns_entries: Vec<DnsEntry>,
    pub private_dns_enabled: bool,
    pub created_at: String,
}

// ---- DNS: private hosted zones, resolver rules, public records ----

/// `POST /hosted-zones`: a private hosted zone, associated with VPCs of the caller.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateHostedZone {
    pub name: String,
    #[serde(default)]
    pub vpc_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HostedZone {
    pub hosted_zone_id: String,
    pub owner_id: String,
    pub name: String,
    pub vpc_ids: Vec<String>,
    /// VPCs of other accounts the owner has authorized to associate.
    pub authorized_vpc_ids: Vec<String>,
    pub record_sets: Vec<RecordSet>,
    pub created_at: String,
}

/// A record set: `A`, `AAAA` and `CNAME` with values, or `ALIAS` with one target name
/// (e.g. an endpoint's DNS name).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordSet {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default = "default_ttl")]
    pub ttl: u32,
    pub values: Vec<String>,
}

fn default_ttl() -> u32 {
    300
}

/// `POST /hosted-zones/{id}/records/delete`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordKey {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VpcRef {
    pub vpc_id: String,
}

/// `POST /resolver-rules`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateResolverRule {
    pub domain_name: String,
    /// `FORWARD` (to `targetIps`) or `SYSTEM` (resolve normally, overriding a broader
    /// forward).
    pub rule_type: String,
    /// `ip` or `ip:port` (port 53 by default).
    #[serde(default)]
    pub target_ips: Vec<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResolverRule {
    pub resolver_rule_id: String,
    pub owner_id: String,
    pub domain_name: String,
    pub rule_type: String,
    pub target_ips: Vec<String>,
    pub name: Option<String>,
    pub vpc_ids: Vec<String>,
    /// Accounts the owner shared the rule with (a recipient sees only itself).
    #[serde(default)]
    pub shared_with: Vec<String>,
    pub created_at: String,
}

/// `POST /resolver-rules/{id}/shares`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShareRequest {
    pub account_id: String,
}

/// A public DNS name the platform publishes (served from the internet namespace).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublicRecord {
    pub name: String,
    /// IPv4 addresses.
    pub values: Vec<String>,
    #[serde(default = "default_ttl")]
    pub ttl: u32,
}

/// `POST /transit-gateways` (EC2's CreateTransitGateway).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTransitGateway {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub options: TransitGatewayRequestOptions,
}

/// EC2's `TransitGatewayRequestOptions`: `enable` / `disable` as AWS spells them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransitGatewayRequestOptions {
    /// Default 64512; 64512–65534 or 4200000000–4294967294.
    #[serde(default)]
    pub amazon_side_asn: Option<u64>,
    /// Default `disable`.
    #[serde(default)]
    pub auto_accept_shared_attachments: Option<String>,
    /// Default `enable`.
    #[serde(default)]
    pub default_route_table_association: Option<String>,
    /// Default `enable`.
    #[serde(default)]
    pub default_route_table_propagation: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TransitGatewayOptions {
    pub amazon_side_asn: u64,
    pub auto_accept_shared_attachments: String,
    pub default_route_table_association: String,
    pub default_route_table_propagation: String,
    pub association_default_route_table_id: Option<String>,
    pub propagation_default_route_table_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TransitGateway {
    pub transit_gateway_id: String,
    pub transit_gateway_arn: String,
    pub owner_id: String,
    pub region: String,
    pub description: Option<String>,
    /// `available`, `deleted`.
    pub state: String,
    pub options: TransitGatewayOptions,
    /// The gateway router's network namespace.
    pub namespace: String,
    pub created_at: String,
}

/// `POST /transit-gateway-attachments` (EC2's CreateTransitGatewayVpcAttachment).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTransitGatewayVpcAttachment {
    pub transit_gateway_id: String,
    pub vpc_id: String,
    /// One subnet per availability zone.
    pub subnet_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TransitGatewayAttachmentAssociation {
    pub transit_gateway_route_table_id: String,
    /// `associated`.
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TransitGatewayVpcAttachment {
    pub transit_gateway_attachment_id: String,
    pub transit_gateway_id: String,
    pub transit_gateway_owner_id: String,
    pub vpc_id: String,
    pub vpc_owner_id: String,
    pub subnet_ids: Vec<String>,
    /// `pendingAcceptance`, `pending`, `available`, `rejected`, `deleting`, `deleted`,
    /// `failed`.
    pub state: String,
    pub association: Option<TransitGatewayAttachmentAssociation>,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /transit-gateway-route-tables`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTransitGatewayRouteTable {
    pub transit_gateway_id: String,
}

/// An association or a propagation of a gateway route table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TransitGatewayRouteTableLink {
    pub transit_gateway_attachment_id: String,
    pub resource_id: String,
    /// `vpc`.
    pub resource_type: String,
    /// `associated` or `enabled`.
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TransitGatewayRouteTable {
    pub transit_gateway_route_table_id: String,
    pub transit_gateway_id: String,
    pub state: String,
    pub default_association_route_table: bool,
    pub default_propagation_route_table: bool,
    pub associations: Vec<TransitGatewayRouteTableLink>,
    pub propagations: Vec<TransitGatewayRouteTableLink>,
    pub created_at: String,
}

/// `POST …/associations`, `…/propagations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransitGatewayAttachmentRef {
    pub transit_gateway_attachment_id: String,
}

/// `POST /transit-gateway-route-tables/{id}/routes` (CreateTransitGatewayRoute): a static
/// route to an attachment, or a blackhole.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTransitGatewayRoute {
    pub destination_cidr_block: String,
    #[serde(default)]
    pub transit_gateway_attachment_id: Option<String>,
    #[serde(default)]
    pub blackhole: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TransitGatewayRouteAttachment {
    pub transit_gateway_attachment_id: String,
    pub resource_id: String,
    pub resource_type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TransitGatewayRoute {
    pub destination_cidr_block: String,
    pub transit_gateway_attachments: Vec<TransitGatewayRouteAttachment>,
    /// `static` or `propagated`.
    #[serde(rename = "type")]
    pub route_type: String,
    /// `active` or `blackhole`.
    pub state: String,
}

/// `POST /resource-shares` (RAM's CreateResourceShare, for one transit gateway and one
/// account).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateResourceShare {
    #[serde(default)]
    pub name: Option<String>,
    /// The transit gateway (`tgw-…`) to share.
    pub resource_id: String,
    /// The 12-digit account it is shared with.
    pub principal: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceShare {
    pub resource_share_id: String,
    pub resource_share_arn: String,
    pub name: Option<String>,
    pub owning_account_id: String,
    pub resource_id: String,
    pub principal: String,
    /// `ACTIVE`, `DELETED`.
    pub status: String,
    pub invitation: ResourceShareInvitation,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceShareInvitation {
    pub resource_share_invitation_id: String,
    pub resource_share_invitation_arn: String,
    pub resource_share_id: String,
    pub resource_share_name: Option<String>,
    pub sender_account_id: String,
    pub receiver_account_id: String,
    pub resource_id: String,
    /// `PENDING`, `ACCEPTED`, `REJECTED`.
    pub status: String,
}
