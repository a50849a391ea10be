//! The `/cloud/v1` REST API: JSON in camelCase, errors as RFC 9457 problem+json.
//!
//! Every call must carry the operator token (`Authorization: Bearer <token>`, the content
//! of `<data-dir>/cloud.token`); without it the answer is 401. The token is the credential;
//! the `X-Cloud-Principal` header (default [`crate::DEFAULT_PRINCIPAL`]) only says which
//! identity inside the simulator the call is made as (like `--as`).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::error::Error;
use crate::ids::Principal;
use crate::types::*;

/// Base64 (standard alphabet) as the exec API uses for stdin, stdout and stderr.
pub fn encode_bytes(data: &[u8]) -> String {
    B64.encode(data)
}

/// Decode base64 from the exec API; `None` if malformed.
pub fn decode_bytes(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}

/// The header that names the calling principal.
pub const PRINCIPAL_HEADER: &str = "x-cloud-principal";

type AppState = Arc<Engine>;
type ApiResult<T> = Result<T, ApiError>;

/// An error rendered as `application/problem+json`.
#[derive(Debug)]
pub struct ApiError(Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

/// One broken rule of a problem: the field and what is wrong with it (as `/v1` answers).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The problem document (RFC 9457). `errors` lists the field of a 400 (absent otherwise).
#[derive(Debug, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// A problem+json response.
fn problem(status: StatusCode, title: &str, detail: String, errors: Vec<FieldError>) -> Response {
    let body = Problem {
        kind: "about:blank".into(),
        title: title.into(),
        status: status.as_u16(),
        detail,
        errors,
    };
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, title) = match &self.0 {
            Error::Invalid { .. } => (StatusCode::BAD_REQUEST, "Invalid request"),
            Error::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "Payload too large"),
            Error::NotFound { .. } => (StatusCode::NOT_FOUND, "Not found"),
            Error::Forbidden { .. } => (StatusCode::FORBIDDEN, "Access denied"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "Conflict"),
            Error::Unsupported(_) => (StatusCode::SERVICE_UNAVAILABLE, "localcloud unavailable"),
            Error::Kernel { .. } | Error::Db(_) | Error::Migrate(_) | Error::Io { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "localcloud failure")
            }
        };
        if status.is_server_error() {
            tracing::error!(error = %self.0, "localcloud request failed");
        }
        let errors = match &self.0 {
            Error::Invalid { field, reason } | Error::TooLarge { field, reason } => {
                vec![FieldError {
                    field: field.clone(),
                    message: reason.clone(),
                }]
            }
            _ => vec![],
        };
        problem(status, title, self.0.to_string(), errors)
    }
}

/// The calling principal, from `X-Cloud-Principal`.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(PRINCIPAL_HEADER) {
            None => Ok(Caller(Principal::default_local())),
            Some(v) => {
                let s = v.to_str().map_err(|_| {
                    Error::invalid("X-Cloud-Principal", "the header is not valid text")
                })?;
                Ok(Caller(Principal::parse(s.trim())?))
            }
        }
    }
}

/// Largest accepted request body (as `/v1`): 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Body extractor whose rejection is a problem document: 413 over [`MAX_BODY_BYTES`], 400
/// naming the field for malformed JSON, wrong types, unknown fields and an array where an
/// object is required (structs are read from objects only, at every depth).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(Error::invalid(
                "Content-Type",
                format!(
                    "send the body as JSON with Content-Type: application/json (got {:?})",
                    if ct.is_empty() { "nothing" } else { &ct }
                ),
            )
            .into());
        }
        let announced = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let too_large = || Error::TooLarge {
            field: "body".into(),
            reason: format!("over the limit of {MAX_BODY_BYTES} bytes (1 MiB)"),
        };
        // Refuse from the header alone: neither read nor wait for a body that is too large.
        if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(too_large().into());
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| {
                if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    Error::invalid("body", format!("cannot read the body: {}", r.body_text()))
                }
            })?;
        let value: T = linkplane_model::strict::from_slice(&bytes).map_err(|e| {
            let field = if e.field.is_empty() {
                "body".to_owned()
            } else {
                e.field
            };
            ApiError::from(Error::invalid(&field, e.message))
        })?;
        let raw: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::invalid("body", e.to_string()))?;
        check_limits(&raw, "")?;
        Ok(Body(value))
    }
}

/// Most elements of any list in a body (`command` has its own limit).
pub const MAX_LIST_LEN: usize = 100;
/// Most characters of a name, a description or a DNS name.
pub const MAX_NAME_CHARS: usize = 255;
/// Most bytes of any other text field (`stdin` and `command` have their own limits).
pub const MAX_TEXT_BYTES: usize = 1024;

