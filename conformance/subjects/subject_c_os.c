/* conformance/subjects/subject_c_os.c - the operations of the C subject
 * that reach the operating system: fork_processes, Subprocess and its
 * streams, listening sockets, signals and exits (SPEC §7-§9 through
 * Appendix C).
 *
 * Key decision: fork_processes runs in a process of its own (the
 * supervisor) so that the subject survives it and can report how the
 * supervisor ended; each task counts its runs with files created
 * exclusively in a scratch directory, the only state that outlives a child.
 */
#define _GNU_SOURCE /* SO_REUSEPORT */
#include "subject_c.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char scratch[64];
static pid_t top_pid;
static const char *atexit_names[16];
static int natexit;
static char signal_line[65][EDDY_SCN_MAX_NAME + 2];

struct wait_arg {
    const char *name;
    eddy_subprocess *proc;
};
static struct wait_arg wait_args[256];
static size_t nwait_args;

int subj_status_code(int status)
{
    return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static pid_t wait_pid(pid_t pid, int *status)
{
    pid_t r;
    do {
        r = waitpid(pid, status, 0);
    } while (r < 0 && errno == EINTR);
    return r;
}

/* Bytes as the trace shows them (Appendix C.5): safe characters as they
 * are, others as %XX; more than 64 bytes only as their count. */
static void show_bytes(const unsigned char *data, size_t len, char *out,
                       size_t cap)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,:/+-";
    if (len > 64) {
        snprintf(out, cap, "%zubytes", len);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < cap; i++) {
        if (data[i] != 0 && strchr(safe, data[i]) != NULL) {
            out[n++] = (char)data[i];
        } else {
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", data[i]);
        }
    }
    out[n] = '\0';
}

/* ---- Subprocess ---- */

static eddy_subprocess *proc_of(const char *name)
{
    const struct subj_obj *o = subj_find(name, SUBJ_PROC);
    return o != NULL ? o->u.proc : NULL;
}

/* "p.stdout" -> the stream, or NULL. */
static eddy_stream *stream_of(const char *ref)
{
    char name[EDDY_SCN_MAX_NAME + 1];
    snprintf(name, sizeof name, "%s", ref);
    char *dot = strchr(name, '.');
    if (dot == NULL) {
        return NULL;
    }
    *dot = '\0';
    eddy_subprocess *p = proc_of(name);
    if (p == NULL) {
        return NULL;
    }
    if (strcmp(dot + 1, "stdin") == 0) {
        return eddy_subprocess_stdin(p);
    }
    if (strcmp(dot + 1, "stdout") == 0) {
        return eddy_subprocess_stdout(p);
    }
    return strcmp(dot + 1, "stderr") == 0 ? eddy_subprocess_stderr(p) : NULL;
}

static int std_option(const char *v)
{
    return strcmp(v, "stream") == 0    ? EDDY_STREAM
           : strcmp(v, "devnull") == 0 ? EDDY_DEVNULL
                                       : EDDY_INHERIT;
}

static int exec_subprocess(const struct eddy_scn_op *op)
{
    int opt[3] = {EDDY_INHERIT, EDDY_INHERIT, EDDY_INHERIT};
    int i = 2;
    for (; strcmp(op->argv[i], "--") != 0; i++) {
        const char *v = strchr(op->argv[i], '=') + 1;
        int which = op->argv[i][3] == 'i' ? 0 : op->argv[i][3] == 'o' ? 1 : 2;
        opt[which] = std_option(v);
    }
    const char **argv = calloc((size_t)(op->argc - i), sizeof *argv);
    if (argv == NULL) {
        return -ENOMEM;
    }
    for (int j = i + 1; j < op->argc; j++) {
        argv[j - i - 1] = op->argv[j];
    }
    eddy_subprocess *p = NULL;
    int r = eddy_subprocess_new(subj_loop(), argv, opt[0], opt[1], opt[2],
                                &p);
    free(argv);
    struct subj_obj *o = r == 0 ? subj_put(op->argv[1], SUBJ_PROC) : NULL;
    if (o != NULL) {
        o->u.proc = p;
    }
    return r;
}

static int exit_cb(eddy_loop *l, int rc, void *arg)
{
    (void)l;
    char suffix[32];
    if (rc == EDDY_RETURNCODE_UNKNOWN) {
        snprintf(suffix, sizeof suffix, "=unknown");
    } else {
        snprintf(suffix, sizeof suffix, "=%d", rc);
    }
    return subj_run_named(arg, suffix);
}

