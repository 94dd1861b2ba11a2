/* conformance/subjects/subject_c.c - the C subject of the subject protocol
 * (SPEC.md, Appendix C): runs one scenario file against the library it is
 * linked with and prints the event trace.
 *
 * Key decision: every callback of the scenario is the same C function with
 * the callback's name as its argument; the name selects the `in NAME:`
 * operations to run, so no scenario needs code of its own.
 */
#define _GNU_SOURCE /* pipe2, SOCK_NONBLOCK */
#include "subject_c.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_OBJS 4096
#define MAX_COUNTS 16384

static struct eddy_scenario *scn;
static eddy_loop *loop;
static double t0;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct subj_obj objs[MAX_OBJS];
static size_t nobjs;

/* How often each callback name has run, for NAME#K blocks. */
struct count {
    const char *name;
    unsigned n;
};
static struct count counts[MAX_COUNTS];
static size_t ncounts;

/* Names made at run time (add_callbacks), kept until exit. */
struct made_name {
    struct made_name *next;
    char text[];
};
static struct made_name *made;

/* Blocks the loop may still use until it is freed (handler objects, work
 * of the executor): released after the loop. */
static void *kept[1024];
static size_t nkept;

static bool keep(void *p)
{
    pthread_mutex_lock(&mu);
    bool ok = nkept < sizeof kept / sizeof kept[0];
    if (ok) {
        kept[nkept++] = p;
    }
    pthread_mutex_unlock(&mu);
    return ok;
}

struct subj_thread {
    pthread_t id;
    const char *name;
    bool joined;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void subj_record(const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, 512, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= 512) {
        n = 511;
    }
    n += snprintf(line + n, sizeof line - (size_t)n, " @%.6f\n",
                  now_s() - t0);
    /* One write per line: lines of several threads and processes never
     * mix, since a pipe write below PIPE_BUF is atomic. */
    ssize_t w = write(STDOUT_FILENO, line, (size_t)n);
    (void)w;
}

const char *subj_errname(int err)
{
    static const struct {
        int code;
        const char *name;
    } names[] = {
        {EINVAL, "EINVAL"}, {EEXIST, "EEXIST"}, {ENOENT, "ENOENT"},
        {EBADF, "EBADF"}, {EBUSY, "EBUSY"}, {EPERM, "EPERM"},
        {ESHUTDOWN, "ESHUTDOWN"}, {EALREADY, "EALREADY"},
        {ETIMEDOUT, "ETIMEDOUT"}, {ECANCELED, "ECANCELED"},
        {ECHILD, "ECHILD"}, {ESRCH, "ESRCH"}, {EPIPE, "EPIPE"},
        {EAGAIN, "EAGAIN"}, {EADDRINUSE, "EADDRINUSE"},
        {EADDRNOTAVAIL, "EADDRNOTAVAIL"}, {EACCES, "EACCES"},
        {ENOEXEC, "ENOEXEC"}, {ERANGE, "ERANGE"}, {EIO, "EIO"},
        {ENOTSUP, "ENOTSUP"}, {EAFNOSUPPORT, "EAFNOSUPPORT"},
        {ECONNREFUSED, "ECONNREFUSED"}, {ENOMEM, "ENOMEM"},
        {EMFILE, "EMFILE"}, {ENOTSOCK, "ENOTSOCK"}, {EINTR, "EINTR"},
    };
    static _Thread_local char other[16];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (-err == names[i].code) {
            return names[i].name;
        }
    }
    snprintf(other, sizeof other, "E%d", -err);
    return other;
}

void subj_op_error(const struct eddy_scn_op *op, int err)
{
    if (!op->quiet) {
        subj_record("%s!%s", op->argv[0], subj_errname(err));
    }
}

static void on_error(eddy_loop *l, int err, void *arg)
{
    (void)l;
    (void)arg;
    subj_record("error=%s", subj_errname(err));
}

eddy_loop *subj_loop(void)
{
    if (loop == NULL) {
        int r = eddy_loop_new(EDDY_CURRENT_IF_NONE, &loop);
        if (r < 0) {
            fprintf(stderr, "subject: eddy_loop_new: %s\n", eddy_strerror(r));
            exit(2);
        }
        eddy_loop_set_error_handler(loop, on_error, NULL);
    }
    return loop;
}

