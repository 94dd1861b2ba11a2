/* impl/process_os.c - SPEC §7.8-§7.13: the operating-system side of the
 * fork_processes supervisor. Key decision: signals reach the supervisor only
 * through a self-pipe (the handler remembers a stop signal in a flag and
 * writes one byte), and every OS call goes through a table of function
 * pointers so that the state machine in process.c can run on a simulated OS.
 */
#include "process_os.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --- the real OS ---------------------------------------------------------- */

static pid_t real_fork(int task_id, void *arg)
{
    (void)task_id;
    (void)arg;
    pid_t pid = fork();
    return pid < 0 ? -errno : pid;
}

static pid_t real_reap(pid_t pid, int *status, void *arg)
{
    (void)arg;
    pid_t r = waitpid(pid, status, WNOHANG);
    return r < 0 ? -errno : r;
}

static int real_kill(pid_t pid, int sig, void *arg)
{
    (void)arg;
    return kill(pid, sig) == 0 ? 0 : -errno;
}

static int real_wait_fd(int fd, int timeout_ms, void *arg)
{
    (void)arg;
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    int r = poll(&p, 1, timeout_ms);
    if (r >= 0) {
        return r > 0 ? 1 : 0;
    }
    int err = -errno;
    if (err != -EINTR) {
        /* poll on our own pipe fails only when the kernel is short of
         * memory; sleep a little so that the caller's next sweep does not
         * spin. */
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return err;
}

static int64_t real_now_ns(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 0};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int real_sigaction(int sig, const struct sigaction *act,
                          struct sigaction *old, void *arg)
{
    (void)arg;
    return sigaction(sig, act, old) == 0 ? 0 : -errno;
}

static void real_exit(int status, void *arg)
{
    (void)arg;
    /* SPEC §7.8: Tornado's sys.exit(0) runs the program's exit handlers,
     * so this is exit(3), not _exit(2). */
    exit(status);
}

static const struct eddy__process_os real_os = {
    .fork = real_fork,
    .reap = real_reap,
    .kill = real_kill,
    .wait_fd = real_wait_fd,
    .now_ns = real_now_ns,
    .sigaction = real_sigaction,
    .exit = real_exit,
    .arg = NULL,
};

const struct eddy__process_os *eddy__process_os_real(void)
{
    return &real_os;
}

/* --- the self-pipe ------------------------------------------------------ */

/* Process-wide by nature: a signal handler has no argument. Written only
 * with the handlers disarmed or the signals blocked in the writer. */
static volatile sig_atomic_t pipe_wfd = -1;
static volatile sig_atomic_t stop_signal = 0;

void eddy__process_on_signal(int signo)
{
    int saved = errno;
    if (signo != SIGCHLD && stop_signal == 0) {
        stop_signal = signo;
    }
    int fd = pipe_wfd;
    if (fd >= 0) {
        unsigned char byte = (unsigned char)signo;
        /* A full pipe already holds a wake-up; the flag keeps the stop
         * signal, so a lost byte loses nothing. */
        ssize_t ignored = write(fd, &byte, 1);
        (void)ignored;
    }
    errno = saved;
}

void eddy__sigpipe_arm(int wfd)
{
    pipe_wfd = wfd;
    stop_signal = 0;
}

int eddy__sigpipe_stop_signal(void)
{
    return stop_signal;
}

void eddy__sigpipe_drain(int rfd)
{
    unsigned char buf[256];
    for (;;) {
        ssize_t n = read(rfd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < (ssize_t)sizeof(buf)) {
            return; /* empty (EAGAIN), or a short read emptied it */
        }
    }
}
