# Tasks (issue 4): list and create with 10k tasks per user for 100 users, next to the
# PostgreSQL ceiling for the same statements. Sourced by scripts/bench.sh.
# shellcheck shell=bash
TASKS_PER_USER="${BENCH_TASKS_PER_USER:-10000}"
log "seeding $TASKS_PER_USER tasks for each of the 100 users (SQL, not timed)"
psql "$DB" -q -v ON_ERROR_STOP=1 <<SQL
insert into tasks (id, user_id, title, description, status, priority, source, metadata, created_at, completed_at)
select gen_random_uuid(), u.id, 'Seeded task ' || g || ' for ' || left(u.email, 12),
       case when g % 3 = 0 then 'details about task ' || g end,
       (array['todo','in_progress','done','cancelled'])[1 + g % 4],
       (array['low','medium','high','urgent'])[1 + g % 4],
       'manual', '{}'::jsonb, now() - make_interval(secs => g),
       case when g % 4 = 2 then now() end
from users u, generate_series(1, $TASKS_PER_USER) g;
analyze tasks;
SQL

record "GET /api/v1/tasks?limit=20" $LOADGEN run --url "$BASE/api/v1/tasks?limit=20" \
  --tokens "$WORK/tokens.txt" --concurrency "$CONC" --duration "$DURATION"
pg_ceiling "tasks list query" "select id, title, description, status, priority, due_date, due_time, parent_id, goal_id, note_id, source, source_reference, completed_at, metadata, version, created_at, updated_at, remind_at, estimate_minutes, snoozed_until from tasks where user_id = '$USER_ID' order by created_at desc, id desc limit 21;"

record "POST /api/v1/tasks" $LOADGEN run --url "$BASE/api/v1/tasks" --method POST \
  --body '{"title":"Bench task {n}","priority":"high"}' \
  --tokens "$WORK/tokens.txt" --concurrency "$CONC" --duration "$DURATION"
pg_ceiling "task insert + event (one transaction)" "begin;
insert into tasks (id, user_id, title, status, priority, source, metadata) values (gen_random_uuid(), '$USER_ID', 'pgbench task', 'todo', 'high', 'manual', '{}'::jsonb) returning id, title, description, status, priority, due_date, due_time, parent_id, goal_id, note_id, source, source_reference, completed_at, metadata, version, created_at, updated_at;
with e as (insert into events (user_id, type, data) values ('$USER_ID', 'task.created', '{\"title\":\"pgbench task\"}'::jsonb) returning id, user_id) select e.id from e, lateral (select pg_notify('cadence_events', e.id || ':' || e.user_id)) n;
commit;"
