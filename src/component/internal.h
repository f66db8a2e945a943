/* Internal structures of the component layer, shared by its files:
 *   arena.c     bump allocator (every parsed/elaborated object lives in one)
 *   types.c     component value/func/instance types, canonical ABI layout, structural matching
 *   wit.c       the WIT text parser (feeds the linker)
 *   linker.c    host definitions, semver-compatible interface lookup
 *   binary.c    the component binary parser (static structure + index-space validation)
 *   canon.c     canonical ABI lift/lower between core values / linear memory and wasitls_cval
 *   resource.c  handle tables
 *   instance.c  instantiation (runtime elaboration of types), host calls, export calls
 */
#ifndef WASITLS_COMPONENT_INTERNAL_H
#define WASITLS_COMPONENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasitls/component.h"
#include "wasitls/cursor.h"
#include "wasitls/engine.h"
#include "wasitls/error.h"

/* ---- hard limits (loader) ---- */
#define WASITLS__MAX_COMPONENT_BYTES (1u << 30)
#define WASITLS__MAX_ITEMS 100000u  /* entries of any one section / vector */
#define WASITLS__MAX_SPACE 1000000u /* entries of any one index space */
#define WASITLS__MAX_NESTING 16u    /* nested components / type declarators */
#define WASITLS__MAX_TYPE_DEPTH 64u /* nesting of value types */
#define WASITLS__MAX_FIELDS 10000u  /* fields / cases / params / labels of one type */
#define WASITLS__MAX_HANDLES (1u << 20)
#define WASITLS__MAX_INSTANCES 1000u /* core + component instances made by one instantiation */
#define WASITLS__MAX_BYTE_LENGTH ((1u << 28) - 1) /* canonical ABI: strings and lists */
/* Host memory for the values of one call (a guest can describe 2^28 bools in guest memory,
 * which would be 8 GiB of wasitls_cval): beyond this, lifting traps the guest. */
#define WASITLS__MAX_CALL_MEMORY (512u << 20)

/* ---- arena ---- */

typedef struct wasitls__achunk wasitls__achunk;
typedef struct wasitls__arena {
    wasitls__achunk *head;
    size_t total; /* bytes handed out, for limits */
    size_t limit; /* 0 = unlimited */
} wasitls__arena;

void wasitls__arena_init(wasitls__arena *a);
/* Zeroed, 16-byte aligned; NULL on exhaustion. */
void *wasitls__arena_alloc(wasitls__arena *a, size_t n);
void *wasitls__arena_array(wasitls__arena *a, size_t n, size_t size);
char *wasitls__arena_strndup(wasitls__arena *a, const char *s, size_t n);
char *wasitls__arena_printf(wasitls__arena *a, const char *fmt, ...) WASITLS_PRINTF(2, 3);
void wasitls__arena_reset(wasitls__arena *a);
/* Forgets every allocation but keeps one chunk for reuse. */
void wasitls__arena_rewind(wasitls__arena *a);
void wasitls__arena_free(wasitls__arena *a);

/* A growable array of pointers (or of fixed-size items) allocated with malloc. */
typedef struct wasitls__vec {
    void *items;
    size_t len, cap, isize;
} wasitls__vec;
void wasitls__vec_init(wasitls__vec *v, size_t isize);
/* Appends one zeroed item and returns it, or NULL on exhaustion. */
void *wasitls__vec_push(wasitls__vec *v);
void wasitls__vec_free(wasitls__vec *v);
#define WASITLS__VEC_AT(v, type, i) (((type *)(v)->items)[i])

/* ---- types ---- */

typedef enum wasitls__ctkind {
    CT_BOOL,
    CT_S8,
    CT_U8,
    CT_S16,
    CT_U16,
    CT_S32,
    CT_U32,
    CT_S64,
    CT_U64,
    CT_F32,
    CT_F64,
    CT_CHAR,
    CT_STRING,
    CT_LIST,
    CT_RECORD,
    CT_TUPLE,
    CT_VARIANT,
    CT_ENUM,
    CT_OPTION,
    CT_RESULT,
    CT_FLAGS,
    CT_OWN,
    CT_BORROW,
    /* not value types: */
    CT_RESOURCE,
    CT_FUNC,
    CT_INSTANCE,
    CT_COMPONENT,
} wasitls__ctkind;
#define CT_IS_VALUE(k) ((k) <= CT_BORROW)

