/* `wasitls wast FILE.wast [--tier fast|opt]`: runs a WebAssembly script against the engine.
 *
 * wabt's wast2json turns the script into JSON plus one .wasm file per module; we walk the
 * commands. Counted: every module definition, action and assertion (assert_malformed of text
 * modules is about the text parser, which is wabt's, and is not counted). Failures are
 * printed as FILE:LINE: ...; the last line is always "N passed, M failed". */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "clicommon.h"
#include "wasitls/engine.h"

extern char **environ;

/* ---- a small JSON reader (wast2json's output only) ---- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jkind;
typedef struct jv jv;
struct jv {
    jkind kind;
    char *str; /* J_STR; J_OBJ member key in `key` */
    char *key;
    double num;
    jv *kids; /* J_ARR / J_OBJ members */
    size_t n;
};

typedef struct jp {
    const char *s, *end;
    bool bad;
} jp;

static void jskip(jp *p)
{
    while (p->s < p->end && isspace((unsigned char)*p->s))
        p->s++;
}

static char *jstring(jp *p)
{
    if (p->s >= p->end || *p->s != '"') {
        p->bad = true;
        return NULL;
    }
    p->s++;
    size_t cap = 16, n = 0;
    char *o = malloc(cap);
    while (o && p->s < p->end && *p->s != '"') {
        char c = *p->s++;
        if (c == '\\' && p->s < p->end) {
            char e = *p->s++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                unsigned v = 0;
                for (int i = 0; i < 4 && p->s < p->end; i++)
                    v = v * 16 + (unsigned)(isdigit((unsigned char)*p->s)
                                                ? *p->s - '0'
                                                : (tolower((unsigned char)*p->s) - 'a' + 10)),
                    p->s++;
                /* names with escapes only need to round-trip as UTF-8 */
                char u[4];
                int k = 0;
                if (v < 0x80)
                    u[k++] = (char)v;
                else if (v < 0x800) {
                    u[k++] = (char)(0xc0 | v >> 6);
                    u[k++] = (char)(0x80 | (v & 63));
                } else {
                    u[k++] = (char)(0xe0 | v >> 12);
                    u[k++] = (char)(0x80 | ((v >> 6) & 63));
                    u[k++] = (char)(0x80 | (v & 63));
                }
                for (int i = 0; i < k; i++) {
                    if (n + 2 > cap) {
                        cap *= 2;
                        char *q = realloc(o, cap);
                        if (!q) {
                            free(o);
                            return NULL;
                        }
                        o = q;
                    }
                    o[n++] = u[i];
                }
                continue;
            }
            default:
                c = e;
            }
        }
        if (n + 2 > cap) {
            cap *= 2;
            char *q = realloc(o, cap);
            if (!q) {
                free(o);
                return NULL;
            }
            o = q;
        }
        o[n++] = c;
    }
    if (!o || p->s >= p->end) {
        free(o);
        p->bad = true;
        return NULL;
    }
    p->s++;
    o[n] = 0;
    return o;
}

static void jparse(jp *p, jv *v);

static void jpush(jv *v, jv *kid)
{
    jv *k = realloc(v->kids, (v->n + 1) * sizeof *k);
    if (!k) {
        exit(3);
    }
    v->kids = k;
    v->kids[v->n++] = *kid;
}

static void jparse(jp *p, jv *v)
{
    memset(v, 0, sizeof *v);
    jskip(p);
    if (p->s >= p->end) {
        p->bad = true;
        return;
    }
    char c = *p->s;
    if (c == '{' || c == '[') {
        v->kind = c == '{' ? J_OBJ : J_ARR;
        p->s++;
        jskip(p);
        if (p->s < p->end && *p->s == (c == '{' ? '}' : ']')) {
            p->s++;
            return;
        }
        while (!p->bad) {
            jv kid;
            char *key = NULL;
            if (v->kind == J_OBJ) {
                jskip(p);
                key = jstring(p);
                jskip(p);
                if (p->s >= p->end || *p->s != ':') {
                    free(key);
                    p->bad = true;
                    return;
                }
                p->s++;
            }
            jparse(p, &kid);
            kid.key = key;
            jpush(v, &kid);
            jskip(p);
            if (p->s < p->end && *p->s == ',') {
                p->s++;
                continue;
            }
            if (p->s < p->end && *p->s == (c == '{' ? '}' : ']')) {
                p->s++;
                return;
            }
            p->bad = true;
        }
        return;
    }
    if (c == '"') {
        v->kind = J_STR;
        v->str = jstring(p);
        return;
    }
    if (!strncmp(p->s, "true", 4) || !strncmp(p->s, "false", 5)) {
        v->kind = J_BOOL;
        v->num = *p->s == 't';
        p->s += *p->s == 't' ? 4 : 5;
        return;
    }
    if (!strncmp(p->s, "null", 4)) {
        p->s += 4;
        return;
    }
    char *e;
    v->kind = J_NUM;
    v->num = strtod(p->s, &e);
    if (e == p->s) p->bad = true;
    p->s = e;
}

