/* conformance/report.c - what the runner says on its terminal: progress as
 * cases finish, the closing counts and TAP; and what it reads back from a
 * case's output (its check count, the check that failed, what was seen).
 *
 * A case's output is cmocka's plus the harness's "[  EDDY    ]" lines
 * (harness.h); both are parsed here, so the report files and the terminal
 * tell the same story.
 */
#include "runner.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMOCKA_ERROR "[  ERROR   ] --- "
#define CMOCKA_LINE "[   LINE   ] --- "
#define LAST_CHECK EDDY__TAG "last check: "
#define CHECKS EDDY__TAG "checks: "

/* --- reading a case's output ---------------------------------------------- */

void eddy__job_read_checks(struct job *j)
{
    const char *p = j->out;
    const char *last = NULL;
    while (p != NULL && (p = strstr(p, CHECKS)) != NULL) {
        last = p;
        p += strlen(CHECKS);
    }
    j->checks = last != NULL ? atoi(last + strlen(CHECKS)) : -1;
}

/* Append text to a '\n'-separated list in buf, within size. */
static void add_line(char *buf, size_t size, const char *text, size_t len)
{
    size_t used = strlen(buf);
    if (len == 0 || used + 2 >= size) {
        return;
    }
    snprintf(buf + used, size - used, "%s%.*s", used > 0 ? "\n" : "", (int)len,
             text);
}

/* cmocka shows integers in hex; -errno values read better in decimal:
 * "0xffffffffffffffea != 0" gets " (-22 != 0)". */
static void add_decimal(char *buf, size_t size, const char *text, size_t len)
{
    char copy[256];
    snprintf(copy, sizeof(copy), "%.*s", (int)len, text);
    char *sep = strstr(copy, " != ");
    if (sep == NULL || strncmp(copy, "0x", 2) != 0) {
        add_line(buf, size, text, len);
        return;
    }
    *sep = '\0';
    const char *rhs = sep + 4;
    char *end1 = NULL;
    char *end2 = NULL;
    uintmax_t a = strtoumax(copy, &end1, 0);
    uintmax_t b = strtoumax(rhs, &end2, 0);
    if (*end1 != '\0' || *end2 != '\0') {
        add_line(buf, size, text, len);
        return;
    }
    char line[512];
    snprintf(line, sizeof(line), "%.*s (%" PRIdMAX " != %" PRIdMAX ")",
             (int)len, text, (intmax_t)a, (intmax_t)b);
    add_line(buf, size, line, strlen(line));
}

/* Lines that describe what went wrong, whoever printed them. */
static bool observed_line(const char *p, size_t len)
{
    static const char *const starts[] = {
        "ERROR: ", "hygiene: ", "fixture: ", "Test failed with exception",
        EDDY__TAG "the case"};
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        size_t n = strlen(starts[i]);
        if (len >= n && strncmp(p, starts[i], n) == 0) {
            return true;
        }
    }
    return false;
}

static void scan_line(const char *p, size_t len, struct failure *f)
{
    const char *in = memchr(p, '[', len);
    size_t el = strlen(CMOCKA_ERROR);
    if (len > el && strncmp(p, CMOCKA_ERROR, el) == 0 &&
        strncmp(p + el, CMOCKA_LINE, strlen(CMOCKA_LINE)) != 0) {
        add_decimal(f->observed, sizeof(f->observed), p + el, len - el);
    } else if (observed_line(p, len)) {
        add_line(f->observed, sizeof(f->observed), p, len);
    } else if (strncmp(p, LAST_CHECK, strlen(LAST_CHECK)) == 0) {
        snprintf(f->check, sizeof(f->check), "%.*s",
                 (int)(len - strlen(LAST_CHECK)), p + strlen(LAST_CHECK));
    }
    /* cmocka may print the LINE tag after an empty ERROR on one line */
    for (; in != NULL; in = memchr(in + 1, '[', len - (size_t)(in + 1 - p))) {
        if ((size_t)(p + len - in) > strlen(CMOCKA_LINE) &&
            strncmp(in, CMOCKA_LINE, strlen(CMOCKA_LINE)) == 0) {
            const char *w = in + strlen(CMOCKA_LINE);
            size_t wl = (size_t)(p + len - w);
            const char *cut = strstr(w, ": error:");
            if (cut != NULL && cut < p + len) {
                wl = (size_t)(cut - w);
            }
            snprintf(f->where, sizeof(f->where), "%.*s", (int)wl, w);
            break;
        }
    }
}

/* The last check names its place first: "file:line: assert_...". It is
 * the failed check only when that place is the one cmocka reported. */
