//! The client against a real HTTP server on 127.0.0.1 (axum, in process): problem documents
//! become typed errors, idempotent requests are retried on 502-504 and others are not,
//! headers (token, principal, Idempotency-Key, If-Match) are sent where they belong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use linkplane_client::{Client, Error, Method, Transport};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Seen {
    hits: Arc<AtomicUsize>,
    headers: Arc<std::sync::Mutex<Vec<HeaderMap>>>,
}

fn problem(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// Answers 502 to the first two requests, then 200.
async fn flaky(State(seen): State<Seen>, headers: HeaderMap) -> Response {
    seen.headers.lock().unwrap().push(headers);
    if seen.hits.fetch_add(1, Ordering::SeqCst) < 2 {
        return (StatusCode::BAD_GATEWAY, "upstream down").into_response();
    }
    axum::Json(json!({"ok": true})).into_response()
}

async fn serve(seen: Seen) -> String {
    let app = Router::new()
        .route("/flaky", any(flaky))
        .route(
            "/v1/organizations/o1/clusters",
            get(|| async {
                problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"type": "about:blank", "title": "Validation failed", "status": 422,
                           "detail": "1 validation error(s): vpcSubnetRange: must be RFC 1918",
                           "errors": [{"field": "vpcSubnetRange", "message": "must be RFC 1918"}]}),
                )
            }),
        )
        .route(
            "/v1/organizations",
            get(|| async {
                axum::Json(json!({"items": [{"id": "org1", "name": "acme",
                    "createdAt": "2026-01-01T00:00:00Z"}], "nextCursor": null}))
            }),
        )
        .route(
            "/v1/organizations/o1",
            get(|| async { (StatusCode::NOT_FOUND, "no such thing") }),
        )
        .route(
            "/v1/ca.pem",
            get(|| async { "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n" }),
        )
        .route(
            "/cloud/v1/whoami",
            get(|headers: HeaderMap| async move {
                let p = headers
                    .get("x-cloud-principal")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none")
                    .to_owned();
                axum::Json(json!({"principal": p}))
            }),
        )
        .route(
            "/echo",
            any(|headers: HeaderMap| async move {
                let h = |k: &str| {
                    headers
                        .get(k)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                axum::Json(json!({
                    "authorization": h("authorization"),
                    "principal": h("x-cloud-principal"),
                    "idempotencyKey": h("idempotency-key"),
                    "ifMatch": h("if-match"),
                }))
            }),
        )
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn client(url: &str) -> Client {
    Client::builder(url)
        .token("lp_test")
        .principal("arn:aws:iam::000000000001:root")
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_problem_document_becomes_a_typed_error() {
    let url = serve(Seen::default()).await;
    let err = client(&url).clusters("o1").await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
    let p = err.problem().expect("a problem document");
    assert_eq!(p.title.as_deref(), Some("Validation failed"));
    assert_eq!(p.status, Some(422));
    assert_eq!(p.errors.len(), 1);
    assert_eq!(p.errors[0].field, "vpcSubnetRange");
    assert_eq!(p.errors[0].message, "must be RFC 1918");
    assert_eq!(
        err.to_string(),
        "Validation failed (HTTP 422): 1 invalid field(s)\n  vpcSubnetRange: must be RFC 1918"
    );
}

#[tokio::test]
async fn a_plain_error_body_is_kept_and_404_is_optional() {
    use linkplane_client::Optional as _;
    let url = serve(Seen::default()).await;
    let c = client(&url);
    let err = c
        .call(Method::GET, &["v1", "organizations", "o1"])
        .send()
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert!(err.problem().is_none());
    assert_eq!(err.detail(), Some("no such thing"));
    let none = c
        .call(Method::GET, &["v1", "organizations", "o1"])
        .send()
        .await
        .optional()
        .unwrap();
    assert!(none.is_none());
}

#[tokio::test]
async fn typed_answers_decode_into_model_types() {
    let url = serve(Seen::default()).await;
    let c = client(&url);
    let orgs = c.organizations().await.unwrap();
    assert_eq!(orgs.items.len(), 1);
    assert_eq!(orgs.items[0].id.as_str(), "org1");
    assert_eq!(orgs.next_cursor, None);
    assert!(c.ca_pem().await.unwrap().contains("BEGIN CERTIFICATE"));
}

#[tokio::test]
async fn idempotent_requests_are_retried_on_bad_gateway() {
    let seen = Seen::default();
    let url = serve(seen.clone()).await;
    let reply = client(&url)
        .call(Method::GET, &["flaky"])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.body, json!({"ok": true}));
    assert_eq!(seen.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_post_is_sent_once_unless_it_has_an_idempotency_key() {
    let seen = Seen::default();
    let url = serve(seen.clone()).await;
    let c = client(&url);
    let err = c
        .call(Method::POST, &["flaky"])
        .json(json!({}))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_GATEWAY));
    assert_eq!(seen.hits.load(Ordering::SeqCst), 1);

    let reply = c
        .call(Method::POST, &["flaky"])
        .json(json!({}))
        .idempotency_key(None)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(seen.hits.load(Ordering::SeqCst), 3);
    // Every attempt carries the same key.
    let keys: Vec<String> = seen.headers.lock().unwrap()[1..]
        .iter()
        .map(|h| h["idempotency-key"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
}

#[tokio::test]
async fn the_retry_budget_is_configurable() {
    let seen = Seen::default();
    let url = serve(seen.clone()).await;
    let c = Client::builder(&url).attempts(1).build().unwrap();
    let err = c.call(Method::GET, &["flaky"]).send().await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_GATEWAY));
    assert_eq!(seen.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_principal_goes_to_cloud_calls_only() {
    let url = serve(Seen::default()).await;
    let c = client(&url);
    let who: Value = c.cloud().get("/whoami").await.unwrap();
    assert_eq!(who["principal"], "arn:aws:iam::000000000001:root");
    let v1 = c
        .call(Method::PUT, &["echo"])
        .if_match(Some("\"g2\"".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(v1.body["principal"], Value::Null);
    assert_eq!(v1.body["authorization"], "Bearer lp_test");
    assert_eq!(v1.body["ifMatch"], "\"g2\"");
}

#[tokio::test]
async fn nothing_listening_is_unreachable_and_not_retried() {
    // Bind then drop: a port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client(&format!("http://127.0.0.1:{port}"));
    let started = std::time::Instant::now();
    let err = c.organizations().await.unwrap_err();
    match &err {
        Error::Unreachable { url, kind, .. } => {
            assert_eq!(url, &format!("http://127.0.0.1:{port}"));
            assert_eq!(*kind, Transport::Connect);
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    // A refused connection is reported at once (no 200 + 400 ms of retry pauses).
    assert!(started.elapsed() < std::time::Duration::from_millis(400));
    assert!(
        err.to_string()
            .starts_with("cannot reach the linkplane control plane at")
    );
}
