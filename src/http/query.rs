//! Typed list filters from the query string. Values that do not parse answer 422 naming the
//! parameter; repeated parameters (`?status=todo&status=done`) and comma lists
//! (`?status=todo,done`) are both accepted where a filter takes several values. Parameters
//! a route does not know are ignored, as `limit`/`cursor` are read by the pagination extractor.

use std::str::FromStr;

use axum::{extract::FromRequestParts, http::request::Parts};
use uuid::Uuid;

use crate::error::ApiError;

/// The raw query string, split into `(name, value)` pairs.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let params = Self::parse(parts.uri.query().unwrap_or(""));
        // PostgreSQL text cannot hold U+0000 (`?q=%00` was a 500, found by Schemathesis).
        if let Some((k, _)) = params.0.iter().find(|(_, v)| v.contains('\0')) {
            return Err(ApiError::validation(
                k,
                "must not contain the NUL character (%00)",
            ));
        }
        Ok(params)
    }
}

/// A filter on a nullable link: `?parent_id=<uuid>` or `?parent_id=null` (no parent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkFilter {
    #[default]
    Any,
    None,
    Is(Uuid),
}

impl LinkFilter {
    /// `(only rows without a link, only rows linked to this id)` for SQL.
    pub fn sql(&self) -> (bool, Option<Uuid>) {
        match self {
            Self::Any => (false, None),
            Self::None => (true, None),
            Self::Is(id) => (false, Some(*id)),
        }
    }
}

impl QueryParams {
    pub fn parse(query: &str) -> Self {
        Self(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn last_value(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
    }

    /// The last non-empty value of `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.last_value(name)
    }

    /// A text value of at most `max` characters.
    pub fn bounded_text(&self, name: &str, max: usize) -> Result<Option<String>, ApiError> {
        match self.text(name) {
            Some(v) if v.chars().count() > max => Err(ApiError::validation(
                name,
                format!("must be at most {max} characters"),
            )),
            v => Ok(v.map(String::from)),
        }
    }

    /// One value parsed with `FromStr`; `expected` completes "must be …" in the error.
    pub fn one<T: FromStr>(&self, name: &str, expected: &str) -> Result<Option<T>, ApiError> {
        self.text(name)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| ApiError::validation(name, format!("must be {expected}")))
            })
            .transpose()
    }

    /// Every value (repeated and comma-separated) parsed with `FromStr`.
    pub fn many<T: FromStr>(&self, name: &str, expected: &str) -> Result<Vec<T>, ApiError> {
        self.values(name)
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| ApiError::validation(name, format!("must be {expected}")))
            })
            .collect()
    }

    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.one(name, "true or false")
    }

    pub fn uuid(&self, name: &str) -> Result<Option<Uuid>, ApiError> {
        self.one(name, "a UUID")
    }

    /// A link filter: a UUID, or `null` for rows without a link.
    pub fn link(&self, name: &str) -> Result<LinkFilter, ApiError> {
        match self.text(name) {
            None => Ok(LinkFilter::Any),
            Some("null") | Some("none") => Ok(LinkFilter::None),
            Some(v) => v
                .parse()
                .map(LinkFilter::Is)
                .map_err(|_| ApiError::validation(name, "must be a UUID or null")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_comma_values() {
        let q = QueryParams::parse("status=todo&status=done,cancelled&x=1");
        let v: Vec<String> = q.many("status", "a status").unwrap();
        assert_eq!(v, ["todo", "done", "cancelled"]);
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let q = QueryParams::parse("is_pinned=maybe&goal_id=12");
        match q.boolean("is_pinned") {
            Err(ApiError::Validation(e)) => assert_eq!(e[0].field, "is_pinned"),
            other => panic!("{other:?}"),
        }
        match q.uuid("goal_id") {
            Err(ApiError::Validation(e)) => assert_eq!(e[0].field, "goal_id"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn link_filter() {
        assert_eq!(
            QueryParams::parse("p=null").link("p").unwrap(),
            LinkFilter::None
        );
        assert_eq!(QueryParams::parse("").link("p").unwrap(), LinkFilter::Any);
        let id = Uuid::now_v7();
        assert_eq!(
            QueryParams::parse(&format!("p={id}")).link("p").unwrap(),
            LinkFilter::Is(id)
        );
    }
}