struct subj_obj *subj_find(const char *name, enum subj_kind kind)
{
    struct subj_obj *found = NULL;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nobjs && found == NULL; i++) {
        if (objs[i].kind == kind && strcmp(objs[i].name, name) == 0) {
            found = &objs[i];
        }
    }
    pthread_mutex_unlock(&mu);
    return found;
}

struct subj_obj *subj_put(const char *name, enum subj_kind kind)
{
    struct subj_obj *o = subj_find(name, kind);
    if (o != NULL) {
        return o;
    }
    pthread_mutex_lock(&mu);
    if (nobjs < MAX_OBJS) {
        o = &objs[nobjs++];
        snprintf(o->name, sizeof o->name, "%s", name);
        o->kind = kind;
    }
    pthread_mutex_unlock(&mu);
    return o;
}

static unsigned bump(const char *name)
{
    unsigned k = 0;
    pthread_mutex_lock(&mu);
    size_t i = 0;
    while (i < ncounts && strcmp(counts[i].name, name) != 0) {
        i++;
    }
    if (i == ncounts && ncounts < MAX_COUNTS) {
        counts[ncounts++] = (struct count){name, 0};
    }
    if (i < ncounts) {
        k = ++counts[i].n;
    }
    pthread_mutex_unlock(&mu);
    return k;
}

void subj_run_block(const char *name, unsigned k, struct subj_ctx *ctx)
{
    for (size_t i = 0; i < scn->nops; i++) {
        const struct eddy_scn_op *op = &scn->ops[i];
        if (op->block != NULL && strcmp(op->block, name) == 0 &&
            (op->occurrence == 0 || op->occurrence == k)) {
            subj_exec(op, ctx);
        }
    }
}

int subj_run_occurrence(const char *name, const char *suffix, unsigned k,
                        struct subj_ctx *ctx)
{
    subj_record("%s%s", name, suffix != NULL ? suffix : "");
    subj_run_block(name, k, ctx);
    return ctx->fail ? -EIO : 0;
}

int subj_run_named(const char *name, const char *suffix)
{
    struct subj_ctx ctx = {0};
    return subj_run_occurrence(name, suffix, bump(name), &ctx);
}

/* ---- callbacks: each takes the callback's name as its argument ---- */

static int plain_cb(eddy_loop *l, void *arg)
{
    (void)l;
    return subj_run_named(arg, NULL);
}

static int run_sync_cb(eddy_loop *l, void *arg, eddy_future **out)
{
    (void)l;
    const char *name = arg;
    struct subj_ctx ctx = {0};
    int r = subj_run_occurrence(name, NULL, bump(name), &ctx);
    if (r == 0 && ctx.ret != NULL) {
        *out = eddy_future_retain(ctx.ret);
    }
    return r;
}

static void events_suffix(unsigned ev, char *buf)
{
    char *p = buf;
    *p++ = '=';
    if (ev & EDDY_READ) {
        *p++ = 'r';
    }
    if (ev & EDDY_WRITE) {
        *p++ = 'w';
    }
    if (ev & EDDY_ERROR) {
        *p++ = 'e';
    }
    *p = '\0';
}

static int handler_cb(eddy_loop *l, int fd, unsigned ev, void *arg)
{
    (void)l;
    (void)fd;
    char suffix[8];
    events_suffix(ev, suffix);
    return subj_run_named(arg, suffix);
}

/* A registered "object" of add_handler_object: its handler and the event
 * its close function records. */
struct handler_obj {
    const char *cb;
    const char *closed;
};

static int object_cb(eddy_loop *l, int fd, unsigned ev, void *arg)
{
    const struct handler_obj *o = arg;
    return handler_cb(l, fd, ev, (void *)o->cb);
}

static void object_close(int fd, void *arg)
{
    const struct handler_obj *o = arg;
    subj_record("%s", o->closed);
    close(fd);
}

static int future_cb(eddy_loop *l, eddy_future *f, void *arg)
{
    (void)l;
    void *v = NULL;
    int r = eddy_future_result(f, &v);
    char suffix[48];
    if (r == 0) {
        snprintf(suffix, sizeof suffix, "=%ld", (long)(intptr_t)v);
    } else {
        snprintf(suffix, sizeof suffix, "!%s", subj_errname(r));
    }
    return subj_run_named(arg, suffix);
}

struct work {
    const char *name;
    long value;
    pthread_t loop_thread;
};

