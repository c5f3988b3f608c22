#!/usr/bin/env bash
# The test command (`make test`, and what .ci/run calls): installs what the tests need, then shellcheck on every
# shell script, format check, clippy with warnings as errors, every test of the workspace against real servers, and
# the ClickHouse planets' tests again on the ClickHouse 26 engine, then a minute of fuzzing.
# Prints each step's time.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
# shellcheck source=env.sh
source infrastructure/local/env.sh

timed() { # timed NAME COMMAND...
    local name=$1 start=$SECONDS
    shift
    echo "==> test: $name"
    "$@"
    echo "==> test: $name done in $((SECONDS - start)) s"
}

total=$SECONDS
timed "install tools" bash infrastructure/local/install.sh
# Every shell script in the checkout, tracked or new (not ignored): the *.sh files and .ci/run. Settings in
# .shellcheckrc (sourced files are followed).
shell_scripts=()
while IFS= read -r file; do
    if [ -f "$file" ]; then shell_scripts+=("$file"); fi
done < <(git ls-files --cached --others --exclude-standard -- '*.sh' .ci/run)
timed "shellcheck (${#shell_scripts[@]} scripts)" shellcheck "${shell_scripts[@]}"
timed "cargo fmt --check" cargo fmt --all -- --check
timed "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
timed "mercury site (the browser's wasm, for the dashboard tests)" bash mercury/build.sh
timed "cargo test" cargo test --workspace --locked
# The planets that use ClickHouse, once more on the ClickHouse 26 engine (what docker compose runs) as their
# shared server; the outage test starts and stops its own 18.16 server and is not repeated.
timed "cargo test on ClickHouse 26 (Jupiter, Uranus, Mercury)" \
    env PACKETPULSE_TEST_CLICKHOUSE=modern cargo test --locked -p jupiter -p uranus -p mercury -- \
    --skip a_clickhouse_outage_mid_stream
# Venus' frame parser and a whole session under libFuzzer, 30 s each (crates/packetpulse-model/README.md,
# "Fuzzing"); the instrumented build has its own target dir.
timed "fuzzing (30 s per target)" bash crates/packetpulse-fuzz/run.sh 30
echo "==> test: everything passed in $((SECONDS - total)) s"
