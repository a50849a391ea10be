//! The DNS resolution controller (document 002's "hostname resolution" options and the
//! private hosted zone of "DNS considerations for VPC peering"): a `DnsResolution` becomes
//! a rule or zone the cluster's VPC resolver uses, through the cluster's provider.
//!
//! - `PENDING` while the cluster's network is not there yet, or while the customer still
//!   has to do something (authorize the association of their private hosted zone): the
//!   status then carries `instructions`, the exact commands;
//! - `AVAILABLE` once the cluster's VPC resolves through it;
//! - `FAILED` when it cannot work as given (a zone for another domain, a zone or rule that
//!   does not exist); retried at every resync, so fixing it on the customer's side is enough.
//!
//! Deleting the resolution takes the rule or zone out of the cluster's VPC (and deletes what
//! the platform created for it) before the resource goes.

use linkplane_model::{
    DnsRecord, DnsResolutionKind, DnsResolutionObserved, DnsResolutionSpec, ProvisioningStatus,
    ResourceId, ResourceKind,
};
use linkplane_provider::{
    Capability, ClusterNetworks, DnsOutcome, DnsPlan, DnsResolutions, Provider, ProviderError,
    RecordSet, capability,
};
use linkplane_reconciler::{Action, Reconcile};
use linkplane_store::Document;

use crate::context::{ChildPass, Context, ControllerError, Result};
use crate::finalizer::{delete_child, finalizer};

/// The resource part of the finalizer a resolution holds while the cluster's VPC may use
/// it (`linkplane.dev/<provider>-dns`).
pub const FINALIZER: &str = "dns";

pub struct DnsController {
    pub ctx: Context,
}

/// A record's fully qualified name: `@` is the zone apex, other names are relative.
fn fqdn(record: &DnsRecord, domain: &str) -> String {
    if record.name == "@" {
        domain.to_owned()
    } else {
        format!("{}.{domain}", record.name)
    }
}

/// The record sets of a private zone: records of one name and type share a set (the
/// smallest TTL among them wins, as one set has one TTL).
pub fn record_sets(spec: &DnsResolutionSpec) -> Vec<RecordSet> {
    let domain = spec.domain.as_str();
    let mut sets: Vec<RecordSet> = Vec::new();
    for r in &spec.records {
        let name = fqdn(r, domain);
        match sets
            .iter_mut()
            .find(|s| s.name == name && s.record_type == r.record_type)
        {
            Some(set) => {
                set.ttl = set.ttl.min(r.ttl);
                if !set.values.contains(&r.value) {
                    set.values.push(r.value.clone());
                }
            }
            None => sets.push(RecordSet {
                name,
                record_type: r.record_type,
                ttl: r.ttl,
                values: vec![r.value.clone()],
            }),
        }
    }
    sets
}

/// What a resolution asks of the provider, or why it cannot ask anything.
pub fn plan(spec: &DnsResolutionSpec) -> std::result::Result<DnsPlan, String> {
    let domain = spec.domain.clone();
    match spec.kind {
        DnsResolutionKind::Forwarding => Ok(DnsPlan::Forward {
            domain,
            targets: spec
                .targets
                .iter()
                .map(|t| std::net::SocketAddr::new(t.ip, t.port))
                .collect(),
        }),
        DnsResolutionKind::PrivateZone => Ok(DnsPlan::Zone {
            record_sets: record_sets(spec),
            domain,
        }),
        DnsResolutionKind::ResolverRule => spec
            .resolver_rule_id
            .as_ref()
            .map(|r| DnsPlan::SharedRule { rule_id: r.clone() })
            .ok_or_else(|| "a RESOLVER_RULE resolution needs resolverRuleId".to_owned()),
        DnsResolutionKind::HostedZoneAssociation => spec
            .hosted_zone_id
            .as_ref()
            .map(|z| DnsPlan::HostedZone {
                zone_id: z.clone(),
                domain,
            })
            .ok_or_else(|| "a HOSTED_ZONE_ASSOCIATION resolution needs hostedZoneId".to_owned()),
    }
}

