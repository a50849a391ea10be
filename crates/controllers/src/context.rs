//! What every controller shares: the store, the provider registry, tuning; and the steps
//! every child controller starts a pass with.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use linkplane_model::{ClusterObserved, ClusterSpec, ClusterStatus, ResourceId, ResourceKind};
use linkplane_provider::{
    ClusterNetwork, ClusterNetworks, Provider, ProviderError, ProviderRegistry,
};
use linkplane_store::{Document, Store, StoreError};
use serde_json::Value;

/// Tuning of the controllers.
#[derive(Debug, Clone)]
pub struct ControllersConfig {
    /// Every resource is looked at again this often (drift repair, missed triggers).
    pub resync: Duration,
    /// How often the store is polled for changed resources (`generation != observedGeneration`)
    /// to trigger their controller right after an API write (a fallback: the store wakes the
    /// watchers on every commit).
    pub watch_interval: Duration,
    /// How often a controller looks again while it waits on someone else (a customer to
    /// accept a peering, a cluster to be created).
    pub poll_interval: Duration,
    /// NOT_FOUND peerings are retried this long after they became NOT_FOUND (document 002:
    /// "Wait 5 minutes for Astro to retry").
    pub peering_retry_after: Duration,
}

impl Default for ControllersConfig {
    fn default() -> Self {
        Self {
            resync: Duration::from_secs(30),
            watch_interval: Duration::from_millis(500),
            poll_interval: Duration::from_secs(2),
            peering_retry_after: Duration::from_secs(5 * 60),
        }
    }
}

/// An error that makes a reconcile retry with backoff.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("provider: {0}")]
    Provider(#[from] ProviderError),
    #[error("{0}")]
    Encode(#[from] serde_json::Error),
}

pub type Result<T> = std::result::Result<T, ControllerError>;

/// Shared by the controllers.
#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn Store>,
    /// Which provider serves each cluster, and the providers this process runs.
    pub providers: Arc<ProviderRegistry>,
    pub config: ControllersConfig,
}

/// A cluster with the provider that serves it (or why none runs here).
pub struct Served {
    pub doc: Document,
    pub spec: ClusterSpec,
    pub provider: std::result::Result<Arc<dyn Provider>, ProviderError>,
}

impl Context {
    /// The cluster `id` with its spec and provider, if it exists.
    pub async fn cluster(&self, id: &ResourceId) -> Result<Option<Served>> {
        let Some(doc) = self.store.get_document_by_id(id).await? else {
            return Ok(None);
        };
        let spec: ClusterSpec = doc.spec_as()?;
        let provider = self.providers.for_cloud(spec.cloud_provider);
        Ok(Some(Served {
            doc,
            spec,
            provider,
        }))
    }

