//! The rules: a start holds a minute of the month before anything else happens, the voice
//! session and LiveAvatar's are opened after it, and any failure on the way gives the minute
//! back. A running session holds the next minute ahead of time; the call's finalizer charges
//! what was used (see [`settle`]) and stops LiveAvatar's session.

use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{
    bridge::AvatarLink,
    client::LiveAvatar,
    model::{AvatarRoom, AvatarSessionCreated, CreateAvatarSession, Quota},
    repo,
};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    state::AppState,
    voice::routes as voice,
};

/// What a session says before it ends because the month's avatar minutes are used up.
pub const QUOTA_NOTICE: &str = "I'm sorry, your avatar minutes for this month are used up, so I have to end the call now. Goodbye.";

fn client(state: &AppState) -> Option<LiveAvatar> {
    LiveAvatar::from_settings(&state.http, &state.settings.avatar.liveavatar)
}

fn allowed(state: &AppState) -> i64 {
    state.settings.avatar.minutes_per_month.max(0)
}

fn minute_secs(state: &AppState) -> u64 {
    state.settings.avatar.minute_secs.max(1)
}

pub async fn quota(state: &AppState, user_id: Uuid) -> ApiResult<Quota> {
    let (period, resets_at) = repo::current_period(&state.db).await?;
    let (used, reserved) = repo::usage(&state.db, user_id, period).await?;
    let allowed = allowed(state);
    Ok(Quota {
        period: period.format("%Y-%m").to_string(),
        minutes_allowed: allowed,
        minutes_used: used,
        minutes_reserved: reserved,
        minutes_remaining: (allowed - used - reserved).max(0),
        resets_at,
    })
}

/// `POST /avatar/sessions`.
pub async fn start(
    state: &AppState,
    user: AuthUser,
    input: CreateAvatarSession,
) -> ApiResult<AvatarSessionCreated> {
    let Some(la) = client(state) else {
        return Err(ApiError::Unavailable(
            "avatar sessions are not configured on this server".into(),
        ));
    };
    let avatar_id = match input.avatar_id {
        Some(a) => a.trim().to_string(),
        None if !state.settings.avatar.default_avatar_id.is_empty() => {
            state.settings.avatar.default_avatar_id.clone()
        }
        None => {
            return Err(ApiError::validation(
                "avatar_id",
                "is required (the server has no default avatar)",
            ));
        }
    };
    crate::agents::service::find(&state.db, input.agent_id, user.user_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound => ApiError::validation("agent_id", "no such agent"),
            e => e,
        })?;

    // 1. The first minute, held in the same transaction that records the session.
    let id = Uuid::now_v7();
    let mut tx = state.db.begin().await?;
    let (period, _) = repo::current_period(&mut *tx).await?;
    if !repo::reserve(&mut *tx, user.user_id, period, 1, allowed(state)).await? {
        return Err(ApiError::QuotaExceeded(
            "no avatar minutes are left this month".into(),
        ));
    }
    repo::insert(
        &mut *tx,
        &repo::NewSession {
            id,
            user_id: user.user_id,
            agent_id: input.agent_id,
            avatar_id: &avatar_id,
            period,
            minutes_reserved: 1,
        },
    )
    .await?;
    tx.commit().await?;

    // 2. The voice session, exactly as POST /voice/sessions opens one.
    let opened = match voice::open(state, user.user_id, input.agent_id, None, "web").await {
        Ok(o) => o,
        Err(e) => {
            abort(state, id, "failed").await;
            return Err(match e {
                ApiError::NotFound => ApiError::validation("agent_id", "no such agent"),
                e => e,
            });
        }
    };
    let (voice_id, call_id) = (opened.session_id, opened.call_id);
    if let Err(e) = repo::attach_voice(&state.db, id, voice_id, call_id).await {
        fail_voice(state, id, call_id).await;
        return Err(e.into());
    }

    // 3. LiveAvatar's LITE session.
    let started = match la.start_lite(&avatar_id).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "could not start the LiveAvatar session");
            fail_voice(state, id, call_id).await;
            return Err(e);
        }
    };
    if !repo::activate(
        &state.db,
        id,
        &started.session_id,
        &started.livekit_url,
        &started.ws_url,
    )
    .await?
    {
        // Ended (DELETE) while starting: do not leave the vendor's session running.
        let _ = la.stop(&started.session_id, "USER_CLOSED").await;
        return Err(ApiError::Conflict(
            "the avatar session was ended while starting".into(),
        ));
    }
    // A voice side that never connects must not hold the minute (and the vendor's session)
    // for ever: once its connect window has passed, the job ends both.
    let job = crate::jobs::NewJob::new(EXPIRE_JOB, id.to_string(), serde_json::json!({}))
        .at(opened.expires_at + chrono::Duration::seconds(1));
    crate::jobs::enqueue(&state.db, job).await?;
    let voice = voice::connect_info(state, user, opened).await?;
    Ok(AvatarSessionCreated {
        id,
        avatar: AvatarRoom {
            session_id: Some(started.session_id),
            livekit_url: Some(started.livekit_url),
            livekit_token: Some(started.livekit_client_token),
        },
        voice,
    })
}

