/* impl/run_sync.c - SPEC §2.8 IOLoop.run_sync.
 *
 * Key decision: the state shared between run_sync and the callbacks it
 * queues lives on the heap with an atomic reference count, because those
 * callbacks can outlive the call (a failed start, a timeout, a loop stopped
 * early, a loop closed later). Once run_sync has returned they find the
 * state abandoned and do nothing but drop their reference.
 */
#include "eddy/loop.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>

#include "eddy.h"
#include "internal.h"

struct run_state {
    atomic_int refs;
    bool abandoned;       /* run_sync returned: callbacks do nothing */
    bool finished;        /* func returned, and its future is done */
    bool timer_cancelled; /* the timeout cancelled the future */
    int rc;               /* func's own outcome when it gave no future */
    eddy_run_sync_cb func;
    void *arg;
    eddy_future *future;  /* run_sync's reference to func's future */
    eddy_timeout timer;   /* 0 when no timeout is pending */
};

static void state_unref(void *arg)
{
    struct run_state *st = arg;
    if (atomic_fetch_sub_explicit(&st->refs, 1, memory_order_acq_rel) == 1) {
        eddy__free(st);
    }
}

static void state_ref(struct run_state *st)
{
    atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
}

/* func is over without a future to wait for: stop with its outcome. */
static void finish(eddy_loop *loop, struct run_state *st, int rc)
{
    st->finished = true;
    st->rc = rc;
    (void)eddy_loop_stop(loop);
}

/* SPEC §2.8: the future func returned is done. */
static int on_future_done(eddy_loop *loop, eddy_future *future, void *arg)
{
    struct run_state *st = arg;
    (void)future;
    if (!st->abandoned) {
        st->finished = true;
        (void)eddy_loop_stop(loop);
    }
    state_unref(st);
    return 0;
}

static void call_func(eddy_loop *loop, struct run_state *st)
{
    eddy_future *future = NULL;
    int rc = st->func(loop, st->arg, &future);
    if (rc < 0 || future == NULL) {
        /* run_sync owns a future stored beside an error: drop it. */
        eddy_future_release(future);
        finish(loop, st, rc < 0 ? rc : 0);
        return;
    }
    st->future = future;
    state_ref(st);
    rc = eddy__loop_add_future_owned(loop, future, on_future_done, st,
                                     state_unref);
    if (rc != 0) {
        state_unref(st);
        st->future = NULL;
        eddy_future_release(future);
        finish(loop, st, rc);
    }
}

/* The callback queued by run_sync; it may run after run_sync returned. */
static int run_func(eddy_loop *loop, void *arg)
{
    struct run_state *st = arg;
    if (!st->abandoned) {
        call_func(loop, st);
    }
    state_unref(st);
    return 0;
}

/* SPEC §2.8: the timeout cancels the future. As in Tornado 6.2, a
 * successful cancel leaves the stop to on_future_done in the next
 * iteration, so no callback of this call outlives it; a future already
 * done keeps its outcome, and its own callback stops the loop too. */
static int on_timeout(eddy_loop *loop, void *arg)
{
    struct run_state *st = arg;
    st->timer = 0;
    if (st->future != NULL) {
        st->timer_cancelled = eddy_future_cancel(st->future) == 0;
    } else {
        (void)eddy_loop_stop(loop); /* func has not run yet */
    }
    return 0;
}

static bool timeout_valid(double timeout_s)
{
    /* SPEC §2.8: NaN and infinity are rejected, as every time (§1.8). */
    return timeout_s == EDDY_NO_TIMEOUT
           || (isfinite(timeout_s) && timeout_s >= 0.0);
}

/* A timeout too far away to represent (-ERANGE) never expires: the same
 * as none. The timer never outlives run_sync, so it holds no reference. */
static int arm_timer(eddy_loop *loop, struct run_state *st, double timeout_s)
{
    if (timeout_s == EDDY_NO_TIMEOUT) {
        return 0;
    }
    int rc = eddy_loop_call_later(loop, timeout_s, on_timeout, st,
                                  &st->timer);
    return rc == -ERANGE ? 0 : rc;
}

static void disarm_timer(eddy_loop *loop, struct run_state *st)
{
    if (st->timer != 0) {
        (void)eddy_loop_remove_timeout(loop, st->timer);
        st->timer = 0;
    }
}

/* What run_sync returns once the loop stopped by itself. */
static int outcome(const struct run_state *st, void **result)
{
    void *value = NULL;
    int rc;
    if (st->future == NULL) {
        /* SPEC §2.8: stopped before func ran reads as a timeout. */
        rc = st->finished ? st->rc : -ETIMEDOUT;
    } else if (st->timer_cancelled || !eddy_future_done(st->future)) {
        rc = -ETIMEDOUT;
    } else {
        rc = eddy_future_result(st->future, &value);
    }
    if (rc == 0 && result != NULL) {
        *result = value;
    }
    return rc;
}

/* Run the loop for st; afterwards every callback left behind is inert. */
static int run(eddy_loop *loop, struct run_state *st, void **result)
{
    int rc = eddy_loop_start(loop);
    disarm_timer(loop, st);
    if (rc == 0) {
        rc = outcome(st, result);
    }
    st->abandoned = true;
    eddy_future_release(st->future);
    st->future = NULL;
    return rc;
}

int eddy_loop_run_sync(eddy_loop *loop, double timeout_s,
                       eddy_run_sync_cb func, void *arg, void **result)
{
    if (loop == NULL || func == NULL || !timeout_valid(timeout_s)) {
        return -EINVAL;
    }
    int rc = eddy__loop_check_thread(loop);
    if (rc == 0 && eddy__loop_running(loop)) {
        rc = -EBUSY; /* SPEC §2.9 nested, so queue nothing (§1.3) */
    }
    if (rc != 0) {
        /* -EPERM: another thread runs it, which start reports as busy. */
        return rc == -EPERM ? -EBUSY : rc;
    }
    struct run_state *st = eddy__calloc(1, sizeof(*st));
    if (st == NULL) {
        return -ENOMEM;
    }
    atomic_init(&st->refs, 2); /* run_sync's and run_func's */
    st->func = func;
    st->arg = arg;
    rc = arm_timer(loop, st, timeout_s);
    if (rc != 0) {
        goto fail_timer;
    }
    rc = eddy__loop_add_callback_owned(loop, run_func, st, state_unref);
    if (rc != 0) {
        goto fail_queue;
    }
    rc = run(loop, st, result);
    state_unref(st);
    return rc;

fail_queue:
    disarm_timer(loop, st);
fail_timer:
    /* Nothing queued holds st (a -ESHUTDOWN dispose already ran). */
    eddy__free(st);
    return rc;
}
