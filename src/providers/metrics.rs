//! Per-provider Prometheus series: `provider_requests_total`, `provider_errors_total` (by
//! error kind), `provider_first_byte_seconds` (histogram: request sent → first byte/event; for
//! STT, the stream being open) and `provider_fallbacks_total`.

use std::time::Duration;

use super::{ProviderError, Stage};

pub fn request(stage: Stage, provider: &str) {
    metrics::counter!("provider_requests_total", "stage" => stage.as_str(), "provider" => provider.to_owned())
        .increment(1);
}

pub fn error(stage: Stage, provider: &str, e: &ProviderError) {
    metrics::counter!("provider_errors_total", "stage" => stage.as_str(),
        "provider" => provider.to_owned(), "kind" => e.kind().as_str())
    .increment(1);
}

pub fn first_byte(stage: Stage, provider: &str, elapsed: Duration) {
    metrics::histogram!("provider_first_byte_seconds", "stage" => stage.as_str(), "provider" => provider.to_owned())
        .record(elapsed.as_secs_f64());
}

/// A failure before the first byte moved the call from `from` to the next provider.
pub fn fallback(stage: Stage, from: &str) {
    metrics::counter!("provider_fallbacks_total", "stage" => stage.as_str(), "from" => from.to_owned())
        .increment(1);
}
