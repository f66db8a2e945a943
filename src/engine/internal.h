/* Engine internals shared by parse.c, gen.c, compile.c, rt.c and engine.c. */
#ifndef WASITLS_ENGINE_INTERNAL_H
#define WASITLS_ENGINE_INTERNAL_H

#include <setjmp.h>
#include <stdio.h>

#include "prelude.h"
#include "wasitls/cursor.h"
#include "wasitls/engine.h"

/* ---- parsed module (parse.c) ---- */

typedef struct wasitls__global_def {
    uint8_t type;
    bool mut;
} wasitls__global_def;

typedef struct wasitls__table_def {
    uint8_t elem;
    wasitls_limits limits;
} wasitls__table_def;

typedef struct wasitls__modinfo {
    uint32_t ntypes;
    wasitls_functype *types; /* params/results point into `typebytes` */
    uint8_t *typebytes;

    uint32_t nimports;
    wasitls_importdesc *imports; /* module/name are heap strings */
    uint32_t *import_lens;       /* byte lengths: [2i] module, [2i+1] name (may hold NULs) */

    uint32_t nfuncs, nimported_funcs;
    uint32_t *func_types; /* type index per function (imports first) */
    uint32_t ntables, nimported_tables;
    wasitls__table_def *tables;
    uint32_t nmems, nimported_mems;
    wasitls_limits *mems;
    uint32_t nglobals, nimported_globals;
    wasitls__global_def *globals;

    uint32_t nexports;
    wasitls_exportdesc *exports; /* name is a heap string */
    uint32_t *export_index;      /* index in its kind's index space */
    uint32_t *export_lens;       /* byte length of each export name (may hold NULs) */
} wasitls__modinfo;

int wasitls__parse(const uint8_t *bytes, size_t len, wasitls__modinfo *out, wasitls_error *err);
void wasitls__modinfo_free(wasitls__modinfo *mi);

/* What wasitls__scan_body reports: a function index immediate (call, ref.func) at
 * [start, end) with its value, or a segment instruction (memory.init, data.drop, table.init,
 * elem.drop; value = the 0xfc sub-opcode). */
enum { WASITLS__REF_FUNC = 0, WASITLS__REF_SEGMENT = 1 };
typedef void (*wasitls__ref_fn)(void *ctx, int what, size_t start, size_t end, uint32_t value);
/* Walks one function body (locals, then instructions) of a module parse() accepted. */
int wasitls__scan_body(wasitls_cursor *c, const wasitls__modinfo *mi, wasitls__ref_fn ref,
                       void *ctx);

/* ---- generated glue (gen.c) ---- */

struct wasitls__split;

/* Appends the per-module trampolines / stubs / entry point for mi to a growing buffer. */
typedef struct wasitls__buf {
    char *p;
    size_t len, cap;
    bool oom;
} wasitls__buf;
void wasitls__buf_put(wasitls__buf *b, const char *s, size_t n);
void wasitls__buf_puts(wasitls__buf *b, const char *s);
void wasitls__buf_printf(wasitls__buf *b, const char *fmt, ...) WASITLS_PRINTF(2, 3);
void wasitls__buf_free(wasitls__buf *b);

/* The module name given to wasm2c (-n); it prefixes every generated symbol. */
#define WASITLS__W2C_NAME "wasitls_m"

/* The text that replaces wasm-rt.h in front of the generated code. */
void wasitls__gen_prelude(wasitls__buf *b);
/* The glue after the generated code; sp is NULL for a whole module, else the split (the
 * glue then goes after part 0's code, and instantiates, frees and initialises every part). */
int wasitls__gen_glue(const wasitls__modinfo *mi, const struct wasitls__split *sp, wasitls__buf *b,
                      wasitls_error *err);
/* What follows part k's generated code: size, rt setter, init, instantiate and free helpers
 * that part 0's glue calls. */
void wasitls__gen_part_tail(const struct wasitls__split *sp, uint32_t k, wasitls__buf *b);

/* ---- splitting a large module for parallel translation (split.c) ---- */

/* wasm2c names of the parts: part 0 keeps WASITLS__W2C_NAME, part k >= 1 is "wasitls_p<k>". */
#define WASITLS__PART_PREFIX "wasitls_p"

