//! Why a request did not succeed, as data: no HTTP answer ([`Error::Unreachable`]), an error
//! answer ([`Error::Status`], with the RFC 9457 problem document when the server sent one),
//! or an answer that is not the JSON expected ([`Error::Decode`]).
//!
//! `Display` says what happened in words a person can act on, without naming any program's
//! flags; [`Error::advice`] says which kind of fix applies, for a caller to phrase in its
//! own terms (the CLI names `--ca-file`, `LINKPLANE_TOKEN`, …).

use std::fmt;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A field-level validation error inside a problem (`errors[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The JSON field (a path such as `remoteExecution.allowedIpAddressRanges[0]`), or `-`.
    pub field: String,
    pub message: String,
}

/// An RFC 9457 `application/problem+json` document as linkplane sends it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// One entry per invalid field (validation problems).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// What kind of transport failure happened (no HTTP answer at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Nothing listens, the name does not resolve, the connection broke.
    Connect,
    /// The TLS handshake failed: the certificate is not trusted (or not for this name).
    Tls,
    /// The server accepted the connection but did not answer in time.
    Timeout,
}

/// Which kind of fix applies to an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advice {
    /// Is the server running, is the URL right?
    NotRunning,
    /// Trust the server's CA.
    TrustCa,
    /// Raise the timeout or check the URL.
    Timeout,
    /// 401: give a valid token.
    Token,
    /// 403: a token with a higher role is needed.
    Role,
    /// 412: read the resource again and retry.
    Reread,
    /// The answer is not linkplane's JSON: is the URL that of a linkplane server?
    CheckUrl,
}

/// Why a request did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No HTTP answer at all: refused, DNS, TLS, timeout.
    #[error("cannot reach the linkplane control plane at {url}: {reason}.")]
    Unreachable {
        /// The client's base URL, as configured.
        url: String,
        /// The innermost cause ("Connection refused", "invalid peer certificate: …").
        reason: String,
        /// The whole chain of causes, outermost first, joined by `: `.
        chain: String,
        kind: Transport,
    },
    /// The server answered with an error status.
    #[error("{}", status_text(*.status, .problem.as_deref(), .body.as_deref()))]
    Status {
        status: StatusCode,
        /// The problem document, when the body was one (boxed: errors stay small).
        problem: Option<Box<Problem>>,
        /// The body (at most 500 characters) when it was not a problem document.
        body: Option<String>,
    },
    /// A 2xx answer whose body is not the JSON expected.
    #[error("the answer from {url} is not the JSON linkplane sends ({reason})")]
    Decode { url: String, reason: String },
    /// A request body that cannot be encoded as JSON.
    #[error("cannot encode the request body: {0}")]
    Encode(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a client cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{raw:?} is not a URL ({reason}); expected e.g. http://127.0.0.1:8080")]
    NotAUrl { raw: String, reason: String },
    #[error("{raw:?} must start with http:// or https://, e.g. http://127.0.0.1:8080")]
    Scheme { raw: String },
    #[error("{raw:?} has no host; expected e.g. http://127.0.0.1:8080")]
    NoHost { raw: String },
    #[error("the CA bundle is not a PEM certificate bundle: {0}")]
    NotPem(String),
    #[error("the CA bundle holds no PEM certificate")]
    NoCertificate,
    #[error("cannot set up the HTTP client: {0}")]
    Http(String),
}

impl Error {
    /// Builds the error from a non-2xx answer; understands RFC 9457 problem documents (an
    /// object with a `title` or a `detail`).
    pub fn from_answer(status: StatusCode, raw: &str) -> Self {
        let parsed: Option<Value> = serde_json::from_str(raw).ok();
        let problem = parsed
            .filter(|p| p.is_object() && (p.get("title").is_some() || p.get("detail").is_some()))
            .map(|p| problem_of(&p));
        match problem {
            Some(problem) => Error::Status {
                status,
                problem: Some(Box::new(problem)),
                body: None,
            },
            None => Error::Status {
                status,
                problem: None,
                body: Some(raw.trim().chars().take(500).collect()),
            },
        }
    }

    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem document of an error answer.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Status { problem, .. } => problem.as_deref(),
            _ => None,
        }
    }

    /// The problem's `detail`, else the raw body of an error answer.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Error::Status { problem, body, .. } => problem
                .as_deref()
                .and_then(|p| p.detail.as_deref())
                .or(body.as_deref()),
            _ => None,
        }
    }

    /// Whether this is a 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// Which kind of fix applies, if any.
    pub fn advice(&self) -> Option<Advice> {
        match self {
            Error::Unreachable { kind, .. } => Some(match kind {
                Transport::Connect => Advice::NotRunning,
                Transport::Tls => Advice::TrustCa,
                Transport::Timeout => Advice::Timeout,
            }),
            Error::Status { status, .. } => match status.as_u16() {
                401 => Some(Advice::Token),
                403 => Some(Advice::Role),
                412 => Some(Advice::Reread),
                _ => None,
            },
            Error::Decode { .. } => Some(Advice::CheckUrl),
            Error::Encode(_) => None,
        }
    }
}

fn problem_of(p: &Value) -> Problem {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Problem {
        type_: text(p, "type"),
        title: text(p, "title"),
        status: p
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok()),
        detail: text(p, "detail"),
        errors: p
            .get("errors")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|e| FieldError {
                        field: text(e, "field").unwrap_or_else(|| "-".to_owned()),
                        message: text(e, "message").unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// `Title (HTTP 422): detail` and one line per invalid field.
fn status_text(status: StatusCode, problem: Option<&Problem>, body: Option<&str>) -> String {
    struct Text<'a>(StatusCode, Option<&'a Problem>, Option<&'a str>);
    impl fmt::Display for Text<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let Text(status, problem, body) = *self;
            let title = problem
                .and_then(|p| p.title.as_deref())
                .or(status.canonical_reason())
                .unwrap_or("error");
            write!(f, "{title} (HTTP {})", status.as_u16())?;
            let errors: &[FieldError] = problem.map(|p| p.errors.as_slice()).unwrap_or_default();
            match problem
                .and_then(|p| p.detail.as_deref())
                .filter(|d| !d.is_empty())
            {
                // A detail that only repeats the field errors listed below.
                Some(d) if repeats_errors(d, errors) => {
                    write!(f, ": {} invalid field(s)", errors.len())?;
                }
                Some(d) => write!(f, ": {d}")?,
                None => {}
            }
            for e in errors {
                write!(f, "\n  {}: {}", e.field, e.message)?;
            }
            if let Some(body) = body.filter(|b| !b.is_empty()) {
                write!(f, ": {body}")?;
            }
            Ok(())
        }
    }
    Text(status, problem, body).to_string()
}

fn repeats_errors(detail: &str, errors: &[FieldError]) -> bool {
    !errors.is_empty()
        && errors
            .iter()
            .all(|e| detail.contains(&format!("{}: {}", e.field, e.message)))
}

/// The innermost cause of a transport error, which is what a person can act on
/// ("Connection refused", "invalid peer certificate: UnknownIssuer"), the whole chain, and
/// the kind of failure.
pub(crate) fn describe_transport_error(e: &reqwest::Error) -> (String, String, Transport) {
    let mut source: &dyn std::error::Error = e;
    let mut chain = e.to_string();
    let mut tls = false;
    loop {
        tls |= source.is::<rustls::Error>();
        match source.source() {
            Some(next) => {
                chain.push_str(": ");
                chain.push_str(&next.to_string());
                source = next;
            }
            None => break,
        }
    }
    let root = source.to_string();
    tls |= root.contains("certificate") || root.to_lowercase().contains("tls");
    if e.is_timeout() {
        (format!("timed out ({root})"), chain, Transport::Timeout)
    } else if tls {
        (root, chain, Transport::Tls)
    } else {
        (root, chain, Transport::Connect)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_validation_problem_names_each_field() {
        let raw = r#"{"type":"about:blank","title":"Validation failed","status":422,
            "detail":"2 fields are invalid","errors":[
            {"field":"vpcSubnetRange","message":"must be inside RFC 1918"},
            {"field":"name","message":"must be 1-63 characters"}]}"#;
        let err = Error::from_answer(StatusCode::UNPROCESSABLE_ENTITY, raw);
        let text = err.to_string();
        assert!(text.starts_with("Validation failed (HTTP 422): 2 fields are invalid"));
        assert!(text.contains("\n  vpcSubnetRange: must be inside RFC 1918"));
        assert!(text.contains("\n  name: must be 1-63 characters"));
        assert_eq!(err.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
        let p = err.problem().unwrap();
        assert_eq!(p.status, Some(422));
        assert_eq!(p.type_.as_deref(), Some("about:blank"));
        assert_eq!(p.errors[0].field, "vpcSubnetRange");
        assert_eq!(err.detail(), Some("2 fields are invalid"));
    }

    #[test]
    fn a_detail_that_repeats_the_field_errors_is_not_printed_twice() {
        let raw = r#"{"title":"Validation failed","status":422,
            "detail":"1 validation error(s): peerCidr: 10.0.0.0/16 overlaps the cluster",
            "errors":[{"field":"peerCidr","message":"10.0.0.0/16 overlaps the cluster"}]}"#;
        let text = Error::from_answer(StatusCode::UNPROCESSABLE_ENTITY, raw).to_string();
        assert_eq!(
            text,
            "Validation failed (HTTP 422): 1 invalid field(s)\n  peerCidr: 10.0.0.0/16 overlaps the cluster"
        );
    }

    #[test]
    fn a_non_problem_body_is_kept_raw_and_truncated() {
        let err = Error::from_answer(StatusCode::NOT_FOUND, &"x".repeat(2000));
        let text = err.to_string();
        assert!(text.starts_with("Not Found (HTTP 404): xxx"));
        assert!(text.len() < 600, "{}", text.len());
        assert!(err.problem().is_none());
        assert!(err.is_not_found());
    }

    #[test]
    fn status_codes_map_to_advice() {
        let advice =
            |code: u16| Error::from_answer(StatusCode::from_u16(code).unwrap(), "").advice();
        assert_eq!(advice(401), Some(Advice::Token));
        assert_eq!(advice(403), Some(Advice::Role));
        assert_eq!(advice(412), Some(Advice::Reread));
        assert_eq!(advice(500), None);
    }
}
