/* conformance/select.c - what a run is asked to do: the command line and
 * the cases its filters select (a section "2", a clause "2.6", or part of
 * a case name), in the order the sections and their tables list them.
 */
#include "runner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- command line --------------------------------------------------------- */

void eddy__usage(FILE *f)
{
    fprintf(f,
            "usage: eddy-conformance [-j N] [-t SECONDS] [--list] [--tap]\n"
            "           [--report DIR] [--subject NAME] [--expect FILE]\n"
            "           [--spec FILE] [--self-test] [FILTER...]\n"
            "FILTER: a section (\"2\"), a clause (\"2.6\") or part of a case\n"
            "name; commas separate several. Default time limit per case:\n"
            "$EDDY_CASE_TIMEOUT, else 30 s. See conformance/README.md.\n");
}

/* The value of -j/-t: "-j4" or "-j 4". */
static const char *option_value(char **argv, int argc, int *i)
{
    if (argv[*i][2] != '\0') {
        return argv[*i] + 2;
    }
    return *i + 1 < argc ? argv[++*i] : NULL;
}

static bool parse_number(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    double v = s != NULL ? strtod(s, &end) : 0;
    if (s == NULL || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
        return false;
    }
    *out = v;
    return true;
}

/* --report DIR and the like: stores the value, or returns false. */
static bool string_option(const char *name, char **argv, int argc, int *i,
                          const char **out)
{
    if (strcmp(argv[*i], name) != 0 || *i + 1 >= argc) {
        return false;
    }
    *out = argv[++*i];
    return true;
}

static bool parse_one(struct options *o, char **argv, int argc, int *i)
{
    const char *a = argv[*i];
    double v;
    if (strcmp(a, "--list") == 0 || strcmp(a, "--tap") == 0 ||
        strcmp(a, "--self-test") == 0) {
        bool *flag = a[2] == 'l'   ? &o->list
                     : a[2] == 't' ? &o->tap
                                   : &o->self_test;
        *flag = true;
        return true;
    }
    if (string_option("--report", argv, argc, i, &o->report) ||
        string_option("--subject", argv, argc, i, &o->subject) ||
        string_option("--expect", argv, argc, i, &o->expect) ||
        string_option("--spec", argv, argc, i, &o->spec)) {
        return true;
    }
    if (strncmp(a, "-j", 2) == 0 &&
        parse_number(option_value(argv, argc, i), 1, EDDY__MAX_JOBS, &v)) {
        o->jobs = (unsigned)v;
        return true;
    }
    return strncmp(a, "-t", 2) == 0 &&
           parse_number(option_value(argv, argc, i), 0.001, 1e6, &o->timeout);
}

/* Returns the number of leading option arguments, or -1 on a bad one. */
int eddy__parse_options(struct run *r, int argc, char **argv)
{
    const char *env = getenv("EDDY_CASE_TIMEOUT");
    if (env != NULL && !parse_number(env, 0.001, 1e6, &r->opt.timeout)) {
        fprintf(stderr, "eddy-conformance: bad EDDY_CASE_TIMEOUT\n");
        return -1;
    }
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            return i + 1;
        }
        if (!parse_one(&r->opt, argv, argc, &i)) {
            return -1;
        }
    }
    /* The subject names a file under conformance/expect/. */
    const char *s = r->opt.subject;
    if (*s == '\0' || *s == '.' ||
        s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789._-")] != '\0') {
        fprintf(stderr, "eddy-conformance: bad subject name\n");
        return -1;
    }
    return i;
}

/* --- selection ------------------------------------------------------------ */

/* c<S>_<N>_... cites SPEC §S.N. */
static void primary_clause(const char *name, char *buf, size_t size)
{
    buf[0] = '\0';
    if (name[0] != 'c') {
        return;
    }
    const char *p = name + 1;
    size_t s = strspn(p, "0123456789");
    if (s == 0 || p[s] != '_') {
        return;
    }
    size_t n = strspn(p + s + 1, "0123456789");
    if (n > 0 && p[s + 1 + n] == '_') {
        snprintf(buf, size, "%.*s.%.*s", (int)s, p, (int)n, p + s + 1);
    }
}

void eddy__job_clauses(const struct job *j, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", j->primary,
             j->primary[0] != '\0' && j->c->clauses[0] != '\0' ? " " : "",
             j->c->clauses);
}

static bool list_has(const char *list, const char *word)
{
    size_t len = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += len) {
        bool starts = p == list || p[-1] == ' ';
        if (starts && (p[len] == ' ' || p[len] == '\0')) {
            return true;
        }
    }
    return false;
}

static bool matches(const struct job *j, const char *f)
{
    size_t digits = strspn(f, "0123456789");
    if (digits > 0 && f[digits] == '\0') {
        return strcmp(j->section->id, f) == 0;
    }
    if (digits > 0 && f[digits] == '.' && f[digits + 1] != '\0' &&
        f[digits + 1 + strspn(f + digits + 1, "0123456789")] == '\0') {
        return strcmp(j->primary, f) == 0 || list_has(j->c->clauses, f);
    }
    return strstr(j->c->name, f) != NULL;
}

/* A filter argument may hold several filters separated by commas. */
static bool selected(const struct job *j, char **filters, int n)
{
    if (n == 0) {
        return true;
    }
    for (int i = 0; i < n; i++) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", filters[i]);
        for (char *f = strtok(buf, ","); f != NULL; f = strtok(NULL, ",")) {
            if (matches(j, f)) {
                return true;
            }
        }
    }
    return false;
}

/* A section listed twice (or absent: a NULL weak reference) adds nothing. */
static bool usable_section(const struct run *r, size_t s)
{
    for (size_t k = 0; k < s; k++) {
        if (r->sections[k] == r->sections[s]) {
            return false;
        }
    }
    return r->sections[s] != NULL;
}

int eddy__select_jobs(struct run *r)
{
    size_t cap = 0;
    for (size_t s = 0; s < r->nsections; s++) {
        cap += usable_section(r, s) ? r->sections[s]->ncases : 0;
    }
    r->jobs = calloc(cap > 0 ? cap : 1, sizeof(*r->jobs));
    r->tallies = calloc(r->nsections + 1, sizeof(*r->tallies));
    if (r->jobs == NULL || r->tallies == NULL) {
        return -ENOMEM;
    }
    for (size_t s = 0; s < r->nsections; s++) {
        for (size_t i = 0; usable_section(r, s) && i < r->sections[s]->ncases;
             i++) {
            struct job *j = &r->jobs[r->njobs];
            j->section = r->sections[s];
            j->si = s;
            j->c = &r->sections[s]->cases[i];
            j->fd = -1;
            j->checks = -1;
            primary_clause(j->c->name, j->primary, sizeof(j->primary));
            if (selected(j, r->filters, r->nfilters)) {
                r->tallies[s].total++;
                r->njobs++;
            }
        }
    }
    return 0;
}
