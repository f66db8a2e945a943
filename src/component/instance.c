/* Components at run time: compiling the core modules, instantiating (the definitions of a
 * component are executed in order, building its index spaces; types are elaborated here
 * because resource types are generative per instance), import resolution against the linker,
 * the trampolines behind `canon lower` / `resource.*`, and calls of lifted exports. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_) return rc_;                                                                       \
    } while (0)

/* ---- runtime items ---- */

typedef struct citem { /* a core extern and, for functions, its type */
    wasitls_extern ext;
    wasitls_functype ft;
} citem;

typedef struct coreinst {
    wasitls_instance *inst; /* a real instance, or NULL for one built from exports */
    uint32_t n;
    const char **names;
    citem *items;
} coreinst;

typedef struct ropts {
    uint8_t enc;
    wasitls_memory *mem;
    bool has_realloc, has_post;
    citem realloc, post;
} ropts;

enum { F_HOST, F_LIFTED };
typedef struct cfunc {
    uint8_t kind;
    wasitls__ctype *type;
    const char *name; /* for messages */
    wasitls__hfunc *hf;
    citem core;
    ropts opts;
    wasitls__htable *ht; /* LIFTED: the callee's handle table */
} cfunc;

typedef struct item {
    uint8_t sort; /* SORT_*; SORT_CORE_MODULE */
    void *p;      /* cfunc*, wasitls__ctype*, instval*, compval*, wasitls_module* */
} item;

typedef struct instval {
    uint32_t n;
    const char **names;
    item *items;
} instval;

struct frame;
typedef struct compval {
    wasitls__component *def;
    struct frame *outer;
} compval;

/* A scope of type indices: a component frame or a type declarator. */
typedef struct scope {
    wasitls__vec types; /* wasitls__ctype* */
    wasitls__vec insts; /* declarators: wasitls__ctype* (instance types) */
    struct scope *parent;
    struct frame *frame; /* non-NULL for component frames */
} scope;

typedef struct frame {
    scope s; /* first: a frame is a scope */
    wasitls__component *def;
    struct frame *parent;
    instval *args;
    wasitls__vec core_funcs, core_tables, core_mems, core_globals; /* citem */
    wasitls__vec core_modules;                                     /* wasitls_module* */
    wasitls__vec core_insts;                                       /* coreinst* */
    wasitls__vec core_types;                                       /* NULL placeholders */
    wasitls__vec funcs;                                            /* cfunc* */
    wasitls__vec comps;                                            /* compval* */
    wasitls__vec insts;                                            /* instval* */
    wasitls__vec exp_names, exp_items;                             /* exports */
    wasitls__htable *ht; /* this component instance's handle table */
} frame;

typedef struct lowered {
    struct wasitls_cinstance *ci;
    wasitls__htable *ht; /* the caller's: where the lowering is defined */
    cfunc *f;
    ropts opts;
    uint32_t nparams; /* core */
    uint8_t params[WASITLS__MAX_FLAT_PARAMS + 1];
} lowered;

typedef struct resfn {
    wasitls__htable *ht;
    struct wasitls_cinstance *ci;
    wasitls__ctype *rt;
} resfn;

struct wasitls_cinstance {
    wasitls_component *comp;
    wasitls_linker *linker;
    void *host_data;
    wasitls__arena arena;
    wasitls__arena results;       /* values returned by the last export call */
    wasitls__vec cores;           /* wasitls_instance* in creation order */
    wasitls__htable handles;      /* the guest's handles */
    wasitls__htable host_handles; /* guest-defined resources the host holds (from exports) */
    wasitls__task *task;
    wasitls__arena pool[8]; /* call arenas by nesting depth, reused across calls */
    uint32_t ninstances;    /* made so far (limit) */
    wasitls__vec tables;    /* wasitls__htable*: those of nested component instances */
    uint32_t depth;
    instval *exports;
    bool trapped;
    wasitls_error *err; /* during instantiation */
};

struct wasitls_ccall {
    struct wasitls_cinstance *ci;
    wasitls__arena own_arena;
    wasitls__arena *arena; /* own_arena, or a pooled one of the instance */
    wasitls__canon *cx;
    wasitls_error err;
    uint32_t *lends;
    size_t nlends, caplends;
    bool nested;         /* arguments come from another component of this instance, not the host */
    wasitls__htable *ht; /* the handle table of the guest side of this call */
    const uint8_t *gbh[16];
    uint32_t gbg[16], gbl[16];
};

/* ---- components ---- */

static int compile_modules(wasitls_engine *e, wasitls__component *c, wasitls_error *err)
{
    for (size_t i = 0; i < c->mod_bytes.len; i++) {
        wasitls__modbytes *mb = &WASITLS__VEC_AT(&c->mod_bytes, wasitls__modbytes, i);
        wasitls_module **slot = wasitls__vec_push(&c->modules);
        if (!slot) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
        char name[64];
        snprintf(name, sizeof name, "core module %zu (at offset %lld)", i, (long long)mb->off);
        int rc = wasitls_module_new(e, mb->p, mb->n, name, slot, err);
        if (rc) {
            c->modules.len--;
            if (err && err->offset >= 0) err->offset += mb->off;
            return rc;
        }
    }
    for (size_t i = 0; i < c->comps.len; i++)
        TRY(compile_modules(e, WASITLS__VEC_AT(&c->comps, wasitls__component *, i), err));
    return 0;
}

static void free_modules(wasitls__component *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->modules.len; i++)
        wasitls_module_free(WASITLS__VEC_AT(&c->modules, wasitls_module *, i));
    c->modules.len = 0;
    for (size_t i = 0; i < c->comps.len; i++)
        free_modules(WASITLS__VEC_AT(&c->comps, wasitls__component *, i));
}

int wasitls_component_new(wasitls_engine *e, const uint8_t *bytes, size_t len,
                          wasitls_component **out, wasitls_error *err)
{
    wasitls_error_clear(err);
    *out = NULL;
    if (!bytes && len) return wasitls_error_set(err, WASITLS_E_INVAL, "no component bytes");
    wasitls_component *c = calloc(1, sizeof(*c));
    if (!c) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    int rc;
    wasitls__arena_init(&c->arena);
    c->engine = e;
    c->len = len;
    c->bytes = malloc(len ? len : 1);
    if (!c->bytes) {
        rc = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
        goto Exit;
    }
    if (len) memcpy(c->bytes, bytes, len);
    if ((rc = wasitls__component_parse(&c->arena, c->bytes, len, &c->root, err))) goto Exit;
    if (e && (rc = compile_modules(e, c->root, err))) goto Exit;
    *out = c;
    return 0;
Exit:
    wasitls_component_free(c);
    return rc;
}

void wasitls_component_free(wasitls_component *c)
{
    if (!c) return;
    free_modules(c->root);
    wasitls__component_release(c->root);
    wasitls__arena_free(&c->arena);
    free(c->bytes);
    free(c);
}

/* ---- helpers ---- */

typedef struct wasitls_cinstance cinst;

static int ierr(cinst *ci, int code, int64_t off, const char *fmt, ...) WASITLS_PRINTF(4, 5);
static int ierr(cinst *ci, int code, int64_t off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (ci->err) {
        wasitls_error_setv(ci->err, code, fmt, ap);
        ci->err->offset = off;
    }
    va_end(ap);
    return code;
}

static int nomem(cinst *ci)
{
    return ierr(ci, WASITLS_E_NOMEM, -1, "out of memory instantiating component");
}

static void *push(cinst *ci, wasitls__vec *v)
{
    return wasitls__vec_push(v);
}

#define PUSHP(ci, vec, val)                                                                        \
    do {                                                                                           \
        void **s_ = push((ci), (vec));                                                             \
        if (!s_) return nomem(ci);                                                                 \
        *s_ = (void *)(val);                                                                       \
    } while (0)

static bool ft_eq(const wasitls_functype *a, const wasitls_functype *b)
{
    return a->nparams == b->nparams && a->nresults == b->nresults &&
           (!a->nparams || memcmp(a->params, b->params, a->nparams) == 0) &&
           (!a->nresults || memcmp(a->results, b->results, a->nresults) == 0);
}

static void ft_str(const wasitls_functype *f, char *buf, size_t n)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (uint32_t i = 0; i < f->nparams && k < n; i++) {
        uint8_t t = f->params[i];
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? " " : "",
                              t == WASITLS_I32   ? "i32"
                              : t == WASITLS_I64 ? "i64"
                              : t == WASITLS_F32 ? "f32"
                              : t == WASITLS_F64 ? "f64"
                                                 : "ref");
    }
    if (k < n) k += (size_t)snprintf(buf + k, n - k, "] -> [");
    for (uint32_t i = 0; i < f->nresults && k < n; i++) {
        uint8_t t = f->results[i];
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? " " : "",
                              t == WASITLS_I32   ? "i32"
                              : t == WASITLS_I64 ? "i64"
                              : t == WASITLS_F32 ? "f32"
                              : t == WASITLS_F64 ? "f64"
                                                 : "ref");
    }
    if (k < n) snprintf(buf + k, n - k, "]");
}

static int mkft(cinst *ci, wasitls_functype *ft, const uint8_t *p, uint32_t np, const uint8_t *r,
                uint32_t nr)
{
    uint8_t *buf = wasitls__arena_alloc(&ci->arena, (size_t)np + nr + 1);
    if (!buf) return nomem(ci);
    if (np) memcpy(buf, p, np);
    if (nr) memcpy(buf + np, r, nr);
    ft->nparams = np;
    ft->nresults = nr;
    ft->params = buf;
    ft->results = buf + np;
    return 0;
}

static void frame_init(frame *f, wasitls__component *def, frame *parent, instval *args,
                       wasitls__htable *ht)
{
    memset(f, 0, sizeof(*f));
    f->def = def;
    f->parent = parent;
    f->args = args;
    f->s.frame = f;
    f->ht = ht;
    f->s.parent = parent ? &parent->s : NULL;
    wasitls__vec_init(&f->s.types, sizeof(void *));
    wasitls__vec_init(&f->s.insts, sizeof(void *));
    wasitls__vec_init(&f->core_funcs, sizeof(citem));
    wasitls__vec_init(&f->core_tables, sizeof(citem));
    wasitls__vec_init(&f->core_mems, sizeof(citem));
    wasitls__vec_init(&f->core_globals, sizeof(citem));
    wasitls__vec_init(&f->core_modules, sizeof(void *));
    wasitls__vec_init(&f->core_insts, sizeof(void *));
    wasitls__vec_init(&f->core_types, sizeof(void *));
    wasitls__vec_init(&f->funcs, sizeof(void *));
    wasitls__vec_init(&f->comps, sizeof(void *));
    wasitls__vec_init(&f->insts, sizeof(void *));
    wasitls__vec_init(&f->exp_names, sizeof(void *));
    wasitls__vec_init(&f->exp_items, sizeof(item));
}

