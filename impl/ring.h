/* impl/ring.h - the ready ring of SPEC §4 (callback.c): a growable FIFO
 * of 16-byte {cb, arg} entries, loop thread only. head and tail run free
 * and entry i lives at buf[i & (cap - 1)], so growth copies without
 * re-basing and the run step can leave head alone until a batch ends.
 */
#ifndef EDDY_RING_H
#define EDDY_RING_H

#include <string.h>

#include "loop_int.h"

static inline int ring_reserve(struct eddy__ring *r, size_t extra)
{
    size_t used = r->tail - r->head;
    if (extra <= r->cap - used) {
        return 0;
    }
    size_t cap = r->cap != 0 ? r->cap : 16;
    while (cap - used < extra) {
        if (cap > SIZE_MAX / 2 / sizeof(struct eddy__cb)) {
            return -ENOMEM;
        }
        cap *= 2;
    }
    struct eddy__cb *buf = eddy__malloc(cap * sizeof *buf);
    if (buf == NULL) {
        return -ENOMEM;
    }
    for (size_t i = r->head; i != r->tail; i++) {
        buf[i & (cap - 1)] = r->buf[i & (r->cap - 1)];
    }
    eddy__free(r->buf);
    r->buf = buf;
    r->cap = cap;
    return 0;
}

/* The caller has reserved room. */
static inline void ring_put(struct eddy__ring *r, struct eddy__cb e)
{
    r->buf[r->tail & (r->cap - 1)] = e;
    r->tail++;
    r->count = r->tail - r->head;
}

static inline struct eddy__cb ring_take(struct eddy__ring *r)
{
    struct eddy__cb e = r->buf[r->head & (r->cap - 1)];
    r->head++;
    r->count = r->tail - r->head;
    return e;
}

/* Append n entries in at most two block copies; the caller has reserved
 * room. */
static inline void ring_put_all(struct eddy__ring *r,
                                const struct eddy__cb *src, size_t n)
{
    if (n == 0) {
        return; /* possibly with no buffer at all */
    }
    size_t at = r->tail & (r->cap - 1);
    size_t first = r->cap - at < n ? r->cap - at : n;
    memcpy(r->buf + at, src, first * sizeof *src);
    memcpy(r->buf, src + first, (n - first) * sizeof *src);
    r->tail += n;
    r->count = r->tail - r->head;
}

#endif /* EDDY_RING_H */
