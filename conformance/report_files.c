/* conformance/report_files.c - the files of --report DIR: results.tsv,
 * report.md (report_md.c), report.json (schema "eddy-conformance/1",
 * documented in conformance/README.md) and junit.xml.
 *
 * All four are written from the same struct run after the last case, in
 * selection order, so they never depend on -j.
 */
#include "runner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SCHEMA "eddy-conformance/1"

/* --- escaping ------------------------------------------------------------- */

/* JSON string contents; bytes that are not UTF-8 become U+FFFD. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : "");
         *p != '\0'; p++) {
        size_t n = *p >= 0x80 ? eddy__utf8_len(p) : 1;
        if (*p == '"' || *p == '\\') {
            fprintf(f, "\\%c", *p);
        } else if (*p == '\n') {
            fputs("\\n", f);
        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(f, "\\u%04x", *p);
        } else if (n == 0) {
            fputs("\\ufffd", f);
        } else {
            fwrite(p, 1, n, f);
            p += n - 1;
        }
    }
    fputc('"', f);
}

/* XML text or attribute; control bytes and non-UTF-8 become '?'. */
static void xml_str(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : "");
         *p != '\0'; p++) {
        size_t n = *p >= 0x80 ? eddy__utf8_len(p) : 1;
        const char *ent = *p == '<'   ? "&lt;"
                          : *p == '>' ? "&gt;"
                          : *p == '&' ? "&amp;"
                          : *p == '"' ? "&quot;"
                                      : NULL;
        if (ent != NULL) {
            fputs(ent, f);
        } else if (*p == '\n' || *p == '\t') {
            fputc(*p, f);
        } else if (*p < 0x20 || *p == 0x7f || n == 0) {
            fputc('?', f);
        } else {
            fwrite(p, 1, n, f);
            p += n - 1;
        }
    }
}

/* --- report.json ---------------------------------------------------------- */

static void json_counts(FILE *f, const unsigned *n)
{
    fprintf(f,
            "\"passed\": %u, \"failed\": %u, \"skipped\": %u, "
            "\"known\": %u, \"stale\": %u",
            n[PASS], n[FAIL], n[SKIP], n[KNOWN], n[STALE]);
}

static void json_header(FILE *f, const struct run *r, const struct tally *all)
{
    char when[32];
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
             gmtime_r(&r->started, &tm));
    fprintf(f, "{\n  \"schema\": \"%s\",\n  \"subject\": ", SCHEMA);
    json_str(f, r->opt.subject);
    fprintf(f,
            ",\n  \"started\": \"%s\",\n  \"seconds\": %.3f,\n"
            "  \"ok\": %s,\n  \"settings\": {\"jobs\": %u, "
            "\"timeout_s\": %g, \"late_bound_s\": %.3f, \"filters\": [",
            when, r->seconds, eddy__run_ok(r, all) ? "true" : "false",
            r->opt.jobs, r->opt.timeout, eddy_h_late_bound());
    for (int i = 0; i < r->nfilters; i++) {
        fprintf(f, "%s", i > 0 ? ", " : "");
        json_str(f, r->filters[i]);
    }
    fprintf(f, "], \"spec\": ");
    r->spec_path != NULL ? json_str(f, r->spec_path) : (void)fputs("null", f);
    fprintf(f, ", \"expectations\": ");
    r->expect_path != NULL ? json_str(f, r->expect_path)
                           : (void)fputs("null", f);
    fprintf(f, "},\n  \"totals\": {\"cases\": %zu, ", r->njobs);
    json_counts(f, all->n);
    fprintf(f, ", \"expectation_errors\": %u},\n", r->expect_errors);
}

