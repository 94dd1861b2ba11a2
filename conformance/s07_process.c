/* conformance/s07_process.c - SPEC §7: cpu_count, fork_processes, task_id.
 *
 * Each case forks a "supervisor" process S that calls eddy_fork_processes;
 * S's children (the workers) and S itself report through a shared anonymous
 * mapping, and the case reaps S. Workers and S leave with _exit, except
 * where the clause under test is the library's own exit.
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXID 64
#define MAXRUN 16
#define RETURNED 42 /* S's exit status when fork_processes returned */
#define WAIT_LIMIT 25.0

struct shared {
    atomic_int runs[MAXID];          /* runs started per task id */
    atomic_int pids[MAXID][MAXRUN];  /* the pid of each run */
    atomic_int bad;                  /* a worker saw a wrong task id */
    atomic_int ret;                  /* what fork_processes returned in S */
    atomic_int s_task_id;            /* task_id() in S after that */
    atomic_int survivors;            /* workers alive when it returned */
    atomic_int release;              /* the case lets workers exit */
    atomic_int got_term;             /* workers that received SIGTERM */
    atomic_int ready;                /* workers with that handler set */
    atomic_int flag[8];              /* case-specific */
    _Atomic double stamp[4];         /* case-specific monotonic times */
    int jitter_ms[2][4];             /* §7.15: each worker's intervals */
};

typedef int (*worker_fn)(struct shared *sh, int id, int run);

static struct shared *sh;
static worker_fn the_worker;

static void shared_new(void)
{
    void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    memset(p, 0, sizeof(struct shared));
    sh = p;
    atomic_store(&sh->ret, 1);
}

static void shared_free(void)
{
    munmap(sh, sizeof(struct shared));
    sh = NULL;
}

/* --- the supervisor process S and its workers ----------------------------- */

static int worker_main(int id)
{
    if (id >= MAXID || eddy_task_id() != id) {
        atomic_fetch_add(&sh->bad, 1);
        return 99;
    }
    int run = atomic_fetch_add(&sh->runs[id], 1);
    if (run < MAXRUN) {
        atomic_store(&sh->pids[id][run], (int)getpid());
    }
    return the_worker(sh, id, run);
}

/* In S, after fork_processes returned an error: were all workers gone? */
static int count_survivors(void)
{
    int alive = 0;
    for (int id = 0; id < MAXID; id++) {
        int runs = atomic_load(&sh->runs[id]);
        for (int r = 0; r < runs && r < MAXRUN; r++) {
            alive += kill((pid_t)atomic_load(&sh->pids[id][r]), 0) == 0;
        }
    }
    return alive;
}

/* Fork S; prepare(), if given, runs in S before fork_processes. */
static pid_t start_supervisor(int n, int max_restarts, worker_fn fn,
                              void (*prepare)(void))
{
    the_worker = fn;
    fflush(NULL); /* or S's exit(0) would repeat our buffered output */
    pid_t s = fork();
    assert_true(s >= 0);
    if (s == 0) {
        if (prepare != NULL) {
            prepare();
        }
        int id = eddy_fork_processes(n, max_restarts);
        if (id >= 0) {
            _exit(worker_main(id));
        }
        atomic_store(&sh->s_task_id, eddy_task_id());
        atomic_store(&sh->survivors, count_survivors());
        atomic_store(&sh->ret, id);
        _exit(RETURNED);
    }
    return s;
}

/* Reap S within WAIT_LIMIT seconds; returns its wait status. */
static int wait_supervisor(pid_t s)
{
    int status = 0;
    double end = eddy_h_now() + WAIT_LIMIT;
    for (;;) {
        pid_t r = waitpid(s, &status, WNOHANG);
        if (r == s) {
            return status;
        }
        assert_true(r == 0 || errno == EINTR);
        if (eddy_h_now() > end) {
            kill(s, SIGKILL);
            waitpid(s, &status, 0);
            fail_msg("the supervisor did not finish in %g s", WAIT_LIMIT);
        }
        eddy_h_sleep(0.005);
    }
}

static void assert_exit_status(int status, int code)
{
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), code);
}

static int total_runs(void)
{
    int total = 0;
    for (int id = 0; id < MAXID; id++) {
        total += atomic_load(&sh->runs[id]);
    }
    return total;
}

/* Wait until `count` workers have started (runs summed over ids); false
 * after WAIT_LIMIT. Workers call it too, so it asserts nothing. */
static bool await_runs(int count)
{
    double end = eddy_h_now() + WAIT_LIMIT;
    while (total_runs() < count) {
        if (eddy_h_now() > end) {
            return false;
        }
        eddy_h_sleep(0.002);
    }
    return true;
}

