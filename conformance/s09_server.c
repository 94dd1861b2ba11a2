/* conformance/s09_server.c - SPEC §9: bind_sockets, accept handlers and the
 * TCP server, including the bind-then-fork start.
 *
 * Real sockets on 127.0.0.1 (and ::1 where the host has IPv6: without it,
 * the cases check what §9 says happens then). Multi-process cases fork a
 * "service" process that calls start(n); its workers report their task id
 * and pid over a pipe and answer each connection with "<task> <pid>". The
 * case ends the service with SIGTERM (§7) and reaps it; an exit handler
 * kills whatever a failed case left behind.
 */
#define _GNU_SOURCE /* struct tcp_info: a listener's queue and backlog */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- sockets -------------------------------------------------------------- */

static bool have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static int local_addr(int fd, struct sockaddr_storage *ss)
{
    socklen_t len = sizeof *ss;
    assert_int_equal(getsockname(fd, (struct sockaddr *)ss, &len), 0);
    return ss->ss_family;
}

static int port_of(int fd)
{
    struct sockaddr_storage ss;
    if (local_addr(fd, &ss) == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int family_of(int fd)
{
    struct sockaddr_storage ss;
    return local_addr(fd, &ss);
}

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

static bool is_listening(int fd)
{
    int v = 0;
    socklen_t len = sizeof v;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v;
}

/* A blocking client connected to the loopback address of family. */
static int connect_to(int family, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons((uint16_t)port);
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons((uint16_t)port);
        len = sizeof *a;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {10, 0}; /* bound every later read */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* Linux reports a listener's accept queue in tcpi_unacked and its backlog
 * in tcpi_sacked. */
static struct tcp_info listen_info(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    return ti;
}

static void wait_queued(int fd, unsigned n)
{
    for (int i = 0; i < 5000 && listen_info(fd).tcpi_unacked < n; i++) {
        eddy_h_sleep(0.001);
    }
    assert_int_equal(listen_info(fd).tcpi_unacked, n);
}

static void close_fds(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        close(fds[i]);
    }
}

static int bind_v4(int port, int backlog, bool reuse_port)
{
    int fd = -1;
    size_t n = 0;
    assert_int_equal(eddy_bind_sockets(port, "127.0.0.1", AF_INET, backlog,
                                       0, reuse_port, &fd, 1, &n),
                     0);
    assert_int_equal(n, 1);
    return fd;
}

/* SPEC §2.7: stop before start runs exactly one iteration. */
static void run_once(eddy_loop *loop)
{
    assert_int_equal(eddy_loop_stop(loop), 0);
    assert_int_equal(eddy_loop_start(loop), 0);
}

/* --- accept handler bookkeeping ------------------------------------------- */

struct acc {
    int fds[256];
    struct sockaddr_storage peers[256];
    int n;
    int remove_at;         /* remove the handler when n reaches this */
    int seen_by_callback;  /* n when cb_count_seen ran (-1: not yet) */
    eddy_accept_handler *handler;
};

static struct acc A;

static void acc_reset(void)
{
    memset(&A, 0, sizeof A);
    A.seen_by_callback = -1;
}

static int cb_count_seen(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    A.seen_by_callback = A.n;
    return 0;
}

static int on_accept(eddy_loop *loop, int fd, const struct sockaddr *addr,
                     socklen_t addrlen, void *arg)
{
    (void)arg;
    A.fds[A.n] = fd;
    memcpy(&A.peers[A.n], addr, addrlen);
    A.n++;
    if (A.n == 1) {
        eddy_loop_add_callback(loop, cb_count_seen, NULL);
    }
    if (A.n == A.remove_at) {
        return eddy_remove_accept_handler(A.handler);
    }
    return 0;
}

static bool accepted_at_least(void *arg)
{
    return A.n >= *(int *)arg;
}

static void acc_close(void)
{
    close_fds(A.fds, (size_t)A.n);
    A.n = 0;
}

/* --- server bookkeeping --------------------------------------------------- */

static int conns;

static int on_conn(eddy_server *server, eddy_loop *loop, int fd,
                   const struct sockaddr *addr, socklen_t addrlen, void *arg)
{
    (void)server;
    (void)loop;
    (void)addr;
    (void)addrlen;
    if (arg != NULL) {
        *(int *)arg = fd; /* keep the connection */
    } else {
        close(fd);
    }
    conns++;
    return 0;
}

static bool conns_at_least(void *arg)
{
    return conns >= *(int *)arg;
}

static eddy_server *new_server(int *keep)
{
    eddy_server *s = NULL;
    conns = 0;
    assert_int_equal(eddy_server_new(on_conn, keep, &s), 0);
    return s;
}

static int server_fd(const eddy_server *s, size_t i)
{
    int fds[16];
    size_t n = 0;
    assert_int_equal(eddy_server_sockets(s, fds, 16, &n), 0);
    assert_true(i < n);
    return fds[i];
}

/* --- the service: a forked process that runs start(n) --------------------- */

#define MAX_PIDS 64
static pid_t service_pid;
static pid_t worker_pids[MAX_PIDS];
static int nworker_pids;

/* SIGTERM to the supervisor, which ends and reaps its workers (§7), then
 * reap it; SIGKILL to everyone after 10 seconds. Returns whether the
 * supervisor ended on its own; *status is its wait status. */
static bool stop_service(int *status)
{
    kill(service_pid, SIGTERM);
    double end = eddy_h_now() + 10;
    pid_t r = 0;
    while ((r = waitpid(service_pid, status, WNOHANG)) == 0 &&
           eddy_h_now() < end) {
        eddy_h_sleep(0.01);
    }
    if (r == 0) {
        for (int i = 0; i < nworker_pids; i++) {
            kill(worker_pids[i], SIGKILL);
        }
        kill(service_pid, SIGKILL);
        waitpid(service_pid, status, 0);
    }
    service_pid = 0;
    return r != 0;
}

/* At exit of the case process (after a failed assertion skipped
 * end_service): stop whatever the case left. Forked processes inherit the
 * registration, so it acts only in the process that made it. */
static pid_t case_pid;

static void kill_leftovers(void)
{
    int status = 0;
    if (getpid() == case_pid && service_pid > 0) {
        stop_service(&status);
    }
}

/* In a worker: answer "<task> <pid>\n" and close. */
static int on_conn_answer(eddy_server *server, eddy_loop *loop, int fd,
                          const struct sockaddr *addr, socklen_t addrlen,
                          void *arg)
{
    (void)server;
    (void)loop;
    (void)addr;
    (void)addrlen;
    (void)arg;
    char line[64];
    int len = snprintf(line, sizeof line, "%d %d\n", eddy_task_id(),
                       (int)getpid());
    ssize_t w = write(fd, line, (size_t)len);
    close(fd);
    return w == len ? 0 : -EIO;
}

/* What the service and its workers release before they exit, so that
 * memory and descriptor checkers find nothing left open. */
static pid_t service_self;
static eddy_server *service_srv;
static int service_report_fd = -1;
static eddy_loop *worker_loop;

/* The supervisor leaves through exit() after SIGTERM (§7). */
static void service_release(void)
{
    if (getpid() == service_self) {
        eddy_server_free(service_srv);
        close(service_report_fd);
    }
}

static int cb_stop_worker(eddy_loop *loop, void *arg)
{
    (void)arg;
    return eddy_loop_stop(loop);
}

/* A worker stops its loop on SIGTERM and then leaves cleanly. */
static void on_sigterm(int sig)
{
    (void)sig;
    if (eddy_loop_add_callback_from_signal(worker_loop, cb_stop_worker,
                                           NULL) != 0) {
        _exit(95);
    }
}

/* The service process. No cmocka here: failures are exit statuses. */
static void service_main(eddy_server *srv, int n, int report_fd)
{
    service_self = getpid();
    service_srv = srv;
    service_report_fd = report_fd;
    atexit(service_release);
    if (eddy_loop_current(false, &worker_loop) != -ENOENT) {
        _exit(90); /* the loop must not exist before the fork */
    }
    if (eddy_server_start(srv, n, -1) != 0) {
        _exit(91); /* the supervisor returns only errors */
    }
    if (eddy_loop_current(false, &worker_loop) != 0) {
        _exit(93);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigterm;
    sigaction(SIGTERM, &sa, NULL);
    char line[64];
    int len = snprintf(line, sizeof line, "%d %d %d\n", eddy_task_id(),
                       (int)getpid(), (int)getppid());
    if (write(report_fd, line, (size_t)len) != len) {
        _exit(92);
    }
    int rc = eddy_loop_start(worker_loop);
    eddy_server_free(srv);
    eddy_loop_free(worker_loop);
    close(report_fd);
    _exit(rc == 0 ? 0 : 94);
}

/* Fork the service for a server bound in this process; the case's own
 * copies of the sockets are closed (the service keeps its own). */
static int spawn_service(eddy_server *srv, int n)
{
    if (case_pid == 0) {
        case_pid = getpid();
        atexit(kill_leftovers);
    }
    int p[2];
    assert_int_equal(pipe(p), 0);
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        service_main(srv, n, p[1]);
    }
    service_pid = pid;
    close(p[1]);
    assert_int_equal(eddy_server_free(srv), 0);
    return p[0];
}

struct report {
    int task;
    int pid;
    int ppid;
};

/* Read one worker report, waiting at most 10 seconds. */
static struct report read_report(int fd)
{
    struct report r = {-2, 0, 0};
    char line[64];
    size_t len = 0;
    double end = eddy_h_now() + 10;
    while (len < sizeof line - 1 && eddy_h_now() < end) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        if (read(fd, &line[len], 1) != 1) {
            break;
        }
        if (line[len++] == '\n') {
            break;
        }
    }
    line[len] = '\0';
    assert_int_equal(sscanf(line, "%d %d %d", &r.task, &r.pid, &r.ppid), 3);
    if (nworker_pids < MAX_PIDS) {
        worker_pids[nworker_pids++] = r.pid;
    }
    return r;
}

/* Connect and read the answering worker's "<task> <pid>". */
static void ask(int port, int *task, int *pid)
{
    int fd = connect_to(AF_INET, port);
    assert_true(fd >= 0);
    char buf[64];
    ssize_t got = 0;
    ssize_t r;
    while ((r = read(fd, buf + got, sizeof buf - 1 - (size_t)got)) > 0) {
        got += r;
    }
    buf[got] = '\0';
    close(fd);
    assert_int_equal(sscanf(buf, "%d %d", task, pid), 2);
}

/* End the service and check that it ended in time. */
static void end_service(void)
{
    int status = 0;
    if (service_pid > 0) {
        assert_true(stop_service(&status));
        assert_true(WIFEXITED(status) || WIFSIGNALED(status));
    }
}

/* --- §9.1 - §9.10: bind_sockets ------------------------------------------ */

static void c9_1_wildcard_gives_ipv4_then_ipv6(void **state)
{
    /* SPEC §9.1: a NULL or empty address means every interface: with
     * AF_UNSPEC a socket on 0.0.0.0 and, with IPv6, one on ::. */
    (void)state;
    const char *addresses[2] = {NULL, ""};
    for (int k = 0; k < 2; k++) {
        int fds[4];
        size_t n = 0;
        assert_int_equal(eddy_bind_sockets(0, addresses[k], AF_UNSPEC, 0, 0,
                                           false, fds, 4, &n),
                         0);
        assert_int_equal(n, have_ipv6() ? 2 : 1);
        struct sockaddr_storage ss;
        assert_int_equal(local_addr(fds[0], &ss), AF_INET);
        assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr,
                         htonl(INADDR_ANY));
        if (n == 2) {
            assert_int_equal(local_addr(fds[1], &ss), AF_INET6);
            assert_memory_equal(&((struct sockaddr_in6 *)&ss)->sin6_addr,
                                &in6addr_any, sizeof in6addr_any);
        }
        for (size_t i = 0; i < n; i++) {
            assert_true(is_listening(fds[i]));
        }
        close_fds(fds, n);
    }
}

