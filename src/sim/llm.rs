//! OpenAI chat completions and Anthropic messages, streamed as SSE; embeddings.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{
    Failure, HANG, LogEntry, Out, Reply, Service, SimState, SimToolCall, StreamWriter,
    error_response, header as hdr, streamed_body, tokens,
};

/// The text of the last user message (OpenAI or Anthropic shape).
fn last_user_text(messages: &Value) -> String {
    let Some(arr) = messages.as_array() else {
        return String::new();
    };
    for m in arr.iter().rev() {
        if m["role"] != "user" {
            continue;
        }
        match &m["content"] {
            Value::String(s) => return s.clone(),
            Value::Array(blocks) => {
                let text: Vec<&str> = blocks
                    .iter()
                    .filter(|b| b["type"] == "text")
                    .filter_map(|b| b["text"].as_str())
                    .collect();
                if !text.is_empty() {
                    return text.join(" ");
                }
            }
            _ => {}
        }
    }
    String::new()
}

fn default_text(body: &Value) -> String {
    format!("Simulated reply to: {}", last_user_text(&body["messages"]))
}

/// Split text into streaming tokens (words with their trailing space).
fn text_tokens(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(String::from).collect()
}

/// Split tool-call arguments into small pieces.
fn arg_pieces(args: &str) -> Vec<String> {
    let chars: Vec<char> = args.chars().collect();
    chars.chunks(7).map(|c| c.iter().collect()).collect()
}

struct Prepared {
    reply: Reply,
    text: String,
    calls: Vec<SimToolCall>,
    ttfb: u64,
    delay: u64,
    input_tokens: u32,
    output_tokens: u32,
}

fn prepare(state: &SimState, body: &Value, raw_len: usize) -> Prepared {
    let cfg = state.config();
    let reply = state.next_reply(Service::Llm);
    let text = match (&reply.text, reply.tool_calls.is_empty()) {
        (Some(t), _) => t.clone(),
        (None, true) => default_text(body),
        (None, false) => String::new(),
    };
    let calls: Vec<SimToolCall> = reply
        .tool_calls
        .iter()
        .enumerate()
        .map(|(i, c)| SimToolCall {
            id: Some(c.id.clone().unwrap_or_else(|| format!("call_sim_{i}"))),
            ..c.clone()
        })
        .collect();
    let out_est = tokens(&text)
        + calls
            .iter()
            .map(|c| tokens(&c.arguments) + tokens(&c.name))
            .sum::<u32>();
    let (input_tokens, output_tokens) = match reply.usage {
        Some(u) => (u.input_tokens, u.output_tokens),
        None => ((raw_len as u32).div_ceil(4), out_est),
    };
    Prepared {
        ttfb: reply.ttfb_ms.unwrap_or(cfg.llm_ttfb_ms),
        delay: reply.token_delay_ms.unwrap_or(cfg.token_delay_ms),
        text,
        calls,
        input_tokens,
        output_tokens,
        reply,
    }
}

/// Failures answered before any byte: `Some(response)`.
async fn early_failure(state: &SimState, id: u64, fail: &Option<Failure>) -> Option<Response> {
    match fail {
        Some(Failure::Status { status }) => {
            state.update(id, |e| {
                e.status = *status;
                e.completed = true;
            });
            Some(error_response(*status, "scripted failure"))
        }
        Some(Failure::Hang) => {
            tokio::time::sleep(HANG).await;
            Some(error_response(504, "sim hung"))
        }
        _ => None,
    }
}

fn sse_response(body: axum::body::Body) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn openai_chunk(model: &str, choices: Value) -> Bytes {
    let v = json!({"id": "chatcmpl-sim", "object": "chat.completion.chunk", "created": 1,
        "model": model, "choices": choices});
    Bytes::from(format!("data: {v}\n\n"))
}

