use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::FieldError,
    http::{Validate, Validator},
    providers::{
        LlmProvider, ProviderRegistry, SttProvider, TtsProvider, llm::LlmRequest, registry::Choice,
        stt::SttConfig, tts::TtsRequest,
    },
};

/// The tools an agent may be given (the chat/voice tool registry implements them).
pub const TOOLS: [&str; 6] = [
    "tasks",
    "notes",
    "goals",
    "memories",
    "reflections",
    "schedule",
];

fn default_temperature() -> f32 {
    0.7
}
fn default_max_tokens() -> u32 {
    512
}
fn default_language() -> String {
    "en-US".into()
}
fn default_endpointing() -> u32 {
    300
}
fn default_speed() -> f32 {
    1.0
}
fn default_true() -> bool {
    true
}
fn default_min_words() -> u32 {
    2
}

/// The language model: provider, model, sampling; `fallbacks` are tried in order (with
/// their default model) when the provider fails before its first byte or is not configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmSettings {
    pub provider: String,
    /// Omitted: the provider's default model.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SttSettings {
    pub provider: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default = "default_language")]
    pub language: String,
    /// Silence (ms) that ends the user's turn.
    #[serde(default = "default_endpointing")]
    pub endpointing_ms: u32,
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TtsSettings {
    pub provider: String,
    /// Omitted: the provider's default voice.
    #[serde(default)]
    pub voice: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default = "default_speed")]
    pub speed: f32,
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Interruption {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Words of user speech that interrupt the agent while it talks.
    #[serde(default = "default_min_words")]
    pub min_words: u32,
}

impl Default for Interruption {
    fn default() -> Self {
        Self {
            enabled: true,
            min_words: 2,
        }
    }
}

/// The default stages of a new agent: the best cloud vendors, falling back at run time to
/// whatever is configured and finally to the local engines.
pub fn default_llm() -> LlmSettings {
    LlmSettings {
        provider: "openai".into(),
        model: None,
        temperature: default_temperature(),
        max_tokens: default_max_tokens(),
        fallbacks: vec!["anthropic".into(), "commands".into()],
    }
}

pub fn default_stt() -> SttSettings {
    SttSettings {
        provider: "deepgram".into(),
        model: None,
        language: default_language(),
        endpointing_ms: default_endpointing(),
        fallbacks: vec!["openai".into(), "pocketsphinx".into()],
    }
}

pub fn default_tts() -> TtsSettings {
    TtsSettings {
        provider: "elevenlabs".into(),
        voice: None,
        model: None,
        speed: default_speed(),
        fallbacks: vec!["openai".into(), "espeak".into()],
    }
}

