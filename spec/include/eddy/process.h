/* eddy/process.h - SPEC §7: cpu_count, fork_processes and task_id.
 *
 * eddy_fork_processes turns the calling process into a supervisor of n
 * worker children. In each child it returns the child's task id; in the
 * parent it does not return while children run. It is the only eddy
 * function that may end the process (SPEC §7.8, §7.11).
 */
#ifndef EDDY_PROCESS_H
#define EDDY_PROCESS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Tornado tornado.process.cpu_count(): the number of processors online.
 *
 * Returns: a count >= 1 (1 when it cannot be determined).
 * Errors: none.
 * Thread-safety: any thread.
 * SPEC §7.1
 */
int eddy_cpu_count(void);

/* Tornado tornado.process.fork_processes(num_processes, max_restarts).
 *
 * Forks num_processes children with task ids 0 .. num_processes - 1
 * (eddy_cpu_count() children when num_processes <= 0). In each child it
 * returns that child's task id. The parent supervises: a child that exits
 * with a non-zero status or is killed by any signal is forked again with
 * the same id; one that exits with status 0 is not. One restart counter is
 * shared by all children; max_restarts < 0 means the default, 100.
 *
 * In the parent:
 * - when every child has exited with status 0, the process calls exit(0)
 *   (Tornado's sys.exit(0)): atexit handlers run and stdio is flushed;
 * - when the counter exceeds max_restarts, or forking fails for good, the
 *   parent sends SIGTERM to every live child, SIGKILL to those still alive
 *   5 seconds later, reaps them all, restores its signal state and returns
 *   the error below;
 * - SIGTERM or SIGINT delivered to the parent (unless ignored when the
 *   call was made) stops the children in the same way, then the process
 *   calls exit(128 + signo).
 * Children it did not create are never waited for, counted or signalled.
 * While it supervises it handles SIGCHLD, SIGTERM and SIGINT; each child
 * starts with the signal dispositions and mask of the call and no
 * descriptor opened by this function. Call it before creating any loop or
 * thread (SPEC §7.16).
 *
 * Returns: in a child, its task id (>= 0). The parent returns only errors.
 * Errors: -ECHILD too many restarts: the counter exceeded max_restarts
 *   (Tornado raises RuntimeError "Too many child restarts, giving up");
 *   -EAGAIN, -ENOMEM fork failed on every retry (SPEC §7.18), or any other
 *   error of fork(); -EALREADY called in a process created by
 *   fork_processes; -EBUSY another thread of this process is inside
 *   fork_processes; -ENOMEM, -EMFILE, -ENFILE before any child was forked.
 * Ownership: none.
 * Thread-safety: any thread, but see SPEC §7.16 about threads and loops.
 * SPEC §7.2 - §7.18
 */
int eddy_fork_processes(int num_processes, int max_restarts);

/* Tornado tornado.process.task_id().
 *
 * Returns: the task id of this process, in [0, n), when it was created by
 *   eddy_fork_processes; -1 (Tornado's None) in any other process, the
 *   supervising parent included. -1 here is not an error code.
 * Errors: none.
 * Thread-safety: any thread.
 * SPEC §7.4
 */
int eddy_task_id(void);

#ifdef __cplusplus
}
#endif

#endif /* EDDY_PROCESS_H */
