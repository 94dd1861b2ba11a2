#!/usr/bin/env bash
# ci/deps.sh - make sure the Debian packages the build and tests need are
# installed. Quick and silent when they all are; installs the missing ones
# when run as root; otherwise prints the command to run and fails.
set -euo pipefail

# Sanitizer runtimes ship with the clang version in use.
clang_major=14
if command -v clang >/dev/null 2>&1; then
    v=$(clang -dumpversion 2>/dev/null || true)
    if [ -n "$v" ]; then
        clang_major=${v%%.*}
    fi
fi

packages=(
    build-essential gcc make clang "libclang-rt-${clang_major}-dev"
    libcmocka-dev valgrind pkg-config lcov
)

if ! command -v dpkg-query >/dev/null 2>&1; then
    # Not Debian: check the tools themselves and say what is missing.
    missing=()
    for tool in gcc clang make valgrind pkg-config lcov; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    [ -f /usr/include/cmocka.h ] || missing+=("cmocka (header cmocka.h)")
    if [ ${#missing[@]} -gt 0 ]; then
        echo "deps: missing: ${missing[*]} (install them with your package manager)" >&2
        exit 1
    fi
    exit 0
fi

# One dpkg-query for all: packages it does not know are simply absent.
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" \
    2>/dev/null | awk '/ install ok installed$/ { print $1 }' || true)
missing=()
for p in "${packages[@]}"; do
    grep -qx -- "${p%%:*}" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update </dev/null
apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
