//! The /v1 API over real HTTP: auth, organizations, roles, validation, idempotency, ETags,
//! pagination, tokens, agents, status machines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, peering_body};
use linkplane_model::ResourceKind;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn health_openapi_and_docs_need_no_token() {
    let s = Server::start().await;
    s.raw(Method::GET, "/healthz", None, &[], None)
        .await
        .ok(200);
    let doc = s.raw(Method::GET, "/openapi.json", None, &[], None).await;
    let doc = doc.ok(200).clone();
    let text = doc.to_string();
    // Every $ref resolves.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for r in text.split("#/components/schemas/").skip(1) {
        let name: String = r.chars().take_while(|c| *c != '"').collect();
        assert!(schemas.contains_key(&name), "dangling $ref {name}");
    }
    // Every path of issue 2 item 6.
    let paths = doc["paths"].as_object().unwrap();
    let o = "/v1/organizations/{organizationId}";
    let c = format!("{o}/clusters/{{clusterId}}");
    let mut want = vec![
        "/healthz".to_owned(),
        "/v1/organizations".to_owned(),
        format!("{o}/clusters"),
        c.clone(),
        format!("{o}/deployments"),
        format!("{o}/deployments/{{deploymentId}}"),
        format!("{o}/deployments/{{deploymentId}}/agent-tokens"),
        format!("{o}/deployments/{{deploymentId}}/agent-tokens/{{tokenId}}"),
        format!("{o}/deployments/{{deploymentId}}/agents"),
        format!("{c}/private-link"),
        format!("{c}/private-link/connections"),
        format!("{c}/private-link/connections/{{endpointId}}/accept"),
        format!("{c}/private-link/connections/{{endpointId}}/reject"),
        format!("{o}/api-tokens"),
        format!("{o}/api-tokens/{{tokenId}}"),
    ];
    for coll in [
        "vpc-peering-connections",
        "routes",
        "transit-gateway-attachments",
        "outbound-endpoints",
        "vpn-connections",
        "dns-resolutions",
    ] {
        want.push(format!("{c}/{coll}"));
        want.push(format!("{c}/{coll}/{{id}}"));
    }
    for p in want {
        assert!(paths.contains_key(&p), "missing path {p}");
    }
    assert!(schemas.contains_key("Problem") && schemas.contains_key("VpcPeeringConnection"));
    let ui = s.raw(Method::GET, "/docs/", None, &[], None).await;
    assert_eq!(ui.status, 200);
    assert!(
        ui.text.contains("swagger"),
        "Swagger UI served from vendored assets"
    );
}

#[tokio::test]
async fn missing_bad_and_revoked_tokens_are_401() {
    let s = Server::start().await;
    let path = s.org_path("/clusters");
    s.raw(Method::GET, &path, None, &[], None)
        .await
        .problem(401);
    let r = s
        .raw(
            Method::GET,
            &path,
            None,
            &[("authorization", "Basic abc")],
            None,
        )
        .await;
    r.problem(401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    s.raw(Method::GET, &path, Some("lpat_wrong"), &[], None)
        .await
        .problem(401);
    let member = s.token_with_role("ORGANIZATION_MEMBER").await;
    s.call(Method::GET, &path, &member, None).await.ok(200);
    let list = s.get(&s.org_path("/api-tokens")).await;
    let id = list.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["role"] == "ORGANIZATION_MEMBER")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = s
        .call(
            Method::DELETE,
            &s.org_path(&format!("/api-tokens/{id}")),
            &s.token.clone(),
            None,
        )
        .await;
    assert!(revoked.ok(200)["revokedAt"].is_string());
    s.call(Method::GET, &path, &member, None).await.problem(401);
}

#[tokio::test]
async fn another_organizations_resources_are_404_never_403() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let (other_org, other_token) = s.other_org().await;
    // Their token on our paths.
    for path in [
        s.org_path(""),
        s.org_path("/clusters"),
        s.org_path(&format!("/clusters/{cl}")),
        s.org_path(&format!("/clusters/{cl}/vpc-peering-connections")),
    ] {
        s.call(Method::GET, &path, &other_token, None)
            .await
            .problem(404);
    }
    s.call(
        Method::DELETE,
        &s.org_path(&format!("/clusters/{cl}")),
        &other_token,
        None,
    )
    .await
    .problem(404);
    // Our cluster id under their organization.
    let theirs = format!("/v1/organizations/{other_org}/clusters/{cl}");
    s.call(Method::GET, &theirs, &other_token, None)
        .await
        .problem(404);
    let r = s
        .call(
            Method::POST,
            &format!("{theirs}/vpc-peering-connections"),
            &other_token,
            Some(peering_body("10.1.0.0/16")),
        )
        .await;
    r.problem(404);
    // They see only their organization.
    let orgs = s
        .call(Method::GET, "/v1/organizations", &other_token, None)
        .await;
    let items = orgs.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], other_org);
    // A deployment cannot point at another organization's cluster.
    let r = s
        .call(
            Method::POST,
            &format!("/v1/organizations/{other_org}/deployments"),
            &other_token,
            Some(json!({"name": "d", "clusterId": cl})),
        )
        .await;
    assert_eq!(r.problem(422), ["clusterId"]);
}

