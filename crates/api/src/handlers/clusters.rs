//! Clusters, their private link (endpoint service) and its endpoint connections.

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use linkplane_model::*;
use linkplane_store::{Document, NewDocument, StoreError};

use super::*;
use crate::extract::{IfMatchHeader, JsonBody, Pagination, PathIds};
use crate::problem::Problem;
use crate::views;

/// Kinds whose existence blocks deleting a cluster (system children are removed with it).
const CLUSTER_BLOCKERS: [ResourceKind; 7] = [
    ResourceKind::Deployment,
    ResourceKind::VpcPeeringConnection,
    ResourceKind::Route,
    ResourceKind::TransitGatewayAttachment,
    ResourceKind::OutboundEndpoint,
    ResourceKind::VpnConnection,
    ResourceKind::DnsResolution,
];

fn cluster_view(
    state: &AppState,
) -> impl Fn(&Document) -> linkplane_store::Result<views::Cluster> + '_ {
    move |d| views::Cluster::of(d, &state.config.base_domain)
}

#[utoipa::path(get, path = "/v1/organizations/{organizationId}/clusters", tag = "clusters",
    params(("organizationId" = String, Path), crate::extract::ListParams),
    responses((status = 200, body = views::ClusterList),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_clusters(
    State(state): State<AppState>,
    p: Principal,
    PathIds(org): PathIds<String>,
    Pagination(page): Pagination,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let page = state
        .store
        .list_documents(ResourceKind::Cluster, &org, None, &page)
        .await?;
    let view = cluster_view(&state);
    ok_json(&views::ClusterList {
        items: page.items.iter().map(view).collect::<Result<_, _>>()?,
        next_cursor: page.next_cursor,
    })
}

/// Create a cluster. AWS clusters come with the preconfigured outbound endpoints.
#[utoipa::path(post, path = "/v1/organizations/{organizationId}/clusters", tag = "clusters",
    params(("organizationId" = String, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe creation")),
    request_body = CreateClusterRequest,
    responses((status = 201, body = views::Cluster),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_cluster(
    State(state): State<AppState>,
    p: Principal,
    PathIds(org): PathIds<String>,
    OriginalUri(uri): OriginalUri,
    key: IdempotencyKey,
    body: JsonBody<CreateClusterRequest>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    p.require_owner()?;
    let req = CreateRequest::new(org.clone(), &uri, &key, &body.body_hash);
    if let Some(r) = req.replay(&state).await? {
        return Ok(r);
    }
    let spec = body.value.validate()?;
    let cluster = new_document(
        Draft {
            kind: ResourceKind::Cluster,
            spec: to_value(&spec)?,
            status: to_value(&ClusterObserved::default())?,
            secret: None,
            unique_key: None,
        },
        &org,
        None,
    );
    let mut docs = vec![cluster.clone()];
    if spec.cloud_provider == CloudProvider::Aws {
        for e in preconfigured_outbound_endpoints(&spec.region) {
            docs.push(NewDocument {
                system: true,
                unique_key: Some(format!("{}/{}", cluster.id, e.service_name)),
                ..new_document(
                    Draft {
                        kind: ResourceKind::OutboundEndpoint,
                        spec: to_value(&e)?,
                        status: to_value(&Provisioning::default())?,
                        secret: None,
                        unique_key: None,
                    },
                    &org,
                    Some(&cluster.id),
                )
            });
        }
    }
    let doc = Document::initial(&cluster);
    let body = to_json(&cluster_view(&state)(&doc)?)?;
    let rec = req.record(StatusCode::CREATED, &body);
    match state
        .store
        .create_documents(&docs, None, rec.as_ref())
        .await
    {
        Ok(_) => Ok(json_response(
            StatusCode::CREATED,
            body,
            Some(doc.etag()),
            Some(format!("{}/{}", uri.path(), doc.id)),
        )),
        Err(StoreError::IdempotencyKeyTaken) => req.replay_after_race(&state).await,
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/v1/organizations/{organizationId}/clusters/{clusterId}", tag = "clusters",
    params(("organizationId" = String, Path), ("clusterId" = String, Path)),
    responses((status = 200, body = views::Cluster, headers(("ETag" = String))),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_cluster(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, id)): PathIds<(String, String)>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let d = load(&state, ResourceKind::Cluster, &org, &id).await?;
    ok_doc(&cluster_view(&state)(&d)?, &d)
}

/// Change a cluster's name or private-only flag (`If-Match` honoured).
#[utoipa::path(patch, path = "/v1/organizations/{organizationId}/clusters/{clusterId}", tag = "clusters",
    params(("organizationId" = String, Path), ("clusterId" = String, Path),
           ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateClusterRequest,
    responses((status = 200, body = views::Cluster),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update_cluster(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, id)): PathIds<(String, String)>,
    if_match: IfMatchHeader,
    body: JsonBody<UpdateClusterRequest>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    p.require_owner()?;
    let mut tries = 0;
    loop {
        tries += 1;
        let (d, spec) = load_cluster(&state, &org, &id).await?;
        let expected = if_match.generation(&d.id)?;
        if expected.is_some_and(|g| g != d.generation) {
            return Err(StoreError::PreconditionFailed {
                current: d.generation,
            }
            .into());
        }
        let new_spec = body.value.apply(&spec)?;
        let mut observed: ClusterObserved = d.status_as()?;
        observed.status = cluster_transition(observed.status, ClusterEvent::SpecChanged)
            .map_err(|e| ApiError::Conflict(format!("cluster {id}: {e}")))?;
        let r = state
            .store
            .update_document(
                ResourceKind::Cluster,
                &org,
                &d.id,
                Some(d.generation),
                &to_value(&new_spec)?,
                Some(&to_value(&observed)?),
                Utc::now(),
            )
            .await;
        match r {
            // Without If-Match the client asked for last-writer-wins: re-read and retry.
            Err(StoreError::PreconditionFailed { .. }) if expected.is_none() && tries < 5 => {}
            r => {
                let u = r?;
                return ok_doc(&cluster_view(&state)(&u)?, &u);
            }
        }
    }
}

/// Delete a cluster. Refused (409) while it has deployments or connections.
#[utoipa::path(delete, path = "/v1/organizations/{organizationId}/clusters/{clusterId}", tag = "clusters",
    params(("organizationId" = String, Path), ("clusterId" = String, Path),
           ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted"),
              (status = 202, body = views::Cluster, description = "Deletion in progress"),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn delete_cluster(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, id)): PathIds<(String, String)>,
    if_match: IfMatchHeader,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    p.require_owner()?;
    let d = load(&state, ResourceKind::Cluster, &org, &id).await?;
    let out = state
        .store
        .delete_document(
            ResourceKind::Cluster,
            &org,
            &d.id,
            if_match.generation(&d.id)?,
            &CLUSTER_BLOCKERS,
            Utc::now(),
        )
        .await?;
    // A reconciler finishes the deletion; until then the cluster is DELETING (the view
    // says so from `deletionRequestedAt`, and the controller records it).
    deleted(out, cluster_view(&state))
}

// ------------------------------------------------------------------------ private link

fn private_link_view(
    cluster: &ClusterSpec,
) -> impl Fn(&Document) -> linkplane_store::Result<views::PrivateLink> + '_ {
    move |d| views::PrivateLink::of(d, cluster)
}

async fn find_private_link(
    state: &AppState,
    org: &ResourceId,
    cluster: &ResourceId,
) -> ApiResult<Option<Document>> {
    Ok(state
        .store
        .list_children_of_kinds(org, cluster, &[ResourceKind::PrivateLink])
        .await?
        .into_iter()
        .next())
}

#[utoipa::path(get, path = "/v1/organizations/{organizationId}/clusters/{clusterId}/private-link", tag = "private-link",
    params(("organizationId" = String, Path), ("clusterId" = String, Path)),
    responses((status = 200, body = views::PrivateLink),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_private_link(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, cid)): PathIds<(String, String)>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let (c, spec) = load_cluster(&state, &org, &cid).await?;
    let d = find_private_link(&state, &org, &c.id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "cluster {cid} has no private link; configure it with PUT on this path"
            ))
        })?;
    ok_doc(&private_link_view(&spec)(&d)?, &d)
}

