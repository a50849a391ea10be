//! What the dataplane of this process counts, for an operator's scrape: forwarder
//! connections and bytes per endpoint, DNS queries and answers by kind.
//!
//! Nothing is counted twice on the hot path: forwarders and DNS views keep their own
//! atomic counters ([`crate::ForwarderHandle::stats`], [`crate::dns::DnsView::stats`]);
//! this module knows every live one (weakly) and sums them at scrape time. What a stopped
//! forwarder or a dropped view had counted is kept ("retired") so that totals never go
//! down: DNS totals forever, an endpoint's until its last forwarder is gone (then its
//! series ends, as a removed endpoint's should).
//!
//! Labels carry no tenant data beyond the endpoint id (`vpce-…`); DNS is one total per
//! process, not per VPC. [`register`] puts the collector into a registry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::dns::{DnsStats, ViewInner};
use crate::forwarder::{Shared, StatsSnapshot};

#[derive(Default)]
struct Live {
    forwarders: Vec<Weak<Shared>>,
    /// What forwarders that are gone had counted, per endpoint label.
    retired_forwarders: HashMap<String, StatsSnapshot>,
    views: Vec<Weak<ViewInner>>,
    retired_dns: DnsStats,
}

static LIVE: Mutex<Option<Live>> = Mutex::new(None);

fn live() -> MutexGuard<'static, Option<Live>> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn with_live<T>(f: impl FnOnce(&mut Live) -> T) -> T {
    let mut g = live();
    f(g.get_or_insert_with(Live::default))
}

pub(crate) fn forwarder_started(shared: &Arc<Shared>) {
    with_live(|l| {
        l.forwarders.retain(|w| w.strong_count() > 0);
        l.forwarders.push(Arc::downgrade(shared));
    });
}

pub(crate) fn forwarder_retired(label: &str, s: StatsSnapshot) {
    with_live(|l| {
        let r = l.retired_forwarders.entry(label.to_owned()).or_default();
        add(r, &s);
        r.active = 0;
    });
}

pub(crate) fn dns_view_started(inner: &Arc<ViewInner>) {
    with_live(|l| {
        l.views.retain(|w| w.strong_count() > 0);
        l.views.push(Arc::downgrade(inner));
    });
}

pub(crate) fn dns_view_retired(s: DnsStats) {
    with_live(|l| add_dns(&mut l.retired_dns, &s));
}

fn add(to: &mut StatsSnapshot, s: &StatsSnapshot) {
    to.active += s.active;
    to.total += s.total;
    to.refused += s.refused;
    to.no_target += s.no_target;
    to.connect_failed += s.connect_failed;
    to.bytes_to_target += s.bytes_to_target;
    to.bytes_to_client += s.bytes_to_client;
}

fn add_dns(to: &mut DnsStats, s: &DnsStats) {
    to.queries += s.queries;
    to.private += s.private;
    to.forwarded += s.forwarded;
    to.public += s.public;
    to.failed += s.failed;
    to.cache_hits += s.cache_hits;
    to.memo_hits += s.memo_hits;
    to.dropped += s.dropped;
}

/// Per endpoint label: live forwarders plus what retired ones of a still-served endpoint
/// counted (a label with no live forwarder left is dropped with its retired counts).
pub fn forwarder_totals() -> Vec<(String, StatsSnapshot)> {
    let (shared, mut retired) = with_live(|l| {
        let shared: Vec<Arc<Shared>> = l.forwarders.iter().filter_map(Weak::upgrade).collect();
        l.retired_forwarders
            .retain(|label, _| shared.iter().any(|s| s.label() == label));
        (shared, l.retired_forwarders.clone())
    });
    let mut out: HashMap<String, StatsSnapshot> = HashMap::new();
    for s in &shared {
        let snap = s.snapshot();
        let e = out.entry(s.label().to_owned()).or_default();
        if s.is_stopped() {
            // Stopped but not yet dropped: its counts are final, it holds no connection.
            add(e, &StatsSnapshot { active: 0, ..snap });
        } else {
            add(e, &snap);
        }
    }
    drop(shared); // outside the lock: a last reference retires through it
    for (label, r) in retired.drain() {
        if let Some(e) = out.get_mut(&label) {
            add(e, &r);
        }
    }
    let mut v: Vec<_> = out.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Every view of this process, live and dropped.
pub fn dns_totals() -> DnsStats {
    let (views, mut total) = with_live(|l| {
        let views: Vec<Arc<ViewInner>> = l.views.iter().filter_map(Weak::upgrade).collect();
        (views, l.retired_dns)
    });
    for v in &views {
        add_dns(&mut total, &v.stats());
    }
    drop(views);
    total
}

/// Put the dataplane's collector into `registry` (`linkplane_forwarder_…`, `linkplane_dns_…`).
pub fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(DataplaneCollector));
}

