//! The gateway over real TLS on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::routing::{any, get};
use hyper_util::rt::TokioIo;
use linkplane_ingress::{Arrival, Ca, Gateway, Upstream, direct_connector, forward, not_found};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const HOST: &str = "cl0test.external.linkplane.test";

struct Running {
    addr: SocketAddr,
    ca: Ca,
    _stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn start(router: Router, trusted: Vec<ipnet::IpNet>) -> Running {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load_or_create(dir.path()).unwrap();
    let tls = ca.server_config(&[HOST.to_string()]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = watch::channel(false);
    tokio::spawn(Gateway::new(tls, trusted, router).serve(listener, rx));
    Running {
        addr,
        ca,
        _stop: stop,
        _dir: dir,
    }
}

fn client(gw: &Running) -> reqwest::Client {
    let root = reqwest::Certificate::from_pem(gw.ca.cert_pem().as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([root])
        .resolve(HOST, gw.addr)
        .build()
        .unwrap()
}

fn echo_arrival_router() -> Router {
    Router::new().route("/", get(not_found)).route(
        "/whoami",
        get(|req: Request| async move {
            match req.extensions().get::<Arrival>() {
                Some(Arrival::Endpoint { endpoint_id, .. }) => format!("endpoint {endpoint_id}"),
                Some(Arrival::Public { client }) => format!("public {}", client.ip()),
                None => "none".to_string(),
            }
        }),
    )
}

#[tokio::test]
async fn root_answers_the_documents_404_over_verified_tls() {
    let gw = start(echo_arrival_router(), vec![]).await;
    let resp = client(&gw)
        .get(format!("https://{HOST}:{}/", gw.addr.port()))
        .send()
        .await
        .expect("TLS must verify against the installation CA");
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.text().await.unwrap(), "404 page not found");
    let who = client(&gw)
        .get(format!("https://{HOST}:{}/whoami", gw.addr.port()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(who, "public 127.0.0.1");
}

#[tokio::test]
async fn a_client_without_the_ca_refuses_the_certificate() {
    let gw = start(echo_arrival_router(), vec![]).await;
    let plain = reqwest::Client::builder()
        .tls_certs_only([])
        .resolve(HOST, gw.addr)
        .build()
        .unwrap();
    let err = plain
        .get(format!("https://{HOST}:{}/", gw.addr.port()))
        .send()
        .await;
    assert!(err.is_err(), "an unknown CA must not validate");
}

/// Send a PROXY v2 header, then speak TLS and HTTP/1.1 by hand.
async fn get_through_proxy_header(gw: &Running, header: &[u8], path: &str) -> Option<String> {
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(header).await.unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(gw.ca.root_store())
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from(HOST).unwrap();
    let tls = connector.connect(name, tcp).await.ok()?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .ok()?;
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", HOST)
        .body(Body::empty())
        .unwrap();
    let resp = sender.send_request(req).await.ok()?;
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .ok()?
        .to_bytes();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn endpoint_id_from_a_trusted_load_balancer_reaches_the_router() {
    let gw = start(echo_arrival_router(), vec!["127.0.0.0/8".parse().unwrap()]).await;
    let header = linkplane_ingress::proxy_protocol::encode(
        "10.1.2.3:40000".parse().unwrap(),
        gw.addr,
        Some("vpce-0123abcd"),
    )
    .unwrap();
    let body = get_through_proxy_header(&gw, &header, "/whoami").await;
    assert_eq!(body.as_deref(), Some("endpoint vpce-0123abcd"));
}

#[tokio::test]
async fn a_proxy_header_from_an_untrusted_source_is_refused() {
    // Nobody is trusted: a client forging a header claiming an endpoint gets nothing.
    let gw = start(echo_arrival_router(), vec![]).await;
    let header = linkplane_ingress::proxy_protocol::encode(
        "10.1.2.3:40000".parse().unwrap(),
        gw.addr,
        Some("vpce-0123abcd"),
    )
    .unwrap();
    assert_eq!(
        get_through_proxy_header(&gw, &header, "/whoami").await,
        None
    );
}

#[tokio::test]
async fn proxied_requests_keep_authorization_and_stream_bodies() {
    // The "Airflow API server": echoes the Authorization header and counts body bytes.
    let backend = Router::new().route(
        "/api/v2/dags",
        any(|req: Request| async move {
            let auth = req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let fwd = req
                .headers()
                .get("x-forwarded-host")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let n = http_body_util::BodyExt::collect(req.into_body())
                .await
                .unwrap()
                .to_bytes()
                .len();
            format!("{auth}|{fwd}|{n}")
        }),
    );
    let bl = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_addr = bl.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(bl, backend).await });

    let upstream = Upstream::parse(&format!("http://{backend_addr}")).unwrap();
    let connector = direct_connector();
    let router = Router::new()
        .route("/", get(not_found))
        .fallback(move |req: Request| {
            let upstream = upstream.clone();
            let connector = connector.clone();
            async move { forward(&connector, &upstream, req).await }
        });
    let gw = start(router, vec![]).await;
    let body = vec![7u8; 3 * 1024 * 1024];
    let resp = client(&gw)
        .post(format!("https://{HOST}:{}/api/v2/dags", gw.addr.port()))
        .header("authorization", "Bearer secret-airflow-token")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.text().await.unwrap(),
        format!(
            "Bearer secret-airflow-token|{HOST}:{}|{}",
            gw.addr.port(),
            3 * 1024 * 1024
        )
    );
}

#[tokio::test]
async fn an_unreachable_backend_is_a_502_with_a_reason() {
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let upstream = Upstream::parse(&format!("http://{dead_addr}")).unwrap();
    let connector = direct_connector();
    let router = Router::new().fallback(move |req: Request| {
        let upstream = upstream.clone();
        let connector = connector.clone();
        async move { forward(&connector, &upstream, req).await }
    });
    let gw = start(router, vec![]).await;
    let resp = client(&gw)
        .get(format!("https://{HOST}:{}/api/v2/version", gw.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert!(resp.text().await.unwrap().contains("unreachable"));
}
