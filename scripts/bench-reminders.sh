#!/usr/bin/env bash
# `make bench-reminders` (also the `reminders` section of `make bench`; `BENCH_ONLY=reminders
# make bench` runs it alone), issue 15: BENCH_REMINDERS (10,000) reminders due at the same
# second, created through the API on two Cadence instances that share one database, each
# running its job worker. Measures in SQL, once they are due: every reminder delivered in-app
# (its `in_app` delivery row) and within how long of `remind_at` (p50/p99/max against the bar
# BENCH_REMINDER_LIMIT_SECS), none twice (notifications per task, in-app deliveries and
# `notification.created` events per notification), the job queue's throughput (jobs finished
# per second from `jobs.finished_at`) and lag, the split of the work between the instances
# and their lag histograms (`jobs_finished_total`, `jobs_lag_seconds` from each `/metrics`),
# and CPU-seconds per 1,000 reminders for the servers and PostgreSQL (from /proc).
#
# Knobs: BENCH_REMINDERS (10000), BENCH_REMINDER_USERS (100), BENCH_REMINDER_LEAD_SECS (45:
# how far ahead of now the reminders are set; creating them must end before that),
# BENCH_REMINDER_LIMIT_SECS (60: the bar), BENCH_REMINDER_TIMEOUT_SECS (600),
# BENCH_JOBS_CONCURRENCY (the `jobs.concurrency` default), BENCH_POOL (32),
# BENCH_REMINDERS_OUT (BENCHMARKS.reminders.md), BENCH_NO_BUILD=1 to use the binaries as built.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
apt_install python3 procps curl postgresql-client

COUNT="${BENCH_REMINDERS:-10000}"
USERS="${BENCH_REMINDER_USERS:-100}"
LEAD="${BENCH_REMINDER_LEAD_SECS:-45}"
LIMIT="${BENCH_REMINDER_LIMIT_SECS:-60}"
TIMEOUT="${BENCH_REMINDER_TIMEOUT_SECS:-600}"
POOL="${BENCH_POOL:-32}"
OUT="${BENCH_REMINDERS_OUT:-BENCHMARKS.reminders.md}"
DBNAME=cadence_bench_reminders
PORTS=(18082 18083)
SECRET=bench-reminders-secret-bench-reminders-01
CLK_TCK=$(getconf CLK_TCK)
WORK="$(mktemp -d)"
PIDS=()
stop_servers() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop_servers; rm -rf "$WORK"' EXIT

if [ -z "${BENCH_NO_BUILD:-}" ]; then
  log "building release binaries (cadence, loadgen)"
  SQLX_OFFLINE=true cargo build --release --quiet --bin cadence --bin loadgen
fi

