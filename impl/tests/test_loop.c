/* impl/tests/test_loop.c - white-box tests of the loop's lifecycle
 * (SPEC §2), the thread rule (§1.6) and the iteration model (§2.13), on a
 * virtual clock and a fake poll, plus real threads where the rule needs
 * them.
 */
#define _GNU_SOURCE
#include "loop_fixture.h"

/* --- §2 lifecycle --------------------------------------------------------- */

static void test_loop_new_validation(void **state)
{
    (void)state;
    eddy_loop *loop = (eddy_loop *)&loop;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, NULL), -EINVAL);
    assert_int_equal(eddy_loop_new(3, &loop), -EINVAL);
    assert_int_equal(eddy_loop_new(-1, &loop), -EINVAL);
    assert_ptr_equal(loop, (eddy_loop *)&loop); /* untouched on failure */
}

static void test_loop_current_rules(void **state)
{
    (void)state;
    eddy_loop *a = NULL;
    eddy_loop *b = NULL;
    eddy_loop *got = NULL;
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_current(false, &got), -ENOENT);
    assert_int_equal(eddy_loop_current(false, NULL), -EINVAL);
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_IF_NONE, &a), 0);
    assert_int_equal(eddy_loop_current(false, &got), 0);
    assert_ptr_equal(got, a);
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_IF_NONE, &b), 0);
    assert_int_equal(eddy_loop_current(false, &got), 0);
    assert_ptr_equal(got, a); /* a stays current */
    assert_int_equal(eddy_loop_free(b), 0);
    b = (eddy_loop *)&b;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_FORCE, &b), -EEXIST);
    assert_ptr_equal(b, (eddy_loop *)&b);
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &b), 0);
    assert_int_equal(eddy_loop_install(b), 0);
    assert_int_equal(eddy_loop_instance(&got), 0);
    assert_ptr_equal(got, b);
    eddy_loop_clear_instance();
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_FORCE, &got), 0);
    assert_int_equal(eddy_loop_free(got), 0); /* free clears current */
    assert_int_equal(eddy_loop_current(false, &got), -ENOENT);
    assert_int_equal(eddy_loop_make_current(a), 0);
    assert_int_equal(eddy_loop_close(a, false), 0); /* close clears it */
    assert_int_equal(eddy_loop_current(false, &got), -ENOENT);
    assert_int_equal(eddy_loop_make_current(a), -ESHUTDOWN);
    assert_int_equal(eddy_loop_current(true, &got), 0); /* creates one */
    eddy_loop *again = NULL;
    assert_int_equal(eddy_loop_current(true, &again), 0);
    assert_ptr_equal(again, got);
    assert_int_equal(eddy_loop_free(got), 0);
    assert_int_equal(eddy_loop_free(a), 0);
    assert_int_equal(eddy_loop_free(b), 0);
    assert_int_equal(eddy_loop_free(NULL), 0);
}

