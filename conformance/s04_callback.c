/* conformance/s04_callback.c - SPEC §4: callbacks, futures and executors.
 *
 * Real threads, real signals and a real poll: wake-up cases leave the loop
 * blocked with no timeout at all, and a watchdog thread writes to a pipe
 * the loop watches, so a loop that is never woken fails the case instead
 * of hanging it.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct eddy_trace tr;
static pthread_t case_thread;

static void begin(void)
{
    eddy_h_trace_reset(&tr);
    case_thread = pthread_self();
}

static bool on_case_thread(void)
{
    return pthread_equal(pthread_self(), case_thread) != 0;
}

static int stop_cb(eddy_loop *loop, void *arg)
{
    (void)arg;
    return eddy_loop_stop(loop);
}

static void run_for(eddy_loop *loop, double seconds)
{
    assert_int_equal(eddy_loop_call_later(loop, seconds, stop_cb, NULL, NULL),
                     0);
    assert_int_equal(eddy_loop_start(loop), 0);
}

/* A callback under observation. */
struct rec {
    const char *name;
    int runs;
    bool off_thread;
};

static int rec_cb(eddy_loop *loop, void *arg)
{
    struct rec *r = arg;
    (void)loop;
    r->runs++;
    if (!on_case_thread()) {
        r->off_thread = true;
    }
    eddy_h_trace(&tr, "%s", r->name);
    return 0;
}

static bool rec_ran(void *arg)
{
    return ((const struct rec *)arg)->runs > 0;
}

/* Run fn(arg) on a new thread from inside a callback, so the loop is
 * running (on this thread) while the other thread makes its calls. */
struct offthread {
    void *(*fn)(void *);
    void *arg;
    bool done;
};

static int offthread_cb(eddy_loop *loop, void *arg)
{
    struct offthread *o = arg;
    pthread_t th;
    (void)loop;
    if (pthread_create(&th, NULL, o->fn, o->arg) == 0) {
        pthread_join(th, NULL);
        o->done = true;
    }
    return 0;
}

static bool offthread_done(void *arg)
{
    return ((const struct offthread *)arg)->done;
}

static void off_thread_while_running(eddy_loop *loop, void *(*fn)(void *),
                                     void *arg)
{
    struct offthread o = {fn, arg, false};
    assert_int_equal(eddy_loop_add_callback(loop, offthread_cb, &o), 0);
    assert_true(eddy_h_run_until(loop, offthread_done, &o, 5.0));
}

/* --- watchdog: wakes a blocked loop through an fd if nothing else does --- */

struct watchdog {
    int fds[2];
    pthread_t thread;
    atomic_bool cancel;
    double limit;
    bool fired;
};

static void *watchdog_main(void *arg)
{
    struct watchdog *w = arg;
    double end = eddy_h_now() + w->limit;
    while (!atomic_load(&w->cancel) && eddy_h_now() < end) {
        eddy_h_sleep(0.01);
    }
    if (!atomic_load(&w->cancel)) {
        char c = 'w';
        while (write(w->fds[1], &c, 1) < 0 && errno == EINTR) {
            continue;
        }
    }
    return NULL;
}

static int watchdog_fired_cb(eddy_loop *loop, int fd, unsigned events,
                             void *arg)
{
    struct watchdog *w = arg;
    (void)fd;
    (void)events;
    w->fired = true;
    return eddy_loop_stop(loop);
}

static void watchdog_arm(struct watchdog *w, eddy_loop *loop, double limit)
{
    w->fired = false;
    w->limit = limit;
    atomic_init(&w->cancel, false);
    assert_int_equal(pipe(w->fds), 0);
    fcntl(w->fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(w->fds[1], F_SETFD, FD_CLOEXEC);
    assert_int_equal(eddy_loop_add_handler(loop, w->fds[0], EDDY_READ,
                                           watchdog_fired_cb, w), 0);
    assert_int_equal(pthread_create(&w->thread, NULL, watchdog_main, w), 0);
}

static void watchdog_disarm(struct watchdog *w, eddy_loop *loop)
{
    atomic_store(&w->cancel, true);
    pthread_join(w->thread, NULL);
    eddy_loop_remove_handler(loop, w->fds[0]);
    close(w->fds[0]);
    close(w->fds[1]);
}

/* --- §4.1 never synchronous, once, on the loop thread -------------------- */

struct parent {
    struct rec self;
    struct rec child;
    int rc;
    int child_runs_after_add;
};

static int parent_cb(eddy_loop *loop, void *arg)
{
    struct parent *p = arg;
    rec_cb(loop, &p->self);
    p->rc = eddy_loop_add_callback(loop, rec_cb, &p->child);
    p->child_runs_after_add = p->child.runs;
    return 0;
}

static void c4_1_add_callback_never_synchronous(void **state)
{
    /* SPEC §4.1: add_callback never runs cb before it returns; cb runs
     * once, on the loop thread, in a later iteration. */
    eddy_loop *loop = *state;
    begin();
    struct rec x = {.name = "X"};
    struct rec t = {.name = "T"};
    struct parent p = {.self = {.name = "A"}, .child = {.name = "C"}, .rc = 1};
    assert_int_equal(eddy_loop_add_callback(loop, rec_cb, &x), 0);
    assert_int_equal(x.runs, 0);
    assert_int_equal(eddy_loop_add_callback(loop, parent_cb, &p), 0);
    assert_int_equal(eddy_loop_call_later(loop, -1, rec_cb, &t, NULL), 0);
    assert_true(eddy_h_run_until(loop, rec_ran, &p.child, 5.0));
    run_for(loop, 0.02);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.child_runs_after_add, 0);
    /* The child waits for the next iteration: after the due timeout. */
    assert_string_equal(eddy_h_trace_str(&tr), "X A T C");
    assert_int_equal(x.runs + p.self.runs + p.child.runs, 3);
    assert_false(x.off_thread || p.self.off_thread || p.child.off_thread);
}

