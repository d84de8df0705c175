//! The rules of authentication. Handlers call these; these call the repositories.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{Duration, DurationRound, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    model::{ChangePassword, Login, LogoutScope, Register, Session, TokenPair, WsTicket},
    repo,
};
pub use crate::auth::{hash_token, redeem_ws_ticket};
use crate::{
    auth::{
        AuthUser,
        password::{self, Verified},
    },
    error::{ApiError, ApiResult, FieldError, ResultExt},
    state::AppState,
    users::{self, model::User},
};

/// Where a request came from, recorded on the session.
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: Option<String>,
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Fixed-window rate limit shared by every instance (counters live in the database).
pub async fn rate_limit(state: &AppState, key: &str, limit: u32) -> ApiResult<()> {
    let window = i64::from(state.settings.auth.rate_window_secs.max(1));
    let now = Utc::now();
    let start = now
        .duration_trunc(Duration::seconds(window))
        .map_err(ApiError::internal)?;
    let count = repo::rate_hit(&state.db, key, start).await?;
    if count as i64 > i64::from(limit) {
        let retry_after = (start + Duration::seconds(window) - now)
            .num_seconds()
            .max(1) as u64;
        metrics::counter!("auth_rate_limited_total").increment(1);
        return Err(ApiError::RateLimited { retry_after });
    }
    Ok(())
}

/// Start a session and return its first token pair (inside the caller's transaction).
async fn start_session(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    user: User,
    client: &ClientInfo,
) -> ApiResult<TokenPair> {
    let session_id = Uuid::now_v7();
    let expires_at = Utc::now() + Duration::days(state.settings.auth.refresh_ttl_days);
    let ua = client.user_agent.as_deref().map(|s| truncate(s, 512));
    repo::insert_session(
        &mut *tx,
        session_id,
        user.id,
        ua.as_deref(),
        &client.ip,
        expires_at,
    )
    .await?;
    let refresh_token = random_token();
    repo::insert_refresh_token(&mut *tx, &hash_token(&refresh_token), session_id).await?;
    token_pair(state, user, session_id, refresh_token)
}

fn token_pair(
    state: &AppState,
    user: User,
    session_id: Uuid,
    refresh_token: String,
) -> ApiResult<TokenPair> {
    let access_token = state.auth.jwt.issue(user.id, session_id)?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: state.auth.jwt.ttl_secs,
        user,
    })
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Register a new account. An email already registered (in any letter case) answers 409.
pub async fn register(
    state: &AppState,
    input: Register,
    client: &ClientInfo,
) -> ApiResult<TokenPair> {
    rate_limit(
        state,
        &format!("register:ip:{}", client.ip),
        state.settings.auth.register_rate_per_ip,
    )
    .await?;
    let email = input.email.trim().to_string();
    let hash = password::hash(input.password).await?;
    let mut tx = state.db.begin().await?;
    let full_name = input
        .full_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let user = users::repo::insert(&mut *tx, Uuid::now_v7(), &email, &hash, full_name)
        .await
        .on_constraint("users_email_key", || {
            ApiError::Conflict("an account with this email already exists".into())
        })?;
    on_user_created(state, &mut tx, &user).await?;
    let pair = start_session(state, &mut tx, user, client).await?;
    tx.commit().await?;
    Ok(pair)
}

/// Work other modules do when an account is created, in the same transaction.
async fn on_user_created(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    user: &User,
) -> ApiResult<()> {
    use crate::wallet::{model, service as wallet};
    wallet::open_account(&mut *tx, user.id).await?;
    let bonus = state.settings.billing.signup_credits;
    if bonus > 0 {
        let posting = model::Posting::new(model::EntryKind::SignupBonus, bonus)
            .reference("signup", None)
            .description("Signup bonus");
        wallet::credit(&mut *tx, user.id, posting).await?;
    }
    Ok(())
}

/// Log in. Unknown email and wrong password are indistinguishable (same status, body and
/// Argon2 work).
pub async fn login(state: &AppState, input: Login, client: &ClientInfo) -> ApiResult<TokenPair> {
    let email = input.email.trim().to_lowercase();
    rate_limit(
        state,
        &format!("login:ip:{}", client.ip),
        state.settings.auth.login_rate_per_ip,
    )
    .await?;
    rate_limit(
        state,
        &format!("login:acct:{email}"),
        state.settings.auth.login_rate_per_account,
    )
    .await?;
    let creds = users::repo::find_credentials_by_email(&state.db, &email).await?;
    let stored = creds.as_ref().map(|c| c.password_hash.clone());
    let verdict = password::verify(input.password.clone(), stored).await?;
    let Some(creds) = creds.filter(|_| verdict != Verified::No) else {
        return Err(ApiError::Unauthorized);
    };
    if verdict == Verified::YesNeedsRehash {
        let new_hash = password::hash(input.password).await?;
        users::repo::set_password_hash(&state.db, creds.user.id, &new_hash).await?;
    }
    let mut tx = state.db.begin().await?;
    let pair = start_session(state, &mut tx, creds.user, client).await?;
    tx.commit().await?;
    Ok(pair)
}

