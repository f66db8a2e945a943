/* Copies stdin to stdout byte for byte, in varying chunk sizes (preview1, adapter path). */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    static unsigned char buf[70000];
    size_t sizes[] = {1, 7, 4096, 65536, 100, 70000, 3};
    unsigned long long total = 0;
    for (size_t k = 0;; k++) {
        ssize_t n = read(0, buf, sizes[k % 7]);
        if (n < 0) {
            perror("read");
            return 1;
        }
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(1, buf + off, (size_t)(n - off));
            if (w <= 0) {
                perror("write");
                return 1;
            }
            off += w;
        }
        total += (unsigned long long)n;
    }
    fprintf(stderr, "copied %llu bytes\n", total);
    return 0;
}
