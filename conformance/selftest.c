/* conformance/selftest.c - the harness tests itself (--self-test): cases
 * that check nothing, fail, leak, hang, crash or skip, each run through
 * the same fork-and-judge path as real cases, and each with the verdict
 * and the report text it must produce. A runner that let any of them
 * through would make a green run mean nothing.
 */
#include "runner.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void h_checks_nothing(void **state)
{
    (void)state; /* passes, but proves nothing: must fail */
}

static void h_checks_once(void **state)
{
    (void)state;
    assert_true(1);
}

static void h_check_fails(void **state)
{
    (void)state;
    int rc = -22;
    assert_int_equal(rc, 0);
}

static void h_fail_msg(void **state)
{
    (void)state;
    fail_msg("reached the unreachable (%d)", 7);
}

static void h_leaks_fd(void **state)
{
    (void)state;
    int fd = dup(0);
    assert_true(fd >= 0);
}

static void h_killed(void **state)
{
    (void)state;
    assert_true(1);
    kill(getpid(), SIGKILL);
}

static void h_hangs(void **state)
{
    (void)state;
    assert_true(1);
    eddy_h_sleep(60);
}

static void h_skips(void **state)
{
    (void)state;
    skip();
}

static void *thread_check(void *arg)
{
    (void)arg;
    assert_int_equal(2 + 2, 4);
    return NULL;
}

static void h_checks_in_thread(void **state)
{
    (void)state;
    pthread_t t;
    if (pthread_create(&t, NULL, thread_check, NULL) == 0) {
        pthread_join(t, NULL);
    }
}

static void h_fixture_loop(void **state)
{
    assert_non_null(*state);
}

static void h_known(void **state)
{
    (void)state;
    assert_string_equal("cb1 cb2", "cb2 cb1");
}

static void h_stale(void **state)
{
    (void)state;
    assert_false(0);
}

static const struct eddy_case cases[] = {
    EDDY_CASE(h_checks_nothing, ""),
    EDDY_CASE(h_checks_once, ""),
    EDDY_CASE(h_check_fails, ""),
    EDDY_CASE(h_fail_msg, ""),
    EDDY_CASE(h_leaks_fd, ""),
    EDDY_CASE(h_killed, ""),
    EDDY_CASE(h_hangs, ""),
    EDDY_CASE(h_skips, ""),
    EDDY_CASE(h_checks_in_thread, ""),
    EDDY_CASE_LOOP(h_fixture_loop, ""),
    EDDY_CASE(h_known, ""),
    EDDY_CASE(h_stale, ""),
};
static const struct eddy_section selftest = {"0", "Harness self-test", cases,
                                             sizeof(cases) / sizeof(cases[0])};
static const struct eddy_section *const selftest_sections[] = {&selftest};

/* What each case must come to: its verdict, and text that the reason, the
 * failed check and the observation must contain ("" for anything). */
static const struct want {
    const char *name;
    enum result result;
    const char *why, *check, *observed;
} wants[] = {
    {"h_checks_nothing", FAIL, "without making a single check", "",
     "checking anything"},
    {"h_checks_once", PASS, "", "", ""},
    {"h_check_fails", FAIL, "failed", "assert_int_equal(rc, 0)", "(-22 != 0)"},
    {"h_fail_msg", FAIL, "failed", "fail_msg(", "unreachable (7)"},
    {"h_leaks_fd", FAIL, "hygiene", "", "left open"},
    {"h_killed", FAIL, "signal 9", "", ""},
    {"h_hangs", FAIL, "timeout", "", ""},
    {"h_skips", SKIP, "", "", ""},
    {"h_checks_in_thread", PASS, "", "", ""},
    {"h_fixture_loop", PASS, "", "", ""},
    {"h_known", KNOWN, "failed", "assert_string_equal(", "\"cb1 cb2\""},
    {"h_stale", STALE, "", "", ""},
};

static char known_name[] = "h_known";
static char stale_name[] = "h_stale";
static char no_clause[] = "0.0";
static char reason[] = "self-test: a listed divergence";
static const struct expectation listed[] = {
    {known_name, no_clause, reason, 1},
    {stale_name, no_clause, reason, 2},
};

const struct eddy_section *const *eddy__selftest_sections(size_t *count)
{
    *count = 1;
    return selftest_sections;
}

static const struct want *want_of(const char *name)
{
    for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
        if (strcmp(wants[i].name, name) == 0) {
            return &wants[i];
        }
    }
    return NULL;
}

void eddy__selftest_prepare(struct run *r)
{
    for (size_t i = 0; i < r->njobs; i++) {
        struct job *j = &r->jobs[i];
        for (size_t k = 0; k < sizeof(listed) / sizeof(listed[0]); k++) {
            if (strcmp(j->c->name, listed[k].name) == 0) {
                j->expect = &listed[k];
            }
        }
    }
}

/* Whether j came out as w says; prints what differs. */
static bool as_wanted(const struct job *j, const struct want *w, FILE *out)
{
    static const char *const words[NRESULTS] = {"pending", "pass",  "fail",
                                                "skip",    "known", "stale"};
    struct failure f;
    eddy__failure_extract(j, &f);
    bool ok = j->result == w->result && strstr(j->why, w->why) != NULL &&
              strstr(f.check, w->check) != NULL &&
              strstr(f.observed, w->observed) != NULL;
    if (!ok) {
        fprintf(out,
                "self-test: %s: got %s (%s; check \"%s\"; observed \"%s\"),"
                " want %s (\"%s\"; \"%s\"; \"%s\")\n",
                j->c->name, words[j->result], j->why, f.check, f.observed,
                words[w->result], w->why, w->check, w->observed);
    }
    return ok;
}

bool eddy__selftest_check(const struct run *r)
{
    unsigned good = 0;
    for (size_t i = 0; i < r->njobs; i++) {
        const struct want *w = want_of(r->jobs[i].c->name);
        good += w != NULL && as_wanted(&r->jobs[i], w, r->human);
    }
    fprintf(r->human, "self-test: %u of %zu verdicts as wanted\n", good,
            r->njobs);
    return good == r->njobs;
}
