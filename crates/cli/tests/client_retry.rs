//! A create whose answer is lost is retried with the same Idempotency-Key and creates one
//! resource. The real `serve` sits behind a TCP relay that cuts the connection of the first
//! POST after the server has answered, so the server did the work but the client never saw it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use support::{Server, linkplane, run};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Relays 127.0.0.1:<free port> to `backend`; the first connection that sends a POST gets
/// its answer swallowed and is closed. Counts the POSTs it saw.
struct LossyRelay {
    addr: SocketAddr,
    posts: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

impl LossyRelay {
    fn start(backend: SocketAddr) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let posts = Arc::new(AtomicUsize::new(0));
        let seen = posts.clone();
        rt.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, backend, seen.clone()));
            }
        });
        Self {
            addr,
            posts,
            _rt: rt,
        }
    }
}

async fn relay(mut client: TcpStream, backend: SocketAddr, posts: Arc<AtomicUsize>) {
    let Ok(mut server) = TcpStream::connect(backend).await else {
        return;
    };
    let mut swallow = false;
    let (mut up, mut down) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        tokio::select! {
            n = client.read(&mut up) => {
                let Ok(n @ 1..) = n else { return };
                if up[..n].starts_with(b"POST ") && posts.fetch_add(1, Ordering::SeqCst) == 0 {
                    swallow = true;
                }
                if server.write_all(&up[..n]).await.is_err() {
                    return;
                }
            }
            n = server.read(&mut down) => {
                let Ok(n @ 1..) = n else { return };
                if swallow {
                    // The server answered; the client never hears it.
                    return;
                }
                if client.write_all(&down[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_create_whose_answer_was_lost_is_retried_once_without_a_duplicate() {
    let server = Server::start();
    let relay = LossyRelay::start(server.addr);
    let org = std::fs::read_to_string(server.data_path().join("organization-id")).unwrap();

    let mut cmd = linkplane();
    cmd.args([
        "cluster",
        "create",
        "--name",
        "lossy",
        "--region",
        "us-east-1",
        "--vpc-subnet-range",
        "10.13.0.0/16",
        "-o",
        "json",
        "--org",
        org.trim(),
        "--url",
    ])
    .arg(format!("http://{}", relay.addr))
    .env("LINKPLANE_TOKEN", server.admin_token());
    let out = run(cmd, None).ok();
    let created = out.json();
    assert_eq!(created["name"], "lossy", "{out:#?}");
    assert_eq!(
        relay.posts.load(Ordering::SeqCst),
        2,
        "the create was sent twice"
    );

    // The server saw two POSTs and stored one cluster: the one the client printed.
    let list = server.lp(&["cluster", "list", "-o", "json"]).ok().json();
    let clusters = items(&list);
    assert_eq!(clusters.len(), 1, "{list}");
    assert_eq!(clusters[0]["id"], created["id"]);
}
