/* impl/tests/test_process.c - white-box tests of the fork_processes
 * supervisor (SPEC §7) on a simulated OS: virtual time, scripted child
 * fates, injected EINTR and fork failures. Every run checks that no foreign
 * or already-reaped pid was touched and that no child of ours is left.
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "eddy.h"
#include "internal.h"
#include "process_os.h"

#define MS ((int64_t)1000000)
#define MAXPROC 512
#define MAXIDS 200
#define MAXKILLS 64

/* What a simulated child does once forked. */
enum how { RUN_FOREVER, EXIT_CODE, KILLED_BY };
struct fate {
    enum how how;
    int value;       /* exit code or signal */
    int64_t after;   /* ns after the fork */
    bool ignore_term;
    bool stolen;     /* reaped by someone else: reap gives -ECHILD */
};

enum pstate { ALIVE, ZOMBIE, REAPED };
struct sproc {
    pid_t pid;
    int id;          /* -1: foreign, not forked by the supervisor */
    enum pstate st;
    int status;
    int64_t exit_at; /* < 0: never on its own */
    struct fate fate;
};

struct kill_rec {
    pid_t pid;
    int sig;
    int64_t at;
};

struct sim {
    int64_t now;
    struct sproc procs[MAXPROC];
    int nprocs;
    pid_t next_pid;
    struct fate (*fate)(struct sim *sim, int id, int incarnation);
    int (*fork_error)(struct sim *sim, int attempt); /* 0 or -errno */
    void (*on_fork)(struct sim *sim, int id);
    int child_on_attempt;     /* fork attempt (1-based) that returns 0 */
    int fork_attempts;
    int64_t fork_times[MAXPROC];
    int incarnations[MAXIDS];
    int64_t stop_at;          /* < 0: no stop signal */
    int stop_sig;
    int eintr_reaps, eintr_waits;
    struct kill_rec kills[MAXKILLS];
    int nkills;
    int violations;           /* foreign or reaped pid touched */
    bool exited;
    int exit_status;
    int hook_result;
};

static struct sim *cur;

static int st_exit(int code)
{
    return (code & 0xff) << 8;
}

static int st_signal(int sig)
{
    return sig & 0x7f;
}

static struct sproc *find(struct sim *sim, pid_t pid)
{
    for (int i = 0; i < sim->nprocs; i++) {
        if (sim->procs[i].pid == pid) {
            return &sim->procs[i];
        }
    }
    return NULL;
}

static void end_proc(struct sproc *p, int status)
{
    p->st = ZOMBIE;
    p->status = status;
    p->exit_at = -1;
    eddy__process_on_signal(SIGCHLD);
}

static struct sproc *add_proc(struct sim *sim, int id, struct fate f)
{
    assert_true(sim->nprocs < MAXPROC);
    struct sproc *p = &sim->procs[sim->nprocs++];
    *p = (struct sproc){.pid = sim->next_pid++, .id = id, .st = ALIVE,
                        .exit_at = -1, .fate = f};
    if (f.how != RUN_FOREVER) {
        p->exit_at = sim->now + f.after;
    }
    return p;
}

static pid_t sim_fork(int task_id, void *arg)
{
    struct sim *sim = arg;
    int attempt = ++sim->fork_attempts;
    sim->fork_times[attempt - 1] = sim->now;
    if (sim->on_fork != NULL) {
        sim->on_fork(sim, task_id);
    }
    int err = sim->fork_error != NULL ? sim->fork_error(sim, attempt) : 0;
    if (err != 0) {
        return err;
    }
    if (attempt == sim->child_on_attempt) {
        return 0;
    }
    assert_true(task_id >= 0 && task_id < MAXIDS);
    int inc = sim->incarnations[task_id]++;
    struct fate f = sim->fate(sim, task_id, inc);
    return add_proc(sim, task_id, f)->pid;
}

static pid_t sim_reap(pid_t pid, int *status, void *arg)
{
    struct sim *sim = arg;
    struct sproc *p = find(sim, pid);
    if (p == NULL || p->id < 0 || p->st == REAPED) {
        sim->violations++;
        return -ECHILD;
    }
    if (sim->eintr_reaps > 0) {
        sim->eintr_reaps--;
        return -EINTR;
    }
    if (p->st == ALIVE) {
        return 0;
    }
    p->st = REAPED;
    if (p->fate.stolen) {
        return -ECHILD;
    }
    *status = p->status;
    return pid;
}

