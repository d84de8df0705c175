#!/usr/bin/env bash
# `make test-faults`: the real `cadence` binary as a separate process, against its own
# PostgreSQL cluster (.data/faults-pg, on a free port) that this script stops and starts,
# with `cadence-sim` as every vendor. Scenarios (each asserts and fails loudly; all run,
# the exit status is non-zero if any failed):
#   a. PostgreSQL stopped under REST load: fast 503 problem+json, /health/ready 503,
#      recovery without a restart, no half-written rows;
#   b. a provider dying or stalling mid-stream: `error` event, the session keeps going,
#      the call is settled once;
#   c. a WebSocket client that stops reading: bounded server memory, the socket is closed,
#      the call is finalized and settled once;
#   d. SIGTERM during active calls: every client gets `ended`, every call completed and
#      settled once, exit 0 within the drain timeout.
# Clients are `loadgen` subcommands (src/bin/loadgen/faults.rs). Logs: test-artifacts/faults/.
# FAULTS_ONLY="a c" runs a subset; FAULTS_PROFILE=release uses release binaries.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
ensure_system_packages
apt_install python3 procps curl

ONLY="${FAULTS_ONLY:-a b c d}"
PROFILE="${FAULTS_PROFILE:-debug}"
SESSIONS="${FAULTS_SESSIONS:-20}"
GRACE_SECS="${FAULTS_GRACE_SECS:-10}"
# Failing requests must answer within this (the pool's acquire timeout is 1 s here).
FAIL_FAST_MS="${FAULTS_FAIL_FAST_MS:-2000}"
# Growth of the server's RSS allowed while a client stops reading.
RSS_LIMIT_KB="${FAULTS_RSS_LIMIT_KB:-65536}"
ART="$ROOT/test-artifacts/faults"
rm -rf "$ART"
mkdir -p "$ART"
W="$ART/work"
mkdir -p "$W"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- PostgreSQL: a private cluster of our own (common.sh's start_private_postgres) ----
DATA_DIR="$ROOT/.data/faults-pg"
PRIVATE_PG_PORT="${FAULTS_PG_PORT:-$(free_port)}"
PG_BIN=""
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() { start_private_postgres; }
pg_stop_immediate() { pg_as "$PG_BIN/pg_ctl" -D "$DATA_DIR/pg" -m immediate -w stop >/dev/null; }
pg_stop() { pg_as "$PG_BIN/pg_ctl" -D "$DATA_DIR/pg" -m fast -w stop >/dev/null 2>&1 || true; }
PG_SERVER="postgres://postgres@127.0.0.1:$PRIVATE_PG_PORT"
DB_URL="$PG_SERVER/cadence_faults"
psql_db() { psql "$DB_URL" -v ON_ERROR_STOP=1 -Atq "$@"; }

# ---- processes ----
SERVER_PID=""
SIM_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  pg_stop
}
trap cleanup EXIT

log "building $PROFILE binaries (cadence, cadence-sim, loadgen)"
if [ "$PROFILE" = release ]; then
  SQLX_OFFLINE=true cargo build --release --quiet --bin cadence --bin cadence-sim --bin loadgen
else
  SQLX_OFFLINE=true cargo build --quiet --bin cadence --bin cadence-sim --bin loadgen
fi
BIN="$ROOT/target/$PROFILE"
LOADGEN="$BIN/loadgen"

PG_BIN=$(pg_bindir) || { apt_install postgresql; PG_BIN=$(pg_bindir); }
pg_start
psql "$PG_SERVER/postgres" -qc "drop database if exists cadence_faults with (force)" >/dev/null
psql "$PG_SERVER/postgres" -qc "create database cadence_faults" >/dev/null

