//! `linkplane serve`: the control plane process.
//!
//! Starts a [`linkplane_server::Plane`] (SQLite store in `--data-dir` with first-start
//! bootstrap, the `/v1` API, localcloud on `/cloud/v1` when running as root, the providers
//! mapped per cloud by `--provider`, and the controllers), serves its router on one
//! listener, and shuts everything down gracefully on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use linkplane_model::DomainName;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "LINKPLANE_LISTEN")]
    pub listen: SocketAddr,
    /// Directory for the database, the CA, the admin token and the organization id.
    #[arg(long, default_value = "./.linkplane", env = "LINKPLANE_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Clusters are reached at <clusterId>.external.<base-domain>.
    #[arg(long, default_value = linkplane_api::DEFAULT_BASE_DOMAIN, env = "LINKPLANE_BASE_DOMAIN")]
    pub base_domain: String,
    /// Installation prefix of localcloud's kernel objects (1-5 lowercase letters/digits).
    #[arg(long, default_value = "lp", env = "LINKPLANE_PREFIX")]
    pub prefix: String,
    /// How long a NOT_FOUND VPC peering connection waits before it is retried (document
    /// 002: "Wait 5 minutes"), e.g. 300s, 5m, 500ms.
    #[arg(long, default_value = "5m", value_parser = parse_duration, env = "LINKPLANE_PEERING_RETRY_AFTER")]
    pub peering_retry_after: Duration,
    /// How often agents heartbeat (returned to them in every response); an agent is HEALTHY
    /// with a heartbeat within two intervals, e.g. 30s, 2s, 500ms.
    #[arg(long, default_value = "30s", value_parser = parse_duration, env = "LINKPLANE_AGENT_HEARTBEAT_INTERVAL")]
    pub agent_heartbeat_interval: Duration,
    /// Run the API only, without localcloud (also what happens when not running as root):
    /// LOCAL clusters then go CREATE_FAILED with the reason.
    #[arg(long, env = "LINKPLANE_NO_LOCALCLOUD")]
    pub no_localcloud: bool,
    /// Which provider serves a cloud's clusters, as CLOUD=PROVIDER; repeat for each cloud.
    /// Defaults: aws=local azure=local (AWS- and Azure-shaped clusters are emulated on
    /// localcloud); LOCAL clusters are always served by local. The real AWS provider
    /// (aws=aws) needs a build with it.
    #[arg(
        long = "provider",
        value_name = "CLOUD=PROVIDER",
        value_parser = parse_assignment,
        env = "LINKPLANE_PROVIDERS",
        value_delimiter = ','
    )]
    pub providers: Vec<String>,
    /// The key file that encrypts secrets (VPN pre-shared keys) at rest: 32 random bytes,
    /// hex, mode 0600; created on first start when missing [default: <data-dir>/secrets.key].
    /// Keep it with backups of the database: without it, its secrets cannot be read.
    #[arg(long, env = "LINKPLANE_SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<PathBuf>,
    /// Serve `GET /metrics` (Prometheus text) on this address, a listener of its own: bind
    /// it where only your monitoring reaches (it takes no token; its labels carry no tenant
    /// data). Off by default; the API listener never serves /metrics.
    #[arg(long, env = "LINKPLANE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
}

/// Whether the log on stderr is coloured: only when stderr is a terminal and NO_COLOR is
/// unset (<https://no-color.org>).
fn log_colours() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Create `dir` (and parents) and make it 0700: it holds the database, keys and tokens.
pub(crate) fn private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the data dir {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making the data dir {} private (0700)", dir.display()))
}

/// One `--provider` assignment, checked on its own.
fn parse_assignment(s: &str) -> Result<String, String> {
    linkplane_server::ProviderMap::default().assign(s)?;
    Ok(s.to_owned())
}

