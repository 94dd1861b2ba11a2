/* impl/tests/test_cov_loop.c - white-box checks of the loop core (SPEC
 * §2-§5) that ordinary use does not reach: that eddy__loop_check() really
 * fails on each kind of corrupted state (so the tests that rely on it can
 * fail), the empty-queue and NULL edges of the internal calls, a wrapped
 * timer serial, close called again from a close function, interrupted
 * eventfd reads and writes, and a run_sync timeout too far to represent.
 */
#define _GNU_SOURCE
#include "loop_fixture.h"

/* --- read(2) and write(2) on the wake eventfd, wrapped ----------------------
 */

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

ssize_t __real_read(int fd, void *buf, size_t len);
ssize_t __real_write(int fd, const void *buf, size_t len);

static atomic_int eintr_read_fd = -1;  /* the next read of this fd: EINTR */
static atomic_int eintr_write_fd = -1; /* the next write to it: EINTR */

NO_SANITIZE
ssize_t __wrap_read(int fd, void *buf, size_t len)
{
    int armed = fd;
    if (fd >= 0 && atomic_compare_exchange_strong(&eintr_read_fd, &armed, -1)) {
        errno = EINTR;
        return -1;
    }
    return __real_read(fd, buf, len);
}

NO_SANITIZE
ssize_t __wrap_write(int fd, const void *buf, size_t len)
{
    int armed = fd;
    if (fd >= 0 &&
        atomic_compare_exchange_strong(&eintr_write_fd, &armed, -1)) {
        errno = EINTR;
        return -1;
    }
    return __real_write(fd, buf, len);
}

/* --- corrupting and restoring one field ------------------------------------
 */

/* Set *field to bad, check that eddy__loop_check() notices, put it back
 * and check that all is well again. */
#define EXPECT_CAUGHT(loop, field, bad)                                        \
    do {                                                                       \
        __typeof__(field) saved_ = (field);                                    \
        (field) = (bad);                                                       \
        assert_false(eddy__loop_check(loop));                                  \
        (field) = saved_;                                                      \
        assert_true(eddy__loop_check(loop));                                   \
    } while (0)

static int counter;

static int count_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    counter++;
    return 0;
}

static int add_one(eddy_loop *loop, void *arg)
{
    (void)arg;
    return eddy_loop_add_callback(loop, count_cb, NULL);
}

/* SPEC §3: the handler table and the pollfd array must agree. */
static void test_cov_loop_check_catches_bad_handlers(void **state)
{
    struct fx *f = *state;
    eddy_loop *loop = f->loop;
    int p[2];
    make_pipe(p);
    assert_int_equal(
        eddy_loop_add_handler(loop, p[0], EDDY_READ, nop_handler, NULL), 0);
    assert_true(eddy__loop_check(loop));
    int fd = p[0];
    EXPECT_CAUGHT(loop, loop->pfds[1].fd, (int)loop->fd_cap + 3);
    EXPECT_CAUGHT(loop, loop->fds[fd].pidx, 5);
    EXPECT_CAUGHT(loop, loop->fds[fd].cb, NULL);
    EXPECT_CAUGHT(loop, loop->pfds[1].fd, ~fd);
    EXPECT_CAUGHT(loop, loop->pfds[1].events, 0);
    EXPECT_CAUGHT(loop, loop->fds[fd].events, EDDY_READ | 0x100u);
    EXPECT_CAUGHT(loop, loop->npfds, 0);
    EXPECT_CAUGHT(loop, loop->npfds, loop->pfd_cap + 1);
    EXPECT_CAUGHT(loop, loop->pfds[0].fd, loop->wake_fd + 100);
    EXPECT_CAUGHT(loop, loop->nready, loop->pfd_cap + 1);
    /* A table entry that claims a slot no pollfd gives it. */
    EXPECT_CAUGHT(loop, loop->fds[p[1]].pidx, 0);
    assert_int_equal(eddy_loop_remove_handler(loop, fd), 0);
    close_pipe(p);
}

