//! The control plane's REST API: the `/v1` axum router with bearer-token auth and roles,
//! RFC 9457 problems, cursor pagination, idempotency keys, ETags, an OpenAPI document
//! generated from the code (`/openapi.json`) and Swagger UI (`/docs`, vendored assets).
//!
//! For the binary: [`open`] (store + first-start bootstrap) and [`router`].

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use linkplane_model::{Name, Organization, ResourceId, ResourceKind, Role};
use linkplane_store::{NewToken, SqliteStore, Store, StoreError, TokenKind, hash_token};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

mod extract;
pub mod handlers;
pub mod openapi;
pub mod problem;
mod state;
pub mod views;

pub use extract::MAX_BODY_BYTES;
pub use openapi::ApiDoc;
pub use problem::{ApiError, PROBLEM_JSON, Problem};
pub use state::{AppState, Config, DEFAULT_BASE_DOMAIN, new_id, new_token_secret};

use handlers::{agents, clusters, connections, deployments, organizations};

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "organizations",
    responses((status = 200, body = views::Health)))]
pub async fn healthz() -> axum::Json<views::Health> {
    axum::Json(views::Health {
        status: "ok".into(),
    })
}

/// The installation CA's certificate (no auth: agents fetch it to pin the gateway's TLS).
#[utoipa::path(get, path = "/v1/ca.pem", tag = "organizations",
    responses((status = 200, content_type = "application/x-pem-file", body = String),
              (status = 404, description = "this server runs without a CA")))]
pub async fn ca_pem(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<Response, ApiError> {
    use axum::response::IntoResponse;
    let pem = state.config.ca_pem.clone().ok_or_else(|| {
        ApiError::NotFound(
            "this server has no CA (it runs without its data directory's ca.pem); \
             start it with `linkplane serve`"
                .into(),
        )
    })?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-pem-file")],
        pem,
    )
        .into_response())
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such path; see /openapi.json or /docs".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The whole HTTP surface: `/healthz`, `/openapi.json`, `/docs`, `/v1/…`.
pub fn router(state: AppState) -> Router {
    const ORG: &str = "/organizations/{organizationId}";
    let p = |s: &str| format!("{ORG}{s}");
    let cl = |s: &str| format!("{ORG}/clusters/{{clusterId}}{s}");
    let v1: Router<AppState> = Router::new()
        .route("/organizations", get(organizations::list_organizations))
        .route(ORG, get(organizations::get_organization))
        .route(
            &p("/api-tokens"),
            get(organizations::list_api_tokens).post(organizations::create_api_token),
        )
        .route(
            &p("/api-tokens/{tokenId}"),
            get(organizations::get_api_token).delete(organizations::revoke_api_token),
        )
        .route(
            &p("/clusters"),
            get(clusters::list_clusters).post(clusters::create_cluster),
        )
        .route(
            &cl(""),
            get(clusters::get_cluster)
                .patch(clusters::update_cluster)
                .delete(clusters::delete_cluster),
        )
        .route(
            &cl("/private-link"),
            get(clusters::get_private_link)
                .put(clusters::put_private_link)
                .delete(clusters::delete_private_link),
        )
        .route(
            &cl("/private-link/connections"),
            get(clusters::list_endpoint_connections),
        )
        .route(
            &cl("/private-link/connections/{endpointId}"),
            get(clusters::get_endpoint_connection),
        )
        .route(
            &cl("/private-link/connections/{endpointId}/accept"),
            post(clusters::accept_endpoint_connection),
        )
        .route(
            &cl("/private-link/connections/{endpointId}/reject"),
            post(clusters::reject_endpoint_connection),
        )
        .route(
            &cl("/vpc-peering-connections"),
            get(connections::list_peerings).post(connections::create_peering),
        )
        .route(
            &cl("/vpc-peering-connections/{id}"),
            get(connections::get_peering).delete(connections::delete_peering),
        )
        .route(
            &cl("/routes"),
            get(connections::list_routes).post(connections::create_route),
        )
        .route(
            &cl("/routes/{id}"),
            get(connections::get_route).delete(connections::delete_route),
        )
        .route(
            &cl("/transit-gateway-attachments"),
            get(connections::list_tgw_attachments).post(connections::create_tgw_attachment),
        )
        .route(
            &cl("/transit-gateway-attachments/{id}"),
            get(connections::get_tgw_attachment).delete(connections::delete_tgw_attachment),
        )
        .route(
            &cl("/outbound-endpoints"),
            get(connections::list_outbound_endpoints).post(connections::create_outbound_endpoint),
        )
        .route(
            &cl("/outbound-endpoints/{id}"),
            get(connections::get_outbound_endpoint).delete(connections::delete_outbound_endpoint),
        )
        .route(
            &cl("/vpn-connections"),
            get(connections::list_vpns).post(connections::create_vpn),
        )
        .route(
            &cl("/vpn-connections/{id}"),
            get(connections::get_vpn).delete(connections::delete_vpn),
        )
        .route(
            &cl("/dns-resolutions"),
            get(connections::list_dns).post(connections::create_dns),
        )
        .route(
            &cl("/dns-resolutions/{id}"),
            get(connections::get_dns).delete(connections::delete_dns),
        )
        .route(
            &p("/deployments"),
            get(deployments::list_deployments).post(deployments::create_deployment),
        )
        .route(
            &p("/deployments/{deploymentId}"),
            get(deployments::get_deployment)
                .patch(deployments::update_deployment)
                .delete(deployments::delete_deployment),
        )
        .route(
            &p("/deployments/{deploymentId}/agent-tokens"),
            get(deployments::list_agent_tokens).post(deployments::create_agent_token),
        )
        .route(
            &p("/deployments/{deploymentId}/agent-tokens/{tokenId}"),
            get(deployments::get_agent_token).delete(deployments::revoke_agent_token),
        )
        .route(
            &p("/deployments/{deploymentId}/agents"),
            get(deployments::list_agents),
        )
        .route("/ca.pem", get(ca_pem))
        .route("/agents/register", post(agents::register))
        .route("/agents/{agentId}/heartbeat", post(agents::heartbeat));

    Router::new()
        .route("/healthz", get(healthz))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .nest("/v1", v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// How long one request may take before it is answered 408.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A handler bug answers a 500 problem (detail logged, not returned) instead of dropping
/// the connection.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    use axum::response::IntoResponse;
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = what, "request handler panicked");
    ApiError::Internal(format!("handler panicked: {what}")).into_response()
}