static int work_fn(void *arg, void **result)
{
    const struct work *w = arg;
    bool other = !pthread_equal(pthread_self(), w->loop_thread);
    subj_record("%s=%s", w->name, other ? "thread" : "loop");
    *result = (void *)(intptr_t)w->value;
    return 0;
}

static void *thread_main(void *arg)
{
    struct subj_thread *t = arg;
    subj_run_named(t->name, NULL);
    return NULL;
}

/* ---- signals: the handler may call only async-signal-safe code ---- */

static const char *signal_cb_name[65];

static void on_signal_callback(int signo)
{
    int saved = errno;
    if (signo > 0 && signo < 65 && signal_cb_name[signo] != NULL) {
        eddy_loop_add_callback_from_signal(loop, plain_cb,
                                           (void *)signal_cb_name[signo]);
    }
    errno = saved;
}

int subj_signal_number(const char *name)
{
    static const struct {
        const char *name;
        int signo;
    } sigs[] = {{"SIGHUP", SIGHUP}, {"SIGINT", SIGINT}, {"SIGKILL", SIGKILL},
                {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2},
                {"SIGTERM", SIGTERM}};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        if (strcmp(sigs[i].name, name) == 0) {
            return sigs[i].signo;
        }
    }
    return 0;
}

/* ---- operations of the loop, its handlers, futures and periodics ---- */

static const char *make_name(const char *prefix, long i)
{
    size_t n = strlen(prefix) + 24;
    struct made_name *m = malloc(sizeof *m + n);
    if (m == NULL) {
        return prefix;
    }
    snprintf(m->text, n, "%s%ld", prefix, i);
    pthread_mutex_lock(&mu);
    m->next = made;
    made = m;
    pthread_mutex_unlock(&mu);
    return m->text;
}

static int fd_of(const char *ref)
{
    const struct subj_obj *o = subj_find(ref, SUBJ_FD);
    return o != NULL ? o->u.fd : -1;
}

static unsigned events_of(const char *s)
{
    unsigned ev = EDDY_NONE;
    ev |= strchr(s, 'r') != NULL ? EDDY_READ : 0;
    ev |= strchr(s, 'w') != NULL ? EDDY_WRITE : 0;
    ev |= strchr(s, 'e') != NULL ? EDDY_ERROR : 0;
    return strcmp(s, "none") == 0 ? EDDY_NONE : ev;
}

static void exec_timer(const struct eddy_scn_op *op)
{
    double v = strtod(op->argv[1], NULL);
    const char *cb = op->argv[2];
    eddy_loop *l = subj_loop();
    eddy_timeout h = 0;
    int r;
    switch (op->code) {
    case EDDY_OP_CALL_LATER:
        r = eddy_loop_call_later(l, v, plain_cb, (void *)cb, &h);
        break;
    case EDDY_OP_CALL_AT:
        r = eddy_loop_call_at(l, eddy_loop_time(l) + v, plain_cb, (void *)cb,
                              &h);
        break;
    case EDDY_OP_ADD_TIMEOUT:
        r = eddy_loop_add_timeout(l, eddy_loop_time(l) + v, plain_cb,
                                  (void *)cb, &h);
        break;
    default:
        r = eddy_loop_add_timeout_delta(l, v, plain_cb, (void *)cb, &h);
        break;
    }
    struct subj_obj *o = r == 0 ? subj_put(cb, SUBJ_TIMEOUT) : NULL;
    if (o != NULL) {
        o->u.timeout = h;
    }
    if (r < 0) {
        subj_op_error(op, r);
    }
}

static int exec_callbacks(const struct eddy_scn_op *op)
{
    eddy_loop *l = subj_loop();
    switch (op->code) {
    case EDDY_OP_ADD_CALLBACK:
        return eddy_loop_add_callback(l, plain_cb, (void *)op->argv[1]);
    case EDDY_OP_SPAWN_CALLBACK:
        return eddy_loop_spawn_callback(l, plain_cb, (void *)op->argv[1]);
    default:
        for (long i = 1; i <= atol(op->argv[2]); i++) {
            int r = eddy_loop_add_callback(l, plain_cb,
                                           (void *)make_name(op->argv[1], i));
            if (r < 0) {
                return r;
            }
        }
        return 0;
    }
}

