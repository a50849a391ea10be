//! Which provider serves a cluster: the installation maps each cloud a cluster can name
//! (`cloudProvider`) to a provider (`serve --provider aws=local --provider azure=local`, the
//! defaults), and the registry holds the providers this process runs, or why one is not
//! running.

use std::collections::BTreeMap;
use std::sync::Arc;

use linkplane_model::{CloudProvider, ProviderKind};

use crate::{Provider, ProviderError};

/// The installation's choice of provider per cloud. `LOCAL` clusters are always served by
/// `local` (an alias of `aws=local`: localcloud is AWS-shaped); `AWS` and `AZURE` clusters
/// are emulated on localcloud unless a real provider is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMap {
    aws: ProviderKind,
    azure: ProviderKind,
}

impl Default for ProviderMap {
    fn default() -> Self {
        Self {
            aws: ProviderKind::Local,
            azure: ProviderKind::Local,
        }
    }
}

impl ProviderMap {
    pub fn get(&self, cloud: CloudProvider) -> ProviderKind {
        match cloud {
            CloudProvider::Local => ProviderKind::Local,
            CloudProvider::Aws => self.aws,
            CloudProvider::Azure => self.azure,
        }
    }

    /// Serve `cloud`'s clusters with `kind`, or why that cannot be.
    pub fn set(&mut self, cloud: CloudProvider, kind: ProviderKind) -> Result<(), String> {
        match (cloud, kind) {
            (CloudProvider::Local, ProviderKind::Local) => Ok(()),
            (CloudProvider::Local, k) => Err(format!(
                "LOCAL clusters are always served by the local provider, not {k}"
            )),
            (CloudProvider::Azure, ProviderKind::Aws) => {
                Err("AZURE clusters cannot be served by the aws provider".into())
            }
            (CloudProvider::Aws, k) => {
                self.aws = k;
                Ok(())
            }
            (CloudProvider::Azure, k) => {
                self.azure = k;
                Ok(())
            }
        }
    }

    /// Apply one `CLOUD=PROVIDER` assignment (`aws=local`, `azure=local`, `aws=aws`).
    pub fn assign(&mut self, s: &str) -> Result<(), String> {
        let (cloud, kind) = s.split_once('=').ok_or_else(|| {
            format!("{s:?} is not CLOUD=PROVIDER (e.g. aws=local, azure=local, aws=aws)")
        })?;
        let cloud = CloudProvider::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(cloud.trim()))
            .ok_or_else(|| format!("{cloud:?} is not a cloud (aws, azure or local)"))?;
        let kind = ProviderKind::parse(&kind.trim().to_ascii_lowercase())?;
        self.set(cloud, kind)
    }

    /// Every cloud with its provider, as `aws=local` pairs.
    pub fn describe(&self) -> String {
        format!("aws={} azure={} local=local", self.aws, self.azure)
    }

    /// The providers some cloud maps to.
    pub fn kinds(&self) -> Vec<ProviderKind> {
        let mut v = vec![ProviderKind::Local, self.aws, self.azure];
        v.sort();
        v.dedup();
        v
    }
}

enum Slot {
    Ready(Arc<dyn Provider>),
    Disabled(String),
}

/// The providers this process runs, and the map that picks one per cluster.
pub struct ProviderRegistry {
    map: ProviderMap,
    slots: BTreeMap<ProviderKind, Slot>,
}

impl std::fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let slots: Vec<String> = self
            .slots
            .iter()
            .map(|(k, s)| match s {
                Slot::Ready(_) => format!("{k}: ready"),
                Slot::Disabled(r) => format!("{k}: disabled ({r})"),
            })
            .collect();
        f.debug_struct("ProviderRegistry")
            .field("map", &self.map.describe())
            .field("providers", &slots)
            .finish()
    }
}

impl ProviderRegistry {
    pub fn new(map: ProviderMap) -> Self {
        Self {
            map,
            slots: BTreeMap::new(),
        }
    }

    /// Run `provider` for every cloud that maps to its kind.
    pub fn register(&mut self, provider: Arc<dyn Provider>) -> &mut Self {
        self.slots.insert(provider.kind(), Slot::Ready(provider));
        self
    }

    /// `kind` does not run in this process: clusters it would serve say `reason`.
    pub fn disable(&mut self, kind: ProviderKind, reason: impl Into<String>) -> &mut Self {
        self.slots.insert(kind, Slot::Disabled(reason.into()));
        self
    }