#[tokio::test]
async fn members_read_but_network_changes_need_owners() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let member = s.token_with_role("ORGANIZATION_MEMBER").await;
    let m = |method, path: String, body| {
        let member = member.clone();
        let s = &s;
        async move { s.call(method, &path, &member, body).await }
    };
    m(Method::GET, s.org_path(&format!("/clusters/{cl}")), None)
        .await
        .ok(200);
    m(
        Method::GET,
        s.org_path(&format!("/clusters/{cl}/outbound-endpoints")),
        None,
    )
    .await
    .ok(200);
    let forbidden = [
        (
            Method::POST,
            s.org_path("/clusters"),
            Some(
                json!({"name":"x","cloudProvider":"AWS","type":"STANDARD","region":"us-east-1","vpcSubnetRange":"10.9.0.0/16"}),
            ),
        ),
        (
            Method::POST,
            s.org_path(&format!("/clusters/{cl}/vpc-peering-connections")),
            Some(peering_body("10.1.0.0/16")),
        ),
        (
            Method::PUT,
            s.org_path(&format!("/clusters/{cl}/private-link")),
            Some(json!({"allowedPrincipals":["*"]})),
        ),
        (
            Method::PATCH,
            s.org_path(&format!("/clusters/{cl}")),
            Some(json!({"name":"y"})),
        ),
        (Method::DELETE, s.org_path(&format!("/clusters/{cl}")), None),
        (
            Method::POST,
            s.org_path("/api-tokens"),
            Some(json!({"name":"x","role":"ORGANIZATION_OWNER"})),
        ),
    ];
    for (method, path, body) in forbidden {
        let r = m(method.clone(), path.clone(), body).await;
        r.problem(403);
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("ORGANIZATION_OWNER")
        );
    }
    assert_eq!(
        s.store()
            .list_kind(ResourceKind::VpcPeeringConnection)
            .await
            .unwrap()
            .len(),
        0
    );
    // Members may manage deployments and agent tokens.
    let d = m(
        Method::POST,
        s.org_path("/deployments"),
        Some(json!({"name":"etl","clusterId": cl})),
    )
    .await;
    let dep = d.ok(201)["id"].as_str().unwrap().to_owned();
    m(
        Method::POST,
        s.org_path(&format!("/deployments/{dep}/agent-tokens")),
        Some(json!({"name": "a"})),
    )
    .await
    .ok(201);
}

