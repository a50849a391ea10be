//! A real control plane in-process (the `Plane` `linkplane serve` runs, on 127.0.0.1:0, with a
//! temporary data dir and its own localcloud prefix), an HTTP client for `/v1` and `/cloud/v1`,
//! and a guard that removes every kernel object under the prefix even when the test panics.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

use linkplane_localcloud::types::{
    CreateInstance, CreateSecurityGroup, CreateSecurityGroupRule, CreateSubnet, CreateVpc, Instance,
};
use linkplane_localcloud::{Engine, Prefix, Principal};
use linkplane_server::{ControllersConfig, PLATFORM_PRINCIPAL, Plane, PlaneConfig};
use serde_json::{Value, json};

/// Removes every namespace and process under the prefix on drop (also on panic).
pub struct Gc(pub Prefix);

impl Drop for Gc {
    fn drop(&mut self) {
        linkplane_localcloud::gc(&self.0);
    }
}

pub struct Harness {
    pub plane: Option<Plane>,
    engine: Option<Arc<Engine>>,
    pub base: String,
    pub org: String,
    token: String,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    pub dir: tempfile::TempDir,
    // Last: dropped after everything above.
    pub gc: Gc,
}

pub fn fast_config(peering_retry_after: Duration) -> ControllersConfig {
    ControllersConfig {
        resync: Duration::from_secs(5),
        watch_interval: Duration::from_millis(100),
        poll_interval: Duration::from_millis(300),
        peering_retry_after,
    }
}

pub const CUSTOMER: &str = "arn:aws:iam::222222222222:root";
pub const CUSTOMER_ACCOUNT: &str = "222222222222";

pub fn customer() -> Principal {
    Principal::parse(CUSTOMER).unwrap()
}

pub fn platform() -> Principal {
    Principal::parse(PLATFORM_PRINCIPAL).unwrap()
}

impl Harness {
    pub async fn start(config: ControllersConfig) -> Self {
        let prefix = Prefix::parse(&linkplane_netns::testing::unique_prefix()).unwrap();
        let gc = Gc(prefix.clone());
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(gc, dir, config).await
    }

    /// Start (again) on an existing data dir and prefix.
    pub async fn start_in(gc: Gc, dir: tempfile::TempDir, config: ControllersConfig) -> Self {
        Self::start_with(gc, dir, config, false).await
    }

