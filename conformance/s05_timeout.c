/* conformance/s05_timeout.c - SPEC §5: timeouts (call_at, call_later,
 * add_timeout, remove_timeout).
 *
 * "Never early" is checked exactly: each timeout reads eddy_loop_time()
 * when it runs and compares it with the deadline it was given. Lateness is
 * only bounded by eddy_h_late_bound(). Order is observed through a trace.
 */
#include "harness.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

/* A timeout under observation. */
struct tmr {
    const char *name;
    double when;        /* the deadline it must not run before */
    double sched_at;    /* loop time when it was scheduled */
    double ran_at;      /* eddy_loop_time() inside the callback */
    int runs;
    bool off_thread;    /* it ran on a thread other than the loop thread */
    eddy_timeout handle;
};

static struct eddy_trace tr;
static pthread_t case_thread;

static void begin(void)
{
    eddy_h_trace_reset(&tr);
    case_thread = pthread_self();
}

static int tmr_cb(eddy_loop *loop, void *arg)
{
    struct tmr *t = arg;
    t->ran_at = eddy_loop_time(loop);
    t->runs++;
    if (!pthread_equal(pthread_self(), case_thread)) {
        t->off_thread = true;
    }
    eddy_h_trace(&tr, "%s", t->name);
    return 0;
}

static bool tmr_ran(void *arg)
{
    return ((const struct tmr *)arg)->runs > 0;
}

/* The timeout ran once, on the loop thread, never before its deadline and
 * no later than the calibrated bound after it (or after it was scheduled,
 * for a deadline already in the past). */
static void check_on_time(const struct tmr *t)
{
    double due = t->when > t->sched_at ? t->when : t->sched_at;

    if (t->runs != 1) {
        fail_msg("%s ran %d times, expected once", t->name, t->runs);
    }
    if (!(t->ran_at >= t->when)) {
        fail_msg("%s ran early: at %.9f, deadline %.9f", t->name, t->ran_at,
                 t->when);
    }
    if (t->ran_at - due > eddy_h_late_bound()) {
        fail_msg("%s ran %.3f s late (bound %.3f s)", t->name,
                 t->ran_at - due, eddy_h_late_bound());
    }
    assert_false(t->off_thread);
}

static int stop_cb(eddy_loop *loop, void *arg)
{
    (void)arg;
    return eddy_loop_stop(loop);
}

/* Run the loop for about `seconds` (it stops itself with a timeout). */
static void run_for(eddy_loop *loop, double seconds)
{
    assert_int_equal(eddy_loop_call_later(loop, seconds, stop_cb, NULL, NULL),
                     0);
    assert_int_equal(eddy_loop_start(loop), 0);
}

static void at(eddy_loop *loop, struct tmr *t, const char *name, double when)
{
    memset(t, 0, sizeof(*t));
    t->name = name;
    t->when = when;
    t->sched_at = eddy_loop_time(loop);
    assert_int_equal(eddy_loop_call_at(loop, when, tmr_cb, t, &t->handle), 0);
    assert_true(t->handle != 0);
}

/* --- §5.1 call_at -------------------------------------------------------- */

static bool all3_ran(void *arg)
{
    const struct tmr *t = arg;
    return t[0].runs > 0 && t[1].runs > 0 && t[2].runs > 0;
}

static void c5_1_call_at_runs_once_never_early(void **state)
{
    /* SPEC §5.1: call_at runs cb once, on the loop thread, once
     * time() >= when; never earlier. */
    eddy_loop *loop = *state;
    begin();
    struct tmr t[3];
    double now = eddy_loop_time(loop);
    at(loop, &t[2], "t3", now + 0.09);
    at(loop, &t[0], "t1", now + 0.03);
    at(loop, &t[1], "t2", now + 0.06);
    assert_true(eddy_h_run_until(loop, all3_ran, t, 5.0));
    run_for(loop, 0.05);
    for (int i = 0; i < 3; i++) {
        check_on_time(&t[i]);
    }
    assert_string_equal(eddy_h_trace_str(&tr), "t1 t2 t3");
}

struct spin {
    struct tmr t;
    long iterations;
};

/* Re-queue itself until the timeout has run, so the loop polls with a zero
 * timeout over and over and has every chance to run the timeout early. */
static int spin_cb(eddy_loop *loop, void *arg)
{
    struct spin *s = arg;
    s->iterations++;
    if (s->t.runs == 0) {
        return eddy_loop_add_callback(loop, spin_cb, s);
    }
    return 0;
}

