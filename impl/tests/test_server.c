/* impl/tests/test_server.c - white-box tests of impl/netutil.c and
 * impl/server.c (SPEC §9): address ordering, error mapping, cleanup on
 * every failure path (allocation faults, descriptor limits, busy ports),
 * the accept batch limit and removal inside a batch, with real sockets on
 * the loopback interface and a real poll() loop.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "eddy.h"
#include "internal.h"

/* --- helpers ----------------------------------------------------------- */

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    assert_non_null(d);
    while (readdir(d) != NULL) {
        n++;
    }
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own fd */
}

static bool have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in6 a = {.sin6_family = AF_INET6,
                             .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static int port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int family_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    return ss.ss_family;
}

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

/* A blocking connect to 127.0.0.1:port; the returned fd is the caller's. */
static int connect_v4(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Linux reports a listener's accept queue length in tcpi_unacked. */
static unsigned queued(int listen_fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    assert_int_equal(getsockopt(listen_fd, IPPROTO_TCP, TCP_INFO, &ti, &len),
                     0);
    return ti.tcpi_unacked;
}

static void wait_queued(int listen_fd, unsigned n)
{
    for (int i = 0; i < 2000 && queued(listen_fd) < n; i++) {
        usleep(1000);
    }
    assert_int_equal(queued(listen_fd), n);
}

static void close_all_fds(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        close(fds[i]);
    }
}

static eddy_loop *new_loop(int make_current)
{
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_new(make_current, &loop), 0);
    return loop;
}

/* SPEC §2.7: stop before start runs exactly one iteration. */
static void run_once(eddy_loop *loop)
{
    assert_int_equal(eddy_loop_stop(loop), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
}

static int listener_v4(int backlog)
{
    int fd = -1;
    size_t n = 0;
    assert_int_equal(eddy_bind_sockets(0, "127.0.0.1", AF_INET, backlog, 0,
                                       false, &fd, 1, &n),
                     0);
    assert_int_equal(n, 1);
    return fd;
}

struct accepted {
    int fds[512];
    int n;
    int remove_at;             /* remove the handler at this count */
    int fail_with;             /* the callback's return value */
    eddy_accept_handler *handler;
};

static int on_conn(eddy_loop *loop, int fd, const struct sockaddr *addr,
                   socklen_t addrlen, void *arg)
{
    struct accepted *acc = arg;
    (void)loop;
    assert_true(addrlen > 0);
    assert_int_equal(addr->sa_family, AF_INET);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    acc->fds[acc->n++] = fd;
    if (acc->n == acc->remove_at) {
        assert_int_equal(eddy_remove_accept_handler(acc->handler), 0);
    }
    return acc->fail_with;
}

static void close_accepted(struct accepted *acc)
{
    for (int i = 0; i < acc->n; i++) {
        close(acc->fds[i]);
    }
    acc->n = 0;
}

struct errors {
    int last;
    int count;
};

static void on_error(eddy_loop *loop, int err, void *arg)
{
    struct errors *e = arg;
    (void)loop;
    e->last = err;
    e->count++;
}

/* --- syscall seams (linked with -Wl,--wrap=bind,--wrap=getaddrinfo) ----- */

int __real_bind(int fd, const struct sockaddr *addr, socklen_t len);
int __real_getaddrinfo(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res);

static struct {
    int calls;        /* bind calls since armed */
    int every;        /* fail each call whose number is a multiple of it */
    int limit;        /* ... up to this many failures (0: no limit) */
    int failed;
    bool v6_loopback; /* fail binds to ::1 instead */
    int err;
} bind_fault;

static void bind_fault_arm(int every, int limit, bool v6_loopback, int err)
{
    memset(&bind_fault, 0, sizeof bind_fault);
    bind_fault.every = every;
    bind_fault.limit = limit;
    bind_fault.v6_loopback = v6_loopback;
    bind_fault.err = err;
}

static bool bind_should_fail(const struct sockaddr *addr)
{
    if (bind_fault.err == 0 ||
        (bind_fault.limit > 0 && bind_fault.failed >= bind_fault.limit)) {
        return false;
    }
    if (bind_fault.v6_loopback) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)addr;
        return addr->sa_family == AF_INET6 &&
               IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
    }
    return bind_fault.calls % bind_fault.every == 0;
}

int __wrap_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    bind_fault.calls++;
    if (bind_should_fail(addr)) {
        bind_fault.failed++;
        errno = bind_fault.err;
        return -1;
    }
    return __real_bind(fd, addr, len);
}