#[tokio::test]
async fn validation_is_400_for_shape_and_422_for_rules_naming_fields() {
    let s = Server::start().await;
    let path = s.org_path("/clusters");
    let r = s
        .post(&path, json!({"name":"a","cloudProvider":"AWS","type":"DEDICATED","region":"us-east-1","vpcSubnetRange":"10.0.0.0/16","colour":"red"}))
        .await;
    assert_eq!(r.problem(400), ["colour"]);
    let r = s
        .post(&path, json!({"name":"a","cloudProvider":"AWS","type":"DEDICATED","region":"us-east-1","vpcSubnetRange":16}))
        .await;
    assert_eq!(r.problem(400), ["vpcSubnetRange"]);
    let r = s
        .post(&path, json!({"name":"a","cloudProvider":"GCP","type":"DEDICATED","region":"us-east-1","vpcSubnetRange":"10.0.0.0/16"}))
        .await;
    assert_eq!(r.problem(400), ["cloudProvider"]);
    let r = s
        .post(&path, json!({"cloudProvider":"AWS","type":"DEDICATED","region":"us-east-1","vpcSubnetRange":"10.0.0.0/16"}))
        .await;
    assert_eq!(r.problem(400), ["name"]);
    let r = s
        .post(&path, json!({"name":"","cloudProvider":"AWS","type":"DEDICATED","region":"eastus","vpcSubnetRange":"8.8.0.0/16"}))
        .await;
    assert_eq!(r.problem(422), ["name", "region", "vpcSubnetRange"]);
    let r = s
        .post(&path, json!({"name":"a","cloudProvider":"AWS","type":"DEDICATED","region":"us-east-1","vpcSubnetRange":"10.0.0.0/12"}))
        .await;
    assert_eq!(r.problem(422), ["vpcSubnetRange"]);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("/16 and /28")
    );

    // "This connection option is only available for dedicated Astro Hosted clusters"
    let std = s.cluster("STANDARD", "10.0.0.0/16").await;
    let cpath = |c: &str, coll: &str| s.org_path(&format!("/clusters/{c}/{coll}"));
    for (coll, body) in [
        ("vpc-peering-connections", peering_body("10.1.0.0/16")),
        (
            "transit-gateway-attachments",
            json!({"name":"t","transitGatewayId":"tgw-0123456789abcdef0","peerAccountId":"123456789012","cidrs":["172.20.0.0/16"]}),
        ),
        (
            "vpn-connections",
            json!({"name":"v","gatewayIps":["203.0.113.10"],"preSharedKey":"Abcdefgh12","bgpAsn":65000}),
        ),
        (
            "outbound-endpoints",
            json!({"name":"o","serviceName":"com.amazonaws.us-east-1.sqs"}),
        ),
    ] {
        let r = s.post(&cpath(&std, coll), body).await;
        assert_eq!(r.problem(422), ["clusterId"], "{coll}");
        assert!(
            r.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("only available for dedicated clusters"),
            "{}",
            r.text
        );
    }

    let ded = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let pc = cpath(&ded, "vpc-peering-connections");
    assert_eq!(
        s.post(&pc, peering_body("10.0.1.0/24")).await.problem(422),
        ["peerCidr"]
    );
    let first = s.post(&pc, peering_body("10.1.0.0/16")).await;
    let first_id = first.ok(201)["id"].as_str().unwrap().to_owned();
    assert_eq!(first.body["status"], "PENDING");
    let r = s.post(&pc, peering_body("10.1.128.0/17")).await;
    assert_eq!(r.problem(422), ["peerCidr"]);
    assert!(r.text.contains(&first_id));
    // Routes need an existing connection of the same cluster.
    let rt = cpath(&ded, "routes");
    let r = s
        .post(
            &rt,
            json!({"name":"r","destinationCidr":"10.1.5.0/24","targetId":"pcxaaaaaaaaaaaaaaaa"}),
        )
        .await;
    assert_eq!(r.problem(422), ["targetId"]);
    // … of this cluster: another cluster's connection is not a target here.
    let other = s.cluster("DEDICATED", "10.50.0.0/16").await;
    let theirs = s
        .post(
            &cpath(&other, "vpc-peering-connections"),
            peering_body("10.1.0.0/16"),
        )
        .await;
    let theirs_id = theirs.ok(201)["id"].as_str().unwrap().to_owned();
    let r = s
        .post(
            &rt,
            json!({"name":"r","destinationCidr":"10.1.5.0/24","targetId": theirs_id}),
        )
        .await;
    assert_eq!(r.problem(422), ["targetId"]);
    assert!(r.text.contains(&theirs_id), "{}", r.text);
    let route = s
        .post(
            &rt,
            json!({"name":"r","destinationCidr":"10.1.5.0/24","targetId": first_id}),
        )
        .await;
    let route_id = route.ok(201)["id"].as_str().unwrap().to_owned();
    // … and a connection: a route is not a target.
    let r = s
        .post(
            &rt,
            json!({"name":"r3","destinationCidr":"10.1.6.0/24","targetId": route_id}),
        )
        .await;
    assert_eq!(r.problem(422), ["targetId"]);
    // Routes go with their connection (issue 7: "removed with their connection"); a stale
    // If-Match refuses first and touches nothing.
    let second = s.post(&pc, peering_body("10.2.0.0/16")).await;
    let second_id = second.ok(201)["id"].as_str().unwrap().to_owned();
    let route = s
        .post(
            &rt,
            json!({"name":"r2","destinationCidr":"10.2.5.0/24","targetId": second_id}),
        )
        .await;
    let route_id = route.ok(201)["id"].as_str().unwrap().to_owned();
    let token = s.token.clone();
    let stale_etag = format!("\"{second_id}-g99\"");
    let stale = s
        .raw(
            Method::DELETE,
            &format!("{pc}/{second_id}"),
            Some(&token),
            &[("if-match", &stale_etag)],
            None,
        )
        .await;
    stale.problem(412);
    s.get(&format!("{rt}/{route_id}")).await.ok(200);
    let del = s
        .call(Method::DELETE, &format!("{pc}/{second_id}"), &token, None)
        .await;
    assert!(del.status.is_success(), "{}", del.text);
    s.get(&format!("{rt}/{route_id}")).await.problem(404);
    s.get(&format!("{pc}/{second_id}")).await.problem(404);
    // VPN rules and secrecy.
    let vpn = cpath(&ded, "vpn-connections");
    let r = s
        .post(&vpn, json!({"name":"v","gatewayIps":["10.0.0.1","203.0.113.10","203.0.113.11"],"preSharedKey":"0secret","bgpAsn":7224,"insideCidr":"169.254.169.252/30"}))
        .await;
    assert_eq!(
        r.problem(422),
        [
            "gatewayIps",
            "gatewayIps[0]",
            "preSharedKey",
            "bgpAsn",
            "insideCidr"
        ]
    );
    assert!(!r.text.contains("0secret"), "the PSK is never echoed");
    let ok = s
        .post(&vpn, json!({"name":"v","gatewayIps":["203.0.113.10"],"preSharedKey":"TopSecret_42","staticPrefixes":["172.30.0.0/16"],"insideCidr":"169.254.10.0/30"}))
        .await;
    let vid = ok.ok(201)["id"].as_str().unwrap().to_owned();
    assert!(!ok.text.contains("TopSecret_42"));
    assert!(ok.body.get("preSharedKey").is_none());
    let got = s.get(&format!("{vpn}/{vid}")).await;
    assert!(!got.text.contains("TopSecret_42"));
    // ... but the reconciler can read it.
    let secret = s
        .store()
        .get_secret(&s.org.parse().unwrap(), &vid.parse().unwrap())
        .await
        .unwrap()
        .expect("the connection has its secret");
    assert_eq!(
        linkplane_store::ExposeSecret::expose_secret(&secret),
        "TopSecret_42"
    );
    // Static VPN prefixes are connection CIDRs too.
    let r = s.post(&pc, peering_body("172.30.1.0/24")).await;
    assert_eq!(r.problem(422), ["peerCidr"]);
    // DNS.
    let dns = cpath(&ded, "dns-resolutions");
    let r = s
        .post(&dns, json!({"name":"d","kind":"PRIVATE_ZONE","domain":"corp..example","records":[{"name":"db","type":"A","value":"fd00::1"}]}))
        .await;
    assert_eq!(r.problem(422), ["domain", "records[0].value"]);
    s.post(&dns, json!({"name":"d","kind":"FORWARDING","domain":"corp.example.com","targets":["10.20.0.2:53"]}))
        .await
        .ok(201);
    let dup = s
        .post(&dns, json!({"name":"d2","kind":"FORWARDING","domain":"corp.example.com","targets":["10.20.0.3"]}))
        .await;
    dup.problem(409);
}

