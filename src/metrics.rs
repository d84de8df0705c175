//! Prometheus metrics: HTTP requests by matched route/method/status with a latency
//! histogram, database pool gauges, open WebSockets. Other modules record their own
//! series through the `metrics` macros; `/metrics` renders them all.

use std::{
    sync::{Arc, LazyLock, OnceLock},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use dashmap::DashMap;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use parking_lot::RwLock;

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

/// Handles of the request series by route template, then `(method, status)`: recording a
/// request is a lookup, where building its three label strings and hashing them into the
/// registry cost an allocation each on every request (issue 21).
type RouteSeries = RwLock<Vec<(Method, u16, Counter, Histogram)>>;
static SERIES: LazyLock<DashMap<String, RouteSeries>> = LazyLock::new(DashMap::new);

fn record(route: &str, method: &Method, status: u16, seconds: f64) {
    if let Some(series) = SERIES.get(route)
        && let Some((.., c, h)) = series
            .read()
            .iter()
            .find(|(m, s, ..)| m == method && *s == status)
    {
        c.increment(1);
        h.record(seconds);
        return;
    }
    let labels = [
        ("route", route.to_owned()),
        ("method", method.as_str().to_owned()),
        ("status", status.to_string()),
    ];
    let counter = metrics::counter!("http_requests_total", &labels);
    let histogram = metrics::histogram!("http_request_duration_seconds", &labels);
    counter.increment(1);
    histogram.record(seconds);
    let series = SERIES.entry(route.to_owned()).or_default();
    let mut series = series.write();
    if !series.iter().any(|(m, s, ..)| m == method && *s == status) {
        series.push((method.clone(), status, counter, histogram));
    }
}

/// Middleware recording every request under its route template (never the raw path,
/// which would explode cardinality).
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let resp = next.run(req).await;
    record(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        &method,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
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
