//! The `local` provider: clusters built in localcloud, as the platform's own account. The
//! only crate besides the composition root (`linkplane-server`) that knows localcloud.
//!
//! It implements [`ClusterNetworks`] and [`Peerings`] here, [`DnsResolutions`] in `dns.rs`,
//! [`TransitGateways`] in [`tgw`], and [`PrivateLinkServices`] with each cluster's ingress
//! gateway in [`gateway`]. VPN, outbound endpoints and environments it does not implement
//! yet: the controllers record that in words on those resources.
//!
//! Every call is made as [`PLATFORM_PRINCIPAL`] (account [`PLATFORM_ACCOUNT`]), which is not
//! localcloud's default customer account (`000000000001`). Objects are found again by name
//! (VPC `linkplane/<clusterId>`, subnets `linkplane/<clusterId>/<role>`) or by what they are
//! attached to (the VPC's internet gateway, the NAT gateway of a public subnet, the peering
//! between the cluster VPC and the peer VPC), so a restart re-adopts instead of duplicating.

#![forbid(unsafe_code)]

use std::net::Ipv4Addr;
use std::sync::Arc;

use linkplane_localcloud::types::{
    CreateInternetGateway, CreateNatGateway, CreatePeering, CreateRoute, CreateSubnet, CreateVpc,
    PeeringConnection, Subnet,
};
use linkplane_localcloud::{Engine, Error as CloudError, Principal};
use linkplane_model::{
    AccountId, Cidr, CloudProvider, PeeringConnectionId, ProviderKind, ResourceId, SubnetId, VpcId,
};
use linkplane_provider::*;

use crate::layout::{plan_subnets, subnet_name, vpc_name};

mod dns;
pub mod gateway;
pub mod layout;
pub mod tgw;

pub use dns::{authorize_step, rule_name, share_step};
pub use gateway::{GatewaySite, IngressSetup, RouterFactory};

/// The platform's localcloud account (documented in docs/CONTROLLERS.md).
pub const PLATFORM_ACCOUNT: &str = "100000000000";
/// The principal the `local` provider acts as.
pub const PLATFORM_PRINCIPAL: &str = "arn:aws:iam::100000000000:root";

/// Clusters on localcloud.
pub struct LocalProvider {
    engine: Arc<Engine>,
    principal: Principal,
    account: AccountId,
    /// Serializes "find a free elastic IP or allocate one, then create the NAT gateway", so
    /// two clusters never pick the same unattached elastic IP.
    nat_lock: tokio::sync::Mutex<()>,
    /// Ingress gateways (absent: clusters get no gateway, e.g. provider-only tests).
    pub(crate) ingress: Option<gateway::Ingress>,
}

impl std::fmt::Debug for LocalProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalProvider")
            .field("principal", &self.principal.arn())
            .finish()
    }
}

