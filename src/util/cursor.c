#include "wasitls/cursor.h"

#include <stdio.h>
#include <string.h>

void wasitls_cursor_init(wasitls_cursor *c, const uint8_t *bytes, size_t len, wasitls_error *err)
{
    c->base = bytes;
    c->pos = 0;
    c->end = len;
    c->failed = 0;
    c->err = err;
}

int wasitls_cursor_fail(wasitls_cursor *c, int code, const char *fmt, ...)
{
    if (c->failed)
        return c->failed;
    c->failed = code;
    if (c->err) {
        va_list ap;
        va_start(ap, fmt);
        wasitls_error_setv(c->err, code, fmt, ap);
        va_end(ap);
        c->err->offset = (int64_t)c->pos;
    }
    return code;
}

#define NEED(c, n, what)                                                                           \
    do {                                                                                           \
        if ((c)->failed)                                                                           \
            return (c)->failed;                                                                    \
        if ((c)->end - (c)->pos < (size_t)(n))                                                     \
            return wasitls_cursor_fail((c), WASITLS_E_MALFORMED, "unexpected end of input reading %s", \
                                       (what));                                                    \
    } while (0)

int wasitls_cursor_sub(wasitls_cursor *c, size_t n, wasitls_cursor *out)
{
    NEED(c, n, "a section or payload of the declared size");
    out->base = c->base;
    out->pos = c->pos;
    out->end = c->pos + n;
    out->failed = 0;
    out->err = c->err;
    c->pos += n;
    return 0;
}

int wasitls_cursor_u8(wasitls_cursor *c, uint8_t *out)
{
    NEED(c, 1, "a byte");
    *out = c->base[c->pos++];
    return 0;
}

int wasitls_cursor_peek_u8(const wasitls_cursor *c, uint8_t *out)
{
    if (c->failed)
        return c->failed;
    if (c->pos >= c->end)
        return WASITLS_E_MALFORMED;
    *out = c->base[c->pos];
    return 0;
}

int wasitls_cursor_u32le(wasitls_cursor *c, uint32_t *out)
{
    NEED(c, 4, "a 32-bit value");
    const uint8_t *p = c->base + c->pos;
    *out = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    c->pos += 4;
    return 0;
}

int wasitls_cursor_u64le(wasitls_cursor *c, uint64_t *out)
{
    NEED(c, 8, "a 64-bit value");
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | c->base[c->pos + (size_t)i];
    *out = v;
    c->pos += 8;
    return 0;
}

int wasitls_cursor_bytes(wasitls_cursor *c, size_t n, const uint8_t **out)
{
    NEED(c, n, "bytes");
    *out = c->base + c->pos;
    c->pos += n;
    return 0;
}

int wasitls_cursor_skip(wasitls_cursor *c, size_t n)
{
    NEED(c, n, "bytes to skip");
    c->pos += n;
    return 0;
}

/* Reads an unsigned LEB of at most `bits` bits. */
static int leb_u(wasitls_cursor *c, unsigned bits, uint64_t *out)
{
    if (c->failed)
        return c->failed;
    size_t start = c->pos;
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        if (c->pos >= c->end) {
            c->pos = start;
            return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "unexpected end of input in LEB128");
        }
        uint8_t b = c->base[c->pos++];
        unsigned room = bits - shift; /* bits still allowed */
        if (room < 7 && (b & 0x7f) >> room) {
            c->pos = start;
            return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "integer too large in LEB128");
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            break;
        if (shift >= bits) {
            c->pos = start;
            return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "integer representation too long");
        }
    }
    *out = v;
    return 0;
}

static int leb_s(wasitls_cursor *c, unsigned bits, int64_t *out)
{
    if (c->failed)
        return c->failed;
    size_t start = c->pos;
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    for (;;) {
        if (c->pos >= c->end) {
            c->pos = start;
            return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "unexpected end of input in LEB128");
        }
        b = c->base[c->pos++];
        unsigned room = bits - shift;
        if (room < 7) {
            /* the unused high bits must all equal the sign bit of the value */
            int sign = (b >> (room - 1)) & 1;
            uint8_t hi = (uint8_t)((b & 0x7f) >> room);
            uint8_t want = sign ? (uint8_t)(0x7f >> room) : 0;
            if (hi != want) {
                c->pos = start;
                return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "integer too large in LEB128");
            }
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            break;
        if (shift >= bits) {
            c->pos = start;
            return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "integer representation too long");
        }
    }
    if (shift < 64 && (b & 0x40))
        v |= ~(uint64_t)0 << shift;
    *out = (int64_t)v;
    return 0;
}

int wasitls_cursor_leb_u32(wasitls_cursor *c, uint32_t *out)
{
    uint64_t v;
    int rc = leb_u(c, 32, &v);
    if (!rc)
        *out = (uint32_t)v;
    return rc;
}

int wasitls_cursor_leb_u64(wasitls_cursor *c, uint64_t *out)
{
    return leb_u(c, 64, out);
}

int wasitls_cursor_leb_s32(wasitls_cursor *c, int32_t *out)
{
    int64_t v;
    int rc = leb_s(c, 32, &v);
    if (!rc)
        *out = (int32_t)v;
    return rc;
}

int wasitls_cursor_leb_s33(wasitls_cursor *c, int64_t *out)
{
    return leb_s(c, 33, out);
}

int wasitls_cursor_leb_s64(wasitls_cursor *c, int64_t *out)
{
    return leb_s(c, 64, out);
}

bool wasitls_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((b & 0xe0) == 0xc0) {
            n = 1, cp = b & 0x1f, min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            n = 2, cp = b & 0x0f, min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            n = 3, cp = b & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

int wasitls_cursor_name(wasitls_cursor *c, const char **ptr, size_t *len)
{
    uint32_t n;
    const uint8_t *p;
    int rc = wasitls_cursor_leb_u32(c, &n);
    if (rc)
        return rc;
    size_t at = c->pos;
    if ((rc = wasitls_cursor_bytes(c, n, &p)))
        return rc;
    if (!wasitls_utf8_valid(p, n)) {
        c->pos = at;
        return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "malformed UTF-8 encoding in name");
    }
    *ptr = (const char *)p;
    *len = n;
    return 0;
}
