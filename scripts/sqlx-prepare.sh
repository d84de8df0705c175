#!/usr/bin/env bash
# Regenerate .sqlx/ (offline query data for compile-time checked SQL) from a fresh
# database built from migrations/. Needs a PostgreSQL (scripts/db.sh finds or starts one).
set -euo pipefail
cd "$(dirname "$0")/.."
url=$(scripts/dev-db.sh "${SQLX_PREPARE_DB:-cadence_sqlx_prepare}")
rm -rf .sqlx && mkdir -p .sqlx
# Force every query macro to re-expand against the live database, writing .sqlx/.
touch src/lib.rs
find src -name '*.rs' -exec touch {} +
DATABASE_URL="$url" SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$PWD/.sqlx" cargo check --all-targets --quiet
echo "wrote $(ls .sqlx | wc -l) query files to .sqlx/"
