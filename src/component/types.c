/* Component types: construction, canonical ABI layout (CanonicalABI.md "Alignment", "Element
 * Size", "Flattening"), and structural matching of a guest's import types against the host's. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static wasitls__ctype prims[CT_STRING + 1];
static bool prims_ready;

static void prims_init(void)
{
    static const struct {
        uint32_t size;
        uint8_t flat;
    } info[CT_STRING + 1] = {
        [CT_BOOL] = {1, WASITLS_I32},   [CT_S8] = {1, WASITLS_I32},  [CT_U8] = {1, WASITLS_I32},
        [CT_S16] = {2, WASITLS_I32},    [CT_U16] = {2, WASITLS_I32}, [CT_S32] = {4, WASITLS_I32},
        [CT_U32] = {4, WASITLS_I32},    [CT_S64] = {8, WASITLS_I64}, [CT_U64] = {8, WASITLS_I64},
        [CT_F32] = {4, WASITLS_F32},    [CT_F64] = {8, WASITLS_F64}, [CT_CHAR] = {4, WASITLS_I32},
        [CT_STRING] = {8, WASITLS_I32},
    };
    for (int k = 0; k <= CT_STRING; k++) {
        wasitls__ctype *t = &prims[k];
        t->kind = (uint8_t)k;
        t->size = info[k].size;
        t->align = k == CT_STRING ? 4 : info[k].size;
        t->flat[0] = info[k].flat;
        t->nflat = 1;
        if (k == CT_STRING) {
            t->flat[1] = WASITLS_I32;
            t->nflat = 2;
        }
        t->depth = 1;
    }
    prims_ready = true;
}

wasitls__ctype *wasitls__ct_prim(uint8_t kind)
{
    if (!prims_ready) prims_init();
    if (kind > CT_STRING) return NULL;
    return &prims[kind];
}

wasitls__ctype *wasitls__ct_new(wasitls__arena *a, uint8_t kind, uint32_t n)
{
    wasitls__ctype *t = wasitls__arena_alloc(a, sizeof(*t));
    if (!t) return NULL;
    t->kind = kind;
    t->n = n;
    if (n) {
        t->names = wasitls__arena_array(a, n, sizeof(*t->names));
        t->elems = wasitls__arena_array(a, n, sizeof(*t->elems));
        if (kind == CT_INSTANCE || kind == CT_COMPONENT) t->sorts = wasitls__arena_array(a, n, 1);
        if (!t->names || !t->elems || ((kind == CT_INSTANCE || kind == CT_COMPONENT) && !t->sorts))
            return NULL;
    }
    if (kind == CT_RESOURCE) {
        t->res = wasitls__arena_alloc(a, sizeof(*t->res));
        if (!t->res) return NULL;
    }
    return t;
}

uint32_t wasitls__align_to(uint32_t x, uint32_t a)
{
    return (x + a - 1) / a * a;
}

uint32_t wasitls__disc_size(uint32_t n)
{
    if (n <= 256) return 1;
    if (n <= 65536) return 2;
    return 4;
}

static uint8_t join(uint8_t a, uint8_t b)
{
    if (a == b) return a;
    if ((a == WASITLS_I32 && b == WASITLS_F32) || (a == WASITLS_F32 && b == WASITLS_I32))
        return WASITLS_I32;
    return WASITLS_I64;
}

/* Variant-like layout over payloads p[0..n) (NULL = no payload). */
static int finish_variant(wasitls__ctype *t, wasitls__ctype *const *p, uint32_t n, uint64_t *size)
{
    uint32_t ds = wasitls__disc_size(n);
    uint32_t maxal = 1;
    uint64_t maxsz = 0;
    uint32_t nf = 0;
    uint8_t flat[16] = {0};
    for (uint32_t i = 0; i < n; i++) {
        if (!p[i]) continue;
        if (p[i]->align > maxal) maxal = p[i]->align;
        if (p[i]->size > maxsz) maxsz = p[i]->size;
        for (uint32_t j = 0; j < p[i]->nflat; j++) {
            if (j < 15) {
                uint8_t ft = p[i]->flat[j < 16 ? j : 15];
                flat[j] = j < nf ? join(flat[j], ft) : ft;
            }
        }
        if (p[i]->nflat > nf) nf = p[i]->nflat;
    }
    t->align = ds > maxal ? ds : maxal;
    uint64_t s = wasitls__align_to(ds, maxal) + maxsz;
    *size = (s + t->align - 1) / t->align * t->align;
    t->flat[0] = WASITLS_I32;
    for (uint32_t j = 0; j < nf && j < 15; j++)
        t->flat[j + 1] = flat[j];
    t->nflat = 1 + nf;
    return 0;
}

