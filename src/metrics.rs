//! Prometheus metrics: HTTP requests by matched route/method/status with a latency
//! histogram, database pool gauges, open WebSockets. Other modules record their own
//! series through the `metrics` macros; `/metrics` renders them all.

use std::{
    sync::{Arc, OnceLock},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use sqlx::PgPool;

use crate::config::Settings;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder (installed once, shared by every app in the process).
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("valid buckets")
                .install_recorder()
                .expect("install the Prometheus recorder")
        })
        .clone()
}

/// Middleware recording every request under its route template (never the raw path,
/// which would explode cardinality).
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    resp
}

/// Counts an open WebSocket for as long as it lives.
pub struct WsGuard {
    kind: &'static str,
}

impl WsGuard {
    pub fn new(kind: &'static str) -> Self {
        metrics::gauge!("websockets_open", "kind" => kind).increment(1.0);
        Self { kind }
    }
}

impl Drop for WsGuard {
    fn drop(&mut self) {
        metrics::gauge!("websockets_open", "kind" => self.kind).decrement(1.0);
    }
}

#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
pub async fn render(
    State(db): State<PgPool>,
    State(settings): State<Arc<Settings>>,
) -> impl IntoResponse {
    metrics::gauge!("db_pool_connections").set(db.size() as f64);
    metrics::gauge!("db_pool_idle_connections").set(db.num_idle() as f64);
    metrics::gauge!("db_pool_max_connections").set(settings.database.max_connections as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle().render(),
    )
}
