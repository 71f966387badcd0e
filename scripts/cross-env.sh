# shellcheck shell=bash disable=SC2034  # variables are set for the scripts that source this
# Sourced by scripts/cross-test.sh and scripts/bench.sh: what a target needs
# on a Debian machine, and the environment that makes plain cargo use it.
#
#   . scripts/cross-env.sh; cross_env aarch64-unknown-linux-gnu
#
# Sets cross_gcc, cross_packages, cross_qemu, cross_sysroot, cross_cpu,
# cross_board and cross_strip, and exports cargo's linker and runner
# variables, cc-rs's compiler (ring builds C and assembly), QEMU_CPU (the
# board's CPU, so that qemu offers no instruction the board lacks),
# QEMU_LD_PREFIX (where qemu finds the target's dynamic loader and C library)
# and DEVICECODE_TEST_RUNNER (the tests start example binaries through it;
# cross_children may unset it when the kernel runs the target's binaries).

cross_env() {
    local target=$1
    local arch=""
    cross_qemu="" cross_sysroot="" cross_cpu="" cross_board="" cross_cflags=""
    case $target in
        aarch64-unknown-linux-gnu)
            cross_gcc=aarch64-linux-gnu-gcc cross_packages="gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
            arch=aarch64 cross_sysroot=/usr/aarch64-linux-gnu cross_strip=aarch64-linux-gnu-strip
            cross_cpu=cortex-a53 cross_board="Pi 3 / Zero 2 W (Cortex-A53)" ;;
        aarch64-unknown-linux-musl)
            # Rust ships musl's C library for this target; gcc only links.
            # Static binaries: qemu needs no loader prefix.
            cross_gcc=aarch64-linux-gnu-gcc cross_packages="gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
            arch=aarch64 cross_strip=aarch64-linux-gnu-strip
            cross_cpu=cortex-a53 cross_board="Pi 3 / Zero 2 W (Cortex-A53)" ;;
        armv7-unknown-linux-gnueabihf)
            # Cortex-A7 has no ARMv8 crypto instructions, like every Pi in
            # 32-bit mode: ring takes the code path the boards take (qemu's
            # default CPU would offer AES/PMULL/SHA to it).
            cross_gcc=arm-linux-gnueabihf-gcc cross_packages="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
            arch=arm cross_sysroot=/usr/arm-linux-gnueabihf cross_strip=arm-linux-gnueabihf-strip
            cross_cpu=cortex-a7 cross_board="Pi 2 (Cortex-A7)" ;;
        arm-unknown-linux-gnueabihf)
            # ARMv6 with VFP (ARM1176JZF-S): Pi Zero, Zero W, Pi 1. Debian's
            # armhf gcc defaults to ARMv7, so ring's C and assembly are built
            # for ARMv6 explicitly, and qemu emulates an ARM1176 so that any
            # ARMv7 instruction fails the run. Debian's armhf C library itself
            # is ARMv7 (Thumb-2): cross-test.sh's probe finds that and skips.
            cross_gcc=arm-linux-gnueabihf-gcc cross_packages="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
            cross_cflags="-march=armv6 -marm -mfpu=vfp"
            export CFLAGS_arm_unknown_linux_gnueabihf="$cross_cflags"
            arch=arm cross_sysroot=/usr/arm-linux-gnueabihf cross_strip=arm-linux-gnueabihf-strip
            cross_cpu=arm1176 cross_board="Pi Zero / Pi 1 (ARM1176)" ;;
        x86_64-unknown-linux-musl)
            cross_gcc=musl-gcc cross_packages="musl-tools" cross_strip=strip ;;
        *)
            echo "cross-env: unknown target '$target'" >&2
            return 2 ;;
    esac
    cross_arch=$arch
    if [ -n "$arch" ]; then
        cross_qemu="qemu-$arch-static${cross_sysroot:+ -L $cross_sysroot}"
    fi
    local upper lower
    upper=$(echo "$target" | tr 'a-z-' 'A-Z_')
    lower=$(echo "$target" | tr '-' '_')
    # musl-gcc cannot link Rust's self-contained musl objects; cc does.
    [ "$target" = x86_64-unknown-linux-musl ] || export "CARGO_TARGET_${upper}_LINKER=$cross_gcc"
    export "CC_${lower}=$cross_gcc"
    if [ -n "$cross_qemu" ]; then
        export "CARGO_TARGET_${upper}_RUNNER=$cross_qemu"
        export DEVICECODE_TEST_RUNNER="$cross_qemu"
        export QEMU_CPU="$cross_cpu"
        if [ -n "$cross_sysroot" ]; then
            export QEMU_LD_PREFIX="$cross_sysroot"
        else
            unset QEMU_LD_PREFIX
        fi
    fi
}

