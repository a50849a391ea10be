//! Zero-copy bidirectional copy between two TCP sockets with `splice(2)` through a pipe.
//!
//! Each direction borrows one pipe per round (from a per-thread pool). A
//! round moves at most one pipe's worth of bytes from the source socket into the pipe,
//! then drains the pipe completely into the destination socket before reading again. So at most `pipe capacity` bytes per direction are in
//! flight inside the process (backpressure: a slow reader stops the writer through TCP's
//! own windows), the bytes never enter user space, nothing is allocated per byte and no
//! lock is taken. When one direction reaches EOF its destination gets `shutdown(Write)`
//! (a FIN) and the other direction keeps going (half-close).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, SpliceFFlags, fcntl, splice};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Bytes requested from the kernel per pipe (the default pipe is 64 KiB; a larger pipe
/// halves the number of syscalls for bulk transfers). Failure to grow is harmless.
pub const PIPE_SIZE: usize = 256 * 1024;

/// One kernel pipe used as the zero-copy buffer of one direction.
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
}

impl Pipe {
    pub fn new() -> io::Result<Self> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        let capacity = match fcntl(&write, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE as libc::c_int)) {
            Ok(n) if n > 0 => n as usize,
            _ => fcntl(&write, FcntlArg::F_GETPIPE_SZ).map_or(64 * 1024, |n| n.max(4096) as usize),
        };
        Ok(Self {
            read,
            write,
            capacity,
        })
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

const FLAGS: SpliceFFlags = SpliceFFlags::SPLICE_F_MOVE.union(SpliceFFlags::SPLICE_F_NONBLOCK);

fn to_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Pipes kept per worker thread for reuse. A pipe is only borrowed while it holds
/// bytes (one fill + drain round), so an idle connection holds no pipe at all: 2 fds
/// per forwarded connection instead of 6, and no `pipe2` per connection.
const POOL_MAX_PER_THREAD: usize = 64;

thread_local! {
    static POOL: std::cell::RefCell<Vec<Pipe>> = const { std::cell::RefCell::new(Vec::new()) };
}

static POOLED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Pipes currently idle in the per-thread pools (each holds 2 fds). For fd accounting.
pub fn pooled_pipes() -> usize {
    POOLED.load(Ordering::Relaxed)
}

/// A pipe borrowed for one round. Returned to the pool on drop only when marked empty;
/// a pipe that may still hold bytes (the round was cut short) is closed instead.
struct Lease {
    pipe: Option<Pipe>,
    empty: bool,
}

