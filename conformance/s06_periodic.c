/* conformance/s06_periodic.c - SPEC §6: PeriodicCallback.
 *
 * The grid rule (§6.5, §6.6) is checked exactly through the pure function
 * eddy_periodic_next, with vectors whose results are exact in binary
 * floating point. Live cases check only what a real clock allows: a call
 * is never before the earliest grid point it may take, and is late by at
 * most the calibrated bound.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

/* Grid points are sums of periods in floating point: allow this much
 * rounding when comparing a call time with a grid point we computed. */
#define GRID_EPS 1e-6
#define MAXCALLS 64

/* A periodic callback under observation. */
struct pc {
    eddy_periodic *p;
    eddy_loop *loop_seen;      /* loop argument of the last call */
    double at[MAXCALLS];       /* eddy_loop_time() when call k began */
    double end[MAXCALLS];      /* ... and when it returned */
    bool running_inside[MAXCALLS];
    int n;
    bool off_thread;
    double sleep_s;            /* overrun: sleep this long in a call ... */
    int sleep_calls;           /* ... for the first sleep_calls calls */
    int stop_on;               /* call stop() from inside call stop_on */
    int restart_on;            /* stop() then start() inside this call */
    int free_on;               /* free itself inside this call */
    bool start_inside;         /* try start() inside the first call */
    int start_rc;              /* what that start() (or a restart) gave */
    double restart_at;         /* loop time read just before that start */
    bool stopped;              /* stop() was called on it */
    int calls_after_stop;
    int ret;                   /* what each call returns */
};

static pthread_t case_thread;

static struct pc *pc_init(struct pc *c)
{
    memset(c, 0, sizeof(*c));
    c->start_rc = 1;
    case_thread = pthread_self();
    return c;
}

/* What a call does from inside, by the test's plan. */
static void pc_inside(eddy_loop *loop, struct pc *c, int k)
{
    if (k == 1 && c->start_inside) {
        c->start_rc = eddy_periodic_start(c->p);
    }
    if (k == c->restart_on) {
        eddy_periodic_stop(c->p);
        c->restart_at = eddy_loop_time(loop);
        c->start_rc = eddy_periodic_start(c->p);
    }
    if (k == c->stop_on) {
        c->stopped = true;
        eddy_periodic_stop(c->p);
    }
    if (k == c->free_on) {
        eddy_periodic_free(c->p);
        c->p = NULL;
    }
}

static int pc_cb(eddy_loop *loop, void *arg)
{
    struct pc *c = arg;
    double now = eddy_loop_time(loop);
    if (c->stopped) {
        c->calls_after_stop++;
    }
    if (c->n >= MAXCALLS) {
        return 0;
    }
    int k = ++c->n;
    c->at[k - 1] = now;
    c->loop_seen = loop;
    c->running_inside[k - 1] = eddy_periodic_is_running(c->p);
    if (!pthread_equal(pthread_self(), case_thread)) {
        c->off_thread = true;
    }
    if (k <= c->sleep_calls) {
        eddy_h_sleep(c->sleep_s);
    }
    pc_inside(loop, c, k);
    c->end[k - 1] = eddy_loop_time(loop);
    return c->ret;
}

static struct pc *want_calls_pc;
static int want_calls_n;

static bool has_calls(void *arg)
{
    (void)arg;
    return want_calls_pc->n >= want_calls_n;
}

static bool run_until_calls(eddy_loop *loop, struct pc *c, int n)
{
    want_calls_pc = c;
    want_calls_n = n;
    return eddy_h_run_until(loop, has_calls, NULL, 5.0);
}

static int stop_cb(eddy_loop *loop, void *arg)
{
    (void)arg;
    return eddy_loop_stop(loop);
}

static void run_for(eddy_loop *loop, double seconds)
{
    assert_int_equal(eddy_loop_call_later(loop, seconds, stop_cb, NULL, NULL),
                     0);
    assert_int_equal(eddy_loop_start(loop), 0);
}

static void new_pc(eddy_loop *loop, struct pc *c, double ms, double jitter)
{
    assert_int_equal(eddy_periodic_new(loop, ms, jitter, pc_cb, c, &c->p), 0);
    assert_non_null(c->p);
}

/* Start and return the loop time read just before start (its lower edge:
 * start reads the clock no earlier). */
