//! Runs the real `linkplane` binary: `serve` on 127.0.0.1:<free port> with a temporary data
//! directory and its own localcloud prefix, and client commands against it. On drop, even
//! when the test panics, the server is killed and `linkplane local gc` removes every kernel
//! object under its prefix (as root, `serve` builds LOCAL clusters in real namespaces).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_linkplane");

/// Environment variables the client reads; cleared so the caller's shell cannot leak in.
const CLIENT_ENV: &[&str] = &[
    "LINKPLANE_URL",
    "LINKPLANE_TOKEN",
    "LINKPLANE_TOKEN_FILE",
    "LINKPLANE_ORG",
    "LINKPLANE_DATA_DIR",
    "LINKPLANE_OUTPUT",
    "LINKPLANE_CA_FILE",
    "LINKPLANE_CLUSTER",
    "LINKPLANE_DEPLOYMENT",
    "LINKPLANE_VPN_PRE_SHARED_KEY",
    "LINKPLANE_LISTEN",
];

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `linkplane` command with a clean client environment.
pub fn linkplane() -> Command {
    let mut cmd = Command::new(BIN);
    for var in CLIENT_ENV {
        cmd.env_remove(var);
    }
    // Errors are asserted on; keep anyhow's backtraces out of them.
    cmd.env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    cmd
}

/// The result of one client command.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "command failed: {self:#?}");
        self
    }

    pub fn failed(self) -> Self {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "command should have failed: {self:#?}"
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

pub fn run(mut cmd: Command, stdin: Option<&str>) -> Run {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    Run::from(child.wait_with_output().unwrap())
}

/// `linkplane serve` on a free loopback port with its own data directory.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// localcloud installation prefix (`t` + 4 base-36 characters).
    pub prefix: String,
    pub data_dir: tempfile::TempDir,
    log: PathBuf,
    /// Extra `serve` arguments, given again on a restart.
    extra: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        gc(&self.prefix);
    }
}

/// `linkplane local gc --prefix P`: removes the namespaces, links and processes a server with
/// that prefix made (nothing to do when it ran without root).
fn gc(prefix: &str) {
    // Shown with the output of a failing test.
    match linkplane()
        .args(["local", "gc", "--prefix", prefix])
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => eprintln!(
            "local gc --prefix {prefix}: {}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => eprintln!("local gc --prefix {prefix} did not run: {e}"),
    }
}

impl Server {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Start with extra `serve` arguments (e.g. `--agent-heartbeat-interval 1s`).
    pub fn start_with(extra: &[&str]) -> Self {
        let mut last_log = String::new();
        for _ in 0..5 {
            let data_dir = tempfile::tempdir().unwrap();
            let log = data_dir.path().join("serve.log");
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let prefix = linkplane_netns::testing::unique_prefix();
            let log_file = std::fs::File::create(&log).unwrap();
            let child = linkplane()
                .args(["serve", "--listen", &addr.to_string(), "--prefix", &prefix])
                .arg("--data-dir")
                .arg(data_dir.path())
                .args(extra)
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().unwrap())
                .stderr(log_file)
                .spawn()
                .unwrap();
            let mut server = Server {
                child,
                addr,
                prefix,
                data_dir,
                log,
                extra: extra.iter().map(|a| (*a).to_owned()).collect(),
            };
            if server.wait_ready(Duration::from_secs(60)) {
                return server;
            }
            last_log = server.log();
            // Probably lost the port race; drop kills it and we try another port.
        }
        panic!("linkplane serve did not become ready; last log:\n{last_log}");
    }

    /// `kill -9` the server (no shutdown of any kind), then start it again on the same
    /// address, data directory and prefix, as an operator restarting it would.
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
        let log_file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .unwrap();
        self.child = linkplane()
            .args([
                "serve",
                "--listen",
                &self.addr.to_string(),
                "--prefix",
                &self.prefix,
            ])
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(&self.extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap();
        assert!(
            self.wait_ready(Duration::from_secs(60)),
            "serve did not come back after kill -9:\n{}",
            self.log()
        );
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if healthz(self.addr) && self.data_dir.path().join("admin.token").exists() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn data_path(&self) -> &Path {
        self.data_dir.path()
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_path().join("admin.token"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// A client command against this server, authenticated through `--data-dir` (the
    /// admin token and organization id that `serve` wrote).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = linkplane();
        cmd.args(args)
            .env("LINKPLANE_URL", self.url())
            .env("LINKPLANE_DATA_DIR", self.data_path());
        cmd
    }

    pub fn lp(&self, args: &[&str]) -> Run {
        run(self.cmd(args), None)
    }

    /// Creates a cluster and returns its id.
    pub fn create_cluster(&self, name: &str, kind: &str, cidr: &str) -> String {
        let out = self
            .lp(&[
                "cluster",
                "create",
                "--name",
                name,
                "--type",
                kind,
                "--region",
                "us-east-1",
                "--vpc-subnet-range",
                cidr,
                "-o",
                "json",
            ])
            .ok();
        out.json()["id"].as_str().unwrap().to_owned()
    }
}

/// `GET /healthz` answers 200.
fn healthz(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}
