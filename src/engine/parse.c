/* Core module parser: everything the engine needs to know before wasm2c sees the module
 * (import/export descriptors and types), plus the structural checks and the feature scan that
 * turn modules wasm2c 1.0.32 cannot translate into clear errors instead of aborts. Code-level
 * type checking is left to wasm2c's validator, whose verdict is reported as INVALID. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "wasitls/cursor.h"

#define MAX_TYPES 1000000u
#define MAX_FUNCS 1000000u
#define MAX_IMPORTS 100000u
#define MAX_EXPORTS 100000u
#define MAX_PARAMS 1000u
#define MAX_TABLES 100000u
#define MAX_GLOBALS 1000000u

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_) return rc_;                                                                       \
    } while (0)

static int unsupported(wasitls_cursor *c, const char *feature)
{
    return wasitls_cursor_fail(c, WASITLS_E_UNSUPPORTED_FEATURE,
                               "unsupported WebAssembly feature: %s", feature);
}

static int valtype(wasitls_cursor *c, uint8_t *out)
{
    uint8_t t;
    CHECK(wasitls_cursor_u8(c, &t));
    switch (t) {
    case WASITLS_I32:
    case WASITLS_I64:
    case WASITLS_F32:
    case WASITLS_F64:
    case WASITLS_FUNCREF:
    case WASITLS_EXTERNREF:
        *out = t;
        return 0;
    case WASITLS_V128:
        c->pos--;
        return unsupported(c, "SIMD (v128 values)");
    case 0x6b:
    case 0x6c:
    case 0x6d:
    case 0x6e:
    case 0x64:
    case 0x63:
        c->pos--;
        return unsupported(c, "GC / typed function references");
    }
    c->pos--;
    return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "malformed value type 0x%02x", t);
}

static int reftype(wasitls_cursor *c, uint8_t *out)
{
    CHECK(valtype(c, out));
    if (*out != WASITLS_FUNCREF && *out != WASITLS_EXTERNREF) {
        c->pos--;
        return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "malformed reference type");
    }
    return 0;
}

static int limits(wasitls_cursor *c, wasitls_limits *l, bool memory)
{
    uint8_t flags;
    CHECK(wasitls_cursor_u8(c, &flags));
    /* In WebAssembly 2.0 these flags are malformed; the message names the proposal that
     * defines them, which this engine does not support. */
    if (memory && (flags & 0x04)) {
        c->pos--;
        return wasitls_cursor_fail(c, WASITLS_E_MALFORMED,
                                   "malformed limits flags 0x%02x: memory64 is not supported",
                                   flags);
    }
    if (memory && (flags & 0x02)) {
        c->pos--;
        return wasitls_cursor_fail(c, WASITLS_E_MALFORMED,
                                   "integer too large: limits flags 0x%02x (shared memories - "
                                   "threads - are not supported)",
                                   flags);
    }
    if (flags > 1) {
        c->pos--;
        return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "malformed limits flags");
    }
    uint32_t v;
    CHECK(wasitls_cursor_leb_u32(c, &v));
    l->min = v;
    l->has_max = flags & 1;
    l->max = 0;
    if (l->has_max) {
        CHECK(wasitls_cursor_leb_u32(c, &v));
        l->max = v;
    }
    return 0;
}

static int globaltype(wasitls_cursor *c, wasitls__global_def *g)
{
    CHECK(valtype(c, &g->type));
    uint8_t m;
    CHECK(wasitls_cursor_u8(c, &m));
    if (m > 1) {
        c->pos--;
        return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "malformed mutability");
    }
    g->mut = m;
    return 0;
}

/* Names may contain NUL (U+0000 is valid UTF-8): the copy keeps every byte and *len says how
 * many; the public C-string view simply ends at the first NUL. */
static int name_dup(wasitls_cursor *c, char **out, uint32_t *len)
{
    const char *p;
    size_t n;
    CHECK(wasitls_cursor_name(c, &p, &n));
    *len = (uint32_t)n;
    char *s = malloc(n + 1);
    if (!s) return wasitls_cursor_fail(c, WASITLS_E_NOMEM, "out of memory");
    memcpy(s, p, n);
    s[n] = 0;
    *out = s;
    return 0;
}

