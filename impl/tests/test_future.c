/* impl/tests/test_future.c - white-box tests of impl/future.c (SPEC §4.7,
 * §4.8), impl/executor.c (§4.9, §4.10) and impl/run_sync.c (§2.8), with a
 * real poll() loop, real threads and the allocation fault seam.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "eddy.h"
#include "internal.h"

/* --- helpers ----------------------------------------------------------- */

static eddy_loop *new_loop(void)
{
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), 0);
    return loop;
}

/* SPEC §2.7: stop before start runs exactly one iteration. */
static void run_one_iteration(eddy_loop *loop)
{
    assert_int_equal(eddy_loop_stop(loop), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

struct seen {
    int calls;
    eddy_future *future;
    void *arg;
};

static int record_future_cb(eddy_loop *loop, eddy_future *future, void *arg)
{
    struct seen *seen = arg;
    (void)loop;
    seen->calls++;
    seen->future = future;
    return 0;
}

static int stop_future_cb(eddy_loop *loop, eddy_future *future, void *arg)
{
    record_future_cb(loop, future, arg);
    return eddy_loop_stop(loop);
}

/* --- futures (SPEC §4.7) ----------------------------------------------- */

static void test_future_outcomes(void **state)
{
    (void)state;
    int token = 0;
    void *value = &token;
    eddy_future *f = NULL;
    assert_int_equal(eddy_future_new(NULL), -EINVAL);
    assert_int_equal(eddy_future_new(&f), 0);
    assert_false(eddy_future_done(f));
    assert_int_equal(eddy_future_result(f, &value), -EAGAIN);
    assert_ptr_equal(value, &token); /* untouched on error */
    assert_int_equal(eddy_future_set_result(f, &f), 0);
    assert_true(eddy_future_done(f));
    assert_int_equal(eddy_future_set_result(f, NULL), -EALREADY);
    assert_int_equal(eddy_future_set_error(f, -EIO), -EALREADY);
    assert_int_equal(eddy_future_cancel(f), -EALREADY);
    assert_int_equal(eddy_future_result(f, &value), 0);
    assert_ptr_equal(value, &f);
    assert_int_equal(eddy_future_result(f, NULL), 0);
    eddy_future_release(f);

    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_future_set_error(f, 0), -EINVAL);
    assert_int_equal(eddy_future_set_error(f, EIO), -EINVAL);
    assert_false(eddy_future_done(f));
    assert_int_equal(eddy_future_set_error(f, -EIO), 0);
    assert_int_equal(eddy_future_cancel(f), -EALREADY);
    assert_int_equal(eddy_future_result(f, &value), -EIO);
    eddy_future_release(f);

    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_future_cancel(f), 0);
    assert_int_equal(eddy_future_set_result(f, NULL), -EALREADY);
    assert_int_equal(eddy_future_result(f, NULL), -ECANCELED);
    eddy_future_release(f);

    assert_int_equal(eddy_future_set_result(NULL, NULL), -EINVAL);
    assert_int_equal(eddy_future_cancel(NULL), -EINVAL);
    assert_int_equal(eddy_future_result(NULL, &value), -EINVAL);
    assert_false(eddy_future_done(NULL));
}

static void test_future_refcounts(void **state)
{
    (void)state;
    eddy_future *f = NULL;
    assert_int_equal(eddy_future_new(&f), 0);
    assert_ptr_equal(eddy_future_retain(f), f);
    assert_ptr_equal(eddy_future_retain(f), f);
    eddy_future_release(f);
    eddy_future_release(f);
    assert_int_equal(eddy_future_set_result(f, NULL), 0); /* still alive */
    eddy_future_release(f); /* the last one: valgrind checks the free */
    eddy_future_release(NULL);
    assert_null(eddy_future_retain(NULL));
}

/* --- add_future (SPEC §4.8) -------------------------------------------- */

