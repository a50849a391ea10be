//! VPC DNS with `dig` from instances: private hosted zones (authoritative NXDOMAIN, CNAME,
//! alias, changes visible at once, cross-account association after authorization), public
//! names, a forwarding rule to a DNS server running in a peered VPC, and a SYSTEM rule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use common::{Cloud, principal};
use linkplane_dataplane::dns::{DnsView, LocalSockets, PrivateZone, ZoneRecord};
use linkplane_localcloud::types::*;
use linkplane_localcloud::{Error, Principal};

const OWNER: &str = "444444444444";
const OTHER: &str = "555555555555";

async fn dig(c: &Cloud, p: &Principal, inst: &Instance, args: &str) -> String {
    let (code, out, err) = c.sh(p, inst, &format!("dig +time=2 +tries=1 {args}")).await;
    assert_eq!(code, 0, "dig {args}: {out} {err}");
    out
}

async fn short(c: &Cloud, p: &Principal, inst: &Instance, name: &str) -> String {
    dig(c, p, inst, &format!("+short {name}"))
        .await
        .trim()
        .to_string()
}

async fn rule(c: &Cloud, p: &Principal, group: &str, proto: &str, port: i32, cidr: &str) {
    c.engine
        .add_security_group_rule(
            p,
            group,
            CreateSecurityGroupRule {
                direction: "ingress".into(),
                ip_protocol: proto.into(),
                from_port: Some(port),
                to_port: Some(port),
                cidr_ip: Some(cidr.into()),
                source_security_group_id: None,
            },
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_zones_public_names_and_cross_account_association() {
    let Some(mut c) = Cloud::new("private_zones_public_names_and_cross_account_association").await
    else {
        return;
    };
    let p = principal(OWNER);
    let q = principal(OTHER);
    let va = c.vpc(&p, "10.20.0.0/16").await;
    let sa = c.subnet(&p, &va, "10.20.1.0/24").await;
    let a = c.instance(&p, &sa, &[]).await;
    let vb = c.vpc(&q, "10.21.0.0/16").await;
    let sb = c.subnet(&q, &vb, "10.21.1.0/24").await;
    let b = c.instance(&q, &sb, &[]).await;

    // The platform's public name, served from the internet namespace.
    let name = "c0ffee.external.linkplane.test";
    c.engine
        .publish_public_record(PublicRecord {
            name: name.into(),
            values: vec!["198.51.100.7".into()],
            ttl: 30,
        })
        .await
        .unwrap();
    assert_eq!(short(&c, &p, &a, name).await, "198.51.100.7");
    // The same public server answers in the internet namespace itself.
    let out = c
        .engine
        .internet_exec(
            &[
                "dig".into(),
                "+short".into(),
                "+time=2".into(),
                "+tries=1".into(),
                format!("@{}", linkplane_localcloud::PUBLIC_DNS),
                name.into(),
            ],
            b"",
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "198.51.100.7");

    // A private zone on VPC A: authoritative, CNAME and alias chase, NXDOMAIN.
    let z = c
        .engine
        .create_hosted_zone(
            &p,
            CreateHostedZone {
                name: "external.linkplane.test".into(),
                vpc_ids: vec![va.vpc_id.clone()],
            },
        )
        .await
        .unwrap();
    let zid = z.hosted_zone_id.clone();
    for (n, kind, vals) in [
        (name, "A", vec!["10.20.1.250"]),
        ("www.external.linkplane.test", "CNAME", vec![name]),
        ("api.external.linkplane.test", "ALIAS", vec![name]),
    ] {
        c.engine
            .upsert_record_set(
                &p,
                &zid,
                RecordSet {
                    name: n.into(),
                    kind: kind.into(),
                    ttl: 60,
                    values: vals.into_iter().map(String::from).collect(),
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(
        short(&c, &p, &a, name).await,
        "10.20.1.250",
        "private IP inside the zone's VPC"
    );
    assert_eq!(
        short(&c, &q, &b, name).await,
        "198.51.100.7",
        "public IP without the zone"
    );
    let www = short(&c, &p, &a, "www.external.linkplane.test").await;
    assert_eq!(www, format!("{name}.\n10.20.1.250"));
    assert_eq!(
        short(&c, &p, &a, "api.external.linkplane.test").await,
        "10.20.1.250"
    );
    let nx = dig(&c, &p, &a, "nothere.external.linkplane.test").await;
    assert!(
        nx.contains("status: NXDOMAIN") && nx.contains(" aa"),
        "{nx}"
    );
    // TTL as configured; over TCP too.
    let full = dig(&c, &p, &a, &format!("+tcp +noall +answer {name}")).await;
    let words: Vec<&str> = full.split_whitespace().collect();
    assert_eq!(
        words,
        [&format!("{name}."), "60", "IN", "A", "10.20.1.250"],
        "{full}"
    );
    // A change is visible to the next query.
    c.engine
        .upsert_record_set(
            &p,
            &zid,
            RecordSet {
                name: name.into(),
                kind: "A".into(),
                ttl: 60,
                values: vec!["10.20.1.251".into()],
            },
        )
        .await
        .unwrap();
    assert_eq!(short(&c, &p, &a, name).await, "10.20.1.251");
    // Bad records are refused with the reason.
    let e = c
        .engine
        .upsert_record_set(
            &p,
            &zid,
            RecordSet {
                name: "x.other.test".into(),
                kind: "A".into(),
                ttl: 60,
                values: vec!["10.0.0.1".into()],
            },
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not in zone"), "{e}");
    let e = c
        .engine
        .upsert_record_set(
            &p,
            &zid,
            RecordSet {
                name: name.into(),
                kind: "CNAME".into(),
                ttl: 60,
                values: vec!["www.example.".into()],
            },
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("CNAME"), "{e}");

    // Another account's VPC: only after the zone owner authorizes it.
    let e = c
        .engine
        .associate_zone(&q, &zid, &vb.vpc_id)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden { .. }), "{e}");
    assert!(
        c.engine
            .authorize_zone_association(&q, &zid, &vb.vpc_id)
            .await
            .is_err(),
        "only the zone owner authorizes"
    );
    c.engine
        .authorize_zone_association(&p, &zid, &vb.vpc_id)
        .await
        .unwrap();
    let z = c.engine.associate_zone(&q, &zid, &vb.vpc_id).await.unwrap();
    assert_eq!(z.vpc_ids.len(), 2);
    assert_eq!(short(&c, &q, &b, name).await, "10.20.1.251");
    c.engine
        .disassociate_zone(&q, &zid, &vb.vpc_id)
        .await
        .unwrap();
    assert_eq!(short(&c, &q, &b, name).await, "198.51.100.7");
    // Restart: resolvers and the public DNS are rebuilt from the database.
    c.reopen().await;
    assert_eq!(short(&c, &p, &a, name).await, "10.20.1.251");
    assert_eq!(short(&c, &q, &b, name).await, "198.51.100.7");
    // Deleting the zone leaves VPC A with the public answer.
    c.engine.delete_hosted_zone(&p, &zid).await.unwrap();
    assert_eq!(short(&c, &p, &a, name).await, "198.51.100.7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_rule_to_a_dns_server_in_a_peered_vpc() {
    let Some(c) = Cloud::new("forwarding_rule_to_a_dns_server_in_a_peered_vpc").await else {
        return;
    };
    let p = principal(OWNER);
    let va = c.vpc(&p, "10.40.0.0/16").await;
    let sa = c.subnet(&p, &va, "10.40.1.0/24").await;
    let a = c.instance(&p, &sa, &[]).await;
    let vd = c.vpc(&p, "10.41.0.0/16").await;
    let sd = c.subnet(&p, &vd, "10.41.1.0/24").await;
    let dns_sg = c
        .engine
        .create_security_group(
            &p,
            CreateSecurityGroup {
                vpc_id: vd.vpc_id.clone(),
                group_name: "dns".into(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    rule(&c, &p, &dns_sg.group_id, "udp", 53, "10.40.0.0/16").await;
    rule(&c, &p, &dns_sg.group_id, "tcp", 53, "10.40.0.0/16").await;
    let d = c.instance(&p, &sd, &[&dns_sg.group_id]).await;

    // An "on-premises" DNS server inside instance d (hickory, on its own address).
    let thread = linkplane_netns::NsThread::spawn(&d.namespace).unwrap();
    let dip: IpAddr = d.private_ip_address.parse().unwrap();
    let at = SocketAddr::new(dip, 53);
    let onprem = DnsView::new(Arc::new(LocalSockets));
    onprem
        .set_zones(vec![
            PrivateZone::new(
                "onprem.example",
                vec![ZoneRecord::a("db.onprem.example", 30, "10.41.5.5".parse().unwrap()).unwrap()],
            )
            .unwrap(),
        ])
        .unwrap();
    let server = onprem.serve(
        thread.udp_socket(at).unwrap(),
        thread.tcp_listener(at, 16).unwrap(),
    );

    let r = c
        .engine
        .create_resolver_rule(
            &p,
            CreateResolverRule {
                domain_name: "onprem.example".into(),
                rule_type: "FORWARD".into(),
                target_ips: vec![d.private_ip_address.clone()],
                name: None,
            },
        )
        .await
        .unwrap();
    c.engine
        .associate_resolver_rule(&p, &r.resolver_rule_id, &va.vpc_id)
        .await
        .unwrap();
    // No path yet (not peered): the forwarded query fails.
    let out = dig(&c, &p, &a, "db.onprem.example").await;
    assert!(out.contains("status: SERVFAIL"), "{out}");

    // Peer the VPCs with routes on both sides: now the query leaves VPC A and is answered.
    let pcx = c
        .engine
        .create_peering(
            &p,
            CreatePeering {
                vpc_id: va.vpc_id.clone(),
                peer_vpc_id: vd.vpc_id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    c.engine
        .accept_peering(&p, &pcx.vpc_peering_connection_id)
        .await
        .unwrap();
    for (s, dest) in [(&sa, "10.41.0.0/16"), (&sd, "10.40.0.0/16")] {
        c.engine
            .create_route(
                &p,
                &s.subnet_id,
                CreateRoute {
                    destination_cidr_block: dest.into(),
                    target_id: pcx.vpc_peering_connection_id.clone(),
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(short(&c, &p, &a, "db.onprem.example").await, "10.41.5.5");
    assert_eq!(
        short(&c, &p, &a, "+tcp db.onprem.example").await,
        "10.41.5.5"
    );
    let nx = dig(&c, &p, &a, "nope.onprem.example").await;
    assert!(
        nx.contains("status: NXDOMAIN"),
        "relayed from the target: {nx}"
    );

    // A SYSTEM rule for a subdomain overrides the broader forward: public DNS answers.
    c.engine
        .publish_public_record(PublicRecord {
            name: "www.public.onprem.example".into(),
            values: vec!["203.0.113.80".into()],
            ttl: 30,
        })
        .await
        .unwrap();
    let out = dig(&c, &p, &a, "www.public.onprem.example").await;
    assert!(out.contains("status: NXDOMAIN"), "forwarded: {out}");
    let sys = c
        .engine
        .create_resolver_rule(
            &p,
            CreateResolverRule {
                domain_name: "public.onprem.example".into(),
                rule_type: "SYSTEM".into(),
                target_ips: vec![],
                name: None,
            },
        )
        .await
        .unwrap();
    c.engine
        .associate_resolver_rule(&p, &sys.resolver_rule_id, &va.vpc_id)
        .await
        .unwrap();
    assert_eq!(
        short(&c, &p, &a, "www.public.onprem.example").await,
        "203.0.113.80"
    );
    // Bad rules are refused.
    for (t, ips) in [
        ("FORWARD", vec![]),
        ("SYSTEM", vec!["10.0.0.2".to_string()]),
        ("RECURSIVE", vec![]),
    ] {
        let e = c
            .engine
            .create_resolver_rule(
                &p,
                CreateResolverRule {
                    domain_name: "x.example".into(),
                    rule_type: t.into(),
                    target_ips: ips,
                    name: None,
                },
            )
            .await;
        assert!(e.is_err(), "{t}");
    }
    let e = c
        .engine
        .delete_resolver_rule(&p, &r.resolver_rule_id)
        .await
        .unwrap_err();
    assert!(e.to_string().contains(&va.vpc_id), "{e}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_resolver_rule_is_used_by_the_recipients_vpc_until_unshared() {
    // Document 002: "Using Route 53 requires sharing a resolver rule with your Astro
    // account." Here OWNER's rule forwards to a DNS server; OTHER's VPC uses it once shared.
    let Some(c) = Cloud::new("a_shared_resolver_rule_is_used_by_the_recipients_vpc").await else {
        return;
    };
    let (p, q) = (principal(OWNER), principal(OTHER));
    let vq = c.vpc(&q, "10.42.0.0/16").await;
    let sq = c.subnet(&q, &vq, "10.42.1.0/24").await;
    let client = c.instance(&q, &sq, &[]).await;
    rule(
        &c,
        &q,
        &vq.default_security_group_id,
        "udp",
        53,
        "10.42.0.0/16",
    )
    .await;
    rule(
        &c,
        &q,
        &vq.default_security_group_id,
        "tcp",
        53,
        "10.42.0.0/16",
    )
    .await;
    let d = c.instance(&q, &sq, &[]).await;
    let thread = linkplane_netns::NsThread::spawn(&d.namespace).unwrap();
    let at = SocketAddr::new(d.private_ip_address.parse::<IpAddr>().unwrap(), 53);
    let corp = DnsView::new(Arc::new(LocalSockets));
    corp.set_zones(vec![
        PrivateZone::new(
            "shared.example",
            vec![ZoneRecord::a("db.shared.example", 30, "10.42.9.9".parse().unwrap()).unwrap()],
        )
        .unwrap(),
    ])
    .unwrap();
    let server = corp.serve(
        thread.udp_socket(at).unwrap(),
        thread.tcp_listener(at, 16).unwrap(),
    );
    let r = c
        .engine
        .create_resolver_rule(
            &p,
            CreateResolverRule {
                domain_name: "shared.example".into(),
                rule_type: "FORWARD".into(),
                target_ips: vec![d.private_ip_address.clone()],
                name: Some("corp".into()),
            },
        )
        .await
        .unwrap();
    let id = r.resolver_rule_id.clone();

    // Not shared: the other account can neither see nor use it.
    for e in [
        c.engine.get_resolver_rule(&q, &id).await.unwrap_err(),
        c.engine
            .associate_resolver_rule(&q, &id, &vq.vpc_id)
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(e, Error::Forbidden { .. }), "{e}");
        assert!(e.to_string().contains("has not shared it"), "{e}");
    }
    assert!(c.engine.list_resolver_rules(&q).await.unwrap().is_empty());
    // Only the owner shares; a bad account id and the owner itself are refused.
    let e = c
        .engine
        .share_resolver_rule(&q, &id, OTHER)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden { .. }), "{e}");
    for bad in ["5555", OWNER] {
        let e = c
            .engine
            .share_resolver_rule(&p, &id, bad)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("accountId"), "{bad}: {e}");
    }

    let shared = c.engine.share_resolver_rule(&p, &id, OTHER).await.unwrap();
    assert_eq!(shared.shared_with, [OTHER]);
    let seen = c.engine.list_resolver_rules(&q).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].owner_id, OWNER);
    assert_eq!(short(&c, &q, &client, "db.shared.example").await, "");
    c.engine
        .associate_resolver_rule(&q, &id, &vq.vpc_id)
        .await
        .unwrap();
    assert_eq!(
        short(&c, &q, &client, "db.shared.example").await,
        "10.42.9.9"
    );
    // The owner cannot delete a rule a recipient still uses.
    let e = c.engine.delete_resolver_rule(&p, &id).await.unwrap_err();
    assert!(e.to_string().contains(&vq.vpc_id), "{e}");

    // Unsharing takes it out of the recipient's VPC.
    let after = c
        .engine
        .unshare_resolver_rule(&p, &id, OTHER)
        .await
        .unwrap();
    assert!(
        after.shared_with.is_empty() && after.vpc_ids.is_empty(),
        "{after:?}"
    );
    assert_eq!(short(&c, &q, &client, "db.shared.example").await, "");
    let e = c
        .engine
        .unshare_resolver_rule(&p, &id, OTHER)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    c.engine.delete_resolver_rule(&p, &id).await.unwrap();
    server.stop().await;
}