static void c9_1_family_and_address_restrict(void **state)
{
    /* SPEC §9.1: family restricts the result; an address gives the
     * sockets of that address only. */
    (void)state;
    int fds[4];
    size_t n = 0;
    assert_int_equal(eddy_bind_sockets(0, NULL, AF_INET, 0, 0, false, fds, 4,
                                       &n),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(family_of(fds[0]), AF_INET);
    close(fds[0]);
    int rc = eddy_bind_sockets(0, NULL, AF_INET6, 0, 0, false, fds, 4, &n);
    if (have_ipv6()) {
        assert_int_equal(rc, 0);
        assert_int_equal(n, 1);
        assert_int_equal(family_of(fds[0]), AF_INET6);
        close(fds[0]);
    } else {
        assert_true(rc < 0); /* §9.9: nothing usable is an error */
    }
    int fd = bind_v4(0, 0, false);
    struct sockaddr_storage ss;
    local_addr(fd, &ss);
    assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr,
                     htonl(INADDR_LOOPBACK));
    close(fd);
}

static void c9_2_reuseaddr_and_v6only(void **state)
{
    /* SPEC §9.2: SO_REUSEADDR on every socket, IPV6_V6ONLY on IPv6 ones. */
    (void)state;
    int fds[4];
    size_t n = 0;
    assert_int_equal(eddy_bind_sockets(0, NULL, AF_UNSPEC, 0, 0, false, fds,
                                       4, &n),
                     0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sockopt(fds[i], SOL_SOCKET, SO_REUSEADDR) != 0, 1);
        if (family_of(fds[i]) == AF_INET6) {
            assert_int_equal(
                sockopt(fds[i], IPPROTO_IPV6, IPV6_V6ONLY) != 0, 1);
        }
    }
    close_fds(fds, n);
}

