/* impl/process_sup.c - SPEC §7.2-§7.18: the fork_processes supervisor.
 * Key decision: one explicit state machine (running, backoff, terminating,
 * killing, done) fed one event at a time (a child exited cleanly or not, a
 * fork failed, a stop signal, a deadline) over the OS table of
 * process_os.c, so every restart and shutdown path runs deterministically
 * on a simulated OS in the unit tests.
 */
#define _GNU_SOURCE /* pipe2 */
#include "process_os.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

enum state {
    ST_RUNNING,     /* children run; pending slots are forked at once */
    ST_BACKOFF,     /* a fork failed: pending slots wait for the deadline */
    ST_TERMINATING, /* stopping: SIGTERM sent, SIGKILL at the deadline */
    ST_KILLING,     /* stopping: SIGKILL sent, reaping the rest */
    ST_DONE         /* outcome decided; no child of ours is left alive */
};

enum event_kind {
    EV_EXIT_OK,       /* a child exited with status 0 */
    EV_EXIT_ABNORMAL, /* non-zero status, a signal, or reaped elsewhere */
    EV_FORK_FAILED,   /* value: the -errno of fork */
    EV_STOP_SIGNAL,   /* value: SIGTERM or SIGINT */
    EV_DEADLINE       /* the backoff or grace deadline has passed */
};

struct event {
    enum event_kind kind;
    int slot;
    int value;
};

struct slot {
    pid_t pid; /* > 0 while our child runs (or is an unreaped zombie) */
    bool done; /* exited with status 0: never forked again */
};

/* [0] is always caught; the others only unless ignored at the call. */
static const int handled_signals[] = {SIGCHLD, SIGTERM, SIGINT};
#define NHANDLED (sizeof(handled_signals) / sizeof(handled_signals[0]))

struct sup {
    const struct eddy__process_os *os;
    struct slot *slots;
    int n;
    int max_restarts;
    int restarts;      /* SPEC §7.7: one counter for all children */
    int fork_failures; /* in a row */
    int64_t grace_ns;
    int64_t deadline;  /* ns on os->now_ns; < 0: none */
    enum state state;
    bool stop_seen;
    struct eddy__outcome outcome;
    int pipe[2];
    struct sigaction old_sa[NHANDLED];
    bool installed[NHANDLED];
    sigset_t caught;
    sigset_t old_mask;
};

static int64_t now_ns(const struct sup *s)
{
    return s->os->now_ns(s->os->arg);
}

/* --- signals ------------------------------------------------------------ */

static bool is_ignored(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) == 0 && sa->sa_handler == SIG_IGN;
}

static void restore_signals(struct sup *s)
{
    for (size_t i = 0; i < NHANDLED; i++) {
        if (s->installed[i]) {
            s->os->sigaction(handled_signals[i], &s->old_sa[i], NULL,
                             s->os->arg);
            s->installed[i] = false;
        }
    }
    pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
}

/* SPEC §7.11: catch SIGCHLD always, and SIGTERM/SIGINT unless the caller
 * ignores them (a job started in the background keeps ignoring SIGINT). */
static int install_signals(struct sup *s)
{
    struct sigaction sa = {0};
    sa.sa_handler = eddy__process_on_signal;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&s->caught);
    for (size_t i = 0; i < NHANDLED; i++) {
        sigaddset(&sa.sa_mask, handled_signals[i]);
    }
    pthread_sigmask(SIG_BLOCK, NULL, &s->old_mask);
    for (size_t i = 0; i < NHANDLED; i++) {
        int sig = handled_signals[i];
        int err = s->os->sigaction(sig, NULL, &s->old_sa[i], s->os->arg);
        if (err == 0 && i > 0 && is_ignored(&s->old_sa[i])) {
            continue;
        }
        sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
        if (err == 0) {
            err = s->os->sigaction(sig, &sa, NULL, s->os->arg);
        }
        if (err != 0) {
            restore_signals(s);
            return err;
        }
        s->installed[i] = true;
        sigaddset(&s->caught, sig);
    }
    pthread_sigmask(SIG_UNBLOCK, &s->caught, NULL);
    return 0;
}

/* --- setup and teardown --------------------------------------------------- */

