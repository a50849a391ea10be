//! `linkplane dns create|list|get|delete`: DNS resolutions of a cluster.

use serde_json::{Value, json};

use super::child::ClusterChild;
use super::common::{Body, IdempotencyArgs, PageArgs, wire};
use super::options::{Ctx, GlobalArgs};
use super::private_link::ClusterSel;
use super::wait::{self, WaitArgs};
use crate::render::Column;

pub const ABOUT_LONG: &str = "\
How the cluster resolves your private host names. Four kinds:
  RESOLVER_RULE  a Route 53 Resolver rule you share with the cluster's account;
  FORWARDING     queries for a domain are forwarded to your DNS servers (--target), which the
                 cluster must reach over a peering, transit gateway or VPN;
  PRIVATE_ZONE   a private zone with a few stable records (--record), answered in the
                 cluster's VPC (authoritative: a missing name is NXDOMAIN);
  HOSTED_ZONE_ASSOCIATION
                 your own private hosted zone (--hosted-zone-id), associated with the cluster's
                 VPC. It stays PENDING until the zone's owner authorizes the association with
                 the cluster's VPC (`linkplane cluster get` shows vpcId); `linkplane dns get`
                 then shows the exact command under `instructions`.";

pub const EXAMPLES: &str = "\
Examples:
  linkplane dns create --cluster cl7g2k4m7p3q5r6s2t --name corp --kind FORWARDING \\
      --domain corp.example.com --target 10.1.0.2 --target 10.1.0.3:5353
  linkplane dns create --cluster cl7g2k4m7p3q5r6s2t --name db --kind PRIVATE_ZONE \\
      --domain db.internal --record primary:A:10.1.4.20 --record replica:CNAME:primary.db.internal
  linkplane dns create --cluster cl7g2k4m7p3q5r6s2t --name corp-zone \\
      --kind HOSTED_ZONE_ASSOCIATION --domain corp.internal --hosted-zone-id hz-0123abcd
  linkplane dns list --cluster cl7g2k4m7p3q5r6s2t
  linkplane dns delete --cluster cl7g2k4m7p3q5r6s2t dns4g6i2k5m7o3q5st";

#[derive(Debug, clap::Args)]
pub struct DnsArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: DnsCommand,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Kind {
    /// A Route 53 Resolver rule shared with the cluster's account.
    ResolverRule,
    /// Forward the domain's queries to your DNS servers.
    Forwarding,
    /// A private zone with records answered in the cluster's VPC.
    PrivateZone,
    /// Your own private hosted zone, associated with the cluster's VPC.
    HostedZoneAssociation,
}

#[derive(Debug, clap::Subcommand)]
pub enum DnsCommand {
    /// Add a DNS resolution (resolver rule, forwarding or private zone).
    ///
    /// Sends POST …/clusters/{clusterId}/dns-resolutions. FORWARDING takes --target,
    /// PRIVATE_ZONE takes --record, RESOLVER_RULE takes --resolver-rule-id,
    /// HOSTED_ZONE_ASSOCIATION takes --hosted-zone-id. --wait follows it to AVAILABLE (a zone
    /// association waits there until the zone's owner authorizes it; the progress line says so).
    #[command(
        after_help = "Example:\n  linkplane dns create --cluster cl7g2k4m7p3q5r6s2t --name corp \\\n      --kind FORWARDING --domain corp.example.com --target 10.1.0.2"
    )]
    Create {
        #[command(flatten)]
        sel: ClusterSel,
        /// Name: 1-63 characters.
        #[arg(long)]
        name: String,
        /// Kind of resolution.
        #[arg(long, value_enum, ignore_case = true)]
        kind: Kind,
        /// Domain, e.g. corp.example.com (RFC 1035: labels 1-63, at most 253 characters).
        #[arg(long)]
        domain: String,
        /// FORWARDING: a DNS server as IP or IP:PORT, e.g. 10.1.0.2 or 10.1.0.2:5353
        /// ([fd00::2]:53 for IPv6). Repeat for more.
        #[arg(long = "target", value_name = "IP[:PORT]")]
        targets: Vec<String>,
        /// PRIVATE_ZONE: a record NAME:TYPE:VALUE, TYPE one of A, AAAA, CNAME, e.g.
        /// primary:A:10.1.4.20 or www:AAAA:fd00::20. Repeat for more.
        #[arg(long = "record", value_name = "NAME:TYPE:VALUE", value_parser = parse_record)]
        records: Vec<Record>,
        /// TTL in seconds for every --record (the server's default when absent).
        #[arg(long, value_name = "SECONDS", requires = "records")]
        ttl: Option<u32>,
        /// RESOLVER_RULE: the shared rule's id, e.g. rslvr-rr-0a1b2c3d4e5f60718.
        #[arg(long, value_name = "RULE_ID")]
        resolver_rule_id: Option<String>,
        /// HOSTED_ZONE_ASSOCIATION: your private hosted zone's id, e.g. hz-0123abcd
        /// (localcloud) or Z0123456789ABCDEFGHIJ (Route 53).
        #[arg(long, value_name = "ZONE_ID")]
        hosted_zone_id: Option<String>,
        #[command(flatten)]
        idempotency: IdempotencyArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// List a cluster's DNS resolutions.
    ///
    /// Sends GET …/clusters/{clusterId}/dns-resolutions.
    #[command(after_help = "Example:\n  linkplane dns list --cluster cl7g2k4m7p3q5r6s2t")]
    List {
        #[command(flatten)]
        sel: ClusterSel,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one DNS resolution with its targets or records, its status and what it waits
    /// for (`instructions`).
    ///
    /// Sends GET …/clusters/{clusterId}/dns-resolutions/{id}. --wait follows it to AVAILABLE
    /// or FAILED (e.g. while you run the authorize or share command it shows).
    #[command(
        after_help = "Example:\n  linkplane dns get --cluster cl7g2k4m7p3q5r6s2t dns4g6i2k5m7o3q5st"
    )]
    Get {
        #[command(flatten)]
        sel: ClusterSel,
        /// DNS resolution id.
        resolution_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Delete a DNS resolution.
    ///
    /// Sends DELETE …/clusters/{clusterId}/dns-resolutions/{id}.
    #[command(
        after_help = "Example:\n  linkplane dns delete --cluster cl7g2k4m7p3q5r6s2t dns4g6i2k5m7o3q5st"
    )]
    Delete {
        #[command(flatten)]
        sel: ClusterSel,
        /// DNS resolution id.
        resolution_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

/// A private-zone record as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub record_type: String,
    pub value: String,
}