static void jfree(jv *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->kids[i].key);
        jfree(&v->kids[i]);
    }
    free(v->kids);
    free(v->str);
}

static const jv *jget(const jv *o, const char *key)
{
    if (!o || o->kind != J_OBJ) return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (o->kids[i].key && !strcmp(o->kids[i].key, key)) return &o->kids[i];
    return NULL;
}

static const char *jstr(const jv *o, const char *key)
{
    const jv *v = jget(o, key);
    return v && v->kind == J_STR ? v->str : NULL;
}

/* ---- the script state ---- */

typedef struct named {
    char *name;
    wasitls_instance *inst;
} named;

typedef struct wast {
    wasitls_engine *engine;
    const char *file, *dir;
    wasitls_module **mods;
    size_t nmods;
    wasitls_instance **insts;
    size_t ninsts;
    named *names; /* "$M" -> instance (module commands with a name) */
    size_t nnames;
    named *registered; /* "as" names -> instance */
    size_t nregistered;
    wasitls_instance *current;
    wasitls_instance *spectest;
    int passed, failed, line;
} wast;

static void fail(wast *w, const char *fmt, ...) WASITLS_PRINTF(2, 3);
static void fail(wast *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "%s:%d: ", w->file, w->line);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    w->failed++;
}

static void *push(void *arr, size_t *n, size_t elsize, const void *item)
{
    char *p = realloc(arr, (*n + 1) * elsize);
    if (!p) {
        fprintf(stderr, "error: out of memory\n");
        exit(1);
    }
    memcpy(p + *n * elsize, item, elsize);
    (*n)++;
    return p;
}