/// The size rules every body obeys, whatever its type: lists of at most
/// [`MAX_LIST_LEN`], names of at most [`MAX_NAME_CHARS`], other text of at most
/// [`MAX_TEXT_BYTES`], no control characters outside `command` and `stdin`. Errors name
/// the field (`values`, `name`, `healthCheck.path`).
fn check_limits(v: &serde_json::Value, path: &str) -> Result<(), Error> {
    use serde_json::Value;
    let key = path.rsplit('.').next().unwrap_or(path);
    let key = key.split('[').next().unwrap_or(key);
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                check_limits(child, &p)?;
            }
        }
        // `command` and `stdin` are bounded by their own rules (and the body limit).
        _ if key == "command" || key == "stdin" => {}
        Value::Array(a) => {
            if a.len() > MAX_LIST_LEN {
                return Err(Error::invalid(
                    path,
                    format!("{} entries; at most {MAX_LIST_LEN}", a.len()),
                ));
            }
            for (i, child) in a.iter().enumerate() {
                check_limits(child, &format!("{path}[{i}]"))?;
            }
        }
        Value::String(text) => {
            if text.chars().any(char::is_control) {
                return Err(Error::invalid(path, "must not contain control characters"));
            }
            let name_like = key == "name" || key == "description" || key.ends_with("Name");
            if name_like && text.chars().count() > MAX_NAME_CHARS {
                return Err(Error::invalid(
                    path,
                    format!(
                        "{} characters; at most {MAX_NAME_CHARS}",
                        text.chars().count()
                    ),
                ));
            }
            if !name_like && text.len() > MAX_TEXT_BYTES {
                return Err(Error::invalid(
                    path,
                    format!("{} bytes; at most {MAX_TEXT_BYTES}", text.len()),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VpcFilter {
    vpc_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RouteKey {
    destination_cidr_block: String,
}

/// `POST …/exec` body: the argv, optional stdin (base64) and a timeout.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecRequest {
    pub command: Vec<String>,
    #[serde(default)]
    pub stdin: Option<String>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

/// `POST …/exec` answer: exit code and base64 stdout/stderr.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecResponse {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunRequest {
    pub command: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecurityGroupIds {
    pub security_group_ids: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    pub principal: String,
    pub account_id: String,
}

const MAX_EXEC_SECONDS: u64 = 3600;

fn exec_parts(req: &ExecRequest) -> ApiResult<(Vec<u8>, Duration)> {
    let stdin = match &req.stdin {
        Some(s) => B64
            .decode(s)
            .map_err(|_| Error::invalid("stdin", "must be base64"))?,
        None => Vec::new(),
    };
    let secs = req.timeout_seconds.unwrap_or(60);
    if !(1..=MAX_EXEC_SECONDS).contains(&secs) {
        return Err(Error::invalid(
            "timeoutSeconds",
            format!("{secs}: use 1-{MAX_EXEC_SECONDS}"),
        )
        .into());
    }
    Ok((stdin, Duration::from_secs(secs)))
}

fn exec_response(out: ExecOutput) -> ExecResponse {
    ExecResponse {
        exit_code: out.exit_code,
        stdout: B64.encode(out.stdout),
        stderr: B64.encode(out.stderr),
        timed_out: out.timed_out,
    }
}

fn created<T: Serialize>(v: T) -> (StatusCode, Json<T>) {
    (StatusCode::CREATED, Json(v))
}

/// A 401 problem document with `WWW-Authenticate: Bearer`.
fn unauthorized(detail: &str) -> Response {
    let mut resp = problem(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        detail.into(),
        vec![],
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"localcloud\""),
    );
    resp
}

/// Every route: `Authorization: Bearer <operator token>` or 401.
async fn require_operator(
    State(e): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    match presented {
        None => unauthorized(&format!(
            "missing `Authorization: Bearer <token>`: the localcloud operator token is in {} on the \
             machine running localcloud (linkplane cloud reads it with --cloud-token-file, \
             --cloud-token or LINKPLANE_CLOUD_TOKEN)",
            e.operator_token_path().display()
        )),
        Some(t) if e.verify_operator_token(t) => next.run(req).await,
        Some(_) => {
            tracing::warn!("refused a /cloud/v1 call with a wrong operator token");
            unauthorized(&format!(
                "the bearer token is not the localcloud operator token; use the content of {}",
                e.operator_token_path().display()
            ))
        }
    }
}

/// The `/cloud/v1` router. Mount it as is (it carries its own paths). Every route needs the
/// operator token (see the module documentation).
pub fn router(engine: Arc<Engine>) -> Router {
    routes()
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&engine),
            require_operator,
        ))
        .with_state(engine)
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/cloud/v1/whoami", get(whoami))
        .route("/cloud/v1/vpcs", get(list_vpcs).post(create_vpc))
        .route(
            "/cloud/v1/vpcs/{id}",
            get(get_vpc).patch(modify_vpc).delete(delete_vpc),
        )
        .route("/cloud/v1/subnets", get(list_subnets).post(create_subnet))
        .route(
            "/cloud/v1/subnets/{id}",
            get(get_subnet).delete(delete_subnet),
        )
        .route(
            "/cloud/v1/subnets/{id}/routes",
            get(list_routes).post(create_route).delete(delete_route),
        )
        .route(
            "/cloud/v1/instances",
            get(list_instances).post(create_instance),
        )
        .route(
            "/cloud/v1/instances/{id}",
            get(get_instance).delete(delete_instance),
        )
        .route("/cloud/v1/instances/{id}/exec", post(exec))
        .route(
            "/cloud/v1/instances/{id}/processes",
            get(list_processes).post(run_process),
        )
        .route(
            "/cloud/v1/instances/{id}/processes/{pid}",
            delete(stop_process),
        )
        .route(
            "/cloud/v1/instances/{id}/security-groups",
            axum::routing::put(set_groups),
        )
        .route(
            "/cloud/v1/security-groups",
            get(list_groups).post(create_group),
        )
        .route(
            "/cloud/v1/security-groups/{id}",
            get(get_group).delete(delete_group),
        )
        .route("/cloud/v1/security-groups/{id}/rules", post(add_rule))
        .route(
            "/cloud/v1/security-groups/{id}/rules/{rule}",
            delete(revoke_rule),
        )
        .route(
            "/cloud/v1/internet-gateways",
            get(list_igws).post(create_igw),
        )
        .route(
            "/cloud/v1/internet-gateways/{id}",
            get(get_igw).delete(delete_igw),
        )
        .route("/cloud/v1/elastic-ips", get(list_eips).post(allocate_eip))
        .route("/cloud/v1/elastic-ips/{id}", delete(release_eip))
        .route("/cloud/v1/nat-gateways", get(list_nats).post(create_nat))
        .route(
            "/cloud/v1/nat-gateways/{id}",
            get(get_nat).delete(delete_nat),
        )
        .route(
            "/cloud/v1/vpc-peering-connections",
            get(list_peerings).post(create_peering),
        )
        .route(
            "/cloud/v1/vpc-peering-connections/{id}",
            get(get_peering).delete(delete_peering),
        )
        .route(
            "/cloud/v1/vpc-peering-connections/{id}/accept",
            post(accept_peering),
        )
        .route(
            "/cloud/v1/vpc-peering-connections/{id}/reject",
            post(reject_peering),
        )
        .route(
            "/cloud/v1/vpc-peering-connections/{id}/options",
            post(modify_peering_options),
        )
        .route("/cloud/v1/internet", get(internet))
        .route("/cloud/v1/internet/exec", post(internet_exec))
        .route(
            "/cloud/v1/internet/processes",
            get(internet_processes).post(internet_run),
        )
        .route("/cloud/v1/internet/processes/{pid}", delete(internet_stop))
        .merge(privatelink_routes())
        .merge(dns_routes())
}

fn privatelink_routes() -> Router<AppState> {
    Router::new()
        .route("/cloud/v1/load-balancers", get(list_lbs).post(create_lb))
        .route(
            "/cloud/v1/load-balancers/{id}",
            get(get_lb).delete(delete_lb),
        )
        .route(
            "/cloud/v1/load-balancers/{id}/listeners",
            post(create_listener),
        )
        .route(
            "/cloud/v1/load-balancers/{id}/listeners/{listener}",
            delete(delete_listener),
        )
        .route("/cloud/v1/target-groups", get(list_tgs).post(create_tg))
        .route(
            "/cloud/v1/target-groups/{id}",
            get(get_tg).delete(delete_tg),
        )
        .route(
            "/cloud/v1/target-groups/{id}/targets",
            post(register_targets).delete(deregister_targets),
        )
        .route("/cloud/v1/target-groups/{id}/health", get(target_health))
        .route(
            "/cloud/v1/endpoint-services",
            get(list_services).post(create_service),
        )
        .route(
            "/cloud/v1/endpoint-services/{id}",
            get(get_service)
                .patch(modify_service)
                .delete(delete_service),
        )
        .route(
            "/cloud/v1/endpoint-services/{id}/permissions",
            post(modify_permissions),
        )
        .route(
            "/cloud/v1/endpoint-services/{id}/connections",
            get(list_connections),
        )
        .route(
            "/cloud/v1/endpoint-services/{id}/connections/accept",
            post(accept_connections),
        )
        .route(
            "/cloud/v1/endpoint-services/{id}/connections/reject",
            post(reject_connections),
        )
        .route(
            "/cloud/v1/vpc-endpoints",
            get(list_endpoints).post(create_endpoint),
        )
        .route(
            "/cloud/v1/vpc-endpoints/{id}",
            get(get_endpoint).delete(delete_endpoint),
        )
}

fn dns_routes() -> Router<AppState> {
    Router::new()
        .route("/cloud/v1/hosted-zones", get(list_zones).post(create_zone))
        .route(
            "/cloud/v1/hosted-zones/{id}",
            get(get_zone).delete(delete_zone),
        )
        .route(
            "/cloud/v1/hosted-zones/{id}/records",
            post(upsert_records).delete(delete_records),
        )
        .route(
            "/cloud/v1/hosted-zones/{id}/authorizations",
            post(authorize_zone),
        )
        .route(
            "/cloud/v1/hosted-zones/{id}/vpcs",
            post(associate_zone).delete(disassociate_zone),
        )
        .route(
            "/cloud/v1/resolver-rules",
            get(list_rules).post(create_rule),
        )
        .route(
            "/cloud/v1/resolver-rules/{id}",
            get(get_rule).delete(delete_rule),
        )
        .route(
            "/cloud/v1/resolver-rules/{id}/vpcs",
            post(associate_rule).delete(disassociate_rule),
        )
        .route("/cloud/v1/resolver-rules/{id}/shares", post(share_rule))
        .route(
            "/cloud/v1/resolver-rules/{id}/shares/{account}",
            delete(unshare_rule),
        )
        .route(
            "/cloud/v1/transit-gateways",
            get(list_tgws).post(create_tgw),
        )
        .route(
            "/cloud/v1/transit-gateways/{id}",
            get(get_tgw).delete(delete_tgw),
        )
        .route(
            "/cloud/v1/transit-gateway-attachments",
            get(list_tgw_attachments).post(create_tgw_attachment),
        )
        .route(
            "/cloud/v1/transit-gateway-attachments/{id}",
            get(get_tgw_attachment).delete(delete_tgw_attachment),
        )
        .route(
            "/cloud/v1/transit-gateway-attachments/{id}/accept",
            post(accept_tgw_attachment),
        )
        .route(
            "/cloud/v1/transit-gateway-attachments/{id}/reject",
            post(reject_tgw_attachment),
        )
        .route(
            "/cloud/v1/transit-gateway-route-tables",
            get(list_tgw_rtbs).post(create_tgw_rtb),
        )
        .route(
            "/cloud/v1/transit-gateway-route-tables/{id}",
            get(get_tgw_rtb).delete(delete_tgw_rtb),
        )
        .route(
            "/cloud/v1/transit-gateway-route-tables/{id}/associations",
            post(associate_tgw_rtb),
        )
        .route(
            "/cloud/v1/transit-gateway-route-tables/{id}/associations/{attachment}",
            delete(disassociate_tgw_rtb),
        )
        .route(
            "/cloud/v1/transit-gateway-route-tables/{id}/propagations",
            post(enable_tgw_propagation),
        )
        .route(
            "/cloud/v1/transit-gateway-route-tables/{id}/propagations/{attachment}",
            delete(disable_tgw_propagation),
        )
        .route(
            "/cloud/v1/transit-gateway-route-tables/{id}/routes",
            get(list_tgw_routes)
                .post(create_tgw_route)
                .delete(delete_tgw_route),
        )
        .route(
            "/cloud/v1/resource-shares",
            get(list_shares).post(create_share),
        )
        .route(
            "/cloud/v1/resource-shares/{id}",
            get(get_share).delete(delete_share),
        )
        .route(
            "/cloud/v1/resource-share-invitations",
            get(list_invitations),
        )
        .route(
            "/cloud/v1/resource-share-invitations/{id}/accept",
            post(accept_invitation),
        )
        .route(
            "/cloud/v1/resource-share-invitations/{id}/reject",
            post(reject_invitation),
        )
        .route(
            "/cloud/v1/public-records",
            get(list_public).post(publish_public),
        )
        .route("/cloud/v1/public-records/{name}", delete(unpublish_public))
}

async fn whoami(Caller(p): Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        principal: p.arn().to_string(),
        account_id: p.account().to_string(),
    })
}

