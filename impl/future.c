/* impl/future.c - SPEC §4.7 futures and §4.8 IOLoop.add_future.
 *
 * Key decision: one process-wide mutex (futures_lock) guards every future's
 * pending -> done transition and every add_future registration list, so a
 * future resolved on any thread can never race with the loop's close.
 * Lock order: futures_lock, then the loop's callback-queue lock (taken
 * inside eddy__loop_add_callback_owned). Nothing takes futures_lock while
 * holding another eddy lock, nothing here blocks while holding it, and the
 * dispose hooks that may run under it only drop references.
 */
#include "eddy/future.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "internal.h"

enum future_state { PENDING = 0, RESOLVED, FAILED };

struct registration;

struct eddy_future {
    atomic_uint refs;
    /* Written with release order after err/value, so readers that see a
     * done state with acquire order also see the outcome. */
    atomic_int state;
    int err;
    void *value;
    struct registration *waiters; /* guarded by futures_lock */
};

/* One add_future call. While its future is pending it sits on two lists
 * (the future's waiters and its loop's registrations), both guarded by
 * futures_lock; once posted it belongs to the loop's callback queue. */
struct registration {
    struct registration *fnext;
    struct registration *fprev;
    struct registration *lnext;
    struct registration *lprev;
    eddy_loop *loop;
    eddy_future *future; /* one reference, held until run or discarded */
    eddy_future_cb cb;
    void *arg;
    void (*dispose)(void *arg);
    bool queued_as_signal; /* posted allocation-free; still on the list */
};

static pthread_mutex_t futures_lock = PTHREAD_MUTEX_INITIALIZER;

/* Marks a loop whose registrations were detached by close: later
 * add_future calls on it fail instead of registering into a dead list. */
static char closed_marker;

int eddy_future_new(eddy_future **out)
{
    if (out == NULL) {
        return -EINVAL;
    }
    eddy_future *future = eddy__calloc(1, sizeof(*future));
    if (future == NULL) {
        return -ENOMEM;
    }
    atomic_init(&future->refs, 1);
    atomic_init(&future->state, PENDING);
    *out = future;
    return 0;
}

eddy_future *eddy_future_retain(eddy_future *future)
{
    if (future != NULL) {
        atomic_fetch_add_explicit(&future->refs, 1, memory_order_relaxed);
    }
    return future;
}

void eddy_future_release(eddy_future *future)
{
    if (future == NULL) {
        return;
    }
    /* Never takes futures_lock: the loop may release from a dispose hook
     * while a resolver holds the lock (see post_registration). */
    if (atomic_fetch_sub_explicit(&future->refs, 1, memory_order_acq_rel)
        == 1) {
        /* Every registration holds a reference, so none can remain. */
        (void)ALWAYS(future->waiters == NULL);
        eddy__free(future);
    }
}

/* The registration ran: drop what it held. */
static void registration_finish(struct registration *reg)
{
    eddy_future_release(reg->future);
    eddy__free(reg);
}

/* The registration will never run (loop closed, or it could not be
 * posted): tell its owner, then drop what it held. Any thread. */
static void registration_discard(void *arg)
{
    struct registration *reg = arg;
    if (reg->dispose != NULL) {
        reg->dispose(reg->arg);
    }
    registration_finish(reg);
}

static void loop_list_unlink(struct registration *reg)
{
    struct eddy__future_state *fs = eddy__loop_futures(reg->loop);
    if (reg->lprev != NULL) {
        reg->lprev->lnext = reg->lnext;
    } else {
        fs->registrations = reg->lnext;
    }
    if (reg->lnext != NULL) {
        reg->lnext->lprev = reg->lprev;
    }
}

static void future_list_unlink(struct registration *reg)
{
    if (reg->fprev != NULL) {
        reg->fprev->fnext = reg->fnext;
    } else {
        reg->future->waiters = reg->fnext;
    }
    if (reg->fnext != NULL) {
        reg->fnext->fprev = reg->fprev;
    }
}

static void loop_list_push(struct registration *reg)
{
    struct eddy__future_state *fs = eddy__loop_futures(reg->loop);
    reg->lprev = NULL;
    reg->lnext = fs->registrations;
    if (reg->lnext != NULL) {
        reg->lnext->lprev = reg;
    }
    fs->registrations = reg;
}

/* SPEC §4.8: the add_future callback, on the loop thread. */
static int registration_run(eddy_loop *loop, void *arg)
{
    struct registration *reg = arg;
    if (reg->queued_as_signal) {
        pthread_mutex_lock(&futures_lock);
        loop_list_unlink(reg);
        pthread_mutex_unlock(&futures_lock);
    }
    int rc = reg->cb(loop, reg->future, reg->arg);
    registration_finish(reg);
    return rc;
}

/* Hand a registration that just left its future's list to its loop.
 * Called with futures_lock held: that keeps eddy__futures_loop_close, and
 * so the loop's release, waiting while a resolver on another thread uses
 * the loop. */
static void post_registration(struct registration *reg)
{
    loop_list_unlink(reg);
    int rc = eddy__loop_add_callback_owned(reg->loop, registration_run, reg,
                                           registration_discard);
    if (rc == -ENOMEM) {
        /* Resolution cannot fail, so fall back on the allocation-free
         * queue of SPEC §4.6. That queue cannot tell us when close drops
         * an entry, so the registration stays on its loop's list, where
         * eddy__futures_loop_close will find and discard it. */
        loop_list_push(reg);
        reg->queued_as_signal = true;
        rc = eddy_loop_add_callback_from_signal(reg->loop, registration_run,
                                                reg);
        if (rc == 0) {
            return;
        }
        loop_list_unlink(reg);
        reg->queued_as_signal = false;
    }
    /* -ESHUTDOWN already ran registration_discard. */
    if (rc != 0 && rc != -ESHUTDOWN) {
        registration_discard(reg);
    }
}

