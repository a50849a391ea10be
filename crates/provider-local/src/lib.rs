//! The `local` provider: clusters built in localcloud, as the platform's own account.
//!
//! Every call is made as [`PLATFORM_PRINCIPAL`] (account [`PLATFORM_ACCOUNT`]), which is not
//! localcloud's default customer account (`000000000001`). Objects are found again by name
//! (VPC `linkplane/<clusterId>`, subnets `linkplane/<clusterId>/<role>`) or by what they are
//! attached to (the VPC's internet gateway, the NAT gateway of a public subnet, the peering
//! between the cluster VPC and the peer VPC), so a restart re-adopts instead of duplicating.

use std::net::Ipv4Addr;
use std::sync::Arc;

use linkplane_localcloud::types::{
    CreateInternetGateway, CreateNatGateway, CreatePeering, CreateRoute, CreateSubnet, CreateVpc,
    PeeringConnection, Subnet,
};
use linkplane_localcloud::{Engine, Error as CloudError, Principal};
use linkplane_model::{AccountId, Cidr, ResourceId, VpcId};

use crate::layout::{plan_subnets, subnet_name, vpc_name};
use crate::provider::*;

/// The platform's localcloud account (documented in docs/CONTROLLERS.md).
pub const PLATFORM_ACCOUNT: &str = "100000000000";
/// The principal the `local` provider acts as.
pub const PLATFORM_PRINCIPAL: &str = "arn:aws:iam::100000000000:root";

/// Clusters on localcloud.
pub struct LocalProvider {
    engine: Arc<Engine>,
    principal: Principal,
    /// Serializes "find a free elastic IP or allocate one, then create the NAT gateway", so
    /// two clusters never pick the same unattached elastic IP.
    nat_lock: tokio::sync::Mutex<()>,
    /// Ingress gateways (absent: clusters get no gateway, e.g. provider-only tests).
    pub(crate) ingress: Option<crate::gateway::Ingress>,
}

impl std::fmt::Debug for LocalProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalProvider")
            .field("principal", &self.principal.arn())
            .finish()
    }
}

fn map_err(e: CloudError) -> ProviderError {
    match e {
        CloudError::Invalid { .. } | CloudError::Forbidden { .. } => {
            ProviderError::Refused(e.to_string())
        }
        CloudError::NotFound { .. } => ProviderError::NotFound(e.to_string()),
        _ => ProviderError::Unavailable(e.to_string()),
    }
}

fn is_live(p: &PeeringConnection) -> bool {
    matches!(
        p.status.code.as_str(),
        "initiating-request" | "pending-acceptance" | "active"
    )
}

fn observation(p: PeeringConnection) -> PeeringObservation {
    let state = match p.status.code.as_str() {
        "initiating-request" | "pending-acceptance" => PeeringState::PendingAcceptance,
        "active" => PeeringState::Active,
        "rejected" => PeeringState::Rejected(p.status.message.clone()),
        "failed" => PeeringState::Failed(p.status.message.clone()),
        _ => PeeringState::Deleted(p.status.message.clone()),
    };
    PeeringObservation {
        id: p.vpc_peering_connection_id,
        state,
    }
}

/// The principal the `local` provider acts as, parsed.
pub fn platform_principal() -> Principal {
    Principal::parse(PLATFORM_PRINCIPAL)
        .unwrap_or_else(|_| unreachable!("the platform principal is a valid ARN"))
}

impl LocalProvider {
    pub fn new(engine: Arc<Engine>) -> Self {
        let principal = platform_principal();
        Self {
            engine,
            principal,
            nat_lock: tokio::sync::Mutex::new(()),
            ingress: None,
        }
    }

