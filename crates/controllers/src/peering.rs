//! The VPC peering controller (issue 7 item 1), with document 002's statuses:
//!
//! - `PENDING` — "Astro is sending the peering request to the external VPC": the request is
//!   created from the cluster's VPC, as the platform's account;
//! - `PENDING_ACTIVATION` — "The peering connection request has been created and sent. Click
//!   Complete Activation to finish the setup": the status carries `activationInstructions`,
//!   the commands the customer runs to accept and to route the cluster's CIDR back;
//! - `ACTIVE` — "The peering connection was successfully created and accepted": "a new
//!   default route appears in Routes with your configured CIDR block" (a `Route` resource to
//!   `peerCidr` through this connection, which the route controller puts in the cluster's
//!   route tables);
//! - `FAILED` — "The peering connection request was rejected": kept until deleted; the API
//!   moves FAILED connections back to PENDING "whenever you create a new VPC connection";
//! - `NOT_FOUND` — "Astro failed to create the peering request" (e.g. the VPC id does not
//!   exist in that account and region): retried after [`ControllersConfig::peering_retry_after`]
//!   ("Wait 5 minutes for Astro to retry").
//!
//! Deleting the connection removes its routes from the cluster's route tables and deletes the
//! provider's peering before the resource goes.
//!
//! [`ControllersConfig::peering_retry_after`]: crate::context::ControllersConfig

use std::time::Duration;

use chrono::Utc;
use linkplane_model::{
    ActivationInstructions, Name, PeeringConnectionId, PeeringEvent, PeeringStatus, Provisioning,
    ResourceId, ResourceKind, RouteSpec, VpcPeeringObserved, VpcPeeringSpec, peering_transition,
};
use linkplane_provider::{
    Capability, ClusterNetwork, ClusterNetworks, PeeringObservation, PeeringRequest, PeeringState,
    Peerings, Provider, ProviderError, capability,
};
use linkplane_reconciler::{Action, Reconcile};
use linkplane_store::{Document, NewDocument, ParentGuard, StoreError};

use crate::context::{ChildPass, Context, ControllerError, Result};
use crate::finalizer::{delete_child, finalizer};

/// The resource part of the finalizer a peering connection holds while the provider may
/// hold its peering and routes (`linkplane.dev/<provider>-peering`).
pub const FINALIZER: &str = "peering";

/// The provider id recorded in a peering's status, typed (`None` when absent or not a
/// peering id, which no provider writes).
fn recorded_id(obs: &VpcPeeringObserved) -> Option<PeeringConnectionId> {
    obs.cloud_peering_id
        .as_deref()
        .and_then(|s| PeeringConnectionId::parse(s).ok())
}

pub struct PeeringController {
    pub ctx: Context,
}

/// The `unique_key` of the default route a connection gets when it becomes ACTIVE.
pub fn default_route_key(peering_id: &ResourceId) -> String {
    format!("{peering_id}/default")
}

/// The default route's name: `default-<connection name>` (at most 63 characters).
pub fn default_route_name(peering: &VpcPeeringSpec) -> String {
    let full = format!("default-{}", peering.name.as_str());
    let cut: String = full.chars().take(63).collect();
    cut.trim_end().to_owned()
}

/// Apply a document-002 transition; a refused one leaves the status as it is.
fn step(obs: &mut VpcPeeringObserved, event: PeeringEvent) {
    if let Ok(next) = peering_transition(obs.status, event)
        && next != obs.status
    {
        obs.status = next;
        obs.status_changed_at = Some(Utc::now());
    }
}

/// Whether a NOT_FOUND connection is due for its retry, or how long until it is.
pub fn retry_wait(obs: &VpcPeeringObserved, retry_after: Duration) -> Option<Duration> {
    let since = obs.status_changed_at?;
    let elapsed = (Utc::now() - since).to_std().unwrap_or(Duration::ZERO);
    retry_after.checked_sub(elapsed).filter(|d| !d.is_zero())
}

struct Pass<'a> {
    ctx: &'a Context,
    peerings: &'a dyn Peerings,
    doc: &'a Document,
    spec: VpcPeeringSpec,
    cluster: &'a Document,
    net: ClusterNetwork,
    obs: VpcPeeringObserved,
}

