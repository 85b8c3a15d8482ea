//! What the server counts for `GET /metrics` (Prometheus' OpenMetrics text format): uploads
//! started, finished and failed by protocol, bytes received, sessions receiving now, and how
//! long requests take. Counting is a few atomic adds and always on; the numbers are served
//! only on `--metrics-listen`'s own address ([`router`]), never on the upload listener.
//!
//! It knows nothing of users, paths or tokens: no label carries anything a client chose,
//! so a hostile client cannot grow the number of series or read another user's activity.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use ferry_proto::Protocol;

/// A protocol as a label value (`tus`, `galileo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ProtocolLabel(Protocol);

impl EncodeLabelValue for ProtocolLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.0.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ByProtocol {
    protocol: ProtocolLabel,
}

impl ByProtocol {
    fn of(protocol: Protocol) -> Self {
        Self {
            protocol: ProtocolLabel(protocol),
        }
    }
}

/// Which part of the server a request went to (a fixed set: never the path itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Endpoint {
    Tus,
    Galileo,
    Api,
    Other,
}

impl EncodeLabelValue for Endpoint {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            Self::Tus => "tus",
            Self::Galileo => "galileo",
            Self::Api => "api",
            Self::Other => "other",
        })
    }
}

/// The request's method, from a fixed set (anything else is "other").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct MethodLabel(&'static str);

impl EncodeLabelValue for MethodLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    endpoint: Endpoint,
    method: MethodLabel,
}

type LatencyFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// Every number the server keeps, and the registry that prints them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    started: Family<ByProtocol, Counter>,
    finished: Family<ByProtocol, Counter>,
    failed: Family<ByProtocol, Counter>,
    received: Family<ByProtocol, Counter>,
    active: Family<ByProtocol, Gauge>,
    latency: LatencyFamily,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 4.4 min: a HEAD takes a millisecond, a PATCH as long as its body.
    Histogram::new(exponential_buckets(0.001, 4.0, 10))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ferry");
        let started = Family::<ByProtocol, Counter>::default();
        let finished = Family::<ByProtocol, Counter>::default();
        let failed = Family::<ByProtocol, Counter>::default();
        let received = Family::<ByProtocol, Counter>::default();
        let active = Family::<ByProtocol, Gauge>::default();
        let latency = LatencyFamily::new_with_constructor(latency_histogram);
        registry.register(
            "uploads_started",
            "Uploads created (tus creation, or a new GalileoSend file; partial uploads of a concatenation not counted)",
            started.clone(),
        );
        registry.register(
            "uploads_finished",
            "Uploads verified and stored under files/",
            finished.clone(),
        );
        registry.register(
            "uploads_failed",
            "Uploads whose last byte arrived but which could not be stored (hash mismatch, lost data, disk error)",
            failed.clone(),
        );
        registry.register(
            "received_bytes",
            "Upload bytes written to disk",
            received.clone(),
        );
        registry.register(
            "active_sessions",
            "Request bodies (tus) and WebSocket sessions (GalileoSend) receiving now",
            active.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from a request's arrival to its response (a PATCH's includes its body)",
            latency.clone(),
        );
        for protocol in Protocol::ALL {
            // Present from the start, so that rate() sees the first upload.
            let labels = ByProtocol::of(protocol);
            for family in [&started, &finished, &failed, &received] {
                drop(family.get_or_create(&labels));
            }
            drop(active.get_or_create(&labels));
        }
        Self {
            registry,
            started,
            finished,
            failed,
            received,
            active,
            latency,
        }
    }
}

impl Metrics {
    /// An upload was created.
    pub fn started(&self, protocol: Protocol) {
        self.started.get_or_create(&ByProtocol::of(protocol)).inc();
    }

    /// An upload was verified and stored (`true`) or could not be (`false`).
    pub fn finished(&self, protocol: Protocol, stored: bool) {
        let family = if stored { &self.finished } else { &self.failed };
        family.get_or_create(&ByProtocol::of(protocol)).inc();
    }

