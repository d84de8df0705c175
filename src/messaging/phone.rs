//! The user's verified phone number: `POST /users/me/phone` sends a 6-digit code by SMS or
//! WhatsApp (kept only as a keyed hash, valid 10 minutes, 5 tries), `POST
//! /users/me/phone/verify` proves the number, `GET`/`DELETE /users/me/phone`. Codes are
//! rate limited per user and per number from the rows in PostgreSQL, so every instance
//! counts the same. [`verified`] is the only way the rest of Cadence learns a number to
//! message or call.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sqlx::PgExecutor;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use uuid::Uuid;

use super::twilio::{self, Channel};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, FieldError, Problem},
    http::{ValidJson, Validate},
    state::AppState,
    telephony::numbers::is_e164,
};

/// How long a code stays valid.
pub const CODE_TTL_MINUTES: i64 = 10;
/// Wrong tries allowed per code (the 5th try may still be right).
pub const MAX_TRIES: i32 = 5;
/// Codes sent per user in any hour.
pub const PER_USER_PER_HOUR: i64 = 5;
/// Codes sent to one number (by anyone) in any hour.
pub const PER_NUMBER_PER_HOUR: i64 = 10;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartPhoneVerification {
    /// E.164, e.g. `+14155550100`.
    pub number: String,
    /// Where the code (and later notifications) go; default `sms`.
    #[serde(default)]
    pub channel: Option<Channel>,
}

impl Validate for StartPhoneVerification {
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

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyPhone {
    /// The 6 digits that were sent.
    pub code: String,
}

impl Validate for VerifyPhone {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        if self.code.len() == 6 && self.code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err(vec![FieldError::new(
                "code",
                "must be the 6 digits we sent",
            )])
        }
    }
}

/// A code is on its way.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingVerification {
    pub number: String,
    pub channel: Channel,
    pub expires_at: DateTime<Utc>,
    pub tries_left: i32,
}

/// The user's verified number.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifiedPhone {
    pub number: String,
    pub channel: Channel,
    pub verified_at: DateTime<Utc>,
}

/// The user's verified number, if any: the only number anything may message or call.
pub async fn verified(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Option<VerifiedPhone>> {
    let row = sqlx::query!(
        "select number, channel, verified_at from user_phones where user_id = $1",
        user_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| VerifiedPhone {
        number: r.number,
        channel: Channel::parse(&r.channel).unwrap_or(Channel::Sms),
        verified_at: r.verified_at,
    }))
}

/// The user whose verified number this is (an inbound message's `From`).
pub async fn owner_of(db: impl PgExecutor<'_>, number: &str) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!("select user_id from user_phones where number = $1", number)
        .fetch_optional(db)
        .await
}

fn code_hash(state: &AppState, id: Uuid, code: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(
        format!(
            "phone-code:{}",
            state.settings.auth.jwt_secret.expose_secret()
        )
        .as_bytes(),
    )
    .expect("hmac takes any key");
    mac.update(id.as_bytes());
    mac.update(code.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Seconds until the oldest of the last hour's codes leaves the window.
fn retry_after(oldest: Option<DateTime<Utc>>) -> u64 {
    oldest
        .map(|t| {
            (t + chrono::Duration::hours(1) - Utc::now())
                .num_seconds()
                .max(1) as u64
        })
        .unwrap_or(60)
}

/// Send a verification code to a number. The code is the one message ever sent to a
/// number that is not verified yet. `429` (with `Retry-After`) past 5 codes an hour for
/// the user or 10 for the number; `422` naming `number` when it is not E.164 or the
/// provider refuses it; `503` when messaging is not configured.
#[utoipa::path(post, path = "/api/v1/users/me/phone", tag = "users", security(("bearer" = [])),
    request_body = StartPhoneVerification,
    responses((status = 202, body = PendingVerification, description = "The code was sent"),
        (status = 401, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem, description = "Too many codes for this user or number"),
        (status = 502, body = Problem, description = "The messaging provider refused or failed"),
        (status = 503, body = Problem, description = "Messaging is not configured")))]