static int wait_cb(eddy_loop *l, eddy_future *f, void *arg)
{
    (void)l;
    const struct wait_arg *w = arg;
    void *v = NULL;
    int r = eddy_future_result(f, &v);
    int rc = 0;
    char suffix[64];
    if (r == 0) {
        snprintf(suffix, sizeof suffix, "=%d", (int)(intptr_t)v);
    } else if (r == EDDY_ECALLEDPROCESS &&
               eddy_subprocess_returncode(w->proc, &rc) == 0) {
        snprintf(suffix, sizeof suffix, "!CalledProcessError:%d", rc);
    } else {
        snprintf(suffix, sizeof suffix, "!%s", subj_errname(r));
    }
    return subj_run_named(w->name, suffix);
}

static int exec_wait(const struct eddy_scn_op *op, eddy_subprocess *p)
{
    if (op->code == EDDY_OP_SET_EXIT_CALLBACK) {
        return eddy_subprocess_set_exit_callback(p, exit_cb,
                                                 (void *)op->argv[2]);
    }
    if (nwait_args == sizeof wait_args / sizeof wait_args[0]) {
        return -ENOMEM;
    }
    eddy_future *f = NULL;
    int r = eddy_subprocess_wait_for_exit(p, op->argc < 4, &f);
    if (r < 0) {
        return r;
    }
    struct wait_arg *w = &wait_args[nwait_args++];
    *w = (struct wait_arg){op->argv[2], p};
    r = eddy_loop_add_future(subj_loop(), f, wait_cb, w);
    eddy_future_release(f);
    return r;
}

static int exec_proc(const struct eddy_scn_op *op)
{
    eddy_subprocess *p = proc_of(op->argv[1]);
    int rc = 0;
    int st = 0;
    if (p == NULL) {
        return -ENOENT;
    }
    switch (op->code) {
    case EDDY_OP_RETURNCODE: {
        int r = eddy_subprocess_returncode(p, &rc);
        if (r == 0) {
            subj_record("%s.returncode=%d", op->argv[1], rc);
        } else if (r == -EAGAIN) {
            subj_record("%s.returncode=none", op->argv[1]);
        } else {
            subj_record("%s.returncode!%s", op->argv[1], subj_errname(r));
        }
        return 0;
    }
    case EDDY_OP_KILL:
        return kill(eddy_subprocess_pid(p),
                    subj_signal_number(op->argv[2])) < 0 ? -errno : 0;
    case EDDY_OP_REAP:
        if (wait_pid(eddy_subprocess_pid(p), &st) < 0) {
            subj_record("%s.reap!%s", op->argv[1], subj_errname(-errno));
        } else {
            subj_record("%s.reap=%d", op->argv[1], subj_status_code(st));
        }
        return 0;
    default:
        return exec_wait(op, p);
    }
}

static int read_cb(eddy_loop *l, eddy_stream *s, int err, const void *data,
                   size_t len, void *arg)
{
    (void)l;
    (void)s;
    char shown[300];
    char suffix[310];
    if (err < 0) {
        snprintf(suffix, sizeof suffix, "!%s", subj_errname(err));
    } else {
        show_bytes(data, len, shown, sizeof shown);
        snprintf(suffix, sizeof suffix, "=%s", shown);
    }
    return subj_run_named(arg, suffix);
}

static int write_cb(eddy_loop *l, eddy_stream *s, int err, void *arg)
{
    (void)l;
    (void)s;
    char suffix[32] = "";
    if (err < 0) {
        snprintf(suffix, sizeof suffix, "!%s", subj_errname(err));
    }
    return subj_run_named(arg, suffix);
}

static int exec_stream(const struct eddy_scn_op *op)
{
    eddy_stream *s = stream_of(op->argv[1]);
    switch (op->code) {
    case EDDY_OP_READ_UNTIL_CLOSE:
        return s == NULL ? -ENOENT
                         : eddy_stream_read_until_close(s, read_cb,
                                                        (void *)op->argv[2]);
    case EDDY_OP_STREAM_WRITE:
        return s == NULL ? -ENOENT
                         : eddy_stream_write(s, op->argv[2],
                                             strlen(op->argv[2]), write_cb,
                                             (void *)op->argv[3]);
    case EDDY_OP_STREAM_CLOSE:
        return s == NULL ? -ENOENT : eddy_stream_close(s);
    default:
        subj_record("%s=%s", op->argv[1],
                    eddy_stream_closed(s) ? "closed" : "open");
        return 0;
    }
}

/* ---- processes ---- */

static void run_atexit(void)
{
    for (int i = natexit - 1; i >= 0; i--) {
        subj_record("%s", atexit_names[i]);
    }
}

