//! Document 000 end to end with the real binary: `linkplane serve` (heartbeat interval 1 s)
//! builds a LOCAL cluster with its gateway; the customer (localcloud account 222222222222)
//! builds a VPC, an endpoint to the cluster's service, the private hosted zone
//! `external.linkplane.test` with the `<clusterId>` record; `linkplane verify` names each
//! troubleshooting case while it is present; `linkplane agent run` inside the customer's
//! instance heartbeats through the endpoint and becomes HEALTHY, and UNHEALTHY once stopped.
//! Needs root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

const CUSTOMER: &str = "arn:aws:iam::222222222222:root";

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    cloud_token: String,
    org: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let cloud = path.starts_with("/cloud/");
        let path = if cloud || path.starts_with("/v1/") {
            path.to_owned()
        } else {
            format!("/v1/organizations/{}{path}", self.org)
        };
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        req = if cloud {
            req.bearer_auth(&self.cloud_token)
                .header("x-cloud-principal", CUSTOMER)
        } else {
            req.bearer_auth(&self.token)
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let s = resp.status().as_u16();
        let t = resp.text().await.unwrap();
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }
    async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, path, body).await;
        assert!((200..300).contains(&s), "{path}: {s} {v}");
        v
    }
    async fn post(&self, path: &str, body: Value) -> Value {
        self.ok(reqwest::Method::POST, path, Some(body)).await
    }
    async fn wait(&self, path: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let (s, v) = self.call(reqwest::Method::GET, path, None).await;
            if s == 200 && pred(&v) {
                return v;
            }
            assert!(start.elapsed() < Duration::from_secs(90), "{what}: {s} {v}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `linkplane verify … -o json`: (exit code, report).
fn verify(server: &Server, dep: &str, instance: &str) -> (Option<i32>, Value) {
    let r = server.lp(&[
        "verify",
        "--deployment",
        dep,
        "--from",
        instance,
        "--as",
        CUSTOMER,
        "-o",
        "json",
    ]);
    let v = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|_| panic!("verify printed no JSON: {} {}", r.stdout, r.stderr));
    (r.code, v)
}

fn diagnoses(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["diagnosis"].as_str().map(str::to_owned))
        .collect()
}

