#!/usr/bin/env bash
# `make bench-ref` (also a section of `make bench`, issue 21): Cadence next to the bare
# reference (src/bin/bare_ref.rs: the smallest axum + sqlx program serving the same SQL and
# JSON with only a JWT check), in one run, on the same database and pool size, driven by wrk.
# Reports Cadence as a percentage of the reference, CPU-seconds per 1,000 requests for each
# server and for its PostgreSQL backends (from /proc), and p99 at half of Cadence's maximum.
#
# Knobs: BENCH_SECONDS (20) per wrk run, BENCH_ROUNDS (3; rounds alternate which server goes
# first), BENCH_CONNECTIONS (64), BENCH_POOL (32, both servers), BENCH_REF_DB
# (cadence_bench_ref: reused between runs once seeded; BENCH_RESEED=1 starts over),
# BENCH_REF_OUT (BENCHMARKS.reference.md), BENCH_NO_BUILD=1 to use the binaries as built,
# BENCH_ROUTES ("list me create"), BENCH_REF_LIST_SQL (filtered | catch_all, see bare_ref.rs),
# BENCH_REF_TEST_BEFORE_ACQUIRE (true | false), BENCH_CADENCE_BIN (target/release/cadence:
# point it at a saved build to compare before/after).
# Short mode for iterating: BENCH_SECONDS=5 BENCH_ROUNDS=1 make bench-ref
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
apt_install wrk python3 procps curl postgresql-client

SECS="${BENCH_SECONDS:-20}"
ROUNDS="${BENCH_ROUNDS:-3}"
CONN="${BENCH_CONNECTIONS:-64}"
POOL="${BENCH_POOL:-32}"
DBNAME="${BENCH_REF_DB:-cadence_bench_ref}"
OUT="${BENCH_REF_OUT:-BENCHMARKS.reference.md}"
ROUTES="${BENCH_ROUTES:-list me create}"
CADENCE_PORT="${BENCH_CADENCE_PORT:-18081}"
REF_PORT="${BENCH_REF_PORT:-18090}"
SECRET=bench-ref-secret-bench-ref-secret-0001
STATE_DIR="$ROOT/target/bench-ref" # tokens of the seeded users survive between runs
TASKS_PER_USER=10000
CLK_TCK=$(getconf CLK_TCK)
WORK="$(mktemp -d)"
mkdir -p "$STATE_DIR"
trap 'stop_servers; rm -rf "$WORK"' EXIT

if [ -z "${BENCH_NO_BUILD:-}" ]; then
  log "building release binaries (cadence, bare_ref, loadgen)"
  SQLX_OFFLINE=true cargo build --release --quiet --bin cadence --bin bare_ref --bin loadgen
fi

server=$(find_postgres)
DB="$server/$DBNAME"

start_servers() {
  env CADENCE_ENV=production DATABASE_URL="$DB" PORT="$CADENCE_PORT" CADENCE__SERVER__HOST=127.0.0.1 \
    CADENCE__AUTH__JWT_SECRET="$SECRET" CADENCE__AUTH__ACCESS_TTL_SECS=2592000 \
    CADENCE__AUTH__REGISTER_RATE_PER_IP=100000000 CADENCE__LOG__LEVEL=warn \
    CADENCE__DATABASE__MAX_CONNECTIONS="$POOL" \
    "${BENCH_CADENCE_BIN:-./target/release/cadence}" >"$WORK/cadence.log" 2>&1 &
  CADENCE_PID=$!
  wait_up "http://127.0.0.1:$CADENCE_PORT/health" $CADENCE_PID "$WORK/cadence.log"
  env DATABASE_URL="$DB" PORT="$REF_PORT" MAX_CONNECTIONS="$POOL" JWT_SECRET="$SECRET" \
    BARE_LIST_SQL="${BENCH_REF_LIST_SQL:-filtered}" BARE_TEST_BEFORE_ACQUIRE="${BENCH_REF_TEST_BEFORE_ACQUIRE:-true}" \
    ./target/release/bare_ref >"$WORK/ref.log" 2>&1 &
  REF_PID=$!
  wait_up "http://127.0.0.1:$REF_PORT/health" $REF_PID "$WORK/ref.log"
}
stop_servers() {
  for pid in ${CADENCE_PID:-} ${REF_PID:-}; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  CADENCE_PID="" REF_PID=""
}
wait_up() { # url pid log
  until curl -fsS "$1" >/dev/null 2>&1; do
    kill -0 "$2" 2>/dev/null || { cat "$3"; die "server died"; }
    sleep 0.05
  done
}

