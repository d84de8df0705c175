#!/usr/bin/env bash
# `make soak`: SOAK_SECONDS (600) of mixed REST + voice load at a moderate rate against the
# release binary, with `cadence-sim` as every vendor. Samples the server's RSS every 10 s.
# Fails when RSS at the end grew more than 10 % over its level after the first minute
# (warm-up), or when any 5xx was answered (server metrics and the load generators).
# Writes its results to BENCHMARKS.soak.md (kept across `make bench`, which appends it to
# BENCHMARKS.md) and replaces the soak section of BENCHMARKS.md. Not part of CI.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
ensure_system_packages
apt_install python3 procps curl

SOAK_SECONDS="${SOAK_SECONDS:-600}"
REST_RATE="${SOAK_REST_RATE:-30}"         # REST requests/s in total, over three routes
VOICE_SESSIONS="${SOAK_VOICE_SESSIONS:-4}" # concurrent voice sessions, renewed every minute
VOICE_TURN_GAP_MS="${SOAK_VOICE_TURN_GAP_MS:-2000}"
WARMUP_SECS="${SOAK_WARMUP_SECS:-60}"
RSS_GROWTH_MAX_PCT="${SOAK_RSS_GROWTH_MAX_PCT:-10}"
(( SOAK_SECONDS > WARMUP_SECS )) || die "SOAK_SECONDS must be longer than the ${WARMUP_SECS} s warm-up"

ART="$ROOT/test-artifacts/soak"
rm -rf "$ART"
mkdir -p "$ART"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

server=$(find_postgres)
psql "$server/postgres" -qc "drop database if exists cadence_soak with (force)" >/dev/null
DB=$(ensure_database "$server" cadence_soak)

log "building release binaries"
SQLX_OFFLINE=true cargo build --release --quiet --bin cadence --bin cadence-sim --bin loadgen
LOADGEN=./target/release/loadgen

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT

SIM_PORT=$(free_port)
SIM="http://127.0.0.1:$SIM_PORT"
./target/release/cadence-sim --addr "127.0.0.1:$SIM_PORT" >"$ART/sim.log" 2>&1 &
PIDS+=($!)
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
env CADENCE_ENV=production DATABASE_URL="$DB" PORT="$PORT" \
  CADENCE__SERVER__HOST=127.0.0.1 CADENCE__SERVER__PUBLIC_URL="$BASE" \
  CADENCE__AUTH__JWT_SECRET=soak-secret-soak-secret-soak-secret-soak-01 \
  CADENCE__AUTH__LOGIN_RATE_PER_IP=100000000 CADENCE__AUTH__LOGIN_RATE_PER_ACCOUNT=100000000 \
  CADENCE__AUTH__REGISTER_RATE_PER_IP=100000000 CADENCE__AUTH__REFRESH_RATE_PER_IP=100000000 \
  CADENCE__LOG__LEVEL=warn CADENCE__DATABASE__MAX_CONNECTIONS=32 \
  CADENCE__BILLING__SIGNUP_CREDITS=10000000 \
  CADENCE__PROVIDERS__OPENAI__API_KEY=sim CADENCE__PROVIDERS__OPENAI__BASE_URL="$SIM/v1" \
  CADENCE__PROVIDERS__DEEPGRAM__API_KEY=sim CADENCE__PROVIDERS__DEEPGRAM__BASE_URL="ws://127.0.0.1:$SIM_PORT" \
  CADENCE__PROVIDERS__ELEVENLABS__API_KEY=sim CADENCE__PROVIDERS__ELEVENLABS__BASE_URL="$SIM" \
  ./target/release/cadence >"$ART/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=($SERVER_PID)
for _ in $(seq 1 300); do
  curl -fsS "$BASE/health/ready" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$ART/server.log" >&2; die "the server exited during startup"; }
  sleep 0.1
done
curl -fsS "$BASE/health/ready" >/dev/null || die "the server did not become ready"

