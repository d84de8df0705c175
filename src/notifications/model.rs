use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{error::ApiError, text_enum};

text_enum! {
    /// What raised a notification.
    pub enum NotificationKind {
        Reminder = "reminder",
        Schedule = "schedule",
        Agent = "agent",
        Integration = "integration",
        System = "system",
    }
}

text_enum! {
    /// How much a notification matters: escalation steps can require a minimum, and quiet
    /// hours let only `urgent` past `in_app`.
    pub enum NotificationPriority {
        Low = "low",
        Normal = "normal",
        High = "high",
        Urgent = "urgent",
    }
}

impl NotificationPriority {
    pub fn rank(self) -> u8 {
        match self {
            Self::Low => 0,
            Self::Normal => 1,
            Self::High => 2,
            Self::Urgent => 3,
        }
    }
}

text_enum! {
    /// `pending` until a channel reached the user, `delivered` then, `acknowledged` once the
    /// user responded (which stops the escalation), `failed` when no channel reached them.
    pub enum NotificationStatus {
        Pending = "pending",
        Delivered = "delivered",
        Acknowledged = "acknowledged",
        Expired = "expired",
        Failed = "failed",
    }
}

text_enum! {
    pub enum Channel {
        InApp = "in_app",
        WebPush = "web_push",
        Whatsapp = "whatsapp",
        Sms = "sms",
        Call = "call",
    }
}

text_enum! {
    pub enum DeliveryStatus {
        Sent = "sent",
        Delivered = "delivered",
        Failed = "failed",
        Skipped = "skipped",
    }
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    pub channel: Channel,
    pub status: DeliveryStatus,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notification {
    pub id: Uuid,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    pub priority: NotificationPriority,
    /// What the notification is about (`task`, `schedule_block`, …).
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub status: NotificationStatus,
    /// Every delivery attempt, oldest first.
    pub deliveries: Vec<Delivery>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub user_id: Uuid,
    #[serde(skip)]
    pub escalation: Value,
}

pub struct NotificationRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub priority: String,
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub status: String,
    pub escalation: Value,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub struct DeliveryRow {
    pub notification_id: Uuid,
    pub channel: String,
    pub status: String,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = ApiError;
    fn try_from(r: DeliveryRow) -> Result<Self, ApiError> {
        Ok(Delivery {
            channel: Channel::from_db(&r.channel)?,
            status: DeliveryStatus::from_db(&r.status)?,
            at: r.at,
            detail: r.detail,
        })
    }
}

impl NotificationRow {
    pub fn into_notification(self, deliveries: Vec<Delivery>) -> Result<Notification, ApiError> {
        Ok(Notification {
            id: self.id,
            kind: NotificationKind::from_db(&self.kind)?,
            title: self.title,
            body: self.body,
            priority: NotificationPriority::from_db(&self.priority)?,
            source_type: self.source_type,
            source_id: self.source_id,
            status: NotificationStatus::from_db(&self.status)?,
            deliveries,
            acknowledged_at: self.acknowledged_at,
            created_at: self.created_at,
            user_id: self.user_id,
            escalation: self.escalation,
        })
    }
}

/// A notification to raise ([`super::raise`]). Raising the same `(user_id, dedupe_key)`
/// twice returns the first one and notifies once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewNotification {
    pub user_id: Uuid,
    pub kind: NotificationKind,
    pub title: String,
    #[serde(default)]
    pub body: String,
    pub priority: NotificationPriority,
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub source_id: Option<String>,
    /// Names the occasion (the raising job's key, e.g. `block:<id>:<start>`).
    #[serde(default)]
    pub dedupe_key: String,
}

/// Filters of `GET /notifications`.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    pub statuses: Vec<NotificationStatus>,
    pub kind: Option<NotificationKind>,
    pub unread: bool,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct NotificationListParams {
    /// Repeatable or comma-separated.
    pub status: Option<Vec<NotificationStatus>>,
    pub kind: Option<NotificationKind>,
    /// `true`: only notifications not acknowledged yet.
    pub unread: Option<bool>,
}

/// `GET /notifications/vapid-public-key`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VapidPublicKey {
    /// The application server key, base64url (uncompressed P-256 point), for
    /// `PushManager.subscribe({applicationServerKey})`.
    pub key: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushKeys {
    /// The browser's P-256 public key, base64url.
    pub p256dh: String,
    /// The 16-byte authentication secret, base64url.
    pub auth: String,
}

/// `POST /notifications/push-subscriptions`: what `PushSubscription.toJSON()` gives.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePushSubscription {
    /// The push service URL (https).
    pub endpoint: String,
    pub keys: PushKeys,
    /// `PushSubscription.toJSON()` includes it; ignored.
    #[serde(default, rename = "expirationTime")]
    #[schema(value_type = Option<f64>)]
    #[allow(dead_code)]
    pub expiration_time: Option<Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PushSubscription {
    pub id: Uuid,
    pub endpoint: String,
    pub created_at: DateTime<Utc>,
}

pub struct PushSubscriptionRow {
    pub id: Uuid,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub created_at: DateTime<Utc>,
}

/// Checked in the handler (the endpoint rule depends on the environment).
impl crate::http::Validate for CreatePushSubscription {}
