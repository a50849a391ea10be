//! Request handlers, one module per resource family, and the helpers they share.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use linkplane_model::{
    Cidr, ClusterContext, ClusterSpec, ResourceId, ResourceKind, TakenCidr,
    TransitGatewayAttachmentSpec, VpcPeeringSpec, VpnConnectionSpec,
};
use linkplane_store::{Document, IdempotencyRecord, NewDocument, ParentGuard, StoreError};
use serde::Serialize;

use crate::extract::{IdempotencyKey, Principal};
use crate::problem::{ApiError, ApiResult};
use crate::state::{AppState, Connections, new_id};

pub mod agents;
pub mod clusters;
pub mod connections;
pub mod deployments;
pub mod organizations;

/// A JSON response with an optional ETag.
pub(crate) fn json_response(
    status: StatusCode,
    body: String,
    etag: Option<String>,
    location: Option<String>,
) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(e) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        h.insert(header::ETAG, e);
    }
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        h.insert(header::LOCATION, l);
    }
    resp
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> ApiResult<String> {
    serde_json::to_string(v).map_err(|e| ApiError::Internal(format!("serialize response: {e}")))
}

pub(crate) fn to_value<T: Serialize>(v: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| ApiError::Internal(format!("serialize: {e}")))
}

/// 200 with the resource and its ETag.
pub(crate) fn ok_doc<T: Serialize>(view: &T, doc: &Document) -> ApiResult<Response> {
    Ok(json_response(
        StatusCode::OK,
        to_json(view)?,
        Some(doc.etag()),
        None,
    ))
}

pub(crate) fn ok_json<T: Serialize>(view: &T) -> ApiResult<Response> {
    Ok(json_response(StatusCode::OK, to_json(view)?, None, None))
}

/// Parse a path id; an id that cannot exist is simply not found.
pub(crate) fn path_id(s: &str, kind: ResourceKind) -> ApiResult<ResourceId> {
    ResourceId::parse(s).map_err(|_| ApiError::not_found(format!("{} {s:?}", kind.title())))
}

/// Load a document of `kind` in `org` or answer 404.
pub(crate) async fn load(
    state: &AppState,
    kind: ResourceKind,
    org: &ResourceId,
    id: &str,
) -> ApiResult<Document> {
    let rid = path_id(id, kind)?;
    state
        .store
        .get_document(kind, org, &rid)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{} {id}", kind.title())))
}

/// Load a document of `kind` that belongs to `cluster`.
pub(crate) async fn load_child(
    state: &AppState,
    kind: ResourceKind,
    org: &ResourceId,
    cluster: &ResourceId,
    id: &str,
) -> ApiResult<Document> {
    let d = load(state, kind, org, id).await?;
    if d.parent_id.as_ref() != Some(cluster) {
        return Err(ApiError::not_found(format!("{} {id}", kind.title())));
    }
    Ok(d)
}

pub(crate) async fn load_cluster(
    state: &AppState,
    org: &ResourceId,
    id: &str,
) -> ApiResult<(Document, ClusterSpec)> {
    let d = load(state, ResourceKind::Cluster, org, id).await?;
    let spec = d.spec_as()?;
    Ok((d, spec))
}

/// What a create validates against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ContextNeeds<'a> {
    /// The cluster and every live connection (CIDR overlaps across connections).
    Connections,
    /// Only whether this one id is a live connection of the cluster (a route's target): a
    /// single lookup, however many connections and routes the cluster has.
    RouteTarget(Option<&'a ResourceId>),
}

/// The validation context for a route: the cluster, and its target if the target is a
/// live connection of this cluster.
pub(crate) async fn route_context(
    state: &AppState,
    org: &ResourceId,
    cluster: &Document,
    spec: &ClusterSpec,
    target: Option<&ResourceId>,
) -> ApiResult<ClusterContext> {
    let mut ctx = ClusterContext {
        cluster_id: cluster.id.clone(),
        cluster: spec.clone(),
        taken: vec![],
        route_targets: vec![],
    };
    if let Some(t) = target
        && let Some(d) = state.store.get_document_by_id(t).await?
        && &d.org_id == org
        && d.parent_id.as_ref() == Some(&cluster.id)
        && d.deletion_requested_at.is_none()
        && matches!(
            d.kind,
            ResourceKind::VpcPeeringConnection
                | ResourceKind::TransitGatewayAttachment
                | ResourceKind::VpnConnection
        )
    {
        ctx.route_targets.push(d.id);
    }
    Ok(ctx)
}

