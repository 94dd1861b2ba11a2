/* impl/tests/test_cov_spawn.c - the failure and corner paths of starting a
 * child (SPEC §8.1-§8.4, §8.22) and of installing the SIGCHLD handling
 * (§8.10) that real programs rarely take: system calls that fail or are
 * interrupted, in the parent and in the child between fork and exec, a
 * missing PATH, standard descriptors that must move, and a caller with its
 * own descriptors 0 and 1 closed. The system calls are wrapped here; each
 * wrapper does nothing until a test arms it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "subprocess_int.h"

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

/* What is armed; a forked child inherits it, which is how the child's
 * calls between fork and exec are made to fail. */
static struct {
    bool open_devnull;   /* open("/dev/null") fails with EMFILE */
    bool open_eintr;     /* the next open("/dev/null") is interrupted */
    int pipe2_nth;       /* the nth pipe2 from now fails with EMFILE */
    bool dupfd;          /* fcntl(F_DUPFD_CLOEXEC) fails with EMFILE */
    int dup2_mode;       /* 1: EINTR once; 2: EBADF always */
    bool close_range;    /* syscall(SYS_close_range) fails with ENOSYS */
    int getrlimit;       /* 1: fails (EINVAL); 2: no limit; 3: 2^21 */
    bool read_eintr;     /* the next read is interrupted */
    bool waitpid_eintr;  /* the next waitpid is interrupted */
    bool waitpid_einval; /* the next waitpid fails with EINVAL */
    bool sigchld_act;    /* setting SIGCHLD's action fails with EINVAL */
} arm;

int __real_open(const char *path, int flags, ...);
int __real_pipe2(int fds[2], int flags);
int __real_fcntl(int fd, int cmd, ...);
int __real_dup2(int from, int to);
long __real_syscall(long number, ...);
int __real_getrlimit(int resource, struct rlimit *rl);
ssize_t __real_read(int fd, void *buf, size_t len);
pid_t __real_waitpid(pid_t pid, int *status, int options);
int __real_sigaction(int sig, const struct sigaction *act,
                     struct sigaction *old);

static int injected(int err)
{
    errno = err;
    return -1;
}

NO_SANITIZE
int __wrap_open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = (flags & O_CREAT) != 0 ? va_arg(ap, int) : 0;
    va_end(ap);
    if (arm.open_devnull && strcmp(path, "/dev/null") == 0) {
        return injected(EMFILE);
    }
    if (arm.open_eintr && strcmp(path, "/dev/null") == 0) {
        arm.open_eintr = false;
        return injected(EINTR);
    }
    return __real_open(path, flags, mode);
}

NO_SANITIZE
int __wrap_pipe2(int fds[2], int flags)
{
    if (arm.pipe2_nth > 0 && --arm.pipe2_nth == 0) {
        return injected(EMFILE);
    }
    return __real_pipe2(fds, flags);
}

NO_SANITIZE
int __wrap_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *); /* as glibc reads it */
    va_end(ap);
    if (arm.dupfd && cmd == F_DUPFD_CLOEXEC) {
        return injected(EMFILE);
    }
    return __real_fcntl(fd, cmd, arg);
}

NO_SANITIZE
int __wrap_dup2(int from, int to)
{
    if (arm.dup2_mode == 1) {
        arm.dup2_mode = 0;
        return injected(EINTR);
    }
    if (arm.dup2_mode == 2) {
        return injected(EBADF);
    }
    return __real_dup2(from, to);
}

NO_SANITIZE
long __wrap_syscall(long number, ...)
{
    va_list ap;
    va_start(ap, number);
    long a = va_arg(ap, long);
    long b = va_arg(ap, long);
    long c = va_arg(ap, long);
    va_end(ap);
#ifdef SYS_close_range
    if (arm.close_range && number == SYS_close_range) {
        return injected(ENOSYS);
    }
#endif
    return __real_syscall(number, a, b, c);
}

NO_SANITIZE
int __wrap_getrlimit(int resource, struct rlimit *rl)
{
    if (arm.getrlimit == 1) {
        return injected(EINVAL);
    }
    int rc = __real_getrlimit(resource, rl);
    if (rc == 0 && arm.getrlimit == 2) {
        rl->rlim_cur = RLIM_INFINITY;
    } else if (rc == 0 && arm.getrlimit == 3) {
        rl->rlim_cur = (rlim_t)1 << 21;
    }
    return rc;
}

