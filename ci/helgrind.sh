#!/usr/bin/env bash
# ci/helgrind.sh BUILD_DIR [FILTER...] - run the thread-heavy unit tests
# (UNIT_TESTS, or every test binary of BUILD_DIR) and the conformance
# cases that FILTER selects (less HG_SKIP) under valgrind's helgrind.
#
# Fails on any helgrind report (data race, lock order, misuse of the
# pthread API) in any process: the forked case processes are followed,
# exec'd system programs are not. ci/helgrind.supp lists the few reports
# that come from inside glibc and cmocka, each with its reason. One log
# per process; a failing process's log is printed whole.
set -uo pipefail

build=${1:-build/hg}
shift || true
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
logs=$build/helgrind
rm -rf "$logs"
mkdir -p "$logs"

vg=(valgrind --tool=helgrind --error-exitcode=1 --num-callers=30
    --trace-children=yes
    --trace-children-skip='/bin/*,/usr/bin/*,/sbin/*,/usr/sbin/*'
    --suppressions=ci/helgrind.supp)

# Much slower under helgrind: more time per case and more lateness slack
# (never early is still exact).
export EDDY_CASE_TIMEOUT=${EDDY_CASE_TIMEOUT:-300}
export EDDY_LATE_BOUND=${EDDY_LATE_BOUND:-2.0}

# Cases left out, each for a reason: c4_2_eight_threads_... makes 800,000
# cross-thread calls within a 55 s limit, which helgrind cannot run in
# time; TSan runs it (make sanitize).
skip=${HG_SKIP-c4_2_eight_threads_nothing_lost_fifo_per_thread}

failed=()
cases=()
# run NAME CMD...: run CMD under helgrind with logs prefixed NAME.
run() {
    local name=$1
    shift
    echo "== helgrind $*"
    "${vg[@]}" --log-file="$logs/$name.%p.log" "$@"
    local rc=$? bad=0
    for log in "$logs/$name".*.log; do
        if [ -f "$log" ] && grep -q 'ERROR SUMMARY: [1-9]' "$log"; then
            echo "-- $log"
            cat "$log"
            bad=1
        fi
    done
    if [ $rc -ne 0 ] || [ $bad -ne 0 ]; then
        failed+=("$name")
    fi
}

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
    # The cases FILTER selects, by name, less those in HG_SKIP.
    mapfile -t cases < <("$build/eddy-conformance" --list "$@" |
        awk -v skip="$skip" 'BEGIN { n = split(skip, s, " ");
                                     for (i = 1; i <= n; i++) drop[s[i]] = 1 }
                             !($1 in drop) { print $1 }')
    run conformance "$build/eddy-conformance" -j2 "${cases[@]}"
else
    echo "helgrind: $build/eddy-conformance is missing"
    failed+=(conformance)
fi

echo "helgrind: ${#tests[@]} unit test binaries," \
    "${#cases[@]} conformance cases"
if [ ${#failed[@]} -gt 0 ]; then
    echo "helgrind: FAILED: ${failed[*]}"
    exit 1
fi
echo "helgrind: clean"
