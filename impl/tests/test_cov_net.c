/* impl/tests/test_cov_net.c - the paths of bind_sockets, the accept
 * handler and the TCP server (SPEC §9) that need a socket call to fail or
 * be interrupted, plus argument checks and corner cases the other tests
 * leave out. The socket calls are wrapped and behave normally until a
 * test arms them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "process_os.h"

/* The sanitizer runtimes are linked statically and call some of the
 * wrapped functions themselves, before they are initialised: the wrappers
 * must not be instrumented at all (TSan's function entry included). */
#if defined(__has_attribute)
#if __has_attribute(disable_sanitizer_instrumentation)
#define NO_SANITIZE __attribute__((disable_sanitizer_instrumentation))
#endif
#endif
#ifndef NO_SANITIZE
#define NO_SANITIZE
#endif

/* --- wrapped socket calls ------------------------------------------------- */

static struct {
    int socket_err;     /* socket() fails with this */
    int reuseaddr_err;  /* setsockopt(SO_REUSEADDR) fails with this */
    int reuseport_err;  /* setsockopt(SO_REUSEPORT) fails with this */
    int listen_err;     /* listen() fails with this */
    int getsockname;    /* 1: fails with ENOBUFS; 2: reports port 0 */
    int accept_errs[4]; /* the next accept4 calls fail with these, in turn */
} arm;

int __real_socket(int domain, int type, int protocol);
int __real_setsockopt(int fd, int level, int name, const void *v,
                      socklen_t len);
int __real_listen(int fd, int backlog);
int __real_getsockname(int fd, struct sockaddr *sa, socklen_t *len);
int __real_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);

static int injected(int err)
{
    errno = err;
    return -1;
}

NO_SANITIZE
int __wrap_socket(int domain, int type, int protocol)
{
    return arm.socket_err != 0 ? injected(arm.socket_err)
                               : __real_socket(domain, type, protocol);
}

NO_SANITIZE
int __wrap_setsockopt(int fd, int level, int name, const void *v, socklen_t len)
{
    if (level == SOL_SOCKET && name == SO_REUSEADDR && arm.reuseaddr_err) {
        return injected(arm.reuseaddr_err);
    }
    if (level == SOL_SOCKET && name == SO_REUSEPORT && arm.reuseport_err) {
        return injected(arm.reuseport_err);
    }
    return __real_setsockopt(fd, level, name, v, len);
}

NO_SANITIZE
int __wrap_listen(int fd, int backlog)
{
    return arm.listen_err != 0 ? injected(arm.listen_err)
                               : __real_listen(fd, backlog);
}

NO_SANITIZE
int __wrap_getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
    if (arm.getsockname == 1) {
        return injected(ENOBUFS);
    }
    int rc = __real_getsockname(fd, sa, len);
    if (rc == 0 && arm.getsockname == 2) {
        ((struct sockaddr_in *)sa)->sin_port = 0;
    }
    return rc;
}

NO_SANITIZE
int __wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    if (arm.accept_errs[0] != 0) {
        int err = arm.accept_errs[0];
        memmove(arm.accept_errs, arm.accept_errs + 1,
                sizeof arm.accept_errs - sizeof arm.accept_errs[0]);
        arm.accept_errs[3] = 0;
        return injected(err);
    }
    return __real_accept4(fd, sa, len, flags);
}

static int disarm(void **state)
{
    (void)state;
    memset(&arm, 0, sizeof arm);
    return 0;
}

/* --- helpers -------------------------------------------------------------- */

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++) {
        n += fcntl(fd, F_GETFD) >= 0;
    }
    return n;
}

static int bind_v4(int *fd)
{
    size_t n = 0;
    return eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, false, fd, 1, &n);
}

static int port_of(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}

static int connect_to(int port)
{
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof sin), 0);
    return c;
}

static int accepted;

static int on_conn(eddy_loop *loop, int fd, const struct sockaddr *addr,
                   socklen_t len, void *arg)
{
    (void)loop;
    (void)addr;
    (void)len;
    (void)arg;
    accepted++;
    close(fd);
    return 0;
}

