/* conformance/harness.h - what every conformance case file includes.
 *
 * Cases are black-box: they see only the public binding <eddy.h>, cmocka and
 * libc. A section file lists its cases in a table of struct eddy_case and
 * registers it with EDDY_SECTION; conformance/run.c runs each case in its own
 * process (see conformance/README.md for the whole contract).
 */
#ifndef EDDY_CONFORMANCE_HARNESS_H
#define EDDY_CONFORMANCE_HARNESS_H

/* cmocka needs these before it is included. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>

#include <eddy.h>

/* Every assertion a case makes is counted (see checks.h). */
#include "checks.h"

/* One conformance case: a cmocka test named after its primary clause
 * (c<S>_<N>_... checks SPEC §S.N) plus the other clauses it also checks. */
struct eddy_case {
    const char *name;          /* the function name, from EDDY_CASE */
    const char *clauses;       /* extra clauses, space-separated ("2.13") */
    CMUnitTestFunction fn;
    CMFixtureFunction setup;    /* NULL, or the fresh-loop fixture */
    CMFixtureFunction teardown;
};

/* One SPEC section's cases. */
struct eddy_section {
    const char *id;            /* the section number as text: "2" */
    const char *title;         /* "Loop lifecycle and iteration" */
    const struct eddy_case *cases;
    size_t ncases;
};

/* Every section table linked into the runner, in the runner's order; an
 * entry is NULL when its file is absent. */
const struct eddy_section *const *eddy_h_sections(size_t *count);

/* The fresh-loop fixture of EDDY_CASE_LOOP: setup stores a new loop made
 * with eddy_loop_new(EDDY_CURRENT_NEVER, ...) in *state; teardown frees it
 * (eddy_loop_free closes it first if it is still open). A case that frees
 * the loop itself sets *state to NULL. */
int eddy_h_loop_setup(void **state);
int eddy_h_loop_teardown(void **state);

/* A case with no fixture: *state is NULL. */
#define EDDY_CASE(fn, extra) { #fn, extra, fn, NULL, NULL }

/* A case that gets `eddy_loop *loop = *state;`, a fresh open loop that is
 * not current and not running. */
#define EDDY_CASE_LOOP(fn, extra)                                           \
    { #fn, extra, fn, eddy_h_loop_setup, eddy_h_loop_teardown }

/* Register a file's table: EDDY_SECTION(s02, "2", "Title", cases) defines
 * eddy_section_s02, which the runner finds by that name. */
#define EDDY_SECTION(sym, id, title, table)                                 \
    const struct eddy_section eddy_section_##sym = {                        \
        id, title, table, sizeof(table) / sizeof((table)[0])}

/* --- helpers for cases ---------------------------------------------------- */

/* CLOCK_MONOTONIC in seconds. */
double eddy_h_now(void);

/* How late a timer may fire and still pass, in seconds: calibrated once by
 * the runner from this machine's sleep overshoot, between 0.25 and 2, or
 * set by EDDY_LATE_BOUND in the environment. "Never early" is checked
 * exactly; only lateness uses this. */
double eddy_h_late_bound(void);

/* Sleep for `seconds`, resuming after signals until the time has passed. */
void eddy_h_sleep(double seconds);

/* How many file descriptors this process has open. */
int eddy_h_open_fds(void);

/* Small fixtures that assert as they go: whether fd is open; a pipe; one
 * byte written to fd; both ends of a pipe or socket pair closed; a thread
 * started on fn(arg). */
bool eddy_h_fd_open(int fd);
void eddy_h_pipe(int p[2]);
void eddy_h_put_byte(int fd);
void eddy_h_close_pair(const int p[2]);
pthread_t eddy_h_thread(void *(*fn)(void *), void *arg);

/* Run the loop until cond(arg) is true or `seconds` pass; returns whether
 * cond became true. cond is checked first (a true cond returns at once
 * without running the loop), then about every millisecond from a timeout
 * the helper schedules and removes again. If a case's own callback stops
 * the loop early, the helper starts it again while time remains. Must be
 * called with the loop not running. */
bool eddy_h_run_until(eddy_loop *loop, bool (*cond)(void *), void *arg,
                      double seconds);

/* An event trace: cases record short event names and compare the whole
 * string, e.g. "cb1 cb2 io:r t1". Events are joined by one space. A
 * zero-initialised trace is empty. Recording is thread-safe (one lock for
 * all traces) but not async-signal-safe. */
#define EDDY_TRACE_MAX 4096
struct eddy_trace {
    char buf[EDDY_TRACE_MAX];
    size_t len;
    bool truncated;   /* an event did not fit; the string ends in "..." */
};
void eddy_h_trace_reset(struct eddy_trace *t);
void eddy_h_trace(struct eddy_trace *t, const char *fmt, ...)
    CMOCKA_PRINTF_ATTRIBUTE(2, 3);
const char *eddy_h_trace_str(const struct eddy_trace *t);

/* --- runner side (conformance/run.c) -------------------------------------- */

/* Measure the lateness bound; the runner calls it once before forking so
 * that every case process inherits the same value. */
void eddy__harness_calibrate(void);

/* Exit statuses of a case process. */
#define EDDY__CASE_PASSED 0
#define EDDY__CASE_FAILED 1    /* cmocka reported a failure */
#define EDDY__CASE_UNCLEAN 2   /* it passed but failed the hygiene check */
#define EDDY__CASE_SKIPPED 3   /* it called skip() */
#define EDDY__CASE_NO_CHECKS 4 /* it passed without making one check */

/* Lines the case process adds to its output for the runner (after
 * cmocka's own): "[  EDDY    ] checks: N" always, and on a failure
 * "[  EDDY    ] last check: FILE:LINE: assert_...(...)", the last check
 * (or fail()) reached, which is the failed one when the place matches
 * cmocka's "[   LINE   ]" line. */
#define EDDY__TAG "[  EDDY    ] "

/* Run c under cmocka in this process and check hygiene around it: the
 * case must leave the same open descriptors and the same dispositions of
 * signals 1..31, and no child process. Each difference is printed to
 * stderr. Returns one of the statuses above. */
int eddy__harness_run_case(const struct eddy_case *c);

#endif /* EDDY_CONFORMANCE_HARNESS_H */
