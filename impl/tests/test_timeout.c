/* impl/tests/test_timeout.c - white-box tests of timeouts (SPEC §5):
 * argument errors, handle rules, batches, exact deadlines, a random model
 * check on the virtual clock, and "never early" on the real one.
 */
#define _GNU_SOURCE
#include "loop_fixture.h"

/* --- §5 timeouts ---------------------------------------------------------- */

static void test_timeout_argument_errors(void **state)
{
    struct fx *f = *state;
    eddy_loop *l = f->loop;
    eddy_timeout t = 77;
    assert_int_equal(eddy_loop_call_at(l, NAN, nop_cb, NULL, &t), -EINVAL);
    assert_int_equal(eddy_loop_call_at(l, INFINITY, nop_cb, NULL, &t),
                     -EINVAL);
    assert_int_equal(eddy_loop_call_at(l, 1e10, nop_cb, NULL, &t), -ERANGE);
    assert_int_equal(eddy_loop_call_at(l, 1, NULL, NULL, &t), -EINVAL);
    assert_int_equal(eddy_loop_call_at(NULL, 1, nop_cb, NULL, &t), -EINVAL);
    assert_int_equal(eddy_loop_call_later(l, NAN, nop_cb, NULL, &t), -EINVAL);
    assert_int_equal(eddy_loop_call_later(l, -INFINITY, nop_cb, NULL, &t),
                     -EINVAL);
    assert_int_equal(eddy_loop_call_later(l, 1e300, nop_cb, NULL, &t),
                     -ERANGE);
    assert_int_equal(eddy_loop_call_later(l, DBL_MAX, nop_cb, NULL, &t),
                     -ERANGE);
    assert_int_equal(eddy_loop_call_later(l, 1, NULL, NULL, &t), -EINVAL);
    assert_int_equal(eddy_loop_add_timeout_delta(NULL, 1, nop_cb, NULL, &t),
                     -EINVAL);
    assert_int_equal(eddy_loop_remove_timeout(NULL, 1), -EINVAL);
    assert_int_equal(t, 77); /* out-params untouched on failure */
    assert_int_equal(l->heap.len, 0);
    /* SPEC §5.3: however far in the past, a deadline is due at once */
    assert_int_equal(eddy_loop_call_at(l, -1e10, log_cb, "a", NULL), 0);
    assert_int_equal(eddy_loop_call_at(l, -DBL_MAX, log_cb, "b", NULL), 0);
    assert_int_equal(eddy_loop_call_later(l, -1e300, log_cb, "c", NULL), 0);
    iterate(l);
    assert_string_equal(f->log, "a b c ");
    assert_int_equal(eddy_loop_add_timeout(l, 9e9, nop_cb, NULL, NULL), 0);
    assert_int_equal(eddy_loop_add_timeout_delta(l, 1, nop_cb, NULL, &t), 0);
    assert_true(t != 0 && t != 77);
}

static void test_timeout_remove_rules(void **state)
{
    struct fx *f = *state;
    eddy_loop *l = f->loop;
    eddy_timeout ran = 0;
    eddy_timeout twice = 0;
    eddy_timeout stale = 0;
    eddy_timeout fresh = 0;
    assert_int_equal(eddy_loop_call_later(l, 0, log_cb, "ran", &ran), 0);
    iterate(l);
    assert_string_equal(f->log, "ran ");
    assert_int_equal(eddy_loop_remove_timeout(l, ran), -ENOENT);
    assert_int_equal(eddy_loop_call_later(l, 5, must_not_run, NULL, &twice),
                     0);
    assert_int_equal(eddy_loop_remove_timeout(l, twice), 0);
    assert_int_equal(eddy_loop_remove_timeout(l, twice), -ENOENT);
    assert_int_equal(eddy_loop_remove_timeout(l, 0), -ENOENT);
    /* a stale handle must not cancel the timer now in its slot */
    assert_int_equal(eddy_loop_call_later(l, 5, must_not_run, NULL, &stale),
                     0);
    assert_int_equal(eddy_loop_remove_timeout(l, stale), 0);
    assert_int_equal(eddy_loop_call_later(l, 0, log_cb, "fresh", &fresh), 0);
    assert_int_equal(heap_slot(fresh), heap_slot(stale));
    assert_int_equal(eddy_loop_remove_timeout(l, stale), -ENOENT);
    assert_int_equal(eddy_loop_remove_timeout(l, fresh + 1), -ENOENT);
    assert_int_equal(eddy_loop_remove_timeout(l, fresh | EDDY__SLOT_MASK),
                     -ENOENT);
    /* another loop's handles are foreign */
    eddy_loop *other = NULL;
    eddy_timeout theirs = 0;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &other), 0);
    assert_int_equal(eddy_loop_call_later(other, 0, log_cb, "theirs",
                                          &theirs), 0);
    assert_int_equal(eddy_loop_remove_timeout(l, theirs), -ENOENT);
    assert_int_equal(eddy_loop_remove_timeout(other, fresh), -ENOENT);
    assert_int_equal(l->heap.len, 1);
    assert_int_equal(other->heap.len, 1);
    iterate(l);
    iterate(other);
    assert_string_equal(f->log, "ran fresh theirs ");
    assert_int_equal(eddy_loop_free(other), 0);
}

