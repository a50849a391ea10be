//! `linkplane verify`: document 000's verification and troubleshooting steps, run for real
//! from inside a customer instance (see crates/verify).

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {}

pub async fn run(_args: VerifyArgs) -> anyhow::Result<()> {
    anyhow::bail!("verify: not wired yet")
}
