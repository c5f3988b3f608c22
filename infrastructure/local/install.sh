#!/usr/bin/env bash
# Installs everything the native run and the tests need, idempotently.
#
#   apt:   clickhouse-server/-client 18.16 (Debian), build tools for rdkafka's bundled librdkafka
#          and postgresql (the Iceberg SQL catalog on PostgreSQL, as in compose), Chromium and chromedriver
#          (browser tests), docker-compose (validates docker-compose.yml), shellcheck (lints every shell script)
#   cargo: tansu (Kafka-protocol broker, sqlite storage) and s3s-fs (S3 server) into $PACKETPULSE_TOOLS
#   pip:   pyiceberg in a venv under $PACKETPULSE_TOOLS (independent reader of the bronze table), dbt-clickhouse
#          in another (dbt parse of uranus/dbt), aiosmtpd in a third (the SMTP server of the email-alert tests)
#
# Each step prints how long it took. A step whose result is already present is skipped, so a
# second run costs seconds. Source infrastructure/local/env.sh to get the tools on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

TANSU_VERSION=0.6.0
S3S_FS_VERSION=0.14.1
# The wasm-bindgen CLI must be the exact version of the wasm-bindgen crate Mercury is built with (Cargo.lock).
WASM_BINDGEN_VERSION=$(sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p;}' \
    "$(dirname "$0")/../../Cargo.lock")
# pyiceberg reads the bronze table in Neptune's tests, independently of iceberg-rust, and acts as another engine
# rewriting it (pyiceberg-core: its partitioned writes).
PYICEBERG_REQUIREMENT="pyiceberg[sql-sqlite,pyarrow,pyiceberg-core]==0.12.0"
# The ClickHouse 26 engine in-process (chdb) behind the testkit's HTTP front (crates/packetpulse-testkit/scripts/
# chdb_http.py), the modern ClickHouse of the tests next to Debian's 18.16; lz4 reads the clients' compressed inserts.
CHDB_REQUIREMENTS=(chdb-core==26.9.0 lz4==4.4.4)
# dbt itself parses Uranus' project in its tests. dbt-core is held at 1.10: without the pin pip picks a newer
# dbt-core whose dependencies download a wheel from GitHub at install time, which this machine cannot reach.
DBT_REQUIREMENTS=(dbt-clickhouse==1.10.3 dbt-core==1.10.23)
# A real SMTP server for Mercury's email-alert tests.
AIOSMTPD_REQUIREMENT="aiosmtpd==1.4.6"

