//! Memories: what the assistant knows about the user (facts, preferences, events, people),
//! with an importance, tags, a source and a validity (`valid_from`/`valid_until`), and
//! full-text recall. Chat and voice agents read the current ones into their context and
//! write new ones through the same service functions; `chat::extract` learns them from
//! conversations in the background.

pub mod model;
pub mod repo;
pub mod routes;
pub mod service;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list_memories, routes::create_memory))
        .routes(routes!(
            routes::get_memory,
            routes::update_memory,
            routes::put_memory,
            routes::delete_memory
        ))
}
