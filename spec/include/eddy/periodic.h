/* eddy/periodic.h - SPEC §6: PeriodicCallback.
 *
 * The period is in milliseconds, as in Tornado. Calls are scheduled on a
 * fixed grid measured from start(); a call that overruns skips the grid
 * points it missed.
 */
#ifndef EDDY_PERIODIC_H
#define EDDY_PERIODIC_H

#include <stdbool.h>

#include "eddy/callback.h"
#include "eddy/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eddy_periodic eddy_periodic;

/* Tornado PeriodicCallback(callback, callback_time, jitter). loop may be
 * NULL: then start() uses the calling thread's current loop, as Tornado
 * does.
 *
 * Returns: 0 and *out, a stopped periodic callback.
 * Errors: -EINVAL cb or out is NULL, callback_time_ms is not a finite
 *   number > 0, or jitter is not in [0, 1]; -ENOMEM.
 * Ownership: the caller owns it (eddy_periodic_free).
 * Thread-safety: any thread.
 * SPEC §6.1, §6.7
 */
int eddy_periodic_new(eddy_loop *loop, double callback_time_ms, double jitter,
                      eddy_callback_cb cb, void *arg, eddy_periodic **out);

/* Stop (if running) and free. NULL is a no-op.
 * Thread-safety: the thread of its loop. SPEC §6.4 */
void eddy_periodic_free(eddy_periodic *periodic);

/* Start: the first call is due one period after now; later calls follow
 * the rule of SPEC §6.5.
 *
 * Returns: 0.
 * Errors: -EALREADY already running; -ENOENT no loop was given and the
 *   thread has no current loop; -ESHUTDOWN the loop is closed; -EPERM wrong
 *   thread; -ENOMEM.
 * Thread-safety: loop thread.
 * SPEC §6.2
 */
int eddy_periodic_start(eddy_periodic *periodic);

/* Stop: no further call happens, including one already due in the
 * current iteration. Stopping a stopped periodic is a no-op.
 * Returns: 0. Errors: -EPERM wrong thread.
 * Thread-safety: loop thread.
 * SPEC §6.3
 */
int eddy_periodic_stop(eddy_periodic *periodic);

/* Tornado PeriodicCallback.is_running(). Thread-safety: loop thread.
 * SPEC §6.4 */
bool eddy_periodic_is_running(const eddy_periodic *periodic);

/* The scheduling rule of SPEC §6.5 as a pure function: the next call time
 * (seconds) after a call scheduled for next_s that ran at now_s, with
 * period callback_time_ms, jitter and u, a uniform random number in [0, 1).
 * Thread-safety: any thread.
 * SPEC §6.5, §6.6
 */
double eddy_periodic_next(double next_s, double now_s,
                          double callback_time_ms, double jitter, double u);

#ifdef __cplusplus
}
#endif

#endif /* EDDY_PERIODIC_H */