async fn list_vpcs(State(e): State<AppState>, Caller(p): Caller) -> ApiResult<Json<Vec<Vpc>>> {
    Ok(Json(e.list_vpcs(&p).await?))
}
// The handlers that only delegate to one engine call, as the acting principal. Each macro
// expands to an ordinary axum handler, so routes name them as before.
macro_rules! list_handler {
    ($name:ident, $call:ident, $ty:ty) => {
        async fn $name(State(e): State<AppState>, Caller(p): Caller) -> ApiResult<Json<Vec<$ty>>> {
            Ok(Json(e.$call(&p).await?))
        }
    };
}
macro_rules! get_handler {
    ($name:ident, $call:ident, $ty:ty) => {
        async fn $name(
            State(e): State<AppState>,
            Caller(p): Caller,
            Path(id): Path<String>,
        ) -> ApiResult<Json<$ty>> {
            Ok(Json(e.$call(&p, &id).await?))
        }
    };
}
macro_rules! create_handler {
    ($name:ident, $call:ident, $req:ty) => {
        async fn $name(
            State(e): State<AppState>,
            Caller(p): Caller,
            Body(req): Body<$req>,
        ) -> ApiResult<impl IntoResponse> {
            Ok(created(e.$call(&p, req).await?))
        }
    };
}
macro_rules! delete_handler {
    ($name:ident, $call:ident) => {
        async fn $name(
            State(e): State<AppState>,
            Caller(p): Caller,
            Path(id): Path<String>,
        ) -> ApiResult<StatusCode> {
            e.$call(&p, &id).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

/// `POST /vpcs` body: [`CreateVpc`]'s fields and the VPC's attributes (spelled out rather
/// than flattened, so an unknown field is refused like in every other body).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateVpcBody {
    cidr_block: String,
    region: Option<String>,
    name: Option<String>,
    #[serde(default)]
    enable_dns_hostnames: bool,
}
async fn create_vpc(
    State(e): State<AppState>,
    Caller(p): Caller,
    Body(req): Body<CreateVpcBody>,
) -> ApiResult<impl IntoResponse> {
    let vpc = CreateVpc {
        cidr_block: req.cidr_block,
        region: req.region,
        name: req.name,
    };
    let attributes = VpcAttributes {
        enable_dns_hostnames: req.enable_dns_hostnames,
    };
    Ok(created(
        e.create_vpc_with_attributes(&p, vpc, attributes).await?,
    ))
}
async fn modify_vpc(
    State(e): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<ModifyVpc>,
) -> ApiResult<Json<Vpc>> {
    Ok(Json(e.modify_vpc(&p, &id, req).await?))
}
get_handler!(get_vpc, get_vpc, Vpc);
delete_handler!(delete_vpc, delete_vpc);

async fn list_subnets(
    State(e): State<AppState>,
    Caller(p): Caller,
    Query(f): Query<VpcFilter>,
) -> ApiResult<Json<Vec<Subnet>>> {
    Ok(Json(e.list_subnets(&p, f.vpc_id.as_deref()).await?))
}
create_handler!(create_subnet, create_subnet, CreateSubnet);
get_handler!(get_subnet, get_subnet, Subnet);
delete_handler!(delete_subnet, delete_subnet);
async fn list_routes(
    State(e): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Route>>> {
    Ok(Json(e.list_routes(&p, &id).await?))
}
async fn create_route(
    State(e): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<CreateRoute>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.create_route(&p, &id, req).await?))
}
async fn delete_route(
    State(e): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Query(k): Query<RouteKey>,
) -> ApiResult<StatusCode> {
    e.delete_route(&p, &id, &k.destination_cidr_block).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_instances(
    State(e): State<AppState>,
    Caller(p): Caller,
    Query(f): Query<VpcFilter>,
) -> ApiResult<Json<Vec<Instance>>> {
    Ok(Json(e.list_instances(&p, f.vpc_id.as_deref()).await?))
}
create_handler!(create_instance, create_instance, CreateInstance);
get_handler!(get_instance, get_instance, Instance);
delete_handler!(delete_instance, delete_instance);
async fn exec(
    State(e): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<ExecRequest>,
) -> ApiResult<Json<ExecResponse>> {
    let (stdin, timeout) = exec_parts(&req)?;
    let out = e.exec(&p, &id, &req.command, &stdin, timeout).await?;
    Ok(Json(exec_response(out)))
}
async fn list_processes(
    State(e): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Process>>> {
    Ok(Json(e.list_processes(&p, &id).await?))
}
async fn run_process(
    State(e): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<RunRequest>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.run_process(&p, &id, &req.command).await?))
}
async fn stop_process(
    State(e): State<AppState>,
    Caller(p): Caller,
    Path((id, pid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    e.stop_process(&p, &id, &pid).await?;
    Ok(StatusCode::NO_CONTENT)
}
async fn set_groups(
    State(e): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<SecurityGroupIds>,
) -> ApiResult<Json<Instance>> {
    e.set_instance_security_groups(&p, &id, &req.security_group_ids)
        .await?;
    Ok(Json(e.get_instance(&p, &id).await?))
}

async fn list_groups(
    State(e): State<AppState>,
    Caller(p): Caller,
    Query(f): Query<VpcFilter>,
) -> ApiResult<Json<Vec<SecurityGroup>>> {
    Ok(Json(e.list_security_groups(&p, f.vpc_id.as_deref()).await?))
}
create_handler!(create_group, create_security_group, CreateSecurityGroup);
get_handler!(get_group, get_security_group, SecurityGroup);
delete_handler!(delete_group, delete_security_group);
async fn add_rule(
    State(e): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<CreateSecurityGroupRule>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.add_security_group_rule(&p, &id, req).await?))
}
async fn revoke_rule(
    State(e): State<AppState>,
    Caller(p): Caller,
    Path((id, rule)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    e.revoke_security_group_rule(&p, &id, &rule).await?;
    Ok(StatusCode::NO_CONTENT)
}

list_handler!(list_igws, list_internet_gateways, InternetGateway);
create_handler!(create_igw, create_internet_gateway, CreateInternetGateway);
get_handler!(get_igw, get_internet_gateway, InternetGateway);
delete_handler!(delete_igw, delete_internet_gateway);
list_handler!(list_eips, list_elastic_ips, ElasticIp);
async fn allocate_eip(
    State(e): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.allocate_elastic_ip(&p).await?))
}
delete_handler!(release_eip, release_elastic_ip);
list_handler!(list_nats, list_nat_gateways, NatGateway);
create_handler!(create_nat, create_nat_gateway, CreateNatGateway);
get_handler!(get_nat, get_nat_gateway, NatGateway);
delete_handler!(delete_nat, delete_nat_gateway);

