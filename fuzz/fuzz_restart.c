/* fuzz/fuzz_restart.c - the restart fuzz target: eddy_fork_processes runs
 * on a simulated OS (impl/process_os.h) whose children, clock and signals
 * follow a script decoded from the input: exits by status or signal per
 * task id, several exits behind one SIGCHLD, children of someone else,
 * EINTR, failed forks, stop signals, children that ignore SIGTERM. Every
 * request of the supervisor is checked by restart_model.c; at the end
 * nothing of ours may be alive or unreaped, and the signal state and the
 * descriptors must be as they were.
 */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../impl/process_os.h"
#include "eddy.h"
#include "restart_model.h"

#define MAXP 512
#define MAX_WAITS 400
#define MAX_SPINS 10000 /* requests without a wait: a busy supervisor */

enum pst { ALIVE, ZOMBIE, REAPED };

struct proc {
    pid_t pid;
    int id; /* -1: not the supervisor's */
    enum pst st;
    int status;
    bool ignore_term;
    bool stolen; /* reaped by someone else */
};

/* The event the script holds until its time comes. */
struct pending {
    bool armed;
    int64_t at;
    unsigned what;
    unsigned arg;
};

struct world {
    struct fz_in in;
    struct rm m;
    struct proc procs[MAXP];
    int nprocs;
    pid_t next_pid;
    struct pending ev;
    int fork_errors; /* the next forks that fail */
    int fork_error;
    int fork_attempts;
    int child_on_attempt; /* the fork attempt that returns 0 (0: none) */
    bool stop_in_fork;
    int eintr_reaps;
    int waits;
    int spins;
    struct sigaction table[3]; /* SIGCHLD, SIGTERM, SIGINT */
    struct sigaction initial[3];
    bool exited;
    int exit_status;
    bool wound; /* wind_down asked for a stop */
};

static struct world W;

static int sig_slot(int sig)
{
    return sig == SIGCHLD ? 0 : sig == SIGTERM ? 1 : sig == SIGINT ? 2 : -1;
}

/* A signal reaches the process as its disposition in the table says. */
static void deliver(int sig)
{
    const struct sigaction *sa = &W.table[sig_slot(sig)];
    if (sa->sa_handler == SIG_IGN) {
        return;
    }
    FZ_CHECK(sa->sa_handler != SIG_DFL || sig == SIGCHLD,
             "signal %d would kill the supervisor: no handler", sig);
    if (sa->sa_handler == SIG_DFL) {
        return;
    }
    if (sig != SIGCHLD) {
        rm_stop_signal(&W.m, sig);
    }
    sa->sa_handler(sig);
}

static struct proc *find(pid_t pid)
{
    for (int i = 0; i < W.nprocs; i++) {
        if (W.procs[i].pid == pid) {
            return &W.procs[i];
        }
    }
    return NULL;
}

/* SPEC §7.12: only our own children, and never one already reaped. */
static struct proc *ours(pid_t pid, const char *what)
{
    struct proc *p = find(pid);
    FZ_CHECK(p != NULL && p->id >= 0,
             "%s of pid %d, not the supervisor's "
             "child",
             what, (int)pid);
    FZ_CHECK(p->st != REAPED, "%s of pid %d, already reaped", what, (int)pid);
    FZ_CHECK(++W.spins < MAX_SPINS, "the supervisor makes requests without "
                                    "ever sleeping");
    return p;
}

static struct proc *new_proc(int id)
{
    FZ_CHECK(W.nprocs < MAXP, "process table full");
    struct proc *p = &W.procs[W.nprocs++];
    *p = (struct proc){W.next_pid++, id, ALIVE, 0, false, false};
    return p;
}

static void end_proc(struct proc *p, int status)
{
    p->st = ZOMBIE;
    p->status = status;
}

/* --- the simulated OS ---------------------------------------------------- */

static pid_t os_fork(int task_id, void *arg)
{
    (void)arg;
    rm_fork_begin(&W.m, task_id);
    W.spins++;
    pid_t pid;
    if (W.fork_errors > 0) {
        W.fork_errors--;
        pid = W.fork_error;
    } else if (++W.fork_attempts == W.child_on_attempt) {
        pid = 0;
    } else {
        pid = new_proc(task_id)->pid;
    }
    if (W.stop_in_fork && pid != 0) {
        /* It arrives while the fork is under way, in the parent. */
        W.stop_in_fork = false;
        W.m.in_fork = true;
        deliver(SIGTERM);
        W.m.in_fork = false;
    }
    rm_fork_end(&W.m, task_id, pid);
    return pid;
}

