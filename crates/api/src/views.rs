//! Response bodies. Every resource carries its metadata (`id`, `organizationId`,
//! `createdAt`, `updatedAt`, `generation`, `observedGeneration`) beside its spec and status.

use chrono::{DateTime, Utc};
use linkplane_model::*;
use linkplane_store::{Document, Result as StoreResult, TokenRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Metadata every stored resource carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub id: ResourceId,
    pub organization_id: ResourceId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every spec change.
    pub generation: i64,
    /// The generation a reconciler last acted on.
    pub observed_generation: i64,
    /// Set when deletion was requested and a reconciler is finishing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_requested_at: Option<DateTime<Utc>>,
}

impl Meta {
    pub fn of(d: &Document) -> Self {
        Self {
            id: d.id.clone(),
            organization_id: d.org_id.clone(),
            created_at: d.created_at,
            updated_at: d.updated_at,
            generation: d.generation,
            observed_generation: d.observed_generation,
            deletion_requested_at: d.deletion_requested_at,
        }
    }
}

/// The parent cluster of a cluster-scoped resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRef {
    pub cluster_id: ResourceId,
}

impl ClusterRef {
    fn of(d: &Document) -> StoreResult<Self> {
        d.parent_id
            .clone()
            .map(|cluster_id| Self { cluster_id })
            .ok_or_else(|| linkplane_store::StoreError::Corrupt(format!("{} has no cluster", d.id)))
    }
}

/// A status that can say DELETING while a resource's finalizers run.
trait MarkDeleting {
    fn mark_deleting(&mut self) {}
}

impl MarkDeleting for Provisioning {
    fn mark_deleting(&mut self) {
        self.status = ProvisioningStatus::Deleting;
    }
}

impl MarkDeleting for TransitGatewayAttachmentObserved {
    fn mark_deleting(&mut self) {
        self.status = TransitGatewayAttachmentStatus::Deleting;
    }
}

impl MarkDeleting for ProvisionedObserved {
    fn mark_deleting(&mut self) {
        self.status = ProvisioningStatus::Deleting;
    }
}

// Document 002's peering statuses and the endpoint connection states have no DELETING: a
// deleted connection is gone, and `deletionRequestedAt` says it is going.
impl MarkDeleting for VpcPeeringObserved {}
impl MarkDeleting for EndpointConnectionObserved {}

macro_rules! cluster_child_view {
    ($(#[$m:meta])* $name:ident, $spec:ty, $obs:ty) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            #[serde(flatten)]
            pub meta: Meta,
            #[serde(flatten)]
            pub cluster: ClusterRef,
            #[serde(flatten)]
            pub spec: $spec,
            #[serde(flatten)]
            pub observed: $obs,
        }

        impl $name {
            pub fn of(d: &Document) -> StoreResult<Self> {
                let mut observed: $obs = d.status_as()?;
                // A deletion request is DELETING at once while its finalizers run, whatever
                // a reconciler last recorded (for statuses that have the state).
                if d.deletion_requested_at.is_some() {
                    observed.mark_deleting();
                }
                Ok(Self {
                    meta: Meta::of(d),
                    cluster: ClusterRef::of(d)?,
                    spec: d.spec_as()?,
                    observed,
                })
            }
        }
    };
}

cluster_child_view!(
    /// A VPC peering connection and its status (document 002).
    VpcPeeringConnection,
    VpcPeeringSpec,
    VpcPeeringObserved
);
cluster_child_view!(
    /// A route to a CIDR through one of the cluster's connections.
    Route,
    RouteSpec,
    Provisioning
);
cluster_child_view!(
    /// An attachment of the cluster to a transit gateway shared over RAM.
    TransitGatewayAttachment,
    TransitGatewayAttachmentSpec,
    TransitGatewayAttachmentObserved
);
cluster_child_view!(
    /// A PrivateLink endpoint from the cluster to an AWS or custom service.
    OutboundEndpoint,
    OutboundEndpointSpec,
    ProvisionedObserved
);
cluster_child_view!(
    /// A site-to-site VPN. The pre-shared key is never returned.
    VpnConnection,
    VpnConnectionSpec,
    ProvisionedObserved
);
cluster_child_view!(
    /// Hostname resolution: shared resolver rule, DNS forwarding or private hosted zone.
    DnsResolution,
    DnsResolutionSpec,
    DnsResolutionObserved
);
cluster_child_view!(
    /// A consumer endpoint connected to the cluster's endpoint service.
    EndpointConnection,
    EndpointConnectionSpec,
    EndpointConnectionObserved
);

