//! `linkplane vpn create|list|get|delete`.

use std::path::PathBuf;

use super::child::ClusterChild;
use super::common::{Body, IdempotencyArgs, PageArgs, read_secret};
use super::options::{Ctx, GlobalArgs};
use super::private_link::ClusterSel;
use super::wait::{self, WaitArgs};
use crate::render::Column;

pub const ABOUT_LONG: &str = "\
Site-to-site IPsec VPN from a dedicated cluster to your gateway device(s), for on-premises
networks or other clouds (dedicated clusters only). Give one gateway public IP (two for high
availability), the IKE pre-shared key, and either a BGP ASN or static prefixes. The
pre-shared key is a secret: the API stores it and never shows it again. Pass it with
--pre-shared-key-file (a file, or `-` for stdin) or LINKPLANE_VPN_PRE_SHARED_KEY rather than
on the command line, where other users can see it in `ps`.";

pub const EXAMPLES: &str = "\
Examples:
  linkplane vpn create --cluster cl7g2k4m7p3q5r6s2t --name dc1 --gateway-ip 203.0.113.10 \\
      --gateway-ip 203.0.113.11 --pre-shared-key-file psk.txt --bgp-asn 65010
  printf '%s' \"$PSK\" | linkplane vpn create --cluster cl7g2k4m7p3q5r6s2t --name dc2 \\
      --gateway-ip 198.51.100.7 --pre-shared-key-file - --static-prefix 172.20.0.0/16 \\
      --inside-cidr 169.254.10.0/30
  linkplane vpn list --cluster cl7g2k4m7p3q5r6s2t
  linkplane vpn delete --cluster cl7g2k4m7p3q5r6s2t vpn7f3h5j2l4n6p3rs";

#[derive(Debug, clap::Args)]
pub struct VpnArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: VpnCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum VpnCommand {
    /// Create a VPN connection to your gateway device(s).
    ///
    /// Sends POST …/clusters/{clusterId}/vpn-connections. The pre-shared key is sent once and
    /// never shown again. --wait follows it to AVAILABLE.
    #[command(
        after_help = "Example:\n  linkplane vpn create --cluster cl7g2k4m7p3q5r6s2t --name dc1 \\\n      --gateway-ip 203.0.113.10 --pre-shared-key-file psk.txt --bgp-asn 65010"
    )]
    Create {
        #[command(flatten)]
        sel: ClusterSel,
        /// Connection name: 1-63 characters.
        #[arg(long)]
        name: String,
        /// Public IPv4 address of your gateway, e.g. 203.0.113.10 (once, or twice for HA;
        /// not private, loopback, link-local, multicast or reserved).
        #[arg(long = "gateway-ip", value_name = "IPV4", required = true)]
        gateway_ips: Vec<String>,
        /// IKE pre-shared key: 8-64 characters of A-Z a-z 0-9 . _, not starting with 0.
        /// Visible in `ps`: prefer --pre-shared-key-file or the environment variable.
        #[arg(
            long,
            env = "LINKPLANE_VPN_PRE_SHARED_KEY",
            hide_env_values = true,
            value_name = "KEY",
            required_unless_present = "pre_shared_key_file"
        )]
        pre_shared_key: Option<String>,
        /// Read the pre-shared key from this file (`-` reads stdin); trailing newlines are
        /// ignored. Takes precedence over --pre-shared-key.
        #[arg(long, value_name = "PATH")]
        pre_shared_key_file: Option<PathBuf>,
        /// BGP ASN of your side: 1-4294967294, not 7224, 9059, 10124 or 17493.
        #[arg(long, value_name = "ASN", conflicts_with = "static_prefixes")]
        bgp_asn: Option<u64>,
        /// A static prefix reachable over the VPN, e.g. 172.20.0.0/16 (repeat for more;
        /// instead of --bgp-asn).
        #[arg(
            long = "static-prefix",
            value_name = "CIDR",
            required_unless_present = "bgp_asn"
        )]
        static_prefixes: Vec<String>,
        /// Inside tunnel CIDR: a /30 in 169.254.0.0/16, e.g. 169.254.10.0/30 (not
        /// 169.254.0.0/30 … 169.254.5.0/30 nor 169.254.169.252/30).
        #[arg(long, value_name = "CIDR")]
        inside_cidr: Option<String>,
        #[command(flatten)]
        idempotency: IdempotencyArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// List a cluster's VPN connections.
    ///
    /// Sends GET …/clusters/{clusterId}/vpn-connections.
    #[command(after_help = "Example:\n  linkplane vpn list --cluster cl7g2k4m7p3q5r6s2t")]
    List {
        #[command(flatten)]
        sel: ClusterSel,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one VPN connection (never its pre-shared key).
    ///
    /// Sends GET …/clusters/{clusterId}/vpn-connections/{id}.
    #[command(
        after_help = "Example:\n  linkplane vpn get --cluster cl7g2k4m7p3q5r6s2t vpn7f3h5j2l4n6p3rs"
    )]
    Get {
        #[command(flatten)]
        sel: ClusterSel,
        /// VPN connection id.
        vpn_id: String,
    },
    /// Delete a VPN connection.
    ///
    /// Sends DELETE …/clusters/{clusterId}/vpn-connections/{id}. Routes through it are
    /// deleted with it (and withdrawn from the cluster's route tables).
    #[command(
        after_help = "Example:\n  linkplane vpn delete --cluster cl7g2k4m7p3q5r6s2t vpn7f3h5j2l4n6p3rs"
    )]
    Delete {
        #[command(flatten)]
        sel: ClusterSel,
        /// VPN connection id.
        vpn_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("GATEWAY IPS", "/gatewayIps"),
    ("BGP ASN", "/bgpAsn"),
    ("STATIC PREFIXES", "/staticPrefixes"),
    ("STATUS", "/status"),
];