impl Record {
    fn to_json(&self, ttl: Option<u32>) -> Value {
        let mut v = json!({"name": self.name, "type": self.record_type, "value": self.value});
        if let (Some(ttl), Some(map)) = (ttl, v.as_object_mut()) {
            map.insert("ttl".to_owned(), ttl.into());
        }
        v
    }
}

/// `NAME:TYPE:VALUE`; the value may itself contain colons (IPv6). Only the shape is checked
/// here; the server validates names and values.
fn parse_record(s: &str) -> Result<Record, String> {
    let mut parts = s.splitn(3, ':');
    let (Some(name), Some(record_type), Some(value)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "{s:?} is not NAME:TYPE:VALUE (e.g. primary:A:10.1.4.20)"
        ));
    };
    if name.is_empty() || record_type.is_empty() || value.is_empty() {
        return Err(format!(
            "{s:?} has an empty part; expected NAME:TYPE:VALUE (e.g. primary:A:10.1.4.20)"
        ));
    }
    Ok(Record {
        name: name.to_owned(),
        record_type: record_type.to_ascii_uppercase(),
        value: value.to_owned(),
    })
}

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("KIND", "/kind"),
    ("DOMAIN", "/domain"),
    ("TARGETS", "/targets"),
    ("STATUS", "/status"),
];

const FIELDS: &[Column] = &[
    ("id", "/id"),
    ("name", "/name"),
    ("kind", "/kind"),
    ("domain", "/domain"),
    ("targets", "/targets"),
    ("records", "/records"),
    ("resolverRuleId", "/resolverRuleId"),
    ("hostedZoneId", "/hostedZoneId"),
    ("status", "/status"),
    ("statusReason", "/statusReason"),
    ("cloudResourceId", "/cloudResourceId"),
    ("instructions", "/instructions"),
];

const KIND: ClusterChild = ClusterChild {
    collection: "dns-resolutions",
    noun: "DNS resolution",
    empty: "No DNS resolutions on this cluster.",
    columns: COLUMNS,
    fields: FIELDS,
};

pub async fn run(args: DnsArgs) -> anyhow::Result<()> {
    let ctx = Ctx::new(&args.global)?;
    match args.command {
        DnsCommand::Create {
            sel,
            name,
            kind,
            domain,
            targets,
            records,
            ttl,
            resolver_rule_id,
            hosted_zone_id,
            idempotency,
            wait,
        } => {
            let records: Vec<Value> = records.iter().map(|r| r.to_json(ttl)).collect();
            let mut body = Body::new()
                .set("name", name)
                .set("kind", wire(&kind))
                .set("domain", domain)
                .list("targets", &targets)
                .opt("resolverRuleId", resolver_rule_id)
                .opt("hostedZoneId", hosted_zone_id);
            if !records.is_empty() {
                body = body.set("records", records);
            }
            KIND.create(
                &ctx,
                &sel.cluster,
                body.build(),
                idempotency.idempotency_key,
                &wait::PROVISIONED,
                &wait,
            )
            .await?;
        }
        DnsCommand::List { sel, page } => KIND.list(&ctx, &sel.cluster, &page).await?,
        DnsCommand::Get {
            sel,
            resolution_id,
            wait,
        } => {
            KIND.get_waiting(
                &ctx,
                &sel.cluster,
                &resolution_id,
                &wait::PROVISIONED,
                &wait,
            )
            .await?
        }
        DnsCommand::Delete {
            sel,
            resolution_id,
            wait,
        } => {
            KIND.delete(&ctx, &sel.cluster, &resolution_id, &wait)
                .await?
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_with_colons_in_the_value() {
        let r = parse_record("www:aaaa:fd00::20").unwrap();
        assert_eq!(
            r,
            Record {
                name: "www".into(),
                record_type: "AAAA".into(),
                value: "fd00::20".into()
            }
        );
        assert_eq!(
            r.to_json(None),
            json!({"name": "www", "type": "AAAA", "value": "fd00::20"})
        );
        assert_eq!(
            r.to_json(Some(60)),
            json!({"name": "www", "type": "AAAA", "value": "fd00::20", "ttl": 60})
        );
    }

    #[test]
    fn malformed_records_are_refused_with_the_expected_shape() {
        for bad in [
            "primary",
            "primary:A",
            "primary::10.0.0.1",
            ":A:10.0.0.1",
            "a:A:",
        ] {
            let err = parse_record(bad).unwrap_err();
            assert!(err.contains("NAME:TYPE:VALUE"), "{bad}: {err}");
        }
    }
}
