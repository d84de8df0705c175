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
///
/// Two things PostgreSQL cannot take back are refused (422 naming the field) instead of
/// failing at the database as a 500 (both found by Schemathesis): U+0000 in a string or key
/// (`text` and `jsonb` cannot hold it), and numbers beyond ±1e300 (`jsonb` keeps them as exact
/// decimals and gives them back as hundreds of digits that do not read back as `f64`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value = parse_json_inner(bytes)?;
    // Only bodies that can hold either are walked: U+0000 can only be written as an escape
    // (a raw 0x00 is a syntax error), and such a number needs an exponent of 3 digits.
    let suspicious = bytes.windows(6).any(|w| w == b"\\u0000")
        || bytes.iter().enumerate().any(|(i, b)| {
            let rest = &bytes[i + 1..];
            let rest = rest
                .strip_prefix(b"+")
                .or(rest.strip_prefix(b"-"))
                .unwrap_or(rest);
            matches!(b, b'e' | b'E') && rest.iter().take_while(|d| d.is_ascii_digit()).count() >= 3
        });
    if suspicious
        && let Ok(doc) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some((field, message)) = unstorable(&doc, String::new())
    {
        return Err(ApiError::validation(field, message));
    }
    Ok(value)
}

/// Largest magnitude of a JSON number in a request body.
pub const MAX_JSON_NUMBER: f64 = 1e300;

/// Where in `v` (`a.b[0]`) a value PostgreSQL cannot store and give back is, and why.
fn unstorable(v: &serde_json::Value, at: String) -> Option<(String, &'static str)> {
    use serde_json::Value;
    let here = |at: String| {
        if at.is_empty() {
            "body".to_string()
        } else {
            at
        }
    };
    let join = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    const NUL: &str = "must not contain the NUL character (\\u0000)";
    match v {
        Value::String(s) if s.contains('\0') => Some((here(at), NUL)),
        Value::Number(n) if n.as_f64().is_some_and(|x| x.abs() > MAX_JSON_NUMBER) => {
            Some((here(at), "must be a number between -1e300 and 1e300"))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| unstorable(item, format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            if k.contains('\0') {
                Some((join(&k.replace('\0', "\\u0000")), NUL))
            } else {
                unstorable(item, join(k))
            }
        }),
        _ => None,
    }
}

fn parse_json_inner<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
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
    fn nul_characters_are_refused_naming_the_field() {
        // Schemathesis found these as 500s: PostgreSQL refuses U+0000 in text and jsonb.
        let e = parse_json::<Body>(br#"{"title":"a\u0000b"}"#).unwrap_err();
        assert_eq!(field_of(e), "title");
        let e = parse_json::<serde_json::Value>(br#"{"metadata":{"k\u0000":[1]}}"#).unwrap_err();
        assert_eq!(field_of(e), "metadata.k\\u0000");
        let e = parse_json::<serde_json::Value>(br#"{"tags":["x","\u0000"]}"#).unwrap_err();
        assert_eq!(field_of(e), "tags[1]");
        let e = parse_json::<serde_json::Value>(br#"{"a":[{"b":1.7976931348623157e+308}]}"#)
            .unwrap_err();
        assert_eq!(field_of(e), "a[0].b");
        let e = parse_json::<serde_json::Value>(br#"{"n":-2E301}"#).unwrap_err();
        assert_eq!(field_of(e), "n");
        assert!(parse_json::<serde_json::Value>(br#"{"a":1e299,"b":-1e-300}"#).is_ok());
        // An escaped backslash followed by "u0000" is just text.
        let ok = parse_json::<Body>(br#"{"title":"C:\\u0000"}"#).unwrap();
        assert_eq!(ok.title, "C:\\u0000");
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
