use std::{convert::Infallible, time::Duration};

use axum::{
    Json,
    extract::{
        Path, State, WebSocketUpgrade,
        ws::{CloseFrame, Message as WsMessage, WebSocket},
    },
    http::{HeaderMap, StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    model::{Conversation, CreateConversation, Exchange, Message, PostMessage, UpdateConversation},
    service,
};
use crate::{
    assistant::TurnEvent,
    auth::{AuthUser, WsUser},
    error::{ApiError, ApiResult, Problem},
    http::{Page, Pagination, ValidJson, pagination::PageParams},
    state::AppState,
};

/// The user's conversations, newest first.
#[utoipa::path(get, path = "/", tag = "chat", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Page<Conversation>), (status = 422, body = Problem)))]
pub async fn list_conversations(
    State(state): State<AppState>,
    auth: AuthUser,
    page: Pagination,
) -> ApiResult<Json<Page<Conversation>>> {
    Ok(Json(
        service::list_conversations(&state.db, auth.user_id, page).await?,
    ))
}

/// Start a conversation (optionally with one of the user's or the built-in agents).
#[utoipa::path(post, path = "/", tag = "chat", security(("bearer" = [])),
    request_body = CreateConversation,
    responses((status = 201, body = Conversation, headers(("Location" = String))),
              (status = 422, body = Problem)))]
pub async fn create_conversation(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(input): ValidJson<CreateConversation>,
) -> ApiResult<impl IntoResponse> {
    let c = service::create_conversation(&state.db, auth.user_id, input).await?;
    let location = [(header::LOCATION, format!("/api/v1/conversations/{}", c.id))];
    Ok((StatusCode::CREATED, location, Json(c)))
}

#[utoipa::path(get, path = "/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Conversation), (status = 404, body = Problem)))]
pub async fn get_conversation(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(
        service::get_conversation(&state.db, auth.user_id, id).await?,
    ))
}

/// Rename a conversation or change its agent (`null` clears).
#[utoipa::path(patch, path = "/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateConversation,
    responses((status = 200, body = Conversation), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn update_conversation(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    ValidJson(input): ValidJson<UpdateConversation>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(
        service::update_conversation(&state.db, auth.user_id, id, input).await?,
    ))
}

/// `PUT` with `PATCH` semantics, for clients of the older API.
#[utoipa::path(put, path = "/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateConversation,
    responses((status = 200, body = Conversation), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn put_conversation(
    state: State<AppState>,
    auth: AuthUser,
    id: Path<Uuid>,
    input: ValidJson<UpdateConversation>,
) -> ApiResult<Json<Conversation>> {
    update_conversation(state, auth, id, input).await
}

/// Delete a conversation and its messages.
#[utoipa::path(delete, path = "/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_conversation(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    service::delete_conversation(&state.db, auth.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The conversation's messages, oldest first.
#[utoipa::path(get, path = "/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<Message>), (status = 404, body = Problem)))]
pub async fn list_messages(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    page: Pagination,
) -> ApiResult<Json<Page<Message>>> {
    Ok(Json(
        service::list_messages(&state.db, auth.user_id, id, page).await?,
    ))
}

fn wants_sse(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

/// One streamed event as `(name, data)`; the WebSocket sends `{"type": name, …data}`.
fn turn_event(ev: TurnEvent) -> (&'static str, Value) {
    match ev {
        TurnEvent::Delta(text) => ("delta", json!({"text": text})),
        TurnEvent::ToolCall(o) => (
            "tool_call",
            json!({"id": o.id, "name": o.name, "arguments": o.arguments, "result": o.result,
                   "is_error": o.is_error}),
        ),
    }
}

fn error_data(e: &ApiError) -> Value {
    let status = e.status_code();
    let code = e.code();
    let detail = if status.is_server_error() && !matches!(e, ApiError::Provider(_)) {
        "an internal error occurred".to_string()
    } else {
        e.to_string()
    };
    json!({"code": code, "status": status.as_u16(), "detail": detail})
}

/// Send a message and get the agent's reply: `201 {user_message, assistant_message}`, or
/// with `Accept: text/event-stream` the SSE events `user_message`, `delta {text}`,
/// `tool_call {name, arguments, result}`, `assistant_message` (or `error`). The user's
/// message is kept when the provider fails (`502 provider_error`). Billed to the wallet
/// (`402` before the model is called when the wallet cannot cover a minimal reply).
#[utoipa::path(post, path = "/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = PostMessage,
    responses((status = 201, body = Exchange),
              (status = 200, description = "SSE stream (Accept: text/event-stream)", content_type = "text/event-stream"),
              (status = 402, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem), (status = 502, body = Problem)))]
