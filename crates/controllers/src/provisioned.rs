//! The controllers of transit gateway attachments, VPN connections and outbound endpoints:
//! one shape, three concerns. Each resource is provisioned through its capability of the
//! cluster's provider ([`TransitGateways`], [`VpnConnections`], [`OutboundEndpoints`]); a
//! provider that does not implement it makes the resource `FAILED` with the reason in words
//! ("the local provider does not implement VPN connections yet") instead of a silent
//! `PENDING`. While the cluster has no network, `PENDING` says what it waits for.
//!
//! Each concern records its own [`Observed`] status: a [`ProvisionedObserved`] (`status`,
//! `statusReason`, the provider's `cloudResourceId`, the customer's `instructions`) for VPN
//! connections and outbound endpoints; transit gateway attachments add their own states
//! (`PENDING_SHARE`, `PENDING_ACCEPTANCE`, `ACTIVE`), the cluster's account and CIDRs.

use std::future::Future;
use std::marker::PhantomData;

use linkplane_model::{
    OutboundEndpointSpec, PreSharedKey, ProvisionedObserved, ProvisioningStatus, ResourceId,
    ResourceKind, TransitGatewayAttachmentObserved, TransitGatewayAttachmentSpec,
    TransitGatewayAttachmentStatus, VpnConnectionSpec,
};
use linkplane_provider::{
    Capability, ClusterNetwork, ClusterNetworks, OutboundEndpointRequest, OutboundEndpointState,
    Provider, ProviderError, TransitGatewayAttachmentRequest, TransitGatewayAttachmentState,
    VpnRequest, VpnRouting, VpnState, capability,
};
use linkplane_reconciler::{Action, Reconcile};
use linkplane_store::Document;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::{ChildPass, Context, ControllerError, Result};
use crate::finalizer::{Event, finalizer, release};

/// A concern's recorded status: what the controller writes when the provider fails it,
/// when it waits for something outside the provider, and whether to look again.
pub trait Observed: Serialize + DeserializeOwned + Send + Sync + 'static {
    fn failed(reason: String) -> Self;
    /// Waiting for something (the cluster's network, a provider): the reason, keeping what
    /// was observed before.
    fn waiting(prev: Option<Self>, reason: String) -> Self;
    /// The provider is still on it (the controller polls again).
    fn in_progress(&self) -> bool;
}

impl Observed for ProvisionedObserved {
    fn failed(reason: String) -> Self {
        Self {
            status: ProvisioningStatus::Failed,
            status_reason: Some(reason),
            ..Self::default()
        }
    }
    fn waiting(prev: Option<Self>, reason: String) -> Self {
        Self {
            status: ProvisioningStatus::Pending,
            status_reason: Some(reason),
            ..prev.unwrap_or_default()
        }
    }
    fn in_progress(&self) -> bool {
        self.status == ProvisioningStatus::Pending
    }
}

impl Observed for TransitGatewayAttachmentObserved {
    fn failed(reason: String) -> Self {
        Self {
            status: TransitGatewayAttachmentStatus::Failed,
            status_reason: Some(reason),
            ..Self::default()
        }
    }
    fn waiting(prev: Option<Self>, reason: String) -> Self {
        Self {
            status: TransitGatewayAttachmentStatus::Pending,
            status_reason: Some(reason),
            ..prev.unwrap_or_default()
        }
    }
    fn in_progress(&self) -> bool {
        use TransitGatewayAttachmentStatus as S;
        matches!(
            self.status,
            S::Pending | S::PendingShare | S::PendingAcceptance
        )
    }
}

/// One concern: its kind, its capability, and how a resource of it is applied and cleaned
/// up through the capability.
pub trait Concern: Send + Sync + 'static {
    const NAME: &'static str;
    const KIND: ResourceKind;
    const CAPABILITY: Capability;
    /// The resource part of its finalizer (`linkplane.dev/<provider>-<FINALIZER>`).
    const FINALIZER: &'static str;
    /// What its status records.
    type Observed: Observed;

    fn implemented(provider: &dyn Provider) -> bool {
        linkplane_provider::implements(provider, Self::CAPABILITY)
    }

    fn apply(
        ctx: &Context,
        provider: &dyn Provider,
        net: &ClusterNetwork,
        doc: &Document,
    ) -> impl Future<Output = Result<std::result::Result<Self::Observed, ProviderError>>> + Send;

    fn cleanup(
        ctx: &Context,
        provider: &dyn Provider,
        net: &ClusterNetwork,
        doc: &Document,
    ) -> impl Future<Output = Result<std::result::Result<(), ProviderError>>> + Send;
}