static int spawn_wait(char *const argv[], const char *out)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out) {
        posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static const char spectest_wat[] = "(module\n"
                                   "  (global (export \"global_i32\") i32 (i32.const 666))\n"
                                   "  (global (export \"global_i64\") i64 (i64.const 666))\n"
                                   "  (global (export \"global_f32\") f32 (f32.const 666.6))\n"
                                   "  (global (export \"global_f64\") f64 (f64.const 666.6))\n"
                                   "  (table (export \"table\") 10 20 funcref)\n"
                                   "  (memory (export \"memory\") 1 2)\n"
                                   "  (func (export \"print\"))\n"
                                   "  (func (export \"print_i32\") (param i32))\n"
                                   "  (func (export \"print_i64\") (param i64))\n"
                                   "  (func (export \"print_f32\") (param f32))\n"
                                   "  (func (export \"print_f64\") (param f64))\n"
                                   "  (func (export \"print_i32_f32\") (param i32 f32))\n"
                                   "  (func (export \"print_f64_f64\") (param f64 f64)))\n";

/* The spectest module is itself a wasm module: exports of a real instance are what the
 * engine links against, and its print functions need do nothing. */
static wasitls_instance *get_spectest(wast *w)
{
    if (w->spectest) return w->spectest;
    char wat[4096], wasm[4096], log[4096];
    snprintf(wat, sizeof wat, "%s/spectest.wat", w->dir);
    snprintf(wasm, sizeof wasm, "%s/spectest.wasm", w->dir);
    snprintf(log, sizeof log, "%s/spectest.log", w->dir);
    FILE *f = fopen(wat, "w");
    if (!f) return NULL;
    fputs(spectest_wat, f);
    fclose(f);
    char *argv[] = {"wat2wasm", wat, "-o", wasm, NULL};
    if (spawn_wait(argv, log) != 0) return NULL;
    uint8_t *b;
    size_t n;
    if (wasitls__cli_read_ex(wasm, true, &b, &n)) return NULL;
    wasitls_module *m;
    wasitls_error err;
    int rc = wasitls_module_new(w->engine, b, n, "spectest", &m, &err);
    free(b);
    if (rc) return NULL;
    w->mods = push(w->mods, &w->nmods, sizeof m, &m);
    wasitls_instance *inst;
    if (wasitls_instance_new(m, NULL, 0, NULL, &inst, &err)) return NULL;
    w->insts = push(w->insts, &w->ninsts, sizeof inst, &inst);
    w->spectest = inst;
    return inst;
}

static wasitls_instance *lookup(named *arr, size_t n, const char *name)
{
    for (size_t i = n; i-- > 0;)
        if (!strcmp(arr[i].name, name)) return arr[i].inst;
    return NULL;
}

/* Loads cmd's module file; 0 or the engine's error code. */
static int load_module(wast *w, const jv *cmd, wasitls_module **out, wasitls_error *err)
{
    const char *fn = jstr(cmd, "filename");
    if (!fn) return wasitls_error_set(err, WASITLS_E_INVAL, "no filename");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", w->dir, fn);
    uint8_t *b;
    size_t n;
    /* a module's file may be empty: (module binary "") is a malformed-module test */
    if (wasitls__cli_read_ex(path, true, &b, &n))
        return wasitls_error_set(err, WASITLS_E_IO, "cannot read %s", path);
    int rc = wasitls_module_new(w->engine, b, n, fn, out, err);
    free(b);
    return rc;
}

static int instantiate(wast *w, wasitls_module *m, wasitls_instance **out, wasitls_error *err)
{
    size_t ni = wasitls_module_import_count(m);
    wasitls_extern *ims = calloc(ni + 1, sizeof *ims);
    if (!ims) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < ni; i++) {
        const wasitls_importdesc *d = wasitls_module_import(m, i);
        wasitls_instance *src = lookup(w->registered, w->nregistered, d->module);
        if (!src && !strcmp(d->module, "spectest")) src = get_spectest(w);
        if (!src || wasitls_instance_export_extern(src, d->name, &ims[i]) != 0) {
            rc = wasitls_error_set(err, WASITLS_E_LINK, "unknown import %s.%s", d->module, d->name);
            goto out;
        }
    }
    rc = wasitls_instance_new(m, ims, ni, NULL, out, err);
out:
    free(ims);
    return rc;
}

/* ---- values ---- */

static bool parse_val(const jv *j, wasitls_val *v)
{
    const char *t = jstr(j, "type"), *s = jstr(j, "value");
    memset(v, 0, sizeof *v);
    if (!t) return false;
    if (!strcmp(t, "i32")) {
        v->kind = WASITLS_I32;
        v->of.i32 = (uint32_t)strtoull(s ? s : "0", NULL, 10);
    } else if (!strcmp(t, "i64")) {
        v->kind = WASITLS_I64;
        v->of.i64 = strtoull(s ? s : "0", NULL, 10);
    } else if (!strcmp(t, "f32")) {
        uint32_t b = (uint32_t)strtoull(s ? s : "0", NULL, 10);
        v->kind = WASITLS_F32;
        memcpy(&v->of.f32, &b, 4);
    } else if (!strcmp(t, "f64")) {
        uint64_t b = strtoull(s ? s : "0", NULL, 10);
        v->kind = WASITLS_F64;
        memcpy(&v->of.f64, &b, 8);
    } else if (!strcmp(t, "externref")) {
        v->kind = WASITLS_EXTERNREF;
        /* host reference N is the pointer value N+1, so that ref.extern 0 is not null */
        v->of.ref =
            !s || !strcmp(s, "null") ? NULL : (void *)(uintptr_t)(strtoull(s, NULL, 10) + 1);
    } else if (!strcmp(t, "funcref")) {
        v->kind = WASITLS_FUNCREF;
        v->of.ref = NULL;
    } else
        return false;
    return true;
}