/* A module split into K parts. Part 0 keeps every import, memory, table, global, export, data and
 * elem segment of the original, the functions that use segment instructions, and imports the
 * other functions it references from the parts that define them; it re-exports (under names
 * starting "wasitls:") its memory, tables, globals and the original imported functions the
 * parts call, and the start function, which the glue calls after every part is instantiated.
 * Parts 1..K-1 import those and define a contiguous share of the functions, exporting the ones
 * other parts reference as "f<original index>". */
typedef struct wasitls__split {
    uint32_t nparts;
    wasitls__buf *mods; /* [nparts]: each part's module bytes */
    uint8_t *uses;      /* [nparts * nparts]: uses[k * nparts + j] = part k imports from part j */
    bool has_start;
} wasitls__split;

/* Splits bytes (already accepted by wasitls__parse into mi) into parts of at most `per_part`
 * defined functions each (contiguous runs). Fails when the module cannot be split, e.g. an
 * export name that clashes with the internal ones, or on some invalid modules (the caller
 * then compiles the whole module, which reports them). */
int wasitls__split_make(const uint8_t *bytes, size_t len, const wasitls__modinfo *mi,
                        uint32_t per_part, wasitls__split *out, wasitls_error *err);
void wasitls__split_free(wasitls__split *s);

/* ---- compile tiers and cache (compile.c) ---- */

typedef struct wasitls__progress wasitls__progress;

typedef struct wasitls__code {
    wasitls_tier tier;
    void *tcc; /* TCCState*, fast tier */
    void *dl;  /* dlopen handle, opt tier */
    wasitls__glue glue;
} wasitls__code;

int wasitls__compile(wasitls_engine *e, const wasitls__modinfo *mi, const uint8_t *bytes,
                     size_t len, const char *name, bool load, wasitls__code *out,
                     wasitls_error *err);
void wasitls__code_free(wasitls__code *c);
/* Type-checks function bodies with wabt's validator (the code wasm2c would reject). */
int wasitls__validate_code(const uint8_t *bytes, size_t len, wasitls_error *err);

/* ---- runtime (rt.c) ---- */

extern const wasitls__rt_api wasitls__rt_impl;

uint32_t wasitls__functype_id(const wasitls_functype *ft);

/* A host function bound to an import slot (slot.ctx). */
typedef struct wasitls__host_binding {
    wasitls_host_func fn;
    void *env;
    const wasitls_functype *type;
    wasitls_instance *inst; /* the importing instance (the caller) */
} wasitls__host_binding;

/* Runs fn(arg) as a guest call: a trap unwinds to here. Returns 0, WASITLS_E_TRAP or
 * WASITLS_E_EXHAUSTION (message in err). */
int wasitls__guest_call(void (*fn)(void *), void *arg, wasitls_error *err);

/* ---- objects (engine.c) ---- */

struct wasitls_engine {
    wasitls_engine_config cfg;
    char *cache_dir; /* NULL when caching is off */
};

struct wasitls_module {
    wasitls_engine *engine;
    char *name;
    wasitls__modinfo info;
    wasitls__code code;
    uint32_t *export_type_ids; /* funcs: structural type id */
};

struct wasitls_memory {
    wasm_rt_memory_t *rt;
    bool has_max;
};
struct wasitls_table {
    uint8_t elem;
    bool has_max;
    void *rt; /* wasm_rt_funcref_table_t* or wasm_rt_externref_table_t* */
};
struct wasitls_global {
    uint8_t type;
    bool mut;
    void *p;
};

/* What an exported function extern points at (wasitls_extern.of.func.internal). */
typedef struct wasitls__funcext {
    wasitls_instance *inst;
    const wasitls_functype *type;
    void *direct;
    void (*call)(void *, const wasitls__val *, wasitls__val *);
} wasitls__funcext;

struct wasitls_instance {
    wasitls_module *module;
    void *host_data;
    void *w2c;                    /* the generated instance struct (glue.instance_size bytes) */
    wasitls__host_binding *hosts; /* per import */
    wasitls__funcext *funcs;      /* per export (func exports only filled) */
    struct wasitls_memory *mems;  /* per export */
    struct wasitls_table *tables;
    struct wasitls_global *globals;
    bool instantiated;
};

#endif
