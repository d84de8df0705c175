//! Shared application state handed to every handler.

pub mod busy;

use std::sync::Arc;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{auth::AuthContext, config::Settings, providers::ProviderRegistry};

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub settings: Arc<Settings>,
    pub http: reqwest::Client,
    pub metrics: PrometheusHandle,
    /// JWT keys and the session-liveness cache.
    pub auth: AuthContext,
    /// This instance's fan-out of change events (fed by LISTEN/NOTIFY).
    pub events: crate::events::Hub,
    /// Cancelled when the server begins a graceful shutdown; long-lived tasks
    /// (WebSockets, calls) watch it to finish their work and say goodbye.
    pub shutdown: CancellationToken,
    /// Long-lived tasks (WebSocket sessions) the shutdown waits for.
    pub tasks: TaskTracker,
    /// STT/LLM/TTS providers by name, and the catalog.
    pub providers: Arc<ProviderRegistry>,
    /// Busy-time sources the day planner asks (a linked calendar registers itself here).
    pub busy: busy::BusySources,
}

impl FromRef<AppState> for PgPool {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

impl FromRef<AppState> for AuthContext {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for Arc<Settings> {
    fn from_ref(state: &AppState) -> Self {
        state.settings.clone()
    }
}
