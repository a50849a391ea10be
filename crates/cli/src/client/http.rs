//! The HTTP layer: one [`Api`] per command, JSON in and out, RFC 9457 problems turned into
//! readable errors, and a clear message when the server cannot be reached.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url, header};
use serde_json::Value;

/// A connection to the control plane.
pub struct Api {
    http: reqwest::Client,
    base: Url,
    /// The base URL as people wrote it, for messages.
    shown: String,
    token: Option<String>,
}

/// A successful answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub etag: Option<String>,
    /// The body parsed as JSON (`Null` when empty).
    pub body: Value,
    /// The body exactly as the server sent it (printed verbatim by `--output json`).
    pub raw: String,
}

/// One request; built with [`Api::call`].
pub struct Call<'a> {
    api: &'a Api,
    method: Method,
    path: Vec<String>,
    query: Vec<(String, String)>,
    body: Option<Value>,
    if_match: Option<String>,
    idempotency_key: Option<String>,
}

/// A field-level validation error inside a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// What to suggest when there was no HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// Nothing listens, or the name does not resolve: is serve running, is the URL right?
    NotRunning,
    /// TLS failed: the certificate is not trusted (or not for this name).
    Tls,
    /// The server accepted the connection but did not answer in time.
    Timeout,
}

/// Why a request did not succeed.
#[derive(Debug)]
pub enum ApiError {
    /// No HTTP answer at all: refused, DNS, TLS, timeout.
    Unreachable {
        url: String,
        reason: String,
        hint: Hint,
    },
    /// The server answered with an error status.
    Status {
        status: StatusCode,
        title: Option<String>,
        detail: Option<String>,
        errors: Vec<FieldError>,
        /// The raw body when it was not a problem document.
        body: Option<String>,
    },
    /// A 2xx answer whose body is not JSON.
    Decode { url: String, reason: String },
}

impl Api {
    pub fn new(
        base_url: &str,
        token: Option<String>,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let base = parse_base_url(base_url)?;
        // reqwest is built without a default crypto provider; main installs ring, and this
        // makes the client usable on its own (tests). A second install is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("linkplane-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| anyhow::anyhow!("--ca-file is not a PEM certificate bundle: {e}"))?;
            if certs.is_empty() {
                anyhow::bail!("--ca-file holds no PEM certificate");
            }
            builder = builder.tls_certs_only(certs);
        }
        let http = builder
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))?;
        let shown = base.as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            http,
            base,
            shown,
            token,
        })
    }

    pub fn call<S: AsRef<str>>(&self, method: Method, path: &[S]) -> Call<'_> {
        Call {
            api: self,
            method,
            path: path.iter().map(|s| s.as_ref().to_owned()).collect(),
            query: Vec::new(),
            body: None,
            if_match: None,
            idempotency_key: None,
        }
    }

    pub async fn get<S: AsRef<str>>(
        &self,
        path: &[S],
        query: &[(&str, String)],
    ) -> Result<Reply, ApiError> {
        let mut call = self.call(Method::GET, path);
        for (k, v) in query {
            call = call.query(k, v);
        }
        call.send().await
    }

    /// The URL for path segments (each segment is percent-encoded).
    pub fn url<S: AsRef<str>>(&self, path: &[S]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty();
            for s in path {
                segments.push(s.as_ref());
            }
        }
        url
    }
}

fn parse_base_url(raw: &str) -> anyhow::Result<Url> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        anyhow::anyhow!("--url {raw:?} is not a URL ({e}); expected e.g. http://127.0.0.1:8080")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        anyhow::bail!(
            "--url {raw:?} must start with http:// or https://, e.g. http://127.0.0.1:8080"
        );
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        anyhow::bail!("--url {raw:?} has no host; expected e.g. http://127.0.0.1:8080");
    }
    Ok(url)
}

