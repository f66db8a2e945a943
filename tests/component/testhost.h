/* A tiny host for component tests: declares the WASI 0.2.12 WIT shipped with jco and serves a
 * handful of functions (stdout/stderr writes into a buffer, arguments, exit); every other
 * declared function traps with its name if a guest calls it. Not the real WASI host. */
#ifndef WASITLS_TESTS_COMPONENT_TESTHOST_H
#define WASITLS_TESTS_COMPONENT_TESTHOST_H

#include <stdarg.h>
#include <string.h>

#include "../../src/component/internal.h"
#include "t.h"

typedef struct testhost {
    char out[65536];
    size_t outlen;
    int exit_code; /* -1: no exit call */
    int streams_live;
    const char *args[8];
    size_t nargs;
} testhost;

static int th_unimpl(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                     wasitls_cval *result)
{
    return wasitls_ccall_trap(call, "test host: %s is not implemented", (const char *)env);
}

static int th_get_stream(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    testhost *th = wasitls_ccall_data(call);
    th->streams_live++;
    *result = wasitls_cv_own((void *)env);
    return 0;
}

static int th_write(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                    wasitls_cval *result)
{
    testhost *th = wasitls_ccall_data(call);
    CHECK(args[0].kind == WASITLS_CV_BORROW && args[1].kind == WASITLS_CV_BYTES);
    size_t n = args[1].of.bytes.len;
    if (n > sizeof th->out - th->outlen) n = sizeof th->out - th->outlen;
    memcpy(th->out + th->outlen, args[1].of.bytes.ptr, n);
    th->outlen += n;
    *result = wasitls_cv_var(WASITLS_CV_RESULT, 0, NULL);
    return 0;
}

static int th_check_write(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                          wasitls_cval *result)
{
    wasitls_cval *p = wasitls_ccall_vals(call, 1);
    *p = wasitls_cv_u64(WASITLS_CV_U64, 4096);
    *result = wasitls_cv_var(WASITLS_CV_RESULT, 0, p);
    return 0;
}

static int th_flush(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                    wasitls_cval *result)
{
    *result = wasitls_cv_var(WASITLS_CV_RESULT, 0, NULL);
    return 0;
}

static int th_exit(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                   wasitls_cval *result)
{
    testhost *th = wasitls_ccall_data(call);
    th->exit_code = args[0].of.var.tag == 0 ? 0 : 1;
    return wasitls_ccall_trap(call, "exit(%d)", th->exit_code);
}

static int th_args(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                   wasitls_cval *result)
{
    testhost *th = wasitls_ccall_data(call);
    wasitls_cval *items = wasitls_ccall_vals(call, th->nargs);
    for (size_t i = 0; i < th->nargs; i++) {
        items[i].kind = WASITLS_CV_STRING;
        items[i].of.str.ptr = th->args[i];
        items[i].of.str.len = strlen(th->args[i]);
    }
    result->kind = WASITLS_CV_LIST;
    result->of.list.items = items;
    result->of.list.len = th->nargs;
    return 0;
}

static int th_empty_list(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    result->kind = WASITLS_CV_LIST;
    result->of.list.items = NULL;
    result->of.list.len = 0;
    return 0;
}

static int th_none(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                   wasitls_cval *result)
{
    *result = wasitls_cv_var(WASITLS_CV_OPTION, 0, NULL);
    return 0;
}

static int th_stream_dtor(void *env, void *rep, wasitls_error *err)
{
    testhost *th = env;
    th->streams_live--;
    return 0;
}

static void th_add_wit(wasitls_linker *l, const char *rel)
{
    char path[1024];
    size_t n;
    wasitls_error err;
    wasitls_error_clear(&err);
    snprintf(path, sizeof path, "%s/%s", WIT_DIR, rel);
    unsigned char *b = t_read(path, &n);
    CHECK_OK(wasitls_linker_add_wit(l, (const char *)b, n, &err), &err);
    free(b);
}

static void th_def(wasitls_linker *l, const char *iface, const char *name, wasitls_cfunc fn,
                   void *env)
{
    wasitls_error err;
    wasitls_error_clear(&err);
    CHECK_OK(wasitls_linker_func(l, iface, name, fn, env, &err), &err);
}

/* The WASI WIT with stubs everywhere, and the few functions a C hello world needs. */
static wasitls_linker *th_linker(testhost *th)
{
    wasitls_linker *l;
    wasitls_error err;
    wasitls_error_clear(&err);
    memset(th, 0, sizeof(*th));
    th->exit_code = -1;
    CHECK(wasitls_linker_new(&l) == 0);
    th_add_wit(l, "0.2.12/wasi-io/package.wit");
    th_add_wit(l, "0.2.12/wasi-clocks/package.wit");
    th_add_wit(l, "0.2.12/wasi-random/package.wit");
    th_add_wit(l, "0.2.12/wasi-filesystem/package.wit");
    th_add_wit(l, "0.2.12/wasi-sockets/package.wit");
    th_add_wit(l, "0.2.12/wasi-cli/package.wit");
    for (size_t i = 0; i < l->ifaces.len; i++) {
        wasitls__iface *it = WASITLS__VEC_AT(&l->ifaces, wasitls__iface *, i);
        for (uint32_t k = 0; k < it->nfuncs; k++) {
            char *nm = wasitls__arena_printf(&l->arena, "%s#%s", it->full, it->funcs[k].name);
            th_def(l, it->full, it->funcs[k].name, th_unimpl, nm);
        }
    }
    const char *io = "wasi:io/streams@0.2.12";
    th_def(l, "wasi:cli/stdout@0.2.12", "get-stdout", th_get_stream, (void *)1);
    th_def(l, "wasi:cli/stderr@0.2.12", "get-stderr", th_get_stream, (void *)2);
    th_def(l, "wasi:cli/stdin@0.2.12", "get-stdin", th_get_stream, (void *)3);
    th_def(l, io, "[method]output-stream.blocking-write-and-flush", th_write, NULL);
    th_def(l, io, "[method]output-stream.write", th_write, NULL);
    th_def(l, io, "[method]output-stream.check-write", th_check_write, NULL);
    th_def(l, io, "[method]output-stream.blocking-flush", th_flush, NULL);
    th_def(l, "wasi:cli/exit@0.2.12", "exit", th_exit, NULL);
    th_def(l, "wasi:cli/environment@0.2.12", "get-arguments", th_args, NULL);
    th_def(l, "wasi:cli/environment@0.2.12", "get-environment", th_empty_list, NULL);
    th_def(l, "wasi:filesystem/preopens@0.2.12", "get-directories", th_empty_list, NULL);
    th_def(l, "wasi:cli/terminal-stdin@0.2.12", "get-terminal-stdin", th_none, NULL);
    th_def(l, "wasi:cli/terminal-stdout@0.2.12", "get-terminal-stdout", th_none, NULL);
    th_def(l, "wasi:cli/terminal-stderr@0.2.12", "get-terminal-stderr", th_none, NULL);
    CHECK_OK(wasitls_linker_resource(l, io, "output-stream", th_stream_dtor, th, &err), &err);
    CHECK_OK(wasitls_linker_resource(l, io, "input-stream", th_stream_dtor, th, &err), &err);
    return l;
}

#endif
