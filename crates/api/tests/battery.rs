//! Bad-input battery: whatever a client sends, the answer is a 4xx problem, never a 5xx,
//! and nothing is stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use reqwest::Method;
use serde_json::json;

fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    let mut v: Vec<(&'static str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("truncated", br#"{"name":"a","#.to_vec()),
        ("not json", b"name=a&type=b".to_vec()),
        ("array", b"[1,2,3]".to_vec()),
        ("null", b"null".to_vec()),
        ("number", b"42".to_vec()),
        ("string", b"\"cluster\"".to_vec()),
        ("trailing garbage", br#"{"name":"a"} {"#.to_vec()),
        (
            "invalid utf-8",
            vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
        ),
        ("raw control char", b"{\"name\":\"a\x01b\"}".to_vec()),
        ("nul byte", b"{\"name\":\"a\0b\"}".to_vec()),
        ("deep nesting", {
            let mut s = "[".repeat(10_000);
            s.push_str(&"]".repeat(10_000));
            s.into_bytes()
        }),
        ("huge number", br#"{"bgpAsn": 1e400}"#.to_vec()),
        ("bom", b"\xef\xbb\xbf{}".to_vec()),
    ];
    let huge = format!("{{\"name\":\"{}\"}}", "a".repeat(1024 * 1024 + 10));
    v.push(("over 1 MiB", huge.into_bytes()));
    v
}

/// JSON values for every string field: wrong types, unicode, control characters, SQL.
fn nasty_values() -> Vec<serde_json::Value> {
    vec![
        json!(null),
        json!(true),
        json!(12),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(u64::MAX),
        json!([]),
        json!({}),
        json!(""),
        json!(" "),
        json!("\u{0}"),
        json!("a\u{7}b"),
        json!("line\nbreak"),
        json!("\u{202e}rtl\u{202d}"),
        json!("日本語🙂\u{fe0f}"),
        json!("x".repeat(64)),
        json!("x".repeat(100_000)),
        json!("'; DROP TABLE documents; --"),
        json!("\" OR 1=1 --"),
        json!("10.0.0.0/16'; DELETE FROM tokens; --"),
        json!("../../etc/passwd"),
        json!("%00"),
        json!("<script>alert(1)</script>"),
        json!("\u{d7ff}\u{e000}\u{fffd}"),
    ]
}

#[tokio::test]
async fn malformed_bodies_are_4xx_problems_and_store_nothing() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let before = s.census().await;
    let tokens_before = s.get(&s.org_path("/api-tokens")).await.body["items"]
        .as_array()
        .unwrap()
        .len();
    let posts = [
        s.org_path("/clusters"),
        s.org_path("/deployments"),
        s.org_path("/api-tokens"),
        s.org_path(&format!("/clusters/{cl}/vpc-peering-connections")),
        s.org_path(&format!("/clusters/{cl}/routes")),
        s.org_path(&format!("/clusters/{cl}/transit-gateway-attachments")),
        s.org_path(&format!("/clusters/{cl}/outbound-endpoints")),
        s.org_path(&format!("/clusters/{cl}/vpn-connections")),
        s.org_path(&format!("/clusters/{cl}/dns-resolutions")),
    ];
    let mut checked = 0;
    for path in &posts {
        for (what, body) in bodies() {
            let r = s
                .raw(
                    Method::POST,
                    path,
                    Some(&s.token),
                    &[("content-type", "application/json")],
                    Some(body),
                )
                .await;
            assert!(
                r.status.is_client_error(),
                "{path} {what}: {} {}",
                r.status,
                r.text
            );
            r.problem(r.status.as_u16());
            if what == "over 1 MiB" {
                assert_eq!(r.status, 413, "{path}");
            }
            checked += 1;
        }
        // Not JSON at all.
        let r = s
            .raw(
                Method::POST,
                path,
                Some(&s.token),
                &[("content-type", "text/plain")],
                Some(b"{}".to_vec()),
            )
            .await;
        r.problem(415);
        let r = s
            .raw(
                Method::POST,
                path,
                Some(&s.token),
                &[],
                Some(b"{}".to_vec()),
            )
            .await;
        r.problem(415);
    }
    for (path, method) in [
        (s.org_path(&format!("/clusters/{cl}")), Method::PATCH),
        (
            s.org_path(&format!("/clusters/{cl}/private-link")),
            Method::PUT,
        ),
    ] {
        for (what, body) in bodies() {
            let r = s
                .raw(
                    method.clone(),
                    &path,
                    Some(&s.token),
                    &[("content-type", "application/json")],
                    Some(body),
                )
                .await;
            assert!(
                r.status.is_client_error(),
                "{path} {what}: {} {}",
                r.status,
                r.text
            );
            r.problem(r.status.as_u16());
        }
    }
    assert!(checked >= 9 * 15);
    assert_eq!(s.census().await, before, "nothing was stored");
    let tokens_after = s.get(&s.org_path("/api-tokens")).await.body["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(tokens_after, tokens_before);
}

#[tokio::test]
async fn nasty_field_values_are_4xx_never_5xx_and_store_nothing() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let cp = |coll: &str| s.org_path(&format!("/clusters/{cl}/{coll}"));
    // Valid bodies (except where a value is swapped in).
    let cases: Vec<(String, serde_json::Value)> = vec![
        (
            s.org_path("/clusters"),
            json!({"name":"c","cloudProvider":"AWS","type":"DEDICATED","region":"us-east-1","vpcSubnetRange":"10.50.0.0/16"}),
        ),
        (
            s.org_path("/deployments"),
            json!({"name":"d","clusterId": cl,"remoteExecution":{"enabled":true,"allowedIpAddressRanges":["203.0.113.0/24"]},"airflowApiUrl":"http://10.0.0.5:8080"}),
        ),
        (
            s.org_path("/api-tokens"),
            json!({"name":"t","role":"ORGANIZATION_MEMBER"}),
        ),
        (
            cp("vpc-peering-connections"),
            json!({"name":"p","peerAccountId":"123456789012","peerVpcId":"vpc-0a1b2c3d","peerRegion":"us-east-1","peerCidr":"10.1.0.0/16"}),
        ),
        (
            cp("transit-gateway-attachments"),
            json!({"name":"t","transitGatewayId":"tgw-0123456789abcdef0","peerAccountId":"123456789012","cidrs":["172.20.0.0/16"]}),
        ),
        (
            cp("outbound-endpoints"),
            json!({"name":"o","serviceName":"com.amazonaws.us-east-1.sqs","type":"INTERFACE","privateDnsEnabled":true}),
        ),
        (
            cp("vpn-connections"),
            json!({"name":"v","gatewayIps":["203.0.113.10"],"preSharedKey":"Abcdefgh12","bgpAsn":65000,"insideCidr":"169.254.10.0/30"}),
        ),
        (
            cp("dns-resolutions"),
            json!({"name":"d","kind":"PRIVATE_ZONE","domain":"corp.example.com","records":[{"name":"db","type":"A","value":"10.1.1.1","ttl":60}]}),
        ),
    ];
    let before = s.census().await;
    let mut sent = 0;
    for (path, valid) in &cases {
        let obj = valid.as_object().unwrap();
        for field in obj.keys() {
            for v in nasty_values() {
                let mut body = valid.clone();
                body[field] = v.clone();
                if body == *valid {
                    continue;
                }
                let r = s.post(path, body.clone()).await;
                let code = r.status.as_u16();
                assert!(code < 500, "{path} {field}={v}: {code} {}", r.text);
                if (400..500).contains(&code) {
                    r.problem(code);
                    sent += 1;
                } else {
                    // Some values are valid for some fields (e.g. any text is a name): then
                    // the create worked; undo it so the census stays comparable.
                    assert_eq!(code, 201, "{path} {field}={v}: {}", r.text);
                    let loc = r.header("location").unwrap();
                    let d = s.call(Method::DELETE, &loc, &s.token.clone(), None).await;
                    assert!(
                        d.status.as_u16() == 204 || d.status.as_u16() == 200,
                        "{loc}: {}",
                        d.text
                    );
                }
            }
            // Unknown sibling fields are 400 naming the field.
            let mut extra = valid.clone();
            extra["sqlInjection' --"] = json!(1);
            let r = s.post(path, extra).await;
            assert_eq!(r.problem(400), ["sqlInjection' --"], "{path}");
        }
    }
    assert!(sent > 300, "{sent}");
    let mut after = s.census().await;
    // API tokens are not documents; revoked test tokens may remain listed but the census
    // of resources must be unchanged.
    after.retain(|(k, _)| *k != linkplane_model::ResourceKind::ApiToken);
    let mut before = before;
    before.retain(|(k, _)| *k != linkplane_model::ResourceKind::ApiToken);
    assert_eq!(after, before, "nothing was stored");
}

