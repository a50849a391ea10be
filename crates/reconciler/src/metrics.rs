//! What every [`Controller`](crate::Controller) of this process counts, for an operator's
//! scrape: passes by controller, [`Reason`] and outcome, their durations, and each
//! controller's queue. Process-wide (one set for every controller that runs here); the
//! composition root puts them in its registry with [`register`].

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::Reason;

/// How a pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Converged ([`Action::Done`](crate::Action::Done)).
    Done,
    /// Asked to look again later ([`Action::RequeueAfter`](crate::Action::RequeueAfter)).
    Requeue,
    /// Returned an error (retried with backoff).
    Error,
    /// Panicked (counted as an error, retried with backoff).
    Panic,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Requeue => "requeue",
            Self::Error => "error",
            Self::Panic => "panic",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PassLabels {
    controller: &'static str,
    reason: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DurationLabels {
    controller: &'static str,
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ControllerLabel {
    controller: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

struct Metrics {
    passes: Family<PassLabels, Counter>,
    errors: Family<DurationLabels, Counter>,
    durations: HistogramFamily<DurationLabels>,
    queued: Family<ControllerLabel, Gauge>,
    running: Family<ControllerLabel, Gauge>,
    scheduled: Family<ControllerLabel, Gauge>,
}

/// Reconcile durations: 1 ms to ~33 s.
fn duration_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 16,
    ))
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    passes: Family::default(),
    errors: Family::default(),
    durations: Family::new_with_constructor(duration_histogram),
    queued: Family::default(),
    running: Family::default(),
    scheduled: Family::default(),
});

/// Put the controllers' metrics into `registry` (`linkplane_reconcile_…`).
pub fn register(registry: &mut Registry) {
    let m = &*METRICS;
    registry.register(
        "linkplane_reconcile_passes",
        "Reconcile passes by controller, why they ran (write, provider watch, resync, retry, requeue) and how they ended (done, requeue, error, panic)",
        m.passes.clone(),
    );
    registry.register(
        "linkplane_reconcile_errors",
        "Reconcile passes that failed (an error or a panic), by controller and why they ran",
        m.errors.clone(),
    );
    registry.register(
        "linkplane_reconcile_duration_seconds",
        "How long reconcile passes took, by controller and why they ran",
        m.durations.clone(),
    );
    registry.register(
        "linkplane_reconcile_queue_depth",
        "Keys waiting to be reconciled now (queued, or triggered again while running), by controller",
        m.queued.clone(),
    );
    registry.register(
        "linkplane_reconcile_in_flight",
        "Reconcile passes running, by controller",
        m.running.clone(),
    );
    registry.register(
        "linkplane_reconcile_scheduled",
        "Keys waiting on a timer (a requeue or a retry's backoff), by controller",
        m.scheduled.clone(),
    );
}

/// One controller's queue gauges (looked up once, set on every turn of its loop).
pub(crate) struct QueueGauges {
    queued: Gauge,
    running: Gauge,
    scheduled: Gauge,
}

impl QueueGauges {
    pub(crate) fn of(controller: &'static str) -> Self {
        let l = ControllerLabel { controller };
        let m = &*METRICS;
        Self {
            queued: m.queued.get_or_create_owned(&l),
            running: m.running.get_or_create_owned(&l),
            scheduled: m.scheduled.get_or_create_owned(&l),
        }
    }

    pub(crate) fn set(&self, queued: usize, running: usize, scheduled: usize) {
        let g = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.queued.set(g(queued));
        self.running.set(g(running));
        self.scheduled.set(g(scheduled));
    }
}

/// Record one finished pass.
pub(crate) fn pass(controller: &'static str, reason: Reason, outcome: Outcome, took: Duration) {
    let m = &*METRICS;
    let reason = reason.as_str();
    m.passes
        .get_or_create(&PassLabels {
            controller,
            reason,
            outcome: outcome.as_str(),
        })
        .inc();
    let l = DurationLabels { controller, reason };
    if matches!(outcome, Outcome::Error | Outcome::Panic) {
        m.errors.get_or_create(&l).inc();
    }
    m.durations.get_or_create(&l).observe(took.as_secs_f64());
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The text an operator scrapes, for the tests of this crate.
    pub(crate) fn scrape() -> String {
        let mut r = Registry::default();
        register(&mut r);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &r).expect("encode");
        out
    }

    #[test]
    fn a_pass_is_counted_by_controller_reason_and_outcome() {
        pass(
            "metrics-unit",
            Reason::Retry,
            Outcome::Error,
            Duration::from_millis(3),
        );
        let text = scrape();
        assert!(
            text.contains(
                r#"linkplane_reconcile_passes_total{controller="metrics-unit",reason="retry",outcome="error"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"linkplane_reconcile_errors_total{controller="metrics-unit",reason="retry"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"linkplane_reconcile_duration_seconds_count{controller="metrics-unit",reason="retry"} 1"#
            ),
            "{text}"
        );
    }
}