static void c5_1_never_early_while_loop_spins(void **state)
{
    /* SPEC §5.1: the callback runs in the first timer step in which
     * time() >= when; never earlier, however often the loop iterates. */
    eddy_loop *loop = *state;
    begin();
    struct spin s = {.iterations = 0};
    at(loop, &s.t, "t", eddy_loop_time(loop) + 0.05);
    assert_int_equal(eddy_loop_add_callback(loop, spin_cb, &s), 0);
    assert_true(eddy_h_run_until(loop, tmr_ran, &s.t, 5.0));
    check_on_time(&s.t);
    assert_true(s.iterations > 1);
}

static void c5_1_closed_loop_refuses_timeouts(void **state)
{
    /* SPEC §5.1: call_at schedules on an open loop; after close every
     * timeout function returns -ESHUTDOWN and schedules nothing. */
    eddy_loop *loop = *state;
    begin();
    struct tmr t = {.name = "t"};
    eddy_timeout h = 77;
    assert_int_equal(eddy_loop_call_later(loop, 0.01, tmr_cb, &t, &h), 0);
    eddy_timeout pending = h;
    assert_int_equal(eddy_loop_close(loop, false), 0);
    h = 77;
    double now = eddy_loop_time(loop);
    assert_false(isnan(now));
    assert_int_equal(eddy_loop_call_at(loop, now, tmr_cb, &t, &h), -ESHUTDOWN);
    assert_int_equal(eddy_loop_call_later(loop, 0, tmr_cb, &t, &h),
                     -ESHUTDOWN);
    assert_int_equal(eddy_loop_add_timeout(loop, now, tmr_cb, &t, &h),
                     -ESHUTDOWN);
    assert_int_equal(eddy_loop_add_timeout_delta(loop, 0, tmr_cb, &t, &h),
                     -ESHUTDOWN);
    assert_int_equal(eddy_loop_remove_timeout(loop, pending), -ESHUTDOWN);
    assert_int_equal(h, 77);
    assert_int_equal(eddy_loop_start(loop), -ESHUTDOWN);
    assert_int_equal(t.runs, 0);
}

/* --- §5.2 call_later ----------------------------------------------------- */

static void c5_2_call_later_is_time_plus_delay(void **state)
{
    /* SPEC §5.2: call_later(delay) is call_at(time() + delay) with time()
     * read when it is called. */
    eddy_loop *loop = *state;
    begin();
    struct tmr t[3];
    const double delay[3] = {0.06, 0.02, 0.04};
    const char *names[3] = {"d60", "d20", "d40"};
    double after[3];
    for (int i = 0; i < 3; i++) {
        memset(&t[i], 0, sizeof(t[i]));
        t[i].name = names[i];
        t[i].when = eddy_loop_time(loop) + delay[i];
        assert_int_equal(eddy_loop_call_later(loop, delay[i], tmr_cb, &t[i],
                                              &t[i].handle),
                         0);
        after[i] = eddy_loop_time(loop) + delay[i];
    }
    assert_true(eddy_h_run_until(loop, all3_ran, t, 5.0));
    for (int i = 0; i < 3; i++) {
        check_on_time(&t[i]);
        /* Not measured from some later moment either. */
        assert_true(t[i].ran_at - after[i] <= eddy_h_late_bound());
    }
    assert_string_equal(eddy_h_trace_str(&tr), "d20 d40 d60");
}

/* --- §5.3 past deadlines, bad times -------------------------------------- */

struct order {
    eddy_loop *loop;
    bool done;
};
static struct order ord;

static int trace_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    eddy_h_trace(&tr, "%s", (const char *)arg);
    return 0;
}

static int last_cb(eddy_loop *loop, void *arg)
{
    trace_cb(loop, arg);
    ord.done = true;
    return 0;
}

static int parent_cb(eddy_loop *loop, void *arg)
{
    trace_cb(loop, arg);
    return eddy_loop_add_callback(loop, last_cb, "C");
}

static bool ord_done(void *arg)
{
    (void)arg;
    return ord.done;
}

