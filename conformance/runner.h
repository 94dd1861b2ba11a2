/* conformance/runner.h - what the runner's own files share: run.c (runs
 * the cases), expect.c (expectation files and SPEC.md's clause levels),
 * select.c (command line, selection), report.c, report_md.c and
 * report_files.c (progress, summary, report files) and selftest.c (the
 * harness's own cases). Cases never include it.
 */
#ifndef EDDY_CONFORMANCE_RUNNER_H
#define EDDY_CONFORMANCE_RUNNER_H

#include "harness.h"

#include <stdio.h>
#include <sys/types.h>
#include <time.h>

/* A case's verdict. KNOWN and STALE come from the expectation file: a
 * listed case that failed, and a listed case that passed. */
enum result { PENDING, PASS, FAIL, SKIP, KNOWN, STALE };
#define NRESULTS (STALE + 1)

/* One line of an expectation file: a known divergence. */
struct expectation {
    char *name;   /* the case */
    char *clause; /* the clause it departs from, "2.7" */
    char *reason;
    unsigned line; /* in the file, for messages */
};

struct job {
    const struct eddy_section *section;
    size_t si; /* index of section in the run's sections */
    const struct eddy_case *c;
    char primary[24]; /* "2.7", or "" if the name cites no clause */
    enum result result;
    enum result want; /* self-test only: the verdict the case must get */
    char why[96];     /* for failures: what went wrong, in short */
    double start, seconds;
    pid_t pid; /* 0 once reaped */
    int status;
    int fd; /* output pipe, -1 once at EOF */
    double reaped_at;
    bool timed_out;
    bool lost;  /* reaped by someone else: no status */
    int checks; /* assertions the case made; -1 when it did not say */
    const struct expectation *expect; /* its listed divergence, or NULL */
    char *out;
    size_t outlen, outcap;
};

struct tally {
    unsigned total, done;
    unsigned n[NRESULTS]; /* cases per verdict */
};

struct options {
    unsigned jobs;
    double timeout;
    bool list, tap, self_test;
    const char *report;  /* directory for the report files, or NULL */
    const char *subject; /* "reference" */
    const char *expect;  /* expectation file given with --expect */
    const char *spec;    /* SPEC.md given with --spec */
};

/* A clause as SPEC.md states it. */
struct clause_info {
    char id[16];   /* "2.7" */
    char level[8]; /* "MUST" */
    char *text;    /* the clause's first line, without id and level */
};

/* Everything one run knows; report.c reads it, run.c fills it. */
struct run {
    struct options opt;
    const struct eddy_section *const *sections;
    size_t nsections;
    struct job *jobs; /* the selected cases, in selection order */
    size_t njobs;
    struct tally *tallies; /* one per section */
    char **filters;
    int nfilters;
    const char *expect_path; /* the expectation file read, or NULL */
    struct expectation *expects;
    size_t nexpects;
    unsigned expect_errors; /* entries naming no case or a wrong clause */
    const char *spec_path;  /* SPEC.md read, or NULL */
    struct clause_info *clauses;
    size_t nclauses;
    time_t started;
    double t0, seconds;
    FILE *human; /* progress: stdout, or stderr with --tap */
};

/* --- select.c ------------------------------------------------------------- */

#define EDDY__MAX_JOBS 256 /* -j at most */

void eddy__usage(FILE *f);

/* Fill r->opt from the command line (and $EDDY_CASE_TIMEOUT). Returns the
 * index of the first filter argument, or -1 on a bad option. */
int eddy__parse_options(struct run *r, int argc, char **argv);

/* Select the cases of r->sections that r->filters name (all without
 * filters) into r->jobs, and count them per section. Returns 0 or
 * -ENOMEM. */
int eddy__select_jobs(struct run *r);

/* "2.7 2.13": the primary clause, then the extra ones. */
void eddy__job_clauses(const struct job *j, char *buf, size_t size);

