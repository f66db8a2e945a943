/* wasitls_tls_register on a real linker: the embedded WIT parses against the wasi:io WIT the
 * wasi layer declares, and every function and resource of the interface gets a definition. */
#include "harness.h"

#include "wasitls/component.h"
#include "wasitls/wasi.h"

/* Until the component layer's call path is linked in, these stand-ins let this test link; the
 * real definitions win whenever they are present (these are weak). No call reaches them. */
#define STANDIN __attribute__((weak))
STANDIN void *wasitls_ccall_alloc(wasitls_ccall *call, size_t size)
{
    abort();
}
STANDIN wasitls_cval *wasitls_ccall_vals(wasitls_ccall *call, size_t n)
{
    abort();
}
STANDIN int wasitls_ccall_guest_bytes(wasitls_ccall *call, size_t len, bool as_string,
                                      uint8_t **ptr, wasitls_cval *out)
{
    abort();
}
STANDIN int wasitls_ccall_trap(wasitls_ccall *call, const char *fmt, ...)
{
    abort();
}
STANDIN int wasitls_cinstance_call(wasitls_cinstance *inst, const char *name,
                                   const wasitls_cval *args, size_t nargs, wasitls_cval *result,
                                   bool *has_result, wasitls_error *err)
{
    abort();
}

static int t_register(const char *be)
{
    wasitls_linker *l;
    wasitls_error err;
    wasitls_error_clear(&err);
    CHECK_OK(wasitls_linker_new(&l));
    size_t n;
    const char *io = wasitls_wasi_wit("io", &n);
    CHECK(io);
    CHECKF(wasitls_linker_add_wit(l, io, n, &err) == 0, "%s", err.msg);
    wasitls_tls_config cfg;
    wasitls_tls_config_init(&cfg);
    cfg.backend = be;
    int r = wasitls_tls_register(l, &cfg, &err);
    CHECKF(r == 0, "%s: %s", wasitls_err_name(r), err.msg);
    /* an unknown backend is a configuration error with the name in it */
    wasitls_linker *l2;
    CHECK_OK(wasitls_linker_new(&l2));
    CHECK_OK(wasitls_linker_add_wit(l2, io, n, &err));
    cfg.backend = "nonesuch";
    CHECK(wasitls_tls_register(l2, &cfg, &err) == WASITLS_E_TLS_CONFIG);
    CHECK_HAS(err.msg, "nonesuch");
    /* not granted: only the hint */
    CHECK_OK(wasitls_tls_register(l2, NULL, &err));
    wasitls_linker_free(l2);
    wasitls_linker_free(l);
    wasitls_tls_unregister_all();
    return 0;
}

static const tt_case cases[] = {
    {"register", t_register},
};

int main(int argc, char **argv)
{
    return tt_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
