/* Bounded byte cursors and LEB128: the only way binary input is parsed in wasitls.
 *
 * A cursor is a view: it never owns the bytes, which must outlive it. Every read checks the
 * remaining length first. On failure a read returns a negative code, fills the cursor's error
 * (if one is attached) with the absolute offset, and leaves the position unchanged. Errors are
 * sticky: once a cursor has failed, every later read fails too, so a parser can check once at
 * the end of a sequence of reads.
 */
#ifndef WASITLS_CURSOR_H
#define WASITLS_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasitls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wasitls_cursor {
    const uint8_t *base; /* start of the whole input: offsets are reported relative to it */
    size_t pos;          /* absolute position of the next byte, from base */
    size_t end;          /* absolute end (exclusive) of this cursor's window */
    int failed;          /* 0, or the sticky WASITLS_E_* code */
    wasitls_error *err;  /* optional: where failures are described */
} wasitls_cursor;

/* A cursor over [bytes, bytes+len); offsets are reported from bytes. */
void wasitls_cursor_init(wasitls_cursor *c, const uint8_t *bytes, size_t len, wasitls_error *err);
/* A sub-cursor over the next n bytes of c (offsets stay absolute); advances c past them. */
int wasitls_cursor_sub(wasitls_cursor *c, size_t n, wasitls_cursor *out) WASITLS_MUST_CHECK;

static inline size_t wasitls_cursor_left(const wasitls_cursor *c)
{
    return c->failed ? 0 : c->end - c->pos;
}
static inline bool wasitls_cursor_eof(const wasitls_cursor *c)
{
    return c->failed || c->pos >= c->end;
}

/* Marks the cursor failed with a formatted message at the current offset; returns the code. */
int wasitls_cursor_fail(wasitls_cursor *c, int code, const char *fmt, ...) WASITLS_PRINTF(3, 4);

int wasitls_cursor_u8(wasitls_cursor *c, uint8_t *out) WASITLS_MUST_CHECK;
int wasitls_cursor_peek_u8(const wasitls_cursor *c, uint8_t *out) WASITLS_MUST_CHECK;
int wasitls_cursor_u32le(wasitls_cursor *c, uint32_t *out) WASITLS_MUST_CHECK;
int wasitls_cursor_u64le(wasitls_cursor *c, uint64_t *out) WASITLS_MUST_CHECK;
/* Points *out at the next n bytes (no copy) and advances. */
int wasitls_cursor_bytes(wasitls_cursor *c, size_t n, const uint8_t **out) WASITLS_MUST_CHECK;
int wasitls_cursor_skip(wasitls_cursor *c, size_t n) WASITLS_MUST_CHECK;

/* LEB128 as WebAssembly defines it: at most ceil(N/7) bytes, unused bits of the last byte must
 * be zero (unsigned) or a sign extension (signed); anything else is MALFORMED. */
int wasitls_cursor_leb_u32(wasitls_cursor *c, uint32_t *out) WASITLS_MUST_CHECK;
int wasitls_cursor_leb_u64(wasitls_cursor *c, uint64_t *out) WASITLS_MUST_CHECK;
int wasitls_cursor_leb_s32(wasitls_cursor *c, int32_t *out) WASITLS_MUST_CHECK;
int wasitls_cursor_leb_s33(wasitls_cursor *c, int64_t *out) WASITLS_MUST_CHECK;
int wasitls_cursor_leb_s64(wasitls_cursor *c, int64_t *out) WASITLS_MUST_CHECK;

/* A WebAssembly `name`: u32 length + that many bytes of valid UTF-8. The view points into the
 * input (not NUL-terminated). */
int wasitls_cursor_name(wasitls_cursor *c, const char **ptr, size_t *len) WASITLS_MUST_CHECK;

/* True when [s, s+len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool wasitls_utf8_valid(const uint8_t *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