/// A cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    #[serde(flatten)]
    pub meta: Meta,
    #[serde(flatten)]
    pub spec: ClusterSpec,
    #[serde(flatten)]
    pub observed: ClusterObserved,
    /// `<clusterId>.external.<baseDomain>`: the orchestration plane's front door.
    pub host_name: String,
}

impl Cluster {
    pub fn of(d: &Document, base: &DomainName) -> StoreResult<Self> {
        let mut observed: ClusterObserved = d.status_as()?;
        // A deletion request is DELETING at once, whatever a reconciler last recorded.
        if d.deletion_requested_at.is_some() {
            observed.status = ClusterStatus::Deleting;
        }
        Ok(Self {
            meta: Meta::of(d),
            spec: d.spec_as()?,
            observed,
            host_name: cluster_host_name(&d.id, base),
        })
    }
}

/// A deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    #[serde(flatten)]
    pub meta: Meta,
    #[serde(flatten)]
    pub spec: DeploymentSpec,
    #[serde(flatten)]
    pub observed: DeploymentObserved,
    /// Where agents and API clients reach this deployment.
    pub api_url: String,
}

impl Deployment {
    pub fn of(d: &Document, base: &DomainName) -> StoreResult<Self> {
        let spec: DeploymentSpec = d.spec_as()?;
        Ok(Self {
            meta: Meta::of(d),
            api_url: deployment_api_url(&spec.cluster_id, &d.id, base),
            spec,
            observed: d.status_as()?,
        })
    }
}

/// A cluster's endpoint service configuration (documents 000 and 001).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateLink {
    #[serde(flatten)]
    pub meta: Meta,
    #[serde(flatten)]
    pub cluster: ClusterRef,
    #[serde(flatten)]
    pub spec: PrivateLinkSpec,
    #[serde(flatten)]
    pub observed: PrivateLinkObserved,
    /// The endpoint service name (AWS) or Private Link Service alias (Azure), as the provider
    /// reports it once it runs the service; `null` until then (`serviceNameReason` says why).
    pub service_name: Option<String>,
    /// Why `serviceName` is `null` (the service is not provisioned yet, or failed); `null`
    /// once it is known.
    pub service_name_reason: Option<String>,
    /// The cluster's region: where the service runs.
    pub service_region: Region,
    /// Zones the service supports; consumer subnets must be in them.
    pub availability_zones: Vec<String>,
}

impl PrivateLink {
    pub fn of(d: &Document, cluster: &ClusterSpec) -> StoreResult<Self> {
        let c = ClusterRef::of(d)?;
        // A provider that runs the service records its real name and zones in the status.
        let provided_name = d.status.get("serviceName").and_then(|v| v.as_str());
        let provided_zones: Option<Vec<String>> = d
            .status
            .get("availabilityZones")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let observed: PrivateLinkObserved = d.status_as()?;
        let service_name_reason = provided_name.is_none().then(|| {
            let why = observed
                .status_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            match observed.status {
                ProvisioningStatus::Failed => format!(
                    "the endpoint service could not be provisioned{why}; fix the cause and PUT the private link again"
                ),
                ProvisioningStatus::Deleting => format!("the endpoint service is being deleted{why}"),
                ProvisioningStatus::Pending | ProvisioningStatus::Available => format!(
                    "the endpoint service is not provisioned yet (status PENDING{why}); its name appears here when the provider runs it"
                ),
            }
        });
        Ok(Self {
            meta: Meta::of(d),
            service_name: provided_name.map(str::to_owned),
            service_name_reason,
            service_region: cluster.region.clone(),
            availability_zones: provided_zones
                .unwrap_or_else(|| cluster.region.availability_zones()),
            cluster: c,
            spec: d.spec_as()?,
            observed,
        })
    }
}