static void c4_1_null_callback_is_einval(void **state)
{
    /* SPEC §4.1: add_callback takes a callback: NULL returns -EINVAL and
     * queues nothing. */
    eddy_loop *loop = *state;
    begin();
    assert_int_equal(eddy_loop_add_callback(loop, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_loop_spawn_callback(loop, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_loop_add_callback_from_signal(loop, NULL, NULL),
                     -EINVAL);
    struct rec r = {.name = "r"};
    assert_int_equal(eddy_loop_add_callback(loop, rec_cb, &r), 0);
    run_for(loop, 0.02);
    assert_string_equal(eddy_h_trace_str(&tr), "r");
}

/* --- §4.2 FIFO, nothing lost --------------------------------------------- */

#define NSEQ 1000

struct seq {
    long next;
    long bad;
    bool more_added;
};
static struct seq sq;

static int seq_cb(eddy_loop *loop, void *arg)
{
    long v = (long)(intptr_t)arg;
    if (v != sq.next || !on_case_thread()) {
        sq.bad++;
    }
    sq.next++;
    if (v == NSEQ - 1 && !sq.more_added) {
        sq.more_added = true;
        for (long i = NSEQ; i < 2 * NSEQ; i++) {
            if (eddy_loop_add_callback(loop, seq_cb, (void *)(intptr_t)i)) {
                sq.bad++;
            }
        }
    }
    return 0;
}

static bool seq_all_ran(void *arg)
{
    (void)arg;
    return sq.next >= 2 * NSEQ;
}

static void c4_2_callbacks_run_in_order_added(void **state)
{
    /* SPEC §4.2: callbacks added by one thread run in the order they were
     * added; none is lost or run twice. */
    eddy_loop *loop = *state;
    begin();
    memset(&sq, 0, sizeof(sq));
    for (long i = 0; i < NSEQ; i++) {
        assert_int_equal(eddy_loop_add_callback(loop, seq_cb,
                                                (void *)(intptr_t)i), 0);
    }
    assert_true(eddy_h_run_until(loop, seq_all_ran, NULL, 5.0));
    run_for(loop, 0.02);
    assert_int_equal(sq.bad, 0);
    assert_int_equal(sq.next, 2 * NSEQ);
}

#define NTHREADS 8
#define PER_THREAD 100000L
#define SEQ_BITS 24

struct stress {
    eddy_loop *loop;
    long next[NTHREADS];   /* loop thread only */
    long total;
    long bad;
    int add_rc[NTHREADS];
};
static struct stress st;

static int stress_cb(eddy_loop *loop, void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    unsigned t = (unsigned)(v >> SEQ_BITS);
    long s = (long)(v & ((1u << SEQ_BITS) - 1));
    (void)loop;
    if (t >= NTHREADS || s != st.next[t] || !on_case_thread()) {
        st.bad++;
    } else {
        st.next[t]++;
    }
    st.total++;
    return 0;
}

static void *stress_main(void *arg)
{
    uintptr_t t = (uintptr_t)arg;
    for (long s = 0; s < PER_THREAD; s++) {
        uintptr_t v = (t << SEQ_BITS) | (uintptr_t)s;
        int rc = eddy_loop_add_callback(st.loop, stress_cb, (void *)v);
        if (rc != 0) {
            st.add_rc[t] = rc;
            break;
        }
    }
    return NULL;
}

static bool stress_done(void *arg)
{
    (void)arg;
    return st.total >= NTHREADS * PER_THREAD;
}

static void c4_2_eight_threads_nothing_lost_fifo_per_thread(void **state)
{
    /* SPEC §4.2: whatever the number of threads adding at once, each
     * thread's callbacks run in its order, none lost or run twice. */
    eddy_loop *loop = *state;
    begin();
    memset(&st, 0, sizeof(st));
    st.loop = loop;
    pthread_t th[NTHREADS];
    for (uintptr_t t = 0; t < NTHREADS; t++) {
        assert_int_equal(pthread_create(&th[t], NULL, stress_main,
                                        (void *)t), 0);
    }
    bool done = eddy_h_run_until(loop, stress_done, NULL, 55.0);
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
    }
    assert_true(done);
    run_for(loop, 0.02);
    for (int t = 0; t < NTHREADS; t++) {
        assert_int_equal(st.add_rc[t], 0);
        assert_int_equal(st.next[t], PER_THREAD);
    }
    assert_int_equal(st.bad, 0);
    assert_int_equal(st.total, NTHREADS * PER_THREAD);
}

/* --- §4.3 cross-thread wake-up ------------------------------------------- */

typedef int (*add_fn)(eddy_loop *, eddy_callback_cb, void *);

#define WAKE_ROUNDS 3

struct waker {
    eddy_loop *loop;
    add_fn add;
    double sent[WAKE_ROUNDS];
    double ran[WAKE_ROUNDS];
    atomic_int rounds_run;
    int rc[WAKE_ROUNDS];
    bool off_thread;
};

static int woke_cb(eddy_loop *loop, void *arg)
{
    struct waker *w = arg;
    int k = atomic_load(&w->rounds_run);
    w->ran[k] = eddy_h_now();
    if (!on_case_thread()) {
        w->off_thread = true;
    }
    atomic_store(&w->rounds_run, k + 1);
    return k + 1 == WAKE_ROUNDS ? eddy_loop_stop(loop) : 0;
}

/* Each round: let the loop fall asleep in poll (nothing queued, no timer),
 * then add one callback from this thread. */
static void *waker_main(void *arg)
{
    struct waker *w = arg;
    for (int k = 0; k < WAKE_ROUNDS; k++) {
        eddy_h_sleep(0.15);
        w->sent[k] = eddy_h_now();
        w->rc[k] = w->add(w->loop, woke_cb, w);
        if (w->rc[k] != 0) {
            return NULL;
        }
        double give_up = eddy_h_now() + eddy_h_late_bound() + 3;
        while (atomic_load(&w->rounds_run) <= k && eddy_h_now() < give_up) {
            eddy_h_sleep(0.001);
        }
    }
    return NULL;
}

static void check_foreign_wakeup(eddy_loop *loop, add_fn add)
{
    struct waker w = {.loop = loop, .add = add};
    struct watchdog dog;
    atomic_init(&w.rounds_run, 0);
    watchdog_arm(&dog, loop, WAKE_ROUNDS * 0.15 + eddy_h_late_bound() + 4);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, waker_main, &w), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    pthread_join(th, NULL);
    watchdog_disarm(&dog, loop);
    assert_false(dog.fired);
    assert_int_equal(atomic_load(&w.rounds_run), WAKE_ROUNDS);
    assert_false(w.off_thread);
    for (int k = 0; k < WAKE_ROUNDS; k++) {
        assert_int_equal(w.rc[k], 0);
        double delay = w.ran[k] - w.sent[k];
        if (delay > eddy_h_late_bound() + 1.0) {
            fail_msg("round %d: callback ran %.3f s after it was added", k,
                     delay);
        }
    }
}

static void c4_3_foreign_thread_wakes_loop_blocked_in_poll(void **state)
{
    /* SPEC §4.3: a call from another thread wakes a loop blocked in poll,
     * so the callback runs without waiting for a timeout or an fd. */
    eddy_loop *loop = *state;
    begin();
    check_foreign_wakeup(loop, eddy_loop_add_callback);
}

static void *add_three(void *arg)
{
    eddy_loop *loop = *(eddy_loop **)arg;
    static struct rec r[3] = {{.name = "f1"}, {.name = "f2"}, {.name = "f3"}};
    for (int i = 0; i < 3; i++) {
        if (eddy_loop_add_callback(loop, rec_cb, &r[i]) != 0) {
            break;
        }
    }
    return NULL;
}

static bool trace_has_three(void *arg)
{
    (void)arg;
    return strcmp(eddy_h_trace_str(&tr), "f1 f2 f3") == 0;
}

static void c4_3_foreign_thread_adds_while_loop_stopped(void **state)
{
    /* SPEC §4.3: add_callback may be called from any thread at any time,
     * also while the loop is not running; the callbacks run on the loop
     * thread once it runs. */
    eddy_loop *loop = *state;
    begin();
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, add_three, &loop), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_string_equal(eddy_h_trace_str(&tr), "");
    assert_true(eddy_h_run_until(loop, trace_has_three, NULL, 5.0));
}