typedef enum wasitls__resorigin {
    RES_ABSTRACT = 0, /* declared `(sub resource)` in an import's type: substituted on import */
    RES_HOST = 1,     /* a WIT resource of the linker: reps are host pointers */
    RES_GUEST = 2,    /* defined by a component instance: reps are i32 */
} wasitls__resorigin;

/* Sorts of component-level items (instance exports etc.). */
typedef enum wasitls__sort {
    SORT_CORE_MODULE = 0x11, /* as core:sort */
    SORT_FUNC = 0x01,
    SORT_VALUE = 0x02,
    SORT_TYPE = 0x03,
    SORT_COMPONENT = 0x04,
    SORT_INSTANCE = 0x05,
} wasitls__sort;

typedef struct wasitls__ctype wasitls__ctype;
struct wasitls__cinst;
struct wasitls__resinfo {
    uint8_t origin; /* wasitls__resorigin */
    const char *name;
    const char *iface;       /* RES_HOST: full interface name */
    wasitls_cdtor host_dtor; /* RES_HOST, set by wasitls_linker_resource */
    void *host_env;
    bool host_defined;         /* wasitls_linker_resource was called */
    const void *owner;         /* RES_GUEST: the defining component instance (its handle table) */
    wasitls_extern guest_dtor; /* RES_GUEST, when has_dtor */
    bool has_dtor;
    uint32_t id; /* for messages */
};

struct wasitls__ctype {
    uint8_t kind;           /* wasitls__ctkind */
    bool has_result;        /* FUNC */
    bool has_borrow;        /* value type transitively contains borrow */
    uint32_t n;             /* fields / cases / labels / params / exports */
    const char **names;     /* labels; params names; export names */
    wasitls__ctype **elems; /* field, case payload (NULL = none), tuple item, param, export type */
    uint8_t *sorts;         /* INSTANCE: wasitls__sort of each export */
    wasitls__ctype *t; /* LIST elem, OPTION payload, RESULT ok (may be NULL), OWN/BORROW resource,
                          FUNC result (NULL = none) */
    wasitls__ctype *e; /* RESULT err (may be NULL) */
    struct wasitls__resinfo *res; /* RESOURCE */
    /* canonical ABI (value types): elem size, alignment and flattening. nflat may exceed 16;
       flat[] then holds only the first 16 (such values always travel through memory). */
    uint32_t size, align, nflat;
    uint8_t flat[16]; /* WASITLS_I32 / I64 / F32 / F64 */
    uint32_t depth;
};

#define WASITLS__MAX_FLAT_PARAMS 16
#define WASITLS__MAX_FLAT_RESULTS 1

/* Constructors: arena-allocated; compute the ABI fields. Return NULL and set err on failure
 * (limits, empty records, ...). */
wasitls__ctype *wasitls__ct_prim(uint8_t kind);
wasitls__ctype *wasitls__ct_new(wasitls__arena *a, uint8_t kind, uint32_t n);
/* Computes the ABI fields of a value type built with ct_new (children must be finished). */
int wasitls__ct_finish(wasitls__ctype *t, wasitls_error *err) WASITLS_MUST_CHECK;
uint32_t wasitls__disc_size(uint32_t ncases);
uint32_t wasitls__align_to(uint32_t x, uint32_t a);
/* Flattened core signature of a component function in "lower" or "lift" context. Writes at
 * most 17 params and 1 result; returns -1 if out of room (cannot happen with the limits). */
void wasitls__ct_core_sig(const wasitls__ctype *ft, bool lower, uint8_t *params, uint32_t *np,
                          uint8_t *results, uint32_t *nr);
/* "record { a: u32, ... }"-ish description, for messages. */
const char *wasitls__ct_kind_name(uint8_t kind);

/* Structural match of a guest type against a host type. Abstract resources in `from` are
 * mapped to host resources through `subst` (pairs from[i] -> to[i]). On mismatch returns
 * false and writes a short reason into why. */
