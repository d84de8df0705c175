//! `loadgen voice`: N concurrent voice sessions against a Cadence whose providers are the
//! zero-latency simulators (`cadence-sim`). See the header of `loadgen.rs`.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{Args, client, rss_kb};

/// 20 ms of 16 kHz mono PCM16.
const FRAME_BYTES: usize = 640;
const FRAME_MS: f64 = 20.0;
/// The server sends this much audio ahead of real time (voice/session.rs `PACER_LEAD`); the
/// first frames of a response arrive in a burst and are not inter-arrival samples.
const LEAD_FRAMES: usize = 6;
/// A turn that has not finished (its `metrics` event) within this time failed.
const TURN_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Default)]
struct Stats {
    to_text_ms: Vec<f64>,
    to_audio_ms: Vec<f64>,
    server_response_ms: Vec<f64>,
    server_llm_ms: Vec<f64>,
    server_tts_ms: Vec<f64>,
    interarrival_jitter_ms: Vec<f64>,
    frames: u64,
    late_frames: u64,
    turns: u64,
    turns_failed: u64,
    errors: Vec<String>,
}

impl Stats {
    fn merge(&mut self, o: Stats) {
        self.to_text_ms.extend(o.to_text_ms);
        self.to_audio_ms.extend(o.to_audio_ms);
        self.server_response_ms.extend(o.server_response_ms);
        self.server_llm_ms.extend(o.server_llm_ms);
        self.server_tts_ms.extend(o.server_tts_ms);
        self.interarrival_jitter_ms.extend(o.interarrival_jitter_ms);
        self.frames += o.frames;
        self.late_frames += o.late_frames;
        self.turns += o.turns;
        self.turns_failed += o.turns_failed;
        self.errors.extend(o.errors);
    }
}

pub(super) fn pct(v: &mut [f64], p: f64) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    json!((v[idx] * 100.0).round() / 100.0)
}

