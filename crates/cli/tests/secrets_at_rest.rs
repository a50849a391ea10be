//! Secrets at rest, against a real `linkplane serve`: a VPN pre-shared key is in no file of
//! the data dir (database, WAL), not in the serve log and in no API response; the data dir
//! is 0700 and what serve writes there is 0600; a missing key file while the database holds
//! sealed secrets stops serve with a clear error instead of making a new key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Server;

const PSK: &str = "Zq7_DistinctivePsk.AtRest_9041";

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The files under `dir` (recursively) whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            hits.extend(files_containing(&p, needle));
        } else if let Ok(bytes) = std::fs::read(&p)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            hits.push(p.display().to_string());
        }
    }
    hits
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    /// Every response body seen, to grep at the end.
    seen: Vec<String>,
}

impl Api {
    async fn call(&mut self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = format!("{:?}", resp.headers());
        let text = resp.text().await.unwrap();
        self.seen.push(format!("{headers}\n{text}"));
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vpn_pre_shared_key_is_in_no_file_log_or_response() {
    let server = Server::start();
    let dir = server.data_path().to_owned();
    let org = std::fs::read_to_string(dir.join("organization-id"))
        .unwrap()
        .trim()
        .to_owned();
    let cluster = server.create_cluster("secrets", "DEDICATED", "10.61.0.0/16");
    let mut api = Api {
        http: http(),
        base: server.url(),
        token: server.admin_token(),
        seen: vec![],
    };
    let vpns = format!("/v1/organizations/{org}/clusters/{cluster}/vpn-connections");
    let created = api
        .call(
            reqwest::Method::POST,
            &vpns,
            Some(json!({
                "name": "v",
                "gatewayIps": ["203.0.113.10"],
                "preSharedKey": PSK,
                "staticPrefixes": ["172.30.0.0/16"],
                "insideCidr": "169.254.10.0/30",
            })),
        )
        .await;
    let vid = created["id"].as_str().unwrap().to_owned();
    // Let the controllers take their passes over it (and log whatever they log).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = api
            .call(reqwest::Method::GET, &format!("{vpns}/{vid}"), None)
            .await;
        let status = got["status"].as_str().unwrap_or_default().to_owned();
        if Instant::now() > deadline || !["PENDING", "CREATING", ""].contains(&status.as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    api.call(reqwest::Method::GET, &vpns, None).await;
    api.call(
        reqwest::Method::GET,
        &format!("/v1/organizations/{org}/clusters/{cluster}"),
        None,
    )
    .await;

    for (i, r) in api.seen.iter().enumerate() {
        assert!(!r.contains(PSK), "response {i} holds the key: {r}");
    }
    let hits = files_containing(&dir, PSK.as_bytes());
    assert!(hits.is_empty(), "the key is in {hits:?}");
    assert!(!server.log().contains(PSK), "the serve log holds the key");

    // Permissions of what serve keeps there.
    assert_eq!(mode(&dir), 0o700, "the data dir");
    for name in ["secrets.key", "admin.token", "organization-id", "ca.key"] {
        if dir.join(name).exists() || name != "ca.key" {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
    }
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("linkplane.db") || name.starts_with("localcloud.db") {
            assert_eq!(mode(&p), 0o600, "{name}");
        }
    }
    // The key file holds 32 random bytes (hex), not the secret.
    let key = std::fs::read_to_string(dir.join("secrets.key")).unwrap();
    assert_eq!(key.trim().len(), 64);
}

/// `serve` with this data dir and `extra` arguments, expected to exit by itself; returns
/// (exit code, combined output).
fn serve_expecting_exit(dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let addr = format!("127.0.0.1:{}", support::free_port());
    let log = dir.join("failed-start.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = support::linkplane()
        .args(["serve", "--listen", &addr, "--no-localcloud", "--data-dir"])
        .arg(dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve kept running: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    (status.code(), std::fs::read_to_string(&log).unwrap())
}

#[test]
fn a_missing_key_file_with_sealed_secrets_stops_serve_and_an_explicit_key_file_is_used() {
    let key_dir = tempfile::tempdir().unwrap();
    let key_file = key_dir.path().join("plane.key");
    let key_arg = key_file.display().to_string();
    let mut server = Server::start_with(&["--no-localcloud", "--secrets-key-file", &key_arg]);
    assert_eq!(mode(&key_file), 0o600);
    assert!(
        !server.data_path().join("secrets.key").exists(),
        "the given key file is used instead"
    );
    let cluster = server.create_cluster("k", "DEDICATED", "10.62.0.0/16");
    let org = std::fs::read_to_string(server.data_path().join("organization-id"))
        .unwrap()
        .trim()
        .to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut api = Api {
            http: http(),
            base: server.url(),
            token: server.admin_token(),
            seen: vec![],
        };
        api.call(
            reqwest::Method::POST,
            &format!("/v1/organizations/{org}/clusters/{cluster}/vpn-connections"),
            Some(json!({
                "name": "v",
                "gatewayIps": ["203.0.113.10"],
                "preSharedKey": PSK,
                "staticPrefixes": ["172.30.0.0/16"],
            })),
        )
        .await;
    });
    // The same key file on a restart: serve comes back.
    server.kill_and_restart();
    // Stop it, keeping its data directory.
    let kept = std::mem::replace(&mut server.data_dir, tempfile::tempdir().unwrap());
    drop(server);
    let dir = kept.path().to_owned();
    std::fs::rename(&key_file, key_dir.path().join("moved.key")).unwrap();
    let (code, out) = serve_expecting_exit(&dir, &["--secrets-key-file", &key_arg]);
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("plane.key") && out.contains("is missing"),
        "{out}"
    );
    assert!(out.contains("encrypted secret"), "{out}");
    assert!(!key_file.exists(), "never silently a new key");
    assert!(!out.contains(PSK));
}
