/* bench/bench_eddy.c - the benchmark workloads written against eddy's
 * public binding only (spec/include), linked with the reference library.
 * Usage: bench-eddy WORKLOAD N; the workloads are listed in README.md and
 * do the same work as bench_uv.c, bench_ev.c and bench_event.c.
 */
#include <eddy.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define LIB "eddy"

static size_t target; /* callbacks the workload waits for */
static size_t done;   /* callbacks run so far */

static eddy_loop *new_loop(void)
{
    eddy_loop *loop = NULL;
    bench_check(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), "eddy_loop_new");
    return loop;
}

static void free_loop(eddy_loop *loop)
{
    bench_check(eddy_loop_free(loop), "eddy_loop_free");
}

static int count_cb(eddy_loop *loop, void *arg)
{
    (void)arg;
    return ++done == target ? eddy_loop_stop(loop) : 0;
}

/* call_at against one clock reading, as libev and libuv schedule against
 * their cached loop time; call_later would read the clock per timer. */
static void schedule_all(eddy_loop *loop, const int *delay, size_t n,
                         eddy_timeout *h)
{
    double base = eddy_loop_time(loop);
    for (size_t i = 0; i < n; i++) {
        bench_check(eddy_loop_call_at(loop, base + delay[i] / 1e3, count_cb,
                                      NULL, &h[i]),
                    "eddy_loop_call_at");
    }
}

/* The first round starts from an empty loop and an untouched handle
 * array, so its time includes all the memory the library and its caller
 * need; everything is removed again and later rounds find it in place. */
static eddy_timeout *first_round(eddy_loop *loop, const int *delay, size_t n,
                                 const char *name)
{
    int64_t t0 = bench_cpu_ns();
    eddy_timeout *h = bench_malloc(n * sizeof *h);
    schedule_all(loop, delay, n, h);
    int64_t t1 = bench_cpu_ns();
    bench_seconds(LIB, name, "schedule_cold_s", t0, t1);
    for (size_t i = 0; i < n; i++) {
        bench_check(eddy_loop_remove_timeout(loop, h[i]), "remove");
    }
    return h;
}

/* (a) n one-shot timers, then run until every one has fired. */
static void timers(size_t n)
{
    int *delay = bench_delays(n, bench_spread_ms(n));
    eddy_loop *loop = new_loop();
    eddy_timeout *h = first_round(loop, delay, n, "timers");
    target = n;
    int64_t t0 = bench_cpu_ns();
    schedule_all(loop, delay, n, h);
    int64_t t1 = bench_cpu_ns();
    int64_t c1 = bench_cpu_ns();
    bench_check(eddy_loop_start(loop), "eddy_loop_start");
    int64_t c2 = bench_cpu_ns();
    bench_seconds(LIB, "timers", "schedule_s", t0, t1);
    bench_seconds(LIB, "timers", "run_cpu_s", c1, c2);
    bench_expect(done, n, "timers fired");
    free_loop(loop);
    free(h);
    free(delay);
}

/* (b) n timers, 90% removed (every index not a multiple of 10) before
 * they fire, then the rest run; after a first round, like (a). */
static void cancel(size_t n)
{
    int *delay = bench_delays(n, bench_spread_ms(n));
    eddy_loop *loop = new_loop();
    eddy_timeout *h = first_round(loop, delay, n, "cancel");
    target = (n + 9) / 10;
    int64_t t0 = bench_cpu_ns();
    schedule_all(loop, delay, n, h);
    int64_t t1 = bench_cpu_ns();
    for (size_t i = 0; i < n; i++) {
        if (i % 10 != 0) {
            bench_check(eddy_loop_remove_timeout(loop, h[i]), "remove");
        }
    }
    int64_t t2 = bench_cpu_ns();
    int64_t c2 = bench_cpu_ns();
    bench_check(eddy_loop_start(loop), "eddy_loop_start");
    int64_t c3 = bench_cpu_ns();
    bench_seconds(LIB, "cancel", "schedule_s", t0, t1);
    bench_seconds(LIB, "cancel", "cancel_s", t1, t2);
    bench_seconds(LIB, "cancel", "run_cpu_s", c2, c3);
    bench_expect(done, (n + 9) / 10, "timers fired");
    free_loop(loop);
    free(h);
    free(delay);
}

static int chain_cb(eddy_loop *loop, void *arg)
{
    if (++done == target) {
        return eddy_loop_stop(loop);
    }
    return eddy_loop_add_callback(loop, chain_cb, arg);
}

/* (c) n callbacks, each added by the one before. eddy has one primitive:
 * add_callback, which runs in the next iteration (SPEC §4.3). */
static void chain(size_t n, const char *name)
{
    eddy_loop *loop = new_loop();
    target = n;
    int64_t t0 = bench_cpu_ns();
    bench_check(eddy_loop_add_callback(loop, chain_cb, NULL), "add_callback");
    bench_check(eddy_loop_start(loop), "eddy_loop_start");
    int64_t t1 = bench_cpu_ns();
    bench_seconds(LIB, name, "total_s", t0, t1);
    bench_expect(done, n, "callbacks run");
    free_loop(loop);
}

