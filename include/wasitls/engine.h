/* wasitls engine: core WebAssembly through wasm2c, compiled by libtcc (fast tier) or the
 * system C compiler (opt tier), cached on disk, with traps that unwind only the guest call
 * that raised them.
 *
 * Objects and lifetimes
 *   wasitls_engine    one per process (or per configuration); owns the code cache handle.
 *                     Freed last: modules and instances must be freed before it.
 *   wasitls_module    a validated, compiled core module. Immutable and shareable; may be
 *                     instantiated any number of times. Freed after all its instances.
 *   wasitls_instance  one instantiation: memories, tables, globals of its own; imports wired
 *                     to host functions or other instances' exports. An instance whose exports
 *                     were passed as imports to another must outlive that other instance.
 *   wasitls_memory / wasitls_table / wasitls_global
 *                     owned by the instance that defines them; valid until it is freed.
 *
 * Traps
 *   wasitls_instance_call() is the only way into guest code from the host. A trap inside it
 *   (unreachable, out of bounds, integer divide by zero / overflow, invalid conversion, null or
 *   mismatched call_indirect, stack exhaustion, or a host function that asked to trap)
 *   unwinds to that call, which returns WASITLS_E_TRAP (WASITLS_E_EXHAUSTION for stack
 *   exhaustion) with a message in err. Nesting host -> guest -> host -> guest works: each
 *   wasitls_instance_call is its own unwind point. A crash in host code is not a guest trap:
 *   the process dies with the host's signal as usual.
 *
 * Threads: an engine and everything made from it are used by one thread at a time.
 */
#ifndef WASITLS_ENGINE_H
#define WASITLS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasitls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wasitls_engine wasitls_engine;
typedef struct wasitls_module wasitls_module;
typedef struct wasitls_instance wasitls_instance;
typedef struct wasitls_memory wasitls_memory;
typedef struct wasitls_table wasitls_table;
typedef struct wasitls_global wasitls_global;

/* The fast tier translates a module with many functions (over 2,000 defined) as several parts,
 * by parallel wasm2c and tcc processes (one per online CPU), linked into one shared object;
 * the opt tier always translates the whole module (cc then inlines across functions). The
 * environment variable WASITLS_SPLIT_FUNCS, read when a module is compiled, overrides that:
 * "0" never splits; N > 0 splits every module the fast tier compiles into parts of at most N
 * functions and fails where such a split does not compile but the whole module does (tests use
 * it); unset or invalid is the automatic choice. It is part of the cache key. */
typedef enum wasitls_tier {
    WASITLS_TIER_FAST = 0, /* libtcc, in process */
    WASITLS_TIER_OPT = 1,  /* system cc -O2 into a shared object */
} wasitls_tier;

typedef struct wasitls_engine_config {
    wasitls_tier tier;
    const char *cache_dir; /* NULL: $WASITLS_CACHE_DIR, else $XDG_CACHE_HOME/wasitls, else ~/.cache/wasitls */
    bool no_cache;         /* compile every time, never read or write the cache */
    int progress;          /* 1: report long compiles on stderr (default when stderr is a tty or
                              the compile exceeds ~1 s); 0: silent; -1: auto */
    uint32_t max_stack_depth; /* reserved: exhaustion is currently detected when guest code
                                 reaches the thread's stack guard (8 MiB main-thread default) */
} wasitls_engine_config;

void wasitls_engine_config_default(wasitls_engine_config *cfg);
int wasitls_engine_new(const wasitls_engine_config *cfg, wasitls_engine **out,
                       wasitls_error *err) WASITLS_MUST_CHECK;
void wasitls_engine_free(wasitls_engine *e);

/* ---- types ---- */

typedef enum wasitls_valkind {
    WASITLS_I32 = 0x7f,
    WASITLS_I64 = 0x7e,
    WASITLS_F32 = 0x7d,
    WASITLS_F64 = 0x7c,
    WASITLS_V128 = 0x7b,
    WASITLS_FUNCREF = 0x70,
    WASITLS_EXTERNREF = 0x6f,
} wasitls_valkind;

