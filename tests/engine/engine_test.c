/* Engine tests that need a host: traps and recovery, nested host/guest unwinding, host crashes
 * staying crashes, memory release, linking, the cache, unsupported features.
 *
 * usage: engine_test TEST fast|opt DATADIR   (DATADIR holds the .wasm files built from wat/) */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wasitls/engine.h"

static const char *datadir;
static wasitls_tier tier;
static char cachedir[512];

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_OK(call, err)                                                                        \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_) {                                                                                 \
            char b_[700];                                                                          \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,                   \
                    wasitls_error_format(&(err), b_, sizeof b_));                                  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static uint8_t *slurp(const char *name, size_t *n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", datadir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*n);
    CHECK(b && fread(b, 1, *n, f) == *n);
    fclose(f);
    return b;
}

static wasitls_engine *engine(bool cache)
{
    wasitls_engine_config cfg;
    wasitls_engine_config_default(&cfg);
    cfg.tier = tier;
    cfg.progress = 0;
    cfg.no_cache = !cache;
    cfg.cache_dir = cache ? cachedir : NULL;
    wasitls_engine *e;
    wasitls_error err;
    CHECK_OK(wasitls_engine_new(&cfg, &e, &err), err);
    return e;
}

static wasitls_module *load(wasitls_engine *e, const char *name)
{
    size_t n;
    uint8_t *b = slurp(name, &n);
    wasitls_module *m;
    wasitls_error err;
    CHECK_OK(wasitls_module_new(e, b, n, name, &m, &err), err);
    free(b);
    return m;
}

static int call(wasitls_instance *in, const char *fn, const wasitls_val *args, size_t nargs,
                wasitls_val *res, size_t nres, wasitls_error *err)
{
    long i = wasitls_module_find_export(wasitls_instance_module(in), fn);
    CHECK(i >= 0);
    return wasitls_instance_call(in, (size_t)i, args, nargs, res, nres, err);
}

static wasitls_val i32(uint32_t v)
{
    wasitls_val x = {.kind = WASITLS_I32};
    x.of.i32 = v;
    return x;
}

/* ---- traps: each kind traps with a message; the same instance then works ---- */

static void expect_trap(wasitls_instance *in, const char *fn, const wasitls_val *a, size_t na,
                        size_t nr, int code, const char *text)
{
    wasitls_val r[2];
    wasitls_error err;
    int rc = call(in, fn, a, na, r, nr, &err);
    if (rc != code || !strstr(err.msg, text)) {
        fprintf(stderr, "%s: expected %s \"%s\", got %s \"%s\"\n", fn, wasitls_err_name(code), text,
                wasitls_err_name(rc), err.msg);
        exit(1);
    }
    rc = call(in, "ok", NULL, 0, r, 1, &err);
    CHECK(rc == 0 && r[0].of.i32 == 42);
}

static void test_traps(void)
{
    wasitls_engine *e = engine(false);
    wasitls_module *m = load(e, "traps.wasm");
    wasitls_instance *in;
    wasitls_error err;
    CHECK_OK(wasitls_instance_new(m, NULL, 0, NULL, &in, &err), err);
    wasitls_val a[2] = {i32(7), i32(0)};
    for (int round = 0; round < 3; round++) {
        expect_trap(in, "div", a, 2, 1, WASITLS_E_TRAP, "divide by zero");
        expect_trap(in, "oob", NULL, 0, 1, WASITLS_E_TRAP, "out of bounds");
        expect_trap(in, "null_call", NULL, 0, 1, WASITLS_E_TRAP, "indirect call");
        expect_trap(in, "recurse", a, 1, 1, WASITLS_E_EXHAUSTION, "stack exhausted");
    }
    /* and a second instance of the same module in the same process */
    wasitls_instance *in2;
    CHECK_OK(wasitls_instance_new(m, NULL, 0, NULL, &in2, &err), err);
    expect_trap(in2, "div", a, 2, 1, WASITLS_E_TRAP, "divide by zero");
    a[1] = i32(2);
    wasitls_val r;
    CHECK_OK(call(in2, "div", a, 2, &r, 1, &err), err);
    CHECK(r.of.i32 == 3);
    wasitls_instance_free(in2);
    wasitls_instance_free(in);
    wasitls_module_free(m);
    wasitls_engine_free(e);
}

