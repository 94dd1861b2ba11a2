/* conformance/s02_loop.c - SPEC §2: lifecycle, current loop, clock,
 * iteration order, stop, run_sync, close and free.
 *
 * Iterations are made visible by a "tick" callback that re-adds itself and
 * records "|" once per iteration, so a trace shows where each one begins.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct eddy_trace T;
static int ticks_left;       /* cb_tick stops the loop when it reaches 0 */
static int counter;
static bool guard_fired;
static int token;            /* a value passed through futures */
static eddy_loop *seen_loop; /* the current loop a callback observed */
static int seen_rc;

static void begin(void)
{
    eddy_h_trace_reset(&T);
    ticks_left = 0;
    counter = 0;
    guard_fired = false;
    seen_loop = NULL;
    seen_rc = 1;
}

/* --- callbacks ------------------------------------------------------------ */

static int cb_note(eddy_loop *loop, void *arg)
{
    (void)loop;
    eddy_h_trace(&T, "%s", (const char *)arg);
    return 0;
}

static int cb_stop(eddy_loop *loop, void *arg)
{
    if (arg != NULL) {
        eddy_h_trace(&T, "%s", (const char *)arg);
    }
    return eddy_loop_stop(loop);
}

static int cb_tick(eddy_loop *loop, void *arg)
{
    eddy_h_trace(&T, "|");
    if (--ticks_left <= 0) {
        return eddy_loop_stop(loop);
    }
    return eddy_loop_add_callback(loop, cb_tick, arg);
}

/* Stops a case that would otherwise hang until the runner kills it. */
static int cb_guard(eddy_loop *loop, void *arg)
{
    (void)arg;
    guard_fired = true;
    return eddy_loop_stop(loop);
}

static eddy_timeout arm_guard(eddy_loop *loop)
{
    eddy_timeout h = 0;
    assert_int_equal(eddy_loop_call_later(loop, 5.0, cb_guard, NULL, &h), 0);
    return h;
}

static int cb_record_current(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    seen_rc = eddy_loop_current(false, &seen_loop);
    return 0;
}

static int h_note(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    eddy_h_trace(&T, "%s", (const char *)arg);
    return 0;
}

static int h_count(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    (void)arg;
    counter++;
    return 0;
}

static int fcb_note(eddy_loop *loop, eddy_future *f, void *arg)
{
    (void)f;
    return cb_note(loop, arg);
}

static int close_calls;
static int close_fd_seen = -1;
static void *close_obj_seen;

static void close_obj(int fd, void *obj)
{
    close_calls++;
    close_fd_seen = fd;
    close_obj_seen = obj;
}

/* --- descriptors ---------------------------------------------------------- */

/* --- §2.1 new and free ---------------------------------------------------- */

static void c2_1_new_loop_is_open_and_not_running(void **state)
{
    /* SPEC §2.1: eddy_loop_new creates an open loop that is not running. */
    (void)state;
    begin();
    int fds = eddy_h_open_fds();
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), 0);
    assert_non_null(loop);
    /* Open: it accepts work. Not running: start is not refused. */
    assert_int_equal(eddy_loop_add_callback(loop, cb_stop, "ran"), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_string_equal(eddy_h_trace_str(&T), "ran");
    assert_int_equal(eddy_loop_free(loop), 0);
    assert_int_equal(eddy_h_open_fds(), fds);
}

static void c2_1_new_free_cycles_release_descriptors(void **state)
{
    /* SPEC §2.1: creating and freeing a loop releases every descriptor
     * (and byte: valgrind checks those) it acquired. */
    (void)state;
    begin();
    int fds = eddy_h_open_fds();
    for (int i = 0; i < 64; i++) {
        eddy_loop *loop = NULL;
        assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), 0);
        if (i % 3 == 0) {
            assert_int_equal(eddy_loop_add_callback(loop, cb_stop, NULL), 0);
            assert_int_equal(eddy_loop_call_later(loop, 9, cb_note, "x",
                                                  NULL), 0);
            assert_int_equal(eddy_loop_start(loop), 0);
        }
        if (i % 2 == 0) {
            assert_int_equal(eddy_loop_close(loop, false), 0);
        }
        assert_int_equal(eddy_loop_free(loop), 0);
    }
    assert_int_equal(eddy_h_open_fds(), fds);
    assert_string_equal(eddy_h_trace_str(&T), "");
}

/* --- §2.2-§2.4 the current loop ------------------------------------------- */

static void c2_2_current_make_and_clear(void **state)
{
    /* SPEC §2.2: current(false) returns the thread's current loop or
     * -ENOENT; make_current sets it; clear_current unsets it. */
    (void)state;
    eddy_loop *a = NULL;
    eddy_loop *b = NULL;
    eddy_loop *out = (eddy_loop *)&token;
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_current(false, &out), -ENOENT);
    assert_ptr_equal(out, (eddy_loop *)&token);
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &a), 0);
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &b), 0);
    assert_int_equal(eddy_loop_make_current(a), 0);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, a);
    assert_int_equal(eddy_loop_make_current(b), 0);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, b);
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_current(false, &out), -ENOENT);
    eddy_loop_clear_current(); /* a no-op with none current */
    assert_int_equal(eddy_loop_current(false, &out), -ENOENT);
    assert_ptr_equal(out, b);
    assert_int_equal(eddy_loop_free(a), 0);
    assert_int_equal(eddy_loop_free(b), 0);
}

static void c2_2_current_true_creates_one_loop(void **state)
{
    /* SPEC §2.2: current(true) with none current creates a loop, makes it
     * current and returns it; later calls return that same loop. */
    (void)state;
    eddy_loop *c = NULL;
    eddy_loop *again = NULL;
    int fds = eddy_h_open_fds();
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_current(true, &c), 0);
    assert_non_null(c);
    assert_int_equal(eddy_loop_current(false, &again), 0);
    assert_ptr_equal(again, c);
    assert_int_equal(eddy_loop_current(true, &again), 0);
    assert_ptr_equal(again, c);
    /* The created loop is open and usable. */
    begin();
    assert_int_equal(eddy_loop_add_callback(c, cb_stop, "ran"), 0);
    assert_int_equal(eddy_loop_start(c), 0);
    assert_string_equal(eddy_h_trace_str(&T), "ran");
    assert_int_equal(eddy_loop_free(c), 0);
    assert_int_equal(eddy_loop_current(false, &again), -ENOENT);
    assert_int_equal(eddy_h_open_fds(), fds);
}

struct thread_view {
    int rc_before;
    eddy_loop *own;
    int rc_own;
    eddy_loop *seen;
};

static void *current_in_thread(void *arg)
{
    struct thread_view *v = arg;
    eddy_loop *out = NULL;
    v->rc_before = eddy_loop_current(false, &out);
    if (eddy_loop_new(EDDY_CURRENT_IF_NONE, &v->own) == 0) {
        v->rc_own = eddy_loop_current(false, &v->seen);
        eddy_loop_free(v->own);
    }
    return NULL;
}

