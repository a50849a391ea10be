//! DNS resolutions on localcloud, as the platform's account ([`DnsResolutions`] for
//! [`LocalProvider`]).
//!
//! - FORWARDING: a FORWARD resolver rule named `linkplane/<resolutionId>` in the platform's
//!   account, associated with the cluster's VPC (queries leave from that VPC, so the targets
//!   need a path: a peering and a route, for example).
//! - PRIVATE_ZONE: a hosted zone of the platform's account for the domain, associated with
//!   the cluster's VPC, holding exactly the resolution's record sets. One resolution per
//!   domain and cluster (the API's unique key), so (domain, VPC) finds it again.
//! - RESOLVER_RULE: the customer's rule, associated with the cluster's VPC once its owner
//!   shared it with the platform's account (until then the resolution waits and says which
//!   command shares it).
//! - HOSTED_ZONE_ASSOCIATION: the customer's zone, associated with the cluster's VPC once
//!   the zone's owner authorized it (localcloud answers 403 until then: the resolution waits
//!   and says which command authorizes it).

use linkplane_localcloud::types::{CreateHostedZone, CreateResolverRule, RecordKey};
use linkplane_localcloud::{Error as CloudError, Principal};
use linkplane_model::{HostedZoneId, RecordType, ResolverRuleId, ResourceId};
use linkplane_provider::{
    ClusterNetwork, DnsObject, DnsOutcome, DnsPlan, DnsResolutions, ProviderError, RecordSet,
};

use crate::{LocalProvider, parsed};

fn record_type(t: RecordType) -> &'static str {
    match t {
        RecordType::A => "A",
        RecordType::AAAA => "AAAA",
        RecordType::CNAME => "CNAME",
    }
}

fn rule(id: String) -> Result<DnsOutcome, ProviderError> {
    Ok(DnsOutcome::Ready {
        object: DnsObject::ResolverRule(parsed("resolver rule id", ResolverRuleId::parse(&id))?),
    })
}

fn zone(id: String) -> Result<DnsOutcome, ProviderError> {
    Ok(DnsOutcome::Ready {
        object: DnsObject::HostedZone(parsed("hosted zone id", HostedZoneId::parse(&id))?),
    })
}

fn unavailable(e: CloudError) -> ProviderError {
    match e {
        CloudError::Invalid { .. } => ProviderError::Refused(e.to_string()),
        CloudError::NotFound { .. } => ProviderError::NotFound(e.to_string()),
        CloudError::Forbidden { .. } | CloudError::Conflict(_) => {
            ProviderError::Refused(e.to_string())
        }
        _ => ProviderError::Unavailable(e.to_string()),
    }
}

/// The name of the resolver rule a FORWARDING resolution owns.
pub fn rule_name(resolution_id: &ResourceId) -> String {
    format!("linkplane/{resolution_id}")
}

