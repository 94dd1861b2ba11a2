/* examples/tcp_echo.c - SPEC §3.2, §4.5: the simple TCP server of the
 * IOLoop document, in C.
 *
 * As in that example the listening socket is made by hand (SO_REUSEADDR,
 * non-blocking, listen(128)) and watched with add_handler; its handler
 * accepts until accept would block. Each connection echoes what it reads
 * and, when the peer closes, prints the whole message.
 *
 *     tcp_echo [-a address] [-p port]      (default: every interface, 8888)
 */
#define _GNU_SOURCE
#include <eddy.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MESSAGE_MAX 65536

struct connection {
    int fd;
    size_t len;
    char message[MESSAGE_MAX + 1];
};

static void finish(eddy_loop *loop, struct connection *c)
{
    while (c->len > 0 && (c->message[c->len - 1] == '\n' ||
                          c->message[c->len - 1] == '\r')) {
        c->len--;
    }
    c->message[c->len] = '\0';
    printf("message from client: %s\n", c->message);
    fflush(stdout);
    eddy_loop_remove_handler(loop, c->fd);
    close(c->fd);
    free(c);
}

/* Echo each chunk back and keep it for the final print. */
static int handle_connection(eddy_loop *loop, int fd, unsigned events,
                             void *arg)
{
    struct connection *c = arg;
    (void)events;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        if (n <= 0) {
            finish(loop, c); /* end of file, or a reset */
            return 0;
        }
        size_t room = MESSAGE_MAX - c->len;
        size_t keep = (size_t)n < room ? (size_t)n : room;
        memcpy(c->message + c->len, buf, keep);
        c->len += keep;
        /* A blocking peer that never reads would lose echoes here; an
         * example keeps it short rather than buffering output. */
        if (write(fd, buf, (size_t)n) < 0 && errno != EAGAIN) {
            finish(loop, c);
            return 0;
        }
    }
}

/* The listening socket's handler: accept until accept would block. */
static int connection_ready(eddy_loop *loop, int sock, unsigned events,
                            void *arg)
{
    (void)events;
    (void)arg;
    for (;;) {
        int fd = accept4(sock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
        }
        struct connection *c = calloc(1, sizeof *c);
        int err = c == NULL ? -ENOMEM
                            : eddy_loop_add_handler(loop, fd, EDDY_READ,
                                                    handle_connection, c);
        if (err != 0) {
            free(c);
            close(fd);
            return err;
        }
        c->fd = fd;
    }
}

static int listen_socket(const char *address, int port)
{
    /* Non-blocking from the start, as the example's setblocking(0). */
    int sock = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        return -errno;
    }
    int one = 1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (address != NULL && inet_pton(AF_INET, address, &addr.sin_addr) != 1) {
        close(sock);
        return -EINVAL;
    }
    int err = 0;
    if (setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(sock, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(sock, 128) != 0) {
        err = -errno;
    }
    if (err == 0) {
        return sock;
    }
    close(sock);
    return err;
}

int main(int argc, char **argv)
{
    const char *address = NULL;
    int port = 8888;
    int opt;
    while ((opt = getopt(argc, argv, "a:p:")) != -1) {
        if (opt == 'a') {
            address = optarg;
        } else if (opt == 'p') {
            port = atoi(optarg);
        } else {
            fprintf(stderr, "usage: %s [-a address] [-p port]\n", argv[0]);
            return 2;
        }
    }
    int sock = listen_socket(address, port);
    eddy_loop *loop = NULL;
    int err = sock < 0 ? sock : eddy_loop_current(true, &loop);
    if (err == 0) {
        err = eddy_loop_add_handler(loop, sock, EDDY_READ, connection_ready,
                                    NULL);
    }
    if (err == 0) {
        err = eddy_loop_start(loop);
    }
    fprintf(stderr, "tcp_echo: %s\n", eddy_strerror(err));
    return 1;
}