static void c2_2_threads_do_not_share_current(void **state)
{
    /* SPEC §2.2: threads do not share their current loop. */
    eddy_loop *loop = *state;
    struct thread_view v = {1, NULL, 1, NULL};
    eddy_loop *out = NULL;
    assert_int_equal(eddy_loop_make_current(loop), 0);
    pthread_t t = eddy_h_thread(current_in_thread, &v);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(v.rc_before, -ENOENT);
    assert_non_null(v.own);
    assert_int_equal(v.rc_own, 0);
    assert_ptr_equal(v.seen, v.own);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, loop);
    eddy_loop_clear_current();
}

static void c2_3_if_none_mode(void **state)
{
    /* SPEC §2.3: EDDY_CURRENT_IF_NONE makes the new loop current only if
     * the thread has none. */
    (void)state;
    eddy_loop *a = NULL;
    eddy_loop *b = NULL;
    eddy_loop *out = NULL;
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_IF_NONE, &a), 0);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, a);
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_IF_NONE, &b), 0);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, a);
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_free(b), 0);
    assert_int_equal(eddy_loop_free(a), 0);
}

static void c2_3_force_mode(void **state)
{
    /* SPEC §2.3: EDDY_CURRENT_FORCE always makes the new loop current,
     * failing with -EEXIST (and changing nothing) if another is current. */
    (void)state;
    eddy_loop *a = NULL;
    eddy_loop *b = (eddy_loop *)&token;
    eddy_loop *out = NULL;
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_FORCE, &a), 0);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, a);
    int fds = eddy_h_open_fds();
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_FORCE, &b), -EEXIST);
    assert_ptr_equal(b, (eddy_loop *)&token);
    assert_int_equal(eddy_h_open_fds(), fds);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, a);
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_free(a), 0);
}

static void c2_3_never_mode(void **state)
{
    /* SPEC §2.3: EDDY_CURRENT_NEVER never makes the new loop current. */
    (void)state;
    eddy_loop *a = NULL;
    eddy_loop *b = NULL;
    eddy_loop *out = NULL;
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &a), 0);
    assert_int_equal(eddy_loop_current(false, &out), -ENOENT);
    assert_int_equal(eddy_loop_make_current(a), 0);
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &b), 0);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, a);
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_free(a), 0);
    assert_int_equal(eddy_loop_free(b), 0);
}

static void c2_3_bad_mode_is_einval(void **state)
{
    /* SPEC §2.3 (and §1.8): a make_current value outside the enum is
     * -EINVAL; nothing is created and *out is untouched. */
    (void)state;
    const int bad[] = {-1, 3, 42};
    int fds = eddy_h_open_fds();
    eddy_loop_clear_current();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eddy_loop *out = (eddy_loop *)&token;
        assert_int_equal(eddy_loop_new(bad[i], &out), -EINVAL);
        assert_ptr_equal(out, (eddy_loop *)&token);
        assert_int_equal(eddy_loop_current(false, &out), -ENOENT);
    }
    assert_int_equal(eddy_h_open_fds(), fds);
}

static void c2_4_deprecated_aliases(void **state)
{
    /* SPEC §2.4: instance is current(true), install is make_current,
     * clear_instance is clear_current. */
    eddy_loop *loop = *state;
    eddy_loop *out = NULL;
    eddy_loop *made = NULL;
    eddy_loop_clear_instance();
    assert_int_equal(eddy_loop_instance(&made), 0);
    assert_non_null(made);
    assert_ptr_not_equal(made, loop);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, made);
    assert_int_equal(eddy_loop_instance(&out), 0);
    assert_ptr_equal(out, made);
    assert_int_equal(eddy_loop_install(loop), 0);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, loop);
    assert_int_equal(eddy_loop_instance(&out), 0);
    assert_ptr_equal(out, loop);
    eddy_loop_clear_instance();
    assert_int_equal(eddy_loop_current(false, &out), -ENOENT);
    assert_int_equal(eddy_loop_instance(NULL), -EINVAL);
    assert_int_equal(eddy_loop_free(made), 0);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_loop_install(loop), -ESHUTDOWN);
    assert_int_equal(eddy_loop_current(false, &out), -ENOENT);
}

/* --- §2.5 the clock ------------------------------------------------------- */

static int cb_check_deadline(eddy_loop *loop, void *arg)
{
    double when = *(const double *)arg;
    double now = eddy_loop_time(loop);
    eddy_h_trace(&T, "%s", now >= when ? "on-time" : "early");
    if (now - when > eddy_h_late_bound()) {
        eddy_h_trace(&T, "late");
    }
    return eddy_loop_stop(loop);
}

static void c2_5_time_never_decreases(void **state)
{
    /* SPEC §2.5: eddy_loop_time returns seconds; successive readings never
     * decrease. */
    eddy_loop *loop = *state;
    double prev = eddy_loop_time(loop);
    assert_true(isfinite(prev));
    for (int i = 0; i < 100000; i++) {
        double now = eddy_loop_time(loop);
        assert_true(now >= prev);
        prev = now;
    }
    /* Seconds, not another unit: a 50 ms sleep advances it by 0.05 or
     * more, and by less than the lateness bound beyond that. */
    double t0 = eddy_loop_time(loop);
    eddy_h_sleep(0.05);
    double dt = eddy_loop_time(loop) - t0;
    assert_true(dt >= 0.05);
    assert_true(dt < 0.05 + eddy_h_late_bound());
    assert_true(isnan(eddy_loop_time(NULL)));
}

static void c2_5_call_at_uses_the_same_base(void **state)
{
    /* SPEC §2.5: deadlines given to call_at are in the base of
     * eddy_loop_time. */
    eddy_loop *loop = *state;
    begin();
    double when = eddy_loop_time(loop) + 0.05;
    assert_int_equal(eddy_loop_call_at(loop, when, cb_check_deadline, &when,
                                       NULL), 0);
    eddy_timeout guard = arm_guard(loop);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_false(guard_fired);
    assert_string_equal(eddy_h_trace_str(&T), "on-time");
    assert_int_equal(eddy_loop_remove_timeout(loop, guard), 0);
}

/* --- §2.6 start ----------------------------------------------------------- */

static int cb_chain(eddy_loop *loop, void *arg)
{
    if (++counter == 100) {
        return eddy_loop_stop(loop);
    }
    return eddy_loop_add_callback(loop, cb_chain, arg);
}

