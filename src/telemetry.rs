//! Tracing subscriber: human-readable in development, JSON lines in production.

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::{Environment, LogSettings};

/// Install the global subscriber. `RUST_LOG` wins over `log.level` when set.
pub fn init(env: Environment, log: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let json = match log.format.as_str() {
        "json" => true,
        "pretty" => false,
        _ => env == Environment::Production,
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()
    } else {
        registry.with(fmt::layer().compact()).try_init()
    };
    // A second init (tests) is harmless.
    let _ = result;
}