/// Configure the cluster's endpoint service (create or replace; `If-Match` honoured).
#[utoipa::path(put, path = "/v1/organizations/{organizationId}/clusters/{clusterId}/private-link", tag = "private-link",
    params(("organizationId" = String, Path), ("clusterId" = String, Path),
           ("If-Match" = Option<String>, Header)),
    request_body = PutPrivateLinkRequest,
    responses((status = 200, body = views::PrivateLink, description = "Replaced"),
              (status = 201, body = views::PrivateLink, description = "Created"),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put_private_link(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, cid)): PathIds<(String, String)>,
    if_match: IfMatchHeader,
    body: JsonBody<PutPrivateLinkRequest>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    p.require_owner()?;
    let (c, cspec) = load_cluster(&state, &org, &cid).await?;
    let spec = body.value.validate(&cspec)?;
    let view = private_link_view(&cspec);
    if let Some(d) = find_private_link(&state, &org, &c.id).await? {
        let expected = if_match.generation(&d.id)?;
        let mut generation = expected.unwrap_or(d.generation);
        for tries in 1.. {
            let r = state
                .store
                .update_document(
                    ResourceKind::PrivateLink,
                    &org,
                    &d.id,
                    Some(generation),
                    &to_value(&spec)?,
                    None,
                    Utc::now(),
                )
                .await;
            match r {
                Err(StoreError::PreconditionFailed { current })
                    if expected.is_none() && tries < 5 =>
                {
                    generation = current;
                }
                r => {
                    let u = r?;
                    return ok_doc(&view(&u)?, &u);
                }
            }
        }
    }
    if if_match.0.as_deref().is_some_and(|v| v.trim() != "*") {
        return Err(ApiError::PreconditionFailed(
            "If-Match names a version, but the cluster has no private link yet".into(),
        ));
    }
    let new = NewDocument {
        unique_key: Some(c.id.to_string()),
        ..new_document(
            Draft {
                kind: ResourceKind::PrivateLink,
                spec: to_value(&spec)?,
                status: to_value(&PrivateLinkObserved::default())?,
                secret: None,
                unique_key: None,
            },
            &org,
            Some(&c.id),
        )
    };
    let guard = linkplane_store::ParentGuard {
        kind: ResourceKind::Cluster,
        id: c.id.clone(),
        child_version: None,
    };
    match state
        .store
        .create_documents(std::slice::from_ref(&new), Some(&guard), None)
        .await
    {
        Ok(docs) => {
            let d = docs
                .first()
                .ok_or_else(|| ApiError::Internal("create returned nothing".into()))?;
            Ok(json_response(
                StatusCode::CREATED,
                to_json(&view(d)?)?,
                Some(d.etag()),
                None,
            ))
        }
        Err(StoreError::AlreadyExists(_)) => Err(ApiError::Conflict(
            "the private link was created concurrently; GET it and retry with If-Match".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(delete, path = "/v1/organizations/{organizationId}/clusters/{clusterId}/private-link", tag = "private-link",
    params(("organizationId" = String, Path), ("clusterId" = String, Path),
           ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted"),
              (status = 202, body = views::PrivateLink, description = "Deletion in progress"),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn delete_private_link(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, cid)): PathIds<(String, String)>,
    if_match: IfMatchHeader,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    p.require_owner()?;
    let (c, cspec) = load_cluster(&state, &org, &cid).await?;
    let d = find_private_link(&state, &org, &c.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("cluster {cid} has no private link")))?;
    let out = state
        .store
        .delete_document(
            ResourceKind::PrivateLink,
            &org,
            &d.id,
            if_match.generation(&d.id)?,
            &[],
            Utc::now(),
        )
        .await?;
    deleted(out, private_link_view(&cspec))
}

// ---------------------------------------------------------------- endpoint connections

#[utoipa::path(get, path = "/v1/organizations/{organizationId}/clusters/{clusterId}/private-link/connections", tag = "private-link",
    params(("organizationId" = String, Path), ("clusterId" = String, Path), crate::extract::ListParams),
    responses((status = 200, body = views::EndpointConnectionList),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_endpoint_connections(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, cid)): PathIds<(String, String)>,
    Pagination(page): Pagination,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let (c, _) = load_cluster(&state, &org, &cid).await?;
    let page = state
        .store
        .list_documents(ResourceKind::EndpointConnection, &org, Some(&c.id), &page)
        .await?;
    ok_json(&views::EndpointConnectionList {
        items: page
            .items
            .iter()
            .map(views::EndpointConnection::of)
            .collect::<Result<_, _>>()?,
        next_cursor: page.next_cursor,
    })
}

#[utoipa::path(get, path = "/v1/organizations/{organizationId}/clusters/{clusterId}/private-link/connections/{endpointId}", tag = "private-link",
    params(("organizationId" = String, Path), ("clusterId" = String, Path), ("endpointId" = String, Path)),
    responses((status = 200, body = views::EndpointConnection),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_endpoint_connection(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, cid, eid)): PathIds<(String, String, String)>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let (c, _) = load_cluster(&state, &org, &cid).await?;
    let d = load_connection(&state, &org, &c.id, &eid).await?;
    ok_doc(&views::EndpointConnection::of(&d)?, &d)
}

