//! Prices and the one function that turns usage into credits. Chat and voice call
//! [`cost`]; `GET /api/v1/pricing` publishes the table. Small enough to keep the model, the
//! rule and the handler in one file.
//!
//! Rounding rule: every line is computed exactly in integer millicredits (1/1000 credit):
//! STT `ms × per_second`, LLM `tokens × per_1k`, TTS `characters × per_1k`, platform
//! `ms × per_minute / 60` (rounded up to the next millicredit). Durations are counted in
//! whole milliseconds, rounded up. The bill (`total_credits`) is the sum of the lines
//! rounded up to the next whole credit, so any non-zero usage with a non-zero price costs
//! at least one credit and zero usage costs nothing.

use std::collections::BTreeMap;

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    config::{LlmModelPrice, PricingSettings},
    state::AppState,
};

/// What a piece of work used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    /// Audio seconds sent to speech-to-text.
    pub stt_seconds: f64,
    /// Tokens per LLM model.
    pub llm: Vec<LlmUsage>,
    /// Characters sent to text-to-speech.
    pub tts_characters: u64,
    /// Call duration, billed per minute as platform time (0 for chat).
    pub call_seconds: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LlmUsage {
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl LlmUsage {
    pub fn new(model: impl Into<String>, input_tokens: u64, output_tokens: u64) -> Self {
        Self {
            model: model.into(),
            input_tokens,
            output_tokens,
        }
    }
}

/// The bill for a [`Usage`], line by line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CostBreakdown {
    pub stt_millicredits: i64,
    pub llm: Vec<LlmCost>,
    pub llm_millicredits: i64,
    pub tts_millicredits: i64,
    pub platform_millicredits: i64,
    pub total_millicredits: i64,
    /// What is charged: `total_millicredits / 1000`, rounded up.
    pub total_credits: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LlmCost {
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub input_per_1k: i64,
    pub output_per_1k: i64,
    pub millicredits: i64,
}

/// The price of one LLM model (the defaults when it is not listed).
pub fn llm_price(prices: &PricingSettings, model: &str) -> LlmModelPrice {
    prices.llm_price(model)
}

fn millis(seconds: f64) -> u128 {
    if seconds.is_finite() && seconds > 0.0 {
        (seconds * 1000.0).ceil() as u128
    } else {
        0
    }
}

fn price(p: i64) -> u128 {
    p.max(0) as u128
}

fn clamp(v: u128) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// What `usage` costs at `prices` (see the module docs for the rounding rule).
pub fn cost(prices: &PricingSettings, usage: &Usage) -> CostBreakdown {
    let stt = millis(usage.stt_seconds) * price(prices.stt_per_second);
    let mut llm_total: u128 = 0;
    let llm = usage
        .llm
        .iter()
        .map(|u| {
            let p = llm_price(prices, &u.model);
            let mc = u.input_tokens as u128 * price(p.input_per_1k)
                + u.output_tokens as u128 * price(p.output_per_1k);
            llm_total += mc;
            LlmCost {
                model: u.model.clone(),
                input_tokens: u.input_tokens,
                output_tokens: u.output_tokens,
                input_per_1k: p.input_per_1k,
                output_per_1k: p.output_per_1k,
                millicredits: clamp(mc),
            }
        })
        .collect();
    let tts = usage.tts_characters as u128 * price(prices.tts_per_1k_chars);
    let platform = (millis(usage.call_seconds) * price(prices.platform_per_minute)).div_ceil(60);
    let total = stt + llm_total + tts + platform;
    CostBreakdown {
        stt_millicredits: clamp(stt),
        llm,
        llm_millicredits: clamp(llm_total),
        tts_millicredits: clamp(tts),
        platform_millicredits: clamp(platform),
        total_millicredits: clamp(total),
        total_credits: clamp(total.div_ceil(1000)),
    }
}

/// One billable unit and its price.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnitPrice {
    /// `stt_second`, `llm_input_1k_tokens`, `llm_output_1k_tokens`, `tts_1k_characters`,
    /// `call_minute`, `avatar_minute`.
    pub unit: &'static str,
    /// The LLM model this price is for (`null`: every model not listed).
    pub model: Option<String>,
    pub credits: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LlmPrice {
    pub input_per_1k: i64,
    pub output_per_1k: i64,
}

/// `GET /pricing`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PriceTable {
    pub stt_per_second: i64,
    pub tts_per_1k_chars: i64,
    pub platform_per_minute: i64,
    /// Per started minute of a streaming avatar (settled with its call).
    pub avatar_per_minute: i64,
    pub llm_default: LlmPrice,
    pub llm_models: BTreeMap<String, LlmPrice>,
    /// The same prices as a flat list.
    pub units: Vec<UnitPrice>,
    /// How a bill is rounded.
    pub rounding: &'static str,
    /// Credits a new account starts with.
    pub signup_credits: i64,
    /// Credits bought per minor unit of `currency` (e.g. per cent).
    pub credits_per_currency_unit: i64,
    pub currency: String,
}

pub const ROUNDING_RULE: &str = "Each line is summed exactly in millicredits (durations in whole \
     milliseconds rounded up; platform time rounded up to the next millicredit); the total is \
     rounded up to the next whole credit.";