pub(super) async fn openai_chat(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let auth = hdr(&headers, "authorization");
    let id = state.start_entry(LogEntry {
        service: "openai.chat".into(),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        auth: auth.clone(),
        body: body.clone(),
        status: 200,
        ..Default::default()
    });
    let key = auth.as_deref().and_then(|a| a.strip_prefix("Bearer "));
    if !state.check_key(key) {
        state.update(id, |e| e.status = 401);
        return error_response(401, "Incorrect API key provided");
    }
    if body.is_null() {
        state.update(id, |e| e.status = 400);
        return error_response(400, "invalid JSON body");
    }
    let p = prepare(&state, &body, raw.len());
    if let Some(resp) = early_failure(&state, id, &p.reply.fail).await {
        return resp;
    }
    let model = body["model"].as_str().unwrap_or("sim-model").to_string();
    let include_usage = body["stream_options"]["include_usage"]
        .as_bool()
        .unwrap_or(false)
        && !p.reply.omit_usage;
    let split = p.reply.split_bytes.or(state.config().split_bytes);
    let stream = streamed_body(state, id, move |mut w: StreamWriter| {
        w.split = split;
        Box::pin(async move {
            if !w.pause(p.ttfb).await {
                return;
            }
            let mut chunks = vec![openai_chunk(
                &model,
                json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
            )];
            for t in text_tokens(&p.text) {
                chunks.push(openai_chunk(
                    &model,
                    json!([{"index": 0, "delta": {"content": t}, "finish_reason": null}]),
                ));
            }
            for (i, c) in p.calls.iter().enumerate() {
                chunks.push(openai_chunk(&model, json!([{"index": 0, "delta": {"tool_calls": [{"index": i, "id": c.id,
                    "type": "function", "function": {"name": c.name, "arguments": ""}}]}, "finish_reason": null}])));
            }
            // Argument pieces of several calls interleave, as the protocol allows.
            let pieces: Vec<Vec<String>> =
                p.calls.iter().map(|c| arg_pieces(&c.arguments)).collect();
            let longest = pieces.iter().map(Vec::len).max().unwrap_or(0);
            for k in 0..longest {
                for (i, ps) in pieces.iter().enumerate() {
                    if let Some(piece) = ps.get(k) {
                        chunks.push(openai_chunk(
                            &model,
                            json!([{"index": 0, "delta": {"tool_calls": [{"index": i,
                            "function": {"arguments": piece}}]}, "finish_reason": null}]),
                        ));
                    }
                }
            }
            let reason = if p.calls.is_empty() {
                "stop"
            } else {
                "tool_calls"
            };
            chunks.push(openai_chunk(
                &model,
                json!([{"index": 0, "delta": {}, "finish_reason": reason}]),
            ));
            if include_usage {
                let v = json!({"id": "chatcmpl-sim", "object": "chat.completion.chunk", "created": 1, "model": model,
                    "choices": [], "usage": {"prompt_tokens": p.input_tokens, "completion_tokens": p.output_tokens,
                    "total_tokens": p.input_tokens + p.output_tokens}});
                chunks.push(Bytes::from(format!("data: {v}\n\n")));
            }
            chunks.push(Bytes::from_static(b"data: [DONE]\n\n"));
            play(
                &w,
                chunks,
                &p.reply.fail,
                p.delay,
                Some(Bytes::from_static(
                    b"data: {\"id\": \"chatcmpl-sim\", \"choices\": [{\"delta\"\n\n",
                )),
            )
            .await;
        })
    });
    sse_response(stream)
}

/// Send `chunks` with `delay` between them, applying a mid-stream failure.
async fn play(
    w: &StreamWriter,
    chunks: Vec<Bytes>,
    fail: &Option<Failure>,
    delay: u64,
    malformed: Option<Bytes>,
) {
    let half = chunks.len() / 2;
    for (i, c) in chunks.into_iter().enumerate() {
        if i > 0 && !w.pause(delay).await {
            return;
        }
        if i == half.max(1) {
            match fail {
                Some(Failure::DieMidStream) => {
                    w.send(Out::Die).await;
                    return;
                }
                Some(Failure::StallMidStream) => {
                    w.stall().await;
                    return;
                }
                Some(Failure::Malformed) => {
                    if let Some(m) = &malformed {
                        w.send(Out::Bytes(m.clone())).await;
                    }
                    w.complete();
                    return;
                }
                _ => {}
            }
        }
        if !w.send(Out::Bytes(c)).await {
            return;
        }
    }
    w.complete();
}

fn anthropic_event(kind: &str, v: Value) -> Bytes {
    Bytes::from(format!("event: {kind}\ndata: {v}\n\n"))
}

