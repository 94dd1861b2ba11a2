/* impl/timeout.c - SPEC §5: call_at, call_later, add_timeout,
 * remove_timeout, and step 4 of the iteration (§2.13). Timers sit in a
 * 4-ary heap of inline {deadline_ns, handle} entries (heap.h); a handle is
 * a record slot tagged with a serial, so a stale or foreign handle is
 * caught by one comparison and removal is eager, O(log n), leaving nothing
 * behind.
 */
#include "loop_int.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Deadlines start this far inside int64 so the search cannot wrap. */
#define NS_LIMIT 9.2e18
#define MAX_POLL_MS 3600000 /* poll() takes an int; an hourly wake is free */
#define FIRST_CAP 64

void eddy__timers_init(eddy_loop *loop)
{
    loop->nfree = 0;
}

/* Free slots are kept as a stack of indices in the same block as the
 * records, after slot_cap of them: taking one never reads a record (a
 * free list would chase a cache miss per slot once the order of frees has
 * been shuffled by timers firing), and the last freed, still cached, is
 * the first reused. */
static uint32_t *free_stack(const eddy_loop *loop)
{
    return (uint32_t *)(loop->timers + loop->slot_cap);
}

static bool reached(int64_t ns, double when)
{
    return (double)ns / 1e9 >= when;
}

/* SPEC §5.1: the smallest ns with ns / 1e9 >= when (in doubles), so the
 * callback never runs while eddy_loop_time() < when. ceil() is usually
 * exact; the search fixes the rounding of the product and the quotient. */
static __attribute__((noinline)) int search_deadline(double when,
                                                     int64_t *out)
{
    if (!isfinite(when)) {
        return -EINVAL;
    }
    if (reached(INT64_MIN, when)) {
        *out = INT64_MIN; /* SPEC §5.3: however far in the past, due now */
        return 0;
    }
    double x = ceil(when * 1e9);
    if (!(x < NS_LIMIT)) {
        return -ERANGE;
    }
    int64_t hi = x > -NS_LIMIT ? (int64_t)x : (int64_t)-NS_LIMIT;
    for (int64_t step = 1; !reached(hi, when); step *= 2) {
        hi += step;
    }
    /* reached(INT64_MIN) is false, so this stops at INT64_MIN at worst */
    int64_t lo = hi - 1;
    for (int64_t step = 1; reached(lo, when); step *= 2) {
        lo = lo > INT64_MIN + step ? lo - step : INT64_MIN;
    }
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (reached(mid, when)) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    *out = hi;
    return 0;
}

/* The usual case first: ceil(when * 1e9), checked to be the smallest such
 * ns by two divisions, with no search (and no stack frame for one). The
 * product may have been rounded either way; the check catches that. */
static inline int to_deadline(double when, int64_t *out)
{
    double x = when * 1e9;
    if (x > -NS_LIMIT && x < NS_LIMIT) {
        int64_t ns = (int64_t)x; /* toward 0: ceil for x <= 0 */
        ns += (double)ns < x;    /* and for x > 0, without ceil() */
        if (reached(ns, when) && !reached(ns - 1, when)) {
            *out = ns;
            return 0;
        }
    }
    return search_deadline(when, out); /* NaN and infinities too */
}

static int grow_slots(eddy_loop *loop)
{
    if (loop->slot_cap >= EDDY__SLOT_MAX) {
        return -ENOMEM; /* the handle layout allows 2^24 - 1 live timers */
    }
    uint32_t cap = loop->slot_cap != 0 ? loop->slot_cap * 2 : FIRST_CAP;
    cap = cap < EDDY__SLOT_MAX ? cap : EDDY__SLOT_MAX;
    size_t each = sizeof(struct eddy__timer) + sizeof(uint32_t);
    struct eddy__timer *t = eddy__realloc(loop->timers, cap * each);
    if (t == NULL) {
        return -ENOMEM;
    }
    /* The stack moves to the new end of the records. */
    memmove(t + cap, t + loop->slot_cap, loop->nfree * sizeof(uint32_t));
    loop->timers = t;
    loop->slot_cap = cap;
    return 0;
}

/* The four children of node i, ent[4i + 1 .. 4i + 4], fill 64 bytes: they
 * share one cache line when ent[1] starts a line, so each level of a sift
 * costs one miss, not two. The allocator only promises 16-byte alignment,
 * so the array sits at the right offset inside a block 48 bytes larger. */
#define HEAP_SLACK 48

static struct eddy__heap_ent *place_heap(void *mem)
{
    uintptr_t line = ((uintptr_t)mem + 16 + 63) & ~(uintptr_t)63;
    return (struct eddy__heap_ent *)(line - 16);
}

/* realloc keeps the bytes, not the alignment: move the entries to the
 * new block's own offset when the two differ. */
