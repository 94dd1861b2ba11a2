/* fuzz/sched_ops.c - the operations of the scheduler fuzz target: each one
 * decodes its arguments from the input, calls the real loop, and hands the
 * result to the model. The value tables put the boundaries where bugs
 * live: equal and past deadlines, a nanosecond either side of now, NaN,
 * infinities, deadlines too far to represent, periods that overrun.
 */
#include "sched_drv.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "../impl/internal.h"

enum op {
    OP_CALL_AT,
    OP_CALL_LATER,
    OP_REMOVE,
    OP_ADD_CB,
    OP_SIGNAL_CB,
    OP_THREAD_CB,
    OP_STOP,
    OP_ADVANCE,
    OP_ADD_HANDLER,
    OP_UPDATE_HANDLER,
    OP_REMOVE_HANDLER,
    OP_COND,
    OP_PER_NEW,
    OP_PER_START,
    OP_PER_STOP,
    OP_PER_FREE,
    OP_NESTED,
    OP_FAIL,
    OP_OOM,
    OP_RUN,
    NOPS
};

static int drv_op_one(enum op op, bool top);

static const double offsets_s[] = {0,    1e-9,   -1e-9, 1e-6, 0.001, 0.0015,
                                   0.01, 0.1,    0.5,   1,    2.5,   60,
                                   3600, -0.001, -1,    -1e6};

/* A time value: mostly now plus an offset; sometimes a special one. */
static double pick_time(bool absolute)
{
    double now = (double)D.m.now / 1e9;
    unsigned k = fz_pick(&D.in, 28);
    if (k < 16) {
        return (absolute ? now : 0) + offsets_s[k];
    }
    static const double special[] = {NAN,    INFINITY, -INFINITY, 1e300,
                                     -1e300, DBL_MAX,  -DBL_MAX,  5e9};
    if (k < 24) {
        return special[k - 16];
    }
    if (k < 26 && D.m.ntimers > 0) {
        /* an existing deadline: equal deadlines */
        double when =
            sm_timer_when(&D.m, (int)fz_pick(&D.in, 256) % D.m.ntimers);
        return absolute ? when : when - now;
    }
    /* a few nanoseconds or milliseconds from now */
    int64_t ns = (int64_t)fz_byte(&D.in) * (k == 26 ? 1 : 1000000);
    return absolute ? (double)(D.m.now + ns) / 1e9 : (double)ns / 1e9;
}

static void op_call_at(bool absolute)
{
    int id = sm_timer_reserve(&D.m);
    bool alias = fz_byte(&D.in) & 1;
    double t = pick_time(absolute);
    if (id < 0) {
        return;
    }
    const eddy_timeout untouched = 0xfeedfacecafebeefu;
    eddy_timeout h = untouched;
    void *arg = (void *)(intptr_t)id;
    double when = t;
    int rc;
    if (absolute) {
        rc = alias ? eddy_loop_add_timeout(D.loop, t, drv_timer, arg, &h)
                   : eddy_loop_call_at(D.loop, t, drv_timer, arg, &h);
    } else {
        /* SPEC §5.2: time() read when it is called */
        when = (double)D.m.now / 1e9 + t;
        rc = alias ? eddy_loop_add_timeout_delta(D.loop, t, drv_timer, arg, &h)
                   : eddy_loop_call_later(D.loop, t, drv_timer, arg, &h);
    }
    FZ_CHECK(rc == 0 || h == untouched, "SPEC §1.2: a failed call_at wrote "
                                        "its out-parameter");
    sm_timer_added(&D.m, id, isfinite(t) ? when : t, rc, h);
}

static void op_remove(void)
{
    unsigned k = fz_pick(&D.in, 8);
    eddy_timeout h = 0;
    if (k == 1) {
        h = D.other_handle; /* SPEC §5.6: issued by another loop */
    } else if (k == 2) {
        h = fz_u64(&D.in);
    } else if (k > 2 && D.m.ntimers > 0) {
        h = D.m.timers[fz_pick(&D.in, 256) % D.m.ntimers].handle;
    }
    sm_timer_remove(&D.m, h, eddy_loop_remove_timeout(D.loop, h));
}

