#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 30) and prints
# how many inputs each one executed. A crash fails the script; libFuzzer
# leaves the input in fuzz/artifacts/<target>/, which becomes a regression
# test (see `fuzzing::regressions` in src/fuzzing.rs).
#
#   scripts/fuzz.sh            # CI: 30 s per target
#   scripts/fuzz.sh 600        # a longer local run
#
# cargo-fuzz needs nightly compiler flags (sanitizers, coverage); this
# machine has only stable Rust, so RUSTC_BOOTSTRAP=1 unlocks them for this
# build only.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
export RUSTC_BOOTSTRAP=1 CARGO_TERM_COLOR=never

# libFuzzer itself is C++.
if ! command -v c++ >/dev/null && ! command -v g++ >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends g++ >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
targets=$(cargo fuzz list)
cargo fuzz build >&2
mkdir -p fuzz/corpus
printf '| target | seconds | executions | exec/s |\n|---|---:|---:|---:|\n'
for target in $targets; do
    mkdir -p "fuzz/corpus/$target"
    # Seed the corpus with the answers the tests see, and with every input
    # that once crashed, so the fuzzer starts from realistic inputs rather
    # than from nothing.
    for dir in seeds regressions; do
        [ -d "fuzz/$dir/$target" ] && cp -n fuzz/"$dir"/"$target"/* "fuzz/corpus/$target/" 2>/dev/null || true
    done
    # Longest input: a little over the 64 KiB answer cap for answers and
    # files, so the cap itself is crossed; header-sized for Retry-After.
    case "$target" in
        retry_after) max_len=256 ;;
        id_token) max_len=16384 ;;
        *) max_len=70000 ;;
    esac
    log=$(mktemp)
    if ! cargo fuzz run "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=512 -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz: $target CRASHED; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    printf '| %s | %s | %s | %s |\n' "$target" "$seconds" "${runs:-?}" "$(( ${runs:-0} / seconds ))"
    rm -f "$log"
done
