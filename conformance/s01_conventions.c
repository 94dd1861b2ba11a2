/* conformance/s01_conventions.c - SPEC §1: return codes, error texts,
 * failed calls, callback failures, threads, closed loops, bad arguments.
 *
 * A call expected to fail is paired with a callback that must never run: the
 * never_* functions count every call, and each case ends with that count.
 */
#include "harness.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct eddy_trace T;
static int never_calls;   /* calls of callbacks that must never run */
static int counter;
static int sentinel;      /* its address marks untouched out-params */
static int ticks_left;
static int counter_done;

static void begin(void)
{
    eddy_h_trace_reset(&T);
    never_calls = 0;
    counter = 0;
    ticks_left = 0;
    counter_done = 0;
}

static int cb_never(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    never_calls++;
    return 0;
}

static int h_never(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)fd;
    (void)events;
    return cb_never(loop, arg);
}

static int fcb_never(eddy_loop *loop, eddy_future *f, void *arg)
{
    (void)f;
    return cb_never(loop, arg);
}

static int rs_never(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)out;
    return cb_never(loop, arg);
}

static int rs_count(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)loop;
    (void)arg;
    (void)out;
    counter++;
    return 0;
}

static int work_never(void *arg, void **result)
{
    (void)arg;
    (void)result;
    __atomic_add_fetch(&never_calls, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static int cb_note(eddy_loop *loop, void *arg)
{
    (void)loop;
    eddy_h_trace(&T, "%s", (const char *)arg);
    return 0;
}

static int cb_stop(eddy_loop *loop, void *arg)
{
    if (arg != NULL) {
        eddy_h_trace(&T, "%s", (const char *)arg);
    }
    return eddy_loop_stop(loop);
}

static int cb_tick(eddy_loop *loop, void *arg)
{
    eddy_h_trace(&T, "|");
    if (--ticks_left <= 0) {
        return eddy_loop_stop(loop);
    }
    return eddy_loop_add_callback(loop, cb_tick, arg);
}

static void run_ticks(eddy_loop *loop, int n)
{
    ticks_left = n;
    assert_int_equal(eddy_loop_add_callback(loop, cb_tick, NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
}

/* Records a reported failure as "err:<value>". */
static eddy_loop *err_loop_seen;
static void *err_arg_seen;

static void err_rec(eddy_loop *loop, int err, void *arg)
{
    err_loop_seen = loop;
    err_arg_seen = arg;
    eddy_h_trace(&T, "err:%d", err);
}

/* --- §1.1 ----------------------------------------------------------------- */


extern const struct eddy_section eddy_section_s01;

/* Length of a well-formed "S.N" clause id at p, or 0. */
static size_t clause_id_len(const char *p, const char *section)
{
    size_t s = strspn(p, "0123456789");
    if (s == 0 || p[s] != '.' || (section != NULL &&
                                  (strlen(section) != s ||
                                   strncmp(p, section, s) != 0))) {
        return 0;
    }
    size_t n = strspn(p + s + 1, "0123456789");
    return n == 0 ? 0 : s + 1 + n;
}

static void check_case_ids(const struct eddy_section *sec)
{
    for (size_t i = 0; i < sec->ncases; i++) {
        const char *name = sec->cases[i].name;
        char id[32];
        /* c<S>_<N>_what, with S the section's own number. */
        assert_true(name[0] == 'c');
        snprintf(id, sizeof(id), "%s", name + 1);
        char *us = strchr(id, '_');
        assert_non_null(us);
        *us = '.';
        size_t len = clause_id_len(id, sec->id);
        assert_true(len > 0 && id[len] == '_' && id[len + 1] != '\0');
        for (const char *p = sec->cases[i].clauses; *p != '\0';) {
            size_t l = clause_id_len(p, NULL);
            assert_true(l > 0 && (p[l] == ' ' || p[l] == '\0'));
            p += l + (p[l] == ' ');
        }
    }
}

static void c1_1_cases_cite_well_formed_clause_ids(void **state)
{
    /* SPEC §1.1: clause ids are stable; every case of the suite cites its
     * clauses by id (its name prefix c<S>_<N>_ in its own section S, and
     * "S.N" extras), which is what keeps that link checkable. */
    (void)state;
    size_t n = 0;
    const struct eddy_section *const *all = eddy_h_sections(&n);
    size_t checked = 0;
    bool saw_own = false;
    for (size_t s = 0; s < n; s++) {
        if (all[s] != NULL) {
            check_case_ids(all[s]);
            checked += all[s]->ncases;
            saw_own = saw_own || all[s] == &eddy_section_s01;
        }
    }
    assert_true(saw_own);
    assert_true(checked > eddy_section_s01.ncases);
}

/* --- §1.2 ----------------------------------------------------------------- */

static void c1_2_success_returns_zero(void **state)
{
    /* SPEC §1.2: every fallible function returns 0 on success and writes
     * its out-parameters. */
    eddy_loop *loop = *state;
    begin();
    eddy_loop *out = NULL;
    eddy_timeout h = 0;
    void *result = &sentinel;
    int p[2];
    eddy_h_pipe(p);
    assert_int_equal(eddy_loop_make_current(loop), 0);
    assert_int_equal(eddy_loop_current(false, &out), 0);
    assert_ptr_equal(out, loop);
    assert_int_equal(eddy_loop_call_later(loop, 5, cb_never, NULL, &h), 0);
    assert_true(h != 0);
    assert_int_equal(eddy_loop_remove_timeout(loop, h), 0);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_never,
                                           NULL), 0);
    assert_int_equal(eddy_loop_update_handler(loop, p[0], EDDY_NONE), 0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    assert_int_equal(eddy_loop_set_error_handler(loop, err_rec, NULL), 0);
    assert_int_equal(eddy_loop_run_sync(loop, 1.0, rs_count, NULL, &result),
                     0);
    assert_null(result);
    assert_int_equal(counter, 1);
    assert_int_equal(eddy_loop_add_callback(loop, cb_stop, NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_int_equal(eddy_loop_stop(loop), 0);
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_close(loop, false), 0);
    eddy_h_close_pair(p);
}

static void c1_2_out_params_untouched_on_failure(void **state)
{
    /* SPEC §1.2: a failing function returns a negated errno value and
     * leaves its out-parameters as they were. */
    eddy_loop *loop = *state;
    eddy_loop *lout = (eddy_loop *)&sentinel;
    eddy_timeout h = 77;
    void *value = &sentinel;
    eddy_future *f = NULL;
    eddy_future *fout = (eddy_future *)&sentinel;
    eddy_executor *xout = (eddy_executor *)&sentinel;
    eddy_periodic *pout = (eddy_periodic *)&sentinel;
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_new(7, &lout), -EINVAL);
    assert_int_equal(eddy_loop_current(false, &lout), -ENOENT);
    assert_ptr_equal(lout, (eddy_loop *)&sentinel);
    assert_int_equal(eddy_loop_call_at(loop, NAN, cb_never, NULL, &h),
                     -EINVAL);
    assert_int_equal(eddy_loop_call_later(loop, 1, NULL, NULL, &h), -EINVAL);
    assert_int_equal(h, 77);
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_future_result(f, &value), -EAGAIN);
    assert_ptr_equal(value, &sentinel);
    assert_int_equal(eddy_loop_run_in_executor(loop, NULL, NULL, NULL, &fout),
                     -EINVAL);
    assert_ptr_equal(fout, (eddy_future *)&sentinel);
    assert_int_equal(eddy_executor_new(0, &xout), -EINVAL);
    assert_ptr_equal(xout, (eddy_executor *)&sentinel);
    assert_int_equal(eddy_periodic_new(loop, -1, 0, cb_never, NULL, &pout),
                     -EINVAL);
    assert_ptr_equal(pout, (eddy_periodic *)&sentinel);
    eddy_future_release(f);
    assert_int_equal(never_calls, 0);
}

static void check_negated_errno(int rc)
{
    assert_true(rc < 0 && rc > -4096);
    assert_string_not_equal(eddy_strerror(rc), "unknown error");
}

static void c1_2_errors_are_negated_errno_values(void **state)
{
    /* SPEC §1.2: a failure is reported as a negated errno value. */
    eddy_loop *loop = *state;
    int p[2];
    eddy_h_pipe(p);
    check_negated_errno(eddy_loop_remove_handler(loop, p[0]));
    check_negated_errno(eddy_loop_remove_timeout(loop, 0));
    check_negated_errno(eddy_loop_add_handler(loop, -1, EDDY_READ, h_never,
                                              NULL));
    check_negated_errno(eddy_loop_add_callback(loop, NULL, NULL));
    check_negated_errno(eddy_loop_call_later(loop, NAN, cb_never, NULL,
                                             NULL));
    assert_int_equal(eddy_loop_close(loop, false), 0);
    check_negated_errno(eddy_loop_close(loop, false));
    check_negated_errno(eddy_loop_add_callback(loop, cb_never, NULL));
    assert_int_equal(never_calls, 0);
    eddy_h_close_pair(p);
}

/* --- §1.3 ----------------------------------------------------------------- */

static void c1_3_failed_calls_schedule_nothing(void **state)
{
    /* SPEC §1.3: a call that fails registers nothing, schedules nothing
     * and never calls the callback it was given. */
    eddy_loop *loop = *state;
    int p[2];
    eddy_future *f = NULL;
    eddy_future *out = NULL;
    begin();
    eddy_h_pipe(p);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_future_set_result(f, NULL), 0);
    assert_true(eddy_loop_call_at(loop, NAN, cb_never, NULL, NULL) < 0);
    assert_true(eddy_loop_call_later(loop, INFINITY, cb_never, NULL, NULL) <
                0);
    assert_true(eddy_loop_add_timeout(loop, -INFINITY, cb_never, NULL, NULL) <
                0);
    assert_true(eddy_loop_add_timeout_delta(loop, NAN, cb_never, NULL, NULL) <
                0);
    assert_true(eddy_loop_add_handler(loop, p[0], 0x40, h_never, NULL) < 0);
    assert_true(eddy_loop_add_future(loop, NULL, fcb_never, NULL) < 0);
    assert_true(eddy_loop_run_in_executor(loop, NULL, NULL, NULL, &out) < 0);
    assert_true(eddy_loop_run_sync(loop, NAN, rs_never, NULL, NULL) < 0);
    assert_true(eddy_loop_update_handler(loop, p[0], EDDY_READ) < 0);
    /* A failed remove cancels nothing that is pending. */
    assert_int_equal(eddy_loop_call_later(loop, 0.02, cb_stop, "t", NULL), 0);
    assert_true(eddy_loop_remove_timeout(loop, 0) < 0);
    assert_true(eddy_loop_remove_handler(loop, p[0]) < 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_string_equal(eddy_h_trace_str(&T), "t");
    run_ticks(loop, 3);
    assert_int_equal(never_calls, 0);
    /* Nothing was registered for p[0]: adding it now succeeds. */
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_never,
                                           NULL), 0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_future_release(f);
    eddy_h_close_pair(p);
}

/* --- §1.5 ----------------------------------------------------------------- */

static int cb_fail(eddy_loop *loop, void *arg)
{
    cb_note(loop, arg);
    return -EIO;
}

static int cb_positive(eddy_loop *loop, void *arg)
{
    cb_note(loop, arg);
    return 7;
}

/* Position of word in the space-separated trace, or -1. */
static int word_at(const char *trace, const char *word)
{
    int pos = 0;
    size_t n = strlen(word);
    for (const char *p = trace; *p != '\0'; pos++) {
        size_t len = strcspn(p, " ");
        if (len == n && strncmp(p, word, n) == 0) {
            return pos;
        }
        p += len;
        p += *p == ' ';
    }
    return -1;
}

static void c1_5_callback_failure_reported_and_next_runs(void **state)
{
    /* SPEC §1.5: a callback reports a failure by returning non-zero; the
     * loop passes the value to the error handler, keeps running and runs
     * the next callback of the same iteration. */
    eddy_loop *loop = *state;
    begin();
    assert_int_equal(eddy_loop_set_error_handler(loop, err_rec, &sentinel),
                     0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_fail, "a"), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_note, "b"), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_positive, "p"), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_stop, "c"), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    const char *tr = eddy_h_trace_str(&T);
    char e1[16], e2[16];
    snprintf(e1, sizeof(e1), "err:%d", -EIO);
    snprintf(e2, sizeof(e2), "err:%d", 7);
    int a = word_at(tr, "a"), b = word_at(tr, "b"), pp = word_at(tr, "p");
    assert_true(a == 0 && a < b && b < pp && pp < word_at(tr, "c"));
    assert_true(word_at(tr, e1) > a && word_at(tr, e2) > pp);
    assert_int_equal(strlen(tr), strlen("a b p c") + 2 * strlen(e1) + 1);
    assert_ptr_equal(err_loop_seen, loop);
    assert_ptr_equal(err_arg_seen, &sentinel);
}