static int sim_kill(pid_t pid, int sig, void *arg)
{
    struct sim *sim = arg;
    struct sproc *p = find(sim, pid);
    if (p == NULL || p->id < 0 || p->st == REAPED) {
        sim->violations++;
        return -ESRCH;
    }
    assert_true(sim->nkills < MAXKILLS);
    sim->kills[sim->nkills++] = (struct kill_rec){pid, sig, sim->now};
    if (p->st == ALIVE && (sig == SIGKILL || !p->fate.ignore_term)) {
        end_proc(p, st_signal(sig));
    }
    return 0;
}

/* The earliest scripted event, or -1. */
static int64_t next_event(const struct sim *sim)
{
    int64_t t = sim->stop_at;
    for (int i = 0; i < sim->nprocs; i++) {
        int64_t e = sim->procs[i].exit_at;
        if (sim->procs[i].st == ALIVE && e >= 0 && (t < 0 || e < t)) {
            t = e;
        }
    }
    return t;
}

static void fire_events(struct sim *sim)
{
    for (int i = 0; i < sim->nprocs; i++) {
        struct sproc *p = &sim->procs[i];
        if (p->st == ALIVE && p->exit_at >= 0 && p->exit_at <= sim->now) {
            end_proc(p, p->fate.how == EXIT_CODE ? st_exit(p->fate.value)
                                                 : st_signal(p->fate.value));
        }
    }
    if (sim->stop_at >= 0 && sim->stop_at <= sim->now) {
        sim->stop_at = -1;
        eddy__process_on_signal(sim->stop_sig);
    }
}

static int sim_wait_fd(int fd, int timeout_ms, void *arg)
{
    struct sim *sim = arg;
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 0) == 1) {
        return 1; /* a wake-up is already waiting: no time passes */
    }
    if (sim->eintr_waits > 0) {
        sim->eintr_waits--;
        return -EINTR;
    }
    int64_t t = next_event(sim);
    int64_t limit = timeout_ms < 0 ? -1 : sim->now + timeout_ms * MS;
    if (t < 0 && limit < 0) {
        fail_msg("supervisor would wait forever");
    }
    if (t >= 0 && (limit < 0 || t <= limit)) {
        sim->now = t > sim->now ? t : sim->now;
        fire_events(sim);
        return 1;
    }
    sim->now = limit;
    return 0;
}

static int64_t sim_now(void *arg)
{
    return ((struct sim *)arg)->now;
}

static int sim_sigaction(int sig, const struct sigaction *act,
                         struct sigaction *old, void *arg)
{
    (void)arg;
    return sigaction(sig, act, old) == 0 ? 0 : -errno;
}

static void sim_exit(int status, void *arg)
{
    struct sim *sim = arg;
    sim->exited = true;
    sim->exit_status = status;
}

static struct eddy__process_os sim_os(struct sim *sim)
{
    return (struct eddy__process_os){sim_fork, sim_reap, sim_kill,
                                     sim_wait_fd, sim_now, sim_sigaction,
                                     sim_exit, sim};
}

static void sim_init(struct sim *sim,
                     struct fate (*fate)(struct sim *, int, int))
{
    memset(sim, 0, sizeof(*sim));
    sim->now = 1000 * MS;
    sim->next_pid = 1000;
    sim->fate = fate;
    sim->stop_at = -1;
    cur = sim;
}

/* Run the core; check that nothing foreign or reaped was touched and,
 * in the parent, that every child of ours has been reaped. */
static struct eddy__outcome run(struct sim *sim, int n, int max,
                                int64_t grace)
{
    struct eddy__process_os os = sim_os(sim);
    struct eddy__outcome out = {EDDY__OUT_FAIL, 0};
    assert_int_equal(eddy__supervise(&os, n, max, grace, &out), 0);
    assert_int_equal(sim->violations, 0);
    if (out.kind != EDDY__OUT_CHILD) {
        for (int i = 0; i < sim->nprocs; i++) {
            if (sim->procs[i].id >= 0) {
                assert_int_equal(sim->procs[i].st, REAPED);
            }
        }
    }
    return out;
}