/* --- (d) cross-thread ---------------------------------------------------- */

static struct bench_producer producer;
/* No batch count here: the only way to see iteration boundaries through
 * the public API is to queue a callback per batch, and that callback keeps
 * the loop from ever blocking, which changes what is measured. */
static int item_cb(eddy_loop *loop, void *arg)
{
    (void)arg;
    if (++done == target) {
        bench_producer_done(&producer);
        return eddy_loop_stop(loop);
    }
    return 0;
}

static void post(void *ctx, size_t i)
{
    (void)i;
    bench_check(eddy_loop_add_callback(ctx, item_cb, NULL), "add_callback");
}

static int go_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    bench_producer_go(&producer);
    return 0;
}

static void xthread(size_t n)
{
    eddy_loop *loop = new_loop();
    target = n;
    bench_pin(0);
    bench_producer_start(&producer, n, post, loop);
    bench_check(eddy_loop_add_callback(loop, go_cb, NULL), "add_callback");
    bench_check(eddy_loop_start(loop), "eddy_loop_start");
    bench_producer_join(&producer);
    bench_producer_report(&producer, LIB, done, 0);
    free_loop(loop);
}

/* --- (e) pipe chain ------------------------------------------------------ */

static struct bench_chain pc;

static int link_cb(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)fd;
    (void)events;
    if (bench_chain_read(&pc, (int)(intptr_t)arg)) {
        return eddy_loop_stop(loop);
    }
    return 0;
}

/* Every round registers all n handlers afresh (timed apart as setup), then
 * the loop runs until every token of the round has been read. */
static void pipes(size_t n, enum bench_link kind, const char *name)
{
    eddy_loop *loop = new_loop();
    bench_chain_open(&pc, kind, (int)n, 100);
    int64_t setup = 0;
    int64_t run = 0;
    int rounds = bench_rounds();
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = bench_cpu_ns();
        for (int i = 0; i < pc.n; i++) {
            if (r > 0) {
                bench_check(eddy_loop_remove_handler(loop, pc.rfd[i]),
                            "remove_handler");
            }
            bench_check(eddy_loop_add_handler(loop, pc.rfd[i], EDDY_READ,
                                              link_cb, (void *)(intptr_t)i),
                        "add_handler");
        }
        int64_t t1 = bench_cpu_ns();
        bench_chain_begin(&pc, bench_writes());
        bench_check(eddy_loop_start(loop), "eddy_loop_start");
        int64_t t2 = bench_cpu_ns();
        setup += t1 - t0;
        run += t2 - t1;
    }
    bench_chain_report(&pc, LIB, name, setup, run);
    free_loop(loop);
    bench_chain_close(&pc);
}

/* --- equal deadlines ----------------------------------------------------- */

static struct bench_fifo fifo;

static int fifo_cb(eddy_loop *loop, void *arg)
{
    bench_fifo_ran(&fifo, (long)(intptr_t)arg);
    return fifo.ran == fifo.n ? eddy_loop_stop(loop) : 0;
}

/* Scheduled from inside a callback, as the other programs do, so libraries
 * with relative timers give equal deadlines equal keys. */
static int fifo_start(eddy_loop *loop, void *arg)
{
    (void)arg;
    double base = eddy_loop_time(loop);
    for (size_t i = 0; i < fifo.n; i++) {
        int g = (int)(i % (size_t)fifo.groups);
        bench_check(eddy_loop_call_at(loop, base + (g + 1) / 1e3, fifo_cb,
                                      (void *)(intptr_t)i, NULL),
                    "eddy_loop_call_at");
    }
    return 0;
}

static void fifo_check(size_t n)
{
    eddy_loop *loop = new_loop();
    bench_fifo_init(&fifo, n, 8);
    bench_check(eddy_loop_add_callback(loop, fifo_start, NULL), "add");
    bench_check(eddy_loop_start(loop), "eddy_loop_start");
    bench_fifo_report(&fifo, LIB);
    free_loop(loop);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s WORKLOAD N\n", argv[0]);
        return 2;
    }
    const char *w = argv[1];
    size_t n = bench_count(argv[2]);
    if (strcmp(w, "timers") == 0) {
        timers(n);
    } else if (strcmp(w, "cancel") == 0) {
        cancel(n);
    } else if (strcmp(w, "chain") == 0 || strcmp(w, "chain-next") == 0) {
        chain(n, w);
    } else if (strcmp(w, "xthread") == 0) {
        xthread(n);
    } else if (strcmp(w, "pipes") == 0) {
        pipes(n, BENCH_SOCKETPAIR, w);
    } else if (strcmp(w, "efd") == 0) {
        pipes(n, BENCH_EVENTFD, w);
    } else if (strcmp(w, "fifo") == 0) {
        fifo_check(n);
    } else {
        fprintf(stderr, "%s: unknown workload %s\n", argv[0], w);
        return 2;
    }
    bench_maxrss(LIB, w);
    return 0;
}
