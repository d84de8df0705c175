//! Settings: `config/default.toml` → `config/<CADENCE_ENV>.toml` → `CADENCE__SECTION__KEY`
//! environment variables, plus the conventional `DATABASE_URL` and `PORT`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Test,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Production => "production",
        }
    }
}

impl std::str::FromStr for Environment {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "development" | "dev" | "local" => Ok(Self::Development),
            "test" => Ok(Self::Test),
            "production" | "prod" => Ok(Self::Production),
            other => bail!("CADENCE_ENV={other:?} is not one of development, test, production"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(skip, default = "default_env")]
    pub env: Environment,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub auth: AuthSettings,
    pub events: EventsSettings,
    pub billing: BillingSettings,
    pub pricing: PricingSettings,
    pub payments: PaymentSettings,
    pub providers: ProvidersSettings,
    pub telephony: TelephonySettings,
    pub jobs: JobsSettings,
    #[serde(default)]
    pub notifications: NotificationsSettings,
    pub avatar: AvatarSettings,
    #[serde(default)]
    pub memory: MemorySettings,
}

fn default_env() -> Environment {
    Environment::Development
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub public_url: String,
    pub cors_origins: String,
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    pub trusted_proxies: String,
}

impl ServerSettings {
    /// Allowed origins; `["*"]` means any.
    pub fn cors_origins(&self) -> Vec<String> {
        split_list(&self.cors_origins)
    }

