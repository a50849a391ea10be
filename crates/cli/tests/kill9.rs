//! Crash safety with a real process: `linkplane serve` is killed with SIGKILL while it
//! provisions a LOCAL cluster, several times at different moments, and restarted on the same
//! data directory. It must converge to one cluster network — no duplicate VPC, subnets, NAT
//! gateways, elastic IPs or internet gateways — and deleting the cluster must leave no
//! namespace behind. (The controllers' in-process crash tests stop tasks; this stops the
//! process, threads and children included.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::Server;

const PLATFORM: &str = "arn:aws:iam::100000000000:root";

fn namespaces(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// `linkplane cloud --as <platform> <what> list` as JSON.
fn platform_list(server: &Server, what: &[&str]) -> Vec<Value> {
    let mut args = vec!["cloud", "--as", PLATFORM];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "json"]);
    let out = server.lp(&args).ok();
    serde_json::from_str::<Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("{what:?}: {e}: {}", out.stdout))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn status(server: &Server, id: &str) -> (bool, String) {
    let out = server.lp(&["cluster", "get", id, "-o", "json"]);
    if out.code != Some(0) {
        return (false, out.stderr);
    }
    (true, out.json()["status"].as_str().unwrap_or("").to_owned())
}

#[test]
fn kill_9_while_provisioning_converges_without_duplicates_or_leaks() {
    if !linkplane_netns::testing::require_root("kill_9_while_provisioning") {
        return;
    }
    let mut server = Server::start();
    let before = namespaces(&server.prefix);
    let id = server.create_cluster("crashy", "DEDICATED", "10.77.0.0/22");
    // Kill at different points of the provisioning (it takes a few hundred ms in all).
    for delay in [30, 120, 250] {
        std::thread::sleep(Duration::from_millis(delay));
        server.kill_and_restart();
    }
    let start = Instant::now();
    loop {
        let (_, st) = status(&server, &id);
        if st == "CREATED" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "cluster {id} is {st} after restarts; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // One network: exactly what one cluster is built of.
    let name = format!("linkplane/{id}");
    let vpcs: Vec<Value> = platform_list(&server, &["vpc", "list"])
        .into_iter()
        .filter(|v| v["name"] == name.as_str())
        .collect();
    assert_eq!(vpcs.len(), 1, "{vpcs:?}");
    let vpc_id = vpcs[0]["vpcId"].as_str().unwrap().to_owned();
    let of_vpc = |list: Vec<Value>| -> usize {
        list.iter()
            .filter(|x| x["vpcId"] == vpc_id.as_str())
            .count()
    };
    assert_eq!(of_vpc(platform_list(&server, &["subnet", "list"])), 4);
    assert_eq!(of_vpc(platform_list(&server, &["igw", "list"])), 1);
    let nats = platform_list(&server, &["nat", "list"]);
    assert_eq!(of_vpc(nats.clone()), 2, "{nats:?}");
    let eips = platform_list(&server, &["eip", "list"]);
    assert_eq!(
        eips.len(),
        2,
        "one elastic IP per NAT gateway, none leaked: {eips:?}"
    );
    // A restart without a crash changes nothing.
    server.kill_and_restart();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(platform_list(&server, &["eip", "list"]).len(), 2);
    assert_eq!(of_vpc(platform_list(&server, &["subnet", "list"])), 4);

    // Deleting the cluster removes its namespaces: back to what the server had before.
    server.lp(&["cluster", "delete", &id]).ok();
    let start = Instant::now();
    while status(&server, &id).0 {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "cluster {id} not deleted; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(namespaces(&server.prefix), before);
}
