//! Measurements through localcloud itself (run by bench/privatelink.sh; ignored in normal
//! test runs): bulk TCP from a consumer instance to a provider instance through an
//! interface endpoint vs the direct routed path (VPC peering) between the same two VPCs,
//! small HTTP requests (wrk against nginx) over the same two paths, and dnsperf against a
//! VPC resolver. Bounded in time; everything is gc'd on drop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Cloud, env_u64, exec_ok, median, principal};
use linkplane_localcloud::types::*;

/// Gbit/s received, from iperf3's JSON.
fn gbits(json: &str) -> f64 {
    let v: serde_json::Value = serde_json::from_str(json).expect("iperf3 JSON");
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .expect("sum_received")
        / 1e9
}

/// The port nginx serves on in the target instance, and the endpoint's second listener.
const HTTP_PORT: i32 = 8080;

/// An nginx configuration (files under the test's directory) serving a 128-byte file.
fn nginx_conf(c: &Cloud) -> String {
    let dir = c.dir.path().join("nginx");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("small.txt"), "x".repeat(128)).unwrap();
    let d = dir.display();
    let conf = format!(
        "daemon off;\nuser root;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\nevents {{ worker_connections 4096; }}\n\
         http {{ access_log off; keepalive_requests 100000;\n\
           client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
           server {{ listen {HTTP_PORT} backlog=4096; root {d}/www; }} }}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    path.display().to_string()
}

/// What wrk --latency printed.
struct Wrk {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
}

