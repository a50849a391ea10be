//! `linkplane agent-token create|list|revoke` and `linkplane agent list`.

use linkplane_client::Method;
use serde_json::Value;

use super::common::{Body, IdempotencyArgs, PageArgs, token_shown_once_notice};
use super::options::{Ctx, GlobalArgs};
use crate::render::{self, Column, Output};

pub const TOKEN_ABOUT_LONG: &str = "\
Remote Execution Agents authenticate with an agent token scoped to one deployment (at most
50 per deployment). The token is shown once, when it is created; the server keeps only a
hash. Revoke a token to cut off the agents that use it.";

pub const TOKEN_EXAMPLES: &str = "\
Examples:
  linkplane agent-token create --deployment dep4n7q2x5z3b6c2df --name on-prem-agents
  linkplane agent-token list --deployment dep4n7q2x5z3b6c2df
  linkplane agent-token revoke --deployment dep4n7q2x5z3b6c2df agt2m5q7r3s6t4v2wx";

pub const AGENT_ABOUT_LONG: &str = "\
Agents register with an agent token and send heartbeats. An agent is HEALTHY while its
heartbeats arrive, UNHEALTHY when they stop, UNKNOWN before the first one. `agent list` shows
them; `agent run` is the agent itself, run where your tasks should execute.";

pub const AGENT_EXAMPLES: &str = "\
Examples:
  linkplane agent list --deployment dep4n7q2x5z3b6c2df
  linkplane agent run --api-url https://cl7g2k4m7p3q5r6s2t.external.linkplane.test/ \\
      --token-file agent.token --ca-file ca.pem --name etl-agent-1";

/// `--deployment`, shared by both families.
#[derive(Debug, Clone, clap::Args)]
pub struct DeploymentSel {
    /// Deployment id (see `linkplane deployment list`).
    #[arg(long, env = "LINKPLANE_DEPLOYMENT", value_name = "DEPLOYMENT_ID")]
    pub deployment: String,
}

#[derive(Debug, clap::Args)]
pub struct AgentTokenArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: AgentTokenCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AgentTokenCommand {
    /// Create an agent token and show it once.
    ///
    /// Sends POST …/deployments/{deploymentId}/agent-tokens. The token alone is printed on
    /// stdout (capture it with `$(…)`); the server keeps only its hash. At most 50 live tokens
    /// per deployment.
    #[command(
        after_help = "Example:\n  linkplane agent-token create --deployment dep4n7q2x5z3b6c2df --name on-prem-agents"
    )]
    Create {
        #[command(flatten)]
        sel: DeploymentSel,
        /// A name that says where the token is used: 1-63 characters.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        idempotency: IdempotencyArgs,
    },
    /// List a deployment's agent tokens (never the secrets).
    ///
    /// Sends GET …/deployments/{deploymentId}/agent-tokens. Shows when each token was created,
    /// last used and revoked.
    #[command(
        after_help = "Example:\n  linkplane agent-token list --deployment dep4n7q2x5z3b6c2df"
    )]
    List {
        #[command(flatten)]
        sel: DeploymentSel,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one agent token (never its secret): created, last used, revoked.
    ///
    /// Sends GET …/deployments/{deploymentId}/agent-tokens/{tokenId}.
    #[command(
        after_help = "Example:\n  linkplane agent-token get --deployment dep4n7q2x5z3b6c2df agt2m5q7r3s6t4v2wx"
    )]
    Get {
        #[command(flatten)]
        sel: DeploymentSel,
        /// Agent token id (from `agent-token list`).
        token_id: String,
    },
    /// Revoke (delete) an agent token; agents using it can no longer connect.
    ///
    /// Sends DELETE …/deployments/{deploymentId}/agent-tokens/{tokenId}. Running agents with
    /// this token are refused at their next heartbeat.
    #[command(
        after_help = "Example:\n  linkplane agent-token revoke --deployment dep4n7q2x5z3b6c2df agt2m5q7r3s6t4v2wx"
    )]
    Revoke {
        #[command(flatten)]
        sel: DeploymentSel,
        /// Agent token id (from `agent-token list`).
        token_id: String,
    },
}