    pub fn trusted_proxies(&self) -> Vec<std::net::IpAddr> {
        split_list(&self.trusted_proxies)
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    /// Is this `Origin` header value allowed by the CORS settings?
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.cors_origins()
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout_secs: u64,
    pub statement_timeout_secs: u64,
    pub migrate_on_start: bool,
    pub startup_wait_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: String,
    pub level: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub jwt_secret: SecretString,
    pub jwt_kid: String,
    pub jwt_previous_keys: SecretString,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: i64,
    pub refresh_ttl_days: i64,
    pub refresh_grace_secs: i64,
    pub ws_ticket_ttl_secs: i64,
    pub session_cache_ttl_ms: u64,
    pub login_rate_per_ip: u32,
    pub login_rate_per_account: u32,
    pub register_rate_per_ip: u32,
    pub refresh_rate_per_ip: u32,
    pub rate_window_secs: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventsSettings {
    pub retention_hours: i64,
    pub buffer: usize,
    pub send_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct JobsSettings {
    /// Jobs one instance runs at once (0: this instance runs no jobs).
    pub concurrency: usize,
    /// Seconds a claimed job stays claimed without a renewal (a dead instance's jobs run
    /// again after this).
    pub lease_secs: f64,
    /// Longest wait between looks at the queue.
    pub sweep_secs: f64,
    /// Finished and failed jobs are kept this long (their keys cannot be queued again).
    pub retention_hours: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BillingSettings {
    pub signup_credits: i64,
    pub call_min_credits: i64,
    pub hold_ttl_secs: i64,
    /// How often a running call re-prices itself and extends its hold.
    #[serde(default = "default_call_check_secs")]
    pub call_check_secs: u64,
}

fn default_call_check_secs() -> u64 {
    5
}

#[derive(Debug, Clone, Deserialize)]
pub struct PricingSettings {
    pub stt_per_second: i64,
    pub tts_per_1k_chars: i64,
    pub platform_per_minute: i64,
    pub llm_default_input_per_1k: i64,
    pub llm_default_output_per_1k: i64,
    /// Per-model LLM prices keyed by model name; models not listed use the defaults.
    #[serde(default)]
    pub llm_models: std::collections::BTreeMap<String, LlmModelPrice>,
    /// Credits per started avatar minute (settled with the call the avatar spoke in).
    #[serde(default = "default_avatar_per_minute")]
    pub avatar_per_minute: i64,
}

fn default_avatar_per_minute() -> i64 {
    10
}

/// Streaming avatar sessions (LiveAvatar LITE) and their monthly quota.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AvatarSettings {
    pub liveavatar: LiveAvatarSettings,
    /// Avatar minutes each user may use per calendar month (UTC).
    pub minutes_per_month: i64,
    /// The avatar used when a session does not name one.
    pub default_avatar_id: String,
    /// Length of a counted minute in seconds (60; tests shorten it).
    pub minute_secs: u64,
    /// How often a running avatar session checks its quota and reserves the next minute.
    pub check_secs: u64,
}

impl Default for AvatarSettings {
    fn default() -> Self {
        Self {
            liveavatar: LiveAvatarSettings::default(),
            minutes_per_month: 30,
            default_avatar_id: String::new(),
            minute_secs: 60,
            check_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LiveAvatarSettings {
    pub api_key: SecretString,
    pub base_url: String,
}

impl Default for LiveAvatarSettings {
    fn default() -> Self {
        Self {
            api_key: SecretString::from(String::new()),
            base_url: "https://api.liveavatar.com".into(),
        }
    }
}

impl PricingSettings {
    /// The price of one LLM model: its `[pricing.llm_models]` entry, else the defaults.
    pub fn llm_price(&self, model: &str) -> LlmModelPrice {
        self.llm_models
            .get(model)
            .copied()
            .unwrap_or(LlmModelPrice {
                input_per_1k: self.llm_default_input_per_1k,
                output_per_1k: self.llm_default_output_per_1k,
            })
    }
}

/// Credits per 1,000 tokens of one LLM model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct LlmModelPrice {
    pub input_per_1k: i64,
    pub output_per_1k: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentSettings {
    pub provider: String,
    pub webhook_secret: SecretString,
    pub stripe_api_key: SecretString,
    pub stripe_base_url: String,
    pub credits_per_unit: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VendorSettings {
    pub api_key: SecretString,
    pub base_url: String,
    /// Comma-separated models offered in the catalog instead of the built-in list (e.g. for
    /// an Ollama or vLLM server behind `openai`; for `openai` this is the LLM list).
    #[serde(default)]
    pub models: String,
    /// Comma-separated voices offered instead of the built-in list (TTS vendors).
    #[serde(default)]
    pub voices: String,
}

impl VendorSettings {
    pub fn configured(&self) -> bool {
        !self.api_key.expose_secret().is_empty()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProvidersSettings {
    pub openai: VendorSettings,
    pub anthropic: VendorSettings,
    pub deepgram: VendorSettings,
    pub elevenlabs: VendorSettings,
    #[serde(default)]
    pub timeouts: ProviderTimeoutSettings,
    #[serde(default)]
    pub local: LocalEngineSettings,
}

/// Per-call provider timeouts.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ProviderTimeoutSettings {
    pub connect_ms: u64,
    pub first_byte_ms: u64,
    pub idle_ms: u64,
}

impl Default for ProviderTimeoutSettings {
    fn default() -> Self {
        Self {
            connect_ms: 5000,
            first_byte_ms: 15000,
            idle_ms: 20000,
        }
    }
}

/// Where Debian's `pocketsphinx-en-us` puts the US English language model.
pub const STOCK_POCKETSPHINX_LM: &str = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin";

/// The local engines (no key, no network).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LocalEngineSettings {
    pub pocketsphinx_bin: String,
    /// Extra arguments, e.g. `-hmm DIR -lm FILE -dict FILE` for another model.
    pub pocketsphinx_args: String,
    /// The stock PocketSphinx language model (Sphinx binary trie) the commands model is
    /// built from; empty: recognize with the stock model as it is.
    pub pocketsphinx_commands_lm_from: String,
    pub espeak_bin: String,
}

impl Default for LocalEngineSettings {
    fn default() -> Self {
        Self {
            pocketsphinx_bin: "pocketsphinx_continuous".into(),
            pocketsphinx_args: String::new(),
            pocketsphinx_commands_lm_from: STOCK_POCKETSPHINX_LM.into(),
            espeak_bin: "espeak-ng".into(),
        }
    }
}

/// Notifications: Web Push (RFC 8292 VAPID) and escalation timing.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NotificationsSettings {
    /// base64url of the 32-byte P-256 private key; empty: one is generated once and kept in
    /// the database (fine for development; production should set its own).
    pub vapid_private_key: Option<SecretString>,
    /// Contact for push services (`mailto:` or `https:`), the VAPID `sub` claim.
    pub vapid_subject: String,
    /// How long a push service keeps an undelivered message.
    pub push_ttl_secs: u64,
    pub push_timeout_secs: f64,
    /// Seconds in one escalation/snooze minute: 60, except in tests that need short delays.
    pub minute_secs: f64,
}

impl Default for NotificationsSettings {
    fn default() -> Self {
        Self {
            vapid_private_key: None,
            vapid_subject: "mailto:admin@localhost".into(),
            push_ttl_secs: 86400,
            push_timeout_secs: 10.0,
            minute_secs: 60.0,
        }
    }
}

/// Memory that learns (extraction from conversations) and retrieval (embeddings).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct MemorySettings {
    /// Read finished chat replies and calls for lasting facts in the background (each user
    /// can still turn it off with the preference `memory.auto_extract`).
    pub extraction: bool,
    /// The embeddings provider (`openai`: any OpenAI-compatible `/v1/embeddings`, with the
    /// `providers.openai` key and URL); empty: retrieval is full-text only.
    pub embeddings_provider: String,
    pub embeddings_model: String,
    /// Dimensions asked of the model (recorded with every vector).
    pub embeddings_dims: u32,
}

impl Default for MemorySettings {
    fn default() -> Self {
        Self {
            extraction: true,
            embeddings_provider: "openai".into(),
            embeddings_model: "text-embedding-3-small".into(),
            embeddings_dims: 256,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct TelephonySettings {
    pub twilio: TwilioSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: SecretString,
    pub base_url: String,
    pub from_number: String,
    /// Sender of SMS and WhatsApp messages (`+1…` or `whatsapp:+1…`); empty = messaging off.
    #[serde(default)]
    pub messaging_from: String,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Where `config/` lives: `CADENCE_CONFIG_DIR`, else `./config`, else next to the crate sources.
fn config_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CADENCE_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    let local = Path::new("config");
    if local.join("default.toml").exists() {
        return local.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

impl Settings {
    /// Load settings for the environment named by `CADENCE_ENV` (default `development`),
    /// reading `CADENCE__*`, `DATABASE_URL` and `PORT` from the process environment.
    pub fn load() -> anyhow::Result<Self> {
        let env: Environment = std::env::var("CADENCE_ENV")
            .unwrap_or_else(|_| "development".into())
            .parse()?;
        let mut overrides = Vec::new();
        if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty()) {
            overrides.push(("database.url".to_string(), url));
        }
        if let Some(port) = std::env::var("PORT").ok().filter(|v| !v.is_empty()) {
            port.parse::<u16>()
                .with_context(|| format!("invalid setting PORT={port:?}: not a port number"))?;
            overrides.push(("server.port".to_string(), port));
        }
        Self::build(env, None, overrides)
    }

    /// Load from the files plus explicit `("CADENCE__SECTION__KEY", value)` pairs that win over
    /// them, ignoring the process environment (tests use this).
    pub fn load_with_overrides(env: Environment, vars: &[(&str, &str)]) -> anyhow::Result<Self> {
        let map = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::build(env, Some(map), Vec::new())
    }

    fn build(
        env: Environment,
        vars: Option<config::Map<String, String>>,
        overrides: Vec<(String, String)>,
    ) -> anyhow::Result<Self> {
        let dir = config_dir();
        let env_source = config::Environment::with_prefix("CADENCE")
            .prefix_separator("__")
            .separator("__")
            .source(vars);
        let mut builder = config::Config::builder()
            .add_source(config::File::from(dir.join("default.toml")).required(true))
            .add_source(
                config::File::from(dir.join(format!("{}.toml", env.as_str()))).required(false),
            )
            .add_source(env_source);
        for (k, v) in overrides {
            builder = builder.set_override(k, v)?;
        }
        let raw = builder
            .build()
            .with_context(|| format!("reading settings from {}", dir.display()))?;
        let mut settings: Settings = raw.try_deserialize().map_err(|e| {
            anyhow::anyhow!(
                "invalid setting: {e} (set it in config/*.toml or as CADENCE__SECTION__KEY)"
            )
        })?;
        settings.env = env;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&mut self) -> anyhow::Result<()> {
        if self.auth.jwt_secret.expose_secret().is_empty() {
            if self.env == Environment::Production {
                bail!(
                    "missing setting auth.jwt_secret: production refuses to start without CADENCE__AUTH__JWT_SECRET"
                );
            }
            // Development: a random key per process (tokens do not survive a restart).
            let bytes: [u8; 32] = rand::random();
            self.auth.jwt_secret = SecretString::from(hex::encode(bytes));
        } else if self.auth.jwt_secret.expose_secret().len() < 32 {
            bail!("invalid setting auth.jwt_secret: must be at least 32 bytes");
        }
        if self.database.url.expose_secret().is_empty() {
            bail!("missing setting database.url: set DATABASE_URL or CADENCE__DATABASE__URL");
        }
        if !matches!(self.payments.provider.as_str(), "test" | "stripe") {
            bail!(
                "invalid setting payments.provider={:?}: expected \"test\" or \"stripe\"",
                self.payments.provider
            );
        }
        let p = &self.pricing;
        let prices = [
            p.stt_per_second,
            p.tts_per_1k_chars,
            p.platform_per_minute,
            p.llm_default_input_per_1k,
            p.llm_default_output_per_1k,
            p.avatar_per_minute,
        ];
        if prices.iter().any(|v| *v < 0)
            || p.llm_models
                .values()
                .any(|m| m.input_per_1k < 0 || m.output_per_1k < 0)
        {
            bail!("invalid setting pricing: prices must not be negative");
        }
        if self.billing.signup_credits < 0 || self.payments.credits_per_unit < 1 {
            bail!(
                "invalid setting: billing.signup_credits must be >= 0 and payments.credits_per_unit >= 1"
            );
        }
        if self.server.body_limit_bytes == 0 {
            bail!("invalid setting server.body_limit_bytes: must be > 0");
        }
        Ok(())
    }

    /// Public base URL, e.g. `http://localhost:8080`.
    pub fn public_url(&self) -> String {
        if !self.server.public_url.is_empty() {
            return self.server.public_url.trim_end_matches('/').to_string();
        }
        let host = if self.server.host == "0.0.0.0" {
            "localhost"
        } else {
            &self.server.host
        };
        format!("http://{host}:{}", self.server.port)
    }
}
