//! The planner asks the registered busy-time sources ([`crate::state::busy`]) for a day.
//!
//! **A failing source never fails the plan**: its error (or a timeout after
//! [`SOURCE_TIMEOUT`]) is logged and reported in the answer's `warnings`
//! (`[{"source": <name>, "error": <message>}]`), and the day is planned without it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::model::SourceWarning;
use crate::state::AppState;
pub use crate::state::busy::{BusyInterval, BusySource, BusySources, SOURCE_TIMEOUT};

/// Ask every source; intervals are clipped to the window, empty ones dropped.
pub async fn collect(
    state: &AppState,
    user_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (Vec<BusyInterval>, Vec<SourceWarning>) {
    let mut busy = Vec::new();
    let mut warnings = Vec::new();
    for source in state.busy.all() {
        let asked = tokio::time::timeout(SOURCE_TIMEOUT, source.busy(state, user_id, from, to));
        let error = match asked.await {
            Ok(Ok(intervals)) => {
                busy.extend(intervals.into_iter().filter_map(|mut i| {
                    i.start = i.start.max(from);
                    i.end = i.end.min(to);
                    (i.end > i.start).then_some(i)
                }));
                continue;
            }
            Ok(Err(e)) => format!("{e:#}"),
            Err(_) => format!("no answer within {} s", SOURCE_TIMEOUT.as_secs()),
        };
        tracing::warn!(source = source.name(), %user_id, error = %error,
            "busy-time source failed; planning without it");
        warnings.push(SourceWarning {
            source: source.name().to_string(),
            error: error.chars().take(500).collect(),
        });
    }
    busy.sort_by_key(|i| (i.start, i.end));
    (busy, warnings)
}
