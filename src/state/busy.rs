//! Busy time from outside the day planner (a linked Google Calendar, later others): the
//! trait a source implements and the registry in [`AppState`]; the planner (`schedule::busy`)
//! asks them.
//!
//! A source implements [`BusySource`] and is registered once at start-up with
//! `state.busy.register(Arc::new(MySource))`. When a day is planned, every registered source
//! is asked for the day's window; its intervals are stored as `busy` blocks with
//! `source: calendar` (not locked: planning again asks the source again) and tasks are placed
//! around them.
//!
//! **A failing source never fails the plan**: its error (or a timeout after
//! [`SOURCE_TIMEOUT`]) is logged and reported in the answer's `warnings`
//! (`[{"source": <name>, "error": <message>}]`), and the day is planned without it. A source
//! with nothing to say for this user (e.g. no calendar linked) returns `Ok(vec![])`.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::AppState;

/// How long one source may take before the plan goes on without it.
pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(10);

/// One busy stretch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyInterval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// What to show on the block ("Busy" when empty).
    pub title: String,
}

#[async_trait]
pub trait BusySource: Send + Sync {
    /// A short name for warnings and logs (`google_calendar`); the type name by default.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// The user's busy time overlapping `[from, to)`.
    async fn busy(
        &self,
        state: &AppState,
        user_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<BusyInterval>>;
}

/// The registered sources (shared by every clone of the state).
#[derive(Clone, Default)]
pub struct BusySources {
    inner: Arc<RwLock<Vec<Arc<dyn BusySource>>>>,
}

impl BusySources {
    pub fn register(&self, source: Arc<dyn BusySource>) {
        self.inner.write().expect("busy sources lock").push(source);
    }

    pub fn all(&self) -> Vec<Arc<dyn BusySource>> {
        self.inner.read().expect("busy sources lock").clone()
    }
}
