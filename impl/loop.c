/* impl/loop.c - SPEC §1.6 and §2: the loop's lifecycle, the thread rule and
 * the iteration of §2.13. Each thread draws a unique id from a global
 * counter and each loop publishes the id of the thread inside its start()
 * in one atomic, which is all the thread rule needs. An iteration is a fixed
 * list of phase calls into callback.c, handler.c and timeout.c.
 */
#define _GNU_SOURCE
#include "loop_int.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static atomic_uint_fast64_t next_tid = 1;
static atomic_uint_fast64_t loops_created;

_Thread_local uint64_t eddy__tl_tid;
static _Thread_local eddy_loop *tl_current;
/* SPEC §2.6: the loop whose start() this thread is inside (at most one),
 * and the thread's current loop from before that start(). */
static _Thread_local eddy_loop *tl_running;
static _Thread_local eddy_loop *tl_saved;

uint64_t eddy__thread_id(void)
{
    if (eddy__tl_tid == 0) {
        eddy__tl_tid = atomic_fetch_add(&next_tid, 1);
    }
    return eddy__tl_tid;
}

static int64_t monotonic_ns(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int system_poll(struct pollfd *fds, unsigned long nfds, int timeout_ms,
                       void *arg)
{
    (void)arg;
    return poll(fds, (nfds_t)nfds, timeout_ms);
}

int64_t eddy__loop_now_ns(const eddy_loop *loop)
{
    return loop->clock_fn(loop->clock_arg);
}

/* Handles of different loops should not collide (SPEC §5.6), so each loop
 * starts its serial at a spread-out point of the lower half of the range:
 * at least 2^39 timers before a wrap. */
static uint64_t first_serial(void)
{
    uint64_t n = atomic_fetch_add(&loops_created, 1);
    return ((n * UINT64_C(0x9E3779B97F4A7C15)) >> 25) + 1;
}

/* Producers hold in_lock for a few instructions and the loop for a
 * pointer swap, so a waiter does better spinning briefly than sleeping in
 * the kernel (glibc's adaptive mutex, where there is one). */
static int init_in_lock(pthread_mutex_t *lock)
{
    pthread_mutexattr_t attr;
    int err = -pthread_mutexattr_init(&attr);
    if (err != 0) {
        return err;
    }
#if defined(PTHREAD_MUTEX_ADAPTIVE_NP)
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    err = -pthread_mutex_init(lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return err;
}

static int loop_create(eddy_loop **out)
{
    eddy_loop *loop = eddy__calloc(1, sizeof *loop);
    if (loop == NULL) {
        return -ENOMEM;
    }
    int err = init_in_lock(&loop->in_lock);
    if (err != 0) {
        goto fail_mutex;
    }
    loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->wake_fd < 0) {
        err = -errno;
        goto fail_eventfd;
    }
    err = eddy__handlers_init(loop);
    if (err != 0) {
        goto fail_handlers;
    }
    eddy__callbacks_init(loop);
    eddy__timers_init(loop);
    loop->serial = first_serial();
    loop->clock_fn = monotonic_ns;
    loop->poll_fn = system_poll;
    *out = loop;
    return 0;
fail_handlers:
    close(loop->wake_fd);
fail_eventfd:
    pthread_mutex_destroy(&loop->in_lock);
fail_mutex:
    eddy__free(loop);
    return err;
}

int eddy_loop_new(int make_current, eddy_loop **out)
{
    if (out == NULL || make_current < EDDY_CURRENT_IF_NONE ||
        make_current > EDDY_CURRENT_NEVER) {
        return -EINVAL;
    }
    /* SPEC §2.3: a new loop is always a different loop. */
    if (make_current == EDDY_CURRENT_FORCE && tl_current != NULL) {
        return -EEXIST;
    }
    eddy_loop *loop = NULL;
    int err = loop_create(&loop);
    if (err != 0) {
        return err;
    }
    if (make_current != EDDY_CURRENT_NEVER && tl_current == NULL) {
        tl_current = loop;
    }
    *out = loop;
    return 0;
}

static bool is_running(const eddy_loop *loop)
{
    return atomic_load_explicit(&loop->running_tid, memory_order_acquire) !=
           0;
}

static bool is_closed(const eddy_loop *loop)
{
    return atomic_load_explicit(&loop->closed, memory_order_relaxed);
}

bool eddy__loop_running(const eddy_loop *loop)
{
    return is_running(loop);
}

int eddy__loop_check_thread(const eddy_loop *loop)
{
    if (loop == NULL) {
        return -EINVAL;
    }
    return eddy__loop_owner_check(loop);
}

/* SPEC §2.10: the calling thread forgets a closed loop. */
static void forget_loop(const eddy_loop *loop)
{
    if (tl_current == loop) {
        tl_current = NULL;
    }
    if (tl_saved == loop) {
        tl_saved = NULL;
    }
}

int eddy_loop_close(eddy_loop *loop, bool all_fds)
{
    if (loop == NULL) {
        return -EINVAL;
    }
    if (is_closed(loop) || loop->closing) {
        return -ESHUTDOWN; /* closing already, from a close function */
    }
    if (is_running(loop)) {
        return -EBUSY; /* SPEC §1.6, §2.10: from any thread */
    }
    /* close functions and dispose functions run below may call back in */
    loop->closing = true;
    eddy__futures_loop_close(loop);
    eddy__callbacks_mark_closed(loop);
    eddy__handlers_close(loop, all_fds);
    eddy__callbacks_close(loop);
    eddy__timers_close(loop);
    close(loop->wake_fd);
    loop->wake_fd = -1;
    forget_loop(loop);
    loop->closing = false;
    return 0;
}

int eddy_loop_free(eddy_loop *loop)
{
    if (loop == NULL) {
        return 0;
    }
    if (is_running(loop) || loop->closing) {
        return -EBUSY;
    }
    if (!is_closed(loop)) {
        eddy_loop_close(loop, false);
    }
    forget_loop(loop);
    pthread_mutex_destroy(&loop->in_lock);
    eddy__free(loop);
    return 0;
}

int eddy_loop_current(bool instance, eddy_loop **out)
{
    if (out == NULL) {
        return -EINVAL;
    }
    if (tl_current != NULL) {
        *out = tl_current;
        return 0;
    }
    if (!instance) {
        return -ENOENT;
    }
    return eddy_loop_new(EDDY_CURRENT_IF_NONE, out);
}

int eddy_loop_instance(eddy_loop **out)
{
    return eddy_loop_current(true, out);
}

int eddy_loop_make_current(eddy_loop *loop)
{
    if (loop == NULL) {
        return -EINVAL;
    }
    int err = eddy__loop_check_thread(loop);
    if (err != 0) {
        return err;
    }
    tl_current = loop;
    return 0;
}

int eddy_loop_install(eddy_loop *loop)
{
    return eddy_loop_make_current(loop);
}

void eddy_loop_clear_current(void)
{
    tl_current = NULL;
}

void eddy_loop_clear_instance(void)
{
    eddy_loop_clear_current();
}

double eddy_loop_time(const eddy_loop *loop)
{
    if (loop == NULL) {
        return NAN;
    }
    return (double)eddy__loop_now_ns(loop) / 1e9;
}

/* SPEC §2.13 step 1: 0 when work is ready or a stop is pending, else up to
 * the earliest deadline, else block. */
static int poll_timeout(const eddy_loop *loop)
{
    if (loop->stopping || loop->ring.head != loop->ring.tail ||
        eddy__callbacks_pending(loop)) {
        return 0;
    }
    if (loop->heap.len == 0) {
        return -1;
    }
    return eddy__timers_poll_timeout(loop, eddy__loop_now_ns(loop));
}

/* Step 1. EINTR ends the poll step with nothing ready. With callbacks
 * queued and no handler registered, a zero-timeout poll could only report
 * the wake eventfd, whose flag the drain reads anyway: it is skipped, so a
 * chain of callbacks costs no syscall per iteration. When only a wakeup
 * is pending the real poll stays; it paces a loop fed by another thread
 * into fewer, larger batches. */
static int poll_step(eddy_loop *loop)
{
    int timeout = poll_timeout(loop);
    if (timeout == 0 && loop->npfds == 1 && loop->poll_fn == system_poll &&
        loop->ring.head != loop->ring.tail) {
        return 0; /* nready and wake_seen are 0 between iterations */
    }
    if (timeout != 0 && !eddy__callbacks_may_sleep(loop)) {
        timeout = 0; /* a callback came from outside meanwhile */
    }
    int n = loop->poll_fn(loop->pfds, loop->npfds, timeout, loop->poll_arg);
    if (timeout != 0) {
        eddy__callbacks_awake(loop);
    }
    if (n < 0) {
        int err = -errno;
        if (err != -EINTR) {
            return err;
        }
        n = 0;
    }
    eddy__handlers_collect(loop, n);
    return 0;
}

static int run_once(eddy_loop *loop)
{
    /* SPEC §2.13: timeouts created from here on wait for a later one. */
    loop->iter_serial = loop->serial;
    int err = poll_step(loop);
    if (err != 0) {
        return err;
    }
    /* The phases are called only when they have work: a loop that just
     * runs a chain of callbacks pays for no empty phase. */
    if (eddy__callbacks_incoming(loop)) {
        eddy__callbacks_drain(loop);
    }
    if (loop->ring.head != loop->ring.tail) {
        eddy__callbacks_run(loop);
    }
    if (loop->nready > 0) {
        eddy__handlers_dispatch(loop);
    }
    if (loop->heap.len > 0) {
        eddy__timers_run(loop);
    }
    return 0;
}

int eddy_loop_start(eddy_loop *loop)
{
    if (loop == NULL) {
        return -EINVAL;
    }
    if (is_closed(loop)) {
        return -ESHUTDOWN;
    }
    if (tl_running != NULL && tl_running != loop) {
        return -EPERM; /* SPEC §2.9: inside another loop's start() */
    }
    uint_fast64_t idle = 0;
    if (!atomic_compare_exchange_strong(&loop->running_tid, &idle,
                                        eddy__thread_id())) {
        return -EBUSY;
    }
    tl_saved = tl_current;
    tl_current = loop;
    tl_running = loop;
    int err = 0;
    do {
        err = run_once(loop);
    } while (err == 0 && !loop->stopping);
    loop->stopping = false;
    tl_running = NULL;
    tl_current = tl_saved;
    tl_saved = NULL;
    atomic_store_explicit(&loop->running_tid, 0, memory_order_release);
    return err;
}

int eddy_loop_stop(eddy_loop *loop)
{
    if (loop == NULL) {
        return -EINVAL;
    }
    int err = eddy__loop_check_thread(loop);
    if (err != 0) {
        return err;
    }
    loop->stopping = true; /* SPEC §2.7: honoured at the iteration's end */
    return 0;
}

int eddy_loop_set_error_handler(eddy_loop *loop, eddy_error_cb cb, void *arg)
{
    if (loop == NULL) {
        return -EINVAL;
    }
    int err = eddy__loop_check_thread(loop);
    if (err != 0) {
        return err;
    }
    loop->err_cb = cb;
    loop->err_arg = cb != NULL ? arg : NULL;
    return 0;
}

void eddy__loop_report(eddy_loop *loop, int err)
{
    if (loop->err_cb != NULL) {
        loop->err_cb(loop, err, loop->err_arg);
    }
}

void eddy__loop_set_clock(eddy_loop *loop, eddy__clock_fn fn, void *arg)
{
    if (loop != NULL) {
        loop->clock_fn = fn != NULL ? fn : monotonic_ns;
        loop->clock_arg = fn != NULL ? arg : NULL;
    }
}

void eddy__loop_set_poll(eddy_loop *loop, eddy__poll_fn fn, void *arg)
{
    if (loop != NULL) {
        loop->poll_fn = fn != NULL ? fn : system_poll;
        loop->poll_arg = fn != NULL ? arg : NULL;
    }
}

struct eddy__future_state *eddy__loop_futures(eddy_loop *loop)
{
    return &loop->futures;
}

bool eddy__loop_check(const eddy_loop *loop)
{
    if (loop == NULL) {
        return false;
    }
    if (is_closed(loop)) {
        /* SPEC §2.10: a closed loop holds nothing but itself. */
        return loop->pfds == NULL && loop->fds == NULL &&
               loop->ring.buf == NULL && loop->in_buf == NULL &&
               loop->taken == NULL &&
               loop->heap.ent == NULL && loop->timers == NULL &&
               loop->batch == NULL && loop->wake_fd < 0;
    }
    return eddy__handlers_check(loop) && eddy__callbacks_check(loop) &&
           eddy__timers_check(loop);
}
