//! `linkplane route create|list|delete`.

use linkplane_client::Method;

use super::common::{Body, IdempotencyArgs, PageArgs};
use super::options::{Ctx, GlobalArgs};
use super::private_link::ClusterSel;
use super::wait::{self, WaitArgs};
use crate::render::{self, Column};

pub const ABOUT_LONG: &str = "\
A route sends traffic from the cluster to a destination CIDR through one of the cluster's
connections (a VPC peering connection, a transit gateway attachment or a VPN). Peering adds a
default route for its peer CIDR when it becomes ACTIVE; add routes for secondary CIDRs or
subnets here. To fix a wrong CIDR, delete the route and create a new one.";

pub const EXAMPLES: &str = "\
Examples:
  linkplane route create --cluster cl7g2k4m7p3q5r6s2t --name analytics \\
      --destination-cidr 10.2.0.0/24 --target-id pcx6b3d5f7h2j4k6mn
  linkplane route list --cluster cl7g2k4m7p3q5r6s2t
  linkplane route get --cluster cl7g2k4m7p3q5r6s2t rt3c5e7g2i4k6m3opq
  linkplane route delete --cluster cl7g2k4m7p3q5r6s2t rt3c5e7g2i4k6m3opq";

#[derive(Debug, clap::Args)]
pub struct RouteArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: RouteCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum RouteCommand {
    /// Add a route to a CIDR through one of the cluster's connections.
    ///
    /// Sends POST …/clusters/{clusterId}/routes. --wait follows it to AVAILABLE.
    #[command(
        after_help = "Example:\n  linkplane route create --cluster cl7g2k4m7p3q5r6s2t --name analytics \\\n      --destination-cidr 10.2.0.0/24 --target-id pcx6b3d5f7h2j4k6mn"
    )]
    Create {
        #[command(flatten)]
        sel: ClusterSel,
        /// Route name (the Routes tab's "Route ID"): 1-63 characters.
        #[arg(long)]
        name: String,
        /// Destination CIDR, e.g. 10.2.0.0/24 (must not overlap the cluster's VPC).
        #[arg(long, value_name = "CIDR")]
        destination_cidr: String,
        /// Id of a connection of the same cluster: peering, transit gateway attachment or VPN.
        #[arg(long, value_name = "CONNECTION_ID")]
        target_id: String,
        #[command(flatten)]
        idempotency: IdempotencyArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// List a cluster's routes.
    ///
    /// Sends GET …/clusters/{clusterId}/routes. Includes the default route an ACTIVE peering
    /// adds.
    #[command(after_help = "Example:\n  linkplane route list --cluster cl7g2k4m7p3q5r6s2t")]
    List {
        #[command(flatten)]
        sel: ClusterSel,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one route.
    ///
    /// Sends GET …/clusters/{clusterId}/routes/{id}.
    #[command(
        after_help = "Example:\n  linkplane route get --cluster cl7g2k4m7p3q5r6s2t rt3c5e7g2i4k6m3opq"
    )]
    Get {
        #[command(flatten)]
        sel: ClusterSel,
        /// Route id (from `route list`).
        route_id: String,
    },
    /// Delete a route.
    ///
    /// Sends DELETE …/clusters/{clusterId}/routes/{id}. To change a route's CIDR, delete it and
    /// create a new one.
    #[command(
        after_help = "Example:\n  linkplane route delete --cluster cl7g2k4m7p3q5r6s2t rt3c5e7g2i4k6m3opq"
    )]
    Delete {
        #[command(flatten)]
        sel: ClusterSel,
        /// Route id (from `route list`).
        route_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("DESTINATION", "/destinationCidr"),
    ("TARGET", "/targetId"),
    ("STATUS", "/status"),
];

const FIELDS: &[Column] = &[
    ("id", "/id"),
    ("name", "/name"),
    ("destinationCidr", "/destinationCidr"),
    ("targetId", "/targetId"),
];

pub async fn run(args: RouteArgs) -> anyhow::Result<()> {
    let ctx = Ctx::new(&args.global)?;
    match args.command {
        RouteCommand::Create {
            sel,
            name,
            destination_cidr,
            target_id,
            idempotency,
            wait,
        } => {
            let body = Body::new()
                .set("name", name)
                .set("destinationCidr", destination_cidr)
                .set("targetId", target_id)
                .build();
            let path = ctx.org_path(&["clusters", &sel.cluster, "routes"]).await?;
            let reply = ctx
                .api
                .call(Method::POST, &path)
                .json(body)
                .idempotency_key(idempotency.idempotency_key)
                .send()
                .await?;
            let reply =
                wait::after_create(&ctx.api, reply, &path, "route", &wait::PROVISIONED, &wait)
                    .await?;
            render::print_object(ctx.output, &reply, FIELDS);
        }
        RouteCommand::List { sel, page } => {
            let path = ctx.org_path(&["clusters", &sel.cluster, "routes"]).await?;
            let reply = ctx.api.get(&path, &page.query()).await?;
            render::print_list(ctx.output, &reply, COLUMNS, "No routes on this cluster.");
        }
        RouteCommand::Get { sel, route_id } => {
            let path = ctx
                .org_path(&["clusters", &sel.cluster, "routes", &route_id])
                .await?;
            let reply = ctx.api.get(&path, &[]).await?;
            render::print_object(ctx.output, &reply, FIELDS);
        }
        RouteCommand::Delete {
            sel,
            route_id,
            wait,
        } => {
            let path = ctx
                .org_path(&["clusters", &sel.cluster, "routes", &route_id])
                .await?;
            let what = format!("route {route_id}");
            super::delete(&ctx, &path, &what, &wait).await?;
        }
    }
    Ok(())
}
