/* conformance/s08_subprocess.c - SPEC §8: Subprocess and CalledProcessError.
 *
 * Every case starts real programs (/bin/sh, /bin/true, /bin/cat, ...) with
 * real fork/exec, pipes and SIGCHLD, and ends with every child reaped, the
 * SIGCHLD handling uninitialized and every stream closed.
 */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_S 20.0 /* generous: children start slowly on a loaded box */

/* --- helpers -------------------------------------------------------------- */

struct exit_rec {
    int calls;
    int rc;
    eddy_loop *loop;
    pthread_t thread;
};

static int on_exit_rec(eddy_loop *loop, int returncode, void *arg)
{
    struct exit_rec *r = arg;
    r->calls++;
    r->rc = returncode;
    r->loop = loop;
    r->thread = pthread_self();
    return 0;
}

static bool exit_seen(void *arg)
{
    return ((struct exit_rec *)arg)->calls > 0;
}

struct read_rec {
    bool done;
    int err;
    char *data;
    size_t len;
    bool closed_in_cb;
};

static int on_read_rec(eddy_loop *loop, eddy_stream *s, int err,
                       const void *data, size_t len, void *arg)
{
    (void)loop;
    struct read_rec *r = arg;
    r->done = true;
    r->err = err;
    r->len = len;
    r->closed_in_cb = eddy_stream_closed(s);
    r->data = malloc(len + 1);
    if (r->data != NULL) {
        if (len > 0) {
            memcpy(r->data, data, len);
        }
        r->data[len] = '\0';
    }
    return 0;
}

static bool read_done(void *arg)
{
    return ((struct read_rec *)arg)->done;
}

static bool future_done(void *arg)
{
    return eddy_future_done(arg);
}

static eddy_subprocess *spawn(eddy_loop *loop, const char *const *argv,
                              int in, int out, int err)
{
    eddy_subprocess *p = NULL;
    assert_int_equal(eddy_subprocess_new(loop, argv, in, out, err, &p), 0);
    assert_non_null(p);
    assert_true(eddy_subprocess_pid(p) > 0);
    return p;
}

static eddy_subprocess *sh(eddy_loop *loop, const char *script, int in,
                           int out, int err)
{
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    return spawn(loop, argv, in, out, err);
}

/* Wait for the exit through a future; returns its eddy_future_result. */
static int wait_exit(eddy_loop *loop, eddy_subprocess *p, bool raise,
                     int *rc)
{
    eddy_future *f = NULL;
    assert_int_equal(eddy_subprocess_wait_for_exit(p, raise, &f), 0);
    assert_true(eddy_h_run_until(loop, future_done, f, WAIT_S));
    void *v = NULL;
    int err = eddy_future_result(f, &v);
    if (err == 0 && rc != NULL) {
        *rc = (int)(intptr_t)v;
    }
    eddy_future_release(f);
    return err;
}

static int exit_code(eddy_loop *loop, eddy_subprocess *p)
{
    int rc = -1000;
    assert_int_equal(wait_exit(loop, p, false, &rc), 0);
    return rc;
}

/* Read a stream to its end; returns the bytes (malloc'd, NUL-terminated). */
static char *read_all(eddy_loop *loop, eddy_stream *s, size_t *len)
{
    struct read_rec r = {0};
    assert_int_equal(eddy_stream_read_until_close(s, on_read_rec, &r), 0);
    assert_true(eddy_h_run_until(loop, read_done, &r, WAIT_S));
    assert_int_equal(r.err, 0);
    assert_true(r.closed_in_cb);
    assert_non_null(r.data);
    if (len != NULL) {
        *len = r.len;
    }
    return r.data;
}

static void finish(eddy_subprocess *p)
{
    eddy_subprocess_free(p);
    assert_int_equal(eddy_subprocess_uninitialize(), 0);
}

static bool sigchld_is_default(void)
{
    struct sigaction sa;
    assert_int_equal(sigaction(SIGCHLD, NULL, &sa), 0);
    return (sa.sa_flags & SA_SIGINFO) == 0 && sa.sa_handler == SIG_DFL;
}

static bool no_children(void)
{
    return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

/* A pattern that does not repeat with any short period. */
static char *pattern(size_t len)
{
    char *buf = malloc(len);
    assert_non_null(buf);
    unsigned x = 12345;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (char)(x >> 16);
    }
    return buf;
}

/* --- §8.1 ----------------------------------------------------------------- */

static void c8_1_runs_argv_and_reports_its_pid(void **state)
{
    /* SPEC §8.1: eddy_subprocess_new starts argv[0] with exactly the
     * arguments argv and reports the child's pid. */
    eddy_loop *loop = *state;
    const char *argv[] = {"/bin/sh", "-c",
                          "echo $$; printf '%s|%s' \"$1\" \"$2\"", "sh",
                          "a", "b  c", NULL};
    eddy_subprocess *p = spawn(loop, argv, EDDY_INHERIT, EDDY_STREAM,
                               EDDY_INHERIT);
    char *out = read_all(loop, eddy_subprocess_stdout(p), NULL);
    char expect[64];
    snprintf(expect, sizeof expect, "%d\na|b  c", eddy_subprocess_pid(p));
    assert_string_equal(out, expect);
    free(out);
    assert_int_equal(exit_code(loop, p), 0);
    finish(p);
}

static void c8_1_path_search_and_environment(void **state)
{
    /* SPEC §8.1: a name without a slash is searched in PATH as execvp
     * does, and the child gets the caller's environment. */
    eddy_loop *loop = *state;
    assert_int_equal(setenv("EDDY_CASE_VALUE", "v42", 1), 0);
    const char *argv[] = {"sh", "-c", "printf %s \"$EDDY_CASE_VALUE\"; exit 4",
                          NULL};
    eddy_subprocess *p = spawn(loop, argv, EDDY_DEVNULL, EDDY_STREAM,
                               EDDY_INHERIT);
    char *out = read_all(loop, eddy_subprocess_stdout(p), NULL);
    assert_string_equal(out, "v42");
    free(out);
    assert_int_equal(exit_code(loop, p), 4);
    finish(p);
    unsetenv("EDDY_CASE_VALUE");
}

