//! What a cluster's ingress gateway answers: the orchestration plane's policy on top of
//! `linkplane-ingress` (which only moves requests and says how each arrived).
//!
//! - `/` and anything unknown → `404 page not found` (document 000's check).
//! - `/v1/agents/…` and `/<deploymentId>/v1/agents/…` → the control plane's agent routes,
//!   in-process.
//! - `/<deploymentId>/<rest>` → the deployment's `airflowApiUrl` (prefix stripped, headers
//!   and body intact), from inside the cluster's VPC; without one, 404 page not found.
//! - One policy for every path form: `privateOnly` clusters refuse (403) every request that
//!   did not arrive through an *accepted* endpoint of *their* endpoint service; the
//!   deployment a request is for (its path segment, or the agent token's deployment on the
//!   unprefixed `/v1/agents/…`) must be one this cluster serves; its
//!   `remoteExecution.allowedIpAddressRanges` restrict the public path by source address.
//! - An agent token whose deployment was deleted is `410` on every path form (the agent
//!   stops); an agent route with a token the store does not know is the control plane's
//!   `401` whether or not the path's deployment exists.

// The error side of these helpers is the finished HTTP answer, returned once per request.
#![allow(clippy::result_large_err)]

use std::net::IpAddr;
use std::sync::{Arc, Weak};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use linkplane_ingress::{Arrival, Upstream, arrival_of, not_found};
use linkplane_model::{
    ClusterSpec, DeploymentSpec, EndpointConnectionStatus, ResourceId, ResourceKind,
};
use linkplane_provider::ProviderRegistry;
use linkplane_provider_local::GatewaySite;
use linkplane_store::Store;
use tower::ServiceExt;

/// What every gateway shares: the store, the `/v1` router, the providers (a cluster's
/// endpoint connections are read through the provider that serves it). The registry is
/// held weakly: it holds the provider that runs the gateways, which hold this.
#[derive(Clone)]
pub struct FrontDoor {
    pub store: Arc<dyn Store>,
    pub api: Router,
    pub providers: Weak<ProviderRegistry>,
}

/// The router of one cluster's gateway.
pub fn cluster_router(door: FrontDoor, site: GatewaySite) -> Router {
    let door = Arc::new(door);
    let site = Arc::new(site);
    Router::new().fallback(move |req: Request<Body>| {
        let (door, site) = (Arc::clone(&door), Arc::clone(&site));
        async move { handle(&door, &site, req).await }
    })
}

fn refuse(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn unavailable(what: &str) -> Response {
    refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("503 service unavailable: {what}; try again shortly\n"),
    )
}