step() { # step NAME COMMAND... — run a step and print its duration
    local name=$1 start=$SECONDS
    shift
    echo "==> install: $name"
    "$@"
    echo "==> install: $name done in $((SECONDS - start)) s"
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_packages=(clickhouse-server clickhouse-client curl build-essential pkg-config cmake zlib1g-dev libssl-dev
    libsasl2-dev protobuf-compiler python3-venv postgresql chromium chromium-driver docker-compose shellcheck)

install_apt() {
    local missing=()
    for p in "${apt_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "    apt packages already installed"
        return
    fi
    echo "    missing: ${missing[*]}"
    as_root apt-get update -qq
    # The clickhouse-server package's postinst may try to start a service; we never use it.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_rust_components() {
    local installed
    installed=$(rustup component list --installed 2>/dev/null || true)
    if grep -q '^rustfmt' <<<"$installed" && grep -q '^clippy' <<<"$installed"; then
        echo "    rustfmt and clippy already installed"
    else
        rustup component add rustfmt clippy
    fi
    # Mercury's browser code compiles to wasm.
    if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        echo "    wasm32-unknown-unknown already installed"
    else
        rustup target add wasm32-unknown-unknown
    fi
}

# cargo_tool BINARY CRATE VERSION LOCKING [cargo install args...] — LOCKING is --locked (the crate's own
# Cargo.lock, the rule) or --unlocked (a fresh resolution: only for a crate whose published lock file cannot be
# built here, with the reason at the call).
cargo_tool() {
    local bin=$1 crate=$2 version=$3 locking=$4
    shift 4
    local stamp="$PACKETPULSE_TOOLS/.installed-$crate-$version"
    if [ -x "$PACKETPULSE_TOOLS/bin/$bin" ] && [ -f "$stamp" ]; then
        echo "    $crate $version already installed"
        return
    fi
    # Own target dir per tool: an interrupted build resumes instead of starting over, and the
    # project's target dir is not churned by the tools' feature sets.
    local build_dir="$PACKETPULSE_TOOLS/build/$crate"
    # With the crate's own Cargo.lock unless the call says otherwise: a fresh resolution builds whatever
    # dependency versions are newest that day. A failure stops the install and says so; there is no retry with
    # another resolution.
    local lock_flag=()
    [ "$locking" = --locked ] && lock_flag=(--locked)
    if ! CARGO_TARGET_DIR="$build_dir" cargo install "${lock_flag[@]}" --root "$PACKETPULSE_TOOLS" \
        --version "$version" "$crate" "$@"; then
        echo "install: cargo install $locking $crate@$version failed (see above)." >&2
        echo "         Fix the cause (toolchain, network, system packages) and rerun this script." >&2
        exit 1
    fi
    touch "$stamp"
    rm -rf "$build_dir" # several GiB of intermediate artefacts, not needed once installed
}

# python_venv DIR REQUIREMENT... — a venv with pinned requirements (PyPI), recreated when a pin changes.
python_venv() {
    local venv=$1
    shift
    local stamp
    stamp="$venv/.installed-$(echo "$*" | tr -c 'A-Za-z0-9.=' '_')"
    if [ -f "$stamp" ]; then
        echo "    $* already installed"
        return
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
    touch "$stamp"
}

mkdir -p "$PACKETPULSE_TOOLS/bin"
total_start=$SECONDS
step "apt packages" install_apt
# Mercury's static assets (Leaflet, Chart.js) and wasm-opt come from npm (mercury/build.sh runs `npm ci`).
if ! command -v npm >/dev/null; then
    step "Node.js and npm (Debian)" as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
step "rustfmt, clippy and the wasm32 target" install_rust_components
# The Python venvs download while the cargo tools compile (network against CPU); their output is printed after.
venv_log=$(mktemp)
python_venvs() {
    step "pyiceberg venv (cross-check of the bronze table, ~40 s the first time)" \
        python_venv "$PACKETPULSE_TOOLS/pyiceberg-venv" "$PYICEBERG_REQUIREMENT"
    step "chdb venv (ClickHouse 26 in-process for the modern-engine tests, ~1 min and 890 MB the first time)" \
        python_venv "$PACKETPULSE_TOOLS/chdb-venv" "${CHDB_REQUIREMENTS[@]}"
    step "dbt venv (dbt parse checks that uranus/dbt stays a valid dbt project, ~20 s the first time)" \
        python_venv "$PACKETPULSE_TOOLS/dbt-venv" "${DBT_REQUIREMENTS[@]}"
    step "aiosmtpd venv (SMTP server for the email-alert tests, ~5 s the first time)" \
        python_venv "$PACKETPULSE_TOOLS/aiosmtpd-venv" "$AIOSMTPD_REQUIREMENT"
}
python_venvs >"$venv_log" 2>&1 &
venvs_pid=$!
trap 'kill "$venvs_pid" 2>/dev/null || true' EXIT # a failed cargo step leaves no pip running
step "s3s-fs $S3S_FS_VERSION (S3 server, ~2 min the first time)" \
    cargo_tool s3s-fs s3s-fs "$S3S_FS_VERSION" --locked --features binary
step "tansu $TANSU_VERSION (Kafka broker, ~11 min the first time)" \
    cargo_tool tansu tansu "$TANSU_VERSION" --locked --features dynostore,libsql
# Unlocked: wasm-bindgen-cli 0.2.130's published Cargo.lock pins webpki-roots 1.0.11, which the registry no longer
# serves ("failed to select a version ... locked to 1.0.11", seen 2026-11-30). The tool's own version stays exact.
step "wasm-bindgen-cli $WASM_BINDGEN_VERSION (Mercury's browser build, ~4 min the first time)" \
    cargo_tool wasm-bindgen wasm-bindgen-cli "$WASM_BINDGEN_VERSION" --unlocked
venvs_status=0
wait "$venvs_pid" || venvs_status=$?
cat "$venv_log"
rm -f "$venv_log"
if [ "$venvs_status" -ne 0 ]; then
    echo "install: a Python venv failed (see above); rerun this script once the cause is fixed." >&2
    exit "$venvs_status"
fi
echo "==> install: all done in $((SECONDS - total_start)) s"