static void c2_6_start_runs_until_stop(void **state)
{
    /* SPEC §2.6: start runs iterations until stop is called, then
     * returns 0. */
    eddy_loop *loop = *state;
    begin();
    assert_int_equal(eddy_loop_add_callback(loop, cb_chain, NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_int_equal(counter, 100);
    /* With only a timer, start waits for it instead of returning. */
    double t0 = eddy_loop_time(loop);
    assert_int_equal(eddy_loop_call_later(loop, 0.05, cb_stop, "t", NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_true(eddy_loop_time(loop) >= t0 + 0.05);
    assert_string_equal(eddy_h_trace_str(&T), "t");
}

static int rs_record_current(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)out;
    return cb_record_current(loop, arg);
}

static void c2_6_current_while_running_then_restored(void **state)
{
    /* SPEC §2.6: the loop is the thread's current loop while its callbacks
     * run; after start returns the previous current loop is restored. */
    eddy_loop *loop = *state;
    eddy_loop *prev = NULL;
    eddy_loop *out = NULL;
    begin();
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &prev), 0);
    assert_int_equal(eddy_loop_make_current(prev), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0.001, cb_record_current,
                                          NULL, NULL), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0.002, cb_stop, NULL, NULL),
                     0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_int_equal(seen_rc, 0);
    assert_ptr_equal(seen_loop, loop);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, prev);
    /* With none current before, none is current after. */
    eddy_loop_clear_current();
    begin();
    assert_int_equal(eddy_loop_add_callback(loop, cb_record_current, NULL),
                     0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_stop, NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_ptr_equal(seen_loop, loop);
    assert_int_equal(eddy_loop_current(false, &out), -ENOENT);
    /* run_sync too. */
    begin();
    assert_int_equal(eddy_loop_make_current(prev), 0);
    assert_int_equal(eddy_loop_run_sync(loop, EDDY_NO_TIMEOUT,
                                        rs_record_current, NULL, NULL), 0);
    assert_ptr_equal(seen_loop, loop);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, prev);
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_free(prev), 0);
}

/* --- §2.7 stop ------------------------------------------------------------ */

static int cb_add_child(eddy_loop *loop, void *arg)
{
    eddy_h_trace(&T, "%s", (const char *)arg);
    return eddy_loop_add_callback(loop, cb_stop, "child");
}

static void c2_7_stop_before_start_runs_one_iteration(void **state)
{
    /* SPEC §2.7: stop on a loop that is not running makes the next start
     * run exactly one iteration, with a zero poll timeout, and return. */
    eddy_loop *loop = *state;
    int p[2];
    begin();
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_note,
                                           "io"), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_add_child, "a"), 0);
    assert_int_equal(eddy_loop_call_later(loop, -1, cb_note, "t", NULL), 0);
    assert_int_equal(eddy_loop_call_later(loop, 10, cb_note, "far", NULL),
                     0);
    assert_int_equal(eddy_loop_stop(loop), 0);
    double t0 = eddy_h_now();
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_true(eddy_h_now() - t0 < eddy_h_late_bound());
    assert_string_equal(eddy_h_trace_str(&T), "a io t");
    /* The child queued in that iteration runs in the next start. */
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_string_equal(eddy_h_trace_str(&T), "a io t child io");
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

static void c2_7_stop_before_start_with_nothing_queued(void **state)
{
    /* SPEC §2.7: after stop on a stopped loop, start polls with a zero
     * timeout and returns even when nothing is queued or due. */
    eddy_loop *loop = *state;
    begin();
    assert_int_equal(eddy_loop_call_later(loop, 10, cb_note, "far", NULL),
                     0);
    assert_int_equal(eddy_loop_stop(loop), 0);
    double t0 = eddy_h_now();
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_true(eddy_h_now() - t0 < eddy_h_late_bound());
    assert_string_equal(eddy_h_trace_str(&T), "");
}

static int cb_stop_and_add_child(eddy_loop *loop, void *arg)
{
    (void)arg;
    eddy_h_trace(&T, "a");
    int rc = eddy_loop_stop(loop);
    if (rc == 0) {
        rc = eddy_loop_add_callback(loop, cb_stop, "child");
    }
    return rc;
}

static void c2_7_stop_in_callback_finishes_iteration(void **state)
{
    /* SPEC §2.7: stop on a running loop makes start return after the
     * current iteration: its remaining callbacks, handlers and due
     * timeouts still run, and nothing of the next iteration does. */
    eddy_loop *loop = *state;
    int p[2];
    begin();
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_note,
                                           "io"), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_stop_and_add_child,
                                            NULL), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_note, "b"), 0);
    assert_int_equal(eddy_loop_call_later(loop, -1, cb_note, "t", NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_string_equal(eddy_h_trace_str(&T), "a b io t");
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_string_equal(eddy_h_trace_str(&T), "a b io t child io");
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

/* --- §2.8 run_sync -------------------------------------------------------- */

static int rs_none(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)out;
    counter++;
    return cb_record_current(loop, arg);
}

static int rs_fail(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)loop;
    (void)arg;
    (void)out;
    counter++;
    return -EIO;
}

/* A future resolved before func returns: with a value, or with the error
 * in *arg. */
static int rs_done(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)loop;
    eddy_future *f = NULL;
    int rc = eddy_future_new(&f);
    if (rc != 0) {
        return rc;
    }
    counter++;
    rc = arg == NULL ? eddy_future_set_result(f, &token)
                     : eddy_future_set_error(f, *(const int *)arg);
    *out = f;
    return rc;
}

static int cb_resolve(eddy_loop *loop, void *arg)
{
    (void)loop;
    int rc = eddy_future_set_result(arg, &token);
    eddy_future_release(arg);
    return rc;
}

static int rs_by_timer(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)arg;
    eddy_future *f = NULL;
    int rc = eddy_future_new(&f);
    if (rc != 0) {
        return rc;
    }
    rc = eddy_loop_call_later(loop, 0.05, cb_resolve, eddy_future_retain(f),
                              NULL);
    if (rc != 0) {
        eddy_future_release(f);
    }
    *out = f;
    return rc;
}

static pthread_t resolver;
static double resolved_at; /* eddy_h_now() when resolve_later resolved */

static void *resolve_later(void *arg)
{
    eddy_h_sleep(0.05);
    resolved_at = eddy_h_now();
    eddy_future_set_result(arg, &token);
    eddy_future_release(arg);
    return NULL;
}

static int rs_by_thread(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)loop;
    (void)arg;
    eddy_future *f = NULL;
    int rc = eddy_future_new(&f);
    if (rc != 0) {
        return rc;
    }
    rc = pthread_create(&resolver, NULL, resolve_later,
                        eddy_future_retain(f));
    if (rc != 0) {
        eddy_future_release(f);
    }
    *out = f;
    return -rc;
}

static eddy_future *kept; /* a reference the case keeps to func's future */

static int rs_pending(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)loop;
    (void)arg;
    eddy_future *f = NULL;
    int rc = eddy_future_new(&f);
    if (rc == 0) {
        kept = eddy_future_retain(f);
        *out = f;
    }
    return rc;
}

static void c2_8_run_sync_none_gives_null(void **state)
{
    /* SPEC §2.8: run_sync queues func, runs the loop until it returned
     * and returns 0 with *result = NULL when func gave no future. */
    eddy_loop *loop = *state;
    void *result = &token;
    begin();
    assert_int_equal(eddy_loop_run_sync(loop, EDDY_NO_TIMEOUT, rs_none, NULL,
                                        &result), 0);
    assert_null(result);
    assert_int_equal(counter, 1);
    assert_ptr_equal(seen_loop, loop);
    assert_int_equal(eddy_loop_run_sync(loop, 1.0, rs_none, NULL, NULL), 0);
    assert_int_equal(counter, 2);
}

