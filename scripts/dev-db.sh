#!/usr/bin/env bash
# Recreate a development database from migrations/ (for compile-time checked queries).
# Usage: scripts/dev-db.sh [dbname]   (server from PGHOST/PGPORT/PGUSER, default 127.0.0.1:5432 postgres)
set -euo pipefail
db="${1:-cadence_dev}"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
psql -q -d postgres -c "drop database if exists \"$db\" with (force)" -c "create database \"$db\""
for f in "$(dirname "$0")"/../migrations/*.sql; do
  psql -q -v ON_ERROR_STOP=1 -d "$db" -f "$f" >/dev/null
done
echo "postgres://$PGUSER@$PGHOST:$PGPORT/$db"