static void c8_1_invalid_arguments(void **state)
{
    /* SPEC §8.1: missing argv, program or out pointer, or an unknown
     * option, is -EINVAL; a closed descriptor is -EBADF; nothing starts. */
    eddy_loop *loop = *state;
    const char *argv[] = {"/bin/true", NULL};
    const char *empty[] = {NULL};
    eddy_subprocess *p = NULL;
    int fds = eddy_h_open_fds();
    assert_int_equal(eddy_subprocess_new(loop, NULL, -1, -1, -1, &p),
                     -EINVAL);
    assert_int_equal(eddy_subprocess_new(loop, empty, -1, -1, -1, &p),
                     -EINVAL);
    assert_int_equal(eddy_subprocess_new(loop, argv, -1, -1, -1, NULL),
                     -EINVAL);
    assert_int_equal(eddy_subprocess_new(loop, argv, -4, -1, -1, &p),
                     -EINVAL);
    assert_int_equal(eddy_subprocess_new(loop, argv, -1, 1000, -1, &p),
                     -EBADF);
    assert_null(p);
    assert_int_equal(eddy_h_open_fds(), fds);
    assert_true(no_children());
}

/* --- §8.2 ----------------------------------------------------------------- */

static void c8_2_stream_options_and_accessors(void **state)
{
    /* SPEC §8.2: EDDY_STREAM gives a stream for that standard fd; the
     * accessors give NULL for every other option; EDDY_DEVNULL reads as
     * an empty file. */
    eddy_loop *loop = *state;
    eddy_subprocess *p = sh(loop, "cat; echo end; echo err >&2",
                            EDDY_DEVNULL, EDDY_STREAM, EDDY_STREAM);
    assert_null(eddy_subprocess_stdin(p));
    assert_non_null(eddy_subprocess_stdout(p));
    assert_non_null(eddy_subprocess_stderr(p));
    char *out = read_all(loop, eddy_subprocess_stdout(p), NULL);
    char *err = read_all(loop, eddy_subprocess_stderr(p), NULL);
    assert_string_equal(out, "end\n");
    assert_string_equal(err, "err\n");
    free(out);
    free(err);
    assert_int_equal(exit_code(loop, p), 0);
    finish(p);
    p = sh(loop, "exit 0", EDDY_INHERIT, EDDY_DEVNULL, EDDY_INHERIT);
    assert_null(eddy_subprocess_stdin(p));
    assert_null(eddy_subprocess_stdout(p));
    assert_null(eddy_subprocess_stderr(p));
    assert_int_equal(exit_code(loop, p), 0);
    finish(p);
}

static char *drain_fd(int fd)
{
    static char buf[256];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) {
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

static void c8_2_descriptor_option_is_duplicated(void **state)
{
    /* SPEC §8.2: a descriptor option is duplicated onto the child's
     * standard fd; the same descriptor may serve two of them. */
    eddy_loop *loop = *state;
    int pp[2];
    assert_int_equal(pipe(pp), 0);
    eddy_subprocess *p = sh(loop, "echo out; echo err >&2", EDDY_DEVNULL,
                            pp[1], pp[1]);
    assert_int_equal(exit_code(loop, p), 0);
    close(pp[1]);
    assert_string_equal(drain_fd(pp[0]), "out\nerr\n");
    close(pp[0]);
    finish(p);
}

static void c8_2_swapped_standard_fds_and_inherit(void **state)
{
    /* SPEC §8.2: options naming the caller's own 1 and 2 in swapped
     * order are both honoured, and EDDY_INHERIT shares the caller's fd. */
    eddy_loop *loop = *state;
    int a[2], b[2];
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    int save1 = dup(1), save2 = dup(2);
    assert_true(save1 >= 0 && save2 >= 0);
    dup2(a[1], 1); /* the case's own stdout and stderr become pipes */
    dup2(b[1], 2);
    eddy_subprocess *p = sh(loop, "echo one; echo two >&2", EDDY_DEVNULL,
                            2, 1);
    int rc1 = exit_code(loop, p);
    eddy_subprocess *q = sh(loop, "echo three", EDDY_DEVNULL, EDDY_INHERIT,
                            EDDY_INHERIT);
    int rc2 = exit_code(loop, q);
    dup2(save1, 1);
    dup2(save2, 2);
    close(save1);
    close(save2);
    close(a[1]);
    close(b[1]);
    assert_int_equal(rc1, 0);
    assert_int_equal(rc2, 0);
    assert_string_equal(drain_fd(a[0]), "two\nthree\n");
    assert_string_equal(drain_fd(b[0]), "one\n");
    close(a[0]);
    close(b[0]);
    eddy_subprocess_free(q);
    finish(p);
}

/* --- §8.3 ----------------------------------------------------------------- */

static void c8_3_missing_program_fails_without_zombie(void **state)
{
    /* SPEC §8.3: a program that cannot be started makes
     * eddy_subprocess_new return exec's error, leave no child process and
     * no descriptor, and write nothing. */
    eddy_loop *loop = *state;
    int fds = eddy_h_open_fds();
    const char *abs[] = {"/nonexistent-dir/eddy-prog", NULL};
    const char *rel[] = {"eddy-no-such-program-4711", "x", NULL};
    eddy_subprocess *p = NULL;
    assert_int_equal(eddy_subprocess_new(loop, abs, EDDY_STREAM, EDDY_STREAM,
                                         EDDY_STREAM, &p),
                     -ENOENT);
    assert_int_equal(eddy_subprocess_new(loop, rel, -1, -1, -1, &p), -ENOENT);
    assert_null(p);
    assert_true(no_children());
    assert_int_equal(eddy_h_open_fds(), fds);
}

static void c8_3_not_executable_is_eacces(void **state)
{
    /* SPEC §8.3: a file without execute permission, or a directory,
     * fails with -EACCES and leaves no child. */
    eddy_loop *loop = *state;
    char path[] = "/tmp/eddy-case-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
    close(fd);
    assert_int_equal(chmod(path, 0644), 0);
    const char *file[] = {path, NULL};
    const char *dir[] = {"/", NULL};
    eddy_subprocess *p = NULL;
    int err1 = eddy_subprocess_new(loop, file, -1, -1, -1, &p);
    int err2 = eddy_subprocess_new(loop, dir, -1, -1, -1, &p);
    unlink(path);
    assert_int_equal(err1, -EACCES);
    assert_int_equal(err2, -EACCES);
    assert_null(p);
    assert_true(no_children());
}

/* --- §8.4 ----------------------------------------------------------------- */

static void c8_4_child_gets_only_standard_fds(void **state)
{
    /* SPEC §8.4: the child starts with only descriptors 0, 1 and 2 open,
     * even those the caller left inheritable. */
    eddy_loop *loop = *state;
    int pp[2];
    assert_int_equal(pipe(pp), 0); /* no close-on-exec */
    char script[160];
    snprintf(script, sizeof script,
             "for f in 0 1 2 %d %d; do [ -e /proc/$$/fd/$f ] && printf o "
             "|| printf c; done",
             pp[0], pp[1]);
    eddy_subprocess *p = sh(loop, script, EDDY_DEVNULL, EDDY_STREAM,
                            EDDY_DEVNULL);
    char *out = read_all(loop, eddy_subprocess_stdout(p), NULL);
    assert_string_equal(out, "ooocc");
    free(out);
    close(pp[0]);
    close(pp[1]);
    assert_int_equal(exit_code(loop, p), 0);
    finish(p);
}

static void c8_4_signal_mask_and_ignored_signals_kept(void **state)
{
    /* SPEC §8.4: the child starts with the caller's signal mask, and
     * signals the caller ignores stay ignored. */
    eddy_loop *loop = *state;
    sigset_t usr2, old;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &usr2, &old), 0);
    struct sigaction ign = {0}, prev;
    ign.sa_handler = SIG_IGN;
    assert_int_equal(sigaction(SIGUSR1, &ign, &prev), 0);
    const char *argv[] = {"/bin/grep", "-E", "^Sig(Blk|Ign)",
                          "/proc/self/status", NULL};
    eddy_subprocess *p = spawn(loop, argv, EDDY_DEVNULL, EDDY_STREAM,
                               EDDY_INHERIT);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    sigaction(SIGUSR1, &prev, NULL);
    char *out = read_all(loop, eddy_subprocess_stdout(p), NULL);
    const char *b = strstr(out, "SigBlk:"), *i = strstr(out, "SigIgn:");
    assert_true(b != NULL && i != NULL);
    unsigned long blk = strtoul(b + 7, NULL, 16);
    unsigned long ign_bits = strtoul(i + 7, NULL, 16);
    assert_true(blk & (1ul << (SIGUSR2 - 1)));
    assert_true(ign_bits & (1ul << (SIGUSR1 - 1)));
    free(out);
    assert_int_equal(exit_code(loop, p), 0);
    finish(p);
}

