//! The client against a real `linkplane serve` (127.0.0.1:<free port>, temporary data dir).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use support::{Server, run};

fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => other["items"].as_array().cloned().unwrap_or_default(),
    }
}

#[test]
fn cluster_create_list_get_delete() {
    let server = Server::start();

    let created = server
        .lp(&[
            "cluster",
            "create",
            "--name",
            "prod-east",
            "--type",
            "DEDICATED",
            "--region",
            "us-east-1",
            "--vpc-subnet-range",
            "10.20.0.0/16",
        ])
        .ok();
    assert!(created.stdout.contains("prod-east"), "{}", created.stdout);
    assert!(
        created.stdout.contains("10.20.0.0/16"),
        "{}",
        created.stdout
    );

    let listed = server.lp(&["cluster", "list"]).ok();
    assert!(listed.stdout.contains("prod-east"), "{}", listed.stdout);
    assert!(listed.stdout.contains("DEDICATED"), "{}", listed.stdout);

    let json = server.lp(&["cluster", "list", "-o", "json"]).ok().json();
    let clusters = items(&json);
    assert_eq!(clusters.len(), 1, "{json}");
    let id = clusters[0]["id"].as_str().unwrap().to_owned();

    let got = server
        .lp(&["cluster", "get", &id, "-o", "json"])
        .ok()
        .json();
    assert_eq!(got["name"], "prod-east");
    assert_eq!(got["vpcSubnetRange"], "10.20.0.0/16");
    assert_eq!(got["type"], "DEDICATED");
    assert!(got["status"].is_string(), "{got}");

    let table = server.lp(&["cluster", "get", &id]).ok();
    assert!(table.stdout.contains("vpcSubnetRange"), "{}", table.stdout);

    // Deletion may be asynchronous (DELETING); --wait follows it until the cluster is gone.
    let deleted = server
        .lp(&["cluster", "delete", &id, "--wait", "--wait-timeout", "60"])
        .ok();
    assert!(deleted.stderr.contains(&id), "{deleted:#?}");
    let gone = server.lp(&["cluster", "get", &id]).failed();
    assert!(gone.stderr.contains("HTTP 404"), "{gone:#?}");
    let again = server.lp(&["cluster", "delete", &id]).failed();
    assert!(again.stderr.contains("HTTP 404"), "{again:#?}");
}

#[test]
fn json_output_is_the_api_json() {
    let server = Server::start();
    let orgs = server
        .lp(&["organization", "list", "-o", "json"])
        .ok()
        .json();
    let list = items(&orgs);
    assert_eq!(list.len(), 1, "{orgs}");
    let org_file = std::fs::read_to_string(server.data_path().join("organization-id")).unwrap();
    assert_eq!(list[0]["id"], org_file.trim());

    let id = server.create_cluster("json-check", "STANDARD", "10.30.0.0/16");
    let json = server
        .lp(&["cluster", "get", &id, "-o", "json"])
        .ok()
        .json();
    assert_eq!(json["id"], id.as_str());
    assert_eq!(json["cloudProvider"], "LOCAL");
}

