/* fuzz/fuzz_sched.c - the scheduling fuzz target: the input is a
 * configuration and a program of loop operations (sched_ops.c) run on the
 * real loop with a virtual clock, a simulated poll and a scripted jitter
 * source (the seams of impl/internal.h), checked at every step against the
 * model of sched_model.c. Each input runs twice and must give the same
 * trace.
 */
#include "sched_drv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "../impl/internal.h"

struct drv D;

/* --- callbacks
 * ---------------------------------------------------------------- */

/* SPEC §2.6: the running loop is current while its callbacks run. */
static void on_entry(eddy_loop *loop)
{
    FZ_CHECK(loop == D.loop, "a callback got another loop");
    eddy_loop *cur = NULL;
    FZ_CHECK(eddy_loop_current(false, &cur) == 0 && cur == D.loop,
             "the running loop is not current in its callback");
    FZ_CHECK(eddy__loop_check(D.loop), "loop invariants broken");
}

/* A callback's own actions, read from the input. */
static int body(void)
{
    int rc = 0;
    D.depth++;
    if (D.runs++ < DRV_MAX_RUNS) {
        for (unsigned n = fz_pick(&D.in, 4); n > 0; n--) {
            int r = drv_op(false);
            rc = r != 0 ? r : rc;
        }
    }
    D.depth--;
    sm_cb_return(&D.m, rc);
    return rc;
}

int drv_cb(eddy_loop *loop, void *arg)
{
    on_entry(loop);
    sm_run_cb(&D.m, (int)(intptr_t)arg);
    return body();
}

int drv_timer(eddy_loop *loop, void *arg)
{
    on_entry(loop);
    sm_run_timer(&D.m, (int)(intptr_t)arg);
    return body();
}

int drv_handler(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    on_entry(loop);
    int idx = 0;
    while (idx < SM_NFD && D.fds[idx] != fd) {
        idx++;
    }
    FZ_CHECK(idx < SM_NFD, "a handler ran for fd %d, never registered", fd);
    sm_run_handler(&D.m, idx, events, (int)(intptr_t)arg);
    return body();
}

int drv_periodic(eddy_loop *loop, void *arg)
{
    on_entry(loop);
    int idx = (int)(intptr_t)arg;
    sm_run_per(&D.m, idx);
    FZ_CHECK(eddy_periodic_is_running(D.per[idx]),
             "SPEC §6.4: is_running() false in its own callback");
    int rc = body();
    sm_per_return(&D.m, idx);
    return rc;
}

void drv_close_obj(int fd, void *obj)
{
    int idx = 0;
    while (idx < SM_NFD && D.fds[idx] != fd) {
        idx++;
    }
    FZ_CHECK(idx < SM_NFD && D.m.reg[idx].active && D.m.reg[idx].object &&
                 D.m.reg[idx].reg_id == (int)(intptr_t)obj,
             "close function called for fd %d, not a registered object", fd);
    D.close_calls[idx]++;
}

static void on_error(eddy_loop *loop, int err, void *arg)
{
    (void)arg;
    FZ_CHECK(loop == D.loop, "error handler got another loop");
    sm_error(&D.m, err);
}

/* --- seams
 * -------------------------------------------------------------------- */

static int64_t fake_clock(void *arg)
{
    (void)arg;
    return D.m.now;
}

static double fake_random(void *arg)
{
    (void)arg;
    static const double edge[] = {0.0, 0.5, 0x1.fffffffffffffp-1};
    unsigned b = fz_byte(&D.in);
    double u = b < 3 ? edge[b] : (double)b / 256.0;
    sm_draw(&D.m, u);
    return u;
}

static int fd_index(int fd)
{
    for (int i = 0; i < SM_NFD; i++) {
        if (D.fds[i] == fd) {
            return i;
        }
    }
    return -1;
}

/* What poll(2) would report now: simulated readiness for our descriptors,
 * the truth for the loop's own (its wake-up eventfd). */