pub async fn post_message(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ValidJson(input): ValidJson<PostMessage>,
) -> ApiResult<Response> {
    let accepted = service::accept_message(&state, auth.user_id, id, input).await?;
    if !wants_sse(&headers) {
        let assistant_message =
            service::reply(&state, &accepted, &CancellationToken::new(), |_| {}).await?;
        let body = Exchange {
            user_message: accepted.user_message,
            assistant_message,
        };
        return Ok((StatusCode::CREATED, Json(body)).into_response());
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<(&'static str, Value)>();
    let user_message = serde_json::to_value(&accepted.user_message).map_err(ApiError::internal)?;
    let _ = tx.send(("user_message", user_message));
    // The reply runs to the end (and is stored) even when the client goes away.
    let cancel = state.shutdown.child_token();
    let task_state = state.clone();
    state.tasks.spawn(async move {
        let events = tx.clone();
        let r = service::reply(&task_state, &accepted, &cancel, move |ev| {
            let _ = events.send(turn_event(ev));
        })
        .await;
        let last = match r {
            Ok(m) => (
                "assistant_message",
                serde_json::to_value(&m).unwrap_or_default(),
            ),
            Err(e) => ("error", error_data(&e)),
        };
        let _ = tx.send(last);
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(|(name, data)| {
        Ok::<_, Infallible>(Event::default().event(name).data(data.to_string()))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Message {
        content: String,
        #[serde(default)]
        agent_id: Option<Uuid>,
    },
    Cancel,
}

/// Chat over a WebSocket: the client sends `{"type":"message","content":"…"}` or
/// `{"type":"cancel"}`; the server sends `{"type":"user_message",…}`,
/// `{"type":"delta","text":…}`, `{"type":"tool_call",…}`, `{"type":"assistant_message",…}`
/// and `{"type":"error",…}`. `cancel` stops the reply in progress and stores what was
/// produced. Auth by bearer header or `?ticket=`; another user's conversation is `404`.
#[utoipa::path(get, path = "/{conversation_id}", tag = "chat",
    params(("conversation_id" = Uuid, Path)),
    responses((status = 101, description = "WebSocket chat"),
              (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn chat_socket(
    State(state): State<AppState>,
    WsUser(user): WsUser,
    Path(conversation_id): Path<Uuid>,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    service::get_conversation(&state.db, user.user_id, conversation_id).await?;
    let tracker = state.tasks.clone();
    Ok(ws.on_upgrade(move |socket| {
        tracker.track_future(run_socket(state, user.user_id, conversation_id, socket))
    }))
}

fn frame(kind: &str, data: Value) -> WsMessage {
    let mut obj = match data {
        Value::Object(m) => m,
        other => {
            let mut m = serde_json::Map::new();
            m.insert("data".into(), other);
            m
        }
    };
    obj.insert("type".into(), Value::String(kind.into()));
    WsMessage::Text(Value::Object(obj).to_string().into())
}

fn message_frame(kind: &str, m: &Message) -> WsMessage {
    frame(kind, serde_json::to_value(m).unwrap_or_default())
}

async fn run_socket(state: AppState, user_id: Uuid, conversation_id: Uuid, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<WsMessage>();
    // The reply in progress: its cancel token and whether it is still running.
    let mut current: Option<(CancellationToken, tokio::task::JoinHandle<()>)> = None;
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => {
                if let Some((c, _)) = &current { c.cancel(); }
                let _ = sink.send(WsMessage::Close(Some(CloseFrame { code: 1001, reason: "server shutting down".into() }))).await;
                break;
            }
            out = rx.recv() => {
                let Some(out) = out else { continue };
                if sink.send(out).await.is_err() {
                    break;
                }
            }
            incoming = stream.next() => {
                let text = match incoming {
                    Some(Ok(WsMessage::Text(t))) => t,
                    Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let running = current.as_ref().is_some_and(|(_, h)| !h.is_finished());
                match serde_json::from_str::<ClientFrame>(&text) {
                    Ok(ClientFrame::Cancel) => {
                        if let Some((c, _)) = &current { c.cancel(); }
                    }
                    Ok(ClientFrame::Message { .. }) if running => {
                        let _ = sink.send(frame("error", json!({"code": "conflict", "status": 409,
                            "detail": "a reply is in progress; cancel it or wait"}))).await;
                    }
                    Ok(ClientFrame::Message { content, agent_id }) => {
                        let input = PostMessage { content, agent_id };
                        match service::accept_message(&state, user_id, conversation_id, input).await {
                            Err(e) => {
                                let _ = sink.send(frame("error", error_data(&e))).await;
                            }
                            Ok(accepted) => {
                                let _ = sink.send(message_frame("user_message", &accepted.user_message)).await;
                                let cancel = state.shutdown.child_token();
                                let token = cancel.clone();
                                let task_state = state.clone();
                                let tx = tx.clone();
                                let handle = state.tasks.spawn(async move {
                                    let events = tx.clone();
                                    let r = service::reply(&task_state, &accepted, &token, move |ev| {
                                        let (name, data) = turn_event(ev);
                                        let _ = events.send(frame(name, data));
                                    }).await;
                                    let last = match r {
                                        Ok(m) => message_frame("assistant_message", &m),
                                        Err(e) => frame("error", error_data(&e)),
                                    };
                                    let _ = tx.send(last);
                                });
                                current = Some((cancel, handle));
                            }
                        }
                    }
                    Err(e) => {
                        let _ = sink.send(frame("error", json!({"code": "bad_request", "status": 400,
                            "detail": format!("unreadable frame: {e}")}))).await;
                    }
                }
            }
        }
    }
    // The socket is gone: stop the reply in progress (what it produced is stored).
    if let Some((c, _)) = current {
        c.cancel();
    }
}
