//! `ValidJson<T>`: the JSON body extractor every handler uses. Wrong content type → 415,
//! malformed JSON → 400, a field of the wrong type or an unknown field → 422 naming the
//! field, then `T::validate` → 422 with every invalid field.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// Field-level validation of a request body after it parsed.
pub trait Validate {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        Ok(())
    }
}

/// Collects field errors: `v.check(cond, "field", "message")`, then `v.finish()`.
#[derive(Default, Debug)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&mut self, ok: bool, field: &str, message: &str) -> &mut Self {
        if !ok {
            self.errors.push(FieldError::new(field, message));
        }
        self
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) -> &mut Self {
        self.errors.push(FieldError::new(field, message));
        self
    }

    /// A title-like string: trimmed non-empty, at most `max` characters.
    pub fn text(&mut self, value: &str, field: &str, max: usize) -> &mut Self {
        if value.trim().is_empty() {
            self.error(field, "must not be empty");
        } else if value.chars().count() > max {
            self.error(field, format!("must be at most {max} characters"));
        }
        self
    }

    pub fn finish(&mut self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(std::mem::take(&mut self.errors))
        }
    }
}

impl Validate for serde_json::Value {}

#[derive(Debug, Clone, Copy, Default)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| {
                m.type_() == "application"
                    && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "expected a request body with Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(format!("could not read the request body: {rej}"))
            }
        })?;
        let value = parse_json::<T>(&bytes)?;
        value.validate().map_err(ApiError::Validation)?;
        Ok(Self(value))
    }
}

/// Parse JSON into `T`, mapping serde errors to 400 (syntax) or 422 (shape, with the field).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::BadRequest(format!("malformed JSON: {inner}"))
            }
            Category::Data => {
                let msg = inner.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                // The path already ends with an unknown field's name; a missing field's
                // path is its parent.
                let field = match (unknown_field_name(&msg), missing_field_name(&msg)) {
                    (Some(f), _) if path == "." => f,
                    (_, Some(f)) if path == "." => f,
                    (_, Some(f)) => format!("{path}.{f}"),
                    _ if path == "." => "body".into(),
                    _ => path,
                };
                ApiError::Validation(vec![FieldError::new(field, msg)])
            }
        }
    })
}

fn backticked(msg: &str, prefix: &str) -> Option<String> {
    let rest = msg.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    Some(rest[..end].to_string())
}

fn unknown_field_name(msg: &str) -> Option<String> {
    backticked(msg, "unknown field `")
}

fn missing_field_name(msg: &str) -> Option<String> {
    backticked(msg, "missing field `")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        count: Option<u32>,
    }

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::Validation(v) => v[0].field.clone(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_field_is_named() {
        let e = parse_json::<Body>(br#"{"title":"x","user_id":"1"}"#).unwrap_err();
        assert_eq!(field_of(e), "user_id");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let e = parse_json::<Body>(br#"{"title":"x","count":"many"}"#).unwrap_err();
        assert_eq!(field_of(e), "count");
    }

    #[test]
    fn missing_field_is_named() {
        let e = parse_json::<Body>(br#"{}"#).unwrap_err();
        assert_eq!(field_of(e), "title");
    }

    #[test]
    fn syntax_error_is_bad_request() {
        let e = parse_json::<Body>(br#"{"title":"#).unwrap_err();
        assert!(matches!(e, ApiError::BadRequest(_)));
    }
}
