//! Hostname resolution in a cluster's network (document 002: shared resolver rule, DNS
//! forwarding, private hosted zone; and the customer's zone associated for VPC peering).

use std::net::SocketAddr;

use linkplane_model::{DomainName, HostedZoneId, RecordType, ResolverRuleId, ResourceId};

use crate::{ClusterNetwork, Provider, ProviderError};

/// One record set of a zone the platform owns: records of one name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSet {
    /// Fully qualified, without the trailing dot.
    pub name: String,
    pub record_type: RecordType,
    pub ttl: u32,
    pub values: Vec<String>,
}

/// What a DNS resolution asks of the cluster's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsPlan {
    /// Forward queries for `domain` to `targets`, leaving from the cluster's VPC.
    Forward {
        domain: DomainName,
        targets: Vec<SocketAddr>,
    },
    /// A zone the platform owns, authoritative for `domain`, associated with the cluster's
    /// VPC, holding exactly `record_sets`.
    Zone {
        domain: DomainName,
        record_sets: Vec<RecordSet>,
    },
    /// A resolver rule the customer shared with the platform's account.
    SharedRule { rule_id: ResolverRuleId },
    /// The customer's private hosted zone for `domain`, associated with the cluster's VPC
    /// once its owner authorized that.
    HostedZone {
        zone_id: HostedZoneId,
        domain: DomainName,
    },
}

/// The cloud object that implements a resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsObject {
    ResolverRule(ResolverRuleId),
    HostedZone(HostedZoneId),
}

impl std::fmt::Display for DnsObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ResolverRule(r) => f.write_str(r.as_str()),
            Self::HostedZone(z) => f.write_str(z.as_str()),
        }
    }
}

/// Where a DNS resolution stands in the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsOutcome {
    /// In effect in the cluster's VPC, through `object`.
    Ready { object: DnsObject },
    /// Waiting for the customer: why, and the commands that would unblock it.
    Waiting { reason: String, steps: Vec<String> },
}

/// DNS resolutions in clusters' networks.
#[async_trait::async_trait]
pub trait DnsResolutions: Provider {
    /// Make `plan` effective in the cluster's VPC (look up before creating: the objects are
    /// named from `resolution_id`). Idempotent.
    async fn ensure_dns(
        &self,
        net: &ClusterNetwork,
        resolution_id: &ResourceId,
        plan: &DnsPlan,
    ) -> Result<DnsOutcome, ProviderError>;

    /// Undo [`DnsResolutions::ensure_dns`]: the cluster's VPC no longer uses the rule or
    /// zone, and what the platform created for it is deleted. Idempotent.
    async fn remove_dns(
        &self,
        net: &ClusterNetwork,
        resolution_id: &ResourceId,
        plan: &DnsPlan,
    ) -> Result<(), ProviderError>;
}