/* --- §8.5 ----------------------------------------------------------------- */

static void c8_5_exit_status_is_the_returncode(void **state)
{
    /* SPEC §8.5: the return code of a child that exits is its exit
     * status: 0, 1 and 3 here. */
    eddy_loop *loop = *state;
    const char *t[] = {"/bin/true", NULL}, *f[] = {"/bin/false", NULL};
    eddy_subprocess *p = spawn(loop, t, -1, -1, -1);
    eddy_subprocess *q = spawn(loop, f, -1, -1, -1);
    eddy_subprocess *r = sh(loop, "exit 3", -1, -1, -1);
    assert_int_equal(exit_code(loop, p), 0);
    assert_int_equal(exit_code(loop, q), 1);
    assert_int_equal(exit_code(loop, r), 3);
    int rc = -1;
    assert_int_equal(eddy_subprocess_returncode(r, &rc), 0);
    assert_int_equal(rc, 3);
    eddy_subprocess_free(p);
    eddy_subprocess_free(q);
    finish(r);
}

static void c8_5_killed_by_signal_is_minus_signo(void **state)
{
    /* SPEC §8.5: a child killed by a signal has return code -signo. */
    eddy_loop *loop = *state;
    eddy_subprocess *p = sh(loop, "kill -9 $$", -1, -1, -1);
    assert_int_equal(exit_code(loop, p), -9);
    eddy_subprocess_free(p);
    const char *argv[] = {"/bin/sleep", "30", NULL};
    p = spawn(loop, argv, -1, -1, -1);
    assert_int_equal(kill(eddy_subprocess_pid(p), SIGTERM), 0);
    assert_int_equal(exit_code(loop, p), -SIGTERM);
    finish(p);
}

static void c8_5_returncode_unknown_until_processed(void **state)
{
    /* SPEC §8.5: until its exit has been processed on the loop,
     * eddy_subprocess_returncode reports -EAGAIN (Tornado: None). */
    eddy_loop *loop = *state;
    const char *argv[] = {"/bin/true", NULL};
    eddy_subprocess *p = spawn(loop, argv, -1, -1, -1);
    int rc = 77;
    eddy_h_sleep(0.2); /* ended, but nothing processed it */
    assert_int_equal(eddy_subprocess_returncode(p, &rc), -EAGAIN);
    assert_int_equal(rc, 77);
    assert_int_equal(exit_code(loop, p), 0);
    assert_int_equal(eddy_subprocess_returncode(p, &rc), 0);
    assert_int_equal(rc, 0);
    finish(p);
}

/* --- §8.6 ----------------------------------------------------------------- */

static void c8_6_exit_callback_once_on_the_loop(void **state)
{
    /* SPEC §8.6: the exit callback runs once, on the subprocess's loop
     * thread, in a later iteration, with the return code. */
    eddy_loop *loop = *state;
    struct exit_rec r = {0};
    eddy_subprocess *p = sh(loop, "exit 5", -1, -1, -1);
    assert_int_equal(eddy_subprocess_set_exit_callback(p, on_exit_rec, &r),
                     0);
    assert_int_equal(r.calls, 0);
    assert_true(eddy_h_run_until(loop, exit_seen, &r, WAIT_S));
    eddy_h_sleep(0.05);
    assert_int_equal(eddy_loop_stop(loop), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.rc, 5);
    assert_ptr_equal(r.loop, loop);
    assert_true(pthread_equal(r.thread, pthread_self()));
    finish(p);
}

static void c8_6_exit_callback_set_after_the_exit(void **state)
{
    /* SPEC §8.6: an exit callback set after the child ended (and before
     * anything reaped it) is still called. */
    eddy_loop *loop = *state;
    struct exit_rec r = {0};
    eddy_subprocess *p = sh(loop, "exit 6", -1, -1, -1);
    eddy_h_sleep(0.3);
    assert_int_equal(eddy_subprocess_set_exit_callback(p, on_exit_rec, &r),
                     0);
    assert_int_equal(r.calls, 0);
    assert_true(eddy_h_run_until(loop, exit_seen, &r, WAIT_S));
    assert_int_equal(r.rc, 6);
    finish(p);
}

