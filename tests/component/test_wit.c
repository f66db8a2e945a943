/* WIT parser and linker: the WASI 0.2.12 and wasi:tls texts shipped with jco parse as they
 * are; semver-compatible lookup; errors name the place. */
#include <string.h>

#include "../../src/component/internal.h"
#include "t.h"

#ifndef WIT_DIR
#error "WIT_DIR must point at the builtin WIT folder of jco"
#endif

static void add_file(wasitls_linker *l, const char *rel)
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

static void add_concat(wasitls_linker *l, const char *a, const char *b)
{
    char path[1024];
    size_t na, nb;
    wasitls_error err;
    wasitls_error_clear(&err);
    snprintf(path, sizeof path, "%s/%s", WIT_DIR, a);
    unsigned char *x = t_read(path, &na);
    snprintf(path, sizeof path, "%s/%s", WIT_DIR, b);
    unsigned char *y = t_read(path, &nb);
    char *s = malloc(na + nb + 2);
    memcpy(s, x, na);
    s[na] = '\n';
    memcpy(s + na + 1, y, nb);
    CHECK_OK(wasitls_linker_add_wit(l, s, na + nb + 1, &err), &err);
    free(x);
    free(y);
    free(s);
}

static void add_wasi(wasitls_linker *l)
{
    add_file(l, "0.2.12/wasi-io/package.wit");
    add_file(l, "0.2.12/wasi-clocks/package.wit");
    add_file(l, "0.2.12/wasi-random/package.wit");
    add_file(l, "0.2.12/wasi-filesystem/package.wit");
    add_file(l, "0.2.12/wasi-sockets/package.wit");
    add_file(l, "0.2.12/wasi-cli/package.wit");
    add_file(l, "0.2.12/wasi-http/package.wit");
}

static wasitls__hfunc *func(wasitls_linker *l, const char *iface, const char *name)
{
    wasitls__iface *it = wasitls__linker_find(l, iface, strlen(iface));
    CHECK(it != NULL);
    for (uint32_t i = 0; i < it->nfuncs; i++)
        if (strcmp(it->funcs[i].name, name) == 0) return &it->funcs[i];
    fprintf(stderr, "no %s in %s\n", name, iface);
    exit(1);
}

