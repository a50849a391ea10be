//! The PrivateLink controller (issue 5 item 4): a cluster's `private-link` puts an endpoint
//! service (PROXY v2 on) in front of the cluster's ingress load balancer; the consumer
//! endpoints are mirrored as `EndpointConnection` children of the cluster; an accept or
//! reject through the API (a new generation of the connection) is applied on the provider.
//!
//! The provider's service name and zones are recorded in the private link's status
//! (`serviceName`, `availabilityZones`) next to `status`, and the API shows them.

use linkplane_model::{
    ClusterObserved, ClusterStatus, EndpointConnectionObserved, EndpointConnectionSpec,
    EndpointConnectionStatus, PrivateLinkSpec, ProvisioningStatus, ResourceId, ResourceKind,
};
use std::future::Future;
use std::sync::Arc;

use linkplane_provider::{
    Capability, EndpointConnectionInfo, EndpointServiceRequest, PrivateLinkServices, capability,
};
use linkplane_reconciler::{Action, Handle, Reconcile};
use linkplane_store::{Document, NewDocument};
use serde_json::{Value, json};

use crate::context::{ChangeFeed, ChildPass, Context, ControllerError, Result};
use crate::finalizer::{delete_child, finalizer};

/// The resource part of the finalizer a private link holds while its endpoint service may
/// exist (`linkplane.dev/<provider>-private-link`).
pub const FINALIZER: &str = "private-link";

pub struct PrivateLinkController {
    pub ctx: Context,
}

fn status_json(status: ProvisioningStatus, reason: Option<String>, extra: Value) -> Result<Value> {
    let mut v = json!({ "status": status, "statusReason": reason });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    Ok(v)
}

impl PrivateLinkController {
    async fn record(
        &self,
        doc: &Document,
        status: ProvisioningStatus,
        reason: String,
    ) -> Result<()> {
        let v = status_json(status, Some(reason), json!({}))?;
        self.ctx.write_status(doc, &v).await
    }

    /// Mirror the provider's endpoints as connection documents, applying decisions made
    /// through the API first.
    async fn sync_connections(
        &self,
        provider: &dyn PrivateLinkServices,
        doc: &Document,
        cluster: &ResourceId,
        auto_accept: bool,
    ) -> Result<()> {
        let mut cloud = provider.endpoint_connections(cluster).await?;
        let children: Vec<Document> = self
            .ctx
            .store
            .list_children_of_kinds(&doc.org_id, cluster, &[ResourceKind::EndpointConnection])
            .await?;
        let mut decided = false;
        for c in &cloud {
            let desired = children.iter().find_map(|d| {
                let s: EndpointConnectionSpec = d.spec_as().ok()?;
                let o: EndpointConnectionObserved = d.status_as().ok()?;
                (s.cloud_endpoint_id == c.endpoint_id.as_str()
                    && d.generation != d.observed_generation)
                    .then_some(o.status)
            });
            let pending = c.state == EndpointConnectionStatus::PendingAcceptance;
            let live = pending || c.state == EndpointConnectionStatus::Available;
            let accept = match desired {
                Some(EndpointConnectionStatus::Available) if pending => Some(true),
                Some(EndpointConnectionStatus::Rejected) if live => Some(false),
                None if auto_accept && pending => Some(true),
                _ => None,
            };
            if let Some(accept) = accept {
                provider
                    .decide_endpoints(cluster, std::slice::from_ref(&c.endpoint_id), accept)
                    .await?;
                decided = true;
            }
        }
        if decided {
            cloud = provider.endpoint_connections(cluster).await?;
        }
        for c in &cloud {
            self.mirror(doc, cluster, &children, c).await?;
        }
        Ok(())
    }