static void c9_3_nonblocking_and_cloexec(void **state)
{
    /* SPEC §9.3: every returned socket is non-blocking and close-on-exec. */
    (void)state;
    int fds[4];
    size_t n = 0;
    assert_int_equal(eddy_bind_sockets(0, NULL, AF_UNSPEC, 0, 0, false, fds,
                                       4, &n),
                     0);
    for (size_t i = 0; i < n; i++) {
        assert_true(fcntl(fds[i], F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
    }
    close_fds(fds, n);
}

static void c9_4_port_zero_shared_by_all(void **state)
{
    /* SPEC §9.4: with port 0 every socket of the call gets the port the
     * system chose for the first one. */
    (void)state;
    for (int round = 0; round < 20; round++) {
        int fds[4];
        size_t n = 0;
        assert_int_equal(eddy_bind_sockets(0, NULL, AF_UNSPEC, 0, 0, false,
                                           fds, 4, &n),
                         0);
        int port = port_of(fds[0]);
        assert_true(port > 0);
        for (size_t i = 1; i < n; i++) {
            assert_int_equal(port_of(fds[i]), port);
        }
        close_fds(fds, n);
    }
}

static void c9_5_port_zero_calls_keep_succeeding(void **state)
{
    /* SPEC §9.5: a port-0 call should not fail because the chosen port is
     * taken in another family; it starts over with a new port. Many
     * dual-stack calls in a row, with other ports held, all succeed. */
    (void)state;
    int held[64];
    size_t nheld = 0;
    for (int i = 0; i < 200; i++) {
        int fds[4];
        size_t n = 0;
        assert_int_equal(eddy_bind_sockets(0, NULL, AF_UNSPEC, 0, 0, false,
                                           fds, 4, &n),
                         0);
        if (nheld + n <= 64 && i % 3 == 0) {
            memcpy(&held[nheld], fds, n * sizeof fds[0]);
            nheld += n;
        } else {
            close_fds(fds, n);
        }
    }
    close_fds(held, nheld);
}

static void c9_6_reuse_port(void **state)
{
    /* SPEC §9.6: with reuse_port a second socket can bind the same address
     * and port; without it the bind fails with -EADDRINUSE. */
    (void)state;
    int a = bind_v4(0, 0, true);
    assert_int_equal(sockopt(a, SOL_SOCKET, SO_REUSEPORT) != 0, 1);
    int b = bind_v4(port_of(a), 0, true);
    assert_int_equal(port_of(b), port_of(a));
    int before = eddy_h_open_fds();
    int c = -1;
    size_t n = 9;
    assert_int_equal(eddy_bind_sockets(port_of(a), "127.0.0.1", AF_INET, 0, 0,
                                       false, &c, 1, &n),
                     -EADDRINUSE);
    assert_int_equal(c, -1);
    assert_int_equal(n, 9);
    assert_int_equal(eddy_h_open_fds(), before);
    int plain = bind_v4(0, 0, false);
    assert_int_equal(sockopt(plain, SOL_SOCKET, SO_REUSEPORT), 0);
    assert_int_equal(eddy_bind_sockets(port_of(plain), "127.0.0.1", AF_INET,
                                       0, 0, true, &c, 1, &n),
                     -EADDRINUSE);
    close(a);
    close(b);
    close(plain);
}

static void c9_7_failure_closes_every_socket_of_the_call(void **state)
{
    /* SPEC §9.7: a failing call leaves no socket open. With IPv6, the
     * IPv4 socket is bound first and the IPv6 one then fails. */
    (void)state;
    int holder = -1;
    size_t n = 0;
    int family = have_ipv6() ? AF_INET6 : AF_INET;
    assert_int_equal(eddy_bind_sockets(0, NULL, family, 0, 0, false, &holder,
                                       1, &n),
                     0);
    int before = eddy_h_open_fds();
    int fds[4] = {-1, -1, -1, -1};
    assert_int_equal(eddy_bind_sockets(port_of(holder), NULL, AF_UNSPEC, 0, 0,
                                       false, fds, 4, &n),
                     -EADDRINUSE);
    assert_int_equal(eddy_h_open_fds(), before);
    assert_int_equal(fds[0], -1);
    close(holder);
}

static void c9_8_backlog(void **state)
{
    /* SPEC §9.8: listen(backlog); 0 or less means 128. */
    (void)state;
    int fd = bind_v4(0, 7, false);
    assert_int_equal(listen_info(fd).tcpi_sacked, 7);
    close(fd);
    unsigned cap = 128;
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    if (f != NULL) {
        unsigned v = 0;
        if (fscanf(f, "%u", &v) == 1 && v < cap) {
            cap = v; /* the kernel's own ceiling */
        }
        fclose(f);
    }
    int backlogs[2] = {0, -5};
    for (int i = 0; i < 2; i++) {
        fd = bind_v4(0, backlogs[i], false);
        assert_int_equal(listen_info(fd).tcpi_sacked, cap);
        close(fd);
    }
    assert_int_equal(EDDY_DEFAULT_BACKLOG, 128);
}

static void c9_9_localhost_and_unusable_families(void **state)
{
    /* SPEC §9.9: unusable addresses are skipped, and a call left with none
     * fails instead of returning no socket. */
    (void)state;
    int fds[8];
    size_t n = 0;
    assert_int_equal(eddy_bind_sockets(0, "localhost", AF_UNSPEC, 0, 0, false,
                                       fds, 8, &n),
                     0);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(port_of(fds[i]), port_of(fds[0]));
        int c = connect_to(family_of(fds[i]), port_of(fds[i]));
        assert_true(c >= 0);
        close(c);
    }
    close_fds(fds, n);
    n = 77;
    int rc = eddy_bind_sockets(0, "::1", AF_INET6, 0,
                               AI_PASSIVE | AI_NUMERICHOST, false, fds, 8, &n);
    if (have_ipv6()) {
        assert_int_equal(rc, 0);
        assert_int_equal(n, 1);
        close(fds[0]);
    } else {
        assert_true(rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL);
        assert_int_equal(n, 77);
    }
}

static void c9_10_argument_and_resolver_errors(void **state)
{
    /* SPEC §9.10: -ENOENT, -EINVAL, -ERANGE; nothing open, nothing
     * written. */
    (void)state;
    int before = eddy_h_open_fds();
    int fds[1] = {-1};
    size_t n = 55;
    int bad_ports[3] = {-1, 65536, 70000};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(eddy_bind_sockets(bad_ports[i], "127.0.0.1", AF_INET,
                                           0, 0, false, fds, 1, &n),
                         -EINVAL);
    }
    assert_int_equal(eddy_bind_sockets(0, NULL, AF_UNIX, 0, 0, false, fds, 1,
                                       &n),
                     -EINVAL);
    assert_int_equal(eddy_bind_sockets(0, NULL, 12345, 0, 0, false, fds, 1,
                                       &n),
                     -EINVAL);
    assert_int_equal(eddy_bind_sockets(0, "::1", AF_INET, 0,
                                       AI_PASSIVE | AI_NUMERICHOST, false,
                                       fds, 1, &n),
                     -ENOENT);
    assert_int_equal(eddy_bind_sockets(0, "not-an-address", AF_UNSPEC, 0,
                                       AI_PASSIVE | AI_NUMERICHOST, false,
                                       fds, 1, &n),
                     -ENOENT);
    assert_int_equal(eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, false,
                                       fds, 0, &n),
                     -ERANGE);
    if (have_ipv6()) {
        assert_int_equal(eddy_bind_sockets(0, NULL, AF_UNSPEC, 0, 0, false,
                                           fds, 1, &n),
                         -ERANGE);
    }
    assert_int_equal(fds[0], -1);
    assert_int_equal(n, 55);
    assert_int_equal(eddy_h_open_fds(), before);
}