static void c2_8_run_sync_returns_future_value(void **state)
{
    /* SPEC §2.8: run_sync returns 0 with *result = the value of the future
     * func gave. */
    eddy_loop *loop = *state;
    void *result = NULL;
    begin();
    assert_int_equal(eddy_loop_run_sync(loop, EDDY_NO_TIMEOUT, rs_done, NULL,
                                        &result), 0);
    assert_ptr_equal(result, &token);
    assert_int_equal(counter, 1);
}

static void c2_8_run_sync_errors(void **state)
{
    /* SPEC §2.8: run_sync returns func's own negative return, or the
     * future's error; *result is then untouched. */
    eddy_loop *loop = *state;
    void *result = &counter;
    int err = -ECONNRESET;
    int cancelled = -ECANCELED;
    begin();
    assert_int_equal(eddy_loop_run_sync(loop, EDDY_NO_TIMEOUT, rs_fail, NULL,
                                        &result), -EIO);
    assert_int_equal(eddy_loop_run_sync(loop, EDDY_NO_TIMEOUT, rs_done, &err,
                                        &result), -ECONNRESET);
    assert_int_equal(eddy_loop_run_sync(loop, 5.0, rs_done, &cancelled,
                                        &result), -ECANCELED);
    assert_ptr_equal(result, &counter);
    assert_int_equal(counter, 3);
}

static void c2_8_run_sync_future_resolved_later(void **state)
{
    /* SPEC §2.8: run_sync keeps the loop running until the future is done,
     * whether a timer or another thread resolves it. */
    eddy_loop *loop = *state;
    void *result = NULL;
    begin();
    double t0 = eddy_loop_time(loop);
    assert_int_equal(eddy_loop_run_sync(loop, EDDY_NO_TIMEOUT, rs_by_timer,
                                        NULL, &result), 0);
    assert_ptr_equal(result, &token);
    assert_true(eddy_loop_time(loop) >= t0 + 0.05);
    result = NULL;
    t0 = eddy_loop_time(loop);
    int rc = eddy_loop_run_sync(loop, 5.0, rs_by_thread, NULL, &result);
    assert_int_equal(pthread_join(resolver, NULL), 0);
    assert_int_equal(rc, 0);
    assert_ptr_equal(result, &token);
    assert_true(eddy_loop_time(loop) >= t0 + 0.05);
    /* The loop wakes promptly once the thread resolves the future; late
     * only measures from that moment, since under load the thread itself
     * may start and wake from its sleep late, which is not the loop's. */
    assert_true(eddy_h_now() - resolved_at < eddy_h_late_bound());
}

