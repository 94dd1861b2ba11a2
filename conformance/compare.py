#!/usr/bin/env python3
"""Run subjects over the scenarios and compare them clause by clause.

    compare.py [--scenarios DIR] [--expect DIR] [--out FILE] [--jobs N]
               [--only CLAUSES] [--strict] [--subject-c PATH] SUBJECT...

SUBJECT is c, tornado, tornado-uvloop, or NAME=COMMAND for any other
subject program (SPEC.md, Appendix C). Every
subject runs every scenario in a process group of its own; its trace is
checked against the scenario's expectations; a failure listed in
conformance/expect/<subject>.txt is a known divergence, and a listed
failure that passes is an error (a stale entry). The report, one row per
clause of SPEC.md and one column per subject, goes to --out (Markdown);
the totals per section go to stdout. The exit status is 1 when a failure
is not explained or an entry is stale, 2 on a usage or setup error.
"""

import argparse
import concurrent.futures
import os
import re
import shlex
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEBIAN_PYTHON = "/usr/bin/python3"
CLAUSE_RE = re.compile(r"^\*\*§(\d+\.\d+)\*\* \[([A-Z]+)\]")
SECTION_RE = re.compile(r"^## (\d+)\. (.*)")
RANGE_RE = re.compile(r"^(.*)\{(\d+)\.\.(\d+)\}(.*)$")
ROUNDING = 2e-6  # the trace prints microseconds


# ---- SPEC.md and the scenario files ----

