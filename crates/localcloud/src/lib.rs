//! localcloud: a real cloud network on one Linux machine.
//!
//! Accounts and principals, VPCs (router namespaces), subnets (bridges with policy-routed
//! route tables), instances (namespaces with a veth into the subnet bridge), security groups
//! (stateful nftables where the ENI lives), an internet namespace with internet and NAT
//! gateways, and VPC peering with EC2's semantics. State lives in SQLite
//! (`<data-dir>/localcloud.db`); kernel objects are named from resource ids under an
//! installation prefix, so [`Engine::open`] re-adopts them after a restart and
//! [`gc`] removes everything under a prefix.
//!
//! The REST API (`/cloud/v1`) is [`api::router`]. See docs/LOCALCLOUD.md.

#![forbid(unsafe_code)]

pub mod api;
mod engine;
pub mod error;
pub mod ids;
mod kernel;
pub mod net;
mod netlink;
mod token;
pub mod types;

pub use engine::{
    DEFAULT_ASN, DNS_DOMAIN, Engine, EngineConfig, LINK_LOCAL_DNS, MAX_TGW_ATTACHMENTS,
    MAX_TGW_ROUTE_TABLES, MAX_TGW_ROUTES, PUBLIC_DNS, endpoint_state, render,
};
pub use error::{Error, Result};
pub use ids::{AccountId, DEFAULT_PRINCIPAL, Prefix, Principal};
pub use kernel::GcReport;
pub use token::TOKEN_FILE;

/// Remove every namespace (with its links and nftables tables), process and `/etc/netns`
/// directory under `prefix`. Needs no engine and no database; safe to call from `Drop`.
pub fn gc(prefix: &Prefix) -> GcReport {
    kernel::gc(prefix)
}

/// Whether this process runs as root (localcloud needs it).
pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}