/* --- expect.c ------------------------------------------------------------- */

/* Read the expectation file (--expect, else conformance/expect/<subject>.txt
 * if it exists) and check each entry against every case linked in.
 * Returns 0, or -1 after printing why when the file cannot be read or a
 * line is malformed; entries naming no case count in expect_errors. */
int eddy__expect_load(struct run *r);

/* Attach each entry to its selected job. */
void eddy__expect_attach(struct run *r);

/* Turn a listed case's FAIL into KNOWN and its PASS into STALE. */
void eddy__expect_apply(struct job *j);

/* Read the clause ids and levels of SPEC.md (--spec, else ./SPEC.md if it
 * exists). Returns 0, or -1 after printing why. */
int eddy__spec_load(struct run *r);

/* The clause with this id, or NULL. */
const struct clause_info *eddy__spec_find(const struct run *r, const char *id);

void eddy__expect_free(struct run *r);

/* --- report.c ------------------------------------------------------------- */

/* What a failed case's output says: the check that failed (or ""), where
 * ("file:line" or ""), and what was observed (lines joined by '\n'). */
struct failure {
    char check[512];
    char where[256];
    char observed[2048];
};
void eddy__failure_extract(const struct job *j, struct failure *f);

/* "pass", "fail", "skip", "known", "stale": the words of the reports. */
const char *eddy__result_word(enum result res);

/* The verdicts of all sections added up. */
struct tally eddy__totals(const struct run *r);

/* Whether the run passed: no failure, no stale expectation, no error in
 * the expectation file. */
bool eddy__run_ok(const struct run *r, const struct tally *all);

/* Length of the valid UTF-8 sequence at s, or 0. */
size_t eddy__utf8_len(const unsigned char *s);

/* One row of the clause x result matrix. */
struct row {
    char id[16];
    const struct clause_info *info; /* NULL if SPEC.md was not read */
    unsigned ncases;
    unsigned n[NRESULTS]; /* its cases per verdict */
};

/* Every live clause of SPEC.md (when it was read and no filter was given)
 * and every clause a selected case checks, in clause order; *count rows,
 * to free(). NULL when out of memory. */
struct row *eddy__clause_rows(const struct run *r, size_t *count);

/* "fail" if a case of the clause failed, else "stale", "known", "pass",
 * "skip" in that order; "no case" without cases. */
const char *eddy__row_result(const struct row *row);

/* Read "checks: N" from a finished case's output into j->checks. */
void eddy__job_read_checks(struct job *j);

/* Progress after a case finished: failures as they happen, a section's
 * counts when its last case is done. */
void eddy__report_progress(const struct run *r, const struct job *j);

/* The per-section counts again, then "N passed, N failed[, ...]".
 * Returns whether the run passed. */
bool eddy__report_summary(const struct run *r);

/* TAP 13 on stdout, in selection order. */
void eddy__report_tap(const struct run *r);

/* ", 1 skipped, 2 known divergences" for the verdicts beyond pass/fail. */
void eddy__tally_extra(const struct tally *t, char *buf, size_t size);

/* --- report_md.c and report_files.c -------------------------------------- */

/* report.md, whole. */
void eddy__report_md(FILE *f, const struct run *r);

/* Write results.tsv, report.md, report.json and junit.xml into
 * r->opt.report. Returns 0 or -errno. */
int eddy__report_write(const struct run *r);

/* --- selftest.c ----------------------------------------------------------- */

/* The harness's own cases, each with the verdict it must get. */
const struct eddy_section *const *eddy__selftest_sections(size_t *count);

/* Set each self-test job's wanted verdict and in-memory expectations. */
void eddy__selftest_prepare(struct run *r);

/* Compare verdicts with the wanted ones; prints each mismatch. Returns
 * whether all matched. */
bool eddy__selftest_check(const struct run *r);

#endif /* EDDY_CONFORMANCE_RUNNER_H */