/// A Remote Execution Agent of a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    #[serde(flatten)]
    pub meta: Meta,
    pub deployment_id: ResourceId,
    #[serde(flatten)]
    pub spec: AgentSpec,
    #[serde(flatten)]
    pub observed: AgentObserved,
    /// HEALTHY: a heartbeat within two intervals; UNHEALTHY: older; UNKNOWN: never.
    pub status: AgentStatus,
}

impl Agent {
    pub fn of(d: &Document, now: DateTime<Utc>, interval: chrono::Duration) -> StoreResult<Self> {
        let observed: AgentObserved = d.status_as()?;
        Ok(Self {
            meta: Meta::of(d),
            deployment_id: d.parent_id.clone().ok_or_else(|| {
                linkplane_store::StoreError::Corrupt(format!("agent {} has no deployment", d.id))
            })?,
            spec: d.spec_as()?,
            status: agent_status(observed.last_heartbeat_at, now, interval),
            observed,
        })
    }
}

/// An API token (the secret is only in the creation response).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: ResourceId,
    pub organization_id: ResourceId,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    pub fn of(t: &TokenRecord) -> Self {
        Self {
            id: t.id.clone(),
            organization_id: t.org_id.clone(),
            name: t.name.clone(),
            role: t.role.unwrap_or(Role::OrganizationMember),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// An API token with its secret: returned once, by the creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub api_token: ApiToken,
    /// The bearer token. Shown once; only its SHA-256 is stored. Absent on an
    /// Idempotency-Key replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// An agent token, scoped to one deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentToken {
    pub id: ResourceId,
    pub organization_id: ResourceId,
    pub deployment_id: ResourceId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl AgentToken {
    pub fn of(t: &TokenRecord) -> StoreResult<Self> {
        Ok(Self {
            id: t.id.clone(),
            organization_id: t.org_id.clone(),
            deployment_id: t.scope_id.clone().ok_or_else(|| {
                linkplane_store::StoreError::Corrupt(format!(
                    "agent token {} has no deployment",
                    t.id
                ))
            })?,
            name: t.name.clone(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedAgentToken {
    #[serde(flatten)]
    pub agent_token: AgentToken,
    /// The bearer token for `linkplane agent run`. Shown once; absent on a replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

macro_rules! list_view {
    ($name:ident, $item:ty) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` for the next page; null on the last page.
            pub next_cursor: Option<String>,
        }
    };
}

list_view!(OrganizationList, Organization);
list_view!(ClusterList, Cluster);
list_view!(DeploymentList, Deployment);
list_view!(AgentList, Agent);
list_view!(ApiTokenList, ApiToken);
list_view!(AgentTokenList, AgentToken);
list_view!(EndpointConnectionList, EndpointConnection);
list_view!(VpcPeeringConnectionList, VpcPeeringConnection);
list_view!(RouteList, Route);
list_view!(TransitGatewayAttachmentList, TransitGatewayAttachment);
list_view!(OutboundEndpointList, OutboundEndpoint);
list_view!(VpnConnectionList, VpnConnection);
list_view!(DnsResolutionList, DnsResolution);

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

// ------------------------------------------------------------------- agent protocol

/// Body of `POST /v1/agents/register` and `POST /v1/agents/{agentId}/heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentReport {
    pub name: String,
    pub hostname: String,
    pub version: String,
    #[serde(default)]
    pub queues: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentRegistered {
    pub agent_id: ResourceId,
    pub deployment_id: ResourceId,
    pub heartbeat_interval_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatAck {
    pub heartbeat_interval_seconds: u64,
}
