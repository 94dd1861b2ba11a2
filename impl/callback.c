/* impl/callback.c - SPEC §4.1-§4.6: add_callback, spawn_callback and
 * add_callback_from_signal. The loop thread pushes onto a growable ring
 * (ring.h) with no lock; other threads append to a mutex-guarded vector
 * that the loop swaps out whole, signal handlers to a bounded lock-free
 * queue. Both raise one atomic flag per burst, and write the eventfd only
 * when the loop sleeps in poll.
 */
#define _GNU_SOURCE
#include "loop_int.h"
#include "ring.h"

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
#define FIRST_IN_CAP 16 /* entries of a new cross-thread vector */

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

/* --- the loop thread's own callbacks --------------------------------- */

static inline int push_local(eddy_loop *loop, struct eddy__cb e)
{
    if (loop->ring.tail - loop->ring.head == loop->ring.cap &&
        ring_reserve(&loop->ring, 1) != 0) {
        return -ENOMEM;
    }
    ring_put(&loop->ring, e);
    return 0;
}

/* --- waking the loop ----------------------------------------------------- */

/* Only the producer that turns the flag from 0 to 1 wakes, and it writes
 * the eventfd only if the loop sleeps (or is about to) in poll: a busy
 * loop reads the flag before its next poll anyway, so a burst costs no
 * syscall at all while the loop keeps up. Always a seq_cst exchange (no
 * plain pre-check): the loop's clear then reads this store or a later
 * one, which orders a signal producer's slot before the drain. The
 * exchange and the load of sleeping pair with eddy__callbacks_may_sleep
 * (store sleeping, load the flag): one side always sees the other. */
