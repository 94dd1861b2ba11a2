/* impl/subprocess.c - SPEC §8.1-§8.9, §8.19-§8.21: the subprocess object.
 * An exit reaches the object as a callback posted to its own loop by
 * sigchld.c; there the futures of wait_for_exit are resolved first and the
 * exit callback runs last, so that the callback may free the object. A
 * reference count covers the caller, the registry and posted callbacks.
 */
#include "eddy/subprocess.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "internal.h"
#include "subprocess_int.h"

void eddy__subprocess_retain(eddy_subprocess *p)
{
    atomic_fetch_add(&p->refs, 1);
}

void eddy__subprocess_release(void *arg)
{
    eddy_subprocess *p = arg;
    if (atomic_fetch_sub(&p->refs, 1) == 1) {
        eddy__free(p->waiters);
        eddy__free(p);
    }
}

/* --- delivering an exit on the subprocess's loop -------------------------- */

static void resolve(const eddy_subprocess *p, const struct eddy__waiter *w)
{
    if (p->returncode == EDDY_RETURNCODE_UNKNOWN) {
        (void)eddy_future_set_error(w->future, -ESRCH);
    } else if (w->raise_error && p->returncode != 0) {
        (void)eddy_future_set_error(w->future, EDDY_ECALLEDPROCESS);
    } else {
        (void)eddy_future_set_result(w->future,
                                     (void *)(intptr_t)p->returncode);
    }
}

static int run_exit_cb(eddy_subprocess *p)
{
    eddy_subprocess_exit_cb cb = p->exit_cb;
    p->exit_cb = NULL;
    return cb != NULL ? cb(p->loop, p->returncode, p->exit_arg) : 0;
}

/* SPEC §8.6, §8.7, §8.9: runs on the subprocess's loop; the futures are
 * resolved first, so the exit callback may free the subprocess. */
int eddy__subprocess_deliver(eddy_loop *loop, void *arg)
{
    (void)loop;
    eddy_subprocess *p = arg;
    int rc = 0;
    if (!p->freed) {
        /* Posting the callback ordered the reaper's write before this. */
        p->returncode = p->status;
        p->finished = true;
        for (size_t i = 0; i < p->nwaiters; i++) {
            resolve(p, &p->waiters[i]);
            eddy_future_release(p->waiters[i].future);
        }
        p->nwaiters = 0;
        rc = run_exit_cb(p);
    }
    eddy__subprocess_release(p);
    return rc;
}

static int late_exit(eddy_loop *loop, void *arg)
{
    (void)loop;
    eddy_subprocess *p = arg;
    int rc = p->freed ? 0 : run_exit_cb(p);
    eddy__subprocess_release(p);
    return rc;
}

static int check(const eddy_subprocess *p)
{
    return p == NULL ? -EINVAL : eddy__loop_check_thread(p->loop);
}

int eddy_subprocess_set_exit_callback(eddy_subprocess *proc,
                                      eddy_subprocess_exit_cb cb, void *arg)
{
    int err = cb == NULL ? -EINVAL : check(proc);
    if (err == 0) {
        err = eddy__sigchld_ensure(proc->loop);
    }
    if (err == 0 && proc->finished) {
        /* SPEC §8.9: the exit is known: report it in a later iteration. */
        eddy__subprocess_retain(proc);
        err = eddy__loop_add_callback_owned(proc->loop, late_exit, proc,
                                            eddy__subprocess_release);
        if (err == -ENOMEM) {
            eddy__subprocess_release(proc);
        }
    }
    if (err != 0) {
        return err;
    }
    proc->exit_cb = cb;
    proc->exit_arg = arg;
    if (!proc->finished) {
        /* Tornado: a child that ended before this call is still seen. */
        eddy__sigchld_reap_one(proc);
    }
    return 0;
}

int eddy_subprocess_wait_for_exit(eddy_subprocess *proc, bool raise_error,
                                  eddy_future **out)
{
    int err = out == NULL ? -EINVAL : check(proc);
    if (err == 0) {
        err = eddy__sigchld_ensure(proc->loop);
    }
    if (err == 0 && proc->nwaiters == proc->waitcap) {
        size_t cap = proc->waitcap != 0 ? proc->waitcap * 2 : 2;
        struct eddy__waiter *w =
            eddy__realloc(proc->waiters, cap * sizeof *w);
        err = w == NULL ? -ENOMEM : 0;
        if (w != NULL) {
            proc->waiters = w;
            proc->waitcap = cap;
        }
    }
    eddy_future *f = NULL;
    if (err == 0) {
        err = eddy_future_new(&f);
    }
    if (err != 0) {
        return err;
    }
    struct eddy__waiter w = {f, raise_error};
    if (proc->finished) {
        resolve(proc, &w); /* SPEC §8.9: a known exit resolves at once */
    } else {
        proc->waiters[proc->nwaiters++] = (struct eddy__waiter){
            eddy_future_retain(f), raise_error};
        eddy__sigchld_reap_one(proc);
    }
    *out = f;
    return 0;
}

