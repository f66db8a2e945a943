/* Components running on the engine: a C command made with the preview1 adapter (jco new), a C
 * reactor exporting a resource, and a WAT component whose functions misuse handles on purpose
 * (each misuse traps that guest, reported as WASITLS_E_TRAP; the host carries on). Also: import
 * resolution errors name the import and carry the linker's hint. */
#include <string.h>

#include "testhost.h"

static wasitls_engine *engine(void)
{
    wasitls_engine_config cfg;
    wasitls_engine *e;
    wasitls_error err;
    wasitls_engine_config_default(&cfg);
    wasitls_error_clear(&err);
    CHECK_OK(wasitls_engine_new(&cfg, &e, &err), &err);
    return e;
}

static wasitls_component *load(wasitls_engine *e, const char *path)
{
    size_t n;
    wasitls_error err;
    wasitls_error_clear(&err);
    unsigned char *b = t_read(path, &n);
    wasitls_component *c;
    CHECK_OK(wasitls_component_new(e, b, n, &c, &err), &err);
    free(b);
    return c;
}

static void hello(void)
{
    testhost th;
    wasitls_linker *l = th_linker(&th);
    wasitls_engine *e = engine();
    wasitls_component *c = load(e, HELLO_WASM);
    wasitls_error err;
    wasitls_cinstance *ci;
    th.args[0] = "hello";
    th.args[1] = "world";
    th.nargs = 2;
    CHECK_OK(wasitls_cinstance_new(c, l, &th, &ci, &err), &err);
    wasitls_cval r;
    bool has;
    /* a 0.2.0 name is served by the 0.2.12 export */
    int rc = wasitls_cinstance_call(ci, "wasi:cli/run@0.2.0#run", NULL, 0, &r, &has, &err);
    printf("rc=%d err=%s out=%.*s", rc, err.msg, (int)th.outlen, th.out);
    CHECK(rc == WASITLS_E_TRAP && strstr(err.msg, "exit(1)"));
    CHECK(th.exit_code == 1); /* status 3 reaches wasi:cli/exit as err */
    CHECK(strstr(th.out, "hello from a component\n") != NULL);
    CHECK(strstr(th.out, "arg 0: hello\narg 1: world\n") != NULL);
    CHECK(strstr(th.out, "to stderr") != NULL);
    /* the instance trapped (exit): further calls are refused */
    CHECK(wasitls_cinstance_call(ci, "wasi:cli/run@0.2.12#run", NULL, 0, &r, &has, &err) ==
          WASITLS_E_TRAP);
    wasitls_cinstance_free(ci);
    CHECK(th.streams_live == 0); /* output streams dropped by the guest or at teardown */

    /* three arguments: main returns 0, run returns ok */
    th.args[2] = "again";
    th.nargs = 3;
    th.outlen = 0;
    th.exit_code = -1;
    CHECK_OK(wasitls_cinstance_new(c, l, &th, &ci, &err), &err);
    rc = wasitls_cinstance_call(ci, "wasi:cli/run@0.2.12#run", NULL, 0, &r, &has, &err);
    CHECK(rc == 0 || (rc == WASITLS_E_TRAP && th.exit_code == 0));
    if (rc == 0) CHECK(has && r.kind == WASITLS_CV_RESULT && r.of.var.tag == 0);
    CHECK(strstr(th.out, "arg 2: again") != NULL);
    CHECK(wasitls_cinstance_call(ci, "wasi:cli/run@0.3.0#run", NULL, 0, &r, &has, &err) ==
          WASITLS_E_NOTFOUND);
    wasitls_cinstance_free(ci);
    wasitls_component_free(c);
    wasitls_linker_free(l);
    wasitls_engine_free(e);
}