/* SPEC §4: the ready ring and the taken vector keep their invariants. */
static void test_cov_loop_check_catches_bad_callbacks(void **state)
{
    struct fx *f = *state;
    eddy_loop *loop = f->loop;
    /* A callback added on the loop thread makes the ring exist. */
    assert_int_equal(eddy_loop_add_callback(loop, add_one, NULL), 0);
    iterate(loop);
    iterate(loop);
    assert_non_null(loop->ring.buf);
    EXPECT_CAUGHT(loop, loop->ring.cap, 3);
    EXPECT_CAUGHT(loop, loop->ring.tail, loop->ring.head + loop->ring.cap + 1);
    EXPECT_CAUGHT(loop, loop->ring.count, loop->ring.count + 5);
    EXPECT_CAUGHT(loop, loop->taken_pos, loop->taken_len + 1);
    EXPECT_CAUGHT(loop, loop->taken_len, loop->taken_cap + 1);
    /* A vector and its capacity are absent or present together. */
    EXPECT_CAUGHT(loop, loop->taken_cap, loop->taken == NULL ? 1 : 0);
    EXPECT_CAUGHT(loop, loop->ring.cap, 0);
}

/* SPEC §5: heap order, back-pointers and the free slots. */
static void test_cov_loop_check_catches_bad_timers(void **state)
{
    struct fx *f = *state;
    eddy_loop *loop = f->loop;
    eddy_timeout a, b, c;
    double now = eddy_loop_time(loop);
    assert_int_equal(eddy_loop_call_at(loop, now + 1, count_cb, NULL, &a), 0);
    assert_int_equal(eddy_loop_call_at(loop, now + 2, count_cb, NULL, &b), 0);
    assert_int_equal(eddy_loop_call_at(loop, now + 3, count_cb, NULL, &c), 0);
    assert_int_equal(eddy_loop_remove_timeout(loop, c), 0); /* a free slot */
    assert_true(eddy__loop_check(loop));
    uint32_t sa = heap_slot(a);
    uint32_t sc = heap_slot(c);
    EXPECT_CAUGHT(loop, loop->heap.ent[0].handle,
                  ((uint64_t)1 << EDDY__SLOT_BITS) | (loop->nslots + 5));
    EXPECT_CAUGHT(loop, loop->heap.ent[0].handle,
                  loop->heap.ent[0].handle + ((uint64_t)1 << EDDY__SLOT_BITS));
    EXPECT_CAUGHT(loop, loop->timers[sa].heap_idx, 1);
    EXPECT_CAUGHT(loop, loop->heap.ent[0].deadline_ns,
                  loop->heap.ent[1].deadline_ns + 1);
    EXPECT_CAUGHT(loop, loop->nslots, loop->slot_cap + 1);
    EXPECT_CAUGHT(loop, loop->nfree, loop->nslots + 1);
    EXPECT_CAUGHT(loop, loop->timers[sc].handle, c);
    /* A record beyond the used slots that looks live but is nowhere. */
    assert_true(loop->nslots < loop->slot_cap);
    uint32_t extra = loop->nslots;
    loop->timers[extra] =
        (struct eddy__timer){.cb = count_cb,
                             .handle = ((uint64_t)7 << EDDY__SLOT_BITS) | extra,
                             .heap_idx = loop->heap.len};
    EXPECT_CAUGHT(loop, loop->nslots, extra + 1);
    loop->timers[extra].heap_idx = 0;
    loop->timers[extra].handle = ((uint64_t)7 << EDDY__SLOT_BITS) | sa;
    EXPECT_CAUGHT(loop, loop->nslots, extra + 1);
    assert_int_equal(eddy_loop_remove_timeout(loop, a), 0);
    assert_int_equal(eddy_loop_remove_timeout(loop, b), 0);
}