int eddy_subprocess_returncode(const eddy_subprocess *proc, int *returncode)
{
    if (proc == NULL || returncode == NULL) {
        return -EINVAL;
    }
    if (!proc->finished) {
        return -EAGAIN;
    }
    if (proc->returncode == EDDY_RETURNCODE_UNKNOWN) {
        return -ESRCH;
    }
    *returncode = proc->returncode;
    return 0;
}

int eddy_subprocess_pid(const eddy_subprocess *proc)
{
    return proc == NULL ? -EINVAL : proc->pid;
}

eddy_stream *eddy_subprocess_stdin(const eddy_subprocess *proc)
{
    return proc == NULL ? NULL : proc->streams[0];
}

eddy_stream *eddy_subprocess_stdout(const eddy_subprocess *proc)
{
    return proc == NULL ? NULL : proc->streams[1];
}

eddy_stream *eddy_subprocess_stderr(const eddy_subprocess *proc)
{
    return proc == NULL ? NULL : proc->streams[2];
}

/* --- creating and freeing ------------------------------------------------- */

static int resolve_loop(eddy_loop **loop)
{
    if (*loop == NULL) {
        int err = eddy_loop_current(false, loop);
        if (err != 0) {
            return err; /* SPEC §8.21: -ENOENT */
        }
    }
    return eddy__loop_check_thread(*loop);
}

/* The object and the streams exist before the fork, so that nothing can
 * fail once a child is running. */
static int prepare(eddy_loop *loop, struct eddy__stdio *io,
                   eddy_subprocess **out)
{
    eddy_subprocess *p = eddy__calloc(1, sizeof *p);
    if (p == NULL) {
        return -ENOMEM;
    }
    p->loop = loop;
    atomic_init(&p->refs, 1);
    int err = eddy__stdio_open(io);
    if (err != 0) {
        goto fail_stdio;
    }
    for (int i = 0; i < 3; i++) {
        if (io->parent[i] >= 0 && err == 0) {
            err = eddy__stream_new(loop, io->parent[i], &p->streams[i]);
        } else if (io->parent[i] >= 0) {
            close(io->parent[i]);
        }
        io->parent[i] = -1; /* a stream owns it now, even on failure */
    }
    if (err != 0) {
        goto fail_streams;
    }
    *out = p;
    return 0;
fail_streams:
    eddy__stdio_close_child(io);
    for (int i = 0; i < 3; i++) {
        eddy__stream_free(p->streams[i]);
    }
fail_stdio:
    eddy__free(p);
    return err;
}

int eddy_subprocess_new(eddy_loop *loop, const char *const argv[],
                        int stdin_opt, int stdout_opt, int stderr_opt,
                        eddy_subprocess **out)
{
    if (argv == NULL || argv[0] == NULL || out == NULL) {
        return -EINVAL;
    }
    int err = resolve_loop(&loop);
    if (err != 0) {
        return err;
    }
    struct eddy__stdio io = {.opt = {stdin_opt, stdout_opt, stderr_opt}};
    eddy_subprocess *p = NULL;
    err = prepare(loop, &io, &p);
    if (err != 0) {
        return err;
    }
    int pid = eddy__spawn(argv, io.child);
    eddy__stdio_close_child(&io);
    if (pid < 0) {
        for (int i = 0; i < 3; i++) {
            eddy__stream_free(p->streams[i]);
        }
        eddy__free(p);
        return pid;
    }
    p->pid = pid;
    eddy__sigchld_register(p);
    *out = p;
    return 0;
}

void eddy_subprocess_free(eddy_subprocess *proc)
{
    if (proc == NULL) {
        return;
    }
    proc->freed = true;
    proc->exit_cb = NULL;
    for (size_t i = 0; i < proc->nwaiters; i++) {
        (void)eddy_future_cancel(proc->waiters[i].future);
        eddy_future_release(proc->waiters[i].future);
    }
    proc->nwaiters = 0;
    for (int i = 0; i < 3; i++) {
        eddy__stream_free(proc->streams[i]);
        proc->streams[i] = NULL;
    }
    /* SPEC §8.19: not killed; reaped silently, now or when it ends. */
    eddy__sigchld_detach(proc);
    eddy__sigchld_reap_one(proc);
    eddy__subprocess_release(proc);
}
