//! The cluster controller: builds the cluster's network through the provider that serves
//! the cluster's cloud, records `CREATED` with the external IPs (or `CREATE_FAILED` with the
//! reason, e.g. that no provider runs for it), and tears everything down before the
//! cluster's deletion completes.

use std::sync::Arc;

use linkplane_model::{
    ClusterEvent, ClusterObserved, ClusterSpec, ClusterStatus, ResourceId, ResourceKind,
    cluster_transition,
};
use linkplane_provider::{
    Capability, ClusterNetwork, ClusterNetworks, ClusterRequest, Provider, ProviderError,
    capability,
};
use linkplane_reconciler::{Action, Reconcile};
use linkplane_store::Document;

use crate::context::{Context, ControllerError, Result};
use crate::finalizer::{Event, finalizer};

/// The resource part of the finalizer a cluster holds while its network exists
/// (`linkplane.dev/<provider>-cluster`).
pub const FINALIZER: &str = "cluster";

pub struct ClusterController {
    pub ctx: Context,
}

impl ClusterController {
    async fn failed(
        &self,
        doc: &Document,
        spec: &ClusterSpec,
        mut obs: ClusterObserved,
        reason: String,
    ) -> Result<()> {
        // A cluster that was CREATED keeps its status; the reason says what is wrong now.
        obs.status =
            cluster_transition(obs.status, ClusterEvent::ProvisionFailed).unwrap_or(obs.status);
        obs.status_reason = Some(reason);
        obs.provider = Some(self.ctx.providers.kind_for(spec.cloud_provider));
        self.ctx
            .write_status(doc, &serde_json::to_value(&obs)?)
            .await
    }

    async fn provisioned(
        &self,
        doc: &Document,
        provider: &dyn Provider,
        mut obs: ClusterObserved,
        net: ClusterNetwork,
    ) -> Result<()> {
        if obs.status != ClusterStatus::Created {
            obs.status =
                cluster_transition(obs.status, ClusterEvent::Provisioned).unwrap_or(obs.status);
        }
        obs.status_reason = None;
        obs.external_ips = net.external_ips;
        obs.account_id = Some(provider.account_id().to_string());
        obs.vpc_id = Some(net.vpc_id.to_string());
        obs.provider = Some(provider.kind());
        self.ctx
            .write_status(doc, &serde_json::to_value(&obs)?)
            .await
    }

    /// DELETING, then the network is torn down.
    async fn cleanup(&self, doc: &Document, networks: &dyn ClusterNetworks) -> Result<()> {
        let mut obs: ClusterObserved = doc.status_as()?;
        obs.status =
            cluster_transition(obs.status, ClusterEvent::DeleteRequested).unwrap_or(obs.status);
        obs.status_reason = None;
        self.ctx
            .write_status(doc, &serde_json::to_value(&obs)?)
            .await?;
        networks.delete_cluster(&doc.id).await?;
        tracing::info!(cluster = %doc.id, "cluster network torn down");
        Ok(())
    }

    /// A deletion no running provider can carry out: if the cluster holds a finalizer, its
    /// network may exist (built by an earlier start), so the deletion waits and says why.
    async fn cannot_tear_down(&self, doc: &Document, why: ProviderError) -> Result<Action> {
        if !doc
            .finalizers
            .iter()
            .any(|f| f.ends_with(&format!("-{FINALIZER}")))
        {
            return Ok(Action::Done);
        }
        let mut obs: ClusterObserved = doc.status_as()?;
        obs.status =
            cluster_transition(obs.status, ClusterEvent::DeleteRequested).unwrap_or(obs.status);
        obs.status_reason = Some(format!("cannot tear down the cluster's network: {why}"));
        self.ctx
            .write_status(doc, &serde_json::to_value(&obs)?)
            .await?;
        Ok(Action::Done)
    }

    async fn apply(
        &self,
        doc: &Document,
        spec: &ClusterSpec,
        provider: &Arc<dyn Provider>,
        networks: &dyn ClusterNetworks,
    ) -> Result<Action> {
        let obs: ClusterObserved = doc.status_as()?;
        let req = ClusterRequest {
            cluster_id: doc.id.clone(),
            cloud: spec.cloud_provider,
            region: spec.region.clone(),
            cidr: spec.vpc_subnet_range,
        };
        match networks.ensure_cluster(&req).await {
            Ok(net) => {
                if obs.status != ClusterStatus::Created {
                    tracing::info!(cluster = %doc.id, provider = %provider.kind(), vpc = %net.vpc_id, ips = ?net.external_ips, "cluster created");
                }
                self.provisioned(doc, provider.as_ref(), obs, net).await?;
                Ok(Action::Done)
            }
            Err(e) if !e.is_transient() => {
                tracing::warn!(cluster = %doc.id, reason = %e, "cluster cannot be created");
                self.failed(doc, spec, obs, e.to_string()).await?;
                Ok(Action::Done)
            }
            Err(e) => {
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

impl Reconcile for ClusterController {
    type Key = ResourceId;
    type Error = ControllerError;

    async fn list(&self) -> Result<Vec<ResourceId>> {
        let docs = self.ctx.store.list_kind(ResourceKind::Cluster).await?;
        Ok(docs.into_iter().map(|d| d.id).collect())
    }

    async fn reconcile(&self, id: ResourceId) -> Result<Action> {
        let Some(served) = self.ctx.cluster(&id).await? else {
            return Ok(Action::Done);
        };
        let (doc, spec) = (&served.doc, &served.spec);
        let deleting = doc.deletion_requested_at.is_some();
        let provider = match served.provider {
            Ok(p) => p,
            Err(e) if deleting => return self.cannot_tear_down(doc, e).await,
            Err(e) => {
                self.failed(doc, spec, doc.status_as()?, e.to_string())
                    .await?;
                return Ok(Action::Done);
            }
        };
        let networks = match capability(
            provider.as_ref(),
            Capability::ClusterNetwork,
            provider.cluster_networks(),
        ) {
            Ok(n) => n,
            Err(e) if deleting => return self.cannot_tear_down(doc, e).await,
            Err(e) => {
                self.failed(doc, spec, doc.status_as()?, e.to_string())
                    .await?;
                return Ok(Action::Done);
            }
        };
        // CREATE_FAILED is final for this generation: a changed spec tries again.
        let obs: ClusterObserved = doc.status_as()?;
        if !deleting
            && obs.status == ClusterStatus::CreateFailed
            && doc.observed_generation == doc.generation
        {
            return Ok(Action::Done);
        }
        let name = provider.finalizer(FINALIZER);
        let provider = &provider;
        finalizer(&self.ctx, doc, &name, |event| async move {
            match event {
                Event::Apply => self.apply(doc, spec, provider, networks).await,
                Event::Cleanup => {
                    self.cleanup(doc, networks).await?;
                    Ok(Action::Done)
                }
            }
        })
        .await
    }
}