/* ---- nested host -> guest -> host -> guest ---- */

typedef struct nest {
    wasitls_instance *in;
    int mode; /* 0: inner ok; 1: inner traps, h swallows it; 2: inner traps, h propagates */
    int inner_rc;
    char inner_msg[600];
} nest;

static int host_h(wasitls_caller *c, void *env, const wasitls_val *args, wasitls_val *res)
{
    nest *n = env;
    CHECK(wasitls_caller_instance(c) == n->in);
    wasitls_val a = i32(n->mode == 0 ? args[0].of.i32 : 1), r;
    wasitls_error err;
    n->inner_rc = call(n->in, "inner", &a, 1, &r, 1, &err);
    if (n->inner_rc) {
        snprintf(n->inner_msg, sizeof n->inner_msg, "%s", err.msg);
        if (n->mode == 2) return wasitls_caller_trap(c, "host saw inner trap: %s", err.msg);
        res[0] = i32(7);
        return 0;
    }
    res[0] = r;
    return 0;
}

static int host_fail(wasitls_caller *c, void *env, const wasitls_val *args, wasitls_val *res)
{
    return wasitls_caller_trap(c, "host function refused");
}

static void test_nested(void)
{
    wasitls_engine *e = engine(false);
    wasitls_module *m = load(e, "nested.wasm");
    nest n = {0};
    wasitls_extern im[2] = {{.kind = WASITLS_EXTERN_FUNC}, {.kind = WASITLS_EXTERN_FUNC}};
    im[0].of.func.host = host_h;
    im[0].of.func.env = &n;
    im[1].of.func.host = host_fail;
    wasitls_error err;
    CHECK_OK(wasitls_instance_new(m, im, 2, NULL, &n.in, &err), err);
    wasitls_val a = i32(5), r;

    n.mode = 0;
    CHECK_OK(call(n.in, "outer", &a, 1, &r, 1, &err), err);
    CHECK(r.of.i32 == 1050);

    /* the inner trap unwinds only the inner call: outer continues with the host's value */
    n.mode = 1;
    CHECK_OK(call(n.in, "outer", &a, 1, &r, 1, &err), err);
    CHECK(n.inner_rc == WASITLS_E_TRAP && strstr(n.inner_msg, "unreachable"));
    CHECK(r.of.i32 == 1007);

    /* the host turns it into a trap of the outer call */
    n.mode = 2;
    int rc = call(n.in, "outer", &a, 1, &r, 1, &err);
    CHECK(rc == WASITLS_E_TRAP && strstr(err.msg, "host saw inner trap: unreachable"));

    /* a host function's own trap message */
    a = i32(2);
    rc = call(n.in, "inner", &a, 1, &r, 1, &err);
    CHECK(rc == WASITLS_E_TRAP && strstr(err.msg, "host function refused"));

    /* and everything still works */
    n.mode = 0;
    a = i32(3);
    CHECK_OK(call(n.in, "outer", &a, 1, &r, 1, &err), err);
    CHECK(r.of.i32 == 1030);

    /* boxing of every value type, multi-value results */
    wasitls_val args[4] = {
        {.kind = WASITLS_I32}, {.kind = WASITLS_I64}, {.kind = WASITLS_F32}, {.kind = WASITLS_F64}};
    args[0].of.i32 = (uint32_t)-3;
    args[1].of.i64 = 1ull << 40;
    args[2].of.f32 = -2.75f;
    args[3].of.f64 = 0.5;
    wasitls_val res[2];
    CHECK_OK(call(n.in, "types", args, 4, res, 2, &err), err);
    CHECK(res[0].kind == WASITLS_F64 && res[0].of.f64 == -2.5);
    CHECK(res[1].kind == WASITLS_I64 && res[1].of.i64 == (1ull << 40) - 2);
    /* wrong argument types are refused before entering the guest */
    CHECK(call(n.in, "types", args, 3, res, 2, &err) == WASITLS_E_TYPE_MISMATCH);
    wasitls_instance_free(n.in);
    wasitls_module_free(m);
    wasitls_engine_free(e);
}

/* ---- a crash in host code is not a guest trap ---- */

/* an address that is never mapped, hidden from the compiler */
static volatile int *volatile bad_ptr = (volatile int *)(uintptr_t)16;