static int h_fail(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    (void)arg;
    counter++;
    return -EPIPE;
}

static void c1_5_failed_handler_stays_registered(void **state)
{
    /* SPEC §1.5: a handler that failed is reported and stays registered:
     * it is called again while its fd is ready. */
    eddy_loop *loop = *state;
    int p[2];
    begin();
    eddy_h_pipe(p);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(eddy_loop_set_error_handler(loop, err_rec, NULL), 0);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_fail,
                                           NULL), 0);
    run_ticks(loop, 3);
    assert_int_equal(counter, 3);
    char want[64];
    snprintf(want, sizeof(want), "| err:%d | err:%d | err:%d", -EPIPE,
             -EPIPE, -EPIPE);
    assert_string_equal(eddy_h_trace_str(&T), want);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

static int cb_timeout_fails(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    counter++;
    return -ETIMEDOUT;
}

static int fcb_fails(eddy_loop *loop, eddy_future *f, void *arg)
{
    (void)loop;
    (void)f;
    (void)arg;
    counter++;
    return -ECANCELED;
}

static int periodic_fails(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    counter++;
    return -EIO;
}

static bool calls_reached(void *arg)
{
    return counter >= *(const int *)arg;
}

static void c1_5_timeout_future_periodic_failures(void **state)
{
    /* SPEC §1.5: timeouts, future callbacks and periodic callbacks report
     * failures the same way; a periodic callback that failed stays
     * scheduled. */
    eddy_loop *loop = *state;
    eddy_future *f = NULL;
    eddy_periodic *per = NULL;
    begin();
    assert_int_equal(eddy_loop_set_error_handler(loop, err_rec, NULL), 0);
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_future_set_result(f, NULL), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0.001, cb_timeout_fails,
                                          NULL, NULL), 0);
    assert_int_equal(eddy_loop_add_future(loop, f, fcb_fails, NULL), 0);
    eddy_future_release(f);
    int two = 2;
    int three = 3;
    assert_true(eddy_h_run_until(loop, calls_reached, &two, 2.0));
    assert_int_equal(counter, 2);
    char want[64];
    snprintf(want, sizeof(want), "err:%d", -ETIMEDOUT);
    assert_true(word_at(eddy_h_trace_str(&T), want) >= 0);
    snprintf(want, sizeof(want), "err:%d", -ECANCELED);
    assert_true(word_at(eddy_h_trace_str(&T), want) >= 0);
    begin();
    assert_int_equal(eddy_periodic_new(loop, 5, 0, periodic_fails, NULL,
                                       &per), 0);
    assert_int_equal(eddy_periodic_start(per), 0);
    assert_true(eddy_h_run_until(loop, calls_reached, &three, 2.0));
    assert_true(eddy_periodic_is_running(per));
    snprintf(want, sizeof(want), "err:%d err:%d err:%d", -EIO, -EIO, -EIO);
    assert_int_equal(strncmp(eddy_h_trace_str(&T), want, strlen(want)), 0);
    eddy_periodic_free(per);
}

