//! `linkplane cloud …`: drive localcloud (the real cloud network built from namespaces on
//! the machine running `linkplane serve`) over its `/cloud/v1` API, as a cloud principal.
//!
//! [`args`] is the command line, [`client`] the calls (through `linkplane-client`), one module
//! per resource family sends them ([`network`], [`compute`], [`privatelink`], [`dns`],
//! [`tgw`]), and
//! `crate::render` prints the answers.

use std::io::Write;

use serde_json::{Value, json};

mod args;
mod client;
mod compute;
mod dns;
mod network;
mod privatelink;
mod tgw;

pub use args::*;
pub use client::owner_in;
use client::{CloudApi, operator_token};

/// What a command produced.
#[derive(Debug)]
pub enum Outcome {
    /// A resource or list to print.
    Value(Value),
    /// Something deleted.
    Done(String),
    /// Run attached to this terminal in a local namespace (authorized by the API).
    Attached {
        namespace: String,
        command: Vec<String>,
    },
    /// The result of exec: streams and exit code.
    Exec {
        code: i32,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    },
}

/// Run one `cloud` command and return what it produced (printing is separate).
pub async fn execute(args: &CloudArgs) -> anyhow::Result<Outcome> {
    let c = CloudApi::new(&args.url, args.principal(), operator_token(args)?)?;
    if args.principal.is_none() && !matches!(args.command, CloudCommand::Whoami) {
        // A create would land in, and a list show, the local account: say which.
        eprintln!(
            "note: acting as {DEFAULT_PRINCIPAL} (the local account; pass --as ARN or set \
             LINKPLANE_CLOUD_PRINCIPAL to act as another)"
        );
    }
    let c = &c;
    use CloudCommand as C;
    match &args.command {
        C::Whoami => c.get("/whoami").await,
        C::Vpc(cmd) => network::vpc(c, cmd).await,
        C::Subnet(cmd) => network::subnet(c, cmd).await,
        C::Route(cmd) => network::route(c, cmd).await,
        C::Igw(cmd) => network::igw(c, cmd).await,
        C::Eip(cmd) => network::eip(c, cmd).await,
        C::Nat(cmd) => network::nat(c, cmd).await,
        C::Peering(cmd) => network::peering(c, cmd).await,
        C::Tgw(cmd) => tgw::tgw(c, cmd).await,
        C::Ram(cmd) => tgw::ram(c, cmd).await,
        C::Instance(cmd) => compute::instance(c, cmd).await,
        C::Exec(e) => compute::exec(c, e).await,
        C::SecurityGroup(cmd) => compute::sg(c, cmd).await,
        C::Internet(cmd) => compute::internet(c, cmd).await,
        C::LoadBalancer(cmd) => privatelink::lb(c, cmd).await,
        C::TargetGroup(cmd) => privatelink::tg(c, cmd).await,
        C::Service(cmd) => privatelink::service(c, cmd).await,
        C::Endpoint(cmd) => privatelink::endpoint(c, cmd).await,
        C::Zone(cmd) => dns::zone(c, cmd).await,
        C::Rule(cmd) => dns::rule(c, cmd).await,
        C::PublicDns(cmd) => dns::public_dns(c, cmd).await,
    }
}

pub async fn run(args: CloudArgs) -> anyhow::Result<()> {
    match execute(&args).await? {
        Outcome::Value(v) => {
            if args.output == Output::Json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("{}", crate::render::cloud_table(&v));
            }
        }
        Outcome::Done(msg) => {
            if args.output == Output::Json {
                println!("{}", json!({"result": msg}));
            } else {
                println!("{msg}");
            }
        }
        Outcome::Attached { namespace, command } => {
            let code =
                tokio::task::spawn_blocking(move || compute::run_attached(&namespace, &command))
                    .await??;
            if code != 0 {
                std::process::exit(code);
            }
        }
        Outcome::Exec {
            code,
            stdout,
            stderr,
        } => {
            std::io::stdout().write_all(&stdout)?;
            std::io::stderr().write_all(&stderr)?;
            std::io::stdout().flush()?;
            std::io::stderr().flush()?;
            if code != 0 {
                std::process::exit(code);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
