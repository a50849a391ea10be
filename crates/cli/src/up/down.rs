//! `linkplane down`: stop the background control plane, remove the prefix's kernel objects
//! and the data directory `up` made.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use serde_json::Value;

use super::*;

/// The prefix `up` recorded in the data directory, if any.
pub(super) fn recorded_prefix(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(MARKER)).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.get("prefix")?.as_str().map(str::to_owned)
}

pub async fn down(args: DownArgs) -> anyhow::Result<()> {
    let data_dir = absolute(&args.data_dir)?;
    let data_dir = std::fs::canonicalize(&data_dir).unwrap_or(data_dir);
    // The serve of this data dir: the one `up` started (serve.pid), or whichever holds
    // serve.lock (a walkthrough's `linkplane serve &`).
    let running = crate::serve::running_serve(&data_dir);
    let prefix_name = args
        .prefix
        .clone()
        .or_else(|| recorded_prefix(&data_dir))
        .or_else(|| {
            running
                .as_ref()
                .map(|(_, p)| p.clone())
                .filter(|p| !p.is_empty())
        })
        .unwrap_or_else(|| "lp".to_owned());
    let prefix =
        linkplane_localcloud::Prefix::parse(&prefix_name).map_err(|e| anyhow!("--prefix: {e}"))?;
    if !linkplane_localcloud::running_as_root() {
        bail!("linkplane down needs root (it deletes network namespaces): run it as root");
    }
    let pid = read_pid(&data_dir)
        .filter(|pid| pid_alive(*pid) && is_serve(*pid))
        .or(running.map(|(pid, _)| pid).filter(|pid| is_serve(*pid)));
    match pid {
        Some(pid) => {
            stop(pid).await;
            if pid_alive(pid) && is_serve(pid) {
                bail!(
                    "linkplane serve (pid {pid}) of {} did not stop; kill it (kill -9 {pid}) and run down again",
                    data_dir.display()
                );
            }
            eprintln!(
                "stopped linkplane serve (pid {pid}) of {}",
                data_dir.display()
            );
        }
        None => eprintln!(
            "no linkplane serve of {} is running (none holds {})",
            data_dir.display(),
            data_dir.join("serve.lock").display()
        ),
    }
    let report = tokio::task::spawn_blocking(move || linkplane_localcloud::gc(&prefix)).await?;
    eprintln!(
        "removed {} namespaces, killed {} processes (prefix {})",
        report.namespaces.len(),
        report.processes_killed,
        prefix_name
    );
    if data_dir.join(MARKER).exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("removing {}", data_dir.display()))?;
        eprintln!("removed {}", data_dir.display());
    } else if data_dir.exists() {
        eprintln!(
            "kept {}: `linkplane up` did not create it",
            data_dir.display()
        );
    }
    Ok(())
}

pub(super) fn is_serve(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| c.split(|b| *b == 0).any(|a| a == b"serve"))
        .unwrap_or(false)
}

/// SIGTERM (graceful shutdown), then SIGKILL after 20 s.
pub(super) async fn stop(pid: i32) {
    use nix::sys::signal::{Signal, kill};
    let p = nix::unistd::Pid::from_raw(pid);
    let _ = kill(p, Signal::SIGTERM);
    let start = Instant::now();
    // A zombie (exited, not yet reaped by its parent shell) has no cmdline: it is stopped.
    while pid_alive(pid) && is_serve(pid) && start.elapsed() < Duration::from_secs(20) {
        // Reap it if it is our child (it is not, normally: `up` ran in another process).
        let _ = nix::sys::wait::waitpid(p, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if pid_alive(pid) && is_serve(pid) {
        let _ = kill(p, Signal::SIGKILL);
    }
}
