//! The seam between the controllers and a cloud: what a cluster needs from its provider.
//!
//! Controllers speak only this trait; `local` ([`crate::local::LocalProvider`], localcloud)
//! implements it today, an AWS provider (aws-sdk-rust) can implement it later. Every method
//! is idempotent and *looks up before it creates*: provider objects are named or tagged from
//! control-plane resource ids, so a restart (even after `kill -9`) re-adopts what exists
//! instead of duplicating it.

use std::net::Ipv4Addr;

use linkplane_model::{AccountId, Cidr, Region, ResourceId, VpcId};

/// Why a provider call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The request can never succeed as given (e.g. a range too small, an unknown region):
    /// the resource's status says so and the controller does not retry until the spec changes.
    #[error("{0}")]
    Refused(String),
    /// Something the request names does not exist (e.g. the peer VPC in that account and
    /// region): for a peering this is document 002's NOT_FOUND.
    #[error("{0}")]
    NotFound(String),
    /// A transient failure (kernel, database): retried with backoff.
    #[error("{0}")]
    Unavailable(String),
}

/// What a cluster's network is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRequest {
    pub cluster_id: ResourceId,
    pub region: Region,
    pub cidr: Cidr,
}

/// One subnet of a cluster's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSubnet {
    pub id: String,
    pub cidr: String,
    pub availability_zone: String,
    pub public: bool,
}

/// A cluster's network as the provider built it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNetwork {
    pub vpc_id: String,
    pub cidr: Cidr,
    pub subnets: Vec<ClusterSubnet>,
    /// The NAT gateways' elastic IPs: the cluster's external IPs.
    pub external_ips: Vec<Ipv4Addr>,
}

/// A peering request from a cluster's network to a customer VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeeringRequest {
    pub peering_id: ResourceId,
    pub peer_account_id: AccountId,
    pub peer_vpc_id: VpcId,
    pub peer_region: Region,
    /// The provider id of an earlier attempt, adopted if it is still pending or active.
    pub previous: Option<String>,
}

/// The provider-side state of a peering connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeeringState {
    /// Sent; waits for the accepter.
    PendingAcceptance,
    Active,
    /// The accepter rejected it.
    Rejected(String),
    /// It could not be established (wrong owner or region, overlapping CIDRs).
    Failed(String),
    /// Deleted by one of the parties.
    Deleted(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeeringObservation {
    /// The provider's id (`pcx-…`).
    pub id: String,
    pub state: PeeringState,
}

/// A cluster's PrivateLink endpoint service, as the customer asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointServiceRequest {
    pub cluster_id: ResourceId,
    /// `*` or principal ARNs.
    pub allowed_principals: Vec<String>,
    /// Extra consumer regions.
    pub regions: Vec<String>,
    pub auto_accept: bool,
}

/// The endpoint service as the provider runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointServiceInfo {
    /// What customers give when they create their endpoint.
    pub service_name: String,
    pub availability_zones: Vec<String>,
}

/// One consumer endpoint of a cluster's service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConnectionInfo {
    /// `vpce-…`.
    pub endpoint_id: String,
    /// The consumer's account.
    pub owner: String,
    /// `pendingAcceptance`, `available`, `rejected`, `failed`, `deleted`.
    pub state: String,
}

/// What a DNS resolution asks of the cluster's network (document 002, "hostname
/// resolution", and the private hosted zone of "DNS considerations for VPC peering").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsPlan {
    /// Forward queries for `domain` to `targets` (`ip:port`), leaving from the cluster's VPC.
    Forward {
        domain: String,
        targets: Vec<std::net::SocketAddr>,
    },
    /// A zone the platform owns, authoritative for `domain`, associated with the cluster's
    /// VPC: `(fully qualified name, type, ttl, values)`.
    Zone {
        domain: String,
        record_sets: Vec<(String, String, u32, Vec<String>)>,
    },
    /// A resolver rule the customer shared with the platform's account.
    SharedRule { rule_id: String },
    /// The customer's private hosted zone for `domain`, associated with the cluster's VPC
    /// once its owner authorized that.
    HostedZone { zone_id: String, domain: String },
}

/// Where a DNS resolution stands in the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsOutcome {
    /// In effect in the cluster's VPC; `cloud_id` is the rule or zone that implements it.
    Ready { cloud_id: String },
    /// Waiting for the customer: why, and the commands that would unblock it.
    Waiting { reason: String, steps: Vec<String> },
}

fn unsupported<T>(what: &str) -> Result<T, ProviderError> {
    Err(ProviderError::Refused(format!(
        "{what} is not supported by this provider"
    )))
}