/* When set, "localhost" resolves to 127.0.0.1 and ::1, as on hosts whose
 * /etc/hosts lists both. */
static bool fake_localhost;

int __wrap_getaddrinfo(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res)
{
    if (!fake_localhost || node == NULL || strcmp(node, "localhost") != 0) {
        return __real_getaddrinfo(node, service, hints, res);
    }
    struct addrinfo h = *hints;
    struct addrinfo *v4 = NULL;
    struct addrinfo *v6 = NULL;
    h.ai_family = AF_INET6;
    int r = __real_getaddrinfo("::1", service, &h, &v6);
    if (r == 0 && hints->ai_family != AF_INET6) {
        h.ai_family = AF_INET;
        r = __real_getaddrinfo("127.0.0.1", service, &h, &v4);
    }
    if (r != 0) {
        return r;
    }
    if (v4 == NULL) {
        *res = v6;
        return 0;
    }
    struct addrinfo *last = v6; /* v6 first: bind_sockets must sort */
    while (last->ai_next != NULL) {
        last = last->ai_next;
    }
    last->ai_next = v4; /* freeaddrinfo frees node by node */
    *res = v6;
    return 0;
}

/* --- resolution helpers ------------------------------------------------ */

static void test_server_gai_error_mapping(void **state)
{
    (void)state;
    assert_int_equal(eddy__gai_error(0, 0), 0);
    assert_int_equal(eddy__gai_error(EAI_NONAME, 0), -ENOENT);
    assert_int_equal(eddy__gai_error(EAI_AGAIN, 0), -EAGAIN);
    assert_int_equal(eddy__gai_error(EAI_MEMORY, 0), -ENOMEM);
    assert_int_equal(eddy__gai_error(EAI_FAMILY, 0), -EAFNOSUPPORT);
    assert_int_equal(eddy__gai_error(EAI_BADFLAGS, 0), -EINVAL);
    assert_int_equal(eddy__gai_error(EAI_SERVICE, 0), -EINVAL);
    assert_int_equal(eddy__gai_error(EAI_SOCKTYPE, 0), -EINVAL);
    assert_int_equal(eddy__gai_error(EAI_SYSTEM, EMFILE), -EMFILE);
    assert_int_equal(eddy__gai_error(EAI_SYSTEM, 0), -EIO);
    assert_int_equal(eddy__gai_error(EAI_FAIL, 0), -EIO);
#ifdef EAI_ADDRFAMILY
    assert_int_equal(eddy__gai_error(EAI_ADDRFAMILY, 0), -ENOENT);
#endif
}

static void test_server_addrinfo_order(void **state)
{
    (void)state;
    struct sockaddr_in v4a = {.sin_family = AF_INET, .sin_port = htons(1)};
    struct sockaddr_in v4b = {.sin_family = AF_INET, .sin_port = htons(2)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    struct addrinfo ai[5];
    memset(ai, 0, sizeof ai);
    struct sockaddr *addrs[5] = {(struct sockaddr *)&v6,
                                 (struct sockaddr *)&v4a,
                                 (struct sockaddr *)&v6,
                                 (struct sockaddr *)&v4b,
                                 (struct sockaddr *)&v4a};
    struct addrinfo *list[5];
    for (int i = 0; i < 5; i++) {
        ai[i].ai_family = addrs[i]->sa_family;
        ai[i].ai_socktype = SOCK_STREAM;
        ai[i].ai_addrlen = addrs[i]->sa_family == AF_INET6 ? sizeof v6
                                                            : sizeof v4a;
        ai[i].ai_addr = addrs[i];
        list[i] = &ai[i];
    }
    /* Stable by family, duplicates dropped: v4a, v4b, v6. */
    assert_int_equal(eddy__addrinfo_order(list, 5), 3);
    assert_ptr_equal(list[0], &ai[1]);
    assert_ptr_equal(list[1], &ai[3]);
    assert_ptr_equal(list[2], &ai[0]);
    assert_int_equal(eddy__addrinfo_order(list, 0), 0);
}

/* --- bind_sockets ------------------------------------------------------ */

static void test_server_bind_v4_options(void **state)
{
    (void)state;
    int fd = listener_v4(7);
    assert_true(port_of(fd) > 0);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_REUSEADDR), 1);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_REUSEPORT), 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
}

