//! The forwarder with real sockets, through four namespaces: client → consumer VPC ENI,
//! provider VPC → target, overlapping CIDRs, no link between the two VPCs; and one
//! loopback test for backpressure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use linkplane_dataplane::health::{CheckKind, HealthCheckConfig, HealthChecker};
use linkplane_dataplane::{
    Connector, ForwarderConfig, NsConnector, TargetSet, TargetState, forwarder,
};
use linkplane_netns::testing::require_root;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ENI: &str = "10.0.1.5:443";
const TARGET_IP: &str = "10.0.1.20";

/// client (10.0.1.10) ─veth─ consumer (ENI 10.0.1.5)      [forwarder listens here]
/// provider (LB 10.0.1.5) ─veth─ target (10.0.1.20)       [forwarder connects from here]
/// Both VPCs use 10.0.1.0/24 and nothing links them: only the forwarder joins them.
struct Topo {
    client: Ns,
    consumer: Ns,
    provider: Ns,
    target: Ns,
}

fn topo() -> Topo {
    let t = Topo {
        client: Ns::new("cl"),
        consumer: Ns::new("co"),
        provider: Ns::new("pr"),
        target: Ns::new("tg"),
    };
    link(&t.client, "10.0.1.10/24", &t.consumer, "10.0.1.5/24", "c");
    link(&t.provider, "10.0.1.5/24", &t.target, "10.0.1.20/24", "p");
    t
}

impl Topo {
    fn connector(&self) -> Arc<dyn Connector> {
        Arc::new(NsConnector {
            ns: self.provider.t.clone(),
            source: Some("10.0.1.5".parse().unwrap()),
        })
    }
    fn target_server(&self, port: u16, name: &'static str) -> TargetServer {
        let addr: SocketAddr = format!("{TARGET_IP}:{port}").parse().unwrap();
        TargetServer::start(self.target.t.tcp_listener(addr, 128).unwrap(), name)
    }
    fn forwarder(&self, targets: TargetSet, config: ForwarderConfig) -> forwarder::ForwarderHandle {
        let l = self
            .consumer
            .t
            .tcp_listener(ENI.parse().unwrap(), 1024)
            .unwrap();
        forwarder::spawn(l, targets, self.connector(), config).unwrap()
    }
    async fn client_conn(&self) -> std::io::Result<TcpStream> {
        connect_from(&self.client, ENI.parse().unwrap()).await
    }
}

fn healthy(addrs: &[SocketAddr]) -> TargetSet {
    let s = TargetSet::new();
    for a in addrs {
        s.register_with_state(*a, TargetState::Healthy);
    }
    s
}

/// Reads until EOF or error; returns Err on a reset.
async fn read_all(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    s.read_to_end(&mut v).await.map(|_| v)
}

#[tokio::test]
async fn forwards_across_vpcs_with_overlapping_cidrs_and_proxy_v2() {
    if !require_root("forwards_across_vpcs_with_overlapping_cidrs_and_proxy_v2") {
        return;
    }
    let t = topo();
    // Without the forwarder the client cannot reach the target at all.
    let direct = tokio::time::timeout(
        Duration::from_secs(1),
        connect_from(&t.client, format!("{TARGET_IP}:8080").parse().unwrap()),
    )
    .await;
    assert!(!matches!(direct, Ok(Ok(_))), "the VPCs must not be linked");

    let server = t.target_server(8080, "t1");
    let fwd = t.forwarder(
        healthy(&[server.addr]),
        ForwarderConfig {
            proxy_protocol_endpoint_id: Some("vpce-0abc123".into()),
            ..Default::default()
        },
    );
    let mut c = t.client_conn().await.unwrap();
    let client_addr = c.local_addr().unwrap();
    c.write_all(b"hello").await.unwrap();
    let line = read_line(&mut c).await.unwrap();
    assert_eq!(line, format!("t1 vpce-0abc123 {client_addr}"));
    let mut echo = [0u8; 5];
    c.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"hello");

    let seen = server.seen.lock().unwrap()[0].clone();
    let p = seen.proxy.expect("PROXY v2 header");
    assert_eq!(p.source, client_addr, "original client address");
    assert_eq!(p.destination, ENI.parse::<SocketAddr>().unwrap());
    assert_eq!(p.endpoint_id.as_deref(), Some("vpce-0abc123"));
    assert_eq!(
        seen.peer.ip().to_string(),
        "10.0.1.5",
        "the target sees the load balancer's address"
    );
    drop(c);
    fwd.stop().await;
    assert_eq!(fwd.live_tasks(), 0);
}