/// Exchange a refresh token for a new pair. The presented token is spent. A token spent
/// more than `refresh_grace_secs` ago is a replay: the whole session is revoked (that
/// revocation commits) and the request fails. Within the grace window (two tabs
/// refreshing at once) the late caller gets its own new token instead.
pub async fn refresh(state: &AppState, token: &str, client: &ClientInfo) -> ApiResult<TokenPair> {
    rate_limit(
        state,
        &format!("refresh:ip:{}", client.ip),
        state.settings.auth.refresh_rate_per_ip,
    )
    .await?;
    let hash = hash_token(token);
    let mut tx = state.db.begin().await?;
    let presented = repo::spend_refresh_token(&mut tx, &hash)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if !presented.session_live {
        return Err(ApiError::Unauthorized);
    }
    if !presented.spent_now {
        let within_grace = presented
            .spent_secs_ago
            .is_some_and(|secs| secs <= state.settings.auth.refresh_grace_secs as f64);
        if !within_grace {
            repo::revoke_session(
                &mut *tx,
                presented.user_id,
                presented.session_id,
                "refresh token reuse",
            )
            .await?;
            tx.commit().await?;
            state.auth.evict(&[presented.session_id]);
            tracing::warn!(session_id = %presented.session_id, "refresh token replayed: session revoked");
            metrics::counter!("auth_refresh_reuse_total").increment(1);
            return Err(ApiError::Unauthorized);
        }
    }
    let user = users::repo::find(&mut *tx, presented.user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let new_token = random_token();
    repo::insert_refresh_token(&mut *tx, &hash_token(&new_token), presented.session_id).await?;
    repo::touch_session(&mut *tx, presented.session_id, &client.ip).await?;
    tx.commit().await?;
    token_pair(state, user, presented.session_id, new_token)
}

pub async fn logout(state: &AppState, auth: AuthUser, scope: LogoutScope) -> ApiResult<()> {
    let revoked = match scope {
        LogoutScope::Local => {
            repo::revoke_session(&state.db, auth.user_id, auth.session_id, "logout").await?;
            vec![auth.session_id]
        }
        LogoutScope::Others => {
            repo::revoke_sessions_except(
                &state.db,
                auth.user_id,
                Some(auth.session_id),
                "logout others",
            )
            .await?
        }
        LogoutScope::Global => {
            repo::revoke_sessions_except(&state.db, auth.user_id, None, "logout global").await?
        }
    };
    state.auth.evict(&revoked);
    Ok(())
}

pub async fn list_sessions(state: &AppState, auth: AuthUser) -> ApiResult<Vec<Session>> {
    let rows = repo::list_sessions(&state.db, auth.user_id).await?;
    Ok(rows
        .into_iter()
        .map(|r| Session {
            current: r.id == auth.session_id,
            id: r.id,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            user_agent: r.user_agent,
            ip: r.ip,
        })
        .collect())
}

pub async fn revoke_session(state: &AppState, auth: AuthUser, id: Uuid) -> ApiResult<()> {
    if !repo::revoke_session(&state.db, auth.user_id, id, "revoked by user").await? {
        return Err(ApiError::NotFound);
    }
    state.auth.evict(&[id]);
    Ok(())
}

/// Change the password; every other session is revoked.
pub async fn change_password(
    state: &AppState,
    auth: AuthUser,
    input: ChangePassword,
) -> ApiResult<()> {
    let stored = users::repo::password_hash(&state.db, auth.user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if password::verify(input.current_password, Some(stored)).await? == Verified::No {
        return Err(ApiError::Validation(vec![FieldError::new(
            "current_password",
            "is incorrect",
        )]));
    }
    let hash = password::hash(input.new_password).await?;
    let mut tx = state.db.begin().await?;
    users::repo::set_password_hash(&mut *tx, auth.user_id, &hash).await?;
    let revoked = repo::revoke_sessions_except(
        &mut *tx,
        auth.user_id,
        Some(auth.session_id),
        "password changed",
    )
    .await?;
    tx.commit().await?;
    state.auth.evict(&revoked);
    Ok(())
}

pub async fn create_ws_ticket(state: &AppState, auth: AuthUser) -> ApiResult<WsTicket> {
    let ticket = random_token();
    let ttl = state.settings.auth.ws_ticket_ttl_secs;
    repo::insert_ticket(
        &state.db,
        &hash_token(&ticket),
        auth.user_id,
        auth.session_id,
        Utc::now() + Duration::seconds(ttl),
    )
    .await?;
    Ok(WsTicket {
        ticket,
        expires_in: ttl,
    })
}

pub async fn purge_expired(db: &PgPool) -> sqlx::Result<()> {
    repo::purge_expired(db).await
}
