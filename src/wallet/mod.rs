//! The wallet: the only code that writes money. Per-user accounts with `balance`,
//! `reserved` and `available`; an append-only, double-entry ledger (the database applies
//! every entry to its account, refuses overdrafts, unbalanced transactions and any UPDATE
//! or DELETE of an entry); holds for calls; the price table and `pricing::cost`.
//!
//! Other modules call [`service`]: `credit`, `debit`, `reserve`, `extend`, `settle`,
//! `release`.

pub mod model;
pub mod pricing;
pub mod repo;
pub mod routes;
pub mod service;

use sqlx::PgPool;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// `/api/v1/wallet`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::get_wallet))
        .routes(routes!(routes::list_transactions))
        .routes(routes!(routes::add_credits))
}

/// `/api/v1/pricing`.
pub fn pricing_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(pricing::get_pricing))
}

/// `/api/v1/admin/users/{id}/credits` (full path: merged, not nested, so other modules can
/// add admin routes of their own).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(routes::admin_credits))
}

/// Housekeeping for the background loop: give back the credits of expired holds and drop
/// idempotency records past their retention. Each is one idempotent statement, safe on
/// several instances at once.
pub async fn sweep(db: &PgPool) -> sqlx::Result<()> {
    let expired = service::release_expired_holds(db).await?;
    if expired > 0 {
        tracing::info!(accounts = expired, "released expired wallet holds");
    }
    crate::http::idempotency::purge_expired(db).await?;
    Ok(())
}
