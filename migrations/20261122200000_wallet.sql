-- The wallet: accounts, an append-only double-entry ledger, holds, idempotency keys and
-- payments. Only `src/wallet` and `src/payments` write these tables.

-- One account per user wallet plus a few system accounts (the other side of every entry).
-- A user's account survives the user: `user_id` becomes NULL when the account is deleted,
-- so the ledger stays complete but no longer points at personal data.
create table ledger_accounts (
    id              uuid primary key,
    kind            text not null check (kind in ('user', 'system')),
    user_id         uuid unique references users (id) on delete set null,
    system_code     text unique,
    -- Cached sum of this account's entries, maintained only by the ledger insert trigger
    -- (user accounts only: system accounts would be a lock hot spot, their balance is the
    -- sum of their entries, computed when needed).
    balance         bigint not null default 0,
    -- Sum of the account's active holds.
    reserved        bigint not null default 0,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint ledger_accounts_system_code check ((kind = 'system') = (system_code is not null)),
    constraint ledger_accounts_system_no_balance check (kind = 'user' or (balance = 0 and reserved = 0)),
    constraint ledger_accounts_balance_nonnegative check (balance >= 0),
    constraint ledger_accounts_reserved_nonnegative check (reserved >= 0),
    constraint ledger_accounts_available_nonnegative check (balance - reserved >= 0)
);
select manage_updated_at('ledger_accounts');

insert into ledger_accounts (id, kind, system_code) values
    ('00000000-0000-7000-8000-000000000001', 'system', 'revenue'),
    ('00000000-0000-7000-8000-000000000002', 'system', 'payments_clearing'),
    ('00000000-0000-7000-8000-000000000003', 'system', 'promotions'),
    ('00000000-0000-7000-8000-000000000004', 'system', 'adjustments');

-- Ledger entries. Every statement that inserts entries inserts a balanced set per
-- `transaction_id` (checked below), so every ledger transaction sums to zero.
create table ledger_entries (
    id              uuid primary key,
    transaction_id  uuid not null,
    account_id      uuid not null references ledger_accounts (id),
    kind            text not null check (kind in
                        ('top_up', 'call_debit', 'chat_debit', 'refund', 'adjustment', 'signup_bonus')),
    amount          bigint not null check (amount <> 0),
    -- The account's balance right after this entry (set by the trigger; NULL for system accounts).
    balance_after   bigint,
    reference_type  text,
    reference_id    uuid,
    description     text,
    created_at      timestamptz not null default now()
);
create index ledger_entries_account_idx on ledger_entries (account_id, created_at desc, id desc);
create index ledger_entries_account_kind_idx on ledger_entries (account_id, kind, created_at desc, id desc);
create index ledger_entries_transaction_idx on ledger_entries (transaction_id);
create index ledger_entries_reference_idx on ledger_entries (reference_type, reference_id);

-- Entries are history: never updated, never deleted.
create function ledger_entries_append_only() returns trigger as $$
begin
    raise exception 'ledger entries are append-only (% refused)', tg_op
        using errcode = 'integrity_constraint_violation';
end;
$$ language plpgsql;

create trigger ledger_entries_no_update before update or delete on ledger_entries
    for each row execute function ledger_entries_append_only();
create trigger ledger_entries_no_truncate before truncate on ledger_entries
    for each statement execute function ledger_entries_append_only();

-- The only way a balance changes: inserting an entry moves its account's balance and
-- records the result on the entry. The account CHECKs refuse an overdraft.
create function ledger_entries_apply() returns trigger as $$
declare
    after_balance bigint;
begin
    update ledger_accounts set balance = balance + new.amount
     where id = new.account_id and kind = 'user'
    returning balance into after_balance;
    new.balance_after := after_balance;
    return new;
end;
$$ language plpgsql;

create trigger ledger_entries_apply before insert on ledger_entries
    for each row execute function ledger_entries_apply();

-- Double entry: the entries a statement inserts sum to zero per transaction.
create function ledger_entries_balanced() returns trigger as $$
declare
    unbalanced uuid;