static void c2_8_run_sync_timeout(void **state)
{
    /* SPEC §2.8: a timeout that expires first cancels the future and
     * run_sync returns -ETIMEDOUT; the loop is left stopped, open and
     * reusable. */
    eddy_loop *loop = *state;
    void *result = &counter;
    begin();
    double t0 = eddy_loop_time(loop);
    assert_int_equal(eddy_loop_run_sync(loop, 0.1, rs_pending, NULL, &result),
                     -ETIMEDOUT);
    double t1 = eddy_loop_time(loop);
    assert_true(t1 >= t0 + 0.1);
    assert_true(t1 < t0 + 0.1 + eddy_h_late_bound());
    assert_ptr_equal(result, &counter);
    assert_non_null(kept);
    assert_true(eddy_future_done(kept));
    assert_int_equal(eddy_future_result(kept, NULL), -ECANCELED);
    eddy_future_release(kept);
    kept = NULL;
    /* Reusable: run_sync and start both work again. */
    assert_int_equal(eddy_loop_run_sync(loop, 1.0, rs_done, NULL, &result),
                     0);
    assert_ptr_equal(result, &token);
    assert_int_equal(eddy_loop_add_callback(loop, cb_stop, "again"), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_string_equal(eddy_h_trace_str(&T), "again");
}

static int rs_pending_then_stop(eddy_loop *loop, void *arg,
                                eddy_future **out)
{
    int rc = rs_pending(loop, arg, out);
    return rc != 0 ? rc : eddy_loop_stop(loop);
}

static void c2_17_run_sync_stopped_early_times_out(void **state)
{
    /* SPEC §2.17: when the loop is stopped before run_sync's future is done
     * and before its timeout, run_sync returns -ETIMEDOUT, does not cancel
     * the future, and leaves the loop stopped and reusable. */
    eddy_loop *loop = *state;
    void *result = &counter;
    begin();
    double t0 = eddy_loop_time(loop);
    assert_int_equal(eddy_loop_run_sync(loop, 30.0, rs_pending_then_stop,
                                        NULL, &result), -ETIMEDOUT);
    assert_true(eddy_loop_time(loop) < t0 + 30.0);
    assert_ptr_equal(result, &counter);
    assert_non_null(kept);
    assert_false(eddy_future_done(kept));
    assert_int_equal(eddy_future_set_result(kept, &token), 0);
    eddy_future_release(kept);
    kept = NULL;
    assert_int_equal(eddy_loop_run_sync(loop, 1.0, rs_done, NULL, &result),
                     0);
    assert_ptr_equal(result, &token);
}

static void c2_8_run_sync_removes_its_timer(void **state)
{
    /* SPEC §2.8: after run_sync returns, its timeout's timer is removed:
     * it neither fires nor stops a later run of the loop. */
    eddy_loop *loop = *state;
    begin();
    assert_int_equal(eddy_loop_run_sync(loop, 0.05, rs_done, NULL, NULL), 0);
    double t0 = eddy_loop_time(loop);
    assert_int_equal(eddy_loop_call_later(loop, 0.2, cb_stop, "t", NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_true(eddy_loop_time(loop) >= t0 + 0.2);
    assert_string_equal(eddy_h_trace_str(&T), "t");
}

static void c2_8_run_sync_bad_timeout_einval(void **state)
{
    /* SPEC §2.8 (and §1.8): a NaN, infinite or negative timeout other than
     * EDDY_NO_TIMEOUT, or a NULL func, is -EINVAL and func never runs. */
    eddy_loop *loop = *state;
    const double bad[] = {NAN, -0.5, -2.0, -INFINITY, INFINITY};
    void *result = &counter;
    begin();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(eddy_loop_run_sync(loop, bad[i], rs_none, NULL,
                                            &result), -EINVAL);
    }
    assert_int_equal(eddy_loop_run_sync(loop, 1.0, NULL, NULL, &result),
                     -EINVAL);
    assert_ptr_equal(result, &counter);
    /* Nothing was queued: one iteration runs no func. */
    assert_int_equal(eddy_loop_stop(loop), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_int_equal(counter, 0);
}

/* --- §2.9 running twice --------------------------------------------------- */

static int cb_nested(eddy_loop *loop, void *arg)
{
    (void)arg;
    eddy_h_trace(&T, "start:%d", eddy_loop_start(loop));
    eddy_h_trace(&T, "sync:%d",
                 eddy_loop_run_sync(loop, EDDY_NO_TIMEOUT, rs_none, NULL,
                                    NULL));
    return eddy_loop_add_callback(loop, cb_stop, "next");
}

static void c2_9_nested_start_ebusy(void **state)
{
    /* SPEC §2.9: start or run_sync on a running loop from its own callback
     * returns -EBUSY and does not disturb the running loop. */
    eddy_loop *loop = *state;
    begin();
    assert_int_equal(eddy_loop_add_callback(loop, cb_nested, NULL), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_note, "b"), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    char want[64];
    snprintf(want, sizeof(want), "start:%d sync:%d b next", -EBUSY, -EBUSY);
    assert_string_equal(eddy_h_trace_str(&T), want);
    assert_int_equal(counter, 0);
}

static void *start_from_thread(void *arg)
{
    eddy_loop *loop = arg;
    eddy_h_trace(&T, "start:%d", eddy_loop_start(loop));
    eddy_h_trace(&T, "sync:%d",
                 eddy_loop_run_sync(loop, EDDY_NO_TIMEOUT, rs_none, NULL,
                                    NULL));
    return NULL;
}

static int cb_start_other_thread(eddy_loop *loop, void *arg)
{
    (void)arg;
    pthread_t t = eddy_h_thread(start_from_thread, loop);
    pthread_join(t, NULL);
    return eddy_loop_add_callback(loop, cb_stop, "next");
}

static void c2_9_start_from_other_thread_ebusy(void **state)
{
    /* SPEC §2.9: start or run_sync from another thread while the loop runs
     * returns -EBUSY and does not disturb the running loop. */
    eddy_loop *loop = *state;
    begin();
    assert_int_equal(eddy_loop_add_callback(loop, cb_start_other_thread,
                                            NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    char want[64];
    snprintf(want, sizeof(want), "start:%d sync:%d next", -EBUSY, -EBUSY);
    assert_string_equal(eddy_h_trace_str(&T), want);
    assert_int_equal(counter, 0);
}

static int cb_start_second(eddy_loop *loop, void *arg)
{
    eddy_loop *second = arg;
    eddy_h_trace(&T, "start:%d", eddy_loop_start(second));
    eddy_h_trace(&T, "sync:%d",
                 eddy_loop_run_sync(second, EDDY_NO_TIMEOUT, rs_none, NULL,
                                    NULL));
    return eddy_loop_stop(loop);
}

static void c2_9_second_loop_inside_callback_eperm(void **state)
{
    /* SPEC §2.9: start of a second loop from inside a callback of a
     * running loop on the same thread returns -EPERM. */
    eddy_loop *loop = *state;
    eddy_loop *second = NULL;
    begin();
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &second), 0);
    assert_int_equal(eddy_loop_add_callback(second, cb_note, "second"), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_start_second, second),
                     0);
    assert_int_equal(eddy_loop_start(loop), 0);
    char want[64];
    snprintf(want, sizeof(want), "start:%d sync:%d", -EPERM, -EPERM);
    assert_string_equal(eddy_h_trace_str(&T), want);
    assert_int_equal(counter, 0);
    /* The refused loop is intact and runs its own callback later. */
    assert_int_equal(eddy_loop_add_callback(second, cb_stop, NULL), 0);
    assert_int_equal(eddy_loop_start(second), 0);
    snprintf(want, sizeof(want), "start:%d sync:%d second", -EPERM, -EPERM);
    assert_string_equal(eddy_h_trace_str(&T), want);
    assert_int_equal(eddy_loop_free(second), 0);
}

/* --- §2.10-§2.12 close and free ------------------------------------------- */

static int cb_try_close(eddy_loop *loop, void *arg)
{
    (void)arg;
    eddy_h_trace(&T, "close:%d,%d", eddy_loop_close(loop, false),
                 eddy_loop_close(loop, true));
    cb_record_current(loop, NULL);
    int rc = eddy_loop_add_callback(loop, cb_note, "after");
    if (rc == 0) {
        rc = eddy_loop_call_later(loop, 0.02, cb_stop, "t", NULL);
    }
    return rc;
}

static void c2_10_close_running_ebusy_changes_nothing(void **state)
{
    /* SPEC §2.10: closing a running loop returns -EBUSY and changes
     * nothing: handlers, callbacks, timeouts and fds stay. */
    eddy_loop *loop = *state;
    int p[2];
    begin();
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_count,
                                           NULL), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_try_close, NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    char want[64];
    snprintf(want, sizeof(want), "close:%d,%d after t", -EBUSY, -EBUSY);
    assert_string_equal(eddy_h_trace_str(&T), want);
    assert_ptr_equal(seen_loop, loop);
    assert_true(counter >= 2);
    assert_true(eddy_h_fd_open(p[0]));
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

static void c2_10_second_close_eshutdown(void **state)
{
    /* SPEC §2.10: closing a closed loop returns -ESHUTDOWN and changes
     * nothing (in particular it closes no fd). */
    eddy_loop *loop = *state;
    int p[2];
    eddy_h_pipe(p);
    close_calls = 0;
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_count,
                                           NULL), 0);
    assert_int_equal(eddy_loop_add_handler_object(loop, p[1], EDDY_WRITE,
                                                  h_count, &token,
                                                  close_obj), 0);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_loop_close(loop, true), -ESHUTDOWN);
    assert_int_equal(eddy_loop_close(loop, false), -ESHUTDOWN);
    assert_true(eddy_h_fd_open(p[0]));
    assert_true(eddy_h_fd_open(p[1]));
    assert_int_equal(close_calls, 0);
    eddy_h_close_pair(p);
}

static void c2_10_close_discards_pending_work(void **state)
{
    /* SPEC §2.10: close of a stopped loop unregisters every handler and
     * discards pending callbacks, timeouts and future callbacks without
     * running them. */
    eddy_loop *loop = *state;
    eddy_future *f = NULL;
    int p[2];
    begin();
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_note,
                                           "io"), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_note, "cb"), 0);
    assert_int_equal(eddy_loop_call_later(loop, -1, cb_note, "t", NULL), 0);
    assert_int_equal(eddy_loop_add_future(loop, f, fcb_note, "fut"), 0);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_future_set_result(f, &token), 0);
    eddy_future_release(f);
    eddy_h_sleep(0.02);
    assert_int_equal(eddy_loop_free(loop), 0);
    *state = NULL;
    assert_string_equal(eddy_h_trace_str(&T), "");
    /* Unregistered: the fd can join another loop. */
    eddy_loop *other = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &other), 0);
    assert_int_equal(eddy_loop_add_handler(other, p[0], EDDY_READ, h_note,
                                           "other"), 0);
    assert_int_equal(eddy_loop_free(other), 0);
    eddy_h_close_pair(p);
}

static void c2_10_closed_loop_is_no_longer_current(void **state)
{
    /* SPEC §2.10: a closed loop that was the thread's current loop is no
     * longer current; closing another loop leaves the current one. */
    (void)state;
    eddy_loop *a = NULL;
    eddy_loop *b = NULL;
    eddy_loop *out = NULL;
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_IF_NONE, &a), 0);
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &b), 0);
    assert_int_equal(eddy_loop_close(b, false), 0);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, a);
    assert_int_equal(eddy_loop_close(a, false), 0);
    assert_int_equal(eddy_loop_current(false, &out), -ENOENT);
    assert_int_equal(eddy_loop_free(a), 0);
    assert_int_equal(eddy_loop_free(b), 0);
    /* Freeing an open current loop closes it, so it stops being current. */
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_FORCE, &a), 0);
    assert_int_equal(eddy_loop_free(a), 0);
    assert_int_equal(eddy_loop_current(false, &out), -ENOENT);
}

