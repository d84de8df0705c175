//! The connection pool and migrations.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::{
    Connection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::config::DatabaseSettings;

/// A pooled connection idle at least this long is pinged before it is handed out.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub fn connect_options(settings: &DatabaseSettings) -> anyhow::Result<PgConnectOptions> {
    let opts = PgConnectOptions::from_str(settings.url.expose_secret())
        .context("invalid setting database.url: not a PostgreSQL URL")?
        .application_name("cadence")
        .options([(
            "statement_timeout",
            format!("{}s", settings.statement_timeout_secs.max(1)),
        )]);
    Ok(opts)
}

/// A pool that connects lazily, so the server starts (and `/health/ready` reports 503)
/// while the database is down, and recovers by itself when it returns.
pub fn pool(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .min_connections(settings.min_connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs.max(1)))
        .idle_timeout(Some(Duration::from_secs(600)))
        // sqlx pings every connection as it returns to the pool; pinging it again on every
        // checkout cost one more round trip per request (issue 21). Only a connection that
        // sat idle long enough for the server to have dropped it is tested first.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(connect_options(settings)?))
}

/// Run pending migrations, waiting up to `wait` for the database to accept connections.
pub async fn migrate(pool: &PgPool, wait: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match MIGRATOR.run(pool).await {
            Ok(()) => return Ok(()),
            Err(sqlx::migrate::MigrateError::Execute(e))
                if is_connect_error(&e) && tokio::time::Instant::now() < deadline =>
            {
                tracing::warn!(error = %e, "database not reachable yet, retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e).context("running database migrations"),
        }
    }
}

fn is_connect_error(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_)
    )
}

/// Is the database answering right now?
pub async fn ping(pool: &PgPool) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_secs(2),
            sqlx::query("select 1").execute(pool)
        )
        .await,
        Ok(Ok(_))
    )
}
