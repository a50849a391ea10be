//! Network connections of a cluster: VPC peering, routes, transit gateway attachments,
//! outbound (PrivateLink) endpoints, VPN connections and DNS resolutions. Reads are open to
//! members; every write needs ORGANIZATION_OWNER.

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use chrono::Utc;
use linkplane_model::*;

use super::*;
use crate::extract::{IfMatchHeader, JsonBody, Pagination, PathIds};
use crate::problem::Problem;
use crate::views;

/// Generates list, get and delete handlers for a kind of cluster child.
macro_rules! child_reads_and_delete {
    ($kind:expr, $view:ty, $list:ident, $tag:literal, $coll:literal, $item:literal,
     $list_fn:ident, $get_fn:ident, $delete_fn:ident, $delete_check:expr) => {
        #[utoipa::path(get, path = $coll, tag = $tag,
            params(("organizationId" = String, Path), ("clusterId" = String, Path), crate::extract::ListParams),
            responses((status = 200, body = views::$list),
                      (status = "4XX", body = Problem, content_type = "application/problem+json")),
            security(("bearer" = [])))]
        pub async fn $list_fn(
            State(state): State<AppState>,
            p: Principal,
            PathIds((org, cid)): PathIds<(String, String)>,
            Pagination(page): Pagination,
        ) -> ApiResult<Response> {
            let org = p.org(&org)?;
            let (c, _) = load_cluster(&state, &org, &cid).await?;
            let page = state.store.list_documents($kind, &org, Some(&c.id), &page).await?;
            ok_json(&views::$list {
                items: page.items.iter().map(<$view>::of).collect::<Result<_, _>>()?,
                next_cursor: page.next_cursor,
            })
        }

        #[utoipa::path(get, path = $item, tag = $tag,
            params(("organizationId" = String, Path), ("clusterId" = String, Path), ("id" = String, Path)),
            responses((status = 200, body = $view, headers(("ETag" = String))),
                      (status = "4XX", body = Problem, content_type = "application/problem+json")),
            security(("bearer" = [])))]
        pub async fn $get_fn(
            State(state): State<AppState>,
            p: Principal,
            PathIds((org, cid, id)): PathIds<(String, String, String)>,
        ) -> ApiResult<Response> {
            let org = p.org(&org)?;
            let (c, _) = load_cluster(&state, &org, &cid).await?;
            let d = load_child(&state, $kind, &org, &c.id, &id).await?;
            ok_doc(&<$view>::of(&d)?, &d)
        }

        #[utoipa::path(delete, path = $item, tag = $tag,
            params(("organizationId" = String, Path), ("clusterId" = String, Path), ("id" = String, Path),
                   ("If-Match" = Option<String>, Header)),
            responses((status = 204, description = "Deleted"),
                      (status = 202, body = $view, description = "Deletion in progress"),
                      (status = "4XX", body = Problem, content_type = "application/problem+json")),
            security(("bearer" = [])))]
        pub async fn $delete_fn(
            State(state): State<AppState>,
            p: Principal,
            PathIds((org, cid, id)): PathIds<(String, String, String)>,
            if_match: IfMatchHeader,
        ) -> ApiResult<Response> {
            let org = p.org(&org)?;
            p.require_owner()?;
            let (c, _) = load_cluster(&state, &org, &cid).await?;
            let d = load_child(&state, $kind, &org, &c.id, &id).await?;
            let check: fn(&Document) -> ApiResult<()> = $delete_check;
            check(&d)?;
            let expected = if_match.generation(&d.id)?;
            if expected.is_some_and(|g| g != d.generation) {
                return Err(ApiError::PreconditionFailed(format!(
                    "{} {id} changed since that ETag; GET it again",
                    $kind.title()
                )));
            }
            // Routes through this connection go with it (issue 7: "removed with their
            // connection"), in the store's transaction: each route's reconciler then
            // withdraws it from the route tables.
            let out = state
                .store
                .delete_document($kind, &org, &d.id, expected, &[], Utc::now())
                .await?;
            deleted(out, <$view>::of)
        }
    };
}

