//! Without localcloud (not root, or `--no-localcloud`) the API still runs: LOCAL clusters,
//! and AWS clusters the local provider serves, go CREATE_FAILED with the reason, and
//! `/cloud/v1` answers 503 saying why. Needs no root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use linkplane_server::{ControllersConfig, Plane, PlaneConfig};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_localcloud_local_clusters_fail_with_the_reason_and_the_api_runs() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let plane = Plane::start(PlaneConfig {
        data_dir: dir.path().to_owned(),
        api: linkplane_api::Config::default(),
        // Never used: localcloud does not start.
        prefix: linkplane_localcloud::Prefix::parse("tzzzz").unwrap(),
        controllers: ControllersConfig {
            watch_interval: Duration::from_millis(100),
            ..Default::default()
        },
        disable_localcloud: true,
        providers: Default::default(),
    })
    .await
    .unwrap();
    assert!(plane.engine().is_none());
    assert!(
        plane
            .localcloud_disabled()
            .unwrap()
            .contains("--no-localcloud")
    );
    let token = std::fs::read_to_string(&plane.bootstrap().admin_token_file)
        .unwrap()
        .trim()
        .to_owned();
    let org = plane.bootstrap().organization_id.to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(axum::serve(listener, plane.router()).into_future());
    let http = reqwest::Client::new();
    let clusters = format!("{base}/v1/organizations/{org}/clusters");
    let create = |body: Value| {
        let http = http.clone();
        let (url, token) = (clusters.clone(), token.clone());
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201);
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let local = create(
        json!({"name": "l", "cloudProvider": "LOCAL", "type": "DEDICATED",
                              "region": "us-east-1", "vpcSubnetRange": "10.1.0.0/16"}),
    )
    .await;
    let aws = create(
        json!({"name": "a", "cloudProvider": "AWS", "type": "DEDICATED",
                            "region": "us-east-1", "vpcSubnetRange": "10.2.0.0/16"}),
    )
    .await;
    let get = |id: String| {
        let http = http.clone();
        let (url, token) = (format!("{clusters}/{id}"), token.clone());
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let start = Instant::now();
    let failed = loop {
        let c = get(local.clone()).await;
        if c["status"] == "CREATE_FAILED" {
            break c;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{c}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reason = failed["statusReason"].as_str().unwrap();
    assert!(reason.contains("local provider is disabled"), "{reason}");
    assert!(reason.contains("--no-localcloud"), "{reason}");
    assert_eq!(failed["observedGeneration"], failed["generation"]);
    assert_eq!(failed["provider"], "local");
    // An AWS cluster is served by the local provider too (`--provider aws=local`, the
    // default), so it says the same instead of sitting in CREATING with no reason.
    let a = loop {
        let c = get(aws.clone()).await;
        if c["status"] == "CREATE_FAILED" {
            break c;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{c}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        a["cloudProvider"], "AWS",
        "the cluster keeps its cloud: {a}"
    );
    assert_eq!(a["provider"], "local", "{a}");
    let reason = a["statusReason"].as_str().unwrap();
    assert!(reason.contains("local provider is disabled"), "{reason}");
    assert_eq!(a["observedGeneration"], a["generation"]);

    let r = http
        .get(format!("{base}/cloud/v1/vpcs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let p: Value = r.json().await.unwrap();
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .starts_with("localcloud is disabled"),
        "{p}"
    );
    server.abort();
    plane.shutdown().await;
}

/// `serve` creates the installation CA on first start and serves it without auth at
/// `GET /v1/ca.pem`; a restart keeps the same CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ca_is_created_on_first_start_served_without_auth_and_kept() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let start = || {
        Plane::start(PlaneConfig {
            data_dir: data_dir.clone(),
            api: linkplane_api::Config::default(),
            prefix: linkplane_localcloud::Prefix::parse("tzzzz").unwrap(),
            controllers: ControllersConfig::default(),
            disable_localcloud: true,
            providers: Default::default(),
        })
    };
    let mut pems = Vec::new();
    for _ in 0..2 {
        let plane = start().await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(axum::serve(listener, plane.router()).into_future());
        let r = reqwest::get(format!("{base}/v1/ca.pem")).await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/x-pem-file"
        );
        let pem = r.text().await.unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        assert_eq!(pem, plane.ca().cert_pem());
        assert_eq!(
            pem,
            std::fs::read_to_string(data_dir.join("ca.pem")).unwrap()
        );
        // The key never leaves the data directory.
        assert!(!pem.contains("PRIVATE KEY"));
        pems.push(pem);
        server.abort();
        plane.shutdown().await;
    }
    assert_eq!(pems[0], pems[1], "a restart must keep the CA");
}
