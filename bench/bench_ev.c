/* bench/bench_ev.c - the benchmark workloads written against libev, doing
 * the same work as bench_eddy.c. Usage: bench-ev WORKLOAD N [poll|epoll];
 * the backend matters only to the descriptor workloads (default: libev's
 * own choice, epoll on Linux).
 */
#include <ev.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define LIB "libev"

static size_t target;
static size_t done;
static unsigned backend = EVFLAG_AUTO;

static struct ev_loop *new_loop(void)
{
    struct ev_loop *loop = ev_loop_new(backend);
    if (loop == NULL) {
        bench_die("ev_loop_new", 0);
    }
    return loop;
}

static void count_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    if (++done == target) {
        ev_break(loop, EVBREAK_ONE);
    }
}

/* Relative to the loop's cached time, read once before the batch. */
static void schedule_all(struct ev_loop *loop, ev_timer *w, const int *delay,
                         size_t n)
{
    ev_now_update(loop);
    for (size_t i = 0; i < n; i++) {
        ev_timer_init(&w[i], count_cb, delay[i] / 1e3, 0.0);
        ev_timer_start(loop, &w[i]);
    }
}

/* The first round starts from an empty loop and untouched watchers (see
 * bench_eddy.c); everything is stopped again for the timed rounds. */
static ev_timer *first_round(struct ev_loop *loop, const int *delay, size_t n,
                             const char *name)
{
    int64_t t0 = bench_cpu_ns();
    ev_timer *w = bench_malloc(n * sizeof *w);
    schedule_all(loop, w, delay, n);
    int64_t t1 = bench_cpu_ns();
    bench_seconds(LIB, name, "schedule_cold_s", t0, t1);
    for (size_t i = 0; i < n; i++) {
        ev_timer_stop(loop, &w[i]);
    }
    return w;
}

static void timers(size_t n)
{
    int *delay = bench_delays(n, bench_spread_ms(n));
    struct ev_loop *loop = new_loop();
    ev_timer *w = first_round(loop, delay, n, "timers");
    target = n;
    int64_t t0 = bench_cpu_ns();
    schedule_all(loop, w, delay, n);
    int64_t t1 = bench_cpu_ns();
    int64_t c1 = bench_cpu_ns();
    ev_run(loop, 0);
    int64_t c2 = bench_cpu_ns();
    bench_seconds(LIB, "timers", "schedule_s", t0, t1);
    bench_seconds(LIB, "timers", "run_cpu_s", c1, c2);
    bench_expect(done, n, "timers fired");
    ev_loop_destroy(loop);
    free(w);
    free(delay);
}

static void cancel(size_t n)
{
    int *delay = bench_delays(n, bench_spread_ms(n));
    struct ev_loop *loop = new_loop();
    ev_timer *w = first_round(loop, delay, n, "cancel");
    target = (n + 9) / 10;
    int64_t t0 = bench_cpu_ns();
    schedule_all(loop, w, delay, n);
    int64_t t1 = bench_cpu_ns();
    for (size_t i = 0; i < n; i++) {
        if (i % 10 != 0) {
            ev_timer_stop(loop, &w[i]);
        }
    }
    int64_t t2 = bench_cpu_ns();
    int64_t c2 = bench_cpu_ns();
    ev_run(loop, 0);
    int64_t c3 = bench_cpu_ns();
    bench_seconds(LIB, "cancel", "schedule_s", t0, t1);
    bench_seconds(LIB, "cancel", "cancel_s", t1, t2);
    bench_seconds(LIB, "cancel", "run_cpu_s", c2, c3);
    bench_expect(done, (n + 9) / 10, "timers fired");
    ev_loop_destroy(loop);
    free(w);
    free(delay);
}

/* (c) ev_feed_event makes the watcher pending again at once: the next
 * callback runs in the same pass over the pending queue. */
static void feed_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)revents;
    if (++done == target) {
        ev_break(loop, EVBREAK_ONE);
    } else {
        ev_feed_event(loop, w, EV_CUSTOM);
    }
}

/* (c') an idle watcher stopped and started again runs in the next
 * iteration, after a poll with timeout 0: eddy's add_callback semantics. */
static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)revents;
    ev_idle_stop(loop, w);
    if (++done == target) {
        ev_break(loop, EVBREAK_ONE);
    } else {
        ev_idle_start(loop, w);
    }
}

