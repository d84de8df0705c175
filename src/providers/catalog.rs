//! What the providers catalog (`GET /agents/providers`) says about each provider, and the
//! unit prices (from `settings.pricing`).

use serde::Serialize;
use utoipa::ToSchema;

use super::Stage;
use crate::config::{PricingSettings, VendorSettings};

/// Price of one billing unit, in credits. STT bills seconds of audio, TTS thousands of
/// characters, LLMs thousands of tokens (input and output priced apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UnitPrice {
    /// `second`, `1k_characters` or `1k_tokens`.
    pub unit: String,
    /// Credits per unit (for LLMs: per 1k input tokens).
    pub credits: i64,
    /// LLMs only: credits per 1k output tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_credits: Option<i64>,
}

/// The unit price of a stage. One small function so the wallet's pricing module can
/// replace it.
pub fn unit_price(pricing: &PricingSettings, stage: Stage) -> UnitPrice {
    match stage {
        Stage::Stt => UnitPrice {
            unit: "second".into(),
            credits: pricing.stt_per_second,
            output_credits: None,
        },
        Stage::Tts => UnitPrice {
            unit: "1k_characters".into(),
            credits: pricing.tts_per_1k_chars,
            output_credits: None,
        },
        Stage::Llm => UnitPrice {
            unit: "1k_tokens".into(),
            credits: pricing.llm_default_input_per_1k,
            output_credits: Some(pricing.llm_default_output_per_1k),
        },
    }
}

/// One provider of one stage.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderInfo {
    pub name: String,
    /// `stt`, `llm` or `tts`.
    pub kind: Stage,
    /// Runs on this server (no key, no network).
    pub local: bool,
    /// Usable now: a local engine that is installed, or a cloud vendor with a key.
    pub configured: bool,
    /// Not for production use (the `echo` model, for tests and benchmarks).
    pub development_only: bool,
    pub description: String,
    pub default_model: Option<String>,
    pub models: Vec<String>,
    pub default_voice: Option<String>,
    pub voices: Vec<String>,
    pub unit_price: UnitPrice,
}

impl ProviderInfo {
    pub fn has_model(&self, model: &str) -> bool {
        self.models.iter().any(|m| m == model)
    }

    pub fn has_voice(&self, voice: &str) -> bool {
        self.voices.iter().any(|v| v == voice)
    }
}

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Operator overrides (`providers.<vendor>.models` / `.voices`, comma-separated) replace
/// the built-in lists, e.g. for an Ollama or vLLM server behind the `openai` provider.
fn or_override(setting: &str, defaults: &[&str]) -> Vec<String> {
    let custom: Vec<String> = setting
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if custom.is_empty() {
        list(defaults)
    } else {
        custom
    }
}

pub struct CatalogInput<'a> {
    pub pricing: &'a PricingSettings,
    pub openai: &'a VendorSettings,
    pub anthropic: &'a VendorSettings,
    pub deepgram: &'a VendorSettings,
    pub elevenlabs: &'a VendorSettings,
    pub pocketsphinx_installed: bool,
    pub espeak_installed: bool,
}

/// The catalog, with each language model priced by the wallet's price table for its
/// default model (per-model prices in `[pricing.llm_models]`, else the defaults) — the
/// same prices `wallet::pricing::cost` bills (`PricingSettings::llm_price`).
pub fn build(input: &CatalogInput<'_>) -> Vec<ProviderInfo> {
    let mut infos = build_unpriced(input);
    for info in infos.iter_mut().filter(|i| i.kind == Stage::Llm) {
        if let Some(model) = &info.default_model {
            let p = input.pricing.llm_price(model);
            info.unit_price.credits = p.input_per_1k;
            info.unit_price.output_credits = Some(p.output_per_1k);
        }
    }
    infos
}

