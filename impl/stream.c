/* impl/stream.c - SPEC §8.15-§8.18: the non-blocking pipe streams of
 * EDDY_STREAM. A stream is registered with its loop only while a read or a
 * write is pending, for exactly the events those need. Writes are copied
 * into one buffer and completed by a byte count, so any number of queued
 * writes costs one array of (end offset, callback) records.
 */
#include "eddy/stream.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define READ_CHUNK 65536
#define READS_PER_EVENT 16 /* bounded so one chatty pipe cannot starve */

struct write_req {
    uint64_t end; /* completed once this many bytes were written in all */
    eddy_stream_write_cb cb;
    void *arg;
};

struct eddy_stream {
    eddy_loop *loop;
    int fd;            /* -1 once closed */
    unsigned watching; /* events registered with the loop; 0: none */

    bool reading;
    eddy_stream_read_cb read_cb;
    void *read_arg;
    char *rbuf;
    size_t rlen, rcap;

    char *wbuf; /* bytes wbuf[whead, wlen) wait to be written */
    size_t whead, wlen, wcap;
    uint64_t written, queued;
    struct write_req *reqs; /* FIFO reqs[rhead, rlen) */
    size_t rhead, nreqs, reqcap;

    int busy;          /* depth of this stream's callbacks running now */
    bool free_pending; /* eddy__stream_free arrived while busy */
};

static int on_ready(eddy_loop *loop, int fd, unsigned events, void *arg);
static void on_loop_close(int fd, void *obj);

int eddy__stream_new(eddy_loop *loop, int fd, eddy_stream **out)
{
    eddy_stream *s = eddy__calloc(1, sizeof *s);
    if (s == NULL) {
        close(fd);
        return -ENOMEM;
    }
    s->loop = loop;
    s->fd = fd;
    *out = s;
    return 0;
}

/* Register exactly the events the pending operations need. */
static int watch(eddy_stream *s)
{
    unsigned want = (s->reading ? EDDY_READ : 0) |
                    (s->whead < s->wlen || s->rhead < s->nreqs ? EDDY_WRITE
                                                               : 0);
    int err = 0;
    if (want == s->watching) {
        return 0;
    }
    if (want == 0) {
        err = eddy_loop_remove_handler(s->loop, s->fd);
    } else if (s->watching == 0) {
        err = eddy_loop_add_handler_object(s->loop, s->fd, want, on_ready, s,
                                           on_loop_close);
    } else {
        err = eddy_loop_update_handler(s->loop, s->fd, want);
    }
    /* A closed loop already forgot the fd: nothing is registered. */
    if (err == 0 || want == 0) {
        s->watching = want;
    }
    return want == 0 ? 0 : err;
}

static void drop_buffers(eddy_stream *s)
{
    eddy__free(s->rbuf);
    eddy__free(s->wbuf);
    eddy__free(s->reqs);
    s->rbuf = s->wbuf = NULL;
    s->reqs = NULL;
    s->rlen = s->rcap = s->whead = s->wlen = s->wcap = 0;
    s->rhead = s->nreqs = s->reqcap = 0;
    s->reading = false;
}

/* SPEC §8.18: closing drops pending operations without calling them. */
static void close_fd(eddy_stream *s, bool registered)
{
    if (s->fd < 0) {
        return;
    }
    if (registered && s->watching != 0) {
        (void)eddy_loop_remove_handler(s->loop, s->fd);
    }
    s->watching = 0;
    close(s->fd); /* never retried: Linux frees the fd even on EINTR */
    s->fd = -1;
    drop_buffers(s);
}

/* eddy_loop_close(loop, true) closes a registered stream through here. */
static void on_loop_close(int fd, void *obj)
{
    (void)fd;
    close_fd(obj, false);
}

int eddy_stream_close(eddy_stream *stream)
{
    if (stream == NULL) {
        return -EINVAL;
    }
    close_fd(stream, true);
    return 0;
}

bool eddy_stream_closed(const eddy_stream *stream)
{
    return stream == NULL || stream->fd < 0;
}

