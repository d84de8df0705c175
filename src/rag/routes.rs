use axum::{Json, extract::State};

use super::{
    model::{RagAnswer, RagQuery},
    service,
};
use crate::{
    auth::AuthUser,
    error::{ApiResult, Problem},
    http::ValidJson,
    state::AppState,
};

/// Hybrid retrieval over the caller's notes, memories and tasks: full-text rank and
/// embedding similarity fused by reciprocal rank. Without embeddings (none configured, or
/// the provider is down) the text ranking alone answers.
#[utoipa::path(post, path = "/query", tag = "rag", security(("bearer" = [])),
    request_body = RagQuery,
    responses((status = 200, body = RagAnswer), (status = 422, body = Problem)))]
pub async fn rag_query(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<RagQuery>,
) -> ApiResult<Json<RagAnswer>> {
    Ok(Json(service::query(&state, auth.user_id, input).await?))
}
