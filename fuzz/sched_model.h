/* fuzz/sched_model.h - an executable model of SPEC §2.7, §2.13-§2.15, §3,
 * §4.1-§4.6, §5 and §6 for the scheduler fuzz target. The driver performs
 * each operation on the real loop and tells the model what it did and what
 * came back; the model checks the return code, and each callback the loop
 * runs against what the specification allows at that point: which step of
 * which iteration, in what order, at what virtual time, exactly once.
 *
 * Checks marked IMPL in sched_model.c hold the reference to its own choice
 * where SPEC leaves one (§2.14, §5.9); all others are MUST clauses.
 */
#ifndef EDDY_SCHED_MODEL_H
#define EDDY_SCHED_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "eddy.h"
#include "fuzz.h"

#define SM_MAX_CBS 2048
#define SM_MAX_TIMERS 1024
#define SM_NFD 6  /* descriptors a run may register */
#define SM_NPER 6 /* periodic callbacks a run may create */
#define SM_MAX_DRAWS 8

/* Where an added callback went, as §2.13/§2.14 distinguish them. */
enum sm_src {
    SM_LOCAL,   /* the loop thread while the loop runs */
    SM_OUTSIDE, /* another thread, or any thread while it does not run */
    SM_SIGNAL   /* add_callback_from_signal */
};

enum sm_phase { SM_IDLE, SM_POLL, SM_STEP2, SM_STEP3, SM_STEP4 };

enum sm_tstate { SM_PENDING, SM_RAN, SM_REMOVED };

struct sm_timer {
    double when;
    int64_t due_ns; /* first clock reading with time() >= when */
    uint64_t iter;  /* iteration counter when it was created */
    eddy_timeout handle;
    enum sm_tstate st;
    int periodic; /* owner, or -1 */
};

/* Simulated readiness of a descriptor (level-triggered). */
struct sm_cond {
    bool read;
    bool write;
    bool hup;
};

struct sm_reg {
    bool active;
    int reg_id; /* a new id per add, so that re-adds are told apart */
    unsigned events;
    bool object;
};

/* What the poll of this iteration found for one descriptor. */
struct sm_ready {
    bool polled;
    int reg_id;
    bool in, out, hup; /* as poll(2) reported them */
    bool ran;
    bool changed; /* updated or removed after the poll */
};

struct sm_per {
    bool exists;
    bool running;
    bool bind_current; /* created without a loop (SPEC §6.8) */
    double period_ms;
    double jitter;
    double next;  /* planned time of the pending call */
    int timer;    /* model timer of the pending call, or -1 */
    uint64_t gen; /* starts so far */
    bool in_cb;
    uint64_t gen_at_cb;
    bool plan_pending; /* its callback returned: the next call is planned */
    int64_t plan_now;
};

struct sm {
    int64_t now; /* the virtual clock, ns */
    struct fz_trace trace;
    bool has_current; /* the loop is the thread's current loop */
    bool running;
    bool stopping;
    bool closed;
    enum sm_phase phase;
    uint64_t iter;
    int iters_in_run;
    int empty_streak;
    int runs_this_iter;
    bool poll_waited;

    int ncbs;
    bool cb_ran[SM_MAX_CBS];
    int q[3][SM_MAX_CBS]; /* pending per enum sm_src */
    int nq[3];
    int step2[3 * SM_MAX_CBS];
    int n2, pos2;

    struct sm_timer timers[SM_MAX_TIMERS];
    int ntimers;
    int batch[SM_MAX_TIMERS];
    int nbatch, pos4;

    struct sm_cond cond[SM_NFD];
    struct sm_reg reg[SM_NFD];
    struct sm_ready ready[SM_NFD];
    int next_reg_id;

    struct sm_per per[SM_NPER];
    double draws[SM_MAX_DRAWS];
    int ndraws;

    bool err_pending;
    int err_want;
    bool oom; /* allocations may fail during the current call */
};

void sm_init(struct sm *m, int64_t base_ns, bool has_current);
/* Checks due at every step: errors reported, plans made, no stray draw. */
void sm_sync(struct sm *m);
void sm_note(struct sm *m, const char *what, int64_t a, int64_t b);
void sm_advance(struct sm *m, int64_t ns);

/* First clock reading (ns) at which time() >= when; INT64_MAX if none. */
int64_t sm_due_ns(double when);

/* --- callbacks (SPEC §4) --- */
int sm_cb_reserve(struct sm *m); /* the id to pass as arg; -1: no room */
void sm_cb_added(struct sm *m, int id, enum sm_src src, int rc);
void sm_run_cb(struct sm *m, int id);

/* --- timeouts (SPEC §5) --- */
/* The id for a new timeout, or -1 when the table is full. */
int sm_timer_reserve(struct sm *m);
void sm_timer_added(struct sm *m, int id, double when, int rc,
                    eddy_timeout handle);
void sm_timer_remove(struct sm *m, eddy_timeout handle, int rc);
void sm_run_timer(struct sm *m, int id);
/* The when of timer id (for equal deadlines). */
double sm_timer_when(const struct sm *m, int id);

/* --- handlers (SPEC §3) --- */
int sm_handler_next_id(const struct sm *m); /* the arg of the next add */
int sm_handler_add(struct sm *m, int fd, unsigned events, bool object,
                   bool bad_fd, int rc); /* returns the reg id */
void sm_handler_update(struct sm *m, int fd, unsigned events, int rc);
void sm_handler_remove(struct sm *m, int fd, int rc);
void sm_run_handler(struct sm *m, int fd, unsigned events, int reg_id);

/* --- periodic callbacks (SPEC §6) --- */
void sm_per_new(struct sm *m, int idx, double period_ms, double jitter,
                bool bind_current, int rc);
void sm_per_start(struct sm *m, int idx, int rc);
void sm_per_stop(struct sm *m, int idx, int rc);
void sm_per_free(struct sm *m, int idx);
void sm_run_per(struct sm *m, int idx);
void sm_per_return(struct sm *m, int idx);
void sm_draw(struct sm *m, double u);

/* --- the loop (SPEC §1.5, §2.7, §2.13, §2.15) --- */
void sm_cb_return(struct sm *m, int rc);
void sm_error(struct sm *m, int err);
void sm_stop(struct sm *m, int rc);
void sm_start(struct sm *m);
void sm_start_return(struct sm *m, int rc);
void sm_poll_begin(struct sm *m, int timeout_ms);
void sm_poll_end(struct sm *m, bool interrupted);
void sm_close(struct sm *m);

/* --- shared by sched_model.c and sched_model_io.c --- */
/* SPEC §1.3: a call that would succeed may fail with -ENOMEM while
 * allocations fail, and then changes nothing. True when that happened. */
bool sm__refused(struct sm *m, int want, int rc);
int sm__timer_internal(struct sm *m, double when, int periodic);
void sm__collect_ready(struct sm *m, bool interrupted);
void sm__finish_step3(struct sm *m);
void sm__resolve_plans(struct sm *m);

#endif /* EDDY_SCHED_MODEL_H */
