//! Site-to-site VPN connections from a cluster's network to a customer's gateways
//! (document 002: IKE, BGP or static routing, two tunnels).

use std::net::Ipv4Addr;

use linkplane_model::{
    Asn, Cidr, GatewayIp, InsideCidr, PreSharedKey, ResourceId, VpnConnectionId,
};

use crate::{ClusterNetwork, Provider, ProviderError};

/// How the customer's networks are learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VpnRouting {
    Bgp { customer_asn: Asn },
    Static { prefixes: Vec<Cidr> },
}

/// A VPN connection as the customer asked for it. The pre-shared key is a secret: it never
/// goes into a log, an error or a status.
#[derive(Clone, PartialEq, Eq)]
pub struct VpnRequest {
    pub connection_id: ResourceId,
    pub gateway_ips: Vec<GatewayIp>,
    pub routing: VpnRouting,
    pub inside_cidr: Option<InsideCidr>,
    pub pre_shared_key: PreSharedKey,
}

impl std::fmt::Debug for VpnRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VpnRequest")
            .field("connection_id", &self.connection_id)
            .field("gateway_ips", &self.gateway_ips)
            .field("routing", &self.routing)
            .field("inside_cidr", &self.inside_cidr)
            .field("pre_shared_key", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelState {
    Up,
    Down(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelObservation {
    /// The platform side's outside address of the tunnel.
    pub outside_ip: Ipv4Addr,
    pub state: TunnelState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VpnState {
    Pending,
    /// At least one tunnel is up.
    Available,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpnObservation {
    pub id: VpnConnectionId,
    pub state: VpnState,
    pub tunnels: Vec<TunnelObservation>,
}

/// VPN connections of clusters' networks.
#[async_trait::async_trait]
pub trait VpnConnections: Provider {
    async fn ensure_vpn(
        &self,
        net: &ClusterNetwork,
        req: &VpnRequest,
    ) -> Result<VpnObservation, ProviderError>;

    /// Tear the tunnels down and delete what the platform created. Idempotent.
    async fn delete_vpn(
        &self,
        net: &ClusterNetwork,
        connection_id: &ResourceId,
    ) -> Result<(), ProviderError>;
}
