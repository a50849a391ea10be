//! The route controller (issue 7 item 2): a `Route` to a customer CIDR (the connection's
//! primary CIDR, a secondary CIDR or a subnet) through a VPC peering connection goes into
//! every route table of the cluster's VPC once the connection is ACTIVE, and leaves them when
//! the route (or its connection) is deleted. A route through a transit gateway attachment
//! goes through the attachment's transit gateway once the attachment is AVAILABLE. A route
//! through a transit gateway attachment or a VPN connection is `FAILED` with the reason
//! while the cluster's provider does not implement those.

use linkplane_model::{
    PeeringConnectionId, PeeringStatus, Provisioning, ProvisioningStatus, ResourceId, ResourceKind,
    RouteSpec, TransitGatewayAttachmentSpec, VpcPeeringObserved,
};
use linkplane_provider::{
    Capability, ClusterNetwork, ClusterNetworks, Provider, ProviderError, RouteTarget, capability,
};
use linkplane_reconciler::{Action, Reconcile};
use linkplane_store::Document;

use crate::context::{ChildPass, Context, ControllerError, Result};
use crate::finalizer::{Event, finalizer, release};
use linkplane_model::{TransitGatewayAttachmentObserved, TransitGatewayAttachmentStatus};

/// The resource part of the finalizer a route holds while it may be in the cluster's route
/// tables (`linkplane.dev/<provider>-route`).
pub const FINALIZER: &str = "route";

pub struct RouteController {
    pub ctx: Context,
}

/// Where a route points, as far as the cluster's provider can carry it.
enum Target {
    Ready(RouteTarget),
    /// Not (yet) usable, and why.
    Waiting(String),
    /// Never usable by this provider, and why.
    Unsupported(String),
}

impl RouteController {
    async fn target(&self, provider: &dyn Provider, spec: &RouteSpec) -> Result<Target> {
        let Some(t) = self.ctx.store.get_document_by_id(&spec.target_id).await? else {
            return Ok(Target::Waiting(format!(
                "target {} does not exist",
                spec.target_id
            )));
        };
        let needs = match t.kind {
            ResourceKind::VpcPeeringConnection => Capability::Peering,
            ResourceKind::TransitGatewayAttachment => Capability::TransitGateway,
            ResourceKind::VpnConnection => Capability::Vpn,
            other => {
                return Ok(Target::Unsupported(format!(
                    "a route cannot go through a {}",
                    other.title()
                )));
            }
        };
        if !linkplane_provider::implements(provider, needs) {
            return Ok(Target::Unsupported(format!(
                "routes through a {} are not provisioned by the {} provider yet: {}",
                t.kind.title(),
                provider.kind(),
                ProviderError::Unsupported {
                    provider: provider.kind(),
                    capability: needs,
                }
            )));
        }
        if t.kind == ResourceKind::TransitGatewayAttachment {
            // Through the attachment's transit gateway once its controller records the
            // attachment ACTIVE.
            let spec: TransitGatewayAttachmentSpec = t.spec_as()?;
            let obs: Option<TransitGatewayAttachmentObserved> = t.status_as().ok();
            return Ok(match obs.map(|o| o.status) {
                Some(TransitGatewayAttachmentStatus::Active)
                    if t.deletion_requested_at.is_none() =>
                {
                    Target::Ready(RouteTarget::TransitGateway(spec.transit_gateway_id))
                }
                _ => Target::Waiting(format!(
                    "waiting for {} {} to be ACTIVE",
                    t.kind.title(),
                    t.id
                )),
            });
        }
        if t.kind != ResourceKind::VpcPeeringConnection {
            // A provider that implements VPN routes through it once its controller records
            // the connection AVAILABLE.
            return Ok(Target::Waiting(format!(
                "waiting for {} {} to be AVAILABLE",
                t.kind.title(),
                t.id
            )));
        }
        let obs: VpcPeeringObserved = t.status_as()?;
        let pcx = obs
            .cloud_peering_id
            .as_deref()
            .and_then(|p| PeeringConnectionId::parse(p).ok());
        Ok(match (obs.status, pcx) {
            (PeeringStatus::Active, Some(pcx)) if t.deletion_requested_at.is_none() => {
                Target::Ready(RouteTarget::Peering(pcx))
            }
            (s, _) => Target::Waiting(format!(
                "waiting for VPC peering connection {} to be ACTIVE (it is {})",
                t.id,
                serde_json::to_value(s)?.as_str().unwrap_or("?")
            )),
        })
    }

