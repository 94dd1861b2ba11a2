#!/usr/bin/env bash
# conformance/mutants/run.sh REFERENCE_RUNNER DIR NAME... - run the whole
# conformance suite against each mutant and allowed variant built in
# DIR/<name>/ (a name allowed/<x> is an allowed variant) and record which
# cases fail against each.
#
# The reference runner goes first: a suite that fails on the reference
# would credit its failures to every mutant, so then nothing is judged.
# A mutant is killed when at least one case fails against it (a failed
# check, a crash, a time-out or a hygiene failure all count); an allowed
# variant must pass every case. Writes DIR/kills.tsv (mutant, clause,
# killing cases separated by spaces) and DIR/table.md, prints the table,
# and exits 1 when a mutant survives or an allowed variant fails, 2 when
# something could not be run. JOBS (default 2) and CASE_TIMEOUT (seconds,
# default 20) tune the runs.
set -uo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 REFERENCE_RUNNER DIR NAME..." >&2
    exit 2
fi
reference=$1
dir=$2
shift 2
jobs=${JOBS:-2}
limit=${CASE_TIMEOUT:-20}
# In clause order (2.7 before 2.10), the allowed variants last.
mapfile -t names < <(printf '%s\n' "$@" | sort -V)

# run_suite RUNNER OUT: the whole suite, results in OUT/results.tsv.
run_suite() {
    rm -rf "$2"
    mkdir -p "$2"
    "$1" -j"$jobs" -t "$limit" --report "$2" >"$2/run.log" 2>&1
}

# failed_cases TSV: the names of the cases that failed, one per line.
failed_cases() {
    awk -F '\t' '$3 == "fail" { print $1 }' "$1"
}

# show NAME CLAUSE VERDICT SECONDS CASES...: one entry of the printed
# table, the case names wrapped under it.
show() {
    local name=$1 clause=$2 verdict=$3 secs=$4
    shift 4
    printf '%-46s §%-5s %-18s %4ss\n' "$name" "$clause" "$verdict" "$secs"
    if [ $# -gt 0 ]; then
        printf '%s\n' "$@" | fmt -w 96 | sed 's/^/      /'
    fi
}

echo "mutants: the suite on the reference first"
run_suite "$reference" "$dir/reference"
rc=$?
if [ $rc -ne 0 ] || [ ! -s "$dir/reference/results.tsv" ]; then
    echo "mutants: the suite does not pass on the reference (exit $rc):"
    failed_cases "$dir/reference/results.tsv" 2>/dev/null | sed 's/^/  /'
    tail -n 20 "$dir/reference/run.log"
    exit 2
fi
total=$(wc -l <"$dir/reference/results.tsv")

kills=$dir/kills.tsv
table=$dir/table.md
: >"$kills"
mutant_rows=()
allowed_rows=()
survivors=()
rejected=()
errors=()
nmutants=0
echo
for name in "${names[@]}"; do
    base=${name#allowed/}
    clause=${base%%_*}
    runner=$dir/$name/eddy-conformance
    start=$SECONDS
    if [ ! -x "$runner" ]; then
        errors+=("$name")
        show "$name" "$clause" "NOT BUILT" 0
        continue
    fi
    run_suite "$runner" "$dir/$name/run"
    rc=$?
    tsv=$dir/$name/run/results.tsv
    if [ $rc -gt 1 ] || [ ! -s "$tsv" ]; then
        errors+=("$name")
        show "$name" "$clause" "RUNNER ERROR $rc" $((SECONDS - start)) \
            "see $dir/$name/run/run.log"
        continue
    fi
    mapfile -t failing < <(failed_cases "$tsv")
    n=${#failing[@]}
    if [ "$name" != "$base" ]; then
        verdict="passes (allowed)"
        if [ "$n" -gt 0 ]; then
            verdict="FAILED by $n"
            rejected+=("$name")
        fi
        row="| $base | §$clause | ${failing[*]:-none (as it must)} |"
        allowed_rows+=("$row")
    else
        nmutants=$((nmutants + 1))
        verdict="killed by $n"
        if [ "$n" -eq 0 ]; then
            verdict="SURVIVED"
            survivors+=("$name")
        fi
        printf '%s\t%s\t%s\n' "$name" "$clause" "${failing[*]}" >>"$kills"
        row="| $name | §$clause | $n | ${failing[*]:-**survived**} |"
        mutant_rows+=("$row")
    fi
    show "$name" "$clause" "$verdict" $((SECONDS - start)) "${failing[@]}"
done

{
    echo "# Mutants and the cases that kill them"
    echo
    echo "Each mutant is the reference with one bug"
    echo "(conformance/mutants/<clause>_<bug>.patch); a case kills it when it"
    echo "fails against it. The suite has $total cases."
    echo "${#survivors[@]} of $nmutants mutants survived."
    echo
    echo "| mutant | clause | kills | killing cases |"
    echo "|---|---|---:|---|"
    printf '%s\n' "${mutant_rows[@]}"
    if [ ${#allowed_rows[@]} -gt 0 ]; then
        echo
        echo "Allowed variants take another path an [IMPL] clause leaves"
        echo "open; no case may fail against them."
        echo
        echo "| variant | clause | failing cases |"
        echo "|---|---|---|"
        printf '%s\n' "${allowed_rows[@]}"
    fi
} >"$table"
echo
echo "mutants: wrote $kills and $table"
status=0
if [ ${#survivors[@]} -gt 0 ]; then
    echo "mutants: SURVIVED: ${survivors[*]}"
    status=1
fi
if [ ${#rejected[@]} -gt 0 ]; then
    echo "mutants: allowed variants FAILED by the suite: ${rejected[*]}"
    status=1
fi
if [ ${#errors[@]} -gt 0 ]; then
    echo "mutants: ERROR (not built or not run): ${errors[*]}"
    status=2
fi
if [ $status -eq 0 ]; then
    echo "mutants: all $nmutants mutants killed," \
        "${#allowed_rows[@]} allowed variants pass"
fi
exit $status