static double start_pc(eddy_loop *loop, struct pc *c, double *after)
{
    double before = eddy_loop_time(loop);
    assert_int_equal(eddy_periodic_start(c->p), 0);
    *after = eddy_loop_time(loop);
    return before;
}

static void check_not_before(const char *what, double t, double bound)
{
    if (!(t >= bound)) {
        fail_msg("%s ran early: at %.9f, not before %.9f", what, t, bound);
    }
}

static void check_not_after(const char *what, double t, double bound)
{
    if (t > bound) {
        fail_msg("%s ran %.3f s late (bound %.3f s)", what, t - bound,
                 eddy_h_late_bound());
    }
}

/* No overrun, no jitter: call k is never before tb + k p, and each call
 * comes at most one period plus the lateness bound after the previous one
 * returned (the first: after start). */
static void check_plain_grid(const struct pc *c, double tb, double ta,
                             double p)
{
    double late = eddy_h_late_bound();
    check_not_before("call 1", c->at[0], tb + p);
    check_not_after("call 1", c->at[0], ta + p + late);
    for (int k = 2; k <= c->n; k++) {
        check_not_before("call k", c->at[k - 1], tb + k * p - GRID_EPS);
        check_not_after("call k", c->at[k - 1], c->end[k - 2] + p + late);
    }
    assert_false(c->off_thread);
}

/* --- §6.1 construction --------------------------------------------------- */

static void c6_1_period_is_in_milliseconds(void **state)
{
    /* SPEC §6.1: the period is given in milliseconds; a new periodic
     * callback is not running. */
    eddy_loop *loop = *state;
    struct pc c;
    new_pc(loop, pc_init(&c), 50, 0);
    assert_false(eddy_periodic_is_running(c.p));
    double ta;
    double tb = start_pc(loop, &c, &ta);
    assert_true(run_until_calls(loop, &c, 3));
    check_plain_grid(&c, tb, ta, 0.05);
    eddy_periodic_free(c.p);
}

static void c6_1_rejects_bad_period(void **state)
{
    /* SPEC §6.1: a period that is not a finite number greater than 0 is
     * rejected with -EINVAL. */
    eddy_loop *loop = *state;
    struct pc c;
    pc_init(&c);
    const double bad[] = {0.0, -0.0, -1.0, -1e-9, NAN, INFINITY, -INFINITY};
    eddy_periodic *sentinel = (eddy_periodic *)&c;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eddy_periodic *out = sentinel;
        assert_int_equal(eddy_periodic_new(loop, bad[i], 0, pc_cb, &c, &out),
                         -EINVAL);
        assert_ptr_equal(out, sentinel);
    }
    eddy_periodic *out = sentinel;
    assert_int_equal(eddy_periodic_new(loop, 10, 0, NULL, &c, &out), -EINVAL);
    assert_ptr_equal(out, sentinel);
    assert_int_equal(eddy_periodic_new(loop, 10, 0, pc_cb, &c, NULL), -EINVAL);
    /* A tiny but positive period is valid. */
    assert_int_equal(eddy_periodic_new(loop, 1e-3, 0, pc_cb, &c, &out), 0);
    assert_false(eddy_periodic_is_running(out));
    eddy_periodic_free(out);
    eddy_periodic_free(NULL);
    run_for(loop, 0.02);
    assert_int_equal(c.n, 0);
}

/* --- §6.2 start ---------------------------------------------------------- */

static void c6_2_first_call_one_period_after_start(void **state)
{
    /* SPEC §6.2: after start() is_running() is true and the first call
     * comes one period after start(), never earlier. */
    eddy_loop *loop = *state;
    struct pc c;
    new_pc(loop, pc_init(&c), 100, 0);
    double ta;
    double tb = start_pc(loop, &c, &ta);
    assert_true(eddy_periodic_is_running(c.p));
    assert_true(run_until_calls(loop, &c, 1));
    check_not_before("first call", c.at[0], tb + 0.1);
    check_not_after("first call", c.at[0], ta + 0.1 + eddy_h_late_bound());
    assert_true(c.running_inside[0]);
    eddy_periodic_free(c.p);
}

