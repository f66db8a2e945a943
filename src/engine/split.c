/* Splitting a module into parts that wasm2c translates separately (and in parallel).
 *
 * Why: wasm2c 1.0.32 copies its set of every global name once per defined function, so its
 * time grows with (defined functions) x (global names); a module of 12,000 functions spends
 * seconds in that alone, and the rest of its work is linear in the code. Parts that each define
 * a share of the functions and import only the functions they reference make both factors
 * small, and let the linear work run on every core.
 *
 * The index spaces stay what they were wherever that is free: every part imports all memories,
 * tables and globals of the original in their original order (so their indices, and the bodies
 * that use them, are unchanged) and the type section is copied as is. Only function indices
 * move: each part numbers its imported functions first, then its own; `call` and `ref.func`
 * immediates, exports, elem segments and global initialisers are rewritten accordingly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_) goto fail;                                                                        \
    } while (0)

#define NONE UINT32_MAX

typedef struct span {
    size_t start, end; /* absolute offsets in the original bytes */
} span;

typedef struct ref {
    size_t start, end;
    uint32_t idx;
} ref;

typedef struct reflist {
    ref *p;
    size_t n, cap;
    bool oom, segment;
} reflist;

typedef struct splitter {
    const uint8_t *bytes;
    const wasitls__modinfo *mi;
    uint32_t nimp, ndef, nparts;
    span sec[13]; /* content of each known section (start == end when absent) */
    bool have[13];
    span *bodies;        /* [ndef] */
    uint32_t *owner;     /* [nfuncs]: part defining each function (imports: 0) */
    uint8_t *exported;   /* [nfuncs]: some other part imports it */
    uint8_t *declared;   /* [nfuncs]: may be named by ref.func (elem, export, global init) */
    uint32_t *stamp;     /* [nfuncs]: 1 + the part whose `local` numbering is current */
    uint32_t *local;     /* [nfuncs]: index in that part's function space */
    uint32_t **imports;  /* [nparts]: functions (original indices) each part imports */
    uint32_t *nimports;  /* [nparts] */
    uint32_t start_func; /* NONE if no start section */
} splitter;

/* ---- byte output ---- */

static void put_u8(wasitls__buf *b, uint8_t v)
{
    wasitls__buf_put(b, (const char *)&v, 1);
}

static void put_leb(wasitls__buf *b, uint32_t v)
{
    do {
        uint8_t x = v & 0x7f;
        v >>= 7;
        if (v) x |= 0x80;
        put_u8(b, x);
    } while (v);
}

static void put_name(wasitls__buf *b, const char *s)
{
    put_leb(b, (uint32_t)strlen(s));
    wasitls__buf_puts(b, s);
}

static void put_section(wasitls__buf *b, uint8_t id, const wasitls__buf *content)
{
    put_u8(b, id);
    put_leb(b, (uint32_t)content->len);
    wasitls__buf_put(b, content->p ? content->p : "", content->len);
}

static void put_limits(wasitls__buf *b, const wasitls_limits *l)
{
    put_u8(b, l->has_max ? 1 : 0);
    put_leb(b, (uint32_t)l->min);
    if (l->has_max) put_leb(b, (uint32_t)l->max);
}

/* ---- reading the original ---- */

static void on_ref(void *ctx, int what, size_t start, size_t end, uint32_t value)
{
    reflist *r = ctx;
    if (what == WASITLS__REF_SEGMENT) {
        r->segment = true;
        return;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        ref *p = realloc(r->p, cap * sizeof *p);
        if (!p) {
            r->oom = true;
            return;
        }
        r->p = p;
        r->cap = cap;
    }
    r->p[r->n++] = (ref){start, end, value};
}

/* The references of defined function d (list reset first). */
static int body_refs(splitter *S, uint32_t d, reflist *r, wasitls_error *err)
{
    r->n = 0;
    r->segment = false;
    wasitls_cursor c;
    wasitls_cursor_init(&c, S->bytes, S->bodies[d].end, err);
    c.pos = S->bodies[d].start;
    int rc = wasitls__scan_body(&c, S->mi, on_ref, r);
    if (!rc && r->oom) rc = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    return rc;
}

