//! Transit gateway measurements (run by bench/tgw.sh; ignored in normal test runs), side by
//! side in one run between the same two VPCs: bulk TCP (iperf3) and ICMP round trips
//! through a transit gateway vs a direct VPC peering; the same through the gateway with
//! 10,000 extra static routes in its route table (route lookup cost); and the time to
//! create the n-th VPC attachment on one gateway as attachments accumulate. Bounded in time
//! and count; everything is gc'd on drop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use common::{Cloud, env_u64, exec_ok, median, principal};
use linkplane_localcloud::types::*;

/// (Gbit/s received, median ICMP round trip in µs) from `from` to `ip`.
async fn measure(c: &Cloud, from: &Instance, ip: &str, secs: u64, runs: u64) -> (f64, f64) {
    let mut gbits = vec![];
    let mut rtts = vec![];
    for _ in 0..runs {
        let json = exec_ok(
            c,
            from,
            &format!("iperf3 -J -c {ip} -p 5201 -t {secs}"),
            secs + 20,
        )
        .await;
        let v: serde_json::Value = serde_json::from_str(&json).expect("iperf3 JSON");
        gbits.push(
            v["end"]["sum_received"]["bits_per_second"]
                .as_f64()
                .expect("sum_received")
                / 1e9,
        );
        // "rtt min/avg/max/mdev = 0.031/0.045/0.120/0.010 ms"
        let ping = exec_ok(c, from, &format!("ping -q -n -c 200 -i 0.002 {ip}"), 30).await;
        let avg = ping
            .lines()
            .find_map(|l| l.split_once(" = ").filter(|(k, _)| k.contains("rtt")))
            .and_then(|(_, v)| v.split('/').nth(1))
            .and_then(|a| a.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no rtt in {ping}"));
        rtts.push(avg * 1000.0);
    }
    (median(gbits), median(rtts))
}

async fn set_route(
    c: &Cloud,
    p: &linkplane_localcloud::Principal,
    s: &Subnet,
    dest: &str,
    to: &str,
) {
    let _ = c.engine.delete_route(p, &s.subnet_id, dest).await;
    c.engine
        .create_route(
            p,
            &s.subnet_id,
            CreateRoute {
                destination_cidr_block: dest.into(),
                target_id: to.into(),
            },
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: bench/tgw.sh runs it as root and prints the tables"]
async fn bench_tgw_vs_peering_routes_and_attachments() {
    let Some(c) = Cloud::new("bench_tgw_vs_peering").await else {
        return;
    };
    let secs = env_u64("BENCH_SECONDS", 3, 30);
    let runs = env_u64("BENCH_RUNS", 3, 5);
    let attachments = env_u64("BENCH_ATTACHMENTS", 100, 200);
    let p = principal("111111111111");

    // Two VPCs, an instance in each; the target lets 10.0.0.0/8 in for iperf3 and ICMP.
    let va = c.vpc(&p, "10.80.0.0/16").await;
    let sa = c.subnet(&p, &va, "10.80.1.0/24").await;
    let vb = c.vpc(&p, "10.81.0.0/16").await;
    let sb = c.subnet(&p, &vb, "10.81.1.0/24").await;
    let sg = c
        .engine
        .create_security_group(
            &p,
            CreateSecurityGroup {
                vpc_id: vb.vpc_id.clone(),
                group_name: "bench".into(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    for (proto, port) in [("tcp", Some(5201)), ("icmp", None)] {
        c.engine
            .add_security_group_rule(
                &p,
                &sg.group_id,
                CreateSecurityGroupRule {
                    direction: "ingress".into(),
                    ip_protocol: proto.into(),
                    from_port: port,
                    to_port: port,
                    cidr_ip: Some("10.0.0.0/8".into()),
                    source_security_group_id: None,
                },
            )
            .await
            .unwrap();
    }
    let client = c.instance(&p, &sa, &[]).await;
    let server = c.instance(&p, &sb, &[&sg.group_id]).await;
    c.engine
        .run_process(
            &p,
            &server.instance_id,
            &["iperf3".into(), "-s".into(), "-p".into(), "5201".into()],
        )
        .await
        .unwrap();
    c.wait_listening(&p, &server, 5201).await;
    let ip = server.private_ip_address.clone();

    // Path 1: a peering between the two VPCs.
    let pcx = c
        .engine
        .create_peering(
            &p,
            CreatePeering {
                vpc_id: va.vpc_id.clone(),
                peer_vpc_id: vb.vpc_id.clone(),
                peer_owner_id: None,
                peer_region: None,
            },
        )
        .await
        .unwrap()
        .vpc_peering_connection_id;
    c.engine.accept_peering(&p, &pcx).await.unwrap();
    set_route(&c, &p, &sa, "10.81.0.0/16", &pcx).await;
    set_route(&c, &p, &sb, "10.80.0.0/16", &pcx).await;
    let peering = measure(&c, &client, &ip, secs, runs).await;

    // Path 2: a transit gateway both VPCs attach to (same account: available at once).
    let tgw = c
        .engine
        .create_transit_gateway(&p, CreateTransitGateway::default())
        .await
        .unwrap();
    let t = tgw.transit_gateway_id.clone();
    for (v, s) in [(&va, &sa), (&vb, &sb)] {
        let a = c
            .engine
            .create_transit_gateway_vpc_attachment(
                &p,
                CreateTransitGatewayVpcAttachment {
                    transit_gateway_id: t.clone(),
                    vpc_id: v.vpc_id.clone(),
                    subnet_ids: vec![s.subnet_id.clone()],
                },
            )
            .await
            .unwrap();
        assert_eq!(a.state, "available");
    }
    set_route(&c, &p, &sa, "10.81.0.0/16", &t).await;
    set_route(&c, &p, &sb, "10.80.0.0/16", &t).await;
    let via_tgw = measure(&c, &client, &ip, secs, runs).await;

    // Path 2 again with 10,000 more static blackhole routes (172.16.0.0/24 … 172.55.15.0/24)
    // in the gateway's route table: the kernel's FIB lookup, not a list walk.
    let rtb = tgw
        .options
        .association_default_route_table_id
        .clone()
        .unwrap();
    let mut each = vec![];
    for i in 0..10_000u32 {
        let (a, b) = (16 + i / 256, i % 256);
        let start = Instant::now();
        c.engine
            .create_transit_gateway_route(
                &p,
                &rtb,
                CreateTransitGatewayRoute {
                    destination_cidr_block: format!("172.{a}.{b}.0/24"),
                    transit_gateway_attachment_id: None,
                    blackhole: true,
                },
            )
            .await
            .unwrap();
        each.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let routes_secs: f64 = each.iter().sum::<f64>() / 1000.0;
    let with_routes = measure(&c, &client, &ip, secs, runs).await;

    println!();
    println!(
        "| path (same two VPCs, one run) | TCP Gbit/s (median of {runs} × {secs} s) | ICMP RTT µs (median of {runs} × 200) |"
    );
    println!("|---|---|---|");
    for (name, (g, r)) in [
        ("VPC peering (direct)", peering),
        ("transit gateway", via_tgw),
        (
            "transit gateway, 10,000 more routes in its table",
            with_routes,
        ),
    ] {
        println!("| {name} | {g:.2} | {r:.0} |");
    }
    println!(
        "| ratio TGW / peering | {:.2} | {:.2} |",
        via_tgw.0 / peering.0,
        via_tgw.1 / peering.1
    );
    println!();
    println!(
        "| static routes in the gateway's table | adding one more, ms (median of the 1,000 before) |"
    );
    println!("|---|---|");
    for at in [1_000usize, 5_000, 10_000] {
        println!("| {at} | {:.2} |", median(each[at - 1_000..at].to_vec()));
    }
    println!("| all 10,000 | {routes_secs:.1} s |");

    // Attachment create time as attachments accumulate on one gateway.
    let mut times = vec![];
    for i in 0..attachments {
        let cidr = format!("10.{}.{}.0/24", 100 + i / 256, i % 256);
        let v = c.vpc(&p, &cidr).await;
        let s = c.subnet(&p, &v, &cidr).await;
        let start = Instant::now();
        c.engine
            .create_transit_gateway_vpc_attachment(
                &p,
                CreateTransitGatewayVpcAttachment {
                    transit_gateway_id: t.clone(),
                    vpc_id: v.vpc_id.clone(),
                    subnet_ids: vec![s.subnet_id.clone()],
                },
            )
            .await
            .unwrap();
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    println!();
    println!(
        "| attachments on the gateway | create time of the next one, ms (median of 5 around it) |"
    );
    println!("|---|---|");
    for at in [10u64, 50, 100, 200] {
        if at as usize <= times.len() {
            let lo = (at as usize).saturating_sub(5);
            println!("| {at} | {:.1} |", median(times[lo..at as usize].to_vec()));
        }
    }
    // The traffic still flows after all of it.
    assert!(via_tgw.0 > 0.0 && with_routes.0 > 0.0);
}
