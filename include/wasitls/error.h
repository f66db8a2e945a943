/* wasitls — the one error space of the runtime.
 *
 * Every function that can fail returns an int: 0 on success, a negative WASITLS_E_* code on
 * failure. Codes are generated from one X-macro so that each has a stable name and a message.
 * Where a failure has details (which import, which byte offset, which certificate), the
 * function also fills a caller-owned wasitls_error.
 *
 * Codes are append-only: never renumber or reuse one.
 */
#ifndef WASITLS_ERROR_H
#define WASITLS_ERROR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define WASITLS_MUST_CHECK __attribute__((warn_unused_result))
#define WASITLS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define WASITLS_MUST_CHECK
#define WASITLS_PRINTF(a, b)
#endif

/* X(NAME, number, message). Numbers are positive here; the codes are their negation. */
#define WASITLS_ERRNO_MAP(X)                                                                       \
    /* general */                                                                                  \
    X(NOMEM, 1, "out of memory")                                                                   \
    X(INVAL, 2, "invalid argument")                                                                \
    X(LIMIT, 3, "implementation limit exceeded")                                                   \
    X(UNSUPPORTED, 4, "not supported")                                                             \
    X(IO, 5, "input/output error")                                                                 \
    X(NOTFOUND, 6, "not found")                                                                    \
    X(INTERNAL, 7, "internal error")                                                               \
    X(AGAIN, 8, "operation would block")                                                           \
    X(TIMEOUT, 9, "timed out")                                                                     \
    X(CLOSED, 10, "stream closed")                                                                 \
    X(BUSY, 11, "resource busy")                                                                   \
    X(ACCESS, 12, "access denied")                                                                 \
    /* loading and validating binaries */                                                          \
    X(MALFORMED, 20, "malformed binary")                                                           \
    X(INVALID, 21, "invalid module or component")                                                  \
    X(UNSUPPORTED_FEATURE, 22, "unsupported WebAssembly feature")                                  \
    /* engine */                                                                                   \
    X(COMPILE, 30, "compilation failed")                                                           \
    X(CACHE, 31, "compiled-code cache error")                                                      \
    X(TRAP, 32, "guest trapped")                                                                   \
    X(EXHAUSTION, 33, "guest call stack exhausted")                                                \
    X(EXIT, 34, "guest exited")                                                                    \
    /* linking and the component model */                                                          \
    X(LINK, 40, "unsatisfied import")                                                              \
    X(TYPE_MISMATCH, 41, "type mismatch")                                                          \
    X(NOT_GRANTED, 42, "capability not granted")                                                   \
    /* TLS */                                                                                      \
    X(TLS_HANDSHAKE, 50, "TLS handshake failed")                                                   \
    X(TLS_VERIFY, 51, "TLS certificate verification failed")                                       \
    X(TLS_ALERT, 52, "TLS alert received from peer")                                               \
    X(TLS_PROTOCOL, 53, "TLS protocol error")                                                      \
    X(TLS_TRUNCATED, 54, "TLS connection truncated (no close_notify)")                             \
    X(TLS_CONFIG, 55, "TLS configuration error")

enum {
    WASITLS_OK = 0,
#define WASITLS__ERRNO_ENUM(name, num, msg) WASITLS_E_##name = -(num),
    WASITLS_ERRNO_MAP(WASITLS__ERRNO_ENUM)
#undef WASITLS__ERRNO_ENUM
};

/* "out of memory" etc.; never NULL (unknown codes get a generic text). */
const char *wasitls_strerror(int code);
/* "WASITLS_E_NOMEM" etc.; never NULL. */
const char *wasitls_err_name(int code);

/* Details of a failure, filled by the callee into the caller's buffer. */
#define WASITLS_ERROR_MSG_MAX 512
typedef struct wasitls_error {
    int code;             /* a WASITLS_E_* code, 0 if unset */
    int64_t offset;       /* byte offset in the input binary, or -1 when not applicable */
    char msg[WASITLS_ERROR_MSG_MAX];
} wasitls_error;

/* Resets err (may be NULL). */
void wasitls_error_clear(wasitls_error *err);
/* Sets code, offset=-1 and a formatted message; returns code so callers can `return
 * wasitls_error_set(...)`. err may be NULL (then only code is returned). */
int wasitls_error_set(wasitls_error *err, int code, const char *fmt, ...) WASITLS_PRINTF(3, 4);
int wasitls_error_setv(wasitls_error *err, int code, const char *fmt, va_list ap);
/* Same, with the byte offset at which the problem was found. */
int wasitls_error_set_at(wasitls_error *err, int code, int64_t offset, const char *fmt, ...)
    WASITLS_PRINTF(4, 5);
/* Prefixes the existing message with "prefix: " (used to add context as an error travels up). */
void wasitls_error_prefix(wasitls_error *err, const char *fmt, ...) WASITLS_PRINTF(2, 3);
/* A human line: the message if set, else wasitls_strerror(code); with " (at offset N)". Writes
 * into buf (always NUL-terminated) and returns buf. */
const char *wasitls_error_format(const wasitls_error *err, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