/* SPEC §2.10: a closed loop holds nothing; each leftover is caught. */
static void test_cov_loop_check_closed_loop(void **state)
{
    (void)state;
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), 0);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_true(eddy__loop_check(loop));
    static char dummy[64];
    EXPECT_CAUGHT(loop, loop->pfds, (struct pollfd *)dummy);
    EXPECT_CAUGHT(loop, loop->fds, (struct eddy__fd_rec *)dummy);
    EXPECT_CAUGHT(loop, loop->ring.buf, (struct eddy__cb *)dummy);
    EXPECT_CAUGHT(loop, loop->in_buf, (struct eddy__cb *)dummy);
    EXPECT_CAUGHT(loop, loop->taken, (struct eddy__cb *)dummy);
    EXPECT_CAUGHT(loop, loop->heap.ent, (struct eddy__heap_ent *)dummy);
    EXPECT_CAUGHT(loop, loop->timers, (struct eddy__timer *)dummy);
    EXPECT_CAUGHT(loop, loop->batch, (struct eddy__heap_ent *)dummy);
    EXPECT_CAUGHT(loop, loop->wake_fd, 5);
    assert_false(eddy__loop_check(NULL));
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* The internal calls on their edges: NULL loops, empty queues. */
static void test_cov_loop_internal_edges(void **state)
{
    struct fx *f = *state;
    assert_int_equal(eddy__loop_check_thread(NULL), -EINVAL);
    eddy__loop_set_clock(NULL, fake_clock, f);
    eddy__loop_set_poll(NULL, fake_poll, f);
    assert_int_equal(f->loop->heap.len, 0);
    assert_int_equal(eddy__timers_poll_timeout(f->loop, 0), -1);
    eddy__timers_run(f->loop); /* nothing due, nothing to do */
    assert_int_equal(eddy_periodic_stop(NULL), 0);
    assert_false(eddy_periodic_is_running(NULL));
    assert_true(eddy__loop_check(f->loop));
}

/* SPEC §5.6: when the serial counter wraps, handles stay valid and
 * distinct and their timeouts run once each. */
static void test_cov_loop_timer_serial_wraps(void **state)
{
    struct fx *f = *state;
    eddy_loop *loop = f->loop;
    counter = 0;
    loop->serial = EDDY__SERIAL_MAX;
    eddy_timeout a, b;
    assert_int_equal(eddy_loop_call_later(loop, 0.001, count_cb, NULL, &a), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0.002, count_cb, NULL, &b), 0);
    assert_int_equal(loop->serial, 2);
    assert_true(a != b && a != 0 && b != 0);
    for (int i = 0; i < 5; i++) {
        f->now += 1000000; /* 1 ms of virtual time per iteration */
        iterate(loop);
    }
    assert_int_equal(counter, 2);
    assert_int_equal(eddy_loop_remove_timeout(loop, a), -ENOENT);
}

static int reentrant_rc;

static void close_again(int fd, void *obj)
{
    eddy_loop *loop = obj;
    reentrant_rc = eddy_loop_close(loop, true) == -ESHUTDOWN &&
                   eddy_loop_free(loop) == -EBUSY;
    close(fd);
}

/* SPEC §2.10, §2.12: close or free called again from a close function
 * while the loop closes is refused. */
static void test_cov_loop_close_from_close_function(void **state)
{
    (void)state;
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), 0);
    int p[2];
    make_pipe(p);
    assert_int_equal(eddy_loop_add_handler_object(
                         loop, p[0], EDDY_READ, nop_handler, loop, close_again),
                     0);
    reentrant_rc = 0;
    assert_int_equal(eddy_loop_close(loop, true), 0);
    assert_int_equal(reentrant_rc, 1);
    assert_int_equal(eddy_loop_free(loop), 0);
    close(p[1]);
}

static int stop_now(eddy_loop *loop, void *arg)
{
    (void)arg;
    return eddy_loop_stop(loop);
}

