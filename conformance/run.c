/* conformance/run.c - the conformance runner: selects cases of SPEC.md's
 * sections and runs each in its own forked process, under cmocka.
 *
 * One process per case (as libuv's runner does) means a crash, a hang or a
 * leaked descriptor is charged to exactly one case: the child runs the case,
 * checks hygiene and exits with the verdict; the parent enforces the time
 * limit by killing the child's process group and keeps every report.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Section registration. The Makefile passes EDDY_SECTIONS as the list of
 * section files present (X(s01) X(s02) ...), so a file that forgets its
 * EDDY_SECTION fails the link. Built any other way, the runner falls back
 * to weak references: sections whose file is absent are simply empty. */
#ifdef EDDY_SECTIONS
#define SECTION_LINKAGE
#else
#define EDDY_SECTIONS X(s01) X(s02) X(s03) X(s04) X(s05) X(s06) X(s07) X(s08)
#define SECTION_LINKAGE __attribute__((weak))
#endif

#define X(sym)                                                                 \
    extern const struct eddy_section eddy_section_##sym SECTION_LINKAGE;
EDDY_SECTIONS
#undef X

#define X(sym) &eddy_section_##sym,
static const struct eddy_section *const sections[] = {EDDY_SECTIONS};
#undef X
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

const struct eddy_section *const *eddy_h_sections(size_t *count)
{
    *count = NSECTIONS;
    return sections;
}

#define OUTPUT_MAX (1 << 20)
#define REAP_GRACE 1.0 /* seconds to wait for output after the exit */
#define MAX_JOBS 256

enum result { PENDING, PASS, FAIL, SKIP };

struct job {
    const struct eddy_section *section;
    size_t si; /* index of section in sections[] */
    const struct eddy_case *c;
    char primary[24]; /* "2.7", or "" if the name cites no clause */
    enum result result;
    char why[96]; /* for failures: what went wrong */
    double start, seconds;
    pid_t pid; /* 0 once reaped */
    int status;
    int fd; /* output pipe, -1 once at EOF */
    double reaped_at;
    bool timed_out;
    bool lost; /* reaped by someone else: no status */
    char *out;
    size_t outlen, outcap;
};

struct tally {
    unsigned total, done, pass, fail, skip;
};

static struct options {
    unsigned jobs;
    double timeout;
    bool list, tap;
    const char *report;
} opt = {1, 30.0, false, false, NULL};

static struct job *jobs;
static size_t njobs;
static struct tally tallies[NSECTIONS > 0 ? NSECTIONS : 1];
static FILE *human; /* progress: stdout, or stderr with --tap */
static volatile sig_atomic_t interrupted;

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
static bool usable_section(size_t s)
{
    for (size_t k = 0; k < s; k++) {
        if (sections[k] == sections[s]) {
            return false;
        }
    }
    return sections[s] != NULL;
}

static int select_jobs(char **filters, int nfilters)
{
    size_t cap = 0;
    for (size_t s = 0; s < NSECTIONS; s++) {
        cap += usable_section(s) ? sections[s]->ncases : 0;
    }
    jobs = calloc(cap > 0 ? cap : 1, sizeof(*jobs));
    if (jobs == NULL) {
        return -ENOMEM;
    }
    for (size_t s = 0; s < NSECTIONS; s++) {
        for (size_t i = 0; usable_section(s) && i < sections[s]->ncases; i++) {
            struct job *j = &jobs[njobs];
            j->section = sections[s];
            j->si = s;
            j->c = &sections[s]->cases[i];
            j->fd = -1;
            primary_clause(j->c->name, j->primary, sizeof(j->primary));
            if (selected(j, filters, nfilters)) {
                tallies[s].total++;
                njobs++;
            }
        }
    }
    return 0;
}

/* --- the case process ----------------------------------------------------- */

static void child_main(const struct job *j, int out_fd)
{
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL); /* the runner's own handlers */
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd > 0) {
        dup2(null_fd, 0);
        close(null_fd);
    }
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    close(out_fd);
    for (size_t i = 0; i < njobs; i++) {
        if (jobs[i].fd > 2) {
            close(jobs[i].fd); /* other cases' pipes */
        }
    }
    /* exit(), not _exit(): leak checkers report at exit. */
    exit(eddy__harness_run_case(j->c));
}

