/* A stand-in for the component layer's linker and host-call API, so that the WASI host
 * functions can be called directly from C tests: the linker records what is defined, and a
 * host call's arena and "guest memory" are plain heap blocks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_component.h"

struct wasitls_linker {
    int unused;
};

struct wasitls_ccall {
    int unused;
};

typedef struct {
    char iface[128], name[128];
    wasitls_cfunc fn;
    wasitls_cdtor dtor;
    void *env;
} entry;

static entry *entries;
static size_t nentries, capentries;
static void **blocks;
static size_t nblocks, capblocks;
static char trap_msg[512];
static struct wasitls_ccall the_call;
size_t mock_wit_bytes;

static void *track(void *p)
{
    if (!p) return NULL;
    if (nblocks == capblocks) {
        capblocks = capblocks ? capblocks * 2 : 256;
        blocks = realloc(blocks, capblocks * sizeof *blocks);
    }
    blocks[nblocks++] = p;
    return p;
}

void mock_reset(void)
{
    for (size_t i = 0; i < nblocks; i++)
        free(blocks[i]);
    nblocks = 0;
}

void mock_free_all(void)
{
    mock_reset();
    free(blocks);
    blocks = NULL;
    capblocks = 0;
    free(entries);
    entries = NULL;
    nentries = capentries = 0;
}

int wasitls_linker_new(wasitls_linker **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : WASITLS_E_NOMEM;
}

void wasitls_linker_free(wasitls_linker *l)
{
    free(l);
}

int wasitls_linker_add_wit(wasitls_linker *l, const char *wit, size_t len, wasitls_error *err)
{
    if (len < 8 || memcmp(wit, "package ", 8) != 0)
        return wasitls_error_set(err, WASITLS_E_INVAL, "WIT does not start with a package");
    mock_wit_bytes += len;
    return 0;
}

static int add(const char *iface, const char *name, wasitls_cfunc fn, wasitls_cdtor dtor, void *env)
{
    if (nentries == capentries) {
        capentries = capentries ? capentries * 2 : 128;
        entries = realloc(entries, capentries * sizeof *entries);
    }
    entry *e = &entries[nentries++];
    snprintf(e->iface, sizeof e->iface, "%s", iface);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->fn = fn;
    e->dtor = dtor;
    e->env = env;
    return 0;
}

int wasitls_linker_func(wasitls_linker *l, const char *iface, const char *name, wasitls_cfunc fn,
                        void *env, wasitls_error *err)
{
    return add(iface, name, fn, NULL, env);
}

int wasitls_linker_resource(wasitls_linker *l, const char *iface, const char *resource,
                            wasitls_cdtor dtor, void *env, wasitls_error *err)
{
    return add(iface, resource, NULL, dtor, env);
}

int wasitls_linker_hint(wasitls_linker *l, const char *prefix, const char *hint)
{
    return 0;
}

void *wasitls_ccall_alloc(wasitls_ccall *call, size_t size)
{
    return track(calloc(1, size ? size : 1));
}

wasitls_cval *wasitls_ccall_vals(wasitls_ccall *call, size_t n)
{
    return wasitls_ccall_alloc(call, n * sizeof(wasitls_cval));
}

int wasitls_ccall_guest_bytes(wasitls_ccall *call, size_t len, bool as_string, uint8_t **ptr,
                              wasitls_cval *out)
{
    uint8_t *p = wasitls_ccall_alloc(call, len);
    if (!p) return WASITLS_E_NOMEM;
    *ptr = p;
    memset(out, 0, sizeof *out);
    out->kind = as_string ? WASITLS_CV_STRING : WASITLS_CV_BYTES;
    out->of.bytes.ptr = p;
    out->of.bytes.len = len;
    return 0;
}

int wasitls_ccall_trap(wasitls_ccall *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(trap_msg, sizeof trap_msg, fmt, ap);
    va_end(ap);
    return WASITLS_E_TRAP;
}

void *wasitls_ccall_data(wasitls_ccall *call)
{
    return NULL;
}

const char *mock_trap_message(void)
{
    return trap_msg;
}

bool mock_defined(const char *iface, const char *name)
{
    for (size_t i = 0; i < nentries; i++)
        if (strcmp(entries[i].iface, iface) == 0 && strcmp(entries[i].name, name) == 0) return true;
    return false;
}

size_t mock_count(void)
{
    return nentries;
}

int mock_call(const char *iface, const char *name, const wasitls_cval *args, size_t nargs,
              wasitls_cval *result)
{
    for (size_t i = 0; i < nentries; i++) {
        entry *e = &entries[i];
        if (e->fn && strcmp(e->iface, iface) == 0 && strcmp(e->name, name) == 0) {
            memset(result, 0, sizeof *result);
            trap_msg[0] = 0;
            return e->fn(&the_call, e->env, args, nargs, result);
        }
    }
    fprintf(stderr, "mock: %s#%s is not defined\n", iface, name);
    exit(3);
}

int mock_drop(const char *iface, const char *resource, void *rep, char *msg, size_t msglen)
{
    for (size_t i = 0; i < nentries; i++) {
        entry *e = &entries[i];
        if (e->dtor && strcmp(e->iface, iface) == 0 && strcmp(e->name, resource) == 0) {
            wasitls_error err;
            wasitls_error_clear(&err);
            int rc = e->dtor(e->env, rep, &err);
            if (msg) snprintf(msg, msglen, "%s", err.msg);
            return rc;
        }
    }
    fprintf(stderr, "mock: resource %s %s is not defined\n", iface, resource);
    exit(3);
}

int wasitls_cinstance_call(wasitls_cinstance *inst, const char *name, const wasitls_cval *args,
                           size_t nargs, wasitls_cval *result, bool *has_result, wasitls_error *err)
{
    return wasitls_error_set(err, WASITLS_E_UNSUPPORTED, "no component layer in this test");
}