static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++) {
        n += fcntl(fd, F_GETFD) != -1;
    }
    return n;
}

/* --- fates ------------------------------------------------------------- */

static struct fate exit0(struct sim *sim, int id, int inc)
{
    (void)sim;
    (void)inc;
    return (struct fate){EXIT_CODE, 0, (10 + id) * MS, false, false};
}

/* The first incarnation of id 1 exits 1, everything else exits 0. */
static struct fate id1_fails_once(struct sim *sim, int id, int inc)
{
    (void)sim;
    int code = id == 1 && inc == 0 ? 1 : 0;
    return (struct fate){EXIT_CODE, code, 20 * MS, false, false};
}

static int kill_sig;
static struct fate killed_once(struct sim *sim, int id, int inc)
{
    (void)sim;
    (void)id;
    if (inc == 0) {
        return (struct fate){KILLED_BY, kill_sig, 5 * MS, false, false};
    }
    return (struct fate){EXIT_CODE, 0, 5 * MS, false, false};
}

static struct fate always_fail(struct sim *sim, int id, int inc)
{
    (void)sim;
    (void)id;
    (void)inc;
    return (struct fate){EXIT_CODE, 3, 10 * MS, false, false};
}

/* id 0 keeps failing; the others run until signalled. */
static bool others_ignore_term;
static struct fate id0_fails(struct sim *sim, int id, int inc)
{
    (void)sim;
    (void)inc;
    if (id == 0) {
        return (struct fate){EXIT_CODE, 1, 10 * MS, false, false};
    }
    return (struct fate){RUN_FOREVER, 0, 0, others_ignore_term && id == 1,
                         false};
}

static struct fate forever(struct sim *sim, int id, int inc)
{
    (void)sim;
    (void)id;
    (void)inc;
    return (struct fate){RUN_FOREVER, 0, 0, false, false};
}

/* --- restarts (SPEC §7.2, §7.5 - §7.8) ------------------------------------ */

static void test_process_all_exit_zero_means_exit_0(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, exit0);
    struct eddy__outcome out = run(&sim, 3, 100, 5000 * MS);
    assert_int_equal(out.kind, EDDY__OUT_EXIT);
    assert_int_equal(out.value, 0);
    assert_int_equal(sim.fork_attempts, 3);
    for (int id = 0; id < 3; id++) {
        assert_int_equal(sim.incarnations[id], 1);
        assert_int_equal(sim.procs[id].id, id); /* forked in id order */
    }
    assert_int_equal(sim.nkills, 0);
}

static void test_process_restart_keeps_id(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, id1_fails_once);
    struct eddy__outcome out = run(&sim, 3, 1, 5000 * MS);
    assert_int_equal(out.kind, EDDY__OUT_EXIT);
    assert_int_equal(out.value, 0);
    assert_int_equal(sim.incarnations[0], 1);
    assert_int_equal(sim.incarnations[1], 2);
    assert_int_equal(sim.incarnations[2], 1);
    assert_int_equal(sim.procs[3].id, 1);
    assert_true(sim.procs[3].pid != sim.procs[1].pid);
}

static void test_process_restart_after_any_signal(void **state)
{
    (void)state;
    const int sigs[] = {SIGKILL, SIGTERM, SIGSEGV, SIGINT};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct sim sim;
        sim_init(&sim, killed_once);
        kill_sig = sigs[i];
        struct eddy__outcome out = run(&sim, 2, 2, 5000 * MS);
        assert_int_equal(out.kind, EDDY__OUT_EXIT);
        assert_int_equal(out.value, 0);
        assert_int_equal(sim.incarnations[0], 2);
        assert_int_equal(sim.incarnations[1], 2);
    }
}

static void test_process_give_up_exactly_past_limit(void **state)
{
    (void)state;
    const int limits[] = {0, 1, 3, 7};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        struct sim sim;
        sim_init(&sim, always_fail);
        struct eddy__outcome out = run(&sim, 1, limits[i], 5000 * MS);
        assert_int_equal(out.kind, EDDY__OUT_FAIL);
        assert_int_equal(out.value, -ECHILD);
        /* limit N allows N restarts: N + 1 runs in all. */
        assert_int_equal(sim.incarnations[0], limits[i] + 1);
    }
}

