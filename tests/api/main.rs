//! One integration-test binary (links once). Every test that touches data gets its own
//! migrated PostgreSQL database from `#[sqlx::test]`.

mod helpers;

mod auth;
mod bola;
mod foundation;
mod goals;
mod memories;
mod notes;
mod tasks;
mod users;