    async fn mirror(
        &self,
        doc: &Document,
        cluster: &ResourceId,
        children: &[Document],
        c: &EndpointConnectionInfo,
    ) -> Result<()> {
        let observed = EndpointConnectionObserved {
            status: c.state,
            status_reason: None,
            private_ips: Vec::new(),
        };
        let status = serde_json::to_value(&observed)?;
        let existing = children.iter().find(|d| {
            d.spec_as::<EndpointConnectionSpec>()
                .is_ok_and(|s| s.cloud_endpoint_id == c.endpoint_id.as_str())
        });
        match existing {
            Some(d) => {
                // A decision made through the API since this pass listed the connections is
                // a new generation whose status is the desired one: the store writes a status
                // only for the generation read, so it is kept, and its change wakes the pass
                // that applies it.
                self.ctx.write_status(d, &status).await
            }
            None => {
                let spec = EndpointConnectionSpec {
                    cloud_endpoint_id: c.endpoint_id.to_string(),
                    requester: c.owner.to_string(),
                    region: None,
                };
                let new = NewDocument {
                    kind: ResourceKind::EndpointConnection,
                    id: linkplane_store::new_id(ResourceKind::EndpointConnection),
                    org_id: doc.org_id.clone(),
                    parent_id: Some(cluster.clone()),
                    unique_key: Some(format!("{cluster}/{}", c.endpoint_id)),
                    system: true,
                    spec: serde_json::to_value(&spec)?,
                    status,
                    secret: None,
                    created_at: chrono::Utc::now(),
                };
                match self
                    .ctx
                    .store
                    .create_documents(std::slice::from_ref(&new), None, None)
                    .await
                {
                    Ok(_) => Ok(()),
                    // Created by a concurrent pass: the next pass updates it.
                    Err(linkplane_store::StoreError::Conflict(_)) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
}

impl PrivateLinkController {
    /// The private link of the cluster a connection document belongs to.
    async fn private_link_of(&self, conn: &Document) -> Result<Option<ResourceId>> {
        let Some(cluster) = &conn.parent_id else {
            return Ok(None);
        };
        Ok(self
            .ctx
            .store
            .list_children_of_kinds(&conn.org_id, cluster, &[ResourceKind::PrivateLink])
            .await?
            .into_iter()
            .next()
            .map(|d| d.id))
    }

    /// Trigger the private link whose connection a client decided on (accept or reject
    /// through the API: a new generation of the connection) as soon as the store commits
    /// it, as the watchers of lib.rs do for their kinds (woken by the store, polling every
    /// `watch_interval` as a fallback), instead of at the private link's next requeue.
    async fn watch_decisions(self: Arc<Self>, handle: Handle<ResourceId>) {
        let mut feed = ChangeFeed::new(&self.ctx, ResourceKind::EndpointConnection);
        loop {
            if let Some((docs, next)) = feed.poll().await {
                match self.enqueue_private_links(&docs, &handle).await {
                    Ok(()) => feed.advance(next),
                    // Asked again from the same revision at the next wake-up.
                    Err(e) => {
                        tracing::warn!(error = %e, "watch: finding the private link of a decided connection failed")
                    }
                }
            }
            feed.wait().await;
        }
    }

    async fn enqueue_private_links(
        &self,
        connections: &[Document],
        handle: &Handle<ResourceId>,
    ) -> Result<()> {
        // A decision is a new generation of an existing connection; generation 1 is the
        // document this controller created (no pass needed, and one would only race with
        // a decision arriving at that moment).
        for d in connections.iter().filter(|d| d.generation > 1) {
            if let Some(pl) = self.private_link_of(d).await? {
                handle.enqueue(pl);
            }
        }
        Ok(())
    }
}

impl Reconcile for PrivateLinkController {
    type Key = ResourceId;
    type Error = ControllerError;

    /// Besides the private links' own watcher (lib.rs): decisions on their connections.
    /// New endpoints need no poll: each pass watches its service's connections in the
    /// provider (see `LocalProvider::service_connections`).
    fn triggers(self: Arc<Self>, handle: Handle<ResourceId>) -> impl Future<Output = ()> + Send {
        self.watch_decisions(handle)
    }

    async fn list(&self) -> Result<Vec<ResourceId>> {
        self.ctx.child_ids(ResourceKind::PrivateLink).await
    }

    async fn reconcile(&self, id: ResourceId) -> Result<Action> {
        let (doc, cluster, provider) = match self.ctx.child_pass(&id).await? {
            ChildPass::Gone => return Ok(Action::Done),
            ChildPass::Deleting {
                doc,
                cluster,
                provider,
            } => {
                let c = cluster.as_ref();
                return delete_child(&self.ctx, &doc, provider, FINALIZER, move |p| async move {
                    let (Some(services), Some(cluster)) = (p.private_link(), c) else {
                        return Ok(());
                    };
                    match services.delete_endpoint_service(&cluster.id).await {
                        Ok(()) | Err(linkplane_provider::ProviderError::NotFound(_)) => Ok(()),
                        Err(e) => Err(e.into()),
                    }
                })
                .await;
            }
            ChildPass::NoProvider { doc, reason } => {
                self.record(&doc, ProvisioningStatus::Failed, reason.to_string())
                    .await?;
                return Ok(Action::Done);
            }
            ChildPass::Ready {
                doc,
                cluster,
                provider,
            } => (doc, cluster, provider),
        };
        let services = match capability(
            provider.as_ref(),
            Capability::PrivateLink,
            provider.private_link(),
        ) {
            Ok(s) => s,
            Err(e) => {
                self.record(&doc, ProvisioningStatus::Failed, e.to_string())
                    .await?;
                return Ok(Action::Done);
            }
        };
        let cobs: ClusterObserved = cluster.status_as()?;
        if cobs.status != ClusterStatus::Created {
            self.record(
                &doc,
                ProvisioningStatus::Pending,
                "waiting for the cluster to be CREATED".into(),
            )
            .await?;
            return Ok(Action::RequeueAfter(self.ctx.config.poll_interval));
        }
        let (doc, cluster) = (&doc, &cluster);
        finalizer(
            &self.ctx,
            doc,
            &provider.finalizer(FINALIZER),
            |_| async move {
                let spec: PrivateLinkSpec = doc.spec_as()?;
                let req = EndpointServiceRequest {
                    cluster_id: cluster.id.clone(),
                    allowed_principals: spec.allowed_principals.clone(),
                    regions: spec.regions.clone(),
                    auto_accept: spec.auto_accept,
                };
                match services.ensure_endpoint_service(&req).await {
                    Ok(info) => {
                        let v = status_json(
                            ProvisioningStatus::Available,
                            None,
                            json!({
                                "serviceName": info.service_name,
                                "availabilityZones": info.availability_zones,
                            }),
                        )?;
                        self.ctx.write_status(doc, &v).await?;
                    }
                    Err(e) if !e.is_transient() => {
                        self.record(doc, ProvisioningStatus::Failed, e.to_string())
                            .await?;
                        return Ok(Action::Done);
                    }
                    Err(e) => return Err(e.into()),
                }
                self.sync_connections(services, doc, &cluster.id, spec.auto_accept)
                    .await?;
                Ok(Action::RequeueAfter(self.ctx.config.poll_interval))
            },
        )
        .await
    }
}
