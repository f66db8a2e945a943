/* The WASI context (arguments, environment, preopens, stdio, grants), the registration of all
 * interfaces, and the value helpers the host functions share. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

void wasitls_wasi_config_default(wasitls_wasi_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->stdin_fd = 0;
    cfg->stdout_fd = 1;
    cfg->stderr_fd = 2;
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

int wasitls_wasi_new(const wasitls_wasi_config *cfg, wasitls_wasi **out, wasitls_error *err)
{
    int rc = WASITLS_E_NOMEM;
    wasitls_wasi *w = calloc(1, sizeof *w);
    *out = NULL;
    if (!w) return wasitls_error_set(err, rc, NULL);
    w->args = calloc(cfg->nargs + 1, sizeof *w->args);
    w->env_names = calloc(cfg->nenv + 1, sizeof *w->env_names);
    w->env_values = calloc(cfg->nenv + 1, sizeof *w->env_values);
    w->pre = calloc(cfg->npreopens + 1, sizeof *w->pre);
    if (!w->args || !w->env_names || !w->env_values || !w->pre) goto fail;
    for (size_t i = 0; i < cfg->nargs; i++) {
        if (!(w->args[i] = strdup(cfg->args[i]))) goto fail;
        w->nargs++;
    }
    for (size_t i = 0; i < cfg->nenv; i++) {
        const char *e = cfg->env[i];
        const char *eq = strchr(e, '=');
        size_t nl = eq ? (size_t)(eq - e) : strlen(e);
        w->env_names[i] = dupn(e, nl);
        w->env_values[i] = strdup(eq ? eq + 1 : "");
        w->nenv++;
        if (!w->env_names[i] || !w->env_values[i]) goto fail;
    }
    for (size_t i = 0; i < cfg->npreopens; i++) {
        const wasitls_wasi_preopen *p = &cfg->preopens[i];
        int fd = open(p->host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            rc = wasitls_error_set(err, WASITLS_E_NOTFOUND, "--dir %s: %s", p->host_path,
                                   strerror(errno));
            goto fail_set;
        }
        w->pre[i].fd = fd;
        w->npre++;
        w->pre[i].guest_path = strdup(p->guest_path ? p->guest_path : p->host_path);
        if (!w->pre[i].guest_path) goto fail;
    }
    w->stdin_fd = cfg->stdin_fd;
    w->stdout_fd = cfg->stdout_fd;
    w->stderr_fd = cfg->stderr_fd;
    w->net = cfg->inherit_network;
    w->lookup = cfg->allow_ip_name_lookup;
    if (cfg->initial_cwd && !(w->cwd = strdup(cfg->initial_cwd))) goto fail;
    if (getrandom(w->insecure, sizeof w->insecure, 0) != sizeof w->insecure ||
        getrandom(w->seed, sizeof w->seed, 0) != sizeof w->seed) {
        rc = wasitls_error_set(err, WASITLS_E_IO, "getrandom: %s", strerror(errno));
        goto fail_set;
    }
    w->insecure[0] |= 1;
    *out = w;
    return 0;
fail:
    wasitls_error_set(err, rc, NULL);
fail_set:
    wasitls_wasi_free(w);
    return rc;
}

void wasitls__orphan_add(wasitls_wasi *w, void *rep, void (*force_free)(void *rep))
{
    for (size_t i = 0; i < w->norphans; i++)
        if (w->orphans[i].rep == rep) return;
    if (w->norphans == w->caporphans) {
        size_t cap = w->caporphans ? w->caporphans * 2 : 8;
        struct wasitls__orphan *o = realloc(w->orphans, cap * sizeof *o);
        if (!o) return; /* leaks rep at worst */
        w->orphans = o;
        w->caporphans = cap;
    }
    w->orphans[w->norphans].rep = rep;
    w->orphans[w->norphans].force_free = force_free;
    w->norphans++;
}

void wasitls__orphan_forget(wasitls_wasi *w, void *rep)
{
    for (size_t i = 0; i < w->norphans; i++)
        if (w->orphans[i].rep == rep) {
            w->orphans[i] = w->orphans[--w->norphans];
            return;
        }
}

void wasitls_wasi_free(wasitls_wasi *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->norphans; i++)
        w->orphans[i].force_free(w->orphans[i].rep);
    free(w->orphans);
    for (size_t i = 0; i < w->nargs; i++)
        free(w->args[i]);
    for (size_t i = 0; i < w->nenv; i++) {
        free(w->env_names[i]);
        free(w->env_values[i]);
    }
    for (size_t i = 0; i < w->npre; i++) {
        wasitls__fd_close(w->pre[i].fd);
        free(w->pre[i].guest_path);
    }
    free(w->args);
    free(w->env_names);
    free(w->env_values);
    free(w->pre);
    free(w->cwd);
    free(w->scratch);
    free(w);
}

bool wasitls_wasi_exited(const wasitls_wasi *w, int *code)
{
    if (w->exited && code) *code = w->exit_code;
    return w->exited;
}

const char *wasitls_wasi_wit(const char *package, size_t *len)
{
    size_t n;
    const char *t = wasitls__wit_text(package, &n);
    if (len) *len = n;
    return t;
}

static const char *const wit_order[] = {"io", "clocks", "random", "cli", "filesystem", "sockets"};

