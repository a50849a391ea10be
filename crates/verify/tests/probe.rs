//! Probes with real packets between two namespaces: a "customer instance" and a "VPC" side
//! holding a DNS responder and the TLS gateway.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, rdata::A};
use linkplane_ingress::{Ca, Gateway, not_found};
use linkplane_netns::NsThread;
use linkplane_netns::testing::{TestNs, require_root};
use linkplane_verify::diagnose::{DnsSeen, HttpsSeen, TcpSeen};
use linkplane_verify::{Probe, probe};

const HOST: &str = "cl0probe.external.linkplane.test";
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by a veth pair made inside them (nothing in the host namespace).
fn pair() -> (TestNs, TestNs) {
    let client = TestNs::new("vc").unwrap();
    let server = TestNs::new("vs").unwrap();
    sh(&[
        "ip",
        "-n",
        client.name(),
        "link",
        "add",
        "eth0",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        server.name(),
    ]);
    sh(&[
        "ip",
        "-n",
        client.name(),
        "addr",
        "add",
        "10.77.0.1/24",
        "dev",
        "eth0",
    ]);
    sh(&[
        "ip",
        "-n",
        server.name(),
        "addr",
        "add",
        "10.77.0.2/24",
        "dev",
        "eth0",
    ]);
    sh(&["ip", "-n", client.name(), "link", "set", "eth0", "up"]);
    sh(&["ip", "-n", server.name(), "link", "set", "eth0", "up"]);
    (client, server)
}

/// A tiny authoritative responder built on hickory-proto's codec: `HOST` → SERVER, anything
/// else NXDOMAIN.
async fn dns_responder(ns: &NsThread) {
    let sock = ns
        .udp_socket(SocketAddr::new(IpAddr::V4(SERVER), 53))
        .unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        let host = Name::from_str(&format!("{HOST}.")).unwrap();
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut r = Message::response(q.metadata.id, q.metadata.op_code);
            r.add_queries(q.queries.clone());
            let asked = q.queries.first().map(|q| q.name().clone());
            if asked.as_ref() == Some(&host) {
                r.add_answer(Record::from_rdata(host.clone(), 60, RData::A(A(SERVER))));
            } else {
                r.metadata.response_code = ResponseCode::NXDomain;
            }
            let _ = sock.send_to(&r.to_vec().unwrap(), from).await;
        }
    });
}

fn probe_for(client: &TestNs, host: &str, port: u16, ca_pem: &str) -> Probe {
    Probe {
        netns: client.name().to_string(),
        resolver: SocketAddr::new(IpAddr::V4(SERVER), 53),
        host: host.to_string(),
        port,
        ca_pem: ca_pem.to_string(),
        timeout: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn probes_see_dns_tcp_and_the_404_through_real_namespaces() {
    if !require_root("verify::probes_see_dns_tcp_and_the_404_through_real_namespaces") {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (client, server) = pair();
    let server_ns = NsThread::spawn(server.name()).unwrap();
    dns_responder(&server_ns).await;

    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load_or_create(dir.path()).unwrap();
    let tls = ca.server_config(&[HOST.to_string()]).unwrap();
    let listener = server_ns
        .tcp_listener(SocketAddr::new(IpAddr::V4(SERVER), 443), 64)
        .unwrap();
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let router = axum::Router::new().route("/", axum::routing::get(not_found));
    tokio::spawn(Gateway::new(tls, vec![], router).serve(listener, stop_rx));

    // The documents' happy path.
    let seen = probe::run(&probe_for(&client, HOST, 443, ca.cert_pem()))
        .await
        .unwrap();
    assert_eq!(seen.dns, DnsSeen::Addresses(vec![IpAddr::V4(SERVER)]));
    assert_eq!(seen.tcp, TcpSeen::Connected(IpAddr::V4(SERVER)));
    assert_eq!(
        seen.https,
        HttpsSeen::Answered {
            status: 404,
            body: "404 page not found".into()
        }
    );

    // A name the zone does not hold.
    let seen = probe::run(&probe_for(
        &client,
        "nope.external.linkplane.test",
        443,
        ca.cert_pem(),
    ))
    .await
    .unwrap();
    assert_eq!(seen.dns, DnsSeen::NxDomain);
    assert_eq!(seen.tcp, TcpSeen::NotTried);

    // Nothing listening on the port.
    let seen = probe::run(&probe_for(&client, HOST, 444, ca.cert_pem()))
        .await
        .unwrap();
    assert!(matches!(seen.tcp, TcpSeen::Refused(_)), "{:?}", seen.tcp);
    assert_eq!(seen.https, HttpsSeen::NotTried);

    // Another installation's CA does not validate the gateway's certificate.
    let other_dir = tempfile::tempdir().unwrap();
    let other = Ca::load_or_create(other_dir.path()).unwrap();
    let seen = probe::run(&probe_for(&client, HOST, 443, other.cert_pem()))
        .await
        .unwrap();
    assert!(
        matches!(seen.https, HttpsSeen::CertificateRejected(_)),
        "{:?}",
        seen.https
    );
}

#[tokio::test]
async fn an_unreachable_resolver_is_a_clear_dns_failure() {
    if !require_root("verify::an_unreachable_resolver_is_a_clear_dns_failure") {
        return;
    }
    let (client, _server) = pair();
    // Nobody answers on 10.77.0.2:53 here.
    let seen = probe::run(&probe_for(&client, HOST, 443, ""))
        .await
        .unwrap();
    match seen.dns {
        DnsSeen::Failed(e) => assert!(e.contains("10.77.0.2:53"), "{e}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_missing_namespace_is_an_error_not_a_verdict() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let p = Probe {
        netns: "lp-no-such-namespace".into(),
        resolver: "10.0.0.2:53".parse().unwrap(),
        host: HOST.into(),
        port: 443,
        ca_pem: String::new(),
        timeout: Duration::from_millis(100),
    };
    assert!(rt.block_on(probe::run(&p)).is_err());
}
