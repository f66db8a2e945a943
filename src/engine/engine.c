/* Public engine API: engines, modules, instances, calls, memories, tables, globals. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

void wasitls_engine_config_default(wasitls_engine_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tier = WASITLS_TIER_FAST;
    cfg->progress = -1;
}

static int mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST) return -1;
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

int wasitls_engine_new(const wasitls_engine_config *cfg, wasitls_engine **out, wasitls_error *err)
{
    wasitls_engine *e = calloc(1, sizeof *e);
    if (!e) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    if (cfg)
        e->cfg = *cfg;
    else
        wasitls_engine_config_default(&e->cfg);
    if (!e->cfg.no_cache) {
        char buf[4096];
        const char *env;
        if (e->cfg.cache_dir && *e->cfg.cache_dir)
            snprintf(buf, sizeof buf, "%s", e->cfg.cache_dir);
        else if ((env = getenv("WASITLS_CACHE_DIR")) && *env)
            snprintf(buf, sizeof buf, "%s", env);
        else if ((env = getenv("XDG_CACHE_HOME")) && *env == '/')
            snprintf(buf, sizeof buf, "%s/wasitls", env);
        else if ((env = getenv("HOME")) && *env)
            snprintf(buf, sizeof buf, "%s/.cache/wasitls", env);
        else
            buf[0] = 0;
        /* without a usable cache directory we still run, just without a cache */
        if (buf[0] && mkdir_p(buf) == 0) e->cache_dir = strdup(buf);
    }
    *out = e;
    return 0;
}

void wasitls_engine_free(wasitls_engine *e)
{
    if (!e) return;
    free(e->cache_dir);
    free(e);
}

/* ---- modules ---- */

int wasitls_module_validate(const uint8_t *bytes, size_t len, wasitls_error *err)
{
    wasitls__modinfo mi;
    int rc = wasitls__parse(bytes, len, &mi, err);
    if (rc) return rc;
    wasitls__modinfo_free(&mi);
    return wasitls__validate_code(bytes, len, err);
}

static int load(wasitls_engine *e, const uint8_t *bytes, size_t len, const char *name, bool doload,
                wasitls_module **out, wasitls_error *err)
{
    wasitls_error_clear(err);
    wasitls_module *m = calloc(1, sizeof *m);
    if (!m) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    m->engine = e;
    m->name = strdup(name ? name : "module");
    int rc = wasitls__parse(bytes, len, &m->info, err);
    if (rc) goto fail;
    rc = wasitls__compile(e, &m->info, bytes, len, m->name, doload, &m->code, err);
    if (rc) goto fail;
    if (!doload) {
        wasitls_module_free(m);
        return 0;
    }
    if (m->code.glue.abi_version != WASITLS__GLUE_ABI ||
        m->code.glue.nimports != m->info.nimports || m->code.glue.nexports != m->info.nexports) {
        rc = wasitls_error_set(err, WASITLS_E_INTERNAL, "generated code does not match the module");
        goto fail;
    }
    /* init_module registers function types; it cannot trap except on out-of-memory */
    rc = wasitls__guest_call((void (*)(void *))m->code.glue.init_module, NULL, err);
    if (rc) goto fail;
    m->export_type_ids = calloc(m->info.nexports + 1, sizeof *m->export_type_ids);
    if (!m->export_type_ids) {
        rc = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < m->info.nexports; i++)
        if (m->info.exports[i].type.kind == WASITLS_EXTERN_FUNC)
            m->export_type_ids[i] = wasitls__functype_id(&m->info.exports[i].type.func);
    *out = m;
    return 0;
fail:
    if (name) wasitls_error_prefix(err, "%s", name);
    wasitls_module_free(m);
    return rc;
}

int wasitls_module_new(wasitls_engine *e, const uint8_t *bytes, size_t len, const char *name,
                       wasitls_module **out, wasitls_error *err)
{
    return load(e, bytes, len, name, true, out, err);
}

int wasitls_engine_precompile(wasitls_engine *e, const uint8_t *bytes, size_t len, const char *name,
                              wasitls_error *err)
{
    wasitls_module *unused = NULL;
    return load(e, bytes, len, name, false, &unused, err);
}

void wasitls_module_free(wasitls_module *m)
{
    if (!m) return;
    wasitls__code_free(&m->code);
    wasitls__modinfo_free(&m->info);
    free(m->export_type_ids);
    free(m->name);
    free(m);
}

