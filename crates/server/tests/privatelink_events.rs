#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The private-link controller reacts to events, not to polls: with its requeue and the watchers'
//! fallback poll set to a minute, a new endpoint must show on `/v1` and an accept must
//! reach the provider within seconds.
use std::future::IntoFuture as _;
use std::time::{Duration, Instant};

use linkplane_localcloud::Principal;
use linkplane_localcloud::types::{CreateEndpoint, CreateSubnet, CreateVpc};
use serde_json::{Value, json};

use linkplane_server::ControllersConfig;
use linkplane_server::{Plane, PlaneConfig};

struct Gc(linkplane_localcloud::Prefix);

impl Drop for Gc {
    fn drop(&mut self) {
        linkplane_localcloud::gc(&self.0);
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, m: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(m.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{m} {path}: {status} {v}");
        v
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Polls every 20 ms until `pred` holds; the time it took.
    async fn until(&self, path: &str, within: Duration, pred: impl Fn(&Value) -> bool) -> Duration {
        let start = Instant::now();
        loop {
            let v = self.get(path).await;
            if pred(&v) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "GET {path}: still {v} after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_endpoint_and_an_accept_are_acted_on_at_once_not_at_the_requeue() {
    if !linkplane_netns::testing::require_root("privatelink-events") {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let prefix =
        linkplane_localcloud::Prefix::parse(&linkplane_netns::testing::unique_prefix()).unwrap();
    let gc = Gc(prefix.clone());
    let dir = tempfile::tempdir().unwrap();
    let requeue = Duration::from_secs(60);
    let plane = Plane::start(PlaneConfig {
        data_dir: dir.path().to_owned(),
        api: linkplane_api::Config::default(),
        prefix,
        controllers: ControllersConfig {
            resync: requeue,
            watch_interval: requeue,
            poll_interval: requeue,
            peering_retry_after: requeue,
        },
        disable_localcloud: false,
        providers: Default::default(),
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = Api {
        http: reqwest::Client::new(),
        base: format!(
            "http://{}/v1/organizations/{}",
            listener.local_addr().unwrap(),
            plane.bootstrap().organization_id
        ),
        token: std::fs::read_to_string(&plane.bootstrap().admin_token_file)
            .unwrap()
            .trim()
            .to_owned(),
    };
    let server = tokio::spawn(axum::serve(listener, plane.router()).into_future());
    let engine = plane.engine().cloned().expect("localcloud runs as root");
    let customer = Principal::parse("arn:aws:iam::222222222222:root").unwrap();

    let c = api
        .call(
            reqwest::Method::POST,
            "/clusters",
            Some(
                json!({"name": "events", "cloudProvider": "LOCAL", "type": "DEDICATED",
                        "region": "us-east-1", "vpcSubnetRange": "10.70.0.0/16"}),
            ),
        )
        .await;
    let cid = c["id"].as_str().unwrap().to_owned();
    api.until(&format!("/clusters/{cid}"), Duration::from_secs(60), |v| {
        v["status"] == "CREATED"
    })
    .await;
    let pl = format!("/clusters/{cid}/private-link");
    api.call(
        reqwest::Method::PUT,
        &pl,
        Some(json!({"allowedPrincipals": [customer.arn()]})),
    )
    .await;
    api.until(&pl, Duration::from_secs(10), |v| v["status"] == "AVAILABLE")
        .await;
    let service_name = api.get(&pl).await["serviceName"]
        .as_str()
        .unwrap()
        .to_owned();
    // The controller's last pass asked for the next one in a minute: nothing but the
    // provider's event can bring the endpoint to /v1 in time.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let vpc = engine
        .create_vpc(
            &customer,
            CreateVpc {
                cidr_block: "10.71.0.0/16".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let subnet = engine
        .create_subnet(
            &customer,
            CreateSubnet {
                vpc_id: vpc.vpc_id.clone(),
                cidr_block: "10.71.1.0/24".into(),
                availability_zone: "us-east-1a".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ep = engine
        .create_endpoint(
            &customer,
            CreateEndpoint {
                vpc_id: vpc.vpc_id.clone(),
                service_name,
                subnet_ids: vec![subnet.subnet_id],
                security_group_ids: vec![],
                private_dns_enabled: Some(false),
            },
        )
        .await
        .unwrap();
    let eid = ep.vpc_endpoint_id.clone();
    let conns = format!("{pl}/connections");
    let shown = api
        .until(&conns, Duration::from_secs(5), |v| {
            v["items"].as_array().is_some_and(|a| {
                a.iter().any(|c| {
                    c["cloudEndpointId"] == eid.as_str() && c["status"] == "PENDING_ACCEPTANCE"
                })
            })
        })
        .await;

    api.call(
        reqwest::Method::POST,
        &format!("{conns}/{eid}/accept"),
        Some(json!({})),
    )
    .await;
    let start = Instant::now();
    loop {
        let e = engine.get_endpoint(&customer, &eid).await.unwrap();
        if e.state == "available" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the accept did not reach the provider in 5 s (endpoint {})",
            e.state
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let accepted = start.elapsed();
    eprintln!("endpoint on /v1 after {shown:?}, available {accepted:?} after the accept");
    // The customer deletes the endpoint: the connection shows DELETED as promptly.
    engine.delete_endpoint(&customer, &eid).await.unwrap();
    api.until(&conns, Duration::from_secs(5), |v| {
        v["items"].as_array().is_some_and(|a| {
            a.iter()
                .any(|c| c["cloudEndpointId"] == eid.as_str() && c["status"] == "DELETED")
        })
    })
    .await;

    server.abort();
    plane.shutdown().await;
    drop(gc);
}
