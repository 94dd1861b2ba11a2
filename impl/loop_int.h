/* impl/loop_int.h - the layout of struct eddy_loop and the phase functions
 * that loop.c calls in each iteration (SPEC §2.13). Private to the loop's
 * own files (loop.c, handler.c, callback.c, timeout.c) and white-box tests.
 */
#ifndef EDDY_LOOP_INT_H
#define EDDY_LOOP_INT_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap.h"
#include "internal.h"

/* Slots of the add_callback_from_signal queue: a power of two. */
#define EDDY__SIGQ_SLOTS 256u

/* One ready callback: 16 bytes, the hot ring's element. */
struct eddy__cb {
    eddy_callback_cb cb;
    void *arg;
};

/* Ready callbacks, FIFO. cap is 0 or a power of two; head and tail run
 * free (entry i lives at buf[i & (cap - 1)]), so the consumer writes only
 * head and the producer only tail, and growth needs no re-basing. count
 * is always tail - head, kept for readers. */
struct eddy__ring {
    struct eddy__cb *buf;
    size_t cap;
    size_t head;
    size_t tail;
    size_t count;
};

struct eddy__sig_slot {
    atomic_size_t seq; /* Vyukov: pos = free for pos, pos + 1 = published */
    eddy_callback_cb cb;
    void *arg;
};

/* The handler registered for one fd; pidx < 0 when none is. */
struct eddy__fd_rec {
    eddy_handler_cb cb;
    void *arg;
    eddy_close_cb close_cb;
    unsigned events;
    int pidx;
    uint32_t gen;
    bool object;
};

/* What poll reported for one fd, copied before anything is dispatched. */
struct eddy__ready {
    int fd;
    short revents;
    uint32_t gen;
};

struct eddy_loop {
    /* Read by any thread. */
    atomic_uint_fast64_t running_tid; /* SPEC §1.6: 0 when not running */
    atomic_bool closed;
    int wake_fd; /* eventfd, always pfds[0] */

    /* Producers' side: written by other threads and signal handlers. The
     * pads keep it off the loop thread's cache lines (plain padding, since
     * the allocator only promises 16-byte alignment). */
    char pad0[64];
    atomic_int wake_pending;
    atomic_int wake_inflight; /* producers between closed check and wake */
    atomic_int sleeping;      /* the loop is in (or entering) a poll that
                               * may block: only then does a wake write */
    /* The loop reads wake_pending every iteration; producers write the
     * lock and the vector on every call. Apart, neither disturbs the
     * other's cache line. */
    char pad0b[64];
    pthread_mutex_t in_lock;
    struct eddy__cb *in_buf; /* guarded by in_lock */
    size_t in_len;
    size_t in_cap;
    char pad1[64];
    atomic_size_t sig_enq;
    char pad2[64];
    atomic_size_t sig_deq;
    struct eddy__sig_slot sig[EDDY__SIGQ_SLOTS];

    /* Loop thread only from here on. */
    char pad3[64];
    bool stopping;
    bool closing;     /* inside eddy_loop_close: free must wait */
    bool drain_again; /* a drain was cut short by ENOMEM: poll(0) */
    bool wake_seen;   /* poll reported wake_fd readable */
    struct eddy__ring ring;
    /* The vector last swapped out of in_buf; [taken_pos, taken_len) did
     * not fit into the ring yet (ENOMEM) and goes before anything newer. */
    struct eddy__cb *taken;
    size_t taken_cap;
    size_t taken_pos;
    size_t taken_len;

    struct pollfd *pfds; /* dense; [0] is wake_fd, handlers from 1 */
    size_t npfds;
    size_t pfd_cap;
    struct eddy__ready *ready; /* scratch, capacity pfd_cap */
    size_t nready;
    struct eddy__fd_rec *fds; /* indexed by fd */
    size_t fd_cap;

    struct eddy__heap heap;
    struct eddy__timer *timers; /* records, indexed by slot */
    uint32_t nslots;            /* slots ever used */
    uint32_t slot_cap;
    uint32_t nfree; /* free slots, on a stack that follows the records */
    struct eddy__heap_ent *batch; /* due entries; capacity >= heap.cap */
    uint64_t serial;      /* the next timer's serial */
    uint64_t iter_serial; /* serial when this iteration began */

    eddy__clock_fn clock_fn;
    void *clock_arg;
    eddy__poll_fn poll_fn;
    void *poll_arg;
    eddy_error_cb err_cb;
    void *err_arg;
    struct eddy__future_state futures;
};

/* loop.c */
uint64_t eddy__thread_id(void);
extern _Thread_local uint64_t eddy__tl_tid; /* 0 until eddy__thread_id */

/* eddy__loop_check_thread for a loop known not to be NULL, inline for the
 * per-call paths (call_at, remove_timeout, add_callback). */
static inline int eddy__loop_owner_check(const eddy_loop *loop)
{
    if (atomic_load_explicit(&loop->closed, memory_order_relaxed)) {
        return -ESHUTDOWN;
    }
    uint64_t owner =
        atomic_load_explicit(&loop->running_tid, memory_order_acquire);
    if (owner != 0 && owner != eddy__tl_tid && owner != eddy__thread_id()) {
        return -EPERM; /* SPEC §1.6 */
    }
    return 0;
}
int64_t eddy__loop_now_ns(const eddy_loop *loop);

/* callback.c: SPEC §4 */
void eddy__callbacks_init(eddy_loop *loop);
bool eddy__callbacks_pending(const eddy_loop *loop);
/* SPEC §2.13 step 2: gather the other threads' callbacks, then run. */
void eddy__callbacks_drain(eddy_loop *loop);
/* Around a poll that may block: announce it, and learn whether a wakeup
 * already came (then poll with timeout 0 instead). */
bool eddy__callbacks_may_sleep(eddy_loop *loop);
void eddy__callbacks_awake(eddy_loop *loop);
/* Whether the drain has anything to do: a wakeup was seen or is pending,
 * or a drain was cut short. Every producer, signal handlers included,
 * raises wake_pending after publishing its entry, so an entry whose flag
 * is not up yet is still being added and waits for the next iteration.
 * Inline: the loop asks every iteration and the answer is almost always
 * no. */
static inline bool eddy__callbacks_incoming(const eddy_loop *loop)
{
    return loop->wake_seen || loop->drain_again ||
           atomic_load_explicit(&loop->wake_pending, memory_order_relaxed);
}
void eddy__callbacks_run(eddy_loop *loop);
void eddy__callbacks_mark_closed(eddy_loop *loop);
void eddy__callbacks_close(eddy_loop *loop);
bool eddy__callbacks_check(const eddy_loop *loop);

/* handler.c: SPEC §3 */
int eddy__handlers_init(eddy_loop *loop);
void eddy__handlers_collect(eddy_loop *loop, int nready); /* after poll */
void eddy__handlers_dispatch(eddy_loop *loop);            /* step 3 */
void eddy__handlers_close(eddy_loop *loop, bool all_fds);
bool eddy__handlers_check(const eddy_loop *loop);

/* timeout.c: SPEC §5 */
void eddy__timers_init(eddy_loop *loop);
/* Poll timeout in ms for the earliest deadline: -1 when there is none. */
int eddy__timers_poll_timeout(const eddy_loop *loop, int64_t now_ns);
void eddy__timers_run(eddy_loop *loop); /* step 4 */
void eddy__timers_close(eddy_loop *loop);
bool eddy__timers_check(const eddy_loop *loop);

#endif /* EDDY_LOOP_INT_H */