static void test_future_add_future_done_runs_later(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    eddy_future *f = NULL;
    struct seen seen = {0, NULL, NULL};
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_future_set_result(f, NULL), 0);
    assert_int_equal(eddy_loop_add_future(loop, f, record_future_cb, &seen),
                     0);
    assert_int_equal(seen.calls, 0); /* never synchronously */
    eddy_future_release(f);          /* the loop holds its own reference */
    run_one_iteration(loop);
    assert_int_equal(seen.calls, 1);
    assert_ptr_equal(seen.future, f);
    run_one_iteration(loop);
    assert_int_equal(seen.calls, 1); /* once */
    assert_int_equal(eddy_loop_free(loop), 0);
}

static int resolve_later_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    return eddy_future_set_result(arg, arg);
}

static void test_future_add_future_pending_then_resolved(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    eddy_future *f = NULL;
    struct seen seen = {0, NULL, NULL};
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_loop_add_future(loop, f, stop_future_cb, &seen), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0.01, resolve_later_cb, f,
                                          NULL),
                     0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_int_equal(seen.calls, 1);
    eddy_future_release(f);
    assert_int_equal(eddy_loop_free(loop), 0);
}

static void test_future_add_future_errors(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    eddy_future *f = NULL;
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_loop_add_future(loop, NULL, record_future_cb, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_add_future(loop, f, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_loop_add_future(NULL, f, record_future_cb, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_loop_add_future(loop, f, record_future_cb, NULL),
                     -ESHUTDOWN);
    eddy_future_release(f);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* SPEC §2.10: close discards future callbacks, pending or already posted,
 * and drops the loop's references (valgrind checks nothing leaks). */
static void test_future_add_future_close_without_running(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    eddy_future *pending = NULL;
    eddy_future *done = NULL;
    struct seen seen = {0, NULL, NULL};
    assert_int_equal(eddy_future_new(&pending), 0);
    assert_int_equal(eddy_future_new(&done), 0);
    assert_int_equal(eddy_future_set_result(done, NULL), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            eddy_loop_add_future(loop, pending, record_future_cb, &seen), 0);
        assert_int_equal(
            eddy_loop_add_future(loop, done, record_future_cb, &seen), 0);
    }
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_future_set_result(pending, NULL), 0);
    assert_int_equal(seen.calls, 0);
    eddy_future_release(pending);
    eddy_future_release(done);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* SPEC §4.8: one future, callbacks on two loops: each loop runs its own,
 * once, whatever the order they were registered in. */
static void test_future_add_future_many_registrations(void **state)
{
    (void)state;
    eddy_loop *a = new_loop();
    eddy_loop *b = new_loop();
    eddy_future *f = NULL;
    struct seen seen_a = {0, NULL, NULL};
    struct seen seen_b = {0, NULL, NULL};
    assert_int_equal(eddy_future_new(&f), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(eddy_loop_add_future(a, f, record_future_cb,
                                              &seen_a),
                         0);
        assert_int_equal(eddy_loop_add_future(b, f, record_future_cb,
                                              &seen_b),
                         0);
    }
    eddy_future *other = NULL; /* a neighbour left on b's list */
    assert_int_equal(eddy_future_new(&other), 0);
    assert_int_equal(eddy_loop_add_future(b, other, record_future_cb,
                                          &seen_b),
                     0);
    assert_int_equal(eddy_future_set_result(f, NULL), 0);
    eddy_future_release(f);
    run_one_iteration(a);
    assert_int_equal(seen_a.calls, 3);
    assert_int_equal(seen_b.calls, 0);
    run_one_iteration(b);
    assert_int_equal(seen_b.calls, 3);
    assert_int_equal(eddy_loop_free(a), 0);
    assert_int_equal(eddy_loop_free(b), 0); /* discards other's callback */
    assert_int_equal(eddy_future_set_result(other, NULL), 0);
    assert_int_equal(seen_b.calls, 3);
    eddy_future_release(other);
}

/* Closing one loop detaches only its own registrations, wherever they sit
 * in the future's list. */
static void test_future_close_one_of_two_loops(void **state)
{
    (void)state;
    eddy_loop *a = new_loop();
    eddy_loop *b = new_loop();
    eddy_future *f = NULL;
    struct seen seen_a = {0, NULL, NULL};
    struct seen seen_b = {0, NULL, NULL};
    assert_int_equal(eddy_future_new(&f), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(eddy_loop_add_future(a, f, record_future_cb,
                                              &seen_a),
                         0);
        assert_int_equal(eddy_loop_add_future(b, f, record_future_cb,
                                              &seen_b),
                         0);
    }
    assert_int_equal(eddy_loop_free(a), 0);
    assert_int_equal(eddy_future_set_result(f, NULL), 0);
    run_one_iteration(b);
    assert_int_equal(seen_a.calls, 0);
    assert_int_equal(seen_b.calls, 3);
    eddy_future_release(f);
    assert_int_equal(eddy_loop_free(b), 0);
}

static void *resolve_thread(void *arg)
{
    (void)eddy_future_set_result(arg, arg);
    return NULL;
}

/* Resolution on another thread racing with close and free of a loop that
 * has registrations: no use after free, no lost reference (TSan, valgrind).
 */
static void test_future_resolve_races_close(void **state)
{
    (void)state;
    for (int i = 0; i < 300; i++) {
        eddy_loop *loop = new_loop();
        eddy_future *f = NULL;
        struct seen seen = {0, NULL, NULL};
        pthread_t t;
        assert_int_equal(eddy_future_new(&f), 0);
        assert_int_equal(eddy_loop_add_future(loop, f, record_future_cb,
                                              &seen),
                         0);
        assert_int_equal(pthread_create(&t, NULL, resolve_thread, f), 0);
        if (i % 3 == 1) {
            run_one_iteration(loop);
        }
        if (i % 2 == 0) {
            assert_int_equal(eddy_loop_close(loop, false), 0);
        }
        assert_int_equal(eddy_loop_free(loop), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_true(seen.calls <= 1);
        eddy_future_release(f);
    }
}

struct waker {
    eddy_future *future;
    long delay_ms;
};

static void *resolve_after_thread(void *arg)
{
    struct waker *w = arg;
    sleep_ms(w->delay_ms);
    (void)eddy_future_set_result(w->future, w->future);
    return NULL;
}

/* SPEC §4.3, §4.8: another thread's resolution wakes a blocked loop. */
static void test_future_resolve_from_thread_wakes_loop(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    eddy_future *f = NULL;
    struct seen seen = {0, NULL, NULL};
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_loop_add_future(loop, f, stop_future_cb, &seen), 0);
    struct waker w = {f, 20};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, resolve_after_thread, &w), 0);
    assert_int_equal(eddy_loop_start(loop), 0); /* no timer: only the wake */
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(seen.calls, 1);
    eddy_future_release(f);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* --- executors (SPEC §4.9, §4.10) -------------------------------------- */

static atomic_int jobs_run;

static int count_job(void *arg, void **result)
{
    atomic_fetch_add(&jobs_run, 1);
    *result = arg;
    return 0;
}

static int slow_job(void *arg, void **result)
{
    sleep_ms(5);
    return count_job(arg, result);
}

static int failing_job(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return -EIO;
}

#define NJOBS 500

static void test_future_executor_runs_jobs(void **state)
{
    (void)state;
    static eddy_future *futures[NJOBS];
    eddy_loop *loop = new_loop();
    eddy_executor *ex = NULL;
    atomic_store(&jobs_run, 0);
    assert_int_equal(eddy_executor_new(0, &ex), -EINVAL);
    assert_int_equal(eddy_executor_new(1, NULL), -EINVAL);
    assert_int_equal(eddy_executor_new(4, &ex), 0);
    for (intptr_t i = 0; i < NJOBS; i++) {
        eddy_work_cb fn = i == 7 ? failing_job : count_job;
        assert_int_equal(eddy_loop_run_in_executor(loop, ex, fn, (void *)i,
                                                   &futures[i]),
                         0);
    }
    eddy_executor_free(ex); /* finishes every job first */
    assert_int_equal(atomic_load(&jobs_run), NJOBS - 1);
    for (intptr_t i = 0; i < NJOBS; i++) {
        void *value = NULL;
        int rc = eddy_future_result(futures[i], &value);
        assert_int_equal(rc, i == 7 ? -EIO : 0);
        assert_ptr_equal(value, i == 7 ? NULL : (void *)i);
        eddy_future_release(futures[i]);
    }
    eddy_executor_free(NULL);
    assert_int_equal(eddy_loop_free(loop), 0);
}

static void test_future_executor_free_waits_for_jobs(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    eddy_executor *ex = NULL;
    atomic_store(&jobs_run, 0);
    assert_int_equal(eddy_executor_new(2, &ex), 0);
    for (int i = 0; i < 20; i++) {
        eddy_future *f = NULL;
        assert_int_equal(eddy_loop_run_in_executor(loop, ex, slow_job, NULL,
                                                   &f),
                         0);
        eddy_future_release(f); /* the job keeps the future alive */
    }
    eddy_executor_free(ex);
    assert_int_equal(atomic_load(&jobs_run), 20);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* A job that blocks its worker until the gate opens. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;

static int gated_job(void *arg, void **result)
{
    pthread_mutex_lock(&gate_lock);
    while (!gate_open) {
        pthread_cond_wait(&gate_cond, &gate_lock);
    }
    pthread_mutex_unlock(&gate_lock);
    return count_job(arg, result);
}

static void open_gate(bool open)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = open;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

/* SPEC §4.10: with a one-worker default blocked by the gate, a NULL
 * executor job cannot run until the gate opens: it went to that worker. */
static void test_future_set_default_executor(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    eddy_executor *ex = NULL;
    eddy_future *blocker = NULL;
    eddy_future *f = NULL;
    atomic_store(&jobs_run, 0);
    open_gate(false);
    assert_int_equal(eddy_executor_new(1, &ex), 0);
    assert_int_equal(eddy_loop_set_default_executor(loop, NULL), -EINVAL);
    assert_int_equal(eddy_loop_set_default_executor(loop, ex), 0);
    assert_int_equal(
        eddy_loop_run_in_executor(loop, ex, gated_job, NULL, &blocker), 0);
    assert_int_equal(
        eddy_loop_run_in_executor(loop, NULL, count_job, loop, &f), 0);
    sleep_ms(30);
    assert_false(eddy_future_done(f));
    open_gate(true);
    assert_int_equal(eddy_loop_close(loop, false), 0); /* ex is not owned */
    assert_int_equal(eddy_loop_run_in_executor(loop, NULL, count_job, NULL,
                                               &f),
                     -ESHUTDOWN);
    eddy_executor_free(ex);
    void *value = NULL;
    assert_int_equal(eddy_future_result(f, &value), 0);
    assert_ptr_equal(value, loop);
    eddy_future_release(blocker);
    eddy_future_release(f);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* --- run_sync (SPEC §2.8) ---------------------------------------------- */

static int sync_none(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)loop;
    (void)out;
    (*(int *)arg)++;
    return 0;
}

static int sync_error(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)loop;
    (void)arg;
    (void)out;
    return -EPIPE;
}

/* Returns a future that a timer resolves with itself after 20 ms, or that
 * stays pending when arg is NULL. The timer fires while run_sync still
 * holds its reference. */
static int sync_later(eddy_loop *loop, void *arg, eddy_future **out)
{
    eddy_future *f = NULL;
    int rc = eddy_future_new(&f);
    if (rc == 0 && arg != NULL) {
        ((struct waker *)arg)->future = f;
        rc = eddy_loop_call_later(loop, 0.02, resolve_later_cb, f, NULL);
    }
    if (rc == 0) {
        *out = f;
    } else {
        eddy_future_release(f);
    }
    return rc;
}

static int sync_executor(eddy_loop *loop, void *arg, eddy_future **out)
{
    return eddy_loop_run_in_executor(loop, NULL, count_job, arg, out);
}

static int sync_failing_job(eddy_loop *loop, void *arg, eddy_future **out)
{
    return eddy_loop_run_in_executor(loop, NULL, failing_job, arg, out);
}

static int sync_cancelled(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)loop;
    (void)arg;
    int rc = eddy_future_new(out);
    if (rc == 0) {
        rc = eddy_future_cancel(*out);
    }
    return rc;
}