static void show(const wasitls_val *v, char *buf, size_t len)
{
    switch (v->kind) {
    case WASITLS_I32:
        snprintf(buf, len, "i32:%u", v->of.i32);
        break;
    case WASITLS_I64:
        snprintf(buf, len, "i64:%llu", (unsigned long long)v->of.i64);
        break;
    case WASITLS_F32: {
        uint32_t b;
        memcpy(&b, &v->of.f32, 4);
        snprintf(buf, len, "f32:%g (0x%08x)", (double)v->of.f32, b);
        break;
    }
    case WASITLS_F64: {
        uint64_t b;
        memcpy(&b, &v->of.f64, 8);
        snprintf(buf, len, "f64:%g (0x%016llx)", v->of.f64, (unsigned long long)b);
        break;
    }
    default:
        snprintf(buf, len, "ref:%p", v->of.ref);
        break;
    }
}

/* Does `got` match expectation j? */
static bool match(const jv *j, const wasitls_val *got, char *why, size_t len)
{
    const char *t = jstr(j, "type"), *s = jstr(j, "value");
    char g[96];
    show(got, g, sizeof g);
    if (!t) return snprintf(why, len, "bad expectation"), false;
    if (!strcmp(t, "f32") && s && !strncmp(s, "nan:", 4)) {
        uint32_t b;
        memcpy(&b, &got->of.f32, 4);
        bool ok = got->kind == WASITLS_F32 &&
                  (!strcmp(s, "nan:canonical") ? (b & 0x7fffffffu) == 0x7fc00000u
                                               : (b & 0x7fc00000u) == 0x7fc00000u);
        if (!ok) snprintf(why, len, "expected %s, got %s", s, g);
        return ok;
    }
    if (!strcmp(t, "f64") && s && !strncmp(s, "nan:", 4)) {
        uint64_t b;
        memcpy(&b, &got->of.f64, 8);
        bool ok =
            got->kind == WASITLS_F64 &&
            (!strcmp(s, "nan:canonical") ? (b & 0x7fffffffffffffffull) == 0x7ff8000000000000ull
                                         : (b & 0x7ff8000000000000ull) == 0x7ff8000000000000ull);
        if (!ok) snprintf(why, len, "expected %s, got %s", s, g);
        return ok;
    }
    if (!strcmp(t, "funcref") && !s) { /* (ref.func): any non-null function */
        bool ok = got->kind == WASITLS_FUNCREF && got->of.ref;
        if (!ok) snprintf(why, len, "expected a non-null funcref, got %s", g);
        return ok;
    }
    wasitls_val want;
    if (!parse_val(j, &want)) return snprintf(why, len, "unsupported expected type %s", t), false;
    bool ok = want.kind == got->kind;
    if (ok) {
        switch (want.kind) {
        case WASITLS_I32:
            ok = want.of.i32 == got->of.i32;
            break;
        case WASITLS_I64:
            ok = want.of.i64 == got->of.i64;
            break;
        case WASITLS_F32:
            ok = !memcmp(&want.of.f32, &got->of.f32, 4);
            break;
        case WASITLS_F64:
            ok = !memcmp(&want.of.f64, &got->of.f64, 8);
            break;
        case WASITLS_FUNCREF:
            ok = !strcmp(s, "null") ? got->of.ref == NULL : got->of.ref != NULL;
            break;
        default:
            ok = want.of.ref == got->of.ref;
            break;
        }
    }
    if (!ok) {
        char e[96];
        show(&want, e, sizeof e);
        snprintf(why, len, "expected %s, got %s", e, g);
    }
    return ok;
}

