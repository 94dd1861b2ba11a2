/* impl/tests/test_subprocess.c - white-box tests of SPEC §8: allocation,
 * descriptor and fork failures of eddy_subprocess_new (each must leave no
 * child, no descriptor and no registry entry), the execvp-style PATH
 * search, the registry's retry after a failed post, and the pipe stream
 * on raw pipes (deferred free, re-entrant writes, loop close).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "eddy.h"
#include "internal.h"

/* --- helpers ----------------------------------------------------------------- */

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++) {
        n += fcntl(fd, F_GETFD) != -1;
    }
    return n;
}

static bool no_children(void)
{
    return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

struct until {
    bool (*cond)(void *);
    void *arg;
    int ticks;
};

static int until_tick(eddy_loop *loop, void *arg)
{
    struct until *u = arg;
    if (u->cond(u->arg) || --u->ticks <= 0) {
        return eddy_loop_stop(loop);
    }
    return eddy_loop_call_later(loop, 0.005, until_tick, u, NULL);
}

/* Run the loop until cond(arg) or about `seconds`. */
static bool run_until(eddy_loop *loop, bool (*cond)(void *), void *arg,
                      double seconds)
{
    struct until u = {cond, arg, (int)(seconds / 0.005) + 1};
    assert_int_equal(eddy_loop_call_later(loop, 0, until_tick, &u, NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    return cond(arg);
}

static bool future_done(void *arg)
{
    return eddy_future_done(arg);
}

static int setup_loop(void **state)
{
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), 0);
    *state = loop;
    return 0;
}

static int teardown_loop(void **state)
{
    assert_int_equal(eddy_subprocess_uninitialize(), 0);
    assert_int_equal(eddy_loop_free(*state), 0);
    assert_true(no_children());
    assert_int_equal(eddy__subprocess_registered(), 0);
    return 0;
}

/* Wait (raise_error false) and return the code. */
static int code_of(eddy_loop *loop, eddy_subprocess *p)
{
    eddy_future *f = NULL;
    assert_int_equal(eddy_subprocess_wait_for_exit(p, false, &f), 0);
    assert_true(run_until(loop, future_done, f, 20));
    void *v = NULL;
    assert_int_equal(eddy_future_result(f, &v), 0);
    eddy_future_release(f);
    return (int)(intptr_t)v;
}

/* --- spawn failures ---------------------------------------------------------- */

static const char *const true_argv[] = {"/bin/true", NULL};

/* Every allocation of eddy_subprocess_new fails in turn, alone and from
 * there on: -ENOMEM, nothing started, nothing open, nothing registered. */
static void test_subprocess_new_alloc_failures(void **state)
{
    eddy_loop *loop = *state;
    int fds = open_fds();
    for (int persist = 0; persist < 2; persist++) {
        for (long nth = 1;; nth++) {
            eddy_subprocess *p = NULL;
            eddy__alloc_fail(nth, persist != 0);
            int err = eddy_subprocess_new(loop, true_argv, EDDY_STREAM,
                                          EDDY_STREAM, EDDY_STREAM, &p);
            eddy__alloc_fail(0, false);
            if (err == 0) {
                assert_int_equal(code_of(loop, p), 0);
                eddy_subprocess_free(p);
                assert_int_equal(eddy_subprocess_uninitialize(), 0);
                break;
            }
            assert_int_equal(err, -ENOMEM);
            assert_null(p);
            assert_true(no_children());
            assert_int_equal(open_fds(), fds);
            assert_int_equal(eddy__subprocess_registered(), 0);
            assert_true(nth < 50);
        }
    }
    assert_int_equal(open_fds(), fds);
}

/* With the descriptor limit just above what is open, each pipe or open
 * the spawn needs fails in turn with -EMFILE and leaves nothing open. */
static void test_subprocess_new_out_of_descriptors(void **state)
{
    eddy_loop *loop = *state;
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int fds = open_fds();
    int highest = 0;
    for (int fd = 0; fd < 1024; fd++) {
        highest = fcntl(fd, F_GETFD) != -1 ? fd : highest;
    }
    for (rlim_t extra = 1;; extra++) {
        struct rlimit rl = {(rlim_t)highest + extra, old.rlim_max};
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
        eddy_subprocess *p = NULL;
        int err = eddy_subprocess_new(loop, true_argv, EDDY_DEVNULL,
                                      EDDY_STREAM, EDDY_STREAM, &p);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
        if (err == 0) {
            assert_int_equal(code_of(loop, p), 0);
            eddy_subprocess_free(p);
            break;
        }
        assert_int_equal(err, -EMFILE);
        assert_true(no_children());
        assert_int_equal(open_fds(), fds);
        assert_true(extra < 20);
    }
}

static int failing_fork(void)
{
    errno = EAGAIN;
    return -1;
}

static void test_subprocess_new_fork_failure(void **state)
{
    eddy_loop *loop = *state;
    int fds = open_fds();
    eddy_subprocess *p = NULL;
    eddy__subprocess_set_fork(failing_fork);
    int err = eddy_subprocess_new(loop, true_argv, EDDY_STREAM, EDDY_STREAM,
                                  EDDY_DEVNULL, &p);
    eddy__subprocess_set_fork(NULL);
    assert_int_equal(err, -EAGAIN);
    assert_null(p);
    assert_int_equal(open_fds(), fds);
    assert_int_equal(eddy__subprocess_registered(), 0);
}

/* --- the PATH search ------------------------------------------------------- */

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* execvp's rules: a non-executable match is skipped for a later one, and
 * reported as -EACCES only when nothing else matches; an empty PATH entry
 * is the current directory; an unknown format is -ENOEXEC. */
static void test_subprocess_path_search(void **state)
{
    eddy_loop *loop = *state;
    char dir1[] = "/tmp/eddy-path1-XXXXXX", dir2[] = "/tmp/eddy-path2-XXXXXX";
    assert_non_null(mkdtemp(dir1));
    assert_non_null(mkdtemp(dir2));
    char a[64], b[64], c[64], path[256], cwd[512];
    snprintf(a, sizeof a, "%s/eddyprog", dir1);
    snprintf(b, sizeof b, "%s/eddyprog", dir2);
    snprintf(c, sizeof c, "%s/garbage", dir2);
    write_file(a, "#!/bin/sh\nexit 42\n", 0644); /* not executable */
    /* A link to a system program keeps memory checkers off the child. */
    assert_int_equal(symlink("/bin/false", b), 0);
    write_file(c, "\x01\x02\x03 not a program\n", 0755);
    const char *old = getenv("PATH");
    char *saved = old != NULL ? strdup(old) : NULL;
    const char *prog[] = {"eddyprog", NULL}, *garbage[] = {"garbage", NULL};
    eddy_subprocess *p = NULL;

    snprintf(path, sizeof path, "/nonexistent:%s:%s", dir1, dir2);
    setenv("PATH", path, 1);
    assert_int_equal(eddy_subprocess_new(loop, prog, -1, -1, -1, &p), 0);
    assert_int_equal(code_of(loop, p), 1);
    eddy_subprocess_free(p);
    p = NULL;

    setenv("PATH", dir1, 1);
    assert_int_equal(eddy_subprocess_new(loop, prog, -1, -1, -1, &p),
                     -EACCES);
    setenv("PATH", dir2, 1);
    assert_int_equal(eddy_subprocess_new(loop, garbage, -1, -1, -1, &p),
                     -ENOEXEC);

    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir2), 0);
    setenv("PATH", "/nonexistent::", 1);
    assert_int_equal(eddy_subprocess_new(loop, prog, -1, -1, -1, &p), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(code_of(loop, p), 1);
    eddy_subprocess_free(p);

    if (saved != NULL) {
        setenv("PATH", saved, 1);
        free(saved);
    }
    unlink(a);
    unlink(b);
    unlink(c);
    rmdir(dir1);
    rmdir(dir2);
}

