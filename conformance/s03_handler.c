/* conformance/s03_handler.c - SPEC §3: I/O handlers on file descriptors.
 *
 * Readiness is made with real pipes and socketpairs. Most checks run
 * exactly one iteration (stop before start, SPEC §2.7) so that every
 * handler call recorded belongs to that iteration.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CALLS 64

static struct eddy_trace T;
static int ticks_left;            /* cb_tick stops the loop at 0 */
static unsigned evs[MAX_CALLS];   /* events of each recorded handler call */
static int nev;
static int counter;

static void begin(void)
{
    eddy_h_trace_reset(&T);
    ticks_left = 0;
    nev = 0;
    counter = 0;
}

static int cb_tick(eddy_loop *loop, void *arg)
{
    eddy_h_trace(&T, "|");
    if (--ticks_left <= 0) {
        return eddy_loop_stop(loop);
    }
    return eddy_loop_add_callback(loop, cb_tick, arg);
}

/* Run n iterations, each marked "|" in the trace. */
static void run_ticks(eddy_loop *loop, int n)
{
    ticks_left = n;
    assert_int_equal(eddy_loop_add_callback(loop, cb_tick, NULL), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
}

/* Run exactly one iteration (SPEC §2.7) after forgetting earlier calls. */
static void run_one(eddy_loop *loop)
{
    begin();
    assert_int_equal(eddy_loop_stop(loop), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
}

/* Records each call: its events in evs[], its label (arg) in the trace. */
static int h_rec(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    if (nev < MAX_CALLS) {
        evs[nev] = events;
    }
    nev++;
    eddy_h_trace(&T, "%s", arg != NULL ? (const char *)arg : "io");
    return 0;
}

/* Every recorded call has `must` set, `never` clear and no unknown bit. */
static void check_calls(unsigned must, unsigned never)
{
    assert_true(nev >= 1 && nev <= MAX_CALLS);
    for (int i = 0; i < nev; i++) {
        assert_true((evs[i] & must) == must);
        assert_int_equal(evs[i] & never, 0);
        assert_int_equal(evs[i] & ~(EDDY_READ | EDDY_WRITE | EDDY_ERROR), 0);
    }
}

static void make_socketpair(int s[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
}

/* --- §3.1 ----------------------------------------------------------------- */

static void c3_1_event_bit_values(void **state)
{
    /* SPEC §3.1: the event bits have Tornado's values: NONE 0, READ 0x001,
     * WRITE 0x004, ERROR 0x018. */
    (void)state;
    assert_int_equal(EDDY_NONE, 0);
    assert_int_equal(EDDY_READ, 0x001);
    assert_int_equal(EDDY_WRITE, 0x004);
    assert_int_equal(EDDY_ERROR, 0x018);
}

static void c3_1_every_combination_is_accepted(void **state)
{
    /* SPEC §3.1: any bitwise or of the constants is a valid events
     * argument. */
    eddy_loop *loop = *state;
    int p[2];
    eddy_h_pipe(p);
    for (unsigned ev = 0; ev <= (EDDY_READ | EDDY_WRITE | EDDY_ERROR);
         ev++) {
        if ((ev & ~(EDDY_READ | EDDY_WRITE | EDDY_ERROR)) != 0 ||
            ((ev & EDDY_ERROR) != 0 && (ev & EDDY_ERROR) != EDDY_ERROR)) {
            continue;
        }
        assert_int_equal(eddy_loop_add_handler(loop, p[0], ev, h_rec, NULL),
                         0);
        assert_int_equal(eddy_loop_update_handler(loop, p[0], ev), 0);
        assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    }
    eddy_h_close_pair(p);
}

/* --- §3.2 ----------------------------------------------------------------- */

static void c3_2_level_triggered_while_readable(void **state)
{
    /* SPEC §3.2: the handler is called in every iteration in which its fd
     * is ready (level-triggered): data left unread keeps it ready. */
    eddy_loop *loop = *state;
    int p[2];
    begin();
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_rec,
                                           NULL), 0);
    run_ticks(loop, 3);
    assert_string_equal(eddy_h_trace_str(&T), "| io | io | io");
    check_calls(EDDY_READ, EDDY_WRITE);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

static int h_drain(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    char c;
    assert_int_equal(read(fd, &c, 1), 1);
    return h_rec(loop, fd, events, arg);
}

static void c3_2_called_only_while_ready(void **state)
{
    /* SPEC §3.2: the handler runs only in iterations in which its fd is
     * ready: never before data arrives, once per byte it drains. */
    eddy_loop *loop = *state;
    int p[2];
    begin();
    eddy_h_pipe(p);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_drain,
                                           NULL), 0);
    run_ticks(loop, 3);
    assert_string_equal(eddy_h_trace_str(&T), "| | |");
    eddy_h_put_byte(p[1]);
    run_ticks(loop, 3);
    assert_string_equal(eddy_h_trace_str(&T), "| | | | io | |");
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

static void c3_2_ready_bits_only_as_requested(void **state)
{
    /* SPEC §3.2: ready contains READ only if READ was requested and WRITE
     * only if WRITE was requested. */
    eddy_loop *loop = *state;
    int s[2];
    int p[2];
    make_socketpair(s);
    eddy_h_pipe(p);
    eddy_h_put_byte(s[1]); /* s[0] is now readable and writable */
    assert_int_equal(eddy_loop_add_handler(loop, s[0], EDDY_READ, h_rec,
                                           NULL), 0);
    run_one(loop);
    check_calls(EDDY_READ, EDDY_WRITE);
    assert_int_equal(eddy_loop_remove_handler(loop, s[0]), 0);
    assert_int_equal(eddy_loop_add_handler(loop, s[0], EDDY_WRITE, h_rec,
                                           NULL), 0);
    run_one(loop);
    check_calls(EDDY_WRITE, EDDY_READ);
    assert_int_equal(eddy_loop_remove_handler(loop, s[0]), 0);
    /* A pipe's write end is writable, never readable. */
    assert_int_equal(eddy_loop_add_handler(loop, p[1], EDDY_READ, h_rec,
                                           NULL), 0);
    begin();
    run_ticks(loop, 3);
    assert_int_equal(nev, 0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[1]), 0);
    eddy_h_close_pair(s);
    eddy_h_close_pair(p);
}