static void test_future_run_sync_outcomes(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    int calls = 0;
    void *result = &calls;
    assert_int_equal(eddy_loop_run_sync(loop, EDDY_NO_TIMEOUT, sync_none,
                                        &calls, &result),
                     0);
    assert_int_equal(calls, 1);
    assert_null(result);
    result = &calls;
    assert_int_equal(eddy_loop_run_sync(loop, 5.0, sync_error, NULL,
                                        &result),
                     -EPIPE);
    assert_ptr_equal(result, &calls); /* untouched on error */
    struct waker w = {NULL, 0};
    assert_int_equal(eddy_loop_run_sync(loop, 5.0, sync_later, &w, &result),
                     0);
    assert_ptr_equal(result, w.future); /* resolve_later_cb's value */
    assert_int_equal(eddy_loop_run_sync(loop, EDDY_NO_TIMEOUT, sync_executor,
                                        &w, &result),
                     0);
    assert_ptr_equal(result, &w);
    result = &calls;
    assert_int_equal(eddy_loop_run_sync(loop, 5.0, sync_failing_job, NULL,
                                        &result),
                     -EIO);
    assert_int_equal(eddy_loop_run_sync(loop, 5.0, sync_cancelled, NULL,
                                        &result),
                     -ECANCELED);
    assert_ptr_equal(result, &calls);
    assert_int_equal(eddy_loop_free(loop), 0); /* frees the default pool */
}

