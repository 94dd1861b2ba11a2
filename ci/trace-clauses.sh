#!/usr/bin/env bash
# ci/trace-clauses.sh [--kills FILE] [--update-ids] - check that SPEC.md's
# clauses, the conformance cases, the published clause ids, the expectation
# files and the mutant kills agree.
#
# A clause is a line of SPEC.md that starts "**§S.N** [LEVEL]" (outside code
# fences), LEVEL one of MUST SHOULD IMPL EXT RETIRED. A case is an entry
# EDDY_CASE(name, "extra clauses") or EDDY_CASE_LOOP(...) in
# conformance/s*.c; it cites §S.N through its name prefix cS_N_ and every
# id in the extra string. Fails, naming each problem, when:
#   - a clause id is defined twice or malformed, a live clause has no case,
#     or a case cites a clause that does not exist or is retired (or none);
#   - SPEC.md and conformance/clause-ids.txt (every id ever published)
#     disagree: an id was removed instead of retired, a retired id is live
#     again, or an id is new or newly retired and not yet recorded
#     (--update-ids records those two, and only those);
#   - an expectation file (conformance/expect/*.txt) names a case that does
#     not exist or a clause its case does not cite, or a scenario that does
#     not exist (conformance/scenarios/), or the reference's lists anything.
# With a mutant kills file (--kills FILE, else $TRACE_KILLS when set, else
# build/mutants/kills.tsv if it exists; `make mutants` writes it: mutant,
# clause, killing cases), it also warns, without failing, about every MUST
# clause that no killed mutant targets: a few dozen mutants cannot cover
# every clause, so this is a to-do list, not a gate.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
spec=${SPEC:-$root/SPEC.md}
ids=${CLAUSE_IDS:-$root/conformance/clause-ids.txt}
# TRACE_KILLS set, even empty, replaces the default (make sets it).
kills=${TRACE_KILLS-}
kills_given=${kills:+yes}
kills_default=${TRACE_KILLS+no}
update=no
while [ $# -gt 0 ]; do
    case $1 in
    --kills) kills=${2:?--kills needs a file}; kills_given=yes; shift 2 ;;
    --update-ids) update=yes; shift ;;
    *) echo "usage: $0 [--kills FILE] [--update-ids]" >&2; exit 2 ;;
    esac
done
if [ -z "$kills" ] && [ "$kills_default" != no ] &&
    [ -f "$root/build/mutants/kills.tsv" ]; then
    kills=$root/build/mutants/kills.tsv
fi
if [ ! -f "$spec" ]; then
    echo "trace: SPEC.md not found ($spec)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "C line id level" for each clause, "M line" for a malformed clause line.
awk '
    /^```/ { fence = !fence; next }
    fence { next }
    /^\*\*§/ {
        if ($0 ~ /^\*\*§[0-9]+\.[0-9]+\*\*[ \t]+\[[A-Z]+\]/) {
            id = $0; sub(/^\*\*§/, "", id); sub(/\*\*.*/, "", id)
            lvl = $0; sub(/^[^[]*\[/, "", lvl); sub(/\].*/, "", lvl)
            print "C", NR, id, lvl
        } else {
            print "M", NR
        }
    }
' "$spec" >"$tmp/clauses"

# --update-ids: append new ids, mark newly retired ones; never delete.
if [ $update = yes ]; then
    [ -f "$ids" ] || printf '# every clause id ever published\n' >"$ids"
    awk -v out="$tmp/ids.new" '
        FNR == NR { level[$3] = $4; order[++n] = $3; next }
        /^#/ || NF == 0 { print > out; next }
        {
            state = $2
            if (state == "live" && level[$1] == "RETIRED") {
                state = "retired"; print "trace: recorded §" $1 " as retired"
            }
            printf "%s\t%s\n", $1, state > out; listed[$1] = 1
        }
        END {
            for (i = 1; i <= n; i++) {
                id = order[i]
                if (id in listed) { continue }
                state = level[id] == "RETIRED" ? "retired" : "live"
                printf "%s\t%s\n", id, state > out
                print "trace: recorded new §" id " (" state ")"
            }
        }
    ' "$tmp/clauses" "$ids"
    cat "$tmp/ids.new" >"$ids"
fi

# "I line id state" for each published id.
if [ -f "$ids" ]; then
    awk '/^#/ || NF == 0 { next } { print "I", NR, $1, $2 }' "$ids"
else
    echo "N"
fi >"$tmp/ids"

# "K file name extra..." for each table entry (entries may span lines).
shopt -s nullglob
for f in "$root"/conformance/s[0-9]*.c; do
    tr '\n' ' ' <"$f" |
        grep -oE 'EDDY_CASE(_LOOP)?[[:space:]]*\([[:space:]]*[A-Za-z_][A-Za-z0-9_]*[[:space:]]*,[[:space:]]*"[^"]*"[[:space:]]*\)' |
        sed -E 's/^EDDY_CASE(_LOOP)?[[:space:]]*\([[:space:]]*([A-Za-z0-9_]+)[[:space:]]*,[[:space:]]*"([^"]*)".*/\2 \3/' |
        while read -r name extra; do
            echo "K conformance/${f##*/} $name $extra"
        done
done >"$tmp/cases"

# "E file line kind name clause" for each expectation entry; the reason is
# not needed here. Kind C: case<TAB>clause<TAB>reason, for the C runner.
# Kind S: scenario<TAB>clause<TAB>#issue or -<TAB>reason, for compare.py,
# which checks the scenario's clauses itself. Kind "-": malformed.
for f in "$root"/conformance/expect/*.txt; do
    awk -F '\t' -v file="conformance/expect/${f##*/}" '
        /^#/ || /^[ \t\r]*$/ { next }
        { c = $2; sub(/^§/, "", c) }
        NF == 3 && $1 != "" && c != "" && $3 != "" { print "E", file, NR, "C", $1, c; next }
        NF == 4 && $1 != "" && c != "" && $3 ~ /^(#[0-9]+|-)$/ && $4 != "" {
            print "E", file, NR, "S", $1, c; next
        }
        { print "E", file, NR, "-" }
    ' "$f"
done >"$tmp/expect"
scenarios=""
for f in "$root"/conformance/scenarios/*.scn; do
    scenarios="$scenarios scenarios/${f##*/}"
done

# "X line mutant clause killer..." for each row of the kills file.
if [ -n "$kills" ] && [ -f "$kills" ]; then
    awk -F '\t' '
        $1 == "mutant" || /^#/ || NF < 2 { next }
        { c = $2; sub(/^§/, "", c); gsub(/,/, " ", $3); print "X", NR, $1, c, $3 }
    ' "$kills"
elif [ -n "$kills_given" ]; then
    echo "trace: mutant kills file not found: $kills" >&2
    exit 1
fi >"$tmp/kills"

awk -v spec="SPEC.md" -v idsfile="conformance/clause-ids.txt" \
    -v killsfile="${kills#"$root"/}" -v scenarios="$scenarios" \
    -f "$root/ci/trace-clauses.awk" \
    "$tmp/clauses" "$tmp/cases" "$tmp/ids" "$tmp/expect" "$tmp/kills"
