/* Canonical ABI against a plain byte buffer standing in for guest memory: layout, flattening,
 * store/load and flat round trips, string transcoding, and the traps on bad guest data. */
#include <math.h>
#include <string.h>

#include "../../src/component/internal.h"
#include "t.h"

static uint8_t mem[1 << 16];
static uint32_t brk;
static int nreallocs;

static int bump(wasitls__canon *cx, uint32_t old, uint32_t oldsz, uint32_t align, uint32_t newsz,
                uint32_t *out)
{
    nreallocs++;
    if (old && newsz <= oldsz) { /* shrink in place */
        *out = old;
        return 0;
    }
    brk = (brk + align - 1) / align * align;
    *out = brk;
    if (old && oldsz) memmove(mem + brk, mem + old, oldsz);
    brk += newsz;
    return 0;
}

static wasitls__arena arena;
static wasitls_error err;

static void cx_init(wasitls__canon *cx, uint8_t enc)
{
    memset(cx, 0, sizeof(*cx));
    cx->enc = enc;
    cx->base = mem;
    cx->len = sizeof mem;
    cx->realloc = bump;
    cx->arena = &arena;
    cx->copy = true;
    cx->err = &err;
    wasitls_error_clear(&err);
    brk = 1024;
    nreallocs = 0;
}

static wasitls__ctype *mk(uint8_t kind, uint32_t n, ...)
{
    wasitls__ctype *t = wasitls__ct_new(&arena, kind, n);
    va_list ap;
    va_start(ap, n);
    for (uint32_t i = 0; i < n; i++) {
        t->names[i] = va_arg(ap, const char *);
        t->elems[i] = va_arg(ap, wasitls__ctype *);
    }
    va_end(ap);
    CHECK_OK(wasitls__ct_finish(t, &err), &err);
    return t;
}

static wasitls__ctype *mk1(uint8_t kind, wasitls__ctype *a, wasitls__ctype *b)
{
    wasitls__ctype *t = wasitls__ct_new(&arena, kind, 0);
    t->t = a;
    t->e = b;
    CHECK_OK(wasitls__ct_finish(t, &err), &err);
    return t;
}

#define P(k) wasitls__ct_prim(k)

static void layout(void)
{
    wasitls__arena_init(&arena);
    wasitls__ctype *r = mk(CT_RECORD, 3, "a", P(CT_U8), "b", P(CT_U32), "c", P(CT_U64));
    CHECK(r->size == 16 && r->align == 8 && r->nflat == 3);
    CHECK(r->flat[0] == WASITLS_I32 && r->flat[2] == WASITLS_I64);
    wasitls__ctype *v = mk(CT_VARIANT, 3, "x", NULL, "y", P(CT_F32), "z", P(CT_U64));
    CHECK(v->size == 16 && v->align == 8 && v->nflat == 2 && v->flat[1] == WASITLS_I64);
    wasitls__ctype *v2 = mk(CT_VARIANT, 2, "x", P(CT_F32), "y", P(CT_U32));
    CHECK(v2->nflat == 2 && v2->flat[1] == WASITLS_I32 && v2->size == 8);
    wasitls__ctype *o = mk1(CT_OPTION, P(CT_F64), NULL);
    CHECK(o->size == 16 && o->align == 8 && o->nflat == 2 && o->flat[1] == WASITLS_F64);
    wasitls__ctype *res = mk1(CT_RESULT, P(CT_STRING), P(CT_U8));
    CHECK(res->size == 12 && res->align == 4 && res->nflat == 3);
    wasitls__ctype *e = mk1(CT_RESULT, NULL, NULL);
    CHECK(e->size == 1 && e->nflat == 1);
    wasitls__ctype *fl = wasitls__ct_new(&arena, CT_FLAGS, 9);
    CHECK_OK(wasitls__ct_finish(fl, &err), &err);
    CHECK(fl->size == 2 && fl->nflat == 1);
    wasitls__ctype *en = wasitls__ct_new(&arena, CT_ENUM, 300);
    CHECK_OK(wasitls__ct_finish(en, &err), &err);
    CHECK(en->size == 2);
    wasitls__ctype *big = wasitls__ct_new(&arena, CT_TUPLE, 20);
    for (int i = 0; i < 20; i++)
        big->elems[i] = P(CT_U32);
    CHECK_OK(wasitls__ct_finish(big, &err), &err);
    CHECK(big->nflat == 20 && big->size == 80);
    /* function signatures: > 16 params through memory, > 1 result through a return pointer */
    wasitls__ctype *ft = wasitls__ct_new(&arena, CT_FUNC, 1);
    ft->elems[0] = big;
    ft->t = res;
    uint8_t p[17], rr[2];
    uint32_t np, nr;
    wasitls__ct_core_sig(ft, true, p, &np, rr, &nr);
    CHECK(np == 2 && nr == 0);
    wasitls__ct_core_sig(ft, false, p, &np, rr, &nr);
    CHECK(np == 1 && nr == 1);
    /* element size limit */
    wasitls__ctype *huge = wasitls__ct_new(&arena, CT_TUPLE, 2000);
    wasitls__ctype *chunk = big;
    for (int i = 0; i < 4; i++) {
        wasitls__ctype *t = wasitls__ct_new(&arena, CT_TUPLE, 2000);
        for (int k = 0; k < 2000; k++)
            t->elems[k] = chunk;
        int rc = wasitls__ct_finish(t, &err);
        if (rc) {
            CHECK(rc == WASITLS_E_LIMIT);
            huge = NULL;
            break;
        }
        chunk = t;
    }
    CHECK(huge == NULL);
    wasitls__arena_free(&arena);
}