# Runs a command as root: directly when we are root, else through sudo.
cross_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the target's compiler, emulator and rust-std when missing.
# Returns 3 when the target's rust-std cannot be installed (the Debian
# packages are installed first, so that cross_probe can still run).
cross_install() {
    local target=$1
    local wanted missing="" package
    wanted="$cross_packages${cross_qemu:+ qemu-user-static binfmt-support}"
    for package in $wanted; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
            missing="$missing $package"
    done
    if [ -n "$missing" ]; then
        echo "cross-env: installing$missing" >&2
        DEBIAN_FRONTEND=noninteractive cross_root apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive cross_root apt-get install -y -qq --no-install-recommends \
            $missing >/dev/null
    fi
    rustup target add "$target" || return 3
}

# Builds a tiny C program with the target's compiler and runs it under qemu,
# on the board's CPU: proves the compiler, the C library and the emulator
# before the long build, and that the C library runs on the board at all.
# Prints what went wrong and returns non-zero on failure.
cross_probe() {
    [ -n "$cross_qemu" ] || return 0
    local dir out status=0 static=""
    dir=$(mktemp -d)
    [ -n "$cross_sysroot" ] || static=-static
    printf '#include <stdio.h>\nint main(void) { puts("probe ok"); return 0; }\n' >"$dir/probe.c"
    # shellcheck disable=SC2086
    if ! $cross_gcc $cross_cflags $static -o "$dir/probe" "$dir/probe.c" 2>"$dir/err"; then
        echo "cross-env: $cross_gcc cannot build a C program:" >&2
        cat "$dir/err" >&2
        rm -rf "$dir"
        return 1
    fi
    # shellcheck disable=SC2086
    out=$($cross_qemu "$dir/probe" 2>&1) || status=$?
    rm -rf "$dir"
    if [ "$out" != "probe ok" ]; then
        echo "cross-env: a C program built by $cross_gcc does not run under $cross_qemu with QEMU_CPU=$cross_cpu (exit $status): $out" >&2
        return 1
    fi
}

# Decides how the tests start the foreign binaries they spawn (the example
# CLI, or the test binary itself). Sets cross_spawn to:
#   binfmt  the kernel runs the target's binaries through qemu-user-static by
#           itself (binfmt_misc, F flag), as on a machine where installing
#           qemu-user-static registered it; DEVICECODE_TEST_RUNNER is unset,
#           so the tests spawn the binaries exactly as on the board.
#   runner  it does not (no binfmt_misc, not root, a container): the tests
#           prefix what they spawn with DEVICECODE_TEST_RUNNER.
# CROSS_TEST_SPAWN=binfmt|runner|auto (default auto) forces one. In auto
# mode, as root (or with sudo), a disabled Debian registration is enabled
# with `update-binfmts --enable qemu-ARCH`, which also mounts binfmt_misc.
cross_children() {
    cross_spawn=runner
    [ -n "$cross_qemu" ] || { cross_spawn=native; return 0; }
    local mode=${CROSS_TEST_SPAWN:-auto}
    if [ "$mode" != runner ]; then
        if ! cross_kernel_runs; then
            if command -v update-binfmts >/dev/null &&
                { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }; then
                echo "cross-env: registering qemu-$cross_arch with binfmt_misc (update-binfmts --enable qemu-$cross_arch)" >&2
                # qemu-user-static's own postinst skips the import in what
                # it takes for a container; importing also enables.
                cross_root update-binfmts --enable "qemu-$cross_arch" >&2 ||
                    cross_root update-binfmts --import "qemu-$cross_arch" >&2 || true
            fi
        fi
        if cross_kernel_runs; then
            cross_spawn=binfmt
            unset DEVICECODE_TEST_RUNNER
        elif [ "$mode" = binfmt ]; then
            echo "cross-env: CROSS_TEST_SPAWN=binfmt, but the kernel does not run $cross_arch binaries" >&2
            return 1
        fi
    fi
}

# Whether the kernel executes a static binary of the target directly.
cross_kernel_runs() {
    local dir ok=1
    dir=$(mktemp -d)
    printf 'int main(void) { return 42; }\n' >"$dir/p.c"
    # shellcheck disable=SC2086
    if $cross_gcc $cross_cflags -static -o "$dir/p" "$dir/p.c" 2>/dev/null; then
        "$dir/p" 2>/dev/null
        [ $? = 42 ] && ok=0
    fi
    rm -rf "$dir"
    return $ok
}
