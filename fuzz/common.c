/* fuzz/common.c - the input cursor, the trace and the failure report of
 * fuzz.h. A failure aborts at once: a model violation is a finding, and the
 * state after it is not worth checking further.
 */
#include "fuzz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

uint8_t fz_byte(struct fz_in *in)
{
    return in->i < in->n ? in->p[in->i++] : 0;
}

bool fz_done(const struct fz_in *in)
{
    return in->i >= in->n;
}

unsigned fz_pick(struct fz_in *in, unsigned n)
{
    unsigned v = fz_byte(in);
    if (n > 256) {
        v = v << 8 | fz_byte(in);
    }
    return v % n;
}

uint64_t fz_u64(struct fz_in *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | fz_byte(in);
    }
    return v;
}

void fz_trace_reset(struct fz_trace *tr)
{
    tr->count = 0;
    tr->hash = 0xcbf29ce484222325u;
}

static uint64_t fnv(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h = (h ^ (v & 0xff)) * 0x100000001b3u;
        v >>= 8;
    }
    return h;
}

void fz_trace_add(struct fz_trace *tr, const char *what, int64_t t, int64_t a,
                  int64_t b)
{
    /* The hash takes the text, not its address, so that it means the
     * same thing in every build. */
    uint64_t h = tr->hash;
    for (const char *s = what; *s != '\0'; s++) {
        h = fnv(h, (uint8_t)*s);
    }
    h = fnv(h, (uint64_t)t);
    h = fnv(h, (uint64_t)a);
    tr->hash = fnv(h, (uint64_t)b);
    tr->last[tr->count % FZ_TRACE_KEEP] = (struct fz_rec){what, t, a, b};
    tr->count++;
}

static const struct fz_trace *report_trace;
static const char *input_name;

void fz_set_trace(const struct fz_trace *tr)
{
    report_trace = tr;
}

void fz_set_input_name(const char *name)
{
    input_name = name;
}

static void print_trace(const struct fz_trace *tr)
{
    uint64_t first = tr->count > FZ_TRACE_KEEP ? tr->count - FZ_TRACE_KEEP : 0;
    fprintf(stderr, "last %llu of %llu trace records (time ns, a, b):\n",
            (unsigned long long)(tr->count - first),
            (unsigned long long)tr->count);
    for (uint64_t i = first; i < tr->count; i++) {
        const struct fz_rec *r = &tr->last[i % FZ_TRACE_KEEP];
        fprintf(stderr, "  %6llu %-14s t=%lld a=%lld b=%lld\n",
                (unsigned long long)i, r->what, (long long)r->t,
                (long long)r->a, (long long)r->b);
    }
}

void fz_trace_show(const struct fz_trace *tr)
{
    if (getenv("EDDY_FUZZ_TRACE") != NULL) {
        print_trace(tr);
    }
}

void fz_fail(const char *fmt, ...)
{
    fflush(stdout);
    if (report_trace != NULL) {
        print_trace(report_trace);
    }
    fprintf(stderr, "model violation: ");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    if (input_name != NULL) {
        fprintf(stderr, "input: %s\n", input_name);
    }
    abort();
}
