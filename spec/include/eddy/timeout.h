/* eddy/timeout.h - SPEC §5: timeouts.
 *
 * A timeout handle is a value, not a pointer: removing a handle that already
 * ran, was already removed, or belongs to another loop is safe.
 */
#ifndef EDDY_TIMEOUT_H
#define EDDY_TIMEOUT_H

#include <stdint.h>

#include "eddy/callback.h"
#include "eddy/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An opaque timeout handle. 0 is never a valid handle (SPEC §5.6). */
typedef uint64_t eddy_timeout;

/* Tornado IOLoop.call_at(when, callback): run cb(loop, arg) once
 * eddy_loop_time(loop) >= when. A deadline in the past is due at once.
 *
 * Returns: 0 and *out (if out is not NULL), the handle.
 * Errors: -EINVAL cb is NULL or when is NaN or infinite; -ERANGE when is
 *   too far from now to be represented; -ENOMEM; -ESHUTDOWN closed; -EPERM
 *   wrong thread.
 * Thread-safety: loop thread.
 * SPEC §5.1, §5.3
 */
int eddy_loop_call_at(eddy_loop *loop, double when, eddy_callback_cb cb,
                      void *arg, eddy_timeout *out);

/* Tornado IOLoop.call_later(delay, callback): call_at(time() + delay_s).
 * A negative delay is due at once.
 *
 * Returns, Errors: as eddy_loop_call_at (-EINVAL also for NaN or infinite
 *   delay_s).
 * Thread-safety: loop thread.
 * SPEC §5.2, §5.3
 */
int eddy_loop_call_later(eddy_loop *loop, double delay_s, eddy_callback_cb cb,
                         void *arg, eddy_timeout *out);

/* Tornado IOLoop.add_timeout(deadline, callback) with a number: the same as
 * eddy_loop_call_at. SPEC §5.4 */
int eddy_loop_add_timeout(eddy_loop *loop, double deadline,
                          eddy_callback_cb cb, void *arg, eddy_timeout *out);

/* Tornado IOLoop.add_timeout(deadline, callback) with a datetime.timedelta:
 * a deadline relative to now, the same as eddy_loop_call_later. SPEC §5.4 */
int eddy_loop_add_timeout_delta(eddy_loop *loop, double delta_s,
                                eddy_callback_cb cb, void *arg,
                                eddy_timeout *out);

/* Tornado IOLoop.remove_timeout(timeout): cancel a pending timeout.
 *
 * Returns: 0, the timeout was pending and will not run.
 * Errors: -ENOENT nothing to cancel: the handle already ran, was already
 *   removed, is 0, or was not issued by this loop; nothing changes
 *   (Tornado: a silent no-op). -ESHUTDOWN closed; -EPERM wrong thread.
 * Thread-safety: loop thread.
 * SPEC §5.5, §5.6
 */
int eddy_loop_remove_timeout(eddy_loop *loop, eddy_timeout timeout);

#ifdef __cplusplus
}
#endif

#endif /* EDDY_TIMEOUT_H */
