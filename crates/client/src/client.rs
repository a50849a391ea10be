//! The transport: one [`Client`] per server, requests built with [`Client::call`], answers
//! as a [`Reply`] (status, ETag, JSON body and the body exactly as sent) or decoded into a
//! type with [`Call::send_json`].

use std::time::Duration;

use reqwest::{Method, StatusCode, Url, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{BuildError, Error, Result, describe_transport_error};

/// The header naming the localcloud principal a `/cloud/v1` call is made as (`--as`).
pub const PRINCIPAL_HEADER: &str = "X-Cloud-Principal";

/// Attempts per idempotent request (the first and two retries).
pub const ATTEMPTS: u32 = 3;

/// A connection to one linkplane server (its `/v1` and `/cloud/v1` APIs).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    /// The base URL as configured, for messages.
    shown: String,
    token: Option<String>,
    principal: Option<String>,
    attempts: u32,
}

/// How a [`Client`] is set up.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    token: Option<String>,
    principal: Option<String>,
    ca_pem: Option<Vec<u8>>,
    timeout: Duration,
    connect_timeout: Option<Duration>,
    user_agent: String,
    attempts: u32,
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub etag: Option<String>,
    /// The body parsed as JSON (`Null` when empty).
    pub body: Value,
    /// The body exactly as the server sent it.
    pub raw: String,
    /// The URL that answered.
    pub url: String,
}

impl Reply {
    /// The body decoded into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        T::deserialize(&self.body).map_err(|e| Error::Decode {
            url: self.url.clone(),
            reason: e.to_string(),
        })
    }
}

/// Where a request goes: path segments below the base URL (each percent-encoded), or a
/// path with its query string as written.
#[derive(Debug, Clone)]
enum Target {
    Segments(Vec<String>),
    Raw(String),
}

/// One request; built with [`Client::call`].
#[must_use = "a call does nothing until it is sent"]
pub struct Call<'a> {
    client: &'a Client,
    method: Method,
    target: Target,
    query: Vec<(String, String)>,
    body: Option<std::result::Result<Value, String>>,
    if_match: Option<String>,
    idempotency_key: Option<String>,
    principal: bool,
    text: bool,
}

impl ClientBuilder {
    /// A bearer token for every request.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// A bearer token, if any.
    pub fn token_opt(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// The localcloud principal `/cloud/v1` calls are made as ([`PRINCIPAL_HEADER`]).
    pub fn principal(mut self, principal: impl Into<String>) -> Self {
        self.principal = Some(principal.into());
        self
    }

    /// Trust only the certificates of this PEM bundle for https (default: the system's
    /// roots).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// The longest a request may take, answer included (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest a connection may take to open (default: the timeout, at most 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// Attempts per idempotent request (at least 1; default [`ATTEMPTS`]).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    pub fn build(self) -> std::result::Result<Client, BuildError> {
        let base = parse_base_url(&self.base_url)?;
        // reqwest is built without a default crypto provider; a binary installs ring in
        // main, and this makes the client usable on its own (tests). A second install is a
        // no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(
                self.connect_timeout
                    .unwrap_or_else(|| self.timeout.min(Duration::from_secs(10))),
            )
            .user_agent(self.user_agent);
        if let Some(pem) = &self.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| BuildError::NotPem(e.to_string()))?;
            if certs.is_empty() {
                return Err(BuildError::NoCertificate);
            }
            builder = builder.tls_certs_only(certs);
        }
        let http = builder
            .build()
            .map_err(|e| BuildError::Http(e.to_string()))?;
        let shown = base.as_str().trim_end_matches('/').to_owned();
        Ok(Client {
            http,
            base,
            shown,
            token: self.token,
            principal: self.principal,
            attempts: self.attempts,
        })
    }
}

