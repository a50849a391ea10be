//! A small level-triggered controller runtime, after kube-rs and controller-runtime.
//!
//! A [`Reconcile`] implementation converges *one key* (a resource id) from its desired state
//! to the world, idempotently: it re-reads the spec, observes the provider, acts, and records
//! status. It is never told *what changed* — only *which key* to look at — so a missed or
//! duplicated trigger is harmless, and a restart simply reconciles everything again.
//!
//! The [`Controller`] guarantees:
//! - **one reconcile per key at a time** (a trigger that arrives while a key runs marks it
//!   dirty and it runs once more afterwards; any number of such triggers collapse into one);
//! - **deduplication** of queued keys;
//! - **error backoff**: exponential from `backoff_base` to `backoff_max`, with jitter, reset on
//!   success; a panicking reconcile counts as an error and does not stop the controller;
//! - **requeue** when a reconcile asks to look again later ([`Action::RequeueAfter`]);
//! - **resync**: every `resync` interval (and at start) all keys from [`Reconcile::list`] are
//!   reconciled, so nothing depends on a trigger having been delivered;
//! - bounded **concurrency** across keys;
//! - **watches**: a reconcile (or a provider call made inside it) may take the key's
//!   [`Waker`] ([`Waker::current`]) and hand it to whatever it waits on, which calls
//!   [`Waker::wake`] when that changes: the key is reconciled at once instead of at its next
//!   requeue (ZooKeeper-style one-shot watches: a pass re-registers what it still waits on);
//! - **extra trigger sources** ([`Reconcile::triggers`]), e.g. a watch of a child kind
//!   that maps a changed child to its parent's key, running as long as the controller;
//! - **a `reconcile` span per pass** with the controller, the key and why it ran
//!   ([`Reason`]: a client's write, a provider watch, the resync, a retry, a requeue), so
//!   every log line of a pass says what set it off.

#![forbid(unsafe_code)]

pub mod metrics;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt::{Debug, Display};
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;
use tracing::Instrument as _;

/// What a reconcile wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Converged; wait for a trigger or the next resync.
    Done,
    /// Look again after this long (e.g. waiting on a provider, or a documented retry delay).
    RequeueAfter(Duration),
}

/// Why a reconcile ran: recorded on its `reconcile` span (with the controller and the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A client wrote the resource (the store's change feed, or a decision on something it
    /// owns): [`Handle::enqueue`].
    Write,
    /// The provider saw a change it was asked to watch ([`Waker::wake`]).
    ProviderWatch,
    /// The periodic resync (drift repair, missed triggers), and the first pass at start.
    Resync,
    /// A retry after a failed reconcile, with backoff.
    Retry,
    /// The last pass asked to look again ([`Action::RequeueAfter`]).
    Requeue,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Write => "write",
            Self::ProviderWatch => "provider watch",
            Self::Resync => "resync",
            Self::Retry => "retry",
            Self::Requeue => "requeue",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Converges one key. Implementations must be idempotent.
pub trait Reconcile: Send + Sync + 'static {
    type Key: Clone + Eq + Hash + Send + Sync + Debug + 'static;
    type Error: Display + Send + 'static;

    /// Every key that should be looked at on a resync.
    fn list(&self) -> impl Future<Output = Result<Vec<Self::Key>, Self::Error>> + Send;

    /// Converge `key`.
    fn reconcile(&self, key: Self::Key)
    -> impl Future<Output = Result<Action, Self::Error>> + Send;

    /// Trigger sources of this controller besides its callers' [`Handle`]s and the resync:
    /// started once when the controller starts, stopped (dropped) when it stops. Every key
    /// sent through `handle` is reconciled soon. Default: none.
    fn triggers(self: Arc<Self>, handle: Handle<Self::Key>) -> impl Future<Output = ()> + Send {
        drop(handle);
        std::future::ready(())
    }
}

tokio::task_local! {
    static CURRENT: Waker;
}

/// Asks a running controller to reconcile one key again: what a reconcile waits on (a
/// provider's state) calls [`Waker::wake`] when it changes. Cheap to clone; waking a key
/// whose controller has stopped does nothing.
#[derive(Clone)]
pub struct Waker {
    id: Arc<str>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Waker").field(&self.id).finish()
    }
}

impl Waker {
    /// The waker of the key being reconciled, inside [`Reconcile::reconcile`] (and anything
    /// it awaits on the same task); `None` elsewhere.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// `<controller>/<key>`: the same for every pass of one key, so a watch registered by
    /// each pass can replace the previous registration instead of piling up.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Reconcile the key soon (collapses with other triggers; never blocks).
    pub fn wake(&self) {
        (self.wake)();
    }
}