$LOADGEN register --base "$BASE" --users 20 --prefix "soak$$" --out "$ART/tokens.txt" >/dev/null
head -"$VOICE_SESSIONS" "$ART/tokens.txt" >"$ART/voice-tokens.txt"

log "soak: ${SOAK_SECONDS}s, REST ${REST_RATE} req/s over 3 routes, $VOICE_SESSIONS voice sessions (turn every ~${VOICE_TURN_GAP_MS} ms)"
per_route=$(python3 -c "print(max(1.0, $REST_RATE / 3))")
rest() { # name url [args…]
  local name="$1" url="$2"; shift 2
  $LOADGEN run --url "$url" --tokens "$ART/tokens.txt" --concurrency 4 --rate "$per_route" \
    --warmup 0 --duration "$SOAK_SECONDS" "$@" >"$ART/rest-$name.json" 2>"$ART/rest-$name.err" &
  PIDS+=($!)
  REST_PIDS+=($!)
}
REST_PIDS=()
rest list "$BASE/api/v1/tasks?limit=20"
rest create "$BASE/api/v1/tasks" --method POST --body '{"title":"Soak task {n}","priority":"low"}'
rest me "$BASE/api/v1/users/me"

# Voice: sessions of one minute each, renewed until the end (calls start and finalize
# all along, so their bookkeeping is part of what must not grow).
(
  end=$(( $(date +%s) + SOAK_SECONDS ))
  while (( $(date +%s) + 20 <= end )); do
    left=$(( end - $(date +%s) ))
    d=$(( left < 60 ? left : 60 ))
    $LOADGEN voice --base "$BASE" --tokens "$ART/voice-tokens.txt" --sessions "$VOICE_SESSIONS" \
      --duration "$d" --ramp-ms 2000 --turn-gap-ms "$VOICE_TURN_GAP_MS" >>"$ART/voice.jsonl" 2>>"$ART/voice.err" \
      || echo '{"loadgen_failed": true}' >>"$ART/voice.jsonl"
  done
) &
VOICE_LOOP=$!
PIDS+=($VOICE_LOOP)

: >"$ART/rss.tsv"
start=$(date +%s)
while (( $(date +%s) - start < SOAK_SECONDS )); do
  kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during the soak (see $ART/server.log)"
  printf '%s\t%s\n' "$(( $(date +%s) - start ))" "$(awk '/VmRSS/ {print $2}' /proc/$SERVER_PID/status)" >>"$ART/rss.tsv"
  sleep 10
done
log "soak: load finished; collecting results"
wait "$VOICE_LOOP" || true
for p in "${REST_PIDS[@]}"; do wait "$p" || die "a REST load generator failed (see $ART/rest-*.err)"; done
printf '%s\t%s\n' "$(( $(date +%s) - start ))" "$(awk '/VmRSS/ {print $2}' /proc/$SERVER_PID/status)" >>"$ART/rss.tsv"
curl -fsS "$BASE/metrics" >"$ART/metrics.txt" || die "could not read /metrics"

python3 - "$ART" "$SOAK_SECONDS" "$REST_RATE" "$VOICE_SESSIONS" "$VOICE_TURN_GAP_MS" "$WARMUP_SECS" "$RSS_GROWTH_MAX_PCT" <<'PY'
import datetime, json, os, re, sys
art, secs, rate, vs, gap, warm, maxpct = sys.argv[1:8]
secs, warm, maxpct = int(secs), int(warm), float(maxpct)
rss = [tuple(map(int, l.split())) for l in open(f"{art}/rss.tsv") if l.strip()]
base = next((kb for t, kb in rss if t >= warm), rss[-1][1])
final = rss[-1][1]
growth = 100.0 * (final - base) / base
peak = max(kb for _, kb in rss)
rest = {n: json.load(open(f"{art}/rest-{n}.json")) for n in ("list", "create", "me")}
voice = [json.loads(l) for l in open(f"{art}/voice.jsonl") if l.strip()]
m5xx = 0
for line in open(f"{art}/metrics.txt"):
    if line.startswith("http_requests_total{") and re.search(r'status="5\d\d"', line):
        m5xx += int(float(line.rsplit(" ", 1)[1]))