/* Calls fn for each function index inside one constant expression at c (ref.func), and
 * copies the expression to out (if non-NULL) with those indices mapped by S->local. */
static int const_expr(splitter *S, wasitls_cursor *c, wasitls__buf *out,
                      void (*fn)(splitter *, uint32_t, void *), void *ctx)
{
    for (;;) {
        size_t at = c->pos;
        uint8_t op;
        uint32_t u;
        int32_t s32;
        int64_t s64;
        if (wasitls_cursor_u8(c, &op)) return -1;
        switch (op) {
        case 0x0b:
            if (out) put_u8(out, op);
            return 0;
        case 0xd2:
            if (wasitls_cursor_leb_u32(c, &u) || u >= S->mi->nfuncs) return -1;
            if (fn) fn(S, u, ctx);
            if (out) {
                put_u8(out, op);
                put_leb(out, S->local[u]);
            }
            continue;
        case 0x41:
            if (wasitls_cursor_leb_s32(c, &s32)) return -1;
            break;
        case 0x42:
            if (wasitls_cursor_leb_s64(c, &s64)) return -1;
            break;
        case 0x43:
            if (wasitls_cursor_skip(c, 4)) return -1;
            break;
        case 0x44:
            if (wasitls_cursor_skip(c, 8)) return -1;
            break;
        case 0x23:
            if (wasitls_cursor_leb_u32(c, &u)) return -1;
            break;
        case 0xd0:
            if (wasitls_cursor_skip(c, 1)) return -1;
            break;
        default:
            return -1;
        }
        if (out) wasitls__buf_put(out, (const char *)S->bytes + at, c->pos - at);
    }
}

static void sec_cursor(splitter *S, int id, wasitls_cursor *c, wasitls_error *err)
{
    wasitls_cursor_init(c, S->bytes, S->sec[id].end, err);
    c->pos = S->sec[id].start;
}

/* Walks the elem section: fn for every function it names; with out, re-emits it mapped. */
static int elem_walk(splitter *S, wasitls__buf *out, void (*fn)(splitter *, uint32_t, void *),
                     void *ctx, wasitls_error *err)
{
    if (!S->have[9]) return 0;
    wasitls_cursor c;
    sec_cursor(S, 9, &c, err);
    uint32_t cnt, flags, x, k;
    if (wasitls_cursor_leb_u32(&c, &cnt)) return -1;
    if (out) put_leb(out, cnt);
    for (uint32_t i = 0; i < cnt; i++) {
        size_t at = c.pos;
        if (wasitls_cursor_leb_u32(&c, &flags)) return -1;
        if (flags & 2 && !(flags & 1))
            if (wasitls_cursor_leb_u32(&c, &x)) return -1;
        if (out) wasitls__buf_put(out, (const char *)S->bytes + at, c.pos - at);
        if (!(flags & 1) && const_expr(S, &c, out, NULL, NULL)) return -1;
        if (flags & 3) {
            at = c.pos;
            if (wasitls_cursor_skip(&c, 1)) return -1;
            if (out) wasitls__buf_put(out, (const char *)S->bytes + at, 1);
        }
        if (wasitls_cursor_leb_u32(&c, &k)) return -1;
        if (out) put_leb(out, k);
        for (uint32_t j = 0; j < k; j++) {
            if (flags & 4) {
                if (const_expr(S, &c, out, fn, ctx)) return -1;
            } else {
                if (wasitls_cursor_leb_u32(&c, &x) || x >= S->mi->nfuncs) return -1;
                if (fn) fn(S, x, ctx);
                if (out) put_leb(out, S->local[x]);
            }
        }
    }
    return 0;
}

