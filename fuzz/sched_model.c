/* fuzz/sched_model.c - the model of SPEC §2.13: callbacks, timeouts and the
 * iteration. Key decision: the model predicts each step of an iteration
 * when the step begins (the callbacks queued at the poll, the timeouts due
 * at the step-4 clock reading) and then checks every callback the loop
 * runs against that prediction as it happens, so an early, late, doubled,
 * lost or misplaced call is caught at the first event that shows it.
 */
#include "sched_model.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Deadlines below this many seconds must be accepted (2^62 ns); beyond it
 * an implementation may answer -ERANGE (SPEC §5.3). */
#define SURE_RANGE_S 4.6e9
#define SPIN_LIMIT 3 /* empty iterations in a row without waiting */

void sm_init(struct sm *m, int64_t base_ns, bool has_current)
{
    memset(m, 0, sizeof *m);
    m->now = base_ns;
    m->has_current = has_current;
    for (int i = 0; i < SM_NPER; i++) {
        m->per[i].timer = -1;
    }
    fz_trace_reset(&m->trace);
}

void sm_note(struct sm *m, const char *what, int64_t a, int64_t b)
{
    fz_trace_add(&m->trace, what, m->now, a, b);
}

void sm_advance(struct sm *m, int64_t ns)
{
    m->now += ns;
    sm_note(m, "advance", ns, 0);
}

static bool reached(int64_t ns, double when)
{
    return (double)ns / 1e9 >= when;
}

/* SPEC §5.1 defines "due" by time() >= when; the loop's clock has 1 ns
 * steps, so each deadline is the first reading that reaches it. */
