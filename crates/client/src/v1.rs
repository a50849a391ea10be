//! The control plane's `/v1` API: its response bodies (the resource types of
//! `linkplane-model` with the metadata every stored resource carries, as the API's
//! `views.rs` serves them; `openapi.json` is the contract) and typed calls.
//!
//! Request bodies are sent as JSON values built field by field (see [`Client::call`]) so the
//! server's defaults and its validation messages apply unchanged.

use chrono::{DateTime, Utc};
use linkplane_model::{
    AgentObserved, AgentSpec, AgentStatus, ClusterObserved, ClusterSpec, DeploymentObserved,
    DeploymentSpec, EndpointConnectionObserved, EndpointConnectionSpec, Organization,
    PrivateLinkObserved, PrivateLinkSpec, Region, ResourceId, Role,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{Error, Result};

/// Metadata every stored resource carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub id: ResourceId,
    pub organization_id: ResourceId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub generation: i64,
    pub observed_generation: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_requested_at: Option<DateTime<Utc>>,
}

/// A list answer: one page of items and the cursor of the next (null on the last page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    #[serde(flatten)]
    pub meta: Meta,
    #[serde(flatten)]
    pub spec: ClusterSpec,
    #[serde(flatten)]
    pub observed: ClusterObserved,
    /// `<clusterId>.external.<baseDomain>`.
    pub host_name: String,
}

/// A deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// A cluster's endpoint service configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateLink {
    #[serde(flatten)]
    pub meta: Meta,
    pub cluster_id: ResourceId,
    #[serde(flatten)]
    pub spec: PrivateLinkSpec,
    #[serde(flatten)]
    pub observed: PrivateLinkObserved,
    /// `None` until the provider runs the service (`service_name_reason` says why).
    pub service_name: Option<String>,
    #[serde(default)]
    pub service_name_reason: Option<String>,
    pub service_region: Region,
    pub availability_zones: Vec<String>,
}

/// A consumer endpoint connected to a cluster's endpoint service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConnection {
    #[serde(flatten)]
    pub meta: Meta,
    pub cluster_id: ResourceId,
    #[serde(flatten)]
    pub spec: EndpointConnectionSpec,
    #[serde(flatten)]
    pub observed: EndpointConnectionObserved,
}

/// A Remote Execution Agent of a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    #[serde(flatten)]
    pub meta: Meta,
    pub deployment_id: ResourceId,
    #[serde(flatten)]
    pub spec: AgentSpec,
    #[serde(flatten)]
    pub observed: AgentObserved,
    pub status: AgentStatus,
}

/// An API token (the secret is only in the creation answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// An agent token, scoped to one deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// An agent token with its secret: answered once, by the creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedAgentToken {
    #[serde(flatten)]
    pub agent_token: AgentToken,
    /// Absent on an Idempotency-Key replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Body of `POST /v1/agents/register` and `POST /v1/agents/{agentId}/heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentReport {
    pub name: String,
    pub hostname: String,
    pub version: String,
    #[serde(default)]
    pub queues: Vec<String>,
}

/// Answer of `POST /v1/agents/register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRegistered {
    pub agent_id: ResourceId,
    pub deployment_id: ResourceId,
    pub heartbeat_interval_seconds: u64,
}

/// Answer of `POST /v1/agents/{agentId}/heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatAck {
    pub heartbeat_interval_seconds: u64,
}

/// `Result<T>` → `Result<Option<T>>`, a 404 being `None`.
pub trait Optional<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> Optional<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn org_path<'a>(org: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut path = vec!["v1", "organizations", org];
    path.extend_from_slice(rest);
    path
}

impl Client {
    /// `GET /healthz` answered 2xx.
    pub async fn healthy(&self) -> bool {
        self.call(Method::GET, &["healthz"]).send().await.is_ok()
    }

    /// `GET /v1/ca.pem`: the installation's CA bundle (no token needed).
    pub async fn ca_pem(&self) -> Result<String> {
        Ok(self
            .call(Method::GET, &["v1", "ca.pem"])
            .text()
            .send()
            .await?
            .raw)
    }

    /// `GET /v1/organizations`: the organizations the token sees (first page).
    pub async fn organizations(&self) -> Result<List<Organization>> {
        self.call(Method::GET, &["v1", "organizations"])
            .send_json()
            .await
    }

    pub async fn clusters(&self, org: &str) -> Result<List<Cluster>> {
        self.call(Method::GET, &org_path(org, &["clusters"]))
            .send_json()
            .await
    }

    pub async fn cluster(&self, org: &str, id: &str) -> Result<Cluster> {
        self.call(Method::GET, &org_path(org, &["clusters", id]))
            .send_json()
            .await
    }

    pub async fn deployments(&self, org: &str) -> Result<List<Deployment>> {
        self.call(Method::GET, &org_path(org, &["deployments"]))
            .send_json()
            .await
    }

    pub async fn deployment(&self, org: &str, id: &str) -> Result<Deployment> {
        self.call(Method::GET, &org_path(org, &["deployments", id]))
            .send_json()
            .await
    }

    /// The agents of a deployment (first page).
    pub async fn agents(&self, org: &str, deployment: &str) -> Result<List<Agent>> {
        self.call(
            Method::GET,
            &org_path(org, &["deployments", deployment, "agents"]),
        )
        .send_json()
        .await
    }

    /// The agent tokens of a deployment (first page).
    pub async fn agent_tokens(&self, org: &str, deployment: &str) -> Result<List<AgentToken>> {
        self.call(
            Method::GET,
            &org_path(org, &["deployments", deployment, "agent-tokens"]),
        )
        .send_json()
        .await
    }

    /// A cluster's endpoint service configuration (`Error::Status` 404 when it has none;
    /// see [`Optional`]).
    pub async fn private_link(&self, org: &str, cluster: &str) -> Result<PrivateLink> {
        self.call(
            Method::GET,
            &org_path(org, &["clusters", cluster, "private-link"]),
        )
        .send_json()
        .await
    }

    /// The endpoint connections of a cluster's service (first page).
    pub async fn endpoint_connections(
        &self,
        org: &str,
        cluster: &str,
    ) -> Result<List<EndpointConnection>> {
        self.call(
            Method::GET,
            &org_path(org, &["clusters", cluster, "private-link", "connections"]),
        )
        .send_json()
        .await
    }

    /// `POST /v1/agents/register` with an agent token.
    pub async fn register_agent(&self, report: &AgentReport) -> Result<AgentRegistered> {
        self.call(Method::POST, &["v1", "agents", "register"])
            .json(report)
            .send_json()
            .await
    }

    /// `POST /v1/agents/{agentId}/heartbeat` with an agent token.
    pub async fn heartbeat(&self, agent_id: &str, report: &AgentReport) -> Result<HeartbeatAck> {
        self.call(Method::POST, &["v1", "agents", agent_id, "heartbeat"])
            .json(report)
            .send_json()
            .await
    }
}

/// An error answer's status when it is one of `codes`.
pub fn status_in(e: &Error, codes: &[u16]) -> bool {
    e.status().is_some_and(|s| codes.contains(&s.as_u16()))
}