#[tokio::test]
async fn nasty_paths_queries_and_headers_are_4xx() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    for path in [
        "/v1/organizations/%00/clusters".to_owned(),
        "/v1/organizations/'%20OR%201=1/clusters".to_owned(),
        format!("/v1/organizations/{}/clusters/%FF%FE", s.org),
        format!("/v1/organizations/{}/clusters/{}", s.org, "a".repeat(5000)),
        format!(
            "/v1/organizations/{}/clusters/{cl}/routes/..%2F..%2Fx",
            s.org
        ),
        format!("/v1/organizations/{}/clusters?limit=-1", s.org),
        format!(
            "/v1/organizations/{}/clusters?limit=99999999999999999999",
            s.org
        ),
        format!(
            "/v1/organizations/{}/clusters?cursor=%27%20OR%201%3D1",
            s.org
        ),
        "/v1/nope".to_owned(),
        "/v2/organizations".to_owned(),
    ] {
        let r = s.get(&path).await;
        assert!(
            r.status.is_client_error(),
            "{path}: {} {}",
            r.status,
            r.text
        );
        r.problem(r.status.as_u16());
    }
    for auth in ["Bearer", "Bearer ", "bearer x y z", "Bearer é", "Token abc"] {
        let r = s
            .raw(
                Method::GET,
                &s.org_path("/clusters"),
                None,
                &[("authorization", auth)],
                None,
            )
            .await;
        r.problem(401);
    }
    let r = s
        .raw(
            Method::POST,
            &s.org_path("/clusters"),
            Some(&s.token),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", &"k".repeat(300)),
            ],
            Some(b"{}".to_vec()),
        )
        .await;
    assert_eq!(r.problem(400), ["Idempotency-Key"]);
    let r = s
        .raw(
            Method::DELETE,
            &s.org_path(&format!("/clusters/{cl}")),
            Some(&s.token),
            &[("if-match", "\"nope")],
            None,
        )
        .await;
    assert_eq!(r.problem(400), ["If-Match"]);
    assert_eq!(
        s.get(&s.org_path(&format!("/clusters/{cl}"))).await.status,
        200
    );
}