/* Registers p[0] plain, q[0] as an object with close_obj, r[0] as an
 * object without a close function, and p[1] added then removed. */
static void register_for_close(eddy_loop *loop, int p[2], int q[2], int r[2])
{
    eddy_h_pipe(p);
    eddy_h_pipe(q);
    eddy_h_pipe(r);
    close_calls = 0;
    close_fd_seen = -1;
    close_obj_seen = NULL;
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_count,
                                           NULL), 0);
    assert_int_equal(eddy_loop_add_handler_object(loop, q[0], EDDY_READ,
                                                  h_count, &token,
                                                  close_obj), 0);
    assert_int_equal(eddy_loop_add_handler_object(loop, r[0], EDDY_READ,
                                                  h_count, &counter, NULL),
                     0);
    assert_int_equal(eddy_loop_add_handler(loop, p[1], EDDY_WRITE, h_count,
                                           NULL), 0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[1]), 0);
}

static void c2_11_close_all_fds_true(void **state)
{
    /* SPEC §2.11: close(loop, true) closes every fd registered at that
     * time: a plain fd with close(), an object with its close function
     * (once) instead; other fds stay open. */
    eddy_loop *loop = *state;
    int p[2], q[2], r[2];
    register_for_close(loop, p, q, r);
    assert_int_equal(eddy_loop_close(loop, true), 0);
    assert_false(eddy_h_fd_open(p[0]));
    assert_int_equal(close_calls, 1);
    assert_int_equal(close_fd_seen, q[0]);
    assert_ptr_equal(close_obj_seen, &token);
    assert_true(eddy_h_fd_open(q[0]));     /* close_obj does not close it */
    assert_true(eddy_h_fd_open(r[0]));     /* no close function: left alone */
    assert_true(eddy_h_fd_open(p[1]));     /* removed before the close */
    assert_true(eddy_h_fd_open(q[1]) && eddy_h_fd_open(r[1]));
    assert_int_equal(eddy_loop_free(loop), 0);
    *state = NULL;
    assert_int_equal(close_calls, 1);
    close(p[1]);
    eddy_h_close_pair(q);
    eddy_h_close_pair(r);
}

static void c2_11_close_all_fds_false(void **state)
{
    /* SPEC §2.11: with all_fds false no registered fd is closed and no
     * close function is called. */
    eddy_loop *loop = *state;
    int p[2], q[2], r[2];
    register_for_close(loop, p, q, r);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_true(eddy_h_fd_open(p[0]) && eddy_h_fd_open(q[0]) && eddy_h_fd_open(r[0]));
    assert_int_equal(eddy_loop_free(loop), 0);
    *state = NULL;
    assert_int_equal(close_calls, 0);
    eddy_h_close_pair(p);
    eddy_h_close_pair(q);
    eddy_h_close_pair(r);
}

static void c2_12_free_null_is_noop(void **state)
{
    /* SPEC §2.12: eddy_loop_free(NULL) does nothing. */
    (void)state;
    int fds = eddy_h_open_fds();
    assert_int_equal(eddy_loop_free(NULL), 0);
    assert_int_equal(eddy_h_open_fds(), fds);
}

static void c2_12_free_closes_open_loop_keeping_fds(void **state)
{
    /* SPEC §2.12: eddy_loop_free closes an open loop as close(loop, false)
     * does: pending work is discarded and no registered fd is closed. */
    eddy_loop *loop = *state;
    int p[2], q[2], r[2];
    begin();
    register_for_close(loop, p, q, r);
    assert_int_equal(eddy_loop_add_callback(loop, cb_note, "cb"), 0);
    assert_int_equal(eddy_loop_call_later(loop, -1, cb_note, "t", NULL), 0);
    assert_int_equal(eddy_loop_free(loop), 0);
    *state = NULL;
    assert_true(eddy_h_fd_open(p[0]) && eddy_h_fd_open(q[0]) && eddy_h_fd_open(r[0]));
    assert_int_equal(close_calls, 0);
    assert_string_equal(eddy_h_trace_str(&T), "");
    eddy_h_close_pair(p);
    eddy_h_close_pair(q);
    eddy_h_close_pair(r);
}

static int cb_try_free(eddy_loop *loop, void *arg)
{
    (void)arg;
    eddy_h_trace(&T, "free:%d", eddy_loop_free(loop));
    return eddy_loop_add_callback(loop, cb_stop, "next");
}

static void c2_12_free_running_ebusy(void **state)
{
    /* SPEC §2.12: freeing a running loop returns -EBUSY and changes
     * nothing. */
    eddy_loop *loop = *state;
    begin();
    assert_int_equal(eddy_loop_add_callback(loop, cb_try_free, NULL), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_note, "b"), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    char want[64];
    snprintf(want, sizeof(want), "free:%d b next", -EBUSY);
    assert_string_equal(eddy_h_trace_str(&T), want);
}

/* --- §2.13-§2.14 one iteration -------------------------------------------- */

static int cb_a(eddy_loop *loop, void *arg)
{
    (void)arg;
    eddy_h_trace(&T, "a");
    return eddy_loop_add_callback(loop, cb_stop, "c");
}

static int cb_t(eddy_loop *loop, void *arg)
{
    (void)arg;
    eddy_h_trace(&T, "t");
    return eddy_loop_call_at(loop, eddy_loop_time(loop) - 1, cb_note, "t2",
                             NULL);
}

static void c2_13_order_callbacks_handlers_timeouts(void **state)
{
    /* SPEC §2.13: an iteration runs the callbacks queued before it, then
     * ready handlers, then due timeouts; callbacks and timeouts added
     * during an iteration wait for the next one. */
    eddy_loop *loop = *state;
    int p[2];
    begin();
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_call_at(loop, eddy_loop_time(loop) - 1, cb_t,
                                       NULL, NULL), 0);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_note,
                                           "io"), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_a, NULL), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_note, "b"), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_string_equal(eddy_h_trace_str(&T), "a b io t c io t2");
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

static int pipe_q[2];

static int cb_a_adds_work(eddy_loop *loop, void *arg)
{
    (void)arg;
    eddy_h_trace(&T, "a");
    int rc = eddy_loop_add_callback(loop, cb_note, "b");
    if (rc == 0) {
        rc = eddy_loop_add_handler(loop, pipe_q[0], EDDY_READ, h_note, "io");
    }
    return rc;
}

