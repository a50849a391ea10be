//! Provider call latency: [`Metered`] wraps a provider and times every call of every
//! capability it has (`linkplane_provider_call_duration_seconds{provider, operation,
//! outcome}`), forwarding each unchanged. The composition root registers providers
//! wrapped, so every caller (controllers, the front door) is measured.
//!
//! A capability trait that gains a method needs its forwarding line here (the compiler
//! says so).

use std::future::Future;
use std::sync::Arc;

use linkplane_model::{AccountId, Cidr, PeeringConnectionId, ResourceId, VpcEndpointId, VpcId};
use linkplane_provider::{
    Capability, ClusterNetwork, ClusterNetworks, ClusterRequest, DnsOutcome, DnsPlan,
    DnsResolutions, EndpointConnectionInfo, EndpointServiceInfo, EndpointServiceRequest,
    EnvironmentObservation, EnvironmentRequest, Environments, OutboundEndpointObservation,
    OutboundEndpointRequest, OutboundEndpoints, PeeringObservation, PeeringRequest, Peerings,
    PrivateLinkServices, Provider, ProviderError, ProviderKind, RouteTarget,
    TransitGatewayAttachmentObservation, TransitGatewayAttachmentRequest, TransitGateways,
    VpnConnections, VpnObservation, VpnRequest,
};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct CallLabels {
    provider: &'static str,
    operation: &'static str,
    outcome: &'static str,
}

pub(crate) type CallFamily = Family<CallLabels, Histogram, fn() -> Histogram>;

/// Provider calls: 0.5 ms to ~16 s.
pub(crate) fn call_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn outcome<T>(r: &Result<T, ProviderError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(ProviderError::Refused(_)) => "refused",
        Err(ProviderError::NotFound(_)) => "not_found",
        Err(ProviderError::Unavailable(_)) => "unavailable",
        Err(ProviderError::Unsupported { .. }) => "unsupported",
        Err(ProviderError::Disabled { .. }) => "disabled",
    }
}

/// A provider whose every capability call is timed.
pub struct Metered {
    inner: Arc<dyn Provider>,
    kind: &'static str,
    calls: CallFamily,
}

impl Metered {
    pub(crate) fn new(inner: Arc<dyn Provider>, calls: CallFamily) -> Self {
        let kind = inner.kind().as_str();
        Self { inner, kind, calls }
    }

    fn unsupported(&self, capability: Capability) -> ProviderError {
        ProviderError::Unsupported {
            provider: self.inner.kind(),
            capability,
        }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        let started = std::time::Instant::now();
        let r = call.await;
        self.calls
            .get_or_create(&CallLabels {
                provider: self.kind,
                operation,
                outcome: outcome(&r),
            })
            .observe(started.elapsed().as_secs_f64());
        r
    }
}

#[async_trait::async_trait]
impl Provider for Metered {
    fn kind(&self) -> ProviderKind {
        self.inner.kind()
    }
    fn account_id(&self) -> AccountId {
        self.inner.account_id()
    }
    fn finalizer(&self, resource: &str) -> String {
        self.inner.finalizer(resource)
    }
    fn cluster_networks(&self) -> Option<&dyn ClusterNetworks> {
        self.inner.cluster_networks().map(|_| self as _)
    }
    fn private_link(&self) -> Option<&dyn PrivateLinkServices> {
        self.inner.private_link().map(|_| self as _)
    }
    fn peerings(&self) -> Option<&dyn Peerings> {
        self.inner.peerings().map(|_| self as _)
    }
    fn dns(&self) -> Option<&dyn DnsResolutions> {
        self.inner.dns().map(|_| self as _)
    }
    fn transit_gateways(&self) -> Option<&dyn TransitGateways> {
        self.inner.transit_gateways().map(|_| self as _)
    }
    fn vpn(&self) -> Option<&dyn VpnConnections> {
        self.inner.vpn().map(|_| self as _)
    }
    fn outbound_endpoints(&self) -> Option<&dyn OutboundEndpoints> {
        self.inner.outbound_endpoints().map(|_| self as _)
    }
    fn environments(&self) -> Option<&dyn Environments> {
        self.inner.environments().map(|_| self as _)
    }
    async fn stop(&self) {
        self.inner.stop().await;
    }
}

/// `impl $trait for Metered`: each method times the inner provider's.
macro_rules! metered {
    ($trait:ident, $accessor:ident, $cap:ident,
     $( fn $name:ident(&self $(, $arg:ident : $ty:ty)* ) -> $ret:ty; )*) => {
        #[async_trait::async_trait]
        impl $trait for Metered {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$ret, ProviderError> {
                    let inner = self
                        .inner
                        .$accessor()
                        .ok_or_else(|| self.unsupported(Capability::$cap))?;
                    self.timed(
                        concat!(stringify!($accessor), ".", stringify!($name)),
                        inner.$name($($arg),*),
                    )
                    .await
                }
            )*
        }
    };
}

