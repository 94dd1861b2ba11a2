/* fuzz/sched_model_io.c - the model of SPEC §3 (I/O handlers, step 3 of
 * an iteration) and §6 (PeriodicCallback). Key decision: readiness is
 * recorded per descriptor when the poll returns, and a handler call is
 * judged against that record and the registration as it is at the call,
 * because §3.5 and §3.6 make later updates and removals count for any
 * dispatch not yet made.
 */
#include "sched_model.h"

#include <errno.h>
#include <math.h>

#define EV_BITS (EDDY_READ | EDDY_WRITE | EDDY_ERROR)

/* --- handlers ---------------------------------------------------------------
 */

int sm_handler_next_id(const struct sm *m)
{
    return m->next_reg_id + 1;
}

int sm_handler_add(struct sm *m, int fd, unsigned events, bool object,
                   bool bad_fd, int rc)
{
    sm_sync(m);
    sm_note(m, "add_handler", fd, rc);
    int id = ++m->next_reg_id;
    int want = 0;
    if ((events & ~EV_BITS) != 0) {
        want = -EINVAL; /* SPEC §1.8, §3.7 */
    } else if (bad_fd) {
        want = -EBADF;
    } else if (m->closed) {
        want = -ESHUTDOWN;
    } else if (m->reg[fd].active) {
        want = -EEXIST;
    }
    if (sm__refused(m, want, rc)) {
        return id;
    }
    FZ_EXPECT_RC(rc, want, "add_handler");
    if (rc == 0) {
        m->reg[fd] = (struct sm_reg){true, id, events, object};
        m->ready[fd].changed = true;
    }
    return id;
}

void sm_handler_update(struct sm *m, int fd, unsigned events, int rc)
{
    sm_sync(m);
    sm_note(m, "update_handler", fd, rc);
    int want = (events & ~EV_BITS) != 0 ? -EINVAL
               : m->closed              ? -ESHUTDOWN
               : !m->reg[fd].active     ? -ENOENT
                                        : 0;
    FZ_EXPECT_RC(rc, want, "update_handler");
    if (rc == 0) {
        m->reg[fd].events = events;
        m->ready[fd].changed = true;
    }
}

void sm_handler_remove(struct sm *m, int fd, int rc)
{
    sm_sync(m);
    sm_note(m, "remove_handler", fd, rc);
    int want = m->closed ? -ESHUTDOWN : !m->reg[fd].active ? -ENOENT : 0;
    FZ_EXPECT_RC(rc, want, "remove_handler");
    if (rc == 0) {
        m->reg[fd].active = false;
        m->ready[fd].changed = true;
    }
}

/* poll(2) semantics: EDDY_NONE watches nothing (SPEC §3.5); a hang-up is
 * reported whatever was asked for. */
void sm__collect_ready(struct sm *m, bool interrupted)
{
    for (int fd = 0; fd < SM_NFD; fd++) {
        const struct sm_reg *g = &m->reg[fd];
        const struct sm_cond *c = &m->cond[fd];
        struct sm_ready r = {0};
        if (!interrupted && g->active && g->events != EDDY_NONE) {
            r.in = c->read && (g->events & EDDY_READ);
            r.out = c->write && (g->events & EDDY_WRITE);
            r.hup = c->hup;
            r.polled = r.in || r.out || r.hup;
            r.reg_id = g->reg_id;
        }
        m->ready[fd] = r;
    }
}

/* SPEC §3.2, §3.4: what the handler must be told, given what is watched
 * when it is dispatched. */
static unsigned must_bits(const struct sm_ready *r, unsigned watched)
{
    unsigned bits = 0;
    if ((r->in || r->hup) && (watched & EDDY_READ)) {
        bits |= EDDY_READ;
    }
    if (r->out && (watched & EDDY_WRITE)) {
        bits |= EDDY_WRITE;
    }
    return bits;
}

/* ... and what it may be told besides (implementation-defined, §3.4). */
static unsigned may_bits(const struct sm_ready *r, unsigned watched)
{
    unsigned bits = must_bits(r, watched);
    if (r->hup) {
        bits |= watched & (EDDY_WRITE | EDDY_ERROR);
    }
    return bits;
}

void sm_run_handler(struct sm *m, int fd, unsigned events, int reg_id)
{
    sm_sync(m);
    sm_note(m, "run_handler", fd, events);
    FZ_CHECK(!m->closed, "handler of fd %d ran after close", fd);
    FZ_CHECK(m->phase == SM_STEP2 || m->phase == SM_STEP3,
             "handler of fd %d ran outside step 3 (phase %d)", fd, m->phase);
    m->phase = SM_STEP3; /* step 2 is over: checked when step 4 begins */
    const struct sm_reg *g = &m->reg[fd];
    struct sm_ready *r = &m->ready[fd];
    FZ_CHECK(g->active && g->reg_id == reg_id,
             "handler %d of fd %d ran after it was removed", reg_id, fd);
    FZ_CHECK(r->polled && r->reg_id == reg_id,
             "handler %d of fd %d ran without readiness from this "
             "iteration's poll",
             reg_id, fd);
    FZ_CHECK(!r->ran, "handler of fd %d ran twice in one iteration", fd);
    unsigned must = must_bits(r, g->events);
    unsigned may = may_bits(r, g->events);
    FZ_CHECK(events != 0 && (events & must) == must && (events & ~may) == 0,
             "handler of fd %d got events 0x%x; must 0x%x, may 0x%x", fd,
             events, must, may);
    r->ran = true;
    m->runs_this_iter++;
}

void sm__finish_step3(struct sm *m)
{
    for (int fd = 0; fd < SM_NFD; fd++) {
        const struct sm_ready *r = &m->ready[fd];
        const struct sm_reg *g = &m->reg[fd];
        FZ_CHECK(!r->polled || r->ran || r->changed ||
                     must_bits(r, g->events) == 0,
                 "handler of fd %d was ready and did not run", fd);
    }
}

