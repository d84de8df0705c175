//! The user preference `notifications`: quiet hours and the escalation steps.

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::model::{Channel, NotificationPriority};
use crate::error::{ApiError, FieldError};

/// At most this many escalation steps.
pub const MAX_STEPS: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM` in the user's timezone.
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub channel: Channel,
    /// Minutes after the notification was raised (0..=1440, fractions allowed).
    #[serde(default)]
    pub after_minutes: f64,
    /// The step only runs for notifications at least this important.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_priority: Option<NotificationPriority>,
    /// The agent that places the `call` step (default: the user's default agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// `null`: no quiet hours.
    #[serde(default = "default_quiet_hours")]
    pub quiet_hours: Option<QuietHours>,
    #[serde(default = "default_steps")]
    pub steps: Vec<Step>,
}

fn default_quiet_hours() -> Option<QuietHours> {
    Some(QuietHours {
        start: "22:00".into(),
        end: "07:00".into(),
    })
}

fn default_steps() -> Vec<Step> {
    let step = |channel, after_minutes, min_priority| Step {
        channel,
        after_minutes,
        min_priority,
        agent_id: None,
    };
    vec![
        step(Channel::InApp, 0.0, None),
        step(Channel::WebPush, 0.0, None),
        step(Channel::Whatsapp, 10.0, Some(NotificationPriority::High)),
        step(Channel::Call, 20.0, Some(NotificationPriority::Urgent)),
    ]
}

impl Default for Escalation {
    fn default() -> Self {
        Self {
            quiet_hours: default_quiet_hours(),
            steps: default_steps(),
        }
    }
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
        .ok()
}

impl Escalation {
    /// The effective policy of a preferences object (defaults for what it leaves out; a
    /// stored value that no longer parses falls back to the defaults).
    pub fn of_preferences(prefs: &Value) -> Self {
        prefs
            .get("notifications")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// Whether `at` falls in the quiet hours in `tz` (a window may wrap midnight).
    pub fn is_quiet(&self, at: DateTime<Utc>, tz: chrono_tz::Tz) -> bool {
        let Some(q) = &self.quiet_hours else {
            return false;
        };
        let (Some(start), Some(end)) = (parse_time(&q.start), parse_time(&q.end)) else {
            return false;
        };
        let now = at.with_timezone(&tz).time();
        if start == end {
            false
        } else if start < end {
            start <= now && now < end
        } else {
            now >= start || now < end
        }
    }
}

/// Check `preferences.notifications` (when present) for `PUT/PATCH /users/me/preferences`:
/// 422 naming the field, e.g. `notifications.steps[1].channel`.
pub fn validate_preferences(prefs: &Value) -> Result<(), ApiError> {
    let Some(v) = prefs.get("notifications") else {
        return Ok(());
    };
    let errors = check(v);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn check(v: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err = |field: String, message: &str| {
        errors.push(FieldError {
            field,
            message: message.to_string(),
        })
    };
    let Some(obj) = v.as_object() else {
        err("notifications".into(), "must be an object");
        return errors;
    };
    for k in obj.keys() {
        if k != "quiet_hours" && k != "steps" {
            err(format!("notifications.{k}"), "is not a known field");
        }
    }
    match obj.get("quiet_hours") {
        None | Some(Value::Null) => {}
        Some(Value::Object(q)) => {
            for k in q.keys() {
                if k != "start" && k != "end" {
                    err(
                        format!("notifications.quiet_hours.{k}"),
                        "is not a known field",
                    );
                }
            }
            for k in ["start", "end"] {
                let time = q.get(k).and_then(Value::as_str).and_then(parse_time);
                if time.is_none() {
                    err(
                        format!("notifications.quiet_hours.{k}"),
                        "must be a time of day HH:MM",
                    );
                }
            }
        }
        Some(_) => err(
            "notifications.quiet_hours".into(),
            "must be {start, end} or null",
        ),
    }
    match obj.get("steps") {
        None => {}
        Some(Value::Array(steps)) => {
            if steps.len() > MAX_STEPS {
                err("notifications.steps".into(), "must have at most 10 steps");
            }
            for (i, s) in steps.iter().enumerate() {
                check_step(i, s, &mut err);
            }
        }
        Some(_) => err("notifications.steps".into(), "must be an array"),
    }
    errors
}

fn check_step(i: usize, s: &Value, err: &mut impl FnMut(String, &str)) {
    let f = |k: &str| format!("notifications.steps[{i}].{k}");
    let Some(o) = s.as_object() else {
        err(format!("notifications.steps[{i}]"), "must be an object");
        return;
    };
    for k in o.keys() {
        if !["channel", "after_minutes", "min_priority", "agent_id"].contains(&k.as_str()) {
            err(f(k), "is not a known field");
        }
    }
    let channel_ok = o
        .get("channel")
        .and_then(Value::as_str)
        .is_some_and(|c| c.parse::<Channel>().is_ok());
    if !channel_ok {
        err(f("channel"), &format!("must be {}", Channel::expected()));
    }
    match o.get("after_minutes") {
        None => {}
        Some(m) if m.as_f64().is_some_and(|m| (0.0..=1440.0).contains(&m)) => {}
        Some(_) => err(f("after_minutes"), "must be a number between 0 and 1440"),
    }
    match o.get("min_priority") {
        None | Some(Value::Null) => {}
        Some(p)
            if p.as_str()
                .is_some_and(|p| p.parse::<NotificationPriority>().is_ok()) => {}
        Some(_) => err(
            f("min_priority"),
            &format!("must be {}", NotificationPriority::expected()),
        ),
    }
    match o.get("agent_id") {
        None | Some(Value::Null) => {}
        Some(a) if a.as_str().is_some_and(|a| a.parse::<Uuid>().is_ok()) => {}
        Some(_) => err(f("agent_id"), "must be a UUID or null"),
    }
}

/// The defaults as JSON (documented in API.md).
pub fn defaults() -> Value {
    json!(Escalation::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn defaults_match_the_contract() {
        assert_eq!(
            defaults(),
            json!({"quiet_hours": {"start": "22:00", "end": "07:00"}, "steps": [
                {"channel": "in_app", "after_minutes": 0.0},
                {"channel": "web_push", "after_minutes": 0.0},
                {"channel": "whatsapp", "after_minutes": 10.0, "min_priority": "high"},
                {"channel": "call", "after_minutes": 20.0, "min_priority": "urgent"}]})
        );
        assert!(validate_preferences(&json!({"notifications": defaults()})).is_ok());
    }

    #[test]
    fn quiet_hours_wrap_midnight_in_the_users_zone() {
        let e = Escalation::default();
        let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        // 21:30 UTC is 22:30 in Paris in winter.
        assert!(e.is_quiet(Utc.with_ymd_and_hms(2026, 12, 3, 21, 30, 0).unwrap(), paris));
        assert!(!e.is_quiet(Utc.with_ymd_and_hms(2026, 12, 3, 20, 30, 0).unwrap(), paris));
        assert!(e.is_quiet(Utc.with_ymd_and_hms(2026, 12, 3, 5, 59, 0).unwrap(), paris));
        assert!(!e.is_quiet(Utc.with_ymd_and_hms(2026, 12, 3, 6, 0, 0).unwrap(), paris));
    }

    #[test]
    fn bad_values_name_the_field() {
        let bad = json!({"notifications": {"quiet_hours": {"start": "25:00", "end": "07:00"},
            "steps": [{"channel": "pigeon"}, {"channel": "sms", "after_minutes": -1,
                       "min_priority": "extreme", "x": 1}]}});
        let Err(ApiError::Validation(errs)) = validate_preferences(&bad) else {
            panic!("expected a validation error")
        };
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "notifications.quiet_hours.start",
                "notifications.steps[0].channel",
                "notifications.steps[1].x",
                "notifications.steps[1].after_minutes",
                "notifications.steps[1].min_priority"
            ]
        );
    }
}
