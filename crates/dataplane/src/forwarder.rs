//! The TCP forwarder of an interface endpoint: accept on the endpoint's address, connect
//! to a healthy target from the load balancer's side, optionally send a PROXY v2 header,
//! then copy both ways with `splice(2)`.
//!
//! Policy-free: who may connect, which namespace the sockets live in and which source
//! address is used are the caller's (localcloud's) decisions, expressed by the listener
//! it hands over and the [`Connector`] it supplies.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::proxy_protocol;
use crate::splice::splice_bidirectional;
use crate::targets::TargetSet;

/// A boxed future, as returned by [`Connector::connect`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Opens the outbound connection to a target. localcloud implements it to create the
/// socket inside the provider VPC's namespace (through `NsThread`) and bind it to the
/// load balancer's address.
pub trait Connector: Send + Sync + 'static {
    fn connect(&self, target: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>>;
}

impl<F, Fut> Connector for F
where
    F: Fn(SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<TcpStream>> + Send + 'static,
{
    fn connect(&self, target: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        Box::pin(self(target))
    }
}

/// Connects from the current (host or test) namespace, optionally from a source address.
#[derive(Debug, Clone, Default)]
pub struct LocalConnector {
    pub source: Option<IpAddr>,
}

impl Connector for LocalConnector {
    fn connect(&self, target: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        let source = self.source;
        Box::pin(async move {
            let s = if target.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            if let Some(ip) = source {
                s.bind(SocketAddr::new(ip, 0))?;
            }
            s.connect(target).await
        })
    }
}

/// Connects from inside a named network namespace (socket created on the namespace's
/// thread), optionally bound to a source address in that namespace.
#[derive(Debug, Clone)]
pub struct NsConnector {
    pub ns: linkplane_netns::NsThread,
    pub source: Option<IpAddr>,
}

impl Connector for NsConnector {
    fn connect(&self, target: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        let ns = self.ns.clone();
        let source = self.source;
        Box::pin(async move {
            // Created on the namespace's thread without blocking this tokio worker.
            let v6 = target.is_ipv6();
            let s = ns
                .run_async(move || ns_tcp_socket(v6))
                .await
                .map_err(|e| io::Error::other(e.to_string()))??;
            if let Some(ip) = source {
                s.bind(SocketAddr::new(ip, 0))?;
            }
            s.connect(target).await
        })
    }
}

/// A non-blocking, unconnected TCP socket in the calling thread's namespace (call it on
/// an `NsThread`).
pub(crate) fn ns_tcp_socket(v6: bool) -> io::Result<tokio::net::TcpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let d = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    let s = Socket::new(d, Type::STREAM, Some(Protocol::TCP))?;
    s.set_nonblocking(true)?;
    s.set_cloexec(true)?;
    let std: std::net::TcpStream = s.into();
    Ok(tokio::net::TcpSocket::from_std_stream(std))
}

/// Settings of one forwarder.
#[derive(Debug, Clone)]
pub struct ForwarderConfig {
    /// Send a PROXY v2 header carrying this endpoint id (TLV 0xEA/0x01) to the target.
    pub proxy_protocol_endpoint_id: Option<String>,
    /// Give up connecting to a target after this long (the client then gets a reset).
    pub connect_timeout: Duration,
    /// Whether new connections are accepted from the start (see [`ForwarderHandle::set_accepting`]).
    pub accepting: bool,
    /// The endpoint this forwarder serves: its metrics' `endpoint` label (default: the
    /// PROXY v2 endpoint id, else `unnamed`). See [`crate::metrics`].
    pub endpoint: Option<String>,
    /// Connections forwarded at once (a task and two descriptors each); one more is reset
    /// at once, so a flood cannot grow the process without bound.
    pub max_connections: usize,
}

/// Default [`ForwarderConfig::max_connections`]: above the 8,500 idle connections measured
/// through one endpoint (docs/PERFORMANCE.md), within a 20,000-descriptor limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

