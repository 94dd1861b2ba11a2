/* impl/tests/test_periodic.c - white-box tests of impl/periodic.c (SPEC §6):
 * the scheduling rule against Tornado's own vectors, and real runs on a
 * poll() loop with "never early" checked exactly and lateness bounded
 * generously.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "eddy.h"
#include "internal.h"

/* Lateness allowed on a loaded 2-core machine: generous on purpose. */
#define SLACK_S 0.4
/* Absorbs double rounding only (loop times are ~1e4 s, an ulp ~2e-12 s);
 * "never early" is otherwise checked exactly. */
#define EPS 1e-9

static eddy_loop *new_loop(void)
{
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), 0);
    return loop;
}

static int stop_cb(eddy_loop *loop, void *arg)
{
    (void)arg;
    return eddy_loop_stop(loop);
}

/* Run until stopped, with a guard that stops the loop after limit_s. */
static void run_for_at_most(eddy_loop *loop, double limit_s)
{
    eddy_timeout guard = 0;
    assert_int_equal(eddy_loop_call_later(loop, limit_s, stop_cb, NULL,
                                          &guard),
                     0);
    assert_int_equal(eddy_loop_start(loop), 0);
    (void)eddy_loop_remove_timeout(loop, guard);
}

static int noop_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    return 0;
}

/* --- the rule (SPEC §6.5, §6.6) with tornado's TestPeriodicCallbackMath -- */

/* The call times of a periodic with the given call durations: starting
 * from now = next = 1000, each call is planned by the rule and the clock
 * then reads its planned time plus its duration. */
static void simulate(double ms, double jitter, const double *u,
                     const double *durations, size_t n, double *calls)
{
    double now = 1000.0;
    double next = now;
    for (size_t i = 0; i < n; i++) {
        next = eddy_periodic_next(next, now, ms, jitter, u ? u[i] : 0.0);
        calls[i] = next;
        now = next + durations[i];
    }
}

static void assert_calls(const double *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_true(got[i] == want[i]);
    }
}

static void test_periodic_next_basic(void **state)
{
    (void)state;
    const double d[] = {0, 0, 0, 0, 0};
    const double want[] = {1010, 1020, 1030, 1040, 1050};
    double got[5];
    simulate(10000, 0, NULL, d, 5, got);
    assert_calls(got, want, 5);
}

static void test_periodic_next_overrun(void **state)
{
    (void)state;
    const double d[] = {9, 9, 10, 11, 20, 20, 35, 35, 0, 0, 0};
    const double want[] = {1010, 1020, 1030, 1050, 1070, 1100,
                           1130, 1170, 1210, 1220, 1230};
    double got[11];
    simulate(10000, 0, NULL, d, 11, got);
    assert_calls(got, want, 11);
}

static void test_periodic_next_clock_backwards(void **state)
{
    (void)state;
    const double d1[] = {-2, -1, -3, -2, 0};
    const double want1[] = {1010, 1020, 1030, 1040, 1050};
    const double d2[] = {-100, 0, 0};
    const double want2[] = {1010, 1020, 1030};
    double got[5];
    simulate(10000, 0, NULL, d1, 5, got);
    assert_calls(got, want1, 5);
    simulate(10000, 0, NULL, d2, 3, got);
    assert_calls(got, want2, 3);
}

static void test_periodic_next_jitter(void **state)
{
    (void)state;
    const double u[] = {0.5, 1, 0, 0.75};
    const double d[] = {0, 0, 0, 0};
    const double want[] = {1010, 1022.5, 1030, 1041.25};
    double got[4];
    simulate(10000, 0.5, u, d, 4, got);
    assert_calls(got, want, 4);
}

/* --- construction and errors (SPEC §6.1, §6.2, §6.7, §6.8) ------------- */