async fn handle(door: &FrontDoor, site: &GatewaySite, req: Request<Body>) -> Response {
    let arrival = arrival_of(&req).cloned();
    let cluster = match door.store.get_document_by_id(&site.cluster_id).await {
        Ok(Some(d)) => d.spec_as::<ClusterSpec>().ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "gateway cannot read its cluster");
            return unavailable("the control plane's database is unavailable");
        }
    };
    let Some(cluster) = cluster else {
        return not_found().await;
    };
    if cluster.private_only {
        match private_arrival(door, site, &cluster, arrival.as_ref()).await {
            Ok(()) => {}
            Err(resp) => return resp,
        }
    }
    let path = req.uri().path().to_owned();
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    let first = segments.next().unwrap_or_default();
    let rest = format!("/{}", segments.next().unwrap_or_default());
    if first.is_empty() {
        return not_found().await;
    }
    if first == "v1" {
        // The unprefixed agent routes: the agent token names the deployment, and that
        // deployment's policy applies exactly as under its own path.
        if !path.starts_with("/v1/agents/") {
            return not_found().await;
        }
        let Some(deployment_id) = agent_token_deployment(door, bearer_of(&req).as_deref()).await
        else {
            // No agent token (or an unknown one): the control plane's 401 says so.
            return agent_route(door, req, &path).await;
        };
        let Some(deployment) = deployment_of(door, &site.cluster_id, deployment_id.as_str()).await
        else {
            if deployment_gone(door, &deployment_id).await {
                return gone(&deployment_id);
            }
            return refuse(
                StatusCode::FORBIDDEN,
                "403 forbidden: this agent token belongs to a deployment this cluster does not \
                 serve; use that deployment's apiUrl (linkplane deployment get)\n"
                    .into(),
            );
        };
        if let Some(resp) = outside_ranges(&deployment, arrival.as_ref()) {
            return resp;
        }
        return agent_route(door, req, &path).await;
    }
    let Some(deployment) = deployment_of(door, &site.cluster_id, first).await else {
        if rest.starts_with("/v1/agents/") {
            return unserved_agent_route(door, req, first, &rest).await;
        }
        return not_found().await;
    };
    if let Some(resp) = outside_ranges(&deployment, arrival.as_ref()) {
        return resp;
    }
    if rest.starts_with("/v1/agents/") {
        let bearer = bearer_of(&req);
        if let Some(resp) = token_of_other_deployment(door, bearer, first).await {
            return resp;
        }
        return agent_route(door, req, &rest).await;
    }
    let Some(url) = deployment.airflow_api_url.as_ref() else {
        return not_found().await;
    };
    let upstream = match Upstream::parse(url.as_str()) {
        Ok(u) => u,
        Err(e) => {
            return refuse(
                StatusCode::BAD_GATEWAY,
                format!("502 bad gateway: {e}; set the deployment's airflowApiUrl to one\n"),
            );
        }
    };
    match with_path(req, &rest) {
        Ok(req) => linkplane_ingress::forward(&site.connector, &upstream, req).await,
        Err(resp) => resp,
    }
}

/// The `403` of a public request from outside the deployment's
/// `remoteExecution.allowedIpAddressRanges` (none when the ranges are empty or the request
/// came through an endpoint).
fn outside_ranges(deployment: &DeploymentSpec, arrival: Option<&Arrival>) -> Option<Response> {
    let Some(Arrival::Public { client }) = arrival else {
        return None;
    };
    if deployment
        .remote_execution
        .allowed_ip_address_ranges
        .is_empty()
        || allowed(deployment, client.ip())
    {
        return None;
    }
    Some(refuse(
        StatusCode::FORBIDDEN,
        format!(
            "403 forbidden: {} is not in the deployment's remoteExecution.allowedIpAddressRanges; \
             add the address's range to the deployment or connect through the cluster's PrivateLink endpoint\n",
            client.ip()
        ),
    ))
}

/// The deployment an agent token belongs to (none for a missing, unknown or non-agent
/// token: the control plane refuses those itself).
async fn agent_token_deployment(door: &FrontDoor, bearer: Option<&str>) -> Option<ResourceId> {
    let rec = door
        .store
        .token_by_hash(&linkplane_store::hash_token(bearer?))
        .await
        .ok()??;
    if rec.kind != linkplane_store::TokenKind::Agent {
        return None;
    }
    rec.scope_id
}

/// Whether deployment `id` is deleted or being deleted (a store error is not "gone").
async fn deployment_gone(door: &FrontDoor, id: &ResourceId) -> bool {
    match door.store.get_document_by_id(id).await {
        Ok(None) => true,
        Ok(Some(d)) => d.deletion_requested_at.is_some(),
        Err(_) => false,
    }
}

/// `410`: the agent token's deployment is deleted: the agent has nothing to serve, and its
/// retries cannot succeed (the agent stops on it).
fn gone(deployment: &ResourceId) -> Response {
    refuse(
        StatusCode::GONE,
        format!(
            "410 gone: deployment {deployment} of this agent token was deleted; stop this agent\n"
        ),
    )
}