/* Wait until `count` workers have set their SIGTERM handler. */
static void await_ready(int count)
{
    double end = eddy_h_now() + WAIT_LIMIT;
    while (atomic_load(&sh->ready) < count && eddy_h_now() < end) {
        eddy_h_sleep(0.002);
    }
}

static void assert_gone(pid_t pid)
{
    errno = 0;
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

/* --- workers ------------------------------------------------------------ */

static int w_exit0(struct shared *s, int id, int run)
{
    (void)s;
    (void)id;
    (void)run;
    return 0;
}

static int w_exit1(struct shared *s, int id, int run)
{
    (void)s;
    (void)id;
    (void)run;
    return 1;
}

/* Wait until the case releases the workers, then exit 0. */
static int w_hold(struct shared *s, int id, int run)
{
    (void)id;
    (void)run;
    while (atomic_load(&s->release) == 0) {
        eddy_h_sleep(0.002);
    }
    return 0;
}

/* Sleep until a signal ends the process. */
static void idle(void)
{
    for (;;) {
        pause();
    }
}

static int w_forever(struct shared *s, int id, int run)
{
    (void)s;
    (void)id;
    (void)run;
    idle();
    return 0;
}

static void on_worker_term(int sig)
{
    atomic_fetch_add(&sh->got_term, 1);
    _exit(128 + sig);
}

/* Run until SIGTERM, noting it, or another signal ends the process. */
static int w_until_sigterm(struct shared *s, int id, int run)
{
    signal(SIGTERM, on_worker_term);
    atomic_fetch_add(&s->ready, 1);
    return w_forever(s, id, run);
}

static int w_id1_fails_once(struct shared *s, int id, int run)
{
    (void)s;
    return id == 1 && run == 0 ? 1 : 0;
}

static int kill_with;
static int w_id0_killed_once(struct shared *s, int id, int run)
{
    (void)s;
    if (id == 0 && run == 0) {
        kill(getpid(), kill_with);
        idle();
    }
    return 0;
}

/* --- §7.1 - §7.4 ---------------------------------------------------------- */

static void c7_1_cpu_count_online(void **state)
{
    /* SPEC §7.1: cpu_count() returns the number of processors online, and 1
     * when that number cannot be determined. */
    (void)state;
    int n = eddy_cpu_count();
    assert_true(n >= 1);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online >= 1) {
        assert_int_equal(n, (int)online);
    }
}

static int w_wait_for_all_4(struct shared *s, int id, int run)
{
    (void)id;
    (void)run;
    double end = eddy_h_now() + WAIT_LIMIT;
    while (total_runs() < 4 && eddy_h_now() < end) {
        eddy_h_sleep(0.002);
    }
    return atomic_load(&s->runs[0]) == 1 ? 0 : 5;
}

static void c7_2_ids_unique_and_complete(void **state)
{
    /* SPEC §7.2: fork_processes(n, max_restarts) with n > 0 starts exactly n
     * children, with the task ids 0 to n - 1, and never more than one live
     * child per id; in each child it returns that child's task id. */
    (void)state;
    shared_new();
    /* Every worker waits until all four run: four live at once. */
    pid_t s = start_supervisor(4, 0, w_wait_for_all_4, NULL);
    assert_exit_status(wait_supervisor(s), 0);
    for (int id = 0; id < 4; id++) {
        assert_int_equal(atomic_load(&sh->runs[id]), 1);
    }
    assert_int_equal(total_runs(), 4);
    assert_int_equal(atomic_load(&sh->bad), 0);
    shared_free();
}

static void c7_3_nonpositive_uses_cpu_count(void **state)
{
    /* SPEC §7.3: With n <= 0, fork_processes starts cpu_count() children. */
    (void)state;
    const int ns[] = {0, -3};
    for (size_t i = 0; i < 2; i++) {
        shared_new();
        pid_t s = start_supervisor(ns[i], 0, w_exit0, NULL);
        assert_exit_status(wait_supervisor(s), 0);
        int cpus = eddy_cpu_count();
        assert_int_equal(total_runs(), cpus);
        for (int id = 0; id < cpus && id < MAXID; id++) {
            assert_int_equal(atomic_load(&sh->runs[id]), 1);
        }
        shared_free();
    }
}

