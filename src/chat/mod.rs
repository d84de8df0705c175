//! Chat: the user's conversations with their agents. A message runs the agent (context,
//! tools, bounded steps; see `crate::assistant`), stores both sides with the tool calls and
//! the usage, and bills the reply to the wallet. Replies come back as JSON, as SSE, or over
//! `WS /api/v1/chat/{conversation_id}`.

pub mod extract;
pub mod model;
pub mod repo;
pub mod routes;
pub mod service;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// `/api/v1/conversations`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            routes::list_conversations,
            routes::create_conversation
        ))
        .routes(routes!(
            routes::get_conversation,
            routes::update_conversation,
            routes::put_conversation,
            routes::delete_conversation
        ))
        .routes(routes!(routes::list_messages, routes::post_message))
}

/// `/api/v1/chat` (the WebSocket).
pub fn socket_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(routes::chat_socket))
}
