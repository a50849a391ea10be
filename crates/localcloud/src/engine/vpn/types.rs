//! The `/cloud/v1` shapes of customer gateways, virtual private gateways, VPN connections
//! and on-premises sites (EC2's names, camelCase).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCustomerGateway {
    /// The customer side's public IPv4 address.
    pub ip_address: String,
    /// 1–4294967295 except 7224, 9059, 10124, 17943; 65000 when omitted.
    pub bgp_asn: Option<u64>,
    pub device_name: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerGateway {
    pub customer_gateway_id: String,
    pub owner_id: String,
    pub ip_address: String,
    pub bgp_asn: u64,
    pub device_name: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub state: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateVpnGateway {
    /// A private ASN (64512–65534, 4200000000–4294967294); 64512 when omitted.
    pub amazon_side_asn: Option<u64>,
    pub region: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcAttachment {
    pub vpc_id: String,
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpnGateway {
    pub vpn_gateway_id: String,
    pub owner_id: String,
    pub amazon_side_asn: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub state: String,
    pub vpc_attachments: Vec<VpcAttachment>,
    /// The gateway's router namespace.
    pub namespace: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttachVpnGateway {
    pub vpc_id: String,
}

/// One tunnel's options as `CreateVpnConnection` takes them; every field optional.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TunnelOptionsRequest {
    pub tunnel_inside_cidr: Option<String>,
    pub pre_shared_key: Option<String>,
    pub ike_versions: Option<Vec<String>>,
    pub phase1_encryption_algorithms: Option<Vec<String>>,
    pub phase2_encryption_algorithms: Option<Vec<String>>,
    pub phase1_integrity_algorithms: Option<Vec<String>>,
    pub phase2_integrity_algorithms: Option<Vec<String>>,
    pub phase1_dh_group_numbers: Option<Vec<u32>>,
    pub phase2_dh_group_numbers: Option<Vec<u32>>,
    pub phase1_lifetime_seconds: Option<u32>,
    pub phase2_lifetime_seconds: Option<u32>,
    pub dpd_timeout_seconds: Option<u32>,
    pub dpd_timeout_action: Option<String>,
    pub startup_action: Option<String>,
}

impl std::fmt::Debug for TunnelOptionsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelOptionsRequest")
            .field("tunnel_inside_cidr", &self.tunnel_inside_cidr)
            .field(
                "pre_shared_key",
                &self.pre_shared_key.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VpnConnectionOptionsRequest {
    #[serde(default)]
    pub static_routes_only: bool,
    /// At most two, for tunnel 1 and tunnel 2.
    #[serde(default)]
    pub tunnel_options: Vec<TunnelOptionsRequest>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateVpnConnection {
    pub customer_gateway_id: String,
    pub vpn_gateway_id: String,
    /// `ipsec.1` (the only type).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub options: VpnConnectionOptionsRequest,
}

/// A tunnel's effective options (no pre-shared key: that is in the downloadable
/// configuration only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TunnelOptions {
    pub outside_ip_address: String,
    pub tunnel_inside_cidr: String,
    pub ike_versions: Vec<String>,
    pub phase1_encryption_algorithms: Vec<String>,
    pub phase2_encryption_algorithms: Vec<String>,
    pub phase1_integrity_algorithms: Vec<String>,
    pub phase2_integrity_algorithms: Vec<String>,
    pub phase1_dh_group_numbers: Vec<u32>,
    pub phase2_dh_group_numbers: Vec<u32>,
    pub phase1_lifetime_seconds: u32,
    pub phase2_lifetime_seconds: u32,
    pub dpd_timeout_seconds: u32,
    pub dpd_timeout_action: String,
    pub startup_action: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpnConnectionOptions {
    pub static_routes_only: bool,
    pub tunnel_options: Vec<TunnelOptions>,
}

/// A tunnel's telemetry, as EC2's `VgwTelemetry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VgwTelemetry {
    pub outside_ip_address: String,
    /// `UP` or `DOWN`.
    pub status: String,
    pub status_message: String,
    pub accepted_route_count: u32,
    pub last_status_change: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpnStaticRoute {
    pub destination_cidr_block: String,
    pub source: String,
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpnConnection {
    pub vpn_connection_id: String,
    pub owner_id: String,
    pub customer_gateway_id: String,
    pub vpn_gateway_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `available`, `deleting`, `deleted`.
    pub state: String,
    pub options: VpnConnectionOptions,
    pub routes: Vec<VpnStaticRoute>,
    pub vgw_telemetry: Vec<VgwTelemetry>,
    /// Each tunnel's namespace (where its charon runs).
    pub tunnel_namespaces: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateVpnConnectionRoute {
    pub destination_cidr_block: String,
}

/// The customer gateway configuration to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigFormat {
    /// strongSwan's `swanctl.conf` (and a `strongswan.conf` note) for the customer side.
    Strongswan,
    /// Every parameter as text, for any device.
    Generic,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOnpremSite {
    pub name: Option<String>,
    /// The LAN behind the site's gateway (a private /16–/28); 172.16.0.0/24 when omitted.
    pub lan_cidr: Option<String>,
}

/// A customer's on-premises network: a gateway namespace on the internet at `publicIp`
/// with a LAN behind it and one host on the LAN.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnpremSite {
    pub site_id: String,
    pub owner_id: String,
    pub name: Option<String>,
    pub public_ip: String,
    pub lan_cidr: String,
    pub gateway_lan_ip: String,
    pub host_ip: String,
    pub gateway_namespace: String,
    pub host_namespace: String,
    /// Whether a VPN configuration has been applied on the gateway.
    pub vpn_configured: bool,
    pub created_at: String,
}

/// A strongSwan configuration to apply on a site's gateway, as downloaded.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplyVpnConfig {
    pub swanctl_conf: String,
}

impl std::fmt::Debug for ApplyVpnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApplyVpnConfig { swanctl_conf: <redacted> }")
    }
}