static void c5_3_past_deadline_runs_after_callbacks(void **state)
{
    /* SPEC §5.3: a deadline in the past or a negative delay is due at once:
     * it runs in the timer step of the next iteration, after that
     * iteration's callbacks. */
    eddy_loop *loop = *state;
    begin();
    memset(&ord, 0, sizeof(ord));
    double now = eddy_loop_time(loop);
    assert_int_equal(eddy_loop_add_callback(loop, parent_cb, "A"), 0);
    assert_int_equal(eddy_loop_call_at(loop, now - 10, trace_cb, "P", NULL),
                     0);
    assert_int_equal(eddy_loop_call_later(loop, -1, trace_cb, "N", NULL), 0);
    assert_int_equal(eddy_loop_add_callback(loop, trace_cb, "B"), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0, trace_cb, "Z", NULL), 0);
    assert_true(eddy_h_run_until(loop, ord_done, NULL, 5.0));
    /* A's child C was added during the first iteration, so it runs in the
     * second, after every timeout that was already due. */
    assert_string_equal(eddy_h_trace_str(&tr), "A B P N Z C");
}

static int sched_past_cb(eddy_loop *loop, void *arg)
{
    trace_cb(loop, arg);
    int rc = eddy_loop_call_later(loop, -1, last_cb, "T", NULL);
    if (rc == 0) {
        rc = eddy_loop_add_callback(loop, trace_cb, "C");
    }
    return rc;
}

static void c5_3_due_timeout_added_by_callback_waits(void **state)
{
    /* SPEC §5.3: a due timeout added by a callback runs in the timer step
     * of the next iteration, after that iteration's callbacks. */
    eddy_loop *loop = *state;
    begin();
    memset(&ord, 0, sizeof(ord));
    assert_int_equal(eddy_loop_add_callback(loop, sched_past_cb, "A"), 0);
    assert_true(eddy_h_run_until(loop, ord_done, NULL, 5.0));
    assert_string_equal(eddy_h_trace_str(&tr), "A C T");
}

static void c5_3_due_timeout_added_by_timeout_waits(void **state)
{
    /* SPEC §5.3: a due timeout added by a timeout runs in the timer step of
     * the next iteration, after that iteration's callbacks. */
    eddy_loop *loop = *state;
    begin();
    memset(&ord, 0, sizeof(ord));
    assert_int_equal(eddy_loop_call_later(loop, -1, sched_past_cb, "T1", NULL),
                     0);
    assert_true(eddy_h_run_until(loop, ord_done, NULL, 5.0));
    assert_string_equal(eddy_h_trace_str(&tr), "T1 C T");
}

typedef int (*sched_fn)(eddy_loop *, double, eddy_callback_cb, void *,
                        eddy_timeout *);

static const sched_fn all_sched[4] = {
    eddy_loop_call_at, eddy_loop_call_later, eddy_loop_add_timeout,
    eddy_loop_add_timeout_delta};

static void c5_3_nan_and_infinite_times_are_einval(void **state)
{
    /* SPEC §5.3: a NaN or infinite time returns -EINVAL. */
    eddy_loop *loop = *state;
    begin();
    struct tmr t = {.name = "bad"};
    const double bad[3] = {NAN, INFINITY, -INFINITY};
    for (int f = 0; f < 4; f++) {
        for (int i = 0; i < 3; i++) {
            eddy_timeout h = 12345;
            assert_int_equal(all_sched[f](loop, bad[i], tmr_cb, &t, &h),
                             -EINVAL);
            assert_int_equal(h, 12345);
        }
        eddy_timeout h = 12345;
        assert_int_equal(all_sched[f](loop, 0.0, NULL, &t, &h), -EINVAL);
        assert_int_equal(h, 12345);
    }
    run_for(loop, 0.05);
    assert_int_equal(t.runs, 0);
}

static void c5_3_time_too_far_is_erange(void **state)
{
    /* SPEC §5.3: a finite time too far away to represent returns -ERANGE. */
    eddy_loop *loop = *state;
    begin();
    struct tmr t = {.name = "far"};
    double now = eddy_loop_time(loop);
    const double far[3] = {1e300, DBL_MAX, now + 1e300};
    for (int f = 0; f < 4; f++) {
        for (int i = 0; i < 3; i++) {
            eddy_timeout h = 4242;
            assert_int_equal(all_sched[f](loop, far[i], tmr_cb, &t, &h),
                             -ERANGE);
            assert_int_equal(h, 4242);
        }
    }
    /* Far in the past is either due at once or refused; never both. */
    struct tmr past = {.name = "past"};
    int rc = eddy_loop_call_later(loop, -1e300, tmr_cb, &past, NULL);
    assert_true(rc == 0 || rc == -ERANGE);
    run_for(loop, 0.05);
    assert_int_equal(t.runs, 0);
    assert_int_equal(past.runs, rc == 0 ? 1 : 0);
}