rest_5xx = sum(r["status_5xx_total"] for r in rest.values())
rest_err = sum(r["errors"] for r in rest.values())
rest_non2xx = sum(r["non_2xx"] for r in rest.values())
v_turns = sum(v.get("turns", 0) for v in voice)
v_failed_turns = sum(v.get("turns_failed", 0) for v in voice)
v_failed_sessions = sum(v.get("failed_sessions", 0) for v in voice) + sum(1 for v in voice if v.get("loadgen_failed"))
v_errors = sum(v.get("errors", 0) for v in voice)
v_sessions = sum(v.get("sessions", 0) for v in voice)
problems = []
if growth > maxpct:
    problems.append(f"RSS grew {growth:.1f} % after warm-up ({base} → {final} KiB), limit {maxpct} %")
if m5xx or rest_5xx:
    problems.append(f"5xx answers: {m5xx} in the server's metrics, {rest_5xx} seen by the REST load")
if v_failed_sessions:
    problems.append(f"{v_failed_sessions} voice sessions failed")
mib = lambda kb: f"{kb/1024:.1f}"
series = ", ".join(mib(kb) for _, kb in rss[::6])  # one sample a minute
lines = [
  "## Soak (issue 11)", "",
  f"`make soak` (scripts/soak.sh) on {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC: {secs} s against the release binary "
  f"(`CADENCE_ENV=production`, pool 32), every vendor replaced by `cadence-sim`; server, simulator and load share the 2 cores.", "",
  f"- Load: REST at {float(rate):.0f} req/s in total (open loop, `loadgen run --rate`), split over `GET /api/v1/tasks?limit=20`, "
  f"`POST /api/v1/tasks` and `GET /api/v1/users/me`; {vs} concurrent voice sessions (`loadgen voice`), renewed every minute, "
  f"a typed turn every ~{int(gap)/1000:g} s after the previous answer.",
  f"- REST: " + "; ".join(f"{n} {r['requests']} requests, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms" for n, r in rest.items())
  + f"; transport errors {rest_err}, non-2xx {rest_non2xx}, 5xx {rest_5xx}.",
  f"- Voice: {v_sessions} sessions, {v_turns} turns ({v_failed_turns} timed out), {v_failed_sessions} failed sessions, {v_errors} error events.",
  f"- 5xx in the server's `http_requests_total`: {m5xx}.",
  f"- RSS (MiB, one sample a minute): {series}. After the {warm} s warm-up {mib(base)}, at the end {mib(final)} "
  f"(**{growth:+.1f} %**, limit +{maxpct:g} %), peak {mib(peak)}.",
  "", f"Result: **{'pass' if not problems else 'FAIL: ' + '; '.join(problems)}**.", ""]
text = "\n".join(lines)
open("BENCHMARKS.soak.md", "w").write(text)
# Replace (or add) the soak section of BENCHMARKS.md.
if os.path.exists("BENCHMARKS.md"):
    cur = open("BENCHMARKS.md").read()
    cur = re.sub(r"\n## Soak \(issue 11\)\n.*?(?=\n## |\Z)", "\n", cur, flags=re.S).rstrip() + "\n\n"
    open("BENCHMARKS.md", "w").write(cur + text)
print(text)
json.dump({"rss_kb": rss, "base_kb": base, "final_kb": final, "growth_pct": growth, "rest": rest,
           "voice_turns": v_turns, "metrics_5xx": m5xx, "problems": problems}, open(f"{art}/summary.json", "w"), indent=1)
for p in problems: print("soak: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
log "soak passed; results in BENCHMARKS.soak.md and BENCHMARKS.md"
