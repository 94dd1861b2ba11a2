#!/usr/bin/env bash
# ci/stress.sh [RUNNER [N]] - timing robustness: run the whole conformance
# suite N times in a row (default 30) while `stress-ng --cpu 2` keeps the
# machine busy, with no retries, and report how many runs passed and which
# cases failed in the others. Installs stress-ng (Debian) when it is
# missing; stops it at the end, whatever happens.
#
# RUNNER defaults to build/gcc/eddy-conformance (`make stress` builds it).
# STRESS_JOBS (default 2) is the runner's -j; STRESS_CPUS (default 2) the
# stress-ng workers; STRESS_LOG_DIR (default build/stress) keeps each
# run's output and reports. Exit 0 only when every run passed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
runner=${1:-build/gcc/eddy-conformance}
runs=${2:-30}
jobs=${STRESS_JOBS:-2}
cpus=${STRESS_CPUS:-2}
logs=${STRESS_LOG_DIR:-build/stress}

if [ ! -x "$runner" ]; then
    echo "stress: no runner at $runner (make gcc builds it)" >&2
    exit 2
fi
case $runs in
'' | *[!0-9]*) echo "stress: N must be a number" >&2; exit 2 ;;
esac

if ! command -v stress-ng >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "stress: stress-ng is missing; run: sudo apt-get install -y stress-ng" >&2
        exit 2
    fi
    echo "stress: installing stress-ng"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y --no-install-recommends stress-ng ||
        { apt-get update && apt-get install -y --no-install-recommends stress-ng; }; } \
        </dev/null >/dev/null || { echo "stress: cannot install stress-ng" >&2; exit 2; }
fi

mkdir -p "$logs"
stress-ng --cpu "$cpus" --timeout 0 --quiet >"$logs/stress-ng.log" 2>&1 &
load=$!
# Only the stress-ng started here is stopped, by its own id.
trap 'kill "$load" 2>/dev/null; wait "$load" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
sleep 1
if ! kill -0 "$load" 2>/dev/null; then
    echo "stress: stress-ng did not start (see $logs/stress-ng.log)" >&2
    exit 2
fi
echo "stress: stress-ng --cpu $cpus running (pid $load); $runs runs of the suite, -j$jobs"

passed=0
failed_runs=()
start=$SECONDS
for i in $(seq 1 "$runs"); do
    out=$logs/run-$i
    rm -rf "$out"
    t0=$SECONDS
    "$runner" -j"$jobs" --report "$out" >"$out.log" 2>&1
    rc=$?
    summary=$(tail -n 1 "$out.log")
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        echo "stress: run $i/$runs passed in $((SECONDS - t0)) s ($summary)"
    else
        bad=$(awk -F '\t' 'NR > 1 && $3 != "pass" && $3 != "skip" { printf "%s%s", sep, $1; sep = " " }' \
            "$out/results.tsv" 2>/dev/null)
        failed_runs+=("run $i: ${bad:-exit $rc}")
        echo "stress: run $i/$runs FAILED in $((SECONDS - t0)) s ($summary): ${bad:-exit $rc}"
    fi
done

echo "stress: $passed of $runs runs passed under stress-ng --cpu $cpus in $((SECONDS - start)) s"
for f in "${failed_runs[@]}"; do
    echo "stress:   $f"
done
[ "$passed" -eq "$runs" ]
