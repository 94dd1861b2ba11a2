/* impl/tests/test_handler.c - white-box tests of I/O handlers (SPEC §3)
 * with real pipes: validation, level triggering, hang-up mapping, removal
 * during dispatch and the pollfd array <-> fd table invariant.
 */
#define _GNU_SOURCE
#include "loop_fixture.h"

/* --- §3 handlers ---------------------------------------------------------- */

static void test_handler_validation(void **state)
{
    struct fx *f = *state;
    eddy_loop *l = f->loop;
    int p[2];
    make_pipe(p);
    int gone = dup(p[0]);
    close(gone);
    assert_int_equal(eddy_loop_add_handler(NULL, p[0], EDDY_READ,
                                           nop_handler, NULL), -EINVAL);
    assert_int_equal(eddy_loop_add_handler(l, -1, EDDY_READ, nop_handler,
                                           NULL), -EBADF);
    assert_int_equal(eddy_loop_add_handler(l, gone, EDDY_READ, nop_handler,
                                           NULL), -EBADF);
    assert_int_equal(eddy_loop_add_handler(l, p[0], 0x2, nop_handler, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_add_handler(l, p[0], EDDY_READ, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_loop_add_handler(l, l->wake_fd, EDDY_READ,
                                           nop_handler, NULL), -EEXIST);
    assert_int_equal(l->npfds, 1); /* nothing registered */
    assert_int_equal(eddy_loop_add_handler(l, p[0], EDDY_READ | EDDY_WRITE |
                                                    EDDY_ERROR,
                                           nop_handler, NULL), 0);
    assert_int_equal(eddy_loop_add_handler(l, p[0], EDDY_READ, nop_handler,
                                           NULL), -EEXIST);
    assert_int_equal(eddy_loop_add_handler_object(l, p[0], EDDY_READ,
                                                  nop_handler, NULL, NULL),
                     -EEXIST);
    assert_int_equal(eddy_loop_update_handler(l, p[1], EDDY_READ), -ENOENT);
    assert_int_equal(eddy_loop_update_handler(l, -1, EDDY_READ), -ENOENT);
    assert_int_equal(eddy_loop_update_handler(l, p[0], 0x40), -EINVAL);
    assert_int_equal(eddy_loop_update_handler(NULL, p[0], 0), -EINVAL);
    assert_int_equal(eddy_loop_remove_handler(l, p[1]), -ENOENT);
    assert_int_equal(eddy_loop_remove_handler(NULL, p[0]), -EINVAL);
    assert_int_equal(eddy_loop_remove_handler(l, p[0]), 0);
    assert_int_equal(eddy_loop_remove_handler(l, p[0]), -ENOENT);
    assert_int_equal(l->npfds, 1);
    close_pipe(p);
}

static void test_handler_level_triggered(void **state)
{
    struct fx *f = *state;
    int p[2];
    make_pipe(p);
    assert_int_equal(write_byte(p[1]), 1);
    assert_int_equal(eddy_loop_add_handler(f->loop, p[0], EDDY_READ,
                                           log_handler, "r"), 0);
    assert_int_equal(eddy_loop_add_handler(f->loop, p[1], EDDY_WRITE,
                                           log_handler, "w"), 0);
    iterate(f->loop);
    iterate(f->loop);
    assert_string_equal(f->log, "r:1 w:4 r:1 w:4 ");
    f->log[0] = '\0';
    assert_int_equal(eddy_loop_update_handler(f->loop, p[1], EDDY_NONE), 0);
    assert_true(f->loop->pfds[2].fd < 0); /* parked: poll skips it */
    iterate(f->loop);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    iterate(f->loop);
    assert_int_equal(eddy_loop_update_handler(f->loop, p[1], EDDY_WRITE), 0);
    iterate(f->loop);
    assert_string_equal(f->log, "r:1 w:4 ");
    close_pipe(p);
}

struct victim {
    int fd;
    bool readd;
};

static int remover(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)fd;
    (void)events;
    struct victim *v = arg;
    logf_("a ");
    assert_int_equal(eddy_loop_remove_handler(loop, v->fd), 0);
    if (v->readd) {
        assert_int_equal(eddy_loop_add_handler(loop, v->fd, EDDY_READ,
                                               log_handler, "b"), 0);
    }
    return 0;
}

static void test_handler_removed_during_dispatch(void **state)
{
    struct fx *f = *state;
    int a[2];
    int b[2];
    make_pipe(a);
    make_pipe(b);
    assert_int_equal(write_byte(a[1]), 1);
    assert_int_equal(write_byte(b[1]), 1);
    struct victim v = {b[0], false};
    assert_int_equal(eddy_loop_add_handler(f->loop, a[0], EDDY_READ, remover,
                                           &v), 0);
    assert_int_equal(eddy_loop_add_handler(f->loop, b[0], EDDY_READ,
                                           log_handler, "b"), 0);
    iterate(f->loop);
    assert_string_equal(f->log, "a ");
    /* removed and added again: still stale for this iteration */
    v.readd = true;
    assert_int_equal(eddy_loop_add_handler(f->loop, b[0], EDDY_READ,
                                           log_handler, "b"), 0);
    iterate(f->loop);
    assert_string_equal(f->log, "a a ");
    assert_int_equal(eddy_loop_remove_handler(f->loop, a[0]), 0);
    iterate(f->loop);
    assert_string_equal(f->log, "a a b:1 ");
    close_pipe(a);
    close_pipe(b);
}

static int remove_fd_cb(eddy_loop *loop, void *arg)
{
    return eddy_loop_remove_handler(loop, (int)(intptr_t)arg);
}

static void test_handler_removed_by_callback_after_poll(void **state)
{
    struct fx *f = *state;
    int p[2];
    make_pipe(p);
    assert_int_equal(write_byte(p[1]), 1);
    assert_int_equal(eddy_loop_add_handler(f->loop, p[0], EDDY_READ,
                                           log_handler, "r"), 0);
    assert_int_equal(eddy_loop_add_callback(f->loop, remove_fd_cb,
                                            (void *)(intptr_t)p[0]), 0);
    iterate(f->loop);
    assert_string_equal(f->log, "");
    assert_int_equal(f->nerrors, 0);
    close_pipe(p);
}

static void test_handler_hangup_events(void **state)
{
    struct fx *f = *state;
    int p[2];
    make_pipe(p);
    close(p[1]);
    static const unsigned want[] = {EDDY_READ, EDDY_READ | EDDY_ERROR,
                                    EDDY_ERROR, EDDY_WRITE, EDDY_NONE};
    assert_int_equal(eddy_loop_add_handler(f->loop, p[0], EDDY_READ,
                                           log_handler, "h"), 0);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(eddy_loop_update_handler(f->loop, p[0], want[i]), 0);
        iterate(f->loop);
    }
    assert_string_equal(f->log, "h:1 h:19 h:18 h:4 ");
    assert_int_equal(eddy_loop_remove_handler(f->loop, p[0]), 0);
    close(p[0]);
}

