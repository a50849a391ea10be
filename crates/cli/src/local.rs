//! `linkplane local …`: maintenance of this machine's localcloud installation.

#[derive(Debug, clap::Args)]
pub struct LocalArgs {}

pub async fn run(_args: LocalArgs) -> anyhow::Result<()> {
    anyhow::bail!("local: not implemented yet")
}