int64_t sm_due_ns(double when)
{
    if (reached(INT64_MIN, when)) {
        return INT64_MIN;
    }
    if (!reached(INT64_MAX, when)) {
        return INT64_MAX;
    }
    int64_t lo = INT64_MIN; /* not reached */
    int64_t hi = INT64_MAX; /* reached */
    while ((uint64_t)hi - (uint64_t)lo > 1) {
        int64_t mid =
            (int64_t)((uint64_t)lo + ((uint64_t)hi - (uint64_t)lo) / 2);
        if (reached(mid, when)) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    return hi;
}

bool sm__refused(struct sm *m, int want, int rc)
{
    if (want == 0 && m->oom && rc == -ENOMEM) {
        sm_note(m, "enomem", 0, 0);
        return true;
    }
    return false;
}

/* --- callbacks ------------------------------------------------------------ */

int sm_cb_reserve(struct sm *m)
{
    sm_sync(m);
    return m->ncbs < SM_MAX_CBS ? m->ncbs++ : -1;
}

void sm_cb_added(struct sm *m, int id, enum sm_src src, int rc)
{
    sm_sync(m);
    sm_note(m, "add_callback", id, rc);
    if (m->closed) {
        FZ_EXPECT_RC(rc, -ESHUTDOWN, "add_callback on a closed loop");
        return;
    }
    /* SPEC §4.6: the signal queue may refuse only beyond its minimum. */
    if (src == SM_SIGNAL && rc == -EAGAIN) {
        FZ_CHECK(m->nq[SM_SIGNAL] >= EDDY_SIGNAL_QUEUE_MIN,
                 "add_callback_from_signal: -EAGAIN with %d queued",
                 m->nq[SM_SIGNAL]);
        m->cb_ran[id] = true; /* never runs */
        return;
    }
    if (sm__refused(m, 0, rc)) {
        m->cb_ran[id] = true;
        return;
    }
    FZ_EXPECT_RC(rc, 0, "add_callback");
    m->q[src][m->nq[src]++] = id;
}

static void begin_step2(struct sm *m)
{
    /* SPEC §2.13 (2): exactly what was queued before the run step, and
     * (IMPL §2.14) loop-thread callbacks first, then the queue of other
     * threads, then that of signal handlers, each first in first out. */
    m->n2 = 0;
    m->pos2 = 0;
    for (int s = 0; s < 3; s++) {
        memcpy(m->step2 + m->n2, m->q[s], (size_t)m->nq[s] * sizeof(int));
        m->n2 += m->nq[s];
        m->nq[s] = 0;
    }
    m->phase = SM_STEP2;
}

void sm_run_cb(struct sm *m, int id)
{
    sm_sync(m);
    sm_note(m, "run_callback", id, m->phase);
    FZ_CHECK(id >= 0 && id < m->ncbs, "callback %d was never added", id);
    FZ_CHECK(!m->closed, "callback %d ran after close", id);
    FZ_CHECK(!m->cb_ran[id], "callback %d ran twice", id);
    FZ_CHECK(m->phase == SM_STEP2, "callback %d ran outside step 2 (phase %d)",
             id, m->phase);
    FZ_CHECK(m->pos2 < m->n2,
             "callback %d ran in the iteration in which it was added", id);
    FZ_CHECK(m->step2[m->pos2] == id,
             "callback %d ran where callback %d was due (order)", id,
             m->step2[m->pos2]);
    m->pos2++;
    m->cb_ran[id] = true;
    m->runs_this_iter++;
}

static void finish_step2(struct sm *m)
{
    FZ_CHECK(m->pos2 == m->n2,
             "callback %d was queued before step 2 "
             "and did not run in it",
             m->step2[m->pos2]);
    m->phase = SM_STEP3;
}

/* --- timeouts ---------------------------------------------------------------
 */

/* Plans are made first, so that ids follow the order of creation. */
int sm_timer_reserve(struct sm *m)
{
    sm_sync(m);
    return m->ntimers < SM_MAX_TIMERS ? m->ntimers : -1;
}

double sm_timer_when(const struct sm *m, int id)
{
    return m->timers[id].when;
}

/* SPEC §5.3: NaN/inf -EINVAL, too far -ERANGE, anything else accepted. */
static int expected_schedule_rc(double when, int rc)
{
    if (!isfinite(when)) {
        return -EINVAL;
    }
    if (when >= SURE_RANGE_S && rc == -ERANGE) {
        return -ERANGE;
    }
    return 0;
}

void sm_timer_added(struct sm *m, int id, double when, int rc,
                    eddy_timeout handle)
{
    sm_sync(m);
    sm_note(m, "call_at", id, rc);
    if (m->closed) {
        FZ_EXPECT_RC(rc, -ESHUTDOWN, "call_at on a closed loop");
        return;
    }
    int want = expected_schedule_rc(when, rc);
    if (sm__refused(m, want, rc)) {
        return;
    }
    FZ_EXPECT_RC(rc, want, "call_at");
    if (rc != 0) {
        return;
    }
    /* SPEC §5.6: a handle is never 0 and never names an older timeout. */
    FZ_CHECK(handle != 0, "call_at returned handle 0");
    for (int i = 0; i < m->ntimers; i++) {
        FZ_CHECK(m->timers[i].handle != handle,
                 "handle of timeout %d issued again for timeout %d", i, id);
    }
    m->timers[id] = (struct sm_timer){when,   sm_due_ns(when), m->iter,
                                      handle, SM_PENDING,      -1};
    m->ntimers = id + 1;
}

/* A periodic callback's own timeout (the driver never sees its handle). */
int sm__timer_internal(struct sm *m, double when, int periodic)
{
    FZ_CHECK(m->ntimers < SM_MAX_TIMERS, "model timer table full");
    int id = m->ntimers++;
    m->timers[id] = (struct sm_timer){when, sm_due_ns(when), m->iter,
                                      0,    SM_PENDING,      periodic};
    return id;
}

void sm_timer_remove(struct sm *m, eddy_timeout handle, int rc)
{
    sm_sync(m);
    sm_note(m, "remove_timeout", rc, 0);
    if (m->closed) {
        FZ_EXPECT_RC(rc, -ESHUTDOWN, "remove_timeout on a closed loop");
        return;
    }
    for (int i = 0; handle != 0 && i < m->ntimers; i++) {
        struct sm_timer *t = &m->timers[i];
        if (t->handle == handle && t->st == SM_PENDING) {
            FZ_EXPECT_RC(rc, 0, "remove_timeout of a pending timeout");
            t->st = SM_REMOVED; /* SPEC §5.5 */
            return;
        }
    }
    /* SPEC §5.6: ran, removed, 0, foreign or made up. */
    FZ_EXPECT_RC(rc, -ENOENT, "remove_timeout of no pending timeout");
}

/* SPEC §5.8 deadline order; equal deadlines first in, first out (IMPL
 * §5.9: the reference's choice). Insertion sort: batches are small. */
static void sort_batch(struct sm *m)
{
    for (int i = 1; i < m->nbatch; i++) {
        int id = m->batch[i];
        int j = i;
        while (j > 0 &&
               m->timers[m->batch[j - 1]].due_ns > m->timers[id].due_ns) {
            m->batch[j] = m->batch[j - 1];
            j--;
        }
        m->batch[j] = id;
    }
}

/* SPEC §2.13 (4): one clock reading decides what is due; timeouts created
 * during this iteration wait even when due. The clock only moves inside
 * the driver, so it still reads what step 4 read. */
static void begin_step4(struct sm *m)
{
    m->nbatch = 0;
    m->pos4 = 0;
    for (int i = 0; i < m->ntimers; i++) {
        const struct sm_timer *t = &m->timers[i];
        if (t->st == SM_PENDING && t->iter < m->iter && t->due_ns <= m->now) {
            m->batch[m->nbatch++] = i;
        }
    }
    sort_batch(m);
    m->phase = SM_STEP4;
}

static void enter_step4(struct sm *m)
{
    if (m->phase == SM_STEP2) {
        finish_step2(m);
    }
    if (m->phase == SM_STEP3) {
        sm__finish_step3(m);
        begin_step4(m);
    }
}

/* Removed timeouts leave the batch without running (SPEC §5.5). */
static void skip_removed(struct sm *m)
{
    while (m->pos4 < m->nbatch &&
           m->timers[m->batch[m->pos4]].st == SM_REMOVED) {
        m->pos4++;
    }
}

void sm_run_timer(struct sm *m, int id)
{
    sm_sync(m);
    sm_note(m, "run_timeout", id, m->timers[id].periodic);
    FZ_CHECK(!m->closed, "timeout %d ran after close", id);
    FZ_CHECK(m->phase != SM_IDLE && m->phase != SM_POLL,
             "timeout %d ran outside an iteration's run steps", id);
    enter_step4(m);
    struct sm_timer *t = &m->timers[id];
    FZ_CHECK(t->st == SM_PENDING, "timeout %d ran though %s", id,
             t->st == SM_RAN ? "it had run" : "it was removed");
    FZ_CHECK(t->iter < m->iter,
             "timeout %d ran in the iteration that created it", id);
    FZ_CHECK(t->due_ns <= m->now, "timeout %d ran %lld ns early", id,
             (long long)(t->due_ns - m->now));
    skip_removed(m);
    FZ_CHECK(m->pos4 < m->nbatch && m->batch[m->pos4] == id,
             "timeout %d ran where timeout %d was due (order)", id,
             m->pos4 < m->nbatch ? m->batch[m->pos4] : -1);
    m->pos4++;
    t->st = SM_RAN;
    m->runs_this_iter++;
}

static void finish_step4(struct sm *m)
{
    skip_removed(m);
    FZ_CHECK(m->pos4 == m->nbatch,
             "timeout %d was due in step 4 and did "
             "not run",
             m->pos4 < m->nbatch ? m->batch[m->pos4] : -1);
}

/* --- the iteration ----------------------------------------------------------
 */

/* SPEC §2.13 (1) and §2.15: 0 with work ready or a stop pending, else up
 * to the earliest deadline, rounded so that the loop never wakes before
 * it (a cap of at least a second is allowed), else -1. */
static void check_poll_timeout(const struct sm *m, int got)
{
    bool ready = m->stopping || m->nq[0] + m->nq[1] + m->nq[2] > 0;
    int64_t first = INT64_MAX;
    for (int i = 0; i < m->ntimers; i++) {
        if (m->timers[i].st == SM_PENDING && m->timers[i].due_ns < first) {
            first = m->timers[i].due_ns;
        }
    }
    if (ready || first <= m->now) {
        FZ_EXPECT_RC(got, 0, "poll timeout with work ready");
        return;
    }
    if (first == INT64_MAX) {
        FZ_EXPECT_RC(got, -1, "poll timeout with nothing scheduled");
        return;
    }
    uint64_t wait = (uint64_t)first - (uint64_t)m->now;
    uint64_t ms = wait / 1000000 + (wait % 1000000 != 0);
    bool ok = (uint64_t)got == ms || (got >= 1000 && (uint64_t)got < ms) ||
              (got == -1 && ms > INT32_MAX);
    FZ_CHECK(got != 0,
             "poll timeout 0 while the next deadline is %llu ns "
             "away: the loop would spin",
             (unsigned long long)wait);
    FZ_CHECK(ok, "poll timeout %d ms; the next deadline is %llu ns away", got,
             (unsigned long long)wait);
}

static void finish_iteration(struct sm *m)
{
    if (m->phase == SM_IDLE) {
        return;
    }
    FZ_CHECK(m->phase != SM_POLL, "the poll step did not end");
    enter_step4(m);
    finish_step4(m);
    /* SPEC §2.15: an iteration that ran nothing and did not wait (the
     * last one, after a stop, may be empty). */
    bool empty = m->runs_this_iter == 0 && !m->poll_waited && !m->stopping;
    m->empty_streak = empty ? m->empty_streak + 1 : 0;
    FZ_CHECK(m->empty_streak < SPIN_LIMIT,
             "%d iterations in a row ran nothing and did not wait (spin)",
             m->empty_streak);
    m->phase = SM_IDLE;
}

void sm_poll_begin(struct sm *m, int timeout_ms)
{
    sm_sync(m);
    sm_note(m, "poll", timeout_ms, 0);
    FZ_CHECK(m->running, "poll while the loop is not running");
    finish_iteration(m);
    /* SPEC §2.7: after a stop the iteration in progress is the last. */
    FZ_CHECK(!(m->stopping && m->iters_in_run > 0),
             "a new iteration began after stop()");
    check_poll_timeout(m, timeout_ms);
    m->iter++;
    m->iters_in_run++;
    m->runs_this_iter = 0;
    m->poll_waited = false;
    m->phase = SM_POLL;
}

void sm_poll_end(struct sm *m, bool interrupted)
{
    sm_note(m, "poll_end", interrupted, 0);
    sm__collect_ready(m, interrupted);
    begin_step2(m);
}

void sm_stop(struct sm *m, int rc)
{
    sm_note(m, "stop", rc, 0);
    FZ_EXPECT_RC(rc, m->closed ? -ESHUTDOWN : 0, "stop");
    if (!m->closed) {
        m->stopping = true;
    }
}

void sm_start(struct sm *m)
{
    sm_sync(m);
    sm_note(m, "start", 0, 0);
    m->running = true;
    m->iters_in_run = 0;
    m->empty_streak = 0;
}

void sm_start_return(struct sm *m, int rc)
{
    sm_sync(m);
    sm_note(m, "start_return", rc, 0);
    FZ_EXPECT_RC(rc, 0, "start");
    finish_iteration(m);
    FZ_CHECK(m->iters_in_run > 0, "start returned without an iteration");
    FZ_CHECK(m->stopping, "start returned though nobody called stop()");
    m->stopping = false;
    m->running = false;
}

/* --- failures reported by callbacks (SPEC §1.5) -------------------------- */

void sm_cb_return(struct sm *m, int rc)
{
    if (rc != 0) {
        m->err_pending = true;
        m->err_want = rc;
    }
}

void sm_error(struct sm *m, int err)
{
    sm_note(m, "error", err, 0);
    FZ_CHECK(m->err_pending && err == m->err_want,
             "error handler got %d; the last callback returned %d", err,
             m->err_pending ? m->err_want : 0);
    m->err_pending = false;
}

void sm_sync(struct sm *m)
{
    FZ_CHECK(!m->err_pending, "callback failure %d was not reported",
             m->err_want);
    sm__resolve_plans(m);
}

void sm_close(struct sm *m)
{
    sm_sync(m);
    sm_note(m, "close", 0, 0);
    m->closed = true;
    m->has_current = false; /* SPEC §2.10 */
}
