#!/usr/bin/env bash
# Builds devicecode for an ARM target and runs the WHOLE test suite there,
# under qemu user emulation, with the plain-cargo route (no Docker):
#
#   scripts/cross-test.sh aarch64-unknown-linux-gnu
#   scripts/cross-test.sh armv7-unknown-linux-gnueabihf
#   scripts/cross-test.sh arm-unknown-linux-gnueabihf     # Pi Zero / Pi 1 (ARMv6)
#   scripts/cross-test.sh aarch64-unknown-linux-musl
#
# It installs what it needs (scripts/cross-env.sh): the target's rust-std,
# Debian's cross gcc (linker, and C compiler for ring), qemu-user-static. Then
# it runs the README's test command with `--target`, qemu as cargo's runner,
# and DEVICECODE_TEST_RUNNER so that the tests start the foreign example
# binaries through qemu too (this machine has no binfmt_misc). The end-to-end
# tests talk to the loopback test authority like the native ones.
#
# A target whose rust-std cannot be installed is reported as SKIPPED, loudly,
# and the script exits 0; any other failure fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/cross-test.sh TARGET [cargo test args...]}
shift
. scripts/cross-env.sh

banner() { printf '\n======== %s ========\n' "$*"; }

cross_env "$target"
banner "cross-test $target: installing"
status=0
cross_install "$target" || status=$?
if [ $status = 3 ]; then
    banner "SKIPPED $target: its rust-std cannot be installed here (rustup target add failed)"
    exit 0
elif [ $status != 0 ]; then
    exit $status
fi
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export CARGO_TERM_COLOR=never

banner "cross-test $target: cargo test --locked --all-features --target $target (under ${cross_qemu%% *})"
started=$(date +%s)
cargo test --locked --all-features --target "$target" "$@"
banner "cross-test $target: passed in $(( $(date +%s) - started )) s"
