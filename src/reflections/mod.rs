//! Reflections: dated journal entries (daily, weekly, monthly, about a goal, or freeform).
//! They are written once and read back; there is no update.

pub mod model;
pub mod repo;
pub mod routes;
pub mod service;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list_reflections, routes::create_reflection))
        .routes(routes!(routes::get_reflection, routes::delete_reflection))
}
