/* conformance/run.c - the conformance runner: selects cases of SPEC.md's
 * sections and runs each in its own forked process, under cmocka.
 *
 * One process per case means a crash, a hang or a leaked descriptor is
 * charged to exactly one case: the child runs the case, checks hygiene and
 * exits with the verdict; the parent enforces the time limit by killing the
 * child's process group and keeps every report (report.c writes them).
 */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#define REAP_GRACE 1.0       /* seconds to wait for output after the exit */
#define SELFTEST_TIMEOUT 1.0 /* its hanging case must not take long */

static struct run run = {
    .opt = {1, 30.0, false, false, false, NULL, "reference", NULL, NULL}};
static volatile sig_atomic_t interrupted;

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
    for (size_t i = 0; i < run.njobs; i++) {
        if (run.jobs[i].fd > 2) {
            close(run.jobs[i].fd); /* other cases' pipes */
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

static enum result judge_exit(struct job *j, int code)
{
    const char *why = NULL;
    switch (code) {
    case EDDY__CASE_PASSED:
        /* cmocka's own skip() still exits 0 */
        return j->out != NULL && strstr(j->out, "[  SKIPPED ]") != NULL ? SKIP
                                                                        : PASS;
    case EDDY__CASE_SKIPPED:
        return SKIP;
    case EDDY__CASE_FAILED:
        why = "failed";
        break;
    case EDDY__CASE_UNCLEAN:
        why = "hygiene check failed";
        break;
    case EDDY__CASE_NO_CHECKS:
        why = "passed without making a single check";
        break;
    default:
        snprintf(j->why, sizeof(j->why), "exit status %d", code);
        return FAIL;
    }
    snprintf(j->why, sizeof(j->why), "%s", why);
    return FAIL;
}

static void judge(struct job *j)
{
    int st = j->status;
    j->result = FAIL;
    if (j->timed_out) {
        snprintf(j->why, sizeof(j->why), "timeout after %g s", run.opt.timeout);
    } else if (j->lost) {
        snprintf(j->why, sizeof(j->why), "its exit status was lost");
    } else if (WIFSIGNALED(st)) {
        snprintf(j->why, sizeof(j->why), "killed by signal %d (%s)",
                 WTERMSIG(st), strsignal(WTERMSIG(st)));
    } else {
        j->result = judge_exit(j, WEXITSTATUS(st));
    }
    eddy__job_read_checks(j);
    eddy__expect_apply(j);
}

static void finish(struct job *j)
{
    judge(j);
    struct tally *t = &run.tallies[j->si];
    t->done++;
    t->n[j->result]++;
    eddy__report_progress(&run, j);
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
    } else if (now - j->start >= run.opt.timeout && !j->timed_out) {
        kill(-j->pid, SIGKILL);
        j->timed_out = true;
    }
}

/* How long poll may sleep: until the nearest time limit, and briefly while
 * some exited case's output or a pending exit is awaited. */
static int poll_timeout_ms(struct job **running, size_t nrun, double now)
{
    double wait = 0.1;
    for (size_t i = 0; i < nrun; i++) {
        double left = running[i]->start + run.opt.timeout - now;
        if (running[i]->pid > 0 && left < wait) {
            wait = left;
        }
        if (running[i]->fd < 0 || running[i]->pid == 0) {
            wait = wait < 0.005 ? wait : 0.005;
        }
    }
    return wait > 0 ? (int)(wait * 1000) + 1 : 0;
}

/* Wait for progress on the running jobs; returns how many finished. */
static size_t wait_some(struct job **running, size_t *nrun)
{
    struct pollfd pfd[EDDY__MAX_JOBS];
    size_t n = 0;
    for (size_t i = 0; i < *nrun; i++) {
        if (running[i]->fd >= 0) {
            pfd[n++] = (struct pollfd){running[i]->fd, POLLIN, 0};
        }
    }
    poll(pfd, n, poll_timeout_ms(running, *nrun, eddy_h_now()));
    double now = eddy_h_now();
    size_t finished = 0;
    for (size_t i = 0; i < *nrun;) {
        struct job *j = running[i];
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
            running[i] = running[--*nrun];
            finished++;
        } else {
            i++;
        }
    }
    return finished;
}