static void link_errors(void)
{
    wasitls_engine *e = engine();
    wasitls_component *c = load(e, HELLO_WASM);
    wasitls_error err;
    wasitls_cinstance *ci;
    testhost th;

    /* nothing declared: the first import is named, with the hint */
    wasitls_linker *l;
    CHECK(wasitls_linker_new(&l) == 0);
    CHECK(wasitls_linker_hint(l, "wasi:cli/", "the test host gives no CLI; try -S cli") == 0);
    int rc = wasitls_cinstance_new(c, l, &th, &ci, &err);
    printf("%s\n", err.msg);
    CHECK(rc == WASITLS_E_LINK);
    CHECK(strstr(err.msg, "import `wasi:cli/environment@0.2.12`") && strstr(err.msg, "try -S cli"));
    CHECK(err.offset > 0);
    wasitls_linker_free(l);

    /* declared but one function not implemented */
    l = th_linker(&th);
    wasitls__iface *it = wasitls__linker_find(l, "wasi:cli/stdout@0.2.12", 22);
    it->funcs[0].fn = NULL;
    rc = wasitls_cinstance_new(c, l, &th, &ci, &err);
    printf("%s\n", err.msg);
    CHECK(rc == WASITLS_E_LINK && strstr(err.msg, "get-stdout") &&
          strstr(err.msg, "not implemented"));
    wasitls_linker_free(l);

    /* a host whose WIT disagrees with the guest's import type */
    CHECK(wasitls_linker_new(&l) == 0);
    const char *wit =
        "package wasi:cli@0.2.12; interface environment { get-arguments: func() -> list<u8>; }";
    CHECK_OK(wasitls_linker_add_wit(l, wit, strlen(wit), &err), &err);
    CHECK_OK(wasitls_linker_func(l, "wasi:cli/environment@0.2.12", "get-arguments", th_unimpl, "x",
                                 &err),
             &err);
    rc = wasitls_cinstance_new(c, l, &th, &ci, &err);
    printf("%s\n", err.msg);
    CHECK(rc == WASITLS_E_TYPE_MISMATCH && strstr(err.msg, "get-arguments") &&
          strstr(err.msg, "string"));
    wasitls_linker_free(l);

    /* an older minor version on the host side does not serve a newer import... but a newer
     * patch does: covered by the WIT tests; here, a 0.3 host cannot serve 0.2 */
    CHECK(wasitls_linker_new(&l) == 0);
    wit =
        "package wasi:cli@0.3.0; interface environment { get-arguments: func() -> list<string>; }";
    CHECK_OK(wasitls_linker_add_wit(l, wit, strlen(wit), &err), &err);
    rc = wasitls_cinstance_new(c, l, &th, &ci, &err);
    CHECK(rc == WASITLS_E_LINK && strstr(err.msg, "does not provide"));
    wasitls_linker_free(l);
    wasitls_component_free(c);
    wasitls_engine_free(e);
}

/* ---- the resource reactor ---- */

static wasitls_cval call1(wasitls_cinstance *ci, const char *name, const wasitls_cval *args,
                          size_t n)
{
    wasitls_cval r;
    bool has;
    wasitls_error err;
    CHECK_OK(wasitls_cinstance_call(ci, name, args, n, &r, &has, &err), &err);
    return r;
}

#define CI "test:counter/counter@0.1.0#"

static void counter(void)
{
    wasitls_engine *e = engine();
    wasitls_component *c = load(e, COUNTER_WASM);
    wasitls_linker *l;
    CHECK(wasitls_linker_new(&l) == 0);
    wasitls_error err;
    wasitls_cinstance *ci;
    testhost th;
    memset(&th, 0, sizeof th);
    /* the reactor adapter imports WASI; this test host declares it with traps everywhere */
    wasitls_linker_free(l);
    l = th_linker(&th);
    CHECK_OK(wasitls_cinstance_new(c, l, &th, &ci, &err), &err);
    wasitls_cval a = wasitls_cv_u64(WASITLS_CV_S32, 5);
    wasitls_cval h1 = call1(ci, CI "[constructor]counter", &a, 1);
    CHECK(h1.kind == WASITLS_CV_OWN && h1.of.res.handle != 0);
    CHECK(call1(ci, CI "live", NULL, 0).of.u == 1);
    wasitls_cval args[2];
    args[0] = h1;
    args[0].kind = WASITLS_CV_BORROW;
    args[1] = wasitls_cv_u64(WASITLS_CV_S32, 3);
    CHECK(call1(ci, CI "[method]counter.add", args, 2).of.s == 8);
    args[1].kind = WASITLS_CV_STRING;
    args[1].of.str.ptr = "c\xc3\xa9";
    args[1].of.str.len = 3;
    wasitls_cval s = call1(ci, CI "[method]counter.describe", args, 2);
    CHECK(s.kind == WASITLS_CV_STRING && s.of.str.len == 5 &&
          !memcmp(s.of.str.ptr, "c\xc3\xa9=8", 5));
    a.of.s = 10;
    wasitls_cval h2 = call1(ci, CI "[constructor]counter", &a, 1);
    CHECK(call1(ci, CI "live", NULL, 0).of.u == 2);
    args[0] = h1; /* own: moves into the guest, which drops it */
    args[1] = h2;
    args[1].kind = WASITLS_CV_BORROW;
    wasitls_cval h3 = call1(ci, CI "[static]counter.merge", args, 2);
    CHECK(call1(ci, CI "live", NULL, 0).of.u == 2);
    args[0] = h3;
    args[0].kind = WASITLS_CV_BORROW;
    args[1].kind = WASITLS_CV_STRING;
    args[1].of.str.ptr = "m";
    args[1].of.str.len = 1;
    s = call1(ci, CI "[method]counter.describe", args, 2);
    CHECK(s.of.str.len == 4 && !memcmp(s.of.str.ptr, "m=18", 4));
    CHECK_OK(wasitls_cinstance_drop(ci, &h2, &err), &err);
    CHECK(call1(ci, CI "live", NULL, 0).of.u == 1);
    CHECK(wasitls_cinstance_drop(ci, &h2, &err) == WASITLS_E_INVAL); /* dropped already */
    /* h1 moved into the guest: using it again is refused and traps */
    args[0] = h1;
    args[0].kind = WASITLS_CV_BORROW;
    args[1] = wasitls_cv_u64(WASITLS_CV_S32, 1);
    wasitls_cval r;
    bool has;
    int rc = wasitls_cinstance_call(ci, CI "[method]counter.add", args, 2, &r, &has, &err);
    printf("%s\n", err.msg);
    CHECK(rc == WASITLS_E_INVAL && strstr(err.msg, "invalid handle"));
    /* host mistakes are errors for the host; the instance stays usable */
    args[1].kind = WASITLS_CV_STRING;
    rc = wasitls_cinstance_call(ci, CI "[method]counter.add", args, 2, &r, &has, &err);
    CHECK(rc == WASITLS_E_INVAL && strstr(err.msg, "does not fit"));
    wasitls_cval big = wasitls_cv_u64(WASITLS_CV_U64, 1ull << 40);
    CHECK(wasitls_cinstance_call(ci, CI "[constructor]counter", &big, 1, &r, &has, &err) ==
          WASITLS_E_INVAL);
    CHECK(call1(ci, CI "live", NULL, 0).of.u == 1);
    wasitls_cinstance_free(ci);
    wasitls_component_free(c);
    wasitls_linker_free(l);
    wasitls_engine_free(e);
}