static void op_add_cb(void)
{
    bool spawn = fz_byte(&D.in) & 1;
    int id = sm_cb_reserve(&D.m);
    if (id < 0) {
        return;
    }
    void *arg = (void *)(intptr_t)id;
    int rc = spawn ? eddy_loop_spawn_callback(D.loop, drv_cb, arg)
                   : eddy_loop_add_callback(D.loop, drv_cb, arg);
    /* The running loop's own thread, or anyone while it does not run. */
    sm_cb_added(&D.m, id, D.depth > 0 ? SM_LOCAL : SM_OUTSIDE, rc);
}

void drv_signal_callback(void)
{
    int id = sm_cb_reserve(&D.m);
    if (id < 0) {
        return;
    }
    D.sig_id = id;
    D.sig_rc = 1;
    raise(SIGUSR1); /* the handler runs before raise returns */
    sm_cb_added(&D.m, id, SM_SIGNAL, D.sig_rc);
}

/* Mostly one; sometimes enough to reach the queue's limit (SPEC §4.6). */
static void op_signals(void)
{
    static const int counts[] = {1, 1, 1, 2, 65, 300};
    for (int n = counts[fz_pick(&D.in, 6)]; n > 0; n--) {
        drv_signal_callback();
    }
}

struct batch {
    int ids[3];
    int rc[3];
    int n;
};

/* One helper thread for the whole process, handed a batch at a time:
 * creating a thread per batch would cost more than the rest of an input.
 * It ends at exit, so that valgrind finds nothing of it left. */
static pthread_mutex_t helper_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t helper_cond = PTHREAD_COND_INITIALIZER;
static struct batch *helper_job;
static bool helper_started;
static bool helper_quit;
static pthread_t helper;

static void *helper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&helper_lock);
    while (!helper_quit) {
        if (helper_job == NULL) {
            pthread_cond_wait(&helper_cond, &helper_lock);
            continue;
        }
        struct batch *b = helper_job;
        for (int i = 0; i < b->n; i++) {
            b->rc[i] = eddy_loop_add_callback(D.loop, drv_cb,
                                              (void *)(intptr_t)b->ids[i]);
        }
        helper_job = NULL;
        pthread_cond_broadcast(&helper_cond);
    }
    pthread_mutex_unlock(&helper_lock);
    return NULL;
}

static void helper_stop(void)
{
    pthread_mutex_lock(&helper_lock);
    helper_quit = true;
    pthread_cond_broadcast(&helper_cond);
    pthread_mutex_unlock(&helper_lock);
    pthread_join(helper, NULL);
}

/* Another thread queues count callbacks; it has finished on return. */
void drv_thread_callbacks(int count)
{
    struct batch b = {.n = 0};
    while (b.n < count && b.n < 3 && (b.ids[b.n] = sm_cb_reserve(&D.m)) >= 0) {
        b.n++;
    }
    pthread_mutex_lock(&helper_lock);
    if (!helper_started) {
        FZ_CHECK(pthread_create(&helper, NULL, helper_main, NULL) == 0,
                 "pthread_create");
        atexit(helper_stop);
        helper_started = true;
    }
    helper_job = &b;
    pthread_cond_broadcast(&helper_cond);
    while (helper_job != NULL) {
        pthread_cond_wait(&helper_cond, &helper_lock);
    }
    pthread_mutex_unlock(&helper_lock);
    for (int i = 0; i < b.n; i++) {
        sm_cb_added(&D.m, b.ids[i], SM_OUTSIDE, b.rc[i]);
    }
}

static void op_advance(void)
{
    static const int64_t table[] = {
        0, 1, 999999, 1000000, 1000001, 1000000000, 1500000000, 3600000000000};
    unsigned k = fz_pick(&D.in, 10);
    int64_t ns = k < 8   ? table[k]
                 : k < 9 ? (int64_t)fz_byte(&D.in) * 1000000
                         : (int64_t)fz_byte(&D.in);
    sm_advance(&D.m, ns);
}

static unsigned pick_events(void)
{
    static const unsigned table[] = {EDDY_READ,
                                     EDDY_WRITE,
                                     EDDY_READ | EDDY_WRITE,
                                     EDDY_ERROR,
                                     EDDY_READ | EDDY_ERROR,
                                     EDDY_NONE,
                                     0x08,
                                     0x10,
                                     0x02,
                                     0x100};
    return table[fz_pick(&D.in, 10)];
}

