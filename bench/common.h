/* bench/common.h - what the four benchmark programs share: clocks, the
 * fixed pseudo-random delays, result lines, descriptor limits, the pipe
 * chain bookkeeping and the cross-thread producer. Keeping all of it here
 * leaves each program with nothing but its library's own calls, so the
 * programs do the same work by construction.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- clocks and results -------------------------------------------------- */

int64_t bench_wall_ns(void);
int64_t bench_cpu_ns(void); /* CPU time of the whole process */

/* Print "RESULT <lib> <workload> <metric> <value>" on stdout. */
void bench_result(const char *lib, const char *workload, const char *metric,
                  double value);
/* Seconds between two nanosecond readings, as a result line. */
void bench_seconds(const char *lib, const char *workload, const char *metric,
                   int64_t t0, int64_t t1);
/* The process's peak resident set, as metric maxrss_kb. */
void bench_maxrss(const char *lib, const char *workload);

/* Print to stderr and exit 1: the programs have no other error path. */
_Noreturn void bench_die(const char *what, int err);
/* Exit with a message when rc (0 or -errno, or a library's nonzero code)
 * is not 0. */
void bench_check(int rc, const char *what);
/* Exit with a message unless got == want: every program checks that all
 * the work it timed was really done. */
void bench_expect(size_t got, size_t want, const char *what);
/* malloc that never returns NULL and leaves the pages untouched, for
 * memory whose first use belongs to the timed work. */
void *bench_malloc(size_t size);
/* malloc that never returns NULL, with every page touched so that page
 * faults land outside the timed phases. */
void *bench_alloc(size_t size);

/* --- timers -------------------------------------------------------------- */

/* The delay in ms of each of n timers: a 64-bit LCG with a fixed seed,
 * uniform over [0, spread_ms). Identical for every library. */
int *bench_delays(size_t n, int spread_ms);
/* The spread that keeps the density at 1000 timers per ms: 1e6 timers
 * span one second (never less than 10 ms). */
int bench_spread_ms(size_t n);

/* Equal-deadline order check: every timer records its index here as it
 * runs; bench_fifo_report counts the ones that ran after a later-created
 * timer of the same deadline. */
struct bench_fifo {
    size_t n;
    size_t ran;
    int groups; /* distinct deadlines: index % groups */
    long *last; /* per group, the last index that ran */
    long late;  /* timers that overtook an earlier one */
};
void bench_fifo_init(struct bench_fifo *f, size_t n, int groups);
void bench_fifo_ran(struct bench_fifo *f, long index);
void bench_fifo_report(struct bench_fifo *f, const char *lib);

/* --- pipe chain (after libevent's test/bench.c) -------------------------- */

/* Link i is read from rfd[i]; a read passes the token on to link i + 1 by
 * writing wfd[i + 1]. A socketpair link has two descriptors, an eventfd
 * link (EFD_SEMAPHORE, so one read takes one token) one. */
enum bench_link { BENCH_SOCKETPAIR, BENCH_EVENTFD };

struct bench_chain {
    enum bench_link kind;
    int n;
    int active;
    int *rfd;
    int *wfd;
    long writes; /* tokens still to pass on in this round */
    long fired;  /* tokens written in this round */
    long count;  /* tokens read in this round */
    long failures;
};

void bench_chain_open(struct bench_chain *c, enum bench_link kind, int n,
                      int active);
void bench_chain_close(struct bench_chain *c);
/* Write the round's first tokens, spread evenly over the chain. */
void bench_chain_begin(struct bench_chain *c, long writes);
/* The whole work of a read callback for link i. Returns true once every
 * token written in the round has been read: the caller stops its loop. */
bool bench_chain_read(struct bench_chain *c, int i);
/* Rounds and writes per round: 25 and 10000 as in libevent's bench, or
 * $BENCH_ROUNDS and $BENCH_WRITES (the smoke run makes them tiny). */
int bench_rounds(void);
long bench_writes(void);
/* The result lines of a finished run. */
void bench_chain_report(const struct bench_chain *c, const char *lib,
                        const char *workload, int64_t setup_ns,
                        int64_t loop_ns);

/* --- cross-thread wakeups ------------------------------------------------ */

/* The producer thread: it waits for bench_producer_go, then calls
 * post(ctx, i) for i = 0 .. n-1 as fast as it can. */
struct bench_producer {
    pthread_t thread;
    size_t n;
    void (*post)(void *ctx, size_t i);
    void *ctx;
    int64_t t0;       /* wall time of the first post */
    int64_t t1;       /* wall time after the last post */
    int64_t post_cpu; /* the producer thread's CPU time for all posts */
    int64_t cpu0;     /* process CPU time at the go */
    int64_t t_done;   /* wall time when the last item ran */
    int64_t cpu_done; /* process CPU time then */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool go;
};
void bench_producer_start(struct bench_producer *p, size_t n,
                          void (*post)(void *ctx, size_t i), void *ctx);
/* From the loop thread once the loop runs. */
void bench_producer_go(struct bench_producer *p);
/* From the loop thread when the last item has run. */
void bench_producer_done(struct bench_producer *p);
void bench_producer_join(struct bench_producer *p);
/* The result lines: CPU time of both threads from the go to the last
 * item (cpu_s), wall time (total_s), the producer's own times, and how
 * many loop wakeups ("batches") ran the items. */
void bench_producer_report(const struct bench_producer *p, const char *lib,
                           size_t delivered, size_t batches);

/* The "add_callback" pattern for libraries that have only a coalescing
 * wakeup: items go into a mutex-guarded vector, the loop swaps it out and
 * runs every item. */
struct bench_item {
    void (*fn)(void *arg);
    void *arg;
};
struct bench_queue {
    pthread_mutex_t lock;
    struct bench_item *buf;
    size_t len;
    size_t cap;
    struct bench_item *spare; /* the loop's buffer, swapped in on drain */
    size_t spare_cap;
};
void bench_queue_init(struct bench_queue *q);
/* Returns true when the queue was empty: only then does the caller wake
 * the loop, since a non-empty queue already has a wakeup on its way (the
 * cheapest correct use of each library's wakeup). */
bool bench_queue_push(struct bench_queue *q, void (*fn)(void *), void *arg);
/* Run everything queued so far, outside the lock. Returns the count. */
size_t bench_queue_run(struct bench_queue *q);
void bench_queue_free(struct bench_queue *q);

/* Pin the calling thread to cpu (BENCH_PIN=split); a no-op otherwise. */
void bench_pin(int cpu);

/* Raise RLIMIT_NOFILE's soft limit to fit need descriptors. */
void bench_nofile(size_t need);

/* Parse argv[i] as a positive count, or die. */
size_t bench_count(const char *s);

#endif /* BENCH_COMMON_H */