/// A connection by its id, or by the consumer's endpoint id (`vpce-…`).
async fn load_connection(
    state: &AppState,
    org: &ResourceId,
    cluster: &ResourceId,
    eid: &str,
) -> ApiResult<Document> {
    if !eid.starts_with("vpce-") {
        return load_child(state, ResourceKind::EndpointConnection, org, cluster, eid).await;
    }
    state
        .store
        .list_children_of_kinds(org, cluster, &[ResourceKind::EndpointConnection])
        .await?
        .into_iter()
        .find(|d| {
            d.spec_as::<linkplane_model::EndpointConnectionSpec>()
                .is_ok_and(|s| s.cloud_endpoint_id == eid)
        })
        .ok_or_else(|| ApiError::not_found(format!("endpoint connection {eid}")))
}

async fn decide(
    state: AppState,
    p: Principal,
    (org, cid, eid): (String, String, String),
    event: EndpointConnectionEvent,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    p.require_owner()?;
    let (c, _) = load_cluster(&state, &org, &cid).await?;
    let d = load_connection(&state, &org, &c.id, &eid).await?;
    let mut observed: EndpointConnectionObserved = d.status_as()?;
    let next = endpoint_connection_transition(observed.status, event)
        .map_err(|e| ApiError::Conflict(format!("endpoint connection {eid}: {e}")))?;
    if next == observed.status {
        return ok_doc(&views::EndpointConnection::of(&d)?, &d);
    }
    observed.status = next;
    // The decision is desired state for the provider: bump the generation so a
    // reconciler applies it.
    let u = state
        .store
        .update_document(
            ResourceKind::EndpointConnection,
            &org,
            &d.id,
            Some(d.generation),
            &d.spec,
            Some(&to_value(&observed)?),
            Utc::now(),
        )
        .await?;
    ok_doc(&views::EndpointConnection::of(&u)?, &u)
}

