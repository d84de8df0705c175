# syntax=docker/dockerfile:1
# Multi-stage build: a cached dependency layer, then the app; a slim non-root runtime
# with the Debian speech packages the local providers use (PocketSphinx, eSpeak NG).
# `make test-image` (scripts/image-test.sh) builds this file and runs the result.

FROM rust:1.95-bookworm AS build
WORKDIR /src
ENV SQLX_OFFLINE=true CARGO_TERM_COLOR=never CARGO_NET_RETRY=5
# 1. Dependencies only: this layer is reused until Cargo.toml or Cargo.lock change.
#    Cargo reads every target the manifest names, so each gets an empty stand-in
#    (the library, the binaries and the integration-test crate); only `cadence` is built.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src/bin tests/api \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs tests/api/main.rs \
 && for b in $(sed -n 's/^path = "src\/bin\/\(.*\)"/\1/p' Cargo.toml); do echo 'fn main() {}' > "src/bin/$b"; done \
 && cargo build --release --locked --bin cadence \
 && rm -rf src tests target/release/cadence target/release/deps/cadence-* target/release/deps/libcadence-* \
      target/release/.fingerprint/cadence-*
# 2. The application. The tests are not part of the image; the manifest still names
#    tests/api/main.rs, so an empty one stands in for it.
COPY .sqlx ./.sqlx
COPY migrations ./migrations
COPY config ./config
COPY src ./src
RUN mkdir -p tests/api && touch tests/api/main.rs \
 && cargo build --release --locked --bin cadence \
 && install -D -m 0755 target/release/cadence /out/cadence

FROM debian:bookworm-slim AS runtime
# The local speech engines (PocketSphinx with its US English model, eSpeak NG), CA
# certificates for the cloud vendors, curl for the health check.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates curl espeak-ng pocketsphinx pocketsphinx-en-us \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin cadence
WORKDIR /app
COPY --from=build /out/cadence /usr/local/bin/cadence
COPY config ./config
USER cadence
ENV CADENCE_ENV=production CADENCE_CONFIG_DIR=/app/config CADENCE__SERVER__HOST=0.0.0.0 CADENCE__SERVER__PORT=8080
EXPOSE 8080
# Healthy = serving and the database answers; follows the port if PORT or CADENCE__SERVER__PORT change it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${PORT:-${CADENCE__SERVER__PORT:-8080}}/health/ready" || exit 1
# Migrations run at startup (embedded in the binary), as with `make run`.
CMD ["cadence"]
