/* conformance/harness.c - the helpers of harness.h that cases call.
 *
 * Everything here uses only the public binding, so the harness checks any
 * implementation. Timing slack is measured once, in the runner's process,
 * before any case is forked: every case then judges lateness the same way.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CALIBRATE_ROUNDS 50
#define CALIBRATE_SLEEP 0.001
#define LATE_MIN 0.25
#define LATE_MAX 2.0

static double late_bound; /* 0 until calibrated */
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;

/* What checks.h records; atomics because cases assert from threads too. */
static atomic_ulong checks;
static _Atomic(const char *) last_check;
static atomic_bool skipping;

void eddy__h_check(const char *what)
{
    atomic_fetch_add_explicit(&checks, 1, memory_order_relaxed);
    atomic_store_explicit(&last_check, what, memory_order_relaxed);
}

void eddy__h_fail_at(const char *what)
{
    atomic_store_explicit(&last_check, what, memory_order_relaxed);
}

void eddy__h_skipping(void)
{
    atomic_store_explicit(&skipping, true, memory_order_relaxed);
}

double eddy_h_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void eddy_h_sleep(double seconds)
{
    if (!(seconds > 0)) {
        return;
    }
    struct timespec left;
    left.tv_sec = (time_t)seconds;
    left.tv_nsec = (long)((seconds - (double)left.tv_sec) * 1e9);
    if (left.tv_nsec >= 1000000000L) {
        left.tv_nsec = 999999999L;
    }
    /* nanosleep writes the unslept remainder, so a signal only resumes. */
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

/* An explicit EDDY_LATE_BOUND (seconds) wins: slow tools such as valgrind
 * may need more slack than one sleep can show. */
static bool late_bound_from_env(void)
{
    const char *s = getenv("EDDY_LATE_BOUND");
    if (s == NULL || *s == '\0') {
        return false;
    }
    char *end = NULL;
    double v = strtod(s, &end);
    if (*end != '\0' || !(v >= LATE_MIN) || v > 600) {
        return false;
    }
    late_bound = v;
    return true;
}

void eddy__harness_calibrate(void)
{
    if (late_bound_from_env()) {
        return;
    }
    double worst = 0;
    for (int i = 0; i < CALIBRATE_ROUNDS; i++) {
        double t0 = eddy_h_now();
        eddy_h_sleep(CALIBRATE_SLEEP);
        double over = eddy_h_now() - t0 - CALIBRATE_SLEEP;
        if (over > worst) {
            worst = over;
        }
    }
    double bound = 20 * worst;
    if (bound < LATE_MIN) {
        bound = LATE_MIN;
    }
    if (bound > LATE_MAX) {
        bound = LATE_MAX;
    }
    late_bound = bound;
}

double eddy_h_late_bound(void)
{
    if (late_bound == 0) {
        eddy__harness_calibrate();
    }
    return late_bound;
}

/* Whether /proc/self/fd/<name> is a log of a checking tool run around the
 * suite: ci/memcheck.sh names its log directory in EDDY_TOOL_LOG_DIR, and
 * valgrind opens a fresh log in every forked child. */
static bool tool_log_fd(const char *name)
{
    const char *dir = getenv("EDDY_TOOL_LOG_DIR");
    if (dir == NULL || *dir == '\0') {
        return false;
    }
    char link[64];
    char target[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%s", name);
    ssize_t len = readlink(link, target, sizeof(target) - 1);
    if (len <= 0) {
        return false;
    }
    target[len] = '\0';
    return strncmp(target, dir, strlen(dir)) == 0;
}

int eddy_h_open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL) {
        return -1;
    }
    /* Descriptors at or above the soft limit are not the process's own:
     * valgrind keeps its log and pipe fds there, and reopens its log in
     * every forked child. */
    struct rlimit lim;
    long top = getrlimit(RLIMIT_NOFILE, &lim) == 0 &&
                       lim.rlim_cur != RLIM_INFINITY
                   ? (long)lim.rlim_cur
                   : LONG_MAX;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] != '.' && strtol(e->d_name, NULL, 10) < top &&
            !tool_log_fd(e->d_name)) {
            n++;
        }
    }
    closedir(dir);
    return n - 1; /* the directory stream's own descriptor */
}

bool eddy_h_fd_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

void eddy_h_pipe(int p[2])
{
    assert_int_equal(pipe(p), 0);
}

void eddy_h_put_byte(int fd)
{
    assert_int_equal(write(fd, "x", 1), 1);
}

void eddy_h_close_pair(const int p[2])
{
    close(p[0]);
    close(p[1]);
}

pthread_t eddy_h_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
    return t;
}

/* --- fresh-loop fixture --------------------------------------------------- */

int eddy_h_loop_setup(void **state)
{
    eddy_loop *loop = NULL;
    int rc = eddy_loop_new(EDDY_CURRENT_NEVER, &loop);
    if (rc != 0) {
        print_error("fixture: eddy_loop_new failed: %d (%s)\n", rc,
                    eddy_strerror(rc));
        return -1;
    }
    *state = loop;
    return 0;
}

