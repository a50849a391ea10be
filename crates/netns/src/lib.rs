//! Run code and open sockets inside Linux network namespaces.
//!
//! A socket belongs to the network namespace of the thread that created it, for its
//! whole life, whatever thread uses it afterwards. So the rule of this crate (and of
//! DESIGN.md) is: *create* a socket on a dedicated OS thread that has `setns`-ed into the
//! namespace, then hand the file descriptor to tokio. Never `setns` a tokio worker.
//!
//! [`NsThread`] keeps one such thread per namespace and runs closures on it, so creating a
//! socket costs a channel round trip, not a thread spawn. [`run_in`] is the one-shot form.
//!
//! Namespaces are the named ones of `ip netns` (bind mounts under `/run/netns`).
//!
//! [`testing`] holds the project-wide policy for tests that need root and namespaces.

#![forbid(unsafe_code)]

use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;

use nix::sched::{CloneFlags, setns};
use socket2::{Domain, Protocol, Socket, Type};

pub mod testing;

/// Where `ip netns` keeps named namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("network namespace {name:?} does not exist (no {path})")]
    NotFound { name: String, path: String },
    #[error("cannot open network namespace {name:?}: {source}")]
    Open {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot enter network namespace {name:?} (setns needs root / CAP_SYS_ADMIN): {source}")]
    Enter {
        name: String,
        #[source]
        source: nix::Error,
    },
    #[error("the thread of network namespace {0:?} has stopped")]
    ThreadGone(String),
    #[error("in network namespace {name:?}: {source}")]
    Io {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Path of a named namespace.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_RUN_DIR).join(name)
}

/// Whether a named namespace exists.
pub fn exists(name: &str) -> bool {
    path(name).exists()
}

fn open(name: &str) -> Result<File> {
    let p = path(name);
    File::open(&p).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound {
                name: name.to_string(),
                path: p.display().to_string(),
            }
        } else {
            Error::Open {
                name: name.to_string(),
                source,
            }
        }
    })
}

// The one place that may enter a namespace (clippy.toml disallows `setns` elsewhere).
#[allow(clippy::disallowed_methods)]
fn enter(name: &str) -> Result<()> {
    let f = open(name)?;
    setns(f.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|source| Error::Enter {
        name: name.to_string(),
        source,
    })
}

/// Run `f` once on a fresh OS thread inside namespace `name` and return its result.
pub fn run_in<F, R>(name: &str, f: F) -> Result<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let owned = name.to_string();
    let handle = thread::Builder::new()
        .name(format!("netns-{name}"))
        .spawn(move || -> Result<R> {
            enter(&owned)?;
            Ok(f())
        })
        .map_err(|source| Error::Io {
            name: name.to_string(),
            source,
        })?;
    handle
        .join()
        .map_err(|_| Error::ThreadGone(name.to_string()))?
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A long-lived OS thread inside one network namespace that runs closures on request.
///
/// Cheap to clone; the thread ends when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct NsThread {
    name: String,
    tx: mpsc::Sender<Job>,
}

impl NsThread {
    /// Start the thread and enter the namespace. Fails if the namespace cannot be entered.
    pub fn spawn(name: &str) -> Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        let owned = name.to_string();
        thread::Builder::new()
            .name(format!("netns-{name}"))
            .spawn(move || {
                let entered = enter(&owned);
                let ok = entered.is_ok();
                let _ = ready_tx.send(entered);
                if !ok {
                    return;
                }
                while let Ok(job) = rx.recv() {
                    job();
                }
            })
            .map_err(|source| Error::Io {
                name: name.to_string(),
                source,
            })?;
        ready_rx
            .recv()
            .map_err(|_| Error::ThreadGone(name.to_string()))??;
        Ok(Self {
            name: name.to_string(),
            tx,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Run `f` on the namespace thread, blocking the caller until it returns.
    /// From async code, prefer [`NsThread::run_async`].
    pub fn run<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.tx
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| Error::ThreadGone(self.name.clone()))?;
        rx.recv().map_err(|_| Error::ThreadGone(self.name.clone()))
    }

