/* eddy/loop.h - SPEC §2: the loop object, its clock and its lifecycle.
 *
 * An eddy_loop is Tornado's IOLoop: one thread runs it with eddy_loop_start;
 * every other function in this binding except eddy_loop_add_callback must be
 * called from that thread while the loop runs (SPEC §1.6).
 */
#ifndef EDDY_LOOP_H
#define EDDY_LOOP_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eddy_loop eddy_loop;
typedef struct eddy_future eddy_future;

/* What a new loop does about the thread's current loop (SPEC §2.3). */
enum eddy_make_current {
    EDDY_CURRENT_IF_NONE = 0, /* Tornado make_current=None: if none is. */
    EDDY_CURRENT_FORCE = 1,   /* make_current=True: fail if another is. */
    EDDY_CURRENT_NEVER = 2    /* make_current=False. */
};

/* How a callback that "raises" is reported (SPEC §1.5): every eddy callback
 * returns 0, or a negative errno value to report a failure. The loop passes
 * that value here and goes on. */
typedef void (*eddy_error_cb)(eddy_loop *loop, int err, void *arg);

/* Create a loop.
 *
 * Returns: 0 and *out, a new open loop that is not running.
 * Errors: -EINVAL make_current is not an enum eddy_make_current value or
 *   out is NULL; -EEXIST EDDY_CURRENT_FORCE and another loop is current in
 *   this thread; -ENOMEM, -EMFILE, -ENFILE out of memory or descriptors.
 * Ownership: the caller owns the loop and releases it with eddy_loop_free.
 * Thread-safety: any thread; the calling thread's current loop may change.
 * SPEC §2.1, §2.3
 */
int eddy_loop_new(int make_current, eddy_loop **out);

/* Release a loop: close it (as eddy_loop_close(loop, false)) if it is still
 * open, then free its memory. NULL is a no-op.
 *
 * Returns: 0.
 * Errors: -EBUSY the loop is running (nothing is done).
 * Ownership: loop is invalid after a 0 return.
 * Thread-safety: loop thread.
 * SPEC §2.12
 */
int eddy_loop_free(eddy_loop *loop);

/* Tornado IOLoop.current(instance).
 *
 * Returns: 0 and *out, the calling thread's current loop. With instance
 *   true and no current loop, a new loop is created as by
 *   eddy_loop_new(EDDY_CURRENT_IF_NONE), made current and returned; the
 *   caller then owns it.
 * Errors: -ENOENT no current loop and instance is false; -EINVAL out is
 *   NULL; the errors of eddy_loop_new.
 * Thread-safety: any thread (each thread has its own current loop).
 * SPEC §2.2
 */
int eddy_loop_current(bool instance, eddy_loop **out);

/* Deprecated alias of eddy_loop_current(true, out). SPEC §2.4 */
int eddy_loop_instance(eddy_loop **out);

/* Make loop the calling thread's current loop.
 *
 * Returns: 0.
 * Errors: -ESHUTDOWN the loop is closed; -EPERM it is running on another
 *   thread.
 * Thread-safety: loop thread.
 * SPEC §2.2
 */
int eddy_loop_make_current(eddy_loop *loop);

/* Deprecated alias of eddy_loop_make_current. SPEC §2.4 */
int eddy_loop_install(eddy_loop *loop);

/* Clear the calling thread's current loop; a no-op when none is current.
 * Thread-safety: any thread (it touches only the caller's own state).
 * SPEC §2.2
 */
void eddy_loop_clear_current(void);

/* Deprecated alias of eddy_loop_clear_current. SPEC §2.4 */
void eddy_loop_clear_instance(void);

/* Tornado IOLoop.time(): the loop's clock in seconds from an unspecified
 * origin. The reference uses CLOCK_MONOTONIC.
 *
 * Returns: the time, or NaN when loop is NULL.
 * Thread-safety: any thread.
 * SPEC §2.5
 */
