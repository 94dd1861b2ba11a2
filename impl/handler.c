/* impl/handler.c - SPEC §3: I/O handlers. A dense pollfd array goes to
 * poll() as is and an fd-indexed table points into it: add appends, update
 * rewrites in place, remove swaps the last entry into the hole, all O(1)
 * with no syscall. Readiness is copied out before anything is dispatched
 * and checked against a per-fd generation, so handlers may change the
 * table while the loop walks it.
 */
#define _GNU_SOURCE
#include "loop_int.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define EVENT_BITS (EDDY_READ | EDDY_WRITE | EDDY_ERROR)
#define BAD_REVENTS (POLLHUP | POLLERR | POLLNVAL)
#define FIRST_CAP 8

static short poll_events(unsigned events)
{
    short bits = 0;
    if (events & EDDY_READ) {
        bits |= POLLIN | POLLPRI;
    }
    if (events & EDDY_WRITE) {
        bits |= POLLOUT;
    }
    return bits;
}

/* A registration that watches nothing (EDDY_NONE) is parked as ~fd, which
 * poll() skips: otherwise a hung-up fd would wake the loop forever. */
static int pollfd_value(int fd, unsigned events)
{
    return events == EDDY_NONE ? ~fd : fd;
}

static int pollfd_fd(const struct pollfd *p)
{
    return p->fd < 0 ? ~p->fd : p->fd;
}

int eddy__handlers_init(eddy_loop *loop)
{
    loop->pfds = eddy__malloc(FIRST_CAP * sizeof *loop->pfds);
    loop->ready = eddy__malloc(FIRST_CAP * sizeof *loop->ready);
    if (loop->pfds == NULL || loop->ready == NULL) {
        eddy__free(loop->pfds);
        eddy__free(loop->ready);
        loop->pfds = NULL;
        loop->ready = NULL;
        return -ENOMEM;
    }
    loop->pfd_cap = FIRST_CAP;
    loop->pfds[0] = (struct pollfd){loop->wake_fd, POLLIN, 0};
    loop->npfds = 1;
    return 0;
}

static struct eddy__fd_rec *lookup(eddy_loop *loop, int fd)
{
    if (fd < 0 || (size_t)fd >= loop->fd_cap || loop->fds[fd].pidx < 0) {
        return NULL;
    }
    return &loop->fds[fd];
}

static int reserve_fd(eddy_loop *loop, int fd)
{
    if ((size_t)fd < loop->fd_cap) {
        return 0;
    }
    size_t cap = loop->fd_cap != 0 ? loop->fd_cap : 64;
    while (cap <= (size_t)fd) {
        cap *= 2;
    }
    struct eddy__fd_rec *t = eddy__realloc(loop->fds, cap * sizeof *t);
    if (t == NULL) {
        return -ENOMEM;
    }
    for (size_t i = loop->fd_cap; i < cap; i++) {
        t[i] = (struct eddy__fd_rec){.pidx = -1};
    }
    loop->fds = t;
    loop->fd_cap = cap;
    return 0;
}

/* The scratch array grows with the pollfd array, so dispatch never has to
 * allocate. A half-done growth leaves a larger block but the old capacity. */
static int reserve_pollfd(eddy_loop *loop)
{
    if (loop->npfds < loop->pfd_cap) {
        return 0;
    }
    size_t cap = loop->pfd_cap * 2;
    struct pollfd *p = eddy__realloc(loop->pfds, cap * sizeof *p);
    if (p == NULL) {
        return -ENOMEM;
    }
    loop->pfds = p;
    struct eddy__ready *r = eddy__realloc(loop->ready, cap * sizeof *r);
    if (r == NULL) {
        return -ENOMEM;
    }
    loop->ready = r;
    loop->pfd_cap = cap;
    return 0;
}

static int check_add(eddy_loop *loop, int fd, unsigned events,
                     eddy_handler_cb cb)
{
    if (loop == NULL || cb == NULL || (events & ~EVENT_BITS) != 0) {
        return -EINVAL;
    }
    if (fd < 0) {
        return -EBADF;
    }
    int err = eddy__loop_check_thread(loop);
    if (err != 0) {
        return err;
    }
    if (fcntl(fd, F_GETFD) < 0) {
        return -EBADF;
    }
    /* The loop's own eventfd counts as registered. */
    return lookup(loop, fd) != NULL || fd == loop->wake_fd ? -EEXIST : 0;
}

static int add_handler(eddy_loop *loop, int fd, unsigned events,
                       eddy_handler_cb cb, void *arg, eddy_close_cb close_cb,
                       bool object)
{
    int err = check_add(loop, fd, events, cb);
    if (err == 0) {
        err = reserve_fd(loop, fd);
    }
    if (err == 0) {
        err = reserve_pollfd(loop);
    }
    if (err != 0) {
        return err; /* SPEC §3.7: nothing registered */
    }
    struct eddy__fd_rec *r = &loop->fds[fd];
    r->cb = cb;
    r->arg = arg;
    r->close_cb = close_cb;
    r->events = events;
    r->object = object;
    r->pidx = (int)loop->npfds;
    loop->pfds[loop->npfds++] =
        (struct pollfd){pollfd_value(fd, events), poll_events(events), 0};
    return 0;
}

int eddy_loop_add_handler(eddy_loop *loop, int fd, unsigned events,
                          eddy_handler_cb cb, void *arg)
{
    return add_handler(loop, fd, events, cb, arg, NULL, false);
}

int eddy_loop_add_handler_object(eddy_loop *loop, int fd, unsigned events,
                                 eddy_handler_cb cb, void *obj,
                                 eddy_close_cb close_cb)
{
    return add_handler(loop, fd, events, cb, obj, close_cb, true);
}

