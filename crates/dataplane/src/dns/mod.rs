//! The DNS server of one VPC (Route 53 Resolver style), built on hickory-server.
//!
//! Resolution order for a query (see `docs/DATAPLANE.md`):
//!
//! 1. **Private hosted zones** associated with this VPC. The most specific zone that
//!    contains the name is authoritative: a missing name is NXDOMAIN, a missing type is an
//!    empty NOERROR, never a fall-through. Records: A, AAAA, CNAME (the target is chased
//!    through this same view) and alias (answers the target's records under the alias
//!    name, resolved through this same view).
//! 2. **Forwarding rules**: the rule with the most specific domain containing the name
//!    wins. A `Forward` rule sends the query to its targets from sockets the caller's
//!    [`SocketFactory`] creates (inside the VPC's namespace: it needs a real network path);
//!    a `System` rule sends the name on to the next stage even under a broader forward.
//! 3. **Public DNS**: the public upstream servers (the internet namespace's DNS).
//!
//! The configuration is one immutable [`ViewConfig`] behind an `ArcSwap`: every change is
//! visible to the next query, and queries never wait for a lock.
//!
//! UDP is read by this module's own loop (`udp.rs`): an answer computed from private zones
//! alone is memoized in wire format per configuration generation (`fast.rs`) and served
//! to the next identical question (id and question case patched in) without a task, an
//! allocation or hickory's response builder; everything else, and all of TCP, goes through
//! hickory-server's request parsing and encoding.

mod cache;
mod config;
mod fast;
mod server;
mod udp;
mod upstream;

pub use config::{
    ConfigError, ForwardRule, PrivateZone, RecordData, RuleAction, ViewConfig, ZoneRecord,
};
pub(crate) use server::Inner as ViewInner;
pub use server::{DnsServerHandle, DnsStats, DnsView, Resolution};
pub use upstream::{LocalSockets, NsSockets, SocketFactory};

/// Entry points for the fuzz harness (`crates/fuzz`): the UDP fast path exactly as the
/// UDP loop runs it on a datagram from outside. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    use super::DnsView;

    /// Key `msg` and answer it from the view's memo of encoded answers, as `udp.rs` does
    /// first with every datagram; `Some(answer)` when the memo answered.
    pub fn udp_fast_path(view: &DnsView, msg: &[u8]) -> Option<Vec<u8>> {
        let handler = super::server::Handler::of(view.clone());
        let (mut key, mut out) = (Vec::new(), Vec::new());
        handler.fast_answer(msg, &mut key, &mut out).then_some(out)
    }
}