/* --- the registry ------------------------------------------------------------ */

/* A post that fails for lack of memory keeps the child registered; the
 * next request reaps nothing new but posts again, and every waiter is
 * resolved. */
static void test_subprocess_post_retried_after_enomem(void **state)
{
    eddy_loop *loop = *state;
    eddy_subprocess *p = NULL;
    assert_int_equal(eddy_subprocess_initialize(loop), 0);
    assert_int_equal(
        eddy_subprocess_new(loop, true_argv, -1, -1, -1, &p), 0);
    sleep_s(0.3); /* a zombie now, its SIGCHLD not processed yet */
    eddy_future *f1 = NULL, *f2 = NULL;
    /* wait_for_exit allocates its waiter slot, its future, then posts. */
    eddy__alloc_fail(3, false);
    assert_int_equal(eddy_subprocess_wait_for_exit(p, false, &f1), 0);
    eddy__alloc_fail(0, false);
    assert_int_equal(eddy__subprocess_registered(), 1);
    assert_false(eddy_future_done(f1));
    assert_int_equal(eddy_subprocess_wait_for_exit(p, true, &f2), 0);
    assert_int_equal(eddy__subprocess_registered(), 0);
    assert_true(run_until(loop, future_done, f2, 20));
    assert_true(eddy_future_done(f1));
    assert_int_equal(eddy_future_result(f2, NULL), 0);
    eddy_future_release(f1);
    eddy_future_release(f2);
    eddy_subprocess_free(p);
}

