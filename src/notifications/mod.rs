//! Notifications the assistant raises on its own (reminders, schedule blocks, agents,
//! integrations) and their escalation across channels: in-app, Web Push, then WhatsApp, SMS
//! and a phone call, per the user preference `notifications` (quiet hours, steps,
//! `min_priority`). Each step is a durable job (`notification.step`, key
//! `<notification>:<step>`) that runs once, in order, and stops at acknowledgement; every
//! attempt is a row in `notification_deliveries`.
//!
//! Other domains raise notifications with [`raise`] or, later or from another transaction,
//! by queuing a `notification.raise` job (payload `{user_id, kind, title, body, priority,
//! source_type, source_id}`, the job key is the dedupe key).

pub mod channels;
pub mod model;
pub mod prefs;
pub mod repo;
pub mod routes;
pub mod service;
pub mod webpush;

use utoipa_axum::{router::OpenApiRouter, routes};

pub use model::{NewNotification, Notification};
pub use service::raise;

use crate::{jobs::Registry, state::AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list_notifications))
        .routes(routes!(routes::vapid_public_key))
        .routes(routes!(
            routes::list_push_subscriptions,
            routes::create_push_subscription
        ))
        .routes(routes!(routes::delete_push_subscription))
        .routes(routes!(routes::get_notification))
        .routes(routes!(routes::ack_notification))
}

/// The job kinds of this domain.
pub fn register(r: Registry) -> Registry {
    r.add(service::RAISE_JOB, service::run_raise)
        .add(service::STEP_JOB, service::run_step)
}
