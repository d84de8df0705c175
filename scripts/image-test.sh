#!/usr/bin/env bash
# `make test-image`: build the Dockerfile with a container engine, run the image against
# PostgreSQL and talk to it like a client would. Not part of `make test` (a release build
# inside a container takes 10+ minutes on two cores).
#
# 1. docker-compose.yml validates (scripts/compose-check.sh).
# 2. A container engine that can run containers here: Docker when its engine answers, else
#    Debian's podman (installed with apt). Flags this machine needs are found by trying them
#    (runc when crun refuses cgroups v1/v2 hybrid mode, ulimits no higher than ours when
#    the root here lacks CAP_SYS_RESOURCE). None works: the test says so and skips (exit 0).
# 3. The base images the Dockerfile names (rust:<v>-bookworm, debian:bookworm-slim): used
#    when present, else pulled; when no registry answers, made here as stand-ins under
#    the same names: debian from a debootstrap of bookworm (Debian's own mirror), rust from
#    that plus gcc and this machine's Rust toolchain of the same version. Stand-ins carry
#    the label cadence.stand-in, and the summary says which base was which.
# 4. `build` of the Dockerfile (the real one, unmodified); the image must run as a non-root
#    user and declare a health check.
# 5. The image runs (host network) against a throwaway database on the host's PostgreSQL:
#    /health/ready must answer 200, the image's own health check must pass, then
#    scripts/image-test-client.py registers a user and holds one voice session with the local
#    engines inside the image (a typed turn, then spoken audio through PocketSphinx, answers
#    spoken by eSpeak NG). SIGTERM must stop it cleanly (exit status 0).
#
# Any failure exits non-zero with the container's log. Artifacts: test-artifacts/image-test/.
# Settings: CADENCE_CONTAINER_ENGINE=podman|docker, CADENCE_IMAGE=<tag> (localhost/cadence:image-test),
# CADENCE_IMAGE_PULL=0 (make stand-ins without trying a registry), CADENCE_IMAGE_NO_CACHE=1.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

IMAGE="${CADENCE_IMAGE:-localhost/cadence:image-test}"
ART="$ROOT/test-artifacts/image-test"
rm -rf "$ART"
mkdir -p "$ART"
t_start=$SECONDS
declare -A took=()
step_start=0
step() { step_start=$SECONDS; log "$*"; }
done_step() { took[$1]=$((SECONDS - step_start)); }
skip() {
  printf '\033[1;33mSKIPPED:\033[0m make test-image: %s\n' "$*" >&2
  printf 'SKIPPED: %s\n' "$*" >"$ART/result.txt"
  exit 0
}

# --- 1. the compose file ------------------------------------------------------------------
step "validating docker-compose.yml"
scripts/compose-check.sh
done_step compose

# --- 2. a container engine that can run containers ------------------------------------------
engine="${CADENCE_CONTAINER_ENGINE:-}"
if [ -z "$engine" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    engine=docker
  else
    engine=podman
  fi
fi
case "$engine" in
  podman)
    # runc: crun refuses cgroups in v1/v2 hybrid mode. debootstrap: stand-in base images.
    ( apt_install podman runc debootstrap ) || skip "podman could not be installed (apt), and no Docker engine answers"
    ;;
  docker)
    docker info >/dev/null 2>&1 || skip "CADENCE_CONTAINER_ENGINE=docker but no Docker engine answers"
    command -v debootstrap >/dev/null || ( apt_install debootstrap ) || true
    ;;
  *) die "CADENCE_CONTAINER_ENGINE=$engine: expected podman or docker" ;;
esac
apt_install curl python3 flite sox postgresql-client
log "container engine: $engine ($("$engine" --version 2>/dev/null | head -1))"

# Fully qualified names, as podman stores them ("rust:1.95-bookworm" -> docker.io/library/...).
qualify() {
  case "$1" in
    */*/*) echo "$1" ;;
    */*) echo "docker.io/$1" ;;
    *) echo "docker.io/library/$1" ;;
  esac
}
image_exists() { "$engine" image inspect "$1" >/dev/null 2>&1; }
standin_label() { "$engine" image inspect --format '{{ index .Config.Labels "cadence.stand-in" }}' "$1" 2>/dev/null || true; }

