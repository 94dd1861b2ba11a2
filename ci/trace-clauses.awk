# ci/trace-clauses.awk - the checks of ci/trace-clauses.sh, over the tagged
# records it prepares (one kind per input file, in this order):
#   C line id level        a clause of SPEC.md     M line   a malformed one
#   K file case extra...   a case and the extra clauses it cites
#   I line id state        conformance/clause-ids.txt   N   the file is absent
#   E file line kind name clause   an expectation entry: kind C a case,
#                          S a scenario, "-" a malformed line
#   X line mutant clause killer...   a row of the mutant kills file
# Problems fail the gate; warnings (mutant coverage) only inform.

function problem(msg) { print "trace: " msg; nproblems++ }
function warning(msg) { print "trace: warning: " msg; nwarnings++ }

function cite(file, name, id) {
    if (id !~ /^[0-9]+\.[0-9]+$/) {
        problem(file ": " name " cites malformed clause \"" id "\"")
    } else if (!(id in level)) {
        problem(file ": " name " cites §" id ", which " spec " does not define")
    } else if (level[id] == "RETIRED") {
        problem(file ": " name " cites §" id ", which is retired")
    } else {
        covered[id] = 1
        cites[name, id] = 1
    }
}

# Print ids as a wrapped list after a heading line.
function id_list(ids, n,    i, line) {
    line = " "
    for (i = 1; i <= n; i++) {
        if (length(line) + length(ids[i]) > 74) { print "trace:  " line; line = " " }
        line = line " §" ids[i]
    }
    if (line != " ") { print "trace:  " line }
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
    next
}

$1 == "N" { noids = 1; next }

$1 == "I" {
    if ($3 in published) {
        problem(idsfile ":" $2 ": §" $3 " is listed twice")
    } else if ($4 != "live" && $4 != "retired") {
        problem(idsfile ":" $2 ": §" $3 " has state \"" $4 "\" (want live or retired)")
    }
    published[$3] = $4; npublished++
    next
}

$1 == "E" {
    where = $2 ":" $3
    if ($4 == "-") {
        problem(where ": malformed expectation (want case<TAB>clause<TAB>reason, or scenario<TAB>clause<TAB>#issue or -<TAB>reason)")
    } else if ($4 == "S") {
        if (index(" " scenarios, " scenarios/" $5 ".scn ") == 0) {
            problem(where ": expectation names no existing scenario: " $5)
        } else if (!($6 in level)) {
            problem(where ": expectation names §" $6 ", which " spec " does not define")
        }
    } else if (!($5 in seen)) {
        problem(where ": expectation names no existing case: " $5)
    } else if (!(($5, $6) in cites)) {
        problem(where ": expectation names §" $6 ", which " $5 " does not cite")
    }
    if ($2 ~ /\/reference\.txt$/) {
        problem(where ": the reference lists a divergence; it must list none")
    }
    nexpect++
    next
}

$1 == "X" {
    mutant = $3; id = $4; nmutants++
    if (!(id in level)) {
        warning(killsfile ":" $2 ": mutant " mutant " targets §" id ", which " spec " does not define")
        next
    }
    if (NF < 5) {
        warning("mutant " mutant " (§" id ") survived: no case kills it")
        next
    }
    nkilled++; killed[id] = 1; on_clause = 0
    for (i = 5; i <= NF; i++) {
        if (($i, id) in cites) { on_clause = 1 }
    }
    if (!on_clause) {
        warning("mutant " mutant " is killed only by cases that do not cite §" id)
    }
    next
}

# SPEC.md against the list of every id ever published.
function check_published(    i, id) {
    if (noids) {
        problem(idsfile " is missing: create it with ci/trace-clauses.sh --update-ids")
        return
    }
    for (id in published) {
        if (!(id in level)) {
            problem("§" id " was published (" idsfile ") but " spec " no longer defines it: mark it [RETIRED] instead of deleting it")
        } else if (published[id] == "retired" && level[id] != "RETIRED") {
            problem("§" id " is retired (" idsfile ") and " spec ":" line[id] " reuses it: give the clause a new id")
        } else if (published[id] == "live" && level[id] == "RETIRED") {
            problem("§" id " is retired in " spec " but " idsfile " says live: run ci/trace-clauses.sh --update-ids")
        }
    }
    for (i = 1; i <= nclauses; i++) {
        id = order[i]
        if (!(id in published)) {
            problem(spec ":" line[id] ": §" id " is not in " idsfile ": run ci/trace-clauses.sh --update-ids")
        }
    }
}

# MUST clauses that no killed mutant targets: a warning, never a failure.
function check_kills(    i, id, n, missing, nmust) {
    if (killsfile == "") {
        print "trace: no mutant kills file (make mutants writes build/mutants/kills.tsv): MUST-clause kill check skipped"
        return
    }
    n = 0; nmust = 0
    for (i = 1; i <= nclauses; i++) {
        id = order[i]
        if (level[id] != "MUST") { continue }
        nmust++
        if (!(id in killed)) { missing[++n] = id }
    }
    printf "trace: mutants (%s): %d, %d killed; %d of %d MUST clauses have a killed mutant\n",
        killsfile, nmutants, nkilled, nmust - n, nmust
    if (n > 0) {
        warning(n " MUST clauses have no killed mutant yet (a case fails when they break only as far as the mutants show):")
        id_list(missing, n)
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
    check_published()
    check_kills()
    pct = live > 0 ? 100 * ncovered / live : 0
    printf "trace: %d clauses (%d retired, %d ids published), %d cases, %d expectations, coverage %d/%d live clauses (%.1f%%), %d problem%s, %d warning%s\n",
        nclauses, nretired, npublished, ncases, nexpect, ncovered, live, pct,
        nproblems, nproblems == 1 ? "" : "s", nwarnings, nwarnings == 1 ? "" : "s"
    exit (nproblems > 0)
}