metered! {
    ClusterNetworks, cluster_networks, ClusterNetwork,
    fn ensure_cluster(&self, req: &ClusterRequest) -> ClusterNetwork;
    fn find_cluster(&self, cluster_id: &ResourceId) -> Option<ClusterNetwork>;
    fn delete_cluster(&self, cluster_id: &ResourceId) -> ();
    fn ensure_route(&self, net: &ClusterNetwork, destination: &Cidr, target: &RouteTarget) -> ();
    fn remove_route(&self, net: &ClusterNetwork, destination: &Cidr, target: Option<&RouteTarget>) -> ();
}

metered! {
    PrivateLinkServices, private_link, PrivateLink,
    fn ensure_endpoint_service(&self, req: &EndpointServiceRequest) -> EndpointServiceInfo;
    fn endpoint_connections(&self, cluster_id: &ResourceId) -> Vec<EndpointConnectionInfo>;
    fn decide_endpoints(&self, cluster_id: &ResourceId, endpoint_ids: &[VpcEndpointId], accept: bool) -> ();
    fn delete_endpoint_service(&self, cluster_id: &ResourceId) -> ();
}

metered! {
    DnsResolutions, dns, Dns,
    fn ensure_dns(&self, net: &ClusterNetwork, resolution_id: &ResourceId, plan: &DnsPlan) -> DnsOutcome;
    fn remove_dns(&self, net: &ClusterNetwork, resolution_id: &ResourceId, plan: &DnsPlan) -> ();
}

metered! {
    TransitGateways, transit_gateways, TransitGateway,
    fn ensure_attachment(&self, net: &ClusterNetwork, req: &TransitGatewayAttachmentRequest) -> TransitGatewayAttachmentObservation;
    fn delete_attachment(&self, net: &ClusterNetwork, req: &TransitGatewayAttachmentRequest) -> ();
}

metered! {
    VpnConnections, vpn, Vpn,
    fn ensure_vpn(&self, net: &ClusterNetwork, req: &VpnRequest) -> VpnObservation;
    fn delete_vpn(&self, net: &ClusterNetwork, connection_id: &ResourceId) -> ();
}

metered! {
    OutboundEndpoints, outbound_endpoints, OutboundEndpoints,
    fn ensure_outbound_endpoint(&self, net: &ClusterNetwork, req: &OutboundEndpointRequest) -> OutboundEndpointObservation;
    fn delete_outbound_endpoint(&self, net: &ClusterNetwork, endpoint_id: &ResourceId) -> ();
}

metered! {
    Environments, environments, Environments,
    fn ensure_environment(&self, req: &EnvironmentRequest) -> EnvironmentObservation;
    fn delete_environment(&self, environment_id: &ResourceId) -> ();
}

#[async_trait::async_trait]
impl Peerings for Metered {
    async fn request_peering(
        &self,
        net: &ClusterNetwork,
        req: &PeeringRequest,
    ) -> Result<PeeringObservation, ProviderError> {
        let inner = self
            .inner
            .peerings()
            .ok_or_else(|| self.unsupported(Capability::Peering))?;
        self.timed("peerings.request_peering", inner.request_peering(net, req))
            .await
    }

    async fn observe_peering(
        &self,
        id: &PeeringConnectionId,
    ) -> Result<Option<PeeringObservation>, ProviderError> {
        let inner = self
            .inner
            .peerings()
            .ok_or_else(|| self.unsupported(Capability::Peering))?;
        self.timed("peerings.observe_peering", inner.observe_peering(id))
            .await
    }

    async fn delete_peering(
        &self,
        net: &ClusterNetwork,
        id: &PeeringConnectionId,
    ) -> Result<(), ProviderError> {
        let inner = self
            .inner
            .peerings()
            .ok_or_else(|| self.unsupported(Capability::Peering))?;
        self.timed("peerings.delete_peering", inner.delete_peering(net, id))
            .await
    }

    async fn accepter_dns_resolution(
        &self,
        id: &PeeringConnectionId,
    ) -> Result<Option<bool>, ProviderError> {
        let inner = self
            .inner
            .peerings()
            .ok_or_else(|| self.unsupported(Capability::Peering))?;
        self.timed(
            "peerings.accepter_dns_resolution",
            inner.accepter_dns_resolution(id),
        )
        .await
    }

    fn activation_steps(
        &self,
        net: &ClusterNetwork,
        id: &PeeringConnectionId,
        peer_account_id: &AccountId,
        peer_vpc_id: &VpcId,
    ) -> Vec<String> {
        self.inner
            .peerings()
            .map(|p| p.activation_steps(net, id, peer_account_id, peer_vpc_id))
            .unwrap_or_default()
    }
}
