//! `linkplane organization list`.

use super::common::PageArgs;
use super::options::{Ctx, GlobalArgs};
use crate::render::{self, Column};

pub const ABOUT_LONG: &str = "\
Organizations own everything else. A token belongs to one organization, so `list` usually
shows one; when it shows several, choose with --org or LINKPLANE_ORG.";

pub const EXAMPLES: &str = "\
Examples:
  linkplane organization list
  linkplane organization list -o json
  linkplane organization get";

#[derive(Debug, clap::Args)]
pub struct OrganizationArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: OrganizationCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum OrganizationCommand {
    /// Show one organization (default: the one the token works in).
    ///
    /// Sends GET /v1/organizations/{organizationId}.
    #[command(after_help = "Example:\n  linkplane organization get")]
    Get {
        /// Organization id [default: --org, or the only organization visible].
        organization_id: Option<String>,
    },
    /// List the organizations visible to the token.
    ///
    /// Sends GET /v1/organizations. Usually one: a token belongs to one organization.
    #[command(after_help = "Example:\n  linkplane organization list")]
    List {
        #[command(flatten)]
        page: PageArgs,
    },
}

const COLUMNS: &[Column] = &[("ID", "/id"), ("NAME", "/name"), ("CREATED", "/createdAt")];

const COLUMNS_DETAIL: &[Column] = &[
    ("id", "/id"),
    ("name", "/name"),
    ("createdAt", "/createdAt"),
];

pub async fn run(args: OrganizationArgs) -> anyhow::Result<()> {
    let ctx = Ctx::new(&args.global)?;
    match args.command {
        OrganizationCommand::Get { organization_id } => {
            let org = match organization_id {
                Some(id) => id,
                None => ctx.org().await?,
            };
            let reply = ctx.api.get(&["v1", "organizations", &org], &[]).await?;
            render::print_object(ctx.output, &reply, COLUMNS_DETAIL);
        }
        OrganizationCommand::List { page } => {
            let reply = ctx.api.get(&["v1", "organizations"], &page.query()).await?;
            render::print_list(
                ctx.output,
                &reply,
                COLUMNS,
                "No organization is visible to this token.",
            );
        }
    }
    Ok(())
}