typedef struct wasitls__subst {
    const wasitls__ctype **from;
    const wasitls__ctype **to;
    size_t n;
} wasitls__subst;
bool wasitls__ct_match(const wasitls__ctype *g, const wasitls__ctype *h, const wasitls__subst *s,
                       char *why, size_t whylen);

/* ---- the linker ---- */

typedef struct wasitls__semver {
    uint64_t major, minor, patch;
    bool has; /* a version was given */
    bool pre; /* has a prerelease part */
    const char *text;
} wasitls__semver;
bool wasitls__semver_parse(const char *s, size_t len, wasitls__semver *out);
/* Interface name "ns:pkg/iface@ver": splits base (without @ver) and version. */
void wasitls__split_version(const char *name, size_t *baselen, const char **ver, size_t *verlen);
/* A guest asking for version `want` is served by a host at `have`. */
bool wasitls__semver_compatible(const wasitls__semver *want, const wasitls__semver *have);

typedef struct wasitls__hfunc {
    const char *name;     /* "f", "[method]r.m" */
    wasitls__ctype *type; /* FUNC */
    wasitls_cfunc fn;     /* NULL until defined */
    void *env;
} wasitls__hfunc;

typedef struct wasitls__iface {
    const char *full; /* "ns:pkg/iface@ver" */
    const char *base; /* "ns:pkg/iface" */
    wasitls__semver ver;
    uint32_t ntypes, nfuncs;
    const char **type_names;
    wasitls__ctype **types;
    wasitls__hfunc *funcs;
} wasitls__iface;

struct wasitls_linker {
    wasitls__arena arena;
    wasitls__vec ifaces; /* wasitls__iface* */
    wasitls__vec hints;  /* const char* pairs: prefix, hint */
    uint32_t next_res_id;
};

/* Best semver-compatible interface for a (guest) name, or NULL. */
wasitls__iface *wasitls__linker_find(wasitls_linker *l, const char *name, size_t len);
const char *wasitls__linker_hint_for(wasitls_linker *l, const char *name);
int wasitls__linker_add_iface(wasitls_linker *l, wasitls__iface *it, wasitls_error *err);

/* WIT: parses `text` and adds its interfaces to the linker. */
int wasitls__wit_parse(wasitls_linker *l, const char *text, size_t len, wasitls_error *err);

/* ---- parsed component binary ---- */

typedef struct wasitls__valtype {
    uint8_t prim; /* CT_* kind of a primitive, or 0xff for a type index */
    uint32_t idx;
} wasitls__valtype;

enum wasitls__tdkind {
    TD_VALTYPE, /* a primitive as a defvaltype */
    TD_RECORD,
    TD_VARIANT,
    TD_LIST,
    TD_TUPLE,
    TD_FLAGS,
    TD_ENUM,
    TD_OPTION,
    TD_RESULT,
    TD_OWN,
    TD_BORROW,
    TD_FUNC,
    TD_RESOURCE,
    TD_INSTANCE,
    TD_COMPONENT,
};

typedef struct wasitls__decl wasitls__decl;
typedef struct wasitls__tdef {
    uint8_t kind;
    uint32_t n;
    const char **names;
    wasitls__valtype *vts; /* fields, payloads (prim 0xfe = none), tuple items, params */
    wasitls__valtype a, b; /* list/option elem, result ok/err (0xfe none), func result, prim */
    bool has_a, has_b;
    uint32_t idx; /* own/borrow type index */
    /* RESOURCE */
    uint8_t rep;
    bool has_dtor;
    uint32_t dtor; /* core func index */
    /* INSTANCE / COMPONENT declarators */
    wasitls__decl *decls;
    uint32_t ndecls;
    int64_t offset;
} wasitls__tdef;

enum wasitls__declkind {
    DECL_CORE_TYPE,
    DECL_TYPE,
    DECL_ALIAS_OUTER,
    DECL_ALIAS_EXPORT,
    DECL_EXPORT,
    DECL_IMPORT
};
/* externtype: sort + index, or type bound */
typedef struct wasitls__externtype {
    uint8_t sort;  /* SORT_* (SORT_CORE_MODULE for core module) */
    uint8_t bound; /* SORT_TYPE: 0 = eq idx, 1 = sub resource */
    uint32_t idx;
} wasitls__externtype;