SIM_PORT=$(free_port)
SIM="http://127.0.0.1:$SIM_PORT"
"$BIN/cadence-sim" --addr "127.0.0.1:$SIM_PORT" --api-key sim-key >"$ART/sim.log" 2>&1 &
SIM_PID=$!

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
SERVER_RUNS=0
start_server() {
  SERVER_RUNS=$((SERVER_RUNS + 1))
  env CADENCE_ENV=production DATABASE_URL="$DB_URL" PORT="$PORT" \
    CADENCE__SERVER__HOST=127.0.0.1 CADENCE__SERVER__PUBLIC_URL="$BASE" \
    CADENCE__SERVER__SHUTDOWN_GRACE_SECS="$GRACE_SECS" \
    CADENCE__AUTH__JWT_SECRET=faults-secret-faults-secret-faults-secret-01 \
    CADENCE__AUTH__LOGIN_RATE_PER_IP=100000000 CADENCE__AUTH__LOGIN_RATE_PER_ACCOUNT=100000000 \
    CADENCE__AUTH__REGISTER_RATE_PER_IP=100000000 CADENCE__AUTH__REFRESH_RATE_PER_IP=100000000 \
    CADENCE__LOG__LEVEL="warn,cadence=info" \
    CADENCE__DATABASE__ACQUIRE_TIMEOUT_SECS=1 CADENCE__DATABASE__STARTUP_WAIT_SECS=10 \
    CADENCE__BILLING__SIGNUP_CREDITS=100000 CADENCE__BILLING__CALL_CHECK_SECS=1 \
    CADENCE__EVENTS__SEND_TIMEOUT_SECS=3 \
    CADENCE__PROVIDERS__TIMEOUTS__FIRST_BYTE_MS=3000 CADENCE__PROVIDERS__TIMEOUTS__IDLE_MS=2000 \
    CADENCE__PROVIDERS__OPENAI__API_KEY=sim-key CADENCE__PROVIDERS__OPENAI__BASE_URL="$SIM/v1" \
    CADENCE__PROVIDERS__ANTHROPIC__API_KEY=sim-key CADENCE__PROVIDERS__ANTHROPIC__BASE_URL="$SIM" \
    CADENCE__PROVIDERS__DEEPGRAM__API_KEY=sim-key CADENCE__PROVIDERS__DEEPGRAM__BASE_URL="ws://127.0.0.1:$SIM_PORT" \
    CADENCE__PROVIDERS__ELEVENLABS__API_KEY=sim-key CADENCE__PROVIDERS__ELEVENLABS__BASE_URL="$SIM" \
    "$BIN/cadence" >"$ART/server-$SERVER_RUNS.log" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 1 300); do
    curl -fsS "$BASE/health/ready" >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$ART/server-$SERVER_RUNS.log" >&2; die "the server exited during startup"; }
    sleep 0.1
  done
  die "the server did not become ready at $BASE"
}
server_alive() { [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; }

# status + content type of one request: "503 application/problem+json"
probe() { curl -s -o "$W/probe.body" -m 5 -w '%{http_code} %{content_type}' "$@" || echo "000 -"; }

FAILED=()
fail() { printf '\033[1;31mFAIL\033[0m %s\n' "$*" >&2; return 1; }
pass() { printf '\033[1;32mPASS\033[0m %s\n' "$*" >&2; }

# exactly one settlement (a call_debit posting) for the call, and its hold is closed
settled_once() { # call_id
  psql_db -c "select (select count(*) from ledger_entries e join wallet_holds h on h.transaction_id = e.transaction_id
                       where h.reference_id = '$1' and e.amount < 0)
                  || ' ' || (select h.status from wallet_holds h join calls c on c.hold_id = h.id where c.id = '$1')
                  || ' ' || (select status from calls where id = '$1')"
}