/* ---- handle misuse (WAT component) ---- */

static int things_live;

static int mk_thing(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                    wasitls_cval *result)
{
    uint32_t *p = malloc(sizeof *p);
    *p = (uint32_t)args[0].of.u;
    things_live++;
    *result = wasitls_cv_own(p);
    return 0;
}

static int thing_value(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                       wasitls_cval *result)
{
    CHECK(args[0].kind == WASITLS_CV_BORROW);
    *result = wasitls_cv_u64(WASITLS_CV_U32, *(uint32_t *)args[0].of.res.rep);
    return 0;
}

static int sum_all(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                   wasitls_cval *result)
{
    CHECK(args[0].kind == WASITLS_CV_LIST);
    uint64_t sum = 0;
    for (size_t i = 0; i < args[0].of.list.len; i++) {
        CHECK(args[0].of.list.items[i].kind == WASITLS_CV_BORROW);
        sum += *(uint32_t *)args[0].of.list.items[i].of.res.rep;
    }
    *result = wasitls_cv_u64(WASITLS_CV_U32, sum);
    return 0;
}

static int refusals;

static int thing_dtor(void *env, void *rep, wasitls_error *err)
{
    if (*(uint32_t *)rep == 666 && refusals++ == 0)
        return wasitls_error_set(err, WASITLS_E_BUSY, "thing 666 still has children");
    things_live--;
    free(rep);
    return 0;
}

static wasitls_linker *res_linker(void)
{
    wasitls_linker *l;
    wasitls_error err;
    CHECK(wasitls_linker_new(&l) == 0);
    const char *wit = "package test:host@1.0.3;\n"
                      "interface res {\n"
                      "  resource thing { value: func() -> u32; }\n"
                      "  make-thing: func(v: u32) -> thing;\n"
                      "  sum-all: func(xs: list<borrow<thing>>) -> u32;\n"
                      "}\n";
    CHECK_OK(wasitls_linker_add_wit(l, wit, strlen(wit), &err), &err);
    const char *i = "test:host/res@1.0.3";
    CHECK_OK(wasitls_linker_func(l, i, "make-thing", mk_thing, NULL, &err), &err);
    CHECK_OK(wasitls_linker_func(l, i, "[method]thing.value", thing_value, NULL, &err), &err);
    CHECK_OK(wasitls_linker_func(l, i, "sum-all", sum_all, NULL, &err), &err);
    CHECK_OK(wasitls_linker_resource(l, i, "thing", thing_dtor, NULL, &err), &err);
    return l;
}

typedef struct rt {
    wasitls_engine *e;
    wasitls_component *c;
    wasitls_linker *l;
    wasitls_cinstance *ci;
} rt;