static void test_server_bind_dual_stack(void **state)
{
    (void)state;
    int fds[4];
    size_t n = 0;
    assert_int_equal(eddy_bind_sockets(0, NULL, AF_UNSPEC, 0, 0, true, fds,
                                       4, &n),
                     0);
    assert_int_equal(family_of(fds[0]), AF_INET);
    if (have_ipv6()) {
        assert_int_equal(n, 2);
        assert_int_equal(family_of(fds[1]), AF_INET6);
        assert_int_equal(port_of(fds[1]), port_of(fds[0]));
        assert_int_equal(sockopt(fds[1], IPPROTO_IPV6, IPV6_V6ONLY), 1);
    } else {
        assert_int_equal(n, 1);
    }
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sockopt(fds[i], SOL_SOCKET, SO_REUSEPORT), 1);
        close(fds[i]);
    }
}

static void test_server_bind_invalid(void **state)
{
    (void)state;
    int fd = -1;
    size_t n = 7;
    int before = open_fds();
    assert_int_equal(eddy_bind_sockets(-1, NULL, 0, 0, 0, false, &fd, 1, &n),
                     -EINVAL);
    assert_int_equal(eddy_bind_sockets(65536, NULL, 0, 0, 0, false, &fd, 1,
                                       &n),
                     -EINVAL);
    assert_int_equal(eddy_bind_sockets(0, NULL, AF_UNIX, 0, 0, false, &fd, 1,
                                       &n),
                     -EINVAL);
    assert_int_equal(eddy_bind_sockets(0, NULL, 0, 0, 0, false, NULL, 1, &n),
                     -EINVAL);
    assert_int_equal(eddy_bind_sockets(0, NULL, 0, 0, 0, false, &fd, 1,
                                       NULL),
                     -EINVAL);
    assert_int_equal(eddy_bind_sockets(0, "no-such-name", 0, 0,
                                       AI_NUMERICHOST, false, &fd, 1, &n),
                     -ENOENT);
    assert_int_equal(eddy_bind_sockets(0, "::1", AF_INET, 0,
                                       AI_PASSIVE | AI_NUMERICHOST, false,
                                       &fd, 1, &n),
                     -ENOENT);
    assert_int_equal(eddy_bind_sockets(0, "192.0.2.1", AF_INET, 0, 0, false,
                                       &fd, 1, &n),
                     -EADDRNOTAVAIL);
    assert_int_equal(eddy_bind_sockets(0, "127.0.0.1", 0, 0, 0, false, NULL,
                                       0, &n),
                     -ERANGE);
    assert_int_equal(fd, -1);
    assert_int_equal(n, 7);
    assert_int_equal(open_fds(), before);
}

