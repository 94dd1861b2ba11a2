/* impl/sigchld.c - SPEC §8.10-§8.14: the process-wide SIGCHLD handling.
 * The handler only writes a byte to a self-pipe watched by the initialized
 * loop; that loop's thread then waits, with WNOHANG, for each pid in a
 * registry of the children eddy_subprocess_new started (never
 * waitpid(-1)), and posts each exit to the loop of its subprocess.
 */
#define _GNU_SOURCE
#include "eddy/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "subprocess_int.h"

/* The process-wide state (SPEC §8.10). */
static struct {
    pthread_mutex_t lock;      /* guards everything below */
    eddy_subprocess *head;     /* children not reaped yet */
    size_t count;
    eddy_loop *loop;           /* the initialized loop, or NULL */
    int rfd;                   /* self-pipe, read end */
    struct sigaction previous; /* the disposition initialize replaced */
} reg = {.lock = PTHREAD_MUTEX_INITIALIZER, .rfd = -1};

/* What the signal handler may touch: lock-free atomics only. */
static atomic_int sig_wfd = -1;
static atomic_int sig_inflight;

/* --- the handler ---------------------------------------------------------- */

static void on_sigchld(int signo)
{
    (void)signo;
    int saved = errno;
    atomic_fetch_add(&sig_inflight, 1);
    int fd = atomic_load(&sig_wfd);
    if (fd >= 0) {
        ssize_t n;
        do { /* a full pipe already holds a wake-up: EAGAIN is fine */
            n = write(fd, "", 1);
        } while (n < 0 && errno == EINTR);
    }
    atomic_fetch_sub(&sig_inflight, 1);
    errno = saved;
}

/* Make the initialized loop scan the registry soon. */
static void poke(void)
{
    on_sigchld(SIGCHLD);
}

/* --- the registry --------------------------------------------------------- */

static void link_child(eddy_subprocess *p)
{
    p->prev = NULL;
    p->next = reg.head;
    if (reg.head != NULL) {
        reg.head->prev = p;
    }
    reg.head = p;
    p->registered = true;
    reg.count++;
}

static void unlink_child(eddy_subprocess *p)
{
    if (p->prev != NULL) {
        p->prev->next = p->next;
    } else {
        reg.head = p->next;
    }
    if (p->next != NULL) {
        p->next->prev = p->prev;
    }
    p->prev = p->next = NULL;
    p->registered = false;
    reg.count--;
}