static void rt_open(rt *r)
{
    wasitls_error err;
    r->e = engine();
    r->c = load(r->e, RESOURCES_WASM);
    r->l = res_linker();
    CHECK_OK(wasitls_cinstance_new(r->c, r->l, NULL, &r->ci, &err), &err);
}

static void rt_close(rt *r)
{
    wasitls_cinstance_free(r->ci);
    wasitls_component_free(r->c);
    wasitls_linker_free(r->l);
    wasitls_engine_free(r->e);
}

static void expect_trap(wasitls_cinstance *ci, const char *fn, const wasitls_cval *args, size_t n,
                        const char *needle)
{
    wasitls_cval r;
    bool has;
    wasitls_error err;
    int rc = wasitls_cinstance_call(ci, fn, args, n, &r, &has, &err);
    printf("%s: %s\n", fn, err.msg);
    if (rc != WASITLS_E_TRAP || !strstr(err.msg, needle)) {
        fprintf(stderr, "%s: rc=%d msg=%s (wanted a trap with `%s`)\n", fn, rc, err.msg, needle);
        exit(1);
    }
    /* a trapped instance refuses further calls */
    CHECK(wasitls_cinstance_call(ci, "drops", NULL, 0, &r, &has, &err) == WASITLS_E_TRAP);
}

static void res_ok(void)
{
    rt r;
    rt_open(&r);
    wasitls_cval a = wasitls_cv_u64(WASITLS_CV_U32, 7);
    wasitls_cval own = call1(r.ci, "[constructor]r", &a, 1);
    wasitls_cval bor = own;
    bor.kind = WASITLS_CV_BORROW;
    CHECK(call1(r.ci, "[method]r.get", &bor, 1).of.u == 7);
    wasitls_error err;
    CHECK_OK(wasitls_cinstance_drop(r.ci, &own, &err), &err);
    CHECK(call1(r.ci, "drops", NULL, 0).of.u == 7); /* the destructor got rep 7 */
    a.of.u = 5;
    wasitls_cval thing = call1(r.ci, "make", &a, 1); /* host -> guest -> host: the rep comes back */
    CHECK(thing.kind == WASITLS_CV_OWN && *(uint32_t *)thing.of.res.rep == 5 && things_live == 1);
    wasitls_cval tb = thing;
    tb.kind = WASITLS_CV_BORROW;
    CHECK(call1(r.ci, "ok-borrow", &tb, 1).of.u == 5);
    CHECK(call1(r.ci, "thing-sum", &thing, 1).of.u == 5);
    CHECK(things_live == 0); /* the guest dropped its own handle: the host destructor ran */
    /* a list of borrows (the wasi:io/poll.poll shape): lent during the call, then dropped */
    wasitls_cval two[2];
    a.of.u = 30;
    two[0] = call1(r.ci, "make", &a, 1);
    a.of.u = 12;
    two[1] = call1(r.ci, "make", &a, 1);
    CHECK(things_live == 2);
    CHECK(call1(r.ci, "sum-two", two, 2).of.u == 42);
    CHECK(things_live == 0);
    /* a host thing left in the guest's table is freed at teardown */
    a.of.u = 9;
    wasitls_cval t2 = call1(r.ci, "make", &a, 1);
    CHECK(things_live == 1);
    rt_close(&r);
    free(t2.of.res.rep); /* moved to the host by `make`: ours to free */
    things_live--;
    CHECK(things_live == 0);
}

static void res_drop_twice(void)
{
    rt r;
    rt_open(&r);
    wasitls_cval a = wasitls_cv_u64(WASITLS_CV_U32, 1);
    wasitls_cval own = call1(r.ci, "[constructor]r", &a, 1);
    expect_trap(r.ci, "drop-twice", &own, 1, "resource.drop");
    rt_close(&r);
}

static void res_use_after_drop(void)
{
    rt r;
    rt_open(&r);
    uint32_t *p = malloc(sizeof *p);
    *p = 3;
    things_live = 1;
    wasitls_cval own = wasitls_cv_own(p);
    expect_trap(r.ci, "thing-twice", &own, 1, "invalid handle");
    CHECK(things_live == 0); /* the first drop freed it; nothing leaked or freed twice */
    rt_close(&r);
}

static void res_borrow_kept(void)
{
    rt r;
    rt_open(&r);
    uint32_t v = 11;
    wasitls_cval b = wasitls_cv_own(&v);
    b.kind = WASITLS_CV_BORROW;
    expect_trap(r.ci, "keep-borrow", &b, 1, "borrowed handle");
    rt_close(&r);
}

