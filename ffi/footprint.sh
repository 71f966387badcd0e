#!/usr/bin/env bash
# Measures the C example (examples/c/devicecode-c) linked statically against
# libdevicecode.a: its stripped size for the boards, and its peak RSS for one
# sign-in against the test authority on loopback. Prints a markdown section
# for benches/RESULTS.md.
#
#   ffi/footprint.sh >> benches/RESULTS.md
#
# Environment: FOOTPRINT_PROFILE (cargo profile, default "release-small"),
# FOOTPRINT_TARGETS (default "aarch64-unknown-linux-gnu
# armv7-unknown-linux-gnueabihf"; their toolchains are installed as
# scripts/cross-test.sh does). Peak RSS is measured on the host, as
# scripts/bench.sh measures the Rust command: from wait4's rusage, through a
# launcher that is not a shell.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_PROXY="127.0.0.1,localhost,::1"
export CARGO_TERM_COLOR=never

profile=${FOOTPRINT_PROFILE:-release-small}
targets=${FOOTPRINT_TARGETS:-aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf}
. scripts/cross-env.sh
client_id=11111111-2222-3333-4444-555555555555
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mb() { awk -v n="$1" -v d="$2" 'BEGIN { printf "%.2f", n / d }'; }

# The example, static, for one target ("" for the host).
example() { # target, C compiler, output
    local target=$1 cc=$2 out=$3
    cargo build --quiet --locked --profile "$profile" -p devicecode-ffi ${target:+--target "$target"} >&2
    make --quiet -C examples/c --always-make CC="$cc" TARGET="$target" PROFILE="$profile" \
        OUT="$out" LDFLAGS="-static -Wl,--gc-sections" 2>"$work/make.err" >&2 || {
        cat "$work/make.err" >&2
        return 1
    }
}

echo "## The C example, statically linked against libdevicecode.a"
echo
echo "Produced by \`ffi/footprint.sh\` on $(date -u +%Y-%m-%d), $(uname -m), $(rustc --version),"
echo "profile \`$profile\`: \`examples/c/devicecode-c\` built by its Makefile with"
echo "\`LDFLAGS='-static -Wl,--gc-sections'\`, then stripped."
echo
echo "| target | bytes | MB |"
echo "|---|---:|---:|"
example "" gcc "$work/host"
cp "$work/host" "$work/host-stripped"
strip "$work/host-stripped"
size=$(stat -c %s "$work/host-stripped")
printf '| %s (host) | %s | %s |\n' "$(rustc -vV | sed -n 's/^host: //p')" "$size" "$(mb "$size" 1000000)"
for target in $targets; do
    if (cross_env "$target" && cross_install "$target" >&2 &&
        example "$target" "$cross_gcc" "$work/$target"); then
        cross_env "$target"
        "$cross_strip" "$work/$target"
        size=$(stat -c %s "$work/$target")
        printf '| %s | %s | %s |\n' "$target" "$size" "$(mb "$size" 1000000)"
    else
        printf '| %s | not built: its toolchain could not be installed | |\n' "$target"
    fi
done
echo

gcc -O2 -static -o "$work/launch" scripts/launch.c 2>/dev/null || gcc -O2 -o "$work/launch" scripts/launch.c
cargo build --quiet --locked --release -p devicecode-test-authority >&2
# The authority approves at the third poll: 2 pending answers, then the token.
coproc AUTH { target/release/devicecode-test-authority "$work/ca.pem" 3 1; }
read -r base <&"${AUTH[0]}"
common=(--client-id "$client_id" --authority "$base/organizations" --ca-file "$work/ca.pem"
    --scope User.Read --cache "$work/tokens.json")
run() { # label, then the command
    local label=$1; shift
    read -r rc rss _ < <("$work/launch" "$@")
    [ "$rc" = 0 ] || { echo "footprint: '$label' exited with $rc" >&2; exit 1; }
    printf '| %s | %s KiB (%s MB) |\n' "$label" "$rss" "$(mb "$rss" 1024)"
}
echo "| run (host, static) | peak RSS |"
echo "|---|---:|"
run "sign-in (code + 2 pending polls + token + cache write)" "$work/host" login "${common[@]}"
run "silent cache hit (\`token\`)" "$work/host" token "${common[@]}"
run "silent refresh (\`token --force-refresh\`)" "$work/host" token "${common[@]}" --force-refresh
exec {AUTH[1]}>&-