static void on_signal_record(int signo)
{
    int saved = errno;
    ssize_t w = write(STDOUT_FILENO, signal_line[signo],
                      strlen(signal_line[signo]));
    (void)w;
    errno = saved;
}

static int exec_on_signal(const struct eddy_scn_op *op)
{
    int signo = subj_signal_number(op->argv[1]);
    snprintf(signal_line[signo], sizeof signal_line[signo], "%s\n",
             op->argv[2]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal_record;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(signo, &sa, NULL) < 0 ? -errno : 0;
}

/* Which run of task id this is: 1 for the first, 2 for its restart... */
static unsigned run_number(int id)
{
    char path[128];
    for (unsigned k = 1; k < 100000; k++) {
        snprintf(path, sizeof path, "%s/task%d.%u", scratch, id, k);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            return k;
        }
        if (errno != EEXIST) {
            return 0;
        }
    }
    return 0;
}

static void be_supervisor(int n, int max_restarts)
{
    subj_run_named("supervisor", NULL);
    int id = eddy_fork_processes(n, max_restarts);
    if (id >= 0) {
        char name[32];
        snprintf(name, sizeof name, "task%d", id);
        struct subj_ctx ctx = {0};
        subj_run_occurrence(name, NULL, run_number(id), &ctx);
        _exit(0);
    }
    subj_record("fork_processes!%s", subj_errname(id));
    struct subj_ctx ctx = {0};
    subj_run_block("fork_processes_failed", 1, &ctx);
    _exit(0);
}

static int exec_fork_processes(const struct eddy_scn_op *op)
{
    if (scratch[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch, sizeof scratch, "%s/eddy-subject-XXXXXX",
                 tmp != NULL && strlen(tmp) < 40 ? tmp : "/tmp");
        if (mkdtemp(scratch) == NULL) {
            scratch[0] = '\0';
            return -errno;
        }
        top_pid = getpid();
    }
    pid_t pid = fork();
    if (pid < 0) {
        return -errno;
    }
    if (pid == 0) {
        be_supervisor(atoi(op->argv[1]), atoi(op->argv[2]));
    }
    int st = 0;
    if (wait_pid(pid, &st) < 0) {
        return -errno;
    }
    subj_record("supervisor=%d", subj_status_code(st));
    return 0;
}

static int exec_other(const struct eddy_scn_op *op)
{
    struct subj_obj *o = subj_find(op->argv[1], SUBJ_PID);
    int st = 0;
    if (op->code == EDDY_OP_WAITPID_OTHER) {
        if (o == NULL) {
            return -ENOENT;
        }
        if (wait_pid(o->u.pid, &st) < 0) {
            subj_record("%s!%s", op->argv[1], subj_errname(-errno));
        } else {
            subj_record("%s=%d", op->argv[1], subj_status_code(st));
        }
        return 0;
    }
    o = subj_put(op->argv[1], SUBJ_PID);
    pid_t pid = o == NULL ? -1 : fork();
    if (pid < 0) {
        return o == NULL ? -ENOMEM : -errno;
    }
    if (pid == 0) {
        sleep_s(strtod(op->argv[2], NULL));
        _exit(atoi(op->argv[3]));
    }
    o->u.pid = pid;
    return 0;
}

static int exec_process(const struct eddy_scn_op *op)
{
    switch (op->code) {
    case EDDY_OP_EXIT:
        _exit(atoi(op->argv[1]));
    case EDDY_OP_KILL_SELF:
        return kill(getpid(), subj_signal_number(op->argv[1])) < 0 ? -errno
                                                                   : 0;
    case EDDY_OP_KILL_PARENT:
        return kill(getppid(), subj_signal_number(op->argv[1])) < 0 ? -errno
                                                                    : 0;
    case EDDY_OP_TASK_ID:
        if (eddy_task_id() < 0) {
            subj_record("task_id=none");
        } else {
            subj_record("task_id=%d", eddy_task_id());
        }
        return 0;
    case EDDY_OP_CPU_COUNT:
        subj_record("cpu_count=%d", eddy_cpu_count());
        return 0;
    case EDDY_OP_ATEXIT:
        if (natexit == 0 && atexit(run_atexit) != 0) {
            return -ENOMEM;
        }
        if (natexit == 16) {
            return -ENOMEM;
        }
        atexit_names[natexit++] = op->argv[1];
        return 0;
    case EDDY_OP_ON_SIGNAL:
        return exec_on_signal(op);
    case EDDY_OP_FORK_PROCESSES:
        return exec_fork_processes(op);
    default:
        return exec_other(op);
    }
}

/* ---- sockets ---- */

