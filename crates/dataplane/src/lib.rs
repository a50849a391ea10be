//! localcloud dataplane: the parts that move packets and answer DNS.
//!
//! - [`forwarder`]: TCP forwarder of an interface endpoint (splice, PROXY v2, gate, stop).
//! - [`targets`]: the lock-free-readable target set with health states.
//! - [`health`]: TCP / HTTP health checks driving the target states.
//! - [`dns`]: a per-VPC DNS server (private zones, forwarding rules, public upstream).
//! - [`metrics`]: forwarder connections and bytes per endpoint, DNS queries and answers by
//!   kind, for an operator's scrape.
//!
//! Protocol code only: which principal may do what is decided by localcloud. See
//! `docs/DATAPLANE.md` for the design and how to call it.

#![forbid(unsafe_code)]

pub mod dns;
pub mod forwarder;
pub mod health;
pub mod metrics;
pub mod proxy_protocol;
pub mod splice;
pub mod targets;

pub use forwarder::{
    Connector, ForwarderConfig, ForwarderHandle, LocalConnector, NsConnector, StatsSnapshot,
};
pub use health::{CheckKind, HealthCheckConfig, HealthChecker, StatusMatcher};
pub use targets::{Target, TargetSet, TargetState, TargetStatus};