server=$(find_postgres)
psql "$server/postgres" -qc "drop database if exists $DBNAME with (force)" >/dev/null
DB=$(ensure_database "$server" "$DBNAME")
sql() { psql "$DB" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

start_instance() { # index
  local port=${PORTS[$1]}
  env CADENCE_ENV=production DATABASE_URL="$DB" PORT="$port" CADENCE__SERVER__HOST=127.0.0.1 \
    CADENCE__AUTH__JWT_SECRET="$SECRET" CADENCE__AUTH__ACCESS_TTL_SECS=86400 \
    CADENCE__AUTH__REGISTER_RATE_PER_IP=100000000 CADENCE__LOG__LEVEL=warn \
    CADENCE__DATABASE__MAX_CONNECTIONS="$POOL" \
    ${BENCH_JOBS_CONCURRENCY:+CADENCE__JOBS__CONCURRENCY=$BENCH_JOBS_CONCURRENCY} \
    ./target/release/cadence >"$WORK/cadence-$1.log" 2>&1 &
  PIDS+=($!)
  until curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$WORK/cadence-$1.log"; die "instance $1 died"; }
    sleep 0.05
  done
}
# The first instance migrates the fresh database, then the second joins it.
start_instance 0
start_instance 1
BASES=(--base "http://127.0.0.1:${PORTS[0]}" --base "http://127.0.0.1:${PORTS[1]}")
JOBS_CONC="${BENCH_JOBS_CONCURRENCY:-$(sed -n '/^\[jobs\]/,/^\[/s/^concurrency *= *//p' config/default.toml)}"

log "registering $USERS users"
./target/release/loadgen register --base "http://127.0.0.1:${PORTS[0]}" --users "$USERS" \
  --out "$WORK/tokens.txt" >/dev/null

DUE=$(sql "select to_char(date_trunc('second', now() + make_interval(secs => $LEAD)) at time zone 'utc',
                          'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
log "creating $COUNT tasks reminding at $DUE, through both instances"
created=$(./target/release/loadgen reminders "${BASES[@]}" --tokens "$WORK/tokens.txt" \
  --count "$COUNT" --remind-at "$DUE" --concurrency 32)
log "created: $created"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["created"]==int(sys.argv[2]) else 1)' \
  "$created" "$COUNT" || die "not every task was created: $created"
late=$(sql "select count(*) from tasks where remind_at = '$DUE' and created_at >= remind_at")
[ "$late" = 0 ] || log "warning: $late tasks were created after they were due (raise BENCH_REMINDER_LEAD_SECS)"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
server_ticks() { local t=0 pid; for pid in "${PIDS[@]}"; do t=$((t + $(ticks "$pid"))); done; echo $t; }
backend_ticks() { # "pid ticks" of the bench database's backends
  local pid
  for pid in $(sql "select pid from pg_stat_activity where datname = '$DBNAME' and pid <> pg_backend_pid()"); do
    echo "$pid $(ticks "$pid")"
  done
}

log "waiting until $DUE"
until [ "$(sql "select now() >= '$DUE'::timestamptz")" = t ]; do sleep 0.2; done
s0=$(server_ticks); b0=$(backend_ticks)
DELIVERED="select count(*) from notification_deliveries d join notifications n on n.id = d.notification_id
           where n.kind = 'reminder' and d.channel = 'in_app' and d.status = 'delivered'"
deadline=$((SECONDS + TIMEOUT))
while :; do
  done_n=$(sql "$DELIVERED")
  [ "$done_n" -ge "$COUNT" ] && break
  [ $SECONDS -ge $deadline ] && { log "timed out with $done_n of $COUNT delivered in-app"; break; }
  sleep 0.5
done
log "$done_n of $COUNT delivered in-app; waiting for the queue of due jobs to drain"
until [ "$(sql "select count(*) from jobs where status in ('queued', 'running') and run_at <= now()")" = 0 ]; do
  [ $SECONDS -ge $deadline ] && { log "timed out draining the queue"; break; }
  sleep 0.5
done
s1=$(server_ticks); b1=$(backend_ticks)
for port in "${PORTS[@]}"; do curl -fsS "http://127.0.0.1:$port/metrics" >"$WORK/metrics-$port.txt"; done

sql "select json_build_object(
  'tasks', (select count(*) from tasks where remind_at = '$DUE'),
  'notified_tasks', (select count(distinct source_id) from notifications where kind = 'reminder'),
  'tasks_notified_twice', (select count(*) from (select source_id from notifications where kind = 'reminder'
                            group by source_id having count(*) > 1) x),
  'max_notifications_per_task', (select coalesce(max(c), 0) from (select count(*) c from notifications
                            where kind = 'reminder' group by source_id) x),
  'notifications', (select count(*) from notifications where kind = 'reminder'),
  'in_app_delivered', ($DELIVERED),
  'in_app_twice', (select count(*) from (select d.notification_id from notification_deliveries d
                    where d.channel = 'in_app' group by d.notification_id having count(*) > 1) x),
  'created_events', (select count(*) from events where type = 'notification.created'),
  'created_events_twice', (select count(*) from (select data->>'id' from events where type = 'notification.created'
                            group by data->>'id' having count(*) > 1) x),
  'raise_s', (select json_build_object(
      'p50', percentile_cont(0.5) within group (order by s), 'p99', percentile_cont(0.99) within group (order by s),
      'max', max(s)) from (select extract(epoch from n.created_at - t.remind_at)::float8 s
        from notifications n join tasks t on t.id::text = n.source_id where n.kind = 'reminder') x),
  'in_app_s', (select json_build_object(
      'p50', percentile_cont(0.5) within group (order by s), 'p99', percentile_cont(0.99) within group (order by s),
      'max', max(s)) from (select extract(epoch from d.at - t.remind_at)::float8 s
        from notification_deliveries d join notifications n on n.id = d.notification_id
        join tasks t on t.id::text = n.source_id where n.kind = 'reminder' and d.channel = 'in_app') x),
  'step_lag_s', (select json_build_object(
      'p50', percentile_cont(0.5) within group (order by s), 'p99', percentile_cont(0.99) within group (order by s),
      'max', max(s)) from (select extract(epoch from d.at - n.created_at)::float8 s
        from notification_deliveries d join notifications n on n.id = d.notification_id
        where n.kind = 'reminder' and d.channel = 'in_app') x),
  'jobs', (select json_object_agg(kind, json_build_object('done', done, 'failed', failed, 'first', first, 'last', last, 'attempts_max', am))
        from (select kind, count(*) filter (where status = 'done') done, count(*) filter (where status = 'failed') failed,
                     extract(epoch from min(finished_at) - '$DUE'::timestamptz)::float8 first,
                     extract(epoch from max(finished_at) - '$DUE'::timestamptz)::float8 last, max(attempts) am
              from jobs where finished_at >= '$DUE'::timestamptz group by kind) x),
  'jobs_span_s', (select extract(epoch from max(finished_at) - '$DUE'::timestamptz)::float8 from jobs
        where finished_at >= '$DUE'::timestamptz),
  'jobs_finished', (select count(*) from jobs where finished_at >= '$DUE'::timestamptz),
  'per_second', (select json_agg(c order by sec) from (select floor(extract(epoch from d.at - '$DUE'::timestamptz))::int sec, count(*) c
        from notification_deliveries d where d.channel = 'in_app' group by 1) x)
)" >"$WORK/stats.json"