static void c1_5_null_error_handler_restores_default(void **state)
{
    /* SPEC §1.5: with the default error handler (set again with NULL) a
     * failure is ignored and the loop goes on. */
    eddy_loop *loop = *state;
    begin();
    assert_int_equal(eddy_loop_set_error_handler(loop, err_rec, NULL), 0);
    assert_int_equal(eddy_loop_set_error_handler(loop, NULL, NULL), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_fail, "a"), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_stop, "b"), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_string_equal(eddy_h_trace_str(&T), "a b");
}

/* --- §1.6 ----------------------------------------------------------------- */

struct wrong {
    eddy_loop *loop;
    eddy_timeout pending;    /* a pending timeout */
    int fd;                  /* a registered, readable fd */
    int spare;               /* an fd not registered */
    eddy_executor *ex;
    eddy_periodic *per;
    eddy_future *fut;
    int rc[24];
    int n;
    int close_rc[3];
    int add_rc;
    int current_rc;
    eddy_timeout h_out;
    eddy_future *f_out;
};

static void wrong_thread_calls(struct wrong *w)
{
    eddy_loop *l = w->loop;
    w->rc[w->n++] = eddy_loop_stop(l);
    w->rc[w->n++] = eddy_loop_call_at(l, eddy_loop_time(l), cb_never, NULL,
                                      &w->h_out);
    w->rc[w->n++] = eddy_loop_call_later(l, 0, cb_never, NULL, &w->h_out);
    w->rc[w->n++] = eddy_loop_add_timeout(l, 0, cb_never, NULL, &w->h_out);
    w->rc[w->n++] = eddy_loop_add_timeout_delta(l, 0, cb_never, NULL,
                                                &w->h_out);
    w->rc[w->n++] = eddy_loop_remove_timeout(l, w->pending);
    w->rc[w->n++] = eddy_loop_add_handler(l, w->spare, EDDY_READ, h_never,
                                          NULL);
    w->rc[w->n++] = eddy_loop_add_handler_object(l, w->spare, EDDY_READ,
                                                 h_never, NULL, NULL);
    w->rc[w->n++] = eddy_loop_update_handler(l, w->fd, EDDY_NONE);
    w->rc[w->n++] = eddy_loop_remove_handler(l, w->fd);
    w->rc[w->n++] = eddy_loop_set_error_handler(l, NULL, NULL);
    w->rc[w->n++] = eddy_loop_make_current(l);
    w->rc[w->n++] = eddy_loop_install(l);
    w->rc[w->n++] = eddy_loop_add_future(l, w->fut, fcb_never, NULL);
    w->rc[w->n++] = eddy_loop_run_in_executor(l, w->ex, work_never, NULL,
                                              &w->f_out);
    w->rc[w->n++] = eddy_loop_set_default_executor(l, w->ex);
    w->rc[w->n++] = eddy_periodic_start(w->per);
}

