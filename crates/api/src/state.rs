//! Shared state of the router and the randomness the model leaves to the edge.

use std::sync::Arc;

use linkplane_model::{DomainName, ID_RANDOM_BYTES, ResourceId, ResourceKind};
use linkplane_store::Store;
use rand::Rng;

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Clusters are reached at `<clusterId>.external.<baseDomain>`.
    pub base_domain: DomainName,
    /// How often agents heartbeat; HEALTHY means a heartbeat within two intervals.
    pub heartbeat_interval: std::time::Duration,
    /// The installation CA's certificate (PEM), served at `GET /v1/ca.pem` when set.
    pub ca_pem: Option<String>,
}

/// Default base domain.
pub const DEFAULT_BASE_DOMAIN: &str = "linkplane.test";

impl Default for Config {
    fn default() -> Self {
        Self {
            base_domain: DomainName::parse(DEFAULT_BASE_DOMAIN)
                .unwrap_or_else(|_| unreachable!("the default base domain is valid")),
            heartbeat_interval: std::time::Duration::from_secs(30),
            ca_pem: None,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
        Self {
            store,
            config: Arc::new(config),
        }
    }

    pub(crate) fn heartbeat_interval(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.heartbeat_interval)
            .unwrap_or_else(|_| chrono::Duration::seconds(30))
    }
}

/// A new random id of `kind`.
pub fn new_id(kind: ResourceKind) -> ResourceId {
    let mut bytes = [0u8; ID_RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    ResourceId::generate(kind, bytes)
}

/// A new bearer token secret: a prefix naming its kind and 256 random bits (base64url).
pub fn new_token_secret(prefix: &str) -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}
