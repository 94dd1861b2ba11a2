/* conformance/scenario.c - strict reader of scenario files (SPEC.md,
 * Appendix C, format version 1).
 *
 * Key decision: every byte of the result lives in four blocks sized from the
 * input length before parsing starts (a token never takes more room than its
 * text, a line holds at most one operation), so parsing never reallocates
 * and an error at any point frees exactly those blocks.
 */
#include "scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What each operation takes. Argument types, one letter each: N name,
 * F name or name.part, n number, d duration (0..60 s), T number or "none",
 * i integer, P a port (an integer, or the name.part of a socket whose port
 * is meant), c count (1..10000), e events, g signal, s any text, k the
 * keyword in `kw`; '[' makes the rest optional; '*' takes any tokens left,
 * which check_rest then judges. */
struct opdef {
    const char *name;
    const char *args;
    const char *kw;
};

static const struct opdef ops[EDDY_OP_COUNT] = {
    [EDDY_OP_ADD_CALLBACK] = {"add_callback", "N", NULL},
    [EDDY_OP_SPAWN_CALLBACK] = {"spawn_callback", "N", NULL},
    [EDDY_OP_ADD_CALLBACKS] = {"add_callbacks", "Nc", NULL},
    [EDDY_OP_CALL_LATER] = {"call_later", "nN", NULL},
    [EDDY_OP_CALL_AT] = {"call_at", "nN", NULL},
    [EDDY_OP_ADD_TIMEOUT] = {"add_timeout", "nN", NULL},
    [EDDY_OP_ADD_TIMEOUT_DELTA] = {"add_timeout_delta", "nN", NULL},
    [EDDY_OP_REMOVE_TIMEOUT] = {"remove_timeout", "N", NULL},
    [EDDY_OP_STOP] = {"stop", "", NULL},
    [EDDY_OP_START] = {"start", "", NULL},
    [EDDY_OP_RUN_SYNC] = {"run_sync", "TN", NULL},
    [EDDY_OP_CLOSE] = {"close", "[k", "all_fds"},
    [EDDY_OP_MARK] = {"mark", "N", NULL},
    [EDDY_OP_SLEEP] = {"sleep", "d", NULL},
    [EDDY_OP_FAIL] = {"fail", "", NULL},
    [EDDY_OP_PIPE] = {"pipe", "N[k", "inheritable"},
    [EDDY_OP_SOCKETPAIR] = {"socketpair", "N", NULL},
    [EDDY_OP_WRITE] = {"write", "F[s", NULL},
    [EDDY_OP_DRAIN] = {"drain", "F", NULL},
    [EDDY_OP_CLOSE_FD] = {"close_fd", "F", NULL},
    [EDDY_OP_FD_STATE] = {"fd_state", "F", NULL},
    [EDDY_OP_ADD_HANDLER] = {"add_handler", "FNe", NULL},
    [EDDY_OP_ADD_HANDLER_OBJECT] = {"add_handler_object", "FNeN", NULL},
    [EDDY_OP_UPDATE_HANDLER] = {"update_handler", "Fe", NULL},
    [EDDY_OP_REMOVE_HANDLER] = {"remove_handler", "F", NULL},
    [EDDY_OP_THREAD] = {"thread", "N", NULL},
    [EDDY_OP_JOIN] = {"join", "N", NULL},
    [EDDY_OP_SIGNAL_CALLBACK] = {"signal_callback", "gN", NULL},
    [EDDY_OP_RAISE] = {"raise", "g", NULL},
    [EDDY_OP_FUTURE] = {"future", "N", NULL},
    [EDDY_OP_SET_RESULT] = {"set_result", "Ni", NULL},
    [EDDY_OP_CANCEL] = {"cancel", "N", NULL},
    [EDDY_OP_ADD_FUTURE] = {"add_future", "NN", NULL},
    [EDDY_OP_RETURN] = {"return", "N", NULL},
    [EDDY_OP_RUN_IN_EXECUTOR] = {"run_in_executor", "NNi", NULL},
    [EDDY_OP_PERIODIC] = {"periodic", "Nn[n", NULL},
    [EDDY_OP_PERIODIC_START] = {"periodic_start", "N", NULL},
    [EDDY_OP_PERIODIC_STOP] = {"periodic_stop", "N", NULL},
    [EDDY_OP_PERIODIC_IS_RUNNING] = {"periodic_is_running", "N", NULL},
    [EDDY_OP_SUBPROCESS] = {"subprocess", "N*", NULL},
    [EDDY_OP_SET_EXIT_CALLBACK] = {"set_exit_callback", "NN", NULL},
    [EDDY_OP_WAIT_FOR_EXIT] = {"wait_for_exit", "NN[k", "noraise"},
    [EDDY_OP_RETURNCODE] = {"returncode", "N", NULL},
    [EDDY_OP_KILL] = {"kill", "Ng", NULL},
    [EDDY_OP_REAP] = {"reap", "N", NULL},
    [EDDY_OP_READ_UNTIL_CLOSE] = {"read_until_close", "FN", NULL},
    [EDDY_OP_STREAM_WRITE] = {"stream_write", "FsN", NULL},
    [EDDY_OP_STREAM_CLOSE] = {"stream_close", "F", NULL},
    [EDDY_OP_STREAM_CLOSED] = {"stream_closed", "F", NULL},
    [EDDY_OP_FORK_OTHER] = {"fork_other", "Ndi", NULL},
    [EDDY_OP_WAITPID_OTHER] = {"waitpid_other", "N", NULL},
    [EDDY_OP_FORK_PROCESSES] = {"fork_processes", "ii", NULL},
    [EDDY_OP_EXIT] = {"exit", "i", NULL},
    [EDDY_OP_KILL_SELF] = {"kill_self", "g", NULL},
    [EDDY_OP_KILL_PARENT] = {"kill_parent", "g", NULL},
    [EDDY_OP_TASK_ID] = {"task_id", "", NULL},
    [EDDY_OP_CPU_COUNT] = {"cpu_count", "", NULL},
    [EDDY_OP_ATEXIT] = {"atexit", "N", NULL},
    [EDDY_OP_ON_SIGNAL] = {"on_signal", "gN", NULL},
    [EDDY_OP_BIND_SOCKETS] = {"bind_sockets", "NPs*", NULL},
    [EDDY_OP_INSPECT_SOCKETS] = {"inspect_sockets", "N", NULL},
    [EDDY_OP_CONNECT] = {"connect", "NF", NULL},
    [EDDY_OP_ADD_ACCEPT_HANDLER] = {"add_accept_handler", "FN", NULL},
    [EDDY_OP_REMOVE_ACCEPT_HANDLER] = {"remove_accept_handler", "F", NULL},
    [EDDY_OP_CLOSE_SOCKETS] = {"close_sockets", "N", NULL},
};

