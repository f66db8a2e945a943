/* wasitls component layer: load, type-check and instantiate components; the canonical ABI;
 * resource handle tables; and the linker through which host layers (wasi, tls) define the
 * interfaces a component may import.
 *
 * Objects and lifetimes
 *   wasitls_linker     host definitions: WIT type declarations, functions, resource types.
 *                      Populated before instantiation; must outlive every instance made with it.
 *   wasitls_component  a parsed, validated component with its core modules compiled. Immutable.
 *                      Must outlive its instances.
 *   wasitls_cinstance  an instantiated component: core instances, handle tables. Freeing it
 *                      runs the destructors of every resource the guest still owns.
 *   wasitls_ccall      the context of one host-function call; valid only during the callback.
 *
 * Values crossing the boundary are wasitls_cval trees. Argument values handed to a host
 * function are views: strings (UTF-8 in the guest) and list<u8> point into guest memory and
 * are valid only until the callback returns or calls into the guest; everything else lives in
 * the call's arena (freed after the call). Result values the host builds are lowered into the
 * guest after the callback returns; anything they point to must stay valid until then (the
 * call arena is the usual place).
 *
 * Resources: a host resource's representation ("rep") is a host pointer. An own<T> argument
 * moves the rep from the guest's handle table to the host (the host now owns it); a borrow<T>
 * argument lends it for the duration of the call; an own<T> result moves a rep into the guest's
 * table. When the guest drops its last own handle, the destructor registered for T runs; a
 * destructor that refuses (e.g. children still alive) traps the guest.
 */
#ifndef WASITLS_COMPONENT_H
#define WASITLS_COMPONENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasitls/engine.h"
#include "wasitls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wasitls_linker wasitls_linker;
typedef struct wasitls_component wasitls_component;
typedef struct wasitls_cinstance wasitls_cinstance;
typedef struct wasitls_ccall wasitls_ccall;

typedef enum wasitls_cvkind {
    WASITLS_CV_BOOL,
    WASITLS_CV_S8, WASITLS_CV_U8, WASITLS_CV_S16, WASITLS_CV_U16,
    WASITLS_CV_S32, WASITLS_CV_U32, WASITLS_CV_S64, WASITLS_CV_U64,
    WASITLS_CV_F32, WASITLS_CV_F64,
    WASITLS_CV_CHAR,
    WASITLS_CV_STRING,  /* of.str (UTF-8) */
    WASITLS_CV_BYTES,   /* list<u8>: of.bytes */
    WASITLS_CV_LIST,    /* any other list: of.list */
    WASITLS_CV_RECORD,  /* of.list: fields in declaration order */
    WASITLS_CV_TUPLE,   /* of.list */
    WASITLS_CV_VARIANT, /* of.var: case index + payload (NULL if the case has none) */
    WASITLS_CV_ENUM,    /* of.var.tag */
    WASITLS_CV_OPTION,  /* of.var: tag 0 = none, 1 = some(payload) */
    WASITLS_CV_RESULT,  /* of.var: tag 0 = ok(payload?), 1 = err(payload?) */
    WASITLS_CV_FLAGS,   /* of.flags: bit i = flag i (at most 64 flags) */
    WASITLS_CV_OWN,     /* of.res */
    WASITLS_CV_BORROW,  /* of.res */
} wasitls_cvkind;

typedef struct wasitls_cval wasitls_cval;
struct wasitls_cval {
    uint8_t kind; /* wasitls_cvkind */
    union {
        bool b;
        int64_t s;  /* S8..S64 */
        uint64_t u; /* U8..U64 */
        float f32;
        double f64;
        uint32_t ch; /* a Unicode scalar value */
        struct { const char *ptr; size_t len; } str;
        struct { const uint8_t *ptr; size_t len; } bytes;
        struct { wasitls_cval *items; size_t len; } list;
        struct { uint32_t tag; wasitls_cval *payload; } var;
        uint64_t flags;
        struct {
            void *rep;       /* host resources: the host pointer */
            uint32_t handle; /* guest-defined resources (host calling exports): the handle */
        } res;
    } of;
};

/* ---- the linker: host definitions ---- */

int wasitls_linker_new(wasitls_linker **out) WASITLS_MUST_CHECK;
void wasitls_linker_free(wasitls_linker *l);