# The seeded database is reused when its users' tokens still work; else it is rebuilt.
reusable() {
  [ -z "${BENCH_RESEED:-}" ] && [ -s "$STATE_DIR/tokens.txt" ] || return 1
  psql "$server/postgres" -Atc "select 1 from pg_database where datname = '$DBNAME'" | grep -q 1 || return 1
  [ "$(psql "$DB" -Atc "select count(*) from users" 2>/dev/null)" = 100 ] || return 1
  [ "$(psql "$DB" -Atc "select count(*) >= 100 * $TASKS_PER_USER from tasks" 2>/dev/null)" = t ]
}
if reusable; then
  log "reusing the seeded database $DBNAME"
  start_servers
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(head -1 "$STATE_DIR/tokens.txt")" \
    "http://127.0.0.1:$CADENCE_PORT/api/v1/users/me")
  [ "$code" = 200 ] || { stop_servers; BENCH_RESEED=1; log "stored tokens no longer work (HTTP $code)"; }
fi
if [ -z "${CADENCE_PID:-}" ]; then
  log "creating and seeding $DBNAME: 100 users x $TASKS_PER_USER tasks (not timed)"
  psql "$server/postgres" -qc "drop database if exists $DBNAME with (force)" >/dev/null
  ensure_database "$server" "$DBNAME" >/dev/null
  start_servers # Cadence migrates the fresh database
  ./target/release/loadgen register --base "http://127.0.0.1:$CADENCE_PORT" --users 100 \
    --out "$STATE_DIR/tokens.txt" >/dev/null
  psql "$DB" -q -v ON_ERROR_STOP=1 <<SQL
insert into tasks (id, user_id, title, description, status, priority, source, metadata, created_at, completed_at)
select gen_random_uuid(), u.id, 'Seeded task ' || g || ' for ' || left(u.email, 12),
       case when g % 3 = 0 then 'details about task ' || g end,
       (array['todo','in_progress','done','cancelled'])[1 + g % 4],
       (array['low','medium','high','urgent'])[1 + g % 4],
       'manual', '{}'::jsonb, now() - make_interval(secs => g),
       case when g % 4 = 2 then now() end
from users u, generate_series(1, $TASKS_PER_USER) g;
SQL
fi
log "resetting what earlier runs created (bench tasks, events)"
psql "$DB" -q -v ON_ERROR_STOP=1 -c "delete from tasks where title like 'Bench task %'" \
  -c "delete from events" -c "vacuum analyze tasks" -c "vacuum analyze events"

route_path() { case "$1" in list) echo "/api/v1/tasks?limit=20" ;; me) echo "/api/v1/users/me" ;; create) echo "/api/v1/tasks" ;; esac; }
route_name() { case "$1" in list) echo "GET /api/v1/tasks?limit=20" ;; me) echo "GET /api/v1/users/me" ;; create) echo "POST /api/v1/tasks (insert + event, one tx)" ;; esac; }
route_body() { [ "$1" = create ] && echo '{"title":"Bench task {n}","priority":"high"}' || true; }

