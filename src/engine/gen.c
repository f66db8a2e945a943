/* Generates the C that surrounds wasm2c's output: the runtime prelude in front, and after it
 * the per-module glue - import trampolines, boxing stubs for host functions, boxed call stubs
 * for exports and the entry point the engine looks up.
 *
 * How imports are wired. wasm2c (1.0.32) calls an imported function as a global symbol
 * Z_<module>Z_<name>(module_instance, args...), where module_instance is the value of the
 * instance's Z_<module>_instance field - except for imported functions placed in tables by
 * element segments, for which it passes the address of that field instead. We store in each
 * such field its own address, so both are the same pointer, and the trampoline steps back
 * from it to the instance and its slot array. A slot holds (fn, ctx): the trampoline calls
 * fn(ctx, args...) - for an import wired to another instance's export that is the export
 * itself, typed and unboxed; for a host function it is this module's boxing stub. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void wasitls__buf_put(wasitls__buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void wasitls__buf_puts(wasitls__buf *b, const char *s)
{
    wasitls__buf_put(b, s, strlen(s));
}

void wasitls__buf_printf(wasitls__buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        wasitls__buf_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    wasitls__buf_put(b, big, (size_t)n);
    free(big);
}

void wasitls__buf_free(wasitls__buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

extern const char wasitls__prelude_text[]; /* prelude.h, embedded at build time */

/* Everything the generated code needs beyond prelude.h: wasm-rt.h's functions as thin
 * wrappers over the runtime table, and the bit-counting builtins tcc lacks. */
static const char prelude_tail[] =
    "static const wasitls__rt_api *wasitls__rt;\n"
    "static WASM_RT_NO_RETURN void wasm_rt_trap(wasm_rt_trap_t t) { wasitls__rt->trap(t); abort(); "
    "}\n"
    "static bool wasm_rt_is_initialized(void) { return true; }\n"
    "#include <stdarg.h>\n"
    "static uint32_t wasm_rt_register_func_type(uint32_t np, uint32_t nr, ...) {\n"
    "  wasm_rt_type_t t[2048]; va_list ap; va_start(ap, nr);\n"
    "  for (uint32_t i = 0; i < np + nr && i < 2048; i++) t[i] = (wasm_rt_type_t)va_arg(ap, int);\n"
    "  va_end(ap); return wasitls__rt->register_func_type(np, nr, t);\n"
    "}\n"
    "#define wasm_rt_allocate_memory(m, i, x) wasitls__rt->allocate_memory(m, i, x)\n"
    "#define wasm_rt_grow_memory(m, d) wasitls__rt->grow_memory(m, d)\n"
    "#define wasm_rt_free_memory(m) wasitls__rt->free_memory(m)\n"
    "#define wasm_rt_allocate_funcref_table(t, i, x) wasitls__rt->allocate_funcref_table(t, i, x)\n"
    "#define wasm_rt_free_funcref_table(t) wasitls__rt->free_funcref_table(t)\n"
    "#define wasm_rt_grow_funcref_table(t, d, v) wasitls__rt->grow_funcref_table(t, d, v)\n"
    "#define wasm_rt_allocate_externref_table(t, i, x) wasitls__rt->allocate_externref_table(t, i, "
    "x)\n"
    "#define wasm_rt_free_externref_table(t) wasitls__rt->free_externref_table(t)\n"
    "#define wasm_rt_grow_externref_table(t, d, v) wasitls__rt->grow_externref_table(t, d, v)\n"
    "static inline double wasitls__negd(double x) { uint64_t b; memcpy(&b, &x, 8); b ^= 1ull << "
    "63; memcpy(&x, &b, 8); return x; }\n"
    "static inline float wasitls__negf(float x) { uint32_t b; memcpy(&b, &x, 4); b ^= 1u << 31; "
    "memcpy(&x, &b, 4); return x; }\n"
    "#ifdef __TINYC__\n"
    "static inline int wasitls__clz64(uint64_t x) { int n = 0; if (!(x >> 32)) { n += 32; x <<= "
    "32; }\n"
    "  if (!(x >> 48)) { n += 16; x <<= 16; } if (!(x >> 56)) { n += 8; x <<= 8; }\n"
    "  if (!(x >> 60)) { n += 4; x <<= 4; } if (!(x >> 62)) { n += 2; x <<= 2; }\n"
    "  if (!(x >> 63)) n += 1; return n; }\n"
    "static inline int wasitls__ctz64(uint64_t x) { int n = 0; if (!(x & 0xffffffffu)) { n += 32; "
    "x >>= 32; }\n"
    "  if (!(x & 0xffff)) { n += 16; x >>= 16; } if (!(x & 0xff)) { n += 8; x >>= 8; }\n"
    "  if (!(x & 0xf)) { n += 4; x >>= 4; } if (!(x & 3)) { n += 2; x >>= 2; }\n"
    "  if (!(x & 1)) n += 1; return n; }\n"
    "static inline int wasitls__popcnt64(uint64_t x) { x = x - ((x >> 1) & "
    "0x5555555555555555ull);\n"
    "  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);\n"
    "  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full; return (int)((x * 0x0101010101010101ull) >> "
    "56); }\n"
    "#define __builtin_clz(x) (wasitls__clz64((uint32_t)(x)) - 32)\n"
    "#define __builtin_clzll(x) wasitls__clz64(x)\n"
    "#define __builtin_ctz(x) wasitls__ctz64((uint32_t)(x))\n"
    "#define __builtin_ctzll(x) wasitls__ctz64(x)\n"
    "#define __builtin_popcount(x) wasitls__popcnt64((uint32_t)(x))\n"
    "#define __builtin_popcountll(x) wasitls__popcnt64(x)\n"
    "#endif\n";