int wasitls__ct_finish(wasitls__ctype *t, wasitls_error *err)
{
    uint64_t size = 0;
    uint32_t depth = 0;
    bool borrow = false;
    switch (t->kind) {
    case CT_LIST:
        t->align = 4;
        size = 8;
        t->flat[0] = t->flat[1] = WASITLS_I32;
        t->nflat = 2;
        depth = t->t->depth;
        borrow = t->t->has_borrow;
        break;
    case CT_RECORD:
    case CT_TUPLE: {
        if (t->n == 0)
            return wasitls_error_set(err, WASITLS_E_INVALID, "%s type with no fields",
                                     t->kind == CT_RECORD ? "record" : "tuple");
        t->align = 1;
        uint32_t nf = 0;
        for (uint32_t i = 0; i < t->n; i++) {
            wasitls__ctype *f = t->elems[i];
            size = (size + f->align - 1) / f->align * f->align + f->size;
            if (size >= WASITLS__MAX_BYTE_LENGTH) break;
            if (f->align > t->align) t->align = f->align;
            for (uint32_t j = 0; j < f->nflat && nf + j < 16; j++)
                t->flat[nf + j] = f->flat[j];
            nf = nf + f->nflat > 1000000 ? 1000000 : nf + f->nflat;
            if (f->depth > depth) depth = f->depth;
            borrow |= f->has_borrow;
        }
        size = (size + t->align - 1) / t->align * t->align;
        t->nflat = nf;
        break;
    }
    case CT_VARIANT:
        if (t->n == 0)
            return wasitls_error_set(err, WASITLS_E_INVALID, "variant type with no cases");
        finish_variant(t, t->elems, t->n, &size);
        for (uint32_t i = 0; i < t->n; i++)
            if (t->elems[i]) {
                if (t->elems[i]->depth > depth) depth = t->elems[i]->depth;
                borrow |= t->elems[i]->has_borrow;
            }
        break;
    case CT_ENUM:
        if (t->n == 0) return wasitls_error_set(err, WASITLS_E_INVALID, "enum type with no cases");
        size = t->align = wasitls__disc_size(t->n);
        t->flat[0] = WASITLS_I32;
        t->nflat = 1;
        break;
    case CT_OPTION: {
        wasitls__ctype *p[2] = {NULL, t->t};
        finish_variant(t, p, 2, &size);
        depth = t->t->depth;
        borrow = t->t->has_borrow;
        break;
    }
    case CT_RESULT: {
        wasitls__ctype *p[2] = {t->t, t->e};
        finish_variant(t, p, 2, &size);
        for (int i = 0; i < 2; i++)
            if (p[i]) {
                if (p[i]->depth > depth) depth = p[i]->depth;
                borrow |= p[i]->has_borrow;
            }
        break;
    }
    case CT_FLAGS:
        if (t->n == 0 || t->n > 32)
            return wasitls_error_set(err, WASITLS_E_INVALID,
                                     "flags type with %u labels (1 to 32 supported)", t->n);
        size = t->align = t->n <= 8 ? 1 : t->n <= 16 ? 2 : 4;
        t->flat[0] = WASITLS_I32;
        t->nflat = 1;
        break;
    case CT_OWN:
    case CT_BORROW:
        size = t->align = 4;
        t->flat[0] = WASITLS_I32;
        t->nflat = 1;
        borrow = t->kind == CT_BORROW;
        break;
    default:
        return 0;
    }
    if (size >= WASITLS__MAX_BYTE_LENGTH)
        return wasitls_error_set(err, WASITLS_E_LIMIT, "%s type too large (element size >= 2^28)",
                                 wasitls__ct_kind_name(t->kind));
    t->size = (uint32_t)size;
    t->depth = depth + 1;
    t->has_borrow = borrow;
    if (t->depth > WASITLS__MAX_TYPE_DEPTH)
        return wasitls_error_set(err, WASITLS_E_LIMIT, "value type nested deeper than %u",
                                 WASITLS__MAX_TYPE_DEPTH);
    return 0;
}

void wasitls__tuple_layout(wasitls__ctype *const *ts, uint32_t n, uint32_t *size, uint32_t *align)
{
    uint64_t s = 0;
    uint32_t al = 1;
    for (uint32_t i = 0; i < n; i++) {
        s = (s + ts[i]->align - 1) / ts[i]->align * ts[i]->align + ts[i]->size;
        if (ts[i]->align > al) al = ts[i]->align;
    }
    s = (s + al - 1) / al * al;
    *size = s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
    *align = al;
}

void wasitls__ct_core_sig(const wasitls__ctype *ft, bool lower, uint8_t *params, uint32_t *np,
                          uint8_t *results, uint32_t *nr)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < ft->n; i++)
        total += ft->elems[i]->nflat;
    uint32_t k = 0;
    if (total > WASITLS__MAX_FLAT_PARAMS) {
        params[k++] = WASITLS_I32;
    } else {
        for (uint32_t i = 0; i < ft->n; i++)
            for (uint32_t j = 0; j < ft->elems[i]->nflat; j++)
                params[k++] = ft->elems[i]->flat[j];
    }
    *nr = 0;
    if (ft->t) {
        if (ft->t->nflat > WASITLS__MAX_FLAT_RESULTS) {
            if (lower)
                params[k++] = WASITLS_I32;
            else
                results[(*nr)++] = WASITLS_I32;
        } else {
            for (uint32_t j = 0; j < ft->t->nflat; j++)
                results[(*nr)++] = ft->t->flat[j];
        }
    }
    *np = k;
}

