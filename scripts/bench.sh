#!/usr/bin/env bash
# Measures the `devicecode` command against the test authority on loopback:
# one complete sign-in (code + 2 pending polls + token + cache write), a
# silent cache hit and a silent refresh; a fresh process's cache hit with 1,
# 100 and 1000 accounts in the file; the wake-ups of a sign-in's wait.
# Prints a markdown report.
#
#   scripts/bench.sh > benches/RESULTS.md
#   BENCH_TARGETS= BENCH_PARTS="accounts wakeups" scripts/bench.sh   # native, quick
#
# Environment: BENCH_PROFILE (cargo profile of the measured binary, default
# "release-small"), BENCH_TARGETS (targets whose stripped size is reported;
# their toolchains are installed as scripts/cross-test.sh does; default
# "x86_64-unknown-linux-musl aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf").
# BENCH_PARTS (default "size runs speed accounts wakeups inprocess"): the
# sections to produce. The runs are measured for the host's glibc binary, the
# same linked by scripts/small-link.sh (profile release-small), and a static
# musl one; "speed" runs them again for the host's command built for speed. Needs gcc (a launcher that reads wait4's rusage), valgrind
# (callgrind) and, for "wakeups", strace.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_PROXY="127.0.0.1,localhost,::1"
export CARGO_TERM_COLOR=never

profile=${BENCH_PROFILE:-release-small}
targets=${BENCH_TARGETS-x86_64-unknown-linux-musl aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf}
parts=" ${BENCH_PARTS:-size runs speed accounts wakeups inprocess} "
part() { [[ $parts == *" $1 "* ]]; }
. scripts/cross-env.sh
client_id=11111111-2222-3333-4444-555555555555

cargo build --quiet --locked --profile "$profile" -p devicecode-cli >&2
cargo build --quiet --locked --release -p devicecode-test-authority >&2
bin=target/$profile/devicecode
[ "$profile" = dev ] && bin=target/debug/devicecode
# The host's command as scripts/small-link.sh links it (release-small only):
# measured beside the default one in the size and run sections.
host=$(rustc -vV | sed -n 's/^host: //p')
small_bin=""
if [ "$profile" = release-small ] && { part size || part runs; }; then
    small_bin=$(scripts/small-link.sh "$host")
fi
server=target/release/devicecode-test-authority

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stripped() { cp "$1" "$work/stripped"; strip "$work/stripped"; stat -c %s "$work/stripped"; }
loaded() { "$1" "$2" | awk 'NR == 2 { print $1 + $2 }'; } # size tool, binary: text + data bytes

# The authority approves at the third poll: 2 pending answers, then the token.
coproc AUTH { "$server" "$work/ca.pem" 3 1; }
read -r base <&"${AUTH[0]}"
authority="$base/organizations"
common=(--client-id "$client_id" --authority "$authority" --ca-file "$work/ca.pem" --scope User.Read)

stats() { echo stats >&"${AUTH[1]}"; read -r line <&"${AUTH[0]}"; echo "$line"; }
reset() { echo reset >&"${AUTH[1]}"; }
mb() { awk -v n="$1" -v d="$2" 'BEGIN { printf "%.2f", n / d }'; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# Exit code, peak RSS (KiB), user+sys CPU (ms), voluntary context switches
# (wake-ups after blocking) and wall time (ms) of one run, from wait4's
# rusage. The launcher is a tiny static C program: Linux carries the peak RSS
# of the process image that calls exec into the new one, so launching from
# python or a shell would count their memory as ours.
gcc -O2 -static -o "$work/launch" scripts/launch.c 2>/dev/null || gcc -O2 -o "$work/launch" scripts/launch.c
rusage() { "$work/launch" "$@"; }

# Instructions executed (callgrind), all threads.
instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | tail -1
}

measure() { # name, then the command
    local name=$1; shift
    reset
    read -r rc rss cpu _ _ < <(rusage "$@")
    [ "$rc" = 0 ] || { echo "bench: '$name' exited with $rc" >&2; exit 1; }
    local counts; counts=$(stats)
    local ins; ins=$(instructions "$@")
    printf '| %s | %s KiB (%s MB) | %s ms | %s | %s | %s | %s |\n' "$name" "$rss" \
        "$(mb "$rss" 1024)" "$cpu" "${ins:-n/a}" \
        "$(field connections "$counts")" "$(field tls_handshakes "$counts")" "$(field before_code "$counts")"
}

