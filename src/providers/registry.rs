//! Resolves providers by name from settings, and builds fallback chains.

use std::{collections::HashMap, path::Path, sync::Arc};

use super::{
    Stage, Timeouts,
    catalog::{self, CatalogInput, ProviderInfo},
    fallback::{Link, LlmChain, SttChain, TtsChain},
    llm::{
        LlmProvider, anthropic::AnthropicLlm, commands::CommandsLlm, echo::EchoLlm,
        openai::OpenAiLlm,
    },
    stt::{SttProvider, deepgram::DeepgramStt, openai::OpenAiStt, pocketsphinx::PocketSphinxStt},
    tts::{TtsProvider, elevenlabs::ElevenLabsTts, espeak::EspeakTts, openai::OpenAiTts},
};
use crate::config::Settings;

/// The local engine every chain ends with when nothing else is usable.
pub const LOCAL_STT: &str = "pocketsphinx";
pub const LOCAL_LLM: &str = "commands";
pub const LOCAL_TTS: &str = "espeak";

/// A stage's choice: a provider, optionally a model/voice for it, and fallback providers
/// (which use their default model and voice).
#[derive(Debug, Clone, Default)]
pub struct Choice<'a> {
    pub provider: &'a str,
    pub model: Option<&'a str>,
    pub voice: Option<&'a str>,
    pub fallbacks: &'a [String],
}

pub struct ProviderRegistry {
    stt: HashMap<String, Arc<dyn SttProvider>>,
    llm: HashMap<String, Arc<dyn LlmProvider>>,
    tts: HashMap<String, Arc<dyn TtsProvider>>,
    catalog: Vec<ProviderInfo>,
}

/// Is `binary` an executable on `PATH` (or a path to one)?
pub fn executable_exists(binary: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if binary.contains('/') {
        return is_exec(Path::new(binary));
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| is_exec(&dir.join(binary))))
        .unwrap_or(false)
}

impl ProviderRegistry {
    pub fn from_settings(settings: &Settings) -> Self {
        let p = &settings.providers;
        let timeouts = Timeouts::from_settings(&p.timeouts);
        let mut stt: HashMap<String, Arc<dyn SttProvider>> = HashMap::new();
        let mut llm: HashMap<String, Arc<dyn LlmProvider>> = HashMap::new();
        let mut tts: HashMap<String, Arc<dyn TtsProvider>> = HashMap::new();
        let catalog = catalog::build(&CatalogInput {
            pricing: &settings.pricing,
            openai: &p.openai,
            anthropic: &p.anthropic,
            deepgram: &p.deepgram,
            elevenlabs: &p.elevenlabs,
            pocketsphinx_installed: executable_exists(&p.local.pocketsphinx_bin),
            espeak_installed: executable_exists(&p.local.espeak_bin),
        });
        let default_model = |stage: Stage, name: &str| {
            catalog
                .iter()
                .find(|i| i.kind == stage && i.name == name)
                .and_then(|i| i.default_model.clone())
                .unwrap_or_default()
        };
        if p.openai.configured() {
            llm.insert(
                "openai".into(),
                Arc::new(OpenAiLlm::new(
                    &p.openai.base_url,
                    p.openai.api_key.clone(),
                    &default_model(Stage::Llm, "openai"),
                    timeouts,
                )),
            );
            stt.insert(
                "openai".into(),
                Arc::new(OpenAiStt::new(
                    &p.openai.base_url,
                    p.openai.api_key.clone(),
                    timeouts,
                )),
            );
            tts.insert(
                "openai".into(),
                Arc::new(OpenAiTts::new(
                    &p.openai.base_url,
                    p.openai.api_key.clone(),
                    timeouts,
                )),
            );
        }
        if p.anthropic.configured() {
            llm.insert(
                "anthropic".into(),
                Arc::new(AnthropicLlm::new(
                    &p.anthropic.base_url,
                    p.anthropic.api_key.clone(),
                    &default_model(Stage::Llm, "anthropic"),
                    timeouts,
                )),
            );
        }
        if p.deepgram.configured() {
            stt.insert(
                "deepgram".into(),
                Arc::new(DeepgramStt::new(
                    &p.deepgram.base_url,
                    p.deepgram.api_key.clone(),
                    timeouts,
                )),
            );
        }
        if p.elevenlabs.configured() {
            tts.insert(
                "elevenlabs".into(),
                Arc::new(ElevenLabsTts::new(
                    &p.elevenlabs.base_url,
                    p.elevenlabs.api_key.clone(),
                    timeouts,
                )),
            );
        }
        llm.insert(LOCAL_LLM.into(), Arc::new(CommandsLlm));
        // Development and benchmarks only (the catalog says so); never a chain's default.
        llm.insert("echo".into(), Arc::new(EchoLlm));
        if executable_exists(&p.local.pocketsphinx_bin) {
            stt.insert(
                LOCAL_STT.into(),
                Arc::new(
                    PocketSphinxStt::new(
                        &p.local.pocketsphinx_bin,
                        p.local
                            .pocketsphinx_args
                            .split_whitespace()
                            .map(String::from)
                            .collect(),
                    )
                    .with_commands_lm(
                        Some(p.local.pocketsphinx_commands_lm_from.trim())
                            .filter(|s| !s.is_empty())
                            .map(std::path::PathBuf::from),
                    ),
                ),
            );
        }
        if executable_exists(&p.local.espeak_bin) {
            tts.insert(
                LOCAL_TTS.into(),
                Arc::new(EspeakTts::new(&p.local.espeak_bin)),
            );
        }
        Self {
            stt,
            llm,
            tts,
            catalog,
        }
    }

