/* fuzz/sched_drv.h - the state of the scheduler fuzz target's driver, shared
 * by fuzz_sched.c (setup, seams, callbacks) and sched_ops.c (the operations
 * that the input bytes select).
 */
#ifndef EDDY_SCHED_DRV_H
#define EDDY_SCHED_DRV_H

#include <stdbool.h>
#include <stdint.h>

#include "eddy.h"
#include "fuzz.h"
#include "sched_model.h"

#define DRV_MAX_POLLS 300 /* iterations per input */
#define DRV_MAX_RUNS 2000 /* callbacks that may act, per input */

struct drv {
    struct fz_in in;
    struct sm m;
    eddy_loop *loop;
    eddy_loop *other; /* a second loop: its handles are foreign */
    eddy_timeout other_handle;
    int fds[SM_NFD];         /* real descriptors, simulated readiness */
    int bad_fd;              /* a descriptor number that is not open */
    int close_calls[SM_NFD]; /* close functions of objects called */
    eddy_periodic *per[SM_NPER];
    int depth; /* > 0 inside a callback */
    int polls;
    int runs;
    bool all_fds;        /* how the run ends: close(loop, all_fds) */
    volatile int sig_id; /* what the signal handler queues */
    volatile int sig_rc;
};

extern struct drv D;

/* The callbacks every scheduled entity runs (fuzz_sched.c). */
int drv_cb(eddy_loop *loop, void *arg);
int drv_timer(eddy_loop *loop, void *arg);
int drv_handler(eddy_loop *loop, int fd, unsigned events, void *arg);
int drv_periodic(eddy_loop *loop, void *arg);
void drv_close_obj(int fd, void *obj);

/* One operation chosen by the input: at the top level (the loop is not
 * running) or inside a callback. Returns the callback's return value
 * contribution (0, or a failure to report). sched_ops.c. */
int drv_op(bool top);
/* Queue count callbacks from another thread; done when it returns. */
void drv_thread_callbacks(int count);
/* Queue a callback from a signal handler. */
void drv_signal_callback(void);
/* Checks of SPEC §1.7 on the closed loop. */
void drv_check_closed(void);

#endif /* EDDY_SCHED_DRV_H */