static int grow_heap_array(struct eddy__heap *h, uint32_t cap)
{
    size_t off = h->mem != NULL ? (size_t)((char *)h->ent - (char *)h->mem)
                                : 0;
    void *mem = eddy__realloc(h->mem, cap * sizeof *h->ent + HEAP_SLACK);
    if (mem == NULL) {
        return -ENOMEM;
    }
    struct eddy__heap_ent *e = place_heap(mem);
    if ((char *)e != (char *)mem + off) {
        memmove(e, (char *)mem + off, h->len * sizeof *e);
    }
    h->mem = mem;
    h->ent = e;
    return 0;
}

/* The batch of due entries grows with the heap, so step 4 never allocates;
 * a half-done growth leaves a larger block but the old capacity. */
static int grow_heap(eddy_loop *loop)
{
    uint32_t cap = loop->heap.cap != 0 ? loop->heap.cap * 2 : FIRST_CAP;
    if (grow_heap_array(&loop->heap, cap) != 0) {
        return -ENOMEM;
    }
    struct eddy__heap_ent *b = eddy__realloc(loop->batch, cap * sizeof *b);
    if (b == NULL) {
        return -ENOMEM;
    }
    loop->batch = b;
    loop->heap.cap = cap;
    return 0;
}

static int reserve(eddy_loop *loop)
{
    int err = 0;
    if (loop->nfree == 0 && loop->nslots == loop->slot_cap) {
        err = grow_slots(loop);
    }
    if (err == 0 && loop->heap.len == loop->heap.cap) {
        err = grow_heap(loop);
    }
    return err;
}

static uint32_t take_slot(eddy_loop *loop)
{
    if (loop->nfree == 0) {
        return loop->nslots++;
    }
    return free_stack(loop)[--loop->nfree];
}

static void release_slot(eddy_loop *loop, uint32_t slot)
{
    loop->timers[slot] =
        (struct eddy__timer){NULL, NULL, 0, EDDY__NOT_IN_HEAP};
    free_stack(loop)[loop->nfree++] = slot;
}

/* Serials only grow (FIFO for equal deadlines) and are never 0, so no
 * handle is 0 (SPEC §5.6). */
static uint64_t next_handle(eddy_loop *loop, uint32_t slot)
{
    uint64_t serial = loop->serial++;
    if (loop->serial > EDDY__SERIAL_MAX) {
        loop->serial = 1;
    }
    return (serial << EDDY__SLOT_BITS) | slot;
}

static int schedule(eddy_loop *loop, int64_t deadline, eddy_callback_cb cb,
                    void *arg, eddy_timeout *out)
{
    int err = reserve(loop);
    if (err != 0) {
        return err;
    }
    uint32_t slot = take_slot(loop);
    uint64_t handle = next_handle(loop, slot);
    struct eddy__timer *t = &loop->timers[slot];
    t->cb = cb; /* heap_push writes heap_idx */
    t->arg = arg;
    t->handle = handle;
    heap_push(&loop->heap, loop->timers,
              (struct eddy__heap_ent){deadline, handle});
    if (out != NULL) {
        *out = handle;
    }
    return 0;
}

int eddy_loop_call_at(eddy_loop *loop, double when, eddy_callback_cb cb,
                      void *arg, eddy_timeout *out)
{
    if (loop == NULL || cb == NULL) {
        return -EINVAL;
    }
    int64_t deadline = 0;
    int err = to_deadline(when, &deadline);
    if (err == 0) {
        err = eddy__loop_owner_check(loop);
    }
    return err != 0 ? err : schedule(loop, deadline, cb, arg, out);
}

/* SPEC §5.2: call_at(time() + delay_s), the clock read now. */
int eddy_loop_call_later(eddy_loop *loop, double delay_s, eddy_callback_cb cb,
                         void *arg, eddy_timeout *out)
{
    if (loop == NULL || cb == NULL || !isfinite(delay_s)) {
        return -EINVAL;
    }
    double when = eddy_loop_time(loop) + delay_s;
    if (!isfinite(when)) {
        return -ERANGE;
    }
    return eddy_loop_call_at(loop, when, cb, arg, out);
}

int eddy_loop_add_timeout(eddy_loop *loop, double deadline,
                          eddy_callback_cb cb, void *arg, eddy_timeout *out)
{
    return eddy_loop_call_at(loop, deadline, cb, arg, out);
}

int eddy_loop_add_timeout_delta(eddy_loop *loop, double delta_s,
                                eddy_callback_cb cb, void *arg,
                                eddy_timeout *out)
{
    return eddy_loop_call_later(loop, delta_s, cb, arg, out);
}

static struct eddy__timer *find(eddy_loop *loop, eddy_timeout timeout)
{
    uint32_t slot = heap_slot(timeout);
    if (timeout == 0 || slot >= loop->nslots ||
        loop->timers[slot].handle != timeout) {
        return NULL;
    }
    return &loop->timers[slot];
}

int eddy_loop_remove_timeout(eddy_loop *loop, eddy_timeout timeout)
{
    if (loop == NULL) {
        return -EINVAL;
    }
    int err = eddy__loop_owner_check(loop);
    if (err != 0) {
        return err;
    }
    struct eddy__timer *t = find(loop, timeout);
    if (t == NULL) {
        return -ENOENT; /* SPEC §5.6: ran, removed, stale or foreign */
    }
    if (t->heap_idx != EDDY__NOT_IN_HEAP) {
        heap_remove(&loop->heap, loop->timers, t->heap_idx);
    }
    release_slot(loop, heap_slot(timeout));
    return 0;
}

