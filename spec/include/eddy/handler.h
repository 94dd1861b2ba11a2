/* eddy/handler.h - SPEC §3: I/O handlers on file descriptors.
 *
 * A handler is keyed by its fd: one registration per fd and loop. Readiness
 * is level-triggered: the handler runs on every iteration while its fd is
 * ready for an event it asked for.
 */
#ifndef EDDY_HANDLER_H
#define EDDY_HANDLER_H

#include "eddy/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Event bits, with Tornado's values (SPEC §3.1). */
#define EDDY_NONE 0x000u
#define EDDY_READ 0x001u
#define EDDY_WRITE 0x004u
#define EDDY_ERROR 0x018u

/* Called on the loop thread with the ready events of fd. Returns 0, or a
 * negative errno value to report a failure (SPEC §1.5); the handler stays
 * registered either way. */
typedef int (*eddy_handler_cb)(eddy_loop *loop, int fd, unsigned events,
                               void *arg);

/* The close function of a registered "object" (SPEC §3.8): called once by
 * eddy_loop_close(loop, true) instead of close(fd). */
typedef void (*eddy_close_cb)(int fd, void *obj);

/* Tornado IOLoop.add_handler(fd, handler, events).
 *
 * Returns: 0; cb(loop, fd, ready, arg) then runs whenever fd is ready.
 * Errors: -EBADF fd is negative or not an open descriptor; -EEXIST fd is
 *   already registered on this loop; -EINVAL cb is NULL or events has bits
 *   outside EDDY_READ | EDDY_WRITE | EDDY_ERROR; -ENOMEM; -ESHUTDOWN
 *   closed; -EPERM wrong thread. After an error nothing is registered.
 * Ownership: the fd stays the caller's; the loop never closes it except in
 *   eddy_loop_close(loop, true).
 * Thread-safety: loop thread.
 * SPEC §3.2
 */
int eddy_loop_add_handler(eddy_loop *loop, int fd, unsigned events,
                          eddy_handler_cb cb, void *arg);

/* add_handler for a file-like object: as eddy_loop_add_handler with obj as
 * the handler's arg, and close_cb(fd, obj) instead of close(fd) when the
 * loop is closed with all_fds. close_cb may be NULL (then the fd is not
 * closed by the loop).
 *
 * Returns, Errors, Thread-safety: as eddy_loop_add_handler.
 * SPEC §3.8
 */
int eddy_loop_add_handler_object(eddy_loop *loop, int fd, unsigned events,
                                 eddy_handler_cb cb, void *obj,
                                 eddy_close_cb close_cb);

/* Tornado IOLoop.update_handler(fd, events): replace the events fd is
 * watched for. EDDY_NONE keeps the registration but watches nothing.
 *
 * Returns: 0.
 * Errors: -ENOENT fd is not registered on this loop; -EINVAL bad events
 *   bits; -ESHUTDOWN closed; -EPERM wrong thread.
 * Thread-safety: loop thread.
 * SPEC §3.5
 */
int eddy_loop_update_handler(eddy_loop *loop, int fd, unsigned events);

/* Tornado IOLoop.remove_handler(fd): stop watching fd. The handler is not
 * called again, even when fd was already found ready in the current
 * iteration.
 *
 * Returns: 0.
 * Errors: -ENOENT fd is not registered (Tornado: a silent no-op; nothing
 *   changes); -ESHUTDOWN closed; -EPERM wrong thread.
 * Thread-safety: loop thread.
 * SPEC §3.6
 */
int eddy_loop_remove_handler(eddy_loop *loop, int fd);

#ifdef __cplusplus
}
#endif

#endif /* EDDY_HANDLER_H */