impl Lease {
    fn take() -> io::Result<Self> {
        let pooled = POOL.try_with(|p| p.borrow_mut().pop()).ok().flatten();
        let pipe = match pooled {
            Some(p) => {
                POOLED.fetch_sub(1, Ordering::Relaxed);
                p
            }
            None => Pipe::new()?,
        };
        Ok(Self {
            pipe: Some(pipe),
            empty: false,
        })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(pipe) = self.pipe.take() else { return };
        if !self.empty {
            return; // closed with whatever it held
        }
        let _ = POOL.try_with(move |p| {
            let mut v = p.borrow_mut();
            if v.len() < POOL_MAX_PER_THREAD {
                v.push(pipe);
                POOLED.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}

/// Copy `from` → `to` until EOF on `from`, then shut down `to`'s write side.
/// `counter` is increased by every byte delivered to `to`.
pub async fn splice_one_way(
    from: &TcpStream,
    to: &TcpStream,
    counter: &AtomicU64,
) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        from.readable().await?;
        // Fill: socket → an empty pipe, so EAGAIN means "socket empty".
        let mut lease = Lease::take()?;
        let Some(pipe) = lease.pipe.as_ref() else {
            continue;
        };
        let filled = from.try_io(Interest::READABLE, || {
            splice(from.as_fd(), None, &pipe.write, None, pipe.capacity, FLAGS).map_err(to_io)
        });
        let n = match filled {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                lease.empty = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            lease.empty = true;
            shutdown_write(to);
            return Ok(total);
        }
        // Drain: pipe → socket, completely, before reading again.
        let mut left = n;
        while left > 0 {
            to.writable().await?;
            match to.try_io(Interest::WRITABLE, || {
                splice(&pipe.read, None, to.as_fd(), None, left, FLAGS).map_err(to_io)
            }) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "splice wrote 0")),
                Ok(m) => {
                    left -= m;
                    total += m as u64;
                    counter.fetch_add(m as u64, Ordering::Relaxed);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        lease.empty = true;
    }
}

/// Half-close: send FIN on `s`. An error (peer already gone) is irrelevant here: the
/// other direction will see it on its next operation.
fn shutdown_write(s: &TcpStream) {
    let _ = nix::sys::socket::shutdown(
        std::os::fd::AsRawFd::as_raw_fd(s),
        nix::sys::socket::Shutdown::Write,
    );
}

/// Byte counters of one bidirectional copy.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Bytes from `a` delivered to `b`.
    pub a_to_b: u64,
    /// Bytes from `b` delivered to `a`.
    pub b_to_a: u64,
}

/// Copy both ways between `a` and `b` until both directions reached EOF (each one
/// half-closing its destination), or until the first error, which ends both.
pub async fn splice_bidirectional(
    a: &TcpStream,
    b: &TcpStream,
    a_to_b: &AtomicU64,
    b_to_a: &AtomicU64,
) -> io::Result<Copied> {
    let (x, y) = tokio::try_join!(splice_one_way(a, b, a_to_b), splice_one_way(b, a, b_to_a))?;
    Ok(Copied {
        a_to_b: x,
        b_to_a: y,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (c, s) = tokio::join!(TcpStream::connect(addr), l.accept());
        (c.unwrap(), s.unwrap().0)
    }

    #[test]
    fn pipe_has_a_usable_capacity() {
        let p = Pipe::new().unwrap();
        assert!(p.capacity() >= 4096, "{}", p.capacity());
    }

    #[tokio::test]
    async fn copies_both_ways_with_half_close_and_counts() {
        // client <-> (a  proxy  b) <-> server
        let (mut client, a) = pair().await;
        let (b, mut server) = pair().await;
        let up = AtomicU64::new(0);
        let down = AtomicU64::new(0);
        let proxy = async { splice_bidirectional(&a, &b, &up, &down).await };
        let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let peers = async {
            client.write_all(&payload).await.unwrap();
            client.shutdown().await.unwrap(); // half-close: client done sending
            let mut got = Vec::new();
            server.read_to_end(&mut got).await.unwrap();
            assert_eq!(got.len(), payload.len());
            assert!(got == payload, "payload corrupted");
            // the server can still answer after the client's FIN
            server.write_all(b"reply after half-close").await.unwrap();
            server.shutdown().await.unwrap();
            let mut back = Vec::new();
            client.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, b"reply after half-close");
        };
        let (copied, ()) = tokio::join!(proxy, peers);
        let copied = copied.unwrap();
        assert_eq!(copied.a_to_b, 3_000_000);
        assert_eq!(copied.b_to_a, 22);
        assert_eq!(up.load(Ordering::Relaxed), 3_000_000);
        assert_eq!(down.load(Ordering::Relaxed), 22);
    }

    #[tokio::test]
    async fn a_reset_ends_both_directions_with_an_error() {
        let (client, a) = pair().await;
        let (b, _server) = pair().await;
        let up = AtomicU64::new(0);
        let down = AtomicU64::new(0);
        // RST from the client: linger 0 then drop.
        socket2::SockRef::from(&client)
            .set_linger(Some(std::time::Duration::ZERO))
            .unwrap();
        let mut client = client;
        client.write_all(b"x").await.unwrap();
        drop(client);
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            splice_bidirectional(&a, &b, &up, &down),
        )
        .await
        .expect("a reset must end the copy, not hang");
        assert!(r.is_err(), "{r:?}");
    }
}
