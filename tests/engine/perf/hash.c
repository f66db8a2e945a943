/* CPU-bound guest for comparing the tiers with native code: FNV-1a-style mixing over a 64 KiB
 * buffer that is rewritten as it goes (loads, stores, 64-bit multiplies). Built both for
 * wasm32 (export "run", no imports) and natively (with -DNATIVE_MAIN). */
#include <stdint.h>

static uint8_t buf[65536];

#ifndef NATIVE_MAIN
__attribute__((export_name("run")))
#endif
uint64_t
run(uint32_t rounds)
{
    for (uint32_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 31 + 7);
    uint64_t h = 1469598103934665603ull;
    for (uint32_t r = 0; r < rounds; r++)
        for (uint32_t i = 0; i < sizeof buf; i++) {
            h ^= buf[i];
            h *= 1099511628211ull;
            buf[i] = (uint8_t)(h >> 32);
        }
    return h;
}

#ifdef NATIVE_MAIN
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv)
{
    uint32_t rounds = argc > 1 ? (uint32_t)atoi(argv[1]) : 2000;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t h = run(rounds);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("native: %.3f s (h=%016llx)\n",
           (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
           (unsigned long long)h);
    return 0;
}
#endif
