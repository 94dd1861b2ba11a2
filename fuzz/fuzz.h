/* fuzz/fuzz.h - what every fuzz target shares: a cursor that turns the
 * input bytes into choices, an event trace that the determinism check
 * hashes and that a failure prints, and the failure report itself.
 *
 * A target defines LLVMFuzzerTestOneInput (and LLVMFuzzerInitialize when it
 * needs one-time setup); libFuzzer or fuzz/replay.c calls them.
 */
#ifndef EDDY_FUZZ_H
#define EDDY_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* --- input cursor ----------------------------------------------------------
 */

struct fz_in {
    const uint8_t *p;
    size_t n;
    size_t i;
};

/* The next byte, or 0 once the input is used up (so decoding never fails;
 * callers test fz_done to wind down). */
uint8_t fz_byte(struct fz_in *in);
bool fz_done(const struct fz_in *in);
/* A choice in [0, n), n > 0. */
unsigned fz_pick(struct fz_in *in, unsigned n);
uint64_t fz_u64(struct fz_in *in);

/* --- trace ------------------------------------------------------------------
 */

#define FZ_TRACE_KEEP 128 /* records kept for the failure report */

struct fz_rec {
    const char *what; /* a static string */
    int64_t t;        /* virtual time, ns */
    int64_t a;
    int64_t b;
};

struct fz_trace {
    struct fz_rec last[FZ_TRACE_KEEP];
    uint64_t count;
    uint64_t hash; /* FNV-1a over every record */
};

void fz_trace_reset(struct fz_trace *tr);
/* Print the kept records to stderr when EDDY_FUZZ_TRACE is set (to see
 * what an input does: EDDY_FUZZ_TRACE=1 replay_sched file). */
void fz_trace_show(const struct fz_trace *tr);
void fz_trace_add(struct fz_trace *tr, const char *what, int64_t t, int64_t a,
                  int64_t b);

/* --- failures ----------------------------------------------------------- */

/* The trace the failure report prints (NULL: none). */
void fz_set_trace(const struct fz_trace *tr);
/* The name of the input being run, for the report; the replayer sets it. */
void fz_set_input_name(const char *name);

/* Print "model violation: ..." with the trace tail, then abort(), which
 * libFuzzer records as a crash and the replayer as a failure. */
_Noreturn void fz_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#define FZ_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fz_fail(__VA_ARGS__);                                              \
        }                                                                      \
    } while (0)

/* A checked call: the return code must be what the model says. */
#define FZ_EXPECT_RC(got, want, what)                                          \
    FZ_CHECK((got) == (want), "%s returned %d, the model expects %d", (what),  \
             (int)(got), (int)(want))

#endif /* EDDY_FUZZ_H */
