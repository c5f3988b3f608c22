#!/usr/bin/env bash
# The test command (`make test`, and what .ci/run calls): installs what the tests need, then shellcheck on every
# shell script, format check, clippy with warnings as errors, every test of the workspace against real servers, and
# the ClickHouse planets' tests again on the ClickHouse 26 engine, then a minute of fuzzing.
# Prints each step's time.
#
# What can overlap does (2 cores): the tests wait on servers much of the time, so test executables run two at a
# time (infrastructure/local/test_binaries.py), and clippy and the fuzzing build run in the background at the lowest
# CPU and I/O priority, each in a target dir of its own (they share no compiled code with the test build:
# check-only, and instrumented release), on what the rest leaves idle. The dashboard's browser build runs beside
# the test build. Background steps write to $PACKETPULSE_TEST_LOGS (default: a temporary dir); a failed one's log
# is printed.
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

logs=${PACKETPULSE_TEST_LOGS:-$(mktemp -d)}
mkdir -p "$logs"
declare -A background_pid background_start
# background [--idle] NAME COMMAND... — starts a step in its own process group, output to $logs/NAME.log (spaces in
# NAME as dashes); with --idle at the lowest CPU and I/O priority, so it only takes what the foreground leaves.
background() {
    local priority=normal
    if [ "$1" = --idle ]; then
        priority=idle
        shift
    fi
    local name=$1
    shift
    echo "==> test: $name (in the background, log $logs/${name// /-}.log)"
    # setsid: the step leads its own process group (a background job of a script never does), so one signal
    # reaches cargo and every compiler it started. A new session is also a new scheduler autogroup, which the
    # kernel shares the CPU with as an equal of the foreground whatever the nice value of its processes: an idle
    # step's autogroup is niced too (seen on 2026-12-02: without it the background builds took 2/3 of the CPU).
    # shellcheck disable=SC2016 # $@ is the inner shell's
    setsid bash -c 'if [ "$0" = idle ]; then
            if [ -w /proc/self/autogroup ]; then echo 19 >/proc/self/autogroup; fi
            exec nice -n 19 ionice -c 3 "$@"
        fi
        exec "$@"' "$priority" "$@" >"$logs/${name// /-}.log" 2>&1 &
    background_pid[$name]=$!
    background_start[$name]=$SECONDS
}
# finish NAME — waits for a background step; prints its log and fails if it failed.
finish() {
    local name=$1 status=0
    echo "==> test: $name (waiting for the background step)"
    wait "${background_pid[$name]}" || status=$?
    unset "background_pid[$name]"
    if [ "$status" -ne 0 ]; then
        cat "$logs/${name// /-}.log"
        echo "==> test: $name FAILED (exit status $status)"
        exit "$status"
    fi
    tail -n 3 "$logs/${name// /-}.log"
    echo "==> test: $name done, $((SECONDS - background_start[$name])) s after it started"
}
stop_background() {
    local pid
    for pid in "${background_pid[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
trap stop_background EXIT

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
background --idle "cargo clippy" env CARGO_TARGET_DIR="$CARGO_TARGET_DIR-clippy" \
    cargo clippy --workspace --all-targets --locked -- -D warnings
# Venus' frame parser and a whole session under libFuzzer (crates/packetpulse-model/README.md, "Fuzzing").
background --idle "fuzzing build" bash crates/packetpulse-fuzz/run.sh --build-only
# The dashboard's browser build, which the browser tests load, beside the test build at the same priority: its
# link-time optimisation runs on one core for minutes, and its npm install waits on the network.
background "mercury site" bash mercury/build.sh
timed "test build" cargo test --workspace --locked --no-run
finish "mercury site"
timed "doctests" cargo test --workspace --locked --doc
# Every test executable, two at a time (three made a Jupiter test miss its 60 s deadline), and the planets that use ClickHouse once more on the ClickHouse 26 engine
# (what docker compose runs) as their shared server: the same executables, nothing rebuilt.
timed "tests (the warehouse planets on ClickHouse 18.16 and 26)" \
    python3 infrastructure/local/test_binaries.py --jobs 2 --clickhouse-26 jupiter,uranus,mercury
finish "cargo clippy"
finish "fuzzing build"
timed "fuzzing (30 s per target)" bash crates/packetpulse-fuzz/run.sh 30
echo "==> test: everything passed in $((SECONDS - total)) s"
