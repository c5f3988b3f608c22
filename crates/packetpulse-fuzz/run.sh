#!/usr/bin/env bash
# Fuzzes Venus' frame parser and a whole session with libFuzzer on stable Rust (coverage from LLVM's sanitizer
# coverage pass, enabled with stable -C flags), then prints inputs run, execs/s and coverage per target.
#
#   bash crates/packetpulse-fuzz/run.sh [SECONDS_PER_TARGET (30)] [TARGET ...(frame session)]
#   bash crates/packetpulse-fuzz/run.sh --build-only   (the instrumented build alone: make test runs it early)
#
# The instrumented build goes to its own target dir ($PACKETPULSE_FUZZ_TARGET_DIR, default
# ~/.cache/packetpulse/target-fuzz): its flags must not mix with the workspace's build. New inputs go to a
# temporary dir unless PACKETPULSE_FUZZ_KEEP=1, which adds them to corpus/ (minimise with libFuzzer's -merge=1
# before committing). A crash, a hang (over 5 s) or memory over 2 GiB fails the run and leaves the input in
# $PACKETPULSE_FUZZ_ARTIFACTS (default: a temporary dir, printed).
set -euo pipefail

crate="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_only=0
if [ "${1:-}" = --build-only ]; then
    build_only=1
    shift
fi
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frame session)

export CARGO_TARGET_DIR="${PACKETPULSE_FUZZ_TARGET_DIR:-$HOME/.cache/packetpulse/target-fuzz}"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks --cfg fuzzing"
# An explicit --target keeps RUSTFLAGS off build scripts and proc-macros (they would not link the coverage hooks).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --locked -p packetpulse-fuzz --features fuzz --bins --target "$host"
[ "$build_only" = 0 ] || exit 0

artifacts="${PACKETPULSE_FUZZ_ARTIFACTS:-$(mktemp -d)}"
for target in "${targets[@]}"; do
    seeds="$crate/corpus/$target"
    if [ "${PACKETPULSE_FUZZ_KEEP:-0}" = 1 ]; then
        dirs=("$seeds")
    else
        found=$(mktemp -d)
        dirs=("$found" "$seeds")
    fi
    log="$artifacts/$target.log"
    echo "fuzz: $target for ${seconds} s (log $log)"
    if ! "$CARGO_TARGET_DIR/$host/release/fuzz_$target" "${dirs[@]}" -max_total_time="$seconds" -timeout=5 \
        -rss_limit_mb=2048 -max_len=131072 -artifact_prefix="$artifacts/$target-" -print_final_stats=1 \
        >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz: $target FAILED; the input is in $artifacts" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
    corpus=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -n 1)
    echo "fuzz: $target: $runs inputs, $speed execs/s, $coverage, $corpus, no crash, hang or memory blow-up"
done