struct call_view {
    eddy_loop *loop;
    int fd;
    void *arg;
    bool on_loop_thread;
};

static pthread_t loop_thread;

static int h_view(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    struct call_view *v = arg;
    v->loop = loop;
    v->fd = fd;
    v->arg = arg;
    v->on_loop_thread = pthread_equal(pthread_self(), loop_thread);
    return h_rec(loop, fd, events, NULL);
}

static void c3_2_handler_gets_loop_fd_and_arg(void **state)
{
    /* SPEC §3.2: cb(loop, fd, ready, arg) is called on the loop thread. */
    eddy_loop *loop = *state;
    struct call_view v = {NULL, -1, NULL, false};
    int p[2];
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    loop_thread = pthread_self();
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_view, &v),
                     0);
    run_one(loop);
    assert_int_equal(nev, 1);
    assert_ptr_equal(v.loop, loop);
    assert_int_equal(v.fd, p[0]);
    assert_ptr_equal(v.arg, &v);
    assert_true(v.on_loop_thread);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

/* --- §3.3 ----------------------------------------------------------------- */

static void c3_3_readable_and_writable_in_one_iteration(void **state)
{
    /* SPEC §3.3: an fd ready for reading and writing at once gets one call
     * with READ | WRITE or one call per event, in the same iteration. */
    eddy_loop *loop = *state;
    int s[2];
    make_socketpair(s);
    eddy_h_put_byte(s[1]);
    assert_int_equal(eddy_loop_add_handler(loop, s[0], EDDY_READ | EDDY_WRITE,
                                           h_rec, NULL), 0);
    run_one(loop);
    check_calls(0, 0);
    unsigned both = EDDY_READ | EDDY_WRITE;
    if (nev == 1) {
        assert_int_equal(evs[0] & both, both);
    } else {
        assert_int_equal(nev, 2);
        assert_int_equal((evs[0] | evs[1]) & both, both);
        assert_true((evs[0] & both) != both && (evs[1] & both) != both);
    }
    assert_int_equal(eddy_loop_remove_handler(loop, s[0]), 0);
    eddy_h_close_pair(s);
}

