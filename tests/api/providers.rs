//! Provider clients against the in-process vendor simulator (`cadence::sim`), the local
//! engines (eSpeak NG, PocketSphinx, echo), fallbacks and the simulator's own controls.

use std::time::Duration;

use cadence::{
    audio::{self, Frame, wav},
    providers::{
        ErrorKind, LlmProvider, ProviderError, ProviderRegistry, SttProvider, Timeouts,
        TtsProvider,
        llm::{
            ChatMessage, FinishReason, LlmEvent, LlmRequest, ToolCall, ToolSpec,
            anthropic::AnthropicLlm, echo::EchoLlm, openai::OpenAiLlm,
        },
        registry::Choice,
        stt::{
            SttConfig, SttEvent, SttSession, deepgram::DeepgramStt, openai::OpenAiStt,
            pocketsphinx::PocketSphinxStt,
        },
        tts::{TtsRequest, elevenlabs::ElevenLabsTts, espeak::EspeakTts, openai::OpenAiTts},
    },
    sim::{self, Failure, Reply, Script, Service, SimConfig, SimHandle, SimToolCall, SimUsage},
};
use futures::StreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::test_settings;

const KEY: &str = "sk-sim-test";

async fn sim_with(cfg: SimConfig) -> SimHandle {
    sim::spawn(SimConfig {
        api_key: Some(KEY.into()),
        ..cfg
    })
    .await
    .expect("simulator")
}

async fn sim() -> SimHandle {
    sim_with(SimConfig::default()).await
}

fn key() -> SecretString {
    SecretString::from(KEY)
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        first_byte: Duration::from_secs(10),
        idle: Duration::from_secs(10),
    }
}

fn short_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        first_byte: Duration::from_millis(400),
        idle: Duration::from_millis(400),
    }
}

fn openai(s: &SimHandle, t: Timeouts) -> OpenAiLlm {
    OpenAiLlm::new(&s.openai_url(), key(), "gpt-4o-mini", t)
}

fn anthropic(s: &SimHandle, t: Timeouts) -> AnthropicLlm {
    AnthropicLlm::new(&s.base_url(), key(), "claude-3-5-haiku-latest", t)
}

fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "create_task".into(),
            description: "Create a task".into(),
            parameters: json!({"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}),
        },
        ToolSpec {
            name: "create_note".into(),
            description: "Create a note".into(),
            parameters: json!({"type": "object", "properties": {"title": {"type": "string"}, "content": {"type": "string"}}}),
        },
    ]
}

fn request(text: &str) -> LlmRequest {
    LlmRequest {
        tools: tools(),
        ..LlmRequest::new(vec![
            ChatMessage::system("You are a test assistant."),
            ChatMessage::user(text),
        ])
    }
}

fn two_calls() -> Vec<SimToolCall> {
    vec![
        SimToolCall {
            id: Some("call_a".into()),
            name: "create_task".into(),
            arguments: r#"{"title":"Buy milk","priority":"high"}"#.into(),
        },
        SimToolCall {
            id: Some("call_b".into()),
            name: "create_note".into(),
            arguments: r#"{"title":"Groceries","content":"milk, eggs, bread"}"#.into(),
        },
    ]
}

/// Read a whole stream: text, tool-call deltas seen, and the final event.
async fn drain(
    mut stream: cadence::providers::LlmStream,
) -> (
    String,
    usize,
    Result<cadence::providers::llm::LlmDone, ProviderError>,
) {
    let mut text = String::new();
    let mut deltas = 0;
    while let Some(item) = stream.next().await {
        match item {
            Ok(LlmEvent::Text(t)) => text.push_str(&t),
            Ok(LlmEvent::ToolCallDelta { .. }) => deltas += 1,
            Ok(LlmEvent::Done(done)) => return (text, deltas, Ok(done)),
            Err(e) => return (text, deltas, Err(e)),
        }
    }
    (text, deltas, Err(ProviderError::Upstream("no Done".into())))
}

fn expected_calls() -> Vec<ToolCall> {
    two_calls()
        .into_iter()
        .map(|c| ToolCall {
            id: c.id.unwrap(),
            name: c.name,
            arguments: c.arguments,
        })
        .collect()
}

