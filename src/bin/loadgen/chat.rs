//! `loadgen chat`: what Cadence adds to a streamed chat reply. The same prompt goes to the
//! (zero-latency) simulated vendor directly and through `POST /conversations/{id}/messages`
//! with `Accept: text/event-stream`; both are timed to the first text and to the end, so
//! the difference is Cadence's overhead (auth, context from the database, the tool loop,
//! storing both messages, billing, SSE re-framing). See the header of `loadgen.rs`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use futures::StreamExt;
use serde_json::{Value, json};

use super::{Args, client, voice::pct};

#[derive(Default)]
struct Times {
    first_ms: Vec<f64>,
    total_ms: Vec<f64>,
    errors: Vec<String>,
}

impl Times {
    fn merge(&mut self, o: Times) {
        self.first_ms.extend(o.first_ms);
        self.total_ms.extend(o.total_ms);
        self.errors.extend(o.errors);
    }

    fn report(&mut self, elapsed: Duration) -> Value {
        let n = self.total_ms.len();
        json!({
            "requests": n, "rps": (n as f64 / elapsed.as_secs_f64() * 10.0).round() / 10.0,
            "first_text_ms": {"p50": pct(&mut self.first_ms, 0.5), "p99": pct(&mut self.first_ms, 0.99)},
            "total_ms": {"p50": pct(&mut self.total_ms, 0.5), "p99": pct(&mut self.total_ms, 0.99)},
            "errors": self.errors.len(), "error_samples": self.errors.iter().take(3).collect::<Vec<_>>(),
        })
    }
}

/// Read an SSE body; `first` is when the first chunk whose text contains `marker` arrived.
async fn stream_times(
    resp: reqwest::Response,
    sent: Instant,
    marker: &str,
) -> anyhow::Result<(f64, f64)> {
    let status = resp.status();
    if !status.is_success() {
        bail!("{status}: {}", resp.text().await.unwrap_or_default());
    }
    let mut body = resp.bytes_stream();
    let mut first = None;
    let mut seen = String::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if first.is_none() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(marker) {
                first = Some(sent.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    let total = sent.elapsed().as_secs_f64() * 1000.0;
    Ok((first.context("no text in the stream")?, total))
}

struct Target {
    base: String,
    sim: String,
    text: String,
    duration: Duration,
}

/// A conversation for `token` (not timed).
async fn conversation(c: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let r = c
        .post(format!("{base}/api/v1/conversations"))
        .bearer_auth(token)
        .json(&json!({"title": "bench"}))
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await?;
    if !status.is_success() {
        bail!("creating a conversation: {status} {v}");
    }
    Ok(v["id"].as_str().unwrap_or_default().to_string())
}

/// Requests one after another until the duration ends, rotating over this worker's users
/// (each reply is billed: no single wallet pays for all of them).
async fn worker(c: reqwest::Client, t: Arc<Target>, tokens: Vec<String>, direct: bool) -> Times {
    let mut times = Times::default();
    let mut users: Vec<(String, String)> = Vec::new();
    if !direct {
        for token in tokens {
            match conversation(&c, &t.base, &token).await {
                Ok(id) => users.push((token, id)),
                Err(e) => times.errors.push(format!("{e:#}")),
            }
        }
        if users.is_empty() {
            return times;
        }
    }
    let end = Instant::now() + t.duration;
    let mut i = 0;
    while Instant::now() < end {
        let sent = Instant::now();
        let r = if direct {
            c.post(format!("{}/v1/chat/completions", t.sim))
                .bearer_auth("sim")
                .json(&json!({"model": "gpt-4o-mini", "stream": true,
                    "stream_options": {"include_usage": true},
                    "messages": [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": t.text}]}))
                .send()
                .await
        } else {
            let (token, id) = &users[i % users.len()];
            i += 1;
            c.post(format!("{}/api/v1/conversations/{id}/messages", t.base))
                .bearer_auth(token)
                .header("accept", "text/event-stream")
                .json(&json!({"content": t.text}))
                .send()
                .await
        };
        let marker = if direct {
            "\"content\""
        } else {
            "event: delta"
        };
        match async { stream_times(r?, sent, marker).await }.await {
            Ok((first, total)) => {
                times.first_ms.push(first);
                times.total_ms.push(total);
            }
            Err(e) => times.errors.push(format!("{e:#}")),
        }
    }
    times
}

async fn phase(
    c: &reqwest::Client,
    t: &Arc<Target>,
    tokens: &[String],
    concurrency: usize,
    direct: bool,
) -> Value {
    let started = Instant::now();
    let handles: Vec<_> = (0..concurrency)
        .map(|i| {
            let mine: Vec<String> = tokens
                .iter()
                .skip(i)
                .step_by(concurrency)
                .cloned()
                .collect();
            tokio::spawn(worker(c.clone(), t.clone(), mine, direct))
        })
        .collect();
    let mut all = Times::default();
    for h in handles {
        if let Ok(times) = h.await {
            all.merge(times);
        }
    }
    all.report(started.elapsed())
}

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let tokens = args.tokens()?;
    let concurrency: usize = args.num("--concurrency", 8)?;
    let t = Arc::new(Target {
        base: args.value("--base").context("--base")?,
        sim: args.value("--sim").context("--sim")?,
        text: args
            .value("--text")
            .unwrap_or_else(|| "What should I focus on today?".into()),
        duration: Duration::from_secs_f64(args.num("--duration", 10.0)?),
    });
    let c = client(concurrency.max(1))?;
    let mut out = serde_json::Map::new();
    for (name, n, direct) in [
        ("vendor_sequential", 1, true),
        ("cadence_sequential", 1, false),
        ("vendor_concurrent", concurrency, true),
        ("cadence_concurrent", concurrency, false),
    ] {
        out.insert(name.into(), phase(&c, &t, &tokens, n, direct).await);
    }
    out.insert("concurrency".into(), json!(concurrency));
    println!("{}", Value::Object(out));
    Ok(())
}