static int scan(struct pollfd *fds, unsigned long n)
{
    int count = 0;
    for (unsigned long i = 0; i < n; i++) {
        fds[i].revents = 0;
        int idx = fds[i].fd >= 0 ? fd_index(fds[i].fd) : -2;
        if (idx >= 0) {
            const struct sm_cond *c = &D.m.cond[idx];
            fds[i].revents = (short)((c->read ? fds[i].events & POLLIN : 0) |
                                     (c->write ? fds[i].events & POLLOUT : 0) |
                                     (c->hup ? POLLHUP : 0));
        } else if (idx == -1) {
            struct pollfd one = {fds[i].fd, fds[i].events, 0};
            int r;
            while ((r = poll(&one, 1, 0)) < 0 && errno == EINTR) {
                /* libFuzzer's timer signal */
            }
            FZ_CHECK(r >= 0, "poll of the loop's own fd");
            fds[i].revents = one.revents;
        }
        count += fds[i].revents != 0;
    }
    return count;
}

static void poll_wait(int64_t ns)
{
    if (ns > 0) {
        sm_advance(&D.m, ns);
        D.m.poll_waited = true;
    }
}

/* A wait without end, or the input used up: end this start(). */
static void poll_give_up(void)
{
    sm_stop(&D.m, eddy_loop_stop(D.loop));
}

/* How long into the wait the chosen event happens. */
static int64_t poll_delay(int timeout_ms)
{
    static const int64_t table[] = {
        0, 1, 500000, 1000000, 10000000, 100000000, 1000000000, 60000000000};
    int64_t d = table[fz_pick(&D.in, 8)];
    int64_t limit = (int64_t)timeout_ms * 1000000;
    return timeout_ms >= 0 && d > limit ? limit : d;
}

/* Something happens while poll waits. Returns the ready count, or -1 for
 * an interrupted poll. */
static int poll_event(struct pollfd *fds, unsigned long n, int timeout_ms)
{
    int64_t full = timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000;
    unsigned what = fz_pick(&D.in, 5);
    int64_t d = what == 0 ? full : poll_delay(timeout_ms);
    if (what == 0 || fz_done(&D.in)) {
        full < 0 ? poll_give_up() : poll_wait(full);
        return 0;
    }
    poll_wait(d);
    if (what == 1) {
        struct sm_cond *c = &D.m.cond[fz_pick(&D.in, SM_NFD)];
        unsigned bits = fz_byte(&D.in);
        *c = (struct sm_cond){bits & 1, (bits & 2) != 0, (bits & 4) != 0};
    } else if (what == 2) {
        drv_thread_callbacks(1 + (int)fz_pick(&D.in, 3));
    } else {
        if (what == 3) {
            drv_signal_callback(); /* and it interrupts the poll */
        }
        return -1;
    }
    int count = scan(fds, n);
    /* SPEC §4.3: a callback from another thread wakes a blocked poll. */
    FZ_CHECK(what != 2 || count > 0, "callbacks added by another thread "
                                     "did not wake the poll");
    if (count == 0) {
        full < 0 ? poll_give_up() : poll_wait(full - d);
    }
    return count;
}

static int fake_poll(struct pollfd *fds, unsigned long n, int timeout_ms,
                     void *arg)
{
    (void)arg;
    FZ_CHECK(eddy__loop_check(D.loop), "loop invariants broken at poll");
    sm_poll_begin(&D.m, timeout_ms);
    int count = scan(fds, n);
    /* Past the budget, or with the input used up, the level-triggered
     * readiness of an fd could keep the loop busy for ever. */
    if (++D.polls > DRV_MAX_POLLS || fz_done(&D.in)) {
        poll_give_up();
    } else if (count == 0 && timeout_ms != 0) {
        count = poll_event(fds, n, timeout_ms);
    }
    sm_poll_end(&D.m, count < 0);
    if (count < 0) {
        D.m.poll_waited = true;
        errno = EINTR;
    }
    return count;
}

/* --- one run -----------------------------------------------------------------
 */

static void on_signal(int signo)
{
    (void)signo;
    D.sig_rc = eddy_loop_add_callback_from_signal(D.loop, drv_cb,
                                                  (void *)(intptr_t)D.sig_id);
}

/* The descriptors stay open between runs; close(loop, true) may have
 * closed some, which get a new open file under the same number. */
