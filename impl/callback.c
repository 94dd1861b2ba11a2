/* impl/callback.c - SPEC §4.1-§4.6: add_callback, spawn_callback and
 * add_callback_from_signal. The loop thread pushes onto a growable ring
 * with no lock; other threads append to a mutex-guarded vector and signal
 * handlers to a bounded lock-free queue, and both wake the loop with one
 * eventfd write per burst (an atomic flag coalesces the writes).
 */
#define _GNU_SOURCE
#include "loop_int.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LONG_LOCK_FREE == 2,
               "the signal path needs lock-free atomics");
_Static_assert((EDDY__SIGQ_SLOTS & (EDDY__SIGQ_SLOTS - 1)) == 0 &&
                   EDDY__SIGQ_SLOTS >= EDDY_SIGNAL_QUEUE_MIN,
               "signal queue size");

#define SIGQ_MASK ((size_t)EDDY__SIGQ_SLOTS - 1)

/* An entry with a dispose function travels as run_owned + this wrapper, so
 * plain entries stay 16 bytes. */
struct owned {
    eddy_callback_cb cb;
    void *arg;
    void (*dispose)(void *arg);
};

static int run_owned(eddy_loop *loop, void *arg)
{
    struct owned o = *(struct owned *)arg;
    eddy__free(arg);
    return o.cb(loop, o.arg);
}

/* SPEC §2.10: a callback dropped by close never runs; its owner is told. */
static void discard(struct eddy__cb e)
{
    if (e.cb == run_owned) {
        struct owned *o = e.arg;
        if (o->dispose != NULL) {
            o->dispose(o->arg);
        }
        eddy__free(o);
    }
}

/* --- the ready ring (loop thread only) ---------------------------------- */

static int ring_reserve(struct eddy__ring *r, size_t extra)
{
    if (extra <= r->cap - r->count) {
        return 0;
    }
    size_t cap = r->cap != 0 ? r->cap : 16;
    while (cap - r->count < extra) {
        if (cap > SIZE_MAX / 2 / sizeof(struct eddy__cb)) {
            return -ENOMEM;
        }
        cap *= 2;
    }
    struct eddy__cb *buf = eddy__malloc(cap * sizeof *buf);
    if (buf == NULL) {
        return -ENOMEM;
    }
    if (r->count > 0) {
        size_t first = r->cap - r->head < r->count ? r->cap - r->head
                                                   : r->count;
        memcpy(buf, r->buf + r->head, first * sizeof *buf);
        memcpy(buf + first, r->buf, (r->count - first) * sizeof *buf);
    }
    eddy__free(r->buf);
    r->buf = buf;
    r->cap = cap;
    r->head = 0;
    return 0;
}

/* The caller has reserved room. */
static void ring_put(struct eddy__ring *r, struct eddy__cb e)
{
    r->buf[(r->head + r->count++) & (r->cap - 1)] = e;
}

static struct eddy__cb ring_take(struct eddy__ring *r)
{
    struct eddy__cb e = r->buf[r->head];
    r->head = (r->head + 1) & (r->cap - 1);
    r->count--;
    return e;
}

static int push_local(eddy_loop *loop, struct eddy__cb e)
{
    if (loop->ring.count == loop->ring.cap &&
        ring_reserve(&loop->ring, 1) != 0) {
        return -ENOMEM;
    }
    ring_put(&loop->ring, e);
    return 0;
}

/* --- waking the loop ----------------------------------------------------- */

/* Only the producer that turns the flag from 0 to 1 writes: a burst costs
 * one write until the loop clears the flag again. Always a seq_cst
 * exchange (no plain pre-check): the loop's clear then reads this store or
 * a later one, which orders a signal producer's slot before the drain. */
