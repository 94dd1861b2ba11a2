/* fuzz/restart_model.c - the model of the fork_processes supervisor (SPEC
 * §7). Key decision: the model keeps one state per task id and the one
 * outcome the call must end with, decided by the first event that settles
 * it (the last clean exit, the exit that exhausts max_restarts, a fork
 * given up, a stop signal); from then on no fork is allowed and only the
 * stop protocol of §7.10/§7.11 (SIGTERM, SIGKILL after the grace period,
 * reap everything) remains.
 */
#include "restart_model.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

/* SPEC §7.18, the reference's choice. */
#define RETRIES 8
#define DELAY_NS ((int64_t)50000000)
#define DELAY_MAX_NS ((int64_t)1000000000)

void rm_init(struct rm *m, int n, int max_restarts, int64_t grace_ns)
{
    memset(m, 0, sizeof *m);
    m->n = n;
    m->max_restarts = max_restarts;
    m->grace_ns = grace_ns;
    m->stop_at = -1;
    m->retry_at = INT64_MIN;
    fz_trace_reset(&m->trace);
}

void rm_note(struct rm *m, const char *what, int64_t a, int64_t b)
{
    fz_trace_add(&m->trace, what, m->now, a, b);
}

static void decide(struct rm *m, enum rm_outcome outcome, int value)
{
    if (m->outcome == RM_UNDECIDED) {
        m->outcome = outcome;
        m->value = value;
    }
}

/* SPEC §7.10, §7.11: the first reason stays; the children are asked to
 * end from now on. */
static void begin_stop(struct rm *m, enum rm_outcome outcome, int value)
{
    decide(m, outcome, value);
    if (m->stop_at < 0) {
        m->stop_at = m->now;
    }
}

static const char *id_state(enum rm_id s)
{
    static const char *const names[] = {"was never forked", "is alive",
                                        "awaits a restart", "is done"};
    return names[s];
}

void rm_fork_begin(struct rm *m, int id)
{
    rm_note(m, "fork", id, 0);
    FZ_CHECK(m->outcome == RM_UNDECIDED,
             "fork for id %d after the outcome was decided", id);
    FZ_CHECK(id >= 0 && id < m->n, "fork for task id %d of %d", id, m->n);
    /* SPEC §7.2: one live child per id; §7.6: exit 0 is never restarted. */
    FZ_CHECK(m->id[id] == RM_NEW || m->id[id] == RM_PENDING,
             "fork for id %d, which %s", id, id_state(m->id[id]));
    FZ_CHECK(m->now >= m->retry_at, "fork retried %lld ns early",
             (long long)(m->retry_at - m->now));
}

static int64_t retry_delay(int failures)
{
    int64_t delay = DELAY_NS;
    for (int i = 1; i < failures && delay < DELAY_MAX_NS; i++) {
        delay *= 2;
    }
    return delay < DELAY_MAX_NS ? delay : DELAY_MAX_NS;
}

void rm_fork_end(struct rm *m, int id, pid_t pid)
{
    rm_note(m, "forked", id, pid);
    if (pid > 0) {
        m->id[id] = RM_LIVE;
        m->pid[id] = pid;
        m->fork_failures = 0;
        m->retry_at = INT64_MIN;
    } else if (pid == 0) {
        decide(m, RM_CHILD, id);
    } else if ((pid == -EAGAIN || pid == -ENOMEM) &&
               ++m->fork_failures < RETRIES) {
        m->retry_at = m->now + retry_delay(m->fork_failures);
    } else if (m->stop_in_fork) {
        /* A stop signal and a fork failing for good at the same moment:
         * SPEC §7.11 and §7.18 both apply, and either outcome is taken. */
        m->alt = RM_FAIL;
        m->alt_value = (int)pid;
    } else {
        begin_stop(m, RM_FAIL, (int)pid); /* SPEC §7.18 */
    }
    m->stop_in_fork = false;
}

/* SPEC §7.7: an abnormal exit is restarted before the next exit counts,
 * unless the restart waits out a failed fork (§7.18). */
static void check_restarted(const struct rm *m, const char *when)
{
    if (m->outcome != RM_UNDECIDED || m->fork_failures > 0) {
        return;
    }
    for (int i = 0; i < m->n; i++) {
        FZ_CHECK(m->id[i] == RM_LIVE || m->id[i] == RM_DONE, "id %d %s %s", i,
                 id_state(m->id[i]), when);
    }
}

static bool all_done(const struct rm *m)
{
    for (int i = 0; i < m->n; i++) {
        if (m->id[i] != RM_DONE) {
            return false;
        }
    }
    return true;
}