static void res_dtor_refuses(void)
{
    rt r;
    rt_open(&r);
    uint32_t *p = malloc(sizeof *p);
    *p = 666;
    things_live = 1;
    wasitls_cval own = wasitls_cv_own(p);
    expect_trap(r.ci, "thing-sum", &own, 1, "still has children");
    CHECK(things_live == 1 && refusals == 1);
    rt_close(&r); /* teardown asks again: now it goes */
    CHECK(things_live == 0 && refusals == 2);
}

static void res_forged(void)
{
    rt r;
    rt_open(&r);
    wasitls_cval h = wasitls_cv_u64(WASITLS_CV_U32, 12345);
    expect_trap(r.ci, "forge", &h, 1, "invalid handle");
    rt_close(&r);
}

/* ---- semantically invalid components: errors at instantiation ---- */

static void invalid(void)
{
    static const struct {
        const char *file;
        int code;
        const char *needle;
    } cases[] = {
        {"bad_lift.wasm", WASITLS_E_TYPE_MISMATCH,
         "canon lift: core function type [i32] -> [i32] does not match the lifted type ([i64] -> "
         "[i32])"},
        {"bad_nomem.wasm", WASITLS_E_INVALID, "needs a memory option"},
        {"bad_core_import.wasm", WASITLS_E_TYPE_MISMATCH,
         "function type [i64] -> [] expected, [i32] -> [] given"},
        {"bad_core_missing.wasm", WASITLS_E_LINK, "import `a` `f`: not exported"},
        {"bad_alias.wasm", WASITLS_E_INVALID, "has no export `nope`"},
        {"bad_own.wasm", WASITLS_E_INVALID, "not a resource"},
        {"bad_valtype.wasm", WASITLS_E_INVALID, "not a value type"},
        {"bad_realloc.wasm", WASITLS_E_TYPE_MISMATCH, "realloc must have type"},
        {"bad_resource_new.wasm", WASITLS_E_INVALID, "not defined by this component"},
        {"bad_start_trap.wasm", WASITLS_E_TRAP, "unreachable"},
    };
    wasitls_engine *e = engine();
    wasitls_linker *l = res_linker();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", WAT_DIR, cases[i].file);
        wasitls_component *c = load(e, path);
        wasitls_cinstance *ci = NULL;
        wasitls_error err;
        int rc = wasitls_cinstance_new(c, l, NULL, &ci, &err);
        printf("%s: %s: %s (offset %lld)\n", cases[i].file, wasitls_err_name(rc), err.msg,
               (long long)err.offset);
        if (rc != cases[i].code || !strstr(err.msg, cases[i].needle) || ci) {
            fprintf(stderr, "%s: wanted %s `%s`\n", cases[i].file, wasitls_err_name(cases[i].code),
                    cases[i].needle);
            exit(1);
        }
        if (rc != WASITLS_E_TRAP)
            CHECK(err.offset > 8); /* names the definition's place in the binary */
        wasitls_component_free(c);
    }
    wasitls_linker_free(l);
    wasitls_engine_free(e);
}

/* ---- strings in every encoding ---- */

static char echoed[256];
static bool echo_guest_bytes; /* answer through wasitls_ccall_guest_bytes */

static int echo(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                wasitls_cval *result)
{
    CHECK(args[0].kind == WASITLS_CV_STRING && args[0].of.str.len < sizeof echoed);
    memcpy(echoed, args[0].of.str.ptr, args[0].of.str.len);
    echoed[args[0].of.str.len] = 0;
    if (echo_guest_bytes) {
        uint8_t *p;
        size_t n = strlen(echoed);
        int rc = wasitls_ccall_guest_bytes(call, n, true, &p, result);
        if (rc) return rc;
        memcpy(p, echoed, n);
        return 0;
    }
    /* the argument is a view into guest memory: copy before returning it */
    char *copy = wasitls_ccall_alloc(call, args[0].of.str.len + 1);
    memcpy(copy, args[0].of.str.ptr, args[0].of.str.len);
    result->kind = WASITLS_CV_STRING;
    result->of.str.ptr = copy;
    result->of.str.len = args[0].of.str.len;
    return 0;
}