static int count_exit(eddy_loop *loop, int returncode, void *arg)
{
    (void)loop;
    (void)returncode;
    (*(int *)arg)++;
    return 0;
}

static bool positive(void *arg)
{
    return *(int *)arg > 0;
}

/* wait_for_exit and a set_exit_callback that must post fail cleanly
 * without memory: -ENOMEM, no future, no call. */
static void test_subprocess_requests_alloc_failures(void **state)
{
    eddy_loop *loop = *state;
    eddy_subprocess *p = NULL;
    assert_int_equal(
        eddy_subprocess_new(loop, true_argv, -1, -1, -1, &p), 0);
    assert_int_equal(code_of(loop, p), 0);
    eddy_future *f = NULL;
    eddy__alloc_fail(1, true);
    int err = eddy_subprocess_wait_for_exit(p, false, &f);
    eddy__alloc_fail(0, false);
    assert_int_equal(err, -ENOMEM);
    assert_null(f);
    int calls = 0;
    eddy__alloc_fail(1, true);
    err = eddy_subprocess_set_exit_callback(p, count_exit, &calls);
    eddy__alloc_fail(0, false);
    assert_int_equal(err, -ENOMEM);
    assert_false(run_until(loop, positive, &calls, 0.1));
    assert_int_equal(eddy_subprocess_set_exit_callback(p, count_exit, &calls),
                     0);
    assert_true(run_until(loop, positive, &calls, 10));
    assert_int_equal(calls, 1);
    eddy_subprocess_free(p);
}

/* A running child freed by its owner stays registered until it ends, then
 * leaves the registry without any callback. */
static void test_subprocess_detached_child_leaves_registry(void **state)
{
    eddy_loop *loop = *state;
    assert_int_equal(eddy_subprocess_initialize(loop), 0);
    const char *argv[] = {"/bin/sh", "-c", "sleep 0.2", NULL};
    eddy_subprocess *p = NULL;
    assert_int_equal(eddy_subprocess_new(loop, argv, -1, -1, -1, &p), 0);
    eddy_subprocess_free(p);
    assert_int_equal(eddy__subprocess_registered(), 1);
    for (int i = 0; i < 400 && eddy__subprocess_registered() != 0; i++) {
        assert_int_equal(eddy_loop_stop(loop), 0);
        assert_int_equal(eddy_loop_start(loop), 0);
        sleep_s(0.01);
    }
    assert_int_equal(eddy__subprocess_registered(), 0);
}

/* --- streams on raw pipes ------------------------------------------------ */

struct sctx {
    eddy_stream *s;
    int reads, writes;
    int err;
    size_t len;
    bool free_in_cb;
    int more; /* writes a write callback still adds */
};

static int read_cb(eddy_loop *loop, eddy_stream *s, int err, const void *d,
                   size_t len, void *arg)
{
    (void)loop;
    (void)d;
    struct sctx *c = arg;
    c->reads++;
    c->err = err;
    c->len = len;
    if (c->free_in_cb) {
        eddy__stream_free(s);
        c->s = NULL;
    }
    return 0;
}

static int write_cb(eddy_loop *loop, eddy_stream *s, int err, void *arg)
{
    (void)loop;
    struct sctx *c = arg;
    c->writes++;
    c->err = err;
    if (c->more > 0) {
        c->more--;
        return eddy_stream_write(s, "abc", 3, write_cb, c);
    }
    if (c->free_in_cb) {
        eddy__stream_free(s);
        c->s = NULL;
    }
    return 0;
}