echo "# Footprint of the \`devicecode\` command"
echo
echo "Produced by \`scripts/bench.sh > benches/RESULTS.md\` on $(date -u +%Y-%m-%d), $(uname -m),"
echo "$(rustc --version), profile \`$profile\`. The test authority runs in its own process on loopback"
echo "(test-authority/src/main.rs) and counts connections and handshakes; peak RSS and CPU come from"
echo "wait4's rusage of the process, instructions from callgrind (all of them, start-up included)."
echo
musl_bin=""
if part size; then
echo "## Binary size (stripped)"
echo
echo "The file of an aarch64 binary grows in 64 KiB steps (GNU ld aligns its segments so); the loaded"
echo "bytes (text + data, from binutils' size) show every change."
echo
echo "| target | bytes | MB | text + data |"
echo "|---|---:|---:|---:|"
size=$(stripped "$bin")
printf '| %s | %s | %s | %s |\n' "$host" "$size" "$(mb "$size" 1000000)" "$(loaded size "$work/stripped")"
if [ -n "$small_bin" ]; then
    size=$(stat -c %s "$small_bin")
    printf '| %s, linked by `scripts/small-link.sh` | %s | %s | %s |\n' "$host" "$size" \
        "$(mb "$size" 1000000)" "$(loaded size "$small_bin")"
fi
for target in $targets; do
    built=$(
        cross_env "$target" && cross_install "$target" >&2 &&
            cargo build --quiet --locked --profile "$profile" -p devicecode-cli --target "$target" >&2 &&
            echo "target/$target/$profile/devicecode"
    ) || built=""
    if [ -n "$built" ]; then
        cross_env "$target"
        cp "$built" "$work/cross"
        "$cross_strip" "$work/cross"
        size=$(stat -c %s "$work/cross")
        printf '| %s | %s | %s | %s |\n' "$target" "$size" "$(mb "$size" 1000000)" \
            "$(loaded "${cross_strip%strip}size" "$work/cross")"
        [ "$target" = x86_64-unknown-linux-musl ] && musl_bin=$built
        if [[ $target == *-linux-gnu* && $profile == release-small ]]; then
            small=$(scripts/small-link.sh "$target")
            size=$(stat -c %s "$small")
            printf '| %s, linked by `scripts/small-link.sh` | %s | %s | %s |\n' "$target" "$size" \
                "$(mb "$size" 1000000)" "$(loaded "${cross_strip%strip}size" "$small")"
        fi
    else
        printf '| %s | not built: its toolchain could not be installed | | |\n' "$target"
    fi
done
echo
fi
runs() { # binary, label
    local b=$1 label=$2
    measure "$label: sign-in (code + 2 pending polls + token + cache write)" \
        "$b" login "${common[@]}" --cache "$work/tokens.json"
    measure "$label: silent cache hit (\`token\`)" "$b" token "${common[@]}" --cache "$work/tokens.json"
    measure "$label: silent refresh (\`token --force-refresh\`)" \
        "$b" token "${common[@]}" --cache "$work/tokens.json" --force-refresh
}
if part runs; then
echo "## One run of each"
echo
echo "| run | peak RSS | user+sys CPU | instructions | TCP connections | TLS handshakes | requests before the code |"
echo "|---|---:|---:|---:|---:|---:|---:|"
runs "$bin" "glibc"
[ -n "$small_bin" ] && runs "$small_bin" "glibc, small-link"
[ -n "$musl_bin" ] && runs "$musl_bin" "static musl"
echo
fi

if part speed; then
# The profile issue 14's review compared crates with (opt-level 3, fat LTO,
# one codegen unit, panic = "abort", stripped): the same code built for
# speed instead of size, in its own target directory.
CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=abort \
    CARGO_PROFILE_RELEASE_STRIP=true cargo build --quiet --locked --release -p devicecode-cli \
    --target-dir target/speed >&2
echo "## Built for speed (opt-level 3, fat LTO, one codegen unit, panic = \"abort\")"
echo
echo "The review's comparison profile; \`release-small\` trades these instructions for size. x86_64, $(stripped target/speed/release/devicecode) bytes stripped."
echo
echo "| run | peak RSS | user+sys CPU | instructions | TCP connections | TLS handshakes | requests before the code |"
echo "|---|---:|---:|---:|---:|---:|---:|"
runs target/speed/release/devicecode "glibc, opt-level 3"
echo
fi

