//! `linkplane-agent`: the Remote Execution Agent alone, for customer hosts (the same as
//! `linkplane agent run`, with the same flags).

#![forbid(unsafe_code)]

use clap::Parser;

/// A Remote Execution Agent: registers with the deployment's API URL and heartbeats.
#[derive(Debug, Parser)]
#[command(name = "linkplane-agent", version, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    run: linkplane_agent::AgentRunArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(linkplane_agent::run(cli.run)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