struct wasitls__decl {
    uint8_t kind;
    int64_t offset;
    wasitls__tdef *type; /* DECL_TYPE */
    uint8_t sort;        /* alias sort */
    uint32_t ct, idx;    /* outer alias; export alias: idx = instance */
    const char *name;    /* export / import / alias name */
    wasitls__externtype et;
};

enum wasitls__defkind {
    DEF_CORE_MODULE,
    DEF_CORE_INSTANTIATE,
    DEF_CORE_INSTANCE_EXPORTS,
    DEF_CORE_TYPE,
    DEF_COMPONENT,
    DEF_INSTANTIATE,
    DEF_INSTANCE_EXPORTS,
    DEF_ALIAS_EXPORT,
    DEF_ALIAS_CORE_EXPORT,
    DEF_ALIAS_OUTER,
    DEF_TYPE,
    DEF_CANON_LIFT,
    DEF_CANON_LOWER,
    DEF_CANON_RESOURCE_NEW,
    DEF_CANON_RESOURCE_DROP,
    DEF_CANON_RESOURCE_REP,
    DEF_IMPORT,
    DEF_EXPORT,
};

/* A (name, sort, index) triple: instantiate args and inline exports. */
typedef struct wasitls__arg {
    const char *name;
    uint8_t sort; /* core: core sort (0 func 1 table 2 memory 3 global 0x11 module 0x12 instance);
                     component: SORT_* or 0x80 | core sort for core items */
    uint32_t idx;
} wasitls__arg;

typedef struct wasitls__copts {
    uint8_t enc; /* 0 utf8, 1 utf16, 2 latin1+utf16 */
    bool has_memory, has_realloc, has_post;
    uint32_t memory, realloc, post;
} wasitls__copts;

typedef struct wasitls__component wasitls__component;
typedef struct wasitls__def {
    uint8_t kind;
    int64_t offset;
    uint32_t idx; /* module / component index; canon func; resource type; alias inst */
    uint32_t n;
    wasitls__arg *args;     /* instantiate args / inline exports */
    uint8_t sort;           /* alias sort: SORT_* or 0x80|core sort */
    uint32_t ct;            /* outer alias count */
    const char *name;       /* alias / import / export name */
    wasitls__tdef *type;    /* DEF_TYPE */
    wasitls__copts opts;    /* canon */
    uint32_t type_idx;      /* canon lift func type */
    wasitls__externtype et; /* import; export ascription when has_et */
    bool has_et;
    wasitls__arg target; /* export: what is exported */
} wasitls__def;

struct wasitls__component {
    wasitls__component *parent;
    wasitls__def *defs;
    uint32_t ndefs;
    /* core modules (bytes are views into the input until compiled) */
    wasitls__vec modules;   /* wasitls_module* once compiled */
    wasitls__vec mod_bytes; /* struct { const uint8_t *p; size_t n; int64_t off; } */
    wasitls__vec comps;     /* wasitls__component* (nested definitions) */
    uint32_t depth;
};

typedef struct wasitls__modbytes {
    const uint8_t *p;
    size_t n;
    int64_t off;
} wasitls__modbytes;

/* Parses and validates the structure of a component (no compilation). All allocations in a. */
int wasitls__component_parse(wasitls__arena *a, const uint8_t *bytes, size_t len,
                             wasitls__component **out, wasitls_error *err) WASITLS_MUST_CHECK;
void wasitls__component_release(wasitls__component *c); /* frees vectors (not the arena) */

struct wasitls_component {
    wasitls_engine *engine;
    wasitls__arena arena;
    uint8_t *bytes; /* a private copy: module views point into it */
    size_t len;
    wasitls__component *root;
};

/* ---- canonical ABI ---- */

