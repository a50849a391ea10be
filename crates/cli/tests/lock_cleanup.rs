//! A prefix's lock file (`/run/linkplane/<prefix>.lock`) does not outlive its `serve`: a
//! clean exit (SIGTERM) removes it, and after a `kill -9` `local gc --prefix` (what every
//! test's cleanup runs) removes it once nobody holds it. Needs root (the prefix lock exists
//! only when localcloud runs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Server, free_port, linkplane};

fn lock_file(prefix: &str) -> PathBuf {
    PathBuf::from(format!("/run/linkplane/{prefix}.lock"))
}

#[test]
fn after_kill_9_local_gc_removes_the_lock_file() {
    if !linkplane_netns::testing::require_root("after_kill_9_local_gc_removes_the_lock_file") {
        return;
    }
    let server = Server::start();
    let lock = lock_file(&server.prefix);
    let held = std::fs::read_to_string(&lock).unwrap();
    assert!(
        held.contains(&format!("prefix={}", server.prefix)),
        "{held}"
    );
    // Drop: SIGKILL, then `local gc --prefix`.
    drop(server);
    assert!(!lock.exists(), "{} is left behind", lock.display());
}

#[test]
fn a_clean_exit_removes_the_lock_file() {
    if !linkplane_netns::testing::require_root("a_clean_exit_removes_the_lock_file") {
        return;
    }
    let prefix = linkplane_netns::testing::unique_prefix();
    let dir = tempfile::tempdir().unwrap();
    let lock = lock_file(&prefix);
    let port = free_port();
    let mut child = linkplane()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--prefix", &prefix])
        .arg("--data-dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cleanup = |child: &mut std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
        let _ = linkplane()
            .args(["local", "gc", "--prefix", &prefix])
            .output();
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    // Answering HTTP: the lock is taken and SIGTERM is handled (the handler is installed
    // when serving starts; a SIGTERM before that ends the process as any signal does).
    let answers = || {
        use std::io::{Read as _, Write as _};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        got.starts_with("HTTP/1.1 200")
    };
    while !(std::fs::read_to_string(&lock).is_ok_and(|s| s.contains("pid=")) && answers()) {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            cleanup(&mut child);
            panic!("serve did not take the prefix lock and listen");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let exited = child.try_wait().unwrap();
    let left = lock.exists();
    cleanup(&mut child);
    assert!(exited.is_some(), "serve did not stop on SIGTERM");
    assert!(!left, "{} is left after a clean exit", lock.display());
}
