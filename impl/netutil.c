/* impl/netutil.c - SPEC §9.1-§9.14: bind_sockets and the accept handler.
 *
 * bind_sockets is all-or-nothing: any failure closes every socket the call
 * opened (Tornado leaves them to the garbage collector). The accept handler
 * takes at most EDDY_DEFAULT_BACKLOG connections per readiness, so one busy
 * listener cannot starve the loop; a remove from inside its own callback
 * only marks the handle, which the batch frees as it unwinds.
 */
#define _GNU_SOURCE
#include "eddy/server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* SPEC §9.5: how many times a port-0 call starts over when the port the
 * kernel chose for the first family is taken in another one. */
#define PORT_RETRIES 8

/* open_one's result for an address that is skipped, not an error. */
#define SKIPPED 1

struct eddy_accept_handler {
    eddy_loop *loop;
    eddy_accept_cb cb;
    void *arg;
    int fd;
    bool in_batch;       /* on_readable is running for this handle */
    bool removed;        /* removed during the batch: free when it ends */
    bool closed_by_loop; /* eddy_loop_close(loop, true) closed fd */
};

int eddy__gai_error(int gai_err, int saved_errno)
{
    switch (gai_err) {
    case 0:
        return 0;
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return -ENOENT;
    case EAI_AGAIN:
        return -EAGAIN;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_FAMILY:
        return -EAFNOSUPPORT;
    case EAI_BADFLAGS:
    case EAI_SERVICE:
    case EAI_SOCKTYPE:
        return -EINVAL;
    case EAI_SYSTEM:
        return saved_errno > 0 ? -saved_errno : -EIO;
    default:
        return -EIO;
    }
}

static void close_all(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        close(fds[i]); /* Linux frees the fd even on EINTR: never retry */
    }
}

static bool same_address(const struct addrinfo *a, const struct addrinfo *b)
{
    return a->ai_family == b->ai_family &&
           a->ai_socktype == b->ai_socktype &&
           a->ai_protocol == b->ai_protocol &&
           a->ai_addrlen == b->ai_addrlen &&
           memcmp(a->ai_addr, b->ai_addr, a->ai_addrlen) == 0;
}

size_t eddy__addrinfo_order(struct addrinfo **list, size_t n)
{
    /* SPEC §9.1: a stable sort by family (AF_INET before AF_INET6 on every
     * system eddy targets), then exact duplicates dropped. Lists are a few
     * entries long, so insertion sort is the simplest stable choice. */
    for (size_t i = 1; i < n; i++) {
        struct addrinfo *cur = list[i];
        size_t j = i;
        while (j > 0 && list[j - 1]->ai_family > cur->ai_family) {
            list[j] = list[j - 1];
            j--;
        }
        list[j] = cur;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t k = 0; k < kept && !dup; k++) {
            dup = same_address(list[k], list[i]);
        }
        if (!dup) {
            list[kept++] = list[i];
        }
    }
    return kept;
}

static int resolve(int port, const char *address, int family, int flags,
                   struct addrinfo **out)
{
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    /* The port is always numeric, so AI_NUMERICSERV changes no result. */
    hints.ai_flags = (flags == 0 ? AI_PASSIVE : flags) | AI_NUMERICSERV;
    if (address != NULL && address[0] == '\0') {
        address = NULL; /* SPEC §9.1: "" means every interface */
    }
    int gai = getaddrinfo(address, service, &hints, out);
    return eddy__gai_error(gai, errno);
}

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET) {
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    } else if (ss->ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    }
}

static int get_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        return -errno;
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int set_flag(int fd, int level, int name)
{
    int one = 1;
    if (setsockopt(fd, level, name, &one, sizeof one) != 0) {
        return -errno;
    }
    return 0;
}

/* SPEC §9.2, §9.6: the options every listening socket gets. */
static int configure(int fd, int family, bool reuse_port)
{
    int err = set_flag(fd, SOL_SOCKET, SO_REUSEADDR);
    if (err != 0 && err != -ENOPROTOOPT) { /* Hurd has no SO_REUSEADDR */
        return err;
    }
#ifdef SO_REUSEPORT
    if (reuse_port && (err = set_flag(fd, SOL_SOCKET, SO_REUSEPORT)) != 0) {
        return err;
    }
#else
    (void)reuse_port;
#endif
    if (family == AF_INET6) {
        return set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY);
    }
    return 0;
}