/* SPEC §9.7: a failure on the second family closes the first socket. */
static void test_server_bind_busy_port_closes_all(void **state)
{
    (void)state;
    if (!have_ipv6()) {
        skip();
    }
    int holder = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    assert_int_equal(setsockopt(holder, IPPROTO_IPV6, IPV6_V6ONLY, &one,
                                sizeof one),
                     0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    assert_int_equal(bind(holder, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(holder, 1), 0);
    int before = open_fds();
    int fds[4];
    size_t n = 0;
    assert_int_equal(eddy_bind_sockets(port_of(holder), NULL, AF_UNSPEC, 0,
                                       0, false, fds, 4, &n),
                     -EADDRINUSE);
    assert_int_equal(open_fds(), before);
    /* cap too small for both families: nothing stays open either. */
    assert_int_equal(eddy_bind_sockets(0, NULL, AF_UNSPEC, 0, 0, false, fds,
                                       1, &n),
                     -ERANGE);
    assert_int_equal(open_fds(), before);
    close(holder);
}

/* SPEC §9.7 with a descriptor limit: the second socket() fails. */
static void test_server_bind_emfile_closes_all(void **state)
{
    (void)state;
    if (!have_ipv6()) {
        skip();
    }
    int before = open_fds();
    int lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(lowest >= 0);
    close(lowest);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    /* Room for exactly one more descriptor: the IPv4 socket. */
    struct rlimit low = {(rlim_t)lowest + 1, old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fds[4];
    size_t n = 0;
    int err = eddy_bind_sockets(0, NULL, AF_UNSPEC, 0, AI_PASSIVE, false,
                                fds, 4, &n);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(err, -EMFILE);
    assert_int_equal(open_fds(), before);
}

static void test_server_bind_alloc_faults(void **state)
{
    (void)state;
    int before = open_fds();
    for (long nth = 1;; nth++) {
        int fds[4];
        size_t n = 0;
        eddy__alloc_fail(nth, false);
        int err = eddy_bind_sockets(0, NULL, AF_UNSPEC, 0, 0, false, fds, 4,
                                    &n);
        eddy__alloc_fail(0, false);
        if (err == 0) {
            for (size_t i = 0; i < n; i++) {
                close(fds[i]);
            }
            assert_int_equal(open_fds(), before);
            break;
        }
        assert_int_equal(err, -ENOMEM);
        assert_int_equal(open_fds(), before);
    }
}

/* SPEC §9.5: a clash on the port reused for IPv6 starts over. */
static void test_server_bind_port_zero_retry(void **state)
{
    (void)state;
    if (!have_ipv6()) {
        skip();
    }
    int before = open_fds();
    int fds[4];
    size_t n = 0;
    bind_fault_arm(2, 1, false, EADDRINUSE); /* the first IPv6 bind */
    assert_int_equal(eddy_bind_sockets(0, NULL, AF_UNSPEC, 0, 0, false, fds,
                                       4, &n),
                     0);
    assert_int_equal(bind_fault.calls, 4);
    assert_int_equal(n, 2);
    assert_int_equal(port_of(fds[1]), port_of(fds[0]));
    close_all_fds(fds, n);
    /* Every attempt clashes: -EADDRINUSE after 8 attempts, nothing open. */
    bind_fault_arm(2, 0, false, EADDRINUSE);
    assert_int_equal(eddy_bind_sockets(0, NULL, AF_UNSPEC, 0, 0, false, fds,
                                       4, &n),
                     -EADDRINUSE);
    assert_int_equal(bind_fault.calls, 16);
    assert_int_equal(open_fds(), before);
    /* An explicit port is never changed, so never retried. */
    int probe = listener_v4(1);
    int port = port_of(probe);
    close(probe);
    bind_fault_arm(2, 0, false, EADDRINUSE);
    assert_int_equal(eddy_bind_sockets(port, NULL, AF_UNSPEC, 0, 0, false,
                                       fds, 4, &n),
                     -EADDRINUSE);
    assert_true(bind_fault.calls <= 2);
    bind_fault_arm(1, 0, false, 0);
    assert_int_equal(open_fds(), before);
}

/* SPEC §9.9: ::1 of "localhost" is skipped when it cannot be bound, any
 * other ::1 is an error, and a call left with nothing fails. */
static void test_server_bind_localhost_v6_skip(void **state)
{
    (void)state;
    int before = open_fds();
    int fds[4];
    size_t n = 0;
    fake_localhost = true;
    bind_fault_arm(1, 0, true, EADDRNOTAVAIL);
    assert_int_equal(eddy_bind_sockets(0, "localhost", AF_UNSPEC, 0, 0, false,
                                       fds, 4, &n),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(family_of(fds[0]), AF_INET);
    close(fds[0]);
    assert_int_equal(eddy_bind_sockets(0, "localhost", AF_INET6, 0, 0, false,
                                       fds, 4, &n),
                     -EADDRNOTAVAIL);
    assert_int_equal(eddy_bind_sockets(0, "::1", AF_INET6, 0, 0, false, fds,
                                       4, &n),
                     -EADDRNOTAVAIL);
    bind_fault_arm(1, 0, false, 0);
    if (have_ipv6()) {
        assert_int_equal(eddy_bind_sockets(0, "localhost", AF_UNSPEC, 0, 0,
                                           false, fds, 4, &n),
                         0);
        assert_int_equal(n, 2); /* sorted: IPv4 first */
        assert_int_equal(family_of(fds[0]), AF_INET);
        assert_int_equal(family_of(fds[1]), AF_INET6);
        close_all_fds(fds, n);
    }
    fake_localhost = false;
    assert_int_equal(open_fds(), before);
}

/* --- accept handler ----------------------------------------------------- */

/* SPEC §9.12: one readiness accepts at most EDDY_DEFAULT_BACKLOG. */
static void test_server_accept_batch_limit(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop(EDDY_CURRENT_NEVER);
    int lfd = listener_v4(256);
    static struct accepted acc;
    memset(&acc, 0, sizeof acc);
    int clients[130];
    for (int i = 0; i < 130; i++) {
        clients[i] = connect_v4(port_of(lfd));
    }
    wait_queued(lfd, 130);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_conn, &acc,
                                             &acc.handler),
                     0);
    run_once(loop);
    assert_int_equal(acc.n, EDDY_DEFAULT_BACKLOG);
    run_once(loop);
    assert_int_equal(acc.n, 130);
    assert_int_equal(eddy_remove_accept_handler(acc.handler), 0);
    close_accepted(&acc);
    for (int i = 0; i < 130; i++) {
        close(clients[i]);
    }
    close(lfd);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* SPEC §9.13: removing inside the batch stops it at once. */
static void test_server_accept_remove_in_batch(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop(EDDY_CURRENT_NEVER);
    int lfd = listener_v4(16);
    static struct accepted acc;
    memset(&acc, 0, sizeof acc);
    acc.remove_at = 3;
    int clients[5];
    for (int i = 0; i < 5; i++) {
        clients[i] = connect_v4(port_of(lfd));
    }
    wait_queued(lfd, 5);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_conn, &acc,
                                             &acc.handler),
                     0);
    run_once(loop);
    run_once(loop);
    assert_int_equal(acc.n, 3);
    assert_int_equal(queued(lfd), 2);
    /* The fd is free for a new registration. */
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_conn, &acc,
                                             &acc.handler),
                     0);
    acc.remove_at = 0;
    run_once(loop);
    assert_int_equal(acc.n, 5);
    assert_int_equal(eddy_remove_accept_handler(acc.handler), 0);
    close_accepted(&acc);
    for (int i = 0; i < 5; i++) {
        close(clients[i]);
    }
    close(lfd);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* SPEC §1.5: a failing callback is reported and accepting goes on. */
