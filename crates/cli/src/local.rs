//! `linkplane local …`: maintenance of this machine's localcloud installation.

use clap::{Args, Subcommand};

/// Maintain this machine's localcloud installation.
#[derive(Debug, Args)]
pub struct LocalArgs {
    #[command(subcommand)]
    pub command: LocalCommand,
}

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Remove every localcloud kernel object under a prefix: namespaces (with their links,
    /// bridges, routes and nftables tables), the processes inside them, and /etc/netns
    /// entries. The database is kept: the next `linkplane serve` rebuilds from it (delete
    /// <data-dir>/localcloud.db as well to forget everything).
    Gc {
        /// Installation prefix (1-5 lowercase letters/digits, starting with a letter).
        #[arg(long, env = "LINKPLANE_PREFIX", default_value = "lp")]
        prefix: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: LocalArgs) -> anyhow::Result<()> {
    match args.command {
        LocalCommand::Gc { prefix, json } => {
            let prefix = linkplane_localcloud::Prefix::parse(&prefix)
                .map_err(|e| anyhow::anyhow!("--prefix: {e}"))?;
            if !linkplane_localcloud::running_as_root() {
                anyhow::bail!(
                    "local gc needs root (it deletes network namespaces); run it as root"
                );
            }
            let lock_prefix = prefix.clone();
            let report =
                tokio::task::spawn_blocking(move || linkplane_localcloud::gc(&prefix)).await?;
            // The lock file of a serve that was killed (-9) under this prefix.
            crate::serve::remove_unheld_prefix_lock(&lock_prefix);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "removed {} namespaces, killed {} processes, removed {} /etc/netns entries",
                    report.namespaces.len(),
                    report.processes_killed,
                    report.etc_netns_dirs.len()
                );
                for n in &report.namespaces {
                    println!("  {n}");
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn gc_rejects_a_bad_prefix_and_removes_a_namespace() {
        let bad = run(LocalArgs {
            command: LocalCommand::Gc {
                prefix: "Bad-Prefix".into(),
                json: false,
            },
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(bad.contains("--prefix"), "{bad}");
        if !linkplane_netns::testing::require_root("cli::local::gc") {
            return;
        }
        let prefix = linkplane_netns::testing::unique_prefix();
        let ns = format!("{prefix}-vdeadbeef");
        let st = std::process::Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .unwrap();
        assert!(st.success());
        run(LocalArgs {
            command: LocalCommand::Gc {
                prefix: prefix.clone(),
                json: true,
            },
        })
        .await
        .unwrap();
        assert!(!std::path::Path::new("/run/netns").join(&ns).exists());
    }
}