void eddy__stream_free(eddy_stream *stream)
{
    if (stream == NULL) {
        return;
    }
    close_fd(stream, true);
    if (stream->busy > 0) {
        stream->free_pending = true;
        return;
    }
    eddy__free(stream);
}

/* --- read_until_close ----------------------------------------------------- */

int eddy_stream_read_until_close(eddy_stream *stream, eddy_stream_read_cb cb,
                                 void *arg)
{
    if (stream == NULL || cb == NULL) {
        return -EINVAL;
    }
    if (stream->fd < 0) {
        return -EPIPE;
    }
    if (stream->reading) {
        return -EBUSY;
    }
    stream->reading = true;
    int err = watch(stream);
    if (err != 0) {
        stream->reading = false;
        return err;
    }
    stream->read_cb = cb;
    stream->read_arg = arg;
    return 0;
}

static int grow_rbuf(eddy_stream *s)
{
    if (s->rcap - s->rlen >= READ_CHUNK) {
        return 0;
    }
    size_t cap = s->rcap != 0 ? s->rcap * 2 : READ_CHUNK;
    char *buf = eddy__realloc(s->rbuf, cap);
    if (buf == NULL) {
        return -ENOMEM;
    }
    s->rbuf = buf;
    s->rcap = cap;
    return 0;
}

/* SPEC §8.15: the callback sees the stream already closed, and the bytes
 * stay valid until it returns even if it frees the stream. */
static int finish_read(eddy_stream *s, int err)
{
    eddy_stream_read_cb cb = s->read_cb;
    void *arg = s->read_arg;
    char *data = s->rbuf;
    size_t len = s->rlen;
    s->rbuf = NULL;
    close_fd(s, true);
    int rc = cb(s->loop, s, err, len > 0 ? data : NULL, len, arg);
    eddy__free(data);
    return rc;
}

/* Returns 1 when the read is still pending, else the callback's result. */
static int do_read(eddy_stream *s)
{
    for (int i = 0; i < READS_PER_EVENT; i++) {
        int err = grow_rbuf(s);
        if (err != 0) {
            return finish_read(s, err);
        }
        ssize_t n = read(s->fd, s->rbuf + s->rlen, s->rcap - s->rlen);
        if (n > 0) {
            s->rlen += (size_t)n;
            continue;
        }
        err = n == 0 ? 0 : -errno;
        if (err == -EINTR) {
            continue;
        }
        if (err == -EAGAIN || err == -EWOULDBLOCK) {
            return 1;
        }
        return finish_read(s, err);
    }
    return 1;
}

/* --- write ---------------------------------------------------------------- */

/* Slide unsent bytes and unfinished records to the front of their arrays
 * before growing them. */
static void compact(eddy_stream *s)
{
    if (s->whead > 0) {
        memmove(s->wbuf, s->wbuf + s->whead, s->wlen - s->whead);
        s->wlen -= s->whead;
        s->whead = 0;
    }
    if (s->rhead > 0) {
        memmove(s->reqs, s->reqs + s->rhead,
                (s->nreqs - s->rhead) * sizeof *s->reqs);
        s->nreqs -= s->rhead;
        s->rhead = 0;
    }
}

static int reserve_write(eddy_stream *s, size_t len)
{
    if (s->wcap - s->wlen < len || s->nreqs == s->reqcap) {
        compact(s);
    }
    if (len > SIZE_MAX - s->wlen) {
        return -ENOMEM;
    }
    if (s->wcap - s->wlen < len) {
        size_t cap = s->wcap != 0 ? s->wcap : 4096;
        while (cap - s->wlen < len) {
            cap = cap > SIZE_MAX / 2 ? s->wlen + len : cap * 2;
        }
        char *buf = eddy__realloc(s->wbuf, cap);
        if (buf == NULL) {
            return -ENOMEM;
        }
        s->wbuf = buf;
        s->wcap = cap;
    }
    if (s->nreqs == s->reqcap) {
        size_t cap = s->reqcap != 0 ? s->reqcap * 2 : 4;
        struct write_req *reqs = eddy__realloc(s->reqs, cap * sizeof *reqs);
        if (reqs == NULL) {
            return -ENOMEM;
        }
        s->reqs = reqs;
        s->reqcap = cap;
    }
    return 0;
}

