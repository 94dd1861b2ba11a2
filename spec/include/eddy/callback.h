/* eddy/callback.h - SPEC §4: callbacks for the next iteration.
 *
 * eddy_loop_add_callback is the only loop function that any thread may call;
 * eddy_loop_add_callback_from_signal is the only one a signal handler may
 * call.
 */
#ifndef EDDY_CALLBACK_H
#define EDDY_CALLBACK_H

#include "eddy/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A callback. Returns 0, or a negative errno value to report a failure
 * (SPEC §1.5). */
typedef int (*eddy_callback_cb)(eddy_loop *loop, void *arg);

/* How many callbacks eddy_loop_add_callback_from_signal can hold between
 * two iterations of one loop (SPEC §4.6). */
#define EDDY_SIGNAL_QUEUE_MIN 64

/* Tornado IOLoop.add_callback(callback): run cb(loop, arg) on the loop
 * thread in a later iteration, never synchronously. Callbacks added by one
 * thread run in the order they were added.
 *
 * Returns: 0.
 * Errors: -EINVAL cb is NULL; -ENOMEM; -ESHUTDOWN the loop is closed (cb
 *   will never run).
 * Ownership: arg stays the caller's.
 * Thread-safety: any thread, not a signal handler. Not after eddy_loop_free.
 * SPEC §4.1, §4.2, §4.3, §4.4
 */
int eddy_loop_add_callback(eddy_loop *loop, eddy_callback_cb cb, void *arg);

/* Tornado IOLoop.spawn_callback: exactly eddy_loop_add_callback. SPEC §4.5 */
int eddy_loop_spawn_callback(eddy_loop *loop, eddy_callback_cb cb,
                             void *arg);

/* Tornado IOLoop.add_callback_from_signal: as eddy_loop_add_callback, and
 * safe in a signal handler: it takes no lock and allocates nothing.
 *
 * Returns: 0.
 * Errors: -EINVAL cb is NULL; -EAGAIN the signal queue is full (it holds at
 *   least EDDY_SIGNAL_QUEUE_MIN entries); -ESHUTDOWN the loop is closed.
 * Thread-safety: async-signal-safe; any thread.
 * SPEC §4.6
 */
int eddy_loop_add_callback_from_signal(eddy_loop *loop, eddy_callback_cb cb,
                                       void *arg);

#ifdef __cplusplus
}
#endif

#endif /* EDDY_CALLBACK_H */