const char *wasitls__ct_kind_name(uint8_t kind)
{
    static const char *const names[] = {
        [CT_BOOL] = "bool",
        [CT_S8] = "s8",
        [CT_U8] = "u8",
        [CT_S16] = "s16",
        [CT_U16] = "u16",
        [CT_S32] = "s32",
        [CT_U32] = "u32",
        [CT_S64] = "s64",
        [CT_U64] = "u64",
        [CT_F32] = "f32",
        [CT_F64] = "f64",
        [CT_CHAR] = "char",
        [CT_STRING] = "string",
        [CT_LIST] = "list",
        [CT_RECORD] = "record",
        [CT_TUPLE] = "tuple",
        [CT_VARIANT] = "variant",
        [CT_ENUM] = "enum",
        [CT_OPTION] = "option",
        [CT_RESULT] = "result",
        [CT_FLAGS] = "flags",
        [CT_OWN] = "own",
        [CT_BORROW] = "borrow",
        [CT_RESOURCE] = "resource",
        [CT_FUNC] = "func",
        [CT_INSTANCE] = "instance",
        [CT_COMPONENT] = "component",
    };
    return kind < sizeof(names) / sizeof(names[0]) && names[kind] ? names[kind] : "?";
}

static bool fail(char *why, size_t n, const char *fmt, const char *a, const char *b)
{
    if (why && n) snprintf(why, n, fmt, a, b);
    return false;
}

static bool res_match(const wasitls__ctype *g, const wasitls__ctype *h, const wasitls__subst *s,
                      char *why, size_t wn)
{
    if (g == h) return true;
    if (g->kind != CT_RESOURCE || h->kind != CT_RESOURCE)
        return fail(why, wn, "%s is not a resource (%s)", wasitls__ct_kind_name(g->kind), "");
    if (s) {
        for (size_t i = 0; i < s->n; i++)
            if (s->from[i] == g) {
                if (s->to[i] == h) return true;
                break;
            }
    }
    return fail(why, wn, "resource %s is not the host's resource %s",
                g->res && g->res->name ? g->res->name : "?",
                h->res && h->res->name ? h->res->name : "?");
}

bool wasitls__ct_match(const wasitls__ctype *g, const wasitls__ctype *h, const wasitls__subst *s,
                       char *why, size_t wn)
{
    if (g == h) return true;
    if (!g || !h)
        return fail(why, wn, "%s where %s is expected",
                    g ? wasitls__ct_kind_name(g->kind) : "nothing",
                    h ? wasitls__ct_kind_name(h->kind) : "nothing");
    if (g->kind != h->kind)
        return fail(why, wn, "%s where %s is expected", wasitls__ct_kind_name(g->kind),
                    wasitls__ct_kind_name(h->kind));
    switch (g->kind) {
    case CT_LIST:
    case CT_OPTION:
        return wasitls__ct_match(g->t, h->t, s, why, wn);
    case CT_RESULT:
        if (!!g->t != !!h->t || !!g->e != !!h->e)
            return fail(why, wn, "result payloads differ%s%s", "", "");
        return (!g->t || wasitls__ct_match(g->t, h->t, s, why, wn)) &&
               (!g->e || wasitls__ct_match(g->e, h->e, s, why, wn));
    case CT_OWN:
    case CT_BORROW:
        return res_match(g->t, h->t, s, why, wn);
    case CT_RESOURCE:
        return res_match(g, h, s, why, wn);
    case CT_RECORD:
    case CT_VARIANT:
    case CT_ENUM:
    case CT_FLAGS:
    case CT_TUPLE:
    case CT_FUNC:
        if (g->n != h->n)
            return fail(why, wn, "%s has a different number of %s", wasitls__ct_kind_name(g->kind),
                        g->kind == CT_FUNC ? "parameters" : "members");
        for (uint32_t i = 0; i < g->n; i++) {
            if (g->kind != CT_TUPLE && g->kind != CT_FUNC && strcmp(g->names[i], h->names[i]) != 0)
                return fail(why, wn, "member `%s` where `%s` is expected", g->names[i],
                            h->names[i]);
            if (g->kind == CT_ENUM || g->kind == CT_FLAGS) continue;
            if (!!g->elems[i] != !!h->elems[i])
                return fail(why, wn, "case `%s` payload differs%s", g->names ? g->names[i] : "",
                            "");
            if (g->elems[i] && !wasitls__ct_match(g->elems[i], h->elems[i], s, why, wn))
                return false;
        }
        if (g->kind == CT_FUNC) {
            if (!!g->t != !!h->t)
                return fail(why, wn, "function result differs (%s vs %s)", g->t ? "one" : "none",
                            h->t ? "one" : "none");
            if (g->t && !wasitls__ct_match(g->t, h->t, s, why, wn)) return false;
        }
        return true;
    default:
        return true; /* primitives: same kind */
    }
}