fn no_check(_: &Document) -> ApiResult<()> {
    Ok(())
}

fn not_preconfigured(d: &Document) -> ApiResult<()> {
    if d.system {
        return Err(ApiError::Conflict(format!(
            "outbound endpoint {} is preconfigured on every AWS cluster and cannot be deleted",
            d.id
        )));
    }
    Ok(())
}

child_reads_and_delete!(
    ResourceKind::VpcPeeringConnection,
    views::VpcPeeringConnection,
    VpcPeeringConnectionList,
    "vpc-peering",
    "/v1/organizations/{organizationId}/clusters/{clusterId}/vpc-peering-connections",
    "/v1/organizations/{organizationId}/clusters/{clusterId}/vpc-peering-connections/{id}",
    list_peerings,
    get_peering,
    delete_peering,
    no_check
);
child_reads_and_delete!(
    ResourceKind::Route,
    views::Route,
    RouteList,
    "routes",
    "/v1/organizations/{organizationId}/clusters/{clusterId}/routes",
    "/v1/organizations/{organizationId}/clusters/{clusterId}/routes/{id}",
    list_routes,
    get_route,
    delete_route,
    no_check
);
child_reads_and_delete!(
    ResourceKind::TransitGatewayAttachment,
    views::TransitGatewayAttachment,
    TransitGatewayAttachmentList,
    "transit-gateways",
    "/v1/organizations/{organizationId}/clusters/{clusterId}/transit-gateway-attachments",
    "/v1/organizations/{organizationId}/clusters/{clusterId}/transit-gateway-attachments/{id}",
    list_tgw_attachments,
    get_tgw_attachment,
    delete_tgw_attachment,
    no_check
);
child_reads_and_delete!(
    ResourceKind::OutboundEndpoint,
    views::OutboundEndpoint,
    OutboundEndpointList,
    "outbound-endpoints",
    "/v1/organizations/{organizationId}/clusters/{clusterId}/outbound-endpoints",
    "/v1/organizations/{organizationId}/clusters/{clusterId}/outbound-endpoints/{id}",
    list_outbound_endpoints,
    get_outbound_endpoint,
    delete_outbound_endpoint,
    not_preconfigured
);
child_reads_and_delete!(
    ResourceKind::VpnConnection,
    views::VpnConnection,
    VpnConnectionList,
    "vpn",
    "/v1/organizations/{organizationId}/clusters/{clusterId}/vpn-connections",
    "/v1/organizations/{organizationId}/clusters/{clusterId}/vpn-connections/{id}",
    list_vpns,
    get_vpn,
    delete_vpn,
    no_check
);
child_reads_and_delete!(
    ResourceKind::DnsResolution,
    views::DnsResolution,
    DnsResolutionList,
    "dns",
    "/v1/organizations/{organizationId}/clusters/{clusterId}/dns-resolutions",
    "/v1/organizations/{organizationId}/clusters/{clusterId}/dns-resolutions/{id}",
    list_dns,
    get_dns,
    delete_dns,
    no_check
);

fn draft<S: serde::Serialize, O: serde::Serialize>(
    kind: ResourceKind,
    spec: &S,
    status: &O,
) -> ApiResult<Draft> {
    Ok(Draft {
        kind,
        spec: to_value(spec)?,
        status: to_value(status)?,
        secret: None,
        unique_key: None,
    })
}

