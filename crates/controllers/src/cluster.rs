//! The cluster controller (LOCAL clusters): builds the cluster's network through the
//! provider, records `CREATED` with the external IPs (or `CREATE_FAILED` with the reason),
//! and tears everything down before the cluster's deletion completes.

use linkplane_model::{
    CloudProvider, ClusterEvent, ClusterObserved, ClusterSpec, ClusterStatus, ResourceId,
    ResourceKind, cluster_transition,
};
use linkplane_reconciler::{Action, Reconcile};
use linkplane_store::Document;

use crate::context::{Context, ControllerError, Result};
use crate::provider::{ClusterNetwork, ClusterRequest, ProviderError};

/// Held by a LOCAL cluster while its network exists.
pub const FINALIZER: &str = "linkplane.dev/local-cluster";

pub struct ClusterController {
    pub ctx: Context,
}

impl ClusterController {
    async fn failed(&self, doc: &Document, mut obs: ClusterObserved, reason: String) -> Result<()> {
        // A cluster that was CREATED keeps its status; the reason says what is wrong now.
        obs.status =
            cluster_transition(obs.status, ClusterEvent::ProvisionFailed).unwrap_or(obs.status);
        obs.status_reason = Some(reason);
        self.ctx
            .write_status(doc, &serde_json::to_value(&obs)?)
            .await
    }

    async fn provisioned(
        &self,
        doc: &Document,
        mut obs: ClusterObserved,
        account_id: String,
        net: ClusterNetwork,
    ) -> Result<()> {
        if obs.status != ClusterStatus::Created {
            obs.status =
                cluster_transition(obs.status, ClusterEvent::Provisioned).unwrap_or(obs.status);
        }
        obs.status_reason = None;
        obs.external_ips = net.external_ips;
        obs.account_id = Some(account_id);
        obs.vpc_id = Some(net.vpc_id);
        self.ctx
            .write_status(doc, &serde_json::to_value(&obs)?)
            .await
    }

    async fn delete(&self, doc: &Document) -> Result<Action> {
        if !doc.finalizers.iter().any(|f| f == FINALIZER) {
            return Ok(Action::Done);
        }
        let mut obs: ClusterObserved = doc.status_as()?;
        obs.status =
            cluster_transition(obs.status, ClusterEvent::DeleteRequested).unwrap_or(obs.status);
        let Some(provider) = &self.ctx.provider else {
            // The network may exist (built by an earlier start): the deletion waits for a
            // start that can tear it down.
            obs.status_reason = Some(format!(
                "cannot tear down the cluster's network: {}",
                self.ctx.disabled()
            ));
            self.ctx
                .write_status(doc, &serde_json::to_value(&obs)?)
                .await?;
            return Ok(Action::Done);
        };
        obs.status_reason = None;
        self.ctx
            .write_status(doc, &serde_json::to_value(&obs)?)
            .await?;
        provider.delete_cluster(&doc.id).await?;
        tracing::info!(cluster = %doc.id, "cluster network torn down");
        self.ctx.drop_finalizer(doc, FINALIZER).await?;
        Ok(Action::Done)
    }
}

impl Reconcile for ClusterController {
    type Key = ResourceId;
    type Error = ControllerError;

    async fn list(&self) -> Result<Vec<ResourceId>> {
        let docs = self.ctx.store.list_kind(ResourceKind::Cluster).await?;
        Ok(docs.into_iter().map(|d| d.id).collect())
    }

    async fn reconcile(&self, id: ResourceId) -> Result<Action> {
        let Some(doc) = self.ctx.store.get_document_by_id(&id).await? else {
            return Ok(Action::Done);
        };
        let spec: ClusterSpec = doc.spec_as()?;
        if spec.cloud_provider != CloudProvider::Local {
            return Ok(Action::Done);
        }
        if doc.deletion_requested_at.is_some() {
            return self.delete(&doc).await;
        }
        let obs: ClusterObserved = doc.status_as()?;
        let Some(provider) = self.ctx.provider.clone() else {
            self.failed(&doc, obs, self.ctx.disabled()).await?;
            return Ok(Action::Done);
        };
        // CREATE_FAILED is final for this generation: a changed spec tries again.
        if obs.status == ClusterStatus::CreateFailed && doc.observed_generation == doc.generation {
            return Ok(Action::Done);
        }
        self.ctx.ensure_finalizer(&doc, FINALIZER).await?;
        let req = ClusterRequest {
            cluster_id: doc.id.clone(),
            region: spec.region.clone(),
            cidr: spec.vpc_subnet_range,
        };
        match provider.ensure_cluster(&req).await {
            Ok(net) => {
                if obs.status != ClusterStatus::Created {
                    tracing::info!(cluster = %id, vpc = %net.vpc_id, ips = ?net.external_ips, "cluster created");
                }
                self.provisioned(&doc, obs, provider.account_id(), net)
                    .await?;
                Ok(Action::Done)
            }
            Err(ProviderError::Refused(reason) | ProviderError::NotFound(reason)) => {
                tracing::warn!(cluster = %id, %reason, "cluster cannot be created");
                self.failed(&doc, obs, reason).await?;
                Ok(Action::Done)
            }
            Err(e @ ProviderError::Unavailable(_)) => {
                // Keep the status, say what is being retried, and back off.
                let mut o = obs;
                o.status_reason = Some(format!("retrying: {e}"));
                let _ = self
                    .ctx
                    .store
                    .write_status(
                        &doc.id,
                        &serde_json::to_value(&o)?,
                        doc.observed_generation,
                        chrono::Utc::now(),
                    )
                    .await;
                Err(e.into())
            }
        }
    }
}
