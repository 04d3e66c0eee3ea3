# Shared by scripts/test and .ci/run: the tools for the aarch64 tests (the arm64 Lambda's NEON
# code path, run under qemu user mode) and for `sam build` (the aarch64 Rust standard library).
#
# Usage: source scripts/lib/cross-tools.sh; ensure_cross_tools; have_cross_tools && ...

cross_packages=(qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)

have_cross_tools() {
    command -v qemu-aarch64 >/dev/null && command -v aarch64-linux-gnu-gcc >/dev/null \
        && [[ -d /usr/aarch64-linux-gnu/lib ]] && have_aarch64_target
}

have_aarch64_target() {
    rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu
}

# Installs what is missing where this machine allows it (apt-get as root, rustup); otherwise
# says exactly what to install. Never fails: without the tools the aarch64 tests are skipped
# with a warning.
ensure_cross_tools() {
    if have_cross_tools; then
        return 0
    fi
    if ! { command -v qemu-aarch64 && command -v aarch64-linux-gnu-gcc && [[ -d /usr/aarch64-linux-gnu/lib ]]; } >/dev/null; then
        if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
            echo "installing the aarch64 cross tools: apt-get install ${cross_packages[*]}" >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${cross_packages[@]}" >/dev/null 2>&1 \
                || { apt-get update -qq >/dev/null 2>&1 \
                    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${cross_packages[@]}" >/dev/null; } \
                || echo "WARNING: could not install ${cross_packages[*]}" >&2
        elif command -v apt-get >/dev/null; then
            echo "NOTE: for the aarch64 tests run: sudo apt-get install ${cross_packages[*]}" >&2
        else
            echo "NOTE: for the aarch64 tests install qemu user mode (qemu-aarch64), an aarch64 GNU/Linux" \
                "cross gcc (aarch64-linux-gnu-gcc) and its glibc under /usr/aarch64-linux-gnu" \
                "(Debian/Ubuntu: ${cross_packages[*]}; Fedora: qemu-user gcc-aarch64-linux-gnu sysroot-aarch64-fc*-glibc)" >&2
        fi
    fi
    if ! have_aarch64_target; then
        if command -v rustup >/dev/null; then
            rustup target add aarch64-unknown-linux-gnu >&2 \
                || echo "WARNING: could not add the aarch64 Rust target (rustup target add aarch64-unknown-linux-gnu)" >&2
        else
            echo "NOTE: the aarch64 Rust standard library is needed: rustup target add aarch64-unknown-linux-gnu" >&2
        fi
    fi
    return 0
}
