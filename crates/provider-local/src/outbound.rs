//! Outbound endpoints of a cluster (documents 002 and 003): interface endpoints from the
//! cluster VPC's private subnets to an endpoint service, and the optional Route 53 alias
//! (`dnsName`) as a private hosted zone of the cluster VPC.
//!
//! Custom endpoints go to a customer's endpoint service in another account. Document 002:
//! "add arn:aws:iam::<AWS account ID>:role/astronomer-remote-management into a list of the
//! Allowed principals"; here that principal is [`remote_management_principal`], and every
//! outbound endpoint is created as it, so a service that allows only that role (not the
//! platform's whole account) admits it. Objects are found again by what they are (the
//! cluster VPC's live endpoint to the service, the zone of that name on the cluster VPC),
//! so a restart re-adopts instead of duplicating.

use std::net::Ipv4Addr;

use linkplane_localcloud::types::{
    CreateEndpoint, CreateHostedZone, CreateSecurityGroup, CreateSecurityGroupRule, Endpoint,
    RecordSet, ServiceDescription,
};
use linkplane_localcloud::{AWS_INTERFACE_SERVICES, Error as CloudError, Principal};
use linkplane_model::{OutboundEndpointType, VpcEndpointId};
use linkplane_provider::*;

use crate::{LocalProvider, PLATFORM_ACCOUNT, map_err, parsed};

/// The role the platform acts as for outbound endpoints (document 002's
/// `astronomer-remote-management`, in linkplane's name).
pub const REMOTE_MANAGEMENT_ROLE: &str = "linkplane-remote-management";

/// The security group on every outbound endpoint of a cluster: TCP from the cluster VPC.
const ENDPOINT_SG: &str = "linkplane-outbound-endpoints";

/// The principal a customer adds to their endpoint service's allowed principals:
/// `arn:aws:iam::<cluster account>:role/linkplane-remote-management`.
pub fn remote_management_principal() -> String {
    format!("arn:aws:iam::{PLATFORM_ACCOUNT}:role/{REMOTE_MANAGEMENT_ROLE}")
}

fn role() -> Principal {
    Principal::parse(&remote_management_principal())
        .unwrap_or_else(|_| unreachable!("the remote management role is a valid ARN"))
}

/// The service owner's command that allows the platform's role on their service.
pub fn allow_step(owner: &str, service_id: &str) -> String {
    format!(
        "linkplane cloud --as arn:aws:iam::{owner}:root service permissions {service_id} --add {}",
        remote_management_principal()
    )
}

/// The service owner's command that accepts the cluster's endpoint.
pub fn accept_step(owner: &str, service_id: &str, endpoint_id: &str) -> String {
    format!(
        "linkplane cloud --as arn:aws:iam::{owner}:root service accept {service_id} {endpoint_id}"
    )
}

/// `com.amazonaws.vpce.<region>.vpce-svc-…` and localcloud's `com.linkplane.vpce.…` name the
/// same service: compare by region and service id.
fn same_service(a: &str, b: &str) -> bool {
    let tail = |s: &str| {
        s.strip_prefix("com.amazonaws.vpce.")
            .or_else(|| s.strip_prefix("com.linkplane.vpce."))
            .map(str::to_owned)
            .unwrap_or_else(|| s.to_owned())
    };
    tail(a) == tail(b)
}

fn is_live(e: &Endpoint) -> bool {
    matches!(e.state.as_str(), "pendingAcceptance" | "available")
}