/* --- §9.11 - §9.14: accept handlers -------------------------------------- */

static void c9_11_accepts_every_connection(void **state)
{
    /* SPEC §9.11: each connection reaches cb once, non-blocking and
     * close-on-exec, with the peer's address. */
    eddy_loop *loop = *state;
    acc_reset();
    int lfd = bind_v4(0, 16, false);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_accept, NULL,
                                             &A.handler),
                     0);
    int clients[3];
    for (int i = 0; i < 3; i++) {
        clients[i] = connect_to(AF_INET, port_of(lfd));
        assert_true(clients[i] >= 0);
    }
    int want = 3;
    assert_true(eddy_h_run_until(loop, accepted_at_least, &want, 10));
    assert_int_equal(A.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(fcntl(A.fds[i], F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(A.fds[i], F_GETFD) & FD_CLOEXEC);
        struct sockaddr_storage mine;
        local_addr(clients[i], &mine);
        bool found = false;
        for (int k = 0; k < 3; k++) {
            const struct sockaddr_in *p = (struct sockaddr_in *)&A.peers[k];
            found = found || (p->sin_family == AF_INET &&
                              p->sin_port ==
                                  ((struct sockaddr_in *)&mine)->sin_port);
        }
        assert_true(found);
        assert_int_equal(write(A.fds[i], "x", 1), 1);
        char c = 0;
        assert_int_equal(read(clients[i], &c, 1), 1);
        close(clients[i]);
    }
    assert_int_equal(eddy_remove_accept_handler(A.handler), 0);
    acc_close();
    close(lfd);
}

