//! The Remote Execution Agent (`linkplane agent run`, or the `linkplane-agent` binary): its
//! connection to the orchestration plane, through `linkplane-client` and nothing else of
//! linkplane.
//!
//! It registers with the deployment's API URL using an agent token, heartbeats at once, then
//! at the interval the server returns in each response. While the plane is unreachable it retries
//! with exponential backoff and jitter, and so it does (saying why) when the plane's policy
//! refuses it (403: `privateOnly`, allowed IP ranges) or the URL has no agent protocol (404:
//! a wrong `--api-url`); only an invalid or revoked token (401) or a deleted deployment (410)
//! ends it, with exit code 2 and a message saying which. The protocol is in
//! `docs/AGENTS.md`.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use linkplane_client::v1::AgentReport;
use linkplane_client::{BuildError, Client, Error};

/// Exit code when the plane refuses the token (401: invalid or revoked) or its deployment
/// is gone (410).
pub const EXIT_TOKEN_REFUSED: i32 = 2;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
const MIN_INTERVAL: Duration = Duration::from_millis(200);
const MAX_INTERVAL: Duration = Duration::from_secs(300);
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  linkplane agent run \\\n    --api-url https://cl0abc.external.linkplane.test/ \\\n    --token-file /etc/linkplane/agent.token --ca-file /etc/linkplane/ca.pem \\\n    --name etl-agent-1 --queues default,etl"
)]
pub struct AgentRunArgs {
    /// The deployment's API URL (`apiUrl` of `linkplane deployment get`), e.g.
    /// https://<clusterId>.external.<baseDomain>/
    #[arg(long, env = "LINKPLANE_AGENT_API_URL")]
    pub api_url: String,
    /// The agent token (from `linkplane agent-token create`). Prefer --token-file.
    #[arg(
        long,
        env = "LINKPLANE_AGENT_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// A file holding the agent token.
    #[arg(long, env = "LINKPLANE_AGENT_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// PEM bundle to trust for the API URL (`linkplane ca` prints the installation's CA).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// The agent's name as the control plane lists it [default: the host name].
    #[arg(long)]
    pub name: Option<String>,
    /// Comma-separated worker queues this agent serves.
    #[arg(long, value_delimiter = ',', default_value = "default")]
    pub queues: Vec<String>,
    /// Stop after this many successful heartbeats; 0 stops right after registering
    /// (for scripts and tests).
    #[arg(long, hide = true)]
    pub max_heartbeats: Option<u64>,
}

/// Why one exchange with the plane did not succeed.
#[derive(Debug)]
enum Failure {
    /// 401: the token is invalid or revoked: stop (exit 2).
    TokenRefused(String),
    /// 410: the token's deployment was deleted: nothing to serve, stop (exit 2).
    DeploymentGone(String),
    /// 403: the plane's policy refused this request (`privateOnly`, the deployment's
    /// allowed IP ranges, a token of another cluster's deployment): the network path may
    /// change, so report it and retry with backoff.
    Policy(String),
    /// 404: on a heartbeat the plane does not know this agent any more (register again);
    /// on a registration there is no agent protocol at this URL (a wrong `--api-url`).
    NotFound(String),
    /// Anything transient: network, TLS, 5xx. Retry with backoff.
    Transient(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match &e {
            Error::Unreachable { chain, .. } => Failure::Transient(chain.clone()),
            Error::Status { status, .. } => {
                let detail: String = e.detail().unwrap_or_default().chars().take(200).collect();
                let what = format!("{status}: {detail}");
                match status.as_u16() {
                    401 => Failure::TokenRefused(what),
                    410 => Failure::DeploymentGone(what),
                    403 => Failure::Policy(what),
                    404 => Failure::NotFound(what),
                    _ => Failure::Transient(what),
                }
            }
            Error::Decode { reason, .. } => {
                Failure::Transient(format!("unexpected answer: {reason}"))
            }
            Error::Encode(why) => Failure::Transient(why.clone()),
        }
    }
}

/// Why the agent stopped before `--max-heartbeats`.
#[derive(Debug)]
pub enum Stopped {
    /// The plane refused the token (401): exit [`EXIT_TOKEN_REFUSED`].
    TokenRefused(String),
    /// The token's deployment was deleted (410): exit [`EXIT_TOKEN_REFUSED`] too.
    DeploymentGone(String),
}

pub async fn run(args: AgentRunArgs) -> anyhow::Result<()> {
    match run_until_stopped(&args).await? {
        Ok(()) => Ok(()),
        Err(Stopped::TokenRefused(_) | Stopped::DeploymentGone(_)) => {
            std::process::exit(EXIT_TOKEN_REFUSED)
        }
    }
}

