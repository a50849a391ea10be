//! The ingress gateway of a LOCAL cluster, with real packets: reached over the internet at
//! its public IP with TLS validated against the installation CA (`404 page not found` at
//! `/`), the agent routes served by the control plane through it, a configured Airflow API
//! backend reached with headers intact, deployment address ranges, and teardown.
//! Needs root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// `curl` from the internet namespace; returns (http status, body).
async fn curl_internet(
    h: &Harness,
    host: &str,
    ip: &str,
    path: &str,
    extra: &[&str],
) -> (u16, String) {
    let ca = h.dir.path().join("ca.pem");
    let mut cmd: Vec<String> = vec![
        "curl".into(),
        "-sS".into(),
        "--max-time".into(),
        "10".into(),
        "--cacert".into(),
        ca.display().to_string(),
        "--resolve".into(),
        format!("{host}:443:{ip}"),
        "-w".into(),
        "\n%{http_code}".into(),
    ];
    cmd.extend(extra.iter().map(|s| s.to_string()));
    cmd.push(format!("https://{host}{path}"));
    let out = h
        .engine()
        .internet_exec(&cmd, b"", Duration::from_secs(20))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.exit_code,
        0,
        "curl {path}: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_owned())
}

async fn public_ip_of(h: &Harness, host: &str) -> String {
    let recs = h.engine().list_public_records().await.unwrap();
    let r = recs
        .iter()
        .find(|r| r.name.trim_end_matches('.') == host)
        .unwrap_or_else(|| panic!("{host} is not published: {recs:?}"));
    r.values[0].clone()
}

/// A backend in the cluster VPC that answers with the request line and the Authorization
/// header it received.
const ECHO: &str = r#"
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s %s auth=%s" % (self.command, self.path, self.headers.get("Authorization"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_POST = do_GET
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_404_agents_and_the_airflow_api_over_the_internet() {
    if !linkplane_netns::testing::require_root("gateway") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(300))).await;
    let cluster = h.created_cluster("10.31.0.0/16").await;
    let cid = cluster["id"].as_str().unwrap().to_owned();
    let host = format!("{cid}.external.linkplane.test");
    let ip = public_ip_of(&h, &host).await;
    // The gateway instance holds the public IP.
    let vpc = h.cluster_vpc(&cid).await;
    let gw = h
        .engine()
        .list_instances(&platform(), Some(&vpc.vpc_id))
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.name.as_deref() == Some(&format!("linkplane/{cid}/gateway")))
        .unwrap();
    assert_eq!(gw.public_ip_address.as_deref(), Some(ip.as_str()));

    // The name resolves publicly (localcloud's public DNS in the internet namespace).
    let dig = h
        .engine()
        .internet_exec(
            &[
                "dig".into(),
                "+short".into(),
                "@203.0.113.53".into(),
                host.clone(),
            ],
            b"",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&dig.stdout).trim(), ip);

    let (code, body) = curl_internet(&h, &host, &ip, "/", &[]).await;
    assert_eq!((code, body.as_str()), (404, "404 page not found"));
    // Another organization's (or a made-up) deployment is the same 404.
    let (code, body) = curl_internet(&h, &host, &ip, "/dep_nope/x", &[]).await;
    assert_eq!((code, body.as_str()), (404, "404 page not found"));

    // The backend: an instance in the cluster's private subnet.
    let backend = h.cluster_instance(&cid).await;
    // The backend lets the cluster's VPC reach its port (its default group does not).
    h.engine()
        .add_security_group_rule(
            &platform(),
            &backend.security_group_ids[0],
            linkplane_localcloud::types::CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(8080),
                to_port: Some(8080),
                cidr_ip: Some("10.31.0.0/16".into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    h.engine()
        .run_process(
            &platform(),
            &backend.instance_id,
            &["python3".into(), "-c".into(), ECHO.into()],
        )
        .await
        .unwrap();
    let dep = h
        .post(
            "/deployments",
            json!({"name": "etl", "clusterId": cid,
                   "airflowApiUrl": format!("http://{}:8080/api", backend.private_ip_address)}),
        )
        .await;
    let did = dep["id"].as_str().unwrap().to_owned();
    assert_eq!(dep["apiUrl"], format!("https://{host}/{did}"));

    // Headers (Authorization included) and the path reach the backend; the deployment
    // prefix is stripped and the backend's base path prepended.
    let mut seen = String::new();
    for _ in 0..50 {
        let (code, body) = curl_internet(
            &h,
            &host,
            &ip,
            &format!("/{did}/v1/dags?limit=2"),
            &["-H", "Authorization: Bearer airflow-secret-1"],
        )
        .await;
        seen = format!("{code} {body}");
        if code == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        seen,
        "200 GET /api/v1/dags?limit=2 auth=Bearer airflow-secret-1"
    );

    // The agent protocol through the gateway, under the deployment's path.
    let tok = h
        .post(
            &format!("/deployments/{did}/agent-tokens"),
            json!({"name": "a"}),
        )
        .await;
    let secret = tok["token"].as_str().unwrap().to_owned();
    let auth = format!("Authorization: Bearer {secret}");
    let (code, body) = curl_internet(
        &h,
        &host,
        &ip,
        &format!("/{did}/v1/agents/register"),
        &[
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"name":"a1","hostname":"h1","version":"1.0","queues":["default"]}"#,
        ],
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let reg: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reg["deploymentId"], did.as_str());
    // A token of this deployment under another deployment's path is refused.
    let other = h
        .post("/deployments", json!({"name": "other", "clusterId": cid}))
        .await;
    let other = other["id"].as_str().unwrap().to_owned();
    let (code, body) = curl_internet(
        &h,
        &host,
        &ip,
        &format!("/{other}/v1/agents/register"),
        &[
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"name":"a1","hostname":"h1","version":"1.0"}"#,
        ],
    )
    .await;
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("another deployment"), "{body}");
    let (s, _) = h.delete(&format!("/deployments/{other}")).await;
    assert!(s == 202 || s == 204, "{s}");
    // A bad token is the control plane's 401, not the backend's answer.
    let (code, _) = curl_internet(
        &h,
        &host,
        &ip,
        &format!("/{did}/v1/agents/register"),
        &["-H", "Authorization: Bearer nope", "-d", "{}"],
    )
    .await;
    assert_eq!(code, 401);

    // allowedIpAddressRanges restricts the public path by source address.
    let (s, v) = h
        .call(
            reqwest::Method::PATCH,
            &format!("/deployments/{did}"),
            Some(json!({"remoteExecution": {"enabled": true, "allowedIpAddressRanges": ["192.0.2.0/24"]}})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (code, body) = curl_internet(&h, &host, &ip, &format!("/{did}/v1/dags"), &[]).await;
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("allowedIpAddressRanges"), "{body}");

    // Deleting the cluster (deployment first) removes the gateway and its name.
    let (s, _) = h.delete(&format!("/deployments/{did}")).await;
    assert!(s == 202 || s == 204, "{s}");
    let (s, _) = h.delete(&format!("/clusters/{cid}")).await;
    assert_eq!(s, 202);
    h.wait_for(
        &format!("/clusters/{cid}"),
        Duration::from_secs(60),
        |s, _| s == 404,
    )
    .await;
    let recs = h.engine().list_public_records().await.unwrap();
    assert!(
        !recs.iter().any(|r| r.name.trim_end_matches('.') == host),
        "{recs:?}"
    );
    assert!(
        h.engine()
            .list_load_balancers(&platform())
            .await
            .unwrap()
            .is_empty()
    );
}