/// What the DNS controller and the peering controller's DNS observation need from a cloud;
/// a supertrait of [`Provider`] so a provider can implement it in its own module. Every
/// method has a default that says the provider does not support it.
#[async_trait::async_trait]
pub trait DnsProvider: Send + Sync {
    /// Make `plan` effective in the cluster's VPC (look up before creating: the objects
    /// are named from `resolution_id`). Idempotent.
    async fn ensure_dns(
        &self,
        _net: &ClusterNetwork,
        _resolution_id: &ResourceId,
        _plan: &DnsPlan,
    ) -> Result<DnsOutcome, ProviderError> {
        unsupported("DNS resolution")
    }

    /// Undo [`DnsProvider::ensure_dns`]: the cluster's VPC no longer uses the rule or zone, and
    /// what the platform created for it is deleted. Idempotent.
    async fn remove_dns(
        &self,
        _net: &ClusterNetwork,
        _resolution_id: &ResourceId,
        _plan: &DnsPlan,
    ) -> Result<(), ProviderError> {
        unsupported("DNS resolution")
    }

    /// Whether the accepter (the customer) allows DNS resolution from the remote VPC on its
    /// side of the peering; `None` when the peering is unknown.
    async fn peering_accepter_dns(&self, _cloud_id: &str) -> Result<Option<bool>, ProviderError> {
        Ok(None)
    }
}

/// A cloud the controllers drive.
#[async_trait::async_trait]
pub trait Provider: DnsProvider + Send + Sync + 'static {
    /// Short name for logs and reasons (`local`, `aws`).
    fn name(&self) -> &'static str;

    /// The platform's account id in this cloud (the requester of peerings).
    fn account_id(&self) -> String;

    /// Build (or adopt) the cluster's network and return it.
    async fn ensure_cluster(&self, req: &ClusterRequest) -> Result<ClusterNetwork, ProviderError>;

    /// The cluster's network if it exists.
    async fn find_cluster(
        &self,
        cluster_id: &ResourceId,
    ) -> Result<Option<ClusterNetwork>, ProviderError>;

    /// Tear down everything the cluster's network holds. Idempotent.
    async fn delete_cluster(&self, cluster_id: &ResourceId) -> Result<(), ProviderError>;

    /// Send (or adopt a live earlier) peering request from the cluster's network.
    async fn request_peering(
        &self,
        net: &ClusterNetwork,
        req: &PeeringRequest,
    ) -> Result<PeeringObservation, ProviderError>;

    /// The peering's current state; `None` when the provider does not know the id.
    async fn observe_peering(
        &self,
        cloud_id: &str,
    ) -> Result<Option<PeeringObservation>, ProviderError>;

    /// Remove every route through the peering from the cluster's route tables, then delete
    /// the peering if it is still live. Idempotent.
    async fn delete_peering(
        &self,
        net: &ClusterNetwork,
        cloud_id: &str,
    ) -> Result<(), ProviderError>;

    /// Make `destination` go through `target` (a peering id) in every route table of the
    /// cluster's network (replacing a route to the same destination through another target).
    async fn ensure_route(
        &self,
        net: &ClusterNetwork,
        destination: &Cidr,
        target: &str,
    ) -> Result<(), ProviderError>;

    /// Remove the route to `destination` (only if it goes through `target`, when given).
    async fn remove_route(
        &self,
        net: &ClusterNetwork,
        destination: &Cidr,
        target: Option<&str>,
    ) -> Result<(), ProviderError>;

    /// Put (or update) the cluster's endpoint service in front of its ingress load balancer.
    async fn ensure_endpoint_service(
        &self,
        _req: &EndpointServiceRequest,
    ) -> Result<EndpointServiceInfo, ProviderError> {
        unsupported("PrivateLink")
    }

    /// The consumer endpoints of the cluster's service (empty without a service).
    async fn endpoint_connections(
        &self,
        _cluster_id: &ResourceId,
    ) -> Result<Vec<EndpointConnectionInfo>, ProviderError> {
        unsupported("PrivateLink")
    }

    /// Accept or reject pending endpoints of the cluster's service.
    async fn decide_endpoints(
        &self,
        _cluster_id: &ResourceId,
        _endpoint_ids: &[String],
        _accept: bool,
    ) -> Result<(), ProviderError> {
        unsupported("PrivateLink")
    }

    /// Remove the cluster's endpoint service (its endpoints are rejected). Idempotent.
    async fn delete_endpoint_service(&self, _cluster_id: &ResourceId) -> Result<(), ProviderError> {
        unsupported("PrivateLink")
    }

    /// The customer's steps to complete activation of a peering ("accept the connection from
    /// your external VPC and create routes from the external VPC to Astro"), as commands.
    fn activation_steps(
        &self,
        net: &ClusterNetwork,
        cloud_id: &str,
        peer_account_id: &AccountId,
        peer_vpc_id: &VpcId,
    ) -> Vec<String>;
}