/// `500ms`, `30s`, `5m`, `1h`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration; use e.g. 500ms, 30s, 5m or 1h");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(bad()),
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Listen for SIGTERM from the first moment, so a `down` (or an init system) that stops a
    // serve still starting up gets a graceful stop once it is up, never the default death.
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal: serve.log (and journald) get plain text.
        .with_ansi(log_colours())
        .try_init();
    let base_domain = DomainName::parse(&args.base_domain)
        .map_err(|e| anyhow::anyhow!("--base-domain {:?}: {e}", args.base_domain))?;
    if args.agent_heartbeat_interval < Duration::from_secs(1) {
        anyhow::bail!(
            "--agent-heartbeat-interval {:?} is too short: agents heartbeat in whole seconds; use 1s or more",
            args.agent_heartbeat_interval
        );
    }
    let config = linkplane_api::Config {
        base_domain,
        heartbeat_interval: args.agent_heartbeat_interval,
        secrets_key_file: args.secrets_key_file.clone(),
        ..Default::default()
    };
    let prefix = linkplane_localcloud::Prefix::parse(&args.prefix)
        .map_err(|e| anyhow::anyhow!("--prefix: {e}"))?;
    // One installation per prefix and per data dir: a second serve must not converge (and
    // so delete) the first one's namespaces, nor share its database. Held until exit.
    let _installation = lock_installation(
        &args.data_dir,
        (!args.no_localcloud && linkplane_localcloud::running_as_root()).then_some(&prefix),
    )?;
    let mut providers = linkplane_server::ProviderMap::default();
    for a in &args.providers {
        providers
            .assign(a)
            .map_err(|e| anyhow::anyhow!("--provider {a}: {e}"))?;
    }
    let plane = linkplane_server::Plane::start(linkplane_server::PlaneConfig {
        data_dir: args.data_dir.clone(),
        api: config,
        prefix,
        controllers: linkplane_server::ControllersConfig {
            peering_retry_after: args.peering_retry_after,
            ..Default::default()
        },
        disable_localcloud: args.no_localcloud,
        providers: providers.clone(),
    })
    .await?;
    let boot = plane.bootstrap();
    if let Some(token) = &boot.new_admin_token {
        println!("Created organization {}.", boot.organization_id);
        // Shown once, to the person at the terminal; never into a log file (`up` and the
        // README send serve's output to serve.log). The file is the one copy then.
        use std::io::IsTerminal as _;
        if std::io::stdout().is_terminal() {
            println!(
                "Owner API token (shown once; also in {}):",
                boot.admin_token_file.display()
            );
            println!("{token}");
        } else {
            println!(
                "Owner API token written to {} (mode 0600); not printed, since stdout is not a terminal.",
                boot.admin_token_file.display()
            );
        }
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, organization = %boot.organization_id, "linkplane control plane listening");
    eprintln!(
        "linkplane serve: listening on http://{addr} (API /v1, docs /docs, localcloud /cloud/v1)"
    );
    eprintln!("linkplane serve: providers {}", providers.describe());
    if let Some(reason) = plane.localcloud_disabled() {
        eprintln!("warning: localcloud is disabled: {reason}");
    }
    let metrics = match args.metrics_listen {
        Some(at) => {
            let l = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen on {at} (--metrics-listen)"))?;
            eprintln!(
                "linkplane serve: metrics on http://{}/metrics",
                l.local_addr()?
            );
            let router = plane.metrics_router();
            Some(tokio::spawn(async move {
                if let Err(e) = axum::serve(l, router).await {
                    tracing::warn!(error = %e, "the metrics listener failed");
                }
            }))
        }
        None => None,
    };
    let served = axum::serve(
        linkplane_server::ProblemListener::new(listener),
        plane.router(),
    )
    .with_graceful_shutdown(shutdown_signal(terminate))
    .await
    .context("server failed");
    if let Some(m) = metrics {
        m.abort();
    }
    plane.shutdown().await;
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// The locks a running `serve` holds (released when the process exits, even on `kill -9`).
/// On a clean exit the prefix's lock file is removed too (while still held); after a
/// `kill -9` `local gc --prefix` removes it.
pub(crate) struct InstallationLock {
    _files: Vec<std::fs::File>,
    remove_on_exit: Option<PathBuf>,
}

