//! Transit gateway attachments of a cluster's network (documents 002 and 003): the
//! customer shares their transit gateway with the platform's account, the cluster's private
//! subnets are attached, and the customer's networks are routed through it.

use linkplane_model::{AccountId, Cidr, ResourceId, TransitGatewayAttachmentId, TransitGatewayId};

use crate::{ClusterNetwork, Provider, ProviderError};

/// An attachment of the cluster's network to a customer's transit gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitGatewayAttachmentRequest {
    pub attachment_id: ResourceId,
    pub transit_gateway_id: TransitGatewayId,
    /// The account that owns the transit gateway (and shares it).
    pub owner_account_id: AccountId,
    /// The customer's networks behind the transit gateway.
    pub cidrs: Vec<Cidr>,
}

/// AWS's attachment states, as far as a controller needs to tell them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitGatewayAttachmentState {
    /// The transit gateway is not shared with the platform's account yet: why, and the
    /// customer's commands.
    WaitingForShare {
        reason: String,
        steps: Vec<String>,
    },
    /// `pendingAcceptance`: the owner has to accept the attachment (the commands).
    PendingAcceptance {
        steps: Vec<String>,
    },
    /// `initiating`, `pending`, `modifying`.
    Pending,
    /// `available`, the customer's networks routed: the customer's commands that add the
    /// back routes to the cluster.
    Available {
        back_routes: Vec<String>,
    },
    Rejected(String),
    Failed(String),
    Deleted(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitGatewayAttachmentObservation {
    /// `None` until the attachment exists.
    pub id: Option<TransitGatewayAttachmentId>,
    pub state: TransitGatewayAttachmentState,
}

/// Transit gateway attachments of clusters' networks.
#[async_trait::async_trait]
pub trait TransitGateways: Provider {
    /// Create (or adopt) the attachment of the cluster's private subnets and report where
    /// it stands.
    async fn ensure_attachment(
        &self,
        net: &ClusterNetwork,
        req: &TransitGatewayAttachmentRequest,
    ) -> Result<TransitGatewayAttachmentObservation, ProviderError>;

    /// Delete the attachment (and the routes through it). Idempotent.
    async fn delete_attachment(
        &self,
        net: &ClusterNetwork,
        req: &TransitGatewayAttachmentRequest,
    ) -> Result<(), ProviderError>;
}
