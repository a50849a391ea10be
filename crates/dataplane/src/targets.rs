//! The set of targets behind a forwarder, readable without a lock.
//!
//! Membership lives in an `ArcSwap<Vec<Arc<Target>>>`: the accept path loads it with one
//! atomic operation; registering or deregistering swaps in a new vector. Each target's
//! health state and active-connection count are atomics, changed in place by the health
//! checker and the forwarder.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;

/// Health of a target, as a load balancer reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetState {
    /// Registered, not yet passed enough checks. Receives no traffic.
    Initial,
    /// Receives new connections.
    Healthy,
    /// Failed enough consecutive checks. Receives no traffic.
    Unhealthy,
    /// Deregistered: no new connections; live ones continue until they end or the
    /// deregistration delay passes, then the target is removed.
    Draining,
}

impl TargetState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
            Self::Draining => "draining",
        }
    }
    fn to_u8(self) -> u8 {
        self as u8
    }
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Healthy,
            2 => Self::Unhealthy,
            3 => Self::Draining,
            _ => Self::Initial,
        }
    }
}

impl fmt::Display for TargetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One registered target (instance address + port).
#[derive(Debug)]
pub struct Target {
    addr: SocketAddr,
    state: AtomicU8,
    active: AtomicU64,
    total: AtomicU64,
}

