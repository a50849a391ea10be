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
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use linkplane_reconciler::{Action, Handle, Reconcile};
use linkplane_store::{Document, NewDocument};
use serde_json::{Value, json};

use crate::context::{Context, ControllerError, Result};
use crate::provider::{EndpointConnectionInfo, EndpointServiceRequest, ProviderError};

/// Held by a private link while its endpoint service may exist.
pub const FINALIZER: &str = "linkplane.dev/local-private-link";

pub struct PrivateLinkController {
    pub ctx: Context,
}

/// A provider endpoint state as the API's connection status.
pub fn connection_status(state: &str) -> EndpointConnectionStatus {
    match state {
        "pendingAcceptance" => EndpointConnectionStatus::PendingAcceptance,
        "available" => EndpointConnectionStatus::Available,
        "rejected" => EndpointConnectionStatus::Rejected,
        "deleted" => EndpointConnectionStatus::Deleted,
        _ => EndpointConnectionStatus::Failed,
    }
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

    async fn delete(&self, doc: &Document, cluster: &ResourceId) -> Result<Action> {
        if let Some(p) = &self.ctx.provider {
            match p.delete_endpoint_service(cluster).await {
                Ok(()) | Err(ProviderError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.ctx.drop_finalizer(doc, FINALIZER).await?;
        Ok(Action::Done)
    }

    /// Mirror the provider's endpoints as connection documents, applying decisions made
    /// through the API first.
    async fn sync_connections(
        &self,
        doc: &Document,
        cluster: &ResourceId,
        auto_accept: bool,
    ) -> Result<()> {
        let Some(provider) = &self.ctx.provider else {
            return Ok(());
        };
        let mut cloud = provider.endpoint_connections(cluster).await?;
        let children: Vec<Document> = self
            .ctx
            .store
            .list_children(&doc.org_id, cluster)
            .await?
            .into_iter()
            .filter(|d| d.kind == ResourceKind::EndpointConnection)
            .collect();
        let mut decided = false;
        for c in &cloud {
            let desired = children.iter().find_map(|d| {
                let s: EndpointConnectionSpec = d.spec_as().ok()?;
                let o: EndpointConnectionObserved = d.status_as().ok()?;
                (s.cloud_endpoint_id == c.endpoint_id && d.generation != d.observed_generation)
                    .then_some(o.status)
            });
            let pending = c.state == "pendingAcceptance";
            let live = pending || c.state == "available";
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
            status: connection_status(&c.state),
            status_reason: None,
            private_ips: Vec::new(),
        };
        let status = serde_json::to_value(&observed)?;
        let existing = children.iter().find(|d| {
            d.spec_as::<EndpointConnectionSpec>()
                .is_ok_and(|s| s.cloud_endpoint_id == c.endpoint_id)
        });
        match existing {
            Some(d) => self.ctx.write_status(d, &status).await,
            None => {
                let spec = EndpointConnectionSpec {
                    cloud_endpoint_id: c.endpoint_id.clone(),
                    requester: c.owner.clone(),
                    region: None,
                };
                let new = NewDocument {
                    kind: ResourceKind::EndpointConnection,
                    id: linkplane_api::new_id(ResourceKind::EndpointConnection),
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
            .list_children(&conn.org_id, cluster)
            .await?
            .into_iter()
            .find(|d| d.kind == ResourceKind::PrivateLink)
            .map(|d| d.id))
    }

    /// Trigger the private link whose connection a client decided on (accept or reject
    /// through the API: a new generation of the connection), once per generation, within
    /// `watch_interval` instead of at the private link's next requeue.
    async fn watch_decisions(self: Arc<Self>, handle: Handle<ResourceId>) {
        let mut seen: HashMap<ResourceId, i64> = HashMap::new();
        let mut tick = tokio::time::interval(self.ctx.config.watch_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let docs = match self
                .ctx
                .store
                .list_unobserved(ResourceKind::EndpointConnection)
                .await
            {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "watch: listing decided endpoint connections failed");
                    continue;
                }
            };
            let mut next = HashMap::with_capacity(docs.len());
            for d in docs {
                if seen.get(&d.id) != Some(&d.generation) {
                    match self.private_link_of(&d).await {
                        Ok(Some(pl)) => handle.enqueue(pl),
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(connection = %d.id, error = %e, "watch: finding the connection's private link failed");
                            continue; // not seen: tried again at the next tick
                        }
                    }
                }
                next.insert(d.id, d.generation);
            }
            seen = next;
        }
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
        let docs = self.ctx.store.list_kind(ResourceKind::PrivateLink).await?;
        Ok(docs.into_iter().map(|d| d.id).collect())
    }

    async fn reconcile(&self, id: ResourceId) -> Result<Action> {
        let Some(doc) = self.ctx.store.get_document_by_id(&id).await? else {
            return Ok(Action::Done);
        };
        let Some((cluster, _)) = self.ctx.local_cluster_of(&doc).await? else {
            return Ok(Action::Done);
        };
        if doc.deletion_requested_at.is_some() {
            return self.delete(&doc, &cluster.id).await;
        }
        let Some(provider) = self.ctx.provider.clone() else {
            self.record(&doc, ProvisioningStatus::Failed, self.ctx.disabled())
                .await?;
            return Ok(Action::Done);
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
        self.ctx.ensure_finalizer(&doc, FINALIZER).await?;
        let spec: PrivateLinkSpec = doc.spec_as()?;
        let req = EndpointServiceRequest {
            cluster_id: cluster.id.clone(),
            allowed_principals: spec.allowed_principals.iter().map(|p| p.as_str()).collect(),
            regions: spec.regions.iter().map(|r| r.to_string()).collect(),
            auto_accept: spec.auto_accept,
        };
        match provider.ensure_endpoint_service(&req).await {
            Ok(info) => {
                let v = status_json(
                    ProvisioningStatus::Available,
                    None,
                    json!({
                        "serviceName": info.service_name,
                        "availabilityZones": info.availability_zones,
                    }),
                )?;
                self.ctx.write_status(&doc, &v).await?;
            }
            Err(ProviderError::Refused(reason) | ProviderError::NotFound(reason)) => {
                self.record(&doc, ProvisioningStatus::Failed, reason)
                    .await?;
                return Ok(Action::Done);
            }
            Err(e) => return Err(e.into()),
        }
        self.sync_connections(&doc, &cluster.id, spec.auto_accept)
            .await?;
        Ok(Action::RequeueAfter(self.ctx.config.poll_interval))
    }
}