struct pair {
    eddy_timeout victim;
    eddy_timeout self;
};

static int remove_victim(eddy_loop *loop, void *arg)
{
    struct pair *p = arg;
    logf_("first ");
    assert_int_equal(eddy_loop_remove_timeout(loop, p->self), -ENOENT);
    assert_true(eddy__loop_check(loop)); /* valid in mid-batch too */
    return eddy_loop_remove_timeout(loop, p->victim);
}

static void test_timeout_removed_by_earlier_in_batch(void **state)
{
    struct fx *f = *state;
    struct pair p = {0, 0};
    assert_int_equal(eddy_loop_call_at(f->loop, 999, remove_victim, &p,
                                       &p.self), 0);
    assert_int_equal(eddy_loop_call_at(f->loop, 999.5, must_not_run, NULL,
                                       &p.victim), 0);
    assert_int_equal(eddy_loop_call_at(f->loop, 999.7, log_cb, "third", NULL),
                     0);
    iterate(f->loop);
    assert_string_equal(f->log, "first third ");
    assert_int_equal(f->nerrors, 0);
}

static int add_due_timers(eddy_loop *loop, void *arg)
{
    (void)arg;
    logf_("a ");
    assert_int_equal(eddy_loop_call_later(loop, -1, log_cb, "late", NULL), 0);
    assert_int_equal(eddy_loop_call_at(loop, 0, log_cb, "past", NULL), 0);
    return 0;
}

static void test_timeout_added_during_batch_waits(void **state)
{
    struct fx *f = *state;
    assert_int_equal(eddy_loop_call_later(f->loop, 0, add_due_timers, NULL,
                                          NULL), 0);
    assert_int_equal(eddy_loop_call_later(f->loop, 0, log_cb, "b", NULL), 0);
    iterate(f->loop);
    assert_string_equal(f->log, "a b ");
    assert_int_equal(eddy_loop_add_callback(f->loop, log_cb, "cb"), 0);
    iterate(f->loop);
    assert_string_equal(f->log, "a b cb past late ");
}

static int add_due_then_callback(eddy_loop *loop, void *arg)
{
    logf_("%s ", (const char *)arg);
    assert_int_equal(eddy_loop_call_later(loop, -1, log_cb, "T", NULL), 0);
    return eddy_loop_add_callback(loop, log_cb, "C");
}

static int handler_adds_due(eddy_loop *loop, int fd, unsigned ev, void *arg)
{
    (void)ev;
    (void)arg;
    char c;
    assert_int_equal(read(fd, &c, 1), 1);
    logf_("io ");
    return eddy_loop_call_at(loop, 0, log_cb, "H", NULL);
}

/* SPEC §2.13: a due timeout created by a callback or a handler waits for
 * the next iteration, where it runs after that iteration's callbacks. */
static void test_timeout_due_timer_added_in_iteration_waits(void **state)
{
    struct fx *f = *state;
    int p[2];
    make_pipe(p);
    assert_int_equal(write_byte(p[1]), 1);
    assert_int_equal(eddy_loop_add_handler(f->loop, p[0], EDDY_READ,
                                           handler_adds_due, NULL), 0);
    assert_int_equal(eddy_loop_call_later(f->loop, -1, log_cb, "old", NULL),
                     0);
    assert_int_equal(eddy_loop_add_callback(f->loop, add_due_then_callback,
                                            "A"), 0);
    iterate(f->loop);
    assert_string_equal(f->log, "A io old ");
    assert_int_equal(f->loop->heap.len, 2); /* parked, back in the heap */
    iterate(f->loop);
    assert_string_equal(f->log, "A io old C H T "); /* deadline order */
    assert_int_equal(eddy_loop_remove_handler(f->loop, p[0]), 0);
    close_pipe(p);
}

static void test_timeout_equal_deadlines_fifo(void **state)
{
    struct fx *f = *state;
    for (intptr_t i = 0; i < 300; i++) {
        assert_int_equal(eddy_loop_call_at(f->loop, 1000.25, log_int_cb,
                                           (void *)i, NULL), 0);
    }
    f->now += 250000000;
    iterate(f->loop);
    expect_sequence(f->log, 300);
}

static int check_not_early(eddy_loop *loop, void *arg)
{
    double when = *(const double *)arg;
    assert_true(eddy_loop_time(loop) >= when);
    logf_("ok ");
    return 0;
}

/* SPEC §5.1: the deadline is the first nanosecond at which time() >= when;
 * one nanosecond earlier the timer must not run. */