static pid_t os_reap(pid_t pid, int *status, void *arg)
{
    (void)arg;
    struct proc *p = ours(pid, "waitpid");
    if (W.eintr_reaps > 0) {
        W.eintr_reaps--;
        return -EINTR;
    }
    if (p->st == ALIVE) {
        return 0;
    }
    p->st = REAPED;
    bool ok = !p->stolen && WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
    rm_exit(&W.m, p->id, ok);
    if (p->stolen) {
        return -ECHILD;
    }
    *status = p->status;
    return pid;
}

static int os_kill(pid_t pid, int sig, void *arg)
{
    (void)arg;
    struct proc *p = ours(pid, "kill");
    rm_kill(&W.m, p->id, sig);
    if (p->st == ALIVE && (sig == SIGKILL || !p->ignore_term)) {
        end_proc(p, sig); /* killed: the status is the signal number */
        deliver(SIGCHLD);
    }
    return 0;
}

static int64_t os_now(void *arg)
{
    (void)arg;
    return W.m.now;
}

static int os_sigaction(int sig, const struct sigaction *act,
                        struct sigaction *old, void *arg)
{
    (void)arg;
    int slot = sig_slot(sig);
    FZ_CHECK(slot >= 0, "sigaction of signal %d", sig);
    if (old != NULL) {
        *old = W.table[slot];
    }
    if (act != NULL) {
        W.table[slot] = *act;
    }
    return 0;
}

static void os_exit(int status, void *arg)
{
    (void)arg;
    FZ_CHECK(!W.exited, "exit called twice");
    W.exited = true;
    W.exit_status = status;
}

/* --- the script ------------------------------------------------------------
 */

static int status_of(unsigned b)
{
    static const int codes[] = {0, 1, 2, 255};
    static const int sigs[] = {SIGKILL, SIGTERM, SIGSEGV, SIGINT};
    return b & 4 ? sigs[b & 3] : (codes[b & 3] & 0xff) << 8;
}

/* The live child with the task id that the byte names, or NULL. */
static struct proc *live_child(unsigned b)
{
    int id = (int)(b % (unsigned)W.m.n);
    for (int i = 0; i < W.nprocs; i++) {
        if (W.procs[i].id == id && W.procs[i].st == ALIVE) {
            return &W.procs[i];
        }
    }
    return NULL;
}

/* Events that set something up and wake nobody. Returns false when the
 * byte names one that does wake the supervisor. */
static bool arm(unsigned what, unsigned arg)
{
    static const int errs[] = {-EAGAIN, -ENOMEM, -ENOSYS};
    struct proc *p = live_child(arg);
    switch (what) {
    case 0:
        W.fork_errors = 1 + (int)(arg >> 4) % 9;
        W.fork_error = errs[arg % 3];
        return true;
    case 1:
        W.eintr_reaps = 1 + (int)arg % 3;
        return true;
    case 2:
        if (p != NULL) {
            p->ignore_term = true;
        }
        return true;
    case 3:
        W.stop_in_fork = true;
        return true;
    }
    return false;
}

/* Fire the event that is due. Returns 1 for a wake-up, -EINTR, or 0. */
static int fire(unsigned what, unsigned arg)
{
    struct proc *p = live_child(arg);
    switch (what) {
    case 4: /* one child ends, by a status or a signal */
    case 5: /* ... and someone else reaps it */
        if (p != NULL) {
            p->stolen = what == 5;
            end_proc(p, status_of(arg >> 3));
            deliver(SIGCHLD);
        }
        return 1;
    case 6: /* several children end behind one SIGCHLD (SPEC §8.12) */
        for (int k = 0; k < 3 && (p = live_child(arg + (unsigned)k)); k++) {
            end_proc(p, status_of(arg >> (2 + k)));
        }
        deliver(SIGCHLD);
        return 1;
    case 7: /* a child that is not ours (SPEC §7.12) */
        end_proc(new_proc(-1), 0);
        deliver(SIGCHLD);
        return 1;
    case 8:
        deliver(arg & 1 ? SIGINT : SIGTERM);
        return 1;
    case 9: /* a signal the program handles itself (SPEC §7.13) */
        return -EINTR;
    }
    return 0; /* time passes */
}

