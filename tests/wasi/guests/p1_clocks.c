/* Clocks and random through wasi-libc: monotonic time advances across a sleep, wall time is
 * plausible, random bytes differ between calls. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        return 1;                                                                                  \
    } while (0)

static long long ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) return -1;
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

int main(void)
{
    long long m0 = ns(CLOCK_MONOTONIC);
    struct timespec d = {0, 30 * 1000000};
    if (nanosleep(&d, NULL) != 0) FAIL("nanosleep failed\n");
    long long m1 = ns(CLOCK_MONOTONIC);
    if (m0 < 0 || m1 - m0 < 30 * 1000000ll)
        FAIL("monotonic clock: slept %lld ns, expected >= 30 ms\n", m1 - m0);
    if (m1 - m0 > 5000 * 1000000ll) FAIL("monotonic clock: slept %lld ns, far too long\n", m1 - m0);
    long long w = ns(CLOCK_REALTIME);
    if (w / 1000000000ll < 1700000000ll) FAIL("wall clock says %lld s\n", w / 1000000000ll);
    struct timespec res;
    if (clock_getres(CLOCK_MONOTONIC, &res) != 0 || res.tv_sec != 0 || res.tv_nsec <= 0)
        FAIL("clock resolution\n");
    unsigned char a[64], b[64];
    if (getentropy(a, sizeof a) != 0 || getentropy(b, sizeof b) != 0) FAIL("getentropy failed\n");
    if (memcmp(a, b, sizeof a) == 0) FAIL("two random draws are equal\n");
    int zero = 0;
    for (size_t i = 0; i < sizeof a; i++)
        zero += a[i] == 0;
    if (zero > 8) FAIL("random bytes look wrong (%d zeros of 64)\n", zero);
    printf("clocks and random ok: slept %lld ms\n", (m1 - m0) / 1000000);
    return 0;
}
