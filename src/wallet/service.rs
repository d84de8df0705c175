//! The only code that moves money. Every operation runs in its own database transaction
//! (a savepoint when the caller's connection is already inside one, so a refused debit
//! does not abort the caller's work) and is safe under READ COMMITTED: the account row is
//! locked (`for update`) before its available credits are checked, and holds are locked
//! before their account, so operations on one wallet serialize and never deadlock.
//!
//! Callers with a pool pass `&mut *pool.acquire().await?`; callers inside a transaction
//! pass `&mut *tx`.

use chrono::{Duration, Utc};
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

use super::{
    model::{EntryKind, Hold, HoldRef, HoldStatus, Posting, Settlement, Transaction, Wallet},
    repo,
};
use crate::error::ApiError;

/// System accounts (created by the wallet migration): the other side of every entry.
pub mod system {
    use uuid::Uuid;

    /// Credits spent on calls and chat (and given back by refunds).
    pub const REVENUE: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000001);
    /// Credits bought through payments.
    pub const PAYMENTS_CLEARING: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000002);
    /// Credits given away (signup bonus).
    pub const PROMOTIONS: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000003);
    /// Manual corrections by operators.
    pub const ADJUSTMENTS: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000004);
}

#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("insufficient credits: {needed} needed, {available} available")]
    InsufficientCredits { needed: i64, available: i64 },
    #[error("amount must be between 1 and {}", super::model::MAX_AMOUNT)]
    InvalidAmount,
    #[error("a {0:?} entry cannot move credits in this direction")]
    InvalidKind(EntryKind),
    #[error("hold not found")]
    HoldNotFound,
    #[error("the hold is already {0}")]
    HoldClosed(HoldStatus),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<WalletError> for ApiError {
    fn from(e: WalletError) -> Self {
        match e {
            WalletError::InsufficientCredits { .. } => Self::InsufficientCredits(e.to_string()),
            WalletError::InvalidAmount => Self::validation("amount", e.to_string()),
            WalletError::HoldNotFound => Self::NotFound,
            WalletError::HoldClosed(_) => Self::Conflict(e.to_string()),
            WalletError::InvalidKind(_) => Self::Internal(anyhow::anyhow!(e.to_string())),
            WalletError::Db(db) => db.into(),
        }
    }
}

pub type WalletResult<T> = Result<T, WalletError>;

/// The system account on the other side of an entry of this kind.
fn counter_account(kind: EntryKind) -> Uuid {
    match kind {
        EntryKind::TopUp => system::PAYMENTS_CLEARING,
        EntryKind::SignupBonus => system::PROMOTIONS,
        EntryKind::Adjustment => system::ADJUSTMENTS,
        EntryKind::CallDebit | EntryKind::ChatDebit | EntryKind::Refund => system::REVENUE,
    }
}

fn check_amount(amount: i64) -> WalletResult<()> {
    if (1..=super::model::MAX_AMOUNT).contains(&amount) {
        Ok(())
    } else {
        Err(WalletError::InvalidAmount)
    }
}

/// The user's account id, creating the account when the user has none yet.
pub async fn open_account(conn: &mut PgConnection, user_id: Uuid) -> WalletResult<Uuid> {
    if let Some(id) = repo::find_account_id(&mut *conn, user_id).await? {
        return Ok(id);
    }
    repo::insert_account(&mut *conn, Uuid::now_v7(), user_id).await?;
    repo::find_account_id(&mut *conn, user_id)
        .await?
        .ok_or(WalletError::Db(sqlx::Error::RowNotFound))
}

/// The user's wallet (an empty one when the user never had an account).
pub async fn wallet(conn: &mut PgConnection, user_id: Uuid) -> WalletResult<Wallet> {
    if let Some(w) = repo::wallet(&mut *conn, user_id).await? {
        return Ok(w);
    }
    let account = open_account(conn, user_id).await?;
    Ok(repo::account_wallet(&mut *conn, account).await?)
}

/// Add `posting.amount` credits to the user (top_up, refund, adjustment, signup_bonus).
pub async fn credit(
    conn: &mut PgConnection,
    user_id: Uuid,
    posting: Posting,
) -> WalletResult<Transaction> {
    check_amount(posting.amount)?;
    let mut tx = conn.begin().await?;
    let account = open_account(&mut tx, user_id).await?;
    let entry = credit_in_tx(&mut tx, account, &posting).await?;
    tx.commit().await?;
    Ok(entry)
}