/* Walks the global section likewise (ref.func in initialisers). */
static int global_walk(splitter *S, wasitls__buf *out, void (*fn)(splitter *, uint32_t, void *),
                       void *ctx, wasitls_error *err)
{
    if (!S->have[6]) return 0;
    wasitls_cursor c;
    sec_cursor(S, 6, &c, err);
    uint32_t cnt;
    if (wasitls_cursor_leb_u32(&c, &cnt)) return -1;
    if (out) put_leb(out, cnt);
    for (uint32_t i = 0; i < cnt; i++) {
        size_t at = c.pos;
        if (wasitls_cursor_skip(&c, 2)) return -1; /* valtype, mutability */
        if (out) wasitls__buf_put(out, (const char *)S->bytes + at, 2);
        if (const_expr(S, &c, out, fn, ctx)) return -1;
    }
    return 0;
}

/* ---- references of each part ---- */

/* Part k references function f: remember it as an import unless k defines it (and, for part
 * 0, unless it is an original import, which keeps its index there). */
static void touch(splitter *S, uint32_t f, void *ctx)
{
    uint32_t k = *(uint32_t *)ctx;
    if (S->stamp[f] == k + 1) return;
    S->stamp[f] = k + 1;
    if (f < S->nimp ? k == 0 : S->owner[f] == k) return;
    S->imports[k][S->nimports[k]++] = f;
    S->exported[f] = 1;
}

static int collect(splitter *S, uint32_t k, reflist *r, wasitls_error *err)
{
    S->imports[k] = malloc(((size_t)S->mi->nfuncs + 1) * sizeof(uint32_t));
    if (!S->imports[k]) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    S->nimports[k] = 0;
    if (k == 0) {
        const wasitls__modinfo *mi = S->mi;
        for (uint32_t i = 0; i < mi->nexports; i++)
            if (mi->exports[i].type.kind == WASITLS_EXTERN_FUNC) touch(S, mi->export_index[i], &k);
        if (S->start_func != NONE) touch(S, S->start_func, &k);
        if (elem_walk(S, NULL, touch, &k, err) || global_walk(S, NULL, touch, &k, err))
            return wasitls_error_set(err, WASITLS_E_INTERNAL, "cannot re-read a segment");
    }
    for (uint32_t d = 0; d < S->ndef; d++) {
        if (S->owner[S->nimp + d] != k) continue;
        int rc = body_refs(S, d, r, err);
        if (rc) return rc;
        for (size_t i = 0; i < r->n; i++) {
            /* an invalid module: the whole-module path reports it */
            if (r->p[i].idx >= S->mi->nfuncs)
                return wasitls_error_set(err, WASITLS_E_INVALID, "unknown function");
            touch(S, r->p[i].idx, &k);
        }
    }
    return 0;
}

/* Fixes part k's function numbering in S->local: imports first, then its own functions. */
static uint32_t number(splitter *S, uint32_t k)
{
    uint32_t n = 0;
    if (k == 0) {
        for (uint32_t f = 0; f < S->nimp; f++) {
            S->stamp[f] = k + 1;
            S->local[f] = n++;
        }
    }
    for (uint32_t i = 0; i < S->nimports[k]; i++) {
        S->stamp[S->imports[k][i]] = k + 1;
        S->local[S->imports[k][i]] = n++;
    }
    for (uint32_t f = S->nimp; f < S->mi->nfuncs; f++)
        if (S->owner[f] == k) {
            S->stamp[f] = k + 1;
            S->local[f] = n++;
        }
    return n;
}

static void part_name(char *out, size_t len, uint32_t k)
{
    if (k == 0)
        snprintf(out, len, "%s", WASITLS__W2C_NAME);
    else
        snprintf(out, len, "%s%u", WASITLS__PART_PREFIX, k);
}

/* The names a function is exported under by its part, as imported by another. */
static void func_import(splitter *S, uint32_t f, wasitls__buf *b)
{
    char mod[64], nm[64];
    uint32_t owner = f < S->nimp ? 0 : S->owner[f];
    part_name(mod, sizeof mod, owner);
    if (f < S->nimp)
        snprintf(nm, sizeof nm, "wasitls:F%u", f);
    else
        snprintf(nm, sizeof nm, "%sf%u", owner == 0 ? "wasitls:" : "", f);
    put_name(b, mod);
    put_name(b, nm);
    put_u8(b, 0);
    put_leb(b, S->mi->func_types[f]);
}