static void c6_2_start_twice_is_ealready(void **state)
{
    /* SPEC §6.2: start() on a running periodic callback returns -EALREADY
     * and schedules nothing more. */
    eddy_loop *loop = *state;
    struct pc c;
    const double p = 0.04;
    new_pc(loop, pc_init(&c), 40, 0);
    c.start_inside = true;
    double ta;
    double tb = start_pc(loop, &c, &ta);
    assert_int_equal(eddy_periodic_start(c.p), -EALREADY);
    assert_true(eddy_periodic_is_running(c.p));
    assert_true(run_until_calls(loop, &c, 5));
    /* A second timer chain would put two calls near each grid point. */
    check_plain_grid(&c, tb, ta, p);
    /* start() from inside a call is refused the same way. */
    assert_int_equal(c.start_rc, -EALREADY);
    eddy_periodic_free(c.p);
}

struct foreign {
    eddy_periodic *p;
    int start_rc;
    int stop_rc;
    bool done;
};

static void *foreign_main(void *arg)
{
    struct foreign *f = arg;
    f->start_rc = eddy_periodic_start(f->p);
    f->stop_rc = eddy_periodic_stop(f->p);
    return NULL;
}

static int call_from_thread_cb(eddy_loop *loop, void *arg)
{
    struct foreign *f = arg;
    pthread_t th;
    (void)loop;
    if (pthread_create(&th, NULL, foreign_main, f) == 0) {
        pthread_join(th, NULL);
        f->done = true;
    }
    return 0;
}

static bool foreign_done(void *arg)
{
    return ((const struct foreign *)arg)->done;
}

static void c6_2_wrong_thread_and_closed_loop(void **state)
{
    /* SPEC §6.2: start() schedules calls only from the loop thread
     * (-EPERM from another while the loop runs, stop() too) and only on an
     * open loop (-ESHUTDOWN). */
    eddy_loop *loop = *state;
    struct pc idle;
    struct pc busy;
    new_pc(loop, pc_init(&idle), 20, 0);
    new_pc(loop, pc_init(&busy), 20, 0);
    double ta;
    start_pc(loop, &busy, &ta);
    struct foreign f = {.p = idle.p, .start_rc = 1, .stop_rc = 1};
    struct foreign g = {.p = busy.p, .start_rc = 1, .stop_rc = 1};
    assert_int_equal(eddy_loop_add_callback(loop, call_from_thread_cb, &f), 0);
    assert_int_equal(eddy_loop_add_callback(loop, call_from_thread_cb, &g), 0);
    assert_true(eddy_h_run_until(loop, foreign_done, &g, 5.0));
    assert_int_equal(f.start_rc, -EPERM);
    assert_int_equal(g.stop_rc, -EPERM);
    assert_false(eddy_periodic_is_running(idle.p));
    assert_true(eddy_periodic_is_running(busy.p));
    assert_true(run_until_calls(loop, &busy, 2));
    run_for(loop, 0.1);
    assert_int_equal(idle.n, 0);
    eddy_periodic_free(busy.p);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_periodic_start(idle.p), -ESHUTDOWN);
    assert_false(eddy_periodic_is_running(idle.p));
    eddy_periodic_free(idle.p);
}

/* --- §6.3 stop ----------------------------------------------------------- */

static void c6_3_stop_ends_calls_and_restart_works(void **state)
{
    /* SPEC §6.3: after stop() is_running() is false and no call follows;
     * stop() of a stopped periodic does nothing; it can be started again. */
    eddy_loop *loop = *state;
    struct pc c;
    const double p = 0.03;
    new_pc(loop, pc_init(&c), 30, 0);
    assert_int_equal(eddy_periodic_stop(c.p), 0);
    assert_false(eddy_periodic_is_running(c.p));
    double ta;
    start_pc(loop, &c, &ta);
    assert_true(run_until_calls(loop, &c, 2));
    assert_int_equal(eddy_periodic_stop(c.p), 0);
    assert_false(eddy_periodic_is_running(c.p));
    int n = c.n;
    run_for(loop, 5 * p);
    assert_int_equal(c.n, n);
    assert_int_equal(eddy_periodic_stop(c.p), 0);
    double tb = start_pc(loop, &c, &ta);
    assert_true(eddy_periodic_is_running(c.p));
    assert_true(run_until_calls(loop, &c, n + 2));
    check_not_before("first call after restart", c.at[n], tb + p);
    check_not_before("second call after restart", c.at[n + 1],
                     tb + 2 * p - GRID_EPS);
    eddy_periodic_free(c.p);
}

static int sleeper_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    eddy_h_sleep(*(const double *)arg);
    return 0;
}

static int stopper_cb(eddy_loop *loop, void *arg)
{
    struct pc *c = arg;
    (void)loop;
    c->stopped = true;
    return eddy_periodic_stop(c->p);
}

