/* The linker: host interface definitions (from WIT text) and the C functions and resource
 * destructors behind them; semver-compatible lookup of a guest's import names. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int wasitls_linker_new(wasitls_linker **out)
{
    wasitls_linker *l = calloc(1, sizeof(*l));
    if (!l) return WASITLS_E_NOMEM;
    wasitls__arena_init(&l->arena);
    wasitls__vec_init(&l->ifaces, sizeof(wasitls__iface *));
    wasitls__vec_init(&l->hints, sizeof(const char *));
    *out = l;
    return 0;
}

void wasitls_linker_free(wasitls_linker *l)
{
    if (!l) return;
    wasitls__vec_free(&l->ifaces);
    wasitls__vec_free(&l->hints);
    wasitls__arena_free(&l->arena);
    free(l);
}

int wasitls_linker_add_wit(wasitls_linker *l, const char *wit, size_t len, wasitls_error *err)
{
    if (!l || !wit) return wasitls_error_set(err, WASITLS_E_INVAL, "no linker or WIT text");
    return wasitls__wit_parse(l, wit, len, err);
}

/* ---- semver ---- */

static bool num(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    if (s >= end || *s < '0' || *s > '9') return false;
    if (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9') return false; /* no leading zeros */
    uint64_t v = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        if (v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    *p = s;
    *out = v;
    return true;
}

bool wasitls__semver_parse(const char *s, size_t len, wasitls__semver *out)
{
    const char *p = s, *end = s + len;
    memset(out, 0, sizeof(*out));
    if (!num(&p, end, &out->major) || p >= end || *p++ != '.' || !num(&p, end, &out->minor) ||
        p >= end || *p++ != '.' || !num(&p, end, &out->patch))
        return false;
    if (p < end) {
        if (*p != '-' && *p != '+') return false;
        out->pre = *p == '-';
        for (const char *q = p + 1; q < end; q++) {
            char c = *q;
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '-' || c == '.' || c == '+'))
                return false;
        }
        if (p + 1 >= end) return false;
    }
    out->has = true;
    out->text = s;
    return true;
}

void wasitls__split_version(const char *name, size_t *baselen, const char **ver, size_t *verlen)
{
    const char *at = strchr(name, '@');
    if (!at) {
        *baselen = strlen(name);
        *ver = NULL;
        *verlen = 0;
        return;
    }
    *baselen = (size_t)(at - name);
    *ver = at + 1;
    *verlen = strlen(at + 1);
}

bool wasitls__semver_compatible(const wasitls__semver *want, const wasitls__semver *have)
{
    if (!want->has || !have->has) return !want->has && !have->has;
    if (want->pre || have->pre) /* prereleases: exactly that version */
        return want->major == have->major && want->minor == have->minor &&
               want->patch == have->patch && strcmp(want->text, have->text) == 0;
    if (want->major != have->major) return false;
    if (want->major == 0 && want->minor != have->minor) return false;
    if (want->major == 0 && want->minor == 0 && want->patch != have->patch) return false;
    return true;
}

static int semver_cmp(const wasitls__semver *a, const wasitls__semver *b)
{
    if (a->major != b->major) return a->major < b->major ? -1 : 1;
    if (a->minor != b->minor) return a->minor < b->minor ? -1 : 1;
    if (a->patch != b->patch) return a->patch < b->patch ? -1 : 1;
    return 0;
}

wasitls__iface *wasitls__linker_find(wasitls_linker *l, const char *name, size_t len)
{
    const char *at = memchr(name, '@', len);
    size_t bl = at ? (size_t)(at - name) : len;
    wasitls__semver want = {0};
    char vbuf[128];
    if (at) {
        size_t vl = len - bl - 1;
        if (vl >= sizeof(vbuf) || !wasitls__semver_parse(at + 1, vl, &want)) return NULL;
        memcpy(vbuf, at + 1, vl);
        vbuf[vl] = 0;
        want.text = vbuf;
    }
    wasitls__iface *best = NULL;
    for (size_t i = 0; i < l->ifaces.len; i++) {
        wasitls__iface *it = WASITLS__VEC_AT(&l->ifaces, wasitls__iface *, i);
        if (strlen(it->base) != bl || memcmp(it->base, name, bl) != 0) continue;
        if (!wasitls__semver_compatible(&want, &it->ver)) continue;
        if (!best || semver_cmp(&it->ver, &best->ver) > 0) best = it;
    }
    return best;
}