/// A localcloud error as the provider's answer: a refusal is final, a missing object is
/// NOT_FOUND, anything else is retried.
pub(crate) fn map_err(e: CloudError) -> ProviderError {
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

/// A value localcloud returned, in the model's type (localcloud and the model agree on every
/// id and range shape, so a failure here is a defect, retried and logged).
pub(crate) fn parsed<T>(what: &str, r: Result<T, String>) -> Result<T, ProviderError> {
    r.map_err(|e| {
        ProviderError::Unavailable(format!("localcloud returned a malformed {what}: {e}"))
    })
}

fn observation(p: PeeringConnection) -> Result<PeeringObservation, ProviderError> {
    let state = match p.status.code.as_str() {
        "initiating-request" | "pending-acceptance" => PeeringState::PendingAcceptance,
        "active" => PeeringState::Active,
        "rejected" => PeeringState::Rejected(p.status.message.clone()),
        "failed" => PeeringState::Failed(p.status.message.clone()),
        _ => PeeringState::Deleted(p.status.message.clone()),
    };
    Ok(PeeringObservation {
        id: parsed(
            "peering id",
            PeeringConnectionId::parse(&p.vpc_peering_connection_id),
        )?,
        state,
    })
}

/// The principal the `local` provider acts as, parsed.
pub fn platform_principal() -> Principal {
    Principal::parse(PLATFORM_PRINCIPAL)
        .unwrap_or_else(|_| unreachable!("the platform principal is a valid ARN"))
}

impl LocalProvider {
    pub fn new(engine: Arc<Engine>) -> Self {
        let principal = platform_principal();
        let account = AccountId::parse(PLATFORM_ACCOUNT)
            .unwrap_or_else(|_| unreachable!("the platform account is 12 digits"));
        Self {
            engine,
            principal,
            account,
            nat_lock: tokio::sync::Mutex::new(()),
            ingress: None,
        }
    }

    /// A provider that also builds and runs each cluster's ingress gateway.
    pub fn with_ingress(engine: Arc<Engine>, setup: IngressSetup) -> Self {
        let mut p = Self::new(engine);
        p.ingress = Some(gateway::Ingress::new(setup));
        p
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    async fn find_vpc(&self, cluster_id: &ResourceId) -> Result<Option<VpcId>, ProviderError> {
        let name = vpc_name(cluster_id);
        let vpcs = self
            .engine
            .list_vpcs(&self.principal)
            .await
            .map_err(map_err)?;
        vpcs.into_iter()
            .find(|v| v.name.as_deref() == Some(name.as_str()))
            .map(|v| parsed("VPC id", VpcId::parse(&v.vpc_id)))
            .transpose()
    }

    async fn network_of(
        &self,
        cluster_id: &ResourceId,
        vpc_id: &VpcId,
    ) -> Result<ClusterNetwork, ProviderError> {
        let p = &self.principal;
        let vpc = self
            .engine
            .get_vpc(p, vpc_id.as_str())
            .await
            .map_err(map_err)?;
        let cidr = parsed("VPC range", Cidr::parse(&vpc.cidr_block))?;
        let prefix = format!("{}/", vpc_name(cluster_id));
        let mut subnets: Vec<ClusterSubnet> = self
            .engine
            .list_subnets(p, Some(vpc_id.as_str()))
            .await
            .map_err(map_err)?
            .into_iter()
            .filter(|s| s.name.as_deref().is_some_and(|n| n.starts_with(&prefix)))
            .map(|s| {
                Ok(ClusterSubnet {
                    id: parsed("subnet id", SubnetId::parse(&s.subnet_id))?,
                    cidr: parsed("subnet range", Cidr::parse(&s.cidr_block))?,
                    availability_zone: s.availability_zone,
                    public: s.map_public_ip_on_launch,
                })
            })
            .collect::<Result<_, ProviderError>>()?;
        subnets.sort_by(|a, b| {
            (a.public, &a.availability_zone).cmp(&(b.public, &b.availability_zone))
        });
        let mut nats: Vec<(String, String)> = Vec::new();
        for n in self.engine.list_nat_gateways(p).await.map_err(map_err)? {
            if n.vpc_id == vpc_id.as_str()
                && let Some(s) = subnets.iter().find(|s| s.id.as_str() == n.subnet_id)
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
            vpc_id: vpc_id.clone(),
            cidr,
            subnets,
            external_ips,
        })
    }

    async fn ensure_subnet(
        &self,
        vpc_id: &VpcId,
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
                    vpc_id: vpc_id.to_string(),
                    cidr_block: plan.cidr.to_string(),
                    availability_zone: plan.availability_zone.clone(),
                    map_public_ip_on_launch: plan.public,
                    name: Some(name.to_owned()),
                },
            )
            .await
            .map_err(map_err)
    }

    async fn ensure_igw(&self, vpc_id: &VpcId) -> Result<String, ProviderError> {
        let p = &self.principal;
        let igws = self
            .engine
            .list_internet_gateways(p)
            .await
            .map_err(map_err)?;
        if let Some(g) = igws.into_iter().find(|g| g.vpc_id == vpc_id.as_str()) {
            return Ok(g.internet_gateway_id);
        }
        let g = self
            .engine
            .create_internet_gateway(
                p,
                CreateInternetGateway {
                    vpc_id: vpc_id.to_string(),
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
    fn kind(&self) -> ProviderKind {
        ProviderKind::Local
    }

    fn account_id(&self) -> AccountId {
        self.account.clone()
    }

    fn cluster_networks(&self) -> Option<&dyn ClusterNetworks> {
        Some(self)
    }
    fn private_link(&self) -> Option<&dyn PrivateLinkServices> {
        Some(self)
    }
    fn peerings(&self) -> Option<&dyn Peerings> {
        Some(self)
    }
    fn transit_gateways(&self) -> Option<&dyn TransitGateways> {
        Some(self)
    }
    fn dns(&self) -> Option<&dyn DnsResolutions> {
        Some(self)
    }

    async fn stop(&self) {
        self.stop_gateways().await;
    }
}

#[async_trait::async_trait]
impl ClusterNetworks for LocalProvider {
    async fn ensure_cluster(&self, req: &ClusterRequest) -> Result<ClusterNetwork, ProviderError> {
        if req.cloud == CloudProvider::Azure {
            return Err(ProviderError::Refused(format!(
                "the local provider cannot emulate an AZURE cluster yet (localcloud has no \
                 Azure flavour: no VNets or Private Link Service, and no region {}); create \
                 the cluster with cloudProvider AWS or LOCAL, or serve AZURE clusters with \
                 another provider",
                req.region
            )));
        }
        let plans = plan_subnets(&req.cidr, &req.region).map_err(ProviderError::Refused)?;
        let p = &self.principal;
        let vpc_id = match self.find_vpc(&req.cluster_id).await? {
            Some(v) => v,
            None => {
                let created = self
                    .engine
                    .create_vpc(
                        p,
                        CreateVpc {
                            cidr_block: req.cidr.to_string(),
                            region: Some(req.region.to_string()),
                            name: Some(vpc_name(&req.cluster_id)),
                        },
                    )
                    .await
                    .map_err(map_err)?;
                parsed("VPC id", VpcId::parse(&created.vpc_id))?
            }
        };
        let existing = self
            .engine
            .list_subnets(p, Some(vpc_id.as_str()))
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
        let vpc_id = vpc_id.as_str();
        let p = &self.principal;
        self.delete_gateway(self.ingress.as_ref(), cluster_id)
            .await?;
        for i in self
            .engine
            .list_instances(p, Some(vpc_id))
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
            .list_subnets(p, Some(vpc_id))
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
        for a in self
            .engine
            .list_transit_gateway_attachments(p)
            .await
            .map_err(map_err)?
        {
            if a.vpc_id != vpc_id || matches!(a.state.as_str(), "deleting" | "deleted") {
                continue;
            }
            match self
                .engine
                .delete_transit_gateway_attachment(p, &a.transit_gateway_attachment_id)
                .await
            {
                Ok(_) | Err(CloudError::NotFound { .. }) | Err(CloudError::Conflict(_)) => {}
                Err(e) => return Err(map_err(e)),
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
        match self.engine.delete_vpc(p, vpc_id).await {
            Ok(()) | Err(CloudError::NotFound { .. }) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn ensure_route(
        &self,
        net: &ClusterNetwork,
        destination: &Cidr,
        target: &RouteTarget,
    ) -> Result<(), ProviderError> {
        let target = local_route_target(target)?;
        for s in &net.subnets {
            self.ensure_subnet_route(s.id.as_str(), &destination.to_string(), target)
                .await?;
        }
        Ok(())
    }

    async fn remove_route(
        &self,
        net: &ClusterNetwork,
        destination: &Cidr,
        target: Option<&RouteTarget>,
    ) -> Result<(), ProviderError> {
        let dest = destination.to_string();
        let target = target.map(RouteTarget::as_str);
        for s in &net.subnets {
            self.remove_subnet_routes(s.id.as_str(), |d, t| {
                d != dest || target.is_some_and(|x| x != t)
            })
            .await?;
        }
        Ok(())
    }
}

/// The targets localcloud's route tables can hold today: peerings and transit gateways.
fn local_route_target(target: &RouteTarget) -> Result<&str, ProviderError> {
    match target {
        RouteTarget::Peering(p) => Ok(p.as_str()),
        RouteTarget::TransitGateway(t) => Ok(t.as_str()),
        RouteTarget::Vpn(_) => Err(ProviderError::Unsupported {
            provider: ProviderKind::Local,
            capability: Capability::Vpn,
        }),
    }
}

#[async_trait::async_trait]
impl Peerings for LocalProvider {
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
                    && c.requester_vpc_info.vpc_id == net.vpc_id.as_str()
                    && c.accepter_vpc_info.vpc_id == req.peer_vpc_id.as_str()
                    && c.accepter_vpc_info.owner_id == req.peer_account_id.as_str()
            });
        if let Some(c) = live {
            return observation(c);
        }
        let created = self
            .engine
            .create_peering(
                p,
                CreatePeering {
                    vpc_id: net.vpc_id.to_string(),
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
        observation(created)
    }

    async fn observe_peering(
        &self,
        id: &PeeringConnectionId,
    ) -> Result<Option<PeeringObservation>, ProviderError> {
        match self.engine.get_peering(&self.principal, id.as_str()).await {
            Ok(c) => Ok(Some(observation(c)?)),
            Err(CloudError::NotFound { .. }) | Err(CloudError::Invalid { .. }) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn delete_peering(
        &self,
        net: &ClusterNetwork,
        id: &PeeringConnectionId,
    ) -> Result<(), ProviderError> {
        for s in &net.subnets {
            self.remove_subnet_routes(s.id.as_str(), |_, target| target != id.as_str())
                .await?;
        }
        self.delete_live_peering(id.as_str()).await
    }

    async fn accepter_dns_resolution(
        &self,
        id: &PeeringConnectionId,
    ) -> Result<Option<bool>, ProviderError> {
        match self.engine.get_peering(&self.principal, id.as_str()).await {
            Ok(c) => Ok(Some(
                c.accepter_vpc_info
                    .peering_options
                    .allow_dns_resolution_from_remote_vpc,
            )),
            Err(CloudError::NotFound { .. }) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    fn activation_steps(
        &self,
        net: &ClusterNetwork,
        id: &PeeringConnectionId,
        peer_account_id: &AccountId,
        peer_vpc_id: &VpcId,
    ) -> Vec<String> {
        activation_steps(&net.cidr, id.as_str(), peer_account_id, peer_vpc_id)
    }
}

/// Document 002's "Complete Activation" modal for localcloud: accept the connection as the
/// peer account, route the cluster's CIDR to it from every subnet of the external VPC
/// (`route add --vpc`: no subnet id to look up), and
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
        format!(
            "{who} route add --vpc {peer_vpc_id} --destination {cluster_cidr} --target {cloud_id}"
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
                "linkplane cloud --as arn:aws:iam::222222222222:root route add --vpc vpc-89abcdef --destination 10.70.0.0/22 --target pcx-0123abcd",
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
