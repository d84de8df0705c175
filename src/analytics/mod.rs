//! Analytics: the signed-in user's usage over time (`GET /api/v1/analytics/usage`), summed
//! from calls, chat replies and the wallet ledger. A read-only domain with no rules of its
//! own, so there is no service room: `routes` validates the query, `repo` holds the SQL.

pub mod repo;
pub mod routes;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub use routes::UsagePeriod;

/// `/api/v1/analytics`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(routes::get_usage))
}