impl Wrk {
    fn parse(out: &str) -> Self {
        // "123.45us", "1.20ms", "2.00s"
        let us = |v: &str| -> f64 {
            let at = v
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(v.len());
            let (n, unit) = v.split_at(at);
            let n: f64 = n.parse().unwrap_or(f64::NAN);
            match unit {
                "us" => n,
                "ms" => n * 1000.0,
                "s" => n * 1_000_000.0,
                _ => f64::NAN,
            }
        };
        let field = |key: &str| {
            out.lines()
                .map(str::split_whitespace)
                .find_map(|mut w| (w.next() == Some(key)).then(|| w.next().map(str::to_owned)))
                .flatten()
                .unwrap_or_default()
        };
        let rps = out
            .lines()
            .find(|l| l.starts_with("Requests/sec:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        Self {
            rps,
            p50_us: us(&field("50%")),
            p99_us: us(&field("99%")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run bench/privatelink.sh"]
async fn bench_endpoint_vs_routed_and_resolver_qps() {
    let Some(c) = Cloud::new("bench_endpoint_vs_routed_and_resolver_qps").await else {
        return;
    };
    let secs = env_u64("BENCH_SECONDS", 4, 30);
    let runs = env_u64("BENCH_RUNS", 3, 5);
    let pp = principal("111111111111");
    let cp = principal("222222222222");
    let pv = c.vpc(&pp, "10.60.0.0/16").await;
    let ps = c.subnet(&pp, &pv, "10.60.1.0/24").await;
    let sg = c
        .engine
        .create_security_group(
            &pp,
            CreateSecurityGroup {
                vpc_id: pv.vpc_id.clone(),
                group_name: "iperf".into(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    for cidr in ["10.60.0.0/16", "10.61.0.0/16"] {
        for port in [5201, HTTP_PORT] {
            c.engine
                .add_security_group_rule(
                    &pp,
                    &sg.group_id,
                    CreateSecurityGroupRule {
                        direction: "ingress".into(),
                        ip_protocol: "tcp".into(),
                        from_port: Some(port),
                        to_port: Some(port),
                        cidr_ip: Some(cidr.into()),
                        source_security_group_id: None,
                    },
                )
                .await
                .unwrap();
        }
    }
    let target = c.instance(&pp, &ps, &[&sg.group_id]).await;
    c.engine
        .run_process(
            &pp,
            &target.instance_id,
            &["iperf3".into(), "-s".into(), "-p".into(), "5201".into()],
        )
        .await
        .unwrap();
    c.wait_listening(&pp, &target, 5201).await;
    let conf = nginx_conf(&c);
    c.engine
        .run_process(
            &pp,
            &target.instance_id,
            &["nginx".into(), "-c".into(), conf.clone()],
        )
        .await
        .unwrap();
    c.wait_listening(&pp, &target, HTTP_PORT as u16).await;
    let tg = c
        .engine
        .create_target_group(
            &pp,
            CreateTargetGroup {
                vpc_id: pv.vpc_id.clone(),
                port: 5201,
                health_check: Some(HealthCheck {
                    interval_millis: 500,
                    timeout_millis: 400,
                    healthy_threshold: 1,
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    c.engine
        .register_targets(
            &pp,
            &tg.target_group_id,
            Targets {
                targets: vec![TargetRef {
                    instance_id: target.instance_id.clone(),
                    port: None,
                }],
            },
        )
        .await
        .unwrap();
    let lb = c
        .engine
        .create_load_balancer(
            &pp,
            CreateLoadBalancer {
                subnet_ids: vec![ps.subnet_id.clone()],
                name: None,
            },
        )
        .await
        .unwrap();
    c.engine
        .create_listener(
            &pp,
            &lb.load_balancer_id,
            CreateListener {
                port: 5201,
                target_group_id: tg.target_group_id.clone(),
            },
        )
        .await
        .unwrap();
    let web_tg = c
        .engine
        .create_target_group(
            &pp,
            CreateTargetGroup {
                vpc_id: pv.vpc_id.clone(),
                port: HTTP_PORT as u16,
                health_check: Some(HealthCheck {
                    interval_millis: 500,
                    timeout_millis: 400,
                    healthy_threshold: 1,
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    c.engine
        .register_targets(
            &pp,
            &web_tg.target_group_id,
            Targets {
                targets: vec![TargetRef {
                    instance_id: target.instance_id.clone(),
                    port: None,
                }],
            },
        )
        .await
        .unwrap();
    c.engine
        .create_listener(
            &pp,
            &lb.load_balancer_id,
            CreateListener {
                port: HTTP_PORT as u16,
                target_group_id: web_tg.target_group_id.clone(),
            },
        )
        .await
        .unwrap();
    let svc = c
        .engine
        .create_endpoint_service(
            &pp,
            CreateEndpointService {
                load_balancer_id: lb.load_balancer_id.clone(),
                acceptance_required: false,
                allowed_principals: vec!["*".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let cv = c.vpc(&cp, "10.61.0.0/16").await;
    let cs = c.subnet(&cp, &cv, "10.61.1.0/24").await;
    let client = c.instance(&cp, &cs, &[]).await;
    let csg = c
        .engine
        .create_security_group(
            &cp,
            CreateSecurityGroup {
                vpc_id: cv.vpc_id.clone(),
                group_name: "endpoint".into(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    c.engine
        .add_security_group_rule(
            &cp,
            &csg.group_id,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: "tcp".into(),
                from_port: Some(5201),
                to_port: Some(HTTP_PORT),
                cidr_ip: Some("10.61.0.0/16".into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
    let ep = c
        .engine
        .create_endpoint(
            &cp,
            CreateEndpoint {
                vpc_id: cv.vpc_id.clone(),
                service_name: svc.service_name.clone(),
                subnet_ids: vec![cs.subnet_id.clone()],
                security_group_ids: vec![csg.group_id.clone()],
                private_dns_enabled: None,
            },
        )
        .await
        .unwrap();
    let eni = ep.network_interfaces[0].private_ip_address.clone();
    // The direct routed path between the same two VPCs: a peering with routes both ways.
    let pcx = c
        .engine
        .create_peering(
            &cp,
            CreatePeering {
                vpc_id: cv.vpc_id.clone(),
                peer_vpc_id: pv.vpc_id.clone(),
                peer_owner_id: Some("111111111111".into()),
                peer_region: None,
            },
        )
        .await
        .unwrap();
    c.engine
        .accept_peering(&pp, &pcx.vpc_peering_connection_id)
        .await
        .unwrap();
    for (p, s, dest) in [(&cp, &cs, "10.60.0.0/16"), (&pp, &ps, "10.61.0.0/16")] {
        c.engine
            .create_route(
                p,
                &s.subnet_id,
                CreateRoute {
                    destination_cidr_block: dest.into(),
                    target_id: pcx.vpc_peering_connection_id.clone(),
                },
            )
            .await
            .unwrap();
    }
    // Wait for the targets to be healthy.
    for group in [&tg.target_group_id, &web_tg.target_group_id] {
        for _ in 0..100 {
            let h = c.engine.target_health(&pp, group).await.unwrap();
            if h[0].state == "healthy" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    println!(
        "\n| streams | direct routed (peering) Gbit/s | through the endpoint Gbit/s | endpoint / direct |"
    );
    println!("|---:|---:|---:|---:|");
    for streams in [1, 8] {
        let mut results = Vec::new();
        for dest in [&target.private_ip_address, &eni] {
            let mut v = Vec::new();
            for _ in 0..runs {
                let out = exec_ok(
                    &c,
                    &client,
                    &format!("iperf3 -c {dest} -p 5201 -t {secs} -P {streams} -J"),
                    secs + 20,
                )
                .await;
                v.push(gbits(&out));
            }
            results.push(median(v));
        }
        println!(
            "| {streams} | {:.1} | {:.1} | {:.0}% |",
            results[0],
            results[1],
            100.0 * results[1] / results[0]
        );
    }

    // Small HTTP requests (issue 8 item 2) through the same two paths: wrk in the client
    // instance against nginx in the target instance.
    println!(
        "\n| load (wrk, 1 thread, {secs} s, 128-byte file) | path | requests/s | p50 µs | p99 µs | p50 added µs | p99 added µs |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (label, conns, close) in [
        ("keep-alive, 1 connection", 1, false),
        ("keep-alive, 64 connections", 64, false),
        (
            "Connection: close, 16 concurrent (new connections/s)",
            16,
            true,
        ),
    ] {
        let mut base = (0.0, 0.0);
        for (path, dest) in [
            ("direct routed (peering)", &target.private_ip_address),
            ("through the endpoint", &eni),
        ] {
            let hdr = if close { "-H 'Connection: close'" } else { "" };
            let out = exec_ok(
                &c,
                &client,
                &format!(
                    "wrk -t 1 -c {conns} -d {secs}s --latency {hdr} http://{dest}:{HTTP_PORT}/small.txt"
                ),
                secs + 20,
            )
            .await;
            let w = Wrk::parse(&out);
            let added = if base == (0.0, 0.0) {
                base = (w.p50_us, w.p99_us);
                ("—".to_string(), "—".to_string())
            } else {
                (
                    format!("{:.0}", w.p50_us - base.0),
                    format!("{:.0}", w.p99_us - base.1),
                )
            };
            println!(
                "| {label} | {path} | {:.0} | {:.0} | {:.0} | {} | {} |",
                w.rps, w.p50_us, w.p99_us, added.0, added.1
            );
        }
    }

    // Resolver queries per second: a private zone name and the endpoint's name.
    let z = c
        .engine
        .create_hosted_zone(
            &cp,
            CreateHostedZone {
                name: "corp.internal".into(),
                vpc_ids: vec![cv.vpc_id.clone()],
            },
        )
        .await
        .unwrap();
    c.engine
        .upsert_record_set(
            &cp,
            &z.hosted_zone_id,
            RecordSet {
                name: "db.corp.internal".into(),
                kind: "A".into(),
                ttl: 60,
                values: vec!["10.61.1.9".into()],
            },
        )
        .await
        .unwrap();
    let resolver = cv.dns_resolver.clone();
    let qfile = c.dir.path().join("queries.txt");
    std::fs::write(
        &qfile,
        format!(
            "db.corp.internal A\n{} A\nnothere.corp.internal A\n",
            ep.dns_entries[0].dns_name
        ),
    )
    .unwrap();
    println!("\n| resolver | queries/s | avg latency ms | lost |");
    println!("|---|---:|---:|---:|");
    let out = exec_ok(
        &c,
        &client,
        &format!(
            "dnsperf -s {resolver} -d {} -l {secs} -c 4 -Q 200000 2>&1",
            qfile.display()
        ),
        secs + 20,
    )
    .await;
    let field = |key: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(key))
            .and_then(|l| {
                l.split_whitespace().nth(match key {
                    "Queries per second:" => 3,
                    "Average Latency (s):" => 3,
                    _ => 2,
                })
            })
            .unwrap_or("?")
            .to_string()
    };
    let lat: f64 = field("Average Latency (s):").parse().unwrap_or(f64::NAN);
    println!(
        "| VPC resolver at base+2 (private zone, endpoint name, NXDOMAIN) | {} | {:.3} | {} |",
        field("Queries per second:"),
        lat * 1000.0,
        field("Queries lost:")
    );
    eprintln!("{out}");
}
