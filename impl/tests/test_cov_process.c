/* impl/tests/test_cov_process.c - the corners of fork_processes (SPEC
 * §7) that the supervisor tests leave out: setup that fails, a stop signal
 * that arrives between two forks, a grace period too long for poll, the
 * child's fallback seed, and the error paths of the real OS table and of
 * the signal self-pipe. A small simulated OS drives the supervisor; the
 * system calls below are wrapped and behave normally until armed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "process_os.h"

/* The sanitizer runtimes are linked statically and call some of the
 * wrapped functions themselves, before they are initialised: the wrappers
 * must not be instrumented at all (TSan's function entry included). */
#if defined(__has_attribute)
#if __has_attribute(disable_sanitizer_instrumentation)
#define NO_SANITIZE __attribute__((disable_sanitizer_instrumentation))
#endif
#endif
#ifndef NO_SANITIZE
#define NO_SANITIZE
#endif

/* --- wrapped system calls ------------------------------------------------ */

static struct {
    bool pipe2;      /* pipe2 fails with EMFILE */
    bool getrandom;  /* getrandom fails with ENOSYS */
    bool fork;       /* fork fails with EAGAIN */
    bool poll;       /* poll fails with EINVAL */
    bool read_eintr; /* the next read is interrupted */
} arm;

int __real_pipe2(int fds[2], int flags);
ssize_t __real_getrandom(void *buf, size_t len, unsigned flags);
pid_t __real_fork(void);
int __real_poll(struct pollfd *fds, nfds_t n, int timeout);
ssize_t __real_read(int fd, void *buf, size_t len);

NO_SANITIZE
int __wrap_pipe2(int fds[2], int flags)
{
    if (arm.pipe2) {
        errno = EMFILE;
        return -1;
    }
    return __real_pipe2(fds, flags);
}

NO_SANITIZE
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags)
{
    if (arm.getrandom) {
        errno = ENOSYS;
        return -1;
    }
    return __real_getrandom(buf, len, flags);
}

NO_SANITIZE
pid_t __wrap_fork(void)
{
    if (arm.fork) {
        errno = EAGAIN;
        return -1;
    }
    return __real_fork();
}

NO_SANITIZE
int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (arm.poll) {
        errno = EINVAL;
        return -1;
    }
    return __real_poll(fds, n, timeout);
}

NO_SANITIZE
ssize_t __wrap_read(int fd, void *buf, size_t len)
{
    if (arm.read_eintr) {
        arm.read_eintr = false;
        errno = EINTR;
        return -1;
    }
    return __real_read(fd, buf, len);
}

/* --- a small simulated OS ------------------------------------------------ */

struct sim {
    int forks;         /* children forked so far */
    int child_at;      /* this fork (1-based) returns 0: "we are the child" */
    int fork_err;      /* the first fork fails with this, once */
    bool term_on_fork; /* a SIGTERM arrives during the first fork */
    int fail_sig;      /* setting this signal's action fails */
    int fail_get_sig;  /* reading this signal's action fails */
    bool alive[4];     /* by pid - 100 */
    bool die_on_wait;  /* SIGTERM takes effect at the next wait only */
    bool term_sent[4];
    int max_wait_ms; /* the longest wait asked for */
    int exit_status; /* what the simulated exit() got */
    int64_t now;     /* simulated time: each wait lets its timeout pass */
};

static pid_t sim_fork(int task_id, void *arg)
{
    (void)task_id;
    struct sim *s = arg;
    if (s->fork_err != 0) {
        int err = s->fork_err;
        s->fork_err = 0;
        return err;
    }
    int n = ++s->forks;
    if (s->term_on_fork && n == 1) {
        eddy__process_on_signal(SIGTERM);
    }
    if (n == s->child_at) {
        return 0;
    }
    s->alive[n - 1] = true;
    return 100 + n - 1;
}

static pid_t sim_reap(pid_t pid, int *status, void *arg)
{
    struct sim *s = arg;
    if (s->alive[pid - 100]) {
        return 0;
    }
    *status = SIGTERM; /* killed by SIGTERM */
    return pid;
}

