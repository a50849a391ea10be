//! Outbound endpoints of a cluster's network (documents 002 and 003): the preconfigured AWS
//! service endpoints and custom endpoints to a customer's endpoint service.

use std::net::Ipv4Addr;

use linkplane_model::{
    DomainName, EndpointServiceName, OutboundEndpointType, ResourceId, VpcEndpointId,
};

use crate::{ClusterNetwork, Provider, ProviderError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundEndpointRequest {
    pub endpoint_id: ResourceId,
    pub service_name: EndpointServiceName,
    pub endpoint_type: OutboundEndpointType,
    pub private_dns_enabled: bool,
    /// An alias for the endpoint in the cluster's DNS.
    pub dns_name: Option<DomainName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundEndpointState {
    Pending,
    /// The service's owner has to accept it.
    PendingAcceptance,
    Available,
    Rejected(String),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundEndpointObservation {
    pub id: VpcEndpointId,
    pub state: OutboundEndpointState,
    /// Interface endpoints: one address per subnet.
    pub private_ips: Vec<Ipv4Addr>,
    pub dns_names: Vec<String>,
}

/// Outbound endpoints of clusters' networks.
#[async_trait::async_trait]
pub trait OutboundEndpoints: Provider {
    async fn ensure_outbound_endpoint(
        &self,
        net: &ClusterNetwork,
        req: &OutboundEndpointRequest,
    ) -> Result<OutboundEndpointObservation, ProviderError>;

    /// Idempotent.
    async fn delete_outbound_endpoint(
        &self,
        net: &ClusterNetwork,
        endpoint_id: &ResourceId,
    ) -> Result<(), ProviderError>;
}
