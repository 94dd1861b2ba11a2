/* conformance/report_md.c - report.md: a run's header, its sections, the
 * clause x result matrix, each failure with the check that failed and what
 * was observed, the expectations and every case.
 *
 * Markdown for people: long texts are cut, the full ones are in
 * report.json.
 */
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MD_OUTPUT_LINES 40 /* of a failed case's output */

/* A table cell: one line, no '|', at most max bytes (whole characters). */
static void md_cell(FILE *f, const char *s, size_t max)
{
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0';) {
        size_t n = *p >= 0x80 ? eddy__utf8_len(p) : 1;
        n = n > 0 ? n : 1;
        if (used + n > max) {
            fputs("…", f);
            return;
        }
        if (*p == '|') {
            fputs("\\|", f);
        } else {
            fputc(*p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p, f);
            if (n > 1) {
                fwrite(p + 1, 1, n - 1, f);
            }
        }
        used += n;
        p += n;
    }
}

static void md_header(FILE *f, const struct run *r, const struct tally *all)
{
    char when[64];
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC",
             gmtime_r(&r->started, &tm));
    char extra[160];
    eddy__tally_extra(all, extra, sizeof(extra));
    fprintf(f, "# eddy conformance report\n\n");
    fprintf(f, "- Subject: **%s**\n- Result: **%s**: %u passed, %u failed%s\n",
            r->opt.subject, eddy__run_ok(r, all) ? "PASS" : "FAIL",
            all->n[PASS], all->n[FAIL], extra);
    fprintf(f,
            "- Run: %s, %.1f s, %zu cases, %u at a time, %g s limit "
            "each, lateness bound %.3f s\n",
            when, r->seconds, r->njobs, r->opt.jobs, r->opt.timeout,
            eddy_h_late_bound());
    fprintf(f, "- Selection: %s", r->nfilters == 0 ? "every case" : "");
    for (int i = 0; i < r->nfilters; i++) {
        fprintf(f, "%s`%s`", i > 0 ? " " : "", r->filters[i]);
    }
    fprintf(f, "\n- Expectations: %s (%zu entr%s, %u error%s)\n",
            r->expect_path != NULL ? r->expect_path : "none", r->nexpects,
            r->nexpects == 1 ? "y" : "ies", r->expect_errors,
            r->expect_errors == 1 ? "" : "s");
    fprintf(f, "- Clause levels: %s\n\n",
            r->spec_path != NULL ? r->spec_path : "not read (no SPEC.md)");
}

static void md_matrix(FILE *f, const struct run *r)
{
    size_t n = 0;
    struct row *rows = eddy__clause_rows(r, &n);
    fprintf(f, "## Clauses\n\n| Clause | Level | Result | Cases | Pass | "
               "Fail | Skip | Known | Stale | Statement |\n"
               "|---|---|---|--:|--:|--:|--:|--:|--:|---|\n");
    for (size_t i = 0; rows != NULL && i < n; i++) {
        const struct row *w = &rows[i];
        bool bad = w->n[FAIL] + w->n[STALE] > 0 || w->ncases == 0;
        fprintf(f, "| §%s | %s | %s%s%s | %u | %u | %u | %u | %u | %u | ",
                w->id, w->info != NULL ? w->info->level : "?", bad ? "**" : "",
                eddy__row_result(w), bad ? "**" : "", w->ncases, w->n[PASS],
                w->n[FAIL], w->n[SKIP], w->n[KNOWN], w->n[STALE]);
        md_cell(f, w->info != NULL ? w->info->text : "", 90);
        fprintf(f, " |\n");
    }
    fprintf(f, "\n");
    free(rows);
}

static void md_sections(FILE *f, const struct run *r)
{
    fprintf(f, "## Sections\n\n| § | Title | Cases | Pass | Fail | Skip | "
               "Known | Stale |\n|---|---|--:|--:|--:|--:|--:|--:|\n");
    for (size_t s = 0; s < r->nsections; s++) {
        const struct tally *t = &r->tallies[s];
        if (t->total > 0) {
            fprintf(f, "| §%s | %s | %u | %u | %u | %u | %u | %u |\n",
                    r->sections[s]->id, r->sections[s]->title, t->total,
                    t->n[PASS], t->n[FAIL], t->n[SKIP], t->n[KNOWN],
                    t->n[STALE]);
        }
    }
    fprintf(f, "\n");
}