/// An agent route under a deployment id this cluster does not serve. A token of that very
/// deployment, now deleted, is told so (410). A token the store does not know (a made-up
/// one, a revoked one, or one deleted with its deployment) gets the control plane's 401, as
/// under a served deployment, so neither answer says whether a deployment id exists. A live
/// token of another deployment is `404 page not found`, as before.
async fn unserved_agent_route(
    door: &FrontDoor,
    req: Request<Body>,
    segment: &str,
    rest: &str,
) -> Response {
    let rec = match bearer_of(&req) {
        Some(b) => door
            .store
            .token_by_hash(&linkplane_store::hash_token(&b))
            .await
            .ok()
            .flatten(),
        None => None,
    };
    match rec {
        None => agent_route(door, req, rest).await,
        Some(rec)
            if rec.kind == linkplane_store::TokenKind::Agent
                && rec.scope_id.as_ref().is_some_and(|d| d.as_str() == segment) =>
        {
            let Some(d) = rec.scope_id else {
                return not_found().await;
            };
            if deployment_gone(door, &d).await {
                gone(&d)
            } else {
                not_found().await
            }
        }
        Some(_) => not_found().await,
    }
}

fn bearer_of(req: &Request<Body>) -> Option<String> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    Some(v.strip_prefix("Bearer ")?.trim().to_owned())
}

/// An agent token of another deployment used under this deployment's path: refused, so an
/// agent never registers somewhere its URL does not say. (A missing or unknown token is the
/// control plane's 401.)
async fn token_of_other_deployment(
    door: &FrontDoor,
    bearer: Option<String>,
    deployment: &str,
) -> Option<Response> {
    let rec = door
        .store
        .token_by_hash(&linkplane_store::hash_token(&bearer?))
        .await
        .ok()??;
    if rec.kind != linkplane_store::TokenKind::Agent
        || rec
            .scope_id
            .as_ref()
            .is_some_and(|d| d.as_str() == deployment)
    {
        return None;
    }
    Some(refuse(
        StatusCode::FORBIDDEN,
        "403 forbidden: this agent token belongs to another deployment; use that deployment's \
         apiUrl (linkplane deployment get) or a token of this one\n"
            .into(),
    ))
}

fn allowed(d: &DeploymentSpec, ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    d.remote_execution
        .allowed_ip_address_ranges
        .iter()
        .any(|c| match ip {
            IpAddr::V4(v4) => c.net().contains(&v4),
            IpAddr::V6(_) => false,
        })
}

/// Ok when the request came through an accepted endpoint of this cluster's service.
async fn private_arrival(
    door: &FrontDoor,
    site: &GatewaySite,
    cluster: &ClusterSpec,
    arrival: Option<&Arrival>,
) -> Result<(), Response> {
    let forbidden = |why: &str| {
        refuse(
            StatusCode::FORBIDDEN,
            format!(
                "403 forbidden: this cluster is privateOnly and accepts requests only through an \
                 accepted PrivateLink endpoint of its endpoint service; {why}\n"
            ),
        )
    };
    let Some(Arrival::Endpoint { endpoint_id, .. }) = arrival else {
        return Err(forbidden(
            "this request came over the public path; connect through your interface endpoint",
        ));
    };
    let providers = door
        .providers
        .upgrade()
        .ok_or_else(|| unavailable("the control plane is shutting down"))?;
    let provider = providers
        .for_cloud(cluster.cloud_provider)
        .map_err(|e| unavailable(&e.to_string()))?;
    let Some(services) = provider.private_link() else {
        return Err(forbidden(
            "the cluster's provider has no PrivateLink services",
        ));
    };
    let conns = services
        .endpoint_connections(&site.cluster_id)
        .await
        .map_err(|_| unavailable("the provider cannot list the cluster's endpoint connections"))?;
    match conns
        .iter()
        .find(|c| c.endpoint_id.as_str() == endpoint_id.as_str())
    {
        Some(c) if c.state == EndpointConnectionStatus::Available => Ok(()),
        Some(c) => Err(forbidden(&format!(
            "endpoint {endpoint_id} is {}, not accepted",
            connection_state(c.state)
        ))),
        None => Err(forbidden(&format!(
            "endpoint {endpoint_id} is not an endpoint of this cluster's service"
        ))),
    }
}