impl DnsController {
    async fn record(&self, doc: &Document, obs: DnsResolutionObserved) -> Result<()> {
        self.ctx
            .write_status(doc, &serde_json::to_value(&obs)?)
            .await
    }

    async fn pending(&self, doc: &Document, reason: String, steps: Vec<String>) -> Result<Action> {
        let prev: DnsResolutionObserved = doc.status_as()?;
        self.record(
            doc,
            DnsResolutionObserved {
                status: ProvisioningStatus::Pending,
                status_reason: Some(reason),
                cloud_resource_id: prev.cloud_resource_id,
                instructions: steps,
            },
        )
        .await?;
        Ok(Action::RequeueAfter(self.ctx.config.poll_interval))
    }

    async fn failed(&self, doc: &Document, reason: String) -> Result<Action> {
        tracing::info!(dns = %doc.id, %reason, "DNS resolution FAILED");
        self.record(
            doc,
            DnsResolutionObserved {
                status: ProvisioningStatus::Failed,
                status_reason: Some(reason),
                cloud_resource_id: None,
                instructions: Vec::new(),
            },
        )
        .await?;
        // Level-triggered: the resync looks again (the customer may fix their side).
        Ok(Action::Done)
    }

    async fn cleanup(
        &self,
        doc: &Document,
        cluster: Option<&Document>,
        networks: &dyn ClusterNetworks,
        dns: &dyn DnsResolutions,
    ) -> Result<()> {
        if let Some(cluster) = cluster
            && let Ok(plan) = plan(&doc.spec_as()?)
            && let Some(net) = networks.find_cluster(&cluster.id).await?
        {
            dns.remove_dns(&net, &doc.id, &plan).await?;
            tracing::info!(dns = %doc.id, "DNS resolution removed from the cluster's VPC");
        }
        Ok(())
    }

    fn capabilities(
        provider: &dyn Provider,
    ) -> std::result::Result<(&dyn ClusterNetworks, &dyn DnsResolutions), ProviderError> {
        Ok((
            capability(
                provider,
                Capability::ClusterNetwork,
                provider.cluster_networks(),
            )?,
            capability(provider, Capability::Dns, provider.dns())?,
        ))
    }

    async fn apply(
        &self,
        doc: &Document,
        cluster: &Document,
        plan: &DnsPlan,
        networks: &dyn ClusterNetworks,
        dns: &dyn DnsResolutions,
    ) -> Result<Action> {
        let net = match self.ctx.cluster_network(networks, cluster).await? {
            Ok(n) => n,
            Err(reason) => return self.pending(doc, reason, Vec::new()).await,
        };
        match dns.ensure_dns(&net, &doc.id, plan).await {
            Ok(DnsOutcome::Ready { object }) => {
                let prev: DnsResolutionObserved = doc.status_as()?;
                if prev.status != ProvisioningStatus::Available {
                    tracing::info!(dns = %doc.id, cloud_id = %object, vpc = %net.vpc_id, "DNS resolution AVAILABLE");
                }
                self.record(
                    doc,
                    DnsResolutionObserved {
                        status: ProvisioningStatus::Available,
                        status_reason: None,
                        cloud_resource_id: Some(object.to_string()),
                        instructions: Vec::new(),
                    },
                )
                .await?;
                Ok(Action::Done)
            }
            Ok(DnsOutcome::Waiting { reason, steps }) => self.pending(doc, reason, steps).await,
            Err(e) if !e.is_transient() => self.failed(doc, e.to_string()).await,
            Err(e) => Err(e.into()),
        }
    }
}

impl Reconcile for DnsController {
    type Key = ResourceId;
    type Error = ControllerError;

    async fn list(&self) -> Result<Vec<ResourceId>> {
        self.ctx.child_ids(ResourceKind::DnsResolution).await
    }