/// Credit an account by id (payments credit the account they were made for, which stays
/// valid after its user is deleted).
pub async fn credit_account(
    conn: &mut PgConnection,
    account_id: Uuid,
    posting: Posting,
) -> WalletResult<Transaction> {
    check_amount(posting.amount)?;
    let mut tx = conn.begin().await?;
    let entry = credit_in_tx(&mut tx, account_id, &posting).await?;
    tx.commit().await?;
    Ok(entry)
}

async fn credit_in_tx(
    conn: &mut PgConnection,
    account_id: Uuid,
    posting: &Posting,
) -> WalletResult<Transaction> {
    if !posting.kind.is_credit() {
        return Err(WalletError::InvalidKind(posting.kind));
    }
    let (row, _) = repo::insert_entries(
        &mut *conn,
        account_id,
        counter_account(posting.kind),
        posting.amount,
        posting,
    )
    .await?;
    Ok(row.into())
}

/// Take `posting.amount` credits from the user's available credits (call_debit,
/// chat_debit, adjustment), or fail with `InsufficientCredits` and change nothing.
pub async fn debit(
    conn: &mut PgConnection,
    user_id: Uuid,
    posting: Posting,
) -> WalletResult<Transaction> {
    check_amount(posting.amount)?;
    if !posting.kind.is_debit() {
        return Err(WalletError::InvalidKind(posting.kind));
    }
    let mut tx = conn.begin().await?;
    let Some(account) = repo::lock_user_account(&mut *tx, user_id).await? else {
        return Err(WalletError::InsufficientCredits {
            needed: posting.amount,
            available: 0,
        });
    };
    let available = account.balance - account.reserved;
    if available < posting.amount {
        return Err(WalletError::InsufficientCredits {
            needed: posting.amount,
            available,
        });
    }
    let (row, _) = repo::insert_entries(
        &mut *tx,
        account.id,
        counter_account(posting.kind),
        -posting.amount,
        &posting,
    )
    .await?;
    tx.commit().await?;
    Ok(row.into())
}

/// Set `amount` credits aside for `ttl` (then the sweeper gives them back unless the hold
/// was settled, released or extended). Fails with `InsufficientCredits` when the available
/// credits cannot cover it.
pub async fn reserve(
    conn: &mut PgConnection,
    user_id: Uuid,
    amount: i64,
    ttl: Duration,
    reference: HoldRef,
) -> WalletResult<Hold> {
    check_amount(amount)?;
    let mut tx = conn.begin().await?;
    let Some(account) = repo::lock_user_account(&mut *tx, user_id).await? else {
        return Err(WalletError::InsufficientCredits {
            needed: amount,
            available: 0,
        });
    };
    let available = account.balance - account.reserved;
    if available < amount {
        return Err(WalletError::InsufficientCredits {
            needed: amount,
            available,
        });
    }
    repo::add_reserved(&mut *tx, account.id, amount).await?;
    let hold = repo::insert_hold(
        &mut *tx,
        Uuid::now_v7(),
        account.id,
        amount,
        reference.reference_type.as_deref(),
        reference.reference_id,
        reference.description.as_deref(),
        Utc::now() + ttl,
    )
    .await?;
    tx.commit().await?;
    Ok(hold.into())
}

/// Grow an active hold by `extra` credits (0 to only push its expiry) and keep it alive
/// for at least `ttl` more. A running call does this as it goes.
pub async fn extend(
    conn: &mut PgConnection,
    hold_id: Uuid,
    extra: i64,
    ttl: Duration,
) -> WalletResult<Hold> {
    if !(0..=super::model::MAX_AMOUNT).contains(&extra) {
        return Err(WalletError::InvalidAmount);
    }
    let mut tx = conn.begin().await?;
    let hold: Hold = repo::lock_hold(&mut *tx, hold_id)
        .await?
        .ok_or(WalletError::HoldNotFound)?
        .into();
    if hold.status != HoldStatus::Active {
        return Err(WalletError::HoldClosed(hold.status));
    }
    if extra > 0 {
        let account = repo::lock_account(&mut *tx, hold.account_id).await?;
        let available = account.balance - account.reserved;
        if available < extra {
            return Err(WalletError::InsufficientCredits {
                needed: extra,
                available,
            });
        }
        repo::add_reserved(&mut *tx, account.id, extra).await?;
    }
    let hold = repo::extend_hold(&mut *tx, hold_id, extra, Utc::now() + ttl).await?;
    tx.commit().await?;
    Ok(hold.into())
}