static int sup_init(struct sup *s, const struct eddy__process_os *os, int n,
                    int max_restarts, int64_t grace_ns)
{
    *s = (struct sup){.os = os, .n = n, .max_restarts = max_restarts,
                      .grace_ns = grace_ns, .deadline = -1,
                      .state = ST_RUNNING};
    int err = 0;
    s->slots = eddy__calloc((size_t)n, sizeof(*s->slots));
    if (s->slots == NULL) {
        err = -ENOMEM;
        goto fail_slots;
    }
    if (pipe2(s->pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        err = -errno;
        goto fail_pipe;
    }
    eddy__sigpipe_arm(s->pipe[1]);
    err = install_signals(s);
    if (err != 0) {
        goto fail_signals;
    }
    return 0;

fail_signals:
    eddy__sigpipe_arm(-1);
    close(s->pipe[0]);
    close(s->pipe[1]);
fail_pipe:
    eddy__free(s->slots);
fail_slots:
    return err;
}

/* Runs in the parent once no child of ours is left, and in each child
 * right after fork, so both leave with the caller's signal state and
 * none of our descriptors (SPEC §7.14). */
static void sup_release(struct sup *s)
{
    restore_signals(s);
    eddy__sigpipe_arm(-1);
    close(s->pipe[0]);
    close(s->pipe[1]);
    eddy__free(s->slots);
    s->slots = NULL;
}

/* --- the state machine -------------------------------------------------- */

static int live_children(const struct sup *s)
{
    int live = 0;
    for (int i = 0; i < s->n; i++) {
        live += s->slots[i].pid > 0;
    }
    return live;
}

/* SPEC §7.12: only pids we forked and have not reaped are signalled, so a
 * recycled pid is never hit. */
static void signal_children(struct sup *s, int sig)
{
    for (int i = 0; i < s->n; i++) {
        if (s->slots[i].pid > 0) {
            s->os->kill(s->slots[i].pid, sig, s->os->arg);
        }
    }
}

/* SPEC §7.10, §7.11: keep the first reason, ask every child to end, and
 * give them grace_ns before SIGKILL. */
static void begin_stop(struct sup *s, enum eddy__outcome_kind kind, int value)
{
    s->outcome = (struct eddy__outcome){kind, value};
    s->state = ST_TERMINATING;
    s->deadline = now_ns(s) + s->grace_ns;
    signal_children(s, SIGTERM);
    if (live_children(s) == 0) {
        s->state = ST_DONE;
    }
}

static int64_t fork_delay(int failures)
{
    int64_t delay = EDDY__FORK_DELAY_NS;
    for (int i = 1; i < failures && delay < EDDY__FORK_DELAY_MAX_NS; i++) {
        delay *= 2;
    }
    return delay < EDDY__FORK_DELAY_MAX_NS ? delay : EDDY__FORK_DELAY_MAX_NS;
}

/* SPEC §7.18: a transient failure waits and retries (not a restart); a
 * lasting or other failure stops everything with the fork's error. */
static void fork_failed(struct sup *s, int err)
{
    bool transient = err == -EAGAIN || err == -ENOMEM;
    s->fork_failures++;
    if (transient && s->fork_failures < EDDY__FORK_RETRIES) {
        s->state = ST_BACKOFF;
        s->deadline = now_ns(s) + fork_delay(s->fork_failures);
    } else {
        begin_stop(s, EDDY__OUT_FAIL, err);
    }
}

static bool all_done(const struct sup *s)
{
    for (int i = 0; i < s->n; i++) {
        if (!s->slots[i].done) {
            return false;
        }
    }
    return true;
}

/* Events while children are meant to run (ST_RUNNING and ST_BACKOFF). */
static void on_active(struct sup *s, const struct event *ev)
{
    switch (ev->kind) {
    case EV_EXIT_OK:
        /* SPEC §7.6, §7.8: not restarted; the last one ends the parent. */
        s->slots[ev->slot] = (struct slot){.pid = 0, .done = true};
        if (all_done(s)) {
            s->outcome = (struct eddy__outcome){EDDY__OUT_EXIT, 0};
            s->state = ST_DONE;
        }
        break;
    case EV_EXIT_ABNORMAL:
        /* SPEC §7.5, §7.7: the slot is forked again with the same id by
         * the next spawn pass, unless the shared counter is exhausted. */
        s->slots[ev->slot].pid = 0;
        if (++s->restarts > s->max_restarts) {
            begin_stop(s, EDDY__OUT_FAIL, -ECHILD);
        }
        break;
    case EV_FORK_FAILED:
        fork_failed(s, ev->value);
        break;
    case EV_STOP_SIGNAL:
        begin_stop(s, EDDY__OUT_EXIT, 128 + ev->value);
        break;
    case EV_DEADLINE:
        s->state = ST_RUNNING;
        s->deadline = -1;
        break;
    }
}

/* Events while stopping: exits are only reaped, the first reason stays. */
static void on_stopping(struct sup *s, const struct event *ev)
{
    if (ev->kind == EV_EXIT_OK || ev->kind == EV_EXIT_ABNORMAL) {
        s->slots[ev->slot].pid = 0;
    } else if (ev->kind == EV_DEADLINE && s->state == ST_TERMINATING) {
        signal_children(s, SIGKILL);
        s->state = ST_KILLING;
        s->deadline = -1;
    }
    if (live_children(s) == 0) {
        s->state = ST_DONE;
    }
}

static void dispatch(struct sup *s, const struct event *ev)
{
    switch (s->state) {
    case ST_RUNNING:
    case ST_BACKOFF:
        on_active(s, ev);
        break;
    case ST_TERMINATING:
    case ST_KILLING:
        on_stopping(s, ev);
        break;
    case ST_DONE:
        break;
    }
}

/* --- the driver ----------------------------------------------------------- */

static pid_t fork_child(struct sup *s, int id)
{
    /* SPEC §7.14: our signals stay blocked in the child until its
     * dispositions are restored, so our handler never runs there. */
    pthread_sigmask(SIG_BLOCK, &s->caught, NULL);
    pid_t pid = s->os->fork(id, s->os->arg);
    if (pid != 0) {
        pthread_sigmask(SIG_UNBLOCK, &s->caught, NULL);
    }
    return pid;
}

/* Fork every slot that needs a child, in id order (SPEC §7.2). Returns
 * true in a child. */
static bool spawn_pending(struct sup *s)
{
    for (int i = 0; i < s->n && s->state == ST_RUNNING; i++) {
        if (s->slots[i].pid != 0 || s->slots[i].done) {
            continue;
        }
        if (eddy__sigpipe_stop_signal() != 0) {
            return false; /* stop first: next_event reports it */
        }
        pid_t pid = fork_child(s, i);
        if (pid == 0) {
            s->outcome = (struct eddy__outcome){EDDY__OUT_CHILD, i};
            return true;
        }
        if (pid > 0) {
            s->slots[i].pid = pid;
            s->fork_failures = 0;
        } else {
            dispatch(s, &(struct event){EV_FORK_FAILED, i, (int)pid});
        }
    }
    return false;
}

static void wait_for_wake(struct sup *s)
{
    int timeout_ms = -1;
    if (s->deadline >= 0) {
        int64_t left = s->deadline - now_ns(s);
        int64_t ms = left <= 0 ? 0 : (left + 999999) / 1000000;
        timeout_ms = ms > INT_MAX ? INT_MAX : (int)ms;
    }
    /* Any return, EINTR included, just leads to another sweep. */
    s->os->wait_fd(s->pipe[0], timeout_ms, s->os->arg);
    eddy__sigpipe_drain(s->pipe[0]);
}

/* Whether child i has ended; if so, *ev says how. */
static bool reap_one(struct sup *s, int i, struct event *ev)
{
    pid_t pid = s->slots[i].pid;
    int status = 0;
    pid_t r;
    do {
        r = s->os->reap(pid, &status, s->os->arg);
    } while (r == -EINTR);
    if (r == 0) {
        return false;
    }
    /* Anything but a clean exit 0 is abnormal (SPEC §7.5), including a
     * child someone else reaped (-ECHILD): its status is unknown. */
    bool ok = r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    *ev = (struct event){ok ? EV_EXIT_OK : EV_EXIT_ABNORMAL, i, 0};
    return true;
}

/* The next event, one at a time, so that an abnormal exit is restarted
 * before the next one is counted, as Tornado's one-wait()-at-a-time loop
 * does (SPEC §7.7). Returns false when nothing has happened. */
static bool next_event(struct sup *s, struct event *ev)
{
    int sig = eddy__sigpipe_stop_signal();
    if (sig != 0 && !s->stop_seen) {
        s->stop_seen = true;
        *ev = (struct event){EV_STOP_SIGNAL, -1, sig};
        return true;
    }
    for (int i = 0; i < s->n; i++) {
        if (s->slots[i].pid > 0 && reap_one(s, i, ev)) {
            return true;
        }
    }
    if (s->deadline >= 0 && now_ns(s) >= s->deadline) {
        *ev = (struct event){EV_DEADLINE, -1, 0};
        return true;
    }
    return false;
}

int eddy__supervise(const struct eddy__process_os *os, int n,
                    int max_restarts, int64_t grace_ns,
                    struct eddy__outcome *out)
{
    struct sup s;
    int err = sup_init(&s, os, n, max_restarts, grace_ns);
    if (err != 0) {
        return err;
    }
    for (;;) {
        if (s.state == ST_RUNNING && spawn_pending(&s)) {
            break; /* in a child */
        }
        if (s.state == ST_DONE) {
            break;
        }
        struct event ev;
        if (next_event(&s, &ev)) {
            dispatch(&s, &ev);
        } else {
            wait_for_wake(&s);
        }
    }
    sup_release(&s);
    *out = s.outcome;
    return 0;
}
