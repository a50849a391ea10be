//! `linkplane api-token create|list|delete`.

use linkplane_client::Method;

use super::agent::print_new_token;
use super::common::{Body, IdempotencyArgs, PageArgs, wire};
use super::options::{Ctx, GlobalArgs};
use crate::render::{self, Column};

pub const ABOUT_LONG: &str = "\
API tokens authenticate people and automation to this API. ORGANIZATION_OWNER tokens may
change network connections; ORGANIZATION_MEMBER tokens can read. A new token is shown once
(the server stores only a hash): `create` prints it alone on stdout, so
`TOKEN=$(linkplane api-token create …)` captures it.";

pub const EXAMPLES: &str = "\
Examples:
  linkplane api-token create --name ci --role ORGANIZATION_MEMBER > ci.token
  linkplane api-token list
  linkplane api-token get tok5h7j3l6n2p4r6tu
  linkplane api-token delete tok5h7j3l6n2p4r6tu";

#[derive(Debug, clap::Args)]
pub struct ApiTokenArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: ApiTokenCommand,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Full control, including network connections and tokens.
    OrganizationOwner,
    /// Read access.
    OrganizationMember,
}

#[derive(Debug, clap::Subcommand)]
pub enum ApiTokenCommand {
    /// Create an API token and show it once (owners only).
    ///
    /// Sends POST …/api-tokens. The token alone is printed on stdout (capture it with `$(…)`);
    /// the server keeps only its hash.
    #[command(
        after_help = "Example:\n  linkplane api-token create --name ci --role ORGANIZATION_MEMBER"
    )]
    Create {
        /// Token name: 1-63 characters.
        #[arg(long)]
        name: String,
        /// Role of the token.
        #[arg(
            long,
            value_enum,
            ignore_case = true,
            default_value = "ORGANIZATION_MEMBER"
        )]
        role: Role,
        #[command(flatten)]
        idempotency: IdempotencyArgs,
    },
    /// List the organization's API tokens (never the secrets).
    ///
    /// Sends GET …/api-tokens. Shows role, creation, last use and revocation.
    #[command(after_help = "Example:\n  linkplane api-token list")]
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one API token (never its secret).
    ///
    /// Sends GET …/api-tokens/{tokenId}.
    #[command(after_help = "Example:\n  linkplane api-token get tok5h7j3l6n2p4r6tu")]
    Get {
        /// API token id (from `api-token list`).
        token_id: String,
    },
    /// Delete (revoke) an API token; requests with it fail from now on.
    ///
    /// Sends DELETE …/api-tokens/{tokenId}. Requests with the token get 401 from now on.
    #[command(after_help = "Example:\n  linkplane api-token delete tok5h7j3l6n2p4r6tu")]
    Delete {
        /// API token id (from `api-token list`).
        token_id: String,
    },
}

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("ROLE", "/role"),
    ("CREATED", "/createdAt"),
    ("LAST USED", "/lastUsedAt"),
];

const FIELDS: &[Column] = &[
    ("id", "/id"),
    ("name", "/name"),
    ("role", "/role"),
    ("createdAt", "/createdAt"),
];

pub async fn run(args: ApiTokenArgs) -> anyhow::Result<()> {
    let ctx = Ctx::new(&args.global)?;
    match args.command {
        ApiTokenCommand::Create {
            name,
            role,
            idempotency,
        } => {
            let body = Body::new()
                .set("name", name)
                .set("role", wire(&role))
                .build();
            let path = ctx.org_path(&["api-tokens"]).await?;
            let reply = ctx
                .api
                .call(Method::POST, &path)
                .json(body)
                .idempotency_key(idempotency.idempotency_key)
                .send()
                .await?;
            print_new_token(ctx.output, &reply, FIELDS);
        }
        ApiTokenCommand::List { page } => {
            let path = ctx.org_path(&["api-tokens"]).await?;
            let reply = ctx.api.get(&path, &page.query()).await?;
            render::print_list(ctx.output, &reply, COLUMNS, "No API tokens.");
        }
        ApiTokenCommand::Get { token_id } => {
            let path = ctx.org_path(&["api-tokens", &token_id]).await?;
            let reply = ctx.api.get(&path, &[]).await?;
            render::print_object(ctx.output, &reply, FIELDS);
        }
        ApiTokenCommand::Delete { token_id } => {
            let path = ctx.org_path(&["api-tokens", &token_id]).await?;
            let reply = ctx.api.call(Method::DELETE, &path).send().await?;
            render::print_done(
                ctx.output,
                &reply,
                &format!("Deleted API token {token_id}."),
            );
        }
    }
    Ok(())
}
