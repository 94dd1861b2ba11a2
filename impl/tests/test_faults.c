/* impl/tests/test_faults.c - allocation failure paths of the loop core
 * (SPEC §1: -ENOMEM is an ordinary error). Each operation that allocates
 * runs with its nth allocation failing, nth = 1, 2, ... until it succeeds,
 * once with a single failure and once with every later one failing too.
 * Each failure must return -ENOMEM, never call the callback, keep
 * eddy__loop_check() true and leave the loop usable; run under valgrind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop_int.h"

#define NPIPES 8

struct ctx {
    eddy_loop *loop;
    int p[NPIPES][2];
    int npipes;
    long nth;
    bool persist;
    int ran;      /* the callback under test */
    int disposed; /* its dispose function */
    int rc;       /* set by ops that run inside the loop */
};

static void arm(const struct ctx *c)
{
    eddy__alloc_fail(c->nth, c->persist);
}

static void disarm(void)
{
    eddy__alloc_fail(0, false);
}

static int count_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    ((struct ctx *)arg)->ran++;
    return 0;
}

static int count_handler(eddy_loop *loop, int fd, unsigned ev, void *arg)
{
    (void)loop;
    (void)fd;
    (void)ev;
    ((struct ctx *)arg)->ran++;
    return 0;
}

static int nop_handler(eddy_loop *loop, int fd, unsigned ev, void *arg)
{
    (void)loop;
    (void)fd;
    (void)ev;
    (void)arg;
    return 0;
}

static int nop_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    return 0;
}

static void count_dispose(void *arg)
{
    ((struct ctx *)arg)->disposed++;
}

static void iterate(eddy_loop *loop)
{
    assert_int_equal(eddy_loop_stop(loop), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
}

static void open_pipes(struct ctx *c, int n)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(pipe2(c->p[i], O_CLOEXEC | O_NONBLOCK), 0);
        assert_int_equal(write(c->p[i][1], "x", 1), 1);
    }
    c->npipes = n;
}

static void new_loop(struct ctx *c)
{
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &c->loop), 0);
}

/* --- the driver -----------------------------------------------------------*/

struct fault_case {
    void (*prepare)(struct ctx *c);
    int (*op)(struct ctx *c); /* arms the fault itself, just before */
    /* After the op (rc 0 or -ENOMEM): check what it left, run the loop
     * once and count how often the callback under test ran. */
    void (*after)(struct ctx *c, int rc);
};

static void release(struct ctx *c)
{
    if (c->loop != NULL) {
        assert_true(eddy__loop_check(c->loop));
        assert_int_equal(eddy_loop_free(c->loop), 0);
    }
    for (int i = 0; i < c->npipes; i++) {
        close(c->p[i][0]);
        close(c->p[i][1]);
    }
}

static long run_case(const struct fault_case *fc, bool persist)
{
    for (long nth = 1; nth < 100; nth++) {
        struct ctx c;
        memset(&c, 0, sizeof c);
        c.nth = nth;
        c.persist = persist;
        fc->prepare(&c);
        int rc = fc->op(&c);
        disarm();
        if (rc != 0) {
            assert_int_equal(rc, -ENOMEM);
            assert_int_equal(c.ran, 0);
        }
        fc->after(&c, rc);
        release(&c);
        if (rc == 0) {
            return nth;
        }
    }
    fail_msg("the operation never succeeded");
    return 0;
}

/* Both modes; returns how many allocations the operation needed. */
static long run_both(const struct fault_case *fc)
{
    long once = run_case(fc, false);
    long always = run_case(fc, true);
    assert_int_equal(once, always);
    return once - 1;
}

/* After an op that registered (or failed to register) a callback: one
 * iteration runs it exactly once, or never. */
static void after_callback(struct ctx *c, int rc)
{
    assert_true(eddy__loop_check(c->loop));
    iterate(c->loop);
    iterate(c->loop);
    assert_int_equal(c->ran, rc == 0 ? 1 : 0);
    /* still usable */
    assert_int_equal(eddy_loop_add_callback(c->loop, nop_cb, NULL), 0);
    iterate(c->loop);
}