static int host_crash(wasitls_caller *c, void *env, const wasitls_val *args, wasitls_val *res)
{
    res[0] = i32((uint32_t)*bad_ptr);
    return 0;
}

static void test_hostcrash(void)
{
    for (int variant = 0; variant < 2; variant++) {
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            wasitls_engine *e = engine(false);
            wasitls_module *m = load(e, "nested.wasm");
            wasitls_extern im[2] = {{.kind = WASITLS_EXTERN_FUNC}, {.kind = WASITLS_EXTERN_FUNC}};
            im[0].of.func.host = host_crash;
            im[1].of.func.host = host_fail;
            wasitls_instance *in;
            wasitls_error err;
            CHECK_OK(wasitls_instance_new(m, im, 2, NULL, &in, &err), err);
            wasitls_val a = i32(1), r;
            if (variant == 0) {
                /* inside a guest call, in a host function */
                int rc = call(in, "outer", &a, 1, &r, 1, &err);
                fprintf(stderr, "host crash was reported as %s: %s\n", wasitls_err_name(rc),
                        err.msg);
                _exit(0);
            }
            /* after guest calls, outside any */
            CHECK_OK(call(in, "inner", &a, 1, &r, 1, &err) == WASITLS_E_TRAP ? 0 : 1, err);
            fprintf(stderr, "read %d\n", *bad_ptr);
            _exit(0);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        /* dies of SIGSEGV (or, under a sanitizer, its report + non-zero exit); exit 0 would
         * mean the fault was swallowed as a guest trap */
        CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) ||
              (WIFEXITED(st) && WEXITSTATUS(st) != 0));
    }
}

/* ---- memories and tables are released ---- */

static long vm_size_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmSize:", 7)) kb = strtol(line + 7, NULL, 10);
    if (f) fclose(f);
    return kb;
}

static void test_memfree(void)
{
    wasitls_engine *e = engine(false);
    wasitls_module *m = load(e, "mem.wasm");
    wasitls_error err;
    long before = 0;
    for (int i = 0; i < 1000; i++) {
        if (i == 10) before = vm_size_kb();
        wasitls_instance *in;
        CHECK_OK(wasitls_instance_new(m, NULL, 0, NULL, &in, &err), err);
        wasitls_val a = i32((uint32_t)(i % 256) * 4096u), r;
        CHECK_OK(call(in, "touch", &a, 1, &r, 1, &err), err);
        CHECK(r.of.i32 == 1);
        wasitls_instance_free(in);
    }
    long after = vm_size_kb();
    /* each leaked reservation would be 8 GiB of address space */
    fprintf(stderr, "VmSize before %ld kB, after %ld kB\n", before, after);
    CHECK(after - before < 64 * 1024);
    wasitls_module_free(m);
    wasitls_engine_free(e);
}

/* ---- linking instances to each other; several instances and modules ---- */

