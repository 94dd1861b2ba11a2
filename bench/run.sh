#!/bin/sh
# bench/run.sh - run the benchmark programs interleaved and print the
# tables of bench/README.md; the full run also writes DIR/results.md.
#
#   sh bench/run.sh [--smoke] DIR
#
# DIR holds bench-eddy, bench-uv, bench-ev and bench-event (make bench-build
# puts them in build/bench). Every repetition runs the whole plan once, the
# libraries of each workload one after another (A B C D, then D C B A in
# the next repetition, so no library always runs first); the tables give
# the median of the repetitions. --smoke runs each program once on tiny
# sizes, only to prove that they build and do the work they claim.
#
# Environment: BENCH_REPS (default 5), BENCH_ONLY (an extended regex over
# the workload ids, e.g. 'chain|xthread'), BENCH_PIN (split or none).
set -eu

smoke=0
if [ "${1:-}" = "--smoke" ]; then
    smoke=1
    shift
fi
dir=${1:?usage: run.sh [--smoke] DIR}
here=$(cd "$(dirname "$0")" && pwd)
reps=${BENCH_REPS:-5}
only=${BENCH_ONLY:-.}
# The cross-thread workload pins the loop to CPU 0 and the producer to
# CPU 1 (where there are two), so that every library's consumer runs
# alongside its producer rather than whenever the scheduler lets it.
export BENCH_PIN=${BENCH_PIN:-split}

if [ $smoke -eq 1 ]; then
    reps=1
    T=2000 C=20000 CN=2000 X=20000 P1=100 P2=200 F=1000
    SCALE_T="1000" SCALE_F="10 100"
    export BENCH_ROUNDS=2 BENCH_WRITES=200
    out=$dir/smoke
else
    T=1000000 C=10000000 CN=1000000 X=1000000 P1=100 P2=1000 F=100000
    SCALE_T="1000 10000 100000" SCALE_F="10 100 1000 10000"
    out=$dir
fi
for p in eddy uv ev event; do
    if [ ! -x "$dir/bench-$p" ]; then
        echo "run.sh: $dir/bench-$p is missing (make bench-build)" >&2
        exit 2
    fi
done
mkdir -p "$out"

# One line per program run: workload id, library label, program, arguments.
four() { # id args...
    id=$1
    shift
    echo "$id eddy eddy $*"
    echo "$id libuv uv $*"
    echo "$id libev ev $*"
    echo "$id libevent event $*"
}
fds() { # id args...: eddy, the poll backends, then the epoll ones
    id=$1
    shift
    echo "$id eddy eddy $*"
    echo "$id libev-poll ev $* poll"
    echo "$id libevent-poll event $* poll"
    echo "$id libuv-epoll uv $*"
    echo "$id libev-epoll ev $* epoll"
    echo "$id libevent-epoll event $* epoll"
}
plan() {
    four "timers:$T" timers $T
    four "cancel:$T" cancel $T
    four "chain:$C" chain $C
    four "chain-next:$CN" chain-next $CN
    four "xthread:$X" xthread $X
    fds "pipes:$P1" pipes $P1
    fds "pipes:$P2" pipes $P2
    four "fifo:$F" fifo $F
    for n in $SCALE_T; do
        four "timers:$n" timers $n
    done
    for n in $SCALE_F; do
        fds "efd:$n" efd $n
    done
}

raw=$out/raw.tsv
: >"$raw"
plan | grep -E "^($only)" >"$out/plan.txt" || true
if [ ! -s "$out/plan.txt" ]; then
    echo "run.sh: BENCH_ONLY='$only' selects nothing" >&2
    exit 2
fi
load_before=$(uptime | sed 's/.*load average: *//')
started=$(date +%s)
echo "bench: $(wc -l <"$out/plan.txt") runs x $reps repetitions, load $load_before"

run_one() { # rep id label prog args...
    rep=$1 id=$2 label=$3 prog=$4
    shift 4
    if ! "$dir/bench-$prog" "$@" >"$out/last.out" 2>"$out/last.err"; then
        echo "run.sh: bench-$prog $* failed:" >&2
        cat "$out/last.err" >&2
        exit 1
    fi
    awk -v r="$rep" -v id="$id" -v lib="$label" \
        '$1 == "RESULT" { print r "\t" id "\t" lib "\t" $4 "\t" $5 }' \
        "$out/last.out" >>"$raw"
}

rep=1
while [ $rep -le "$reps" ]; do
    if [ $((rep % 2)) -eq 1 ]; then
        cp "$out/plan.txt" "$out/order.txt"
    else
        awk 'function flush() { while (n > 0) print l[--n] }
             $1 != id { flush(); id = $1 }
             { l[n++] = $0 }
             END { flush() }' "$out/plan.txt" >"$out/order.txt"
    fi
    while read -r id label prog args; do
        # shellcheck disable=SC2086
        run_one $rep "$id" "$label" "$prog" $args
    done <"$out/order.txt"
    echo "bench: repetition $rep of $reps done ($(($(date +%s) - started)) s)"
    rep=$((rep + 1))
done
rm -f "$out/last.out" "$out/last.err" "$out/order.txt"

if [ $smoke -eq 1 ]; then
    echo "bench-smoke: $(wc -l <"$out/plan.txt") programs ran, every check held"
    exit 0
fi

load_after=$(uptime | sed 's/.*load average: *//')
{
    echo "# eddy benchmark results"
    echo
    echo "- command: \`make bench\` ($reps repetitions, interleaved; medians)"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(($(date +%s) - started)) s"
    echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
    echo "- load average (1, 5, 15 min): before $load_before; after $load_after"
    if command -v dpkg-query >/dev/null 2>&1; then
        echo "- libraries: $(dpkg-query -W -f='${Package} ${Version}, ' libuv1-dev libev-dev libevent-dev 2>/dev/null | sed 's/, $//'); eddy: the reference libeddy.a (gcc -O2)"
    fi
    echo
    awk -f "$here/report.awk" "$raw"
} >"$out/results.md"
cat "$out/results.md"
echo
echo "bench: wrote $out/results.md"
