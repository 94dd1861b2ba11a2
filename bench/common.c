/* bench/common.c - the shared half of the benchmark programs (common.h).
 * Nothing here is timed on its own: it is the bookkeeping every library's
 * program does identically, so it cancels out of the ratios.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bench_wall_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int64_t bench_cpu_ns(void)
{
    return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

void bench_result(const char *lib, const char *workload, const char *metric,
                  double value)
{
    printf("RESULT %s %s %s %.9g\n", lib, workload, metric, value);
    fflush(stdout);
}

void bench_seconds(const char *lib, const char *workload, const char *metric,
                   int64_t t0, int64_t t1)
{
    bench_result(lib, workload, metric, (double)(t1 - t0) / 1e9);
}

void bench_maxrss(const char *lib, const char *workload)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    bench_result(lib, workload, "maxrss_kb", (double)ru.ru_maxrss);
}

_Noreturn void bench_die(const char *what, int err)
{
    fprintf(stderr, "bench: %s failed (%d: %s)\n", what, err,
            strerror(err < 0 ? -err : err));
    exit(1);
}

void bench_check(int rc, const char *what)
{
    if (rc != 0) {
        bench_die(what, rc);
    }
}

void bench_expect(size_t got, size_t want, const char *what)
{
    if (got != want) {
        fprintf(stderr, "bench: %s: %zu, expected %zu\n", what, got, want);
        exit(1);
    }
}

void *bench_malloc(size_t size)
{
    void *p = malloc(size != 0 ? size : 1);
    if (p == NULL) {
        bench_die("malloc", ENOMEM);
    }
    return p;
}

void *bench_alloc(size_t size)
{
    void *p = bench_malloc(size);
    memset(p, 0, size);
    return p;
}

/* --- timers -------------------------------------------------------------- */

int *bench_delays(size_t n, int spread_ms)
{
    int *d = bench_alloc(n * sizeof *d);
    uint64_t x = UINT64_C(0x243F6A8885A308D3); /* fixed seed */
    for (size_t i = 0; i < n; i++) {
        x = x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        d[i] = (int)((x >> 33) % (uint64_t)spread_ms);
    }
    return d;
}

int bench_spread_ms(size_t n)
{
    size_t ms = n / 1000;
    return ms < 10 ? 10 : (int)ms;
}

void bench_fifo_init(struct bench_fifo *f, size_t n, int groups)
{
    f->n = n;
    f->ran = 0;
    f->groups = groups;
    f->last = bench_alloc((size_t)groups * sizeof *f->last);
    for (int g = 0; g < groups; g++) {
        f->last[g] = -1;
    }
    f->late = 0;
}

void bench_fifo_ran(struct bench_fifo *f, long index)
{
    long *last = &f->last[index % f->groups];
    if (index < *last) {
        f->late++; /* created before one that already ran */
    } else {
        *last = index;
    }
    f->ran++;
}

void bench_fifo_report(struct bench_fifo *f, const char *lib)
{
    bench_expect(f->ran, f->n, "timers fired");
    bench_result(lib, "fifo", "out_of_order", (double)f->late);
    free(f->last);
}

/* --- pipe chain ---------------------------------------------------------- */

static void open_link(struct bench_chain *c, int i)
{
    if (c->kind == BENCH_EVENTFD) {
        int fd = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0) {
            bench_die("eventfd", errno);
        }
        c->rfd[i] = c->wfd[i] = fd;
        return;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0) {
        bench_die("socketpair", errno);
    }
    c->rfd[i] = sv[0];
    c->wfd[i] = sv[1];
}

void bench_chain_open(struct bench_chain *c, enum bench_link kind, int n,
                      int active)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->n = n;
    c->active = active < n ? active : n;
    c->rfd = bench_alloc((size_t)n * sizeof *c->rfd);
    c->wfd = bench_alloc((size_t)n * sizeof *c->wfd);
    bench_nofile((size_t)n * (kind == BENCH_EVENTFD ? 1 : 2) + 64);
    for (int i = 0; i < n; i++) {
        open_link(c, i);
    }
}

void bench_chain_close(struct bench_chain *c)
{
    for (int i = 0; i < c->n; i++) {
        close(c->rfd[i]);
        if (c->wfd[i] != c->rfd[i]) {
            close(c->wfd[i]);
        }
    }
    free(c->rfd);
    free(c->wfd);
}

static void put_token(struct bench_chain *c, int i)
{
    ssize_t n;
    if (c->kind == BENCH_EVENTFD) {
        uint64_t one = 1;
        n = write(c->wfd[i], &one, sizeof one) == sizeof one ? 1 : -1;
    } else {
        n = send(c->wfd[i], "t", 1, 0);
    }
    c->failures += n != 1;
}

static bool take_token(struct bench_chain *c, int i)
{
    if (c->kind == BENCH_EVENTFD) {
        uint64_t v;
        return read(c->rfd[i], &v, sizeof v) == sizeof v;
    }
    char ch;
    return recv(c->rfd[i], &ch, 1, 0) == 1;
}

void bench_chain_begin(struct bench_chain *c, long writes)
{
    int space = c->n / c->active;
    c->count = 0;
    c->fired = 0;
    c->writes = writes;
    for (int k = 0; k < c->active; k++) {
        put_token(c, k * space);
        c->fired++;
    }
}