static void test_loop_closed_refuses_everything(void **state)
{
    struct fx *f = *state;
    eddy_loop *l = f->loop;
    int p[2];
    make_pipe(p);
    eddy_timeout t = 0;
    assert_int_equal(eddy_loop_call_later(l, 1, nop_cb, NULL, &t), 0);
    assert_int_equal(eddy_loop_close(l, false), 0);
    assert_int_equal(eddy_loop_close(l, false), -ESHUTDOWN);
    assert_int_equal(eddy_loop_add_handler(l, p[0], EDDY_READ, nop_handler,
                                           NULL),
                     -ESHUTDOWN);
    assert_int_equal(eddy_loop_add_handler_object(l, p[0], EDDY_READ,
                                                  nop_handler, NULL, NULL),
                     -ESHUTDOWN);
    assert_int_equal(eddy_loop_update_handler(l, p[0], 0), -ESHUTDOWN);
    assert_int_equal(eddy_loop_remove_handler(l, p[0]), -ESHUTDOWN);
    assert_int_equal(eddy_loop_add_callback(l, nop_cb, NULL), -ESHUTDOWN);
    assert_int_equal(eddy_loop_spawn_callback(l, nop_cb, NULL), -ESHUTDOWN);
    assert_int_equal(eddy_loop_add_callback_from_signal(l, nop_cb, NULL),
                     -ESHUTDOWN);
    assert_int_equal(eddy_loop_call_at(l, 1, nop_cb, NULL, NULL), -ESHUTDOWN);
    assert_int_equal(eddy_loop_call_later(l, 1, nop_cb, NULL, NULL),
                     -ESHUTDOWN);
    assert_int_equal(eddy_loop_add_timeout(l, 1, nop_cb, NULL, NULL),
                     -ESHUTDOWN);
    assert_int_equal(eddy_loop_add_timeout_delta(l, 1, nop_cb, NULL, NULL),
                     -ESHUTDOWN);
    assert_int_equal(eddy_loop_remove_timeout(l, t), -ESHUTDOWN);
    assert_int_equal(eddy_loop_stop(l), -ESHUTDOWN);
    assert_int_equal(eddy_loop_start(l), -ESHUTDOWN);
    assert_int_equal(eddy_loop_make_current(l), -ESHUTDOWN);
    assert_int_equal(eddy_loop_set_error_handler(l, NULL, NULL), -ESHUTDOWN);
    assert_int_equal(eddy__loop_check_thread(l), -ESHUTDOWN);
    assert_true(eddy_loop_time(l) == 1000.0); /* the clock still works */
    assert_true(isnan(eddy_loop_time(NULL)));
    assert_true(eddy__loop_check(l));
    close_pipe(p);
}

static int closed_objects;

static void count_close(int fd, void *obj)
{
    assert_ptr_equal(obj, &closed_objects);
    closed_objects++;
    close(fd);
}

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static void test_loop_close_all_fds(void **state)
{
    struct fx *f = *state;
    int a[2];
    int b[2];
    int c[2];
    make_pipe(a);
    make_pipe(b);
    make_pipe(c);
    closed_objects = 0;
    assert_int_equal(eddy_loop_add_handler(f->loop, a[0], EDDY_READ,
                                           nop_handler, NULL), 0);
    assert_int_equal(eddy_loop_add_handler_object(f->loop, b[0], EDDY_READ,
                                                  nop_handler,
                                                  &closed_objects,
                                                  count_close), 0);
    assert_int_equal(eddy_loop_add_handler_object(f->loop, c[0], EDDY_NONE,
                                                  nop_handler, NULL, NULL),
                     0);
    assert_int_equal(eddy_loop_close(f->loop, true), 0);
    assert_false(fd_open(a[0]));
    assert_false(fd_open(b[0]));
    assert_int_equal(closed_objects, 1);
    assert_true(fd_open(c[0])); /* NULL close_cb: left open */
    assert_true(fd_open(a[1]) && fd_open(b[1]));
    close(a[1]);
    close(b[1]);
    close_pipe(c);
    /* without all_fds nothing is closed */
    eddy_loop *l = NULL;
    make_pipe(a);
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &l), 0);
    assert_int_equal(eddy_loop_add_handler(l, a[0], EDDY_READ, nop_handler,
                                           NULL), 0);
    assert_int_equal(eddy_loop_free(l), 0);
    assert_true(fd_open(a[0]));
    close_pipe(a);
}

struct reentry {
    eddy_loop *loop;
    int close_rc;
    int free_rc;
    int add_rc;
};

static void close_reenters(int fd, void *obj)
{
    struct reentry *r = obj;
    r->close_rc = eddy_loop_close(r->loop, false);
    r->free_rc = eddy_loop_free(r->loop);
    r->add_rc = eddy_loop_add_callback(r->loop, must_not_run, NULL);
    close(fd);
}

/* A close function that calls back into the closing loop is refused. */
static void test_loop_close_function_reenters(void **state)
{
    struct fx *f = *state;
    int p[2];
    make_pipe(p);
    struct reentry r = {f->loop, 1, 1, 1};
    assert_int_equal(eddy_loop_add_handler_object(f->loop, p[0], EDDY_READ,
                                                  nop_handler, &r,
                                                  close_reenters), 0);
    assert_int_equal(eddy_loop_close(f->loop, true), 0);
    assert_int_equal(r.close_rc, -ESHUTDOWN);
    assert_int_equal(r.free_rc, -EBUSY);
    assert_int_equal(r.add_rc, -ESHUTDOWN);
    close(p[1]);
}