static void wake(eddy_loop *loop)
{
    if (atomic_exchange(&loop->wake_pending, 1) == 0) {
        uint64_t one = 1;
        while (write(loop->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
        }
    }
}

/* --- other threads ------------------------------------------------------- */

static int grow_incoming(eddy_loop *loop)
{
    size_t cap = loop->in_cap != 0 ? loop->in_cap * 2 : 16;
    if (cap > SIZE_MAX / sizeof(struct eddy__cb)) {
        return -ENOMEM;
    }
    struct eddy__cb *buf = eddy__realloc(loop->in_buf, cap * sizeof *buf);
    if (buf == NULL) {
        return -ENOMEM;
    }
    loop->in_buf = buf;
    loop->in_cap = cap;
    return 0;
}

/* The closed check and the eventfd write happen under in_lock, so once
 * close has taken the lock no producer can touch the queue or the fd. */
static int push_foreign(eddy_loop *loop, struct eddy__cb e)
{
    int err = 0;
    pthread_mutex_lock(&loop->in_lock);
    if (atomic_load_explicit(&loop->closed, memory_order_relaxed)) {
        err = -ESHUTDOWN; /* SPEC §4.4 */
    } else if (loop->in_len == loop->in_cap) {
        err = grow_incoming(loop);
    }
    if (err == 0) {
        loop->in_buf[loop->in_len++] = e;
        wake(loop);
    }
    pthread_mutex_unlock(&loop->in_lock);
    return err;
}

/* SPEC §4.2: the running loop's own thread needs no lock; any other thread,
 * or any thread while the loop is not running, goes through the queue. */
static int add(eddy_loop *loop, struct eddy__cb e)
{
    if (atomic_load_explicit(&loop->running_tid, memory_order_relaxed) ==
        eddy__thread_id()) {
        return push_local(loop, e);
    }
    return push_foreign(loop, e);
}

int eddy_loop_add_callback(eddy_loop *loop, eddy_callback_cb cb, void *arg)
{
    if (loop == NULL || cb == NULL) {
        return -EINVAL;
    }
    return add(loop, (struct eddy__cb){cb, arg});
}

int eddy_loop_spawn_callback(eddy_loop *loop, eddy_callback_cb cb, void *arg)
{
    return eddy_loop_add_callback(loop, cb, arg); /* SPEC §4.5 */
}

int eddy__loop_add_callback_owned(eddy_loop *loop, eddy_callback_cb cb,
                                  void *arg, void (*dispose)(void *arg))
{
    if (loop == NULL || cb == NULL) {
        return -EINVAL;
    }
    if (dispose == NULL) {
        return add(loop, (struct eddy__cb){cb, arg});
    }
    if (atomic_load(&loop->closed)) {
        dispose(arg);
        return -ESHUTDOWN;
    }
    struct owned *o = eddy__malloc(sizeof *o);
    if (o == NULL) {
        return -ENOMEM;
    }
    *o = (struct owned){cb, arg, dispose};
    int err = add(loop, (struct eddy__cb){run_owned, o});
    if (err != 0) {
        eddy__free(o);
        if (err == -ESHUTDOWN) {
            dispose(arg); /* closed by another thread meanwhile */
        }
    }
    return err;
}

/* --- signal handlers: a bounded MPMC queue with per-slot sequences ------- */

static int sig_push(eddy_loop *loop, eddy_callback_cb cb, void *arg)
{
    size_t pos = atomic_load_explicit(&loop->sig_enq, memory_order_relaxed);
    for (;;) {
        struct eddy__sig_slot *s = &loop->sig[pos & SIGQ_MASK];
        size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        ptrdiff_t dif = (ptrdiff_t)(seq - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(
                    &loop->sig_enq, &pos, pos + 1, memory_order_relaxed,
                    memory_order_relaxed)) {
                s->cb = cb;
                s->arg = arg;
                atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
                return 0;
            }
        } else if (dif < 0) {
            return -EAGAIN; /* SPEC §4.6: full */
        } else {
            pos = atomic_load_explicit(&loop->sig_enq, memory_order_relaxed);
        }
    }
}

/* No lock, no allocation, errno preserved: async-signal-safe. sig_inflight
 * lets close wait for a producer that passed the closed check. */
int eddy_loop_add_callback_from_signal(eddy_loop *loop, eddy_callback_cb cb,
                                       void *arg)
{
    if (loop == NULL || cb == NULL) {
        return -EINVAL;
    }
    int saved_errno = errno;
    atomic_fetch_add(&loop->sig_inflight, 1);
    int err = -ESHUTDOWN;
    if (!atomic_load(&loop->closed)) {
        err = sig_push(loop, cb, arg);
        if (err == 0) {
            wake(loop);
        }
    }
    atomic_fetch_sub(&loop->sig_inflight, 1);
    errno = saved_errno;
    return err;
}

/* --- the loop's side ----------------------------------------------------- */

void eddy__callbacks_init(eddy_loop *loop)
{
    for (size_t i = 0; i < EDDY__SIGQ_SLOTS; i++) {
        atomic_init(&loop->sig[i].seq, i);
    }
}

static bool signal_ready(const eddy_loop *loop)
{
    size_t pos = atomic_load_explicit(&loop->sig_deq, memory_order_relaxed);
    return atomic_load_explicit(&loop->sig[pos & SIGQ_MASK].seq,
                                memory_order_acquire) == pos + 1;
}

bool eddy__callbacks_pending(const eddy_loop *loop)
{
    return loop->ring.count > 0 || loop->drain_again ||
           atomic_load_explicit(&loop->wake_pending, memory_order_relaxed) ||
           signal_ready(loop);
}

