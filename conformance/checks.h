/* conformance/checks.h - cmocka's assertions, counted. Included by
 * harness.h after <cmocka.h>; cases never include it themselves.
 *
 * A case that passes without checking anything proves nothing, so every
 * assertion a case makes is counted: the macros below replace cmocka's own
 * (same arguments, same failure messages) with versions that first call
 * eddy__h_check with the assertion's text and place. The runner fails a
 * case that passed with zero checks and shows the text of the check that
 * failed in its reports. They call the functions of cmocka 1.1.
 */
#ifndef EDDY_CONFORMANCE_CHECKS_H
#define EDDY_CONFORMANCE_CHECKS_H

#ifndef cast_to_largest_integral_type
#error "checks.h wraps the assertion macros of cmocka 1.1"
#endif

#define EDDY__STR_(x) #x
#define EDDY__STR(x) EDDY__STR_(x)
/* "conformance/s05_timeout.c:123: " */
#define EDDY__AT __FILE__ ":" EDDY__STR(__LINE__) ": "

/* Count one check and remember its text (a string literal: "file:line:
 * assert_int_equal(rc, 0)"). Safe from any thread of the case. */
void eddy__h_check(const char *what);
/* Remember where fail() was reached; counts nothing. */
void eddy__h_fail_at(const char *what);
/* Note that the case called skip(). */
void eddy__h_skipping(void);

#define EDDY__CHECK(what, call) (eddy__h_check(EDDY__AT what), call)
#define EDDY__INT(x) cast_to_largest_integral_type(x)
#define EDDY__PTR(x) cast_ptr_to_largest_integral_type(x)

#undef assert_true
#define assert_true(c)                                                         \
    EDDY__CHECK("assert_true(" #c ")",                                         \
                _assert_true(EDDY__INT(c), #c, __FILE__, __LINE__))
#undef assert_false
#define assert_false(c)                                                        \
    EDDY__CHECK("assert_false(" #c ")",                                        \
                _assert_true(!(EDDY__INT(c)), #c, __FILE__, __LINE__))
#undef assert_return_code
#define assert_return_code(rc, error)                                          \
    EDDY__CHECK("assert_return_code(" #rc ", " #error ")",                     \
                _assert_return_code(EDDY__INT(rc), sizeof(rc),                 \
                                    EDDY__INT(error), #rc, __FILE__,           \
                                    __LINE__))
#undef assert_non_null
#define assert_non_null(c)                                                     \
    EDDY__CHECK("assert_non_null(" #c ")",                                     \
                _assert_true(EDDY__PTR(c), #c, __FILE__, __LINE__))
#undef assert_null
#define assert_null(c)                                                         \
    EDDY__CHECK("assert_null(" #c ")",                                         \
                _assert_true(!(EDDY__PTR(c)), #c, __FILE__, __LINE__))
#undef assert_ptr_equal
#define assert_ptr_equal(a, b)                                                 \
    EDDY__CHECK(                                                               \
        "assert_ptr_equal(" #a ", " #b ")",                                    \
        _assert_int_equal(EDDY__PTR(a), EDDY__PTR(b), __FILE__, __LINE__))
#undef assert_ptr_not_equal
#define assert_ptr_not_equal(a, b)                                             \
    EDDY__CHECK(                                                               \
        "assert_ptr_not_equal(" #a ", " #b ")",                                \
        _assert_int_not_equal(EDDY__PTR(a), EDDY__PTR(b), __FILE__, __LINE__))
#undef assert_int_equal
#define assert_int_equal(a, b)                                                 \
    EDDY__CHECK(                                                               \
        "assert_int_equal(" #a ", " #b ")",                                    \
        _assert_int_equal(EDDY__INT(a), EDDY__INT(b), __FILE__, __LINE__))
#undef assert_int_not_equal
#define assert_int_not_equal(a, b)                                             \
    EDDY__CHECK(                                                               \
        "assert_int_not_equal(" #a ", " #b ")",                                \
        _assert_int_not_equal(EDDY__INT(a), EDDY__INT(b), __FILE__, __LINE__))
#undef assert_string_equal
#define assert_string_equal(a, b)                                              \
    EDDY__CHECK("assert_string_equal(" #a ", " #b ")",                         \
                _assert_string_equal((const char *)(a), (const char *)(b),     \
                                     __FILE__, __LINE__))
#undef assert_string_not_equal
#define assert_string_not_equal(a, b)                                          \
    EDDY__CHECK("assert_string_not_equal(" #a ", " #b ")",                     \
                _assert_string_not_equal((const char *)(a), (const char *)(b), \
                                         __FILE__, __LINE__))
#undef assert_memory_equal
#define assert_memory_equal(a, b, size)                                        \
    EDDY__CHECK("assert_memory_equal(" #a ", " #b ", " #size ")",              \
                _assert_memory_equal((const void *)(a), (const void *)(b),     \
                                     size, __FILE__, __LINE__))
#undef assert_memory_not_equal
#define assert_memory_not_equal(a, b, size)                                    \
    EDDY__CHECK("assert_memory_not_equal(" #a ", " #b ", " #size ")",          \
                _assert_memory_not_equal((const void *)(a), (const void *)(b), \
                                         size, __FILE__, __LINE__))
#undef assert_in_range
#define assert_in_range(value, lo, hi)                                         \
    EDDY__CHECK("assert_in_range(" #value ", " #lo ", " #hi ")",               \
                _assert_in_range(EDDY__INT(value), EDDY__INT(lo),              \
                                 EDDY__INT(hi), __FILE__, __LINE__))
#undef assert_not_in_range
#define assert_not_in_range(value, lo, hi)                                     \
    EDDY__CHECK("assert_not_in_range(" #value ", " #lo ", " #hi ")",           \
                _assert_not_in_range(EDDY__INT(value), EDDY__INT(lo),          \
                                     EDDY__INT(hi), __FILE__, __LINE__))
#undef assert_in_set
#define assert_in_set(value, values, count)                                    \
    EDDY__CHECK("assert_in_set(" #value ", " #values ", " #count ")",          \
                _assert_in_set(value, values, count, __FILE__, __LINE__))
#undef assert_not_in_set
#define assert_not_in_set(value, values, count)                                \
    EDDY__CHECK("assert_not_in_set(" #value ", " #values ", " #count ")",      \
                _assert_not_in_set(value, values, count, __FILE__, __LINE__))
/* fail() is where a case's own test failed; fail_msg() expands to it. */
#undef fail
#define fail() (eddy__h_fail_at(EDDY__AT "fail()"), _fail(__FILE__, __LINE__))
#undef fail_msg
#define fail_msg(msg, ...)                                                     \
    do {                                                                       \
        print_error("ERROR: " msg "\n", ##__VA_ARGS__);                        \
        eddy__h_fail_at(EDDY__AT "fail_msg(" #msg ")");                        \
        _fail(__FILE__, __LINE__);                                             \
    } while (0)
#undef skip
#define skip() (eddy__h_skipping(), _skip(__FILE__, __LINE__))

#endif /* EDDY_CONFORMANCE_CHECKS_H */
