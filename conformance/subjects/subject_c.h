/* conformance/subjects/subject_c.h - what the two files of the C subject
 * share: the trace, the table of named objects and the operation runner.
 *
 * The C subject runs one scenario (SPEC.md, Appendix C) against whatever
 * library implements <eddy.h>; it sees nothing of impl/.
 */
#ifndef EDDY_SUBJECT_C_H
#define EDDY_SUBJECT_C_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <eddy.h>

#include "scenario.h"

/* What a named object is; one name may stand for several kinds at once
 * (a socket "s.0" is an fd and may carry an accept handler). */
enum subj_kind {
    SUBJ_TIMEOUT,
    SUBJ_FD,
    SUBJ_PERIODIC,
    SUBJ_FUTURE,
    SUBJ_THREAD,
    SUBJ_PROC,
    SUBJ_ACCEPT,
    SUBJ_PID
};

struct subj_obj {
    char name[EDDY_SCN_MAX_NAME + 1];
    enum subj_kind kind;
    union {
        eddy_timeout timeout;
        int fd;
        eddy_periodic *periodic;
        eddy_future *future;
        eddy_subprocess *proc;
        eddy_accept_handler *accept;
        pid_t pid;
        void *thread; /* a struct subj_thread */
    } u;
};

/* The state of one callback run: set by `fail` and `return`. */
struct subj_ctx {
    bool fail;
    eddy_future *ret;
};

/* Record one event line "text @seconds" on stdout (thread-safe). */
void subj_record(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Record "op!ENAME" for a failed operation unless it is quiet. */
void subj_op_error(const struct eddy_scn_op *op, int err);

/* The errno name of a negative error ("EINVAL"), or "E<n>". */
const char *subj_errname(int err);

/* The scenario's loop, created on first use. */
eddy_loop *subj_loop(void);

/* Find the object called name of that kind, or add one (NULL when the
 * table is full). */
struct subj_obj *subj_find(const char *name, enum subj_kind kind);
struct subj_obj *subj_put(const char *name, enum subj_kind kind);

/* Record name (with the suffix, may be NULL) as a callback run, then run
 * the operations of its `in` blocks for that occurrence. Returns the
 * callback's result: 0, or -EIO after `fail`. */
int subj_run_named(const char *name, const char *suffix);

/* Run the operations of the `in name` blocks for occurrence k, recording
 * nothing. */
void subj_run_block(const char *name, unsigned k, struct subj_ctx *ctx);

/* The same with a known occurrence number k (the fork_processes tasks). */
int subj_run_occurrence(const char *name, const char *suffix, unsigned k,
                        struct subj_ctx *ctx);

/* Run one operation. */
void subj_exec(const struct eddy_scn_op *op, struct subj_ctx *ctx);

/* The operations of subject_c_os.c: processes, subprocesses, sockets.
 * Each returns false when op is not one of them. */
bool subj_exec_os(const struct eddy_scn_op *op, struct subj_ctx *ctx);

/* The number of a signal named in a scenario ("SIGTERM"). */
int subj_signal_number(const char *name);

/* The exit code of a wait status: the status, or -signo. */
int subj_status_code(int status);

/* Remove the scratch directory of fork_processes, if one was made. */
void subj_cleanup_os(void);

#endif /* EDDY_SUBJECT_C_H */