static int start_job(struct job *j)
{
    int p[2];
    if (pipe(p) != 0) {
        return -errno;
    }
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    fflush(NULL); /* or the child would repeat our buffers */
    j->start = eddy_h_now();
    pid_t pid = fork();
    if (pid < 0) {
        int err = -errno;
        close(p[0]);
        close(p[1]);
        return err;
    }
    if (pid == 0) {
        close(p[0]);
        child_main(j, p[1]);
    }
    setpgid(pid, pid); /* also here: kill(-pid) works at once */
    close(p[1]);
    j->pid = pid;
    j->fd = p[0];
    return 0;
}

/* --- collecting results --------------------------------------------------- */

static void append_output(struct job *j, const char *buf, size_t n)
{
    if (j->outlen + n + 1 > j->outcap) {
        size_t cap = j->outcap > 0 ? j->outcap * 2 : 4096;
        while (cap < j->outlen + n + 1) {
            cap *= 2;
        }
        char *out = cap <= OUTPUT_MAX + 1 ? realloc(j->out, cap) : NULL;
        if (out == NULL) {
            return; /* keep what we have: it is diagnostics */
        }
        j->out = out;
        j->outcap = cap;
    }
    memcpy(j->out + j->outlen, buf, n);
    j->outlen += n;
    j->out[j->outlen] = '\0';
}

static void read_output(struct job *j)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(j->fd, buf, sizeof(buf));
        if (n > 0) {
            append_output(j, buf, (size_t)n);
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            close(j->fd);
            j->fd = -1;
            return;
        } else if (errno == EAGAIN) {
            return;
        }
    }
}

static void judge(struct job *j)
{
    int st = j->status;
    j->result = FAIL;
    if (j->timed_out) {
        snprintf(j->why, sizeof(j->why), "timeout after %g s", opt.timeout);
    } else if (j->lost) {
        snprintf(j->why, sizeof(j->why), "its exit status was lost");
    } else if (WIFSIGNALED(st)) {
        snprintf(j->why, sizeof(j->why), "killed by signal %d (%s)",
                 WTERMSIG(st), strsignal(WTERMSIG(st)));
    } else if (WEXITSTATUS(st) == EDDY__CASE_FAILED) {
        snprintf(j->why, sizeof(j->why), "failed");
    } else if (WEXITSTATUS(st) == EDDY__CASE_UNCLEAN) {
        snprintf(j->why, sizeof(j->why), "hygiene check failed");
    } else if (WEXITSTATUS(st) != 0) {
        snprintf(j->why, sizeof(j->why), "exit status %d", WEXITSTATUS(st));
    } else if (j->out != NULL && strstr(j->out, "[  SKIPPED ]") != NULL) {
        j->result = SKIP; /* cmocka's skip() still exits 0 */
    } else {
        j->result = PASS;
    }
}

static void print_counts(const struct eddy_section *s, const struct tally *t)
{
    fprintf(human, "§%s %s: %u passed, %u failed", s->id, s->title, t->pass,
            t->fail);
    if (t->skip > 0) {
        fprintf(human, ", %u skipped", t->skip);
    }
    fprintf(human, "\n");
}

static void finish(struct job *j)
{
    judge(j);
    struct tally *t = &tallies[j->si];
    t->done++;
    t->pass += j->result == PASS;
    t->fail += j->result == FAIL;
    t->skip += j->result == SKIP;
    if (j->result == FAIL) {
        fprintf(human, "FAIL %s (%s)\n%s", j->c->name, j->why,
                j->out != NULL ? j->out : "");
        if (j->outlen > 0 && j->out[j->outlen - 1] != '\n') {
            fprintf(human, "\n");
        }
    }
    if (t->done == t->total) {
        print_counts(j->section, t);
    }
    fflush(human);
}

/* Reap j if it exited; its process group goes too, so that a stray
 * grandchild cannot hold the output pipe open. */
static void try_reap(struct job *j, double now)
{
    if (j->pid <= 0) {
        return; /* already reaped: kill(-0) would hit the runner itself */
    }
    pid_t got = waitpid(j->pid, &j->status, WNOHANG);
    j->lost = got < 0 && errno == ECHILD; /* reaped behind our back */
    if (got == j->pid || j->lost) {
        kill(-j->pid, SIGKILL);
        j->pid = 0;
        j->seconds = now - j->start;
        j->reaped_at = now;
    } else if (now - j->start >= opt.timeout && !j->timed_out) {
        kill(-j->pid, SIGKILL);
        j->timed_out = true;
    }
}

