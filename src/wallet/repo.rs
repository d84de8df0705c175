//! Wallet SQL. Balances move only through `insert_entries` (a database trigger applies each
//! entry to its account); `reserved` moves with the holds.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::model::{EntryRow, HoldRow, Posting, Wallet};

pub struct AccountState {
    pub id: Uuid,
    pub balance: i64,
    pub reserved: i64,
}

pub async fn find_account_id(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!("select id from ledger_accounts where user_id = $1", user_id)
        .fetch_optional(db)
        .await
}

/// Create the user's account unless it exists.
pub async fn insert_account(db: impl PgExecutor<'_>, id: Uuid, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into ledger_accounts (id, kind, user_id) values ($1, 'user', $2)
         on conflict (user_id) do nothing",
        id,
        user_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The user's account, locked until the transaction ends.
pub async fn lock_user_account(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Option<AccountState>> {
    sqlx::query_as!(
        AccountState,
        "select id, balance, reserved from ledger_accounts where user_id = $1 for update",
        user_id
    )
    .fetch_optional(db)
    .await
}

/// An account, locked until the transaction ends.
pub async fn lock_account(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<AccountState> {
    sqlx::query_as!(
        AccountState,
        "select id, balance, reserved from ledger_accounts where id = $1 for update",
        id
    )
    .fetch_one(db)
    .await
}

pub async fn wallet(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<Wallet>> {
    sqlx::query_as!(
        Wallet,
        r#"select balance, reserved, balance - reserved as "available!", updated_at
           from ledger_accounts where user_id = $1"#,
        user_id
    )
    .fetch_optional(db)
    .await
}

pub async fn account_wallet(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Wallet> {
    sqlx::query_as!(
        Wallet,
        r#"select balance, reserved, balance - reserved as "available!", updated_at
           from ledger_accounts where id = $1"#,
        id
    )
    .fetch_one(db)
    .await
}

/// Insert one balanced ledger transaction: `signed_amount` on `account_id`, the opposite
/// on `counter_account`. Returns the entry of `account_id` and the transaction id.
pub async fn insert_entries(
    db: impl PgExecutor<'_>,
    account_id: Uuid,
    counter_account: Uuid,
    signed_amount: i64,
    posting: &Posting,
) -> sqlx::Result<(EntryRow, Uuid)> {
    let entry_id = Uuid::now_v7();
    let counter_id = Uuid::now_v7();
    let transaction_id = Uuid::now_v7();
    let rows = sqlx::query_as!(
        EntryRow,
        r#"insert into ledger_entries
               (id, transaction_id, account_id, kind, amount, reference_type, reference_id, description)
           values ($1, $3, $4, $6, $7, $8, $9, $10),
                  ($2, $3, $5, $6, -$7::bigint, $8, $9, $10)
           returning id, kind, amount, balance_after, reference_type, reference_id, description,
                     created_at"#,
        entry_id,
        counter_id,
        transaction_id,
        account_id,
        counter_account,
        posting.kind.as_str(),
        signed_amount,
        posting.reference_type.as_deref(),
        posting.reference_id,
        posting.description.as_deref(),
    )
    .fetch_all(db)
    .await?;
    let entry = rows
        .into_iter()
        .find(|r| r.id == entry_id)
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok((entry, transaction_id))
}

pub async fn add_reserved(
    db: impl PgExecutor<'_>,
    account_id: Uuid,
    delta: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update ledger_accounts set reserved = reserved + $2 where id = $1",
        account_id,
        delta
    )
    .execute(db)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_hold(
    db: impl PgExecutor<'_>,
    id: Uuid,
    account_id: Uuid,
    amount: i64,
    reference_type: Option<&str>,
    reference_id: Option<Uuid>,
    description: Option<&str>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<HoldRow> {
    sqlx::query_as!(
        HoldRow,
        r#"insert into wallet_holds
               (id, account_id, amount, reference_type, reference_id, description, expires_at)
           values ($1, $2, $3, $4, $5, $6, $7)
           returning id, account_id, amount, status, reference_type, reference_id, description,
                     expires_at, settled_amount, transaction_id, created_at, closed_at"#,
        id,
        account_id,
        amount,
        reference_type,
        reference_id,
        description,
        expires_at
    )
    .fetch_one(db)
    .await
}

/// A hold, locked until the transaction ends.
pub async fn lock_hold(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<HoldRow>> {
    sqlx::query_as!(
        HoldRow,
        r#"select id, account_id, amount, status, reference_type, reference_id, description,
                  expires_at, settled_amount, transaction_id, created_at, closed_at
           from wallet_holds where id = $1 for update"#,
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn find_hold(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<HoldRow>> {
    sqlx::query_as!(
        HoldRow,
        r#"select id, account_id, amount, status, reference_type, reference_id, description,
                  expires_at, settled_amount, transaction_id, created_at, closed_at
           from wallet_holds where id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn extend_hold(
    db: impl PgExecutor<'_>,
    id: Uuid,
    extra: i64,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<HoldRow> {
    sqlx::query_as!(
        HoldRow,
        r#"update wallet_holds set amount = amount + $2, expires_at = greatest(expires_at, $3)
           where id = $1
           returning id, account_id, amount, status, reference_type, reference_id, description,
                     expires_at, settled_amount, transaction_id, created_at, closed_at"#,
        id,
        extra,
        expires_at
    )
    .fetch_one(db)
    .await
}

/// Close an active hold with `status` (settled, released).
pub async fn close_hold(
    db: impl PgExecutor<'_>,
    id: Uuid,
    status: &str,
    settled_amount: Option<i64>,
    transaction_id: Option<Uuid>,
) -> sqlx::Result<HoldRow> {
    sqlx::query_as!(
        HoldRow,
        r#"update wallet_holds
              set status = $2, settled_amount = $3, transaction_id = $4, closed_at = now()
           where id = $1 and status = 'active'
           returning id, account_id, amount, status, reference_type, reference_id, description,
                     expires_at, settled_amount, transaction_id, created_at, closed_at"#,
        id,
        status,
        settled_amount,
        transaction_id
    )
    .fetch_one(db)
    .await
}

/// Expire every active hold past its expiry and give its credits back, in one statement.
/// An advisory lock lets one instance sweep at a time (others sweep nothing this round);
/// holds being settled right now are skipped, not waited for.
pub async fn expire_holds(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let r = sqlx::query!(
        r#"with due as (
               select id from wallet_holds
                where status = 'active' and expires_at < now()
                  and pg_try_advisory_xact_lock(hashtext('cadence.wallet.expire_holds'))
                order by expires_at
                limit 1000
                for update skip locked
           ), closed as (
               update wallet_holds h set status = 'expired', closed_at = now()
                 from due where h.id = due.id and h.status = 'active'
               returning h.account_id, h.amount
           ), per_account as (
               select account_id, sum(amount)::bigint as amount from closed group by account_id
           )
           update ledger_accounts a set reserved = a.reserved - p.amount
             from per_account p where a.id = p.account_id"#
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

pub async fn list_entries(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    kinds: &[String],
    cursor_ts: Option<DateTime<Utc>>,
    cursor_id: Option<Uuid>,
    fetch: i64,
) -> sqlx::Result<Vec<EntryRow>> {
    sqlx::query_as!(
        EntryRow,
        r#"select e.id, e.kind, e.amount, e.balance_after, e.reference_type, e.reference_id,
                  e.description, e.created_at
           from ledger_entries e
           join ledger_accounts a on a.id = e.account_id
           where a.user_id = $1
             and (cardinality($2::text[]) = 0 or e.kind = any($2))
             and ($3::timestamptz is null or (e.created_at, e.id) < ($3, $4))
           order by e.created_at desc, e.id desc
           limit $5"#,
        user_id,
        kinds,
        cursor_ts,
        cursor_id,
        fetch
    )
    .fetch_all(db)
    .await
}
