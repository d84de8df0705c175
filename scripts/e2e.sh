#!/usr/bin/env bash
# Browser tests of the web console: build the server, start it on a free port against a
# scratch database, run tests/e2e (Debian's headless Chromium driven by playwright-core),
# stop the server. Screenshots and the server log go to test-artifacts/e2e/.
# CADENCE_E2E_PATTERN runs only the tests whose names match it.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
ensure_system_packages
ensure_browser

server=$(find_postgres)
db="${CADENCE_E2E_DB:-cadence_e2e}"
psql "$server/postgres" -qc "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true
db_url=$(ensure_database "$server" "$db")

log "building the server for the browser tests"
SQLX_OFFLINE=true cargo build --quiet --bin cadence --bin cadence-sim

if [ ! -d tests/e2e/node_modules/playwright-core ] || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; then
  log "installing the browser-test dependencies (npm ci)"
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
url="http://127.0.0.1:$port"
artifacts="$ROOT/test-artifacts/e2e"
rm -rf "$artifacts"
mkdir -p "$artifacts"

# The vendor simulator stands in for Anthropic, so chat tests can script a tool call; speech
# stays on the local engines (PocketSphinx, eSpeak NG).
sim_port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
sim_url="http://127.0.0.1:$sim_port"
./target/debug/cadence-sim --addr "127.0.0.1:$sim_port" >"$artifacts/sim.log" 2>&1 &
sim_pid=$!

log "starting Cadence at $url (log: test-artifacts/e2e/server.log)"
# development: the offline providers (echo LLM, local STT/TTS) are allowed there.
env CADENCE_ENV=development DATABASE_URL="$db_url" PORT="$port" \
  CADENCE__SERVER__HOST=127.0.0.1 CADENCE__SERVER__PUBLIC_URL="$url" CADENCE__SERVER__CORS_ORIGINS="$url" \
  CADENCE__LOG__FORMAT=pretty CADENCE__LOG__LEVEL="warn,cadence=info" \
  CADENCE__AUTH__REGISTER_RATE_PER_IP=10000 CADENCE__AUTH__LOGIN_RATE_PER_IP=10000 \
  CADENCE__AUTH__LOGIN_RATE_PER_ACCOUNT=10000 CADENCE__AUTH__REFRESH_RATE_PER_IP=10000 \
  CADENCE__PROVIDERS__ANTHROPIC__API_KEY=e2e-simulated CADENCE__PROVIDERS__ANTHROPIC__BASE_URL="$sim_url" \
  ./target/debug/cadence >"$artifacts/server.log" 2>&1 &
server_pid=$!
stop_server() {
  kill "$server_pid" "$sim_pid" 2>/dev/null || true
  wait "$server_pid" "$sim_pid" 2>/dev/null || true
}
trap stop_server EXIT

for _ in $(seq 1 120); do
  if curl -fsS "$url/health" >/dev/null 2>&1; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { cat "$artifacts/server.log" >&2; die "the server exited during startup"; }
  sleep 0.5
done
curl -fsS "$url/health" >/dev/null || die "the server did not answer $url/health"

log "running the browser tests"
cd tests/e2e
CADENCE_URL="$url" CADENCE_SIM_URL="$sim_url" CADENCE_ARTIFACTS="$artifacts" CHROMIUM_PATH="$(command -v chromium)" \
  node --test --test-reporter=spec ${CADENCE_E2E_PATTERN:+--test-name-pattern="$CADENCE_E2E_PATTERN"} ./*.test.mjs
