//! Speech vendors: OpenAI transcriptions and speech, ElevenLabs streaming, Deepgram listen.

use std::{sync::Arc, time::Duration};

use axum::{
    Json,
    body::Bytes,
    extract::{
        Path, Query, State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{
    Failure, HANG, LogEntry, Out, Service, SimState, StreamWriter, error_response, header as hdr,
    streamed_body,
};
use crate::audio::{
    EnergyVad, VadConfig, VadEvent, mulaw, pcm16_from_le_bytes, pcm16_to_le_bytes, wav,
};

/// Text fields of a form, and its file's bytes.
type Form = (Vec<(String, String)>, Vec<u8>);

/// Parse a multipart/form-data body.
fn parse_multipart(content_type: &str, body: &[u8]) -> Option<Form> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let delim = format!("--{boundary}");
    let mut fields = Vec::new();
    let mut file = Vec::new();
    let mut rest = body;
    loop {
        let start = find(rest, delim.as_bytes())?;
        rest = &rest[start + delim.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&rest[..head_end]).to_string();
        let content = &rest[head_end + 4..];
        let end = find(content, format!("\r\n{delim}").as_bytes())?;
        let value = &content[..end];
        let name = head.split("name=\"").nth(1)?.split('"').next()?.to_string();
        if head.contains("filename=") {
            file = value.to_vec();
        } else {
            fields.push((name, String::from_utf8_lossy(value).to_string()));
        }
        rest = &content[end + 2..];
    }
    Some((fields, file))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(super) async fn openai_transcriptions(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let auth = hdr(&headers, "authorization");
    let ct = hdr(&headers, "content-type").unwrap_or_default();
    let parsed = parse_multipart(&ct, &raw);
    let summary = match &parsed {
        Some((fields, file)) => {
            let mut m = serde_json::Map::new();
            for (k, v) in fields {
                m.insert(k.clone(), json!(v));
            }
            m.insert("file_bytes".into(), json!(file.len()));
            if let Ok(f) = wav::read(file) {
                m.insert("audio_seconds".into(), json!(f.duration_secs()));
            }
            Value::Object(m)
        }
        None => json!({"bytes": raw.len()}),
    };
    let id = state.start_entry(LogEntry {
        service: "openai.transcriptions".into(),
        method: "POST".into(),
        path: "/v1/audio/transcriptions".into(),
        auth: auth.clone(),
        body: summary,
        status: 200,
        ..Default::default()
    });
    if !state.check_key(auth.as_deref().and_then(|a| a.strip_prefix("Bearer "))) {
        state.update(id, |e| e.status = 401);
        return error_response(401, "Incorrect API key provided");
    }
    let Some((_, file)) = parsed else {
        state.update(id, |e| e.status = 400);
        return error_response(400, "expected multipart/form-data with a file");
    };
    if wav::read(&file).is_err() {
        state.update(id, |e| e.status = 400);
        return error_response(400, "the file is not a WAV");
    }
    let reply = state.next_reply(Service::Stt);
    match reply.fail {
        Some(Failure::Status { status }) => {
            state.update(id, |e| e.status = status);
            return error_response(status, "scripted failure");
        }
        Some(Failure::Hang) => {
            tokio::time::sleep(HANG).await;
            return error_response(504, "sim hung");
        }
        Some(Failure::Malformed) => {
            state.update(id, |e| e.completed = true);
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"text\": ",
            )
                .into_response();
        }
        _ => {}
    }
    let delay = reply.ttfb_ms.unwrap_or(state.config().stt_latency_ms);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let text = reply
        .text
        .unwrap_or_else(|| state.config().default_transcript);
    state.update(id, |e| e.completed = true);
    Json(json!({"text": text})).into_response()
}

/// Synthesized "speech": a deterministic two-tone signal lasting `ms_per_char` per character.
fn synth(text: &str, rate: u32, ms_per_char: u64) -> Vec<i16> {
    let ms = (text.chars().count() as u64 * ms_per_char).max(200);
    let n = (rate as u64 * ms / 1000) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate as f64;
            let env = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            let s = 0.25 * (2.0 * std::f64::consts::PI * 180.0 * t).sin()
                + 0.1 * (2.0 * std::f64::consts::PI * 360.0 * t).sin();
            (env * s * 32767.0) as i16
        })
        .collect()
}

