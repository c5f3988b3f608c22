# syntax=docker/dockerfile:1.7
# One image for the six planets (docker-compose.yml picks the binary with `command:`). Multi-stage: the build
# stage compiles the workspace in release mode and Mercury's site with the same mercury/build.sh as the native run
# and the tests; the runtime stage is Debian slim with the binaries, the site, the dbt project and the routes, run
# as an unprivileged user. BuildKit cache mounts keep the cargo registry and target dir between builds, so a
# change to one planet recompiles that planet, not the dependency tree (the role cargo-chef plays elsewhere).

ARG RUST_VERSION=1.95.0
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
# librdkafka is built from source by rdkafka (cmake, SASL headers); npm for Mercury's assets and wasm-opt.
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake libsasl2-dev nodejs npm \
    && rm -rf /var/lib/apt/lists/*
RUN rustup target add wasm32-unknown-unknown
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# The wasm-bindgen CLI must equal the wasm-bindgen crate's version in Cargo.lock. Not --locked: its published
# lock file pins a webpki-roots release the registry no longer serves (infrastructure/local/install.sh).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    version=$(sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p;}' Cargo.lock) \
    && cargo install wasm-bindgen-cli --version "$version"
COPY . .
ENV CARGO_TARGET_DIR=/src/target
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p mars -p venus -p neptune -p jupiter -p uranus -p mercury \
    && bash mercury/build.sh \
    && mkdir -p /out/bin \
    && cp target/release/mars target/release/venus target/release/neptune target/release/jupiter \
       target/release/uranus target/release/mercury /out/bin/ \
    && cp -r target/site /out/site

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libsasl2-2 wget \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/packetpulse --create-home packetpulse
COPY --from=build /out/bin/ /usr/local/bin/
COPY --from=build /out/site /opt/packetpulse/mercury/site
COPY uranus/dbt /opt/packetpulse/uranus/dbt
COPY mars/routes /opt/packetpulse/mars/routes
ENV MERCURY_SITE_ROOT=/opt/packetpulse/mercury/site \
    URANUS_PROJECT_DIR=/opt/packetpulse/uranus/dbt \
    MARS_ROUTES=/opt/packetpulse/mars/routes \
    LOG_JSON=true
USER packetpulse
WORKDIR /var/lib/packetpulse