static void c9_11_one_readiness_drains_the_queue(void **state)
{
    /* SPEC §9.11: one readiness accepts until accept would block. */
    eddy_loop *loop = *state;
    acc_reset();
    int lfd = bind_v4(0, 16, false);
    int clients[5];
    for (int i = 0; i < 5; i++) {
        clients[i] = connect_to(AF_INET, port_of(lfd));
    }
    wait_queued(lfd, 5);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_accept, NULL,
                                             &A.handler),
                     0);
    run_once(loop);
    assert_int_equal(A.n, 5);
    run_once(loop); /* nothing left: no spurious callback */
    assert_int_equal(A.n, 5);
    assert_int_equal(eddy_remove_accept_handler(A.handler), 0);
    acc_close();
    close_fds(clients, 5);
    close(lfd);
}

static void c9_11_ipv6_connections(void **state)
{
    /* SPEC §9.11: the same over IPv6 where the host has it. */
    eddy_loop *loop = *state;
    if (!have_ipv6()) {
        int fd = -1;
        size_t n = 0;
        assert_true(eddy_bind_sockets(0, "::1", AF_INET6, 0, 0, false, &fd, 1,
                                      &n) < 0);
        return;
    }
    acc_reset();
    int lfd = -1;
    size_t n = 0;
    assert_int_equal(eddy_bind_sockets(0, "::1", AF_INET6, 0, 0, false, &lfd,
                                       1, &n),
                     0);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_accept, NULL,
                                             &A.handler),
                     0);
    int c = connect_to(AF_INET6, port_of(lfd));
    assert_true(c >= 0);
    int want = 1;
    assert_true(eddy_h_run_until(loop, accepted_at_least, &want, 10));
    assert_int_equal(A.peers[0].ss_family, AF_INET6);
    assert_int_equal(eddy_remove_accept_handler(A.handler), 0);
    acc_close();
    close(c);
    close(lfd);
}

static void c9_12_batch_limit_lets_other_work_run(void **state)
{
    /* SPEC §9.12: at most 128 per readiness; the rest comes after the work
     * that became ready in between. */
    eddy_loop *loop = *state;
    acc_reset();
    int lfd = bind_v4(0, 256, false);
    int clients[130];
    for (int i = 0; i < 130; i++) {
        clients[i] = connect_to(AF_INET, port_of(lfd));
        assert_true(clients[i] >= 0);
    }
    wait_queued(lfd, 130);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_accept, NULL,
                                             &A.handler),
                     0);
    int want = 130;
    assert_true(eddy_h_run_until(loop, accepted_at_least, &want, 10));
    assert_int_equal(A.seen_by_callback, EDDY_DEFAULT_BACKLOG);
    assert_int_equal(eddy_remove_accept_handler(A.handler), 0);
    acc_close();
    close_fds(clients, 130);
    close(lfd);
}

static void c9_13_remove_from_callback_stops_the_batch(void **state)
{
    /* SPEC §9.13: removing from cb accepts nothing more; the socket stays
     * open and the other connections stay queued. */
    eddy_loop *loop = *state;
    acc_reset();
    A.remove_at = 2;
    int lfd = bind_v4(0, 16, false);
    int clients[5];
    for (int i = 0; i < 5; i++) {
        clients[i] = connect_to(AF_INET, port_of(lfd));
    }
    wait_queued(lfd, 5);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_accept, NULL,
                                             &A.handler),
                     0);
    run_once(loop);
    run_once(loop);
    assert_int_equal(A.n, 2);
    assert_true(is_listening(lfd));
    assert_int_equal(listen_info(lfd).tcpi_unacked, 3);
    /* removal from outside a batch: the same */
    acc_close();
    A.remove_at = 0;
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_accept, NULL,
                                             &A.handler),
                     0);
    assert_int_equal(eddy_remove_accept_handler(A.handler), 0);
    run_once(loop);
    assert_int_equal(A.n, 0);
    assert_true(is_listening(lfd));
    close_fds(clients, 5);
    close(lfd);
}

struct errs {
    int n;
    int last;
};
static struct errs E;

static void on_error(eddy_loop *loop, int err, void *arg)
{
    (void)loop;
    (void)arg;
    E.n++;
    E.last = err;
}

static void c9_14_descriptor_exhaustion_is_reported(void **state)
{
    /* SPEC §9.14: EMFILE ends the batch and is reported; the handler stays
     * and accepts the connection once descriptors are free. */
    eddy_loop *loop = *state;
    acc_reset();
    memset(&E, 0, sizeof E);
    assert_int_equal(eddy_loop_set_error_handler(loop, on_error, NULL), 0);
    int lfd = bind_v4(0, 16, false);
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_accept, NULL,
                                             &A.handler),
                     0);
    int c = connect_to(AF_INET, port_of(lfd));
    wait_queued(lfd, 1);
    int lowest = dup(0);
    assert_true(lowest >= 0);
    close(lowest);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    struct rlimit low = {(rlim_t)lowest, old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    run_once(loop);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(A.n, 0);
    assert_true(E.n >= 1);
    assert_true(E.last < 0);
    /* valgrind consumes a connection it refuses for want of descriptors */
    const char *pre = getenv("LD_PRELOAD");
    if (pre == NULL || strstr(pre, "vgpreload") == NULL) {
        int want = 1;
        assert_true(eddy_h_run_until(loop, accepted_at_least, &want, 10));
    }
    assert_int_equal(eddy_remove_accept_handler(A.handler), 0);
    acc_close();
    close(c);
    close(lfd);
}

/* --- §9.15 - §9.24: the server ------------------------------------------- */