fn default_tools() -> Vec<String> {
    TOOLS.iter().map(|t| t.to_string()).collect()
}
fn default_max_call() -> i32 {
    1800
}
fn default_silence() -> i32 {
    60
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Agent {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub system_prompt: String,
    pub welcome_message: Option<String>,
    pub llm: LlmSettings,
    pub stt: SttSettings,
    pub tts: TtsSettings,
    pub tools: Vec<String>,
    pub interruption: Interruption,
    pub max_call_seconds: i32,
    pub silence_timeout_seconds: i32,
    pub recording: bool,
    pub is_builtin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Agent {
    /// The language model to run this agent with: its provider, then its fallbacks,
    /// skipping unconfigured ones, ending with the local engine when nothing else is usable.
    pub fn llm_provider(&self, reg: &ProviderRegistry) -> Arc<dyn LlmProvider> {
        reg.llm_chain(&Choice {
            provider: &self.llm.provider,
            model: self.llm.model.as_deref(),
            voice: None,
            fallbacks: &self.llm.fallbacks,
        })
    }

    pub fn stt_provider(&self, reg: &ProviderRegistry) -> Arc<dyn SttProvider> {
        reg.stt_chain(&Choice {
            provider: &self.stt.provider,
            model: self.stt.model.as_deref(),
            voice: None,
            fallbacks: &self.stt.fallbacks,
        })
    }

    pub fn tts_provider(&self, reg: &ProviderRegistry) -> Arc<dyn TtsProvider> {
        reg.tts_chain(&Choice {
            provider: &self.tts.provider,
            model: self.tts.model.as_deref(),
            voice: self.tts.voice.as_deref(),
            fallbacks: &self.tts.fallbacks,
        })
    }

    /// An LLM request with this agent's sampling settings (the chain sets the model).
    pub fn llm_request(&self, messages: Vec<crate::providers::llm::ChatMessage>) -> LlmRequest {
        LlmRequest {
            model: None,
            messages,
            tools: Vec::new(),
            temperature: Some(self.llm.temperature),
            max_tokens: Some(self.llm.max_tokens),
        }
    }

    /// The STT session settings for audio at `sample_rate`.
    pub fn stt_config(&self, sample_rate: u32) -> SttConfig {
        SttConfig {
            model: None,
            language: self.stt.language.clone(),
            sample_rate,
            endpointing_ms: self.stt.endpointing_ms,
            ..SttConfig::default()
        }
    }

    /// A synthesis request for `text` at `sample_rate` (the chain sets model and voice).
    pub fn tts_request(&self, text: impl Into<String>, sample_rate: u32) -> TtsRequest {
        TtsRequest {
            text: text.into(),
            voice: None,
            model: None,
            speed: Some(self.tts.speed),
            sample_rate,
        }
    }

    /// The writable fields, as `POST` takes them (PATCH merges into this).
    pub fn to_input(&self) -> AgentInput {
        AgentInput {
            name: self.name.clone(),
            description: self.description.clone(),
            system_prompt: self.system_prompt.clone(),
            welcome_message: self.welcome_message.clone(),
            llm: self.llm.clone(),
            stt: self.stt.clone(),
            tts: self.tts.clone(),
            tools: self.tools.clone(),
            interruption: self.interruption.clone(),
            max_call_seconds: self.max_call_seconds,
            silence_timeout_seconds: self.silence_timeout_seconds,
            recording: self.recording,
        }
    }
}

/// `POST /agents` (and, merged into the current agent, `PATCH`). Omitted stages use the
/// defaults: the cloud vendors with fallbacks down to the local engines.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub system_prompt: String,
    #[serde(default)]
    pub welcome_message: Option<String>,
    #[serde(default = "default_llm")]
    pub llm: LlmSettings,
    #[serde(default = "default_stt")]
    pub stt: SttSettings,
    #[serde(default = "default_tts")]
    pub tts: TtsSettings,
    #[serde(default = "default_tools")]
    pub tools: Vec<String>,
    #[serde(default)]
    pub interruption: Interruption,
    #[serde(default = "default_max_call")]
    pub max_call_seconds: i32,
    #[serde(default = "default_silence")]
    pub silence_timeout_seconds: i32,
    #[serde(default)]
    pub recording: bool,
}

/// `PATCH /agents/{id}`: any subset of the fields of [`AgentInput`]; nested objects merge
/// (JSON merge patch), `null` clears `description`/`welcome_message` and resets a stage's
/// `model`/`voice` to the provider's default.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct UpdateAgent {
    pub name: Option<String>,
    pub description: Option<String>,
    pub system_prompt: Option<String>,
    pub welcome_message: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub llm: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub stt: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub tts: Option<serde_json::Value>,
    pub tools: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub interruption: Option<serde_json::Value>,
    pub max_call_seconds: Option<i32>,
    pub silence_timeout_seconds: Option<i32>,
    pub recording: Option<bool>,
}

impl Validate for AgentInput {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        v.text(&self.name, "name", 100);
        if let Some(d) = &self.description {
            v.check(
                d.chars().count() <= 1000,
                "description",
                "must be at most 1000 characters",
            );
        }
        v.check(
            self.system_prompt.chars().count() <= 20_000,
            "system_prompt",
            "must be at most 20000 characters",
        );
        if let Some(w) = &self.welcome_message {
            v.check(
                w.chars().count() <= 1000,
                "welcome_message",
                "must be at most 1000 characters",
            );
        }
        v.check(
            (0.0..=2.0).contains(&self.llm.temperature),
            "llm.temperature",
            "must be between 0 and 2",
        );
        v.check(
            (1..=32_768).contains(&self.llm.max_tokens),
            "llm.max_tokens",
            "must be between 1 and 32768",
        );
        let lang_ok = (2..=35).contains(&self.stt.language.len())
            && self
                .stt
                .language
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        v.check(
            lang_ok,
            "stt.language",
            "must be a language tag such as en-US",
        );
        v.check(
            (10..=5000).contains(&self.stt.endpointing_ms),
            "stt.endpointing_ms",
            "must be between 10 and 5000",
        );
        v.check(
            (0.5..=2.0).contains(&self.tts.speed),
            "tts.speed",
            "must be between 0.5 and 2",
        );
        for (i, t) in self.tools.iter().enumerate() {
            if !TOOLS.contains(&t.as_str()) {
                v.error(
                    &format!("tools[{i}]"),
                    format!("must be one of {}", TOOLS.join(", ")),
                );
            } else if self.tools[..i].contains(t) {
                v.error(&format!("tools[{i}]"), "is listed twice");
            }
        }
        v.check(
            (1..=20).contains(&self.interruption.min_words),
            "interruption.min_words",
            "must be between 1 and 20",
        );
        v.check(
            (10..=14_400).contains(&self.max_call_seconds),
            "max_call_seconds",
            "must be between 10 and 14400",
        );
        v.check(
            (5..=3600).contains(&self.silence_timeout_seconds),
            "silence_timeout_seconds",
            "must be between 5 and 3600",
        );
        v.finish()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderCatalog {
    pub data: Vec<crate::providers::catalog::ProviderInfo>,
}
