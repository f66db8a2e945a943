/* Small helpers shared by the CLI's commands. */
#ifndef WASITLS_CLICOMMON_H
#define WASITLS_CLICOMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasitls/engine.h"

/* Reads a whole file; prints `error: ...` and returns -1 on failure. */
static inline int wasitls__cli_read(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "error: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *p = malloc(cap);
    for (;;) {
        if (!p) {
            fclose(f);
            fprintf(stderr, "error: out of memory reading %s\n", path);
            return -1;
        }
        n += fread(p + n, 1, cap - n, f);
        if (n < cap) break;
        cap *= 2;
        uint8_t *q = realloc(p, cap);
        if (!q) free(p);
        p = q;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(p);
        fprintf(stderr, "error: cannot read %s\n", path);
        return -1;
    }
    *out = p;
    *len = n;
    return 0;
}

static inline int wasitls__cli_tier(const char *s, wasitls_tier *out)
{
    if (!strcmp(s, "fast"))
        *out = WASITLS_TIER_FAST;
    else if (!strcmp(s, "opt"))
        *out = WASITLS_TIER_OPT;
    else {
        fprintf(stderr, "error: --tier must be fast or opt, not '%s'\n", s);
        return -1;
    }
    return 0;
}

#endif
