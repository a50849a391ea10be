//! Cost as it grows (issue 3, item 9): time to create one VPC with two subnets and two
//! instances, then 100 of them, and a restart (reconcile) over all of them. Ignored by
//! default; run it with
//!
//!   cargo test -p linkplane-localcloud --test scale -- --ignored --nocapture
//!
//! LP_SCALE_N sets the number of VPCs (default 100).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Cloud, principal};
use linkplane_localcloud::types::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: creates 100 VPCs (about 700 kernel objects); run on demand"]
async fn creation_cost_grows_linearly() {
    let Some(mut c) = Cloud::new("creation_cost_grows_linearly").await else {
        return;
    };
    let n: usize = std::env::var("LP_SCALE_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    assert!((10..=250).contains(&n), "LP_SCALE_N must be 10-250");
    let p = principal("111111111111");
    let mut per_vpc = Vec::with_capacity(n);
    let total = Instant::now();
    let mut last = None;
    for k in 0..n {
        let t = Instant::now();
        let cidr = format!("10.{}.{}.0/24", k / 16, (k % 16) * 16);
        let vpc = c
            .engine
            .create_vpc(
                &p,
                CreateVpc {
                    cidr_block: cidr,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let base: ipnet::Ipv4Net = vpc.cidr_block.parse().unwrap();
        let halves: Vec<ipnet::Ipv4Net> = base.subnets(25).unwrap().collect();
        let mut insts = Vec::new();
        for (h, az) in halves.iter().zip(["us-east-1a", "us-east-1b"]) {
            let s = c
                .engine
                .create_subnet(
                    &p,
                    CreateSubnet {
                        vpc_id: vpc.vpc_id.clone(),
                        cidr_block: h.to_string(),
                        availability_zone: az.into(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            insts.push(c.instance(&p, &s, &[]).await);
        }
        per_vpc.push(t.elapsed());
        last = Some(insts);
    }
    let total = total.elapsed();
    // The last VPC works: its two instances talk across subnets.
    let insts = last.unwrap();
    c.serve(&p, &insts[1], 7000).await;
    assert!(
        c.connect(&p, &insts[0], &insts[1].private_ip_address, 7000)
            .await
            .is_some()
    );

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let decile = (n / 10).max(1);
    let avg = |s: &[Duration]| s.iter().map(|d| ms(*d)).sum::<f64>() / s.len() as f64;
    let first = avg(&per_vpc[..decile]);
    let lastd = avg(&per_vpc[n - decile..]);
    let t = Instant::now();
    c.reopen().await;
    let reopen = t.elapsed();
    println!(
        "localcloud scale: 1 VPC (2 subnets, 2 instances) = {:.0} ms; {n} VPCs = {:.1} s ({:.0} ms/VPC); first {decile} avg {first:.0} ms, last {decile} avg {lastd:.0} ms; restart (reconcile, all adopted) = {:.1} s",
        ms(per_vpc[0]),
        total.as_secs_f64(),
        ms(total) / n as f64,
        reopen.as_secs_f64()
    );
    assert!(
        lastd < first * 2.0 + 50.0,
        "creation cost grew: first {first:.0} ms, last {lastd:.0} ms per VPC"
    );
}