static void frame_free(frame *f)
{
    wasitls__vec *vs[] = {&f->s.types,    &f->s.insts,      &f->core_funcs,   &f->core_tables,
                          &f->core_mems,  &f->core_globals, &f->core_modules, &f->core_insts,
                          &f->core_types, &f->funcs,        &f->comps,        &f->insts,
                          &f->exp_names,  &f->exp_items};
    for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++)
        wasitls__vec_free(vs[i]);
}

static wasitls__vec *core_vec(frame *f, uint8_t cs)
{
    switch (cs) {
    case 0:
        return &f->core_funcs;
    case 1:
        return &f->core_tables;
    case 2:
        return &f->core_mems;
    case 3:
        return &f->core_globals;
    default:
        return NULL;
    }
}

static const char *core_sort_name(uint8_t cs)
{
    switch (cs & 0x7f) {
    case 0:
        return "function";
    case 1:
        return "table";
    case 2:
        return "memory";
    case 3:
        return "global";
    case 0x10:
        return "type";
    case 0x11:
        return "module";
    default:
        return "instance";
    }
}

static const char *sort_name(uint8_t s)
{
    if (s & 0x80) return core_sort_name(s);
    switch (s) {
    case SORT_FUNC:
        return "function";
    case SORT_TYPE:
        return "type";
    case SORT_COMPONENT:
        return "component";
    case SORT_INSTANCE:
        return "instance";
    case SORT_CORE_MODULE:
        return "core module";
    default:
        return "value";
    }
}

#define AT(vec, type, i) WASITLS__VEC_AT((vec), type, (i))

static int idx_ok(cinst *ci, int64_t off, const wasitls__vec *v, uint32_t i, const char *what)
{
    if (i < v->len) return 0;
    return ierr(ci, WASITLS_E_INVALID, off, "%s index %u out of range", what, i);
}

/* ---- type elaboration ---- */

static int valtype(cinst *ci, scope *s, const wasitls__valtype *vt, int64_t off,
                   wasitls__ctype **out)
{
    if (vt->prim != 0xff) {
        *out = wasitls__ct_prim(vt->prim);
        return *out ? 0 : ierr(ci, WASITLS_E_INVALID, off, "bad primitive type");
    }
    TRY(idx_ok(ci, off, &s->types, vt->idx, "type"));
    wasitls__ctype *t = AT(&s->types, wasitls__ctype *, vt->idx);
    if (!t || !CT_IS_VALUE(t->kind))
        return ierr(ci, WASITLS_E_INVALID, off, "type index %u is a %s, not a value type", vt->idx,
                    t ? wasitls__ct_kind_name(t->kind) : "core type");
    *out = t;
    return 0;
}

static int finish(cinst *ci, wasitls__ctype *t, int64_t off)
{
    int rc = wasitls__ct_finish(t, ci->err);
    if (rc && ci->err) ci->err->offset = off;
    return rc;
}

static int elaborate(cinst *ci, scope *s, const wasitls__tdef *d, wasitls__ctype **out);

static int decls(cinst *ci, scope *outer, const wasitls__tdef *d, wasitls__ctype **out)
{
    int rc = 0;
    scope s;
    memset(&s, 0, sizeof(s));
    s.parent = outer;
    wasitls__vec_init(&s.types, sizeof(void *));
    wasitls__vec_init(&s.insts, sizeof(void *));
    wasitls__vec names, types, sorts;
    wasitls__vec_init(&names, sizeof(void *));
    wasitls__vec_init(&types, sizeof(void *));
    wasitls__vec_init(&sorts, 1);
    for (uint32_t i = 0; i < d->ndecls && !rc; i++) {
        const wasitls__decl *x = &d->decls[i];
        wasitls__ctype *t = NULL;
        switch (x->kind) {
        case DECL_CORE_TYPE:
            break;
        case DECL_TYPE:
            if ((rc = elaborate(ci, &s, x->type, &t))) break;
            if (!push(ci, &s.types)) {
                rc = nomem(ci);
                break;
            }
            AT(&s.types, void *, s.types.len - 1) = t;
            break;
        case DECL_ALIAS_OUTER: {
            if (x->sort != SORT_TYPE) break; /* core types are not needed */
            scope *o = &s;
            for (uint32_t k = 0; k < x->ct && o; k++)
                o = o->parent;
            if (!o || x->idx >= o->types.len) {
                rc = ierr(ci, WASITLS_E_INVALID, x->offset, "outer alias out of range");
                break;
            }
            if (!push(ci, &s.types)) {
                rc = nomem(ci);
                break;
            }
            AT(&s.types, void *, s.types.len - 1) = AT(&o->types, void *, x->idx);
            break;
        }
        case DECL_ALIAS_EXPORT: {
            if (x->idx >= s.insts.len) {
                rc = ierr(ci, WASITLS_E_INVALID, x->offset, "instance index out of range");
                break;
            }
            wasitls__ctype *it = AT(&s.insts, wasitls__ctype *, x->idx);
            wasitls__ctype *found = NULL;
            for (uint32_t k = 0; it && k < it->n; k++)
                if (strcmp(it->names[k], x->name) == 0) found = it->elems[k];
            if (!found || (x->sort == SORT_TYPE) != (found->kind != CT_INSTANCE)) {
                rc =
                    ierr(ci, WASITLS_E_INVALID, x->offset, "alias of missing export `%s`", x->name);
                break;
            }
            if (!push(ci, x->sort == SORT_TYPE ? &s.types : &s.insts)) {
                rc = nomem(ci);
                break;
            }
            if (x->sort == SORT_TYPE)
                AT(&s.types, void *, s.types.len - 1) = found;
            else
                AT(&s.insts, void *, s.insts.len - 1) = found;
            break;
        }
        case DECL_IMPORT:
        case DECL_EXPORT: {
            const wasitls__externtype *et = &x->et;
            if (et->sort == SORT_TYPE) {
                if (et->bound == 1) {
                    t = wasitls__ct_new(&ci->arena, CT_RESOURCE, 0);
                    if (!t) {
                        rc = nomem(ci);
                        break;
                    }
                    t->res->origin = RES_ABSTRACT;
                    t->res->name = x->name;
                } else {
                    if (et->idx >= s.types.len) {
                        rc = ierr(ci, WASITLS_E_INVALID, x->offset, "type index out of range");
                        break;
                    }
                    t = AT(&s.types, wasitls__ctype *, et->idx);
                }
                if (!push(ci, &s.types)) {
                    rc = nomem(ci);
                    break;
                }
                AT(&s.types, void *, s.types.len - 1) = t;
            } else if (et->sort == SORT_CORE_MODULE) {
                t = NULL;
            } else {
                if (et->idx >= s.types.len) {
                    rc = ierr(ci, WASITLS_E_INVALID, x->offset, "type index out of range");
                    break;
                }
                t = AT(&s.types, wasitls__ctype *, et->idx);
                uint8_t want = et->sort == SORT_FUNC       ? CT_FUNC
                               : et->sort == SORT_INSTANCE ? CT_INSTANCE
                                                           : CT_COMPONENT;
                if (!t || t->kind != want) {
                    rc = ierr(ci, WASITLS_E_INVALID, x->offset,
                              "`%s` declared as a %s with a %s type", x->name, sort_name(et->sort),
                              t ? wasitls__ct_kind_name(t->kind) : "core");
                    break;
                }
                if (et->sort == SORT_INSTANCE) {
                    if (!push(ci, &s.insts)) {
                        rc = nomem(ci);
                        break;
                    }
                    AT(&s.insts, void *, s.insts.len - 1) = t;
                }
            }
            if (x->kind == DECL_EXPORT) {
                for (size_t k = 0; k < names.len; k++)
                    if (strcmp(AT(&names, const char *, k), x->name) == 0) {
                        rc = ierr(ci, WASITLS_E_INVALID, x->offset, "duplicate export `%s`",
                                  x->name);
                        break;
                    }
                if (rc) break;
                void **n = push(ci, &names), **ty = push(ci, &types);
                uint8_t *so = push(ci, &sorts);
                if (!n || !ty || !so) {
                    rc = nomem(ci);
                    break;
                }
                *n = (void *)x->name;
                *ty = t;
                *so = et->sort;
            }
            break;
        }
        }
    }
    if (!rc) {
        wasitls__ctype *t = wasitls__ct_new(
            &ci->arena, d->kind == TD_INSTANCE ? CT_INSTANCE : CT_COMPONENT, (uint32_t)names.len);
        if (!t) {
            rc = nomem(ci);
        } else {
            for (uint32_t k = 0; k < t->n; k++) {
                t->names[k] = AT(&names, const char *, k);
                t->elems[k] = AT(&types, wasitls__ctype *, k);
                t->sorts[k] = AT(&sorts, uint8_t, k);
            }
            *out = t;
        }
    }
    wasitls__vec_free(&s.types);
    wasitls__vec_free(&s.insts);
    wasitls__vec_free(&names);
    wasitls__vec_free(&types);
    wasitls__vec_free(&sorts);
    return rc;
}