static int queue_in_loop(eddy_loop *loop, void *arg)
{
    (void)arg;
    assert_int_equal(eddy_loop_add_callback(loop, must_not_run, NULL), 0);
    assert_int_equal(eddy__loop_add_callback_owned(loop, must_not_run,
                                                   &disposed, count_dispose),
                     0);
    return 0;
}

static void test_loop_close_discards_pending(void **state)
{
    struct fx *f = *state;
    disposed = 0;
    assert_int_equal(eddy_loop_add_callback(f->loop, queue_in_loop, NULL), 0);
    iterate(f->loop); /* ring now holds two entries */
    assert_int_equal(f->loop->ring.count, 2);
    assert_int_equal(eddy_loop_add_callback(f->loop, must_not_run, NULL), 0);
    assert_int_equal(eddy__loop_add_callback_owned(f->loop, must_not_run,
                                                   &disposed, count_dispose),
                     0);
    assert_int_equal(eddy_loop_add_callback_from_signal(f->loop, must_not_run,
                                                        NULL), 0);
    assert_int_equal(eddy_loop_call_later(f->loop, 0, must_not_run, NULL,
                                          NULL), 0);
    assert_int_equal(eddy_loop_close(f->loop, false), 0);
    assert_int_equal(disposed, 2);
    /* closed: dispose runs at once and the call fails */
    assert_int_equal(eddy__loop_add_callback_owned(f->loop, must_not_run,
                                                   &disposed, count_dispose),
                     -ESHUTDOWN);
    assert_int_equal(disposed, 3);
}

static int check_current_is(eddy_loop *loop, void *arg)
{
    eddy_loop *cur = NULL;
    assert_int_equal(eddy_loop_current(false, &cur), 0);
    assert_ptr_equal(cur, loop);
    (void)arg;
    eddy_loop_clear_current(); /* start() restores regardless */
    return eddy_loop_stop(loop);
}

static void test_loop_start_restores_current(void **state)
{
    struct fx *f = *state;
    eddy_loop *a = NULL;
    eddy_loop *cur = NULL;
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_FORCE, &a), 0);
    assert_int_equal(eddy_loop_add_callback(f->loop, check_current_is, NULL),
                     0);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    assert_int_equal(eddy_loop_current(false, &cur), 0);
    assert_ptr_equal(cur, a);
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_add_callback(f->loop, check_current_is, NULL),
                     0);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    assert_int_equal(eddy_loop_current(false, &cur), -ENOENT);
    assert_int_equal(eddy_loop_free(a), 0);
}

static eddy_loop *other_loop;

static int reentry_cb(eddy_loop *loop, void *arg)
{
    (void)arg;
    assert_int_equal(eddy_loop_start(loop), -EBUSY);
    assert_int_equal(eddy_loop_close(loop, false), -EBUSY);
    assert_int_equal(eddy_loop_free(loop), -EBUSY);
    assert_int_equal(eddy_loop_start(other_loop), -EPERM);
    /* closing the loop that start() will restore as current is fine */
    assert_int_equal(eddy_loop_free(other_loop), 0);
    return eddy_loop_stop(loop);
}

static void test_loop_reentry_and_busy(void **state)
{
    struct fx *f = *state;
    eddy_loop *cur = NULL;
    eddy_loop_clear_current();
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_IF_NONE, &other_loop), 0);
    assert_int_equal(eddy_loop_add_callback(f->loop, reentry_cb, NULL), 0);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    assert_int_equal(eddy_loop_current(false, &cur), -ENOENT);
    assert_int_equal(eddy_loop_start(NULL), -EINVAL);
    assert_int_equal(eddy_loop_stop(NULL), -EINVAL);
    assert_int_equal(eddy_loop_close(NULL, false), -EINVAL);
    assert_int_equal(eddy_loop_make_current(NULL), -EINVAL);
    assert_int_equal(eddy_loop_set_error_handler(NULL, NULL, NULL), -EINVAL);
}