static wasitls_cval S(const char *s)
{
    wasitls_cval v = {.kind = WASITLS_CV_STRING};
    v.of.str.ptr = s;
    v.of.str.len = strlen(s);
    return v;
}

static void roundtrip(void)
{
    wasitls__arena_init(&arena);
    wasitls__canon cx;
    cx_init(&cx, 0);
    wasitls__ctype *lst = mk1(CT_LIST, P(CT_STRING), NULL);
    wasitls__ctype *opt = mk1(CT_OPTION, P(CT_S16), NULL);
    wasitls__ctype *var = mk(CT_VARIANT, 3, "a", NULL, "b", P(CT_F32), "c", lst);
    wasitls__ctype *rec = mk(CT_RECORD, 5, "name", P(CT_STRING), "opt", opt, "v", var, "ch",
                             P(CT_CHAR), "bytes", mk1(CT_LIST, P(CT_U8), NULL));
    wasitls_cval items[2] = {S("x"), S("h\xc3\xa9llo")};
    wasitls_cval l = {.kind = WASITLS_CV_LIST};
    l.of.list.items = items;
    l.of.list.len = 2;
    wasitls_cval s16 = {.kind = WASITLS_CV_S16};
    s16.of.s = -5;
    wasitls_cval f[5];
    f[0] = S("record");
    f[1] = wasitls_cv_var(WASITLS_CV_OPTION, 1, &s16);
    f[2] = wasitls_cv_var(WASITLS_CV_VARIANT, 2, &l);
    f[3].kind = WASITLS_CV_CHAR;
    f[3].of.ch = 0x1F600;
    f[4].kind = WASITLS_CV_BYTES;
    f[4].of.bytes.ptr = (const uint8_t *)"\0\1\2";
    f[4].of.bytes.len = 3;
    wasitls_cval r = {.kind = WASITLS_CV_RECORD};
    r.of.list.items = f;
    r.of.list.len = 5;
    /* through memory */
    CHECK_OK(wasitls__canon_store(&cx, &r, rec, 64), &err);
    wasitls_cval back;
    CHECK_OK(wasitls__canon_load(&cx, 64, rec, &back), &err);
    CHECK(back.kind == WASITLS_CV_RECORD && back.of.list.len == 5);
    CHECK(back.of.list.items[0].of.str.len == 6 &&
          !memcmp(back.of.list.items[0].of.str.ptr, "record", 6));
    CHECK(back.of.list.items[1].of.var.tag == 1 &&
          back.of.list.items[1].of.var.payload->of.s == -5);
    wasitls_cval *bv = &back.of.list.items[2];
    CHECK(bv->of.var.tag == 2 && bv->of.var.payload->of.list.len == 2);
    CHECK(!memcmp(bv->of.var.payload->of.list.items[1].of.str.ptr, "h\xc3\xa9llo", 6));
    CHECK(back.of.list.items[3].of.ch == 0x1F600);
    CHECK(back.of.list.items[4].kind == WASITLS_CV_BYTES &&
          back.of.list.items[4].of.bytes.len == 3 && back.of.list.items[4].of.bytes.ptr[2] == 2);
    /* flat: rec has 2+2+3+1+2 = 10 flat values */
    wasitls_val vals[17];
    size_t n;
    wasitls__ctype *ts[1] = {rec};
    CHECK_OK(wasitls__lower_flat_values(&cx, ts, 1, 16, &r, vals, &n, NULL), &err);
    CHECK(n == 10 && vals[4].kind == WASITLS_I32 && vals[5].kind == WASITLS_I32);
    CHECK_OK(wasitls__lift_flat_values(&cx, ts, 1, 16, vals, n, &back), &err);
    CHECK(back.of.list.items[2].of.var.payload->of.list.len == 2);
    /* variant join: f32 payload travels in an i64 slot */
    wasitls__ctype *vj = mk(CT_VARIANT, 2, "f", P(CT_F32), "u", P(CT_U64));
    wasitls_cval fv = {.kind = WASITLS_CV_F32};
    fv.of.f32 = 1.5f;
    wasitls_cval vv = wasitls_cv_var(WASITLS_CV_VARIANT, 0, &fv);
    ts[0] = vj;
    CHECK_OK(wasitls__lower_flat_values(&cx, ts, 1, 16, &vv, vals, &n, NULL), &err);
    CHECK(n == 2 && vals[1].kind == WASITLS_I64 && vals[1].of.i64 == 0x3fc00000u);
    CHECK_OK(wasitls__lift_flat_values(&cx, ts, 1, 16, vals, n, &back), &err);
    CHECK(back.of.var.tag == 0 && back.of.var.payload->of.f32 == 1.5f);
    /* > 1 result through a return pointer */
    ts[0] = rec;
    uint32_t retptr = 4096;
    CHECK_OK(wasitls__lower_flat_values(&cx, ts, 1, 1, &r, vals, &n, &retptr), &err);
    CHECK(n == 0);
    vals[0].kind = WASITLS_I32;
    vals[0].of.i32 = 4096;
    CHECK_OK(wasitls__lift_flat_values(&cx, ts, 1, 1, vals, 1, &back), &err);
    CHECK(back.of.list.items[3].of.ch == 0x1F600);
    /* NaN is canonicalised */
    fv.of.f32 = nanf("0x123");
    ts[0] = P(CT_F32);
    CHECK_OK(wasitls__lower_flat_values(&cx, ts, 1, 16, &fv, vals, &n, NULL), &err);
    CHECK(isnan(vals[0].of.f32));
    /* integers of another kind are range-checked */
    wasitls_cval big = wasitls_cv_u64(WASITLS_CV_U64, 300);
    ts[0] = P(CT_U8);
    CHECK(wasitls__lower_flat_values(&cx, ts, 1, 16, &big, vals, &n, NULL) == WASITLS_E_TRAP);
    wasitls__arena_free(&arena);
}