/// Stream audio bytes in 20 ms chunks with the configured latency/pacing.
fn audio_body(
    state: Arc<SimState>,
    id: u64,
    bytes: Vec<u8>,
    bytes_per_20ms: usize,
    fail: Option<Failure>,
    ttfb: u64,
    realtime: bool,
) -> axum::body::Body {
    streamed_body(state, id, move |w: StreamWriter| {
        Box::pin(async move {
            if !w.pause(ttfb).await {
                return;
            }
            let chunks: Vec<&[u8]> = bytes.chunks(bytes_per_20ms.max(1)).collect();
            let half = chunks.len() / 2;
            for (i, c) in chunks.iter().enumerate() {
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
                        _ => {}
                    }
                }
                if i > 0 && !w.pause(if realtime { 20 } else { 0 }).await {
                    return;
                }
                if !w.send(Out::Bytes(Bytes::copy_from_slice(c))).await {
                    return;
                }
            }
            w.complete();
        })
    })
}

/// Failures answered before any audio; `Some(response)`.
async fn tts_early_failure(state: &SimState, id: u64, fail: &Option<Failure>) -> Option<Response> {
    match fail {
        Some(Failure::Status { status }) => {
            state.update(id, |e| e.status = *status);
            Some(error_response(*status, "scripted failure"))
        }
        Some(Failure::Hang) => {
            tokio::time::sleep(HANG).await;
            Some(error_response(504, "sim hung"))
        }
        Some(Failure::Malformed) => {
            state.update(id, |e| e.completed = true);
            Some(error_response(200, "a JSON body where audio was expected"))
        }
        _ => None,
    }
}

pub(super) async fn openai_speech(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let auth = hdr(&headers, "authorization");
    let id = state.start_entry(LogEntry {
        service: "openai.speech".into(),
        method: "POST".into(),
        path: "/v1/audio/speech".into(),
        auth: auth.clone(),
        body: body.clone(),
        status: 200,
        ..Default::default()
    });
    if !state.check_key(auth.as_deref().and_then(|a| a.strip_prefix("Bearer "))) {
        state.update(id, |e| e.status = 401);
        return error_response(401, "Incorrect API key provided");
    }
    let Some(text) = body["input"].as_str() else {
        state.update(id, |e| e.status = 400);
        return error_response(400, "input is required");
    };
    if body["response_format"] != "pcm" {
        state.update(id, |e| e.status = 400);
        return error_response(400, "the simulator only speaks response_format=pcm");
    }
    let reply = state.next_reply(Service::Tts);
    if let Some(resp) = tts_early_failure(&state, id, &reply.fail).await {
        return resp;
    }
    let cfg = state.config();
    let pcm = pcm16_to_le_bytes(&synth(text, 24000, cfg.tts_ms_per_char));
    let ttfb = reply.ttfb_ms.unwrap_or(cfg.tts_ttfb_ms);
    let body = audio_body(state, id, pcm, 960, reply.fail, ttfb, cfg.tts_realtime);
    (StatusCode::OK, [(header::CONTENT_TYPE, "audio/pcm")], body).into_response()
}

pub(super) async fn elevenlabs_stream(
    State(state): State<Arc<SimState>>,
    Path(voice): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let key = hdr(&headers, "xi-api-key");
    let format = q
        .iter()
        .find(|(k, _)| k == "output_format")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "mp3_44100_128".into());
    let id = state.start_entry(LogEntry {
        service: "elevenlabs.stream".into(),
        method: "POST".into(),
        path: format!("/v1/text-to-speech/{voice}/stream"),
        query: format!("output_format={format}"),
        auth: key.clone(),
        body: body.clone(),
        status: 200,
        ..Default::default()
    });
    if !state.check_key(key.as_deref()) {
        state.update(id, |e| e.status = 401);
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})),
        )
            .into_response();
    }
    let Some(text) = body["text"].as_str() else {
        state.update(id, |e| e.status = 400);
        return error_response(400, "text is required");
    };
    let reply = state.next_reply(Service::Tts);
    if let Some(resp) = tts_early_failure(&state, id, &reply.fail).await {
        return resp;
    }
    let cfg = state.config();
    let (bytes, per_20ms, ct) = match format.as_str() {
        "ulaw_8000" => (
            mulaw::encode(&synth(text, 8000, cfg.tts_ms_per_char)),
            160,
            "audio/basic",
        ),
        f if f.starts_with("pcm_") => {
            let rate: u32 = f[4..].parse().unwrap_or(16000);
            (
                pcm16_to_le_bytes(&synth(text, rate, cfg.tts_ms_per_char)),
                (rate as usize / 50) * 2,
                "audio/pcm",
            )
        }
        other => {
            state.update(id, |e| e.status = 400);
            return error_response(400, &format!("the simulator does not produce {other}"));
        }
    };
    let ttfb = reply.ttfb_ms.unwrap_or(cfg.tts_ttfb_ms);
    let body = audio_body(
        state,
        id,
        bytes,
        per_20ms,
        reply.fail,
        ttfb,
        cfg.tts_realtime,
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, ct)], body).into_response()
}