static void c6_3_stop_when_call_already_due(void **state)
{
    /* SPEC §6.3: after stop() the callback is not called again, even from
     * a timer that was already due in the same iteration. */
    eddy_loop *loop = *state;
    struct pc c;
    double nap = 0.2;
    new_pc(loop, pc_init(&c), 50, 0);
    /* Both the stopper (earlier deadline) and the first call become due
     * while the loop is held up, so they are due in one timer step. */
    assert_int_equal(eddy_loop_add_callback(loop, sleeper_cb, &nap), 0);
    double ta;
    double tb = start_pc(loop, &c, &ta);
    assert_int_equal(eddy_loop_call_at(loop, tb + 0.01, stopper_cb, &c, NULL),
                     0);
    run_for(loop, 0.4);
    assert_true(c.stopped);
    assert_int_equal(c.calls_after_stop, 0);
    assert_false(eddy_periodic_is_running(c.p));
    eddy_periodic_free(c.p);
}

/* --- §6.4 is_running, free ----------------------------------------------- */

static void c6_4_is_running_tracks_state(void **state)
{
    /* SPEC §6.4: is_running() reports whether it was started and not
     * stopped, including while its own callback runs. */
    eddy_loop *loop = *state;
    struct pc c;
    new_pc(loop, pc_init(&c), 20, 0);
    c.stop_on = 3;
    assert_false(eddy_periodic_is_running(c.p));
    double ta;
    start_pc(loop, &c, &ta);
    assert_true(eddy_periodic_is_running(c.p));
    assert_true(run_until_calls(loop, &c, 3));
    for (int k = 0; k < 3; k++) {
        assert_true(c.running_inside[k]);
    }
    assert_false(eddy_periodic_is_running(c.p));
    eddy_periodic_free(c.p);
}

static int free_cb(eddy_loop *loop, void *arg)
{
    struct pc *c = arg;
    (void)loop;
    eddy_periodic_free(c->p);
    c->p = NULL;
    return 0;
}

static void c6_4_free_running_stops_it(void **state)
{
    /* SPEC §6.4: freeing a running periodic callback stops it first. */
    eddy_loop *loop = *state;
    struct pc outside;
    struct pc inside;
    struct pc other;
    new_pc(loop, pc_init(&outside), 20, 0);
    new_pc(loop, pc_init(&inside), 20, 0);
    new_pc(loop, pc_init(&other), 20, 0);
    double ta;
    start_pc(loop, &outside, &ta);
    start_pc(loop, &inside, &ta);
    start_pc(loop, &other, &ta);
    eddy_periodic_free(outside.p);
    assert_true(run_until_calls(loop, &inside, 1));
    assert_int_equal(eddy_loop_add_callback(loop, free_cb, &inside), 0);
    int n = inside.n;
    assert_true(run_until_calls(loop, &other, other.n + 3));
    run_for(loop, 0.1);
    assert_int_equal(outside.n, 0);
    /* free_cb ran as a callback, before that iteration's timers. */
    assert_int_equal(inside.n, n);
    assert_null(inside.p);
    eddy_periodic_free(other.p);
}

struct errs {
    int count;
    int bad;
};

static void on_error(eddy_loop *loop, int err, void *arg)
{
    struct errs *e = arg;
    (void)loop;
    if (err == -EIO) {
        e->count++;
    } else {
        e->bad++;
    }
}

static void c6_4_failed_call_stays_running(void **state)
{
    /* SPEC §6.4: a periodic callback that reports a failure is still
     * running and is called again (SPEC §1.5). */
    eddy_loop *loop = *state;
    struct pc c;
    struct errs e = {0, 0};
    assert_int_equal(eddy_loop_set_error_handler(loop, on_error, &e), 0);
    new_pc(loop, pc_init(&c), 20, 0);
    c.ret = -EIO;
    double ta;
    start_pc(loop, &c, &ta);
    assert_true(run_until_calls(loop, &c, 3));
    assert_true(eddy_periodic_is_running(c.p));
    eddy_periodic_free(c.p);
    assert_int_equal(e.count, c.n);
    assert_int_equal(e.bad, 0);
}

/* --- §6.5 the grid ------------------------------------------------------- */

/* Plan n calls from next = now = 1000 s: call i is planned with u[i] and
 * "runs" d[i] seconds past its planned time before the next is planned. */