static void c7_4_task_id_none_outside(void **state)
{
    /* SPEC §7.4: task_id() returns, in a child started by fork_processes, the
     * task id that fork_processes returned there; in any other process, the
     * supervisor included, it returns "none": -1 in C. */
    (void)state;
    assert_int_equal(eddy_task_id(), -1);
    shared_new();
    fflush(NULL);
    pid_t plain = fork();
    assert_true(plain >= 0);
    if (plain == 0) {
        _exit(eddy_task_id() == -1 ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(plain, &status, 0), plain);
    assert_exit_status(status, 0);
    /* In the supervisor, after it gave up. */
    pid_t s = start_supervisor(1, 0, w_exit1, NULL);
    assert_exit_status(wait_supervisor(s), RETURNED);
    assert_int_equal(atomic_load(&sh->s_task_id), -1);
    assert_int_equal(atomic_load(&sh->bad), 0); /* workers saw their id */
    shared_free();
}

/* --- §7.5 - §7.9: restarts, the limit, the final exit --------------------- */

static void c7_5_restart_same_id_after_exit_1(void **state)
{
    /* SPEC §7.5: A child that ends abnormally, SIGTERM and SIGKILL included, is
     * replaced at once by a new child with the same task id, unless this exit
     * makes the supervisor give up (§7.7); the other children keep running. */
    (void)state;
    shared_new();
    pid_t s = start_supervisor(2, 1, w_id1_fails_once, NULL);
    assert_exit_status(wait_supervisor(s), 0);
    assert_int_equal(atomic_load(&sh->runs[0]), 1);
    assert_int_equal(atomic_load(&sh->runs[1]), 2);
    assert_int_not_equal(atomic_load(&sh->pids[1][0]),
                         atomic_load(&sh->pids[1][1]));
    assert_int_equal(atomic_load(&sh->bad), 0); /* same id in the new run */
    shared_free();
}

static void c7_5_restart_after_signals(void **state)
{
    /* SPEC §7.5: A child that ends abnormally, SIGTERM and SIGKILL included, is
     * replaced at once by a new child with the same task id. */
    (void)state;
    const int sigs[] = {SIGKILL, SIGTERM};
    for (size_t i = 0; i < 2; i++) {
        shared_new();
        kill_with = sigs[i];
        pid_t s = start_supervisor(2, 1, w_id0_killed_once, NULL);
        assert_exit_status(wait_supervisor(s), 0);
        assert_int_equal(atomic_load(&sh->runs[0]), 2);
        assert_int_equal(atomic_load(&sh->runs[1]), 1);
        assert_int_equal(atomic_load(&sh->bad), 0);
        shared_free();
    }
}

static int w_id0_exits_early(struct shared *s, int id, int run)
{
    (void)run;
    if (id == 0) {
        return 0;
    }
    /* id 1 outlives id 0 long enough for a wrong restart to show. */
    double end = eddy_h_now() + 0.3;
    while (eddy_h_now() < end && atomic_load(&s->runs[0]) == 1) {
        eddy_h_sleep(0.005);
    }
    return 0;
}

static void c7_6_exit_0_not_restarted(void **state)
{
    /* SPEC §7.6: A child that exits with status 0 is not restarted. */
    (void)state;
    shared_new();
    pid_t s = start_supervisor(2, 5, w_id0_exits_early, NULL);
    assert_exit_status(wait_supervisor(s), 0);
    assert_int_equal(atomic_load(&sh->runs[0]), 1);
    assert_int_equal(atomic_load(&sh->runs[1]), 1);
    shared_free();
}

static void c7_7_give_up_exactly_past_limit(void **state)
{
    /* SPEC §7.7: the exit that makes the counter exceed max_restarts is not
     * restarted and makes the supervisor give up; max_restarts = N allows
     * exactly N restarts in all, and N = 0 gives up at the first abnormal
     * exit. */
    (void)state;
    const int limits[] = {0, 1, 3};
    for (size_t i = 0; i < 3; i++) {
        shared_new();
        pid_t s = start_supervisor(1, limits[i], w_exit1, NULL);
        assert_exit_status(wait_supervisor(s), RETURNED);
        assert_int_equal(atomic_load(&sh->ret), -ECHILD);
        assert_int_equal(atomic_load(&sh->runs[0]), limits[i] + 1);
        shared_free();
    }
}

/* Exit 1, one child at a time and only while every id has a live worker
 * that has recorded its run, so that no restart is still starting when
 * the supervisor gives up. flag[0] counts exits, flag[1] holds n. */
static int w_fail_in_turn(struct shared *s, int id, int run)
{
    (void)id;
    (void)run;
    for (;;) {
        int exits = atomic_load(&s->flag[0]);
        if (total_runs() - exits == atomic_load(&s->flag[1]) &&
            atomic_compare_exchange_strong(&s->flag[0], &exits, exits + 1)) {
            return 1;
        }
        eddy_h_sleep(0.001);
    }
}

static void c7_7_counter_shared_by_all_children(void **state)
{
    /* SPEC §7.7: Every abnormal exit adds 1 to the restart counter; n children
     * that always fail run n + N times. */
    (void)state;
    shared_new();
    atomic_store(&sh->flag[1], 3);
    pid_t s = start_supervisor(3, 4, w_fail_in_turn, NULL);
    assert_exit_status(wait_supervisor(s), RETURNED);
    assert_int_equal(atomic_load(&sh->ret), -ECHILD);
    assert_int_equal(total_runs(), 3 + 4);
    shared_free();
}

static void mark_exit_handler(void)
{
    atomic_store(&sh->flag[0], 1);
}

static void prepare_atexit(void)
{
    atexit(mark_exit_handler);
}

static void c7_8_all_exit_0_parent_exits_0(void **state)
{
    /* SPEC §7.8: Once every child has exited with status 0, whatever restarts
     * came before, the supervisor process exits with status 0 as a normal
     * program exit does: exit handlers run and buffered output is flushed. */
    (void)state;
    shared_new();
    pid_t s = start_supervisor(3, 2, w_id1_fails_once, prepare_atexit);
    assert_exit_status(wait_supervisor(s), 0);
    assert_int_equal(atomic_load(&sh->flag[0]), 1); /* exit(), not _exit */
    assert_int_equal(total_runs(), 4);
    shared_free();
}

static void c7_9_give_up_returns_echild(void **state)
{
    /* SPEC §7.9: When the supervisor gives up (§7.7), fork_processes returns an
     * error in the supervisor, -ECHILD in C, and task_id() there still returns
     * none. */
    (void)state;
    shared_new();
    atomic_store(&sh->flag[1], 2);
    pid_t s = start_supervisor(2, 2, w_fail_in_turn, NULL);
    assert_exit_status(wait_supervisor(s), RETURNED);
    assert_int_equal(atomic_load(&sh->ret), -ECHILD);
    assert_int_equal(atomic_load(&sh->s_task_id), -1);
    assert_int_equal(total_runs(), 2 + 2);
    shared_free();
}

/* --- §7.10, §7.11: ending the children ------------------------------------ */

/* id 0 fails after the others have started; the others run on, and id 1
 * ignores SIGTERM when flag[1] is set. */
static int w_id0_fails_others_stay(struct shared *s, int id, int run)
{
    (void)run;
    if (id == 0) {
        (void)await_runs(3);
        await_ready(atomic_load(&s->flag[1]) != 0 ? 1 : 2);
        double end = eddy_h_now() + WAIT_LIMIT;
        while (atomic_load(&s->flag[1]) != 0 && atomic_load(&s->flag[2]) == 0
               && eddy_h_now() < end) {
            eddy_h_sleep(0.002); /* until id 1 ignores SIGTERM */
        }
        atomic_store(&s->stamp[0], eddy_h_now());
        return 1;
    }
    if (id == 1 && atomic_load(&s->flag[1]) != 0) {
        signal(SIGTERM, SIG_IGN);
        atomic_store(&s->flag[2], 1);
        return w_forever(s, id, run);
    }
    return w_until_sigterm(s, id, run);
}

static void c7_10_give_up_ends_every_child(void **state)
{
    /* SPEC §7.10: Before fork_processes returns an error in the supervisor
     * (§7.9, §7.18), it ends the children still alive: SIGTERM to each, SIGKILL
     * 5 seconds later to those still alive, and it reaps them all, so that none
     * outlives the call. */
    (void)state;
    shared_new();
    pid_t s = start_supervisor(3, 0, w_id0_fails_others_stay, NULL);
    assert_exit_status(wait_supervisor(s), RETURNED);
    assert_int_equal(atomic_load(&sh->ret), -ECHILD);
    assert_int_equal(atomic_load(&sh->survivors), 0);
    for (int id = 1; id < 3; id++) {
        assert_gone((pid_t)atomic_load(&sh->pids[id][0]));
    }
    assert_int_equal(atomic_load(&sh->got_term), 2); /* SIGTERM first */
    shared_free();
}

static void c7_10_sigkill_after_grace(void **state)
{
    /* SPEC §7.10: SIGKILL 5 seconds later to those still alive. */
    (void)state;
    shared_new();
    atomic_store(&sh->flag[1], 1); /* id 1 ignores SIGTERM */
    pid_t s = start_supervisor(3, 0, w_id0_fails_others_stay, NULL);
    int status = wait_supervisor(s);
    double waited = eddy_h_now() - atomic_load(&sh->stamp[0]);
    assert_exit_status(status, RETURNED);
    assert_int_equal(atomic_load(&sh->flag[2]), 1);
    assert_int_equal(atomic_load(&sh->ret), -ECHILD);
    assert_int_equal(atomic_load(&sh->survivors), 0);
    assert_true(waited >= 5.0); /* never early */
    assert_true(waited <= 5.0 + 4 * eddy_h_late_bound());
    assert_gone((pid_t)atomic_load(&sh->pids[1][0]));
    shared_free();
}

static void c7_11_sigterm_to_supervisor_ends_children(void **state)
{
    /* SPEC §7.11: SIGTERM or SIGINT delivered to the supervisor makes it stop:
     * it sends SIGTERM to every live child, SIGKILL 5 seconds later to those
     * still alive, reaps them all, restores its signal state and exits as by
     * exit(128 + signo). */
    (void)state;
    const int sigs[] = {SIGTERM, SIGINT};
    for (size_t i = 0; i < 2; i++) {
        shared_new();
        pid_t s = start_supervisor(3, 10, w_until_sigterm, NULL);
        assert_true(await_runs(3));
        await_ready(3);
        assert_int_equal(kill(s, sigs[i]), 0);
        assert_exit_status(wait_supervisor(s), 128 + sigs[i]);
        for (int id = 0; id < 3; id++) {
            assert_gone((pid_t)atomic_load(&sh->pids[id][0]));
        }
        assert_int_equal(total_runs(), 3); /* nothing restarted */
        assert_int_equal(atomic_load(&sh->got_term), 3); /* forwarded */
        shared_free();
    }
}

static int w_ignore_term(struct shared *s, int id, int run)
{
    signal(SIGTERM, SIG_IGN);
    atomic_fetch_add(&s->flag[3], 1);
    return w_forever(s, id, run);
}

static void c7_11_sigterm_ignored_by_child_then_sigkill(void **state)
{
    /* SPEC §7.11: SIGKILL 5 seconds later to those still alive. */
    (void)state;
    shared_new();
    pid_t s = start_supervisor(1, 10, w_ignore_term, NULL);
    double end = eddy_h_now() + WAIT_LIMIT;
    while (atomic_load(&sh->flag[3]) == 0 && eddy_h_now() < end) {
        eddy_h_sleep(0.002);
    }
    double t0 = eddy_h_now();
    assert_int_equal(kill(s, SIGTERM), 0);
    int status = wait_supervisor(s);
    double waited = eddy_h_now() - t0;
    assert_exit_status(status, 128 + SIGTERM);
    assert_true(waited >= 5.0);
    assert_true(waited <= 5.0 + 4 * eddy_h_late_bound());
    assert_gone((pid_t)atomic_load(&sh->pids[0][0]));
    shared_free();
}

static void prepare_ignore_sigint(void)
{
    signal(SIGINT, SIG_IGN);
}

static int w_report_sigint_and_hold(struct shared *s, int id, int run)
{
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    if (sa.sa_handler == SIG_IGN) {
        atomic_fetch_add(&s->flag[4], 1);
    }
    return w_hold(s, id, run);
}

static void c7_11_ignored_sigint_stays_ignored(void **state)
{
    /* SPEC §7.11: A signal that was ignored when fork_processes was called
     * stays ignored. */
    (void)state;
    shared_new();
    pid_t s = start_supervisor(2, 0, w_report_sigint_and_hold,
                               prepare_ignore_sigint);
    assert_true(await_runs(2));
    assert_int_equal(kill(s, SIGINT), 0);
    eddy_h_sleep(0.2);
    atomic_store(&sh->release, 1);
    assert_exit_status(wait_supervisor(s), 0);
    assert_int_equal(atomic_load(&sh->flag[4]), 2);
    assert_int_equal(total_runs(), 2);
    shared_free();
}

/* --- §7.12, §7.13: other processes and other signals ---------------------- */

static pid_t foreign;

static void reap_foreign(void)
{
    atomic_store(&sh->release, 1);
    waitpid(foreign, NULL, 0); /* ECHILD if the supervisor reaped it */
}

static void on_foreign_term(int sig)
{
    (void)sig;
    atomic_store(&sh->flag[5], 1);
}

/* In S: a child fork_processes did not create. It exits 3 once the
 * worker asks (flag[6]), or, with flag[7] set, stays until released and
 * notes any SIGTERM. */
static void prepare_foreign(void)
{
    foreign = fork();
    if (foreign == 0) {
        signal(SIGTERM, on_foreign_term);
        while (atomic_load(&sh->release) == 0 &&
               (atomic_load(&sh->flag[7]) != 0 ||
                atomic_load(&sh->flag[6]) == 0)) {
            eddy_h_sleep(0.002);
        }
        atomic_store(&sh->stamp[1], eddy_h_now());
        _exit(3);
    }
    atexit(reap_foreign);
}

static int w_after_foreign_exit(struct shared *s, int id, int run)
{
    (void)id;
    (void)run;
    atomic_store(&s->flag[6], 1);
    double end = eddy_h_now() + WAIT_LIMIT;
    while (atomic_load(&s->stamp[1]) == 0.0 && eddy_h_now() < end) {
        eddy_h_sleep(0.002);
    }
    eddy_h_sleep(0.2); /* time for the supervisor to see that SIGCHLD */
    return 0;
}

static void c7_12_foreign_exit_not_counted(void **state)
{
    /* SPEC §7.12: Processes that the supervisor did not create, such as other
     * children of the calling process, never count as restarts, are never
     * restarted and are never signalled by it. */
    (void)state;
    shared_new();
    /* max_restarts 0: counting the foreign exit 3 would give up. */
    pid_t s = start_supervisor(1, 0, w_after_foreign_exit, prepare_foreign);
    assert_exit_status(wait_supervisor(s), 0);
    assert_true(atomic_load(&sh->stamp[1]) > 0.0);
    assert_int_equal(total_runs(), 1);
    shared_free();
}

static void c7_12_foreign_child_not_signalled(void **state)
{
    /* SPEC §7.12: it signals only children it created and has not yet
     * reaped. */
    (void)state;
    shared_new();
    atomic_store(&sh->flag[7], 1); /* the foreign child stays */
    pid_t s = start_supervisor(2, 0, w_forever, prepare_foreign);
    assert_true(await_runs(2));
    eddy_h_sleep(0.05);
    assert_int_equal(kill(s, SIGTERM), 0);
    assert_exit_status(wait_supervisor(s), 128 + SIGTERM);
    assert_int_equal(atomic_load(&sh->flag[5]), 0); /* no SIGTERM for it */
    assert_true(atomic_load(&sh->stamp[1]) > 0.0);  /* it left on release */
    shared_free();
}

static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&sh->flag[0], 1);
}