/* Stops the loop once both the cross-thread callback and the timeout ran,
 * in whichever order a slow machine gives them. */
static int cb_done(eddy_loop *loop, void *arg)
{
    cb_note(loop, arg);
    return ++counter_done == 2 ? eddy_loop_stop(loop) : 0;
}

static void *wrong_thread(void *arg)
{
    struct wrong *w = arg;
    eddy_loop *cur = NULL;
    wrong_thread_calls(w);
    /* §2.10 and §2.12 also allow -EBUSY here: the loop is running. */
    w->close_rc[0] = eddy_loop_close(w->loop, false);
    w->close_rc[1] = eddy_loop_close(w->loop, true);
    w->close_rc[2] = eddy_loop_free(w->loop);
    w->current_rc = eddy_loop_current(false, &cur);
    w->add_rc = eddy_loop_add_callback(w->loop, cb_done, "ok");
    return NULL;
}

static int cb_run_wrong_thread(eddy_loop *loop, void *arg)
{
    struct wrong *w = arg;
    pthread_t t = eddy_h_thread(wrong_thread, w);
    pthread_join(t, NULL);
    (void)loop;
    return -EIO; /* goes to the error handler set before the thread ran */
}

static int h_count(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    (void)arg;
    counter++;
    return 0;
}

static void setup_wrong(eddy_loop *loop, struct wrong *w, int p[2], int q[2])
{
    eddy_h_pipe(p);
    eddy_h_pipe(q);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(write(q[1], "x", 1), 1);
    memset(w, 0, sizeof(*w));
    w->loop = loop;
    w->fd = p[0];
    w->spare = q[0];
    w->h_out = 77;
    w->f_out = (eddy_future *)&sentinel;
    assert_int_equal(eddy_executor_new(1, &w->ex), 0);
    assert_int_equal(eddy_future_new(&w->fut), 0);
    assert_int_equal(eddy_periodic_new(loop, 1, 0, cb_never, NULL, &w->per),
                     0);
    assert_int_equal(eddy_loop_set_error_handler(loop, err_rec, NULL), 0);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_count,
                                           NULL), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0.02, cb_done, "t",
                                          &w->pending), 0);
    assert_int_equal(eddy_loop_call_later(loop, 5, cb_stop, "guard", NULL),
                     0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_run_wrong_thread, w), 0);
}

