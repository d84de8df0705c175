# Reminders (issue 15): 10,000 due at once across two instances on one database, on their
# own scratch database and ports: writes BENCHMARKS.reminders.md, which bench.sh folds into
# BENCHMARKS.md. Sourced by scripts/bench.sh (the binaries are already built); alone:
# `make bench-reminders` or `BENCH_ONLY=reminders make bench`.
# shellcheck shell=bash
BENCH_NO_BUILD=1 scripts/bench-reminders.sh >/dev/null
