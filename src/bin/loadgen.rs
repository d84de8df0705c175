//! Load generator for `make bench`: closed-loop HTTP load against a running Cadence, with
//! latency percentiles, and a setup mode that registers users and prints their tokens.
//!
//! ```text
//! loadgen run --url URL [--method GET] [--header 'K: V']... [--body JSON] [--tokens FILE]
//!             [--concurrency 32] [--duration 10] [--warmup 2] [--rate R]
//! loadgen register --base http://127.0.0.1:8080 --users 100 --out tokens.txt
//! loadgen voice --base URL --tokens FILE [--sessions 1] [--duration 10] [--turns 0]
//!               [--audio] [--text 'Hello there.'] [--server-pid PID] [--ramp-ms 2000]
//!               [--turn-gap-ms 0]
//! loadgen chat --base URL --sim SIM_URL --tokens FILE [--concurrency 8] [--duration 10]
//! loadgen creates|fault-provider|fault-stall|fault-sessions …   (fault tests: loadgen/faults.rs)
//! loadgen reminders --base URL [--base URL]... --tokens FILE --count N --remind-at T
//!                   (the reminder benchmark: loadgen/reminders.rs)
//! ```
//! `voice` opens `--sessions` voice sessions (one agent per user, sessions rotate over the
//! users), streams real-time silent PCM16 16 kHz microphone audio in 20 ms frames when
//! `--audio` is given, sends typed turns one after another (up to `--turns` per session, 0:
//! until `--duration` ends), echoes marks, and measures per-turn latency (client clock:
//! turn sent → first `response` text and → first audio byte; plus the server's `metrics`
//! events), outbound audio lateness and jitter, and the server's RSS per session.
//! `--rate` paces the workers to R requests/s in total (open loop) instead of closed loop;
//! `status_5xx_total` counts 5xx answers during warm-up too. In `--body`, `{n}` is replaced by a per-request counter. With `--tokens`, requests rotate
//! over the bearer tokens in the file (one per line). Output is one JSON object on stdout.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

#[path = "loadgen/chat.rs"]
mod chat;
#[path = "loadgen/faults.rs"]
mod faults;
#[path = "loadgen/reminders.rs"]
mod reminders;
#[path = "loadgen/voice.rs"]
mod voice;
use serde_json::json;

struct Args(Vec<String>);

impl Args {
    fn value(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1).cloned())
    }
    fn values(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, a)| *a == name)
            .filter_map(|(i, _)| self.0.get(i + 1).cloned())
            .collect()
    }
    /// The bearer tokens in the `--tokens` file (one per line); an error when absent or empty.
    fn tokens(&self) -> anyhow::Result<Vec<String>> {
        let tokens = read_tokens(&self.value("--tokens").context("--tokens")?)?;
        if tokens.is_empty() {
            bail!("--tokens: no tokens");
        }
        Ok(tokens)
    }
    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> anyhow::Result<T> {
        match self.value(name) {
            Some(v) => v
                .parse()
                .map_err(|_| anyhow::anyhow!("{name}: not a number: {v}")),
            None => Ok(default),
        }
    }
}

/// One token per non-empty line.
fn read_tokens(path: &str) -> anyhow::Result<Vec<String>> {
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("reading {path}"))?
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Resident memory of a process, from `/proc/<pid>/status`.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cadence::install_crypto_provider();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = Args(argv.clone());
    match argv.first().map(String::as_str) {
        Some("run") => run(&args).await,
        Some("register") => register(&args).await,
        Some("voice") => voice::run(&args).await,
        Some("chat") => chat::run(&args).await,
        Some("reminders") => reminders::run(&args).await,
        Some("creates") => faults::creates(&args).await,
        Some("fault-provider") => faults::provider(&args).await,
        Some("fault-stall") => faults::stall(&args).await,
        Some("fault-sessions") => faults::sessions(&args).await,
        _ => {
            bail!(
                "usage: loadgen run|register|voice|chat|reminders|creates|fault-… (see the source header)"
            )
        }
    }
}

fn client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()?)
}

