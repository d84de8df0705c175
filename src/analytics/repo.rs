use chrono::NaiveDate;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::UsagePeriod;

/// Usage per period of `granularity` (`day`, `week`, `month`: a `date_trunc` field) for
/// the UTC days `from..=to`. Calls count by creation time, chat replies and ledger
/// entries by theirs.
pub async fn usage(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    granularity: &str,
) -> sqlx::Result<Vec<UsagePeriod>> {
    sqlx::query_as!(
        UsagePeriod,
        r#"with bounds as (
               select $2::date::timestamp at time zone 'UTC' as lo,
                      ($3::date + 1)::timestamp at time zone 'UTC' as hi
           ),
           periods as (
               select p::date as period
               from generate_series(date_trunc($4::text, $2::date::timestamp),
                                    date_trunc($4::text, $3::date::timestamp),
                                    ('1 ' || $4::text)::interval) p
           ),
           c as (
               select date_trunc($4::text, c.created_at at time zone 'UTC')::date as period,
                      count(*) as calls,
                      sum(coalesce(c.duration_ms, 0)) as ms,
                      sum(c.cost_credits) as cost,
                      sum(coalesce((c.usage ->> 'llm_input_tokens')::bigint, 0)
                          + coalesce((c.usage ->> 'llm_output_tokens')::bigint, 0)) as tokens
               from calls c cross join bounds b
               where c.user_id = $1 and c.created_at >= b.lo and c.created_at < b.hi
               group by 1
           ),
           m as (
               select date_trunc($4::text, m.created_at at time zone 'UTC')::date as period,
                      count(*) as messages,
                      sum(coalesce((m.usage ->> 'input_tokens')::bigint, 0)
                          + coalesce((m.usage ->> 'output_tokens')::bigint, 0)) as tokens
               from messages m cross join bounds b
               where m.user_id = $1 and m.role = 'assistant' and m.usage is not null
                 and m.created_at >= b.lo and m.created_at < b.hi
               group by 1
           ),
           l as (
               select date_trunc($4::text, e.created_at at time zone 'UTC')::date as period,
                      sum(-e.amount) as cost
               from ledger_entries e
               join ledger_accounts a on a.id = e.account_id
               cross join bounds b
               where a.user_id = $1 and e.kind = 'chat_debit'
                 and e.created_at >= b.lo and e.created_at < b.hi
               group by 1
           )
           select p.period as "period!",
                  coalesce(c.calls, 0)::bigint as "calls!",
                  round(coalesce(c.ms, 0) / 60000.0, 2)::float8 as "minutes!",
                  (coalesce(c.cost, 0) + coalesce(l.cost, 0))::bigint as "cost_credits!",
                  coalesce(m.messages, 0)::bigint as "chat_messages!",
                  (coalesce(c.tokens, 0) + coalesce(m.tokens, 0))::bigint as "llm_tokens!"
           from periods p
           left join c using (period)
           left join m using (period)
           left join l using (period)
           order by p.period"#,
        user_id,
        from,
        to,
        granularity
    )
    .fetch_all(db)
    .await
}
