#!/usr/bin/env bash
# `make bench`: build release binaries, start Cadence against a scratch database, drive it
# with the load generator (src/bin/loadgen.rs), measure the PostgreSQL ceiling for the same
# queries with pgbench, and rewrite BENCHMARKS.md with the machine, commands and numbers.
#
# BENCH_ONLY=reminders|reference runs that section alone (scripts/bench-reminders.sh,
# scripts/bench-reference.sh) and replaces its section in BENCHMARKS.md.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

if [ -n "${BENCH_ONLY:-}" ]; then
  case "$BENCH_ONLY" in
    reminders) section=BENCHMARKS.reminders.md; scripts/bench-reminders.sh >/dev/null || status=$? ;;
    reference) section=BENCHMARKS.reference.md; scripts/bench-reference.sh >/dev/null || status=$? ;;
    *) die "BENCH_ONLY=$BENCH_ONLY: one of reminders, reference" ;;
  esac
  [ -s "$section" ] || die "the $BENCH_ONLY section wrote nothing"
  # Replace the section's heading and everything up to the next level-2 heading (or append).
  python3 - "$section" <<'PY'
import sys
new = open(sys.argv[1]).read().strip()
head = new.splitlines()[0].split("(")[0]
old = open("BENCHMARKS.md").read().rstrip("\n").split("\n") if __import__("os").path.exists("BENCHMARKS.md") else ["# Benchmarks"]
start = next((i for i, l in enumerate(old) if l.startswith(head)), None)
if start is None:
    out = old + ["", new]
else:
    end = next((i for i in range(start + 1, len(old)) if old[i].startswith("## ")), len(old))
    out = old[:start] + new.splitlines() + ([""] + old[end:] if end < len(old) else [])
open("BENCHMARKS.md", "w").write("\n".join(out) + "\n")
PY
  log "updated the $BENCH_ONLY section of BENCHMARKS.md"
  exit "${status:-0}"
fi
ensure_system_packages
apt_install python3 procps

DURATION="${BENCH_DURATION:-10}"
CONC="${BENCH_CONCURRENCY:-32}"
PORT_BENCH="${BENCH_PORT:-18080}"
WORK="$(mktemp -d)"
trap 'kill "${SERVER_PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

server=$(find_postgres)
psql "$server/postgres" -qc "drop database if exists cadence_bench with (force)" >/dev/null
DB=$(ensure_database "$server" cadence_bench)

log "building release binaries"
SQLX_OFFLINE=true cargo build --release --quiet --bin cadence --bin loadgen --bin bare_ref
LOADGEN=./target/release/loadgen
BASE="http://127.0.0.1:$PORT_BENCH"

log "starting cadence on :$PORT_BENCH"
start_ns=$(date +%s%N)
env CADENCE_ENV=production DATABASE_URL="$DB" PORT="$PORT_BENCH" \
  CADENCE__SERVER__HOST=127.0.0.1 \
  CADENCE__AUTH__JWT_SECRET=bench-secret-bench-secret-bench-secret-0001 \
  CADENCE__AUTH__LOGIN_RATE_PER_IP=100000000 CADENCE__AUTH__LOGIN_RATE_PER_ACCOUNT=100000000 \
  CADENCE__AUTH__REGISTER_RATE_PER_IP=100000000 CADENCE__AUTH__REFRESH_RATE_PER_IP=100000000 \
  CADENCE__LOG__LEVEL=warn CADENCE__DATABASE__MAX_CONNECTIONS=32 \
  ./target/release/cadence >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
until curl -fsS "$BASE/health" >/dev/null 2>&1; do
  kill -0 $SERVER_PID 2>/dev/null || { cat "$WORK/server.log"; die "server died"; }
  sleep 0.02
done
startup_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
sleep 1
idle_rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$SERVER_PID/status)

RESULTS="$WORK/results.jsonl"
record() { # name, command… ; appends {"name":…, …loadgen output…}
  local name="$1"; shift
  log "bench: $name"
  local out; out=$("$@")
  python3 -c 'import json,sys; d=json.loads(sys.argv[2]); d["name"]=sys.argv[1]; print(json.dumps(d))' "$name" "$out" >>"$RESULTS"
}
pg_ceiling() { # name, sql
  local name="$1" sql="$2"
  log "pgbench ceiling: $name"
  printf '%s\n' "$sql" >"$WORK/q.sql"
  local out tps
  out=$(pgbench -n -c "$CONC" -j 2 -T "$DURATION" -M prepared -f "$WORK/q.sql" "$DB" 2>&1)
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  local lat; lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out" | head -1)
  python3 -c 'import json,sys; print(json.dumps({"name":sys.argv[1],"pgbench":True,"rps":float(sys.argv[2] or 0),"avg_ms":float(sys.argv[3] or 0),"concurrency":int(sys.argv[4])}))' \
    "$name" "$tps" "$lat" "$CONC" >>"$RESULTS"
}