static void test_handler_swap_remove_keeps_table(void **state)
{
    struct fx *f = *state;
    int p[24][2];
    for (int i = 0; i < 24; i++) {
        make_pipe(p[i]);
        assert_int_equal(write_byte(p[i][1]), 1);
        assert_int_equal(eddy_loop_add_handler(f->loop, p[i][0], EDDY_READ,
                                               log_handler, "x"), 0);
    }
    int high = fcntl(p[0][0], F_DUPFD_CLOEXEC, 700);
    assert_true(high >= 700);
    assert_int_equal(eddy_loop_add_handler(f->loop, high, EDDY_READ,
                                           log_handler, "hi"), 0);
    for (int i = 0; i < 24; i += 3) {
        assert_int_equal(eddy_loop_remove_handler(f->loop, p[i][0]), 0);
        assert_true(eddy__loop_check(f->loop));
    }
    iterate(f->loop);
    int calls = 0;
    for (const char *s = f->log; (s = strstr(s, ":1")) != NULL; s++) {
        calls++;
    }
    assert_int_equal(calls, 16 + 1);
    assert_non_null(strstr(f->log, "hi:1"));
    assert_int_equal(eddy_loop_remove_handler(f->loop, high), 0);
    close(high);
    for (int i = 0; i < 24; i++) {
        eddy_loop_remove_handler(f->loop, p[i][0]);
        close_pipe(p[i]);
    }
    assert_int_equal(f->loop->npfds, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE(test_handler_validation),
        CASE(test_handler_level_triggered),
        CASE(test_handler_removed_during_dispatch),
        CASE(test_handler_removed_by_callback_after_poll),
        CASE(test_handler_hangup_events),
        CASE(test_handler_swap_remove_keeps_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
