/* impl/heap.h - the timer queue of SPEC §5: an array 4-ary min-heap.
 *
 * Entries are 16 bytes {deadline_ns, handle} stored inline, so comparisons
 * never chase a pointer and a node's four children fill 64 bytes. Every
 * move writes the entry's position back into its timer record, which is
 * what makes remove_timeout an eager O(log n) removal.
 */
#ifndef EDDY_HEAP_H
#define EDDY_HEAP_H

#include <stdbool.h>
#include <stdint.h>

#include "eddy/callback.h"

/* A handle is (serial << 24) | slot; the slot indexes the record array. */
#define EDDY__SLOT_BITS 24
#define EDDY__SLOT_MASK ((UINT64_C(1) << EDDY__SLOT_BITS) - 1)
#define EDDY__SLOT_MAX ((uint32_t)EDDY__SLOT_MASK) /* slots 0..MAX-1 */
#define EDDY__SERIAL_MAX (UINT64_MAX >> EDDY__SLOT_BITS)
/* heap_idx of a record that is not in the heap (due batch, or free). */
#define EDDY__NOT_IN_HEAP UINT32_MAX

struct eddy__heap_ent {
    int64_t deadline_ns;
    uint64_t handle;
};

/* A timer record. handle is 0 while the slot is free. */
struct eddy__timer {
    eddy_callback_cb cb;
    void *arg;
    uint64_t handle;
    uint32_t heap_idx;
};

struct eddy__heap {
    struct eddy__heap_ent *ent;
    uint32_t len;
    uint32_t cap;
    void *mem; /* the block ent lies in, when its owner aligns it */
};

static inline uint32_t heap_slot(uint64_t handle)
{
    return (uint32_t)(handle & EDDY__SLOT_MASK);
}

/* Handles order equal deadlines: serials only grow, so this is FIFO. */
static inline bool heap_less(const struct eddy__heap_ent *a,
                             const struct eddy__heap_ent *b)
{
    return a->deadline_ns < b->deadline_ns ||
           (a->deadline_ns == b->deadline_ns && a->handle < b->handle);
}

static inline void heap_place(struct eddy__heap *h, struct eddy__timer *t,
                              uint32_t i, struct eddy__heap_ent e)
{
    h->ent[i] = e;
    t[heap_slot(e.handle)].heap_idx = i;
}

/* Move the hole at i up until e fits there (hole moves, no swaps). */
static inline void heap_sift_up(struct eddy__heap *h, struct eddy__timer *t,
                                uint32_t i, struct eddy__heap_ent e)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / 4;
        if (!heap_less(&e, &h->ent[parent])) {
            break;
        }
        heap_place(h, t, i, h->ent[parent]);
        i = parent;
    }
    heap_place(h, t, i, e);
}

/* The least of the children first .. first + 3 (all four exist): two
 * independent comparisons, then one, instead of a chain of three. */
static inline uint32_t heap_min4(const struct eddy__heap *h, uint32_t first)
{
    const struct eddy__heap_ent *c = &h->ent[first];
    uint32_t a = heap_less(&c[1], &c[0]) ? 1 : 0;
    uint32_t b = heap_less(&c[3], &c[2]) ? 3 : 2;
    return first + (heap_less(&c[b], &c[a]) ? b : a);
}

/* Move the hole at i down until e fits there. Forced inline: it is the
 * inner loop of both removal and pop, and a call costs a frame per use. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void heap_sift_down(struct eddy__heap *h,
                                  struct eddy__timer *t, uint32_t i,
                                  struct eddy__heap_ent e)
{
    uint32_t n = h->len;
    for (;;) {
        uint64_t first = (uint64_t)i * 4 + 1;
        if (first >= n) {
            break;
        }
        uint32_t best = (uint32_t)first;
        if (first + 4 <= n) {
            best = heap_min4(h, best);
        } else {
            for (uint32_t c = best + 1; c < n; c++) {
                if (heap_less(&h->ent[c], &h->ent[best])) {
                    best = c;
                }
            }
        }
        if (!heap_less(&h->ent[best], &e)) {
            break;
        }
        heap_place(h, t, i, h->ent[best]);
        i = best;
    }
    heap_place(h, t, i, e);
}

/* Insert; the caller guarantees h->len < h->cap. */
static inline void heap_push(struct eddy__heap *h, struct eddy__timer *t,
                             struct eddy__heap_ent e)
{
    heap_sift_up(h, t, h->len++, e);
}

/* Remove the entry at index i; the caller updates that entry's own record
 * (it has it at hand, and reading ent[i] again would be one more miss).
 * Everything the removal touches is requested up front, so the misses of
 * a removal deep inside a large heap overlap instead of queueing. */
static inline void heap_remove(struct eddy__heap *h, struct eddy__timer *t,
                               uint32_t i)
{
    struct eddy__heap_ent last = h->ent[--h->len];
    if (i == h->len) {
        return;
    }
#if defined(__GNUC__)
    __builtin_prefetch(&t[heap_slot(last.handle)], 1);
    if ((uint64_t)i * 4 + 1 < h->len) {
        __builtin_prefetch(&h->ent[(uint64_t)i * 4 + 1]);
    }
#endif
    if (i > 0 && heap_less(&last, &h->ent[(i - 1) / 4])) {
        heap_sift_up(h, t, i, last);
    } else {
        heap_sift_down(h, t, i, last);
    }
}

/* Remove and return the minimum; the caller guarantees h->len > 0. */
static inline struct eddy__heap_ent heap_pop(struct eddy__heap *h,
                                             struct eddy__timer *t)
{
    struct eddy__heap_ent top = h->ent[0];
    t[heap_slot(top.handle)].heap_idx = EDDY__NOT_IN_HEAP;
    heap_remove(h, t, 0);
    return top;
}

/* Heap order and record back-pointers hold (for eddy__loop_check). */
static inline bool heap_check(const struct eddy__heap *h,
                              const struct eddy__timer *t, uint32_t nslots)
{
    for (uint32_t i = 0; i < h->len; i++) {
        uint32_t slot = heap_slot(h->ent[i].handle);
        if (slot >= nslots || t[slot].handle != h->ent[i].handle ||
            t[slot].heap_idx != i) {
            return false;
        }
        if (i > 0 && heap_less(&h->ent[i], &h->ent[(i - 1) / 4])) {
            return false;
        }
    }
    return true;
}

#endif /* EDDY_HEAP_H */
