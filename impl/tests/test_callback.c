/* impl/tests/test_callback.c - white-box tests of callbacks (SPEC §4):
 * FIFO through ring growth, the cross-thread queue with real threads, and
 * add_callback_from_signal from real signal handlers.
 */
#define _GNU_SOURCE
#include "loop_fixture.h"

/* --- §4 callbacks ---------------------------------------------------------- */

static int tree_cb(eddy_loop *loop, void *arg)
{
    intptr_t k = (intptr_t)arg;
    logf_("%ld ", (long)k);
    for (intptr_t c = 3 * k + 1; c <= 3 * k + 3 && c < 400; c++) {
        assert_int_equal(eddy_loop_add_callback(loop, tree_cb, (void *)c), 0);
    }
    return 0;
}

/* Breadth-first order across iterations proves FIFO through ring growth
 * and wrap-around. */
static void test_callback_fifo_through_growth(void **state)
{
    struct fx *f = *state;
    assert_int_equal(eddy_loop_add_callback(f->loop, tree_cb, (void *)0), 0);
    int iterations = 0;
    while (f->loop->ring.count > 0 || iterations == 0) {
        iterate(f->loop);
        iterations++;
    }
    assert_int_equal(iterations, 7); /* levels of the tree */
    expect_sequence(f->log, 400);
}

static void test_callback_argument_errors(void **state)
{
    struct fx *f = *state;
    assert_int_equal(eddy_loop_add_callback(NULL, nop_cb, NULL), -EINVAL);
    assert_int_equal(eddy_loop_add_callback(f->loop, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_loop_spawn_callback(f->loop, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_loop_add_callback_from_signal(NULL, nop_cb, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_add_callback_from_signal(f->loop, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy__loop_add_callback_owned(f->loop, NULL, NULL,
                                                   count_dispose), -EINVAL);
    assert_int_equal(eddy__loop_add_callback_owned(NULL, nop_cb, NULL, NULL),
                     -EINVAL);
}

static void test_callback_signal_queue_bounded(void **state)
{
    struct fx *f = *state;
    int n = 0;
    while (eddy_loop_add_callback_from_signal(f->loop, log_int_cb,
                                              (void *)(intptr_t)n) == 0) {
        n++;
    }
    assert_int_equal(n, EDDY__SIGQ_SLOTS);
    assert_true(n >= EDDY_SIGNAL_QUEUE_MIN);
    assert_int_equal(eddy_loop_add_callback_from_signal(f->loop, log_int_cb,
                                                        NULL), -EAGAIN);
    iterate(f->loop);
    expect_sequence(f->log, n);
    f->log[0] = '\0';
    assert_int_equal(eddy_loop_add_callback_from_signal(f->loop, log_cb, "z"),
                     0);
    iterate(f->loop);
    assert_string_equal(f->log, "z ");
}

static void test_callback_owned_runs_once(void **state)
{
    struct fx *f = *state;
    disposed = 0;
    assert_int_equal(eddy__loop_add_callback_owned(f->loop, log_cb, "o",
                                                   count_dispose), 0);
    assert_int_equal(eddy__loop_add_callback_owned(f->loop, log_cb, "p",
                                                   NULL), 0);
    iterate(f->loop);
    assert_string_equal(f->log, "o p ");
    assert_int_equal(disposed, 0);
}

#define PRODUCERS 4
#define PER_PRODUCER 20000

struct xthread {
    eddy_loop *loop;
    long next[PRODUCERS]; /* loop thread only */
    long total;
    bool in_order;
    atomic_bool failed; /* a producer got an error */
};

static struct xthread xt;

static int xthread_cb(eddy_loop *loop, void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    size_t id = v >> 24;
    long seq = (long)(v & 0xffffff);
    if (seq != xt.next[id]) {
        xt.in_order = false;
    }
    xt.next[id] = seq + 1;
    if (++xt.total == (long)PRODUCERS * PER_PRODUCER) {
        return eddy_loop_stop(loop);
    }
    return 0;
}

static void *producer(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (uintptr_t i = 0; i < PER_PRODUCER; i++) {
        if (eddy_loop_add_callback(xt.loop, xthread_cb,
                                   (void *)(id << 24 | i)) != 0) {
            atomic_store(&xt.failed, true);
        }
        if (i % 1024 == 0) {
            sched_yield();
        }
    }
    return NULL;
}

static void test_callback_cross_thread_order(void **state)
{
    struct fx *f = *state;
    use_real_os(f->loop);
    memset(&xt, 0, sizeof xt);
    xt.loop = f->loop;
    xt.in_order = true;
    pthread_t th[PRODUCERS];
    for (uintptr_t i = 0; i < PRODUCERS; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, producer, (void *)i), 0);
    }
    assert_int_equal(eddy_loop_start(f->loop), 0);
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(th[i], NULL);
    }
    assert_false(atomic_load(&xt.failed));
    assert_true(xt.in_order);
    assert_int_equal(xt.total, (long)PRODUCERS * PER_PRODUCER);
    assert_int_equal(f->loop->ring.count, 0);
}

static int late_rc;

static void *late_stop(void *arg)
{
    sleep_ms(30);
    late_rc = eddy_loop_add_callback(arg, stop_cb, "late");
    return NULL;
}

static void test_callback_cross_thread_wakes_poll(void **state)
{
    struct fx *f = *state;
    use_real_os(f->loop);
    pthread_t th;
    double t0 = eddy_loop_time(f->loop);
    assert_int_equal(pthread_create(&th, NULL, late_stop, f->loop), 0);
    assert_int_equal(eddy_loop_start(f->loop), 0); /* blocks in poll(-1) */
    pthread_join(th, NULL);
    assert_int_equal(late_rc, 0);
    assert_string_equal(f->log, "late ");
    assert_true(eddy_loop_time(f->loop) - t0 >= 0.03);
}

static void *add_after_close(void *arg)
{
    int *rc = arg;
    *rc = eddy_loop_add_callback(F->loop, must_not_run, NULL);
    return NULL;
}

static void test_callback_foreign_after_close(void **state)
{
    struct fx *f = *state;
    int rc = 0;
    pthread_t th;
    assert_int_equal(eddy_loop_close(f->loop, false), 0);
    assert_int_equal(pthread_create(&th, NULL, add_after_close, &rc), 0);
    pthread_join(th, NULL);
    assert_int_equal(rc, -ESHUTDOWN);
}

/* --- add_callback_from_signal from a real signal handler ----------------- */

static eddy_loop *sig_loop;
static atomic_long sig_queued;
static long sig_ran;
static atomic_bool sender_done;
static long local_added;

static int sig_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    sig_ran++;
    return 0;
}