/* --- §4.4 closed loops --------------------------------------------------- */

struct late_add {
    eddy_loop *loop;
    struct rec *r;
    int rc;
};

static void *add_after_close(void *arg)
{
    struct late_add *a = arg;
    a->rc = eddy_loop_add_callback(a->loop, rec_cb, a->r);
    return NULL;
}

static void c4_4_closed_loop_refuses_callbacks(void **state)
{
    /* SPEC §4.4: add_callback on a closed loop returns -ESHUTDOWN and the
     * callback never runs. */
    eddy_loop *loop = *state;
    begin();
    struct rec pending = {.name = "pending"};
    struct rec late = {.name = "late"};
    assert_int_equal(eddy_loop_add_callback(loop, rec_cb, &pending), 0);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_loop_add_callback(loop, rec_cb, &late), -ESHUTDOWN);
    assert_int_equal(eddy_loop_spawn_callback(loop, rec_cb, &late),
                     -ESHUTDOWN);
    assert_int_equal(eddy_loop_add_callback_from_signal(loop, rec_cb, &late),
                     -ESHUTDOWN);
    struct late_add a = {loop, &late, 1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, add_after_close, &a), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(a.rc, -ESHUTDOWN);
    assert_int_equal(eddy_loop_start(loop), -ESHUTDOWN);
    assert_int_equal(pending.runs + late.runs, 0);
    assert_string_equal(eddy_h_trace_str(&tr), "");
}

#define NRACERS 4

struct racer {
    eddy_loop *loop;
    atomic_long *ran;
    long ok;
    long shut;
    long ok_after_shut;
    long other;
};

static int race_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    atomic_fetch_add((atomic_long *)arg, 1);
    return 0;
}

/* Add until the loop is closed, then keep trying for a while: once
 * -ESHUTDOWN is seen, every later call must see it too. */
static void *racer_main(void *arg)
{
    struct racer *r = arg;
    long tail = 0;
    while (tail < 1000) {
        int rc = eddy_loop_add_callback(r->loop, race_cb, r->ran);
        if (rc == 0 && r->shut == 0) {
            r->ok++;
        } else if (rc == 0) {
            r->ok_after_shut++;
        } else if (rc == -ESHUTDOWN) {
            r->shut++;
        } else {
            r->other++;
        }
        tail += (r->shut > 0 || r->other > 0);
    }
    return NULL;
}

static bool enough_ran(void *arg)
{
    return atomic_load((atomic_long *)arg) >= 2000;
}

static void c4_4_add_callback_racing_close(void **state)
{
    /* SPEC §4.4: threads adding while the loop closes each get 0 (the
     * callback then runs or is discarded) or -ESHUTDOWN (it never runs). */
    eddy_loop *loop = *state;
    begin();
    atomic_long ran;
    atomic_init(&ran, 0);
    struct racer r[NRACERS];
    pthread_t th[NRACERS];
    for (int i = 0; i < NRACERS; i++) {
        r[i] = (struct racer){.loop = loop, .ran = &ran};
        assert_int_equal(pthread_create(&th[i], NULL, racer_main, &r[i]), 0);
    }
    bool ok = eddy_h_run_until(loop, enough_ran, &ran, 10.0);
    int close_rc = eddy_loop_close(loop, false);
    long ran_at_close = atomic_load(&ran);
    for (int i = 0; i < NRACERS; i++) {
        pthread_join(th[i], NULL);
    }
    assert_true(ok);
    assert_int_equal(close_rc, 0);
    assert_int_equal(eddy_loop_start(loop), -ESHUTDOWN);
    long accepted = 0;
    for (int i = 0; i < NRACERS; i++) {
        assert_int_equal(r[i].other, 0);
        assert_int_equal(r[i].ok_after_shut, 0);
        assert_true(r[i].shut >= 1000);
        accepted += r[i].ok;
    }
    assert_int_equal(atomic_load(&ran), ran_at_close);
    assert_true(ran_at_close <= accepted);
}

/* --- §4.5 spawn_callback ------------------------------------------------- */

static void c4_5_spawn_callback_is_add_callback(void **state)
{
    /* SPEC §4.5: spawn_callback is exactly add_callback: never synchronous,
     * one FIFO with add_callback. */
    eddy_loop *loop = *state;
    begin();
    static struct rec r[10];
    static char names[10][4];
    for (int i = 0; i < 10; i++) {
        snprintf(names[i], sizeof(names[i]), "%d", i);
        r[i] = (struct rec){.name = names[i]};
        add_fn add = i % 2 ? eddy_loop_spawn_callback : eddy_loop_add_callback;
        assert_int_equal(add(loop, rec_cb, &r[i]), 0);
        assert_int_equal(r[i].runs, 0);
    }
    assert_true(eddy_h_run_until(loop, rec_ran, &r[9], 5.0));
    run_for(loop, 0.02);
    assert_string_equal(eddy_h_trace_str(&tr), "0 1 2 3 4 5 6 7 8 9");
}

static void c4_5_spawn_from_thread_wakes_blocked_loop(void **state)
{
    /* SPEC §4.5: spawn_callback from another thread wakes the loop as
     * add_callback does (§4.3). */
    eddy_loop *loop = *state;
    begin();
    check_foreign_wakeup(loop, eddy_loop_spawn_callback);
}

/* --- §4.6 add_callback_from_signal --------------------------------------- */

#define SIG_MAX (4 * EDDY_SIGNAL_QUEUE_MIN)

static eddy_loop *volatile sig_loop;
static atomic_int sig_n;                 /* handler invocations */
static int sig_rc[SIG_MAX];              /* what each add returned */
static int sig_ran[SIG_MAX];             /* loop thread only */
static int sig_total;
static bool sig_off_thread;
static volatile sig_atomic_t sig_stop;   /* the callback stops the loop */
static double sig_ran_at;

static int sig_cb(eddy_loop *loop, void *arg)
{
    intptr_t i = (intptr_t)arg;
    if (i >= 0 && i < SIG_MAX) {
        sig_ran[i]++;
    }
    sig_total++;
    sig_ran_at = eddy_h_now();
    if (!on_case_thread()) {
        sig_off_thread = true;
    }
    return sig_stop ? eddy_loop_stop(loop) : 0;
}

static void on_sigusr1(int signo)
{
    int saved = errno;
    (void)signo;
    int i = atomic_fetch_add(&sig_n, 1);
    if (i < SIG_MAX) {
        sig_rc[i] = eddy_loop_add_callback_from_signal(sig_loop, sig_cb,
                                                       (void *)(intptr_t)i);
    }
    errno = saved;
}

struct sigsave {
    struct sigaction old;
    sigset_t oldmask;
};

static void sig_setup(eddy_loop *loop, struct sigsave *s)
{
    sig_loop = loop;
    atomic_init(&sig_n, 0);
    memset(sig_rc, 0x55, sizeof(sig_rc));
    memset(sig_ran, 0, sizeof(sig_ran));
    sig_total = 0;
    sig_off_thread = false;
    sig_stop = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    assert_int_equal(sigaction(SIGUSR1, &sa, &s->old), 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &set, &s->oldmask), 0);
}