#[tokio::test]
async fn openai_stream_split_across_tcp_chunks_assembles_tool_calls_and_usage() {
    let s = sim_with(SimConfig {
        split_bytes: Some(5),
        ..Default::default()
    })
    .await;
    s.script(Script::new(
        Service::Llm,
        Reply {
            text: Some("Sure, adding both now.".into()),
            tool_calls: two_calls(),
            usage: Some(SimUsage {
                input_tokens: 120,
                output_tokens: 18,
            }),
            ..Default::default()
        },
    ));
    let stream = openai(&s, timeouts())
        .stream_chat(request("add milk and a note"))
        .await
        .unwrap();
    let (text, deltas, done) = drain(stream).await;
    let done = done.unwrap();
    assert_eq!(text, "Sure, adding both now.");
    assert!(deltas > 4, "arguments arrive in several pieces: {deltas}");
    assert_eq!(done.finish_reason, FinishReason::ToolCalls);
    assert_eq!(done.tool_calls, expected_calls());
    assert_eq!(done.usage.input_tokens, 120);
    assert_eq!(done.usage.output_tokens, 18);
    assert!(!done.usage.estimated);

    let log = s.log_for("openai.chat");
    assert_eq!(log.len(), 1);
    let body = &log[0].body;
    assert_eq!(log[0].auth.as_deref(), Some("Bearer sk-sim-test"));
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][1]["function"]["name"], "create_note");
    assert_eq!(body["messages"][1]["content"], "add milk and a note");
    let log = s
        .wait_for_log(|l| l[0].completed, Duration::from_secs(10))
        .await;
    assert!(log[0].completed && !log[0].cancelled);
}