static void test_link(void)
{
    wasitls_engine *e = engine(false);
    wasitls_module *ma = load(e, "link_a.wasm");
    wasitls_module *mb = load(e, "link_b.wasm");
    wasitls_error err;
    wasitls_instance *a1, *a2, *b1, *b2;
    CHECK_OK(wasitls_instance_new(ma, NULL, 0, NULL, &a1, &err), err);
    CHECK_OK(wasitls_instance_new(ma, NULL, 0, NULL, &a2, &err), err);
    wasitls_extern im[2];
    CHECK(wasitls_instance_export_extern(a1, "count", &im[0]) == 0);
    CHECK(wasitls_instance_export_extern(a1, "add", &im[1]) == 0);
    CHECK_OK(wasitls_instance_new(mb, im, 2, NULL, &b1, &err), err);
    CHECK(wasitls_instance_export_extern(a2, "count", &im[0]) == 0);
    CHECK(wasitls_instance_export_extern(a2, "add", &im[1]) == 0);
    CHECK_OK(wasitls_instance_new(mb, im, 2, NULL, &b2, &err), err);
    wasitls_val r;
    CHECK_OK(call(b1, "twice", NULL, 0, &r, 1, &err), err);
    CHECK(r.of.i32 == 2);
    CHECK_OK(call(b1, "twice", NULL, 0, &r, 1, &err), err);
    CHECK(r.of.i32 == 4);
    CHECK_OK(call(b2, "twice", NULL, 0, &r, 1, &err), err);
    CHECK(r.of.i32 == 2); /* a2 has its own counter */
    wasitls_val a = {.kind = WASITLS_I64};
    a.of.i64 = 5;
    CHECK_OK(call(b1, "sum", &a, 1, &r, 1, &err), err);
    CHECK(r.of.i64 == 105);
    a = i32(1000000);
    CHECK_OK(call(b1, "loop", &a, 1, &r, 1, &err), err);
    CHECK(r.of.i64 == 3000000);
    /* an export called through its extern */
    wasitls_extern cnt;
    CHECK(wasitls_instance_export_extern(a1, "count", &cnt) == 0);
    CHECK(wasitls_extern_functype(&cnt)->nresults == 1);
    CHECK_OK(wasitls_extern_call(&cnt, NULL, 0, &r, 1, &err), err);
    CHECK(r.of.i32 == 5);
    /* memories are separate per instance */
    wasitls_extern m1, m2;
    CHECK(wasitls_instance_export_extern(a1, "memory", &m1) == 0);
    CHECK(wasitls_instance_export_extern(a2, "memory", &m2) == 0);
    CHECK(wasitls_memory_data(m1.of.memory) != wasitls_memory_data(m2.of.memory));
    wasitls_memory_data(m1.of.memory)[10] = 1;
    CHECK(wasitls_memory_data(m2.of.memory)[10] == 0);
    CHECK(wasitls_memory_size(m1.of.memory) == 65536);
    CHECK(wasitls_memory_grow(m1.of.memory, 2) == 1);
    CHECK(wasitls_memory_size(m1.of.memory) == 3 * 65536);
    /* a type mismatch is a link error */
    CHECK(wasitls_instance_export_extern(a1, "add", &im[0]) == 0);
    CHECK(wasitls_instance_new(mb, im, 2, NULL, &b2, &err) == WASITLS_E_LINK);
    wasitls_instance_free(b1);
    wasitls_instance_free(b2 == NULL ? NULL : b2);
    wasitls_instance_free(a1);
    wasitls_instance_free(a2);
    wasitls_module_free(mb);
    wasitls_module_free(ma);
    wasitls_engine_free(e);
}

/* ---- the cache: entries are verified, corrupt ones rebuilt ---- */

static int cache_entry(char *path, size_t len)
{
    DIR *d = opendir(cachedir);
    CHECK(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            snprintf(path, len, "%s/%s", cachedir, de->d_name);
            n++;
        }
    closedir(d);
    return n;
}

static void run_ok(wasitls_engine *e)
{
    wasitls_module *m = load(e, "traps.wasm");
    wasitls_instance *in;
    wasitls_error err;
    CHECK_OK(wasitls_instance_new(m, NULL, 0, NULL, &in, &err), err);
    wasitls_val r;
    CHECK_OK(call(in, "ok", NULL, 0, &r, 1, &err), err);
    CHECK(r.of.i32 == 42);
    wasitls_instance_free(in);
    wasitls_module_free(m);
}

static void test_cache(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cachedir);
    CHECK(system(cmd) == 0);
    wasitls_engine *e = engine(true);
    run_ok(e);
    char path[1024];
    CHECK(cache_entry(path, sizeof path) == 1);
    struct stat st0;
    CHECK(stat(path, &st0) == 0 && st0.st_size > 100);
    run_ok(e); /* from the cache */
    CHECK(cache_entry(path, sizeof path) == 1);

    /* flip a byte in the middle: detected by the checksum, rebuilt */
    FILE *f = fopen(path, "r+b");
    CHECK(f);
    fseek(f, st0.st_size / 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, st0.st_size / 2, SEEK_SET);
    fputc(c ^ 0x55, f);
    fclose(f);
    run_ok(e);
    f = fopen(path, "rb");
    fseek(f, st0.st_size / 2, SEEK_SET);
    CHECK(fgetc(f) == c);
    fclose(f);

    /* truncated and foreign entries too */
    CHECK(truncate(path, st0.st_size / 3) == 0);
    run_ok(e);
    CHECK(stat(path, &st0) == 0 && st0.st_size > 100);
    f = fopen(path, "wb");
    fputs("\x7f"
          "ELF not really a cache entry",
          f);
    fclose(f);
    run_ok(e);
    struct stat st1;
    CHECK(stat(path, &st1) == 0 && st1.st_size == st0.st_size);
    wasitls_engine_free(e);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cachedir);
    CHECK(system(cmd) == 0);
}

