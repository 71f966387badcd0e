#!/usr/bin/env bash
# Builds devicecode for an ARM target and runs the WHOLE test suite there,
# under qemu user emulation, with the plain-cargo route (no Docker):
#
#   scripts/cross-test.sh aarch64-unknown-linux-gnu
#   scripts/cross-test.sh armv7-unknown-linux-gnueabihf
#   scripts/cross-test.sh aarch64-unknown-linux-musl
#   scripts/cross-test.sh arm-unknown-linux-gnueabihf     # Pi Zero / Pi 1 (ARMv6)
#
# Extra arguments go to `cargo test` (e.g. `-- --test-threads=1`).
#
# It installs what it needs (scripts/cross-env.sh): the target's rust-std,
# Debian's cross gcc (linker, and C compiler for ring), qemu-user-static and
# binfmt-support. It checks with a tiny C program that the compiler, the C
# library and qemu work on the board's CPU (QEMU_CPU), then runs the README's
# test command with `--target`, qemu as cargo's runner. The end-to-end tests
# talk to the loopback test authority like the native ones.
#
# The tests also start foreign binaries themselves (the example CLI, the test
# binary again). When the kernel runs ARM binaries through binfmt_misc (the
# script enables Debian's registration when it can) they are started as on
# the board; otherwise DEVICECODE_TEST_RUNNER tells the tests to prefix them
# with qemu. CROSS_TEST_SPAWN=runner|binfmt forces one way.
#
# A target whose rust-std cannot be installed, or whose C library does not
# run on the board's CPU, is reported as SKIPPED, loudly, and the script exits
# 0; any other failure fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/cross-test.sh TARGET [cargo test args...]}
shift
. scripts/cross-env.sh

banner() { printf '\n======== %s ========\n' "$*"; }
skipped() {
    printf '\n' >&2
    printf '################################################################\n' >&2
    printf '## SKIPPED %s\n' "$target" >&2
    printf '## %s\n' "$@" >&2
    printf '################################################################\n' >&2
    exit 0
}

started=$(date +%s)
cross_env "$target"
banner "cross-test $target: installing"
status=0
cross_install "$target" || status=$?
reasons=()
if [ $status = 3 ]; then
    reasons+=("its rust-std cannot be installed here (rustup target add $target failed).")
elif [ $status != 0 ]; then
    exit $status
fi

banner "cross-test $target: probing the C toolchain on a $cross_board"
if ! cross_probe; then
    if [ "$target" = arm-unknown-linux-gnueabihf ]; then
        reasons+=("Debian's armhf C library is built for ARMv7 (Thumb-2): a program linked"
            "against it stops with SIGILL on an ARM1176 (Pi Zero / Pi 1), so a pass here"
            "would prove nothing. Use an ARMv6 sysroot, e.g. cross's image (Cross.toml).")
    elif [ ${#reasons[@]} = 0 ]; then
        exit 1
    fi
fi
if [ ${#reasons[@]} != 0 ]; then
    skipped "${reasons[@]}" "Nothing was built or tested for this target."
fi
cross_children
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export CARGO_TERM_COLOR=never

case $cross_spawn in
    binfmt) spawned="by the kernel (binfmt_misc)" ;;
    *) spawned="through DEVICECODE_TEST_RUNNER=\"$DEVICECODE_TEST_RUNNER\"" ;;
esac
banner "cross-test $target: cargo test --locked --target $target"
echo "runner: $cross_qemu, QEMU_CPU=$cross_cpu; binaries the tests start run $spawned"
cargo test --locked --target "$target" "$@"
banner "cross-test $target: passed in $(($(date +%s) - started)) s (install, build and tests)"
