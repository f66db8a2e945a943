/* The component binary format (Binary.md): sections, definitions, type declarators. This file
 * checks structure and index ranges statically (every index refers to an existing entry of the
 * right index space, counts within hard limits, names valid UTF-8); type and kind checks that
 * need resolved types happen when the component is instantiated (instance.c), where types are
 * elaborated anyway because resource types are generative. */
#include <string.h>

#include "internal.h"

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_) return rc_;                                                                       \
    } while (0)

/* Index space sizes of one scope (a component, or a component/instance type declarator). */
typedef struct pscope {
    uint32_t core_func, core_table, core_mem, core_global, core_type, core_module, core_inst;
    uint32_t func, value, type, comp, inst;
    struct pscope *parent;
} pscope;

typedef struct parser {
    wasitls__arena *a;
    wasitls_error *err;
    uint32_t depth;
} parser;

static int nomem(parser *p)
{
    return wasitls_error_set(p->err, WASITLS_E_NOMEM, "out of memory parsing component");
}

static int bad(wasitls_cursor *c, const char *fmt, const char *what)
{
    return wasitls_cursor_fail(c, WASITLS_E_MALFORMED, fmt, what);
}

static int unsupported(wasitls_cursor *c, int64_t at, const char *what)
{
    c->failed = WASITLS_E_UNSUPPORTED_FEATURE;
    return wasitls_error_set_at(c->err, WASITLS_E_UNSUPPORTED_FEATURE, at,
                                "unsupported component construct: %s", what);
}

static int count(wasitls_cursor *c, uint32_t *n, const char *what)
{
    TRY(wasitls_cursor_leb_u32(c, n));
    if (*n > WASITLS__MAX_ITEMS || *n > wasitls_cursor_left(c))
        return wasitls_cursor_fail(c, WASITLS_E_LIMIT, "%s count %u exceeds the limit or input",
                                   what, *n);
    return 0;
}

static int name(parser *p, wasitls_cursor *c, const char **out)
{
    const char *s;
    size_t n;
    TRY(wasitls_cursor_name(c, &s, &n));
    if (memchr(s, 0, n)) return bad(c, "name contains a NUL character%s", "");
    char *d = wasitls__arena_strndup(p->a, s, n);
    if (!d) return nomem(p);
    *out = d;
    return 0;
}

static int nameattrs(parser *p, wasitls_cursor *c, const char **out)
{
    uint8_t b;
    TRY(wasitls_cursor_u8(c, &b));
    if (b > 2) return bad(c, "bad import/export name prefix%s", "");
    TRY(name(p, c, out));
    if (b == 2) {
        uint32_t n;
        TRY(count(c, &n, "name attribute"));
        for (uint32_t i = 0; i < n; i++) {
            uint8_t k;
            const char *s;
            size_t l;
            TRY(wasitls_cursor_u8(c, &k));
            if (k > 2) return bad(c, "bad name attribute%s", "");
            TRY(wasitls_cursor_name(c, &s, &l));
        }
    }
    if (!**out) return bad(c, "empty import/export name%s", "");
    return 0;
}

static int check_idx(wasitls_cursor *c, int64_t at, uint32_t idx, uint32_t n, const char *space)
{
    if (idx < n) return 0;
    c->failed = WASITLS_E_INVALID;
    return wasitls_error_set_at(c->err, WASITLS_E_INVALID, at,
                                "%s index %u out of range (%u defined)", space, idx, n);
}

static int bump(wasitls_cursor *c, uint32_t *n, const char *space)
{
    if (*n >= WASITLS__MAX_SPACE)
        return wasitls_cursor_fail(c, WASITLS_E_LIMIT, "too many entries in the %s index space",
                                   space);
    (*n)++;
    return 0;
}

/* core sorts: 0 func 1 table 2 memory 3 global 4 tag 0x10 type 0x11 module 0x12 instance */
static uint32_t *core_space(pscope *s, uint8_t sort, const char **what)
{
    switch (sort) {
    case 0x00:
        *what = "core function";
        return &s->core_func;
    case 0x01:
        *what = "core table";
        return &s->core_table;
    case 0x02:
        *what = "core memory";
        return &s->core_mem;
    case 0x03:
        *what = "core global";
        return &s->core_global;
    case 0x10:
        *what = "core type";
        return &s->core_type;
    case 0x11:
        *what = "core module";
        return &s->core_module;
    case 0x12:
        *what = "core instance";
        return &s->core_inst;
    default:
        *what = "core tag";
        return NULL;
    }
}

/* sort byte(s) -> SORT_* or 0x80|core sort */
static int read_sort(wasitls_cursor *c, uint8_t *out)
{
    uint8_t b;
    int64_t at = (int64_t)c->pos;
    TRY(wasitls_cursor_u8(c, &b));
    if (b == 0x00) {
        uint8_t cs;
        TRY(wasitls_cursor_u8(c, &cs));
        if (cs == 0x04) return unsupported(c, at, "core tag (exception handling)");
        if (cs > 0x03 && (cs < 0x10 || cs > 0x12)) return bad(c, "bad core sort%s", "");
        *out = (uint8_t)(0x80 | cs);
        return 0;
    }
    if (b == SORT_VALUE) return unsupported(c, at, "value definitions (component values)");
    if (b < 0x01 || b > 0x05) return bad(c, "bad sort%s", "");
    *out = b;
    return 0;
}

