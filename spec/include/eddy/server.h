/* eddy/server.h - SPEC §9: listening sockets and the multi-process server.
 *
 * eddy_bind_sockets is Tornado's netutil.bind_sockets, and
 * eddy_add_accept_handler its add_accept_handler. An eddy_server is
 * Tornado's TCPServer: bind() opens sockets before any fork, start(n) forks
 * n workers through eddy_fork_processes, and each worker (or the single
 * process) then accepts on the inherited sockets with its own loop.
 */
#ifndef EDDY_SERVER_H
#define EDDY_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "eddy/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The listen backlog used when none is given, and the most connections an
 * accept handler takes per readiness (SPEC §9.8, §9.12). */
#define EDDY_DEFAULT_BACKLOG 128

/* Tornado netutil.bind_sockets(port, address, family, backlog, flags,
 * reuse_port): one non-blocking, close-on-exec TCP socket listening on
 * each address that address resolves to, all on the same port.
 *
 * port is 0..65535; 0 lets the kernel choose a port for the first socket
 * and reuses it for the others. address NULL or "" means every interface.
 * family is AF_UNSPEC (both IPv4 and IPv6), AF_INET or AF_INET6. backlog
 * <= 0 means EDDY_DEFAULT_BACKLOG. flags are getaddrinfo AI_* flags; 0
 * means AI_PASSIVE (Tornado's default). IPv6 sockets are IPv6-only.
 *
 * Returns: 0, fds[0..*count-1] the sockets (IPv4 first), *count >= 1.
 * Errors: -EINVAL port out of range, family not one of the three, count
 *   NULL, or fds NULL with cap > 0; -ENOTSUP reuse_port on a platform
 *   without SO_REUSEPORT; -ENOENT address does not resolve (in family);
 *   -EAGAIN a temporary resolver failure; -EAFNOSUPPORT no address could
 *   get a socket (for example IPv6 only on a host without IPv6);
 *   -ERANGE more than cap sockets would be needed; -EADDRINUSE,
 *   -EADDRNOTAVAIL, -EACCES and other bind/listen/socket errors. On any
 *   error every socket this call opened is closed again.
 * Ownership: the caller owns the returned descriptors.
 * Thread-safety: any thread.
 * SPEC §9.1-§9.10
 */
int eddy_bind_sockets(int port, const char *address, int family, int backlog,
                      int flags, bool reuse_port, int *fds, size_t cap,
                      size_t *count);

typedef struct eddy_accept_handler eddy_accept_handler;

/* Called on the loop thread for each accepted connection. fd is
 * non-blocking and close-on-exec and belongs to the callback from then
 * on; addr (addrlen bytes) is the peer's address, valid during the call.
 * Returns 0, or a negative errno value to report a failure (SPEC §1.5):
 * the loop's error handler gets it and accepting goes on. */
typedef int (*eddy_accept_cb)(eddy_loop *loop, int fd,
                              const struct sockaddr *addr, socklen_t addrlen,
                              void *arg);

/* Tornado netutil.add_accept_handler(sock, callback): watch listen_fd on
 * loop (NULL: the calling thread's current loop) and, each time it is
 * readable, accept up to EDDY_DEFAULT_BACKLOG connections, calling cb for
 * each, until accept would block.
 *
 * Returns: 0 and *out, the handle that eddy_remove_accept_handler takes.
 * Errors: -EINVAL cb or out is NULL, or listen_fd is not a listening
 *   socket; -EBADF listen_fd is not open; -ENOENT loop is NULL and the
 *   thread has no current loop; -EEXIST listen_fd is already registered on
 *   the loop; -ENOMEM; -ESHUTDOWN closed; -EPERM wrong thread.
 * Ownership: listen_fd stays the caller's; *out is freed by
 *   eddy_remove_accept_handler, which must be called before the loop is
 *   freed.
 * Thread-safety: loop thread.
 * SPEC §9.11, §9.12, §9.14
 */
int eddy_add_accept_handler(eddy_loop *loop, int listen_fd, eddy_accept_cb cb,
                            void *arg, eddy_accept_handler **out);

/* The remover that Tornado's add_accept_handler returns: unregister the
 * handler, accept nothing more (also when called from cb in the middle of
 * a batch) and free the handle. listen_fd is not closed. After the loop
 * was closed it only frees the handle.
 *
 * Returns: 0.
 * Errors: -EINVAL handler is NULL; -EPERM wrong thread (nothing is done).
 * Thread-safety: loop thread.
 * SPEC §9.13
 */
int eddy_remove_accept_handler(eddy_accept_handler *handler);

typedef struct eddy_server eddy_server;

/* Tornado TCPServer.handle_stream: called on the loop thread for each
 * connection, as eddy_accept_cb (fd belongs to the callback). */