static void c8_6_second_exit_callback_replaces_first(void **state)
{
    /* SPEC §8.6: a second set_exit_callback replaces the first, which is
     * then never called. */
    eddy_loop *loop = *state;
    struct exit_rec r1 = {0}, r2 = {0};
    eddy_subprocess *p = sh(loop, "exit 2", -1, -1, -1);
    assert_int_equal(eddy_subprocess_set_exit_callback(p, on_exit_rec, &r1),
                     0);
    assert_int_equal(eddy_subprocess_set_exit_callback(p, on_exit_rec, &r2),
                     0);
    assert_true(eddy_h_run_until(loop, exit_seen, &r2, WAIT_S));
    assert_int_equal(r1.calls, 0);
    assert_int_equal(r2.rc, 2);
    assert_int_equal(eddy_subprocess_set_exit_callback(p, NULL, NULL),
                     -EINVAL);
    finish(p);
}

/* --- §8.7, §8.8 ----------------------------------------------------------- */

static void c8_7_wait_for_exit_gives_the_returncode(void **state)
{
    /* SPEC §8.7: wait_for_exit(raise_error = false) gives a future whose
     * value is the return code, whatever it is. */
    eddy_loop *loop = *state;
    eddy_subprocess *p = sh(loop, "exit 3", -1, -1, -1);
    int rc = 0;
    assert_int_equal(wait_exit(loop, p, false, &rc), 0);
    assert_int_equal(rc, 3);
    eddy_subprocess_free(p);
    p = sh(loop, "kill -9 $$", -1, -1, -1);
    assert_int_equal(wait_exit(loop, p, false, &rc), 0);
    assert_int_equal(rc, -9);
    finish(p);
}

static void c8_8_raise_error_fails_with_called_process_error(void **state)
{
    /* SPEC §8.8: with raise_error, a non-zero return code (a signal's
     * too) fails the future with EDDY_ECALLEDPROCESS, and
     * eddy_subprocess_returncode gives the code. */
    eddy_loop *loop = *state;
    eddy_subprocess *p = sh(loop, "exit 3", -1, -1, -1);
    int rc = 0;
    assert_int_equal(wait_exit(loop, p, true, NULL), EDDY_ECALLEDPROCESS);
    assert_int_equal(eddy_subprocess_returncode(p, &rc), 0);
    assert_int_equal(rc, 3);
    eddy_subprocess_free(p);
    p = sh(loop, "kill -9 $$", -1, -1, -1);
    assert_int_equal(wait_exit(loop, p, true, NULL), EDDY_ECALLEDPROCESS);
    assert_int_equal(eddy_subprocess_returncode(p, &rc), 0);
    assert_int_equal(rc, -9);
    finish(p);
}

static void c8_8_raise_error_with_zero_succeeds(void **state)
{
    /* SPEC §8.8: with raise_error, return code 0 resolves the future with
     * value 0. */
    eddy_loop *loop = *state;
    const char *argv[] = {"/bin/true", NULL};
    eddy_subprocess *p = spawn(loop, argv, -1, -1, -1);
    int rc = -1;
    assert_int_equal(wait_exit(loop, p, true, &rc), 0);
    assert_int_equal(rc, 0);
    finish(p);
}

/* --- §8.9 ----------------------------------------------------------------- */

static void c8_9_callback_and_futures_all_complete(void **state)
{
    /* SPEC §8.9: the exit callback and every wait_for_exit future are all
     * completed, whatever order they were requested in. */
    eddy_loop *loop = *state;
    struct exit_rec r = {0};
    eddy_subprocess *p = sh(loop, "exit 1", -1, -1, -1);
    eddy_future *f1 = NULL, *f2 = NULL;
    assert_int_equal(eddy_subprocess_wait_for_exit(p, false, &f1), 0);
    assert_int_equal(eddy_subprocess_set_exit_callback(p, on_exit_rec, &r),
                     0);
    assert_int_equal(eddy_subprocess_wait_for_exit(p, true, &f2), 0);
    assert_true(eddy_h_run_until(loop, exit_seen, &r, WAIT_S));
    assert_true(eddy_future_done(f1) && eddy_future_done(f2));
    void *v = NULL;
    assert_int_equal(eddy_future_result(f1, &v), 0);
    assert_int_equal((int)(intptr_t)v, 1);
    assert_int_equal(eddy_future_result(f2, NULL), EDDY_ECALLEDPROCESS);
    assert_int_equal(r.rc, 1);
    eddy_future_release(f1);
    eddy_future_release(f2);
    finish(p);
}

static void c8_9_requests_after_the_exit_complete(void **state)
{
    /* SPEC §8.9: after the exit was processed, wait_for_exit returns a
     * future already done, and a new exit callback is called in a later
     * iteration with the known return code. */
    eddy_loop *loop = *state;
    eddy_subprocess *p = sh(loop, "exit 7", -1, -1, -1);
    assert_int_equal(exit_code(loop, p), 7);
    eddy_future *f = NULL;
    assert_int_equal(eddy_subprocess_wait_for_exit(p, false, &f), 0);
    assert_true(eddy_future_done(f));
    void *v = NULL;
    assert_int_equal(eddy_future_result(f, &v), 0);
    assert_int_equal((int)(intptr_t)v, 7);
    eddy_future_release(f);
    struct exit_rec r = {0};
    assert_int_equal(eddy_subprocess_set_exit_callback(p, on_exit_rec, &r),
                     0);
    assert_int_equal(r.calls, 0);
    assert_true(eddy_h_run_until(loop, exit_seen, &r, WAIT_S));
    assert_int_equal(r.rc, 7);
    finish(p);
}

/* --- §8.10 ---------------------------------------------------------------- */

static void c8_10_initialize_is_idempotent_per_loop(void **state)
{
    /* SPEC §8.10: initialize installs the process-wide SIGCHLD handler;
     * again with the same loop it does nothing, with another loop it
     * fails with -EBUSY. */
    eddy_loop *loop = *state;
    eddy_loop *other = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &other), 0);
    assert_true(sigchld_is_default());
    assert_int_equal(eddy_subprocess_initialize(NULL), -EINVAL);
    assert_int_equal(eddy_subprocess_initialize(loop), 0);
    assert_false(sigchld_is_default());
    assert_int_equal(eddy_subprocess_initialize(loop), 0);
    assert_int_equal(eddy_subprocess_initialize(other), -EBUSY);
    assert_int_equal(eddy_subprocess_uninitialize(), 0);
    assert_true(sigchld_is_default());
    assert_int_equal(eddy_subprocess_initialize(other), 0);
    assert_int_equal(eddy_subprocess_uninitialize(), 0);
    assert_int_equal(eddy_loop_free(other), 0);
}