begin
    select transaction_id into unbalanced from inserted
     group by transaction_id having sum(amount) <> 0 limit 1;
    if unbalanced is not null then
        raise exception 'ledger transaction % does not sum to zero', unbalanced
            using errcode = 'integrity_constraint_violation';
    end if;
    return null;
end;
$$ language plpgsql;

create trigger ledger_entries_balanced after insert on ledger_entries
    referencing new table as inserted
    for each statement execute function ledger_entries_balanced();

-- A balance may only move through the ledger (the trigger above runs at depth 2).
create function ledger_accounts_guard_balance() returns trigger as $$
begin
    if tg_op = 'INSERT' then
        if new.balance <> 0 then
            raise exception 'a new account starts at balance 0'
                using errcode = 'integrity_constraint_violation';
        end if;
    elsif new.balance is distinct from old.balance and pg_trigger_depth() < 2 then
        raise exception 'balances change only through ledger entries'
            using errcode = 'integrity_constraint_violation';
    end if;
    return new;
end;
$$ language plpgsql;

create trigger ledger_accounts_guard_balance before insert or update on ledger_accounts
    for each row execute function ledger_accounts_guard_balance();

-- Holds: credits set aside for work whose cost is known later (a voice call). Not ledger
-- entries; settling one writes a call_debit. `reserved` on the account is the sum of the
-- active holds.
create table wallet_holds (
    id              uuid primary key,
    account_id      uuid not null references ledger_accounts (id),
    amount          bigint not null check (amount > 0),
    status          text not null default 'active'
                        check (status in ('active', 'settled', 'released', 'expired')),
    reference_type  text,
    reference_id    uuid,
    description     text,
    expires_at      timestamptz not null,
    -- What settling charged (the rest went back to available), and its ledger transaction.
    settled_amount  bigint,
    transaction_id  uuid,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    closed_at       timestamptz,
    constraint wallet_holds_closed check ((status = 'active') = (closed_at is null))
);
create index wallet_holds_active_expiry_idx on wallet_holds (expires_at) where status = 'active';
create index wallet_holds_account_idx on wallet_holds (account_id) where status = 'active';
select manage_updated_at('wallet_holds');

-- Idempotency-Key: the first response to (user, key) is stored and replayed for 24 h.
-- A row with status NULL is a request still in flight (owned by `owner` until `locked_until`).
create table idempotency_keys (
    user_id         uuid not null references users (id) on delete cascade,
    key             text not null,
    request_hash    bytea not null,
    owner           uuid not null,
    locked_until    timestamptz not null,
    status          smallint,
    response_headers jsonb,
    response_body   bytea,
    created_at      timestamptz not null default now(),
    expires_at      timestamptz not null,
    primary key (user_id, key),
    constraint idempotency_keys_key_length check (char_length(key) between 1 and 255)
);
create index idempotency_keys_expiry_idx on idempotency_keys (expires_at);

-- Payments (top-ups through a payment provider). Kept when the user is deleted, detached:
-- `user_id` becomes NULL, the money still lands on (or stays with) the detached account.
create table payments (
    id              uuid primary key,
    user_id         uuid references users (id) on delete set null,
    account_id      uuid not null references ledger_accounts (id),
    provider        text not null check (provider in ('test', 'stripe')),
    status          text not null default 'pending'
                        check (status in ('pending', 'succeeded', 'failed', 'expired')),
    amount_credits  bigint not null check (amount_credits > 0),
    -- What the buyer pays, in the currency's minor unit (cents).
    amount_minor    bigint not null check (amount_minor > 0),
    currency        text not null,
    -- The provider's id for the checkout (Stripe Checkout Session id).
    provider_ref    text,
    checkout_url    text,
    -- Secret in the test provider's checkout link.
    checkout_token  text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    completed_at    timestamptz
);
create index payments_user_idx on payments (user_id, created_at desc, id desc);
create unique index payments_provider_ref_key on payments (provider, provider_ref)
    where provider_ref is not null;
select manage_updated_at('payments');

-- Webhook events already processed (providers redeliver; each event counts once).
create table payment_events (
    event_id        text primary key,
    provider        text not null,
    event_type      text not null,
    payment_id      uuid,
    received_at     timestamptz not null default now()
);