static void md_block(FILE *f, const char *text, unsigned max_lines)
{
    fprintf(f, "```\n");
    unsigned lines = 0;
    for (const char *p = text; *p != '\0' && lines < max_lines; lines++) {
        size_t len = strcspn(p, "\n");
        fprintf(f, "%.*s\n", (int)len, p);
        p += len + (p[len] == '\n');
        if (lines + 1 == max_lines && *p != '\0') {
            fprintf(f, "... (cut; the whole output is in report.json)\n");
        }
    }
    fprintf(f, "```\n");
}

static void md_failure(FILE *f, const struct job *j)
{
    struct failure fl;
    eddy__failure_extract(j, &fl);
    char clauses[256];
    eddy__job_clauses(j, clauses, sizeof(clauses));
    fprintf(f, "### %s\n\n- Clauses: %s\n- Verdict: %s%s\n", j->c->name,
            clauses, j->result == KNOWN ? "known divergence, " : "", j->why);
    if (strncmp(fl.check, "fail", 4) == 0) {
        fprintf(f, "- Expected: never to reach `%s`, at %s\n", fl.check,
                fl.where);
    } else if (fl.check[0] != '\0') {
        fprintf(f, "- Expected: `%s` to hold, at %s\n", fl.check, fl.where);
    } else if (fl.where[0] != '\0') {
        fprintf(f, "- Failed at: %s\n", fl.where);
    }
    fprintf(f, "- Observed:\n\n");
    md_block(f, fl.observed, 20);
    if (j->outlen > 0) {
        fprintf(f, "\n<details><summary>Output</summary>\n\n");
        md_block(f, j->out, MD_OUTPUT_LINES);
        fprintf(f, "\n</details>\n");
    }
    fprintf(f, "\n");
}

static void md_failures(FILE *f, const struct run *r)
{
    fprintf(f, "## Failures\n\n");
    bool any = false;
    for (size_t i = 0; i < r->njobs; i++) {
        if (r->jobs[i].result == FAIL) {
            md_failure(f, &r->jobs[i]);
            any = true;
        }
    }
    fprintf(f, "%s", any ? "" : "None.\n\n");
}

static void md_expectations(FILE *f, const struct run *r)
{
    fprintf(f, "## Expectations\n\n");
    bool any = false;
    for (size_t i = 0; i < r->njobs; i++) {
        const struct job *j = &r->jobs[i];
        if (j->expect == NULL) {
            continue;
        }
        if (!any) {
            fprintf(f, "| Case | Clause | Outcome | Reason |\n"
                       "|---|---|---|---|\n");
        }
        any = true;
        fprintf(f, "| %s | §%s | %s | ", j->c->name, j->expect->clause,
                j->result == KNOWN   ? "known divergence (failed)"
                : j->result == STALE ? "**stale: the case passes**"
                                     : eddy__result_word(j->result));
        md_cell(f, j->expect->reason, 200);
        fprintf(f, " |\n");
    }
    fprintf(f, "%s", any ? "\n" : "No selected case is listed.\n\n");
    for (size_t i = 0; i < r->njobs; i++) {
        if (r->jobs[i].result == KNOWN) {
            md_failure(f, &r->jobs[i]);
        }
    }
}

static void md_cases(FILE *f, const struct run *r)
{
    fprintf(f,
            "## Cases\n\n<details><summary>All %zu cases</summary>\n\n"
            "| Case | Clauses | Result | Seconds | Checks |\n"
            "|---|---|---|--:|--:|\n",
            r->njobs);
    for (size_t i = 0; i < r->njobs; i++) {
        const struct job *j = &r->jobs[i];
        char clauses[256];
        eddy__job_clauses(j, clauses, sizeof(clauses));
        fprintf(f, "| %s | %s | %s | %.3f | %d |\n", j->c->name, clauses,
                eddy__result_word(j->result), j->seconds, j->checks);
    }
    fprintf(f, "\n</details>\n");
}

void eddy__report_md(FILE *f, const struct run *r)
{
    struct tally all = eddy__totals(r);
    md_header(f, r, &all);
    md_sections(f, r);
    md_matrix(f, r);
    md_failures(f, r);
    md_expectations(f, r);
    md_cases(f, r);
}