static void pair_check(struct failure *f)
{
    size_t wl = strlen(f->where);
    if (wl > 0 && strncmp(f->check, f->where, wl) == 0 &&
        strncmp(f->check + wl, ": ", 2) == 0) {
        memmove(f->check, f->check + wl + 2, strlen(f->check + wl + 2) + 1);
    } else {
        f->check[0] = '\0';
    }
}

void eddy__failure_extract(const struct job *j, struct failure *f)
{
    memset(f, 0, sizeof(*f));
    for (const char *p = j->out; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, "\n");
        scan_line(p, len, f);
        p += len + (p[len] == '\n');
    }
    pair_check(f);
    if (f->observed[0] == '\0') {
        snprintf(f->observed, sizeof(f->observed), "%s", j->why);
    }
}

/* --- counting ------------------------------------------------------------- */

const char *eddy__result_word(enum result res)
{
    static const char *const words[NRESULTS] = {
        [PENDING] = "pending", [PASS] = "pass",   [FAIL] = "fail",
        [SKIP] = "skip",       [KNOWN] = "known", [STALE] = "stale"};
    return (unsigned)res < NRESULTS ? words[res] : "?";
}

struct tally eddy__totals(const struct run *r)
{
    struct tally all = {0};
    for (size_t s = 0; s < r->nsections; s++) {
        all.total += r->tallies[s].total;
        for (int k = 0; k < NRESULTS; k++) {
            all.n[k] += r->tallies[s].n[k];
        }
    }
    return all;
}

bool eddy__run_ok(const struct run *r, const struct tally *all)
{
    return all->n[FAIL] == 0 && all->n[STALE] == 0 && r->expect_errors == 0;
}

/* Length of the valid UTF-8 sequence at s, or 0. */
size_t eddy__utf8_len(const unsigned char *s)
{
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4   ? 4
               : s[0] >= 0xe0                 ? 3
               : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
                                              : 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return n;
}

/* --- the clause matrix ---------------------------------------------------- */

static int id_cmp(const char *a, const char *b)
{
    long as = strtol(a, NULL, 10);
    long bs = strtol(b, NULL, 10);
    const char *ad = strchr(a, '.');
    const char *bd = strchr(b, '.');
    long an = ad != NULL ? strtol(ad + 1, NULL, 10) : 0;
    long bn = bd != NULL ? strtol(bd + 1, NULL, 10) : 0;
    return as != bs ? (as > bs) - (as < bs) : (an > bn) - (an < bn);
}

static int row_cmp(const void *a, const void *b)
{
    return id_cmp(((const struct row *)a)->id, ((const struct row *)b)->id);
}

static struct row *row_for(struct row *rows, size_t *n, const char *id)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(rows[i].id, id) == 0) {
            return &rows[i];
        }
    }
    struct row *r = &rows[(*n)++];
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", id);
    return r;
}

/* Count j in the row of each clause it checks. */
static void count_case(const struct job *j, struct row *rows, size_t *n)
{
    char list[256];
    eddy__job_clauses(j, list, sizeof(list));
    for (char *save = NULL, *id = strtok_r(list, " ", &save); id != NULL;
         id = strtok_r(NULL, " ", &save)) {
        struct row *row = row_for(rows, n, id);
        row->ncases++;
        row->n[j->result]++;
    }
}

struct row *eddy__clause_rows(const struct run *r, size_t *count)
{
    size_t cap = r->nclauses + 1;
    for (size_t i = 0; i < r->njobs; i++) {
        cap += 1 + strlen(r->jobs[i].c->clauses) / 2;
    }
    struct row *rows = calloc(cap, sizeof(*rows));
    size_t n = 0;
    for (size_t i = 0; rows != NULL && i < r->nclauses; i++) {
        if (r->nfilters == 0 && strcmp(r->clauses[i].level, "RETIRED")) {
            row_for(rows, &n, r->clauses[i].id);
        }
    }
    for (size_t i = 0; rows != NULL && i < r->njobs; i++) {
        count_case(&r->jobs[i], rows, &n);
    }
    for (size_t i = 0; i < n; i++) {
        rows[i].info = eddy__spec_find(r, rows[i].id);
    }
    if (rows != NULL) {
        qsort(rows, n, sizeof(*rows), row_cmp);
    }
    *count = n;
    return rows;
}

/* A clause holds when its cases pass; one failure decides otherwise. */
const char *eddy__row_result(const struct row *row)
{
    if (row->ncases == 0) {
        return "no case";
    }
    static const enum result order[] = {FAIL, STALE, KNOWN, PASS, SKIP};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (row->n[order[i]] > 0) {
            return eddy__result_word(order[i]);
        }
    }
    return "pending";
}