    pub fn map(&self) -> &ProviderMap {
        &self.map
    }

    /// The provider `cloud`'s clusters are served by, whether or not it runs.
    pub fn kind_for(&self, cloud: CloudProvider) -> ProviderKind {
        self.map.get(cloud)
    }

    /// The running provider for `cloud`'s clusters, or why there is none.
    pub fn for_cloud(&self, cloud: CloudProvider) -> Result<Arc<dyn Provider>, ProviderError> {
        self.get(self.kind_for(cloud))
    }

    /// The running provider `kind`, or why it does not run.
    pub fn get(&self, kind: ProviderKind) -> Result<Arc<dyn Provider>, ProviderError> {
        match self.slots.get(&kind) {
            Some(Slot::Ready(p)) => Ok(Arc::clone(p)),
            Some(Slot::Disabled(reason)) => Err(ProviderError::Disabled {
                provider: kind,
                reason: reason.clone(),
            }),
            None => Err(ProviderError::Disabled {
                provider: kind,
                reason: "it is not configured in this installation".into(),
            }),
        }
    }

    /// Every running provider.
    pub fn running(&self) -> Vec<Arc<dyn Provider>> {
        self.slots
            .values()
            .filter_map(|s| match s {
                Slot::Ready(p) => Some(Arc::clone(p)),
                Slot::Disabled(_) => None,
            })
            .collect()
    }

    /// Stop every running provider's in-process work.
    pub async fn stop(&self) {
        for p in self.running() {
            p.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Capability;
    use linkplane_model::AccountId;

    struct Bare;

    impl Provider for Bare {
        fn kind(&self) -> ProviderKind {
            ProviderKind::Aws
        }
        fn account_id(&self) -> AccountId {
            AccountId::parse("123456789012").unwrap()
        }
    }

    #[test]
    fn defaults_emulate_every_cloud_on_localcloud() {
        let m = ProviderMap::default();
        for c in CloudProvider::ALL {
            assert_eq!(m.get(c), ProviderKind::Local, "{c:?}");
        }
        assert_eq!(m.describe(), "aws=local azure=local local=local");
    }

    #[test]
    fn assignments_parse_and_refuse_what_cannot_be() {
        let mut m = ProviderMap::default();
        m.assign("aws=aws").unwrap();
        assert_eq!(m.get(CloudProvider::Aws), ProviderKind::Aws);
        assert_eq!(m.get(CloudProvider::Local), ProviderKind::Local);
        m.assign("AWS=local").unwrap();
        assert_eq!(m.get(CloudProvider::Aws), ProviderKind::Local);
        m.assign("local=local").unwrap();
        for (bad, says) in [
            ("aws", "is not CLOUD=PROVIDER"),
            ("gcp=local", "is not a cloud"),
            ("aws=gcp", "is not a provider"),
            ("local=aws", "always served by the local provider"),
            ("azure=aws", "cannot be served by the aws provider"),
        ] {
            let e = m.assign(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn a_provider_not_running_is_a_typed_answer_in_words() {
        let mut map = ProviderMap::default();
        map.assign("aws=aws").unwrap();
        let mut r = ProviderRegistry::new(map);
        r.disable(
            ProviderKind::Local,
            "linkplane serve is not running as root",
        );
        let e = r.for_cloud(CloudProvider::Local).err().unwrap();
        assert_eq!(
            e.to_string(),
            "the local provider is disabled: linkplane serve is not running as root"
        );
        let e = r.for_cloud(CloudProvider::Aws).err().unwrap();
        assert_eq!(
            e.to_string(),
            "the aws provider is disabled: it is not configured in this installation"
        );
        r.register(Arc::new(Bare));
        let p = r.for_cloud(CloudProvider::Aws).unwrap();
        assert_eq!(p.kind(), ProviderKind::Aws);
        assert_eq!(r.running().len(), 1);
    }

    #[test]
    fn a_missing_capability_says_which_provider_and_what() {
        let p = Bare;
        for cap in Capability::ALL {
            assert!(!crate::implements(&p, cap));
        }
        let e = crate::capability(&p, Capability::TransitGateway, p.transit_gateways())
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "the aws provider does not implement transit gateways yet"
        );
        assert!(!e.is_transient());
        assert_eq!(p.finalizer("cluster"), "linkplane.dev/aws-cluster");
    }
}