// ---- Deepgram listen ----

struct ListenParams {
    sample_rate: u32,
    interim_results: bool,
    endpointing_ms: u32,
    utterance_end_ms: Option<u32>,
    vad_events: bool,
}

fn listen_params(q: &[(String, String)]) -> ListenParams {
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    ListenParams {
        sample_rate: get("sample_rate")
            .and_then(|v| v.parse().ok())
            .unwrap_or(16000),
        interim_results: get("interim_results") == Some("true"),
        endpointing_ms: get("endpointing")
            .and_then(|v| v.parse().ok())
            .unwrap_or(300),
        utterance_end_ms: get("utterance_end_ms").and_then(|v| v.parse().ok()),
        vad_events: get("vad_events") == Some("true"),
    }
}

pub(super) async fn deepgram_listen(
    State(state): State<Arc<SimState>>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let auth = hdr(&headers, "authorization");
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(q.iter())
        .finish();
    let id = state.start_entry(LogEntry {
        service: "deepgram.listen".into(),
        method: "GET".into(),
        path: "/v1/listen".into(),
        query,
        auth: auth.clone(),
        body: Value::Null,
        status: 101,
        ..Default::default()
    });
    if !state.check_key(auth.as_deref().and_then(|a| a.strip_prefix("Token "))) {
        state.update(id, |e| e.status = 401);
        return error_response(401, "Invalid credentials");
    }
    if let Some(Failure::Status { status }) =
        state.take_failure_if(Service::Stt, |f| matches!(f, Failure::Status { .. }))
    {
        state.update(id, |e| e.status = status);
        return error_response(status, "scripted failure");
    }
    let params = listen_params(&q);
    ws.on_upgrade(move |socket| listen(socket, state, id, params))
}

struct Utterance {
    words: Vec<String>,
    start: f64,
    interims_sent: usize,
    fail: Option<Failure>,
}

