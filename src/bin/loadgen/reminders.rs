//! The client of the reminder benchmark (`make bench-reminders`, scripts/bench-reminders.sh,
//! issue 15): creates `--count` tasks through the API, each with `remind_at` set to the same
//! `--remind-at`, spread over the users in `--tokens` and over every `--base` (one per server
//! instance), `--concurrency` requests at a time. What happens once they are due is measured
//! by the script in SQL.
//!
//! ```text
//! loadgen reminders --base URL [--base URL]... --tokens FILE --count 10000
//!                   --remind-at 2026-12-03T12:00:00Z [--concurrency 32] [--prefix P]
//! ```
//! Prints one JSON object: `created`, `errors`, `non_2xx` (with the first failure's status
//! and body), `seconds`, `rps`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use anyhow::{Context, bail};
use serde_json::json;

use super::{Args, client};

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let bases = Arc::new(args.values("--base"));
    if bases.is_empty() {
        bail!("--base: at least one server");
    }
    let tokens = Arc::new(args.tokens()?);
    let count: usize = args.num("--count", 10_000)?;
    let remind_at = args.value("--remind-at").context("--remind-at")?;
    chrono::DateTime::parse_from_rfc3339(&remind_at).context("--remind-at: not RFC 3339")?;
    let concurrency: usize = args.num("--concurrency", 32)?;
    let prefix = args
        .value("--prefix")
        .unwrap_or_else(|| "Reminder bench".into());
    let c = client(concurrency)?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (c, bases, tokens, next, remind_at, prefix) = (
            c.clone(),
            bases.clone(),
            tokens.clone(),
            next.clone(),
            remind_at.clone(),
            prefix.clone(),
        );
        workers.push(tokio::spawn(async move {
            let (mut created, mut errors, mut non_2xx) = (0u64, 0u64, 0u64);
            let mut first_failure = None;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    break;
                }
                let resp = c
                    .post(format!("{}/api/v1/tasks", bases[n % bases.len()]))
                    .bearer_auth(&tokens[n % tokens.len()])
                    .json(&json!({"title": format!("{prefix} {n}"), "remind_at": remind_at}))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        created += 1;
                    }
                    Ok(r) => {
                        non_2xx += 1;
                        let status = r.status().as_u16();
                        let body = r.text().await.unwrap_or_default();
                        first_failure.get_or_insert(format!("{status} {body}"));
                    }
                    Err(e) => {
                        errors += 1;
                        first_failure.get_or_insert(e.to_string());
                    }
                }
            }
            (created, errors, non_2xx, first_failure)
        }));
    }
    let (mut created, mut errors, mut non_2xx, mut first_failure) = (0, 0, 0, None);
    for w in workers {
        let (c, e, n, f) = w.await?;
        created += c;
        errors += e;
        non_2xx += n;
        first_failure = first_failure.or(f);
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "created": created, "errors": errors, "non_2xx": non_2xx,
            "first_failure": first_failure,
            "seconds": (seconds * 100.0).round() / 100.0,
            "rps": ((created as f64 / seconds) * 10.0).round() / 10.0,
        })
    );
    Ok(())
}