/// Accept a PENDING_ACCEPTANCE connection (idempotent; a REJECTED one cannot be accepted).
#[utoipa::path(post, path = "/v1/organizations/{organizationId}/clusters/{clusterId}/private-link/connections/{endpointId}/accept", tag = "private-link",
    params(("organizationId" = String, Path), ("clusterId" = String, Path), ("endpointId" = String, Path)),
    responses((status = 200, body = views::EndpointConnection),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn accept_endpoint_connection(
    State(state): State<AppState>,
    p: Principal,
    PathIds(ids): PathIds<(String, String, String)>,
) -> ApiResult<Response> {
    decide(state, p, ids, EndpointConnectionEvent::Accept).await
}

/// Reject a connection (idempotent).
#[utoipa::path(post, path = "/v1/organizations/{organizationId}/clusters/{clusterId}/private-link/connections/{endpointId}/reject", tag = "private-link",
    params(("organizationId" = String, Path), ("clusterId" = String, Path), ("endpointId" = String, Path)),
    responses((status = 200, body = views::EndpointConnection),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reject_endpoint_connection(
    State(state): State<AppState>,
    p: Principal,
    PathIds(ids): PathIds<(String, String, String)>,
) -> ApiResult<Response> {
    decide(state, p, ids, EndpointConnectionEvent::Reject).await
}
