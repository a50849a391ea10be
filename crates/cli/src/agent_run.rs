//! `linkplane agent run`: a Remote Execution Agent's connection to the orchestration plane.
//!
//! It registers with the deployment's API URL using an agent token, heartbeats at once, then
//! at the interval the server returns in each response. While the plane is unreachable it retries
//! with exponential backoff and jitter; an invalid or revoked token ends it with exit code 2
//! and a message saying so. The protocol is in `docs/AGENTS.md`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// Exit code when the plane refuses the token (invalid, revoked, or for another deployment).
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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    name: &'a str,
    hostname: &'a str,
    version: &'a str,
    queues: &'a [String],
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Registered {
    agent_id: String,
    heartbeat_interval_seconds: f64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeartbeatAck {
    heartbeat_interval_seconds: f64,
}

/// Why one exchange with the plane did not succeed.
enum Failure {
    /// The plane answered that the token is not valid: stop.
    TokenRefused(String),
    /// The plane does not know this agent any more: register again.
    Unknown,
    /// Anything transient: network, TLS, 5xx. Retry with backoff.
    Transient(String),
}

pub async fn run(args: AgentRunArgs) -> anyhow::Result<()> {
    let token = read_token(&args)?;
    let client = http_client(args.ca_file.as_deref())?;
    let base = args.api_url.trim_end_matches('/').to_string();
    let hostname = hostname();
    let name = args.name.clone().unwrap_or_else(|| hostname.clone());
    let report = Report {
        name: &name,
        hostname: &hostname,
        version: env!("CARGO_PKG_VERSION"),
        queues: &args.queues,
    };
    let mut failures = 0u32;
    let mut agent_id: Option<String> = None;
    let mut beats = 0u64;
    loop {
        let registering = agent_id.is_none();
        let outcome = match &agent_id {
            None => register(&client, &base, &token, &report).await.map(|r| {
                tracing::info!(agent_id = %r.agent_id, "registered with the orchestration plane");
                eprintln!("agent {name}: registered as {} at {base}", r.agent_id);
                agent_id = Some(r.agent_id);
                r.heartbeat_interval_seconds
            }),
            Some(id) => heartbeat(&client, &base, &token, id, &report)
                .await
                .map(|a| a.heartbeat_interval_seconds),
        };
        match outcome {
            Ok(secs) => {
                if failures > 0 {
                    eprintln!("agent {name}: connected again after {failures} failed attempt(s)");
                }
                failures = 0;
                let interval = clamp_interval(secs);
                if !registering {
                    beats += 1;
                }
                if args.max_heartbeats.is_some_and(|max| beats >= max) {
                    return Ok(());
                }
                // The first heartbeat follows the registration at once, so the agent reports
                // HEALTHY right after it starts, not one interval later.
                if !registering {
                    tokio::time::sleep(interval).await;
                }
            }
            Err(Failure::TokenRefused(detail)) => {
                eprintln!(
                    "agent {name}: the orchestration plane refused the agent token ({detail}). \
                     It is invalid, revoked, or for another deployment: create a new one with \
                     `linkplane agent-token create` and restart the agent."
                );
                std::process::exit(EXIT_TOKEN_REFUSED);
            }
            Err(Failure::Unknown) => {
                eprintln!("agent {name}: the plane no longer knows this agent; registering again");
                agent_id = None;
            }
            Err(Failure::Transient(why)) => {
                failures += 1;
                let delay = backoff(failures);
                eprintln!(
                    "agent {name}: cannot reach {base} ({why}); retry {failures} in {:.1}s",
                    delay.as_secs_f64()
                );
                tokio::time::sleep(delay).await;
            }
        }
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

fn http_client(ca_file: Option<&std::path::Path>) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .user_agent(concat!("linkplane-agent/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading the CA bundle {}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("{} is not a PEM certificate bundle", path.display()))?;
        anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", path.display());
        b = b.tls_certs_only(certs);
    }
    b.build().context("building the HTTP client")
}

async fn register(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    report: &Report<'_>,
) -> Result<Registered, Failure> {
    exchange(
        client.post(format!("{base}/v1/agents/register")),
        token,
        report,
    )
    .await
}

async fn heartbeat(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    agent_id: &str,
    report: &Report<'_>,
) -> Result<HeartbeatAck, Failure> {
    exchange(
        client.post(format!("{base}/v1/agents/{agent_id}/heartbeat")),
        token,
        report,
    )
    .await
}

async fn exchange<T: for<'de> Deserialize<'de>>(
    req: reqwest::RequestBuilder,
    token: &str,
    report: &Report<'_>,
) -> Result<T, Failure> {
    let resp = req
        .bearer_auth(token)
        .json(report)
        .send()
        .await
        .map_err(|e| Failure::Transient(error_chain(&e)))?;
    let status = resp.status();
    if status.is_success() {
        return resp
            .json::<T>()
            .await
            .map_err(|e| Failure::Transient(format!("unexpected answer: {e}")));
    }
    let body = resp.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect());
    match status.as_u16() {
        401 | 403 => Err(Failure::TokenRefused(format!("{status}: {detail}"))),
        404 => Err(Failure::Unknown),
        _ => Err(Failure::Transient(format!("{status}: {detail}"))),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
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

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