#[tokio::test]
async fn half_close_keeps_the_other_direction_going() {
    if !require_root("half_close_keeps_the_other_direction_going") {
        return;
    }
    let t = topo();
    let server = t.target_server(8080, "t1");
    let fwd = t.forwarder(healthy(&[server.addr]), ForwarderConfig::default());
    let mut c = t.client_conn().await.unwrap();
    let payload: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    // Write everything and half-close while the echo streams back.
    let (mut r, mut w) = c.split();
    let writer = async {
        w.write_all(&payload).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let reader = async { read_all_half(&mut r).await };
    let ((), got) = tokio::join!(writer, reader);
    let got = got.unwrap();
    let header = b"t1 - ";
    assert!(got.starts_with(header), "{:?}", &got[..20.min(got.len())]);
    let nl = got.iter().position(|&b| b == b'\n').unwrap();
    assert!(
        got[nl + 1..] == payload[..],
        "echo must be complete and intact"
    );
    let stats = fwd.stats();
    assert_eq!(stats.bytes_to_target, payload.len() as u64);
    assert_eq!(stats.bytes_to_client, got.len() as u64);
    drop(c);
    wait_for(|| fwd.stats().active == 0).await;
    fwd.stop().await;
}

async fn read_all_half(r: &mut tokio::net::tcp::ReadHalf<'_>) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).await.map(|_| v)
}

async fn wait_for(mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not reached within 10 s");
}

#[tokio::test]
async fn stop_resets_every_live_connection_at_once() {
    if !require_root("stop_resets_every_live_connection_at_once") {
        return;
    }
    let t = topo();
    let server = t.target_server(8080, "t1");
    let fwd = t.forwarder(healthy(&[server.addr]), ForwarderConfig::default());
    let mut conns = Vec::new();
    for _ in 0..5 {
        let mut c = t.client_conn().await.unwrap();
        assert!(read_line(&mut c).await.unwrap().starts_with("t1"));
        conns.push(c);
    }
    assert_eq!(fwd.stats().active, 5);
    let stop = tokio::time::Instant::now();
    fwd.stop().await;
    for c in &mut conns {
        let r = tokio::time::timeout(Duration::from_secs(2), read_all(c))
            .await
            .expect("a stopped forwarder must close connections, not leave them hanging");
        let e = r.expect_err("connection must be reset, not cleanly ended");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    }
    assert!(stop.elapsed() < Duration::from_secs(2));
    assert_eq!(fwd.live_tasks(), 0);
    assert_eq!(fwd.stats().active, 0);
    // And nothing listens any more.
    let again = t.client_conn().await;
    assert!(again.is_err(), "listener must be closed after stop");
}

#[tokio::test]
async fn closed_gate_resets_new_connections_but_keeps_live_ones() {
    if !require_root("closed_gate_resets_new_connections_but_keeps_live_ones") {
        return;
    }
    let t = topo();
    let server = t.target_server(8080, "t1");
    let fwd = t.forwarder(
        healthy(&[server.addr]),
        ForwarderConfig {
            accepting: false,
            ..Default::default()
        },
    );
    // Pending endpoint: the connection fails at once.
    let began = tokio::time::Instant::now();
    let mut c = t.client_conn().await.unwrap();
    let e = read_all(&mut c).await.expect_err("gate closed: reset");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
    assert!(began.elapsed() < Duration::from_millis(500));
    assert_eq!(fwd.stats().refused, 1);
    assert_eq!(server.data_connections(), 0);
    // Accepted: works.
    fwd.set_accepting(true);
    let mut live = t.client_conn().await.unwrap();
    assert!(read_line(&mut live).await.unwrap().starts_with("t1"));
    // Closing the gate again refuses new ones; the live one keeps working.
    fwd.set_accepting(false);
    let mut c = t.client_conn().await.unwrap();
    assert!(read_all(&mut c).await.is_err());
    live.write_all(b"still").await.unwrap();
    let mut b = [0u8; 5];
    live.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"still");
    fwd.stop().await;
}