int eddy_loop_update_handler(eddy_loop *loop, int fd, unsigned events)
{
    if (loop == NULL || (events & ~EVENT_BITS) != 0) {
        return -EINVAL;
    }
    int err = eddy__loop_check_thread(loop);
    if (err != 0) {
        return err;
    }
    struct eddy__fd_rec *r = lookup(loop, fd);
    if (r == NULL) {
        return -ENOENT;
    }
    r->events = events;
    struct pollfd *p = &loop->pfds[r->pidx];
    p->fd = pollfd_value(fd, events);
    p->events = poll_events(events);
    return 0;
}

/* Swap the last pollfd into the hole; the generation bump makes readiness
 * already collected for this fd stale (SPEC §3.6). */
static void unlink_fd(eddy_loop *loop, int fd)
{
    struct eddy__fd_rec *r = &loop->fds[fd];
    size_t last = --loop->npfds;
    if ((size_t)r->pidx != last) {
        loop->pfds[r->pidx] = loop->pfds[last];
        loop->fds[pollfd_fd(&loop->pfds[r->pidx])].pidx = r->pidx;
    }
    *r = (struct eddy__fd_rec){.pidx = -1, .gen = r->gen + 1};
}

int eddy_loop_remove_handler(eddy_loop *loop, int fd)
{
    if (loop == NULL) {
        return -EINVAL;
    }
    int err = eddy__loop_check_thread(loop);
    if (err != 0) {
        return err;
    }
    if (lookup(loop, fd) == NULL) {
        return -ENOENT;
    }
    unlink_fd(loop, fd);
    return 0;
}

/* After poll: note the wake fd and copy (fd, revents, generation) of every
 * ready handler, stopping once all nready entries are found. */
void eddy__handlers_collect(eddy_loop *loop, int nready)
{
    loop->nready = 0;
    loop->wake_seen = false;
    if (nready <= 0) {
        return;
    }
    size_t left = (size_t)nready;
    if (loop->pfds[0].revents != 0) {
        loop->wake_seen = true;
        left--;
    }
    for (size_t i = 1; i < loop->npfds && left > 0; i++) {
        short revents = loop->pfds[i].revents;
        if (revents != 0) {
            int fd = pollfd_fd(&loop->pfds[i]);
            loop->ready[loop->nready++] =
                (struct eddy__ready){fd, revents, loop->fds[fd].gen};
            left--;
        }
    }
}

/* SPEC §3.4: hang-up and error conditions count as readiness for what the
 * handler watches, and as EDDY_ERROR when it watches that. */
static unsigned ready_events(short revents, unsigned want)
{
    bool bad = (revents & BAD_REVENTS) != 0;
    unsigned got = bad ? EDDY_ERROR : 0;
    if ((revents & (POLLIN | POLLPRI)) || (bad && (want & EDDY_READ))) {
        got |= EDDY_READ;
    }
    if ((revents & POLLOUT) || (bad && (want & EDDY_WRITE))) {
        got |= EDDY_WRITE;
    }
    return got & want;
}

/* SPEC §2.13 step 3, in pollfd order, against the table as it is now. */
void eddy__handlers_dispatch(eddy_loop *loop)
{
    for (size_t i = 0; i < loop->nready; i++) {
        struct eddy__ready t = loop->ready[i];
        const struct eddy__fd_rec *r = &loop->fds[t.fd];
        if (r->pidx < 0 || r->gen != t.gen) {
            continue; /* removed, or removed and added again */
        }
        unsigned events = ready_events(t.revents, r->events);
        if (events != 0) {
            int rc = r->cb(loop, t.fd, events, r->arg);
            if (rc != 0) {
                eddy__loop_report(loop, rc); /* SPEC §1.5 */
            }
        }
    }
    loop->nready = 0;
}

/* SPEC §2.11: with all_fds, close each fd, or hand an object to its own
 * close function (none: the fd stays open). */
void eddy__handlers_close(eddy_loop *loop, bool all_fds)
{
    while (loop->npfds > 1) {
        int fd = pollfd_fd(&loop->pfds[loop->npfds - 1]);
        struct eddy__fd_rec r = loop->fds[fd];
        unlink_fd(loop, fd);
        if (all_fds && !r.object) {
            close(fd);
        } else if (all_fds && r.close_cb != NULL) {
            r.close_cb(fd, r.arg);
        }
    }
    eddy__free(loop->pfds);
    eddy__free(loop->ready);
    eddy__free(loop->fds);
    loop->pfds = NULL;
    loop->ready = NULL;
    loop->fds = NULL;
    loop->npfds = loop->pfd_cap = loop->nready = loop->fd_cap = 0;
}

static bool pollfd_matches(const eddy_loop *loop, size_t i)
{
    const struct pollfd *p = &loop->pfds[i];
    int fd = pollfd_fd(p);
    if ((size_t)fd >= loop->fd_cap) {
        return false;
    }
    const struct eddy__fd_rec *r = &loop->fds[fd];
    return r->pidx == (int)i && r->cb != NULL &&
           p->fd == pollfd_value(fd, r->events) &&
           p->events == poll_events(r->events) &&
           (r->events & ~EVENT_BITS) == 0;
}

bool eddy__handlers_check(const eddy_loop *loop)
{
    if (loop->npfds < 1 || loop->npfds > loop->pfd_cap ||
        loop->pfds[0].fd != loop->wake_fd || loop->nready > loop->pfd_cap) {
        return false;
    }
    for (size_t i = 1; i < loop->npfds; i++) {
        if (!pollfd_matches(loop, i)) {
            return false;
        }
    }
    size_t registered = 0;
    for (size_t fd = 0; fd < loop->fd_cap; fd++) {
        registered += loop->fds[fd].pidx >= 0;
    }
    return registered == loop->npfds - 1;
}
