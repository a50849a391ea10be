//! Test topology helpers: namespaces joined by veth pairs created *inside* them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use linkplane_dataplane::proxy_protocol;
use linkplane_netns::NsThread;
use linkplane_netns::testing::TestNs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A namespace with its socket thread. Field order: the thread ends before the
/// namespace is deleted.
pub struct Ns {
    pub t: NsThread,
    pub ns: TestNs,
}

impl Ns {
    pub fn new(tag: &str) -> Self {
        let ns = TestNs::new(tag).expect("create namespace");
        let t = NsThread::spawn(ns.name()).expect("enter namespace");
        Self { t, ns }
    }
    pub fn name(&self) -> &str {
        self.ns.name()
    }
}

/// Link two namespaces with a veth pair made directly inside them, and address both ends.
/// `a_cidr`/`b_cidr` like "10.0.1.10/24".
pub fn link(a: &Ns, a_cidr: &str, b: &Ns, b_cidr: &str, tag: &str) {
    // Interface names must fit 15 bytes: <prefix 5>-<tag>[ab]
    let prefix = &a.name()[..5];
    let an = format!("{prefix}-{tag}a");
    let bn = format!("{prefix}-{tag}b");
    ip(&[
        "link",
        "add",
        &an,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        &bn,
        "netns",
        b.name(),
    ]);
    ip(&["-n", a.name(), "addr", "add", a_cidr, "dev", &an]);
    ip(&["-n", b.name(), "addr", "add", b_cidr, "dev", &bn]);
    ip(&["-n", a.name(), "link", "set", &an, "up"]);
    ip(&["-n", b.name(), "link", "set", &bn, "up"]);
}

pub async fn connect_from(ns: &Ns, to: SocketAddr) -> std::io::Result<TcpStream> {
    ns.t.tcp_socket(to.is_ipv6()).unwrap().connect(to).await
}

/// What a test target saw on one connection.
#[derive(Debug, Clone)]
pub struct Seen {
    pub proxy: Option<proxy_protocol::ProxyInfo>,
    pub peer: SocketAddr,
}

/// A target server: parses an optional PROXY v2 header, answers `GET /health` with the
/// status in `health_status`, otherwise replies `"<name> <endpoint-id|-> <src>\n"` and then
/// echoes everything until EOF, then closes (so half-close is visible).
pub struct TargetServer {
    pub addr: SocketAddr,
    pub health_status: Arc<AtomicU16>,
    pub seen: Arc<std::sync::Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TargetServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TargetServer {
    pub fn start(listener: TcpListener, name: &'static str) -> Self {
        let addr = listener.local_addr().unwrap();
        let health_status = Arc::new(AtomicU16::new(200));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (h, s) = (health_status.clone(), seen.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, peer)) = listener.accept().await else {
                    return;
                };
                let (h, s) = (h.clone(), s.clone());
                tokio::spawn(async move {
                    let _ = serve_one(conn, peer, name, h, s).await;
                });
            }
        });
        Self {
            addr,
            health_status,
            seen,
            task,
        }
    }

    pub fn data_connections(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

async fn serve_one(
    mut conn: TcpStream,
    peer: SocketAddr,
    name: &str,
    health: Arc<AtomicU16>,
    seen: Arc<std::sync::Mutex<Vec<Seen>>>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    let mut have = 0;
    // Read until we can tell what this is (PROXY v2 header, HTTP request, or data).
    // A client that sends nothing first is served after a short wait.
    loop {
        let read = conn.read(&mut buf[have..]);
        let Ok(n) = tokio::time::timeout(std::time::Duration::from_millis(200), read).await else {
            break;
        };
        let n = n?;
        have += n;
        if n == 0 || have >= 16 || buf[..have].starts_with(b"GET ") {
            break;
        }
    }
    if buf[..have].starts_with(b"GET /health") {
        let code = health.load(Ordering::Relaxed);
        let resp = format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        conn.write_all(resp.as_bytes()).await?;
        return Ok(());
    }
    let mut proxy = None;
    let mut start = 0;
    if buf[..have].starts_with(b"\r\n\r\n\0\r\nQUIT\n") {
        let len = 16 + u16::from_be_bytes([buf[14], buf[15]]) as usize;
        while have < len {
            let n = conn.read(&mut buf[have..]).await?;
            if n == 0 {
                break;
            }
            have += n;
        }
        let info = proxy_protocol::parse(&buf[..have]).expect("valid PROXY v2 header");
        start = info.header_len;
        proxy = Some(info);
    }
    let line = format!(
        "{name} {} {}\n",
        proxy
            .as_ref()
            .and_then(|p| p.endpoint_id.clone())
            .unwrap_or_else(|| "-".into()),
        proxy.as_ref().map_or(peer, |p| p.source)
    );
    seen.lock().unwrap().push(Seen { proxy, peer });
    conn.write_all(line.as_bytes()).await?;
    conn.write_all(&buf[start..have]).await?;
    let (mut r, mut w) = conn.split();
    tokio::io::copy(&mut r, &mut w).await?;
    w.shutdown().await?;
    Ok(())
}

/// Read one '\n'-terminated line.
pub async fn read_line(s: &mut TcpStream) -> std::io::Result<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        let n = s.read(&mut b).await?;
        if n == 0 || b[0] == b'\n' {
            break;
        }
        out.push(b[0]);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}
