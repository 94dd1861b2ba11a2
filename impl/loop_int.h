/* impl/loop_int.h - the layout of struct eddy_loop and the phase functions
 * that loop.c calls in each iteration (SPEC §2.13). Private to the loop's
 * own files (loop.c, handler.c, callback.c, timeout.c) and white-box tests.
 */
#ifndef EDDY_LOOP_INT_H
#define EDDY_LOOP_INT_H

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

/* Ready callbacks, FIFO. cap is 0 or a power of two. */
struct eddy__ring {
    struct eddy__cb *buf;
    size_t cap;
    size_t head;
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
    atomic_int sig_inflight; /* signal producers between check and wake */
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
    uint32_t free_slot; /* head of the free list, EDDY__NOT_IN_HEAP: none */
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
int64_t eddy__loop_now_ns(const eddy_loop *loop);

/* callback.c: SPEC §4 */
void eddy__callbacks_init(eddy_loop *loop);
bool eddy__callbacks_pending(const eddy_loop *loop);
/* SPEC §2.13 step 2: gather the other threads' callbacks, then run. */
void eddy__callbacks_drain(eddy_loop *loop);
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