/* Runs an action; results into res (room for 16). Returns 0 or the engine's code. */
static int act(wast *w, const jv *a, wasitls_val *res, size_t *nres, wasitls_error *err)
{
    const char *type = jstr(a, "type"), *modname = jstr(a, "module"), *field = jstr(a, "field");
    wasitls_instance *inst = modname ? lookup(w->names, w->nnames, modname) : w->current;
    if (!inst)
        return wasitls_error_set(err, WASITLS_E_NOTFOUND, "no module %s",
                                 modname ? modname : "(current)");
    if (!field) return wasitls_error_set(err, WASITLS_E_INVAL, "no field");
    wasitls_extern x;
    if (wasitls_instance_export_extern(inst, field, &x) != 0)
        return wasitls_error_set(err, WASITLS_E_NOTFOUND, "no export \"%s\"", field);
    if (type && !strcmp(type, "get")) {
        if (x.kind != WASITLS_EXTERN_GLOBAL)
            return wasitls_error_set(err, WASITLS_E_INVAL, "\"%s\" is not a global", field);
        *nres = 1;
        return wasitls_global_get(x.of.global, &res[0]);
    }
    if (x.kind != WASITLS_EXTERN_FUNC)
        return wasitls_error_set(err, WASITLS_E_INVAL, "\"%s\" is not a function", field);
    const jv *args = jget(a, "args");
    wasitls_val av[64];
    size_t na = 0;
    for (size_t i = 0; args && i < args->n && i < 64; i++)
        if (!parse_val(&args->kids[i], &av[na++]))
            return wasitls_error_set(err, WASITLS_E_UNSUPPORTED, "unsupported argument type");
    const wasitls_functype *ft = wasitls_extern_functype(&x);
    if (!ft || ft->nresults > 16)
        return wasitls_error_set(err, WASITLS_E_UNSUPPORTED, "too many results");
    *nres = ft->nresults;
    return wasitls_extern_call(&x, av, na, res, ft->nresults, err);
}

static void run_command(wast *w, const jv *cmd)
{
    const char *type = jstr(cmd, "type");
    const jv *line = jget(cmd, "line");
    w->line = line ? (int)line->num : 0;
    wasitls_error err;
    wasitls_error_clear(&err);
    char msg[WASITLS_ERROR_MSG_MAX + 64];
    if (!type) return;

    if (!strcmp(type, "module")) {
        wasitls_module *m;
        wasitls_instance *inst = NULL;
        w->current = NULL;
        int rc = load_module(w, cmd, &m, &err);
        if (rc) {
            fail(w, "module failed to load: %s", wasitls_error_format(&err, msg, sizeof msg));
            return;
        }
        w->mods = push(w->mods, &w->nmods, sizeof m, &m);
        rc = instantiate(w, m, &inst, &err);
        if (rc) {
            fail(w, "module failed to instantiate: %s",
                 wasitls_error_format(&err, msg, sizeof msg));
            return;
        }
        w->insts = push(w->insts, &w->ninsts, sizeof inst, &inst);
        w->current = inst;
        const char *name = jstr(cmd, "name");
        if (name) {
            named nm = {strdup(name), inst};
            w->names = push(w->names, &w->nnames, sizeof nm, &nm);
        }
        w->passed++;
        return;
    }
    if (!strcmp(type, "register")) {
        const char *name = jstr(cmd, "name"), *as = jstr(cmd, "as");
        wasitls_instance *inst = name ? lookup(w->names, w->nnames, name) : w->current;
        if (!inst || !as) {
            fail(w, "register: no such module");
            return;
        }
        named nm = {strdup(as), inst};
        w->registered = push(w->registered, &w->nregistered, sizeof nm, &nm);
        return;
    }
    if (!strcmp(type, "action") || !strcmp(type, "assert_return")) {
        wasitls_val res[16];
        size_t nres = 0;
        int rc = act(w, jget(cmd, "action"), res, &nres, &err);
        if (rc) {
            fail(w, "%s: %s", type, wasitls_error_format(&err, msg, sizeof msg));
            return;
        }
        const jv *exp = jget(cmd, "expected");
        if (!strcmp(type, "assert_return") && exp) {
            if (exp->n != nres) {
                fail(w, "expected %zu results, got %zu", exp->n, nres);
                return;
            }
            for (size_t i = 0; i < nres; i++) {
                char why[256];
                const jv *e = &exp->kids[i];
                const char *et = jstr(e, "type");
                if (et && !strcmp(et, "either")) {
                    const jv *vals = jget(e, "values");
                    bool any = false;
                    for (size_t k = 0; vals && k < vals->n && !any; k++)
                        any = match(&vals->kids[k], &res[i], why, sizeof why);
                    if (!any) {
                        fail(w, "result %zu: %s", i, why);
                        return;
                    }
                } else if (!match(e, &res[i], why, sizeof why)) {
                    fail(w, "result %zu: %s", i, why);
                    return;
                }
            }
        }
        w->passed++;
        return;
    }
    if (!strcmp(type, "assert_trap") || !strcmp(type, "assert_exhaustion")) {
        bool exh = !strcmp(type, "assert_exhaustion");
        wasitls_val res[16];
        size_t nres = 0;
        int rc = act(w, jget(cmd, "action"), res, &nres, &err);
        int want = exh ? WASITLS_E_EXHAUSTION : WASITLS_E_TRAP;
        if (rc != want) {
            const char *text = jstr(cmd, "text");
            fail(w, "%s: expected %s (\"%s\"), got %s", type, wasitls_err_name(want),
                 text ? text : "", rc ? wasitls_error_format(&err, msg, sizeof msg) : "success");
            return;
        }
        w->passed++;
        return;
    }
    if (!strcmp(type, "assert_invalid") || !strcmp(type, "assert_malformed")) {
        const char *mt = jstr(cmd, "module_type");
        if (mt && strcmp(mt, "binary") != 0)
            return; /* text-format errors are wast2json's business */
        wasitls_module *m = NULL;
        int rc = load_module(w, cmd, &m, &err);
        if (rc == 0) {
            w->mods = push(w->mods, &w->nmods, sizeof m, &m);
            fail(w, "%s: module loaded, expected \"%s\"", type,
                 jstr(cmd, "text") ? jstr(cmd, "text") : "");
            return;
        }
        if (rc != WASITLS_E_INVALID && rc != WASITLS_E_MALFORMED) {
            fail(w, "%s: unexpected error: %s", type, wasitls_error_format(&err, msg, sizeof msg));
            return;
        }
        w->passed++;
        return;
    }
    if (!strcmp(type, "assert_unlinkable") || !strcmp(type, "assert_uninstantiable")) {
        bool unl = !strcmp(type, "assert_unlinkable");
        wasitls_module *m = NULL;
        int rc = load_module(w, cmd, &m, &err);
        if (rc) {
            fail(w, "%s: module failed to load: %s", type,
                 wasitls_error_format(&err, msg, sizeof msg));
            return;
        }
        w->mods = push(w->mods, &w->nmods, sizeof m, &m);
        wasitls_instance *inst = NULL;
        rc = instantiate(w, m, &inst, &err);
        int want = unl ? WASITLS_E_LINK : WASITLS_E_TRAP;
        if (rc == 0) w->insts = push(w->insts, &w->ninsts, sizeof inst, &inst);
        if (rc != want) {
            fail(w, "%s: expected %s, got %s", type, wasitls_err_name(want),
                 rc ? wasitls_error_format(&err, msg, sizeof msg) : "success");
            return;
        }
        w->passed++;
        return;
    }
    fail(w, "unsupported command %s", type);
}

