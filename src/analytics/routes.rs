use axum::{Json, extract::State};
use chrono::{Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::repo;
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Problem},
    http::QueryParams,
    state::AppState,
};

/// Usage in one period (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UsagePeriod {
    /// The first day of the period: the day, the Monday of the ISO week, or the first of
    /// the month. The first and last periods may be cut by `from` and `to`.
    pub period: NaiveDate,
    /// Calls (any channel, any outcome) created in the period.
    pub calls: i64,
    /// Their summed duration in minutes, to two decimals.
    pub minutes: f64,
    /// Credits spent: the calls' cost plus chat and planner replies (`chat_debit` ledger
    /// entries) in the period.
    pub cost_credits: i64,
    /// Assistant replies in chat (each billed once).
    pub chat_messages: i64,
    /// LLM tokens (input + output) used by the calls and the chat replies.
    pub llm_tokens: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[allow(dead_code)]
pub struct UsageParams {
    /// First day (`YYYY-MM-DD`, UTC), inclusive. Default: 29 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day (`YYYY-MM-DD`, UTC), inclusive. Default: today.
    pub to: Option<NaiveDate>,
    /// `day` (default; at most 366 days), `week` (ISO weeks from Monday; at most 1098 days)
    /// or `month` (at most 3660 days).
    pub granularity: Option<String>,
}

const GRANULARITIES: [(&str, i64); 3] = [("day", 366), ("week", 1098), ("month", 3660)];

/// The validated query: `(from, to, granularity)`.
fn params(q: &QueryParams) -> ApiResult<(NaiveDate, NaiveDate, &'static str)> {
    let granularity = match q.text("granularity") {
        None => GRANULARITIES[0],
        Some(g) => *GRANULARITIES
            .iter()
            .find(|(name, _)| *name == g)
            .ok_or_else(|| {
                ApiError::validation("granularity", "must be one of day, week, month")
            })?,
    };
    let from: Option<NaiveDate> = q.one("from", "a date (YYYY-MM-DD)")?;
    let to: Option<NaiveDate> = q.one("to", "a date (YYYY-MM-DD)")?;
    let to = to.unwrap_or_else(|| Utc::now().date_naive());
    let from = from.unwrap_or(to - Duration::days(29));
    if from > to {
        return Err(ApiError::validation("from", "must not be after to"));
    }
    let (name, max_days) = granularity;
    if (to - from).num_days() + 1 > max_days {
        return Err(ApiError::validation(
            "from",
            format!("the range may span at most {max_days} days with granularity={name}"),
        ));
    }
    Ok((from, to, name))
}

/// The signed-in user's usage per day, week or month between `from` and `to` (UTC dates,
/// both inclusive; default the last 30 days by day), oldest period first. Every period in
/// the range is listed, with zeros when nothing happened.
#[utoipa::path(get, path = "/usage", tag = "analytics", security(("bearer" = [])),
    params(UsageParams),
    responses((status = 200, body = Vec<UsagePeriod>), (status = 422, body = Problem)))]
pub async fn get_usage(
    State(state): State<AppState>,
    auth: AuthUser,
    q: QueryParams,
) -> ApiResult<Json<Vec<UsagePeriod>>> {
    let (from, to, granularity) = params(&q)?;
    Ok(Json(
        repo::usage(&state.db, auth.user_id, from, to, granularity).await?,
    ))
}