/// The endpoint state as the cloud spells it (`pendingAcceptance`, `rejected`, …).
fn connection_state(s: EndpointConnectionStatus) -> &'static str {
    match s {
        EndpointConnectionStatus::PendingAcceptance => "pendingAcceptance",
        EndpointConnectionStatus::Available => "available",
        EndpointConnectionStatus::Rejected => "rejected",
        EndpointConnectionStatus::Failed => "failed",
        EndpointConnectionStatus::Deleted => "deleted",
    }
}

async fn deployment_of(
    door: &FrontDoor,
    cluster_id: &ResourceId,
    segment: &str,
) -> Option<DeploymentSpec> {
    let id = ResourceId::parse(segment).ok()?;
    if id.kind() != Some(ResourceKind::Deployment) {
        return None;
    }
    let doc = door.store.get_document_by_id(&id).await.ok()??;
    if doc.deletion_requested_at.is_some() {
        return None;
    }
    let spec: DeploymentSpec = doc.spec_as().ok()?;
    (&spec.cluster_id == cluster_id).then_some(spec)
}

fn with_path(mut req: Request<Body>, path: &str) -> Result<Request<Body>, Response> {
    let pq = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let uri: Uri = pq.parse().map_err(|_| {
        refuse(
            StatusCode::BAD_REQUEST,
            "400 bad request: bad path\n".into(),
        )
    })?;
    *req.uri_mut() = uri;
    Ok(req)
}

/// `/v1/agents/…` only; every other control-plane path is not the gateway's.
async fn agent_route(door: &FrontDoor, req: Request<Body>, path: &str) -> Response {
    if !path.starts_with("/v1/agents/") {
        return not_found().await;
    }
    let req = match with_path(req, path) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match door.api.clone().oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(ranges: &[&str]) -> DeploymentSpec {
        serde_json::from_value(serde_json::json!({
            "name": "etl",
            "clusterId": "cl0000000000000000",
            "remoteExecution": {"enabled": true, "allowedIpAddressRanges": ranges},
            "airflowApiUrl": null,
        }))
        .unwrap()
    }

    #[test]
    fn allowed_ranges_match_v4_and_v4_mapped_sources_only() {
        let d = deployment(&["203.0.113.0/24", "198.51.100.7/32"]);
        for ok in [
            "203.0.113.1",
            "203.0.113.255",
            "198.51.100.7",
            "::ffff:203.0.113.9",
        ] {
            assert!(allowed(&d, ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "203.0.114.1",
            "198.51.100.8",
            "10.0.0.1",
            "2001:db8::1",
            "::1",
        ] {
            assert!(!allowed(&d, bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn ranges_restrict_public_arrivals_only() {
        let public = |ip: &str| Arrival::Public {
            client: format!("{ip}:40000").parse().unwrap(),
        };
        let endpoint = Arrival::Endpoint {
            endpoint_id: "vpce-1".into(),
            client: "10.0.0.9:40000".parse().unwrap(),
        };
        let open = deployment(&[]);
        let narrow = deployment(&["192.0.2.0/24"]);
        assert!(outside_ranges(&open, Some(&public("203.0.113.1"))).is_none());
        assert!(outside_ranges(&narrow, Some(&public("192.0.2.7"))).is_none());
        assert!(outside_ranges(&narrow, Some(&endpoint)).is_none());
        let resp = outside_ranges(&narrow, Some(&public("203.0.113.1"))).unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn with_path_keeps_the_query_and_refuses_a_bad_path() {
        let req = Request::get("/dep1/api/v1/dags?limit=2&x=%20")
            .body(Body::empty())
            .unwrap();
        let req = with_path(req, "/api/v1/dags").unwrap();
        assert_eq!(req.uri().to_string(), "/api/v1/dags?limit=2&x=%20");
        let req = Request::get("/x").body(Body::empty()).unwrap();
        let resp = with_path(req, "/a b").unwrap_err();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    }
}