bases=()
while read -r ref; do bases+=("$(qualify "$ref")"); done < <(sed -n 's/^FROM[[:space:]]\+\([^[:space:]]\+\).*/\1/p' Dockerfile)
[ ${#bases[@]} -gt 0 ] || die "no FROM line in the Dockerfile"
debian_base="" rust_base=""
for b in "${bases[@]}"; do
  case "$b" in
    */library/debian:bookworm*) debian_base="$b" ;;
    */library/rust:*-bookworm) rust_base="$b" ;;
    *) die "the Dockerfile names base image $b, which this script cannot stand in for" ;;
  esac
done

# A debootstrapped Debian bookworm (minbase, as the slim image) imported under NAME.
make_debian_standin() {
  local name="$1" dir
  command -v debootstrap >/dev/null || skip "no registry answers for $name and debootstrap is missing"
  dir=$(mktemp -d /var/tmp/cadence-rootfs.XXXXXX)
  log "debootstrapping Debian bookworm (minbase) for the stand-in $name"
  if ! as_root debootstrap --variant=minbase bookworm "$dir/rootfs" http://deb.debian.org/debian >"$ART/debootstrap.log" 2>&1; then
    tail -20 "$ART/debootstrap.log" >&2
    as_root rm -rf "$dir"
    die "debootstrap failed (log: test-artifacts/image-test/debootstrap.log)"
  fi
  # The sources the official image has (updates and security too), and no package caches.
  as_root rm -f "$dir/rootfs/etc/apt/sources.list"
  as_root tee "$dir/rootfs/etc/apt/sources.list.d/debian.sources" >/dev/null <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  as_root sh -c "rm -rf '$dir'/rootfs/var/cache/apt/archives/*.deb '$dir'/rootfs/var/lib/apt/lists/*"
  as_root tar -C "$dir/rootfs" -c . | "$engine" import \
    --change 'CMD ["bash"]' --change 'LABEL cadence.stand-in="debootstrap bookworm minbase"' - "$name" \
    >"$ART/import.log" 2>&1 || { cat "$ART/import.log" >&2; die "could not import the stand-in $name"; }
  as_root rm -rf "$dir"
}

# The engine flags (runtime, ulimits) this machine needs, found by running the Debian base.
run_flags=()
probe_run_flags() {
  local image="$1" nofile nproc out
  nofile=$(ulimit -Hn)
  local candidates=("")
  [ "$engine" = podman ] && candidates+=("--runtime runc")
  for nproc in "$(ulimit -Hu)" 32768 4096; do
    candidates+=("--ulimit nofile=$nofile:$nofile --ulimit nproc=$nproc:$nproc")
    [ "$engine" = podman ] && candidates+=("--runtime runc --ulimit nofile=$nofile:$nofile --ulimit nproc=$nproc:$nproc")
  done
  local c
  for c in "${candidates[@]}"; do
    # shellcheck disable=SC2086
    if out=$("$engine" run --rm --network host $c "$image" true 2>&1); then
      read -r -a run_flags <<<"$c"
      log "containers run here with: ${c:-(no extra flags)}"
      return 0
    fi
    printf '%s: %s\n' "${c:-default}" "$out" >>"$ART/engine-probe.log"
  done
  return 1
}

want_pull() { [ "${CADENCE_IMAGE_PULL:-1}" != 0 ]; }
# base NAME: present, else pulled (bounded: a blocked registry fails at once or times out).
have_base() {
  local name="$1"
  image_exists "$name" && return 0
  want_pull || return 1
  log "pulling $name"
  timeout 300 "$engine" pull -q "$name" >>"$ART/pull.log" 2>&1
}

step "base images: ${bases[*]}"
if [ -n "$debian_base" ] && ! have_base "$debian_base"; then
  make_debian_standin "$debian_base"
fi
probe_image="${debian_base:-${bases[0]}}"
if [ -z "$debian_base" ]; then have_base "$probe_image" || skip "cannot obtain $probe_image"; fi
probe_run_flags "$probe_image" || {
  cat "$ART/engine-probe.log" >&2
  skip "$engine cannot run a container on this machine (tried: default, runc, lower ulimits; see test-artifacts/image-test/engine-probe.log)"
}

