/* ci/helgrind-atomics.h - force-included (gcc -include) by the helgrind
 * build only (mk/helgrind.mk), never by a normal build.
 *
 * Helgrind knows the pthread primitives (mutexes, condition variables,
 * semaphores, thread create and join) but not C11 atomics: a release
 * store that publishes data and the acquire load that then reads it look
 * like two unsynchronised accesses, and every lock-free path of the
 * reference (the signal-handler queue, future states, the wake flag)
 * would be reported. So the <stdatomic.h> operations are redefined here
 * to announce what they are to helgrind: the atomic object itself is
 * never a race (its bytes are left unchecked), a store is a "happens
 * before" on its address, a load a "happens after", and a
 * read-modify-write both. Helgrind then checks every plain access against
 * that model. The model treats every atomic as release/acquire, relaxed
 * ones included, which is stronger than C11: the exact memory orders are
 * TSan's job (make sanitize).
 */
#ifndef EDDY_CI_HELGRIND_ATOMICS_H
#define EDDY_CI_HELGRIND_ATOMICS_H

#include <stdatomic.h>
#include <valgrind/helgrind.h>

/* An atomic object: accesses to it never race with each other. */
#define EDDY_HG_ATOMIC(p) VALGRIND_HG_DISABLE_CHECKING((p), sizeof(*(p)))

/* The names are distinct per operation so that one operation nested in
 * another's argument never shadows a local (-Wshadow). */

#define EDDY_HG_STORE(ptr, val, order)                                      \
    __extension__({                                                         \
        __auto_type hg_st_p = (ptr);                                        \
        EDDY_HG_ATOMIC(hg_st_p);                                            \
        __typeof__((void)0, *hg_st_p) hg_st_v = (val);                      \
        ANNOTATE_HAPPENS_BEFORE(hg_st_p);                                   \
        __atomic_store(hg_st_p, &hg_st_v, (order));                         \
    })

#define EDDY_HG_LOAD(ptr, order)                                            \
    __extension__({                                                         \
        __auto_type hg_ld_p = (ptr);                                        \
        EDDY_HG_ATOMIC(hg_ld_p);                                            \
        __typeof__((void)0, *hg_ld_p) hg_ld_r;                              \
        __atomic_load(hg_ld_p, &hg_ld_r, (order));                          \
        ANNOTATE_HAPPENS_AFTER(hg_ld_p);                                    \
        hg_ld_r;                                                            \
    })

#define EDDY_HG_EXCHANGE(ptr, val, order)                                   \
    __extension__({                                                         \
        __auto_type hg_xc_p = (ptr);                                        \
        EDDY_HG_ATOMIC(hg_xc_p);                                            \
        __typeof__((void)0, *hg_xc_p) hg_xc_v = (val);                      \
        __typeof__((void)0, *hg_xc_p) hg_xc_r;                              \
        ANNOTATE_HAPPENS_BEFORE(hg_xc_p);                                   \
        __atomic_exchange(hg_xc_p, &hg_xc_v, &hg_xc_r, (order));            \
        ANNOTATE_HAPPENS_AFTER(hg_xc_p);                                    \
        hg_xc_r;                                                            \
    })

#define EDDY_HG_CAS(ptr, expected, desired, weak, ok, fail)                 \
    __extension__({                                                         \
        __auto_type hg_cas_p = (ptr);                                       \
        EDDY_HG_ATOMIC(hg_cas_p);                                           \
        __typeof__((void)0, *hg_cas_p) hg_cas_d = (desired);                \
        ANNOTATE_HAPPENS_BEFORE(hg_cas_p);                                  \
        _Bool hg_cas_r = __atomic_compare_exchange(                         \
            hg_cas_p, (expected), &hg_cas_d, (weak), (ok), (fail));         \
        ANNOTATE_HAPPENS_AFTER(hg_cas_p);                                   \
        hg_cas_r;                                                           \
    })