static void c9_15_bind_takes_the_port_but_start_serves(void **state)
{
    /* SPEC §9.15: bind binds now; the kernel queues connections but none
     * is accepted before start; bind after start is served at once. */
    eddy_loop *loop = *state;
    assert_int_equal(eddy_loop_make_current(loop), 0);
    eddy_server *srv = new_server(NULL);
    assert_int_equal(eddy_server_bind(srv, 0, "127.0.0.1", AF_INET, 0, 0,
                                      false),
                     0);
    assert_int_equal(eddy_server_bind(srv, 0, "127.0.0.1", AF_INET, 0, 0,
                                      false),
                     0);
    int a = server_fd(srv, 0);
    int b = server_fd(srv, 1);
    assert_true(is_listening(a) && is_listening(b));
    int ca = connect_to(AF_INET, port_of(a));
    assert_true(ca >= 0);
    wait_queued(a, 1);
    int never = 1;
    assert_false(eddy_h_run_until(loop, conns_at_least, &never, 0.2));
    assert_int_equal(eddy_server_start(srv, 1, -1), 0);
    int want = 1;
    assert_true(eddy_h_run_until(loop, conns_at_least, &want, 10));
    int cb = connect_to(AF_INET, port_of(b));
    want = 2;
    assert_true(eddy_h_run_until(loop, conns_at_least, &want, 10));
    assert_int_equal(eddy_server_bind(srv, 0, "127.0.0.1", AF_INET, 0, 0,
                                      false),
                     0);
    int cc = connect_to(AF_INET, port_of(server_fd(srv, 2)));
    want = 3;
    assert_true(eddy_h_run_until(loop, conns_at_least, &want, 10));
    assert_int_equal(eddy_server_free(srv), 0);
    close(ca);
    close(cb);
    close(cc);
}

static void c9_16_start_one_forks_nothing(void **state)
{
    /* SPEC §9.16: start(1) serves in this process; task_id stays -1. */
    eddy_loop *loop = *state;
    assert_int_equal(eddy_loop_make_current(loop), 0);
    eddy_server *srv = new_server(NULL);
    assert_int_equal(eddy_server_bind(srv, 0, "127.0.0.1", AF_INET, 0, 0,
                                      false),
                     0);
    assert_int_equal(eddy_server_start(srv, 1, -1), 0);
    assert_int_equal(eddy_task_id(), -1);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    int c = connect_to(AF_INET, port_of(server_fd(srv, 0)));
    int want = 1;
    assert_true(eddy_h_run_until(loop, conns_at_least, &want, 10));
    assert_int_equal(eddy_server_free(srv), 0);
    close(c);
}

/* start(n) in a service; check ids, parents and who answers. */
static void check_workers(int n, int expect)
{
    service_pid = 0;
    nworker_pids = 0;
    assert_true(expect <= MAX_PIDS / 2);
    eddy_server *srv = NULL;
    assert_int_equal(eddy_server_new(on_conn_answer, NULL, &srv), 0);
    assert_int_equal(eddy_server_bind(srv, 0, "127.0.0.1", AF_INET, 0, 0,
                                      false),
                     0);
    int port = port_of(server_fd(srv, 0));
    int rfd = spawn_service(srv, n);
    bool seen[MAX_PIDS] = {false};
    for (int i = 0; i < expect; i++) {
        struct report r = read_report(rfd);
        assert_true(r.task >= 0 && r.task < expect);
        assert_false(seen[r.task]);
        seen[r.task] = true;
        assert_int_equal(r.ppid, service_pid);
        assert_int_not_equal(r.pid, service_pid);
    }
    for (int i = 0; i < 10; i++) {
        int task = -2;
        int pid = 0;
        ask(port, &task, &pid);
        assert_true(task >= 0 && task < expect);
        assert_int_not_equal(pid, service_pid); /* the parent never serves */
        bool known = false;
        for (int k = 0; k < nworker_pids; k++) {
            known = known || worker_pids[k] == pid;
        }
        assert_true(known);
    }
    /* no extra worker appears */
    struct pollfd pfd = {rfd, POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 200), 0);
    end_service();
    close(rfd);
}

static void c9_17_start_n_forks_n_workers(void **state)
{
    /* SPEC §9.17: start(3) forks 3 workers with ids 0..2, each serving
     * the bound socket with a loop made after the fork; the parent never
     * accepts. */
    (void)state;
    check_workers(3, 3);
}

static void c9_17_start_zero_or_less_uses_cpu_count(void **state)
{
    /* SPEC §9.17: start(n <= 0) forks cpu_count() workers. */
    (void)state;
    check_workers(0, eddy_cpu_count());
    check_workers(-1, eddy_cpu_count());
}