static const char usage_text[] =
    "usage: wasitls wast [OPTIONS] FILE.wast...\n"
    "\n"
    "Runs WebAssembly scripts (parsed by wabt's wast2json) and ends with \"N passed, M failed\"\n"
    "over all of them (with several files, each file's count comes first).\n"
    "\n"
    "  --tier fast|opt     compile tier (default fast)\n"
    "  --cache-dir DIR     compiled-code cache directory\n"
    "  --no-cache          do not use the cache\n"
    "  -h, --help          show this help\n";

/* Runs one script, adding to *passed and *failed; a script that cannot be run counts as one
 * failure. */
static void wast_file(const char *file, const wasitls_engine_config *cfg, int *passed, int *failed)
{
    if (wasitls__cli_check_input(file)) {
        (*failed)++;
        return;
    }
    char dir[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/wasitls-wast-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "error: cannot create a temporary directory: %s\n", strerror(errno));
        (*failed)++;
        return;
    }
    char json[4200], log[4200];
    snprintf(json, sizeof json, "%s/script.json", dir);
    snprintf(log, sizeof log, "%s/wast2json.log", dir);
    char *wargv[] = {"wast2json", (char *)file, "-o", json, NULL};
    wast w;
    memset(&w, 0, sizeof w);
    w.file = file;
    w.dir = dir;
    jv root;
    memset(&root, 0, sizeof root);
    uint8_t *text = NULL;
    size_t tlen;
    w.failed = 1; /* until the script runs, the script itself counts as one failure */
    int wrc = spawn_wait(wargv, log);
    if (wrc != 0) {
        uint8_t *l;
        size_t ll;
        if (wrc < 0)
            fprintf(stderr, "error: cannot run wast2json on %s (is wabt installed?)\n", file);
        else if (wrc > 128)
            fprintf(stderr, "error: wast2json crashed on %s (signal %d, %s)\n", file, wrc - 128,
                    strsignal(wrc - 128));
        else
            fprintf(stderr, "error: wast2json failed on %s\n", file);
        if (wasitls__cli_read_ex(log, true, &l, &ll) == 0) {
            fwrite(l, 1, ll, stderr);
            free(l);
        }
        goto out;
    }
    if (wasitls__cli_read_ex(json, true, &text, &tlen)) goto out;
    jp p = {(const char *)text, (const char *)text + tlen, false};
    jparse(&p, &root);
    const jv *cmds = jget(&root, "commands");
    if (p.bad || !cmds) {
        fprintf(stderr, "error: cannot parse wast2json's output\n");
        goto out;
    }
    wasitls_error err;
    if (wasitls_engine_new(cfg, &w.engine, &err)) {
        fprintf(stderr, "error: %s\n", err.msg);
        goto out;
    }
    w.failed = 0;
    for (size_t i = 0; i < cmds->n; i++)
        run_command(&w, &cmds->kids[i]);