static int count_and_stop(eddy_loop *loop, void *arg)
{
    counter++;
    return stop_now(loop, arg);
}

static void *run_loop(void *arg)
{
    eddy_loop_start(arg);
    return NULL;
}

/* SPEC §4.3: a wake-up of a loop blocked in poll whose eventfd write, and
 * then read, is interrupted is retried, and the callback runs. */
static void test_cov_loop_wakeup_interrupted(void **state)
{
    (void)state;
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), 0);
    counter = 0;
    /* A bound on the test: the loop stops after 10 s whatever happens. */
    assert_int_equal(eddy_loop_call_later(loop, 10.0, stop_now, NULL, NULL), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_loop, loop), 0);
    /* Wait until the loop sleeps in poll: only then is the fd written. */
    for (int i = 0; i < 5000 && atomic_load(&loop->sleeping) == 0; i++) {
        usleep(1000);
    }
    assert_int_not_equal(atomic_load(&loop->sleeping), 0);
    atomic_store(&eintr_write_fd, loop->wake_fd);
    atomic_store(&eintr_read_fd, loop->wake_fd);
    assert_int_equal(eddy_loop_add_callback(loop, count_and_stop, NULL), 0);
    pthread_join(t, NULL);
    assert_int_equal(counter, 1);
    assert_int_equal(atomic_load(&eintr_write_fd), -1);
    assert_int_equal(atomic_load(&eintr_read_fd), -1);
    assert_true(eddy__loop_check(loop));
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* --- a callback that arrives while the loop decides to sleep -------------- */

static eddy_loop *racing_loop;

static int64_t racing_clock(void *arg)
{
    struct fx *f = arg;
    if (racing_loop != NULL) {
        /* Between the check for pending work and the sleep: what a signal
         * handler on this thread could do at exactly that moment. */
        eddy_loop *loop = racing_loop;
        racing_loop = NULL;
        assert_int_equal(
            eddy_loop_add_callback_from_signal(loop, count_and_stop, NULL), 0);
    }
    return f->now;
}

/* SPEC §4.6, §2.13: a callback queued after the loop computed a poll
 * timeout but before it sleeps makes that poll non-blocking. */
static void test_cov_loop_callback_arrives_before_sleep(void **state)
{
    struct fx *f = *state;
    counter = 0;
    assert_int_equal(eddy_loop_call_later(f->loop, 60.0, count_cb, NULL, NULL),
                     0);
    int polls = f->npolls;
    racing_loop = f->loop;
    eddy__loop_set_clock(f->loop, racing_clock, f);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    eddy__loop_set_clock(f->loop, fake_clock, f);
    assert_int_equal(counter, 1);
    assert_int_equal(f->timeouts[polls], 0); /* did not sleep */
}

/* --- the signal queue under contention ----------------------------------- */

#define SIG_PRODUCERS 4
#define SIG_PER_PRODUCER 5000

struct sigload {
    eddy_loop *loop;
    atomic_int ran[SIG_PRODUCERS];
    atomic_int done;
};

static struct sigload load;

static int sig_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    atomic_fetch_add(&load.ran[(intptr_t)arg], 1);
    return 0;
}

static void *sig_producer(void *arg)
{
    for (int i = 0; i < SIG_PER_PRODUCER; i++) {
        while (eddy_loop_add_callback_from_signal(load.loop, sig_cb, arg) ==
               -EAGAIN) {
            sched_yield(); /* full: let the loop drain it */
        }
    }
    atomic_fetch_add(&load.done, 1);
    return NULL;
}

static int poll_done(eddy_loop *loop, void *arg)
{
    (void)arg;
    int total = 0;
    for (int i = 0; i < SIG_PRODUCERS; i++) {
        total += atomic_load(&load.ran[i]);
    }
    if (atomic_load(&load.done) == SIG_PRODUCERS &&
        total == SIG_PRODUCERS * SIG_PER_PRODUCER) {
        return eddy_loop_stop(loop);
    }
    return eddy_loop_call_later(loop, 0.001, poll_done, NULL, NULL);
}

