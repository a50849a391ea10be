//! Cluster networks: the VPC (or VNet) a cluster runs in, its subnets, its external IPs and
//! the routes in its route tables.

use std::net::Ipv4Addr;

use linkplane_model::{
    Cidr, CloudProvider, PeeringConnectionId, Region, ResourceId, SubnetId, TransitGatewayId,
    VpcId, VpnConnectionId,
};

use crate::{Provider, ProviderError};

/// What a cluster's network is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRequest {
    pub cluster_id: ResourceId,
    /// The cluster's cloud as the customer chose it (a provider may emulate it).
    pub cloud: CloudProvider,
    pub region: Region,
    pub cidr: Cidr,
}

/// One subnet of a cluster's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSubnet {
    pub id: SubnetId,
    pub cidr: Cidr,
    pub availability_zone: String,
    pub public: bool,
}

/// A cluster's network as the provider built it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNetwork {
    pub vpc_id: VpcId,
    pub cidr: Cidr,
    pub subnets: Vec<ClusterSubnet>,
    /// The NAT gateways' elastic IPs: the cluster's external IPs.
    pub external_ips: Vec<Ipv4Addr>,
}

/// What a route in the cluster's route tables goes through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RouteTarget {
    Peering(PeeringConnectionId),
    TransitGateway(TransitGatewayId),
    Vpn(VpnConnectionId),
}

impl RouteTarget {
    /// The cloud id, as it stands in a route table.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Peering(p) => p.as_str(),
            Self::TransitGateway(t) => t.as_str(),
            Self::Vpn(v) => v.as_str(),
        }
    }
}

impl std::fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Clusters' networks and their route tables.
#[async_trait::async_trait]
pub trait ClusterNetworks: Provider {
    /// Build (or adopt) the cluster's network and return it.
    async fn ensure_cluster(&self, req: &ClusterRequest) -> Result<ClusterNetwork, ProviderError>;

    /// The cluster's network if it exists.
    async fn find_cluster(
        &self,
        cluster_id: &ResourceId,
    ) -> Result<Option<ClusterNetwork>, ProviderError>;

    /// Tear down everything the cluster's network holds. Idempotent.
    async fn delete_cluster(&self, cluster_id: &ResourceId) -> Result<(), ProviderError>;

    /// Make `destination` go through `target` in every route table of the cluster's network
    /// (replacing a route to the same destination through another target).
    async fn ensure_route(
        &self,
        net: &ClusterNetwork,
        destination: &Cidr,
        target: &RouteTarget,
    ) -> Result<(), ProviderError>;

    /// Remove the route to `destination` (only if it goes through `target`, when given).
    async fn remove_route(
        &self,
        net: &ClusterNetwork,
        destination: &Cidr,
        target: Option<&RouteTarget>,
    ) -> Result<(), ProviderError>;
}
