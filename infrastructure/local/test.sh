#!/usr/bin/env bash
# The test command (`make test`, and what .ci/run calls): installs what the tests need, then format check,
# clippy with warnings as errors, and every test of the workspace against real servers. Prints each step's time.
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
timed "cargo fmt --check" cargo fmt --all -- --check
timed "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
timed "mercury site (the browser's wasm, for the dashboard tests)" bash mercury/build.sh
timed "cargo test" cargo test --workspace --locked
echo "==> test: everything passed in $((SECONDS - total)) s"