fn same_domain(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// The command that authorizes the association of another account's zone with `vpc_id`.
pub fn authorize_step(owner: &str, zone_id: &str, vpc_id: &str) -> String {
    format!(
        "linkplane cloud --as arn:aws:iam::{owner}:root zone authorize {zone_id} --vpc {vpc_id}"
    )
}

/// The command that shares a resolver rule with `account` (document 002: "share your
/// Amazon Route 53 Resolver rule with your Astro AWS account").
pub fn share_step(owner: &str, rule_id: &str, account: &str) -> String {
    format!(
        "linkplane cloud --as arn:aws:iam::{owner}:root rule share {rule_id} --account {account}"
    )
}

impl LocalProvider {
    fn p(&self) -> &Principal {
        self.principal()
    }

    async fn find_rule(&self, name: &str) -> Result<Option<String>, ProviderError> {
        let rules = self
            .engine()
            .list_resolver_rules(self.p())
            .await
            .map_err(unavailable)?;
        Ok(rules
            .into_iter()
            .find(|r| r.name.as_deref() == Some(name))
            .map(|r| r.resolver_rule_id))
    }

    async fn find_zone(
        &self,
        net: &ClusterNetwork,
        domain: &str,
    ) -> Result<Option<String>, ProviderError> {
        let zones = self
            .engine()
            .list_hosted_zones(self.p())
            .await
            .map_err(unavailable)?;
        Ok(zones
            .into_iter()
            .find(|z| {
                same_domain(&z.name, domain) && z.vpc_ids.iter().any(|v| v == net.vpc_id.as_str())
            })
            .map(|z| z.hosted_zone_id))
    }

    async fn forward(
        &self,
        net: &ClusterNetwork,
        id: &ResourceId,
        domain: &str,
        targets: &[std::net::SocketAddr],
    ) -> Result<DnsOutcome, ProviderError> {
        let name = rule_name(id);
        let rule = match self.find_rule(&name).await? {
            Some(r) => r,
            None => {
                self.engine()
                    .create_resolver_rule(
                        self.p(),
                        CreateResolverRule {
                            domain_name: domain.to_owned(),
                            rule_type: "FORWARD".into(),
                            target_ips: targets.iter().map(|t| t.to_string()).collect(),
                            name: Some(name),
                        },
                    )
                    .await
                    .map_err(unavailable)?
                    .resolver_rule_id
            }
        };
        self.engine()
            .associate_resolver_rule(self.p(), &rule, net.vpc_id.as_str())
            .await
            .map_err(unavailable)?;
        self::rule(rule)
    }

    async fn zone(
        &self,
        net: &ClusterNetwork,
        domain: &str,
        sets: &[RecordSet],
    ) -> Result<DnsOutcome, ProviderError> {
        let e = self.engine();
        let zone = match self.find_zone(net, domain).await? {
            Some(z) => z,
            None => {
                e.create_hosted_zone(
                    self.p(),
                    CreateHostedZone {
                        name: domain.to_owned(),
                        vpc_ids: vec![net.vpc_id.to_string()],
                    },
                )
                .await
                .map_err(unavailable)?
                .hosted_zone_id
            }
        };
        let current = e
            .get_hosted_zone(self.p(), &zone)
            .await
            .map_err(unavailable)?;
        // Exactly the resolution's record sets: drop the others, then put every wanted one.
        for r in &current.record_sets {
            let wanted = sets.iter().any(|w| {
                same_domain(&w.name, &r.name)
                    && record_type(w.record_type).eq_ignore_ascii_case(&r.kind)
            });
            if !wanted {
                e.delete_record_set(
                    self.p(),
                    &zone,
                    RecordKey {
                        name: r.name.clone(),
                        kind: r.kind.clone(),
                    },
                )
                .await
                .map_err(unavailable)?;
            }
        }
        for w in sets {
            let kind = record_type(w.record_type);
            let have = current.record_sets.iter().any(|r| {
                same_domain(&r.name, &w.name)
                    && r.kind.eq_ignore_ascii_case(kind)
                    && r.ttl == w.ttl
                    && r.values == w.values
            });
            if !have {
                e.upsert_record_set(
                    self.p(),
                    &zone,
                    linkplane_localcloud::types::RecordSet {
                        name: w.name.clone(),
                        kind: kind.to_owned(),
                        ttl: w.ttl,
                        values: w.values.clone(),
                    },
                )
                .await
                .map_err(unavailable)?;
            }
        }
        self::zone(zone)
    }

    async fn shared_rule(
        &self,
        net: &ClusterNetwork,
        rule: &ResolverRuleId,
    ) -> Result<DnsOutcome, ProviderError> {
        match self
            .engine()
            .associate_resolver_rule(self.p(), rule.as_str(), net.vpc_id.as_str())
            .await
        {
            Ok(_) => Ok(DnsOutcome::Ready {
                object: DnsObject::ResolverRule(rule.clone()),
            }),
            Err(CloudError::Forbidden { owner, .. }) => Ok(DnsOutcome::Waiting {
                reason: format!(
                    "waiting for account {owner}, the owner of resolver rule {rule}, to share \
                     it with the platform's account {}",
                    self.p().account()
                ),
                steps: vec![share_step(
                    &owner,
                    rule.as_str(),
                    self.p().account().as_str(),
                )],
            }),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn hosted_zone(
        &self,
        net: &ClusterNetwork,
        zone: &HostedZoneId,
        domain: &str,
    ) -> Result<DnsOutcome, ProviderError> {
        let e = self.engine();
        let (zone_id, vpc_id) = (zone.as_str(), net.vpc_id.as_str());
        match e.associate_zone(self.p(), zone_id, vpc_id).await {
            Ok(z) if same_domain(&z.name, domain) => Ok(DnsOutcome::Ready {
                object: DnsObject::HostedZone(zone.clone()),
            }),
            Ok(z) => {
                // Not the zone the customer meant: undo, say so.
                e.disassociate_zone(self.p(), zone_id, vpc_id)
                    .await
                    .map_err(unavailable)?;
                Err(ProviderError::Refused(format!(
                    "hosted zone {zone_id} is for {}, not {domain}",
                    z.name.trim_end_matches('.')
                )))
            }
            Err(CloudError::Forbidden { owner, .. }) => Ok(DnsOutcome::Waiting {
                reason: format!(
                    "waiting for account {owner}, the owner of hosted zone {zone_id}, to \
                     authorize its association with the cluster's VPC {}",
                    net.vpc_id
                ),
                steps: vec![authorize_step(&owner, zone_id, vpc_id)],
            }),
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn gone_ok(r: Result<(), ProviderError>) -> Result<(), ProviderError> {
    match r {
        Err(ProviderError::NotFound(_)) => Ok(()),
        other => other,
    }
}

#[async_trait::async_trait]
impl DnsResolutions for LocalProvider {
    async fn ensure_dns(
        &self,
        net: &ClusterNetwork,
        resolution_id: &ResourceId,
        plan: &DnsPlan,
    ) -> Result<DnsOutcome, ProviderError> {
        match plan {
            DnsPlan::Forward { domain, targets } => {
                self.forward(net, resolution_id, domain.as_str(), targets)
                    .await
            }
            DnsPlan::Zone {
                domain,
                record_sets,
            } => self.zone(net, domain.as_str(), record_sets).await,
            DnsPlan::SharedRule { rule_id } => self.shared_rule(net, rule_id).await,
            DnsPlan::HostedZone { zone_id, domain } => {
                self.hosted_zone(net, zone_id, domain.as_str()).await
            }
        }
    }

    async fn remove_dns(
        &self,
        net: &ClusterNetwork,
        resolution_id: &ResourceId,
        plan: &DnsPlan,
    ) -> Result<(), ProviderError> {
        let e = self.engine();
        let p = self.p();
        let vpc_id = net.vpc_id.as_str();
        match plan {
            DnsPlan::Forward { .. } => {
                if let Some(rule) = self.find_rule(&rule_name(resolution_id)).await? {
                    gone_ok(
                        e.disassociate_resolver_rule(p, &rule, vpc_id)
                            .await
                            .map(|_| ())
                            .map_err(unavailable),
                    )?;
                    gone_ok(e.delete_resolver_rule(p, &rule).await.map_err(unavailable))?;
                }
            }
            DnsPlan::Zone { domain, .. } => {
                if let Some(zone) = self.find_zone(net, domain.as_str()).await? {
                    gone_ok(e.delete_hosted_zone(p, &zone).await.map_err(unavailable))?;
                }
            }
            DnsPlan::SharedRule { rule_id } => {
                match e
                    .disassociate_resolver_rule(p, rule_id.as_str(), vpc_id)
                    .await
                {
                    Ok(_) | Err(CloudError::NotFound { .. } | CloudError::Forbidden { .. }) => {}
                    Err(e) => return Err(unavailable(e)),
                }
            }
            DnsPlan::HostedZone { zone_id, .. } => {
                match e.disassociate_zone(p, zone_id.as_str(), vpc_id).await {
                    Ok(_) | Err(CloudError::NotFound { .. }) => {}
                    Err(e) => return Err(unavailable(e)),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorize_step_is_a_cli_command_as_the_zone_owner() {
        assert_eq!(
            authorize_step("222222222222", "hz-0123abcd", "vpc-89abcdef"),
            "linkplane cloud --as arn:aws:iam::222222222222:root zone authorize hz-0123abcd --vpc vpc-89abcdef"
        );
    }

    #[test]
    fn share_step_is_a_cli_command_as_the_rule_owner() {
        assert_eq!(
            share_step("222222222222", "rslvr-rr-0123abcd", "100000000000"),
            "linkplane cloud --as arn:aws:iam::222222222222:root rule share rslvr-rr-0123abcd --account 100000000000"
        );
    }

    #[test]
    fn domains_compare_without_case_or_trailing_dot() {
        assert!(same_domain("corp.example.com.", "Corp.Example.com"));
        assert!(!same_domain("corp.example.com", "example.com"));
    }
}
