# Cadence against the bare axum + sqlx reference (issue 21), on its own seeded database and
# ports, with wrk: writes BENCHMARKS.reference.md, which bench.sh folds into BENCHMARKS.md.
# Sourced by scripts/bench.sh (the binaries are already built).
# shellcheck shell=bash
BENCH_NO_BUILD=1 scripts/bench-reference.sh >/dev/null