static void strings(void)
{
    wasitls__arena_init(&arena);
    wasitls__canon cx;
    wasitls__ctype *ts[1] = {P(CT_STRING)};
    const char *samples[] = {"",
                             "plain ascii",
                             "caf\xc3\xa9 \xc3\xbf",
                             "\xe2\x82\xac uro",
                             "emoji \xf0\x9f\x98\x80!",
                             "mixed \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"};
    for (uint8_t enc = 0; enc < 3; enc++) {
        for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
            cx_init(&cx, enc);
            wasitls_cval s = S(samples[i]), back;
            wasitls_val vals[2];
            size_t n;
            CHECK_OK(wasitls__lower_flat_values(&cx, ts, 1, 16, &s, vals, &n, NULL), &err);
            CHECK(n == 2);
            if (enc == 2) { /* latin1 when every char < 256, else tagged utf16 */
                bool wide = strstr(samples[i], "\xe2") || strstr(samples[i], "\xf0");
                CHECK(!!(vals[1].of.i32 & 0x80000000u) == wide);
                if (!wide)
                    CHECK(vals[1].of.i32 == (uint32_t)strlen(samples[i]) -
                                                (uint32_t)(strstr(samples[i], "\xc3") ? 2 : 0));
            }
            if (enc == 1 && i == 4)
                CHECK(vals[1].of.i32 == 9); /* "emoji " + surrogate pair + "!" */
            CHECK_OK(wasitls__lift_flat_values(&cx, ts, 1, 16, vals, 2, &back), &err);
            CHECK(back.of.str.len == strlen(samples[i]));
            CHECK(!memcmp(back.of.str.ptr, samples[i], back.of.str.len));
        }
    }
    wasitls__arena_free(&arena);
}

