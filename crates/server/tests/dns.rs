//! Hostname resolution for LOCAL clusters (document 002), end to end with real DNS: the real
//! control plane, localcloud's VPC resolvers, `dig` from an instance in the cluster's VPC.
//!
//! - "If your external VPC resolves DNS hostnames using private hosted zones, then you must
//!   associate your Route53 private hosted zone with the Astro VPC" — a
//!   HOSTED_ZONE_ASSOCIATION waits (PENDING, with the command) until the zone's owner
//!   authorizes it, then the cluster resolves the zone's names; a zone for another domain or
//!   a zone that does not exist is FAILED; deleting the resolution stops it.
//! - "Astronomer support can create Private hosted zones for reflecting particular DNS
//!   records in your environment" — PRIVATE_ZONE, self-service.
//! - "Use Domain Name System (DNS) forwarding to allow Astro to resolve DNS queries for
//!   resources running in other VPCs or on-premises" — FORWARDING to a DNS server.
//! - "Using Route 53 requires sharing a resolver rule with your Astro account" —
//!   RESOLVER_RULE, PENDING with the share command until the customer shares it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use linkplane_dataplane::dns::{DnsView, LocalSockets, PrivateZone, ZoneRecord};
use linkplane_localcloud::types::{CreateHostedZone, CreateSecurityGroupRule, RecordSet};
use serde_json::json;

const MIN: Duration = Duration::from_secs(60);