/* --- §3.4 ----------------------------------------------------------------- */

static int h_read_eof(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    char buf[8];
    counter = (int)read(fd, buf, sizeof(buf));
    return h_rec(loop, fd, events, arg);
}

static void c3_4_pipe_hangup_is_read(void **state)
{
    /* SPEC §3.4: a hang-up on an fd registered for READ is reported as READ
     * readiness, and a read then returns end-of-file. */
    eddy_loop *loop = *state;
    int p[2];
    eddy_h_pipe(p);
    close(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_read_eof,
                                           NULL), 0);
    run_one(loop);
    check_calls(EDDY_READ, EDDY_WRITE);
    assert_int_equal(counter, 0);
    /* Also with ERROR requested alongside READ. */
    assert_int_equal(eddy_loop_update_handler(loop, p[0],
                                              EDDY_READ | EDDY_ERROR), 0);
    run_one(loop);
    check_calls(EDDY_READ, EDDY_WRITE);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    close(p[0]);
}

static void c3_4_socket_peer_close_is_read(void **state)
{
    /* SPEC §3.4: a peer's close of a socket registered for READ is
     * reported as READ readiness; a read returns end-of-file. */
    eddy_loop *loop = *state;
    int s[2];
    make_socketpair(s);
    close(s[1]);
    assert_int_equal(eddy_loop_add_handler(loop, s[0], EDDY_READ, h_read_eof,
                                           NULL), 0);
    run_one(loop);
    check_calls(EDDY_READ, EDDY_WRITE);
    assert_int_equal(counter, 0);
    assert_int_equal(eddy_loop_remove_handler(loop, s[0]), 0);
    close(s[0]);
}

static void c3_4_error_only_never_reports_read_or_write(void **state)
{
    /* SPEC §3.4: whether an ERROR-only registration fires on hang-up is
     * implementation-defined; if it does, it carries no READ or WRITE. */
    eddy_loop *loop = *state;
    int p[2];
    eddy_h_pipe(p);
    close(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_ERROR, h_rec,
                                           NULL), 0);
    begin();
    run_ticks(loop, 3);
    assert_true(nev <= 3 * 2);
    for (int i = 0; i < nev; i++) {
        assert_int_equal(evs[i] & (EDDY_READ | EDDY_WRITE), 0);
        assert_true(evs[i] != 0);
    }
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    close(p[0]);
}

/* --- §3.5 ----------------------------------------------------------------- */

static void c3_5_update_switches_events(void **state)
{
    /* SPEC §3.5: update_handler replaces the watched events; EDDY_NONE
     * keeps the registration but watches nothing. */
    eddy_loop *loop = *state;
    int s[2];
    make_socketpair(s); /* s[0]: writable, not readable */
    assert_int_equal(eddy_loop_add_handler(loop, s[0], EDDY_READ, h_rec,
                                           NULL), 0);
    run_one(loop);
    assert_int_equal(nev, 0);
    assert_int_equal(eddy_loop_update_handler(loop, s[0], EDDY_WRITE), 0);
    run_one(loop);
    check_calls(EDDY_WRITE, EDDY_READ);
    eddy_h_put_byte(s[1]); /* readable too, but READ is no longer watched */
    run_one(loop);
    check_calls(EDDY_WRITE, EDDY_READ);
    assert_int_equal(eddy_loop_update_handler(loop, s[0], EDDY_NONE), 0);
    begin();
    run_ticks(loop, 3);
    assert_int_equal(nev, 0);
    assert_int_equal(eddy_loop_add_handler(loop, s[0], EDDY_READ, h_rec,
                                           NULL), -EEXIST);
    assert_int_equal(eddy_loop_update_handler(loop, s[0], EDDY_READ), 0);
    run_one(loop);
    check_calls(EDDY_READ, EDDY_WRITE);
    assert_int_equal(eddy_loop_remove_handler(loop, s[0]), 0);
    eddy_h_close_pair(s);
}