static void json_sections(FILE *f, const struct run *r)
{
    fprintf(f, "  \"sections\": [");
    const char *sep = "\n";
    for (size_t s = 0; s < r->nsections; s++) {
        const struct tally *t = &r->tallies[s];
        if (t->total == 0) {
            continue;
        }
        fprintf(f, "%s    {\"id\": ", sep);
        json_str(f, r->sections[s]->id);
        fprintf(f, ", \"title\": ");
        json_str(f, r->sections[s]->title);
        fprintf(f, ", \"cases\": %u, ", t->total);
        json_counts(f, t->n);
        fprintf(f, "}");
        sep = ",\n";
    }
    fprintf(f, "\n  ],\n");
}

static void json_clauses(FILE *f, const struct run *r)
{
    size_t n = 0;
    struct row *rows = eddy__clause_rows(r, &n);
    fprintf(f, "  \"clauses\": [");
    for (size_t i = 0; rows != NULL && i < n; i++) {
        const struct row *w = &rows[i];
        fprintf(f, "%s\n    {\"id\": \"%s\", \"level\": ", i > 0 ? "," : "",
                w->id);
        w->info != NULL ? json_str(f, w->info->level) : (void)fputs("null", f);
        fprintf(f, ", \"result\": \"%s\", \"cases\": %u, ", eddy__row_result(w),
                w->ncases);
        json_counts(f, w->n);
        fprintf(f, "}");
    }
    fprintf(f, "\n  ],\n");
    free(rows);
}

static void json_failure(FILE *f, const struct job *j)
{
    struct failure fl;
    eddy__failure_extract(j, &fl);
    fprintf(f, ",\n     \"failure\": {\"reason\": ");
    json_str(f, j->why);
    fprintf(f, ", \"check\": ");
    fl.check[0] != '\0' ? json_str(f, fl.check) : (void)fputs("null", f);
    fprintf(f, ", \"where\": ");
    fl.where[0] != '\0' ? json_str(f, fl.where) : (void)fputs("null", f);
    fprintf(f, ", \"observed\": ");
    json_str(f, fl.observed);
    fprintf(f, ", \"output\": ");
    json_str(f, j->out);
    fprintf(f, "}");
}

static void json_case(FILE *f, const struct job *j)
{
    char clauses[256];
    eddy__job_clauses(j, clauses, sizeof(clauses));
    fprintf(f, "    {\"name\": \"%s\", \"section\": ", j->c->name);
    json_str(f, j->section->id);
    fprintf(f, ", \"clauses\": [");
    const char *sep = "";
    for (char *save = NULL, *id = strtok_r(clauses, " ", &save); id != NULL;
         id = strtok_r(NULL, " ", &save), sep = ", ") {
        fprintf(f, "%s\"%s\"", sep, id);
    }
    fprintf(f, "], \"result\": \"%s\", \"seconds\": %.3f, \"checks\": ",
            eddy__result_word(j->result), j->seconds);
    j->checks >= 0 ? fprintf(f, "%d", j->checks) : fputs("null", f);
    if (j->expect != NULL) {
        fprintf(f, ",\n     \"expectation\": {\"clause\": ");
        json_str(f, j->expect->clause);
        fprintf(f, ", \"reason\": ");
        json_str(f, j->expect->reason);
        fprintf(f, ", \"line\": %u}", j->expect->line);
    }
    if (j->result == FAIL || j->result == KNOWN) {
        json_failure(f, j);
    }
    fprintf(f, "}");
}