static int elaborate(cinst *ci, scope *s, const wasitls__tdef *d, wasitls__ctype **out)
{
    wasitls__arena *a = &ci->arena;
    wasitls__ctype *t = NULL;
    int64_t off = d->offset;
    switch (d->kind) {
    case TD_VALTYPE:
        *out = wasitls__ct_prim(d->a.prim);
        return *out ? 0 : ierr(ci, WASITLS_E_INVALID, off, "bad primitive type");
    case TD_RECORD:
    case TD_TUPLE:
    case TD_VARIANT:
    case TD_FLAGS:
    case TD_ENUM:
    case TD_FUNC: {
        uint8_t k = d->kind == TD_RECORD    ? CT_RECORD
                    : d->kind == TD_TUPLE   ? CT_TUPLE
                    : d->kind == TD_VARIANT ? CT_VARIANT
                    : d->kind == TD_FLAGS   ? CT_FLAGS
                    : d->kind == TD_ENUM    ? CT_ENUM
                                            : CT_FUNC;
        if (!(t = wasitls__ct_new(a, k, d->n))) return nomem(ci);
        for (uint32_t i = 0; i < d->n; i++) {
            t->names[i] = d->names ? d->names[i] : NULL;
            for (uint32_t j = 0; j < i && d->names && k != CT_TUPLE; j++)
                if (strcmp(d->names[i], d->names[j]) == 0)
                    return ierr(ci, WASITLS_E_INVALID, off, "duplicate name `%s`", d->names[i]);
            if (k == CT_FLAGS || k == CT_ENUM || (k == CT_VARIANT && d->vts[i].prim == 0xfe))
                continue;
            TRY(valtype(ci, s, &d->vts[i], off, &t->elems[i]));
        }
        if (k == CT_FUNC) {
            if (d->has_a) {
                TRY(valtype(ci, s, &d->a, off, &t->t));
                if (t->t->has_borrow)
                    return ierr(ci, WASITLS_E_INVALID, off, "function result contains a borrow");
            }
            t->has_result = d->has_a;
            *out = t;
            return 0;
        }
        break;
    }
    case TD_LIST:
    case TD_OPTION:
        if (!(t = wasitls__ct_new(a, d->kind == TD_LIST ? CT_LIST : CT_OPTION, 0)))
            return nomem(ci);
        TRY(valtype(ci, s, &d->a, off, &t->t));
        break;
    case TD_RESULT:
        if (!(t = wasitls__ct_new(a, CT_RESULT, 0))) return nomem(ci);
        if (d->has_a) TRY(valtype(ci, s, &d->a, off, &t->t));
        if (d->has_b) TRY(valtype(ci, s, &d->b, off, &t->e));
        break;
    case TD_OWN:
    case TD_BORROW: {
        if (d->idx >= s->types.len)
            return ierr(ci, WASITLS_E_INVALID, off, "type index %u out of range", d->idx);
        wasitls__ctype *r = AT(&s->types, wasitls__ctype *, d->idx);
        if (!r || r->kind != CT_RESOURCE)
            return ierr(ci, WASITLS_E_INVALID, off, "%s of type %u, which is not a resource",
                        d->kind == TD_OWN ? "own" : "borrow", d->idx);
        if (!(t = wasitls__ct_new(a, d->kind == TD_OWN ? CT_OWN : CT_BORROW, 0))) return nomem(ci);
        t->t = r;
        break;
    }
    case TD_RESOURCE: {
        frame *f = s->frame;
        if (!f) return ierr(ci, WASITLS_E_INVALID, off, "resource type inside a type declarator");
        if (!(t = wasitls__ct_new(a, CT_RESOURCE, 0))) return nomem(ci);
        t->res->origin = RES_GUEST;
        t->res->owner = f->ht;
        t->res->name = "resource";
        if (d->has_dtor) {
            TRY(idx_ok(ci, off, &f->core_funcs, d->dtor, "core function"));
            citem *it = &AT(&f->core_funcs, citem, d->dtor);
            static const uint8_t i32[1] = {WASITLS_I32};
            wasitls_functype want = {1, 0, i32, NULL};
            if (!ft_eq(&it->ft, &want))
                return ierr(ci, WASITLS_E_TYPE_MISMATCH, off,
                            "resource destructor must have type [i32] -> []");
            t->res->guest_dtor = it->ext;
            t->res->has_dtor = true;
        }
        *out = t;
        return 0;
    }
    case TD_INSTANCE:
    case TD_COMPONENT:
        return decls(ci, s, d, out);
    default:
        return ierr(ci, WASITLS_E_INVALID, off, "bad type definition");
    }
    TRY(finish(ci, t, off));
    *out = t;
    return 0;
}

/* ---- import resolution ---- */

static int link_error(cinst *ci, int code, int64_t off, const char *import, const char *fmt, ...)
    WASITLS_PRINTF(5, 6);
static int link_error(cinst *ci, int code, int64_t off, const char *import, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* a grant can supply what is missing, not fix a type mismatch */
    const char *hint =
        code == WASITLS_E_LINK && ci->linker ? wasitls__linker_hint_for(ci->linker, import) : NULL;
    return ierr(ci, code, off, "import `%s`: %s%s%s", import, msg, hint ? "; " : "",
                hint ? hint : "");
}

static int import_instance(cinst *ci, const char *name, const wasitls__ctype *it, int64_t off,
                           instval **out)
{
    wasitls__iface *iface =
        ci->linker ? wasitls__linker_find(ci->linker, name, strlen(name)) : NULL;
    if (!iface)
        return link_error(ci, WASITLS_E_LINK, off, name,
                          "the host does not provide this interface");
    instval *iv = wasitls__arena_alloc(&ci->arena, sizeof(*iv));
    const wasitls__ctype **from = wasitls__arena_array(&ci->arena, it->n + 1, sizeof(void *));
    const wasitls__ctype **to = wasitls__arena_array(&ci->arena, it->n + 1, sizeof(void *));
    if (!iv || !from || !to) return nomem(ci);
    iv->n = it->n;
    iv->names = (const char **)it->names;
    iv->items = wasitls__arena_array(&ci->arena, it->n + 1, sizeof(item));
    if (!iv->items) return nomem(ci);
    wasitls__subst sub = {from, to, 0};
    char why[256];
    for (uint32_t i = 0; i < it->n; i++) {
        const char *en = it->names[i];
        wasitls__ctype *et = it->elems[i];
        iv->items[i].sort = it->sorts[i];
        if (it->sorts[i] == SORT_TYPE) {
            wasitls__ctype *ht = NULL;
            for (uint32_t k = 0; k < iface->ntypes && !ht; k++)
                if (strcmp(iface->type_names[k], en) == 0) ht = iface->types[k];
            if (!ht)
                return link_error(ci, WASITLS_E_LINK, off, name,
                                  "host interface %s has no type `%s`", iface->full, en);
            if (et->kind == CT_RESOURCE && et->res->origin == RES_ABSTRACT) {
                if (ht->kind != CT_RESOURCE)
                    return link_error(
                        ci, WASITLS_E_TYPE_MISMATCH, off, name,
                        "`%s` is a resource in the guest but not in host interface %s", en,
                        iface->full);
                from[sub.n] = et;
                to[sub.n++] = ht;
            } else if (!wasitls__ct_match(et, ht, &sub, why, sizeof why)) {
                return link_error(ci, WASITLS_E_TYPE_MISMATCH, off, name,
                                  "type `%s` differs from host interface %s: %s", en, iface->full,
                                  why);
            }
            iv->items[i].p = ht;
        } else if (it->sorts[i] == SORT_FUNC) {
            wasitls__hfunc *hf = NULL;
            for (uint32_t k = 0; k < iface->nfuncs && !hf; k++)
                if (strcmp(iface->funcs[k].name, en) == 0) hf = &iface->funcs[k];
            if (!hf)
                return link_error(ci, WASITLS_E_LINK, off, name,
                                  "host interface %s has no function `%s`", iface->full, en);
            if (!hf->fn)
                return link_error(ci, WASITLS_E_LINK, off, name,
                                  "function `%s` of %s is not implemented by this host", en,
                                  iface->full);
            if (!wasitls__ct_match(et, hf->type, &sub, why, sizeof why))
                return link_error(ci, WASITLS_E_TYPE_MISMATCH, off, name,
                                  "function `%s` does not match host interface %s: %s", en,
                                  iface->full, why);
            cfunc *f = wasitls__arena_alloc(&ci->arena, sizeof(*f));
            if (!f) return nomem(ci);
            f->kind = F_HOST;
            f->type = hf->type;
            f->hf = hf;
            f->name = wasitls__arena_printf(&ci->arena, "%s#%s", iface->full, en);
            if (!f->name) return nomem(ci);
            iv->items[i].p = f;
        } else {
            return link_error(ci, WASITLS_E_LINK, off, name,
                              "imports of nested %ss are not supported", sort_name(it->sorts[i]));
        }
    }
    *out = iv;
    return 0;
}

/* ---- handles ---- */

static int trap_in(wasitls__canon *cx, const char *fmt, ...) WASITLS_PRINTF(2, 3);
static int trap_in(wasitls__canon *cx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (cx->err) wasitls_error_setv(cx->err, WASITLS_E_TRAP, fmt, ap);
    va_end(ap);
    return WASITLS_E_TRAP;
}

static const char *rname(const wasitls__ctype *rt)
{
    return rt && rt->res && rt->res->name ? rt->res->name : "resource";
}

/* guest -> host (a lowered call's arguments) and guest -> host (an export's results) */
static int lift_handle(wasitls__canon *cx, const wasitls__ctype *t, uint32_t i, wasitls_cval *out)
{
    wasitls_ccall *call = cx->res_ctx;
    cinst *ci = call->ci;
    wasitls__handle *h = wasitls__htable_get(call->ht, i);
    if (!h)
        return trap_in(cx, "invalid handle %u for %s<%s>", i, t->kind == CT_OWN ? "own" : "borrow",
                       rname(t->t));
    if (h->rt != t->t)
        return trap_in(cx, "handle %u is a %s, not a %s", i, rname(h->rt), rname(t->t));
    memset(out, 0, sizeof(*out));
    out->of.res.rep = (void *)(uintptr_t)h->rep;
    if (t->kind == CT_OWN) {
        if (!h->own)
            return trap_in(cx, "handle %u is borrowed and cannot be passed as own<%s>", i,
                           rname(t->t));
        if (h->lends) return trap_in(cx, "handle %u is still lent out and cannot be moved", i);
        out->kind = WASITLS_CV_OWN;
        const wasitls__ctype *rt = h->rt;
        uint64_t rep = h->rep;
        wasitls__htable_remove(call->ht, i);
        if (rt->res->origin == RES_GUEST && call->cx && call->cx->copy) {
            /* the host now holds a guest resource: give it a host-side handle */
            wasitls__handle hh = {.rt = rt, .rep = rep, .own = true};
            uint32_t hi = wasitls__htable_add(&ci->host_handles, &hh);
            if (!hi) return trap_in(cx, "too many resource handles");
            out->of.res.handle = hi;
        }
        return 0;
    }
    out->kind = WASITLS_CV_BORROW;
    /* a borrow is known by its rep (handle 0): host-side handles are only made for own */
    out->of.res.handle = 0;
    if (call->nlends == call->caplends) {
        size_t cap = call->caplends ? call->caplends * 2 : 8;
        uint32_t *n = wasitls__arena_array(call->arena, cap, sizeof(uint32_t));
        if (!n) return trap_in(cx, "out of memory");
        if (call->nlends) memcpy(n, call->lends, call->nlends * sizeof(uint32_t));
        call->lends = n;
        call->caplends = cap;
    }
    call->lends[call->nlends++] = i;
    h->lends++;
    return 0;
}