#[cfg(test)]
mod panic_tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_a_problem_without_its_detail() {
        let app: Router = Router::new()
            .route(
                "/boom",
                get(|| async {
                    if true {
                        panic!("secret internal detail");
                    }
                    "unreachable"
                }),
            )
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                panic_response,
            ));
        let resp = app
            .oneshot(
                axum::http::Request::get("/boom")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 500);
        assert_eq!(
            resp.headers()[axum::http::header::CONTENT_TYPE],
            PROBLEM_JSON
        );
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("secret internal detail"), "{text}");
    }
}

/// A response for the `Response` type in docs: keeps `axum::response::Response` in scope.
pub type HttpResponse = Response;

// --------------------------------------------------------------------------- bootstrap

/// Admin token file in the data directory (mode 0600).
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Organization id file in the data directory.
pub const ORGANIZATION_ID_FILE: &str = "organization-id";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What the first start created, or what a later start reuses.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub organization_id: ResourceId,
    /// The owner token, only on the start that created it (print it once).
    pub new_admin_token: Option<String>,
    pub admin_token_file: PathBuf,
}

fn write_private(path: &Path, contents: &str) -> Result<(), SetupError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| SetupError::Write {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(contents.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// First start: create an organization and an owner token, write `<data-dir>/admin.token`
/// (0600) and `<data-dir>/organization-id`. Later starts: reuse them.
pub async fn bootstrap(store: &dyn Store, data_dir: &Path) -> Result<Bootstrap, SetupError> {
    let org_file = data_dir.join(ORGANIZATION_ID_FILE);
    let token_file = data_dir.join(ADMIN_TOKEN_FILE);
    let existing = std::fs::read_to_string(&org_file)
        .ok()
        .and_then(|s| ResourceId::parse(s.trim()).ok());
    if let Some(id) = existing
        && store.get_organization(&id).await?.is_some()
    {
        return Ok(Bootstrap {
            organization_id: id,
            new_admin_token: None,
            admin_token_file: token_file,
        });
    }
    let org = Organization {
        id: new_id(ResourceKind::Organization),
        name: Name::parse("default").map_err(StoreError::Corrupt)?,
        created_at: Utc::now(),
    };
    store.create_organization(&org).await?;
    let secret = new_token_secret("lpat");
    store
        .create_token(
            &NewToken {
                id: new_id(ResourceKind::ApiToken),
                kind: TokenKind::Api,
                org_id: org.id.clone(),
                scope_id: None,
                name: "admin".into(),
                role: Some(Role::OrganizationOwner),
                token_hash: hash_token(&secret),
                created_at: Utc::now(),
            },
            None,
            None,
        )
        .await?;
    write_private(&token_file, &format!("{secret}\n"))?;
    write_private(&org_file, &format!("{}\n", org.id))?;
    tracing::info!(organization = %org.id, file = %token_file.display(), "created organization and owner token");
    Ok(Bootstrap {
        organization_id: org.id,
        new_admin_token: Some(secret),
        admin_token_file: token_file,
    })
}

/// Open the SQLite store in `data_dir`, bootstrap, and build the state for [`router`].
pub async fn open(data_dir: &Path, config: Config) -> Result<(AppState, Bootstrap), SetupError> {
    let key = match &config.secrets_key_file {
        Some(p) => linkplane_store::KeySource::File(p.clone()),
        None => linkplane_store::KeySource::DataDir,
    };
    let store = SqliteStore::open_with(data_dir, &key).await?;
    let store: Arc<dyn Store> = Arc::new(store);
    let boot = bootstrap(store.as_ref(), data_dir).await?;
    Ok((AppState::new(store, config), boot))
}