async fn listen(mut socket: WebSocket, state: Arc<SimState>, id: u64, p: ListenParams) {
    let rate = p.sample_rate;
    let mut vad = EnergyVad::new(
        rate,
        VadConfig {
            end_ms: p.endpointing_ms.max(10),
            ..VadConfig::default()
        },
    );
    let mut total_samples: u64 = 0;
    let mut current: Option<Utterance> = None;
    // End time of the last final utterance still waiting for its UtteranceEnd.
    let mut pending_utterance_end: Option<f64> = None;
    let secs = |n: u64| n as f64 / rate as f64;
    let send = |v: Value| Message::Text(v.to_string().into());
    let mut pending_bytes: Vec<u8> = Vec::new();
    let result_msg = |text: &str,
                      start: f64,
                      end: f64,
                      is_final: bool,
                      speech_final: bool,
                      from_finalize: bool| {
        let words: Vec<Value> = text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| {
                let n = text.split_whitespace().count().max(1) as f64;
                let ws = start + (end - start) * i as f64 / n;
                json!({"word": w.to_lowercase(), "start": ws, "end": ws + (end - start) / n, "confidence": 0.99, "punctuated_word": w})
            })
            .collect();
        let mut v = json!({"type": "Results", "channel_index": [0, 1], "start": start, "duration": (end - start).max(0.0),
            "is_final": is_final, "speech_final": speech_final,
            "channel": {"alternatives": [{"transcript": text, "confidence": 0.98, "words": words}]},
            "metadata": {"request_id": format!("sim-{id}")}});
        if from_finalize {
            v["from_finalize"] = json!(true);
        }
        v
    };
    loop {
        let Some(Ok(msg)) = socket.recv().await else {
            // The client went away without CloseStream.
            state.update(id, |e| e.cancelled = true);
            return;
        };
        let mut out: Vec<Value> = Vec::new();
        let mut close = false;
        match msg {
            Message::Binary(bytes) => {
                state.update(id, |e| e.audio_bytes += bytes.len() as u64);
                pending_bytes.extend_from_slice(&bytes);
                let even = pending_bytes.len() & !1;
                let samples = pcm16_from_le_bytes(&pending_bytes[..even]);
                pending_bytes.drain(..even);
                total_samples += samples.len() as u64;
                let now = secs(total_samples);
                for ev in vad.push(&samples) {
                    match ev {
                        VadEvent::SpeechStart { at } => {
                            let reply = state.next_reply(Service::Stt);
                            let text = reply
                                .text
                                .clone()
                                .unwrap_or_else(|| state.config().default_transcript);
                            current = Some(Utterance {
                                words: text.split_whitespace().map(String::from).collect(),
                                start: at.as_secs_f64(),
                                interims_sent: 0,
                                fail: reply.fail,
                            });
                            pending_utterance_end = None;
                            if p.vad_events {
                                out.push(json!({"type": "SpeechStarted", "channel": [0], "timestamp": at.as_secs_f64()}));
                            }
                        }
                        VadEvent::SpeechEnd { at } => {
                            if let Some(u) = current.take() {
                                let end = at.as_secs_f64();
                                let endpointing = state.config().stt_endpointing;
                                out.push(result_msg(
                                    &u.words.join(" "),
                                    u.start,
                                    end,
                                    true,
                                    endpointing,
                                    false,
                                ));
                                pending_utterance_end = endpointing.then_some(end);
                            }
                        }
                    }
                }
                // Interim results: one more word per 300 ms of speech, in audio time.
                if let Some(u) = &mut current {
                    match u.fail {
                        Some(Failure::Malformed) => {
                            out.clear();
                            let _ = socket
                                .send(Message::Text("{\"type\": \"Results\", \"channel\"".into()))
                                .await;
                            u.fail = None;
                        }
                        Some(Failure::DieMidStream) => {
                            state.update(id, |e| e.completed = false);
                            return; // drops the socket without a close frame
                        }
                        _ => {}
                    }
                    let spoken = ((now - u.start) / 0.3) as usize;
                    let shown = spoken.min(u.words.len().saturating_sub(1));
                    if p.interim_results && shown > u.interims_sent {
                        u.interims_sent = shown;
                        out.push(result_msg(
                            &u.words[..shown].join(" "),
                            u.start,
                            now,
                            false,
                            false,
                            false,
                        ));
                    }
                }
                if let (Some(end), Some(ue)) = (pending_utterance_end, p.utterance_end_ms)
                    && current.is_none()
                    && now - end >= ue as f64 / 1000.0
                {
                    out.push(
                        json!({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": end}),
                    );
                    pending_utterance_end = None;
                }
            }
            Message::Text(text) => {
                let text = text.to_string();
                state.update(id, |e| e.messages.push(text.clone()));
                let kind = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v["type"].as_str().map(String::from))
                    .unwrap_or_default();
                match kind.as_str() {
                    "KeepAlive" => {}
                    "Finalize" | "CloseStream" => {
                        let now = secs(total_samples);
                        if let Some(u) = current.take() {
                            // The detector's SpeechEnd for this speech finds no utterance and is ignored.
                            out.push(result_msg(
                                &u.words.join(" "),
                                u.start,
                                now,
                                true,
                                false,
                                true,
                            ));
                        }
                        if kind == "CloseStream" {
                            out.push(json!({"type": "Metadata", "transaction_key": "deprecated", "request_id": format!("sim-{id}"),
                                "sha256": "", "created": "2026-01-01T00:00:00.000Z", "duration": secs(total_samples), "channels": 1}));
                            close = true;
                        }
                    }
                    _ => {
                        out.push(json!({"type": "Error", "description": format!("unknown message type {kind:?}")}));
                    }
                }
            }
            Message::Close(_) => {
                state.update(id, |e| e.cancelled = true);
                return;
            }
            _ => {}
        }
        for v in out {
            let latency = state.config().stt_latency_ms;
            if v["is_final"] == true && latency > 0 {
                tokio::time::sleep(Duration::from_millis(latency)).await;
            }
            if socket.send(send(v)).await.is_err() {
                state.update(id, |e| e.cancelled = true);
                return;
            }
        }
        if close {
            let _ = socket.send(Message::Close(None)).await;
            state.update(id, |e| e.completed = true);
            return;
        }
    }
}
