/* conformance/scenario.h - the reader of scenario files, version 1.
 *
 * A scenario (SPEC.md, Appendix C) is a small text file of header lines,
 * operations and expectations. eddy_scn_parse checks a whole file against
 * the format and gives back its parts as arrays of strings; it is meant for
 * untrusted input: anything malformed is an error with a line number and a
 * message, never a crash, and nothing is kept after an error.
 */
#ifndef EDDY_CONFORMANCE_SCENARIO_H
#define EDDY_CONFORMANCE_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>

/* The format version this reader implements. */
#define EDDY_SCN_VERSION 1

/* Limits of the format: inputs beyond them are rejected. */
#define EDDY_SCN_MAX_BYTES (64 * 1024)
#define EDDY_SCN_MAX_LINE 1024
#define EDDY_SCN_MAX_TOKENS 64
#define EDDY_SCN_MAX_NAME 63

/* Every operation of format version 1 (Appendix C.4). */
enum eddy_scn_opcode {
    EDDY_OP_ADD_CALLBACK,
    EDDY_OP_SPAWN_CALLBACK,
    EDDY_OP_ADD_CALLBACKS,
    EDDY_OP_CALL_LATER,
    EDDY_OP_CALL_AT,
    EDDY_OP_ADD_TIMEOUT,
    EDDY_OP_ADD_TIMEOUT_DELTA,
    EDDY_OP_REMOVE_TIMEOUT,
    EDDY_OP_STOP,
    EDDY_OP_START,
    EDDY_OP_RUN_SYNC,
    EDDY_OP_CLOSE,
    EDDY_OP_MARK,
    EDDY_OP_SLEEP,
    EDDY_OP_FAIL,
    EDDY_OP_PIPE,
    EDDY_OP_SOCKETPAIR,
    EDDY_OP_WRITE,
    EDDY_OP_DRAIN,
    EDDY_OP_CLOSE_FD,
    EDDY_OP_FD_STATE,
    EDDY_OP_ADD_HANDLER,
    EDDY_OP_ADD_HANDLER_OBJECT,
    EDDY_OP_UPDATE_HANDLER,
    EDDY_OP_REMOVE_HANDLER,
    EDDY_OP_THREAD,
    EDDY_OP_JOIN,
    EDDY_OP_SIGNAL_CALLBACK,
    EDDY_OP_RAISE,
    EDDY_OP_FUTURE,
    EDDY_OP_SET_RESULT,
    EDDY_OP_CANCEL,
    EDDY_OP_ADD_FUTURE,
    EDDY_OP_RETURN,
    EDDY_OP_RUN_IN_EXECUTOR,
    EDDY_OP_PERIODIC,
    EDDY_OP_PERIODIC_START,
    EDDY_OP_PERIODIC_STOP,
    EDDY_OP_PERIODIC_IS_RUNNING,
    EDDY_OP_SUBPROCESS,
    EDDY_OP_SET_EXIT_CALLBACK,
    EDDY_OP_WAIT_FOR_EXIT,
    EDDY_OP_RETURNCODE,
    EDDY_OP_KILL,
    EDDY_OP_REAP,
    EDDY_OP_READ_UNTIL_CLOSE,
    EDDY_OP_STREAM_WRITE,
    EDDY_OP_STREAM_CLOSE,
    EDDY_OP_STREAM_CLOSED,
    EDDY_OP_FORK_OTHER,
    EDDY_OP_WAITPID_OTHER,
    EDDY_OP_FORK_PROCESSES,
    EDDY_OP_EXIT,
    EDDY_OP_KILL_SELF,
    EDDY_OP_KILL_PARENT,
    EDDY_OP_TASK_ID,
    EDDY_OP_CPU_COUNT,
    EDDY_OP_ATEXIT,
    EDDY_OP_ON_SIGNAL,
    EDDY_OP_BIND_SOCKETS,
    EDDY_OP_INSPECT_SOCKETS,
    EDDY_OP_CONNECT,
    EDDY_OP_ADD_ACCEPT_HANDLER,
    EDDY_OP_REMOVE_ACCEPT_HANDLER,
    EDDY_OP_CLOSE_SOCKETS,
    EDDY_OP_COUNT
};

/* One operation line: `do: OP ARGS` (block NULL) or `in NAME[#K]: OP ARGS`.
 * argv[0] is the operation's name; every argument has been checked. */
struct eddy_scn_op {
    int line;
    const char *block;     /* the callback name after `in`, or NULL */
    unsigned occurrence;   /* K of NAME#K; 0 means every run */
    enum eddy_scn_opcode code;
    bool quiet;            /* `try OP`: a failure records no event */
    int argc;
    const char *const *argv;
};

/* The kinds of expectation lines (read, checked only for shape). */
enum eddy_scn_expect_kind {
    EDDY_EXPECT_EXACT,     /* expect: */
    EDDY_EXPECT_SET,       /* expect_set: */
    EDDY_EXPECT_ORDER,     /* expect_order: */
    EDDY_EXPECT_COUNT,     /* expect_count: PATTERN MIN MAX */
    EDDY_EXPECT_GAP        /* expect_gap: FROM TO MIN MAX */
};

struct eddy_scn_expect {
    int line;
    enum eddy_scn_expect_kind kind;
    int argc;
    const char *const *argv;
};

/* A parsed scenario. Every string lives in the scenario's own storage and
 * is freed with it. */
struct eddy_scenario {
    const char *name;
    const char *const *clauses;
    size_t nclauses;
    const char *const *requires;
    size_t nrequires;
    double timeout_s;      /* 10 unless the file says otherwise */
    const struct eddy_scn_op *ops;
    size_t nops;
    const struct eddy_scn_expect *expects;
    size_t nexpects;
};

/* Parse len bytes of text (NUL bytes included: they are an error).
 *
 * Returns: 0 and *out, a scenario to release with eddy_scn_free.
 * Errors: -EINVAL the text is not a valid version-1 scenario; err (if not
 *   NULL) then holds "line N: why", cut to errlen bytes; -EFBIG more than
 *   EDDY_SCN_MAX_BYTES; -ENOMEM. *out is written only on success.
 */
int eddy_scn_parse(const char *text, size_t len, struct eddy_scenario **out,
                   char *err, size_t errlen);

/* Read and parse a file; the errors of eddy_scn_parse, and the negated
 * errno of open or read. */
int eddy_scn_load(const char *path, struct eddy_scenario **out, char *err,
                  size_t errlen);

/* Release a scenario; NULL is a no-op. */
void eddy_scn_free(struct eddy_scenario *scn);

/* The name of an operation ("add_callback"), NULL for an invalid code. */
const char *eddy_scn_opname(enum eddy_scn_opcode code);

#endif /* EDDY_CONFORMANCE_SCENARIO_H */
