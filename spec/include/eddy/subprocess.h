/* eddy/subprocess.h - SPEC §8: Subprocess and CalledProcessError.
 *
 * An eddy_subprocess is a child process started from an argv, with pipe
 * streams on the loop and an exit notification driven by SIGCHLD. The
 * SIGCHLD handling is process-wide state (eddy_subprocess_initialize); it
 * reaps only the children this module started.
 */
#ifndef EDDY_SUBPROCESS_H
#define EDDY_SUBPROCESS_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>

#include "eddy/future.h"
#include "eddy/loop.h"
#include "eddy/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eddy_subprocess eddy_subprocess;

/* What the child's stdin, stdout or stderr is (SPEC §8.2). Any value >= 0
 * is a descriptor of the caller, duplicated onto the child's stream. */
#define EDDY_INHERIT (-1)  /* the parent's own stream (Popen None) */
#define EDDY_STREAM (-2)   /* a pipe; the parent's end is an eddy_stream */
#define EDDY_DEVNULL (-3)  /* /dev/null (Popen DEVNULL) */

/* The CalledProcessError of the C binding: the error of a
 * wait_for_exit(raise_error = true) future whose child ended with a
 * non-zero return code; eddy_subprocess_returncode gives the code
 * (SPEC §8.8). */
#define EDDY_ECALLEDPROCESS (-ECHILD)

/* The return code given to an exit callback when the child was reaped by
 * someone else and its status is lost (SPEC §8.14). */
#define EDDY_RETURNCODE_UNKNOWN INT_MIN

/* Called once on the loop thread of the subprocess after the child ended:
 * returncode is its exit status, or -signo when a signal killed it.
 * Returns 0, or a negative errno value to report a failure (SPEC §1.5). */
typedef int (*eddy_subprocess_exit_cb)(eddy_loop *loop, int returncode,
                                       void *arg);

/* Tornado Subprocess(args, stdin=, stdout=, stderr=): start argv[0] with
 * arguments argv (NULL-terminated), searched in PATH as execvp does, with
 * the caller's environment and working directory. loop NULL means the
 * calling thread's current loop. The child starts with only descriptors
 * 0, 1 and 2 open and the signal mask of the caller.
 *
 * Returns: 0 and *out, a subprocess whose child is running (or already
 *   ended).
 * Errors: -EINVAL argv, argv[0] or out is NULL, or an option is below
 *   EDDY_DEVNULL; -EBADF an option is a descriptor that is not open;
 *   -ENOENT loop is NULL and the thread has no current loop; -ESHUTDOWN
 *   the loop is closed; -EPERM wrong thread; -ENOMEM, -EMFILE, -ENFILE,
 *   -EAGAIN no memory, descriptors or process slot; the error that made
 *   exec fail (-ENOENT no such program, -EACCES not executable, -ENOEXEC,
 *   ...): then no child is left behind.
 * Ownership: argv is only read during the call; the caller owns *out
 *   (eddy_subprocess_free).
 * Thread-safety: loop thread.
 * SPEC §8.1 - §8.4, §8.21
 */
int eddy_subprocess_new(eddy_loop *loop, const char *const argv[],
                        int stdin_opt, int stdout_opt, int stderr_opt,
                        eddy_subprocess **out);

/* Release a subprocess and its streams (closing them). The child is not
 * killed: if it is still running it is reaped silently when it ends (once
 * the SIGCHLD handling is initialized). Futures of wait_for_exit still
 * pending are cancelled; the exit callback will not run. NULL is a no-op.
 * Thread-safety: loop thread; also inside its own callbacks.
 * SPEC §8.19
 */
void eddy_subprocess_free(eddy_subprocess *proc);

/* Tornado Subprocess.pid. Returns: the child's pid (> 0); -EINVAL when
 * proc is NULL. Thread-safety: any thread. SPEC §8.1 */
int eddy_subprocess_pid(const eddy_subprocess *proc);