list_handler!(list_peerings, list_peerings, PeeringConnection);
create_handler!(create_peering, create_peering, CreatePeering);
get_handler!(get_peering, get_peering, PeeringConnection);
get_handler!(delete_peering, delete_peering, PeeringConnection);
get_handler!(accept_peering, accept_peering, PeeringConnection);
get_handler!(reject_peering, reject_peering, PeeringConnection);
async fn modify_peering_options(
    State(e): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<ModifyPeeringOptions>,
) -> ApiResult<Json<PeeringConnection>> {
    Ok(Json(e.modify_peering_options(&p, &id, req).await?))
}

async fn internet(State(e): State<AppState>) -> ApiResult<Json<Internet>> {
    Ok(Json(e.internet().await?))
}
async fn internet_exec(
    State(e): State<AppState>,
    Body(req): Body<ExecRequest>,
) -> ApiResult<Json<ExecResponse>> {
    let (stdin, timeout) = exec_parts(&req)?;
    let out = e.internet_exec(&req.command, &stdin, timeout).await?;
    Ok(Json(exec_response(out)))
}
async fn internet_run(
    State(e): State<AppState>,
    Caller(p): Caller,
    Body(req): Body<RunRequest>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.internet_run(&p, &req.command).await?))
}
list_handler!(internet_processes, internet_processes, Process);
async fn internet_stop(
    State(e): State<AppState>,
    Caller(p): Caller,
    Path(pid): Path<String>,
) -> ApiResult<StatusCode> {
    e.stop_process(&p, "internet", &pid).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- PrivateLink ----

/// `POST …/connections/accept|reject` body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointIds {
    pub vpc_endpoint_ids: Vec<String>,
}