static void prepare_usr1(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: waits see EINTR */
    sigaction(SIGUSR1, &sa, NULL);
}

static void c7_13_handled_signal_does_not_disturb(void **state)
{
    /* SPEC §7.13: A signal that the program handles itself, arriving while the
     * supervisor waits, does not disturb supervision: no exit is lost, counted
     * twice or invented, and the supervisor goes on waiting. */
    (void)state;
    shared_new();
    pid_t s = start_supervisor(2, 0, w_hold, prepare_usr1);
    assert_true(await_runs(2));
    for (int i = 0; i < 20; i++) {
        assert_int_equal(kill(s, SIGUSR1), 0);
        eddy_h_sleep(0.005);
    }
    atomic_store(&sh->release, 1);
    assert_exit_status(wait_supervisor(s), 0);
    assert_true(atomic_load(&sh->flag[0]) >= 1);
    assert_int_equal(total_runs(), 2);
    shared_free();
}

/* --- §7.14 - §7.18 -------------------------------------------------------- */

static int fds_at_call;

static void on_term_marker(int sig)
{
    (void)sig;
}

static void prepare_signal_state(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_term_marker;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    fds_at_call = eddy_h_open_fds();
}

/* flag[0] counts runs that saw exactly the caller's state. */
static int w_check_state(struct shared *s, int id, int run)
{
    struct sigaction term, chld;
    sigaction(SIGTERM, NULL, &term);
    sigaction(SIGCHLD, NULL, &chld);
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    bool ok = term.sa_handler == on_term_marker &&
              (chld.sa_flags & SA_SIGINFO) == 0 &&
              chld.sa_handler == SIG_DFL && sigismember(&mask, SIGUSR2) &&
              sigismember(&mask, SIGINT) && !sigismember(&mask, SIGCHLD) &&
              !sigismember(&mask, SIGTERM) &&
              eddy_h_open_fds() == fds_at_call;
    if (ok) {
        atomic_fetch_add(&s->flag[0], 1);
    }
    return id == 0 && run == 0 ? 1 : 0; /* id 0 is restarted once */
}

