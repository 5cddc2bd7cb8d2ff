//! `/healthz` and `/metrics`: readiness for a load balancer and Prometheus text metrics for
//! monitoring.
//!
//! `/healthz` answers 200 while Ringside can acknowledge events (`ready` or `degraded`) and
//! 503 when it cannot (`unavailable`: the store fails, is read-only or full); see
//! [`ringside_app::health`]. Without the API token it says only its status (nothing about
//! what is configured); with it, the store's and every source's state too.
//!
//! `/metrics` (API token required, like the API) in the OpenMetrics text format:
//! `ringside_webhooks_total{provider,outcome}` (events in: stored, duplicate, refused,
//! failed), `ringside_http_responses_total{route,class}` (2xx/3xx/4xx/5xx for hooks, api,
//! other), `ringside_webhook_store_seconds` (a webhook from its body read to its commit being
//! durable: the fold lag), `ringside_writer_queue` (jobs waiting for the writer),
//! `ringside_live_subscribers`, `ringside_store_bytes`, `ringside_store_free_bytes`,
//! `ringside_ready` (1 ready, 0.5 degraded, 0 unavailable), `ringside_source_up{source}`.

use crate::auth;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use ringside_app::health::{self, Readiness};
use ringside_app::Ringside;
use ringside_core::Provider;
use serde_json::json;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

type Labels = Vec<(&'static str, String)>;

/// What the listener counts, shared by the routes.
pub struct Metrics {
    registry: Registry,
    webhooks: Family<Labels, Counter>,
    responses: Family<Labels, Counter>,
    store_seconds: Histogram,
    queue: Gauge,
    subscribers: Gauge,
    store_bytes: Gauge,
    free_bytes: Gauge,
    ready: Gauge<f64, AtomicU64>,
    sources: Family<Labels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ringside");
        let m = Metrics {
            webhooks: Family::default(),
            responses: Family::default(),
            store_seconds: Histogram::new([
                0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
            ]),
            queue: Gauge::default(),
            subscribers: Gauge::default(),
            store_bytes: Gauge::default(),
            free_bytes: Gauge::default(),
            ready: Gauge::default(),
            sources: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "webhooks",
            "Webhook deliveries by provider and outcome (stored, duplicate, refused, failed)",
            m.webhooks.clone(),
        );
        registry.register(
            "http_responses",
            "Responses by route (hooks, api, other) and status class",
            m.responses.clone(),
        );
        registry.register(
            "webhook_store_seconds",
            "From a webhook's body read to its commit being durable",
            m.store_seconds.clone(),
        );
        registry.register(
            "writer_queue",
            "Jobs waiting for the store's writer",
            m.queue.clone(),
        );
        registry.register(
            "live_subscribers",
            "Clients of the live stream",
            m.subscribers.clone(),
        );
        registry.register(
            "store_bytes",
            "The database and its WAL",
            m.store_bytes.clone(),
        );
        registry.register(
            "store_free_bytes",
            "Free space for the data directory",
            m.free_bytes.clone(),
        );
        registry.register(
            "ready",
            "1 ready, 0.5 degraded, 0 unavailable (see /healthz)",
            m.ready.clone(),
        );
        registry.register(
            "source_up",
            "1 when a source Ringside connects to is connected (or disabled)",
            m.sources.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// A webhook for `provider` (a name from the path: only known ones become labels, so no
    /// stranger can make up series) ended as `outcome`.
    pub fn webhook(&self, provider: &str, outcome: &'static str) {
        let provider = provider
            .parse::<Provider>()
            .map_or("unknown", |p| p.as_str())
            .to_string();
        self.webhooks
            .get_or_create(&vec![("provider", provider), ("outcome", outcome.into())])
            .inc();
    }

    /// A webhook took `seconds` from its body read to its commit being durable.
    pub fn stored_in(&self, seconds: f64) {
        self.store_seconds.observe(seconds);
    }
}

/// Counts every response by route and status class.
pub async fn count(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let route = if path.starts_with("/hooks/") || path == "/hooks" {
        "hooks"
    } else if path.starts_with("/api/") {
        "api"
    } else {
        "other"
    };
    let res = next.run(req).await;
    let class = format!("{}xx", res.status().as_u16() / 100);
    m.responses
        .get_or_create(&vec![("route", route.to_string()), ("class", class)])
        .inc();
    res
}

/// `GET /healthz`
pub async fn healthz(State(r): State<Ringside>, headers: HeaderMap) -> Response {
    let h = health::check(&r).await;
    let status = match h.status {
        Readiness::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    if auth::bearer_ok(&r, &headers) {
        (status, Json(h)).into_response()
    } else {
        (status, Json(json!({ "status": h.status }))).into_response()
    }
}

/// `GET /metrics` (behind the API's guard).
pub async fn metrics(State(r): State<Ringside>, Extension(m): Extension<Arc<Metrics>>) -> Response {
    let h = health::check(&r).await;
    m.queue.set(r.engine.queued() as i64);
    m.subscribers.set(r.live.subscribers() as i64);
    m.store_bytes.set(h.store.size_bytes as i64);
    m.free_bytes.set(h.store.free_bytes.unwrap_or(0) as i64);
    m.ready.set(match h.status {
        Readiness::Ready => 1.0,
        Readiness::Degraded => 0.5,
        Readiness::Unavailable => 0.0,
    });
    m.sources.clear();
    for s in &h.sources {
        let up = matches!(
            s.state,
            ringside_app::status::SourceState::Connected
                | ringside_app::status::SourceState::Disabled
        );
        m.sources
            .get_or_create(&vec![("source", s.name.clone())])
            .set(up as i64);
    }
    let mut text = String::new();
    if let Err(e) = encode(&mut text, &m.registry) {
        return crate::error::HttpError::internal(anyhow::anyhow!("encoding metrics: {e}"))
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