static void on_sigusr1(int sig)
{
    (void)sig;
    if (eddy_loop_add_callback_from_signal(sig_loop, sig_cb, NULL) == 0) {
        atomic_fetch_add(&sig_queued, 1);
    }
}

static void install_handler(struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, old), 0);
}

struct sender {
    pthread_t target;
    int count;
};

static void *send_signals(void *arg)
{
    struct sender *s = arg;
    for (int i = 0; i < s->count; i++) {
        pthread_kill(s->target, SIGUSR1);
        if (i % 8 == 0) {
            sleep_ms(0);
            sched_yield();
        }
    }
    atomic_store(&sender_done, true);
    return NULL;
}

/* The loop thread keeps calling add_callback (ring and foreign paths are
 * both exercised) while signals interrupt it anywhere. */
static int busy_cb(eddy_loop *loop, void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(eddy_loop_add_callback(loop, nop_cb, NULL), 0);
        local_added++;
    }
    if (atomic_load(&sender_done) && sig_ran == atomic_load(&sig_queued)) {
        return eddy_loop_stop(loop);
    }
    return eddy_loop_add_callback(loop, busy_cb, NULL);
}

static void test_callback_signal_interrupts_loop_thread(void **state)
{
    struct fx *f = *state;
    use_real_os(f->loop);
    sig_loop = f->loop;
    sig_ran = 0;
    local_added = 0;
    atomic_store(&sig_queued, 0);
    atomic_store(&sender_done, false);
    struct sigaction old;
    install_handler(&old);
    struct sender s = {pthread_self(), 3000};
    pthread_t th;
    assert_int_equal(eddy_loop_add_callback(f->loop, busy_cb, NULL), 0);
    assert_int_equal(pthread_create(&th, NULL, send_signals, &s), 0);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    pthread_join(th, NULL);
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
    assert_true(atomic_load(&sig_queued) > 0);
    assert_int_equal(sig_ran, atomic_load(&sig_queued));
    iterate(f->loop); /* drain the nop callbacks */
}

static void *raise_later(void *arg)
{
    (void)arg;
    sleep_ms(30);
    raise(SIGUSR1); /* handled on this thread, not the loop's */
    return NULL;
}

static int stop_when_signalled(eddy_loop *loop, void *arg)
{
    (void)arg;
    sig_ran++;
    return eddy_loop_stop(loop);
}

static void on_sigusr1_stop(int sig)
{
    (void)sig;
    if (eddy_loop_add_callback_from_signal(sig_loop, stop_when_signalled,
                                           NULL) == 0) {
        atomic_fetch_add(&sig_queued, 1);
    }
}

static void test_callback_signal_wakes_poll(void **state)
{
    struct fx *f = *state;
    use_real_os(f->loop);
    sig_loop = f->loop;
    sig_ran = 0;
    atomic_store(&sig_queued, 0);
    struct sigaction sa;
    struct sigaction old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1_stop;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    /* raise() is thread-directed: the handler runs on the new thread. The
     * loop thread blocks SIGUSR1 so only the eventfd can wake its poll. */
    sigset_t block;
    sigset_t prev;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, raise_later, NULL), 0);
    pthread_sigmask(SIG_BLOCK, &block, &prev);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    pthread_join(th, NULL);
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
    assert_int_equal(sig_ran, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE(test_callback_fifo_through_growth),
        CASE(test_callback_argument_errors),
        CASE(test_callback_signal_queue_bounded),
        CASE(test_callback_owned_runs_once),
        CASE(test_callback_cross_thread_order),
        CASE(test_callback_cross_thread_wakes_poll),
        CASE(test_callback_foreign_after_close),
        CASE(test_callback_signal_interrupts_loop_thread),
        CASE(test_callback_signal_wakes_poll),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