static void test_process_counter_shared_by_all_children(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, always_fail);
    struct eddy__outcome out = run(&sim, 3, 4, 5000 * MS);
    assert_int_equal(out.value, -ECHILD);
    assert_int_equal(sim.incarnations[0] + sim.incarnations[1] +
                         sim.incarnations[2],
                     3 + 4);
}

static void test_process_give_up_terminates_the_rest(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, id0_fails);
    others_ignore_term = false;
    struct eddy__outcome out = run(&sim, 3, 2, 5000 * MS);
    assert_int_equal(out.kind, EDDY__OUT_FAIL);
    assert_int_equal(out.value, -ECHILD);
    assert_int_equal(sim.incarnations[0], 3);
    assert_int_equal(sim.nkills, 2); /* SIGTERM to ids 1 and 2 only */
    for (int k = 0; k < sim.nkills; k++) {
        assert_int_equal(sim.kills[k].sig, SIGTERM);
        assert_int_not_equal(find(&sim, sim.kills[k].pid)->id, 0);
    }
}

static void test_process_sigkill_after_grace_never_early(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, id0_fails);
    others_ignore_term = true; /* id 1 ignores SIGTERM */
    struct eddy__outcome out = run(&sim, 2, 0, 5000 * MS);
    others_ignore_term = false;
    assert_int_equal(out.value, -ECHILD);
    assert_int_equal(sim.nkills, 2);
    assert_int_equal(sim.kills[0].sig, SIGTERM);
    assert_int_equal(sim.kills[1].sig, SIGKILL);
    assert_int_equal(sim.kills[1].pid, sim.kills[0].pid);
    assert_true(sim.kills[1].at >= sim.kills[0].at + 5000 * MS);
    assert_true(sim.kills[1].at <= sim.kills[0].at + 5001 * MS);
}

/* --- stop signals (SPEC §7.11) -------------------------------------------- */

static void test_process_stop_signal_forwards_and_exits(void **state)
{
    (void)state;
    const int sigs[] = {SIGTERM, SIGINT};
    for (size_t i = 0; i < 2; i++) {
        struct sim sim;
        sim_init(&sim, forever);
        sim.stop_at = sim.now + 100 * MS;
        sim.stop_sig = sigs[i];
        struct eddy__outcome out = run(&sim, 3, 100, 5000 * MS);
        assert_int_equal(out.kind, EDDY__OUT_EXIT);
        assert_int_equal(out.value, 128 + sigs[i]);
        assert_int_equal(sim.nkills, 3);
        for (int k = 0; k < 3; k++) {
            assert_int_equal(sim.kills[k].sig, SIGTERM); /* forwarded */
        }
        assert_int_equal(sim.fork_attempts, 3); /* nothing restarted */
    }
}

static void test_process_first_stop_reason_wins(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, id0_fails);
    others_ignore_term = true;
    sim.stop_at = sim.now + 1000 * MS; /* during the grace period */
    sim.stop_sig = SIGTERM;
    struct eddy__outcome out = run(&sim, 2, 0, 5000 * MS);
    others_ignore_term = false;
    assert_int_equal(out.kind, EDDY__OUT_FAIL);
    assert_int_equal(out.value, -ECHILD);
}

static void test_process_ignored_sigint_stays_ignored(void **state)
{
    (void)state;
    struct sigaction ign = {0}, old;
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    assert_int_equal(sigaction(SIGINT, &ign, &old), 0);
    struct sim sim;
    sim_init(&sim, exit0);
    struct eddy__outcome out = run(&sim, 2, 0, 5000 * MS);
    assert_int_equal(out.value, 0);
    struct sigaction now;
    assert_int_equal(sigaction(SIGINT, NULL, &now), 0);
    assert_ptr_equal(now.sa_handler, SIG_IGN);
    assert_int_equal(sigaction(SIGINT, &old, NULL), 0);
}

/* --- foreign pids, EINTR, stolen children (SPEC §7.12, §7.13) ------------ */