static void c8_10_exit_requests_initialize(void **state)
{
    /* SPEC §8.10: set_exit_callback and wait_for_exit initialize the
     * SIGCHLD handling with the subprocess's loop when nothing is. */
    eddy_loop *loop = *state;
    eddy_subprocess *p = sh(loop, "exit 0", -1, -1, -1);
    assert_true(sigchld_is_default());
    struct exit_rec r = {0};
    assert_int_equal(eddy_subprocess_set_exit_callback(p, on_exit_rec, &r),
                     0);
    assert_false(sigchld_is_default());
    assert_true(eddy_h_run_until(loop, exit_seen, &r, WAIT_S));
    finish(p);
    assert_true(sigchld_is_default());
    p = sh(loop, "exit 0", -1, -1, -1);
    assert_int_equal(exit_code(loop, p), 0);
    assert_false(sigchld_is_default());
    finish(p);
}

/* --- §8.11, §8.12 --------------------------------------------------------- */

static void c8_11_foreign_child_is_left_alone(void **state)
{
    /* SPEC §8.11: a child the process started otherwise is never reaped
     * nor reported: its status stays for its own waitpid. */
    eddy_loop *loop = *state;
    assert_int_equal(eddy_subprocess_initialize(loop), 0);
    pid_t foreign = fork();
    assert_true(foreign >= 0);
    if (foreign == 0) {
        for (int fd = 3; fd < 1024; fd++) {
            close(fd); /* nothing inherited stays open at exit */
        }
        _exit(7);
    }
    eddy_subprocess *p = sh(loop, "sleep 0.3; exit 2", -1, -1, -1);
    assert_int_equal(exit_code(loop, p), 2);
    int status = 0;
    assert_int_equal(waitpid(foreign, &status, 0), foreign);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 7);
    finish(p);
}

#define TOGETHER 5

static void c8_12_children_ending_together_are_all_reported(void **state)
{
    /* SPEC §8.12: children that end at the same moment (their SIGCHLDs
     * merged) are each reported with their own return code. */
    eddy_loop *loop = *state;
    int gate[2];
    assert_int_equal(pipe(gate), 0);
    eddy_subprocess *p[TOGETHER];
    struct exit_rec r[TOGETHER] = {{0}};
    for (int i = 0; i < TOGETHER; i++) {
        char script[48];
        snprintf(script, sizeof script, "read x; exit %d", 10 + i);
        p[i] = sh(loop, script, gate[0], -1, -1);
        assert_int_equal(
            eddy_subprocess_set_exit_callback(p[i], on_exit_rec, &r[i]), 0);
    }
    close(gate[0]);
    eddy_h_sleep(0.2);
    close(gate[1]); /* every child reads end of file at once */
    for (int i = 0; i < TOGETHER; i++) {
        assert_true(eddy_h_run_until(loop, exit_seen, &r[i], WAIT_S));
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].rc, 10 + i);
        eddy_subprocess_free(p[i]);
    }
    assert_int_equal(eddy_subprocess_uninitialize(), 0);
}

/* --- §8.13 ---------------------------------------------------------------- */

static void case_handler(int signo)
{
    (void)signo;
}

static void c8_13_uninitialize_restores_previous_disposition(void **state)
{
    /* SPEC §8.13: uninitialize puts back the SIGCHLD disposition that
     * initialize replaced (Tornado 6.2's behaviour). */
    eddy_loop *loop = *state;
    struct sigaction mine = {0}, seen, orig;
    mine.sa_handler = case_handler;
    mine.sa_flags = SA_RESTART;
    sigemptyset(&mine.sa_mask);
    sigaddset(&mine.sa_mask, SIGUSR1);
    assert_int_equal(sigaction(SIGCHLD, &mine, &orig), 0);
    assert_int_equal(eddy_subprocess_uninitialize(), 0); /* a no-op */
    assert_int_equal(eddy_subprocess_initialize(loop), 0);
    assert_int_equal(sigaction(SIGCHLD, NULL, &seen), 0);
    assert_true(seen.sa_handler != case_handler);
    assert_int_equal(eddy_subprocess_uninitialize(), 0);
    assert_int_equal(sigaction(SIGCHLD, NULL, &seen), 0);
    assert_true(seen.sa_handler == case_handler);
    assert_true((seen.sa_flags & SA_RESTART) != 0);
    assert_true(sigismember(&seen.sa_mask, SIGUSR1));
    assert_int_equal(eddy_subprocess_uninitialize(), 0);
    assert_true(seen.sa_handler == case_handler);
    sigaction(SIGCHLD, &orig, NULL);
}

static void c8_13_exit_while_uninitialized_is_reported_later(void **state)
{
    /* SPEC §8.13: a child that ends while nothing is initialized keeps its
     * registration and is reported after the next initialize. */
    eddy_loop *loop = *state;
    eddy_subprocess *p = sh(loop, "sleep 0.2; exit 4", -1, -1, -1);
    eddy_future *f = NULL;
    assert_int_equal(eddy_subprocess_wait_for_exit(p, false, &f), 0);
    assert_int_equal(eddy_subprocess_uninitialize(), 0);
    eddy_h_sleep(0.6);
    assert_false(eddy_h_run_until(loop, future_done, f, 0.1));
    assert_int_equal(eddy_subprocess_initialize(loop), 0);
    assert_true(eddy_h_run_until(loop, future_done, f, WAIT_S));
    void *v = NULL;
    assert_int_equal(eddy_future_result(f, &v), 0);
    assert_int_equal((int)(intptr_t)v, 4);
    eddy_future_release(f);
    finish(p);
}

/* --- §8.14 ---------------------------------------------------------------- */

static void c8_14_child_reaped_elsewhere_is_reported_lost(void **state)
{
    /* SPEC §8.14: a child reaped by someone else completes the futures
     * with -ESRCH and the exit callback with EDDY_RETURNCODE_UNKNOWN;
     * returncode reports -ESRCH. */
    eddy_loop *loop = *state;
    const char *argv[] = {"/bin/true", NULL};
    eddy_subprocess *p = spawn(loop, argv, -1, -1, -1);
    int pid = eddy_subprocess_pid(p);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    struct exit_rec r = {0};
    assert_int_equal(eddy_subprocess_set_exit_callback(p, on_exit_rec, &r),
                     0);
    assert_int_equal(wait_exit(loop, p, false, NULL), -ESRCH);
    assert_true(eddy_h_run_until(loop, exit_seen, &r, WAIT_S));
    assert_int_equal(r.rc, EDDY_RETURNCODE_UNKNOWN);
    int rc = 0;
    assert_int_equal(eddy_subprocess_returncode(p, &rc), -ESRCH);
    assert_int_equal(wait_exit(loop, p, true, NULL), -ESRCH);
    finish(p);
}