/* host -> guest (a lowered call's results, an export's arguments) */
static int lower_handle(wasitls__canon *cx, const wasitls__ctype *t, const wasitls_cval *v,
                        uint32_t *out)
{
    wasitls_ccall *call = cx->res_ctx;
    cinst *ci = call->ci;
    const wasitls__ctype *rt = t->t;
    uint64_t rep = (uint64_t)(uintptr_t)v->of.res.rep;
    if (rt->res->origin == RES_GUEST && t->kind == CT_BORROW && call->nested) {
        /* a borrow lifted from another component of this instance: its rep */
        rep = (uint64_t)(uintptr_t)v->of.res.rep;
        if (rt->res->owner == call->ht) {
            *out = (uint32_t)rep;
            return 0;
        }
    } else if (rt->res->origin == RES_GUEST) {
        /* the host refers to a guest resource by its host-side handle */
        wasitls__handle *hh = wasitls__htable_get(&ci->host_handles, v->of.res.handle);
        if (!hh || hh->rt != rt) {
            /* the host's mistake: an error for it, not a trap of the guest */
            if (cx->err)
                wasitls_error_set(cx->err, WASITLS_E_INVAL,
                                  "host passed an invalid handle %u for %s", v->of.res.handle,
                                  rname(rt));
            return WASITLS_E_INVAL;
        }
        rep = hh->rep;
        if (t->kind == CT_OWN) {
            wasitls__htable_remove(&ci->host_handles, v->of.res.handle);
        } else if (rt->res->owner == call->ht) {
            *out = (uint32_t)rep; /* a borrow of the callee's own resource is its rep */
            return 0;
        }
    } else if (rt->res->origin == RES_HOST && !v->of.res.rep) {
        if (cx->err)
            wasitls_error_set(cx->err, WASITLS_E_INVAL, "host passed a null %s", rname(rt));
        return WASITLS_E_INVAL;
    }
    wasitls__handle h = {.rt = rt, .rep = rep, .own = t->kind == CT_OWN};
    if (t->kind == CT_BORROW) {
        if (!ci->task) return trap_in(cx, "borrow<%s> outside of a call", rname(rt));
        h.scope = ci->task;
        ci->task->num_borrows++;
    }
    *out = wasitls__htable_add(call->ht, &h);
    if (!*out) return trap_in(cx, "too many resource handles");
    return 0;
}

static void release_lends(wasitls_ccall *call)
{
    for (size_t i = 0; i < call->nlends; i++) {
        wasitls__handle *h = wasitls__htable_get(call->ht, call->lends[i]);
        if (h && h->lends) h->lends--;
    }
    call->nlends = 0;
}

/* ---- canon contexts ---- */

static int guest_realloc(wasitls__canon *cx, uint32_t old, uint32_t oldsz, uint32_t align,
                         uint32_t newsz, uint32_t *out)
{
    const ropts *o = cx->realloc_ctx;
    wasitls_val args[4] = {
        {.kind = WASITLS_I32}, {.kind = WASITLS_I32}, {.kind = WASITLS_I32}, {.kind = WASITLS_I32}};
    args[0].of.i32 = old;
    args[1].of.i32 = oldsz;
    args[2].of.i32 = align;
    args[3].of.i32 = newsz;
    wasitls_val r = {0};
    wasitls_error e;
    wasitls_error_clear(&e);
    int rc = wasitls_extern_call(&o->realloc.ext, args, 4, &r, 1, &e);
    if (rc) {
        if (cx->err)
            wasitls_error_set(cx->err, rc, "in realloc: %s",
                              e.msg[0] ? e.msg : wasitls_strerror(rc));
        return rc;
    }
    *out = r.of.i32;
    return 0;
}

static void canon_init(wasitls__canon *cx, wasitls_ccall *call, const ropts *o, wasitls__arena *a,
                       bool copy, wasitls_error *err)
{
    memset(cx, 0, sizeof(*cx));
    cx->enc = o->enc;
    cx->mem = o->mem;
    cx->realloc = o->has_realloc ? guest_realloc : NULL;
    cx->realloc_ctx = (void *)o;
    cx->arena = a;
    cx->copy = copy;
    cx->lift_handle = lift_handle;
    cx->lower_handle = lower_handle;
    cx->res_ctx = call;
    cx->gb_host = call->gbh;
    cx->gb_guest = call->gbg;
    cx->gb_len = call->gbl;
    cx->err = err;
    call->cx = cx;
    wasitls__canon_refresh(cx);
}

/* ---- calls ---- */

static int call_lifted(cinst *ci, cfunc *f, const wasitls_cval *args, size_t nargs,
                       wasitls_cval *result, bool *has_result, wasitls__arena *results, bool nested,
                       wasitls_error *err);

/* Not a memset: the struct carries a 512-byte message buffer and this is the hot path. */
static void ccall_init(wasitls_ccall *call, cinst *ci)
{
    call->ci = ci;
    wasitls__arena_init(&call->own_arena);
    call->own_arena.limit = WASITLS__MAX_CALL_MEMORY;
    call->arena = &call->own_arena;
    call->cx = NULL;
    wasitls_error_clear(&call->err);
    call->lends = NULL;
    call->nlends = call->caplends = 0;
    call->nested = false;
    call->ht = &ci->handles;
}

/* The host side of a `canon lower`: lift the guest's arguments, call, lower the result. */
static int lowered_tramp(wasitls_caller *caller, void *env, const wasitls_val *args,
                         wasitls_val *results)
{
    lowered *lw = env;
    cinst *ci = lw->ci;
    cfunc *f = lw->f;
    const wasitls__ctype *ft = f->type;
    wasitls_ccall call;
    ccall_init(&call, ci);
    call.ht = lw->ht;
    wasitls__arena *arena = &call.own_arena;
    if (ci->depth < sizeof ci->pool / sizeof ci->pool[0]) arena = &ci->pool[ci->depth];
    ci->depth++;
    call.arena = arena;
    wasitls__canon cx;
    canon_init(&cx, &call, &lw->opts, arena, f->kind == F_LIFTED, &call.err);
    int rc;
    wasitls_cval *argv = wasitls__arena_array(arena, ft->n + 1, sizeof(wasitls_cval));
    wasitls_cval res;
    memset(&res, 0, sizeof(res));
    if (!argv) {
        rc = wasitls_error_set(&call.err, WASITLS_E_NOMEM, "out of memory");
        goto Exit;
    }
    if ((rc = wasitls__lift_flat_values(&cx, ft->elems, ft->n, WASITLS__MAX_FLAT_PARAMS, args,
                                        lw->nparams, argv)))
        goto Exit;
    if (f->kind == F_HOST) {
        rc = f->hf->fn(&call, f->hf->env, argv, ft->n, ft->t ? &res : NULL);
        if (rc && !call.err.code) wasitls_error_set(&call.err, rc, "%s", wasitls_strerror(rc));
    } else {
        bool has;
        /* one component calling another inside this instance (a fused adapter) */
        rc = call_lifted(ci, f, argv, ft->n, &res, &has, arena, true, &call.err);
    }
    release_lends(&call);
    if (rc) goto Exit;
    if (ft->t) {
        size_t n;
        wasitls__canon_refresh(&cx);
        cx.copy = false;
        if (ft->t->nflat > WASITLS__MAX_FLAT_RESULTS) {
            uint32_t retptr = args[lw->nparams - 1].of.i32;
            rc = wasitls__lower_flat_values(&cx, (wasitls__ctype *const *)&ft->t, 1,
                                            WASITLS__MAX_FLAT_RESULTS, &res, results, &n, &retptr);
        } else {
            rc = wasitls__lower_flat_values(&cx, (wasitls__ctype *const *)&ft->t, 1,
                                            WASITLS__MAX_FLAT_RESULTS, &res, results, &n, NULL);
        }
    }
Exit:
    ci->depth--;
    if (arena != &call.own_arena)
        wasitls__arena_rewind(arena);
    else
        wasitls__arena_free(arena);
    if (rc) {
        if (rc == WASITLS_E_EXIT)
            return wasitls_caller_trap(caller, "%s", call.err.msg[0] ? call.err.msg : "exit"), rc;
        return wasitls_caller_trap(caller, "%s: %s", f->name ? f->name : "host call",
                                   call.err.msg[0] ? call.err.msg : wasitls_strerror(rc));
    }
    return 0;
}

static int res_drop(wasitls__htable *ht, const wasitls__ctype *rt, uint32_t i, wasitls_error *err)
{
    wasitls__handle *h = wasitls__htable_get(ht, i);
    if (!h || h->rt != rt)
        return wasitls_error_set(err, WASITLS_E_TRAP, "resource.drop: %u is not a %s handle", i,
                                 rname(rt));
    if (!h->own) {
        if (h->scope && h->scope->num_borrows) h->scope->num_borrows--;
        wasitls__htable_remove(ht, i);
        return 0;
    }
    if (h->lends)
        return wasitls_error_set(err, WASITLS_E_TRAP,
                                 "resource.drop: %s handle %u is still lent out", rname(rt), i);
    uint64_t rep = h->rep;
    if (rt->res->origin == RES_HOST) {
        if (rt->res->host_dtor) {
            wasitls_error e;
            wasitls_error_clear(&e);
            int rc = rt->res->host_dtor(rt->res->host_env, (void *)(uintptr_t)rep, &e);
            if (rc) /* refused: the handle stays, so that teardown can free it later */
                return wasitls_error_set(err, WASITLS_E_TRAP, "dropping %s: %s", rname(rt),
                                         e.msg[0] ? e.msg : wasitls_strerror(rc));
        }
        wasitls__htable_remove(ht, i);
        return 0;
    }
    wasitls__htable_remove(ht, i);
    if (rt->res->has_dtor) {
        wasitls_val a = {.kind = WASITLS_I32};
        a.of.i32 = (uint32_t)rep;
        return wasitls_extern_call(&rt->res->guest_dtor, &a, 1, NULL, 0, err);
    }
    return 0;
}

static int resnew_tramp(wasitls_caller *caller, void *env, const wasitls_val *args,
                        wasitls_val *results)
{
    resfn *r = env;
    wasitls__handle h = {.rt = r->rt, .rep = args[0].of.i32, .own = true};
    uint32_t i = wasitls__htable_add(r->ht, &h);
    if (!i) return wasitls_caller_trap(caller, "resource.new: too many handles");
    results[0].kind = WASITLS_I32;
    results[0].of.i32 = i;
    return 0;
}

static int resrep_tramp(wasitls_caller *caller, void *env, const wasitls_val *args,
                        wasitls_val *results)
{
    resfn *r = env;
    wasitls__handle *h = wasitls__htable_get(r->ht, args[0].of.i32);
    if (!h || h->rt != r->rt)
        return wasitls_caller_trap(caller, "resource.rep: %u is not a %s handle", args[0].of.i32,
                                   rname(r->rt));
    results[0].kind = WASITLS_I32;
    results[0].of.i32 = (uint32_t)h->rep;
    return 0;
}

static int resdrop_tramp(wasitls_caller *caller, void *env, const wasitls_val *args,
                         wasitls_val *results)
{
    resfn *r = env;
    wasitls_error e;
    wasitls_error_clear(&e);
    int rc = res_drop(r->ht, r->rt, args[0].of.i32, &e);
    if (rc) return wasitls_caller_trap(caller, "%s", e.msg[0] ? e.msg : wasitls_strerror(rc));
    return 0;
}