static void c2_13_work_added_during_iteration_waits(void **state)
{
    /* SPEC §2.13: callbacks, handlers and timeouts added during an
     * iteration never run in that same iteration; a timeout added during
     * the timer step waits even if already due. */
    eddy_loop *loop = *state;
    begin();
    eddy_h_pipe(pipe_q);
    eddy_h_put_byte(pipe_q[1]);
    ticks_left = 3;
    assert_int_equal(eddy_loop_add_callback(loop, cb_tick, NULL), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_a_adds_work, NULL), 0);
    assert_int_equal(eddy_loop_call_later(loop, -1, cb_t, NULL, NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_string_equal(eddy_h_trace_str(&T), "| a t | b io t2 | io");
    assert_int_equal(eddy_loop_remove_handler(loop, pipe_q[0]), 0);
    eddy_h_close_pair(pipe_q);
}

static int cb_due_later(eddy_loop *loop, void *arg)
{
    (void)arg;
    eddy_h_trace(&T, "a");
    return eddy_loop_call_later(loop, -2, cb_note, "ta", NULL);
}

static int h_due_later(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)fd;
    (void)events;
    (void)arg;
    eddy_h_trace(&T, "io");
    if (counter++ > 0) {
        return 0;
    }
    return eddy_loop_call_later(loop, -1, cb_note, "th", NULL);
}