static void write_json(FILE *f, const struct run *r)
{
    struct tally all = eddy__totals(r);
    json_header(f, r, &all);
    json_sections(f, r);
    json_clauses(f, r);
    fprintf(f, "  \"cases\": [\n");
    for (size_t i = 0; i < r->njobs; i++) {
        json_case(f, &r->jobs[i]);
        fprintf(f, "%s\n", i + 1 < r->njobs ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
}

/* --- junit.xml ------------------------------------------------------------ */

static void junit_case(FILE *f, const struct job *j)
{
    fprintf(f,
            "    <testcase classname=\"eddy.s%s\" name=\"%s\" "
            "time=\"%.3f\"",
            j->section->id, j->c->name, j->seconds);
    if (j->result == PASS) {
        fprintf(f, "/>\n");
        return;
    }
    fprintf(f, ">\n");
    if (j->result == SKIP || j->result == KNOWN) {
        fprintf(f, "      <skipped message=\"");
        xml_str(f,
                j->result == SKIP ? "skipped by the case" : j->expect->reason);
        fprintf(f, "\"/>\n");
    } else if (j->result == STALE) {
        fprintf(f, "      <failure type=\"stale\" message=\"stale "
                   "expectation: the case passes\"/>\n");
    } else {
        struct failure fl;
        eddy__failure_extract(j, &fl);
        fprintf(f, "      <failure type=\"fail\" message=\"");
        xml_str(f, fl.check[0] != '\0' ? fl.check : j->why);
        fprintf(f, "\">");
        xml_str(f, fl.observed);
        fprintf(f, "</failure>\n      <system-out>");
        xml_str(f, j->out);
        fprintf(f, "</system-out>\n");
    }
    fprintf(f, "    </testcase>\n");
}

static void write_junit(FILE *f, const struct run *r)
{
    struct tally all = eddy__totals(r);
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites name=\"eddy-conformance\" tests=\"%zu\" "
            "failures=\"%u\" skipped=\"%u\" time=\"%.3f\">\n",
            r->njobs, all.n[FAIL] + all.n[STALE], all.n[SKIP] + all.n[KNOWN],
            r->seconds);
    for (size_t s = 0; s < r->nsections; s++) {
        const struct tally *t = &r->tallies[s];
        if (t->total == 0) {
            continue;
        }
        fprintf(f, "  <testsuite name=\"§%s ", r->sections[s]->id);
        xml_str(f, r->sections[s]->title);
        fprintf(f, "\" tests=\"%u\" failures=\"%u\" skipped=\"%u\">\n",
                t->total, t->n[FAIL] + t->n[STALE], t->n[SKIP] + t->n[KNOWN]);
        for (size_t i = 0; i < r->njobs; i++) {
            if (r->jobs[i].si == s) {
                junit_case(f, &r->jobs[i]);
            }
        }
        fprintf(f, "  </testsuite>\n");
    }
    fprintf(f, "</testsuites>\n");
}

/* --- results.tsv and the files -------------------------------------------- */

static void write_tsv(FILE *f, const struct run *r)
{
    fprintf(f, "case\tclauses\tresult\tseconds\tchecks\n");
    for (size_t i = 0; i < r->njobs; i++) {
        const struct job *j = &r->jobs[i];
        char clauses[256];
        eddy__job_clauses(j, clauses, sizeof(clauses));
        fprintf(f, "%s\t%s\t%s\t%.3f\t%d\n", j->c->name, clauses,
                eddy__result_word(j->result), j->seconds, j->checks);
    }
}

/* Write through a temporary name, so a reader never sees half a file. */
static int write_file(const struct run *r, const char *name,
                      void (*fn)(FILE *, const struct run *))
{
    char path[4096];
    char tmp[4200];
    snprintf(path, sizeof(path), "%s/%s", r->opt.report, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        return -errno;
    }
    fn(f, r);
    int err = ferror(f) ? -EIO : 0;
    if (fclose(f) != 0 && err == 0) {
        err = -errno;
    }
    if (err == 0 && rename(tmp, path) != 0) {
        err = -errno;
    }
    if (err != 0) {
        remove(tmp);
    }
    return err;
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    return mkdir(path, 0777) != 0 && errno != EEXIST ? -errno : 0;
}

int eddy__report_write(const struct run *r)
{
    int rc = make_dirs(r->opt.report);
    if (rc == 0) {
        rc = write_file(r, "results.tsv", write_tsv);
    }
    if (rc == 0) {
        rc = write_file(r, "report.md", eddy__report_md);
    }
    if (rc == 0) {
        rc = write_file(r, "report.json", write_json);
    }
    if (rc == 0) {
        rc = write_file(r, "junit.xml", write_junit);
    }
    return rc;
}
