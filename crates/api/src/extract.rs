//! Extractors that answer problem+json instead of axum's text/plain rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use chrono::Utc;
use linkplane_model::{FieldError, ResourceId, Role};
use linkplane_store::{PageRequest, TokenKind, TokenRecord, hash_body, hash_token};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;
use crate::state::AppState;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON body parsed into `T`: 400 naming the field for malformed JSON, wrong types and
/// unknown fields; 413 over 1 MiB; 415 when it is not JSON.
#[derive(Debug)]
pub struct JsonBody<T> {
    pub value: T,
    /// SHA-256 of the raw body (for idempotency keys).
    pub body_hash: String,
}

/// Parse JSON bytes into `T`, mapping every failure to a 400 that names the field. A
/// struct is read from a JSON object only, at every depth: an array where an object is
/// required (`["t","ORGANIZATION_MEMBER"]`) is refused, not read by position.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    linkplane_model::strict::from_slice(bytes).map_err(|e| {
        let field = if e.field.is_empty() {
            "body".to_owned()
        } else {
            e.field.clone()
        };
        ApiError::BadRequest {
            detail: e.to_string(),
            errors: vec![FieldError::new(field, e.message)],
        }
    })
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the body as JSON with Content-Type: application/json (got {:?})",
                if ct.is_empty() { "nothing" } else { &ct }
            )));
        }
        // Refuse from the header alone: neither read nor wait for a body that is too large.
        let announced = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(ApiError::PayloadTooLarge(format!(
                "the body is over the limit of {MAX_BODY_BYTES} bytes (1 MiB)"
            )));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(format!(
                    "the body is over the limit of {MAX_BODY_BYTES} bytes (1 MiB)"
                ))
            } else {
                ApiError::BadRequest {
                    detail: format!("cannot read the body: {}", r.body_text()),
                    errors: vec![],
                }
            }
        })?;
        let value = parse_json(&bytes)?;
        Ok(Self {
            value,
            body_hash: hash_body(&bytes),
        })
    }
}

/// The caller of an organization API: a valid, unrevoked API token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: ResourceId,
    pub org_id: ResourceId,
    pub role: Role,
}

impl Principal {
    /// The organization of the path, which must be the token's (else 404, never 403).
    pub fn org(&self, path_org: &str) -> Result<ResourceId, ApiError> {
        if path_org == self.org_id.as_str() {
            Ok(self.org_id.clone())
        } else {
            Err(ApiError::not_found(format!("organization {path_org:?}")))
        }
    }

    pub fn require_owner(&self) -> Result<(), ApiError> {
        if self.role.is_owner() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this change needs an ORGANIZATION_OWNER token; this token is ORGANIZATION_MEMBER"
                    .into(),
            ))
        }
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "missing Authorization header; send Authorization: Bearer <token>".into(),
            )
        })?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not ASCII".into()))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::Unauthorized("expected Authorization: Bearer <token>".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized(
            "expected Authorization: Bearer <token>".into(),
        ));
    }
    Ok(token.trim())
}

/// Find an unrevoked token of `kind` by its secret; record its use at most once a minute.
async fn authenticate(
    state: &AppState,
    parts: &Parts,
    kind: TokenKind,
) -> Result<TokenRecord, ApiError> {
    let secret = bearer(parts)?;
    let invalid = || ApiError::Unauthorized("the token is invalid or revoked".into());
    let rec = state
        .store
        .token_by_hash(&hash_token(secret))
        .await?
        .ok_or_else(invalid)?;
    if rec.kind != kind || rec.revoked_at.is_some() {
        return Err(invalid());
    }
    let now = Utc::now();
    if rec
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::seconds(60))
    {
        state.store.touch_token(&rec.id, now).await?;
    }
    Ok(rec)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let rec = authenticate(state, parts, TokenKind::Api).await?;
        let role = rec
            .role
            .ok_or_else(|| ApiError::Internal(format!("API token {} has no role", rec.id)))?;
        Ok(Self {
            token_id: rec.id,
            org_id: rec.org_id,
            role,
        })
    }
}

