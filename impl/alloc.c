/* impl/alloc.c - the single allocation seam of the reference (SPEC §1:
 * -ENOMEM is an ordinary, tested error). Every allocation in impl/ goes
 * through here so tests can make the nth one fail, once or from then on;
 * the counters are atomics because executor threads allocate too.
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>

static atomic_long fail_nth;     /* 0: disarmed */
static atomic_bool fail_persist;
static atomic_long alloc_calls;  /* attempts since the last arming */

static bool should_fail(void)
{
    long n = atomic_fetch_add(&alloc_calls, 1) + 1;
    long nth = atomic_load_explicit(&fail_nth, memory_order_relaxed);
    if (nth == 0) {
        return false;
    }
    return n == nth ||
           (n > nth &&
            atomic_load_explicit(&fail_persist, memory_order_relaxed));
}

void *eddy__malloc(size_t size)
{
    return should_fail() ? NULL : malloc(size);
}

void *eddy__calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : calloc(n, size);
}

/* On failure p is untouched, as with realloc(3). */
void *eddy__realloc(void *p, size_t size)
{
    return should_fail() ? NULL : realloc(p, size);
}

void eddy__free(void *p)
{
    free(p);
}

void eddy__alloc_fail(long nth, bool persist)
{
    atomic_store(&fail_nth, 0);
    atomic_store(&alloc_calls, 0);
    atomic_store(&fail_persist, persist);
    atomic_store(&fail_nth, nth < 0 ? 0 : nth);
}

long eddy__alloc_count(void)
{
    return atomic_load(&alloc_calls);
}