impl Target {
    fn new(addr: SocketAddr, state: TargetState) -> Self {
        Self {
            addr,
            state: AtomicU8::new(state.to_u8()),
            active: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn state(&self) -> TargetState {
        TargetState::from_u8(self.state.load(Ordering::Acquire))
    }
    /// Live forwarded connections to this target.
    pub fn active_connections(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }
    /// Connections ever forwarded to this target.
    pub fn total_connections(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
    pub(crate) fn set_state(&self, s: TargetState) {
        self.state.store(s.to_u8(), Ordering::Release);
    }
}

/// Counts a connection on a target for as long as it lives.
#[derive(Debug)]
pub struct TargetLease(Arc<Target>);

impl TargetLease {
    pub fn target(&self) -> &Arc<Target> {
        &self.0
    }
}

impl Drop for TargetLease {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A snapshot row of [`TargetSet::describe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetStatus {
    pub addr: SocketAddr,
    pub state: TargetState,
    pub active_connections: u64,
    pub total_connections: u64,
}

/// Shared, cheaply clonable set of targets.
#[derive(Clone, Default)]
pub struct TargetSet {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    targets: ArcSwap<Vec<Arc<Target>>>,
    cursor: AtomicUsize,
}

impl fmt::Debug for TargetSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.describe()).finish()
    }
}

impl TargetSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a target in state `initial` (no traffic until a health checker marks it
    /// healthy, or the caller does with [`TargetSet::set_state`]). Registering an address
    /// that is already present (even draining) is a no-op returning the existing target.
    pub fn register(&self, addr: SocketAddr) -> Arc<Target> {
        self.register_with_state(addr, TargetState::Initial)
    }

    /// Register a target with an explicit initial state (e.g. `Healthy` when the caller
    /// runs no health checks).
    pub fn register_with_state(&self, addr: SocketAddr, state: TargetState) -> Arc<Target> {
        let mut found = None;
        self.inner.targets.rcu(|cur| {
            if let Some(t) = cur.iter().find(|t| t.addr == addr) {
                found = Some(t.clone());
                return cur.clone();
            }
            let t = Arc::new(Target::new(addr, state));
            found = Some(t.clone());
            let mut v = Vec::with_capacity(cur.len() + 1);
            v.extend(cur.iter().cloned());
            v.push(t);
            Arc::new(v)
        });
        // rcu ran the closure at least once, so `found` is set.
        found.unwrap_or_else(|| Arc::new(Target::new(addr, state)))
    }

    /// Set a target's state. Returns false when the address is not registered.
    pub fn set_state(&self, addr: SocketAddr, state: TargetState) -> bool {
        match self.get(addr) {
            Some(t) => {
                t.set_state(state);
                true
            }
            None => false,
        }
    }

    pub fn get(&self, addr: SocketAddr) -> Option<Arc<Target>> {
        self.inner
            .targets
            .load()
            .iter()
            .find(|t| t.addr == addr)
            .cloned()
    }

    /// Remove a target at once (live connections to it are not touched).
    pub fn remove(&self, addr: SocketAddr) -> bool {
        let mut removed = false;
        self.inner.targets.rcu(|cur| {
            removed = cur.iter().any(|t| t.addr == addr);
            Arc::new(
                cur.iter()
                    .filter(|t| t.addr != addr)
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        });
        removed
    }

    /// Deregister: mark `draining` (no new connections), then remove the target when its
    /// last connection ends or after `delay`, whichever comes first. Needs a tokio runtime.
    pub fn deregister(&self, addr: SocketAddr, delay: Duration) -> bool {
        let Some(t) = self.get(addr) else {
            return false;
        };
        t.set_state(TargetState::Draining);
        let set = self.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + delay;
            while t.active_connections() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // Only remove what we drained (a re-registration in between keeps it).
            if t.state() == TargetState::Draining {
                set.remove(addr);
            }
        });
        true
    }

    pub fn targets(&self) -> Arc<Vec<Arc<Target>>> {
        self.inner.targets.load_full()
    }

    pub fn describe(&self) -> Vec<TargetStatus> {
        self.inner
            .targets
            .load()
            .iter()
            .map(|t| TargetStatus {
                addr: t.addr,
                state: t.state(),
                active_connections: t.active_connections(),
                total_connections: t.total_connections(),
            })
            .collect()
    }

    /// Pick a healthy target: fewest active connections, ties broken round robin.
    /// Returns a lease that counts the connection until dropped. `None` when no target
    /// is healthy (traffic never goes to initial, unhealthy or draining targets).
    pub fn pick(&self) -> Option<TargetLease> {
        let targets = self.inner.targets.load();
        let n = targets.len();
        if n == 0 {
            return None;
        }
        let start = self.inner.cursor.fetch_add(1, Ordering::Relaxed) % n;
        let mut best: Option<&Arc<Target>> = None;
        for i in 0..n {
            let t = &targets[(start + i) % n];
            if t.state() != TargetState::Healthy {
                continue;
            }
            if best.is_none_or(|b| t.active_connections() < b.active_connections()) {
                best = Some(t);
            }
        }
        let t = best?.clone();
        t.active.fetch_add(1, Ordering::Relaxed);
        t.total.fetch_add(1, Ordering::Relaxed);
        Some(TargetLease(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(p: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], p))
    }

    #[test]
    fn only_healthy_targets_are_picked() {
        let s = TargetSet::new();
        s.register(a(1));
        s.register(a(2));
        assert!(s.pick().is_none(), "initial targets get no traffic");
        s.set_state(a(2), TargetState::Healthy);
        for _ in 0..10 {
            assert_eq!(s.pick().unwrap().target().addr(), a(2));
        }
        s.set_state(a(2), TargetState::Unhealthy);
        assert!(s.pick().is_none());
        assert!(!s.set_state(a(9), TargetState::Healthy));
    }

    #[test]
    fn spreads_across_healthy_targets() {
        let s = TargetSet::new();
        for p in 1..=3 {
            s.register_with_state(a(p), TargetState::Healthy);
        }
        // Sequential short connections: round robin.
        let mut counts = [0u32; 3];
        for _ in 0..30 {
            let l = s.pick().unwrap();
            counts[(l.target().addr().port() - 1) as usize] += 1;
        }
        assert_eq!(counts, [10, 10, 10]);
        // Held connections: least connections.
        let held: Vec<_> = (0..6).map(|_| s.pick().unwrap()).collect();
        for t in s.targets().iter() {
            assert_eq!(t.active_connections(), 2);
        }
        drop(held);
        for t in s.targets().iter() {
            assert_eq!(t.active_connections(), 0);
        }
    }

    #[test]
    fn register_is_idempotent_and_remove_works() {
        let s = TargetSet::new();
        let t1 = s.register(a(1));
        let t2 = s.register(a(1));
        assert!(Arc::ptr_eq(&t1, &t2));
        assert_eq!(s.describe().len(), 1);
        assert!(s.remove(a(1)));
        assert!(!s.remove(a(1)));
        assert!(s.describe().is_empty());
    }

    #[tokio::test]
    async fn deregister_drains_then_removes() {
        let s = TargetSet::new();
        s.register_with_state(a(1), TargetState::Healthy);
        let lease = s.pick().unwrap();
        assert!(s.deregister(a(1), Duration::from_secs(30)));
        assert_eq!(s.get(a(1)).unwrap().state(), TargetState::Draining);
        assert!(s.pick().is_none(), "draining gets no new connections");
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(s.get(a(1)).is_some(), "kept while a connection lives");
        drop(lease);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(s.get(a(1)).is_none(), "removed once drained");
        assert!(!s.deregister(a(1), Duration::ZERO));
    }
}
