//! The signed-in user's profile, preferences and account deletion. Small enough that the
//! rules live in `routes.rs`; SQL is in `repo.rs` (shared with `auth`).

pub mod model;
pub mod repo;
pub mod routes;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            routes::get_me,
            routes::update_me,
            routes::put_me,
            routes::delete_me
        ))
        .routes(routes!(
            routes::get_preferences,
            routes::replace_preferences,
            routes::merge_preferences
        ))
}