fn parse_base_url(raw: &str) -> std::result::Result<Url, BuildError> {
    let url = Url::parse(raw.trim()).map_err(|e| BuildError::NotAUrl {
        raw: raw.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(BuildError::Scheme {
            raw: raw.to_owned(),
        });
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(BuildError::NoHost {
            raw: raw.to_owned(),
        });
    }
    Ok(url)
}

impl Client {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:8080`; a path prefix
    /// is kept).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            token: None,
            principal: None,
            ca_pem: None,
            timeout: Duration::from_secs(30),
            connect_timeout: None,
            user_agent: concat!("linkplane-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            attempts: ATTEMPTS,
        }
    }

    /// The base URL as configured (without a trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.shown
    }

    /// A request to path segments below the base URL.
    pub fn call<S: AsRef<str>>(&self, method: Method, path: &[S]) -> Call<'_> {
        self.call_to(
            method,
            Target::Segments(path.iter().map(|s| s.as_ref().to_owned()).collect()),
        )
    }

    /// A request to `path` (with its query string, as written) below the base URL, e.g.
    /// `/cloud/v1/subnets?vpcId=vpc-1`.
    pub fn call_path(&self, method: Method, path: &str) -> Call<'_> {
        self.call_to(method, Target::Raw(path.to_owned()))
    }

    fn call_to(&self, method: Method, target: Target) -> Call<'_> {
        Call {
            client: self,
            method,
            target,
            query: Vec::new(),
            body: None,
            if_match: None,
            idempotency_key: None,
            principal: false,
            text: false,
        }
    }

    /// GET path segments with query parameters.
    pub async fn get<S: AsRef<str>>(&self, path: &[S], query: &[(&str, String)]) -> Result<Reply> {
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

    fn target_url(&self, target: &Target) -> Result<Url> {
        match target {
            Target::Segments(path) => Ok(self.url(path)),
            Target::Raw(path) => {
                let joined = format!("{}/{}", self.shown, path.trim_start_matches('/'));
                Url::parse(&joined).map_err(|e| Error::Encode(format!("{joined}: {e}")))
            }
        }
    }
}

impl Call<'_> {
    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_owned(), value.into()));
        self
    }

    /// A JSON body.
    pub fn json(mut self, body: impl Serialize) -> Self {
        self.body = Some(serde_json::to_value(&body).map_err(|e| e.to_string()));
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

    /// Sends the client's principal ([`PRINCIPAL_HEADER`]): a `/cloud/v1` call.
    pub(crate) fn with_principal(mut self) -> Self {
        self.principal = true;
        self
    }

    /// The answer is text (PEM), not JSON.
    pub(crate) fn text(mut self) -> Self {
        self.text = true;
        self
    }

    /// Whether sending the request twice has the effect of sending it once.
    fn retryable(&self) -> bool {
        self.idempotency_key.is_some()
            || matches!(self.method, Method::GET | Method::PUT | Method::DELETE)
    }

    /// Sends the request and decodes a 2xx body into `T`.
    pub async fn send_json<T: DeserializeOwned>(self) -> Result<T> {
        self.send().await?.json()
    }

    /// Sends the request. Idempotent requests are retried (at most the client's attempts
    /// in all, [`ATTEMPTS`] by default) when the connection broke after it was sent, or on
    /// 502/503/504; a refused connection or a timeout is reported at once.
    pub async fn send(self) -> Result<Reply> {
        let mut url = self.client.target_url(&self.target)?;
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        let shown = url.to_string();
        let accept = if self.text {
            "text/plain, application/x-pem-file, application/problem+json"
        } else {
            "application/json, application/problem+json"
        };
        let mut req = self
            .client
            .http
            .request(self.method.clone(), url)
            .header(header::ACCEPT, accept);
        if let Some(token) = &self.client.token {
            req = req.bearer_auth(token);
        }
        if self.principal
            && let Some(p) = &self.client.principal
        {
            req = req.header(PRINCIPAL_HEADER, p);
        }
        if let Some(etag) = &self.if_match {
            req = req.header(header::IF_MATCH, etag);
        }
        if let Some(key) = &self.idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        if let Some(body) = &self.body {
            let body = body.as_ref().map_err(|e| Error::Encode(e.clone()))?;
            req = req.json(body);
        }
        let attempts = if self.retryable() {
            self.client.attempts
        } else {
            1
        };
        let mut attempt = 1;
        loop {
            tracing::debug!(method = %self.method, url = %shown, attempt, "request");
            let this = req
                .try_clone()
                .ok_or_else(|| Error::Encode("the request cannot be repeated".into()))?;
            let outcome = self.client.exchange(this, &shown, self.text).await;
            let again = attempt < attempts
                && match &outcome {
                    Err(Attempt::Broken(e)) => !e.is_connect() && !e.is_timeout(),
                    Err(Attempt::Done(Error::Status { status, .. })) => {
                        matches!(status.as_u16(), 502..=504)
                    }
                    _ => false,
                };
            if !again {
                return outcome.map_err(|a| match a {
                    Attempt::Broken(e) => self.client.unreachable(&e),
                    Attempt::Done(e) => e,
                });
            }
            tracing::debug!(attempt, "retrying an idempotent request");
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            attempt += 1;
        }
    }
}

/// How one attempt failed: no answer (maybe worth another try), or a final one.
enum Attempt {
    Broken(reqwest::Error),
    Done(Error),
}

impl Client {
    async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
        shown: &str,
        text: bool,
    ) -> std::result::Result<Reply, Attempt> {
        let resp = req.send().await.map_err(Attempt::Broken)?;
        let status = resp.status();
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let raw = resp.text().await.map_err(Attempt::Broken)?;
        if !status.is_success() {
            return Err(Attempt::Done(Error::from_answer(status, &raw)));
        }
        let body = if text || raw.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&raw).map_err(|e| {
                Attempt::Done(Error::Decode {
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
            url: shown.to_owned(),
        })
    }

    fn unreachable(&self, e: &reqwest::Error) -> Error {
        let (reason, chain, kind) = describe_transport_error(e);
        Error::Unreachable {
            url: self.shown.clone(),
            reason,
            chain,
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_are_checked_and_segments_encoded() {
        assert!(matches!(
            parse_base_url("127.0.0.1:8080"),
            Err(BuildError::Scheme { .. } | BuildError::NotAUrl { .. })
        ));
        assert!(matches!(
            parse_base_url("ftp://x"),
            Err(BuildError::Scheme { .. })
        ));
        assert!(parse_base_url("not a url").is_err());
        let c = Client::builder("http://127.0.0.1:9/prefix/")
            .build()
            .unwrap();
        let url = c.url(&["v1", "clusters", "a/b?c"]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/prefix/v1/clusters/a%2Fb%3Fc"
        );
        let raw = c.target_url(&Target::Raw("/cloud/v1/subnets?vpcId=v".into()));
        assert_eq!(
            raw.unwrap().as_str(),
            "http://127.0.0.1:9/prefix/cloud/v1/subnets?vpcId=v"
        );
        assert_eq!(c.base_url(), "http://127.0.0.1:9/prefix");
    }

    #[test]
    fn a_bad_ca_bundle_is_refused() {
        let err = Client::builder("https://127.0.0.1:9")
            .ca_pem(b"not pem".to_vec())
            .build()
            .err()
            .unwrap();
        assert!(
            matches!(err, BuildError::NoCertificate | BuildError::NotPem(_)),
            "{err}"
        );
    }
}
