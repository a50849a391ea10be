//! Transit gateway attachments self-service, end to end (documents 002 and 003): the
//! customer creates a transit gateway in their account; the cluster's attachment is
//! `PENDING_SHARE` with the exact RAM share command (naming the platform's account) until the
//! customer shares it; the platform accepts the invitation, attaches the cluster's private
//! subnets, waits in `PENDING_ACCEPTANCE` for the owner (its command in `instructions`),
//! routes the customer CIDRs through the gateway and is `ACTIVE` with the cluster's CIDRs and
//! the back-route command; traffic flows from a cluster
//! instance to a customer instance, and a FORWARDING DNS resolution reaches a DNS server
//! behind the gateway; deleting detaches and removes the routes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use linkplane_dataplane::dns::{DnsView, LocalSockets, PrivateZone, ZoneRecord};
use linkplane_localcloud::types::{
    CreateRoute, CreateSecurityGroupRule, CreateTransitGateway, CreateTransitGatewayVpcAttachment,
};
use serde_json::{Value, json};

const MIN: Duration = Duration::from_secs(60);

/// Run a `linkplane cloud --as ARN ram …` / `tgw …` instruction against `/cloud/v1`, the
/// way the CLI will send it.
async fn run_tgw_step(h: &Harness, step: &str) {
    let words: Vec<&str> = step.split_whitespace().collect();
    assert_eq!(&words[..3], ["linkplane", "cloud", "--as"], "{step}");
    let who = words[3];
    let rest = &words[4..];
    let flag = |name: &str| {
        rest.iter()
            .position(|w| *w == name)
            .map(|i| rest[i + 1].to_string())
            .unwrap_or_else(|| panic!("{step}: no {name}"))
    };
    let (code, v) = match rest[..2] {
        ["ram", "create-resource-share"] => {
            h.cloud(
                who,
                reqwest::Method::POST,
                "/resource-shares",
                Some(
                    json!({"resourceId": flag("--resource-id"), "principal": flag("--principals")}),
                ),
            )
            .await
        }
        ["tgw", "accept-attachment"] => {
            h.cloud(
                who,
                reqwest::Method::POST,
                &format!("/transit-gateway-attachments/{}/accept", rest[2]),
                None,
            )
            .await
        }
        _ => panic!("unexpected instruction {step}"),
    };
    assert!((200..300).contains(&code), "{step}: {code} {v}");
}