impl Call<'_> {
    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_owned(), value.into()));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn if_match(mut self, etag: Option<String>) -> Self {
        self.if_match = etag;
        self
    }

    /// Marks a create as safe to retry: sends `key`, or a fresh random one, as
    /// `Idempotency-Key`, so a retry after a lost answer returns the first result instead of
    /// creating a second resource.
    pub fn idempotency_key(mut self, key: Option<String>) -> Self {
        self.idempotency_key =
            Some(key.unwrap_or_else(|| format!("lp-cli-{:032x}", rand::random::<u128>())));
        self
    }

    /// Whether sending the request twice has the effect of sending it once.
    fn retryable(&self) -> bool {
        self.idempotency_key.is_some()
            || matches!(self.method, Method::GET | Method::PUT | Method::DELETE)
    }

    /// Sends the request. Idempotent requests are retried (at most [`ATTEMPTS`] in all)
    /// when the connection broke after it was sent, or on 502/503/504; a refused
    /// connection or a timeout is reported at once.
    pub async fn send(self) -> Result<Reply, ApiError> {
        let mut url = self.api.url(&self.path);
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        let shown = url.to_string();
        let mut req = self
            .api
            .http
            .request(self.method.clone(), url)
            .header(header::ACCEPT, "application/json, application/problem+json");
        if let Some(token) = &self.api.token {
            req = req.bearer_auth(token);
        }
        if let Some(etag) = &self.if_match {
            req = req.header(header::IF_MATCH, etag);
        }
        if let Some(key) = &self.idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        if let Some(body) = &self.body {
            req = req.json(body);
        }
        let attempts = if self.retryable() { ATTEMPTS } else { 1 };
        let mut attempt = 1;
        loop {
            tracing::debug!(method = %self.method, url = %shown, attempt, "request");
            let this = req.try_clone().ok_or_else(|| ApiError::Decode {
                url: shown.clone(),
                reason: "the request cannot be repeated".into(),
            })?;
            let outcome = self.api.exchange(this, &shown).await;
            let again = attempt < attempts
                && match &outcome {
                    Err(Attempt::Broken(e)) => !e.is_connect() && !e.is_timeout(),
                    Err(Attempt::Done(ApiError::Status { status, .. })) => {
                        matches!(status.as_u16(), 502..=504)
                    }
                    _ => false,
                };
            if !again {
                return outcome.map_err(|a| match a {
                    Attempt::Broken(e) => self.api.unreachable(&e, ""),
                    Attempt::Done(e) => e,
                });
            }
            tracing::debug!(attempt, "retrying an idempotent request");
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            attempt += 1;
        }
    }
}

/// Attempts per idempotent request.
const ATTEMPTS: u32 = 3;

/// How one attempt failed: no answer (maybe worth another try), or a final one.
enum Attempt {
    Broken(reqwest::Error),
    Done(ApiError),
}

impl Api {
    async fn exchange(&self, req: reqwest::RequestBuilder, shown: &str) -> Result<Reply, Attempt> {
        let resp = req.send().await.map_err(Attempt::Broken)?;
        let status = resp.status();
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let raw = resp.text().await.map_err(Attempt::Broken)?;
        if !status.is_success() {
            return Err(Attempt::Done(ApiError::from_answer(status, &raw)));
        }
        let body = if raw.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&raw).map_err(|e| {
                Attempt::Done(ApiError::Decode {
                    url: shown.to_owned(),
                    reason: e.to_string(),
                })
            })?
        };
        Ok(Reply {
            status,
            etag,
            body,
            raw,
        })
    }
}

impl Api {
    fn unreachable(&self, e: &reqwest::Error, prefix: &str) -> ApiError {
        let (reason, hint) = describe_transport_error(e);
        ApiError::Unreachable {
            url: self.shown.clone(),
            reason: format!("{prefix}{reason}"),
            hint,
        }
    }
}

/// The innermost cause of a transport error, which is what a person can act on
/// ("Connection refused", "invalid peer certificate: UnknownIssuer"), and what to suggest.
fn describe_transport_error(e: &reqwest::Error) -> (String, Hint) {
    let mut source: &dyn std::error::Error = e;
    let mut tls = false;
    loop {
        tls |= source.is::<rustls::Error>();
        match source.source() {
            Some(next) => source = next,
            None => break,
        }
    }
    let root = source.to_string();
    tls |= root.contains("certificate") || root.to_lowercase().contains("tls");
    if e.is_timeout() {
        (format!("timed out ({root})"), Hint::Timeout)
    } else if tls {
        (root, Hint::Tls)
    } else {
        (root, Hint::NotRunning)
    }
}

