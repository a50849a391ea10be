//! `linkplane tgw create|list|get|delete`: transit gateway attachments.

use super::child::ClusterChild;
use super::common::{Body, IdempotencyArgs, PageArgs};
use super::options::{Ctx, GlobalArgs};
use super::private_link::ClusterSel;
use super::wait::{Finals, WaitArgs};
use crate::render::Column;

pub const ABOUT_LONG: &str = "\
Attach a dedicated cluster to your transit gateway (dedicated clusters only). Share the
transit gateway with the cluster's account (AWS RAM), then create the attachment with the
CIDRs reachable behind it; routes to them are added to the cluster, and you add back routes
to the cluster's CIDR on your transit gateway.";

pub const EXAMPLES: &str = "\
Examples:
  linkplane tgw create --cluster cl7g2k4m7p3q5r6s2t --name corp \\
      --transit-gateway-id tgw-0a1b2c3d4e5f60718 --peer-account-id 123456789012 \\
      --cidr 10.50.0.0/16 --cidr 192.168.0.0/20
  linkplane tgw list --cluster cl7g2k4m7p3q5r6s2t
  linkplane tgw get --cluster cl7g2k4m7p3q5r6s2t tgwa5d7f2h4j6l3n5p
  linkplane tgw delete --cluster cl7g2k4m7p3q5r6s2t tgwa5d7f2h4j6l3n5p";

#[derive(Debug, clap::Args)]
pub struct TgwArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: TgwCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TgwCommand {
    /// Attach the cluster to a transit gateway shared with it.
    ///
    /// Sends POST …/clusters/{clusterId}/transit-gateway-attachments. Share the transit gateway
    /// with the cluster's account first; afterwards add back routes to the cluster's CIDR on
    /// it. --wait follows it to ACTIVE, or stops at PENDING_SHARE / PENDING_ACCEPTANCE with
    /// the command you run next.
    #[command(
        after_help = "Example:\n  linkplane tgw create --cluster cl7g2k4m7p3q5r6s2t --name corp \\\n      --transit-gateway-id tgw-0a1b2c3d4e5f60718 \\\n      --peer-account-id 123456789012 --cidr 10.50.0.0/16"
    )]
    Create {
        #[command(flatten)]
        sel: ClusterSel,
        /// Attachment name: 1-63 characters.
        #[arg(long)]
        name: String,
        /// Your transit gateway: tgw- followed by 8 or 17 hex digits.
        #[arg(long, value_name = "TGW_ID")]
        transit_gateway_id: String,
        /// AWS account id owning the transit gateway: 12 digits.
        #[arg(long, value_name = "ACCOUNT_ID")]
        peer_account_id: String,
        /// A CIDR reachable through the transit gateway, e.g. 10.50.0.0/16 (repeat for more;
        /// must not overlap the cluster or its other connections).
        #[arg(long = "cidr", value_name = "CIDR", required = true)]
        cidrs: Vec<String>,
        #[command(flatten)]
        idempotency: IdempotencyArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// List a cluster's transit gateway attachments.
    ///
    /// Sends GET …/clusters/{clusterId}/transit-gateway-attachments.
    #[command(after_help = "Example:\n  linkplane tgw list --cluster cl7g2k4m7p3q5r6s2t")]
    List {
        #[command(flatten)]
        sel: ClusterSel,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one attachment.
    ///
    /// Sends GET …/clusters/{clusterId}/transit-gateway-attachments/{id}.
    #[command(
        after_help = "Example:\n  linkplane tgw get --cluster cl7g2k4m7p3q5r6s2t tgwa5d7f2h4j6l3n5p"
    )]
    Get {
        #[command(flatten)]
        sel: ClusterSel,
        /// Attachment id.
        attachment_id: String,
    },
    /// Detach the cluster from the transit gateway.
    ///
    /// Sends DELETE …/clusters/{clusterId}/transit-gateway-attachments/{id}.
    #[command(
        after_help = "Example:\n  linkplane tgw delete --cluster cl7g2k4m7p3q5r6s2t tgwa5d7f2h4j6l3n5p"
    )]
    Delete {
        #[command(flatten)]
        sel: ClusterSel,
        /// Attachment id.
        attachment_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("TRANSIT GATEWAY", "/transitGatewayId"),
    ("PEER ACCOUNT", "/peerAccountId"),
    ("CIDRS", "/cidrs"),
    ("STATUS", "/status"),
];

const FIELDS: &[Column] = &[
    ("id", "/id"),
    ("name", "/name"),
    ("transitGatewayId", "/transitGatewayId"),
    ("peerAccountId", "/peerAccountId"),
    ("cidrs", "/cidrs"),
    ("status", "/status"),
    ("statusReason", "/statusReason"),
    ("cloudResourceId", "/cloudResourceId"),
    ("clusterAccountId", "/clusterAccountId"),
    ("clusterCidrs", "/clusterCidrs"),
    ("instructions", "/instructions"),
];

/// PENDING_SHARE and PENDING_ACCEPTANCE wait for the customer (`instructions` says what to
/// run), so `--wait` hands over to them there.
const FINALS: Finals = Finals {
    success: &["ACTIVE"],
    needs_action: &[
        (
            "PENDING_SHARE",
            "share the transit gateway: run the instructions above",
        ),
        (
            "PENDING_ACCEPTANCE",
            "accept the attachment: run the instructions above",
        ),
    ],
    failure: &["FAILED"],
};

const KIND: ClusterChild = ClusterChild {
    collection: "transit-gateway-attachments",
    noun: "transit gateway attachment",
    empty: "No transit gateway attachments on this cluster.",
    columns: COLUMNS,
    fields: FIELDS,
};

pub async fn run(args: TgwArgs) -> anyhow::Result<()> {
    let ctx = Ctx::new(&args.global)?;
    match args.command {
        TgwCommand::Create {
            sel,
            name,
            transit_gateway_id,
            peer_account_id,
            cidrs,
            idempotency,
            wait,
        } => {
            let body = Body::new()
                .set("name", name)
                .set("transitGatewayId", transit_gateway_id)
                .set("peerAccountId", peer_account_id)
                .set("cidrs", cidrs)
                .build();
            KIND.create(
                &ctx,
                &sel.cluster,
                body,
                idempotency.idempotency_key,
                &FINALS,
                &wait,
            )
            .await?;
        }
        TgwCommand::List { sel, page } => KIND.list(&ctx, &sel.cluster, &page).await?,
        TgwCommand::Get { sel, attachment_id } => {
            KIND.get(&ctx, &sel.cluster, &attachment_id).await?
        }
        TgwCommand::Delete {
            sel,
            attachment_id,
            wait,
        } => {
            KIND.delete(&ctx, &sel.cluster, &attachment_id, &wait)
                .await?
        }
    }
    Ok(())
}
