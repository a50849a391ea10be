//! PrivateLink to the orchestration plane through the control plane, with real packets
//! (documents 000 and 001): `PUT …/private-link` makes the cluster's endpoint service, a
//! non-allowed principal cannot create an endpoint, the customer's endpoint waits for
//! acceptance (listed by the API), an accept through the API carries traffic from the
//! customer's instance to the gateway (`404 page not found`, agent registration), and
//! `privateOnly` refuses the public path while the endpoint path still works.
//! `autoAccept` accepts an allowed principal's endpoint at once. Needs root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use linkplane_localcloud::Principal;
use linkplane_localcloud::types::CreateEndpoint;
use serde_json::{Value, json};

const MIN: Duration = Duration::from_secs(60);

/// `curl` from a customer instance (or the internet namespace when `instance` is None),
/// retrying while the connection is refused (for up to 20 s).
async fn curl(
    h: &Harness,
    instance: Option<&str>,
    host: &str,
    ip: &str,
    path: &str,
    extra: &[&str],
) -> (u16, String) {
    curl_n(h, instance, host, ip, path, extra, 80).await
}

async fn curl_n(
    h: &Harness,
    instance: Option<&str>,
    host: &str,
    ip: &str,
    path: &str,
    extra: &[&str],
    retries: u32,
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
    let out = match instance {
        Some(i) => h
            .engine()
            .exec(&customer(), i, &cmd, b"", Duration::from_secs(20))
            .await
            .unwrap(),
        None => h
            .engine()
            .internet_exec(&cmd, b"", Duration::from_secs(20))
            .await
            .unwrap(),
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // Until the load balancer has seen its target healthy, it refuses (or resets) connections.
    if matches!(out.exit_code, 7 | 35 | 52 | 56) && retries > 0 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        return Box::pin(curl_n(h, instance, host, ip, path, extra, retries - 1)).await;
    }
    assert_eq!(
        out.exit_code,
        0,
        "curl {path}: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_owned())
}

/// Wall time of 100 `GET /` on one kept-alive TLS connection (curl, from an instance or
/// the internet), each answered 404.
async fn keepalive_100(h: &Harness, instance: Option<&str>, host: &str, ip: &str) -> Duration {
    let ca = h.dir.path().join("ca.pem");
    let mut cmd: Vec<String> = vec![
        "curl".into(),
        "-s".into(),
        "-w".into(),
        "%{http_code}\n".into(),
        "--cacert".into(),
        ca.display().to_string(),
        "--resolve".into(),
        format!("{host}:443:{ip}"),
    ];
    for _ in 0..100 {
        cmd.extend(["-o".into(), "/dev/null".into(), format!("https://{host}/")]);
    }
    let start = std::time::Instant::now();
    let out = match instance {
        Some(i) => {
            h.engine()
                .exec(&customer(), i, &cmd, b"", Duration::from_secs(60))
                .await
        }
        None => {
            h.engine()
                .internet_exec(&cmd, b"", Duration::from_secs(60))
                .await
        }
    }
    .unwrap();
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().filter(|l| *l == "404").count(), 100, "{text}");
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_reach_the_plane_through_an_accepted_endpoint_and_private_only_refuses_the_rest() {
    if !linkplane_netns::testing::require_root("privatelink") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(300))).await;
    let cluster = h.created_cluster("10.32.0.0/16").await;
    let cid = cluster["id"].as_str().unwrap().to_owned();
    let host = format!("{cid}.external.linkplane.test");
    let public_ip = h
        .engine()
        .list_public_records()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name.trim_end_matches('.') == host)
        .unwrap()
        .values[0]
        .clone();

    // The private link: only the customer's account may connect; manual approval.
    let (s, v) = h
        .call(
            reqwest::Method::PUT,
            &format!("/clusters/{cid}/private-link"),
            Some(json!({"allowedPrincipals": [CUSTOMER], "regions": [], "autoAccept": false})),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {v}");
    let pl = h
        .wait_status(&format!("/clusters/{cid}/private-link"), "AVAILABLE", MIN)
        .await;
    let service_name = pl["serviceName"].as_str().unwrap().to_owned();
    let services = h
        .engine()
        .list_endpoint_services(&platform())
        .await
        .unwrap();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].service_name, service_name);
    assert!(services[0].proxy_protocol);
    assert_eq!(
        pl["availabilityZones"],
        json!(services[0].availability_zones),
        "{pl}"
    );

    let net = customer_net(h.engine(), "10.82.0.0/16", "10.82.0.0/16").await;
    let agent_vm = net.instances[0].instance_id.clone();
    let sg = endpoint_sg(&h, &customer(), &net.vpc_id, "10.82.0.0/16", 443).await;
    let create = CreateEndpoint {
        vpc_id: net.vpc_id.clone(),
        service_name: service_name.clone(),
        subnet_ids: vec![net.subnets[0].clone()],
        security_group_ids: vec![sg],
        private_dns_enabled: None,
    };

    // A principal the service does not allow cannot create an endpoint.
    let stranger = Principal::parse("arn:aws:iam::333333333333:root").unwrap();
    let s_vpc = h
        .engine()
        .create_vpc(
            &stranger,
            linkplane_localcloud::types::CreateVpc {
                cidr_block: "10.83.0.0/16".into(),
                region: Some("us-east-1".into()),
                name: None,
            },
        )
        .await
        .unwrap();
    let s_subnet = h
        .engine()
        .create_subnet(
            &stranger,
            linkplane_localcloud::types::CreateSubnet {
                vpc_id: s_vpc.vpc_id.clone(),
                cidr_block: "10.83.1.0/24".into(),
                availability_zone: "us-east-1a".into(),
                map_public_ip_on_launch: false,
                name: None,
            },
        )
        .await
        .unwrap();
    let refused = h
        .engine()
        .create_endpoint(
            &stranger,
            CreateEndpoint {
                vpc_id: s_vpc.vpc_id.clone(),
                service_name: service_name.clone(),
                subnet_ids: vec![s_subnet.subnet_id],
                security_group_ids: vec![],
                private_dns_enabled: None,
            },
        )
        .await;
    let err = refused.expect_err("a non-allowed principal must not create an endpoint");
    assert!(
        err.to_string().contains("333333333333") || err.to_string().contains("allowed"),
        "{err}"
    );

    // The customer's endpoint waits for acceptance, and the API lists it.
    let ep = h
        .engine()
        .create_endpoint(&customer(), create)
        .await
        .unwrap();
    assert_eq!(ep.state, "pendingAcceptance");
    let eip = ep.network_interfaces[0].private_ip_address.clone();
    let conns = h
        .wait_for(
            &format!("/clusters/{cid}/private-link/connections"),
            MIN,
            |s, v| {
                s == 200
                    && v["items"].as_array().is_some_and(|a| {
                        a.iter().any(|c| {
                            c["cloudEndpointId"] == ep.vpc_endpoint_id.as_str()
                                && c["status"] == "PENDING_ACCEPTANCE"
                        })
                    })
            },
        )
        .await;
    let conn = conns["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cloudEndpointId"] == ep.vpc_endpoint_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(conn["requester"], CUSTOMER_ACCOUNT, "{conn}");

    // Accept through the API (by the consumer's endpoint id): traffic flows.
    let (s, v) = h
        .call(
            reqwest::Method::POST,
            &format!(
                "/clusters/{cid}/private-link/connections/{}/accept",
                ep.vpc_endpoint_id
            ),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let start = std::time::Instant::now();
    loop {
        let e = h
            .engine()
            .get_endpoint(&customer(), &ep.vpc_endpoint_id)
            .await
            .unwrap();
        if e.state == "available" {
            break;
        }
        assert!(start.elapsed() < MIN, "endpoint still {}", e.state);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.wait_for(
        &format!(
            "/clusters/{cid}/private-link/connections/{}",
            conn["id"].as_str().unwrap()
        ),
        MIN,
        |s, v| s == 200 && v["status"] == "AVAILABLE",
    )
    .await;
    let (code, body) = curl(&h, Some(&agent_vm), &host, &eip, "/", &[]).await;
    assert_eq!((code, body.as_str()), (404, "404 page not found"));
    eprintln!(
        "measured: 100 GET / on one TLS connection through the endpoint: {:?}; through the public path: {:?}",
        keepalive_100(&h, Some(&agent_vm), &host, &eip).await,
        keepalive_100(&h, None, &host, &public_ip).await,
    );

    // privateOnly: the public path is refused with a clear body; the endpoint path works.
    let (s, v) = h
        .call(
            reqwest::Method::PATCH,
            &format!("/clusters/{cid}"),
            Some(json!({"privateOnly": true})),
        )
        .await;
    assert!(s == 200 || s == 202, "{s} {v}");
    let (code, body) = curl(&h, None, &host, &public_ip, "/", &[]).await;
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("privateOnly"), "{body}");
    let (code, body) = curl(&h, Some(&agent_vm), &host, &eip, "/", &[]).await;
    assert_eq!((code, body.as_str()), (404, "404 page not found"));

    // An agent registers through the endpoint.
    let dep = h
        .post("/deployments", json!({"name": "etl", "clusterId": cid}))
        .await;
    let did = dep["id"].as_str().unwrap().to_owned();
    let tok = h
        .post(
            &format!("/deployments/{did}/agent-tokens"),
            json!({"name": "a"}),
        )
        .await;
    let auth = format!("Authorization: Bearer {}", tok["token"].as_str().unwrap());
    let report = r#"{"name":"a1","hostname":"vm1","version":"1.0","queues":["default"]}"#;
    let register = format!("/{did}/v1/agents/register");
    let (code, body) = curl(
        &h,
        Some(&agent_vm),
        &host,
        &eip,
        &register,
        &[
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "-d",
            report,
        ],
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = curl(
        &h,
        None,
        &host,
        &public_ip,
        &register,
        &[
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "-d",
            report,
        ],
    )
    .await;
    assert_eq!(code, 403, "{body}");

    // Rejecting the endpoint through the API stops its traffic.
    let (s, v) = h
        .call(
            reqwest::Method::POST,
            &format!(
                "/clusters/{cid}/private-link/connections/{}/reject",
                ep.vpc_endpoint_id
            ),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let start = std::time::Instant::now();
    loop {
        let e = h
            .engine()
            .get_endpoint(&customer(), &ep.vpc_endpoint_id)
            .await
            .unwrap();
        if e.state == "rejected" {
            break;
        }
        assert!(start.elapsed() < MIN, "endpoint still {}", e.state);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v: Value = h
        .wait_for(
            &format!(
                "/clusters/{cid}/private-link/connections/{}",
                ep.vpc_endpoint_id
            ),
            MIN,
            |s, v| {
                s == 200 && v["status"] == "REJECTED" && v["observedGeneration"] == v["generation"]
            },
        )
        .await;
    assert_eq!(v["cloudEndpointId"], ep.vpc_endpoint_id.as_str());
    let out = h
        .engine()
        .exec(
            &customer(),
            &agent_vm,
            &[
                "curl".into(),
                "-sS".into(),
                "--max-time".into(),
                "3".into(),
                "-k".into(),
                format!("https://{eip}/"),
            ],
            b"",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_ne!(
        out.exit_code, 0,
        "a rejected endpoint must carry no traffic"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_accept_accepts_an_allowed_principal_at_once() {
    if !linkplane_netns::testing::require_root("privatelink-auto") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(300))).await;
    let cluster = h.created_cluster("10.33.0.0/16").await;
    let cid = cluster["id"].as_str().unwrap().to_owned();
    let host = format!("{cid}.external.linkplane.test");
    let (s, v) = h
        .call(
            reqwest::Method::PUT,
            &format!("/clusters/{cid}/private-link"),
            Some(json!({"allowedPrincipals": [CUSTOMER], "regions": [], "autoAccept": false})),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {v}");
    h.wait_status(&format!("/clusters/{cid}/private-link"), "AVAILABLE", MIN)
        .await;
    let svc = h
        .engine()
        .list_endpoint_services(&platform())
        .await
        .unwrap();
    assert!(svc[0].acceptance_required);
    // Changed later: the existing service follows (acceptance and regions).
    let (s, v) = h
        .call(
            reqwest::Method::PUT,
            &format!("/clusters/{cid}/private-link"),
            Some(json!({"allowedPrincipals": [CUSTOMER], "regions": ["us-west-2"], "autoAccept": true})),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {v}");
    let start = std::time::Instant::now();
    loop {
        let svc = h
            .engine()
            .list_endpoint_services(&platform())
            .await
            .unwrap();
        assert_eq!(svc.len(), 1);
        if !svc[0].acceptance_required && svc[0].supported_regions.contains(&"us-west-2".to_owned())
        {
            break;
        }
        assert!(start.elapsed() < MIN, "{svc:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pl = h
        .wait_for(&format!("/clusters/{cid}/private-link"), MIN, |s, v| {
            s == 200 && v["status"] == "AVAILABLE" && v["observedGeneration"] == v["generation"]
        })
        .await;
    let net = customer_net(h.engine(), "10.84.0.0/16", "10.84.0.0/16").await;
    let sg = endpoint_sg(&h, &customer(), &net.vpc_id, "10.84.0.0/16", 443).await;
    let ep = h
        .engine()
        .create_endpoint(
            &customer(),
            CreateEndpoint {
                vpc_id: net.vpc_id.clone(),
                service_name: pl["serviceName"].as_str().unwrap().into(),
                subnet_ids: vec![net.subnets[0].clone()],
                security_group_ids: vec![sg],
                private_dns_enabled: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(ep.state, "available");
    let eip = ep.network_interfaces[0].private_ip_address.clone();
    let (code, body) = curl(
        &h,
        Some(&net.instances[0].instance_id),
        &host,
        &eip,
        "/",
        &[],
    )
    .await;
    assert_eq!((code, body.as_str()), (404, "404 page not found"));
    h.wait_for(
        &format!(
            "/clusters/{cid}/private-link/connections/{}",
            ep.vpc_endpoint_id
        ),
        MIN,
        |s, v| s == 200 && v["status"] == "AVAILABLE",
    )
    .await;

    // Deleting the private link removes the endpoint service (its endpoint is rejected).
    let (s, v) = h.delete(&format!("/clusters/{cid}/private-link")).await;
    assert!(s == 202 || s == 204, "{s} {v}");
    h.wait_for(&format!("/clusters/{cid}/private-link"), MIN, |s, _| {
        s == 404
    })
    .await;
    assert!(
        h.engine()
            .list_endpoint_services(&platform())
            .await
            .unwrap()
            .is_empty()
    );
    // (localcloud cannot describe an endpoint whose service is gone: its connection is
    // over either way.)
    let out = h
        .engine()
        .exec(
            &customer(),
            &net.instances[0].instance_id,
            &[
                "curl".into(),
                "-sk".into(),
                "--max-time".into(),
                "3".into(),
                format!("https://{eip}/"),
            ],
            b"",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_ne!(out.exit_code, 0, "the endpoint still carries traffic");
}