static void wake(eddy_loop *loop)
{
    if (atomic_exchange(&loop->wake_pending, 1) == 0 &&
        atomic_load(&loop->sleeping) != 0) {
        uint64_t one = 1;
        while (write(loop->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
        }
    }
}

bool eddy__callbacks_may_sleep(eddy_loop *loop)
{
    atomic_store(&loop->sleeping, 1);
    return atomic_load(&loop->wake_pending) == 0;
}

void eddy__callbacks_awake(eddy_loop *loop)
{
    atomic_store_explicit(&loop->sleeping, 0, memory_order_relaxed);
}

/* --- other threads ------------------------------------------------------- */

static int grow_incoming(eddy_loop *loop)
{
    size_t cap = loop->in_cap != 0 ? loop->in_cap * 2 : FIRST_IN_CAP;
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

/* The closed check and the push happen under in_lock, so once close has
 * taken the lock no producer touches the queue. The eventfd write comes
 * after the unlock, so the loop it wakes does not find the lock held;
 * wake_inflight makes close wait for that write, as for signals. Only the
 * push that finds the queue empty wakes: a non-empty queue has its wakeup
 * on the way. */
static __attribute__((noinline)) int push_foreign(eddy_loop *loop,
                                                  struct eddy__cb e)
{
    int err = 0;
    bool first = false;
    pthread_mutex_lock(&loop->in_lock);
    if (atomic_load_explicit(&loop->closed, memory_order_relaxed)) {
        err = -ESHUTDOWN; /* SPEC §4.4 */
    } else if (loop->in_len == loop->in_cap) {
        err = grow_incoming(loop);
    }
    if (err == 0) {
        loop->in_buf[loop->in_len++] = e;
        first = loop->in_len == 1;
        if (first) {
            atomic_fetch_add(&loop->wake_inflight, 1);
        }
    }
    pthread_mutex_unlock(&loop->in_lock);
    if (first) {
        wake(loop);
        atomic_fetch_sub(&loop->wake_inflight, 1);
    }
    return err;
}

static inline uint64_t thread_id(void)
{
    return eddy__tl_tid != 0 ? eddy__tl_tid : eddy__thread_id();
}

/* SPEC §4.2: the running loop's own thread needs no lock; any other thread,
 * or any thread while the loop is not running, goes through the queue. */
static inline int add(eddy_loop *loop, struct eddy__cb e)
{
    if (atomic_load_explicit(&loop->running_tid, memory_order_relaxed) ==
        thread_id()) {
        return push_local(loop, e);
    }
    return push_foreign(loop, e);
}

/* The loop thread's own call when its ring is full, or a thread's first
 * call (its id is not cached yet): kept out of line so the common cases
 * below stay short. */
static __attribute__((noinline)) int add_slow(eddy_loop *loop,
                                              eddy_callback_cb cb, void *arg)
{
    return add(loop, (struct eddy__cb){cb, arg});
}

int eddy_loop_add_callback(eddy_loop *loop, eddy_callback_cb cb, void *arg)
{
    if (loop == NULL || cb == NULL) {
        return -EINVAL;
    }
    struct eddy__ring *r = &loop->ring;
    uint64_t owner =
        atomic_load_explicit(&loop->running_tid, memory_order_relaxed);
    if (eddy__tl_tid == 0) {
        return add_slow(loop, cb, arg);
    }
    if (owner != eddy__tl_tid) {
        return push_foreign(loop, (struct eddy__cb){cb, arg});
    }
    if (r->tail - r->head == r->cap) {
        return add_slow(loop, cb, arg);
    }
    ring_put(r, (struct eddy__cb){cb, arg}); /* the running loop's thread */
    return 0;
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

/* No lock, no allocation, errno preserved: async-signal-safe. wake_inflight
 * lets close wait for a producer that passed the closed check. */
int eddy_loop_add_callback_from_signal(eddy_loop *loop, eddy_callback_cb cb,
                                       void *arg)
{
    if (loop == NULL || cb == NULL) {
        return -EINVAL;
    }
    int saved_errno = errno;
    atomic_fetch_add(&loop->wake_inflight, 1);
    int err = -ESHUTDOWN;
    if (!atomic_load(&loop->closed)) {
        err = sig_push(loop, cb, arg);
        if (err == 0) {
            wake(loop);
        }
    }
    atomic_fetch_sub(&loop->wake_inflight, 1);
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

/* An empty ring takes a whole taken vector by trading buffers with it, so
 * a burst from other threads is neither copied nor makes the ring grow.
 * Both capacities are powers of two; the indices restart at 0. */
static bool trade_buffers(eddy_loop *loop)
{
    struct eddy__ring *r = &loop->ring;
    if (r->head != r->tail || r->buf == NULL || loop->taken_pos != 0) {
        return false;
    }
    struct eddy__cb *buf = r->buf;
    size_t cap = r->cap;
    *r = (struct eddy__ring){loop->taken, loop->taken_cap, 0,
                             loop->taken_len, loop->taken_len};
    loop->taken = buf;
    loop->taken_cap = cap;
    loop->taken_pos = loop->taken_len = 0;
    return true;
}

/* Move what fits of the taken vector into the ring; on ENOMEM the rest
 * stays there for the next iteration. */
static void move_taken(eddy_loop *loop)
{
    size_t n = loop->taken_len - loop->taken_pos;
    if (n == 0 || trade_buffers(loop)) {
        return;
    }
    size_t room = n;
    if (ring_reserve(&loop->ring, n) != 0) {
        room = loop->ring.cap - (loop->ring.tail - loop->ring.head);
        loop->drain_again = true;
    }
    ring_put_all(&loop->ring, loop->taken + loop->taken_pos, room);
    loop->taken_pos += room;
}

/* Swap the whole vector out under the lock, so a producer never waits
 * for more than a pointer swap, then copy it into the ring. Leftovers of
 * an earlier drain cut short by ENOMEM go first, and only once they are
 * all in is the vector taken again: arrival order holds. */
static void drain_incoming(eddy_loop *loop)
{
    if (loop->taken == NULL) {
        /* The first drain makes the second vector, so that the one handed
         * to producers already has room; without it they grow their own. */
        loop->taken = eddy__malloc(FIRST_IN_CAP * sizeof *loop->taken);
        loop->taken_cap = loop->taken != NULL ? FIRST_IN_CAP : 0;
    }
    move_taken(loop);
    if (loop->taken_pos != loop->taken_len) {
        return;
    }
    pthread_mutex_lock(&loop->in_lock);
    struct eddy__cb *buf = loop->in_buf;
    size_t len = loop->in_len;
    size_t cap = loop->in_cap;
    loop->in_buf = loop->taken;
    loop->in_cap = loop->taken_cap;
    loop->in_len = 0;
    pthread_mutex_unlock(&loop->in_lock);
    loop->taken = buf;
    loop->taken_cap = cap;
    loop->taken_pos = 0;
    loop->taken_len = len;
    move_taken(loop);
}

/* In publication order; stops at a slot whose producer has not finished
 * (it will wake the loop when it does). Single consumer: the loop. */
static void drain_signals(eddy_loop *loop)
{
    while (signal_ready(loop)) {
        if (loop->ring.tail - loop->ring.head == loop->ring.cap &&
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
        loop->wake_seen = false; /* consumed: a skipped poll leaves it so */
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
    struct eddy__ring *r = &loop->ring;
    size_t end = r->tail;
    /* The entries run stay in the ring until the batch ends, so a callback
     * only ever writes tail: buf and cap are read afresh after each call
     * (a push may grow the ring), head once at the end. */
    for (size_t i = r->head; i != end; i++) {
        struct eddy__cb e = r->buf[i & (r->cap - 1)];
        int rc = e.cb(loop, e.arg);
        if (rc != 0) {
            eddy__loop_report(loop, rc); /* SPEC §1.5 */
        }
    }
    r->head = end;
    r->count = r->tail - end;
}

void eddy__callbacks_mark_closed(eddy_loop *loop)
{
    pthread_mutex_lock(&loop->in_lock);
    atomic_store(&loop->closed, true);
    atomic_store(&loop->wake_pending, 1); /* late producers never write */
    pthread_mutex_unlock(&loop->in_lock);
    while (atomic_load(&loop->wake_inflight) != 0) {
        sched_yield(); /* a producer on another thread finishes its wake */
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
    while (loop->ring.head != loop->ring.tail) {
        discard(ring_take(&loop->ring));
    }
    eddy__free(loop->ring.buf);
    loop->ring = (struct eddy__ring){.buf = NULL};
    for (size_t i = loop->taken_pos; i < loop->taken_len; i++) {
        discard(loop->taken[i]);
    }
    eddy__free(loop->taken);
    loop->taken = NULL;
    loop->taken_cap = loop->taken_pos = loop->taken_len = 0;
    for (size_t i = 0; i < n; i++) {
        discard(in[i]);
    }
    eddy__free(in);
}

bool eddy__callbacks_check(const eddy_loop *loop)
{
    const struct eddy__ring *r = &loop->ring;
    if ((r->cap & (r->cap - 1)) != 0 || r->tail - r->head > r->cap ||
        r->count != r->tail - r->head) {
        return false;
    }
    if (loop->taken_pos > loop->taken_len ||
        loop->taken_len > loop->taken_cap ||
        (loop->taken == NULL) != (loop->taken_cap == 0)) {
        return false;
    }
    return r->cap != 0 || (r->buf == NULL && r->count == 0);
}