static void test_process_foreign_pids_ignored(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, forever);
    /* Two children of the caller that fork_processes did not create: one
     * exits (raising SIGCHLD) while ours run, one runs throughout, also
     * while ours are stopped. run() fails on any wait or kill of them. */
    add_proc(&sim, -1, (struct fate){EXIT_CODE, 7, 5 * MS, false, false});
    add_proc(&sim, -1, (struct fate){RUN_FOREVER, 0, 0, false, false});
    sim.stop_at = sim.now + 500 * MS;
    sim.stop_sig = SIGTERM;
    struct eddy__outcome out = run(&sim, 2, 0, 5000 * MS);
    assert_int_equal(out.kind, EDDY__OUT_EXIT);
    assert_int_equal(out.value, 128 + SIGTERM);
    assert_int_equal(sim.nkills, 2);
    assert_int_equal(sim.procs[0].st, ZOMBIE); /* left for its owner */
    assert_int_equal(sim.procs[1].st, ALIVE);
}

static void test_process_foreign_exit_not_counted(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, exit0);
    add_proc(&sim, -1, (struct fate){EXIT_CODE, 9, 1 * MS, false, false});
    struct eddy__outcome out = run(&sim, 2, 0, 5000 * MS);
    assert_int_equal(out.kind, EDDY__OUT_EXIT);
    assert_int_equal(out.value, 0);
    assert_int_equal(sim.fork_attempts, 2);
}

static void test_process_eintr_retried(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, id1_fails_once);
    sim.eintr_reaps = 5;
    sim.eintr_waits = 5;
    struct eddy__outcome out = run(&sim, 2, 1, 5000 * MS);
    assert_int_equal(out.kind, EDDY__OUT_EXIT);
    assert_int_equal(out.value, 0);
    assert_int_equal(sim.eintr_reaps, 0);
    assert_int_equal(sim.eintr_waits, 0);
    assert_int_equal(sim.incarnations[1], 2);
}

static struct fate stolen_once(struct sim *sim, int id, int inc)
{
    (void)sim;
    (void)id;
    return (struct fate){EXIT_CODE, 0, 10 * MS, false, inc == 0};
}

static void test_process_child_reaped_elsewhere_is_abnormal(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, stolen_once);
    struct eddy__outcome out = run(&sim, 1, 1, 5000 * MS);
    assert_int_equal(out.kind, EDDY__OUT_EXIT);
    assert_int_equal(sim.incarnations[0], 2);
}

/* --- fork failures (SPEC §7.18) ------------------------------------------- */

static int fail_2_and_3(struct sim *sim, int attempt)
{
    (void)sim;
    return attempt == 2 || attempt == 3 ? -EAGAIN : 0;
}

static void test_process_fork_transient_failure_retried(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, exit0);
    sim.fork_error = fail_2_and_3;
    struct eddy__outcome out = run(&sim, 2, 0, 5000 * MS);
    assert_int_equal(out.kind, EDDY__OUT_EXIT); /* not counted: max 0 */
    assert_int_equal(out.value, 0);
    assert_int_equal(sim.fork_attempts, 4);
    int64_t d1 = sim.fork_times[2] - sim.fork_times[1];
    int64_t d2 = sim.fork_times[3] - sim.fork_times[2];
    assert_true(d1 >= EDDY__FORK_DELAY_NS && d1 <= EDDY__FORK_DELAY_NS + MS);
    assert_true(d2 >= 2 * EDDY__FORK_DELAY_NS &&
                d2 <= 2 * EDDY__FORK_DELAY_NS + MS);
}

static int fail_after_first(struct sim *sim, int attempt)
{
    (void)sim;
    return attempt > 1 ? -EAGAIN : 0;
}

static void test_process_fork_failure_bounded(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, forever);
    sim.fork_error = fail_after_first;
    int64_t t0 = sim.now;
    struct eddy__outcome out = run(&sim, 2, 100, 5000 * MS);
    assert_int_equal(out.kind, EDDY__OUT_FAIL);
    assert_int_equal(out.value, -EAGAIN);
    assert_int_equal(sim.fork_attempts, 1 + EDDY__FORK_RETRIES);
    assert_int_equal(sim.nkills, 1); /* the running id 0 is terminated */
    int64_t waited = 0;
    for (int k = 1; k < EDDY__FORK_RETRIES; k++) {
        int64_t d = EDDY__FORK_DELAY_NS << (k - 1);
        waited += d < EDDY__FORK_DELAY_MAX_NS ? d : EDDY__FORK_DELAY_MAX_NS;
    }
    assert_true(sim.kills[0].at - t0 >= waited);
}