static int sim_kill(pid_t pid, int sig, void *arg)
{
    struct sim *s = arg;
    if (sig == SIGKILL || !s->die_on_wait) {
        s->alive[pid - 100] = false;
    } else {
        s->term_sent[pid - 100] = true;
    }
    return 0;
}

static int sim_wait_fd(int fd, int timeout_ms, void *arg)
{
    (void)fd;
    struct sim *s = arg;
    s->max_wait_ms = timeout_ms > s->max_wait_ms ? timeout_ms : s->max_wait_ms;
    s->now += timeout_ms > 0 ? (int64_t)timeout_ms * 1000000 : 0;
    for (int i = 0; i < 4; i++) {
        if (s->term_sent[i]) {
            s->alive[i] = false;
        }
    }
    return 0;
}

static int64_t sim_now(void *arg)
{
    return ((struct sim *)arg)->now;
}

static int sim_sigaction(int sig, const struct sigaction *act,
                         struct sigaction *old, void *arg)
{
    struct sim *s = arg;
    if ((act != NULL && sig == s->fail_sig) ||
        (act == NULL && sig == s->fail_get_sig)) {
        return -EINVAL;
    }
    return sigaction(sig, act, old) == 0 ? 0 : -errno;
}

static void sim_exit(int status, void *arg)
{
    ((struct sim *)arg)->exit_status = status;
}

static int fork_with(struct sim *s, int n, int64_t grace_ns)
{
    const struct eddy__process_os os = {sim_fork,    sim_reap, sim_kill,
                                        sim_wait_fd, sim_now,  sim_sigaction,
                                        sim_exit,    s};
    eddy__process_set_os(&os, grace_ns);
    int rc = eddy_fork_processes(n, 0);
    eddy__process_set_os(NULL, -1);
    return rc;
}

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++) {
        n += fcntl(fd, F_GETFD) >= 0;
    }
    return n;
}

static int reset(void **state)
{
    (void)state;
    memset(&arm, 0, sizeof arm);
    eddy__process_reset();
    return 0;
}

/* --- tests ------------------------------------------------------------------
 */

/* SPEC §7.14: a supervisor that cannot set itself up returns the error
 * before forking, with every signal and descriptor as it found them. */
static void test_cov_process_setup_fails(void **state)
{
    (void)state;
    int before = open_fds();
    struct sigaction old_term;
    sigaction(SIGTERM, NULL, &old_term);
    struct sim s = {.fail_sig = SIGTERM};
    assert_int_equal(fork_with(&s, 2, 0), -EINVAL);
    memset(&s, 0, sizeof s);
    s.fail_get_sig = SIGINT;
    assert_int_equal(fork_with(&s, 2, 0), -EINVAL);
    arm.pipe2 = true;
    memset(&s, 0, sizeof s);
    assert_int_equal(fork_with(&s, 2, 0), -EMFILE);
    arm.pipe2 = false;
    assert_int_equal(s.forks, 0);
    struct sigaction now_term;
    sigaction(SIGTERM, NULL, &now_term);
    assert_ptr_equal(now_term.sa_handler, old_term.sa_handler);
    assert_int_equal(open_fds(), before);
    assert_int_equal(eddy_task_id(), -1);
}

/* SPEC §7.15: a child whose kernel gives no random seed still reseeds,
 * from the clock. */
static void test_cov_process_child_seed_without_getrandom(void **state)
{
    (void)state;
    struct sim s = {.child_at = 1};
    arm.getrandom = true;
    assert_int_equal(fork_with(&s, 1, 0), 0);
    arm.getrandom = false;
    assert_int_equal(eddy_task_id(), 0);
    eddy__process_reset();
    assert_int_equal(eddy_task_id(), -1);
    eddy__process_reset(); /* not a child: nothing to undo */
    assert_int_equal(eddy_task_id(), -1);
}

static void on_int(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)info;
    (void)ctx;
}

/* SPEC §7.11: a SIGINT handler of the caller's, installed with
 * SA_SIGINFO, is not "ignored": the supervisor catches SIGINT, and puts
 * the caller's handler back. */
