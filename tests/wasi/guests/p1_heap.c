/* p1_heap: a plain C program (no cabi_realloc of its own) that grows its heap well past the
 * preview1 adapter's state and uses stdio in between; every block is checked. Prints
 * "heap ok" and exits 0, or says what broke and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    char *first = malloc(130000); /* more than the adapter's state, before stdio starts */
    if (!first) return 1;
    memset(first, 0x55, 130000);
    printf("first block at %p\n", (void *)first);
    enum { N = 48 };
    static unsigned char *blocks[N];
    static size_t sizes[N];
    for (int i = 0; i < N; i++) {
        sizes[i] = (size_t)(i % 7 + 1) * 300000 + (size_t)i * 97;
        blocks[i] = malloc(sizes[i]);
        if (!blocks[i]) {
            fprintf(stderr, "p1_heap: malloc %zu failed\n", sizes[i]);
            return 1;
        }
        memset(blocks[i], i + 1, sizes[i]);
        fprintf(stderr, "block %d: %zu bytes\n", i, sizes[i]);
    }
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < sizes[i]; k += 4099)
            if (blocks[i][k] != (unsigned char)(i + 1)) {
                fprintf(stderr, "p1_heap: block %d byte %zu changed\n", i, k);
                return 1;
            }
    for (size_t k = 0; k < 130000; k++)
        if (first[k] != 0x55) {
            fprintf(stderr, "p1_heap: first block byte %zu changed\n", k);
            return 1;
        }
    printf("heap ok\n");
    return 0;
}
