//! Agents: a persona (prompt, welcome message, tools) with its speech-to-text, language
//! model and text-to-speech choices, validated against the providers catalog. Built-in
//! agents (seeded by migration, `user_id` null) are shared and read-only.

pub mod model;
pub mod repo;
pub mod routes;
pub mod service;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub use model::Agent;

pub fn router() -> OpenApiRouter<AppState> {
    // `/providers` is a static segment, which the router matches before `/{id}`.
    OpenApiRouter::new()
        .routes(routes!(routes::list_providers))
        .routes(routes!(routes::list_agents, routes::create_agent))
        .routes(routes!(
            routes::get_agent,
            routes::update_agent,
            routes::put_agent,
            routes::delete_agent
        ))
}