/* Declares WIT text: `package ns:name@version;` then interfaces (type, record, variant, enum,
 * flags, resource with constructor/methods/static functions, func, use). Several packages may
 * be added. Host functions and resources below must name interfaces declared here; their WIT
 * types are what imports are checked against.
 *   - The files of one package may be concatenated in any order (the `package` line may come
 *     after interfaces); nested `package a:b { ... }` blocks are accepted.
 *   - `use` of another package's interface resolves against what the linker already has
 *     (exact version first, then semver-compatible), so add dependencies first (wasi:io before
 *     wasi:tls). An interface that is already declared at the same or a semver-compatible
 *     version is skipped and its uses resolve to the declared one: adding a package's bundled
 *     copy of wasi:io (0.2.6 or 0.2.12) after the host's 0.2.12 is harmless.
 *   - Worlds are skipped; @since/@unstable/@deprecated gates are accepted and the gated items
 *     declared. Async types (future, stream) are rejected.
 *   - On error nothing of the text is declared; err names the line and column. */
int wasitls_linker_add_wit(wasitls_linker *l, const char *wit, size_t len,
                           wasitls_error *err) WASITLS_MUST_CHECK;

/* A host function. args are the lifted parameters (see the header comment for lifetimes);
 * *result is to be filled when the function has a result. Return 0, or a negative code to trap
 * the guest (the message set with wasitls_ccall_trap, else wasitls_strerror(code)). */
typedef int (*wasitls_cfunc)(wasitls_ccall *call, void *env, const wasitls_cval *args,
                             size_t nargs, wasitls_cval *result);
/* A resource destructor: frees rep. Return 0, or a negative code (message via err) to refuse,
 * which traps the guest that dropped the handle. On instance teardown refusals are ignored and
 * the destructor is called again later for children first where the host arranges that. */
typedef int (*wasitls_cdtor)(void *env, void *rep, wasitls_error *err);

/* Defines function `name` of interface `iface`. `iface` is "ns:pkg/iface@version" as declared
 * with add_wit; `name` as in the component binary: "f", "[constructor]r", "[method]r.m",
 * "[static]r.s". A guest importing the same interface at any semver-compatible version
 * (same major, or same minor when major is 0; prereleases exactly) is served by it. */
int wasitls_linker_func(wasitls_linker *l, const char *iface, const char *name, wasitls_cfunc fn,
                        void *env, wasitls_error *err) WASITLS_MUST_CHECK;
int wasitls_linker_resource(wasitls_linker *l, const char *iface, const char *resource,
                            wasitls_cdtor dtor, void *env, wasitls_error *err) WASITLS_MUST_CHECK;
/* When a guest imports an interface whose name starts with `prefix` and the linker has no
 * definition for it, instantiation fails with this hint appended, e.g.
 * ("wasi:tls/", "wasi:tls is not granted; run with -S tls"). */
int wasitls_linker_hint(wasitls_linker *l, const char *prefix, const char *hint) WASITLS_MUST_CHECK;

/* ---- inside a host call ---- */

/* Arena memory for the duration of this call (result values, scratch). NULL on exhaustion. */
void *wasitls_ccall_alloc(wasitls_ccall *call, size_t size);
wasitls_cval *wasitls_ccall_vals(wasitls_ccall *call, size_t n);
/* Allocates len bytes in guest memory through the guest's realloc, for a list<u8> or string
 * result; *ptr is where the host writes them (valid until the callback returns or calls this
 * again: a later allocation may move guest memory), and *out is set to a value that refers to
 * them (kind BYTES, or STRING if `as_string`; the string must be UTF-8). Avoids a copy for
 * large reads; at most 16 buffers per call. Traps when the lowering has no realloc option. */
int wasitls_ccall_guest_bytes(wasitls_ccall *call, size_t len, bool as_string, uint8_t **ptr,
                              wasitls_cval *out) WASITLS_MUST_CHECK;
/* Records a trap message and returns WASITLS_E_TRAP. */
int wasitls_ccall_trap(wasitls_ccall *call, const char *fmt, ...) WASITLS_PRINTF(2, 3);
/* The host_data given to wasitls_cinstance_new (the run's context). */
void *wasitls_ccall_data(wasitls_ccall *call);