/* Several processes filling and reading one cache entry at once: every one of them must get
 * working code, and the entry left behind must verify. */
static void test_cache_concurrent(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cachedir);
    CHECK(system(cmd) == 0);
    enum { N = 6 };
    pid_t kids[N];
    for (int round = 0; round < 2; round++) {
        fflush(NULL);
        for (int i = 0; i < N; i++) {
            kids[i] = fork();
            CHECK(kids[i] >= 0);
            if (kids[i] == 0) {
                wasitls_engine *e = engine(true);
                for (int k = 0; k < 3; k++)
                    run_ok(e);
                wasitls_engine_free(e);
                _exit(0);
            }
        }
        for (int i = 0; i < N; i++) {
            int st;
            CHECK(waitpid(kids[i], &st, 0) == kids[i]);
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
    }
    char path[1024];
    CHECK(cache_entry(path, sizeof path) == 1); /* no temporary files left behind */
    wasitls_engine *e = engine(true);
    run_ok(e);
    wasitls_engine_free(e);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cachedir);
    CHECK(system(cmd) == 0);
}

/* ---- features the engine cannot run get an error naming them ---- */

static void expect_unsupported(const char *file, const char *feature)
{
    wasitls_engine *e = engine(false);
    size_t n;
    uint8_t *b = slurp(file, &n);
    wasitls_module *m;
    wasitls_error err;
    int rc = wasitls_module_new(e, b, n, file, &m, &err);
    if (rc != WASITLS_E_UNSUPPORTED_FEATURE || !strstr(err.msg, feature)) {
        fprintf(stderr, "%s: expected unsupported %s, got %s: %s\n", file, feature,
                wasitls_err_name(rc), err.msg);
        exit(1);
    }
    CHECK(wasitls_module_validate(b, n, &err) == WASITLS_E_UNSUPPORTED_FEATURE);
    free(b);
    wasitls_engine_free(e);
}

static void test_unsupported(void)
{
    expect_unsupported("simd.wasm", "SIMD");
    expect_unsupported("tail.wasm", "tail call");
    /* malformed input reports an offset */
    wasitls_error err;
    static const uint8_t bad[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 9, 1, 0x60};
    CHECK(wasitls_module_validate(bad, sizeof bad, &err) == WASITLS_E_MALFORMED);
    CHECK(err.offset >= 8);
    /* a body that does not type-check: (func (result i32) (i64.const 0)) */
    static const uint8_t ill[] = {0,    'a', 's', 'm', 1, 0,  0, 0, 1, 5, 1,    0x60, 0,   1,
                                  0x7f, 3,   2,   1,   0, 10, 6, 1, 4, 0, 0x42, 0,    0x0b};
    CHECK(wasitls_module_validate(ill, sizeof ill, &err) == WASITLS_E_INVALID);
    CHECK(strstr(err.msg, "type mismatch"));
    static const uint8_t good[] = {0,    'a', 's', 'm', 1, 0,  0, 0, 1, 5, 1,    0x60, 0,   1,
                                   0x7f, 3,   2,   1,   0, 10, 6, 1, 4, 0, 0x41, 0,    0x0b};
    CHECK_OK(wasitls_module_validate(good, sizeof good, &err), err);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: engine_test TEST fast|opt DATADIR\n");
        return 2;
    }
    tier = strcmp(argv[2], "opt") == 0 ? WASITLS_TIER_OPT : WASITLS_TIER_FAST;
    datadir = argv[3];
    snprintf(cachedir, sizeof cachedir, "%s/cache-test-%s-%ld", datadir, argv[2], (long)getpid());
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"traps", test_traps},
        {"nested", test_nested},
        {"hostcrash", test_hostcrash},
        {"memfree", test_memfree},
        {"link", test_link},
        {"cache", test_cache},
        {"unsupported", test_unsupported},
        {"cache_concurrent", test_cache_concurrent},
    };
    for (size_t i = 0; i < sizeof tests / sizeof *tests; i++)
        if (!strcmp(argv[1], tests[i].name)) {
            tests[i].fn();
            printf("ok %s (%s)\n", argv[1], argv[2]);
            return 0;
        }
    fprintf(stderr, "unknown test %s\n", argv[1]);
    return 2;
}