static void ensure_fds(void)
{
    for (int i = 0; i < SM_NFD; i++) {
        if (fcntl(D.fds[i], F_GETFD) < 0) {
            int p[2];
            FZ_CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
            FZ_CHECK(dup2(p[0], D.fds[i]) == D.fds[i], "dup2");
            for (int j = 0; j < 2; j++) {
                if (p[j] != D.fds[i]) { /* pipe may reuse the number */
                    close(p[j]);
                }
            }
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int i = 0; i < SM_NFD; i += 2) {
        int p[2];
        FZ_CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
        D.fds[i] = p[0];
        D.fds[i + 1] = p[1];
    }
    D.bad_fd = 1000;
    while (fcntl(D.bad_fd, F_GETFD) >= 0) {
        D.bad_fd++;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    FZ_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
    return 0;
}

static int64_t base_time(unsigned pick)
{
    static const int64_t bases[] = {0,
                                    1,
                                    1000000000,
                                    INT64_C(1000000000000),
                                    INT64_C(2147483648000000),
                                    INT64_C(1700000000000000000),
                                    INT64_C(9007199254740993),
                                    INT64_C(4000000000000000000)};
    return bases[pick % 8];
}

static void setup(const uint8_t *data, size_t size)
{
    int fds[SM_NFD];
    memcpy(fds, D.fds, sizeof fds);
    int bad = D.bad_fd;
    memset(&D, 0, sizeof D);
    memcpy(D.fds, fds, sizeof fds);
    D.bad_fd = bad;
    D.in = (struct fz_in){data, size, 0};
    unsigned cfg = fz_byte(&D.in);
    bool current = (cfg & 0x10) != 0;
    D.all_fds = (cfg & 0x20) != 0;
    sm_init(&D.m, base_time(cfg), current);
    fz_set_trace(&D.m.trace);
    ensure_fds();
    int mode = current ? EDDY_CURRENT_IF_NONE : EDDY_CURRENT_NEVER;
    FZ_CHECK(eddy_loop_new(mode, &D.loop) == 0, "loop_new");
    FZ_CHECK(eddy_loop_new(EDDY_CURRENT_NEVER, &D.other) == 0, "loop_new");
    FZ_CHECK(
        eddy_loop_call_later(D.other, 1.0, drv_cb, NULL, &D.other_handle) == 0,
        "call_later");
    eddy__loop_set_clock(D.loop, fake_clock, NULL);
    eddy__loop_set_poll(D.loop, fake_poll, NULL);
    eddy__periodic_set_random(fake_random, NULL);
    FZ_CHECK(eddy_loop_set_error_handler(D.loop, on_error, NULL) == 0,
             "set_error_handler");
}

/* SPEC §2.10, §2.11: close discards everything unrun and closes what
 * all_fds says; then every periodic and both loops are freed. */
static void teardown(void)
{
    FZ_EXPECT_RC(eddy_loop_close(D.loop, D.all_fds), 0, "close");
    sm_close(&D.m);
    for (int i = 0; i < SM_NFD; i++) {
        const struct sm_reg *g = &D.m.reg[i];
        bool closed = fcntl(D.fds[i], F_GETFD) < 0;
        FZ_CHECK(closed == (D.all_fds && g->active && !g->object),
                 "after close(all_fds=%d) fd %d is %s", D.all_fds, i,
                 closed ? "closed" : "open");
        FZ_CHECK(D.close_calls[i] == (D.all_fds && g->active && g->object),
                 "close function of fd %d called %d times", i,
                 D.close_calls[i]);
    }
    ensure_fds();
    drv_check_closed();
    for (int i = 0; i < SM_NPER; i++) {
        if (D.per[i] != NULL) {
            eddy_periodic_free(D.per[i]);
            sm_per_free(&D.m, i);
        }
    }
    FZ_EXPECT_RC(eddy_loop_free(D.loop), 0, "free");
    FZ_EXPECT_RC(eddy_loop_free(D.other), 0, "free");
    eddy__periodic_set_random(NULL, NULL);
}

static uint64_t run_once(const uint8_t *data, size_t size, uint64_t *count)
{
    setup(data, size);
    while (!fz_done(&D.in) && D.polls <= DRV_MAX_POLLS) {
        drv_op(true);
        FZ_CHECK(eddy__loop_check(D.loop), "loop invariants broken");
    }
    teardown();
    *count = D.m.trace.count;
    return D.m.trace.hash;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t n1 = 0;
    uint64_t n2 = 0;
    uint64_t h1 = run_once(data, size, &n1);
    fz_trace_show(&D.m.trace);
    uint64_t h2 = run_once(data, size, &n2);
    FZ_CHECK(h1 == h2 && n1 == n2,
             "the same input gave two traces (%llu "
             "and %llu records)",
             (unsigned long long)n1, (unsigned long long)n2);
    fz_set_trace(NULL);
    return 0;
}
