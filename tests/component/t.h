/* Minimal test harness for the component layer: each test binary holds named cases; ctest runs
 * one case per process (`test_x <case>`). */
#ifndef WASITLS_TESTS_COMPONENT_T_H
#define WASITLS_TESTS_COMPONENT_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasitls/error.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_OK(expr, errp)                                                                       \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0) {                                                                            \
            char b_[700];                                                                          \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #expr,               \
                    wasitls_err_name(rc_), wasitls_error_format((errp), b_, sizeof b_));           \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

typedef struct tcase {
    const char *name;
    void (*fn)(void);
} tcase;

static inline int t_main(const tcase *cases, size_t n, int argc, char **argv)
{
    if (argc < 2) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", cases[i].name);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cases[i].name, argv[1]) == 0) {
            cases[i].fn();
            printf("ok %s\n", argv[1]);
            return 0;
        }
    }
    fprintf(stderr, "no such case: %s\n", argv[1]);
    return 2;
}

/* Reads a whole file; exits on failure. */
static inline unsigned char *t_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    b[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return b;
}

#endif