/* ---- instantiation ---- */

static int get_opts(cinst *ci, frame *f, const wasitls__copts *o, int64_t off, ropts *out)
{
    memset(out, 0, sizeof(*out));
    out->enc = o->enc;
    if (o->has_memory) {
        TRY(idx_ok(ci, off, &f->core_mems, o->memory, "core memory"));
        out->mem = AT(&f->core_mems, citem, o->memory).ext.of.memory;
    }
    if (o->has_realloc) {
        TRY(idx_ok(ci, off, &f->core_funcs, o->realloc, "core function"));
        out->realloc = AT(&f->core_funcs, citem, o->realloc);
        static const uint8_t p[4] = {WASITLS_I32, WASITLS_I32, WASITLS_I32, WASITLS_I32};
        wasitls_functype want = {4, 1, p, p};
        if (!ft_eq(&out->realloc.ft, &want))
            return ierr(ci, WASITLS_E_TYPE_MISMATCH, off,
                        "realloc must have type [i32 i32 i32 i32] -> [i32]");
        if (out->realloc.ext.of.func.host)
            return ierr(ci, WASITLS_E_UNSUPPORTED, off, "realloc must be a core wasm function");
        out->has_realloc = true;
    }
    if (o->has_post) {
        TRY(idx_ok(ci, off, &f->core_funcs, o->post, "core function"));
        out->post = AT(&f->core_funcs, citem, o->post);
        if (out->post.ext.of.func.host)
            return ierr(ci, WASITLS_E_UNSUPPORTED, off, "post-return must be a core wasm function");
        out->has_post = true;
    }
    return 0;
}

static int core_export(cinst *ci, coreinst *c, const char *name, citem *out)
{
    if (c->inst) {
        memset(out, 0, sizeof(*out));
        if (wasitls_instance_export_extern(c->inst, name, &out->ext)) return WASITLS_E_NOTFOUND;
        if (out->ext.kind == WASITLS_EXTERN_FUNC) {
            const wasitls_functype *ft = wasitls_extern_functype(&out->ext);
            if (!ft) return WASITLS_E_INTERNAL;
            out->ft = *ft;
        }
        return 0;
    }
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->names[i], name) == 0) {
            *out = c->items[i];
            return 0;
        }
    return WASITLS_E_NOTFOUND;
}

static int instantiate_frame(cinst *ci, frame *f);

static int count_instance(cinst *ci, int64_t off)
{
    if (++ci->ninstances > WASITLS__MAX_INSTANCES)
        return ierr(ci, WASITLS_E_LIMIT, off, "more than %u instances in one component instance",
                    WASITLS__MAX_INSTANCES);
    return 0;
}

static int def_core_instantiate(cinst *ci, frame *f, const wasitls__def *d)
{
    TRY(count_instance(ci, d->offset));
    TRY(idx_ok(ci, d->offset, &f->core_modules, d->idx, "core module"));
    wasitls_module *m = AT(&f->core_modules, wasitls_module *, d->idx);
    size_t n = wasitls_module_import_count(m);
    wasitls_extern *ex = calloc(n ? n : 1, sizeof(*ex));
    if (!ex) return nomem(ci);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const wasitls_importdesc *im = wasitls_module_import(m, i);
        coreinst *src = NULL;
        for (uint32_t k = 0; k < d->n; k++)
            if (strcmp(d->args[k].name, im->module) == 0) {
                if (d->args[k].idx >= f->core_insts.len) {
                    rc = ierr(ci, WASITLS_E_INVALID, d->offset, "core instance index out of range");
                    break;
                }
                src = AT(&f->core_insts, coreinst *, d->args[k].idx);
            }
        if (rc) break;
        if (!src) {
            rc = ierr(ci, WASITLS_E_LINK, d->offset,
                      "core module %u import `%s` `%s`: no instance named `%s` is passed", d->idx,
                      im->module, im->name, im->module);
            break;
        }
        citem it;
        if (core_export(ci, src, im->name, &it)) {
            rc = ierr(ci, WASITLS_E_LINK, d->offset,
                      "core module %u import `%s` `%s`: not exported by the instance passed",
                      d->idx, im->module, im->name);
            break;
        }
        if ((int)it.ext.kind != (int)im->type.kind) {
            rc = ierr(ci, WASITLS_E_TYPE_MISMATCH, d->offset,
                      "core module %u import `%s` `%s`: a %s is expected, a %s is given", d->idx,
                      im->module, im->name, core_sort_name((uint8_t)im->type.kind),
                      core_sort_name((uint8_t)it.ext.kind));
            break;
        }
        if (im->type.kind == WASITLS_EXTERN_FUNC && !ft_eq(&it.ft, &im->type.func)) {
            char a[128], b[128];
            ft_str(&im->type.func, a, sizeof a);
            ft_str(&it.ft, b, sizeof b);
            rc = ierr(ci, WASITLS_E_TYPE_MISMATCH, d->offset,
                      "core module %u import `%s` `%s`: function type %s expected, %s given",
                      d->idx, im->module, im->name, a, b);
            break;
        }
        ex[i] = it.ext;
    }
    coreinst *c = NULL;
    wasitls_instance *inst = NULL;
    if (!rc) rc = wasitls_instance_new(m, ex, n, ci->host_data, &inst, ci->err);
    free(ex);
    if (rc) {
        if (ci->err && ci->err->offset < 0) ci->err->offset = d->offset;
        return rc;
    }
    wasitls_instance **slot = push(ci, &ci->cores);
    if (!slot) {
        wasitls_instance_free(inst);
        return nomem(ci);
    }
    *slot = inst;
    c = wasitls__arena_alloc(&ci->arena, sizeof(*c));
    if (!c) return nomem(ci);
    c->inst = inst;
    PUSHP(ci, &f->core_insts, c);
    return 0;
}

static int def_core_exports(cinst *ci, frame *f, const wasitls__def *d)
{
    coreinst *c = wasitls__arena_alloc(&ci->arena, sizeof(*c));
    if (!c) return nomem(ci);
    c->n = d->n;
    c->names = wasitls__arena_array(&ci->arena, d->n + 1, sizeof(char *));
    c->items = wasitls__arena_array(&ci->arena, d->n + 1, sizeof(citem));
    if (!c->names || !c->items) return nomem(ci);
    for (uint32_t i = 0; i < d->n; i++) {
        wasitls__vec *v = core_vec(f, d->args[i].sort & 0x7f);
        if (!v) return ierr(ci, WASITLS_E_INVALID, d->offset, "bad core export sort");
        TRY(idx_ok(ci, d->offset, v, d->args[i].idx, core_sort_name(d->args[i].sort)));
        c->names[i] = d->args[i].name;
        c->items[i] = AT(v, citem, d->args[i].idx);
    }
    PUSHP(ci, &f->core_insts, c);
    return 0;
}

static int get_item(cinst *ci, frame *f, uint8_t sort, uint32_t idx, int64_t off, item *out)
{
    out->sort = sort == (0x80 | 0x11) ? SORT_CORE_MODULE : sort;
    wasitls__vec *v;
    switch (out->sort) {
    case SORT_FUNC:
        v = &f->funcs;
        break;
    case SORT_TYPE:
        v = &f->s.types;
        break;
    case SORT_INSTANCE:
        v = &f->insts;
        break;
    case SORT_COMPONENT:
        v = &f->comps;
        break;
    case SORT_CORE_MODULE:
        v = &f->core_modules;
        break;
    default:
        return ierr(ci, WASITLS_E_UNSUPPORTED, off, "%s items cannot be passed between components",
                    sort_name(sort));
    }
    TRY(idx_ok(ci, off, v, idx, sort_name(sort)));
    out->p = AT(v, void *, idx);
    return 0;
}

static int put_item(cinst *ci, frame *f, const item *it)
{
    switch (it->sort) {
    case SORT_FUNC:
        PUSHP(ci, &f->funcs, it->p);
        break;
    case SORT_TYPE:
        PUSHP(ci, &f->s.types, it->p);
        break;
    case SORT_INSTANCE:
        PUSHP(ci, &f->insts, it->p);
        break;
    case SORT_COMPONENT:
        PUSHP(ci, &f->comps, it->p);
        break;
    case SORT_CORE_MODULE:
        PUSHP(ci, &f->core_modules, it->p);
        break;
    default:
        return ierr(ci, WASITLS_E_INTERNAL, -1, "bad item sort");
    }
    return 0;
}

static int def_instantiate(cinst *ci, frame *f, const wasitls__def *d)
{
    TRY(count_instance(ci, d->offset));
    TRY(idx_ok(ci, d->offset, &f->comps, d->idx, "component"));
    compval *cv = AT(&f->comps, compval *, d->idx);
    instval *args = wasitls__arena_alloc(&ci->arena, sizeof(*args));
    if (!args) return nomem(ci);
    args->n = d->n;
    args->names = wasitls__arena_array(&ci->arena, d->n + 1, sizeof(char *));
    args->items = wasitls__arena_array(&ci->arena, d->n + 1, sizeof(item));
    if (!args->names || !args->items) return nomem(ci);
    for (uint32_t i = 0; i < d->n; i++) {
        args->names[i] = d->args[i].name;
        TRY(get_item(ci, f, d->args[i].sort, d->args[i].idx, d->offset, &args->items[i]));
    }
    /* each component instance has its own handle table */
    wasitls__htable *ht = calloc(1, sizeof(*ht));
    wasitls__htable **slot = ht ? push(ci, &ci->tables) : NULL;
    if (!slot) {
        free(ht);
        return nomem(ci);
    }
    wasitls__htable_init(ht);
    *slot = ht;
    frame *child = malloc(sizeof(*child));
    if (!child) return nomem(ci);
    frame_init(child, cv->def, cv->outer, args, ht);
    int rc = instantiate_frame(ci, child);
    instval *iv = NULL;
    if (!rc) {
        iv = wasitls__arena_alloc(&ci->arena, sizeof(*iv));
        size_t n = child->exp_names.len;
        if (iv) {
            iv->n = (uint32_t)n;
            iv->names = wasitls__arena_array(&ci->arena, n + 1, sizeof(char *));
            iv->items = wasitls__arena_array(&ci->arena, n + 1, sizeof(item));
        }
        if (!iv || !iv->names || !iv->items) {
            rc = nomem(ci);
        } else {
            for (size_t i = 0; i < n; i++) {
                iv->names[i] = AT(&child->exp_names, const char *, i);
                iv->items[i] = AT(&child->exp_items, item, i);
            }
        }
    }
    frame_free(child);
    free(child);
    if (rc) return rc;
    PUSHP(ci, &f->insts, iv);
    return 0;
}