static uint32_t *space(pscope *s, uint8_t sort, const char **what)
{
    if (sort & 0x80) return core_space(s, sort & 0x7f, what);
    switch (sort) {
    case SORT_FUNC:
        *what = "function";
        return &s->func;
    case SORT_TYPE:
        *what = "type";
        return &s->type;
    case SORT_COMPONENT:
        *what = "component";
        return &s->comp;
    case SORT_INSTANCE:
        *what = "instance";
        return &s->inst;
    default:
        *what = "value";
        return &s->value;
    }
}

/* ---- core types (only needed to be skipped over and counted) ---- */

static int core_valtype(wasitls_cursor *c)
{
    uint8_t b;
    int64_t at = (int64_t)c->pos;
    TRY(wasitls_cursor_u8(c, &b));
    switch (b) {
    case 0x7f:
    case 0x7e:
    case 0x7d:
    case 0x7c:
    case 0x70:
    case 0x6f:
        return 0;
    case 0x7b:
        return unsupported(c, at, "v128 (SIMD) in a core type");
    default:
        return unsupported(c, at, "core value type (GC or unknown)");
    }
}

static int core_limits(wasitls_cursor *c)
{
    uint8_t f;
    uint32_t v;
    TRY(wasitls_cursor_u8(c, &f));
    if (f > 1) return unsupported(c, (int64_t)c->pos - 1, "memory64/shared limits in a core type");
    TRY(wasitls_cursor_leb_u32(c, &v));
    if (f) TRY(wasitls_cursor_leb_u32(c, &v));
    return 0;
}

static int core_externtype(wasitls_cursor *c)
{
    uint8_t k;
    uint32_t idx;
    TRY(wasitls_cursor_u8(c, &k));
    switch (k) {
    case 0x00:
        return wasitls_cursor_leb_u32(c, &idx);
    case 0x01:
        TRY(core_valtype(c));
        return core_limits(c);
    case 0x02:
        return core_limits(c);
    case 0x03: {
        uint8_t m;
        TRY(core_valtype(c));
        TRY(wasitls_cursor_u8(c, &m));
        return m > 1 ? bad(c, "bad global mutability%s", "") : 0;
    }
    default:
        return unsupported(c, (int64_t)c->pos - 1, "core extern type");
    }
}

static int core_functype_body(wasitls_cursor *c)
{
    uint32_t n;
    for (int r = 0; r < 2; r++) {
        TRY(count(c, &n, "core function type parameter"));
        for (uint32_t i = 0; i < n; i++)
            TRY(core_valtype(c));
    }
    return 0;
}

static int core_type(parser *p, wasitls_cursor *c, bool in_module)
{
    uint8_t b;
    int64_t at = (int64_t)c->pos;
    TRY(wasitls_cursor_u8(c, &b));
    if (b == 0x60) return core_functype_body(c);
    if (b == 0x50 && !in_module) {
        uint32_t n;
        TRY(count(c, &n, "module type declaration"));
        for (uint32_t i = 0; i < n; i++) {
            uint8_t k;
            const char *s;
            TRY(wasitls_cursor_u8(c, &k));
            switch (k) {
            case 0x00:
                TRY(name(p, c, &s));
                TRY(name(p, c, &s));
                TRY(core_externtype(c));
                break;
            case 0x01:
                TRY(core_type(p, c, true));
                break;
            case 0x02: {
                uint8_t x, y;
                uint32_t u;
                TRY(wasitls_cursor_u8(c, &x));
                TRY(wasitls_cursor_u8(c, &y));
                if (x != 0x10 || y != 0x01) return bad(c, "bad core alias in a module type%s", "");
                TRY(wasitls_cursor_leb_u32(c, &u));
                TRY(wasitls_cursor_leb_u32(c, &u));
                break;
            }
            case 0x03:
                TRY(name(p, c, &s));
                TRY(core_externtype(c));
                break;
            default:
                return bad(c, "bad module type declaration%s", "");
            }
        }
        return 0;
    }
    return unsupported(c, at, "core type form (GC rec/sub types)");
}

/* ---- component types ---- */

static int valtype(wasitls_cursor *c, pscope *s, wasitls__valtype *out)
{
    int64_t v;
    int64_t at = (int64_t)c->pos;
    TRY(wasitls_cursor_leb_s33(c, &v));
    if (v >= 0) {
        out->prim = 0xff;
        out->idx = (uint32_t)v;
        if (v > UINT32_MAX) return bad(c, "type index too large%s", "");
        return check_idx(c, at, out->idx, s->type, "type");
    }
    uint8_t code = (uint8_t)(v & 0x7f);
    if (code < 0x73) {
        if (code == 0x64) return unsupported(c, at, "error-context type");
        return bad(c, "bad value type%s", "");
    }
    out->prim = (uint8_t)(CT_BOOL + (0x7f - code)); /* 0x7f bool ... 0x73 string */
    return 0;
}

static int opt_valtype(wasitls_cursor *c, pscope *s, wasitls__valtype *out, bool *has)
{
    uint8_t b;
    TRY(wasitls_cursor_u8(c, &b));
    if (b > 1) return bad(c, "bad optional value type%s", "");
    *has = b == 1;
    if (!*has) {
        out->prim = 0xfe;
        return 0;
    }
    return valtype(c, s, out);
}