static void c7_14_child_starts_with_callers_state(void **state)
{
    /* SPEC §7.14: Each child starts with the signal dispositions and signal
     * mask that the calling thread had when fork_processes was called and with
     * the same open descriptors. */
    (void)state;
    shared_new();
    pid_t s = start_supervisor(2, 1, w_check_state, prepare_signal_state);
    assert_exit_status(wait_supervisor(s), 0);
    assert_int_equal(total_runs(), 3);
    assert_int_equal(atomic_load(&sh->flag[0]), 3);
    shared_free();
}

/* --- §7.15: jitter sequences differ between children ---------------------- */

struct jitter_run {
    double last;
    int count;
    int *out;
};

static int jitter_tick(eddy_loop *loop, void *arg)
{
    struct jitter_run *j = arg;
    double now = eddy_h_now();
    if (j->out != NULL && j->count < 4) {
        j->out[j->count] = (int)((now - j->last) * 1000.0);
    }
    j->last = now;
    if (++j->count >= 4) {
        eddy_loop_stop(loop);
    }
    return 0;
}

/* Run a jittered periodic callback for four calls; out gets the
 * intervals in ms (or nothing when out is NULL). */
static int run_jitter(double period_ms, int *out)
{
    eddy_loop *loop = NULL;
    eddy_periodic *p = NULL;
    struct jitter_run j = {eddy_h_now(), 0, out};
    int err = eddy_loop_new(EDDY_CURRENT_NEVER, &loop);
    if (err == 0) {
        err = eddy_periodic_new(loop, period_ms, 1.0, jitter_tick, &j, &p);
    }
    if (err == 0) {
        j.last = eddy_h_now();
        err = eddy_periodic_start(p);
    }
    if (err == 0) {
        err = eddy_loop_start(loop);
    }
    eddy_periodic_free(p);
    eddy_loop_free(loop);
    return err;
}

