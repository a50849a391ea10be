//! The VPC DNS server on loopback, queried with hickory's client over UDP and TCP.
//! Upstreams (forwarding targets, public DNS) are other instances of the same server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{DnsResponse, Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use hickory_server::net::client::{Client, ClientHandle};
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::net::tcp::TcpClientStream;
use hickory_server::net::udp::UdpClientStream;
use linkplane_dataplane::dns::{
    DnsServerHandle, DnsView, ForwardRule, LocalSockets, PrivateZone, ZoneRecord,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Running {
    view: DnsView,
    addr: SocketAddr,
    _server: DnsServerHandle,
}

/// Serve `view` on UDP and TCP at the same loopback port.
async fn serve(view: DnsView) -> Running {
    for _ in 0..20 {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        let Ok(tcp) = tokio::net::TcpListener::bind(addr).await else {
            continue;
        };
        let server = view.serve(udp, tcp);
        return Running {
            view,
            addr,
            _server: server,
        };
    }
    panic!("no free port pair");
}

fn view() -> DnsView {
    DnsView::new(Arc::new(LocalSockets))
}

fn zone(name: &str, records: &[(&str, &str)]) -> PrivateZone {
    let recs = records
        .iter()
        .map(|(n, v)| match v.split_once(':') {
            Some(("cname", t)) => ZoneRecord::cname(n, 300, t).unwrap(),
            Some(("alias", t)) => ZoneRecord::alias(n, t).unwrap(),
            _ => ZoneRecord::a(n, 42, v.parse().unwrap()).unwrap(),
        })
        .collect();
    PrivateZone::new(name, recs).unwrap()
}

async fn udp_query(server: SocketAddr, name: &str, t: RecordType) -> DnsResponse {
    let stream = UdpClientStream::builder(server, TokioRuntimeProvider::default())
        .with_timeout(Some(Duration::from_secs(5)))
        .build();
    let (mut client, bg) = Client::<TokioRuntimeProvider>::from_sender(stream);
    let bg = tokio::spawn(bg);
    let r = client
        .query(Name::from_str(name).unwrap(), DNSClass::IN, t)
        .await
        .unwrap();
    bg.abort();
    r
}

async fn tcp_query(server: SocketAddr, name: &str, t: RecordType) -> DnsResponse {
    let (fut, handle) = TcpClientStream::new(server, None, None, TokioRuntimeProvider::new());
    let stream = fut.await.unwrap();
    let (mut client, bg) = Client::<TokioRuntimeProvider>::new(stream, handle);
    let bg = tokio::spawn(bg);
    let r = client
        .query(Name::from_str(name).unwrap(), DNSClass::IN, t)
        .await
        .unwrap();
    bg.abort();
    r
}

fn ips(r: &DnsResponse) -> Vec<String> {
    let mut v: Vec<String> = r
        .answers
        .iter()
        .filter_map(|rec| match &rec.data {
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

/// A public DNS (as in the internet namespace) that also has names inside the private
/// zones, so a fall-through would be visible.
async fn public_dns() -> Running {
    let v = view();
    v.set_zones(vec![
        zone("example.com", &[("www.example.com", "203.0.113.10")]),
        zone(
            "corp.internal",
            &[
                ("db.corp.internal", "203.0.113.66"),
                ("ghost.corp.internal", "203.0.113.67"),
            ],
        ),
        zone(
            "corp.example",
            &[("www.public.corp.example", "203.0.113.20")],
        ),
    ])
    .unwrap();
    serve(v).await
}

#[tokio::test]
async fn private_zone_answers_over_udp_and_tcp_with_its_ttl() {
    let public = public_dns().await;
    let v = view();
    v.set_public_upstreams(vec![public.addr]);
    v.set_zones(vec![zone(
        "corp.internal",
        &[
            ("db.corp.internal", "10.0.0.5"),
            ("db.corp.internal", "10.0.0.6"),
        ],
    )])
    .unwrap();
    v.upsert_zone(
        PrivateZone::new(
            "corp.internal",
            vec![
                ZoneRecord::a("db.corp.internal", 42, "10.0.0.5".parse().unwrap()).unwrap(),
                ZoneRecord::a("db.corp.internal", 42, "10.0.0.6".parse().unwrap()).unwrap(),
                ZoneRecord::aaaa("db.corp.internal", 42, "fd00::5".parse().unwrap()).unwrap(),
            ],
        )
        .unwrap(),
    )
    .unwrap();
    let vpc = serve(v).await;
    for r in [
        udp_query(vpc.addr, "db.corp.internal.", RecordType::AAAA).await,
        tcp_query(vpc.addr, "db.corp.internal.", RecordType::AAAA).await,
    ] {
        assert_eq!(r.response_code, ResponseCode::NoError);
        assert_eq!(ips(&r), ["fd00::5"]);
    }
    for r in [
        udp_query(vpc.addr, "db.corp.internal.", RecordType::A).await,
        tcp_query(vpc.addr, "DB.Corp.Internal.", RecordType::A).await,
    ] {
        assert_eq!(r.response_code, ResponseCode::NoError);
        assert!(r.authoritative, "private zone answers are authoritative");
        assert_eq!(ips(&r), ["10.0.0.5", "10.0.0.6"]);
        assert!(r.answers.iter().all(|a| a.ttl == 42), "TTL as configured");
    }
    assert_eq!(vpc.view.stats().public, 0, "never asked the public DNS");
}

#[tokio::test]
async fn a_matching_private_zone_is_authoritative_nxdomain_and_nodata() {
    let public = public_dns().await;
    let v = view();
    v.set_public_upstreams(vec![public.addr]);
    v.set_zones(vec![zone(
        "corp.internal",
        &[("db.corp.internal", "10.0.0.5")],
    )])
    .unwrap();
    let vpc = serve(v).await;
    // The public DNS knows ghost.corp.internal, but the private zone wins: NXDOMAIN.
    let r = udp_query(vpc.addr, "ghost.corp.internal.", RecordType::A).await;
    assert_eq!(r.response_code, ResponseCode::NXDomain);
    assert!(r.authoritative);
    assert!(r.answers.is_empty());
    let soa = r
        .authorities
        .iter()
        .find(|a| a.record_type() == RecordType::SOA);
    assert!(soa.is_some(), "negative answers carry the zone's SOA");
    // Name exists, type does not: NOERROR with no answer.
    let r = tcp_query(vpc.addr, "db.corp.internal.", RecordType::AAAA).await;
    assert_eq!(r.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert_eq!(vpc.view.stats().public, 0);
    // Without the zone the same name resolves publicly.
    vpc.view.remove_zone("corp.internal").unwrap();
    let r = udp_query(vpc.addr, "ghost.corp.internal.", RecordType::A).await;
    assert_eq!(ips(&r), ["203.0.113.67"]);
    assert!(!r.authoritative);
}

#[tokio::test]
async fn cname_and_alias_resolve_through_the_same_view() {
    let public = public_dns().await;
    let onprem = view();
    onprem
        .set_zones(vec![zone(
            "onprem.corp",
            &[("vpce.onprem.corp", "10.9.9.9")],
        )])
        .unwrap();
    let onprem = serve(onprem).await;
    let v = view();
    v.set_public_upstreams(vec![public.addr]);
    v.set_rules(vec![
        ForwardRule::forward("onprem.corp", vec![onprem.addr]).unwrap(),
    ])
    .unwrap();
    v.set_zones(vec![zone(
        "corp.internal",
        &[
            ("db.corp.internal", "10.0.0.5"),
            ("www.corp.internal", "cname:db.corp.internal"),
            ("ext.corp.internal", "cname:www.example.com"),
            ("api.corp.internal", "alias:vpce.onprem.corp"),
            ("loop1.corp.internal", "cname:loop2.corp.internal"),
            ("loop2.corp.internal", "cname:loop1.corp.internal"),
        ],
    )])
    .unwrap();
    let vpc = serve(v).await;

    // CNAME inside the zone: the CNAME then the target's A.
    let r = udp_query(vpc.addr, "www.corp.internal.", RecordType::A).await;
    assert_eq!(r.response_code, ResponseCode::NoError);
    assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(ips(&r), ["10.0.0.5"]);
    // CNAME to a public name: chased through the public stage.
    let r = tcp_query(vpc.addr, "ext.corp.internal.", RecordType::A).await;
    assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(ips(&r), ["203.0.113.10"]);
    // Alias to a name only a forwarding rule can resolve: A records under the alias name.
    let r = udp_query(vpc.addr, "api.corp.internal.", RecordType::A).await;
    assert_eq!(ips(&r), ["10.9.9.9"]);
    assert_eq!(
        r.answers[0].name,
        Name::from_str("api.corp.internal.").unwrap()
    );
    assert!(r.answers.iter().all(|a| a.record_type() == RecordType::A));
    // A CNAME loop ends in SERVFAIL, not a hang.
    let r = udp_query(vpc.addr, "loop1.corp.internal.", RecordType::A).await;
    assert_eq!(r.response_code, ResponseCode::ServFail);
}

#[tokio::test]
async fn most_specific_rule_wins_system_rule_overrides_and_public_is_last() {
    let public = public_dns().await;
    let mk = |ip: &'static str| {
        let v = view();
        v.set_zones(vec![zone(
            "corp.example",
            &[
                ("db.corp.example", ip),
                ("x.dev.corp.example", ip),
                ("www.public.corp.example", ip),
            ],
        )])
        .unwrap();
        v
    };
    let onprem1 = serve(mk("10.1.1.1")).await;
    let onprem2 = serve(mk("10.2.2.2")).await;
    let v = view();
    v.set_public_upstreams(vec![public.addr]);
    v.set_rules(vec![
        ForwardRule::forward("corp.example", vec![onprem1.addr]).unwrap(),
        ForwardRule::forward("dev.corp.example", vec![onprem2.addr]).unwrap(),
        ForwardRule::system("public.corp.example").unwrap(),
    ])
    .unwrap();
    let vpc = serve(v).await;
    let a = |r: DnsResponse| ips(&r);
    assert_eq!(
        a(udp_query(vpc.addr, "db.corp.example.", RecordType::A).await),
        ["10.1.1.1"]
    );
    assert_eq!(
        a(tcp_query(vpc.addr, "x.dev.corp.example.", RecordType::A).await),
        ["10.2.2.2"]
    );
    assert_eq!(
        a(udp_query(vpc.addr, "www.public.corp.example.", RecordType::A).await),
        ["203.0.113.20"],
        "SYSTEM rule sends the name to public DNS"
    );
    assert_eq!(
        a(udp_query(vpc.addr, "www.example.com.", RecordType::A).await),
        ["203.0.113.10"]
    );
    // NXDOMAIN from the forwarding target is passed through.
    let r = udp_query(vpc.addr, "nope.corp.example.", RecordType::A).await;
    assert_eq!(r.response_code, ResponseCode::NXDomain);
    assert!(!r.authoritative);
    let s = vpc.view.stats();
    assert_eq!((s.forwarded, s.public), (3, 2), "{s:?}");
    // A forwarded answer keeps the upstream's TTL.
    let r = udp_query(vpc.addr, "db.corp.example.", RecordType::A).await;
    assert_eq!(r.answers[0].ttl, 42);
}

#[tokio::test]
async fn record_and_rule_changes_are_visible_at_once() {
    let public = public_dns().await;
    let v = view();
    v.set_public_upstreams(vec![public.addr]);
    v.set_zones(vec![zone(
        "corp.internal",
        &[("db.corp.internal", "10.0.0.5")],
    )])
    .unwrap();
    let vpc = serve(v).await;
    assert_eq!(
        ips(&udp_query(vpc.addr, "db.corp.internal.", RecordType::A).await),
        ["10.0.0.5"]
    );
    vpc.view
        .upsert_zone(zone("corp.internal", &[("db.corp.internal", "10.0.0.99")]))
        .unwrap();
    assert_eq!(
        ips(&udp_query(vpc.addr, "db.corp.internal.", RecordType::A).await),
        ["10.0.0.99"]
    );
    assert_eq!(
        ips(&tcp_query(vpc.addr, "db.corp.internal.", RecordType::A).await),
        ["10.0.0.99"]
    );
    // A bad change is refused and leaves the view as it was.
    let err = vpc
        .view
        .set_zones(vec![zone("corp.internal", &[]), zone("corp.internal", &[])]);
    assert!(err.is_err());
    assert_eq!(
        ips(&udp_query(vpc.addr, "db.corp.internal.", RecordType::A).await),
        ["10.0.0.99"]
    );
}

#[tokio::test]
async fn unreachable_upstream_is_a_quick_servfail() {
    let v = view();
    // Nothing listens there (a UDP port we bind and drop).
    let dead = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    v.set_rules(vec![
        ForwardRule::forward("dead.example", vec![dead]).unwrap(),
    ])
    .unwrap();
    let vpc = serve(v).await;
    let began = std::time::Instant::now();
    let r = udp_query(vpc.addr, "x.dead.example.", RecordType::A).await;
    assert_eq!(r.response_code, ResponseCode::ServFail);
    assert!(began.elapsed() < Duration::from_secs(5));
    // No public upstream configured: SERVFAIL too.
    let r = udp_query(vpc.addr, "www.example.com.", RecordType::A).await;
    assert_eq!(r.response_code, ResponseCode::ServFail);
    assert!(vpc.view.stats().failed >= 2);
}

/// The normal path is bounded: with an upstream that never answers, at most 1,024 UDP
/// requests wait at once; the rest are dropped unanswered (and counted), not queued as
/// tasks without end.
#[tokio::test]
async fn requests_waiting_on_a_silent_upstream_are_bounded() {
    let v = view();
    // It reads and never answers.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    v.set_rules(vec![
        ForwardRule::forward("silent.example", vec![silent.local_addr().unwrap()]).unwrap(),
    ])
    .unwrap();
    let vpc = serve(v).await;
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let n = 1_500u16;
    for i in 0..n {
        let mut m = Message::query();
        m.metadata.id = i;
        m.add_query(Query::query(
            Name::from_str(&format!("n{i}.silent.example.")).unwrap(),
            RecordType::A,
        ));
        client
            .send_to(&m.to_vec().unwrap(), vpc.addr)
            .await
            .unwrap();
        if i % 20 == 19 {
            // Let the server drain its socket buffer (a flood past it is the kernel's drop).
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let mut dropped = 0;
    for _ in 0..200 {
        dropped = vpc.view.stats().dropped;
        if dropped > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        dropped > 0 && dropped <= u64::from(n) - 1_024,
        "{:?}",
        vpc.view.stats()
    );
}

#[tokio::test]
async fn malformed_packets_are_dropped_harmlessly() {
    let v = view();
    v.set_zones(vec![zone(
        "corp.internal",
        &[("db.corp.internal", "10.0.0.5")],
    )])
    .unwrap();
    let vpc = serve(v).await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut junk: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x12],
        vec![0xff; 11],
        vec![0u8; 512],
        (0..=255u8).collect(),
        // a header claiming 5 questions, with none
        vec![0xab, 0xcd, 0x01, 0x00, 0x00, 0x05, 0, 0, 0, 0, 0, 0],
        // a name with a compression pointer to itself
        vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1],
        vec![0x41; 65_000],
    ];
    let mut seed = 0x1234_5678u32;
    for _ in 0..200 {
        let len = (seed % 300) as usize;
        junk.push(
            (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect(),
        );
    }
    for j in &junk {
        let _ = sock.send_to(j, vpc.addr).await;
    }
    // Over TCP: a garbage frame, a frame longer than what follows, then close.
    let mut t = tokio::net::TcpStream::connect(vpc.addr).await.unwrap();
    t.write_all(&[0, 5, 1, 2, 3, 4, 5, 0xff, 0xff, 1])
        .await
        .unwrap();
    t.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), t.read_to_end(&mut rest)).await;
    // The server still answers correctly on both transports.
    assert_eq!(
        ips(&udp_query(vpc.addr, "db.corp.internal.", RecordType::A).await),
        ["10.0.0.5"]
    );
    assert_eq!(
        ips(&tcp_query(vpc.addr, "db.corp.internal.", RecordType::A).await),
        ["10.0.0.5"]
    );
    // Nothing it sent back to the junk socket claims an answer.
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok((n, _))) =
        tokio::time::timeout(Duration::from_millis(100), sock.recv_from(&mut buf)).await
    {
        let m = hickory_proto::op::Message::from_vec(&buf[..n]).unwrap();
        assert_ne!(m.response_code, ResponseCode::NoError, "{m:?}");
    }
}

