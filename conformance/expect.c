/* conformance/expect.c - what a run is judged against besides the cases:
 * the subject's expectation file (its known divergences) and SPEC.md's
 * clause levels for the reports.
 *
 * An expectation names an existing case and a clause that case checks;
 * anything else is an error of the file, never silently ignored, so that a
 * renamed case cannot leave a stale excuse behind.
 */
#include "runner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 4096

/* --- expectation files ---------------------------------------------------- */

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

/* Drop the line end and any trailing blanks. */
static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' ||
                     s[n - 1] == '\t')) {
        s[--n] = '\0';
    }
}

/* "case<TAB>clause<TAB>reason"; the clause may be written "§2.7". */
static int parse_entry(char *line, struct expectation *e)
{
    char *name = line;
    char *clause = strchr(name, '\t');
    char *reason = clause != NULL ? strchr(clause + 1, '\t') : NULL;
    if (reason == NULL) {
        return -1;
    }
    *clause++ = '\0';
    *reason++ = '\0';
    if (strncmp(clause, "§", strlen("§")) == 0) {
        clause += strlen("§");
    }
    if (*name == '\0' || *clause == '\0' || *reason == '\0' ||
        strchr(reason, '\t') != NULL) {
        return -1;
    }
    e->name = dup_string(name);
    e->clause = dup_string(clause);
    e->reason = dup_string(reason);
    return e->name && e->clause && e->reason ? 0 : -ENOMEM;
}

static int add_entry(struct run *r, char *line, unsigned lineno)
{
    struct expectation *grown =
        realloc(r->expects, (r->nexpects + 1) * sizeof(*grown));
    if (grown == NULL) {
        return -ENOMEM;
    }
    r->expects = grown;
    struct expectation *e = &r->expects[r->nexpects];
    memset(e, 0, sizeof(*e));
    e->line = lineno;
    int rc = parse_entry(line, e);
    r->nexpects++; /* even half-filled: free releases it */
    return rc;
}

static int read_entries(struct run *r, FILE *f)
{
    char line[LINE_MAX_LEN];
    unsigned lineno = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        chomp(line);
        if (line[0] == '\0' || line[0] == '#') {
            continue;
        }
        int rc = add_entry(r, line, lineno);
        if (rc != 0) {
            fprintf(stderr,
                    "eddy-conformance: %s:%u: %s (want case<TAB>clause"
                    "<TAB>reason)\n",
                    r->expect_path, lineno,
                    rc == -ENOMEM ? "out of memory" : "malformed entry");
            return -1;
        }
    }
    return 0;
}

/* The case of that name among all linked sections, or NULL. */
static const struct eddy_case *find_case(const struct run *r, const char *name)
{
    for (size_t s = 0; s < r->nsections; s++) {
        const struct eddy_section *sec = r->sections[s];
        for (size_t i = 0; sec != NULL && i < sec->ncases; i++) {
            if (strcmp(sec->cases[i].name, name) == 0) {
                return &sec->cases[i];
            }
        }
    }
    return NULL;
}

/* Whether c checks the clause: its name prefix (c2_7_ is §2.7) or its
 * list of extra clauses. */
static bool cites(const struct eddy_case *c, const char *clause)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "c%s_", clause);
    char *dot = strchr(prefix, '.');
    if (dot != NULL) {
        *dot = '_';
    }
    if (strncmp(c->name, prefix, strlen(prefix)) == 0) {
        return true;
    }
    size_t len = strlen(clause);
    for (const char *p = c->clauses; (p = strstr(p, clause)) != NULL;
         p += len) {
        if ((p == c->clauses || p[-1] == ' ') &&
            (p[len] == ' ' || p[len] == '\0')) {
            return true;
        }
    }
    return false;
}

/* Every entry must name a linked case, a clause that case checks, and
 * no case twice. */
static void validate(struct run *r)
{
    for (size_t i = 0; i < r->nexpects; i++) {
        const struct expectation *e = &r->expects[i];
        const struct eddy_case *c = find_case(r, e->name);
        const char *problem = NULL;
        if (c == NULL) {
            problem = "names no existing case";
        } else if (!cites(c, e->clause)) {
            problem = "names a clause the case does not check";
        }
        for (size_t k = 0; problem == NULL && k < i; k++) {
            if (strcmp(r->expects[k].name, e->name) == 0) {
                problem = "lists the case a second time";
            }
        }
        if (problem != NULL) {
            fprintf(r->human, "EXPECTATION ERROR %s:%u: %s §%s %s\n",
                    r->expect_path, e->line, e->name, e->clause, problem);
            r->expect_errors++;
        }
    }
}