/* With the script used up: ask for a stop once (if a stop signal is
 * caught), else end every child cleanly, else let time pass: each call
 * makes progress, so every run ends. */
static void wind_down(void)
{
    int sig = W.table[1].sa_handler != SIG_IGN   ? SIGTERM
              : W.table[2].sa_handler != SIG_IGN ? SIGINT
                                                 : 0;
    if (!W.wound && sig != 0 && W.m.stop_at < 0) {
        W.wound = true;
        W.ev = (struct pending){true, W.m.now, 8, sig == SIGINT};
        return;
    }
    bool ended = false;
    for (int i = 0; i < W.nprocs; i++) {
        if (W.procs[i].id >= 0 && W.procs[i].st == ALIVE &&
            !(W.procs[i].ignore_term && W.m.stop_at >= 0)) {
            end_proc(&W.procs[i], 0);
            ended = true;
        }
    }
    /* what 10: nothing but the passing of time */
    W.ev = (struct pending){true, ended ? W.m.now : INT64_MAX, 10, 0};
    if (ended) {
        deliver(SIGCHLD);
    }
}

static void next_event(void)
{
    static const int64_t delays[] = {0,          1000000,    49000000,
                                     50000000,   200000000,  1000000000,
                                     5000000000, 30000000000};
    if (W.ev.at == INT64_MAX) {
        W.ev.armed = false; /* "nothing happens" is decided afresh */
    }
    while (!W.ev.armed) {
        if (fz_done(&W.in) || W.waits > MAX_WAITS) {
            wind_down();
            return;
        }
        unsigned what = fz_pick(&W.in, 11);
        unsigned arg = fz_byte(&W.in);
        if (!arm(what, arg)) {
            int64_t d = delays[fz_pick(&W.in, 8)];
            W.ev = (struct pending){true, W.m.now + d, what, arg};
        }
    }
}

static bool *alive_ids(bool *alive)
{
    memset(alive, 0, RM_MAX_IDS * sizeof *alive);
    for (int i = 0; i < W.nprocs; i++) {
        if (W.procs[i].id >= 0 && W.procs[i].st == ALIVE) {
            alive[W.procs[i].id] = true;
        }
    }
    return alive;
}

static int os_wait_fd(int fd, int timeout_ms, void *arg)
{
    (void)arg;
    bool alive[RM_MAX_IDS];
    struct pollfd p = {fd, POLLIN, 0};
    int r;
    while ((r = poll(&p, 1, 0)) < 0 && errno == EINTR) {
        /* libFuzzer's timer signal */
    }
    bool woken = r == 1;
    W.spins = 0;
    W.waits++;
    for (int i = 0; !woken && i < W.nprocs; i++) {
        FZ_CHECK(W.procs[i].id < 0 || W.procs[i].st != ZOMBIE,
                 "the supervisor sleeps with the exit of pid %d unprocessed",
                 (int)W.procs[i].pid);
    }
    rm_wait(&W.m, timeout_ms, alive_ids(alive));
    if (woken) {
        return 1; /* a wake-up is already waiting: no time passes */
    }
    next_event();
    FZ_CHECK(timeout_ms >= 0 || W.ev.at != INT64_MAX,
             "the supervisor would wait for ever: nothing can wake it");
    int64_t limit =
        timeout_ms < 0 ? INT64_MAX : W.m.now + (int64_t)timeout_ms * 1000000;
    if (W.ev.at > limit) {
        W.m.now = limit;
        return 0;
    }
    W.m.now = W.ev.at > W.m.now ? W.ev.at : W.m.now;
    W.ev.armed = false;
    return fire(W.ev.what, W.ev.arg);
}

/* --- one run
 * ------------------------------------------------------------------- */

static const struct eddy__process_os sim_os = {
    os_fork, os_reap, os_kill, os_wait_fd, os_now, os_sigaction, os_exit, NULL};

