//! Reverse proxy to a deployment's Airflow API server.
//!
//! Headers travel intact (including `Authorization`), except the hop-by-hop ones RFC 9110
//! §7.6.1 names; bodies stream both ways without buffering. The outbound connection is made
//! by a [`Connector`], so the caller decides where it comes from (for localcloud: a socket
//! created inside the cluster's VPC namespace).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::proxy_protocol::Arrival;

/// Opens the TCP connection to an upstream address.
pub type Connector = Arc<
    dyn Fn(SocketAddr) -> Pin<Box<dyn Future<Output = std::io::Result<TcpStream>> + Send>>
        + Send
        + Sync,
>;

/// A connector using the process's own network namespace.
pub fn direct_connector() -> Connector {
    Arc::new(|addr| Box::pin(TcpStream::connect(addr)))
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream URL {0:?} must be http://<ip>:<port>[/base/path]")]
    BadUrl(String),
}

/// Where requests go: an `http://` address and an optional base path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    addr: SocketAddr,
    base_path: String,
}

impl Upstream {
    /// Parse `http://<ip>[:port][/base]`. Host names are not resolved here: the caller
    /// resolves them where the connection will be made (inside the VPC).
    pub fn parse(url: &str) -> Result<Self, UpstreamError> {
        let bad = || UpstreamError::BadUrl(url.to_string());
        let uri: Uri = url.parse().map_err(|_| bad())?;
        if uri.scheme_str() != Some("http") {
            return Err(bad());
        }
        let host = uri.host().ok_or_else(bad)?;
        let ip: std::net::IpAddr = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| bad())?;
        let port = uri.port_u16().unwrap_or(80);
        let base_path = uri.path().trim_end_matches('/').to_string();
        Ok(Self {
            addr: SocketAddr::new(ip, port),
            base_path,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Hop-by-hop headers, which a proxy must not forward (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::try_from(n.trim()).ok())
        .collect();
    for n in named {
        headers.remove(n);
    }
    for n in HOP_BY_HOP {
        headers.remove(n);
    }
    headers.remove(header::TRANSFER_ENCODING);
}

/// Forward `req` to `upstream` and stream the answer back. Failures to reach the upstream
/// are a `502 Bad Gateway` with a plain-text reason.
pub async fn forward(
    connector: &Connector,
    upstream: &Upstream,
    req: Request<Body>,
) -> Response<Body> {
    match try_forward(connector, upstream, req).await {
        Ok(resp) => resp,
        Err(reason) => {
            tracing::warn!(upstream = %upstream.addr, %reason, "upstream unreachable");
            let mut resp = Response::new(Body::from(format!(
                "502 bad gateway: the deployment's API server at {} is unreachable ({reason})\n",
                upstream.addr
            )));
            *resp.status_mut() = StatusCode::BAD_GATEWAY;
            resp
        }
    }
}

async fn try_forward(
    connector: &Connector,
    upstream: &Upstream,
    req: Request<Body>,
) -> Result<Response<Body>, String> {
    let (mut parts, body) = req.into_parts();
    let client_ip = parts
        .extensions
        .get::<Arrival>()
        .map(|a| a.client().ip().to_string());
    let original_host = parts.headers.get(header::HOST).cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let target = format!("{}{}", upstream.base_path, path_and_query);
    parts.uri = target.parse().map_err(|e| format!("bad path: {e}"))?;
    parts.version = axum::http::Version::HTTP_11;
    strip_hop_by_hop(&mut parts.headers);
    let authority = HeaderValue::from_str(&upstream.addr.to_string()).map_err(|e| e.to_string())?;
    parts.headers.insert(header::HOST, authority);
    if let Some(h) = original_host {
        parts.headers.insert("x-forwarded-host", h);
    }
    parts
        .headers
        .insert("x-forwarded-proto", HeaderValue::from_static("https"));
    if let Some(ip) = client_ip.and_then(|ip| HeaderValue::from_str(&ip).ok()) {
        parts.headers.append("x-forwarded-for", ip);
    }
    let stream = connector(upstream.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "upstream connection ended");
        }
    });
    let resp = sender
        .send_request(Request::from_parts(parts, body))
        .await
        .map_err(|e| format!("request: {e}"))?;
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Ok(Response::from_parts(parts, Body::new(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        let u = Upstream::parse("http://10.0.3.7:8080/airflow/").unwrap();
        assert_eq!(u.addr, "10.0.3.7:8080".parse().unwrap());
        assert_eq!(u.base_path, "/airflow");
        let u = Upstream::parse("http://10.0.3.7").unwrap();
        assert_eq!(u.addr.port(), 80);
        assert_eq!(u.base_path, "");
        for bad in [
            "https://10.0.0.1",
            "ftp://10.0.0.1",
            "http://airflow.internal:8080",
            "not a url",
        ] {
            assert!(Upstream::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hop_by_hop_headers_are_dropped_and_the_rest_kept() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-private"),
        );
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        strip_hop_by_hop(&mut h);
        assert!(h.get("x-private").is_none());
        assert!(h.get("keep-alive").is_none());
        assert!(h.get(header::CONNECTION).is_none());
        assert_eq!(h.get(header::AUTHORIZATION).unwrap(), "Bearer abc");
    }
}