#[tokio::test]
async fn openai_tool_results_go_back_in_the_openai_shape() {
    let s = sim().await;
    let req = LlmRequest::new(vec![
        ChatMessage::user("add milk"),
        ChatMessage::assistant_tool_calls("", vec![expected_calls()[0].clone()]),
        ChatMessage::tool_result("call_a", r#"{"id":"t1"}"#),
    ]);
    let (text, _, done) = drain(openai(&s, timeouts()).stream_chat(req).await.unwrap()).await;
    assert!(text.starts_with("Simulated reply to:"));
    assert_eq!(done.unwrap().finish_reason, FinishReason::Stop);
    let body = &s.log_for("openai.chat")[0].body;
    assert_eq!(body["messages"][1]["tool_calls"][0]["id"], "call_a");
    assert_eq!(
        body["messages"][1]["tool_calls"][0]["function"]["name"],
        "create_task"
    );
    assert_eq!(body["messages"][2]["role"], "tool");
    assert_eq!(body["messages"][2]["tool_call_id"], "call_a");
}

#[tokio::test]
async fn anthropic_stream_assembles_tool_use_blocks_and_usage() {
    let s = sim_with(SimConfig {
        split_bytes: Some(7),
        ..Default::default()
    })
    .await;
    s.script(Script::new(
        Service::Llm,
        Reply {
            text: Some("On it.".into()),
            tool_calls: two_calls(),
            usage: Some(SimUsage {
                input_tokens: 90,
                output_tokens: 33,
            }),
            ..Default::default()
        },
    ));
    let (text, _, done) = drain(
        anthropic(&s, timeouts())
            .stream_chat(request("add milk and a note"))
            .await
            .unwrap(),
    )
    .await;
    let done = done.unwrap();
    assert_eq!(text, "On it.");
    assert_eq!(done.finish_reason, FinishReason::ToolCalls);
    assert_eq!(done.tool_calls, expected_calls());
    assert_eq!(
        (done.usage.input_tokens, done.usage.output_tokens),
        (90, 33)
    );
    assert!(!done.usage.estimated);

    let log = s.log_for("anthropic.messages");
    let body = &log[0].body;
    assert_eq!(log[0].auth.as_deref(), Some(KEY));
    assert_eq!(body["system"], "You are a test assistant.");
    assert_eq!(body["messages"][0]["role"], "user");
    assert_eq!(body["tools"][0]["input_schema"]["required"][0], "title");
    assert_eq!(body["stream"], true);
}

#[tokio::test]
async fn cancelled_stream_estimates_usage_and_closes_the_request() {
    let s = sim_with(SimConfig {
        token_delay_ms: 15,
        ..Default::default()
    })
    .await;
    let long = "word ".repeat(200);
    for _ in 0..2 {
        s.script(Script::llm_text(&long));
    }
    for (i, provider) in [
        Box::new(openai(&s, timeouts())) as Box<dyn LlmProvider>,
        Box::new(anthropic(&s, timeouts())),
    ]
    .into_iter()
    .enumerate()
    {
        let mut stream = provider
            .stream_chat(request("tell me a long story"))
            .await
            .unwrap();
        let mut got = 0;
        while got < 3 {
            if let Some(Ok(LlmEvent::Text(t))) = stream.next().await
                && !t.is_empty()
            {
                got += 1;
            }
        }
        // Barge-in: the consumer drops the stream before the usage chunk.
        let usage = stream.cancel();
        assert!(usage.estimated, "{}: {usage:?}", provider.name());
        assert!(usage.input_tokens > 10, "{usage:?}");
        assert!(usage.output_tokens >= 3, "{usage:?}");
        let log = s
            .wait_for_log(|l| l.len() > i && l[i].cancelled, Duration::from_secs(10))
            .await;
        assert!(
            log[i].cancelled,
            "the simulator saw the request go away: {:?}",
            log[i]
        );
        assert!(!log[i].completed);
    }
}

#[tokio::test]
async fn vendor_statuses_map_to_provider_errors() {
    let s = sim().await;
    for (status, kind) in [
        (401, ErrorKind::Auth),
        (429, ErrorKind::RateLimited),
        (500, ErrorKind::Upstream),
    ] {
        for provider in [
            Box::new(openai(&s, timeouts())) as Box<dyn LlmProvider>,
            Box::new(anthropic(&s, timeouts())),
        ] {
            s.script(Script::fail(Service::Llm, Failure::Status { status }));
            let err = provider.stream_chat(request("hi")).await.err().unwrap();
            assert_eq!(err.kind(), kind, "{} {status}: {err}", provider.name());
            if status == 429 {
                assert_eq!(
                    err,
                    ProviderError::RateLimited {
                        retry_after: Some(Duration::from_secs(1))
                    }
                );
            }
        }
    }
    // A wrong key is the vendor's 401.
    let wrong = OpenAiLlm::new(&s.openai_url(), SecretString::from("nope"), "m", timeouts());
    assert_eq!(
        wrong.stream_chat(request("hi")).await.err().unwrap().kind(),
        ErrorKind::Auth
    );
}

#[tokio::test]
async fn malformed_and_broken_streams_are_errors() {
    let s = sim().await;
    for provider in [
        Box::new(openai(&s, timeouts())) as Box<dyn LlmProvider>,
        Box::new(anthropic(&s, timeouts())),
    ] {
        s.script(Script::new(
            Service::Llm,
            Reply {
                text: Some("one two three four five six".into()),
                fail: Some(Failure::Malformed),
                ..Default::default()
            },
        ));
        let (_, _, done) = drain(provider.stream_chat(request("hi")).await.unwrap()).await;
        assert_eq!(
            done.unwrap_err().kind(),
            ErrorKind::BadResponse,
            "{}",
            provider.name()
        );

        s.script(Script::new(
            Service::Llm,
            Reply {
                text: Some("one two three four five six".into()),
                fail: Some(Failure::DieMidStream),
                ..Default::default()
            },
        ));
        let (text, _, done) = drain(provider.stream_chat(request("hi")).await.unwrap()).await;
        assert_eq!(
            done.unwrap_err().kind(),
            ErrorKind::Upstream,
            "{}",
            provider.name()
        );
        assert!(!text.contains("six"), "{text}");
    }
}

#[tokio::test]
async fn first_byte_and_idle_timeouts() {
    let s = sim().await;
    for provider in [
        Box::new(openai(&s, short_timeouts())) as Box<dyn LlmProvider>,
        Box::new(anthropic(&s, short_timeouts())),
    ] {
        s.script(Script::fail(Service::Llm, Failure::Hang));
        let err = provider.stream_chat(request("hi")).await.err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{}: {err}", provider.name());

        s.script(Script::new(
            Service::Llm,
            Reply {
                text: Some("one two three four five six".into()),
                fail: Some(Failure::StallMidStream),
                ..Default::default()
            },
        ));
        let (_, _, done) = drain(provider.stream_chat(request("hi")).await.unwrap()).await;
        assert_eq!(
            done.unwrap_err().kind(),
            ErrorKind::Timeout,
            "{}",
            provider.name()
        );
    }
}

#[tokio::test]
async fn fallback_moves_to_the_second_provider_and_counts_it() {
    let s = sim().await;
    let overrides: Vec<(String, String)> = s.settings_overrides(KEY);
    let pairs: Vec<(&str, &str)> = overrides
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let reg = ProviderRegistry::from_settings(&test_settings(&pairs));
    let metric = r#"provider_fallbacks_total{stage="llm",from="openai"}"#;
    let before = counter(metric);

    s.script(Script::fail(Service::Llm, Failure::Status { status: 500 }));
    s.script(Script::llm_text("answered by the second provider"));
    let fallbacks = vec!["anthropic".to_string()];
    let llm = reg.llm_chain(&Choice {
        provider: "openai",
        model: Some("gpt-4o"),
        voice: None,
        fallbacks: &fallbacks,
    });
    let stream = llm.stream_chat(request("hi")).await.unwrap();
    assert_eq!(stream.provider(), "anthropic");
    let (text, _, done) = drain(stream).await;
    assert_eq!(text, "answered by the second provider");
    assert!(done.is_ok());
    let log = s.log();
    assert_eq!(log[0].service, "openai.chat");
    assert_eq!(log[0].body["model"], "gpt-4o");
    assert_eq!(log[1].service, "anthropic.messages");
    // The fallback uses its own default model, not the first provider's.
    assert_eq!(log[1].body["model"], "claude-3-5-haiku-latest");
    assert!(counter(metric) >= before + 1.0, "fallback counted");
    assert!(
        counter(r#"provider_errors_total{stage="llm",provider="openai",kind="upstream"}"#) >= 1.0
    );
    assert!(counter(r#"provider_requests_total{stage="llm",provider="anthropic"}"#) >= 1.0);
    assert!(
        counter(r#"provider_first_byte_seconds_count{stage="llm",provider="anthropic"}"#) >= 1.0
    );

    // TTS too: ElevenLabs rate-limited → OpenAI speech.
    s.script(Script::fail(Service::Tts, Failure::Status { status: 429 }));
    let tts_fallbacks = vec!["openai".to_string()];
    let tts = reg.tts_chain(&Choice {
        provider: "elevenlabs",
        model: None,
        voice: None,
        fallbacks: &tts_fallbacks,
    });
    let stream = tts
        .synthesize(TtsRequest::new("hello there", 16000))
        .await
        .unwrap();
    assert_eq!(stream.provider(), "openai");
    assert!(!stream.collect().await.unwrap().is_empty());

    // Unconfigured providers are skipped; with nothing usable the local engine (`commands`) answers.
    let bare = ProviderRegistry::from_settings(&test_settings(&[]));
    let llm = bare.llm_chain(&Choice {
        provider: "openai",
        model: None,
        voice: None,
        fallbacks: &fallbacks,
    });
    let (text, _, _) = drain(llm.stream_chat(request("hello")).await.unwrap()).await;
    assert_eq!(text, "Hi! What can I do for you?");
}

fn counter(series: &str) -> f64 {
    let text = cadence::metrics::handle().render();
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// `ms` of a 300 Hz tone, or of silence, at `rate`.
fn tone(ms: u32, rate: u32) -> Vec<i16> {
    let n = (rate * ms / 1000) as usize;
    (0..n)
        .map(|i| {
            (8000.0 * (2.0 * std::f64::consts::PI * 300.0 * i as f64 / rate as f64).sin()) as i16
        })
        .collect()
}

fn silence(ms: u32, rate: u32) -> Vec<i16> {
    vec![0; (rate * ms / 1000) as usize]
}

/// Push audio in 20 ms frames, close, and collect every event until `Closed`.
async fn run_stt(session: SttSession, audio: Vec<i16>, rate: u32) -> Vec<SttEvent> {
    let (sender, mut events) = session.split();
    let frame = (rate / 50) as usize;
    let pusher = tokio::spawn(async move {
        for chunk in audio.chunks(frame) {
            sender.send_audio(chunk.to_vec()).await.unwrap();
        }
        // Dropping the sender closes the stream (CloseStream / EOF).
    });
    let mut out = Vec::new();
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(60), events.recv())
        .await
        .expect("STT events stalled")
    {
        let ev = ev.expect("STT error");
        let closed = matches!(ev, SttEvent::Closed { .. });
        out.push(ev);
        if closed {
            break;
        }
    }
    pusher.await.unwrap();
    out
}

fn position(events: &[SttEvent], pred: impl Fn(&SttEvent) -> bool) -> usize {
    events
        .iter()
        .position(pred)
        .unwrap_or_else(|| panic!("event missing in {events:?}"))
}

#[tokio::test]
async fn deepgram_interim_final_utterance_end_and_billed_duration() {
    let s = sim().await;
    s.script(Script::transcript("add a task to buy milk"));
    let stt = DeepgramStt::new(&s.deepgram_url(), key(), timeouts());
    let cfg = SttConfig {
        sample_rate: 16000,
        endpointing_ms: 300,
        utterance_end_ms: 1000,
        ..Default::default()
    };
    let session = stt.start(cfg).await.unwrap();
    let mut audio = silence(300, 16000);
    audio.extend(tone(1500, 16000));
    audio.extend(silence(1500, 16000));
    let events = run_stt(session, audio.clone(), 16000).await;

    let started = position(&events, |e| matches!(e, SttEvent::SpeechStarted));
    let interim = position(&events, |e| {
        matches!(
            e,
            SttEvent::Transcript {
                is_final: false,
                ..
            }
        )
    });
    let fin = position(&events, |e| {
        matches!(
            e,
            SttEvent::Transcript {
                is_final: true,
                speech_final: true,
                ..
            }
        )
    });
    let end = position(&events, |e| matches!(e, SttEvent::UtteranceEnd));
    let closed = position(&events, |e| matches!(e, SttEvent::Closed { .. }));
    assert!(
        started < interim && interim < fin && fin < end && end < closed,
        "{events:?}"
    );
    match &events[fin] {
        SttEvent::Transcript { text, .. } => assert_eq!(text, "add a task to buy milk"),
        _ => unreachable!(),
    }
    if let SttEvent::Transcript { text, .. } = &events[interim] {
        assert!(
            "add a task to buy milk".starts_with(text.as_str()),
            "{text}"
        );
    }
    // Billed from Deepgram's Metadata duration: all 3.3 s sent.
    match events[closed] {
        SttEvent::Closed { billed_seconds } => {
            assert!((billed_seconds - 3.3).abs() < 0.01, "{billed_seconds}")
        }
        _ => unreachable!(),
    }
    let log = s.log_for("deepgram.listen");
    assert_eq!(log[0].auth.as_deref(), Some("Token sk-sim-test"));
    for p in [
        "encoding=linear16",
        "sample_rate=16000",
        "interim_results=true",
        "endpointing=300",
        "utterance_end_ms=1000",
        "vad_events=true",
        "model=nova-3",
    ] {
        assert!(log[0].query.contains(p), "{p} in {}", log[0].query);
    }
    assert_eq!(log[0].audio_bytes, audio.len() as u64 * 2);
    assert!(log[0].messages.iter().any(|m| m.contains("CloseStream")));
    assert!(log[0].completed);
}

#[tokio::test]
async fn deepgram_rejections_and_finalize() {
    let s = sim().await;
    let bad = DeepgramStt::new(&s.deepgram_url(), SecretString::from("wrong"), timeouts());
    let err = bad.start(SttConfig::default()).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    s.script(Script::fail(Service::Stt, Failure::Status { status: 429 }));
    let stt = DeepgramStt::new(&s.deepgram_url(), key(), timeouts());
    assert_eq!(
        stt.start(SttConfig::default()).await.err().unwrap().kind(),
        ErrorKind::RateLimited
    );

    // Finalize flushes an utterance that is still being spoken.
    s.script(Script::transcript("stop right there"));
    let session = stt.start(SttConfig::default()).await.unwrap();
    let (sender, mut events) = session.split();
    sender.send_audio(tone(800, 16000)).await.unwrap();
    sender.finalize().await.unwrap();
    let mut final_text = None;
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .unwrap()
    {
        if let SttEvent::Transcript {
            text,
            is_final: true,
            ..
        } = ev.unwrap()
        {
            final_text = Some(text);
            break;
        }
    }
    assert_eq!(final_text.as_deref(), Some("stop right there"));
    drop(sender);
    let log = s
        .wait_for_log(
            |l| {
                l.iter()
                    .any(|e| e.messages.iter().any(|m| m.contains("Finalize")))
            },
            Duration::from_secs(5),
        )
        .await;
    assert!(
        log.iter()
            .any(|e| e.messages.iter().any(|m| m.contains("Finalize")))
    );
}

#[tokio::test]
async fn deepgram_keepalive_and_broken_streams() {
    let s = sim().await;
    // No audio for a while: the client keeps the socket alive.
    let stt = DeepgramStt::new(&s.deepgram_url(), key(), timeouts())
        .with_keepalive(Duration::from_millis(100));
    let session = stt.start(SttConfig::default()).await.unwrap();
    let log = s
        .wait_for_log(
            |l| {
                l.iter()
                    .any(|e| e.messages.iter().any(|m| m.contains("KeepAlive")))
            },
            Duration::from_secs(10),
        )
        .await;
    assert!(
        log[0]
            .messages
            .iter()
            .any(|m| m == r#"{"type":"KeepAlive"}"#),
        "{:?}",
        log[0]
    );
    drop(session);

    for (failure, kind) in [
        (Failure::DieMidStream, ErrorKind::Upstream),
        (Failure::Malformed, ErrorKind::BadResponse),
    ] {
        s.script(Script::fail(Service::Stt, failure));
        let (sender, mut events) = stt.start(SttConfig::default()).await.unwrap().split();
        sender.send_audio(silence(100, 16000)).await.unwrap();
        sender.send_audio(tone(600, 16000)).await.unwrap();
        let err = loop {
            match tokio::time::timeout(Duration::from_secs(20), events.recv())
                .await
                .unwrap()
            {
                Some(Ok(_)) => continue,
                Some(Err(e)) => break e,
                None => panic!("the session ended without an error"),
            }
        };
        assert_eq!(err.kind(), kind, "{err}");
    }
}

#[tokio::test]
async fn stt_fallback_when_the_first_provider_refuses() {
    let s = sim().await;
    let overrides: Vec<(String, String)> = s.settings_overrides(KEY);
    let pairs: Vec<(&str, &str)> = overrides
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let reg = ProviderRegistry::from_settings(&test_settings(&pairs));
    s.script(Script::fail(Service::Stt, Failure::Status { status: 401 }));
    s.script(Script::transcript("via the second provider"));
    let fallbacks = vec!["openai".to_string(), "pocketsphinx".to_string()];
    let stt = reg.stt_chain(&Choice {
        provider: "deepgram",
        model: None,
        voice: None,
        fallbacks: &fallbacks,
    });
    let session = stt.start(SttConfig::default()).await.unwrap();
    assert_eq!(session.events.provider(), "openai");
    let mut audio = tone(600, 16000);
    audio.extend(silence(900, 16000));
    let events = run_stt(session, audio, 16000).await;
    assert!(
        events.iter().any(
            |e| matches!(e, SttEvent::Transcript { text, .. } if text == "via the second provider")
        ),
        "{events:?}"
    );
    let services: Vec<String> = s.log().into_iter().map(|e| e.service).collect();
    assert_eq!(services, vec!["deepgram.listen", "openai.transcriptions"]);
}

#[tokio::test]
async fn openai_transcription_per_utterance() {
    let s = sim().await;
    s.script(Script::transcript("first thing"));
    s.script(Script::transcript("second thing"));
    let stt = OpenAiStt::new(&s.openai_url(), key(), timeouts());
    let session = stt
        .start(SttConfig {
            sample_rate: 8000,
            endpointing_ms: 400,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut audio = silence(200, 8000);
    audio.extend(tone(700, 8000));
    audio.extend(silence(800, 8000));
    audio.extend(tone(500, 8000));
    audio.extend(silence(800, 8000));
    let events = run_stt(session, audio, 8000).await;
    let finals: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            SttEvent::Transcript {
                text,
                is_final: true,
                ..
            } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(finals, vec!["first thing", "second thing"]);
    let starts = events
        .iter()
        .filter(|e| matches!(e, SttEvent::SpeechStarted))
        .count();
    let ends = events
        .iter()
        .filter(|e| matches!(e, SttEvent::UtteranceEnd))
        .count();
    assert_eq!((starts, ends), (2, 2), "{events:?}");
    let log = s.log_for("openai.transcriptions");
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].body["model"], "gpt-4o-mini-transcribe");
    assert_eq!(log[0].body["language"], "en");
    let sent: f64 = log
        .iter()
        .map(|e| e.body["audio_seconds"].as_f64().unwrap())
        .sum();
    // Billed: the utterances sent (speech, pre-roll and endpointing silence), not the silence between.
    match events.last().unwrap() {
        SttEvent::Closed { billed_seconds } => {
            assert!(
                (billed_seconds - sent).abs() < 0.001,
                "{billed_seconds} vs {sent}"
            );
            assert!(*billed_seconds < 3.0);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn cloud_tts_streams_pcm_at_the_requested_rate() {
    let s = sim().await;
    let text = "Hello from the simulator."; // 25 chars × 40 ms = 1 s
    let eleven = ElevenLabsTts::new(&s.base_url(), key(), timeouts());
    for (rate, format) in [
        (16000, "pcm_16000"),
        (8000, "ulaw_8000"),
        (24000, "pcm_24000"),
        (48000, "pcm_24000"),
    ] {
        let stream = eleven
            .synthesize(TtsRequest::new(text, rate))
            .await
            .unwrap();
        assert_eq!(stream.characters(), 25);
        assert_eq!(stream.sample_rate(), rate);
        let pcm = stream.collect().await.unwrap();
        let secs = pcm.len() as f64 / rate as f64;
        assert!((secs - 1.0).abs() < 0.02, "{rate}: {secs} s");
        assert!(audio::rms(&pcm) > 0.05, "{rate}: audible");
        let log = s.log_for("elevenlabs.stream");
        let last = log.last().unwrap();
        assert_eq!(last.query, format!("output_format={format}"));
        assert_eq!(last.auth.as_deref(), Some(KEY));
        assert!(last.path.contains("21m00Tcm4TlvDq8ikWAM"));
    }
    let oai = OpenAiTts::new(&s.openai_url(), key(), timeouts());
    let pcm = oai
        .synthesize(TtsRequest::new(text, 16000))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert!(((pcm.len() as f64 / 16000.0) - 1.0).abs() < 0.02);
    let body = &s.log_for("openai.speech")[0].body;
    assert_eq!(body["response_format"], "pcm");
    assert_eq!(body["voice"], "alloy");

    // Errors before audio, a JSON body instead of audio, and a stream that dies.
    s.script(Script::fail(Service::Tts, Failure::Status { status: 401 }));
    assert_eq!(
        eleven
            .synthesize(TtsRequest::new(text, 16000))
            .await
            .err()
            .unwrap()
            .kind(),
        ErrorKind::Auth
    );
    s.script(Script::fail(Service::Tts, Failure::Malformed));
    assert_eq!(
        oai.synthesize(TtsRequest::new(text, 16000))
            .await
            .err()
            .unwrap()
            .kind(),
        ErrorKind::BadResponse
    );
    s.script(Script::fail(Service::Tts, Failure::DieMidStream));
    let stream = oai.synthesize(TtsRequest::new(text, 16000)).await.unwrap();
    assert_eq!(
        stream.collect().await.unwrap_err().kind(),
        ErrorKind::Upstream
    );
    s.script(Script::fail(Service::Tts, Failure::Hang));
    let slow = OpenAiTts::new(&s.openai_url(), key(), short_timeouts());
    assert_eq!(
        slow.synthesize(TtsRequest::new(text, 16000))
            .await
            .err()
            .unwrap()
            .kind(),
        ErrorKind::Timeout
    );
}

#[tokio::test]
async fn espeak_returns_audible_pcm_at_8_16_and_24_khz() {
    let tts = EspeakTts::new("espeak-ng");
    for rate in [8000, 16000, 24000] {
        let stream = tts
            .synthesize(TtsRequest::new("Your meeting starts in ten minutes.", rate))
            .await
            .unwrap();
        assert_eq!(stream.sample_rate(), rate);
        let pcm = stream.collect().await.unwrap();
        let secs = pcm.len() as f64 / rate as f64;
        assert!((1.0..6.0).contains(&secs), "{rate}: {secs} s");
        assert!(audio::rms(&pcm) > 0.02, "{rate}: rms {}", audio::rms(&pcm));
    }
    // An unknown voice is an error, not silence.
    let err = tts
        .synthesize(TtsRequest {
            voice: Some("robotvoice".into()),
            ..TtsRequest::new("hello", 16000)
        })
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Upstream);
}

#[tokio::test]
async fn pocketsphinx_recognises_a_flite_sentence() {
    let dir = std::env::temp_dir().join(format!("cadence-ps-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let raw = dir.join("flite.wav");
    let wav16 = dir.join("16k.wav");
    let ok = std::process::Command::new("flite")
        .args([
            "-voice",
            "rms",
            "-t",
            "please add a task to buy milk tomorrow",
            "-o",
        ])
        .arg(&raw)
        .status()
        .expect("flite is installed (scripts/common.sh installs it)");
    assert!(ok.success());
    // Dither off (-D) so the input is the same bytes every run.
    let ok = std::process::Command::new("sox")
        .arg("-D")
        .arg(&raw)
        .args(["-r", "16000", "-c", "1", "-b", "16"])
        .arg(&wav16)
        .status()
        .expect("sox is installed");
    assert!(ok.success());
    let frame: Frame = wav::read(&std::fs::read(&wav16).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(frame.sample_rate, 16000);

    let stt = PocketSphinxStt::new("pocketsphinx_continuous", vec![]);
    let session = stt.start(SttConfig::default()).await.unwrap();
    let mut audio = silence(300, 16000);
    audio.extend(&frame.samples);
    audio.extend(silence(1000, 16000));
    let total = audio.len() as f64 / 16000.0;
    let events = run_stt(session, audio, 16000).await;
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            SttEvent::Transcript {
                text,
                is_final: true,
                ..
            } => Some(text.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ");
    for word in ["milk", "tomorrow", "buy"] {
        assert!(text.contains(word), "{word:?} in {text:?}");
    }
    assert!(events.iter().any(|e| matches!(e, SttEvent::SpeechStarted)));
    match events.last().unwrap() {
        SttEvent::Closed { billed_seconds } => assert!((billed_seconds - total).abs() < 0.01),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn echo_answers_with_what_it_heard() {
    let (text, _, done) = drain(
        EchoLlm
            .stream_chat(LlmRequest::new(vec![ChatMessage::user("  add milk  ")]))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(text, "You said: add milk");
    let done = done.unwrap();
    assert_eq!(done.model, "echo-1");
    assert!(done.usage.output_tokens > 0);
}

#[tokio::test]
async fn simulator_control_endpoints_twilio_and_embeddings() {
    let s = sim().await;
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/__sim/script", s.base_url()))
        .json(&json!([{"service": "llm", "text": "scripted over HTTP"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let (text, _, _) = drain(
        openai(&s, timeouts())
            .stream_chat(request("x"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(text, "scripted over HTTP");

    let calls = format!("{}/2010-04-01/Accounts/AC123/Calls.json", s.base_url());
    let resp = http
        .post(&calls)
        .basic_auth("AC123", Some(KEY))
        .form(&[
            ("To", "+15550001111"),
            ("From", "+15550002222"),
            ("Url", "https://example.com/twiml"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let call: Value = resp.json().await.unwrap();
    assert!(call["sid"].as_str().unwrap().starts_with("CA"));
    assert_eq!(call["status"], "queued");
    let resp = http
        .post(&calls)
        .basic_auth("AC123", Some("wrong"))
        .form(&[("To", "+1"), ("From", "+2"), ("Url", "u")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let resp = http
        .post(format!("{}/embeddings", s.openai_url()))
        .bearer_auth(KEY)
        .json(&json!({"model": "text-embedding-3-small", "input": ["buy milk", "buy milk"], "dimensions": 32}))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 32);
    assert_eq!(body["data"][0]["embedding"], body["data"][1]["embedding"]);

    let log: Vec<Value> = http
        .get(format!("{}/__sim/log", s.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let services: Vec<&str> = log.iter().map(|e| e["service"].as_str().unwrap()).collect();
    assert_eq!(
        services,
        vec![
            "openai.chat",
            "twilio.calls",
            "twilio.calls",
            "openai.embeddings"
        ]
    );
    assert_eq!(log[1]["body"]["To"], "+15550001111");
}
