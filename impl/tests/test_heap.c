/* impl/tests/test_heap.c - white-box tests of the 4-ary timer heap
 * (impl/heap.h, SPEC §5): random operations against a plain reference
 * array, FIFO order for equal deadlines, and the back-pointer invariant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "heap.h"

#define SLOTS 4096

struct fixture {
    struct eddy__heap heap;
    struct eddy__timer rec[SLOTS];
    struct eddy__heap_ent ref[SLOTS]; /* live entries, unordered */
    size_t nref;
    uint64_t serial;
    uint64_t rng;
};

static uint64_t next_rand(struct fixture *f)
{
    f->rng = f->rng * 6364136223846793005u + 1442695040888963407u;
    return f->rng >> 33;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->heap.ent = calloc(SLOTS, sizeof *f->heap.ent);
    f->heap.cap = SLOTS;
    f->serial = 1;
    f->rng = 42;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->heap.ent);
    free(f);
    return 0;
}

/* A free slot: records use handle 0 for free. */
static uint32_t free_slot(struct fixture *f)
{
    for (;;) {
        uint32_t s = (uint32_t)(next_rand(f) % SLOTS);
        if (f->rec[s].handle == 0) {
            return s;
        }
    }
}

static void push_one(struct fixture *f, int64_t deadline)
{
    uint32_t slot = free_slot(f);
    uint64_t handle = (f->serial++ << EDDY__SLOT_BITS) | slot;
    f->rec[slot].handle = handle;
    struct eddy__heap_ent e = {deadline, handle};
    heap_push(&f->heap, f->rec, e);
    f->ref[f->nref++] = e;
}

static size_t ref_min(const struct fixture *f)
{
    size_t best = 0;
    for (size_t i = 1; i < f->nref; i++) {
        if (heap_less(&f->ref[i], &f->ref[best])) {
            best = i;
        }
    }
    return best;
}

static void ref_drop(struct fixture *f, size_t i)
{
    f->rec[heap_slot(f->ref[i].handle)].handle = 0;
    f->ref[i] = f->ref[--f->nref];
}

static void pop_one(struct fixture *f)
{
    size_t want = ref_min(f);
    struct eddy__heap_ent got = heap_pop(&f->heap, f->rec);
    assert_int_equal(got.handle, f->ref[want].handle);
    assert_int_equal(got.deadline_ns, f->ref[want].deadline_ns);
    assert_int_equal(f->rec[heap_slot(got.handle)].heap_idx,
                     EDDY__NOT_IN_HEAP);
    ref_drop(f, want);
}

static void remove_one(struct fixture *f)
{
    size_t i = (size_t)(next_rand(f) % f->nref);
    uint32_t slot = heap_slot(f->ref[i].handle);
    uint32_t idx = f->rec[slot].heap_idx;
    assert_true(idx < f->heap.len);
    assert_int_equal(f->heap.ent[idx].handle, f->ref[i].handle);
    heap_remove(&f->heap, f->rec, idx); /* heap_check finds a leftover */
    ref_drop(f, i);
}

static void test_heap_random_vs_reference(void **state)
{
    struct fixture *f = *state;
    for (int step = 0; step < 200000; step++) {
        uint64_t r = next_rand(f) % 10;
        if (f->nref < SLOTS && (r < 5 || f->nref == 0)) {
            /* few distinct deadlines: many ties */
            push_one(f, (int64_t)(next_rand(f) % 64) - 8);
        } else if (r < 8) {
            pop_one(f);
        } else {
            remove_one(f);
        }
        assert_int_equal(f->heap.len, f->nref);
        if (step % 97 == 0) {
            assert_true(heap_check(&f->heap, f->rec, SLOTS));
        }
    }
    while (f->nref > 0) {
        pop_one(f);
    }
    assert_int_equal(f->heap.len, 0);
}

static void test_heap_equal_deadlines_fifo(void **state)
{
    struct fixture *f = *state;
    uint64_t first = f->serial;
    for (int i = 0; i < 1000; i++) {
        push_one(f, 7);
    }
    uint64_t last_serial = 0;
    for (int i = 0; i < 1000; i++) {
        struct eddy__heap_ent e = heap_pop(&f->heap, f->rec);
        uint64_t serial = e.handle >> EDDY__SLOT_BITS;
        assert_int_equal(serial, first + (uint64_t)i);
        assert_true(serial > last_serial);
        last_serial = serial;
        f->rec[heap_slot(e.handle)].handle = 0;
    }
    f->nref = 0;
}

static void test_heap_remove_last_and_root(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 9; i++) {
        push_one(f, 100 - i);
    }
    /* the last array position, then the root, then everything */
    uint32_t last = f->heap.len - 1;
    uint64_t h = f->heap.ent[last].handle;
    heap_remove(&f->heap, f->rec, last);
    f->rec[heap_slot(h)].handle = 0;
    for (size_t i = 0; i < f->nref; i++) {
        if (f->ref[i].handle == h) {
            f->ref[i] = f->ref[--f->nref];
            break;
        }
    }
    assert_true(heap_check(&f->heap, f->rec, SLOTS));
    while (f->nref > 0) {
        pop_one(f);
        assert_true(heap_check(&f->heap, f->rec, SLOTS));
    }
}

static void test_heap_check_detects_damage(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 20; i++) {
        push_one(f, i);
    }
    assert_true(heap_check(&f->heap, f->rec, SLOTS));
    struct eddy__heap_ent saved = f->heap.ent[0];
    f->heap.ent[0].deadline_ns = 1000; /* order broken */
    assert_false(heap_check(&f->heap, f->rec, SLOTS));
    f->heap.ent[0] = saved;
    f->rec[heap_slot(saved.handle)].heap_idx = 5; /* back-pointer broken */
    assert_false(heap_check(&f->heap, f->rec, SLOTS));
    f->rec[heap_slot(saved.handle)].heap_idx = 0;
    assert_true(heap_check(&f->heap, f->rec, SLOTS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_heap_random_vs_reference, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_heap_equal_deadlines_fifo,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_heap_remove_last_and_root, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_heap_check_detects_damage, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
