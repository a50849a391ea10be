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
use crate::finalizer::{Event, finalizer, held};

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
        if obs.status == ClusterStatus::CreateFailed {
            // Re-examined and built after all: the failure is over, as after a spec change.
            obs.status =
                cluster_transition(obs.status, ClusterEvent::SpecChanged).unwrap_or(obs.status);
        }
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
        if held(doc, FINALIZER).next().is_none() {
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
                // Keep the status, say what is being retried (for the generation this pass
                // read), and back off.
                let mut o = obs;
                o.status_reason = Some(format!("retrying: {e}"));
                self.ctx
                    .write_status(doc, &serde_json::to_value(&o)?)
                    .await?;
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
        // A CREATE_FAILED cluster is looked at again on every pass (a client's write, the
        // resync): its cause may be gone (the provider runs now, e.g. after a restart as
        // root). A cause that remains writes the same status again, which is no write.
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Mutex;

    use linkplane_model::{AccountId, Cidr, Name, Organization, ProviderKind};
    use linkplane_provider::{ProviderMap, ProviderRegistry, RouteTarget};
    use linkplane_store::{NewDocument, SqliteStore, Store};
    use serde_json::json;

    use super::*;
    use crate::context::ControllersConfig;

    /// A provider whose `ensure_cluster` answers what the test says.
    struct Scripted {
        answer: Mutex<std::result::Result<(), ProviderError>>,
    }

    impl Provider for Scripted {
        fn kind(&self) -> ProviderKind {
            ProviderKind::Local
        }
        fn account_id(&self) -> AccountId {
            AccountId::parse("100000000000").unwrap()
        }
        fn cluster_networks(&self) -> Option<&dyn ClusterNetworks> {
            Some(self)
        }
    }

    #[async_trait::async_trait]
    impl ClusterNetworks for Scripted {
        async fn ensure_cluster(
            &self,
            req: &ClusterRequest,
        ) -> std::result::Result<ClusterNetwork, ProviderError> {
            self.answer.lock().unwrap().clone()?;
            Ok(ClusterNetwork {
                vpc_id: "vpc-0123456789abcdef0".parse().unwrap(),
                cidr: req.cidr,
                subnets: vec![],
                external_ips: vec!["198.51.100.1".parse().unwrap()],
            })
        }
        async fn find_cluster(
            &self,
            _: &ResourceId,
        ) -> std::result::Result<Option<ClusterNetwork>, ProviderError> {
            Ok(None)
        }
        async fn delete_cluster(&self, _: &ResourceId) -> std::result::Result<(), ProviderError> {
            Ok(())
        }
        async fn ensure_route(
            &self,
            _: &ClusterNetwork,
            _: &Cidr,
            _: &RouteTarget,
        ) -> std::result::Result<(), ProviderError> {
            Ok(())
        }
        async fn remove_route(
            &self,
            _: &ClusterNetwork,
            _: &Cidr,
            _: Option<&RouteTarget>,
        ) -> std::result::Result<(), ProviderError> {
            Ok(())
        }
    }

    async fn setup(
        first: std::result::Result<(), ProviderError>,
    ) -> (
        tempfile::TempDir,
        ClusterController,
        Arc<Scripted>,
        ResourceId,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let org = linkplane_store::new_id(ResourceKind::Organization);
        store
            .create_organization(&Organization {
                id: org.clone(),
                name: Name::parse("acme").unwrap(),
                created_at: chrono::Utc::now(),
            })
            .await
            .unwrap();
        let id = linkplane_store::new_id(ResourceKind::Cluster);
        store
            .create_documents(
                &[NewDocument {
                    kind: ResourceKind::Cluster,
                    id: id.clone(),
                    org_id: org,
                    parent_id: None,
                    unique_key: None,
                    system: false,
                    spec: json!({"name": "prod", "cloudProvider": "LOCAL", "type": "DEDICATED",
                                 "region": "us-east-1", "vpcSubnetRange": "10.1.0.0/16"}),
                    status: serde_json::to_value(ClusterObserved::default()).unwrap(),
                    secret: None,
                    created_at: chrono::Utc::now(),
                }],
                None,
                None,
            )
            .await
            .unwrap();
        let scripted = Arc::new(Scripted {
            answer: Mutex::new(first),
        });
        let mut registry = ProviderRegistry::new(ProviderMap::default());
        registry.register(scripted.clone());
        let ctx = Context {
            store,
            providers: Arc::new(registry),
            config: ControllersConfig::default(),
        };
        (dir, ClusterController { ctx }, scripted, id)
    }

    async fn observed(c: &ClusterController, id: &ResourceId) -> (ClusterObserved, i64, i64) {
        let doc = c.ctx.store.get_document_by_id(id).await.unwrap().unwrap();
        (
            doc.status_as().unwrap(),
            doc.generation as i64,
            doc.observed_generation as i64,
        )
    }

    #[tokio::test]
    async fn a_transient_failure_records_the_retry_reason_for_the_generation_read() {
        let (_dir, c, _, id) =
            setup(Err(ProviderError::Unavailable("the kernel is busy".into()))).await;
        assert!(
            c.reconcile(id.clone()).await.is_err(),
            "retried with backoff"
        );
        let (obs, generation, observed) = observed(&c, &id).await;
        assert_eq!(obs.status, ClusterStatus::Creating);
        assert_eq!(
            obs.status_reason.as_deref(),
            Some("retrying: the kernel is busy")
        );
        assert_eq!(observed, generation);
    }

    #[tokio::test]
    async fn a_create_failed_whose_cause_is_gone_is_created_on_the_next_pass() {
        let (_dir, c, scripted, id) = setup(Err(ProviderError::Disabled {
            provider: ProviderKind::Local,
            reason: "serve runs without root".into(),
        }))
        .await;
        c.reconcile(id.clone()).await.unwrap();
        let (obs, ..) = observed(&c, &id).await;
        assert_eq!(obs.status, ClusterStatus::CreateFailed);
        assert!(
            obs.status_reason.as_deref().unwrap().contains("disabled"),
            "{obs:?}"
        );
        // The cause is gone (serve restarted as root): the resync's pass builds it.
        *scripted.answer.lock().unwrap() = Ok(());
        c.reconcile(id.clone()).await.unwrap();
        let (obs, generation, observed) = observed(&c, &id).await;
        assert_eq!(obs.status, ClusterStatus::Created, "{obs:?}");
        assert_eq!(obs.status_reason, None);
        assert_eq!(
            obs.external_ips,
            vec!["198.51.100.1".parse::<std::net::Ipv4Addr>().unwrap()]
        );
        assert_eq!(observed, generation);
    }
}