$LOADGEN register --base "$BASE" --users 100 --out "$WORK/tokens.txt" >/dev/null
USER_ID=$(psql "$DB" -Atc "select id from users limit 1")

# Each scenario: the route through Cadence, then the ceiling of the same SQL in pgbench.
record "GET /api/v1/users/me" $LOADGEN run --url "$BASE/api/v1/users/me" --tokens "$WORK/tokens.txt" \
  --concurrency "$CONC" --duration "$DURATION"
pg_ceiling "users/me query" "select id, email, full_name, avatar_url, timezone, locale, is_superuser, created_at, updated_at from users where id = '$USER_ID';"

rm -f BENCHMARKS.extra.md # scenarios append their sections to it
for f in scripts/bench.d/*.sh; do
  [ -e "$f" ] || continue
  # Each scenario runs in a subshell: one that fails is reported and the others still run
  # (results go to files, so they survive the subshell).
  # shellcheck source=/dev/null
  ( source "$f" ) || log "scenario $(basename "$f") failed; see the output above"
done

record "POST /api/v1/auth/login (Argon2id-bound)" $LOADGEN run --url "$BASE/api/v1/auth/login" --method POST \
  --body "{\"email\":\"$(psql "$DB" -Atc "select email from users limit 1")\",\"password\":\"bench-password-123\"}" \
  --concurrency 4 --duration "$DURATION"

rss_after_kb=$(awk '/VmRSS/ {print $2}' /proc/$SERVER_PID/status)

python3 - "$RESULTS" "$startup_ms" "$idle_rss_kb" "$rss_after_kb" "$DURATION" "$CONC" <<'PY'
import json, os, platform, subprocess, sys, datetime
results = [json.loads(l) for l in open(sys.argv[1])]
startup_ms, idle_kb, after_kb, duration, conc = sys.argv[2:7]
cpu = next((l.split(":",1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
mem_gb = round(int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) / 1048576, 1)
pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
lines = ["# Benchmarks", "",
  f"Generated by `make bench` (scripts/bench.sh) on {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC. Rerun to refresh.", "",
  "## Machine", "",
  f"- CPU: {cpu}, {os.cpu_count()} cores; memory {mem_gb} GiB; {platform.system()} {platform.release()}",
  f"- {rustc}; {pg}; release build (thin LTO)",
  f"- Server and load generator share the machine (and its 2 cores) — absolute numbers are modest; ratios matter.", "",
  "## Method", "",
  f"- Closed-loop load with `target/release/loadgen run` ({conc} connections unless noted, {duration} s after a 2 s warm-up), 100 registered users, tokens rotated.",
  f"- Ceiling: `pgbench -n -c {conc} -j 2 -T {duration} -M prepared` running the same SQL the route runs, against the same database.",
  "- Cadence runs with `CADENCE_ENV=production`, JSON logs at warn, pool of 32 connections.", "",
  "## Process", "",
  f"- Startup to first `/health` 200 (includes connecting and migrating a fresh database): {startup_ms} ms",
  f"- Idle RSS after startup: {int(idle_kb)/1024:.1f} MiB; after the runs: {int(after_kb)/1024:.1f} MiB", "",
  "## Throughput and latency", "",
  "| scenario | req/s | p50 ms | p99 ms | errors / non-2xx |", "|---|---:|---:|---:|---:|"]
for r in results:
    if r.get("pgbench"):
        lines.append(f"| ceiling: {r['name']} (pgbench) | {r['rps']:.0f} | avg {r['avg_ms']:.2f} | — | — |")
    else:
        lines.append(f"| {r['name']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} / {r['non_2xx']} |")
# Ratios: each route against the pgbench line that follows it.
ratios = []
for i, r in enumerate(results):
    if not r.get("pgbench") and i + 1 < len(results) and results[i+1].get("pgbench") and results[i+1]["rps"]:
        ratios.append(f"- {r['name']}: {100*r['rps']/results[i+1]['rps']:.0f}% of the PostgreSQL ceiling for its query")
if ratios:
    lines += ["", "## Against the ceiling", ""] + ratios
for extra in ("BENCHMARKS.extra.md", "BENCHMARKS.reference.md", "BENCHMARKS.reminders.md", "BENCHMARKS.soak.md"):  # reference: bench.d/30, reminders: bench.d/40, soak: `make soak`
    if os.path.exists(extra):
        lines += ["", open(extra).read().strip()]
open("BENCHMARKS.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
log "wrote BENCHMARKS.md"