int wasitls_wasi_add_to_linker(wasitls_wasi *w, wasitls_linker *l, wasitls_error *err)
{
    for (size_t i = 0; i < sizeof wit_order / sizeof wit_order[0]; i++) {
        size_t n;
        const char *t = wasitls__wit_text(wit_order[i], &n);
        if (!t)
            return wasitls_error_set(err, WASITLS_E_INTERNAL, "WIT of wasi:%s not embedded",
                                     wit_order[i]);
        int rc = wasitls_linker_add_wit(l, t, n, err);
        if (rc) {
            wasitls_error_prefix(err, "wasi:%s WIT", wit_order[i]);
            return rc;
        }
    }
    int rc = wasitls__io_register(w, l, err);
    if (!rc) rc = wasitls__cli_register(w, l, err);
    if (!rc) rc = wasitls__fs_register(w, l, err);
    if (!rc) rc = wasitls__sock_register(w, l, err);
    if (!rc) rc = wasitls_linker_hint(l, "wasi:http/", "wasi:http is not provided by wasitls");
    return rc;
}

int wasitls__register(wasitls_wasi *w, wasitls_linker *l, const wasitls__hfunc *fs, size_t nf,
                      const wasitls__hres *rs, size_t nr, wasitls_error *err)
{
    char iface[128];
    for (size_t i = 0; i < nr; i++) {
        snprintf(iface, sizeof iface, "%s%s", rs[i].iface, WASI_V);
        int rc = wasitls_linker_resource(l, iface, rs[i].name, rs[i].dtor, w, err);
        if (rc) return rc;
    }
    for (size_t i = 0; i < nf; i++) {
        snprintf(iface, sizeof iface, "%s%s", fs[i].iface, WASI_V);
        int rc = wasitls_linker_func(l, iface, fs[i].name, fs[i].fn, w, err);
        if (rc) return rc;
    }
    return 0;
}

int wasitls_wasi_run(wasitls_wasi *w, wasitls_cinstance *inst, wasitls_error *err)
{
    wasitls_cval result;
    bool has = false;
    int rc = wasitls_cinstance_call(inst, "wasi:cli/run@0.2.0#run", NULL, 0, &result, &has, err);
    int code;
    if (wasitls_wasi_exited(w, &code)) {
        wasitls_error_clear(err);
        return code;
    }
    if (rc) return rc;
    if (has && result.kind == WASITLS_CV_RESULT && result.of.var.tag != 0) return 1;
    return 0;
}

/* ---- value helpers ---- */

wasitls_cval *wasitls__box(wasitls_ccall *c, wasitls_cval v)
{
    wasitls_cval *p = wasitls_ccall_vals(c, 1);
    if (p) *p = v;
    return p;
}

static int result_of(wasitls_ccall *c, wasitls_cval *result, uint32_t tag,
                     const wasitls_cval *payload)
{
    wasitls_cval *p = NULL;
    if (payload && !(p = wasitls__box(c, *payload))) return WASITLS_E_NOMEM;
    *result = wasitls_cv_var(WASITLS_CV_RESULT, tag, p);
    return 0;
}

int wasitls__ok(wasitls_ccall *c, wasitls_cval *result, const wasitls_cval *payload)
{
    return result_of(c, result, 0, payload);
}

int wasitls__err(wasitls_ccall *c, wasitls_cval *result, const wasitls_cval *payload)
{
    return result_of(c, result, 1, payload);
}

int wasitls__err_code(wasitls_ccall *c, wasitls_cval *result, uint32_t code)
{
    wasitls_cval e = cv_enum(code);
    return result_of(c, result, 1, &e);
}

int wasitls__some(wasitls_ccall *c, wasitls_cval *result, wasitls_cval payload)
{
    wasitls_cval *p = wasitls__box(c, payload);
    if (!p) return WASITLS_E_NOMEM;
    *result = wasitls_cv_var(WASITLS_CV_OPTION, 1, p);
    return 0;
}

wasitls_cval *wasitls__aggregate(wasitls_ccall *c, wasitls_cval *out, uint8_t kind, size_t n)
{
    wasitls_cval *items = wasitls_ccall_vals(c, n);
    if (!items) return NULL;
    memset(items, 0, n * sizeof *items);
    *out = cv_kind(kind);
    out->of.list.items = items;
    out->of.list.len = n;
    return items;
}

int wasitls__stream_result(wasitls_ccall *c, wasitls_cval *result, int64_t rc, wasitls_ioerr *e,
                           const wasitls_cval *payload)
{
    if (rc >= 0) {
        wasitls_ioerr_free(e);
        return wasitls__ok(c, result, payload);
    }
    wasitls_cval se;
    if (rc == WASITLS_E_CLOSED) {
        wasitls_ioerr_free(e);
        se = wasitls_cv_var(WASITLS_CV_VARIANT, 1, NULL);
    } else {
        if (!e) e = wasitls_ioerr_new((int)rc, 0, "%s", wasitls_strerror((int)rc));
        if (!e) return WASITLS_E_NOMEM;
        wasitls_cval *own = wasitls__box(c, wasitls_cv_own(e));
        if (!own) {
            wasitls_ioerr_free(e);
            return WASITLS_E_NOMEM;
        }
        se = wasitls_cv_var(WASITLS_CV_VARIANT, 0, own);
    }
    return wasitls__err(c, result, &se);
}

int wasitls__guest_copy(wasitls_ccall *c, const uint8_t *p, size_t n, wasitls_cval *out)
{
    uint8_t *dst;
    int rc = wasitls_ccall_guest_bytes(c, n, false, &dst, out);
    if (rc) return rc;
    if (n) memcpy(dst, p, n);
    return 0;
}

uint8_t *wasitls__scratch(wasitls_wasi *w, size_t n)
{
    if (n > w->scratch_cap) {
        size_t cap = n < 65536 ? 65536 : WASI_READ_MAX;
        if (cap < n) cap = n;
        uint8_t *b = realloc(w->scratch, cap);
        if (!b) return NULL;
        w->scratch = b;
        w->scratch_cap = cap;
    }
    return w->scratch;
}