/* --- §8.15 ---------------------------------------------------------------- */

static void c8_15_read_until_close_gets_exact_bytes(void **state)
{
    /* SPEC §8.15: read_until_close delivers every byte the child wrote,
     * NULs included, in one call at end of file, with the stream closed. */
    eddy_loop *loop = *state;
    eddy_subprocess *p = sh(loop, "printf 'a\\000b\\n'; sleep 0.1; printf z",
                            EDDY_DEVNULL, EDDY_STREAM, EDDY_INHERIT);
    size_t len = 0;
    char *out = read_all(loop, eddy_subprocess_stdout(p), &len);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "a\0b\nz", 5);
    assert_true(eddy_stream_closed(eddy_subprocess_stdout(p)));
    free(out);
    assert_int_equal(exit_code(loop, p), 0);
    finish(p);
}

static void c8_15_large_output(void **state)
{
    /* SPEC §8.15: output far larger than a pipe (3 MiB) arrives whole and
     * in order. */
    eddy_loop *loop = *state;
    const size_t size = 3u << 20;
    char *data = pattern(size);
    char path[] = "/tmp/eddy-case-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, size), (ssize_t)size);
    close(fd);
    const char *argv[] = {"/bin/cat", path, NULL};
    eddy_subprocess *p = spawn(loop, argv, EDDY_DEVNULL, EDDY_STREAM,
                               EDDY_INHERIT);
    size_t len = 0;
    char *out = read_all(loop, eddy_subprocess_stdout(p), &len);
    unlink(path);
    assert_int_equal(len, size);
    assert_memory_equal(out, data, size);
    free(out);
    free(data);
    assert_int_equal(exit_code(loop, p), 0);
    finish(p);
}

static void c8_15_read_misuse(void **state)
{
    /* SPEC §8.15: a second read_until_close while one is pending is
     * -EBUSY; one on a closed stream is -EPIPE. */
    eddy_loop *loop = *state;
    eddy_subprocess *p = sh(loop, "echo x", EDDY_DEVNULL, EDDY_STREAM,
                            EDDY_INHERIT);
    eddy_stream *s = eddy_subprocess_stdout(p);
    struct read_rec r = {0}, r2 = {0};
    assert_int_equal(eddy_stream_read_until_close(s, on_read_rec, &r), 0);
    assert_int_equal(eddy_stream_read_until_close(s, on_read_rec, &r2),
                     -EBUSY);
    assert_int_equal(eddy_stream_read_until_close(s, NULL, &r2), -EINVAL);
    assert_true(eddy_h_run_until(loop, read_done, &r, WAIT_S));
    assert_string_equal(r.data, "x\n");
    free(r.data);
    assert_int_equal(eddy_stream_read_until_close(s, on_read_rec, &r2),
                     -EPIPE);
    assert_false(r2.done);
    assert_int_equal(exit_code(loop, p), 0);
    finish(p);
}

/* --- §8.16 ---------------------------------------------------------------- */

struct write_rec {
    int calls;
    int err;
    struct eddy_trace *trace;
    const char *name;
    bool close_after;
};

static int on_write_rec(eddy_loop *loop, eddy_stream *s, int err, void *arg)
{
    (void)loop;
    struct write_rec *w = arg;
    w->calls++;
    w->err = err;
    if (w->trace != NULL) {
        eddy_h_trace(w->trace, "%s", w->name);
    }
    if (w->close_after) {
        return eddy_stream_close(s);
    }
    return 0;
}

static void c8_16_write_to_cat_and_back(void **state)
{
    /* SPEC §8.16: writes reach the child in order and each one's callback
     * runs, in order, once it has been written. */
    eddy_loop *loop = *state;
    const char *argv[] = {"/bin/cat", NULL};
    eddy_subprocess *p = spawn(loop, argv, EDDY_STREAM, EDDY_STREAM,
                               EDDY_INHERIT);
    eddy_stream *in = eddy_subprocess_stdin(p);
    struct eddy_trace t;
    eddy_h_trace_reset(&t);
    struct write_rec w1 = {0, 1, &t, "w1", false};
    struct write_rec w2 = {0, 1, &t, "w2", true};
    assert_int_equal(eddy_stream_write(in, "hello ", 6, on_write_rec, &w1),
                     0);
    assert_int_equal(eddy_stream_write(in, "world", 5, NULL, NULL), 0);
    assert_int_equal(eddy_stream_write(in, "!", 1, on_write_rec, &w2), 0);
    assert_int_equal(w1.calls + w2.calls, 0);
    char *out = read_all(loop, eddy_subprocess_stdout(p), NULL);
    assert_string_equal(out, "hello world!");
    assert_string_equal(eddy_h_trace_str(&t), "w1 w2");
    assert_int_equal(w1.err, 0);
    assert_int_equal(w2.err, 0);
    free(out);
    assert_int_equal(exit_code(loop, p), 0);
    finish(p);
}

static void c8_16_large_round_trip(void **state)
{
    /* SPEC §8.16: 2 MiB written to cat come back whole while it is being
     * read, with no deadlock between the two pipes. */
    eddy_loop *loop = *state;
    const size_t size = 2u << 20;
    char *data = pattern(size);
    const char *argv[] = {"/bin/cat", NULL};
    eddy_subprocess *p = spawn(loop, argv, EDDY_STREAM, EDDY_STREAM,
                               EDDY_INHERIT);
    struct write_rec w = {0, 1, NULL, NULL, true};
    assert_int_equal(
        eddy_stream_write(eddy_subprocess_stdin(p), data, size, on_write_rec,
                          &w),
        0);
    size_t len = 0;
    char *out = read_all(loop, eddy_subprocess_stdout(p), &len);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.err, 0);
    assert_int_equal(len, size);
    assert_memory_equal(out, data, size);
    free(out);
    free(data);
    assert_int_equal(exit_code(loop, p), 0);
    finish(p);
}

/* --- §8.17 ---------------------------------------------------------------- */

static bool write_seen(void *arg)
{
    return ((struct write_rec *)arg)->calls > 0;
}

