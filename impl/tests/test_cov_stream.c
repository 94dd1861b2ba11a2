/* impl/tests/test_cov_stream.c - the paths of the pipe streams (SPEC
 * §8.15-§8.18) that the subprocess tests do not reach: a stream that reads
 * and writes one socket, writes that complete while the stream stays open,
 * partial writes, refused registrations, and failed or interrupted reads
 * (read(2) is wrapped to fail on demand).
 */
#define _GNU_SOURCE
#include "loop_fixture.h"

#include <sys/socket.h>

#include "eddy/stream.h"

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

/* --- read(2), wrapped: fail once on one fd ----------------------------- */

ssize_t __real_read(int fd, void *buf, size_t len);

static int read_fail_fd = -1;
static int read_fail_errno;

NO_SANITIZE
ssize_t __wrap_read(int fd, void *buf, size_t len)
{
    if (fd >= 0 && fd == read_fail_fd) {
        read_fail_fd = -1;
        errno = read_fail_errno;
        return -1;
    }
    return __real_read(fd, buf, len);
}

static void fail_next_read(int fd, int err)
{
    read_fail_fd = fd;
    read_fail_errno = err;
}

/* --- callbacks ------------------------------------------------------------ */

struct rec {
    int reads;
    int read_err;
    size_t read_len;
    int writes;
    int write_err;
};

static struct rec R;

static int on_read(eddy_loop *loop, eddy_stream *s, int err, const void *data,
                   size_t len, void *arg)
{
    (void)loop;
    (void)s;
    (void)data;
    (void)arg;
    R.reads++;
    R.read_err = err;
    R.read_len = len;
    return 0;
}

static int on_write(eddy_loop *loop, eddy_stream *s, int err, void *arg)
{
    (void)loop;
    (void)s;
    (void)arg;
    R.writes++;
    R.write_err = err;
    return 0;
}

static int stream_on(eddy_loop *loop, int fd, eddy_stream **out)
{
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    return eddy__stream_new(loop, fd, out);
}

static bool registered(eddy_loop *loop, int fd)
{
    int rc = eddy_loop_add_handler(loop, fd, EDDY_NONE, nop_handler, NULL);
    if (rc == 0) {
        assert_int_equal(eddy_loop_remove_handler(loop, fd), 0);
    }
    return rc == -EEXIST;
}

/* --- tests ------------------------------------------------------------------
 */