/* --- eddy_loop_new / eddy_loop_current ----------------------------------- */

static void prepare_nothing(struct ctx *c)
{
    (void)c;
    eddy_loop_clear_current();
}

static int op_loop_new(struct ctx *c)
{
    eddy_loop *loop = (eddy_loop *)c;
    arm(c);
    int rc = eddy_loop_new(EDDY_CURRENT_IF_NONE, &loop);
    disarm();
    if (rc == 0) {
        c->loop = loop;
    } else {
        assert_ptr_equal(loop, (eddy_loop *)c); /* out untouched */
    }
    return rc;
}

static int op_loop_current(struct ctx *c)
{
    eddy_loop *loop = (eddy_loop *)c;
    arm(c);
    int rc = eddy_loop_current(true, &loop);
    disarm();
    if (rc == 0) {
        c->loop = loop;
    } else {
        assert_ptr_equal(loop, (eddy_loop *)c);
    }
    return rc;
}

static void after_loop_new(struct ctx *c, int rc)
{
    eddy_loop *cur = NULL;
    if (rc != 0) {
        assert_int_equal(eddy_loop_current(false, &cur), -ENOENT);
        return;
    }
    assert_int_equal(eddy_loop_current(false, &cur), 0);
    assert_ptr_equal(cur, c->loop);
    assert_int_equal(eddy_loop_add_callback(c->loop, count_cb, c), 0);
    iterate(c->loop);
    assert_int_equal(c->ran, 1);
    c->ran = 0;
}

static void test_faults_loop_new(void **state)
{
    (void)state;
    const struct fault_case fc = {prepare_nothing, op_loop_new,
                                  after_loop_new};
    assert_true(run_both(&fc) >= 1);
    const struct fault_case cur = {prepare_nothing, op_loop_current,
                                   after_loop_new};
    assert_true(run_both(&cur) >= 1);
}

/* --- handlers -------------------------------------------------------------*/

static void prepare_handler_first(struct ctx *c)
{
    new_loop(c);
    open_pipes(c, 1);
}

/* Seven handlers fill the first pollfd block (the eventfd is the eighth). */
static void prepare_handler_grow(struct ctx *c)
{
    new_loop(c);
    open_pipes(c, NPIPES);
    for (int i = 1; i < NPIPES; i++) {
        assert_int_equal(eddy_loop_add_handler(c->loop, c->p[i][1],
                                               EDDY_NONE, nop_handler, NULL),
                         0);
    }
    assert_int_equal(c->loop->npfds, c->loop->pfd_cap);
}

static int op_add_handler(struct ctx *c)
{
    arm(c);
    int rc = eddy_loop_add_handler(c->loop, c->p[0][0], EDDY_READ,
                                   count_handler, c);
    disarm();
    return rc;
}

static int op_add_handler_object(struct ctx *c)
{
    arm(c);
    int rc = eddy_loop_add_handler_object(c->loop, c->p[0][0], EDDY_READ,
                                          count_handler, c, NULL);
    disarm();
    return rc;
}

static void after_handler(struct ctx *c, int rc)
{
    assert_true(eddy__loop_check(c->loop));
    int again = eddy_loop_remove_handler(c->loop, c->p[0][0]);
    assert_int_equal(again, rc == 0 ? 0 : -ENOENT);
    if (rc == 0) {
        assert_int_equal(eddy_loop_add_handler(c->loop, c->p[0][0],
                                               EDDY_READ, count_handler, c),
                         0);
    }
    iterate(c->loop);
    assert_int_equal(c->ran, rc == 0 ? 1 : 0);
}

