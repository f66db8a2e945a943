/* The ABI shared by the engine's runtime (rt.c) and every generated module.
 *
 * This file is compiled twice: into the host, and - embedded as text - at the top of each
 * module's generated C in place of wabt's wasm-rt.h. Generated code reaches the runtime only
 * through the `wasitls__rt` table, so a compiled module has no undefined symbols of ours: the
 * same code works in memory (libtcc) and as a dlopen'ed shared object that was built without
 * knowing which executable will load it.
 *
 * Keep it self-contained: no includes beyond the C library, no host-only declarations.
 */
#ifndef WASITLS_PRELUDE_H
#define WASITLS_PRELUDE_H
#define WASM_RT_H_ 1 /* the generated header must not pull in wabt's wasm-rt.h */

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bounds checks are done by guard pages: every memory reserves 8 GiB + a page. */
#define WASM_RT_MEMCHECK_SIGNAL_HANDLER 1
#define WASM_RT_SIGNAL_RECOVERY_SUPPORTED 1
#define WASM_RT_USE_STACK_DEPTH_COUNT 0
#define WASM_RT_MERGED_OOB_AND_EXHAUSTION_TRAPS 0

#if defined(__GNUC__) && !defined(__TINYC__)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define wasm_rt_memcpy __builtin_memcpy
#define WASM_RT_NO_RETURN __attribute__((noreturn))
#else
#define UNLIKELY(x) (x)
#define LIKELY(x) (x)
#define wasm_rt_memcpy memcpy
#define WASM_RT_NO_RETURN
#endif

typedef enum {
    WASM_RT_TRAP_NONE,
    WASM_RT_TRAP_OOB,
    WASM_RT_TRAP_INT_OVERFLOW,
    WASM_RT_TRAP_DIV_BY_ZERO,
    WASM_RT_TRAP_INVALID_CONVERSION,
    WASM_RT_TRAP_UNREACHABLE,
    WASM_RT_TRAP_CALL_INDIRECT,
    WASM_RT_TRAP_UNCAUGHT_EXCEPTION,
    WASM_RT_TRAP_EXHAUSTION,
} wasm_rt_trap_t;

typedef enum {
    WASM_RT_I32,
    WASM_RT_I64,
    WASM_RT_F32,
    WASM_RT_F64,
    WASM_RT_FUNCREF,
    WASM_RT_EXTERNREF,
} wasm_rt_type_t;

typedef void (*wasm_rt_function_ptr_t)(void);

/* func_type is an id from the process-wide structural registry, so two modules that declare
 * the same signature get the same id and call_indirect works across modules. */
typedef struct {
    uint32_t func_type;
    wasm_rt_function_ptr_t func;
    void *module_instance;
} wasm_rt_funcref_t;
static const wasm_rt_funcref_t wasm_rt_funcref_null_value = {0, NULL, NULL};

typedef void *wasm_rt_externref_t;
static const wasm_rt_externref_t wasm_rt_externref_null_value = NULL;

typedef struct {
    uint8_t *data;
    uint32_t pages, max_pages;
    uint32_t size;
} wasm_rt_memory_t;

typedef struct {
    wasm_rt_funcref_t *data;
    uint32_t max_size;
    uint32_t size;
} wasm_rt_funcref_table_t;

typedef struct {
    wasm_rt_externref_t *data;
    uint32_t max_size;
    uint32_t size;
} wasm_rt_externref_table_t;

/* A value crossing between host and generated code; layout equals wasitls_val (engine.h). */
typedef struct wasitls__val {
    uint8_t kind;
    union {
        uint32_t i32;
        uint64_t i64;
        float f32;
        double f64;
        uint8_t v128[16];
        void *ref;
    } of;
} wasitls__val;

/* One import of an instance. FUNC: fn is called as fn(ctx, args...) - either another
 * instance's export (ctx = that instance) or the generated boxing stub of this import (ctx =
 * the runtime's host binding). MEMORY/TABLE/GLOBAL: ctx points at the object. */
typedef struct wasitls__slot {
    void *fn;
    void *ctx;
} wasitls__slot;

/* Everything generated code may ask of the runtime. Append only. */
typedef struct wasitls__rt_api {
    uint32_t version;
    void (*trap)(wasm_rt_trap_t);
    uint32_t (*register_func_type)(uint32_t params, uint32_t results, const wasm_rt_type_t *types);
    void (*allocate_memory)(wasm_rt_memory_t *, uint32_t initial_pages, uint32_t max_pages);
    uint32_t (*grow_memory)(wasm_rt_memory_t *, uint32_t pages);
    void (*free_memory)(wasm_rt_memory_t *);
    void (*allocate_funcref_table)(wasm_rt_funcref_table_t *, uint32_t elements, uint32_t max);
    void (*free_funcref_table)(wasm_rt_funcref_table_t *);
    uint32_t (*grow_funcref_table)(wasm_rt_funcref_table_t *, uint32_t delta,
                                   wasm_rt_funcref_t init);
    void (*allocate_externref_table)(wasm_rt_externref_table_t *, uint32_t elements, uint32_t max);
    void (*free_externref_table)(wasm_rt_externref_table_t *);
    uint32_t (*grow_externref_table)(wasm_rt_externref_table_t *, uint32_t delta,
                                     wasm_rt_externref_t init);
    /* Calls the host function bound to ctx; traps (does not return) if it fails. */
    void (*host_call)(void *ctx, const wasitls__val *args, wasitls__val *results);
} wasitls__rt_api;

#define WASITLS__RT_API_VERSION 1

/* What a generated module hands the runtime (wasitls__module_entry fills it). */
typedef struct wasitls__export_fn {
    void *direct; /* typed: T f(inst, ...) */
    void (*call)(void *inst, const wasitls__val *args, wasitls__val *results); /* boxed */
    void *(*get)(void *inst); /* memory/table/global: pointer to the object */
} wasitls__export_fn;

typedef struct wasitls__glue {
    uint32_t abi_version;
    uint32_t nimports, nexports;
    size_t instance_size; /* bytes to allocate (zeroed) per instance */
    size_t slots_offset;  /* offset of the wasitls__slot array within an instance */
    void (*init_module)(void);
    void (*instantiate)(void *inst); /* runs data/elem init and the start function */
    void (*free)(void *inst);
    void **import_box; /* per import: boxing stub for host functions (NULL for non-func) */
    wasitls__export_fn *exports;
} wasitls__glue;

#define WASITLS__GLUE_ABI 1

typedef void (*wasitls__entry_fn)(const wasitls__rt_api *rt, wasitls__glue *out);
#define WASITLS__ENTRY_NAME "wasitls__module_entry"

#endif