static void check_wrong(const struct wrong *w)
{
    /* Compared as text so that a failure shows which call it was. */
    struct eddy_trace got = {{0}, 0, false};
    struct eddy_trace want_rc = {{0}, 0, false};
    for (int i = 0; i < w->n; i++) {
        eddy_h_trace(&got, "%d:%d", i, w->rc[i]);
        eddy_h_trace(&want_rc, "%d:%d", i, -EPERM);
    }
    assert_string_equal(eddy_h_trace_str(&got), eddy_h_trace_str(&want_rc));
    for (int i = 0; i < 3; i++) {
        assert_true(w->close_rc[i] == -EPERM || w->close_rc[i] == -EBUSY);
    }
    assert_int_equal(w->add_rc, 0);
    assert_int_equal(w->current_rc, -ENOENT);
    assert_int_equal(w->h_out, 77);
    assert_ptr_equal(w->f_out, (eddy_future *)&sentinel);
    /* No effect: the error handler, the timeout, the handler, the stop
     * state and the spare fd are as they were. */
    char want1[32], want2[32];
    snprintf(want1, sizeof(want1), "err:%d ok t", -EIO);
    snprintf(want2, sizeof(want2), "err:%d t ok", -EIO);
    const char *tr = eddy_h_trace_str(&T);
    if (strcmp(tr, want2) != 0) {
        assert_string_equal(tr, want1);
    }
}

static void c1_6_wrong_thread_eperm_changes_nothing(void **state)
{
    /* SPEC §1.6: while a loop runs, any loop function other than
     * add_callback called from another thread returns -EPERM and has no
     * effect; add_callback works from any thread. */
    eddy_loop *loop = *state;
    struct wrong w;
    int p[2], q[2];
    begin();
    setup_wrong(loop, &w, p, q);
    assert_int_equal(eddy_loop_start(loop), 0);
    check_wrong(&w);
    assert_true(counter >= 2);
    assert_false(eddy_periodic_is_running(w.per));
    assert_int_equal(eddy_loop_add_handler(loop, q[0], EDDY_READ, h_never,
                                           NULL), 0);
    eddy_periodic_free(w.per);
    assert_int_equal(eddy_loop_free(loop), 0);
    *state = NULL;
    eddy_executor_free(w.ex);
    eddy_future_release(w.fut);
    assert_int_equal(never_calls, 0);
    eddy_h_close_pair(p);
    eddy_h_close_pair(q);
}

static void *use_idle_loop(void *arg)
{
    eddy_loop *loop = arg;
    int p[2];
    if (pipe(p) != 0) {
        return NULL;
    }
    if (write(p[1], "x", 1) == 1 &&
        eddy_loop_add_handler(loop, p[0], EDDY_READ, h_count, NULL) == 0) {
        eddy_loop_call_later(loop, 0.01, cb_stop, "thread", NULL);
        eddy_loop_start(loop);
        eddy_loop_remove_handler(loop, p[0]);
    }
    eddy_h_close_pair(p);
    return NULL;
}