/* How long poll may sleep: until the nearest time limit, and briefly while
 * some exited case's output or a pending exit is awaited. */
static int poll_timeout_ms(struct job **run, size_t nrun, double now)
{
    double wait = 0.1;
    for (size_t i = 0; i < nrun; i++) {
        double left = run[i]->start + opt.timeout - now;
        if (run[i]->pid > 0 && left < wait) {
            wait = left;
        }
        if (run[i]->fd < 0 || run[i]->pid == 0) {
            wait = wait < 0.005 ? wait : 0.005;
        }
    }
    return wait > 0 ? (int)(wait * 1000) + 1 : 0;
}

/* Wait for progress on the running jobs; returns how many finished. */
static size_t wait_some(struct job **run, size_t *nrun)
{
    struct pollfd pfd[MAX_JOBS];
    size_t n = 0;
    for (size_t i = 0; i < *nrun; i++) {
        if (run[i]->fd >= 0) {
            pfd[n++] = (struct pollfd){run[i]->fd, POLLIN, 0};
        }
    }
    poll(pfd, n, poll_timeout_ms(run, *nrun, eddy_h_now()));
    double now = eddy_h_now();
    size_t finished = 0;
    for (size_t i = 0; i < *nrun;) {
        struct job *j = run[i];
        if (j->fd >= 0) {
            read_output(j);
        }
        try_reap(j, now);
        if (j->pid == 0 && j->fd >= 0 && now - j->reaped_at > REAP_GRACE) {
            close(j->fd); /* a process outside the group holds it */
            j->fd = -1;
        }
        if (j->pid == 0 && j->fd < 0) {
            finish(j);
            run[i] = run[--*nrun];
            finished++;
        } else {
            i++;
        }
    }
    return finished;
}

static void kill_all(struct job **run, size_t nrun)
{
    for (size_t i = 0; i < nrun; i++) {
        if (run[i]->pid > 0) {
            kill(-run[i]->pid, SIGKILL);
            waitpid(run[i]->pid, NULL, 0);
        }
    }
}

static int run_all(void)
{
    struct job **run = calloc(opt.jobs, sizeof(*run));
    if (run == NULL) {
        return -ENOMEM;
    }
    size_t next = 0, nrun = 0, done = 0;
    while (done < njobs && !interrupted) {
        while (nrun < opt.jobs && next < njobs) {
            int rc = start_job(&jobs[next]);
            if (rc != 0) {
                fprintf(stderr, "eddy-conformance: cannot start %s: %s\n",
                        jobs[next].c->name, strerror(-rc));
                kill_all(run, nrun);
                free(run);
                return rc;
            }
            run[nrun++] = &jobs[next++];
        }
        done += wait_some(run, &nrun);
    }
    kill_all(run, nrun);
    free(run);
    return interrupted ? -EINTR : 0;
}

/* --- reports -------------------------------------------------------------- */

static const char *result_word(enum result r)
{
    return r == PASS ? "pass" : r == SKIP ? "skip" : "fail";
}

static void clause_list(const struct job *j, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", j->primary,
             j->primary[0] != '\0' && j->c->clauses[0] != '\0' ? " " : "",
             j->c->clauses);
}