    /// Record `status` unless it is already recorded for the current generation.
    pub async fn write_status(&self, doc: &Document, status: &Value) -> Result<()> {
        if &doc.status == status && doc.observed_generation == doc.generation {
            return Ok(());
        }
        match self
            .store
            .write_status(&doc.id, status, doc.generation, Utc::now())
            .await
        {
            Ok(_) => Ok(()),
            // A client changed it since this pass read it: the new generation wakes another
            // pass, which records what it observes then.
            Err(StoreError::Conflict(reason)) => {
                tracing::debug!(id = %doc.id, %reason, "status not written: changed since read");
                Ok(())
            }
            Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The network of a cluster that is CREATED (or UPDATING), or why a child of the
    /// cluster has to wait for it.
    pub async fn cluster_network(
        &self,
        networks: &dyn ClusterNetworks,
        cluster: &Document,
    ) -> Result<std::result::Result<ClusterNetwork, String>> {
        let cobs: ClusterObserved = cluster.status_as()?;
        match cobs.status {
            ClusterStatus::Created | ClusterStatus::Updating => {}
            ClusterStatus::CreateFailed => {
                return Ok(Err(format!(
                    "cluster {} is CREATE_FAILED: {}",
                    cluster.id,
                    cobs.status_reason.unwrap_or_default()
                )));
            }
            s => {
                return Ok(Err(format!(
                    "waiting for cluster {} to be CREATED (it is {})",
                    cluster.id,
                    serde_json::to_value(s)?.as_str().unwrap_or("?")
                )));
            }
        }
        Ok(networks
            .find_cluster(&cluster.id)
            .await?
            .ok_or_else(|| format!("cluster {} has no network yet", cluster.id)))
    }

    /// Ids of the resources of `kind` under clusters whose provider runs in this process (a
    /// child controller's `list`, run at every resync). Children of clusters without a
    /// running provider are left to the change feed: nothing about them can change until a
    /// client writes, so re-reading them every resync (100,000 routes of such a cluster)
    /// would be work for nothing.
    pub async fn child_ids(&self, kind: ResourceKind) -> Result<Vec<ResourceId>> {
        let mut out = Vec::new();
        for c in self.store.list_kind(ResourceKind::Cluster).await? {
            let spec: ClusterSpec = c.spec_as()?;
            if self.providers.for_cloud(spec.cloud_provider).is_ok() {
                out.extend(self.store.list_child_ids(kind, &c.id).await?);
            }
        }
        Ok(out)
    }

    /// The common start of a pass over a child of a cluster: the document, whether it is
    /// being deleted, its cluster and the cluster's provider.
    pub async fn child_pass(&self, id: &ResourceId) -> Result<ChildPass> {
        let Some(doc) = self.store.get_document_by_id(id).await? else {
            return Ok(ChildPass::Gone);
        };
        let served = match &doc.parent_id {
            Some(parent) => self.cluster(parent).await?,
            None => None,
        };
        if doc.deletion_requested_at.is_some() {
            let (cluster, provider) = match served {
                Some(s) => (Some(s.doc), s.provider),
                None => (
                    None,
                    Err(ProviderError::NotFound(
                        "the cluster no longer exists".into(),
                    )),
                ),
            };
            return Ok(ChildPass::Deleting {
                doc,
                cluster,
                provider,
            });
        }
        let Some(served) = served else {
            return Ok(ChildPass::Gone);
        };
        Ok(match served.provider {
            Ok(provider) => ChildPass::Ready {
                doc,
                cluster: served.doc,
                provider,
            },
            Err(reason) => ChildPass::NoProvider { doc, reason },
        })
    }
}

/// See [`Context::child_pass`].
pub enum ChildPass {
    /// The resource (or its cluster) no longer exists.
    Gone,
    /// Deletion requested: tear down (with the cluster, if it is still there) and release.
    Deleting {
        doc: Document,
        cluster: Option<Document>,
        provider: std::result::Result<Arc<dyn Provider>, ProviderError>,
    },
    /// No provider serves the cluster in this process ([`ProviderError::Disabled`] says
    /// why).
    NoProvider {
        doc: Document,
        reason: ProviderError,
    },
    Ready {
        doc: Document,
        cluster: Document,
        provider: Arc<dyn Provider>,
    },
}

/// The store's change feed for one kind: the resources clients created or changed (a new
/// generation, deletion requests included) that are still unobserved, each change seen once.
/// [`ChangeFeed::wait`] returns when a write commits ([`Store::subscribe`]) or at the
/// `watch_interval` fallback poll; [`ChangeFeed::poll`] asks only for what changed since the
/// revision last [`ChangeFeed::advance`]d to, so resources that stay unobserved are not
/// re-read.
pub struct ChangeFeed {
    ctx: Context,
    kind: ResourceKind,
    after: i64,
    changes: Option<tokio::sync::watch::Receiver<u64>>,
    tick: tokio::time::Interval,
}

impl ChangeFeed {
    pub fn new(ctx: &Context, kind: ResourceKind) -> Self {
        let mut tick = tokio::time::interval(ctx.config.watch_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            changes: Some(ctx.store.subscribe_kind(kind)),
            ctx: ctx.clone(),
            kind,
            after: -1,
            tick,
        }
    }

    /// The changes since the last [`ChangeFeed::advance`], with the revision to advance to
    /// once they are handled (`None` when the store could not be read: logged, asked again
    /// at the next wake-up).
    pub async fn poll(&mut self) -> Option<(Vec<Document>, i64)> {
        match self
            .ctx
            .store
            .list_changed_unobserved(self.kind, self.after)
            .await
        {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(kind = self.kind.as_str(), error = %e, "watch: listing changed resources failed");
                None
            }
        }
    }

    pub fn advance(&mut self, to: i64) {
        self.after = to;
    }

    /// Until a write commits or the fallback poll is due.
    pub async fn wait(&mut self) {
        tokio::select! {
            _ = self.tick.tick() => {}
            changed = async {
                match self.changes.as_mut() {
                    Some(c) => c.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            } => {
                if !changed {
                    // The store went away: keep the fallback poll only.
                    self.changes = None;
                }
            }
        }
    }
}
