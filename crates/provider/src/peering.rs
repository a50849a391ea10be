//! VPC peering from a cluster's network to a customer's VPC (document 002).

use linkplane_model::{AccountId, PeeringConnectionId, Region, ResourceId, VpcId};

use crate::{ClusterNetwork, Provider, ProviderError};

/// A peering request from a cluster's network to a customer VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeeringRequest {
    pub peering_id: ResourceId,
    pub peer_account_id: AccountId,
    pub peer_vpc_id: VpcId,
    pub peer_region: Region,
    /// The provider id of an earlier attempt, adopted if it is still pending or active.
    pub previous: Option<PeeringConnectionId>,
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
    pub id: PeeringConnectionId,
    pub state: PeeringState,
}

/// VPC peering connections requested from a cluster's network.
#[async_trait::async_trait]
pub trait Peerings: Provider {
    /// Send (or adopt a live earlier) peering request from the cluster's network.
    async fn request_peering(
        &self,
        net: &ClusterNetwork,
        req: &PeeringRequest,
    ) -> Result<PeeringObservation, ProviderError>;

    /// The peering's current state; `None` when the provider does not know the id.
    async fn observe_peering(
        &self,
        id: &PeeringConnectionId,
    ) -> Result<Option<PeeringObservation>, ProviderError>;

    /// Remove every route through the peering from the cluster's route tables, then delete
    /// the peering if it is still live. Idempotent.
    async fn delete_peering(
        &self,
        net: &ClusterNetwork,
        id: &PeeringConnectionId,
    ) -> Result<(), ProviderError>;

    /// Whether the accepter (the customer) allows DNS resolution from the remote VPC on its
    /// side of the peering (document 002's "DNS considerations"); `None` when the peering
    /// is unknown.
    async fn accepter_dns_resolution(
        &self,
        id: &PeeringConnectionId,
    ) -> Result<Option<bool>, ProviderError>;

    /// The customer's steps to complete activation ("accept the connection from your
    /// external VPC and create routes from the external VPC to Astro"), as commands.
    fn activation_steps(
        &self,
        net: &ClusterNetwork,
        id: &PeeringConnectionId,
        peer_account_id: &AccountId,
        peer_vpc_id: &VpcId,
    ) -> Vec<String>;
}