/* Skips a constant expression, rejecting what it cannot be. */
static int const_expr(wasitls_cursor *c)
{
    /* one producing instruction then end: wasm2c 1.0.32 lets an empty initializer through
     * and then generates C that does not compile */
    int count = 0;
    for (;; count++) {
        uint8_t op;
        CHECK(wasitls_cursor_u8(c, &op));
        if (count > 1 || (op == 0x0b && count != 1)) {
            c->pos--;
            return wasitls_cursor_fail(
                c, WASITLS_E_INVALID,
                "type mismatch: a constant expression must produce exactly one value");
        }
        switch (op) {
        case 0x0b:
            return 0;
        case 0x41: {
            int32_t v;
            CHECK(wasitls_cursor_leb_s32(c, &v));
            break;
        }
        case 0x42: {
            int64_t v;
            CHECK(wasitls_cursor_leb_s64(c, &v));
            break;
        }
        case 0x43:
            CHECK(wasitls_cursor_skip(c, 4));
            break;
        case 0x44:
            CHECK(wasitls_cursor_skip(c, 8));
            break;
        case 0x23:
        case 0xd2: {
            uint32_t v;
            CHECK(wasitls_cursor_leb_u32(c, &v));
            break;
        }
        case 0xd0: {
            uint8_t t;
            CHECK(reftype(c, &t));
            break;
        }
        case 0x6a:
        case 0x6b:
        case 0x6c:
        case 0x7c:
        case 0x7d:
        case 0x7e:
            c->pos--;
            return unsupported(c, "extended constant expressions");
        case 0xfd:
            c->pos--;
            return unsupported(c, "SIMD");
        default:
            /* wasm2c's validator names the exact problem; what we know is that it isn't constant */
            c->pos--;
            return wasitls_cursor_fail(c, WASITLS_E_INVALID, "constant expression required");
        }
    }
}

static int memarg(wasitls_cursor *c)
{
    uint32_t align, off;
    CHECK(wasitls_cursor_leb_u32(c, &align));
    if (align & 0x40)
        return wasitls_cursor_fail(c, WASITLS_E_INVALID,
                                   "alignment must not be larger than natural (a memory index in a "
                                   "memarg: multi-memory is not supported)");
    CHECK(wasitls_cursor_leb_u32(c, &off));
    return 0;
}

/* Walks one function body instruction by instruction: the only way to find prefixed opcodes
 * wasm2c would abort on, since immediates may contain any byte. With `ref`, also reports every
 * function index immediate (call, ref.func) and every segment instruction (split.c). */