static void c3_5_update_unknown_fd_enoent(void **state)
{
    /* SPEC §3.5: update_handler on an fd that is not registered returns
     * -ENOENT and registers nothing. */
    eddy_loop *loop = *state;
    int p[2];
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_update_handler(loop, p[0], EDDY_READ),
                     -ENOENT);
    run_one(loop);
    assert_int_equal(nev, 0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), -ENOENT);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_rec,
                                           NULL), 0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    assert_int_equal(eddy_loop_update_handler(loop, p[0], EDDY_NONE),
                     -ENOENT);
    eddy_h_close_pair(p);
}

static void c3_5_update_bad_events_einval(void **state)
{
    /* SPEC §3.5 (and §1.3): update_handler with bits outside
     * READ | WRITE | ERROR returns -EINVAL and leaves the events as
     * they were. */
    eddy_loop *loop = *state;
    int p[2];
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_rec,
                                           NULL), 0);
    assert_int_equal(eddy_loop_update_handler(loop, p[0], 0x2), -EINVAL);
    assert_int_equal(eddy_loop_update_handler(loop, p[0], 0x100 | EDDY_READ),
                     -EINVAL);
    run_one(loop);
    check_calls(EDDY_READ, EDDY_WRITE);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

/* Two readable fds whose handlers each change the other's registration;
 * pair[i] is the other fd of fd i. */
static int pair_fd[2];
static int pair_rc = 1;

static int h_mute_other(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    int other = fd == pair_fd[0] ? pair_fd[1] : pair_fd[0];
    pair_rc = arg != NULL ? eddy_loop_remove_handler(loop, other)
                          : eddy_loop_update_handler(loop, other, EDDY_NONE);
    return h_rec(loop, fd, events, fd == pair_fd[0] ? "a" : "b");
}

static void run_pair(eddy_loop *loop, void *remove)
{
    int p[2], q[2];
    eddy_h_pipe(p);
    eddy_h_pipe(q);
    eddy_h_put_byte(p[1]);
    eddy_h_put_byte(q[1]);
    pair_fd[0] = p[0];
    pair_fd[1] = q[0];
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ,
                                           h_mute_other, remove), 0);
    assert_int_equal(eddy_loop_add_handler(loop, q[0], EDDY_READ,
                                           h_mute_other, remove), 0);
    run_one(loop);
    assert_int_equal(nev, 1);
    assert_int_equal(pair_rc, 0);
    char first[2] = {eddy_h_trace_str(&T)[0], '\0'};
    run_one(loop); /* the silenced fd stays silent */
    assert_int_equal(nev, 1);
    assert_string_equal(eddy_h_trace_str(&T), first);
    eddy_loop_remove_handler(loop, p[0]);
    eddy_loop_remove_handler(loop, q[0]);
    eddy_h_close_pair(p);
    eddy_h_close_pair(q);
}

static void c3_5_update_applies_to_pending_dispatch(void **state)
{
    /* SPEC §3.5: an update applies to any dispatch not yet made: an fd
     * set to NONE by another handler of the same iteration is not called
     * even though poll found it ready. */
    run_pair(*state, NULL);
}