NO_SANITIZE
ssize_t __wrap_read(int fd, void *buf, size_t len)
{
    if (arm.read_eintr) {
        arm.read_eintr = false;
        return injected(EINTR);
    }
    return __real_read(fd, buf, len);
}

NO_SANITIZE
pid_t __wrap_waitpid(pid_t pid, int *status, int options)
{
    if (arm.waitpid_eintr) {
        arm.waitpid_eintr = false;
        return injected(EINTR);
    }
    if (arm.waitpid_einval) {
        arm.waitpid_einval = false;
        return injected(EINVAL);
    }
    return __real_waitpid(pid, status, options);
}

NO_SANITIZE
int __wrap_sigaction(int sig, const struct sigaction *act,
                     struct sigaction *old)
{
    if (arm.sigchld_act && sig == SIGCHLD && act != NULL) {
        return injected(EINVAL);
    }
    return __real_sigaction(sig, act, old);
}

static void disarm(void)
{
    memset(&arm, 0, sizeof arm);
}

/* --- helpers -------------------------------------------------------------- */

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++) {
        n += __real_fcntl(fd, F_GETFD, NULL) >= 0;
    }
    return n;
}

static const char *const true_argv[] = {"true", NULL};
static const int inherit[3] = {-1, -1, -1};

/* eddy__spawn, then the child's wait status (or the spawn error, < 0). */
static int spawn_status(const char *const argv[], const int fds[3])
{
    int pid = eddy__spawn(argv, fds);
    if (pid < 0) {
        return pid;
    }
    int status = 0;
    assert_int_equal(__real_waitpid(pid, &status, 0), pid);
    return status;
}

static int setup_loop(void **state)
{
    eddy_loop *loop = NULL;
    if (eddy_loop_new(EDDY_CURRENT_NEVER, &loop) != 0) {
        return -1;
    }
    *state = loop;
    return 0;
}

static int teardown_loop(void **state)
{
    disarm();
    eddy_loop_free(*state);
    return 0;
}

/* --- tests ------------------------------------------------------------------
 */

static void test_cov_spawn_parent_side_failures(void **state)
{
    eddy_loop *loop = *state;
    int before = open_fds();
    eddy_subprocess *p = NULL;
    arm.open_devnull = true; /* stdin's pipe is made, then /dev/null fails */
    assert_int_equal(eddy_subprocess_new(loop, true_argv, EDDY_STREAM,
                                         EDDY_DEVNULL, EDDY_INHERIT, &p),
                     -EMFILE);
    disarm();
    arm.pipe2_nth = 1; /* the stream's pipe */
    assert_int_equal(eddy_subprocess_new(loop, true_argv, EDDY_INHERIT,
                                         EDDY_STREAM, EDDY_INHERIT, &p),
                     -EMFILE);
    disarm();
    arm.open_eintr = true; /* retried */
    assert_int_equal(eddy_subprocess_new(loop, true_argv, EDDY_DEVNULL,
                                         EDDY_INHERIT, EDDY_INHERIT, &p),
                     0);
    assert_false(arm.open_eintr);
    disarm();
    int status = 0;
    assert_int_equal(__real_waitpid(eddy_subprocess_pid(p), &status, 0),
                     eddy_subprocess_pid(p));
    eddy_subprocess_free(p);
    p = NULL;
    arm.pipe2_nth = 1; /* the exec-error pipe */
    assert_int_equal(eddy_subprocess_new(loop, true_argv, EDDY_INHERIT,
                                         EDDY_INHERIT, EDDY_INHERIT, &p),
                     -EMFILE);
    disarm();
    assert_null(p);
    assert_int_equal(open_fds(), before);
}

/* execvp's default search path applies when PATH is unset, and a PATH
 * entry that is a file (ENOTDIR) is passed over. */
static void test_cov_spawn_path_variants(void **state)
{
    (void)state;
    const char *saved = getenv("PATH");
    char *copy = saved != NULL ? strdup(saved) : NULL;
    assert_int_equal(unsetenv("PATH"), 0);
    int st_unset = spawn_status(true_argv, inherit);
    assert_int_equal(setenv("PATH", "/etc/passwd:/bin:/usr/bin", 1), 0);
    int st_notdir = spawn_status(true_argv, inherit);
    if (copy != NULL) {
        setenv("PATH", copy, 1);
        free(copy);
    }
    assert_true(WIFEXITED(st_unset) && WEXITSTATUS(st_unset) == 0);
    assert_true(WIFEXITED(st_notdir) && WEXITSTATUS(st_notdir) == 0);
}