#[tokio::test]
async fn upstream_answers_are_cached_for_their_ttl_and_rule_changes_bypass_the_cache() {
    let rec = |ip: &str| {
        PrivateZone::new(
            "corp.example",
            vec![ZoneRecord::a("db.corp.example", 2, ip.parse().unwrap()).unwrap()],
        )
        .unwrap()
    };
    let onprem = view();
    onprem.set_zones(vec![rec("10.1.1.1")]).unwrap();
    let onprem = serve(onprem).await;
    let other = view();
    other.set_zones(vec![rec("10.3.3.3")]).unwrap();
    let other = serve(other).await;
    let v = view();
    v.set_rules(vec![
        ForwardRule::forward("corp.example", vec![onprem.addr]).unwrap(),
    ])
    .unwrap();
    let vpc = serve(v).await;
    let began = std::time::Instant::now();
    let r = udp_query(vpc.addr, "db.corp.example.", RecordType::A).await;
    assert_eq!(ips(&r), ["10.1.1.1"]);
    assert_eq!(r.answers[0].ttl, 2);
    // The upstream changes; within the TTL the cached answer is served.
    onprem.view.set_zones(vec![rec("10.1.1.2")]).unwrap();
    let r = tcp_query(vpc.addr, "db.corp.example.", RecordType::A).await;
    if began.elapsed() < Duration::from_millis(1900) {
        assert_eq!(ips(&r), ["10.1.1.1"], "served from cache within the TTL");
        assert!(r.answers[0].ttl <= 2);
        assert_eq!(vpc.view.stats().cache_hits, 1);
    }
    // After the TTL, the upstream is asked again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = udp_query(vpc.addr, "db.corp.example.", RecordType::A).await;
    assert_eq!(ips(&r), ["10.1.1.2"], "never served past its TTL");
    // A rule change is visible at once, cache or not.
    vpc.view
        .set_rules(vec![
            ForwardRule::forward("corp.example", vec![other.addr]).unwrap(),
        ])
        .unwrap();
    let r = udp_query(vpc.addr, "db.corp.example.", RecordType::A).await;
    assert_eq!(ips(&r), ["10.3.3.3"]);
}

#[tokio::test]
async fn dropping_the_server_handle_stops_serving() {
    let v = view();
    v.set_zones(vec![zone(
        "corp.internal",
        &[("db.corp.internal", "10.0.0.5")],
    )])
    .unwrap();
    let Running { addr, _server, .. } = serve(v).await;
    assert_eq!(
        ips(&udp_query(addr, "db.corp.internal.", RecordType::A).await),
        ["10.0.0.5"]
    );
    drop(_server);
    tokio::task::yield_now().await;
    let stream = UdpClientStream::builder(addr, TokioRuntimeProvider::default())
        .with_timeout(Some(Duration::from_millis(500)))
        .build();
    let (mut client, bg) = Client::<TokioRuntimeProvider>::from_sender(stream);
    let bg = tokio::spawn(bg);
    let r = client
        .query(
            Name::from_str("db.corp.internal.").unwrap(),
            DNSClass::IN,
            RecordType::A,
        )
        .await;
    bg.abort();
    assert!(r.is_err(), "a dropped server must not answer: {r:?}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "TCP listener closed"
    );
}
