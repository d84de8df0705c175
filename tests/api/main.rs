//! One integration-test binary (links once). Every test that touches data gets its own
//! migrated PostgreSQL database from `#[sqlx::test]`.

mod helpers;

mod auth;
mod foundation;
mod users;
mod web;