static void c8_17_broken_pipe_is_epipe_without_sigpipe(void **state)
{
    /* SPEC §8.17: writing to a child that no longer reads its stdin fails
     * the write with -EPIPE and closes the stream; SIGPIPE is neither
     * delivered nor left pending, and its disposition is unchanged. */
    eddy_loop *loop = *state;
    const char *argv[] = {"/bin/true", NULL};
    eddy_subprocess *p = spawn(loop, argv, EDDY_STREAM, EDDY_INHERIT,
                               EDDY_INHERIT);
    assert_int_equal(exit_code(loop, p), 0);
    eddy_stream *in = eddy_subprocess_stdin(p);
    char *data = pattern(100000);
    struct write_rec w = {0, 1, NULL, NULL, false};
    assert_int_equal(eddy_stream_write(in, data, 100000, on_write_rec, &w),
                     0);
    assert_true(eddy_h_run_until(loop, write_seen, &w, WAIT_S));
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.err, -EPIPE);
    assert_true(eddy_stream_closed(in));
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    struct sigaction sa;
    sigaction(SIGPIPE, NULL, &sa);
    assert_true(sa.sa_handler == SIG_DFL);
    assert_int_equal(eddy_stream_write(in, "x", 1, NULL, NULL), -EPIPE);
    free(data);
    finish(p);
}

/* --- §8.18 ---------------------------------------------------------------- */

static void c8_18_close_is_idempotent_and_drops_callbacks(void **state)
{
    /* SPEC §8.18: close drops pending reads and writes without calling
     * their callbacks; closing again does nothing; a closed stream
     * refuses reads and writes with -EPIPE. */
    eddy_loop *loop = *state;
    eddy_subprocess *p = sh(loop, "sleep 0.2; echo hi; cat >/dev/null",
                            EDDY_STREAM, EDDY_STREAM, EDDY_INHERIT);
    eddy_stream *in = eddy_subprocess_stdin(p);
    eddy_stream *out = eddy_subprocess_stdout(p);
    struct read_rec r = {0};
    struct write_rec w = {0, 1, NULL, NULL, false};
    assert_false(eddy_stream_closed(out));
    assert_int_equal(eddy_stream_read_until_close(out, on_read_rec, &r), 0);
    assert_int_equal(eddy_stream_write(in, "data", 4, on_write_rec, &w), 0);
    assert_int_equal(eddy_stream_close(out), 0);
    assert_int_equal(eddy_stream_close(in), 0);
    assert_int_equal(eddy_stream_close(out), 0);
    assert_true(eddy_stream_closed(out) && eddy_stream_closed(in));
    assert_int_equal(eddy_stream_read_until_close(out, on_read_rec, &r),
                     -EPIPE);
    assert_int_equal(eddy_stream_write(in, "x", 1, NULL, NULL), -EPIPE);
    int rc = 0;
    assert_int_equal(wait_exit(loop, p, false, &rc), 0);
    assert_false(r.done);
    assert_int_equal(w.calls, 0);
    finish(p);
}

/* --- §8.19 ---------------------------------------------------------------- */

/* Looks without reaping (WNOWAIT): gone means someone else reaped it. */
static bool reaped_by_library(void *arg)
{
    siginfo_t info;
    return waitid(P_PID, (id_t)(intptr_t)arg, &info,
                  WEXITED | WNOHANG | WNOWAIT) < 0 &&
           errno == ECHILD;
}

static void c8_19_free_leaves_child_running_then_reaps_it(void **state)
{
    /* SPEC §8.19: freeing a subprocess whose child runs does not kill it,
     * cancels its pending futures and closes its streams; the child is
     * reaped silently when it ends. */
    eddy_loop *loop = *state;
    int gate[2];
    assert_int_equal(pipe(gate), 0);
    assert_int_equal(eddy_subprocess_initialize(loop), 0);
    int alive[2];
    assert_int_equal(pipe(alive), 0);
    int fds = eddy_h_open_fds();
    /* stdout streams, stderr is the case's own pipe: what the child says
     * after the free proves it was not killed by it. */
    eddy_subprocess *p = sh(loop, "read x; echo alive >&2", gate[0],
                            EDDY_STREAM, alive[1]);
    int pid = eddy_subprocess_pid(p);
    eddy_future *f = NULL;
    assert_int_equal(eddy_subprocess_wait_for_exit(p, false, &f), 0);
    eddy_subprocess_free(p);
    assert_int_equal(eddy_h_open_fds(), fds);
    assert_int_equal(eddy_future_result(f, NULL), -ECANCELED);
    eddy_future_release(f);
    assert_int_equal(kill(pid, 0), 0);
    close(gate[1]);
    close(gate[0]);
    close(alive[1]);
    assert_true(eddy_h_run_until(loop, reaped_by_library,
                                 (void *)(intptr_t)pid, WAIT_S));
    char said[16] = "";
    assert_int_equal(read(alive[0], said, sizeof(said) - 1), 6);
    assert_string_equal(said, "alive\n");
    close(alive[0]);
    assert_int_equal(eddy_subprocess_uninitialize(), 0);
}

/* --- §8.20 ---------------------------------------------------------------- */

struct signal_thread {
    eddy_loop *loop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool ready;
    int err;
};

static int stop_signal_loop(eddy_loop *loop, void *arg)
{
    (void)arg;
    int err = eddy_subprocess_uninitialize();
    eddy_loop_stop(loop);
    return err;
}

static void *signal_thread_main(void *arg)
{
    struct signal_thread *st = arg;
    int err = eddy_loop_new(EDDY_CURRENT_NEVER, &st->loop);
    if (err == 0) {
        err = eddy_subprocess_initialize(st->loop);
    }
    pthread_mutex_lock(&st->lock);
    st->err = err;
    st->ready = true;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
    if (err == 0) {
        st->err = eddy_loop_start(st->loop);
    }
    return NULL;
}

static void c8_20_exit_reaches_the_subprocess_loop_thread(void **state)
{
    /* SPEC §8.20: with the SIGCHLD handling on another thread's loop,
     * the exit callback still runs on the subprocess's own loop thread. */
    eddy_loop *loop = *state;
    struct signal_thread st = {NULL, PTHREAD_MUTEX_INITIALIZER,
                               PTHREAD_COND_INITIALIZER, false, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, signal_thread_main, &st), 0);
    pthread_mutex_lock(&st.lock);
    while (!st.ready) {
        pthread_cond_wait(&st.cond, &st.lock);
    }
    pthread_mutex_unlock(&st.lock);
    assert_int_equal(st.err, 0);
    struct exit_rec r = {0};
    eddy_subprocess *p = sh(loop, "exit 9", -1, -1, -1);
    assert_int_equal(eddy_subprocess_set_exit_callback(p, on_exit_rec, &r),
                     0);
    assert_true(eddy_h_run_until(loop, exit_seen, &r, WAIT_S));
    assert_int_equal(r.rc, 9);
    assert_true(pthread_equal(r.thread, pthread_self()));
    assert_ptr_equal(r.loop, loop);
    eddy_subprocess_free(p);
    assert_int_equal(eddy_loop_add_callback(st.loop, stop_signal_loop, NULL),
                     0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(st.err, 0);
    assert_true(sigchld_is_default());
    assert_int_equal(eddy_loop_free(st.loop), 0);
}

