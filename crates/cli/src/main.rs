//! `linkplane`: one binary for the control plane (`serve`), its CLI client, and localcloud.
//!
//! Each command family lives in its own module; this file only wires them together.

#![forbid(unsafe_code)]

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

mod ca;
mod client;
mod cloud;
mod help;
mod local;
mod render;
mod serve;
mod up;
mod verify;

/// Self-service private connectivity for workflow orchestration.
///
/// Start a control plane with `linkplane serve`, then manage clusters, deployments and
/// network connections with the client commands below (they read LINKPLANE_URL and
/// LINKPLANE_TOKEN). `linkplane cloud …` drives localcloud, the real cloud network built
/// from Linux namespaces on this machine.
#[derive(Debug, Parser)]
#[command(
    name = "linkplane",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the control plane: REST API (/v1), localcloud API (/cloud/v1), reconcilers.
    Serve(serve::ServeArgs),
    /// Drive localcloud as a cloud principal (VPCs, subnets, instances, peering, …).
    Cloud(cloud::CloudArgs),
    /// Maintain this machine's localcloud installation (garbage collection).
    Local(local::LocalArgs),
    /// One command to a working private link: control plane, cluster, customer VPC,
    /// endpoint, DNS, an agent, and verification (as root).
    Up(up::UpArgs),
    /// Remove everything `linkplane up` made.
    Down(up::DownArgs),
    /// Run document 000's checks from inside a customer instance.
    Verify(verify::VerifyArgs),
    /// Print the installation's CA bundle (PEM) that agents and curl trust.
    Ca(ca::CaArgs),
    #[command(flatten)]
    Client(client::ClientCommand),
}

fn main() -> std::process::ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The derive's definition, with the examples and descriptions of `help` filled in.
    let matches = help::decorate(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable message with its causes; never a backtrace for a user's mistake.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

impl Cli {
    /// Parses `words` (starting with `linkplane`) as the binary does.
    #[cfg(test)]
    fn try_parse_from_words(words: &[&str]) -> Result<Self, clap::Error> {
        let matches = help::decorate(Cli::command()).try_get_matches_from(words)?;
        Cli::from_arg_matches(&matches)
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Cloud(args) => cloud::run(args).await,
            Command::Local(args) => local::run(args).await,
            Command::Up(args) => up::up(args).await,
            Command::Down(args) => up::down(args).await,
            Command::Verify(args) => verify::run(args).await,
            Command::Ca(args) => ca::run(args).await,
            Command::Client(cmd) => client::run(cmd).await,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
