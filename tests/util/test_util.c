/* Unit tests of the util layer: LEB128 edge cases, bounded cursors, UTF-8, the error space. */
#include "wasitls/cursor.h"

#include <stdio.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static int u32_of(const uint8_t *b, size_t n, uint32_t *v)
{
    wasitls_cursor c;
    wasitls_cursor_init(&c, b, n, NULL);
    return wasitls_cursor_leb_u32(&c, v);
}

static int s32_of(const uint8_t *b, size_t n, int32_t *v)
{
    wasitls_cursor c;
    wasitls_cursor_init(&c, b, n, NULL);
    return wasitls_cursor_leb_s32(&c, v);
}

static void test_leb(void)
{
    uint32_t u;
    int32_t s;
    int64_t s64;
    CHECK(u32_of((const uint8_t[]){0xe5, 0x8e, 0x26}, 3, &u) == 0 && u == 624485);
    CHECK(u32_of((const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x0f}, 5, &u) == 0 && u == UINT32_MAX);
    /* unused bits set in the last byte */
    CHECK(u32_of((const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x1f}, 5, &u) == WASITLS_E_MALFORMED);
    /* too long (6 bytes) */
    CHECK(u32_of((const uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 6, &u) == WASITLS_E_MALFORMED);
    /* padded zero within the limit is fine */
    CHECK(u32_of((const uint8_t[]){0x80, 0x80, 0x00}, 3, &u) == 0 && u == 0);
    /* truncated */
    CHECK(u32_of((const uint8_t[]){0x80}, 1, &u) == WASITLS_E_MALFORMED);
    CHECK(s32_of((const uint8_t[]){0x7f}, 1, &s) == 0 && s == -1);
    CHECK(s32_of((const uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x78}, 5, &s) == 0 && s == INT32_MIN);
    CHECK(s32_of((const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x07}, 5, &s) == 0 && s == INT32_MAX);
    /* sign bits inconsistent */
    CHECK(s32_of((const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x4f}, 5, &s) == WASITLS_E_MALFORMED);
    CHECK(s32_of((const uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x70}, 5, &s) == WASITLS_E_MALFORMED);
    wasitls_cursor c;
    const uint8_t s33[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    wasitls_cursor_init(&c, s33, sizeof s33, NULL);
    CHECK(wasitls_cursor_leb_s33(&c, &s64) == 0 && s64 == 0xffffffffLL);
    const uint8_t s64min[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f};
    wasitls_cursor_init(&c, s64min, sizeof s64min, NULL);
    CHECK(wasitls_cursor_leb_s64(&c, &s64) == 0 && s64 == INT64_MIN);
}

static void test_cursor(void)
{
    wasitls_error err;
    wasitls_error_clear(&err);
    const uint8_t buf[] = {1, 2, 3, 4, 5, 6};
    wasitls_cursor c, sub;
    wasitls_cursor_init(&c, buf, sizeof buf, &err);
    uint8_t b;
    CHECK(wasitls_cursor_u8(&c, &b) == 0 && b == 1);
    CHECK(wasitls_cursor_sub(&c, 2, &sub) == 0);
    CHECK(wasitls_cursor_left(&sub) == 2 && sub.pos == 1);
    uint32_t v;
    CHECK(wasitls_cursor_u32le(&sub, &v) == WASITLS_E_MALFORMED); /* only 2 bytes in window */
    CHECK(err.offset == 1);
    CHECK(wasitls_cursor_u8(&sub, &b) == WASITLS_E_MALFORMED);   /* sticky */
    CHECK(wasitls_cursor_u32le(&c, &v) == WASITLS_E_MALFORMED);  /* 3 left in parent */
    CHECK(wasitls_cursor_sub(&c, 100, &sub) == WASITLS_E_MALFORMED);
    const uint8_t nm[] = {3, 'a', 0xc3, 0xa9};
    const char *p;
    size_t n;
    wasitls_cursor_init(&c, nm, sizeof nm, &err);
    CHECK(wasitls_cursor_name(&c, &p, &n) == 0 && n == 3 && memcmp(p, "a\xc3\xa9", 3) == 0);
    const uint8_t bad[] = {2, 0xc0, 0x80};
    wasitls_cursor_init(&c, bad, sizeof bad, &err);
    CHECK(wasitls_cursor_name(&c, &p, &n) == WASITLS_E_MALFORMED);
    CHECK(strstr(err.msg, "UTF-8") != NULL && err.offset == 1);
}

static void test_utf8(void)
{
    CHECK(wasitls_utf8_valid((const uint8_t *)"plain", 5));
    CHECK(wasitls_utf8_valid((const uint8_t *)"\xf0\x9f\x94\x92", 4));   /* U+1F512 */
    CHECK(!wasitls_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));      /* surrogate */
    CHECK(!wasitls_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
    CHECK(!wasitls_utf8_valid((const uint8_t *)"\xe0\x80\xaf", 3));      /* overlong */
    CHECK(!wasitls_utf8_valid((const uint8_t *)"\xe2\x82", 2));          /* truncated */
}

static void test_errors(void)
{
    CHECK(strcmp(wasitls_err_name(WASITLS_E_NOMEM), "WASITLS_E_NOMEM") == 0);
    CHECK(strcmp(wasitls_strerror(WASITLS_E_TLS_TRUNCATED), "TLS connection truncated (no close_notify)") == 0);
    CHECK(strcmp(wasitls_strerror(-9999), "unknown error") == 0);
    wasitls_error e;
    char line[128];
    CHECK(wasitls_error_set_at(&e, WASITLS_E_MALFORMED, 17, "bad %s", "section") == WASITLS_E_MALFORMED);
    wasitls_error_prefix(&e, "module %d", 2);
    CHECK(strcmp(wasitls_error_format(&e, line, sizeof line), "module 2: bad section (at offset 17)") == 0);
}

int main(void)
{
    test_leb();
    test_cursor();
    test_utf8();
    test_errors();
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
