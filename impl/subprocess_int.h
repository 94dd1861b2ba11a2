/* impl/subprocess_int.h - what the three files of SPEC §8 share:
 * subprocess.c (the object and its API), sigchld.c (the process-wide
 * SIGCHLD handling and the registry of children) and spawn.c (fork/exec).
 */
#ifndef EDDY_SUBPROCESS_INT_H
#define EDDY_SUBPROCESS_INT_H

#include <stdatomic.h>

#include "internal.h"

struct eddy__waiter {
    eddy_future *future;
    bool raise_error;
};

struct eddy_subprocess {
    eddy_loop *loop;
    int pid;
    atomic_int refs; /* the caller's, the registry's, posted callbacks' */

    /* Guarded by the registry lock (sigchld.c). */
    struct eddy_subprocess *prev, *next;
    bool registered;
    bool detached; /* freed by the caller: reap silently */
    bool reaped;   /* waited for: status is final */
    int status;    /* the returncode, or EDDY_RETURNCODE_UNKNOWN (lost) */

    /* Loop thread only. */
    bool finished; /* the exit was delivered: returncode is known */
    bool freed;
    int returncode;
    eddy_subprocess_exit_cb exit_cb;
    void *exit_arg;
    struct eddy__waiter *waiters;
    size_t nwaiters, waitcap;
    eddy_stream *streams[3];
};

/* --- subprocess.c --------------------------------------------------------- */

void eddy__subprocess_retain(eddy_subprocess *p);
/* Drop one reference (void * so it can be a dispose function). */
void eddy__subprocess_release(void *p);
/* The callback that reports a reaped child on its own loop; it takes over
 * the registry's reference. */
int eddy__subprocess_deliver(eddy_loop *loop, void *p);

/* --- sigchld.c ------------------------------------------------------------ */

/* Add a started child to the registry (taking a reference). */
void eddy__sigchld_register(eddy_subprocess *p);
/* Try to reap p now (WNOHANG); if it ended, post its exit. */
void eddy__sigchld_reap_one(eddy_subprocess *p);
/* The caller freed p: reap it silently whenever it ends. */
void eddy__sigchld_detach(eddy_subprocess *p);
/* eddy_subprocess_initialize(loop) unless some loop is initialized. */
int eddy__sigchld_ensure(eddy_loop *loop);

/* --- spawn.c -------------------------------------------------------------- */

/* The three standard streams of a child being started. */
struct eddy__stdio {
    int opt[3];     /* in: EDDY_INHERIT, EDDY_STREAM, EDDY_DEVNULL or fd */
    int child[3];   /* what the child gets as fd i; -1: inherit */
    int parent[3];  /* EDDY_STREAM: the parent's end, else -1 */
    bool made[3];   /* child[i] was opened here and is closed here */
};

/* Check the options and open the pipes and /dev/null they ask for; the
 * parent's ends are non-blocking, every fd is close-on-exec. Returns 0, or
 * -EINVAL / -EBADF / -EMFILE ... with nothing left open. */
int eddy__stdio_open(struct eddy__stdio *io);

/* Close the child's ends opened by eddy__stdio_open (the parent's ends are
 * the caller's). */
void eddy__stdio_close_child(struct eddy__stdio *io);

/* Fork and exec argv (PATH searched as execvp does) with child_fds as its
 * fds 0..2 (-1: inherit). Returns the pid (> 0), or -errno: a failed fork,
 * or the exec's error, in which case the child has already been reaped. */
int eddy__spawn(const char *const argv[], const int child_fds[3]);

#endif /* EDDY_SUBPROCESS_INT_H */