static int exec_bind(const struct eddy_scn_op *op)
{
    int family = strcmp(op->argv[4], "inet") == 0    ? AF_INET
                 : strcmp(op->argv[4], "inet6") == 0 ? AF_INET6
                                                     : AF_UNSPEC;
    int backlog = 0;
    bool reuse_port = false;
    for (int i = 5; i < op->argc; i++) {
        if (strncmp(op->argv[i], "backlog=", 8) == 0) {
            backlog = atoi(op->argv[i] + 8);
        } else {
            reuse_port = true;
        }
    }
    const char *addr = strcmp(op->argv[3], "-") == 0 ? NULL : op->argv[3];
    int port = atoi(op->argv[2]);
    if (strchr(op->argv[2], '.') != NULL) {
        /* The port of a socket bound before (SPEC §9.6 scenarios). */
        const struct subj_obj *o = subj_find(op->argv[2], SUBJ_FD);
        struct sockaddr_in6 sa;
        socklen_t len = sizeof sa;
        if (o == NULL ||
            getsockname(o->u.fd, (struct sockaddr *)&sa, &len) < 0) {
            return -ENOENT;
        }
        port = ntohs(sa.sin6_port); /* same offset in sockaddr_in */
    }
    int fds[16];
    size_t n = 0;
    int r = eddy_bind_sockets(port, addr, family, backlog, 0,
                              reuse_port, fds, 16, &n);
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; i < n; i++) {
        char name[EDDY_SCN_MAX_NAME + 8];
        snprintf(name, sizeof name, "%s.%zu", op->argv[1], i);
        struct subj_obj *o = subj_put(name, SUBJ_FD);
        if (o != NULL) {
            o->u.fd = fds[i];
        }
    }
    subj_record("%s=%zu", op->argv[1], n);
    return 0;
}

static bool sockopt(int fd, int level, int opt)
{
    int v = 0;
    socklen_t len = sizeof v;
    return getsockopt(fd, level, opt, &v, &len) == 0 && v != 0;
}

/* "inet+127.0.0.1+nonblock+cloexec+reuseaddr+listening"; *port too. */
static void describe_socket(int fd, char *out, size_t cap, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char addr[INET6_ADDRSTRLEN] = "?";
    memset(&ss, 0, sizeof ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    bool v6 = ss.ss_family == AF_INET6;
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;
    inet_ntop(ss.ss_family, v6 ? (const void *)&a6->sin6_addr
                               : (const void *)&a4->sin_addr,
              addr, sizeof addr);
    *port = ntohs(v6 ? a6->sin6_port : a4->sin_port);
    snprintf(out, cap, "%s+%s+%s+%s%s%s%s%s", v6 ? "inet6" : "inet", addr,
             (fcntl(fd, F_GETFL) & O_NONBLOCK) ? "nonblock" : "block",
             (fcntl(fd, F_GETFD) & FD_CLOEXEC) ? "cloexec" : "inherit",
             sockopt(fd, SOL_SOCKET, SO_REUSEADDR) ? "+reuseaddr" : "",
             sockopt(fd, SOL_SOCKET, SO_REUSEPORT) ? "+reuseport" : "",
             v6 && sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY) ? "+v6only" : "",
             sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN) ? "+listening" : "");
}

static int exec_inspect(const struct eddy_scn_op *op)
{
    int first = -1;
    bool same = true;
    for (int i = 0; i < 16; i++) {
        char name[EDDY_SCN_MAX_NAME + 8];
        snprintf(name, sizeof name, "%s.%d", op->argv[1], i);
        const struct subj_obj *o = subj_find(name, SUBJ_FD);
        if (o == NULL) {
            break;
        }
        char desc[200];
        int port = 0;
        describe_socket(o->u.fd, desc, sizeof desc, &port);
        subj_record("%s=%s", name, desc);
        same = same && (first < 0 || port == first);
        first = first < 0 ? port : first;
    }
    subj_record("%s.port=%s", op->argv[1], same ? "same" : "differ");
    return 0;
}

static int exec_connect(const struct eddy_scn_op *op)
{
    const struct subj_obj *s = subj_find(op->argv[2], SUBJ_FD);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (s == NULL || getsockname(s->u.fd, (struct sockaddr *)&ss, &len) < 0) {
        return -ENOENT;
    }
    /* A wildcard address is reached through the loopback address. */
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        if (a4->sin_addr.s_addr == htonl(INADDR_ANY)) {
            a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        }
    } else {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr)) {
            a6->sin6_addr = in6addr_loopback;
        }
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        subj_record("%s!%s", op->argv[1], subj_errname(-errno));
        close(fd);
        return 0;
    }
    struct subj_obj *o = subj_put(op->argv[1], SUBJ_FD);
    if (o != NULL) {
        o->u.fd = fd;
    }
    subj_record("%s=ok", op->argv[1]);
    return 0;
}