static int scan_code(wasitls_cursor *c, const wasitls__modinfo *mi, wasitls__ref_fn ref, void *ctx)
{
    uint32_t n;
    int32_t s32;
    int64_t s64;
    uint8_t b;
    uint64_t depth = 1; /* the function body is a block */
    while (!wasitls_cursor_eof(c)) {
        uint8_t op;
        if (depth == 0)
            return wasitls_cursor_fail(c, WASITLS_E_MALFORMED,
                                       "operators remaining after end of function");
        CHECK(wasitls_cursor_u8(c, &op));
        switch (op) {
        case 0x0b:
            depth--;
            break;
        case 0x00:
        case 0x01:
        case 0x05:
        case 0x0f:
        case 0x1a:
        case 0x1b:
        case 0xd1:
            break;
        case 0x02:
        case 0x03:
        case 0x04:
            CHECK(wasitls_cursor_leb_s33(c, &s64));
            depth++;
            break;
        case 0x06:
        case 0x07:
        case 0x08:
        case 0x09:
        case 0x18:
        case 0x19:
        case 0x0a:
        case 0x1f:
            c->pos--;
            return unsupported(c, "exception handling");
        case 0x10:
        case 0xd2:
            if (ref) {
                size_t at = c->pos;
                CHECK(wasitls_cursor_leb_u32(c, &n));
                ref(ctx, WASITLS__REF_FUNC, at, c->pos, n);
                break;
            }
            CHECK(wasitls_cursor_leb_u32(c, &n));
            break;
        case 0x0c:
        case 0x0d:
        case 0x20:
        case 0x21:
        case 0x22:
        case 0x23:
        case 0x24:
        case 0x25:
        case 0x26:
            CHECK(wasitls_cursor_leb_u32(c, &n));
            break;
        case 0x0e: {
            uint32_t cnt;
            CHECK(wasitls_cursor_leb_u32(c, &cnt));
            for (uint64_t i = 0; i <= cnt; i++)
                CHECK(wasitls_cursor_leb_u32(c, &n));
            break;
        }
        case 0x11:
            CHECK(wasitls_cursor_leb_u32(c, &n));
            CHECK(wasitls_cursor_leb_u32(c, &n));
            /* wasm2c 1.0.32 accepts call_indirect through an externref table */
            if (n < mi->ntables && mi->tables[n].elem != WASITLS_FUNCREF)
                return wasitls_cursor_fail(
                    c, WASITLS_E_INVALID,
                    "type mismatch: call_indirect through table %u, which is not a funcref table",
                    n);
            break;
        case 0x12:
        case 0x13:
            c->pos--;
            return unsupported(c, "tail calls (return_call)");
        case 0x14:
        case 0x15:
        case 0xd3:
        case 0xd4:
        case 0xd5:
        case 0xd6:
            c->pos--;
            return unsupported(c, "typed function references");
        case 0x1c: {
            uint32_t cnt;
            CHECK(wasitls_cursor_leb_u32(c, &cnt));
            for (uint32_t i = 0; i < cnt; i++)
                CHECK(valtype(c, &b));
            break;
        }
        case 0x3f:
        case 0x40:
            CHECK(wasitls_cursor_u8(c, &b));
            if (b != 0) {
                c->pos--;
                return wasitls_cursor_fail(
                    c, WASITLS_E_MALFORMED,
                    "zero byte expected (memory index %u: multi-memory is not supported)", b);
            }
            break;
        case 0x41:
            CHECK(wasitls_cursor_leb_s32(c, &s32));
            break;
        case 0x42:
            CHECK(wasitls_cursor_leb_s64(c, &s64));
            break;
        case 0x43:
            CHECK(wasitls_cursor_skip(c, 4));
            break;
        case 0x44:
            CHECK(wasitls_cursor_skip(c, 8));
            break;
        case 0xd0:
            CHECK(wasitls_cursor_u8(c, &b));
            break;
        case 0xfb:
            c->pos--;
            return unsupported(c, "GC");
        case 0xfd:
            c->pos--;
            return unsupported(c, "SIMD (0xfd opcodes)");
        case 0xfe:
            c->pos--;
            return unsupported(c, "threads (atomic 0xfe opcodes)");
        case 0xfc: {
            uint32_t sub;
            CHECK(wasitls_cursor_leb_u32(c, &sub));
            /* memory.init, data.drop, table.init, elem.drop name segments */
            if (ref && (sub == 8 || sub == 9 || sub == 12 || sub == 13))
                ref(ctx, WASITLS__REF_SEGMENT, c->pos, c->pos, sub);
            switch (sub) {
            case 0:
            case 1:
            case 2:
            case 3:
            case 4:
            case 5:
            case 6:
            case 7:
                break;
            case 8:
                CHECK(wasitls_cursor_leb_u32(c, &n));
                CHECK(wasitls_cursor_u8(c, &b));
                break;
            case 9:
            case 13:
            case 15:
            case 16:
            case 17:
                CHECK(wasitls_cursor_leb_u32(c, &n));
                break;
            case 10:
                CHECK(wasitls_cursor_u8(c, &b));
                CHECK(wasitls_cursor_u8(c, &b));
                break;
            case 11:
                CHECK(wasitls_cursor_u8(c, &b));
                break;
            case 12:
            case 14:
                CHECK(wasitls_cursor_leb_u32(c, &n));
                CHECK(wasitls_cursor_leb_u32(c, &n));
                break;
            default:
                return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "illegal opcode 0xfc %u", sub);
            }
            break;
        }
        default:
            if (op >= 0x28 && op <= 0x3e) {
                CHECK(memarg(c));
                break;
            }
            if (op >= 0x45 && op <= 0xc4) break;
            c->pos--;
            return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "illegal opcode 0x%02x", op);
        }
    }
    if (depth != 0)
        return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "unexpected end of section or function");
    return 0;
}

