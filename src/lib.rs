//! Cadence: a self-hostable backend for voice-first AI personal assistants.

pub mod app;
pub mod auth;
pub mod background;
pub mod config;
pub mod db;
pub mod error;
pub mod goals;
pub mod health;
pub mod http;
pub mod memories;
pub mod metrics;
pub mod notes;
pub mod openapi;
pub mod records;
pub mod reflections;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod users;

/// Install the one rustls crypto provider (ring) for the whole process; every TLS client
/// (reqwest, tokio-tungstenite, sqlx) uses it. Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
