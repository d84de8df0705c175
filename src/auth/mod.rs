//! Authentication of requests: strict JWT access tokens, the session-liveness cache, the
//! `AuthUser` extractor every protected route uses, `WsUser` for WebSockets (bearer or a
//! single-use ticket), and password hashing. It sits below `state` and the domains: the
//! extractors take what they need through `FromRef` (`AuthContext`, `PgPool`, `Settings`),
//! never `AppState`. Registration, login, refresh and session management are the
//! `accounts` domain.

pub mod jwt;
pub mod password;
mod repo;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{FromRef, FromRequestParts, OptionalFromRequestParts},
    http::{header, request::Parts},
};
use dashmap::DashMap;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{config::Settings, error::ApiError};

/// JWT keys plus a short-lived cache of session liveness, so most authenticated requests
/// cost no database round trip while a revocation still takes effect within
/// `session_cache_ttl_ms` on every instance (and at once on the instance that revoked).
#[derive(Clone)]
pub struct AuthContext {
    pub jwt: Arc<jwt::JwtKeys>,
    live: Arc<DashMap<Uuid, (Instant, bool)>>,
    ttl: Duration,
}

impl AuthContext {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            jwt: Arc::new(jwt::JwtKeys::new(&settings.auth)?),
            live: Arc::new(DashMap::new()),
            ttl: Duration::from_millis(settings.auth.session_cache_ttl_ms),
        })
    }

    pub async fn session_live(
        &self,
        db: &PgPool,
        sid: Uuid,
        user_id: Uuid,
    ) -> Result<bool, ApiError> {
        if let Some(entry) = self.live.get(&sid)
            && entry.0.elapsed() < self.ttl
        {
            return Ok(entry.1);
        }
        let live = repo::session_is_live(db, sid, user_id).await?;
        if self.live.len() > 100_000 {
            let ttl = self.ttl;
            self.live.retain(|_, v| v.0.elapsed() < ttl);
        }
        self.live.insert(sid, (Instant::now(), live));
        Ok(live)
    }

    /// Forget cached liveness of sessions this instance just revoked.
    pub fn evict(&self, sids: &[Uuid]) {
        for sid in sids {
            self.live.remove(sid);
        }
    }
}

/// The authenticated caller: a valid access token whose session is still live.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

fn bearer(parts: &Parts) -> Option<Result<&str, ApiError>> {
    let value = parts.headers.get(header::AUTHORIZATION)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    Some(token.ok_or(ApiError::Unauthorized))
}

/// SHA-256 of a refresh token or ticket: only hashes are stored.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Redeem a single-use WebSocket ticket.
pub async fn redeem_ws_ticket<S>(state: &S, ticket: &str) -> Result<AuthUser, ApiError>
where
    PgPool: FromRef<S>,
{
    if ticket.is_empty() || ticket.len() > 128 {
        return Err(ApiError::Unauthorized);
    }
    let db = PgPool::from_ref(state);
    let (user_id, session_id) = repo::redeem_ticket(&db, &hash_token(ticket))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(AuthUser {
        user_id,
        session_id,
    })
}

/// Validate an access token and its session.
pub async fn authenticate(
    auth: &AuthContext,
    db: &PgPool,
    token: &str,
) -> Result<AuthUser, ApiError> {
    let claims = auth.jwt.verify(token).ok_or(ApiError::Unauthorized)?;
    if !auth.session_live(db, claims.sid, claims.sub).await? {
        return Err(ApiError::Unauthorized);
    }
    tracing::Span::current().record("user_id", tracing::field::display(claims.sub));
    Ok(AuthUser {
        user_id: claims.sub,
        session_id: claims.sid,
    })
}

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    AuthContext: FromRef<S>,
    PgPool: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)??;
        authenticate(
            &AuthContext::from_ref(state),
            &PgPool::from_ref(state),
            token,
        )
        .await
    }
}

impl<S> OptionalFromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    AuthContext: FromRef<S>,
    PgPool: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match bearer(parts) {
            None => Ok(None),
            Some(token) => authenticate(
                &AuthContext::from_ref(state),
                &PgPool::from_ref(state),
                token?,
            )
            .await
            .map(Some),
        }
    }
}

/// WebSocket authentication: the handshake's `Origin` (when a browser sends one) must be an
/// allowed CORS origin; the caller is identified by `Authorization: Bearer` or a single-use
/// `?ticket=` from `POST /auth/ws-ticket`.
#[derive(Debug, Clone, Copy)]
pub struct WsUser(pub AuthUser);

impl<S> FromRequestParts<S> for WsUser
where
    S: Send + Sync,
    AuthContext: FromRef<S>,
    PgPool: FromRef<S>,
    Arc<Settings>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(origin) = parts.headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !Arc::<Settings>::from_ref(state)
                .server
                .origin_allowed(origin)
            {
                return Err(ApiError::Forbidden(
                    "this origin may not open WebSockets".into(),
                ));
            }
        }
        if let Some(token) = bearer(parts) {
            let (auth, db) = (AuthContext::from_ref(state), PgPool::from_ref(state));
            return authenticate(&auth, &db, token?).await.map(WsUser);
        }
        let ticket = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "ticket")
                .map(|(_, v)| v.into_owned())
        });
        let ticket = ticket.ok_or(ApiError::Unauthorized)?;
        let user = redeem_ws_ticket(state, &ticket).await?;
        tracing::Span::current().record("user_id", tracing::field::display(user.user_id));
        Ok(WsUser(user))
    }
}
