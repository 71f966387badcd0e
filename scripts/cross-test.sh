#!/usr/bin/env bash
# Builds devicecode for an ARM target and runs the WHOLE test suite there,
# under qemu user emulation, with the plain-cargo route (no Docker):
#
#   scripts/cross-test.sh aarch64-unknown-linux-gnu
#   scripts/cross-test.sh armv7-unknown-linux-gnueabihf
#   scripts/cross-test.sh arm-unknown-linux-gnueabihf     # Pi Zero / Pi 1 (ARMv6)
#   scripts/cross-test.sh aarch64-unknown-linux-musl
#
# It installs what it needs: the target's rust-std (rustup), Debian's cross
# gcc (linker, and C compiler for ring), qemu-user-static. Then it runs the
# README's test command with `--target`, qemu as cargo's runner, and
# DEVICECODE_TEST_RUNNER so the tests start the foreign example binaries
# through qemu too (this machine has no binfmt_misc). The end-to-end tests
# talk to the loopback test authority like the native ones.
#
# A target whose rust-std cannot be installed is reported as SKIPPED, loudly,
# and the script exits 0; any other failure fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/cross-test.sh TARGET [cargo test args...]}
shift

case $target in
    aarch64-unknown-linux-gnu)
        gcc=aarch64-linux-gnu-gcc packages="gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
        qemu="qemu-aarch64-static -L /usr/aarch64-linux-gnu" ;;
    armv7-unknown-linux-gnueabihf)
        gcc=arm-linux-gnueabihf-gcc packages="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
        qemu="qemu-arm-static -L /usr/arm-linux-gnueabihf" ;;
    arm-unknown-linux-gnueabihf)
        # Debian's armhf compiler targets ARMv7 by default; ring's C and
        # assembly must be built for ARMv6 (Pi Zero / Pi 1) instead. The C
        # library stays Debian's armhf one, which qemu runs with an ARMv7 CPU;
        # on a real ARMv6 board use a Raspberry Pi OS or musl toolchain.
        gcc=arm-linux-gnueabihf-gcc packages="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
        export CFLAGS_arm_unknown_linux_gnueabihf="-march=armv6 -marm -mfpu=vfp"
        qemu="qemu-arm-static -L /usr/arm-linux-gnueabihf" ;;
    aarch64-unknown-linux-musl)
        # Rust ships musl's C library for this target; gcc only links.
        gcc=aarch64-linux-gnu-gcc packages="gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
        qemu="qemu-aarch64-static" ;;
    *)
        echo "cross-test: unknown target '$target'" >&2
        exit 2 ;;
esac

banner() { printf '\n======== %s ========\n' "$*"; }

banner "cross-test $target: installing"
if ! rustup target add "$target"; then
    banner "SKIPPED $target: its rust-std cannot be installed here (rustup target add failed)"
    exit 0
fi
missing=()
for tool in "$gcc" "${qemu%% *}"; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    $sudo apt-get install -y -qq --no-install-recommends $packages qemu-user-static >/dev/null
fi

upper=$(echo "$target" | tr 'a-z-' 'A-Z_')
lower=$(echo "$target" | tr '-' '_')
export "CARGO_TARGET_${upper}_LINKER=$gcc"
export "CARGO_TARGET_${upper}_RUNNER=$qemu"
export "CC_${lower}=$gcc"
export DEVICECODE_TEST_RUNNER="$qemu"
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export CARGO_TERM_COLOR=never

banner "cross-test $target: cargo test --locked --all-features --target $target (under ${qemu%% *})"
started=$(date +%s)
cargo test --locked --all-features --target "$target" "$@"
banner "cross-test $target: passed in $(( $(date +%s) - started )) s"