typedef int (*eddy_connection_cb)(eddy_server *server, eddy_loop *loop,
                                  int fd, const struct sockaddr *addr,
                                  socklen_t addrlen, void *arg);

/* Create a server that is neither started nor listening.
 * Returns: 0 and *out. Errors: -EINVAL cb or out is NULL; -ENOMEM.
 * Ownership: the caller frees it with eddy_server_free, before freeing
 *   any loop its sockets were added to.
 * Thread-safety: any thread.
 * SPEC §9.15
 */
int eddy_server_new(eddy_connection_cb cb, void *arg, eddy_server **out);

/* Stop the server (eddy_server_stop) and free it. NULL is a no-op.
 * Returns: 0. Errors: -EPERM called from a thread other than the one
 *   running a loop the server accepts on (nothing is done).
 * Thread-safety: the loop thread of its sockets. SPEC §9.24
 */
int eddy_server_free(eddy_server *server);

/* Tornado TCPServer.bind: eddy_bind_sockets(...) now, in this process;
 * before start() the sockets wait for it, after start() they are added at
 * once as by eddy_server_add_sockets.
 *
 * Returns: 0. Errors: those of eddy_bind_sockets; -EINVAL server is
 *   NULL; -ESHUTDOWN the server was stopped; after start(), those of eddy_server_add_sockets. On error
 *   no socket stays open.
 * Thread-safety: as eddy_server_add_sockets.
 * SPEC §9.15
 */
int eddy_server_bind(eddy_server *server, int port, const char *address,
                     int family, int backlog, int flags, bool reuse_port);

/* Tornado TCPServer.start(num_processes, max_restarts): 1 runs in this
 * process; <= 0 forks one worker per processor (eddy_cpu_count), > 1 that
 * many, through eddy_fork_processes(num_processes, max_restarts). Then, in
 * the single process or in each worker, the bound sockets are added as by
 * eddy_server_add_sockets. In the supervising parent it behaves as
 * eddy_fork_processes does there.
 *
 * Returns: 0 (in a worker or the single process).
 * Errors: -EINVAL server is NULL; -EALREADY start() was already called;
 *   -ESHUTDOWN stopped; the errors of eddy_fork_processes and of
 *   eddy_server_add_sockets.
 * Thread-safety: as eddy_server_add_sockets.
 * SPEC §9.16, §9.17, §9.18, §9.22
 */
int eddy_server_start(eddy_server *server, int num_processes,
                      int max_restarts);

/* Tornado TCPServer.add_sockets: accept on each listening socket with the
 * calling thread's current loop; when the thread has none, a loop is
 * created as by eddy_loop_current(true) and the caller owns it.
 *
 * Returns: 0; the server owns the sockets from then on (stop closes them).
 * Errors: -EINVAL server NULL, fds NULL with n > 0, or an fd is not a
 *   listening socket;
 *   -EBADF; -EEXIST an fd is already registered on that loop; -ESHUTDOWN
 *   the server was stopped or the loop is closed; -EPERM wrong thread;
 *   -ENOMEM. On error no socket is added and the caller keeps them all.
 * Thread-safety: the thread of the current loop.
 * SPEC §9.19
 */
int eddy_server_add_sockets(eddy_server *server, const int *fds, size_t n);

/* Tornado TCPServer.add_socket: eddy_server_add_sockets(server, &fd, 1). */
int eddy_server_add_socket(eddy_server *server, int fd);

/* Tornado TCPServer.listen: eddy_server_bind and add the sockets at once,
 * whether or not start() was called (start(1) is not needed).
 * Returns, Errors, Thread-safety: as eddy_server_bind.
 * SPEC §9.20
 */
int eddy_server_listen(eddy_server *server, int port, const char *address,
                       int family, int backlog, int flags, bool reuse_port);

/* Tornado TCPServer.stop: stop accepting and close every listening socket
 * of the server, also those bound but never added. Connections already
 * accepted are not touched. A second stop does nothing; a stopped server
 * takes no new sockets.
 * Returns: 0. Errors: -EINVAL server is NULL; -EPERM wrong thread
 *   (nothing is done).
 * Thread-safety: the loop thread of its sockets.
 * SPEC §9.21
 */
int eddy_server_stop(eddy_server *server);

/* The server's listening sockets, bound and added, in the order they were
 * bound (for example to learn the port that port 0 chose).
 * Returns: 0, fds[0..*count-1]. Errors: -EINVAL server or count NULL, or
 *   fds NULL with cap > 0; -ERANGE more than cap sockets.
 * Ownership: the descriptors stay the server's.
 * Thread-safety: as eddy_server_stop.
 * SPEC §9.23
 */
int eddy_server_sockets(const eddy_server *server, int *fds, size_t cap,
                        size_t *count);

#ifdef __cplusplus
}
#endif

#endif /* EDDY_SERVER_H */