static bool is_localhost_v6(const char *address, const struct addrinfo *ai)
{
    if (address == NULL || strcmp(address, "localhost") != 0 ||
        ai->ai_family != AF_INET6) {
        return false;
    }
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ai->ai_addr;
    return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
}

/* One socket for one address: 0 and *out, SKIPPED (SPEC §9.9) with
 * *skip_err set, or a negated errno value. */
static int open_one(const struct addrinfo *ai, const char *address,
                    int port, int backlog, bool reuse_port, int *out,
                    int *skip_err)
{
    int fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0) {
        int err = -errno;
        *skip_err = err;
        return err == -EAFNOSUPPORT ? SKIPPED : err;
    }
    int err = configure(fd, ai->ai_family, reuse_port);
    struct sockaddr_storage ss;
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (port != 0) {
        set_port(&ss, port); /* SPEC §9.4: the port chosen for the first */
    }
    if (err == 0 && bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) != 0) {
        err = -errno;
        if (err == -EADDRNOTAVAIL && is_localhost_v6(address, ai)) {
            close(fd);
            *skip_err = err;
            return SKIPPED;
        }
    }
    if (err == 0 && listen(fd, backlog) != 0) {
        err = -errno;
    }
    if (err != 0) {
        close(fd);
        return err;
    }
    *out = fd;
    return 0;
}

struct bind_req {
    const char *address;
    int port;
    int backlog;
    bool reuse_port;
    int *fds;   /* scratch, one per address: the caller's array is */
    size_t cap; /* written only on success (SPEC §1.2) */
};

/* One attempt over the ordered addresses. Returns the count (>= 1) or an
 * error; on error every socket of the attempt is closed. *forced tells
 * whether the failing socket was given a port chosen for an earlier one. */
static int bind_all(const struct bind_req *req, struct addrinfo **list,
                    size_t n, bool *forced)
{
    size_t count = 0;
    int port = req->port;
    int skip_err = -EAFNOSUPPORT;
    for (size_t i = 0; i < n; i++) {
        int fd = -1;
        *forced = req->port == 0 && port != 0;
        int r = open_one(list[i], req->address, port, req->backlog,
                         req->reuse_port, &fd, &skip_err);
        if (r == SKIPPED) {
            continue;
        }
        if (r == 0 && count == req->cap) {
            r = -ERANGE;
        }
        if (r == 0 && port == 0) {
            int chosen = get_port(fd);
            port = chosen > 0 ? chosen : 0;
            r = chosen > 0 ? 0 : (chosen < 0 ? chosen : -EIO);
        }
        if (r != 0) {
            if (fd >= 0) {
                close(fd);
            }
            close_all(req->fds, count);
            return r;
        }
        req->fds[count++] = fd;
    }
    /* SPEC §9.9: an empty result is an error, not an empty success. */
    return count == 0 ? skip_err : (int)count;
}

static int bind_resolved(struct bind_req *req, struct addrinfo *res,
                         int *fds, size_t *count)
{
    size_t n = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        n++;
    }
    /* One block: the address list, then the scratch descriptors. */
    struct addrinfo **list = eddy__malloc(n * (sizeof *list + sizeof(int)));
    if (list == NULL) {
        return -ENOMEM;
    }
    req->fds = (int *)(list + n);
    n = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        list[n++] = ai;
    }
    n = eddy__addrinfo_order(list, n);
    int r = 0;
    bool forced = false;
    for (int attempt = 0; attempt < PORT_RETRIES; attempt++) {
        r = bind_all(req, list, n, &forced);
        if (r != -EADDRINUSE || !forced) {
            break; /* SPEC §9.5: only a clash on a reused port retries */
        }
    }
    if (r > 0) {
        memcpy(fds, req->fds, (size_t)r * sizeof *fds);
        *count = (size_t)r;
    }
    eddy__free(list);
    return r < 0 ? r : 0;
}

int eddy_bind_sockets(int port, const char *address, int family, int backlog,
                      int flags, bool reuse_port, int *fds, size_t cap,
                      size_t *count)
{
    if (port < 0 || port > 65535 || count == NULL ||
        (fds == NULL && cap > 0) ||
        (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)) {
        return -EINVAL;
    }
#ifndef SO_REUSEPORT
    if (reuse_port) {
        return -ENOTSUP;
    }
#endif
    struct addrinfo *res = NULL;
    int err = resolve(port, address, family, flags, &res);
    if (err != 0) {
        return err;
    }
    struct bind_req req = {address, port,
                           backlog <= 0 ? EDDY_DEFAULT_BACKLOG : backlog,
                           reuse_port, NULL, cap};
    err = bind_resolved(&req, res, fds, count);
    freeaddrinfo(res);
    return err;
}

