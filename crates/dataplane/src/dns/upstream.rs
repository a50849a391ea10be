//! Queries to other DNS servers (forwarding rules, public DNS), sent from sockets the
//! caller creates, so they leave from inside the VPC's namespace.
//!
//! The transport is hickory's own client (UDP, then TCP when the answer is truncated)
//! over a [`hickory_server::net::runtime::RuntimeProvider`] whose sockets come from a
//! [`SocketFactory`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{DnsResponse, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_server::net::DnsHandle;
use hickory_server::net::client::{Client, ClientHandle};
use hickory_server::net::runtime::iocompat::AsyncIoTokioAsStd;
use hickory_server::net::runtime::{RuntimeProvider, TokioHandle, TokioTime};
use hickory_server::net::tcp::TcpClientStream;
use hickory_server::net::udp::UdpClientStream;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Creates the sockets upstream queries leave from.
pub trait SocketFactory: Send + Sync + 'static {
    /// A UDP socket bound to `bind` (an unspecified address and port 0 in practice).
    fn udp(&self, bind: SocketAddr) -> BoxFuture<io::Result<tokio::net::UdpSocket>>;
    /// An unconnected TCP socket of the given family.
    fn tcp(&self, v6: bool) -> BoxFuture<io::Result<tokio::net::TcpSocket>>;
}

/// Sockets of the current namespace (tests on loopback, or a resolver in the host).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalSockets;

impl SocketFactory for LocalSockets {
    fn udp(&self, bind: SocketAddr) -> BoxFuture<io::Result<tokio::net::UdpSocket>> {
        Box::pin(tokio::net::UdpSocket::bind(bind))
    }
    fn tcp(&self, v6: bool) -> BoxFuture<io::Result<tokio::net::TcpSocket>> {
        Box::pin(async move {
            if v6 {
                tokio::net::TcpSocket::new_v6()
            } else {
                tokio::net::TcpSocket::new_v4()
            }
        })
    }
}

/// Sockets created inside a named network namespace (the VPC's router).
///
/// UDP sockets for "any address, any port" (what upstream queries ask for) are created
/// in batches on the namespace's thread and handed out one per query, so a query does
/// not pay a thread hop; each socket is used for one query only (fresh random port).
#[derive(Debug, Clone)]
pub struct NsSockets {
    ns: linkplane_netns::NsThread,
    spare_v4: Arc<std::sync::Mutex<Vec<std::net::UdpSocket>>>,
}

/// UDP sockets made per trip to the namespace thread.
const UDP_BATCH: usize = 32;

impl NsSockets {
    pub fn new(ns: linkplane_netns::NsThread) -> Self {
        Self {
            ns,
            spare_v4: Arc::default(),
        }
    }

    fn pop_spare(&self) -> Option<std::net::UdpSocket> {
        self.spare_v4.lock().ok()?.pop()
    }
}

fn bind_batch(bind: SocketAddr, n: usize) -> io::Result<Vec<std::net::UdpSocket>> {
    (0..n)
        .map(|_| {
            let s = std::net::UdpSocket::bind(bind)?;
            s.set_nonblocking(true)?;
            Ok(s)
        })
        .collect()
}

impl SocketFactory for NsSockets {
    fn udp(&self, bind: SocketAddr) -> BoxFuture<io::Result<tokio::net::UdpSocket>> {
        let me = self.clone();
        Box::pin(async move {
            let pooled = bind.is_ipv4() && bind.ip().is_unspecified() && bind.port() == 0;
            if pooled && let Some(s) = me.pop_spare() {
                return tokio::net::UdpSocket::from_std(s);
            }
            let n = if pooled { UDP_BATCH } else { 1 };
            let mut batch = me
                .ns
                .run_async(move || bind_batch(bind, n))
                .await
                .map_err(|e| io::Error::other(e.to_string()))??;
            let first = batch
                .pop()
                .ok_or_else(|| io::Error::other("no UDP socket created"))?;
            if pooled && let Ok(mut spare) = me.spare_v4.lock() {
                spare.extend(batch);
            }
            tokio::net::UdpSocket::from_std(first)
        })
    }
    fn tcp(&self, v6: bool) -> BoxFuture<io::Result<tokio::net::TcpSocket>> {
        let ns = self.ns.clone();
        Box::pin(async move {
            ns.run_async(move || crate::forwarder::ns_tcp_socket(v6))
                .await
                .map_err(|e| io::Error::other(e.to_string()))?
        })
    }
}