#[tokio::test]
async fn connections_over_the_limit_are_reset_and_a_freed_slot_is_reused() {
    if !require_root("connections_over_the_limit_are_reset") {
        return;
    }
    let t = topo();
    let server = t.target_server(8080, "t1");
    let fwd = t.forwarder(
        healthy(&[server.addr]),
        ForwarderConfig {
            max_connections: 2,
            ..Default::default()
        },
    );
    let mut a = t.client_conn().await.unwrap();
    let mut b = t.client_conn().await.unwrap();
    for c in [&mut a, &mut b] {
        assert!(read_line(c).await.unwrap().starts_with("t1"));
    }
    // A third while two are forwarded: reset at once, never reaching the target.
    let mut c = t.client_conn().await.unwrap();
    let e = read_all(&mut c).await.expect_err("over the limit: reset");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
    let st = fwd.stats();
    assert_eq!((st.over_limit, st.active, st.total), (1, 2, 2), "{st:?}");
    assert_eq!(server.data_connections(), 2);
    // One ends: its slot serves the next.
    drop(a);
    wait_for(|| fwd.stats().active == 1).await;
    // The slot is released just after `active` drops, on the connection's task.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut d = t.client_conn().await.unwrap();
    assert!(read_line(&mut d).await.unwrap().starts_with("t1"));
    assert_eq!(fwd.stats().over_limit, 1);
    fwd.stop().await;
}

#[tokio::test]
async fn unhealthy_target_gets_no_traffic_and_traffic_spreads_over_healthy_ones() {
    if !require_root("unhealthy_target_gets_no_traffic") {
        return;
    }
    let t = topo();
    let good = t.target_server(8080, "good");
    let bad = t.target_server(8081, "bad");
    bad.health_status
        .store(500, std::sync::atomic::Ordering::Relaxed);
    let targets = TargetSet::new();
    targets.register(good.addr);
    targets.register(bad.addr);
    let checker = HealthChecker::spawn(
        targets.clone(),
        t.connector(),
        HealthCheckConfig {
            kind: CheckKind::Http {
                path: "/health".into(),
                matcher: "200,302".parse().unwrap(),
            },
            // Generous for loaded CI machines: a slow check must not flap a target.
            interval: Duration::from_millis(300),
            timeout: Duration::from_millis(300),
            healthy_threshold: 2,
            unhealthy_threshold: 2,
            port: None,
        },
    )
    .unwrap();
    let fwd = t.forwarder(targets.clone(), ForwarderConfig::default());
    // Before any check passed: initial targets get nothing, the client is reset.
    let mut c = t.client_conn().await.unwrap();
    assert!(read_all(&mut c).await.is_err());
    assert_eq!(fwd.stats().no_target, 1);

    wait_for(|| {
        targets.get(good.addr).unwrap().state() == TargetState::Healthy
            && targets.get(bad.addr).unwrap().state() == TargetState::Unhealthy
    })
    .await;
    for _ in 0..20 {
        let mut c = t.client_conn().await.unwrap();
        assert!(read_line(&mut c).await.unwrap().starts_with("good"));
    }
    assert_eq!(bad.data_connections(), 0, "unhealthy target got traffic");
    assert_eq!(good.data_connections(), 20);

    // The bad one recovers: traffic spreads over both.
    bad.health_status
        .store(302, std::sync::atomic::Ordering::Relaxed);
    wait_for(|| targets.get(bad.addr).unwrap().state() == TargetState::Healthy).await;
    for _ in 0..20 {
        let mut c = t.client_conn().await.unwrap();
        read_line(&mut c).await.unwrap();
    }
    // Round robin / least connections: both get a fair share.
    assert!(bad.data_connections() >= 5, "{}", bad.data_connections());
    assert!(good.data_connections() >= 25, "{}", good.data_connections());
    assert_eq!(bad.data_connections() + good.data_connections(), 40);

    // The good one dies (listener gone): it turns unhealthy and gets nothing new.
    drop(good);
    wait_for(|| {
        targets
            .get(SocketAddr::from(([10, 0, 1, 20], 8080)))
            .unwrap()
            .state()
            == TargetState::Unhealthy
    })
    .await;
    for _ in 0..5 {
        let mut c = t.client_conn().await.unwrap();
        assert!(read_line(&mut c).await.unwrap().starts_with("bad"));
    }
    checker.stop().await;
    fwd.stop().await;
}