static int cb_update_none(eddy_loop *loop, void *arg)
{
    return eddy_loop_update_handler(loop, *(const int *)arg, EDDY_NONE);
}

static void c3_5_update_from_callback_before_dispatch(void **state)
{
    /* SPEC §3.5: an fd found ready by the poll step and set to NONE by a
     * callback of the same iteration is not dispatched. */
    eddy_loop *loop = *state;
    int p[2];
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_rec,
                                           NULL), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_update_none, &p[0]), 0);
    run_one(loop);
    assert_int_equal(nev, 0);
    assert_int_equal(eddy_loop_update_handler(loop, p[0], EDDY_READ), 0);
    run_one(loop);
    check_calls(EDDY_READ, EDDY_WRITE);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

/* --- §3.6 ----------------------------------------------------------------- */

static void c3_6_remove_from_other_handler(void **state)
{
    /* SPEC §3.6: after remove_handler the handler is never called again,
     * even if its fd was already found ready in the current iteration
     * (one handler removes another). */
    run_pair(*state, &T);
}

static int cb_remove(eddy_loop *loop, void *arg)
{
    return eddy_loop_remove_handler(loop, *(const int *)arg);
}

static void c3_6_remove_from_callback_before_dispatch(void **state)
{
    /* SPEC §3.6: an fd found ready by the poll step and removed by a
     * callback of the same iteration is not dispatched. */
    eddy_loop *loop = *state;
    int p[2];
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_rec,
                                           NULL), 0);
    assert_int_equal(eddy_loop_add_callback(loop, cb_remove, &p[0]), 0);
    run_one(loop);
    assert_int_equal(nev, 0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), -ENOENT);
    eddy_h_close_pair(p);
}

static int h_remove_self(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    counter = eddy_loop_remove_handler(loop, fd);
    return h_rec(loop, fd, events, arg);
}

static void c3_6_removed_handler_never_called_again(void **state)
{
    /* SPEC §3.6: a handler that removes itself is not called again though
     * its fd stays ready. */
    eddy_loop *loop = *state;
    int p[2];
    begin();
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ,
                                           h_remove_self, NULL), 0);
    run_ticks(loop, 3);
    assert_string_equal(eddy_h_trace_str(&T), "| io | |");
    assert_int_equal(counter, 0);
    eddy_h_close_pair(p);
}

static void c3_6_remove_unknown_enoent(void **state)
{
    /* SPEC §3.6: removing an fd that is not registered has no effect and
     * returns -ENOENT; other registrations are untouched. */
    eddy_loop *loop = *state;
    int p[2], q[2];
    eddy_h_pipe(p);
    eddy_h_pipe(q);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_remove_handler(loop, q[0]), -ENOENT);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_rec,
                                           NULL), 0);
    assert_int_equal(eddy_loop_remove_handler(loop, q[0]), -ENOENT);
    assert_int_equal(eddy_loop_remove_handler(loop, -1), -ENOENT);
    run_one(loop);
    check_calls(EDDY_READ, EDDY_WRITE);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), -ENOENT);
    eddy_h_close_pair(p);
    eddy_h_close_pair(q);
}

/* --- §3.7 ----------------------------------------------------------------- */

static void close_nothing(int fd, void *obj)
{
    (void)fd;
    (void)obj;
    counter++;
}

static void c3_7_same_fd_twice_eexist(void **state)
{
    /* SPEC §3.7: adding an fd already registered returns -EEXIST and leaves
     * the first registration unchanged. */
    eddy_loop *loop = *state;
    int p[2];
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_rec,
                                           "first"), 0);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_rec,
                                           "second"), -EEXIST);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_NONE, h_rec,
                                           "second"), -EEXIST);
    assert_int_equal(eddy_loop_add_handler_object(loop, p[0], EDDY_READ,
                                                  h_rec, "obj",
                                                  close_nothing), -EEXIST);
    run_one(loop);
    assert_string_equal(eddy_h_trace_str(&T), "first");
    check_calls(EDDY_READ, EDDY_WRITE);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), -ENOENT);
    eddy_h_close_pair(p);
    assert_int_equal(counter, 0);
}

