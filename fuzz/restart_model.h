/* fuzz/restart_model.h - an executable model of SPEC §7.2-§7.13 and §7.18
 * (the fork_processes supervisor) for the restart fuzz target. The
 * simulated OS of fuzz_restart.c reports every request the supervisor
 * makes (fork, reap, kill, wait, exit) and every event it delivers; the
 * model says whether the request is allowed at that point and what the
 * outcome of the whole call must be.
 *
 * The numbers of §7.18 (retry delays, eight failures in a row) are the
 * reference's implementation-defined choice; everything else is MUST.
 */
#ifndef EDDY_RESTART_MODEL_H
#define EDDY_RESTART_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fuzz.h"

#define RM_MAX_IDS 64

enum rm_id {
    RM_NEW,     /* never forked */
    RM_LIVE,    /* a child with this id runs, or is an unreaped zombie */
    RM_PENDING, /* ended abnormally: to be forked again */
    RM_DONE     /* exited 0, or ended while the supervisor stops */
};

enum rm_outcome {
    RM_UNDECIDED,
    RM_EXIT, /* the supervisor exits with value */
    RM_FAIL, /* fork_processes returns value (a negative errno) */
    RM_CHILD /* fork_processes returns value, a task id, in a child */
};

struct rm {
    int64_t now;
    struct fz_trace trace;
    int n;
    int max_restarts;
    int64_t grace_ns;
    enum rm_id id[RM_MAX_IDS];
    pid_t pid[RM_MAX_IDS];
    bool term_sent[RM_MAX_IDS];
    bool kill_sent[RM_MAX_IDS];
    int restarts;
    enum rm_outcome outcome;
    int value;
    int64_t stop_at;     /* when the stop began; < 0: not stopping */
    int fork_failures;   /* in a row */
    int64_t retry_at;    /* no fork before this (SPEC §7.18) */
    bool in_fork;        /* a fork call is under way */
    bool stop_in_fork;   /* a stop signal came during the fork call */
    enum rm_outcome alt; /* a second acceptable outcome, or undecided */
    int alt_value;
};

void rm_init(struct rm *m, int n, int max_restarts, int64_t grace_ns);
void rm_note(struct rm *m, const char *what, int64_t a, int64_t b);

/* A fork for id is about to be made (SPEC §7.2, §7.5, §7.6). */
void rm_fork_begin(struct rm *m, int id);
/* ... and it gave pid (> 0), 0 (this is the child) or -errno. */
void rm_fork_end(struct rm *m, int id, pid_t pid);
/* The supervisor learnt how id's child ended: ok is a clean exit 0. */
void rm_exit(struct rm *m, int id, bool ok);
/* A stop signal reached the supervisor's handler (SPEC §7.11). */
void rm_stop_signal(struct rm *m, int signo);
void rm_kill(struct rm *m, int id, int sig);
/* The supervisor is about to sleep; alive[id]: its child has not ended. */
void rm_wait(struct rm *m, int timeout_ms, const bool *alive);
/* What fork_processes returned, or -ECANCELED after exit(status). */
void rm_result(struct rm *m, int rc, bool exited, int status);

#endif /* EDDY_RESTART_MODEL_H */
