//! `linkplane cloud …`: localcloud client commands.

#[derive(Debug, clap::Args)]
pub struct CloudArgs {}

pub async fn run(_args: CloudArgs) -> anyhow::Result<()> {
    anyhow::bail!("cloud: not implemented yet")
}
