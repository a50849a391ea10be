//! `linkplane serve`: the control plane process.
//!
//! Builds the state (SQLite store in `--data-dir`, first-start bootstrap), builds the router,
//! serves it, and shuts down gracefully on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

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
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let base_domain = DomainName::parse(&args.base_domain)
        .map_err(|e| anyhow::anyhow!("--base-domain {:?}: {e}", args.base_domain))?;
    let config = linkplane_api::Config {
        base_domain,
        ..Default::default()
    };
    let (state, boot) = linkplane_api::open(&args.data_dir, config)
        .await
        .with_context(|| format!("cannot open data directory {}", args.data_dir.display()))?;
    if let Some(token) = &boot.new_admin_token {
        println!("Created organization {}.", boot.organization_id);
        println!(
            "Owner API token (shown once; also in {}):",
            boot.admin_token_file.display()
        );
        println!("{token}");
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, organization = %boot.organization_id, "linkplane control plane listening");
    eprintln!("linkplane serve: listening on http://{addr} (API /v1, docs /docs)");
    let store = state.store.clone();
    axum::serve(listener, linkplane_api::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}