typedef struct wasitls__canon wasitls__canon;
struct wasitls__canon {
    uint8_t enc;         /* string encoding */
    wasitls_memory *mem; /* NULL: base/len are a plain buffer (tests) */
    uint8_t *base;
    uint64_t len;
    /* guest allocation (realloc); returns 0 and *out, or a trap code */
    int (*realloc)(wasitls__canon *cx, uint32_t old, uint32_t oldsz, uint32_t align, uint32_t newsz,
                   uint32_t *out);
    void *realloc_ctx;
    wasitls__arena *arena; /* lifted values */
    bool copy;             /* lifted strings/bytes: copy into arena (else views) */
    /* handles */
    int (*lift_handle)(wasitls__canon *cx, const wasitls__ctype *t, uint32_t h, wasitls_cval *out);
    int (*lower_handle)(wasitls__canon *cx, const wasitls__ctype *t, const wasitls_cval *v,
                        uint32_t *out);
    void *res_ctx;
    /* host-provided guest buffers (wasitls_ccall_guest_bytes): host pointer -> guest address */
    const uint8_t **gb_host;
    uint32_t *gb_guest, *gb_len;
    size_t gb_n;
    wasitls_error *err;
};

void wasitls__canon_refresh(wasitls__canon *cx);
int wasitls__canon_trap(wasitls__canon *cx, const char *fmt, ...) WASITLS_PRINTF(2, 3);
/* Flat lifting of n values of types ts from core values vals[0..nvals). */
int wasitls__lift_flat_values(wasitls__canon *cx, wasitls__ctype *const *ts, uint32_t n,
                              uint32_t max_flat, const wasitls_val *vals, size_t nvals,
                              wasitls_cval *out) WASITLS_MUST_CHECK;
/* Flat lowering; out must have room for 16 values (or the pointer). If the flattened values
 * exceed max_flat, they are stored in memory: at *retptr when retptr is non-NULL (lower of
 * results), else at a fresh realloc'd area whose address becomes the single value. */
int wasitls__lower_flat_values(wasitls__canon *cx, wasitls__ctype *const *ts, uint32_t n,
                               uint32_t max_flat, const wasitls_cval *vs, wasitls_val *out,
                               size_t *nout, const uint32_t *retptr) WASITLS_MUST_CHECK;
int wasitls__canon_load(wasitls__canon *cx, uint64_t ptr, const wasitls__ctype *t,
                        wasitls_cval *out) WASITLS_MUST_CHECK;
int wasitls__canon_store(wasitls__canon *cx, const wasitls_cval *v, const wasitls__ctype *t,
                         uint64_t ptr) WASITLS_MUST_CHECK;
/* Does a host value fit the type (kinds, integer ranges, chars, case indices)? Checked before
 * lowering export arguments so that a host mistake is an error, not a guest trap. */
bool wasitls__canon_fits(const wasitls__ctype *t, const wasitls_cval *v, uint32_t depth);
/* Tuple layout of a parameter list (for the > 16 case). */
void wasitls__tuple_layout(wasitls__ctype *const *ts, uint32_t n, uint32_t *size, uint32_t *align);

/* ---- resources and instances ---- */

typedef struct wasitls__task {
    uint32_t num_borrows; /* borrow handles lent to the guest for this call */
    struct wasitls__task *prev;
} wasitls__task;

typedef struct wasitls__handle {
    const wasitls__ctype *rt; /* RESOURCE; NULL = free slot */
    uint64_t rep;             /* host pointer (RES_HOST) or i32 rep */
    uint32_t lends;
    bool own;
    wasitls__task *scope; /* borrow handles: the task that lent it */
    uint32_t next_free;
} wasitls__handle;

typedef struct wasitls__htable {
    wasitls__handle *h;
    uint32_t len, cap;
    uint32_t free_head; /* 0 = none */
    bool no_reuse;      /* host-side tables: a stale handle stays invalid forever */
} wasitls__htable;

void wasitls__htable_init(wasitls__htable *t);
void wasitls__htable_free(wasitls__htable *t);
/* Returns a handle index >= 1 or 0 on exhaustion. */
uint32_t wasitls__htable_add(wasitls__htable *t, const wasitls__handle *h);
wasitls__handle *wasitls__htable_get(wasitls__htable *t, uint32_t i);
void wasitls__htable_remove(wasitls__htable *t, uint32_t i);

#endif