/* --- the accept handler (SPEC §9.11-§9.14) ------------------------------ */

/* Errors of accept(2) that concern one pending connection, not the
 * listener: skip it and go on (Linux passes pending network errors up
 * through accept, see accept(2)). */
static bool skippable(int err)
{
    switch (err) {
    case -ECONNABORTED:
    case -EPROTO:
    case -ENETDOWN:
    case -ENOPROTOOPT:
    case -EHOSTDOWN:
    case -EHOSTUNREACH:
    case -EOPNOTSUPP:
    case -ENETUNREACH:
#ifdef ENONET
    case -ENONET:
#endif
        return true;
    default:
        return false;
    }
}

/* Accept one connection and hand it over: 1 done, 0 would block, or a
 * negated errno value from accept. */
static int accept_one(eddy_accept_handler *h)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd;
    do {
        fd = accept4(h->fd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int err = -errno;
        return (err == -EAGAIN || err == -EWOULDBLOCK) ? 0 : err;
    }
    int rc = h->cb(h->loop, fd, (struct sockaddr *)&ss, len, h->arg);
    if (rc != 0) {
        eddy__loop_report(h->loop, rc); /* SPEC §1.5: accepting goes on */
    }
    return 1;
}

static int on_readable(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    eddy_accept_handler *h = arg;
    (void)loop;
    (void)fd;
    (void)events;
    int err = 0;
    h->in_batch = true;
    /* SPEC §9.12: at most EDDY_DEFAULT_BACKLOG per readiness; the rest
     * stays queued and keeps the fd readable for a later iteration. */
    for (int i = 0; i < EDDY_DEFAULT_BACKLOG && !h->removed; i++) {
        int r = accept_one(h);
        if (r == 0) {
            break;
        }
        if (r < 0 && !skippable(r)) {
            err = r; /* SPEC §9.14: EMFILE and the like: report, retry */
            break;
        }
    }
    h->in_batch = false;
    if (h->removed) {
        eddy__free(h);
    }
    return err;
}

/* SPEC §2.11: when the loop is closed with all_fds it closes the listener
 * through here, so the owner knows not to close it a second time. */
static void on_loop_close(int fd, void *obj)
{
    eddy_accept_handler *h = obj;
    close(fd);
    h->closed_by_loop = true;
}

int eddy__check_listening(int fd)
{
    if (fd < 0) {
        return -EBADF;
    }
    int on = 0;
    socklen_t len = sizeof on;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0) {
        return errno == EBADF ? -EBADF : -EINVAL;
    }
    return on ? 0 : -EINVAL;
}

int eddy_add_accept_handler(eddy_loop *loop, int listen_fd, eddy_accept_cb cb,
                            void *arg, eddy_accept_handler **out)
{
    if (cb == NULL || out == NULL) {
        return -EINVAL;
    }
    int err = loop == NULL ? eddy_loop_current(false, &loop)
                           : eddy__loop_check_thread(loop);
    if (err == 0) {
        err = eddy__check_listening(listen_fd);
    }
    if (err != 0) {
        return err;
    }
    eddy_accept_handler *h = eddy__calloc(1, sizeof *h);
    if (h == NULL) {
        return -ENOMEM;
    }
    *h = (eddy_accept_handler){loop, cb, arg, listen_fd, false, false, false};
    err = eddy_loop_add_handler_object(loop, listen_fd, EDDY_READ,
                                       on_readable, h, on_loop_close);
    if (err != 0) {
        eddy__free(h);
        return err;
    }
    *out = h;
    return 0;
}

int eddy_remove_accept_handler(eddy_accept_handler *handler)
{
    if (handler == NULL) {
        return -EINVAL;
    }
    int err = eddy_loop_remove_handler(handler->loop, handler->fd);
    if (err == -EPERM) {
        return err;
    }
    /* -ESHUTDOWN: the closed loop already dropped the registration. */
    if (handler->in_batch) {
        handler->removed = true; /* SPEC §9.13: the batch stops and frees */
        return 0;
    }
    eddy__free(handler);
    return 0;
}

eddy_loop *eddy__accept_handler_loop(const eddy_accept_handler *handler)
{
    return handler->loop;
}

bool eddy__accept_handler_fd_closed(const eddy_accept_handler *handler)
{
    return handler->closed_by_loop;
}