/* TAP 13 in selection order, so that it does not depend on -j. */
static void write_tap(void)
{
    printf("TAP version 13\n1..%zu\n", njobs);
    for (size_t i = 0; i < njobs; i++) {
        const struct job *j = &jobs[i];
        printf("%s %zu - %s%s\n", j->result == FAIL ? "not ok" : "ok", i + 1,
               j->c->name, j->result == SKIP ? " # SKIP" : "");
        if (j->result != FAIL) {
            continue;
        }
        printf("  ---\n  message: \"%s\"\n", j->why);
        const char *p = j->out != NULL ? j->out : "";
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

static int write_report(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        return -errno;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/results.tsv", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -errno;
    }
    fprintf(f, "case\tclauses\tresult\tseconds\n");
    for (size_t i = 0; i < njobs; i++) {
        char clauses[256];
        clause_list(&jobs[i], clauses, sizeof(clauses));
        fprintf(f, "%s\t%s\t%s\t%.3f\n", jobs[i].c->name, clauses,
                result_word(jobs[i].result), jobs[i].seconds);
    }
    return fclose(f) == 0 ? 0 : -errno;
}

static bool print_summary(void)
{
    unsigned pass = 0, fail = 0, skip = 0;
    fprintf(human, "\n");
    for (size_t s = 0; s < NSECTIONS; s++) {
        if (tallies[s].total > 0) {
            print_counts(sections[s], &tallies[s]);
        }
        pass += tallies[s].pass;
        fail += tallies[s].fail;
        skip += tallies[s].skip;
    }
    fprintf(human, "%u passed, %u failed", pass, fail);
    if (skip > 0) {
        fprintf(human, ", %u skipped", skip);
    }
    fprintf(human, "\n");
    fflush(human);
    return fail == 0 && pass + skip == njobs;
}

/* --- command line --------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: eddy-conformance [-j N] [-t SECONDS] [--list] [--tap]\n"
            "                        [--report DIR] [FILTER...]\n"
            "FILTER: a section (\"2\"), a clause (\"2.6\") or part of a case\n"
            "name; commas separate several. Default time limit per case:\n"
            "$EDDY_CASE_TIMEOUT, else 30 s.\n");
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

/* Returns the number of leading option arguments, or -1 on a bad one. */
static int parse_options(int argc, char **argv)
{
    const char *env = getenv("EDDY_CASE_TIMEOUT");
    if (env != NULL && !parse_number(env, 0.001, 1e6, &opt.timeout)) {
        fprintf(stderr, "eddy-conformance: bad EDDY_CASE_TIMEOUT\n");
        return -1;
    }
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        double v;
        if (strcmp(a, "--") == 0) {
            return i + 1;
        } else if (strcmp(a, "--list") == 0) {
            opt.list = true;
        } else if (strcmp(a, "--tap") == 0) {
            opt.tap = true;
        } else if (strcmp(a, "--report") == 0 && i + 1 < argc) {
            opt.report = argv[++i];
        } else if (strncmp(a, "-j", 2) == 0 &&
                   parse_number(option_value(argv, argc, &i), 1, MAX_JOBS,
                                &v)) {
            opt.jobs = (unsigned)v;
        } else if (strncmp(a, "-t", 2) == 0 &&
                   parse_number(option_value(argv, argc, &i), 0.001, 1e6,
                                &opt.timeout)) {
        } else {
            return -1;
        }
    }
    return i;
}

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Cases start from a known state whatever the caller left: no blocked
 * signal and SIGCHLD at its default (ignoring it would also auto-reap the
 * case processes). The runner itself stops on INT, TERM and HUP. */
static void setup_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGCHLD, SIG_DFL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static void free_jobs(void)
{
    for (size_t i = 0; i < njobs; i++) {
        free(jobs[i].out);
    }
    free(jobs);
}

static void list_jobs(void)
{
    for (size_t i = 0; i < njobs; i++) {
        char clauses[256];
        clause_list(&jobs[i], clauses, sizeof(clauses));
        printf("%s\t%s\n", jobs[i].c->name, clauses);
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows up in CI logs */
    int first = parse_options(argc, argv);
    if (first < 0) {
        usage(stderr);
        return 2;
    }
    human = opt.tap ? stderr : stdout;
    if (select_jobs(argv + first, argc - first) != 0 || njobs == 0) {
        fprintf(stderr, "eddy-conformance: no case selected\n");
        return 2;
    }
    if (opt.list) {
        list_jobs();
        free_jobs();
        return 0;
    }
    eddy__harness_calibrate();
    fprintf(human,
            "running %zu cases, %u at a time, %g s limit each, "
            "lateness bound %.3f s\n",
            njobs, opt.jobs, opt.timeout, eddy_h_late_bound());
    setup_signals();
    int rc = run_all();
    if (rc != 0) {
        fprintf(stderr, "eddy-conformance: %s\n",
                rc == -EINTR ? "interrupted" : strerror(-rc));
        free_jobs();
        return rc == -EINTR ? 130 : 2;
    }
    if (opt.tap) {
        write_tap();
    }
    if (opt.report != NULL && (rc = write_report(opt.report)) != 0) {
        fprintf(stderr, "eddy-conformance: %s/results.tsv: %s\n", opt.report,
                strerror(-rc));
    }
    bool ok = print_summary() && rc == 0;
    free_jobs();
    return ok ? 0 : rc != 0 ? 2 : 1;
}
