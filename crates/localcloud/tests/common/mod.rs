//! Shared harness for localcloud's namespace tests: one engine per test under its own
//! prefix, removed (gc) on drop even when the test panics.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use linkplane_localcloud::types::*;
use linkplane_localcloud::{Engine, EngineConfig, Prefix, Principal};

pub struct Cloud {
    pub engine: Arc<Engine>,
    pub prefix: Prefix,
    pub dir: tempfile::TempDir,
}

impl Cloud {
    /// `None` when the test must skip (not root outside CI).
    pub async fn new(test: &str) -> Option<Self> {
        if !linkplane_netns::testing::require_root(test) {
            return None;
        }
        let prefix = Prefix::parse(&linkplane_netns::testing::unique_prefix()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(EngineConfig::new(dir.path(), prefix.clone()))
            .await
            .expect("open engine");
        gc_on_signal(prefix.clone());
        Some(Self {
            engine: Arc::new(engine),
            prefix,
            dir,
        })
    }

    /// Re-open the engine on the same data dir and prefix (a restart).
    pub async fn reopen(&mut self) {
        // The old engine's forwarders and resolvers stop, as when a process exits.
        self.engine.shutdown().await;
        let engine = Engine::open(EngineConfig::new(self.dir.path(), self.prefix.clone()))
            .await
            .expect("reopen engine");
        self.engine = Arc::new(engine);
    }

    pub async fn vpc(&self, p: &Principal, cidr: &str) -> Vpc {
        self.engine
            .create_vpc(
                p,
                CreateVpc {
                    cidr_block: cidr.into(),
                    ..Default::default()
                },
            )
            .await
            .expect("create vpc")
    }

    pub async fn subnet(&self, p: &Principal, vpc: &Vpc, cidr: &str) -> Subnet {
        self.engine
            .create_subnet(
                p,
                CreateSubnet {
                    vpc_id: vpc.vpc_id.clone(),
                    cidr_block: cidr.into(),
                    availability_zone: "us-east-1a".into(),
                    ..Default::default()
                },
            )
            .await
            .expect("create subnet")
    }

    pub async fn instance(&self, p: &Principal, subnet: &Subnet, groups: &[&str]) -> Instance {
        self.engine
            .create_instance(
                p,
                CreateInstance {
                    subnet_id: subnet.subnet_id.clone(),
                    security_group_ids: groups.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                },
            )
            .await
            .expect("create instance")
    }

    /// Run a shell snippet in an instance; (exit code, stdout, stderr).
    pub async fn sh(&self, p: &Principal, inst: &Instance, script: &str) -> (i32, String, String) {
        let out = self
            .engine
            .exec(
                p,
                &inst.instance_id,
                &["bash".into(), "-c".into(), script.into()],
                b"",
                Duration::from_secs(20),
            )
            .await
            .expect("exec");
        (
            out.exit_code,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Start a TCP server in an instance that answers each connection with the peer's
    /// address, and wait until it listens.
    pub async fn serve(&self, p: &Principal, inst: &Instance, port: u16) {
        self.engine
            .run_process(p, &inst.instance_id, &server_cmd(port))
            .await
            .expect("run server");
        self.wait_listening(p, inst, port).await;
    }

    pub async fn wait_listening(&self, p: &Principal, inst: &Instance, port: u16) {
        for _ in 0..100 {
            let (_, out, _) = self
                .sh(p, inst, &format!("ss -Hltn 'sport = :{port}'"))
                .await;
            if !out.trim().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "server on port {port} in {} never listened",
            inst.instance_id
        );
    }

    /// Connect from `inst` to ip:port; Some(what the server said) or None if it failed.
    pub async fn connect(
        &self,
        p: &Principal,
        inst: &Instance,
        ip: &str,
        port: u16,
    ) -> Option<String> {
        let (code, out, _) = self.sh(p, inst, &client_script(ip, port)).await;
        (code == 0 && !out.trim().is_empty()).then(|| out.trim().to_string())
    }
}

/// A test or benchmark stopped by SIGTERM or SIGINT (a Ctrl-C, a `kill`, a timeout) never
/// runs `Drop`: gc its prefix first, then exit as the signal would have.
fn gc_on_signal(prefix: Prefix) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        let code = tokio::select! {
            _ = term.recv() => 143,
            _ = int.recv() => 130,
        };
        let report = linkplane_localcloud::gc(&prefix);
        eprintln!(
            "stopped by a signal: gc {prefix}: {} namespaces",
            report.namespaces.len()
        );
        std::process::exit(code);
    });
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let report = linkplane_localcloud::gc(&self.prefix);
        eprintln!("gc {}: {} namespaces", self.prefix, report.namespaces.len());
    }
}

pub fn server_cmd(port: u16) -> Vec<String> {
    vec![
        "socat".into(),
        format!("TCP-LISTEN:{port},fork,reuseaddr"),
        "SYSTEM:echo peer=$SOCAT_PEERADDR".into(),
    ]
}

pub fn client_script(ip: &str, port: u16) -> String {
    format!("timeout 4 socat -T3 - TCP:{ip}:{port},connect-timeout=2 </dev/null")
}

pub fn principal(account: &str) -> Principal {
    Principal::parse(&format!("arn:aws:iam::{account}:root")).unwrap()
}

/// A bounded benchmark knob from the environment: `default` when unset or unparsable,
/// clamped to 1..=`max`.
pub fn env_u64(name: &str, default: u64, max: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .clamp(1, max)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Run a bash snippet in an instance as its owner, within `secs`; its stdout (it must exit 0).
pub async fn exec_ok(c: &Cloud, inst: &Instance, script: &str, secs: u64) -> String {
    let out = c
        .engine
        .exec(
            &principal(&inst.owner_id),
            &inst.instance_id,
            &["bash".into(), "-c".into(), script.into()],
            b"",
            Duration::from_secs(secs),
        )
        .await
        .unwrap();
    assert_eq!(
        out.exit_code,
        0,
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
