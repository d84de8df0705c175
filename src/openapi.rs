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
        (name = "rag", description = "Hybrid retrieval (full text and embeddings) over the user's notes, memories and tasks"),
        (name = "schedule", description = "The day planner: tasks placed into the free time of a day, with reasons for what did not fit"),
        (name = "chat", description = "Conversations with tool-using agents: messages, SSE and WebSocket streaming"),
        (name = "voice", description = "Real-time voice sessions (WebSocket) and the Bolna-compatible endpoint"),
        (name = "avatar", description = "Streaming avatar sessions (LiveAvatar LITE) driven by a voice session, and the monthly avatar-minute quota"),
        (name = "calls", description = "Calls: usage, cost, metrics, transcripts and recordings; outbound phone calls"),
        (name = "analytics", description = "Usage over time: calls, minutes, credits, chat replies, LLM tokens"),
        (name = "notifications", description = "Notifications and their escalation: in-app, Web Push, messages, calls"),
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

/// Complete every operation's error responses in the merged document: each error body the API
/// sends is `application/problem+json` (annotations that say `body = Problem` get that content
/// type), and the errors any route of its shape can give are declared where its annotation
/// leaves them out: 401 behind the bearer scheme, 400 for a malformed parameter or body, 404 for
/// a path with an id, 413/415/422 for a JSON body, 422 for query and header parameters.
/// Schemathesis (`make schemathesis`) checks every response against this.
pub fn document_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, path::ParameterIn};

    let problem = |description: &str| -> RefOr<utoipa::openapi::Response> {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    crate::error::PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.options,
            &mut item.head,
            &mut item.trace,
        ];
        for op in operations.into_iter().flatten() {
            let params = op.parameters.as_deref().unwrap_or_default();
            let has_path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
            let has_other = params.iter().any(|p| p.parameter_in != ParameterIn::Path);
            let has_body = op.request_body.is_some();
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let responses = &mut op.responses.responses;
            let mut add = |code: &str, description: &str| {
                responses
                    .entry(code.to_string())
                    .or_insert_with(|| problem(description));
            };
            if secured {
                add("401", "Missing, invalid or expired access token");
            }
            if has_path || has_other || has_body {
                add("400", "Malformed parameter or request body");
            }
            if has_path {
                add("404", "Not found (or not yours)");
            }
            if has_body {
                add("413", "Request body is too large");
                add("415", "Unsupported request content type");
            }
            if has_other || has_body {
                add("422", "Validation failed");
            }
            for (code, response) in responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                if (code.starts_with('4') || code.starts_with('5'))
                    && let Some(content) = response.content.shift_remove("application/json")
                {
                    response
                        .content
                        .insert(crate::error::PROBLEM_JSON.to_string(), content);
                }
            }
        }
    }
}