static int accept_cb(eddy_loop *l, int fd, const struct sockaddr *addr,
                     socklen_t addrlen, void *arg)
{
    (void)l;
    (void)addr;
    (void)addrlen;
    char suffix[40];
    snprintf(suffix, sizeof suffix, "=%s+%s",
             (fcntl(fd, F_GETFL) & O_NONBLOCK) ? "nonblock" : "block",
             (fcntl(fd, F_GETFD) & FD_CLOEXEC) ? "cloexec" : "inherit");
    close(fd);
    return subj_run_named(arg, suffix);
}

static int exec_socket(const struct eddy_scn_op *op)
{
    switch (op->code) {
    case EDDY_OP_BIND_SOCKETS:
        return exec_bind(op);
    case EDDY_OP_INSPECT_SOCKETS:
        return exec_inspect(op);
    case EDDY_OP_CONNECT:
        return exec_connect(op);
    case EDDY_OP_ADD_ACCEPT_HANDLER: {
        struct subj_obj *fd = subj_find(op->argv[1], SUBJ_FD);
        eddy_accept_handler *h = NULL;
        int r = fd == NULL ? -ENOENT
                           : eddy_add_accept_handler(subj_loop(), fd->u.fd,
                                                     accept_cb,
                                                     (void *)op->argv[2], &h);
        struct subj_obj *o = r == 0 ? subj_put(op->argv[1], SUBJ_ACCEPT)
                                    : NULL;
        if (o != NULL) {
            o->u.accept = h;
        }
        return r;
    }
    case EDDY_OP_REMOVE_ACCEPT_HANDLER: {
        struct subj_obj *o = subj_find(op->argv[1], SUBJ_ACCEPT);
        return o == NULL ? -ENOENT : eddy_remove_accept_handler(o->u.accept);
    }
    default:
        for (int i = 0; i < 16; i++) {
            char name[EDDY_SCN_MAX_NAME + 8];
            snprintf(name, sizeof name, "%s.%d", op->argv[1], i);
            const struct subj_obj *o = subj_find(name, SUBJ_FD);
            if (o != NULL) {
                close(o->u.fd);
            }
        }
        return 0;
    }
}

bool subj_exec_os(const struct eddy_scn_op *op, struct subj_ctx *ctx)
{
    (void)ctx;
    int r;
    switch (op->code) {
    case EDDY_OP_SUBPROCESS:
        r = exec_subprocess(op);
        break;
    case EDDY_OP_SET_EXIT_CALLBACK: case EDDY_OP_WAIT_FOR_EXIT:
    case EDDY_OP_RETURNCODE: case EDDY_OP_KILL: case EDDY_OP_REAP:
        r = exec_proc(op);
        break;
    case EDDY_OP_READ_UNTIL_CLOSE: case EDDY_OP_STREAM_WRITE:
    case EDDY_OP_STREAM_CLOSE: case EDDY_OP_STREAM_CLOSED:
        r = exec_stream(op);
        break;
    case EDDY_OP_FORK_OTHER: case EDDY_OP_WAITPID_OTHER:
    case EDDY_OP_FORK_PROCESSES: case EDDY_OP_EXIT: case EDDY_OP_KILL_SELF:
    case EDDY_OP_KILL_PARENT: case EDDY_OP_TASK_ID: case EDDY_OP_CPU_COUNT:
    case EDDY_OP_ATEXIT: case EDDY_OP_ON_SIGNAL:
        r = exec_process(op);
        break;
    case EDDY_OP_BIND_SOCKETS: case EDDY_OP_INSPECT_SOCKETS:
    case EDDY_OP_CONNECT: case EDDY_OP_ADD_ACCEPT_HANDLER:
    case EDDY_OP_REMOVE_ACCEPT_HANDLER: case EDDY_OP_CLOSE_SOCKETS:
        r = exec_socket(op);
        break;
    default:
        return false;
    }
    if (r < 0) {
        subj_op_error(op, r);
    }
    return true;
}

void subj_cleanup_os(void)
{
    if (scratch[0] == '\0' || getpid() != top_pid) {
        return;
    }
    DIR *d = opendir(scratch);
    if (d != NULL) {
        const struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] != '.') {
                char path[400];
                snprintf(path, sizeof path, "%s/%s", scratch, e->d_name);
                unlink(path);
            }
        }
        closedir(d);
    }
    rmdir(scratch);
}