/* SPEC §4.6: producers racing for the same slots of the signal queue lose
 * nothing and run nothing twice. */
static void test_cov_loop_signal_queue_contended(void **state)
{
    (void)state;
    memset(&load, 0, sizeof load);
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &load.loop), 0);
    assert_int_equal(eddy_loop_add_callback(load.loop, poll_done, NULL), 0);
    pthread_t t[SIG_PRODUCERS];
    for (intptr_t i = 0; i < SIG_PRODUCERS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, sig_producer, (void *)i),
                         0);
    }
    assert_int_equal(eddy_loop_start(load.loop), 0);
    for (int i = 0; i < SIG_PRODUCERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(atomic_load(&load.ran[i]), SIG_PER_PRODUCER);
    }
    assert_int_equal(eddy_loop_free(load.loop), 0);
}

/* --- callbacks left over when memory ran out, then close ----------------- */

#define LEFTOVER 100

static unsigned char ran_once[LEFTOVER];

static int mark_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    ran_once[(intptr_t)arg]++;
    return 0;
}

/* SPEC §2.10, §4.2: callbacks from outside the loop thread that a drain
 * could not move for lack of memory are dropped unrun by close; none runs
 * twice, none leaks. */
static void test_cov_loop_close_after_short_drain(void **state)
{
    (void)state;
    for (long nth = 1; nth <= 6; nth++) {
        eddy_loop *loop = NULL;
        assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), 0);
        memset(ran_once, 0, sizeof ran_once);
        for (intptr_t i = 0; i < LEFTOVER; i++) {
            assert_int_equal(eddy_loop_add_callback(loop, mark_cb, (void *)i),
                             0);
        }
        eddy__alloc_fail(nth, true);
        assert_int_equal(eddy_loop_stop(loop), 0);
        assert_int_equal(eddy_loop_start(loop), 0);
        eddy__alloc_fail(0, false);
        assert_true(eddy__loop_check(loop));
        assert_int_equal(eddy_loop_close(loop, false), 0);
        for (int i = 0; i < LEFTOVER; i++) {
            assert_true(ran_once[i] <= 1);
        }
        assert_int_equal(eddy_loop_free(loop), 0);
    }
}

static int give_nothing(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)loop;
    (void)arg;
    *out = NULL;
    return 0;
}

/* SPEC §2.8: a timeout too far away to represent is no timeout at all. */
static void test_cov_loop_run_sync_far_timeout(void **state)
{
    struct fx *f = *state;
    void *result = &counter;
    eddy__loop_set_poll(f->loop, NULL, NULL);
    eddy__loop_set_clock(f->loop, NULL, NULL);
    assert_int_equal(
        eddy_loop_run_sync(f->loop, 1e300, give_nothing, NULL, &result), 0);
    assert_null(result);
    assert_int_equal(f->loop->heap.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_cov_loop_check_catches_bad_handlers, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cov_loop_check_catches_bad_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cov_loop_check_catches_bad_timers,
                                        setup, teardown),
        cmocka_unit_test(test_cov_loop_check_closed_loop),
        cmocka_unit_test_setup_teardown(test_cov_loop_internal_edges, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cov_loop_timer_serial_wraps, setup,
                                        teardown),
        cmocka_unit_test(test_cov_loop_close_from_close_function),
        cmocka_unit_test(test_cov_loop_wakeup_interrupted),
        cmocka_unit_test_setup_teardown(test_cov_loop_run_sync_far_timeout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cov_loop_callback_arrives_before_sleep, setup, teardown),
        cmocka_unit_test(test_cov_loop_signal_queue_contended),
        cmocka_unit_test(test_cov_loop_close_after_short_drain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
