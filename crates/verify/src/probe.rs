//! The probes, run from inside an instance's network namespace as the documents run them
//! from a host in the customer's VPC: resolve the host name through the VPC resolver
//! (`dig`), open TCP 443, and `GET /` over TLS validated against the installation CA
//! (`curl`). Sockets are created on a thread inside the namespace (`linkplane-netns`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use linkplane_netns::NsThread;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::net::TcpStream;

use crate::diagnose::{DnsSeen, HttpsSeen, Observed, TcpSeen};

/// What to probe, from where.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The instance's network namespace.
    pub netns: String,
    /// The VPC resolver the instance uses (from its resolv.conf).
    pub resolver: SocketAddr,
    /// `<clusterId>.external.<baseDomain>`.
    pub host: String,
    pub port: u16,
    /// The installation CA, PEM.
    pub ca_pem: String,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Netns(#[from] linkplane_netns::Error),
}

/// The first `nameserver` of `/etc/netns/<netns>/resolv.conf`, the file `ip netns exec`
/// presents to the instance's processes as `/etc/resolv.conf`.
pub fn resolver_of(netns: &str) -> Option<IpAddr> {
    let path = Path::new("/etc/netns").join(netns).join("resolv.conf");
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .find_map(|rest| rest.trim().parse().ok())
}

/// Run the three probes. Each later one is tried only if the earlier one succeeded.
pub async fn run(p: &Probe) -> Result<Observed, ProbeError> {
    let ns = NsThread::spawn(&p.netns)?;
    let dns = resolve(&ns, p).await;
    let first = match &dns {
        DnsSeen::Addresses(ips) => ips.first().copied(),
        _ => None,
    };
    let Some(ip) = first else {
        return Ok(Observed {
            dns,
            tcp: TcpSeen::NotTried,
            https: HttpsSeen::NotTried,
        });
    };
    let (tcp, stream) = connect(&ns, SocketAddr::new(ip, p.port), p.timeout).await;
    let https = match stream {
        Some(s) => https_get_root(s, p).await,
        None => HttpsSeen::NotTried,
    };
    Ok(Observed { dns, tcp, https })
}

async fn resolve(ns: &NsThread, p: &Probe) -> DnsSeen {
    let name = match Name::from_str(&format!("{}.", p.host.trim_end_matches('.'))) {
        Ok(n) => n,
        Err(e) => return DnsSeen::Failed(format!("bad host name: {e}")),
    };
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(hickory_proto::op::Query::query(name, RecordType::A));
    let bytes = match query.to_vec() {
        Ok(b) => b,
        Err(e) => return DnsSeen::Failed(format!("encoding the query: {e}")),
    };
    let bind = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    let sock = match ns.udp_socket_async(bind).await {
        Ok(s) => s,
        Err(e) => return DnsSeen::Failed(e.to_string()),
    };
    let mut buf = vec![0u8; 4096];
    // Two tries, as a stub resolver would.
    for _ in 0..2 {
        if let Err(e) = sock.send_to(&bytes, p.resolver).await {
            return DnsSeen::Failed(format!("sending to {}: {e}", p.resolver));
        }
        let received = tokio::time::timeout(p.timeout / 2, async {
            loop {
                let (n, from) = sock.recv_from(&mut buf).await?;
                if from == p.resolver {
                    return Ok::<usize, std::io::Error>(n);
                }
            }
        })
        .await;
        let n = match received {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return DnsSeen::Failed(format!("from {}: {e}", p.resolver)),
            Err(_) => continue,
        };
        let Ok(answer) = Message::from_vec(&buf[..n]) else {
            return DnsSeen::Failed(format!("malformed answer from {}", p.resolver));
        };
        if answer.metadata.id != query.metadata.id {
            continue;
        }
        if answer.metadata.response_code == ResponseCode::NXDomain {
            return DnsSeen::NxDomain;
        }
        if answer.metadata.response_code != ResponseCode::NoError {
            return DnsSeen::Failed(format!(
                "{} answered {}",
                p.resolver, answer.metadata.response_code
            ));
        }
        let ips: Vec<IpAddr> = answer
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect();
        if ips.is_empty() {
            return DnsSeen::NxDomain;
        }
        return DnsSeen::Addresses(ips);
    }
    DnsSeen::Failed(format!("no answer from {} (timed out)", p.resolver))
}

async fn connect(
    ns: &NsThread,
    addr: SocketAddr,
    timeout: Duration,
) -> (TcpSeen, Option<TcpStream>) {
    let sock = match ns.tcp_socket_async(addr.is_ipv6()).await {
        Ok(s) => s,
        Err(e) => return (TcpSeen::Failed(e.to_string()), None),
    };
    match tokio::time::timeout(timeout, sock.connect(addr)).await {
        Ok(Ok(s)) => (TcpSeen::Connected(addr.ip()), Some(s)),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => (
            TcpSeen::Refused(format!("{addr}: connection refused")),
            None,
        ),
        Ok(Err(e)) => (TcpSeen::Failed(format!("{addr}: {e}")), None),
        Err(_) => (TcpSeen::TimedOut, None),
    }
}

fn client_config(ca_pem: &str) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| format!("CA bundle: {e}"))?;
        roots.add(cert).map_err(|e| format!("CA bundle: {e}"))?;
    }
    if roots.is_empty() {
        return Err("the CA bundle holds no certificate".into());
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

async fn https_get_root(stream: TcpStream, p: &Probe) -> HttpsSeen {
    let config = match client_config(&p.ca_pem) {
        Ok(c) => c,
        Err(e) => return HttpsSeen::Failed(e),
    };
    let Ok(name) = ServerName::try_from(p.host.clone()) else {
        return HttpsSeen::Failed(format!("{} is not a valid TLS server name", p.host));
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tls = match tokio::time::timeout(p.timeout, connector.connect(name, stream)).await {
        Err(_) => return HttpsSeen::Failed("TLS handshake timed out".into()),
        Ok(Err(e)) => {
            let cert_problem = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)));
            return if cert_problem {
                HttpsSeen::CertificateRejected(e.to_string())
            } else {
                HttpsSeen::Failed(format!("TLS: {e}"))
            };
        }
        Ok(Ok(s)) => s,
    };
    let exchange = async {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = hyper::Request::get("/")
            .header(hyper::header::HOST, p.host.as_str())
            .header(hyper::header::USER_AGENT, "linkplane-verify")
            .body(http_body_util::Empty::<hyper::body::Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = http_body_util::Limited::new(resp.into_body(), 64 * 1024)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok::<_, String>(HttpsSeen::Answered {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    match tokio::time::timeout(p.timeout, exchange).await {
        Ok(Ok(seen)) => seen,
        Ok(Err(e)) => HttpsSeen::Failed(e),
        Err(_) => HttpsSeen::Failed("no HTTP answer in time".into()),
    }
}