struct foreign {
    eddy_loop *loop;
    int rc[16];
};

static void *foreign_calls(void *arg)
{
    struct foreign *fo = arg;
    eddy_loop *l = fo->loop;
    eddy_timeout t = 0;
    int p[2];
    fo->rc[12] = pipe2(p, O_CLOEXEC);
    fo->rc[0] = eddy_loop_add_handler(l, p[0], EDDY_READ, nop_handler, NULL);
    fo->rc[1] = eddy_loop_update_handler(l, p[0], EDDY_READ);
    fo->rc[2] = eddy_loop_remove_handler(l, p[0]);
    fo->rc[3] = eddy_loop_call_later(l, 0, nop_cb, NULL, &t);
    fo->rc[4] = eddy_loop_remove_timeout(l, 1);
    fo->rc[5] = eddy_loop_stop(l);
    fo->rc[6] = eddy_loop_make_current(l);
    fo->rc[7] = eddy_loop_set_error_handler(l, NULL, NULL);
    fo->rc[8] = eddy_loop_start(l);
    fo->rc[9] = eddy_loop_close(l, false);
    fo->rc[10] = eddy_loop_free(l);
    fo->rc[11] = eddy_loop_add_callback(l, stop_cb, "foreign");
    close_pipe(p);
    return NULL;
}

static int spawn_foreign(eddy_loop *loop, void *arg)
{
    struct foreign *fo = arg;
    fo->loop = loop;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, foreign_calls, fo), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    return 0;
}

static void test_loop_foreign_thread_rules(void **state)
{
    struct fx *f = *state;
    struct foreign fo;
    memset(&fo, 0, sizeof fo);
    eddy_timeout before = f->loop->serial;
    assert_int_equal(eddy_loop_add_callback(f->loop, spawn_foreign, &fo), 0);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    for (int i = 0; i <= 7; i++) {
        assert_int_equal(fo.rc[i], -EPERM);
    }
    assert_int_equal(fo.rc[8], -EBUSY);
    assert_int_equal(fo.rc[9], -EBUSY);
    assert_int_equal(fo.rc[10], -EBUSY);
    assert_int_equal(fo.rc[11], 0);
    assert_int_equal(fo.rc[12], 0);
    assert_string_equal(f->log, "foreign ");
    assert_int_equal(f->loop->serial, before); /* nothing scheduled */
    assert_int_equal(f->loop->npfds, 1);
}

/* cmocka asserts belong to the main thread: threads record, main checks. */
static int elsewhere_rc[4];

static void *start_elsewhere(void *arg)
{
    eddy_loop *loop = arg;
    eddy_loop *cur = NULL;
    elsewhere_rc[0] = eddy_loop_current(false, &cur);
    elsewhere_rc[1] = eddy_loop_add_callback(loop, stop_cb, "there");
    elsewhere_rc[2] = eddy_loop_start(loop);
    elsewhere_rc[3] = eddy_loop_current(false, &cur);
    return NULL;
}

/* SPEC §1.6: while it is not running, any one thread may use the loop. */
static void test_loop_runs_on_any_thread(void **state)
{
    struct fx *f = *state;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, start_elsewhere, f->loop), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(elsewhere_rc[0], -ENOENT);
    assert_int_equal(elsewhere_rc[1], 0);
    assert_int_equal(elsewhere_rc[2], 0);
    assert_int_equal(elsewhere_rc[3], -ENOENT);
    assert_string_equal(f->log, "there ");
    iterate(f->loop);
}

/* --- §2.13 the iteration ------------------------------------------------- */

static int chain_cb(eddy_loop *loop, void *arg)
{
    logf_("%s ", (const char *)arg);
    return eddy_loop_add_callback(loop, log_cb, "child");
}

static void test_loop_stop_before_start_runs_one_iteration(void **state)
{
    struct fx *f = *state;
    assert_int_equal(eddy_loop_add_callback(f->loop, chain_cb, "a"), 0);
    assert_int_equal(eddy_loop_add_callback(f->loop, log_cb, "b"), 0);
    assert_int_equal(eddy_loop_stop(f->loop), 0);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    assert_string_equal(f->log, "a b ");
    assert_int_equal(f->npolls, 1);
    assert_int_equal(f->timeouts[0], 0);
    iterate(f->loop);
    assert_string_equal(f->log, "a b child ");
}