static int labels(parser *p, wasitls_cursor *c, wasitls__tdef *t, const char *what)
{
    TRY(count(c, &t->n, what));
    if (t->n > WASITLS__MAX_FIELDS)
        return wasitls_cursor_fail(c, WASITLS_E_LIMIT, "too many %ss", what);
    t->names = wasitls__arena_array(p->a, t->n ? t->n : 1, sizeof(*t->names));
    t->vts = wasitls__arena_array(p->a, t->n ? t->n : 1, sizeof(*t->vts));
    if (!t->names || !t->vts) return nomem(p);
    return 0;
}

static int decls(parser *p, wasitls_cursor *c, pscope *s, wasitls__tdef *t, bool component);

static int deftype(parser *p, wasitls_cursor *c, pscope *s, wasitls__tdef **out)
{
    int64_t at = (int64_t)c->pos;
    uint8_t b;
    TRY(wasitls_cursor_u8(c, &b));
    wasitls__tdef *t = wasitls__arena_alloc(p->a, sizeof(*t));
    if (!t) return nomem(p);
    t->offset = at;
    *out = t;
    if (b >= 0x73 && b <= 0x7f) {
        t->kind = TD_VALTYPE;
        t->a.prim = (uint8_t)(CT_BOOL + (0x7f - b));
        return 0;
    }
    switch (b) {
    case 0x72:
        t->kind = TD_RECORD;
        TRY(labels(p, c, t, "record field"));
        if (!t->n) return bad(c, "record with no fields%s", "");
        for (uint32_t i = 0; i < t->n; i++) {
            TRY(name(p, c, &t->names[i]));
            TRY(valtype(c, s, &t->vts[i]));
        }
        return 0;
    case 0x71:
        t->kind = TD_VARIANT;
        TRY(labels(p, c, t, "variant case"));
        if (!t->n) return bad(c, "variant with no cases%s", "");
        for (uint32_t i = 0; i < t->n; i++) {
            bool has;
            uint8_t z;
            TRY(name(p, c, &t->names[i]));
            TRY(opt_valtype(c, s, &t->vts[i], &has));
            TRY(wasitls_cursor_u8(c, &z));
            if (z != 0) return unsupported(c, (int64_t)c->pos - 1, "variant case refinement");
        }
        return 0;
    case 0x70:
        t->kind = TD_LIST;
        return valtype(c, s, &t->a);
    case 0x67:
        return unsupported(c, at, "fixed-length list type");
    case 0x6f:
        t->kind = TD_TUPLE;
        TRY(labels(p, c, t, "tuple item"));
        if (!t->n) return bad(c, "tuple with no items%s", "");
        for (uint32_t i = 0; i < t->n; i++)
            TRY(valtype(c, s, &t->vts[i]));
        return 0;
    case 0x6e:
    case 0x6d:
        t->kind = b == 0x6e ? TD_FLAGS : TD_ENUM;
        TRY(labels(p, c, t, b == 0x6e ? "flag" : "enum case"));
        if (!t->n || (b == 0x6e && t->n > 32))
            return bad(c, "%s: label count out of range", b == 0x6e ? "flags" : "enum");
        for (uint32_t i = 0; i < t->n; i++)
            TRY(name(p, c, &t->names[i]));
        return 0;
    case 0x6b:
        t->kind = TD_OPTION;
        return valtype(c, s, &t->a);
    case 0x6a:
        t->kind = TD_RESULT;
        TRY(opt_valtype(c, s, &t->a, &t->has_a));
        return opt_valtype(c, s, &t->b, &t->has_b);
    case 0x69:
    case 0x68:
        t->kind = b == 0x69 ? TD_OWN : TD_BORROW;
        at = (int64_t)c->pos;
        TRY(wasitls_cursor_leb_u32(c, &t->idx));
        return check_idx(c, at, t->idx, s->type, "type");
    case 0x66:
        return unsupported(c, at, "stream type (async)");
    case 0x65:
        return unsupported(c, at, "future type (async)");
    case 0x64:
        return unsupported(c, at, "error-context type");
    case 0x63:
        return unsupported(c, at, "map type");
    case 0x40: {
        t->kind = TD_FUNC;
        TRY(labels(p, c, t, "function parameter"));
        for (uint32_t i = 0; i < t->n; i++) {
            TRY(name(p, c, &t->names[i]));
            TRY(valtype(c, s, &t->vts[i]));
        }
        uint8_t r;
        TRY(wasitls_cursor_u8(c, &r));
        if (r == 0x00) {
            t->has_a = true;
            return valtype(c, s, &t->a);
        }
        uint8_t z;
        TRY(wasitls_cursor_u8(c, &z));
        if (r == 0x01 && z == 0x00) return 0;
        if (r == 0x01) return unsupported(c, at, "named function results");
        return bad(c, "bad function result list%s", "");
    }
    case 0x43:
        return unsupported(c, at, "async function type");
    case 0x41:
    case 0x42:
        t->kind = b == 0x41 ? TD_COMPONENT : TD_INSTANCE;
        return decls(p, c, s, t, b == 0x41);
    case 0x3f: {
        t->kind = TD_RESOURCE;
        TRY(wasitls_cursor_u8(c, &t->rep));
        if (t->rep != 0x7f) return bad(c, "resource representation must be i32%s", "");
        uint8_t d;
        TRY(wasitls_cursor_u8(c, &d));
        if (d > 1) return bad(c, "bad resource destructor flag%s", "");
        t->has_dtor = d == 1;
        if (t->has_dtor) {
            at = (int64_t)c->pos;
            TRY(wasitls_cursor_leb_u32(c, &t->dtor));
            TRY(check_idx(c, at, t->dtor, s->core_func, "core function"));
        }
        return 0;
    }
    case 0x3e:
        return unsupported(c, at, "async resource type");
    default:
        return bad(c, "bad type definition opcode%s", "");
    }
}