static void test_faults_add_handler(void **state)
{
    (void)state;
    const struct fault_case first = {prepare_handler_first, op_add_handler,
                                     after_handler};
    assert_int_equal(run_both(&first), 1); /* the fd table */
    const struct fault_case grow = {prepare_handler_grow, op_add_handler,
                                    after_handler};
    assert_int_equal(run_both(&grow), 2); /* pollfds and scratch */
    const struct fault_case obj = {prepare_handler_grow,
                                   op_add_handler_object, after_handler};
    assert_int_equal(run_both(&obj), 2);
}

/* --- callbacks ------------------------------------------------------------*/

static void prepare_loop(struct ctx *c)
{
    new_loop(c);
}

/* Sixteen entries fill the first block of the cross-thread vector. */
static void prepare_vector_full(struct ctx *c)
{
    new_loop(c);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(eddy_loop_add_callback(c->loop, nop_cb, NULL), 0);
    }
}

static int op_add_callback(struct ctx *c)
{
    arm(c);
    int rc = eddy_loop_add_callback(c->loop, count_cb, c);
    disarm();
    return rc;
}

static int op_add_owned(struct ctx *c)
{
    arm(c);
    int rc = eddy__loop_add_callback_owned(c->loop, count_cb, c,
                                           count_dispose);
    disarm();
    assert_int_equal(c->disposed, 0);
    return rc;
}

/* On the loop thread while running: the ring is full, so this grows it. */
static int fill_ring_then_add(eddy_loop *loop, void *arg)
{
    struct ctx *c = arg;
    while (loop->ring.count < loop->ring.cap) {
        assert_int_equal(eddy_loop_add_callback(loop, nop_cb, NULL), 0);
    }
    arm(c);
    c->rc = eddy_loop_add_callback(loop, count_cb, c);
    disarm();
    return eddy_loop_stop(loop);
}

static int op_add_callback_running(struct ctx *c)
{
    c->rc = 1;
    assert_int_equal(eddy_loop_add_callback(c->loop, fill_ring_then_add, c),
                     0);
    assert_int_equal(eddy_loop_start(c->loop), 0);
    assert_int_equal(c->ran, 0);
    return c->rc;
}

static void test_faults_add_callback(void **state)
{
    (void)state;
    const struct fault_case first = {prepare_loop, op_add_callback,
                                     after_callback};
    assert_int_equal(run_both(&first), 1);
    const struct fault_case grow = {prepare_vector_full, op_add_callback,
                                    after_callback};
    assert_int_equal(run_both(&grow), 1);
    const struct fault_case ring = {prepare_loop, op_add_callback_running,
                                    after_callback};
    assert_int_equal(run_both(&ring), 1);
    const struct fault_case owned = {prepare_vector_full, op_add_owned,
                                     after_callback};
    assert_int_equal(run_both(&owned), 2); /* wrapper, then the vector */
}

/* --- timeouts -------------------------------------------------------------*/

/* 64 timers fill the first record, heap and batch blocks. */
static void prepare_timers_full(struct ctx *c)
{
    new_loop(c);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(eddy_loop_call_later(c->loop, 3600, nop_cb, NULL,
                                              NULL), 0);
    }
}

static int op_call_later(struct ctx *c)
{
    eddy_timeout t = 12345;
    arm(c);
    int rc = eddy_loop_call_later(c->loop, -1, count_cb, c, &t);
    disarm();
    assert_true(rc == 0 ? t != 12345 : t == 12345);
    return rc;
}

static int op_call_at(struct ctx *c)
{
    eddy_timeout t = 12345;
    arm(c);
    int rc = eddy_loop_call_at(c->loop, 0, count_cb, c, &t);
    disarm();
    assert_true(rc == 0 ? t != 12345 : t == 12345);
    return rc;
}

static void test_faults_timeouts(void **state)
{
    (void)state;
    const struct fault_case first = {prepare_loop, op_call_later,
                                     after_callback};
    assert_int_equal(run_both(&first), 3); /* records, heap, batch */
    const struct fault_case grow = {prepare_timers_full, op_call_at,
                                    after_callback};
    assert_int_equal(run_both(&grow), 3);
}

/* --- behaviour under memory pressure ------------------------------------- */