static void test_periodic_new_validation(void **state)
{
    (void)state;
    eddy_periodic *p = NULL;
    const double bad_ms[] = {0.0, -1.0, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad_ms / sizeof bad_ms[0]; i++) {
        assert_int_equal(eddy_periodic_new(NULL, bad_ms[i], 0, noop_cb, NULL,
                                           &p),
                         -EINVAL);
    }
    const double bad_jitter[] = {-0.1, 1.1, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_jitter / sizeof bad_jitter[0]; i++) {
        assert_int_equal(eddy_periodic_new(NULL, 10, bad_jitter[i], noop_cb,
                                           NULL, &p),
                         -EINVAL);
    }
    assert_int_equal(eddy_periodic_new(NULL, 10, 0, NULL, NULL, &p), -EINVAL);
    assert_int_equal(eddy_periodic_new(NULL, 10, 0, noop_cb, NULL, NULL),
                     -EINVAL);
    assert_null(p);
    assert_int_equal(eddy_periodic_new(NULL, 0.001, 1.0, noop_cb, NULL, &p),
                     0);
    assert_false(eddy_periodic_is_running(p));
    assert_int_equal(eddy_periodic_stop(p), 0); /* stopped: a no-op */
    eddy_periodic_free(p);
    eddy_periodic_free(NULL);
}

static void test_periodic_start_errors(void **state)
{
    (void)state;
    eddy_periodic *p = NULL;
    assert_int_equal(eddy_periodic_start(NULL), -EINVAL);
    eddy_loop_clear_current();
    assert_int_equal(eddy_periodic_new(NULL, 10, 0, noop_cb, NULL, &p), 0);
    assert_int_equal(eddy_periodic_start(p), -ENOENT);
    assert_false(eddy_periodic_is_running(p));
    eddy_periodic_free(p);

    eddy_loop *loop = new_loop();
    assert_int_equal(eddy_periodic_new(loop, 10, 0, noop_cb, NULL, &p), 0);
    assert_int_equal(eddy_periodic_start(p), 0);
    assert_true(eddy_periodic_is_running(p));
    assert_int_equal(eddy_periodic_start(p), -EALREADY);
    assert_int_equal(eddy_periodic_stop(p), 0);
    assert_int_equal(eddy_periodic_stop(p), 0);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_periodic_start(p), -ESHUTDOWN);
    eddy_periodic_free(p);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* --- real runs ----------------------------------------------------------- */

#define MAX_CALLS 16

struct trace {
    eddy_periodic *p;
    double period_s;
    int calls;
    int stop_after;      /* stop the loop after this many calls */
    int overrun_call;    /* this call (1-based) busy-waits... */
    double overrun_s;    /* ...this long */
    int action_call;     /* this call does `action` to its periodic */
    int action;
    double at[MAX_CALLS];  /* loop time at entry */
    double end[MAX_CALLS]; /* loop time at return */
};

enum { ACT_NONE, ACT_STOP, ACT_FREE, ACT_RESTART, ACT_FAIL };

static void do_action(struct trace *t)
{
    switch (t->action) {
    case ACT_STOP:
        assert_int_equal(eddy_periodic_stop(t->p), 0);
        assert_false(eddy_periodic_is_running(t->p));
        break;
    case ACT_FREE:
        eddy_periodic_free(t->p);
        t->p = NULL;
        break;
    case ACT_RESTART:
        assert_int_equal(eddy_periodic_stop(t->p), 0);
        assert_int_equal(eddy_periodic_start(t->p), 0);
        break;
    default:
        break;
    }
}

static int trace_cb(eddy_loop *loop, void *arg)
{
    struct trace *t = arg;
    double now = eddy_loop_time(loop);
    int i = t->calls++;
    assert_true(i < MAX_CALLS);
    assert_true(t->p == NULL || eddy_periodic_is_running(t->p)); /* §6.4 */
    t->at[i] = now;
    if (t->calls == t->overrun_call) {
        while (eddy_loop_time(loop) - now < t->overrun_s) {
        }
    }
    t->end[i] = eddy_loop_time(loop);
    if (t->calls == t->stop_after) {
        eddy_loop_stop(loop);
    }
    if (t->calls == t->action_call || t->action == ACT_RESTART) {
        if (t->action == ACT_FAIL) {
            return -EIO;
        }
        do_action(t);
    }
    return 0;
}

static struct trace *new_trace(eddy_loop *loop, double ms)
{
    static struct trace t;
    t = (struct trace){.period_s = ms / 1000.0};
    assert_int_equal(eddy_periodic_new(loop, ms, 0, trace_cb, &t, &t.p), 0);
    return &t;
}

/* SPEC §6.2, §6.5: the first call one period after start, then on the
 * grid; an overrun skips the grid points it missed (no burst), and no call
 * is ever early. With t0 the unknown start time in [before, after], call
 * i + 1 is planned at t0 + m * T with m the first grid index past the end
 * of call i, so it may not come before before + m_min * T. */