static void c3_7_bad_fd_ebadf(void **state)
{
    /* SPEC §3.7: a negative fd or one that is not open returns -EBADF, and
     * nothing is registered for that call. */
    eddy_loop *loop = *state;
    int p[2];
    const int bad[] = {-1, -100, 1000000};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(eddy_loop_add_handler(loop, bad[i], EDDY_READ, h_rec,
                                               NULL), -EBADF);
        assert_int_equal(eddy_loop_add_handler_object(loop, bad[i], EDDY_READ,
                                                      h_rec, NULL, NULL),
                         -EBADF);
    }
    eddy_h_pipe(p);
    eddy_h_close_pair(p);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_rec,
                                           NULL), -EBADF);
    assert_int_equal(eddy_loop_add_handler_object(loop, p[1], EDDY_WRITE,
                                                  h_rec, NULL, close_nothing),
                     -EBADF);
    /* The numbers come back with the next pipe: nothing holds them. */
    int q[2];
    eddy_h_pipe(q);
    eddy_h_put_byte(q[1]);
    assert_int_equal(eddy_loop_add_handler(loop, q[0], EDDY_READ, h_rec,
                                           NULL), 0);
    assert_int_equal(eddy_loop_add_handler(loop, q[1], EDDY_WRITE, h_rec,
                                           NULL), 0);
    run_one(loop);
    assert_int_equal(nev, 2);
    assert_int_equal(eddy_loop_remove_handler(loop, q[0]), 0);
    assert_int_equal(eddy_loop_remove_handler(loop, q[1]), 0);
    eddy_h_close_pair(q);
    assert_int_equal(counter, 0);
}

static void c3_7_bad_events_or_null_handler_einval(void **state)
{
    /* SPEC §3.7: event bits outside READ | WRITE | ERROR or a NULL handler
     * return -EINVAL; after a failed add nothing is registered. */
    eddy_loop *loop = *state;
    int p[2];
    const unsigned bad[] = {0x2, 0x20, 0x100 | EDDY_READ, 0x80000000u, ~0u};
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(eddy_loop_add_handler(loop, p[0], bad[i], h_rec,
                                               "bad"), -EINVAL);
        assert_int_equal(eddy_loop_add_handler_object(loop, p[0], bad[i],
                                                      h_rec, "bad", NULL),
                         -EINVAL);
    }
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, NULL,
                                           NULL), -EINVAL);
    assert_int_equal(eddy_loop_add_handler_object(loop, p[0], EDDY_READ,
                                                  NULL, NULL, close_nothing),
                     -EINVAL);
    run_one(loop);
    assert_int_equal(nev, 0);
    assert_int_equal(eddy_loop_update_handler(loop, p[0], EDDY_READ),
                     -ENOENT);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_rec,
                                           "ok"), 0);
    run_one(loop);
    assert_string_equal(eddy_h_trace_str(&T), "ok");
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

static void c3_7_none_events_accepted(void **state)
{
    /* SPEC §3.7: EDDY_NONE has no bit outside the valid ones: the add
     * succeeds and watches nothing until updated. */
    eddy_loop *loop = *state;
    int p[2];
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_NONE, h_rec,
                                           NULL), 0);
    run_one(loop);
    assert_int_equal(nev, 0);
    assert_int_equal(eddy_loop_update_handler(loop, p[0], EDDY_READ), 0);
    run_one(loop);
    check_calls(EDDY_READ, EDDY_WRITE);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

/* --- §3.8 ----------------------------------------------------------------- */

struct file_obj {
    int fd;
    int closes;
    int fd_seen;
};

