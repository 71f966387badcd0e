#!/usr/bin/env bash
# Builds the `devicecode` command for a Linux GNU target (an ARM board's, or
# the host's) as small as stable Rust can link it, and prints the path of the
# stripped copy:
#
#   scripts/small-link.sh aarch64-unknown-linux-gnu
#   scripts/small-link.sh x86_64-unknown-linux-gnu
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
# - `--symbol-ordering-file` (target/small-link/order-HASH.txt): ring's
#   148 KiB P-256 table, which must start on a 4 KiB boundary, first in
#   `.rodata`, where it needs no padding before it (up to 4 KiB saved;
#   targets without the table ignore the file).
# GNU ld 2.40 cannot pack relocations for aarch64, hence lld.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/small-link.sh TARGET}
host=$(rustc -vV | sed -n 's/^host: //p')
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
order=ecp_nistz256_precomputed
script_file=$dir/no-unwind-$(sha256sum <<<"$script" | cut -c1-12).ld
order_file=$dir/order-$(sha256sum <<<"$order" | cut -c1-12).txt
echo "$script" >"$script_file"
echo "$order" >"$order_file"

flags=()
read -ra flags <<<"${RUSTFLAGS:-}"
for src in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
    [ -d "$src" ] && flags+=("--remap-path-prefix=$src=")
done
CARGO_ENCODED_RUSTFLAGS=$(IFS=$'\x1f' && echo "${flags[*]}") \
    cargo rustc --quiet --locked --profile release-small -p devicecode-cli --bin devicecode \
    --target "$target" --target-dir "$dir" -- \
    -C link-arg=-fuse-ld=lld -C "link-arg=-B$gcc_ld" \
    -C link-arg=-Wl,-z,pack-relative-relocs -C link-arg=-Wl,--icf=all \
    -C link-arg=-Wl,--no-eh-frame-hdr -C "link-arg=-Wl,-T,$script_file" \
    -C "link-arg=-Wl,--symbol-ordering-file=$order_file" \
    -C link-arg=-Wl,--no-warn-symbol-ordering -l static=gcc_eh >&2
out="target/small-link/$target/release-small/devicecode.small-link"
cp "target/small-link/$target/release-small/devicecode" "$out"
"$cross_strip" "$out"
echo "$out"