static void test_periodic_overrun_skips_grid_points(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    struct trace *t = new_trace(loop, 100);
    t->stop_after = 4;
    t->overrun_call = 2;
    t->overrun_s = 0.25;
    double before = eddy_loop_time(loop);
    assert_int_equal(eddy_periodic_start(t->p), 0);
    double after = eddy_loop_time(loop);
    run_for_at_most(loop, 5.0);
    assert_int_equal(t->calls, 4);
    const double T = t->period_s;
    assert_true(t->at[0] + EPS >= before + T);
    assert_true(t->at[0] <= after + T + SLACK_S);
    for (int i = 1; i < 4; i++) {
        double m_min = floor((t->end[i - 1] - after) / T) + 1;
        assert_true(t->at[i] + EPS >= before + m_min * T); /* never early */
        assert_true(t->at[i] <= t->end[i - 1] + T + SLACK_S);
    }
    /* Call 2 began on or after grid point 2 and overran by 250 ms, so the
     * points 3 and 4 were skipped: a burst would run them at once. */
    assert_true(t->at[2] + EPS >= before + 5 * T);
    assert_true(t->at[2] - t->at[1] + EPS >= 2.5 * T);
    eddy_periodic_free(t->p);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* SPEC §6.3, §6.9: stop from inside the callback ends the calls. */
static void test_periodic_stop_inside_callback(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    struct trace *t = new_trace(loop, 20);
    t->action_call = 2;
    t->action = ACT_STOP;
    assert_int_equal(eddy_periodic_start(t->p), 0);
    run_for_at_most(loop, 0.2);
    assert_int_equal(t->calls, 2);
    assert_false(eddy_periodic_is_running(t->p));
    /* A stopped periodic can start again. */
    t->action = ACT_NONE;
    t->stop_after = 3;
    assert_int_equal(eddy_periodic_start(t->p), 0);
    run_for_at_most(loop, 5.0);
    assert_int_equal(t->calls, 3);
    eddy_periodic_free(t->p);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* SPEC §6.9: free from inside the callback. */
static void test_periodic_free_inside_callback(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    struct trace *t = new_trace(loop, 20);
    t->action_call = 1;
    t->action = ACT_FREE;
    assert_int_equal(eddy_periodic_start(t->p), 0);
    run_for_at_most(loop, 0.2);
    assert_int_equal(t->calls, 1);
    assert_null(t->p);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* SPEC §6.9: a stop and start inside every call leaves a single chain:
 * with Tornado 6.2's bug each restart would add one. */
static void test_periodic_restart_inside_callback(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    struct trace *t = new_trace(loop, 50);
    t->action = ACT_RESTART;
    double before = eddy_loop_time(loop);
    assert_int_equal(eddy_periodic_start(t->p), 0);
    run_for_at_most(loop, 0.32);
    double elapsed = eddy_loop_time(loop) - before;
    assert_true(t->calls >= 1);
    assert_true(t->calls <= (int)(elapsed / t->period_s) + 1);
    for (int i = 1; i < t->calls; i++) {
        /* Each restart plans one period after itself. */
        assert_true(t->at[i] - t->end[i - 1] + EPS >= t->period_s);
    }
    eddy_periodic_free(t->p);
    assert_int_equal(eddy_loop_free(loop), 0);
}

static int errors_seen;

static void count_error(eddy_loop *loop, int err, void *arg)
{
    (void)loop;
    (void)arg;
    assert_int_equal(err, -EIO);
    errors_seen++;
}

/* SPEC §1.5: a failing call is reported and the schedule goes on. */
static void test_periodic_failure_reported(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    struct trace *t = new_trace(loop, 10);
    t->action_call = 1;
    t->action = ACT_FAIL;
    t->stop_after = 3;
    errors_seen = 0;
    assert_int_equal(eddy_loop_set_error_handler(loop, count_error, NULL), 0);
    assert_int_equal(eddy_periodic_start(t->p), 0);
    run_for_at_most(loop, 5.0);
    assert_int_equal(t->calls, 3);
    assert_int_equal(errors_seen, 1);
    assert_true(eddy_periodic_is_running(t->p));
    eddy_periodic_free(t->p); /* frees a running periodic: stops it first */
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* SPEC §6.8: a periodic without a loop binds to the current one. */
static void test_periodic_binds_current_loop(void **state)
{
    (void)state;
    eddy_loop *loop = NULL;
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_FORCE, &loop), 0);
    struct trace *t = new_trace(NULL, 10);
    t->stop_after = 2;
    assert_int_equal(eddy_periodic_start(t->p), 0);
    run_for_at_most(loop, 5.0);
    assert_int_equal(t->calls, 2);
    eddy_periodic_free(t->p);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* Closing the loop under a running periodic: stop and free still work. */
static void test_periodic_loop_closed_while_running(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    struct trace *t = new_trace(loop, 10);
    assert_int_equal(eddy_periodic_start(t->p), 0);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_periodic_stop(t->p), 0);
    assert_false(eddy_periodic_is_running(t->p));
    assert_int_equal(eddy_periodic_start(t->p), -ESHUTDOWN);
    eddy_periodic_free(t->p);
    assert_int_equal(t->calls, 0);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* A period too long to represent never fires but counts as running. */
static void test_periodic_unrepresentable_period(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    struct trace *t = new_trace(loop, 1e300);
    assert_int_equal(eddy_periodic_start(t->p), 0);
    assert_true(eddy_periodic_is_running(t->p));
    run_for_at_most(loop, 0.05);
    assert_int_equal(t->calls, 0);
    eddy_periodic_free(t->p);
    assert_int_equal(eddy_loop_free(loop), 0);
}

static int enomem_seen;

static void count_enomem(eddy_loop *loop, int err, void *arg)
{
    (void)loop;
    (void)arg;
    assert_int_equal(err, -ENOMEM);
    enomem_seen++;
}

/* Fills the loop's timer capacity with allocation failing, so that the
 * periodic's own rescheduling cannot allocate. */
static int exhaust_cb(eddy_loop *loop, void *arg)
{
    (void)arg;
    eddy__alloc_fail(1, true);
    while (eddy_loop_call_later(loop, 100.0, noop_cb, NULL, NULL) == 0) {
    }
    return 0;
}

/* A periodic that cannot plan its next call stops and reports -ENOMEM. */
static void test_periodic_fault_reschedule(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    eddy_periodic *p = NULL;
    enomem_seen = 0;
    assert_int_equal(eddy_loop_set_error_handler(loop, count_enomem, NULL),
                     0);
    assert_int_equal(eddy_periodic_new(loop, 10, 0, exhaust_cb, NULL, &p), 0);
    assert_int_equal(eddy_periodic_start(p), 0);
    eddy_timeout guard = 0;
    assert_int_equal(eddy_loop_call_later(loop, 0.2, stop_cb, NULL, &guard),
                     0);
    assert_int_equal(eddy_loop_start(loop), 0);
    eddy__alloc_fail(0, false);
    assert_int_equal(enomem_seen, 1);
    assert_false(eddy_periodic_is_running(p));
    eddy_periodic_free(p);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* --- jitter through the random seam (SPEC §6.6) ------------------------- */

static int random_calls;

static double fixed_random(void *arg)
{
    random_calls++;
    return *(double *)arg;
}

/* With u = 0 and jitter 1, each period is T / 2: never earlier than that,
 * and one random number is drawn per planned call. */
static void test_periodic_jitter_uses_random_seam(void **state)
{
    (void)state;
    double u = 0.0;
    eddy_loop *loop = new_loop();
    static struct trace t;
    t = (struct trace){.period_s = 0.1, .stop_after = 3};
    assert_int_equal(eddy_periodic_new(loop, 100, 1.0, trace_cb, &t, &t.p),
                     0);
    random_calls = 0;
    eddy__periodic_set_random(fixed_random, &u);
    double before = eddy_loop_time(loop);
    assert_int_equal(eddy_periodic_start(t.p), 0);
    run_for_at_most(loop, 5.0);
    eddy__periodic_set_random(NULL, NULL);
    assert_int_equal(t.calls, 3);
    assert_int_equal(random_calls, 4); /* start + one after each call */
    assert_true(t.at[0] + EPS >= before + 0.05);
    assert_true(t.at[0] < before + 0.05 + SLACK_S);
    eddy_periodic_free(t.p);
    /* The default generator: every period within [T/2, 3T/2). */
    t = (struct trace){.period_s = 0.05, .stop_after = 3};
    assert_int_equal(eddy_periodic_new(loop, 50, 1.0, trace_cb, &t, &t.p),
                     0);
    before = eddy_loop_time(loop);
    assert_int_equal(eddy_periodic_start(t.p), 0);
    run_for_at_most(loop, 5.0);
    assert_int_equal(t.calls, 3);
    assert_true(t.at[0] + EPS >= before + 0.025);
    assert_true(t.at[0] < before + 0.075 + SLACK_S);
    eddy_periodic_free(t.p);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* --- wrong thread (SPEC §1.6) ------------------------------------------- */

struct remote {
    eddy_loop *loop;
    eddy_periodic *p;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool started;
    int stop_rc;
};

static int remote_start(eddy_loop *loop, void *arg)
{
    struct remote *r = arg;
    (void)loop;
    assert_int_equal(eddy_periodic_start(r->p), 0);
    pthread_mutex_lock(&r->lock);
    r->started = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static void *remote_thread(void *arg)
{
    struct remote *r = arg;
    eddy_loop_start(r->loop);
    return NULL;
}

static int remote_stop(eddy_loop *loop, void *arg)
{
    struct remote *r = arg;
    assert_int_equal(eddy_periodic_stop(r->p), 0);
    return eddy_loop_stop(loop);
}

static void test_periodic_wrong_thread(void **state)
{
    (void)state;
    struct remote r = {.lock = PTHREAD_MUTEX_INITIALIZER,
                       .cond = PTHREAD_COND_INITIALIZER};
    r.loop = new_loop();
    assert_int_equal(eddy_periodic_new(r.loop, 1000, 0, noop_cb, NULL, &r.p),
                     0);
    pthread_t th;
    assert_int_equal(eddy_loop_add_callback(r.loop, remote_start, &r), 0);
    assert_int_equal(pthread_create(&th, NULL, remote_thread, &r), 0);
    pthread_mutex_lock(&r.lock);
    while (!r.started) {
        pthread_cond_wait(&r.cond, &r.lock);
    }
    pthread_mutex_unlock(&r.lock);
    assert_int_equal(eddy_periodic_stop(r.p), -EPERM);
    assert_int_equal(eddy_loop_add_callback(r.loop, remote_stop, &r), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    eddy_periodic_free(r.p);
    assert_int_equal(eddy_loop_free(r.loop), 0);
}

/* --- fault paths --------------------------------------------------------- */

static void test_periodic_fault_new_and_start(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop();
    for (int persist = 0; persist < 2; persist++) {
        eddy_periodic *p = NULL;
        eddy__alloc_fail(1, persist);
        assert_int_equal(eddy_periodic_new(loop, 10, 0, noop_cb, NULL, &p),
                         -ENOMEM);
        eddy__alloc_fail(0, false);
        assert_null(p);
        assert_int_equal(eddy_periodic_new(loop, 10, 0, noop_cb, NULL, &p),
                         0);
        long nth = 1;
        int rc;
        for (;;) {
            eddy__alloc_fail(nth, persist);
            rc = eddy_periodic_start(p);
            long used = eddy__alloc_count();
            eddy__alloc_fail(0, false);
            if (used < nth) {
                break;
            }
            assert_int_equal(rc, -ENOMEM);
            assert_false(eddy_periodic_is_running(p));
            nth++;
        }
        assert_int_equal(rc, 0);
        assert_true(eddy_periodic_is_running(p));
        eddy_periodic_free(p);
    }
    assert_int_equal(eddy_loop_free(loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periodic_next_basic),
        cmocka_unit_test(test_periodic_next_overrun),
        cmocka_unit_test(test_periodic_next_clock_backwards),
        cmocka_unit_test(test_periodic_next_jitter),
        cmocka_unit_test(test_periodic_new_validation),
        cmocka_unit_test(test_periodic_start_errors),
        cmocka_unit_test(test_periodic_overrun_skips_grid_points),
        cmocka_unit_test(test_periodic_stop_inside_callback),
        cmocka_unit_test(test_periodic_free_inside_callback),
        cmocka_unit_test(test_periodic_restart_inside_callback),
        cmocka_unit_test(test_periodic_failure_reported),
        cmocka_unit_test(test_periodic_binds_current_loop),
        cmocka_unit_test(test_periodic_loop_closed_while_running),
        cmocka_unit_test(test_periodic_unrepresentable_period),
        cmocka_unit_test(test_periodic_fault_reschedule),
        cmocka_unit_test(test_periodic_jitter_uses_random_seam),
        cmocka_unit_test(test_periodic_wrong_thread),
        cmocka_unit_test(test_periodic_fault_new_and_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