static void test_server_accept_cb_error_reported(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop(EDDY_CURRENT_NEVER);
    struct errors errs = {0, 0};
    assert_int_equal(eddy_loop_set_error_handler(loop, on_error, &errs), 0);
    int lfd = listener_v4(16);
    static struct accepted acc;
    memset(&acc, 0, sizeof acc);
    acc.fail_with = -EIO;
    int c1 = connect_v4(port_of(lfd));
    int c2 = connect_v4(port_of(lfd));
    wait_queued(lfd, 2);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_conn, &acc,
                                             &acc.handler),
                     0);
    run_once(loop);
    assert_int_equal(acc.n, 2);
    assert_int_equal(errs.count, 2);
    assert_int_equal(errs.last, -EIO);
    assert_int_equal(eddy_remove_accept_handler(acc.handler), 0);
    close_accepted(&acc);
    close(c1);
    close(c2);
    close(lfd);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* Out of descriptors: the batch ends, the error is reported, the handler
 * stays and accepts once descriptors are free again. */
static void test_server_accept_emfile_reported(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop(EDDY_CURRENT_NEVER);
    struct errors errs = {0, 0};
    assert_int_equal(eddy_loop_set_error_handler(loop, on_error, &errs), 0);
    int lfd = listener_v4(16);
    static struct accepted acc;
    memset(&acc, 0, sizeof acc);
    int c1 = connect_v4(port_of(lfd));
    wait_queued(lfd, 1);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_conn, &acc,
                                             &acc.handler),
                     0);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    struct rlimit low = {(rlim_t)c1 + 1, old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    run_once(loop);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    /* valgrind closes an accepted fd above the limit itself, so there the
     * connection is gone; the kernel alone keeps it queued. */
    const char *preload = getenv("LD_PRELOAD");
    bool kept = preload == NULL || strstr(preload, "vgpreload") == NULL;
    assert_int_equal(acc.n, 0);
    assert_true(errs.count >= 1);
    assert_int_equal(errs.last, -EMFILE);
    run_once(loop);
    assert_int_equal(acc.n, kept ? 1 : 0);
    assert_int_equal(eddy_remove_accept_handler(acc.handler), 0);
    close_accepted(&acc);
    close(c1);
    close(lfd);
    assert_int_equal(eddy_loop_free(loop), 0);
}