/* Tornado Subprocess.stdin / .stdout / .stderr: the stream of an
 * EDDY_STREAM option, NULL for any other option. Ownership: the
 * subprocess's. Thread-safety: loop thread. SPEC §8.2 */
eddy_stream *eddy_subprocess_stdin(const eddy_subprocess *proc);
eddy_stream *eddy_subprocess_stdout(const eddy_subprocess *proc);
eddy_stream *eddy_subprocess_stderr(const eddy_subprocess *proc);

/* Tornado Subprocess.returncode.
 * Returns: 0 and *returncode once the exit has been processed on the loop
 *   thread (the exit status, or -signo).
 * Errors: -EINVAL a NULL pointer; -EAGAIN not yet (Tornado: None);
 *   -ESRCH the child was reaped by someone else and its status is lost.
 * Thread-safety: loop thread.
 * SPEC §8.5, §8.14
 */
int eddy_subprocess_returncode(const eddy_subprocess *proc, int *returncode);

/* Tornado Subprocess.set_exit_callback(callback): run cb(loop, returncode,
 * arg) on the subprocess's loop in an iteration after the child ended,
 * also when it ended before this call. Replaces an exit callback that has
 * not run yet. Initializes the SIGCHLD handling with the subprocess's loop
 * if it is not initialized.
 *
 * Returns: 0.
 * Errors: -EINVAL proc or cb is NULL; the errors of
 *   eddy_subprocess_initialize and of eddy_loop_add_callback.
 * Ownership: arg stays the caller's.
 * Thread-safety: loop thread.
 * SPEC §8.6, §8.9, §8.10
 */
int eddy_subprocess_set_exit_callback(eddy_subprocess *proc,
                                      eddy_subprocess_exit_cb cb, void *arg);

/* Tornado Subprocess.wait_for_exit(raise_error): a future resolved once
 * the child ended, with value (void *)(intptr_t)returncode. With
 * raise_error and a non-zero return code it fails instead with
 * EDDY_ECALLEDPROCESS. It fails with -ESRCH when the status is lost
 * (SPEC §8.14). Any number of futures may wait, alongside the exit
 * callback. Initializes the SIGCHLD handling as set_exit_callback does.
 *
 * Returns: 0 and *out, a future owned by the caller (eddy_future_release).
 * Errors: -EINVAL proc or out is NULL; -ENOMEM; the errors of
 *   eddy_subprocess_initialize.
 * Thread-safety: loop thread.
 * SPEC §8.7, §8.8, §8.9
 */
int eddy_subprocess_wait_for_exit(eddy_subprocess *proc, bool raise_error,
                                  eddy_future **out);

/* Tornado Subprocess.initialize(): install the process-wide SIGCHLD
 * handler. The handler only writes to a pipe watched by loop; reaping
 * runs on loop's thread, which must therefore keep running while children
 * are awaited (exit callbacks still run on each subprocess's own loop).
 * The previous SIGCHLD disposition is saved. loop must stay open until
 * eddy_subprocess_uninitialize.
 *
 * Returns: 0, also when already initialized with this loop.
 * Errors: -EINVAL loop is NULL; -EBUSY already initialized with another
 *   loop; -EMFILE, -ENFILE, -ENOMEM; the errors of eddy_loop_add_handler.
 * Thread-safety: loop's thread; not concurrently with itself or with
 *   eddy_subprocess_uninitialize.
 * SPEC §8.10
 */
int eddy_subprocess_initialize(eddy_loop *loop);

/* Tornado Subprocess.uninitialize(): restore the SIGCHLD disposition saved
 * by initialize and release the pipe. A no-op when not initialized.
 * Children keep their registrations: a later initialize reports the ones
 * that ended meanwhile.
 * Returns: 0. Errors: -EPERM called from a thread other than the one
 *   running the initialized loop.
 * Thread-safety: the initialized loop's thread, or any thread while that
 *   loop is not running.
 * SPEC §8.13
 */
int eddy_subprocess_uninitialize(void);

#ifdef __cplusplus
}
#endif

#endif /* EDDY_SUBPROCESS_H */