static void test_cov_process_siginfo_handler_is_not_ignored(void **state)
{
    (void)state;
    struct sigaction sa = {0}, old, now;
    sa.sa_sigaction = on_int;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGINT, &sa, &old), 0);
    struct sim s = {.child_at = 1};
    int rc = fork_with(&s, 1, 0);
    sigaction(SIGINT, NULL, &now);
    sigaction(SIGINT, &old, NULL);
    assert_int_equal(rc, 0);
    assert_ptr_equal(now.sa_sigaction, on_int);
}

/* SPEC §7.11: a SIGTERM that arrives while the first child is forked
 * stops the forking; the supervisor ends that child and exits 128 + 15.
 * The grace period is too long for poll's int: the wait is capped. */
static void test_cov_process_stop_between_forks(void **state)
{
    (void)state;
    struct sim s = {.term_on_fork = true, .die_on_wait = true};
    assert_int_equal(fork_with(&s, 3, INT64_MAX / 4), -ECANCELED);
    assert_int_equal(s.forks, 1);
    assert_int_equal(s.exit_status, 128 + SIGTERM);
    assert_int_equal(s.max_wait_ms, INT_MAX);
}

/* SPEC §7.18: ENOMEM from fork is transient, like EAGAIN: retried, and
 * not counted as a restart. */
static void test_cov_process_fork_enomem_is_retried(void **state)
{
    (void)state;
    struct sim s = {.fork_err = -ENOMEM, .child_at = 1};
    assert_int_equal(fork_with(&s, 1, 0), 0);
    assert_int_equal(eddy_task_id(), 0);
}

/* The real OS table reports failures as negated errno values, and waiting
 * on a poll that fails sleeps a little instead of spinning. */
static void test_cov_process_real_os_errors(void **state)
{
    (void)state;
    const struct eddy__process_os *os = eddy__process_os_real();
    int status = 0;
    assert_int_equal(os->kill(INT_MAX, 0, os->arg), -ESRCH);
    assert_int_equal(os->reap(INT_MAX, &status, os->arg), -ECHILD);
    arm.fork = true;
    assert_int_equal(os->fork(0, os->arg), -EAGAIN);
    arm.fork = false;
    int p[2];
    assert_int_equal(__real_pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    arm.poll = true;
    assert_int_equal(os->wait_fd(p[0], 0, os->arg), -EINVAL);
    arm.poll = false;
    struct sigaction sa;
    assert_int_equal(os->sigaction(0, NULL, &sa, os->arg), -EINVAL);
    close(p[0]);
    close(p[1]);
}

/* The self-pipe: the first stop signal is kept, later ones and SIGCHLD
 * only wake; with no pipe armed the handler writes nothing; an interrupted
 * drain goes on. */
static void test_cov_process_self_pipe(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(__real_pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    eddy__sigpipe_arm(-1);
    eddy__process_on_signal(SIGTERM); /* nowhere to write */
    eddy__sigpipe_arm(p[1]);
    eddy__process_on_signal(SIGINT);
    eddy__process_on_signal(SIGTERM);
    eddy__process_on_signal(SIGCHLD);
    assert_int_equal(eddy__sigpipe_stop_signal(), SIGINT);
    for (int i = 0; i < 300; i++) {
        eddy__process_on_signal(SIGCHLD); /* more than one read's worth */
    }
    arm.read_eintr = true;
    eddy__sigpipe_drain(p[0]);
    char byte;
    assert_int_equal(__real_read(p[0], &byte, 1), -1);
    assert_int_equal(errno, EAGAIN);
    eddy__sigpipe_arm(-1);
    assert_int_equal(eddy__sigpipe_stop_signal(), 0);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cov_process_setup_fails, reset),
        cmocka_unit_test_teardown(test_cov_process_child_seed_without_getrandom,
                                  reset),
        cmocka_unit_test_teardown(
            test_cov_process_siginfo_handler_is_not_ignored, reset),
        cmocka_unit_test_teardown(test_cov_process_stop_between_forks, reset),
        cmocka_unit_test_teardown(test_cov_process_fork_enomem_is_retried,
                                  reset),
        cmocka_unit_test_teardown(test_cov_process_real_os_errors, reset),
        cmocka_unit_test_teardown(test_cov_process_self_pipe, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
