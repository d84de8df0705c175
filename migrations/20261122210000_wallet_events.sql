-- Announce every change of a user's wallet (credit, debit, hold, settlement, release,
-- sweep) on the realtime stream, from the one place all those paths meet.
create or replace function publish_wallet_updated() returns trigger as $$
declare
    event_id bigint;
begin
    insert into events (user_id, type, data)
    values (new.user_id, 'wallet.updated', jsonb_build_object(
        'balance', new.balance,
        'reserved', new.reserved,
        'available', new.balance - new.reserved,
        'updated_at', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
    returning id into event_id;
    perform pg_notify('cadence_events', event_id || ':' || new.user_id);
    return null;
end;
$$ language plpgsql;

create trigger ledger_accounts_publish_wallet_updated
    after update of balance, reserved on ledger_accounts
    for each row
    when (new.user_id is not null
          and (old.balance, old.reserved) is distinct from (new.balance, new.reserved))
    execute function publish_wallet_updated();
