/* Times one call of export "run"(rounds) of a module in a tier: perf FILE.wasm fast|opt ROUNDS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasitls/engine.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: perf FILE.wasm fast|opt ROUNDS\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 1;
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(n);
    if (!b || fread(b, 1, n, f) != n) return 1;
    fclose(f);
    wasitls_engine_config cfg;
    wasitls_engine_config_default(&cfg);
    cfg.tier = strcmp(argv[2], "opt") == 0 ? WASITLS_TIER_OPT : WASITLS_TIER_FAST;
    cfg.no_cache = true;
    wasitls_engine *e;
    wasitls_module *m;
    wasitls_instance *in;
    wasitls_error err;
    double t0 = now();
    if (wasitls_engine_new(&cfg, &e, &err) || wasitls_module_new(e, b, n, argv[1], &m, &err) ||
        wasitls_instance_new(m, NULL, 0, NULL, &in, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    free(b);
    double t1 = now();
    wasitls_val a = {.kind = WASITLS_I32}, r;
    a.of.i32 = (uint32_t)atoi(argv[3]);
    long idx = wasitls_module_find_export(m, "run");
    if (idx < 0 || wasitls_instance_call(in, (size_t)idx, &a, 1, &r, 1, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    double t2 = now();
    printf("%s: compile+instantiate %.3f s, run %.3f s (h=%016llx)\n", argv[2], t1 - t0, t2 - t1,
           (unsigned long long)r.of.i64);
    wasitls_instance_free(in);
    wasitls_module_free(m);
    wasitls_engine_free(e);
    return 0;
}