/* --- §5.4 add_timeout ---------------------------------------------------- */

static bool all4_ran(void *arg)
{
    const struct tmr *t = arg;
    return t[0].runs && t[1].runs && t[2].runs && t[3].runs;
}

static void c5_4_add_timeout_number_and_delta(void **state)
{
    /* SPEC §5.4: add_timeout with a number is call_at; with a relative
     * time (add_timeout_delta) it is call_later. */
    eddy_loop *loop = *state;
    begin();
    struct tmr t[4] = {{.name = "a40"}, {.name = "b20"}, {.name = "c30"},
                       {.name = "d50"}};
    double t0 = eddy_loop_time(loop);
    t[0].when = t0 + 0.04;
    assert_int_equal(eddy_loop_add_timeout(loop, t[0].when, tmr_cb, &t[0],
                                           &t[0].handle), 0);
    t[1].when = eddy_loop_time(loop) + 0.02;
    assert_int_equal(eddy_loop_add_timeout_delta(loop, 0.02, tmr_cb, &t[1],
                                                 &t[1].handle), 0);
    t[2].when = t0 + 0.03;
    assert_int_equal(eddy_loop_call_at(loop, t[2].when, tmr_cb, &t[2],
                                       &t[2].handle), 0);
    t[3].when = eddy_loop_time(loop) + 0.05;
    assert_int_equal(eddy_loop_call_later(loop, 0.05, tmr_cb, &t[3],
                                          &t[3].handle), 0);
    /* Due at once, both ways, after the queued callback. */
    assert_int_equal(eddy_loop_add_callback(loop, trace_cb, "K"), 0);
    assert_int_equal(eddy_loop_add_timeout(loop, t0 - 5, trace_cb, "P", NULL),
                     0);
    assert_int_equal(eddy_loop_add_timeout_delta(loop, -1, trace_cb, "N", NULL),
                     0);
    /* Their handles work with remove_timeout. */
    struct tmr gone[2] = {{.name = "x"}, {.name = "y"}};
    assert_int_equal(eddy_loop_add_timeout(loop, t0 + 0.01, tmr_cb, &gone[0],
                                           &gone[0].handle), 0);
    assert_int_equal(eddy_loop_add_timeout_delta(loop, 0.01, tmr_cb, &gone[1],
                                                 &gone[1].handle), 0);
    assert_int_equal(eddy_loop_remove_timeout(loop, gone[0].handle), 0);
    assert_int_equal(eddy_loop_remove_timeout(loop, gone[1].handle), 0);
    assert_true(eddy_h_run_until(loop, all4_ran, t, 5.0));
    run_for(loop, 0.03);
    for (int i = 0; i < 4; i++) {
        check_on_time(&t[i]);
    }
    assert_int_equal(gone[0].runs + gone[1].runs, 0);
    /* Deadline order; a slow machine (valgrind) can put b20, whose delay
     * counts from its own call, after c30. */
    char want[EDDY_TRACE_MAX] = "K P N";
    bool done[4] = {false, false, false, false};
    for (int n = 0; n < 4; n++) {
        int first = -1;
        for (int i = 0; i < 4; i++) {
            if (!done[i] && (first < 0 || t[i].when < t[first].when)) {
                first = i;
            }
        }
        done[first] = true;
        snprintf(want + strlen(want), sizeof(want) - strlen(want), " %s",
                 t[first].name);
    }
    assert_string_equal(eddy_h_trace_str(&tr), want);
}

/* --- §5.5 remove_timeout of a pending timeout ---------------------------- */

static void c5_5_removed_pending_timeout_never_runs(void **state)
{
    /* SPEC §5.5: remove_timeout of a pending timeout prevents its callback
     * from running. */
    eddy_loop *loop = *state;
    begin();
    struct tmr t[3];
    struct tmr due;
    double now = eddy_loop_time(loop);
    at(loop, &t[0], "a", now + 0.03);
    at(loop, &t[1], "b", now + 0.06);
    at(loop, &t[2], "c", now + 0.09);
    at(loop, &due, "due", now - 1);
    assert_int_equal(eddy_loop_remove_timeout(loop, t[1].handle), 0);
    assert_int_equal(eddy_loop_remove_timeout(loop, due.handle), 0);
    assert_true(eddy_h_run_until(loop, tmr_ran, &t[2], 5.0));
    run_for(loop, 0.1);
    assert_int_equal(t[1].runs, 0);
    assert_int_equal(due.runs, 0);
    check_on_time(&t[0]);
    check_on_time(&t[2]);
    assert_string_equal(eddy_h_trace_str(&tr), "a c");
}

