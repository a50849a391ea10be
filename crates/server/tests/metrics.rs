//! `GET /metrics` scraped over a real listener after a real flow: API requests by route
//! template and status (never a raw path, an id or a name), reconcile passes by controller
//! and reason, provider call latency, and — as root, with localcloud — DNS queries answered
//! by a cluster's VPC resolver and a PrivateLink endpoint's forwarder connections and bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::future::IntoFuture;
use std::time::Duration;

use common::*;
use linkplane_localcloud::types::CreateEndpoint;
use serde_json::json;

const MIN: Duration = Duration::from_secs(60);

/// Serve the plane's metrics router on its own listener (what `serve --metrics-listen`
/// does) and scrape it once.
async fn scrape(h: &Harness) -> String {
    let plane = h.plane.as_ref().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = plane.metrics_router();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).into_future().await;
    });
    let resp = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    // Only /metrics on that listener.
    let other = reqwest::get(format!("http://{addr}/v1/organizations"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    server.abort();
    text
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn has(text: &str, series: &str) -> f64 {
    value(text, series).unwrap_or_else(|| panic!("no {series} in the scrape:\n{text}"))
}

/// Without root (localcloud off): API and reconcile metrics, and nothing a tenant sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_reconcile_metrics_by_route_template_without_tenant_data() {
    let prefix =
        linkplane_localcloud::Prefix::parse(&linkplane_netns::testing::unique_prefix()).unwrap();
    let h = Harness::start_with(
        Gc(prefix),
        tempfile::tempdir().unwrap(),
        fast_config(Duration::from_secs(300)),
        true,
    )
    .await;
    // The API listener does not serve /metrics.
    let on_api = reqwest::get(format!("{}/metrics", h.base)).await.unwrap();
    assert_eq!(on_api.status(), 404);

    let c = h
        .post(
            "/clusters",
            json!({"name": "metrics-secret-name", "cloudProvider": "LOCAL", "type": "DEDICATED",
                   "region": "us-east-1", "vpcSubnetRange": "10.40.0.0/16"}),
        )
        .await;
    let cid = c["id"].as_str().unwrap().to_owned();
    h.wait_status(&format!("/clusters/{cid}"), "CREATE_FAILED", MIN)
        .await;
    let (s, _) = h
        .call(
            reqwest::Method::POST,
            "/clusters",
            Some(json!({"name": "", "cloudProvider": "LOCAL"})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = h.get("/no-such-thing/x1234").await;
    assert_eq!(s, 404);

    let text = scrape(&h).await;
    let route = "/v1/organizations/{organizationId}/clusters";
    assert_eq!(
        has(
            &text,
            &format!(
                r#"linkplane_http_requests_total{{method="POST",route="{route}",status="201"}}"#
            )
        ),
        1.0
    );
    assert_eq!(
        has(
            &text,
            &format!(
                r#"linkplane_http_requests_total{{method="POST",route="{route}",status="400"}}"#
            )
        ),
        1.0
    );
    assert!(
        has(
            &text,
            r#"linkplane_http_requests_total{method="GET",route="/v1/organizations/{organizationId}/clusters/{clusterId}",status="200"}"#
        ) >= 1.0
    );
    assert_eq!(
        has(
            &text,
            r#"linkplane_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        2.0,
        "the /metrics probe on the API listener and the unknown path"
    );
    assert_eq!(
        has(
            &text,
            &format!(
                r#"linkplane_http_request_duration_seconds_count{{method="POST",route="{route}",status="201"}}"#
            )
        ),
        1.0
    );
    assert!(
        has(
            &text,
            r#"linkplane_reconcile_passes_total{controller="cluster",reason="write",outcome="done"}"#
        ) >= 1.0,
        "{text}"
    );
    assert!(text.contains(r#"linkplane_reconcile_queue_depth{controller="cluster"}"#));
    assert!(has(&text, "process_open_fds") > 0.0);
    assert!(has(&text, "process_resident_memory_bytes") > 0.0);
    // Nothing a tenant sent or owns is echoed into a series.
    for secret in [
        h.org.as_str(),
        cid.as_str(),
        "metrics-secret-name",
        "no-such-thing",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into the scrape");
    }
}

/// As root: a cluster, a DNS query from its instance, and a request through an accepted
/// PrivateLink endpoint, then the scrape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_dns_and_forwarder_metrics_after_a_real_flow() {
    if !linkplane_netns::testing::require_root("metrics") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(300))).await;
    let cluster = h.created_cluster("10.41.0.0/16").await;
    let cid = cluster["id"].as_str().unwrap().to_owned();
    let host = format!("{cid}.external.linkplane.test");

    // DNS through the cluster VPC's resolver.
    let worker = h.cluster_instance(&cid).await;
    let _ = h.dig(&worker, "nothing.metrics.internal").await;

    // A private link, the customer's endpoint, accepted, one request through it.
    let (s, v) = h
        .call(
            reqwest::Method::PUT,
            &format!("/clusters/{cid}/private-link"),
            Some(json!({"allowedPrincipals": [CUSTOMER], "regions": [], "autoAccept": true})),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {v}");
    let pl = h
        .wait_status(&format!("/clusters/{cid}/private-link"), "AVAILABLE", MIN)
        .await;
    let net = customer_net(h.engine(), "10.84.0.0/16", "10.84.0.0/16").await;
    let vm = net.instances[0].instance_id.clone();
    let sg = endpoint_sg(&h, &customer(), &net.vpc_id, "10.84.0.0/16", 443).await;
    let ep = h
        .engine()
        .create_endpoint(
            &customer(),
            CreateEndpoint {
                vpc_id: net.vpc_id.clone(),
                service_name: pl["serviceName"].as_str().unwrap().to_owned(),
                subnet_ids: vec![net.subnets[0].clone()],
                security_group_ids: vec![sg],
                private_dns_enabled: None,
            },
        )
        .await
        .unwrap();
    let eip = ep.network_interfaces[0].private_ip_address.clone();
    let start = std::time::Instant::now();
    while h
        .engine()
        .get_endpoint(&customer(), &ep.vpc_endpoint_id)
        .await
        .unwrap()
        .state
        != "available"
    {
        assert!(start.elapsed() < MIN, "endpoint not accepted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ca = h.dir.path().join("ca.pem");
    let cmd: Vec<String> = [
        "curl",
        "-sS",
        "--retry",
        "40",
        "--retry-delay",
        "1",
        "--retry-all-errors",
        "--max-time",
        "10",
        "--cacert",
        &ca.display().to_string(),
        "--resolve",
        &format!("{host}:443:{eip}"),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("https://{host}/"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = h
        .engine()
        .exec(&customer(), &vm, &cmd, b"", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "404", "{out:?}");

    let text = scrape(&h).await;
    assert!(
        has(
            &text,
            r#"linkplane_provider_call_duration_seconds_count{provider="local",operation="cluster_networks.ensure_cluster",outcome="ok"}"#
        ) >= 1.0,
        "{text}"
    );
    assert!(
        has(
            &text,
            r#"linkplane_provider_call_duration_seconds_count{provider="local",operation="private_link.ensure_endpoint_service",outcome="ok"}"#
        ) >= 1.0
    );
    assert!(has(&text, "linkplane_dns_queries_total") >= 1.0, "{text}");
    let e = &ep.vpc_endpoint_id;
    assert!(
        has(
            &text,
            &format!(r#"linkplane_forwarder_connections_total{{endpoint="{e}"}}"#)
        ) >= 1.0,
        "{text}"
    );
    assert!(
        has(
            &text,
            &format!(r#"linkplane_forwarder_bytes_total{{endpoint="{e}",direction="to_target"}}"#)
        ) > 0.0
    );
    assert!(
        has(
            &text,
            &format!(r#"linkplane_forwarder_bytes_total{{endpoint="{e}",direction="to_client"}}"#)
        ) > 0.0
    );
    for secret in [h.org.as_str(), cid.as_str()] {
        assert!(!text.contains(secret), "{secret} leaked into the scrape");
    }
}