int eddy__expect_load(struct run *r)
{
    static char path[512];
    if (r->opt.expect != NULL) {
        snprintf(path, sizeof(path), "%s", r->opt.expect);
    } else {
        snprintf(path, sizeof(path), "conformance/expect/%s.txt",
                 r->opt.subject);
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (r->opt.expect == NULL && errno == ENOENT) {
            return 0; /* a subject without a file expects everything */
        }
        fprintf(stderr, "eddy-conformance: %s: %s\n", path, strerror(errno));
        return -1;
    }
    r->expect_path = path;
    int rc = read_entries(r, f);
    fclose(f);
    if (rc == 0) {
        validate(r);
    }
    return rc;
}

void eddy__expect_attach(struct run *r)
{
    for (size_t i = 0; i < r->nexpects; i++) {
        for (size_t k = 0; k < r->njobs; k++) {
            if (strcmp(r->jobs[k].c->name, r->expects[i].name) == 0 &&
                r->jobs[k].expect == NULL) {
                r->jobs[k].expect = &r->expects[i];
            }
        }
    }
}

void eddy__expect_apply(struct job *j)
{
    if (j->expect == NULL) {
        return;
    }
    if (j->result == FAIL) {
        j->result = KNOWN;
    } else if (j->result == PASS) {
        j->result = STALE;
    }
}

/* --- SPEC.md -------------------------------------------------------------- */

/* "**§2.7** [MUST] text" -> id, level, text; false for any other line. */
static bool parse_clause(const char *line, struct clause_info *c)
{
    const char *open = "**§";
    if (strncmp(line, open, strlen(open)) != 0) {
        return false;
    }
    const char *p = line + strlen(open);
    size_t idlen = strspn(p, "0123456789.");
    if (idlen == 0 || idlen >= sizeof(c->id) || strncmp(p + idlen, "** [", 4)) {
        return false;
    }
    const char *lv = p + idlen + 4;
    size_t lvlen = strspn(lv, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    if (lvlen == 0 || lvlen >= sizeof(c->level) || lv[lvlen] != ']') {
        return false;
    }
    snprintf(c->id, sizeof(c->id), "%.*s", (int)idlen, p);
    snprintf(c->level, sizeof(c->level), "%.*s", (int)lvlen, lv);
    const char *text = lv + lvlen + 1;
    c->text = dup_string(text + strspn(text, " \t"));
    return c->text != NULL;
}

static int read_clauses(struct run *r, FILE *f)
{
    char line[LINE_MAX_LEN];
    bool fence = false;
    while (fgets(line, sizeof(line), f) != NULL) {
        chomp(line);
        if (strncmp(line, "```", 3) == 0) {
            fence = !fence;
        }
        struct clause_info c;
        if (fence || !parse_clause(line, &c)) {
            continue;
        }
        struct clause_info *grown =
            realloc(r->clauses, (r->nclauses + 1) * sizeof(*grown));
        if (grown == NULL) {
            free(c.text);
            return -ENOMEM;
        }
        r->clauses = grown;
        r->clauses[r->nclauses++] = c;
    }
    return 0;
}

int eddy__spec_load(struct run *r)
{
    const char *path = r->opt.spec != NULL ? r->opt.spec : "SPEC.md";
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (r->opt.spec == NULL && errno == ENOENT) {
            return 0; /* reports then show clauses without levels */
        }
        fprintf(stderr, "eddy-conformance: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = read_clauses(r, f);
    fclose(f);
    if (rc != 0) {
        fprintf(stderr, "eddy-conformance: %s: %s\n", path, strerror(-rc));
        return -1;
    }
    r->spec_path = path;
    return 0;
}

const struct clause_info *eddy__spec_find(const struct run *r, const char *id)
{
    for (size_t i = 0; i < r->nclauses; i++) {
        if (strcmp(r->clauses[i].id, id) == 0) {
            return &r->clauses[i];
        }
    }
    return NULL;
}

void eddy__expect_free(struct run *r)
{
    for (size_t i = 0; i < r->nexpects; i++) {
        free(r->expects[i].name);
        free(r->expects[i].clause);
        free(r->expects[i].reason);
    }
    free(r->expects);
    for (size_t i = 0; i < r->nclauses; i++) {
        free(r->clauses[i].text);
    }
    free(r->clauses);
}