/* The code section of part k, bodies rewritten; and whether any has ref.func (with their
 * targets, for a declarative segment, in *decl). */
static int emit_code(splitter *S, uint32_t k, reflist *r, wasitls__buf *code, wasitls__buf *decl,
                     uint32_t *ndecl, wasitls_error *err)
{
    wasitls__buf body = {0};
    uint32_t n = 0;
    for (uint32_t d = 0; d < S->ndef; d++)
        n += S->owner[S->nimp + d] == k;
    put_leb(code, n);
    *ndecl = 0;
    for (uint32_t d = 0; d < S->ndef; d++) {
        if (S->owner[S->nimp + d] != k) continue;
        int rc = body_refs(S, d, r, err);
        if (rc) {
            wasitls__buf_free(&body);
            return rc;
        }
        body.len = 0;
        size_t at = S->bodies[d].start;
        for (size_t i = 0; i < r->n; i++) {
            const ref *x = &r->p[i];
            wasitls__buf_put(&body, (const char *)S->bytes + at, x->start - at);
            put_leb(&body, S->local[x->idx]);
            at = x->end;
            /* ref.func (0xd2) needs its target declared in this module; one the original did
             * not declare stays undeclared, so that wasm2c rejects the part as it would have
             * rejected the module */
            if (x->start > 0 && S->bytes[x->start - 1] == 0xd2 && decl && S->declared[x->idx]) {
                put_leb(decl, S->local[x->idx]);
                ++*ndecl;
            }
        }
        wasitls__buf_put(&body, (const char *)S->bytes + at, S->bodies[d].end - at);
        put_leb(code, (uint32_t)body.len);
        wasitls__buf_put(code, body.p ? body.p : "", body.len);
    }
    wasitls__buf_free(&body);
    return 0;
}

static void put_verbatim(splitter *S, wasitls__buf *b, uint8_t id)
{
    if (!S->have[id]) return;
    put_u8(b, id);
    put_leb(b, (uint32_t)(S->sec[id].end - S->sec[id].start));
    wasitls__buf_put(b, (const char *)S->bytes + S->sec[id].start,
                     S->sec[id].end - S->sec[id].start);
}