impl Pass<'_> {
    async fn save(&self) -> Result<()> {
        self.ctx
            .write_status(self.doc, &serde_json::to_value(&self.obs)?)
            .await
    }

    /// PENDING: create (or adopt) the request and record where it went.
    async fn send(&mut self) -> Result<Action> {
        let req = PeeringRequest {
            peering_id: self.doc.id.clone(),
            peer_account_id: self.spec.peer_account_id.clone(),
            peer_vpc_id: self.spec.peer_vpc_id.clone(),
            peer_region: self.spec.peer_region.clone(),
            previous: recorded_id(&self.obs),
        };
        match self.peerings.request_peering(&self.net, &req).await {
            Ok(o) => self.observed(o).await,
            Err(ProviderError::NotFound(reason) | ProviderError::Refused(reason)) => {
                self.not_found(reason).await
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn not_found(&mut self, reason: String) -> Result<Action> {
        tracing::info!(peering = %self.doc.id, %reason, "peering request could not be created: NOT_FOUND");
        step(&mut self.obs, PeeringEvent::RequestCreationFailed);
        self.obs.status_reason = Some(reason);
        self.obs.activation_instructions = None;
        self.save().await?;
        Ok(Action::RequeueAfter(self.ctx.config.peering_retry_after))
    }

    /// React to what the provider says about the request.
    async fn observed(&mut self, o: PeeringObservation) -> Result<Action> {
        self.obs.cloud_peering_id = Some(o.id.to_string());
        match o.state {
            PeeringState::PendingAcceptance => {
                step(&mut self.obs, PeeringEvent::RequestSent);
                if self.obs.status == PeeringStatus::PendingActivation {
                    self.obs.status_reason = None;
                    self.obs.activation_instructions = Some(ActivationInstructions {
                        peering_connection_id: o.id.to_string(),
                        cluster_vpc_cidr: self.net.cidr,
                        steps: self.peerings.activation_steps(
                            &self.net,
                            &o.id,
                            &self.spec.peer_account_id,
                            &self.spec.peer_vpc_id,
                        ),
                    });
                }
                self.save().await?;
                Ok(Action::RequeueAfter(self.ctx.config.poll_interval))
            }
            PeeringState::Active => self.activate(&o.id).await,
            PeeringState::Failed(reason) if self.obs.status == PeeringStatus::Pending => {
                self.not_found(reason).await
            }
            PeeringState::Rejected(reason)
            | PeeringState::Failed(reason)
            | PeeringState::Deleted(reason) => self.gone(o.id, reason).await,
        }
    }

    /// The request was rejected (or vanished) before it was accepted: FAILED, kept until
    /// deleted. An ACTIVE connection whose peering vanished stays ACTIVE with the reason.
    async fn gone(&mut self, id: PeeringConnectionId, reason: String) -> Result<Action> {
        if self.obs.status == PeeringStatus::Pending {
            step(&mut self.obs, PeeringEvent::RequestSent);
        }
        step(&mut self.obs, PeeringEvent::Rejected);
        self.obs.activation_instructions = None;
        self.obs.status_reason = Some(if self.obs.status == PeeringStatus::Failed {
            format!(
                "The peering connection request {id} was rejected ({reason}). Delete the failed \
                 connection and retry using a new connection configuration."
            )
        } else {
            format!(
                "peering connection {id} is no longer active ({reason}); delete this connection \
                 and create a new one"
            )
        });
        self.save().await?;
        Ok(Action::Done)
    }

    /// Accepted: ACTIVE, and the default route to `peerCidr` appears in Routes. Also
    /// observed while ACTIVE: whether the customer turned on "Accepter DNS Resolution"
    /// (document 002's DNS considerations), looked at again at every resync.
    async fn activate(&mut self, id: &PeeringConnectionId) -> Result<Action> {
        if self.obs.status != PeeringStatus::Active {
            self.ensure_default_route().await?;
            tracing::info!(peering = %self.doc.id, pcx = %id, "peering ACTIVE");
        }
        let dns = self.peerings.accepter_dns_resolution(id).await?;
        if dns.is_some() && dns != self.obs.accepter_dns_resolution {
            tracing::info!(peering = %self.doc.id, pcx = %id, accepter_dns_resolution = ?dns, "peering DNS resolution option observed");
        }
        self.obs.accepter_dns_resolution = dns.or(self.obs.accepter_dns_resolution);
        if self.obs.status == PeeringStatus::Pending {
            step(&mut self.obs, PeeringEvent::RequestSent);
        }
        step(&mut self.obs, PeeringEvent::Accepted);
        self.obs.status_reason = None;
        self.obs.activation_instructions = None;
        self.save().await?;
        Ok(Action::Done)
    }

    /// Created once, when the connection becomes ACTIVE: deleting it later (to fix a wrong
    /// CIDR, as document 002 says) is the customer's choice and is not undone.
    async fn ensure_default_route(&self) -> Result<()> {
        let spec = RouteSpec {
            name: Name::parse(&default_route_name(&self.spec))
                .map_err(|e| ControllerError::Store(StoreError::Corrupt(e)))?,
            destination_cidr: self.spec.peer_cidr,
            target_id: self.doc.id.clone(),
        };
        let doc = NewDocument {
            kind: ResourceKind::Route,
            id: linkplane_store::new_id(ResourceKind::Route),
            org_id: self.doc.org_id.clone(),
            parent_id: Some(self.cluster.id.clone()),
            unique_key: Some(default_route_key(&self.doc.id)),
            system: false,
            spec: serde_json::to_value(&spec)?,
            status: serde_json::to_value(Provisioning::default())?,
            secret: None,
            created_at: Utc::now(),
        };
        let guard = ParentGuard {
            kind: ResourceKind::Cluster,
            id: self.cluster.id.clone(),
            child_version: None,
        };
        match self
            .ctx
            .store
            .create_documents(std::slice::from_ref(&doc), Some(&guard), None)
            .await
        {
            Ok(_) => {
                tracing::info!(peering = %self.doc.id, route = %doc.id, cidr = %self.spec.peer_cidr, "default route created");
                Ok(())
            }
            Err(StoreError::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Look at the request sent earlier.
    async fn follow(&mut self) -> Result<Action> {
        let Some(id) = recorded_id(&self.obs) else {
            return self.send().await;
        };
        match self.peerings.observe_peering(&id).await? {
            Some(o) => self.observed(o).await,
            None => self.gone(id, "it no longer exists".into()).await,
        }
    }
}

impl PeeringController {
    /// The peering and its routes leave the cluster's network (with the cluster, if it is
    /// still there).
    async fn cleanup(
        &self,
        doc: &Document,
        cluster: Option<&Document>,
        networks: &dyn ClusterNetworks,
        peerings: &dyn Peerings,
    ) -> Result<()> {
        let obs: VpcPeeringObserved = doc.status_as()?;
        if let (Some(cluster), Some(pcx)) = (cluster, recorded_id(&obs))
            && let Some(net) = networks.find_cluster(&cluster.id).await?
        {
            peerings.delete_peering(&net, &pcx).await?;
            tracing::info!(peering = %doc.id, %pcx, "peering deleted with its routes");
        }
        Ok(())
    }

    async fn wait(&self, doc: &Document, reason: String) -> Result<Action> {
        let mut obs: VpcPeeringObserved = doc.status_as()?;
        if obs.status == PeeringStatus::Pending {
            obs.status_reason = Some(reason);
            self.ctx
                .write_status(doc, &serde_json::to_value(&obs)?)
                .await?;
        }
        Ok(Action::RequeueAfter(self.ctx.config.poll_interval))
    }

    /// The provider's network and peering capabilities.
    fn capabilities(
        provider: &dyn Provider,
    ) -> std::result::Result<(&dyn ClusterNetworks, &dyn Peerings), ProviderError> {
        Ok((
            capability(
                provider,
                Capability::ClusterNetwork,
                provider.cluster_networks(),
            )?,
            capability(provider, Capability::Peering, provider.peerings())?,
        ))
    }

    async fn apply(
        &self,
        doc: &Document,
        cluster: &Document,
        networks: &dyn ClusterNetworks,
        peerings: &dyn Peerings,
    ) -> Result<Action> {
        let net = match self.ctx.cluster_network(networks, cluster).await? {
            Ok(n) => n,
            Err(reason) => return self.wait(doc, reason).await,
        };
        let mut pass = Pass {
            ctx: &self.ctx,
            peerings,
            doc,
            spec: doc.spec_as()?,
            cluster,
            net,
            obs: doc.status_as()?,
        };
        match pass.obs.status {
            PeeringStatus::Pending => pass.send().await,
            PeeringStatus::PendingActivation | PeeringStatus::Active => pass.follow().await,
            PeeringStatus::Failed => {
                pass.save().await?;
                Ok(Action::Done)
            }
            PeeringStatus::NotFound => {
                match retry_wait(&pass.obs, self.ctx.config.peering_retry_after) {
                    Some(wait) => {
                        pass.save().await?;
                        Ok(Action::RequeueAfter(wait))
                    }
                    None => {
                        // "Wait 5 minutes for Astro to retry."
                        pass.obs.status = PeeringStatus::Pending;
                        pass.obs.status_changed_at = Some(Utc::now());
                        pass.obs.status_reason = Some("retrying the peering request".into());
                        pass.send().await
                    }
                }
            }
        }
    }
}

impl Reconcile for PeeringController {
    type Key = ResourceId;
    type Error = ControllerError;

    async fn list(&self) -> Result<Vec<ResourceId>> {
        self.ctx.child_ids(ResourceKind::VpcPeeringConnection).await
    }

    async fn reconcile(&self, id: ResourceId) -> Result<Action> {
        let (doc, cluster, provider) = match self.ctx.child_pass(&id).await? {
            ChildPass::Gone => return Ok(Action::Done),
            ChildPass::Deleting {
                doc,
                cluster,
                provider,
            } => {
                let (d, c) = (&doc, cluster.as_ref());
                return delete_child(&self.ctx, &doc, provider, FINALIZER, move |p| async move {
                    match Self::capabilities(p.as_ref()) {
                        Ok((networks, peerings)) => self.cleanup(d, c, networks, peerings).await,
                        Err(_) => Ok(()),
                    }
                })
                .await;
            }
            // Nothing changes for it until a start with the provider (or a client's write,
            // which the change feed brings): no requeue.
            ChildPass::NoProvider { doc, reason } => {
                self.wait(&doc, reason.to_string()).await?;
                return Ok(Action::Done);
            }
            ChildPass::Ready {
                doc,
                cluster,
                provider,
            } => (doc, cluster, provider),
        };
        let (networks, peerings) = match Self::capabilities(provider.as_ref()) {
            Ok(c) => c,
            Err(e) => return self.wait(&doc, e.to_string()).await,
        };
        finalizer(&self.ctx, &doc, &provider.finalizer(FINALIZER), |_| {
            self.apply(&doc, &cluster, networks, peerings)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(status: PeeringStatus, ago: chrono::Duration) -> VpcPeeringObserved {
        VpcPeeringObserved {
            status,
            status_changed_at: Some(Utc::now() - ago),
            ..Default::default()
        }
    }

    #[test]
    fn not_found_waits_for_the_configured_delay() {
        // "Not Found: Astro failed to create the peering request. Wait 5 minutes for Astro to
        // retry."
        let five = Duration::from_secs(300);
        let w = retry_wait(
            &obs(PeeringStatus::NotFound, chrono::Duration::seconds(60)),
            five,
        )
        .unwrap();
        assert!(
            w <= Duration::from_secs(240) && w > Duration::from_secs(230),
            "{w:?}"
        );
        assert_eq!(
            retry_wait(
                &obs(PeeringStatus::NotFound, chrono::Duration::seconds(301)),
                five
            ),
            None
        );
        let short = Duration::from_millis(10);
        assert_eq!(
            retry_wait(
                &obs(PeeringStatus::NotFound, chrono::Duration::seconds(1)),
                short
            ),
            None
        );
    }

    #[test]
    fn default_route_name_fits_a_name() {
        let spec = |n: &str| VpcPeeringSpec {
            name: Name::parse(n).unwrap(),
            peer_account_id: linkplane_model::AccountId::parse("000000000001").unwrap(),
            peer_vpc_id: linkplane_model::VpcId::parse("vpc-0123abcd").unwrap(),
            peer_region: linkplane_model::Region::parse("us-east-1").unwrap(),
            peer_cidr: linkplane_model::Cidr::parse("10.9.0.0/16").unwrap(),
        };
        assert_eq!(default_route_name(&spec("analytics")), "default-analytics");
        let long = "x".repeat(63);
        let n = default_route_name(&spec(&long));
        assert_eq!(n.chars().count(), 63);
        assert!(Name::parse(&n).is_ok());
        // A cut that ends in a space is trimmed so the name stays valid.
        let spaced = format!("{}  y", "z".repeat(53));
        assert!(Name::parse(&default_route_name(&spec(&spaced))).is_ok());
    }

    #[test]
    fn transitions_follow_the_model() {
        let mut o = VpcPeeringObserved::default();
        step(&mut o, PeeringEvent::Accepted); // PENDING cannot jump to ACTIVE
        assert_eq!(o.status, PeeringStatus::Pending);
        step(&mut o, PeeringEvent::RequestSent);
        assert_eq!(o.status, PeeringStatus::PendingActivation);
        step(&mut o, PeeringEvent::Rejected);
        assert_eq!(o.status, PeeringStatus::Failed);
        step(&mut o, PeeringEvent::Accepted); // FAILED is kept until deleted
        assert_eq!(o.status, PeeringStatus::Failed);
    }
}
