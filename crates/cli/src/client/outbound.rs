//! `linkplane outbound-endpoint create|list|get|delete`.

use super::child::ClusterChild;
use super::common::{Body, IdempotencyArgs, PageArgs, wire};
use super::options::{Ctx, GlobalArgs};
use super::private_link::ClusterSel;
use super::wait::{self, WaitArgs};
use crate::render::Column;

pub const ABOUT_LONG: &str = "\
PrivateLink endpoints from the cluster's VPC to AWS services or to your own endpoint
services. Every AWS cluster lists the preconfigured ones (S3 gateway; EC2 Auto Scaling, ECR
API, ECR Docker registry, ELB and STS interface endpoints). Custom endpoints to your own
endpoint services need a dedicated cluster; allow the cluster's principal on your service
first.";

pub const EXAMPLES: &str = "\
Examples:
  linkplane outbound-endpoint list --cluster cl7g2k4m7p3q5r6s2t
  linkplane outbound-endpoint create --cluster cl7g2k4m7p3q5r6s2t --name snowflake \\
      --service-name com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60718 \\
      --type INTERFACE --private-dns-enabled true
  linkplane outbound-endpoint delete --cluster cl7g2k4m7p3q5r6s2t oep2e4g6i3k5m7o2qr";

#[derive(Debug, clap::Args)]
pub struct OutboundArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: OutboundCommand,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EndpointType {
    /// Private IPs in the cluster's subnets (most services).
    Interface,
    /// Route table entries (S3, DynamoDB).
    Gateway,
}

#[derive(Debug, clap::Subcommand)]
pub enum OutboundCommand {
    /// Create a custom endpoint to an endpoint service (dedicated clusters).
    ///
    /// Sends POST …/clusters/{clusterId}/outbound-endpoints. Allow the cluster's principal on
    /// your endpoint service first. --wait follows it to AVAILABLE.
    #[command(
        after_help = "Example:\n  linkplane outbound-endpoint create --cluster cl7g2k4m7p3q5r6s2t --name snowflake \\\n      --service-name com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60718"
    )]
    Create {
        #[command(flatten)]
        sel: ClusterSel,
        /// Endpoint name: 1-63 characters.
        #[arg(long)]
        name: String,
        /// The endpoint service name, e.g. com.amazonaws.us-east-1.sqs or
        /// com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60718.
        #[arg(long, value_name = "SERVICE_NAME")]
        service_name: String,
        /// Endpoint type (the server's default: INTERFACE).
        #[arg(long = "type", value_enum, ignore_case = true)]
        endpoint_type: Option<EndpointType>,
        /// Resolve the service's own DNS name to the endpoint (interface endpoints).
        #[arg(long, value_name = "true|false")]
        private_dns_enabled: Option<bool>,
        /// A Route 53 alias for the endpoint, e.g. account.privatelink.snowflakecomputing.com
        /// (for services such as Snowflake or EKS that need one).
        #[arg(long, value_name = "DOMAIN")]
        dns_name: Option<String>,
        #[command(flatten)]
        idempotency: IdempotencyArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// List the cluster's outbound endpoints, preconfigured ones included.
    ///
    /// Sends GET …/clusters/{clusterId}/outbound-endpoints.
    #[command(
        after_help = "Example:\n  linkplane outbound-endpoint list --cluster cl7g2k4m7p3q5r6s2t"
    )]
    List {
        #[command(flatten)]
        sel: ClusterSel,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one outbound endpoint.
    ///
    /// Sends GET …/clusters/{clusterId}/outbound-endpoints/{id}.
    #[command(
        after_help = "Example:\n  linkplane outbound-endpoint get --cluster cl7g2k4m7p3q5r6s2t oep2e4g6i3k5m7o2qr"
    )]
    Get {
        #[command(flatten)]
        sel: ClusterSel,
        /// Outbound endpoint id.
        endpoint_id: String,
    },
    /// Delete a custom outbound endpoint.
    ///
    /// Sends DELETE …/clusters/{clusterId}/outbound-endpoints/{id}. Preconfigured endpoints
    /// cannot be deleted.
    #[command(
        after_help = "Example:\n  linkplane outbound-endpoint delete --cluster cl7g2k4m7p3q5r6s2t oep2e4g6i3k5m7o2qr"
    )]
    Delete {
        #[command(flatten)]
        sel: ClusterSel,
        /// Outbound endpoint id.
        endpoint_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("SERVICE", "/serviceName"),
    ("TYPE", "/type"),
    ("PRIVATE DNS", "/privateDnsEnabled"),
    ("PRECONFIGURED", "/preconfigured"),
    ("STATUS", "/status"),
];

const FIELDS: &[Column] = &[
    ("id", "/id"),
    ("name", "/name"),
    ("serviceName", "/serviceName"),
    ("type", "/type"),
    ("privateDnsEnabled", "/privateDnsEnabled"),
    ("dnsName", "/dnsName"),
    ("preconfigured", "/preconfigured"),
    ("status", "/status"),
];

const KIND: ClusterChild = ClusterChild {
    collection: "outbound-endpoints",
    noun: "outbound endpoint",
    empty: "No outbound endpoints on this cluster.",
    columns: COLUMNS,
    fields: FIELDS,
};

pub async fn run(args: OutboundArgs) -> anyhow::Result<()> {
    let ctx = Ctx::new(&args.global)?;
    match args.command {
        OutboundCommand::Create {
            sel,
            name,
            service_name,
            endpoint_type,
            private_dns_enabled,
            dns_name,
            idempotency,
            wait,
        } => {
            let body = Body::new()
                .set("name", name)
                .set("serviceName", service_name)
                .opt("type", endpoint_type.as_ref().map(wire))
                .opt("privateDnsEnabled", private_dns_enabled)
                .opt("dnsName", dns_name)
                .build();
            KIND.create(
                &ctx,
                &sel.cluster,
                body,
                idempotency.idempotency_key,
                &wait::PROVISIONED,
                &wait,
            )
            .await?;
        }
        OutboundCommand::List { sel, page } => KIND.list(&ctx, &sel.cluster, &page).await?,
        OutboundCommand::Get { sel, endpoint_id } => {
            KIND.get(&ctx, &sel.cluster, &endpoint_id).await?
        }
        OutboundCommand::Delete {
            sel,
            endpoint_id,
            wait,
        } => KIND.delete(&ctx, &sel.cluster, &endpoint_id, &wait).await?,
    }
    Ok(())
}