static void c9_18_start_twice_is_ealready(void **state)
{
    /* SPEC §9.18: a second start returns -EALREADY and forks nothing. */
    eddy_loop *loop = *state;
    assert_int_equal(eddy_loop_make_current(loop), 0);
    eddy_server *srv = new_server(NULL);
    assert_int_equal(eddy_server_listen(srv, 0, "127.0.0.1", AF_INET, 0, 0,
                                        false),
                     0);
    assert_int_equal(eddy_server_start(srv, 1, -1), 0);
    assert_int_equal(eddy_server_start(srv, 1, -1), -EALREADY);
    assert_int_equal(eddy_server_start(srv, 2, -1), -EALREADY);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(eddy_task_id(), -1);
    size_t n = 0;
    int fds[4];
    assert_int_equal(eddy_server_sockets(srv, fds, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(eddy_server_free(srv), 0);
}

static void c9_19_add_sockets_uses_the_current_loop(void **state)
{
    /* SPEC §9.19: add_sockets serves with the current loop, creating one
     * when there is none; the server then owns the sockets. */
    (void)state;
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_current(false, &loop), -ENOENT);
    eddy_server *srv = new_server(NULL);
    int fd = bind_v4(0, 0, false);
    assert_int_equal(eddy_server_add_sockets(srv, &fd, 1), 0);
    assert_int_equal(eddy_loop_current(false, &loop), 0);
    int c = connect_to(AF_INET, port_of(fd));
    int want = 1;
    assert_true(eddy_h_run_until(loop, conns_at_least, &want, 10));
    int before = eddy_h_open_fds();
    assert_int_equal(eddy_server_free(srv), 0);
    assert_int_equal(eddy_h_open_fds(), before - 1); /* it closed fd */
    assert_int_equal(eddy_loop_free(loop), 0);
    close(c);
}

static void c9_19_add_sockets_is_all_or_nothing(void **state)
{
    /* SPEC §9.19: a non-listening socket (-EINVAL) or one already
     * registered (-EEXIST) fails the call and adds none of the sockets. */
    eddy_loop *loop = *state;
    assert_int_equal(eddy_loop_make_current(loop), 0);
    eddy_server *srv = new_server(NULL);
    int good = bind_v4(0, 0, false);
    int plain = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int both[2] = {good, plain};
    assert_int_equal(eddy_server_add_sockets(srv, both, 2), -EINVAL);
    size_t n = 9;
    int fds[4];
    assert_int_equal(eddy_server_sockets(srv, fds, 4, &n), 0);
    assert_int_equal(n, 0);
    int c = connect_to(AF_INET, port_of(good));
    int never = 1;
    assert_false(eddy_h_run_until(loop, conns_at_least, &never, 0.2));
    assert_int_equal(eddy_server_add_socket(srv, good), 0);
    assert_true(eddy_h_run_until(loop, conns_at_least, &never, 10));
    int other = bind_v4(0, 0, false);
    int again[2] = {other, good};
    assert_int_equal(eddy_server_add_sockets(srv, again, 2), -EEXIST);
    assert_int_equal(eddy_server_sockets(srv, fds, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_true(is_listening(other)); /* still the caller's */
    assert_int_equal(eddy_server_free(srv), 0);
    close(other);
    close(plain);
    close(c);
}

static void c9_20_listen_serves_without_start(void **state)
{
    /* SPEC §9.20: listen binds and serves at once, several times. */
    eddy_loop *loop = *state;
    assert_int_equal(eddy_loop_make_current(loop), 0);
    eddy_server *srv = new_server(NULL);
    assert_int_equal(eddy_server_listen(srv, 0, "127.0.0.1", AF_INET, 0, 0,
                                        false),
                     0);
    assert_int_equal(eddy_server_listen(srv, 0, "127.0.0.1", AF_INET, 0, 0,
                                        false),
                     0);
    int c1 = connect_to(AF_INET, port_of(server_fd(srv, 0)));
    int c2 = connect_to(AF_INET, port_of(server_fd(srv, 1)));
    int want = 2;
    assert_true(eddy_h_run_until(loop, conns_at_least, &want, 10));
    assert_int_equal(eddy_task_id(), -1);
    assert_int_equal(eddy_server_free(srv), 0);
    close(c1);
    close(c2);
}

static void c9_21_stop_closes_every_listener_keeps_connections(void **state)
{
    /* SPEC §9.21: stop closes bound and served sockets alike, keeps
     * accepted connections, is idempotent, and a stopped server takes no
     * new socket. */
    eddy_loop *loop = *state;
    assert_int_equal(eddy_loop_make_current(loop), 0);
    int kept = -1;
    int before = eddy_h_open_fds();
    eddy_server *srv = new_server(&kept);
    assert_int_equal(eddy_server_listen(srv, 0, "127.0.0.1", AF_INET, 0, 0,
                                        false),
                     0);
    assert_int_equal(eddy_server_bind(srv, 0, "127.0.0.1", AF_INET, 0, 0,
                                      false),
                     0);
    int served_port = port_of(server_fd(srv, 0));
    int pending_port = port_of(server_fd(srv, 1));
    int c = connect_to(AF_INET, served_port);
    int want = 1;
    assert_true(eddy_h_run_until(loop, conns_at_least, &want, 10));
    assert_int_equal(eddy_server_stop(srv), 0);
    assert_int_equal(eddy_h_open_fds(), before + 2); /* c and kept */
    assert_int_equal(connect_to(AF_INET, served_port), -ECONNREFUSED);
    assert_int_equal(connect_to(AF_INET, pending_port), -ECONNREFUSED);
    assert_int_equal(write(kept, "ok", 2), 2);
    char buf[2];
    assert_int_equal(read(c, buf, 2), 2);
    assert_int_equal(eddy_server_stop(srv), 0);
    int fd = bind_v4(0, 0, false);
    assert_int_equal(eddy_server_add_socket(srv, fd), -ESHUTDOWN);
    assert_int_equal(eddy_server_listen(srv, 0, "127.0.0.1", 0, 0, 0, false),
                     -ESHUTDOWN);
    assert_int_equal(eddy_server_bind(srv, 0, "127.0.0.1", 0, 0, 0, false),
                     -ESHUTDOWN);
    assert_int_equal(eddy_server_start(srv, 1, -1), -ESHUTDOWN);
    assert_int_equal(eddy_h_open_fds(), before + 3);
    assert_int_equal(eddy_server_free(srv), 0);
    close(fd);
    close(kept);
    close(c);
}

static void c9_22_connection_waits_for_a_restarted_worker(void **state)
{
    /* SPEC §9.22: while no worker accepts, the parent's sockets keep
     * connections queued; a restarted worker serves them. */
    (void)state;
    service_pid = 0;
    nworker_pids = 0;
    eddy_server *srv = NULL;
    assert_int_equal(eddy_server_new(on_conn_answer, NULL, &srv), 0);
    assert_int_equal(eddy_server_bind(srv, 0, "127.0.0.1", AF_INET, 0, 0,
                                      false),
                     0);
    int port = port_of(server_fd(srv, 0));
    int rfd = spawn_service(srv, 2);
    struct report r0 = read_report(rfd);
    struct report r1 = read_report(rfd);
    kill(r0.pid, SIGSTOP);
    kill(r1.pid, SIGSTOP);
    int c = connect_to(AF_INET, port);
    assert_true(c >= 0); /* queued, not refused */
    kill(r0.pid, SIGKILL);
    kill(r1.pid, SIGKILL);
    struct report n0 = read_report(rfd);
    assert_true(n0.pid != r0.pid && n0.pid != r1.pid);
    char buf[64];
    ssize_t got = 0;
    ssize_t k;
    while ((k = read(c, buf + got, sizeof buf - 1 - (size_t)got)) > 0) {
        got += k;
    }
    buf[got] = '\0';
    int task = -2;
    int pid = 0;
    assert_int_equal(sscanf(buf, "%d %d", &task, &pid), 2);
    assert_true(pid != r0.pid && pid != r1.pid && pid != service_pid);
    close(c);
    read_report(rfd); /* the second replacement */
    end_service();
    close(rfd);
}

static void c9_23_sockets_in_bind_order(void **state)
{
    /* SPEC §9.23: the server's sockets, bound and served, in bind order. */
    eddy_loop *loop = *state;
    assert_int_equal(eddy_loop_make_current(loop), 0);
    eddy_server *srv = new_server(NULL);
    size_t n = 5;
    int fds[4];
    assert_int_equal(eddy_server_sockets(srv, fds, 4, &n), 0);
    assert_int_equal(n, 0);
    int first = bind_v4(0, 0, false);
    assert_int_equal(eddy_server_add_socket(srv, first), 0);
    assert_int_equal(eddy_server_bind(srv, 0, NULL, AF_UNSPEC, 0, 0, false),
                     0);
    assert_int_equal(eddy_server_sockets(srv, fds, 4, &n), 0);
    assert_int_equal(n, have_ipv6() ? 3 : 2);
    assert_int_equal(fds[0], first);
    assert_int_equal(family_of(fds[1]), AF_INET);
    if (n == 3) {
        assert_int_equal(family_of(fds[2]), AF_INET6);
    }
    size_t m = 42;
    assert_int_equal(eddy_server_sockets(srv, fds, 1, &m), -ERANGE);
    assert_int_equal(m, 42);
    assert_int_equal(eddy_server_sockets(srv, fds, 4, NULL), -EINVAL);
    assert_int_equal(eddy_server_free(srv), 0);
}

static void c9_24_free_stops_and_releases(void **state)
{
    /* SPEC §9.24: free stops the server (closing its sockets) and releases
     * it; free(NULL) does nothing. */
    (void)state;
    int before = eddy_h_open_fds();
    eddy_server *srv = new_server(NULL);
    assert_int_equal(eddy_server_bind(srv, 0, NULL, AF_UNSPEC, 0, 0, false),
                     0);
    assert_true(eddy_h_open_fds() > before);
    assert_int_equal(eddy_server_free(srv), 0);
    assert_int_equal(eddy_h_open_fds(), before);
    assert_int_equal(eddy_server_free(NULL), 0);
}

static const struct eddy_case cases[] = {
    EDDY_CASE(c9_1_wildcard_gives_ipv4_then_ipv6, "9.2"),
    EDDY_CASE(c9_1_family_and_address_restrict, "9.9"),
    EDDY_CASE(c9_2_reuseaddr_and_v6only, ""),
    EDDY_CASE(c9_3_nonblocking_and_cloexec, ""),
    EDDY_CASE(c9_4_port_zero_shared_by_all, ""),
    EDDY_CASE(c9_5_port_zero_calls_keep_succeeding, "9.4"),
    EDDY_CASE(c9_6_reuse_port, "9.7 1.2"),
    EDDY_CASE(c9_7_failure_closes_every_socket_of_the_call, "1.2"),
    EDDY_CASE(c9_8_backlog, ""),
    EDDY_CASE(c9_9_localhost_and_unusable_families, "9.4"),
    EDDY_CASE(c9_10_argument_and_resolver_errors, "1.2 1.8"),
    EDDY_CASE_LOOP(c9_11_accepts_every_connection, ""),
    EDDY_CASE_LOOP(c9_11_one_readiness_drains_the_queue, "2.7"),
    EDDY_CASE_LOOP(c9_11_ipv6_connections, ""),
    EDDY_CASE_LOOP(c9_12_batch_limit_lets_other_work_run, "2.13"),
    EDDY_CASE_LOOP(c9_13_remove_from_callback_stops_the_batch, ""),
    EDDY_CASE_LOOP(c9_14_descriptor_exhaustion_is_reported, "1.5"),
    EDDY_CASE_LOOP(c9_15_bind_takes_the_port_but_start_serves, "9.23"),
    EDDY_CASE_LOOP(c9_16_start_one_forks_nothing, "7.4"),
    EDDY_CASE(c9_17_start_n_forks_n_workers, "7.2 7.4"),
    EDDY_CASE(c9_17_start_zero_or_less_uses_cpu_count, "7.1 7.3"),
    EDDY_CASE_LOOP(c9_18_start_twice_is_ealready, ""),
    EDDY_CASE(c9_19_add_sockets_uses_the_current_loop, "2.2"),
    EDDY_CASE_LOOP(c9_19_add_sockets_is_all_or_nothing, "1.3"),
    EDDY_CASE_LOOP(c9_20_listen_serves_without_start, ""),
    EDDY_CASE_LOOP(c9_21_stop_closes_every_listener_keeps_connections, ""),
    EDDY_CASE(c9_22_connection_waits_for_a_restarted_worker, "7.5"),
    EDDY_CASE_LOOP(c9_23_sockets_in_bind_order, "9.1"),
    EDDY_CASE(c9_24_free_stops_and_releases, ""),
};
EDDY_SECTION(s09, "9", "Multi-process server start", cases);
