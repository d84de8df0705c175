//! Retrieval over the user's own data: full-text rank and embedding similarity fused by
//! reciprocal rank (`POST /rag/query`), and the durable job that embeds notes, memories and
//! tasks as they are written ([`index`]). Chat builds its context from it.

pub mod index;
pub mod model;
pub mod repo;
pub mod routes;
pub mod service;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(routes::rag_query))
}