/// The CIDRs a connection takes (`None` for a kind that is not a connection).
fn connection_cidrs(
    kind: ResourceKind,
    spec: &serde_json::Value,
) -> linkplane_store::Result<Option<Vec<Cidr>>> {
    let parse = |what: &str, e: serde_json::Error| {
        linkplane_store::StoreError::Corrupt(format!("{what} spec: {e}"))
    };
    Ok(match kind {
        ResourceKind::VpcPeeringConnection => {
            let s: VpcPeeringSpec =
                serde_json::from_value(spec.clone()).map_err(|e| parse("peering", e))?;
            Some(vec![s.peer_cidr])
        }
        ResourceKind::TransitGatewayAttachment => {
            let s: TransitGatewayAttachmentSpec =
                serde_json::from_value(spec.clone()).map_err(|e| parse("attachment", e))?;
            Some(s.cidrs)
        }
        ResourceKind::VpnConnection => {
            let s: VpnConnectionSpec =
                serde_json::from_value(spec.clone()).map_err(|e| parse("VPN", e))?;
            Some(s.static_prefixes)
        }
        _ => None,
    })
}

/// What validating a connection needs: the cluster and its live connections (from the
/// cache while it is exact, see [`crate::state::ConnectionsCache`]).
pub(crate) async fn cluster_context(
    state: &AppState,
    org: &ResourceId,
    cluster: &Document,
    spec: &ClusterSpec,
) -> ApiResult<ClusterContext> {
    let known = match state.connections.take(&cluster.id, cluster.child_version) {
        Some(c) => c,
        None => read_connections(state, org, cluster).await?,
    };
    Ok(ClusterContext {
        cluster_id: cluster.id.clone(),
        cluster: spec.clone(),
        taken: known.taken,
        route_targets: known.route_targets,
    })
}

/// Read the cluster's live connections (only the connections: its routes, possibly
/// thousands, play no part).
async fn read_connections(
    state: &AppState,
    org: &ResourceId,
    cluster: &Document,
) -> ApiResult<Connections> {
    let children = state
        .store
        .list_children_of_kinds(
            org,
            &cluster.id,
            &[
                ResourceKind::VpcPeeringConnection,
                ResourceKind::TransitGatewayAttachment,
                ResourceKind::VpnConnection,
            ],
        )
        .await?;
    let mut out = Connections {
        child_version: cluster.child_version,
        taken: vec![],
        route_targets: vec![],
    };
    for c in children
        .iter()
        .filter(|c| c.deletion_requested_at.is_none())
    {
        if let Some(cidrs) = connection_cidrs(c.kind, &c.spec)? {
            out.taken.extend(cidrs.into_iter().map(|cidr| TakenCidr {
                owner: c.id.clone(),
                cidr,
            }));
            out.route_targets.push(c.id.clone());
        }
    }
    Ok(out)
}

/// After `new` was created under `cluster` (whose `child_version` was `seen`, and the
/// validation context `ctx`), remember the cluster's connections as of the next version.
fn remember_connections(
    state: &AppState,
    cluster: &ResourceId,
    seen: i64,
    ctx: ClusterContext,
    new: &linkplane_store::NewDocument,
) {
    let mut next = Connections {
        child_version: seen + 1,
        taken: ctx.taken,
        route_targets: ctx.route_targets,
    };
    match connection_cidrs(new.kind, &new.spec) {
        Ok(Some(cidrs)) => {
            next.taken.extend(cidrs.into_iter().map(|cidr| TakenCidr {
                owner: new.id.clone(),
                cidr,
            }));
            next.route_targets.push(new.id.clone());
        }
        Ok(None) => {}
        // Not expected (the spec was just built from a validated request): read it again.
        Err(_) => return,
    }
    state.connections.put(cluster.clone(), next);
}

// --------------------------------------------------------------------------- creation

/// A validated resource, ready to store.
pub(crate) struct Draft {
    pub kind: ResourceKind,
    pub spec: serde_json::Value,
    pub status: serde_json::Value,
    pub secret: Option<linkplane_store::SecretString>,
    pub unique_key: Option<String>,
}

/// Everything about the request a create needs for idempotency.
pub(crate) struct CreateRequest<'a> {
    pub org: ResourceId,
    pub path: &'a str,
    pub key: &'a IdempotencyKey,
    pub body_hash: &'a str,
}

impl<'a> CreateRequest<'a> {
    pub(crate) fn new(
        org: ResourceId,
        uri: &'a axum::http::Uri,
        key: &'a IdempotencyKey,
        body_hash: &'a str,
    ) -> Self {
        Self {
            org,
            path: uri.path(),
            key,
            body_hash,
        }
    }

    fn route(&self) -> String {
        format!("POST {}", self.path)
    }

    /// The stored first response if this key was used before (422 if for another body).
    pub(crate) async fn replay(&self, state: &AppState) -> ApiResult<Option<Response>> {
        let Some(key) = &self.key.0 else {
            return Ok(None);
        };
        let Some(rec) = state
            .store
            .get_idempotency(&self.org, &self.route(), key)
            .await?
        else {
            return Ok(None);
        };
        if rec.request_hash != self.body_hash {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "this key was already used with a different request body; use a new key",
            ));
        }
        let status = StatusCode::from_u16(rec.status).unwrap_or(StatusCode::OK);
        let mut resp = json_response(status, rec.body, None, None);
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        Ok(Some(resp))
    }

    pub(crate) fn record(&self, status: StatusCode, body: &str) -> Option<IdempotencyRecord> {
        self.key.0.as_ref().map(|k| IdempotencyRecord {
            org_id: self.org.clone(),
            route: self.route(),
            key: k.clone(),
            request_hash: self.body_hash.to_owned(),
            status: status.as_u16(),
            body: body.to_owned(),
            created_at: Utc::now(),
        })
    }

    /// After the store said another request with the key won the race: replay it.
    pub(crate) async fn replay_after_race(&self, state: &AppState) -> ApiResult<Response> {
        self.replay(state).await?.ok_or_else(|| {
            ApiError::Conflict("a request with this Idempotency-Key is in progress; retry".into())
        })
    }
}