static int externtype(wasitls_cursor *c, pscope *s, wasitls__externtype *et)
{
    uint8_t k;
    int64_t at = (int64_t)c->pos;
    TRY(wasitls_cursor_u8(c, &k));
    switch (k) {
    case 0x00: {
        uint8_t m;
        TRY(wasitls_cursor_u8(c, &m));
        if (m != 0x11) return bad(c, "bad core extern type%s", "");
        et->sort = SORT_CORE_MODULE;
        at = (int64_t)c->pos;
        TRY(wasitls_cursor_leb_u32(c, &et->idx));
        return check_idx(c, at, et->idx, s->core_type, "core type");
    }
    case 0x01:
    case 0x04:
    case 0x05:
        et->sort = k;
        at = (int64_t)c->pos;
        TRY(wasitls_cursor_leb_u32(c, &et->idx));
        return check_idx(c, at, et->idx, s->type, "type");
    case 0x02:
        return unsupported(c, at, "value import/export");
    case 0x03: {
        et->sort = SORT_TYPE;
        TRY(wasitls_cursor_u8(c, &et->bound));
        if (et->bound == 0) {
            at = (int64_t)c->pos;
            TRY(wasitls_cursor_leb_u32(c, &et->idx));
            return check_idx(c, at, et->idx, s->type, "type");
        }
        if (et->bound != 1) return bad(c, "bad type bound%s", "");
        return 0;
    }
    default:
        return bad(c, "bad extern type%s", "");
    }
}

/* After an import/export of this extern type, the matching index space grows by one. */
static int extern_bump(wasitls_cursor *c, pscope *s, const wasitls__externtype *et)
{
    switch (et->sort) {
    case SORT_CORE_MODULE:
        return bump(c, &s->core_module, "core module");
    case SORT_FUNC:
        return bump(c, &s->func, "function");
    case SORT_TYPE:
        return bump(c, &s->type, "type");
    case SORT_COMPONENT:
        return bump(c, &s->comp, "component");
    default:
        return bump(c, &s->inst, "instance");
    }
}

static int alias_body(parser *p, wasitls_cursor *c, pscope *s, uint8_t sort, uint8_t *kind,
                      uint32_t *idx, uint32_t *ct, const char **nm, bool declarator)
{
    uint8_t tag;
    int64_t at = (int64_t)c->pos;
    const char *what;
    TRY(wasitls_cursor_u8(c, &tag));
    uint32_t *sp = space(s, sort, &what);
    if (!sp) return unsupported(c, at, what);
    switch (tag) {
    case 0x00:
        /* component instances export core modules, not other core items */
        if ((sort & 0x80) && sort != (0x80 | 0x11))
            return bad(c, "export alias of a core sort needs the core form%s", "");
        *kind = DEF_ALIAS_EXPORT;
        at = (int64_t)c->pos;
        TRY(wasitls_cursor_leb_u32(c, idx));
        TRY(check_idx(c, at, *idx, s->inst, "instance"));
        TRY(name(p, c, nm));
        break;
    case 0x01:
        if (!(sort & 0x80) || declarator)
            return bad(c, "core export alias of a non-core sort%s", "");
        *kind = DEF_ALIAS_CORE_EXPORT;
        at = (int64_t)c->pos;
        TRY(wasitls_cursor_leb_u32(c, idx));
        TRY(check_idx(c, at, *idx, s->core_inst, "core instance"));
        TRY(name(p, c, nm));
        break;
    case 0x02: {
        *kind = DEF_ALIAS_OUTER;
        if (sort != SORT_TYPE && sort != (0x80 | 0x10) && sort != (0x80 | 0x11) &&
            sort != SORT_COMPONENT)
            return bad(c, "outer alias of a sort other than type, module or component%s", "");
        TRY(wasitls_cursor_leb_u32(c, ct));
        at = (int64_t)c->pos;
        TRY(wasitls_cursor_leb_u32(c, idx));
        pscope *t = s;
        for (uint32_t i = 0; i < *ct && t; i++)
            t = t->parent;
        if (!t) {
            c->failed = WASITLS_E_INVALID;
            return wasitls_error_set_at(c->err, WASITLS_E_INVALID, at,
                                        "outer alias count %u exceeds the enclosing scopes", *ct);
        }
        const char *w2 = "";
        uint32_t *tsp = space(t, sort, &w2);
        if (!tsp) return unsupported(c, at, w2);
        TRY(check_idx(c, at, *idx, *tsp, w2));
        break;
    }
    default:
        return bad(c, "bad alias target%s", "");
    }
    return bump(c, sp, what);
}