static const char *const signal_names[] = {
    "SIGHUP", "SIGINT", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGTERM", NULL
};

/* The scenario and the blocks it lives in; pub comes first so that a
 * pointer to it is a pointer to the whole. */
struct storage {
    struct eddy_scenario pub;
    char *chars;
    size_t nchars;
    size_t capchars;
    const char **ptrs;
    size_t nptrs;
    size_t capptrs;
    struct eddy_scn_op *ops;
    size_t capops;
    struct eddy_scn_expect *expects;
    size_t capexpects;
};

struct parser {
    struct storage *st;
    int line;
    char *err;
    size_t errlen;
    bool seen_timeout;
    char *tok[EDDY_SCN_MAX_TOKENS];
    int ntok;
};

static int fail(struct parser *p, const char *fmt, ...)
{
    if (p->err != NULL && p->errlen > 0) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(p->err, p->errlen, "line %d: %s", p->line, msg);
    }
    return -EINVAL;
}

const char *eddy_scn_opname(enum eddy_scn_opcode code)
{
    if ((int)code < 0 || code >= EDDY_OP_COUNT) {
        return NULL;
    }
    return ops[code].name;
}

/* ---- character classes and argument checks ---- */

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

static bool is_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > EDDY_SCN_MAX_NAME) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_name_char(s[i])) {
            return false;
        }
    }
    return true;
}