/// Loopback (no root): a target that never reads must stall the client after a bounded
/// amount (socket buffers + one pipe), not make the forwarder buffer without limit.
#[tokio::test]
async fn a_target_that_does_not_read_stalls_the_client_backpressure() {
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let taddr = target.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let (c, _) = target.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await; // hold it, never read
        drop(c);
    });
    let fl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fwd = forwarder::spawn(
        fl,
        healthy(&[taddr]),
        Arc::new(linkplane_dataplane::LocalConnector::default()),
        ForwarderConfig::default(),
    )
    .unwrap();
    let mut c = TcpStream::connect(fwd.local_addr()).await.unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let mut written = 0usize;
    // Write until a write has been blocked for 1 s (or an absurd amount got through).
    while written < 512 * 1024 * 1024 {
        match tokio::time::timeout(Duration::from_secs(1), c.write(&chunk)).await {
            Ok(Ok(n)) => written += n,
            Ok(Err(e)) => panic!("write failed: {e}"),
            Err(_) => break,
        }
    }
    let in_flight = fwd.stats().bytes_to_target;
    eprintln!("stalled after {written} bytes written, {in_flight} delivered to the target");
    assert!(
        written < 64 * 1024 * 1024,
        "the client wrote {written} bytes into a target that reads nothing: no backpressure"
    );
    assert!(written > 0 && in_flight > 0);
    assert!(in_flight as usize <= written);
    // The stall is stable: nothing more moves.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fwd.stats().bytes_to_target, in_flight);
    fwd.stop().await;
    held.abort();
}

/// Loopback over IPv6 (no root): the PROXY v2 header carries IPv6 addresses.
#[tokio::test]
async fn ipv6_forwarding_with_proxy_v2() {
    let Ok(tl) = tokio::net::TcpListener::bind("[::1]:0").await else {
        eprintln!("skipping ipv6_forwarding_with_proxy_v2: no IPv6 loopback");
        return;
    };
    let server = TargetServer::start(tl, "v6");
    let fl = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
    let fwd = forwarder::spawn(
        fl,
        healthy(&[server.addr]),
        Arc::new(linkplane_dataplane::LocalConnector::default()),
        ForwarderConfig {
            proxy_protocol_endpoint_id: Some("vpce-6".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let mut c = TcpStream::connect(fwd.local_addr()).await.unwrap();
    let me = c.local_addr().unwrap();
    assert_eq!(read_line(&mut c).await.unwrap(), format!("v6 vpce-6 {me}"));
    let p = server.seen.lock().unwrap()[0].proxy.clone().unwrap();
    assert_eq!(p.destination, fwd.local_addr());
    assert!(p.source.is_ipv6());
    drop(c);
    fwd.stop().await;
}
