/* eddy/stream.h - SPEC §8.15-§8.18: the pipe streams of a subprocess.
 *
 * An eddy_stream is the parent's end of a pipe made for EDDY_STREAM
 * (Tornado's PipeIOStream): non-blocking, driven by the subprocess's loop.
 * The subprocess owns its streams; eddy_subprocess_free releases them.
 */
#ifndef EDDY_STREAM_H
#define EDDY_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "eddy/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eddy_stream eddy_stream;

/* Called once on the loop thread when a read_until_close ends. err is 0 at
 * end of file, or the negative errno value of a failed read. data and len
 * are every byte read, in order (data is NULL when len is 0); they are
 * valid only during the call. Returns 0, or a negative errno value to
 * report a failure (SPEC §1.5). */
typedef int (*eddy_stream_read_cb)(eddy_loop *loop, eddy_stream *stream,
                                   int err, const void *data, size_t len,
                                   void *arg);

/* Called once on the loop thread when a write completes: err is 0 once
 * every byte of it has been written to the pipe, or a negative errno value
 * (-EPIPE: the reading end was closed). Returns 0, or a negative errno
 * value to report a failure (SPEC §1.5). */
typedef int (*eddy_stream_write_cb)(eddy_loop *loop, eddy_stream *stream,
                                    int err, void *arg);

/* Tornado BaseIOStream.read_until_close(): read until end of file, then
 * call cb(loop, stream, 0, data, len, arg) with everything read and close
 * the stream. On a read error cb gets that error and the bytes read before
 * it, and the stream is closed too.
 *
 * Returns: 0.
 * Errors: -EINVAL stream or cb is NULL; -EPIPE the stream is closed;
 *   -EBUSY a read_until_close is already pending on it; -ENOMEM; the
 *   errors of eddy_loop_add_handler (-ESHUTDOWN, -EPERM).
 * Ownership: arg stays the caller's.
 * Thread-safety: loop thread.
 * SPEC §8.15
 */
int eddy_stream_read_until_close(eddy_stream *stream, eddy_stream_read_cb cb,
                                 void *arg);

/* Tornado BaseIOStream.write(data): queue a copy of data; writes leave in
 * the order they were queued. cb (which may be NULL) runs in a later
 * iteration, once every byte of this write has been written, or with the
 * error that ended the stream. A broken pipe never raises SIGPIPE: the
 * write reports -EPIPE and the stream is closed.
 *
 * Returns: 0.
 * Errors: -EINVAL stream is NULL, or data is NULL with len > 0; -EPIPE the
 *   stream is closed; -ENOMEM; the errors of eddy_loop_add_handler.
 * Ownership: data is copied; arg stays the caller's.
 * Thread-safety: loop thread.
 * SPEC §8.16, §8.17
 */
int eddy_stream_write(eddy_stream *stream, const void *data, size_t len,
                      eddy_stream_write_cb cb, void *arg);

/* Tornado BaseIOStream.close(): close the descriptor. Pending reads and
 * writes are dropped: their callbacks are never called. Closing a closed
 * stream does nothing. The object stays valid until its subprocess is
 * freed.
 *
 * Returns: 0.
 * Errors: -EINVAL stream is NULL.
 * Thread-safety: loop thread.
 * SPEC §8.18
 */
int eddy_stream_close(eddy_stream *stream);

/* Tornado BaseIOStream.closed(): whether the stream is closed (by
 * eddy_stream_close, at end of file, or after an error). NULL gives true.
 * Thread-safety: loop thread.
 * SPEC §8.18
 */
bool eddy_stream_closed(const eddy_stream *stream);

#ifdef __cplusplus
}
#endif

#endif /* EDDY_STREAM_H */