/// What an outside battery found: arrays read by position, leading-zero octets rewritten,
/// resolver targets nobody can reach. Each is a 4xx naming the field, and nothing is stored.
#[tokio::test]
async fn wrong_shapes_leading_zeros_and_unusable_targets_are_4xx_naming_the_field() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let cp = |coll: &str| s.org_path(&format!("/clusters/{cl}/{coll}"));
    let before = s.census().await;
    let tokens_before = s.get(&s.org_path("/api-tokens")).await.body["items"]
        .as_array()
        .unwrap()
        .len();
    let dns = |targets: serde_json::Value| json!({"name":"d","kind":"FORWARDING","domain":"corp.example.com","targets": targets});
    let cases: Vec<(Method, String, serde_json::Value, &str)> = vec![
        // An array where an object is required (was 201, read by position).
        (
            Method::POST,
            s.org_path("/api-tokens"),
            json!(["t", "ORGANIZATION_MEMBER"]),
            "body",
        ),
        (
            Method::POST,
            s.org_path("/clusters"),
            json!(["c", "AWS", "DEDICATED", "us-east-1", "10.50.0.0/16"]),
            "body",
        ),
        (
            Method::POST,
            s.org_path("/deployments"),
            json!({"name":"d","clusterId": cl,"remoteExecution":[true,["203.0.113.0/24"]]}),
            "remoteExecution",
        ),
        (
            Method::PATCH,
            s.org_path(&format!("/clusters/{cl}")),
            json!(["renamed", true]),
            "body",
        ),
        (
            Method::PUT,
            s.org_path(&format!("/clusters/{cl}/private-link")),
            json!([["*"], [], true]),
            "body",
        ),
        (
            Method::POST,
            cp("dns-resolutions"),
            json!({"name":"d","kind":"PRIVATE_ZONE","domain":"corp.example.com","records":[["db","A","10.1.1.1",60]]}),
            "records[0]",
        ),
        // Leading-zero octets (were accepted and rewritten) in every CIDR and IP field.
        (
            Method::POST,
            s.org_path("/clusters"),
            json!({"name":"c2","cloudProvider":"AWS","type":"DEDICATED","region":"us-east-1","vpcSubnetRange":"010.077.000.000/16"}),
            "vpcSubnetRange",
        ),
        (
            Method::POST,
            s.org_path("/deployments"),
            json!({"name":"d","clusterId": cl,"remoteExecution":{"enabled":true,"allowedIpAddressRanges":["203.0.113.0/24","010.0.0.0/8"]}}),
            "remoteExecution.allowedIpAddressRanges[1]",
        ),
        (
            Method::POST,
            cp("vpc-peering-connections"),
            common::peering_body("010.1.0.0/16"),
            "peerCidr",
        ),
        (
            Method::POST,
            cp("routes"),
            json!({"name":"r","destinationCidr":"0172.16.0.0/12","targetId":"pcx0000000000000000"}),
            "destinationCidr",
        ),
        (
            Method::POST,
            cp("transit-gateway-attachments"),
            json!({"name":"t","transitGatewayId":"tgw-0123456789abcdef0","peerAccountId":"123456789012","cidrs":["172.020.0.0/16"]}),
            "cidrs[0]",
        ),
        (
            Method::POST,
            cp("vpn-connections"),
            json!({"name":"v","gatewayIps":["203.0.113.10"],"preSharedKey":"Abcdefgh12","bgpAsn":65000,"insideCidr":"169.254.010.0/30"}),
            "insideCidr",
        ),
        (
            Method::POST,
            cp("vpn-connections"),
            json!({"name":"v","gatewayIps":["203.0.113.010"],"preSharedKey":"Abcdefgh12","bgpAsn":65000}),
            "gatewayIps[0]",
        ),
        (
            Method::POST,
            cp("dns-resolutions"),
            json!({"name":"d","kind":"PRIVATE_ZONE","domain":"corp.example.com","records":[{"name":"db","type":"A","value":"010.1.1.1"}]}),
            "records[0].value",
        ),
        // Forwarding targets nobody can answer from.
        (
            Method::POST,
            cp("dns-resolutions"),
            dns(json!(["0.0.0.0"])),
            "targets[0]",
        ),
        (
            Method::POST,
            cp("dns-resolutions"),
            dns(json!(["10.1.1.1", "224.0.0.251:53"])),
            "targets[1]",
        ),
        (
            Method::POST,
            cp("dns-resolutions"),
            dns(json!(["255.255.255.255"])),
            "targets[0]",
        ),
        (
            Method::POST,
            cp("dns-resolutions"),
            dns(json!(["10.1.1.1:0"])),
            "targets[0]",
        ),
        (
            Method::POST,
            cp("dns-resolutions"),
            dns(json!(["010.1.1.1"])),
            "targets[0]",
        ),
    ];
    for (method, path, body, field) in &cases {
        let r = s
            .call(method.clone(), path, &s.token.clone(), Some(body.clone()))
            .await;
        let code = r.status.as_u16();
        assert!(
            code == 400 || code == 422,
            "{method} {path} {field}: {code} {}",
            r.text
        );
        let fields = r.problem(code);
        assert!(
            fields.iter().any(|f| f == field),
            "{method} {path}: expected {field} in {fields:?}: {}",
            r.text
        );
    }
    assert_eq!(s.census().await, before, "nothing was stored");
    let tokens_after = s.get(&s.org_path("/api-tokens")).await.body["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(tokens_after, tokens_before, "no token was created");
}