impl ApiError {
    /// Builds the error from a non-2xx answer; understands RFC 9457 problem documents.
    pub fn from_answer(status: StatusCode, raw: &str) -> Self {
        let parsed: Option<Value> = serde_json::from_str(raw).ok();
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        match parsed {
            Some(p) if p.is_object() && (p.get("title").is_some() || p.get("detail").is_some()) => {
                let errors = p
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
                    .unwrap_or_default();
                ApiError::Status {
                    status,
                    title: text(&p, "title"),
                    detail: text(&p, "detail"),
                    errors,
                    body: None,
                }
            }
            _ => ApiError::Status {
                status,
                title: None,
                detail: None,
                errors: Vec::new(),
                body: Some(raw.trim().chars().take(500).collect()),
            },
        }
    }

    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unreachable { url, reason, hint } => {
                writeln!(
                    f,
                    "cannot reach the linkplane control plane at {url}: {reason}."
                )?;
                match hint {
                    Hint::NotRunning => write!(
                        f,
                        "Is `linkplane serve` running there? Point --url or LINKPLANE_URL at it."
                    ),
                    Hint::Tls => write!(
                        f,
                        "The TLS handshake failed: if the server's certificate comes from your \
                         own CA (such as the one `linkplane serve` creates), trust it with \
                         --ca-file PATH or LINKPLANE_CA_FILE."
                    ),
                    Hint::Timeout => write!(
                        f,
                        "The server did not answer in time; raise --request-timeout, or check \
                         that --url points at a linkplane control plane."
                    ),
                }
            }
            ApiError::Decode { url, reason } => write!(
                f,
                "the answer from {url} is not the JSON linkplane sends ({reason}); \
                 is --url pointing at a linkplane control plane?"
            ),
            ApiError::Status {
                status,
                title,
                detail,
                errors,
                body,
            } => {
                let code = status.as_u16();
                let title = title
                    .as_deref()
                    .or(status.canonical_reason())
                    .unwrap_or("error");
                write!(f, "{title} (HTTP {code})")?;
                match detail.as_deref().filter(|d| !d.is_empty()) {
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
                if let Some(body) = body.as_deref().filter(|b| !b.is_empty()) {
                    write!(f, ": {body}")?;
                }
                match code {
                    401 => write!(
                        f,
                        "\nhint: give a valid token with --token, LINKPLANE_TOKEN or --token-file \
                         (a local `linkplane serve` writes one to <data-dir>/admin.token)"
                    ),
                    403 => write!(
                        f,
                        "\nhint: this needs a token with the ORGANIZATION_OWNER role"
                    ),
                    412 => write!(
                        f,
                        "\nhint: the resource changed since you read it; get it again and retry"
                    ),
                    _ => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for ApiError {}

fn repeats_errors(detail: &str, errors: &[FieldError]) -> bool {
    !errors.is_empty()
        && errors
            .iter()
            .all(|e| detail.contains(&format!("{}: {}", e.field, e.message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_problem_names_each_field() {
        let raw = r#"{"type":"about:blank","title":"Validation failed","status":422,
            "detail":"2 fields are invalid","errors":[
            {"field":"vpcSubnetRange","message":"must be inside RFC 1918"},
            {"field":"name","message":"must be 1-63 characters"}]}"#;
        let err = ApiError::from_answer(StatusCode::UNPROCESSABLE_ENTITY, raw);
        let text = err.to_string();
        assert!(text.starts_with("Validation failed (HTTP 422): 2 fields are invalid"));
        assert!(text.contains("\n  vpcSubnetRange: must be inside RFC 1918"));
        assert!(text.contains("\n  name: must be 1-63 characters"));
        assert_eq!(err.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
    }

    #[test]
    fn a_detail_that_repeats_the_field_errors_is_not_printed_twice() {
        let raw = r#"{"title":"Validation failed","status":422,
            "detail":"1 validation error(s): peerCidr: 10.0.0.0/16 overlaps the cluster",
            "errors":[{"field":"peerCidr","message":"10.0.0.0/16 overlaps the cluster"}]}"#;
        let text = ApiError::from_answer(StatusCode::UNPROCESSABLE_ENTITY, raw).to_string();
        assert_eq!(
            text,
            "Validation failed (HTTP 422): 1 invalid field(s)\n  peerCidr: 10.0.0.0/16 overlaps the cluster"
        );
    }

    #[test]
    fn a_non_problem_body_is_shown_raw_and_truncated() {
        let err = ApiError::from_answer(StatusCode::NOT_FOUND, &"x".repeat(2000));
        let text = err.to_string();
        assert!(text.starts_with("Not Found (HTTP 404): xxx"));
        assert!(text.len() < 600, "{}", text.len());
    }

    #[test]
    fn unauthorized_and_forbidden_give_hints() {
        let e401 = ApiError::from_answer(StatusCode::UNAUTHORIZED, "").to_string();
        assert!(e401.contains("LINKPLANE_TOKEN"), "{e401}");
        let e403 = ApiError::from_answer(
            StatusCode::FORBIDDEN,
            r#"{"title":"Forbidden","detail":"role too low"}"#,
        )
        .to_string();
        assert!(e403.contains("ORGANIZATION_OWNER"), "{e403}");
    }

    #[test]
    fn urls_are_checked_and_segments_encoded() {
        assert!(parse_base_url("127.0.0.1:8080").is_err());
        assert!(parse_base_url("ftp://x").is_err());
        assert!(parse_base_url("not a url").is_err());
        let api = Api::new(
            "http://127.0.0.1:9/prefix/",
            None,
            None,
            Duration::from_secs(1),
        )
        .unwrap();
        let url = api.url(&["v1", "clusters", "a/b?c"]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/prefix/v1/clusters/a%2Fb%3Fc"
        );
    }

    #[test]
    fn transport_failures_suggest_the_matching_fix() {
        let shown = |hint| {
            ApiError::Unreachable {
                url: "https://cp:8443".into(),
                reason: "why".into(),
                hint,
            }
            .to_string()
        };
        assert!(shown(Hint::NotRunning).contains("linkplane serve"));
        assert!(shown(Hint::Tls).contains("--ca-file"));
        assert!(shown(Hint::Timeout).contains("--request-timeout"));
        assert!(
            shown(Hint::Tls)
                .starts_with("cannot reach the linkplane control plane at https://cp:8443: why.")
        );
    }

    #[test]
    fn a_bad_ca_file_is_refused() {
        let err = Api::new(
            "https://127.0.0.1:9",
            None,
            Some(b"not pem"),
            Duration::from_secs(1),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("--ca-file"), "{err}");
    }
}
