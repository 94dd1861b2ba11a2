/* impl/spawn.c - SPEC §8.1-§8.4 and §8.22: starting a child. Everything
 * the child needs (the PATH candidates, the fds) is prepared before fork,
 * so between fork and exec the child makes only async-signal-safe calls;
 * an exec failure travels back as an errno over a close-on-exec pipe that
 * exec closes on success, and the failed child is reaped before returning.
 */
#define _GNU_SOURCE
#include "subprocess_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_SIGNAL 65 /* reset handlers of signals 1 .. MAX_SIGNAL - 1 */

static eddy__fork_fn fork_seam;

void eddy__subprocess_set_fork(eddy__fork_fn fn)
{
    fork_seam = fn;
}

/* --- the standard streams ------------------------------------------------- */

static int open_one(struct eddy__stdio *io, int i)
{
    int opt = io->opt[i];
    if (opt >= 0) {
        io->child[i] = opt;
    } else if (opt == EDDY_DEVNULL) {
        int fd;
        do {
            fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0) {
            return -errno;
        }
        io->child[i] = fd;
        io->made[i] = true;
    } else if (opt == EDDY_STREAM) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) {
            return -errno;
        }
        /* fds[0] reads: the child reads stdin, the parent reads the rest. */
        io->child[i] = i == 0 ? fds[0] : fds[1];
        io->parent[i] = i == 0 ? fds[1] : fds[0];
        io->made[i] = true;
        /* Only the parent's end: the child's stays blocking (SPEC §8.2). */
        int flags = fcntl(io->parent[i], F_GETFL);
        (void)fcntl(io->parent[i], F_SETFL, flags | O_NONBLOCK);
    }
    return 0;
}

void eddy__stdio_close_child(struct eddy__stdio *io)
{
    for (int i = 0; i < 3; i++) {
        if (io->made[i]) {
            close(io->child[i]);
            io->made[i] = false;
        }
        io->child[i] = -1;
    }
}

int eddy__stdio_open(struct eddy__stdio *io)
{
    for (int i = 0; i < 3; i++) {
        io->child[i] = io->parent[i] = -1;
        io->made[i] = false;
    }
    for (int i = 0; i < 3; i++) {
        if (io->opt[i] < EDDY_DEVNULL) {
            return -EINVAL;
        }
        if (io->opt[i] >= 0 && fcntl(io->opt[i], F_GETFD) < 0) {
            return -EBADF;
        }
    }
    for (int i = 0; i < 3; i++) {
        int err = open_one(io, i);
        if (err != 0) {
            eddy__stdio_close_child(io);
            for (int j = 0; j < 3; j++) {
                if (io->parent[j] >= 0) {
                    close(io->parent[j]);
                    io->parent[j] = -1;
                }
            }
            return err;
        }
    }
    return 0;
}

/* --- the exec plan -------------------------------------------------------- */

struct plan {
    char *const *argv;
    char **paths;   /* the candidates execvp would try, NULL-terminated */
    int fds[3];     /* to install as 0, 1, 2; -1: inherit */
    int err_fd;     /* the exec-error pipe's write end */
    int max_fd;     /* for closing fds without close_range */
    sigset_t mask;  /* the caller's signal mask, restored before exec */
};

/* execvp's search: a name with a slash is used as is, others are tried in
 * each PATH directory (an empty entry is the current directory). */
static char **exec_paths(const char *file)
{
    const char *path = strchr(file, '/') != NULL ? "" : getenv("PATH");
    if (path == NULL) {
        path = "/bin:/usr/bin"; /* the POSIX default, as execvp uses */
    }
    size_t n = 1, flen = strlen(file), plen = strlen(path);
    for (const char *c = path; *c != '\0'; c++) {
        n += *c == ':';
    }
    size_t size = (n + 1) * sizeof(char *) + plen + n * (flen + 3);
    char **paths = eddy__malloc(size);
    if (paths == NULL) {
        return NULL;
    }
    char *out = (char *)(paths + n + 1);
    const char *dir = path;
    for (size_t i = 0; i < n; i++) {
        size_t dlen = strcspn(dir, ":");
        paths[i] = out;
        if (strchr(file, '/') == NULL) {
            memcpy(out, dlen > 0 ? dir : ".", dlen > 0 ? dlen : 1);
            out += dlen > 0 ? dlen : 1;
            *out++ = '/';
        }
        memcpy(out, file, flen + 1);
        out += flen + 1;
        dir += dlen + (dir[dlen] == ':');
    }
    paths[n] = NULL;
    return paths;
}

/* --- the child: async-signal-safe calls only ------------------------------ */