static void prepare_jitter(void)
{
    /* Draw from the generator before forking, so that a child that did
     * not reseed would repeat the other's sequence. */
    atomic_store(&sh->flag[1], run_jitter(5.0, NULL));
}

static int w_jitter(struct shared *s, int id, int run)
{
    (void)run;
    return run_jitter(200.0, s->jitter_ms[id]) == 0 ? 0 : 7;
}

static void c7_15_children_reseed_jitter(void **state)
{
    /* SPEC §7.15: Each child reseeds every pseudo-random generator that the
     * implementation itself uses, so that children do not repeat one another's
     * sequence. */
    (void)state;
    shared_new();
    pid_t s = start_supervisor(2, 0, w_jitter, prepare_jitter);
    assert_exit_status(wait_supervisor(s), 0);
    assert_int_equal(atomic_load(&sh->flag[1]), 0);
    int same = 0;
    for (int k = 0; k < 4; k++) {
        /* Jitter 1 spreads a 200 ms period over [100, 300) ms. */
        int d = sh->jitter_ms[0][k] - sh->jitter_ms[1][k];
        same += d >= -2 && d <= 2;
    }
    assert_true(same < 4); /* equal sequences: chance about 1e-7 */
    shared_free();
}

static int stop_soon(eddy_loop *loop, void *arg)
{
    *(int *)arg += 1;
    return eddy_loop_stop(loop);
}