/// A restart (graceful, then as after `kill -9`) re-adopts the gateway's objects and
/// listens again: same instance, same public IP, one load balancer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_listens_again_after_a_restart_without_duplicates() {
    if !linkplane_netns::testing::require_root("gateway-restart") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(300))).await;
    let cluster = h.created_cluster("10.34.0.0/16").await;
    let cid = cluster["id"].as_str().unwrap().to_owned();
    let host = format!("{cid}.external.linkplane.test");
    let ip = public_ip_of(&h, &host).await;
    assert_eq!(curl_internet(&h, &host, &ip, "/", &[]).await.0, 404);
    let (gc, dir) = h.stop().await;
    // Stopped: nothing listens on the gateway any more.
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{}-inet", gc.0),
            "curl",
            "-sk",
            "--max-time",
            "3",
        ])
        .arg(format!("https://{ip}/"))
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the gateway still answers after shutdown"
    );
    let h = Harness::start_in(gc, dir, fast_config(Duration::from_secs(300))).await;
    let mut answered = (0, String::new());
    for _ in 0..100 {
        answered = curl_internet_status(&h, &host, &ip).await;
        if answered.0 == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(answered, (404, "404 page not found".to_owned()));
    let (gc, dir) = h.crash();
    let h = Harness::start_in(gc, dir, fast_config(Duration::from_secs(300))).await;
    for _ in 0..100 {
        answered = curl_internet_status(&h, &host, &ip).await;
        if answered.0 == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(answered, (404, "404 page not found".to_owned()));
    assert_eq!(public_ip_of(&h, &host).await, ip);
    let lbs = h.engine().list_load_balancers(&platform()).await.unwrap();
    assert_eq!(lbs.len(), 1, "{lbs:?}");
    let vpc = h.cluster_vpc(&cid).await;
    let gws: Vec<_> = h
        .engine()
        .list_instances(&platform(), Some(&vpc.vpc_id))
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.name.as_deref() == Some(&format!("linkplane/{cid}/gateway")))
        .collect();
    assert_eq!(gws.len(), 1);
}

/// Like [`curl_internet`] but a failed connection is status 0 (the listener may not be
/// back yet).
async fn curl_internet_status(h: &Harness, host: &str, ip: &str) -> (u16, String) {
    let ca = h.dir.path().join("ca.pem");
    let cmd: Vec<String> = vec![
        "curl".into(),
        "-sS".into(),
        "--max-time".into(),
        "5".into(),
        "--cacert".into(),
        ca.display().to_string(),
        "--resolve".into(),
        format!("{host}:443:{ip}"),
        "-w".into(),
        "\n%{http_code}".into(),
        format!("https://{host}/"),
    ];
    let out = h
        .engine()
        .internet_exec(&cmd, b"", Duration::from_secs(10))
        .await
        .unwrap();
    if out.exit_code != 0 {
        return (0, String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_owned())
}
