//! `linkplane cluster create|list|get|delete`.

use linkplane_client::Method;

use super::common::{Body, IdempotencyArgs, PageArgs, wire};
use super::options::{Ctx, GlobalArgs};
use super::wait::{self, Finals, WaitArgs};
use crate::render::{self, Column};

pub const ABOUT_LONG: &str = "\
A cluster is where deployments run: a VPC in a cloud region with its own subnet range
(RFC 1918). STANDARD clusters get public external IPs and the preconfigured outbound
endpoints; DEDICATED clusters can also have VPC peering, transit gateways, VPN and custom
outbound endpoints. Creation is asynchronous: the status goes CREATING -> CREATED (or
CREATE_FAILED); use --wait to follow it.";

pub const EXAMPLES: &str = "\
Examples:
  linkplane cluster create --name prod --type DEDICATED --region us-east-1 \\
      --vpc-subnet-range 10.20.0.0/16 --wait
  linkplane cluster list
  linkplane cluster get cl7g2k4m7p3q5r6s2t -o json
  linkplane cluster update cl7g2k4m7p3q5r6s2t --private-only true
  linkplane cluster delete cl7g2k4m7p3q5r6s2t --wait";

#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CloudProvider {
    /// localcloud: a real network of Linux namespaces on the server's machine.
    Local,
    Aws,
    Azure,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterType {
    /// Shared control of networking: external IPs and preconfigured outbound endpoints.
    Standard,
    /// Adds VPC peering, transit gateways, VPN and custom outbound endpoints.
    Dedicated,
}

#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Create a cluster (asynchronous; --wait follows it to CREATED).
    ///
    /// Sends POST /v1/organizations/{org}/clusters. The server validates every field and
    /// answers with the new cluster in status CREATING.
    #[command(
        after_help = "Example:\n  linkplane cluster create --name prod --type DEDICATED \\\n      --region us-east-1 --vpc-subnet-range 10.20.0.0/16 --wait"
    )]
    Create {
        /// Cluster name: 1-63 characters, no control characters.
        #[arg(long)]
        name: String,
        /// Cloud provider.
        #[arg(long, value_enum, ignore_case = true, default_value = "LOCAL")]
        cloud_provider: CloudProvider,
        /// Cluster type.
        #[arg(
            long = "type",
            value_enum,
            ignore_case = true,
            default_value = "STANDARD"
        )]
        cluster_type: ClusterType,
        /// Region, AWS or Azure style, e.g. us-east-1 or westeurope.
        #[arg(long)]
        region: String,
        /// The cluster VPC's CIDR, e.g. 10.20.0.0/16 (RFC 1918, prefix /16 to /28).
        #[arg(long, value_name = "CIDR")]
        vpc_subnet_range: String,
        /// Refuse orchestration-plane requests that did not arrive through an accepted
        /// PrivateLink endpoint of this cluster.
        #[arg(long)]
        private_only: bool,
        #[command(flatten)]
        idempotency: IdempotencyArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// List the organization's clusters.
    ///
    /// Sends GET …/clusters. Pages with --limit and --cursor.
    #[command(after_help = "Example:\n  linkplane cluster list --limit 20")]
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one cluster: status, VPC range, external IPs, …
    ///
    /// Sends GET …/clusters/{clusterId}. The table ends with the ETag that `update --if-match`
    /// takes.
    #[command(after_help = "Example:\n  linkplane cluster get cl7g2k4m7p3q5r6s2t")]
    Get {
        /// Cluster id (from `linkplane cluster list`).
        cluster_id: String,
    },
    /// Rename a cluster or switch private-only access (only the given flags change).
    ///
    /// Provider, type, region and VPC range are fixed for a cluster's lifetime. With
    /// --if-match the update only applies while the cluster still has that ETag (`get`
    /// shows it); otherwise the server answers 412.
    #[command(
        after_help = "Example:\n  linkplane cluster update cl7g2k4m7p3q5r6s2t --private-only true"
    )]
    Update {
        /// Cluster id.
        cluster_id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// Only accept requests that arrive through an accepted PrivateLink endpoint.
        #[arg(long, value_name = "true|false")]
        private_only: Option<bool>,
        /// Only update if the cluster's current ETag is this value.
        #[arg(long, value_name = "ETAG")]
        if_match: Option<String>,
    },
    /// Delete a cluster (asynchronous; --wait follows it until it is gone).
    ///
    /// Sends DELETE …/clusters/{clusterId}. Refused (409) while the cluster has deployments or
    /// connections: delete those first.
    #[command(after_help = "Example:\n  linkplane cluster delete cl7g2k4m7p3q5r6s2t --wait")]
    Delete {
        /// Cluster id.
        cluster_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("PROVIDER", "/cloudProvider"),
    ("TYPE", "/type"),
    ("REGION", "/region"),
    ("VPC SUBNET RANGE", "/vpcSubnetRange"),
    ("STATUS", "/status"),
];

