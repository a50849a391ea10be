//! Shared state of the router and the randomness the model leaves to the edge.

use std::sync::Arc;

use linkplane_model::{DomainName, ResourceId};
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
    /// The key file that seals secrets at rest; `None`: `<data-dir>/secrets.key`.
    pub secrets_key_file: Option<std::path::PathBuf>,
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
            secrets_key_file: None,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    /// Serializes creates under one cluster within this process (see [`KeyedLocks`]).
    pub(crate) cluster_locks: Arc<KeyedLocks>,
    /// The live connections of recently validated clusters (see [`ConnectionsCache`]).
    pub(crate) connections: Arc<ConnectionsCache>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
        Self {
            store,
            config: Arc::new(config),
            cluster_locks: Arc::new(KeyedLocks::default()),
            connections: Arc::new(ConnectionsCache::default()),
        }
    }

    pub(crate) fn heartbeat_interval(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.heartbeat_interval)
            .unwrap_or_else(|_| chrono::Duration::seconds(30))
    }
}

pub use linkplane_store::new_id;

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

/// One async lock per key, created on demand and forgotten when nobody holds it.
///
/// Creates of a cluster's connections are validated against all its live connections (CIDR
/// overlap) and stored under an optimistic check of the cluster's child version. Racing
/// creates on one cluster would make each other fail that check again and again (a client
/// sees "changed while validated"); queueing them here first lets each validate against the
/// previous one's result. The optimistic check stays: it is what keeps the rule true across
/// processes (several servers on one database).
#[derive(Default)]
pub(crate) struct KeyedLocks {
    locks: std::sync::Mutex<
        std::collections::HashMap<String, std::sync::Weak<tokio::sync::Mutex<()>>>,
    >,
}

impl KeyedLocks {
    /// Wait for, then hold, the lock of `key` until the guard is dropped.
    pub(crate) async fn lock(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self
                .locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if map.len() >= 1024 {
                map.retain(|_, w| w.strong_count() > 0);
            }
            match map.get(key).and_then(std::sync::Weak::upgrade) {
                Some(l) => l,
                None => {
                    let l = Arc::new(tokio::sync::Mutex::new(()));
                    map.insert(key.to_string(), Arc::downgrade(&l));
                    l
                }
            }
        };
        lock.lock_owned().await
    }
}

/// What create validation needs from a cluster's live connections (their CIDRs and ids),
/// remembered per cluster with the cluster's `child_version` at the time. The store moves
/// that version whenever a child is created, updated or deleted (in any process), so an
/// entry is used only while it is exact; otherwise the connections are read again. Without
/// it, every create under a cluster with 5 000 attachments re-read and parsed all 5 000.
#[derive(Default)]
pub(crate) struct ConnectionsCache {
    entries: std::sync::Mutex<std::collections::HashMap<ResourceId, Connections>>,
}

/// A cluster's live connections as of `child_version`.
#[derive(Debug, Clone)]
pub(crate) struct Connections {
    pub child_version: i64,
    pub taken: Vec<linkplane_model::TakenCidr>,
    pub route_targets: Vec<ResourceId>,
}

/// Entries kept before the cache starts over.
const CONNECTIONS_CACHE_CLUSTERS: usize = 256;

impl ConnectionsCache {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<ResourceId, Connections>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Take the cluster's connections out if they are known as of `child_version` (taken,
    /// not copied: the create that validates against them puts them back, one connection
    /// longer, under the cluster's create lock; a create that fails leaves the next one to
    /// read them again).
    pub(crate) fn take(&self, cluster: &ResourceId, child_version: i64) -> Option<Connections> {
        let mut map = self.map();
        match map.get(cluster) {
            Some(c) if c.child_version == child_version => map.remove(cluster),
            _ => None,
        }
    }

    pub(crate) fn put(&self, cluster: ResourceId, connections: Connections) {
        let mut map = self.map();
        if map.len() >= CONNECTIONS_CACHE_CLUSTERS && !map.contains_key(&cluster) {
            map.clear();
        }
        map.insert(cluster, connections);
    }
}
