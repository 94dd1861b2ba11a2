/* impl/process.c - SPEC §7: cpu_count, fork_processes and task_id, the
 * public side. Key decision: the process-wide state (the task id, the
 * "supervising" flag) is atomic and set only after the supervisor core
 * (process_sup.c) has restored every signal and descriptor it touched.
 */
#include "eddy/process.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "process_os.h"

static atomic_int task_id = -1;
static atomic_bool busy;
static atomic_uint_fast64_t child_rng;
static const struct eddy__process_os *chosen_os;
static int64_t chosen_grace_ns = -1;

void eddy__process_set_os(const struct eddy__process_os *os, int64_t grace_ns)
{
    chosen_os = os;
    chosen_grace_ns = grace_ns;
}

int eddy_cpu_count(void)
{
    /* SPEC §7.1: processors online, as Tornado's os.cpu_count(). */
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) {
        n = sysconf(_SC_NPROCESSORS_CONF);
    }
    if (n < 1) {
        return 1;
    }
    return n > INT_MAX ? INT_MAX : (int)n;
}

int eddy_task_id(void)
{
    return atomic_load(&task_id);
}

/* splitmix64: a counter, so concurrent loop threads need no lock. */
static double child_random(void *arg)
{
    (void)arg;
    uint64_t z = atomic_fetch_add(&child_rng, 0x9e3779b97f4a7c15u) +
                 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* SPEC §7.15: the jitter generator inherited from the parent would give
 * every child the same sequence; give each child a fresh seed. */
static void reseed_child(int id)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed)) {
        struct timespec ts = {0, 0};
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
    seed ^= ((uint64_t)getpid() << 32) ^ (uint64_t)id;
    atomic_store(&child_rng, seed);
    eddy__periodic_set_random(child_random, NULL);
}

void eddy__process_reset(void)
{
    if (atomic_exchange(&task_id, -1) >= 0) {
        eddy__periodic_set_random(NULL, NULL);
    }
}

int eddy_fork_processes(int num_processes, int max_restarts)
{
    /* SPEC §7.17: Tornado asserts that it is not called twice. */
    if (atomic_load(&task_id) >= 0) {
        return -EALREADY;
    }
    if (atomic_exchange(&busy, true)) {
        return -EBUSY;
    }
    const struct eddy__process_os *os =
        chosen_os != NULL ? chosen_os : eddy__process_os_real();
    int n = num_processes > 0 ? num_processes : eddy_cpu_count();
    int max = max_restarts >= 0 ? max_restarts : EDDY__MAX_RESTARTS_DEFAULT;
    int64_t grace = chosen_grace_ns >= 0 ? chosen_grace_ns
                                         : EDDY__GRACE_NS_DEFAULT;
    struct eddy__outcome out = {EDDY__OUT_FAIL, 0};
    int err = eddy__supervise(os, n, max, grace, &out);
    atomic_store(&busy, false);
    if (err != 0) {
        return err;
    }
    switch (out.kind) {
    case EDDY__OUT_CHILD:
        atomic_store(&task_id, out.value);
        reseed_child(out.value);
        return out.value;
    case EDDY__OUT_EXIT:
        /* SPEC §7.8, §7.11: the one place where eddy ends the process. */
        os->exit(out.value, os->arg);
        return -ECANCELED; /* only a simulated exit returns */
    case EDDY__OUT_FAIL:
        break;
    }
    return out.value;
}