/// The caller of the agent protocol: a valid, unrevoked agent token.
#[derive(Debug, Clone)]
pub struct AgentPrincipal {
    pub token_id: ResourceId,
    pub org_id: ResourceId,
    pub deployment_id: ResourceId,
}

impl FromRequestParts<AppState> for AgentPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let rec = authenticate(state, parts, TokenKind::Agent).await?;
        let deployment_id = rec.scope_id.ok_or_else(|| {
            ApiError::Internal(format!("agent token {} has no deployment", rec.id))
        })?;
        Ok(Self {
            token_id: rec.id,
            org_id: rec.org_id,
            deployment_id,
        })
    }
}

/// The `Idempotency-Key` header (1–255 visible ASCII characters), if sent.
///
/// While the request runs it holds this process's lock for its route and key, so
/// concurrent retries with one key run one after the other: the first creates, every
/// later one finds the first's record and replays it (instead of racing the first into a
/// 409 or a 422 "already exists").
#[derive(Debug)]
pub struct IdempotencyKey(pub Option<String>, #[allow(dead_code)] Option<InFlight>);

/// Creates in flight in this process, by method, path and key.
type InFlightMap =
    std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>;
static IN_FLIGHT: std::sync::LazyLock<InFlightMap> = std::sync::LazyLock::new(Default::default);

/// Holds the lock of one route and key until the request is done.
#[derive(Debug)]
pub struct InFlight {
    scope: String,
    lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl InFlight {
    async fn enter(scope: String) -> Self {
        let lock = {
            let mut map = IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner());
            std::sync::Arc::clone(map.entry(scope.clone()).or_default())
        };
        let guard = Some(std::sync::Arc::clone(&lock).lock_owned().await);
        Self { scope, lock, guard }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map and this holder left: nobody waits, forget the scope.
        if std::sync::Arc::strong_count(&self.lock) == 2 {
            map.remove(&self.scope);
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(v) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None, None));
        };
        let bad = || {
            ApiError::bad_field(
                "Idempotency-Key",
                "must be 1–255 visible ASCII characters (e.g. a UUID)",
            )
        };
        let s = v.to_str().map_err(|_| bad())?;
        if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad());
        }
        let scope = format!("{} {} {s}", parts.method, parts.uri.path());
        Ok(Self(Some(s.to_owned()), Some(InFlight::enter(scope).await)))
    }
}

/// The raw `If-Match` header, if sent.
#[derive(Debug, Clone)]
pub struct IfMatchHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatchHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.headers.get(header::IF_MATCH) {
            None => Ok(Self(None)),
            Some(v) => v.to_str().map(|s| Self(Some(s.to_owned()))).map_err(|_| {
                ApiError::bad_field("If-Match", "must be an ETag from a previous response")
            }),
        }
    }
}

impl IfMatchHeader {
    /// The generation the client saw, or `None` without a header / with `*`.
    pub fn generation(&self, id: &ResourceId) -> Result<Option<i64>, ApiError> {
        match &self.0 {
            None => Ok(None),
            Some(v) => linkplane_store::parse_if_match(v, id)
                .map(|m| m.generation())
                .ok_or_else(|| {
                    ApiError::bad_field(
                        "If-Match",
                        "must be an ETag from a previous response, or *",
                    )
                }),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1–500 (default 100).
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// `?limit=&cursor=` parsed into a page request (400 naming the parameter otherwise).
#[derive(Debug, Clone, Copy)]
pub struct Pagination(pub PageRequest);

impl<S: Send + Sync> FromRequestParts<S> for Pagination {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, ApiError> {
        let Query(p) = Query::<ListParams>::from_request_parts(parts, s)
            .await
            .map_err(|e| ApiError::BadRequest {
                detail: format!("bad query string: {}", e.body_text()),
                errors: vec![],
            })?;
        PageRequest::parse(p.limit, p.cursor.as_deref())
            .map(Self)
            .map_err(|(field, msg)| ApiError::bad_field(field, msg))
    }
}

/// Path parameters; a path that cannot be decoded is a 404 problem.
#[derive(Debug)]
pub struct PathIds<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathIds<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, s)
            .await
            .map(|p| Self(p.0))
            .map_err(|e| ApiError::NotFound(format!("no such resource: {}", e.body_text())))
    }
}
