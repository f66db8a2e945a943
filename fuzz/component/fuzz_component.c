/* libFuzzer target: the component binary parser (inputs starting with \0asm), the WIT parser
 * (inputs starting with "package"), else the canonical ABI lifting random guest memory as a
 * type the input also describes. Build and run: fuzz/component/build.sh. */
#include <stdint.h>
#include <string.h>

#include "../../src/component/internal.h"

/* The canon layer reads engine memories only when given one; the fuzzer never does. */
uint8_t *wasitls_memory_data(wasitls_memory *mem)
{
    (void)mem;
    return NULL;
}
uint64_t wasitls_memory_size(const wasitls_memory *mem)
{
    (void)mem;
    return 0;
}

static int bump(wasitls__canon *cx, uint32_t old, uint32_t oldsz, uint32_t align, uint32_t newsz,
                uint32_t *out)
{
    *out = 64; /* anything: the canon layer checks it */
    return 0;
}

/* A small random value type from the input bytes. */
static wasitls__ctype *gen(wasitls__arena *a, const uint8_t **p, const uint8_t *end, int depth)
{
    uint8_t k = *p < end ? *(*p)++ : 0;
    uint8_t kind = k % (CT_BORROW + 1);
    if (depth > 4 || kind <= CT_STRING || kind == CT_OWN || kind == CT_BORROW)
        return wasitls__ct_prim(kind <= CT_STRING ? kind : CT_U32);
    uint32_t n = 1 + (*p < end ? *(*p)++ % 4 : 0);
    wasitls__ctype *t =
        wasitls__ct_new(a, kind,
                        kind == CT_RECORD || kind == CT_TUPLE || kind == CT_VARIANT ||
                                kind == CT_ENUM || kind == CT_FLAGS
                            ? n
                            : 0);
    if (!t) return NULL;
    for (uint32_t i = 0; i < t->n; i++) {
        t->names[i] = "x";
        if (kind != CT_ENUM && kind != CT_FLAGS && (kind != CT_VARIANT || (i & 1)))
            t->elems[i] = gen(a, p, end, depth + 1);
    }
    if (kind == CT_LIST || kind == CT_OPTION || kind == CT_RESULT) t->t = gen(a, p, end, depth + 1);
    if (kind == CT_RESULT && *p < end && (*(*p)++ & 1)) t->e = gen(a, p, end, depth + 1);
    if (wasitls__ct_finish(t, NULL)) return NULL;
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wasitls__arena a;
    wasitls_error err;
    wasitls__arena_init(&a);
    if (size >= 8 && memcmp(data, "\0asm", 4) == 0) {
        wasitls__component *c;
        if (wasitls__component_parse(&a, data, size, &c, &err) == 0) wasitls__component_release(c);
        wasitls__arena_free(&a);
        return 0;
    }
    if (size >= 7 && memcmp(data, "package", 7) == 0) {
        wasitls_linker *l;
        if (wasitls_linker_new(&l) == 0) {
            (void)wasitls_linker_add_wit(l, (const char *)data, size, &err);
            wasitls_linker_free(l);
        }
        wasitls__arena_free(&a);
        return 0;
    }
    /* [type description][encoding][guest memory] */
    const uint8_t *p = data, *end = data + size;
    wasitls__ctype *t = gen(&a, &p, end, 0);
    if (t && p < end) {
        static uint8_t mem[4096];
        uint8_t enc = *p++ % 3;
        size_t n = (size_t)(end - p) < sizeof mem ? (size_t)(end - p) : sizeof mem;
        memset(mem, 0, sizeof mem);
        memcpy(mem, p, n);
        wasitls__canon cx;
        memset(&cx, 0, sizeof cx);
        cx.enc = enc;
        cx.base = mem;
        cx.len = sizeof mem;
        cx.realloc = bump;
        cx.arena = &a;
        cx.copy = true;
        cx.err = &err;
        wasitls_cval v;
        if (wasitls__canon_load(&cx, 0, t, &v) == 0) {
            /* what loads must store back */
            (void)wasitls__canon_store(&cx, &v, t, 128);
        }
    }
    wasitls__arena_free(&a);
    return 0;
}