static void obj_close(int fd, void *obj)
{
    struct file_obj *o = obj;
    o->closes++;
    o->fd_seen = fd;
}

static int h_obj(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    const struct file_obj *o = arg;
    return h_rec(loop, fd, events, o->fd == fd ? "obj" : "wrong");
}

static void c3_8_object_behaves_as_plain_fd(void **state)
{
    /* SPEC §3.8: a file-like object registered with its fd and close
     * function behaves as a plain fd registration: obj is the handler's
     * arg, and update, remove and -EEXIST work the same. */
    eddy_loop *loop = *state;
    int p[2];
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    struct file_obj o = {p[0], 0, -1};
    assert_int_equal(eddy_loop_add_handler_object(loop, p[0], EDDY_READ,
                                                  h_obj, &o, obj_close), 0);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_rec,
                                           NULL), -EEXIST);
    begin();
    run_ticks(loop, 2);
    assert_string_equal(eddy_h_trace_str(&T), "| obj | obj");
    check_calls(EDDY_READ, EDDY_WRITE);
    assert_int_equal(eddy_loop_update_handler(loop, p[0], EDDY_NONE), 0);
    run_one(loop);
    assert_int_equal(nev, 0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_rec,
                                           NULL), 0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    assert_int_equal(eddy_loop_close(loop, true), 0);
    assert_int_equal(o.closes, 0); /* removed before the close */
    assert_true(eddy_h_fd_open(p[0]));
    eddy_h_close_pair(p);
}

static void c3_8_close_all_fds_calls_close_function_once(void **state)
{
    /* SPEC §3.8: close(all_fds=true) calls the object's close function
     * once instead of closing its fd. */
    eddy_loop *loop = *state;
    int p[2];
    eddy_h_pipe(p);
    struct file_obj o = {p[0], 0, -1};
    struct file_obj w = {p[1], 0, -1};
    assert_int_equal(eddy_loop_add_handler_object(loop, p[0], EDDY_READ,
                                                  h_obj, &o, obj_close), 0);
    assert_int_equal(eddy_loop_add_handler_object(loop, p[1], EDDY_WRITE,
                                                  h_obj, &w, NULL), 0);
    assert_int_equal(eddy_loop_close(loop, true), 0);
    assert_int_equal(o.closes, 1);
    assert_int_equal(o.fd_seen, p[0]);
    assert_true(eddy_h_fd_open(p[0]));   /* obj_close does not close it */
    assert_true(eddy_h_fd_open(p[1]));   /* no close function: fd left alone */
    assert_int_equal(eddy_loop_close(loop, true), -ESHUTDOWN);
    assert_int_equal(eddy_loop_free(loop), 0);
    *state = NULL;
    assert_int_equal(o.closes, 1);
    assert_int_equal(w.closes, 0);
    eddy_h_close_pair(p);
}

/* --- §3.9 ----------------------------------------------------------------- */

static int h_second(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    return h_rec(loop, fd, events, arg);
}

static int h_swap(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)arg;
    h_rec(loop, fd, events, "h1");
    int rc = eddy_loop_remove_handler(loop, fd);
    if (rc == 0) {
        rc = eddy_loop_add_handler(loop, fd, EDDY_READ, h_second, "h2");
    }
    counter = rc == 0 ? counter + 1 : rc;
    return rc;
}

static void c3_9_remove_and_readd_inside_handler(void **state)
{
    /* SPEC §3.9: an fd can be removed and registered again with another
     * handler from inside its handler; the new handler sees only readiness
     * found by a later poll. */
    eddy_loop *loop = *state;
    int p[2];
    begin();
    eddy_h_pipe(p);
    eddy_h_put_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_swap,
                                           NULL), 0);
    run_ticks(loop, 3);
    assert_string_equal(eddy_h_trace_str(&T), "| h1 | h2 | h2");
    assert_int_equal(counter, 1);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_h_close_pair(p);
}

static int other_fd = -1;

