//! The `/cloud/v1` routes of site-to-site VPN: customer gateways, VPN gateways (attach,
//! detach), VPN connections (static routes, the downloadable configuration) and
//! on-premises sites (apply a configuration, run a command on the host or the gateway).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use serde::Deserialize;

use super::types::*;
use crate::Engine;
use crate::api::{ApiError, Body, Caller};

type St = State<Arc<Engine>>;
type R<T> = Result<T, ApiError>;

pub(crate) fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route(
            "/cloud/v1/customer-gateways",
            get(list_cgws).post(create_cgw),
        )
        .route(
            "/cloud/v1/customer-gateways/{id}",
            get(get_cgw).delete(delete_cgw),
        )
        .route("/cloud/v1/vpn-gateways", get(list_vgws).post(create_vgw))
        .route(
            "/cloud/v1/vpn-gateways/{id}",
            get(get_vgw).delete(delete_vgw),
        )
        .route("/cloud/v1/vpn-gateways/{id}/attach", post(attach_vgw))
        .route("/cloud/v1/vpn-gateways/{id}/detach", post(detach_vgw))
        .route("/cloud/v1/vpn-connections", get(list_vpns).post(create_vpn))
        .route(
            "/cloud/v1/vpn-connections/{id}",
            get(get_vpn).delete(delete_vpn),
        )
        .route(
            "/cloud/v1/vpn-connections/{id}/routes",
            post(create_vpn_route),
        )
        .route(
            "/cloud/v1/vpn-connections/{id}/routes/{a}/{b}",
            delete(delete_vpn_route),
        )
        .route(
            "/cloud/v1/vpn-connections/{id}/configuration",
            get(vpn_config),
        )
        .route("/cloud/v1/onprem-sites", get(list_sites).post(create_site))
        .route(
            "/cloud/v1/onprem-sites/{id}",
            get(get_site).delete(delete_site),
        )
        .route("/cloud/v1/onprem-sites/{id}/vpn-config", post(apply_site))
        .route("/cloud/v1/onprem-sites/{id}/exec", post(exec_site))
}

async fn list_cgws(State(e): St, Caller(p): Caller) -> R<Json<Vec<CustomerGateway>>> {
    Ok(Json(e.list_customer_gateways(&p).await?))
}
async fn create_cgw(
    State(e): St,
    Caller(p): Caller,
    Body(req): Body<CreateCustomerGateway>,
) -> R<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(e.create_customer_gateway(&p, req).await?),
    ))
}
async fn get_cgw(
    State(e): St,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> R<Json<CustomerGateway>> {
    Ok(Json(e.get_customer_gateway(&p, &id).await?))
}
async fn delete_cgw(State(e): St, Caller(p): Caller, Path(id): Path<String>) -> R<StatusCode> {
    e.delete_customer_gateway(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_vgws(State(e): St, Caller(p): Caller) -> R<Json<Vec<VpnGateway>>> {
    Ok(Json(e.list_vpn_gateways(&p).await?))
}
async fn create_vgw(
    State(e): St,
    Caller(p): Caller,
    Body(req): Body<CreateVpnGateway>,
) -> R<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(e.create_vpn_gateway(&p, req).await?),
    ))
}
async fn get_vgw(State(e): St, Caller(p): Caller, Path(id): Path<String>) -> R<Json<VpnGateway>> {
    Ok(Json(e.get_vpn_gateway(&p, &id).await?))
}
async fn delete_vgw(State(e): St, Caller(p): Caller, Path(id): Path<String>) -> R<StatusCode> {
    e.delete_vpn_gateway(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
async fn attach_vgw(
    State(e): St,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<AttachVpnGateway>,
) -> R<Json<VpnGateway>> {
    Ok(Json(e.attach_vpn_gateway(&p, &id, req).await?))
}
async fn detach_vgw(
    State(e): St,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> R<Json<VpnGateway>> {
    Ok(Json(e.detach_vpn_gateway(&p, &id).await?))
}

async fn list_vpns(State(e): St, Caller(p): Caller) -> R<Json<Vec<VpnConnection>>> {
    Ok(Json(e.list_vpn_connections(&p).await?))
}
async fn create_vpn(
    State(e): St,
    Caller(p): Caller,
    Body(req): Body<CreateVpnConnection>,
) -> R<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(e.create_vpn_connection(&p, req).await?),
    ))
}
async fn get_vpn(
    State(e): St,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> R<Json<VpnConnection>> {
    Ok(Json(e.get_vpn_connection(&p, &id).await?))
}
async fn delete_vpn(
    State(e): St,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> R<Json<VpnConnection>> {
    Ok(Json(e.delete_vpn_connection(&p, &id).await?))
}
async fn create_vpn_route(
    State(e): St,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<CreateVpnConnectionRoute>,
) -> R<Json<VpnConnection>> {
    Ok(Json(e.create_vpn_connection_route(&p, &id, req).await?))
}
/// `DELETE …/routes/10.1.0.0/16`: the CIDR's two halves are two path segments.
async fn delete_vpn_route(
    State(e): St,
    Caller(p): Caller,
    Path((id, a, b)): Path<(String, String, String)>,
) -> R<Json<VpnConnection>> {
    Ok(Json(
        e.delete_vpn_connection_route(&p, &id, &format!("{a}/{b}"))
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormatQuery {
    format: Option<ConfigFormat>,
}
/// The customer gateway configuration as text (`?format=strongswan|generic`).
async fn vpn_config(
    State(e): St,
    Caller(p): Caller,
    Path(id): Path<String>,
    Query(q): Query<FormatQuery>,
) -> R<impl IntoResponse> {
    let text = e
        .vpn_connection_configuration(&p, &id, q.format.unwrap_or(ConfigFormat::Strongswan))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    ))
}

async fn list_sites(State(e): St, Caller(p): Caller) -> R<Json<Vec<OnpremSite>>> {
    Ok(Json(e.list_onprem_sites(&p).await?))
}
async fn create_site(
    State(e): St,
    Caller(p): Caller,
    Body(req): Body<CreateOnpremSite>,
) -> R<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(e.create_onprem_site(&p, req).await?),
    ))
}
async fn get_site(State(e): St, Caller(p): Caller, Path(id): Path<String>) -> R<Json<OnpremSite>> {
    Ok(Json(e.get_onprem_site(&p, &id).await?))
}
async fn delete_site(State(e): St, Caller(p): Caller, Path(id): Path<String>) -> R<StatusCode> {
    e.delete_onprem_site(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
async fn apply_site(
    State(e): St,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<ApplyVpnConfig>,
) -> R<Json<OnpremSite>> {
    Ok(Json(e.apply_onprem_vpn_config(&p, &id, req).await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SiteExec {
    command: Vec<String>,
    /// Run on the site's gateway instead of its host.
    #[serde(default)]
    on_gateway: bool,
    timeout_seconds: Option<u64>,
}
async fn exec_site(
    State(e): St,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<SiteExec>,
) -> R<Json<crate::api::ExecResponse>> {
    let t = Duration::from_secs(req.timeout_seconds.unwrap_or(20).clamp(1, 120));
    let out = e
        .onprem_exec(&p, &id, req.on_gateway, &req.command, t)
        .await?;
    Ok(Json(crate::api::exec_response(out)))
}