if part accounts; then
# What `devicecode token --account NAME` costs as a new process (start-up,
# read and parse the file, list the accounts, the cached token), by the
# number of accounts in the file. The files come from the in-process bench.
DEVICECODE_BENCH_WRITE="$work/files" cargo bench --quiet --locked --bench silent_cache_hit >&2
echo "## Silent cache hit in a fresh process, by accounts in the file (\`devicecode token --account\`)"
echo
echo "Median of 5 runs for time; instructions from callgrind (start-up included). Targets (issue 14):"
echo "100 accounts ≤ 8 M instructions, 1000 accounts ≤ 60 M."
echo
echo "| accounts | file size | wall time | user+sys CPU | peak RSS | instructions |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in 1 100 1000; do
    file="$work/files/tokens-$n.json"
    # The files are Entra's (login.microsoftonline.com): a cache hit needs no network.
    cmd=("$bin" token --client-id "$client_id" --tenant organizations --scope User.Read
        --cache "$file" --account "user$((n / 2))@contoso.example")
    walls=() cpus=()
    for _ in 1 2 3 4 5; do
        read -r rc rss cpu _ wall < <(rusage "${cmd[@]}")
        [ "$rc" = 0 ] || { echo "bench: token with $n accounts exited with $rc" >&2; exit 1; }
        walls+=("$wall") cpus+=("$cpu")
    done
    median() { printf '%s\n' "$@" | sort -n | sed -n 3p; }
    printf '| %s | %s KiB | %s ms | %s ms | %s KiB | %s |\n' "$n" "$(($(stat -c %s "$file") / 1024))" \
        "$(median "${walls[@]}")" "$(median "${cpus[@]}")" "$rss" "$(instructions "${cmd[@]}")"
done
echo
fi

if part wakeups; then
# How often the sign-in's wait wakes: the syscalls that sleep or block, and
# the voluntary context switches of the whole process (3 polls 1 s apart).
echo "## Wake-ups of a sign-in (code + 2 pending polls + token, polls 1 s apart)"
echo
echo "| binary | wall time | voluntary context switches | clock_nanosleep | futex | recvfrom (socket reads, incl. the wait's) | SIGTERM to exit (3 runs) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
wakeups() { # label, binary
    reset
    read -r rc _ _ nvcsw wall < <(rusage "$2" login "${common[@]}" --cache "$work/wake.json")
    [ "$rc" = 0 ] || { echo "bench: '$1' sign-in exited with $rc" >&2; exit 1; }
    rm -f "$work/wake.json"
    reset
    strace -f -c -o "$work/strace" -e trace=clock_nanosleep,futex,recvfrom \
        "$2" login "${common[@]}" --cache "$work/wake.json" >/dev/null 2>&1
    rm -f "$work/wake.json"
    calls() { awk -v s="$1" '$NF == s { n = $4 } END { print n + 0 }' "$work/strace"; }
    # SIGTERM during the wait (1.3 s in, between polls): time until it exits.
    local lags=() start
    for _ in 1 2 3; do
        reset
        "$2" login "${common[@]}" --cache "$work/wake.json" >/dev/null 2>&1 &
        sleep 1.3
        start=$(date +%s%N)
        kill -TERM $!
        wait $! || true
        lags+=("$(awk -v n="$(($(date +%s%N) - start))" 'BEGIN { printf "%.1f", n / 1e6 }')")
        rm -f "$work/wake.json"
    done
    printf '| %s | %s ms | %s | %s | %s | %s | %s ms |\n' "$1" "$wall" "$nvcsw" \
        "$(calls clock_nanosleep)" "$(calls futex)" "$(calls recvfrom)" "${lags[*]}"
}
wakeups "glibc \`devicecode login\`" "$bin"
[ -n "${BENCH_BEFORE:-}" ] && wakeups "before (BENCH_BEFORE)" "$BENCH_BEFORE"
echo
fi

if part inprocess; then
echo "## Silent cache hit by file size (in process, \`cargo bench --bench silent_cache_hit\`)"
echo
cargo bench --quiet --locked --bench silent_cache_hit 2>/dev/null
echo
fi
echo "The sign-in's wall time is dominated by the 1 s poll interval the test authority asks for."
echo "Callgrind runs each command a second time; its counts include the process start."
exec {AUTH[1]}>&-
