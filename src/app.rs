//! Building and running the server: router, middleware stack, graceful shutdown.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware,
    response::IntoResponse,
};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::{config::Settings, error::ApiError, http, openapi::ApiDoc, state::AppState};

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Connect to the database (waiting for it), migrate, bind the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = crate::db::pool(&settings.database)?;
        if settings.database.migrate_on_start {
            crate::db::migrate(
                &pool,
                Duration::from_secs(settings.database.startup_wait_secs),
            )
            .await?;
        }
        Self::build_with_pool(settings, pool).await
    }

    /// Build around an existing pool (tests pass the one `#[sqlx::test]` made).
    pub async fn build_with_pool(settings: Settings, pool: PgPool) -> anyhow::Result<Self> {
        crate::install_crypto_provider();
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr} (is another server using the port?)"))?;
        let state = AppState::new(settings, pool)?;
        crate::rag::index::sync_settings_at_start(&state).await;
        crate::background::spawn(&state);
        // `jobs.concurrency = 0`: an instance that serves HTTP only (tests run their own workers).
        if state.settings.jobs.concurrency > 0 {
            crate::jobs::Worker::start(&state, job_registry());
        }
        state.events.start(state.shutdown.clone());
        let router = build_router(state.clone());
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until SIGTERM or ctrl-c.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serve until `signal` resolves, then drain: in-flight requests finish, long-lived
    /// tasks (WebSockets, calls) see `state.shutdown` cancelled and get a grace period.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            router,
            state,
        } = self;
        let token = state.shutdown.clone();
        let grace = Duration::from_secs(state.settings.server.shutdown_grace_secs);
        let on_signal = {
            let token = token.clone();
            async move {
                tokio::select! {
                    _ = signal => {},
                    _ = token.cancelled() => {},
                }
                tracing::info!("shutting down: draining requests and sessions");
                token.cancel();
            }
        };
        // Voice frames and streamed events are small writes: send each at once (no Nagle
        // waiting on the peer's delayed ACK, which costs up to 40 ms a turn).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(on_signal)
        .await
        .context("serving HTTP")?;
        state.tasks.close();
        if tokio::time::timeout(grace, state.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some sessions did not finish within the shutdown grace period");
        }
        tracing::info!("shutdown complete");
        Ok(())
    }
}

impl AppState {
    pub fn new(settings: Settings, db: PgPool) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("cadence/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let settings = Arc::new(settings);
        Ok(AppState {
            auth: crate::auth::AuthContext::new(&settings)?,
            events: crate::events::Hub::new(db.clone(), settings.events.buffer),
            db,
            http,
            metrics: crate::metrics::handle(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            providers: Arc::new(crate::providers::ProviderRegistry::from_settings(&settings)),
            busy: Default::default(),
            settings,
        })
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Every API route, with its OpenAPI description.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::health::router())
        .routes(utoipa_axum::routes!(crate::metrics::render))
        .nest("/api/v1/auth", crate::accounts::router())
        .nest("/api/v1/users", crate::users::router())
        .merge(crate::messaging::phone_router())
        .merge(crate::event_stream::router())
        .nest("/api/v1/agents", crate::agents::router())
        .nest("/api/v1/wallet", crate::wallet::router())
        .nest("/api/v1/pricing", crate::wallet::pricing_router())
        .nest("/api/v1/payments", crate::payments::router())
        .merge(crate::wallet::admin_router())
        .nest("/api/v1/notes", crate::notes::router())
        .nest("/api/v1/tasks", crate::tasks::router())
        .nest("/api/v1/notifications", crate::notifications::router())
        .nest("/api/v1/goals", crate::goals::router())
        .merge(crate::planner::router())
        .nest("/api/v1/reflections", crate::reflections::router())
        .nest("/api/v1/schedule", crate::schedule::router())
        .nest("/api/v1/memories", crate::memories::router())
        .nest("/api/v1/rag", crate::rag::router())
        .nest("/api/v1/conversations", crate::chat::router())
        .nest("/api/v1/chat", crate::chat::socket_router())
        .nest("/api/v1/voice", crate::voice::router())
        .merge(crate::voice::bolna_router())
        .nest("/api/v1/avatar", crate::voice::avatar::router())
        .nest(
            "/api/v1/calls",
            crate::calls::router().merge(crate::telephony::calls_router()),
        )
        .nest("/api/v1/analytics", crate::analytics::router())
        .nest("/api/v1/phone-numbers", crate::telephony::numbers_router())
        .nest(
            "/api/v1/telephony/twilio",
            crate::telephony::twilio_router().merge(crate::messaging::inbound_router()),
        )
}

/// Every job kind the server handles (the job queue sits below the domains, so the list of
/// handlers is put together here, on top). Domains add their handlers here.
pub fn job_registry() -> crate::jobs::Registry {
    crate::notifications::register(crate::jobs::Registry::new())
        .add(crate::tasks::reminders::JOB, crate::tasks::reminders::run)
        .add(
            crate::voice::avatar::service::EXPIRE_JOB,
            crate::voice::avatar::service::expire_job,
        )
        .add(crate::chat::extract::JOB, crate::chat::extract::run)
        .add(crate::rag::index::JOB, crate::rag::index::run)
        // The escalation's WhatsApp, SMS and call steps (messaging sits above notifications).
        .add(
            crate::notifications::service::STEP_JOB,
            crate::messaging::escalation::run_step,
        )
}

pub fn build_router(state: AppState) -> Router {
    let (api, mut openapi) = api_router().split_for_parts();
    crate::openapi::document_errors(&mut openapi);
    let settings = state.settings.clone();

    let router = api
        .merge(SwaggerUi::new("/docs").url("/api/v1/openapi.json", openapi))
        .merge(crate::web::router())
        .fallback(http::problem::not_found)
        .with_state(state);

    let request_id = HeaderName::from_static(http::request_id::HEADER);
    let middleware = ServiceBuilder::new()
        .layer(middleware::from_fn(http::request_id::middleware))
        .layer(
            TraceLayer::new_for_http()
                // The fields are only evaluated when the span is enabled (nothing is
                // allocated per request when `log.level` leaves out info).
                .make_span_with(|req: &axum::http::Request<_>| {
                    tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(),
                        route = %req.extensions().get::<axum::extract::MatchedPath>()
                            .map_or("", |p| p.as_str()),
                        request_id = %req.headers().get(http::request_id::HEADER)
                            .and_then(|v| v.to_str().ok()).unwrap_or(""),
                        user_id = tracing::field::Empty)
                })
                .on_failure(()),
        )
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(middleware::from_fn(http::problem::middleware))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(settings.server.request_timeout_secs.max(1)),
        ))
        .layer(RequestBodyLimitLayer::new(settings.server.body_limit_bytes))
        .layer(cors_layer(&settings, request_id))
        .layer(CompressionLayer::new());

    router.layer(DefaultBodyLimit::disable()).layer(middleware)
}

fn cors_layer(settings: &Settings, request_id: HeaderName) -> CorsLayer {
    let origins = settings.server.cors_origins();
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::ACCEPT,
            HeaderName::from_static("idempotency-key"),
            request_id.clone(),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            HeaderName::from_static(http::idempotency::REPLAYED_HEADER),
            request_id,
        ])
        .max_age(Duration::from_secs(600))
}