static void test_cov_stream_null_arguments(void **state)
{
    (void)state;
    assert_int_equal(eddy_stream_close(NULL), -EINVAL);
    assert_true(eddy_stream_closed(NULL));
    assert_int_equal(eddy_stream_write(NULL, "x", 1, NULL, NULL), -EINVAL);
    char byte = 0;
    eddy_stream *s = NULL;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(stream_on(F->loop, sv[0], &s), 0);
    assert_int_equal(eddy_stream_write(s, NULL, 1, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_stream_read_until_close(s, NULL, NULL), -EINVAL);
    /* With a byte queued, no length fits beside it: refused before any
     * allocation is tried. */
    assert_int_equal(eddy_stream_write(s, &byte, 1, NULL, NULL), 0);
    assert_int_equal(eddy_stream_write(s, &byte, SIZE_MAX, NULL, NULL),
                     -ENOMEM);
    eddy__stream_free(s);
    close(sv[1]);
}

/* One socket read and written by one stream: the registration grows from
 * READ to READ|WRITE and back, and a write completes with the stream left
 * open, which unregisters it once nothing is pending. */
static void test_cov_stream_read_and_write_one_socket(void **state)
{
    struct fx *f = *state;
    memset(&R, 0, sizeof R);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    eddy_stream *s = NULL;
    assert_int_equal(stream_on(f->loop, sv[0], &s), 0);
    assert_int_equal(eddy_stream_write(s, "ab", 2, on_write, NULL), 0);
    iterate(f->loop);
    assert_int_equal(R.writes, 1);
    assert_int_equal(R.write_err, 0);
    assert_false(registered(f->loop, sv[0]));
    assert_int_equal(eddy_stream_read_until_close(s, on_read, NULL), 0);
    assert_int_equal(eddy_stream_write(s, "cd", 2, on_write, NULL), 0);
    iterate(f->loop);
    assert_int_equal(R.writes, 2);
    assert_true(registered(f->loop, sv[0]));
    char buf[8];
    assert_int_equal(read(sv[1], buf, sizeof buf), 4);
    assert_int_equal(write(sv[1], "xyz", 3), 3);
    close(sv[1]);
    iterate(f->loop);
    assert_int_equal(R.reads, 1);
    assert_int_equal(R.read_err, 0);
    assert_int_equal(R.read_len, 3);
    assert_true(eddy_stream_closed(s));
    eddy__stream_free(s);
}

/* A pipe with a small buffer takes part of a write: the rest stays queued
 * and the next write slides it to the front of the buffer first. */
static void test_cov_stream_partial_write_then_compact(void **state)
{
    struct fx *f = *state;
    memset(&R, 0, sizeof R);
    int p[2];
    make_pipe(p);
    int cap = fcntl(p[1], F_SETPIPE_SZ, 4096);
    assert_true(cap >= 4096);
    size_t big = (size_t)cap + 1000;
    char *data = calloc(1, big * 2);
    assert_non_null(data);
    eddy_stream *s = NULL;
    assert_int_equal(stream_on(f->loop, p[1], &s), 0);
    assert_int_equal(eddy_stream_write(s, data, big, on_write, NULL), 0);
    iterate(f->loop); /* fills the pipe: part of the write stays queued */
    assert_int_equal(R.writes, 0);
    /* Four more writes fill the record array, so the fifth compacts. */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(eddy_stream_write(s, data, 10, on_write, NULL), 0);
    }
    assert_int_equal(eddy_stream_write(s, data, big * 2, on_write, NULL), 0);
    char *sink = malloc(65536);
    assert_non_null(sink);
    for (int i = 0; i < 1000 && R.writes < 6; i++) {
        while (read(p[0], sink, 65536) > 0) {
        }
        iterate(f->loop);
    }
    assert_int_equal(R.writes, 6);
    assert_int_equal(R.write_err, 0);
    free(sink);
    free(data);
    eddy__stream_free(s);
    close(p[0]);
}

/* A registration the loop refuses (the fd is registered already) fails
 * the call and leaves nothing queued (SPEC §1.3). */
static void test_cov_stream_refused_registration(void **state)
{
    struct fx *f = *state;
    memset(&R, 0, sizeof R);
    int p[2];
    make_pipe(p);
    eddy_stream *r = NULL;
    eddy_stream *w = NULL;
    assert_int_equal(stream_on(f->loop, p[0], &r), 0);
    assert_int_equal(stream_on(f->loop, p[1], &w), 0);
    assert_int_equal(
        eddy_loop_add_handler(f->loop, p[0], EDDY_READ, nop_handler, NULL), 0);
    assert_int_equal(
        eddy_loop_add_handler(f->loop, p[1], EDDY_WRITE, nop_handler, NULL), 0);
    assert_int_equal(eddy_stream_read_until_close(r, on_read, NULL), -EEXIST);
    assert_int_equal(eddy_stream_write(w, "x", 1, on_write, NULL), -EEXIST);
    assert_int_equal(eddy_loop_remove_handler(f->loop, p[0]), 0);
    assert_int_equal(eddy_loop_remove_handler(f->loop, p[1]), 0);
    /* Both work once the fds are free again, and nothing was queued. */
    assert_int_equal(eddy_stream_write(w, "y", 1, on_write, NULL), 0);
    assert_int_equal(eddy_stream_read_until_close(r, on_read, NULL), 0);
    iterate(f->loop);
    assert_int_equal(R.writes, 1);
    eddy__stream_free(w);
    iterate(f->loop);
    assert_int_equal(R.reads, 1);
    assert_int_equal(R.read_len, 1);
    eddy__stream_free(r);
}

