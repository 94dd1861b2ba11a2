/* impl/server.c - SPEC §9.15-§9.24: the TCP server (Tornado's TCPServer).
 *
 * The server is a list of listening sockets, each either pending (bound,
 * waiting for start) or attached (an accept handler on some loop). Every
 * operation on the list is all-or-nothing, and stop closes both kinds, so
 * no listening socket outlives its server.
 */
#include "eddy/server.h"

#include <errno.h>
#include <unistd.h>

#include "internal.h"

/* The most sockets one bind can yield (addresses of one name). */
#define BIND_MAX 64

struct server_sock {
    int fd;
    eddy_accept_handler *handler; /* NULL while pending */
    bool fresh;                   /* attached by the running attach() */
};

struct eddy_server {
    eddy_connection_cb cb;
    void *arg;
    struct server_sock *socks;
    size_t n;
    size_t cap;
    bool started;
    bool stopped;
};

struct bind_args {
    int port;
    const char *address;
    int family;
    int backlog;
    int flags;
    bool reuse_port;
};

int eddy_server_new(eddy_connection_cb cb, void *arg, eddy_server **out)
{
    if (cb == NULL || out == NULL) {
        return -EINVAL;
    }
    eddy_server *s = eddy__calloc(1, sizeof *s);
    if (s == NULL) {
        return -ENOMEM;
    }
    s->cb = cb;
    s->arg = arg;
    *out = s;
    return 0;
}

static int on_accept(eddy_loop *loop, int fd, const struct sockaddr *addr,
                     socklen_t addrlen, void *arg)
{
    eddy_server *s = arg;
    return s->cb(s, loop, fd, addr, addrlen, s->arg);
}

static int reserve(eddy_server *s, size_t extra)
{
    if (s->n + extra <= s->cap) {
        return 0;
    }
    size_t cap = s->cap == 0 ? 4 : s->cap;
    while (cap < s->n + extra) {
        cap *= 2;
    }
    struct server_sock *p = eddy__realloc(s->socks, cap * sizeof *p);
    if (p == NULL) {
        return -ENOMEM;
    }
    s->socks = p;
    s->cap = cap;
    return 0;
}

static void append_pending(eddy_server *s, const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        s->socks[s->n++] = (struct server_sock){fds[i], NULL, false};
    }
}

/* The thread's current loop; SPEC §9.19: one is created, as Tornado's
 * IOLoop.current() does, when the thread has none (*created tells). */
static int current_loop(eddy_loop **out, bool *created)
{
    *created = false;
    int err = eddy_loop_current(false, out);
    if (err == -ENOENT) {
        err = eddy_loop_current(true, out);
        *created = err == 0;
    }
    return err;
}

/* Attach every pending socket among socks[from..n-1] to the current
 * loop: all or none. On failure those attached here are pending again and
 * a loop made here is freed. */
static int attach(eddy_server *s, size_t from)
{
    eddy_loop *loop = NULL;
    bool created = false;
    int err = current_loop(&loop, &created);
    for (size_t i = from; err == 0 && i < s->n; i++) {
        if (s->socks[i].handler == NULL) {
            err = eddy_add_accept_handler(loop, s->socks[i].fd, on_accept, s,
                                          &s->socks[i].handler);
            s->socks[i].fresh = err == 0;
        }
    }
    for (size_t i = from; i < s->n; i++) {
        if (err != 0 && s->socks[i].fresh) {
            eddy_remove_accept_handler(s->socks[i].handler);
            s->socks[i].handler = NULL;
        }
        s->socks[i].fresh = false;
    }
    if (err != 0 && created) {
        eddy_loop_free(loop);
    }
    return err;
}

static bool owns_fd(const eddy_server *s, int fd)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->socks[i].fd == fd) {
            return true;
        }
    }
    return false;
}

int eddy_server_add_sockets(eddy_server *server, const int *fds, size_t n)
{
    if (server == NULL || (fds == NULL && n > 0)) {
        return -EINVAL;
    }
    if (server->stopped) {
        return -ESHUTDOWN;
    }
    for (size_t i = 0; i < n; i++) {
        int err = eddy__check_listening(fds[i]);
        if (err != 0) {
            return err;
        }
        if (owns_fd(server, fds[i])) {
            return -EEXIST;
        }
    }
    int err = reserve(server, n);
    if (err != 0 || n == 0) {
        return err;
    }
    size_t from = server->n;
    append_pending(server, fds, n);
    err = attach(server, from);
    if (err != 0) {
        server->n = from; /* SPEC §1.3: the caller keeps its sockets */
    }
    return err;
}

