//! The orchestration plane's front door (DESIGN.md, "The orchestration plane's front door").
//!
//! - [`ca`]: the installation's certificate authority, created on first start.
//! - [`proxy_protocol`]: how a connection arrived ([`Arrival`]), from a trusted PROXY v2
//!   header carrying the PrivateLink endpoint id (TLV 0xEA, subtype 0x01).
//! - [`gateway`]: TLS accept loop serving an axum router, each request tagged with its arrival.
//! - [`reverse_proxy`]: streaming, header-preserving proxy to a deployment's Airflow API.
//!
//! Protocol only: which paths belong to the control plane and who is refused under
//! `privateOnly` is decided by the router the caller builds.

#![forbid(unsafe_code)]

pub mod ca;
pub mod gateway;
pub mod proxy_protocol;
pub mod reverse_proxy;

pub use ca::Ca;
pub use gateway::{Gateway, arrival_of, not_found};
pub use proxy_protocol::Arrival;
pub use reverse_proxy::{Connector, Upstream, direct_connector, forward};