static void on_usr2(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)info;
    (void)ctx;
}

/* SPEC §8.3: every match in PATH that cannot be executed is passed over;
 * when none runs, the first telling error is reported. */
static void test_cov_spawn_path_all_not_executable(void **state)
{
    (void)state;
    char a[] = "/tmp/eddy-cov-XXXXXX";
    char b[] = "/tmp/eddy-cov-XXXXXX";
    assert_non_null(mkdtemp(a));
    assert_non_null(mkdtemp(b));
    char pa[64], pb[64], path[160];
    snprintf(pa, sizeof pa, "%s/eddy-cov-prog", a);
    snprintf(pb, sizeof pb, "%s/eddy-cov-prog", b);
    for (int i = 0; i < 2; i++) {
        int fd = __real_open(i == 0 ? pa : pb, O_WRONLY | O_CREAT | O_CLOEXEC,
                             0644); /* not executable */
        assert_true(fd >= 0);
        close(fd);
    }
    snprintf(path, sizeof path, "%s:%s", a, b);
    const char *saved = getenv("PATH");
    char *copy = saved != NULL ? strdup(saved) : NULL;
    setenv("PATH", path, 1);
    static const char *const argv[] = {"eddy-cov-prog", NULL};
    int rc = spawn_status(argv, inherit);
    if (copy != NULL) {
        setenv("PATH", copy, 1);
        free(copy);
    }
    unlink(pa);
    unlink(pb);
    rmdir(a);
    rmdir(b);
    assert_int_equal(rc, -EACCES);
}

/* A handler installed with SA_SIGINFO is reset to the default in the
 * child, which then dies of the signal. */
static void test_cov_spawn_resets_siginfo_handlers(void **state)
{
    (void)state;
    struct sigaction sa = {0}, old;
    sa.sa_sigaction = on_usr2;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR2, &sa, &old), 0);
    static const char *const argv[] = {"sh", "-c", "kill -USR2 $$", NULL};
    int st = spawn_status(argv, inherit);
    sigaction(SIGUSR2, &old, NULL);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR2);
}

/* Without close_range the child closes descriptors one by one, up to the
 * descriptor limit (lowered here so the loop is short); without a limit it
 * assumes the largest one Linux allows. */
static void test_cov_spawn_closes_without_close_range(void **state)
{
    (void)state;
    struct rlimit rl, low;
    assert_int_equal(__real_getrlimit(RLIMIT_NOFILE, &rl), 0);
    low = rl;
    low.rlim_cur = 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    arm.close_range = true;
    int st_loop = spawn_status(true_argv, inherit);
    disarm();
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    int st_limit[3];
    for (int mode = 1; mode <= 3; mode++) {
        arm.getrlimit = mode; /* fails, unlimited, beyond Linux's maximum */
        st_limit[mode - 1] = spawn_status(true_argv, inherit);
        disarm();
    }
    assert_true(WIFEXITED(st_loop) && WEXITSTATUS(st_loop) == 0);
    for (int i = 0; i < 3; i++) {
        assert_true(WIFEXITED(st_limit[i]) && WEXITSTATUS(st_limit[i]) == 0);
    }
}

/* The caller's own fd 0 as stdin stays put (its close-on-exec flag is
 * cleared) and as stdout is moved out of the way first; an interrupted
 * dup2 is retried. */
