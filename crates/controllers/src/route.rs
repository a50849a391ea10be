//! The route controller (issue 7 item 2): a `Route` to a customer CIDR (the connection's
//! primary CIDR, a secondary CIDR or a subnet) through a VPC peering connection goes into
//! every route table of the cluster's VPC once the connection is ACTIVE, and leaves them when
//! the route (or its connection) is deleted.

use linkplane_model::{
    PeeringStatus, Provisioning, ProvisioningStatus, ResourceId, ResourceKind, RouteSpec,
    VpcPeeringObserved,
};
use linkplane_reconciler::{Action, Reconcile};
use linkplane_store::Document;

use crate::context::{Context, ControllerError, Result};
use crate::provider::ClusterNetwork;

/// Held by a route while it may be in the cluster's route tables.
pub const FINALIZER: &str = "linkplane.dev/local-route";

pub struct RouteController {
    pub ctx: Context,
}

/// Where a route points, as far as the local provider can carry it.
enum Target {
    /// Through this provider peering (`pcx-…`).
    Peering(String),
    /// Not (yet) usable, and why.
    Waiting(String),
    /// Never usable by this provider, and why.
    Unsupported(String),
}

impl RouteController {
    async fn target(&self, spec: &RouteSpec) -> Result<Target> {
        let Some(t) = self.ctx.store.get_document_by_id(&spec.target_id).await? else {
            return Ok(Target::Waiting(format!(
                "target {} does not exist",
                spec.target_id
            )));
        };
        if t.kind != ResourceKind::VpcPeeringConnection {
            return Ok(Target::Unsupported(format!(
                "routes through a {} are not provisioned by the local provider yet",
                t.kind.title()
            )));
        }
        let obs: VpcPeeringObserved = t.status_as()?;
        Ok(match (obs.status, obs.cloud_peering_id) {
            (PeeringStatus::Active, Some(pcx)) if t.deletion_requested_at.is_none() => {
                Target::Peering(pcx)
            }
            (s, _) => Target::Waiting(format!(
                "waiting for VPC peering connection {} to be ACTIVE (it is {})",
                t.id,
                serde_json::to_value(s)?.as_str().unwrap_or("?")
            )),
        })
    }

    async fn net(&self, cluster: &Document) -> Result<Option<ClusterNetwork>> {
        match &self.ctx.provider {
            Some(p) => Ok(p.find_cluster(&cluster.id).await?),
            None => Ok(None),
        }
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
}

impl Reconcile for RouteController {
    type Key = ResourceId;
    type Error = ControllerError;

    async fn list(&self) -> Result<Vec<ResourceId>> {
        self.ctx.local_child_ids(ResourceKind::Route).await
    }

    async fn reconcile(&self, id: ResourceId) -> Result<Action> {
        let Some(doc) = self.ctx.store.get_document_by_id(&id).await? else {
            return Ok(Action::Done);
        };
        let Some((cluster, _)) = self.ctx.local_cluster_of(&doc).await? else {
            return Ok(Action::Done);
        };
        let spec: RouteSpec = doc.spec_as()?;
        let Some(provider) = self.ctx.provider.clone() else {
            if doc.deletion_requested_at.is_some() {
                self.ctx.drop_finalizer(&doc, FINALIZER).await?;
            } else {
                self.record(&doc, ProvisioningStatus::Pending, Some(self.ctx.disabled()))
                    .await?;
            }
            return Ok(Action::Done);
        };
        let target = self.target(&spec).await?;
        let net = self.net(&cluster).await?;
        if doc.deletion_requested_at.is_some() {
            if let Some(net) = &net {
                let via = match &target {
                    Target::Peering(pcx) => Some(pcx.as_str()),
                    _ => None,
                };
                provider
                    .remove_route(net, &spec.destination_cidr, via)
                    .await?;
            }
            self.ctx.drop_finalizer(&doc, FINALIZER).await?;
            return Ok(Action::Done);
        }
        self.ctx.ensure_finalizer(&doc, FINALIZER).await?;
        match (target, net) {
            (Target::Peering(pcx), Some(net)) => {
                provider
                    .ensure_route(&net, &spec.destination_cidr, &pcx)
                    .await?;
                self.record(&doc, ProvisioningStatus::Available, None)
                    .await?;
                Ok(Action::Done)
            }
            (Target::Unsupported(reason), _) => {
                self.record(&doc, ProvisioningStatus::Failed, Some(reason))
                    .await?;
                Ok(Action::Done)
            }
            (Target::Waiting(reason), net) => {
                // A route through a connection that is not ACTIVE is not in the tables.
                if let Some(net) = &net
                    && doc.status_as::<Provisioning>()?.status == ProvisioningStatus::Available
                {
                    provider
                        .remove_route(net, &spec.destination_cidr, None)
                        .await?;
                }
                self.record(&doc, ProvisioningStatus::Pending, Some(reason))
                    .await?;
                Ok(Action::RequeueAfter(self.ctx.config.poll_interval))
            }
            (Target::Peering(_), None) => {
                self.record(
                    &doc,
                    ProvisioningStatus::Pending,
                    Some(format!("cluster {} has no network yet", cluster.id)),
                )
                .await?;
                Ok(Action::RequeueAfter(self.ctx.config.poll_interval))
            }
        }
    }
}
