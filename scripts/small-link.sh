#!/usr/bin/env bash
# Builds the `devicecode` command for a Linux GNU target (an ARM board's, or
# the host's) as small as stable Rust can link it, and prints the path of the
# stripped copy:
#
#   scripts/small-link.sh aarch64-unknown-linux-gnu
#   scripts/small-link.sh x86_64-unknown-linux-gnu
#   scripts/small-link.sh --profile     # rewrites scripts/small-link.hot
#
# Same code and profile as `release-small`; it builds in its own directory,
# target/small-link, because cargo rebuilds every crate when the flags
# change: sharing target/ with the default build would rebuild both in turn.
#
# Given to every crate of the target (CARGO_ENCODED_RUSTFLAGS, after any
# RUSTFLAGS of yours):
# - `--remap-path-prefix` of cargo's registry sources: panic messages name
#   `ring-0.17.14/src/...` instead of `/home/you/.cargo/registry/src/index.
#   crates.io-.../ring-0.17.14/src/...`, which also keeps the build machine's
#   paths out of the binary (the workspace's own paths are already relative).
#
# Given to the final link alone (through `cargo rustc`):
# - lld, the linker rustup ships with the toolchain (gcc drives it);
# - `-z pack-relative-relocs`: the PIE's relocations in a compact table
#   (DT_RELR; needs glibc 2.36 or later on the board, e.g. Raspberry Pi OS
#   Bookworm; an older glibc refuses to start the program). PIE, full RELRO
#   and immediate binding stay as in the default build;
# - `--icf=all`: identical functions folded into one;
# - no unwind tables: `--no-eh-frame-hdr` and a linker script (written to
#   target/small-link/no-unwind-HASH.ld) that drops `.eh_frame` and
#   `.gcc_except_table`, and ARM 32-bit's `.ARM.exidx` and `.ARM.extab`.
#   With panic = "abort" nothing unwinds: a panic still prints its message
#   and aborts, RUST_BACKTRACE prints no frames (as with the header alone).
#   Tools that walk a core dump's stack by these tables (gdb,
#   `perf --call-graph=dwarf`) walk it less well: debug the default build.
#   (`-C force-unwind-tables=no` would not help: with fat LTO the tables
#   left are std's own, built with them);
# - `-l static=gcc_eh`: GCC's unwinder linked in (+20 KiB) instead of
#   loading libgcc_s.so.1 at start: one shared library fewer to map, relocate
#   and bind (about 80 KiB less resident and 29,000 fewer instructions per run
#   on x86_64). std needs the unwinder only for backtraces. Linked before
#   std's `-lgcc_s`, which `--as-needed` then leaves out. On ARM 32-bit it
#   names the bounds of the dropped `.ARM.exidx`: the script defines them as
#   an empty table (glibc's own lookup finds none either);
# - `--symbol-ordering-file` (target/small-link/order-HASH.txt):
#   ring's 148 KiB P-256 table, which must start on a 4 KiB boundary, first
#   in `.rodata`, where it needs no padding before it (up to 4 KiB saved;
#   targets without the table ignore the file);
#   and the functions that a sign-in, a cache hit and a refresh run
#   (scripts/small-link.hot) first in `.text`, together: the kernel maps a
#   program's cached pages 64 KiB at a time around each page it touches,
#   so scattered functions make the whole `.text` resident (on x86_64 the
#   peak RSS of a sign-in or a cache hit drops by about 300 KiB). The list
#   names functions without the hashes that differ between targets;
#   `--profile` rewrites it from callgrind runs of the host's command
#   against the test authority (needs valgrind). A stale list costs
#   resident pages, never correctness.
#   The names come from the previous link (`-C strip=none`; the copy printed
#   is stripped), so the first run links twice.
# GNU ld 2.40 cannot pack relocations for aarch64, hence lld.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/small-link.sh TARGET | --profile}
host=$(rustc -vV | sed -n 's/^host: //p')
profile=""
[ "$target" = --profile ] && profile=1 target=$host
if [ "$target" = "$host" ]; then
    cross_strip=strip
else
    . scripts/cross-env.sh
    cross_env "$target"
fi
gcc_ld="$(rustc --print sysroot)/lib/rustlib/$host/bin/gcc-ld"
[ -x "$gcc_ld/ld.lld" ] || { echo "small-link: no lld in the Rust toolchain ($gcc_ld)" >&2; exit 1; }
dir=$PWD/target/small-link
mkdir -p "$dir"
# INSERT keeps lld's own layout: the script only adds what to discard.
# Cargo relinks when the arguments change, not these files: their names
# carry a hash of their content.
script=$(printf '%s\n' 'SECTIONS {' \
    '  /DISCARD/ : { *(.eh_frame) *(.gcc_except_table .gcc_except_table.*)' \
    '                *(.ARM.exidx .ARM.exidx.*) *(.ARM.extab .ARM.extab.*) }' \
    '} INSERT AFTER .text;' \
    'PROVIDE_HIDDEN(__exidx_start = 0);' 'PROVIDE_HIDDEN(__exidx_end = 0);')