pub(super) async fn anthropic_messages(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let key = hdr(&headers, "x-api-key");
    let id = state.start_entry(LogEntry {
        service: "anthropic.messages".into(),
        method: "POST".into(),
        path: "/v1/messages".into(),
        auth: key.clone(),
        body: body.clone(),
        status: 200,
        ..Default::default()
    });
    if !state.check_key(key.as_deref()) {
        state.update(id, |e| e.status = 401);
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})),
        )
            .into_response();
    }
    if hdr(&headers, "anthropic-version").is_none() || body.is_null() {
        state.update(id, |e| e.status = 400);
        return error_response(400, "anthropic-version header and a JSON body are required");
    }
    let p = prepare(&state, &body, raw.len());
    if let Some(resp) = early_failure(&state, id, &p.reply.fail).await {
        return resp;
    }
    let model = body["model"].as_str().unwrap_or("sim-model").to_string();
    let split = p.reply.split_bytes.or(state.config().split_bytes);
    let stream = streamed_body(state, id, move |mut w: StreamWriter| {
        w.split = split;
        Box::pin(async move {
            if !w.pause(p.ttfb).await {
                return;
            }
            let mut chunks = vec![
                anthropic_event(
                    "message_start",
                    json!({"type": "message_start", "message": {"id": "msg_sim",
                    "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": null,
                    "usage": {"input_tokens": p.input_tokens, "output_tokens": 1}}}),
                ),
                anthropic_event("ping", json!({"type": "ping"})),
            ];
            let mut block = 0;
            if !p.text.is_empty() {
                chunks.push(anthropic_event(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": block,
                    "content_block": {"type": "text", "text": ""}}),
                ));
                for t in text_tokens(&p.text) {
                    chunks.push(anthropic_event(
                        "content_block_delta",
                        json!({"type": "content_block_delta", "index": block,
                        "delta": {"type": "text_delta", "text": t}}),
                    ));
                }
                chunks.push(anthropic_event(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": block}),
                ));
                block += 1;
            }
            for (i, c) in p.calls.iter().enumerate() {
                let tid = c.id.clone().unwrap_or_else(|| format!("toolu_sim_{i}"));
                chunks.push(anthropic_event(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": block,
                    "content_block": {"type": "tool_use", "id": tid, "name": c.name, "input": {}}}),
                ));
                for piece in arg_pieces(&c.arguments) {
                    chunks.push(anthropic_event(
                        "content_block_delta",
                        json!({"type": "content_block_delta", "index": block,
                        "delta": {"type": "input_json_delta", "partial_json": piece}}),
                    ));
                }
                chunks.push(anthropic_event(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": block}),
                ));
                block += 1;
            }
            let reason = if p.calls.is_empty() {
                "end_turn"
            } else {
                "tool_use"
            };
            let usage = if p.reply.omit_usage {
                json!({})
            } else {
                json!({"output_tokens": p.output_tokens})
            };
            chunks.push(anthropic_event(
                "message_delta",
                json!({"type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": null}, "usage": usage}),
            ));
            chunks.push(anthropic_event(
                "message_stop",
                json!({"type": "message_stop"}),
            ));
            play(&w, chunks, &p.reply.fail, p.delay, Some(Bytes::from_static(b"event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\n\n"))).await;
        })
    });
    sse_response(stream)
}

/// Deterministic embedding of a text: hashed words and hashed character trigrams of each
/// word (`#physio#` → `#ph`, `phy`, …), L2-normalised. The same text always gets the same
/// vector; texts sharing words are close, and so are texts whose words share most of their
/// letters ("physio" and "physiotherapist", "Lisbon" and "Lisboa") although full-text search
/// (whole stemmed words) sees no match: a small, real stand-in for a model's similarity.
fn embed(text: &str, dims: usize) -> Vec<f32> {
    use sha2::{Digest, Sha256};
    let mut v = vec![0f32; dims];
    let mut add = |feature: &str, weight: f32| {
        let h = Sha256::digest(feature.as_bytes());
        let idx = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize % dims;
        let sign = if h[4] & 1 == 0 { 1.0 } else { -1.0 };
        v[idx] += sign * weight;
    };
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        add(&format!("w:{word}"), 1.0);
        let padded: Vec<char> = format!("#{word}#").chars().collect();
        for tri in padded.windows(3) {
            add(&format!("t:{}", tri.iter().collect::<String>()), 0.5);
        }
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

pub(super) async fn embeddings(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let auth = hdr(&headers, "authorization");
    let id = state.start_entry(LogEntry {
        service: "openai.embeddings".into(),
        method: "POST".into(),
        path: "/v1/embeddings".into(),
        auth: auth.clone(),
        body: body.clone(),
        status: 200,
        ..Default::default()
    });
    if !state.check_key(auth.as_deref().and_then(|a| a.strip_prefix("Bearer "))) {
        state.update(id, |e| e.status = 401);
        return error_response(401, "Incorrect API key provided");
    }
    let reply = state.next_reply(Service::Embeddings);
    if let Some(resp) = early_failure(&state, id, &reply.fail).await {
        return resp;
    }
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => {
            state.update(id, |e| e.status = 400);
            return error_response(400, "input must be a string or an array of strings");
        }
    };
    let dims = body["dimensions"].as_u64().unwrap_or(256).clamp(1, 4096) as usize;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": embed(t, dims)}))
        .collect();
    let used: u32 = inputs.iter().map(|t| tokens(t)).sum();
    state.update(id, |e| e.completed = true);
    Json(json!({"object": "list", "data": data, "model": body["model"].as_str().unwrap_or("sim-embedding"),
        "usage": {"prompt_tokens": used, "total_tokens": used}}))
    .into_response()
}
