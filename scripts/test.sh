#!/usr/bin/env bash
# `make test`: install what is missing, find or start PostgreSQL, run the whole suite.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
ensure_system_packages
server=$(find_postgres)
# #[sqlx::test] creates one database per test through this one.
DATABASE_URL=$(ensure_database "$server" cadence_test)
export DATABASE_URL SQLX_OFFLINE=true
# docker-compose.yml validates (seconds; skips when its validator cannot be installed).
CADENCE_COMPOSE_CHECK_OPTIONAL=1 scripts/compose-check.sh
log "running the test suite against ${server}"
cargo test --all-targets "$@"
# Schemathesis against the OpenAPI document; CADENCE_SKIP_SCHEMATHESIS=1 leaves it out.
if [ -z "${CADENCE_SKIP_SCHEMATHESIS:-}" ]; then
  scripts/schemathesis.sh
fi
# Browser tests of the web console (headless Chromium); CADENCE_SKIP_E2E=1 leaves them out.
if [ -z "${CADENCE_SKIP_E2E:-}" ]; then
  scripts/e2e.sh
fi
# Fault tests against the real binary (scripts/faults.sh, ~1.5 min); CADENCE_SKIP_FAULTS=1 leaves them out.
if [ -z "${CADENCE_SKIP_FAULTS:-}" ]; then scripts/faults.sh; fi
