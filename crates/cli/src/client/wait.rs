//! `--wait`: follow a resource's status until it reaches a final state, with a progress line.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::bail;
use linkplane_client::StatusCode;
use serde_json::Value;

use linkplane_client::{Client as Api, Reply};

/// Options shared by every command that can wait.
#[derive(Debug, Clone, clap::Args)]
pub struct WaitArgs {
    /// Follow the status until it reaches a final state, printing progress on stderr.
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this many seconds (the resource keeps converging).
    #[arg(long, default_value_t = 600, value_name = "SECONDS", requires = "wait")]
    pub wait_timeout: u64,
    /// Seconds between two polls while waiting.
    #[arg(long, default_value_t = 2, value_name = "SECONDS", requires = "wait")]
    pub wait_interval: u64,
}

/// Which statuses end a wait, and how.
pub struct Finals {
    /// The resource is where it should be: exit 0.
    pub success: &'static [&'static str],
    /// The resource cannot get there without someone acting: exit 0, printing the note (the
    /// caller prints its own when the note is empty).
    pub needs_action: &'static [(&'static str, &'static str)],
    /// The resource failed: exit non-zero.
    pub failure: &'static [&'static str],
}

/// Routes, outbound endpoints, VPN connections and DNS resolutions: PENDING -> AVAILABLE,
/// or FAILED.
pub const PROVISIONED: Finals = Finals {
    success: &["AVAILABLE"],
    needs_action: &[],
    failure: &["FAILED"],
};

/// After a create: with `--wait`, follows the new resource (`<collection>/<id>`) to a final
/// status and returns its last state; otherwise returns `created` unchanged.
pub async fn after_create(
    api: &Api,
    created: Reply,
    collection: &[String],
    what: &str,
    finals: &Finals,
    args: &WaitArgs,
) -> anyhow::Result<Reply> {
    if !args.wait {
        return Ok(created);
    }
    let id = created
        .body
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            anyhow::anyhow!("the server's answer has no `id`, so --wait cannot follow it")
        })?
        .to_owned();
    let mut path = collection.to_vec();
    path.push(id.clone());
    until_final(api, &path, &format!("{what} {id}"), finals, args).await
}

/// The status of a resource: a `status` string, or `status.phase|state` in an object.
pub fn status_of(body: &Value) -> Option<&str> {
    match body.get("status")? {
        Value::String(s) => Some(s),
        Value::Object(map) => ["phase", "state", "status"]
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_str)),
        _ => None,
    }
}

/// What a status means for the wait.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    Success,
    NeedsAction(&'static str),
    Failure,
}

pub fn judge(finals: &Finals, status: Option<&str>) -> Verdict {
    let Some(status) = status else {
        return Verdict::Continue;
    };
    if finals.success.contains(&status) {
        Verdict::Success
    } else if let Some((_, note)) = finals.needs_action.iter().find(|(s, _)| *s == status) {
        Verdict::NeedsAction(note)
    } else if finals.failure.contains(&status) {
        Verdict::Failure
    } else {
        Verdict::Continue
    }
}

struct Progress {
    tty: bool,
    last: Option<String>,
    started: Instant,
}

impl Progress {
    fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            last: None,
            started: Instant::now(),
        }
    }

    fn show(&mut self, label: &str, status: &str) {
        let elapsed = self.started.elapsed().as_secs();
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{label}: {status} ({elapsed}s)");
            let _ = err.flush();
        } else if self.last.as_deref() != Some(status) {
            let _ = writeln!(err, "{label}: {status} ({elapsed}s)");
        }
        self.last = Some(status.to_owned());
    }

    fn finish(&self) {
        if self.tty && self.last.is_some() {
            eprintln!();
        }
    }
}

/// Polls `path` until its status is final. Returns the last answer; fails on a failure
/// status, on a timeout, or when the resource disappears.
pub async fn until_final<S: AsRef<str>>(
    api: &Api,
    path: &[S],
    label: &str,
    finals: &Finals,
    args: &WaitArgs,
) -> anyhow::Result<Reply> {
    let deadline = Instant::now() + Duration::from_secs(args.wait_timeout);
    let mut progress = Progress::new();
    loop {
        let reply = api.get(path, &[]).await;
        let reply = match reply {
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => {
                progress.finish();
                bail!("{label} disappeared while waiting (it was deleted)");
            }
            other => other?,
        };
        let status = status_of(&reply.body).map(str::to_owned);
        progress.show(label, status.as_deref().unwrap_or("(no status yet)"));
        match judge(finals, status.as_deref()) {
            Verdict::Success => {
                progress.finish();
                return Ok(reply);
            }
            Verdict::NeedsAction(note) => {
                progress.finish();
                if !note.is_empty() {
                    eprintln!("{note}");
                }
                return Ok(reply);
            }
            Verdict::Failure => {
                progress.finish();
                let why = reply
                    .body
                    .get("statusReason")
                    .or_else(|| reply.body.get("statusMessage"))
                    .and_then(Value::as_str)
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                bail!(
                    "{label} ended in status {}{why}",
                    status.unwrap_or_default()
                );
            }
            Verdict::Continue => {}
        }
        if Instant::now() >= deadline {
            progress.finish();
            bail!(
                "{label} is still {} after {}s; it keeps converging — check again with `get`, \
                 or wait longer with --wait-timeout",
                status.as_deref().unwrap_or("without a status"),
                args.wait_timeout
            );
        }
        tokio::time::sleep(Duration::from_secs(args.wait_interval.max(1))).await;
    }
}

/// Polls `path` until it answers 404 (the resource is gone).
pub async fn until_gone<S: AsRef<str>>(
    api: &Api,
    path: &[S],
    label: &str,
    args: &WaitArgs,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(args.wait_timeout);
    let mut progress = Progress::new();
    loop {
        match api.get(path, &[]).await {
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => {
                progress.finish();
                return Ok(());
            }
            Err(e) => {
                progress.finish();
                return Err(e.into());
            }
            Ok(reply) => {
                progress.show(label, status_of(&reply.body).unwrap_or("being deleted"));
            }
        }
        if Instant::now() >= deadline {
            progress.finish();
            bail!(
                "{label} still exists after {}s; deletion continues in the background",
                args.wait_timeout
            );
        }
        tokio::time::sleep(Duration::from_secs(args.wait_interval.max(1))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PEERING: Finals = Finals {
        success: &["ACTIVE"],
        needs_action: &[("PENDING_ACTIVATION", "complete the activation")],
        failure: &["FAILED", "NOT_FOUND"],
    };

    #[test]
    fn statuses_are_read_from_strings_and_objects() {
        assert_eq!(status_of(&json!({"status": "CREATING"})), Some("CREATING"));
        assert_eq!(
            status_of(&json!({"status": {"phase": "CREATED"}})),
            Some("CREATED")
        );
        assert_eq!(status_of(&json!({"name": "x"})), None);
    }

    #[test]
    fn verdicts_follow_the_final_states() {
        assert_eq!(judge(&PEERING, Some("PENDING")), Verdict::Continue);
        assert_eq!(judge(&PEERING, None), Verdict::Continue);
        assert_eq!(judge(&PEERING, Some("ACTIVE")), Verdict::Success);
        assert_eq!(
            judge(&PEERING, Some("PENDING_ACTIVATION")),
            Verdict::NeedsAction("complete the activation")
        );
        assert_eq!(judge(&PEERING, Some("FAILED")), Verdict::Failure);
        assert_eq!(judge(&PEERING, Some("NOT_FOUND")), Verdict::Failure);
    }
}