static void c2_13_due_timeout_added_in_iteration_waits(void **state)
{
    /* SPEC §2.13: a timeout added by a callback or a handler never runs in
     * that same iteration, even with a deadline already in the past. */
    eddy_loop *loop = *state;
    int p[2];
    begin();
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ,
                                           h_due_later, NULL), 0);
    ticks_left = 3;
    assert_int_equal(eddy_loop_add_callback(loop, cb_tick, NULL), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_due_later, NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_string_equal(eddy_h_trace_str(&T), "| a io | io ta th | io");
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

static void c2_13_queued_callbacks_make_poll_nonblocking(void **state)
{
    /* SPEC §2.13: the poll step does not wait while callbacks are queued,
     * even with a distant timeout pending. */
    eddy_loop *loop = *state;
    begin();
    assert_int_equal(eddy_loop_call_later(loop, 10, cb_note, "far", NULL),
                     0);
    double t0 = eddy_h_now();
    assert_int_equal(eddy_loop_add_callback(loop, cb_chain, NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_int_equal(counter, 100);
    assert_true(eddy_h_now() - t0 < eddy_h_late_bound());
}

static void *stop_later(void *arg)
{
    eddy_h_sleep(0.1);
    eddy_loop_add_callback(arg, cb_stop, "woken");
    return NULL;
}

static void c2_13_idle_poll_waits_without_limit(void **state)
{
    /* SPEC §2.13: with nothing queued and no timeout the poll waits
     * without limit: start returns only once work arrives. */
    eddy_loop *loop = *state;
    begin();
    double t0 = eddy_h_now();
    pthread_t t = eddy_h_thread(stop_later, loop);
    int rc = eddy_loop_start(loop);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(rc, 0);
    assert_true(eddy_h_now() - t0 >= 0.1);
    assert_string_equal(eddy_h_trace_str(&T), "woken");
}

static void *add_two_callbacks(void *arg)
{
    eddy_loop_add_callback(arg, cb_note, "x1");
    eddy_loop_add_callback(arg, cb_note, "x2");
    return NULL;
}

static int cb_mix(eddy_loop *loop, void *arg)
{
    (void)arg;
    eddy_h_trace(&T, "mix");
    pthread_t t = eddy_h_thread(add_two_callbacks, loop);
    pthread_join(t, NULL);
    int rc = eddy_loop_add_callback(loop, cb_note, "l1");
    rc = rc != 0 ? rc : eddy_loop_add_callback(loop, cb_note, "l2");
    rc = rc != 0 ? rc : eddy_loop_call_later(loop, -1, cb_note, "t", NULL);
    return rc != 0 ? rc : eddy_loop_add_callback(loop, cb_stop, "l3");
}

/* Position of word in the space-separated trace, or -1. */
static int word_at(const char *trace, const char *word)
{
    int pos = 0;
    size_t n = strlen(word);
    for (const char *p = trace; *p != '\0'; pos++) {
        size_t len = strcspn(p, " ");
        if (len == n && strncmp(p, word, n) == 0) {
            return pos;
        }
        p += len;
        p += *p == ' ';
    }
    return -1;
}

static void c2_14_thread_and_loop_callbacks_share_the_step(void **state)
{
    /* SPEC §2.14: the order of cross-thread callbacks against loop-thread
     * callbacks is implementation-defined; every choice runs each once in
     * the callback step, keeps each thread's order and runs due timeouts
     * after them. */
    eddy_loop *loop = *state;
    begin();
    assert_int_equal(eddy_loop_add_callback(loop, cb_mix, NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    const char *tr = eddy_h_trace_str(&T);
    assert_int_equal(word_at(tr, "mix"), 0);
    int x1 = word_at(tr, "x1"), x2 = word_at(tr, "x2");
    int l1 = word_at(tr, "l1"), l2 = word_at(tr, "l2"), l3 = word_at(tr, "l3");
    assert_true(x1 > 0 && x1 < x2);
    assert_true(l1 > 0 && l1 < l2 && l2 < l3);
    assert_int_equal(word_at(tr, "t"), 6);
    assert_int_equal(strlen(tr), strlen("mix x1 x2 l1 l2 l3 t"));
}

/* --- §2.15 no early wake, no spin ----------------------------------------- */

struct deadline {
    double when;
    double ran_at;
    int runs;
};

static int cb_deadline(eddy_loop *loop, void *arg)
{
    struct deadline *d = arg;
    d->ran_at = eddy_loop_time(loop);
    d->runs++;
    if (++counter == 5) {
        return eddy_loop_stop(loop);
    }
    return 0;
}

static void c2_15_no_early_wake(void **state)
{
    /* SPEC §2.15: the loop does not wake early: no timeout runs before its
     * deadline, even when the deadline is not a whole millisecond away. */
    eddy_loop *loop = *state;
    const double offsets[5] = {0.0101, 0.0207, 0.0333, 0.0509, 0.1003};
    struct deadline d[5];
    begin();
    double base = eddy_loop_time(loop);
    for (int i = 0; i < 5; i++) {
        d[i].when = base + offsets[i];
        d[i].runs = 0;
        assert_int_equal(eddy_loop_call_at(loop, d[i].when, cb_deadline,
                                           &d[i], NULL), 0);
    }
    eddy_timeout guard = arm_guard(loop);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_false(guard_fired);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(d[i].runs, 1);
        assert_true(d[i].ran_at >= d[i].when);
        assert_true(d[i].ran_at - d[i].when < eddy_h_late_bound());
    }
    assert_int_equal(eddy_loop_remove_timeout(loop, guard), 0);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void c2_15_idle_loop_does_not_spin(void **state)
{
    /* SPEC §2.15: an idle loop with only a distant timeout does not spin:
     * waiting 0.4 s costs far less than 0.4 s of CPU. */
    eddy_loop *loop = *state;
    begin();
    /* Warm up the code paths first (slow tools translate them once). */
    assert_int_equal(eddy_loop_call_later(loop, 0.01, cb_stop, NULL, NULL),
                     0);
    assert_int_equal(eddy_loop_start(loop), 0);
    double when = eddy_loop_time(loop) + 0.4;
    assert_int_equal(eddy_loop_call_at(loop, when, cb_check_deadline, &when,
                                       NULL), 0);
    double cpu0 = cpu_seconds();
    assert_int_equal(eddy_loop_start(loop), 0);
    double cpu = cpu_seconds() - cpu0;
    assert_string_equal(eddy_h_trace_str(&T), "on-time");
    assert_true(cpu < 0.1);
}

/* --- §2.16 fork ----------------------------------------------------------- */

static atomic_bool timer_ran; /* cb_note_timer ran */
static double stop_sent_at;   /* eddy_h_now() when stop_after_timer woke */

static int cb_note_timer(eddy_loop *loop, void *arg)
{
    atomic_store(&timer_ran, true);
    return cb_note(loop, arg);
}

/* Wakes the loop from another thread once its timer has run, so that the
 * trace's order does not depend on how late a loaded machine runs it. */
static void *stop_after_timer(void *arg)
{
    double give_up = eddy_h_now() + 5;
    while (!atomic_load(&timer_ran) && eddy_h_now() < give_up) {
        eddy_h_sleep(0.001);
    }
    stop_sent_at = eddy_h_now();
    eddy_loop_add_callback(arg, cb_stop, "woken");
    return NULL;
}

static void c2_16_free_in_forked_child_leaves_parent_intact(void **state)
{
    /* SPEC §2.16: freeing an inherited loop in a forked child does not
     * affect the parent's loop: its handlers, callbacks, timeouts and
     * cross-thread wakeups still work. */
    eddy_loop *loop = *state;
    int p[2];
    int status = 0;
    begin();
    eddy_h_pipe(p);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_count,
                                           NULL), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_note, "pending"), 0);
    atomic_store(&timer_ran, false);
    assert_int_equal(eddy_loop_call_later(loop, 0.03, cb_note_timer, "t",
                                          NULL), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = eddy_loop_free(loop);
        eddy_h_close_pair(p);
        _exit(rc == 0 ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    eddy_h_put_byte(p[1]);
    eddy_timeout guard = arm_guard(loop);
    pthread_t t = eddy_h_thread(stop_after_timer, loop);
    int rc = eddy_loop_start(loop);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(rc, 0);
    assert_false(guard_fired);
    /* The cross-thread wakeup is prompt: late counts from the moment the
     * thread added its callback. */
    assert_true(eddy_h_now() - stop_sent_at < eddy_h_late_bound());
    assert_string_equal(eddy_h_trace_str(&T), "pending t woken");
    assert_true(counter >= 1);
    assert_int_equal(eddy_loop_remove_timeout(loop, guard), 0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

static const struct eddy_case cases[] = {
    EDDY_CASE(c2_1_new_loop_is_open_and_not_running, ""),
    EDDY_CASE(c2_1_new_free_cycles_release_descriptors, "2.12"),
    EDDY_CASE(c2_2_current_make_and_clear, "1.2"),
    EDDY_CASE(c2_2_current_true_creates_one_loop, "2.10"),
    EDDY_CASE_LOOP(c2_2_threads_do_not_share_current, "2.3"),
    EDDY_CASE(c2_3_if_none_mode, ""),
    EDDY_CASE(c2_3_force_mode, "1.2 1.3"),
    EDDY_CASE(c2_3_never_mode, "2.2"),
    EDDY_CASE(c2_3_bad_mode_is_einval, "1.8 1.2"),
    EDDY_CASE_LOOP(c2_4_deprecated_aliases, "2.2 1.7"),
    EDDY_CASE_LOOP(c2_5_time_never_decreases, ""),
    EDDY_CASE_LOOP(c2_5_call_at_uses_the_same_base, "5.1"),
    EDDY_CASE_LOOP(c2_6_start_runs_until_stop, ""),
    EDDY_CASE_LOOP(c2_6_current_while_running_then_restored, "2.2 2.8"),
    EDDY_CASE_LOOP(c2_7_stop_before_start_runs_one_iteration, "2.13"),
    EDDY_CASE_LOOP(c2_7_stop_before_start_with_nothing_queued, ""),
    EDDY_CASE_LOOP(c2_7_stop_in_callback_finishes_iteration, "2.13"),
    EDDY_CASE_LOOP(c2_8_run_sync_none_gives_null, "2.6"),
    EDDY_CASE_LOOP(c2_8_run_sync_returns_future_value, ""),
    EDDY_CASE_LOOP(c2_8_run_sync_errors, "1.2"),
    EDDY_CASE_LOOP(c2_8_run_sync_future_resolved_later, "4.7"),
    EDDY_CASE_LOOP(c2_8_run_sync_timeout, "4.7"),
    EDDY_CASE_LOOP(c2_8_run_sync_removes_its_timer, ""),
    EDDY_CASE_LOOP(c2_8_run_sync_bad_timeout_einval, "1.8 1.3"),
    EDDY_CASE_LOOP(c2_17_run_sync_stopped_early_times_out, "2.8"),
    EDDY_CASE_LOOP(c2_9_nested_start_ebusy, ""),
    EDDY_CASE_LOOP(c2_9_start_from_other_thread_ebusy, "1.6"),
    EDDY_CASE_LOOP(c2_9_second_loop_inside_callback_eperm, "1.3"),
    EDDY_CASE_LOOP(c2_10_close_running_ebusy_changes_nothing, "2.6"),
    EDDY_CASE_LOOP(c2_10_second_close_eshutdown, "1.7 2.11"),
    EDDY_CASE_LOOP(c2_10_close_discards_pending_work, "4.8"),
    EDDY_CASE(c2_10_closed_loop_is_no_longer_current, "2.12"),
    EDDY_CASE_LOOP(c2_11_close_all_fds_true, "3.8"),
    EDDY_CASE_LOOP(c2_11_close_all_fds_false, "3.8"),
    EDDY_CASE(c2_12_free_null_is_noop, ""),
    EDDY_CASE_LOOP(c2_12_free_closes_open_loop_keeping_fds, "2.10 2.11"),
    EDDY_CASE_LOOP(c2_12_free_running_ebusy, ""),
    EDDY_CASE_LOOP(c2_13_order_callbacks_handlers_timeouts, "4.1 5.3"),
    EDDY_CASE_LOOP(c2_13_work_added_during_iteration_waits, "3.2"),
    EDDY_CASE_LOOP(c2_13_due_timeout_added_in_iteration_waits, "5.3"),
    EDDY_CASE_LOOP(c2_13_queued_callbacks_make_poll_nonblocking, ""),
    EDDY_CASE_LOOP(c2_13_idle_poll_waits_without_limit, "4.3"),
    EDDY_CASE_LOOP(c2_14_thread_and_loop_callbacks_share_the_step, "4.2"),
    EDDY_CASE_LOOP(c2_15_no_early_wake, "5.1"),
    EDDY_CASE_LOOP(c2_15_idle_loop_does_not_spin, ""),
    EDDY_CASE_LOOP(c2_16_free_in_forked_child_leaves_parent_intact, ""),
};
EDDY_SECTION(s02, "2", "The loop: lifecycle, clock and iteration", cases);
