//! Cadence: a self-hostable backend for voice-first AI personal assistants.

pub mod accounts;
pub mod agents;
pub mod analytics;
pub mod app;
pub mod assistant;
pub mod audio;
pub mod auth;
pub mod background;
pub mod calls;
pub mod chat;
pub mod config;
pub mod db;
pub mod error;
pub mod event_stream;
pub mod events;
pub mod goals;
pub mod health;
pub mod http;
pub mod jobs;
pub mod memories;
pub mod messaging;
pub mod metrics;
pub mod notes;
pub mod notifications;
pub mod openapi;
pub mod payments;
pub mod planner;
pub mod providers;
pub mod rag;
pub mod records;
pub mod reflections;
pub mod request_id;
pub mod schedule;
pub mod sim;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod telephony;
pub mod users;
pub mod voice;
pub mod wallet;
pub mod web;

/// Install the one rustls crypto provider (ring) for the whole process; every TLS client
/// (reqwest, tokio-tungstenite, sqlx) uses it. Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Return large freed buffers (Argon2's 19 MiB working memory, audio buffers) to the OS.
/// glibc's dynamic mmap threshold otherwise moves such allocations into per-thread arenas
/// that keep their peak size, and RSS ratchets up under login load.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; called once at startup before
    // other threads allocate heavily.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