size_t wasitls_module_import_count(const wasitls_module *m)
{
    return m->info.nimports;
}
const wasitls_importdesc *wasitls_module_import(const wasitls_module *m, size_t i)
{
    return i < m->info.nimports ? &m->info.imports[i] : NULL;
}
size_t wasitls_module_export_count(const wasitls_module *m)
{
    return m->info.nexports;
}
const wasitls_exportdesc *wasitls_module_export(const wasitls_module *m, size_t i)
{
    return i < m->info.nexports ? &m->info.exports[i] : NULL;
}
long wasitls_module_find_export(const wasitls_module *m, const char *name)
{
    for (uint32_t i = 0; i < m->info.nexports; i++)
        if (!strcmp(m->info.exports[i].name, name)) return (long)i;
    return -1;
}

/* ---- instances ---- */

static bool functype_eq(const wasitls_functype *a, const wasitls_functype *b)
{
    return a->nparams == b->nparams && a->nresults == b->nresults &&
           !memcmp(a->params, b->params, a->nparams) &&
           !memcmp(a->results, b->results, a->nresults);
}

static const char *kind_name(wasitls_externkind k)
{
    static const char *n[] = {"function", "table", "memory", "global"};
    return (unsigned)k < 4 ? n[k] : "?";
}

static bool limits_match(uint64_t cur, bool has_max, uint64_t max, const wasitls_limits *want)
{
    if (cur < want->min) return false;
    if (want->has_max && (!has_max || max > want->max)) return false;
    return true;
}

static void do_instantiate(void *arg)
{
    wasitls_instance *inst = arg;
    inst->module->code.glue.instantiate(inst->w2c);
}

int wasitls_instance_new(wasitls_module *m, const wasitls_extern *imports, size_t nimports,
                         void *host_data, wasitls_instance **out, wasitls_error *err)
{
    wasitls_error_clear(err);
    const wasitls__glue *g = &m->code.glue;
    if (nimports != m->info.nimports)
        return wasitls_error_set(err, WASITLS_E_LINK, "%s: %zu imports given, module has %u",
                                 m->name, nimports, m->info.nimports);
    int rc = 0;
    wasitls_instance *inst = calloc(1, sizeof *inst);
    if (!inst) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    inst->module = m;
    inst->host_data = host_data;
    uint32_t ne = m->info.nexports;
    inst->w2c = calloc(1, g->instance_size);
    inst->hosts = calloc(nimports + 1, sizeof *inst->hosts);
    inst->funcs = calloc(ne + 1, sizeof *inst->funcs);
    inst->mems = calloc(ne + 1, sizeof *inst->mems);
    inst->tables = calloc(ne + 1, sizeof *inst->tables);
    inst->globals = calloc(ne + 1, sizeof *inst->globals);
    if (!inst->w2c || !inst->hosts || !inst->funcs || !inst->mems || !inst->tables ||
        !inst->globals) {
        rc = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
        goto fail;
    }
    wasitls__slot *slots = (wasitls__slot *)((char *)inst->w2c + g->slots_offset);
    for (size_t i = 0; i < nimports; i++) {
        const wasitls_importdesc *im = &m->info.imports[i];
        const wasitls_extern *x = &imports[i];
        if (x->kind != im->type.kind) {
            rc = wasitls_error_set(err, WASITLS_E_LINK, "import %s.%s: expected a %s, got a %s",
                                   im->module, im->name, kind_name(im->type.kind),
                                   kind_name(x->kind));
            goto fail;
        }
        switch (x->kind) {
        case WASITLS_EXTERN_FUNC:
            if (x->of.func.host) {
                wasitls__host_binding *hb = &inst->hosts[i];
                hb->fn = x->of.func.host;
                hb->env = x->of.func.env;
                hb->type = &im->type.func;
                hb->inst = inst;
                slots[i].fn = g->import_box[i];
                slots[i].ctx = hb;
            } else {
                const wasitls__funcext *fx = x->of.func.internal;
                if (!fx) {
                    rc = wasitls_error_set(err, WASITLS_E_LINK, "import %s.%s: no function given",
                                           im->module, im->name);
                    goto fail;
                }
                if (!functype_eq(fx->type, &im->type.func)) {
                    rc = wasitls_error_set(
                        err, WASITLS_E_LINK,
                        "import %s.%s: incompatible import type (function signature differs)",
                        im->module, im->name);
                    goto fail;
                }
                slots[i].fn = fx->direct;
                slots[i].ctx = fx->inst->w2c;
            }
            break;
        case WASITLS_EXTERN_MEMORY: {
            wasitls_memory *mem = x->of.memory;
            if (!mem ||
                !limits_match(mem->rt->pages, mem->has_max, mem->rt->max_pages, &im->type.memory)) {
                rc = wasitls_error_set(err, WASITLS_E_LINK,
                                       "import %s.%s: incompatible import type (memory limits)",
                                       im->module, im->name);
                goto fail;
            }
            slots[i].ctx = mem->rt;
            break;
        }
        case WASITLS_EXTERN_TABLE: {
            wasitls_table *t = x->of.table;
            uint32_t size = t ? wasitls_table_size(t) : 0;
            uint32_t max = !t ? 0
                           : t->elem == WASITLS_FUNCREF
                               ? ((wasm_rt_funcref_table_t *)t->rt)->max_size
                               : ((wasm_rt_externref_table_t *)t->rt)->max_size;
            if (!t || t->elem != im->type.table.elem ||
                !limits_match(size, t->has_max, max, &im->type.table.limits)) {
                rc = wasitls_error_set(err, WASITLS_E_LINK,
                                       "import %s.%s: incompatible import type (table)", im->module,
                                       im->name);
                goto fail;
            }
            slots[i].ctx = t->rt;
            break;
        }
        case WASITLS_EXTERN_GLOBAL: {
            wasitls_global *gl = x->of.global;
            if (!gl || gl->type != im->type.global.type || gl->mut != im->type.global.mut) {
                rc = wasitls_error_set(err, WASITLS_E_LINK,
                                       "import %s.%s: incompatible import type (global)",
                                       im->module, im->name);
                goto fail;
            }
            slots[i].ctx = gl->p;
            break;
        }
        }
    }
    rc = wasitls__guest_call(do_instantiate, inst, err);
    inst->instantiated = true; /* even after a trap, whatever was allocated must be freed */
    if (rc) goto fail;
    for (uint32_t i = 0; i < ne; i++) {
        const wasitls_exportdesc *ex = &m->info.exports[i];
        const wasitls__export_fn *ef = &g->exports[i];
        switch (ex->type.kind) {
        case WASITLS_EXTERN_FUNC:
            inst->funcs[i] = (wasitls__funcext){inst, &ex->type.func, ef->direct, ef->call};
            break;
        case WASITLS_EXTERN_MEMORY:
            inst->mems[i].rt = ef->get(inst->w2c);
            inst->mems[i].has_max = ex->type.memory.has_max;
            break;
        case WASITLS_EXTERN_TABLE:
            inst->tables[i].rt = ef->get(inst->w2c);
            inst->tables[i].elem = ex->type.table.elem;
            inst->tables[i].has_max = ex->type.table.limits.has_max;
            break;
        case WASITLS_EXTERN_GLOBAL:
            inst->globals[i].p = ef->get(inst->w2c);
            inst->globals[i].type = ex->type.global.type;
            inst->globals[i].mut = ex->type.global.mut;
            break;
        }
    }
    *out = inst;
    return 0;
fail:
    wasitls_error_prefix(err, "instantiating %s", m->name);
    wasitls_instance_free(inst);
    return rc;
}