static int decode(int status)
{
    return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

/* With reg.lock held: true when p ended or its status was lost; either
 * way p->status is final. */
static bool try_reap(eddy_subprocess *p)
{
    if (p->reaped) {
        return true; /* reaped before, but its post failed */
    }
    int status = 0;
    pid_t r;
    do {
        r = waitpid(p->pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0 || (r < 0 && errno != ECHILD)) {
        return false;
    }
    /* SPEC §8.14: ECHILD means someone else reaped it. */
    p->status = r < 0 ? EDDY_RETURNCODE_UNKNOWN : decode(status);
    p->reaped = true;
    return true;
}

/* Hand a reaped child (and the registry's reference) to its own loop. A
 * post that fails for lack of memory puts it back, to retry at the next
 * scan; a closed loop disposes of the reference itself. */
static void post_exit(eddy_subprocess *p)
{
    pthread_mutex_lock(&reg.lock);
    bool detached = p->detached;
    pthread_mutex_unlock(&reg.lock);
    if (detached) {
        eddy__subprocess_release(p);
        return;
    }
    int err = eddy__loop_add_callback_owned(p->loop, eddy__subprocess_deliver,
                                            p, eddy__subprocess_release);
    if (err == -ENOMEM) {
        pthread_mutex_lock(&reg.lock);
        link_child(p);
        pthread_mutex_unlock(&reg.lock);
    }
}

/* SPEC §8.11, §8.12: one pass over our own pids reports every child that
 * ended, however many SIGCHLDs were merged into one. */
static void reap_all(void)
{
    eddy_subprocess *done = NULL;
    pthread_mutex_lock(&reg.lock);
    eddy_subprocess *p = reg.head;
    while (p != NULL) {
        eddy_subprocess *next = p->next;
        if (try_reap(p)) {
            unlink_child(p); /* the registry's reference goes with it */
            p->next = done; /* reuse the link for the local list */
            done = p;
        }
        p = next;
    }
    pthread_mutex_unlock(&reg.lock);
    while (done != NULL) {
        eddy_subprocess *next = done->next;
        done->next = NULL;
        post_exit(done);
        done = next;
    }
}

static int on_pipe(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    (void)arg;
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    reap_all();
    return 0;
}

void eddy__sigchld_register(eddy_subprocess *p)
{
    eddy__subprocess_retain(p);
    pthread_mutex_lock(&reg.lock);
    link_child(p);
    bool listening = reg.loop != NULL;
    pthread_mutex_unlock(&reg.lock);
    if (listening) {
        poke(); /* it may have ended before it was registered */
    }
}

void eddy__sigchld_reap_one(eddy_subprocess *p)
{
    pthread_mutex_lock(&reg.lock);
    bool ended = p->registered && try_reap(p);
    if (ended) {
        unlink_child(p);
    }
    pthread_mutex_unlock(&reg.lock);
    if (ended) {
        post_exit(p);
    }
}

void eddy__sigchld_detach(eddy_subprocess *p)
{
    pthread_mutex_lock(&reg.lock);
    p->detached = true;
    pthread_mutex_unlock(&reg.lock);
}

size_t eddy__subprocess_registered(void)
{
    pthread_mutex_lock(&reg.lock);
    size_t n = reg.count;
    pthread_mutex_unlock(&reg.lock);
    return n;
}

/* --- initialize / uninitialize -------------------------------------------- */

static int install(eddy_loop *loop)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        return -errno;
    }
    /* No close function: a loop closed with all_fds leaves it to us. */
    int err = eddy_loop_add_handler_object(loop, fds[0], EDDY_READ, on_pipe,
                                           NULL, NULL);
    if (err != 0) {
        goto fail_handler;
    }
    atomic_store(&sig_wfd, fds[1]);
    struct sigaction sa = {0};
    sa.sa_handler = on_sigchld;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &sa, &reg.previous) != 0) {
        err = -errno;
        atomic_store(&sig_wfd, -1);
        (void)eddy_loop_remove_handler(loop, fds[0]);
        goto fail_handler;
    }
    reg.loop = loop;
    reg.rfd = fds[0];
    return 0;
fail_handler:
    close(fds[0]);
    close(fds[1]);
    return err;
}

int eddy_subprocess_initialize(eddy_loop *loop)
{
    if (loop == NULL) {
        return -EINVAL;
    }
    pthread_mutex_lock(&reg.lock);
    int err = 0;
    if (reg.loop == NULL) {
        err = install(loop);
        if (err == 0) {
            poke(); /* children that ended while nobody listened */
        }
    } else if (reg.loop != loop) {
        err = -EBUSY;
    }
    pthread_mutex_unlock(&reg.lock);
    return err;
}

int eddy__sigchld_ensure(eddy_loop *loop)
{
    pthread_mutex_lock(&reg.lock);
    bool ready = reg.loop != NULL;
    pthread_mutex_unlock(&reg.lock);
    return ready ? 0 : eddy_subprocess_initialize(loop);
}

/* A handler that read the old descriptor must be done with it before the
 * descriptor is closed and its number can be reused. */
static void wait_for_handlers(void)
{
    while (atomic_load(&sig_inflight) != 0) {
        const struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

int eddy_subprocess_uninitialize(void)
{
    pthread_mutex_lock(&reg.lock);
    int err = 0;
    if (reg.loop != NULL) {
        err = eddy_loop_remove_handler(reg.loop, reg.rfd);
        if (err != -EPERM) {
            err = 0;
            /* SPEC §8.13: Tornado 6.2 restores the previous disposition. */
            sigaction(SIGCHLD, &reg.previous, NULL);
            int wfd = atomic_exchange(&sig_wfd, -1);
            wait_for_handlers();
            close(wfd);
            close(reg.rfd);
            reg.rfd = -1;
            reg.loop = NULL;
        }
    }
    pthread_mutex_unlock(&reg.lock);
    return err;
}