static void reset_handlers(void)
{
    for (int sig = 1; sig < MAX_SIGNAL; sig++) {
        struct sigaction sa;
        if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa)) {
            continue;
        }
        if ((sa.sa_flags & SA_SIGINFO) == 0 &&
            (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)) {
            continue; /* ignored signals stay ignored across exec */
        }
        sa.sa_handler = SIG_DFL;
        sa.sa_flags = 0;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, NULL);
    }
}

static int close_range_or_loop(int first, int last)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)first, (unsigned)last, 0) == 0) {
        return 0;
    }
#endif
    for (int fd = first; fd <= last; fd++) {
        close(fd);
    }
    return 0;
}

/* SPEC §8.4: the child keeps only 0, 1, 2 (and the error pipe until
 * exec closes it). */
static void close_others(const struct plan *pl, int keep)
{
    close_range_or_loop(3, keep - 1);
    close_range_or_loop(keep + 1, pl->max_fd);
}

/* Move every source below 3 out of the way first, so that installing one
 * standard fd never clobbers the source of another (2>&1 style swaps). */
static int install_fds(const struct plan *pl)
{
    int src[3];
    for (int i = 0; i < 3; i++) {
        src[i] = pl->fds[i];
        if (src[i] >= 0 && src[i] < 3 && src[i] != i) {
            src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
            if (src[i] < 0) {
                return errno;
            }
        }
    }
    for (int i = 0; i < 3; i++) {
        int r = 0;
        if (src[i] == i) {
            r = fcntl(i, F_SETFD, 0); /* keep it across exec */
        } else if (src[i] >= 0) {
            while ((r = dup2(src[i], i)) < 0 && errno == EINTR) {
            }
        }
        if (r < 0) {
            return errno;
        }
    }
    return 0;
}

_Noreturn static void report(const struct plan *pl, int fd, int err)
{
    while (write(fd, &err, sizeof err) < 0 && errno == EINTR) {
    }
    /* Leave nothing open for a checker to report, whichever step failed
     * (an early one runs before close_others). */
    close_range_or_loop(0, pl->max_fd);
    _exit(127);
}

_Noreturn static void child_main(const struct plan *pl)
{
    reset_handlers();
    int err_fd = pl->err_fd;
    if (err_fd < 3) {
        int moved = fcntl(err_fd, F_DUPFD_CLOEXEC, 3);
        if (moved < 0) {
            report(pl, err_fd, errno);
        }
        err_fd = moved;
    }
    int err = install_fds(pl);
    if (err != 0) {
        report(pl, err_fd, err);
    }
    close_others(pl, err_fd);
    sigprocmask(SIG_SETMASK, &pl->mask, NULL);
    err = 0;
    for (char **p = pl->paths; *p != NULL; p++) {
        execve(*p, pl->argv, environ);
        if (err == 0 && errno != ENOENT && errno != ENOTDIR) {
            err = errno; /* the first telling error, as Popen reports */
        }
    }
    report(pl, err_fd, err != 0 ? err : errno);
}

/* --- the parent ----------------------------------------------------------- */

static int max_fd(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > 1048576) {
        return 1048575;
    }
    return (int)rl.rlim_cur - 1;
}

/* Block until the child has exec'd (0) or reported why it could not. */
static int exec_result(int fd, int pid)
{
    int child_err = 0;
    ssize_t n;
    do {
        n = read(fd, &child_err, sizeof child_err);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof child_err) {
        return 0;
    }
    /* SPEC §8.3: no zombie is left behind. */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return -child_err;
}

int eddy__spawn(const char *const argv[], const int child_fds[3])
{
    struct plan pl = {.argv = (char *const *)argv, .max_fd = max_fd()};
    memcpy(pl.fds, child_fds, sizeof pl.fds);
    pl.paths = exec_paths(argv[0]);
    if (pl.paths == NULL) {
        return -ENOMEM;
    }
    int errpipe[2];
    int err = 0;
    int pid = -1;
    if (pipe2(errpipe, O_CLOEXEC) != 0) {
        err = -errno;
        goto fail_pipe;
    }
    sigset_t all;
    sigfillset(&all);
    /* No handler of the parent may run in the child before exec. */
    pthread_sigmask(SIG_SETMASK, &all, &pl.mask);
    pid = fork_seam != NULL ? fork_seam() : (int)fork();
    int fork_err = errno;
    if (pid == 0) {
        pl.err_fd = errpipe[1];
        child_main(&pl);
    }
    pthread_sigmask(SIG_SETMASK, &pl.mask, NULL);
    close(errpipe[1]);
    err = pid < 0 ? -fork_err : exec_result(errpipe[0], pid);
    close(errpipe[0]);
fail_pipe:
    eddy__free(pl.paths);
    return err != 0 ? err : pid;
}