static int decls(parser *p, wasitls_cursor *c, pscope *outer, wasitls__tdef *t, bool component)
{
    if (++p->depth > WASITLS__MAX_NESTING)
        return wasitls_cursor_fail(c, WASITLS_E_LIMIT, "type declarators nested deeper than %u",
                                   WASITLS__MAX_NESTING);
    pscope s = {0};
    s.parent = outer;
    TRY(count(c, &t->ndecls, "type declarator"));
    t->decls = wasitls__arena_array(p->a, t->ndecls ? t->ndecls : 1, sizeof(*t->decls));
    if (!t->decls) return nomem(p);
    for (uint32_t i = 0; i < t->ndecls; i++) {
        wasitls__decl *d = &t->decls[i];
        d->offset = (int64_t)c->pos;
        uint8_t k;
        TRY(wasitls_cursor_u8(c, &k));
        switch (k) {
        case 0x00:
            d->kind = DECL_CORE_TYPE;
            TRY(core_type(p, c, false));
            TRY(bump(c, &s.core_type, "core type"));
            break;
        case 0x01:
            d->kind = DECL_TYPE;
            TRY(deftype(p, c, &s, &d->type));
            if (d->type->kind == TD_RESOURCE)
                return bad(c, "resource type definition inside a type declarator%s", "");
            TRY(bump(c, &s.type, "type"));
            break;
        case 0x02: {
            uint8_t dk;
            TRY(read_sort(c, &d->sort));
            if (d->sort != SORT_TYPE && d->sort != SORT_INSTANCE && d->sort != (0x80 | 0x10))
                return bad(c, "alias of this sort inside a type declarator%s", "");
            TRY(alias_body(p, c, &s, d->sort, &dk, &d->idx, &d->ct, &d->name, true));
            d->kind = dk == DEF_ALIAS_OUTER ? DECL_ALIAS_OUTER : DECL_ALIAS_EXPORT;
            break;
        }
        case 0x03:
            if (!component) return bad(c, "import declarator inside an instance type%s", "");
            /* fall through */
        case 0x04:
            d->kind = k == 0x03 ? DECL_IMPORT : DECL_EXPORT;
            TRY(nameattrs(p, c, &d->name));
            TRY(externtype(c, &s, &d->et));
            TRY(extern_bump(c, &s, &d->et));
            break;
        default:
            return bad(c, "bad type declarator%s", "");
        }
    }
    p->depth--;
    return 0;
}

/* ---- canon ---- */

static int canonopts(wasitls_cursor *c, pscope *s, wasitls__copts *o)
{
    uint32_t n;
    bool enc = false;
    TRY(count(c, &n, "canonical option"));
    for (uint32_t i = 0; i < n; i++) {
        uint8_t k;
        int64_t at = (int64_t)c->pos;
        TRY(wasitls_cursor_u8(c, &k));
        switch (k) {
        case 0x00:
        case 0x01:
        case 0x02:
            if (enc) return bad(c, "duplicate string-encoding option%s", "");
            enc = true;
            o->enc = k;
            break;
        case 0x03:
            if (o->has_memory) return bad(c, "duplicate memory option%s", "");
            o->has_memory = true;
            at = (int64_t)c->pos;
            TRY(wasitls_cursor_leb_u32(c, &o->memory));
            TRY(check_idx(c, at, o->memory, s->core_mem, "core memory"));
            break;
        case 0x04:
        case 0x05: {
            bool *has = k == 0x04 ? &o->has_realloc : &o->has_post;
            uint32_t *f = k == 0x04 ? &o->realloc : &o->post;
            if (*has) return bad(c, "duplicate %s option", k == 0x04 ? "realloc" : "post-return");
            *has = true;
            at = (int64_t)c->pos;
            TRY(wasitls_cursor_leb_u32(c, f));
            TRY(check_idx(c, at, *f, s->core_func, "core function"));
            break;
        }
        case 0x06:
            return unsupported(c, at, "async canonical option");
        case 0x07:
            return unsupported(c, at, "callback canonical option (async)");
        default:
            return bad(c, "bad canonical option%s", "");
        }
    }
    return 0;
}

static const char *canon_name(uint8_t k)
{
    switch (k) {
    case 0x05:
        return "task.cancel";
    case 0x06:
        return "subtask.cancel";
    case 0x07:
        return "resource.drop async";
    case 0x08:
        return "backpressure.set";
    case 0x09:
        return "task.return";
    case 0x0a:
        return "context.get";
    case 0x0b:
        return "context.set";
    case 0x0c:
        return "thread.yield";
    case 0x0d:
        return "subtask.drop";
    case 0x1c:
    case 0x1d:
    case 0x1e:
        return "error-context built-ins";
    case 0x1f:
    case 0x20:
    case 0x21:
    case 0x22:
    case 0x23:
        return "waitable-set built-ins (async)";
    case 0x24:
    case 0x25:
        return "backpressure built-ins (async)";
    default:
        if (k >= 0x0e && k <= 0x14) return "stream built-ins (async)";
        if (k >= 0x15 && k <= 0x1b) return "future built-ins (async)";
        if (k >= 0x26) return "thread built-ins";
        return "unknown canonical built-in";
    }
}

/* ---- component ---- */

static int component(parser *p, wasitls_cursor *c, pscope *outer, wasitls__component *parent,
                     wasitls__component **out);