static void test_timeout_deadline_is_exact(void **state)
{
    struct fx *f = *state;
    static const double whens[] = {
        1000.0,          0.1,          -0.3,          1234.567891234,
        9007199.254740993, 9007199.2547409, 123456789.123456789,
        1e9 + 0.7,       -5e8 - 0.123, 4.2e9,         1e-9,
        3.0000000005,    -9.2e9 - 0.5, -9.22e9,       9.19e9,
    };
    for (size_t i = 0; i < sizeof whens / sizeof whens[0]; i++) {
        double when = whens[i];
        assert_int_equal(eddy_loop_call_at(f->loop, when, check_not_early,
                                           &when, NULL), 0);
        int64_t n = f->loop->heap.ent[0].deadline_ns;
        assert_true((double)n / 1e9 >= when);
        assert_true((double)(n - 1) / 1e9 < when);
        f->log[0] = '\0';
        f->now = n - 1;
        iterate(f->loop);
        assert_string_equal(f->log, "");
        f->now = n;
        iterate(f->loop);
        assert_string_equal(f->log, "ok ");
    }
}

struct expect {
    int64_t deadline;
    uint64_t handle;
    bool removed;
    bool ran;
};

static struct expect model[3000];
static int64_t last_deadline;
static uint64_t last_handle;

static int model_cb(eddy_loop *loop, void *arg)
{
    struct expect *e = arg;
    assert_false(e->removed);
    assert_false(e->ran);
    assert_true(loop->clock_fn(loop->clock_arg) >= e->deadline);
    assert_true(e->deadline > last_deadline ||
                (e->deadline == last_deadline && e->handle > last_handle));
    last_deadline = e->deadline;
    last_handle = e->handle;
    e->ran = true;
    return 0;
}

/* Random deadlines and removals checked against a model: every survivor
 * runs once, in (deadline, handle) order, never early. */
static void test_timeout_random_against_model(void **state)
{
    struct fx *f = *state;
    uint64_t rng = 7;
    for (size_t i = 0; i < 3000; i++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        double when = 1000.0 + (double)((rng >> 33) % 200000) / 1e5;
        assert_int_equal(eddy_loop_call_at(f->loop, when, model_cb,
                                           &model[i], &model[i].handle), 0);
        model[i].deadline = f->loop->heap.ent[0].deadline_ns;
        model[i].deadline = 0;
        for (uint32_t k = 0; k < f->loop->heap.len; k++) {
            if (f->loop->heap.ent[k].handle == model[i].handle) {
                model[i].deadline = f->loop->heap.ent[k].deadline_ns;
            }
        }
        if ((rng >> 20) % 4 == 0) {
            size_t j = (size_t)((rng >> 40) % (i + 1));
            int rc = eddy_loop_remove_timeout(f->loop, model[j].handle);
            assert_int_equal(rc, model[j].removed ? -ENOENT : 0);
            model[j].removed = true;
        }
    }
    assert_true(eddy__loop_check(f->loop));
    last_deadline = INT64_MIN;
    last_handle = 0;
    while (f->loop->heap.len > 0) {
        assert_int_equal(eddy_loop_add_callback(f->loop, nop_cb, NULL), 0);
        f->now += 3000000;
        iterate(f->loop);
    }
    for (size_t i = 0; i < 3000; i++) {
        assert_true(model[i].ran != model[i].removed);
    }
}

static int real_timer_cb(eddy_loop *loop, void *arg)
{
    double when = *(const double *)arg;
    double now = eddy_loop_time(loop);
    assert_true(now >= when);
    assert_true(now - when < 0.5); /* generous: the machine may be loaded */
    logf_("t ");
    if (strlen(F->log) == 2 * 5) {
        return eddy_loop_stop(loop);
    }
    return 0;
}

static void test_timeout_never_early_real_clock(void **state)
{
    struct fx *f = *state;
    use_real_os(f->loop);
    static double when[5];
    static const double delays[] = {0.001, 0.0105, 0.02, 0.0201, 0.035};
    for (int i = 0; i < 5; i++) {
        when[i] = eddy_loop_time(f->loop) + delays[i];
        assert_int_equal(eddy_loop_call_at(f->loop, when[i], real_timer_cb,
                                           &when[i], NULL), 0);
    }
    assert_int_equal(eddy_loop_start(f->loop), 0);
    assert_string_equal(f->log, "t t t t t ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE(test_timeout_argument_errors),
        CASE(test_timeout_remove_rules),
        CASE(test_timeout_removed_by_earlier_in_batch),
        CASE(test_timeout_added_during_batch_waits),
        CASE(test_timeout_due_timer_added_in_iteration_waits),
        CASE(test_timeout_equal_deadlines_fifo),
        CASE(test_timeout_deadline_is_exact),
        CASE(test_timeout_random_against_model),
        CASE(test_timeout_never_early_real_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
