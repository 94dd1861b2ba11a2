/* impl/errors.c - SPEC §1.4: eddy_strerror. Every eddy error is a negated
 * errno value; the text comes from a static table in this file rather than
 * strerror(3), which is neither thread-safe nor stable across libcs.
 */
#include "eddy/errors.h"

#include <errno.h>
#include <stddef.h>

struct err_text {
    int code;
    const char *text;
};

static const struct err_text texts[] = {
    {EPERM, "operation not permitted from this thread"},
    {ENOENT, "no such entry"},
    {ESRCH, "no such process"},
    {EINTR, "interrupted"},
    {EIO, "input/output error"},
    /* SPEC §7 (give-up) and §8 (CalledProcessError) both return it. */
    {ECHILD, "a child process failed (non-zero exit, or too many restarts)"},
    {EAGAIN, "resource temporarily unavailable"},
    {ENOMEM, "out of memory"},
    {EACCES, "permission denied"},
    {EBUSY, "busy: the loop is running"},
    {EEXIST, "already exists"},
    {EBADF, "bad file descriptor"},
    {EINVAL, "invalid argument"},
    {ENFILE, "too many open files in the system"},
    {EMFILE, "too many open files"},
    {EPIPE, "broken pipe"},
    {EDOM, "argument out of domain"},
    {ERANGE, "result out of range"},
    {ENOSYS, "function not implemented"},
    {ENOTSUP, "operation not supported"},
    {EADDRINUSE, "address already in use"},
    {EADDRNOTAVAIL, "address not available"},
    {EAFNOSUPPORT, "no address could get a socket (family not supported)"},
    {ECONNREFUSED, "connection refused"},
    {ESHUTDOWN, "the loop is closed"},
    {ETIMEDOUT, "timed out"},
    {EALREADY, "already done"},
    {ECANCELED, "cancelled"},
};

const char *eddy_strerror(int err)
{
    if (err == 0) {
        return "success";
    }
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (-texts[i].code == err) {
            return texts[i].text;
        }
    }
    return "unknown error";
}
