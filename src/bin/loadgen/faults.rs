//! Clients for the fault tests (`make test-faults`, scripts/faults.sh). Each prints one JSON
//! object on stdout; the voice ones also fail (exit 1, message on stderr) when what they saw
//! breaks the rule they check. Database-side checks are left to the script (psql).
//!
//! ```text
//! loadgen creates --base URL --tokens FILE --prefix P --out FILE [--concurrency 4]
//!                 [--duration 20] [--timeout-ms 10000]
//! loadgen fault-provider --base URL --token T --sim URL
//! loadgen fault-stall --base URL --token T --sim URL --server-pid PID [--chars 4000]
//!                     [--limit-secs 120]
//! loadgen fault-sessions --base URL --tokens FILE --sessions 20 --ready-file F
//!                        [--limit-secs 60]
//! ```
//! - `creates`: closed-loop `POST /api/v1/tasks`, each with a unique title `P-<n>`; one JSON
//!   line per request to `--out` (`title`, `worker`, `status`, `ms`, `content_type`, `code`,
//!   `error`), each worker's in order.
//! - `fault-provider`: one voice session on simulated vendors; the LLM dies mid-stream, then
//!   stalls mid-stream, then TTS dies mid-stream: each turn must produce an `error` event and
//!   the next typed turn must be answered; ends the call and prints its id.
//! - `fault-stall`: opens a session (48 kHz) with a tiny receive buffer, sends a turn whose
//!   answer is long, never reads; samples the server's RSS until the call is completed, then drains
//!   the socket, which must end (the server closed it).
//! - `fault-sessions`: N sessions mid-answer; writes their call ids to `--ready-file` once
//!   all are streaming audio, then reads each until `ended` (the script sends SIGTERM).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::{WebSocketStream, tungstenite::Message};

use super::{Args, client, rss_kb};

pub async fn creates(args: &Args) -> anyhow::Result<()> {
    let base = args.value("--base").context("--base")?;
    let prefix = args.value("--prefix").context("--prefix")?;
    let out = args.value("--out").context("--out")?;
    let tokens = Arc::new(args.tokens()?);
    let concurrency: usize = args.num("--concurrency", 4)?;
    let duration = Duration::from_secs_f64(args.num("--duration", 20.0)?);
    let timeout = Duration::from_millis(args.num("--timeout-ms", 10_000)?);
    let c = reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let counter = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + duration;
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (c, base, prefix, tokens, counter) = (
            c.clone(),
            base.clone(),
            prefix.clone(),
            tokens.clone(),
            counter.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut lines = Vec::new();
            while Instant::now() < end {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let title = format!("{prefix}-{n}");
                let started = Instant::now();
                let r = c
                    .post(format!("{base}/api/v1/tasks"))
                    .bearer_auth(&tokens[w % tokens.len()])
                    .json(&json!({"title": title}))
                    .send()
                    .await;
                let mut line = json!({"title": title, "worker": w, "status": null, "code": null,
                    "content_type": null, "error": null});
                match r {
                    Ok(resp) => {
                        line["status"] = json!(resp.status().as_u16());
                        line["content_type"] = json!(
                            resp.headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                        );
                        match resp.bytes().await {
                            Ok(b) => {
                                let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
                                line["code"] = v["code"].clone();
                            }
                            Err(e) => line["error"] = json!(format!("body: {e}")),
                        }
                    }
                    Err(e) => line["error"] = json!(format!("{e}")),
                }
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                line["ms"] = json!((ms * 10.0).round() / 10.0);
                lines.push(line.to_string());
                if line["status"] != json!(201) {
                    // Do not spin while the database is down.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            lines
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await?);
    }
    std::fs::write(&out, all.join("\n") + "\n")?;
    println!("{}", json!({"requests": all.len(), "out": out}));
    Ok(())
}

/// A voice session under test: its WebSocket (any transport) and call id.
struct Voice<S> {
    ws: WebSocketStream<S>,
    call_id: String,
}

async fn sim_agent(c: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let resp = c
        .post(format!("{base}/api/v1/agents"))
        .bearer_auth(token)
        .json(
            &json!({"name": "Fault agent", "system_prompt": "Be brief.", "tools": [],
            "welcome_message": null,
            "llm": {"provider": "openai", "model": "gpt-4o-mini", "fallbacks": []},
            "stt": {"provider": "deepgram", "fallbacks": []},
            "tts": {"provider": "elevenlabs", "fallbacks": []},
            "silence_timeout_seconds": 300, "max_call_seconds": 600}),
        )
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    ensure!(status.is_success(), "creating an agent: {status} {body}");
    Ok(body["id"].as_str().context("agent id")?.to_string())
}

/// Create a session; its WebSocket URL (on `base`) and call id.
async fn open_session(
    c: &reqwest::Client,
    base: &str,
    token: &str,
    agent: &str,
) -> anyhow::Result<(String, String)> {
    let resp = c
        .post(format!("{base}/api/v1/voice/sessions"))
        .bearer_auth(token)
        .json(&json!({"agent_id": agent}))
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    ensure!(status.is_success(), "POST /voice/sessions: {status} {body}");
    let ws_url = body["ws_url"].as_str().context("ws_url")?;
    let path = &ws_url[ws_url.find("/api/v1/").context("ws_url path")?..];
    let url = format!("{}{path}", base.replacen("http://", "ws://", 1));
    Ok((
        url,
        body["call_id"].as_str().context("call_id")?.to_string(),
    ))
}

async fn connect(
    c: &reqwest::Client,
    base: &str,
    token: &str,
    agent: &str,
) -> anyhow::Result<Voice<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>> {
    let (url, call_id) = open_session(c, base, token, agent).await?;
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .context("voice websocket")?;
    let mut v = Voice { ws, call_id };
    v.until(|e| e["type"] == "ready", Duration::from_secs(10))
        .await?;
    Ok(v)
}

impl<S: AsyncRead + AsyncWrite + Unpin> Voice<S> {
    async fn send(&mut self, v: Value) -> anyhow::Result<()> {
        self.ws.send(Message::Text(v.to_string().into())).await?;
        Ok(())
    }

    /// Read (echoing marks) until an event matches; every event seen. Fails on timeout or
    /// when the socket ends first.
    async fn until(
        &mut self,
        stop: impl Fn(&Value) -> bool,
        limit: Duration,
    ) -> anyhow::Result<Vec<Value>> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => bail!(
                    "call {}: no matching event within {limit:?}; saw {:?}",
                    self.call_id,
                    types(&seen)
                ),
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => bail!(
                    "call {}: the socket ended first; saw {:?}",
                    self.call_id,
                    types(&seen)
                ),
                Ok(Some(Ok(m))) => m,
            };
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                if v["type"] == "mark" {
                    self.send(json!({"type": "mark", "name": v["name"]}))
                        .await?;
                }
                let done = stop(&v);
                seen.push(v);
                if done {
                    return Ok(seen);
                }
            }
        }
    }
}