static void sig_restore(const struct sigsave *s)
{
    assert_int_equal(sigaction(SIGUSR1, &s->old, NULL), 0);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &s->oldmask, NULL), 0);
}

struct raiser {
    int count;
    int ran_before;        /* callbacks that ran before raise returned */
};

static int raise_cb(eddy_loop *loop, void *arg)
{
    struct raiser *r = arg;
    (void)loop;
    for (int i = 0; i < r->count; i++) {
        raise(SIGUSR1);
    }
    r->ran_before = sig_total;
    return 0;
}

static bool sig_total_reached(void *arg)
{
    return sig_total >= *(const int *)arg;
}

static void c4_6_signal_on_loop_thread_queues_callback(void **state)
{
    /* SPEC §4.6: add_callback_from_signal may be called from a signal
     * handler that interrupts the loop thread; its callback runs as an
     * add_callback callback would. */
    eddy_loop *loop = *state;
    begin();
    struct sigsave save;
    sig_setup(loop, &save);
    struct raiser r = {.count = 1, .ran_before = -1};
    assert_int_equal(eddy_loop_add_callback(loop, raise_cb, &r), 0);
    int want = 1;
    bool ok = eddy_h_run_until(loop, sig_total_reached, &want, 5.0);
    run_for(loop, 0.02);
    sig_restore(&save);
    assert_true(ok);
    assert_int_equal(atomic_load(&sig_n), 1);
    assert_int_equal(sig_rc[0], 0);
    assert_int_equal(r.ran_before, 0);
    assert_int_equal(sig_ran[0], 1);
    assert_false(sig_off_thread);
}

enum sig_how { TO_LOOP_THREAD, TO_PROCESS, TO_SELF };

struct sender {
    pthread_t target;
    enum sig_how how;
    int count;
    double sent_at;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    eddy_h_sleep(0.2);
    s->sent_at = eddy_h_now();
    for (int i = 0; i < s->count; i++) {
        if (s->how == TO_LOOP_THREAD) {
            pthread_kill(s->target, SIGUSR1);
        } else if (s->how == TO_PROCESS) {
            kill(getpid(), SIGUSR1);
        } else {
            pthread_kill(pthread_self(), SIGUSR1);
        }
    }
    return NULL;
}

/* The loop blocks in poll with nothing queued and no timer; a signal sent
 * as `how` says must wake it through add_callback_from_signal. */
static void check_signal_wakeup(eddy_loop *loop, enum sig_how how)
{
    struct sigsave save;
    struct watchdog dog;
    sig_setup(loop, &save);
    sig_stop = 1;
    struct sender s = {.target = pthread_self(), .how = how, .count = 1};
    watchdog_arm(&dog, loop, 0.2 + eddy_h_late_bound() + 4);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sender_main, &s), 0);
    int rc = eddy_loop_start(loop);
    pthread_join(th, NULL);
    watchdog_disarm(&dog, loop);
    sig_restore(&save);
    assert_int_equal(rc, 0);
    assert_false(dog.fired);
    assert_int_equal(atomic_load(&sig_n), 1);
    assert_int_equal(sig_rc[0], 0);
    assert_int_equal(sig_ran[0], 1);
    assert_false(sig_off_thread);
    if (sig_ran_at - s.sent_at > eddy_h_late_bound() + 1.0) {
        fail_msg("callback ran %.3f s after the signal",
                 sig_ran_at - s.sent_at);
    }
}

static void c4_6_signal_wakes_loop_blocked_in_poll(void **state)
{
    /* SPEC §4.6: called from a handler that interrupts the loop thread in
     * poll, add_callback_from_signal wakes the loop. */
    eddy_loop *loop = *state;
    begin();
    check_signal_wakeup(loop, TO_LOOP_THREAD);
}

static void c4_6_process_signal_wakes_loop(void **state)
{
    /* SPEC §4.6: a signal sent to the process (kill) from another thread,
     * handled by whichever thread, wakes the loop. */
    eddy_loop *loop = *state;
    begin();
    check_signal_wakeup(loop, TO_PROCESS);
}

static void c4_6_handler_on_other_thread_wakes_loop(void **state)
{
    /* SPEC §4.6: add_callback_from_signal from a handler running on a
     * thread other than the loop thread wakes the loop. */
    eddy_loop *loop = *state;
    begin();
    check_signal_wakeup(loop, TO_SELF);
}

static void check_each_ran_once(int n)
{
    for (int i = 0; i < n; i++) {
        if (sig_rc[i] != 0 || sig_ran[i] != 1) {
            fail_msg("signal %d: add returned %d, callback ran %d times", i,
                     sig_rc[i], sig_ran[i]);
        }
    }
}

static void c4_6_queue_holds_min_between_iterations(void **state)
{
    /* SPEC §4.6: it holds at least EDDY_SIGNAL_QUEUE_MIN callbacks between
     * two iterations. */
    eddy_loop *loop = *state;
    begin();
    struct sigsave save;
    sig_setup(loop, &save);
    struct raiser r = {.count = EDDY_SIGNAL_QUEUE_MIN, .ran_before = -1};
    assert_int_equal(eddy_loop_add_callback(loop, raise_cb, &r), 0);
    int want = EDDY_SIGNAL_QUEUE_MIN;
    bool ok = eddy_h_run_until(loop, sig_total_reached, &want, 5.0);
    run_for(loop, 0.02);
    sig_restore(&save);
    assert_true(ok);
    assert_int_equal(r.ran_before, 0);
    assert_int_equal(atomic_load(&sig_n), EDDY_SIGNAL_QUEUE_MIN);
    check_each_ran_once(EDDY_SIGNAL_QUEUE_MIN);
    assert_int_equal(sig_total, EDDY_SIGNAL_QUEUE_MIN);
    assert_false(sig_off_thread);
}

static void c4_6_many_signals_from_other_thread(void **state)
{
    /* SPEC §4.6: EDDY_SIGNAL_QUEUE_MIN signals handled on another thread
     * while the loop runs are all accepted and each callback runs once. */
    eddy_loop *loop = *state;
    begin();
    struct sigsave save;
    sig_setup(loop, &save);
    struct sender s = {.how = TO_SELF, .count = EDDY_SIGNAL_QUEUE_MIN};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sender_main, &s), 0);
    int want = EDDY_SIGNAL_QUEUE_MIN;
    bool ok = eddy_h_run_until(loop, sig_total_reached, &want, 5.0);
    pthread_join(th, NULL);
    run_for(loop, 0.02);
    sig_restore(&save);
    assert_true(ok);
    assert_int_equal(atomic_load(&sig_n), EDDY_SIGNAL_QUEUE_MIN);
    check_each_ran_once(EDDY_SIGNAL_QUEUE_MIN);
    assert_false(sig_off_thread);
}

