//! The kernel side outside netlink: named namespaces (`ip netns`), nftables,
//! sysctls, `/etc/netns` files, processes inside namespaces, and garbage collection.
//!
//! Creating one object costs a fixed, small number of process spawns, whatever else
//! exists (see docs/LOCALCLOUD.md). Links, addresses and routes are in `netlink.rs`.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::{Error, Result};

/// Where `ip netns exec` finds per-namespace files such as resolv.conf.
pub const ETC_NETNS: &str = "/etc/netns";

/// How long one `ip`, `nft` or `nsenter` call may take before it is killed and its
/// failure names the command. Generous: a batch that deletes hundreds of namespaces takes
/// seconds; a wedged tool (a kernel lock, a full pipe) must not hang a request or a start.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the preflight's `<tool> -V` may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Check once that this machine can run localcloud: root, iproute2, nftables, and the
/// kernel features (named namespaces, veth, bridges, nf_tables), by building a throwaway
/// probe namespace `<prefix>-probe`. Any failure is one clear error.
pub async fn preflight(prefix: &crate::ids::Prefix) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::Unsupported(
            "it needs root (network namespaces, veth, bridges, nftables); run linkplane as root"
                .into(),
        ));
    }
    for (tool, pkg) in [
        ("ip", "iproute2"),
        ("nft", "nftables"),
        ("nsenter", "util-linux"),
    ] {
        let mut cmd = Command::new(tool);
        cmd.arg("-V");
        if let Err(e) = run(&mut cmd, None, &format!("{tool} -V"), PROBE_TIMEOUT).await {
            return Err(Error::Unsupported(format!(
                "the `{tool}` command is missing or broken ({e}); install the Debian package {pkg}"
            )));
        }
    }
    let probe = format!("{prefix}-probe");
    netns_del(std::slice::from_ref(&probe)).await;
    let result = async {
        netns_add(&probe).await?;
        let peer = probe.clone();
        crate::netlink::with_ns(&probe, move |nl| async move {
            let bridge = nl.bridge("lpb0").await?;
            nl.veth("lpv0", "lpv1", &peer, Some(bridge)).await
        })
        .await?;
        nft(
            &probe,
            "table inet probe {\n  chain c {\n    type filter hook input priority 0;\n    ct state established accept\n  }\n}\ntable ip probe {\n  chain n {\n    type nat hook postrouting priority srcnat;\n  }\n}\n",
        )
        .await
    }
    .await;
    netns_del(std::slice::from_ref(&probe)).await;
    result.map_err(|e| {
        Error::Unsupported(format!(
            "this kernel or its tools lack what localcloud needs (named network namespaces, veth, bridges, nf_tables with conntrack and NAT): {e}"
        ))
    })
}

/// Run `cmd` (named `what` in every error) with `input` on its stdin; its stdout if it
/// succeeds. Killed, and an error naming it, after `timeout`.
async fn run(
    cmd: &mut Command,
    input: Option<&[u8]>,
    what: &str,
    timeout: Duration,
) -> Result<Vec<u8>> {
    match tokio::time::timeout(timeout, run_to_end(cmd, input, what)).await {
        Ok(result) => result,
        // Dropping the future drops the child, which `kill_on_drop` kills.
        Err(_) => Err(Error::kernel(
            what,
            format!("timed out after {}s and was killed", timeout.as_secs_f64()),
        )),
    }
}

