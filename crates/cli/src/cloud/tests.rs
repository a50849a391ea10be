//! Parsing of every `cloud` command, and the commands against a served localcloud (root).

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::compute::{ports, run_attached};
use super::network::peering_options_body;
use super::privatelink::target_ref;
use super::*;
use crate::render::cloud_table as render_table;
use clap::Parser;

#[derive(Debug, Parser)]
struct Top {
    #[command(flatten)]
    cloud: CloudArgs,
}

fn parse(url: &str, token_file: &str, args: &[&str]) -> CloudArgs {
    let mut v = vec!["cloud", "--url", url, "--cloud-token-file", token_file];
    v.extend_from_slice(args);
    Top::try_parse_from(v).expect("parse").cloud
}

#[test]
fn port_ranges() {
    assert_eq!(ports(Some("443")).unwrap(), (Some(443), Some(443)));
    assert_eq!(ports(Some("8000-8100")).unwrap(), (Some(8000), Some(8100)));
    assert!(ports(Some("http")).is_err());
    assert_eq!(ports(None).unwrap(), (None, None));
}

#[test]
fn exec_needs_a_command_after_dashes() {
    let r = Top::try_parse_from(["cloud", "exec", "i-12345678"]);
    assert!(r.is_err());
    let ok =
        Top::try_parse_from(["cloud", "exec", "i-12345678", "--", "ip", "-br", "addr"]).unwrap();
    match ok.cloud.command {
        CloudCommand::Exec(e) => assert_eq!(e.command, vec!["ip", "-br", "addr"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn privatelink_and_dns_commands_parse() {
    let t = Top::try_parse_from([
        "cloud",
        "tg",
        "register",
        "tg-12345678",
        "--instance",
        "i-12345678:8443",
        "--instance",
        "i-87654321",
    ])
    .unwrap();
    assert!(
        matches!(t.cloud.command, CloudCommand::TargetGroup(TgCmd::Register { ref instances, .. }) if instances.len() == 2)
    );
    assert_eq!(
        target_ref("i-12345678:8443").unwrap(),
        json!({"instanceId": "i-12345678", "port": 8443})
    );
    assert!(target_ref("i-12345678:http").is_err());
    assert!(
        Top::try_parse_from([
            "cloud",
            "rule",
            "create",
            "--domain",
            "x.example",
            "--system",
            "--forward",
            "10.0.0.2"
        ])
        .is_err(),
        "--system and --forward conflict"
    );
    assert!(
        Top::try_parse_from([
            "cloud",
            "endpoint",
            "create",
            "--vpc",
            "vpc-1",
            "--service",
            "s"
        ])
        .is_err()
    );
    let m = Top::try_parse_from([
        "cloud",
        "service",
        "modify",
        "vpce-svc-12345678",
        "--acceptance-required",
        "false",
        "--region-supported",
        "us-west-2",
    ])
    .unwrap();
    assert!(matches!(
        m.cloud.command,
        CloudCommand::Service(ServiceCmd::Modify {
            acceptance_required: Some(false),
            regions: Some(ref r),
            ..
        }) if r == &["us-west-2"]
    ));
}

#[test]
fn dns_hostname_and_peering_option_commands_parse() {
    let m = Top::try_parse_from([
        "cloud",
        "vpc",
        "modify",
        "vpc-12345678",
        "--enable-dns-hostnames",
        "false",
    ])
    .unwrap();
    assert!(matches!(
        m.cloud.command,
        CloudCommand::Vpc(VpcCmd::Modify {
            enable_dns_hostnames: false,
            ..
        })
    ));
    for bad in [
        vec!["cloud", "vpc", "modify", "vpc-12345678"],
        vec![
            "cloud",
            "vpc",
            "modify",
            "vpc-12345678",
            "--enable-dns-hostnames",
        ],
        vec![
            "cloud",
            "vpc",
            "modify",
            "vpc-12345678",
            "--enable-dns-hostnames",
            "yes",
        ],
    ] {
        assert!(Top::try_parse_from(&bad).is_err(), "{bad:?}");
    }
    let c = Top::try_parse_from([
        "cloud",
        "vpc",
        "create",
        "--cidr",
        "10.0.0.0/16",
        "--enable-dns-hostnames",
    ])
    .unwrap();
    assert!(matches!(
        c.cloud.command,
        CloudCommand::Vpc(VpcCmd::Create {
            enable_dns_hostnames: true,
            ..
        })
    ));
    let o = Top::try_parse_from([
        "cloud",
        "peering",
        "modify-options",
        "pcx-12345678",
        "--accepter-dns-resolution",
        "true",
    ])
    .unwrap();
    assert!(matches!(
        o.cloud.command,
        CloudCommand::Peering(PeeringCmd::ModifyOptions {
            requester_dns_resolution: None,
            accepter_dns_resolution: Some(true),
            ..
        })
    ));
    assert_eq!(
        peering_options_body(None, Some(true)).unwrap(),
        json!({"accepterPeeringConnectionOptions": {"allowDnsResolutionFromRemoteVpc": true}})
    );
    assert_eq!(
        peering_options_body(Some(false), Some(true)).unwrap(),
        json!({"requesterPeeringConnectionOptions": {"allowDnsResolutionFromRemoteVpc": false},
                   "accepterPeeringConnectionOptions": {"allowDnsResolutionFromRemoteVpc": true}})
    );
    let e = peering_options_body(None, None).unwrap_err().to_string();
    assert!(e.contains("--accepter-dns-resolution"), "{e}");
    // --help says what each side means.
    let help = Top::try_parse_from(["cloud", "peering", "modify-options", "--help"])
        .unwrap_err()
        .to_string();
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("lets the ACCEPTER VPC resolve the requester VPC's public DNS")
            && help.contains("lets the REQUESTER VPC resolve the accepter VPC's public DNS")
            && help.contains("only while the peering is active"),
        "{help}"
    );
}

#[test]
fn tables_render() {
    let v = json!([{"vpcId": "vpc-12345678", "cidrBlock": "10.0.0.0/16", "region": "us-east-1", "ownerId": "000000000001", "name": null}]);
    let t = render_table(&v);
    assert!(t.contains("vpc-12345678") && t.contains("cidrBlock"), "{t}");
    assert_eq!(render_table(&json!([])), "(none)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_against_a_served_localcloud() {
    if !linkplane_netns::testing::require_root("cli::cloud::commands_against_a_served_localcloud") {
        return;
    }
    let prefix =
        linkplane_localcloud::Prefix::parse(&linkplane_netns::testing::unique_prefix()).unwrap();
    struct Gc(linkplane_localcloud::Prefix);
    impl Drop for Gc {
        fn drop(&mut self) {
            linkplane_localcloud::gc(&self.0);
        }
    }
    let _gc = Gc(prefix.clone());
    let dir = tempfile::tempdir().unwrap();
    let engine = linkplane_localcloud::Engine::open(linkplane_localcloud::EngineConfig::new(
        dir.path(),
        prefix,
    ))
    .await
    .unwrap();
    let tok = engine.operator_token_path().display().to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = linkplane_localcloud::api::router(std::sync::Arc::new(engine));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let value = |o: Outcome| match o {
        Outcome::Value(v) => v,
        other => panic!("{other:?}"),
    };
    let vpc = value(
        execute(&parse(
            &url,
            &tok,
            &["vpc", "create", "--cidr", "10.90.0.0/16"],
        ))
        .await
        .unwrap(),
    );
    let vpc_id = vpc["vpcId"].as_str().unwrap();
    let subnet = value(
        execute(&parse(
            &url,
            &tok,
            &[
                "subnet",
                "create",
                "--vpc",
                vpc_id,
                "--cidr",
                "10.90.1.0/24",
                "--az",
                "us-east-1a",
            ],
        ))
        .await
        .unwrap(),
    );
    let subnet_id = subnet["subnetId"].as_str().unwrap();
    let inst = value(
        execute(&parse(
            &url,
            &tok,
            &["instance", "create", "--subnet", subnet_id],
        ))
        .await
        .unwrap(),
    );
    let inst_id = inst["instanceId"].as_str().unwrap();
    match execute(&parse(&url, &tok, &["exec", inst_id, "--", "true"]))
        .await
        .unwrap()
    {
        Outcome::Attached { namespace, command } => {
            assert_eq!(namespace, inst["namespace"].as_str().unwrap());
            assert_eq!(command, vec!["true"]);
            let script = "grep -q 10.90.0.2 /etc/resolv.conf && exit 5";
            let code =
                run_attached(&namespace, &["sh".into(), "-c".into(), script.into()]).unwrap();
            assert_eq!(
                code, 5,
                "attached exec sees the VPC resolv.conf and passes the exit code"
            );
        }
        other => panic!("{other:?}"),
    }
    match execute(&parse(
        &url,
        &tok,
        &[
            "exec",
            "--via-api",
            inst_id,
            "--",
            "sh",
            "-c",
            "cat /etc/resolv.conf; exit 4",
        ],
    ))
    .await
    .unwrap()
    {
        Outcome::Exec { code, stdout, .. } => {
            assert_eq!(code, 4);
            assert!(String::from_utf8_lossy(&stdout).contains("nameserver 10.90.0.2"));
        }
        other => panic!("{other:?}"),
    }
    let list = value(
        execute(&parse(&url, &tok, &["instance", "list"]))
            .await
            .unwrap(),
    );
    assert!(
        render_table(&list).contains(inst_id),
        "{}\n{list}",
        render_table(&list)
    );
    // Instance host names and the peering DNS-resolution option through the CLI.
    assert_eq!(vpc["enableDnsHostnames"], json!(false));
    assert_eq!(
        inst["privateDnsName"],
        json!(format!(
            "ip-{}.us-east-1.compute.internal",
            inst["privateIpAddress"].as_str().unwrap().replace('.', "-")
        ))
    );
    let modified = value(
        execute(&parse(
            &url,
            &tok,
            &["vpc", "modify", vpc_id, "--enable-dns-hostnames", "true"],
        ))
        .await
        .unwrap(),
    );
    assert_eq!(modified["enableDnsHostnames"], json!(true), "{modified}");
    let peer = value(
        execute(&parse(
            &url,
            &tok,
            &[
                "vpc",
                "create",
                "--cidr",
                "10.91.0.0/16",
                "--enable-dns-hostnames",
            ],
        ))
        .await
        .unwrap(),
    );
    assert_eq!(peer["enableDnsHostnames"], json!(true), "{peer}");
    let peer_id = peer["vpcId"].as_str().unwrap();
    let pcx = value(
        execute(&parse(
            &url,
            &tok,
            &["peering", "create", "--vpc", vpc_id, "--peer-vpc", peer_id],
        ))
        .await
        .unwrap(),
    );
    let pcx_id = pcx["vpcPeeringConnectionId"].as_str().unwrap();
    let opts = [
        "peering",
        "modify-options",
        pcx_id,
        "--accepter-dns-resolution",
        "true",
    ];
    let e = execute(&parse(&url, &tok, &opts))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("409") && e.contains("pending-acceptance"), "{e}");
    execute(&parse(&url, &tok, &["peering", "accept", pcx_id]))
        .await
        .unwrap();
    let set = value(execute(&parse(&url, &tok, &opts)).await.unwrap());
    assert_eq!(
        set["accepterVpcInfo"]["peeringOptions"]["allowDnsResolutionFromRemoteVpc"],
        json!(true),
        "{set}"
    );
    assert!(
        render_table(&set).contains("dns-resolution-from-remote-vpc"),
        "{}",
        render_table(&set)
    );
    execute(&parse(&url, &tok, &["peering", "delete", pcx_id]))
        .await
        .unwrap();
    execute(&parse(&url, &tok, &["vpc", "delete", peer_id]))
        .await
        .unwrap();
    // VPC DNS through the CLI: a private zone, a record, and dig from the instance.
    let z = value(
        execute(&parse(
            &url,
            &tok,
            &["zone", "create", "--name", "corp.internal", "--vpc", vpc_id],
        ))
        .await
        .unwrap(),
    );
    let zid = z["hostedZoneId"].as_str().unwrap();
    execute(&parse(
        &url,
        &tok,
        &[
            "zone",
            "set",
            zid,
            "--name",
            "db.corp.internal",
            "--type",
            "A",
            "--value",
            "10.90.1.77",
            "--ttl",
            "30",
        ],
    ))
    .await
    .unwrap();
    match execute(&parse(
        &url,
        &tok,
        &[
            "exec",
            "--via-api",
            inst_id,
            "--",
            "dig",
            "+short",
            "+time=2",
            "db.corp.internal",
        ],
    ))
    .await
    .unwrap()
    {
        Outcome::Exec { code, stdout, .. } => {
            assert_eq!(code, 0);
            assert_eq!(String::from_utf8_lossy(&stdout).trim(), "10.90.1.77");
        }
        other => panic!("{other:?}"),
    }
    // A bad health check matcher is refused with the reason.
    let e = execute(&parse(
        &url,
        &tok,
        &[
            "tg",
            "create",
            "--vpc",
            vpc_id,
            "--port",
            "443",
            "--check",
            "HTTP",
            "--matcher",
            "200,999",
        ],
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("400") && e.contains("matcher"), "{e}");
    execute(&parse(&url, &tok, &["zone", "delete", zid]))
        .await
        .unwrap();
    // Attached exec is authorized by the API first.
    let e = execute(&parse(
        &url,
        &tok,
        &[
            "--as",
            "arn:aws:iam::222222222222:root",
            "exec",
            inst_id,
            "--",
            "true",
        ],
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("403"), "{e}");
    // Another account is refused, and the message names both accounts.
    let e = execute(&parse(
        &url,
        &tok,
        &[
            "--as",
            "arn:aws:iam::222222222222:root",
            "vpc",
            "show",
            vpc_id,
        ],
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("403") && e.contains("222222222222") && e.contains("000000000001"),
        "{e}"
    );
    let e = execute(&parse(&url, &tok, &["--as", "root", "vpc", "list"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("--as"), "{e}");
    let e = execute(&parse(&url, &tok, &["vpc", "delete", vpc_id]))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("409") && e.contains(inst_id), "{e}");
    assert!(matches!(
        execute(&parse(&url, &tok, &["instance", "delete", inst_id]))
            .await
            .unwrap(),
        Outcome::Done(_)
    ));
    // The operator token is the credential: a wrong one is refused with 401.
    let bad = dir.path().join("wrong.token");
    std::fs::write(&bad, "lpc_not-the-token\n").unwrap();
    let e = execute(&parse(&url, &bad.display().to_string(), &["vpc", "list"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("401"), "{e}");
    let e = execute(&parse(&url, "/nonexistent/cloud.token", &["vpc", "list"]))
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("--cloud-token-file"), "{e:#}");
    // Nothing listening: a clear message.
    let e = execute(&parse("http://127.0.0.1:9", &tok, &["vpc", "list"]))
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("linkplane serve"), "{e:#}");
    server.abort();
}

/// Consistent verbs (issue 14): `sg revoke` takes `sg allow`'s arguments, `zone set`
/// replaces an ALIAS by an A record and back (a CNAME conflict says what to remove), and
/// `route add --vpc` routes from every subnet of the VPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbs_take_the_same_arguments_against_a_served_localcloud() {
    if !linkplane_netns::testing::require_root("cli::cloud::verbs_take_the_same_arguments") {
        return;
    }
    let prefix =
        linkplane_localcloud::Prefix::parse(&linkplane_netns::testing::unique_prefix()).unwrap();
    struct Gc(linkplane_localcloud::Prefix);
    impl Drop for Gc {
        fn drop(&mut self) {
            linkplane_localcloud::gc(&self.0);
        }
    }
    let _gc = Gc(prefix.clone());
    let dir = tempfile::tempdir().unwrap();
    let engine = linkplane_localcloud::Engine::open(linkplane_localcloud::EngineConfig::new(
        dir.path(),
        prefix,
    ))
    .await
    .unwrap();
    let tok = engine.operator_token_path().display().to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = linkplane_localcloud::api::router(std::sync::Arc::new(engine));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let run = |args: Vec<String>| {
        let (url, tok) = (url.clone(), tok.clone());
        async move {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            execute(&parse(&url, &tok, &a)).await
        }
    };
    let v = |o: Outcome| match o {
        Outcome::Value(v) => v,
        other => panic!("{other:?}"),
    };
    let w = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();

    let vpc = v(run(w("vpc create --cidr 10.91.0.0/16")).await.unwrap());
    let vpc_id = vpc["vpcId"].as_str().unwrap().to_owned();
    let mut subnets = vec![];
    for (cidr, az) in [
        ("10.91.1.0/24", "us-east-1a"),
        ("10.91.2.0/24", "us-east-1b"),
    ] {
        let s = v(run(w(&format!(
            "subnet create --vpc {vpc_id} --cidr {cidr} --az {az}"
        )))
        .await
        .unwrap());
        subnets.push(s["subnetId"].as_str().unwrap().to_owned());
    }

    // sg: allow, then revoke with the same words.
    let sg = v(run(w(&format!("sg create --vpc {vpc_id} --name e")))
        .await
        .unwrap());
    let sg_id = sg["groupId"].as_str().unwrap().to_owned();
    let spec = "--protocol tcp --port 443 --cidr 10.91.1.0/24";
    let rule = v(run(w(&format!("sg allow {sg_id} {spec}"))).await.unwrap());
    assert!(
        render_table(&rule).starts_with("ingress tcp 443 from 10.91.1.0/24 (sgr-"),
        "{}",
        render_table(&rule)
    );
    let rules = |g: &Value| g["rules"].as_array().unwrap().len();
    let before = rules(&v(run(w(&format!("sg show {sg_id}"))).await.unwrap()));
    run(w(&format!("sg revoke {sg_id} {spec}"))).await.unwrap();
    let after = v(run(w(&format!("sg show {sg_id}"))).await.unwrap());
    assert_eq!(rules(&after), before - 1, "{after}");
    assert!(!after.to_string().contains("10.91.1.0/24"), "{after}");
    let err = run(w(&format!("sg revoke {sg_id} {spec}")))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("has no ingress rule tcp 443 from 10.91.1.0/24")
            && err.contains("egress all traffic to 0.0.0.0/0"),
        "{err}"
    );
    // By id, as before.
    let rule = v(run(w(&format!(
        "sg allow {sg_id} --protocol udp --port 53 --cidr 10.0.0.0/8"
    )))
    .await
    .unwrap());
    let rule_id = rule["ruleId"].as_str().unwrap();
    run(w(&format!("sg revoke {sg_id} {rule_id}")))
        .await
        .unwrap();
    assert_eq!(
        rules(&v(run(w(&format!("sg show {sg_id}"))).await.unwrap())),
        before - 1
    );

    // zone set: ALIAS -> A -> ALIAS, each replacing the other; CNAME says what to remove.
    let zone = v(run(w(&format!(
        "zone create --name corp.internal --vpc {vpc_id}"
    )))
    .await
    .unwrap());
    let zone_id = zone["hostedZoneId"].as_str().unwrap().to_owned();
    let set = |kind: &str, value: &str| {
        w(&format!(
            "zone set {zone_id} --name api.corp.internal --type {kind} --value {value}"
        ))
    };
    let types = |z: &Value| -> Vec<String> {
        z["recordSets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["name"] == "api.corp.internal")
            .map(|r| r["type"].as_str().unwrap().to_owned())
            .collect()
    };
    let z = v(run(set("ALIAS", "vpce-1.example.internal")).await.unwrap());
    assert_eq!(types(&z), ["ALIAS"]);
    let z = v(run(set("A", "10.91.1.7")).await.unwrap());
    assert_eq!(types(&z), ["A"], "{z}");
    let z = v(run(set("ALIAS", "vpce-2.example.internal")).await.unwrap());
    assert_eq!(types(&z), ["ALIAS"], "{z}");
    let err = run(set("CNAME", "db.corp.internal"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "linkplane cloud zone unset {zone_id} --name api.corp.internal --type ALIAS"
        )),
        "{err}"
    );
    let z = v(run(w(&format!("zone show {zone_id}"))).await.unwrap());
    assert_eq!(types(&z), ["ALIAS"], "a refused set changes nothing: {z}");

    // route add --vpc: every subnet's route table.
    let igw = v(run(w(&format!("igw create --vpc {vpc_id}"))).await.unwrap());
    let igw_id = igw["internetGatewayId"].as_str().unwrap().to_owned();
    let added = v(run(w(&format!(
        "route add --vpc {vpc_id} --destination 0.0.0.0/0 --target {igw_id}"
    )))
    .await
    .unwrap());
    assert_eq!(added.as_array().unwrap().len(), 2, "{added}");
    for s in &subnets {
        let routes = v(run(w(&format!("route list --subnet {s}"))).await.unwrap());
        assert!(
            routes.to_string().contains(&igw_id),
            "{s} has no route to {igw_id}: {routes}"
        );
    }
    assert!(
        Top::try_parse_from([
            "cloud",
            "route",
            "add",
            "--destination",
            "0.0.0.0/0",
            "--target",
            "igw-1"
        ])
        .is_err(),
        "--subnet or --vpc is required"
    );
    server.abort();
}