int wasitls__linker_add_iface(wasitls_linker *l, wasitls__iface *it, wasitls_error *err)
{
    wasitls__iface **slot = wasitls__vec_push(&l->ifaces);
    if (!slot) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    *slot = it;
    return 0;
}

static wasitls__iface *find_exact(wasitls_linker *l, const char *iface)
{
    for (size_t i = 0; i < l->ifaces.len; i++) {
        wasitls__iface *it = WASITLS__VEC_AT(&l->ifaces, wasitls__iface *, i);
        if (strcmp(it->full, iface) == 0) return it;
    }
    return wasitls__linker_find(l, iface, strlen(iface));
}

int wasitls_linker_func(wasitls_linker *l, const char *iface, const char *name, wasitls_cfunc fn,
                        void *env, wasitls_error *err)
{
    if (!l || !iface || !name || !fn)
        return wasitls_error_set(err, WASITLS_E_INVAL, "linker_func: missing argument");
    wasitls__iface *it = find_exact(l, iface);
    if (!it)
        return wasitls_error_set(err, WASITLS_E_NOTFOUND,
                                 "interface %s is not declared (add its WIT first)", iface);
    for (uint32_t i = 0; i < it->nfuncs; i++) {
        if (strcmp(it->funcs[i].name, name) == 0) {
            it->funcs[i].fn = fn;
            it->funcs[i].env = env;
            return 0;
        }
    }
    return wasitls_error_set(err, WASITLS_E_NOTFOUND, "interface %s declares no function `%s`",
                             it->full, name);
}

int wasitls_linker_resource(wasitls_linker *l, const char *iface, const char *resource,
                            wasitls_cdtor dtor, void *env, wasitls_error *err)
{
    if (!l || !iface || !resource)
        return wasitls_error_set(err, WASITLS_E_INVAL, "linker_resource: missing argument");
    wasitls__iface *it = find_exact(l, iface);
    if (!it)
        return wasitls_error_set(err, WASITLS_E_NOTFOUND,
                                 "interface %s is not declared (add its WIT first)", iface);
    for (uint32_t i = 0; i < it->ntypes; i++) {
        if (strcmp(it->type_names[i], resource) == 0) {
            wasitls__ctype *t = it->types[i];
            if (t->kind != CT_RESOURCE)
                return wasitls_error_set(err, WASITLS_E_INVAL, "%s.%s is not a resource", it->full,
                                         resource);
            t->res->host_dtor = dtor;
            t->res->host_env = env;
            t->res->host_defined = true;
            return 0;
        }
    }
    return wasitls_error_set(err, WASITLS_E_NOTFOUND, "interface %s declares no resource `%s`",
                             it->full, resource);
}

int wasitls_linker_hint(wasitls_linker *l, const char *prefix, const char *hint)
{
    if (!l || !prefix || !hint) return WASITLS_E_INVAL;
    const char *p = wasitls__arena_strndup(&l->arena, prefix, strlen(prefix));
    const char *h = wasitls__arena_strndup(&l->arena, hint, strlen(hint));
    const char **a, **b;
    if (!p || !h || !(a = wasitls__vec_push(&l->hints))) return WASITLS_E_NOMEM;
    *a = p;
    if (!(b = wasitls__vec_push(&l->hints))) {
        l->hints.len--;
        return WASITLS_E_NOMEM;
    }
    *b = h;
    return 0;
}

const char *wasitls__linker_hint_for(wasitls_linker *l, const char *name)
{
    for (size_t i = 0; i + 1 < l->hints.len; i += 2) {
        const char *p = WASITLS__VEC_AT(&l->hints, const char *, i);
        if (strncmp(name, p, strlen(p)) == 0)
            return WASITLS__VEC_AT(&l->hints, const char *, i + 1);
    }
    return NULL;
}
