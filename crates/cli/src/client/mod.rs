//! Control-plane client commands (`linkplane cluster …`, `linkplane peering …`, …).
//!
//! Layers: `linkplane_client` talks to the API (reqwest + rustls), [`hints`] words its
//! errors in terms of this CLI's flags, `crate::render` prints tables or the API's JSON,
//! [`wait`] follows statuses for `--wait`, [`options`] resolves URL, token and
//! organization. Each resource family has its own module with its clap definitions and the
//! requests it sends.

mod agent;
mod api_token;
mod child;
mod cluster;
mod common;
mod deployment;
mod dns;
mod hints;
mod options;
mod organization;
mod outbound;
mod peering;
mod private_link;
mod route;
mod tgw;
mod vpn;
mod wait;

use linkplane_client::{Reply, StatusCode};

#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Show the organizations visible to the token.
    #[command(long_about = organization::ABOUT_LONG, after_help = organization::EXAMPLES)]
    Organization(Box<organization::OrganizationArgs>),
    /// Create, list, inspect and delete clusters.
    #[command(long_about = cluster::ABOUT_LONG, after_help = cluster::EXAMPLES)]
    Cluster(Box<cluster::ClusterArgs>),
    /// Create, list, inspect, update and delete deployments.
    #[command(long_about = deployment::ABOUT_LONG, after_help = deployment::EXAMPLES)]
    Deployment(Box<deployment::DeploymentArgs>),
    /// Tokens for Remote Execution Agents of a deployment (shown once).
    #[command(name = "agent-token", long_about = agent::TOKEN_ABOUT_LONG, after_help = agent::TOKEN_EXAMPLES)]
    AgentToken(Box<agent::AgentTokenArgs>),
    /// Remote Execution Agents: list a deployment's agents, or run one.
    #[command(long_about = agent::AGENT_ABOUT_LONG, after_help = agent::AGENT_EXAMPLES)]
    Agent(Box<agent::AgentArgs>),
    /// A cluster's PrivateLink endpoint service and its endpoint connections.
    #[command(name = "private-link", long_about = private_link::ABOUT_LONG, after_help = private_link::EXAMPLES)]
    PrivateLink(Box<private_link::PrivateLinkArgs>),
    /// VPC peering connections from a dedicated cluster to a customer VPC.
    #[command(long_about = peering::ABOUT_LONG, after_help = peering::EXAMPLES)]
    Peering(Box<peering::PeeringArgs>),
    /// Routes from a cluster to extra CIDRs through one of its connections.
    #[command(long_about = route::ABOUT_LONG, after_help = route::EXAMPLES)]
    Route(Box<route::RouteArgs>),
    /// Transit gateway attachments of a dedicated cluster.
    #[command(long_about = tgw::ABOUT_LONG, after_help = tgw::EXAMPLES)]
    Tgw(Box<tgw::TgwArgs>),
    /// PrivateLink endpoints from a cluster to AWS services and custom endpoint services.
    #[command(name = "outbound-endpoint", long_about = outbound::ABOUT_LONG, after_help = outbound::EXAMPLES)]
    OutboundEndpoint(Box<outbound::OutboundArgs>),
    /// Site-to-site VPN connections of a dedicated cluster.
    #[command(long_about = vpn::ABOUT_LONG, after_help = vpn::EXAMPLES)]
    Vpn(Box<vpn::VpnArgs>),
    /// Host name resolution for a cluster: resolver rules, DNS forwarding, private zones.
    #[command(long_about = dns::ABOUT_LONG, after_help = dns::EXAMPLES)]
    Dns(Box<dns::DnsArgs>),
    /// API tokens of the organization (owners only; shown once).
    #[command(name = "api-token", long_about = api_token::ABOUT_LONG, after_help = api_token::EXAMPLES)]
    ApiToken(Box<api_token::ApiTokenArgs>),
}

pub async fn run(cmd: ClientCommand) -> anyhow::Result<()> {
    dispatch(cmd).await.map_err(hints::explain)
}

async fn dispatch(cmd: ClientCommand) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Organization(args) => organization::run(*args).await,
        ClientCommand::Cluster(args) => cluster::run(*args).await,
        ClientCommand::Deployment(args) => deployment::run(*args).await,
        ClientCommand::AgentToken(args) => agent::run_tokens(*args).await,
        ClientCommand::Agent(args) => agent::run_agents(*args).await,
        ClientCommand::PrivateLink(args) => private_link::run(*args).await,
        ClientCommand::Peering(args) => peering::run(*args).await,
        ClientCommand::Route(args) => route::run(*args).await,
        ClientCommand::Tgw(args) => tgw::run(*args).await,
        ClientCommand::OutboundEndpoint(args) => outbound::run(*args).await,
        ClientCommand::Vpn(args) => vpn::run(*args).await,
        ClientCommand::Dns(args) => dns::run(*args).await,
        ClientCommand::ApiToken(args) => api_token::run(*args).await,
    }
}

/// DELETE `path`; with `--wait`, follows the resource until it is gone (a 202 means the
/// server removes it in the background).
async fn delete(
    ctx: &options::Ctx,
    path: &[String],
    what: &str,
    wait: &wait::WaitArgs,
) -> anyhow::Result<()> {
    let reply = ctx
        .api
        .call(linkplane_client::Method::DELETE, path)
        .send()
        .await?;
    if wait.wait {
        wait::until_gone(&ctx.api, path, what, wait).await?;
        crate::render::print_done(ctx.output, &reply, &format!("Deleted {what}."));
    } else {
        crate::render::print_done(ctx.output, &reply, &deleted_message(&reply, what));
    }
    Ok(())
}

/// "Deleted X." for a synchronous delete, "Deleting X …" when the server accepted it (202).
fn deleted_message(reply: &Reply, what: &str) -> String {
    if reply.status == StatusCode::ACCEPTED {
        format!(
            "Deleting {what}: the server accepted the request and removes it in the background."
        )
    } else {
        format!("Deleted {what}.")
    }
}