static void kill_all(struct job **running, size_t nrun)
{
    for (size_t i = 0; i < nrun; i++) {
        if (running[i]->pid > 0) {
            kill(-running[i]->pid, SIGKILL);
            waitpid(running[i]->pid, NULL, 0);
        }
    }
}

static int run_all(void)
{
    struct job **running = calloc(run.opt.jobs, sizeof(*running));
    if (running == NULL) {
        return -ENOMEM;
    }
    size_t next = 0, nrun = 0, done = 0;
    while (done < run.njobs && !interrupted) {
        while (nrun < run.opt.jobs && next < run.njobs) {
            int rc = start_job(&run.jobs[next]);
            if (rc != 0) {
                fprintf(stderr, "eddy-conformance: cannot start %s: %s\n",
                        run.jobs[next].c->name, strerror(-rc));
                kill_all(running, nrun);
                free(running);
                return rc;
            }
            running[nrun++] = &run.jobs[next++];
        }
        done += wait_some(running, &nrun);
    }
    kill_all(running, nrun);
    free(running);
    return interrupted ? -EINTR : 0;
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

static void free_run(void)
{
    for (size_t i = 0; i < run.njobs; i++) {
        free(run.jobs[i].out);
    }
    free(run.jobs);
    free(run.tallies);
    eddy__expect_free(&run);
}

static void list_jobs(void)
{
    for (size_t i = 0; i < run.njobs; i++) {
        char clauses[256];
        eddy__job_clauses(&run.jobs[i], clauses, sizeof(clauses));
        printf("%s\t%s\n", run.jobs[i].c->name, clauses);
    }
}

/* Which cases, judged against what: selection, expectations, SPEC.md.
 * Returns 0, or the exit status for a usage error. */
static int prepare(int argc, char **argv)
{
    int first = eddy__parse_options(&run, argc, argv);
    if (first < 0) {
        eddy__usage(stderr);
        return 2;
    }
    run.human = run.opt.tap ? stderr : stdout;
    run.filters = argv + first;
    run.nfilters = argc - first;
    run.sections = sections;
    run.nsections = NSECTIONS;
    if (run.opt.self_test) {
        run.sections = eddy__selftest_sections(&run.nsections);
        run.opt.timeout = SELFTEST_TIMEOUT;
    }
    if (eddy__select_jobs(&run) != 0 || run.njobs == 0) {
        fprintf(stderr, "eddy-conformance: no case selected\n");
        return 2;
    }
    if (run.opt.self_test) {
        eddy__selftest_prepare(&run);
    } else if (eddy__expect_load(&run) != 0 || eddy__spec_load(&run) != 0) {
        return 2;
    }
    eddy__expect_attach(&run);
    return 0;
}

static int execute(void)
{
    eddy__harness_calibrate();
    fprintf(run.human,
            "running %zu cases, %u at a time, %g s limit each, "
            "lateness bound %.3f s\n",
            run.njobs, run.opt.jobs, run.opt.timeout, eddy_h_late_bound());
    setup_signals();
    run.started = time(NULL);
    run.t0 = eddy_h_now();
    int rc = run_all();
    run.seconds = eddy_h_now() - run.t0;
    if (rc != 0) {
        fprintf(stderr, "eddy-conformance: %s\n",
                rc == -EINTR ? "interrupted" : strerror(-rc));
        return rc == -EINTR ? 130 : 2;
    }
    if (run.opt.tap) {
        eddy__report_tap(&run);
    }
    if (run.opt.report != NULL && (rc = eddy__report_write(&run)) != 0) {
        fprintf(stderr, "eddy-conformance: writing reports to %s: %s\n",
                run.opt.report, strerror(-rc));
    }
    bool ok = eddy__report_summary(&run);
    if (run.opt.self_test) {
        return eddy__selftest_check(&run) && rc == 0 ? 0 : 1;
    }
    return rc != 0 ? 2 : ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows up in CI logs */
    int status = prepare(argc, argv);
    if (status == 0 && run.opt.list) {
        list_jobs();
    } else if (status == 0) {
        status = execute();
    }
    free_run();
    return status;
}