#[derive(Debug)]
struct DataplaneCollector;

fn counter_family(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(Vec<(&'static str, String)>, u64)],
) -> Result<(), std::fmt::Error> {
    let mut m = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        ConstCounter::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

impl Collector for DataplaneCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let fwd = forwarder_totals();
        let ep = |e: &str| vec![("endpoint", e.to_owned())];
        let with =
            |e: &str, k: &'static str, v: &str| vec![("endpoint", e.to_owned()), (k, v.to_owned())];
        {
            let mut m = encoder.encode_descriptor(
                "linkplane_forwarder_connections_active",
                "Connections a PrivateLink forwarder is carrying now, per endpoint",
                None,
                MetricType::Gauge,
            )?;
            for (e, s) in &fwd {
                let active = i64::try_from(s.active).unwrap_or(i64::MAX);
                ConstGauge::new(active).encode(m.encode_family(&ep(e))?)?;
            }
        }
        let rows: Vec<_> = fwd.iter().map(|(e, s)| (ep(e), s.total)).collect();
        counter_family(
            &mut encoder,
            "linkplane_forwarder_connections",
            "Connections forwarded to a target, per endpoint",
            &rows,
        )?;
        let mut rows = Vec::new();
        for (e, s) in &fwd {
            rows.push((with(e, "reason", "gate_closed"), s.refused));
            rows.push((with(e, "reason", "no_healthy_target"), s.no_target));
            rows.push((with(e, "reason", "connect_failed"), s.connect_failed));
        }
        counter_family(
            &mut encoder,
            "linkplane_forwarder_connections_reset",
            "Connections reset instead of forwarded, per endpoint and why (gate_closed: the endpoint is not accepted; no_healthy_target; connect_failed)",
            &rows,
        )?;
        let mut rows = Vec::new();
        for (e, s) in &fwd {
            rows.push((with(e, "direction", "to_target"), s.bytes_to_target));
            rows.push((with(e, "direction", "to_client"), s.bytes_to_client));
        }
        counter_family(
            &mut encoder,
            "linkplane_forwarder_bytes",
            "Bytes a forwarder moved, per endpoint and direction",
            &rows,
        )?;
        let d = dns_totals();
        counter_family(
            &mut encoder,
            "linkplane_dns_queries",
            "DNS questions the VPC resolvers of this process received (UDP and TCP)",
            &[(vec![], d.queries)],
        )?;
        let kind = |k: &str| vec![("kind", k.to_owned())];
        counter_family(
            &mut encoder,
            "linkplane_dns_answers",
            "DNS answers by kind: private (from a private hosted zone), forwarded (a resolver rule's targets), public (the public upstream), failed (SERVFAIL)",
            &[
                (kind("private"), d.private),
                (kind("forwarded"), d.forwarded),
                (kind("public"), d.public),
                (kind("failed"), d.failed),
            ],
        )?;
        let cache = |k: &str| vec![("cache", k.to_owned())];
        counter_family(
            &mut encoder,
            "linkplane_dns_cache_hits",
            "DNS answers served from a cache: answer (forwarded or public answers, also counted there), memo (encoded private-zone answers on the UDP fast path, also counted as private)",
            &[
                (cache("answer"), d.cache_hits),
                (cache("memo"), d.memo_hits),
            ],
        )?;
        Ok(())
    }
}
