//! The seam between the controllers and a cloud, and nothing else.
//!
//! A provider is one [`Provider`] (its name, its account, which capabilities it has) plus one
//! trait per concern it implements, each a supertrait of [`Provider`] (the shape of
//! hickory-dns's optional zone-handler capabilities):
//!
//! | capability | trait | resources |
//! |---|---|---|
//! | [`Capability::ClusterNetwork`] | [`ClusterNetworks`] | clusters, routes |
//! | [`Capability::PrivateLink`] | [`PrivateLinkServices`] | private links, endpoint connections |
//! | [`Capability::Peering`] | [`Peerings`] | VPC peering connections |
//! | [`Capability::Dns`] | [`DnsResolutions`] | DNS resolutions |
//! | [`Capability::TransitGateway`] | [`TransitGateways`] | transit gateway attachments |
//! | [`Capability::Vpn`] | [`VpnConnections`] | VPN connections |
//! | [`Capability::OutboundEndpoints`] | [`OutboundEndpoints`] | outbound endpoints |
//! | [`Capability::Environments`] | [`Environments`] | environments (document 004) |
//!
//! A capability a provider does not implement is a typed answer
//! ([`ProviderError::Unsupported`], from [`capability`]), which a controller records in words
//! on the resource (`FAILED`, "the aws provider does not implement transit gateways yet").
//!
//! Every method is idempotent and *looks up before it creates*: provider objects are named or
//! tagged from control-plane resource ids, so a restart (even after `kill -9`) re-adopts what
//! exists instead of duplicating it.
//!
//! [`ProviderRegistry`] maps each cloud of a cluster (`cloudProvider`) to the provider that
//! serves it in this installation (`serve --provider aws=local`).
//!
//! This crate knows the model's types and nothing of any cloud: no localcloud, no SDK, no
//! store, no HTTP.

#![forbid(unsafe_code)]

mod dns;
mod environment;
mod error;
mod network;
mod outbound;
mod peering;
mod privatelink;
mod registry;
mod transit;
mod vpn;

pub use dns::*;
pub use environment::*;
pub use error::*;
pub use network::*;
pub use outbound::*;
pub use peering::*;
pub use privatelink::*;
pub use registry::*;
pub use transit::*;
pub use vpn::*;

use linkplane_model::AccountId;
pub use linkplane_model::ProviderKind;

/// What a provider may be able to do, one per concern of the product documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    ClusterNetwork,
    PrivateLink,
    Peering,
    Dns,
    TransitGateway,
    Vpn,
    OutboundEndpoints,
    Environments,
}

impl Capability {
    pub const ALL: [Capability; 8] = [
        Self::ClusterNetwork,
        Self::PrivateLink,
        Self::Peering,
        Self::Dns,
        Self::TransitGateway,
        Self::Vpn,
        Self::OutboundEndpoints,
        Self::Environments,
    ];

    /// The capability in words, as in "the aws provider does not implement transit gateways".
    pub fn noun(self) -> &'static str {
        match self {
            Self::ClusterNetwork => "cluster networks",
            Self::PrivateLink => "PrivateLink endpoint services",
            Self::Peering => "VPC peering",
            Self::Dns => "DNS resolution",
            Self::TransitGateway => "transit gateways",
            Self::Vpn => "VPN connections",
            Self::OutboundEndpoints => "outbound endpoints",
            Self::Environments => "environments",
        }
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.noun())
    }
}

/// A cloud the controllers drive: who it is, and which capabilities it has. Each accessor
/// returns the provider itself as that capability's trait, or `None` when it does not
/// implement it (the default).
#[async_trait::async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Which provider this is (`local`, `aws`): in logs, reasons and finalizer names.
    fn kind(&self) -> ProviderKind;

    /// The platform's account in this cloud (the requester of peerings, the account
    /// customers share with).
    fn account_id(&self) -> AccountId;

    /// The finalizer a resource holds while this provider may hold objects for it:
    /// `linkplane.dev/<provider>-<resource>` (e.g. `linkplane.dev/local-cluster`).
    fn finalizer(&self, resource: &str) -> String {
        format!("linkplane.dev/{}-{resource}", self.kind())
    }

    fn cluster_networks(&self) -> Option<&dyn ClusterNetworks> {
        None
    }
    fn private_link(&self) -> Option<&dyn PrivateLinkServices> {
        None
    }
    fn peerings(&self) -> Option<&dyn Peerings> {
        None
    }
    fn dns(&self) -> Option<&dyn DnsResolutions> {
        None
    }
    fn transit_gateways(&self) -> Option<&dyn TransitGateways> {
        None
    }
    fn vpn(&self) -> Option<&dyn VpnConnections> {
        None
    }
    fn outbound_endpoints(&self) -> Option<&dyn OutboundEndpoints> {
        None
    }
    fn environments(&self) -> Option<&dyn Environments> {
        None
    }

    /// Stop what the provider runs in this process (listeners, watches); objects in the
    /// cloud stay, and the next start re-adopts them.
    async fn stop(&self) {}
}

/// Whether `provider` has `cap`.
pub fn implements(provider: &dyn Provider, cap: Capability) -> bool {
    match cap {
        Capability::ClusterNetwork => provider.cluster_networks().is_some(),
        Capability::PrivateLink => provider.private_link().is_some(),
        Capability::Peering => provider.peerings().is_some(),
        Capability::Dns => provider.dns().is_some(),
        Capability::TransitGateway => provider.transit_gateways().is_some(),
        Capability::Vpn => provider.vpn().is_some(),
        Capability::OutboundEndpoints => provider.outbound_endpoints().is_some(),
        Capability::Environments => provider.environments().is_some(),
    }
}

/// `got`, or the typed answer that `provider` does not implement `cap`: use as
/// `capability(p, Capability::Peering, p.peerings())?`.
pub fn capability<'a, T: ?Sized>(
    provider: &dyn Provider,
    cap: Capability,
    got: Option<&'a T>,
) -> Result<&'a T, ProviderError> {
    got.ok_or(ProviderError::Unsupported {
        provider: provider.kind(),
        capability: cap,
    })
}
