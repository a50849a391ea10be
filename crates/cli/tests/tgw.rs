//! A transit gateway attachment driven only through the `linkplane` binary against a real
//! `serve` (documents 002 and 003, self-service): the customer makes a transit gateway and
//! attaches their VPC with `cloud tgw`; the cluster's attachment prints the RAM share and the
//! accept commands in `instructions`, and each printed command, run exactly as printed, moves
//! it on until it is ACTIVE (the back route too, its subnet filled in). Needs root and namespaces; the server's prefix is
//! garbage-collected when the test ends, even on panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Run, Server, run};

const CUSTOMER_ACCOUNT: &str = "123456789012";
const CUSTOMER: &str = "arn:aws:iam::123456789012:root";

fn cloud(server: &Server, args: &[&str]) -> Value {
    let mut cmd = server.cmd(&["cloud", "--as", CUSTOMER]);
    cmd.args(args).args(["-o", "json"]);
    run(cmd, None).ok().json()
}

/// Run one printed instruction word for word (it starts with `linkplane`).
fn run_instruction(server: &Server, step: &str) -> Run {
    let words: Vec<&str> = step.split_whitespace().collect();
    assert_eq!(words[0], "linkplane", "{step}");
    server.lp(&words[1..])
}

fn wait_attachment(
    server: &Server,
    cluster: &str,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let v = server
            .lp(&["tgw", "get", "--cluster", cluster, id, "-o", "json"])
            .ok()
            .json();
        if done(&v) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "attachment never {what}: {v}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn instructions(v: &Value) -> Vec<String> {
    v["instructions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn printed_transit_gateway_commands_run_as_printed() {
    if !linkplane_netns::testing::require_root("printed_transit_gateway_commands_run_as_printed") {
        return;
    }
    let mut server = Server::start();
    let cluster = server
        .lp(&[
            "cluster",
            "create",
            "--name",
            "tgw",
            "--cloud-provider",
            "AWS",
            "--type",
            "DEDICATED",
            "--region",
            "us-east-1",
            "--vpc-subnet-range",
            "10.72.0.0/16",
            "--wait",
            "--wait-timeout",
            "120",
            "--wait-interval",
            "1",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(cluster["status"], "CREATED", "{cluster}");
    let cluster_id = cluster["id"].as_str().unwrap().to_owned();

    // The customer's side, all through `cloud`: a VPC and subnet, a transit gateway with
    // AWS's defaults, their own VPC attached (available at once: same account).
    let vpc = cloud(&server, &["vpc", "create", "--cidr", "10.97.0.0/16"]);
    let vpc_id = vpc["vpcId"].as_str().unwrap().to_owned();
    let subnet = cloud(
        &server,
        &[
            "subnet",
            "create",
            "--vpc",
            &vpc_id,
            "--cidr",
            "10.97.1.0/24",
            "--az",
            "us-east-1a",
        ],
    );
    let subnet_id = subnet["subnetId"].as_str().unwrap().to_owned();
    let tgw = cloud(&server, &["tgw", "create", "--description", "hub"]);
    assert_eq!(tgw["options"]["amazonSideAsn"], 64512, "{tgw}");
    assert_eq!(
        tgw["options"]["autoAcceptSharedAttachments"], "disable",
        "{tgw}"
    );
    let tgw_id = tgw["transitGatewayId"].as_str().unwrap().to_owned();
    let own = cloud(
        &server,
        &[
            "tgw", "attach", &tgw_id, "--vpc", &vpc_id, "--subnet", &subnet_id,
        ],
    );
    assert_eq!(own["state"], "available", "{own}");

    // The cluster's attachment waits for the share and prints the command.
    let att = server
        .lp(&[
            "tgw",
            "create",
            "--cluster",
            &cluster_id,
            "--name",
            "corp",
            "--transit-gateway-id",
            &tgw_id,
            "--peer-account-id",
            CUSTOMER_ACCOUNT,
            "--cidr",
            "10.97.0.0/16",
            "-o",
            "json",
        ])
        .ok()
        .json();
    let att_id = att["id"].as_str().unwrap().to_owned();
    let waiting = wait_attachment(&server, &cluster_id, &att_id, "asked for the share", |v| {
        instructions(v)
            .first()
            .is_some_and(|s| s.contains("ram create-resource-share"))
    });
    let share = instructions(&waiting);
    assert_eq!(share.len(), 1, "{waiting}");
    assert!(
        share[0].starts_with(&format!("linkplane cloud --as {CUSTOMER} ram ")),
        "{share:?}"
    );
    run_instruction(&server, &share[0]).ok();
    // kill -9 while the platform accepts the share and attaches: the restarted serve adopts
    // what exists (one attachment of the cluster VPC, counted below), never a second one.
    std::thread::sleep(Duration::from_millis(150));
    server.kill_and_restart();

    // The platform accepts the share and attaches; the owner's accept command comes next.
    let pending = wait_attachment(&server, &cluster_id, &att_id, "asked for acceptance", |v| {
        instructions(v)
            .first()
            .is_some_and(|s| s.contains("tgw accept-attachment"))
    });
    let accept = instructions(&pending);
    assert_eq!(accept.len(), 1, "{pending}");
    let cloud_id = pending["cloudResourceId"].as_str().unwrap().to_owned();
    assert!(accept[0].ends_with(&cloud_id), "{accept:?} {pending}");
    let listed = cloud(&server, &["tgw", "attachments"]);
    let mine = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["transitGatewayAttachmentId"] == cloud_id.as_str())
        .unwrap_or_else(|| panic!("the owner does not see {cloud_id}: {listed}"));
    assert_eq!(mine["state"], "pendingAcceptance", "{mine}");
    run_instruction(&server, &accept[0]).ok();
    server.kill_and_restart();

    let active = wait_attachment(&server, &cluster_id, &att_id, "ACTIVE", |v| {
        v["status"] == "ACTIVE"
    });
    assert_eq!(active["cloudResourceId"], cloud_id.as_str(), "{active}");
    assert_eq!(
        active["clusterCidrs"],
        serde_json::json!(["10.72.0.0/16"]),
        "{active}"
    );
    // The back route, with the one thing the platform cannot know (the customer's subnet)
    // filled in, runs as printed.
    let back = instructions(&active);
    assert_eq!(back.len(), 1, "{active}");
    assert!(back[0].contains("<your-subnet-id>"), "{back:?}");
    run_instruction(&server, &back[0].replace("<your-subnet-id>", &subnet_id)).ok();
    let routes = cloud(&server, &["route", "list", "--subnet", &subnet_id]);
    assert!(
        routes.as_array().unwrap().iter().any(
            |r| r["destinationCidrBlock"] == "10.72.0.0/16" && r["targetId"] == tgw_id.as_str()
        ),
        "back route: {routes}"
    );

    // Exactly two live attachments on the gateway after two kill -9s: the customer's and the
    // cluster's.
    let listed = cloud(&server, &["tgw", "attachments"]);
    let live: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["transitGatewayId"] == tgw_id.as_str() && a["state"] != "deleted")
        .collect();
    assert_eq!(live.len(), 2, "{listed}");

    // The gateway's default route table has both VPCs' CIDRs, propagated.
    let rtb = tgw["options"]["associationDefaultRouteTableId"]
        .as_str()
        .unwrap()
        .to_owned();
    let routes = cloud(&server, &["tgw", "routes", &rtb]);
    for cidr in ["10.97.0.0/16", "10.72.0.0/16"] {
        assert!(
            routes
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["destinationCidrBlock"] == cidr
                    && r["type"] == "propagated"
                    && r["state"] == "active"),
            "{cidr} not propagated: {routes}"
        );
    }
    // A static blackhole beats the propagated route for the same prefix.
    cloud(
        &server,
        &[
            "tgw",
            "create-route",
            &rtb,
            "--destination",
            "10.97.0.0/16",
            "--blackhole",
        ],
    );
    let routes = cloud(&server, &["tgw", "routes", &rtb]);
    assert!(
        routes
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["destinationCidrBlock"] == "10.97.0.0/16"
                && r["type"] == "static"
                && r["state"] == "blackhole"),
        "{routes}"
    );

    // Deleting detaches: the owner sees the attachment go.
    server
        .lp(&["tgw", "delete", "--cluster", &cluster_id, &att_id])
        .ok();
    let start = Instant::now();
    loop {
        let listed = cloud(&server, &["tgw", "attachments"]);
        let state = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["transitGatewayAttachmentId"] == cloud_id.as_str())
            .map(|a| a["state"].as_str().unwrap_or("").to_owned());
        if matches!(state.as_deref(), None | Some("deleted")) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{cloud_id} never deleted: {listed}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