typedef struct wasitls_functype {
    uint32_t nparams, nresults;
    const uint8_t *params;  /* wasitls_valkind each; owned by the module */
    const uint8_t *results;
} wasitls_functype;

typedef enum wasitls_externkind {
    WASITLS_EXTERN_FUNC = 0,
    WASITLS_EXTERN_TABLE = 1,
    WASITLS_EXTERN_MEMORY = 2,
    WASITLS_EXTERN_GLOBAL = 3,
} wasitls_externkind;

typedef struct wasitls_limits {
    uint64_t min, max;
    bool has_max;
} wasitls_limits;

typedef struct wasitls_externtype {
    wasitls_externkind kind;
    wasitls_functype func;                                       /* FUNC */
    struct { uint8_t elem; wasitls_limits limits; } table;       /* TABLE */
    wasitls_limits memory;                                       /* MEMORY (pages) */
    struct { uint8_t type; bool mut; } global;                   /* GLOBAL */
} wasitls_externtype;

/* Names are NUL-terminated views owned by the module. WebAssembly names may contain U+0000;
 * such a name is kept whole for linking inside the engine, but its C-string view ends at the
 * first NUL (lookups by name cannot tell such names apart). */
typedef struct wasitls_importdesc {
    const char *module; /* NUL-terminated, owned by the module */
    const char *name;
    wasitls_externtype type;
} wasitls_importdesc;

typedef struct wasitls_exportdesc {
    const char *name;
    wasitls_externtype type;
} wasitls_exportdesc;

/* A function reference value (funcref). Opaque to the host except for null-ness: a funcref
 * the guest hands out is a non-NULL pointer that identifies the function; the host can only
 * pass the null funcref (NULL) into the guest. An externref is any host pointer (NULL = null). */
typedef struct wasitls_funcref wasitls_funcref;

typedef struct wasitls_val {
    uint8_t kind; /* wasitls_valkind */
    union {
        uint32_t i32;
        uint64_t i64;
        float f32;
        double f64;
        uint8_t v128[16];
        void *ref; /* funcref/externref; NULL is the null reference */
    } of;
} wasitls_val;

/* ---- modules ---- */

/* Validates and compiles (or loads from cache) a core module. `name` is used in messages and
 * progress output only. The bytes are not retained. Invalid modules fail with
 * WASITLS_E_MALFORMED / WASITLS_E_INVALID and an offset; modules using features this engine
 * cannot run (SIMD, threads, memory64, tail calls, exceptions, GC) fail with
 * WASITLS_E_UNSUPPORTED_FEATURE naming the feature. */
int wasitls_module_new(wasitls_engine *e, const uint8_t *bytes, size_t len, const char *name,
                       wasitls_module **out, wasitls_error *err) WASITLS_MUST_CHECK;
/* Only validates (no compile): structure, features, and function bodies (with wabt's
 * validator, the same one the compile path runs). */
int wasitls_module_validate(const uint8_t *bytes, size_t len, wasitls_error *err) WASITLS_MUST_CHECK;
void wasitls_module_free(wasitls_module *m);

size_t wasitls_module_import_count(const wasitls_module *m);
const wasitls_importdesc *wasitls_module_import(const wasitls_module *m, size_t i);
size_t wasitls_module_export_count(const wasitls_module *m);
const wasitls_exportdesc *wasitls_module_export(const wasitls_module *m, size_t i);
/* Index of the export, or -1. */
long wasitls_module_find_export(const wasitls_module *m, const char *name);

/* ---- host functions and caller context ---- */

typedef struct wasitls_caller wasitls_caller;

/* A host function. args has type->nparams values, results has room for type->nresults.
 * Return 0 to continue the guest, or a negative code to trap it: the message given with
 * wasitls_caller_trap() (or wasitls_strerror(code)) becomes the trap message. Host functions
 * may call back into guest code with wasitls_instance_call(). */