/// Close a hold with its real cost: debit `actual` (a call_debit carrying the hold's
/// reference) and give the rest of the hold back. Exactly once: settling a hold that is
/// already settled charges nothing and returns the first settlement (`already_settled`).
///
/// `actual` may exceed the hold; the excess is taken from the rest of the available
/// credits, and whatever even that cannot cover is reported as `shortfall` (the balance
/// never goes negative). A hold that was released or expired answers `HoldClosed`.
pub async fn settle(
    conn: &mut PgConnection,
    hold_id: Uuid,
    actual: i64,
) -> WalletResult<Settlement> {
    if !(0..=super::model::MAX_AMOUNT).contains(&actual) {
        return Err(WalletError::InvalidAmount);
    }
    let mut tx = conn.begin().await?;
    let hold: Hold = repo::lock_hold(&mut *tx, hold_id)
        .await?
        .ok_or(WalletError::HoldNotFound)?
        .into();
    match hold.status {
        HoldStatus::Active => {}
        HoldStatus::Settled => {
            let charged = hold.settled_amount.unwrap_or(0);
            tx.commit().await?;
            return Ok(Settlement {
                hold,
                charged,
                shortfall: 0,
                entry: None,
                already_settled: true,
            });
        }
        status => return Err(WalletError::HoldClosed(status)),
    }
    let account = repo::lock_account(&mut *tx, hold.account_id).await?;
    // What the wallet can pay once this hold is lifted.
    let payable = account.balance - account.reserved + hold.amount;
    let charged = actual.min(payable).max(0);
    repo::add_reserved(&mut *tx, account.id, -hold.amount).await?;
    let (entry, transaction_id) = if charged > 0 {
        let posting = Posting {
            kind: EntryKind::CallDebit,
            amount: charged,
            reference_type: hold
                .reference_type
                .clone()
                .or_else(|| Some("hold".to_string())),
            reference_id: hold.reference_id.or(Some(hold.id)),
            description: hold.description.clone(),
        };
        let (row, transaction_id) =
            repo::insert_entries(&mut *tx, account.id, system::REVENUE, -charged, &posting).await?;
        (Some(Transaction::from(row)), Some(transaction_id))
    } else {
        (None, None)
    };
    let hold =
        repo::close_hold(&mut *tx, hold_id, "settled", Some(charged), transaction_id).await?;
    tx.commit().await?;
    Ok(Settlement {
        hold: hold.into(),
        charged,
        shortfall: actual - charged,
        entry,
        already_settled: false,
    })
}

/// Give a hold's credits back without charging anything. Releasing a hold that is no
/// longer active changes nothing and returns it as it is.
pub async fn release(conn: &mut PgConnection, hold_id: Uuid) -> WalletResult<Hold> {
    let mut tx = conn.begin().await?;
    let hold: Hold = repo::lock_hold(&mut *tx, hold_id)
        .await?
        .ok_or(WalletError::HoldNotFound)?
        .into();
    if hold.status != HoldStatus::Active {
        tx.commit().await?;
        return Ok(hold);
    }
    repo::lock_account(&mut *tx, hold.account_id).await?;
    repo::add_reserved(&mut *tx, hold.account_id, -hold.amount).await?;
    let hold = repo::close_hold(&mut *tx, hold_id, "released", None, None).await?;
    tx.commit().await?;
    Ok(hold.into())
}

/// A hold as it is now.
pub async fn hold(conn: &mut PgConnection, hold_id: Uuid) -> WalletResult<Hold> {
    Ok(repo::find_hold(&mut *conn, hold_id)
        .await?
        .ok_or(WalletError::HoldNotFound)?
        .into())
}

/// Release every hold past its expiry (a crashed server must not keep credits reserved
/// forever). One idempotent statement, safe on several instances at once.
pub async fn release_expired_holds(db: &PgPool) -> sqlx::Result<u64> {
    repo::expire_holds(db).await
}
