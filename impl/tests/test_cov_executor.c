/* impl/tests/test_cov_executor.c - the failure paths of executors (SPEC
 * §4.9-§4.11) and of creating a loop (§2.1) that need the system to
 * refuse a thread, a mutex, a condition variable or an eventfd, and the
 * processor counts of §4.11 and §7.1 when sysconf cannot tell. Each
 * wrapped call behaves normally until a test arms it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

/* The sanitizer runtimes are linked statically and call some of the
 * wrapped functions themselves, before they are initialised: the wrappers
 * must not be instrumented at all (TSan's function entry included). */
#if defined(__has_attribute)
#if __has_attribute(disable_sanitizer_instrumentation)
#define NO_SANITIZE __attribute__((disable_sanitizer_instrumentation))
#endif
#endif
#ifndef NO_SANITIZE
#define NO_SANITIZE
#endif

/* --- wrapped calls ---------------------------------------------------------
 */

static struct {
    int create_nth;  /* the nth pthread_create from now fails (EAGAIN) */
    bool mutex;      /* pthread_mutex_init fails (ENOMEM) */
    bool mutexattr;  /* pthread_mutexattr_init fails (ENOMEM) */
    bool cond;       /* pthread_cond_init fails (ENOMEM) */
    bool eventfd;    /* eventfd fails (EMFILE) */
    bool sysconf;    /* sysconf answers from the two values below */
    long online;     /* _SC_NPROCESSORS_ONLN */
    long configured; /* _SC_NPROCESSORS_CONF */
} arm;

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);
int __real_pthread_mutex_init(pthread_mutex_t *m,
                              const pthread_mutexattr_t *attr);
int __real_pthread_mutexattr_init(pthread_mutexattr_t *attr);
int __real_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a);
int __real_eventfd(unsigned int count, int flags);
long __real_sysconf(int name);

NO_SANITIZE
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg)
{
    if (arm.create_nth > 0 && --arm.create_nth == 0) {
        return EAGAIN;
    }
    return __real_pthread_create(t, attr, fn, arg);
}

NO_SANITIZE
int __wrap_pthread_mutex_init(pthread_mutex_t *m,
                              const pthread_mutexattr_t *attr)
{
    return arm.mutex ? ENOMEM : __real_pthread_mutex_init(m, attr);
}

NO_SANITIZE
int __wrap_pthread_mutexattr_init(pthread_mutexattr_t *attr)
{
    return arm.mutexattr ? ENOMEM : __real_pthread_mutexattr_init(attr);
}

NO_SANITIZE
int __wrap_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
    return arm.cond ? ENOMEM : __real_pthread_cond_init(c, a);
}

NO_SANITIZE
int __wrap_eventfd(unsigned int count, int flags)
{
    if (arm.eventfd) {
        errno = EMFILE;
        return -1;
    }
    return __real_eventfd(count, flags);
}

NO_SANITIZE
long __wrap_sysconf(int name)
{
    if (arm.sysconf && name == _SC_NPROCESSORS_ONLN) {
        return arm.online;
    }
    if (arm.sysconf && name == _SC_NPROCESSORS_CONF) {
        return arm.configured;
    }
    return __real_sysconf(name);
}

static int disarm(void **state)
{
    (void)state;
    memset(&arm, 0, sizeof arm);
    return 0;
}

/* --- tests ------------------------------------------------------------------
 */

/* SPEC §4.9: a thread that cannot be started fails the executor with
 * -EAGAIN, and the threads already started are stopped and joined. */
static void test_cov_executor_thread_creation_fails(void **state)
{
    (void)state;
    eddy_executor *ex = NULL;
    arm.create_nth = 2;
    assert_int_equal(eddy_executor_new(3, &ex), -EAGAIN);
    arm.create_nth = 1;
    assert_int_equal(eddy_executor_new(1, &ex), -EAGAIN);
    assert_null(ex);
    arm.create_nth = 0;
    assert_int_equal(eddy_executor_new(2, &ex), 0);
    eddy_executor_free(ex);
}

static void test_cov_executor_sync_objects_fail(void **state)
{
    (void)state;
    eddy_executor *ex = NULL;
    arm.mutex = true;
    assert_int_equal(eddy_executor_new(1, &ex), -ENOMEM);
    arm.mutex = false;
    arm.cond = true;
    assert_int_equal(eddy_executor_new(1, &ex), -ENOMEM);
    arm.cond = false;
    assert_null(ex);
}

/* SPEC §2.1: a loop that cannot get its lock or its eventfd is not
 * created, and nothing it took is kept. */
static void test_cov_executor_loop_creation_fails(void **state)
{
    (void)state;
    eddy_loop *loop = NULL;
    arm.mutexattr = true;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), -ENOMEM);
    arm.mutexattr = false;
    arm.mutex = true;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), -ENOMEM);
    arm.mutex = false;
    arm.eventfd = true;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), -EMFILE);
    arm.eventfd = false;
    assert_null(loop);
    /* The allocations after the loop object: the handler tables. */
    for (long nth = 2; nth <= 4; nth++) {
        eddy__alloc_fail(nth, false);
        int rc = eddy_loop_new(EDDY_CURRENT_NEVER, &loop);
        eddy__alloc_fail(0, false);
        if (rc == 0) {
            eddy_loop_free(loop);
            loop = NULL;
        } else {
            assert_int_equal(rc, -ENOMEM);
            assert_null(loop);
        }
    }
}

/* SPEC §4.11, §7.1: without an online count the configured one is used,
 * without either one processor; huge counts are capped. */
static void test_cov_executor_processor_counts(void **state)
{
    (void)state;
    arm.sysconf = true;
    arm.online = -1;
    arm.configured = 3;
    assert_int_equal(eddy_cpu_count(), 3);
    arm.configured = -1;
    assert_int_equal(eddy_cpu_count(), 1);
    assert_int_equal(eddy__default_executor_threads(), 5);
    arm.online = LONG_MAX;
    assert_int_equal(eddy_cpu_count(), INT_MAX);
    assert_int_equal(eddy__default_executor_threads(), 4096 * 5);
}

static int answer(void *arg, void **result)
{
    *result = arg;
    return 0;
}

/* SPEC §4.10: handing the loop its own default executor back makes the
 * caller its owner: the loop no longer frees it at close. */
static void test_cov_executor_own_default_handed_back(void **state)
{
    (void)state;
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), 0);
    eddy_future *f = NULL;
    assert_int_equal(eddy_loop_run_in_executor(loop, NULL, answer, &arm, &f),
                     0);
    eddy_executor *mine = eddy__loop_futures(loop)->default_executor;
    assert_non_null(mine);
    assert_int_equal(eddy_loop_set_default_executor(loop, mine), 0);
    assert_false(eddy__loop_futures(loop)->owns_default_executor);
    assert_int_equal(eddy_loop_free(loop), 0);
    eddy_executor_free(mine); /* finishes the job, which resolves f */
    void *value = NULL;
    assert_int_equal(eddy_future_result(f, &value), 0);
    assert_ptr_equal(value, &arm);
    eddy_future_release(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cov_executor_thread_creation_fails,
                                  disarm),
        cmocka_unit_test_teardown(test_cov_executor_sync_objects_fail, disarm),
        cmocka_unit_test_teardown(test_cov_executor_loop_creation_fails,
                                  disarm),
        cmocka_unit_test_teardown(test_cov_executor_processor_counts, disarm),
        cmocka_unit_test_teardown(test_cov_executor_own_default_handed_back,
                                  disarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