fn build_unpriced(input: &CatalogInput<'_>) -> Vec<ProviderInfo> {
    let price = |s| unit_price(input.pricing, s);
    let openai_models = or_override(
        &input.openai.models,
        &[
            "gpt-4o-mini",
            "gpt-4o",
            "gpt-4.1-mini",
            "gpt-4.1",
            "gpt-4.1-nano",
        ],
    );
    let anthropic_models = or_override(
        &input.anthropic.models,
        &[
            "claude-3-5-haiku-latest",
            "claude-sonnet-4-0",
            "claude-3-7-sonnet-latest",
            "claude-opus-4-0",
        ],
    );
    let eleven_voices = or_override(
        &input.elevenlabs.voices,
        &[
            "21m00Tcm4TlvDq8ikWAM",
            "EXAVITQu4vr4xnSDxMaL",
            "pNInz6obpgDQGcFmaJgB",
            "ErXwobaYiN019PkySvjV",
            "TxGEqnHWrfWFTfGW9XjX",
        ],
    );
    let openai_voices = or_override(
        &input.openai.voices,
        &[
            "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer",
        ],
    );
    vec![
        ProviderInfo {
            name: "deepgram".into(),
            kind: Stage::Stt,
            local: false,
            configured: input.deepgram.configured(),
            development_only: false,
            description: "Deepgram streaming speech-to-text (listen WebSocket)".into(),
            default_model: Some(super::stt::deepgram::DEFAULT_MODEL.into()),
            models: or_override(&input.deepgram.models, &["nova-3", "nova-2"]),
            default_voice: None,
            voices: vec![],
            unit_price: price(Stage::Stt),
        },
        ProviderInfo {
            name: "openai".into(),
            kind: Stage::Stt,
            local: false,
            configured: input.openai.configured(),
            development_only: false,
            description: "OpenAI-compatible transcription, one request per utterance".into(),
            default_model: Some(super::stt::openai::DEFAULT_MODEL.into()),
            models: list(&["gpt-4o-mini-transcribe", "gpt-4o-transcribe", "whisper-1"]),
            default_voice: None,
            voices: vec![],
            unit_price: price(Stage::Stt),
        },
        ProviderInfo {
            name: "pocketsphinx".into(),
            kind: Stage::Stt,
            local: true,
            configured: input.pocketsphinx_installed,
            development_only: false,
            description: "CMU PocketSphinx on this server (US English), no key needed".into(),
            default_model: Some("en-us".into()),
            models: list(&["en-us"]),
            default_voice: None,
            voices: vec![],
            unit_price: price(Stage::Stt),
        },
        ProviderInfo {
            name: "openai".into(),
            kind: Stage::Llm,
            local: false,
            configured: input.openai.configured(),
            development_only: false,
            description: "Any OpenAI-compatible chat completions API".into(),
            default_model: openai_models.first().cloned(),
            models: openai_models,
            default_voice: None,
            voices: vec![],
            unit_price: price(Stage::Llm),
        },
        ProviderInfo {
            name: "anthropic".into(),
            kind: Stage::Llm,
            local: false,
            configured: input.anthropic.configured(),
            development_only: false,
            description: "Anthropic Messages API".into(),
            default_model: anthropic_models.first().cloned(),
            models: anthropic_models,
            default_voice: None,
            voices: vec![],
            unit_price: price(Stage::Llm),
        },
        ProviderInfo {
            name: "commands".into(),
            kind: Stage::Llm,
            local: true,
            configured: true,
            development_only: false,
            description: "Offline: understands a fixed grammar of everyday requests (tasks, reminders, notes, memories, goals, the day plan, credits) and acts through the same tools".into(),
            default_model: Some(super::llm::commands::MODEL.into()),
            models: list(&[super::llm::commands::MODEL]),
            default_voice: None,
            voices: vec![],
            unit_price: price(Stage::Llm),
        },
        ProviderInfo {
            name: "echo".into(),
            kind: Stage::Llm,
            local: true,
            configured: true,
            development_only: true,
            description: "Development and benchmarks only: answers with what it heard".into(),
            default_model: Some(super::llm::echo::MODEL.into()),
            models: list(&[super::llm::echo::MODEL]),
            default_voice: None,
            voices: vec![],
            unit_price: price(Stage::Llm),
        },
        ProviderInfo {
            name: "elevenlabs".into(),
            kind: Stage::Tts,
            local: false,
            configured: input.elevenlabs.configured(),
            development_only: false,
            description: "ElevenLabs streaming text-to-speech".into(),
            default_model: Some(super::tts::elevenlabs::DEFAULT_MODEL.into()),
            models: or_override(
                &input.elevenlabs.models,
                &[
                    "eleven_flash_v2_5",
                    "eleven_turbo_v2_5",
                    "eleven_multilingual_v2",
                ],
            ),
            default_voice: eleven_voices.first().cloned(),
            voices: eleven_voices,
            unit_price: price(Stage::Tts),
        },
        ProviderInfo {
            name: "openai".into(),
            kind: Stage::Tts,
            local: false,
            configured: input.openai.configured(),
            development_only: false,
            description: "OpenAI-compatible speech (PCM 24 kHz)".into(),
            default_model: Some(super::tts::openai::DEFAULT_MODEL.into()),
            models: list(&["gpt-4o-mini-tts", "tts-1", "tts-1-hd"]),
            default_voice: Some(super::tts::openai::DEFAULT_VOICE.into()),
            voices: openai_voices,
            unit_price: price(Stage::Tts),
        },
        ProviderInfo {
            name: "espeak".into(),
            kind: Stage::Tts,
            local: true,
            configured: input.espeak_installed,
            development_only: false,
            description: "eSpeak NG on this server, no key needed".into(),
            default_model: Some("espeak-ng".into()),
            models: list(&["espeak-ng"]),
            default_voice: Some(super::tts::espeak::DEFAULT_VOICE.into()),
            voices: list(&[
                "en-us",
                "en-gb",
                "en-us+f3",
                "en-us+m3",
                "en-gb-scotland",
                "fr",
                "de",
                "es",
                "it",
            ]),
            unit_price: price(Stage::Tts),
        },
    ]
}