    /// Every provider of every stage, configured or not.
    pub fn catalog(&self) -> &[ProviderInfo] {
        &self.catalog
    }

    pub fn info(&self, stage: Stage, name: &str) -> Option<&ProviderInfo> {
        self.catalog
            .iter()
            .find(|i| i.kind == stage && i.name == name)
    }

    /// A configured provider by name (`None` when unknown or without a key).
    pub fn stt(&self, name: &str) -> Option<Arc<dyn SttProvider>> {
        self.stt.get(name).cloned()
    }

    pub fn llm(&self, name: &str) -> Option<Arc<dyn LlmProvider>> {
        self.llm.get(name).cloned()
    }

    pub fn tts(&self, name: &str) -> Option<Arc<dyn TtsProvider>> {
        self.tts.get(name).cloned()
    }

    /// The configured providers of `choice` in order (primary, then fallbacks, skipping
    /// unconfigured ones); when none is usable, the local engine.
    fn chain<P: ?Sized>(
        &self,
        choice: &Choice<'_>,
        get: impl Fn(&str) -> Option<Arc<P>>,
        local: &str,
    ) -> Vec<Link<P>> {
        let mut links = Vec::new();
        let mut seen = Vec::new();
        let names =
            std::iter::once(choice.provider).chain(choice.fallbacks.iter().map(String::as_str));
        for (i, name) in names.enumerate() {
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            if let Some(p) = get(name) {
                links.push(Link {
                    provider: p,
                    model: if i == 0 {
                        choice.model.map(String::from)
                    } else {
                        None
                    },
                    voice: if i == 0 {
                        choice.voice.map(String::from)
                    } else {
                        None
                    },
                });
            }
        }
        if links.is_empty()
            && let Some(p) = get(local)
        {
            links.push(Link {
                provider: p,
                model: None,
                voice: None,
            });
        }
        links
    }

    pub fn llm_chain(&self, choice: &Choice<'_>) -> Arc<dyn LlmProvider> {
        Arc::new(LlmChain(self.chain(choice, |n| self.llm(n), LOCAL_LLM)))
    }

    pub fn stt_chain(&self, choice: &Choice<'_>) -> Arc<dyn SttProvider> {
        Arc::new(SttChain(self.chain(choice, |n| self.stt(n), LOCAL_STT)))
    }

    pub fn tts_chain(&self, choice: &Choice<'_>) -> Arc<dyn TtsProvider> {
        Arc::new(TtsChain(self.chain(choice, |n| self.tts(n), LOCAL_TTS)))
    }
}