static void test_future_run_sync_invalid(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    int calls = 0;
    assert_int_equal(eddy_loop_run_sync(loop, 1.0, NULL, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_run_sync(loop, -0.5, sync_none, &calls, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_run_sync(loop, 0.0 / 0.0, sync_none, &calls,
                                        NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_run_sync(NULL, 1.0, sync_none, &calls, NULL),
                     -EINVAL);
    assert_int_equal(calls, 0);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_loop_run_sync(loop, 1.0, sync_none, &calls, NULL),
                     -ESHUTDOWN);
    assert_int_equal(calls, 0);
    assert_int_equal(eddy_loop_free(loop), 0);
}

static int nested_run_sync(eddy_loop *loop, void *arg)
{
    int *rc = arg;
    int calls = 0;
    *rc = eddy_loop_run_sync(loop, 1.0, sync_none, &calls, NULL);
    rc[1] = calls;
    return eddy_loop_stop(loop);
}

static int sync_pending_then_stop(eddy_loop *loop, void *arg,
                                  eddy_future **out)
{
    int rc = eddy_future_new(out);
    if (rc == 0) {
        *(eddy_future **)arg = eddy_future_retain(*out);
        rc = eddy_loop_stop(loop);
    }
    return rc;
}

/* A loop stopped before func's future is done: Tornado 6.2 reports a
 * timeout; the future is not cancelled, and what run_sync left behind
 * is released when the loop closes. */
static void test_future_run_sync_stopped_early(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    eddy_future *f = NULL;
    assert_int_equal(eddy_loop_run_sync(loop, EDDY_NO_TIMEOUT,
                                        sync_pending_then_stop, &f, NULL),
                     -ETIMEDOUT);
    assert_false(eddy_future_done(f));
    assert_int_equal(eddy_loop_free(loop), 0);
    assert_int_equal(eddy_future_set_result(f, NULL), 0);
    eddy_future_release(f);
}

/* SPEC §2.9: a nested run_sync is -EBUSY and func never runs. */
static void test_future_run_sync_nested_busy(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    int rc[2] = {1, 1};
    assert_int_equal(eddy_loop_add_callback(loop, nested_run_sync, rc), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_int_equal(rc[0], -EBUSY);
    run_one_iteration(loop); /* anything left behind stays inert */
    assert_int_equal(rc[1], 0);
    assert_int_equal(eddy_loop_free(loop), 0);
}

struct other {
    eddy_loop *inner;
    int rc;
    int calls;
};

static int run_sync_other_loop(eddy_loop *loop, void *arg)
{
    struct other *o = arg;
    o->rc = eddy_loop_run_sync(o->inner, 1.0, sync_none, &o->calls, NULL);
    return eddy_loop_stop(loop);
}

/* SPEC §2.9: run_sync of a second loop inside a callback of a running
 * one is -EPERM; func never runs, not even when that loop runs later. */
static void test_future_run_sync_inside_other_loop(void **state)
{
    (void)state;
    eddy_loop *outer = new_loop();
    struct other o = {new_loop(), 1, 0};
    assert_int_equal(eddy_loop_add_callback(outer, run_sync_other_loop, &o),
                     0);
    assert_int_equal(eddy_loop_start(outer), 0);
    assert_int_equal(o.rc, -EPERM);
    run_one_iteration(o.inner);
    assert_int_equal(o.calls, 0);
    assert_int_equal(eddy_loop_free(o.inner), 0);
    assert_int_equal(eddy_loop_free(outer), 0);
}

struct busy {
    eddy_loop *loop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool running;
};

static int mark_running(eddy_loop *loop, void *arg)
{
    struct busy *b = arg;
    (void)loop;
    pthread_mutex_lock(&b->lock);
    b->running = true;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    return 0;
}

static int stop_loop_cb(eddy_loop *loop, void *arg)
{
    (void)arg;
    return eddy_loop_stop(loop);
}

static void *run_loop_thread(void *arg)
{
    struct busy *b = arg;
    assert_int_equal(eddy_loop_start(b->loop), 0);
    return NULL;
}

/* SPEC §2.9: run_sync of a loop that another thread runs is -EBUSY. */
static void test_future_run_sync_other_thread_busy(void **state)
{
    (void)state;
    struct busy b = {new_loop(), PTHREAD_MUTEX_INITIALIZER,
                     PTHREAD_COND_INITIALIZER, false};
    int calls = 0;
    pthread_t t;
    assert_int_equal(eddy_loop_add_callback(b.loop, mark_running, &b), 0);
    assert_int_equal(pthread_create(&t, NULL, run_loop_thread, &b), 0);
    pthread_mutex_lock(&b.lock);
    while (!b.running) {
        pthread_cond_wait(&b.cond, &b.lock);
    }
    pthread_mutex_unlock(&b.lock);
    assert_int_equal(eddy_loop_run_sync(b.loop, 1.0, sync_none, &calls,
                                        NULL),
                     -EBUSY);
    assert_int_equal(eddy_loop_add_callback(b.loop, stop_loop_cb, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(calls, 0);
    assert_int_equal(eddy_loop_free(b.loop), 0);
}

static int poll_timeout_seen;

static int recording_poll(struct pollfd *fds, unsigned long nfds,
                          int timeout_ms, void *arg)
{
    (void)fds;
    (void)nfds;
    poll_timeout_seen = timeout_ms;
    eddy_loop_stop(arg);
    return 0;
}

/* After a run_sync with a timeout returns, no timer is left: the next
 * poll blocks without limit. */
static void assert_no_timer_left(eddy_loop *loop)
{
    poll_timeout_seen = 12345;
    eddy__loop_set_poll(loop, recording_poll, loop);
    assert_int_equal(eddy_loop_start(loop), 0);
    eddy__loop_set_poll(loop, NULL, NULL);
    assert_int_equal(poll_timeout_seen, -1);
}

static void test_future_run_sync_timeout(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    void *result = &result;
    double t0 = eddy_loop_time(loop);
    assert_int_equal(eddy_loop_run_sync(loop, 0.05, sync_later, NULL,
                                        &result),
                     -ETIMEDOUT);
    assert_true(eddy_loop_time(loop) - t0 >= 0.05); /* never early */
    assert_ptr_equal(result, &result);
    assert_no_timer_left(loop);
    /* The loop is stopped, open and reusable. */
    int calls = 0;
    assert_int_equal(eddy_loop_run_sync(loop, 1.0, sync_none, &calls,
                                        &result),
                     0);
    assert_int_equal(calls, 1);
    struct waker w = {NULL, 0};
    assert_int_equal(eddy_loop_run_sync(loop, 10.0, sync_later, &w, &result),
                     0);
    assert_no_timer_left(loop);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* --- fault paths --------------------------------------------------------- */

/* op(nth, persist) arms the allocation seam around the call under test
 * only. For nth = 1.. the nth allocation fails (and, with persist, every
 * later one) until the call needs fewer allocations and succeeds; every
 * failure must be -ENOMEM and leave nothing behind (valgrind, ASan). */
typedef int (*fault_op)(long nth, bool persist);

static void fault_loop(fault_op op)
{
    for (int persist = 0; persist < 2; persist++) {
        long nth = 1;
        int rc;
        while ((rc = op(nth, persist)) != 0) {
            assert_int_equal(rc, -ENOMEM);
            assert_true(++nth < 100);
        }
    }
}

static void disarm(void)
{
    eddy__alloc_fail(0, false);
}

static int op_future_new(long nth, bool persist)
{
    eddy_future *f = NULL;
    eddy__alloc_fail(nth, persist);
    int rc = eddy_future_new(&f);
    disarm();
    assert_true(rc == 0 || f == NULL);
    eddy_future_release(f);
    return rc;
}

static int add_future_op(long nth, bool persist, bool done)
{
    eddy_loop *loop = new_loop();
    eddy_future *f = NULL;
    struct seen seen = {0, NULL, NULL};
    assert_int_equal(eddy_future_new(&f), 0);
    if (done) {
        assert_int_equal(eddy_future_set_result(f, NULL), 0);
    }
    eddy__alloc_fail(nth, persist);
    int rc = eddy_loop_add_future(loop, f, record_future_cb, &seen);
    disarm();
    (void)eddy_future_set_result(f, NULL);
    run_one_iteration(loop);
    assert_int_equal(seen.calls, rc == 0 ? 1 : 0); /* SPEC §1.3 */
    eddy_future_release(f);
    assert_int_equal(eddy_loop_free(loop), 0);
    return rc;
}

static int op_add_future_pending(long nth, bool persist)
{
    return add_future_op(nth, persist, false);
}

static int op_add_future_done(long nth, bool persist)
{
    return add_future_op(nth, persist, true);
}

/* Resolution cannot fail; an out-of-memory post must still deliver the
 * callback or at least leak nothing. */
static int op_resolve(long nth, bool persist)
{
    eddy_loop *loop = new_loop();
    eddy_future *f = NULL;
    struct seen seen = {0, NULL, NULL};
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_loop_add_future(loop, f, record_future_cb, &seen),
                     0);
    eddy__alloc_fail(nth, persist);
    assert_int_equal(eddy_future_set_result(f, NULL), 0);
    long used = eddy__alloc_count();
    disarm();
    run_one_iteration(loop);
    assert_int_equal(seen.calls, 1);
    eddy_future_release(f);
    assert_int_equal(eddy_loop_free(loop), 0);
    return used >= nth ? -ENOMEM : 0;
}

/* With every allocation failing, resolution falls back on the signal
 * queue until it is full; what does not fit is dropped without a leak. */
static void test_future_fault_resolve_many(void **state)
{
    (void)state;
    enum { N = 300 };
    eddy_loop *loop = new_loop();
    eddy_future *f = NULL;
    struct seen seen = {0, NULL, NULL};
    assert_int_equal(eddy_future_new(&f), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(eddy_loop_add_future(loop, f, record_future_cb,
                                              &seen),
                         0);
    }
    eddy__alloc_fail(1, true);
    assert_int_equal(eddy_future_set_result(f, NULL), 0);
    disarm();
    run_one_iteration(loop);
    assert_true(seen.calls >= EDDY_SIGNAL_QUEUE_MIN);
    assert_true(seen.calls < N);
    eddy_future_release(f);
    assert_int_equal(eddy_loop_free(loop), 0);
}

static int op_executor_new(long nth, bool persist)
{
    eddy_executor *ex = NULL;
    eddy__alloc_fail(nth, persist);
    int rc = eddy_executor_new(3, &ex);
    disarm();
    eddy_executor_free(ex);
    return rc;
}

static int op_run_in_executor(long nth, bool persist)
{
    eddy_loop *loop = new_loop();
    eddy_future *f = NULL;
    eddy__alloc_fail(nth, persist);
    int rc = eddy_loop_run_in_executor(loop, NULL, count_job, loop, &f);
    disarm();
    assert_int_equal(eddy_loop_free(loop), 0); /* joins the default pool */
    if (rc == 0) {
        void *value = NULL;
        assert_int_equal(eddy_future_result(f, &value), 0);
        assert_ptr_equal(value, loop);
        eddy_future_release(f);
    }
    return rc;
}

/* Under persistent failure the loop itself cannot move callbacks into its
 * ready ring, so the future's callback never arrives and the timeout is
 * what ends run_sync: -ETIMEDOUT is then the right answer. */
static int op_run_sync(long nth, bool persist)
{
    eddy_loop *loop = new_loop();
    struct waker w = {NULL, 0};
    void *result = NULL;
    eddy__alloc_fail(nth, persist);
    int rc = eddy_loop_run_sync(loop, 0.3, sync_later, &w, &result);
    disarm();
    if (rc == 0) {
        assert_ptr_equal(result, w.future);
    }
    if (persist && rc == -ETIMEDOUT) {
        rc = -ENOMEM;
    }
    /* The loop is stopped, open and reusable after any failure. */
    int calls = 0;
    assert_int_equal(eddy_loop_run_sync(loop, 5.0, sync_none, &calls, NULL),
                     0);
    assert_int_equal(calls, 1);
    assert_int_equal(eddy_loop_free(loop), 0);
    return rc;
}

static void test_future_fault_future_new(void **state)
{
    (void)state;
    fault_loop(op_future_new);
}

static void test_future_fault_add_future(void **state)
{
    (void)state;
    fault_loop(op_add_future_pending);
    fault_loop(op_add_future_done);
}

static void test_future_fault_resolve(void **state)
{
    (void)state;
    fault_loop(op_resolve);
}

static void test_future_fault_executor(void **state)
{
    (void)state;
    fault_loop(op_executor_new);
    fault_loop(op_run_in_executor);
}

static void test_future_fault_run_sync(void **state)
{
    (void)state;
    fault_loop(op_run_sync);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_future_outcomes),
        cmocka_unit_test(test_future_refcounts),
        cmocka_unit_test(test_future_add_future_done_runs_later),
        cmocka_unit_test(test_future_add_future_pending_then_resolved),
        cmocka_unit_test(test_future_add_future_errors),
        cmocka_unit_test(test_future_add_future_close_without_running),
        cmocka_unit_test(test_future_add_future_many_registrations),
        cmocka_unit_test(test_future_close_one_of_two_loops),
        cmocka_unit_test(test_future_resolve_races_close),
        cmocka_unit_test(test_future_resolve_from_thread_wakes_loop),
        cmocka_unit_test(test_future_executor_runs_jobs),
        cmocka_unit_test(test_future_executor_free_waits_for_jobs),
        cmocka_unit_test(test_future_set_default_executor),
        cmocka_unit_test(test_future_run_sync_outcomes),
        cmocka_unit_test(test_future_run_sync_invalid),
        cmocka_unit_test(test_future_run_sync_stopped_early),
        cmocka_unit_test(test_future_run_sync_nested_busy),
        cmocka_unit_test(test_future_run_sync_inside_other_loop),
        cmocka_unit_test(test_future_run_sync_other_thread_busy),
        cmocka_unit_test(test_future_run_sync_timeout),
        cmocka_unit_test(test_future_fault_future_new),
        cmocka_unit_test(test_future_fault_add_future),
        cmocka_unit_test(test_future_fault_resolve),
        cmocka_unit_test(test_future_fault_resolve_many),
        cmocka_unit_test(test_future_fault_executor),
        cmocka_unit_test(test_future_fault_run_sync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