async fn run_to_end(cmd: &mut Command, input: Option<&[u8]>, what: &str) -> Result<Vec<u8>> {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::kernel(what, format!("cannot start: {e}")))?;
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(data)
            .await
            .map_err(|e| Error::kernel(what, format!("cannot write input: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| Error::kernel(what, e.to_string()))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(Error::kernel(
            what,
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// Run `ip [-n ns] -batch -` with the given commands (one per line). Fails on the first
/// failing line, naming it.
pub async fn ip_batch(ns: Option<&str>, lines: &[String]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut cmd = Command::new("ip");
    if let Some(ns) = ns {
        cmd.args(["-n", ns]);
    }
    cmd.args(["-batch", "-"]);
    let script = lines.join("\n") + "\n";
    let what = format!("ip -n {} -batch", ns.unwrap_or("(host)"));
    tracing::debug!(ns, %script, "ip batch");
    run(&mut cmd, Some(script.as_bytes()), &what, COMMAND_TIMEOUT)
        .await
        .map_err(|e| match e {
            Error::Kernel { op, detail } => {
                // `Command failed -:N` names the line; quote it.
                let line = detail
                    .rsplit_once("-:")
                    .and_then(|(_, n)| n.trim().parse::<usize>().ok())
                    .and_then(|n| lines.get(n.wrapping_sub(1)));
                match line {
                    Some(l) => Error::kernel(op, format!("{detail} (at `ip {l}`)")),
                    None => Error::kernel(op, detail),
                }
            }
            other => other,
        })
        .map(|_| ())
}

/// Like [`ip_batch`] but keeps going past failing lines (used for best-effort removal).
pub async fn ip_batch_force(ns: Option<&str>, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let mut cmd = Command::new("ip");
    if let Some(ns) = ns {
        cmd.args(["-n", ns]);
    }
    cmd.args(["-force", "-batch", "-"]);
    let script = lines.join("\n") + "\n";
    let what = format!("ip -n {} -force -batch", ns.unwrap_or("(host)"));
    match run(&mut cmd, Some(script.as_bytes()), &what, COMMAND_TIMEOUT).await {
        Ok(_) => {}
        // Failing lines are expected (the object was already gone); a hung tool is not.
        Err(e) if e.to_string().contains("timed out") => {
            tracing::warn!(ns, error = %e, "best-effort ip batch did not finish");
        }
        Err(e) => tracing::debug!(ns, error = %e, "best-effort ip batch had failures"),
    }
}

/// Load an nftables script inside a namespace (`nft -f -`, atomic).
pub async fn nft(ns: &str, script: &str) -> Result<()> {
    tracing::debug!(ns, %script, "nft");
    // nsenter enters only the network namespace; `ip netns exec` would also copy the whole
    // mount table into a new mount namespace, which costs more as namespaces accumulate.
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net={}", linkplane_netns::path(ns).display()))
        .args(["nft", "-f", "-"]);
    run(
        &mut cmd,
        Some(script.as_bytes()),
        &format!("nft -f - in {ns}"),
        COMMAND_TIMEOUT,
    )
    .await
    .map(|_| ())
}

/// Create a named namespace.
pub async fn netns_add(name: &str) -> Result<()> {
    ip_batch(None, &[format!("netns add {name}")]).await
}

/// Delete named namespaces (missing ones are ignored).
pub async fn netns_del(names: &[String]) {
    let lines: Vec<String> = names
        .iter()
        .filter(|n| linkplane_netns::exists(n))
        .map(|n| format!("netns del {n}"))
        .collect();
    ip_batch_force(None, &lines).await;
}

pub fn netns_exists(name: &str) -> bool {
    linkplane_netns::exists(name)
}

/// Write sysctls (`net/ipv4/ip_forward` style paths under /proc/sys) inside a namespace,
/// from a thread that entered it: /proc/sys/net belongs to the opening thread's namespace.
pub async fn sysctls(ns: &str, values: &[(&str, &str)]) -> Result<()> {
    let owned: Vec<(String, String)> = values
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let name = ns.to_string();
    let result = tokio::task::spawn_blocking(move || {
        linkplane_netns::run_in(&name, move || -> std::io::Result<()> {
            for (k, v) in owned {
                std::fs::write(Path::new("/proc/sys").join(&k), v.as_bytes())
                    .map_err(|e| std::io::Error::new(e.kind(), format!("{k}: {e}")))?;
            }
            Ok(())
        })
    })
    .await
    .map_err(|e| Error::kernel("sysctl", e.to_string()))?;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::kernel(format!("sysctl in {ns}"), e.to_string())),
        Err(e) => Err(Error::kernel(format!("sysctl in {ns}"), e.to_string())),
    }
}

/// Write `/etc/netns/<ns>/resolv.conf` so processes started with `ip netns exec` see it as
/// `/etc/resolv.conf`.
pub fn write_resolv_conf(ns: &str, nameserver: std::net::Ipv4Addr) -> Result<()> {
    let dir = PathBuf::from(ETC_NETNS).join(ns);
    std::fs::create_dir_all(&dir).map_err(Error::io(format!("create {}", dir.display())))?;
    let path = dir.join("resolv.conf");
    std::fs::write(
        &path,
        format!("# written by linkplane localcloud: the VPC resolver\nnameserver {nameserver}\noptions timeout:2 attempts:2\n"),
    )
    .map_err(Error::io(format!("write {}", path.display())))
}

pub fn remove_etc_netns(ns: &str) {
    let _ = std::fs::remove_dir_all(PathBuf::from(ETC_NETNS).join(ns));
}

/// The inode of a namespace, to recognise processes inside it.
pub fn ns_inode(name: &str) -> Option<u64> {
    std::fs::metadata(linkplane_netns::path(name))
        .ok()
        .map(|m| m.ino())
}

/// Whether process `pid` is alive and inside namespace `ns`.
pub fn pid_in_ns(pid: i32, ns: &str) -> bool {
    let Some(want) = ns_inode(ns) else {
        return false;
    };
    std::fs::metadata(format!("/proc/{pid}/ns/net")).is_ok_and(|m| m.ino() == want)
        && !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Pids of every process inside each namespace (one scan of /proc for all of them).
pub fn pids_in(namespaces: &[String]) -> HashMap<String, Vec<i32>> {
    let inodes: HashMap<u64, String> = namespaces
        .iter()
        .filter_map(|n| ns_inode(n).map(|i| (i, n.clone())))
        .collect();
    let mut found: HashMap<String, Vec<i32>> = HashMap::new();
    if inodes.is_empty() {
        return found;
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Ok(m) = std::fs::metadata(format!("/proc/{pid}/ns/net"))
            && let Some(ns) = inodes.get(&m.ino())
        {
            found.entry(ns.clone()).or_default().push(pid);
        }
    }
    found
}

/// Stop a process group started by localcloud: SIGTERM, then SIGKILL after `grace`.
pub async fn stop_process(pid: i32, grace: Duration) {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::Pid;
    let p = Pid::from_raw(pid);
    let _ = killpg(p, Signal::SIGTERM);
    let _ = kill(p, Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < deadline {
        if kill(p, None).is_err() || is_zombie(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = killpg(p, Signal::SIGKILL);
    let _ = kill(p, Signal::SIGKILL);
}

/// Named namespaces whose names start with `<prefix>-`.
pub fn namespaces_under(prefix: &crate::ids::Prefix) -> Vec<String> {
    let start = format!("{}-", prefix.as_str());
    let mut v: Vec<String> = std::fs::read_dir(linkplane_netns::NETNS_RUN_DIR)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| n.starts_with(&start))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Wait for a synchronous child at most `timeout`, then kill it (and say so).
fn wait_or_kill(child: &mut std::process::Child, timeout: Duration, what: &str) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                tracing::warn!(
                    "{what} timed out after {}s and was killed",
                    timeout.as_secs_f64()
                );
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "waiting for {what}");
                return;
            }
        }
    }
}

