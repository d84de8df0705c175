#!/usr/bin/env bash
# `make fuzz`: run every cargo-fuzz target of fuzz/ briefly (FUZZ_SECONDS each, default 30) and
# fail if any of them finds a crash. Not part of `make test` (too slow for CI).
#
#   scripts/fuzz.sh                      # every target
#   FUZZ_SECONDS=300 scripts/fuzz.sh wav_decode sort_cursor
#
# cargo-fuzz needs nightly-only compiler flags (sanitizers, coverage instrumentation); on a
# stable toolchain RUSTC_BOOTSTRAP=1 unlocks them. Each target's corpus grows in
# fuzz/corpus/<target> (git-ignored), seeded from fuzz/seeds/<target> (committed); a crash
# leaves its input in fuzz/artifacts/<target>/ and the command to reproduce it is printed.
# FUZZ_SANITIZER=none builds without AddressSanitizer (faster; the code is safe Rust).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
command -v cargo >/dev/null || die "cargo is not installed: install Rust from https://rustup.rs"

if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1 SQLX_OFFLINE=true
seconds="${FUZZ_SECONDS:-30}"
sanitizer=(--sanitizer "${FUZZ_SANITIZER:-address}")

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi
[ ${#targets[@]} -gt 0 ] || die "no fuzz targets found in fuzz/"

log "building ${#targets[@]} fuzz targets (release, instrumented; the first build takes a while)"
for t in "${targets[@]}"; do cargo fuzz build --fuzz-dir fuzz "${sanitizer[@]}" "$t"; done

failed=()
for t in "${targets[@]}"; do
  corpus="$ROOT/fuzz/corpus/$t" seeds="$ROOT/fuzz/seeds/$t"
  mkdir -p "$corpus" "$ROOT/fuzz/artifacts/$t"
  dirs=("$corpus")
  [ -d "$seeds" ] && dirs+=("$seeds")
  log "fuzzing $t for ${seconds}s"
  # -rss_limit_mb: a parser that allocates without bound fails instead of swapping.
  if cargo fuzz run --fuzz-dir fuzz "${sanitizer[@]}" "$t" "${dirs[@]}" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$ROOT/fuzz/artifacts/$t/" 2>"$ROOT/fuzz/artifacts/$t.log"; then
    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$ROOT/fuzz/artifacts/$t.log" | tail -n 1 >&2 || true
  else
    tail -n 40 "$ROOT/fuzz/artifacts/$t.log" >&2
    printf '\033[1;31mcrash:\033[0m %s (inputs in fuzz/artifacts/%s/; reproduce with RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz %s <file>)\n' \
      "$t" "$t" "$t" >&2
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  die "fuzz targets that crashed: ${failed[*]}"
fi
log "no crash in ${#targets[@]} targets (${seconds}s each)"