/// Create a VPC peering connection (dedicated clusters). It starts PENDING; FAILED
/// peerings of the cluster are retried ("Astro will retry creating the peering request
/// whenever you create a new VPC connection").
#[utoipa::path(post, path = "/v1/organizations/{organizationId}/clusters/{clusterId}/vpc-peering-connections", tag = "vpc-peering",
    params(("organizationId" = String, Path), ("clusterId" = String, Path),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateVpcPeeringRequest,
    responses((status = 201, body = views::VpcPeeringConnection),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_peering(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, cid)): PathIds<(String, String)>,
    OriginalUri(uri): OriginalUri,
    key: IdempotencyKey,
    body: JsonBody<CreateVpcPeeringRequest>,
) -> ApiResult<Response> {
    let org = p.org(&org)?;
    let req = CreateRequest::new(org.clone(), &uri, &key, &body.body_hash);
    let resp = create_cluster_child(
        &state,
        &p,
        &req,
        &cid,
        |ctx| {
            let spec = body.value.validate(ctx)?;
            let status = VpcPeeringObserved {
                status_changed_at: Some(Utc::now()),
                ..Default::default()
            };
            draft(ResourceKind::VpcPeeringConnection, &spec, &status)
        },
        views::VpcPeeringConnection::of,
    )
    .await?;
    if resp.status() == axum::http::StatusCode::CREATED {
        retry_failed_peerings(&state, &org, &cid).await?;
    }
    Ok(resp)
}

