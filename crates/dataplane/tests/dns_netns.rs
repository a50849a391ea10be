//! The VPC DNS server inside namespaces, queried with `dig` from an instance namespace.
//!
//! instance (10.0.0.10) ─ vpc (resolver 10.0.0.2:53)
//!                         ├─ onprem (172.16.0.53:53, a forwarding target)
//!                         └─ internet (198.51.100.53:53, the public DNS)
//! Upstream queries leave from sockets created inside the vpc namespace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::*;
use linkplane_dataplane::dns::{
    DnsServerHandle, DnsView, ForwardRule, LocalSockets, NsSockets, PrivateZone, ZoneRecord,
};
use linkplane_netns::testing::require_root;

fn serve_in(ns: &Ns, ip: &str, view: &DnsView) -> DnsServerHandle {
    let addr: SocketAddr = format!("{ip}:53").parse().unwrap();
    let udp = ns.t.udp_socket(addr).unwrap();
    let tcp = ns.t.tcp_listener(addr, 128).unwrap();
    view.serve(udp, tcp)
}

fn a(name: &str, ip: &str) -> ZoneRecord {
    ZoneRecord::a(name, 60, ip.parse().unwrap()).unwrap()
}

/// `dig` from inside `ns`; returns (status, sorted answer data).
async fn dig(ns: &Ns, server: &str, name: &str, tcp: bool) -> (String, Vec<String>) {
    let mut args = vec![
        "netns".to_string(),
        "exec".into(),
        ns.name().into(),
        "dig".into(),
        format!("@{server}"),
        name.into(),
        "A".into(),
        "+time=3".into(),
        "+tries=1".into(),
        "+noall".into(),
        "+comments".into(),
        "+answer".into(),
    ];
    if tcp {
        args.push("+tcp".into());
    }
    let out = tokio::process::Command::new("ip")
        .args(&args)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("NO-ANSWER")
        .to_string();
    let mut answers: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect();
    answers.sort();
    (status, answers)
}

#[tokio::test]
async fn dig_from_an_instance_sees_zones_rules_and_public_dns() {
    if !require_root("dig_from_an_instance_sees_zones_rules_and_public_dns") {
        return;
    }
    let instance = Ns::new("in");
    let vpc = Ns::new("vp");
    let onprem = Ns::new("op");
    let internet = Ns::new("ne");
    link(&instance, "10.0.0.10/24", &vpc, "10.0.0.2/24", "i");
    link(&vpc, "172.16.0.1/24", &onprem, "172.16.0.53/24", "o");
    link(&vpc, "198.51.100.1/24", &internet, "198.51.100.53/24", "n");

    // Public DNS in the internet namespace; it also has a name inside the private zone.
    let public = DnsView::new(Arc::new(LocalSockets));
    public
        .set_zones(vec![
            PrivateZone::new("example.com", vec![a("www.example.com", "203.0.113.10")]).unwrap(),
            PrivateZone::new(
                "corp.internal",
                vec![a("ghost.corp.internal", "203.0.113.66")],
            )
            .unwrap(),
            PrivateZone::new(
                "corp.example",
                vec![a("www.public.corp.example", "203.0.113.20")],
            )
            .unwrap(),
        ])
        .unwrap();
    let _public = serve_in(&internet, "198.51.100.53", &public);
    // The on-premises DNS behind a forwarding rule.
    let onprem_view = DnsView::new(Arc::new(LocalSockets));
    onprem_view
        .set_zones(vec![
            PrivateZone::new("corp.example", vec![a("db.corp.example", "172.16.5.5")]).unwrap(),
        ])
        .unwrap();
    let _onprem = serve_in(&onprem, "172.16.0.53", &onprem_view);

    // The VPC resolver: its upstream sockets are made inside the vpc namespace.
    let view = DnsView::new(Arc::new(NsSockets::new(vpc.t.clone())));
    view.set_public_upstreams(vec!["198.51.100.53:53".parse().unwrap()]);
    view.set_zones(vec![
        PrivateZone::new(
            "corp.internal",
            vec![
                a("db.corp.internal", "10.0.0.50"),
                ZoneRecord::alias("api.corp.internal", "db.corp.example").unwrap(),
            ],
        )
        .unwrap(),
    ])
    .unwrap();
    view.set_rules(vec![
        ForwardRule::forward("corp.example", vec!["172.16.0.53:53".parse().unwrap()]).unwrap(),
        ForwardRule::system("public.corp.example").unwrap(),
    ])
    .unwrap();
    let server = serve_in(&vpc, "10.0.0.2", &view);

    for tcp in [false, true] {
        let q = |n: &'static str| dig(&instance, "10.0.0.2", n, tcp);
        assert_eq!(
            q("db.corp.internal").await,
            ("NOERROR".into(), vec!["10.0.0.50".into()])
        );
        assert_eq!(
            q("ghost.corp.internal").await.0,
            "NXDOMAIN",
            "no fall-through to public"
        );
        assert_eq!(
            q("db.corp.example").await,
            ("NOERROR".into(), vec!["172.16.5.5".into()])
        );
        assert_eq!(
            q("api.corp.internal").await,
            ("NOERROR".into(), vec!["172.16.5.5".into()])
        );
        assert_eq!(
            q("www.example.com").await,
            ("NOERROR".into(), vec!["203.0.113.10".into()])
        );
        // SYSTEM rule: this name goes to the public DNS despite the corp.example rule.
        assert_eq!(
            q("www.public.corp.example").await,
            ("NOERROR".into(), vec!["203.0.113.20".into()])
        );
    }
    // A record change is visible to the next query.
    view.upsert_zone(
        PrivateZone::new("corp.internal", vec![a("db.corp.internal", "10.0.0.51")]).unwrap(),
    )
    .unwrap();
    assert_eq!(
        dig(&instance, "10.0.0.2", "db.corp.internal", false)
            .await
            .1,
        ["10.0.0.51"]
    );
    // The forwarded query really leaves from the vpc namespace: cut its link to onprem
    // and the rule's target becomes unreachable.
    ip(&[
        "-n",
        vpc.name(),
        "link",
        "del",
        &format!("{}-oa", &vpc.name()[..5]),
    ]);
    assert_eq!(
        dig(&instance, "10.0.0.2", "db.corp.example", false).await.0,
        "SERVFAIL"
    );
    // The private zone still answers.
    assert_eq!(
        dig(&instance, "10.0.0.2", "db.corp.internal", true).await.0,
        "NOERROR"
    );
    server.stop().await;
    assert_eq!(
        dig(&instance, "10.0.0.2", "db.corp.internal", false)
            .await
            .0,
        "NO-ANSWER",
        "a stopped server answers nothing"
    );
}
