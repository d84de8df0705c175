#!/usr/bin/env bash
# Validate docker-compose.yml offline, in seconds: run by `make test-image` and by `make test`.
#
# Docker's own `docker compose config` needs the compose plugin, which this machine cannot
# install (it is not in Debian bookworm nor on a package registry reachable here). Instead:
# 1. the Compose Specification's JSON schema, as vendored by check-jsonschema (PyPI, pinned,
#    in a venv under .data/): the same schema `docker compose` validates a file against;
# 2. scripts/compose-check.py: what the schema cannot see and `docker compose config` also
#    refuses (a `${...}` that does not parse, depends_on / volumes naming something that is not
#    declared, a build context without its Dockerfile), and what this project relies on
#    (PostgreSQL with pgvector, the app's health check, .env optional).
# Where the validator cannot be installed (no python3-venv, no PyPI), it says so and exits 0
# when CADENCE_COMPOSE_CHECK_OPTIONAL=1 (as `make test` sets it), 1 otherwise.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

CHECK_JSONSCHEMA_VERSION="0.39.0"
unavailable() {
  if [ "${CADENCE_COMPOSE_CHECK_OPTIONAL:-}" = 1 ]; then
    printf '\033[1;33mSKIPPED:\033[0m compose check: %s\n' "$*" >&2
    exit 0
  fi
  die "compose check: $*"
}

command -v python3 >/dev/null || unavailable "python3 is missing"
python3 -c 'import venv, ensurepip' 2>/dev/null || ( apt_install python3-venv ) || unavailable "python3-venv cannot be installed"
venv="$DATA_DIR/compose-check-venv"
cj="$venv/bin/check-jsonschema"
if ! "$cj" --version 2>/dev/null | grep -qF "$CHECK_JSONSCHEMA_VERSION"; then
  log "installing check-jsonschema $CHECK_JSONSCHEMA_VERSION into $venv"
  mkdir -p "$DATA_DIR"
  { python3 -m venv "$venv" \
    && "$venv/bin/pip" install --quiet --disable-pip-version-check "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"; } \
    >"$DATA_DIR/compose-check-install.log" 2>&1 \
    || unavailable "check-jsonschema could not be installed from PyPI (see .data/compose-check-install.log)"
fi

"$cj" --builtin-schema vendor.compose-spec docker-compose.yml
"$venv/bin/python" scripts/compose-check.py docker-compose.yml