/* --- the terminal --------------------------------------------------------- */

void eddy__tally_extra(const struct tally *t, char *buf, size_t size)
{
    static const struct {
        enum result r;
        const char *one, *many;
    } extra[] = {{SKIP, "skipped", "skipped"},
                 {KNOWN, "known divergence", "known divergences"},
                 {STALE, "stale expectation", "stale expectations"}};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        unsigned n = t->n[extra[i].r];
        if (n > 0 && used < size) {
            used += (size_t)snprintf(buf + used, size - used, ", %u %s", n,
                                     n == 1 ? extra[i].one : extra[i].many);
        }
    }
}

static void print_counts(FILE *out, const struct eddy_section *s,
                         const struct tally *t)
{
    char extra[160];
    eddy__tally_extra(t, extra, sizeof(extra));
    fprintf(out, "§%s %s: %u passed, %u failed%s\n", s->id, s->title,
            t->n[PASS], t->n[FAIL], extra);
}

static void print_failure(FILE *out, const struct job *j)
{
    fprintf(out, "FAIL %s (%s)\n%s", j->c->name, j->why,
            j->out != NULL ? j->out : "");
    if (j->outlen > 0 && j->out[j->outlen - 1] != '\n') {
        fprintf(out, "\n");
    }
}

void eddy__report_progress(const struct run *r, const struct job *j)
{
    FILE *out = r->human;
    if (j->result == FAIL) {
        print_failure(out, j);
    } else if (j->result == KNOWN) {
        fprintf(out, "KNOWN %s (%s; listed: %s)\n", j->c->name, j->why,
                j->expect->reason);
    } else if (j->result == STALE) {
        fprintf(out,
                "STALE %s passed, but %s:%u lists it as a known divergence "
                "from §%s: remove the entry\n",
                j->c->name, r->expect_path != NULL ? r->expect_path : "",
                j->expect->line, j->expect->clause);
    }
    const struct tally *t = &r->tallies[j->si];
    if (t->done == t->total) {
        size_t done = 0;
        for (size_t s = 0; s < r->nsections; s++) {
            done += r->tallies[s].done;
        }
        fprintf(out, "[%3zu/%zu] ", done, r->njobs);
        print_counts(out, j->section, t);
    }
    fflush(out);
}

bool eddy__report_summary(const struct run *r)
{
    struct tally all = {0};
    fprintf(r->human, "\n");
    for (size_t s = 0; s < r->nsections; s++) {
        const struct tally *t = &r->tallies[s];
        if (t->total > 0) {
            print_counts(r->human, r->sections[s], t);
        }
        for (int k = 0; k < NRESULTS; k++) {
            all.n[k] += t->n[k];
        }
    }
    if (r->expect_errors > 0) {
        fprintf(r->human, "%u expectation error%s in %s\n", r->expect_errors,
                r->expect_errors == 1 ? "" : "s", r->expect_path);
    }
    char extra[160];
    eddy__tally_extra(&all, extra, sizeof(extra));
    fprintf(r->human, "%u passed, %u failed%s\n", all.n[PASS], all.n[FAIL],
            extra);
    fflush(r->human);
    unsigned judged = all.n[PASS] + all.n[SKIP] + all.n[KNOWN];
    return all.n[FAIL] == 0 && all.n[STALE] == 0 && r->expect_errors == 0 &&
           judged == r->njobs;
}

/* TAP 13 in selection order, so that it does not depend on -j. A known
 * divergence is TAP's TODO: a failure that is expected. */
void eddy__report_tap(const struct run *r)
{
    printf("TAP version 13\n1..%zu\n", r->njobs);
    for (size_t i = 0; i < r->njobs; i++) {
        const struct job *j = &r->jobs[i];
        bool bad =
            j->result == FAIL || j->result == STALE || j->result == KNOWN;
        printf("%s %zu - %s%s%s\n", bad ? "not ok" : "ok", i + 1, j->c->name,
               j->result == SKIP ? " # SKIP" : "",
               j->result == KNOWN ? " # TODO known divergence" : "");
        if (j->result != FAIL && j->result != STALE) {
            continue;
        }
        printf("  ---\n  message: \"%s\"\n",
               j->result == STALE ? "stale expectation: the case passes"
                                  : j->why);
        const char *p = j->out != NULL && j->result == FAIL ? j->out : "";
        printf("%s", *p != '\0' ? "  output: |\n" : "");
        while (*p != '\0') {
            size_t len = strcspn(p, "\n");
            printf("    %.*s\n", (int)len, p);
            p += len + (p[len] == '\n');
        }
        printf("  ...\n");
    }
    fflush(stdout);
}
