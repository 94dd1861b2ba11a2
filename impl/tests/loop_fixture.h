/* impl/tests/loop_fixture.h - what the white-box loop tests share: a loop
 * on a virtual clock and a fake poll (real readiness, virtual time), an
 * event log, and small callbacks. Test files define _GNU_SOURCE first.
 */
#ifndef EDDY_LOOP_FIXTURE_H
#define EDDY_LOOP_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop_int.h"

/* --- fixture: a loop on a virtual clock and a fake poll ----------------- */

struct fx {
    eddy_loop *loop;
    int64_t now;       /* virtual nanoseconds */
    int timeouts[64];  /* poll timeouts asked for */
    int npolls;
    int blocked;       /* polls that would have blocked forever */
    int fail_errno;    /* the next poll fails with this */
    char log[4096];
    int errors[16];    /* values given to the error handler */
    int nerrors;
};

static struct fx *F;

static inline int64_t fake_clock(void *arg)
{
    return ((struct fx *)arg)->now;
}

/* Real readiness, virtual time: when nothing is ready the full timeout
 * passes at once. A wait without end stops the loop instead of hanging. */
static inline int fake_poll(struct pollfd *fds, unsigned long n, int ms,
                            void *arg)
{
    struct fx *f = arg;
    if (f->npolls < 64) {
        f->timeouts[f->npolls] = ms;
    }
    f->npolls++;
    if (f->fail_errno != 0) {
        errno = f->fail_errno;
        f->fail_errno = 0;
        return -1;
    }
    int r = poll(fds, (nfds_t)n, 0);
    if (r == 0 && ms > 0) {
        f->now += (int64_t)ms * 1000000;
    } else if (r == 0 && ms < 0) {
        f->blocked++;
        eddy_loop_stop(f->loop);
    }
    return r;
}

static inline void on_error(eddy_loop *loop, int err, void *arg)
{
    (void)loop;
    struct fx *f = arg;
    if (f->nerrors < 16) {
        f->errors[f->nerrors++] = err;
    }
}

static inline int setup(void **state)
{
    static struct fx fx;
    memset(&fx, 0, sizeof fx);
    fx.now = INT64_C(1000) * 1000000000;
    if (eddy_loop_new(EDDY_CURRENT_NEVER, &fx.loop) != 0) {
        return -1;
    }
    eddy__loop_set_clock(fx.loop, fake_clock, &fx);
    eddy__loop_set_poll(fx.loop, fake_poll, &fx);
    eddy_loop_set_error_handler(fx.loop, on_error, &fx);
    F = &fx;
    *state = &fx;
    return 0;
}

static inline int teardown(void **state)
{
    struct fx *f = *state;
    assert_true(eddy__loop_check(f->loop));
    assert_int_equal(eddy_loop_free(f->loop), 0);
    eddy_loop_clear_current();
    return 0;
}

static inline void logf_(const char *fmt, ...)
{
    size_t len = strlen(F->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(F->log + len, sizeof F->log - len, fmt, ap);
    va_end(ap);
}

/* One iteration with poll timeout 0 (SPEC §2.7). */
static inline void iterate(eddy_loop *loop)
{
    assert_int_equal(eddy_loop_stop(loop), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_true(eddy__loop_check(loop));
}

static inline int log_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    logf_("%s ", (const char *)arg);
    return 0;
}

static inline int stop_cb(eddy_loop *loop, void *arg)
{
    logf_("%s ", arg != NULL ? (const char *)arg : "stop");
    return eddy_loop_stop(loop);
}

static inline int fail_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    return (int)(intptr_t)arg;
}

static inline int log_handler(eddy_loop *loop, int fd, unsigned events,
                              void *arg)
{
    (void)loop;
    (void)fd;
    logf_("%s:%x ", (const char *)arg, events);
    return 0;
}

static inline void make_pipe(int p[2])
{
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

static inline void close_pipe(int p[2])
{
    close(p[0]);
    close(p[1]);
}

static inline int nop_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    return 0;
}

static inline int nop_handler(eddy_loop *loop, int fd, unsigned ev, void *arg)
{
    (void)loop;
    (void)fd;
    (void)ev;
    (void)arg;
    return 0;
}

static int disposed;

static inline void count_dispose(void *arg)
{
    assert_ptr_equal(arg, &disposed);
    disposed++;
}

static inline int must_not_run(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    fail_msg("a discarded callback ran");
    return 0;
}

static inline int write_byte(int fd)
{
    return (int)write(fd, "x", 1);
}

static inline int log_int_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    logf_("%d ", (int)(intptr_t)arg);
    return 0;
}

/* Cross-thread and signal cases run on the real clock and poll. */
static inline void use_real_os(eddy_loop *loop)
{
    eddy__loop_set_clock(loop, NULL, NULL);
    eddy__loop_set_poll(loop, NULL, NULL);
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The log holds the integers 0 .. n-1 in order, and nothing else. */
static inline void expect_sequence(const char *log, long n)
{
    const char *s = log;
    for (long want = 0; want < n; want++) {
        char *end = NULL;
        assert_int_equal(strtol(s, &end, 10), want);
        s = end + 1;
    }
    assert_int_equal(*s, '\0');
}

#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

#endif /* EDDY_LOOP_FIXTURE_H */