    /// `bytes` of an upload were written to disk.
    pub fn received(&self, protocol: Protocol, bytes: u64) {
        self.received
            .get_or_create(&ByProtocol::of(protocol))
            .inc_by(bytes);
    }

    /// A session receiving bytes, counted until the guard is dropped.
    pub fn session(self: &Arc<Self>, protocol: Protocol) -> ActiveSession {
        self.active.get_or_create(&ByProtocol::of(protocol)).inc();
        ActiveSession {
            metrics: Arc::clone(self),
            protocol,
        }
    }

    /// The text served at `/metrics`.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; a metric that could not be encoded shows as a
        // comment rather than a broken page.
        if let Err(err) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            let _ = writeln!(text, "# encoding failed: {err}");
        }
        text
    }

    fn observe(&self, labels: RequestLabels, started: Instant) {
        self.latency
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
    }
}

/// One receiving session in `active_sessions`; dropping it ends the session.
#[derive(Debug)]
pub struct ActiveSession {
    metrics: Arc<Metrics>,
    protocol: Protocol,
}

impl Drop for ActiveSession {
    fn drop(&mut self) {
        self.metrics
            .active
            .get_or_create(&ByProtocol::of(self.protocol))
            .dec();
    }
}

fn endpoint(path: &str) -> Endpoint {
    if path == "/files" || path.starts_with("/files/") {
        Endpoint::Tus
    } else if path == "/galileo" || path.starts_with("/galileo/") {
        Endpoint::Galileo
    } else if path.starts_with("/api/") || path == "/healthz" {
        Endpoint::Api
    } else {
        Endpoint::Other
    }
}

fn method(method: &Method) -> MethodLabel {
    MethodLabel(match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    })
}

/// Middleware for the upload listener: times every request into `request_duration_seconds`.
pub async fn time_requests(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let labels = RequestLabels {
        endpoint: endpoint(request.uri().path()),
        method: method(request.method()),
    };
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe(labels, started);
    response
}

/// The metrics listener's routes: `GET /metrics` only, without sign-in (bind it where only
/// the monitoring system reaches).
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(serve_metrics))
        .with_state(metrics)
}

async fn serve_metrics(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_by_protocol_and_nothing_a_client_chose() {
        let metrics = Arc::new(Metrics::default());
        metrics.started(Protocol::Tus);
        metrics.finished(Protocol::Tus, true);
        metrics.finished(Protocol::Galileo, false);
        metrics.received(Protocol::Galileo, 1234);
        let session = metrics.session(Protocol::Tus);
        metrics.observe(
            RequestLabels {
                endpoint: endpoint("/files/abc"),
                method: method(&Method::from_bytes(b"BREW").unwrap()),
            },
            Instant::now(),
        );
        let text = metrics.render();
        for line in [
            "ferry_uploads_started_total{protocol=\"tus\"} 1",
            "ferry_uploads_started_total{protocol=\"galileo\"} 0",
            "ferry_uploads_finished_total{protocol=\"tus\"} 1",
            "ferry_uploads_failed_total{protocol=\"galileo\"} 1",
            "ferry_received_bytes_total{protocol=\"galileo\"} 1234",
            "ferry_active_sessions{protocol=\"tus\"} 1",
            "ferry_request_duration_seconds_count{endpoint=\"tus\",method=\"other\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
        drop(session);
        assert!(
            metrics
                .render()
                .lines()
                .any(|l| l == "ferry_active_sessions{protocol=\"tus\"} 0")
        );
    }

    #[test]
    fn endpoints_are_a_fixed_set() {
        assert_eq!(endpoint("/files/"), Endpoint::Tus);
        assert_eq!(endpoint("/files"), Endpoint::Tus);
        assert_eq!(endpoint("/filesystem"), Endpoint::Other);
        assert_eq!(endpoint("/galileo"), Endpoint::Galileo);
        assert_eq!(endpoint("/api/v1/info"), Endpoint::Api);
        assert_eq!(endpoint("/healthz"), Endpoint::Api);
        assert_eq!(endpoint("/../etc/passwd"), Endpoint::Other);
    }
}