struct remover {
    struct tmr self;
    struct tmr *victim;
    int rc;
};

static int remover_cb(eddy_loop *loop, void *arg)
{
    struct remover *r = arg;
    tmr_cb(loop, &r->self);
    r->rc = eddy_loop_remove_timeout(loop, r->victim->handle);
    return 0;
}

static void c5_5_remove_due_timeout_from_same_batch(void **state)
{
    /* SPEC §5.5: removal also works when another timeout of the same
     * iteration removes one that is already due. */
    eddy_loop *loop = *state;
    begin();
    double now = eddy_loop_time(loop);
    struct tmr victim;
    struct tmr bystander;
    struct remover r = {.self = {.name = "r", .when = now - 2}, .rc = 1};
    r.victim = &victim;
    assert_int_equal(eddy_loop_call_at(loop, now - 2, remover_cb, &r,
                                       &r.self.handle), 0);
    at(loop, &victim, "victim", now - 1);
    at(loop, &bystander, "bystander", now - 0.5);
    assert_true(eddy_h_run_until(loop, tmr_ran, &bystander, 5.0));
    run_for(loop, 0.02);
    assert_int_equal(r.rc, 0);
    assert_int_equal(victim.runs, 0);
    assert_string_equal(eddy_h_trace_str(&tr), "r bystander");
}

static void c5_5_remove_due_timeout_from_callback(void **state)
{
    /* SPEC §5.5: a callback of the iteration can remove a timeout that is
     * already due in that iteration; it then never runs. */
    eddy_loop *loop = *state;
    begin();
    double now = eddy_loop_time(loop);
    struct tmr victim;
    struct tmr other;
    struct remover r = {.self = {.name = "cb"}, .rc = 1};
    r.victim = &victim;
    at(loop, &victim, "victim", now - 1);
    at(loop, &other, "other", now - 1);
    assert_int_equal(eddy_loop_add_callback(loop, remover_cb, &r), 0);
    assert_true(eddy_h_run_until(loop, tmr_ran, &other, 5.0));
    run_for(loop, 0.02);
    assert_int_equal(r.rc, 0);
    assert_int_equal(victim.runs, 0);
    assert_string_equal(eddy_h_trace_str(&tr), "cb other");
}

static void c5_5_equal_deadline_peers_remove_each_other(void **state)
{
    /* SPEC §5.5: of two due timeouts that each remove the other, only the
     * one that runs first runs (whatever that order is, §5.9). */
    eddy_loop *loop = *state;
    begin();
    double when = eddy_loop_time(loop) - 1;
    struct remover a = {.self = {.name = "a", .when = when}, .rc = 1};
    struct remover b = {.self = {.name = "b", .when = when}, .rc = 1};
    a.victim = &b.self;
    b.victim = &a.self;
    assert_int_equal(eddy_loop_call_at(loop, when, remover_cb, &a,
                                       &a.self.handle), 0);
    assert_int_equal(eddy_loop_call_at(loop, when, remover_cb, &b,
                                       &b.self.handle), 0);
    run_for(loop, 0.05);
    assert_int_equal(a.self.runs + b.self.runs, 1);
    assert_int_equal(a.self.runs ? a.rc : b.rc, 0);
}

/* --- §5.6 remove_timeout with any handle --------------------------------- */

static void c5_6_remove_after_run_or_twice_is_enoent(void **state)
{
    /* SPEC §5.6: remove_timeout of a handle that already ran, was already
     * removed, or is 0 returns -ENOENT and affects no timeout. */
    eddy_loop *loop = *state;
    begin();
    double now = eddy_loop_time(loop);
    struct tmr ran;
    struct tmr twice;
    struct tmr soon;
    struct tmr far;
    at(loop, &ran, "ran", now - 1);
    at(loop, &far, "far", now + 60);
    assert_true(eddy_h_run_until(loop, tmr_ran, &ran, 5.0));
    at(loop, &soon, "soon", eddy_loop_time(loop) + 0.05);
    assert_int_equal(eddy_loop_remove_timeout(loop, ran.handle), -ENOENT);
    assert_int_equal(eddy_loop_remove_timeout(loop, ran.handle), -ENOENT);
    at(loop, &twice, "twice", now + 0.05);
    assert_int_equal(eddy_loop_remove_timeout(loop, twice.handle), 0);
    assert_int_equal(eddy_loop_remove_timeout(loop, twice.handle), -ENOENT);
    assert_int_equal(eddy_loop_remove_timeout(loop, 0), -ENOENT);
    assert_true(eddy_h_run_until(loop, tmr_ran, &soon, 5.0));
    run_for(loop, 0.02);
    check_on_time(&ran);
    check_on_time(&soon);
    assert_int_equal(twice.runs, 0);
    assert_string_equal(eddy_h_trace_str(&tr), "ran soon");
    /* The distant one is still pending: nothing above touched it. */
    assert_int_equal(eddy_loop_remove_timeout(loop, far.handle), 0);
    assert_int_equal(far.runs, 0);
}