static int emit_part(splitter *S, uint32_t k, reflist *r, wasitls__buf *out, wasitls_error *err)
{
    const wasitls__modinfo *mi = S->mi;
    wasitls__buf sec = {0}, decl = {0};
    int rc = 0;
    uint32_t ndecl = 0;
    number(S, k);
    wasitls__buf_put(out, "\0asm\1\0\0\0", 8);
    put_verbatim(S, out, 1);

    /* imports */
    if (k == 0) {
        uint32_t cnt = 0;
        wasitls_cursor c;
        if (S->have[2]) {
            sec_cursor(S, 2, &c, err);
            if (wasitls_cursor_leb_u32(&c, &cnt)) goto bad;
        }
        put_leb(&sec, cnt + S->nimports[0]);
        if (S->have[2])
            wasitls__buf_put(&sec, (const char *)S->bytes + c.pos, S->sec[2].end - c.pos);
    } else {
        uint32_t n = mi->nmems + mi->ntables + mi->nglobals + S->nimports[k];
        put_leb(&sec, n);
        char nm[64];
        for (uint32_t i = 0; i < mi->nmems; i++) {
            put_name(&sec, WASITLS__W2C_NAME);
            snprintf(nm, sizeof nm, "wasitls:M%u", i);
            put_name(&sec, nm);
            put_u8(&sec, 2);
            put_limits(&sec, &mi->mems[i]);
        }
        for (uint32_t i = 0; i < mi->ntables; i++) {
            put_name(&sec, WASITLS__W2C_NAME);
            snprintf(nm, sizeof nm, "wasitls:T%u", i);
            put_name(&sec, nm);
            put_u8(&sec, 1);
            put_u8(&sec, mi->tables[i].elem);
            put_limits(&sec, &mi->tables[i].limits);
        }
        for (uint32_t i = 0; i < mi->nglobals; i++) {
            put_name(&sec, WASITLS__W2C_NAME);
            snprintf(nm, sizeof nm, "wasitls:G%u", i);
            put_name(&sec, nm);
            put_u8(&sec, 3);
            put_u8(&sec, mi->globals[i].type);
            put_u8(&sec, mi->globals[i].mut);
        }
    }
    for (uint32_t i = 0; i < S->nimports[k]; i++)
        func_import(S, S->imports[k][i], &sec);
    put_section(out, 2, &sec);
    sec.len = 0;

    /* functions */
    {
        uint32_t n = 0;
        for (uint32_t f = S->nimp; f < mi->nfuncs; f++)
            n += S->owner[f] == k;
        put_leb(&sec, n);
        for (uint32_t f = S->nimp; f < mi->nfuncs; f++)
            if (S->owner[f] == k) put_leb(&sec, mi->func_types[f]);
        put_section(out, 3, &sec);
        sec.len = 0;
    }

    if (k == 0) {
        put_verbatim(S, out, 4);
        put_verbatim(S, out, 5);
        if (S->have[6]) {
            if (global_walk(S, &sec, NULL, NULL, err)) goto bad;
            put_section(out, 6, &sec);
            sec.len = 0;
        }
    }

    /* exports */
    {
        uint32_t n = 0;
        wasitls__buf names = {0};
        char nm[64];
        if (k == 0) {
            for (uint32_t i = 0; i < mi->nexports; i++) {
                put_leb(&names, mi->export_lens[i]);
                wasitls__buf_put(&names, mi->exports[i].name, mi->export_lens[i]);
                uint32_t idx = mi->export_index[i];
                put_u8(&names, (uint8_t)mi->exports[i].type.kind);
                put_leb(&names,
                        mi->exports[i].type.kind == WASITLS_EXTERN_FUNC ? S->local[idx] : idx);
                n++;
            }
            static const char kinds[] = {'F', 'T', 'M', 'G'};
            uint32_t counts[] = {S->nimp, mi->ntables, mi->nmems, mi->nglobals};
            for (uint8_t kind = 0; kind < 4; kind++)
                for (uint32_t i = 0; i < counts[kind]; i++) {
                    if (kind == 0 && !S->exported[i]) continue;
                    snprintf(nm, sizeof nm, "wasitls:%c%u", kinds[kind], i);
                    put_name(&names, nm);
                    put_u8(&names, kind);
                    put_leb(&names, i);
                    n++;
                }
            if (S->start_func != NONE) {
                put_name(&names, "wasitls:start");
                put_u8(&names, 0);
                put_leb(&names, S->local[S->start_func]);
                n++;
            }
        }
        for (uint32_t f = S->nimp; f < mi->nfuncs; f++) {
            if (S->owner[f] != k || !S->exported[f]) continue;
            snprintf(nm, sizeof nm, "%sf%u", k == 0 ? "wasitls:" : "", f);
            put_name(&names, nm);
            put_u8(&names, 0);
            put_leb(&names, S->local[f]);
            n++;
        }
        put_leb(&sec, n);
        wasitls__buf_put(&sec, names.p ? names.p : "", names.len);
        bool oom = names.oom;
        wasitls__buf_free(&names);
        if (oom) goto nomem;
        put_section(out, 7, &sec);
        sec.len = 0;
    }

    /* code first (into sec), as the elem section of a function part declares its ref.func
     * targets */
    wasitls__buf code = {0};
    rc = emit_code(S, k, r, &code, k == 0 ? NULL : &decl, &ndecl, err);
    if (rc) {
        wasitls__buf_free(&code);
        goto out;
    }
    if (k == 0) {
        if (S->have[9]) {
            if (elem_walk(S, &sec, NULL, NULL, err)) {
                wasitls__buf_free(&code);
                goto bad;
            }
            put_section(out, 9, &sec);
            sec.len = 0;
        }
        put_verbatim(S, out, 12);
    } else if (ndecl) {
        put_leb(&sec, 1);
        put_u8(&sec, 3); /* declarative, elemkind funcref */
        put_u8(&sec, 0);
        put_leb(&sec, ndecl);
        wasitls__buf_put(&sec, decl.p, decl.len);
        put_section(out, 9, &sec);
        sec.len = 0;
    }
    put_section(out, 10, &code);
    bool oom = code.oom;
    wasitls__buf_free(&code);
    if (oom) goto nomem;
    if (k == 0) put_verbatim(S, out, 11);
    if (out->oom || sec.oom || decl.oom) goto nomem;
    goto out;
bad:
    rc = wasitls_error_set(err, WASITLS_E_INTERNAL, "cannot re-read the module to split it");
    goto out;
nomem:
    rc = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory splitting the module");
out:
    wasitls__buf_free(&sec);
    wasitls__buf_free(&decl);
    return rc;
}

