//! Environments in the customer's own network (document 004, the MWAA model): the web
//! server and the metadata database behind interface endpoints in the customer's VPC.

use linkplane_model::{AccountId, Region, ResourceId, SubnetId, VpcId};

use crate::{Provider, ProviderError};

/// Document 004's "web server access mode".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebserverAccessMode {
    PublicOnly,
    PrivateOnly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentRequest {
    pub environment_id: ResourceId,
    pub account_id: AccountId,
    pub region: Region,
    pub vpc_id: VpcId,
    /// Two private subnets in two availability zones.
    pub subnet_ids: Vec<SubnetId>,
    pub access_mode: WebserverAccessMode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvironmentState {
    Creating,
    Available,
    CreateFailed(String),
    Deleting,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentObservation {
    pub state: EnvironmentState,
    /// The web server's host name.
    pub webserver_url: Option<String>,
    /// The endpoint services of the web server and the metadata database.
    pub webserver_vpc_endpoint_service: Option<String>,
    pub database_vpc_endpoint_service: Option<String>,
}

/// Environments in customers' networks.
#[async_trait::async_trait]
pub trait Environments: Provider {
    async fn ensure_environment(
        &self,
        req: &EnvironmentRequest,
    ) -> Result<EnvironmentObservation, ProviderError>;

    /// Idempotent.
    async fn delete_environment(&self, environment_id: &ResourceId) -> Result<(), ProviderError>;
}