static void strings(void)
{
    wasitls_engine *e = engine();
    wasitls_component *c = load(e, STRINGS_WASM);
    wasitls_linker *l;
    wasitls_error err;
    CHECK(wasitls_linker_new(&l) == 0);
    const char *wit = "package test:host@1.0.0; interface str { echo: func(s: string) -> string; }";
    CHECK_OK(wasitls_linker_add_wit(l, wit, strlen(wit), &err), &err);
    CHECK_OK(wasitls_linker_func(l, "test:host/str@1.0.0", "echo", echo, NULL, &err), &err);
    wasitls_cinstance *ci;
    CHECK_OK(wasitls_cinstance_new(c, l, NULL, &ci, &err), &err);
    const char *fns[] = {"id8",        "id16",  "id-latin1", "via16",     "via8",
                         "via-latin1", "via16", "via8",      "via-latin1"};
    const char *samples[] = {"", "plain", "h\xc3\xa9llo \xc3\xbf",
                             "x\xe2\x82\xac\xf0\x9f\x98\x80y"};
    for (size_t f = 0; f < 9; f++) {
        echo_guest_bytes = f >= 6;
        for (size_t k = 0; k < 4; k++) {
            wasitls_cval a = {.kind = WASITLS_CV_STRING};
            a.of.str.ptr = samples[k];
            a.of.str.len = strlen(samples[k]);
            echoed[0] = '#';
            wasitls_cval r = call1(ci, fns[f], &a, 1);
            CHECK(r.kind == WASITLS_CV_STRING && r.of.str.len == a.of.str.len);
            CHECK(!memcmp(r.of.str.ptr, samples[k], r.of.str.len));
            if (fns[f][0] == 'v') CHECK(strcmp(echoed, samples[k]) == 0);
        }
    }
    wasitls_cval a = {.kind = WASITLS_CV_STRING};
    a.of.str.ptr = "x";
    a.of.str.len = 1;
    wasitls_cval r;
    bool has;
    int rc = wasitls_cinstance_call(ci, "bad", &a, 1, &r, &has, &err);
    printf("bad: %s\n", err.msg);
    CHECK(rc == WASITLS_E_TRAP && strstr(err.msg, "out of bounds"));
    wasitls_cinstance_free(ci);
    wasitls_component_free(c);
    wasitls_linker_free(l);
    wasitls_engine_free(e);
}

/* ---- call costs (checked for correctness; the timings are printed) ---- */

#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int tick(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                wasitls_cval *result)
{
    *result = wasitls_cv_u64(WASITLS_CV_U32, args[0].of.u & 1);
    return 0;
}

static int feed(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                wasitls_cval *result)
{
    CHECK(args[0].kind == WASITLS_CV_BYTES);
    *result = wasitls_cv_u64(WASITLS_CV_U32, args[0].of.bytes.len);
    return 0;
}

static int many(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                wasitls_cval *result)
{
    CHECK(nargs == 1 && args[0].kind == WASITLS_CV_TUPLE && args[0].of.list.len == 17);
    wasitls_cval *items = wasitls_ccall_vals(call, 17);
    for (int i = 0; i < 17; i++) {
        CHECK(args[0].of.list.items[i].of.u == (uint64_t)i + 1);
        items[i] = args[0].of.list.items[16 - i];
    }
    result->kind = WASITLS_CV_TUPLE;
    result->of.list.items = items;
    result->of.list.len = 17;
    return 0;
}

static void calls(void)
{
    wasitls_engine *e = engine();
    wasitls_component *c = load(e, CALLS_WASM);
    wasitls_linker *l;
    wasitls_error err;
    CHECK(wasitls_linker_new(&l) == 0);
    const char *wit = "package test:host@1.0.0; interface calls { tick: func(x: u32) -> u32; "
                      "feed: func(b: list<u8>) -> u32; many: func(a: tuple<u32, u32, u32, u32, "
                      "u32, u32, u32, u32, u32, u32, u32, u32, u32, u32, u32, u32, u32>) -> "
                      "tuple<u32, u32, u32, u32, u32, u32, u32, u32, u32, u32, u32, u32, u32, u32, "
                      "u32, u32, u32>; }";
    CHECK_OK(wasitls_linker_add_wit(l, wit, strlen(wit), &err), &err);
    CHECK_OK(wasitls_linker_func(l, "test:host/calls@1.0.0", "tick", tick, NULL, &err), &err);
    CHECK_OK(wasitls_linker_func(l, "test:host/calls@1.0.0", "feed", feed, NULL, &err), &err);
    CHECK_OK(wasitls_linker_func(l, "test:host/calls@1.0.0", "many", many, NULL, &err), &err);
    wasitls_cinstance *ci;
    CHECK_OK(wasitls_cinstance_new(c, l, NULL, &ci, &err), &err);
    /* more than 16 flat parameters, both directions */
    wasitls_cval p17[17];
    uint64_t want = 0;
    for (int i = 0; i < 17; i++) {
        p17[i] = wasitls_cv_u64(WASITLS_CV_U32, (uint64_t)i * 1000 + 7);
        want += (uint64_t)i * 1000 + 7;
    }
    CHECK(call1(ci, "sum17", p17, 17).of.u == want);
    uint64_t weighted = 0;
    for (int i = 0; i < 17; i++)
        weighted += (uint64_t)(i + 1) * (uint64_t)(17 - i);
    CHECK(call1(ci, "call-many", NULL, 0).of.u == weighted);
    const uint32_t n = 1000000;
    wasitls_cval a[2] = {wasitls_cv_u64(WASITLS_CV_U32, n), wasitls_cv_u64(WASITLS_CV_U32, 65536)};
    double t0 = now();
    CHECK(call1(ci, "loop-tick", a, 1).of.u == n / 2);
    double t1 = now();
    CHECK(call1(ci, "loop-feed", a, 2).of.u == (uint32_t)((uint64_t)n * 65536));
    double t2 = now();
    a[1] = wasitls_cv_u64(WASITLS_CV_U32, 1);
    for (uint32_t i = 0; i < 200000; i++) {
        a[0].of.u = i;
        CHECK(call1(ci, "add", a, 2).of.u == i + 1);
    }
    double t3 = now();
    printf("guest->host scalar call: %.0f ns\n", (t1 - t0) / n * 1e9);
    printf("guest->host list<u8> (64 KiB view) call: %.0f ns\n", (t2 - t1) / n * 1e9);
    printf("host->guest export call: %.0f ns\n", (t3 - t2) / 200000 * 1e9);
    wasitls_cinstance_free(ci);
    wasitls_component_free(c);
    wasitls_linker_free(l);
    wasitls_engine_free(e);
}