fn types(seen: &[Value]) -> Vec<String> {
    seen.iter()
        .map(|v| {
            let t = v["type"].as_str().unwrap_or("?");
            match v["code"].as_str() {
                Some(code) => format!("{t}:{code}"),
                None => t.to_string(),
            }
        })
        .collect()
}

async fn script(c: &reqwest::Client, sim: &str, body: Value) -> anyhow::Result<()> {
    let resp = c
        .post(format!("{sim}/__sim/script"))
        .json(&body)
        .send()
        .await?;
    ensure!(resp.status().is_success(), "sim script: {}", resp.status());
    Ok(())
}

async fn get_call(
    c: &reqwest::Client,
    base: &str,
    token: &str,
    call_id: &str,
) -> anyhow::Result<Value> {
    let resp = c
        .get(format!("{base}/api/v1/calls/{call_id}"))
        .bearer_auth(token)
        .send()
        .await?;
    ensure!(resp.status().is_success(), "GET call: {}", resp.status());
    Ok(resp.json().await?)
}

async fn completed_call(
    c: &reqwest::Client,
    base: &str,
    token: &str,
    call_id: &str,
    limit: Duration,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + limit;
    loop {
        let call = get_call(c, base, token, call_id).await?;
        if call["status"] == "completed" {
            return Ok(call);
        }
        if Instant::now() >= deadline {
            bail!("call {call_id} not completed within {limit:?}: {call}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The wallet ledger entries that refer to this call.
async fn call_transactions(
    c: &reqwest::Client,
    base: &str,
    token: &str,
    call_id: &str,
) -> anyhow::Result<Vec<Value>> {
    let resp = c
        .get(format!("{base}/api/v1/wallet/transactions?limit=100"))
        .bearer_auth(token)
        .send()
        .await?;
    ensure!(
        resp.status().is_success(),
        "GET transactions: {}",
        resp.status()
    );
    let v: Value = resp.json().await?;
    Ok(v["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t["reference_id"] == call_id)
        .collect())
}

pub async fn provider(args: &Args) -> anyhow::Result<()> {
    let base = args.value("--base").context("--base")?;
    let token = args.value("--token").context("--token")?;
    let sim = args.value("--sim").context("--sim")?;
    let c = client(4)?;
    let agent = sim_agent(&c, &base, &token).await?;
    let mut v = connect(&c, &base, &token, &agent).await?;
    let turn = Duration::from_secs(30);
    let mut report = Vec::new();
    for (i, (fail, service, code)) in [
        ("die_mid_stream", "llm", "llm_failed"),
        ("stall_mid_stream", "llm", "llm_failed"),
        ("die_mid_stream", "tts", "tts_failed"),
    ]
    .into_iter()
    .enumerate()
    {
        // A long reply, so the failure lands mid-stream.
        let mut s = json!({"service": service, "fail": {"kind": fail}});
        if service == "llm" {
            s["text"] = json!("This answer will be cut off somewhere in the middle of it, sadly.");
        }
        script(&c, &sim, s).await?;
        let started = Instant::now();
        v.send(json!({"type": "text", "text": format!("fault turn {i}")}))
            .await?;
        let seen = v.until(|e| e["type"] == "error", turn).await?;
        let err = seen.last().cloned().unwrap_or_default();
        ensure!(
            err["code"] == code,
            "{service} {fail}: expected error {code}, got {err}"
        );
        let error_ms = started.elapsed().as_millis();
        // The session keeps going: the next typed turn is answered.
        let answer = format!("Recovered after {fail} number {i}.");
        script(&c, &sim, json!({"service": "llm", "text": answer})).await?;
        v.send(json!({"type": "text", "text": "are you still there"}))
            .await?;
        v.until(
            |e| e["type"] == "response" && e["final"] == true && e["text"] == answer.as_str(),
            turn,
        )
        .await?;
        v.until(|e| e["type"] == "metrics", turn).await?;
        report.push(
            json!({"service": service, "fail": fail, "error": err["code"], "error_ms": error_ms}),
        );
    }
    v.send(json!({"type": "end"})).await?;
    let ended = v.until(|e| e["type"] == "ended", turn).await?;
    let ended = ended.last().cloned().unwrap_or_default();
    ensure!(ended["reason"] == "client_ended", "ended: {ended}");
    let call = completed_call(&c, &base, &token, &v.call_id, turn).await?;
    ensure!(call["end_reason"] == "client_ended", "call: {call}");
    let tx = call_transactions(&c, &base, &token, &v.call_id).await?;
    let debits = tx.iter().filter(|t| t["kind"] == "call_debit").count();
    ensure!(
        debits == 1,
        "call {}: {debits} call_debit entries: {tx:?}",
        v.call_id
    );
    println!(
        "{}",
        json!({"call_id": v.call_id, "turns": report, "cost_credits": call["cost_credits"],
            "call_debits": debits})
    );
    Ok(())
}

pub async fn stall(args: &Args) -> anyhow::Result<()> {
    let base = args.value("--base").context("--base")?;
    let token = args.value("--token").context("--token")?;
    let sim = args.value("--sim").context("--sim")?;
    let pid: u32 = args
        .value("--server-pid")
        .context("--server-pid")?
        .parse()?;
    let chars: usize = args.num("--chars", 4000)?;
    let limit = Duration::from_secs(args.num("--limit-secs", 120)?);
    let c = client(4)?;
    let agent = sim_agent(&c, &base, &token).await?;
    let (url, call_id) = open_session(&c, &base, &token, &agent).await?;

    // A tiny receive window, so the server's writes block soon instead of after megabytes
    // of loopback buffering.
    let host = base.trim_start_matches("http://");
    let addr: std::net::SocketAddr = tokio::net::lookup_host(host)
        .await?
        .next()
        .context("server address")?;
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.set_recv_buffer_size(4096)?;
    let tcp = sock.connect(addr).await?;
    let (ws, _) = tokio_tungstenite::client_async(url.as_str(), tcp)
        .await
        .context("voice websocket")?;
    let mut v = Voice {
        ws,
        call_id: call_id.clone(),
    };
    v.until(|e| e["type"] == "ready", Duration::from_secs(10))
        .await?;
    // The server's send buffer grows to the kernel's maximum (4 MiB by default) before its
    // writes block: 48 kHz audio fills that in well under a minute.
    v.send(json!({"type": "start", "sample_rate": 48000}))
        .await?;
    let sentence = "This is a long answer that keeps the speech engine busy for a while. ";
    let long: String = sentence.repeat(chars / sentence.len() + 1);
    script(&c, &sim, json!({"service": "llm", "text": long})).await?;
    let rss_start = rss_kb(pid).context("server RSS")?;
    v.send(json!({"type": "text", "text": "tell me a long story"}))
        .await?;
    // From here on the client never reads. Watch the server until it finalizes the call.
    let started = Instant::now();
    let mut rss_max = rss_start;
    let call = loop {
        if let Some(r) = rss_kb(pid) {
            rss_max = rss_max.max(r);
        }
        let call = get_call(&c, &base, &token, &call_id).await?;
        if call["status"] == "completed" {
            break call;
        }
        if started.elapsed() >= limit {
            bail!(
                "call {call_id}: a client that stopped reading was not closed within {limit:?} \
                 (server RSS {rss_start} → max {rss_max} KiB): {call}"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let closed_after_ms = started.elapsed().as_millis();
    // Drain what the kernel buffered: the stream must then end (the server closed it).
    let mut drained = 0usize;
    let drain_deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let ended_cleanly = loop {
        match tokio::time::timeout_at(drain_deadline, v.ws.next()).await {
            Err(_) => break false,
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => break true,
            Ok(Some(Ok(m))) => drained += m.len(),
        }
    };
    ensure!(
        ended_cleanly,
        "call {call_id}: the server never closed the socket of the client that stopped reading"
    );
    let tx = call_transactions(&c, &base, &token, &call_id).await?;
    let debits = tx.iter().filter(|t| t["kind"] == "call_debit").count();
    ensure!(
        debits == 1,
        "call {call_id}: {debits} call_debit entries: {tx:?}"
    );
    println!(
        "{}",
        json!({"call_id": call_id, "end_reason": call["end_reason"], "closed_after_ms": closed_after_ms,
            "rss_start_kb": rss_start, "rss_max_kb": rss_max, "rss_growth_kb": rss_max.saturating_sub(rss_start),
            "drained_bytes": drained, "call_debits": debits})
    );
    Ok(())
}

pub async fn sessions(args: &Args) -> anyhow::Result<()> {
    let base = args.value("--base").context("--base")?;
    let tokens = args.tokens()?;
    let n: usize = args.num("--sessions", 20)?;
    let ready_file = args.value("--ready-file").context("--ready-file")?;
    let limit = Duration::from_secs(args.num("--limit-secs", 60)?);
    let c = client(8)?;
    let mut agents = Vec::new();
    for t in tokens.iter().take(n.min(tokens.len())) {
        agents.push(sim_agent(&c, &base, t).await?);
    }
    // Every session runs in its own task from the start, reading all along (a session
    // left unread would look like a stalled client): connect, ask for a long answer, report
    // once its audio starts, then read until `ended`.
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<anyhow::Result<String>>(n);
    let go = Arc::new(tokio::sync::Semaphore::new(4));
    let mut handles = Vec::new();
    for i in 0..n {
        let u = i % agents.len();
        let (c, base, token, agent, ready_tx, go) = (
            c.clone(),
            base.clone(),
            tokens[u].clone(),
            agents[u].clone(),
            ready_tx.clone(),
            go.clone(),
        );
        handles.push(tokio::spawn(async move {
            let started = async {
                let _permit = go.acquire().await?;
                let mut v = connect(&c, &base, &token, &agent).await?;
                v.send(
                    json!({"type": "text", "text": format!("session {i}: tell me a long story")}),
                )
                .await?;
                v.until(|e| e["type"] == "audio_start", Duration::from_secs(30))
                    .await?;
                Ok::<_, anyhow::Error>(v)
            }
            .await;
            let mut v = match started {
                Ok(v) => v,
                Err(e) => {
                    let msg = format!("{e:#}");
                    let _ = ready_tx.send(Err(e)).await;
                    return (String::new(), Err(anyhow::anyhow!(msg)));
                }
            };
            let _ = ready_tx.send(Ok(v.call_id.clone())).await;
            let r = v.until(|e| e["type"] == "ended", limit).await;
            (
                v.call_id,
                r.map(|seen| seen.last().cloned().unwrap_or_default()),
            )
        }));
    }
    drop(ready_tx);
    let mut ids = Vec::new();
    while ids.len() < n {
        match ready_rx.recv().await {
            Some(Ok(id)) => ids.push(id),
            Some(Err(e)) => bail!("starting the sessions: {e:#}"),
            None => bail!("starting the sessions: a task ended early"),
        }
    }
    std::fs::write(&ready_file, ids.join("\n") + "\n")?;
    // The script now sends SIGTERM: every session must get its final `ended` event.
    let mut failures = Vec::new();
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for h in handles {
        let (id, r) = h.await?;
        match r {
            Ok(ended) => {
                *reasons
                    .entry(ended["reason"].as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
                if ended["reason"] != "server_shutdown" || ended["call_id"] != id.as_str() {
                    failures.push(format!("{id}: {ended}"));
                }
            }
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    println!(
        "{}",
        json!({"sessions": n, "ended": reasons, "failures": failures})
    );
    ensure!(
        failures.is_empty(),
        "sessions without a proper `ended` event: {failures:?}"
    );
    Ok(())
}