static int on_server_conn(eddy_server *server, eddy_loop *loop, int fd,
                          const struct sockaddr *addr, socklen_t len, void *arg)
{
    (void)server;
    return on_conn(loop, fd, addr, len, arg);
}

static int stop_now(eddy_loop *loop, void *arg)
{
    (void)arg;
    return eddy_loop_stop(loop);
}

/* --- bind_sockets ------------------------------------------------------------
 */

/* SPEC §9.7, §9.10: whichever socket call fails, the call returns its
 * error with nothing left open; an address family the host cannot open
 * is an error too when it is the only one (§9.9). */
static void test_cov_net_bind_socket_call_failures(void **state)
{
    (void)state;
    int before = open_fds();
    int fd = -1;
    size_t n = 0;
    arm.socket_err = EMFILE;
    assert_int_equal(bind_v4(&fd), -EMFILE);
    arm.socket_err = EAFNOSUPPORT;
    assert_int_equal(bind_v4(&fd), -EAFNOSUPPORT);
    arm.socket_err = 0;
    arm.reuseaddr_err = EINVAL;
    assert_int_equal(bind_v4(&fd), -EINVAL);
    arm.reuseaddr_err = ENOPROTOOPT; /* tolerated: some systems lack it */
    assert_int_equal(bind_v4(&fd), 0);
    close(fd);
    arm.reuseaddr_err = 0;
    arm.reuseport_err = ENOMEM;
    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, true, &fd, 1, &n),
        -ENOMEM);
    arm.reuseport_err = 0;
    arm.listen_err = EADDRINUSE;
    assert_int_equal(bind_v4(&fd), -EADDRINUSE);
    arm.listen_err = 0;
    arm.getsockname = 1;
    assert_int_equal(bind_v4(&fd), -ENOBUFS);
    arm.getsockname = 2;
    assert_int_equal(bind_v4(&fd), -EIO);
    arm.getsockname = 0;
    assert_int_equal(open_fds(), before);
}

/* Duplicates are exact: same family with another socket type, protocol or
 * length is kept (SPEC §9.1). */
static void test_cov_net_addrinfo_duplicates_are_exact(void **state)
{
    (void)state;
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    struct addrinfo ai[4];
    memset(ai, 0, sizeof ai);
    struct addrinfo *list[4];
    for (int i = 0; i < 4; i++) {
        ai[i].ai_family = AF_INET;
        ai[i].ai_socktype = SOCK_STREAM;
        ai[i].ai_protocol = IPPROTO_TCP;
        ai[i].ai_addrlen = sizeof v4;
        ai[i].ai_addr = (struct sockaddr *)&v4;
        list[i] = &ai[i];
    }
    ai[1].ai_socktype = SOCK_DGRAM;
    ai[2].ai_protocol = 0;
    ai[3].ai_addrlen = sizeof v4 - 1;
    assert_int_equal(eddy__addrinfo_order(list, 4), 4);
}

/* --- the accept handler
 * -------------------------------------------------------- */

/* SPEC §9.11: an interrupted accept is retried and a connection that
 * failed in the queue is skipped; accepting goes on. */
static void test_cov_net_accept_retries_and_skips(void **state)
{
    (void)state;
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &loop), 0);
    int lfd = -1;
    assert_int_equal(bind_v4(&lfd), 0);
    eddy_accept_handler *h = NULL;
    assert_int_equal(eddy_add_accept_handler(loop, lfd, on_conn, NULL, &h), 0);
    int c = connect_to(port_of(lfd));
    accepted = 0;
    arm.accept_errs[0] = EINTR;
    arm.accept_errs[1] = ECONNABORTED;
    arm.accept_errs[2] = EPROTO;
    for (int i = 0; i < 200 && accepted == 0; i++) {
        eddy_loop_stop(loop);
        eddy_loop_start(loop);
        usleep(1000);
    }
    assert_int_equal(accepted, 1);
    close(c);
    assert_int_equal(eddy_remove_accept_handler(h), 0);
    close(lfd);
    eddy_loop_free(loop);
}

