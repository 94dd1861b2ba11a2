/* examples/hello_prefork.c - SPEC §9.15-§9.17, §7: the bind-then-fork
 * server of the multi-process start document, in C.
 *
 * The port is bound once, before any fork; start(n) forks n workers under a
 * supervisor that restarts any worker that crashes; every worker runs its
 * own loop, accepts on the shared socket and answers each HTTP/1.1 request
 * with "hello world", keeping connections alive.
 *
 *     hello_prefork [-a address] [-p port] [-n workers] [-r max_restarts]
 *                   [-l logfile]
 *
 * -n 0 forks one worker per processor; -r < 0 means the default (100).
 * With -l, the parent first appends "listening <port> <pid>" (so -p 0
 * works), then each worker "ready <task> <pid> <seconds>" when its loop
 * starts and "first-accept <task> <pid> <seconds>" on its first connection
 * (CLOCK_REALTIME), which is how ci/load-fault.sh times restarts.
 */
#define _GNU_SOURCE
#include <eddy.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define IN_MAX 16384
#define OUT_MAX 65536

struct conn {
    int fd;
    unsigned watching;   /* the events registered now */
    bool close_after;    /* a request asked for the connection to end */
    size_t in_len;
    size_t out_len;
    size_t out_off;
    char in[IN_MAX];
    char out[OUT_MAX];
};

static int log_fd = -1;
static bool accepted_once;

static void log_event(const char *what)
{
    if (log_fd < 0) {
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char line[128];
    int n = snprintf(line, sizeof line, "%s %d %d %lld.%09ld\n", what,
                     eddy_task_id(), (int)getpid(), (long long)ts.tv_sec,
                     ts.tv_nsec);
    /* One write per line on an O_APPEND file: lines never interleave. */
    if (write(log_fd, line, (size_t)n) != n) {
        log_fd = -1;
    }
}

/* "listening <port> <pid>", written by the parent before it forks. */
static void log_listening(const eddy_server *server)
{
    int fds[16];
    size_t n = 0;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    /* Every socket of one bind has the same port (SPEC §9.4). */
    if (log_fd < 0 || eddy_server_sockets(server, fds, 16, &n) != 0 ||
        n == 0 || getsockname(fds[0], (struct sockaddr *)&ss, &len) != 0) {
        return;
    }
    int port = ss.ss_family == AF_INET6
                   ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                   : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    dprintf(log_fd, "listening %d %d\n", port, (int)getpid());
}

static void conn_close(eddy_loop *loop, struct conn *c)
{
    eddy_loop_remove_handler(loop, c->fd);
    close(c->fd);
    free(c);
}

/* The value of header name in the head [head, end), or NULL. */
static const char *header(const char *head, const char *end,
                          const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p != NULL && p < end;
         p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (line + nlen + 1 < end && strncasecmp(line, name, nlen) == 0 &&
            line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ' || *v == '\t') {
                v++;
            }
            const char *e = strstr(v, "\r\n");
            *len = (size_t)(e != NULL ? e - v : end - v);
            return v;
        }
    }
    return NULL;
}

static bool value_is(const char *v, size_t len, const char *word)
{
    return v != NULL && len == strlen(word) && strncasecmp(v, word, len) == 0;
}

/* Queue the answer to one request whose head is [head, end). */
static bool respond(struct conn *c, const char *head, const char *end)
{
    size_t len = 0;
    const char *connection = header(head, end, "Connection", &len);
    const char *eol = strstr(head, "\r\n"); /* ends the request line */
    bool http10 = eol - head >= 8 && strncmp(eol - 8, "HTTP/1.0", 8) == 0;
    bool keep = http10 ? value_is(connection, len, "keep-alive")
                       : !value_is(connection, len, "close");
    static const char body[] = "hello world";
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n%s\r\n%s",
                     sizeof body - 1,
                     keep ? (http10 ? "Connection: keep-alive\r\n" : "")
                          : "Connection: close\r\n",
                     body);
    if (c->out_len + (size_t)n > OUT_MAX) {
        return false;
    }
    memcpy(c->out + c->out_len, resp, (size_t)n);
    c->out_len += (size_t)n;
    c->close_after = c->close_after || !keep;
    return true;
}

/* Answer every complete request in the input buffer (pipelining works).
 * Request bodies announced by Content-Length are skipped. */
