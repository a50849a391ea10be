//! `--url https://…` with `--ca-file`: the real `serve` behind a real TLS terminator whose
//! certificate comes from the project's CA (`linkplane_ingress::Ca`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use linkplane_ingress::Ca;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::{Server, linkplane, run};

/// Terminates TLS on 127.0.0.1:<free port> and forwards the bytes to `backend`. Stops when
/// dropped (the runtime and its tasks go with it).
struct TlsFront {
    addr: SocketAddr,
    ca_file: PathBuf,
    _dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

impl TlsFront {
    fn start(backend: SocketAddr) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(&dir.path().join("ca")).unwrap();
        let ca_file = dir.path().join("trusted-ca.pem");
        std::fs::write(&ca_file, ca.cert_pem()).unwrap();

        let issued = ca.issue(&["127.0.0.1".to_owned()]).unwrap();
        let cert = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
        let key = PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert, ca.cert_der().clone()], key)
        .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return; // the client refused our certificate
                    };
                    let Ok(mut up) = tokio::net::TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                });
            }
        });
        Self {
            addr,
            ca_file,
            _dir: dir,
            _rt: rt,
        }
    }
}

#[test]
fn https_with_the_ca_file_works_and_without_it_is_refused_clearly() {
    let server = Server::start();
    let front = TlsFront::start(server.addr);
    let url = format!("https://127.0.0.1:{}", front.addr.port());
    let token = server.admin_token();

    let mut cmd = linkplane();
    cmd.args([
        "organization",
        "list",
        "-o",
        "json",
        "--url",
        &url,
        "--ca-file",
    ])
    .arg(&front.ca_file)
    .env("LINKPLANE_TOKEN", &token);
    let out = run(cmd, None).ok();
    assert!(
        out.json()["items"].as_array().is_some_and(|a| a.len() == 1),
        "{out:#?}"
    );

    // The system roots do not know our CA: a clear refusal naming the URL.
    let mut cmd = linkplane();
    cmd.args(["organization", "list", "--url", &url])
        .env("LINKPLANE_TOKEN", &token);
    let out = run(cmd, None).failed();
    assert!(out.stderr.contains(&url), "{}", out.stderr);
    assert!(
        out.stderr.to_lowercase().contains("certificate")
            || out.stderr.to_lowercase().contains("issuer"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains(&token),
        "the token leaked into an error"
    );
}