static int def_import(cinst *ci, frame *f, const wasitls__def *d)
{
    const wasitls__externtype *et = &d->et;
    if (f->args) { /* a nested component: from the instantiate arguments */
        item *found = NULL;
        for (uint32_t i = 0; i < f->args->n; i++)
            if (strcmp(f->args->names[i], d->name) == 0) found = &f->args->items[i];
        if (!found)
            return ierr(ci, WASITLS_E_LINK, d->offset,
                        "nested component import `%s` is not supplied", d->name);
        if (found->sort != et->sort)
            return ierr(ci, WASITLS_E_TYPE_MISMATCH, d->offset,
                        "nested component import `%s`: a %s is expected, a %s is given", d->name,
                        sort_name(et->sort), sort_name(found->sort));
        if (et->sort == SORT_FUNC) {
            TRY(idx_ok(ci, d->offset, &f->s.types, et->idx, "type"));
            wasitls__ctype *want = AT(&f->s.types, wasitls__ctype *, et->idx);
            cfunc *fn = found->p;
            char why[200];
            if (!want || want->kind != CT_FUNC ||
                !wasitls__ct_match(fn->type, want, NULL, why, sizeof why))
                return ierr(ci, WASITLS_E_TYPE_MISMATCH, d->offset,
                            "nested component import `%s`: %s", d->name,
                            want && want->kind == CT_FUNC ? why : "not a function type");
        }
        return put_item(ci, f, found);
    }
    switch (et->sort) {
    case SORT_INSTANCE: {
        TRY(idx_ok(ci, d->offset, &f->s.types, et->idx, "type"));
        wasitls__ctype *it = AT(&f->s.types, wasitls__ctype *, et->idx);
        if (!it || it->kind != CT_INSTANCE)
            return ierr(ci, WASITLS_E_INVALID, d->offset, "import `%s`: not an instance type",
                        d->name);
        instval *iv = NULL;
        TRY(import_instance(ci, d->name, it, d->offset, &iv));
        PUSHP(ci, &f->insts, iv);
        return 0;
    }
    case SORT_FUNC:
        return link_error(ci, WASITLS_E_LINK, d->offset, d->name,
                          "top-level function imports are not provided by this host");
    case SORT_TYPE:
        return link_error(ci, WASITLS_E_LINK, d->offset, d->name,
                          "top-level type imports are not provided by this host");
    default:
        return link_error(ci, WASITLS_E_UNSUPPORTED, d->offset, d->name,
                          "imports of %ss are not supported", sort_name(et->sort));
    }
}

/* Values of this type live (partly) in linear memory: strings and lists. */
static bool has_ptr(const wasitls__ctype *t)
{
    if (!t) return false;
    switch (t->kind) {
    case CT_STRING:
    case CT_LIST:
        return true;
    case CT_OPTION:
        return has_ptr(t->t);
    case CT_RESULT:
        return has_ptr(t->t) || has_ptr(t->e);
    case CT_RECORD:
    case CT_TUPLE:
    case CT_VARIANT:
        for (uint32_t i = 0; i < t->n; i++)
            if (has_ptr(t->elems[i])) return true;
        return false;
    default:
        return false;
    }
}

/* CanonicalABI.md: the memory and realloc options are required when the function's values
 * need them; checking here turns a later trap into a load-time error. */
static int check_opts(cinst *ci, const wasitls__ctype *ft, const ropts *o, bool lower, int64_t off)
{
    bool params_ptr = false, big = false;
    uint64_t nflat = 0;
    for (uint32_t i = 0; i < ft->n; i++) {
        params_ptr |= has_ptr(ft->elems[i]);
        nflat += ft->elems[i]->nflat;
    }
    big = nflat > WASITLS__MAX_FLAT_PARAMS || (ft->t && ft->t->nflat > WASITLS__MAX_FLAT_RESULTS);
    bool result_ptr = has_ptr(ft->t);
    bool need_mem = params_ptr || result_ptr || big;
    bool need_realloc = lower ? result_ptr : (params_ptr || nflat > WASITLS__MAX_FLAT_PARAMS);
    if (need_mem && !o->mem)
        return ierr(ci, WASITLS_E_INVALID, off,
                    "canon %s: this function type needs a memory option", lower ? "lower" : "lift");
    if (need_realloc && !o->has_realloc)
        return ierr(ci, WASITLS_E_INVALID, off,
                    "canon %s: this function type needs a realloc option",
                    lower ? "lower" : "lift");
    return 0;
}

static int def_canon_lift(cinst *ci, frame *f, const wasitls__def *d)
{
    TRY(idx_ok(ci, d->offset, &f->core_funcs, d->idx, "core function"));
    TRY(idx_ok(ci, d->offset, &f->s.types, d->type_idx, "type"));
    wasitls__ctype *ft = AT(&f->s.types, wasitls__ctype *, d->type_idx);
    if (!ft || ft->kind != CT_FUNC)
        return ierr(ci, WASITLS_E_INVALID, d->offset, "canon lift: type %u is not a function type",
                    d->type_idx);
    cfunc *fn = wasitls__arena_alloc(&ci->arena, sizeof(*fn));
    if (!fn) return nomem(ci);
    fn->kind = F_LIFTED;
    fn->ht = f->ht;
    fn->type = ft;
    fn->core = AT(&f->core_funcs, citem, d->idx);
    fn->name = "exported function";
    TRY(get_opts(ci, f, &d->opts, d->offset, &fn->opts));
    TRY(check_opts(ci, ft, &fn->opts, false, d->offset));
    if (fn->core.ext.of.func.host)
        return ierr(ci, WASITLS_E_UNSUPPORTED, d->offset,
                    "canon lift of a lowered function is not supported");
    uint8_t p[WASITLS__MAX_FLAT_PARAMS + 1], r[2];
    uint32_t np, nr;
    wasitls__ct_core_sig(ft, false, p, &np, r, &nr);
    wasitls_functype want = {np, nr, p, r};
    if (!ft_eq(&fn->core.ft, &want)) {
        char a[128], b[128];
        ft_str(&want, a, sizeof a);
        ft_str(&fn->core.ft, b, sizeof b);
        return ierr(ci, WASITLS_E_TYPE_MISMATCH, d->offset,
                    "canon lift: core function type %s does not match the lifted type (%s)", b, a);
    }
    if (fn->opts.has_post) {
        wasitls_functype pw = {nr, 0, r, NULL};
        if (!ft_eq(&fn->opts.post.ft, &pw))
            return ierr(ci, WASITLS_E_TYPE_MISMATCH, d->offset,
                        "canon lift: post-return has the wrong type");
    }
    PUSHP(ci, &f->funcs, fn);
    return 0;
}

static int def_canon_lower(cinst *ci, frame *f, const wasitls__def *d)
{
    TRY(idx_ok(ci, d->offset, &f->funcs, d->idx, "function"));
    cfunc *fn = AT(&f->funcs, cfunc *, d->idx);
    lowered *lw = wasitls__arena_alloc(&ci->arena, sizeof(*lw));
    if (!lw) return nomem(ci);
    lw->ci = ci;
    lw->f = fn;
    lw->ht = f->ht;
    TRY(get_opts(ci, f, &d->opts, d->offset, &lw->opts));
    TRY(check_opts(ci, fn->type, &lw->opts, true, d->offset));
    uint8_t r[2];
    uint32_t nr;
    wasitls__ct_core_sig(fn->type, true, lw->params, &lw->nparams, r, &nr);
    citem *it = push(ci, &f->core_funcs);
    if (!it) return nomem(ci);
    it->ext.kind = WASITLS_EXTERN_FUNC;
    it->ext.of.func.host = lowered_tramp;
    it->ext.of.func.env = lw;
    return mkft(ci, &it->ft, lw->params, lw->nparams, r, nr);
}

static int def_canon_res(cinst *ci, frame *f, const wasitls__def *d)
{
    TRY(idx_ok(ci, d->offset, &f->s.types, d->idx, "type"));
    wasitls__ctype *rt = AT(&f->s.types, wasitls__ctype *, d->idx);
    if (!rt || rt->kind != CT_RESOURCE)
        return ierr(ci, WASITLS_E_INVALID, d->offset,
                    "canon resource built-in of type %u, which is not a resource", d->idx);
    if (d->kind != DEF_CANON_RESOURCE_DROP &&
        (rt->res->origin != RES_GUEST || rt->res->owner != f->ht))
        return ierr(ci, WASITLS_E_INVALID, d->offset,
                    "resource.new/rep of a resource type not defined by this component");
    resfn *r = wasitls__arena_alloc(&ci->arena, sizeof(*r));
    if (!r) return nomem(ci);
    r->ci = ci;
    r->rt = rt;
    r->ht = f->ht;
    citem *it = push(ci, &f->core_funcs);
    if (!it) return nomem(ci);
    it->ext.kind = WASITLS_EXTERN_FUNC;
    it->ext.of.func.env = r;
    static const uint8_t i32[2] = {WASITLS_I32, WASITLS_I32};
    switch (d->kind) {
    case DEF_CANON_RESOURCE_NEW:
        it->ext.of.func.host = resnew_tramp;
        return mkft(ci, &it->ft, i32, 1, i32, 1);
    case DEF_CANON_RESOURCE_REP:
        it->ext.of.func.host = resrep_tramp;
        return mkft(ci, &it->ft, i32, 1, i32, 1);
    default:
        it->ext.of.func.host = resdrop_tramp;
        return mkft(ci, &it->ft, i32, 1, NULL, 0);
    }
}

