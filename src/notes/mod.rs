//! Notes: rich-text documents (BlockNote JSON or any JSON) with a derived plain text for
//! full-text search, arranged in a tree (`parent_id`; deleting a note deletes its subtree).

pub mod model;
pub mod plain_text;
pub mod repo;
pub mod routes;
pub mod service;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list_notes, routes::create_note))
        .routes(routes!(
            routes::get_note,
            routes::update_note,
            routes::put_note,
            routes::delete_note
        ))
        .routes(routes!(routes::list_note_tasks))
}
