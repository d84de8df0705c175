//! Cross-cutting HTTP pieces shared by every domain: extractors (JSON with strict
//! validation, pagination, If-Match), the request id, problem rendering of foreign errors,
//! client IP resolution.

pub mod client_ip;
pub mod etag;
pub mod idempotency;
pub mod json;
pub mod keyset;
pub mod pagination;
pub mod patch;
pub mod problem;
pub mod query;
pub use crate::request_id;

pub use etag::{IfMatch, with_etag};
pub use idempotency::IdempotencyKey;
pub use json::{ValidJson, Validate, Validator};
pub use keyset::{KeysetPagination, SortCursor};
pub use pagination::{Cursor, Page, Pagination};
pub use patch::Patch;
pub use query::{LinkFilter, QueryParams};