typedef int (*wasitls_host_func)(wasitls_caller *caller, void *env, const wasitls_val *args,
                                 wasitls_val *results);

/* Records a trap message for the current host call; returns WASITLS_E_TRAP. */
int wasitls_caller_trap(wasitls_caller *caller, const char *fmt, ...) WASITLS_PRINTF(2, 3);
/* The instance whose code called this host function. */
wasitls_instance *wasitls_caller_instance(wasitls_caller *caller);

/* ---- instances ---- */

/* What an import is satisfied with. For FUNC: either a host function (host + env + type,
 * checked against the import's type), or another instance's function export (from
 * wasitls_instance_export_extern). */
typedef struct wasitls_extern {
    wasitls_externkind kind;
    union {
        struct {
            wasitls_host_func host; /* non-NULL: host function */
            void *env;
            const void *internal;   /* set by wasitls_instance_export_extern; do not touch */
        } func;
        wasitls_memory *memory;
        wasitls_table *table;
        wasitls_global *global;
    } of;
} wasitls_extern;

/* Instantiates m with imports[i] satisfying import i (nimports must equal the import count).
 * Runs the module's start function; a trap there fails with WASITLS_E_TRAP. `host_data` is
 * stored in the instance for host functions to find (wasitls_instance_host_data). */
int wasitls_instance_new(wasitls_module *m, const wasitls_extern *imports, size_t nimports,
                         void *host_data, wasitls_instance **out,
                         wasitls_error *err) WASITLS_MUST_CHECK;
void wasitls_instance_free(wasitls_instance *inst);
void *wasitls_instance_host_data(const wasitls_instance *inst);
wasitls_module *wasitls_instance_module(const wasitls_instance *inst);

/* An export as an extern, to wire into another instance's imports. */
int wasitls_instance_export_extern(wasitls_instance *inst, const char *name,
                                   wasitls_extern *out) WASITLS_MUST_CHECK;

/* Calls an exported function (by export index). args/results as the function's type. On a
 * trap returns WASITLS_E_TRAP / WASITLS_E_EXHAUSTION with the message in err; the instance
 * stays usable afterwards (its memory keeps whatever the guest wrote before trapping). */
int wasitls_instance_call(wasitls_instance *inst, size_t export_index, const wasitls_val *args,
                          size_t nargs, wasitls_val *results, size_t nresults,
                          wasitls_error *err) WASITLS_MUST_CHECK;
/* Calls a function given as an extern (an export of some instance, e.g. a realloc or a
 * post-return function the component layer looked up); same trap rules. */
int wasitls_extern_call(const wasitls_extern *fn, const wasitls_val *args, size_t nargs,
                        wasitls_val *results, size_t nresults, wasitls_error *err) WASITLS_MUST_CHECK;
/* The type of a FUNC extern. */
const wasitls_functype *wasitls_extern_functype(const wasitls_extern *fn);

/* ---- memories, tables, globals ---- */

/* Current base and size in bytes. The base may move on grow: re-read it after any call into
 * the guest. */
uint8_t *wasitls_memory_data(wasitls_memory *mem);
uint64_t wasitls_memory_size(const wasitls_memory *mem);
/* Grows by `pages` 64 KiB pages; returns the old page count, or -1 on failure. */
int64_t wasitls_memory_grow(wasitls_memory *mem, uint64_t pages);

uint32_t wasitls_table_size(const wasitls_table *t);
int wasitls_table_get(const wasitls_table *t, uint32_t i, wasitls_val *out) WASITLS_MUST_CHECK;

int wasitls_global_get(const wasitls_global *g, wasitls_val *out) WASITLS_MUST_CHECK;
int wasitls_global_set(wasitls_global *g, const wasitls_val *v) WASITLS_MUST_CHECK;

/* ---- ahead-of-time ---- */

/* Compiles into the cache without instantiating (what `wasitls compile` does). */
int wasitls_engine_precompile(wasitls_engine *e, const uint8_t *bytes, size_t len,
                              const char *name, wasitls_error *err) WASITLS_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
