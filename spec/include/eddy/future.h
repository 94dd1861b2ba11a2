/* eddy/future.h - SPEC §4.7-§4.10: futures, add_future and executors.
 *
 * A future is a reference-counted result slot that any thread may resolve;
 * an executor is a pool of worker threads. Together they give Tornado's
 * add_future, run_in_executor and set_default_executor.
 */
#ifndef EDDY_FUTURE_H
#define EDDY_FUTURE_H

#include <stdbool.h>

#include "eddy/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eddy_executor eddy_executor;

/* Called on the loop thread once the future is done. Returns 0, or a
 * negative errno value to report a failure (SPEC §1.5). */
typedef int (*eddy_future_cb)(eddy_loop *loop, eddy_future *future,
                              void *arg);

/* Work for an executor: runs on a worker thread. Returns 0 and sets
 * *result, or returns a negative errno value (the future's error). */
typedef int (*eddy_work_cb)(void *arg, void **result);

/* Create a pending future holding one reference.
 * Returns: 0 and *out. Errors: -EINVAL out is NULL; -ENOMEM.
 * Ownership: the caller owns the reference (eddy_future_release).
 * Thread-safety: any thread.
 * SPEC §4.7
 */
int eddy_future_new(eddy_future **out);

/* Take one more reference. Returns future. Thread-safety: any thread. */
eddy_future *eddy_future_retain(eddy_future *future);

/* Drop one reference; the last one frees the future. NULL is a no-op.
 * Thread-safety: any thread. */
void eddy_future_release(eddy_future *future);

/* Resolve with a value.
 * Returns: 0. Errors: -EALREADY the future is already done (it keeps its
 *   first outcome).
 * Thread-safety: any thread.
 * SPEC §4.7
 */
int eddy_future_set_result(eddy_future *future, void *value);

/* Resolve with an error err < 0.
 * Returns: 0. Errors: -EINVAL err >= 0; -EALREADY already done.
 * Thread-safety: any thread.
 * SPEC §4.7
 */
int eddy_future_set_error(eddy_future *future, int err);

/* Cancel: resolve with -ECANCELED if still pending.
 * Returns: 0. Errors: -EALREADY already done.
 * Thread-safety: any thread.
 * SPEC §4.7
 */
int eddy_future_cancel(eddy_future *future);

/* Whether the future is done (resolved, failed or cancelled).
 * Thread-safety: any thread. */
bool eddy_future_done(const eddy_future *future);

/* Read the outcome.
 * Returns: 0 and *value (if value is not NULL) for a result.
 * Errors: -EAGAIN still pending; -ECANCELED cancelled; otherwise the error
 *   the future was resolved with.
 * Thread-safety: any thread.
 * SPEC §4.7
 */
int eddy_future_result(const eddy_future *future, void **value);

/* Tornado IOLoop.add_future(future, callback): once future is done, run
 * cb(loop, future, arg) on the loop thread in a later iteration (never
 * synchronously, even if it is already done). The loop holds a reference
 * to the future until then.
 *
 * Returns: 0.
 * Errors: -EINVAL future or cb is NULL; -ENOMEM; -ESHUTDOWN closed; -EPERM
 *   wrong thread.
 * Thread-safety: loop thread.
 * SPEC §4.8
 */
int eddy_loop_add_future(eddy_loop *loop, eddy_future *future,
                         eddy_future_cb cb, void *arg);

/* Create an executor with nthreads worker threads.
 * Returns: 0 and *out. Errors: -EINVAL nthreads is 0 or out is NULL;
 *   -ENOMEM; -EAGAIN threads could not be created.
 * Thread-safety: any thread.
 * SPEC §4.9
 */
int eddy_executor_new(unsigned nthreads, eddy_executor **out);

/* Finish every submitted job, join the workers and free the executor.
 * NULL is a no-op. Must not be called from one of its own workers, nor
 * while it is some open loop's default executor.
 * Thread-safety: any thread.
 * SPEC §4.9
 */
void eddy_executor_free(eddy_executor *executor);

/* Tornado IOLoop.run_in_executor(executor, func): run fn(arg, &result) on
 * a worker of executor (NULL: the loop's default executor, created on
 * first use with a reference number of workers) and resolve a future with
 * its outcome.
 *
 * Returns: 0 and *out, a future owned by the caller.
 * Errors: -EINVAL fn or out is NULL; -ENOMEM; -EAGAIN no worker thread
 *   could be started; -ESHUTDOWN closed; -EPERM wrong thread.
 * Thread-safety: loop thread.
 * SPEC §4.9
 */
int eddy_loop_run_in_executor(eddy_loop *loop, eddy_executor *executor,
                              eddy_work_cb fn, void *arg, eddy_future **out);

/* Tornado IOLoop.set_default_executor(executor): the executor used when
 * run_in_executor gets NULL. The caller keeps ownership and must keep it
 * alive until the loop is closed or another default is set.
 *
 * Returns: 0. Errors: -EINVAL executor is NULL; -ESHUTDOWN closed; -EPERM
 *   wrong thread.
 * Thread-safety: loop thread.
 * SPEC §4.10
 */
int eddy_loop_set_default_executor(eddy_loop *loop, eddy_executor *executor);

#ifdef __cplusplus
}
#endif

#endif /* EDDY_FUTURE_H */