    async fn reconcile(&self, id: ResourceId) -> Result<Action> {
        let (doc, cluster, provider) = match self.ctx.child_pass(&id).await? {
            ChildPass::Gone => return Ok(Action::Done),
            ChildPass::Deleting {
                doc,
                cluster,
                provider,
            } => {
                let (d, c) = (&doc, cluster.as_ref());
                return delete_child(&self.ctx, &doc, provider, FINALIZER, move |p| async move {
                    match Self::capabilities(p.as_ref()) {
                        Ok((networks, dns)) => self.cleanup(d, c, networks, dns).await,
                        Err(_) => Ok(()),
                    }
                })
                .await;
            }
            // Nothing changes for it until a start with the provider (or a client's write,
            // which the change feed brings): no requeue.
            ChildPass::NoProvider { doc, reason } => {
                self.pending(&doc, reason.to_string(), Vec::new()).await?;
                return Ok(Action::Done);
            }
            ChildPass::Ready {
                doc,
                cluster,
                provider,
            } => (doc, cluster, provider),
        };
        let (networks, dns) = match Self::capabilities(provider.as_ref()) {
            Ok(c) => c,
            Err(e) => return self.failed(&doc, e.to_string()).await,
        };
        let spec: DnsResolutionSpec = doc.spec_as()?;
        let plan = match plan(&spec) {
            Ok(p) => p,
            Err(reason) => return self.failed(&doc, reason).await,
        };
        finalizer(&self.ctx, &doc, &provider.finalizer(FINALIZER), |_| {
            self.apply(&doc, &cluster, &plan, networks, dns)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkplane_model::{CreateDnsResolutionRequest, DnsRecordRequest, RecordType};

    fn zone(records: &[(&str, RecordType, &str, Option<u32>)]) -> DnsResolutionSpec {
        CreateDnsResolutionRequest {
            name: "db".into(),
            kind: DnsResolutionKind::PrivateZone,
            domain: "corp.example.com".into(),
            targets: vec![],
            records: records
                .iter()
                .map(|(n, t, v, ttl)| DnsRecordRequest {
                    name: (*n).into(),
                    record_type: *t,
                    value: (*v).into(),
                    ttl: *ttl,
                })
                .collect(),
            resolver_rule_id: None,
            hosted_zone_id: None,
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn records_of_one_name_and_type_share_a_set() {
        let spec = zone(&[
            ("db", RecordType::A, "10.1.1.1", Some(60)),
            ("db", RecordType::A, "10.1.1.2", Some(30)),
            ("@", RecordType::A, "10.1.1.3", None),
            ("www", RecordType::CNAME, "db.corp.example.com", None),
        ]);
        let set = |name: &str, record_type, ttl, values: &[&str]| RecordSet {
            name: name.to_owned(),
            record_type,
            ttl,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        };
        assert_eq!(
            record_sets(&spec),
            [
                set(
                    "db.corp.example.com",
                    RecordType::A,
                    30,
                    &["10.1.1.1", "10.1.1.2"]
                ),
                set("corp.example.com", RecordType::A, 300, &["10.1.1.3"]),
                set(
                    "www.corp.example.com",
                    RecordType::CNAME,
                    300,
                    &["db.corp.example.com"]
                ),
            ]
        );
    }

    #[test]
    fn every_kind_has_a_plan() {
        let mut s = zone(&[("db", RecordType::A, "10.1.1.1", None)]);
        assert!(matches!(plan(&s), Ok(DnsPlan::Zone { .. })));
        s.kind = DnsResolutionKind::HostedZoneAssociation;
        assert!(plan(&s).is_err());
        s.hosted_zone_id = Some(linkplane_model::HostedZoneId::parse("hz-0123abcd").unwrap());
        assert_eq!(
            plan(&s),
            Ok(DnsPlan::HostedZone {
                zone_id: linkplane_model::HostedZoneId::parse("hz-0123abcd").unwrap(),
                domain: linkplane_model::DomainName::parse("corp.example.com").unwrap()
            })
        );
        s.kind = DnsResolutionKind::Forwarding;
        s.targets = vec![linkplane_model::ForwardTarget::parse("10.2.0.53:5353").unwrap()];
        assert_eq!(
            plan(&s),
            Ok(DnsPlan::Forward {
                domain: linkplane_model::DomainName::parse("corp.example.com").unwrap(),
                targets: vec!["10.2.0.53:5353".parse().unwrap()]
            })
        );
    }
}
