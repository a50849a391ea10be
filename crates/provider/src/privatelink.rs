//! A cluster's PrivateLink endpoint service and the customers' endpoints to it (documents
//! 000 and 001).

use linkplane_model::{
    AccountId, AllowedPrincipal, EndpointConnectionStatus, Region, ResourceId, VpcEndpointId,
};

use crate::{Provider, ProviderError};

/// A cluster's endpoint service, as the customer asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointServiceRequest {
    pub cluster_id: ResourceId,
    /// Who may create endpoints (`*` or principals).
    pub allowed_principals: Vec<AllowedPrincipal>,
    /// Extra consumer regions.
    pub regions: Vec<Region>,
    pub auto_accept: bool,
}

/// The endpoint service as the provider runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointServiceInfo {
    /// What customers give when they create their endpoint (the provider's own form, e.g.
    /// `com.amazonaws.vpce.<region>.vpce-svc-…`).
    pub service_name: String,
    pub availability_zones: Vec<String>,
}

/// One consumer endpoint of a cluster's service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConnectionInfo {
    pub endpoint_id: VpcEndpointId,
    /// The consumer's account.
    pub owner: AccountId,
    pub state: EndpointConnectionStatus,
}

/// Endpoint services in front of clusters' ingress.
#[async_trait::async_trait]
pub trait PrivateLinkServices: Provider {
    /// Put (or update) the cluster's endpoint service in front of its ingress load balancer.
    async fn ensure_endpoint_service(
        &self,
        req: &EndpointServiceRequest,
    ) -> Result<EndpointServiceInfo, ProviderError>;

    /// The consumer endpoints of the cluster's service (empty without a service). Called
    /// from a reconcile, a provider may also watch them and wake that reconcile on a change
    /// (`linkplane_reconciler::Waker`).
    async fn endpoint_connections(
        &self,
        cluster_id: &ResourceId,
    ) -> Result<Vec<EndpointConnectionInfo>, ProviderError>;

    /// Accept or reject pending endpoints of the cluster's service.
    async fn decide_endpoints(
        &self,
        cluster_id: &ResourceId,
        endpoint_ids: &[VpcEndpointId],
        accept: bool,
    ) -> Result<(), ProviderError>;

    /// Remove the cluster's endpoint service (its endpoints are rejected). Idempotent.
    async fn delete_endpoint_service(&self, cluster_id: &ResourceId) -> Result<(), ProviderError>;
}