/* NAME or NAME.PART, as a whole no longer than a name. */
static bool is_ref(const char *s)
{
    const char *dot = strchr(s, '.');
    if (dot == NULL) {
        return is_name(s);
    }
    if (strlen(s) > EDDY_SCN_MAX_NAME || dot == s || dot[1] == '\0') {
        return false;
    }
    for (const char *c = s; *c != '\0'; c++) {
        if (c != dot && !is_name_char(*c)) {
            return false;
        }
    }
    return true;
}

/* -?DIGITS[.DIGITS], at most 9 digits before the point and 9 after, or
 * nan, inf, -inf. */
static bool is_number(const char *s)
{
    if (strcmp(s, "nan") == 0 || strcmp(s, "inf") == 0 ||
        strcmp(s, "-inf") == 0) {
        return true;
    }
    if (*s == '-') {
        s++;
    }
    size_t whole = strspn(s, "0123456789");
    if (whole == 0 || whole > 9) {
        return false;
    }
    s += whole;
    if (*s == '\0') {
        return true;
    }
    if (*s != '.') {
        return false;
    }
    size_t frac = strspn(s + 1, "0123456789");
    return frac > 0 && frac <= 9 && s[1 + frac] == '\0';
}

static bool is_int(const char *s)
{
    if (*s == '-') {
        s++;
    }
    size_t n = strspn(s, "0123456789");
    return n > 0 && n <= 9 && s[n] == '\0';
}

/* A count in an expectation: an integer, or a variable of the driver
 * such as ${cpus}. */
static bool is_bound(const char *s)
{
    size_t n = strlen(s);
    if (n > 3 && s[0] == '$' && s[1] == '{' && s[n - 1] == '}') {
        return strspn(s + 2, "abcdefghijklmnopqrstuvwxyz_") == n - 3;
    }
    return is_int(s);
}

