//! The agent tells causes apart, against a real axum server on 127.0.0.1: a 404 (a wrong
//! `--api-url`) and a policy 403 back off with jitter and keep trying; only a 401 (refused
//! token) or a 410 (its deployment deleted) stops it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use linkplane_agent::{AgentRunArgs, Stopped, run_until_stopped};

/// A server that answers every request with `status` and counts the requests.
async fn server(status: u16, detail: &'static str) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let app = Router::new().fallback(move || {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = serde_json::json!({
                "type": "about:blank", "title": "x", "status": status, "detail": detail
            });
            (
                StatusCode::from_u16(status).unwrap(),
                [("content-type", "application/problem+json")],
                body.to_string(),
            )
                .into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/"), hits)
}

fn args(url: &str) -> AgentRunArgs {
    AgentRunArgs {
        api_url: url.to_owned(),
        token: Some("lpag_test".into()),
        token_file: None,
        ca_file: None,
        name: Some("t".into()),
        queues: vec!["default".into()],
        max_heartbeats: Some(1),
    }
}

/// Run the agent for `secs`; `None` if it was still running then.
async fn run_for(url: &str, secs: u64) -> Option<Result<(), Stopped>> {
    tokio::time::timeout(Duration::from_secs(secs), async {
        run_until_stopped(&args(url)).await.unwrap()
    })
    .await
    .ok()
}

#[tokio::test]
async fn a_wrong_api_url_backs_off_instead_of_re_registering_in_a_loop() {
    let (url, hits) = server(404, "404 page not found").await;
    assert!(run_for(&url, 3).await.is_none(), "it keeps trying");
    // Backoff 0.25–0.5 s, 0.5–1 s, 1–2 s …: at most 5 attempts in 3 s (a tight loop makes
    // thousands).
    let n = hits.load(Ordering::SeqCst);
    assert!((2..=5).contains(&n), "{n} registrations in 3 s");
}

#[tokio::test]
async fn a_policy_403_is_retried_with_backoff_not_an_exit() {
    let (url, hits) = server(403, "the cluster is privateOnly").await;
    assert!(
        run_for(&url, 3).await.is_none(),
        "403 did not stop the agent"
    );
    let n = hits.load(Ordering::SeqCst);
    assert!((2..=5).contains(&n), "{n} attempts in 3 s");
}

#[tokio::test]
async fn only_a_refused_token_stops_it() {
    let (url, hits) = server(401, "the token is invalid or revoked").await;
    match run_for(&url, 5).await {
        Some(Err(Stopped::TokenRefused(d))) => assert!(d.contains("revoked"), "{d}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_deleted_deployment_stops_it_without_a_retry() {
    let (url, hits) = server(
        410,
        "deployment dp0000000000000000000000 of this agent token was deleted; stop this agent",
    )
    .await;
    match run_for(&url, 5).await {
        Some(Err(Stopped::DeploymentGone(d))) => {
            assert!(d.starts_with("410 Gone: deployment dp"), "{d}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "no retry");
}