static bool reads_seen(void *arg)
{
    return ((struct sctx *)arg)->reads > 0;
}

static bool writes_done(void *arg)
{
    const struct sctx *c = arg;
    return c->writes > 0 && c->more == 0 && c->s == NULL;
}

static eddy_stream *wrap(eddy_loop *loop, int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    eddy_stream *s = NULL;
    assert_int_equal(eddy__stream_new(loop, fd, &s), 0);
    return s;
}

/* A stream freed inside its own callbacks is released after they return;
 * a write callback may queue more writes. */
static void test_stream_free_inside_callbacks(void **state)
{
    eddy_loop *loop = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct sctx r = {0}, w = {0};
    r.s = wrap(loop, p[0]);
    w.s = wrap(loop, p[1]);
    r.free_in_cb = w.free_in_cb = true;
    w.more = 3;
    assert_int_equal(eddy_stream_read_until_close(r.s, read_cb, &r), 0);
    assert_int_equal(eddy_stream_write(w.s, NULL, 0, write_cb, &w), 0);
    assert_true(run_until(loop, writes_done, &w, 10));
    assert_int_equal(w.writes, 4);
    assert_true(run_until(loop, reads_seen, &r, 10));
    assert_int_equal(r.err, 0);
    assert_int_equal(r.len, 9);
}

/* eddy_loop_close(loop, true) closes a registered stream through its close
 * function: the stream is closed, and freeing it later closes nothing. */
static void test_stream_closed_by_loop_close(void **state)
{
    eddy_loop *loop = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct sctx r = {0};
    r.s = wrap(loop, p[0]);
    assert_int_equal(eddy_stream_read_until_close(r.s, read_cb, &r), 0);
    assert_int_equal(eddy_loop_close(loop, true), 0);
    assert_true(eddy_stream_closed(r.s));
    assert_int_equal(fcntl(p[0], F_GETFD), -1);
    int q[2];
    assert_int_equal(pipe(q), 0); /* may reuse p[0]'s number */
    eddy__stream_free(r.s);
    assert_true(fcntl(q[0], F_GETFD) != -1 && fcntl(q[1], F_GETFD) != -1);
    assert_int_equal(r.reads, 0);
    close(q[0]);
    close(q[1]);
    close(p[1]);
}

/* Writes that fail for lack of memory change nothing. */
static void test_stream_write_alloc_failure(void **state)
{
    eddy_loop *loop = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct sctx w = {0};
    w.s = wrap(loop, p[1]);
    for (long nth = 1;; nth++) {
        eddy__alloc_fail(nth, false);
        int err = eddy_stream_write(w.s, "hello", 5, write_cb, &w);
        eddy__alloc_fail(0, false);
        if (err == 0) {
            break;
        }
        assert_int_equal(err, -ENOMEM);
        assert_true(nth < 20);
    }
    w.free_in_cb = true;
    assert_true(run_until(loop, writes_done, &w, 10));
    assert_int_equal(w.writes, 1);
    char buf[16];
    assert_int_equal(read(p[0], buf, sizeof buf), 5);
    assert_memory_equal(buf, "hello", 5);
    close(p[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_subprocess_new_alloc_failures,
                                        setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(
            test_subprocess_new_out_of_descriptors, setup_loop,
            teardown_loop),
        cmocka_unit_test_setup_teardown(test_subprocess_new_fork_failure,
                                        setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_subprocess_path_search,
                                        setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(
            test_subprocess_post_retried_after_enomem, setup_loop,
            teardown_loop),
        cmocka_unit_test_setup_teardown(
            test_subprocess_requests_alloc_failures, setup_loop,
            teardown_loop),
        cmocka_unit_test_setup_teardown(
            test_subprocess_detached_child_leaves_registry, setup_loop,
            teardown_loop),
        cmocka_unit_test_setup_teardown(test_stream_free_inside_callbacks,
                                        setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_stream_closed_by_loop_close,
                                        setup_loop, teardown_loop),
        cmocka_unit_test_setup_teardown(test_stream_write_alloc_failure,
                                        setup_loop, teardown_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