out:
    *passed += w.passed;
    *failed += w.failed;
    for (size_t i = w.ninsts; i-- > 0;)
        wasitls_instance_free(w.insts[i]);
    for (size_t i = 0; i < w.nmods; i++)
        wasitls_module_free(w.mods[i]);
    for (size_t i = 0; i < w.nnames; i++)
        free(w.names[i].name);
    for (size_t i = 0; i < w.nregistered; i++)
        free(w.registered[i].name);
    free(w.insts);
    free(w.mods);
    free(w.names);
    free(w.registered);
    wasitls_engine_free(w.engine);
    jfree(&root);
    free(text);
    /* wast2json wrote script.json, script.N.wasm/.wat and we wrote spectest.*: remove them all */
    char rm[8400];
    snprintf(rm, sizeof rm, "%s", dir);
    char *rargv[] = {"rm", "-rf", rm, NULL};
    spawn_wait(rargv, NULL);
}

int wasitls_cli_wast(int argc, char **argv)
{
    wasitls_engine_config cfg;
    wasitls_engine_config_default(&cfg);
    const char **files = calloc((size_t)argc, sizeof *files);
    size_t nfiles = 0;
    if (!files) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    int status = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int k;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            status = 0;
            goto out;
        } else if ((k = wasitls__cli_opt(argc, argv, &i, "--tier", &v)) != 0) {
            if (k < 0 || wasitls__cli_tier(v, &cfg.tier)) goto out;
        } else if ((k = wasitls__cli_opt(argc, argv, &i, "--cache-dir", &v)) != 0) {
            if (k < 0) goto out;
            cfg.cache_dir = v;
        } else if (!strcmp(a, "--no-cache")) {
            cfg.no_cache = true;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "error: unknown option '%s'\n%s", a, usage_text);
            goto out;
        } else {
            files[nfiles++] = a;
        }
    }
    if (!nfiles) {
        fputs(usage_text, stderr);
        goto out;
    }
    char cdir[4096];
    const char *why;
    if (wasitls__cli_cache_probe(&cfg, cdir, sizeof cdir, &why)) {
        fprintf(stderr, "warning: cannot write cache directory %s: %s; running without a cache\n",
                cdir[0] ? cdir : "(none)", why);
        cfg.no_cache = true;
    }
    int passed = 0, failed = 0;
    for (size_t i = 0; i < nfiles; i++) {
        int p0 = passed, f0 = failed;
        wast_file(files[i], &cfg, &passed, &failed);
        if (nfiles > 1) printf("%s: %d passed, %d failed\n", files[i], passed - p0, failed - f0);
    }
    printf("%d passed, %d failed\n", passed, failed);
    status = failed ? 1 : 0;
out:
    free(files);
    return status;
}
