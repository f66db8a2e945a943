/* A reactor with its own world: hand-written canonical ABI exports, one string result
 * returned through a static return area, plus one direct WASI 0.2 import. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((import_module("wasi:clocks/monotonic-clock@0.2.12"),
               import_name("now"))) extern uint64_t
wasi_monotonic_now(void);

__attribute__((export_name("add"))) uint32_t add(uint32_t a, uint32_t b)
{
    return a + b + (wasi_monotonic_now() == 0 ? 1 : 0);
}

__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *ptr, size_t old, size_t align,
                                                                size_t size)
{
    (void)old;
    (void)align; /* malloc's 16-byte alignment covers every canonical ABI alignment */
    return realloc(ptr, size);
}

static struct {
    char *ptr;
    size_t len;
} greet_ret;

__attribute__((export_name("greet"))) void *greet(char *name, size_t len)
{
    static const char hello[] = "hello, ";
    char *out = malloc(sizeof hello - 1 + len);
    memcpy(out, hello, sizeof hello - 1);
    memcpy(out + sizeof hello - 1, name, len);
    free(name);
    greet_ret.ptr = out;
    greet_ret.len = sizeof hello - 1 + len;
    return &greet_ret;
}

__attribute__((export_name("cabi_post_greet"))) void greet_post(void *ret)
{
    free(greet_ret.ptr);
    greet_ret.ptr = NULL;
}
