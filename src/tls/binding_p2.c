/* The wasi:tls/types@0.2.0-draft binding: converts component values to and from the p2
 * objects (p2.h) and registers them in a linker. The WIT (jco's copy, embedded at build time):
 *
 *   interface types {
 *     is-available: func() -> bool;
 *     use wasi:io/streams@0.2.12.{input-stream, output-stream};
 *     use wasi:io/poll@0.2.12.{pollable};
 *     use wasi:io/error@0.2.12.{error as io-error};
 *     resource client-handshake {
 *       constructor(server-name: string, input: input-stream, output: output-stream);
 *       finish: static func(this: client-handshake) -> future-client-streams;
 *     }
 *     resource client-connection { close-output: func(); }
 *     resource future-client-streams {
 *       subscribe: func() -> pollable;
 *       get: func() -> option<result<result<tuple<client-connection, input-stream,
 *                                                 output-stream>, io-error>>>;
 *     }
 *   }
 *
 * Reps: input-stream = wasitls_istream*, output-stream = wasitls_ostream*, pollable =
 * wasitls_pollable*, io-error = wasitls_ioerr* (resource types of the wasi layer). */
#include "p2.h"

#include "wasitls/component.h"

#include <stdlib.h>
#include <string.h>

extern const char wasitls__tls_wit[];
extern const size_t wasitls__tls_wit_len;

#define IFACE "wasi:tls/types@0.2.0-draft"

static int f_is_available(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                          wasitls_cval *result)
{
    *result = wasitls_cv_bool(true);
    return 0;
}

static int f_ctor(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                  wasitls_cval *result)
{
    if (nargs != 3 || args[0].kind != WASITLS_CV_STRING || args[1].kind != WASITLS_CV_OWN ||
        args[2].kind != WASITLS_CV_OWN)
        return wasitls_ccall_trap(call, "client-handshake: unexpected arguments");
    char why[256];
    wasitls__p2_handshake *hs;
    int r = wasitls__p2_handshake_new(env, args[0].of.str.ptr, args[0].of.str.len,
                                      args[1].of.res.rep, args[2].of.res.rep, &hs, why, sizeof why);
    if (r < 0) return wasitls_ccall_trap(call, "%s", why);
    *result = wasitls_cv_own(hs);
    return 0;
}

static int f_finish(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                    wasitls_cval *result)
{
    if (nargs != 1 || args[0].kind != WASITLS_CV_OWN)
        return wasitls_ccall_trap(call, "client-handshake.finish: unexpected arguments");
    wasitls__p2_future *f = wasitls__p2_finish(args[0].of.res.rep);
    if (!f) return wasitls_ccall_trap(call, "client-handshake.finish: out of memory");
    *result = wasitls_cv_own(f);
    return 0;
}

static int f_subscribe(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                       wasitls_cval *result)
{
    if (nargs != 1 || args[0].kind != WASITLS_CV_BORROW)
        return wasitls_ccall_trap(call, "future-client-streams.subscribe: unexpected arguments");
    wasitls_pollable *p = wasitls__p2_subscribe(args[0].of.res.rep);
    if (!p) return wasitls_ccall_trap(call, "future-client-streams.subscribe: out of memory");
    *result = wasitls_cv_own(p);
    return 0;
}

static int f_get(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                 wasitls_cval *result)
{
    if (nargs != 1 || args[0].kind != WASITLS_CV_BORROW)
        return wasitls_ccall_trap(call, "future-client-streams.get: unexpected arguments");
    wasitls_cval *v = wasitls_ccall_vals(call, 6);
    if (!v) return wasitls_ccall_trap(call, "future-client-streams.get: out of memory");
    wasitls__p2_connection *conn = NULL;
    wasitls_istream *in = NULL;
    wasitls_ostream *out = NULL;
    wasitls_ioerr *e = NULL;
    switch (wasitls__p2_get(args[0].of.res.rep, &conn, &in, &out, &e)) {
    case WASITLS__P2_PENDING:
        *result = wasitls_cv_var(WASITLS_CV_OPTION, 0, NULL);
        return 0;
    case WASITLS__P2_TAKEN:
        v[0] = wasitls_cv_var(WASITLS_CV_RESULT, 1, NULL);
        *result = wasitls_cv_var(WASITLS_CV_OPTION, 1, &v[0]);
        return 0;
    case WASITLS__P2_FAILED:
        if (!e) return wasitls_ccall_trap(call, "future-client-streams.get: out of memory");
        v[2] = wasitls_cv_own(e);
        v[1] = wasitls_cv_var(WASITLS_CV_RESULT, 1, &v[2]);
        v[0] = wasitls_cv_var(WASITLS_CV_RESULT, 0, &v[1]);
        *result = wasitls_cv_var(WASITLS_CV_OPTION, 1, &v[0]);
        return 0;
    default:
        v[3] = wasitls_cv_own(conn);
        v[4] = wasitls_cv_own(in);
        v[5] = wasitls_cv_own(out);
        v[2].kind = WASITLS_CV_TUPLE;
        v[2].of.list.items = &v[3];
        v[2].of.list.len = 3;
        v[1] = wasitls_cv_var(WASITLS_CV_RESULT, 0, &v[2]);
        v[0] = wasitls_cv_var(WASITLS_CV_RESULT, 0, &v[1]);
        *result = wasitls_cv_var(WASITLS_CV_OPTION, 1, &v[0]);
        return 0;
    }
}