static void c5_6_stale_handle_never_cancels_a_newer_timeout(void **state)
{
    /* SPEC §5.6: an old handle has no effect on any timeout, also on the
     * timeouts scheduled after it ran or was removed. */
    eddy_loop *loop = *state;
    begin();
    for (int round = 0; round < 50; round++) {
        struct tmr old;
        struct tmr gone;
        struct tmr fresh;
        double now = eddy_loop_time(loop);
        at(loop, &old, "old", now - 1);
        assert_true(eddy_h_run_until(loop, tmr_ran, &old, 5.0));
        at(loop, &gone, "gone", now + 10);
        assert_int_equal(eddy_loop_remove_timeout(loop, gone.handle), 0);
        at(loop, &fresh, "fresh", now - 1);
        assert_true(fresh.handle != old.handle);
        assert_true(fresh.handle != gone.handle);
        assert_int_equal(eddy_loop_remove_timeout(loop, old.handle), -ENOENT);
        assert_int_equal(eddy_loop_remove_timeout(loop, gone.handle), -ENOENT);
        assert_true(eddy_h_run_until(loop, tmr_ran, &fresh, 5.0));
        assert_int_equal(old.runs, 1);
        assert_int_equal(gone.runs, 0);
        assert_int_equal(fresh.runs, 1);
    }
}

static void c5_6_handle_of_another_loop_is_enoent(void **state)
{
    /* SPEC §5.6: a handle issued by another loop returns -ENOENT and has
     * no effect on any timeout of either loop. */
    eddy_loop *loop = *state;
    begin();
    eddy_loop *other = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &other), 0);
    struct tmr mine;
    struct tmr theirs;
    at(loop, &mine, "mine", eddy_loop_time(loop) + 0.03);
    at(other, &theirs, "theirs", eddy_loop_time(other) + 0.03);
    assert_int_equal(eddy_loop_remove_timeout(loop, theirs.handle), -ENOENT);
    assert_int_equal(eddy_loop_remove_timeout(other, mine.handle), -ENOENT);
    assert_true(eddy_h_run_until(loop, tmr_ran, &mine, 5.0));
    assert_true(eddy_h_run_until(other, tmr_ran, &theirs, 5.0));
    check_on_time(&mine);
    check_on_time(&theirs);
    assert_int_equal(eddy_loop_free(other), 0);
}

/* --- §5.7 handles are values --------------------------------------------- */

#define NHANDLES 100

static void c5_7_handles_are_distinct_opaque_values(void **state)
{
    /* SPEC §5.7: a handle is an opaque value used only with remove_timeout
     * of the loop that issued it; out may be NULL. */
    eddy_loop *loop = *state;
    begin();
    static struct tmr t[NHANDLES];
    double now = eddy_loop_time(loop);
    for (int i = 0; i < NHANDLES; i++) {
        at(loop, &t[i], "h", now + 10 + i);
        for (int j = 0; j < i; j++) {
            assert_true(t[i].handle != t[j].handle);
        }
    }
    /* Removing through a copy of the value works: it is not an address. */
    for (int i = 0; i < NHANDLES; i++) {
        eddy_timeout copy = t[i].handle;
        assert_int_equal(eddy_loop_remove_timeout(loop, copy), 0);
    }
    struct tmr anon = {.name = "anon", .when = now};
    assert_int_equal(eddy_loop_call_at(loop, now, tmr_cb, &anon, NULL), 0);
    assert_true(eddy_h_run_until(loop, tmr_ran, &anon, 5.0));
    check_on_time(&anon);
    for (int i = 0; i < NHANDLES; i++) {
        assert_int_equal(t[i].runs, 0);
    }
}

/* --- §5.8 deadline order ------------------------------------------------- */