/// Run verify until `pred` holds on its report (the facts settle within a few seconds).
fn verify_until(
    server: &Server,
    dep: &str,
    inst: &str,
    what: &str,
    pred: impl Fn(Option<i32>, &Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let (code, v) = verify(server, dep, inst);
        if pred(code, &v) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: exit {code:?} {v:#}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_heartbeat_through_privatelink_and_verify_names_each_case() {
    if !linkplane_netns::testing::require_root("cli-privatelink") {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = Server::start_with(&["--agent-heartbeat-interval", "1s"]);
    let api = Api {
        http: reqwest::Client::new(),
        base: server.url(),
        token: server.admin_token(),
        cloud_token: std::fs::read_to_string(server.data_path().join("cloud.token"))
            .unwrap()
            .trim()
            .to_owned(),
        org: std::fs::read_to_string(server.data_path().join("organization-id"))
            .unwrap()
            .trim()
            .to_owned(),
    };
    let cid = server.create_cluster("prod", "DEDICATED", "10.41.0.0/16");
    api.wait(&format!("/clusters/{cid}"), "cluster CREATED", |v| {
        v["status"] == "CREATED"
    })
    .await;
    let dep = api
        .post("/deployments", json!({"name": "etl", "clusterId": cid}))
        .await;
    let did = dep["id"].as_str().unwrap().to_owned();
    let api_url = dep["apiUrl"].as_str().unwrap().to_owned();
    let host = format!("{cid}.external.linkplane.test");
    api.ok(
        reqwest::Method::PUT,
        &format!("/clusters/{cid}/private-link"),
        Some(json!({"allowedPrincipals": [CUSTOMER], "regions": [], "autoAccept": false})),
    )
    .await;
    let pl = api
        .wait(
            &format!("/clusters/{cid}/private-link"),
            "private link",
            |v| v["status"] == "AVAILABLE",
        )
        .await;
    let service = pl["serviceName"].as_str().unwrap().to_owned();

    // The customer's VPC: agents in 10.42.1.0/24 (us-east-1a).
    let vpc = api
        .post(
            "/cloud/v1/vpcs",
            json!({"cidrBlock": "10.42.0.0/16", "region": "us-east-1"}),
        )
        .await;
    let vpc_id = vpc["vpcId"].as_str().unwrap().to_owned();
    let subnet = api
        .post(
            "/cloud/v1/subnets",
            json!({"vpcId": vpc_id, "cidrBlock": "10.42.1.0/24", "availabilityZone": "us-east-1a"}),
        )
        .await;
    let subnet_id = subnet["subnetId"].as_str().unwrap().to_owned();
    let inst = api
        .post(
            "/cloud/v1/instances",
            json!({"subnetId": subnet_id, "name": "agents"}),
        )
        .await;
    let iid = inst["instanceId"].as_str().unwrap().to_owned();
    // A subnet in a zone the service does not support: no endpoint can go there, and
    // verify from an instance in it names the case.
    let subnet_c = api
        .post(
            "/cloud/v1/subnets",
            json!({"vpcId": vpc_id, "cidrBlock": "10.42.3.0/24", "availabilityZone": "us-east-1c"}),
        )
        .await;
    let subnet_c = subnet_c["subnetId"].as_str().unwrap().to_owned();
    let (s, v) = api
        .call(
            reqwest::Method::POST,
            "/cloud/v1/vpc-endpoints",
            Some(json!({"vpcId": vpc_id, "serviceName": service, "subnetIds": [subnet_c]})),
        )
        .await;
    assert!((400..500).contains(&s), "{s} {v}");
    let inst_c = api
        .post(
            "/cloud/v1/instances",
            json!({"subnetId": subnet_c, "name": "agents-c"}),
        )
        .await;
    let (code, r) = verify(&server, &did, inst_c["instanceId"].as_str().unwrap());
    assert_eq!(code, Some(1));
    assert!(
        diagnoses(&r).contains(&"subnet-az-not-supported".to_owned()),
        "{r:#}"
    );

    let sg = api
        .post(
            "/cloud/v1/security-groups",
            json!({"vpcId": vpc_id, "groupName": "endpoint", "description": "agents"}),
        )
        .await;
    let sg_id = sg["groupId"].as_str().unwrap().to_owned();
    let ep = api
        .post(
            "/cloud/v1/vpc-endpoints",
            json!({"vpcId": vpc_id, "serviceName": service, "subnetIds": [subnet_id],
                   "securityGroupIds": [sg_id]}),
        )
        .await;
    let ep_id = ep["vpcEndpointId"].as_str().unwrap().to_owned();
    let ep_ip = ep["networkInterfaces"][0]["privateIpAddress"]
        .as_str()
        .unwrap()
        .to_owned();

    // Pending acceptance, no zone yet, no 443 in the group: each case by name.
    let r = verify_until(&server, &did, &iid, "pending", |c, v| {
        c == Some(1) && diagnoses(v).contains(&"endpoint-pending-acceptance".to_owned())
    });
    assert_eq!(r["passed"], false);
    let d = diagnoses(&r);
    assert!(
        d.contains(&"security-group-without-443".to_owned()),
        "{d:?}"
    );
    assert!(d.iter().any(|x| x.starts_with("zone-")), "{d:?}");

    // The control plane lists the connection with the consumer's account, then accepts it.
    let conn = api
        .wait(
            &format!("/clusters/{cid}/private-link/connections/{ep_id}"),
            "connection listed",
            |v| v["status"] == "PENDING_ACCEPTANCE",
        )
        .await;
    assert_eq!(conn["requester"], "222222222222");
    api.post(
        &format!("/clusters/{cid}/private-link/connections/{ep_id}/accept"),
        json!({}),
    )
    .await;
    let rule = api
        .post(
            &format!("/cloud/v1/security-groups/{sg_id}/rules"),
            json!({"direction": "ingress", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443,
                   "cidrIp": "10.42.1.0/24"}),
        )
        .await;
    assert!(rule["ruleId"].is_string(), "{rule}");

    // A zone that is not associated with the VPC.
    let zone = api
        .post(
            "/cloud/v1/hosted-zones",
            json!({"name": "external.linkplane.test"}),
        )
        .await;
    let zid = zone["hostedZoneId"].as_str().unwrap().to_owned();
    verify_until(&server, &did, &iid, "zone not associated", |_, v| {
        diagnoses(v).contains(&"zone-not-associated".to_owned())
    });
    api.post(
        &format!("/cloud/v1/hosted-zones/{zid}/vpcs"),
        json!({"vpcId": vpc_id}),
    )
    .await;
    // Associated, but no record for the cluster yet.
    verify_until(&server, &did, &iid, "record missing", |_, v| {
        diagnoses(v).contains(&"record-missing".to_owned())
    });
    // A record pointing elsewhere (the public IP path's address, say).
    api.post(
        &format!("/cloud/v1/hosted-zones/{zid}/records"),
        json!({"name": host, "type": "A", "ttl": 5, "values": ["10.9.9.9"]}),
    )
    .await;
    verify_until(&server, &did, &iid, "record elsewhere", |_, v| {
        diagnoses(v).contains(&"record-points-elsewhere".to_owned())
    });
    api.post(
        &format!("/cloud/v1/hosted-zones/{zid}/records"),
        json!({"name": host, "type": "A", "ttl": 5, "values": [ep_ip]}),
    )
    .await;
    // Everything but the agents passes now.
    let r = verify_until(&server, &did, &iid, "only agents missing", |c, v| {
        c == Some(1) && diagnoses(v) == ["no-agents"]
    });
    let https = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "https-404")
        .unwrap();
    assert_eq!(https["passed"], true, "{r:#}");

    // Restrict the cluster to its endpoints: the agent below can only be served through it.
    let r = server.lp(&[
        "cluster",
        "update",
        &cid,
        "--private-only",
        "true",
        "-o",
        "json",
    ]);
    assert_eq!(r.code, Some(0), "{} {}", r.stdout, r.stderr);

    // An agent in the customer's instance, through the endpoint (DNS → endpoint IP).
    let tok = api
        .post(
            &format!("/deployments/{did}/agent-tokens"),
            json!({"name": "a"}),
        )
        .await;
    let ca = server.data_path().join("ca.pem");
    let proc = api
        .post(
            &format!("/cloud/v1/instances/{iid}/processes"),
            json!({"command": [BIN, "agent", "run", "--api-url", api_url,
                               "--token", tok["token"], "--ca-file", ca.display().to_string(),
                               "--name", "vm-agent"]}),
        )
        .await;
    let pid = proc["processId"].as_str().unwrap().to_owned();
    let agents = api
        .wait(
            &format!("/deployments/{did}/agents"),
            "agent HEALTHY",
            |v| v["items"][0]["status"] == "HEALTHY",
        )
        .await;
    assert_eq!(agents["items"][0]["name"], "vm-agent");
    let r = verify_until(&server, &did, &iid, "all pass", |c, _| c == Some(0));
    assert_eq!(r["passed"], true, "{r:#}");

    // Stopping the agent makes it UNHEALTHY (no heartbeat within two intervals).
    api.ok(
        reqwest::Method::DELETE,
        &format!("/cloud/v1/instances/{iid}/processes/{pid}"),
        None,
    )
    .await;
    api.wait(
        &format!("/deployments/{did}/agents"),
        "agent UNHEALTHY",
        |v| v["items"][0]["status"] == "UNHEALTHY",
    )
    .await;
    let r = verify_until(&server, &did, &iid, "agents not healthy", |c, v| {
        c == Some(1) && diagnoses(v) == ["agents-not-healthy"]
    });
    assert_eq!(r["passed"], false);

    // Rejected by the provider: verify says so.
    api.post(
        &format!("/clusters/{cid}/private-link/connections/{ep_id}/reject"),
        json!({}),
    )
    .await;
    verify_until(&server, &did, &iid, "endpoint rejected", |c, v| {
        c == Some(1) && diagnoses(v).contains(&"endpoint-rejected".to_owned())
    });
}