bool bench_chain_read(struct bench_chain *c, int i)
{
    if (take_token(c, i)) {
        c->count++;
    } else {
        c->failures++;
    }
    if (c->writes > 0) {
        put_token(c, i + 1 < c->n ? i + 1 : 0);
        c->writes--;
        c->fired++;
    }
    return c->count == c->fired;
}

static long env_count(const char *name, long fallback)
{
    const char *s = getenv(name);
    return s != NULL && *s != '\0' ? (long)bench_count(s) : fallback;
}

int bench_rounds(void)
{
    return (int)env_count("BENCH_ROUNDS", 25);
}

long bench_writes(void)
{
    return env_count("BENCH_WRITES", 10000);
}

void bench_chain_report(const struct bench_chain *c, const char *lib,
                        const char *workload, int64_t setup_ns, int64_t loop_ns)
{
    double events =
        (double)bench_rounds() * (double)(bench_writes() + c->active);
    bench_result(lib, workload, "setup_s", (double)setup_ns / 1e9);
    bench_result(lib, workload, "loop_s", (double)loop_ns / 1e9);
    bench_result(lib, workload, "setup_ns_per_fd",
                 (double)setup_ns / bench_rounds() / c->n);
    bench_result(lib, workload, "loop_ns_per_event", (double)loop_ns / events);
    bench_expect((size_t)c->failures, 0, "failed reads or writes");
}

/* --- cross-thread -------------------------------------------------------- */

static void *producer_main(void *arg)
{
    struct bench_producer *p = arg;
    bench_pin(1);
    pthread_mutex_lock(&p->lock);
    while (!p->go) {
        pthread_cond_wait(&p->cond, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    int64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    p->t0 = bench_wall_ns();
    for (size_t i = 0; i < p->n; i++) {
        p->post(p->ctx, i);
    }
    p->t1 = bench_wall_ns();
    p->post_cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    return NULL;
}

void bench_producer_start(struct bench_producer *p, size_t n,
                          void (*post)(void *ctx, size_t i), void *ctx)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->post = post;
    p->ctx = ctx;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    int err = pthread_create(&p->thread, NULL, producer_main, p);
    if (err != 0) {
        bench_die("pthread_create", err);
    }
}

void bench_producer_go(struct bench_producer *p)
{
    p->cpu0 = bench_cpu_ns();
    pthread_mutex_lock(&p->lock);
    p->go = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void bench_producer_done(struct bench_producer *p)
{
    p->t_done = bench_wall_ns();
    p->cpu_done = bench_cpu_ns();
}

void bench_producer_report(const struct bench_producer *p, const char *lib,
                           size_t delivered, size_t batches)
{
    bench_expect(delivered, p->n, "items delivered");
    bench_seconds(lib, "xthread", "cpu_s", p->cpu0, p->cpu_done);
    bench_seconds(lib, "xthread", "total_s", p->t0, p->t_done);
    bench_seconds(lib, "xthread", "post_s", p->t0, p->t1);
    bench_result(lib, "xthread", "post_cpu_s", (double)p->post_cpu / 1e9);
    bench_result(lib, "xthread", "delivered", (double)delivered);
    bench_result(lib, "xthread", "batches", (double)batches);
}

void bench_producer_join(struct bench_producer *p)
{
    pthread_join(p->thread, NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
}

void bench_queue_init(struct bench_queue *q)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
}

bool bench_queue_push(struct bench_queue *q, void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&q->lock);
    if (q->len == q->cap) {
        q->cap = q->cap != 0 ? q->cap * 2 : 1024;
        q->buf = realloc(q->buf, q->cap * sizeof *q->buf);
        if (q->buf == NULL) {
            bench_die("realloc", ENOMEM);
        }
    }
    q->buf[q->len++] = (struct bench_item){fn, arg};
    bool was_empty = q->len == 1;
    pthread_mutex_unlock(&q->lock);
    return was_empty;
}

size_t bench_queue_run(struct bench_queue *q)
{
    pthread_mutex_lock(&q->lock);
    struct bench_item *items = q->buf;
    size_t n = q->len;
    size_t cap = q->cap;
    q->buf = q->spare;
    q->cap = q->spare_cap;
    q->len = 0;
    pthread_mutex_unlock(&q->lock);
    for (size_t i = 0; i < n; i++) {
        items[i].fn(items[i].arg);
    }
    q->spare = items;
    q->spare_cap = cap;
    return n;
}

void bench_queue_free(struct bench_queue *q)
{
    free(q->buf);
    free(q->spare);
    pthread_mutex_destroy(&q->lock);
}

/* --- process setup ------------------------------------------------------- */

void bench_pin(int cpu)
{
    const char *mode = getenv("BENCH_PIN");
    if (mode == NULL || strcmp(mode, "split") != 0 ||
        sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void bench_nofile(size_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need) {
        return;
    }
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        fprintf(stderr, "bench: %zu descriptors needed, the limit is %llu\n",
                need, (unsigned long long)rl.rlim_max);
        exit(1);
    }
    rl.rlim_cur = need;
    setrlimit(RLIMIT_NOFILE, &rl);
}

size_t bench_count(const char *s)
{
    char *end = NULL;
    double v = s != NULL ? strtod(s, &end) : 0;
    if (s == NULL || end == s || *end != '\0' || !(v >= 1) || v > 1e12) {
        fprintf(stderr, "bench: bad count '%s'\n", s != NULL ? s : "");
        exit(2);
    }
    return (size_t)v;
}
