# sluice's container image: build with the pinned toolchain, run on a slim non-root base.
#
#   docker build -t registry.example.com/platform/sluice:0.1.0 .
#
# No container runtime runs where sluice is developed, so this build is not exercised
# by the tests (README "Install in a cluster"); the commands it runs are the ones CI
# runs (scripts/setup.sh's target, `cargo build --release --locked`).

# ---- build ----
FROM rust:1.95.0-slim-bookworm AS build
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
# The stock policies are built for wasm32-wasip2 and embedded in the binary.
RUN rustup target add wasm32-wasip2
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sluice --bin sluice \
 && install -D -m 0755 target/release/sluice /out/sluice

# ---- run ----
FROM debian:bookworm-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 sluice \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin sluice
COPY --from=build /out/sluice /usr/local/bin/sluice
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["run", "--config", "/etc/sluice/config/sluice.yaml"]
