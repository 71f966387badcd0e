#!/usr/bin/env bash
# Builds the `devicecode` command for a Linux GNU target as small as stable
# Rust can link it, and prints the path of the stripped copy:
#
#   scripts/small-link.sh aarch64-unknown-linux-gnu
#
# Same code as the `release-small` profile; only the link differs (the flags
# go to the final link alone, through `cargo rustc`):
# - lld, the linker rustup ships with the toolchain (gcc drives it);
# - `-z pack-relative-relocs`: the PIE's relocations in a compact table
#   (DT_RELR; needs glibc 2.36 or later on the board, e.g. Raspberry Pi OS
#   Bookworm; an older glibc refuses to start the program);
# - `--icf=all`: identical functions folded into one;
# - `--no-eh-frame-hdr`: no unwind lookup table; with panic = "abort" nothing
#   unwinds, and a panic still prints its message, without a backtrace.
# GNU ld 2.40 cannot pack relocations for aarch64, hence lld.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/small-link.sh TARGET}
. scripts/cross-env.sh
cross_env "$target"
gcc_ld="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/gcc-ld"
[ -x "$gcc_ld/ld.lld" ] || { echo "small-link: no lld in the Rust toolchain ($gcc_ld)" >&2; exit 1; }
cargo rustc --quiet --locked --profile release-small -p devicecode-cli --bin devicecode \
    --target "$target" -- \
    -C link-arg=-fuse-ld=lld -C "link-arg=-B$gcc_ld" \
    -C link-arg=-Wl,-z,pack-relative-relocs -C link-arg=-Wl,--icf=all \
    -C link-arg=-Wl,--no-eh-frame-hdr >&2
out="target/$target/release-small/devicecode.small-link"
cp "target/$target/release-small/devicecode" "$out"
"$cross_strip" "$out"
echo "$out"
