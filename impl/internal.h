/* impl/internal.h - declarations shared by the reference implementation's
 * files (eddy__ prefix). Never included by conformance/ or fuzz/.
 */
#ifndef EDDY_INTERNAL_H
#define EDDY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eddy.h"

/* Defensive branches (SQLite): in the coverage build they become constants
 * so that 100% branch coverage never requires deleting defensive code. */
#if defined(EDDY_COVERAGE)
#define ALWAYS(x) (1)
#define NEVER(x) (0)
#elif !defined(NDEBUG)
#include <assert.h>
#define ALWAYS(x) ((x) ? 1 : (assert(0), 0))
#define NEVER(x) ((x) ? (assert(0), 1) : 0)
#else
#define ALWAYS(x) (x)
#define NEVER(x) (x)
#endif

/* --- allocation seam (impl/alloc.c) ------------------------------------ */

void *eddy__malloc(size_t size);
void *eddy__calloc(size_t n, size_t size);
void *eddy__realloc(void *p, size_t size);
void eddy__free(void *p);

/* Fault injection for tests: make the nth allocation from now (1 = the
 * next) fail; with persist, every allocation from then on fails too.
 * nth = 0 disarms. Thread-safe. */
void eddy__alloc_fail(long nth, bool persist);
/* Allocations attempted since the last eddy__alloc_fail call. */
long eddy__alloc_count(void);

/* --- loop internals used by other files -------------------------------- */

/* eddy_loop_add_callback, plus dispose(arg) if the callback is discarded
 * unrun because the loop closes (or is already closed: then dispose runs
 * before this returns -ESHUTDOWN). dispose may be NULL. Any thread. */
int eddy__loop_add_callback_owned(eddy_loop *loop, eddy_callback_cb cb,
                                  void *arg, void (*dispose)(void *arg));

/* Report a callback's failure to the loop's error handler (SPEC §1.5). */
void eddy__loop_report(eddy_loop *loop, int err);

/* Whether the calling thread may use loop now (SPEC §1.6): 0, -ESHUTDOWN
 * or -EPERM. */
int eddy__loop_check_thread(const eddy_loop *loop);

/* Whether some thread is inside start() or run_sync() of loop. Any thread. */
bool eddy__loop_running(const eddy_loop *loop);

/* Verify the loop's invariants (heap order, index back-pointers, pollfd
 * array versus fd table). Returns true when they hold. For tests. */
bool eddy__loop_check(const eddy_loop *loop);

/* --- seams: replace the clock and poll for deterministic tests ---------- */

/* Monotonic nanoseconds. */
typedef int64_t (*eddy__clock_fn)(void *arg);
/* Same contract as poll(2); timeout_ms < 0 blocks. */
struct pollfd;
typedef int (*eddy__poll_fn)(struct pollfd *fds, unsigned long nfds,
                             int timeout_ms, void *arg);

/* NULL restores the real clock / poll. Loop thread, loop not running. */
void eddy__loop_set_clock(eddy_loop *loop, eddy__clock_fn fn, void *arg);
void eddy__loop_set_poll(eddy_loop *loop, eddy__poll_fn fn, void *arg);

/* --- per-loop state owned by impl/future.c ------------------------------ */

/* The loop zero-initialises this and never touches it otherwise. */
struct eddy__future_state {
    void *registrations;                /* future.c's own bookkeeping */
    eddy_executor *default_executor;    /* NULL until set or first used */
    bool owns_default_executor;         /* the loop made it: freed at close */
};
struct eddy__future_state *eddy__loop_futures(eddy_loop *loop);

/* Called by eddy_loop_close first, on the loop thread, before anything is
 * released: detaches every add_future registration of this loop and frees
 * the default executor if the loop owns it. Defined in impl/future.c. */
void eddy__futures_loop_close(eddy_loop *loop);

/* eddy_loop_add_future, plus dispose(arg) if the callback is discarded
 * unrun because the loop closes first. dispose is never called when this
 * returns an error. dispose may run on any thread with future.c's lock
 * held, so it must not resolve futures or add callbacks. Loop thread.
 * Defined in impl/future.c. */
int eddy__loop_add_future_owned(eddy_loop *loop, eddy_future *future,
                                eddy_future_cb cb, void *arg,
                                void (*dispose)(void *arg));

/* Whether the calling thread may use loop's futures API now: 0, -EINVAL
 * (loop is NULL), -ESHUTDOWN (closed, or its futures were already
 * detached by close) or -EPERM. Defined in impl/future.c. */
int eddy__futures_check(eddy_loop *loop);

/* The default executor size: cpu count * 5, as Tornado's base class. */
unsigned eddy__default_executor_threads(void);

/* Uniform random numbers in [0, 1) for PeriodicCallback jitter; the seam
 * lets tests fix the sequence. NULL restores the default generator. */
typedef double (*eddy__random_fn)(void *arg);
void eddy__periodic_set_random(eddy__random_fn fn, void *arg);

/* --- sockets (impl/netutil.c, impl/server.c) ----------------------------- */

struct addrinfo;
/* getaddrinfo's EAI_* result as a negated errno value (SPEC §9.9). */
int eddy__gai_error(int gai_err, int saved_errno);
/* Sort resolved addresses stably by family and drop exact duplicates in
 * place (SPEC §9.1). Returns how many are kept. */
size_t eddy__addrinfo_order(struct addrinfo **list, size_t n);
/* 0 when fd is a listening socket, else -EBADF or -EINVAL. */
int eddy__check_listening(int fd);
/* The loop an accept handler is registered on. */
eddy_loop *eddy__accept_handler_loop(const eddy_accept_handler *handler);
/* Whether eddy_loop_close(loop, true) already closed the handler's fd. */
bool eddy__accept_handler_fd_closed(const eddy_accept_handler *handler);

/* --- pipe streams and subprocesses (impl/stream.c, impl/subprocess.c) ---- */

/* Wrap fd, which must be non-blocking and close-on-exec, as a stream on
 * loop; the stream owns fd from then on (also on failure: fd is closed).
 * Returns 0 and *out, or -ENOMEM. Loop thread. */
int eddy__stream_new(eddy_loop *loop, int fd, eddy_stream **out);
/* Close the stream if open and free it; while one of the stream's own
 * callbacks runs the free is deferred until it returns. NULL is a no-op. */
void eddy__stream_free(eddy_stream *stream);

/* Replace fork(2) for the next spawns (tests of the failure paths); NULL
 * restores fork. Not thread-safe: call it before spawning. */
typedef int (*eddy__fork_fn)(void);
void eddy__subprocess_set_fork(eddy__fork_fn fn);
/* How many children the SIGCHLD registry holds (tests). */
size_t eddy__subprocess_registered(void);

#endif /* EDDY_INTERNAL_H */