static int w_own_loop(struct shared *s, int id, int run)
{
    (void)s;
    (void)id;
    (void)run;
    eddy_loop *loop = NULL;
    int fired = 0;
    eddy_timeout t = 0;
    if (eddy_loop_new(EDDY_CURRENT_IF_NONE, &loop) != 0 ||
        eddy_loop_call_later(loop, 0.01, stop_soon, &fired, &t) != 0 ||
        eddy_loop_start(loop) != 0 || fired != 1) {
        return 8;
    }
    return eddy_loop_free(loop) == 0 ? 0 : 9;
}

static void c7_16_child_runs_its_own_loop(void **state)
{
    /* SPEC §7.16: A child may create and run its own loop after fork_processes
     * has returned in it. */
    (void)state;
    shared_new();
    pid_t s = start_supervisor(2, 0, w_own_loop, NULL);
    assert_exit_status(wait_supervisor(s), 0);
    assert_int_equal(total_runs(), 2);
    shared_free();
}

static int w_call_again(struct shared *s, int id, int run)
{
    (void)id;
    (void)run;
    int r = eddy_fork_processes(2, 0);
    atomic_store(&s->flag[0], r);
    return r == -EALREADY && eddy_task_id() == id ? 0 : 1;
}

static void c7_17_second_call_in_child_ealready(void **state)
{
    /* SPEC §7.17: fork_processes called in a process that fork_processes
     * created returns -EALREADY and starts nothing. */
    (void)state;
    shared_new();
    pid_t s = start_supervisor(1, 0, w_call_again, NULL);
    assert_exit_status(wait_supervisor(s), 0);
    assert_int_equal(atomic_load(&sh->flag[0]), -EALREADY);
    assert_int_equal(total_runs(), 1);
    shared_free();
}

