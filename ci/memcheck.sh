#!/usr/bin/env bash
# ci/memcheck.sh BUILD_DIR - run every unit test binary and the conformance
# runner of BUILD_DIR under valgrind memcheck.
#
# Fails on any memcheck error, on any leak (definite, indirect or possible)
# and on any descriptor still open at exit that the process did not inherit.
# Valgrind follows the runner's forked case processes by itself; exec'd
# system programs are not checked. One log per process: a failing process's
# log is printed whole.
set -uo pipefail

build=${1:-build/gcc}
shift || true   # the rest: filters for the conformance runner
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
logs=$build/memcheck
rm -rf "$logs"
mkdir -p "$logs"
# The suite's descriptor checks leave valgrind's own per-process logs out.
EDDY_TOOL_LOG_DIR=$(cd "$logs" && pwd)
export EDDY_TOOL_LOG_DIR

# shellcheck disable=SC2054 # the commas belong to valgrind's values
vg=(valgrind --leak-check=full
    --errors-for-leak-kinds=definite,indirect,possible
    --show-leak-kinds=definite,indirect,possible
    --track-fds=yes --error-exitcode=1 --num-callers=30
    --trace-children=yes
    --trace-children-skip='/bin/*,/usr/bin/*,/sbin/*,/usr/sbin/*')
if [ -f ci/valgrind.supp ]; then
    vg+=(--suppressions=ci/valgrind.supp)
fi

# Slower under valgrind: more time per case, more lateness slack (never
# early is still exact).
export EDDY_CASE_TIMEOUT=${EDDY_CASE_TIMEOUT:-300}
export EDDY_LATE_BOUND=${EDDY_LATE_BOUND:-1.0}

# A log is bad when it reports errors or a descriptor with an allocation
# stack (an inherited one says "<inherited from parent>" instead).
log_is_bad() {
    grep -q 'ERROR SUMMARY: [1-9]' "$1" && return 0
    awk '/Open file descriptor [0-9]+:/ { pending = 1; next }
         pending { pending = 0; if ($0 !~ /<inherited from parent>/) bad = 1 }
         END { exit !bad }' "$1"
}

failed=()
# run NAME CMD...: run CMD under valgrind with logs prefixed NAME.
run() {
    local name=$1
    shift
    echo "== valgrind $*"
    "${vg[@]}" --log-file="$logs/$name.%p.log" "$@"
    local rc=$? bad=0
    for log in "$logs/$name".*.log; do
        if [ -f "$log" ] && log_is_bad "$log"; then
            echo "-- $log"
            cat "$log"
            bad=1
        fi
    done
    if [ $rc -ne 0 ] || [ $bad -ne 0 ]; then
        failed+=("$name")
    fi
}

# The Makefile names the current binaries; by hand, take what is built.
shopt -s nullglob
if [ -n "${UNIT_TESTS+set}" ]; then
    read -r -a tests <<<"$UNIT_TESTS"
else
    tests=("$build"/tests/test_*)
fi
for t in "${tests[@]}"; do
    run "$(basename "$t")" "$t"
done
if [ -x "$build/eddy-conformance" ]; then
    run conformance "$build/eddy-conformance" -j2 "$@"
else
    echo "memcheck: $build/eddy-conformance is missing"
    failed+=(conformance)
fi

echo "memcheck: ${#tests[@]} unit test binaries and the conformance runner"
if [ ${#failed[@]} -gt 0 ]; then
    echo "memcheck: FAILED: ${failed[*]}"
    exit 1
fi
echo "memcheck: clean"
