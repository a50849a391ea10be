//! `GET /metrics`: what an operator scrapes, in the Prometheus text format (0.0.4), from
//! [`prometheus-client`](prometheus_client).
//!
//! | family | labels | from |
//! |---|---|---|
//! | `linkplane_http_requests_total`, `linkplane_http_request_duration_seconds` | `method`, `route` (the route template, e.g. `/v1/organizations/{organizationId}/clusters`; `unmatched` for a path no route has), `status` | [`http`]: every request of the plane's router (`/v1`, `/cloud/v1`, `/healthz`, `/docs`) |
//! | `linkplane_reconcile_passes_total`, `_errors_total`, `_duration_seconds`, `_queue_depth`, `_in_flight`, `_scheduled` | `controller`, `reason`, `outcome` | [`linkplane_reconciler::metrics`] |
//! | `linkplane_provider_call_duration_seconds` | `provider`, `operation` (`private_link.ensure_endpoint_service`), `outcome` (`ok`, `refused`, `not_found`, `unavailable`, `unsupported`, `disabled`) | [`provider::Metered`] around every registered provider |
//! | `linkplane_forwarder_connections_active`, `_connections_total`, `_connections_reset_total`, `_bytes_total` | `endpoint` (`vpce-…`), `reason`, `direction` | [`linkplane_dataplane::metrics`] |
//! | `linkplane_dns_queries_total`, `linkplane_dns_answers_total`, `linkplane_dns_cache_hits_total` | `kind`, `cache` | [`linkplane_dataplane::metrics`] |
//! | `process_open_fds`, `process_resident_memory_bytes` | — | `/proc/self` at scrape time |
//!
//! **Who may scrape.** `/metrics` is not on the API listener: `serve --metrics-listen ADDR`
//! serves it on a listener of its own (off by default), for the operator to bind where only
//! their monitoring reaches (loopback, an ops network), with no token. Labels name route
//! templates, controllers, providers, endpoint ids and outcomes, never an organization, a
//! name, a raw path, a token or an address: nothing a tenant sent is echoed into a series.

pub mod http;
pub mod provider;

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

pub use provider::Metered;

/// The plane's registry and the families the composition root itself records into.
pub struct Metrics {
    registry: Registry,
    http: Arc<http::HttpMetrics>,
    calls: provider::CallFamily,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Every family of this process, registered once.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let http = Arc::new(http::HttpMetrics::new());
        http.register(&mut registry);
        let calls: provider::CallFamily = Family::new_with_constructor(provider::call_histogram);
        registry.register(
            "linkplane_provider_call_duration_seconds",
            "How long provider calls took, by provider, operation (capability.method) and outcome",
            calls.clone(),
        );
        linkplane_reconciler::metrics::register(&mut registry);
        linkplane_dataplane::metrics::register(&mut registry);
        registry.register_collector(Box::new(ProcessCollector));
        Self {
            registry,
            http,
            calls,
        }
    }

    /// `provider`, with every call timed.
    pub fn metered(
        &self,
        provider: Arc<dyn linkplane_provider::Provider>,
    ) -> Arc<dyn linkplane_provider::Provider> {
        Arc::new(Metered::new(provider, self.calls.clone()))
    }

    /// The HTTP families (what [`http::track`] records into).
    pub fn http(&self) -> Arc<http::HttpMetrics> {
        Arc::clone(&self.http)
    }

    /// The scrape, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::warn!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// `GET /metrics` (and nothing else: every other path is 404).
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = Arc::clone(&metrics);
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                    )],
                    metrics.render(),
                )
                    .into_response()
            }
        }),
    )
}

/// This process's descriptors and resident memory, read at scrape time.
#[derive(Debug)]
struct ProcessCollector;

fn open_fds() -> Option<i64> {
    let n = std::fs::read_dir("/proc/self/fd").ok()?.count();
    // The directory handle read_dir held is among those counted.
    i64::try_from(n.saturating_sub(1)).ok()
}

fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: i64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(n) = open_fds() {
            let m = encoder.encode_descriptor(
                "process_open_fds",
                "Open file descriptors of this process",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(n).encode(m)?;
        }
        if let Some(b) = resident_bytes() {
            let m = encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory of this process",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(b).encode(m)?;
        }
        Ok(())
    }
}