/// Build a new document from a draft.
pub(crate) fn new_document(
    draft: Draft,
    org: &ResourceId,
    parent: Option<&ResourceId>,
) -> NewDocument {
    NewDocument {
        kind: draft.kind,
        id: new_id(draft.kind),
        org_id: org.clone(),
        parent_id: parent.cloned(),
        unique_key: draft.unique_key,
        system: false,
        spec: draft.spec,
        status: draft.status,
        secret: draft.secret,
        created_at: Utc::now(),
    }
}

/// Create a connection-like child of a cluster: owner only; serialized per cluster in this
/// process; validated against the cluster and its live connections; stored under an
/// optimistic lock on the cluster's children (re-validated on a concurrent change from
/// another process); idempotent with `Idempotency-Key`.
pub(crate) async fn create_cluster_child<V: Serialize>(
    state: &AppState,
    principal: &Principal,
    req: &CreateRequest<'_>,
    cluster_id: &str,
    build: impl Fn(&ClusterContext) -> ApiResult<Draft>,
    view: impl Fn(&Document) -> linkplane_store::Result<V>,
) -> ApiResult<Response> {
    create_cluster_child_in(
        state,
        principal,
        req,
        cluster_id,
        ContextNeeds::Connections,
        build,
        view,
    )
    .await
}

/// [`create_cluster_child`] with the context the resource needs.
pub(crate) async fn create_cluster_child_in<V: Serialize>(
    state: &AppState,
    principal: &Principal,
    req: &CreateRequest<'_>,
    cluster_id: &str,
    needs: ContextNeeds<'_>,
    build: impl Fn(&ClusterContext) -> ApiResult<Draft>,
    view: impl Fn(&Document) -> linkplane_store::Result<V>,
) -> ApiResult<Response> {
    principal.require_owner()?;
    if let Some(r) = req.replay(state).await? {
        return Ok(r);
    }
    // Proven to be this organization's cluster first, so nobody can queue behind another
    // organization's cluster id; then one create at a time per cluster in this process.
    let (cluster, _) = load_cluster(state, &req.org, cluster_id).await?;
    let _serial = state.cluster_locks.lock(cluster.id.as_str()).await;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (cluster, spec) = load_cluster(state, &req.org, cluster_id).await?;
        let ctx = match needs {
            ContextNeeds::Connections => cluster_context(state, &req.org, &cluster, &spec).await?,
            ContextNeeds::RouteTarget(t) => {
                route_context(state, &req.org, &cluster, &spec, t).await?
            }
        };
        let remember = matches!(needs, ContextNeeds::Connections);
        let new = new_document(build(&ctx)?, &req.org, Some(&cluster.id));
        let doc = Document::initial(&new);
        let body = to_json(&view(&doc)?)?;
        let guard = ParentGuard {
            kind: ResourceKind::Cluster,
            id: cluster.id.clone(),
            child_version: Some(cluster.child_version),
        };
        let rec = req.record(StatusCode::CREATED, &body);
        match state
            .store
            .create_documents(std::slice::from_ref(&new), Some(&guard), rec.as_ref())
            .await
        {
            Ok(_) => {
                if remember {
                    remember_connections(state, &cluster.id, cluster.child_version, ctx, &new);
                }
                let location = format!("{}/{}", req.path, doc.id);
                return Ok(json_response(
                    StatusCode::CREATED,
                    body,
                    Some(doc.etag()),
                    Some(location),
                ));
            }
            Err(StoreError::Conflict(_)) if attempt < 5 => continue,
            Err(StoreError::IdempotencyKeyTaken) => return req.replay_after_race(state).await,
            Err(StoreError::AlreadyExists(_)) => {
                return Err(ApiError::Conflict(format!(
                    "this cluster already has such a {}",
                    new.kind.title()
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// 204 when gone, 202 with the resource when a reconciler finishes the deletion.
pub(crate) fn deleted<V: Serialize>(
    outcome: linkplane_store::DeleteOutcome,
    view: impl Fn(&Document) -> linkplane_store::Result<V>,
) -> ApiResult<Response> {
    match outcome {
        linkplane_store::DeleteOutcome::Deleted => Ok(StatusCode::NO_CONTENT.into_response()),
        linkplane_store::DeleteOutcome::Marked(d) => Ok(json_response(
            StatusCode::ACCEPTED,
            to_json(&view(&d)?)?,
            Some(d.etag()),
            None,
        )),
    }
}