/* ---- nested components calling each other ---- */

static void nested(void)
{
    wasitls_engine *e = engine();
    wasitls_component *c = load(e, NESTED_WASM);
    wasitls_linker *l;
    wasitls_error err;
    CHECK(wasitls_linker_new(&l) == 0);
    wasitls_cinstance *ci;
    CHECK_OK(wasitls_cinstance_new(c, l, NULL, &ci, &err), &err);
    wasitls_cval a = wasitls_cv_u64(WASITLS_CV_U32, 5);
    CHECK(call1(ci, "quad", &a, 1).of.u == 20);
    a.kind = WASITLS_CV_STRING;
    a.of.str.ptr = "hello, nested";
    a.of.str.len = 13;
    wasitls_cval r = call1(ci, "loud", &a, 1);
    CHECK(r.of.str.len == 13 && !memcmp(r.of.str.ptr, "HELLO, NESTED", 13));
    /* the inner instance's exports are reachable by interface name too */
    a = wasitls_cv_u64(WASITLS_CV_U32, 21);
    CHECK(call1(ci, "inner#double", &a, 1).of.u == 42);
    {
        /* a core module exported by a nested component, instantiated by the outer one */
        wasitls_component *mc = load(e, MODEXPORT_WASM);
        wasitls_cinstance *mi;
        CHECK_OK(wasitls_cinstance_new(mc, l, NULL, &mi, &err), &err);
        CHECK(call1(mi, "f", NULL, 0).of.u == 42);
        CHECK(call1(mi, "d#g", NULL, 0).of.u == 7);
        wasitls_cinstance_free(mi);
        wasitls_component_free(mc);
    }
    /* a resource of the inner component owned, borrowed and dropped by the outer one */
    a.of.u = 7;
    CHECK(call1(ci, "cycle", &a, 1).of.u == 70 * 1000 + 7);
    /* each component instance has its own handle table */
    wasitls_cval fr;
    bool has;
    int rc = wasitls_cinstance_call(ci, "forge", NULL, 0, &fr, &has, &err);
    printf("forge: %s\n", err.msg);
    CHECK(rc == WASITLS_E_TRAP && strstr(err.msg, "invalid handle 1"));
    wasitls_cinstance_free(ci);
    wasitls_component_free(c);
    wasitls_linker_free(l);
    wasitls_engine_free(e);
}

/* ---- corrupted components through instantiation ---- */

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* Byte ranges of core module sections (left intact: the engine validates those). */
static void module_ranges(const uint8_t *b, size_t n, uint8_t *skip)
{
    for (size_t p = 8; p < n;) {
        uint8_t id = b[p];
        uint64_t size = 0;
        int shift = 0;
        size_t q = p + 1;
        while (q < n && (b[q] & 0x80)) {
            size |= (uint64_t)(b[q] & 0x7f) << shift;
            shift += 7;
            q++;
        }
        if (q >= n) return;
        size |= (uint64_t)(b[q] & 0x7f) << shift;
        size_t end = q + 1 + size > n ? n : q + 1 + size;
        if (id == 1 || id == 4) /* core modules, nested components (which hold modules) */
            memset(skip + p, 1, end - p);
        p = end;
    }
}

static int pass_str(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                    wasitls_cval *result)
{
    result->kind = WASITLS_CV_STRING;
    result->of.str.ptr = "x";
    result->of.str.len = 1;
    return 0;
}