    /// Start with or without localcloud.
    pub async fn start_with(
        gc: Gc,
        dir: tempfile::TempDir,
        config: ControllersConfig,
        disable_localcloud: bool,
    ) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let plane = Plane::start(PlaneConfig {
            data_dir: dir.path().to_owned(),
            api: linkplane_api::Config::default(),
            prefix: gc.0.clone(),
            controllers: config,
            disable_localcloud,
            providers: Default::default(),
        })
        .await
        .unwrap();
        let engine = plane.engine().cloned();
        let token = std::fs::read_to_string(&plane.bootstrap().admin_token_file)
            .unwrap()
            .trim()
            .to_owned();
        let org = plane.bootstrap().organization_id.to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = plane.router();
        let server = tokio::spawn(async move {
            let _ = axum::serve(linkplane_server::ProblemListener::new(listener), router)
                .into_future()
                .await;
        });
        Self {
            plane: Some(plane),
            engine,
            base,
            org,
            token,
            http: reqwest::Client::new(),
            server,
            dir,
            gc,
        }
    }

    /// Stop the server and the plane, keeping the data dir and the kernel objects.
    pub async fn stop(mut self) -> (Gc, tempfile::TempDir) {
        self.server.abort();
        if let Some(p) = self.plane.take() {
            p.shutdown().await;
        }
        let Harness { gc, dir, .. } = self;
        (gc, dir)
    }

    /// Stop abruptly, as `kill -9` would: controllers and reconciles in flight are dropped
    /// mid-way, nothing is closed. Keeps the data dir and the kernel objects.
    pub fn crash(mut self) -> (Gc, tempfile::TempDir) {
        self.server.abort();
        drop(self.plane.take());
        let Harness { gc, dir, .. } = self;
        (gc, dir)
    }

    /// The localcloud engine (panics when the plane runs without it).
    pub fn engine(&self) -> &Arc<Engine> {
        self.engine.as_ref().expect("localcloud runs (as root)")
    }

    pub fn v1(&self, path: &str) -> String {
        format!("{}/v1/organizations/{}{path}", self.base, self.org)
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.v1(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(s, 201, "POST {path}: {v}");
        v
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// Poll `path` until `pred` holds; panics with the last body after `within`.
    pub async fn wait_for(
        &self,
        path: &str,
        within: Duration,
        pred: impl Fn(u16, &Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let (s, v) = self.get(path).await;
            if pred(s, &v) {
                return v;
            }
            assert!(
                start.elapsed() < within,
                "GET {path} did not reach the expected state in {within:?}; last: {s} {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_status(&self, path: &str, status: &str, within: Duration) -> Value {
        self.wait_for(path, within, |s, v| s == 200 && v["status"] == status)
            .await
    }

    /// Create a LOCAL dedicated cluster and wait for CREATED.
    pub async fn created_cluster(&self, cidr: &str) -> Value {
        let c = self
            .post(
                "/clusters",
                json!({"name": "prod", "cloudProvider": "LOCAL", "type": "DEDICATED",
                       "region": "us-east-1", "vpcSubnetRange": cidr}),
            )
            .await;
        let id = c["id"].as_str().unwrap().to_owned();
        self.wait_status(
            &format!("/clusters/{id}"),
            "CREATED",
            Duration::from_secs(60),
        )
        .await
    }

    /// The cluster's localcloud VPC (found by the provider's name for it).
    pub async fn cluster_vpc(&self, cluster_id: &str) -> linkplane_localcloud::types::Vpc {
        let name = format!("linkplane/{cluster_id}");
        self.engine()
            .list_vpcs(&platform())
            .await
            .unwrap()
            .into_iter()
            .find(|v| v.name.as_deref() == Some(name.as_str()))
            .expect("the cluster's VPC exists")
    }

    /// An instance in the cluster's `private-a` subnet (platform account).
    pub async fn cluster_instance(&self, cluster_id: &str) -> Instance {
        let vpc = self.cluster_vpc(cluster_id).await;
        let subnet = self
            .engine()
            .list_subnets(&platform(), Some(&vpc.vpc_id))
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.name.as_deref().is_some_and(|n| n.ends_with("/private-a")))
            .unwrap();
        self.engine()
            .create_instance(
                &platform(),
                CreateInstance {
                    subnet_id: subnet.subnet_id,
                    name: Some("worker".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
    }

    /// Standard output of `cmd` run in a cluster instance.
    pub async fn exec_out(&self, from: &Instance, cmd: &[&str], within: Duration) -> String {
        let cmd: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        let out = self
            .engine()
            .exec(&platform(), &from.instance_id, &cmd, b"", within)
            .await
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether `from` (a cluster instance) gets `expect` from `ip:8080` over TCP.
    pub async fn reaches(&self, from: &Instance, ip: &str, expect: &str) -> bool {
        let to = format!("TCP:{ip}:8080,connect-timeout=2");
        self.exec_out(from, &["socat", "-T2", "-", &to], Duration::from_secs(6))
            .await
            .contains(expect)
    }

    /// `dig +short` from a cluster instance (empty on NXDOMAIN or no answer).
    pub async fn dig(&self, from: &Instance, name: &str) -> String {
        let args = ["dig", "+short", "+time=2", "+tries=1", name];
        self.exec_out(from, &args, Duration::from_secs(8))
            .await
            .trim()
            .to_owned()
    }

    /// Poll [`Harness::reaches`] until it equals `want`.
    pub async fn wait_reach(&self, from: &Instance, ip: &str, expect: &str, want: bool) {
        let start = Instant::now();
        while self.reaches(from, ip, expect).await != want {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{ip}:8080 reachable={} from {} for 20s, wanted {want}",
                !want,
                from.instance_id
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A `/cloud/v1` call as `principal`.
    pub async fn cloud(
        &self,
        principal: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/cloud/v1{path}", self.base))
            .header("X-Cloud-Principal", principal);
        // localcloud's operator token, when this localcloud has one.
        if let Ok(t) = std::fs::read_to_string(self.dir.path().join("cloud.token")) {
            req = req.bearer_auth(t.trim());
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let s = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            s,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

/// A string field of a JSON body (panics naming the field when it is not there).
pub fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} in {v}"))
        .to_owned()
}

/// A customer network: a VPC with two subnets, one instance in each serving TCP 8080
/// (answering `hello-<n>`), and the default security group open on 8080 to `allow_from`.
pub struct CustomerNet {
    pub vpc_id: String,
    pub subnets: Vec<String>,
    pub instances: Vec<Instance>,
}

pub async fn customer_net(engine: &Engine, cidr: &str, allow_from: &str) -> CustomerNet {
    let p = customer();
    let vpc = engine
        .create_vpc(
            &p,
            CreateVpc {
                cidr_block: cidr.into(),
                region: Some("us-east-1".into()),
                name: Some("data".into()),
            },
        )
        .await
        .unwrap();
    engine
        .add_security_group_rule(
            &p,
            &vpc.default_security_group_id,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(8080),
                to_port: Some(8080),
                cidr_ip: Some(allow_from.into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    let net: ipnet::Ipv4Net = cidr.parse().unwrap();
    let halves: Vec<ipnet::Ipv4Net> = net.subnets(24).unwrap().skip(1).take(2).collect();
    let mut subnets = vec![];
    let mut instances = vec![];
    for (i, (sn, az)) in halves.iter().zip(["us-east-1a", "us-east-1b"]).enumerate() {
        let s = engine
            .create_subnet(
                &p,
                CreateSubnet {
                    vpc_id: vpc.vpc_id.clone(),
                    cidr_block: sn.to_string(),
                    availability_zone: az.into(),
                    map_public_ip_on_launch: false,
                    name: None,
                },
            )
            .await
            .unwrap();
        let inst = engine
            .create_instance(
                &p,
                CreateInstance {
                    subnet_id: s.subnet_id.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let reply = format!("SYSTEM:echo hello-{}", i + 1);
        engine
            .run_process(
                &p,
                &inst.instance_id,
                &[
                    "socat".to_string(),
                    "TCP-LISTEN:8080,fork,reuseaddr".to_string(),
                    reply,
                ],
            )
            .await
            .unwrap();
        subnets.push(s.subnet_id);
        instances.push(inst);
    }
    CustomerNet {
        vpc_id: vpc.vpc_id,
        subnets,
        instances,
    }
}

/// Run the activation instructions' `linkplane cloud --as ARN …` commands against
/// `/cloud/v1`, the way the CLI would send them. `route add --vpc` runs once per subnet of
/// the VPC (as the CLI does).
pub async fn run_instructions(h: &Harness, steps: &[String]) {
    for step in steps {
        let words: Vec<&str> = step.split_whitespace().collect();
        assert_eq!(&words[..3], ["linkplane", "cloud", "--as"], "{step}");
        let who = words[3];
        let rest = &words[4..];
        let flag = |name: &str| {
            rest.iter()
                .position(|w| *w == name)
                .map(|i| rest[i + 1].to_string())
                .unwrap_or_else(|| panic!("{step}: no {name}"))
        };
        match rest[..2] {
            ["peering", "accept"] => {
                let (s, v) = h
                    .cloud(
                        who,
                        reqwest::Method::POST,
                        &format!("/vpc-peering-connections/{}/accept", rest[2]),
                        None,
                    )
                    .await;
                assert_eq!(s, 200, "{step}: {v}");
            }
            ["subnet", "list"] => {
                let (s, v) = h
                    .cloud(
                        who,
                        reqwest::Method::GET,
                        &format!("/subnets?vpcId={}", flag("--vpc")),
                        None,
                    )
                    .await;
                assert_eq!(s, 200, "{step}: {v}");
            }
            ["route", "add"] => {
                let targets = if rest.contains(&"--vpc") {
                    let (s, v) = h
                        .cloud(
                            who,
                            reqwest::Method::GET,
                            &format!("/subnets?vpcId={}", flag("--vpc")),
                            None,
                        )
                        .await;
                    assert_eq!(s, 200, "{step}: {v}");
                    v.as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s["subnetId"].as_str().unwrap().to_owned())
                        .collect()
                } else {
                    vec![flag("--subnet")]
                };
                assert!(!targets.is_empty(), "{step}: no subnet to route from");
                for s_id in targets {
                    let (s, v) = h
                        .cloud(
                            who,
                            reqwest::Method::POST,
                            &format!("/subnets/{s_id}/routes"),
                            Some(json!({"destinationCidrBlock": flag("--destination"),
                                        "targetId": flag("--target")})),
                        )
                        .await;
                    assert_eq!(s, 201, "{step}: {v}");
                }
            }
            ["zone", "authorize"] => {
                let (s, v) = h
                    .cloud(
                        who,
                        reqwest::Method::POST,
                        &format!("/hosted-zones/{}/authorizations", rest[2]),
                        Some(json!({"vpcId": flag("--vpc")})),
                    )
                    .await;
                assert_eq!(s, 200, "{step}: {v}");
            }
            ["rule", "share"] => {
                let (s, v) = h
                    .cloud(
                        who,
                        reqwest::Method::POST,
                        &format!("/resolver-rules/{}/shares", rest[2]),
                        Some(json!({"accountId": flag("--account")})),
                    )
                    .await;
                assert_eq!(s, 200, "{step}: {v}");
            }
            ["peering", "modify-options"] => {
                let side = |f: &str| {
                    rest.iter()
                        .position(|w| *w == f)
                        .map(|i| json!({"allowDnsResolutionFromRemoteVpc": rest[i + 1] == "true"}))
                };
                let mut body = json!({});
                if let Some(o) = side("--accepter-dns-resolution") {
                    body["accepterPeeringConnectionOptions"] = o;
                }
                if let Some(o) = side("--requester-dns-resolution") {
                    body["requesterPeeringConnectionOptions"] = o;
                }
                let (s, v) = h
                    .cloud(
                        who,
                        reqwest::Method::POST,
                        &format!("/vpc-peering-connections/{}/options", rest[2]),
                        Some(body),
                    )
                    .await;
                assert_eq!(s, 200, "{step}: {v}");
            }
            _ => panic!("unexpected instruction {step}"),
        }
    }
}

/// A security group in `vpc` (of `p`) that lets `from` in on TCP `port`: for interface
/// endpoints.
pub async fn endpoint_sg(h: &Harness, p: &Principal, vpc: &str, from: &str, port: i32) -> String {
    let sg = h
        .engine()
        .create_security_group(
            p,
            CreateSecurityGroup {
                vpc_id: vpc.into(),
                group_name: "agents-to-endpoint".into(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    h.engine()
        .add_security_group_rule(
            p,
            &sg.group_id,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(port),
                to_port: Some(port),
                cidr_ip: Some(from.into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    sg.group_id
}