static void plan(double ms, double jitter, const double *u, const double *d,
                 double *out, int n)
{
    double next = 1000;
    double now = 1000;
    for (int i = 0; i < n; i++) {
        next = eddy_periodic_next(next, now, ms, jitter, u ? u[i] : 0.5);
        out[i] = next;
        now = next + d[i];
    }
}

static void expect_plan(double ms, double jitter, const double *u,
                        const double *d, const double *want, int n)
{
    double got[16];
    plan(ms, jitter, u, d, got, n);
    for (int i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            fail_msg("planned call %d: got %.9f, want %.9f", i, got[i],
                     want[i]);
        }
    }
}

static void c6_5_next_follows_the_grid(void **state)
{
    /* SPEC §6.5: the following call is planned for next + (floor((now -
     * next) / p) + 1) p when next <= now, and for next + p otherwise. */
    (void)state;
    const double zero[5] = {0, 0, 0, 0, 0};
    const double basic[5] = {1010, 1020, 1030, 1040, 1050};
    expect_plan(10000, 0, NULL, zero, basic, 5);
    /* Overruns skip the grid points they missed; ending exactly on a grid
     * point skips that one too. */
    const double over_d[6] = {5, 12, 10, 0, 27, 0};
    const double over[6] = {1010, 1020, 1040, 1060, 1070, 1100};
    expect_plan(10000, 0, NULL, over_d, over, 6);
    /* A clock that went backwards advances by exactly one period. */
    const double back_d[4] = {-1, -4, -2, 0};
    const double back[4] = {1010, 1020, 1030, 1040};
    expect_plan(10000, 0, NULL, back_d, back, 4);
    const double jump_d[3] = {-200, 0, 0};
    const double jump[3] = {1010, 1020, 1030};
    expect_plan(10000, 0, NULL, jump_d, jump, 3);
    /* Sub-second periods, directly. */
    assert_true(eddy_periodic_next(2.0, 2.0, 250, 0, 0.5) == 2.25);
    assert_true(eddy_periodic_next(2.25, 2.9, 250, 0, 0.5) == 3.0);
    assert_true(eddy_periodic_next(3.0, 2.5, 250, 0, 0.5) == 3.25);
}

static void c6_5_overrun_skips_missed_calls(void **state)
{
    /* SPEC §6.5: a callback that overruns its period skips the calls it
     * missed and returns to the grid; calls never come late in a burst. */
    eddy_loop *loop = *state;
    struct pc c;
    const double p = 0.1;
    new_pc(loop, pc_init(&c), 100, 0);
    c.sleep_s = 2.5 * p;
    c.sleep_calls = 3;
    double ta;
    double tb = start_pc(loop, &c, &ta);
    assert_true(run_until_calls(loop, &c, 4));
    check_not_before("call 1", c.at[0], tb + p);
    for (int k = 2; k <= 4; k++) {
        /* The earliest grid point the call may take is the first one after
         * the previous call returned. */
        double prev_end = c.end[k - 2];
        double steps = floor((prev_end - ta) / p) + 1;
        check_not_before("call after an overrun", c.at[k - 1],
                         tb + steps * p - GRID_EPS);
        check_not_after("call after an overrun", c.at[k - 1],
                        prev_end + p + eddy_h_late_bound());
    }
    eddy_periodic_free(c.p);
}

/* --- §6.6 jitter --------------------------------------------------------- */

static void c6_6_jitter_scales_each_period(void **state)
{
    /* SPEC §6.6: each period is callback_time (1 + j (u - 0.5)), drawn once
     * per planned call. */
    (void)state;
    const double zero[4] = {0, 0, 0, 0};
    const double u[4] = {0.5, 0.75, 0, 0.25};
    const double want[4] = {1010, 1021.25, 1028.75, 1037.5};
    expect_plan(10000, 0.5, u, zero, want, 4);
    /* The jittered period is also the step used to skip missed points. */
    assert_true(eddy_periodic_next(1000, 1012, 10000, 1, 0) == 1015);
    assert_true(eddy_periodic_next(1000, 1000, 10000, 0, 0.9) == 1010);
    const double js[3] = {0.1, 0.3, 1.0};
    const double us[5] = {0, 0.2, 0.5, 0.9, 0.999999};
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 5; k++) {
            double period = eddy_periodic_next(1000, 1000, 10000, js[i],
                                               us[k]) - 1000;
            double expect = 10 * (1 + js[i] * (us[k] - 0.5));
            assert_true(fabs(period - expect) < 1e-9);
            assert_true(period >= 10 * (1 - js[i] / 2) - 1e-9);
            assert_true(period < 10 * (1 + js[i] / 2));
        }
    }
}