async fn abort(state: &AppState, id: Uuid, reason: &str) {
    let result = async {
        let mut conn = state.db.acquire().await?;
        repo::abort(&mut conn, id, reason).await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = ?e, avatar_session_id = %id, "could not release an avatar minute");
    }
}

/// The start failed after the voice session opened: end the call (releasing its credit hold)
/// and give the minute back.
async fn fail_voice(state: &AppState, id: Uuid, call_id: Uuid) {
    abort(state, id, "failed").await;
    let outcome = crate::voice::finalize::Outcome::default();
    if let Err(e) = crate::voice::finalize::finalize(state, call_id, "failed", outcome).await {
        tracing::error!(error = ?e, %call_id, "could not end the call of a failed avatar start");
    }
}

/// The job that ends an avatar session whose voice session was never connected.
pub const EXPIRE_JOB: &str = "avatar.expire";

/// [`EXPIRE_JOB`]: when the voice session is still unconnected past its connect window (no
/// socket can claim it any more), finalize its call as `expired` — which charges and stops
/// the avatar. Anything else (connected, ended) needs nothing: idempotent.
pub async fn expire_job(state: AppState, job: crate::jobs::Job) -> crate::jobs::JobResult {
    let id: Uuid = job.key.parse().map_err(crate::jobs::JobError::fail)?;
    let row = repo::unconnected(&state.db, id).await?;
    let Some(row) = row else { return Ok(()) };
    if row.voice_status != "created" {
        return Ok(());
    }
    if !row.expired {
        return Err(crate::jobs::JobError::RetryIn(
            Duration::from_secs(1),
            anyhow::anyhow!("the voice session can still connect"),
        ));
    }
    let outcome = crate::voice::finalize::Outcome::default();
    crate::voice::finalize::finalize(&state, row.call_id, "expired", outcome).await?;
    Ok(())
}

/// `DELETE /avatar/sessions/{id}`: ends both sides; the call's finalizer charges the minutes.
pub async fn end(state: &AppState, id: Uuid, user_id: Uuid) -> ApiResult<()> {
    let s = repo::find(&state.db, id, user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    match s.voice_session_id {
        Some(v) if s.status != "ended" => match voice::end_session(state, v, user_id).await {
            Ok(()) | Err(ApiError::NotFound) => {}
            Err(e) => return Err(e),
        },
        None if s.status != "ended" => abort(state, id, "deleted").await,
        _ => {}
    }
    Ok(())
}

/// The avatar of a voice session that is connecting, with its tee started. `None` when the
/// session has no (live) avatar.
pub async fn attach(state: &AppState, voice_session_id: Uuid) -> Option<AvatarLink> {
    let live = match repo::live_for_voice(&state.db, voice_session_id).await {
        Ok(l) => l?,
        Err(e) => {
            tracing::warn!(error = ?e, "could not look up the session's avatar");
            return None;
        }
    };
    let elapsed = Duration::from_millis(live.elapsed_ms.max(0) as u64);
    let started = Instant::now()
        .checked_sub(elapsed)
        .unwrap_or_else(Instant::now);
    Some(AvatarLink::open(
        live.id,
        live.ws_url,
        started,
        live.minutes_reserved,
    ))
}

/// Keep a minute reserved ahead of a running session. `Ok(false)`: the month has no minute
/// left for the next one (end the session with [`QUOTA_NOTICE`]).
pub async fn keep_reserved(state: &AppState, link: &mut AvatarLink) -> ApiResult<bool> {
    let minute = minute_secs(state) as f64;
    // Ahead by the check interval plus time for the notice.
    let ahead = state.settings.avatar.check_secs.max(1) as f64 + 5.0f64.min(minute / 2.0);
    let need = ((link.started.elapsed().as_secs_f64() + ahead) / minute).ceil() as i32;
    while link.minutes_reserved < need {
        let mut conn = state.db.acquire().await?;
        match repo::extend(&mut conn, link.avatar_session_id, allowed(state)).await? {
            Some(r) => link.minutes_reserved = r,
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// What the avatar has cost the call so far (its minutes started, priced), so the call's
/// credit hold grows with it.
pub fn credits_so_far(state: &AppState, link: &AvatarLink) -> i64 {
    let minutes = (link.started.elapsed().as_secs_f64() / minute_secs(state) as f64).ceil() as i64;
    minutes.max(1) * state.settings.pricing.avatar_per_minute.max(0)
}

/// Charge the call's avatar minutes inside the call's finalizing transaction (so they are
/// charged exactly once, with the call). `None`: the call had no live avatar.
pub async fn settle(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    call_id: Uuid,
    reason: &str,
) -> sqlx::Result<Option<repo::Settled>> {
    repo::settle(
        tx,
        call_id,
        reason,
        minute_secs(state) as f64,
        allowed(state),
    )
    .await
}

/// After the call committed: stop LiveAvatar's session (bounded; LiveAvatar also ends idle
/// sessions by itself).
pub async fn stop_remote(state: &AppState, settled: &repo::Settled) {
    let (Some(la), Some(sid)) = (client(state), settled.provider_session_id.as_deref()) else {
        return;
    };
    match tokio::time::timeout(Duration::from_secs(5), la.stop(sid, "USER_CLOSED")).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "could not stop the LiveAvatar session"),
        Err(_) => tracing::warn!("stopping the LiveAvatar session timed out"),
    }
}