static int f_close_output(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                          wasitls_cval *result)
{
    if (nargs != 1 || args[0].kind != WASITLS_CV_BORROW)
        return wasitls_ccall_trap(call, "client-connection.close-output: unexpected arguments");
    wasitls__p2_close_output(args[0].of.res.rep);
    return 0;
}

static int d_handshake(void *env, void *rep, wasitls_error *err)
{
    wasitls__p2_handshake_drop(rep);
    return 0;
}

static int d_future(void *env, void *rep, wasitls_error *err)
{
    return wasitls__p2_future_drop(rep, err);
}

static int d_connection(void *env, void *rep, wasitls_error *err)
{
    wasitls__p2_connection_drop(rep);
    return 0;
}

/* Contexts made by register live as long as the linkers that point at them. */
static wasitls_tls_ctx **registered;
static size_t nregistered;

void wasitls_tls_unregister_all(void)
{
    for (size_t i = 0; i < nregistered; i++)
        wasitls_tls_ctx_free(registered[i]);
    free(registered);
    registered = NULL;
    nregistered = 0;
}

int wasitls_tls_register(struct wasitls_linker *l, const wasitls_tls_config *cfg,
                         wasitls_error *err)
{
    if (!cfg) {
        int r = wasitls_linker_hint(l, "wasi:tls/", "wasi:tls is not granted; run with -S tls");
        return r < 0 ? wasitls_error_set(err, r, "cannot register the wasi:tls hint") : 0;
    }
    if (wasitls__tls_wit_len == 0)
        return wasitls_error_set(err, WASITLS_E_INTERNAL,
                                 "this wasitls was built without the wasi:tls WIT (node_modules "
                                 "was missing at build time: run scripts/setup.sh and rebuild)");
    wasitls_tls_ctx *ctx;
    int r = wasitls_tls_ctx_new(cfg, &ctx, err);
    if (r < 0) return r;
    wasitls_tls_ctx **grown = realloc(registered, (nregistered + 1) * sizeof *grown);
    if (!grown) {
        wasitls_tls_ctx_free(ctx);
        return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    }
    registered = grown;
    registered[nregistered++] = ctx;

    if ((r = wasitls_linker_add_wit(l, wasitls__tls_wit, wasitls__tls_wit_len, err)) < 0) {
        wasitls_error_prefix(err, "wasi:tls WIT");
        return r;
    }
    static const struct {
        const char *name;
        wasitls_cdtor dtor;
    } res[] = {
        {"client-handshake", d_handshake},
        {"future-client-streams", d_future},
        {"client-connection", d_connection},
    };
    for (size_t i = 0; i < sizeof res / sizeof res[0]; i++)
        if ((r = wasitls_linker_resource(l, IFACE, res[i].name, res[i].dtor, ctx, err)) < 0)
            return r;
    static const struct {
        const char *name;
        wasitls_cfunc fn;
    } fns[] = {
        {"is-available", f_is_available},
        {"[constructor]client-handshake", f_ctor},
        {"[static]client-handshake.finish", f_finish},
        {"[method]future-client-streams.subscribe", f_subscribe},
        {"[method]future-client-streams.get", f_get},
        {"[method]client-connection.close-output", f_close_output},
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if ((r = wasitls_linker_func(l, IFACE, fns[i].name, fns[i].fn, ctx, err)) < 0) return r;
    return 0;
}