static int instantiate_frame(cinst *ci, frame *f)
{
    wasitls__component *c = f->def;
    for (uint32_t i = 0; i < c->ndefs; i++) {
        const wasitls__def *d = &c->defs[i];
        switch (d->kind) {
        case DEF_CORE_MODULE: {
            if (d->idx >= c->modules.len)
                return ierr(ci, WASITLS_E_INTERNAL, d->offset, "core module not compiled");
            PUSHP(ci, &f->core_modules, AT(&c->modules, wasitls_module *, d->idx));
            break;
        }
        case DEF_CORE_INSTANTIATE:
            TRY(def_core_instantiate(ci, f, d));
            break;
        case DEF_CORE_INSTANCE_EXPORTS:
            TRY(def_core_exports(ci, f, d));
            break;
        case DEF_CORE_TYPE:
            PUSHP(ci, &f->core_types, NULL);
            break;
        case DEF_COMPONENT: {
            compval *cv = wasitls__arena_alloc(&ci->arena, sizeof(*cv));
            if (!cv) return nomem(ci);
            cv->def = AT(&c->comps, wasitls__component *, d->idx);
            cv->outer = f;
            PUSHP(ci, &f->comps, cv);
            break;
        }
        case DEF_INSTANTIATE:
            TRY(def_instantiate(ci, f, d));
            break;
        case DEF_INSTANCE_EXPORTS: {
            instval *iv = wasitls__arena_alloc(&ci->arena, sizeof(*iv));
            if (!iv) return nomem(ci);
            iv->n = d->n;
            iv->names = wasitls__arena_array(&ci->arena, d->n + 1, sizeof(char *));
            iv->items = wasitls__arena_array(&ci->arena, d->n + 1, sizeof(item));
            if (!iv->names || !iv->items) return nomem(ci);
            for (uint32_t k = 0; k < d->n; k++) {
                iv->names[k] = d->args[k].name;
                TRY(get_item(ci, f, d->args[k].sort, d->args[k].idx, d->offset, &iv->items[k]));
            }
            PUSHP(ci, &f->insts, iv);
            break;
        }
        case DEF_ALIAS_EXPORT: {
            TRY(idx_ok(ci, d->offset, &f->insts, d->idx, "instance"));
            instval *iv = AT(&f->insts, instval *, d->idx);
            item *found = NULL;
            for (uint32_t k = 0; k < iv->n; k++)
                if (strcmp(iv->names[k], d->name) == 0) found = &iv->items[k];
            uint8_t want = d->sort == (0x80 | 0x11) ? SORT_CORE_MODULE : d->sort;
            if (!found)
                return ierr(ci, WASITLS_E_INVALID, d->offset,
                            "alias: instance %u has no export `%s`", d->idx, d->name);
            if (found->sort != want)
                return ierr(ci, WASITLS_E_INVALID, d->offset,
                            "alias: export `%s` is a %s, not a %s", d->name, sort_name(found->sort),
                            sort_name(want));
            TRY(put_item(ci, f, found));
            break;
        }
        case DEF_ALIAS_CORE_EXPORT: {
            TRY(idx_ok(ci, d->offset, &f->core_insts, d->idx, "core instance"));
            coreinst *src = AT(&f->core_insts, coreinst *, d->idx);
            wasitls__vec *v = core_vec(f, d->sort & 0x7f);
            if (!v)
                return ierr(ci, WASITLS_E_UNSUPPORTED, d->offset, "core export alias of a %s",
                            core_sort_name(d->sort));
            citem it;
            if (core_export(ci, src, d->name, &it))
                return ierr(ci, WASITLS_E_INVALID, d->offset,
                            "alias: core instance %u has no export `%s`", d->idx, d->name);
            if ((int)it.ext.kind != (d->sort & 0x7f))
                return ierr(ci, WASITLS_E_INVALID, d->offset, "alias: core export `%s` is not a %s",
                            d->name, core_sort_name(d->sort));
            citem *slot = push(ci, v);
            if (!slot) return nomem(ci);
            *slot = it;
            break;
        }
        case DEF_ALIAS_OUTER: {
            frame *o = f;
            for (uint32_t k = 0; k < d->ct && o; k++)
                o = o->parent;
            if (!o)
                return ierr(ci, WASITLS_E_INVALID, d->offset,
                            "outer alias beyond the outermost component");
            if (d->sort == (0x80 | 0x10)) {
                PUSHP(ci, &f->core_types, NULL);
                break;
            }
            item it;
            TRY(get_item(ci, o, d->sort, d->idx, d->offset, &it));
            if (it.sort == SORT_TYPE && d->ct > 0) {
                wasitls__ctype *t = it.p;
                if (t && t->kind == CT_RESOURCE && t->res->origin == RES_GUEST)
                    return ierr(ci, WASITLS_E_INVALID, d->offset,
                                "outer alias of a resource type across a component boundary");
            }
            TRY(put_item(ci, f, &it));
            break;
        }
        case DEF_TYPE: {
            wasitls__ctype *t;
            TRY(elaborate(ci, &f->s, d->type, &t));
            PUSHP(ci, &f->s.types, t);
            break;
        }
        case DEF_CANON_LIFT:
            TRY(def_canon_lift(ci, f, d));
            break;
        case DEF_CANON_LOWER:
            TRY(def_canon_lower(ci, f, d));
            break;
        case DEF_CANON_RESOURCE_NEW:
        case DEF_CANON_RESOURCE_DROP:
        case DEF_CANON_RESOURCE_REP:
            TRY(def_canon_res(ci, f, d));
            break;
        case DEF_IMPORT:
            TRY(def_import(ci, f, d));
            break;
        case DEF_EXPORT: {
            item it;
            TRY(get_item(ci, f, d->target.sort, d->target.idx, d->offset, &it));
            for (size_t k = 0; k < f->exp_names.len; k++)
                if (strcmp(AT(&f->exp_names, const char *, k), d->name) == 0)
                    return ierr(ci, WASITLS_E_INVALID, d->offset, "duplicate export `%s`", d->name);
            if (it.sort == SORT_FUNC && d->has_et) {
                TRY(idx_ok(ci, d->offset, &f->s.types, d->et.idx, "type"));
                wasitls__ctype *want = AT(&f->s.types, wasitls__ctype *, d->et.idx);
                char why[200];
                if (!want || want->kind != CT_FUNC ||
                    !wasitls__ct_match(((cfunc *)it.p)->type, want, NULL, why, sizeof why))
                    return ierr(ci, WASITLS_E_TYPE_MISMATCH, d->offset,
                                "export `%s` does not match its ascribed type", d->name);
            }
            if (it.sort == SORT_TYPE) { /* name a component's resource after its export */
                wasitls__ctype *t = it.p;
                if (t->kind == CT_RESOURCE && t->res->origin == RES_GUEST &&
                    !strcmp(t->res->name, "resource"))
                    t->res->name = d->name;
            }
            if (it.sort == SORT_FUNC) {
                cfunc *fn = it.p;
                if (fn->kind == F_LIFTED && !strcmp(fn->name, "exported function")) {
                    char *nm = wasitls__arena_strndup(&ci->arena, d->name, strlen(d->name));
                    if (!nm) return nomem(ci);
                    fn->name = nm;
                }
            }
            void **n = push(ci, &f->exp_names);
            item *e = push(ci, &f->exp_items);
            if (!n || !e) return nomem(ci);
            *n = (void *)d->name;
            *e = it;
            TRY(put_item(ci, f, &it));
            break;
        }
        default:
            return ierr(ci, WASITLS_E_INTERNAL, d->offset, "unknown definition");
        }
    }
    return 0;
}

static void run_teardown_dtors(cinst *ci)
{
    /* own handles of host resources the guest still holds: the host frees them. A refusing
     * destructor (children still alive) is retried after the others ran. */
    for (int pass = 0; pass < 8; pass++) {
        bool refused = false, progress = false;
        for (size_t t = 0; t <= ci->tables.len; t++) {
            wasitls__htable *ht = t ? AT(&ci->tables, wasitls__htable *, t - 1) : &ci->handles;
            for (uint32_t i = 1; i < ht->len; i++) {
                wasitls__handle *h = wasitls__htable_get(ht, i);
                if (!h || !h->own || h->rt->res->origin != RES_HOST) {
                    if (h) wasitls__htable_remove(ht, i);
                    continue;
                }
                if (h->rt->res->host_dtor) {
                    wasitls_error e;
                    wasitls_error_clear(&e);
                    if (h->rt->res->host_dtor(h->rt->res->host_env, (void *)(uintptr_t)h->rep,
                                              &e)) {
                        refused = true;
                        continue;
                    }
                }
                wasitls__htable_remove(ht, i);
                progress = true;
            }
        }
        if (!refused || !progress) break;
    }
}

void wasitls_cinstance_free(wasitls_cinstance *ci)
{
    if (!ci) return;
    run_teardown_dtors(ci);
    for (size_t i = ci->cores.len; i-- > 0;)
        wasitls_instance_free(AT(&ci->cores, wasitls_instance *, i));
    wasitls__vec_free(&ci->cores);
    wasitls__htable_free(&ci->handles);
    for (size_t i = 0; i < ci->tables.len; i++) {
        wasitls__htable_free(AT(&ci->tables, wasitls__htable *, i));
        free(AT(&ci->tables, wasitls__htable *, i));
    }
    wasitls__vec_free(&ci->tables);
    wasitls__htable_free(&ci->host_handles);
    wasitls__arena_free(&ci->results);
    for (size_t i = 0; i < sizeof ci->pool / sizeof ci->pool[0]; i++)
        wasitls__arena_free(&ci->pool[i]);
    wasitls__arena_free(&ci->arena);
    free(ci);
}

int wasitls_cinstance_new(wasitls_component *c, wasitls_linker *l, void *host_data,
                          wasitls_cinstance **out, wasitls_error *err)
{
    wasitls_error_clear(err);
    *out = NULL;
    if (!c) return wasitls_error_set(err, WASITLS_E_INVAL, "no component");
    if (!c->engine)
        return wasitls_error_set(err, WASITLS_E_INVAL, "component was loaded without an engine");
    cinst *ci = calloc(1, sizeof(*ci));
    if (!ci) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    ci->comp = c;
    ci->linker = l;
    ci->host_data = host_data;
    ci->err = err;
    wasitls__arena_init(&ci->arena);
    wasitls__arena_init(&ci->results);
    ci->results.limit = WASITLS__MAX_CALL_MEMORY;
    for (size_t i = 0; i < sizeof ci->pool / sizeof ci->pool[0]; i++)
        ci->pool[i].limit = WASITLS__MAX_CALL_MEMORY;
    wasitls__vec_init(&ci->cores, sizeof(wasitls_instance *));
    wasitls__htable_init(&ci->handles);
    wasitls__vec_init(&ci->tables, sizeof(wasitls__htable *));
    wasitls__htable_init(&ci->host_handles);
    ci->host_handles.no_reuse = true;
    frame root;
    frame_init(&root, c->root, NULL, NULL, &ci->handles);
    int rc = instantiate_frame(ci, &root);
    if (!rc) {
        size_t n = root.exp_names.len;
        instval *iv = wasitls__arena_alloc(&ci->arena, sizeof(*iv));
        if (iv) {
            iv->n = (uint32_t)n;
            iv->names = wasitls__arena_array(&ci->arena, n + 1, sizeof(char *));
            iv->items = wasitls__arena_array(&ci->arena, n + 1, sizeof(item));
        }
        if (!iv || !iv->names || !iv->items) {
            rc = nomem(ci);
        } else {
            for (size_t i = 0; i < n; i++) {
                iv->names[i] = AT(&root.exp_names, const char *, i);
                iv->items[i] = AT(&root.exp_items, item, i);
            }
            ci->exports = iv;
        }
    }
    frame_free(&root);
    ci->err = NULL;
    if (rc) {
        if (err && !err->code) wasitls_error_set(err, rc, "%s", wasitls_strerror(rc));
        wasitls_cinstance_free(ci);
        return rc;
    }
    *out = ci;
    return 0;
}

