# Shared by the scripts: logging, package installation, PostgreSQL discovery.
# shellcheck shell=bash

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_DIR="${CADENCE_DATA_DIR:-$ROOT/.data}"
PRIVATE_PG_PORT="${CADENCE_PG_PORT:-55432}"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

APT_UPDATED=""
# apt_install PKG... : install Debian packages that are not installed yet.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
  log "installing ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -qq >/dev/null || die "apt-get update failed (run as root or install: ${missing[*]})"
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "could not install ${missing[*]}"
}

# System packages Cadence needs at run time and for its tests.
ensure_system_packages() {
  command -v cargo >/dev/null || die "cargo is not installed: install Rust from https://rustup.rs"
  local pkgs=(ca-certificates pkg-config postgresql-client)
  # Local speech engines (offline STT/TTS) and the audio tools their tests use.
  pkgs+=(espeak-ng pocketsphinx pocketsphinx-en-us flite sox)
  pkgs+=(${CADENCE_EXTRA_PACKAGES:-})
  apt_install "${pkgs[@]}"
}

# What the browser tests of the web console need: Debian's Chromium (driven by playwright-core
# from npm, never a downloaded browser), fonts for screenshots, eSpeak NG to synthesize the
# speech the Talk page test feeds the fake microphone, curl to wait for the server, Node.js.
ensure_browser() {
  apt_install chromium fonts-dejavu-core espeak-ng curl
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
}

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return 0; }; done
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

pg_answers() { # URL
  psql "$1" -Atqc 'select 1' >/dev/null 2>&1
}

# Print a server URL (without database name): DATABASE_URL's server if set, else a
# PostgreSQL on 127.0.0.1:5432 if one answers, else a private cluster under .data/.
find_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    echo "${DATABASE_URL%/*}"; return 0
  fi
  if pg_answers "postgres://postgres@127.0.0.1:5432/postgres"; then
    echo "postgres://postgres@127.0.0.1:5432"; return 0
  fi
  start_private_postgres
  echo "postgres://postgres@127.0.0.1:$PRIVATE_PG_PORT"
}

start_private_postgres() {
  local url="postgres://postgres@127.0.0.1:$PRIVATE_PG_PORT/postgres"
  pg_answers "$url" && return 0
  local bin
  bin=$(pg_bindir) || { apt_install postgresql; bin=$(pg_bindir) || die "no PostgreSQL binaries found"; }
  local pgdata="$DATA_DIR/pg" run=()
  mkdir -p "$DATA_DIR"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DATA_DIR" postgres
    chown postgres "$DATA_DIR"
    run=(runuser -u postgres --)
  fi
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    log "initializing a private PostgreSQL cluster in $pgdata"
    "${run[@]}" "$bin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  log "starting PostgreSQL on 127.0.0.1:$PRIVATE_PG_PORT"
  "${run[@]}" "$bin/pg_ctl" -D "$pgdata" -l "$DATA_DIR/postgres.log" -w \
    -o "-p $PRIVATE_PG_PORT -k $pgdata -c listen_addresses=127.0.0.1" start >/dev/null \
    || die "PostgreSQL did not start; see $DATA_DIR/postgres.log"
}

# ensure_database SERVER_URL NAME : create the database if it does not exist; print its URL.
ensure_database() {
  local server="$1" name="$2"
  if ! psql "$server/postgres" -Atqc "select 1 from pg_database where datname = '$name'" | grep -q 1; then
    psql "$server/postgres" -qc "create database \"$name\"" >/dev/null
  fi
  echo "$server/$name"
}