type S = State<AppState>;

async fn list_lbs(State(e): S, Caller(p): Caller) -> ApiResult<Json<Vec<LoadBalancer>>> {
    Ok(Json(e.list_load_balancers(&p).await?))
}
async fn create_lb(
    State(e): S,
    Caller(p): Caller,
    Body(req): Body<CreateLoadBalancer>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.create_load_balancer(&p, req).await?))
}
async fn get_lb(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<LoadBalancer>> {
    Ok(Json(e.get_load_balancer(&p, &id).await?))
}
async fn delete_lb(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    e.delete_load_balancer(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
async fn create_listener(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<CreateListener>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.create_listener(&p, &id, req).await?))
}
async fn delete_listener(
    State(e): S,
    Caller(p): Caller,
    Path((id, l)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    e.delete_listener(&p, &id, &l).await?;
    Ok(StatusCode::NO_CONTENT)
}
async fn list_tgs(State(e): S, Caller(p): Caller) -> ApiResult<Json<Vec<TargetGroup>>> {
    Ok(Json(e.list_target_groups(&p).await?))
}
async fn create_tg(
    State(e): S,
    Caller(p): Caller,
    Body(req): Body<CreateTargetGroup>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.create_target_group(&p, req).await?))
}
async fn get_tg(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TargetGroup>> {
    Ok(Json(e.get_target_group(&p, &id).await?))
}
async fn delete_tg(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    e.delete_target_group(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
async fn register_targets(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<Targets>,
) -> ApiResult<Json<Vec<TargetHealth>>> {
    Ok(Json(e.register_targets(&p, &id, req).await?))
}
async fn deregister_targets(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<Targets>,
) -> ApiResult<Json<Vec<TargetHealth>>> {
    Ok(Json(e.deregister_targets(&p, &id, req).await?))
}
async fn target_health(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<TargetHealth>>> {
    Ok(Json(e.target_health(&p, &id).await?))
}
async fn list_services(State(e): S, Caller(p): Caller) -> ApiResult<Json<Vec<EndpointService>>> {
    Ok(Json(e.list_endpoint_services(&p).await?))
}
async fn create_service(
    State(e): S,
    Caller(p): Caller,
    Body(req): Body<CreateEndpointService>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.create_endpoint_service(&p, req).await?))
}
async fn get_service(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointService>> {
    Ok(Json(e.get_endpoint_service(&p, &id).await?))
}
async fn delete_service(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    e.delete_endpoint_service(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
async fn modify_service(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<ModifyEndpointService>,
) -> ApiResult<Json<EndpointService>> {
    Ok(Json(e.modify_endpoint_service(&p, &id, req).await?))
}
async fn modify_permissions(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<ModifyPermissions>,
) -> ApiResult<Json<EndpointService>> {
    Ok(Json(e.modify_service_permissions(&p, &id, req).await?))
}
async fn list_connections(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<EndpointConnection>>> {
    Ok(Json(e.list_endpoint_connections(&p, &id).await?))
}
async fn accept_connections(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<EndpointIds>,
) -> ApiResult<Json<Vec<EndpointConnection>>> {
    Ok(Json(
        e.decide_endpoint_connections(&p, &id, &req.vpc_endpoint_ids, true)
            .await?,
    ))
}
async fn reject_connections(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<EndpointIds>,
) -> ApiResult<Json<Vec<EndpointConnection>>> {
    Ok(Json(
        e.decide_endpoint_connections(&p, &id, &req.vpc_endpoint_ids, false)
            .await?,
    ))
}
async fn list_endpoints(State(e): S, Caller(p): Caller) -> ApiResult<Json<Vec<Endpoint>>> {
    Ok(Json(e.list_endpoints(&p).await?))
}
async fn create_endpoint(
    State(e): S,
    Caller(p): Caller,
    Body(req): Body<CreateEndpoint>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.create_endpoint(&p, req).await?))
}
async fn get_endpoint(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Endpoint>> {
    Ok(Json(e.get_endpoint(&p, &id).await?))
}
async fn delete_endpoint(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Endpoint>> {
    Ok(Json(e.delete_endpoint(&p, &id).await?))
}

// ---- DNS ----

async fn list_zones(State(e): S, Caller(p): Caller) -> ApiResult<Json<Vec<HostedZone>>> {
    Ok(Json(e.list_hosted_zones(&p).await?))
}
async fn create_zone(
    State(e): S,
    Caller(p): Caller,
    Body(req): Body<CreateHostedZone>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.create_hosted_zone(&p, req).await?))
}
async fn get_zone(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<HostedZone>> {
    Ok(Json(e.get_hosted_zone(&p, &id).await?))
}
async fn delete_zone(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    e.delete_hosted_zone(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
async fn upsert_records(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<RecordSet>,
) -> ApiResult<Json<HostedZone>> {
    Ok(Json(e.upsert_record_set(&p, &id, req).await?))
}
async fn delete_records(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<RecordKey>,
) -> ApiResult<Json<HostedZone>> {
    Ok(Json(e.delete_record_set(&p, &id, req).await?))
}
async fn authorize_zone(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<VpcRef>,
) -> ApiResult<Json<HostedZone>> {
    Ok(Json(
        e.authorize_zone_association(&p, &id, &req.vpc_id).await?,
    ))
}
async fn associate_zone(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<VpcRef>,
) -> ApiResult<Json<HostedZone>> {
    Ok(Json(e.associate_zone(&p, &id, &req.vpc_id).await?))
}
async fn disassociate_zone(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<VpcRef>,
) -> ApiResult<Json<HostedZone>> {
    Ok(Json(e.disassociate_zone(&p, &id, &req.vpc_id).await?))
}
async fn list_rules(State(e): S, Caller(p): Caller) -> ApiResult<Json<Vec<ResolverRule>>> {
    Ok(Json(e.list_resolver_rules(&p).await?))
}
async fn create_rule(
    State(e): S,
    Caller(p): Caller,
    Body(req): Body<CreateResolverRule>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.create_resolver_rule(&p, req).await?))
}
async fn get_rule(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ResolverRule>> {
    Ok(Json(e.get_resolver_rule(&p, &id).await?))
}
async fn delete_rule(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    e.delete_resolver_rule(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
async fn associate_rule(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<VpcRef>,
) -> ApiResult<Json<ResolverRule>> {
    Ok(Json(e.associate_resolver_rule(&p, &id, &req.vpc_id).await?))
}
async fn disassociate_rule(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<VpcRef>,
) -> ApiResult<Json<ResolverRule>> {
    Ok(Json(
        e.disassociate_resolver_rule(&p, &id, &req.vpc_id).await?,
    ))
}
async fn share_rule(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<ShareRequest>,
) -> ApiResult<Json<ResolverRule>> {
    Ok(Json(e.share_resolver_rule(&p, &id, &req.account_id).await?))
}
async fn unshare_rule(
    State(e): S,
    Caller(p): Caller,
    Path((id, account)): Path<(String, String)>,
) -> ApiResult<Json<ResolverRule>> {
    Ok(Json(e.unshare_resolver_rule(&p, &id, &account).await?))
}
async fn list_public(State(e): S) -> ApiResult<Json<Vec<PublicRecord>>> {
    Ok(Json(e.list_public_records().await?))
}
async fn publish_public(
    State(e): S,
    Body(req): Body<PublicRecord>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.publish_public_record(req).await?))
}
async fn unpublish_public(State(e): S, Path(name): Path<String>) -> ApiResult<StatusCode> {
    e.unpublish_public_record(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

list_handler!(list_tgws, list_transit_gateways, TransitGateway);
create_handler!(create_tgw, create_transit_gateway, CreateTransitGateway);
get_handler!(get_tgw, get_transit_gateway, TransitGateway);
get_handler!(delete_tgw, delete_transit_gateway, TransitGateway);
list_handler!(
    list_tgw_attachments,
    list_transit_gateway_attachments,
    TransitGatewayVpcAttachment
);
create_handler!(
    create_tgw_attachment,
    create_transit_gateway_vpc_attachment,
    CreateTransitGatewayVpcAttachment
);
get_handler!(
    get_tgw_attachment,
    get_transit_gateway_attachment,
    TransitGatewayVpcAttachment
);
get_handler!(
    delete_tgw_attachment,
    delete_transit_gateway_attachment,
    TransitGatewayVpcAttachment
);
get_handler!(
    accept_tgw_attachment,
    accept_transit_gateway_attachment,
    TransitGatewayVpcAttachment
);
get_handler!(
    reject_tgw_attachment,
    reject_transit_gateway_attachment,
    TransitGatewayVpcAttachment
);
list_handler!(
    list_tgw_rtbs,
    list_transit_gateway_route_tables,
    TransitGatewayRouteTable
);
create_handler!(
    create_tgw_rtb,
    create_transit_gateway_route_table,
    CreateTransitGatewayRouteTable
);
get_handler!(
    get_tgw_rtb,
    get_transit_gateway_route_table,
    TransitGatewayRouteTable
);
delete_handler!(delete_tgw_rtb, delete_transit_gateway_route_table);
async fn associate_tgw_rtb(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<TransitGatewayAttachmentRef>,
) -> ApiResult<Json<TransitGatewayRouteTable>> {
    Ok(Json(
        e.associate_transit_gateway_route_table(&p, &id, &req.transit_gateway_attachment_id)
            .await?,
    ))
}
async fn disassociate_tgw_rtb(
    State(e): S,
    Caller(p): Caller,
    Path((id, att)): Path<(String, String)>,
) -> ApiResult<Json<TransitGatewayRouteTable>> {
    Ok(Json(
        e.disassociate_transit_gateway_route_table(&p, &id, &att)
            .await?,
    ))
}
async fn enable_tgw_propagation(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<TransitGatewayAttachmentRef>,
) -> ApiResult<Json<TransitGatewayRouteTable>> {
    Ok(Json(
        e.enable_transit_gateway_route_table_propagation(
            &p,
            &id,
            &req.transit_gateway_attachment_id,
        )
        .await?,
    ))
}
async fn disable_tgw_propagation(
    State(e): S,
    Caller(p): Caller,
    Path((id, att)): Path<(String, String)>,
) -> ApiResult<Json<TransitGatewayRouteTable>> {
    Ok(Json(
        e.disable_transit_gateway_route_table_propagation(&p, &id, &att)
            .await?,
    ))
}
async fn list_tgw_routes(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<TransitGatewayRoute>>> {
    Ok(Json(e.list_transit_gateway_routes(&p, &id).await?))
}
async fn create_tgw_route(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(req): Body<CreateTransitGatewayRoute>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(e.create_transit_gateway_route(&p, &id, req).await?))
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TgwRouteQuery {
    destination_cidr_block: String,
}
async fn delete_tgw_route(
    State(e): S,
    Caller(p): Caller,
    Path(id): Path<String>,
    Query(q): Query<TgwRouteQuery>,
) -> ApiResult<StatusCode> {
    e.delete_transit_gateway_route(&p, &id, &q.destination_cidr_block)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
list_handler!(list_shares, list_resource_shares, ResourceShare);
create_handler!(create_share, create_resource_share, CreateResourceShare);
get_handler!(get_share, get_resource_share, ResourceShare);
get_handler!(delete_share, delete_resource_share, ResourceShare);
list_handler!(
    list_invitations,
    list_resource_share_invitations,
    ResourceShareInvitation
);
get_handler!(
    accept_invitation,
    accept_resource_share_invitation,
    ResourceShareInvitation
);
get_handler!(
    reject_invitation,
    reject_resource_share_invitation,
    ResourceShareInvitation
);