static void chain(size_t n, bool next)
{
    struct ev_loop *loop = new_loop();
    ev_idle w;
    target = n;
    int64_t t0 = bench_cpu_ns();
    if (next) {
        ev_idle_init(&w, idle_cb);
        ev_idle_start(loop, &w);
    } else {
        ev_init(&w, feed_cb);
        ev_feed_event(loop, &w, EV_CUSTOM);
    }
    ev_run(loop, 0);
    int64_t t1 = bench_cpu_ns();
    const char *name = next ? "chain-next" : "chain";
    bench_seconds(LIB, name, "total_s", t0, t1);
    bench_expect(done, n, "callbacks run");
    ev_loop_destroy(loop);
}

/* --- (d) cross-thread ---------------------------------------------------- */

static struct bench_producer producer;
static struct bench_queue queue;
static ev_async async_w;
static struct ev_loop *xloop;
static size_t batches;

static void item(void *arg)
{
    (void)arg;
    if (++done == target) {
        bench_producer_done(&producer);
        ev_break(xloop, EVBREAK_ONE);
    }
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    batches++;
    bench_queue_run(&queue);
}

static void post(void *ctx, size_t i)
{
    (void)i;
    if (bench_queue_push(&queue, item, ctx)) {
        ev_async_send(xloop, &async_w);
    }
}

static void go_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)revents;
    ev_idle_stop(loop, w);
    bench_producer_go(&producer);
}

static void xthread(size_t n)
{
    xloop = new_loop();
    target = n;
    bench_queue_init(&queue);
    ev_async_init(&async_w, async_cb);
    ev_async_start(xloop, &async_w);
    ev_idle go;
    ev_idle_init(&go, go_cb);
    ev_idle_start(xloop, &go);
    bench_pin(0);
    bench_producer_start(&producer, n, post, NULL);
    ev_run(xloop, 0);
    bench_producer_join(&producer);
    bench_producer_report(&producer, LIB, done, batches);
    ev_async_stop(xloop, &async_w);
    ev_loop_destroy(xloop);
    bench_queue_free(&queue);
}

/* --- (e) pipe chain ------------------------------------------------------ */

static struct bench_chain pc;

static void link_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    if (bench_chain_read(&pc, (int)(intptr_t)w->data)) {
        ev_break(loop, EVBREAK_ONE);
    }
}

static void pipes(size_t n, enum bench_link kind, const char *name)
{
    struct ev_loop *loop = new_loop();
    bench_chain_open(&pc, kind, (int)n, 100);
    ev_io *w = bench_alloc(n * sizeof *w);
    int64_t setup = 0;
    int64_t run = 0;
    int rounds = bench_rounds();
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = bench_cpu_ns();
        for (int i = 0; i < pc.n; i++) {
            if (r > 0) {
                ev_io_stop(loop, &w[i]);
            }
            ev_io_init(&w[i], link_cb, pc.rfd[i], EV_READ);
            w[i].data = (void *)(intptr_t)i;
            ev_io_start(loop, &w[i]);
        }
        int64_t t1 = bench_cpu_ns();
        bench_chain_begin(&pc, bench_writes());
        ev_run(loop, 0);
        int64_t t2 = bench_cpu_ns();
        setup += t1 - t0;
        run += t2 - t1;
    }
    bench_chain_report(&pc, LIB, name, setup, run);
    for (int i = 0; i < pc.n; i++) {
        ev_io_stop(loop, &w[i]);
    }
    ev_loop_destroy(loop);
    bench_chain_close(&pc);
    free(w);
}

/* --- equal deadlines ----------------------------------------------------- */

static struct bench_fifo fifo;
static ev_timer *fifo_w;

static void fifo_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    bench_fifo_ran(&fifo, (long)(w - fifo_w));
    if (fifo.ran == fifo.n) {
        ev_break(loop, EVBREAK_ONE);
    }
}

static void fifo_start(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)revents;
    ev_idle_stop(loop, w);
    for (size_t i = 0; i < fifo.n; i++) {
        int g = (int)(i % (size_t)fifo.groups);
        ev_timer_init(&fifo_w[i], fifo_cb, (g + 1) / 1e3, 0.0);
        ev_timer_start(loop, &fifo_w[i]);
    }
}

static void fifo_check(size_t n)
{
    struct ev_loop *loop = new_loop();
    bench_fifo_init(&fifo, n, 8);
    fifo_w = bench_alloc(n * sizeof *fifo_w);
    ev_idle go;
    ev_idle_init(&go, fifo_start);
    ev_idle_start(loop, &go);
    ev_run(loop, 0);
    bench_fifo_report(&fifo, LIB);
    ev_loop_destroy(loop);
    free(fifo_w);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s WORKLOAD N [poll|epoll]\n", argv[0]);
        return 2;
    }
    const char *w = argv[1];
    size_t n = bench_count(argv[2]);
    if (argc > 3) {
        backend =
            strcmp(argv[3], "poll") == 0 ? EVBACKEND_POLL : EVBACKEND_EPOLL;
    }
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
