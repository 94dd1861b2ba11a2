#!/bin/sh
# impl/tests/build.sh - build libeddy.a and the loop-core unit tests by
# hand (the Makefile is the real build) and run them.
#   impl/tests/build.sh [debug|release|asan|tsan|valgrind] [test_name...]
# CC picks the compiler (default cc); OUT the build directory.
set -eu
cd "$(dirname "$0")/../.."
mode=${1:-debug}
[ $# -gt 0 ] && shift
tests=${*:-"test_heap test_loop test_handler test_callback test_timeout test_faults"}
CC=${CC:-cc}
out=${OUT:-${TMPDIR:-/tmp}/eddy-unit-$mode-$(basename "$CC")}
mkdir -p "$out"
flags="-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Wshadow"
flags="$flags -Wstrict-prototypes -pthread -Ispec/include -Iimpl"
run=""
case $mode in
debug) flags="$flags -O0 -g" ;;
release) flags="$flags -O2 -DNDEBUG" ;;
asan) flags="$flags -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" ;;
tsan) flags="$flags -O1 -g -fsanitize=thread" ;;
valgrind) flags="$flags -O0 -g"
    run="valgrind -q --leak-check=full --track-fds=yes --error-exitcode=1" ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
rm -f "$out"/*.o "$out/libeddy.a"
for src in impl/*.c; do
    $CC $flags -c "$src" -o "$out/$(basename "$src" .c).o"
done
ar rcs "$out/libeddy.a" "$out"/*.o
for t in $tests; do
    $CC $flags "impl/tests/$t.c" "$out/libeddy.a" -lcmocka -lm -o "$out/$t"
done
for t in $tests; do
    echo "== $t ($mode, $CC)"
    $run "$out/$t"
done