pub fn price_table(state: &AppState) -> PriceTable {
    let p = &state.settings.pricing;
    let mut units = vec![
        UnitPrice {
            unit: "stt_second",
            model: None,
            credits: p.stt_per_second,
        },
        UnitPrice {
            unit: "llm_input_1k_tokens",
            model: None,
            credits: p.llm_default_input_per_1k,
        },
        UnitPrice {
            unit: "llm_output_1k_tokens",
            model: None,
            credits: p.llm_default_output_per_1k,
        },
    ];
    for (model, price) in &p.llm_models {
        units.push(UnitPrice {
            unit: "llm_input_1k_tokens",
            model: Some(model.clone()),
            credits: price.input_per_1k,
        });
        units.push(UnitPrice {
            unit: "llm_output_1k_tokens",
            model: Some(model.clone()),
            credits: price.output_per_1k,
        });
    }
    units.push(UnitPrice {
        unit: "tts_1k_characters",
        model: None,
        credits: p.tts_per_1k_chars,
    });
    units.push(UnitPrice {
        unit: "call_minute",
        model: None,
        credits: p.platform_per_minute,
    });
    units.push(UnitPrice {
        unit: "avatar_minute",
        model: None,
        credits: p.avatar_per_minute,
    });
    PriceTable {
        stt_per_second: p.stt_per_second,
        tts_per_1k_chars: p.tts_per_1k_chars,
        platform_per_minute: p.platform_per_minute,
        avatar_per_minute: p.avatar_per_minute,
        llm_default: LlmPrice {
            input_per_1k: p.llm_default_input_per_1k,
            output_per_1k: p.llm_default_output_per_1k,
        },
        llm_models: p
            .llm_models
            .iter()
            .map(|(m, v)| {
                (
                    m.clone(),
                    LlmPrice {
                        input_per_1k: v.input_per_1k,
                        output_per_1k: v.output_per_1k,
                    },
                )
            })
            .collect(),
        units,
        rounding: ROUNDING_RULE,
        signup_credits: state.settings.billing.signup_credits,
        credits_per_currency_unit: state.settings.payments.credits_per_unit,
        currency: state.settings.payments.currency.clone(),
    }
}

/// Every billable unit and its price in credits (public).
#[utoipa::path(get, path = "/", tag = "wallet",
    responses((status = 200, body = PriceTable)))]
pub async fn get_pricing(State(state): State<AppState>) -> Json<PriceTable> {
    Json(price_table(&state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices() -> PricingSettings {
        PricingSettings {
            stt_per_second: 1,
            tts_per_1k_chars: 30,
            platform_per_minute: 5,
            llm_default_input_per_1k: 2,
            llm_default_output_per_1k: 6,
            llm_models: [(
                "big".to_string(),
                LlmModelPrice {
                    input_per_1k: 10,
                    output_per_1k: 30,
                },
            )]
            .into_iter()
            .collect(),
            avatar_per_minute: 10,
        }
    }

    #[test]
    fn model_prices_parse_from_toml_including_dotted_names() {
        let toml = r#"
            stt_per_second = 1
            tts_per_1k_chars = 30
            platform_per_minute = 5
            llm_default_input_per_1k = 2
            llm_default_output_per_1k = 6
            [llm_models]
            "gpt-4.1" = { input_per_1k = 8, output_per_1k = 32 }
            [llm_models."Claude-Sonnet"]
            input_per_1k = 9
            output_per_1k = 45
        "#;
        let p: PricingSettings = config::Config::builder()
            .add_source(config::File::from_str(toml, config::FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        assert_eq!(llm_price(&p, "gpt-4.1").output_per_1k, 32);
        assert_eq!(llm_price(&p, "Claude-Sonnet").input_per_1k, 9);
        assert_eq!(llm_price(&p, "other").input_per_1k, 2);
    }

    #[test]
    fn zero_usage_is_free() {
        assert_eq!(cost(&prices(), &Usage::default()).total_credits, 0);
    }

    #[test]
    fn tiny_usage_rounds_up_to_one_credit() {
        let u = Usage {
            llm: vec![LlmUsage::new("any", 1, 0)],
            ..Default::default()
        };
        let c = cost(&prices(), &u);
        assert_eq!(c.llm_millicredits, 2);
        assert_eq!(c.total_credits, 1);
    }

    #[test]
    fn lines_are_exact_and_total_rounds_once() {
        let u = Usage {
            stt_seconds: 12.3456, // 12346 ms → 12346 mc
            llm: vec![
                LlmUsage::new("big", 1500, 200),  // 15000 + 6000
                LlmUsage::new("other", 500, 100), // 1000 + 600
            ],
            tts_characters: 250,  // 7500
            call_seconds: 61.001, // 61001 ms × 5 / 60 = 5083.41.. → 5084
        };
        let c = cost(&prices(), &u);
        assert_eq!(c.stt_millicredits, 12346);
        assert_eq!(c.llm[0].millicredits, 21000);
        assert_eq!(c.llm[1].millicredits, 1600);
        assert_eq!(c.llm_millicredits, 22600);
        assert_eq!(c.tts_millicredits, 7500);
        assert_eq!(c.platform_millicredits, 5084);
        assert_eq!(c.total_millicredits, 12346 + 22600 + 7500 + 5084);
        assert_eq!(c.total_credits, 48); // 47530 mc → 48
    }

    #[test]
    fn unlisted_models_use_the_default_price() {
        let p = prices();
        assert_eq!(llm_price(&p, "big").input_per_1k, 10);
        assert_eq!(llm_price(&p, "small").input_per_1k, 2);
        assert_eq!(llm_price(&p, "small").output_per_1k, 6);
    }

    #[test]
    fn nonsense_durations_cost_nothing() {
        let u = Usage {
            stt_seconds: f64::NAN,
            call_seconds: -5.0,
            ..Default::default()
        };
        assert_eq!(cost(&prices(), &u).total_credits, 0);
    }

    #[test]
    fn huge_usage_saturates_instead_of_overflowing() {
        let u = Usage {
            tts_characters: u64::MAX,
            ..Default::default()
        };
        let c = cost(&prices(), &u);
        assert!(c.total_credits > 0);
    }
}