static void op_add_handler(void)
{
    unsigned idx = fz_pick(&D.in, SM_NFD + 2);
    unsigned events = pick_events();
    bool object = fz_byte(&D.in) & 1;
    int fd = idx < SM_NFD ? D.fds[idx] : idx == SM_NFD ? -1 : D.bad_fd;
    void *arg = (void *)(intptr_t)sm_handler_next_id(&D.m);
    int rc = object
                 ? eddy_loop_add_handler_object(D.loop, fd, events, drv_handler,
                                                arg, drv_close_obj)
                 : eddy_loop_add_handler(D.loop, fd, events, drv_handler, arg);
    sm_handler_add(&D.m, idx < SM_NFD ? (int)idx : 0, events, object,
                   idx >= SM_NFD, rc);
}

static void op_handler(enum op op)
{
    unsigned idx = fz_pick(&D.in, SM_NFD);
    if (op == OP_UPDATE_HANDLER) {
        unsigned events = pick_events();
        sm_handler_update(&D.m, (int)idx, events,
                          eddy_loop_update_handler(D.loop, D.fds[idx], events));
    } else if (op == OP_REMOVE_HANDLER) {
        sm_handler_remove(&D.m, (int)idx,
                          eddy_loop_remove_handler(D.loop, D.fds[idx]));
    } else {
        unsigned bits = fz_byte(&D.in);
        D.m.cond[idx] =
            (struct sm_cond){bits & 1, (bits & 2) != 0, (bits & 4) != 0};
        sm_note(&D.m, "readiness", idx, bits & 7);
    }
}

static void op_per_new(void)
{
    static const double periods[] = {
        1, 5, 10, 33.3, 100, 250, 1000, 1e-3, 1e-6, 1e15, 0, -5, NAN, INFINITY};
    static const double jitters[] = {0, 0.1, 0.5, 1, 1.5, -0.1, NAN};
    int idx = (int)fz_pick(&D.in, SM_NPER);
    double period = periods[fz_pick(&D.in, 14)];
    double jitter = jitters[fz_pick(&D.in, 7)];
    bool bind_current = fz_byte(&D.in) & 1;
    if (D.per[idx] != NULL) {
        return;
    }
    int rc =
        eddy_periodic_new(bind_current ? NULL : D.loop, period, jitter,
                          drv_periodic, (void *)(intptr_t)idx, &D.per[idx]);
    sm_per_new(&D.m, idx, period, jitter, bind_current, rc);
}

static void op_periodic(enum op op)
{
    int idx = (int)fz_pick(&D.in, SM_NPER);
    eddy_periodic *p = D.per[idx];
    if (p == NULL) {
        return;
    }
    FZ_CHECK(eddy_periodic_is_running(p) == D.m.per[idx].running,
             "SPEC §6.4: is_running() disagrees with the model");
    if (op == OP_PER_START) {
        sm_per_start(&D.m, idx, eddy_periodic_start(p));
    } else if (op == OP_PER_STOP) {
        sm_per_stop(&D.m, idx, eddy_periodic_stop(p));
    } else {
        eddy_periodic_free(p); /* also from inside its own callback */
        D.per[idx] = NULL;
        sm_per_free(&D.m, idx);
    }
}

static int never_run(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)loop;
    (void)arg;
    (void)out;
    fz_fail("a refused run_sync ran its function");
}

/* SPEC §2.9, §2.10, §2.12: what a callback may not do to its own loop. */
static void op_nested(void)
{
    switch (fz_pick(&D.in, 5)) {
    case 0:
        FZ_EXPECT_RC(eddy_loop_start(D.loop), -EBUSY, "nested start");
        break;
    case 1:
        FZ_EXPECT_RC(eddy_loop_run_sync(D.loop, 1.0, never_run, NULL, NULL),
                     -EBUSY, "nested run_sync");
        break;
    case 2:
        FZ_EXPECT_RC(eddy_loop_start(D.other), -EPERM,
                     "start of another loop inside a callback");
        break;
    case 3:
        FZ_EXPECT_RC(eddy_loop_close(D.loop, false), -EBUSY,
                     "close of the running loop");
        break;
    default:
        FZ_EXPECT_RC(eddy_loop_free(D.loop), -EBUSY,
                     "free of the running loop");
        break;
    }
    sm_note(&D.m, "nested", 0, 0);
}