static int exec_run_sync(const struct eddy_scn_op *op)
{
    double t = strcmp(op->argv[1], "none") == 0 ? EDDY_NO_TIMEOUT
                                                 : strtod(op->argv[1], NULL);
    void *result = NULL;
    int r = eddy_loop_run_sync(subj_loop(), t, run_sync_cb,
                               (void *)op->argv[2], &result);
    if (r == 0 && result == NULL) {
        subj_record("run_sync=none");
    } else if (r == 0) {
        subj_record("run_sync=%ld", (long)(intptr_t)result);
    }
    return r;
}

static int exec_pipe(const struct eddy_scn_op *op)
{
    int fds[2];
    int flags = O_NONBLOCK | (op->argc > 2 ? 0 : O_CLOEXEC);
    int r = op->code == EDDY_OP_PIPE
                ? pipe2(fds, flags)
                : socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                                          SOCK_CLOEXEC, 0, fds);
    if (r < 0) {
        return -errno;
    }
    char name[EDDY_SCN_MAX_NAME + 3];
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s.%c", op->argv[1], i == 0 ? 'r' : 'w');
        struct subj_obj *o = subj_put(name, SUBJ_FD);
        if (o != NULL) {
            o->u.fd = fds[i];
        }
    }
    return 0;
}

static int exec_fd(const struct eddy_scn_op *op)
{
    int fd = fd_of(op->argv[1]);
    char buf[4096];
    switch (op->code) {
    case EDDY_OP_WRITE: {
        const char *data = op->argc > 2 ? op->argv[2] : "x";
        return write(fd, data, strlen(data)) < 0 ? -errno : 0;
    }
    case EDDY_OP_DRAIN:
        while (read(fd, buf, sizeof buf) > 0) {
        }
        return 0;
    case EDDY_OP_CLOSE_FD:
        return close(fd) < 0 ? -errno : 0;
    default:
        subj_record("%s=%s", op->argv[1],
                    fcntl(fd, F_GETFD) < 0 ? "closed" : "open");
        return 0;
    }
}

static int exec_handler(const struct eddy_scn_op *op)
{
    eddy_loop *l = subj_loop();
    int fd = fd_of(op->argv[1]);
    switch (op->code) {
    case EDDY_OP_ADD_HANDLER:
        return eddy_loop_add_handler(l, fd, events_of(op->argv[3]),
                                     handler_cb, (void *)op->argv[2]);
    case EDDY_OP_ADD_HANDLER_OBJECT: {
        struct handler_obj *o = malloc(sizeof *o);
        if (o == NULL || !keep(o)) {
            free(o);
            return -ENOMEM;
        }
        *o = (struct handler_obj){op->argv[2], op->argv[4]};
        return eddy_loop_add_handler_object(l, fd, events_of(op->argv[3]),
                                            object_cb, o, object_close);
    }
    case EDDY_OP_UPDATE_HANDLER:
        return eddy_loop_update_handler(l, fd, events_of(op->argv[2]));
    default:
        return eddy_loop_remove_handler(l, fd);
    }
}

static int exec_thread(const struct eddy_scn_op *op)
{
    if (op->code == EDDY_OP_JOIN) {
        struct subj_obj *o = subj_find(op->argv[1], SUBJ_THREAD);
        if (o == NULL) {
            return -ENOENT;
        }
        struct subj_thread *t = o->u.thread;
        if (!t->joined) {
            pthread_join(t->id, NULL);
            t->joined = true;
        }
        return 0;
    }
    struct subj_thread *t = calloc(1, sizeof *t);
    struct subj_obj *o = subj_put(op->argv[1], SUBJ_THREAD);
    if (t == NULL || o == NULL) {
        free(t);
        return -ENOMEM;
    }
    t->name = op->argv[1];
    subj_loop();
    int r = pthread_create(&t->id, NULL, thread_main, t);
    if (r != 0) {
        free(t);
        return -r;
    }
    o->u.thread = t;
    return 0;
}

static int exec_signal(const struct eddy_scn_op *op)
{
    int signo = subj_signal_number(op->argv[1]);
    if (op->code == EDDY_OP_RAISE) {
        return kill(getpid(), signo) < 0 ? -errno : 0;
    }
    subj_loop();
    signal_cb_name[signo] = op->argv[2];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal_callback;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(signo, &sa, NULL) < 0 ? -errno : 0;
}

static eddy_future *future_of(const char *name)
{
    const struct subj_obj *o = subj_find(name, SUBJ_FUTURE);
    return o != NULL ? o->u.future : NULL;
}

