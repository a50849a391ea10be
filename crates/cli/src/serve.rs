//! `linkplane serve`: the control plane process.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "LINKPLANE_LISTEN")]
    pub listen: SocketAddr,
    /// Directory for the database, the CA, the admin token and the organization id.
    #[arg(long, default_value = "./.linkplane", env = "LINKPLANE_DATA_DIR")]
    pub data_dir: PathBuf,
}

pub async fn run(_args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("serve: not wired yet")
}