script_file=$dir/no-unwind-$(sha256sum <<<"$script" | cut -c1-12).ld
echo "$script" >"$script_file"
hot=scripts/small-link.hot
linked=$dir/$target/release-small/devicecode
nm_tool=${cross_strip%strip}nm

flags=()
read -ra flags <<<"${RUSTFLAGS:-}"
for src in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
    [ -d "$src" ] && flags+=("--remap-path-prefix=$src=")
done
link() { # ordering: the symbols to place first, one a line
    local order_file
    order_file=$dir/order-$(sha256sum <<<"$1" | cut -c1-12).txt
    echo "$1" >"$order_file"
    # The symbols stay in the linked file (strip=none) for the next ordering;
    # the copy printed is stripped.
    CARGO_ENCODED_RUSTFLAGS=$(IFS=$'\x1f' && echo "${flags[*]}") \
        cargo rustc --quiet --locked --profile release-small -p devicecode-cli --bin devicecode \
        --target "$target" --target-dir "$dir" -- -C strip=none \
        -C link-arg=-fuse-ld=lld -C "link-arg=-B$gcc_ld" \
        -C link-arg=-Wl,-z,pack-relative-relocs -C link-arg=-Wl,--icf=all \
        -C link-arg=-Wl,--no-eh-frame-hdr -C "link-arg=-Wl,-T,$script_file" \
        -C "link-arg=-Wl,--symbol-ordering-file=$order_file" \
        -C link-arg=-Wl,--no-warn-symbol-ordering -l static=gcc_eh >&2
}
# The linked file's functions as "mangled<TAB>name": the name demangled
# without the hashes, which differ between targets (not between builds).
names() {
    paste <("$nm_tool" -p --defined-only "$linked" | cut -d' ' -f2-) \
        <("$nm_tool" -pC --defined-only "$linked" | cut -d' ' -f3-) |
        awk -F'\t' '$1 ~ /^[tTwW] / { n = $2; gsub(/\[[0-9a-f]+\]/, "", n); print substr($1, 3) "\t" n }'
}
# Symbol names depend on the crates' versions and the target, not on their
# code: those of the previous link order this one (the first links twice).
[ -n "$("$nm_tool" "$linked" 2>/dev/null | head -1)" ] || link ecp_nistz256_precomputed
order=ecp_nistz256_precomputed
if [ -f "$hot" ]; then
    order+=$'\n'$(names | awk -F'\t' 'NR == FNR { rank[$0] = NR; next }
        $2 in rank { print rank[$2] "\t" $1 }' "$hot" - | sort -n | cut -f2)
fi
link "$order"
if [ -n "$profile" ]; then
    # The functions of the host's command that run in a sign-in, a cache hit
    # and a refresh against the test authority, by callgrind; sorted, so
    # that a new profile changes few lines. Other targets run the same code
    # but for ring's assembly.
    command -v valgrind >/dev/null || { echo "small-link: --profile needs valgrind" >&2; exit 1; }
    cargo build --quiet --locked --release -p devicecode-test-authority >&2
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    coproc AUTH { target/release/devicecode-test-authority "$work/ca.pem" 3 1; }
    read -r base <&"${AUTH[0]}"
    args=(--client-id 11111111-2222-3333-4444-555555555555 --authority "$base/organizations"
        --ca-file "$work/ca.pem" --scope User.Read --cache "$work/tokens.json")
    for run in login token "token --force-refresh"; do
        # shellcheck disable=SC2086  # the run's words
        NO_PROXY=127.0.0.1,localhost,::1 valgrind --tool=callgrind --demangle=no \
            --callgrind-out-file="$work/callgrind.${run// /}" "$linked" $run "${args[@]}" \
            >/dev/null 2>"$work/log" || {
            echo "small-link: \`devicecode $run\` failed under callgrind:" >&2
            cat "$work/log" >&2
            exit 1
        }
    done
    exec {AUTH[1]}>&-
    # Callgrind names an object or a function by "(id) name" once, by
    # "(id)" after; "ob=" and "fn=" say where the costs that follow are.
    awk -v bin="$linked" 'FNR == 1 { delete name }
        /^c?(ob|fn)=\(/ {
            key = substr($0, 1, index($0, "=") - 1); kind = substr(key, length(key) - 1)
            rest = substr($0, index($0, "(") + 1); id = substr(rest, 1, index(rest, ")") - 1)
            if (index(rest, ") ")) name[kind, id] = substr(rest, index(rest, ") ") + 2)
            if (key == "ob") here = (name["ob", id] == bin)
            if (key == "fn" && here) print name["fn", id]
        }' "$work"/callgrind.login "$work"/callgrind.token "$work"/callgrind.token--force-refresh |
        awk -F'\t' 'NR == FNR { n[$1] = $2; next } $0 in n { print n[$0] }' <(names) - |
        LC_ALL=C sort -u >"$work/hot"
    { echo "# Written by scripts/small-link.sh --profile: see there." && cat "$work/hot"; } >"$hot"
    echo "$hot: $(wc -l <"$work/hot") functions" >&2
    exit
fi
out="target/small-link/$target/release-small/devicecode.small-link"
cp "$linked" "$out"
"$cross_strip" "$out"
echo "$out"