int eddy_h_loop_teardown(void **state)
{
    int rc = eddy_loop_free(*state);
    *state = NULL;
    if (rc != 0) {
        print_error("fixture: eddy_loop_free failed: %d (%s)\n", rc,
                    eddy_strerror(rc));
        return -1;
    }
    return 0;
}

/* --- run until ------------------------------------------------------------ */

struct run_until {
    bool (*cond)(void *);
    void *arg;
    double deadline;
    eddy_timeout check;
    bool pending; /* check is scheduled and has not run */
};

static int run_until_check(eddy_loop *loop, void *p)
{
    struct run_until *r = p;
    r->pending = false;
    if (r->cond(r->arg) || eddy_h_now() >= r->deadline) {
        return eddy_loop_stop(loop);
    }
    int rc = eddy_loop_call_later(loop, 0.001, run_until_check, r, &r->check);
    if (rc != 0) {
        /* Without a next check nothing would ever stop the loop. */
        eddy_loop_stop(loop);
        return rc;
    }
    r->pending = true;
    return 0;
}

bool eddy_h_run_until(eddy_loop *loop, bool (*cond)(void *), void *arg,
                      double seconds)
{
    struct run_until r = {cond, arg, eddy_h_now() + seconds, 0, false};
    while (!cond(arg)) {
        if (eddy_h_now() >= r.deadline) {
            return false;
        }
        int rc = eddy_loop_call_later(loop, 0.001, run_until_check, &r,
                                      &r.check);
        if (rc != 0) {
            return cond(arg);
        }
        r.pending = true;
        rc = eddy_loop_start(loop);
        if (r.pending) {
            eddy_loop_remove_timeout(loop, r.check);
            r.pending = false;
        }
        if (rc != 0) {
            return cond(arg);
        }
    }
    return true;
}

/* --- traces --------------------------------------------------------------- */

void eddy_h_trace_reset(struct eddy_trace *t)
{
    pthread_mutex_lock(&trace_lock);
    t->buf[0] = '\0';
    t->len = 0;
    t->truncated = false;
    pthread_mutex_unlock(&trace_lock);
}

/* Mark a full trace: the tail becomes "..." so a comparison fails visibly
 * instead of matching a silently shortened string. */
static void trace_truncate(struct eddy_trace *t)
{
    size_t at = t->len;
    if (at > sizeof(t->buf) - 4) {
        at = sizeof(t->buf) - 4;
    }
    memcpy(t->buf + at, "...", 4);
    t->len = at + 3;
    t->truncated = true;
}

void eddy_h_trace(struct eddy_trace *t, const char *fmt, ...)
{
    char event[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(event, sizeof(event), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&trace_lock);
    if (!t->truncated) {
        size_t need = (size_t)(n < 0 ? 0 : n) + (t->len > 0 ? 1 : 0);
        if (n < 0 || (size_t)n >= sizeof(event) ||
            t->len + need >= sizeof(t->buf) - 3) {
            trace_truncate(t);
        } else {
            snprintf(t->buf + t->len, sizeof(t->buf) - t->len, "%s%s",
                     t->len > 0 ? " " : "", event);
            t->len += need;
        }
    }
    pthread_mutex_unlock(&trace_lock);
}

const char *eddy_h_trace_str(const struct eddy_trace *t)
{
    return t->len > 0 ? t->buf : "";
}

/* --- hygiene (runner side) ------------------------------------------------ */

#define HYGIENE_MAX_FDS 1024
#define HYGIENE_SIGNALS 31

/* What a case must leave as it found it. */
struct hygiene {
    int fds[HYGIENE_MAX_FDS];
    int nfds;
    struct sigaction sa[HYGIENE_SIGNALS + 1];
    bool have_sa[HYGIENE_SIGNALS + 1];
};

static int int_less(const void *a, const void *b)
{
    int x = *(const int *)a;
    int y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The open descriptors, ascending; /proc when mounted, else a probe. */
static int list_fds(int *fds, int max)
{
    int n = 0;
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL) {
        for (int fd = 0; fd < HYGIENE_MAX_FDS && n < max; fd++) {
            if (fcntl(fd, F_GETFD) != -1) {
                fds[n++] = fd;
            }
        }
        return n;
    }
    struct dirent *e;
    while ((e = readdir(dir)) != NULL && n < max) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd != dirfd(dir)) {
            fds[n++] = fd;
        }
    }
    closedir(dir);
    qsort(fds, (size_t)n, sizeof(fds[0]), int_less);
    return n;
}

static bool fd_in(int fd, const int *fds, int n)
{
    return bsearch(&fd, fds, (size_t)n, sizeof(fds[0]), int_less) != NULL;
}

static void describe_fd(int fd, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, buf, size - 1);
    if (n < 0) {
        n = 0;
    }
    buf[n] = '\0';
}