static uint64_t open_fds(void)
{
    uint64_t set = 0;
    for (int fd = 0; fd < 64; fd++) {
        set |= (uint64_t)(fcntl(fd, F_GETFD) >= 0) << fd;
    }
    return set;
}

static bool same_action(const struct sigaction *a, const struct sigaction *b)
{
    return a->sa_handler == b->sa_handler && a->sa_flags == b->sa_flags;
}

/* Decode the call: n, max_restarts, grace, ignored signals, and which fork
 * (if any) plays the child. */
static void setup(const uint8_t *data, size_t size, int *n, int *max,
                  int64_t *grace)
{
    static const int64_t graces[] = {-1, 0, 1000000, 100000000, 2000000000};
    memset(&W, 0, sizeof W);
    W.in = (struct fz_in){data, size, 0};
    unsigned cfg = fz_byte(&W.in);
    *n = (int)(cfg % 7);                /* 0: one per processor */
    *max = (int)fz_pick(&W.in, 14) - 1; /* -1: the default */
    *grace = graces[fz_pick(&W.in, 5)];
    W.child_on_attempt = cfg & 0x80 ? (int)fz_pick(&W.in, 12) : 0;
    for (int i = 0; i < 3; i++) {
        W.table[i].sa_handler = SIG_DFL;
    }
    W.table[1].sa_handler = cfg & 0x10 ? SIG_IGN : SIG_DFL;
    W.table[2].sa_handler = cfg & 0x20 ? SIG_IGN : SIG_DFL;
    memcpy(W.initial, W.table, sizeof W.table);
    W.m.now = 0;
    W.next_pid = 1000;
}

static void check_end(int rc, uint64_t fds, const sigset_t *mask)
{
    rm_result(&W.m, rc, W.exited, W.exit_status);
    for (int i = 0; rc < 0 && i < W.nprocs; i++) {
        FZ_CHECK(W.procs[i].id < 0 || W.procs[i].st == REAPED,
                 "pid %d of id %d left %s", (int)W.procs[i].pid, W.procs[i].id,
                 W.procs[i].st == ALIVE ? "alive" : "unreaped");
    }
    /* SPEC §7.14: signal state and descriptors as they were. */
    for (int i = 0; i < 3; i++) {
        FZ_CHECK(same_action(&W.table[i], &W.initial[i]),
                 "disposition %d not restored", i);
    }
    FZ_CHECK(open_fds() == fds, "descriptors differ after the call");
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    for (int sig = 1; sig < 32; sig++) {
        FZ_CHECK(sigismember(&now, sig) == sigismember(mask, sig),
                 "signal mask bit %d not restored", sig);
    }
    if (rc >= 0) {
        FZ_CHECK(eddy_task_id() == rc, "task_id() %d in child %d",
                 eddy_task_id(), rc);
    } else {
        FZ_CHECK(eddy_task_id() == -1, "task_id() %d in the supervisor",
                 eddy_task_id());
    }
}

static uint64_t run_once(const uint8_t *data, size_t size, uint64_t *count)
{
    int n = 0;
    int max = 0;
    int64_t grace = 0;
    setup(data, size, &n, &max, &grace);
    int eff_n = n > 0 ? n : eddy_cpu_count();
    FZ_CHECK(eff_n <= RM_MAX_IDS, "too many processors for the model");
    rm_init(&W.m, eff_n, max >= 0 ? max : EDDY__MAX_RESTARTS_DEFAULT,
            grace >= 0 ? grace : EDDY__GRACE_NS_DEFAULT);
    fz_set_trace(&W.m.trace);
    uint64_t fds = open_fds();
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    eddy__process_set_os(&sim_os, grace);
    int rc = eddy_fork_processes(n, max);
    check_end(rc, fds, &mask);
    eddy__process_set_os(NULL, -1);
    eddy__process_reset();
    *count = W.m.trace.count;
    return W.m.trace.hash;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t n1 = 0;
    uint64_t n2 = 0;
    uint64_t h1 = run_once(data, size, &n1);
    fz_trace_show(&W.m.trace);
    uint64_t h2 = run_once(data, size, &n2);
    FZ_CHECK(h1 == h2 && n1 == n2,
             "the same input gave two traces (%llu "
             "and %llu records)",
             (unsigned long long)n1, (unsigned long long)n2);
    fz_set_trace(NULL);
    return 0;
}