static int fail_hard(struct sim *sim, int attempt)
{
    (void)sim;
    return attempt == 2 ? -EPERM : 0;
}

static void test_process_fork_hard_failure_stops_at_once(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, forever);
    sim.fork_error = fail_hard;
    struct eddy__outcome out = run(&sim, 3, 100, 5000 * MS);
    assert_int_equal(out.kind, EDDY__OUT_FAIL);
    assert_int_equal(out.value, -EPERM);
    assert_int_equal(sim.fork_attempts, 2);
    assert_int_equal(sim.nkills, 1);
}

/* --- the child's side and the public API (SPEC §7.4, §7.14, §7.17) ------- */

static void snapshot_signals(struct sigaction sa[3], sigset_t *mask)
{
    const int sigs[3] = {SIGCHLD, SIGTERM, SIGINT};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sigaction(sigs[i], NULL, &sa[i]), 0);
    }
    pthread_sigmask(SIG_BLOCK, NULL, mask);
}

static void assert_same_signals(const struct sigaction before[3],
                                const sigset_t *mask_before)
{
    struct sigaction now[3];
    sigset_t mask;
    snapshot_signals(now, &mask);
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(now[i].sa_handler, before[i].sa_handler);
    }
    const int sigs[3] = {SIGCHLD, SIGTERM, SIGINT};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sigismember(&mask, sigs[i]),
                         sigismember(mask_before, sigs[i]));
    }
}

static void test_process_child_restores_state(void **state)
{
    (void)state;
    struct sigaction before[3];
    sigset_t mask;
    snapshot_signals(before, &mask);
    int fds = count_fds();
    struct sim sim;
    sim_init(&sim, forever);
    sim.child_on_attempt = 2;
    struct eddy__outcome out = run(&sim, 3, 100, 5000 * MS);
    assert_int_equal(out.kind, EDDY__OUT_CHILD);
    assert_int_equal(out.value, 1);
    assert_int_equal(count_fds(), fds);
    assert_same_signals(before, &mask);
}

static void test_process_public_child_task_id(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, forever);
    sim.child_on_attempt = 3;
    struct eddy__process_os os = sim_os(&sim);
    eddy__process_set_os(&os, 5000 * MS);
    assert_int_equal(eddy_task_id(), -1);
    assert_int_equal(eddy_fork_processes(4, 0), 2);
    assert_int_equal(eddy_task_id(), 2);
    assert_int_equal(eddy_fork_processes(4, 0), -EALREADY);
    eddy__process_reset();
    eddy__process_set_os(NULL, -1);
    assert_int_equal(eddy_task_id(), -1);
}

static void test_process_public_exit_and_defaults(void **state)
{
    (void)state;
    struct sigaction before[3];
    sigset_t mask;
    snapshot_signals(before, &mask);
    struct sim sim;
    sim_init(&sim, exit0);
    struct eddy__process_os os = sim_os(&sim);
    eddy__process_set_os(&os, 5000 * MS);
    assert_int_equal(eddy_fork_processes(0, -1), -ECANCELED);
    assert_true(sim.exited);
    assert_int_equal(sim.exit_status, 0);
    assert_int_equal(sim.fork_attempts, eddy_cpu_count());
    assert_int_equal(eddy_task_id(), -1);
    assert_same_signals(before, &mask);

    sim_init(&sim, always_fail); /* default max_restarts: 100 */
    os = sim_os(&sim);
    eddy__process_set_os(&os, 5000 * MS);
    assert_int_equal(eddy_fork_processes(1, -5), -ECHILD);
    assert_int_equal(sim.incarnations[0], EDDY__MAX_RESTARTS_DEFAULT + 1);
    assert_false(sim.exited);
    eddy__process_set_os(NULL, -1);
}

static void call_again(struct sim *sim, int id)
{
    (void)id;
    sim->hook_result = eddy_fork_processes(1, 0);
}