# ---- a. PostgreSQL stopped under load ----
scenario_a() {
  log "a. PostgreSQL stopped under REST load"
  "$LOADGEN" register --base "$BASE" --users 4 --prefix "fa$$" --out "$W/a-tokens.txt" >/dev/null
  local prefix="fault-a-$$"
  "$LOADGEN" creates --base "$BASE" --tokens "$W/a-tokens.txt" --prefix "$prefix" \
    --concurrency 4 --duration 16 --out "$W/a-creates.jsonl" >"$W/a-loadgen.json" 2>"$W/a-loadgen.err" &
  local lg=$!
  sleep 4
  log "a: pg_ctl stop -m immediate"
  pg_stop_immediate
  sleep 1
  local ready live
  ready=$(probe "$BASE/health/ready")
  local ready_code; ready_code=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("code"))' "$W/probe.body" 2>/dev/null || echo none)
  live=$(probe "$BASE/health")
  sleep 3
  log "a: restarting PostgreSQL"
  pg_start
  local t0; t0=$(date +%s%N)
  local recovered=""
  for _ in $(seq 1 300); do
    if [ "$(probe "$BASE/health/ready" | cut -d' ' -f1)" = 200 ]; then recovered=1; break; fi
    sleep 0.1
  done
  local recover_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  wait "$lg" || { cat "$W/a-loadgen.err" >&2; fail "a: loadgen creates failed"; return 1; }
  server_alive || { fail "a: the server died"; return 1; }
  [ -n "$recovered" ] || { fail "a: /health/ready did not return to 200 within 30 s of PostgreSQL restarting"; return 1; }
  psql_db -c "select title from tasks where title like '$prefix-%'" >"$W/a-db-titles.txt"
  # Half-written: a task without its task.created event, or an event without its task
  # (they are written in one transaction).
  local torn
  torn=$(psql_db -c "select count(*) from tasks t where t.title like '$prefix-%' and not exists
                       (select 1 from events e where e.type = 'task.created' and e.data->>'id' = t.id::text)")
  torn=$((torn + $(psql_db -c "select count(*) from events e where e.type = 'task.created'
                       and e.data->>'title' like '$prefix-%' and not exists
                       (select 1 from tasks t where t.id::text = e.data->>'id')")))
  python3 - "$W/a-creates.jsonl" "$W/a-db-titles.txt" "$FAIL_FAST_MS" "$ready" "$ready_code" "$live" "$recover_ms" "$torn" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
in_db = set(l.strip() for l in open(sys.argv[2]) if l.strip())
torn = int(sys.argv[8])
fast_ms = float(sys.argv[3]); ready, ready_code, live, recover_ms = sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
problems = []
ok = [l for l in lines if l["status"] == 201]
failed = [l for l in lines if l["status"] != 201]
by_status = {}
for l in lines:
    by_status[str(l["status"] if l["status"] is not None else "transport error")] = by_status.get(str(l["status"] if l["status"] is not None else "transport error"), 0) + 1
for l in failed:
    if l["status"] != 503:
        problems.append(f"not a 503: {l}")
    elif not (l["content_type"] or "").startswith("application/problem+json") or l["code"] != "unavailable":
        problems.append(f"503 without a problem+json `unavailable` body: {l}")
    if l["ms"] > fast_ms:
        problems.append(f"slow failure ({l['ms']} ms > {fast_ms} ms): {l}")
acked = set(l["title"] for l in ok)
answered_5xx = set(l["title"] for l in failed)
missing = acked - in_db
phantom = answered_5xx & in_db
unknown = in_db - acked - answered_5xx
if missing: problems.append(f"{len(missing)} tasks acknowledged with 201 are not in the database: {sorted(missing)[:5]}")
# A request whose COMMIT reached PostgreSQL just before it died may have committed while
# its answer was lost: the server cannot know, and says 503. Such a row is whole (checked
# below), and only possible for the request each worker had in flight at the crash (its
# first failure); any other failed request whose row exists is a bug.
in_flight = set()
for w in set(l.get("worker") for l in lines):
    first = next((l for l in lines if l.get("worker") == w and l["status"] != 201), None)
    if first: in_flight.add(first["title"])
unexplained = phantom - in_flight
if unexplained: problems.append(f"{len(unexplained)} tasks answered with an error exist anyway: {sorted(unexplained)[:5]}")
if torn: problems.append(f"{torn} half-written tasks (a task without its event or the reverse)")
if unknown: problems.append(f"{len(unknown)} tasks in the database were never answered: {sorted(unknown)[:5]}")
if not failed: problems.append("no request failed: the outage was not observed")
if not ok: problems.append("no request succeeded")
if not ready.startswith("503 application/problem+json"): problems.append(f"/health/ready during the outage: {ready}")
if ready_code != "unavailable": problems.append(f"/health/ready code during the outage: {ready_code}")
if not live.startswith("200"): problems.append(f"/health (liveness) during the outage: {live}")
# Recovery: after the outage every worker's last requests succeed.
tail = lines[-8:]
if any(l["status"] != 201 for l in tail): problems.append(f"creates did not recover: last answers {[l['status'] for l in tail]}")
slow = max((l["ms"] for l in failed), default=0)
print(json.dumps({"requests": len(lines), "by_status": by_status, "max_failure_ms": slow,
                  "committed_at_crash_answered_503": sorted(phantom & in_flight), "half_written": torn,
                  "ready_during_outage": ready, "ready_recovered_after_ms": int(recover_ms)}))
for p in problems: print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
}

# ---- b. provider dies or hangs mid-stream ----
scenario_b() {
  log "b. LLM/TTS dying and stalling mid-stream"
  "$LOADGEN" register --base "$BASE" --users 1 --prefix "fb$$" --out "$W/b-tokens.txt" >/dev/null
  local out
  out=$("$LOADGEN" fault-provider --base "$BASE" --token "$(head -1 "$W/b-tokens.txt")" --sim "$SIM") \
    || { fail "b: fault-provider"; return 1; }
  echo "$out"
  local id s; id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["call_id"])' "$out")
  s=$(settled_once "$id")
  [ "$s" = "1 settled completed" ] || { fail "b: call $id: debits/hold/status = $s"; return 1; }
}

# ---- c. a WebSocket client that stops reading ----
scenario_c() {
  log "c. a voice client that stops reading"
  "$LOADGEN" register --base "$BASE" --users 1 --prefix "fc$$" --out "$W/c-tokens.txt" >/dev/null
  local out
  out=$("$LOADGEN" fault-stall --base "$BASE" --token "$(head -1 "$W/c-tokens.txt")" --sim "$SIM" \
    --server-pid "$SERVER_PID" --limit-secs 120) || { fail "c: fault-stall"; return 1; }
  echo "$out"
  local id growth s
  id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["call_id"])' "$out")
  growth=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rss_growth_kb"])' "$out")
  [ "$growth" -le "$RSS_LIMIT_KB" ] || { fail "c: server RSS grew by $growth KiB (limit $RSS_LIMIT_KB)"; return 1; }
  s=$(settled_once "$id")
  [ "$s" = "1 settled completed" ] || { fail "c: call $id: debits/hold/status = $s"; return 1; }
}

# ---- d. SIGTERM during active calls ----
scenario_d() {
  log "d. SIGTERM with $SESSIONS active voice sessions"
  "$LOADGEN" register --base "$BASE" --users "$SESSIONS" --prefix "fd$$" --out "$W/d-tokens.txt" >/dev/null
  # Long answers, so every session is speaking when the signal comes.
  local long; long=$(python3 -c 'print(("A long answer that keeps talking for quite a while. " * 30).strip())')
  python3 -c 'import json,sys; print(json.dumps([{"service":"llm","text":sys.argv[1]}]*int(sys.argv[2])))' "$long" "$SESSIONS" \
    | curl -fsS -X POST -H 'content-type: application/json' --data-binary @- "$SIM/__sim/script" >/dev/null
  rm -f "$W/d-ready.txt"
  "$LOADGEN" fault-sessions --base "$BASE" --tokens "$W/d-tokens.txt" --sessions "$SESSIONS" \
    --ready-file "$W/d-ready.txt" --limit-secs $((GRACE_SECS + 20)) >"$W/d-loadgen.json" 2>"$W/d-loadgen.err" &
  local lg=$!
  for _ in $(seq 1 900); do
    [ -s "$W/d-ready.txt" ] && break
    kill -0 "$lg" 2>/dev/null || break
    sleep 0.1
  done
  [ -s "$W/d-ready.txt" ] || { cat "$W/d-loadgen.err" >&2; fail "d: the sessions did not all start"; return 1; }
  log "d: kill -TERM $SERVER_PID"
  local t0; t0=$(date +%s%N)
  kill -TERM "$SERVER_PID"
  local rc=0
  wait "$SERVER_PID" || rc=$?
  local exit_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  SERVER_PID=""
  local lg_rc=0
  wait "$lg" || lg_rc=$?
  cat "$W/d-loadgen.json"
  local problems=0
  [ "$rc" = 0 ] || { fail "d: the server exited with $rc"; problems=1; }
  [ "$exit_ms" -le $((GRACE_SECS * 1000 + 3000)) ] || { fail "d: the server took $exit_ms ms to exit (grace ${GRACE_SECS}s)"; problems=1; }
  [ "$lg_rc" = 0 ] || { cat "$W/d-loadgen.err" >&2; fail "d: not every client got its final event"; problems=1; }
  local id s n=0
  while read -r id; do
    [ -n "$id" ] || continue
    n=$((n + 1))
    s=$(settled_once "$id")
    [ "$s" = "1 settled completed" ] || { fail "d: call $id: debits/hold/status = $s"; problems=1; }
    [ "$(psql_db -c "select end_reason from calls where id = '$id'")" = server_shutdown ] \
      || { fail "d: call $id did not end with server_shutdown"; problems=1; }
  done <"$W/d-ready.txt"
  [ "$n" = "$SESSIONS" ] || { fail "d: $n calls recorded, expected $SESSIONS"; problems=1; }
  log "d: server exited $rc after $exit_ms ms; $n calls checked"
  return $problems
}

start_server
for s in $ONLY; do
  server_alive || start_server
  if "scenario_$s"; then pass "scenario $s"; else FAILED+=("$s"); fi
done

if [ ${#FAILED[@]} -gt 0 ]; then
  die "fault scenarios failed: ${FAILED[*]} (logs: test-artifacts/faults/)"
fi
log "all fault scenarios passed ($ONLY)"
