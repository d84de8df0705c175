#!/usr/bin/env bash
# `make run`: install what is missing, find or start PostgreSQL, build, migrate, serve.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
ensure_system_packages
server=$(find_postgres)
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL=$(ensure_database "$server" cadence)
fi
export DATABASE_URL
log "database: ${DATABASE_URL%%\?*}"
log "building (release)"
SQLX_OFFLINE=true cargo build --release --quiet --bin cadence
export CADENCE_ENV="${CADENCE_ENV:-development}"
exec ./target/release/cadence