python3 - "$WORK" "$OUT" "$COUNT" "$USERS" "$DUE" "$LIMIT" "$JOBS_CONC" "$POOL" "$created" "$late" \
  "$s0" "$s1" "$CLK_TCK" "$b0" "$b1" "${PORTS[@]}" <<'PY'
import json, os, re, sys, datetime
work, out, count, users, due, limit, conc, pool, created, late, s0, s1, hz, b0, b1, *ports = sys.argv[1:]
count, limit, hz = int(count), float(limit), int(hz)
st = json.load(open(f"{work}/stats.json"))
cr = json.loads(created)
def ticks(text): return dict(l.split() for l in text.splitlines() if l.strip())
before, after = ticks(b0), ticks(b1)
pg_s = sum(int(t) - int(before.get(p, 0)) for p, t in after.items()) / hz
srv_s = (int(s1) - int(s0)) / hz
# /metrics of each instance: reminder jobs it finished, and its claim-lag histogram.
per = []
buckets = {}
for port in ports:
    text = open(f"{work}/metrics-{port}.txt").read()
    def val(pattern):
        return sum(float(m) for m in re.findall("(?:" + pattern + r")\s+([0-9.e+]+)$", text, re.M))
    per.append({"port": port,
                "reminders": val(r'^jobs_finished_total\{[^}]*kind="reminder"[^}]*outcome="done"[^}]*\}|^jobs_finished_total\{[^}]*outcome="done"[^}]*kind="reminder"[^}]*\}'),
                "steps": val(r'^jobs_finished_total\{[^}]*kind="notification.step"[^}]*outcome="done"[^}]*\}|^jobs_finished_total\{[^}]*outcome="done"[^}]*kind="notification.step"[^}]*\}')})
    for le, n in re.findall(r'^jobs_lag_seconds_bucket\{[^}]*kind="reminder"[^}]*le="([^"]+)"[^}]*\}\s+([0-9.e+]+)$', text, re.M):
        buckets[le] = buckets.get(le, 0) + float(n)