/// The agent's loop: `Ok(Ok(()))` after `--max-heartbeats`, `Ok(Err(Stopped))` when the
/// plane refuses the token or its deployment is gone; otherwise it runs for ever, retrying with backoff and jitter.
pub async fn run_until_stopped(args: &AgentRunArgs) -> anyhow::Result<Result<(), Stopped>> {
    let token = read_token(args)?;
    let client = client(&args.api_url, token, args.ca_file.as_deref())?;
    let base = args.api_url.trim_end_matches('/').to_string();
    let hostname = hostname();
    let name = args.name.clone().unwrap_or_else(|| hostname.clone());
    let report = AgentReport {
        name: name.clone(),
        hostname: hostname.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        queues: args.queues.clone(),
    };
    let mut failures = 0u32;
    let mut agent_id: Option<String> = None;
    let mut beats = 0u64;
    // Whether the last exchange was a registration that the next heartbeat has not yet
    // confirmed: a 404 right after registering must not re-register at once, for ever.
    let mut unconfirmed = false;
    loop {
        let registering = agent_id.is_none();
        let outcome = match &agent_id {
            None => client
                .register_agent(&report)
                .await
                .map(|r| {
                    tracing::info!(agent_id = %r.agent_id, "registered with the orchestration plane");
                    eprintln!("agent {name}: registered as {} at {base}", r.agent_id);
                    agent_id = Some(r.agent_id.as_str().to_owned());
                    r.heartbeat_interval_seconds
                })
                .map_err(Failure::from),
            Some(id) => client
                .heartbeat(id, &report)
                .await
                .map(|a| a.heartbeat_interval_seconds)
                .map_err(Failure::from),
        };
        let retry = |failures: &mut u32, what: String| {
            *failures += 1;
            let delay = backoff(*failures);
            tracing::warn!(
                failures = *failures,
                delay_ms = delay.as_millis() as u64,
                "{what}"
            );
            eprintln!(
                "agent {name}: {what}; retry {} in {:.1}s",
                *failures,
                delay.as_secs_f64()
            );
            delay
        };
        let delay = match outcome {
            Ok(secs) => {
                if failures > 0 {
                    eprintln!("agent {name}: connected again after {failures} failed attempt(s)");
                }
                failures = 0;
                unconfirmed = registering;
                let interval = clamp_interval(secs as f64);
                if !registering {
                    beats += 1;
                }
                if args.max_heartbeats.is_some_and(|max| beats >= max) {
                    return Ok(Ok(()));
                }
                // The first heartbeat follows the registration at once, so the agent reports
                // HEALTHY right after it starts, not one interval later.
                if registering {
                    continue;
                }
                interval
            }
            Err(Failure::TokenRefused(detail)) => {
                eprintln!(
                    "agent {name}: the orchestration plane refused the agent token ({detail}). \
                     It is invalid or revoked, or its deployment was deleted: create a new one \
                     with `linkplane agent-token create` and restart the agent."
                );
                return Ok(Err(Stopped::TokenRefused(detail)));
            }
            Err(Failure::DeploymentGone(detail)) => {
                eprintln!(
                    "agent {name}: the deployment this agent serves was deleted ({detail}); \
                     there is nothing to serve, so it stops. Run an agent with a token of \
                     another deployment (`linkplane agent-token create --deployment <id>`)."
                );
                return Ok(Err(Stopped::DeploymentGone(detail)));
            }
            Err(Failure::Policy(detail)) => retry(
                &mut failures,
                format!(
                    "the orchestration plane's policy refused this agent ({detail}): the \
                     cluster may be privateOnly (connect through its PrivateLink endpoint) or \
                     this address is outside the deployment's allowedIpAddressRanges"
                ),
            ),
            Err(Failure::NotFound(detail)) if registering => retry(
                &mut failures,
                format!(
                    "{base} has no agent protocol ({detail}); check --api-url (the deployment's \
                     apiUrl, https://<clusterId>.external.<baseDomain>/…)"
                ),
            ),
            Err(Failure::NotFound(detail)) => {
                agent_id = None;
                if unconfirmed {
                    // Registered, and the plane forgot the agent at once: back off.
                    retry(
                        &mut failures,
                        format!(
                            "the plane forgot this agent right after registering it ({detail})"
                        ),
                    )
                } else {
                    eprintln!(
                        "agent {name}: the plane no longer knows this agent; registering again"
                    );
                    continue;
                }
            }
            Err(Failure::Transient(why)) => {
                retry(&mut failures, format!("cannot reach {base} ({why})"))
            }
        };
        tokio::time::sleep(delay).await;
    }
}