/// No family-wide connection options here: `agent run` talks to a deployment's API URL with
/// an agent token and has its own `--token`, `--token-file` and `--ca-file`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    #[command(subcommand)]
    pub command: AgentCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AgentCommand {
    /// List a deployment's agents with their status and last heartbeat.
    ///
    /// Sends GET …/deployments/{deploymentId}/agents. HEALTHY while heartbeats arrive,
    /// UNHEALTHY when they stop, UNKNOWN before the first one.
    #[command(after_help = "Example:\n  linkplane agent list --deployment dep4n7q2x5z3b6c2df")]
    List {
        #[command(flatten)]
        global: GlobalArgs,
        #[command(flatten)]
        sel: DeploymentSel,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Run a Remote Execution Agent: register with a deployment and send heartbeats.
    ///
    /// Connects to the deployment's API URL (`apiUrl` of `linkplane deployment get`) with an
    /// agent token, registers, then heartbeats until stopped. It retries with backoff while
    /// the plane is unreachable and exits with code 2 when the token is refused.
    Run(linkplane_agent::AgentRunArgs),
}

const TOKEN_COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("CREATED", "/createdAt"),
    ("LAST USED", "/lastUsedAt"),
    ("REVOKED", "/revokedAt"),
];

const TOKEN_FIELDS: &[Column] = &[
    ("id", "/id"),
    ("name", "/name"),
    ("createdAt", "/createdAt"),
];

const AGENT_COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("HOSTNAME", "/hostname"),
    ("VERSION", "/version"),
    ("STATUS", "/status"),
    ("LAST HEARTBEAT", "/lastHeartbeatAt"),
];

pub async fn run_tokens(args: AgentTokenArgs) -> anyhow::Result<()> {
    let ctx = Ctx::new(&args.global)?;
    match args.command {
        AgentTokenCommand::Create {
            sel,
            name,
            idempotency,
        } => {
            let body = Body::new().set("name", name).build();
            let path = ctx
                .org_path(&["deployments", &sel.deployment, "agent-tokens"])
                .await?;
            let reply = ctx
                .api
                .call(Method::POST, &path)
                .json(body)
                .idempotency_key(idempotency.idempotency_key)
                .send()
                .await?;
            print_new_token(ctx.output, &reply, TOKEN_FIELDS);
        }
        AgentTokenCommand::List { sel, page } => {
            let path = ctx
                .org_path(&["deployments", &sel.deployment, "agent-tokens"])
                .await?;
            let reply = ctx.api.get(&path, &page.query()).await?;
            render::print_list(ctx.output, &reply, TOKEN_COLUMNS, "No agent tokens yet.");
        }
        AgentTokenCommand::Get { sel, token_id } => {
            let path = ctx
                .org_path(&["deployments", &sel.deployment, "agent-tokens", &token_id])
                .await?;
            let reply = ctx.api.get(&path, &[]).await?;
            render::print_object(ctx.output, &reply, TOKEN_FIELDS);
        }
        AgentTokenCommand::Revoke { sel, token_id } => {
            let path = ctx
                .org_path(&["deployments", &sel.deployment, "agent-tokens", &token_id])
                .await?;
            let reply = ctx.api.call(Method::DELETE, &path).send().await?;
            render::print_done(
                ctx.output,
                &reply,
                &format!("Revoked agent token {token_id}."),
            );
        }
    }
    Ok(())
}

pub async fn run_agents(args: AgentArgs) -> anyhow::Result<()> {
    match args.command {
        AgentCommand::Run(args) => linkplane_agent::run(args).await,
        AgentCommand::List { global, sel, page } => {
            let ctx = Ctx::new(&global)?;
            let path = ctx
                .org_path(&["deployments", &sel.deployment, "agents"])
                .await?;
            let reply = ctx.api.get(&path, &page.query()).await?;
            render::print_list(
                ctx.output,
                &reply,
                AGENT_COLUMNS,
                "No agents have registered yet.",
            );
            Ok(())
        }
    }
}

/// Prints a newly created token: its details, then the secret alone on stdout, with the
/// one-time notice on stderr. In JSON mode, the server's JSON (which holds the token).
pub fn print_new_token(output: Output, reply: &linkplane_client::Reply, fields: &[Column]) {
    match output {
        Output::Json => render::print_raw(reply),
        Output::Table => {
            // The secret goes alone to stdout below; the details (without it) to stderr.
            let mut details = reply.body.clone();
            if let Some(map) = details.as_object_mut() {
                map.remove("token");
            }
            eprintln!("{}", render::detail_table(&details, fields, None));
            match reply.body.get("token").and_then(Value::as_str) {
                Some(token) => println!("{token}"),
                None => eprintln!("(the server's answer holds no `token` field)"),
            }
        }
    }
    token_shown_once_notice();
}
