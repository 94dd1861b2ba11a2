/* bench/bench_event.c - the benchmark workloads written against libevent
 * 2.1, doing the same work as bench_eddy.c. Usage: bench-event WORKLOAD N
 * [poll|epoll]; the backend matters only to the descriptor workloads
 * (default: libevent's own choice, epoll on Linux). Thread support is
 * switched on only for the cross-thread workload, since it puts a lock
 * around every other call.
 */
#include <event2/event.h>
#include <event2/thread.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define LIB "libevent"

static size_t target;
static size_t done;
static const char *backend;

static struct event_base *new_base(void)
{
    struct event_config *cfg = event_config_new();
    if (cfg == NULL) {
        bench_die("event_config_new", 0);
    }
    if (backend != NULL && strcmp(backend, "poll") == 0) {
        event_config_avoid_method(cfg, "epoll");
        event_config_avoid_method(cfg, "select");
    }
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (base == NULL) {
        bench_die("event_base_new_with_config", 0);
    }
    if (backend != NULL && strcmp(event_base_get_method(base), backend) != 0) {
        fprintf(stderr, "bench: libevent chose %s, not %s\n",
                event_base_get_method(base), backend);
        exit(1);
    }
    return base;
}

static void count_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    if (++done == target) {
        event_base_loopbreak(arg);
    }
}

static struct timeval ms_tv(int ms)
{
    return (struct timeval){ms / 1000, (ms % 1000) * 1000};
}

/* struct event is opaque in size to callers: index by bytes. */
static struct event *ev_at(struct event *ev, size_t i)
{
    return (struct event *)((char *)ev + i * event_get_struct_event_size());
}

static void schedule_all(struct event_base *base, struct event *ev,
                         const int *delay, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct timeval tv = ms_tv(delay[i]);
        event_assign(ev_at(ev, i), base, -1, 0, count_cb, base);
        event_add(ev_at(ev, i), &tv);
    }
}

/* The first round starts from an empty base and untouched events (see
 * bench_eddy.c); everything is deleted again for the timed rounds. */
static struct event *first_round(struct event_base *base, const int *delay,
                                 size_t n, const char *name)
{
    int64_t t0 = bench_cpu_ns();
    struct event *ev = bench_malloc(n * event_get_struct_event_size());
    schedule_all(base, ev, delay, n);
    int64_t t1 = bench_cpu_ns();
    bench_seconds(LIB, name, "schedule_cold_s", t0, t1);
    for (size_t i = 0; i < n; i++) {
        event_del(ev_at(ev, i));
    }
    return ev;
}

static void timers(size_t n)
{
    int *delay = bench_delays(n, bench_spread_ms(n));
    struct event_base *base = new_base();
    struct event *ev = first_round(base, delay, n, "timers");
    target = n;
    int64_t t0 = bench_cpu_ns();
    schedule_all(base, ev, delay, n);
    int64_t t1 = bench_cpu_ns();
    int64_t c1 = bench_cpu_ns();
    event_base_dispatch(base);
    int64_t c2 = bench_cpu_ns();
    bench_seconds(LIB, "timers", "schedule_s", t0, t1);
    bench_seconds(LIB, "timers", "run_cpu_s", c1, c2);
    bench_expect(done, n, "timers fired");
    event_base_free(base);
    free(ev);
    free(delay);
}

static void cancel(size_t n)
{
    int *delay = bench_delays(n, bench_spread_ms(n));
    struct event_base *base = new_base();
    struct event *ev = first_round(base, delay, n, "cancel");
    target = (n + 9) / 10;
    int64_t t0 = bench_cpu_ns();
    schedule_all(base, ev, delay, n);
    int64_t t1 = bench_cpu_ns();
    for (size_t i = 0; i < n; i++) {
        if (i % 10 != 0) {
            event_del(ev_at(ev, i));
        }
    }
    int64_t t2 = bench_cpu_ns();
    int64_t c2 = bench_cpu_ns();
    event_base_dispatch(base);
    int64_t c3 = bench_cpu_ns();
    bench_seconds(LIB, "cancel", "schedule_s", t0, t1);
    bench_seconds(LIB, "cancel", "cancel_s", t1, t2);
    bench_seconds(LIB, "cancel", "run_cpu_s", c2, c3);
    bench_expect(done, (n + 9) / 10, "timers fired");
    event_base_free(base);
    free(ev);
    free(delay);
}

/* (c) event_active from a callback: the event runs again in the same pass
 * over the active queue. */
static struct event *chain_ev;

static void active_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    if (++done == target) {
        event_base_loopbreak(arg);
    } else {
        event_active(chain_ev, EV_TIMEOUT, 0);
    }
}

/* (c') a zero timeout added from a callback runs in the next iteration,
 * after a poll with timeout 0: eddy's add_callback semantics. */
static void zero_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    if (++done == target) {
        event_base_loopbreak(arg);
    } else {
        struct timeval zero = {0, 0};
        event_add(chain_ev, &zero);
    }
}