/// Tuning of a [`Controller`].
#[derive(Debug, Clone)]
pub struct Config {
    pub concurrency: usize,
    pub resync: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            concurrency: 4,
            resync: Duration::from_secs(60),
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// Sends triggers to a running controller. Cheap to clone.
#[derive(Debug)]
pub struct Handle<K> {
    tx: mpsc::UnboundedSender<(K, Reason)>,
}

impl<K> Clone for Handle<K> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<K> Handle<K> {
    /// Ask for `key` to be reconciled soon because a client wrote it ([`Reason::Write`]).
    /// Never blocks; harmless if repeated.
    pub fn enqueue(&self, key: K) {
        self.enqueue_because(key, Reason::Write);
    }

    /// Ask for `key` to be reconciled soon, saying why (recorded on the reconcile's span).
    pub fn enqueue_because(&self, key: K, reason: Reason) {
        let _ = self.tx.send((key, reason));
    }
}

/// Runs a [`Reconcile`] implementation.
pub struct Controller<R: Reconcile> {
    name: &'static str,
    reconciler: Arc<R>,
    config: Config,
    tx: mpsc::UnboundedSender<(R::Key, Reason)>,
    rx: mpsc::UnboundedReceiver<(R::Key, Reason)>,
}

/// Aborts a task when dropped (the controller's trigger sources).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct State<K> {
    queue: VecDeque<K>,
    queued: HashSet<K>,
    running: HashMap<Id, K>,
    running_keys: HashSet<K>,
    dirty: HashSet<K>,
    scheduled: HashMap<K, Instant>,
    timers: BinaryHeap<Reverse<(Instant, u64, K)>>,
    timer_seq: u64,
    failures: HashMap<K, u32>,
    /// Why each queued, dirty or scheduled key will run (the first reason wins).
    reasons: HashMap<K, Reason>,
    /// Why each running pass ran and when it started (for its metrics).
    started: HashMap<Id, (Reason, Instant)>,
}

impl<K: Clone + Eq + Hash + Ord> State<K> {
    fn new() -> Self {
        Self {
            queue: VecDeque::new(),
            queued: HashSet::new(),
            running: HashMap::new(),
            running_keys: HashSet::new(),
            dirty: HashSet::new(),
            scheduled: HashMap::new(),
            timers: BinaryHeap::new(),
            timer_seq: 0,
            failures: HashMap::new(),
            reasons: HashMap::new(),
            started: HashMap::new(),
        }
    }

    fn enqueue_now(&mut self, key: K, reason: Reason) {
        if self.scheduled.remove(&key).is_some() {
            // A trigger before the timer: the trigger is why it runs.
            self.reasons.insert(key.clone(), reason);
        } else {
            self.reasons.entry(key.clone()).or_insert(reason);
        }
        if self.running_keys.contains(&key) {
            self.dirty.insert(key);
        } else if self.queued.insert(key.clone()) {
            self.queue.push_back(key);
        }
    }

    fn schedule(&mut self, key: K, at: Instant, reason: Reason) {
        // An earlier schedule wins; an immediate trigger clears it (see enqueue_now).
        if let Some(prev) = self.scheduled.get(&key)
            && *prev <= at
        {
            return;
        }
        self.scheduled.insert(key.clone(), at);
        self.reasons.insert(key.clone(), reason);
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, key)));
    }

    fn next_timer(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, _, key))) = self.timers.peek() {
            if self.scheduled.get(key) == Some(at) {
                return Some(*at);
            }
            self.timers.pop(); // stale
        }
        None
    }

    fn fire_due(&mut self, now: Instant) {
        while let Some(Reverse((at, _, key))) = self.timers.peek().cloned() {
            if at > now {
                break;
            }
            self.timers.pop();
            if self.scheduled.get(&key) == Some(&at) {
                self.scheduled.remove(&key);
                let reason = self.reasons.remove(&key).unwrap_or(Reason::Requeue);
                self.enqueue_now(key, reason);
            }
        }
    }
}

fn backoff(config: &Config, failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let raw = config.backoff_base.saturating_mul(1u32 << exp);
    let capped = raw.min(config.backoff_max);
    // Jitter in [0.5, 1.0] of the delay: retries of many keys do not arrive together.
    capped.mul_f64(rand::random_range(0.5..=1.0))
}

