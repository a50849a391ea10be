//! This machine: preflight checks, the background `linkplane serve`, secrets in the data
//! directory, and `linkplane verify` run as a child.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use linkplane_client::Client;
use serde_json::json;

use super::*;

/// Refuses to start without root or the kernel features and programs localcloud needs.
pub(super) fn preflight() -> anyhow::Result<()> {
    if !linkplane_localcloud::running_as_root() {
        bail!(
            "linkplane up needs root (it builds namespaces, veths and nftables): run it as root, e.g. sudo linkplane up"
        );
    }
    for prog in ["ip", "nft", "nsenter"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
            .unwrap_or(false);
        if !found {
            bail!(
                "`{prog}` is missing: install the Debian packages iproute2, nftables and util-linux (./scripts/install-deps does)"
            );
        }
    }
    for (path, what) in [
        ("/proc/self/ns/net", "network namespaces (CONFIG_NET_NS)"),
        ("/proc/sys/net/ipv4/ip_forward", "IPv4 forwarding"),
    ] {
        if !Path::new(path).exists() {
            bail!("this kernel lacks {what} ({path} is missing): localcloud cannot run here");
        }
    }
    Ok(())
}

pub(super) fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

pub(super) fn pid_alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

pub(super) fn read_pid(data_dir: &Path) -> Option<i32> {
    std::fs::read_to_string(data_dir.join(PID_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub(super) async fn healthy(server: &Client) -> bool {
    server.healthy().await
}

/// Reuses a control plane answering at `--listen`, or starts `linkplane serve` detached.
pub(super) async fn ensure_serve(
    args: &UpArgs,
    data_dir: &Path,
    server: &Client,
) -> anyhow::Result<(String, String)> {
    let url = format!("http://{}", args.listen);
    if healthy(server).await {
        if !data_dir.join("admin.token").exists() {
            bail!(
                "a control plane already answers at {url}, but {} has none of its files: give its \
                 --data-dir, or another --listen for a new one",
                data_dir.display()
            );
        }
        return Ok((url.clone(), format!("reusing {url}")));
    }
    // `down` deletes the directory only when `up` made it (or found it empty).
    let ours = data_dir.join(MARKER).exists()
        || std::fs::read_dir(data_dir).map_or(true, |mut d| d.next().is_none());
    crate::serve::private_dir(data_dir)?;
    if ours {
        std::fs::write(
            data_dir.join(MARKER),
            json!({"prefix": args.prefix, "listen": args.listen.to_string()}).to_string(),
        )?;
    }
    let log_path = data_dir.join(LOG_FILE);
    let log = {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        // A log an older version left readable by others.
        log.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        log
    };
    let exe = linkplane_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("serve")
        .arg("--listen")
        .arg(args.listen.to_string())
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--prefix")
        .arg(&args.prefix)
        .arg("--agent-heartbeat-interval")
        .arg(&args.agent_heartbeat_interval);
    if let Some(key) = &args.secrets_key_file {
        cmd.arg("--secrets-key-file").arg(key);
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().context("cannot start linkplane serve")?;
    std::fs::write(data_dir.join(PID_FILE), child.id().to_string())?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Some(status) = child.try_wait()? {
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last = tail
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            bail!(
                "linkplane serve exited ({status}); the end of {}:\n{last}",
                log_path.display()
            );
        }
        if healthy(server).await {
            return Ok((
                url,
                format!("started pid {} (log {})", child.id(), log_path.display()),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!(
        "linkplane serve did not answer on {url} within 60s; see {}",
        log_path.display()
    )
}

/// This binary's path, read once: a rebuild that replaces the file while `up` runs must not
/// leave later steps with `/proc/self/exe`'s "(deleted)" name.
pub(super) fn linkplane_exe() -> anyhow::Result<PathBuf> {
    static EXE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    EXE.get_or_init(|| std::env::current_exe().ok())
        .clone()
        .ok_or_else(|| anyhow!("cannot find the linkplane binary (/proc/self/exe)"))
}

pub(super) fn read_secret(path: &Path) -> anyhow::Result<String> {
    let t = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading {} (written by `linkplane serve` on first start)",
            path.display()
        )
    })?;
    let t = t.trim().to_owned();
    if t.is_empty() {
        bail!("{} is empty", path.display());
    }
    Ok(t)
}

/// Runs `linkplane verify --deployment D --from INSTANCE --output json` as a user would.
pub(super) async fn verify(url: &str, data_dir: &Path, org: &str, s: &State) -> Verification {
    let failed = |detail: String| Verification {
        passed: false,
        checks: vec![Check {
            name: "verify".into(),
            passed: false,
            detail,
            diagnosis: None,
            fix: None,
        }],
    };
    let exe = match linkplane_exe() {
        Ok(e) => e,
        Err(e) => return failed(format!("cannot find the linkplane binary: {e}")),
    };
    let out = tokio::process::Command::new(exe)
        .args([
            "verify",
            "--deployment",
            &s.deployment_id,
            "--from",
            &s.instance_id,
            "--output",
            "json",
        ])
        .env("LINKPLANE_URL", url)
        .env("LINKPLANE_DATA_DIR", data_dir)
        .env("LINKPLANE_TOKEN_FILE", data_dir.join("admin.token"))
        .env("LINKPLANE_ORG", org)
        .env("LINKPLANE_CLOUD_PRINCIPAL", CUSTOMER_PRINCIPAL)
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    let out = match out {
        Ok(o) => o,
        Err(e) => return failed(format!("cannot run linkplane verify: {e}")),
    };
    match serde_json::from_slice::<Verification>(&out.stdout) {
        Ok(v) => v,
        Err(_) => failed(format!(
            "linkplane verify gave no report ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}
