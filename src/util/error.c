#include "wasitls/error.h"

#include <stdio.h>
#include <string.h>

const char *wasitls_strerror(int code)
{
    switch (code) {
    case WASITLS_OK:
        return "success";
#define X(name, num, msg)                                                                          \
    case -(num):                                                                                   \
        return msg;
        WASITLS_ERRNO_MAP(X)
#undef X
    }
    return "unknown error";
}

const char *wasitls_err_name(int code)
{
    switch (code) {
    case WASITLS_OK:
        return "WASITLS_OK";
#define X(name, num, msg)                                                                          \
    case -(num):                                                                                   \
        return "WASITLS_E_" #name;
        WASITLS_ERRNO_MAP(X)
#undef X
    }
    return "WASITLS_E_UNKNOWN";
}

void wasitls_error_clear(wasitls_error *err)
{
    if (!err)
        return;
    err->code = 0;
    err->offset = -1;
    err->msg[0] = '\0';
}

int wasitls_error_setv(wasitls_error *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    err->offset = -1;
    if (fmt)
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    else
        snprintf(err->msg, sizeof err->msg, "%s", wasitls_strerror(code));
    return code;
}

int wasitls_error_set(wasitls_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wasitls_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int wasitls_error_set_at(wasitls_error *err, int code, int64_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wasitls_error_setv(err, code, fmt, ap);
    va_end(ap);
    if (err)
        err->offset = offset;
    return code;
}

void wasitls_error_prefix(wasitls_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char pre[WASITLS_ERROR_MSG_MAX], old[WASITLS_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* truncation is acceptable: the message stays NUL-terminated */
    if (snprintf(err->msg, sizeof err->msg, "%s: %s", pre,
                 old[0] ? old : wasitls_strerror(err->code)) < 0)
        err->msg[0] = '\0';
}

const char *wasitls_error_format(const wasitls_error *err, char *buf, size_t len)
{
    if (!buf || !len)
        return "";
    const char *m = err->msg[0] ? err->msg : wasitls_strerror(err->code);
    if (err->offset >= 0)
        snprintf(buf, len, "%s (at offset %lld)", m, (long long)err->offset);
    else
        snprintf(buf, len, "%s", m);
    return buf;
}
