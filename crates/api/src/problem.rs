//! RFC 9457 problem details: every error the API answers is `application/problem+json`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use linkplane_model::{FieldError, ValidationErrors};
use linkplane_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// URI identifying the problem type, e.g. `urn:linkplane:problem:validation`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For validation problems: each broken rule, naming the field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// The errors handlers return; each maps to one status code.
#[derive(Debug)]
pub enum ApiError {
    /// 400: malformed JSON, wrong types, unknown fields, bad query or header.
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// 401: missing or invalid token.
    Unauthorized(String),
    /// 403: the token's role is too low (or an agent token for another deployment).
    Forbidden(String),
    /// 404: missing, or another organization's.
    NotFound(String),
    /// 409: conflict or wrong state.
    Conflict(String),
    /// 410: what the caller's credential is for was deleted (an agent token's deployment):
    /// retrying cannot succeed.
    Gone(String),
    /// 412: If-Match did not match.
    PreconditionFailed(String),
    /// 413: body over the limit.
    PayloadTooLarge(String),
    /// 415: not JSON.
    UnsupportedMediaType(String),
    /// 422: semantic validation.
    Unprocessable(ValidationErrors),
    /// 405
    MethodNotAllowed,
    /// 500: our fault (never for client input). The detail is logged, not returned.
    Internal(String),
}

impl ApiError {
    pub fn bad_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::BadRequest {
            detail: format!("{field}: {message}"),
            errors: vec![FieldError::new(field, message)],
        }
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("{what} was not found in this organization"))
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Unprocessable(ValidationErrors::single(field, message))
    }

    fn parts(
        self,
    ) -> (
        StatusCode,
        &'static str,
        &'static str,
        String,
        Vec<FieldError>,
    ) {
        use StatusCode as S;
        match self {
            Self::BadRequest { detail, errors } => (
                S::BAD_REQUEST,
                "bad-request",
                "Malformed request",
                detail,
                errors,
            ),
            Self::Unauthorized(d) => (S::UNAUTHORIZED, "unauthorized", "Unauthorized", d, vec![]),
            Self::Forbidden(d) => (S::FORBIDDEN, "forbidden", "Forbidden", d, vec![]),
            Self::NotFound(d) => (S::NOT_FOUND, "not-found", "Not found", d, vec![]),
            Self::Conflict(d) => (S::CONFLICT, "conflict", "Conflict", d, vec![]),
            Self::Gone(d) => (S::GONE, "gone", "Gone", d, vec![]),
            Self::PreconditionFailed(d) => (
                S::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
                d,
                vec![],
            ),
            Self::PayloadTooLarge(d) => (
                S::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
                d,
                vec![],
            ),
            Self::UnsupportedMediaType(d) => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                d,
                vec![],
            ),
            Self::Unprocessable(v) => (
                S::UNPROCESSABLE_ENTITY,
                "validation",
                "Validation failed",
                v.to_string(),
                v.0,
            ),
            Self::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this path does not support that method; see /openapi.json".into(),
                vec![],
            ),
            Self::Internal(d) => {
                tracing::error!(error = %d, "internal error");
                (
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal server error",
                    "the server failed; the error is in its log".into(),
                    vec![],
                )
            }
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(v: ValidationErrors) -> Self {
        Self::Unprocessable(v)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => Self::NotFound(e.to_string()),
            StoreError::PreconditionFailed { .. } => Self::PreconditionFailed(e.to_string()),
            StoreError::Conflict(d)
            | StoreError::AlreadyExists(d)
            | StoreError::LimitReached(d) => Self::Conflict(d),
            StoreError::IdempotencyKeyTaken => {
                Self::Conflict("a request with this Idempotency-Key is in progress; retry".into())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unauthorized = matches!(self, Self::Unauthorized(_));
        let (status, slug, title, detail, errors) = self.parts();
        let problem = Problem {
            problem_type: format!("urn:linkplane:problem:{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = (status, body).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if unauthorized {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"linkplane\""),
            );
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