struct runner {
    eddy_loop *loop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool running;
};

static int mark_running(eddy_loop *loop, void *arg)
{
    (void)loop;
    struct runner *r = arg;
    pthread_mutex_lock(&r->lock);
    r->running = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static void *run_loop(void *arg)
{
    struct runner *r = arg;
    eddy_loop_start(r->loop);
    return NULL;
}

/* SPEC §1.6: removing an accept handler from a thread other than the one
 * running its loop is refused and changes nothing. */
static void test_cov_net_remove_from_other_thread(void **state)
{
    (void)state;
    struct runner r = {.running = false};
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.cond, NULL);
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_NEVER, &r.loop), 0);
    int lfd = -1;
    assert_int_equal(bind_v4(&lfd), 0);
    eddy_accept_handler *h = NULL;
    assert_int_equal(eddy_add_accept_handler(r.loop, lfd, on_conn, NULL, &h),
                     0);
    assert_int_equal(eddy_loop_add_callback(r.loop, mark_running, &r), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_loop, &r), 0);
    pthread_mutex_lock(&r.lock);
    while (!r.running) {
        pthread_cond_wait(&r.cond, &r.lock);
    }
    pthread_mutex_unlock(&r.lock);
    int rc = eddy_remove_accept_handler(h);
    eddy_loop_add_callback(r.loop, stop_now, NULL);
    pthread_join(t, NULL);
    assert_int_equal(rc, -EPERM);
    assert_int_equal(eddy_remove_accept_handler(h), 0);
    close(lfd);
    eddy_loop_free(r.loop);
    pthread_cond_destroy(&r.cond);
    pthread_mutex_destroy(&r.lock);
}

/* --- the server
 * ------------------------------------------------------------------ */

static void test_cov_net_server_null_arguments(void **state)
{
    (void)state;
    eddy_server *s = NULL;
    size_t n = 0;
    int fd = -1;
    assert_int_equal(eddy_server_new(NULL, NULL, &s), -EINVAL);
    assert_int_equal(eddy_server_new(on_server_conn, NULL, NULL), -EINVAL);
    assert_int_equal(
        eddy_server_bind(NULL, 0, "127.0.0.1", AF_INET, 0, 0, false), -EINVAL);
    assert_int_equal(
        eddy_server_listen(NULL, 0, "127.0.0.1", AF_INET, 0, 0, false),
        -EINVAL);
    assert_int_equal(eddy_server_start(NULL, 1, 0), -EINVAL);
    assert_int_equal(eddy_server_stop(NULL), -EINVAL);
    assert_int_equal(eddy_server_sockets(NULL, &fd, 1, &n), -EINVAL);
    assert_int_equal(eddy_server_new(on_server_conn, NULL, &s), 0);
    assert_int_equal(eddy_server_sockets(s, &fd, 1, NULL), -EINVAL);
    assert_int_equal(eddy_server_sockets(s, NULL, 1, &n), -EINVAL);
    assert_int_equal(eddy_server_add_sockets(s, NULL, 1), -EINVAL);
    assert_int_equal(eddy_server_add_sockets(NULL, &fd, 1), -EINVAL);
    assert_int_equal(eddy_server_free(s), 0);
}