def hist_p(q):
    items = sorted(((float("inf") if le == "+Inf" else float(le)), n) for le, n in buckets.items())
    total = items[-1][1] if items else 0
    for le, n in items:
        if total and n >= q * total:
            return le
    return float("nan")
p99_bucket = hist_p(0.99)
jobs = st["jobs"] or {}
span = st["jobs_span_s"] or float("nan")
fmt = lambda d: f"{d['p50']:.2f} / {d['p99']:.2f} / {d['max']:.2f}" if d and d.get("max") is not None else "—"
ok = (st["in_app_delivered"] == count and st["tasks_notified_twice"] == 0 and st["in_app_twice"] == 0
      and st["created_events_twice"] == 0 and st["in_app_s"] and st["in_app_s"]["max"] is not None
      and st["in_app_s"]["max"] <= limit)
load = open("/proc/loadavg").read().split()[:3]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
L = ["## Reminders: 10,000 due at once on two instances (issue 15)" if count == 10000 else f"## Reminders: {count} due at once on two instances (issue 15)", "",
     f"`make bench-reminders` (scripts/bench-reminders.sh) on {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; {cpu}, "
     f"{os.cpu_count()} cores shared by both instances, PostgreSQL, the load generator and other work "
     f"(load average at the write-up {' '.join(load)}).",
     f"{count} tasks of {users} users created through `POST /api/v1/tasks` (alternating between the instances, "
     f"{cr['rps']:.0f} req/s, {cr['seconds']:.1f} s, {late} created after they were due), all with `remind_at` = {due}; "
     f"two release instances (`CADENCE_ENV=production`) on one database, each with its job worker "
     f"(`jobs.concurrency` = {conc}) and a pool of {pool}. Every reminder runs the real path: the `reminder` job raises the "
     f"notification (`notification.created`), its escalation's first step (`notification.step`, in-app) records the delivery.", "",
     "| measure | value |", "|---|---:|",
     f"| reminders delivered in-app | **{st['in_app_delivered']} / {count}** |",
     f"| tasks notified twice / in-app delivered twice / `notification.created` twice | **{st['tasks_notified_twice']} / {st['in_app_twice']} / {st['created_events_twice']}** |",
     f"| due → in-app delivery, p50 / p99 / max s | **{fmt(st['in_app_s'])}** (bar: all within {limit:.0f} s: {'met' if ok else 'missed'}) |",
     f"| due → notification raised, p50 / p99 / max s | {fmt(st['raise_s'])} |",
     f"| raised → in-app step ran (step job lag), p50 / p99 / max s | {fmt(st['step_lag_s'])} |",
     f"| jobs finished after the due time (all kinds) | {st['jobs_finished']} in {span:.1f} s = **{st['jobs_finished'] / span if span else float('nan'):.0f} jobs/s** |",
     f"| reminder jobs: claim lag p99 (from `jobs_lag_seconds`, both instances; bucket bound) | "
     f"{'> ' + format(max((float(b) for b in buckets if b != '+Inf'), default=0), 'g') if p99_bucket == float('inf') else '≤ ' + format(p99_bucket, 'g')} s |",
     f"| CPU per 1,000 reminders: both servers / PostgreSQL | {srv_s / count * 1000:.2f} s / {pg_s / count * 1000:.2f} s |", ""]
L.append("Jobs by kind (finished after the due time; seconds after it): " + "; ".join(
    f"`{k}` {v['done']} done, {v['failed']} failed, first {v['first']:.1f} s, last {v['last']:.1f} s, max attempts {v['attempts_max']}"
    for k, v in sorted(jobs.items())) + ".")
L.append("Work per instance (`jobs_finished_total`, done): " + "; ".join(
    f"instance :{p['port']} {p['reminders']:.0f} reminders, {p['steps']:.0f} steps" for p in per) + ".")
if st.get("per_second"):
    L.append("In-app deliveries per second, from the first one on: " + ", ".join(str(c) for c in st["per_second"]) + ".")
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
sys.exit(0 if ok else 1)
PY
log "wrote $OUT"