static int stop_then_more(eddy_loop *loop, void *arg)
{
    (void)arg;
    logf_("s ");
    return eddy_loop_stop(loop);
}

static void test_loop_iteration_order(void **state)
{
    struct fx *f = *state;
    int p[2];
    make_pipe(p);
    assert_int_equal(write_byte(p[1]), 1);
    assert_int_equal(eddy_loop_add_handler(f->loop, p[0], EDDY_READ,
                                           log_handler, "io"), 0);
    assert_int_equal(eddy_loop_call_later(f->loop, -1, log_cb, "past", NULL),
                     0);
    assert_int_equal(eddy_loop_call_at(f->loop, 1000.0, log_cb, "now", NULL),
                     0);
    assert_int_equal(eddy_loop_add_callback(f->loop, chain_cb, "cb"), 0);
    assert_int_equal(eddy_loop_add_callback(f->loop, stop_then_more, NULL),
                     0);
    assert_int_equal(eddy_loop_add_callback(f->loop, log_cb, "after"), 0);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    /* SPEC §2.13: callbacks, then I/O, then due timers (past first); the
     * stop lets the whole iteration finish. */
    assert_string_equal(f->log, "cb s after io:1 past now ");
    iterate(f->loop);
    assert_string_equal(f->log, "cb s after io:1 past now child io:1 ");
    close_pipe(p);
}

static void test_loop_poll_timeout_rules(void **state)
{
    struct fx *f = *state;
    /* no timers, nothing ready: poll would block forever */
    assert_int_equal(eddy_loop_start(f->loop), 0);
    assert_int_equal(f->timeouts[0], -1);
    assert_int_equal(f->blocked, 1);
    /* rounded up to whole ms, never early */
    assert_int_equal(eddy_loop_call_at(f->loop, 1000.0 + 1.5e-3, stop_cb,
                                       NULL, NULL), 0);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    assert_int_equal(f->timeouts[1], 2);
    f->now = INT64_C(2000) * 1000000000;
    assert_int_equal(eddy_loop_call_at(f->loop, 2000.000000001, stop_cb,
                                       NULL, NULL), 0);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    assert_int_equal(f->timeouts[2], 1);
    /* capped at one hour */
    assert_int_equal(eddy_loop_call_later(f->loop, 7200, stop_cb, NULL,
                                          NULL), 0);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    assert_int_equal(f->timeouts[3], 3600000);
    assert_int_equal(f->timeouts[4], 3600000);
    assert_int_equal(f->npolls, 5);
    /* a pending callback makes it 0 */
    assert_int_equal(eddy_loop_call_later(f->loop, 5, nop_cb, NULL, NULL), 0);
    assert_int_equal(eddy_loop_add_callback(f->loop, stop_cb, NULL), 0);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    assert_int_equal(f->timeouts[5], 0);
}

static void test_loop_poll_errors(void **state)
{
    struct fx *f = *state;
    f->fail_errno = ENOMEM;
    assert_int_equal(eddy_loop_add_callback(f->loop, log_cb, "x"), 0);
    assert_int_equal(eddy_loop_start(f->loop), -ENOMEM);
    assert_string_equal(f->log, "");
    /* stopped and still usable; EINTR just ends the poll step */
    f->fail_errno = EINTR;
    assert_int_equal(eddy_loop_add_callback(f->loop, stop_cb, NULL), 0);
    assert_int_equal(eddy_loop_start(f->loop), 0);
    assert_string_equal(f->log, "x stop ");
    assert_int_equal(f->npolls, 2);
}

static int fail_handler(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    (void)arg;
    return -EPIPE;
}