#define NORDER 32

static void c5_8_distinct_deadlines_run_in_deadline_order(void **state)
{
    /* SPEC §5.8: timeouts with different deadlines that were in the future
     * when scheduled run in deadline order. */
    eddy_loop *loop = *state;
    begin();
    static struct tmr t[NORDER];
    static char names[NORDER][8];
    double now = eddy_loop_time(loop);
    /* Scheduled in a scrambled order (17 is prime to 32), all in the
     * future (past deadlines need not keep their order, §5.8): half 0.1 ms
     * apart, so that several are due in one timer step, half spread over
     * the next 80 ms. */
    for (int k = 0; k < NORDER; k++) {
        int i = (k * 17) % NORDER;
        double when = i < NORDER / 2 ? now + 0.02 + i * 0.0001
                                     : now + 0.03 + (i - NORDER / 2) * 0.005;
        snprintf(names[i], sizeof(names[i]), "%d", i);
        at(loop, &t[i], names[i], when);
    }
    assert_true(eddy_h_run_until(loop, tmr_ran, &t[NORDER - 1], 5.0));
    char want[EDDY_TRACE_MAX] = "";
    for (int i = 0; i < NORDER; i++) {
        check_on_time(&t[i]);
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%d",
                 i ? " " : "", i);
    }
    assert_string_equal(eddy_h_trace_str(&tr), want);
}

/* --- §5.9 equal deadlines ------------------------------------------------ */

#define NEQUAL 16

struct equal {
    struct tmr t[NEQUAL];
    int marker_seen_at;  /* how many timeouts had run when the marker ran */
    int total;
};
static struct equal eq;

static int marker_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    eq.marker_seen_at = eq.total;
    return 0;
}

static int equal_cb(eddy_loop *loop, void *arg)
{
    tmr_cb(loop, arg);
    if (eq.total++ == 0) {
        /* A callback added now runs in the next iteration: if it sees
         * every timeout already run, they all ran in this one. */
        return eddy_loop_add_callback(loop, marker_cb, NULL);
    }
    return 0;
}

static bool marker_ran(void *arg)
{
    (void)arg;
    return eq.marker_seen_at >= 0;
}

static void run_equal(eddy_loop *loop, double when)
{
    memset(&eq, 0, sizeof(eq));
    eq.marker_seen_at = -1;
    for (int i = 0; i < NEQUAL; i++) {
        eq.t[i].name = "e";
        eq.t[i].when = when;
        eq.t[i].sched_at = eddy_loop_time(loop);
        assert_int_equal(eddy_loop_call_at(loop, when, equal_cb, &eq.t[i],
                                           &eq.t[i].handle), 0);
    }
    assert_true(eddy_h_run_until(loop, marker_ran, NULL, 5.0));
    run_for(loop, 0.02);
    for (int i = 0; i < NEQUAL; i++) {
        check_on_time(&eq.t[i]);
    }
    assert_int_equal(eq.marker_seen_at, NEQUAL);
}

static void c5_9_equal_deadlines_all_run_once_same_iteration(void **state)
{
    /* SPEC §5.9: timeouts with equal deadlines run in an
     * implementation-defined order (checked here: each runs once, all in
     * the same iteration). */
    eddy_loop *loop = *state;
    begin();
    run_equal(loop, eddy_loop_time(loop) + 0.05);
    run_equal(loop, eddy_loop_time(loop) - 1);
}

/* --- §5.10 thread rules -------------------------------------------------- */

struct foreign {
    eddy_loop *loop;
    struct tmr *t;
    eddy_timeout pending;
    int rc[5];
    eddy_timeout out[4];
    bool done;
};

static void *foreign_schedule(void *arg)
{
    struct foreign *f = arg;
    double now = eddy_loop_time(f->loop);
    for (int i = 0; i < 4; i++) {
        f->out[i] = 999;
        f->rc[i] = all_sched[i](f->loop, i % 2 ? 0.0 : now, tmr_cb, f->t,
                                &f->out[i]);
    }
    f->rc[4] = eddy_loop_remove_timeout(f->loop, f->pending);
    return NULL;
}

static int call_from_thread_cb(eddy_loop *loop, void *arg)
{
    struct foreign *f = arg;
    pthread_t th;
    (void)loop;
    if (pthread_create(&th, NULL, foreign_schedule, f) == 0) {
        pthread_join(th, NULL);
        f->done = true;
    }
    return 0;
}

static bool foreign_done(void *arg)
{
    return ((const struct foreign *)arg)->done;
}

