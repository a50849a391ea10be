//! The dataplane's scrape (`linkplane_dataplane::metrics`) after real traffic on loopback:
//! a forwarder's connections and bytes under its endpoint's label, resets by reason, totals
//! that survive a stopped forwarder while its endpoint is served and end with it, and DNS
//! queries and answers by kind (the UDP fast path included).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use linkplane_dataplane::dns::{DnsView, LocalSockets, PrivateZone, ZoneRecord};
use linkplane_dataplane::{ForwarderConfig, LocalConnector, TargetSet, TargetState, forwarder};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn scrape() -> String {
    let mut r = Registry::default();
    linkplane_dataplane::metrics::register(&mut r);
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &r).unwrap();
    out
}

fn value(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn echo_target() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut c, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = c.read(&mut buf).await {
                    if n == 0 || c.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

fn healthy(addr: SocketAddr) -> TargetSet {
    let s = TargetSet::new();
    s.register_with_state(addr, TargetState::Healthy);
    s
}

async fn forwarder_on(
    targets: TargetSet,
    endpoint: &str,
    accepting: bool,
) -> forwarder::ForwarderHandle {
    let fl = TcpListener::bind("127.0.0.1:0").await.unwrap();
    forwarder::spawn(
        fl,
        targets,
        Arc::new(LocalConnector::default()),
        ForwarderConfig {
            endpoint: Some(endpoint.into()),
            accepting,
            ..Default::default()
        },
    )
    .unwrap()
}

async fn echo_through(addr: SocketAddr, bytes: usize) {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let data = vec![5u8; bytes];
    c.write_all(&data).await.unwrap();
    let mut back = vec![0u8; bytes];
    c.read_exact(&mut back).await.unwrap();
    assert_eq!(back, data);
}

async fn wait_until(mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met in 2 s");
}

#[tokio::test]
async fn forwarder_connections_and_bytes_per_endpoint() {
    let target = echo_target().await;
    let a = forwarder_on(healthy(target), "vpce-metrics-a", true).await;
    let a2 = forwarder_on(healthy(target), "vpce-metrics-a", true).await;
    let closed = forwarder_on(healthy(target), "vpce-metrics-closed", false).await;
    let none = forwarder_on(TargetSet::new(), "vpce-metrics-none", true).await;

    // One connection held open: the gauge sees it.
    let mut held = TcpStream::connect(a.local_addr()).await.unwrap();
    held.write_all(b"hi").await.unwrap();
    let mut two = [0u8; 2];
    held.read_exact(&mut two).await.unwrap();
    let text = scrape();
    assert_eq!(
        value(
            &text,
            r#"linkplane_forwarder_connections_active{endpoint="vpce-metrics-a"}"#
        ),
        Some(1),
        "{text}"
    );
    drop(held);

    echo_through(a.local_addr(), 1000).await;
    echo_through(a2.local_addr(), 500).await;
    for f in [&closed, &none] {
        let mut c = TcpStream::connect(f.local_addr()).await.unwrap();
        let mut b = [0u8; 1];
        assert!(
            matches!(c.read(&mut b).await, Ok(0) | Err(_)),
            "reset or closed"
        );
    }
    wait_until(|| a.stats().active == 0 && a2.stats().active == 0).await;
    wait_until(|| closed.stats().refused == 1 && none.stats().no_target == 1).await;

    let text = scrape();
    let v = |s: &str| value(&text, s).unwrap_or_else(|| panic!("no {s} in\n{text}"));
    assert_eq!(
        v(r#"linkplane_forwarder_connections_total{endpoint="vpce-metrics-a"}"#),
        3
    );
    assert_eq!(
        v(r#"linkplane_forwarder_bytes_total{endpoint="vpce-metrics-a",direction="to_target"}"#),
        1502
    );
    assert_eq!(
        v(r#"linkplane_forwarder_bytes_total{endpoint="vpce-metrics-a",direction="to_client"}"#),
        1502
    );
    assert_eq!(
        v(r#"linkplane_forwarder_connections_active{endpoint="vpce-metrics-a"}"#),
        0
    );
    assert_eq!(
        v(
            r#"linkplane_forwarder_connections_reset_total{endpoint="vpce-metrics-closed",reason="gate_closed"}"#
        ),
        1
    );
    assert_eq!(
        v(
            r#"linkplane_forwarder_connections_reset_total{endpoint="vpce-metrics-none",reason="no_healthy_target"}"#
        ),
        1
    );

    // One of the endpoint's two forwarders stops: its counts stay in the endpoint's totals.
    a2.stop().await;
    drop(a2);
    let text = scrape();
    assert_eq!(
        value(
            &text,
            r#"linkplane_forwarder_connections_total{endpoint="vpce-metrics-a"}"#
        ),
        Some(3),
        "{text}"
    );
    // The last one stops: the endpoint's series end.
    a.stop().await;
    drop(a);
    let text = scrape();
    assert!(!text.contains("vpce-metrics-a"), "{text}");
    assert!(text.contains("vpce-metrics-closed"));
    closed.stop().await;
    none.stop().await;
}

#[tokio::test]
async fn dns_queries_and_answers_by_kind_including_the_fast_path_and_dropped_views() {
    let view = DnsView::new(Arc::new(LocalSockets));
    view.set_zones(vec![
        PrivateZone::new(
            "metrics.internal",
            vec![ZoneRecord::a("db.metrics.internal", 60, "10.0.0.5".parse().unwrap()).unwrap()],
        )
        .unwrap(),
    ])
    .unwrap();
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = udp.local_addr().unwrap();
    let tcp = TcpListener::bind(addr).await.unwrap();
    let server = view.serve(udp, tcp);
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for id in 0..5u16 {
        let mut m = Message::query();
        m.metadata.id = id;
        m.add_query(Query::query(
            Name::from_ascii("db.metrics.internal.").unwrap(),
            RecordType::A,
        ));
        client.send_to(&m.to_vec().unwrap(), addr).await.unwrap();
        let mut buf = [0u8; 512];
        tokio::time::timeout(Duration::from_secs(2), client.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
    }
    // No public upstream: a public name fails.
    let failed = view
        .resolve(&Name::from_ascii("example.com.").unwrap(), RecordType::A)
        .await;
    assert_eq!(failed.rcode, hickory_proto::op::ResponseCode::ServFail);
    let stats = view.stats();
    assert_eq!(stats.queries, 5);
    assert!(stats.memo_hits >= 1, "{stats:?}");
    let text = scrape();
    let v = |s: &str| value(&text, s).unwrap_or_else(|| panic!("no {s} in\n{text}"));
    assert_eq!(v("linkplane_dns_queries_total"), 5);
    assert_eq!(
        v(r#"linkplane_dns_answers_total{kind="private"}"#),
        stats.private
    );
    assert_eq!(v(r#"linkplane_dns_answers_total{kind="failed"}"#), 1);
    assert_eq!(
        v(r#"linkplane_dns_cache_hits_total{cache="memo"}"#),
        stats.memo_hits
    );
    // The view goes away: its counts stay in the process's totals.
    server.stop().await;
    drop(view);
    let text = scrape();
    assert_eq!(
        value(&text, "linkplane_dns_queries_total"),
        Some(5),
        "{text}"
    );
}