void wasitls_instance_free(wasitls_instance *inst)
{
    if (!inst) return;
    if (inst->instantiated && inst->w2c) inst->module->code.glue.free(inst->w2c);
    free(inst->w2c);
    free(inst->hosts);
    free(inst->funcs);
    free(inst->mems);
    free(inst->tables);
    free(inst->globals);
    free(inst);
}

void *wasitls_instance_host_data(const wasitls_instance *inst)
{
    return inst->host_data;
}
wasitls_module *wasitls_instance_module(const wasitls_instance *inst)
{
    return inst->module;
}

int wasitls_instance_export_extern(wasitls_instance *inst, const char *name, wasitls_extern *out)
{
    long i = wasitls_module_find_export(inst->module, name);
    if (i < 0) return WASITLS_E_NOTFOUND;
    memset(out, 0, sizeof *out);
    out->kind = inst->module->info.exports[i].type.kind;
    switch (out->kind) {
    case WASITLS_EXTERN_FUNC:
        out->of.func.internal = &inst->funcs[i];
        break;
    case WASITLS_EXTERN_MEMORY:
        out->of.memory = &inst->mems[i];
        break;
    case WASITLS_EXTERN_TABLE:
        out->of.table = &inst->tables[i];
        break;
    case WASITLS_EXTERN_GLOBAL:
        out->of.global = &inst->globals[i];
        break;
    }
    return 0;
}

typedef struct call_args {
    const wasitls__funcext *fx;
    const wasitls_val *args;
    wasitls_val *results;
} call_args;

static void do_call(void *arg)
{
    call_args *c = arg;
    c->fx->call(c->fx->inst->w2c, (const wasitls__val *)c->args, (wasitls__val *)c->results);
}

