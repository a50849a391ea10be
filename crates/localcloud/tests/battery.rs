//! Bad-input battery for /cloud/v1: every write operation × malformed, wrong-shaped (an
//! array where an object is required), oversized, control characters, leading-zero and
//! out-of-range addresses. Every answer is a 4xx problem+json whose `errors[]` names the
//! field, never a 5xx, and nothing is stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Cloud;
use serde_json::{Value, json};

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

struct Resp {
    status: u16,
    ctype: String,
    body: Value,
    text: String,
}

impl Resp {
    /// A 4xx problem; its `errors[].field`s.
    fn problem(&self, what: &str) -> Vec<String> {
        assert!(
            (400..500).contains(&self.status),
            "{what}: {} {}",
            self.status,
            self.text
        );
        assert_eq!(
            self.ctype, "application/problem+json",
            "{what}: {}",
            self.text
        );
        assert_eq!(self.body["status"], self.status, "{what}: {}", self.text);
        assert!(self.body["detail"].is_string(), "{what}: {}", self.text);
        let fields: Vec<String> = self.body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no errors[]: {}", self.text))
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            !fields.is_empty(),
            "{what}: errors[] is empty: {}",
            self.text
        );
        fields
    }
}

impl Api {
    async fn raw(&self, method: &str, path: &str, body: Vec<u8>) -> Resp {
        let resp = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = resp.text().await.unwrap();
        Resp {
            status,
            ctype,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }
    /// Announce a body of `len` bytes and send none of it: the answer must come from the
    /// headers alone (a server that waits for the body, or a client still writing it when
    /// the server closes, would hide the status).
    async fn announce(&self, method: &str, path: &str, len: usize) -> Resp {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = self.base.trim_start_matches("http://");
        let mut conn = tokio::net::TcpStream::connect(host).await.unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {len}\r\n\r\n",
            self.token
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some((h, b)) = text.split_once("\r\n\r\n") {
                let want = h
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if b.len() >= want {
                    let status = h[9..12].parse().unwrap();
                    let ctype = h
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-type:")
                                .map(|v| v.trim().to_owned())
                        })
                        .unwrap_or_default();
                    return Resp {
                        status,
                        ctype,
                        body: serde_json::from_str(b).unwrap_or(Value::Null),
                        text: b.to_owned(),
                    };
                }
            }
            let n = tokio::time::timeout_at(deadline, conn.read(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("{method} {path}: no answer to a {len}-byte body"))
                .unwrap();
            assert!(n > 0, "{method} {path}: closed without an answer: {text}");
            got.extend_from_slice(&buf[..n]);
        }
    }
    async fn json(&self, method: &str, path: &str, body: &Value) -> Resp {
        self.raw(method, path, serde_json::to_vec(body).unwrap())
            .await
    }
    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.json().await.unwrap()
    }
}

/// Everything /cloud/v1 lists, as one value to compare before and after.
async fn census(api: &Api, instance: &str, subnet: &str) -> Value {
    let mut all = serde_json::Map::new();
    for coll in [
        "vpcs",
        "subnets",
        "instances",
        "security-groups",
        "internet-gateways",
        "elastic-ips",
        "nat-gateways",
        "vpc-peering-connections",
        "load-balancers",
        "target-groups",
        "endpoint-services",
        "vpc-endpoints",
        "hosted-zones",
        "resolver-rules",
        "public-records",
        "internet/processes",
    ] {
        all.insert(coll.into(), api.get(&format!("/cloud/v1/{coll}")).await);
    }
    all.insert(
        "processes".into(),
        api.get(&format!("/cloud/v1/instances/{instance}/processes"))
            .await,
    );
    all.insert(
        "routes".into(),
        api.get(&format!("/cloud/v1/subnets/{subnet}/routes")).await,
    );
    Value::Object(all)
}