pub async fn start_phone_verification(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<StartPhoneVerification>,
) -> ApiResult<(StatusCode, Json<PendingVerification>)> {
    if !twilio::configured(&state) {
        return Err(twilio::SendError::NotConfigured.into_api("number"));
    }
    let user_id = auth.user_id;
    let channel = input.channel.unwrap_or(Channel::Sms);
    let number = input.number;
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let id = Uuid::now_v7();
    let expires_at = Utc::now() + chrono::Duration::minutes(CODE_TTL_MINUTES);

    let mut tx = state.db.begin().await?;
    // Serialize the count-then-insert per user and per number across instances (user
    // first, then number: always the same order, so two requests cannot deadlock).
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended('phone-verify:user:' || $1::text, 0))",
        user_id.to_string()
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended('phone-verify:number:' || $1::text, 0))",
        number
    )
    .execute(&mut *tx)
    .await?;
    let by_user = sqlx::query!(
        r#"select count(*) as "n!", min(created_at) as oldest from phone_verifications
           where user_id = $1 and created_at > now() - interval '1 hour'"#,
        user_id
    )
    .fetch_one(&mut *tx)
    .await?;
    if by_user.n >= PER_USER_PER_HOUR {
        return Err(ApiError::RateLimited {
            retry_after: retry_after(by_user.oldest),
        });
    }
    let by_number = sqlx::query!(
        r#"select count(*) as "n!", min(created_at) as oldest from phone_verifications
           where number = $1 and created_at > now() - interval '1 hour'"#,
        number
    )
    .fetch_one(&mut *tx)
    .await?;
    if by_number.n >= PER_NUMBER_PER_HOUR {
        return Err(ApiError::RateLimited {
            retry_after: retry_after(by_number.oldest),
        });
    }
    sqlx::query!(
        "insert into phone_verifications (id, user_id, number, channel, code_hash, expires_at)
         values ($1, $2, $3, $4, $5, $6)",
        id,
        user_id,
        number,
        channel.as_str(),
        code_hash(&state, id, &code),
        expires_at
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    let body = format!(
        "Your Cadence verification code is {code}. It expires in {CODE_TTL_MINUTES} minutes."
    );
    if let Err(e) = twilio::send_message(&state, channel, &number, &body).await {
        // Nothing reached the phone: the code is void.
        sqlx::query!("delete from phone_verifications where id = $1", id)
            .execute(&state.db)
            .await?;
        return Err(e.into_api("number"));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(PendingVerification {
            number,
            channel,
            expires_at,
            tries_left: MAX_TRIES,
        }),
    ))
}

fn code_error(message: impl Into<String>) -> ApiError {
    ApiError::validation("code", message)
}

/// Prove the number with the code it got: the newest code counts. A right code makes
/// the number the user's verified number (replacing any previous one; another account
/// that had verified this number loses it). `422` naming `code` when it is wrong,
/// expired, out of tries or none was sent.
#[utoipa::path(post, path = "/api/v1/users/me/phone/verify", tag = "users", security(("bearer" = [])),
    request_body = VerifyPhone,
    responses((status = 200, body = VerifiedPhone), (status = 401, body = Problem),
        (status = 422, body = Problem)))]
pub async fn verify_phone(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<VerifyPhone>,
) -> ApiResult<Json<VerifiedPhone>> {
    let user_id = auth.user_id;
    let Some(pending) = sqlx::query!(
        "select id, number, channel, code_hash, attempts, expires_at from phone_verifications
         where user_id = $1 and verified_at is null order by created_at desc limit 1",
        user_id
    )
    .fetch_optional(&state.db)
    .await?
    else {
        return Err(code_error(
            "no code is pending: request one with POST /api/v1/users/me/phone",
        ));
    };
    if pending.expires_at <= Utc::now() {
        return Err(code_error("has expired: request a new one"));
    }
    // Take a try before comparing, atomically, so parallel guesses share the 5 tries.
    let Some(attempts) = sqlx::query_scalar!(
        "update phone_verifications set attempts = attempts + 1
         where id = $1 and attempts < $2 and verified_at is null and expires_at > now()
         returning attempts",
        pending.id,
        MAX_TRIES
    )
    .fetch_optional(&state.db)
    .await?
    else {
        return Err(code_error(
            "has had too many wrong tries: request a new one",
        ));
    };
    let expected = code_hash(&state, pending.id, &input.code);
    if !bool::from(expected.ct_eq(&pending.code_hash)) {
        let left = MAX_TRIES - attempts;
        return Err(code_error(if left > 0 {
            format!("is not the code we sent ({left} tries left)")
        } else {
            "is not the code we sent, and no tries are left: request a new one".to_string()
        }));
    }
    let mut tx = state.db.begin().await?;
    let claimed = sqlx::query!(
        "update phone_verifications set verified_at = now() where id = $1 and verified_at is null",
        pending.id
    )
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        return Err(code_error("was already used"));
    }
    // Whoever proves they hold the phone owns the number now.
    sqlx::query!(
        "delete from user_phones where number = $1 and user_id <> $2",
        pending.number,
        user_id
    )
    .execute(&mut *tx)
    .await?;
    let row = sqlx::query!(
        "insert into user_phones (user_id, number, channel, verified_at) values ($1, $2, $3, now())
         on conflict (user_id) do update
           set number = excluded.number, channel = excluded.channel, verified_at = excluded.verified_at
         returning number, channel, verified_at",
        user_id,
        pending.number,
        pending.channel
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(%user_id, "phone number verified");
    Ok(Json(VerifiedPhone {
        number: row.number,
        channel: Channel::parse(&row.channel).unwrap_or(Channel::Sms),
        verified_at: row.verified_at,
    }))
}

/// The user's verified number (`404` when none).
#[utoipa::path(get, path = "/api/v1/users/me/phone", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = VerifiedPhone), (status = 401, body = Problem),
        (status = 404, body = Problem)))]
pub async fn get_phone(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<VerifiedPhone>> {
    Ok(Json(
        verified(&state.db, auth.user_id)
            .await?
            .ok_or(ApiError::NotFound)?,
    ))
}

/// Forget the verified number: nothing is messaged or called any more.
#[utoipa::path(delete, path = "/api/v1/users/me/phone", tag = "users", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_phone(State(state): State<AppState>, auth: AuthUser) -> ApiResult<StatusCode> {
    let gone = sqlx::query!("delete from user_phones where user_id = $1", auth.user_id)
        .execute(&state.db)
        .await?;
    if gone.rows_affected() == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