async fn retry_failed_peerings(state: &AppState, org: &ResourceId, cid: &str) -> ApiResult<()> {
    let cluster = path_id(cid, ResourceKind::Cluster)?;
    for d in state
        .store
        .list_children_of_kinds(org, &cluster, &[ResourceKind::VpcPeeringConnection])
        .await?
    {
        if d.deletion_requested_at.is_some() {
            continue;
        }
        let mut s: VpcPeeringObserved = d.status_as()?;
        if let Ok(next) = peering_transition(s.status, PeeringEvent::NewConnectionCreated) {
            s.status = next;
            s.status_reason = Some("retried because a new VPC connection was created".into());
            s.activation_instructions = None;
            s.status_changed_at = Some(Utc::now());
            let r = state
                .store
                .update_document(
                    d.kind,
                    org,
                    &d.id,
                    Some(d.generation),
                    &d.spec,
                    Some(&to_value(&s)?),
                    Utc::now(),
                )
                .await;
            if let Err(e) = r {
                tracing::warn!(peering = %d.id, error = %e, "could not mark FAILED peering for retry");
            }
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/organizations/{organizationId}/clusters/{clusterId}/routes", tag = "routes",
    params(("organizationId" = String, Path), ("clusterId" = String, Path),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateRouteRequest,
    responses((status = 201, body = views::Route),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_route(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, cid)): PathIds<(String, String)>,
    OriginalUri(uri): OriginalUri,
    key: IdempotencyKey,
    body: JsonBody<CreateRouteRequest>,
) -> ApiResult<Response> {
    let req = CreateRequest::new(p.org(&org)?, &uri, &key, &body.body_hash);
    // A malformed target id is reported by validation; a well-formed one is looked up alone.
    let target = ResourceId::parse(&body.value.target_id).ok();
    create_cluster_child_in(
        &state,
        &p,
        &req,
        &cid,
        ContextNeeds::RouteTarget(target.as_ref()),
        |ctx| {
            draft(
                ResourceKind::Route,
                &body.value.validate(ctx)?,
                &Provisioning::default(),
            )
        },
        views::Route::of,
    )
    .await
}

#[utoipa::path(post, path = "/v1/organizations/{organizationId}/clusters/{clusterId}/transit-gateway-attachments", tag = "transit-gateways",
    params(("organizationId" = String, Path), ("clusterId" = String, Path),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateTransitGatewayAttachmentRequest,
    responses((status = 201, body = views::TransitGatewayAttachment),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_tgw_attachment(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, cid)): PathIds<(String, String)>,
    OriginalUri(uri): OriginalUri,
    key: IdempotencyKey,
    body: JsonBody<CreateTransitGatewayAttachmentRequest>,
) -> ApiResult<Response> {
    let req = CreateRequest::new(p.org(&org)?, &uri, &key, &body.body_hash);
    create_cluster_child(
        &state,
        &p,
        &req,
        &cid,
        |ctx| {
            draft(
                ResourceKind::TransitGatewayAttachment,
                &body.value.validate(ctx)?,
                &Provisioning::default(),
            )
        },
        views::TransitGatewayAttachment::of,
    )
    .await
}

/// Request a custom PrivateLink endpoint (dedicated clusters; the preconfigured ones exist
/// on every AWS cluster).
#[utoipa::path(post, path = "/v1/organizations/{organizationId}/clusters/{clusterId}/outbound-endpoints", tag = "outbound-endpoints",
    params(("organizationId" = String, Path), ("clusterId" = String, Path),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateOutboundEndpointRequest,
    responses((status = 201, body = views::OutboundEndpoint),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_outbound_endpoint(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, cid)): PathIds<(String, String)>,
    OriginalUri(uri): OriginalUri,
    key: IdempotencyKey,
    body: JsonBody<CreateOutboundEndpointRequest>,
) -> ApiResult<Response> {
    let req = CreateRequest::new(p.org(&org)?, &uri, &key, &body.body_hash);
    create_cluster_child(
        &state,
        &p,
        &req,
        &cid,
        |ctx| {
            let spec = body.value.validate(ctx)?;
            Ok(Draft {
                unique_key: Some(format!("{}/{}", ctx.cluster_id, spec.service_name)),
                ..draft(
                    ResourceKind::OutboundEndpoint,
                    &spec,
                    &Provisioning::default(),
                )?
            })
        },
        views::OutboundEndpoint::of,
    )
    .await
}

/// Create a VPN connection (dedicated clusters). The pre-shared key is stored apart and
/// never returned.
#[utoipa::path(post, path = "/v1/organizations/{organizationId}/clusters/{clusterId}/vpn-connections", tag = "vpn",
    params(("organizationId" = String, Path), ("clusterId" = String, Path),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateVpnConnectionRequest,
    responses((status = 201, body = views::VpnConnection),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_vpn(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, cid)): PathIds<(String, String)>,
    OriginalUri(uri): OriginalUri,
    key: IdempotencyKey,
    body: JsonBody<CreateVpnConnectionRequest>,
) -> ApiResult<Response> {
    let req = CreateRequest::new(p.org(&org)?, &uri, &key, &body.body_hash);
    create_cluster_child(
        &state,
        &p,
        &req,
        &cid,
        |ctx| {
            let (spec, psk) = body.value.validate(ctx)?;
            Ok(Draft {
                secret: Some(psk.into_secret()),
                ..draft(ResourceKind::VpnConnection, &spec, &Provisioning::default())?
            })
        },
        views::VpnConnection::of,
    )
    .await
}

#[utoipa::path(post, path = "/v1/organizations/{organizationId}/clusters/{clusterId}/dns-resolutions", tag = "dns",
    params(("organizationId" = String, Path), ("clusterId" = String, Path),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateDnsResolutionRequest,
    responses((status = 201, body = views::DnsResolution),
              (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_dns(
    State(state): State<AppState>,
    p: Principal,
    PathIds((org, cid)): PathIds<(String, String)>,
    OriginalUri(uri): OriginalUri,
    key: IdempotencyKey,
    body: JsonBody<CreateDnsResolutionRequest>,
) -> ApiResult<Response> {
    let req = CreateRequest::new(p.org(&org)?, &uri, &key, &body.body_hash);
    create_cluster_child(
        &state,
        &p,
        &req,
        &cid,
        |ctx| {
            let spec = body.value.validate()?;
            Ok(Draft {
                // One resolution per domain and cluster (two would disagree), and one
                // association per hosted zone (deleting one must not undo the other's).
                unique_key: Some(match &spec.hosted_zone_id {
                    Some(zone) => format!("{}/zone/{}", ctx.cluster_id, zone.as_str()),
                    None => format!("{}/{}", ctx.cluster_id, spec.domain),
                }),
                ..draft(
                    ResourceKind::DnsResolution,
                    &spec,
                    &DnsResolutionObserved::default(),
                )?
            })
        },
        views::DnsResolution::of,
    )
    .await
}
