//! One integration-test binary (links once). Every test that touches data gets its own
//! migrated PostgreSQL database from `#[sqlx::test]`.

mod helpers;

mod agents;
mod auth;
mod events;
mod foundation;
mod idempotency;
mod payments;
mod providers;
mod users;
mod wallet;
