//! Periodic housekeeping that any instance may run (every job is safe to run on several
//! instances at once: each is a single idempotent statement).

use std::time::Duration;

use crate::state::AppState;

pub fn spawn(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            if let Err(e) = crate::accounts::service::purge_expired(&state.db).await {
                tracing::debug!(error = %e, "auth housekeeping skipped");
            }
            let hours = state.settings.events.retention_hours.max(1);
            if let Err(e) = crate::events::repo::purge_older_than(&state.db, hours).await {
                tracing::debug!(error = %e, "event retention sweep skipped");
            }
            let keep = state.settings.jobs.retention_hours.max(1);
            if let Err(e) = crate::jobs::repo::purge_finished(&state.db, keep).await {
                tracing::debug!(error = %e, "job retention sweep skipped");
            }
            if let Err(e) = crate::wallet::sweep(&state.db).await {
                tracing::debug!(error = %e, "wallet housekeeping skipped");
            }
        }
    });
}