static void test_loop_error_handler_gets_failures(void **state)
{
    struct fx *f = *state;
    int p[2];
    make_pipe(p);
    assert_int_equal(write_byte(p[1]), 1);
    assert_int_equal(eddy_loop_add_callback(f->loop, fail_cb,
                                            (void *)(intptr_t)-EIO), 0);
    assert_int_equal(eddy_loop_call_later(f->loop, 0, fail_cb,
                                          (void *)(intptr_t)-EDOM, NULL), 0);
    assert_int_equal(eddy_loop_add_handler(f->loop, p[0], EDDY_READ,
                                           fail_handler, NULL), 0);
    iterate(f->loop);
    assert_int_equal(f->nerrors, 3);
    assert_int_equal(f->errors[0], -EIO);
    assert_int_equal(f->errors[1], -EPIPE);
    assert_int_equal(f->errors[2], -EDOM);
    iterate(f->loop); /* SPEC §1.5: the handler stays registered */
    assert_int_equal(f->nerrors, 4);
    assert_int_equal(f->errors[3], -EPIPE);
    /* the default ignores failures */
    assert_int_equal(eddy_loop_set_error_handler(f->loop, NULL, f), 0);
    iterate(f->loop);
    assert_int_equal(f->nerrors, 4);
    assert_int_equal(eddy_loop_remove_handler(f->loop, p[0]), 0);
    close_pipe(p);
}

static void test_loop_check_detects_damage(void **state)
{
    struct fx *f = *state;
    int p[2];
    make_pipe(p);
    assert_int_equal(eddy_loop_add_handler(f->loop, p[0], EDDY_READ,
                                           nop_handler, NULL), 0);
    assert_int_equal(eddy_loop_call_later(f->loop, 1, nop_cb, NULL, NULL), 0);
    assert_int_equal(eddy_loop_call_later(f->loop, 2, nop_cb, NULL, NULL), 0);
    assert_true(eddy__loop_check(f->loop));
    f->loop->fds[p[0]].pidx = 5;
    assert_false(eddy__loop_check(f->loop));
    f->loop->fds[p[0]].pidx = 1;
    f->loop->pfds[1].events = POLLOUT;
    assert_false(eddy__loop_check(f->loop));
    f->loop->pfds[1].events = POLLIN | POLLPRI;
    f->loop->timers[heap_slot(f->loop->heap.ent[1].handle)].heap_idx = 0;
    assert_false(eddy__loop_check(f->loop));
    f->loop->timers[heap_slot(f->loop->heap.ent[1].handle)].heap_idx = 1;
    assert_true(eddy__loop_check(f->loop));
    assert_false(eddy__loop_check(NULL));
    assert_int_equal(eddy_loop_remove_handler(f->loop, p[0]), 0);
    close_pipe(p);
}

static void test_errors_strerror_texts(void **state)
{
    (void)state;
    assert_string_equal(eddy_strerror(0), "success");
    assert_string_equal(eddy_strerror(-ESHUTDOWN), "the loop is closed");
    assert_string_equal(eddy_strerror(EINVAL), "unknown error");
    assert_string_equal(eddy_strerror(-100000), "unknown error");
    static const int codes[] = {EPERM, ENOENT, EAGAIN, ENOMEM, EBUSY, EEXIST,
                                EBADF, EINVAL, ERANGE, ETIMEDOUT, EALREADY,
                                ECANCELED, EMFILE};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *t = eddy_strerror(-codes[i]);
        assert_non_null(t);
        assert_string_not_equal(t, "unknown error");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_new_validation),
        cmocka_unit_test(test_loop_current_rules),
        CASE(test_loop_closed_refuses_everything),
        CASE(test_loop_close_all_fds),
        CASE(test_loop_close_function_reenters),
        CASE(test_loop_close_discards_pending),
        CASE(test_loop_start_restores_current),
        CASE(test_loop_reentry_and_busy),
        CASE(test_loop_foreign_thread_rules),
        CASE(test_loop_runs_on_any_thread),
        CASE(test_loop_stop_before_start_runs_one_iteration),
        CASE(test_loop_iteration_order),
        CASE(test_loop_poll_timeout_rules),
        CASE(test_loop_poll_errors),
        CASE(test_loop_error_handler_gets_failures),
        CASE(test_loop_check_detects_damage),
        cmocka_unit_test(test_errors_strerror_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