ticks() { # pid -> utime + stime (clock ticks), 0 when gone
  awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
backend_ticks() { # application_name -> "pid ticks" lines of its backends on the bench database
  local pid
  for pid in $(psql "$DB" -Atc "select pid from pg_stat_activity where datname = '$DBNAME' and application_name = '$1'"); do
    echo "$pid $(ticks "$pid")"
  done
}

RESULTS="$WORK/results.jsonl"
run_wrk() { # label(cadence|ref) route round seconds -> appends one JSON line (round 0: warm-up, not kept)
  local who="$1" route="$2" round="$3" secs="$4" port pid app
  if [ "$who" = cadence ]; then port=$CADENCE_PORT pid=$CADENCE_PID app=cadence; else port=$REF_PORT pid=$REF_PID app=bare_ref; fi
  local s0 s1 before after out
  before=$(backend_ticks "$app"); s0=$(ticks "$pid")
  out=$(WRK_TOKENS="$STATE_DIR/tokens.txt" WRK_BODY="$(route_body "$route")" \
    wrk -t2 -c"$CONN" -d"${secs}s" --timeout 5s -s scripts/bench-ref/wrk.lua "http://127.0.0.1:$port$(route_path "$route")")
  s1=$(ticks "$pid"); after=$(backend_ticks "$app")
  [ "$round" = 0 ] && return 0
  python3 - "$who" "$route" "$round" "$s0" "$s1" "$CLK_TCK" "$before" "$after" "$(sed -n 's/^WRK_JSON //p' <<<"$out")" >>"$RESULTS" <<'PY'
import json, sys
who, route, rnd, s0, s1, hz, before, after, w = sys.argv[1:10]
hz = int(hz); w = json.loads(w)
b = dict(l.split() for l in before.splitlines() if l.strip())
pg = sum(int(t) - int(b.get(p, 0)) for p, t in (l.split() for l in after.splitlines() if l.strip()))
n = max(w["requests"], 1)
w.update(server=who, route=route, round=int(rnd),
         server_cpu_s_per_1k=(int(s1) - int(s0)) / hz / n * 1000, pg_cpu_s_per_1k=pg / hz / n * 1000)
print(json.dumps(w))
PY
  log "$who $route round $round: $(sed -n 's/^WRK_JSON //p' <<<"$out")"
}

log "warming up both servers (3 s per route each, not kept)"
for route in $ROUTES; do run_wrk cadence "$route" 0 3; run_wrk ref "$route" 0 3; done
for round in $(seq 1 "$ROUNDS"); do
  for route in $ROUTES; do
    if [ $((round % 2)) = 1 ]; then order="cadence ref"; else order="ref cadence"; fi
    for who in $order; do run_wrk "$who" "$route" "$round" "$SECS"; done
  done
done

# p99 at half of Cadence's maximum (median over rounds): open-loop load from loadgen --rate.
HALF="$WORK/half.jsonl"
for route in $ROUTES; do
  rate=$(python3 -c 'import json,sys,statistics
rs=[json.loads(l) for l in open(sys.argv[1])]
print(round(statistics.median(r["rps"] for r in rs if r["server"]=="cadence" and r["route"]==sys.argv[2])/2))' "$RESULTS" "$route")
  for who in cadence ref; do
    if [ "$who" = cadence ]; then port=$CADENCE_PORT; else port=$REF_PORT; fi
    args=(run --url "http://127.0.0.1:$port$(route_path "$route")" --tokens "$STATE_DIR/tokens.txt"
      --concurrency "$CONN" --duration "$SECS" --rate "$rate")
    [ "$route" = create ] && args+=(--method POST --body "$(route_body create)")
    log "half load: $who $route at $rate req/s"
    out=$(./target/release/loadgen "${args[@]}")
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(server=sys.argv[2], route=sys.argv[3], rate=int(sys.argv[4])); print(json.dumps(d))' \
      "$out" "$who" "$route" "$rate" >>"$HALF"
  done
done

python3 - "$RESULTS" "$HALF" "$OUT" "$SECS" "$ROUNDS" "$CONN" "$POOL" "${BENCH_REF_LIST_SQL:-filtered}" "$ROUTES" \
  "${BENCH_REF_TEST_BEFORE_ACQUIRE:-true}" <<'PY'
import json, os, statistics, subprocess, sys, datetime
res = [json.loads(l) for l in open(sys.argv[1])]
half = [json.loads(l) for l in open(sys.argv[2])] if os.path.exists(sys.argv[2]) else []
out, secs, rounds, conn, pool, list_sql, routes, tba = sys.argv[3:11]
routes = routes.split()
names = {"list": "GET /api/v1/tasks?limit=20", "me": "GET /api/v1/users/me",
         "create": "POST /api/v1/tasks (insert + event, one tx)"}
goal = {"list": 90, "me": 90, "create": 95}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
load = open("/proc/loadavg").read().split()[:3]
def pick(route, who, key):
    return [r[key] for r in res if r["route"] == route and r["server"] == who]
def med(xs): return statistics.median(xs) if xs else float("nan")
L = ["## Cadence against the bare reference (issue 21)", "",
     f"`make bench-ref` (scripts/bench-reference.sh) on {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; "
     f"{cpu}, {os.cpu_count()} cores shared with wrk, PostgreSQL and other work (load average before the write-up {' '.join(load)}).",
     f"wrk -t2 -c{conn}, {secs} s per run, {rounds} round(s) alternating which server goes first, after a 3 s warm-up; "
     f"100 users × 10,000 tasks, tokens rotated; both servers on one database with a pool of {pool}. "
     f"The reference (`src/bin/bare_ref.rs`) checks the JWT only, uses sqlx's default pool options "
     f"({'test_before_acquire' if tba == 'true' else 'except test_before_acquire(false)'}) and sends "
     f"the {'catch-all' if list_sql == 'catch_all' else 'same'} list statement. CPU: utime+stime of the server process and of "
     f"its PostgreSQL backends (by application_name) from /proc, per 1,000 requests.", "",
     "| route | Cadence req/s | reference req/s | Cadence / reference (per round) | goal | server CPU s/1k: Cadence / ref (×) | PostgreSQL CPU s/1k: Cadence / ref | Cadence p99 ms at full load | non-2xx |",
     "|---|---:|---:|---|---:|---|---|---:|---:|"]
for route in routes:
    c, r = pick(route, "cadence", "rps"), pick(route, "ref", "rps")
    ratios = [100 * a / b for a, b in zip(c, r) if b]
    sc, sr = med(pick(route, "cadence", "server_cpu_s_per_1k")), med(pick(route, "ref", "server_cpu_s_per_1k"))
    pc, pr = med(pick(route, "cadence", "pg_cpu_s_per_1k")), med(pick(route, "ref", "pg_cpu_s_per_1k"))
    bad = sum(pick(route, "cadence", "non_2xx")) + sum(pick(route, "ref", "non_2xx")) \
        + sum(pick(route, "cadence", "socket_errors")) + sum(pick(route, "ref", "socket_errors"))
    L.append(f"| {names[route]} | {med(c):.0f} | {med(r):.0f} | **{med(ratios):.0f} %** ({', '.join(f'{x:.0f}' for x in ratios)}) | "
             f"≥ {goal[route]} % | {sc:.3f} / {sr:.3f} ({sc / sr if sr else float('nan'):.2f}×) | {pc:.3f} / {pr:.3f} | "
             f"{med(pick(route, 'cadence', 'p99_ms')):.2f} | {bad} |")
if half:
    L += ["", "Open loop at half of Cadence's median maximum (`loadgen run --rate`, same connections):", "",
          "| route | rate req/s | Cadence p50 / p99 ms | reference p50 / p99 ms | errors / non-2xx |", "|---|---:|---|---|---|"]
    for route in routes:
        h = {x["server"]: x for x in half if x["route"] == route}
        if "cadence" in h and "ref" in h:
            c, r = h["cadence"], h["ref"]
            L.append(f"| {names[route]} | {c['rate']} | {c['p50_ms']:.2f} / **{c['p99_ms']:.2f}** | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} | "
                     f"{c['errors'] + r['errors']} / {c['non_2xx'] + r['non_2xx']} |")
L += ["", "Every run (req/s, p99 ms, server / PostgreSQL CPU s per 1k):", ""]
for route in routes:
    cells = [f"r{x['round']} {x['server']} {x['rps']:.0f} ({x['p99_ms']:.1f} ms, {x['server_cpu_s_per_1k']:.3f} / {x['pg_cpu_s_per_1k']:.3f})"
             for x in res if x["route"] == route]
    L.append(f"- {names[route]}: " + "; ".join(cells))
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
log "wrote $OUT"
