/* impl/executor.c - SPEC §4.9 executors and run_in_executor, §4.10
 * set_default_executor.
 *
 * Key decision: a fixed pool of threads sharing one mutex-guarded FIFO of
 * jobs; free() lets the workers drain the queue before joining them, so
 * every submitted job runs and every future it owns is resolved. Workers
 * block all signals, so process-directed signals reach application threads.
 */
#include "eddy/future.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "internal.h"

struct job {
    struct job *next;
    eddy_work_cb fn;
    void *arg;
    eddy_future *future; /* one reference, dropped once resolved */
};

struct eddy_executor {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct job *head; /* guarded by lock, FIFO */
    struct job **tail;
    bool stopping;     /* guarded by lock */
    unsigned started;  /* workers running; only the owner touches it */
    pthread_t workers[];
};

/* SPEC §4.9: run one job and resolve its future with the outcome. */
static void run_job(struct job *job)
{
    void *value = NULL;
    int rc = job->fn(job->arg, &value);
    /* The caller may have cancelled the future: -EALREADY is expected.
     * A positive return is outside the contract and counts as success. */
    if (rc < 0) {
        (void)eddy_future_set_error(job->future, rc);
    } else {
        (void)eddy_future_set_result(job->future, value);
    }
    eddy_future_release(job->future);
    eddy__free(job);
}

static void *worker_main(void *arg)
{
    eddy_executor *ex = arg;
    pthread_mutex_lock(&ex->lock);
    for (;;) {
        while (ex->head == NULL && !ex->stopping) {
            pthread_cond_wait(&ex->ready, &ex->lock);
        }
        struct job *job = ex->head;
        if (job == NULL) {
            break; /* stopping and drained */
        }
        ex->head = job->next;
        if (ex->head == NULL) {
            ex->tail = &ex->head;
        }
        pthread_mutex_unlock(&ex->lock);
        run_job(job);
        pthread_mutex_lock(&ex->lock);
    }
    pthread_mutex_unlock(&ex->lock);
    return NULL;
}

/* Tell the workers to finish the queue, then join them. */
static void stop_workers(eddy_executor *ex)
{
    pthread_mutex_lock(&ex->lock);
    ex->stopping = true;
    pthread_cond_broadcast(&ex->ready);
    pthread_mutex_unlock(&ex->lock);
    for (unsigned i = 0; i < ex->started; i++) {
        pthread_join(ex->workers[i], NULL);
    }
    ex->started = 0;
}

/* Start nthreads workers with every signal blocked (they inherit the
 * creating thread's mask, which is restored afterwards). */
static int start_workers(eddy_executor *ex, unsigned nthreads)
{
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    while (ex->started < nthreads && rc == 0) {
        rc = pthread_create(&ex->workers[ex->started], NULL, worker_main, ex);
        if (rc == 0) {
            ex->started++;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* SPEC §4.9: any thread creation failure reads as -EAGAIN. */
    return rc == 0 ? 0 : -EAGAIN;
}

static int init_sync(eddy_executor *ex)
{
    int rc = pthread_mutex_init(&ex->lock, NULL);
    if (rc != 0) {
        return -rc;
    }
    rc = pthread_cond_init(&ex->ready, NULL);
    if (rc != 0) {
        pthread_mutex_destroy(&ex->lock);
        return -rc;
    }
    return 0;
}

int eddy_executor_new(unsigned nthreads, eddy_executor **out)
{
    if (nthreads == 0 || out == NULL) {
        return -EINVAL;
    }
    size_t n = nthreads; /* the size only overflows where size_t is small */
    if (n > (SIZE_MAX - sizeof(eddy_executor)) / sizeof(pthread_t)) {
        return -ENOMEM;
    }
    eddy_executor *ex = eddy__calloc(1, sizeof(*ex) + n * sizeof(pthread_t));
    if (ex == NULL) {
        return -ENOMEM;
    }
    ex->tail = &ex->head;
    int rc = init_sync(ex);
    if (rc != 0) {
        goto fail_sync;
    }
    rc = start_workers(ex, nthreads);
    if (rc != 0) {
        goto fail_workers;
    }
    *out = ex;
    return 0;

fail_workers:
    stop_workers(ex);
    pthread_cond_destroy(&ex->ready);
    pthread_mutex_destroy(&ex->lock);
fail_sync:
    eddy__free(ex);
    return rc;
}

void eddy_executor_free(eddy_executor *executor)
{
    if (executor == NULL) {
        return;
    }
    stop_workers(executor);
    pthread_cond_destroy(&executor->ready);
    pthread_mutex_destroy(&executor->lock);
    eddy__free(executor);
}

static int submit(eddy_executor *ex, eddy_work_cb fn, void *arg,
                  eddy_future *future)
{
    struct job *job = eddy__malloc(sizeof(*job));
    if (job == NULL) {
        return -ENOMEM;
    }
    job->next = NULL;
    job->fn = fn;
    job->arg = arg;
    job->future = eddy_future_retain(future);
    pthread_mutex_lock(&ex->lock);
    *ex->tail = job;
    ex->tail = &job->next;
    pthread_cond_signal(&ex->ready);
    pthread_mutex_unlock(&ex->lock);
    return 0;
}

unsigned eddy__default_executor_threads(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) {
        cpus = 1;
    }
    if (cpus > 4096) {
        cpus = 4096; /* keeps the product far from overflow */
    }
    return (unsigned)cpus * 5u;
}

/* SPEC §4.9: executor NULL means the loop's default, created on first
 * use and owned (freed at close) by the loop. */
static int default_executor(eddy_loop *loop, eddy_executor **out)
{
    struct eddy__future_state *fs = eddy__loop_futures(loop);
    if (fs->default_executor == NULL) {
        eddy_executor *ex = NULL;
        int rc = eddy_executor_new(eddy__default_executor_threads(), &ex);
        if (rc != 0) {
            return rc;
        }
        fs->default_executor = ex;
        fs->owns_default_executor = true;
    }
    *out = fs->default_executor;
    return 0;
}

int eddy_loop_run_in_executor(eddy_loop *loop, eddy_executor *executor,
                              eddy_work_cb fn, void *arg, eddy_future **out)
{
    if (fn == NULL || out == NULL) {
        return -EINVAL;
    }
    int rc = eddy__futures_check(loop);
    if (rc == 0 && executor == NULL) {
        rc = default_executor(loop, &executor);
    }
    if (rc != 0) {
        return rc;
    }
    eddy_future *future = NULL;
    rc = eddy_future_new(&future);
    if (rc != 0) {
        return rc;
    }
    rc = submit(executor, fn, arg, future);
    if (rc != 0) {
        eddy_future_release(future);
        return rc;
    }
    *out = future;
    return 0;
}

int eddy_loop_set_default_executor(eddy_loop *loop, eddy_executor *executor)
{
    if (executor == NULL) {
        return -EINVAL;
    }
    int rc = eddy__futures_check(loop);
    if (rc != 0) {
        return rc;
    }
    struct eddy__future_state *fs = eddy__loop_futures(loop);
    /* The loop's own pool would otherwise leak: finish its jobs (this
     * waits for them) and free it before adopting the caller's. */
    if (fs->owns_default_executor && fs->default_executor != executor) {
        eddy_executor_free(fs->default_executor);
    }
    fs->default_executor = executor;
    fs->owns_default_executor = false;
    return 0;
}
