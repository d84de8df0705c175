//! The day planner (`/api/v1/schedule`): one stored plan per user and day, made of blocks.
//!
//! Planning is deterministic and explainable ([`place`]): the user's open tasks, due on or
//! before the day first, then by priority, then oldest first, are placed one by one into
//! the earliest free time between `work_start` and `cutoff` (local time in the user's time
//! zone; for today, from now on), around the day's kept blocks (locked ones, or all of them
//! with `replace: false`) and busy time from the registered [`busy::BusySource`]s, with
//! `buffer_minutes` clear between blocks and `estimate_minutes` (default 30) as length. What
//! does not fit is returned in `unscheduled` with a code and a sentence: `too_long` (longer
//! than any free gap), `day_full` (no time left before the cutoff once earlier tasks were
//! placed), `past_cutoff`. Settings default to the user preference `schedule`
//! (`{"work_start": "09:00", "cutoff": "18:00", "buffer_minutes": 10}`).
//!
//! A task block gets a `notification.raise` job at its start (key
//! `block:<id>:<start rfc3339>`) unless the task has its own `remind_at`; moving a block
//! re-arms it, deleting or replanning cancels it, and so does (by triggers, see the
//! migration) deleting, completing or cancelling the task or giving it its own `remind_at`.
//! Events: `schedule.created`,
//! `schedule.updated` (the plan), `schedule_block.updated`, `schedule_block.deleted`.

pub mod busy;
pub mod model;
pub mod place;
pub mod repo;
pub mod routes;
pub mod service;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::get_schedule))
        .routes(routes!(routes::plan_day))
        .routes(routes!(routes::update_block, routes::delete_block))
}