static int h_add_other(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)arg;
    h_rec(loop, fd, events, "h1");
    counter = eddy_loop_add_handler(loop, other_fd, EDDY_READ, h_second,
                                    "new");
    return eddy_loop_remove_handler(loop, fd);
}

static void c3_9_fd_added_inside_handler_waits_for_poll(void **state)
{
    /* SPEC §3.9 (and §2.13): a handler registered from inside a handler is
     * not called in that iteration even if its fd is already ready. */
    eddy_loop *loop = *state;
    int p[2], q[2];
    begin();
    eddy_h_pipe(p);
    eddy_h_pipe(q);
    eddy_h_put_byte(p[1]);
    eddy_h_put_byte(q[1]);
    other_fd = q[0];
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, h_add_other,
                                           NULL), 0);
    run_ticks(loop, 2);
    assert_string_equal(eddy_h_trace_str(&T), "| h1 | new");
    assert_int_equal(counter, 0);
    assert_int_equal(eddy_loop_remove_handler(loop, q[0]), 0);
    eddy_h_close_pair(p);
    eddy_h_close_pair(q);
}

static const struct eddy_case cases[] = {
    EDDY_CASE(c3_1_event_bit_values, ""),
    EDDY_CASE_LOOP(c3_1_every_combination_is_accepted, "3.5 3.6"),
    EDDY_CASE_LOOP(c3_2_level_triggered_while_readable, ""),
    EDDY_CASE_LOOP(c3_2_called_only_while_ready, ""),
    EDDY_CASE_LOOP(c3_2_ready_bits_only_as_requested, ""),
    EDDY_CASE_LOOP(c3_2_handler_gets_loop_fd_and_arg, ""),
    EDDY_CASE_LOOP(c3_3_readable_and_writable_in_one_iteration, "3.2"),
    EDDY_CASE_LOOP(c3_4_pipe_hangup_is_read, ""),
    EDDY_CASE_LOOP(c3_4_socket_peer_close_is_read, ""),
    EDDY_CASE_LOOP(c3_4_error_only_never_reports_read_or_write, "3.2"),
    EDDY_CASE_LOOP(c3_5_update_switches_events, "3.7"),
    EDDY_CASE_LOOP(c3_5_update_unknown_fd_enoent, "1.3"),
    EDDY_CASE_LOOP(c3_5_update_bad_events_einval, "1.3 1.8"),
    EDDY_CASE_LOOP(c3_5_update_applies_to_pending_dispatch, ""),
    EDDY_CASE_LOOP(c3_5_update_from_callback_before_dispatch, "2.13"),
    EDDY_CASE_LOOP(c3_6_remove_from_other_handler, ""),
    EDDY_CASE_LOOP(c3_6_remove_from_callback_before_dispatch, "2.13"),
    EDDY_CASE_LOOP(c3_6_removed_handler_never_called_again, ""),
    EDDY_CASE_LOOP(c3_6_remove_unknown_enoent, ""),
    EDDY_CASE_LOOP(c3_7_same_fd_twice_eexist, "3.8"),
    EDDY_CASE_LOOP(c3_7_bad_fd_ebadf, "1.3"),
    EDDY_CASE_LOOP(c3_7_bad_events_or_null_handler_einval, "1.3 1.8"),
    EDDY_CASE_LOOP(c3_7_none_events_accepted, "3.5"),
    EDDY_CASE_LOOP(c3_8_object_behaves_as_plain_fd, "3.5 3.6 3.7"),
    EDDY_CASE_LOOP(c3_8_close_all_fds_calls_close_function_once, "2.10 2.11"),
    EDDY_CASE_LOOP(c3_9_remove_and_readd_inside_handler, ""),
    EDDY_CASE_LOOP(c3_9_fd_added_inside_handler_waits_for_poll, "2.13"),
};
EDDY_SECTION(s03, "3", "I/O handlers", cases);