const FIELDS: &[Column] = &[
    ("id", "/id"),
    ("name", "/name"),
    ("cloudProvider", "/cloudProvider"),
    ("provider", "/provider"),
    ("type", "/type"),
    ("region", "/region"),
    ("vpcSubnetRange", "/vpcSubnetRange"),
    ("status", "/status"),
    ("externalIps", "/externalIps"),
    ("accountId", "/accountId"),
    ("vpcId", "/vpcId"),
    ("privateOnly", "/privateOnly"),
    ("statusReason", "/statusReason"),
];

const FINALS: Finals = Finals {
    success: &["CREATED"],
    needs_action: &[],
    failure: &["CREATE_FAILED"],
};

pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let ctx = Ctx::new(&args.global)?;
    match args.command {
        ClusterCommand::Create {
            name,
            cloud_provider,
            cluster_type,
            region,
            vpc_subnet_range,
            private_only,
            idempotency,
            wait,
        } => {
            let body = Body::new()
                .set("name", name)
                .set("cloudProvider", wire(&cloud_provider))
                .set("type", wire(&cluster_type))
                .set("region", region)
                .set("vpcSubnetRange", vpc_subnet_range)
                .set("privateOnly", private_only)
                .build();
            let path = ctx.org_path(&["clusters"]).await?;
            let reply = ctx
                .api
                .call(Method::POST, &path)
                .json(body)
                .idempotency_key(idempotency.idempotency_key)
                .send()
                .await?;
            let reply =
                wait::after_create(&ctx.api, reply, &path, "cluster", &FINALS, &wait).await?;
            render::print_object(ctx.output, &reply, FIELDS);
        }
        ClusterCommand::List { page } => {
            let path = ctx.org_path(&["clusters"]).await?;
            let reply = ctx.api.get(&path, &page.query()).await?;
            render::print_list(ctx.output, &reply, COLUMNS, "No clusters yet.");
        }
        ClusterCommand::Get { cluster_id } => {
            let path = ctx.org_path(&["clusters", &cluster_id]).await?;
            let reply = ctx.api.get(&path, &[]).await?;
            render::print_object(ctx.output, &reply, FIELDS);
        }
        ClusterCommand::Update {
            cluster_id,
            name,
            private_only,
            if_match,
        } => {
            let body = Body::new()
                .opt("name", name)
                .opt("privateOnly", private_only);
            if body.is_empty() {
                anyhow::bail!("nothing to update: give --name and/or --private-only true|false");
            }
            let path = ctx.org_path(&["clusters", &cluster_id]).await?;
            let reply = ctx
                .api
                .call(Method::PATCH, &path)
                .json(body.build())
                .if_match(if_match)
                .send()
                .await?;
            render::print_object(ctx.output, &reply, FIELDS);
        }
        ClusterCommand::Delete { cluster_id, wait } => {
            let path = ctx.org_path(&["clusters", &cluster_id]).await?;
            super::delete(&ctx, &path, &format!("cluster {cluster_id}"), &wait).await?;
        }
    }
    Ok(())
}
