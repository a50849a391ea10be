//! API request counts and latency by method, route template and status.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    /// The route template (never the raw path: ids would make a series per resource).
    route: String,
    status: u16,
}

pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
}

/// Request durations: 0.25 ms to ~8 s.
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.00025, 2.0, 16))
}

/// The methods the API answers, and `other` for anything else (a client's made-up method
/// must not make a series of its own).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl HttpMetrics {
    pub(crate) fn new() -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(request_histogram),
        }
    }

    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "linkplane_http_requests",
            "API requests answered, by method, route template and status",
            self.requests.clone(),
        );
        registry.register(
            "linkplane_http_request_duration_seconds",
            "How long API requests took to answer (to the response head), by method, route template and status",
            self.durations.clone(),
        );
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`): count and time every request.
pub async fn track(State(m): State<Arc<HttpMetrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    let labels = RequestLabels {
        method,
        route,
        status: resp.status().as_u16(),
    };
    m.durations
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    m.requests.get_or_create(&labels).inc();
    resp
}