/* Move what fits; on ENOMEM the rest waits for the next iteration. */
static void drain_incoming(eddy_loop *loop)
{
    pthread_mutex_lock(&loop->in_lock);
    size_t n = loop->in_len;
    size_t room = n;
    if (ring_reserve(&loop->ring, n) != 0) {
        room = loop->ring.cap - loop->ring.count;
        loop->drain_again = true;
    }
    for (size_t i = 0; i < room; i++) {
        ring_put(&loop->ring, loop->in_buf[i]);
    }
    if (room < n) {
        memmove(loop->in_buf, loop->in_buf + room,
                (n - room) * sizeof *loop->in_buf);
    }
    loop->in_len = n - room;
    pthread_mutex_unlock(&loop->in_lock);
}

/* In publication order; stops at a slot whose producer has not finished
 * (it will wake the loop when it does). Single consumer: the loop. */
static void drain_signals(eddy_loop *loop)
{
    while (signal_ready(loop)) {
        if (loop->ring.count == loop->ring.cap &&
            ring_reserve(&loop->ring, 1) != 0) {
            loop->drain_again = true;
            return;
        }
        size_t pos = atomic_load_explicit(&loop->sig_deq,
                                          memory_order_relaxed);
        struct eddy__sig_slot *s = &loop->sig[pos & SIGQ_MASK];
        struct eddy__cb e = {s->cb, s->arg};
        atomic_store_explicit(&loop->sig_deq, pos + 1, memory_order_relaxed);
        atomic_store_explicit(&s->seq, pos + EDDY__SIGQ_SLOTS,
                              memory_order_release);
        ring_put(&loop->ring, e);
    }
}

/* SPEC §2.13 step 2 begins here (§2.14: loop-thread callbacks first, then
 * the others in arrival order). The flag is cleared (seq_cst) before the
 * eventfd is read and the queues are taken, so a producer that finds it
 * clear again writes again and nothing is lost. */
void eddy__callbacks_drain(eddy_loop *loop)
{
    bool again = loop->drain_again;
    loop->drain_again = false;
    bool woken = loop->wake_seen;
    if (woken || atomic_load_explicit(&loop->wake_pending,
                                      memory_order_relaxed) != 0) {
        atomic_exchange(&loop->wake_pending, 0);
        woken = true;
    }
    if (loop->wake_seen) {
        uint64_t count;
        while (read(loop->wake_fd, &count, sizeof count) < 0 &&
               errno == EINTR) {
        }
    }
    if (woken || again) {
        drain_incoming(loop);
    }
    drain_signals(loop);
}

/* SPEC §2.13 step 2: exactly the callbacks queued now, FIFO; what they add
 * waits for the next iteration. */
void eddy__callbacks_run(eddy_loop *loop)
{
    for (size_t n = loop->ring.count; n > 0; n--) {
        struct eddy__cb e = ring_take(&loop->ring);
        int rc = e.cb(loop, e.arg);
        if (rc != 0) {
            eddy__loop_report(loop, rc); /* SPEC §1.5 */
        }
    }
}

void eddy__callbacks_mark_closed(eddy_loop *loop)
{
    pthread_mutex_lock(&loop->in_lock);
    atomic_store(&loop->closed, true);
    atomic_store(&loop->wake_pending, 1); /* late producers never write */
    pthread_mutex_unlock(&loop->in_lock);
    while (atomic_load(&loop->sig_inflight) != 0) {
        sched_yield(); /* a signal producer on another thread finishes */
    }
}

/* SPEC §2.10: drop every pending callback unrun. Signal-queue entries need
 * no release: the queue lives inside the loop object. */
void eddy__callbacks_close(eddy_loop *loop)
{
    pthread_mutex_lock(&loop->in_lock);
    struct eddy__cb *in = loop->in_buf;
    size_t n = loop->in_len;
    loop->in_buf = NULL;
    loop->in_len = 0;
    loop->in_cap = 0;
    pthread_mutex_unlock(&loop->in_lock);
    while (loop->ring.count > 0) {
        discard(ring_take(&loop->ring));
    }
    eddy__free(loop->ring.buf);
    loop->ring = (struct eddy__ring){NULL, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        discard(in[i]);
    }
    eddy__free(in);
}

bool eddy__callbacks_check(const eddy_loop *loop)
{
    const struct eddy__ring *r = &loop->ring;
    if ((r->cap & (r->cap - 1)) != 0 || r->count > r->cap) {
        return false;
    }
    return r->cap == 0 ? r->buf == NULL && r->head == 0 : r->head < r->cap;
}