async fn customer_zone(h: &Harness, name: &str, records: &[(&str, &str)]) -> String {
    let z = h
        .engine()
        .create_hosted_zone(
            &customer(),
            CreateHostedZone {
                name: name.into(),
                vpc_ids: vec![],
            },
        )
        .await
        .unwrap();
    for (n, ip) in records {
        h.engine()
            .upsert_record_set(
                &customer(),
                &z.hosted_zone_id,
                RecordSet {
                    name: (*n).into(),
                    kind: "A".into(),
                    ttl: 30,
                    values: vec![(*ip).into()],
                },
            )
            .await
            .unwrap();
    }
    z.hosted_zone_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_private_zone_associated_with_the_cluster_vpc_resolves_from_the_cluster() {
    if !linkplane_netns::testing::require_root("customer_private_zone_associated") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(300))).await;
    let cluster = h.created_cluster("10.72.0.0/22").await;
    let cid = s(&cluster, "id");
    // "To retrieve the ID of any Astro VPC, contact Astronomer support": here the cluster
    // says it, with the account that holds it.
    let vpc = h.cluster_vpc(&cid).await;
    assert_eq!(cluster["vpcId"], vpc.vpc_id.as_str(), "{cluster}");
    assert_eq!(
        cluster["accountId"],
        linkplane_server::PLATFORM_ACCOUNT,
        "{cluster}"
    );
    let zone = customer_zone(&h, "corp.internal", &[("db.corp.internal", "10.80.1.10")]).await;
    let worker = h.cluster_instance(&cid).await;
    assert_eq!(h.dig(&worker, "db.corp.internal").await, "");

    // The customer asks for the association; the platform cannot associate another
    // account's zone before its owner authorizes it: PENDING, with the command.
    let path = format!("/clusters/{cid}/dns-resolutions");
    let r = h
        .post(
            &path,
            json!({"name": "corp", "kind": "HOSTED_ZONE_ASSOCIATION",
                   "domain": "corp.internal", "hostedZoneId": zone}),
        )
        .await;
    assert_eq!(r["status"], "PENDING", "{r}");
    let rpath = format!("{path}/{}", s(&r, "id"));
    let r = h
        .wait_for(&rpath, MIN, |st, v| {
            st == 200 && v["instructions"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert_eq!(r["status"], "PENDING", "{r}");
    assert!(
        s(&r, "statusReason").contains(CUSTOMER_ACCOUNT),
        "names the zone's owner: {r}"
    );
    let steps: Vec<String> = r["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        steps,
        [format!(
            "linkplane cloud --as {CUSTOMER} zone authorize {zone} --vpc {}",
            vpc.vpc_id
        )]
    );
    assert_eq!(h.dig(&worker, "db.corp.internal").await, "");

    // A second association of the same zone on this cluster is refused.
    let (st, v) = h
        .call(
            reqwest::Method::POST,
            &path,
            Some(json!({"name": "again", "kind": "HOSTED_ZONE_ASSOCIATION",
                        "domain": "corp.internal", "hostedZoneId": zone})),
        )
        .await;
    assert_eq!(st, 409, "{v}");

    run_instructions(&h, &steps).await;
    let r = h.wait_status(&rpath, "AVAILABLE", MIN).await;
    assert_eq!(r["cloudResourceId"], zone.as_str(), "{r}");
    assert_eq!(r["instructions"], json!([]), "{r}");
    assert_eq!(h.dig(&worker, "db.corp.internal").await, "10.80.1.10");

    // A zone for another domain than the one asked for: FAILED, and not left associated.
    let other = customer_zone(&h, "other.internal", &[("x.other.internal", "10.80.1.11")]).await;
    h.engine()
        .authorize_zone_association(&customer(), &other, &vpc.vpc_id)
        .await
        .unwrap();
    let bad = h
        .post(
            &path,
            json!({"name": "typo", "kind": "HOSTED_ZONE_ASSOCIATION",
                   "domain": "corp2.internal", "hostedZoneId": other}),
        )
        .await;
    let bad = h
        .wait_status(&format!("{path}/{}", s(&bad, "id")), "FAILED", MIN)
        .await;
    assert!(
        s(&bad, "statusReason").contains("is for other.internal, not corp2.internal"),
        "{bad}"
    );
    assert_eq!(h.dig(&worker, "x.other.internal").await, "");
    // A zone that does not exist: FAILED, saying so.
    let missing = h
        .post(
            &path,
            json!({"name": "missing", "kind": "HOSTED_ZONE_ASSOCIATION",
                   "domain": "gone.internal", "hostedZoneId": "hz-00000000"}),
        )
        .await;
    let missing = h
        .wait_status(&format!("{path}/{}", s(&missing, "id")), "FAILED", MIN)
        .await;
    assert!(
        s(&missing, "statusReason").contains("hz-00000000"),
        "{missing}"
    );

    // Deleting the association: the cluster no longer resolves the zone.
    let (st, v) = h.delete(&rpath).await;
    assert!(st == 202 || st == 204, "{st} {v}");
    h.wait_for(&rpath, MIN, |st, _| st == 404).await;
    assert_eq!(h.dig(&worker, "db.corp.internal").await, "");
    let z = h
        .engine()
        .get_hosted_zone(&customer(), &zone)
        .await
        .unwrap();
    assert!(!z.vpc_ids.contains(&vpc.vpc_id), "{z:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_zone_forwarding_and_a_shared_rule_resolve_from_the_cluster() {
    if !linkplane_netns::testing::require_root("private_zone_forwarding_and_a_shared_rule") {
        return;
    }
    let h = Harness::start(fast_config(Duration::from_secs(300))).await;
    let cluster = h.created_cluster("10.74.0.0/22").await;
    let cid = s(&cluster, "id");
    let vpc = h.cluster_vpc(&cid).await;
    let worker = h.cluster_instance(&cid).await;
    let path = format!("/clusters/{cid}/dns-resolutions");

    // PRIVATE_ZONE: records the platform serves for the cluster.
    let z = h
        .post(
            &path,
            json!({"name": "db", "kind": "PRIVATE_ZONE", "domain": "db.example.com",
                   "records": [{"name": "@", "type": "A", "value": "10.90.0.5"},
                               {"name": "replica", "type": "A", "value": "10.90.0.6"},
                               {"name": "replica", "type": "A", "value": "10.90.0.7"}]}),
        )
        .await;
    let zpath = format!("{path}/{}", s(&z, "id"));
    let z = h.wait_status(&zpath, "AVAILABLE", MIN).await;
    assert!(s(&z, "cloudResourceId").starts_with("hz-"), "{z}");
    assert_eq!(h.dig(&worker, "db.example.com").await, "10.90.0.5");
    let mut replicas: Vec<String> = h
        .dig(&worker, "replica.db.example.com")
        .await
        .lines()
        .map(str::to_owned)
        .collect();
    replicas.sort();
    assert_eq!(replicas, ["10.90.0.6", "10.90.0.7"]);
    // Authoritative: a name the zone does not have is NXDOMAIN, not public DNS.
    assert_eq!(h.dig(&worker, "nope.db.example.com").await, "");

    // FORWARDING: a DNS server on another instance of the cluster's VPC (standing in for an
    // on-premises resolver reachable over a connection), allowed to receive port 53.
    let dns_host = h.cluster_instance(&cid).await;
    let cidr = cluster["vpcSubnetRange"].as_str().unwrap().to_owned();
    for proto in ["udp", "tcp"] {
        h.engine()
            .add_security_group_rule(
                &platform(),
                &vpc.default_security_group_id,
                CreateSecurityGroupRule {
                    direction: "ingress".into(),
                    ip_protocol: proto.into(),
                    from_port: Some(53),
                    to_port: Some(53),
                    cidr_ip: Some(cidr.clone()),
                    source_security_group_id: None,
                },
            )
            .await
            .unwrap();
    }
    let thread = linkplane_netns::NsThread::spawn(&dns_host.namespace).unwrap();
    let ip: IpAddr = dns_host.private_ip_address.parse().unwrap();
    let at = SocketAddr::new(ip, 53);
    let onprem = DnsView::new(Arc::new(LocalSockets));
    onprem
        .set_zones(vec![
            PrivateZone::new(
                "onprem.example",
                vec![
                    ZoneRecord::a("ldap.onprem.example", 30, "10.91.0.9".parse().unwrap()).unwrap(),
                ],
            )
            .unwrap(),
            PrivateZone::new(
                "shared.example",
                vec![
                    ZoneRecord::a("git.shared.example", 30, "10.92.0.7".parse().unwrap()).unwrap(),
                ],
            )
            .unwrap(),
        ])
        .unwrap();
    let server = onprem.serve(
        thread.udp_socket(at).unwrap(),
        thread.tcp_listener(at, 16).unwrap(),
    );
    assert_eq!(h.dig(&worker, "ldap.onprem.example").await, "");
    let f = h
        .post(
            &path,
            json!({"name": "onprem", "kind": "FORWARDING", "domain": "onprem.example",
                   "targets": [dns_host.private_ip_address]}),
        )
        .await;
    let fpath = format!("{path}/{}", s(&f, "id"));
    let f = h.wait_status(&fpath, "AVAILABLE", MIN).await;
    assert!(s(&f, "cloudResourceId").starts_with("rslvr-rr-"), "{f}");
    assert_eq!(h.dig(&worker, "ldap.onprem.example").await, "10.91.0.9");

    // RESOLVER_RULE: "Using Route 53 requires sharing a resolver rule with your Astro
    // account." The customer's rule (forwarding to the same server) waits, PENDING with the
    // share command, until the customer shares it; then the cluster resolves through it.
    let rule = h
        .engine()
        .create_resolver_rule(
            &customer(),
            linkplane_localcloud::types::CreateResolverRule {
                domain_name: "shared.example".into(),
                rule_type: "FORWARD".into(),
                target_ips: vec![dns_host.private_ip_address.clone()],
                name: Some("corp".into()),
            },
        )
        .await
        .unwrap()
        .resolver_rule_id;
    let rr = h
        .post(
            &path,
            json!({"name": "shared", "kind": "RESOLVER_RULE", "domain": "shared.example",
                   "resolverRuleId": rule}),
        )
        .await;
    let rpath = format!("{path}/{}", s(&rr, "id"));
    let rr = h
        .wait_for(&rpath, MIN, |st, v| {
            st == 200 && v["instructions"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert_eq!(rr["status"], "PENDING", "{rr}");
    let steps: Vec<String> = rr["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        steps,
        [format!(
            "linkplane cloud --as {CUSTOMER} rule share {rule} --account {}",
            linkplane_server::PLATFORM_ACCOUNT
        )]
    );
    assert_eq!(h.dig(&worker, "git.shared.example").await, "");
    run_instructions(&h, &steps).await;
    let rr = h.wait_status(&rpath, "AVAILABLE", MIN).await;
    assert_eq!(rr["cloudResourceId"], rule.as_str(), "{rr}");
    assert_eq!(h.dig(&worker, "git.shared.example").await, "10.92.0.7");

    // Deleting all three: the names stop resolving, and what the platform created is gone
    // (the customer's shared rule stays the customer's, no longer used by the cluster).
    let (st, v) = h.delete(&rpath).await;
    assert!(st == 202 || st == 204, "{st} {v}");
    h.wait_for(&rpath, MIN, |st, _| st == 404).await;
    assert_eq!(h.dig(&worker, "git.shared.example").await, "");
    let kept = h
        .engine()
        .get_resolver_rule(&customer(), &rule)
        .await
        .unwrap();
    assert!(kept.vpc_ids.is_empty(), "{kept:?}");
    for p in [&zpath, &fpath] {
        let (st, v) = h.delete(p).await;
        assert!(st == 202 || st == 204, "{st} {v}");
        h.wait_for(p, MIN, |st, _| st == 404).await;
    }
    assert_eq!(h.dig(&worker, "db.example.com").await, "");
    assert_eq!(h.dig(&worker, "ldap.onprem.example").await, "");
    // Only the customer's rule, shared with the platform, is left in its view.
    let left: Vec<String> = h
        .engine()
        .list_resolver_rules(&platform())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.resolver_rule_id)
        .collect();
    assert_eq!(left, [rule]);
    let zones = h.engine().list_hosted_zones(&platform()).await.unwrap();
    assert!(
        !zones.iter().any(|z| z.name.starts_with("db.example.com")),
        "{zones:?}"
    );
    server.stop().await;
}
