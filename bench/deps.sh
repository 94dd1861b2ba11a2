#!/bin/sh
# bench/deps.sh - make sure the libraries eddy is measured against are
# installed (Debian packages). Quiet when they are; installs the missing
# ones when run as root; otherwise prints the command and fails.
set -eu

packages="libuv1-dev libevent-dev libev-dev"

if ! command -v dpkg-query >/dev/null 2>&1; then
    for h in uv.h ev.h event2/event.h; do
        if [ ! -f "/usr/include/$h" ]; then
            echo "bench: missing $h (install libuv, libev, libevent headers)" >&2
            exit 1
        fi
    done
    exit 0
fi

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
        grep -q ' installed$'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "bench: missing packages:$missing" >&2
    echo "bench: run: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "bench: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing </dev/null ||
    { apt-get update </dev/null &&
      apt-get install -y --no-install-recommends $missing </dev/null; }
