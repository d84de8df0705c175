//! One integration-test binary (links once). Every test that touches data gets its own
//! migrated PostgreSQL database from `#[sqlx::test]`.

mod agents;
mod analytics;
mod auth;
mod avatar;
mod bola;
mod calls;
mod chat;
mod commands;
mod contract;
mod docs;
mod events;
mod faults;
mod foundation;
mod goals;
mod helpers;
mod idempotency;
mod jobs;
mod layout;
mod learning;
mod memories;
mod notes;
mod notifications;
mod outbound;
mod payments;
mod planner;
mod providers;
mod reminders;
mod retrieval;
mod schedule;
mod tasks;
mod telephony;
mod users;
mod voice;
mod wallet;
mod web;