static void test_cov_spawn_standard_fd_moves(void **state)
{
    (void)state;
    static const char *const argv[] = {"sh", "-c", "exit 0", NULL};
    const int fds[3] = {0, 0, -1};
    if (fcntl(0, F_GETFD) < 0) {
        assert_int_equal(open("/dev/null", O_RDONLY),
                         0); /* run with 0 closed */
    }
    arm.dup2_mode = 1;
    int st = spawn_status(argv, fds);
    disarm();
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Failures between fork and exec come back as the spawn's error, the
 * child reaped; interrupted reads and waits in the parent are retried. */
static void test_cov_spawn_child_side_failures(void **state)
{
    (void)state;
    int before = open_fds();
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    const int to_pipe[3] = {-1, p[1], -1};
    arm.dup2_mode = 2;
    arm.read_eintr = true;
    arm.waitpid_eintr = true;
    assert_int_equal(spawn_status(true_argv, to_pipe), -EBADF);
    disarm();
    const int from_zero[3] = {-1, 0, -1};
    arm.dupfd = true;
    assert_int_equal(spawn_status(true_argv, from_zero), -EMFILE);
    disarm();
    close(p[0]);
    close(p[1]);
    assert_int_equal(open_fds(), before);
}

/* With 0 and 1 closed the exec-error pipe lands on them, and the child
 * moves its end above 2 before it sets up its standard descriptors. */
static void test_cov_spawn_error_pipe_below_3(void **state)
{
    (void)state;
    int save0 = fcntl(0, F_DUPFD_CLOEXEC, 3);
    int save1 = fcntl(1, F_DUPFD_CLOEXEC, 3);
    assert_true(save0 >= 0 && save1 >= 0);
    close(0);
    close(1);
    int st_ok = spawn_status(true_argv, inherit);
    close(0);
    close(1);
    arm.dupfd = true;
    int st_fail = spawn_status(true_argv, inherit);
    disarm();
    dup2(save0, 0);
    dup2(save1, 1);
    close(save0);
    close(save1);
    assert_true(WIFEXITED(st_ok) && WEXITSTATUS(st_ok) == 0);
    assert_int_equal(st_fail, -EMFILE);
}

/* SPEC §8.10: initialize fails cleanly when the self-pipe, the handler
 * registration or sigaction fails, and a later one succeeds. */
static void test_cov_spawn_initialize_failures(void **state)
{
    eddy_loop *loop = *state;
    int before = open_fds();
    arm.pipe2_nth = 1;
    assert_int_equal(eddy_subprocess_initialize(loop), -EMFILE);
    disarm();
    arm.sigchld_act = true;
    assert_int_equal(eddy_subprocess_initialize(loop), -EINVAL);
    disarm();
    eddy_loop *closed = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &closed), 0);
    assert_int_equal(eddy_loop_close(closed, false), 0);
    assert_int_equal(eddy_subprocess_initialize(closed), -ESHUTDOWN);
    eddy_loop_free(closed);
    assert_int_equal(open_fds(), before);
    assert_int_equal(eddy_subprocess_initialize(loop), 0);
    assert_int_equal(eddy_subprocess_uninitialize(), 0);
    assert_int_equal(open_fds(), before);
}

static void test_cov_spawn_null_subprocess(void **state)
{
    (void)state;
    int rc = 0;
    eddy_future *f = NULL;
    eddy_subprocess_free(NULL);
    assert_int_equal(eddy_subprocess_returncode(NULL, &rc), -EINVAL);
    assert_int_equal(eddy_subprocess_pid(NULL), -EINVAL);
    assert_null(eddy_subprocess_stdin(NULL));
    assert_null(eddy_subprocess_stdout(NULL));
    assert_null(eddy_subprocess_stderr(NULL));
    assert_int_equal(eddy_subprocess_wait_for_exit(NULL, true, &f), -EINVAL);
    assert_null(f);
}

/* --- the subprocess object around its exit -------------------------------- */

static bool has_exited(int pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    /* WNOWAIT: look without reaping, the library still has to. */
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0 &&
           si.si_pid == pid;
}

static bool future_done(void *arg)
{
    return eddy_future_done(arg);
}

/* Run the loop until cond(arg), at most about 5 s. */
static bool spin(eddy_loop *loop, bool (*cond)(void *), void *arg)
{
    for (int i = 0; i < 5000 && !cond(arg); i++) {
        eddy_loop_stop(loop);
        eddy_loop_start(loop);
        usleep(1000);
    }
    return cond(arg);
}

/* A few iterations: enough for anything already queued to run. */
static void run_a_little(eddy_loop *loop)
{
    for (int i = 0; i < 20; i++) {
        eddy_loop_stop(loop);
        eddy_loop_start(loop);
        usleep(1000);
    }
}

static int exit_calls;

static int on_exit_cb(eddy_loop *loop, int returncode, void *arg)
{
    (void)loop;
    (void)returncode;
    (void)arg;
    exit_calls++;
    return 0;
}

/* SPEC §8.19: a subprocess freed after its exit was posted to the loop
 * but before the loop ran it, or after a late exit callback was queued,
 * reports nothing; an interrupted reap is retried. */
