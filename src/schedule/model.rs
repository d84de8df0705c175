use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::{ApiError, FieldError},
    http::{Validate, Validator},
    text_enum,
};

text_enum! {
    /// What a block holds: a task placed in free time, busy time, or a break.
    pub enum BlockKind {
        Task = "task",
        Busy = "busy",
        Break = "break",
    }
}

text_enum! {
    /// Who made a block: the planner, a calendar (a busy source), or the user.
    pub enum BlockSource {
        Plan = "plan",
        Calendar = "calendar",
        User = "user",
    }
}

/// A stretch of the day.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Block {
    pub id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub kind: BlockKind,
    /// The task of a `task` block.
    pub task_id: Option<Uuid>,
    pub title: String,
    /// A locked block stays where it is when the day is planned again.
    pub locked: bool,
    pub source: BlockSource,
}

pub struct BlockRow {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub kind: String,
    pub task_id: Option<Uuid>,
    pub title: String,
    pub locked: bool,
    pub source: String,
}

impl TryFrom<BlockRow> for Block {
    type Error = ApiError;
    fn try_from(r: BlockRow) -> Result<Self, ApiError> {
        Ok(Block {
            id: r.id,
            start: r.starts_at,
            end: r.ends_at,
            kind: BlockKind::from_db(&r.kind)?,
            task_id: r.task_id,
            title: r.title,
            locked: r.locked,
            source: BlockSource::from_db(&r.source)?,
        })
    }
}

text_enum! {
    /// Why a task was left out: longer than any free gap of the day, no free time left
    /// before the cutoff once earlier tasks were placed, or the day's cutoff has passed.
    pub enum UnscheduledCode {
        TooLong = "too_long",
        DayFull = "day_full",
        PastCutoff = "past_cutoff",
    }
}

/// A task that did not fit, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Unscheduled {
    pub task_id: Uuid,
    pub title: String,
    pub code: UnscheduledCode,
    /// A sentence that explains it ("needs 90 min; the longest free gap is 45 min").
    pub reason: String,
}

/// A busy-time source that failed while the day was planned: the plan was made without it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct SourceWarning {
    pub source: String,
    pub error: String,
}

/// A day's plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DayPlan)]
pub struct Plan {
    /// `YYYY-MM-DD`, in `timezone`.
    pub date: NaiveDate,
    /// The IANA time zone the day was planned in (the user's).
    pub timezone: String,
    #[schema(value_type = String, example = "09:00")]
    pub work_start: NaiveTime,
    #[schema(value_type = String, example = "18:00")]
    pub cutoff: NaiveTime,
    pub buffer_minutes: i32,
    /// In start order.
    pub blocks: Vec<Block>,
    /// The open tasks that did not fit, in planning order.
    pub unscheduled: Vec<Unscheduled>,
    /// Busy-time sources that failed during this planning (only in the answer to
    /// `POST /schedule/plan`; a failing source never fails the plan).
    pub warnings: Vec<SourceWarning>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct PlanRow {
    pub id: Uuid,
    pub date: NaiveDate,
    pub timezone: String,
    pub work_start: NaiveTime,
    pub cutoff: NaiveTime,
    pub buffer_minutes: i32,
    pub unscheduled: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The most buffer between blocks, in minutes.
pub const MAX_BUFFER_MINUTES: i32 = 240;

/// `POST /schedule/plan`. Omitted settings come from the user preference `schedule`
/// (`{"work_start", "cutoff", "buffer_minutes"}`), then the defaults 09:00, 18:00 and 10.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanDay {
    /// `YYYY-MM-DD`.
    #[schema(example = "2026-12-03")]
    pub date: String,
    /// `HH:MM[:SS]`, the user's local time.
    #[serde(default)]
    #[schema(example = "09:00")]
    pub work_start: Option<String>,
    /// `HH:MM[:SS]`: nothing is planned to end after it.
    #[serde(default)]
    #[schema(example = "18:00")]
    pub cutoff: Option<String>,
    /// 0..=240 minutes between blocks.
    #[serde(default)]
    pub buffer_minutes: Option<i32>,
    /// `true` (default): the day's unlocked blocks are planned afresh. `false`: every
    /// existing block stays and open tasks not yet on the day are fitted around them.
    #[serde(default)]
    pub replace: Option<bool>,
    /// An IANA time zone to plan in (default: the user's profile time zone).
    #[serde(default)]
    pub timezone: Option<String>,
}

impl Validate for PlanDay {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        if parse_date(&self.date).is_none() {
            v.error("date", "must be a date (YYYY-MM-DD) from 1970 to 9999");
        }
        for (field, value) in [("work_start", &self.work_start), ("cutoff", &self.cutoff)] {
            if let Some(t) = value
                && parse_time(t).is_none()
            {
                v.error(field, "must be a time of day (HH:MM or HH:MM:SS)");
            }
        }
        if let Some(b) = self.buffer_minutes
            && !(0..=MAX_BUFFER_MINUTES).contains(&b)
        {
            v.error(
                "buffer_minutes",
                format!("must be between 0 and {MAX_BUFFER_MINUTES}"),
            );
        }
        if let Some(tz) = &self.timezone
            && tz.parse::<chrono_tz::Tz>().is_err()
        {
            v.error("timezone", "must be an IANA time zone such as Europe/Paris");
        }
        v.finish()
    }
}

/// `PATCH /schedule/blocks/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBlock {
    /// RFC 3339.
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    /// RFC 3339; after `start`, at most 24 hours later.
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    #[serde(default)]
    pub locked: Option<bool>,
}

impl Validate for UpdateBlock {}

/// Days outside these years are refused (nobody plans them; PostgreSQL's timestamps end).
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// `YYYY-MM-DD` within [`YEARS`].
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    use chrono::Datelike;
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| YEARS.contains(&d.year()))
}

/// `HH:MM` or `HH:MM:SS`.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()
}