static void c6_6_jitter_keeps_calls_in_window(void **state)
{
    /* SPEC §6.6: with jitter j every period lies within a window of width
     * j callback_time centred on callback_time. */
    eddy_loop *loop = *state;
    struct pc c;
    const double p = 0.04;
    const double j = 0.5;
    new_pc(loop, pc_init(&c), 40, j);
    double ta;
    double tb = start_pc(loop, &c, &ta);
    assert_true(run_until_calls(loop, &c, 6));
    double lo = p * (1 - j / 2);
    double hi = p * (1 + j / 2);
    double late = eddy_h_late_bound();
    check_not_before("call 1", c.at[0], tb + lo - GRID_EPS);
    check_not_after("call 1", c.at[0], ta + hi + late);
    for (int k = 2; k <= c.n; k++) {
        check_not_before("call k", c.at[k - 1], tb + k * lo - GRID_EPS);
        check_not_after("call k", c.at[k - 1], c.end[k - 2] + hi + late);
    }
    eddy_periodic_free(c.p);
}

/* --- §6.7 jitter validation ---------------------------------------------- */

static void c6_7_rejects_jitter_outside_0_1(void **state)
{
    /* SPEC §6.7: a jitter that is not a finite number in [0, 1] is
     * rejected with -EINVAL. */
    eddy_loop *loop = *state;
    struct pc c;
    pc_init(&c);
    const double bad[] = {-0.01, -1e-12, 1.0000001, 2, 3, NAN, INFINITY,
                          -INFINITY};
    eddy_periodic *sentinel = (eddy_periodic *)&c;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eddy_periodic *out = sentinel;
        assert_int_equal(eddy_periodic_new(loop, 10, bad[i], pc_cb, &c, &out),
                         -EINVAL);
        assert_ptr_equal(out, sentinel);
    }
    const double good[] = {0, 0.5, 1};
    for (size_t i = 0; i < 3; i++) {
        eddy_periodic *out = NULL;
        assert_int_equal(eddy_periodic_new(loop, 10, good[i], pc_cb, &c,
                                           &out), 0);
        eddy_periodic_free(out);
    }
}

/* --- §6.8 the current loop ----------------------------------------------- */

static void c6_8_null_loop_binds_current_loop_at_start(void **state)
{
    /* SPEC §6.8: without an explicit loop, start() binds to the thread's
     * current loop at the time of the call (-ENOENT if there is none). */
    eddy_loop *loop = *state;
    eddy_loop *other = NULL;
    struct pc c;
    eddy_loop_clear_current();
    new_pc(NULL, pc_init(&c), 20, 0);
    assert_int_equal(eddy_periodic_start(c.p), -ENOENT);
    assert_false(eddy_periodic_is_running(c.p));
    assert_int_equal(eddy_loop_make_current(loop), 0);
    assert_int_equal(eddy_periodic_start(c.p), 0);
    assert_true(run_until_calls(loop, &c, 1));
    assert_ptr_equal(c.loop_seen, loop);
    assert_int_equal(eddy_periodic_stop(c.p), 0);
    /* Started again under another current loop, it runs there. */
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &other), 0);
    assert_int_equal(eddy_loop_make_current(other), 0);
    assert_int_equal(eddy_periodic_start(c.p), 0);
    int n = c.n;
    run_for(loop, 0.1);
    assert_int_equal(c.n, n);
    assert_true(run_until_calls(other, &c, n + 1));
    assert_ptr_equal(c.loop_seen, other);
    eddy_periodic_free(c.p);
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_free(other), 0);
}

struct maker {
    struct pc *c;
    int rc;
};

static void *make_periodic(void *arg)
{
    struct maker *m = arg;
    eddy_loop_clear_current();
    m->rc = eddy_periodic_new(NULL, 20, 0, pc_cb, m->c, &m->c->p);
    return NULL;
}