/// 200 concurrent retries with one Idempotency-Key, on every kind of create: one
/// resource, and every answer is the first one (201), replayed — never a 409 "in progress"
/// or a 422 "already exists".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_with_one_key_all_get_the_replay() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let http = reqwest::Client::new();
    for (path, body, kind) in [
        (
            s.org_path("/clusters"),
            json!({"name":"prod","cloudProvider":"AWS","type":"DEDICATED","region":"us-east-1","vpcSubnetRange":"10.60.0.0/16"}),
            Some(linkplane_model::ResourceKind::Cluster),
        ),
        (
            s.org_path("/deployments"),
            json!({"name":"d","clusterId": cl}),
            Some(linkplane_model::ResourceKind::Deployment),
        ),
        (
            s.org_path("/api-tokens"),
            json!({"name":"ci","role":"ORGANIZATION_MEMBER"}),
            None,
        ),
        (
            s.org_path(&format!("/clusters/{cl}/vpc-peering-connections")),
            common::peering_body("10.20.0.0/16"),
            Some(linkplane_model::ResourceKind::VpcPeeringConnection),
        ),
    ] {
        let before = s.census().await;
        let url = format!("{}{path}", s.base);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let (http, url, token, body) =
                (http.clone(), url.clone(), s.token.clone(), body.clone());
            set.spawn(async move {
                let r = http
                    .post(&url)
                    .bearer_auth(token)
                    .header("idempotency-key", "retry-1")
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let replayed = r.headers().contains_key("idempotent-replayed");
                let v: serde_json::Value = r.json().await.unwrap();
                (status, replayed, v["id"].as_str().map(str::to_owned), v)
            });
        }
        let results = tokio::time::timeout(std::time::Duration::from_secs(120), set.join_all())
            .await
            .expect("200 retries finished in time");
        let bad: Vec<_> = results
            .iter()
            .filter(|(st, ..)| *st != 201)
            .map(|(st, _, _, v)| (st, v))
            .collect();
        assert!(
            bad.is_empty(),
            "{path}: not the replay: {} of 200: {bad:?}",
            bad.len()
        );
        let ids: std::collections::BTreeSet<_> =
            results.iter().map(|(_, _, id, _)| id.clone()).collect();
        assert_eq!(ids.len(), 1, "{path}: one resource: {ids:?}");
        assert_eq!(
            results.iter().filter(|(_, replayed, ..)| !replayed).count(),
            1,
            "{path}"
        );
        if let Some(kind) = kind {
            let count = |c: &[(linkplane_model::ResourceKind, usize)]| {
                c.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n)
            };
            assert_eq!(count(&s.census().await), count(&before) + 1, "{path}");
        }
    }
}
