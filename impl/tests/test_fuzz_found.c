/* impl/tests/test_fuzz_found.c - one white-box case per bug that the fuzz
 * targets of fuzz/ found, each written to fail before its fix. The input
 * that found it is kept in fuzz/corpus/<target>/ and replays in make test.
 */
#define _GNU_SOURCE
#include "loop_fixture.h"

static int must_not_be_called(eddy_loop *loop, void *arg, eddy_future **out)
{
    (void)loop;
    (void)arg;
    (void)out;
    fail_msg("a refused run_sync ran its function");
    return 0;
}

static int nested_run_sync(eddy_loop *loop, void *arg)
{
    (void)arg;
    assert_int_equal(
        eddy_loop_run_sync(loop, 1.0, must_not_be_called, NULL, NULL), -EBUSY);
    assert_int_equal(eddy_loop_run_sync(loop, EDDY_NO_TIMEOUT,
                                        must_not_be_called, NULL, NULL),
                     -EBUSY);
    return 0;
}

/* SPEC §2.9, §1.3: a run_sync refused because the loop already runs
 * leaves nothing behind: no callback queued, no timer, so the next poll
 * blocks (fuzz/corpus/sched/found-nested-run-sync). */
static void test_fuzz_nested_run_sync_leaves_nothing(void **state)
{
    struct fx *f = *state;
    assert_int_equal(eddy_loop_add_callback(f->loop, nested_run_sync, NULL), 0);
    /* the fake poll stops the loop at the first poll that would block */
    assert_int_equal(eddy_loop_start(f->loop), 0);
    assert_int_equal(f->npolls, 2);
    assert_int_equal(f->timeouts[0], 0);
    assert_int_equal(f->timeouts[1], -1);
    assert_int_equal(f->blocked, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE(test_fuzz_nested_run_sync_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
