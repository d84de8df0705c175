use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::FieldError,
    http::{Validate, Validator},
};

/// The largest amount one request may move (keeps sums far from `i64` overflow).
pub const MAX_AMOUNT: i64 = 1_000_000_000;

/// What a ledger entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    TopUp,
    CallDebit,
    ChatDebit,
    Refund,
    Adjustment,
    SignupBonus,
}

impl EntryKind {
    pub const ALL: [EntryKind; 6] = [
        Self::TopUp,
        Self::CallDebit,
        Self::ChatDebit,
        Self::Refund,
        Self::Adjustment,
        Self::SignupBonus,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TopUp => "top_up",
            Self::CallDebit => "call_debit",
            Self::ChatDebit => "chat_debit",
            Self::Refund => "refund",
            Self::Adjustment => "adjustment",
            Self::SignupBonus => "signup_bonus",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// May this kind add credits to a user?
    pub fn is_credit(self) -> bool {
        matches!(
            self,
            Self::TopUp | Self::Refund | Self::Adjustment | Self::SignupBonus
        )
    }

    /// May this kind take credits from a user?
    pub fn is_debit(self) -> bool {
        matches!(self, Self::CallDebit | Self::ChatDebit | Self::Adjustment)
    }
}

/// `GET /wallet`.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct Wallet {
    /// Sum of every ledger entry of the user (credits).
    pub balance: i64,
    /// Credits held for work in progress (voice calls).
    pub reserved: i64,
    /// `balance - reserved`: what the user can spend now.
    pub available: i64,
    pub updated_at: DateTime<Utc>,
}

/// One ledger entry of the user's account.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct Transaction {
    pub id: Uuid,
    pub kind: EntryKind,
    /// Signed: positive adds credits, negative takes them.
    pub amount: i64,
    pub balance_after: i64,
    pub reference_type: Option<String>,
    pub reference_id: Option<Uuid>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A ledger entry row as stored.
pub struct EntryRow {
    pub id: Uuid,
    pub kind: String,
    pub amount: i64,
    pub balance_after: Option<i64>,
    pub reference_type: Option<String>,
    pub reference_id: Option<Uuid>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<EntryRow> for Transaction {
    fn from(r: EntryRow) -> Self {
        Self {
            id: r.id,
            // The column's CHECK only admits the six kinds.
            kind: EntryKind::parse(&r.kind).unwrap_or(EntryKind::Adjustment),
            amount: r.amount,
            balance_after: r.balance_after.unwrap_or_default(),
            reference_type: r.reference_type,
            reference_id: r.reference_id,
            description: r.description,
            created_at: r.created_at,
        }
    }
}

/// What a credit or debit is: its kind, its size (always positive; the direction comes from
/// the call) and what it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub kind: EntryKind,
    pub amount: i64,
    pub reference_type: Option<String>,
    pub reference_id: Option<Uuid>,
    pub description: Option<String>,
}

impl Posting {
    pub fn new(kind: EntryKind, amount: i64) -> Self {
        Self {
            kind,
            amount,
            reference_type: None,
            reference_id: None,
            description: None,
        }
    }

    pub fn reference(mut self, reference_type: &str, reference_id: Option<Uuid>) -> Self {
        self.reference_type = Some(reference_type.to_string());
        self.reference_id = reference_id;
        self
    }

    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    Active,
    Settled,
    Released,
    Expired,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Settled => "settled",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "active" => Self::Active,
            "settled" => Self::Settled,
            "released" => Self::Released,
            _ => Self::Expired,
        }
    }
}

impl std::fmt::Display for HoldStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Credits set aside until the real cost is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: Uuid,
    pub account_id: Uuid,
    pub amount: i64,
    pub status: HoldStatus,
    pub reference_type: Option<String>,
    pub reference_id: Option<Uuid>,
    pub description: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub settled_amount: Option<i64>,
    pub transaction_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

pub struct HoldRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub amount: i64,
    pub status: String,
    pub reference_type: Option<String>,
    pub reference_id: Option<Uuid>,
    pub description: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub settled_amount: Option<i64>,
    pub transaction_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<HoldRow> for Hold {
    fn from(r: HoldRow) -> Self {
        Self {
            id: r.id,
            account_id: r.account_id,
            amount: r.amount,
            status: HoldStatus::parse(&r.status),
            reference_type: r.reference_type,
            reference_id: r.reference_id,
            description: r.description,
            expires_at: r.expires_at,
            settled_amount: r.settled_amount,
            transaction_id: r.transaction_id,
            created_at: r.created_at,
            closed_at: r.closed_at,
        }
    }
}

/// What a hold is for (written on the call_debit its settlement produces).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HoldRef {
    pub reference_type: Option<String>,
    pub reference_id: Option<Uuid>,
    pub description: Option<String>,
}

impl HoldRef {
    pub fn new(reference_type: &str, reference_id: Uuid) -> Self {
        Self {
            reference_type: Some(reference_type.to_string()),
            reference_id: Some(reference_id),
            description: None,
        }
    }

    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// The outcome of settling a hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub hold: Hold,
    /// Credits actually debited (at most what the wallet could cover).
    pub charged: i64,
    /// The part of `actual` the wallet could not cover (0 unless the cost outran the
    /// hold and the rest of the balance).
    pub shortfall: i64,
    /// The call_debit entry, when something was charged.
    pub entry: Option<Transaction>,
    /// True when the hold had already been settled: nothing was charged by this call and
    /// `charged` is what the first settlement charged.
    pub already_settled: bool,
}

/// `POST /wallet/add-credits`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCredits {
    /// Credits to add, 1..=1,000,000,000.
    pub amount: i64,
}

impl Validate for AddCredits {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        Validator::new()
            .check(
                (1..=MAX_AMOUNT).contains(&self.amount),
                "amount",
                "must be between 1 and 1000000000",
            )
            .finish()
    }
}

/// `POST /admin/users/{id}/credits`: a positive amount grants credits, a negative one takes
/// them back (never below zero available).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminCredits {
    /// Non-zero, -1,000,000,000..=1,000,000,000.
    pub amount: i64,
    /// Why (recorded as the entry's description), 1..=500 characters.
    pub reason: String,
}

impl Validate for AdminCredits {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::new();
        v.check(
            self.amount != 0 && self.amount.unsigned_abs() <= MAX_AMOUNT.unsigned_abs(),
            "amount",
            "must be non-zero and at most 1000000000 in magnitude",
        );
        v.text(&self.reason, "reason", 500);
        v.finish()
    }
}

/// The answer to a credit or debit through the API: the new entry and the wallet after it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreditResult {
    pub transaction: Transaction,
    pub wallet: Wallet,
}