#[test]
fn a_validation_error_exits_non_zero_and_names_the_field() {
    let server = Server::start();
    let out = server
        .lp(&[
            "cluster",
            "create",
            "--name",
            "public",
            "--region",
            "us-east-1",
            "--vpc-subnet-range",
            "8.8.0.0/16",
        ])
        .failed();
    assert!(out.stderr.contains("vpcSubnetRange"), "{}", out.stderr);
    assert!(out.stderr.contains("HTTP 4"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let json = server.lp(&["cluster", "list", "-o", "json"]).ok().json();
    assert!(items(&json).is_empty(), "nothing may be stored: {json}");

    // Several bad fields at once: each is named.
    let out = server
        .lp(&[
            "cluster",
            "create",
            "--name",
            "x",
            "--region",
            "mars-north-1",
            "--vpc-subnet-range",
            "10.0.0.0/33",
        ])
        .failed();
    assert!(out.stderr.contains("region"), "{}", out.stderr);
    assert!(out.stderr.contains("vpcSubnetRange"), "{}", out.stderr);
}

#[test]
fn another_organization_or_a_missing_resource_is_a_404() {
    let server = Server::start();
    let out = server
        .lp(&["cluster", "get", "cl7g2k4m7p3q5r6s2t"])
        .failed();
    assert!(out.stderr.contains("404"), "{}", out.stderr);
    // Not an id and no cluster of that name: says how to find the ids.
    let out = server
        .lp(&["cluster", "get", "cl7g2k4m9p3q5r6s2taa"])
        .failed();
    assert!(
        out.stderr.contains("linkplane cluster list"),
        "{}",
        out.stderr
    );
    let out = server
        .lp(&["cluster", "list", "--org", "org7g2k4m9p3q5r6s2ta"])
        .failed();
    assert!(out.stderr.contains("404"), "{}", out.stderr);
}

#[test]
fn tokens_are_shown_once_and_roles_are_enforced() {
    let server = Server::start();
    let created = server
        .lp(&[
            "api-token",
            "create",
            "--name",
            "reader",
            "--role",
            "ORGANIZATION_MEMBER",
        ])
        .ok();
    let token = created.stdout.trim().to_owned();
    assert!(
        !token.is_empty() && !token.contains(char::is_whitespace),
        "{created:#?}"
    );
    assert!(
        created.stderr.contains("cannot be shown again"),
        "{}",
        created.stderr
    );

    let listed = server.lp(&["api-token", "list", "-o", "json"]).ok();
    assert!(
        !listed.stdout.contains(&token),
        "a listed token leaks its secret"
    );
    assert!(listed.stdout.contains("reader"), "{}", listed.stdout);

    // The member token reads, but may not create clusters (403 with a hint).
    let mut cmd = server.cmd(&["cluster", "list"]);
    cmd.env("LINKPLANE_TOKEN", &token);
    run(cmd, None).ok();
    let mut cmd = server.cmd(&[
        "cluster",
        "create",
        "--name",
        "nope",
        "--region",
        "us-east-1",
        "--vpc-subnet-range",
        "10.40.0.0/16",
    ]);
    cmd.env("LINKPLANE_TOKEN", &token);
    let out = run(cmd, None).failed();
    assert!(out.stderr.contains("403"), "{}", out.stderr);
    assert!(out.stderr.contains("ORGANIZATION_OWNER"), "{}", out.stderr);

    // A wrong token is a 401 with a hint about where tokens come from.
    let mut cmd = server.cmd(&["cluster", "list"]);
    cmd.env("LINKPLANE_TOKEN", "lp_not_a_real_token");
    let out = run(cmd, None).failed();
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    assert!(out.stderr.contains("LINKPLANE_TOKEN"), "{}", out.stderr);

    // --token-file works as well.
    let file = server.data_path().join("reader.token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let mut cmd = server.cmd(&["organization", "list", "--token-file"]);
    cmd.arg(&file);
    run(cmd, None).ok();
}

#[test]
fn the_vpn_pre_shared_key_comes_from_stdin_and_is_never_shown() {
    let server = Server::start();
    let standard = server.create_cluster("std", "STANDARD", "10.50.0.0/16");
    let dedicated = server.create_cluster("ded", "DEDICATED", "10.60.0.0/16");
    let psk = "Sup3r.secret_key";
    let vpn = |cluster: &str| {
        server.cmd(&[
            "vpn",
            "create",
            "--cluster",
            cluster,
            "--name",
            "dc1",
            "--gateway-ip",
            "203.0.113.10",
            "--bgp-asn",
            "65010",
            "--pre-shared-key-file",
            "-",
            "-o",
            "json",
        ])
    };
    // "Only available for dedicated clusters."
    let out = run(vpn(&standard), Some(&format!("{psk}\n"))).failed();
    assert!(
        out.stderr.to_lowercase().contains("dedicated"),
        "{}",
        out.stderr
    );

    let out = run(vpn(&dedicated), Some(&format!("{psk}\n"))).ok();
    assert!(
        !out.stdout.contains(psk),
        "the PSK was echoed: {}",
        out.stdout
    );
    let id = out.json()["id"].as_str().unwrap().to_owned();
    for args in [
        vec!["vpn", "get", "--cluster", &dedicated, &id],
        vec!["vpn", "get", "--cluster", &dedicated, &id, "-o", "json"],
        vec!["vpn", "list", "--cluster", &dedicated, "-o", "json"],
    ] {
        let out = server.lp(&args).ok();
        assert!(!out.stdout.contains(psk), "{args:?} shows the PSK");
        assert!(out.stdout.contains("203.0.113.10"), "{}", out.stdout);
    }
    assert!(!server.log().contains(psk), "the server logged the PSK");

    // A bad key is refused, naming the field.
    let out = run(vpn(&dedicated), Some("0short")).failed();
    assert!(out.stderr.contains("preSharedKey"), "{}", out.stderr);
}

#[test]
fn deployments_and_agent_tokens() {
    let server = Server::start();
    let cluster = server.create_cluster("dep-host", "STANDARD", "10.70.0.0/16");
    let out = server
        .lp(&[
            "deployment",
            "create",
            "--name",
            "etl",
            "--cluster-id",
            &cluster,
            "--remote-execution",
            "--allowed-ip-range",
            "203.0.113.0/24",
            "-o",
            "json",
        ])
        .ok();
    let dep = out.json();
    let dep_id = dep["id"].as_str().unwrap().to_owned();
    assert_eq!(dep["remoteExecution"]["enabled"], true, "{dep}");

    // Turning remote execution off keeps the allowed ranges.
    let updated = server
        .lp(&[
            "deployment",
            "update",
            &dep_id,
            "--remote-execution",
            "false",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(updated["remoteExecution"]["enabled"], false, "{updated}");
    assert_eq!(
        updated["remoteExecution"]["allowedIpAddressRanges"][0], "203.0.113.0/24",
        "{updated}"
    );
    let out = server.lp(&["deployment", "update", &dep_id]).failed();
    assert!(out.stderr.contains("nothing to update"), "{}", out.stderr);
    let stale = format!("\"{dep_id}-g999\"");
    let out = server
        .lp(&[
            "deployment",
            "update",
            &dep_id,
            "--name",
            "x",
            "--if-match",
            &stale,
        ])
        .failed();
    assert!(out.stderr.contains("412"), "{}", out.stderr);

    let token = server
        .lp(&[
            "agent-token",
            "create",
            "--deployment",
            &dep_id,
            "--name",
            "agents",
        ])
        .ok();
    let secret = token.stdout.trim().to_owned();
    assert!(!secret.is_empty());
    let list = server
        .lp(&["agent-token", "list", "--deployment", &dep_id, "-o", "json"])
        .ok();
    assert!(!list.stdout.contains(&secret), "agent token secret listed");
    let token_id = items(&list.json())[0]["id"].as_str().unwrap().to_owned();
    server.lp(&["agent", "list", "--deployment", &dep_id]).ok();
    server
        .lp(&["agent-token", "revoke", "--deployment", &dep_id, &token_id])
        .ok();
    let list = server
        .lp(&["agent-token", "list", "--deployment", &dep_id, "-o", "json"])
        .ok();
    assert!(
        items(&list.json())
            .iter()
            .all(|t| t["id"] != token_id.as_str() || t["revokedAt"].is_string()),
        "{}",
        list.stdout
    );
    server.lp(&["deployment", "delete", &dep_id]).ok();
}

#[test]
fn peering_routes_and_other_connections() {
    let server = Server::start();
    let cluster = server.create_cluster("net", "DEDICATED", "10.80.0.0/16");
    let out = server
        .lp(&[
            "peering",
            "create",
            "--cluster",
            &cluster,
            "--name",
            "data",
            "--peer-account-id",
            "123456789012",
            "--peer-vpc-id",
            "vpc-0a1b2c3d",
            "--peer-region",
            "us-east-1",
            "--peer-cidr",
            "10.1.0.0/16",
            "-o",
            "json",
        ])
        .ok();
    let peering = out.json();
    let pcx = peering["id"].as_str().unwrap().to_owned();
    assert!(peering["status"].is_string(), "{peering}");

    // Overlap with the cluster's range is refused, naming the field.
    let out = server
        .lp(&[
            "peering",
            "create",
            "--cluster",
            &cluster,
            "--name",
            "bad",
            "--peer-account-id",
            "123456789012",
            "--peer-vpc-id",
            "vpc-0a1b2c3d",
            "--peer-region",
            "us-east-1",
            "--peer-cidr",
            "10.80.1.0/24",
        ])
        .failed();
    assert!(out.stderr.contains("peerCidr"), "{}", out.stderr);

    let list = server.lp(&["peering", "list", "--cluster", &cluster]).ok();
    assert!(list.stdout.contains("10.1.0.0/16"), "{}", list.stdout);

    let route = server
        .lp(&[
            "route",
            "create",
            "--cluster",
            &cluster,
            "--name",
            "extra",
            "--destination-cidr",
            "10.2.0.0/24",
            "--target-id",
            &pcx,
            "-o",
            "json",
        ])
        .ok()
        .json();
    let route_id = route["id"].as_str().unwrap().to_owned();
    let out = server
        .lp(&[
            "route",
            "create",
            "--cluster",
            &cluster,
            "--name",
            "dangling",
            "--destination-cidr",
            "10.3.0.0/24",
            "--target-id",
            "pcx7g2k4m7p3q5r6s2t",
        ])
        .failed();
    assert!(out.stderr.contains("targetId"), "{}", out.stderr);
    let got = server
        .lp(&[
            "route",
            "get",
            "--cluster",
            &cluster,
            &route_id,
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(got["targetId"], pcx.as_str(), "{got}");
    let routes = server.lp(&["route", "list", "--cluster", &cluster]).ok();
    assert!(routes.stdout.contains("10.2.0.0/24"), "{}", routes.stdout);
    server
        .lp(&["route", "delete", "--cluster", &cluster, &route_id])
        .ok();

    server
        .lp(&[
            "tgw",
            "create",
            "--cluster",
            &cluster,
            "--name",
            "corp",
            "--transit-gateway-id",
            "tgw-0a1b2c3d",
            "--peer-account-id",
            "123456789012",
            "--cidr",
            "10.90.0.0/16",
        ])
        .ok();
    server
        .lp(&[
            "dns",
            "create",
            "--cluster",
            &cluster,
            "--name",
            "zone",
            "--kind",
            "PRIVATE_ZONE",
            "--domain",
            "db.internal",
            "--record",
            "primary:A:10.1.4.20",
        ])
        .ok();
    server
        .lp(&[
            "dns",
            "create",
            "--cluster",
            &cluster,
            "--name",
            "corp-zone",
            "--kind",
            "hosted_zone_association",
            "--domain",
            "corp.internal",
            "--hosted-zone-id",
            "hz-0123abcd",
        ])
        .ok();
    let dns = server.lp(&["dns", "list", "--cluster", &cluster]).ok();
    assert!(dns.stdout.contains("db.internal"), "{}", dns.stdout);
    assert!(
        dns.stdout.contains("HOSTED_ZONE_ASSOCIATION"),
        "{}",
        dns.stdout
    );
    // `dns get --wait` follows the status: the zone does not exist, so the resolution ends
    // FAILED (LOCAL, with localcloud) or stays PENDING (no provider) past the timeout.
    let listed = server
        .lp(&["dns", "list", "--cluster", &cluster, "-o", "json"])
        .ok()
        .json();
    let zone_res = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "HOSTED_ZONE_ASSOCIATION")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let waited = server
        .lp(&[
            "dns",
            "get",
            "--cluster",
            &cluster,
            &zone_res,
            "--wait",
            "--wait-timeout",
            "2",
            "--wait-interval",
            "1",
        ])
        .failed();
    assert!(
        waited.stderr.contains("FAILED") || waited.stderr.contains("still PENDING after 2s"),
        "{waited:#?}"
    );
    // The server names the field and the rule.
    let bad = server.lp(&[
        "dns",
        "create",
        "--cluster",
        &cluster,
        "--name",
        "bad-zone",
        "--kind",
        "HOSTED_ZONE_ASSOCIATION",
        "--domain",
        "bad.internal",
        "--hosted-zone-id",
        "zone-1",
    ]);
    let bad = bad.failed();
    assert!(bad.stderr.contains("hostedZoneId"), "{}", bad.stderr);
    let outbound = server
        .lp(&[
            "outbound-endpoint",
            "list",
            "--cluster",
            &cluster,
            "-o",
            "json",
        ])
        .ok();
    let _ = outbound.json();
    let out = server
        .lp(&[
            "private-link",
            "set",
            "--cluster",
            &cluster,
            "--allowed-principal",
            "arn:aws:iam::123456789012:nobody",
        ])
        .failed();
    assert!(out.stderr.contains("allowedPrincipals"), "{}", out.stderr);
    server
        .lp(&[
            "private-link",
            "set",
            "--cluster",
            &cluster,
            "--allowed-principal",
            "arn:aws:iam::123456789012:root",
        ])
        .ok();
    let pl = server
        .lp(&["private-link", "get", "--cluster", &cluster, "-o", "json"])
        .ok()
        .json();
    assert_eq!(
        pl["allowedPrincipals"][0], "arn:aws:iam::123456789012:root",
        "{pl}"
    );
    // The service name: the provider's once it runs the service (with localcloud here within
    // milliseconds), null with the reason before (never an invented one).
    match pl["serviceName"].as_str() {
        Some(name) => assert!(
            name.starts_with("com.linkplane.vpce.us-east-1.vpce-svc-"),
            "{pl}"
        ),
        None => assert!(pl["serviceNameReason"].is_string(), "{pl}"),
    }
    server
        .lp(&["private-link", "connections", "--cluster", &cluster])
        .ok();
    let out = server
        .lp(&[
            "private-link",
            "accept",
            "--cluster",
            &cluster,
            "vpce7g2k4m7p3q5r6s2t",
        ])
        .failed();
    assert!(out.stderr.contains("HTTP 404"), "{}", out.stderr);
    server
        .lp(&["peering", "delete", "--cluster", &cluster, &pcx])
        .ok();
}

#[test]
fn idempotency_keys_prevent_duplicates() {
    let server = Server::start();
    let args = [
        "cluster",
        "create",
        "--name",
        "once",
        "--region",
        "us-east-1",
        "--vpc-subnet-range",
        "10.11.0.0/16",
        "--idempotency-key",
        "k-1",
        "-o",
        "json",
    ];
    let first = server.lp(&args).ok().json();
    let second = server.lp(&args).ok().json();
    assert_eq!(first["id"], second["id"]);
    let json = server.lp(&["cluster", "list", "-o", "json"]).ok().json();
    assert_eq!(items(&json).len(), 1, "{json}");
}

#[test]
fn wait_follows_the_status_with_a_progress_line() {
    let server = Server::start();
    let out = server.lp(&[
        "cluster",
        "create",
        "--name",
        "waited",
        "--region",
        "us-east-1",
        "--vpc-subnet-range",
        "10.12.0.0/16",
        "--wait",
        "--wait-timeout",
        "3",
        "--wait-interval",
        "1",
        "-o",
        "json",
    ]);
    // The progress line names the cluster and its status.
    assert!(
        out.stderr.contains(": CREATING (") || out.stderr.contains(": CREATED ("),
        "{out:#?}"
    );
    if out.code == Some(0) {
        // A provider converged it within the timeout.
        assert_eq!(out.json()["status"], "CREATED", "{out:#?}");
    } else {
        // Without a provider that finishes in 3 s, the wait ends with a clear timeout.
        assert!(
            out.stderr.contains("still CREATING after 3s") || out.stderr.contains("CREATE_FAILED"),
            "{out:#?}"
        );
        assert!(out.stdout.is_empty(), "{out:#?}");
    }
}

#[test]
fn organization_get_uses_the_only_visible_organization() {
    let server = Server::start();
    let org_id = std::fs::read_to_string(server.data_path().join("organization-id")).unwrap();
    let got = server
        .lp(&["organization", "get", "-o", "json"])
        .ok()
        .json();
    assert_eq!(got["id"], org_id.trim());
    let out = server
        .lp(&["organization", "get", "org7g2k4m7p3q5r6s2t"])
        .failed();
    assert!(out.stderr.contains("HTTP 404"), "{}", out.stderr);
}

#[test]
fn lists_page_with_limit_and_cursor() {
    let server = Server::start();
    for (name, cidr) in [
        ("a", "10.21.0.0/16"),
        ("b", "10.22.0.0/16"),
        ("c", "10.23.0.0/16"),
    ] {
        server.create_cluster(name, "STANDARD", cidr);
    }
    let first = server.lp(&["cluster", "list", "--limit", "2"]).ok();
    let cursor = first
        .stderr
        .split("--cursor ")
        .nth(1)
        .map(|c| c.trim().to_owned())
        .unwrap_or_else(|| panic!("no cursor hint: {first:#?}"));
    let second = server
        .lp(&[
            "cluster", "list", "--limit", "2", "--cursor", &cursor, "-o", "json",
        ])
        .ok()
        .json();
    let rest = items(&second);
    assert_eq!(rest.len(), 1, "{second}");
    assert!(!first.stdout.contains(rest[0]["id"].as_str().unwrap()));
    assert!(second["nextCursor"].is_null(), "{second}");

    let out = server
        .lp(&["cluster", "list", "--cursor", "not-a-cursor"])
        .failed();
    assert!(out.stderr.contains("cursor"), "{}", out.stderr);
}

#[test]
fn an_agent_run_with_a_token_is_listed_and_a_revoked_token_stops_it() {
    let server = Server::start();
    let cluster = server.create_cluster("agents", "STANDARD", "10.24.0.0/16");
    let dep = server
        .lp(&[
            "deployment",
            "create",
            "--name",
            "remote",
            "--cluster-id",
            &cluster,
            "--remote-execution",
            "-o",
            "json",
        ])
        .ok()
        .json();
    let dep_id = dep["id"].as_str().unwrap().to_owned();
    let created = server
        .lp(&[
            "agent-token",
            "create",
            "--deployment",
            &dep_id,
            "--name",
            "edge",
        ])
        .ok();
    let token_file = server.data_path().join("agent.token");
    std::fs::write(&token_file, created.stdout.trim()).unwrap();

    let agent = |extra: &[&str]| {
        let mut cmd = server.cmd(&["agent", "run", "--api-url", &server.url(), "--token-file"]);
        cmd.arg(&token_file).args(["--name", "edge-1"]).args(extra);
        run(cmd, None)
    };
    // `--max-heartbeats 0` registers and stops.
    agent(&["--max-heartbeats", "0"]).ok();
    let agents = server
        .lp(&["agent", "list", "--deployment", &dep_id, "-o", "json"])
        .ok()
        .json();
    let list = items(&agents);
    assert_eq!(list.len(), 1, "{agents}");
    assert_eq!(list[0]["name"], "edge-1");
    // Registered, heartbeat pending (UNKNOWN) or already beating (HEALTHY); never stale.
    let status = list[0]["status"].as_str().unwrap().to_owned();
    assert!(
        ["UNKNOWN", "HEALTHY"].contains(&status.as_str()),
        "{agents}"
    );
    let table = server.lp(&["agent", "list", "--deployment", &dep_id]).ok();
    assert!(
        table.stdout.contains("edge-1") && table.stdout.contains(&status),
        "{}",
        table.stdout
    );
    // The first heartbeat follows the registration at once (not one 30 s interval later),
    // so an agent reports HEALTHY as soon as it runs.
    let t0 = std::time::Instant::now();
    agent(&["--max-heartbeats", "1"]).ok();
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        t0.elapsed()
    );
    let agents = server
        .lp(&["agent", "list", "--deployment", &dep_id, "-o", "json"])
        .ok()
        .json();
    let beating = items(&agents)
        .iter()
        .filter(|a| a["status"] == "HEALTHY")
        .count();
    assert!(beating >= 1, "{agents}");

    let token_id = items(
        &server
            .lp(&["agent-token", "list", "--deployment", &dep_id, "-o", "json"])
            .ok()
            .json(),
    )[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .lp(&["agent-token", "revoke", "--deployment", &dep_id, &token_id])
        .ok();
    let out = agent(&["--max-heartbeats", "0"]);
    assert_eq!(
        out.code,
        Some(2),
        "a revoked token must stop the agent: {out:#?}"
    );
}

/// Names are accepted where ids are asked (issue 14): `cluster get prod`, `--cluster-id prod`,
/// `--deployment etl`; an unknown or ambiguous name says how to find the id.
#[test]
fn names_are_accepted_where_ids_are_asked() {
    let server = Server::start_with(&["--no-localcloud"]);
    let id = server.create_cluster("prod", "STANDARD", "10.40.0.0/16");
    let got = server
        .lp(&["cluster", "get", "prod", "-o", "json"])
        .ok()
        .json();
    assert_eq!(got["id"], id.as_str(), "{got}");
    let dep = server
        .lp(&[
            "deployment",
            "create",
            "--name",
            "etl",
            "--cluster-id",
            "prod",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(dep["clusterId"], id.as_str(), "{dep}");
    let dep_id = dep["id"].as_str().unwrap();
    let tokens = server
        .lp(&["agent-token", "list", "--deployment", "etl", "-o", "json"])
        .ok()
        .json();
    assert!(tokens["items"].is_array(), "{tokens}");
    let by_id = server
        .lp(&["deployment", "get", "etl", "-o", "json"])
        .ok()
        .json();
    assert_eq!(by_id["id"], dep_id, "{by_id}");

    let missing = server.lp(&["cluster", "get", "nope"]).failed();
    assert!(
        missing.stderr.contains("\"nope\" is not a cluster id")
            && missing.stderr.contains("linkplane cluster list"),
        "{missing:#?}"
    );
    server.create_cluster("prod", "STANDARD", "10.41.0.0/16");
    let two = server.lp(&["cluster", "get", "prod"]).failed();
    assert!(
        two.stderr.contains("2 clusters are named \"prod\"") && two.stderr.contains(&id),
        "{two:#?}"
    );
}