static void chain(size_t n, bool next)
{
    struct event_base *base = new_base();
    target = n;
    int64_t t0 = bench_cpu_ns();
    chain_ev = event_new(base, -1, 0, next ? zero_cb : active_cb, base);
    if (next) {
        struct timeval zero = {0, 0};
        event_add(chain_ev, &zero);
    } else {
        event_active(chain_ev, EV_TIMEOUT, 0);
    }
    event_base_dispatch(base);
    int64_t t1 = bench_cpu_ns();
    const char *name = next ? "chain-next" : "chain";
    bench_seconds(LIB, name, "total_s", t0, t1);
    bench_expect(done, n, "callbacks run");
    event_free(chain_ev);
    event_base_free(base);
}

/* --- (d) cross-thread ---------------------------------------------------- */

static struct bench_producer producer;
static struct bench_queue queue;
static struct event *wake_ev;
static size_t batches;

static void item(void *arg)
{
    if (++done == target) {
        bench_producer_done(&producer);
        event_base_loopbreak(arg);
    }
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    batches++;
    bench_queue_run(&queue);
}

static void post(void *ctx, size_t i)
{
    (void)i;
    if (bench_queue_push(&queue, item, ctx)) {
        event_active(wake_ev, EV_READ, 0);
    }
}

static void go_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    bench_producer_go(&producer);
}

static void xthread(size_t n)
{
    bench_check(evthread_use_pthreads(), "evthread_use_pthreads");
    struct event_base *base = new_base();
    target = n;
    bench_queue_init(&queue);
    wake_ev = event_new(base, -1, 0, wake_cb, base);
    struct event *go = event_new(base, -1, 0, go_cb, NULL);
    bench_pin(0);
    bench_producer_start(&producer, n, post, base);
    event_active(go, EV_READ, 0);
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    bench_producer_join(&producer);
    bench_producer_report(&producer, LIB, done, batches);
    event_free(go);
    event_free(wake_ev);
    event_base_free(base);
    bench_queue_free(&queue);
}

/* --- (e) pipe chain ------------------------------------------------------ */

static struct bench_chain pc;
static struct event_base *pipe_base;

static void link_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    if (bench_chain_read(&pc, (int)(intptr_t)arg)) {
        event_base_loopbreak(pipe_base);
    }
}

static void pipes(size_t n, enum bench_link kind, const char *name)
{
    struct event_base *base = new_base();
    bench_chain_open(&pc, kind, (int)n, 100);
    struct event *ev = bench_alloc(n * event_get_struct_event_size());
    pipe_base = base;
    int64_t setup = 0;
    int64_t run = 0;
    int rounds = bench_rounds();
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = bench_cpu_ns();
        for (int i = 0; i < pc.n; i++) {
            if (r > 0) {
                event_del(ev_at(ev, (size_t)i));
            }
            event_assign(ev_at(ev, (size_t)i), base, pc.rfd[i],
                         EV_READ | EV_PERSIST, link_cb, (void *)(intptr_t)i);
            event_add(ev_at(ev, (size_t)i), NULL);
        }
        int64_t t1 = bench_cpu_ns();
        bench_chain_begin(&pc, bench_writes());
        event_base_dispatch(base);
        int64_t t2 = bench_cpu_ns();
        setup += t1 - t0;
        run += t2 - t1;
    }
    bench_chain_report(&pc, LIB, name, setup, run);
    for (int i = 0; i < pc.n; i++) {
        event_del(ev_at(ev, (size_t)i));
    }
    event_base_free(base);
    bench_chain_close(&pc);
    free(ev);
}

/* --- equal deadlines ----------------------------------------------------- */

static struct bench_fifo fifo;
static struct event *fifo_ev;

static void fifo_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bench_fifo_ran(&fifo, (long)(intptr_t)arg);
    if (fifo.ran == fifo.n) {
        event_base_loopbreak(event_get_base(fifo_ev));
    }
}

/* Added from inside a callback, where libevent uses its cached time, so
 * equal delays give equal deadlines. */
static void fifo_start(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct event_base *base = arg;
    for (size_t i = 0; i < fifo.n; i++) {
        struct timeval tv = ms_tv((int)(i % (size_t)fifo.groups) + 1);
        event_assign(ev_at(fifo_ev, i), base, -1, 0, fifo_cb,
                     (void *)(intptr_t)i);
        event_add(ev_at(fifo_ev, i), &tv);
    }
}

static void fifo_check(size_t n)
{
    struct event_base *base = new_base();
    bench_fifo_init(&fifo, n, 8);
    fifo_ev = bench_alloc(n * event_get_struct_event_size());
    struct event *go = event_new(base, -1, 0, fifo_start, base);
    event_active(go, EV_READ, 0);
    event_base_dispatch(base);
    bench_fifo_report(&fifo, LIB);
    event_free(go);
    event_base_free(base);
    free(fifo_ev);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s WORKLOAD N [poll|epoll]\n", argv[0]);
        return 2;
    }
    const char *w = argv[1];
    size_t n = bench_count(argv[2]);
    backend = argc > 3 ? argv[3] : NULL;
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