impl Default for ForwarderConfig {
    fn default() -> Self {
        Self {
            proxy_protocol_endpoint_id: None,
            connect_timeout: Duration::from_secs(5),
            accepting: true,
            endpoint: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Counters of a forwarder (all monotonic except `active`).
#[derive(Debug, Default)]
pub struct ForwarderStats {
    active: AtomicU64,
    total: AtomicU64,
    refused: AtomicU64,
    over_limit: AtomicU64,
    no_target: AtomicU64,
    connect_failed: AtomicU64,
    bytes_to_target: AtomicU64,
    bytes_to_client: AtomicU64,
}

/// A snapshot of [`ForwarderStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Connections currently forwarded.
    pub active: u64,
    /// Connections accepted and forwarded to a target, ever.
    pub total: u64,
    /// Connections refused because the gate was closed.
    pub refused: u64,
    /// Connections reset because `max_connections` were already forwarded.
    pub over_limit: u64,
    /// Connections reset because no target was healthy.
    pub no_target: u64,
    /// Connections reset because the target could not be reached.
    pub connect_failed: u64,
    pub bytes_to_target: u64,
    pub bytes_to_client: u64,
}

impl ForwarderStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            active: r(&self.active),
            total: r(&self.total),
            refused: r(&self.refused),
            over_limit: r(&self.over_limit),
            no_target: r(&self.no_target),
            connect_failed: r(&self.connect_failed),
            bytes_to_target: r(&self.bytes_to_target),
            bytes_to_client: r(&self.bytes_to_client),
        }
    }
}

pub(crate) struct Shared {
    targets: TargetSet,
    connector: Arc<dyn Connector>,
    config: ForwarderConfig,
    accepting: AtomicBool,
    stats: ForwarderStats,
    cancel: CancellationToken,
    tracker: TaskTracker,
    /// One permit per forwarded connection (`max_connections`).
    slots: Arc<tokio::sync::Semaphore>,
}

/// Controls a running forwarder. Dropping the handle does not stop it; call
/// [`ForwarderHandle::stop`].
#[derive(Clone)]
pub struct ForwarderHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for ForwarderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwarderHandle")
            .field("local_addr", &self.local_addr)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Start forwarding connections accepted on `listener` to `targets`.
pub fn spawn(
    listener: TcpListener,
    targets: TargetSet,
    connector: Arc<dyn Connector>,
    config: ForwarderConfig,
) -> io::Result<ForwarderHandle> {
    if let Some(id) = &config.proxy_protocol_endpoint_id {
        // Refuse a bad id now rather than on every connection.
        let probe: SocketAddr = ([127, 0, 0, 1], 1).into();
        proxy_protocol::header(probe, probe, id)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    }
    let local_addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        targets,
        connector,
        accepting: AtomicBool::new(config.accepting),
        slots: Arc::new(tokio::sync::Semaphore::new(config.max_connections)),
        config,
        stats: ForwarderStats::default(),
        cancel: CancellationToken::new(),
        tracker: TaskTracker::new(),
    });
    crate::metrics::forwarder_started(&shared);
    let s = shared.clone();
    shared.tracker.spawn(accept_loop(listener, s));
    Ok(ForwarderHandle { shared, local_addr })
}

impl Shared {
    /// The `endpoint` label of this forwarder's metrics.
    pub(crate) fn label(&self) -> &str {
        self.config
            .endpoint
            .as_deref()
            .or(self.config.proxy_protocol_endpoint_id.as_deref())
            .unwrap_or("unnamed")
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        crate::metrics::forwarder_retired(self.label(), self.stats.snapshot());
    }
}

