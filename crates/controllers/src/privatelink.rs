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

use linkplane_reconciler::{Action, Handle, Reconcile};
use linkplane_store::{Document, NewDocument};
use serde_json::{Value, json};

use crate::context::{ChangeFeed, Context, ControllerError, Result};
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
            .list_children_of_kinds(&doc.org_id, cluster, &[ResourceKind::EndpointConnection])
            .await?;
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
            Some(d) => {
                // A decision made through the API since this pass listed the connections is
                // a new generation whose status is the desired one: the store writes a status
                // only for the generation read, so it is kept, and its change wakes the pass
                // that applies it.
                self.ctx.write_status(d, &status).await
            }
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
        self.ctx.local_child_ids(ResourceKind::PrivateLink).await
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

#[cfg(test)]
mod tests {
    //! The controller reacts to events, not to polls: with its requeue and the watchers'
    //! fallback poll set to a minute, a new endpoint must show on `/v1` and an accept must
    //! reach the provider within seconds.
    use std::future::IntoFuture as _;
    use std::time::{Duration, Instant};

    use linkplane_localcloud::Principal;
    use linkplane_localcloud::types::{CreateEndpoint, CreateSubnet, CreateVpc};
    use serde_json::{Value, json};

    use crate::{ControllersConfig, Plane, PlaneConfig};

    struct Gc(linkplane_localcloud::Prefix);

    impl Drop for Gc {
        fn drop(&mut self) {
            linkplane_localcloud::gc(&self.0);
        }
    }

    struct Api {
        http: reqwest::Client,
        base: String,
        token: String,
    }

    impl Api {
        async fn call(&self, m: reqwest::Method, path: &str, body: Option<Value>) -> Value {
            let mut req = self
                .http
                .request(m.clone(), format!("{}{path}", self.base))
                .bearer_auth(&self.token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{m} {path}: {status} {v}");
            v
        }

        async fn get(&self, path: &str) -> Value {
            self.call(reqwest::Method::GET, path, None).await
        }

        /// Polls every 20 ms until `pred` holds; the time it took.
        async fn until(
            &self,
            path: &str,
            within: Duration,
            pred: impl Fn(&Value) -> bool,
        ) -> Duration {
            let start = Instant::now();
            loop {
                let v = self.get(path).await;
                if pred(&v) {
                    return start.elapsed();
                }
                assert!(
                    start.elapsed() < within,
                    "GET {path}: still {v} after {within:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_endpoint_and_an_accept_are_acted_on_at_once_not_at_the_requeue() {
        if !linkplane_netns::testing::require_root("privatelink-events") {
            return;
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let prefix =
            linkplane_localcloud::Prefix::parse(&linkplane_netns::testing::unique_prefix())
                .unwrap();
        let gc = Gc(prefix.clone());
        let dir = tempfile::tempdir().unwrap();
        let requeue = Duration::from_secs(60);
        let plane = Plane::start(PlaneConfig {
            data_dir: dir.path().to_owned(),
            api: linkplane_api::Config::default(),
            prefix,
            controllers: ControllersConfig {
                resync: requeue,
                watch_interval: requeue,
                poll_interval: requeue,
                peering_retry_after: requeue,
            },
            disable_localcloud: false,
        })
        .await
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = Api {
            http: reqwest::Client::new(),
            base: format!(
                "http://{}/v1/organizations/{}",
                listener.local_addr().unwrap(),
                plane.bootstrap().organization_id
            ),
            token: std::fs::read_to_string(&plane.bootstrap().admin_token_file)
                .unwrap()
                .trim()
                .to_owned(),
        };
        let server = tokio::spawn(axum::serve(listener, plane.router()).into_future());
        let engine = plane.engine().cloned().expect("localcloud runs as root");
        let customer = Principal::parse("arn:aws:iam::222222222222:root").unwrap();

        let c = api
            .call(
                reqwest::Method::POST,
                "/clusters",
                Some(
                    json!({"name": "events", "cloudProvider": "LOCAL", "type": "DEDICATED",
                            "region": "us-east-1", "vpcSubnetRange": "10.70.0.0/16"}),
                ),
            )
            .await;
        let cid = c["id"].as_str().unwrap().to_owned();
        api.until(&format!("/clusters/{cid}"), Duration::from_secs(60), |v| {
            v["status"] == "CREATED"
        })
        .await;
        let pl = format!("/clusters/{cid}/private-link");
        api.call(
            reqwest::Method::PUT,
            &pl,
            Some(json!({"allowedPrincipals": [customer.arn()]})),
        )
        .await;
        api.until(&pl, Duration::from_secs(10), |v| v["status"] == "AVAILABLE")
            .await;
        let service_name = api.get(&pl).await["serviceName"]
            .as_str()
            .unwrap()
            .to_owned();
        // The controller's last pass asked for the next one in a minute: nothing but the
        // provider's event can bring the endpoint to /v1 in time.
        tokio::time::sleep(Duration::from_millis(300)).await;

        let vpc = engine
            .create_vpc(
                &customer,
                CreateVpc {
                    cidr_block: "10.71.0.0/16".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let subnet = engine
            .create_subnet(
                &customer,
                CreateSubnet {
                    vpc_id: vpc.vpc_id.clone(),
                    cidr_block: "10.71.1.0/24".into(),
                    availability_zone: "us-east-1a".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let ep = engine
            .create_endpoint(
                &customer,
                CreateEndpoint {
                    vpc_id: vpc.vpc_id.clone(),
                    service_name,
                    subnet_ids: vec![subnet.subnet_id],
                    security_group_ids: vec![],
                    private_dns_enabled: Some(false),
                },
            )
            .await
            .unwrap();
        let eid = ep.vpc_endpoint_id.clone();
        let conns = format!("{pl}/connections");
        let shown = api
            .until(&conns, Duration::from_secs(5), |v| {
                v["items"].as_array().is_some_and(|a| {
                    a.iter().any(|c| {
                        c["cloudEndpointId"] == eid.as_str() && c["status"] == "PENDING_ACCEPTANCE"
                    })
                })
            })
            .await;

        api.call(
            reqwest::Method::POST,
            &format!("{conns}/{eid}/accept"),
            Some(json!({})),
        )
        .await;
        let start = Instant::now();
        loop {
            let e = engine.get_endpoint(&customer, &eid).await.unwrap();
            if e.state == "available" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the accept did not reach the provider in 5 s (endpoint {})",
                e.state
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let accepted = start.elapsed();
        eprintln!("endpoint on /v1 after {shown:?}, available {accepted:?} after the accept");
        // The customer deletes the endpoint: the connection shows DELETED as promptly.
        engine.delete_endpoint(&customer, &eid).await.unwrap();
        api.until(&conns, Duration::from_secs(5), |v| {
            v["items"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|c| c["cloudEndpointId"] == eid.as_str() && c["status"] == "DELETED")
            })
        })
        .await;

        server.abort();
        plane.shutdown().await;
        drop(gc);
    }
}