/* Convenience constructors for result values (no allocation). */
static inline wasitls_cval wasitls_cv_u64(uint8_t kind, uint64_t u)
{
    wasitls_cval v; v.kind = kind; v.of.u = u; return v;
}
static inline wasitls_cval wasitls_cv_bool(bool b)
{
    wasitls_cval v; v.kind = WASITLS_CV_BOOL; v.of.b = b; return v;
}
static inline wasitls_cval wasitls_cv_var(uint8_t kind, uint32_t tag, wasitls_cval *payload)
{
    wasitls_cval v; v.kind = kind; v.of.var.tag = tag; v.of.var.payload = payload; return v;
}
static inline wasitls_cval wasitls_cv_own(void *rep)
{
    wasitls_cval v; v.kind = WASITLS_CV_OWN; v.of.res.rep = rep; v.of.res.handle = 0; return v;
}

/* ---- components and instances ---- */

/* Parses and validates the component's structure (hard limits; errors carry the byte offset)
 * and compiles its core modules (e NULL: parses and validates only; such a component can be
 * inspected but not instantiated). The bytes are copied. Constructs the loader does not support
 * (async built-ins, stream/future types, value definitions, start definitions, GC types) fail
 * with WASITLS_E_UNSUPPORTED_FEATURE naming the construct. Type checks that depend on
 * generative resource types happen in wasitls_cinstance_new. */
int wasitls_component_new(wasitls_engine *e, const uint8_t *bytes, size_t len,
                          wasitls_component **out, wasitls_error *err) WASITLS_MUST_CHECK;
void wasitls_component_free(wasitls_component *c);
/* Does the component export an instance named `iface` ("wasi:cli/run@0.2.0"; the version is
 * matched semver-compatibly, as wasitls_cinstance_call does; without "@version", any version)? */
bool wasitls_component_exports_interface(const wasitls_component *c, const char *iface);

/* Imports are resolved against the linker and type-checked; a missing or mismatched import
 * fails with WASITLS_E_LINK / WASITLS_E_TYPE_MISMATCH naming it (and the linker's hint). A
 * function the linker declares (WIT) but that has no C definition fails the same way when a
 * guest imports it. Core start functions run here; a trap fails with WASITLS_E_TRAP. */
int wasitls_cinstance_new(wasitls_component *c, wasitls_linker *l, void *host_data,
                          wasitls_cinstance **out, wasitls_error *err) WASITLS_MUST_CHECK;
void wasitls_cinstance_free(wasitls_cinstance *inst);

/* Calls an exported function: `name` is "iface#func" for a function of an exported interface
 * ("wasi:cli/run@0.2.0#run"; the version part is matched semver-compatibly) or a plain
 * top-level export name. Arguments are lowered into the guest; the result (if any) is lifted
 * into *result, whose strings/lists live in memory owned by the instance until the next call
 * on it. Post-return runs after the result is copied out. A trap returns WASITLS_E_TRAP (also
 * for a borrow the guest still holds when it returns); after a trap the instance refuses all
 * further calls, as the component model requires. Arguments that do not fit the function's
 * types, or host handles that are not valid, fail with WASITLS_E_INVAL and leave the instance
 * usable. Calling in while a call of the same instance is running (from a host function) is
 * refused. Results of kind OWN/BORROW: for host resources of.res.rep is the host pointer
 * (ownership moves to the host for OWN); for resources the component defines, of.res.handle
 * is a host-side handle (never reused) to pass back in later calls or to wasitls_cinstance_drop. */
int wasitls_cinstance_call(wasitls_cinstance *inst, const char *name, const wasitls_cval *args,
                           size_t nargs, wasitls_cval *result, bool *has_result,
                           wasitls_error *err) WASITLS_MUST_CHECK;

/* Drops a guest-defined resource that an export handed to the host (a result of kind OWN whose
 * of.res.handle is set): the guest's destructor runs. Such handles may also be passed back as
 * own/borrow arguments of later calls (own moves it back into the guest). */
int wasitls_cinstance_drop(wasitls_cinstance *inst, const wasitls_cval *own,
                           wasitls_error *err) WASITLS_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