static wasitls__def *newdef(parser *p, wasitls__vec *defs, uint8_t kind, int64_t at)
{
    wasitls__def *d = wasitls__vec_push(defs);
    if (!d) return NULL;
    d->kind = kind;
    d->offset = at;
    return d;
}

#define NEWDEF(kind)                                                                               \
    do {                                                                                           \
        d = newdef(p, &defs, (kind), at);                                                          \
        if (!d) {                                                                                  \
            rc = nomem(p);                                                                         \
            goto Exit;                                                                             \
        }                                                                                          \
    } while (0)
#define CHK(x)                                                                                     \
    do {                                                                                           \
        if ((rc = (x))) goto Exit;                                                                 \
    } while (0)

static int args_vec(parser *p, wasitls_cursor *c, pscope *s, wasitls__def *d, bool core,
                    bool inline_exports)
{
    TRY(count(c, &d->n, core ? "core instantiate argument" : "instantiate argument"));
    d->args = wasitls__arena_array(p->a, d->n ? d->n : 1, sizeof(*d->args));
    if (!d->args) return nomem(p);
    for (uint32_t i = 0; i < d->n; i++) {
        wasitls__arg *a = &d->args[i];
        if (!core && inline_exports)
            TRY(nameattrs(p, c, &a->name));
        else
            TRY(name(p, c, &a->name));
        int64_t at;
        if (core) {
            uint8_t cs;
            TRY(wasitls_cursor_u8(c, &cs));
            if (!inline_exports && cs != 0x12)
                return bad(c, "core instantiate argument must be an instance%s", "");
            if (cs == 0x04)
                return unsupported(c, (int64_t)c->pos - 1, "core tag (exception handling)");
            if (cs > 0x03 && cs != 0x12 && cs != 0x11 && cs != 0x10)
                return bad(c, "bad core sort%s", "");
            a->sort = (uint8_t)(0x80 | cs);
        } else {
            TRY(read_sort(c, &a->sort));
        }
        at = (int64_t)c->pos;
        TRY(wasitls_cursor_leb_u32(c, &a->idx));
        const char *what;
        uint32_t *sp = space(s, a->sort, &what);
        if (!sp) return unsupported(c, at, what);
        TRY(check_idx(c, at, a->idx, *sp, what));
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(d->args[j].name, a->name) == 0)
                return wasitls_cursor_fail(c, WASITLS_E_INVALID, "duplicate name `%s`", a->name);
    }
    return 0;
}