static int ordered_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    int *next = arg;
    (*next)++;
    return 0;
}

/* A drain that cannot grow the ring keeps everything queued for later. */
static void test_faults_drain_keeps_callbacks(void **state)
{
    (void)state;
    struct ctx c;
    memset(&c, 0, sizeof c);
    new_loop(&c);
    int ran = 0;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(eddy_loop_add_callback(c.loop, ordered_cb, &ran), 0);
    }
    assert_int_equal(eddy_loop_add_callback_from_signal(c.loop, count_cb, &c),
                     0);
    eddy__alloc_fail(1, true);
    iterate(c.loop);
    iterate(c.loop);
    disarm();
    assert_int_equal(ran, 0);
    assert_int_equal(c.ran, 0);
    assert_true(c.loop->drain_again);
    assert_true(eddy__loop_check(c.loop));
    iterate(c.loop);
    assert_int_equal(ran, 100);
    assert_int_equal(c.ran, 1);
    release(&c);
}

static int chain_cb(eddy_loop *loop, void *arg)
{
    int *left = arg;
    if (--*left == 0) {
        return eddy_loop_stop(loop);
    }
    return eddy_loop_add_callback(loop, chain_cb, arg);
}

/* Steady state allocates nothing: chained callbacks, a handler, timers
 * that are scheduled and run. */
static void test_faults_steady_state_allocates_nothing(void **state)
{
    (void)state;
    struct ctx c;
    memset(&c, 0, sizeof c);
    new_loop(&c);
    open_pipes(&c, 1);
    assert_int_equal(eddy_loop_add_handler(c.loop, c.p[0][0], EDDY_READ,
                                           count_handler, &c), 0);
    int left = 1;
    assert_int_equal(eddy_loop_add_callback(c.loop, chain_cb, &left), 0);
    assert_int_equal(eddy_loop_call_later(c.loop, 0, nop_cb, NULL, NULL), 0);
    assert_int_equal(eddy_loop_start(c.loop), 0); /* warm up */
    left = 2000;
    eddy__alloc_fail(1, true);
    assert_int_equal(eddy_loop_add_callback(c.loop, chain_cb, &left), 0);
    assert_int_equal(eddy_loop_call_later(c.loop, 0, nop_cb, NULL, NULL), 0);
    assert_int_equal(eddy_loop_start(c.loop), 0);
    long allocs = eddy__alloc_count();
    disarm();
    assert_int_equal(left, 0);
    assert_true(c.ran >= 2000);
    /* the two adds above went through the (already grown) queue and heap */
    assert_int_equal(allocs, 0);
    assert_int_equal(eddy_loop_remove_handler(c.loop, c.p[0][0]), 0);
    release(&c);
}

/* Out of descriptors: -EMFILE, nothing leaked, nothing made current. */
static void test_faults_loop_new_out_of_fds(void **state)
{
    (void)state;
    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    struct rlimit low = saved;
    if (low.rlim_cur > 256) {
        low.rlim_cur = 256;
    }
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    static int held[256];
    int n = 0;
    eddy_loop_clear_current();
    for (;;) {
        int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) {
            assert_int_equal(errno, EMFILE);
            break;
        }
        assert_true(n < 256);
        held[n++] = fd;
    }
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_IF_NONE, &loop), -EMFILE);
    assert_null(loop);
    assert_int_equal(eddy_loop_current(false, &loop), -ENOENT);
    close(held[--n]);
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_IF_NONE, &loop), 0);
    assert_int_equal(eddy_loop_free(loop), 0);
    while (n > 0) {
        close(held[--n]);
    }
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults_loop_new),
        cmocka_unit_test(test_faults_add_handler),
        cmocka_unit_test(test_faults_add_callback),
        cmocka_unit_test(test_faults_timeouts),
        cmocka_unit_test(test_faults_drain_keeps_callbacks),
        cmocka_unit_test(test_faults_steady_state_allocates_nothing),
        cmocka_unit_test(test_faults_loop_new_out_of_fds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