/* ---- the plan ---- */

static int find_sections(splitter *S, size_t len, wasitls_error *err)
{
    wasitls_cursor c;
    wasitls_cursor_init(&c, S->bytes, len, err);
    c.pos = 8;
    while (!wasitls_cursor_eof(&c)) {
        uint8_t id;
        uint32_t size;
        if (wasitls_cursor_u8(&c, &id) || wasitls_cursor_leb_u32(&c, &size) ||
            wasitls_cursor_left(&c) < size || id > 12)
            return -1;
        if (id) {
            S->have[id] = true;
            S->sec[id] = (span){c.pos, c.pos + size};
        }
        c.pos += size;
    }
    if (S->have[8]) {
        wasitls_cursor s;
        sec_cursor(S, 8, &s, err);
        if (wasitls_cursor_leb_u32(&s, &S->start_func)) return -1;
    }
    S->bodies = calloc(S->ndef + 1, sizeof *S->bodies);
    if (!S->bodies) return -1;
    if (!S->ndef) return 0;
    if (!S->have[10]) return -1;
    sec_cursor(S, 10, &c, err);
    uint32_t cnt;
    if (wasitls_cursor_leb_u32(&c, &cnt) || cnt != S->ndef) return -1;
    for (uint32_t i = 0; i < cnt; i++) {
        uint32_t size;
        if (wasitls_cursor_leb_u32(&c, &size) || wasitls_cursor_left(&c) < size) return -1;
        S->bodies[i] = (span){c.pos, c.pos + size};
        c.pos += size;
    }
    return 0;
}

static void declare(splitter *S, uint32_t f, void *ctx)
{
    (void)ctx;
    S->declared[f] = 1;
}

static bool starts_with(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && !memcmp(s, prefix, n);
}

