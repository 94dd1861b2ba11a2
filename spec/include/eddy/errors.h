/* eddy/errors.h - SPEC §1: conventions shared by every eddy function.
 *
 * Every fallible eddy function returns 0 on success or a negated errno value
 * (-EINVAL, -EBADF, ...) on failure. Out-parameters are written only on
 * success, and a function that takes a callback and fails never calls it.
 */
#ifndef EDDY_ERRORS_H
#define EDDY_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Describe an eddy error code.
 *
 * Returns: a static, NUL-terminated English description of err, which is a
 *   negated errno value as returned by any eddy function, or 0 ("success").
 *   Unknown codes give "unknown error". The text is never NULL.
 * Errors: none.
 * Ownership: the string is static; the caller must not free it.
 * Thread-safety: any thread.
 * SPEC §1.4
 */
const char *eddy_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* EDDY_ERRORS_H */
