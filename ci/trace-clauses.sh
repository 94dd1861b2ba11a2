#!/usr/bin/env bash
# ci/trace-clauses.sh - check that SPEC.md's clauses and the conformance
# cases cite each other correctly.
#
# A clause is a line of SPEC.md that starts "**§S.N** [LEVEL]" (outside code
# fences), LEVEL one of MUST SHOULD IMPL EXT RETIRED. A case is an entry
# EDDY_CASE(name, "extra clauses") or EDDY_CASE_LOOP(...) in
# conformance/s*.c; it cites §S.N through its name prefix cS_N_ and every
# id in the extra string. Fails, naming each problem, when a clause id is
# defined twice or malformed, a live clause has no case, or a case cites a
# clause that does not exist or is retired (or cites none at all).
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
spec=${SPEC:-$root/SPEC.md}
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

awk -v spec="SPEC.md" '
    function problem(msg) { print "trace: " msg; nproblems++ }
    function cite(file, name, id) {
        if (id !~ /^[0-9]+\.[0-9]+$/) {
            problem(file ": " name " cites malformed clause \"" id "\"")
        } else if (!(id in level)) {
            problem(file ": " name " cites §" id ", which " spec " does not define")
        } else if (level[id] == "RETIRED") {
            problem(file ": " name " cites §" id ", which is retired")
        } else {
            covered[id] = 1
        }
    }
    $1 == "M" { problem(spec ":" $2 ": malformed clause line"); next }
    $1 == "C" {
        if ($3 in level) {
            problem(spec ":" $2 ": §" $3 " is defined twice (first at line " line[$3] ")")
            next
        }
        level[$3] = $4; line[$3] = $2; order[++nclauses] = $3
        if ($4 !~ /^(MUST|SHOULD|IMPL|EXT|RETIRED)$/) {
            problem(spec ":" $2 ": §" $3 " has unknown level [" $4 "]")
        }
        next
    }
    $1 == "K" {
        file = $2; name = $3; ncases++
        if (name in seen) {
            problem(file ": case " name " is listed twice (also in " seen[name] ")")
        }
        seen[name] = file
        if (name ~ /^c[0-9]+_[0-9]+_/) {
            id = substr(name, 2); sub(/_/, ".", id); sub(/_.*/, "", id)
            cite(file, name, id)
        } else {
            problem(file ": case " name " names no clause (want a cS_N_ prefix)")
        }
        for (i = 4; i <= NF; i++) {
            cite(file, name, $i)
        }
    }
    END {
        live = 0; nretired = 0; ncovered = 0
        for (i = 1; i <= nclauses; i++) {
            id = order[i]
            if (level[id] == "RETIRED") { nretired++; continue }
            live++
            if (id in covered) { ncovered++ }
            else { problem(spec ":" line[id] ": §" id " [" level[id] "] has no case") }
        }
        pct = live > 0 ? 100 * ncovered / live : 0
        printf "trace: %d clauses (%d retired), %d cases, coverage %d/%d live clauses (%.1f%%), %d problem%s\n",
            nclauses, nretired, ncases, ncovered, live, pct, nproblems, nproblems == 1 ? "" : "s"
        exit (nproblems > 0)
    }
' "$tmp/clauses" "$tmp/cases"
