/* impl/periodic.c - SPEC §6 PeriodicCallback.
 *
 * Key decision: one loop timeout per pending call, re-armed after each call
 * from the *scheduled* time by the pure rule eddy_periodic_next (SPEC §6.5),
 * so overruns skip grid points instead of bursting. A start generation lets
 * the firing code notice stop/start/free done from inside the callback.
 */
#include "eddy/periodic.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "eddy.h"
#include "internal.h"

struct eddy_periodic {
    eddy_loop *loop;       /* given to new(); NULL: current loop at start */
    eddy_loop *bound;      /* the loop the last start() used */
    double period_ms;
    double jitter;
    eddy_callback_cb cb;
    void *arg;
    double next;           /* scheduled time of the pending call */
    eddy_timeout timer;    /* 0 when no call is pending */
    uint64_t generation;   /* bumped by every successful start() */
    bool running;
    bool in_callback;
    bool free_pending;     /* freed from inside its own callback */
};

/* --- jitter randomness (SPEC §6.6) --------------------------------------- */

static pthread_mutex_t random_lock = PTHREAD_MUTEX_INITIALIZER;
static eddy__random_fn random_fn;
static void *random_arg;

/* Per-thread xorshift64* state, so the default needs no lock. */
static _Thread_local uint64_t rng_state;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double default_random(void)
{
    if (rng_state == 0) {
        struct timespec ts = {0, 0};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t seed = (uint64_t)ts.tv_sec * 1000000000u
                        + (uint64_t)ts.tv_nsec;
        seed ^= (uint64_t)getpid() << 32;
        seed ^= (uint64_t)(uintptr_t)&rng_state;
        rng_state = mix64(seed) | 1u; /* xorshift must not start at 0 */
    }
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t x = rng_state * 0x2545f4914f6cdd1du;
    return (double)(x >> 11) * 0x1.0p-53; /* 53 random bits in [0, 1) */
}

void eddy__periodic_set_random(eddy__random_fn fn, void *arg)
{
    pthread_mutex_lock(&random_lock);
    random_fn = fn;
    random_arg = arg;
    pthread_mutex_unlock(&random_lock);
}

static double next_random(void)
{
    pthread_mutex_lock(&random_lock);
    eddy__random_fn fn = random_fn;
    void *arg = random_arg;
    pthread_mutex_unlock(&random_lock);
    return fn != NULL ? fn(arg) : default_random();
}

/* --- scheduling -------------------------------------------------------- */

double eddy_periodic_next(double next_s, double now_s,
                          double callback_time_ms, double jitter, double u)
{
    double period = callback_time_ms / 1000.0;
    if (jitter != 0.0) {
        /* SPEC §6.6: uniform on [T(1 - j/2), T(1 + j/2)). */
        period *= 1.0 + jitter * (u - 0.5);
    }
    if (next_s <= now_s) {
        /* SPEC §6.5: skip every missed grid point, including one that
         * now_s sits exactly on. */
        return next_s + (floor((now_s - next_s) / period) + 1.0) * period;
    }
    /* The clock went backwards: advance one period, never repeat. */
    return next_s + period;
}

static int fire(eddy_loop *loop, void *arg);

/* Compute the next call after `now` and arm its timeout. */
static int schedule_next(eddy_periodic *p, double now)
{
    /* Tornado draws a random number only when jitter is in use. */
    double u = p->jitter != 0.0 ? next_random() : 0.0;
    p->next = eddy_periodic_next(p->next, now, p->period_ms, p->jitter, u);
    int rc = eddy_loop_call_at(p->bound, p->next, fire, p, &p->timer);
    if (rc == -ERANGE) {
        /* Too far away to represent: like an infinite period, it never
         * fires, and the periodic still counts as running. */
        p->timer = 0;
        rc = 0;
    }
    return rc;
}

/* The pending call is due. SPEC §6.3: never call a stopped periodic. */
static int fire(eddy_loop *loop, void *arg)
{
    eddy_periodic *p = arg;
    p->timer = 0;
    if (NEVER(!p->running)) {
        return 0; /* stop() removes the pending timeout */
    }
    uint64_t generation = p->generation;
    p->in_callback = true;
    int rc = p->cb(loop, p->arg);
    p->in_callback = false;
    if (rc != 0) {
        eddy__loop_report(loop, rc); /* SPEC §1.5; the schedule goes on */
    }
    if (p->free_pending) {
        eddy__free(p);
        return 0;
    }
    /* SPEC §6.9: a stop, or a stop and start, inside the callback owns
     * the schedule now; rescheduling here would leave a second chain. */
    if (p->running && p->generation == generation) {
        rc = schedule_next(p, eddy_loop_time(loop));
        if (rc != 0) {
            p->running = false;
            eddy__loop_report(loop, rc);
        }
    }
    return 0;
}

/* --- public API -------------------------------------------------------- */

int eddy_periodic_new(eddy_loop *loop, double callback_time_ms, double jitter,
                      eddy_callback_cb cb, void *arg, eddy_periodic **out)
{
    if (cb == NULL || out == NULL || !isfinite(callback_time_ms)
        || callback_time_ms <= 0.0 || !(jitter >= 0.0 && jitter <= 1.0)) {
        return -EINVAL;
    }
    eddy_periodic *p = eddy__calloc(1, sizeof(*p));
    if (p == NULL) {
        return -ENOMEM;
    }
    p->loop = loop;
    p->period_ms = callback_time_ms;
    p->jitter = jitter;
    p->cb = cb;
    p->arg = arg;
    *out = p;
    return 0;
}

int eddy_periodic_start(eddy_periodic *periodic)
{
    if (periodic == NULL) {
        return -EINVAL;
    }
    if (periodic->running) {
        return -EALREADY;
    }
    eddy_loop *loop = periodic->loop;
    /* SPEC §6.8: the loop is looked up at start, not at construction. */
    if (loop == NULL && eddy_loop_current(false, &loop) != 0) {
        return -ENOENT;
    }
    int rc = eddy__loop_check_thread(loop);
    if (rc != 0) {
        return rc;
    }
    periodic->bound = loop;
    periodic->next = eddy_loop_time(loop);
    rc = schedule_next(periodic, periodic->next);
    if (rc != 0) {
        return rc;
    }
    periodic->running = true;
    periodic->generation++;
    return 0;
}

int eddy_periodic_stop(eddy_periodic *periodic)
{
    if (periodic == NULL || !periodic->running) {
        return 0;
    }
    int rc = eddy__loop_check_thread(periodic->bound);
    if (rc == -EPERM) {
        return rc;
    }
    /* A closed loop (-ESHUTDOWN) already discarded the timeout. */
    if (rc == 0 && periodic->timer != 0) {
        (void)eddy_loop_remove_timeout(periodic->bound, periodic->timer);
    }
    periodic->timer = 0;
    periodic->running = false;
    return 0;
}

bool eddy_periodic_is_running(const eddy_periodic *periodic)
{
    return periodic != NULL && periodic->running;
}

/* Must run before eddy_loop_free of the loop it was started on: stopping
 * touches that loop (a closed but not yet freed loop is fine). */
void eddy_periodic_free(eddy_periodic *periodic)
{
    if (periodic == NULL) {
        return;
    }
    (void)eddy_periodic_stop(periodic);
    if (periodic->in_callback) {
        /* fire() still uses it: it frees it once the callback returns. */
        periodic->free_pending = true;
        return;
    }
    eddy__free(periodic);
}