/* Five bound sockets outgrow the first table of four. */
static void test_cov_net_server_table_grows(void **state)
{
    (void)state;
    int before = open_fds();
    eddy_server *s = NULL;
    assert_int_equal(eddy_server_new(on_server_conn, NULL, &s), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(
            eddy_server_bind(s, 0, "127.0.0.1", AF_INET, 0, 0, false), 0);
    }
    int fds[8];
    size_t n = 0;
    assert_int_equal(eddy_server_sockets(s, fds, 8, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(eddy_server_free(s), 0);
    assert_int_equal(open_fds(), before);
}

/* SPEC §9.19: all or nothing. The second socket is already watched on the
 * current loop, so the first, attached a moment before, is detached again
 * and the server keeps neither. */
static void test_cov_net_server_add_sockets_rolls_back(void **state)
{
    (void)state;
    eddy_loop *loop = NULL;
    assert_int_equal(eddy_loop_new(EDDY_CURRENT_FORCE, &loop), 0);
    int a = -1, b = -1;
    assert_int_equal(bind_v4(&a), 0);
    assert_int_equal(bind_v4(&b), 0);
    eddy_accept_handler *other = NULL;
    assert_int_equal(eddy_add_accept_handler(loop, b, on_conn, NULL, &other),
                     0);
    eddy_server *s = NULL;
    assert_int_equal(eddy_server_new(on_server_conn, NULL, &s), 0);
    const int both[2] = {a, b};
    assert_int_equal(eddy_server_add_sockets(s, both, 2), -EEXIST);
    size_t n = 1;
    assert_int_equal(eddy_server_sockets(s, NULL, 0, &n), 0);
    assert_int_equal(n, 0);
    /* a is free again: the server takes it alone. */
    assert_int_equal(eddy_server_add_socket(s, a), 0);
    assert_int_equal(eddy_server_free(s), 0);
    assert_int_equal(eddy_remove_accept_handler(other), 0);
    close(b);
    assert_int_equal(eddy_loop_free(loop), 0);
    eddy_loop_clear_current();
}

/* A fork that fails for good makes a multi-process start fail with its
 * error, in the only process there is. */
static pid_t sim_fork(int task_id, void *arg)
{
    (void)task_id;
    (void)arg;
    return -EPERM;
}

static pid_t sim_reap(pid_t pid, int *status, void *arg)
{
    (void)pid;
    (void)status;
    (void)arg;
    return 0;
}

static int sim_kill(pid_t pid, int sig, void *arg)
{
    (void)pid;
    (void)sig;
    (void)arg;
    return 0;
}

static int sim_wait_fd(int fd, int timeout_ms, void *arg)
{
    (void)fd;
    (void)timeout_ms;
    (void)arg;
    return 0;
}

static int64_t sim_now(void *arg)
{
    (void)arg;
    return 0;
}

static int sim_sigaction(int sig, const struct sigaction *act,
                         struct sigaction *old, void *arg)
{
    (void)arg;
    return sigaction(sig, act, old) == 0 ? 0 : -errno;
}

static void sim_exit(int status, void *arg)
{
    (void)status;
    (void)arg;
}

static void test_cov_net_server_start_fork_fails(void **state)
{
    (void)state;
    static const struct eddy__process_os os = {
        sim_fork, sim_reap,      sim_kill, sim_wait_fd,
        sim_now,  sim_sigaction, sim_exit, NULL};
    eddy__process_set_os(&os, 0);
    eddy_server *s = NULL;
    assert_int_equal(eddy_server_new(on_server_conn, NULL, &s), 0);
    assert_int_equal(eddy_server_bind(s, 0, "127.0.0.1", AF_INET, 0, 0, false),
                     0);
    assert_int_equal(eddy_server_start(s, 2, 0), -EPERM);
    eddy__process_set_os(NULL, -1);
    assert_int_equal(eddy_task_id(), -1);
    assert_int_equal(eddy_server_free(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cov_net_bind_socket_call_failures,
                                  disarm),
        cmocka_unit_test(test_cov_net_addrinfo_duplicates_are_exact),
        cmocka_unit_test_teardown(test_cov_net_accept_retries_and_skips,
                                  disarm),
        cmocka_unit_test(test_cov_net_remove_from_other_thread),
        cmocka_unit_test(test_cov_net_server_null_arguments),
        cmocka_unit_test(test_cov_net_server_table_grows),
        cmocka_unit_test(test_cov_net_server_add_sockets_rolls_back),
        cmocka_unit_test(test_cov_net_server_start_fork_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
