//! The fd / task leak check, alone in its binary: /proc/self/fd counts the whole
//! process, so no other test may run beside it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use linkplane_dataplane::{Connector, LocalConnector, TargetSet, TargetState, forwarder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn read_all(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    s.read_to_end(&mut v).await.map(|_| v)
}

async fn wait_for(mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not reached within 5 s");
}

fn healthy(addr: std::net::SocketAddr) -> TargetSet {
    let s = TargetSet::new();
    s.register_with_state(addr, TargetState::Healthy);
    s
}

/// Loopback only (no root needed): open and close many connections, then the process
/// must hold exactly the file descriptors and tasks it held before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_fd_or_task_leak_after_many_connections() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = TargetServer::start(listener, "lo");
    let fl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let connector: Arc<dyn Connector> = Arc::new(LocalConnector::default());
    // Warm up the runtime (its own fds) before measuring.
    let warm = forwarder::spawn(
        fl,
        healthy(server.addr),
        connector.clone(),
        Default::default(),
    )
    .unwrap();
    let mut c = TcpStream::connect(warm.local_addr()).await.unwrap();
    read_line(&mut c).await.unwrap();
    drop(c);
    wait_for(|| warm.stats().active == 0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Idle pipes kept for reuse by the splice pool are accounted for (2 fds each).
    let pooled = || 2 * linkplane_dataplane::splice::pooled_pipes();
    let baseline = open_fds() - pooled();

    let addr = warm.local_addr();

    // Idle forwarded connections hold no pipe: 4 fds each in this process (the client's
    // socket, the forwarder's two, the target's one).
    let mut idle = Vec::new();
    for _ in 0..50 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"sixteen bytes..!").await.unwrap();
        let line = read_line(&mut c).await.unwrap();
        assert!(line.starts_with("lo "), "{line}");
        idle.push(c);
    }
    wait_for(|| warm.stats().active == 50).await;
    // The count settles a moment after the counters (a busy machine: the target's side
    // of the last connections, the runtime's own descriptors); exact once it has.
    let settled = || open_fds() - pooled() == baseline + 4 * 50;
    for _ in 0..200 {
        if settled() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(open_fds() - pooled(), baseline + 4 * 50);
    drop(idle);
    wait_for(|| warm.stats().active == 0).await;
    let mut tasks = Vec::new();
    for i in 0..300u32 {
        tasks.push(tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(&i.to_be_bytes()).await.unwrap();
            if i % 3 == 0 {
                // a third reset abruptly
                socket2::SockRef::from(&c)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(c);
            } else {
                c.shutdown().await.unwrap();
                let v = read_all(&mut c).await.unwrap();
                assert!(v.ends_with(&i.to_be_bytes()));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    wait_for(|| warm.stats().active == 0).await;
    assert_eq!(warm.stats().total, 351);
    // Only the accept loop remains (a task ends just after its counters drop).
    wait_for(|| warm.live_tasks() == 1).await;
    // Let the target server's tasks see their EOFs too.
    for _ in 0..100 {
        if open_fds() - pooled() == baseline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if open_fds() - pooled() != baseline {
        let out = std::process::Command::new("ss")
            .args(["-tanp"])
            .output()
            .unwrap();
        let me = format!("pid={}", std::process::id());
        for l in String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains(&me))
        {
            eprintln!("{l}");
        }
    }
    assert_eq!(open_fds() - pooled(), baseline, "file descriptors leaked");
    assert!(
        linkplane_dataplane::splice::pooled_pipes() <= 2 * 64,
        "the pipe pool is bounded per worker thread"
    );
    warm.stop().await;
    assert_eq!(warm.live_tasks(), 0);
    assert_eq!(
        open_fds(),
        baseline + pooled() - 1,
        "the listener must be closed by stop"
    );
}
