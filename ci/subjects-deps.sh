#!/usr/bin/env bash
# ci/subjects-deps.sh SUBJECT... - make sure the Debian packages that the
# subjects named need are installed (c needs only a python3 for the
# driver; tornado needs python3-tornado; tornado-uvloop also
# python3-uvloop). Quick and silent
# when they are; installs the missing ones when run as root; otherwise
# prints the command to run and fails.
set -euo pipefail

# The driver, conformance/compare.py, needs a python3 of any origin.
packages=()
if ! command -v python3 >/dev/null 2>&1; then
    packages+=(python3)
fi
for s in "$@"; do
    case "$s" in
        c) ;;
        tornado) packages+=(python3 python3-tornado) ;;
        tornado-uvloop) packages+=(python3 python3-tornado python3-uvloop) ;;
        *) echo "subjects-deps: unknown subject '$s'" >&2; exit 2 ;;
    esac
done
if [ ${#packages[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "subjects-deps: not Debian: install ${packages[*]} (Debian names)" \
        "so that /usr/bin/python3 imports them" >&2
    exit 1
fi

installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" \
    2>/dev/null | awk '/ install ok installed$/ { print $1 }' || true)
missing=()
for p in "${packages[@]}"; do
    if ! grep -qx -- "$p" <<<"$installed" && ! [[ " ${missing[*]-} " == *" $p "* ]]; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "subjects-deps: missing packages: ${missing[*]}" >&2
    echo "subjects-deps: run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "subjects-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update </dev/null
apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