static void *call_from_thread(void *arg)
{
    (void)arg;
    while (atomic_load(&sh->runs[0]) == 0) {
        eddy_h_sleep(0.002);
    }
    atomic_store(&sh->flag[1], eddy_fork_processes(1, 0));
    atomic_store(&sh->flag[2], 1);
    return NULL;
}

static void prepare_thread(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, call_from_thread, NULL) == 0) {
        pthread_detach(t);
    }
}

static int w_until_thread_done(struct shared *s, int id, int run)
{
    (void)id;
    (void)run;
    double end = eddy_h_now() + WAIT_LIMIT;
    while (atomic_load(&s->flag[2]) == 0 && eddy_h_now() < end) {
        eddy_h_sleep(0.002);
    }
    return 0;
}

static void c7_17_concurrent_call_ebusy(void **state)
{
    /* SPEC §7.17: called from another thread of a process that is already
     * supervising, it returns -EBUSY and starts nothing. */
    (void)state;
    shared_new();
    pid_t s = start_supervisor(1, 0, w_until_thread_done, prepare_thread);
    assert_exit_status(wait_supervisor(s), 0);
    assert_int_equal(atomic_load(&sh->flag[1]), -EBUSY);
    assert_int_equal(total_runs(), 1);
    shared_free();
}

/* In S: make every fork fail with EAGAIN (RLIMIT_NPROC binds only an
 * unprivileged user, so root becomes "nobody" first). flag[3] = 1 when it
 * could not be arranged. */
static void prepare_no_fork(void)
{
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_NPROC, &none) != 0 ||
        (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))) {
        atomic_store(&sh->flag[3], 1);
        _exit(RETURNED);
    }
}

static void c7_18_fork_failure_returns_error(void **state)
{
    /* SPEC §7.18: What the supervisor does when fork fails is
     * implementation-defined, but when it stops trying it returns the error in
     * the supervisor (a negated errno in C) rather than exiting. */
    (void)state;
    shared_new();
    pid_t s = start_supervisor(2, 0, w_exit0, prepare_no_fork);
    int status = wait_supervisor(s);
    if (atomic_load(&sh->flag[3]) != 0) {
        shared_free();
        skip(); /* cannot make fork fail here */
    }
    assert_exit_status(status, RETURNED);
    assert_int_equal(atomic_load(&sh->ret), -EAGAIN);
    assert_int_equal(total_runs(), 0);
    shared_free();
}

static const struct eddy_case cases[] = {
    EDDY_CASE(c7_1_cpu_count_online, ""),
    EDDY_CASE(c7_2_ids_unique_and_complete, "7.4 7.8"),
    EDDY_CASE(c7_3_nonpositive_uses_cpu_count, "7.1 7.2"),
    EDDY_CASE(c7_4_task_id_none_outside, "7.9"),
    EDDY_CASE(c7_5_restart_same_id_after_exit_1, "7.4 7.6"),
    EDDY_CASE(c7_5_restart_after_signals, "7.4"),
    EDDY_CASE(c7_6_exit_0_not_restarted, "7.8"),
    EDDY_CASE(c7_7_give_up_exactly_past_limit, "7.9"),
    EDDY_CASE(c7_7_counter_shared_by_all_children, "7.9"),
    EDDY_CASE(c7_8_all_exit_0_parent_exits_0, "7.5"),
    EDDY_CASE(c7_9_give_up_returns_echild, "7.4 7.7"),
    EDDY_CASE(c7_10_give_up_ends_every_child, "7.9"),
    EDDY_CASE(c7_10_sigkill_after_grace, ""),
    EDDY_CASE(c7_11_sigterm_to_supervisor_ends_children, "7.6"),
    EDDY_CASE(c7_11_sigterm_ignored_by_child_then_sigkill, ""),
    EDDY_CASE(c7_11_ignored_sigint_stays_ignored, "7.14"),
    EDDY_CASE(c7_12_foreign_exit_not_counted, "7.8"),
    EDDY_CASE(c7_12_foreign_child_not_signalled, "7.11"),
    EDDY_CASE(c7_13_handled_signal_does_not_disturb, ""),
    EDDY_CASE(c7_14_child_starts_with_callers_state, "7.5"),
    EDDY_CASE(c7_15_children_reseed_jitter, ""),
    EDDY_CASE(c7_16_child_runs_its_own_loop, ""),
    EDDY_CASE(c7_17_second_call_in_child_ealready, "7.4"),
    EDDY_CASE(c7_17_concurrent_call_ebusy, ""),
    EDDY_CASE(c7_18_fork_failure_returns_error, "7.10"),
};
EDDY_SECTION(s07, "7", "Processes: cpu_count, fork_processes, task_id",
             cases);