int eddy__timers_poll_timeout(const eddy_loop *loop, int64_t now_ns)
{
    if (loop->heap.len == 0) {
        return -1;
    }
    int64_t deadline = loop->heap.ent[0].deadline_ns;
    if (deadline <= now_ns) {
        return 0;
    }
    /* Rounded up: waking a little early would only spin (SPEC §2.15). */
    uint64_t wait = (uint64_t)deadline - (uint64_t)now_ns;
    uint64_t ms = wait / 1000000 + (wait % 1000000 != 0);
    return ms < MAX_POLL_MS ? (int)ms : MAX_POLL_MS;
}

static void run_one(eddy_loop *loop, uint64_t handle)
{
    uint32_t slot = heap_slot(handle);
    const struct eddy__timer *t = &loop->timers[slot];
    if (t->handle != handle) {
        return; /* SPEC §5.5: removed by an earlier timer of this batch */
    }
    eddy_callback_cb cb = t->cb;
    void *arg = t->arg;
    release_slot(loop, slot); /* the handle is spent before the call */
    int rc = cb(loop, arg);
    if (rc != 0) {
        eddy__loop_report(loop, rc); /* SPEC §1.5 */
    }
}

/* Whether the timer was created during the current iteration: its serial
 * lies in [iter_serial, serial), a range that may wrap. */
static bool born_this_iteration(const eddy_loop *loop, uint64_t handle)
{
    uint64_t s = handle >> EDDY__SLOT_BITS;
    uint64_t lo = loop->iter_serial;
    uint64_t hi = loop->serial;
    return lo <= hi ? s >= lo && s < hi : s >= lo || s < hi;
}

/* SPEC §2.13 step 4: one clock read; everything due leaves the heap before
 * anything runs, so timeouts added meanwhile wait for a later iteration.
 * Due ones created earlier in this iteration (by a callback or a handler)
 * wait too: they are parked at the batch's far end and pushed back. The
 * batch is indexed afresh each time because a callback may grow (move) it. */
void eddy__timers_run(eddy_loop *loop)
{
    if (loop->heap.len == 0) {
        return;
    }
    int64_t now = eddy__loop_now_ns(loop);
    size_t n = 0;
    size_t parked = loop->heap.cap;
    while (loop->heap.len > 0 && loop->heap.ent[0].deadline_ns <= now) {
        struct eddy__heap_ent e = heap_pop(&loop->heap, loop->timers);
        if (born_this_iteration(loop, e.handle)) {
            loop->batch[--parked] = e;
        } else {
            loop->batch[n++] = e;
        }
    }
    for (size_t i = parked; i < loop->heap.cap; i++) {
        heap_push(&loop->heap, loop->timers, loop->batch[i]);
    }
    for (size_t i = 0; i < n; i++) {
        run_one(loop, loop->batch[i].handle);
    }
}

void eddy__timers_close(eddy_loop *loop)
{
    eddy__free(loop->heap.mem);
    eddy__free(loop->timers);
    eddy__free(loop->batch);
    loop->heap = (struct eddy__heap){NULL, 0, 0, NULL};
    loop->timers = NULL;
    loop->batch = NULL;
    loop->nslots = loop->slot_cap = 0;
    loop->nfree = 0;
}

/* Every record is free (on the stack, handle 0) or live; a live one is in
 * the heap at its heap_idx, or in the batch being run. The stack holds each
 * free slot once: same count, same sum and sum of squares as the records
 * found free. */
bool eddy__timers_check(const eddy_loop *loop)
{
    if (!heap_check(&loop->heap, loop->timers, loop->nslots) ||
        loop->heap.len > loop->heap.cap || loop->nslots > loop->slot_cap ||
        loop->nfree > loop->nslots) {
        return false;
    }
    uint64_t sum[2] = {0, 0};
    for (uint32_t i = 0; i < loop->nfree; i++) {
        uint64_t s = free_stack(loop)[i];
        if (s >= loop->nslots || loop->timers[s].handle != 0) {
            return false;
        }
        sum[0] += s;
        sum[1] += s * s;
    }
    uint32_t live = 0;
    uint32_t in_heap = 0;
    for (uint32_t s = 0; s < loop->nslots; s++) {
        const struct eddy__timer *t = &loop->timers[s];
        live += t->handle != 0;
        sum[0] -= t->handle == 0 ? s : 0;
        sum[1] -= t->handle == 0 ? (uint64_t)s * s : 0;
        if (t->handle != 0 && t->heap_idx != EDDY__NOT_IN_HEAP) {
            in_heap++;
            if (t->heap_idx >= loop->heap.len ||
                heap_slot(t->handle) != s) {
                return false;
            }
        }
    }
    return in_heap == loop->heap.len && live + loop->nfree == loop->nslots &&
           sum[0] == 0 && sum[1] == 0;
}
