/* Memory for the lists and strings the host returns, and a cabi_realloc for guests that define
 * none (a program's own, or the guest SDK's, wins: this one is weak). Without an exported
 * cabi_realloc, the preview1 adapter allocates its state with memory.grow behind the back of
 * wasi-libc's malloc, which in Debian's 2022 wasi-libc assumes that it alone grows memory: once
 * the heap grew past the adapter's pages, malloc handed them out again and the adapter failed
 * ("assertion failed at adapter line ..."). With this export the adapter allocates through
 * malloc like everyone else. */
#include <stdlib.h>

/* Returned for zero-byte allocations: non-null and aligned for any type, never freed. */
_Alignas(16) unsigned char wasitls__cabi_empty[16];

/* cabi_realloc's contract over malloc (the SDK's cabi_realloc calls it too). */
void *wasitls__cabi_alloc(void *ptr, size_t align, size_t size)
{
    if (size == 0) {
        if (ptr != NULL && ptr != wasitls__cabi_empty) free(ptr);
        return wasitls__cabi_empty;
    }
    if (align > 16) abort(); /* malloc aligns to 16; the canonical ABI never asks for more */
    void *p = realloc(ptr == wasitls__cabi_empty ? NULL : ptr, size);
    if (p == NULL) abort(); /* the host cannot be told "no": trapping is the defined outcome */
    return p;
}

__attribute__((weak, export_name("cabi_realloc"))) void *cabi_realloc(void *ptr, size_t old_size,
                                                                      size_t align, size_t size)
{
    (void)old_size;
    return wasitls__cabi_alloc(ptr, align, size);
}