def read_spec(path):
    """[(id, level, section)] in document order, and {section: title}."""
    clauses, titles, section = [], {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = SECTION_RE.match(line)
            if m:
                section = m.group(1)
                titles[section] = m.group(2).strip()
            m = CLAUSE_RE.match(line)
            if m:
                clauses.append((m.group(1), m.group(2), m.group(1).split(".")[0]))
    return clauses, titles


def expand(tokens, env):
    out = []
    for t in tokens:
        for k, v in env.items():
            t = t.replace("${%s}" % k, str(v))
        m = RANGE_RE.match(t)
        if m:
            for i in range(int(m.group(2)), int(m.group(3)) + 1):
                out.append("%s%d%s" % (m.group(1), i, m.group(4)))
        else:
            out.append(t)
    return out


class Scenario:
    def __init__(self, path, env):
        self.path = path
        self.name = None
        self.clauses = []
        self.requires = []
        self.host = []
        self.timeout = 10.0
        self.exact = None
        self.sets = None
        self.orders = []
        self.counts = []
        self.gaps = []
        with open(path, encoding="ascii") as f:
            for line in f:
                self.read_line(line.strip(), env)

    def read_line(self, line, env):
        if not line or line.startswith("#") or line.startswith("in "):
            return
        key, _, rest = line.partition(":")
        toks = rest.split()
        if key == "scenario":
            self.name = toks[0]
        elif key == "clauses":
            self.clauses = toks
        elif key == "requires":
            self.requires = toks
        elif key == "timeout":
            self.timeout = float(toks[0])
        elif key == "expect":
            self.exact = (self.exact or []) + expand(toks, env)
        elif key == "expect_set":
            self.sets = (self.sets or []) + expand(toks, env)
        elif key == "expect_order":
            self.orders.append(expand(toks, env))
        elif key == "expect_count":
            toks = expand(toks, env)
            self.counts.append((toks[0], int(toks[1]),
                                float("inf") if toks[2] == "inf" else int(toks[2])))
        elif key == "expect_gap":
            self.gaps.append((toks[0], toks[1], float(toks[2]), float(toks[3])))


# ---- checking one trace ----

def glob_match(pattern, text):
    regex = "^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$"
    return re.match(regex, text) is not None


def find_time(trace, ref):
    name, _, k = ref.partition("#")
    k = int(k or 1)
    for ev, t in trace:
        if ev == name:
            k -= 1
            if k == 0:
                return t
    return None


def check(scn, trace, late):
    """The list of broken expectations (empty: the trace passes)."""
    events = [ev for ev, _ in trace]
    problems = []
    if scn.exact is not None and events != scn.exact:
        problems.append("expect: wanted %s" % " ".join(scn.exact))
    if scn.sets is not None and sorted(events) != sorted(scn.sets):
        problems.append("expect_set: wanted %s" % " ".join(scn.sets))
    for order in scn.orders:
        pos = 0
        for want in order:
            while pos < len(events) and events[pos] != want:
                pos += 1
            if pos == len(events):
                problems.append("expect_order: %s (missing or out of order: %s)"
                                % (" ".join(order), want))
                break
            pos += 1
    for pattern, lo, hi in scn.counts:
        n = sum(1 for ev in events if glob_match(pattern, ev))
        if not lo <= n <= hi:
            problems.append("expect_count: %s %s..%s, got %d" % (pattern, lo, hi, n))
    for a, b, lo, hi in scn.gaps:
        ta, tb = find_time(trace, a), find_time(trace, b)
        if ta is None or tb is None:
            problems.append("expect_gap: %s or %s missing" % (a, b))
            continue
        gap = tb - ta
        if gap < lo - ROUNDING or gap > hi + late:
            problems.append("expect_gap: %s -> %s took %.6f s, wanted [%g, %g + %g]"
                            % (a, b, gap, lo, hi, late))
    return problems


# ---- subjects ----

class Subject:
    def __init__(self, name, argv):
        self.name = name
        self.argv = argv
        self.header = {}

    def probe(self):
        out = subprocess.run(self.argv + ["--protocol"], capture_output=True,
                             text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("%s --protocol failed: %s" % (self.name, out.stderr.strip()))
        for line in out.stdout.splitlines():
            key, _, val = line.partition(":")
            self.header[key.strip()] = val.strip()
        if self.header.get("protocol") != "1":
            raise RuntimeError("%s speaks protocol %s, not 1"
                               % (self.name, self.header.get("protocol")))
        self.caps = set(self.header.get("capabilities", "").split())

    def run(self, scn):
        """(trace, unsupported, error): trace is [(event, time or None)]."""
        proc = subprocess.Popen(self.argv + [scn.path], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=ROOT)
        try:
            out, err = proc.communicate(timeout=scn.timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            out, err = proc.communicate()
            return parse_trace(out)[0], None, "no end within %g s" % scn.timeout
        kill_group(proc.pid)  # nothing the scenario started may outlive it
        trace, unsupported = parse_trace(out)
        if proc.returncode != 0:
            msg = err.decode(errors="replace").strip().splitlines()[-3:]
            return trace, unsupported, "exit status %d: %s" % (proc.returncode,
                                                               " | ".join(msg))
        return trace, unsupported, None


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def parse_trace(raw):
    trace, unsupported = [], None
    for line in raw.decode(errors="replace").splitlines():
        if line.startswith("unsupported:"):
            unsupported = line.partition(":")[2].strip()
            continue
        if not line.strip():
            continue
        ev, _, t = line.rpartition(" @")
        if ev and re.match(r"^-?\d+\.\d+$", t):
            trace.append((ev, float(t)))
        else:
            trace.append((line.strip(), None))
    return trace, unsupported


def make_subjects(names, args):
    tornado = [DEBIAN_PYTHON, os.path.join(HERE, "subjects", "subject_tornado.py")]
    table = {"c": [os.path.abspath(args.subject_c)],
             "tornado": tornado,
             "tornado-uvloop": tornado + ["--uvloop"]}
    subjects = []
    for n in names:
        if "=" in n:
            # Any other subject: NAME=COMMAND (run from the repository root).
            name, _, command = n.partition("=")
            subjects.append(Subject(name, shlex.split(command)))
            continue
        if n not in table:
            raise RuntimeError("unknown subject %r (c, tornado, tornado-uvloop)" % n)
        subjects.append(Subject(n, table[n]))
    return subjects


# ---- expectation files ----

def read_expectations(path, scenarios):
    """{scenario: (clause, issue, reason)}; malformed lines are errors."""
    known, errors = {}, []
    if not os.path.exists(path):
        return known, errors
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 4 or not re.match(r"^(#\d+|-)$", parts[2]) \
                    or not parts[3].strip():
                errors.append("%s:%d: want scenario<TAB>clause<TAB>#issue or -"
                              "<TAB>reason" % (path, no))
                continue
            scn, clause, issue, reason = parts
            clause = clause[1:] if clause.startswith("§") else clause
            if scn not in scenarios:
                errors.append("%s:%d: no scenario %s" % (path, no, scn))
            elif clause not in scenarios[scn].clauses:
                errors.append("%s:%d: %s does not check §%s" % (path, no, scn, clause))
            known[scn] = (clause, issue, reason)
    return known, errors


# ---- the run ----

def calibrate_late():
    """How late a timer may be: 20 times the worst overshoot of 50 1-ms
    sleeps, within [0.25, 2] s, unless EDDY_LATE_BOUND says."""
    if os.environ.get("EDDY_LATE_BOUND"):
        return float(os.environ["EDDY_LATE_BOUND"])
    worst = 0.0
    for _ in range(50):
        t = time.monotonic()
        time.sleep(0.001)
        worst = max(worst, time.monotonic() - t - 0.001)
    return min(2.0, max(0.25, 20 * worst))


def judge(subject, scn, known, late, host_ok):
    """One cell: (status, detail), status pass|fail|known|stale|na."""
    missing = [c for c in scn.requires if c not in subject.caps and c not in host_ok]
    if missing:
        return "na", "lacks " + " ".join(missing), []
    trace, unsupported, error = subject.run(scn)
    if unsupported:
        return "na", "unsupported: " + unsupported, trace
    problems = ([error] if error else []) + check(scn, trace, late)
    entry = known.get(scn.name)
    if problems and entry:
        return "known", entry, trace
    if problems:
        return "fail", problems, trace
    if entry and not entry[2].startswith("intermittent:"):
        return "stale", entry, trace
    return "pass", None, trace


def host_capabilities():
    """Conditions of the host a scenario may require (requires: ipv6)."""
    import socket
    caps = set()
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        return caps
    caps.add("host_ipv6")
    return caps


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("subjects", nargs="+")
    ap.add_argument("--scenarios", default=os.path.join(HERE, "scenarios"))
    ap.add_argument("--expect", default=os.path.join(HERE, "expect"))
    ap.add_argument("--spec", default=os.path.join(ROOT, "SPEC.md"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "conformance",
                                                  "compare.md"))
    ap.add_argument("--subject-c", default="build/subjects/subject_c")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("JOBS", "2")))
    ap.add_argument("--only", default="")
    ap.add_argument("--strict", action="store_true",
                    help="ignore expectation files: every failure counts")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    clauses, titles = read_spec(args.spec)
    levels = {c: lvl for c, lvl, _ in clauses}
    env = {"cpus": os.cpu_count() or 1}
    scenarios, errors = {}, []
    for f in sorted(os.listdir(args.scenarios)):
        if not f.endswith(".scn"):
            continue
        scn = Scenario(os.path.join(args.scenarios, f), env)
        if scn.name != f[:-4]:
            errors.append("%s: scenario name %r is not the file's" % (f, scn.name))
        for c in scn.clauses:
            if levels.get(c) in (None, "RETIRED"):
                errors.append("%s: cites §%s, which is not a live clause" % (f, c))
        scenarios[scn.name] = scn
    selected = select(scenarios, args.only)
    if not selected:
        errors.append("no scenario selected")
    try:
        subjects = make_subjects(args.subjects, args)
        for s in subjects:
            s.probe()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        errors.append(str(exc))
    if errors:
        for e in errors:
            print("compare: " + e, file=sys.stderr)
        return 2

    late = calibrate_late()
    host = host_capabilities()
    results = {}
    stale_errors = []
    for s in subjects:
        known = {}
        if not args.strict:
            known, errs = read_expectations(
                os.path.join(args.expect, s.name + ".txt"), scenarios)
            stale_errors += errs
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            futs = {name: pool.submit(judge, s, scenarios[name], known, late, host)
                    for name in selected}
            for name in selected:
                results[(s.name, name)] = futs[name].result()
        print_subject(s, selected, results, args.verbose)

    cells = clause_cells(clauses, scenarios, selected, subjects, results)
    text = render(clauses, titles, scenarios, selected, subjects, results,
                  cells, late)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(summary(clauses, titles, subjects, cells))
    print("compare: report in %s" % args.out)
    for e in stale_errors:
        print("compare: " + e)
    bad = [k for k, v in results.items() if v[0] in ("fail", "stale")]
    return 1 if bad or stale_errors else 0


def select(scenarios, only):
    if not only:
        return sorted(scenarios)
    wanted = [w for w in re.split(r"[,\s]+", only) if w]
    out = []
    for name, scn in sorted(scenarios.items()):
        for w in wanted:
            numeric = re.match(r"^\d+(\.\d+)?$", w)
            if (w in scn.clauses or any(c.split(".")[0] == w for c in scn.clauses)
                    or (not numeric and w in name)):
                out.append(name)
                break
    return out


def print_subject(subject, selected, results, verbose):
    counts = {}
    for name in selected:
        status, detail, trace = results[(subject.name, name)]
        counts[status] = counts.get(status, 0) + 1
        if status in ("fail", "stale") or verbose:
            print("%s %s: %s" % (status.upper(), subject.name, name))
            if status == "fail":
                for p in detail:
                    print("    " + p)
                print("    got: " + " ".join(ev for ev, _ in trace))
            elif status == "stale":
                print("    listed as a divergence but passes: remove the entry")
    print("compare: %s (%s): %s" % (
        subject.name, subject.header.get("subject", "?"),
        ", ".join("%d %s" % (counts.get(k, 0), w) for k, w in
                  (("pass", "passed"), ("fail", "failed"), ("known", "known divergences"),
                   ("stale", "stale entries"), ("na", "not applicable")))))


# ---- the report ----

LABEL = {"pass": "pass", "fail": "FAIL", "known": "known divergence",
         "na": "n/a", "notrun": "not run"}


def clause_cell(clause, scenarios, selected, subject, results):
    """(status, text) of one clause for one subject."""
    cited = [n for n, s in sorted(scenarios.items()) if clause in s.clauses]
    if not cited:
        return "na", "n/a: C binding only"
    run = [n for n in cited if n in selected]
    if not run:
        return "notrun", "not run"
    cells = [(n,) + results[(subject.name, n)][:2] for n in run]
    bad = [n for n, st, _ in cells if st in ("fail", "stale")]
    if bad:
        return "fail", "**FAIL** (%s)" % ", ".join(bad)
    known = [(n, d) for n, st, d in cells if st == "known"]
    if known:
        # An entry explains its own clause; another clause of the same
        # scenario only points to it.
        why = "; ".join(
            ("%s%s" % (d[2], "" if d[1] == "-" else " (%s)" % d[1]))
            if d[0] == clause else "see §%s (%s)" % (d[0], n)
            for n, d in known)
        return "known", "known divergence: " + why
    if all(st == "na" for _, st, _ in cells):
        return "na", "n/a: " + "; ".join(sorted(set(d for _, _, d in cells)))
    return "pass", "pass"


def clause_cells(clauses, scenarios, selected, subjects, results):
    return {(s.name, c): clause_cell(c, scenarios, selected, s, results)
            for c, lvl, _ in clauses if lvl != "RETIRED" for s in subjects}


def section_totals(clauses, subjects, cells):
    """{(subject, section): {status: n}}."""
    totals = {}
    for c, lvl, sec in clauses:
        if lvl == "RETIRED":
            continue
        for s in subjects:
            t = totals.setdefault((s.name, sec), {})
            st = cells[(s.name, c)][0]
            t[st] = t.get(st, 0) + 1
    return totals


def total_text(t):
    parts = ["%d pass" % t.get("pass", 0), "%d fail" % t.get("fail", 0),
             "%d known" % t.get("known", 0), "%d n/a" % t.get("na", 0)]
    if t.get("notrun"):
        parts.append("%d not run" % t["notrun"])
    return ", ".join(parts)


def summary(clauses, titles, subjects, cells):
    """Clauses per section and subject as pass/fail/known/n-a counts."""
    totals = section_totals(clauses, subjects, cells)
    width = max(14, max(len(s.name) for s in subjects))
    lines = ["clauses per section, as pass/fail/known divergence/not applicable:",
             "  %-40s" % "section" + "".join(" %*s" % (width, s.name) for s in subjects)]
    keys = ("pass", "fail", "known", "na")
    sums = {s.name: dict.fromkeys(keys, 0) for s in subjects}
    for sec in sorted(titles, key=int):
        if not any((s.name, sec) in totals for s in subjects):
            continue
        row = "  %-40s" % ("§%s %s" % (sec, titles[sec]))[:40]
        for s in subjects:
            t = totals.get((s.name, sec), {})
            for k in keys:
                sums[s.name][k] += t.get(k, 0)
            row += " %*s" % (width, "/".join(str(t.get(k, 0)) for k in keys))
        lines.append(row)
    lines.append("  %-40s" % "all" + "".join(
        " %*s" % (width, "/".join(str(sums[s.name][k]) for k in keys))
        for s in subjects))
    return "\n".join(lines)


def render(clauses, titles, scenarios, selected, subjects, results, cells, late):
    out = ["# Subject comparison", "",
           "Every subject ran the scenarios of `conformance/scenarios/` "
           "(SPEC.md, Appendix C); a clause passes for a subject when every "
           "scenario that cites it passes. *known divergence*: the subject's "
           "expectation file (`conformance/expect/`) explains the failure. "
           "*n/a: C binding only*: no scenario cites the clause, which concerns "
           "the C binding itself; it is not applicable to other languages, is "
           "checked only by the built-in suite (`make conformance`), and is "
           "never counted as passed here.", "",
           "Lateness allowed to timers: %.3f s." % late, "", "| subject | runs |",
           "|---|---|"]
    for s in subjects:
        out.append("| %s | %s |" % (s.name, s.header.get("subject", "?")))
    totals = section_totals(clauses, subjects, cells)
    out += ["", "## Totals per section", "",
            "| section | " + " | ".join(s.name for s in subjects) + " |",
            "|---|" + "---|" * len(subjects)]
    for sec in sorted(titles, key=int):
        if not any((s.name, sec) in totals for s in subjects):
            continue
        out.append("| §%s %s | %s |" % (sec, titles[sec], " | ".join(
            total_text(totals.get((s.name, sec), {})) for s in subjects)))
    out += ["", "## Clauses", "",
            "| clause | level | scenarios | " + " | ".join(s.name for s in subjects) + " |",
            "|---|---|---|" + "---|" * len(subjects)]
    for c, lvl, _ in clauses:
        if lvl == "RETIRED":
            continue
        cited = [n for n, s in sorted(scenarios.items()) if c in s.clauses]
        out.append("| §%s | %s | %s | %s |" % (
            c, lvl, ", ".join(cited) or "-",
            " | ".join(cells[(s.name, c)][1] for s in subjects)))
    out += render_details(scenarios, selected, subjects, results)
    return "\n".join(out) + "\n"


def render_details(scenarios, selected, subjects, results):
    out = ["", "## Scenarios", "",
           "| scenario | clauses | " + " | ".join(s.name for s in subjects) + " |",
           "|---|---|" + "---|" * len(subjects)]
    for n in selected:
        out.append("| %s | %s | %s |" % (n, " ".join(scenarios[n].clauses), " | ".join(
            LABEL.get(results[(s.name, n)][0], results[(s.name, n)][0])
            for s in subjects)))
    for s in subjects:
        rows = [(n,) + results[(s.name, n)] for n in selected
                if results[(s.name, n)][0] in ("fail", "stale", "known")]
        if not rows:
            continue
        out += ["", "### %s: failures and known divergences" % s.name, ""]
        for n, st, detail, trace in rows:
            if st == "known":
                out.append("- %s (§%s, %s): known divergence: %s" % (
                    n, detail[0], detail[1], detail[2]))
            elif st == "stale":
                out.append("- %s: **stale entry**: listed, but passes" % n)
            else:
                out.append("- %s: **FAIL**: %s; trace: `%s`" % (
                    n, "; ".join(detail), " ".join(ev for ev, _ in trace)))
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
