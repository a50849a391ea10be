//! `linkplane private-link get|set|connections|accept|reject`.

use anyhow::Context as _;
use linkplane_client::Method;

use super::common::{Body, PageArgs};
use super::options::{Ctx, GlobalArgs};
use crate::render::{self, Column};

pub const ABOUT_LONG: &str = "\
Every cluster offers a PrivateLink endpoint service that Remote Execution Agents reach from
your VPC without crossing the internet. Allow your AWS principals (or Azure subscriptions),
create an interface endpoint to the service name `get` shows, then accept the endpoint
connection here: PENDING_ACCEPTANCE -> AVAILABLE (or REJECTED).";

pub const EXAMPLES: &str = "\
Examples:
  linkplane private-link set --cluster cl7g2k4m7p3q5r6s2t \\
      --allowed-principal arn:aws:iam::123456789012:root --region us-east-1
  linkplane private-link get --cluster cl7g2k4m7p3q5r6s2t
  linkplane private-link connections --cluster cl7g2k4m7p3q5r6s2t
  linkplane private-link accept --cluster cl7g2k4m7p3q5r6s2t vpce3i5k7m2o4q6s3uv";

/// `--cluster`, used by every cluster-scoped command.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterSel {
    /// Cluster id (see `linkplane cluster list`).
    #[arg(long, env = "LINKPLANE_CLUSTER", value_name = "CLUSTER_ID")]
    pub cluster: String,
}

#[derive(Debug, clap::Args)]
pub struct PrivateLinkArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: PrivateLinkCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PrivateLinkCommand {
    /// Show the endpoint service: service name, allowed principals, regions, zones.
    ///
    /// Sends GET …/clusters/{clusterId}/private-link. Create your interface endpoint to the
    /// service name shown.
    #[command(after_help = "Example:\n  linkplane private-link get --cluster cl7g2k4m7p3q5r6s2t")]
    Get {
        #[command(flatten)]
        sel: ClusterSel,
    },
    /// Replace the allowed principals (and optionally the regions) of the endpoint service.
    ///
    /// Sends PUT …/clusters/{clusterId}/private-link. Only the listed principals may create
    /// endpoints to the service; `--allowed-principal '*'` allows everyone.
    #[command(
        after_help = "Example:\n  linkplane private-link set --cluster cl7g2k4m7p3q5r6s2t \\\n      --allowed-principal arn:aws:iam::123456789012:role/agents"
    )]
    Set {
        #[command(flatten)]
        sel: ClusterSel,
        /// `*`, `arn:aws:iam::<12 digits>:root`, `…:role/<path>`, `…:user/<path>`, or an
        /// Azure subscription id (GUID) for Azure clusters. Repeat for more.
        #[arg(long = "allowed-principal", value_name = "PRINCIPAL")]
        allowed_principals: Vec<String>,
        /// Remove every allowed principal (nobody can create new endpoints).
        #[arg(long, conflicts_with = "allowed_principals")]
        clear_allowed_principals: bool,
        /// An extra region consumers may connect from, e.g. eu-west-1 (repeat for more;
        /// the cluster's own region is always allowed).
        #[arg(long = "region", value_name = "REGION")]
        regions: Vec<String>,
        /// Accept new endpoint connections without manual approval.
        #[arg(long, value_name = "true|false", default_value_t = false, action = clap::ArgAction::Set)]
        auto_accept: bool,
    },
    /// Remove the endpoint service configuration (agents can no longer connect privately).
    ///
    /// Sends DELETE …/clusters/{clusterId}/private-link.
    #[command(
        after_help = "Example:\n  linkplane private-link delete --cluster cl7g2k4m7p3q5r6s2t"
    )]
    Delete {
        #[command(flatten)]
        sel: ClusterSel,
    },
    /// List the endpoint connections to the service and their states.
    ///
    /// Sends GET …/clusters/{clusterId}/private-link/connections. States: PENDING_ACCEPTANCE,
    /// AVAILABLE, REJECTED, FAILED, DELETED.
    #[command(
        after_help = "Example:\n  linkplane private-link connections --cluster cl7g2k4m7p3q5r6s2t"
    )]
    Connections {
        #[command(flatten)]
        sel: ClusterSel,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Accept a pending endpoint connection (PENDING_ACCEPTANCE -> AVAILABLE).
    ///
    /// Sends POST …/private-link/connections/{endpointId}/accept. A REJECTED connection cannot
    /// be accepted (409).
    #[command(
        after_help = "Example:\n  linkplane private-link accept --cluster cl7g2k4m7p3q5r6s2t vpce3i5k7m2o4q6s3uv"
    )]
    Accept {
        #[command(flatten)]
        sel: ClusterSel,
        /// The connection's id (`ID` in `connections`, e.g. vpce3i5k7m2o4q6s3uv) or the
        /// consumer's own endpoint id (`CLOUD ENDPOINT`, e.g. vpce-0a1b2c3d).
        endpoint_id: String,
    },
    /// Reject an endpoint connection (-> REJECTED).
    ///
    /// Sends POST …/private-link/connections/{endpointId}/reject.
    #[command(
        after_help = "Example:\n  linkplane private-link reject --cluster cl7g2k4m7p3q5r6s2t vpce3i5k7m2o4q6s3uv"
    )]
    Reject {
        #[command(flatten)]
        sel: ClusterSel,
        /// The connection's id (`ID` in `connections`) or the consumer's endpoint id
        /// (`CLOUD ENDPOINT`, vpce-…).
        endpoint_id: String,
    },
}

