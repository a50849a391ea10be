//! `linkplane up` / `linkplane down`: one command to a working private link (issue 6).

#[derive(Debug, clap::Args)]
pub struct UpArgs {}

#[derive(Debug, clap::Args)]
pub struct DownArgs {}

pub async fn up(_args: UpArgs) -> anyhow::Result<()> {
    anyhow::bail!("up: not wired yet")
}

pub async fn down(_args: DownArgs) -> anyhow::Result<()> {
    anyhow::bail!("down: not wired yet")
}