# The Rust build image: debian + gcc + this machine's toolchain of the version the Dockerfile pins.
make_rust_standin() {
  local name="$1" version sysroot ctx
  version="${name##*:}"; version="${version%-bookworm}"
  sysroot=""
  for tc in "$HOME/.rustup/toolchains/$version"-x86_64-unknown-linux-gnu "$HOME/.rustup/toolchains/$version".*-x86_64-unknown-linux-gnu "$(rustc --print sysroot 2>/dev/null)"; do
    [ -x "$tc/bin/rustc" ] || continue
    if "$tc/bin/rustc" --version | grep -q "^rustc $version[. ]"; then sysroot=$(readlink -f "$tc"); break; fi
  done
  [ -n "$sysroot" ] || skip "no registry answers for $name and this machine has no Rust $version toolchain to make a stand-in"
  [ -n "$debian_base" ] || die "a rust stand-in needs the Debian base"
  [ "$engine" = podman ] || skip "no registry answers for $name; making its stand-in needs podman (build-time volumes)"
  log "making the stand-in $name: $debian_base + gcc + the Rust toolchain in $sysroot"
  ctx=$(mktemp -d)
  host_ca=/usr/local/share/ca-certificates
  [ -d "$host_ca" ] || host_ca="$ctx/no-ca"; mkdir -p "$host_ca"
  # What the official image has that a Rust build needs: a C toolchain (ring, the linker),
  # pkg-config, CA certificates for crates.io. Docs and sources of the toolchain are left out.
  # The certificate authorities this machine added locally are trusted too: where outbound
  # TLS is intercepted, cargo reaches crates.io only through them (this stand-in never
  # leaves the machine that made it).
  cat >"$ctx/Containerfile" <<EOF
FROM $debian_base
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev make pkg-config \\
 && rm -rf /var/lib/apt/lists/* \\
 && if ls /host-ca/*.crt >/dev/null 2>&1; then cp /host-ca/*.crt /usr/local/share/ca-certificates/ && update-ca-certificates; fi
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN tc=/usr/local/rustup/toolchains/$version-x86_64-unknown-linux-gnu \\
 && mkdir -p "\$tc" /usr/local/cargo/bin \\
 && cp -a /toolchain/bin /toolchain/lib /toolchain/libexec "\$tc/" \\
 && for b in cargo rustc rustdoc; do ln -s "\$tc/bin/\$b" /usr/local/cargo/bin/\$b; done \\
 && rustc --version && cargo --version
LABEL cadence.stand-in="debootstrap bookworm + gcc + the host's Rust $version toolchain"
EOF
  # shellcheck disable=SC2086
  if ! "$engine" build "${run_flags[@]}" --network host --pull=never -v "$sysroot:/toolchain:ro" \
      -v "$host_ca:/host-ca:ro" \
      -t "$name" -f "$ctx/Containerfile" "$ctx" >"$ART/rust-standin.log" 2>&1; then
    tail -30 "$ART/rust-standin.log" >&2
    rm -rf "$ctx"
    die "could not make the stand-in $name (log: test-artifacts/image-test/rust-standin.log)"
  fi
  rm -rf "$ctx"
}
if [ -n "$rust_base" ] && ! have_base "$rust_base"; then
  make_rust_standin "$rust_base"
fi
base_report=()
for b in "${bases[@]}"; do
  l=$(standin_label "$b")
  if [ -n "$l" ] && [ "$l" != "<no value>" ]; then base_report+=("$b: STAND-IN made here ($l)"); else base_report+=("$b: real image"); fi
done
done_step bases

# --- 4. build ---------------------------------------------------------------------------------
step "building $IMAGE from the Dockerfile (log: test-artifacts/image-test/build.log)"
build_flags=("${run_flags[@]}" --network host -t "$IMAGE")
[ "$engine" = podman ] && build_flags+=(--pull=never --format docker) # docker format keeps HEALTHCHECK
[ -n "${CADENCE_IMAGE_NO_CACHE:-}" ] && build_flags+=(--no-cache)
if ! "$engine" build "${build_flags[@]}" . >"$ART/build.log" 2>&1; then
  tail -40 "$ART/build.log" >&2
  die "the image did not build (log: test-artifacts/image-test/build.log)"
fi
done_step build
user=$("$engine" image inspect --format '{{.Config.User}}' "$IMAGE")
health=$("$engine" image inspect --format '{{if .Config.Healthcheck}}{{.Config.Healthcheck.Test}}{{end}}' "$IMAGE" 2>/dev/null || true)
size=$("$engine" image inspect --format '{{.Size}}' "$IMAGE")
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || die "the image runs as root (User=$user)"
[ -n "$health" ] || die "the image declares no health check"
log "built: user $user, $((size / 1024 / 1024)) MiB, health check $health"

# --- 5. run it ----------------------------------------------------------------------------------
server=$(find_postgres)
db="cadence_image_test_$$"
name="cadence-image-test-$$"
cleanup() {
  "$engine" rm -f -t 0 "$name" >/dev/null 2>&1 || true
  psql "$server/postgres" -qc "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
db_url=$(ensure_database "$server" "$db")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

fail() {
  "$engine" logs "$name" >"$ART/container.log" 2>&1 || true
  tail -40 "$ART/container.log" >&2 || true
  die "$* (container log: test-artifacts/image-test/container.log)"
}

step "starting $IMAGE at $url against $server/$db (production settings)"
# Host network: the container reaches the host's PostgreSQL on 127.0.0.1 and listens there only.
# podman: the check is run on demand below (its periodic timer needs systemd, absent here).
health_flags=()
[ "$engine" = podman ] && health_flags=(--health-interval=disable)
"$engine" run -d --name "$name" --network host "${run_flags[@]}" "${health_flags[@]}" \
  -e DATABASE_URL="$db_url" -e CADENCE__AUTH__JWT_SECRET="$secret" \
  -e CADENCE__SERVER__HOST=127.0.0.1 -e CADENCE__SERVER__PORT="$port" -e CADENCE__SERVER__PUBLIC_URL="$url" \
  "$IMAGE" >/dev/null
deadline=$((SECONDS + 120))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health/ready" 2>/dev/null)" = 200 ]; do
  state=$("$engine" inspect --format '{{.State.Status}}' "$name" 2>/dev/null || echo gone)
  [ "$state" = running ] || fail "the container stopped before it was ready (state: $state)"
  [ $SECONDS -lt $deadline ] || fail "/health/ready did not answer 200 within 120 s"
  sleep 0.5
done
done_step start
log "/health/ready answered 200 after ${took[start]} s"

if [ "$engine" = podman ]; then
  "$engine" healthcheck run "$name" >/dev/null 2>&1 || fail "the image's own HEALTHCHECK failed inside the container"
  log "the image's HEALTHCHECK passes inside the container"
else
  deadline=$((SECONDS + 60))
  until [ "$(docker inspect --format '{{.State.Health.Status}}' "$name")" = healthy ]; do
    [ $SECONDS -lt $deadline ] || fail "the container did not become healthy within 60 s"
    sleep 1
  done
fi

step "client: register, then a voice session with the local engines"
speech="$ART/speech.raw"
# The utterance and voice tests/api/voice.rs feeds PocketSphinx (flite's rms voice, undithered).
flite -voice rms -t "please add a task to buy milk tomorrow" -o "$ART/speech.wav"
sox -D "$ART/speech.wav" -r 16000 -c 1 -b 16 -e signed-integer -t raw "$speech"
python3 scripts/image-test-client.py "$url" "$speech" >"$ART/client.log" 2>&1 || {
  cat "$ART/client.log" >&2
  fail "the client checks failed"
}
cat "$ART/client.log" >&2
done_step client

step "stopping the container (SIGTERM)"
"$engine" stop -t 30 "$name" >/dev/null
code=$("$engine" inspect --format '{{.State.ExitCode}}' "$name")
"$engine" logs "$name" >"$ART/container.log" 2>&1 || true
[ "$code" = 0 ] || fail "the container exited with status $code after SIGTERM"
done_step stop

{
  echo "PASSED: make test-image ($engine)"
  printf '  %s\n' "${base_report[@]}"
  echo "  image $IMAGE: user $user, $((size / 1024 / 1024)) MiB"
  echo "  timings: compose check ${took[compose]} s, base images ${took[bases]} s, build ${took[build]} s," \
    "ready ${took[start]} s, client ${took[client]} s, stop ${took[stop]} s, total $((SECONDS - t_start)) s"
} | tee "$ART/result.txt" >&2