static int component(parser *p, wasitls_cursor *c, pscope *outer, wasitls__component *parent,
                     wasitls__component **out)
{
    int rc = 0;
    wasitls__vec defs;
    wasitls__vec_init(&defs, sizeof(wasitls__def));
    pscope s = {0};
    s.parent = outer;
    wasitls__component *comp = wasitls__arena_alloc(p->a, sizeof(*comp));
    if (!comp) return nomem(p);
    comp->parent = parent;
    comp->depth = parent ? parent->depth + 1 : 0;
    wasitls__vec_init(&comp->modules, sizeof(wasitls_module *));
    wasitls__vec_init(&comp->mod_bytes, sizeof(wasitls__modbytes));
    wasitls__vec_init(&comp->comps, sizeof(wasitls__component *));
    *out = comp;
    if (comp->depth > WASITLS__MAX_NESTING)
        return wasitls_cursor_fail(c, WASITLS_E_LIMIT, "components nested deeper than %u",
                                   WASITLS__MAX_NESTING);

    const uint8_t *hdr;
    CHK(wasitls_cursor_bytes(c, 8, &hdr));
    if (memcmp(hdr, "\0asm", 4) != 0) {
        c->pos -= 8;
        CHK(bad(c, "not a WebAssembly binary (bad magic)%s", ""));
    }
    if (hdr[6] == 0 && hdr[7] == 0) {
        c->pos -= 4;
        CHK(wasitls_cursor_fail(c, WASITLS_E_INVALID,
                                "this is a core WebAssembly module, not a component"));
    }
    if (hdr[4] != 0x0d || hdr[5] != 0 || hdr[6] != 1 || hdr[7] != 0) {
        c->pos -= 4;
        CHK(wasitls_cursor_fail(c, WASITLS_E_UNSUPPORTED_FEATURE,
                                "unsupported component binary version/layer %02x %02x %02x %02x",
                                hdr[4], hdr[5], hdr[6], hdr[7]));
    }
    while (!wasitls_cursor_eof(c)) {
        uint8_t id;
        uint32_t size;
        wasitls_cursor sc;
        int64_t sect_at = (int64_t)c->pos;
        CHK(wasitls_cursor_u8(c, &id));
        CHK(wasitls_cursor_leb_u32(c, &size));
        CHK(wasitls_cursor_sub(c, size, &sc));
        wasitls__def *d;
        int64_t at = (int64_t)sc.pos;
        uint32_t n = 0;
        switch (id) {
        case 0: { /* custom */
            const char *nm;
            size_t nl;
            CHK(wasitls_cursor_name(&sc, &nm, &nl));
            sc.pos = sc.end;
            break;
        }
        case 1: { /* core module */
            NEWDEF(DEF_CORE_MODULE);
            if (size < 8 || memcmp(sc.base + sc.pos, "\0asm\1\0\0\0", 8) != 0)
                CHK(bad(&sc, "core module section does not hold a core module%s", ""));
            wasitls__modbytes *mb = wasitls__vec_push(&comp->mod_bytes);
            if (!mb) CHK(nomem(p));
            mb->p = sc.base + sc.pos;
            mb->n = size;
            mb->off = at;
            d->idx = (uint32_t)comp->mod_bytes.len - 1;
            sc.pos = sc.end;
            CHK(bump(&sc, &s.core_module, "core module"));
            break;
        }
        case 2: /* core instances */
            CHK(count(&sc, &n, "core instance"));
            for (uint32_t i = 0; i < n; i++) {
                at = (int64_t)sc.pos;
                uint8_t k;
                CHK(wasitls_cursor_u8(&sc, &k));
                if (k == 0x00) {
                    NEWDEF(DEF_CORE_INSTANTIATE);
                    int64_t ia = (int64_t)sc.pos;
                    CHK(wasitls_cursor_leb_u32(&sc, &d->idx));
                    CHK(check_idx(&sc, ia, d->idx, s.core_module, "core module"));
                    CHK(args_vec(p, &sc, &s, d, true, false));
                } else if (k == 0x01) {
                    NEWDEF(DEF_CORE_INSTANCE_EXPORTS);
                    CHK(args_vec(p, &sc, &s, d, true, true));
                    for (uint32_t j = 0; j < d->n; j++)
                        if ((d->args[j].sort & 0x7f) > 3)
                            CHK(bad(&sc, "core inline export of a non-extern sort%s", ""));
                } else {
                    CHK(bad(&sc, "bad core instance definition%s", ""));
                }
                CHK(bump(&sc, &s.core_inst, "core instance"));
            }
            break;
        case 3: /* core types */
            CHK(count(&sc, &n, "core type"));
            for (uint32_t i = 0; i < n; i++) {
                at = (int64_t)sc.pos;
                NEWDEF(DEF_CORE_TYPE);
                CHK(core_type(p, &sc, false));
                CHK(bump(&sc, &s.core_type, "core type"));
            }
            break;
        case 4: { /* nested component */
            NEWDEF(DEF_COMPONENT);
            wasitls__component *nested = NULL;
            if ((rc = component(p, &sc, &s, comp, &nested))) {
                wasitls__component_release(nested);
                goto Exit;
            }
            wasitls__component **slot = wasitls__vec_push(&comp->comps);
            if (!slot) {
                wasitls__component_release(nested);
                CHK(nomem(p));
            }
            *slot = nested;
            d->idx = (uint32_t)comp->comps.len - 1;
            CHK(bump(&sc, &s.comp, "component"));
            break;
        }
        case 5: /* instances */
            CHK(count(&sc, &n, "instance"));
            for (uint32_t i = 0; i < n; i++) {
                at = (int64_t)sc.pos;
                uint8_t k;
                CHK(wasitls_cursor_u8(&sc, &k));
                if (k == 0x00) {
                    NEWDEF(DEF_INSTANTIATE);
                    int64_t ia = (int64_t)sc.pos;
                    CHK(wasitls_cursor_leb_u32(&sc, &d->idx));
                    CHK(check_idx(&sc, ia, d->idx, s.comp, "component"));
                    CHK(args_vec(p, &sc, &s, d, false, false));
                } else if (k == 0x01) {
                    NEWDEF(DEF_INSTANCE_EXPORTS);
                    CHK(args_vec(p, &sc, &s, d, false, true));
                } else {
                    CHK(bad(&sc, "bad instance definition%s", ""));
                }
                CHK(bump(&sc, &s.inst, "instance"));
            }
            break;
        case 6: /* aliases */
            CHK(count(&sc, &n, "alias"));
            for (uint32_t i = 0; i < n; i++) {
                at = (int64_t)sc.pos;
                NEWDEF(DEF_ALIAS_EXPORT);
                uint8_t kind;
                CHK(read_sort(&sc, &d->sort));
                CHK(alias_body(p, &sc, &s, d->sort, &kind, &d->idx, &d->ct, &d->name, false));
                d->kind = kind;
            }
            break;
        case 7: /* types */
            CHK(count(&sc, &n, "type"));
            for (uint32_t i = 0; i < n; i++) {
                at = (int64_t)sc.pos;
                NEWDEF(DEF_TYPE);
                CHK(deftype(p, &sc, &s, &d->type));
                CHK(bump(&sc, &s.type, "type"));
            }
            break;
        case 8: /* canon */
            CHK(count(&sc, &n, "canonical definition"));
            for (uint32_t i = 0; i < n; i++) {
                at = (int64_t)sc.pos;
                uint8_t k, z;
                CHK(wasitls_cursor_u8(&sc, &k));
                int64_t ia;
                switch (k) {
                case 0x00:
                case 0x01:
                    NEWDEF(k == 0 ? DEF_CANON_LIFT : DEF_CANON_LOWER);
                    CHK(wasitls_cursor_u8(&sc, &z));
                    if (z != 0x00) CHK(bad(&sc, "bad canon lift/lower sort%s", ""));
                    ia = (int64_t)sc.pos;
                    CHK(wasitls_cursor_leb_u32(&sc, &d->idx));
                    CHK(check_idx(&sc, ia, d->idx, k == 0 ? s.core_func : s.func,
                                  k == 0 ? "core function" : "function"));
                    CHK(canonopts(&sc, &s, &d->opts));
                    if (k == 0) {
                        ia = (int64_t)sc.pos;
                        CHK(wasitls_cursor_leb_u32(&sc, &d->type_idx));
                        CHK(check_idx(&sc, ia, d->type_idx, s.type, "type"));
                        CHK(bump(&sc, &s.func, "function"));
                    } else {
                        CHK(bump(&sc, &s.core_func, "core function"));
                    }
                    break;
                case 0x02:
                case 0x03:
                case 0x04:
                    NEWDEF(k == 2   ? DEF_CANON_RESOURCE_NEW
                           : k == 3 ? DEF_CANON_RESOURCE_DROP
                                    : DEF_CANON_RESOURCE_REP);
                    ia = (int64_t)sc.pos;
                    CHK(wasitls_cursor_leb_u32(&sc, &d->idx));
                    CHK(check_idx(&sc, ia, d->idx, s.type, "type"));
                    CHK(bump(&sc, &s.core_func, "core function"));
                    break;
                default:
                    CHK(unsupported(&sc, at, canon_name(k)));
                }
            }
            break;
        case 9:
            CHK(unsupported(&sc, sect_at, "component start function (value definitions)"));
            break;
        case 10: /* imports */
            CHK(count(&sc, &n, "import"));
            for (uint32_t i = 0; i < n; i++) {
                at = (int64_t)sc.pos;
                NEWDEF(DEF_IMPORT);
                CHK(nameattrs(p, &sc, &d->name));
                CHK(externtype(&sc, &s, &d->et));
                CHK(extern_bump(&sc, &s, &d->et));
            }
            break;
        case 11: /* exports */
            CHK(count(&sc, &n, "export"));
            for (uint32_t i = 0; i < n; i++) {
                at = (int64_t)sc.pos;
                NEWDEF(DEF_EXPORT);
                CHK(nameattrs(p, &sc, &d->name));
                CHK(read_sort(&sc, &d->target.sort));
                if ((d->target.sort & 0x80) && d->target.sort != (0x80 | 0x11))
                    CHK(bad(&sc, "export of a core sort other than module%s", ""));
                int64_t ia = (int64_t)sc.pos;
                CHK(wasitls_cursor_leb_u32(&sc, &d->target.idx));
                const char *what;
                uint32_t *sp = space(&s, d->target.sort, &what);
                CHK(check_idx(&sc, ia, d->target.idx, *sp, what));
                uint8_t has;
                CHK(wasitls_cursor_u8(&sc, &has));
                if (has > 1) CHK(bad(&sc, "bad export type ascription flag%s", ""));
                d->has_et = has;
                if (has) {
                    CHK(externtype(&sc, &s, &d->et));
                    if (d->et.sort !=
                        (d->target.sort == (0x80 | 0x11) ? SORT_CORE_MODULE : d->target.sort))
                        CHK(wasitls_cursor_fail(&sc, WASITLS_E_INVALID,
                                                "export `%s`: ascribed type has another sort",
                                                d->name));
                }
                CHK(bump(&sc, sp, what));
            }
            break;
        case 12:
            CHK(unsupported(&sc, sect_at, "value section"));
            break;
        default:
            c->pos = (size_t)sect_at;
            CHK(wasitls_cursor_fail(c, WASITLS_E_MALFORMED, "unknown component section id %u", id));
        }
        if (!wasitls_cursor_eof(&sc)) {
            CHK(wasitls_cursor_fail(&sc, WASITLS_E_MALFORMED, "section %u: %zu trailing bytes", id,
                                    wasitls_cursor_left(&sc)));
        }
        if (defs.len > WASITLS__MAX_SPACE)
            CHK(wasitls_cursor_fail(c, WASITLS_E_LIMIT, "too many definitions"));
    }
    comp->ndefs = (uint32_t)defs.len;
    comp->defs = wasitls__arena_array(p->a, defs.len ? defs.len : 1, sizeof(wasitls__def));
    if (!comp->defs) CHK(nomem(p));
    if (defs.len) memcpy(comp->defs, defs.items, defs.len * sizeof(wasitls__def));
Exit:
    wasitls__vec_free(&defs);
    if (rc && p->err && p->err->code == 0)
        wasitls_error_set(p->err, rc, "%s", wasitls_strerror(rc));
    return rc;
}

void wasitls__component_release(wasitls__component *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->comps.len; i++)
        wasitls__component_release(WASITLS__VEC_AT(&c->comps, wasitls__component *, i));
    wasitls__vec_free(&c->comps);
    wasitls__vec_free(&c->modules);
    wasitls__vec_free(&c->mod_bytes);
}

int wasitls__component_parse(wasitls__arena *a, const uint8_t *bytes, size_t len,
                             wasitls__component **out, wasitls_error *err)
{
    parser p = {.a = a, .err = err};
    wasitls_cursor c;
    *out = NULL;
    if (len > WASITLS__MAX_COMPONENT_BYTES)
        return wasitls_error_set(err, WASITLS_E_LIMIT, "component larger than %u bytes",
                                 WASITLS__MAX_COMPONENT_BYTES);
    wasitls_cursor_init(&c, bytes, len, err);
    int rc = component(&p, &c, NULL, NULL, out);
    if (rc) {
        wasitls__component_release(*out);
        *out = NULL;
    }
    return rc;
}
