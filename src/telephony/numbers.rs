//! `GET/POST /api/v1/phone-numbers`, `DELETE /api/v1/phone-numbers/{id}`.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    agents::service as agents,
    auth::AuthUser,
    error::{ApiError, ApiResult, FieldError, Problem, ResultExt},
    http::{Page, Pagination, ValidJson, Validate, pagination::PageParams},
    state::AppState,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneNumber {
    pub id: Uuid,
    /// E.164, e.g. `+14155550100`.
    pub number: String,
    pub agent_id: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePhoneNumber {
    pub number: String,
    pub agent_id: Uuid,
}

/// `+` then 2 to 15 digits, the first not 0.
pub fn is_e164(s: &str) -> bool {
    let Some(d) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
}

impl Validate for CreatePhoneNumber {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        if is_e164(&self.number) {
            Ok(())
        } else {
            Err(vec![FieldError::new(
                "number",
                "must be an E.164 number like +14155550100",
            )])
        }
    }
}

/// The user's phone numbers, newest first.
#[utoipa::path(get, path = "/", tag = "telephony", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Page<PhoneNumber>), (status = 422, body = Problem)))]
pub async fn list_numbers(
    State(state): State<AppState>,
    user: AuthUser,
    page: Pagination,
) -> ApiResult<Json<Page<PhoneNumber>>> {
    let rows = sqlx::query_as!(
        PhoneNumber,
        "select id, number, agent_id, created_at from phone_numbers
         where user_id = $1
           and ($2::timestamptz is null or (created_at, id) < ($2, $3::uuid))
         order by created_at desc, id desc limit $4",
        user.user_id,
        page.cursor_ts(),
        page.cursor_id(),
        page.fetch()
    )
    .fetch_all(&state.db)
    .await?;
    Ok(Json(Page::from_rows(rows, &page, |r| (r.created_at, r.id))))
}

/// Route a number to one of the user's agents: inbound calls to it run that agent and
/// are paid by the user's wallet. A number belongs to one user (409 otherwise).
#[utoipa::path(post, path = "/", tag = "telephony", security(("bearer" = [])),
    request_body = CreatePhoneNumber,
    responses((status = 201, body = PhoneNumber), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn create_number(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(input): ValidJson<CreatePhoneNumber>,
) -> ApiResult<(StatusCode, Json<PhoneNumber>)> {
    agents::find(&state.db, input.agent_id, user.user_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound => ApiError::validation("agent_id", "no such agent"),
            e => e,
        })?;
    let row = sqlx::query_as!(
        PhoneNumber,
        "insert into phone_numbers (id, user_id, agent_id, number) values ($1, $2, $3, $4)
         returning id, number, agent_id, created_at",
        Uuid::now_v7(),
        user.user_id,
        input.agent_id,
        input.number
    )
    .fetch_one(&state.db)
    .await
    .on_constraint("phone_numbers_number_key", || {
        ApiError::Conflict("this number is already registered".into())
    })?;
    Ok((StatusCode::CREATED, Json(row)))
}

#[utoipa::path(delete, path = "/{id}", tag = "telephony", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_number(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let r = sqlx::query!(
        "delete from phone_numbers where id = $1 and user_id = $2",
        id,
        user.user_id
    )
    .execute(&state.db)
    .await?;
    if r.rows_affected() == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
