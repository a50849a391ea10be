//! The /cloud/v1 API served on 127.0.0.1:0: principals, problem+json errors, exec.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::Cloud;
use serde_json::{Value, json};

const ALICE: &str = "arn:aws:iam::111111111111:root";
const BOB: &str = "arn:aws:iam::222222222222:role/deployer";

struct Api {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        who: Option<&str>,
        body: Option<Value>,
    ) -> (u16, String, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(w) = who {
            req = req.header("X-Cloud-Principal", w);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let text = resp.text().await.unwrap();
        (
            status,
            ctype,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_api_end_to_end() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(c) = Cloud::new("cloud_api_end_to_end").await else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = linkplane_localcloud::api::router(c.engine.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let token = std::fs::read_to_string(c.engine.operator_token_path())
        .unwrap()
        .trim()
        .to_string();
    // Without the operator token, or with a wrong one, every route is 401 (exec included).
    let anonymous = Api {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        token: None,
    };
    for (method, path) in [
        ("GET", "/cloud/v1/whoami"),
        ("GET", "/cloud/v1/vpcs"),
        ("POST", "/cloud/v1/internet/exec"),
        ("POST", "/cloud/v1/instances/i-12345678/exec"),
    ] {
        let (s, ct, p) = anonymous
            .call(method, path, None, Some(json!({"command": ["id"]})))
            .await;
        assert_eq!(
            (s, ct.as_str()),
            (401, "application/problem+json"),
            "{path}"
        );
        assert!(p["detail"].as_str().unwrap().contains("cloud.token"), "{p}");
    }
    let forged = Api {
        token: Some(format!("{token}0")),
        ..anonymous
    };
    let (s, _, p) = forged
        .call("GET", "/cloud/v1/whoami", Some(BOB), None)
        .await;
    assert_eq!(s, 401, "{p}");
    let api = Api {
        token: Some(token.clone()),
        ..forged
    };

    let (s, _, who) = api.call("GET", "/cloud/v1/whoami", None, None).await;
    assert_eq!(
        (s, who["accountId"].as_str()),
        (200, Some("000000000001")),
        "default principal"
    );
    let (s, ct, p) = api.call("GET", "/cloud/v1/whoami", Some("bob"), None).await;
    assert_eq!(s, 400);
    assert_eq!(ct, "application/problem+json");
    assert!(p["detail"].as_str().unwrap().contains("principal"), "{p}");

    let (s, _, p) = api
        .call(
            "POST",
            "/cloud/v1/vpcs",
            Some(ALICE),
            Some(json!({"cidrBlock": "8.8.0.0/16"})),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(p["status"], 400);
    assert!(p["detail"].as_str().unwrap().contains("cidrBlock"), "{p}");
    let (s, _, p) = api
        .call(
            "POST",
            "/cloud/v1/vpcs",
            Some(ALICE),
            Some(json!({"cidr": "10.0.0.0/16"})),
        )
        .await;
    assert_eq!(s, 400, "{p}");

    let (s, _, vpc) = api
        .call(
            "POST",
            "/cloud/v1/vpcs",
            Some(ALICE),
            Some(json!({"cidrBlock": "10.80.0.0/16", "name": "main"})),
        )
        .await;
    assert_eq!(s, 201, "{vpc}");
    let vpc_id = vpc["vpcId"].as_str().unwrap().to_string();
    assert_eq!(vpc["ownerId"], "111111111111");
    assert_eq!(vpc["dnsResolver"], "10.80.0.2");

    // Another account: 403 naming both accounts; not in its list.
    let (s, ct, p) = api
        .call("GET", &format!("/cloud/v1/vpcs/{vpc_id}"), Some(BOB), None)
        .await;
    assert_eq!((s, ct.as_str()), (403, "application/problem+json"));
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("111111111111") && detail.contains("222222222222"),
        "{detail}"
    );
    let (_, _, list) = api.call("GET", "/cloud/v1/vpcs", Some(BOB), None).await;
    assert_eq!(list, json!([]));
    let (s, _, _) = api
        .call("GET", "/cloud/v1/vpcs/vpc-00000000", Some(ALICE), None)
        .await;
    assert_eq!(s, 404);

    let (s, _, subnet) = api
        .call(
            "POST",
            "/cloud/v1/subnets",
            Some(ALICE),
            Some(json!({"vpcId": vpc_id, "cidrBlock": "10.80.1.0/24", "availabilityZone": "us-east-1b"})),
        )
        .await;
    assert_eq!(s, 201, "{subnet}");
    let (s, _, p) = api
        .call(
            "POST",
            "/cloud/v1/subnets",
            Some(ALICE),
            Some(json!({"vpcId": vpc_id, "cidrBlock": "10.80.1.128/25", "availabilityZone": "us-east-1b"})),
        )
        .await;
    assert_eq!(s, 409, "overlap: {p}");
    let (s, _, inst) = api
        .call(
            "POST",
            "/cloud/v1/instances",
            Some(ALICE),
            Some(json!({"subnetId": subnet["subnetId"], "privateIpAddress": "10.80.1.10"})),
        )
        .await;
    assert_eq!(s, 201, "{inst}");
    let inst_id = inst["instanceId"].as_str().unwrap().to_string();
    assert_eq!(inst["privateIpAddress"], "10.80.1.10");

    // exec: stdin in, stdout/stderr/exit code out (base64).
    let (s, _, out) = api
        .call(
            "POST",
            &format!("/cloud/v1/instances/{inst_id}/exec"),
            Some(ALICE),
            Some(json!({"command": ["bash", "-c", "ip -4 -o addr show eth0 | grep -o '10.80.1.10'; cat; exit 3"], "stdin": B64.encode("from-stdin")})),
        )
        .await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["exitCode"], 3);
    let stdout = B64.decode(out["stdout"].as_str().unwrap()).unwrap();
    assert_eq!(String::from_utf8(stdout).unwrap(), "10.80.1.10\nfrom-stdin");
    let (s, _, _) = api
        .call(
            "POST",
            &format!("/cloud/v1/instances/{inst_id}/exec"),
            Some(BOB),
            Some(json!({"command": ["true"]})),
        )
        .await;
    assert_eq!(s, 403);

    // Dependents: the VPC cannot go while the instance exists.
    let (s, _, p) = api
        .call(
            "DELETE",
            &format!("/cloud/v1/vpcs/{vpc_id}"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(s, 409);
    assert!(p["detail"].as_str().unwrap().contains(&inst_id), "{p}");
    let (s, _, _) = api
        .call(
            "DELETE",
            &format!("/cloud/v1/instances/{inst_id}"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _, _) = api
        .call(
            "DELETE",
            &format!("/cloud/v1/vpcs/{vpc_id}"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(s, 204);
    server.abort();
}

/// PrivateLink and DNS routes over HTTP: created resources, problem documents for the
/// refusals (AZ, principal, pending), owner-only decisions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privatelink_and_dns_over_http() {
    // Each test may run in its own process (nextest): install the provider here too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(c) = Cloud::new("privatelink_and_dns_over_http").await else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = linkplane_localcloud::api::router(c.engine.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let token = std::fs::read_to_string(c.engine.operator_token_path()).unwrap();
    let api = Api {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        token: Some(token.trim().to_string()),
    };
    let post = |path: &'static str, who: &'static str, body: Value| {
        let api = &api;
        async move { api.call("POST", path, Some(who), Some(body)).await }
    };
    // A misspelled or unknown field is refused (400 naming it) and creates nothing.
    for (path, body) in [
        (
            "/cloud/v1/vpcs",
            json!({"cidrBlock": "10.0.0.0/16", "enableDnsHostname": true}),
        ),
        (
            "/cloud/v1/subnets",
            json!({"vpcId": "vpc-00000000", "cidrBlock": "10.0.1.0/24",
                   "availabilityZone": "us-east-1a", "mapPublicIp": true}),
        ),
        (
            "/cloud/v1/hosted-zones",
            json!({"name": "corp.internal", "vpcs": ["vpc-00000000"]}),
        ),
        (
            "/cloud/v1/resolver-rules",
            json!({"domainName": "corp.internal", "ruleType": "FORWARD",
                   "targets": ["10.0.0.2"]}),
        ),
        (
            "/cloud/v1/target-groups",
            json!({"vpcId": "vpc-00000000", "port": 80, "healthCheck": {"path": "/", "intervalSeconds": 5}}),
        ),
    ] {
        let (s, ct, p) = post(path, ALICE, body).await;
        assert_eq!(
            (s, ct.as_str()),
            (400, "application/problem+json"),
            "{path}: {p}"
        );
        assert!(
            p["detail"].as_str().unwrap().contains("unknown field"),
            "{path}: {p}"
        );
    }
    let (s, _, vpcs) = api.call("GET", "/cloud/v1/vpcs", Some(ALICE), None).await;
    assert_eq!((s, vpcs.as_array().map(Vec::len)), (200, Some(0)), "{vpcs}");
    let (s, _, vpc) = post("/cloud/v1/vpcs", ALICE, json!({"cidrBlock": "10.0.0.0/16"})).await;
    assert_eq!(s, 201);
    let vpc_id = vpc["vpcId"].as_str().unwrap().to_string();
    let (s, _, sub) = api
        .call(
            "POST",
            "/cloud/v1/subnets",
            Some(ALICE),
            Some(json!({"vpcId": vpc_id, "cidrBlock": "10.0.1.0/24", "availabilityZone": "us-east-1a"})),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let subnet_id = sub["subnetId"].as_str().unwrap().to_string();
    let (s, _, lb) = api
        .call(
            "POST",
            "/cloud/v1/load-balancers",
            Some(ALICE),
            Some(json!({"subnetIds": [subnet_id]})),
        )
        .await;
    assert_eq!(s, 201, "{lb}");
    assert_eq!(lb["availabilityZones"], json!(["us-east-1a"]));
    let lb_id = lb["loadBalancerId"].as_str().unwrap().to_string();
    let (s, ct, p) = api
        .call(
            "POST",
            "/cloud/v1/target-groups",
            Some(ALICE),
            Some(json!({"vpcId": vpc_id, "port": 80, "healthCheck": {"protocol": "HTTP", "matcher": "200,,302"}})),
        )
        .await;
    assert_eq!((s, ct.as_str()), (400, "application/problem+json"), "{p}");
    let (s, _, svc) = api
        .call(
            "POST",
            "/cloud/v1/endpoint-services",
            Some(ALICE),
            Some(json!({"loadBalancerId": lb_id, "allowedPrincipals": [BOB]})),
        )
        .await;
    assert_eq!(s, 201, "{svc}");
    let svc_id = svc["serviceId"].as_str().unwrap().to_string();
    let name = svc["serviceName"].as_str().unwrap().to_string();
    // Bob's VPC in another AZ: 400 naming the supported AZ.
    let (_, _, bvpc) = api
        .call(
            "POST",
            "/cloud/v1/vpcs",
            Some(BOB),
            Some(json!({"cidrBlock": "10.0.0.0/16"})),
        )
        .await;
    let bvpc_id = bvpc["vpcId"].as_str().unwrap().to_string();
    let (_, _, bsub) = api
        .call(
            "POST",
            "/cloud/v1/subnets",
            Some(BOB),
            Some(json!({"vpcId": bvpc_id, "cidrBlock": "10.0.2.0/24", "availabilityZone": "us-east-1b"})),
        )
        .await;
    let body = json!({"vpcId": bvpc_id, "serviceName": name, "subnetIds": [bsub["subnetId"]]});
    let (s, _, p) = api
        .call("POST", "/cloud/v1/vpc-endpoints", Some(BOB), Some(body))
        .await;
    assert_eq!(s, 400, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("us-east-1a"), "{p}");
    let (_, _, bsub) = api
        .call(
            "POST",
            "/cloud/v1/subnets",
            Some(BOB),
            Some(json!({"vpcId": bvpc_id, "cidrBlock": "10.0.1.0/24", "availabilityZone": "us-east-1a"})),
        )
        .await;
    let body = json!({"vpcId": bvpc_id, "serviceName": name, "subnetIds": [bsub["subnetId"]]});
    let (s, _, ep) = api
        .call("POST", "/cloud/v1/vpc-endpoints", Some(BOB), Some(body))
        .await;
    assert_eq!(s, 201, "{ep}");
    assert_eq!(ep["state"], "pendingAcceptance");
    let ep_id = ep["vpcEndpointId"].as_str().unwrap().to_string();
    // Only the service owner accepts; Bob gets 403, Alice 200.
    let accept = format!("/cloud/v1/endpoint-services/{svc_id}/connections/accept");
    let (s, _, _) = api
        .call(
            "POST",
            &accept,
            Some(BOB),
            Some(json!({"vpcEndpointIds": [ep_id]})),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _, conns) = api
        .call(
            "POST",
            &accept,
            Some(ALICE),
            Some(json!({"vpcEndpointIds": [ep_id]})),
        )
        .await;
    assert_eq!(s, 200, "{conns}");
    assert_eq!(conns[0]["vpcEndpointState"], "available");
    assert_eq!(conns[0]["vpcEndpointOwner"], "222222222222");
    // A principal that is not allowed: 403.
    let (s, _, p) = api
        .call(
            "POST",
            "/cloud/v1/vpc-endpoints",
            Some("arn:aws:iam::333333333333:root"),
            Some(json!({"vpcId": bvpc_id, "serviceName": name, "subnetIds": [bsub["subnetId"]]})),
        )
        .await;
    assert_eq!(s, 403, "{p}");

    // DNS routes.
    let (s, _, z) = api
        .call(
            "POST",
            "/cloud/v1/hosted-zones",
            Some(ALICE),
            Some(json!({"name": "corp.internal", "vpcIds": [vpc_id]})),
        )
        .await;
    assert_eq!(s, 201, "{z}");
    let zid = z["hostedZoneId"].as_str().unwrap().to_string();
    let (s, _, z) = api
        .call(
            "POST",
            &format!("/cloud/v1/hosted-zones/{zid}/records"),
            Some(ALICE),
            Some(json!({"name": "db.corp.internal", "type": "A", "values": ["10.0.1.9"]})),
        )
        .await;
    assert_eq!(s, 200, "{z}");
    assert_eq!(z["recordSets"][0]["ttl"], 300);
    let (s, _, _) = api
        .call(
            "GET",
            &format!("/cloud/v1/hosted-zones/{zid}"),
            Some(BOB),
            None,
        )
        .await;
    assert_eq!(s, 403);
    let (s, _, r) = api
        .call(
            "POST",
            "/cloud/v1/resolver-rules",
            Some(ALICE),
            Some(json!({"domainName": "onprem.example", "ruleType": "FORWARD", "targetIps": ["10.0.1.53"]})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["targetIps"], json!(["10.0.1.53:53"]));
    let (s, _, _) = api
        .call(
            "POST",
            "/cloud/v1/public-records",
            Some(ALICE),
            Some(json!({"name": "x.external.linkplane.test", "values": ["198.51.100.9"]})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _, _) = api
        .call(
            "GET",
            "/cloud/v1/target-groups/tg-00000000/health",
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _, _) = api
        .call(
            "DELETE",
            &format!("/cloud/v1/vpc-endpoints/{ep_id}"),
            Some(BOB),
            None,
        )
        .await;
    assert_eq!(s, 200);
    server.abort();
}