static void c4_6_beyond_min_is_eagain_or_runs(void **state)
{
    /* SPEC §4.6: beyond EDDY_SIGNAL_QUEUE_MIN it may return -EAGAIN; a
     * callback runs exactly when its call returned 0. */
    eddy_loop *loop = *state;
    begin();
    struct sigsave save;
    sig_setup(loop, &save);
    struct raiser r = {.count = SIG_MAX, .ran_before = -1};
    assert_int_equal(eddy_loop_add_callback(loop, raise_cb, &r), 0);
    int want = EDDY_SIGNAL_QUEUE_MIN;
    bool ok = eddy_h_run_until(loop, sig_total_reached, &want, 5.0);
    run_for(loop, 0.05);
    sig_restore(&save);
    assert_true(ok);
    assert_int_equal(atomic_load(&sig_n), SIG_MAX);
    int accepted = 0;
    for (int i = 0; i < SIG_MAX; i++) {
        assert_true(sig_rc[i] == 0 || sig_rc[i] == -EAGAIN);
        assert_true(i >= EDDY_SIGNAL_QUEUE_MIN || sig_rc[i] == 0);
        assert_int_equal(sig_ran[i], sig_rc[i] == 0 ? 1 : 0);
        accepted += sig_rc[i] == 0;
    }
    assert_int_equal(sig_total, accepted);
}

static void c4_6_closed_loop_from_handler_is_eshutdown(void **state)
{
    /* SPEC §4.6: from a signal handler too, a closed loop gives -ESHUTDOWN
     * and the callback never runs. */
    eddy_loop *loop = *state;
    begin();
    struct sigsave save;
    assert_int_equal(eddy_loop_close(loop, false), 0);
    sig_setup(loop, &save);
    raise(SIGUSR1);
    sig_restore(&save);
    assert_int_equal(atomic_load(&sig_n), 1);
    assert_int_equal(sig_rc[0], -ESHUTDOWN);
    assert_int_equal(sig_total, 0);
}

/* --- §4.7 futures -------------------------------------------------------- */

static void c4_7_future_resolves_once(void **state)
{
    /* SPEC §4.7: a future is pending until resolved once; later attempts
     * return -EALREADY and do not change it. */
    (void)state;
    int a = 1;
    int b = 2;
    void *sentinel = &b;
    void *v = sentinel;
    eddy_future *f = NULL;
    assert_int_equal(eddy_future_new(NULL), -EINVAL);
    assert_int_equal(eddy_future_new(&f), 0);
    assert_non_null(f);
    assert_ptr_equal(eddy_future_retain(f), f);
    eddy_future_release(f);
    assert_false(eddy_future_done(f));
    assert_int_equal(eddy_future_result(f, &v), -EAGAIN);
    assert_ptr_equal(v, sentinel);
    assert_int_equal(eddy_future_result(f, NULL), -EAGAIN);
    assert_int_equal(eddy_future_set_result(f, &a), 0);
    assert_true(eddy_future_done(f));
    assert_int_equal(eddy_future_set_result(f, &b), -EALREADY);
    assert_int_equal(eddy_future_set_error(f, -EIO), -EALREADY);
    assert_int_equal(eddy_future_cancel(f), -EALREADY);
    assert_int_equal(eddy_future_result(f, &v), 0);
    assert_ptr_equal(v, &a);
    assert_int_equal(eddy_future_result(f, NULL), 0);
    eddy_future_release(f);
    eddy_future_release(NULL);
}

static void c4_7_error_and_cancel_outcomes(void **state)
{
    /* SPEC §4.7: a future resolved with an error or a cancellation keeps
     * that outcome; a result may be NULL. */
    (void)state;
    int x = 0;
    void *v = &x;
    eddy_future *f[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(eddy_future_new(&f[i]), 0);
    }
    assert_int_equal(eddy_future_set_error(f[0], 0), -EINVAL);
    assert_int_equal(eddy_future_set_error(f[0], 5), -EINVAL);
    assert_false(eddy_future_done(f[0]));
    assert_int_equal(eddy_future_set_error(f[0], -EIO), 0);
    assert_int_equal(eddy_future_cancel(f[1]), 0);
    assert_int_equal(eddy_future_set_result(f[2], NULL), 0);
    for (int i = 0; i < 3; i++) {
        assert_true(eddy_future_done(f[i]));
        assert_int_equal(eddy_future_set_result(f[i], &x), -EALREADY);
        assert_int_equal(eddy_future_set_error(f[i], -EPIPE), -EALREADY);
        assert_int_equal(eddy_future_cancel(f[i]), -EALREADY);
    }
    assert_int_equal(eddy_future_result(f[0], &v), -EIO);
    assert_int_equal(eddy_future_result(f[1], &v), -ECANCELED);
    assert_ptr_equal(v, &x);
    assert_int_equal(eddy_future_result(f[2], &v), 0);
    assert_null(v);
    for (int i = 0; i < 3; i++) {
        eddy_future_release(f[i]);
    }
}

#define NRESOLVERS 8

struct resolver {
    eddy_future *f;
    pthread_barrier_t *go;
    int index;
    int rc;
    int seen_rc;
    void *seen;
};
static int resolver_values[NRESOLVERS];

static void *resolver_main(void *arg)
{
    struct resolver *r = arg;
    pthread_barrier_wait(r->go);
    if (r->index < NRESOLVERS - 2) {
        r->rc = eddy_future_set_result(r->f, &resolver_values[r->index]);
    } else {
        r->rc = eddy_future_cancel(r->f);
    }
    while (!eddy_future_done(r->f)) {
        eddy_h_sleep(0.0001);
    }
    r->seen_rc = eddy_future_result(r->f, &r->seen);
    eddy_future_release(r->f);
    return NULL;
}

static void c4_7_any_thread_resolves_and_reads(void **state)
{
    /* SPEC §4.7: any thread may resolve or read a future; of several
     * racing resolvers exactly one wins and all readers see its outcome. */
    (void)state;
    for (int round = 0; round < 20; round++) {
        eddy_future *f = NULL;
        pthread_barrier_t go;
        struct resolver r[NRESOLVERS];
        pthread_t th[NRESOLVERS];
        assert_int_equal(eddy_future_new(&f), 0);
        assert_int_equal(pthread_barrier_init(&go, NULL, NRESOLVERS), 0);
        for (int i = 0; i < NRESOLVERS; i++) {
            r[i] = (struct resolver){eddy_future_retain(f), &go, i, 1, 1, NULL};
            assert_int_equal(pthread_create(&th[i], NULL, resolver_main, &r[i]),
                             0);
        }
        int winner = -1;
        for (int i = 0; i < NRESOLVERS; i++) {
            pthread_join(th[i], NULL);
            assert_true(r[i].rc == 0 || r[i].rc == -EALREADY);
            if (r[i].rc == 0) {
                assert_int_equal(winner, -1);
                winner = i;
            }
        }
        assert_true(winner >= 0);
        void *v = NULL;
        int want_rc = winner < NRESOLVERS - 2 ? 0 : -ECANCELED;
        assert_int_equal(eddy_future_result(f, &v), want_rc);
        for (int i = 0; i < NRESOLVERS; i++) {
            assert_int_equal(r[i].seen_rc, want_rc);
            if (want_rc == 0) {
                assert_ptr_equal(r[i].seen, &resolver_values[winner]);
            }
        }
        pthread_barrier_destroy(&go);
        eddy_future_release(f);
    }
}