static void test_server_accept_add_errors(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop(EDDY_CURRENT_NEVER);
    eddy_accept_handler *h = NULL;
    struct accepted acc;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(eddy_add_accept_handler(loop, p[0], on_conn, &acc, &h),
                     -EINVAL);
    assert_int_equal(eddy_add_accept_handler(loop, s, on_conn, &acc, &h),
                     -EINVAL);
    assert_int_equal(eddy_add_accept_handler(loop, -1, on_conn, &acc, &h),
                     -EBADF);
    assert_int_equal(eddy_add_accept_handler(loop, 1000, on_conn, &acc, &h),
                     -EBADF);
    int lfd = listener_v4(4);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, NULL, &acc, &h),
                     -EINVAL);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_conn, &acc, NULL),
                     -EINVAL);
    eddy_loop_clear_current();
    assert_int_equal(eddy_add_accept_handler(NULL, lfd, on_conn, &acc, &h),
                     -ENOENT);
    eddy__alloc_fail(1, false);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_conn, &acc, &h),
                     -ENOMEM);
    eddy__alloc_fail(0, false);
    assert_null(h);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_conn, &acc, &h),
                     0);
    eddy_accept_handler *h2 = NULL;
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_conn, &acc, &h2),
                     -EEXIST);
    assert_null(h2);
    assert_int_equal(eddy_remove_accept_handler(NULL), -EINVAL);
    assert_int_equal(eddy_remove_accept_handler(h), 0);
    close(lfd);
    close(s);
    close(p[0]);
    close(p[1]);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* close(all_fds) closes the listener through the object close function,
 * and the owner learns it so nothing is closed twice. */
static void test_server_accept_loop_close_all_fds(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop(EDDY_CURRENT_NEVER);
    int lfd = listener_v4(4);
    eddy_accept_handler *h = NULL;
    struct accepted acc;
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_conn, &acc, &h),
                     0);
    assert_false(eddy__accept_handler_fd_closed(h));
    assert_ptr_equal(eddy__accept_handler_loop(h), loop);
    assert_int_equal(eddy_loop_close(loop, true), 0);
    assert_true(eddy__accept_handler_fd_closed(h));
    assert_int_equal(fcntl(lfd, F_GETFD), -1);
    assert_int_equal(eddy_remove_accept_handler(h), 0);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* --- the server ---------------------------------------------------------- */

static int count_conn(eddy_server *server, eddy_loop *loop, int fd,
                      const struct sockaddr *addr, socklen_t addrlen,
                      void *arg)
{
    (void)server;
    (void)loop;
    (void)addr;
    (void)addrlen;
    (*(int *)arg)++;
    close(fd);
    return 0;
}

static int stop_from_conn(eddy_server *server, eddy_loop *loop, int fd,
                          const struct sockaddr *addr, socklen_t addrlen,
                          void *arg)
{
    (void)loop;
    (void)addr;
    (void)addrlen;
    (*(int *)arg)++;
    close(fd);
    return eddy_server_free(server);
}

static int first_port(const eddy_server *server)
{
    int fds[8];
    size_t n = 0;
    assert_int_equal(eddy_server_sockets(server, fds, 8, &n), 0);
    assert_true(n >= 1);
    return port_of(fds[0]);
}

