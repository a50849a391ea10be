//! The TLS accept loop: PROXY v2 detection, TLS (rustls), HTTP/1.1 and HTTP/2 (hyper), and
//! an axum router that sees how each request arrived as an [`Arrival`] request extension.
//!
//! Policy (what `/` answers, which paths are the control plane's, who is refused under
//! `privateOnly`) lives in the router the caller builds; this module only moves requests.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::proxy_protocol::{self, Arrival};

/// How long a client may take to send its first bytes and finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's headers, and how long an HTTP/1 keep-alive
/// connection may sit idle before its next request (hyper's header-read timer covers both).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2: ping an idle connection this often, and close it when a ping is not answered
/// within [`H2_PING_TIMEOUT`].
pub const H2_PING_INTERVAL: Duration = Duration::from_secs(30);
pub const H2_PING_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS front door serving one router.
#[derive(Clone)]
pub struct Gateway {
    tls: tokio_rustls::TlsAcceptor,
    trusted_proxies: Arc<Vec<IpNet>>,
    router: Router,
}

impl Gateway {
    /// `trusted_proxies`: sources allowed to prepend a PROXY v2 header (the load balancers).
    pub fn new(
        tls: Arc<rustls::ServerConfig>,
        trusted_proxies: Vec<IpNet>,
        router: Router,
    ) -> Self {
        Self {
            tls: tokio_rustls::TlsAcceptor::from(tls),
            trusted_proxies: Arc::new(trusted_proxies),
            router,
        }
    }

    /// Serve connections from `listener` until `shutdown` becomes true; then stop accepting
    /// and close the live connections.
    pub async fn serve(self, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let gw = self.clone();
                        conns.spawn(async move { gw.connection(stream, peer).await });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "gateway accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        conns.abort_all();
    }

    async fn connection(self, mut stream: tokio::net::TcpStream, peer: std::net::SocketAddr) {
        let _ = stream.set_nodelay(true);
        let arrival = match proxy_protocol::detect(
            &mut stream,
            peer,
            &self.trusted_proxies,
            HANDSHAKE_TIMEOUT,
        )
        .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "connection refused before TLS");
                return;
            }
        };
        let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.tls.accept(stream)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => return,
        };
        let router = self.router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut().insert(arrival.clone());
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(H2_PING_INTERVAL))
            .keep_alive_timeout(H2_PING_TIMEOUT);
        if let Err(e) = builder
            .serve_connection_with_upgrades(TokioIo::new(tls), service)
            .await
        {
            tracing::debug!(%peer, error = %e, "gateway connection ended with an error");
        }
    }
}

/// The answer of the orchestration plane's host name to anything it does not serve: the
/// documents' check (`curl https://<host>/` → `404 page not found`).
pub async fn not_found() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::NOT_FOUND,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        "404 page not found",
    )
        .into_response()
}

/// The `Arrival` of a request served by a [`Gateway`] (absent outside one).
pub fn arrival_of<B>(req: &axum::http::Request<B>) -> Option<&Arrival> {
    req.extensions().get::<Arrival>()
}