impl ForwarderHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    pub fn targets(&self) -> &TargetSet {
        &self.shared.targets
    }

    /// Open or close the gate. While closed (endpoint pending acceptance or rejected),
    /// every new connection is accepted and immediately reset (RST), so the client fails
    /// at once instead of waiting for a timeout. Live connections are not touched.
    pub fn set_accepting(&self, open: bool) {
        self.shared.accepting.store(open, Ordering::Release);
    }

    pub fn is_accepting(&self) -> bool {
        self.shared.accepting.load(Ordering::Acquire)
    }

    /// Stop listening and reset every live connection at once (deleting an endpoint).
    /// Returns when all tasks have ended and every socket is closed.
    pub async fn stop(&self) {
        self.shared.cancel.cancel();
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
    }

    /// Tasks still alive (the accept loop plus one per connection); 0 after [`Self::stop`].
    pub fn live_tasks(&self) -> usize {
        self.shared.tracker.len()
    }

    pub fn is_stopped(&self) -> bool {
        self.shared.cancel.is_cancelled()
    }
}

/// Close with RST instead of FIN: the peer sees "connection reset", not a clean end.
fn reset(s: TcpStream) {
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    drop(s);
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = shared.cancel.cancelled() => return,
        };
        let (client, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE/ENFILE and friends: back off instead of spinning.
                warn!(error = %e, "forwarder accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !shared.accepting.load(Ordering::Acquire) {
            shared.stats.refused.fetch_add(1, Ordering::Relaxed);
            reset(client);
            continue;
        }
        let Ok(slot) = shared.slots.clone().try_acquire_owned() else {
            shared.stats.over_limit.fetch_add(1, Ordering::Relaxed);
            debug!(%peer, "forwarder at max_connections; resetting");
            reset(client);
            continue;
        };
        let s = shared.clone();
        shared.tracker.spawn(async move {
            handle(client, peer, &s).await;
            drop(slot);
        });
    }
}

/// Decrements `active` when the connection ends, whichever way.
struct ActiveGuard<'a>(&'a ForwarderStats);
impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn handle(client: TcpStream, peer: SocketAddr, s: &Shared) {
    let Some(lease) = s.targets.pick() else {
        s.stats.no_target.fetch_add(1, Ordering::Relaxed);
        debug!(%peer, "no healthy target; resetting");
        reset(client);
        return;
    };
    let target_addr = lease.target().addr();
    let connect = tokio::time::timeout(s.config.connect_timeout, s.connector.connect(target_addr));
    let connected = tokio::select! {
        r = connect => r,
        () = s.cancel.cancelled() => return reset(client),
    };
    let mut upstream = match connected {
        Ok(Ok(u)) => u,
        Ok(Err(e)) => return connect_failed(client, s, target_addr, e),
        Err(_) => {
            let e = io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
            return connect_failed(client, s, target_addr, e);
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    if let Some(id) = &s.config.proxy_protocol_endpoint_id {
        let dst = client.local_addr().unwrap_or(peer);
        let sent = match proxy_protocol::header(peer, dst, id) {
            Ok(h) => upstream.write_all(&h).await,
            Err(e) => Err(io::Error::other(e.to_string())),
        };
        if let Err(e) = sent {
            return connect_failed(client, s, target_addr, e);
        }
    }
    s.stats.total.fetch_add(1, Ordering::Relaxed);
    s.stats.active.fetch_add(1, Ordering::Relaxed);
    let _active = ActiveGuard(&s.stats);
    let copy = splice_bidirectional(
        &client,
        &upstream,
        &s.stats.bytes_to_target,
        &s.stats.bytes_to_client,
    );
    let r = tokio::select! {
        r = copy => r,
        () = s.cancel.cancelled() => Err(io::Error::new(io::ErrorKind::ConnectionAborted, "forwarder stopped")),
    };
    if let Err(e) = r {
        debug!(%peer, target = %target_addr, error = %e, "connection ended with an error");
        // Propagate the failure to both sides as a reset.
        reset(client);
        reset(upstream);
    }
    drop(lease);
}

fn connect_failed(client: TcpStream, s: &Shared, target: SocketAddr, e: io::Error) {
    s.stats.connect_failed.fetch_add(1, Ordering::Relaxed);
    debug!(%target, error = %e, "cannot reach target; resetting client");
    reset(client);
}