static struct hygiene *hygiene_snapshot(void)
{
    struct hygiene *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return NULL;
    }
    h->nfds = list_fds(h->fds, HYGIENE_MAX_FDS);
    for (int sig = 1; sig <= HYGIENE_SIGNALS; sig++) {
        h->have_sa[sig] = sigaction(sig, NULL, &h->sa[sig]) == 0;
    }
    return h;
}

static bool check_fds(const struct hygiene *h)
{
    int now[HYGIENE_MAX_FDS];
    int n = list_fds(now, HYGIENE_MAX_FDS);
    bool ok = true;
    char what[256];
    for (int i = 0; i < n; i++) {
        if (!fd_in(now[i], h->fds, h->nfds)) {
            describe_fd(now[i], what, sizeof(what));
            fprintf(stderr, "hygiene: fd %d left open (%s)\n", now[i], what);
            ok = false;
        }
    }
    for (int i = 0; i < h->nfds; i++) {
        if (!fd_in(h->fds[i], now, n)) {
            fprintf(stderr, "hygiene: fd %d was closed by the case\n",
                    h->fds[i]);
            ok = false;
        }
    }
    return ok;
}

static void describe_handler(const struct sigaction *sa, char *buf, size_t size)
{
    if (sa->sa_handler == SIG_DFL) {
        snprintf(buf, size, "default");
    } else if (sa->sa_handler == SIG_IGN) {
        snprintf(buf, size, "ignored");
    } else {
        snprintf(buf, size, "handler %p", (void *)sa->sa_sigaction);
    }
}

static bool check_signals(const struct hygiene *h)
{
    bool ok = true;
    for (int sig = 1; sig <= HYGIENE_SIGNALS; sig++) {
        struct sigaction now;
        if (!h->have_sa[sig] || sigaction(sig, NULL, &now) != 0) {
            continue;
        }
        /* Only the handler itself: cmocka restores the handlers it
         * borrows with signal(), which drops their SA_SIGINFO flag. */
        if (now.sa_handler != h->sa[sig].sa_handler) {
            char was_text[64];
            char now_text[64];
            describe_handler(&h->sa[sig], was_text, sizeof(was_text));
            describe_handler(&now, now_text, sizeof(now_text));
            fprintf(stderr,
                    "hygiene: signal %d (%s) disposition changed: "
                    "%s -> %s\n",
                    sig, strsignal(sig), was_text, now_text);
            ok = false;
        }
    }
    return ok;
}

static bool check_children(void)
{
    bool ok = true;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        fprintf(stderr, "hygiene: child process %ld was never reaped\n",
                (long)pid);
        ok = false;
    }
    if (pid == 0) {
        fprintf(stderr, "hygiene: a child process is still running\n");
        ok = false;
    }
    return ok;
}

static bool hygiene_check(struct hygiene *h)
{
    if (h == NULL) {
        fprintf(stderr, "hygiene: no snapshot (out of memory)\n");
        return false;
    }
    bool fds_ok = check_fds(h);
    bool signals_ok = check_signals(h);
    bool children_ok = check_children();
    free(h);
    return fds_ok && signals_ok && children_ok;
}

/* The runner reads these lines from the case's output (harness.h). */
static void report_checks(int failed, unsigned long n)
{
    const char *last = atomic_load(&last_check);
    if (failed != 0 && last != NULL) {
        fprintf(stdout, EDDY__TAG "last check: %s\n", last);
    }
    fprintf(stdout, EDDY__TAG "checks: %lu\n", n);
}

int eddy__harness_run_case(const struct eddy_case *c)
{
    /* Unbuffered, so that cmocka's stdout and stderr lines stay in order
     * in the one pipe the runner reads; and never cmocka's XML or TAP,
     * whatever the environment asks, since the runner parses this. */
    setvbuf(stdout, NULL, _IONBF, 0);
    cmocka_set_message_output(CM_OUTPUT_STDOUT);
    atomic_store(&checks, 0);
    atomic_store(&last_check, NULL);
    atomic_store(&skipping, false);
    struct hygiene *h = hygiene_snapshot();
    const struct CMUnitTest test = {c->name, c->fn, c->setup, c->teardown,
                                    NULL};
    int failed = _cmocka_run_group_tests(c->name, &test, 1, NULL, NULL);
    fflush(NULL);
    bool clean = hygiene_check(h);
    unsigned long n = atomic_load(&checks);
    report_checks(failed, n);
    if (failed != 0) {
        return EDDY__CASE_FAILED;
    }
    if (!clean) {
        return EDDY__CASE_UNCLEAN;
    }
    if (atomic_load(&skipping)) {
        return EDDY__CASE_SKIPPED;
    }
    if (n == 0) {
        fprintf(stdout, EDDY__TAG "the case passed without checking "
                                  "anything: it made no assertion\n");
        return EDDY__CASE_NO_CHECKS;
    }
    return EDDY__CASE_PASSED;
}
