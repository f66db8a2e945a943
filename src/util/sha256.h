/* SHA-256 (FIPS 180-4), used for content hashes (cache keys, entry checksums). */
#ifndef WASITLS_UTIL_SHA256_H
#define WASITLS_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct wasitls_sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
} wasitls_sha256;

void wasitls_sha256_init(wasitls_sha256 *s);
void wasitls_sha256_update(wasitls_sha256 *s, const void *data, size_t len);
void wasitls_sha256_final(wasitls_sha256 *s, uint8_t out[32]);
void wasitls_sha256_oneshot(const void *data, size_t len, uint8_t out[32]);
/* 64 lower-case hex digits + NUL */
void wasitls_hex(const uint8_t *in, size_t n, char *out);

#endif
