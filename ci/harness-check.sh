#!/usr/bin/env bash
# ci/harness-check.sh RUNNER - the conformance harness checks itself, in a
# few seconds (`make harness-check`, part of `make test`):
#   - --self-test: cases that check nothing, fail, leak, crash, hang or skip,
#     and listed divergences, each get the verdict and report text they must;
#   - a run that selects no case is an error (exit 2);
#   - expectation files: a listed case that passes fails the run (stale), so
#     does an entry naming no case or a clause its case does not check; a
#     malformed file or a missing --expect file is a usage error;
#   - the reference's expectation file lists no divergence.
set -uo pipefail

runner=${1:?usage: $0 RUNNER}
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failures=0
# expect_exit WANT WHAT OUTPUT-PATTERN CMD...: CMD exits WANT and prints
# a line matching the pattern ("" for any).
expect_exit() {
    local want=$1 what=$2 pattern=$3
    shift 3
    "$@" >"$tmp/out" 2>&1
    local rc=$?
    if [ $rc -ne "$want" ] || { [ -n "$pattern" ] && ! grep -q -- "$pattern" "$tmp/out"; }; then
        local also=""
        [ -z "$pattern" ] || also=", output matching \"$pattern\""
        echo "harness-check: FAIL: $what (exit $rc, want $want$also)"
        sed 's/^/    /' "$tmp/out" | tail -n 30
        failures=$((failures + 1))
    else
        echo "harness-check: ok: $what"
    fi
}

expect_exit 0 "self-test verdicts" "verdicts as wanted" \
    "$runner" --self-test -j 4 --report "$tmp/selftest"
# The self-test's reports hold every kind of verdict and odd output: they
# must still parse.
if command -v python3 >/dev/null 2>&1; then
    expect_exit 0 "report.json and junit.xml of the self-test parse" "" \
        python3 -c 'import json, sys, xml.dom.minidom as x
d = json.load(open(sys.argv[1]))
assert d["schema"] == "eddy-conformance/1" and len(d["cases"]) == 12
x.parse(sys.argv[2])' "$tmp/selftest/report.json" "$tmp/selftest/junit.xml"
fi
expect_exit 2 "selecting no case is an error" "no case selected" \
    "$runner" no_such_case_anywhere

# One quick case that passes, and a clause it checks.
case_name=$("$runner" --list 1 | head -n 1 | cut -f 1)
clause=$("$runner" --list 1 | head -n 1 | cut -f 2 | cut -d ' ' -f 1)
if [ -z "$case_name" ] || [ -z "$clause" ]; then
    echo "harness-check: FAIL: cannot list a case of section 1"
    exit 1
fi

printf '%s\t%s\tthought to fail\n' "$case_name" "$clause" >"$tmp/stale.txt"
expect_exit 1 "a listed case that passes is a stale expectation" "^STALE $case_name" \
    "$runner" --expect "$tmp/stale.txt" "$case_name"

printf 'c1_1_no_such_case\t1.1\tgone\n' >"$tmp/nocase.txt"
expect_exit 1 "an entry naming no existing case fails the run" "names no existing case" \
    "$runner" --expect "$tmp/nocase.txt" "$case_name"

printf '%s\t9.99\tnot its clause\n' "$case_name" >"$tmp/clause.txt"
expect_exit 1 "an entry naming a clause its case does not check fails the run" \
    "does not check" "$runner" --expect "$tmp/clause.txt" "$case_name"

printf '%s only-two-fields\n' "$case_name" >"$tmp/bad.txt"
expect_exit 2 "a malformed expectation file is a usage error" "malformed entry" \
    "$runner" --expect "$tmp/bad.txt" "$case_name"

expect_exit 2 "a missing --expect file is a usage error" "" \
    "$runner" --expect "$tmp/absent.txt" "$case_name"

printf '# nothing listed\n\n' >"$tmp/empty.txt"
expect_exit 0 "an expectation file with no entry changes nothing" "1 passed, 0 failed" \
    "$runner" --expect "$tmp/empty.txt" --report "$tmp/report" "$case_name"
for f in report.md report.json junit.xml results.tsv; do
    if [ ! -s "$tmp/report/$f" ]; then
        echo "harness-check: FAIL: --report wrote no $f"
        failures=$((failures + 1))
    fi
done
if ! grep -q '"schema": "eddy-conformance/1"' "$tmp/report/report.json"; then
    echo "harness-check: FAIL: report.json does not name its schema"
    failures=$((failures + 1))
fi

if grep -v '^#' conformance/expect/reference.txt | grep -q '[^[:space:]]'; then
    echo "harness-check: FAIL: conformance/expect/reference.txt lists a divergence"
    failures=$((failures + 1))
fi

if [ $failures -gt 0 ]; then
    echo "harness-check: $failures check(s) FAILED"
    exit 1
fi
echo "harness-check: all passed"