/* An interrupted read is retried; a failed one ends the read with its
 * error; a buffer that cannot grow ends it with -ENOMEM. */
static void test_cov_stream_read_errors(void **state)
{
    struct fx *f = *state;
    static const int errs[] = {EINTR, EIO};
    for (int i = 0; i < 3; i++) {
        memset(&R, 0, sizeof R);
        int p[2];
        make_pipe(p);
        eddy_stream *s = NULL;
        assert_int_equal(stream_on(f->loop, p[0], &s), 0);
        assert_int_equal(eddy_stream_read_until_close(s, on_read, NULL), 0);
        assert_int_equal(write(p[1], "hello", 5), 5);
        close(p[1]);
        if (i < 2) {
            fail_next_read(p[0], errs[i]);
        } else {
            eddy__alloc_fail(1, false);
        }
        iterate(f->loop);
        eddy__alloc_fail(0, false);
        assert_int_equal(R.reads, 1);
        int want[] = {0, -EIO, -ENOMEM};
        assert_int_equal(R.read_err, want[i]);
        assert_int_equal(R.read_len, i == 0 ? 5 : 0);
        assert_true(eddy_stream_closed(s));
        eddy__stream_free(s);
    }
}

static int failing_write_cb(eddy_loop *loop, eddy_stream *s, int err, void *arg)
{
    on_write(loop, s, err, arg);
    return -EIO;
}

/* SPEC §1.5: when several completions fail, the first failure is the one
 * reported; a write without a callback completes silently. */
static void test_cov_stream_failing_completions(void **state)
{
    struct fx *f = *state;
    for (int broken = 0; broken < 2; broken++) {
        memset(&R, 0, sizeof R);
        f->nerrors = 0;
        int p[2];
        make_pipe(p);
        eddy_stream *s = NULL;
        assert_int_equal(stream_on(f->loop, p[1], &s), 0);
        assert_int_equal(eddy_stream_write(s, "a", 1, failing_write_cb, NULL),
                         0);
        assert_int_equal(eddy_stream_write(s, "b", 1, NULL, NULL), 0);
        assert_int_equal(eddy_stream_write(s, "c", 1, failing_write_cb, NULL),
                         0);
        if (broken) {
            close(p[0]); /* every write fails with -EPIPE */
        }
        iterate(f->loop);
        assert_int_equal(R.writes, 2);
        assert_int_equal(R.write_err, broken ? -EPIPE : 0);
        assert_int_equal(f->nerrors, 1);
        assert_int_equal(f->errors[0], -EIO);
        eddy__stream_free(s);
        if (!broken) {
            close(p[0]);
        }
    }
}

/* SPEC §8.17: a SIGPIPE that was already pending before the write is left
 * pending: only the one the write raised is consumed. */
static void test_cov_stream_pending_sigpipe_kept(void **state)
{
    struct fx *f = *state;
    memset(&R, 0, sizeof R);
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    raise(SIGPIPE);
    int p[2];
    make_pipe(p);
    close(p[0]);
    eddy_stream *s = NULL;
    assert_int_equal(stream_on(f->loop, p[1], &s), 0);
    assert_int_equal(eddy_stream_write(s, "x", 1, on_write, NULL), 0);
    iterate(f->loop);
    assert_int_equal(R.write_err, -EPIPE);
    sigset_t pending;
    sigpending(&pending);
    int still = sigismember(&pending, SIGPIPE);
    const struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    assert_int_equal(still, 1);
    eddy__stream_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cov_stream_null_arguments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_cov_stream_read_and_write_one_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cov_stream_partial_write_then_compact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cov_stream_refused_registration,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cov_stream_read_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cov_stream_failing_completions,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cov_stream_pending_sigpipe_kept,
                                        setup, teardown),

    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