/// Bodies that no write operation accepts, whatever it expects.
fn malformed() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", b"".to_vec()),
        ("truncated", br#"{"name":"a","#.to_vec()),
        ("not json", b"name=a".to_vec()),
        (
            "array for the body",
            br#"["10.0.0.0/16","us-east-1"]"#.to_vec(),
        ),
        ("null", b"null".to_vec()),
        ("number", b"42".to_vec()),
        ("trailing garbage", br#"{} {"#.to_vec()),
        ("raw control char", b"{\"name\":\"a\x01b\"}".to_vec()),
        ("unknown field", br#"{"sqlInjection' --":1}"#.to_vec()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_bad_input_is_a_4xx_naming_the_field_and_stores_nothing() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(c) = Cloud::new("cloud_bad_input_battery").await else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = linkplane_localcloud::api::router(c.engine.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let api = Api {
        base: format!("http://{addr}"),
        token: std::fs::read_to_string(c.engine.operator_token_path())
            .unwrap()
            .trim()
            .to_owned(),
        http: reqwest::Client::new(),
    };

    // Real objects, so the rules behind the body checks are reached too.
    let r = api
        .json(
            "POST",
            "/cloud/v1/vpcs",
            &json!({"cidrBlock": "10.77.0.0/16"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let vpc = r.body["vpcId"].as_str().unwrap().to_owned();
    let r = api
        .json(
            "POST",
            "/cloud/v1/subnets",
            &json!({"vpcId": vpc, "cidrBlock": "10.77.1.0/24", "availabilityZone": "us-east-1a"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let subnet = r.body["subnetId"].as_str().unwrap().to_owned();
    let r = api
        .json("POST", "/cloud/v1/instances", &json!({"subnetId": subnet}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let inst = r.body["instanceId"].as_str().unwrap().to_owned();
    let groups = api
        .get(&format!("/cloud/v1/security-groups?vpcId={vpc}"))
        .await;
    let sg = groups[0]["groupId"].as_str().unwrap().to_owned();
    let before = census(&api, &inst, &subnet).await;

    // Every write operation with a body: (method, path).
    let ops: Vec<(&str, String)> = vec![
        ("POST", "/cloud/v1/vpcs".into()),
        ("PATCH", format!("/cloud/v1/vpcs/{vpc}")),
        ("POST", "/cloud/v1/subnets".into()),
        ("POST", format!("/cloud/v1/subnets/{subnet}/routes")),
        ("POST", "/cloud/v1/instances".into()),
        ("POST", format!("/cloud/v1/instances/{inst}/exec")),
        ("POST", format!("/cloud/v1/instances/{inst}/processes")),
        ("PUT", format!("/cloud/v1/instances/{inst}/security-groups")),
        ("POST", "/cloud/v1/security-groups".into()),
        ("POST", format!("/cloud/v1/security-groups/{sg}/rules")),
        ("POST", "/cloud/v1/internet-gateways".into()),
        ("POST", "/cloud/v1/nat-gateways".into()),
        ("POST", "/cloud/v1/vpc-peering-connections".into()),
        (
            "POST",
            "/cloud/v1/vpc-peering-connections/pcx-00000000/options".into(),
        ),
        ("POST", "/cloud/v1/internet/exec".into()),
        ("POST", "/cloud/v1/internet/processes".into()),
        ("POST", "/cloud/v1/load-balancers".into()),
        (
            "POST",
            "/cloud/v1/load-balancers/lb-00000000/listeners".into(),
        ),
        ("POST", "/cloud/v1/target-groups".into()),
        ("POST", "/cloud/v1/target-groups/tg-00000000/targets".into()),
        (
            "DELETE",
            "/cloud/v1/target-groups/tg-00000000/targets".into(),
        ),
        ("POST", "/cloud/v1/endpoint-services".into()),
        (
            "PATCH",
            "/cloud/v1/endpoint-services/vpce-svc-00000000".into(),
        ),
        (
            "POST",
            "/cloud/v1/endpoint-services/vpce-svc-00000000/permissions".into(),
        ),
        (
            "POST",
            "/cloud/v1/endpoint-services/vpce-svc-00000000/connections/accept".into(),
        ),
        (
            "POST",
            "/cloud/v1/endpoint-services/vpce-svc-00000000/connections/reject".into(),
        ),
        ("POST", "/cloud/v1/vpc-endpoints".into()),
        ("POST", "/cloud/v1/hosted-zones".into()),
        ("POST", "/cloud/v1/hosted-zones/hz-00000000/records".into()),
        (
            "DELETE",
            "/cloud/v1/hosted-zones/hz-00000000/records".into(),
        ),
        (
            "POST",
            "/cloud/v1/hosted-zones/hz-00000000/authorizations".into(),
        ),
        ("POST", "/cloud/v1/hosted-zones/hz-00000000/vpcs".into()),
        ("DELETE", "/cloud/v1/hosted-zones/hz-00000000/vpcs".into()),
        ("POST", "/cloud/v1/resolver-rules".into()),
        (
            "POST",
            "/cloud/v1/resolver-rules/rslvr-rr-00000000/vpcs".into(),
        ),
        (
            "DELETE",
            "/cloud/v1/resolver-rules/rslvr-rr-00000000/vpcs".into(),
        ),
        (
            "POST",
            "/cloud/v1/resolver-rules/rslvr-rr-00000000/shares".into(),
        ),
        ("POST", "/cloud/v1/public-records".into()),
    ]
    .into_iter()
    .map(|(m, p)| (m, p.to_string()))
    .collect();
    let mut checked = 0;
    for (method, path) in &ops {
        for (what, body) in malformed() {
            let r = api.raw(method, path, body).await;
            let what = format!("{method} {path} {what}");
            let fields = r.problem(&what);
            if what.ends_with("unknown field") {
                assert_eq!(r.status, 400, "{what}: {}", r.text);
                assert_eq!(fields, ["sqlInjection' --"], "{what}");
            } else {
                assert_eq!(r.status, 400, "{what}: {}", r.text);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ops.len() * malformed().len());
    // Over the 1 MiB limit (a 3 MiB body was a 400 before, and ~2 MB were taken): 413.
    for (method, path) in &ops {
        let r = api.announce(method, path, 3 * 1024 * 1024).await;
        let what = format!("{method} {path} 3 MiB");
        assert_eq!(r.status, 413, "{what}: {}", r.text);
        assert_eq!(r.problem(&what), ["body"], "{what}");
    }

    // Field rules: (method, path, body, the field the problem must name).
    let big_values: Vec<String> = (0..10_000)
        .map(|i| format!("10.0.{}.{}", i / 250, i % 250 + 1))
        .collect();
    let cases: Vec<(&str, String, Value, &str)> = vec![
        // An array where an object is required, nested.
        (
            "POST",
            "/cloud/v1/target-groups".into(),
            json!({"vpcId": vpc, "port": 80, "healthCheck": ["HTTP", "/", "200", 80, 1000, 500, 2, 2]}),
            "healthCheck",
        ),
        (
            "POST",
            "/cloud/v1/vpc-peering-connections/pcx-00000000/options".into(),
            json!({"accepterPeeringConnectionOptions": [true]}),
            "accepterPeeringConnectionOptions",
        ),
        (
            "POST",
            "/cloud/v1/target-groups/tg-00000000/targets".into(),
            json!({"targets": [[inst, 80]]}),
            "targets[0]",
        ),
        // NUL bytes in a command (a 500 leaking the namespace name before).
        (
            "POST",
            format!("/cloud/v1/instances/{inst}/exec"),
            json!({"command": ["echo", "a\u{0}b"]}),
            "command[1]",
        ),
        (
            "POST",
            format!("/cloud/v1/instances/{inst}/processes"),
            json!({"command": ["sleep\u{0}", "1"]}),
            "command[0]",
        ),
        (
            "POST",
            "/cloud/v1/internet/exec".into(),
            json!({"command": ["echo", "\u{0}"]}),
            "command[1]",
        ),
        (
            "POST",
            format!("/cloud/v1/instances/{inst}/exec"),
            json!({"command": []}),
            "command",
        ),
        // Unknown fields in the bodies that used to accept them.
        (
            "POST",
            format!("/cloud/v1/instances/{inst}/exec"),
            json!({"command": ["true"], "shell": true}),
            "shell",
        ),
        (
            "POST",
            format!("/cloud/v1/instances/{inst}/processes"),
            json!({"command": ["true"], "detach": true}),
            "detach",
        ),
        (
            "PUT",
            format!("/cloud/v1/instances/{inst}/security-groups"),
            json!({"securityGroupIds": [sg], "force": true}),
            "force",
        ),
        (
            "POST",
            "/cloud/v1/endpoint-services/vpce-svc-00000000/connections/accept".into(),
            json!({"vpcEndpointIds": [], "all": true}),
            "all",
        ),
        // Leading-zero octets (read as octal by inet_aton) in every CIDR field.
        (
            "POST",
            "/cloud/v1/vpcs".into(),
            json!({"cidrBlock": "010.077.000.000/16"}),
            "cidrBlock",
        ),
        (
            "POST",
            "/cloud/v1/subnets".into(),
            json!({"vpcId": vpc, "cidrBlock": "10.77.02.0/24", "availabilityZone": "us-east-1a"}),
            "cidrBlock",
        ),
        (
            "POST",
            format!("/cloud/v1/subnets/{subnet}/routes"),
            json!({"destinationCidrBlock": "0192.168.0.0/16", "targetId": "igw-00000000"}),
            "destinationCidrBlock",
        ),
        (
            "POST",
            format!("/cloud/v1/security-groups/{sg}/rules"),
            json!({"direction": "ingress", "ipProtocol": "tcp", "fromPort": 80, "toPort": 80, "cidrIp": "010.0.0.0/8"}),
            "cidrIp",
        ),
        // Resolver targets: port 0, unspecified, multicast, leading zeros.
        (
            "POST",
            "/cloud/v1/resolver-rules".into(),
            json!({"domainName": "corp.example", "ruleType": "FORWARD", "targetIps": ["10.0.0.2:0"]}),
            "targetIps[0]",
        ),
        (
            "POST",
            "/cloud/v1/resolver-rules".into(),
            json!({"domainName": "corp.example", "ruleType": "FORWARD", "targetIps": ["10.0.0.2", "0.0.0.0"]}),
            "targetIps[1]",
        ),
        (
            "POST",
            "/cloud/v1/resolver-rules".into(),
            json!({"domainName": "corp.example", "ruleType": "FORWARD", "targetIps": ["224.0.0.251:53"]}),
            "targetIps[0]",
        ),
        (
            "POST",
            "/cloud/v1/resolver-rules".into(),
            json!({"domainName": "corp.example", "ruleType": "FORWARD", "targetIps": ["010.0.0.2"]}),
            "targetIps[0]",
        ),
        // Oversized and control characters.
        (
            "POST",
            "/cloud/v1/vpcs".into(),
            json!({"cidrBlock": "10.78.0.0/16", "name": "n".repeat(300_000)}),
            "name",
        ),
        (
            "POST",
            "/cloud/v1/vpcs".into(),
            json!({"cidrBlock": "10.78.0.0/16", "name": "a\u{7}b"}),
            "name",
        ),
        (
            "POST",
            "/cloud/v1/security-groups".into(),
            json!({"vpcId": vpc, "groupName": "g".repeat(256)}),
            "groupName",
        ),
        (
            "POST",
            "/cloud/v1/security-groups".into(),
            json!({"vpcId": vpc, "groupName": "web", "description": "line\nbreak"}),
            "description",
        ),
        (
            "POST",
            "/cloud/v1/public-records".into(),
            json!({"name": "big.linkplane.test", "values": big_values}),
            "values",
        ),
        (
            "POST",
            "/cloud/v1/hosted-zones".into(),
            json!({"name": format!("{}.example", "z".repeat(300))}),
            "name",
        ),
        (
            "POST",
            "/cloud/v1/target-groups".into(),
            json!({"vpcId": vpc, "port": 80, "healthCheck": {"protocol": "HTTP", "path": format!("/{}", "p".repeat(2000)), "intervalMillis": 1000, "timeoutMillis": 500, "healthyThreshold": 2, "unhealthyThreshold": 2}}),
            "healthCheck.path",
        ),
    ];
    for (method, path, body, field) in &cases {
        let r = api.json(method, path, body).await;
        let what = format!("{method} {path} {field}");
        assert_eq!(r.status, 400, "{what}: {}", r.text);
        let fields = r.problem(&what);
        assert_eq!(fields, [*field], "{what}: {}", r.text);
        assert!(
            !r.text.contains(&format!("{}-", c.prefix)),
            "{what}: the problem names a namespace: {}",
            r.text
        );
    }

    assert_eq!(
        census(&api, &inst, &subnet).await,
        before,
        "nothing was stored"
    );
    server.abort();
}