static void wasi_texts(void)
{
    wasitls_linker *l;
    CHECK(wasitls_linker_new(&l) == 0);
    add_wasi(l);
    /* wasi-tls: types.wit before world.wit (the package line comes second) */
    add_concat(l, "wasi-tls-0.2.0-draft/types.wit", "wasi-tls-0.2.0-draft/world.wit");
    /* its bundled wasi:io copy is the same 0.2.12: accepted, first definition kept */
    add_file(l, "wasi-tls-0.2.0-draft/deps/io/package.wit");

    wasitls__hfunc *f = func(l, "wasi:io/streams@0.2.12", "[method]output-stream.write");
    CHECK(f->type->n == 2);
    CHECK(f->type->elems[0]->kind == CT_BORROW);
    CHECK(f->type->elems[1]->kind == CT_LIST);
    CHECK(f->type->t->kind == CT_RESULT && f->type->t->e->kind == CT_VARIANT);
    /* stream-error.last-operation-failed carries own<error> of wasi:io/error */
    wasitls__ctype *se = f->type->t->e;
    CHECK(strcmp(se->names[0], "last-operation-failed") == 0);
    CHECK(se->elems[0]->kind == CT_OWN);
    wasitls__hfunc *ds = func(l, "wasi:io/error@0.2.12", "[method]error.to-debug-string");
    CHECK(ds->type->elems[0]->t == se->elems[0]->t); /* same resource through `use` */

    /* semver: a guest's 0.2.3 is served by 0.2.12; 0.3.0 and 1.0.0 are not */
    CHECK(wasitls__linker_find(l, "wasi:io/streams@0.2.3", 21) != NULL);
    CHECK(wasitls__linker_find(l, "wasi:io/streams@0.3.0", 21) == NULL);
    CHECK(wasitls__linker_find(l, "wasi:io/streams@1.0.0", 21) == NULL);
    CHECK(wasitls__linker_find(l, "wasi:io/streams", 15) == NULL);
    /* prereleases match exactly */
    CHECK(wasitls__linker_find(l, "wasi:tls/types@0.2.0-draft", 26) != NULL);
    CHECK(wasitls__linker_find(l, "wasi:tls/types@0.2.0-draft2", 27) == NULL);
    CHECK(wasitls__linker_find(l, "wasi:tls/types@0.2.0", 20) == NULL);

    wasitls__hfunc *ctor = func(l, "wasi:tls/types@0.2.0-draft", "[constructor]client-handshake");
    CHECK(ctor->type->n == 3 && ctor->type->t->kind == CT_OWN);
    CHECK(ctor->type->elems[1]->t ==
          func(l, "wasi:io/streams@0.2.12", "[method]input-stream.read")->type->elems[0]->t);
    wasitls__hfunc *fin = func(l, "wasi:tls/types@0.2.0-draft", "[static]client-handshake.finish");
    CHECK(fin->type->n == 1 && fin->type->elems[0]->kind == CT_OWN);
    func(l, "wasi:tls/types@0.2.0-draft", "is-available");
    /* gated items are declared */
    func(l, "wasi:clocks/timezone@0.2.12", "display");
    /* sockets: a forward `use` inside the package */
    func(l, "wasi:sockets/tcp@0.2.12", "[method]tcp-socket.start-connect");
    func(l, "wasi:http/types@0.2.12", "[constructor]fields");
    func(l, "wasi:filesystem/types@0.2.12", "[method]descriptor.read-directory");

    wasitls_error err;
    wasitls_error_clear(&err);
    CHECK(wasitls_linker_func(l, "wasi:io/streams@0.2.12", "nope", (wasitls_cfunc)1, NULL, &err) ==
          WASITLS_E_NOTFOUND);
    CHECK(strstr(err.msg, "nope") != NULL);
    wasitls_linker_free(l);
}

/* A dependency bundled at an older compatible version (wasi:io@0.2.6 beside the host's 0.2.12)
 * resolves to what the host already serves, so resource types stay the same. */
static void bundled_dependency(void)
{
    wasitls_linker *l;
    wasitls_error err;
    wasitls_error_clear(&err);
    CHECK(wasitls_linker_new(&l) == 0);
    add_file(l, "0.2.12/wasi-io/package.wit");
    size_t before = l->ifaces.len;
    const char *t = "package wasi:io@0.2.6 { interface error { resource error; } }\n"
                    "package wasi:tls@0.2.0-draft { interface types {\n"
                    "  use wasi:io/error@0.2.6.{error as io-error};\n"
                    "  f: func(e: io-error);\n"
                    "} }\n";
    CHECK_OK(wasitls_linker_add_wit(l, t, strlen(t), &err), &err);
    CHECK(l->ifaces.len == before + 1); /* only wasi:tls/types is new */
    wasitls__hfunc *f = func(l, "wasi:tls/types@0.2.0-draft", "f");
    wasitls__hfunc *d = func(l, "wasi:io/error@0.2.12", "[method]error.to-debug-string");
    CHECK(f->type->elems[0]->t == d->type->elems[0]->t);
    CHECK(wasitls__linker_find(l, "wasi:io/error@0.2.6", 19) ==
          wasitls__linker_find(l, "wasi:io/error@0.2.12", 20));
    wasitls_linker_free(l);
}

static void expect_fail(const char *text, const char *needle)
{
    wasitls_linker *l;
    wasitls_error err;
    wasitls_error_clear(&err);
    CHECK(wasitls_linker_new(&l) == 0);
    int rc = wasitls_linker_add_wit(l, text, strlen(text), &err);
    if (rc == 0 || !strstr(err.msg, needle)) {
        fprintf(stderr, "text: %s\nrc=%d msg=%s (wanted %s)\n", text, rc, err.msg, needle);
        exit(1);
    }
    CHECK(l->ifaces.len == 0);
    wasitls_linker_free(l);
}