static int exec_future(const struct eddy_scn_op *op, struct subj_ctx *ctx)
{
    eddy_future *f = future_of(op->argv[1]);
    if (op->code == EDDY_OP_FUTURE) {
        struct subj_obj *o = subj_put(op->argv[1], SUBJ_FUTURE);
        int r = o == NULL ? -ENOMEM : eddy_future_new(&f);
        if (r == 0) {
            o->u.future = f;
        }
        return r;
    }
    if (f == NULL) {
        return -ENOENT;
    }
    switch (op->code) {
    case EDDY_OP_SET_RESULT:
        return eddy_future_set_result(f, (void *)(intptr_t)atol(op->argv[2]));
    case EDDY_OP_CANCEL:
        return eddy_future_cancel(f);
    case EDDY_OP_ADD_FUTURE:
        return eddy_loop_add_future(subj_loop(), f, future_cb,
                                    (void *)op->argv[2]);
    default:
        ctx->ret = f;
        return 0;
    }
}

static int exec_executor(const struct eddy_scn_op *op)
{
    struct work *w = malloc(sizeof *w);
    struct subj_obj *o = subj_put(op->argv[1], SUBJ_FUTURE);
    if (w == NULL || o == NULL || !keep(w)) {
        free(w);
        return -ENOMEM;
    }
    *w = (struct work){op->argv[2], atol(op->argv[3]), pthread_self()};
    eddy_future *f = NULL;
    int r = eddy_loop_run_in_executor(subj_loop(), NULL, work_fn, w, &f);
    if (r < 0) {
        return r;
    }
    o->u.future = f;
    return 0;
}

static int exec_periodic(const struct eddy_scn_op *op)
{
    struct subj_obj *o = subj_find(op->argv[1], SUBJ_PERIODIC);
    if (op->code == EDDY_OP_PERIODIC) {
        double jitter = op->argc > 3 ? strtod(op->argv[3], NULL) : 0.0;
        eddy_periodic *p = NULL;
        subj_loop();
        int r = eddy_periodic_new(NULL, strtod(op->argv[2], NULL), jitter,
                                  plain_cb, (void *)op->argv[1], &p);
        o = r == 0 ? subj_put(op->argv[1], SUBJ_PERIODIC) : NULL;
        if (o != NULL) {
            o->u.periodic = p;
        }
        return r;
    }
    if (o == NULL) {
        return -ENOENT;
    }
    switch (op->code) {
    case EDDY_OP_PERIODIC_START:
        return eddy_periodic_start(o->u.periodic);
    case EDDY_OP_PERIODIC_STOP:
        return eddy_periodic_stop(o->u.periodic);
    default:
        subj_record("%s.running=%s", op->argv[1],
                    eddy_periodic_is_running(o->u.periodic) ? "yes" : "no");
        return 0;
    }
}

static int exec_misc(const struct eddy_scn_op *op, struct subj_ctx *ctx)
{
    struct subj_obj *o;
    switch (op->code) {
    case EDDY_OP_REMOVE_TIMEOUT:
        o = subj_find(op->argv[1], SUBJ_TIMEOUT);
        return eddy_loop_remove_timeout(subj_loop(), o ? o->u.timeout : 0);
    case EDDY_OP_STOP:
        return eddy_loop_stop(subj_loop());
    case EDDY_OP_START:
        return eddy_loop_start(subj_loop());
    case EDDY_OP_CLOSE:
        return eddy_loop_close(subj_loop(), op->argc > 1);
    case EDDY_OP_MARK:
        subj_record("%s", op->argv[1]);
        return 0;
    case EDDY_OP_SLEEP: {
        double s = strtod(op->argv[1], NULL);
        struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
        return 0;
    }
    default:
        ctx->fail = true;
        return 0;
    }
}