static void op_run(void)
{
    sm_start(&D.m);
    int rc = eddy_loop_start(D.loop);
    sm_start_return(&D.m, rc);
    /* SPEC §2.6: the thread's previous current loop is back. */
    eddy_loop *cur = NULL;
    int err = eddy_loop_current(false, &cur);
    FZ_CHECK(D.m.has_current ? err == 0 && cur == D.loop : err == -ENOENT,
             "current loop not restored after start returned");
}

static int op_fail(void)
{
    static const int codes[] = {-EIO, -1, 7, INT_MIN};
    return codes[fz_pick(&D.in, 4)];
}

/* One of the allocating calls, with the nth allocation from now failing
 * (and every later one, with persist). */
static void op_oom(void)
{
    static const enum op calls[] = {OP_CALL_AT, OP_CALL_LATER,
                                    OP_ADD_CB,  OP_ADD_HANDLER,
                                    OP_PER_NEW, OP_PER_START};
    enum op op = calls[fz_pick(&D.in, 6)];
    unsigned b = fz_byte(&D.in);
    eddy__alloc_fail(1 + (long)(b % 3), (b & 4) != 0);
    D.m.oom = true;
    drv_op_one(op, D.depth == 0);
    D.m.oom = false;
    eddy__alloc_fail(0, false);
}

int drv_op(bool top)
{
    unsigned k = fz_pick(&D.in, top ? NOPS + 4 : NOPS);
    return drv_op_one(k < NOPS ? (enum op)k : OP_RUN, top);
}

static int drv_op_one(enum op op, bool top)
{
    switch (op) {
    case OP_CALL_AT:
    case OP_CALL_LATER:
        op_call_at(op == OP_CALL_AT);
        break;
    case OP_REMOVE:
        op_remove();
        break;
    case OP_ADD_CB:
        op_add_cb();
        break;
    case OP_SIGNAL_CB:
        op_signals();
        break;
    case OP_THREAD_CB:
        drv_thread_callbacks(1 + (int)fz_pick(&D.in, 3));
        break;
    case OP_STOP:
        sm_stop(&D.m, eddy_loop_stop(D.loop));
        break;
    case OP_ADVANCE:
        op_advance();
        break;
    case OP_ADD_HANDLER:
        op_add_handler();
        break;
    case OP_UPDATE_HANDLER:
    case OP_REMOVE_HANDLER:
    case OP_COND:
        op_handler(op);
        break;
    case OP_PER_NEW:
        op_per_new();
        break;
    case OP_PER_START:
    case OP_PER_STOP:
    case OP_PER_FREE:
        op_periodic(op);
        break;
    case OP_NESTED:
    case OP_RUN:
        top ? op_run() : op_nested();
        break;
    case OP_FAIL:
        return top ? 0 : op_fail();
    case OP_OOM:
        op_oom();
        break;
    case NOPS:
        break;
    }
    return 0;
}

/* SPEC §1.7: a closed loop refuses everything but time() and free(). */
void drv_check_closed(void)
{
    double t = eddy_loop_time(D.loop);
    FZ_CHECK(t == (double)D.m.now / 1e9, "time() of a closed loop");
    FZ_EXPECT_RC(eddy_loop_add_callback(D.loop, drv_cb, NULL), -ESHUTDOWN,
                 "add_callback after close");
    FZ_EXPECT_RC(eddy_loop_call_later(D.loop, 0, drv_timer, NULL, NULL),
                 -ESHUTDOWN, "call_later after close");
    FZ_EXPECT_RC(eddy_loop_remove_timeout(D.loop, D.other_handle), -ESHUTDOWN,
                 "remove_timeout after close");
    FZ_EXPECT_RC(
        eddy_loop_add_handler(D.loop, D.fds[0], EDDY_READ, drv_handler, NULL),
        -ESHUTDOWN, "add_handler after close");
    FZ_EXPECT_RC(eddy_loop_start(D.loop), -ESHUTDOWN, "start after close");
    FZ_EXPECT_RC(eddy_loop_stop(D.loop), -ESHUTDOWN, "stop after close");
    FZ_EXPECT_RC(eddy_loop_close(D.loop, false), -ESHUTDOWN, "second close");
}
