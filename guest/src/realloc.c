/* A cabi_realloc for guests that define none (a program's own, or the guest SDK's, wins: this
 * one is weak). Without an exported cabi_realloc, the preview1 adapter allocates its state with
 * memory.grow behind the back of wasi-libc's malloc, which in Debian's 2022 wasi-libc assumes
 * that it alone grows memory: once the heap grew past the adapter's pages, malloc handed them
 * out again and the adapter failed ("assertion failed at adapter line ..."). With this export
 * the adapter allocates through malloc like everyone else. */
#include <stdlib.h>

__attribute__((weak, export_name("cabi_realloc"))) void *cabi_realloc(void *ptr, size_t old_size,
                                                                      size_t align, size_t size)
{
    static _Alignas(16) unsigned char empty[16];
    (void)old_size;
    if (align > 16) abort(); /* malloc aligns to 16; the canonical ABI never asks for more */
    if (size == 0) {
        if (ptr && ptr != empty) free(ptr);
        return empty;
    }
    void *p = realloc(ptr == empty ? NULL : ptr, size);
    if (!p) abort(); /* the host cannot be told "no": trapping is the defined outcome */
    return p;
}