void subj_exec(const struct eddy_scn_op *op, struct subj_ctx *ctx)
{
    int r = 0;
    switch (op->code) {
    case EDDY_OP_ADD_CALLBACK: case EDDY_OP_SPAWN_CALLBACK:
    case EDDY_OP_ADD_CALLBACKS:
        r = exec_callbacks(op);
        break;
    case EDDY_OP_CALL_LATER: case EDDY_OP_CALL_AT: case EDDY_OP_ADD_TIMEOUT:
    case EDDY_OP_ADD_TIMEOUT_DELTA:
        exec_timer(op);
        return;
    case EDDY_OP_RUN_SYNC:
        r = exec_run_sync(op);
        break;
    case EDDY_OP_PIPE: case EDDY_OP_SOCKETPAIR:
        r = exec_pipe(op);
        break;
    case EDDY_OP_WRITE: case EDDY_OP_DRAIN: case EDDY_OP_CLOSE_FD:
    case EDDY_OP_FD_STATE:
        r = exec_fd(op);
        break;
    case EDDY_OP_ADD_HANDLER: case EDDY_OP_ADD_HANDLER_OBJECT:
    case EDDY_OP_UPDATE_HANDLER: case EDDY_OP_REMOVE_HANDLER:
        r = exec_handler(op);
        break;
    case EDDY_OP_THREAD: case EDDY_OP_JOIN:
        r = exec_thread(op);
        break;
    case EDDY_OP_SIGNAL_CALLBACK: case EDDY_OP_RAISE:
        r = exec_signal(op);
        break;
    case EDDY_OP_FUTURE: case EDDY_OP_SET_RESULT: case EDDY_OP_CANCEL:
    case EDDY_OP_ADD_FUTURE: case EDDY_OP_RETURN:
        r = exec_future(op, ctx);
        break;
    case EDDY_OP_RUN_IN_EXECUTOR:
        r = exec_executor(op);
        break;
    case EDDY_OP_PERIODIC: case EDDY_OP_PERIODIC_START:
    case EDDY_OP_PERIODIC_STOP: case EDDY_OP_PERIODIC_IS_RUNNING:
        r = exec_periodic(op);
        break;
    case EDDY_OP_REMOVE_TIMEOUT: case EDDY_OP_STOP: case EDDY_OP_START:
    case EDDY_OP_CLOSE: case EDDY_OP_MARK: case EDDY_OP_SLEEP:
    case EDDY_OP_FAIL:
        r = exec_misc(op, ctx);
        break;
    default:
        if (!subj_exec_os(op, ctx)) {
            /* Not a trace event: the driver reads it as a capability the
             * subject lacks (Appendix C.1). */
            char line[EDDY_SCN_MAX_NAME + 16];
            int n = snprintf(line, sizeof line, "unsupported: %s\n",
                             op->argv[0]);
            ssize_t w = write(STDOUT_FILENO, line, (size_t)n);
            (void)w;
        }
        return;
    }
    if (r < 0) {
        subj_op_error(op, r);
    }
}

/* ---- main ---- */

static void cleanup(void)
{
    for (size_t i = 0; i < nobjs; i++) {
        if (objs[i].kind == SUBJ_THREAD) {
            struct subj_thread *t = objs[i].u.thread;
            if (!t->joined) {
                return; /* a thread may still use the loop: leave it all */
            }
            free(t);
        }
    }
    for (size_t i = 0; i < nobjs; i++) {
        if (objs[i].kind == SUBJ_PERIODIC) {
            eddy_periodic_free(objs[i].u.periodic);
        } else if (objs[i].kind == SUBJ_PROC) {
            eddy_subprocess_free(objs[i].u.proc);
        } else if (objs[i].kind == SUBJ_FUTURE) {
            eddy_future_release(objs[i].u.future);
        }
    }
    if (loop != NULL && eddy_loop_free(loop) == 0) {
        loop = NULL;
        while (nkept > 0) {
            free(kept[--nkept]);
        }
    }
    while (made != NULL) {
        struct made_name *m = made;
        made = m->next;
        free(m);
    }
}

static int print_protocol(void)
{
    printf("protocol: %d\n", EDDY_SCN_VERSION);
    printf("subject: c (the library linked in)\n");
    printf("capabilities: threads signals fork subprocess sockets ext\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--protocol") == 0) {
        return print_protocol();
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s --protocol | %s SCENARIO\n", argv[0],
                argv[0]);
        return 2;
    }
    char err[300] = "";
    int r = eddy_scn_load(argv[1], &scn, err, sizeof err);
    if (r < 0) {
        fprintf(stderr, "subject: %s: %s\n", argv[1],
                err[0] != '\0' ? err : strerror(-r));
        return 2;
    }
    t0 = now_s();
    struct subj_ctx ctx = {0};
    for (size_t i = 0; i < scn->nops; i++) {
        if (scn->ops[i].block == NULL) {
            subj_exec(&scn->ops[i], &ctx);
        }
    }
    cleanup();
    subj_cleanup_os();
    eddy_scn_free(scn);
    return 0;
}
