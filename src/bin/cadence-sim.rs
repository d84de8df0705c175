//! `cadence-sim`: serve the vendor simulators (OpenAI-compatible, Anthropic, Deepgram,
//! ElevenLabs, Twilio) on one address for benchmarks and the demo profile.
//!
//! ```text
//! cadence-sim [--addr 127.0.0.1:9090] [--api-key KEY] [--llm-ttfb-ms N] [--token-delay-ms N]
//!             [--tts-ttfb-ms N] [--tts-realtime] [--stt-latency-ms N] [--transcript TEXT]
//! ```
//! Point Cadence at it with `CADENCE__PROVIDERS__OPENAI__BASE_URL=http://ADDR/v1`,
//! `…__ANTHROPIC__BASE_URL=http://ADDR`, `…__DEEPGRAM__BASE_URL=ws://ADDR`,
//! `…__ELEVENLABS__BASE_URL=http://ADDR` (and any non-empty API keys).

use anyhow::{Context, bail};
use cadence::sim::{SimConfig, serve};

fn parse() -> anyhow::Result<(String, SimConfig)> {
    let mut addr = std::env::var("CADENCE_SIM_ADDR").unwrap_or_else(|_| "127.0.0.1:9090".into());
    let mut cfg = SimConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--addr" => addr = value("--addr")?,
            "--api-key" => cfg.api_key = Some(value("--api-key")?),
            "--llm-ttfb-ms" => cfg.llm_ttfb_ms = value("--llm-ttfb-ms")?.parse()?,
            "--token-delay-ms" => cfg.token_delay_ms = value("--token-delay-ms")?.parse()?,
            "--tts-ttfb-ms" => cfg.tts_ttfb_ms = value("--tts-ttfb-ms")?.parse()?,
            "--tts-realtime" => cfg.tts_realtime = true,
            "--stt-latency-ms" => cfg.stt_latency_ms = value("--stt-latency-ms")?.parse()?,
            "--transcript" => cfg.default_transcript = value("--transcript")?,
            "-h" | "--help" => {
                println!(
                    "cadence-sim [--addr HOST:PORT] [--api-key KEY] [--llm-ttfb-ms N] [--token-delay-ms N] [--tts-ttfb-ms N] [--tts-realtime] [--stt-latency-ms N] [--transcript TEXT]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    Ok((addr, cfg))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (addr, cfg) = parse()?;
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    eprintln!("cadence-sim listening on http://{}", listener.local_addr()?);
    serve(listener, cfg).await
}