static void c1_6_idle_loop_usable_from_one_other_thread(void **state)
{
    /* SPEC §1.6: while a loop does not run, one thread at a time may use
     * it: a loop made here can be driven by another thread, then here. */
    eddy_loop *loop = *state;
    begin();
    pthread_t t = eddy_h_thread(use_idle_loop, loop);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_string_equal(eddy_h_trace_str(&T), "thread");
    assert_true(counter >= 1);
    assert_int_equal(eddy_loop_add_callback(loop, cb_stop, "main"), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_string_equal(eddy_h_trace_str(&T), "thread main");
}

/* --- §1.7 ----------------------------------------------------------------- */

#define SHUT(call) assert_int_equal((call), -ESHUTDOWN)

static void closed_loop_calls(eddy_loop *loop, int fd, eddy_timeout h,
                              eddy_future *f, eddy_executor *ex)
{
    eddy_timeout hout = 77;
    eddy_future *fout = (eddy_future *)&sentinel;
    SHUT(eddy_loop_add_callback(loop, cb_never, NULL));
    SHUT(eddy_loop_spawn_callback(loop, cb_never, NULL));
    SHUT(eddy_loop_add_callback_from_signal(loop, cb_never, NULL));
    SHUT(eddy_loop_call_at(loop, eddy_loop_time(loop), cb_never, NULL,
                           &hout));
    SHUT(eddy_loop_call_later(loop, 0, cb_never, NULL, &hout));
    SHUT(eddy_loop_add_timeout(loop, 0, cb_never, NULL, &hout));
    SHUT(eddy_loop_add_timeout_delta(loop, 0, cb_never, NULL, &hout));
    SHUT(eddy_loop_remove_timeout(loop, h));
    SHUT(eddy_loop_add_handler(loop, fd, EDDY_READ, h_never, NULL));
    SHUT(eddy_loop_add_handler_object(loop, fd, EDDY_READ, h_never, NULL,
                                      NULL));
    SHUT(eddy_loop_update_handler(loop, fd, EDDY_WRITE));
    SHUT(eddy_loop_remove_handler(loop, fd));
    SHUT(eddy_loop_start(loop));
    SHUT(eddy_loop_stop(loop));
    SHUT(eddy_loop_run_sync(loop, EDDY_NO_TIMEOUT, rs_never, NULL, NULL));
    SHUT(eddy_loop_close(loop, false));
    SHUT(eddy_loop_close(loop, true));
    SHUT(eddy_loop_make_current(loop));
    SHUT(eddy_loop_install(loop));
    SHUT(eddy_loop_set_error_handler(loop, NULL, NULL));
    SHUT(eddy_loop_add_future(loop, f, fcb_never, NULL));
    SHUT(eddy_loop_run_in_executor(loop, ex, work_never, NULL, &fout));
    SHUT(eddy_loop_run_in_executor(loop, NULL, work_never, NULL, &fout));
    SHUT(eddy_loop_set_default_executor(loop, ex));
    assert_int_equal(hout, 77);
    assert_ptr_equal(fout, (eddy_future *)&sentinel);
}

static void c1_7_closed_loop_refuses_everything(void **state)
{
    /* SPEC §1.7: after close, every function that takes the loop returns
     * -ESHUTDOWN and has no effect, except eddy_loop_time (which still
     * answers) and eddy_loop_free. */
    eddy_loop *loop = *state;
    eddy_future *f = NULL;
    eddy_executor *ex = NULL;
    eddy_periodic *per = NULL;
    eddy_timeout h = 0;
    eddy_loop *cur = NULL;
    int p[2];
    begin();
    eddy_h_pipe(p);
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_executor_new(1, &ex), 0);
    assert_int_equal(eddy_periodic_new(loop, 10, 0, cb_never, NULL, &per), 0);
    assert_int_equal(eddy_loop_call_later(loop, 5, cb_never, NULL, &h), 0);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_never,
                                           NULL), 0);
    eddy_loop_clear_current();
    double t0 = eddy_loop_time(loop);
    assert_int_equal(eddy_loop_close(loop, false), 0);
    closed_loop_calls(loop, p[0], h, f, ex);
    SHUT(eddy_periodic_start(per));
    assert_false(eddy_periodic_is_running(per));
    double t1 = eddy_loop_time(loop);
    assert_true(isfinite(t1) && t1 >= t0);
    assert_true(eddy_h_fd_open(p[0]));
    assert_int_equal(eddy_loop_current(false, &cur), -ENOENT);
    eddy_periodic_free(per);
    assert_int_equal(eddy_loop_free(loop), 0);
    *state = NULL;
    eddy_executor_free(ex);
    assert_int_equal(eddy_future_set_result(f, NULL), 0);
    eddy_future_release(f);
    assert_int_equal(never_calls, 0);
    eddy_h_close_pair(p);
}

struct closed_view {
    eddy_loop *loop;
    int rc[5];
    double time;
};

static void *closed_from_thread(void *arg)
{
    struct closed_view *v = arg;
    v->rc[0] = eddy_loop_add_callback(v->loop, cb_never, NULL);
    v->rc[1] = eddy_loop_stop(v->loop);
    v->rc[2] = eddy_loop_call_later(v->loop, 0, cb_never, NULL, NULL);
    v->rc[3] = eddy_loop_make_current(v->loop);
    v->rc[4] = eddy_loop_close(v->loop, false);
    v->time = eddy_loop_time(v->loop);
    return NULL;
}

static void c1_7_closed_loop_refuses_other_threads(void **state)
{
    /* SPEC §1.7: a closed loop returns -ESHUTDOWN to every thread. */
    eddy_loop *loop = *state;
    struct closed_view v = {loop, {0}, NAN};
    begin();
    assert_int_equal(eddy_loop_close(loop, false), 0);
    pthread_t t = eddy_h_thread(closed_from_thread, &v);
    assert_int_equal(pthread_join(t, NULL), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(v.rc[i], -ESHUTDOWN);
    }
    assert_true(isfinite(v.time));
    assert_int_equal(never_calls, 0);
}

