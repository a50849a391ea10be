//! The client's `--wait` and `activate-instructions` against a `serve` that provisions
//! LOCAL clusters in localcloud (needs root and namespaces; the server's own prefix is
//! garbage-collected when the test ends, even on panic).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use support::{Run, Server, run};

const CUSTOMER: &str = "arn:aws:iam::123456789012:root";

fn cloud(server: &Server, args: &[&str]) -> Run {
    let mut cmd = server.cmd(&["cloud", "--as", CUSTOMER]);
    cmd.args(args);
    run(cmd, None)
}

#[test]
fn cluster_and_peering_follow_their_statuses_with_wait() {
    if !linkplane_netns::testing::require_root(
        "cluster_and_peering_follow_their_statuses_with_wait",
    ) {
        return;
    }
    let server = Server::start();

    // Cluster: CREATING -> CREATED, with a progress line and its external IPs.
    let out = server
        .lp(&[
            "cluster",
            "create",
            "--name",
            "prod",
            "--type",
            "DEDICATED",
            "--region",
            "us-east-1",
            "--vpc-subnet-range",
            "10.20.0.0/16",
            "--wait",
            "--wait-timeout",
            "120",
            "--wait-interval",
            "1",
            "-o",
            "json",
        ])
        .ok();
    let cluster = out.json();
    assert_eq!(cluster["status"], "CREATED", "{out:#?}");
    assert!(out.stderr.contains(": CREATED ("), "{}", out.stderr);
    assert!(
        cluster["externalIps"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{cluster}"
    );
    let cluster_id = cluster["id"].as_str().unwrap().to_owned();

    // The customer's VPC in localcloud.
    let vpc = cloud(
        &server,
        &[
            "vpc",
            "create",
            "--cidr",
            "10.1.0.0/16",
            "--name",
            "data",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    let vpc_id = vpc["vpcId"].as_str().unwrap().to_owned();

    // Peering: PENDING -> PENDING_ACTIVATION, where --wait hands over to the customer.
    let peer = |vpc: &str, cidr: &str| {
        server.lp(&[
            "peering",
            "create",
            "--cluster",
            &cluster_id,
            "--name",
            "data",
            "--peer-account-id",
            "123456789012",
            "--peer-vpc-id",
            vpc,
            "--peer-region",
            "us-east-1",
            "--peer-cidr",
            cidr,
            "--wait",
            "--wait-timeout",
            "120",
            "--wait-interval",
            "1",
            "-o",
            "json",
        ])
    };
    let out = peer(&vpc_id, "10.1.0.0/16").ok();
    let peering = out.json();
    assert_eq!(peering["status"], "PENDING_ACTIVATION", "{out:#?}");
    assert!(
        out.stderr.contains("activate-instructions"),
        "{}",
        out.stderr
    );
    let peering_id = peering["id"].as_str().unwrap().to_owned();

    // The instructions name the customer's commands; run the accept they print.
    let text = server
        .lp(&[
            "peering",
            "activate-instructions",
            "--cluster",
            &cluster_id,
            &peering_id,
        ])
        .ok();
    let accept = text
        .stdout
        .lines()
        .find_map(|l| {
            l.split_once("peering accept ")
                .map(|(_, pcx)| pcx.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no accept step in:\n{}", text.stdout));
    let json: Value = server
        .lp(&[
            "peering",
            "activate-instructions",
            "--cluster",
            &cluster_id,
            &peering_id,
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert!(
        json["steps"].as_array().is_some_and(|s| s.len() >= 2),
        "{json}"
    );
    cloud(&server, &["peering", "accept", &accept]).ok();

    // get --wait follows it to ACTIVE; the default route for the peer CIDR appears.
    let out = server
        .lp(&[
            "peering",
            "get",
            "--cluster",
            &cluster_id,
            &peering_id,
            "--wait",
            "--wait-timeout",
            "120",
            "--wait-interval",
            "1",
            "-o",
            "json",
        ])
        .ok();
    assert_eq!(out.json()["status"], "ACTIVE", "{out:#?}");
    let routes = server.lp(&["route", "list", "--cluster", &cluster_id]).ok();
    assert!(routes.stdout.contains("10.1.0.0/16"), "{}", routes.stdout);
    let out = server
        .lp(&[
            "peering",
            "activate-instructions",
            "--cluster",
            &cluster_id,
            &peering_id,
        ])
        .failed();
    assert!(out.stderr.contains("already ACTIVE"), "{}", out.stderr);

    // A VPC that does not exist: NOT_FOUND ends the wait with a failure and the reason.
    let out = peer("vpc-0badc0de", "10.9.0.0/16").failed();
    assert!(out.stderr.contains("NOT_FOUND"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);

    // Deleting with --wait returns once the resource is gone: the routes (the API refuses
    // to delete a connection that routes target), the connection, then the cluster.
    let routes = server
        .lp(&["route", "list", "--cluster", &cluster_id, "-o", "json"])
        .ok()
        .json();
    for r in routes["items"].as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        server
            .lp(&[
                "route",
                "delete",
                "--cluster",
                &cluster_id,
                id,
                "--wait",
                "--wait-timeout",
                "120",
                "--wait-interval",
                "1",
            ])
            .ok();
    }
    let out = server
        .lp(&["peering", "list", "--cluster", &cluster_id, "-o", "json"])
        .ok()
        .json();
    for p in out["items"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        server
            .lp(&[
                "peering",
                "delete",
                "--cluster",
                &cluster_id,
                id,
                "--wait",
                "--wait-timeout",
                "120",
                "--wait-interval",
                "1",
            ])
            .ok();
    }
    let peerings = server
        .lp(&["peering", "list", "--cluster", &cluster_id, "-o", "json"])
        .ok()
        .json();
    assert!(
        peerings["items"].as_array().is_some_and(|p| p.is_empty()),
        "{peerings}"
    );
    let out = server
        .lp(&[
            "cluster",
            "delete",
            &cluster_id,
            "--wait",
            "--wait-timeout",
            "120",
            "--wait-interval",
            "1",
        ])
        .ok();
    assert!(out.stderr.contains("Deleted cluster"), "{}", out.stderr);
    let out = server.lp(&["cluster", "get", &cluster_id]).failed();
    assert!(out.stderr.contains("HTTP 404"), "{}", out.stderr);
}
