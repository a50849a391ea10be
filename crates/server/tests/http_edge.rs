//! What hyper refuses before any router runs is a problem too (issue 13, item 7: "a 100 KB
//! path id gets an empty 414, not problem+json"): a request target over 65,534 bytes, a header
//! section over hyper's buffer, a malformed request line, on a fresh connection and after a
//! request on a kept-alive one. Raw TCP against the real plane (`serve`'s listener). Needs no
//! root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::IntoFuture;
use std::time::Duration;

use linkplane_server::{ControllersConfig, Plane, PlaneConfig, ProblemListener};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Answer {
    status: u16,
    content_type: Option<String>,
    body: Value,
}

/// Read one answer (head and content-length body) from `s`.
async fn read_answer(s: &mut TcpStream, buf: &mut Vec<u8>) -> Answer {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .expect("an answer within 10 s")
            .unwrap_or(0);
        assert!(n > 0, "connection closed before an answer: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let status = head[9..12].parse().unwrap();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let len: usize = header("content-length").map_or(0, |v| v.parse().unwrap());
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed inside the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..head_end + len].to_vec();
    buf.drain(..head_end + len);
    Answer {
        status,
        content_type: header("content-type"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

fn assert_problem(a: &Answer, status: u16, field: &str) {
    assert_eq!(a.status, status);
    assert_eq!(
        a.content_type.as_deref(),
        Some("application/problem+json"),
        "status {status}: {:?}",
        a.body
    );
    assert_eq!(a.body["status"], status, "{}", a.body);
    assert!(!a.body["title"].as_str().unwrap().is_empty());
    assert!(!a.body["detail"].as_str().unwrap().is_empty());
    assert_eq!(a.body["errors"][0]["field"], field, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_hyper_refuses_is_answered_as_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let plane = Plane::start(PlaneConfig {
        data_dir: dir.path().to_owned(),
        api: linkplane_api::Config::default(),
        prefix: linkplane_localcloud::Prefix::parse("tzzzz").unwrap(),
        controllers: ControllersConfig::default(),
        disable_localcloud: true,
        providers: Default::default(),
    })
    .await
    .unwrap();
    let token = std::fs::read_to_string(&plane.bootstrap().admin_token_file)
        .unwrap()
        .trim()
        .to_owned();
    let org = plane.bootstrap().organization_id.to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server =
        tokio::spawn(axum::serve(ProblemListener::new(listener), plane.router()).into_future());
    let get = |path: &str| {
        format!("GET {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\r\n")
    };
    let long_id = "c".repeat(100 * 1024);
    let long_path = format!("/v1/organizations/{org}/clusters/{long_id}");

    // A 100 KB path id on a fresh connection.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(get(&long_path).as_bytes()).await.unwrap();
    let a = read_answer(&mut s, &mut Vec::new()).await;
    assert_problem(&a, 414, "path");
    assert_eq!(a.body["type"], "urn:linkplane:problem:uri-too-long");

    // After an answered request on the same (kept-alive) connection.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    s.write_all(get(&format!("/v1/organizations/{org}/clusters")).as_bytes())
        .await
        .unwrap();
    let first = read_answer(&mut s, &mut buf).await;
    assert_eq!(first.status, 200, "{}", first.body);
    s.write_all(get(&long_path).as_bytes()).await.unwrap();
    assert_problem(&read_answer(&mut s, &mut buf).await, 414, "path");

    // A path just under hyper's limit reaches the router, whose own problem is untouched.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let near = format!("/v1/organizations/{org}/clusters/{}", "c".repeat(60 * 1024));
    s.write_all(get(&near).as_bytes()).await.unwrap();
    let a = read_answer(&mut s, &mut Vec::new()).await;
    assert_eq!(a.content_type.as_deref(), Some("application/problem+json"));
    assert!((400..500).contains(&a.status), "{} {}", a.status, a.body);
    assert_ne!(a.body["type"], "urn:linkplane:problem:uri-too-long");

    // A header section over hyper's buffer (~400 KB).
    let s = TcpStream::connect(addr).await.unwrap();
    let big = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-filler: {}\r\n\r\n",
        "f".repeat(512 * 1024)
    );
    let (mut rd, mut wr) = s.into_split();
    // hyper answers once its buffer is full, before the whole head is sent.
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(big.as_bytes()).await;
        wr
    });
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), rd.read_to_end(&mut raw)).await;
    let _ = writer.await;
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{text}"
    );
    assert!(
        text.contains("content-type: application/problem+json"),
        "{text}"
    );
    let body: Value = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["status"], 431);
    assert_eq!(body["errors"][0]["field"], "headers");

    // A malformed request line.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nbad header\r\n\r\n")
        .await
        .unwrap();
    assert_problem(&read_answer(&mut s, &mut Vec::new()).await, 400, "request");

    server.abort();
    plane.shutdown().await;
}