    /// Run `f` on the namespace thread without blocking a tokio worker.
    pub async fn run_async<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| Error::ThreadGone(self.name.clone()))?;
        rx.await.map_err(|_| Error::ThreadGone(self.name.clone()))
    }

    /// A non-blocking socket created inside the namespace.
    pub fn socket(&self, domain: Domain, ty: Type, protocol: Option<Protocol>) -> Result<Socket> {
        let name = self.name.clone();
        self.run(move || Socket::new(domain, ty, protocol))?
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .map_err(|source| Error::Io { name, source })
    }

    /// [`NsThread::socket`] without blocking a tokio worker on the namespace round trip.
    pub async fn socket_async(
        &self,
        domain: Domain,
        ty: Type,
        protocol: Option<Protocol>,
    ) -> Result<Socket> {
        let name = self.name.clone();
        self.run_async(move || Socket::new(domain, ty, protocol))
            .await?
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .map_err(|source| Error::Io { name, source })
    }

    /// [`NsThread::tcp_listener`] without blocking a tokio worker.
    pub async fn tcp_listener_async(
        &self,
        addr: SocketAddr,
        backlog: i32,
    ) -> Result<tokio::net::TcpListener> {
        let s = self
            .socket_async(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .await?;
        let io = |source| Error::Io {
            name: self.name.clone(),
            source,
        };
        s.set_reuse_address(true).map_err(io)?;
        s.bind(&addr.into()).map_err(io)?;
        s.listen(backlog).map_err(io)?;
        tokio::net::TcpListener::from_std(s.into()).map_err(io)
    }

    /// [`NsThread::tcp_socket`] without blocking a tokio worker.
    pub async fn tcp_socket_async(&self, v6: bool) -> Result<tokio::net::TcpSocket> {
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let s = self
            .socket_async(domain, Type::STREAM, Some(Protocol::TCP))
            .await?;
        let std: std::net::TcpStream = s.into();
        Ok(tokio::net::TcpSocket::from_std_stream(std))
    }

    /// [`NsThread::udp_socket`] without blocking a tokio worker.
    pub async fn udp_socket_async(&self, addr: SocketAddr) -> Result<tokio::net::UdpSocket> {
        let s = self
            .socket_async(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
            .await?;
        let io = |source| Error::Io {
            name: self.name.clone(),
            source,
        };
        s.set_reuse_address(true).map_err(io)?;
        s.bind(&addr.into()).map_err(io)?;
        tokio::net::UdpSocket::from_std(s.into()).map_err(io)
    }

    /// A tokio TCP listener bound inside the namespace (SO_REUSEADDR set).
    /// Must be called from within a tokio runtime.
    pub fn tcp_listener(&self, addr: SocketAddr, backlog: i32) -> Result<tokio::net::TcpListener> {
        let s = self.socket(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        let io = |source| Error::Io {
            name: self.name.clone(),
            source,
        };
        s.set_reuse_address(true).map_err(io)?;
        s.bind(&addr.into()).map_err(io)?;
        s.listen(backlog).map_err(io)?;
        tokio::net::TcpListener::from_std(s.into()).map_err(io)
    }

    /// An unconnected tokio TCP socket created inside the namespace; bind and connect it
    /// with tokio as usual (connect is async and happens in the socket's namespace).
    pub fn tcp_socket(&self, v6: bool) -> Result<tokio::net::TcpSocket> {
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let s = self.socket(domain, Type::STREAM, Some(Protocol::TCP))?;
        let std: std::net::TcpStream = s.into();
        Ok(tokio::net::TcpSocket::from_std_stream(std))
    }

    /// A tokio UDP socket bound inside the namespace. Must be called within a tokio runtime.
    pub fn udp_socket(&self, addr: SocketAddr) -> Result<tokio::net::UdpSocket> {
        let s = self.socket(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        let io = |source| Error::Io {
            name: self.name.clone(),
            source,
        };
        s.set_reuse_address(true).map_err(io)?;
        s.bind(&addr.into()).map_err(io)?;
        tokio::net::UdpSocket::from_std(s.into()).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_namespace_is_a_clear_error() {
        let err = run_in("lp-definitely-missing-ns", || ()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("does not exist") || msg.contains("cannot enter"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn socket_lives_in_the_namespace() {
        if !testing::require_root("netns::socket_lives_in_the_namespace") {
            return;
        }
        let ns = testing::TestNs::new("nsk").expect("create namespace");
        let t = NsThread::spawn(ns.name()).expect("enter");
        // 127.0.0.1 inside the namespace is not the host's loopback: a listener there is
        // invisible from the host, and a connection from the same namespace reaches it.
        let listener = t
            .tcp_listener("127.0.0.1:0".parse().unwrap(), 16)
            .expect("listen");
        let addr = listener.local_addr().unwrap();
        let host = tokio::net::TcpStream::connect(addr).await;
        assert!(host.is_err(), "host loopback must not reach the namespace");
        let sock = t.tcp_socket(false).expect("socket");
        let (client, server) = tokio::join!(sock.connect(addr), listener.accept());
        client.expect("connect inside namespace");
        server.expect("accept");
        // The async variants make the same sockets without blocking a worker.
        let l2 = t
            .tcp_listener_async("127.0.0.1:0".parse().unwrap(), 16)
            .await
            .expect("listen async");
        let a2 = l2.local_addr().unwrap();
        assert!(tokio::net::TcpStream::connect(a2).await.is_err());
        let s2 = t.tcp_socket_async(false).await.expect("socket async");
        let (c2, s2r) = tokio::join!(s2.connect(a2), l2.accept());
        c2.expect("connect async inside namespace");
        s2r.expect("accept async");
        let u = t
            .udp_socket_async("127.0.0.1:0".parse().unwrap())
            .await
            .expect("udp async");
        assert!(u.local_addr().unwrap().ip().is_loopback());
    }
}