static void errors(void)
{
    expect_fail("package a:b; interface i { f: func(x: nope); }", "unknown type name `nope`");
    expect_fail("package a:b; interface i { type x = y; type y = x; }", "refers to itself");
    expect_fail("package a:b; interface i { use wasi:io/streams@0.2.0.{x}; }", "not declared");
    expect_fail("package a:b; interface i { f: func() -> borrow<r>; resource r; }",
                "borrow in a function result");
    expect_fail("package a:b; interface i { f: func(x: future<u8>); }", "async types");
    expect_fail("package a:b; interface i { flags f { } }", "flags");
    expect_fail("package a:b; interface i { record r { a: u8, a: u8 } }", "duplicate member");
    expect_fail("package a:b; interface i { /* open", "unterminated comment");
    expect_fail("package a:b; interface i { f: func(; }", "WIT 1:");
    expect_fail("interface i { }", "no package");
    expect_fail("package a:b@1.x; interface i {}", "bad package version");
    expect_fail("package a:b { package c:d { package e:f { package g:h { package i:j { } } } } }",
                "nested too deeply");
}

static void forms(void)
{
    const char *t = "/// doc\npackage my:pkg@1.2.3;\n"
                    "@since(version = 1.0.0)\ninterface %interface {\n"
                    "  use other.{r as rr};\n"
                    "  type t = tuple<u8, string, list<option<result<_, u32>>>>;\n"
                    "  variant v { a, b(u64), c(f32), }\n"
                    "  enum e { x, y }\n"
                    "  flags fl { p, q, r }\n"
                    "  record rec { f: t, g: own<rr>, }\n"
                    "  f: func(a: borrow<rr>, b: rr, c: result, d: result<u8>) -> v;\n"
                    "}\n"
                    "interface other { resource r { constructor(x: u32); m: func() -> u32; s: "
                    "static func(); } }\n"
                    "world w { import %interface; export other; }\n";
    wasitls_linker *l;
    wasitls_error err;
    wasitls_error_clear(&err);
    CHECK(wasitls_linker_new(&l) == 0);
    CHECK_OK(wasitls_linker_add_wit(l, t, strlen(t), &err), &err);
    wasitls__hfunc *f = func(l, "my:pkg/interface@1.2.3", "f");
    CHECK(f->type->n == 4 && f->type->elems[0]->kind == CT_BORROW &&
          f->type->elems[1]->kind == CT_OWN);
    CHECK(f->type->t->kind == CT_VARIANT && f->type->t->nflat == 2 &&
          f->type->t->flat[1] == WASITLS_I64);
    CHECK(f->type->elems[2]->kind == CT_RESULT && !f->type->elems[2]->t && !f->type->elems[2]->e);
    wasitls__hfunc *m = func(l, "my:pkg/other@1.2.9", "[method]r.m");
    CHECK(m->type->n == 1 && strcmp(m->type->names[0], "self") == 0);
    func(l, "my:pkg/other@1.2.3", "[static]r.s");
    wasitls__hfunc *c = func(l, "my:pkg/other@1.2.3", "[constructor]r");
    CHECK(c->type->t->kind == CT_OWN && c->type->t->t == m->type->elems[0]->t);
    CHECK(wasitls__linker_find(l, "my:pkg/other@2.0.0", 18) == NULL);
    CHECK_OK(wasitls_linker_resource(l, "my:pkg/other@1.2.3", "r", NULL, NULL, &err), &err);
    wasitls_linker_free(l);
}

int main(int argc, char **argv)
{
    static const tcase cases[] = {
        {"wasi_texts", wasi_texts},
        {"errors", errors},
        {"forms", forms},
        {"bundled_dependency", bundled_dependency},
    };
    return t_main(cases, sizeof cases / sizeof cases[0], argc, argv);
}
