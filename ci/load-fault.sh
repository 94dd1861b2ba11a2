#!/usr/bin/env bash
# ci/load-fault.sh - load and fault run of the bind-then-fork server
# (SPEC §9.17, §9.22; restarts §7.5; SIGTERM to the supervisor §7.11).
#
# Runs examples/hello_prefork with WORKERS workers on 127.0.0.1, drives it
# with wrk for DURATION seconds while SIGKILLing one worker every
# KILL_EVERY seconds, then reports requests/s, wrk's errors, the restarts
# and the time from each kill to the replacement's first accept (from the
# server's event log), sends SIGTERM to the supervisor and checks that no
# process of the run is left. Only loopback addresses; bounded in time.
#
#   ci/load-fault.sh [path/to/hello_prefork]
#   env: DURATION=30 WORKERS=2 KILL_EVERY=0.2 CONNECTIONS=50 THREADS=2
set -euo pipefail

BIN=${1:-build/examples/hello_prefork}
DURATION=${DURATION:-30}
WORKERS=${WORKERS:-2}
KILL_EVERY=${KILL_EVERY:-0.2}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}

die() { echo "load-fault: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "no executable $BIN (build it with 'make examples')"
[ "$WORKERS" -ge 2 ] || die "WORKERS must be at least 2"

if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        die "wrk is missing; install it with: apt-get install -y wrk"
    fi
    apt-get install -y wrk >/dev/null 2>&1 ||
        { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; } ||
        die "could not install wrk"
fi

work=$(mktemp -d)
events=$work/events.log
kills=$work/kills.log
: >"$events"
: >"$kills"
parent=

# Every pid this run started: the supervisor and each worker it logged.
run_pids() {
    [ -n "$parent" ] && echo "$parent"
    awk '$1 == "ready" { print $3 }' "$events"
}

cleanup() {
    for pid in $(run_pids); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    [ -n "$parent" ] && wait "$parent" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }

"$BIN" -a 127.0.0.1 -p 0 -n "$WORKERS" -r 1000000000 -l "$events" \
    2>"$work/server.err" &
parent=$!

for _ in $(seq 100); do
    ready=$(grep -c '^ready' "$events" || true)
    [ "$ready" -ge "$WORKERS" ] && break
    sleep 0.1
done
[ "$(grep -c '^ready' "$events" || true)" -ge "$WORKERS" ] ||
    die "the workers did not start: $(cat "$work/server.err")"
port=$(awk '$1 == "listening" { print $2; exit }' "$events")
[ -n "$port" ] || die "the server logged no port"

timeout $((DURATION + 15)) wrk -t"$THREADS" -c"$CONNECTIONS" \
    -d"${DURATION}s" --timeout 2s "http://127.0.0.1:$port/" \
    >"$work/wrk.out" 2>&1 &
wrk_pid=$!

# Kill a random live worker (one that has logged "ready") every KILL_EVERY.
while kill -0 "$wrk_pid" 2>/dev/null && kill -0 "$parent" 2>/dev/null; do
    mapfile -t live < <(pgrep -P "$parent" | sort |
        join - <(awk '$1 == "ready" { print $3 }' "$events" | sort) || true)
    if [ "${#live[@]}" -gt 0 ]; then
        victim=${live[RANDOM % ${#live[@]}]}
        task=$(awk -v p="$victim" '$1 == "ready" && $3 == p { print $2 }' \
            "$events")
        t=$(now)
        kill -KILL "$victim" 2>/dev/null &&
            echo "kill $task $victim $t" >>"$kills"
    fi
    sleep "$KILL_EVERY"
done
wait "$wrk_pid" || die "wrk failed: $(cat "$work/wrk.out")"
kill -0 "$parent" 2>/dev/null || die "the supervisor died during the run"

sleep 1 # let the last replacement start
kill -TERM "$parent"
stopped=no
for _ in $(seq 100); do
    if ! kill -0 "$parent" 2>/dev/null; then
        stopped=yes
        break
    fi
    sleep 0.1
done
status=0
wait "$parent" || status=$?
left=()
for pid in $(run_pids); do
    if kill -0 "$pid" 2>/dev/null && [ "$pid" != "$parent" ]; then
        left+=("$pid")
    fi
done
kill -0 "$parent" 2>/dev/null && left+=("$parent")

# Match each kill with the next "ready" and "first-accept" of its task.
latencies() {
    sort -k4,4g "$events" "$kills" | awk '
        $1 == "kill" { since[$2] = $4; newpid[$2] = "" ; next }
        $1 == "ready" && ($2 in since) && newpid[$2] == "" {
            newpid[$2] = $3; printf "ready %.3f\n", ($4 - since[$2]) * 1000
            next
        }
        $1 == "first-accept" && ($2 in since) && newpid[$2] == $3 {
            printf "accept %.3f\n", ($4 - since[$2]) * 1000
            delete since[$2]
        }'
}
stats() { # name: count, median, p95, max of the column for that name
    latencies | awk -v k="$1" '$1 == k { print $2 }' | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "none"; exit }
            printf "%d, median %.1f ms, p95 %.1f ms, max %.1f ms\n", NR,
                v[int((NR + 1) / 2)], v[int(NR * 0.95 + 0.999)], v[NR]
        }'
}

nkills=$(wc -l <"$kills")
restarts=$(($(grep -c '^ready' "$events") - WORKERS))
rps=$(awk '/^Requests\/sec/ { print $2 }' "$work/wrk.out")
total=$(awk '/requests in/ { print $1 }' "$work/wrk.out")
sock=$(sed -n 's/^ *Socket errors: *//p' "$work/wrk.out")
non2xx=$(awk '/Non-2xx/ { print $NF }' "$work/wrk.out")

echo "load-fault: $WORKERS workers, ${DURATION}s, $CONNECTIONS connections," \
    "one worker killed every ${KILL_EVERY}s"
echo "  requests:          ${total:-0} (${rps:-0}/s)"
echo "  socket errors:     ${sock:-connect 0, read 0, write 0, timeout 0}"
echo "  non-2xx responses: ${non2xx:-0}"
echo "  kills: $nkills   restarts: $restarts"
echo "  kill -> new worker ready:        $(stats ready)"
echo "  kill -> new worker first accept: $(stats accept)"
echo "  supervisor after SIGTERM: stopped=$stopped exit status $status"
echo "  processes left: ${#left[@]}${left:+ (${left[*]})}"

fail=""
[ "${total:-0}" -gt 0 ] || fail="$fail no-requests"
[ "$restarts" -ge "$nkills" ] || fail="$fail missing-restarts"
[ "$stopped" = yes ] || fail="$fail supervisor-still-running"
[ "${#left[@]}" -eq 0 ] || fail="$fail processes-left"
[ -z "$non2xx" ] || [ "$non2xx" -eq 0 ] || fail="$fail non-2xx"
if [ -n "$fail" ]; then
    echo "load-fault: FAILED:$fail"
    exit 1
fi
echo "load-fault: ok"