/// hickory's runtime, with sockets from a [`SocketFactory`].
#[derive(Clone)]
pub(crate) struct FactoryRuntime {
    factory: Arc<dyn SocketFactory>,
    handle: TokioHandle,
}

impl FactoryRuntime {
    pub(crate) fn new(factory: Arc<dyn SocketFactory>) -> Self {
        Self {
            factory,
            handle: TokioHandle::default(),
        }
    }
}

impl RuntimeProvider for FactoryRuntime {
    type Handle = TokioHandle;
    type Timer = TokioTime;
    type Udp = tokio::net::UdpSocket;
    type Tcp = AsyncIoTokioAsStd<tokio::net::TcpStream>;

    fn create_handle(&self) -> Self::Handle {
        self.handle.clone()
    }

    fn connect_tcp(
        &self,
        server_addr: SocketAddr,
        bind_addr: Option<SocketAddr>,
        wait_for: Option<Duration>,
    ) -> Pin<Box<dyn Send + Future<Output = Result<Self::Tcp, io::Error>>>> {
        let factory = self.factory.clone();
        Box::pin(async move {
            let s = factory.tcp(server_addr.is_ipv6()).await?;
            if let Some(b) = bind_addr {
                s.bind(b)?;
            }
            let wait = wait_for.unwrap_or(Duration::from_secs(5));
            match tokio::time::timeout(wait, s.connect(server_addr)).await {
                Ok(Ok(st)) => {
                    st.set_nodelay(true)?;
                    Ok(AsyncIoTokioAsStd(st))
                }
                Ok(Err(e)) => Err(e),
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("TCP connect to {server_addr} timed out"),
                )),
            }
        })
    }

    fn bind_udp(
        &self,
        local_addr: SocketAddr,
        _server_addr: SocketAddr,
    ) -> Pin<Box<dyn Send + Future<Output = Result<Self::Udp, io::Error>>>> {
        self.factory.udp(local_addr)
    }
}

/// Why an upstream query produced no answer.
#[derive(Debug, thiserror::Error)]
#[error("no upstream answered for {name} {qtype}: {detail}")]
pub(crate) struct UpstreamError {
    name: Name,
    qtype: RecordType,
    detail: String,
}

/// Ask `servers` in order (UDP, retried over TCP when truncated); the first answer wins.
pub(crate) async fn query(
    runtime: &FactoryRuntime,
    servers: &[SocketAddr],
    name: &Name,
    qtype: RecordType,
    timeout: Duration,
) -> Result<DnsResponse, UpstreamError> {
    let mut errors = Vec::new();
    for &server in servers {
        match query_one(runtime, server, name, qtype, timeout).await {
            Ok(r) => return Ok(r),
            Err(e) => errors.push(format!("{server}: {e}")),
        }
    }
    Err(UpstreamError {
        name: name.clone(),
        qtype,
        detail: if errors.is_empty() {
            "no server configured".into()
        } else {
            errors.join("; ")
        },
    })
}

async fn query_one(
    runtime: &FactoryRuntime,
    server: SocketAddr,
    name: &Name,
    qtype: RecordType,
    timeout: Duration,
) -> Result<DnsResponse, String> {
    // The OS picks the (random) source port: sockets can then be made ahead of time.
    let stream = UdpClientStream::builder(server, runtime.clone())
        .with_timeout(Some(timeout))
        .with_os_port_selection(true)
        .build();
    let (mut client, bg) = Client::<FactoryRuntime>::from_sender(stream);
    let bg = tokio::spawn(bg);
    let r = client.query(name.clone(), DNSClass::IN, qtype).await;
    bg.abort();
    let r = r.map_err(|e| e.to_string())?;
    if !r.truncation {
        return Ok(r);
    }
    // Truncated over UDP: ask again over TCP.
    let (fut, handle) = TcpClientStream::new(server, None, Some(timeout), runtime.clone());
    let stream = tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| format!("TCP connect to {server} timed out"))?
        .map_err(|e| e.to_string())?;
    let (client, bg) = Client::<FactoryRuntime>::with_timeout(stream, handle, timeout);
    let bg = tokio::spawn(bg);
    let mut q = Query::query(name.clone(), qtype);
    q.set_query_class(DNSClass::IN);
    let mut opts = hickory_proto::op::DnsRequestOptions::default();
    opts.use_edns = true;
    let r = futures::StreamExt::next(&mut client.lookup(q, opts)).await;
    bg.abort();
    match r {
        Some(r) => r.map_err(|e| e.to_string()),
        None => Err(format!(
            "{server} closed the TCP connection without answering"
        )),
    }
}
