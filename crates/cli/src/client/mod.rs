//! Control-plane client commands (`linkplane cluster …`, `linkplane peering …`, …).

#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Show the organizations visible to the token.
    Organization,
}

pub async fn run(_cmd: ClientCommand) -> anyhow::Result<()> {
    anyhow::bail!("client: not implemented yet")
}
