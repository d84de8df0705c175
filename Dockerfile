# syntax=docker/dockerfile:1
# Multi-stage build: a cached dependency layer, then the app; a slim non-root runtime
# with the Debian speech packages the local providers use (PocketSphinx, eSpeak NG).

FROM rust:1.95-bookworm AS build
WORKDIR /src
ENV SQLX_OFFLINE=true CARGO_TERM_COLOR=never
# 1. Dependencies only (cached until Cargo.toml/Cargo.lock change).
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src/bin tests/api \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && for b in $(sed -n 's/^path = "src\/bin\/\(.*\)"/\1/p' Cargo.toml); do echo 'fn main() {}' > "src/bin/$b"; done \
 && echo '' > tests/api/main.rs \
 && cargo build --release --bins || true \
 && rm -rf src tests
# 2. The application.
COPY .sqlx ./.sqlx
COPY migrations ./migrations
COPY config ./config
COPY src ./src
COPY tests ./tests
RUN touch src/main.rs src/lib.rs && cargo build --release --bins

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates espeak-ng pocketsphinx pocketsphinx-en-us sox curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app cadence
WORKDIR /app
COPY --from=build /src/target/release/cadence /usr/local/bin/cadence
COPY config ./config
USER cadence
ENV CADENCE_ENV=production CADENCE_CONFIG_DIR=/app/config CADENCE__SERVER__HOST=0.0.0.0 CADENCE__SERVER__PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:8080/health || exit 1
# Migrations run at startup (embedded in the binary), as with `make run`.
CMD ["cadence"]