static int grow_push(void **arr, uint32_t *n, size_t elsize)
{
    void *p = realloc(*arr, (size_t)(*n + 1) * elsize);
    if (!p) return WASITLS_E_NOMEM;
    *arr = p;
    memset((char *)p + (size_t)*n * elsize, 0, elsize);
    (*n)++;
    return 0;
}

static int parse_sections(wasitls_cursor *c, wasitls__modinfo *mi)
{
    uint32_t magic, version;
    CHECK(wasitls_cursor_u32le(c, &magic));
    if (magic != 0x6d736100)
        return c->pos -= 4,
               wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "magic header not detected");
    CHECK(wasitls_cursor_u32le(c, &version));
    if (version != 1) {
        c->pos -= 4;
        if (version == 0x1000d)
            return wasitls_cursor_fail(c, WASITLS_E_MALFORMED,
                                       "this is a component, not a core module");
        return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "unknown binary version");
    }
    /* Non-custom sections must appear at most once and in this order. */
    static const int order[] = {[1] = 1, [2] = 2, [3] = 3, [4] = 4,   [5] = 5,   [6] = 6,
                                [7] = 7, [8] = 8, [9] = 9, [12] = 10, [10] = 11, [11] = 12};
    int last = 0;
    uint32_t nfunc_decl = 0, ncode = 0, data_count = 0, ndata = 0;
    bool have_datacount = false, have_func_section = false;

    while (!wasitls_cursor_eof(c)) {
        uint8_t id;
        uint32_t size;
        size_t sec_start = c->pos;
        CHECK(wasitls_cursor_u8(c, &id));
        CHECK(wasitls_cursor_leb_u32(c, &size));
        wasitls_cursor s;
        CHECK(wasitls_cursor_sub(c, size, &s));
        if (id == 0) {
            const char *nm;
            size_t nl;
            CHECK(wasitls_cursor_name(&s, &nm, &nl));
            continue;
        }
        if (id > 12) {
            c->pos = sec_start;
            /* 13 is the exception-handling proposal's tag section; in WebAssembly 2.0 it is
             * malformed like any unknown id, which is also what spec tests expect */
            return wasitls_cursor_fail(
                c, WASITLS_E_MALFORMED, "malformed section id %u%s", id,
                id == 13 ? " (tag section: exception handling is not supported)" : "");
        }
        if (order[id] <= last) {
            c->pos = sec_start;
            return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "unexpected or repeated section %u",
                                       id);
        }
        last = order[id];
        uint32_t cnt = 0;
        CHECK(wasitls_cursor_leb_u32(&s, &cnt));
        switch (id) {
        case 1: /* type */
            if (cnt > MAX_TYPES) return wasitls_cursor_fail(&s, WASITLS_E_LIMIT, "too many types");
            mi->types = calloc(cnt ? cnt : 1, sizeof *mi->types);
            mi->typebytes = malloc((size_t)size + 1);
            if (!mi->types || !mi->typebytes) return WASITLS_E_NOMEM;
            {
                size_t tb = 0;
                for (uint32_t i = 0; i < cnt; i++) {
                    uint8_t form;
                    CHECK(wasitls_cursor_u8(&s, &form));
                    if (form != 0x60) {
                        s.pos--;
                        if (form == 0x5e || form == 0x5f || form == 0x4e || form == 0x50)
                            return unsupported(&s, "GC types");
                        return wasitls_cursor_fail(&s, WASITLS_E_MALFORMED,
                                                   "malformed function type");
                    }
                    wasitls_functype *ft = &mi->types[i];
                    for (int pass = 0; pass < 2; pass++) {
                        uint32_t k;
                        CHECK(wasitls_cursor_leb_u32(&s, &k));
                        if (k > MAX_PARAMS || tb + k > size)
                            return wasitls_cursor_fail(&s, WASITLS_E_MALFORMED,
                                                       "too many parameters or results");
                        uint8_t *dst = mi->typebytes + tb;
                        for (uint32_t j = 0; j < k; j++)
                            CHECK(valtype(&s, &dst[j]));
                        tb += k;
                        if (pass == 0) {
                            ft->nparams = k;
                            ft->params = dst;
                        } else {
                            ft->nresults = k;
                            ft->results = dst;
                        }
                    }
                    mi->ntypes++;
                }
            }
            break;
        case 2: /* import */
            if (cnt > MAX_IMPORTS)
                return wasitls_cursor_fail(&s, WASITLS_E_LIMIT, "too many imports");
            mi->imports = calloc(cnt ? cnt : 1, sizeof *mi->imports);
            mi->import_lens = calloc(cnt ? cnt : 1, 2 * sizeof *mi->import_lens);
            if (!mi->imports || !mi->import_lens) return WASITLS_E_NOMEM;
            for (uint32_t i = 0; i < cnt; i++) {
                wasitls_importdesc *im = &mi->imports[i];
                mi->nimports++;
                CHECK(name_dup(&s, (char **)&im->module, &mi->import_lens[2 * i]));
                CHECK(name_dup(&s, (char **)&im->name, &mi->import_lens[2 * i + 1]));
                uint8_t kind;
                CHECK(wasitls_cursor_u8(&s, &kind));
                switch (kind) {
                case 0: {
                    uint32_t ti;
                    CHECK(wasitls_cursor_leb_u32(&s, &ti));
                    if (ti >= mi->ntypes)
                        return wasitls_cursor_fail(&s, WASITLS_E_INVALID, "unknown type %u", ti);
                    im->type.kind = WASITLS_EXTERN_FUNC;
                    im->type.func = mi->types[ti];
                    if (grow_push((void **)&mi->func_types, &mi->nfuncs, sizeof(uint32_t)))
                        return WASITLS_E_NOMEM;
                    mi->func_types[mi->nfuncs - 1] = ti;
                    mi->nimported_funcs++;
                    break;
                }
                case 1: {
                    im->type.kind = WASITLS_EXTERN_TABLE;
                    CHECK(reftype(&s, &im->type.table.elem));
                    CHECK(limits(&s, &im->type.table.limits, false));
                    if (grow_push((void **)&mi->tables, &mi->ntables, sizeof *mi->tables))
                        return WASITLS_E_NOMEM;
                    mi->tables[mi->ntables - 1].elem = im->type.table.elem;
                    mi->tables[mi->ntables - 1].limits = im->type.table.limits;
                    mi->nimported_tables++;
                    break;
                }
                case 2:
                    im->type.kind = WASITLS_EXTERN_MEMORY;
                    CHECK(limits(&s, &im->type.memory, true));
                    if (grow_push((void **)&mi->mems, &mi->nmems, sizeof *mi->mems))
                        return WASITLS_E_NOMEM;
                    mi->mems[mi->nmems - 1] = im->type.memory;
                    mi->nimported_mems++;
                    break;
                case 3: {
                    wasitls__global_def g;
                    im->type.kind = WASITLS_EXTERN_GLOBAL;
                    CHECK(globaltype(&s, &g));
                    im->type.global.type = g.type;
                    im->type.global.mut = g.mut;
                    if (grow_push((void **)&mi->globals, &mi->nglobals, sizeof *mi->globals))
                        return WASITLS_E_NOMEM;
                    mi->globals[mi->nglobals - 1] = g;
                    mi->nimported_globals++;
                    break;
                }
                case 4:
                    s.pos--;
                    return wasitls_cursor_fail(
                        &s, WASITLS_E_MALFORMED,
                        "malformed import kind 4 (tags: exception handling is not supported)");
                default:
                    s.pos--;
                    return wasitls_cursor_fail(&s, WASITLS_E_MALFORMED, "malformed import kind");
                }
            }
            break;
        case 3: /* function */
            if (cnt > MAX_FUNCS)
                return wasitls_cursor_fail(&s, WASITLS_E_LIMIT, "too many functions");
            have_func_section = true;
            nfunc_decl = cnt;
            {
                uint32_t *p = realloc(mi->func_types, (size_t)(mi->nfuncs + cnt + 1) * sizeof *p);
                if (!p) return WASITLS_E_NOMEM;
                mi->func_types = p;
            }
            for (uint32_t i = 0; i < cnt; i++) {
                uint32_t ti;
                CHECK(wasitls_cursor_leb_u32(&s, &ti));
                if (ti >= mi->ntypes)
                    return wasitls_cursor_fail(&s, WASITLS_E_INVALID, "unknown type %u", ti);
                mi->func_types[mi->nfuncs++] = ti;
            }
            break;
        case 4: /* table */
            if (cnt > MAX_TABLES)
                return wasitls_cursor_fail(&s, WASITLS_E_LIMIT, "too many tables");
            for (uint32_t i = 0; i < cnt; i++) {
                if (grow_push((void **)&mi->tables, &mi->ntables, sizeof *mi->tables))
                    return WASITLS_E_NOMEM;
                CHECK(reftype(&s, &mi->tables[mi->ntables - 1].elem));
                CHECK(limits(&s, &mi->tables[mi->ntables - 1].limits, false));
            }
            break;
        case 5: /* memory */
            for (uint32_t i = 0; i < cnt; i++) {
                if (grow_push((void **)&mi->mems, &mi->nmems, sizeof *mi->mems))
                    return WASITLS_E_NOMEM;
                CHECK(limits(&s, &mi->mems[mi->nmems - 1], true));
            }
            break;
        case 6: /* global */
            if (cnt > MAX_GLOBALS)
                return wasitls_cursor_fail(&s, WASITLS_E_LIMIT, "too many globals");
            for (uint32_t i = 0; i < cnt; i++) {
                if (grow_push((void **)&mi->globals, &mi->nglobals, sizeof *mi->globals))
                    return WASITLS_E_NOMEM;
                CHECK(globaltype(&s, &mi->globals[mi->nglobals - 1]));
                CHECK(const_expr(&s));
            }
            break;
        case 7: /* export */
            if (cnt > MAX_EXPORTS)
                return wasitls_cursor_fail(&s, WASITLS_E_LIMIT, "too many exports");
            mi->exports = calloc(cnt ? cnt : 1, sizeof *mi->exports);
            mi->export_index = calloc(cnt ? cnt : 1, sizeof *mi->export_index);
            mi->export_lens = calloc(cnt ? cnt : 1, sizeof *mi->export_lens);
            if (!mi->exports || !mi->export_index || !mi->export_lens) return WASITLS_E_NOMEM;
            for (uint32_t i = 0; i < cnt; i++) {
                wasitls_exportdesc *ex = &mi->exports[i];
                mi->nexports++;
                size_t at = s.pos;
                CHECK(name_dup(&s, (char **)&ex->name, &mi->export_lens[i]));
                for (uint32_t j = 0; j < i; j++)
                    if (mi->export_lens[j] == mi->export_lens[i] &&
                        !memcmp(mi->exports[j].name, ex->name, mi->export_lens[i]))
                        return wasitls_error_set_at(s.err, WASITLS_E_INVALID, (int64_t)at,
                                                    "duplicate export name \"%s\"", ex->name);
                uint8_t kind;
                uint32_t idx;
                CHECK(wasitls_cursor_u8(&s, &kind));
                CHECK(wasitls_cursor_leb_u32(&s, &idx));
                mi->export_index[i] = idx;
                switch (kind) {
                case 0:
                    if (idx >= mi->nfuncs)
                        return wasitls_cursor_fail(&s, WASITLS_E_INVALID, "unknown function %u",
                                                   idx);
                    ex->type.kind = WASITLS_EXTERN_FUNC;
                    ex->type.func = mi->types[mi->func_types[idx]];
                    break;
                case 1:
                    if (idx >= mi->ntables)
                        return wasitls_cursor_fail(&s, WASITLS_E_INVALID, "unknown table %u", idx);
                    ex->type.kind = WASITLS_EXTERN_TABLE;
                    ex->type.table.elem = mi->tables[idx].elem;
                    ex->type.table.limits = mi->tables[idx].limits;
                    break;
                case 2:
                    if (idx >= mi->nmems)
                        return wasitls_cursor_fail(&s, WASITLS_E_INVALID, "unknown memory %u", idx);
                    ex->type.kind = WASITLS_EXTERN_MEMORY;
                    ex->type.memory = mi->mems[idx];
                    break;
                case 3:
                    if (idx >= mi->nglobals)
                        return wasitls_cursor_fail(&s, WASITLS_E_INVALID, "unknown global %u", idx);
                    ex->type.kind = WASITLS_EXTERN_GLOBAL;
                    ex->type.global.type = mi->globals[idx].type;
                    ex->type.global.mut = mi->globals[idx].mut;
                    break;
                case 4:
                    s.pos--;
                    return wasitls_cursor_fail(
                        &s, WASITLS_E_MALFORMED,
                        "malformed export kind 4 (tags: exception handling is not supported)");
                default:
                    return wasitls_cursor_fail(&s, WASITLS_E_MALFORMED, "malformed export kind");
                }
            }
            break;
        case 8: { /* start: cnt is the function index */
            if (cnt >= mi->nfuncs)
                return wasitls_cursor_fail(&s, WASITLS_E_INVALID, "unknown function %u", cnt);
            break;
        }
        case 9: /* element: the structure is wasm2c's to check; only scan for features */
            for (uint32_t i = 0; i < cnt; i++) {
                uint32_t flags, k, x;
                uint8_t b;
                CHECK(wasitls_cursor_leb_u32(&s, &flags));
                if (flags > 7)
                    return wasitls_cursor_fail(&s, WASITLS_E_MALFORMED,
                                               "malformed elements segment kind");
                if (flags & 2 && !(flags & 1))
                    CHECK(wasitls_cursor_leb_u32(&s, &x)); /* table index */
                if (!(flags & 1)) CHECK(const_expr(&s));
                if (flags & 3) {
                    if (flags & 4)
                        CHECK(reftype(&s, &b));
                    else
                        CHECK(wasitls_cursor_u8(&s, &b)); /* elemkind */
                }
                CHECK(wasitls_cursor_leb_u32(&s, &k));
                for (uint32_t j = 0; j < k; j++) {
                    if (flags & 4)
                        CHECK(const_expr(&s));
                    else
                        CHECK(wasitls_cursor_leb_u32(&s, &x));
                }
            }
            break;
        case 12:
            have_datacount = true;
            data_count = cnt;
            break;
        case 10: /* code */
            ncode = cnt;
            if (ncode != nfunc_decl)
                return wasitls_cursor_fail(&s, WASITLS_E_MALFORMED,
                                           "function and code section have inconsistent lengths");
            for (uint32_t i = 0; i < cnt; i++) {
                uint32_t bsize;
                CHECK(wasitls_cursor_leb_u32(&s, &bsize));
                wasitls_cursor body;
                CHECK(wasitls_cursor_sub(&s, bsize, &body));
                uint32_t ngroups;
                uint64_t total = 0;
                CHECK(wasitls_cursor_leb_u32(&body, &ngroups));
                for (uint32_t g = 0; g < ngroups; g++) {
                    uint32_t k;
                    uint8_t t;
                    CHECK(wasitls_cursor_leb_u32(&body, &k));
                    total += k;
                    if (total > 50000)
                        return wasitls_cursor_fail(&body, WASITLS_E_MALFORMED, "too many locals");
                    CHECK(valtype(&body, &t));
                }
                CHECK(scan_code(&body, mi, NULL, NULL));
            }
            break;
        case 11: /* data */
            ndata = cnt;
            if (have_datacount && ndata != data_count)
                return wasitls_cursor_fail(&s, WASITLS_E_MALFORMED,
                                           "data count and data section have inconsistent lengths");
            for (uint32_t i = 0; i < cnt; i++) {
                uint32_t flags, x, k;
                CHECK(wasitls_cursor_leb_u32(&s, &flags));
                if (flags > 2)
                    return wasitls_cursor_fail(&s, WASITLS_E_MALFORMED,
                                               "malformed data segment kind");
                if (flags == 2) {
                    CHECK(wasitls_cursor_leb_u32(&s, &x));
                    if (x != 0)
                        return wasitls_cursor_fail(
                            &s, WASITLS_E_INVALID,
                            "unknown memory %u (multi-memory is not supported)", x);
                }
                if (flags != 1) CHECK(const_expr(&s));
                CHECK(wasitls_cursor_leb_u32(&s, &k));
                CHECK(wasitls_cursor_skip(&s, k));
            }
            break;
        }
        if (!wasitls_cursor_eof(&s))
            return wasitls_cursor_fail(&s, WASITLS_E_MALFORMED, "section size mismatch");
    }
    if (have_func_section && nfunc_decl && last < order[10])
        return wasitls_cursor_fail(c, WASITLS_E_MALFORMED,
                                   "function and code section have inconsistent lengths");
    if (have_datacount && data_count && !ndata)
        return wasitls_cursor_fail(c, WASITLS_E_MALFORMED,
                                   "data count and data section have inconsistent lengths");
    /* wasm2c 1.0.32 aborts on one (module, name) imported twice with different types */
    for (uint32_t i = 0; i < mi->nimports; i++)
        for (uint32_t j = 0; j < i; j++) {
            const wasitls_importdesc *a = &mi->imports[i], *b = &mi->imports[j];
            if (mi->import_lens[2 * i] != mi->import_lens[2 * j] ||
                mi->import_lens[2 * i + 1] != mi->import_lens[2 * j + 1] ||
                memcmp(a->module, b->module, mi->import_lens[2 * i]) ||
                memcmp(a->name, b->name, mi->import_lens[2 * i + 1]))
                continue;
            bool same = a->type.kind == b->type.kind;
            if (same && a->type.kind == WASITLS_EXTERN_FUNC)
                same = a->type.func.nparams == b->type.func.nparams &&
                       a->type.func.nresults == b->type.func.nresults &&
                       !memcmp(a->type.func.params, b->type.func.params, a->type.func.nparams) &&
                       !memcmp(a->type.func.results, b->type.func.results, a->type.func.nresults);
            else if (same && a->type.kind == WASITLS_EXTERN_GLOBAL)
                same = a->type.global.type == b->type.global.type &&
                       a->type.global.mut == b->type.global.mut;
            if (!same)
                return wasitls_cursor_fail(
                    c, WASITLS_E_UNSUPPORTED_FEATURE,
                    "unsupported: import \"%s\" \"%s\" is declared twice with different types "
                    "(the translator cannot express that)",
                    a->module, a->name);
        }
    if (mi->nmems > 1)
        return wasitls_cursor_fail(
            c, WASITLS_E_INVALID,
            "multiple memories (%u): the multi-memory feature is not supported", mi->nmems);
    (void)ncode;
    return 0;
}