impl Drop for InstallationLock {
    fn drop(&mut self) {
        if let Some(path) = &self.remove_on_exit {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Remove `prefix`'s lock file if no `serve` holds it (`local gc` calls this). A `serve`
/// that opened it just before checks, once it holds the lock, that the path is still its
/// file, so it never runs on a removed one.
pub(crate) fn remove_unheld_prefix_lock(prefix: &linkplane_localcloud::Prefix) -> bool {
    let path = lock_dir().join(format!("{prefix}.lock"));
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
    else {
        return false;
    };
    file.try_lock().is_ok() && std::fs::remove_file(&path).is_ok()
}

/// Whether `path` is (still) the file `file` has open.
fn same_file(path: &std::path::Path, file: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Where prefix locks live: `/run/linkplane/<prefix>.lock` as root, else a per-user
/// directory under the temporary directory.
fn lock_dir() -> PathBuf {
    if linkplane_localcloud::running_as_root() {
        PathBuf::from("/run/linkplane")
    } else {
        std::env::temp_dir().join(format!("linkplane-{}", nix::unistd::getuid()))
    }
}

/// flock (exclusive, non-blocking) `<data-dir>/serve.lock` and, when localcloud runs, the
/// prefix's lock file; each records this process's pid, data dir and prefix, which a
/// refused second `serve` names.
pub(crate) fn lock_installation(
    data_dir: &std::path::Path,
    prefix: Option<&linkplane_localcloud::Prefix>,
) -> anyhow::Result<InstallationLock> {
    private_dir(data_dir)?;
    let data_dir = std::fs::canonicalize(data_dir)
        .with_context(|| format!("resolving the data dir {}", data_dir.display()))?;
    let record = format!(
        "pid={}\ndata_dir={}\nprefix={}\n",
        std::process::id(),
        data_dir.display(),
        prefix.map(|p| p.to_string()).unwrap_or_default()
    );
    let mut files = vec![];
    let mut remove_on_exit = None;
    let mut targets = vec![(data_dir.join("serve.lock"), None)];
    if let Some(p) = prefix {
        let dir = lock_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the lock directory {}", dir.display()))?;
        targets.push((dir.join(format!("{p}.lock")), Some(p)));
    }
    for (path, prefix) in targets {
        let mut attempts = 0;
        let mut file = loop {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .with_context(|| format!("opening the lock file {}", path.display()))?;
            // Locked a file that `local gc` (or an exiting serve) removed meanwhile: open
            // the new one instead, or two could run.
            attempts += 1;
            if file.try_lock().is_err() || same_file(&path, &file) || attempts >= 5 {
                break file;
            }
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let other = std::fs::read_to_string(&path).unwrap_or_default();
                let field = |k: &str| {
                    other
                        .lines()
                        .find_map(|l| l.strip_prefix(&format!("{k}=")))
                        .filter(|v| !v.is_empty())
                        .unwrap_or("unknown")
                        .to_owned()
                };
                let (pid, dir) = (field("pid"), field("data_dir"));
                match prefix {
                    Some(p) => anyhow::bail!(
                        "another linkplane installation already uses --prefix {p}: pid {pid}, data dir {dir} \
                         (lock {}); starting would delete its namespaces and stop its processes. Stop it \
                         first, or give this one another --prefix",
                        path.display()
                    ),
                    None => anyhow::bail!(
                        "the data dir {} is in use by another linkplane serve: pid {pid}, prefix {} \
                         (lock {}); stop it first, or give this one another --data-dir",
                        data_dir.display(),
                        field("prefix"),
                        path.display()
                    ),
                }
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        use std::io::Write;
        file.set_len(0)?;
        file.write_all(record.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        if prefix.is_some() {
            remove_on_exit = Some(path.clone());
        }
        files.push(file);
    }
    Ok(InstallationLock {
        _files: files,
        remove_on_exit,
    })
}

/// The `serve` that holds `<data-dir>/serve.lock` right now, as its lock file records it:
/// `(pid, prefix)` (prefix empty without localcloud). None when no serve holds the lock,
/// whoever started it (`linkplane up`, a walkthrough's `serve &`, a unit file).
pub(crate) fn running_serve(data_dir: &std::path::Path) -> Option<(i32, String)> {
    let path = data_dir.join("serve.lock");
    let file = std::fs::OpenOptions::new().read(true).open(&path).ok()?;
    match file.try_lock_shared() {
        // Nobody holds it: no serve of this data dir runs.
        Ok(()) => return None,
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(std::fs::TryLockError::Error(_)) => return None,
    }
    let record = std::fs::read_to_string(&path).ok()?;
    let field = |k: &str| {
        record
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_owned)
    };
    Some((
        field("pid")?.parse().ok()?,
        field("prefix").unwrap_or_default(),
    ))
}

async fn shutdown_signal(mut terminate: tokio::signal::unix::Signal) {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_assignments_are_checked_one_by_one() {
        assert_eq!(parse_assignment("aws=local"), Ok("aws=local".into()));
        assert!(
            parse_assignment("gcp=local")
                .unwrap_err()
                .contains("is not a cloud")
        );
        assert!(
            parse_assignment("aws")
                .unwrap_err()
                .contains("CLOUD=PROVIDER")
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("300s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "5", "m", "5 m", "-5s", "5d", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