fn service_id_of(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

impl LocalProvider {
    /// The cluster VPC's endpoints to `service`, newest last.
    async fn endpoints_to(
        &self,
        net: &ClusterNetwork,
        service: &str,
    ) -> Result<Vec<Endpoint>, ProviderError> {
        Ok(self
            .engine()
            .list_endpoints(&role())
            .await
            .map_err(map_err)?
            .into_iter()
            .filter(|e| e.vpc_id == net.vpc_id.as_str() && same_service(&e.service_name, service))
            .collect())
    }

    /// The service as the platform's role may see it, or why it cannot be used (in words,
    /// with the owner's command when the role is not allowed).
    async fn describe_custom(&self, service: &str) -> Result<ServiceDescription, ProviderError> {
        match self
            .engine()
            .describe_service_by_name(&role(), service)
            .await
        {
            Ok(d) => Ok(d),
            Err(CloudError::NotFound { .. }) => Err(ProviderError::Refused(format!(
                "endpoint service {service} does not exist; check the service name its owner sent (the owner sees it with: linkplane cloud service list)"
            ))),
            Err(CloudError::Forbidden { owner, .. }) => Err(ProviderError::Refused(format!(
                "{} is not an allowed principal of endpoint service {service}; its owner must add it: {}",
                remote_management_principal(),
                allow_step(&owner, service_id_of(service)),
            ))),
            Err(e) => Err(map_err(e)),
        }
    }

    /// The cluster's endpoint security group (TCP from the cluster VPC), created once.
    async fn ensure_endpoint_sg(&self, net: &ClusterNetwork) -> Result<String, ProviderError> {
        let p = role();
        let _g = self.outbound_lock.lock().await;
        let groups = self
            .engine()
            .list_security_groups(&p, Some(net.vpc_id.as_str()))
            .await
            .map_err(map_err)?;
        let cidr = net.cidr.to_string();
        let found = groups.into_iter().find(|g| g.group_name == ENDPOINT_SG);
        if let Some(g) = &found
            && g.rules
                .iter()
                .any(|r| r.direction == "ingress" && r.cidr_ip.as_deref() == Some(cidr.as_str()))
        {
            return Ok(g.group_id.clone());
        }
        let id = match found {
            Some(g) => g.group_id,
            None => {
                self.engine()
                    .create_security_group(
                        &p,
                        CreateSecurityGroup {
                            vpc_id: net.vpc_id.to_string(),
                            group_name: ENDPOINT_SG.to_owned(),
                            description: "linkplane outbound endpoints: TCP from the cluster VPC"
                                .into(),
                        },
                    )
                    .await
                    .map_err(map_err)?
                    .group_id
            }
        };
        let rule = CreateSecurityGroupRule {
            direction: "ingress".into(),
            ip_protocol: "tcp".into(),
            from_port: Some(1),
            to_port: Some(65535),
            cidr_ip: Some(cidr),
            source_security_group_id: None,
        };
        match self.engine().add_security_group_rule(&p, &id, rule).await {
            Ok(_) | Err(CloudError::Conflict(_)) => Ok(id),
            Err(e) => Err(map_err(e)),
        }
    }

    /// The live endpoint from the cluster's private subnets to `service` (created once).
    async fn ensure_interface(
        &self,
        net: &ClusterNetwork,
        service: &str,
        desc: &ServiceDescription,
        private_dns: bool,
    ) -> Result<Endpoint, ProviderError> {
        let existing = self.endpoints_to(net, service).await?;
        if let Some(e) = existing.iter().rev().find(|e| is_live(e)) {
            return Ok(e.clone());
        }
        if let Some(e) = existing.last()
            && e.state == "rejected"
        {
            return Ok(e.clone());
        }
        let subnets: Vec<String> = net
            .subnets
            .iter()
            .filter(|s| !s.public && desc.availability_zones.contains(&s.availability_zone))
            .map(|s| s.id.to_string())
            .collect();
        if subnets.is_empty() {
            let azs: Vec<&str> = net
                .subnets
                .iter()
                .filter(|s| !s.public)
                .map(|s| s.availability_zone.as_str())
                .collect();
            return Err(ProviderError::Refused(format!(
                "endpoint service {service} is in availability zones {}, and the cluster's private subnets are in {}: its owner must add a load balancer subnet in one of the cluster's zones",
                desc.availability_zones.join(", "),
                azs.join(", ")
            )));
        }
        let sg = self.ensure_endpoint_sg(net).await?;
        self.engine()
            .create_endpoint(
                &role(),
                CreateEndpoint {
                    vpc_id: net.vpc_id.to_string(),
                    service_name: service.to_owned(),
                    subnet_ids: subnets,
                    security_group_ids: vec![sg],
                    private_dns_enabled: Some(private_dns && desc.private_dns_name.is_some()),
                },
            )
            .await
            .map_err(map_err)
    }

    /// The private hosted zone `name` on the cluster VPC, answering the endpoint's IPs.
    async fn ensure_alias(
        &self,
        net: &ClusterNetwork,
        name: &str,
        ips: &[Ipv4Addr],
    ) -> Result<(), ProviderError> {
        let p = self.principal();
        let zone = match self.alias_zone(net, name).await? {
            Some(z) => z,
            None => {
                self.engine()
                    .create_hosted_zone(
                        p,
                        CreateHostedZone {
                            name: name.to_owned(),
                            vpc_ids: vec![net.vpc_id.to_string()],
                        },
                    )
                    .await
                    .map_err(map_err)?
                    .hosted_zone_id
            }
        };
        let mut values: Vec<String> = ips.iter().map(Ipv4Addr::to_string).collect();
        values.sort();
        self.engine()
            .upsert_record_set(
                p,
                &zone,
                RecordSet {
                    name: name.to_owned(),
                    kind: "A".into(),
                    ttl: 60,
                    values,
                },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn alias_zone(
        &self,
        net: &ClusterNetwork,
        name: &str,
    ) -> Result<Option<String>, ProviderError> {
        let want = name.trim_end_matches('.').to_ascii_lowercase();
        Ok(self
            .engine()
            .list_hosted_zones(self.principal())
            .await
            .map_err(map_err)?
            .into_iter()
            .find(|z| {
                z.name.trim_end_matches('.') == want
                    && z.vpc_ids.iter().any(|v| v == net.vpc_id.as_str())
            })
            .map(|z| z.hosted_zone_id))
    }

    async fn ensure_custom(
        &self,
        net: &ClusterNetwork,
        req: &OutboundEndpointRequest,
    ) -> Result<OutboundEndpointObservation, ProviderError> {
        let service = req.service_name.as_str();
        let desc = self.describe_custom(service).await?;
        let e = self
            .ensure_interface(net, service, &desc, req.private_dns_enabled)
            .await?;
        observe(self, net, req, &desc, e).await
    }
}

async fn observe(
    provider: &LocalProvider,
    net: &ClusterNetwork,
    req: &OutboundEndpointRequest,
    desc: &ServiceDescription,
    e: Endpoint,
) -> Result<OutboundEndpointObservation, ProviderError> {
    let id = parsed("VPC endpoint id", VpcEndpointId::parse(&e.vpc_endpoint_id))?;
    let private_ips: Vec<Ipv4Addr> = e
        .network_interfaces
        .iter()
        .filter_map(|n| n.private_ip_address.parse().ok())
        .collect();
    let mut dns_names: Vec<String> = e.dns_entries.iter().map(|d| d.dns_name.clone()).collect();
    let state = match e.state.as_str() {
        "pendingAcceptance" => OutboundEndpointState::PendingAcceptance {
            steps: vec![accept_step(
                &desc.owner_id,
                &desc.service_id,
                &e.vpc_endpoint_id,
            )],
        },
        "available" => OutboundEndpointState::Available,
        "rejected" => OutboundEndpointState::Rejected(format!(
            "the owner of endpoint service {} rejected endpoint {}; delete this endpoint and ask the owner before requesting it again",
            req.service_name, e.vpc_endpoint_id
        )),
        other => {
            OutboundEndpointState::Failed(format!("endpoint {} is {other}", e.vpc_endpoint_id))
        }
    };
    if let Some(alias) = &req.dns_name
        && is_live(&e)
    {
        provider
            .ensure_alias(net, alias.as_str(), &private_ips)
            .await?;
        dns_names.push(alias.as_str().to_owned());
    }
    Ok(OutboundEndpointObservation {
        id,
        state,
        private_ips,
        dns_names,
    })
}

impl LocalProvider {
    /// Cluster teardown: every endpoint left in the VPC (the preconfigured ones go with
    /// their cluster; a custom one's alias zone went with its own deletion, which the
    /// cluster's deletion waits for), so the VPC can be deleted.
    pub(crate) async fn delete_vpc_endpoints(&self, vpc_id: &str) -> Result<(), ProviderError> {
        for e in self
            .engine()
            .list_endpoints(&role())
            .await
            .map_err(map_err)?
        {
            if e.vpc_id != vpc_id || e.state == "deleted" {
                continue;
            }
            match self
                .engine()
                .delete_endpoint(&role(), &e.vpc_endpoint_id)
                .await
            {
                Ok(_) | Err(CloudError::NotFound { .. }) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        Ok(())
    }

    /// A preconfigured AWS service endpoint: localcloud's stand-in for the service in the
    /// cluster's region (created on first use), an interface endpoint with private DNS to it.
    async fn ensure_aws_service(
        &self,
        net: &ClusterNetwork,
        req: &OutboundEndpointRequest,
    ) -> Result<OutboundEndpointObservation, ProviderError> {
        let service = req.service_name.as_str();
        if req.endpoint_type == OutboundEndpointType::Gateway {
            return Err(ProviderError::Refused(format!(
                "{service} is a gateway endpoint (prefix-list routes in the cluster's route tables), which the local provider does not implement yet"
            )));
        }
        let region = service
            .strip_prefix("com.amazonaws.")
            .and_then(|r| r.split_once('.'))
            .map(|(r, _)| r.to_owned())
            .unwrap_or_default();
        if !AWS_INTERFACE_SERVICES
            .iter()
            .any(|(n, _, _)| format!("com.amazonaws.{region}.{n}") == service)
        {
            let known: Vec<String> = AWS_INTERFACE_SERVICES
                .iter()
                .map(|(n, _, _)| format!("com.amazonaws.{region}.{n}"))
                .collect();
            return Err(ProviderError::Refused(format!(
                "localcloud does not provide the AWS service {service}; it provides {}",
                known.join(", ")
            )));
        }
        self.engine()
            .ensure_aws_services(&region)
            .await
            .map_err(map_err)?;
        let desc = self
            .engine()
            .describe_service_by_name(&role(), service)
            .await
            .map_err(map_err)?;
        let e = self
            .ensure_interface(net, service, &desc, req.private_dns_enabled)
            .await?;
        observe(self, net, req, &desc, e).await
    }
}

#[async_trait::async_trait]
impl OutboundEndpoints for LocalProvider {
    async fn ensure_outbound_endpoint(
        &self,
        net: &ClusterNetwork,
        req: &OutboundEndpointRequest,
    ) -> Result<OutboundEndpointObservation, ProviderError> {
        if req.service_name.is_custom() {
            self.ensure_custom(net, req).await
        } else {
            self.ensure_aws_service(net, req).await
        }
    }

    async fn delete_outbound_endpoint(
        &self,
        net: &ClusterNetwork,
        req: &OutboundEndpointRequest,
    ) -> Result<(), ProviderError> {
        for e in self.endpoints_to(net, req.service_name.as_str()).await? {
            if e.state == "deleted" {
                continue;
            }
            match self
                .engine()
                .delete_endpoint(&role(), &e.vpc_endpoint_id)
                .await
            {
                Ok(_) | Err(CloudError::NotFound { .. }) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        if let Some(alias) = &req.dns_name
            && let Some(zone) = self.alias_zone(net, alias.as_str()).await?
        {
            match self
                .engine()
                .delete_hosted_zone(self.principal(), &zone)
                .await
            {
                Ok(()) | Err(CloudError::NotFound { .. }) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_principal_to_allow_is_the_remote_management_role() {
        // Document 002: "add arn:aws:iam::<AWS account ID>:role/astronomer-remote-management
        // into a list of the Allowed principals".
        assert_eq!(
            remote_management_principal(),
            "arn:aws:iam::100000000000:role/linkplane-remote-management"
        );
        assert!(Principal::parse(&remote_management_principal()).is_ok());
    }

    #[test]
    fn steps_are_cli_commands_as_the_service_owner() {
        assert_eq!(
            accept_step("111111111111", "vpce-svc-0a1b2c3d", "vpce-1a2b3c4d"),
            "linkplane cloud --as arn:aws:iam::111111111111:root service accept vpce-svc-0a1b2c3d vpce-1a2b3c4d"
        );
        assert!(
            allow_step("111111111111", "vpce-svc-0a1b2c3d").ends_with(
                "service permissions vpce-svc-0a1b2c3d --add arn:aws:iam::100000000000:role/linkplane-remote-management"
            )
        );
    }

    #[test]
    fn aws_and_local_spellings_name_one_service() {
        assert!(same_service(
            "com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d",
            "com.linkplane.vpce.us-east-1.vpce-svc-0a1b2c3d"
        ));
        assert!(!same_service(
            "com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d",
            "com.linkplane.vpce.us-west-2.vpce-svc-0a1b2c3d"
        ));
    }
}