int wasitls__scan_body(wasitls_cursor *c, const wasitls__modinfo *mi, wasitls__ref_fn ref,
                       void *ctx)
{
    uint32_t ngroups, k;
    uint8_t t;
    CHECK(wasitls_cursor_leb_u32(c, &ngroups));
    for (uint32_t g = 0; g < ngroups; g++) {
        CHECK(wasitls_cursor_leb_u32(c, &k));
        CHECK(valtype(c, &t));
    }
    return scan_code(c, mi, ref, ctx);
}

int wasitls__parse(const uint8_t *bytes, size_t len, wasitls__modinfo *mi, wasitls_error *err)
{
    memset(mi, 0, sizeof *mi);
    wasitls_cursor c;
    wasitls_cursor_init(&c, bytes, len, err);
    int rc = parse_sections(&c, mi);
    if (rc == WASITLS_E_NOMEM) wasitls_error_set(err, rc, "out of memory parsing module");
    if (rc) wasitls__modinfo_free(mi);
    return rc;
}

void wasitls__modinfo_free(wasitls__modinfo *mi)
{
    for (uint32_t i = 0; i < mi->nimports; i++) {
        free((char *)mi->imports[i].module);
        free((char *)mi->imports[i].name);
    }
    for (uint32_t i = 0; i < mi->nexports; i++)
        free((char *)mi->exports[i].name);
    free(mi->types);
    free(mi->typebytes);
    free(mi->imports);
    free(mi->func_types);
    free(mi->tables);
    free(mi->mems);
    free(mi->globals);
    free(mi->exports);
    free(mi->export_index);
    free(mi->import_lens);
    free(mi->export_lens);
    memset(mi, 0, sizeof *mi);
}