void rm_exit(struct rm *m, int id, bool ok)
{
    rm_note(m, "exit", id, ok);
    FZ_CHECK(m->id[id] == RM_LIVE, "exit of id %d, which %s", id,
             id_state(m->id[id]));
    check_restarted(m, "when the next exit was counted");
    if (m->outcome != RM_UNDECIDED) {
        m->id[id] = RM_DONE; /* stopping: reaped, never replaced */
    } else if (ok) {
        m->id[id] = RM_DONE; /* SPEC §7.6 */
        if (all_done(m)) {
            decide(m, RM_EXIT, 0); /* SPEC §7.8 */
        }
    } else if (++m->restarts > m->max_restarts) {
        m->id[id] = RM_DONE;
        begin_stop(m, RM_FAIL, -ECHILD); /* SPEC §7.7, §7.9 */
    } else {
        m->id[id] = RM_PENDING; /* SPEC §7.5 */
    }
}

void rm_stop_signal(struct rm *m, int signo)
{
    rm_note(m, "stop_signal", signo, 0);
    m->stop_in_fork = m->in_fork && m->outcome == RM_UNDECIDED;
    begin_stop(m, RM_EXIT, 128 + signo); /* SPEC §7.11 */
}

void rm_kill(struct rm *m, int id, int sig)
{
    rm_note(m, "kill", id, sig);
    FZ_CHECK(m->stop_at >= 0, "signal %d sent to id %d while not stopping", sig,
             id);
    FZ_CHECK(sig == SIGTERM || sig == SIGKILL, "signal %d sent to id %d", sig,
             id);
    if (sig == SIGTERM) {
        m->term_sent[id] = true;
    } else {
        FZ_CHECK(m->now >= m->stop_at + m->grace_ns,
                 "SIGKILL to id %d %lld ns before the grace period ended", id,
                 (long long)(m->stop_at + m->grace_ns - m->now));
        m->kill_sent[id] = true;
    }
}

/* A timeout that wakes the supervisor no later than at, rounded up to the
 * millisecond. */
static void check_wakes_by(const struct rm *m, int timeout_ms, int64_t at,
                           const char *why)
{
    int64_t left = at - m->now;
    int64_t ms = left <= 0 ? 0 : (left + 999999) / 1000000;
    FZ_CHECK(timeout_ms >= 0 && timeout_ms <= ms,
             "wait of %d ms; %s is due in %lld ms", timeout_ms, why,
             (long long)ms);
}

static void check_stopping(const struct rm *m, int timeout_ms,
                           const bool *alive)
{
    int64_t kill_at = m->stop_at + m->grace_ns;
    bool unkilled = false;
    for (int i = 0; i < m->n; i++) {
        if (m->id[i] != RM_LIVE) {
            continue;
        }
        FZ_CHECK(m->term_sent[i],
                 "id %d was not sent SIGTERM when the "
                 "supervisor began to stop",
                 i);
        FZ_CHECK(!alive[i] || m->kill_sent[i] || m->now < kill_at,
                 "id %d still alive and not killed after the grace period", i);
        unkilled |= alive[i] && !m->kill_sent[i];
    }
    if (unkilled) {
        check_wakes_by(m, timeout_ms, kill_at, "the SIGKILL");
    }
}

void rm_wait(struct rm *m, int timeout_ms, const bool *alive)
{
    rm_note(m, "wait", timeout_ms, 0);
    check_restarted(m, "when the supervisor went to sleep");
    if (m->outcome == RM_UNDECIDED && m->fork_failures > 0) {
        check_wakes_by(m, timeout_ms, m->retry_at, "the fork retry");
    }
    if (m->stop_at >= 0) {
        check_stopping(m, timeout_ms, alive);
    }
}

void rm_result(struct rm *m, int rc, bool exited, int status)
{
    rm_note(m, "result", rc, exited ? status : -1);
    if (m->alt == RM_FAIL && !exited && rc == m->alt_value) {
        return;
    }
    switch (m->outcome) {
    case RM_UNDECIDED:
        fz_fail("fork_processes returned %d with no outcome decided", rc);
    case RM_CHILD:
        FZ_CHECK(!exited && rc == m->value,
                 "in the child fork_processes "
                 "returned %d, exited %d; the model expects %d",
                 rc, exited, m->value);
        break;
    case RM_EXIT:
        FZ_CHECK(exited && status == m->value && rc == -ECANCELED,
                 "the supervisor %s %d; the model expects exit(%d)",
                 exited ? "exited with" : "returned", exited ? status : rc,
                 m->value);
        break;
    case RM_FAIL:
        FZ_CHECK(!exited && rc == m->value,
                 "the supervisor %s %d; the model "
                 "expects the error %d",
                 exited ? "exited with" : "returned", exited ? status : rc,
                 m->value);
        break;
    }
}