/* --- periodic callbacks -----------------------------------------------------
 */

void sm_per_new(struct sm *m, int idx, double period_ms, double jitter,
                bool bind_current, int rc)
{
    sm_sync(m);
    sm_note(m, "periodic_new", idx, rc);
    /* SPEC §6.1, §6.7 */
    bool valid =
        isfinite(period_ms) && period_ms > 0 && jitter >= 0 && jitter <= 1;
    if (sm__refused(m, valid ? 0 : -EINVAL, rc)) {
        return;
    }
    FZ_EXPECT_RC(rc, valid ? 0 : -EINVAL, "periodic_new");
    if (rc == 0) {
        m->per[idx] = (struct sm_per){.exists = true,
                                      .bind_current = bind_current,
                                      .period_ms = period_ms,
                                      .jitter = jitter,
                                      .timer = -1};
    }
}

/* SPEC §6.6: one draw per planned call when there is jitter (none is
 * needed without). */
static double take_draw(struct sm *m, const struct sm_per *p)
{
    FZ_CHECK(m->ndraws <= 1, "%d random numbers drawn for one call", m->ndraws);
    FZ_CHECK(p->jitter == 0 || m->ndraws == 1,
             "no random number drawn for a call with jitter %g", p->jitter);
    double u = m->ndraws == 1 ? m->draws[0] : 0;
    m->ndraws = 0;
    return u;
}

static double period_s(const struct sm_per *p, double u)
{
    double period = p->period_ms / 1000.0;
    if (p->jitter != 0) {
        period *= 1.0 + p->jitter * (u - 0.5);
    }
    return period;
}

/* SPEC §6.5: back onto the grid, skipping the calls missed. */
static double grid_next(double next, double now, double period)
{
    if (next <= now) {
        return next + (floor((now - next) / period) + 1.0) * period;
    }
    return next + period;
}

static void plan(struct sm *m, int idx, double next, double now, double u)
{
    struct sm_per *p = &m->per[idx];
    p->next = grid_next(next, now, period_s(p, u));
    p->timer = sm__timer_internal(m, p->next, idx);
}

void sm_per_start(struct sm *m, int idx, int rc)
{
    struct sm_per *p = &m->per[idx];
    /* The draw of this start was made inside it: take it before sync. A
     * start that failed for want of memory may have drawn one too. */
    double u = rc == 0 ? take_draw(m, p) : 0;
    FZ_CHECK(m->ndraws == 0 || (rc == -ENOMEM && m->ndraws == 1),
             "a failed start drew a random number");
    m->ndraws = 0;
    sm_sync(m);
    sm_note(m, "periodic_start", idx, rc);
    bool has_loop = !p->bind_current || m->running || m->has_current;
    int want = p->running  ? -EALREADY
               : !has_loop ? -ENOENT
               : m->closed ? -ESHUTDOWN
                           : 0;
    if (sm__refused(m, want, rc)) {
        return;
    }
    FZ_EXPECT_RC(rc, want, "periodic_start");
    if (rc == 0) {
        double now = (double)m->now / 1e9;
        p->running = true; /* SPEC §6.2: first call one period on */
        p->gen++;
        plan(m, idx, now, now, u);
    }
}

static void stop_per(struct sm *m, struct sm_per *p)
{
    if (p->running && p->timer >= 0 && m->timers[p->timer].st == SM_PENDING) {
        m->timers[p->timer].st = SM_REMOVED; /* SPEC §6.3 */
    }
    p->running = false;
    p->timer = -1;
}

void sm_per_stop(struct sm *m, int idx, int rc)
{
    sm_sync(m);
    sm_note(m, "periodic_stop", idx, rc);
    FZ_EXPECT_RC(rc, 0, "periodic_stop");
    stop_per(m, &m->per[idx]);
}

void sm_per_free(struct sm *m, int idx)
{
    sm_sync(m);
    sm_note(m, "periodic_free", idx, 0);
    stop_per(m, &m->per[idx]);
    m->per[idx].exists = false; /* SPEC §6.4: freeing stops it first */
}

void sm_run_per(struct sm *m, int idx)
{
    struct sm_per *p = &m->per[idx];
    FZ_CHECK(p->exists && p->running && p->timer >= 0,
             "periodic %d was called while stopped", idx);
    sm_run_timer(m, p->timer);
    p->timer = -1;
    p->in_cb = true;
    p->gen_at_cb = p->gen;
}

/* SPEC §6.9: a stop, or a stop and start, from inside the callback owns
 * the schedule; otherwise the next call is planned from the time the
 * callback returned. */
void sm_per_return(struct sm *m, int idx)
{
    struct sm_per *p = &m->per[idx];
    p->in_cb = false;
    if (p->exists && p->running && p->gen == p->gen_at_cb) {
        p->plan_pending = true;
        p->plan_now = m->now;
    }
}

void sm_draw(struct sm *m, double u)
{
    sm_note(m, "random", (int64_t)(u * 1e6), 0);
    FZ_CHECK(m->ndraws < SM_MAX_DRAWS, "too many random numbers drawn");
    m->draws[m->ndraws++] = u;
}

void sm__resolve_plans(struct sm *m)
{
    for (int i = 0; i < SM_NPER; i++) {
        struct sm_per *p = &m->per[i];
        if (p->plan_pending) {
            p->plan_pending = false;
            double u = take_draw(m, p);
            plan(m, i, p->next, (double)p->plan_now / 1e9, u);
        }
    }
    FZ_CHECK(m->ndraws == 0, "a random number was drawn with no call to "
                             "plan");
}
