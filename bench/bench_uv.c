/* bench/bench_uv.c - the benchmark workloads written against libuv, doing
 * the same work as bench_eddy.c. Usage: bench-uv WORKLOAD N. libuv has no
 * poll() backend on Linux, so the descriptor workloads run on epoll.
 */
#include <uv.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define LIB "libuv"

static size_t target;
static size_t done;

static uv_loop_t *new_loop(void)
{
    uv_loop_t *loop = bench_alloc(sizeof *loop);
    bench_check(uv_loop_init(loop), "uv_loop_init");
    return loop;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

/* Handles must be closed, and the closes run, before the loop closes. */
static void free_loop(uv_loop_t *loop)
{
    uv_walk(loop, close_walk, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    bench_check(uv_loop_close(loop), "uv_loop_close");
    free(loop);
}

static void count_cb(uv_timer_t *t)
{
    if (++done == target) {
        uv_stop(t->loop);
    }
}

/* Relative to the loop's cached time, refreshed once before the batch.
 * A handle is initialised once, in the first round. */
static void schedule_all(uv_loop_t *loop, uv_timer_t *t, const int *delay,
                         size_t n, bool init)
{
    uv_update_time(loop);
    for (size_t i = 0; i < n; i++) {
        if (init) {
            uv_timer_init(loop, &t[i]);
        }
        uv_timer_start(&t[i], count_cb, (uint64_t)delay[i], 0);
    }
}

/* The first round starts from an empty loop and untouched handles (see
 * bench_eddy.c); everything is stopped again for the timed rounds. */
static uv_timer_t *first_round(uv_loop_t *loop, const int *delay, size_t n,
                               const char *name)
{
    int64_t t0 = bench_cpu_ns();
    uv_timer_t *t = bench_malloc(n * sizeof *t);
    schedule_all(loop, t, delay, n, true);
    int64_t t1 = bench_cpu_ns();
    bench_seconds(LIB, name, "schedule_cold_s", t0, t1);
    for (size_t i = 0; i < n; i++) {
        uv_timer_stop(&t[i]);
    }
    return t;
}

static void timers(size_t n)
{
    int *delay = bench_delays(n, bench_spread_ms(n));
    uv_loop_t *loop = new_loop();
    uv_timer_t *t = first_round(loop, delay, n, "timers");
    target = n;
    int64_t t0 = bench_cpu_ns();
    schedule_all(loop, t, delay, n, false);
    int64_t t1 = bench_cpu_ns();
    int64_t c1 = bench_cpu_ns();
    uv_run(loop, UV_RUN_DEFAULT);
    int64_t c2 = bench_cpu_ns();
    bench_seconds(LIB, "timers", "schedule_s", t0, t1);
    bench_seconds(LIB, "timers", "run_cpu_s", c1, c2);
    bench_expect(done, n, "timers fired");
    free_loop(loop);
    free(t);
    free(delay);
}

static void cancel(size_t n)
{
    int *delay = bench_delays(n, bench_spread_ms(n));
    uv_loop_t *loop = new_loop();
    uv_timer_t *t = first_round(loop, delay, n, "cancel");
    target = (n + 9) / 10;
    int64_t t0 = bench_cpu_ns();
    schedule_all(loop, t, delay, n, false);
    int64_t t1 = bench_cpu_ns();
    for (size_t i = 0; i < n; i++) {
        if (i % 10 != 0) {
            uv_timer_stop(&t[i]);
        }
    }
    int64_t t2 = bench_cpu_ns();
    int64_t c2 = bench_cpu_ns();
    uv_run(loop, UV_RUN_DEFAULT);
    int64_t c3 = bench_cpu_ns();
    bench_seconds(LIB, "cancel", "schedule_s", t0, t1);
    bench_seconds(LIB, "cancel", "cancel_s", t1, t2);
    bench_seconds(LIB, "cancel", "run_cpu_s", c2, c3);
    bench_expect(done, (n + 9) / 10, "timers fired");
    free_loop(loop);
    free(t);
    free(delay);
}

/* (c) libuv has no "call soon"; its fastest chain is a 0 ms timer started
 * from the timer's own callback, which 1.44 runs in the same pass over
 * the timer heap (later versions wait for the next iteration). */
static void timer0_cb(uv_timer_t *t)
{
    if (++done == target) {
        uv_stop(t->loop);
    } else {
        uv_timer_start(t, timer0_cb, 0, 0);
    }
}

/* (c') an idle handle stopped and started again runs in the next
 * iteration, after a poll with timeout 0: eddy's add_callback semantics. */
static void idle_cb(uv_idle_t *h)
{
    uv_idle_stop(h);
    if (++done == target) {
        uv_stop(h->loop);
    } else {
        uv_idle_start(h, idle_cb);
    }
}

static void chain(size_t n, bool next)
{
    uv_loop_t *loop = new_loop();
    uv_timer_t t;
    uv_idle_t idle;
    target = n;
    int64_t t0 = bench_cpu_ns();
    if (next) {
        uv_idle_init(loop, &idle);
        uv_idle_start(&idle, idle_cb);
    } else {
        uv_timer_init(loop, &t);
        uv_timer_start(&t, timer0_cb, 0, 0);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    int64_t t1 = bench_cpu_ns();
    const char *name = next ? "chain-next" : "chain";
    bench_seconds(LIB, name, "total_s", t0, t1);
    bench_expect(done, n, "callbacks run");
    free_loop(loop);
}

/* --- (d) cross-thread ---------------------------------------------------- */

static struct bench_producer producer;
static struct bench_queue queue;
static uv_async_t async_h;
static size_t batches;

static void item(void *arg)
{
    if (++done == target) {
        bench_producer_done(&producer);
        uv_stop(arg);
    }
}

static void async_cb(uv_async_t *h)
{
    (void)h;
    batches++;
    bench_queue_run(&queue);
}

static void post(void *ctx, size_t i)
{
    (void)i;
    if (bench_queue_push(&queue, item, ctx)) {
        uv_async_send(&async_h);
    }
}

static void go_cb(uv_idle_t *h)
{
    uv_idle_stop(h);
    bench_producer_go(&producer);
}

static void xthread(size_t n)
{
    uv_loop_t *loop = new_loop();
    target = n;
    bench_queue_init(&queue);
    bench_check(uv_async_init(loop, &async_h, async_cb), "uv_async_init");
    uv_idle_t go;
    uv_idle_init(loop, &go);
    uv_idle_start(&go, go_cb);
    bench_pin(0);
    bench_producer_start(&producer, n, post, loop);
    uv_run(loop, UV_RUN_DEFAULT);
    bench_producer_join(&producer);
    bench_producer_report(&producer, LIB, done, batches);
    free_loop(loop);
    bench_queue_free(&queue);
}

/* --- (e) pipe chain, on epoll -------------------------------------------- */

static struct bench_chain pc;

static void link_cb(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    if (bench_chain_read(&pc, (int)(intptr_t)p->data)) {
        uv_stop(p->loop);
    }
}

static void pipes(size_t n, enum bench_link kind, const char *name)
{
    uv_loop_t *loop = new_loop();
    bench_chain_open(&pc, kind, (int)n, 100);
    uv_poll_t *p = bench_alloc(n * sizeof *p);
    int64_t setup = 0;
    int64_t run = 0;
    int rounds = bench_rounds();
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = bench_cpu_ns();
        for (int i = 0; i < pc.n; i++) {
            if (r > 0) {
                uv_poll_stop(&p[i]);
            } else {
                bench_check(uv_poll_init(loop, &p[i], pc.rfd[i]), "init");
                p[i].data = (void *)(intptr_t)i;
            }
            bench_check(uv_poll_start(&p[i], UV_READABLE, link_cb), "start");
        }
        int64_t t1 = bench_cpu_ns();
        bench_chain_begin(&pc, bench_writes());
        uv_run(loop, UV_RUN_DEFAULT);
        int64_t t2 = bench_cpu_ns();
        setup += t1 - t0;
        run += t2 - t1;
    }
    bench_chain_report(&pc, LIB, name, setup, run);
    free_loop(loop);
    bench_chain_close(&pc);
    free(p);
}

/* --- equal deadlines ----------------------------------------------------- */

static struct bench_fifo fifo;
static uv_timer_t *fifo_t;

static void fifo_cb(uv_timer_t *t)
{
    bench_fifo_ran(&fifo, (long)(t - fifo_t));
    if (fifo.ran == fifo.n) {
        uv_stop(t->loop);
    }
}

static void fifo_start(uv_idle_t *h)
{
    uv_idle_stop(h);
    for (size_t i = 0; i < fifo.n; i++) {
        int g = (int)(i % (size_t)fifo.groups);
        uv_timer_init(h->loop, &fifo_t[i]);
        uv_timer_start(&fifo_t[i], fifo_cb, (uint64_t)g + 1, 0);
    }
}

static void fifo_check(size_t n)
{
    uv_loop_t *loop = new_loop();
    bench_fifo_init(&fifo, n, 8);
    fifo_t = bench_alloc(n * sizeof *fifo_t);
    uv_idle_t go;
    uv_idle_init(loop, &go);
    uv_idle_start(&go, fifo_start);
    uv_run(loop, UV_RUN_DEFAULT);
    bench_fifo_report(&fifo, LIB);
    free_loop(loop);
    free(fifo_t);
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
        chain(n, strcmp(w, "chain-next") == 0);
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