int eddy_stream_write(eddy_stream *stream, const void *data, size_t len,
                      eddy_stream_write_cb cb, void *arg)
{
    if (stream == NULL || (data == NULL && len > 0)) {
        return -EINVAL;
    }
    if (stream->fd < 0) {
        return -EPIPE;
    }
    int err = reserve_write(stream, len);
    if (err != 0) {
        return err;
    }
    if (len > 0) {
        memcpy(stream->wbuf + stream->wlen, data, len);
    }
    stream->wlen += len;
    stream->queued += len;
    stream->reqs[stream->nreqs++] = (struct write_req){stream->queued, cb, arg};
    err = watch(stream);
    if (err != 0) { /* SPEC §1.3: undo, as if never called */
        stream->nreqs--;
        stream->wlen -= len;
        stream->queued -= len;
    }
    return err;
}

/* SPEC §8.17: block SIGPIPE around the writes and consume one that they
 * raised, so a broken pipe is only -EPIPE and no disposition changes. */
static ssize_t write_no_sigpipe(eddy_stream *s)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    ssize_t n;
    do {
        n = write(s->fd, s->wbuf + s->whead, s->wlen - s->whead);
    } while (n < 0 && errno == EINTR);
    int err = errno;
    if (n < 0 && err == EPIPE && !was_pending) {
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return n;
}

/* Fail every pending write with err: the stream is closed first, so the
 * callbacks see it closed and none of them is lost to the close. */
static int fail_writes(eddy_stream *s, int err)
{
    struct write_req *reqs = s->reqs;
    size_t first = s->rhead, last = s->nreqs;
    s->reqs = NULL;
    s->rhead = s->nreqs = s->reqcap = 0;
    close_fd(s, true);
    int rc = 0;
    for (size_t i = first; i < last; i++) {
        if (reqs[i].cb != NULL) {
            int r = reqs[i].cb(s->loop, s, err, reqs[i].arg);
            rc = rc != 0 ? rc : r;
        }
    }
    eddy__free(reqs);
    return rc;
}

/* Call the callbacks of the writes that are now complete, in order. */
static int complete_writes(eddy_stream *s)
{
    int rc = 0;
    while (s->fd >= 0 && s->rhead < s->nreqs &&
           s->reqs[s->rhead].end <= s->written) {
        struct write_req r = s->reqs[s->rhead++];
        if (r.cb != NULL) {
            int e = r.cb(s->loop, s, 0, r.arg);
            rc = rc != 0 ? rc : e;
        }
    }
    if (s->fd >= 0 && s->rhead == s->nreqs) {
        s->rhead = s->nreqs = 0;
    }
    return rc;
}

static int do_write(eddy_stream *s)
{
    while (s->whead < s->wlen) {
        ssize_t n = write_no_sigpipe(s);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            return fail_writes(s, -errno);
        }
        s->whead += (size_t)n;
        s->written += (uint64_t)n;
    }
    int rc = complete_writes(s);
    if (s->fd >= 0) {
        int err = watch(s);
        rc = rc != 0 ? rc : err;
    }
    return rc;
}

/* --- dispatch ------------------------------------------------------------- */

static int on_ready(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    eddy_stream *s = arg;
    int rc = 0;
    s->busy++;
    if ((events & (EDDY_READ | EDDY_ERROR)) != 0 && s->reading) {
        int r = do_read(s);
        rc = r == 1 ? 0 : r;
    }
    if ((events & (EDDY_WRITE | EDDY_ERROR)) != 0 && s->fd >= 0 &&
        (s->whead < s->wlen || s->rhead < s->nreqs)) {
        int r = do_write(s);
        rc = rc != 0 ? rc : r;
    }
    s->busy--;
    if (s->busy == 0 && s->free_pending) {
        eddy__free(s);
    }
    return rc;
}