    async fn record(
        &self,
        doc: &Document,
        status: ProvisioningStatus,
        reason: Option<String>,
    ) -> Result<()> {
        let p = Provisioning {
            status,
            status_reason: reason,
        };
        self.ctx.write_status(doc, &serde_json::to_value(&p)?).await
    }

    async fn cleanup(
        &self,
        provider: &dyn Provider,
        networks: &dyn ClusterNetworks,
        cluster: Option<&Document>,
        spec: &RouteSpec,
    ) -> Result<()> {
        let Some(cluster) = cluster else {
            return Ok(());
        };
        if let Some(net) = networks.find_cluster(&cluster.id).await? {
            let via = match self.target(provider, spec).await? {
                Target::Ready(t) => Some(t),
                _ => None,
            };
            networks
                .remove_route(&net, &spec.destination_cidr, via.as_ref())
                .await?;
        }
        Ok(())
    }

    async fn apply(
        &self,
        doc: &Document,
        provider: &dyn Provider,
        networks: &dyn ClusterNetworks,
        cluster: &Document,
        spec: &RouteSpec,
    ) -> Result<Action> {
        let target = self.target(provider, spec).await?;
        let net: Option<ClusterNetwork> = networks.find_cluster(&cluster.id).await?;
        match (target, net) {
            (Target::Ready(via), Some(net)) => {
                networks
                    .ensure_route(&net, &spec.destination_cidr, &via)
                    .await?;
                self.record(doc, ProvisioningStatus::Available, None)
                    .await?;
                Ok(Action::Done)
            }
            (Target::Unsupported(reason), _) => {
                self.record(doc, ProvisioningStatus::Failed, Some(reason))
                    .await?;
                Ok(Action::Done)
            }
            (Target::Waiting(reason), net) => {
                // A route through a connection that is not ACTIVE is not in the tables.
                if let Some(net) = &net
                    && doc.status_as::<Provisioning>()?.status == ProvisioningStatus::Available
                {
                    networks
                        .remove_route(net, &spec.destination_cidr, None)
                        .await?;
                }
                self.record(doc, ProvisioningStatus::Pending, Some(reason))
                    .await?;
                Ok(Action::RequeueAfter(self.ctx.config.poll_interval))
            }
            (Target::Ready(_), None) => {
                self.record(
                    doc,
                    ProvisioningStatus::Pending,
                    Some(format!("cluster {} has no network yet", cluster.id)),
                )
                .await?;
                Ok(Action::RequeueAfter(self.ctx.config.poll_interval))
            }
        }
    }
}

impl Reconcile for RouteController {
    type Key = ResourceId;
    type Error = ControllerError;

    async fn list(&self) -> Result<Vec<ResourceId>> {
        self.ctx.child_ids(ResourceKind::Route).await
    }

    async fn reconcile(&self, id: ResourceId) -> Result<Action> {
        let (doc, cluster, provider) = match self.ctx.child_pass(&id).await? {
            ChildPass::Gone => return Ok(Action::Done),
            ChildPass::NoProvider { doc, reason } => {
                self.record(&doc, ProvisioningStatus::Pending, Some(reason.to_string()))
                    .await?;
                return Ok(Action::Done);
            }
            ChildPass::Deleting {
                doc,
                cluster,
                provider: Ok(provider),
            } => (doc, cluster, provider),
            ChildPass::Deleting { doc, .. } => {
                return release(&self.ctx, &doc, FINALIZER).await;
            }
            ChildPass::Ready {
                doc,
                cluster,
                provider,
            } => (doc, Some(cluster), provider),
        };
        let networks = match capability(
            provider.as_ref(),
            Capability::ClusterNetwork,
            provider.cluster_networks(),
        ) {
            Ok(n) => n,
            Err(_) if doc.deletion_requested_at.is_some() => {
                return release(&self.ctx, &doc, FINALIZER).await;
            }
            Err(e) => {
                self.record(&doc, ProvisioningStatus::Failed, Some(e.to_string()))
                    .await?;
                return Ok(Action::Done);
            }
        };
        let spec: RouteSpec = doc.spec_as()?;
        let provider = provider.as_ref();
        let (doc, cluster, spec) = (&doc, cluster.as_ref(), &spec);
        finalizer(
            &self.ctx,
            doc,
            &provider.finalizer(FINALIZER),
            |event| async move {
                match (event, cluster) {
                    (Event::Cleanup, cluster) => {
                        self.cleanup(provider, networks, cluster, spec).await?;
                        Ok(Action::Done)
                    }
                    (Event::Apply, Some(cluster)) => {
                        self.apply(doc, provider, networks, cluster, spec).await
                    }
                    (Event::Apply, None) => Ok(Action::Done),
                }
            },
        )
        .await
    }
}