static void test_cov_spawn_freed_before_delivery(void **state)
{
    eddy_loop *loop = *state;
    exit_calls = 0;
    eddy_subprocess *p = NULL;
    assert_int_equal(eddy_subprocess_new(loop, true_argv, EDDY_INHERIT,
                                         EDDY_INHERIT, EDDY_INHERIT, &p),
                     0);
    assert_true(has_exited(eddy_subprocess_pid(p)));
    eddy_future *f = NULL;
    arm.waitpid_eintr = true;
    assert_int_equal(eddy_subprocess_wait_for_exit(p, false, &f), 0);
    assert_false(arm.waitpid_eintr);
    eddy_subprocess_free(p); /* the exit is posted, not yet delivered */
    run_a_little(loop);
    assert_int_equal(eddy_future_result(f, NULL), -ECANCELED);
    eddy_future_release(f);

    assert_int_equal(eddy_subprocess_new(loop, true_argv, EDDY_INHERIT,
                                         EDDY_INHERIT, EDDY_INHERIT, &p),
                     0);
    assert_int_equal(eddy_subprocess_wait_for_exit(p, false, &f), 0);
    assert_true(spin(loop, future_done, f));
    eddy_future_release(f);
    assert_int_equal(eddy_subprocess_set_exit_callback(p, on_exit_cb, NULL), 0);
    eddy_subprocess_free(p); /* the late callback is queued */
    run_a_little(loop);
    assert_int_equal(exit_calls, 0);
    assert_int_equal(eddy_subprocess_uninitialize(), 0);
}

/* SPEC §8.9: any number of wait_for_exit futures, the list growing (and
 * failing to grow, which changes nothing); a failed reap just waits. */
static void test_cov_spawn_many_waiters(void **state)
{
    eddy_loop *loop = *state;
    int gate[2];
    assert_int_equal(pipe2(gate, O_CLOEXEC), 0);
    static const char *const argv[] = {"sh", "-c", "read x; exit 0", NULL};
    eddy_subprocess *p = NULL;
    assert_int_equal(eddy_subprocess_new(loop, argv, gate[0], EDDY_INHERIT,
                                         EDDY_INHERIT, &p),
                     0);
    close(gate[0]);
    int rc = 0;
    assert_int_equal(eddy_subprocess_returncode(p, NULL), -EINVAL);
    assert_int_equal(eddy_subprocess_wait_for_exit(p, true, NULL), -EINVAL);
    eddy_future *f[3] = {NULL, NULL, NULL};
    arm.waitpid_einval = true; /* the first reap fails: still running */
    assert_int_equal(eddy_subprocess_wait_for_exit(p, false, &f[0]), 0);
    disarm();
    assert_int_equal(eddy_subprocess_wait_for_exit(p, false, &f[1]), 0);
    eddy__alloc_fail(1, false);
    eddy_future *none = NULL;
    assert_int_equal(eddy_subprocess_wait_for_exit(p, false, &none), -ENOMEM);
    eddy__alloc_fail(0, false);
    assert_null(none);
    assert_int_equal(eddy_subprocess_wait_for_exit(p, false, &f[2]), 0);
    close(gate[1]);
    assert_true(spin(loop, future_done, f[2]));
    for (int i = 0; i < 3; i++) {
        void *value = NULL;
        assert_int_equal(eddy_future_result(f[i], &value), 0);
        assert_int_equal((intptr_t)value, 0);
        eddy_future_release(f[i]);
    }
    assert_int_equal(eddy_subprocess_returncode(p, &rc), 0);
    assert_int_equal(rc, 0);
    eddy_subprocess_free(p);
    assert_int_equal(eddy_subprocess_uninitialize(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cov_spawn_parent_side_failures,
                                        setup_loop, teardown_loop),
        cmocka_unit_test(test_cov_spawn_path_variants),
        cmocka_unit_test(test_cov_spawn_path_all_not_executable),
        cmocka_unit_test(test_cov_spawn_resets_siginfo_handlers),
        cmocka_unit_test(test_cov_spawn_closes_without_close_range),
        cmocka_unit_test(test_cov_spawn_standard_fd_moves),
        cmocka_unit_test(test_cov_spawn_child_side_failures),
        cmocka_unit_test(test_cov_spawn_error_pipe_below_3),
        cmocka_unit_test_setup_teardown(test_cov_spawn_initialize_failures,
                                        setup_loop, teardown_loop),
        cmocka_unit_test(test_cov_spawn_null_subprocess),
        cmocka_unit_test_setup_teardown(test_cov_spawn_freed_before_delivery,
                                        setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_cov_spawn_many_waiters, setup_loop,
                                        teardown_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
