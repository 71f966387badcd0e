# Sourced by scripts/cross-test.sh and scripts/bench.sh: what a target needs
# on a Debian machine, and the environment that makes plain cargo use it.
#
#   . scripts/cross-env.sh; cross_env aarch64-unknown-linux-gnu
#
# Sets cross_gcc, cross_packages, cross_qemu, cross_strip and exports cargo's
# linker and runner variables, cc-rs's compiler (ring builds C and assembly)
# and DEVICECODE_TEST_RUNNER (the tests start example binaries through it).

cross_env() {
    local target=$1
    cross_qemu=""
    case $target in
        aarch64-unknown-linux-gnu)
            cross_gcc=aarch64-linux-gnu-gcc cross_packages="gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
            cross_qemu="qemu-aarch64-static -L /usr/aarch64-linux-gnu" cross_strip=aarch64-linux-gnu-strip ;;
        armv7-unknown-linux-gnueabihf)
            cross_gcc=arm-linux-gnueabihf-gcc cross_packages="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
            cross_qemu="qemu-arm-static -L /usr/arm-linux-gnueabihf" cross_strip=arm-linux-gnueabihf-strip ;;
        arm-unknown-linux-gnueabihf)
            # Debian's armhf compiler targets ARMv7 by default; ring's C and
            # assembly must be built for ARMv6 (Pi Zero / Pi 1).
            cross_gcc=arm-linux-gnueabihf-gcc cross_packages="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
            export CFLAGS_arm_unknown_linux_gnueabihf="-march=armv6 -marm -mfpu=vfp"
            cross_qemu="qemu-arm-static -L /usr/arm-linux-gnueabihf" cross_strip=arm-linux-gnueabihf-strip ;;
        aarch64-unknown-linux-musl)
            # Rust ships musl's C library for this target; gcc compiles and links.
            cross_gcc=aarch64-linux-gnu-gcc cross_packages="gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
            cross_qemu="qemu-aarch64-static" cross_strip=aarch64-linux-gnu-strip ;;
        x86_64-unknown-linux-musl)
            cross_gcc=musl-gcc cross_packages="musl-tools" cross_strip=strip ;;
        *)
            echo "cross-env: unknown target '$target'" >&2
            return 2 ;;
    esac
    local upper lower
    upper=$(echo "$target" | tr 'a-z-' 'A-Z_')
    lower=$(echo "$target" | tr '-' '_')
    # musl-gcc cannot link Rust's self-contained musl objects; cc does.
    [ "$target" = x86_64-unknown-linux-musl ] || export "CARGO_TARGET_${upper}_LINKER=$cross_gcc"
    export "CC_${lower}=$cross_gcc"
    if [ -n "$cross_qemu" ]; then
        export "CARGO_TARGET_${upper}_RUNNER=$cross_qemu"
        export DEVICECODE_TEST_RUNNER="$cross_qemu"
    fi
}

# Installs the target's rust-std, compiler and emulator when missing.
# Returns 3 when the target's rust-std cannot be installed.
cross_install() {
    local target=$1
    rustup target add "$target" || return 3
    local missing=0 tool
    for tool in "$cross_gcc" ${cross_qemu:+"${cross_qemu%% *}"}; do
        command -v "$tool" >/dev/null || missing=1
    done
    if [ $missing = 1 ]; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            $cross_packages ${cross_qemu:+qemu-user-static} >/dev/null
    fi
}