/// The customer's commands the attachment shows.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_transit_gateway_carries_cluster_traffic() {
    if !linkplane_netns::testing::require_root("transit_gateway") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(60))).await;
    let c = h
        .post(
            "/clusters",
            json!({"name": "aws", "cloudProvider": "AWS", "type": "DEDICATED",
                   "region": "us-east-1", "vpcSubnetRange": "10.71.0.0/16"}),
        )
        .await;
    let cid = s(&c, "id");
    h.wait_status(&format!("/clusters/{cid}"), "CREATED", MIN)
        .await;

    // The customer's side: a VPC with two instances, a transit gateway (AWS's defaults:
    // autoAcceptSharedAttachments disable), their VPC attached, and back routes to the
    // cluster through the gateway.
    let engine = h.engine().clone();
    let cust = customer_net(&engine, "10.96.0.0/16", "10.71.0.0/16").await;
    let tgw = engine
        .create_transit_gateway(&customer(), CreateTransitGateway::default())
        .await
        .unwrap();
    let t = tgw.transit_gateway_id.clone();
    let own = engine
        .create_transit_gateway_vpc_attachment(
            &customer(),
            CreateTransitGatewayVpcAttachment {
                transit_gateway_id: t.clone(),
                vpc_id: cust.vpc_id.clone(),
                subnet_ids: cust.subnets.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(own.state, "available");
    for sn in &cust.subnets {
        engine
            .create_route(
                &customer(),
                sn,
                CreateRoute {
                    destination_cidr_block: "10.71.0.0/16".into(),
                    target_id: t.clone(),
                },
            )
            .await
            .unwrap();
    }

    let att = h
        .post(
            &format!("/clusters/{cid}/transit-gateway-attachments"),
            json!({"name": "tgw", "transitGatewayId": t,
                   "peerAccountId": CUSTOMER_ACCOUNT, "cidrs": ["10.96.0.0/16"]}),
        )
        .await;
    let path = format!(
        "/clusters/{cid}/transit-gateway-attachments/{}",
        s(&att, "id")
    );
    let share_cmd = format!(
        "linkplane cloud --as arn:aws:iam::{CUSTOMER_ACCOUNT}:root ram create-resource-share --resource-id {t} --principals 100000000000"
    );
    let pending = h
        .wait_for(&path, MIN, |st, v| {
            st == 200 && v["status"] == "PENDING_SHARE" && !instructions(v).is_empty()
        })
        .await;
    assert_eq!(instructions(&pending), vec![share_cmd.clone()], "{pending}");
    assert!(
        s(&pending, "statusReason").contains("not shared with the platform's account 100000000000"),
        "{pending}"
    );

    // The customer shares it; the platform accepts the invitation and attaches, and the
    // attachment waits for the owner (pendingAcceptance) with the accept command.
    run_tgw_step(&h, &share_cmd).await;
    let waiting = h
        .wait_for(&path, MIN, |st, v| {
            st == 200 && v["status"] == "PENDING_ACCEPTANCE"
        })
        .await;
    assert_eq!(
        waiting["statusReason"], "waiting for the transit gateway's owner to accept the attachment",
        "{waiting}"
    );
    let steps = instructions(&waiting);
    assert_eq!(steps.len(), 1, "{waiting}");
    assert!(
        steps[0].starts_with(&format!(
            "linkplane cloud --as arn:aws:iam::{CUSTOMER_ACCOUNT}:root tgw accept-attachment tgw-attach-"
        )),
        "{waiting}"
    );
    let inv = engine
        .list_resource_share_invitations(&platform())
        .await
        .unwrap();
    assert_eq!(inv.len(), 1);
    assert_eq!(inv[0].status, "ACCEPTED");
    run_tgw_step(&h, &steps[0]).await;
    // ACTIVE: the cluster's account and CIDRs for the customer's back routes (document 002:
    // "provides you with the Astro CIDRs"), and the back-route command.
    let active = h.wait_status(&path, "ACTIVE", MIN).await;
    assert_eq!(active["clusterAccountId"], "100000000000", "{active}");
    assert_eq!(active["clusterCidrs"], json!(["10.71.0.0/16"]), "{active}");
    assert_eq!(
        instructions(&active),
        vec![format!(
            "linkplane cloud --as arn:aws:iam::{CUSTOMER_ACCOUNT}:root route add --subnet <your-subnet-id> --destination 10.71.0.0/16 --target {t}"
        )],
        "{active}"
    );

    // One attachment of the cluster VPC, in its private subnets, one per zone.
    let vpc = h.cluster_vpc(&cid).await;
    let mine: Vec<_> = engine
        .list_transit_gateway_attachments(&platform())
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.vpc_id == vpc.vpc_id)
        .collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    let cloud_id = mine[0].transit_gateway_attachment_id.clone();
    assert_eq!(mine[0].state, "available");
    assert!(steps[0].ends_with(&cloud_id), "{steps:?}");
    assert_eq!(mine[0].subnet_ids.len(), 2, "{mine:?}");

    // The routes carry traffic from a cluster instance to the customer's instances.
    let worker = h.cluster_instance(&cid).await;
    for (i, inst) in cust.instances.iter().enumerate() {
        h.wait_reach(
            &worker,
            &inst.private_ip_address,
            &format!("hello-{}", i + 1),
            true,
        )
        .await;
    }

    // DNS over the transit gateway (document 002: "Transit Gateway doesn't provide built-in
    // support for DNS resolution"): a FORWARDING resolution reaches a DNS server on a
    // customer instance behind the gateway, over UDP and TCP port 53 from the cluster's CIDR.
    let cust_vpc = engine.get_vpc(&customer(), &cust.vpc_id).await.unwrap();
    for proto in ["udp", "tcp"] {
        engine
            .add_security_group_rule(
                &customer(),
                &cust_vpc.default_security_group_id,
                CreateSecurityGroupRule {
                    direction: "ingress".into(),
                    ip_protocol: proto.into(),
                    from_port: Some(53),
                    to_port: Some(53),
                    cidr_ip: Some("10.71.0.0/16".into()),
                    source_security_group_id: None,
                },
            )
            .await
            .unwrap();
    }
    let dns_host = &cust.instances[1];
    let thread = linkplane_netns::NsThread::spawn(&dns_host.namespace).unwrap();
    let at = SocketAddr::new(dns_host.private_ip_address.parse::<IpAddr>().unwrap(), 53);
    let corp = DnsView::new(Arc::new(LocalSockets));
    corp.set_zones(vec![
        PrivateZone::new(
            "corp.example",
            vec![ZoneRecord::a("ldap.corp.example", 30, "10.96.1.9".parse().unwrap()).unwrap()],
        )
        .unwrap(),
    ])
    .unwrap();
    let dns_server = corp.serve(
        thread.udp_socket(at).unwrap(),
        thread.tcp_listener(at, 16).unwrap(),
    );
    assert_eq!(h.dig(&worker, "ldap.corp.example").await, "");
    let dpath = format!("/clusters/{cid}/dns-resolutions");
    let f = h
        .post(
            &dpath,
            json!({"name": "corp", "kind": "FORWARDING", "domain": "corp.example",
                   "targets": [dns_host.private_ip_address]}),
        )
        .await;
    let fpath = format!("{dpath}/{}", s(&f, "id"));
    h.wait_status(&fpath, "AVAILABLE", MIN).await;
    assert_eq!(h.dig(&worker, "ldap.corp.example").await, "10.96.1.9");
    let (code, body) = h.delete(&fpath).await;
    assert!((200..300).contains(&code), "{code} {body}");
    h.wait_for(&fpath, MIN, |code, _| code == 404).await;
    drop(dns_server);

    // A route resource through the attachment goes through its transit gateway.
    let r = h
        .post(
            &format!("/clusters/{cid}/routes"),
            json!({"name": "via-tgw", "destinationCidr": "10.98.0.0/24", "targetId": s(&att, "id")}),
        )
        .await;
    h.wait_status(
        &format!("/clusters/{cid}/routes/{}", s(&r, "id")),
        "AVAILABLE",
        MIN,
    )
    .await;
    let subnets = engine
        .list_subnets(&platform(), Some(&vpc.vpc_id))
        .await
        .unwrap();
    for sn in &subnets {
        let routes = engine
            .list_routes(&platform(), &sn.subnet_id)
            .await
            .unwrap();
        for dest in ["10.96.0.0/16", "10.98.0.0/24"] {
            assert!(
                routes
                    .iter()
                    .any(|r| r.destination_cidr_block == dest && r.target_id == t),
                "{dest} via {t} in {}: {routes:?}",
                sn.subnet_id
            );
        }
    }
    let rpath = format!("/clusters/{cid}/routes/{}", s(&r, "id"));
    let (code, body) = h.delete(&rpath).await;
    assert!((200..300).contains(&code), "{code} {body}");
    h.wait_for(&rpath, MIN, |code, _| code == 404).await;

    // Deleting the attachment detaches and removes the routes.
    let (code, body) = h.delete(&path).await;
    assert!((200..300).contains(&code), "{code} {body}");
    h.wait_for(&path, MIN, |code, _| code == 404).await;
    let a = engine
        .get_transit_gateway_attachment(&platform(), &cloud_id)
        .await
        .unwrap();
    assert_eq!(a.state, "deleted");
    for sn in &subnets {
        let routes = engine
            .list_routes(&platform(), &sn.subnet_id)
            .await
            .unwrap();
        assert!(
            !routes.iter().any(|r| r.target_id == t),
            "no route through {t} is left in {}: {routes:?}",
            sn.subnet_id
        );
    }
    h.wait_reach(
        &worker,
        &cust.instances[0].private_ip_address,
        "hello-1",
        false,
    )
    .await;
    h.stop().await;
}