double eddy_loop_time(const eddy_loop *loop);

/* Run the loop until eddy_loop_stop is called (SPEC §2.6, iteration model
 * in §2.13).
 *
 * Returns: 0 once stopped.
 * Errors: -EBUSY the loop is already running (nested start, or another
 *   thread runs it); -ESHUTDOWN the loop is closed; -EPERM the caller is
 *   inside a callback of another running loop on this thread; any error
 *   other than EINTR from the poll step (the loop is then stopped and
 *   still usable).
 * Thread-safety: the calling thread becomes the loop thread until return.
 * SPEC §2.6, §2.9
 */
int eddy_loop_start(eddy_loop *loop);

/* Stop the loop: start() returns after the current iteration completes.
 * If the loop is not running, the next start() runs exactly one iteration
 * and returns (SPEC §2.7).
 *
 * Returns: 0.
 * Errors: -ESHUTDOWN closed; -EPERM called from a thread other than the
 *   one running the loop (use eddy_loop_add_callback to stop it from there).
 * Thread-safety: loop thread.
 * SPEC §2.7
 */
int eddy_loop_stop(eddy_loop *loop);

/* What eddy_loop_run_sync runs inside the loop. It returns 0, or a
 * negative errno value to "raise" it synchronously. To make run_sync wait,
 * it stores a future in *out_future (run_sync takes over that reference);
 * leaving it NULL is Tornado's "returns None". */
typedef int (*eddy_run_sync_cb)(eddy_loop *loop, void *arg,
                                eddy_future **out_future);

/* The run_sync timeout value meaning "no timeout" (Tornado timeout=None). */
#define EDDY_NO_TIMEOUT (-1.0)

/* Tornado IOLoop.run_sync(func, timeout): queue func as by add_callback,
 * run the loop until func has returned and the future it returned (if any)
 * is done, then stop the loop.
 *
 * Returns: 0, and *result (when result is not NULL) is the future's value,
 *   or NULL when func returned no future.
 * Errors: the negative value func returned; the error the future was
 *   resolved with (-ECANCELED if cancelled); -ETIMEDOUT the timeout expired
 *   first: the future is cancelled and the loop is left stopped, open and
 *   reusable; -ETIMEDOUT also when a callback stopped the loop before the
 *   future was done (the future is then not cancelled, SPEC §2.17);
 *   -EINVAL func is NULL, or timeout_s is NaN, infinite, or negative other
 *   than EDDY_NO_TIMEOUT; the errors of eddy_loop_start.
 * Ownership: run_sync releases the future it was given.
 * Thread-safety: as eddy_loop_start.
 * SPEC §2.8
 */
int eddy_loop_run_sync(eddy_loop *loop, double timeout_s,
                       eddy_run_sync_cb func, void *arg, void **result);

/* Tornado IOLoop.close(all_fds): unregister every handler (closing each
 * registered fd, or calling its object's close function, when all_fds is
 * true), discard pending callbacks, timeouts and future callbacks without
 * running them, and release the loop's own descriptors and threads. The
 * object stays allocated until eddy_loop_free; later calls on it return
 * -ESHUTDOWN.
 *
 * Returns: 0.
 * Errors: -EBUSY the loop is running (nothing is done); -ESHUTDOWN it was
 *   already closed (nothing is done).
 * Thread-safety: loop thread.
 * SPEC §2.10, §2.11
 */
int eddy_loop_close(eddy_loop *loop, bool all_fds);

/* Set the function told about callbacks that report a failure (SPEC §1.5).
 * NULL restores the default, which ignores them.
 *
 * Returns: 0.
 * Errors: -ESHUTDOWN closed; -EPERM wrong thread.
 * Thread-safety: loop thread.
 * SPEC §1.5
 */
int eddy_loop_set_error_handler(eddy_loop *loop, eddy_error_cb cb,
                                void *arg);

#ifdef __cplusplus
}
#endif

#endif /* EDDY_LOOP_H */
