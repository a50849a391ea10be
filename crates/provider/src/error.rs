use linkplane_model::ProviderKind;

use crate::Capability;

/// Why a provider call did not succeed, and so what the controller does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The request can never succeed as given (a range too small, an unknown region): the
    /// resource's status says so, and the controller does not retry until the spec changes
    /// (or, where the customer's side can change, until the next resync).
    #[error("{0}")]
    Refused(String),
    /// Something the request names does not exist (e.g. the peer VPC in that account and
    /// region): for a peering this is document 002's NOT_FOUND.
    #[error("{0}")]
    NotFound(String),
    /// A transient failure (kernel, database, the cloud's API): retried with backoff.
    #[error("{0}")]
    Unavailable(String),
    /// The provider does not implement this capability: final until the installation is
    /// configured with a provider that does.
    #[error("the {provider} provider does not implement {capability} yet")]
    Unsupported {
        provider: ProviderKind,
        capability: Capability,
    },
    /// The provider that serves the cluster's cloud is not running in this process.
    #[error("the {provider} provider is disabled: {reason}")]
    Disabled {
        provider: ProviderKind,
        reason: String,
    },
}

impl ProviderError {
    /// Whether retrying the same call later can succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