const FIELDS: &[Column] = &[
    ("id", "/id"),
    ("name", "/name"),
    ("gatewayIps", "/gatewayIps"),
    ("bgpAsn", "/bgpAsn"),
    ("staticPrefixes", "/staticPrefixes"),
    ("insideCidr", "/insideCidr"),
    ("status", "/status"),
];

const KIND: ClusterChild = ClusterChild {
    collection: "vpn-connections",
    noun: "VPN connection",
    empty: "No VPN connections on this cluster.",
    columns: COLUMNS,
    fields: FIELDS,
};

pub async fn run(args: VpnArgs) -> anyhow::Result<()> {
    let ctx = Ctx::new(&args.global)?;
    match args.command {
        VpnCommand::Create {
            sel,
            name,
            gateway_ips,
            pre_shared_key,
            pre_shared_key_file,
            bgp_asn,
            static_prefixes,
            inside_cidr,
            idempotency,
            wait,
        } => {
            let psk = match (pre_shared_key, pre_shared_key_file) {
                (_, Some(path)) => read_secret(&path, "pre-shared key")?,
                (Some(key), None) => key,
                (None, None) => anyhow::bail!(
                    "give the pre-shared key with --pre-shared-key-file PATH (or - for stdin)"
                ),
            };
            let body = Body::new()
                .set("name", name)
                .set("gatewayIps", gateway_ips)
                .set("preSharedKey", psk)
                .opt("bgpAsn", bgp_asn)
                .list("staticPrefixes", &static_prefixes)
                .opt("insideCidr", inside_cidr)
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
        VpnCommand::List { sel, page } => KIND.list(&ctx, &sel.cluster, &page).await?,
        VpnCommand::Get { sel, vpn_id } => KIND.get(&ctx, &sel.cluster, &vpn_id).await?,
        VpnCommand::Delete { sel, vpn_id, wait } => {
            KIND.delete(&ctx, &sel.cluster, &vpn_id, &wait).await?
        }
    }
    Ok(())
}