struct Plan {
    base: String,
    duration: Duration,
    turns: u64,
    audio: bool,
    text: String,
    /// Pause between a turn's end and the next turn.
    turn_gap: Duration,
}

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let base = args.value("--base").context("--base")?;
    let tokens = args.tokens()?;
    let sessions: usize = args.num("--sessions", 1)?;
    let server_pid: Option<u32> = args.value("--server-pid").and_then(|p| p.parse().ok());
    let ramp = Duration::from_millis(args.num("--ramp-ms", 2000)?);
    let plan = Arc::new(Plan {
        base: base.clone(),
        duration: Duration::from_secs_f64(args.num("--duration", 10.0)?),
        turns: args.num("--turns", 0)?,
        audio: args.0.iter().any(|a| a == "--audio"),
        text: args
            .value("--text")
            .unwrap_or_else(|| "Hello there, how is my day looking?".into()),
        turn_gap: Duration::from_millis(args.num("--turn-gap-ms", 0)?),
    });
    let c = client(16)?;

    // One agent per user taking part (not timed).
    let users = sessions.min(tokens.len());
    let mut agents: HashMap<usize, String> = HashMap::new();
    for (i, token) in tokens.iter().enumerate().take(users) {
        let resp = c
            .post(format!("{base}/api/v1/agents"))
            .bearer_auth(token)
            .json(
                &json!({"name": "Bench voice agent", "system_prompt": "Be brief.",
                "tools": []}),
            )
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        if !status.is_success() {
            bail!("creating an agent: {status} {body}");
        }
        agents.insert(i, body["id"].as_str().unwrap_or_default().to_string());
    }

    let rss_before = server_pid.and_then(rss_kb);
    let started = Instant::now();
    let mut handles = Vec::new();
    for s in 0..sessions {
        let u = s % users;
        let (c, token, agent, plan) = (
            c.clone(),
            tokens[u].clone(),
            agents[&u].clone(),
            plan.clone(),
        );
        let delay = ramp.mul_f64(s as f64 / sessions.max(1) as f64);
        handles.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            match session(&c, &plan, &token, &agent).await {
                Ok(stats) => stats,
                Err(e) => Stats {
                    errors: vec![format!("{e:#}")],
                    ..Stats::default()
                },
            }
        }));
    }
    // RSS with every session live: after the ramp, half way through the run.
    let rss_peak = {
        tokio::time::sleep(ramp + plan.duration / 2).await;
        server_pid.and_then(rss_kb)
    };
    let mut all = Stats::default();
    let mut failed_sessions = 0;
    for h in handles {
        let st = h.await?;
        if st.turns == 0 && !st.errors.is_empty() {
            failed_sessions += 1;
        }
        all.merge(st);
    }
    let per_session = match (rss_before, rss_peak) {
        (Some(b), Some(p)) if sessions > 0 => {
            json!(((p.saturating_sub(b)) as f64 / sessions as f64 * 10.0).round() / 10.0)
        }
        _ => Value::Null,
    };
    let error_count = all.errors.len();
    all.errors.truncate(5);
    println!(
        "{}",
        json!({
            "sessions": sessions, "failed_sessions": failed_sessions, "audio_in": plan.audio,
            "elapsed_s": (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
            "turns": all.turns, "turns_failed": all.turns_failed,
            "turn_to_first_text_ms": {"p50": pct(&mut all.to_text_ms, 0.5), "p99": pct(&mut all.to_text_ms, 0.99)},
            "turn_to_first_audio_ms": {"p50": pct(&mut all.to_audio_ms, 0.5), "p99": pct(&mut all.to_audio_ms, 0.99)},
            "server_response_latency_ms": {"p50": pct(&mut all.server_response_ms, 0.5), "p99": pct(&mut all.server_response_ms, 0.99)},
            "server_llm_first_token_ms": {"p50": pct(&mut all.server_llm_ms, 0.5), "p99": pct(&mut all.server_llm_ms, 0.99)},
            "server_tts_first_byte_ms": {"p50": pct(&mut all.server_tts_ms, 0.5), "p99": pct(&mut all.server_tts_ms, 0.99)},
            "frames": all.frames, "late_frames": all.late_frames,
            "jitter_ms": {"p50": pct(&mut all.interarrival_jitter_ms, 0.5), "p99": pct(&mut all.interarrival_jitter_ms, 0.99),
                          "max": pct(&mut all.interarrival_jitter_ms, 1.0)},
            "rss_before_kb": rss_before, "rss_peak_kb": rss_peak, "rss_per_session_kb": per_session,
            "errors": error_count, "error_samples": all.errors,
        })
    );
    Ok(())
}

/// Outbound audio of one response: arrival times against the playback schedule that
/// starts when its first frame arrives.
struct Playback {
    first: Instant,
    played_ms: f64,
    last: Instant,
    index: usize,
}