async fn register(args: &Args) -> anyhow::Result<()> {
    let base = args.value("--base").context("--base")?;
    let users: usize = args.num("--users", 10)?;
    let out = args.value("--out").context("--out")?;
    let prefix = args
        .value("--prefix")
        .unwrap_or_else(|| format!("bench{}", std::process::id()));
    let c = client(16)?;
    let sem = Arc::new(tokio::sync::Semaphore::new(8));
    let mut handles = Vec::new();
    for i in 0..users {
        let (c, base, sem, prefix) = (c.clone(), base.clone(), sem.clone(), prefix.clone());
        handles.push(tokio::spawn(async move {
            let _permit = sem.acquire().await?;
            let resp = c
                .post(format!("{base}/api/v1/auth/register"))
                .json(&json!({"email": format!("{prefix}-{i}@bench.local"), "password": "bench-password-123"}))
                .send()
                .await?;
            let status = resp.status();
            let body: serde_json::Value = resp.json().await?;
            if !status.is_success() {
                bail!("register failed: {status} {body}");
            }
            Ok::<_, anyhow::Error>(body["access_token"].as_str().unwrap_or_default().to_string())
        }));
    }
    let mut tokens = Vec::new();
    for h in handles {
        tokens.push(h.await??);
    }
    std::fs::write(&out, tokens.join("\n") + "\n")?;
    println!("{}", json!({"registered": tokens.len(), "out": out}));
    Ok(())
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let url = args.value("--url").context("--url")?;
    let method: reqwest::Method = args
        .value("--method")
        .unwrap_or_else(|| "GET".into())
        .parse()?;
    let concurrency: usize = args.num("--concurrency", 32)?;
    let duration: f64 = args.num("--duration", 10.0)?;
    let warmup: f64 = args.num("--warmup", 2.0)?;
    let body = args.value("--body");
    let headers: Vec<(String, String)> = args
        .values("--header")
        .into_iter()
        .filter_map(|h| {
            h.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let tokens: Arc<Vec<String>> = Arc::new(match args.value("--tokens") {
        Some(f) => read_tokens(&f)?,
        None => Vec::new(),
    });
    // With --rate, the workers together start at most this many requests per second
    // (open-loop pacing for the soak); without it, closed-loop as fast as they can.
    let rate: f64 = args.num("--rate", 0.0)?;
    let interval = (rate > 0.0).then(|| Duration::from_secs_f64(concurrency as f64 / rate));
    let c = client(concurrency)?;
    let counter = Arc::new(AtomicU64::new(0));
    let recording = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (c, url, method, body, headers, tokens, counter, recording, stop) = (
            c.clone(),
            url.clone(),
            method.clone(),
            body.clone(),
            headers.clone(),
            tokens.clone(),
            counter.clone(),
            recording.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4096);
            let (mut errors, mut non_2xx, mut s5xx) = (0u64, 0u64, 0u64);
            let mut i = w;
            let mut tick = interval.map(|d| {
                let mut t = tokio::time::interval_at(
                    tokio::time::Instant::now() + d.mul_f64(w as f64 / concurrency as f64),
                    d,
                );
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            while !stop.load(Ordering::Relaxed) {
                if let Some(t) = &mut tick {
                    t.tick().await;
                }
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let mut rb = c.request(method.clone(), &url);
                for (k, v) in &headers {
                    rb = rb.header(k, v);
                }
                if !tokens.is_empty() {
                    rb = rb.bearer_auth(&tokens[i % tokens.len()]);
                    i += concurrency;
                }
                if let Some(b) = &body {
                    rb = rb
                        .header("content-type", "application/json")
                        .body(b.replace("{n}", &n.to_string()));
                }
                let start = Instant::now();
                let result = rb.send().await;
                let ok = match result {
                    Ok(resp) => {
                        let success = resp.status().is_success();
                        if resp.status().is_server_error() {
                            s5xx += 1;
                        }
                        let _ = resp.bytes().await;
                        Some(success)
                    }
                    Err(_) => None,
                };
                let micros = start.elapsed().as_micros() as u64;
                if recording.load(Ordering::Relaxed) {
                    lat.push(micros);
                    match ok {
                        None => errors += 1,
                        Some(false) => non_2xx += 1,
                        Some(true) => {}
                    }
                }
            }
            (lat, errors, non_2xx, s5xx)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
    recording.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(duration)).await;
    recording.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let (mut errors, mut non_2xx, mut s5xx) = (0, 0, 0);
    for w in workers {
        let (lat, e, n, x) = w.await?;
        all.extend(lat);
        errors += e;
        non_2xx += n;
        s5xx += x;
    }
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let idx = ((all.len() as f64 - 1.0) * p).round() as usize;
        all[idx] as f64 / 1000.0
    };
    println!(
        "{}",
        json!({
            "url": url, "method": method.as_str(), "concurrency": concurrency,
            "requests": all.len(), "errors": errors, "non_2xx": non_2xx,
            "status_5xx_total": s5xx,
            "duration_s": (elapsed * 100.0).round() / 100.0,
            "rps": ((all.len() as f64 / elapsed) * 10.0).round() / 10.0,
            "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
            "max_ms": all.last().map(|m| *m as f64 / 1000.0).unwrap_or(0.0),
        })
    );
    Ok(())
}