impl<R: Reconcile> Controller<R>
where
    R::Key: Ord,
{
    /// A controller and the handle to trigger it.
    pub fn new(name: &'static str, reconciler: Arc<R>, config: Config) -> (Self, Handle<R::Key>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let controller = Self {
            name,
            reconciler,
            config,
            tx: tx.clone(),
            rx,
        };
        (controller, Handle { tx })
    }

    fn waker(&self, key: &R::Key) -> Waker {
        let tx = self.tx.downgrade();
        let k = key.clone();
        Waker {
            id: format!("{}/{key:?}", self.name).into(),
            wake: Arc::new(move || {
                if let Some(tx) = tx.upgrade() {
                    let _ = tx.send((k.clone(), Reason::ProviderWatch));
                }
            }),
        }
    }

    async fn resync(&self, st: &mut State<R::Key>) {
        match self.reconciler.list().await {
            Ok(keys) => {
                for k in keys {
                    st.enqueue_now(k, Reason::Resync);
                }
            }
            Err(e) => tracing::warn!(controller = self.name, error = %e, "resync list failed"),
        }
    }

    /// Run until `shutdown` becomes true (or its sender is dropped). Reconciles in flight
    /// are aborted at shutdown; being idempotent, they are simply redone on the next start.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let concurrency = self.config.concurrency.max(1);
        let mut st: State<R::Key> = State::new();
        let mut tasks: JoinSet<Result<Action, R::Error>> = JoinSet::new();
        let mut resync = tokio::time::interval(self.config.resync);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let gauges = metrics::QueueGauges::of(self.name);
        let _triggers = AbortOnDrop(tokio::spawn(Arc::clone(&self.reconciler).triggers(
            Handle {
                tx: self.tx.clone(),
            },
        )));
        loop {
            while st.running.len() < concurrency {
                let Some(key) = st.queue.pop_front() else {
                    break;
                };
                st.queued.remove(&key);
                st.running_keys.insert(key.clone());
                let reason = st.reasons.remove(&key).unwrap_or(Reason::Resync);
                let r = Arc::clone(&self.reconciler);
                let k = key.clone();
                let waker = self.waker(&key);
                // One span per reconcile: which controller, which key, and why it ran.
                let span = tracing::info_span!(
                    "reconcile",
                    controller = self.name,
                    key = ?key,
                    reason = reason.as_str()
                );
                let pass = async move { r.reconcile(k).await }.instrument(span);
                let handle = tasks.spawn(CURRENT.scope(waker, pass));
                st.started.insert(handle.id(), (reason, Instant::now()));
                st.running.insert(handle.id(), key);
            }
            gauges.set(
                st.queue.len() + st.dirty.len(),
                st.running.len(),
                st.scheduled.len(),
            );
            let next_timer = st.next_timer();
            tokio::select! {
                Some((key, reason)) = self.rx.recv() => st.enqueue_now(key, reason),
                Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    self.finished(&mut st, done);
                }
                _ = sleep_until(next_timer) => st.fire_due(Instant::now()),
                _ = resync.tick() => self.resync(&mut st).await,
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        tasks.abort_all();
    }

    fn finished(
        &self,
        st: &mut State<R::Key>,
        done: Result<(Id, Result<Action, R::Error>), tokio::task::JoinError>,
    ) {
        let (id, outcome, panicked) = match done {
            Ok((id, r)) => (id, r.map_err(|e| e.to_string()), false),
            Err(join) => (join.id(), Err(format!("reconcile panicked: {join}")), true),
        };
        let Some(key) = st.running.remove(&id) else {
            return;
        };
        st.running_keys.remove(&key);
        if let Some((reason, at)) = st.started.remove(&id) {
            let how = match &outcome {
                Ok(Action::Done) => metrics::Outcome::Done,
                Ok(Action::RequeueAfter(_)) => metrics::Outcome::Requeue,
                Err(_) if panicked => metrics::Outcome::Panic,
                Err(_) => metrics::Outcome::Error,
            };
            metrics::pass(self.name, reason, how, at.elapsed());
        }
        match outcome {
            Ok(Action::Done) => {
                st.failures.remove(&key);
            }
            Ok(Action::RequeueAfter(d)) => {
                st.failures.remove(&key);
                st.schedule(key.clone(), Instant::now() + d, Reason::Requeue);
            }
            Err(e) => {
                let n = st.failures.entry(key.clone()).or_insert(0);
                *n += 1;
                let delay = backoff(&self.config, *n);
                tracing::warn!(controller = self.name, key = ?key, failures = *n,
                    retry_in_ms = delay.as_millis() as u64, error = %e, "reconcile failed");
                st.schedule(key.clone(), Instant::now() + delay, Reason::Retry);
            }
        }
        if st.dirty.remove(&key) {
            // Its reason is still recorded: the trigger that arrived while it ran.
            st.enqueue_now(key, Reason::Write);
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
