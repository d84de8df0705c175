//! `WS /api/v1/events`: the caller's change stream, fed by this instance's `events::Hub`
//! (the hub and `events::publish` sit below `state`; this route sits above it).

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{
        Query, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket},
    },
    response::Response,
};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::{
    auth::WsUser,
    error::ApiError,
    events::{Event, repo},
    metrics::WsGuard,
    state::AppState,
};

/// `WS /api/v1/events` (a full path: merged, not nested).
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(events_socket))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventsQuery {
    /// Replay the caller's events with a greater id (the last id the client saw).
    pub since: Option<i64>,
    /// Single-use ticket from `POST /api/v1/auth/ws-ticket` (browsers cannot set headers).
    #[allow(dead_code)]
    pub ticket: Option<String>,
}

const REPLAY_BATCH: i64 = 500;
/// Close codes: 1001 going away (shutdown), 1008 policy (too slow).
const GOING_AWAY: u16 = 1001;
const TOO_SLOW: u16 = 1008;

/// Per-user stream of changes: `{"id", "type": "task.created", "data": {…}, "created_at"}`.
/// Reconnect with `?since=<last id>` to get missed events. A client that cannot keep up is
/// closed (code 1008) and should reconnect with `since`.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery),
    responses((status = 101, description = "WebSocket of change events"),
              (status = 401, body = crate::error::Problem)))]
pub async fn events_socket(
    State(state): State<AppState>,
    WsUser(user): WsUser,
    Query(query): Query<EventsQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if query.since.is_some_and(|s| s < 0) {
        return Err(ApiError::validation("since", "must be an event id"));
    }
    let tracker = state.tasks.clone();
    Ok(ws.on_upgrade(move |socket| {
        tracker.track_future(run(state, user.user_id, query.since, socket))
    }))
}

fn frame(event: &Event) -> Message {
    Message::Text(serde_json::to_string(event).unwrap_or_default().into())
}

async fn run(state: AppState, user_id: Uuid, since: Option<i64>, socket: WebSocket) {
    let _guard = WsGuard::new("events");
    // Subscribe before replaying so nothing falls between the two.
    let mut live = state.events.subscribe(user_id);
    let (mut sink, mut stream) = socket.split();
    let send_timeout = Duration::from_secs(state.settings.events.send_timeout_secs.max(1));
    let mut last_sent = since.unwrap_or(0);

    if let Some(mut cursor) = since {
        loop {
            let batch = match repo::since(&state.db, user_id, cursor, REPLAY_BATCH).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "event replay failed");
                    let _ = close(&mut sink, 1011, "replay failed; retry").await;
                    return;
                }
            };
            let n = batch.len() as i64;
            for event in &batch {
                if tokio::time::timeout(send_timeout, sink.send(frame(event)))
                    .await
                    .is_err()
                {
                    return;
                }
                cursor = event.id;
                last_sent = event.id;
            }
            if n < REPLAY_BATCH {
                break;
            }
        }
    }

    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => {
                let _ = close(&mut sink, GOING_AWAY, "server shutting down; reconnect").await;
                return;
            }
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {} // pings are answered by the protocol layer; nothing else is expected
            },
            event = live.recv() => match event {
                Ok(event) => {
                    if event.id <= last_sent {
                        continue; // already sent during replay
                    }
                    last_sent = event.id;
                    let event: Arc<Event> = event;
                    if tokio::time::timeout(send_timeout, sink.send(frame(&event))).await.is_err() {
                        metrics::counter!("events_slow_clients_closed_total").increment(1);
                        return; // the socket is not draining; dropping it frees its buffers
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    metrics::counter!("events_slow_clients_closed_total").increment(1);
                    let _ = close(&mut sink, TOO_SLOW, "client too slow; reconnect with since").await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            _ = ping.tick() => {
                if tokio::time::timeout(send_timeout, sink.send(Message::Ping(Default::default()))).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn close(
    sink: &mut futures::stream::SplitSink<WebSocket, Message>,
    code: u16,
    reason: &'static str,
) -> Result<(), ()> {
    let msg = Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }));
    match tokio::time::timeout(Duration::from_secs(1), sink.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}