/* ---- export calls ---- */

static int call_lifted(cinst *ci, cfunc *f, const wasitls_cval *args, size_t nargs,
                       wasitls_cval *result, bool *has_result, wasitls__arena *results, bool nested,
                       wasitls_error *err)
{
    const wasitls__ctype *ft = f->type;
    *has_result = false;
    if (nargs != ft->n)
        return wasitls_error_set(err, WASITLS_E_INVAL, "%s takes %u arguments, %zu given", f->name,
                                 ft->n, nargs);
    if (f->kind == F_HOST) {
        wasitls_ccall call;
        ccall_init(&call, ci);
        call.arena = results; /* the result must outlive this call */
        int rc = f->hf->fn(&call, f->hf->env, args, nargs, ft->t ? result : NULL);
        if (rc)
            return wasitls_error_set(err, rc, "%s",
                                     call.err.msg[0] ? call.err.msg : wasitls_strerror(rc));
        *has_result = ft->t != NULL;
        return 0;
    }
    if (ci->trapped)
        return wasitls_error_set(err, WASITLS_E_TRAP, "the component instance trapped earlier");
    if (ci->task && !nested) /* the host may not call in while a guest call is running */
        return wasitls_error_set(err, WASITLS_E_TRAP,
                                 "component instance re-entered during a call");
    wasitls__task task = {0, ci->task};
    wasitls_ccall call;
    ccall_init(&call, ci);
    call.nested = nested;
    call.ht = f->ht;
    wasitls__canon cx;
    canon_init(&cx, &call, &f->opts, results, true, err);
    wasitls_val vals[WASITLS__MAX_FLAT_PARAMS + 1], res[2];
    size_t nv = 0;
    int rc;
    uint8_t p[WASITLS__MAX_FLAT_PARAMS + 1], r[2];
    uint32_t np, nr;
    wasitls__ct_core_sig(ft, false, p, &np, r, &nr);
    for (uint32_t i = 0; i < ft->n; i++)
        if (!wasitls__canon_fits(ft->elems[i], &args[i], 0)) {
            wasitls__arena_free(&call.own_arena);
            return wasitls_error_set(err, WASITLS_E_INVAL,
                                     "%s: argument %u does not fit its type %s", f->name, i,
                                     wasitls__ct_kind_name(ft->elems[i]->kind));
        }
    ci->task = &task;
    if ((rc = wasitls__lower_flat_values(&cx, ft->elems, ft->n, WASITLS__MAX_FLAT_PARAMS, args,
                                         vals, &nv, NULL)))
        goto Exit;
    if ((rc = wasitls_extern_call(&f->core.ext, vals, nv, res, nr, err))) {
        if (rc == WASITLS_E_TRAP || rc == WASITLS_E_EXHAUSTION) ci->trapped = true;
        goto Exit;
    }
    if (ft->t) {
        wasitls__canon_refresh(&cx);
        if ((rc = wasitls__lift_flat_values(&cx, (wasitls__ctype *const *)&ft->t, 1,
                                            WASITLS__MAX_FLAT_RESULTS, res, nr, result)))
            goto Exit;
        *has_result = true;
    }
    if (f->opts.has_post) {
        wasitls_error e;
        wasitls_error_clear(&e);
        if ((rc = wasitls_extern_call(&f->opts.post.ext, res, nr, NULL, 0, &e))) {
            ci->trapped = true;
            wasitls_error_set(err, rc, "in post-return of %s: %s", f->name, e.msg);
            goto Exit;
        }
    }
    if (task.num_borrows) {
        rc = wasitls_error_set(err, WASITLS_E_TRAP,
                               "%s returned while still holding %u borrowed handle(s)", f->name,
                               task.num_borrows);
        ci->trapped = true;
    }
Exit:
    ci->task = task.prev;
    if (rc == WASITLS_E_TRAP || rc == WASITLS_E_EXHAUSTION)
        ci->trapped = true; /* whatever the guest was doing cannot be trusted any more */
    wasitls__arena_free(&call.own_arena);
    if (rc && rc == WASITLS_E_TRAP && err && err->code == WASITLS_E_TRAP && f->name &&
        !strstr(err->msg, f->name))
        wasitls_error_prefix(err, "%s", f->name);
    return rc;
}

static bool name_matches(const char *have, const char *want, size_t wl)
{
    /* "ns:pkg/iface@1.2.3" vs a wanted name, semver-compatibly */
    size_t hb, wb, hvl, wvl;
    const char *hv, *wv;
    char wbuf[512];
    if (wl >= sizeof wbuf) return false;
    memcpy(wbuf, want, wl);
    wbuf[wl] = 0;
    if (strcmp(have, wbuf) == 0) return true;
    wasitls__split_version(have, &hb, &hv, &hvl);
    wasitls__split_version(wbuf, &wb, &wv, &wvl);
    if (hb != wb || memcmp(have, wbuf, hb) != 0 || !hv || !wv) return false;
    wasitls__semver a, b;
    if (!wasitls__semver_parse(hv, hvl, &a) || !wasitls__semver_parse(wv, wvl, &b)) return false;
    a.text = hv;
    b.text = wv;
    return wasitls__semver_compatible(&b, &a);
}

bool wasitls_component_exports_interface(const wasitls_component *c, const char *iface)
{
    if (!c || !c->root || !iface) return false;
    size_t il = strlen(iface);
    bool any_version = !strchr(iface, '@');
    for (uint32_t i = 0; i < c->root->ndefs; i++) {
        const wasitls__def *d = &c->root->defs[i];
        if (d->kind != DEF_EXPORT || d->target.sort != SORT_INSTANCE || !d->name) continue;
        if (any_version ? strncmp(d->name, iface, il) == 0 && (!d->name[il] || d->name[il] == '@')
                        : name_matches(d->name, iface, il))
            return true;
    }
    return false;
}

int wasitls_cinstance_call(wasitls_cinstance *ci, const char *name, const wasitls_cval *args,
                           size_t nargs, wasitls_cval *result, bool *has_result, wasitls_error *err)
{
    wasitls_error_clear(err);
    bool dummy;
    if (!has_result) has_result = &dummy;
    *has_result = false;
    if (!ci || !name) return wasitls_error_set(err, WASITLS_E_INVAL, "no instance or name");
    const char *hash = strchr(name, '#');
    cfunc *f = NULL;
    instval *iv = ci->exports;
    const char *fname = name;
    if (hash) {
        instval *found = NULL;
        for (uint32_t i = 0; i < iv->n && !found; i++)
            if (iv->items[i].sort == SORT_INSTANCE &&
                name_matches(iv->names[i], name, (size_t)(hash - name)))
                found = iv->items[i].p;
        if (!found)
            return wasitls_error_set(err, WASITLS_E_NOTFOUND,
                                     "the component exports no interface `%.*s`",
                                     (int)(hash - name), name);
        iv = found;
        fname = hash + 1;
    }
    for (uint32_t i = 0; i < iv->n && !f; i++)
        if (iv->items[i].sort == SORT_FUNC && strcmp(iv->names[i], fname) == 0) f = iv->items[i].p;
    if (!f)
        return wasitls_error_set(err, WASITLS_E_NOTFOUND, "the component exports no function `%s`",
                                 name);
    wasitls__arena_rewind(&ci->results);
    if (!result && f->type->t) {
        static wasitls_cval sink;
        result = &sink;
    }
    return call_lifted(ci, f, args, nargs, result, has_result, &ci->results, false, err);
}

/* ---- inside a host call ---- */

void *wasitls_ccall_alloc(wasitls_ccall *call, size_t size)
{
    return wasitls__arena_alloc(call->arena, size);
}

wasitls_cval *wasitls_ccall_vals(wasitls_ccall *call, size_t n)
{
    return wasitls__arena_array(call->arena, n ? n : 1, sizeof(wasitls_cval));
}

int wasitls_ccall_guest_bytes(wasitls_ccall *call, size_t len, bool as_string, uint8_t **ptr,
                              wasitls_cval *out)
{
    wasitls__canon *cx = call->cx;
    if (!cx || !cx->realloc)
        return wasitls_ccall_trap(call, "guest_bytes: the guest gave no realloc for this call");
    if (len > WASITLS__MAX_BYTE_LENGTH)
        return wasitls_ccall_trap(call, "guest_bytes: %zu bytes exceed the canonical ABI limit",
                                  len);
    if (cx->gb_n >= 16)
        return wasitls_ccall_trap(call, "guest_bytes: too many buffers in one call");
    uint32_t addr;
    int rc = cx->realloc(cx, 0, 0, 1, (uint32_t)len, &addr);
    if (rc) return rc;
    wasitls__canon_refresh(cx);
    if (addr > cx->len || len > cx->len - addr)
        return wasitls_ccall_trap(call, "guest realloc returned an out-of-bounds buffer");
    *ptr = cx->base + addr;
    call->gbh[cx->gb_n] = *ptr;
    call->gbg[cx->gb_n] = addr;
    call->gbl[cx->gb_n] = (uint32_t)len;
    cx->gb_n++;
    memset(out, 0, sizeof(*out));
    out->kind = as_string ? WASITLS_CV_STRING : WASITLS_CV_BYTES;
    out->of.bytes.ptr = *ptr;
    out->of.bytes.len = len;
    return 0;
}

int wasitls_ccall_trap(wasitls_ccall *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wasitls_error_setv(&call->err, WASITLS_E_TRAP, fmt, ap);
    va_end(ap);
    return WASITLS_E_TRAP;
}

void *wasitls_ccall_data(wasitls_ccall *call)
{
    return call->ci->host_data;
}

int wasitls_cinstance_drop(wasitls_cinstance *ci, const wasitls_cval *own, wasitls_error *err)
{
    wasitls_error_clear(err);
    if (!ci || !own || own->kind != WASITLS_CV_OWN)
        return wasitls_error_set(err, WASITLS_E_INVAL, "not an own handle");
    wasitls__handle *h = wasitls__htable_get(&ci->host_handles, own->of.res.handle);
    if (!h)
        return wasitls_error_set(err, WASITLS_E_INVAL, "no such resource handle %u",
                                 own->of.res.handle);
    const wasitls__ctype *rt = h->rt;
    uint64_t rep = h->rep;
    wasitls__htable_remove(&ci->host_handles, own->of.res.handle);
    if (rt->res->has_dtor) {
        wasitls_val a = {.kind = WASITLS_I32};
        a.of.i32 = (uint32_t)rep;
        int rc = wasitls_extern_call(&rt->res->guest_dtor, &a, 1, NULL, 0, err);
        if (rc && (rc == WASITLS_E_TRAP || rc == WASITLS_E_EXHAUSTION)) ci->trapped = true;
        return rc;
    }
    return 0;
}