/* --- §8.21 ---------------------------------------------------------------- */

static void c8_21_null_loop_means_current_loop(void **state)
{
    /* SPEC §8.21: a NULL loop is the thread's current loop; with none,
     * eddy_subprocess_new returns -ENOENT. */
    (void)state;
    const char *argv[] = {"/bin/true", NULL};
    eddy_subprocess *p = NULL;
    eddy_loop_clear_current();
    assert_int_equal(eddy_subprocess_new(NULL, argv, -1, -1, -1, &p),
                     -ENOENT);
    assert_true(no_children());
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_FORCE, &loop), 0);
    p = spawn(NULL, argv, -1, -1, -1);
    struct exit_rec r = {0};
    assert_int_equal(eddy_subprocess_set_exit_callback(p, on_exit_rec, &r),
                     0);
    assert_true(eddy_h_run_until(loop, exit_seen, &r, WAIT_S));
    assert_ptr_equal(r.loop, loop);
    finish(p);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* --- §8.22 ---------------------------------------------------------------- */

static atomic_bool churn_stop;

static void *churn(void *arg)
{
    (void)arg;
    unsigned x = 1;
    while (!atomic_load(&churn_stop)) {
        x = x * 1103515245u + 12345u;
        free(malloc(64 + (x >> 20) % 4096));
    }
    return NULL;
}

#define SPAWNS 20

static void c8_22_spawning_while_threads_allocate(void **state)
{
    /* SPEC §8.22: starting children while other threads allocate never
     * deadlocks the child before exec, and every child is reported. */
    eddy_loop *loop = *state;
    pthread_t th[2];
    atomic_store(&churn_stop, false);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, churn, NULL), 0);
    }
    for (int i = 0; i < SPAWNS; i++) {
        const char *argv[] = {"/bin/true", NULL};
        eddy_subprocess *p = spawn(loop, argv, EDDY_DEVNULL, EDDY_STREAM,
                                   EDDY_DEVNULL);
        free(read_all(loop, eddy_subprocess_stdout(p), NULL));
        assert_int_equal(exit_code(loop, p), 0);
        eddy_subprocess_free(p);
    }
    atomic_store(&churn_stop, true);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
    }
    assert_int_equal(eddy_subprocess_uninitialize(), 0);
}

static const struct eddy_case cases[] = {
    EDDY_CASE_LOOP(c8_1_runs_argv_and_reports_its_pid, "8.2 8.15"),
    EDDY_CASE_LOOP(c8_1_path_search_and_environment, ""),
    EDDY_CASE_LOOP(c8_1_invalid_arguments, "8.2"),
    EDDY_CASE_LOOP(c8_2_stream_options_and_accessors, ""),
    EDDY_CASE_LOOP(c8_2_descriptor_option_is_duplicated, ""),
    EDDY_CASE_LOOP(c8_2_swapped_standard_fds_and_inherit, ""),
    EDDY_CASE_LOOP(c8_3_missing_program_fails_without_zombie, ""),
    EDDY_CASE_LOOP(c8_3_not_executable_is_eacces, ""),
    EDDY_CASE_LOOP(c8_4_child_gets_only_standard_fds, ""),
    EDDY_CASE_LOOP(c8_4_signal_mask_and_ignored_signals_kept, ""),
    EDDY_CASE_LOOP(c8_5_exit_status_is_the_returncode, "8.7"),
    EDDY_CASE_LOOP(c8_5_killed_by_signal_is_minus_signo, "8.7"),
    EDDY_CASE_LOOP(c8_5_returncode_unknown_until_processed, ""),
    EDDY_CASE_LOOP(c8_6_exit_callback_once_on_the_loop, ""),
    EDDY_CASE_LOOP(c8_6_exit_callback_set_after_the_exit, ""),
    EDDY_CASE_LOOP(c8_6_second_exit_callback_replaces_first, ""),
    EDDY_CASE_LOOP(c8_7_wait_for_exit_gives_the_returncode, ""),
    EDDY_CASE_LOOP(c8_8_raise_error_fails_with_called_process_error, ""),
    EDDY_CASE_LOOP(c8_8_raise_error_with_zero_succeeds, ""),
    EDDY_CASE_LOOP(c8_9_callback_and_futures_all_complete, "8.6 8.8"),
    EDDY_CASE_LOOP(c8_9_requests_after_the_exit_complete, ""),
    EDDY_CASE_LOOP(c8_10_initialize_is_idempotent_per_loop, "8.13"),
    EDDY_CASE_LOOP(c8_10_exit_requests_initialize, "8.13"),
    EDDY_CASE_LOOP(c8_11_foreign_child_is_left_alone, ""),
    EDDY_CASE_LOOP(c8_12_children_ending_together_are_all_reported, "8.6"),
    EDDY_CASE_LOOP(c8_13_uninitialize_restores_previous_disposition, ""),
    EDDY_CASE_LOOP(c8_13_exit_while_uninitialized_is_reported_later, ""),
    EDDY_CASE_LOOP(c8_14_child_reaped_elsewhere_is_reported_lost, ""),
    EDDY_CASE_LOOP(c8_15_read_until_close_gets_exact_bytes, ""),
    EDDY_CASE_LOOP(c8_15_large_output, ""),
    EDDY_CASE_LOOP(c8_15_read_misuse, ""),
    EDDY_CASE_LOOP(c8_16_write_to_cat_and_back, "8.15"),
    EDDY_CASE_LOOP(c8_16_large_round_trip, "8.15"),
    EDDY_CASE_LOOP(c8_17_broken_pipe_is_epipe_without_sigpipe, "8.16"),
    EDDY_CASE_LOOP(c8_18_close_is_idempotent_and_drops_callbacks, ""),
    EDDY_CASE_LOOP(c8_19_free_leaves_child_running_then_reaps_it, ""),
    EDDY_CASE_LOOP(c8_20_exit_reaches_the_subprocess_loop_thread, "8.10"),
    EDDY_CASE(c8_21_null_loop_means_current_loop, ""),
    EDDY_CASE_LOOP(c8_22_spawning_while_threads_allocate, ""),
};
EDDY_SECTION(s08, "8", "Subprocess and CalledProcessError", cases);