#[tokio::test]
async fn aws_clusters_list_the_preconfigured_outbound_endpoints() {
    let s = Server::start().await;
    let cl = s.cluster("STANDARD", "10.0.0.0/16").await;
    let r = s
        .get(&s.org_path(&format!("/clusters/{cl}/outbound-endpoints")))
        .await;
    let items = r.ok(200)["items"].as_array().unwrap().clone();
    let names: Vec<&str> = items
        .iter()
        .map(|i| i["serviceName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "com.amazonaws.us-east-1.s3",
            "com.amazonaws.us-east-1.autoscaling",
            "com.amazonaws.us-east-1.ecr.api",
            "com.amazonaws.us-east-1.ecr.dkr",
            "com.amazonaws.us-east-1.elasticloadbalancing",
            "com.amazonaws.us-east-1.sts",
        ]
    );
    assert_eq!(items[0]["type"], "GATEWAY");
    assert!(
        items
            .iter()
            .all(|i| i["preconfigured"] == true && i["clusterId"] == cl)
    );
    let id = items[0]["id"].as_str().unwrap();
    s.call(
        Method::DELETE,
        &s.org_path(&format!("/clusters/{cl}/outbound-endpoints/{id}")),
        &s.token.clone(),
        None,
    )
    .await
    .problem(409);
    // Deleting the cluster takes them along.
    let r = s
        .call(
            Method::DELETE,
            &s.org_path(&format!("/clusters/{cl}")),
            &s.token.clone(),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert!(
        s.store()
            .list_kind(ResourceKind::OutboundEndpoint)
            .await
            .unwrap()
            .is_empty()
    );
    s.get(&s.org_path(&format!("/clusters/{cl}")))
        .await
        .problem(404);
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_result_and_create_nothing() {
    let s = Server::start().await;
    let path = s.org_path("/clusters");
    let body = json!({"name":"prod","cloudProvider":"LOCAL","type":"DEDICATED","region":"us-east-1","vpcSubnetRange":"10.0.0.0/16"});
    let bytes = serde_json::to_vec(&body).unwrap();
    let send = |key: &'static str, b: Vec<u8>| {
        let s = &s;
        let path = path.clone();
        async move {
            s.raw(
                Method::POST,
                &path,
                Some(&s.token),
                &[
                    ("content-type", "application/json"),
                    ("idempotency-key", key),
                ],
                Some(b),
            )
            .await
        }
    };
    let a = send("key-1", bytes.clone()).await;
    let id = a.ok(201)["id"].clone();
    let b = send("key-1", bytes.clone()).await;
    assert_eq!(b.ok(201)["id"], id);
    assert_eq!(b.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(a.body, b.body);
    let list = s.get(&path).await;
    assert_eq!(list.ok(200)["items"].as_array().unwrap().len(), 1);
    // Same key, different body: refused, nothing created.
    let mut other = body.clone();
    other["name"] = json!("other");
    let c = send("key-1", serde_json::to_vec(&other).unwrap()).await;
    assert_eq!(c.problem(422), ["Idempotency-Key"]);
    // A new key creates.
    send("key-2", bytes.clone()).await.ok(201);
    assert_eq!(
        s.get(&path).await.body["items"].as_array().unwrap().len(),
        2
    );
    // Concurrent retries with one key create one resource.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let base = s.base.clone();
        let token = s.token.clone();
        let path = path.clone();
        let bytes = bytes.clone();
        set.spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}{path}"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .header("idempotency-key", "race")
                .body(bytes)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut codes = vec![];
    while let Some(c) = set.join_next().await {
        codes.push(c.unwrap());
    }
    assert!(codes.iter().all(|c| *c == 201 || *c == 409), "{codes:?}");
    assert_eq!(
        s.get(&path).await.body["items"].as_array().unwrap().len(),
        3
    );
    // Bad keys are 400.
    send("", bytes.clone()).await.problem(400);
    // Token creation replays without the secret.
    let tk = |key: &'static str| {
        let s = &s;
        async move {
            s.raw(
                Method::POST,
                &s.org_path("/api-tokens"),
                Some(&s.token),
                &[
                    ("content-type", "application/json"),
                    ("idempotency-key", key),
                ],
                Some(br#"{"name":"ci","role":"ORGANIZATION_MEMBER"}"#.to_vec()),
            )
            .await
        }
    };
    let first = tk("tok").await;
    assert!(first.ok(201)["token"].is_string());
    let again = tk("tok").await;
    assert_eq!(again.ok(201)["id"], first.body["id"]);
    assert!(
        again.body.get("token").is_none(),
        "the secret is shown once"
    );
}

#[tokio::test]
async fn etags_and_if_match() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let path = s.org_path(&format!("/clusters/{cl}"));
    let g = s.get(&path).await;
    let etag = g.header("etag").unwrap();
    assert_eq!(etag, format!("\"{cl}-g1\""));
    let patch = |if_match: &str, name: &str| {
        let s = &s;
        let path = path.clone();
        let hdr = if_match.to_owned();
        let body = serde_json::to_vec(&json!({"name": name})).unwrap();
        async move {
            s.raw(
                Method::PATCH,
                &path,
                Some(&s.token),
                &[("content-type", "application/json"), ("if-match", &hdr)],
                Some(body),
            )
            .await
        }
    };
    let u = patch(&etag, "renamed").await;
    assert_eq!(u.ok(200)["name"], "renamed");
    assert_eq!(u.body["generation"], 2);
    let new_etag = u.header("etag").unwrap();
    assert_ne!(new_etag, etag);
    patch(&etag, "stale").await.problem(412);
    patch("garbage", "x").await.problem(400);
    patch("*", "any").await.ok(200);
    assert_eq!(s.get(&path).await.body["name"], "any");
    // Without If-Match, concurrent writers all succeed (last writer wins), each bumping
    // the generation once.
    let before = s.get(&path).await.body["generation"].as_i64().unwrap();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..4 {
        let (base, token, path) = (s.base.clone(), s.token.clone(), path.clone());
        set.spawn(async move {
            reqwest::Client::new()
                .patch(format!("{base}{path}"))
                .bearer_auth(token)
                .json(&json!({"name": format!("w{i}")}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    while let Some(code) = set.join_next().await {
        assert_eq!(code.unwrap(), 200);
    }
    let after = s.get(&path).await.body["generation"].as_i64().unwrap();
    assert_eq!(after, before + 4);
    assert_ne!(s.get(&path).await.header("etag").unwrap(), new_etag);
    // Stale delete is refused too.
    let d = s
        .raw(
            Method::DELETE,
            &path,
            Some(&s.token),
            &[("if-match", &new_etag)],
            None,
        )
        .await;
    d.problem(412);
    assert_eq!(s.get(&path).await.status, 200);
    // Private link PUT honours If-Match on replace.
    let pl = format!("{path}/private-link");
    s.get(&pl).await.problem(404);
    let put = s
        .call(Method::PUT, &pl, &s.token.clone(), Some(json!({"allowedPrincipals":["arn:aws:iam::123456789012:root"],"regions":["us-west-2"]})))
        .await;
    let v = put.ok(201).clone();
    // No provider runs here: the name is not invented, it is null and the answer says why.
    assert_eq!(v["serviceName"], serde_json::Value::Null, "{v}");
    assert_eq!(
        v["serviceNameReason"],
        "the endpoint service is not provisioned yet (status PENDING); its name appears here when the provider runs it"
    );
    assert_eq!(
        v["availabilityZones"],
        json!(["us-east-1a", "us-east-1b", "us-east-1c"])
    );
    let pl_etag = put.header("etag").unwrap();
    let body = serde_json::to_vec(&json!({"allowedPrincipals":["*"],"autoAccept":true})).unwrap();
    let r = s
        .raw(
            Method::PUT,
            &pl,
            Some(&s.token),
            &[("content-type", "application/json"), ("if-match", &pl_etag)],
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.ok(200)["autoAccept"], true);
    let r = s
        .raw(
            Method::PUT,
            &pl,
            Some(&s.token),
            &[("content-type", "application/json"), ("if-match", &pl_etag)],
            Some(body),
        )
        .await;
    r.problem(412);
}

#[tokio::test]
async fn lists_paginate_with_cursors() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    for i in 0..5 {
        s.post(
            &s.org_path("/deployments"),
            json!({"name": format!("d{i}"), "clusterId": cl}),
        )
        .await
        .ok(201);
    }
    let mut names = vec![];
    let mut url = s.org_path("/deployments?limit=2");
    loop {
        let r = s.get(&url).await;
        let b = r.ok(200).clone();
        assert!(b["items"].as_array().unwrap().len() <= 2);
        names.extend(
            b["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_owned()),
        );
        match b["nextCursor"].as_str() {
            Some(c) => url = s.org_path(&format!("/deployments?limit=2&cursor={c}")),
            None => break,
        }
    }
    assert_eq!(names, ["d0", "d1", "d2", "d3", "d4"]);
    assert_eq!(
        s.get(&s.org_path("/deployments?limit=0"))
            .await
            .problem(400),
        ["limit"]
    );
    assert_eq!(
        s.get(&s.org_path("/deployments?cursor=xyz"))
            .await
            .problem(400),
        ["cursor"]
    );
    s.get(&s.org_path("/deployments?limit=abc"))
        .await
        .problem(400);
    s.get(&s.org_path("/deployments?sort=name"))
        .await
        .problem(400);
    // Deployments carry their API URL behind the cluster's host name.
    let d = s.get(&s.org_path("/deployments?limit=1")).await;
    let url = d.body["items"][0]["apiUrl"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("https://{cl}.external.linkplane.test/dep")),
        "{url}"
    );
    // A cluster with deployments cannot be deleted.
    let r = s
        .call(
            Method::DELETE,
            &s.org_path(&format!("/clusters/{cl}")),
            &s.token.clone(),
            None,
        )
        .await;
    r.problem(409);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("5 deployment(s)")
    );
}

#[tokio::test]
async fn agent_tokens_are_shown_once_hashed_and_limited_to_50() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let dep = s
        .post(
            &s.org_path("/deployments"),
            json!({"name":"etl","clusterId": cl}),
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tp = s.org_path(&format!("/deployments/{dep}/agent-tokens"));
    let mut secrets = vec![];
    for i in 0..50 {
        let r = s.post(&tp, json!({"name": format!("a{i}")})).await;
        secrets.push(r.ok(201)["token"].as_str().unwrap().to_owned());
    }
    let r = s.post(&tp, json!({"name": "a50"})).await;
    r.problem(409);
    assert!(r.body["detail"].as_str().unwrap().contains("50"));
    let list = s.get(&format!("{tp}?limit=100")).await;
    let items = list.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 50);
    assert!(!list.text.contains(&secrets[0]), "secrets are never listed");
    // Only hashes are stored.
    let db = std::fs::read(s.dir.path().join("linkplane.db")).unwrap();
    let wal = std::fs::read(s.dir.path().join("linkplane.db-wal")).unwrap_or_default();
    for secret in [&secrets[0], &s.token] {
        let needle = secret.as_bytes();
        assert!(!db.windows(needle.len()).any(|w| w == needle));
        assert!(!wal.windows(needle.len()).any(|w| w == needle));
    }
    // Revoking frees a slot.
    let id = items[0]["id"].as_str().unwrap();
    let r = s
        .call(
            Method::DELETE,
            &format!("{tp}/{id}"),
            &s.token.clone(),
            None,
        )
        .await;
    assert!(r.ok(200)["revokedAt"].is_string());
    s.post(&tp, json!({"name": "again"})).await.ok(201);
    // Agent tokens do not open the organization API.
    s.call(Method::GET, &s.org_path("/clusters"), &secrets[1], None)
        .await
        .problem(401);
}

#[tokio::test]
async fn agents_register_heartbeat_and_report_health() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let dep = s
        .post(
            &s.org_path("/deployments"),
            json!({"name":"etl","clusterId": cl}),
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tp = s.org_path(&format!("/deployments/{dep}/agent-tokens"));
    let created = s.post(&tp, json!({"name": "agent"})).await;
    let token = created.ok(201)["token"].as_str().unwrap().to_owned();
    let tid = created.body["id"].as_str().unwrap().to_owned();
    let report =
        json!({"name":"etl-agent-1","hostname":"i-1","version":"0.1.0","queues":["default"]});
    let reg = s
        .call(
            Method::POST,
            "/v1/agents/register",
            &token,
            Some(report.clone()),
        )
        .await;
    let agent = reg.ok(201)["agentId"].as_str().unwrap().to_owned();
    assert_eq!(reg.body["deploymentId"], dep);
    assert_eq!(reg.body["heartbeatIntervalSeconds"], 30);
    let agents = s
        .get(&s.org_path(&format!("/deployments/{dep}/agents")))
        .await;
    assert_eq!(agents.ok(200)["items"][0]["status"], "UNKNOWN");
    let hb = s
        .call(
            Method::POST,
            &format!("/v1/agents/{agent}/heartbeat"),
            &token,
            Some(report.clone()),
        )
        .await;
    hb.ok(200);
    let agents = s
        .get(&s.org_path(&format!("/deployments/{dep}/agents")))
        .await;
    // "Validate in the Astro UI that the agents are heart beating and reporting a Healthy status"
    assert_eq!(agents.ok(200)["items"][0]["status"], "HEALTHY");
    assert!(agents.body["items"][0]["lastHeartbeatAt"].is_string());
    // Registering again with the same name re-uses the agent.
    let again = s
        .call(
            Method::POST,
            "/v1/agents/register",
            &token,
            Some(report.clone()),
        )
        .await;
    assert_eq!(again.ok(201)["agentId"], agent);
    s.call(
        Method::POST,
        "/v1/agents/agnaaaaaaaaaaaaaaaa/heartbeat",
        &token,
        Some(report.clone()),
    )
    .await
    .problem(404);
    s.call(
        Method::POST,
        "/v1/agents/register",
        &s.token.clone(),
        Some(report.clone()),
    )
    .await
    .problem(401);
    let r = s
        .call(
            Method::POST,
            "/v1/agents/register",
            &token,
            Some(json!({"name":"x\u{1}","hostname":"h","version":"v"})),
        )
        .await;
    assert_eq!(r.problem(422), ["name"]);
    // "Revoking an agent token makes that agent's next call fail with 401."
    s.call(
        Method::DELETE,
        &format!("{tp}/{tid}"),
        &s.token.clone(),
        None,
    )
    .await
    .ok(200);
    s.call(
        Method::POST,
        &format!("/v1/agents/{agent}/heartbeat"),
        &token,
        Some(report),
    )
    .await
    .problem(401);
}

#[tokio::test]
async fn endpoint_connections_follow_their_status_machine() {
    use linkplane_model::*;
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let org: ResourceId = s.org.parse().unwrap();
    let cid: ResourceId = cl.parse().unwrap();
    // Endpoint connections come from the provider (localcloud); make one in the store.
    let mk = |n: u8| linkplane_store::NewDocument {
        kind: ResourceKind::EndpointConnection,
        id: ResourceId::generate(ResourceKind::EndpointConnection, [n; 10]),
        org_id: org.clone(),
        parent_id: Some(cid.clone()),
        unique_key: None,
        system: false,
        spec: serde_json::to_value(EndpointConnectionSpec {
            cloud_endpoint_id: "vpce-0123456789abcdef0".into(),
            requester: "arn:aws:iam::123456789012:root".into(),
            region: None,
        })
        .unwrap(),
        status: serde_json::to_value(EndpointConnectionObserved {
            status: endpoint_connection_initial(false),
            status_reason: None,
            private_ips: vec![],
        })
        .unwrap(),
        secret: None,
        created_at: chrono::Utc::now(),
    };
    let (a, b) = (mk(1), mk(2));
    s.store()
        .create_documents(&[a.clone(), b.clone()], None, None)
        .await
        .unwrap();
    let base = s.org_path(&format!("/clusters/{cl}/private-link/connections"));
    let list = s.get(&base).await;
    assert_eq!(list.ok(200)["items"][0]["status"], "PENDING_ACCEPTANCE");
    let acc = s.post(&format!("{base}/{}/accept", a.id), json!({})).await;
    assert_eq!(acc.ok(200)["status"], "AVAILABLE");
    assert_eq!(
        acc.body["generation"], 2,
        "the decision is desired state for the reconciler"
    );
    // Idempotent.
    s.post(&format!("{base}/{}/accept", a.id), json!({}))
        .await
        .ok(200);
    let rej = s.post(&format!("{base}/{}/reject", b.id), json!({})).await;
    assert_eq!(rej.ok(200)["status"], "REJECTED");
    // A rejected connection cannot be accepted.
    s.post(&format!("{base}/{}/accept", b.id), json!({}))
        .await
        .problem(409);
    let member = s.token_with_role("ORGANIZATION_MEMBER").await;
    s.call(
        Method::POST,
        &format!("{base}/{}/reject", a.id),
        &member,
        None,
    )
    .await
    .problem(403);
    s.post(&format!("{base}/vpceaaaaaaaaaaaaaaaa/accept"), json!({}))
        .await
        .problem(404);
}

#[tokio::test]
async fn failed_peerings_are_retried_when_a_new_connection_is_created() {
    use linkplane_model::*;
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let pc = s.org_path(&format!("/clusters/{cl}/vpc-peering-connections"));
    let first = s.post(&pc, peering_body("10.1.0.0/16")).await;
    let id: ResourceId = first.ok(201)["id"].as_str().unwrap().parse().unwrap();
    // The provider reports the request was rejected: PENDING → PENDING_ACTIVATION → FAILED.
    let mut st = VpcPeeringObserved::default();
    st.status = peering_transition(st.status, PeeringEvent::RequestSent).unwrap();
    st.status = peering_transition(st.status, PeeringEvent::Rejected).unwrap();
    s.store()
        .write_status(
            &id,
            &serde_json::to_value(&st).unwrap(),
            1,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(s.get(&format!("{pc}/{id}")).await.body["status"], "FAILED");
    // "Astro will retry creating the peering request whenever you create a new VPC connection."
    s.post(&pc, peering_body("10.2.0.0/16")).await.ok(201);
    let again = s.get(&format!("{pc}/{id}")).await;
    assert_eq!(again.ok(200)["status"], "PENDING");
    assert_eq!(again.body["generation"], 2);
    assert_eq!(again.body["observedGeneration"], 1);
    let unobserved = s
        .store()
        .list_unobserved(ResourceKind::VpcPeeringConnection)
        .await
        .unwrap();
    assert_eq!(unobserved.len(), 2, "both need the reconciler");
}

#[tokio::test]
async fn bootstrap_is_reused_and_the_token_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (st, first) = linkplane_api::open(dir.path(), linkplane_api::Config::default())
        .await
        .unwrap();
    let token = first.new_admin_token.clone().unwrap();
    let mode = std::fs::metadata(dir.path().join("admin.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("admin.token"))
            .unwrap()
            .trim(),
        token
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("organization-id"))
            .unwrap()
            .trim(),
        first.organization_id.as_str()
    );
    drop(st);
    let (_, second) = linkplane_api::open(dir.path(), linkplane_api::Config::default())
        .await
        .unwrap();
    assert_eq!(second.organization_id, first.organization_id);
    assert!(
        second.new_admin_token.is_none(),
        "the token is printed once"
    );
}

#[tokio::test]
async fn concurrent_overlapping_connections_store_only_one() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let path = s.org_path(&format!("/clusters/{cl}/vpc-peering-connections"));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..6 {
        let (base, token, path) = (s.base.clone(), s.token.clone(), path.clone());
        set.spawn(async move {
            let mut body = peering_body("10.1.0.0/24");
            body["name"] = json!(format!("p{i}"));
            reqwest::Client::new()
                .post(format!("{base}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut codes = vec![];
    while let Some(c) = set.join_next().await {
        codes.push(c.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert!(
        codes.iter().all(|c| [201, 409, 422].contains(c)),
        "{codes:?}"
    );
    let stored = s
        .store()
        .list_kind(ResourceKind::VpcPeeringConnection)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "the CIDR rule holds under concurrency");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_valid_connections_on_one_cluster_all_succeed() {
    // Valid, non-overlapping creates racing on one cluster must all be 201: the server
    // serializes them per cluster instead of answering "changed while validated; retry".
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let path = s.org_path(&format!("/clusters/{cl}/vpc-peering-connections"));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..32 {
        let (base, token, path) = (s.base.clone(), s.token.clone(), path.clone());
        set.spawn(async move {
            let mut body = peering_body(&format!("10.{}.0.0/16", i + 1));
            body["name"] = json!(format!("p{i}"));
            reqwest::Client::new()
                .post(format!("{base}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut codes = vec![];
    while let Some(c) = set.join_next().await {
        codes.push(c.unwrap());
    }
    assert!(codes.iter().all(|c| *c == 201), "{codes:?}");
    let stored = s
        .store()
        .list_kind(ResourceKind::VpcPeeringConnection)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
}

#[tokio::test]
async fn huge_lists_answer_a_bounded_error_list() {
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let cidrs: Vec<String> = (0..20_000).map(|i| format!("bad{i}")).collect();
    let r = s
        .post(
            &s.org_path(&format!("/clusters/{cl}/transit-gateway-attachments")),
            json!({"name":"t","transitGatewayId":"tgw-0123456789abcdef0","peerAccountId":"123456789012","cidrs": cidrs}),
        )
        .await;
    let fields = r.problem(422);
    assert_eq!(fields.len(), 101);
    assert_eq!(fields[0], "cidrs");
}

#[tokio::test]
async fn deleting_a_provisioned_cluster_marks_it_deleting_for_the_reconciler() {
    let s = Server::start().await;
    let cl = s.cluster("STANDARD", "10.0.0.0/16").await;
    let id: linkplane_model::ResourceId = cl.parse().unwrap();
    // A reconciler that provisioned the cluster holds a finalizer.
    s.store().add_finalizer(&id, "localcloud").await.unwrap();
    let path = s.org_path(&format!("/clusters/{cl}"));
    let r = s.call(Method::DELETE, &path, &s.token.clone(), None).await;
    assert_eq!(r.ok(202)["status"], "DELETING");
    assert!(r.body["deletionRequestedAt"].is_string());
    assert_eq!(r.body["generation"], 2);
    // Changes are refused while it is being deleted.
    s.call(
        Method::PATCH,
        &path,
        &s.token.clone(),
        Some(json!({"name": "x"})),
    )
    .await
    .problem(409);
    // The reconciler finishes: the cluster is gone.
    assert!(
        s.store()
            .remove_finalizer(&id, "localcloud")
            .await
            .unwrap()
            .is_none()
    );
    s.get(&path).await.problem(404);
}

#[tokio::test]
async fn overlap_checks_see_every_change_to_the_clusters_connections() {
    // Creates validate against the cluster's connections as remembered at its
    // child_version; a delete, an update or a write by another process must be seen.
    use linkplane_model::*;
    let s = Server::start().await;
    let cl = s.cluster("DEDICATED", "10.0.0.0/16").await;
    let tgw = s.org_path(&format!("/clusters/{cl}/transit-gateway-attachments"));
    let body = |name: &str, cidr: &str| {
        json!({"name": name, "transitGatewayId": "tgw-0123456789abcdef0",
               "peerAccountId": "123456789012", "cidrs": [cidr]})
    };
    let a = s.post(&tgw, body("a", "10.20.0.0/16")).await;
    let a_id = a.ok(201)["id"].as_str().unwrap().to_owned();
    // Remembered right after the create: the next one overlaps.
    assert_eq!(
        s.post(&tgw, body("b", "10.20.5.0/24")).await.problem(422),
        ["cidrs[0]"]
    );
    // Deleted: its range is free again at once.
    let del = s
        .call(
            Method::DELETE,
            &format!("{tgw}/{a_id}"),
            &s.token.clone(),
            None,
        )
        .await;
    assert!(del.status.is_success(), "{}", del.text);
    s.post(&tgw, body("b", "10.20.5.0/24")).await.ok(201);
    // Another process (a write straight to the store) takes 10.30.0.0/16.
    let cluster_id: ResourceId = cl.parse().unwrap();
    let spec = TransitGatewayAttachmentSpec {
        name: Name::parse("elsewhere").unwrap(),
        transit_gateway_id: TransitGatewayId::parse("tgw-0123456789abcdef0").unwrap(),
        peer_account_id: AccountId::parse("123456789012").unwrap(),
        cidrs: vec![Cidr::parse("10.30.0.0/16").unwrap()],
    };
    let org: ResourceId = s.org.parse().unwrap();
    s.store()
        .create_documents(
            &[linkplane_store::NewDocument {
                kind: ResourceKind::TransitGatewayAttachment,
                id: linkplane_api::new_id(ResourceKind::TransitGatewayAttachment),
                org_id: org,
                parent_id: Some(cluster_id.clone()),
                unique_key: None,
                system: false,
                spec: serde_json::to_value(&spec).unwrap(),
                status: json!({"status": "PENDING", "statusReason": null}),
                secret: None,
                created_at: chrono::Utc::now(),
            }],
            Some(&linkplane_store::ParentGuard {
                kind: ResourceKind::Cluster,
                id: cluster_id,
                child_version: None,
            }),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        s.post(&tgw, body("c", "10.30.1.0/24")).await.problem(422),
        ["cidrs[0]"]
    );
}
