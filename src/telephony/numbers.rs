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

/// An E.164 number Twilio would dial: `+`, an assigned ITU-T country code, then a national
/// number, 15 digits at most. `+1` (the North American plan) takes exactly ten more digits
/// whose area code starts 2–9, `+7` ten; any other code at least four.
pub fn is_e164(s: &str) -> bool {
    let Some(d) = s.strip_prefix('+') else {
        return false;
    };
    // No country code starts with 0 (and "01" must not read as code 1).
    if d.len() > 15 || d.starts_with('0') || !d.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Some(cc) = country_code(d) else {
        return false;
    };
    let national = &d[cc.len()..];
    match cc {
        "1" => national.len() == 10 && (b'2'..=b'9').contains(&national.as_bytes()[0]),
        "7" => national.len() == 10,
        _ => national.len() >= 4,
    }
}

/// The country code `digits` starts with, if it is one the ITU-T has assigned (codes are
/// prefix-free, so at most one matches).
fn country_code(digits: &str) -> Option<&str> {
    (1..=3)
        .filter(|&n| digits.len() > n)
        .map(|n| &digits[..n])
        .find(|cc| is_assigned(cc.parse().unwrap_or(0)))
}

/// ITU-T E.164 assigned country codes (spare and reserved ones excluded).
fn is_assigned(cc: u16) -> bool {
    matches!(
        cc,
        1 | 7
            | 20
            | 27
            | 30..=34
            | 36
            | 39..=41
            | 43..=49
            | 51..=58
            | 60..=66
            | 81
            | 82
            | 84
            | 86
            | 90..=95
            | 98
            | 211
            | 212
            | 213
            | 216
            | 218
            | 220..=258
            | 260..=269
            | 290
            | 291
            | 297..=299
            | 350..=359
            | 370..=378
            | 380..=383
            | 385..=387
            | 389
            | 420
            | 421
            | 423
            | 500..=509
            | 590..=599
            | 670
            | 672..=683
            | 685..=692
            | 800
            | 808
            | 850
            | 852
            | 853
            | 855
            | 856
            | 870
            | 878
            | 880..=883
            | 886
            | 888
            | 960..=968
            | 970..=977
            | 979
            | 992..=996
            | 998
    )
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

#[cfg(test)]
mod tests {
    use super::is_e164;

    #[test]
    fn e164_numbers_need_an_assigned_country_code_and_a_national_number() {
        for ok in [
            "+14155550100",
            "+15005550001",
            "+442071838750",
            "+4930123456",
            "+6831234",
            "+79161234567",
            "+353861234567",
            "+861012345678",
        ] {
            assert!(is_e164(ok), "{ok} is a valid number");
        }
        for bad in [
            "+12",
            "+1",
            "+",
            "14155550100",
            "+0123",
            "+0155550123",
            "+01415555010",
            "+1415555010",
            "+141555501001",
            "+10155550100",
            "+2591234567",
            "+44207",
            "+7916123456",
            "+4420718387501234",
            "+1415555010a",
            "+1 415 555 0100",
        ] {
            assert!(!is_e164(bad), "{bad} is not a valid number");
        }
    }
}