/// What [`gc`] removed.
#[derive(Debug, Default, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcReport {
    pub namespaces: Vec<String>,
    pub processes_killed: usize,
    pub etc_netns_dirs: Vec<String>,
}

/// Remove every namespace (with its links and nftables tables), process and `/etc/netns`
/// directory under `prefix`. Synchronous so that test guards can call it from `Drop`.
pub fn gc(prefix: &crate::ids::Prefix) -> GcReport {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let start = format!("{}-", prefix.as_str());
    let list = |dir: &str| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .filter(|n| n.starts_with(&start))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut report = GcReport {
        namespaces: list(linkplane_netns::NETNS_RUN_DIR),
        ..Default::default()
    };
    report.namespaces.sort();
    for pids in pids_in(&report.namespaces).values() {
        for pid in pids {
            if kill(Pid::from_raw(*pid), Signal::SIGKILL).is_ok() {
                report.processes_killed += 1;
            }
        }
    }
    if !report.namespaces.is_empty() {
        let script: String = report
            .namespaces
            .iter()
            .map(|n| format!("netns del {n}\n"))
            .collect();
        let child = std::process::Command::new("ip")
            .args(["-force", "-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = child {
            if let Some(mut stdin) = child.stdin.take() {
                use std::io::Write;
                let _ = stdin.write_all(script.as_bytes());
            }
            wait_or_kill(&mut child, COMMAND_TIMEOUT, "ip -force -batch (gc)");
        }
    }
    for d in list(ETC_NETNS) {
        if std::fs::remove_dir_all(PathBuf::from(ETC_NETNS).join(&d)).is_ok() {
            report.etc_netns_dirs.push(d);
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hung_command_is_killed_and_its_error_names_it() {
        let started = std::time::Instant::now();
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let e = run(&mut cmd, None, "sleep 30", Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            e.to_string(),
            "kernel operation failed: sleep 30: timed out after 0.3s and was killed"
        );
    }

    #[tokio::test]
    async fn a_command_that_does_not_read_its_input_is_bounded_too() {
        // `sleep` never reads stdin: writing more than a pipe holds blocks until the deadline.
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let input = vec![b'x'; 1 << 20];
        let e = run(
            &mut cmd,
            Some(&input),
            "sleep 30 <big",
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("sleep 30 <big: timed out"), "{e}");
    }

    #[tokio::test]
    async fn a_failing_command_names_itself_and_quotes_its_stderr() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo broken >&2; exit 3"]);
        let e = run(&mut cmd, None, "sh -c broken", COMMAND_TIMEOUT)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "kernel operation failed: sh -c broken: broken"
        );
    }

    #[test]
    fn a_hung_synchronous_child_is_killed() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        wait_or_kill(&mut child, Duration::from_millis(200), "sleep 30");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(child.try_wait().unwrap().is_some(), "killed and reaped");
    }
}