static int call_fx(const wasitls__funcext *fx, const wasitls_val *args, size_t nargs,
                   wasitls_val *results, size_t nresults, wasitls_error *err)
{
    wasitls_error_clear(err);
    const wasitls_functype *ft = fx->type;
    if (nargs != ft->nparams || nresults != ft->nresults)
        return wasitls_error_set(err, WASITLS_E_TYPE_MISMATCH,
                                 "expected %u arguments and %u results, got %zu and %zu",
                                 ft->nparams, ft->nresults, nargs, nresults);
    for (size_t i = 0; i < nargs; i++)
        if (args[i].kind != ft->params[i])
            return wasitls_error_set(err, WASITLS_E_TYPE_MISMATCH,
                                     "argument %zu has the wrong type", i);
    call_args c = {fx, args, results};
    return wasitls__guest_call(do_call, &c, err);
}

int wasitls_instance_call(wasitls_instance *inst, size_t export_index, const wasitls_val *args,
                          size_t nargs, wasitls_val *results, size_t nresults, wasitls_error *err)
{
    if (export_index >= inst->module->info.nexports ||
        inst->module->info.exports[export_index].type.kind != WASITLS_EXTERN_FUNC)
        return wasitls_error_set(err, WASITLS_E_INVAL, "export %zu is not a function",
                                 export_index);
    return call_fx(&inst->funcs[export_index], args, nargs, results, nresults, err);
}

int wasitls_extern_call(const wasitls_extern *fn, const wasitls_val *args, size_t nargs,
                        wasitls_val *results, size_t nresults, wasitls_error *err)
{
    if (fn->kind != WASITLS_EXTERN_FUNC || fn->of.func.host || !fn->of.func.internal)
        return wasitls_error_set(err, WASITLS_E_INVAL, "not a callable guest function");
    return call_fx(fn->of.func.internal, args, nargs, results, nresults, err);
}

const wasitls_functype *wasitls_extern_functype(const wasitls_extern *fn)
{
    if (fn->kind != WASITLS_EXTERN_FUNC || !fn->of.func.internal) return NULL;
    return ((const wasitls__funcext *)fn->of.func.internal)->type;
}

/* ---- memories, tables, globals ---- */

uint8_t *wasitls_memory_data(wasitls_memory *mem)
{
    return mem->rt->data;
}
uint64_t wasitls_memory_size(const wasitls_memory *mem)
{
    return (uint64_t)mem->rt->pages * 65536u;
}

int64_t wasitls_memory_grow(wasitls_memory *mem, uint64_t pages)
{
    if (pages > 65536) return -1;
    uint32_t r = wasitls__rt_impl.grow_memory(mem->rt, (uint32_t)pages);
    return r == UINT32_MAX ? -1 : (int64_t)r;
}

uint32_t wasitls_table_size(const wasitls_table *t)
{
    return t->elem == WASITLS_FUNCREF ? ((wasm_rt_funcref_table_t *)t->rt)->size
                                      : ((wasm_rt_externref_table_t *)t->rt)->size;
}

int wasitls_table_get(const wasitls_table *t, uint32_t i, wasitls_val *out)
{
    if (i >= wasitls_table_size(t)) return WASITLS_E_INVAL;
    out->kind = t->elem;
    if (t->elem == WASITLS_FUNCREF)
        out->of.ref = (void *)((wasm_rt_funcref_table_t *)t->rt)->data[i].func;
    else
        out->of.ref = ((wasm_rt_externref_table_t *)t->rt)->data[i];
    return 0;
}

static size_t val_size(uint8_t k)
{
    switch (k) {
    case WASITLS_I32:
    case WASITLS_F32:
        return 4;
    case WASITLS_I64:
    case WASITLS_F64:
        return 8;
    case WASITLS_EXTERNREF:
        return sizeof(void *);
    case WASITLS_FUNCREF:
        return sizeof(wasm_rt_funcref_t);
    }
    return 0;
}

int wasitls_global_get(const wasitls_global *g, wasitls_val *out)
{
    memset(out, 0, sizeof *out);
    out->kind = g->type;
    if (g->type == WASITLS_FUNCREF)
        out->of.ref = (void *)((wasm_rt_funcref_t *)g->p)->func;
    else
        memcpy(&out->of, g->p, val_size(g->type));
    return 0;
}

int wasitls_global_set(wasitls_global *g, const wasitls_val *v)
{
    if (!g->mut || v->kind != g->type) return WASITLS_E_INVAL;
    if (g->type == WASITLS_FUNCREF) {
        if (v->of.ref) return WASITLS_E_UNSUPPORTED; /* host funcref values are opaque */
        *(wasm_rt_funcref_t *)g->p = wasm_rt_funcref_null_value;
    } else {
        memcpy(g->p, &v->of, val_size(g->type));
    }
    return 0;
}