static void corrupt(void)
{
    wasitls_engine *e = engine();
    wasitls_linker *l = res_linker();
    wasitls_error err;
    const char *wit =
        "package test:host@1.0.0; interface str { echo: func(s: string) -> string; }\n"
        "interface calls { tick: func(x: u32) -> u32; feed: func(b: list<u8>) -> u32; }";
    CHECK_OK(wasitls_linker_add_wit(l, wit, strlen(wit), &err), &err);
    CHECK_OK(wasitls_linker_func(l, "test:host/str@1.0.0", "echo", pass_str, NULL, &err), &err);
    CHECK_OK(wasitls_linker_func(l, "test:host/calls@1.0.0", "tick", tick, NULL, &err), &err);
    CHECK_OK(wasitls_linker_func(l, "test:host/calls@1.0.0", "feed", feed, NULL, &err), &err);
    const char *files[] = {RESOURCES_WASM, STRINGS_WASM, CALLS_WASM, NESTED_WASM};
    for (size_t f = 0; f < 4; f++) {
        size_t n;
        uint8_t *orig = t_read(files[f], &n);
        uint8_t *skip = calloc(n, 1);
        uint8_t *m = malloc(n);
        module_ranges(orig, n, skip);
        size_t parsed = 0, instantiated = 0;
        for (int it = 0; it < 400; it++) {
            memcpy(m, orig, n);
            for (int k = 0; k < 1 + (int)(rnd() % 3); k++) {
                size_t at = rnd() % n;
                if (skip[at]) continue;
                m[at] = (rnd() & 1) ? (uint8_t)rnd() : (uint8_t)(m[at] ^ (1u << (rnd() % 8)));
            }
            wasitls_component *c;
            if (wasitls_component_new(e, m, n, &c, &err)) {
                CHECK(err.msg[0]);
                continue;
            }
            parsed++;
            wasitls_cinstance *ci;
            if (wasitls_cinstance_new(c, l, NULL, &ci, &err) == 0) {
                instantiated++;
                wasitls_cinstance_free(ci);
            } else {
                CHECK(err.msg[0]);
            }
            wasitls_component_free(c);
        }
        printf("%s: %zu parsed, %zu instantiated of 400 corruptions\n", files[f], parsed,
               instantiated);
        free(m);
        free(skip);
        free(orig);
    }
    wasitls_linker_free(l);
    wasitls_engine_free(e);
}

/* Which interfaces a component exports, from a parse without an engine (nothing compiled, so
 * it cannot be instantiated). */
static void exports(void)
{
    wasitls_component *hello = load(NULL, HELLO_WASM), *counter = load(NULL, COUNTER_WASM);
    CHECK(wasitls_component_exports_interface(hello, "wasi:cli/run@0.2.0"));
    CHECK(wasitls_component_exports_interface(hello, "wasi:cli/run@0.2.3")); /* semver */
    CHECK(!wasitls_component_exports_interface(hello, "wasi:cli/run@0.3.0"));
    CHECK(wasitls_component_exports_interface(hello, "wasi:cli/run")); /* any version */
    CHECK(!wasitls_component_exports_interface(hello, "wasi:cli/ru"));
    CHECK(!wasitls_component_exports_interface(counter, "wasi:cli/run"));
    CHECK(!wasitls_component_exports_interface(hello, "test:counter/counter@0.1.0"));
    CHECK(!wasitls_component_exports_interface(counter, "wasi:cli/run@0.2.0"));
    CHECK(wasitls_component_exports_interface(counter, "test:counter/counter@0.1.0"));
    CHECK(!wasitls_component_exports_interface(counter, NULL));
    wasitls_linker *l;
    CHECK(wasitls_linker_new(&l) == 0);
    wasitls_cinstance *ci;
    wasitls_error err;
    CHECK(wasitls_cinstance_new(hello, l, NULL, &ci, &err) == WASITLS_E_INVAL);
    wasitls_linker_free(l);
    wasitls_component_free(hello);
    wasitls_component_free(counter);
}

int main(int argc, char **argv)
{
    static const tcase cases[] = {
        {"hello", hello},
        {"link_errors", link_errors},
        {"counter", counter},
        {"exports", exports},
        {"res_ok", res_ok},
        {"res_drop_twice", res_drop_twice},
        {"res_use_after_drop", res_use_after_drop},
        {"res_borrow_kept", res_borrow_kept},
        {"res_forged", res_forged},
        {"res_dtor_refuses", res_dtor_refuses},
        {"invalid", invalid},
        {"strings", strings},
        {"calls", calls},
        {"nested", nested},
        {"corrupt", corrupt},
    };
    return t_main(cases, sizeof cases / sizeof cases[0], argc, argv);
}