void wasitls__gen_prelude(wasitls__buf *b)
{
    wasitls__buf_puts(b, "#define NDEBUG 1\n");
    wasitls__buf_puts(b, wasitls__prelude_text);
    wasitls__buf_puts(b, prelude_tail);
}

/* wabt's MangleName: "Z_" then each byte, alphanumerics (except 'Z') and '_' as is,
 * everything else as 'Z' + two upper-case hex digits. */
static void mangle_n(wasitls__buf *b, const char *s, size_t len)
{
    wasitls__buf_puts(b, "Z_");
    for (const unsigned char *p = (const unsigned char *)s; p < (const unsigned char *)s + len;
         p++) {
        unsigned char ch = *p;
        bool alnum =
            (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        if ((alnum && ch != 'Z') || ch == '_') {
            char c1 = (char)ch;
            wasitls__buf_put(b, &c1, 1);
        } else {
            wasitls__buf_printf(b, "Z%02X", ch);
        }
    }
}

static void mangle(wasitls__buf *b, const char *s)
{
    mangle_n(b, s, strlen(s));
}

static const char *ctype(uint8_t k)
{
    switch (k) {
    case WASITLS_I32:
        return "u32";
    case WASITLS_I64:
        return "u64";
    case WASITLS_F32:
        return "f32";
    case WASITLS_F64:
        return "f64";
    case WASITLS_FUNCREF:
        return "wasm_rt_funcref_t";
    case WASITLS_EXTERNREF:
        return "wasm_rt_externref_t";
    }
    return "void";
}

static char tchar(uint8_t k)
{
    switch (k) {
    case WASITLS_I32:
        return 'i';
    case WASITLS_I64:
        return 'j';
    case WASITLS_F32:
        return 'f';
    case WASITLS_F64:
        return 'd';
    case WASITLS_FUNCREF:
        return 'r';
    case WASITLS_EXTERNREF:
        return 'e';
    }
    return '?';
}

static const char *vfield(uint8_t k)
{
    switch (k) {
    case WASITLS_I32:
        return "i32";
    case WASITLS_I64:
        return "i64";
    case WASITLS_F32:
        return "f32";
    case WASITLS_F64:
        return "f64";
    }
    return "ref";
}

static void rettype(wasitls__buf *b, const wasitls_functype *ft)
{
    if (ft->nresults == 0)
        wasitls__buf_puts(b, "void");
    else if (ft->nresults == 1)
        wasitls__buf_puts(b, ctype(ft->results[0]));
    else {
        wasitls__buf_puts(b, "struct wasm_multi_");
        for (uint32_t i = 0; i < ft->nresults; i++) {
            char c = tchar(ft->results[i]);
            wasitls__buf_put(b, &c, 1);
        }
    }
}

/* "(void *, u32, f64)" - the typed signature with a leading context pointer. */
static void fnptr_type(wasitls__buf *b, const wasitls_functype *ft)
{
    rettype(b, ft);
    wasitls__buf_puts(b, " (*)(void *");
    for (uint32_t i = 0; i < ft->nparams; i++)
        wasitls__buf_printf(b, ", %s", ctype(ft->params[i]));
    wasitls__buf_puts(b, ")");
}

/* Expression converting boxed value `src` (a wasitls__val) to the C type of k. */
static void unbox(wasitls__buf *b, uint8_t k, const char *src)
{
    if (k == WASITLS_FUNCREF)
        /* Host-side funcrefs are opaque: only null can be passed in from the host. */
        wasitls__buf_printf(b, "wasm_rt_funcref_null_value");
    else
        wasitls__buf_printf(b, "%s.of.%s", src, vfield(k));
}

static void box(wasitls__buf *b, uint8_t k, const char *dst, const char *expr)
{
    wasitls__buf_printf(b, "  %s.kind = %u; ", dst, k);
    if (k == WASITLS_FUNCREF)
        wasitls__buf_printf(b, "%s.of.ref = (void *)(%s).func;\n", dst, expr);
    else
        wasitls__buf_printf(b, "%s.of.%s = %s;\n", dst, vfield(k), expr);
}

/* Compares the module names of imports a and b like std::string does. */
static int name_cmp(const wasitls__modinfo *mi, uint32_t a, uint32_t b)
{
    uint32_t la = mi->import_lens[2 * a], lb = mi->import_lens[2 * b];
    int c = memcmp(mi->imports[a].module, mi->imports[b].module, la < lb ? la : lb);
    if (c) return c;
    return la < lb ? -1 : la > lb;
}

/* Is import i a repetition of an earlier import with the same module and name? */
static bool repeated(const wasitls__modinfo *mi, uint32_t i)
{
    for (uint32_t j = 0; j < i; j++)
        if (name_cmp(mi, i, j) == 0 && mi->import_lens[2 * i + 1] == mi->import_lens[2 * j + 1] &&
            !memcmp(mi->imports[i].name, mi->imports[j].name, mi->import_lens[2 * i + 1]))
            return true;
    return false;
}

/* Does the module named by import `which` provide any function import? */
static bool has_func_import(const wasitls__modinfo *mi, uint32_t which)
{
    for (uint32_t i = 0; i < mi->nimports; i++)
        if (mi->imports[i].type.kind == WASITLS_EXTERN_FUNC && name_cmp(mi, i, which) == 0)
            return true;
    return false;
}

/* An import module of part 0's wasm2c code: an original one (import index) or a part. */
typedef struct modname {
    const char *name;
    uint32_t len;
    uint32_t import; /* first import from it, or UINT32_MAX for a part */
    uint32_t part;
    char buf[32];
} modname;

/* bytewise, a prefix first: how a std::set<std::string> orders them, which is the order of
 * wasm2c's instantiate parameters */
static int modname_cmp(const void *pa, const void *pb)
{
    const modname *a = pa, *b = pb;
    int c = memcmp(a->name, b->name, a->len < b->len ? a->len : b->len);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static void part_mangled(wasitls__buf *b, uint32_t k)
{
    if (k == 0)
        wasitls__buf_puts(b, "Z_" WASITLS__W2C_NAME);
    else
        wasitls__buf_printf(b, "Z_" WASITLS__PART_PREFIX "%u", k);
}

void wasitls__gen_part_tail(const wasitls__split *sp, uint32_t k, wasitls__buf *b)
{
    wasitls__buf_puts(b, "\n/* ---- wasitls part glue ---- */\n");
    wasitls__buf_printf(b, "size_t wasitls__psize_%u(void) { return sizeof(", k);
    part_mangled(b, k);
    wasitls__buf_printf(b,
                        "_instance_t); }\n"
                        "void wasitls__pset_%u(const wasitls__rt_api *rt) { wasitls__rt = rt; }\n"
                        "void wasitls__pinit_%u(void) { ",
                        k, k);
    part_mangled(b, k);
    wasitls__buf_printf(b, "_init_module(); }\nvoid wasitls__pfree_%u(void *p) { ", k);
    part_mangled(b, k);
    wasitls__buf_puts(b, "_free(p); }\n");
    /* instantiate's parameters: the parts it imports from, by name ("wasitls_m" first) */
    modname *ms = calloc(sp->nparts, sizeof *ms);
    if (!ms) {
        b->oom = true;
        return;
    }
    uint32_t n = 0;
    for (uint32_t j = 0; j < sp->nparts; j++) {
        if (!sp->uses[k * sp->nparts + j]) continue;
        if (j == 0)
            snprintf(ms[n].buf, sizeof ms[n].buf, "%s", WASITLS__W2C_NAME);
        else
            snprintf(ms[n].buf, sizeof ms[n].buf, "%s%u", WASITLS__PART_PREFIX, j);
        ms[n].name = ms[n].buf;
        ms[n].len = (uint32_t)strlen(ms[n].buf);
        ms[n].part = j;
        n++;
    }
    qsort(ms, n, sizeof *ms, modname_cmp);
    wasitls__buf_printf(b, "void wasitls__pinst_%u(void *p, void *const *P) {\n  ", k);
    part_mangled(b, k);
    wasitls__buf_puts(b, "_instantiate(p");
    for (uint32_t i = 0; i < n; i++) {
        wasitls__buf_puts(b, ", (struct ");
        part_mangled(b, ms[i].part);
        wasitls__buf_printf(b, "_instance_t *)P[%u]", ms[i].part);
    }
    wasitls__buf_puts(b, ");\n}\n");
    free(ms);
}

int wasitls__gen_glue(const wasitls__modinfo *mi, const wasitls__split *sp, wasitls__buf *b,
                      wasitls_error *err)
{
    const char *M = "Z_" WASITLS__W2C_NAME;
    uint32_t ni = mi->nimports, ne = mi->nexports;
    uint32_t K = sp ? sp->nparts : 1;

    /* the distinct import module names (the original's, then the parts part 0 imports from),
     * sorted as wasm2c orders instantiate's parameters */
    modname *mods = calloc((size_t)ni + K + 1, sizeof *mods);
    if (!mods) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    uint32_t nmods = 0;
    for (uint32_t i = 0; i < ni; i++) {
        bool seen = false;
        for (uint32_t j = 0; j < nmods && !seen; j++)
            seen = name_cmp(mi, mods[j].import, i) == 0;
        if (!seen) {
            mods[nmods].name = mi->imports[i].module;
            mods[nmods].len = mi->import_lens[2 * i];
            mods[nmods++].import = i;
        }
    }
    for (uint32_t k = 1; k < K; k++) {
        if (!sp->uses[k]) continue;
        modname *m = &mods[nmods++];
        snprintf(m->buf, sizeof m->buf, "%s%u", WASITLS__PART_PREFIX, k);
        m->len = (uint32_t)strlen(m->buf);
        m->import = UINT32_MAX;
        m->part = k;
    }
    for (uint32_t j = 0; j < nmods; j++) /* after the array stopped moving */
        if (mods[j].import == UINT32_MAX) mods[j].name = mods[j].buf;
    qsort(mods, nmods, sizeof *mods, modname_cmp);

    wasitls__buf_printf(b,
                        "\n/* ---- wasitls glue ---- */\n"
                        "typedef struct wasitls__inst { %s_instance_t w; wasitls__slot slots[%u]; "
                        "} wasitls__inst;\n",
                        M, ni ? ni : 1);

    for (uint32_t i = 0; i < ni; i++) {
        const wasitls_importdesc *im = &mi->imports[i];
        /* slots of the instance, from the self-pointer in its Z_<module>_instance field; wasm2c
         * only has that field for modules we import functions from, and otherwise gets the
         * instance itself (see wasitls__instantiate) */
        if (has_func_import(mi, i)) {
            wasitls__buf_printf(b,
                                "#define WASITLS__SLOT%u(p) (&((wasitls__inst *)((char *)(p) - "
                                "offsetof(%s_instance_t, ",
                                i, M);
            mangle_n(b, im->module, mi->import_lens[2 * i]);
            wasitls__buf_printf(b, "_instance)))->slots[%u])\n", i);
        } else {
            wasitls__buf_printf(
                b, "#define WASITLS__SLOT%u(p) (&((wasitls__inst *)(p))->slots[%u])\n", i, i);
        }
        switch (im->type.kind) {
        case WASITLS_EXTERN_FUNC: {
            const wasitls_functype *ft = &im->type.func;
            /* boxing stub, used when the import is a host function */
            rettype(b, ft);
            wasitls__buf_printf(b, " wasitls__box%u(void *ctx", i);
            for (uint32_t k = 0; k < ft->nparams; k++)
                wasitls__buf_printf(b, ", %s a%u", ctype(ft->params[k]), k);
            wasitls__buf_printf(b, ") {\n  wasitls__val a[%u], r[%u];\n",
                                ft->nparams ? ft->nparams : 1, ft->nresults ? ft->nresults : 1);
            for (uint32_t k = 0; k < ft->nparams; k++) {
                char dst[32], ex[32];
                snprintf(dst, sizeof dst, "a[%u]", k);
                snprintf(ex, sizeof ex, "a%u", k);
                box(b, ft->params[k], dst, ex);
            }
            wasitls__buf_puts(b, "  wasitls__rt->host_call(ctx, a, r);\n");
            if (ft->nresults == 1) {
                wasitls__buf_puts(b, "  return ");
                unbox(b, ft->results[0], "r[0]");
                wasitls__buf_puts(b, ";\n");
            } else if (ft->nresults > 1) {
                wasitls__buf_puts(b, "  ");
                rettype(b, ft);
                wasitls__buf_puts(b, " res;\n");
                for (uint32_t k = 0; k < ft->nresults; k++) {
                    char src[32];
                    snprintf(src, sizeof src, "r[%u]", k);
                    wasitls__buf_printf(b, "  res.%c%u = ", tchar(ft->results[k]), k);
                    unbox(b, ft->results[k], src);
                    wasitls__buf_puts(b, ";\n");
                }
                wasitls__buf_puts(b, "  return res;\n");
            }
            wasitls__buf_puts(b, "}\n");
            /* the trampoline wasm2c's code calls; an import repeated under the same names is
             * one symbol for wasm2c, wired through the first one's slot */
            if (repeated(mi, i)) break;
            rettype(b, ft);
            wasitls__buf_puts(b, " ");
            mangle_n(b, im->module, mi->import_lens[2 * i]);
            mangle_n(b, im->name, mi->import_lens[2 * i + 1]);
            wasitls__buf_puts(b, "(struct ");
            mangle_n(b, im->module, mi->import_lens[2 * i]);
            wasitls__buf_puts(b, "_instance_t *p");
            for (uint32_t k = 0; k < ft->nparams; k++)
                wasitls__buf_printf(b, ", %s a%u", ctype(ft->params[k]), k);
            wasitls__buf_printf(b, ") {\n  wasitls__slot *s = WASITLS__SLOT%u(p);\n  return ((", i);
            fnptr_type(b, ft);
            wasitls__buf_puts(b, ")s->fn)(s->ctx");
            for (uint32_t k = 0; k < ft->nparams; k++)
                wasitls__buf_printf(b, ", a%u", k);
            wasitls__buf_puts(b, ");\n}\n");
            break;
        }
        case WASITLS_EXTERN_MEMORY:
        case WASITLS_EXTERN_TABLE:
        case WASITLS_EXTERN_GLOBAL: {
            const char *t;
            if (im->type.kind == WASITLS_EXTERN_MEMORY)
                t = "wasm_rt_memory_t";
            else if (im->type.kind == WASITLS_EXTERN_TABLE)
                t = im->type.table.elem == WASITLS_FUNCREF ? "wasm_rt_funcref_table_t"
                                                           : "wasm_rt_externref_table_t";
            else
                t = ctype(im->type.global.type);
            if (repeated(mi, i)) break;
            wasitls__buf_printf(b, "%s *", t);
            mangle_n(b, im->module, mi->import_lens[2 * i]);
            mangle_n(b, im->name, mi->import_lens[2 * i + 1]);
            wasitls__buf_puts(b, "(struct ");
            mangle_n(b, im->module, mi->import_lens[2 * i]);
            wasitls__buf_printf(b, "_instance_t *p) { return (%s *)WASITLS__SLOT%u(p)->ctx; }\n", t,
                                i);
            break;
        }
        }
    }

    wasitls__buf_puts(b, "static void *wasitls__boxes[] = {");
    for (uint32_t i = 0; i < ni; i++) {
        if (mi->imports[i].type.kind == WASITLS_EXTERN_FUNC)
            wasitls__buf_printf(b, "(void *)wasitls__box%u, ", i);
        else
            wasitls__buf_puts(b, "0, ");
    }
    wasitls__buf_puts(b, "0};\n");

    for (uint32_t i = 0; i < ne; i++) {
        const wasitls_exportdesc *ex = &mi->exports[i];
        if (ex->type.kind == WASITLS_EXTERN_FUNC) {
            const wasitls_functype *ft = &ex->type.func;
            wasitls__buf_printf(b,
                                "static void wasitls__call%u(void *inst, const wasitls__val *a, "
                                "wasitls__val *r) {\n  ",
                                i);
            if (ft->nresults) {
                rettype(b, ft);
                wasitls__buf_puts(b, " x = ");
            }
            wasitls__buf_printf(b, "%s", M);
            mangle_n(b, ex->name, mi->export_lens[i]);
            wasitls__buf_printf(b, "((%s_instance_t *)inst", M);
            for (uint32_t k = 0; k < ft->nparams; k++) {
                char src[32];
                snprintf(src, sizeof src, "a[%u]", k);
                wasitls__buf_puts(b, ", ");
                unbox(b, ft->params[k], src);
            }
            wasitls__buf_puts(b, ");\n");
            for (uint32_t k = 0; k < ft->nresults; k++) {
                char dst[32], e[32];
                snprintf(dst, sizeof dst, "r[%u]", k);
                if (ft->nresults == 1)
                    snprintf(e, sizeof e, "x");
                else
                    snprintf(e, sizeof e, "x.%c%u", tchar(ft->results[k]), k);
                box(b, ft->results[k], dst, e);
            }
            wasitls__buf_puts(b, "}\n");
        } else {
            wasitls__buf_printf(b, "static void *wasitls__get%u(void *inst) { return (void *)%s", i,
                                M);
            mangle_n(b, ex->name, mi->export_lens[i]);
            wasitls__buf_printf(b, "((%s_instance_t *)inst); }\n", M);
        }
    }
    wasitls__buf_puts(b, "static wasitls__export_fn wasitls__exports[] = {\n");
    for (uint32_t i = 0; i < ne; i++) {
        const wasitls_exportdesc *ex = &mi->exports[i];
        if (ex->type.kind == WASITLS_EXTERN_FUNC) {
            wasitls__buf_printf(b, "  {(void *)%s", M);
            mangle_n(b, ex->name, mi->export_lens[i]);
            wasitls__buf_printf(b, ", wasitls__call%u, 0},\n", i);
        } else {
            wasitls__buf_printf(b, "  {0, 0, wasitls__get%u},\n", i);
        }
    }
    wasitls__buf_puts(b, "  {0, 0, 0}};\n");

    if (sp) {
        /* the parts live after the instance and its slots, at offsets known once the entry
         * point has asked each part its size */
        for (uint32_t k = 1; k < K; k++)
            wasitls__buf_printf(b,
                                "size_t wasitls__psize_%u(void); void wasitls__pset_%u(const "
                                "wasitls__rt_api *); void wasitls__pinit_%u(void);\n"
                                "void wasitls__pinst_%u(void *, void *const *); void "
                                "wasitls__pfree_%u(void *);\n",
                                k, k, k, k, k);
        wasitls__buf_printf(b, "static size_t wasitls__poff[%u];\n", K);
        wasitls__buf_puts(b, "static size_t (*const wasitls__psize[])(void) = {0");
        for (uint32_t k = 1; k < K; k++)
            wasitls__buf_printf(b, ", wasitls__psize_%u", k);
        wasitls__buf_puts(b,
                          "};\nstatic void (*const wasitls__pset[])(const wasitls__rt_api *) = {0");
        for (uint32_t k = 1; k < K; k++)
            wasitls__buf_printf(b, ", wasitls__pset_%u", k);
        wasitls__buf_puts(b, "};\nstatic void (*const wasitls__pinit[])(void) = {0");
        for (uint32_t k = 1; k < K; k++)
            wasitls__buf_printf(b, ", wasitls__pinit_%u", k);
        wasitls__buf_puts(b,
                          "};\nstatic void (*const wasitls__pinst[])(void *, void *const *) = {0");
        for (uint32_t k = 1; k < K; k++)
            wasitls__buf_printf(b, ", wasitls__pinst_%u", k);
        wasitls__buf_puts(b, "};\nstatic void (*const wasitls__pfree[])(void *) = {0");
        for (uint32_t k = 1; k < K; k++)
            wasitls__buf_printf(b, ", wasitls__pfree_%u", k);
        wasitls__buf_printf(b,
                            "};\n"
                            "static void wasitls__init_module(void) {\n  %s_init_module();\n"
                            "  for (int k = 1; k < %u; k++) wasitls__pinit[k]();\n}\n",
                            M, K);
    }
    wasitls__buf_puts(b, "static void wasitls__instantiate(void *p) {\n  wasitls__inst *I = p;\n");
    if (sp)
        wasitls__buf_printf(b,
                            "  void *P[%u]; P[0] = &I->w;\n"
                            "  for (int k = 1; k < %u; k++) P[k] = (char *)p + wasitls__poff[k];\n",
                            K, K);
    wasitls__buf_printf(b, "  %s_instantiate(&I->w", M);
    for (uint32_t j = 0; j < nmods; j++) {
        wasitls__buf_puts(b, ", (struct ");
        if (mods[j].import == UINT32_MAX) {
            part_mangled(b, mods[j].part);
            wasitls__buf_printf(b, "_instance_t *)P[%u]", mods[j].part);
            continue;
        }
        const char *mname = mods[j].name;
        uint32_t mlen = mods[j].len;
        mangle_n(b, mname, mlen);
        if (has_func_import(mi, mods[j].import)) {
            wasitls__buf_puts(b, "_instance_t *)&I->w.");
            mangle_n(b, mname, mlen);
            wasitls__buf_puts(b, "_instance");
        } else {
            wasitls__buf_puts(b, "_instance_t *)I");
        }
    }
    wasitls__buf_puts(b, ");\n");
    if (sp) {
        /* every part is wired before any guest code runs: the start function last */
        wasitls__buf_printf(b, "  for (int k = 1; k < %u; k++) wasitls__pinst[k](P[k], P);\n", K);
        if (sp->has_start) wasitls__buf_printf(b, "  %sZ_wasitlsZ3Astart(&I->w);\n", M);
    }
    wasitls__buf_puts(b, "}\n");
    if (sp)
        wasitls__buf_printf(b,
                            "static void wasitls__free(void *p) {\n"
                            "  for (int k = 1; k < %u; k++) wasitls__pfree[k]((char *)p + "
                            "wasitls__poff[k]);\n"
                            "  %s_free((%s_instance_t *)p);\n}\n",
                            K, M, M);
    else
        wasitls__buf_printf(
            b, "static void wasitls__free(void *p) { %s_free((%s_instance_t *)p); }\n", M, M);
    wasitls__buf_printf(
        b,
        "#if defined(__GNUC__) && "
        "!defined(__TINYC__)\n__attribute__((visibility(\"default\")))\n#endif\n"
        "void wasitls__module_entry(const wasitls__rt_api *rt, wasitls__glue *g) {\n"
        "  wasitls__rt = rt;\n"
        "  g->abi_version = WASITLS__GLUE_ABI;\n"
        "  g->nimports = %u; g->nexports = %u;\n"
        "  g->instance_size = sizeof(wasitls__inst);\n"
        "  g->slots_offset = offsetof(wasitls__inst, slots);\n"
        "  g->init_module = %s_init_module;\n"
        "  g->instantiate = wasitls__instantiate;\n"
        "  g->free = wasitls__free;\n"
        "  g->import_box = wasitls__boxes;\n"
        "  g->exports = wasitls__exports;\n",
        ni, ne, M);
    if (sp)
        wasitls__buf_printf(b,
                            "  for (int k = 1; k < %u; k++) {\n"
                            "    size_t at = (g->instance_size + 15) & ~(size_t)15;\n"
                            "    wasitls__poff[k] = at;\n"
                            "    g->instance_size = at + wasitls__psize[k]();\n"
                            "    wasitls__pset[k](rt);\n"
                            "  }\n"
                            "  g->init_module = wasitls__init_module;\n",
                            K);
    wasitls__buf_puts(b, "}\n");
    free(mods);
    if (b->oom) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory generating glue");
    return 0;
}
