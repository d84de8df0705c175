//! The `schedule` group: plan a day and read a day's plan, through the same service as
//! `POST /schedule/plan` and `GET /schedule`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ToolEnv, ToolError, parse, spec, to_value, unknown};
use crate::{
    error::ApiError,
    providers::llm::ToolSpec,
    schedule::{
        model::{PlanDay, parse_date},
        service,
    },
};

pub const TOOLS: &[&str] = &["plan_day", "get_schedule"];

pub fn specs() -> Vec<ToolSpec> {
    vec![
        spec(
            "plan_day",
            "Plan the user's day: place their open tasks into free time (due first, then by priority) \
             and return the blocks and the tasks that did not fit, with reasons. Planning again keeps \
             locked blocks.",
            json!({"type": "object", "properties": {
                "date": {"type": "string", "description": "YYYY-MM-DD (default: today)"},
                "work_start": {"type": "string", "description": "HH:MM local time"},
                "cutoff": {"type": "string", "description": "HH:MM local time"},
                "buffer_minutes": {"type": "integer", "minimum": 0, "maximum": 240},
                "replace": {"type": "boolean"}},
                "additionalProperties": false}),
        ),
        spec(
            "get_schedule",
            "Read the user's plan of a day (blocks with start and end times); use it to say what is next.",
            json!({"type": "object", "properties": {
                "date": {"type": "string", "description": "YYYY-MM-DD (default: today)"}},
                "additionalProperties": false}),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetSchedule {
    #[serde(default)]
    date: Option<String>,
}

/// Today in the user's time zone.
async fn today(env: &ToolEnv<'_>) -> Result<String, ToolError> {
    let user = crate::users::repo::find(env.db(), env.user())
        .await
        .map_err(ApiError::from)?
        .ok_or(ApiError::NotFound)?;
    let tz: chrono_tz::Tz = user.timezone.parse().unwrap_or(chrono_tz::UTC);
    Ok(chrono::Utc::now()
        .with_timezone(&tz)
        .date_naive()
        .to_string())
}

pub async fn run(env: &ToolEnv<'_>, name: &str, mut args: Value) -> Result<Value, ToolError> {
    match name {
        "plan_day" => {
            if let Some(obj) = args.as_object_mut()
                && !obj.contains_key("date")
            {
                obj.insert("date".into(), Value::String(today(env).await?));
            }
            let input: PlanDay = parse(&args)?;
            let (plan, _) = service::plan_day(env.state, env.user(), input).await?;
            to_value(&plan)
        }
        "get_schedule" => {
            let input: GetSchedule = parse(&args)?;
            let date = match input.date {
                Some(d) => d,
                None => today(env).await?,
            };
            let date = parse_date(&date)
                .ok_or_else(|| ApiError::validation("date", "must be a date (YYYY-MM-DD)"))?;
            to_value(&service::get_plan(env.db(), env.user(), date).await?)
        }
        other => Err(unknown(other)),
    }
}