async fn session(
    c: &reqwest::Client,
    plan: &Plan,
    token: &str,
    agent: &str,
) -> anyhow::Result<Stats> {
    let resp = c
        .post(format!("{}/api/v1/voice/sessions", plan.base))
        .bearer_auth(token)
        .json(&json!({"agent_id": agent}))
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    if !status.is_success() {
        bail!("POST /voice/sessions: {status} {body}");
    }
    // The server's public URL may not be the address we reach it on: keep its path only.
    let ws_url = body["ws_url"].as_str().context("ws_url")?;
    let path = &ws_url[ws_url.find("/api/v1/").context("ws_url path")?..];
    let ws_url = format!(
        "{}{path}",
        plan.base
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(ws_url.as_str(), None, true)
        .await
        .context("voice websocket")?;

    let mut st = Stats::default();
    let end_at = Instant::now() + plan.duration;
    let silence = vec![0u8; FRAME_BYTES];
    let mut mic = tokio::time::interval(Duration::from_millis(FRAME_MS as u64));
    mic.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut ready = false;
    let mut turn_sent: Option<Instant> = None;
    let mut got_text = false;
    let mut got_audio = false;
    let mut playback: Option<Playback> = None;
    let mut ending = false;
    let next_turn = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(next_turn);
    let hard_stop = tokio::time::sleep(plan.duration + TURN_TIMEOUT + Duration::from_secs(5));
    tokio::pin!(hard_stop);

    loop {
        tokio::select! {
            _ = &mut hard_stop => {
                st.errors.push("session did not end in time".into());
                break;
            }
            _ = mic.tick(), if plan.audio && ready && !ending => {
                ws.send(Message::Binary(silence.clone().into())).await?;
            }
            _ = &mut next_turn => {
                if let Some(sent) = turn_sent
                    && sent.elapsed() >= TURN_TIMEOUT
                {
                    st.turns_failed += 1;
                    turn_sent = None;
                }
                let done_turns = st.turns + st.turns_failed;
                if turn_sent.is_none() {
                    if Instant::now() >= end_at || (plan.turns > 0 && done_turns >= plan.turns) {
                        if !ending {
                            ending = true;
                            ws.send(Message::Text(r#"{"type":"end"}"#.into())).await?;
                        }
                        next_turn.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(3600));
                    } else {
                        ws.send(Message::Text(json!({"type": "text", "text": plan.text}).to_string().into())).await?;
                        turn_sent = Some(Instant::now());
                        got_text = false;
                        got_audio = false;
                        playback = None;
                        next_turn.as_mut().reset(tokio::time::Instant::now() + TURN_TIMEOUT);
                    }
                }
            }
            msg = ws.next() => {
                let Some(msg) = msg else { break };
                let msg = match msg {
                    Ok(m) => m,
                    Err(e) => { st.errors.push(format!("ws: {e}")); break; }
                };
                let now = Instant::now();
                match msg {
                    Message::Binary(b) => {
                        st.frames += 1;
                        if let (Some(sent), false) = (turn_sent, got_audio) {
                            got_audio = true;
                            st.to_audio_ms.push(now.duration_since(sent).as_secs_f64() * 1000.0);
                        }
                        let dur = b.len() as f64 / 32.0;
                        match &mut playback {
                            None => playback = Some(Playback { first: now, played_ms: dur, last: now, index: 1 }),
                            Some(p) => {
                                // Late: arrives after the audio before it has finished playing.
                                let due = p.first + Duration::from_secs_f64(p.played_ms / 1000.0);
                                if now > due {
                                    st.late_frames += 1;
                                }
                                if p.index >= LEAD_FRAMES {
                                    let gap = now.duration_since(p.last).as_secs_f64() * 1000.0;
                                    st.interarrival_jitter_ms.push((gap - FRAME_MS).abs());
                                }
                                p.played_ms += dur;
                                p.last = now;
                                p.index += 1;
                            }
                        }
                    }
                    Message::Text(t) => {
                        let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                        match v["type"].as_str().unwrap_or_default() {
                            "ready" => {
                                ready = true;
                                next_turn.as_mut().reset(tokio::time::Instant::now());
                            }
                            "response" => {
                                if let (Some(sent), false) = (turn_sent, got_text) {
                                    got_text = true;
                                    st.to_text_ms.push(now.duration_since(sent).as_secs_f64() * 1000.0);
                                }
                            }
                            "mark" => {
                                ws.send(Message::Text(json!({"type": "mark", "name": v["name"]}).to_string().into())).await?;
                            }
                            "metrics" => {
                                let ms = |k: &str| v[k].as_f64();
                                if let Some(x) = ms("response_latency_ms") { st.server_response_ms.push(x); }
                                if let Some(x) = ms("llm_first_token_ms") { st.server_llm_ms.push(x); }
                                if let Some(x) = ms("tts_first_byte_ms") { st.server_tts_ms.push(x); }
                                if turn_sent.take().is_some() {
                                    st.turns += 1;
                                }
                                playback = None;
                                next_turn.as_mut().reset(tokio::time::Instant::now() + plan.turn_gap);
                            }
                            "error" => st.errors.push(format!("server error event: {v}")),
                            "ended" => break,
                            _ => {}
                        }
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
            }
        }
    }
    let _ = ws.close(None).await;
    Ok(st)
}