static void c5_10_other_thread_while_running_is_eperm(void **state)
{
    /* SPEC §5.10: call_at, call_later, add_timeout and remove_timeout from
     * another thread while the loop runs return -EPERM. */
    eddy_loop *loop = *state;
    begin();
    struct tmr never = {.name = "never"};
    struct tmr pending;
    at(loop, &pending, "pending", eddy_loop_time(loop) + 0.1);
    struct foreign f = {.loop = loop, .t = &never, .pending = pending.handle};
    assert_int_equal(eddy_loop_add_callback(loop, call_from_thread_cb, &f), 0);
    assert_true(eddy_h_run_until(loop, foreign_done, &f, 5.0));
    for (int i = 0; i < 5; i++) {
        assert_int_equal(f.rc[i], -EPERM);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(f.out[i], 999);
    }
    assert_true(eddy_h_run_until(loop, tmr_ran, &pending, 5.0));
    run_for(loop, 0.05);
    check_on_time(&pending);
    assert_int_equal(never.runs, 0);
}

static void c5_10_other_thread_may_schedule_when_not_running(void **state)
{
    /* SPEC §5.10: the -EPERM rule applies while the loop runs; a stopped
     * loop may be used by one thread at a time (SPEC §1.6). */
    eddy_loop *loop = *state;
    begin();
    struct tmr t = {.name = "t"};
    struct tmr pending;
    at(loop, &pending, "pending", eddy_loop_time(loop) + 60);
    struct foreign f = {.loop = loop, .t = &t, .pending = pending.handle};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, foreign_schedule, &f), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(f.rc[i], 0);
    }
    run_for(loop, 0.05);
    assert_int_equal(t.runs, 4);
    assert_false(t.off_thread);
    assert_int_equal(pending.runs, 0);
    assert_int_equal(eddy_loop_remove_timeout(loop, pending.handle), -ENOENT);
}

static const struct eddy_case cases[] = {
    EDDY_CASE_LOOP(c5_1_call_at_runs_once_never_early, "5.8"),
    EDDY_CASE_LOOP(c5_1_never_early_while_loop_spins, "2.15"),
    EDDY_CASE_LOOP(c5_1_closed_loop_refuses_timeouts, "1.7"),
    EDDY_CASE_LOOP(c5_2_call_later_is_time_plus_delay, "5.1 5.8"),
    EDDY_CASE_LOOP(c5_3_past_deadline_runs_after_callbacks, "2.13 5.8"),
    EDDY_CASE_LOOP(c5_3_due_timeout_added_by_callback_waits, "2.13"),
    EDDY_CASE_LOOP(c5_3_due_timeout_added_by_timeout_waits, "2.13"),
    EDDY_CASE_LOOP(c5_3_nan_and_infinite_times_are_einval, "1.2 1.3 1.8"),
    EDDY_CASE_LOOP(c5_3_time_too_far_is_erange, "1.2 1.3"),
    EDDY_CASE_LOOP(c5_4_add_timeout_number_and_delta, "5.3 5.5"),
    EDDY_CASE_LOOP(c5_5_removed_pending_timeout_never_runs, ""),
    EDDY_CASE_LOOP(c5_5_remove_due_timeout_from_same_batch, "5.8"),
    EDDY_CASE_LOOP(c5_5_remove_due_timeout_from_callback, "2.13"),
    EDDY_CASE_LOOP(c5_5_equal_deadline_peers_remove_each_other, "5.9"),
    EDDY_CASE_LOOP(c5_6_remove_after_run_or_twice_is_enoent, ""),
    EDDY_CASE_LOOP(c5_6_stale_handle_never_cancels_a_newer_timeout, "5.7"),
    EDDY_CASE_LOOP(c5_6_handle_of_another_loop_is_enoent, "5.7"),
    EDDY_CASE_LOOP(c5_7_handles_are_distinct_opaque_values, "5.5"),
    EDDY_CASE_LOOP(c5_8_distinct_deadlines_run_in_deadline_order, "5.1"),
    EDDY_CASE_LOOP(c5_9_equal_deadlines_all_run_once_same_iteration, "5.1"),
    EDDY_CASE_LOOP(c5_10_other_thread_while_running_is_eperm, "1.3 1.6"),
    EDDY_CASE_LOOP(c5_10_other_thread_may_schedule_when_not_running, "1.6"),
};

EDDY_SECTION(s05, "5", "Timeouts", cases);