static bool parse_requests(struct conn *c)
{
    size_t off = 0;
    while (!c->close_after) {
        c->in[c->in_len] = '\0';
        char *head = c->in + off;
        char *end = strstr(head, "\r\n\r\n");
        if (end == NULL) {
            break;
        }
        size_t blen = 0;
        const char *cl = header(head, end + 2, "Content-Length", &blen);
        size_t body = cl != NULL ? strtoul(cl, NULL, 10) : 0;
        size_t total = (size_t)(end + 4 - head) + body;
        if (off + total > c->in_len) {
            break;
        }
        if (!respond(c, head, end + 2)) {
            return false;
        }
        off += total;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return c->in_len < IN_MAX - 1; /* a head that big is refused */
}

/* Write what is queued. Returns false when the connection must end. */
static bool flush_out(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    return !c->close_after;
}

/* Read what is there. Returns false on end of file or an error. */
static bool fill_in(struct conn *c)
{
    for (;;) {
        ssize_t n = read(c->fd, c->in + c->in_len, IN_MAX - 1 - c->in_len);
        if (n > 0) {
            c->in_len += (size_t)n;
            if (c->in_len == IN_MAX - 1) {
                return true;
            }
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

static int on_io(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    bool ok = true;
    if (events & (EDDY_READ | EDDY_ERROR)) {
        ok = fill_in(c);
        ok = parse_requests(c) && ok;
    }
    ok = flush_out(c) && ok;
    if (!ok && c->out_off == c->out_len) {
        conn_close(loop, c);
        return 0;
    }
    /* Wait for room to write while output is pending, else for input. */
    unsigned want = c->out_off < c->out_len ? EDDY_WRITE : EDDY_READ;
    if (want != c->watching) {
        c->watching = want;
        return eddy_loop_update_handler(loop, c->fd, want);
    }
    return 0;
}

static int on_conn(eddy_server *server, eddy_loop *loop, int fd,
                   const struct sockaddr *addr, socklen_t addrlen, void *arg)
{
    (void)server;
    (void)addr;
    (void)addrlen;
    (void)arg;
    if (!accepted_once) {
        accepted_once = true;
        log_event("first-accept");
    }
    struct conn *c = malloc(sizeof *c);
    if (c == NULL) {
        close(fd);
        return -ENOMEM;
    }
    c->fd = fd;
    c->watching = EDDY_READ;
    c->close_after = false;
    c->in_len = c->out_len = c->out_off = 0;
    int err = eddy_loop_add_handler(loop, fd, EDDY_READ, on_io, c);
    if (err != 0) {
        close(fd);
        free(c);
    }
    return err;
}

struct options {
    const char *address;
    int port;
    int workers;
    int max_restarts;
    const char *log_path;
};

static int parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){NULL, 8888, 2, -1, NULL};
    int opt;
    while ((opt = getopt(argc, argv, "a:p:n:r:l:")) != -1) {
        switch (opt) {
        case 'a': o->address = optarg; break;
        case 'p': o->port = atoi(optarg); break;
        case 'n': o->workers = atoi(optarg); break;
        case 'r': o->max_restarts = atoi(optarg); break;
        case 'l': o->log_path = optarg; break;
        default:
            fprintf(stderr, "usage: %s [-a address] [-p port] [-n workers]"
                            " [-r max_restarts] [-l logfile]\n", argv[0]);
            return -1;
        }
    }
    return 0;
}

static int fail(const char *what, int err)
{
    fprintf(stderr, "hello_prefork: %s: %s\n", what, eddy_strerror(err));
    return 1;
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_options(argc, argv, &o) != 0) {
        return 2;
    }
    if (o.log_path != NULL) {
        log_fd = open(o.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                      0644);
    }
    eddy_server *server = NULL;
    int err = eddy_server_new(on_conn, NULL, &server);
    if (err == 0) {
        err = eddy_server_bind(server, o.port, o.address, AF_UNSPEC, 0, 0,
                               false);
    }
    if (err != 0) {
        return fail("bind", err);
    }
    log_listening(server);
    /* The supervisor stays inside start(); only workers come back. */
    err = eddy_server_start(server, o.workers, o.max_restarts);
    if (err != 0) {
        return fail("start", err);
    }
    eddy_loop *loop = NULL;
    if ((err = eddy_loop_current(false, &loop)) != 0) {
        return fail("loop", err);
    }
    log_event("ready");
    err = eddy_loop_start(loop);
    eddy_server_free(server);
    eddy_loop_free(loop);
    return err == 0 ? 0 : fail("loop", err);
}