/* SPEC §4.7: the first outcome wins; later ones get -EALREADY. */
static int resolve(eddy_future *future, int state, int err, void *value)
{
    if (future == NULL) {
        return -EINVAL;
    }
    pthread_mutex_lock(&futures_lock);
    if (atomic_load_explicit(&future->state, memory_order_relaxed)
        != PENDING) {
        pthread_mutex_unlock(&futures_lock);
        return -EALREADY;
    }
    future->err = err;
    future->value = value;
    atomic_store_explicit(&future->state, state, memory_order_release);
    struct registration *reg = future->waiters;
    future->waiters = NULL;
    while (reg != NULL) {
        struct registration *next = reg->fnext;
        post_registration(reg);
        reg = next;
    }
    pthread_mutex_unlock(&futures_lock);
    return 0;
}

int eddy_future_set_result(eddy_future *future, void *value)
{
    return resolve(future, RESOLVED, 0, value);
}

int eddy_future_set_error(eddy_future *future, int err)
{
    if (err >= 0) {
        return -EINVAL;
    }
    return resolve(future, FAILED, err, NULL);
}

int eddy_future_cancel(eddy_future *future)
{
    return resolve(future, FAILED, -ECANCELED, NULL);
}

bool eddy_future_done(const eddy_future *future)
{
    return future != NULL
           && atomic_load_explicit(&future->state, memory_order_acquire)
                  != PENDING;
}

int eddy_future_result(const eddy_future *future, void **value)
{
    if (future == NULL) {
        return -EINVAL;
    }
    int state = atomic_load_explicit(&future->state, memory_order_acquire);
    if (state == PENDING) {
        return -EAGAIN;
    }
    if (state == FAILED) {
        return future->err;
    }
    if (value != NULL) {
        *value = future->value;
    }
    return 0;
}

int eddy__futures_check(eddy_loop *loop)
{
    if (loop == NULL) {
        return -EINVAL;
    }
    int rc = eddy__loop_check_thread(loop);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&futures_lock);
    bool closed = eddy__loop_futures(loop)->registrations == &closed_marker;
    pthread_mutex_unlock(&futures_lock);
    return closed ? -ESHUTDOWN : 0;
}

/* The future is already done: post at once. The loop thread is the
 * caller, so the loop cannot close meanwhile and no lock is needed. */
static int post_done(struct registration *reg)
{
    void (*dispose)(void *) = reg->dispose;
    /* A failed call never calls the owner's hooks (SPEC §1.3). */
    reg->dispose = NULL;
    int rc = eddy__loop_add_callback_owned(reg->loop, registration_run, reg,
                                           registration_discard);
    if (rc == 0) {
        reg->dispose = dispose;
    } else if (rc != -ESHUTDOWN) {
        registration_discard(reg);
    }
    return rc;
}

int eddy__loop_add_future_owned(eddy_loop *loop, eddy_future *future,
                                eddy_future_cb cb, void *arg,
                                void (*dispose)(void *arg))
{
    if (future == NULL || cb == NULL) {
        return -EINVAL;
    }
    int rc = eddy__futures_check(loop);
    if (rc != 0) {
        return rc;
    }
    struct registration *reg = eddy__calloc(1, sizeof(*reg));
    if (reg == NULL) {
        return -ENOMEM;
    }
    reg->loop = loop;
    reg->future = eddy_future_retain(future);
    reg->cb = cb;
    reg->arg = arg;
    reg->dispose = dispose;
    pthread_mutex_lock(&futures_lock);
    bool pending = !eddy_future_done(future);
    if (pending) {
        reg->fnext = future->waiters;
        if (reg->fnext != NULL) {
            reg->fnext->fprev = reg;
        }
        future->waiters = reg;
        loop_list_push(reg);
    }
    pthread_mutex_unlock(&futures_lock);
    /* SPEC §4.8: even a done future's callback runs in a later iteration. */
    return pending ? 0 : post_done(reg);
}

int eddy_loop_add_future(eddy_loop *loop, eddy_future *future,
                         eddy_future_cb cb, void *arg)
{
    return eddy__loop_add_future_owned(loop, future, cb, arg, NULL);
}

/* SPEC §2.10: close discards pending future callbacks. Once the lock is
 * released no resolver can reach this loop: every registration left its
 * future's list under the lock. */
void eddy__futures_loop_close(eddy_loop *loop)
{
    struct eddy__future_state *fs = eddy__loop_futures(loop);
    pthread_mutex_lock(&futures_lock);
    struct registration *reg = fs->registrations;
    if (NEVER((void *)reg == (void *)&closed_marker)) {
        reg = NULL; /* the loop closes once */
    }
    fs->registrations = &closed_marker;
    for (struct registration *r = reg; r != NULL; r = r->lnext) {
        if (!r->queued_as_signal) {
            future_list_unlink(r);
        }
    }
    pthread_mutex_unlock(&futures_lock);
    while (reg != NULL) {
        struct registration *next = reg->lnext;
        registration_discard(reg);
        reg = next;
    }
    /* Joining the workers happens outside futures_lock: their jobs
     * resolve futures, which takes it. */
    if (fs->owns_default_executor) {
        eddy_executor_free(fs->default_executor);
    }
    fs->default_executor = NULL;
    fs->owns_default_executor = false;
}