const FIELDS: &[Column] = &[
    ("serviceName", "/serviceName"),
    ("allowedPrincipals", "/allowedPrincipals"),
    ("regions", "/regions"),
    ("availabilityZones", "/availabilityZones"),
    ("autoAccept", "/autoAccept"),
    ("status", "/status"),
];

const CONNECTION_COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("CLOUD ENDPOINT", "/cloudEndpointId"),
    ("REQUESTER", "/requester"),
    ("REGION", "/region"),
    ("STATUS", "/status"),
    ("PRIVATE IPS", "/privateIps"),
];

pub async fn run(args: PrivateLinkArgs) -> anyhow::Result<()> {
    let ctx = Ctx::new(&args.global)?;
    match args.command {
        PrivateLinkCommand::Get { sel } => {
            let path = ctx
                .org_path(&["clusters", &sel.cluster, "private-link"])
                .await?;
            let reply = ctx.api.get(&path, &[]).await?;
            render::print_object(ctx.output, &reply, FIELDS);
        }
        PrivateLinkCommand::Set {
            sel,
            allowed_principals,
            clear_allowed_principals,
            regions,
            auto_accept,
        } => {
            if allowed_principals.is_empty() && !clear_allowed_principals {
                anyhow::bail!(
                    "give at least one --allowed-principal (or --clear-allowed-principals)"
                );
            }
            let body = Body::new()
                .set("allowedPrincipals", allowed_principals)
                .list("regions", &regions)
                .set("autoAccept", auto_accept)
                .build();
            let path = ctx
                .org_path(&["clusters", &sel.cluster, "private-link"])
                .await?;
            let mut reply = ctx.api.call(Method::PUT, &path).json(body).send().await?;
            // The service name and zones are the provider's: until the controller has
            // observed this generation they are a guess, so wait for them (briefly).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !observed(&reply.body) && std::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                reply = ctx.api.get(&path, &[]).await?;
            }
            if !observed(&reply.body) {
                eprintln!(
                    "The service is still being provisioned: serviceName and availabilityZones are \
                     provisional until `linkplane private-link get --cluster {}` shows status AVAILABLE.",
                    sel.cluster
                );
            }
            render::print_object(ctx.output, &reply, FIELDS);
        }
        PrivateLinkCommand::Connections { sel, page } => {
            let path = ctx
                .org_path(&["clusters", &sel.cluster, "private-link", "connections"])
                .await?;
            let reply = ctx.api.get(&path, &page.query()).await?;
            render::print_list(
                ctx.output,
                &reply,
                CONNECTION_COLUMNS,
                "No endpoint connections yet.",
            );
        }
        PrivateLinkCommand::Delete { sel } => {
            let path = ctx
                .org_path(&["clusters", &sel.cluster, "private-link"])
                .await?;
            let reply = ctx.api.call(Method::DELETE, &path).send().await?;
            let what = format!("the private link of cluster {}", sel.cluster);
            render::print_done(ctx.output, &reply, &super::deleted_message(&reply, &what));
        }
        PrivateLinkCommand::Accept { sel, endpoint_id } => {
            decide(&ctx, &sel.cluster, &endpoint_id, "accept").await?;
        }
        PrivateLinkCommand::Reject { sel, endpoint_id } => {
            decide(&ctx, &sel.cluster, &endpoint_id, "reject").await?;
        }
    }
    Ok(())
}

/// Whether the controller has observed the private link's current spec.
fn observed(v: &serde_json::Value) -> bool {
    let g = v["generation"].as_i64().unwrap_or(0);
    v["observedGeneration"].as_i64().unwrap_or(0) >= g && v["status"] != "PENDING"
}

/// The connection id for `endpoint`: given as is, or found by the consumer's endpoint id
/// (`vpce-…`, the `CLOUD ENDPOINT` column).
async fn connection_id(ctx: &Ctx, cluster: &str, endpoint: &str) -> anyhow::Result<String> {
    if !endpoint.starts_with("vpce-") {
        return Ok(endpoint.to_owned());
    }
    let path = ctx
        .org_path(&["clusters", cluster, "private-link", "connections"])
        .await?;
    let reply = ctx.api.get(&path, &[("limit", "100".to_owned())]).await?;
    let items = reply.body["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .find(|c| c["cloudEndpointId"].as_str() == Some(endpoint))
        .and_then(|c| c["id"].as_str().map(str::to_owned))
        .with_context(|| {
            format!(
                "{endpoint} is a cloud endpoint id with no connection to cluster {cluster}'s service \
                 (see `linkplane private-link connections --cluster {cluster}`)"
            )
        })
}

async fn decide(ctx: &Ctx, cluster: &str, endpoint: &str, verb: &str) -> anyhow::Result<()> {
    let endpoint = &connection_id(ctx, cluster, endpoint).await?;
    let path = ctx
        .org_path(&[
            "clusters",
            cluster,
            "private-link",
            "connections",
            endpoint,
            verb,
        ])
        .await?;
    let reply = ctx.api.call(Method::POST, &path).send().await?;
    match ctx.output {
        render::Output::Json => render::print_raw(&reply),
        render::Output::Table if reply.body.is_object() => {
            println!(
                "{}",
                render::detail_table(&reply.body, CONNECTION_COLUMNS_DETAIL, None)
            );
        }
        render::Output::Table => eprintln!("Sent {verb} for endpoint connection {endpoint}."),
    }
    Ok(())
}

const CONNECTION_COLUMNS_DETAIL: &[Column] = &[
    ("id", "/id"),
    ("cloudEndpointId", "/cloudEndpointId"),
    ("requester", "/requester"),
    ("status", "/status"),
];
