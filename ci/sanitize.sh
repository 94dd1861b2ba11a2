#!/usr/bin/env bash
# ci/sanitize.sh ASAN_BUILD TSAN_BUILD - run the unit tests and the
# conformance suite built with ASan+UBSan, then with TSan.
#
# Every sanitizer stops the process at its first report, so a report makes
# its unit test binary, or its conformance case, fail. Both builds run every
# unit test and every conformance case (the whole suite takes seconds under
# TSan); TSAN_FILTER=thread narrows TSan to the cases named for threads.
set -uo pipefail

asan=${1:-build/asan}
tsan=${2:-build/tsan}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
# Sanitized code is slower; lateness slack grows, never-early stays exact.
export EDDY_LATE_BOUND=${EDDY_LATE_BOUND:-1.0}
tsan_filter=${TSAN_FILTER-}

failed=()
step() {
    local name=$1
    shift
    echo "== $name: $*"
    "$@" || failed+=("$name")
}

# unit BUILD [BINARIES]: each unit test binary, one after another; the
# Makefile names the current ones, by hand every one built is run.
unit() {
    local build=$1 t tests
    shopt -s nullglob
    if [ $# -gt 1 ]; then
        read -r -a tests <<<"$2"
    else
        tests=("$build"/tests/test_*)
    fi
    for t in "${tests[@]}"; do
        step "$(basename "$build")/$(basename "$t")" timeout 900 "$t"
    done
}

unit "$asan" ${ASAN_TESTS+"$ASAN_TESTS"}
step asan/conformance "$asan/eddy-conformance" -j2
unit "$tsan" ${TSAN_TESTS+"$TSAN_TESTS"}
# A filter that selects nothing would be an error: then run them all.
# tsan_filter stays unquoted: it is a list of filters, or nothing.
# shellcheck disable=SC2086
if [ -n "$tsan_filter" ] &&
    ! "$tsan/eddy-conformance" --list $tsan_filter >/dev/null 2>&1; then
    tsan_filter=
fi
# shellcheck disable=SC2086
step tsan/conformance "$tsan/eddy-conformance" -j2 $tsan_filter

if [ ${#failed[@]} -gt 0 ]; then
    echo "sanitize: FAILED: ${failed[*]}"
    exit 1
fi
echo "sanitize: clean (ASan+UBSan and TSan)"