/* --- §4.8 add_future ----------------------------------------------------- */

struct fwatch {
    int runs;
    uintptr_t future_seen;
    eddy_loop *loop_seen;
    bool off_thread;
    int result_rc;
    void *value;
};

static int fwatch_cb(eddy_loop *loop, eddy_future *f, void *arg)
{
    struct fwatch *w = arg;
    w->runs++;
    w->future_seen = (uintptr_t)f;
    w->loop_seen = loop;
    w->off_thread = !on_case_thread();
    w->value = NULL;
    w->result_rc = eddy_future_result(f, &w->value);
    eddy_h_trace(&tr, "F");
    return 0;
}

static bool fwatch_ran(void *arg)
{
    return ((const struct fwatch *)arg)->runs > 0;
}

static void check_fwatch(const struct fwatch *w, eddy_loop *loop,
                         const eddy_future *f, int rc, const void *value)
{
    assert_int_equal(w->runs, 1);
    assert_true(w->future_seen == (uintptr_t)f);
    assert_ptr_equal(w->loop_seen, loop);
    assert_false(w->off_thread);
    assert_int_equal(w->result_rc, rc);
    if (rc == 0) {
        assert_ptr_equal(w->value, value);
    }
}

static void c4_8_done_future_runs_callback_later(void **state)
{
    /* SPEC §4.8: add_future runs cb once on the loop thread, never inside
     * add_future even for a future already done, and keeps the future
     * alive until then. */
    eddy_loop *loop = *state;
    begin();
    int x = 7;
    struct fwatch w = {0};
    eddy_future *f = NULL;
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_future_set_result(f, &x), 0);
    assert_int_equal(eddy_loop_add_future(loop, f, fwatch_cb, &w), 0);
    assert_int_equal(w.runs, 0);
    uintptr_t id = (uintptr_t)f;
    eddy_future_release(f); /* the loop's reference keeps it alive */
    assert_true(eddy_h_run_until(loop, fwatch_ran, &w, 5.0));
    run_for(loop, 0.02);
    assert_true(w.future_seen == id);
    check_fwatch(&w, loop, (const eddy_future *)id, 0, &x);
}

struct resolve_in_cb {
    eddy_future *f;
    struct fwatch *w;
    int rc;
    int runs_after;
};

static int resolve_cb(eddy_loop *loop, void *arg)
{
    struct resolve_in_cb *r = arg;
    (void)loop;
    r->rc = eddy_future_cancel(r->f);
    r->runs_after = r->w[0].runs + r->w[1].runs;
    return 0;
}

static bool both_ran(void *arg)
{
    const struct fwatch *w = arg;
    return w[0].runs > 0 && w[1].runs > 0;
}

static void c4_8_pending_future_runs_callbacks_after_resolution(void **state)
{
    /* SPEC §4.8: each callback of a pending future runs once, in an
     * iteration after it is done, never inside the call that resolves it. */
    eddy_loop *loop = *state;
    begin();
    struct fwatch w[2] = {{0}, {0}};
    eddy_future *f = NULL;
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_loop_add_future(loop, f, fwatch_cb, &w[0]), 0);
    assert_int_equal(eddy_loop_add_future(loop, f, fwatch_cb, &w[1]), 0);
    run_for(loop, 0.05);
    assert_int_equal(w[0].runs + w[1].runs, 0);
    struct resolve_in_cb r = {.f = f, .w = w, .rc = 1, .runs_after = -1};
    assert_int_equal(eddy_loop_add_callback(loop, resolve_cb, &r), 0);
    assert_true(eddy_h_run_until(loop, both_ran, w, 5.0));
    run_for(loop, 0.02);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.runs_after, 0);
    check_fwatch(&w[0], loop, f, -ECANCELED, NULL);
    check_fwatch(&w[1], loop, f, -ECANCELED, NULL);
    eddy_future_release(f);
}

struct late_resolver {
    eddy_future *f;
    int value;
    int rc;
};

static void *late_resolver_main(void *arg)
{
    struct late_resolver *r = arg;
    eddy_h_sleep(0.05);
    r->rc = eddy_future_set_result(r->f, &r->value);
    eddy_future_release(r->f);
    return NULL;
}

static void c4_8_future_resolved_by_other_thread(void **state)
{
    /* SPEC §4.8: a future resolved on another thread runs its callback on
     * the loop thread. */
    eddy_loop *loop = *state;
    begin();
    struct fwatch w = {0};
    eddy_future *f = NULL;
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_loop_add_future(loop, f, fwatch_cb, &w), 0);
    struct late_resolver r = {.f = eddy_future_retain(f), .value = 3, .rc = 1};
    uintptr_t id = (uintptr_t)f;
    eddy_future_release(f);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, late_resolver_main, &r), 0);
    bool ok = eddy_h_run_until(loop, fwatch_ran, &w, 5.0);
    pthread_join(th, NULL);
    assert_true(ok);
    run_for(loop, 0.02);
    assert_int_equal(r.rc, 0);
    check_fwatch(&w, loop, (const eddy_future *)id, 0, &r.value);
}

struct foreign_add {
    eddy_loop *loop;
    eddy_future *f;
    struct fwatch *w;
    int rc;
};

static void *foreign_add_future(void *arg)
{
    struct foreign_add *a = arg;
    a->rc = eddy_loop_add_future(a->loop, a->f, fwatch_cb, a->w);
    return NULL;
}

static void c4_8_add_future_bad_calls(void **state)
{
    /* SPEC §4.8: a failed add_future (NULL future or cb, another thread
     * while the loop runs, a closed loop) never runs its callback. */
    eddy_loop *loop = *state;
    begin();
    struct fwatch w = {0};
    eddy_future *f = NULL;
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_future_set_result(f, NULL), 0);
    assert_int_equal(eddy_loop_add_future(loop, NULL, fwatch_cb, &w), -EINVAL);
    assert_int_equal(eddy_loop_add_future(loop, f, NULL, &w), -EINVAL);
    struct foreign_add a = {loop, f, &w, 1};
    off_thread_while_running(loop, foreign_add_future, &a);
    assert_int_equal(a.rc, -EPERM);
    run_for(loop, 0.05);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_loop_add_future(loop, f, fwatch_cb, &w), -ESHUTDOWN);
    assert_int_equal(w.runs, 0);
    eddy_future_release(f);
}

static void c4_8_close_discards_pending_future_callback(void **state)
{
    /* SPEC §4.8: a registration discarded by close never runs, even when
     * the future is resolved afterwards. */
    eddy_loop *loop = *state;
    begin();
    struct fwatch w = {0};
    eddy_future *f = NULL;
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_loop_add_future(loop, f, fwatch_cb, &w), 0);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_future_set_result(f, &w), 0);
    assert_int_equal(w.runs, 0);
    eddy_future_release(f);
}

/* --- §4.9-§4.11 executors ------------------------------------------------ */

static _Thread_local int worker_tag;

struct job {
    int tag_set;        /* mark the worker thread with this tag */
    int tag_seen;       /* the worker's tag when the job began */
    int fail;           /* return this error instead of a result */
    double nap;
    int in;
    atomic_int runs;
    bool on_loop_thread;
};