static void test_process_concurrent_call_busy(void **state)
{
    (void)state;
    struct sim sim;
    sim_init(&sim, exit0);
    sim.on_fork = call_again;
    struct eddy__process_os os = sim_os(&sim);
    eddy__process_set_os(&os, 5000 * MS);
    assert_int_equal(eddy_fork_processes(1, 0), -ECANCELED);
    assert_int_equal(sim.hook_result, -EBUSY);
    eddy__process_set_os(NULL, -1);
}

static void test_process_setup_failure_changes_nothing(void **state)
{
    (void)state;
    int fds = count_fds();
    struct sim sim;
    sim_init(&sim, exit0);
    struct eddy__process_os os = sim_os(&sim);
    struct eddy__outcome out = {EDDY__OUT_CHILD, 42};
    eddy__alloc_fail(1, false);
    assert_int_equal(eddy__supervise(&os, 2, 0, 5000 * MS, &out), -ENOMEM);
    eddy__alloc_fail(0, false);
    assert_int_equal(out.kind, EDDY__OUT_CHILD); /* untouched */
    assert_int_equal(out.value, 42);
    assert_int_equal(sim.fork_attempts, 0);
    assert_int_equal(count_fds(), fds);
}

static void test_process_cpu_count_positive(void **state)
{
    (void)state;
    assert_true(eddy_cpu_count() >= 1);
    assert_true(WIFEXITED(st_exit(3)) && WEXITSTATUS(st_exit(3)) == 3);
    assert_true(WIFSIGNALED(st_signal(9)) && WTERMSIG(st_signal(9)) == 9);
}

/* --- the real OS, once: a restart and the final exit ------------------ */

static void test_process_real_fork_restart_and_exit(void **state)
{
    (void)state;
    /* Runs per task id, shared with the grandchildren. */
    atomic_int *runs = mmap(NULL, 2 * sizeof(atomic_int),
                            PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(runs != MAP_FAILED);
    atomic_init(&runs[0], 0);
    atomic_init(&runs[1], 0);
    fflush(NULL);
    pid_t parent = fork();
    assert_true(parent >= 0);
    if (parent == 0) {
        int id = eddy_fork_processes(2, 1);
        if (id < 0 || id > 1 || eddy_task_id() != id) {
            _exit(90);
        }
        int run = atomic_fetch_add(&runs[id], 1);
        _exit(id == 1 && run == 0 ? 4 : 0); /* id 1 fails its first run */
    }
    int status = 0;
    assert_int_equal(waitpid(parent, &status, 0), parent);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(atomic_load(&runs[0]), 1);
    assert_int_equal(atomic_load(&runs[1]), 2);
    munmap(runs, 2 * sizeof(atomic_int));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process_all_exit_zero_means_exit_0),
        cmocka_unit_test(test_process_restart_keeps_id),
        cmocka_unit_test(test_process_restart_after_any_signal),
        cmocka_unit_test(test_process_give_up_exactly_past_limit),
        cmocka_unit_test(test_process_counter_shared_by_all_children),
        cmocka_unit_test(test_process_give_up_terminates_the_rest),
        cmocka_unit_test(test_process_sigkill_after_grace_never_early),
        cmocka_unit_test(test_process_stop_signal_forwards_and_exits),
        cmocka_unit_test(test_process_first_stop_reason_wins),
        cmocka_unit_test(test_process_ignored_sigint_stays_ignored),
        cmocka_unit_test(test_process_foreign_pids_ignored),
        cmocka_unit_test(test_process_foreign_exit_not_counted),
        cmocka_unit_test(test_process_eintr_retried),
        cmocka_unit_test(test_process_child_reaped_elsewhere_is_abnormal),
        cmocka_unit_test(test_process_fork_transient_failure_retried),
        cmocka_unit_test(test_process_fork_failure_bounded),
        cmocka_unit_test(test_process_fork_hard_failure_stops_at_once),
        cmocka_unit_test(test_process_child_restores_state),
        cmocka_unit_test(test_process_public_child_task_id),
        cmocka_unit_test(test_process_public_exit_and_defaults),
        cmocka_unit_test(test_process_concurrent_call_busy),
        cmocka_unit_test(test_process_setup_failure_changes_nothing),
        cmocka_unit_test(test_process_cpu_count_positive),
        cmocka_unit_test(test_process_real_fork_restart_and_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