static void test_server_lifecycle(void **state)
{
    (void)state;
    int before = open_fds();
    eddy_loop *loop = new_loop(EDDY_CURRENT_FORCE);
    int conns = 0;
    eddy_server *srv = NULL;
    assert_int_equal(eddy_server_new(count_conn, &conns, &srv), 0);
    assert_int_equal(eddy_server_bind(srv, 0, "127.0.0.1", AF_INET, 0, 0,
                                      false),
                     0);
    int port = first_port(srv);
    int c = connect_v4(port); /* queued before start: bound, not served */
    run_once(loop);
    assert_int_equal(conns, 0);
    assert_int_equal(eddy_server_start(srv, 1, -1), 0);
    assert_int_equal(eddy_task_id(), -1);
    assert_int_equal(eddy_server_start(srv, 1, -1), -EALREADY);
    run_once(loop);
    assert_int_equal(conns, 1);
    /* bind after start serves at once */
    assert_int_equal(eddy_server_bind(srv, 0, "127.0.0.1", AF_INET, 0, 0,
                                      false),
                     0);
    int fds[4];
    size_t n = 0;
    assert_int_equal(eddy_server_sockets(srv, fds, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(eddy_server_sockets(srv, fds, 1, &n), -ERANGE);
    int c2 = connect_v4(port_of(fds[1]));
    wait_queued(fds[1], 1);
    run_once(loop);
    assert_int_equal(conns, 2);
    assert_int_equal(eddy_server_stop(srv), 0);
    assert_int_equal(eddy_server_stop(srv), 0);
    assert_int_equal(eddy_server_listen(srv, 0, "127.0.0.1", 0, 0, 0, false),
                     -ESHUTDOWN);
    assert_int_equal(eddy_server_start(srv, 1, -1), -ESHUTDOWN);
    assert_int_equal(eddy_server_sockets(srv, fds, 4, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(eddy_server_free(srv), 0);
    assert_int_equal(eddy_server_free(NULL), 0);
    close(c);
    close(c2);
    assert_int_equal(eddy_loop_free(loop), 0);
    assert_int_equal(open_fds(), before);
}

/* A connection callback may free its own server mid-batch. */
static void test_server_free_from_callback(void **state)
{
    (void)state;
    int before = open_fds();
    eddy_loop *loop = new_loop(EDDY_CURRENT_FORCE);
    int conns = 0;
    eddy_server *srv = NULL;
    assert_int_equal(eddy_server_new(stop_from_conn, &conns, &srv), 0);
    assert_int_equal(eddy_server_listen(srv, 0, "127.0.0.1", 0, 0, 0, false),
                     0);
    int lfd = -1;
    size_t n = 0;
    assert_int_equal(eddy_server_sockets(srv, &lfd, 1, &n), 0);
    int c1 = connect_v4(port_of(lfd));
    int c2 = connect_v4(port_of(lfd));
    wait_queued(lfd, 2);
    run_once(loop);
    assert_int_equal(conns, 1);
    close(c1);
    close(c2);
    assert_int_equal(eddy_loop_free(loop), 0);
    assert_int_equal(open_fds(), before);
}

/* add_sockets without a current loop creates one the caller owns; a
 * failure leaves no loop behind and the caller keeps the sockets. */
static void test_server_add_sockets_current_loop(void **state)
{
    (void)state;
    eddy_loop_clear_current();
    int conns = 0;
    eddy_server *srv = NULL;
    assert_int_equal(eddy_server_new(count_conn, &conns, &srv), 0);
    int lfd = listener_v4(4);
    eddy_loop *loop = NULL;
    for (long nth = 1;; nth++) {
        eddy__alloc_fail(nth, false);
        int err = eddy_server_add_socket(srv, lfd);
        eddy__alloc_fail(0, false);
        if (err == 0) {
            break;
        }
        assert_int_equal(err, -ENOMEM);
        assert_int_equal(eddy_loop_current(false, &loop), -ENOENT);
        assert_int_equal(sockopt(lfd, SOL_SOCKET, SO_ACCEPTCONN), 1);
    }
    assert_int_equal(eddy_loop_current(false, &loop), 0);
    assert_int_equal(eddy_server_add_socket(srv, lfd), -EEXIST);
    int bad[2] = {lfd, -1};
    assert_int_equal(eddy_server_add_sockets(srv, bad, 2), -EEXIST);
    assert_int_equal(eddy_server_add_sockets(srv, NULL, 1), -EINVAL);
    assert_int_equal(eddy_server_add_sockets(srv, NULL, 0), 0);
    int c = connect_v4(port_of(lfd));
    wait_queued(lfd, 1);
    run_once(loop);
    assert_int_equal(conns, 1);
    assert_int_equal(eddy_server_free(srv), 0);
    assert_int_equal(fcntl(lfd, F_GETFD), -1); /* the server closed it */
    close(c);
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* SPEC §9.21: stop closes sockets bound but never started. */
static void test_server_stop_closes_pending(void **state)
{
    (void)state;
    int before = open_fds();
    int conns = 0;
    eddy_server *srv = NULL;
    assert_int_equal(eddy_server_new(count_conn, &conns, &srv), 0);
    assert_int_equal(eddy_server_bind(srv, 0, NULL, AF_UNSPEC, 0, 0, false),
                     0);
    assert_true(open_fds() > before);
    assert_int_equal(eddy_server_free(srv), 0);
    assert_int_equal(open_fds(), before);
}

/* Every allocation of bind, listen and start can fail cleanly. */
static void test_server_alloc_faults(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop(EDDY_CURRENT_FORCE);
    int before = open_fds() - 1;
    for (long nth = 1;; nth++) {
        int conns = 0;
        eddy_server *srv = NULL;
        eddy__alloc_fail(nth, false);
        int err = eddy_server_new(count_conn, &conns, &srv);
        if (err == 0) {
            err = eddy_server_bind(srv, 0, "127.0.0.1", 0, 0, 0, false);
        }
        if (err == 0) {
            err = eddy_server_listen(srv, 0, "127.0.0.1", 0, 0, 0, false);
        }
        if (err == 0) {
            err = eddy_server_start(srv, 1, -1);
        }
        eddy__alloc_fail(0, false);
        assert_true(err == 0 || err == -ENOMEM);
        assert_int_equal(eddy_server_free(srv), 0);
        assert_int_equal(open_fds(), before + 1); /* the loop's own fd */
        if (err == 0) {
            break;
        }
    }
    assert_int_equal(eddy_loop_free(loop), 0);
}

/* After close(all_fds) the loop closed the listener: stop must not close
 * the descriptor number again (it may belong to someone else by now). */
static void test_server_stop_after_loop_closed_fds(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop(EDDY_CURRENT_FORCE);
    int conns = 0;
    eddy_server *srv = NULL;
    assert_int_equal(eddy_server_new(count_conn, &conns, &srv), 0);
    assert_int_equal(eddy_server_listen(srv, 0, "127.0.0.1", 0, 0, 0, false),
                     0);
    int fds[2];
    size_t n = 0;
    assert_int_equal(eddy_server_sockets(srv, fds, 2, &n), 0);
    assert_int_equal(eddy_loop_close(loop, true), 0);
    /* Take descriptors until the listener's old number comes back. */
    int taken[8];
    int nt = 0;
    do {
        taken[nt] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(taken[nt] >= 0);
    } while (taken[nt++] != fds[0] && nt < 8);
    assert_int_equal(taken[nt - 1], fds[0]);
    assert_int_equal(eddy_server_free(srv), 0);
    assert_true(fcntl(fds[0], F_GETFD) >= 0);
    for (int i = 0; i < nt; i++) {
        close(taken[i]);
    }
    assert_int_equal(eddy_loop_free(loop), 0);
}

static atomic_bool loop_running;

static int mark_running(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    atomic_store(&loop_running, true);
    return 0;
}

static int stop_loop(eddy_loop *loop, void *arg)
{
    (void)arg;
    return eddy_loop_stop(loop);
}

static void *run_loop(void *arg)
{
    eddy_loop_start(arg);
    return NULL;
}

/* SPEC §1.6: stop from a thread other than the running loop's changes
 * nothing. */
static void test_server_stop_wrong_thread(void **state)
{
    (void)state;
    eddy_loop *loop = new_loop(EDDY_CURRENT_FORCE);
    int conns = 0;
    eddy_server *srv = NULL;
    assert_int_equal(eddy_server_new(count_conn, &conns, &srv), 0);
    assert_int_equal(eddy_server_listen(srv, 0, "127.0.0.1", 0, 0, 0, false),
                     0);
    eddy_loop_clear_current();
    atomic_store(&loop_running, false);
    assert_int_equal(eddy_loop_add_callback(loop, mark_running, NULL), 0);
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, run_loop, loop), 0);
    while (!atomic_load(&loop_running)) {
        usleep(1000);
    }
    assert_int_equal(eddy_server_stop(srv), -EPERM);
    assert_int_equal(eddy_server_free(srv), -EPERM);
    int fd = -1;
    size_t n = 0;
    assert_int_equal(eddy_server_sockets(srv, &fd, 1, &n), 0);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
    assert_int_equal(eddy_loop_add_callback(loop, stop_loop, NULL), 0);
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_int_equal(eddy_server_free(srv), 0);
    assert_int_equal(eddy_loop_free(loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_gai_error_mapping),
        cmocka_unit_test(test_server_addrinfo_order),
        cmocka_unit_test(test_server_bind_v4_options),
        cmocka_unit_test(test_server_bind_dual_stack),
        cmocka_unit_test(test_server_bind_invalid),
        cmocka_unit_test(test_server_bind_busy_port_closes_all),
        cmocka_unit_test(test_server_bind_emfile_closes_all),
        cmocka_unit_test(test_server_bind_alloc_faults),
        cmocka_unit_test(test_server_bind_port_zero_retry),
        cmocka_unit_test(test_server_bind_localhost_v6_skip),
        cmocka_unit_test(test_server_accept_batch_limit),
        cmocka_unit_test(test_server_accept_remove_in_batch),
        cmocka_unit_test(test_server_accept_cb_error_reported),
        cmocka_unit_test(test_server_accept_emfile_reported),
        cmocka_unit_test(test_server_accept_add_errors),
        cmocka_unit_test(test_server_accept_loop_close_all_fds),
        cmocka_unit_test(test_server_lifecycle),
        cmocka_unit_test(test_server_free_from_callback),
        cmocka_unit_test(test_server_add_sockets_current_loop),
        cmocka_unit_test(test_server_stop_closes_pending),
        cmocka_unit_test(test_server_alloc_faults),
        cmocka_unit_test(test_server_stop_after_loop_closed_fds),
        cmocka_unit_test(test_server_stop_wrong_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