static int work_cb(void *arg, void **result)
{
    struct job *j = arg;
    atomic_fetch_add(&j->runs, 1);
    j->on_loop_thread = on_case_thread();
    j->tag_seen = worker_tag;
    if (j->tag_set != 0) {
        worker_tag = j->tag_set;
    }
    if (j->nap > 0) {
        eddy_h_sleep(j->nap);
    }
    if (j->fail != 0) {
        return j->fail;
    }
    *result = &j->in;
    return 0;
}

struct futs {
    eddy_future **f;
    int n;
};

static bool all_done(void *arg)
{
    const struct futs *fs = arg;
    for (int i = 0; i < fs->n; i++) {
        if (!eddy_future_done(fs->f[i])) {
            return false;
        }
    }
    return true;
}

static void submit(eddy_loop *loop, eddy_executor *e, struct job *j,
                   eddy_future **out)
{
    atomic_init(&j->runs, 0);
    *out = NULL;
    assert_int_equal(eddy_loop_run_in_executor(loop, e, work_cb, j, out), 0);
    assert_non_null(*out);
}

/* Wait for n futures, check each job ran once off the loop thread and its
 * future holds &job.in (or its error), then release the futures. */
static void finish_jobs(eddy_loop *loop, struct job *j, eddy_future **f,
                        int n)
{
    struct futs fs = {f, n};
    assert_true(eddy_h_run_until(loop, all_done, &fs, 10.0));
    for (int i = 0; i < n; i++) {
        void *v = NULL;
        assert_int_equal(atomic_load(&j[i].runs), 1);
        assert_false(j[i].on_loop_thread);
        assert_int_equal(eddy_future_result(f[i], &v), j[i].fail);
        if (j[i].fail == 0) {
            assert_ptr_equal(v, &j[i].in);
        } else {
            assert_null(v);
        }
        eddy_future_release(f[i]);
    }
}

static void c4_9_runs_on_a_thread_of_the_given_executor(void **state)
{
    /* SPEC §4.9: run_in_executor runs fn on a thread of the executor and
     * resolves the returned future with fn's result. */
    eddy_loop *loop = *state;
    begin();
    eddy_executor *e = NULL;
    assert_int_equal(eddy_executor_new(1, &e), 0);
    struct job j[5] = {{.tag_set = 41}};
    eddy_future *f[5];
    submit(loop, e, &j[0], &f[0]);
    finish_jobs(loop, j, f, 1);
    /* One worker: every later job runs on the thread the first marked. */
    for (int i = 1; i < 5; i++) {
        submit(loop, e, &j[i], &f[i]);
    }
    finish_jobs(loop, j + 1, f + 1, 4);
    for (int i = 1; i < 5; i++) {
        assert_int_equal(j[i].tag_seen, 41);
    }
    eddy_executor_free(e);
}

#define NJOBS 12

static void c4_9_default_executor_when_null(void **state)
{
    /* SPEC §4.9: with a NULL executor the loop's default executor runs fn,
     * off the loop thread. */
    eddy_loop *loop = *state;
    begin();
    static struct job j[NJOBS];
    eddy_future *f[NJOBS];
    memset(j, 0, sizeof(j));
    for (int i = 0; i < NJOBS; i++) {
        j[i].nap = 0.002;
        submit(loop, NULL, &j[i], &f[i]);
        for (int k = 0; k < i; k++) {
            assert_true(f[k] != f[i]);
        }
    }
    finish_jobs(loop, j, f, NJOBS);
}

static void c4_9_work_error_resolves_future_with_error(void **state)
{
    /* SPEC §4.9: the future is resolved with fn's error when fn fails. */
    eddy_loop *loop = *state;
    begin();
    eddy_executor *e = NULL;
    assert_int_equal(eddy_executor_new(2, &e), 0);
    struct job j[3] = {{.fail = -EIO}, {.fail = -ENOSPC}, {.fail = 0}};
    eddy_future *f[3];
    submit(loop, e, &j[0], &f[0]);
    submit(loop, NULL, &j[1], &f[1]);
    submit(loop, e, &j[2], &f[2]);
    struct fwatch w = {0};
    assert_int_equal(eddy_loop_add_future(loop, f[0], fwatch_cb, &w), 0);
    struct futs fs = {f, 3};
    assert_true(eddy_h_run_until(loop, all_done, &fs, 10.0));
    assert_true(eddy_h_run_until(loop, fwatch_ran, &w, 5.0));
    check_fwatch(&w, loop, f[0], -EIO, NULL);
    finish_jobs(loop, j, f, 3);
    eddy_executor_free(e);
}

struct foreign_run {
    eddy_loop *loop;
    struct job *j;
    eddy_future *out;
    int rc;
};

static void *foreign_run_in_executor(void *arg)
{
    struct foreign_run *r = arg;
    r->rc = eddy_loop_run_in_executor(r->loop, NULL, work_cb, r->j, &r->out);
    return NULL;
}

static void c4_9_bad_calls_run_nothing(void **state)
{
    /* SPEC §4.9: a run_in_executor that fails (NULL fn or out, another
     * thread while the loop runs, a closed loop) runs nothing. */
    eddy_loop *loop = *state;
    begin();
    struct job j = {0};
    atomic_init(&j.runs, 0);
    eddy_future *sentinel = (eddy_future *)&j;
    eddy_future *out = sentinel;
    assert_int_equal(eddy_loop_run_in_executor(loop, NULL, NULL, &j, &out),
                     -EINVAL);
    assert_ptr_equal(out, sentinel);
    assert_int_equal(eddy_loop_run_in_executor(loop, NULL, work_cb, &j, NULL),
                     -EINVAL);
    eddy_executor *e = (eddy_executor *)&j;
    assert_int_equal(eddy_executor_new(0, &e), -EINVAL);
    assert_ptr_equal(e, (eddy_executor *)&j);
    assert_int_equal(eddy_executor_new(1, NULL), -EINVAL);
    eddy_executor_free(NULL);
    struct foreign_run r = {loop, &j, sentinel, 1};
    off_thread_while_running(loop, foreign_run_in_executor, &r);
    assert_int_equal(r.rc, -EPERM);
    assert_ptr_equal(r.out, sentinel);
    run_for(loop, 0.05);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_loop_run_in_executor(loop, NULL, work_cb, &j, &out),
                     -ESHUTDOWN);
    assert_ptr_equal(out, sentinel);
    eddy_h_sleep(0.02);
    assert_int_equal(atomic_load(&j.runs), 0);
}

static void c4_9_executor_free_finishes_submitted_jobs(void **state)
{
    /* SPEC §4.9: freeing an executor finishes every job submitted to it
     * and resolves their futures. */
    eddy_loop *loop = *state;
    begin();
    eddy_executor *e = NULL;
    assert_int_equal(eddy_executor_new(1, &e), 0);
    struct job j[5];
    eddy_future *f[5];
    memset(j, 0, sizeof(j));
    for (int i = 0; i < 5; i++) {
        j[i].nap = 0.02;
        submit(loop, e, &j[i], &f[i]);
    }
    eddy_executor_free(e);
    for (int i = 0; i < 5; i++) {
        void *v = NULL;
        assert_true(eddy_future_done(f[i]));
        assert_int_equal(eddy_future_result(f[i], &v), 0);
        assert_ptr_equal(v, &j[i].in);
        assert_int_equal(atomic_load(&j[i].runs), 1);
        eddy_future_release(f[i]);
    }
}

