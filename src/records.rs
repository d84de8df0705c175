//! Pieces shared by the user-data domains (notes, tasks, goals, reflections, memories):
//! enums stored as text, the `metadata` rule, full-text query limits and the per-user
//! hierarchy lock that keeps parent links free of cycles.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{
    error::ApiError,
    http::{KeysetPagination, Page, SortCursor, Validator},
};

/// Whether the goal `id` exists and is `user_id`'s (tasks and reflections link to goals
/// without depending on the goals domain).
pub async fn goal_exists(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from goals where id = $1 and user_id = $2) as "exists!""#,
        id,
        user_id
    )
    .fetch_one(db)
    .await
}

/// Whether the note `id` exists and is `user_id`'s.
pub async fn note_exists(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from notes where id = $1 and user_id = $2) as "exists!""#,
        id,
        user_id
    )
    .fetch_one(db)
    .await
}

/// `metadata` is a JSON object of at most this many bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// A full-text query `q` is at most this many characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Long free-text fields (descriptions, reflection content).
pub const MAX_LONG_TEXT_CHARS: usize = 100_000;
/// Titles of notes, tasks and goals.
pub const MAX_TITLE_CHARS: usize = 500;

/// Check a `metadata` value: a JSON object of at most [`MAX_METADATA_BYTES`].
pub fn check_metadata(v: &mut Validator, field: &str, metadata: &Value) {
    if !metadata.is_object() {
        v.error(field, "must be a JSON object");
    } else if serde_json::to_vec(metadata).map_or(0, |b| b.len()) > MAX_METADATA_BYTES {
        v.error(field, "must be at most 64 KiB");
    }
}

/// Check an optional long text field.
pub fn check_long_text(v: &mut Validator, field: &str, text: Option<&str>) {
    if let Some(t) = text
        && t.chars().count() > MAX_LONG_TEXT_CHARS
    {
        v.error(
            field,
            format!("must be at most {MAX_LONG_TEXT_CHARS} characters"),
        );
    }
}

/// Serialize parent-link changes of one user's rows in one table until the transaction
/// ends, so two concurrent moves cannot together build a cycle that neither saw alone.
pub async fn lock_hierarchy(
    db: impl PgExecutor<'_>,
    table: &str,
    user_id: Uuid,
) -> sqlx::Result<()> {
    let key = format!("hierarchy:{table}:{user_id}");
    sqlx::query!(
        r#"select true as "locked!" from pg_advisory_xact_lock(hashtextextended($1, 0))"#,
        key
    )
    .fetch_one(db)
    .await?;
    Ok(())
}

/// A ranked full-text search hit: a row's id and its position in the ranking
/// `(rank, created_at, id)`.
pub struct Hit {
    pub id: Uuid,
    pub rank: f32,
    pub created_at: DateTime<Utc>,
}

/// The page of a ranked search: `hits` in rank order (`limit + 1` of them), `rows` the
/// same rows read in full in any order. A row deleted between the two reads is left out.
pub fn ranked_page<T>(
    page: &KeysetPagination,
    hits: Vec<Hit>,
    mut rows: Vec<T>,
    id_of: impl Fn(&T) -> Uuid,
) -> Page<T> {
    let limit = page.limit as usize;
    // The cursor comes from the hits, so a row deleted meanwhile cannot end the list early.
    let next_cursor = (hits.len() > limit).then(|| {
        let last = &hits[limit - 1];
        SortCursor::Rank {
            rank: last.rank,
            created_at: last.created_at,
            id: last.id,
        }
        .encode()
    });
    let data = hits
        .iter()
        .take(limit)
        .filter_map(|h| {
            let pos = rows.iter().position(|r| id_of(r) == h.id)?;
            Some(rows.swap_remove(pos))
        })
        .collect();
    Page { data, next_cursor }
}

/// A text value read from the database that is not one of the enum's values.
pub fn bad_db_value(kind: &str, value: &str) -> ApiError {
    ApiError::internal(anyhow::anyhow!(
        "unexpected {kind} {value:?} in the database"
    ))
}

/// An enum stored as text: serde, OpenAPI, `as_str`, `FromStr` and the list of values.
#[macro_export]
macro_rules! text_enum {
    // `$text:tt`, not `:literal`: a `literal` fragment reaches derive macros wrapped in an
    // invisible group, which utoipa does not see through (the schema listed the variant
    // names, `Active`, where serde writes `active`).
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        $vis enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// "one of a, b, c" for error messages.
            pub fn expected() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                format!("one of {}", names.join(", "))
            }

            /// A value read from the database.
            pub fn from_db(s: &str) -> Result<Self, $crate::error::ApiError> {
                s.parse()
                    .map_err(|_| $crate::records::bad_db_value(stringify!($name), s))
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();

            fn from_str(s: &str) -> Result<Self, ()> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Strings of a list of enum values, for `= any($1::text[])` filters.
pub fn texts<T: Copy + std::fmt::Display>(values: &[T]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    text_enum! {
        enum Colour { Red = "red", DarkBlue = "dark_blue" }
    }

    #[test]
    fn text_enum_round_trips() {
        assert_eq!("dark_blue".parse::<Colour>(), Ok(Colour::DarkBlue));
        assert_eq!(Colour::Red.as_str(), "red");
        assert_eq!(serde_json::to_value(Colour::DarkBlue).unwrap(), "dark_blue");
        assert_eq!(Colour::expected(), "one of red, dark_blue");
        assert!(Colour::from_db("green").is_err());
    }

    #[test]
    fn metadata_must_be_a_small_object() {
        let mut v = Validator::new();
        check_metadata(&mut v, "metadata", &json!({"a": 1}));
        assert!(v.finish().is_ok());
        check_metadata(&mut v, "metadata", &json!([1]));
        check_metadata(
            &mut v,
            "metadata",
            &json!({"a": "x".repeat(MAX_METADATA_BYTES)}),
        );
        assert_eq!(v.finish().unwrap_err().len(), 2);
    }
}