static void c6_8_created_in_one_thread_started_in_another(void **state)
{
    /* SPEC §6.8: the loop is looked up by start(), not at creation, so a
     * periodic callback created where no loop is current can start where
     * one is. */
    eddy_loop *loop = *state;
    struct pc c;
    struct maker m = {.c = pc_init(&c), .rc = 1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, make_periodic, &m), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(m.rc, 0);
    assert_int_equal(eddy_loop_make_current(loop), 0);
    double ta;
    double tb = start_pc(loop, &c, &ta);
    assert_true(run_until_calls(loop, &c, 2));
    assert_ptr_equal(c.loop_seen, loop);
    check_plain_grid(&c, tb, ta, 0.02);
    eddy_periodic_free(c.p);
    eddy_loop_clear_current();
}

/* --- §6.9 stop, restart and free from inside ----------------------------- */

static void c6_9_stop_inside_callback(void **state)
{
    /* SPEC §6.9: after stop() from inside the callback no further call
     * happens. */
    eddy_loop *loop = *state;
    struct pc c;
    new_pc(loop, pc_init(&c), 20, 0);
    c.stop_on = 2;
    double ta;
    start_pc(loop, &c, &ta);
    assert_true(run_until_calls(loop, &c, 2));
    run_for(loop, 0.15);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.calls_after_stop, 0);
    assert_false(eddy_periodic_is_running(c.p));
    eddy_periodic_free(c.p);
}

static void c6_9_restart_inside_callback(void **state)
{
    /* SPEC §6.9: the callback may stop and restart its own periodic
     * callback; the new schedule starts from the restart. */
    eddy_loop *loop = *state;
    struct pc c;
    const double p = 0.05;
    new_pc(loop, pc_init(&c), 50, 0);
    c.restart_on = 1;
    double ta;
    start_pc(loop, &c, &ta);
    assert_true(run_until_calls(loop, &c, 3));
    assert_int_equal(c.start_rc, 0);
    assert_true(eddy_periodic_is_running(c.p));
    check_not_before("first call after restart", c.at[1], c.restart_at + p);
    check_not_before("second call after restart", c.at[2],
                     c.restart_at + 2 * p - GRID_EPS);
    eddy_periodic_free(c.p);
}

static void c6_9_free_inside_callback(void **state)
{
    /* SPEC §6.9: the callback may free its own periodic callback; no call
     * follows. */
    eddy_loop *loop = *state;
    struct pc c;
    new_pc(loop, pc_init(&c), 20, 0);
    c.free_on = 2;
    double ta;
    start_pc(loop, &c, &ta);
    assert_true(run_until_calls(loop, &c, 2));
    run_for(loop, 0.15);
    assert_int_equal(c.n, 2);
    assert_null(c.p);
}

static const struct eddy_case cases[] = {
    EDDY_CASE_LOOP(c6_1_period_is_in_milliseconds, "6.2"),
    EDDY_CASE_LOOP(c6_1_rejects_bad_period, "1.2 1.8"),
    EDDY_CASE_LOOP(c6_2_first_call_one_period_after_start, "6.4"),
    EDDY_CASE_LOOP(c6_2_start_twice_is_ealready, "6.5"),
    EDDY_CASE_LOOP(c6_2_wrong_thread_and_closed_loop, "1.6 1.7 6.3"),
    EDDY_CASE_LOOP(c6_3_stop_ends_calls_and_restart_works, "6.4"),
    EDDY_CASE_LOOP(c6_3_stop_when_call_already_due, "5.8"),
    EDDY_CASE_LOOP(c6_4_is_running_tracks_state, "6.9"),
    EDDY_CASE_LOOP(c6_4_free_running_stops_it, ""),
    EDDY_CASE_LOOP(c6_4_failed_call_stays_running, "1.5"),
    EDDY_CASE(c6_5_next_follows_the_grid, ""),
    EDDY_CASE_LOOP(c6_5_overrun_skips_missed_calls, ""),
    EDDY_CASE(c6_6_jitter_scales_each_period, "6.5"),
    EDDY_CASE_LOOP(c6_6_jitter_keeps_calls_in_window, ""),
    EDDY_CASE_LOOP(c6_7_rejects_jitter_outside_0_1, "1.2"),
    EDDY_CASE_LOOP(c6_8_null_loop_binds_current_loop_at_start, "6.3"),
    EDDY_CASE_LOOP(c6_8_created_in_one_thread_started_in_another, ""),
    EDDY_CASE_LOOP(c6_9_stop_inside_callback, "6.2"),
    EDDY_CASE_LOOP(c6_9_restart_inside_callback, "6.3"),
    EDDY_CASE_LOOP(c6_9_free_inside_callback, "6.4"),
};

EDDY_SECTION(s06, "6", "PeriodicCallback", cases);