/* Run one job through NULL and return the worker tag it saw. */
static int tag_of_default(eddy_loop *loop)
{
    struct job j = {0};
    eddy_future *f = NULL;
    submit(loop, NULL, &j, &f);
    finish_jobs(loop, &j, &f, 1);
    return j.tag_seen;
}

static void mark_executor(eddy_loop *loop, eddy_executor *e, int tag)
{
    struct job j = {.tag_set = tag};
    eddy_future *f = NULL;
    submit(loop, e, &j, &f);
    finish_jobs(loop, &j, &f, 1);
}

static void c4_10_set_default_executor_redirects_null(void **state)
{
    /* SPEC §4.10: set_default_executor makes run_in_executor(NULL) use
     * that executor from then on. */
    eddy_loop *loop = *state;
    begin();
    eddy_executor *e = NULL;
    assert_int_equal(eddy_executor_new(1, &e), 0);
    mark_executor(loop, e, 42);
    assert_true(tag_of_default(loop) != 42);
    assert_int_equal(eddy_loop_set_default_executor(loop, e), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tag_of_default(loop), 42);
    }
    assert_int_equal(eddy_loop_close(loop, false), 0);
    eddy_executor_free(e);
}

struct foreign_set {
    eddy_loop *loop;
    eddy_executor *e;
    int rc;
};

static void *foreign_set_default(void *arg)
{
    struct foreign_set *s = arg;
    s->rc = eddy_loop_set_default_executor(s->loop, s->e);
    return NULL;
}

static void c4_10_set_default_executor_bad_calls(void **state)
{
    /* SPEC §4.10: a refused set_default_executor (NULL, another thread
     * while the loop runs, a closed loop) leaves the default unchanged. */
    eddy_loop *loop = *state;
    begin();
    eddy_executor *e = NULL;
    assert_int_equal(eddy_executor_new(1, &e), 0);
    mark_executor(loop, e, 99);
    assert_int_equal(eddy_loop_set_default_executor(loop, NULL), -EINVAL);
    struct foreign_set s = {loop, e, 1};
    off_thread_while_running(loop, foreign_set_default, &s);
    assert_int_equal(s.rc, -EPERM);
    assert_true(tag_of_default(loop) != 99);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    assert_int_equal(eddy_loop_set_default_executor(loop, e), -ESHUTDOWN);
    eddy_executor_free(e);
}

static void c4_11_default_executor_runs_jobs_off_loop_thread(void **state)
{
    /* SPEC §4.11: the default executor's size is implementation-defined
     * (checked here: it exists, runs every job once, off the loop thread,
     * also several in flight at once). */
    eddy_loop *loop = *state;
    begin();
    static struct job j[20];
    eddy_future *f[20];
    memset(j, 0, sizeof(j));
    for (int i = 0; i < 20; i++) {
        j[i].nap = 0.005;
        submit(loop, NULL, &j[i], &f[i]);
    }
    finish_jobs(loop, j, f, 20);
}

static const struct eddy_case cases[] = {
    EDDY_CASE_LOOP(c4_1_add_callback_never_synchronous, "2.13"),
    EDDY_CASE_LOOP(c4_1_null_callback_is_einval, "1.3 1.8 4.5 4.6"),
    EDDY_CASE_LOOP(c4_2_callbacks_run_in_order_added, "4.1"),
    EDDY_CASE_LOOP(c4_2_eight_threads_nothing_lost_fifo_per_thread, "4.3"),
    EDDY_CASE_LOOP(c4_3_foreign_thread_wakes_loop_blocked_in_poll, "4.1"),
    EDDY_CASE_LOOP(c4_3_foreign_thread_adds_while_loop_stopped, "4.2"),
    EDDY_CASE_LOOP(c4_4_closed_loop_refuses_callbacks, "1.7 2.10 4.5 4.6"),
    EDDY_CASE_LOOP(c4_4_add_callback_racing_close, "1.7"),
    EDDY_CASE_LOOP(c4_5_spawn_callback_is_add_callback, "4.1 4.2"),
    EDDY_CASE_LOOP(c4_5_spawn_from_thread_wakes_blocked_loop, "4.3"),
    EDDY_CASE_LOOP(c4_6_signal_on_loop_thread_queues_callback, "4.1"),
    EDDY_CASE_LOOP(c4_6_signal_wakes_loop_blocked_in_poll, ""),
    EDDY_CASE_LOOP(c4_6_process_signal_wakes_loop, ""),
    EDDY_CASE_LOOP(c4_6_handler_on_other_thread_wakes_loop, ""),
    EDDY_CASE_LOOP(c4_6_queue_holds_min_between_iterations, ""),
    EDDY_CASE_LOOP(c4_6_many_signals_from_other_thread, ""),
    EDDY_CASE_LOOP(c4_6_beyond_min_is_eagain_or_runs, "1.3"),
    EDDY_CASE_LOOP(c4_6_closed_loop_from_handler_is_eshutdown, "1.7"),
    EDDY_CASE(c4_7_future_resolves_once, "1.2 1.8"),
    EDDY_CASE(c4_7_error_and_cancel_outcomes, "1.2"),
    EDDY_CASE(c4_7_any_thread_resolves_and_reads, ""),
    EDDY_CASE_LOOP(c4_8_done_future_runs_callback_later, ""),
    EDDY_CASE_LOOP(c4_8_pending_future_runs_callbacks_after_resolution, ""),
    EDDY_CASE_LOOP(c4_8_future_resolved_by_other_thread, "4.7"),
    EDDY_CASE_LOOP(c4_8_add_future_bad_calls, "1.3 1.6 1.7 1.8"),
    EDDY_CASE_LOOP(c4_8_close_discards_pending_future_callback, "2.10"),
    EDDY_CASE_LOOP(c4_9_runs_on_a_thread_of_the_given_executor, ""),
    EDDY_CASE_LOOP(c4_9_default_executor_when_null, "4.11"),
    EDDY_CASE_LOOP(c4_9_work_error_resolves_future_with_error, "4.8"),
    EDDY_CASE_LOOP(c4_9_bad_calls_run_nothing, "1.2 1.3 1.6 1.7 1.8"),
    EDDY_CASE_LOOP(c4_9_executor_free_finishes_submitted_jobs, ""),
    EDDY_CASE_LOOP(c4_10_set_default_executor_redirects_null, "4.9"),
    EDDY_CASE_LOOP(c4_10_set_default_executor_bad_calls, "1.6 1.7 1.8"),
    EDDY_CASE_LOOP(c4_11_default_executor_runs_jobs_off_loop_thread, "4.9"),
};

EDDY_SECTION(s04, "4", "Callbacks, futures and executors", cases);