#define EDDY_HG_FETCH(op, ptr, val, order)                                  \
    __extension__({                                                         \
        __auto_type hg_fe_p = (ptr);                                        \
        EDDY_HG_ATOMIC(hg_fe_p);                                            \
        ANNOTATE_HAPPENS_BEFORE(hg_fe_p);                                   \
        __auto_type hg_fe_r = op(hg_fe_p, (val), (order));                  \
        ANNOTATE_HAPPENS_AFTER(hg_fe_p);                                    \
        hg_fe_r;                                                            \
    })

#undef atomic_store
#undef atomic_store_explicit
#undef atomic_load
#undef atomic_load_explicit
#undef atomic_exchange
#undef atomic_exchange_explicit
#undef atomic_compare_exchange_strong
#undef atomic_compare_exchange_strong_explicit
#undef atomic_compare_exchange_weak
#undef atomic_compare_exchange_weak_explicit
#undef atomic_fetch_add
#undef atomic_fetch_add_explicit
#undef atomic_fetch_sub
#undef atomic_fetch_sub_explicit
#undef atomic_fetch_or
#undef atomic_fetch_or_explicit
#undef atomic_fetch_and
#undef atomic_fetch_and_explicit

#define EDDY_HG_SEQ __ATOMIC_SEQ_CST

#define atomic_store_explicit(p, v, o) EDDY_HG_STORE(p, v, o)
#define atomic_store(p, v) EDDY_HG_STORE(p, v, EDDY_HG_SEQ)
#define atomic_load_explicit(p, o) EDDY_HG_LOAD(p, o)
#define atomic_load(p) EDDY_HG_LOAD(p, EDDY_HG_SEQ)
#define atomic_exchange_explicit(p, v, o) EDDY_HG_EXCHANGE(p, v, o)
#define atomic_exchange(p, v) EDDY_HG_EXCHANGE(p, v, EDDY_HG_SEQ)
#define atomic_compare_exchange_strong_explicit(p, e, d, s, f)              \
    EDDY_HG_CAS(p, e, d, 0, s, f)
#define atomic_compare_exchange_strong(p, e, d)                             \
    EDDY_HG_CAS(p, e, d, 0, EDDY_HG_SEQ, EDDY_HG_SEQ)
#define atomic_compare_exchange_weak_explicit(p, e, d, s, f)                \
    EDDY_HG_CAS(p, e, d, 1, s, f)
#define atomic_compare_exchange_weak(p, e, d)                               \
    EDDY_HG_CAS(p, e, d, 1, EDDY_HG_SEQ, EDDY_HG_SEQ)
#define atomic_fetch_add_explicit(p, v, o)                                  \
    EDDY_HG_FETCH(__atomic_fetch_add, p, v, o)
#define atomic_fetch_add(p, v)                                              \
    EDDY_HG_FETCH(__atomic_fetch_add, p, v, EDDY_HG_SEQ)
#define atomic_fetch_sub_explicit(p, v, o)                                  \
    EDDY_HG_FETCH(__atomic_fetch_sub, p, v, o)
#define atomic_fetch_sub(p, v)                                              \
    EDDY_HG_FETCH(__atomic_fetch_sub, p, v, EDDY_HG_SEQ)
#define atomic_fetch_or_explicit(p, v, o)                                   \
    EDDY_HG_FETCH(__atomic_fetch_or, p, v, o)
#define atomic_fetch_or(p, v)                                               \
    EDDY_HG_FETCH(__atomic_fetch_or, p, v, EDDY_HG_SEQ)
#define atomic_fetch_and_explicit(p, v, o)                                  \
    EDDY_HG_FETCH(__atomic_fetch_and, p, v, o)
#define atomic_fetch_and(p, v)                                              \
    EDDY_HG_FETCH(__atomic_fetch_and, p, v, EDDY_HG_SEQ)

#endif /* EDDY_CI_HELGRIND_ATOMICS_H */