int wasitls__split_make(const uint8_t *bytes, size_t len, const wasitls__modinfo *mi,
                        uint32_t per_part, wasitls__split *out, wasitls_error *err)
{
    memset(out, 0, sizeof *out);
    splitter S = {0};
    reflist r = {0};
    int rc = 0;
    S.bytes = bytes;
    S.mi = mi;
    S.nimp = mi->nimported_funcs;
    S.ndef = mi->nfuncs - mi->nimported_funcs;
    S.start_func = NONE;
    /* the internal names must not meet the module's own */
    for (uint32_t i = 0; i < mi->nexports; i++)
        if (starts_with(mi->exports[i].name, mi->export_lens[i], "wasitls:"))
            return wasitls_error_set(err, WASITLS_E_UNSUPPORTED, "export name clashes");
    for (uint32_t i = 0; i < mi->nimports; i++)
        if (starts_with(mi->imports[i].module, mi->import_lens[2 * i], WASITLS__PART_PREFIX) ||
            starts_with(mi->imports[i].module, mi->import_lens[2 * i], WASITLS__W2C_NAME))
            return wasitls_error_set(err, WASITLS_E_UNSUPPORTED, "import module name clashes");
    if (S.ndef == 0) return wasitls_error_set(err, WASITLS_E_UNSUPPORTED, "nothing to split");
    if (find_sections(&S, len, err)) {
        rc = wasitls_error_set(err, WASITLS_E_INTERNAL, "cannot re-read the module to split it");
        goto done;
    }
    size_t nf = (size_t)mi->nfuncs + 1;
    S.owner = calloc(nf, sizeof *S.owner);
    S.exported = calloc(nf, 1);
    S.stamp = calloc(nf, sizeof *S.stamp);
    S.local = calloc(nf, sizeof *S.local);
    S.declared = calloc(nf, 1);
    if (!S.owner || !S.exported || !S.stamp || !S.local || !S.declared) goto nomem;
    for (uint32_t i = 0; i < mi->nexports; i++)
        if (mi->exports[i].type.kind == WASITLS_EXTERN_FUNC) S.declared[mi->export_index[i]] = 1;
    if (elem_walk(&S, NULL, declare, NULL, err) || global_walk(&S, NULL, declare, NULL, err)) {
        rc = wasitls_error_set(err, WASITLS_E_INVALID, "cannot re-read a segment");
        goto done;
    }
    /* the glue calls the start function through an export, which would accept a type the
     * start section does not */
    if (S.start_func != NONE) {
        if (S.start_func >= mi->nfuncs) goto invalid;
        const wasitls_functype *ft = &mi->types[mi->func_types[S.start_func]];
        if (ft->nparams || ft->nresults) goto invalid;
    }

    /* functions with segment instructions stay with the segments, in part 0 */
    uint8_t *seg = calloc(S.ndef + 1, 1);
    if (!seg) goto nomem;
    for (uint32_t d = 0; d < S.ndef; d++) {
        rc = body_refs(&S, d, &r, err);
        if (rc) {
            free(seg);
            goto done;
        }
        seg[d] = r.segment;
    }
    /* contiguous runs of per_part functions: wasm2c's cost per part grows with the square of
     * its function count, so a count bounds it where a share of the code bytes did not (runs
     * of many small functions made slow parts) */
    if (per_part < 1) per_part = 1;
    uint32_t part = 1, inpart = 0;
    for (uint32_t d = 0; d < S.ndef; d++) {
        if (seg[d]) {
            S.owner[S.nimp + d] = 0;
            continue;
        }
        if (inpart == per_part) {
            part++;
            inpart = 0;
        }
        S.owner[S.nimp + d] = part;
        inpart++;
    }
    free(seg);
    S.nparts = part + 1;

    S.imports = calloc(S.nparts, sizeof *S.imports);
    S.nimports = calloc(S.nparts, sizeof *S.nimports);
    out->mods = calloc(S.nparts, sizeof *out->mods);
    out->uses = calloc((size_t)S.nparts * S.nparts, 1);
    if (!S.imports || !S.nimports || !out->mods || !out->uses) goto nomem;
    out->nparts = S.nparts;
    out->has_start = S.start_func != NONE;
    for (uint32_t k = 0; k < S.nparts; k++) {
        rc = collect(&S, k, &r, err);
        if (rc) goto done;
        for (uint32_t i = 0; i < S.nimports[k]; i++) {
            uint32_t f = S.imports[k][i];
            out->uses[k * S.nparts + (f < S.nimp ? 0 : S.owner[f])] = 1;
        }
        if (k && (mi->nmems || mi->ntables || mi->nglobals)) out->uses[k * S.nparts] = 1;
    }
    for (uint32_t k = 0; k < S.nparts; k++) {
        rc = emit_part(&S, k, &r, &out->mods[k], err);
        if (rc) goto done;
    }
    goto done;
nomem:
    rc = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory splitting the module");
    goto done;
invalid:
    rc = wasitls_error_set(err, WASITLS_E_INVALID, "invalid start function");
done:
    if (S.imports)
        for (uint32_t k = 0; k < S.nparts; k++)
            free(S.imports[k]);
    free(S.imports);
    free(S.nimports);
    free(S.bodies);
    free(S.owner);
    free(S.exported);
    free(S.stamp);
    free(S.local);
    free(S.declared);
    free(r.p);
    if (rc) wasitls__split_free(out);
    return rc;
}

void wasitls__split_free(wasitls__split *s)
{
    if (s->mods)
        for (uint32_t k = 0; k < s->nparts; k++)
            wasitls__buf_free(&s->mods[k]);
    free(s->mods);
    free(s->uses);
    memset(s, 0, sizeof *s);
}
