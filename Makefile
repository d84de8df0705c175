# Cadence: the two commands are `make run` and `make test`.
SHELL := /bin/bash
export SQLX_OFFLINE ?= true

.PHONY: run test lint fmt bench bench-ref bench-reminders fuzz schemathesis docker test-image compose-check sqlx-prepare sqlx-check build clean test-faults soak

run:           ## install what is missing, find/start PostgreSQL, migrate, serve on :8080
	@scripts/run.sh

test:          ## the whole suite against a real PostgreSQL
	@scripts/test.sh

lint:          ## formatting and clippy (warnings are errors)
	cargo fmt --all -- --check
	cargo clippy --all-targets --quiet -- -D warnings

fmt:
	cargo fmt --all

build:
	cargo build --release --bin cadence

bench:         ## run the benchmarks and rewrite BENCHMARKS.md
	@scripts/bench.sh

bench-ref:     ## Cadence against the bare axum+sqlx reference (wrk); short: BENCH_SECONDS=5 BENCH_ROUNDS=1
	@scripts/bench-reference.sh

bench-reminders: ## 10,000 reminders due at once on two instances sharing one database: all in-app, none twice
	@scripts/bench-reminders.sh

test-faults:   ## fault tests: PostgreSQL outage, failing providers, stalled clients, SIGTERM
	@scripts/faults.sh

soak:          ## mixed REST + voice load for SOAK_SECONDS (600): flat RSS, no 5xx
	@scripts/soak.sh

fuzz:          ## run each cargo-fuzz target briefly (FUZZ_SECONDS, default 30); fails on a crash
	@scripts/fuzz.sh

schemathesis:  ## property-based API tests from /api/v1/openapi.json against a built server
	@scripts/schemathesis.sh

docker:        ## build the container image (needs a Docker engine)
	docker build -t cadence:latest .

test-image:    ## build the image (podman/docker), run it on PostgreSQL: ready, register, a voice session
	@scripts/image-test.sh

compose-check: ## validate docker-compose.yml offline (Compose schema + references); also run by `make test`
	@scripts/compose-check.sh

sqlx-prepare:  ## regenerate .sqlx/ after changing a query or a migration
	@scripts/sqlx-prepare.sh

clean:
	cargo clean