    /// A provider that also builds and runs each cluster's ingress gateway.
    pub fn with_ingress(engine: Arc<Engine>, setup: crate::gateway::IngressSetup) -> Self {
        let mut p = Self::new(engine);
        p.ingress = Some(crate::gateway::Ingress::new(setup));
        p
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    async fn find_vpc(&self, cluster_id: &ResourceId) -> Result<Option<String>, ProviderError> {
        let name = vpc_name(cluster_id);
        let vpcs = self
            .engine
            .list_vpcs(&self.principal)
            .await
            .map_err(map_err)?;
        Ok(vpcs
            .into_iter()
            .find(|v| v.name.as_deref() == Some(name.as_str()))
            .map(|v| v.vpc_id))
    }

    async fn network_of(
        &self,
        cluster_id: &ResourceId,
        vpc_id: &str,
    ) -> Result<ClusterNetwork, ProviderError> {
        let p = &self.principal;
        let vpc = self.engine.get_vpc(p, vpc_id).await.map_err(map_err)?;
        let cidr = Cidr::parse(&vpc.cidr_block).map_err(ProviderError::Unavailable)?;
        let prefix = format!("{}/", vpc_name(cluster_id));
        let mut subnets: Vec<ClusterSubnet> = self
            .engine
            .list_subnets(p, Some(vpc_id))
            .await
            .map_err(map_err)?
            .into_iter()
            .filter(|s| s.name.as_deref().is_some_and(|n| n.starts_with(&prefix)))
            .map(|s| ClusterSubnet {
                id: s.subnet_id,
                cidr: s.cidr_block,
                availability_zone: s.availability_zone,
                public: s.map_public_ip_on_launch,
            })
            .collect();
        subnets.sort_by(|a, b| {
            (a.public, &a.availability_zone).cmp(&(b.public, &b.availability_zone))
        });
        let mut nats: Vec<(String, String)> = Vec::new();
        for n in self.engine.list_nat_gateways(p).await.map_err(map_err)? {
            if n.vpc_id == vpc_id
                && let Some(s) = subnets.iter().find(|s| s.id == n.subnet_id)
            {
                nats.push((s.availability_zone.clone(), n.public_ip));
            }
        }
        nats.sort();
        let external_ips = nats
            .iter()
            .filter_map(|(_, ip)| ip.parse::<Ipv4Addr>().ok())
            .collect();
        Ok(ClusterNetwork {
            vpc_id: vpc_id.to_owned(),
            cidr,
            subnets,
            external_ips,
        })
    }

    async fn ensure_subnet(
        &self,
        vpc_id: &str,
        existing: &[Subnet],
        name: &str,
        plan: &crate::layout::SubnetPlan,
    ) -> Result<Subnet, ProviderError> {
        if let Some(s) = existing.iter().find(|s| s.name.as_deref() == Some(name)) {
            return Ok(s.clone());
        }
        self.engine
            .create_subnet(
                &self.principal,
                CreateSubnet {
                    vpc_id: vpc_id.to_owned(),
                    cidr_block: plan.cidr.to_string(),
                    availability_zone: plan.availability_zone.clone(),
                    map_public_ip_on_launch: plan.public,
                    name: Some(name.to_owned()),
                },
            )
            .await
            .map_err(map_err)
    }

    async fn ensure_igw(&self, vpc_id: &str) -> Result<String, ProviderError> {
        let p = &self.principal;
        let igws = self
            .engine
            .list_internet_gateways(p)
            .await
            .map_err(map_err)?;
        if let Some(g) = igws.into_iter().find(|g| g.vpc_id == vpc_id) {
            return Ok(g.internet_gateway_id);
        }
        let g = self
            .engine
            .create_internet_gateway(
                p,
                CreateInternetGateway {
                    vpc_id: vpc_id.to_owned(),
                },
            )
            .await
            .map_err(map_err)?;
        Ok(g.internet_gateway_id)
    }

    /// The NAT gateway of a public subnet, created with a free (or new) elastic IP.
    async fn ensure_nat(&self, subnet_id: &str) -> Result<String, ProviderError> {
        let p = &self.principal;
        let _g = self.nat_lock.lock().await;
        let nats = self.engine.list_nat_gateways(p).await.map_err(map_err)?;
        if let Some(n) = nats.into_iter().find(|n| n.subnet_id == subnet_id) {
            return Ok(n.nat_gateway_id);
        }
        // An elastic IP left unattached by an interrupted earlier pass is ours: reuse it.
        let eips = self.engine.list_elastic_ips(p).await.map_err(map_err)?;
        let eip = match eips.into_iter().find(|e| e.nat_gateway_id.is_none()) {
            Some(e) => e,
            None => self.engine.allocate_elastic_ip(p).await.map_err(map_err)?,
        };
        let n = self
            .engine
            .create_nat_gateway(
                p,
                CreateNatGateway {
                    subnet_id: subnet_id.to_owned(),
                    allocation_id: eip.allocation_id,
                },
            )
            .await
            .map_err(map_err)?;
        Ok(n.nat_gateway_id)
    }

    /// `destination → target` in one subnet's route table, replacing another target.
    async fn ensure_subnet_route(
        &self,
        subnet_id: &str,
        destination: &str,
        target: &str,
    ) -> Result<(), ProviderError> {
        let p = &self.principal;
        let routes = self
            .engine
            .list_routes(p, subnet_id)
            .await
            .map_err(map_err)?;
        if let Some(r) = routes
            .iter()
            .find(|r| r.destination_cidr_block == destination)
        {
            if r.target_id == target {
                return Ok(());
            }
            self.engine
                .delete_route(p, subnet_id, destination)
                .await
                .map_err(map_err)?;
        }
        self.engine
            .create_route(
                p,
                subnet_id,
                CreateRoute {
                    destination_cidr_block: destination.to_owned(),
                    target_id: target.to_owned(),
                },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Delete the routes of a subnet that match.
    async fn remove_subnet_routes(
        &self,
        subnet_id: &str,
        keep: impl Fn(&str, &str) -> bool,
    ) -> Result<(), ProviderError> {
        let p = &self.principal;
        let routes = match self.engine.list_routes(p, subnet_id).await {
            Ok(r) => r,
            Err(CloudError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(map_err(e)),
        };
        for r in routes {
            if r.target_id == "local" || keep(&r.destination_cidr_block, &r.target_id) {
                continue;
            }
            match self
                .engine
                .delete_route(p, subnet_id, &r.destination_cidr_block)
                .await
            {
                Ok(()) | Err(CloudError::NotFound { .. }) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        Ok(())
    }

    async fn delete_live_peering(&self, id: &str) -> Result<(), ProviderError> {
        match self.engine.delete_peering(&self.principal, id).await {
            // Already deleted, rejected or failed: nothing live is left.
            Ok(_) | Err(CloudError::NotFound { .. }) | Err(CloudError::Conflict(_)) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }
}

#[async_trait::async_trait]
impl Provider for LocalProvider {
    fn name(&self) -> &'static str {
        "local"
    }

    fn account_id(&self) -> String {
        PLATFORM_ACCOUNT.to_owned()
    }

    async fn ensure_cluster(&self, req: &ClusterRequest) -> Result<ClusterNetwork, ProviderError> {
        let plans = plan_subnets(&req.cidr, &req.region).map_err(ProviderError::Refused)?;
        let p = &self.principal;
        let vpc_id = match self.find_vpc(&req.cluster_id).await? {
            Some(v) => v,
            None => {
                self.engine
                    .create_vpc(
                        p,
                        CreateVpc {
                            cidr_block: req.cidr.to_string(),
                            region: Some(req.region.to_string()),
                            name: Some(vpc_name(&req.cluster_id)),
                        },
                    )
                    .await
                    .map_err(map_err)?
                    .vpc_id
            }
        };
        let existing = self
            .engine
            .list_subnets(p, Some(&vpc_id))
            .await
            .map_err(map_err)?;
        let mut subnets = Vec::new();
        for plan in &plans {
            let name = subnet_name(&req.cluster_id, &plan.role);
            subnets.push((
                plan,
                self.ensure_subnet(&vpc_id, &existing, &name, plan).await?,
            ));
        }
        let igw = self.ensure_igw(&vpc_id).await?;
        for (plan, s) in &subnets {
            if plan.public {
                self.ensure_nat(&s.subnet_id).await?;
                self.ensure_subnet_route(&s.subnet_id, "0.0.0.0/0", &igw)
                    .await?;
            }
        }
        let nats = self.engine.list_nat_gateways(p).await.map_err(map_err)?;
        for (plan, s) in &subnets {
            if plan.public {
                continue;
            }
            // The private subnet leaves through the NAT gateway of its own zone.
            let nat = subnets
                .iter()
                .filter(|(q, _)| q.public && q.availability_zone == plan.availability_zone)
                .find_map(|(_, ps)| nats.iter().find(|n| n.subnet_id == ps.subnet_id))
                .ok_or_else(|| {
                    ProviderError::Unavailable(format!(
                        "no NAT gateway in {} for {}",
                        plan.availability_zone, s.subnet_id
                    ))
                })?;
            self.ensure_subnet_route(&s.subnet_id, "0.0.0.0/0", &nat.nat_gateway_id)
                .await?;
        }
        let net = self.network_of(&req.cluster_id, &vpc_id).await?;
        if let Some(ingress) = &self.ingress {
            self.ensure_gateway(ingress, &req.cluster_id, &net).await?;
        }
        Ok(net)
    }

    async fn ensure_endpoint_service(
        &self,
        req: &EndpointServiceRequest,
    ) -> Result<EndpointServiceInfo, ProviderError> {
        self.put_endpoint_service(req).await
    }

    async fn endpoint_connections(
        &self,
        cluster_id: &ResourceId,
    ) -> Result<Vec<EndpointConnectionInfo>, ProviderError> {
        self.service_connections(cluster_id).await
    }

    async fn decide_endpoints(
        &self,
        cluster_id: &ResourceId,
        endpoint_ids: &[String],
        accept: bool,
    ) -> Result<(), ProviderError> {
        self.decide(cluster_id, endpoint_ids, accept).await
    }

    async fn delete_endpoint_service(&self, cluster_id: &ResourceId) -> Result<(), ProviderError> {
        self.remove_endpoint_service(cluster_id).await
    }

    async fn find_cluster(
        &self,
        cluster_id: &ResourceId,
    ) -> Result<Option<ClusterNetwork>, ProviderError> {
        match self.find_vpc(cluster_id).await? {
            Some(v) => Ok(Some(self.network_of(cluster_id, &v).await?)),
            None => Ok(None),
        }
    }

    async fn delete_cluster(&self, cluster_id: &ResourceId) -> Result<(), ProviderError> {
        let Some(vpc_id) = self.find_vpc(cluster_id).await? else {
            return Ok(());
        };
        let p = &self.principal;
        self.delete_gateway(self.ingress.as_ref(), cluster_id)
            .await?;
        for i in self
            .engine
            .list_instances(p, Some(&vpc_id))
            .await
            .map_err(map_err)?
        {
            match self.engine.delete_instance(p, &i.instance_id).await {
                Ok(()) | Err(CloudError::NotFound { .. }) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        let subnets = self
            .engine
            .list_subnets(p, Some(&vpc_id))
            .await
            .map_err(map_err)?;
        for s in &subnets {
            self.remove_subnet_routes(&s.subnet_id, |_, _| false)
                .await?;
        }
        for pcx in self.engine.list_peerings(p).await.map_err(map_err)? {
            if is_live(&pcx)
                && (pcx.requester_vpc_info.vpc_id == vpc_id
                    || pcx.accepter_vpc_info.vpc_id == vpc_id)
            {
                self.delete_live_peering(&pcx.vpc_peering_connection_id)
                    .await?;
            }
        }
        for n in self.engine.list_nat_gateways(p).await.map_err(map_err)? {
            if n.vpc_id != vpc_id {
                continue;
            }
            match self.engine.delete_nat_gateway(p, &n.nat_gateway_id).await {
                Ok(()) | Err(CloudError::NotFound { .. }) => {}
                Err(e) => return Err(map_err(e)),
            }
            match self.engine.release_elastic_ip(p, &n.allocation_id).await {
                Ok(()) | Err(CloudError::NotFound { .. }) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        match self.engine.delete_vpc(p, &vpc_id).await {
            Ok(()) | Err(CloudError::NotFound { .. }) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn request_peering(
        &self,
        net: &ClusterNetwork,
        req: &PeeringRequest,
    ) -> Result<PeeringObservation, ProviderError> {
        let p = &self.principal;
        if let Some(prev) = &req.previous
            && let Some(o) = self.observe_peering(prev).await?
            && matches!(
                o.state,
                PeeringState::PendingAcceptance | PeeringState::Active
            )
        {
            return Ok(o);
        }
        // A request sent by a pass that was interrupted before it recorded the id.
        let live = self
            .engine
            .list_peerings(p)
            .await
            .map_err(map_err)?
            .into_iter()
            .rev()
            .find(|c| {
                is_live(c)
                    && c.requester_vpc_info.vpc_id == net.vpc_id
                    && c.accepter_vpc_info.vpc_id == req.peer_vpc_id.as_str()
                    && c.accepter_vpc_info.owner_id == req.peer_account_id.as_str()
            });
        if let Some(c) = live {
            return Ok(observation(c));
        }
        let created = self
            .engine
            .create_peering(
                p,
                CreatePeering {
                    vpc_id: net.vpc_id.clone(),
                    peer_vpc_id: req.peer_vpc_id.as_str().to_owned(),
                    peer_owner_id: Some(req.peer_account_id.as_str().to_owned()),
                    peer_region: Some(req.peer_region.to_string()),
                },
            )
            .await
            .map_err(|e| match e {
                // The request cannot be created: the VPC id does not resolve.
                CloudError::NotFound { .. } | CloudError::Invalid { .. } => {
                    ProviderError::NotFound(format!(
                        "VPC {} was not found in account {} region {}: {e}",
                        req.peer_vpc_id, req.peer_account_id, req.peer_region
                    ))
                }
                e => map_err(e),
            })?;
        Ok(observation(created))
    }

    async fn observe_peering(
        &self,
        cloud_id: &str,
    ) -> Result<Option<PeeringObservation>, ProviderError> {
        match self.engine.get_peering(&self.principal, cloud_id).await {
            Ok(c) => Ok(Some(observation(c))),
            Err(CloudError::NotFound { .. }) | Err(CloudError::Invalid { .. }) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn delete_peering(
        &self,
        net: &ClusterNetwork,
        cloud_id: &str,
    ) -> Result<(), ProviderError> {
        for s in &net.subnets {
            self.remove_subnet_routes(&s.id, |_, target| target != cloud_id)
                .await?;
        }
        self.delete_live_peering(cloud_id).await
    }

    async fn ensure_route(
        &self,
        net: &ClusterNetwork,
        destination: &Cidr,
        target: &str,
    ) -> Result<(), ProviderError> {
        for s in &net.subnets {
            self.ensure_subnet_route(&s.id, &destination.to_string(), target)
                .await?;
        }
        Ok(())
    }

    async fn remove_route(
        &self,
        net: &ClusterNetwork,
        destination: &Cidr,
        target: Option<&str>,
    ) -> Result<(), ProviderError> {
        let dest = destination.to_string();
        for s in &net.subnets {
            self.remove_subnet_routes(&s.id, |d, t| d != dest || target.is_some_and(|x| x != t))
                .await?;
        }
        Ok(())
    }

    fn activation_steps(
        &self,
        net: &ClusterNetwork,
        cloud_id: &str,
        peer_account_id: &AccountId,
        peer_vpc_id: &VpcId,
    ) -> Vec<String> {
        activation_steps(&net.cidr, cloud_id, peer_account_id, peer_vpc_id)
    }
}

/// Document 002's "Complete Activation" modal for localcloud: accept the connection as the
/// peer account, route the cluster's CIDR to it from each subnet of the external VPC, and
/// (document 002's "DNS considerations") turn on Accepter DNS Resolution so the cluster
/// resolves the external VPC's public DNS host names to private IPs.
pub fn activation_steps(
    cluster_cidr: &Cidr,
    cloud_id: &str,
    peer_account_id: &AccountId,
    peer_vpc_id: &VpcId,
) -> Vec<String> {
    let who = format!("linkplane cloud --as arn:aws:iam::{peer_account_id}:root");
    vec![
        format!("{who} peering accept {cloud_id}"),
        format!("{who} subnet list --vpc {peer_vpc_id}"),
        format!(
            "{who} route add --subnet <subnet-id> --destination {cluster_cidr} --target {cloud_id}"
        ),
        format!("{who} peering modify-options {cloud_id} --accepter-dns-resolution true"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_steps_are_cli_commands_as_the_peer_account() {
        let steps = activation_steps(
            &Cidr::parse("10.70.0.0/22").unwrap(),
            "pcx-0123abcd",
            &AccountId::parse("222222222222").unwrap(),
            &VpcId::parse("vpc-89abcdef").unwrap(),
        );
        assert_eq!(
            steps,
            [
                "linkplane cloud --as arn:aws:iam::222222222222:root peering accept pcx-0123abcd",
                "linkplane cloud --as arn:aws:iam::222222222222:root subnet list --vpc vpc-89abcdef",
                "linkplane cloud --as arn:aws:iam::222222222222:root route add --subnet <subnet-id> --destination 10.70.0.0/22 --target pcx-0123abcd",
                "linkplane cloud --as arn:aws:iam::222222222222:root peering modify-options pcx-0123abcd --accepter-dns-resolution true",
            ]
        );
    }

    #[test]
    fn the_platform_is_not_the_default_customer_account() {
        let p = Principal::parse(PLATFORM_PRINCIPAL).unwrap();
        assert_eq!(p.account().as_str(), PLATFORM_ACCOUNT);
        assert_ne!(
            p.account(),
            Principal::parse(linkplane_localcloud::DEFAULT_PRINCIPAL)
                .unwrap()
                .account()
        );
    }
}