static bool is_events(const char *s)
{
    static const char *const valid[] = {
        "none", "r", "w", "e", "rw", "re", "we", "rwe", NULL
    };
    for (size_t i = 0; valid[i] != NULL; i++) {
        if (strcmp(s, valid[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* One argument of type t; the op table gives the type. */
static bool arg_ok(char t, const char *a, const char *kw)
{
    switch (t) {
    case 'N':
        return is_name(a);
    case 'F':
        return is_ref(a);
    case 'n':
        return is_number(a);
    case 'd':
        return is_number(a) && strtod(a, NULL) >= 0 &&
               strtod(a, NULL) <= 60;
    case 'T':
        return strcmp(a, "none") == 0 || is_number(a);
    case 'i':
        return is_int(a);
    case 'P':
        return is_int(a) || (is_ref(a) && strchr(a, '.') != NULL);
    case 'c':
        return is_int(a) && atol(a) >= 1 && atol(a) <= 10000;
    case 'e':
        return is_events(a);
    case 'g':
        return in_list(a, signal_names);
    case 's':
        return true;
    case 'k':
        return kw != NULL && strcmp(a, kw) == 0;
    default:
        return false;
    }
}

/* ---- the two operations whose arguments are a list ---- */

static int check_subprocess(struct parser *p, int argc, const char **argv)
{
    static const char *const opts[] = {"inherit", "devnull", "stream", NULL};
    int i = 2;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *eq = strchr(argv[i], '=');
        size_t klen = eq == NULL ? 0 : (size_t)(eq - argv[i]);
        bool key = (klen == 5 && strncmp(argv[i], "stdin", 5) == 0) ||
                   (klen == 6 && strncmp(argv[i], "stdout", 6) == 0) ||
                   (klen == 6 && strncmp(argv[i], "stderr", 6) == 0);
        if (!key || !in_list(eq + 1, opts)) {
            return fail(p, "subprocess: bad option '%s'", argv[i]);
        }
    }
    if (i + 1 >= argc) {
        return fail(p, "subprocess: expected '-- PROGRAM [ARG...]'");
    }
    return 0;
}

static int check_bind(struct parser *p, int argc, const char **argv)
{
    static const char *const families[] = {"unspec", "inet", "inet6", NULL};
    if (argc < 5 || !in_list(argv[4], families)) {
        return fail(p, "bind_sockets: expected NAME PORT ADDRESS FAMILY");
    }
    for (int i = 5; i < argc; i++) {
        bool backlog = strncmp(argv[i], "backlog=", 8) == 0 &&
                       is_int(argv[i] + 8);
        if (!backlog && strcmp(argv[i], "reuse_port") != 0) {
            return fail(p, "bind_sockets: bad option '%s'", argv[i]);
        }
    }
    return 0;
}

/* Check argv against the op's definition; rest==true for '*' ops. */
static int check_args(struct parser *p, enum eddy_scn_opcode code, int argc,
                      const char **argv)
{
    const struct opdef *d = &ops[code];
    int i = 1;
    bool optional = false;
    for (const char *t = d->args; *t != '\0'; t++) {
        if (*t == '[') {
            optional = true;
            continue;
        }
        if (*t == '*') {
            return code == EDDY_OP_SUBPROCESS ? check_subprocess(p, argc, argv)
                                              : check_bind(p, argc, argv);
        }
        if (i >= argc) {
            return optional ? 0 : fail(p, "%s: too few arguments", d->name);
        }
        if (!arg_ok(*t, argv[i], d->kw)) {
            return fail(p, "%s: bad argument '%s'", d->name, argv[i]);
        }
        i++;
    }
    if (i < argc) {
        return fail(p, "%s: too many arguments", d->name);
    }
    if (code == EDDY_OP_EXIT && (atoi(argv[1]) < 0 || atoi(argv[1]) > 255)) {
        return fail(p, "exit: status must be 0..255");
    }
    return 0;
}

/* ---- tokens ---- */

/* Copy one token starting at *s into the character block, undoing the
 * quotes of a quoted token; *s moves past it. */
static int read_token(struct parser *p, const char **s, const char *end)
{
    struct storage *st = p->st;
    const char *c = *s;
    char *out = st->chars + st->nchars;
    size_t n = 0;
    if (*c == '"') {
        for (c++; c < end && *c != '"'; c++) {
            if (*c == '\\') {
                c++;
                if (c == end || strchr("\\\"nt", *c) == NULL) {
                    return fail(p, "bad escape in quoted text");
                }
                out[n++] = *c == 'n' ? '\n' : *c == 't' ? '\t' : *c;
            } else {
                out[n++] = *c;
            }
        }
        if (c == end) {
            return fail(p, "unterminated quoted text");
        }
        c++;
        if (c < end && *c != ' ' && *c != '\t') {
            return fail(p, "text after a closing quote");
        }
    } else {
        for (; c < end && *c != ' ' && *c != '\t'; c++) {
            if (*c == '"') {
                return fail(p, "a quote inside a word");
            }
            out[n++] = *c;
        }
    }
    out[n] = '\0';
    st->nchars += n + 1;
    if (p->ntok == EDDY_SCN_MAX_TOKENS) {
        return fail(p, "more than %d words", EDDY_SCN_MAX_TOKENS);
    }
    p->tok[p->ntok++] = out;
    *s = c;
    return 0;
}

static int tokenize(struct parser *p, const char *s, const char *end)
{
    p->ntok = 0;
    for (;;) {
        while (s < end && (*s == ' ' || *s == '\t')) {
            s++;
        }
        if (s == end) {
            return 0;
        }
        int r = read_token(p, &s, end);
        if (r < 0) {
            return r;
        }
    }
}

/* Move the tokens into the pointer block; returns them as an argv. */
static const char *const *commit(struct parser *p, int from)
{
    struct storage *st = p->st;
    const char **argv = st->ptrs + st->nptrs;
    for (int i = from; i < p->ntok; i++) {
        argv[i - from] = p->tok[i];
    }
    st->nptrs += (size_t)(p->ntok - from);
    return argv;
}

/* ---- lines ---- */

/* The operation in tokens first.. of the line; block is NULL for do:. */
static int parse_op(struct parser *p, const char *block, unsigned occ,
                    int first)
{
    struct storage *st = p->st;
    bool quiet = false;
    if (first < p->ntok && strcmp(p->tok[first], "try") == 0) {
        quiet = true;
        first++;
    }
    if (first >= p->ntok) {
        return fail(p, "missing operation");
    }
    int code = 0;
    while (code < EDDY_OP_COUNT && strcmp(ops[code].name, p->tok[first]) != 0) {
        code++;
    }
    if (code == EDDY_OP_COUNT) {
        return fail(p, "unknown operation '%s'", p->tok[first]);
    }
    int r = check_args(p, code, p->ntok - first,
                       (const char **)p->tok + first);
    if (r < 0) {
        return r;
    }
    if (code == EDDY_OP_FORK_PROCESSES && block != NULL) {
        return fail(p, "fork_processes is allowed only in do:");
    }
    if (code == EDDY_OP_RETURN && block == NULL) {
        return fail(p, "return is allowed only in a callback");
    }
    struct eddy_scn_op *op = &st->ops[st->pub.nops++];
    *op = (struct eddy_scn_op){p->line, block, occ, code, quiet,
                               p->ntok - first, commit(p, first)};
    return 0;
}

/* `in NAME[#K]:` - the block name was tokenized as the first word. */
static int parse_in(struct parser *p)
{
    char *name = p->tok[0];
    size_t n = strlen(name);
    if (n < 2 || name[n - 1] != ':') {
        return fail(p, "expected 'in NAME:'");
    }
    name[n - 1] = '\0';
    unsigned occ = 0;
    char *hash = strchr(name, '#');
    if (hash != NULL) {
        *hash = '\0';
        if (!is_int(hash + 1) || atol(hash + 1) < 1 ||
            atol(hash + 1) > 1000000) {
            return fail(p, "bad occurrence '#%s'", hash + 1);
        }
        occ = (unsigned)atol(hash + 1);
    }
    if (!is_name(name)) {
        return fail(p, "bad callback name '%s'", name);
    }
    return parse_op(p, name, occ, 1);
}

static int parse_expect(struct parser *p, enum eddy_scn_expect_kind kind)
{
    struct storage *st = p->st;
    static const int want[] = {-1, -1, -1, 3, 4};
    if (want[kind] < 0 && p->ntok == 0 && kind != EDDY_EXPECT_EXACT) {
        return fail(p, "expectation without events");
    }
    if (want[kind] >= 0 && p->ntok != want[kind]) {
        return fail(p, "expected %d words", want[kind]);
    }
    if (kind == EDDY_EXPECT_COUNT &&
        (!is_bound(p->tok[1]) ||
         (!is_bound(p->tok[2]) && strcmp(p->tok[2], "inf") != 0))) {
        return fail(p, "expect_count: PATTERN MIN MAX");
    }
    if (kind == EDDY_EXPECT_GAP &&
        (!is_number(p->tok[2]) || !is_number(p->tok[3]))) {
        return fail(p, "expect_gap: FROM TO MIN MAX");
    }
    struct eddy_scn_expect *e = &st->expects[st->pub.nexpects++];
    *e = (struct eddy_scn_expect){p->line, kind, p->ntok, commit(p, 0)};
    return 0;
}

static int parse_list(struct parser *p, const char *const **list,
                      size_t *n, bool clause)
{
    if (*list != NULL) {
        return fail(p, "repeated header");
    }
    if (p->ntok == 0) {
        return fail(p, "empty list");
    }
    for (int i = 0; i < p->ntok; i++) {
        const char *t = p->tok[i];
        size_t a = strspn(t, "0123456789");
        bool ok = clause ? (a >= 1 && a <= 3 && t[a] == '.' &&
                            strspn(t + a + 1, "0123456789") >= 1 &&
                            strspn(t + a + 1, "0123456789") <= 3 &&
                            t[a + 1 + strspn(t + a + 1, "0123456789")] == '\0')
                         : is_name(t);
        if (!ok) {
            return fail(p, "bad list item '%s'", t);
        }
    }
    *n = (size_t)p->ntok;
    *list = commit(p, 0);
    return 0;
}

static int parse_header(struct parser *p, const char *key)
{
    struct eddy_scenario *s = &p->st->pub;
    if (strcmp(key, "clauses") == 0) {
        return parse_list(p, &s->clauses, &s->nclauses, true);
    }
    if (strcmp(key, "requires") == 0) {
        return parse_list(p, &s->requires, &s->nrequires, false);
    }
    if (strcmp(key, "timeout") == 0) {
        if (p->seen_timeout || p->ntok != 1 || !is_number(p->tok[0]) ||
            !(strtod(p->tok[0], NULL) > 0) ||
            strtod(p->tok[0], NULL) > 600) {
            return fail(p, "timeout: one number of seconds in (0, 600]");
        }
        p->seen_timeout = true;
        s->timeout_s = strtod(p->tok[0], NULL);
        return 0;
    }
    return fail(p, "unknown line '%s:'", key);
}

/* Dispatch one line by its key; `note:` lines are free text. */
static int parse_line(struct parser *p, const char *s, const char *end)
{
    static const char *const expects[] = {
        "expect", "expect_set", "expect_order", "expect_count", "expect_gap",
        NULL
    };
    size_t klen = strspn(s, "abcdefghijklmnopqrstuvwxyz_");
    if (klen == 2 && strncmp(s, "in", 2) == 0 && s + 2 < end &&
        (s[2] == ' ' || s[2] == '\t')) {
        int r = tokenize(p, s + 2, end);
        return r < 0 ? r : p->ntok == 0 ? fail(p, "expected 'in NAME:'")
                                         : parse_in(p);
    }
    if (klen == 0 || klen > 16 || s + klen == end || s[klen] != ':') {
        return fail(p, "expected 'key:' at the start of the line");
    }
    char key[17];
    memcpy(key, s, klen);
    key[klen] = '\0';
    if (strcmp(key, "note") == 0) {
        return 0;
    }
    if (p->st->pub.name == NULL && strcmp(key, "scenario") != 0) {
        return fail(p, "the first line must be 'scenario: NAME'");
    }
    int r = tokenize(p, s + klen + 1, end);
    if (r < 0) {
        return r;
    }
    if (strcmp(key, "scenario") == 0) {
        if (p->st->pub.name != NULL || p->ntok != 1 || !is_name(p->tok[0])) {
            return fail(p, "scenario: one name, once");
        }
        p->st->pub.name = p->tok[0];
        return 0;
    }
    if (strcmp(key, "do") == 0) {
        return parse_op(p, NULL, 0, 0);
    }
    for (int k = 0; expects[k] != NULL; k++) {
        if (strcmp(key, expects[k]) == 0) {
            return parse_expect(p, (enum eddy_scn_expect_kind)k);
        }
    }
    return parse_header(p, key);
}

/* Only printable ASCII and tabs; a line of only blanks or a comment is
 * skipped. */
static int read_line(struct parser *p, const char *s, const char *end)
{
    if ((size_t)(end - s) > EDDY_SCN_MAX_LINE) {
        return fail(p, "line longer than %d bytes", EDDY_SCN_MAX_LINE);
    }
    for (const char *c = s; c < end; c++) {
        if ((*c < 0x20 && *c != '\t') || *c > 0x7e) {
            return fail(p, "control or non-ASCII byte 0x%02x",
                        (unsigned)(unsigned char)*c);
        }
    }
    while (s < end && (*s == ' ' || *s == '\t')) {
        s++;
    }
    if (s == end || *s == '#') {
        return 0;
    }
    return parse_line(p, s, end);
}

static struct storage *storage_new(size_t len)
{
    struct storage *st = calloc(1, sizeof *st);
    if (st == NULL) {
        return NULL;
    }
    st->capchars = len + 16;
    st->capptrs = len / 2 + 16;
    st->capops = len / 4 + 4;
    st->capexpects = len / 4 + 4;
    st->chars = malloc(st->capchars);
    st->ptrs = malloc(st->capptrs * sizeof *st->ptrs);
    st->ops = malloc(st->capops * sizeof *st->ops);
    st->expects = malloc(st->capexpects * sizeof *st->expects);
    if (st->chars == NULL || st->ptrs == NULL || st->ops == NULL ||
        st->expects == NULL) {
        eddy_scn_free(&st->pub);
        return NULL;
    }
    st->pub.ops = st->ops;
    st->pub.expects = st->expects;
    st->pub.timeout_s = 10.0;
    return st;
}

/* text is a private copy with a NUL after its last byte: each line is cut
 * at its newline, so the line functions may use string functions and
 * never read past the line. */
static int parse_all(struct parser *p, char *text, size_t len)
{
    char *end = text + len;
    for (char *s = text; s < end;) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *e = nl == NULL ? end : nl;
        *e = '\0';
        p->line++;
        int r = read_line(p, s, e);
        if (r < 0) {
            return r;
        }
        s = nl == NULL ? end : nl + 1;
    }
    if (p->st->pub.name == NULL || p->st->pub.clauses == NULL) {
        p->line = 0;
        return fail(p, "missing 'scenario:' or 'clauses:'");
    }
    return 0;
}

int eddy_scn_parse(const char *text, size_t len, struct eddy_scenario **out,
                   char *err, size_t errlen)
{
    if (text == NULL || out == NULL) {
        return -EINVAL;
    }
    if (len > EDDY_SCN_MAX_BYTES) {
        return -EFBIG;
    }
    struct storage *st = storage_new(len);
    if (st == NULL) {
        return -ENOMEM;
    }
    struct parser p = {.st = st, .err = err, .errlen = errlen};
    if (memchr(text, '\0', len) != NULL) {
        eddy_scn_free(&st->pub);
        return fail(&p, "NUL byte in the text");
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        eddy_scn_free(&st->pub);
        return -ENOMEM;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    int r = parse_all(&p, copy, len);
    free(copy);
    if (r < 0) {
        eddy_scn_free(&st->pub);
        return r;
    }
    *out = &st->pub;
    return 0;
}

int eddy_scn_load(const char *path, struct eddy_scenario **out, char *err,
                  size_t errlen)
{
    static char buf[EDDY_SCN_MAX_BYTES + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        if (n == 0 || len + (size_t)n == sizeof buf) {
            len += (size_t)n;
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    return eddy_scn_parse(buf, len, out, err, errlen);
}

void eddy_scn_free(struct eddy_scenario *scn)
{
    if (scn == NULL) {
        return;
    }
    struct storage *st = (struct storage *)scn;
    free(st->chars);
    free(st->ptrs);
    free(st->ops);
    free(st->expects);
    free(st);
}
