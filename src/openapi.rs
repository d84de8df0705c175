//! The OpenAPI document. Paths are collected from each domain's `OpenApiRouter`
//! (utoipa-axum), so the document lists exactly the routes the server has.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cadence API",
        description = "Backend for voice-first AI personal assistants: notes, tasks, goals, memories, chat and voice agents, wallet.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    tags(
        (name = "ops", description = "Health, readiness and metrics"),
        (name = "auth", description = "Registration, login, sessions and tokens"),
        (name = "users", description = "The signed-in user's profile and preferences"),
        (name = "events", description = "Realtime change stream (WebSocket)"),
        (name = "agents", description = "Voice and chat agents, and the STT/LLM/TTS providers catalog"),
        (name = "wallet", description = "Credits: wallet, ledger, prices, admin grants"),
        (name = "payments", description = "Buying credits: checkout and the provider webhook"),
        (name = "notes", description = "Notes: rich-text documents in a tree, with full-text search"),
        (name = "tasks", description = "Tasks: status, priority, due dates, subtasks, links to goals and notes"),
        (name = "goals", description = "Goals: a hierarchy whose progress follows its tasks"),
        (name = "reflections", description = "Reflections: journal entries, optionally about a goal"),
        (name = "memories", description = "Memories the assistant keeps about the user"),
        (name = "chat", description = "Conversations with tool-using agents: messages, SSE and WebSocket streaming"),
        (name = "voice", description = "Real-time voice sessions (WebSocket) and the Bolna-compatible endpoint"),
        (name = "calls", description = "Calls: usage, cost, metrics, transcripts and recordings; outbound phone calls"),
        (name = "analytics", description = "Usage over time: calls, minutes, credits, chat replies, LLM tokens"),
        (name = "telephony", description = "Phone numbers routed to agents; Twilio voice webhook, media stream and status callbacks"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