fn read_token(args: &AgentRunArgs) -> anyhow::Result<String> {
    let raw = match (&args.token, &args.token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .with_context(|| format!("reading the agent token from {}", f.display()))?,
        (None, None) => anyhow::bail!(
            "no agent token: pass --token-file FILE (or --token / LINKPLANE_AGENT_TOKEN); \
             create one with `linkplane agent-token create --deployment <id>`"
        ),
    };
    let token = raw.trim().to_string();
    anyhow::ensure!(!token.is_empty(), "the agent token is empty");
    Ok(token)
}

/// The client of the deployment's API URL: the agent token, the CA bundle to trust, short
/// timeouts, and no retries of its own (the agent's loop retries with backoff).
fn client(api_url: &str, token: String, ca_file: Option<&Path>) -> anyhow::Result<Client> {
    let mut b = Client::builder(api_url)
        .token(token)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .attempts(1)
        .user_agent(concat!("linkplane-agent/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading the CA bundle {}", path.display()))?;
        b = b.ca_pem(pem);
    }
    b.build().map_err(|e| match (e, ca_file) {
        (BuildError::NotPem(why), Some(path)) => {
            anyhow::anyhow!("{} is not a PEM certificate bundle: {why}", path.display())
        }
        (BuildError::NoCertificate, Some(path)) => {
            anyhow::anyhow!("{} holds no certificate", path.display())
        }
        (
            e
            @ (BuildError::NotAUrl { .. } | BuildError::Scheme { .. } | BuildError::NoHost { .. }),
            _,
        ) => {
            anyhow::anyhow!("--api-url {e}")
        }
        (e, _) => anyhow::Error::new(e).context("building the HTTP client"),
    })
}

fn clamp_interval(secs: f64) -> Duration {
    if !secs.is_finite() || secs <= 0.0 {
        return DEFAULT_INTERVAL;
    }
    Duration::from_secs_f64(secs).clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// Exponential backoff from 0.5 s to 30 s with jitter in [0.5, 1.0].
fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let raw = BACKOFF_BASE.saturating_mul(1u32 << exp).min(BACKOFF_MAX);
    raw.mul_f64(rand::random_range(0.5..=1.0))
}

/// The kernel's host name (of this UTS namespace).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkplane_client::StatusCode;

    #[test]
    fn refused_tokens_stop_and_unknown_agents_register_again() {
        let refused = Failure::from(Error::from_answer(
            StatusCode::UNAUTHORIZED,
            r#"{"title":"Unauthorized","status":401,"detail":"the agent token is revoked"}"#,
        ));
        assert!(
            matches!(&refused, Failure::TokenRefused(d) if d == "401 Unauthorized: the agent token is revoked")
        );
        assert!(matches!(
            Failure::from(Error::from_answer(StatusCode::NOT_FOUND, "")),
            Failure::NotFound(_)
        ));
        assert!(matches!(
            Failure::from(Error::from_answer(
                StatusCode::GONE,
                "410 gone: deployment dp1 of this agent token was deleted; stop this agent\n"
            )),
            Failure::DeploymentGone(d) if d.contains("dp1 of this agent token was deleted")
        ));
        assert!(matches!(
            Failure::from(Error::from_answer(
                StatusCode::FORBIDDEN,
                r#"{"title":"Forbidden","status":403,"detail":"privateOnly"}"#
            )),
            Failure::Policy(d) if d.contains("privateOnly")
        ));
        assert!(matches!(
            Failure::from(Error::from_answer(StatusCode::SERVICE_UNAVAILABLE, "busy")),
            Failure::Transient(d) if d == "503 Service Unavailable: busy"
        ));
    }

    #[test]
    fn server_intervals_are_clamped_to_sane_bounds() {
        assert_eq!(clamp_interval(5.0), Duration::from_secs(5));
        assert_eq!(clamp_interval(0.0), DEFAULT_INTERVAL);
        assert_eq!(clamp_interval(f64::NAN), DEFAULT_INTERVAL);
        assert_eq!(clamp_interval(0.001), MIN_INTERVAL);
        assert_eq!(clamp_interval(1e9), MAX_INTERVAL);
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for _ in 0..50 {
            let first = backoff(1);
            assert!(first >= Duration::from_millis(250) && first <= Duration::from_millis(500));
            let tenth = backoff(10);
            assert!(tenth >= BACKOFF_MAX / 2 && tenth <= BACKOFF_MAX);
        }
    }
}
