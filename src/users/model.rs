use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::FieldError,
    http::{Patch, Validate, Validator},
};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub full_name: Option<String>,
    pub avatar_url: Option<String>,
    pub timezone: String,
    pub locale: String,
    pub is_superuser: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `PATCH /users/me`: merge semantics, `null` clears `full_name`/`avatar_url`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub full_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub timezone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub locale: Patch<String>,
}

impl Validate for UpdateMe {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        if let Some(name) = self.full_name.as_value() {
            v.check(
                name.chars().count() <= 200,
                "full_name",
                "must be at most 200 characters",
            );
        }
        if let Some(url) = self.avatar_url.as_value() {
            let ok = url.len() <= 2048
                && url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            v.check(ok, "avatar_url", "must be an http(s) URL");
        }
        match &self.timezone {
            Patch::Null => {
                v.error("timezone", "must not be null");
            }
            Patch::Value(tz) => {
                v.check(
                    tz.parse::<chrono_tz::Tz>().is_ok(),
                    "timezone",
                    "must be an IANA time zone such as Europe/Paris",
                );
            }
            Patch::Missing => {}
        }
        match &self.locale {
            Patch::Null => {
                v.error("locale", "must not be null");
            }
            Patch::Value(l) => {
                let ok = (2..=35).contains(&l.len())
                    && l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                v.check(ok, "locale", "must be a language tag such as en or en-US");
            }
            Patch::Missing => {}
        }
        v.finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMe {
    pub password: String,
}

impl Validate for DeleteMe {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        Validator::new()
            .check(!self.password.is_empty(), "password", "must not be empty")
            .finish()
    }
}

pub const MAX_PREFERENCES_BYTES: usize = 16 * 1024;