static void expect_trap(wasitls__canon *cx, wasitls__ctype *t, uint32_t a, uint32_t b,
                        const char *needle)
{
    wasitls_val vals[2] = {{.kind = WASITLS_I32}, {.kind = WASITLS_I32}};
    vals[0].of.i32 = a;
    vals[1].of.i32 = b;
    wasitls_cval out;
    wasitls_error_clear(&err);
    int rc = wasitls__lift_flat_values(cx, &t, 1, 16, vals, t->nflat, &out);
    if (rc != WASITLS_E_TRAP || !strstr(err.msg, needle)) {
        fprintf(stderr, "rc=%d msg=%s (wanted %s)\n", rc, err.msg, needle);
        exit(1);
    }
}

static void traps(void)
{
    wasitls__arena_init(&arena);
    wasitls__canon cx;
    cx_init(&cx, 0);
    memcpy(mem + 100, "\xc3\x28", 2);
    expect_trap(&cx, P(CT_STRING), 100, 2, "invalid UTF-8");
    expect_trap(&cx, P(CT_STRING), sizeof mem - 1, 2, "out of bounds");
    expect_trap(&cx, P(CT_STRING), 0xffffffffu, 2, "out of bounds");
    expect_trap(&cx, P(CT_STRING), 0, 1u << 29, "limit");
    expect_trap(&cx, P(CT_CHAR), 0xD800, 0, "invalid char");
    expect_trap(&cx, P(CT_CHAR), 0x110000, 0, "invalid char");
    wasitls__ctype *v = mk(CT_VARIANT, 2, "a", NULL, "b", NULL);
    expect_trap(&cx, v, 2, 0, "discriminant");
    wasitls__ctype *l32 = mk1(CT_LIST, P(CT_U32), NULL);
    expect_trap(&cx, l32, 102, 1, "misaligned");
    expect_trap(&cx, l32, 0, 0x20000000u, "limit");
    wasitls__ctype *own = wasitls__ct_new(&arena, CT_OWN, 0);
    own->t = wasitls__ct_new(&arena, CT_RESOURCE, 0);
    CHECK_OK(wasitls__ct_finish(own, &err), &err);
    expect_trap(&cx, own, 1, 0, "handles");
    /* utf16: misaligned and unpaired surrogates */
    cx_init(&cx, 1);
    expect_trap(&cx, P(CT_STRING), 101, 1, "misaligned");
    mem[200] = 0x00;
    mem[201] = 0xD8;
    mem[202] = 'a';
    mem[203] = 0;
    expect_trap(&cx, P(CT_STRING), 200, 2, "surrogate");
    /* memory loads check the option tag */
    cx_init(&cx, 0);
    wasitls__ctype *o = mk1(CT_OPTION, P(CT_U8), NULL);
    mem[300] = 2;
    wasitls_cval out;
    CHECK(wasitls__canon_load(&cx, 300, o, &out) == WASITLS_E_TRAP);
    /* no memory at all */
    wasitls__canon none;
    memset(&none, 0, sizeof none);
    none.arena = &arena;
    none.err = &err;
    expect_trap(&none, P(CT_STRING), 0, 0, "memory");
    wasitls__arena_free(&arena);
}

int main(int argc, char **argv)
{
    static const tcase cases[] = {
        {"layout", layout},
        {"roundtrip", roundtrip},
        {"strings", strings},
        {"traps", traps},
    };
    return t_main(cases, sizeof cases / sizeof cases[0], argc, argv);
}
