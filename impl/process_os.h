/* impl/process_os.h - internal to SPEC §7 (eddy_fork_processes): the
 * replaceable OS layer under the supervisor, the signal self-pipe, and the
 * supervisor core that tests drive with a simulated OS.
 */
#ifndef EDDY_PROCESS_OS_H
#define EDDY_PROCESS_OS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Everything the supervisor asks of the operating system. Each function
 * returns -errno on failure and never retries EINTR itself: the core does,
 * so a simulated OS can check that it does. */
struct eddy__process_os {
    /* fork(2) for the child that will carry task_id: the child's pid in
     * the parent, 0 in the child, or -errno. */
    pid_t (*fork)(int task_id, void *arg);
    /* waitpid(pid, status, WNOHANG): pid once it has ended (*status set),
     * 0 while it runs, or -errno. */
    pid_t (*reap)(pid_t pid, int *status, void *arg);
    int (*kill)(pid_t pid, int sig, void *arg);
    /* Sleep until fd is readable or timeout_ms passes (< 0: no limit):
     * 1 readable, 0 timed out, or -errno. */
    int (*wait_fd)(int fd, int timeout_ms, void *arg);
    /* A monotonic clock in nanoseconds. */
    int64_t (*now_ns)(void *arg);
    int (*sigaction)(int sig, const struct sigaction *act,
                     struct sigaction *old, void *arg);
    /* exit(3); the real one does not return. When a simulated one
     * returns, eddy_fork_processes returns -ECANCELED. */
    void (*exit)(int status, void *arg);
    void *arg;
};

/* The real OS (fork, waitpid, kill, poll, CLOCK_MONOTONIC, sigaction,
 * exit). */
const struct eddy__process_os *eddy__process_os_real(void);

/* Make eddy_fork_processes use os (NULL: the real OS) and a grace period
 * between SIGTERM and SIGKILL of grace_ns (< 0: the default, 5 s). For
 * tests; not thread-safe. */
void eddy__process_set_os(const struct eddy__process_os *os,
                          int64_t grace_ns);

/* Forget this process's task id and any child generator, as if it had
 * not been created by eddy_fork_processes. For tests. */
void eddy__process_reset(void);

/* --- the signal self-pipe (SPEC §7.11) --------------------------------- */

/* The handler for SIGCHLD, SIGTERM and SIGINT: remembers the first
 * SIGTERM/SIGINT and writes one byte to the armed pipe. Async-signal-safe;
 * a simulated OS calls it to "deliver" a signal. */
void eddy__process_on_signal(int signo);

/* Make the handler write to wfd (-1: write nowhere) and forget any stop
 * signal remembered earlier. */
void eddy__sigpipe_arm(int wfd);

/* The first SIGTERM/SIGINT seen since arming, or 0; does not clear it. */
int eddy__sigpipe_stop_signal(void);

/* Read and discard every byte waiting in the non-blocking read end. */
void eddy__sigpipe_drain(int rfd);

/* --- the supervisor core (impl/process_sup.c) -------------------------- */

/* How one run of the supervisor ended, as seen by the process that
 * returns from it. */
enum eddy__outcome_kind {
    EDDY__OUT_CHILD,  /* this process is a child: value is its task id */
    EDDY__OUT_EXIT,   /* the parent must exit with status value */
    EDDY__OUT_FAIL    /* the parent returns value, a negative errno */
};
struct eddy__outcome {
    enum eddy__outcome_kind kind;
    int value;
};

/* Fork n children and supervise them with os until one of the outcomes
 * above. Returns 0 and *out, with every signal disposition, the signal
 * mask and every descriptor it touched restored in both parent and child;
 * or -errno (-ENOMEM, -EMFILE, ...) when setup failed before any fork. */
int eddy__supervise(const struct eddy__process_os *os, int n,
                    int max_restarts, int64_t grace_ns,
                    struct eddy__outcome *out);

/* Supervisor tunables, exposed so that tests state them, not copy them. */
#define EDDY__GRACE_NS_DEFAULT (5 * (int64_t)1000000000)
#define EDDY__MAX_RESTARTS_DEFAULT 100
#define EDDY__FORK_RETRIES 8                        /* failures in a row */
#define EDDY__FORK_DELAY_NS ((int64_t)50000000)     /* first retry: 50 ms */
#define EDDY__FORK_DELAY_MAX_NS ((int64_t)1000000000) /* doubling, to 1 s */

#endif /* EDDY_PROCESS_OS_H */