/* --- §1.8 ----------------------------------------------------------------- */

static void bad_loop_arguments(eddy_loop *loop, int fd)
{
    eddy_loop *lout = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, NULL), -EINVAL);
    assert_int_equal(eddy_loop_new(-1, &lout), -EINVAL);
    assert_int_equal(eddy_loop_current(false, NULL), -EINVAL);
    assert_int_equal(eddy_loop_current(true, NULL), -EINVAL);
    assert_int_equal(eddy_loop_add_callback(loop, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_loop_spawn_callback(loop, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_loop_add_callback_from_signal(loop, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_call_at(loop, NAN, cb_never, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_call_at(loop, INFINITY, cb_never, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_call_at(loop, 1, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_loop_call_later(loop, -INFINITY, cb_never, NULL,
                                          NULL), -EINVAL);
    assert_int_equal(eddy_loop_add_timeout(loop, NAN, cb_never, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_add_timeout_delta(loop, INFINITY, cb_never,
                                                 NULL, NULL), -EINVAL);
    assert_int_equal(eddy_loop_add_handler(loop, fd, EDDY_READ, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_add_handler(loop, fd, 0x1000, h_never, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_run_sync(loop, 1, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_loop_run_sync(loop, NAN, rs_never, NULL, NULL),
                     -EINVAL);
}

static void bad_future_arguments(eddy_loop *loop)
{
    eddy_future *f = NULL;
    eddy_executor *ex = NULL;
    eddy_periodic *per = NULL;
    assert_int_equal(eddy_future_new(NULL), -EINVAL);
    assert_int_equal(eddy_future_new(&f), 0);
    assert_int_equal(eddy_future_set_error(f, 0), -EINVAL);
    assert_int_equal(eddy_future_set_error(f, 5), -EINVAL);
    assert_false(eddy_future_done(f));
    assert_int_equal(eddy_loop_add_future(loop, NULL, fcb_never, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_add_future(loop, f, NULL, NULL), -EINVAL);
    eddy_future_release(f);
    assert_int_equal(eddy_executor_new(0, &ex), -EINVAL);
    assert_int_equal(eddy_executor_new(1, NULL), -EINVAL);
    assert_int_equal(eddy_loop_run_in_executor(loop, NULL, NULL, NULL, &f),
                     -EINVAL);
    assert_int_equal(eddy_loop_run_in_executor(loop, NULL, work_never, NULL,
                                               NULL), -EINVAL);
    assert_int_equal(eddy_loop_set_default_executor(loop, NULL), -EINVAL);
    assert_int_equal(eddy_periodic_new(loop, NAN, 0, cb_never, NULL, &per),
                     -EINVAL);
    assert_int_equal(eddy_periodic_new(loop, 10, 0, NULL, NULL, &per),
                     -EINVAL);
    assert_int_equal(eddy_periodic_new(loop, 10, 0, cb_never, NULL, NULL),
                     -EINVAL);
}

static void c1_8_invalid_arguments_einval(void **state)
{
    /* SPEC §1.8: invalid arguments (a NULL required pointer, an
     * out-of-range flag, a NaN or infinite time) return -EINVAL before any
     * state is touched, never crash and never leak. */
    eddy_loop *loop = *state;
    int p[2];
    begin();
    eddy_h_pipe(p);
    assert_int_equal(write(p[1], "x", 1), 1);
    int fds = eddy_h_open_fds();
    for (int i = 0; i < 20; i++) {
        bad_loop_arguments(loop, p[0]);
        bad_future_arguments(loop);
    }
    assert_int_equal(eddy_h_open_fds(), fds);
    /* Nothing was touched: the loop still runs, with nothing to do. */
    run_ticks(loop, 3);
    assert_string_equal(eddy_h_trace_str(&T), "| | |");
    assert_int_equal(never_calls, 0);
    eddy_h_close_pair(p);
}

static void c1_8_null_loop_einval(void **state)
{
    /* SPEC §1.8: a NULL loop is a NULL required pointer: -EINVAL. */
    (void)state;
    eddy_future *f = NULL;
    int p[2];
    eddy_h_pipe(p);
    assert_int_equal(eddy_loop_add_callback(NULL, cb_never, NULL), -EINVAL);
    assert_int_equal(eddy_loop_call_later(NULL, 0, cb_never, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_add_handler(NULL, p[0], EDDY_READ, h_never,
                                           NULL), -EINVAL);
    assert_int_equal(eddy_loop_remove_handler(NULL, p[0]), -EINVAL);
    assert_int_equal(eddy_loop_start(NULL), -EINVAL);
    assert_int_equal(eddy_loop_stop(NULL), -EINVAL);
    assert_int_equal(eddy_loop_close(NULL, false), -EINVAL);
    assert_int_equal(eddy_loop_make_current(NULL), -EINVAL);
    assert_int_equal(eddy_loop_run_sync(NULL, 1, rs_never, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_run_in_executor(NULL, NULL, work_never, NULL,
                                               &f), -EINVAL);
    assert_true(isnan(eddy_loop_time(NULL)));
    assert_int_equal(never_calls, 0);
    eddy_h_close_pair(p);
}

/* --- §1.4 eddy_strerror ------------------------------------------------ */
/* The codes the binding's contracts name most often. */
static const int known_codes[] = {
    -EINVAL, -ENOMEM, -ESHUTDOWN, -ETIMEDOUT, -EBADF, -EEXIST, -ENOENT,
    -EBUSY, -EPERM, -EALREADY, -ECANCELED, -ERANGE, -EAGAIN, -ECHILD,
    -ESRCH, -EAFNOSUPPORT,
};
#define NKNOWN (sizeof(known_codes) / sizeof(known_codes[0]))

static bool contains_nocase(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (; *text != '\0'; text++) {
        size_t i = 0;
        while (i < n && text[i] != '\0' &&
               tolower((unsigned char)text[i]) == word[i]) {
            i++;
        }
        if (i == n) {
            return true;
        }
    }
    return false;
}

static void c1_4_strerror_zero_is_success(void **state)
{
    /* SPEC §1.4: eddy_strerror(0) describes success. */
    (void)state;
    const char *text = eddy_strerror(0);
    assert_non_null(text);
    assert_true(text[0] != '\0');
    assert_string_not_equal(text, "unknown error");
    assert_true(contains_nocase(text, "success"));
}

static void c1_4_strerror_known_codes_distinct(void **state)
{
    /* SPEC §1.4: each eddy error code has its own non-empty description. */
    (void)state;
    const char *success = eddy_strerror(0);
    for (size_t i = 0; i < NKNOWN; i++) {
        const char *text = eddy_strerror(known_codes[i]);
        assert_non_null(text);
        assert_true(text[0] != '\0');
        assert_string_not_equal(text, "unknown error");
        assert_string_not_equal(text, success);
        for (size_t k = 0; k < i; k++) {
            assert_string_not_equal(text, eddy_strerror(known_codes[k]));
        }
    }
}

static void c1_4_strerror_unknown_code(void **state)
{
    /* SPEC §1.4: an unknown code gives "unknown error", never NULL. */
    (void)state;
    const int unknown[] = {-100000, -999999, 123456, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        const char *text = eddy_strerror(unknown[i]);
        assert_non_null(text);
        assert_string_equal(text, "unknown error");
    }
}

static void *strerror_in_thread(void *arg)
{
    const char **texts = arg;
    for (size_t i = 0; i < NKNOWN; i++) {
        texts[i] = eddy_strerror(known_codes[i]);
    }
    return NULL;
}

static void c1_4_strerror_any_thread_same_text(void **state)
{
    /* SPEC §1.4: the text is static and eddy_strerror works on any
     * thread: another thread gets the same descriptions. */
    (void)state;
    const char *texts[NKNOWN] = {NULL};
    pthread_t thread;
    assert_int_equal(
        pthread_create(&thread, NULL, strerror_in_thread, (void *)texts), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    for (size_t i = 0; i < NKNOWN; i++) {
        assert_non_null(texts[i]);
        assert_string_equal(texts[i], eddy_strerror(known_codes[i]));
    }
}

static const struct eddy_case cases[] = {
    EDDY_CASE(c1_4_strerror_zero_is_success, ""),
    EDDY_CASE(c1_4_strerror_known_codes_distinct, ""),
    EDDY_CASE(c1_4_strerror_unknown_code, ""),
    EDDY_CASE(c1_4_strerror_any_thread_same_text, ""),
    EDDY_CASE(c1_1_cases_cite_well_formed_clause_ids, ""),
    EDDY_CASE_LOOP(c1_2_success_returns_zero, "2.2"),
    EDDY_CASE_LOOP(c1_2_out_params_untouched_on_failure, "1.8"),
    EDDY_CASE_LOOP(c1_2_errors_are_negated_errno_values, "1.4"),
    EDDY_CASE_LOOP(c1_3_failed_calls_schedule_nothing, "1.8 5.6 3.6"),
    EDDY_CASE_LOOP(c1_5_callback_failure_reported_and_next_runs, "2.13"),
    EDDY_CASE_LOOP(c1_5_failed_handler_stays_registered, "3.2"),
    EDDY_CASE_LOOP(c1_5_timeout_future_periodic_failures, "4.8"),
    EDDY_CASE_LOOP(c1_5_null_error_handler_restores_default, ""),
    EDDY_CASE_LOOP(c1_6_wrong_thread_eperm_changes_nothing, "5.10 2.9"),
    EDDY_CASE_LOOP(c1_6_idle_loop_usable_from_one_other_thread, ""),
    EDDY_CASE_LOOP(c1_7_closed_loop_refuses_everything, "2.10 4.4"),
    EDDY_CASE_LOOP(c1_7_closed_loop_refuses_other_threads, "4.4"),
    EDDY_CASE_LOOP(c1_8_invalid_arguments_einval, "1.3"),
    EDDY_CASE(c1_8_null_loop_einval, ""),
};
EDDY_SECTION(s01, "1", "Conventions", cases);