int eddy_server_add_socket(eddy_server *server, int fd)
{
    return eddy_server_add_sockets(server, &fd, 1);
}

/* bind and listen: bind now; attach at once when asked to. */
static int bind_into(eddy_server *s, const struct bind_args *a, bool now)
{
    if (s == NULL) {
        return -EINVAL;
    }
    if (s->stopped) {
        return -ESHUTDOWN;
    }
    int fds[BIND_MAX];
    size_t n = 0;
    int err = eddy_bind_sockets(a->port, a->address, a->family, a->backlog,
                                a->flags, a->reuse_port, fds, BIND_MAX, &n);
    if (err != 0) {
        return err;
    }
    size_t from = s->n;
    err = reserve(s, n);
    if (err == 0) {
        append_pending(s, fds, n);
        err = now ? attach(s, from) : 0;
    }
    if (err != 0) {
        s->n = from;
        for (size_t i = 0; i < n; i++) {
            close(fds[i]);
        }
    }
    return err;
}

int eddy_server_bind(eddy_server *server, int port, const char *address,
                     int family, int backlog, int flags, bool reuse_port)
{
    struct bind_args a = {port, address, family, backlog, flags, reuse_port};
    /* SPEC §9.15: after start, bound sockets are served at once. */
    return bind_into(server, &a, server != NULL && server->started);
}

int eddy_server_listen(eddy_server *server, int port, const char *address,
                       int family, int backlog, int flags, bool reuse_port)
{
    struct bind_args a = {port, address, family, backlog, flags, reuse_port};
    return bind_into(server, &a, true);
}

int eddy_server_start(eddy_server *server, int num_processes,
                      int max_restarts)
{
    if (server == NULL) {
        return -EINVAL;
    }
    if (server->stopped) {
        return -ESHUTDOWN;
    }
    if (server->started) {
        return -EALREADY; /* SPEC §9.18 (Tornado: AssertionError) */
    }
    if (num_processes != 1) {
        /* SPEC §9.17: in the parent this supervises and returns only an
         * error; in a worker it returns the task id. */
        int id = eddy_fork_processes(num_processes, max_restarts);
        if (id < 0) {
            return id;
        }
        server->started = true; /* a worker cannot undo its fork */
    }
    size_t pending = 0;
    for (size_t i = 0; i < server->n; i++) {
        pending += server->socks[i].handler == NULL;
    }
    int err = pending > 0 ? attach(server, 0) : 0;
    if (err == 0) {
        server->started = true;
    }
    return err;
}

/* SPEC §1.6: stop changes nothing unless every loop involved may be used
 * from this thread. */
static int check_threads(const eddy_server *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->socks[i].handler == NULL) {
            continue;
        }
        eddy_loop *loop = eddy__accept_handler_loop(s->socks[i].handler);
        if (eddy__loop_check_thread(loop) == -EPERM) {
            return -EPERM;
        }
    }
    return 0;
}

int eddy_server_stop(eddy_server *server)
{
    if (server == NULL) {
        return -EINVAL;
    }
    if (server->stopped) {
        return 0; /* SPEC §9.21: idempotent */
    }
    int err = check_threads(server);
    if (err != 0) {
        return err;
    }
    for (size_t i = 0; i < server->n; i++) {
        struct server_sock *ss = &server->socks[i];
        bool closed = false;
        if (ss->handler != NULL) {
            closed = eddy__accept_handler_fd_closed(ss->handler);
            eddy_remove_accept_handler(ss->handler);
        }
        if (!closed) {
            close(ss->fd);
        }
    }
    server->n = 0;
    server->stopped = true;
    return 0;
}

int eddy_server_free(eddy_server *server)
{
    if (server == NULL) {
        return 0;
    }
    int err = eddy_server_stop(server);
    if (err != 0) {
        return err;
    }
    eddy__free(server->socks);
    eddy__free(server);
    return 0;
}

int eddy_server_sockets(const eddy_server *server, int *fds, size_t cap,
                        size_t *count)
{
    if (server == NULL || count == NULL || (fds == NULL && cap > 0)) {
        return -EINVAL;
    }
    if (server->n > cap) {
        return -ERANGE;
    }
    for (size_t i = 0; i < server->n; i++) {
        fds[i] = server->socks[i].fd;
    }
    *count = server->n;
    return 0;
}