/// The controller of one [`Concern`].
pub struct ProvisionedController<C> {
    pub ctx: Context,
    concern: PhantomData<C>,
}

impl<C: Concern> ProvisionedController<C> {
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx,
            concern: PhantomData,
        }
    }

    async fn record(&self, doc: &Document, obs: C::Observed) -> Result<()> {
        self.ctx
            .write_status(doc, &serde_json::to_value(&obs)?)
            .await
    }

    async fn failed(&self, doc: &Document, reason: String) -> Result<Action> {
        tracing::info!(kind = C::NAME, id = %doc.id, %reason, "FAILED");
        self.record(doc, C::Observed::failed(reason)).await?;
        Ok(Action::Done)
    }

    async fn pending(&self, doc: &Document, reason: String) -> Result<Action> {
        let obs = C::Observed::waiting(doc.status_as().ok(), reason);
        self.record(doc, obs).await?;
        Ok(Action::RequeueAfter(self.ctx.config.poll_interval))
    }

    async fn apply(
        &self,
        doc: &Document,
        cluster: &Document,
        provider: &dyn Provider,
        networks: &dyn ClusterNetworks,
    ) -> Result<Action> {
        let net = match self.ctx.cluster_network(networks, cluster).await? {
            Ok(n) => n,
            Err(reason) => return self.pending(doc, reason).await,
        };
        match C::apply(&self.ctx, provider, &net, doc).await? {
            Ok(obs) => {
                let again = obs.in_progress();
                self.record(doc, obs).await?;
                Ok(if again {
                    Action::RequeueAfter(self.ctx.config.poll_interval)
                } else {
                    Action::Done
                })
            }
            Err(e) if !e.is_transient() => self.failed(doc, e.to_string()).await,
            Err(e) => Err(e.into()),
        }
    }

    async fn cleanup(
        &self,
        doc: &Document,
        cluster: Option<&Document>,
        provider: &dyn Provider,
        networks: &dyn ClusterNetworks,
    ) -> Result<()> {
        let Some(cluster) = cluster else {
            return Ok(());
        };
        if let Some(net) = networks.find_cluster(&cluster.id).await? {
            match C::cleanup(&self.ctx, provider, &net, doc).await? {
                Ok(()) | Err(ProviderError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

impl<C: Concern> Reconcile for ProvisionedController<C> {
    type Key = ResourceId;
    type Error = ControllerError;

    async fn list(&self) -> Result<Vec<ResourceId>> {
        self.ctx.child_ids(C::KIND).await
    }

    async fn reconcile(&self, id: ResourceId) -> Result<Action> {
        let (doc, cluster, provider) = match self.ctx.child_pass(&id).await? {
            ChildPass::Gone => return Ok(Action::Done),
            // Nothing changes for it until a start with the provider (or a client's write,
            // which the change feed brings): no requeue.
            ChildPass::NoProvider { doc, reason } => {
                self.pending(&doc, reason.to_string()).await?;
                return Ok(Action::Done);
            }
            ChildPass::Deleting {
                doc,
                cluster,
                provider: Ok(provider),
            } => (doc, cluster, provider),
            ChildPass::Deleting { doc, .. } => {
                return release(&self.ctx, &doc, C::FINALIZER).await;
            }
            ChildPass::Ready {
                doc,
                cluster,
                provider,
            } => (doc, Some(cluster), provider),
        };
        let deleting = doc.deletion_requested_at.is_some();
        let networks = capability(
            provider.as_ref(),
            Capability::ClusterNetwork,
            provider.cluster_networks(),
        );
        let networks = match networks {
            Ok(n) if C::implemented(provider.as_ref()) => n,
            Ok(_) | Err(_) if deleting => return release(&self.ctx, &doc, C::FINALIZER).await,
            Ok(_) => {
                let e = ProviderError::Unsupported {
                    provider: provider.kind(),
                    capability: C::CAPABILITY,
                };
                return self.failed(&doc, e.to_string()).await;
            }
            Err(e) => return self.failed(&doc, e.to_string()).await,
        };
        let provider = provider.as_ref();
        let (doc, cluster) = (&doc, cluster.as_ref());
        finalizer(
            &self.ctx,
            doc,
            &provider.finalizer(C::FINALIZER),
            |event| async move {
                match (event, cluster) {
                    (Event::Cleanup, cluster) => {
                        self.cleanup(doc, cluster, provider, networks).await?;
                        Ok(Action::Done)
                    }
                    (Event::Apply, Some(cluster)) => {
                        self.apply(doc, cluster, provider, networks).await
                    }
                    (Event::Apply, None) => Ok(Action::Done),
                }
            },
        )
        .await
    }
}

// ---------------------------------------------------------------- transit gateways

/// Transit gateway attachments (documents 002 and 003).
pub struct TransitGatewayAttachments;

fn attachment_request(doc: &Document) -> Result<TransitGatewayAttachmentRequest> {
    let spec: TransitGatewayAttachmentSpec = doc.spec_as()?;
    Ok(TransitGatewayAttachmentRequest {
        attachment_id: doc.id.clone(),
        transit_gateway_id: spec.transit_gateway_id,
        owner_account_id: spec.peer_account_id,
        cidrs: spec.cidrs,
    })
}

impl Concern for TransitGatewayAttachments {
    const NAME: &'static str = "transit-gateway-attachment";
    const KIND: ResourceKind = ResourceKind::TransitGatewayAttachment;
    const CAPABILITY: Capability = Capability::TransitGateway;
    const FINALIZER: &'static str = "transit-gateway-attachment";
    type Observed = TransitGatewayAttachmentObserved;

    async fn apply(
        _ctx: &Context,
        provider: &dyn Provider,
        net: &ClusterNetwork,
        doc: &Document,
    ) -> Result<std::result::Result<TransitGatewayAttachmentObserved, ProviderError>> {
        let req = attachment_request(doc)?;
        let tgw = match capability(provider, Self::CAPABILITY, provider.transit_gateways()) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        Ok(tgw.ensure_attachment(net, &req).await.map(|o| {
            use TransitGatewayAttachmentState as S;
            use TransitGatewayAttachmentStatus as T;
            let (status, reason, steps) = match o.state {
                S::WaitingForShare { reason, steps } => (T::PendingShare, Some(reason), steps),
                S::PendingAcceptance { steps } => (
                    T::PendingAcceptance,
                    Some("waiting for the transit gateway's owner to accept the attachment".into()),
                    steps,
                ),
                S::Pending => (T::Pending, None, Vec::new()),
                S::Available { back_routes } => (T::Active, None, back_routes),
                S::Rejected(r) | S::Failed(r) | S::Deleted(r) => (T::Failed, Some(r), Vec::new()),
            };
            TransitGatewayAttachmentObserved {
                status,
                status_reason: reason,
                cloud_resource_id: o.id.map(|i| i.to_string()),
                instructions: steps,
                cluster_account_id: Some(provider.account_id()),
                cluster_cidrs: vec![net.cidr],
            }
        }))
    }

    async fn cleanup(
        _ctx: &Context,
        provider: &dyn Provider,
        net: &ClusterNetwork,
        doc: &Document,
    ) -> Result<std::result::Result<(), ProviderError>> {
        let req = attachment_request(doc)?;
        Ok(
            match capability(provider, Self::CAPABILITY, provider.transit_gateways()) {
                Ok(t) => t.delete_attachment(net, &req).await,
                Err(e) => Err(e),
            },
        )
    }
}

// --------------------------------------------------------------------------- VPN

/// Site-to-site VPN connections (document 002).
pub struct Vpns;

impl Concern for Vpns {
    const NAME: &'static str = "vpn-connection";
    const KIND: ResourceKind = ResourceKind::VpnConnection;
    const CAPABILITY: Capability = Capability::Vpn;
    const FINALIZER: &'static str = "vpn";
    type Observed = ProvisionedObserved;

    async fn apply(
        ctx: &Context,
        provider: &dyn Provider,
        net: &ClusterNetwork,
        doc: &Document,
    ) -> Result<std::result::Result<ProvisionedObserved, ProviderError>> {
        let vpn = match capability(provider, Self::CAPABILITY, provider.vpn()) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let spec: VpnConnectionSpec = doc.spec_as()?;
        let Some(psk) = ctx.store.get_secret(&doc.org_id, &doc.id).await? else {
            return Ok(Err(ProviderError::Refused(
                "the connection has no pre-shared key; create it again with preSharedKey".into(),
            )));
        };
        let psk = match PreSharedKey::parse(linkplane_store::ExposeSecret::expose_secret(&psk)) {
            Ok(p) => p,
            // Never echo the secret, even when it is malformed.
            Err(_) => {
                return Ok(Err(ProviderError::Refused(
                    "the stored pre-shared key is not valid; create the connection again".into(),
                )));
            }
        };
        let routing = match spec.bgp_asn {
            Some(asn) => VpnRouting::Bgp { customer_asn: asn },
            None => VpnRouting::Static {
                prefixes: spec.static_prefixes.clone(),
            },
        };
        let req = VpnRequest {
            connection_id: doc.id.clone(),
            gateway_ips: spec.gateway_ips.clone(),
            routing,
            inside_cidr: spec.inside_cidr,
            pre_shared_key: psk,
        };
        Ok(vpn.ensure_vpn(net, &req).await.map(|o| {
            let up = o
                .tunnels
                .iter()
                .filter(|t| t.state == linkplane_provider::TunnelState::Up)
                .count();
            let (status, reason) = match o.state {
                VpnState::Pending => (
                    ProvisioningStatus::Pending,
                    Some(format!("{up} of {} tunnels up", o.tunnels.len())),
                ),
                VpnState::Available => (ProvisioningStatus::Available, None),
                VpnState::Failed(r) => (ProvisioningStatus::Failed, Some(r)),
            };
            ProvisionedObserved {
                status,
                status_reason: reason,
                cloud_resource_id: Some(o.id.to_string()),
                instructions: Vec::new(),
            }
        }))
    }

    async fn cleanup(
        _ctx: &Context,
        provider: &dyn Provider,
        net: &ClusterNetwork,
        doc: &Document,
    ) -> Result<std::result::Result<(), ProviderError>> {
        Ok(
            match capability(provider, Self::CAPABILITY, provider.vpn()) {
                Ok(v) => v.delete_vpn(net, &doc.id).await,
                Err(e) => Err(e),
            },
        )
    }
}

// ------------------------------------------------------------- outbound endpoints

/// Outbound endpoints: the preconfigured AWS services and custom ones (documents 002, 003).
pub struct Outbound;

impl Concern for Outbound {
    const NAME: &'static str = "outbound-endpoint";
    const KIND: ResourceKind = ResourceKind::OutboundEndpoint;
    const CAPABILITY: Capability = Capability::OutboundEndpoints;
    const FINALIZER: &'static str = "outbound-endpoint";
    type Observed = ProvisionedObserved;

    async fn apply(
        _ctx: &Context,
        provider: &dyn Provider,
        net: &ClusterNetwork,
        doc: &Document,
    ) -> Result<std::result::Result<ProvisionedObserved, ProviderError>> {
        let out = match capability(provider, Self::CAPABILITY, provider.outbound_endpoints()) {
            Ok(o) => o,
            Err(e) => return Ok(Err(e)),
        };
        let spec: OutboundEndpointSpec = doc.spec_as()?;
        let req = OutboundEndpointRequest {
            endpoint_id: doc.id.clone(),
            service_name: spec.service_name,
            endpoint_type: spec.endpoint_type,
            private_dns_enabled: spec.private_dns_enabled,
            dns_name: spec.dns_name,
        };
        Ok(out.ensure_outbound_endpoint(net, &req).await.map(|o| {
            use OutboundEndpointState as S;
            let (status, reason) = match o.state {
                S::Pending => (ProvisioningStatus::Pending, None),
                S::PendingAcceptance => (
                    ProvisioningStatus::Pending,
                    Some("waiting for the endpoint service's owner to accept the endpoint".into()),
                ),
                S::Available => (ProvisioningStatus::Available, None),
                S::Rejected(r) | S::Failed(r) => (ProvisioningStatus::Failed, Some(r)),
            };
            ProvisionedObserved {
                status,
                status_reason: reason,
                cloud_resource_id: Some(o.id.to_string()),
                instructions: Vec::new(),
            }
        }))
    }

    async fn cleanup(
        _ctx: &Context,
        provider: &dyn Provider,
        net: &ClusterNetwork,
        doc: &Document,
    ) -> Result<std::result::Result<(), ProviderError>> {
        Ok(
            match capability(provider, Self::CAPABILITY, provider.outbound_endpoints()) {
                Ok(o) => o.delete_outbound_endpoint(net, &doc.id).await,
                Err(e) => Err(e),
            },
        )
    }
}
