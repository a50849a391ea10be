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
#[serde(rename_all = "camelCase")]
pub struct CreateVpc {
    pub cidr_block: String,
    pub region: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSubnet {
    pub vpc_id: String,
    pub cidr_block: String,
    pub availability_zone: String,
    #[serde(default)]
    pub map_public_ip_on_launch: bool,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRoute {
    pub destination_cidr_block: String,
    pub target_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
#[serde(rename_all = "camelCase")]
pub struct CreateSecurityGroup {
    pub vpc_id: String,
    pub group_name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
#[serde(rename_all = "camelCase")]
pub struct CreateInternetGateway {
    pub vpc_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateNatGateway {
    pub subnet_id: String,
    pub allocation_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePeering {
    pub vpc_id: String,
    pub peer_vpc_id: String,
    /// Defaults to the caller's account.
    pub peer_owner_id: Option<String>,
    /// Defaults to the requester VPC's region.
    pub peer_region: Option<String>,
}
