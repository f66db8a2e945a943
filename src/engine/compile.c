/* Translating (wasm2c), compiling (libtcc or cc) and caching modules.
 *
 * A cache entry is the payload (a shared object: built by libtcc in process for the fast
 * tier, by cc for the opt tier) followed by a trailer: magic, the entry's key, a 64-bit checksum
 * of the payload and its length. The key hashes the module bytes, the tier, the compiler's
 * identity, wasm2c's identity (its file on PATH: inode, size, mtime), the prelude text and the
 * wasitls version, so entries never leak across any of them. An entry is used only after the
 * trailer matches and the checksum verifies; anything else is rebuilt and overwritten. Entries are
 * written to a temporary file in the cache directory and renamed into place, so a concurrent reader
 * sees either the old file or the complete new one. (ELF loaders ignore bytes after the last
 * section, so the trailer does not disturb dlopen.)
 *
 * A fast-tier module with many functions is split (split.c) and its parts translated by wasm2c
 * and compiled by the tcc program in parallel processes, then linked by libtcc into the same
 * one shared object; any failure there falls back to the whole-module path. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libtcc.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "sha256.h"

extern char **environ;

#define GLUE_GEN_VERSION "glue-10"

#ifndef WASITLS_TCC_ID
#define WASITLS_TCC_ID "libtcc"
#endif

/* ---- progress on stderr ---- */

struct wasitls__progress {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool running, stop, printed, tty;
    const char *phase;
    const char *watch; /* a file whose growing size shows how far we are */
    char what[256];
    struct timespec start;
};

static double elapsed(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void progress_print(wasitls__progress *p)
{
    double t = elapsed(&p->start);
    char extra[64] = "";
    struct stat st;
    if (p->watch && stat(p->watch, &st) == 0)
        snprintf(extra, sizeof extra, ", %.1f MB of C so far", (double)st.st_size / 1e6);
    fprintf(stderr, "%swasitls: compiling %s: %s (%.0f s%s)%s", p->tty ? "\r" : "", p->what,
            p->phase, t, extra, p->tty ? "\033[K" : "\n");
    fflush(stderr);
    p->printed = true;
}

static void *progress_main(void *arg)
{
    wasitls__progress *p = arg;
    pthread_mutex_lock(&p->mu);
    int ticks = 0;
    /* The first report comes after WASITLS_PROGRESS_DELAY_MS (default 1000; tests set 0). */
    const char *env = getenv("WASITLS_PROGRESS_DELAY_MS");
    long delay_ms = env && *env ? strtol(env, NULL, 10) : 1000;
    if (delay_ms < 0) delay_ms = 0;
    while (!p->stop) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        long ms = ticks == 0 ? delay_ms : 1000;
        dl.tv_sec += ms / 1000;
        dl.tv_nsec += (ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        if (ms > 0 || ticks > 0) pthread_cond_timedwait(&p->cv, &p->mu, &dl);
        if (p->stop) break;
        ticks++;
        /* a terminal line updates every second; a log gets a line every 5 s */
        if (p->tty || ticks == 1 || ticks % 5 == 0) progress_print(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void progress_start(wasitls__progress *p, bool enabled, const char *name, wasitls_tier tier)
{
    memset(p, 0, sizeof *p);
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    snprintf(p->what, sizeof p->what, "%s (%s tier)", name,
             tier == WASITLS_TIER_OPT ? "opt" : "fast");
    p->phase = "starting";
    if (!enabled) return;
    p->tty = isatty(2);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->running = pthread_create(&p->th, NULL, progress_main, p) == 0;
}

static void progress_phase(wasitls__progress *p, const char *phase, const char *watch)
{
    if (!p->running) {
        p->phase = phase;
        p->watch = watch;
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->phase = phase;
    p->watch = watch;
    pthread_mutex_unlock(&p->mu);
}

static void progress_stop(wasitls__progress *p)
{
    if (!p->running) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    if (p->printed) {
        fprintf(stderr, "%swasitls: compiled %s in %.1f s%s\n", p->tty ? "\r" : "", p->what,
                elapsed(&p->start), p->tty ? "\033[K" : "");
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

/* ---- files and processes ---- */

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    uint8_t *p = malloc((size_t)st.st_size + 1);
    if (!p) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, p + got, (size_t)st.st_size - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    p[got] = 0;
    *out = p;
    *len = got;
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_file(const char *path, const void *a, size_t alen, const void *b, size_t blen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    int rc = write_all(fd, a, alen);
    if (!rc && b) rc = write_all(fd, b, blen);
    if (close(fd) != 0) rc = -1;
    return rc;
}

/* Runs argv with stdout+stderr into errpath; returns the wait status, or -1. */
static int run(char *const argv[], const char *errpath)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return st;
}

/* The first line(s) of a tool's diagnostics, for an error message. */
static void tool_message(const char *path, char *out, size_t len)
{
    uint8_t *p;
    size_t n;
    out[0] = 0;
    if (read_file(path, &p, &n) != 0) return;
    size_t k = 0;
    int lines = 0;
    for (size_t i = 0; i < n && k + 1 < len && lines < 3; i++) {
        char c = (char)p[i];
        if (c == '\n') {
            lines++;
            c = lines < 3 ? ';' : 0;
            if (!c) break;
            if (k + 2 < len) out[k++] = c;
            c = ' ';
        }
        out[k++] = c;
    }
    while (k && (out[k - 1] == ' ' || out[k - 1] == ';'))
        k--;
    out[k] = 0;
    free(p);
}

/* A tool's identity for the cache key: the file `tool` names on PATH (as posix_spawnp finds it,
 * symlinks followed) by device, inode, size and modification time; cached per process. Any
 * reinstall or upgrade changes it, and it costs a few stat() calls where running
 * `tool --version` cost a process (most of a warm start). */
static const char *tool_identity(const char *tool, char *cache, size_t len)
{
    if (cache[0]) return cache;
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p;) {
        const char *colon = strchr(p, ':');
        size_t dl = colon ? (size_t)(colon - p) : strlen(p);
        char cand[4096];
        struct stat st;
        if (dl + strlen(tool) + 2 < sizeof cand) {
            snprintf(cand, sizeof cand, "%.*s/%s", (int)dl, dl ? p : ".", tool);
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
                snprintf(cache, len, "%s dev %llu ino %llu size %lld mtime %lld.%09ld", cand,
                         (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                         (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
                return cache;
            }
        }
        if (!colon) break;
        p = colon + 1;
    }
    return "unknown";
}

static pthread_mutex_t ver_lock = PTHREAD_MUTEX_INITIALIZER;
static char wasm2c_ver[256], cc_ver[256];

/* ---- cache entries ---- */

#define TRAILER_MAGIC "wasitls-cache-2"
typedef struct trailer {
    char magic[16];
    uint8_t key[32];
    uint8_t sum[32];
    uint64_t len;
} trailer;

/* The payload's checksum: it catches a damaged file, not an attacker (whoever can write the
 * cache can write a matching trailer too), so a fast 64-bit hash does; SHA-256 over every
 * payload was the largest single cost of a warm start. Stored in the first 8 bytes of sum. */
static void payload_sum(const uint8_t *p, size_t n, uint8_t sum[32])
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ n, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdu;
        h ^= h >> 32;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    memset(sum, 0, 32);
    memcpy(sum, &h, 8);
}

/* Verifies data[0..n) as an entry for key; on success *payload_len is set. */
static bool entry_ok(const uint8_t *data, size_t n, const uint8_t key[32], size_t *payload_len)
{
    trailer t;
    if (n < sizeof t) return false;
    memcpy(&t, data + n - sizeof t, sizeof t);
    if (memcmp(t.magic, TRAILER_MAGIC, sizeof TRAILER_MAGIC) != 0 || memcmp(t.key, key, 32) != 0 ||
        t.len != n - sizeof t)
        return false;
    uint8_t sum[32];
    payload_sum(data, (size_t)t.len, sum);
    if (memcmp(sum, t.sum, 32) != 0) return false;
    *payload_len = (size_t)t.len;
    return true;
}

static void entry_store(const char *dir, const char *path, const uint8_t key[32],
                        const void *payload, size_t len)
{
    trailer t;
    memset(&t, 0, sizeof t);
    memcpy(t.magic, TRAILER_MAGIC, sizeof TRAILER_MAGIC);
    memcpy(t.key, key, 32);
    payload_sum(payload, len, t.sum);
    t.len = len;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.tmp-%ld-%lx", dir, (long)getpid(), (unsigned long)random());
    if (write_file(tmp, payload, len, &t, sizeof t) != 0 || rename(tmp, path) != 0)
        unlink(tmp); /* the cache is an optimisation: failing to fill it is not an error */
}

/* ---- the pipeline ---- */

static pthread_mutex_t tcc_lock = PTHREAD_MUTEX_INITIALIZER; /* libtcc 0.9.27 has global state */

typedef struct tcc_err {
    char msg[WASITLS_ERROR_MSG_MAX];
} tcc_err;

static void on_tcc_error(void *opaque, const char *msg)
{
    tcc_err *e = opaque;
    if (!e->msg[0]) snprintf(e->msg, sizeof e->msg, "%s", msg);
}

static int tcc_build(const char *src, wasitls__code *out, wasitls_error *err)
{
    tcc_err te = {{0}};
    pthread_mutex_lock(&tcc_lock);
    TCCState *s = tcc_new();
    if (!s) {
        pthread_mutex_unlock(&tcc_lock);
        return wasitls_error_set(err, WASITLS_E_NOMEM, "libtcc: cannot create a compiler state");
    }
    tcc_set_error_func(s, &te, on_tcc_error);
    tcc_set_output_type(s, TCC_OUTPUT_MEMORY);
    tcc_set_options(s, "-w");
    int rc = tcc_compile_string(s, src);
    if (rc == 0) rc = tcc_add_library(s, "m");
    if (rc == 0) rc = tcc_relocate(s, TCC_RELOCATE_AUTO);
    void *entry = rc == 0 ? tcc_get_symbol(s, WASITLS__ENTRY_NAME) : NULL;
    pthread_mutex_unlock(&tcc_lock);
    if (!entry) {
        tcc_delete(s);
        return wasitls_error_set(err, WASITLS_E_COMPILE, "libtcc: %s",
                                 te.msg[0] ? te.msg : "compilation failed");
    }
    out->tcc = s;
    ((wasitls__entry_fn)entry)(&wasitls__rt_impl, &out->glue);
    return 0;
}

/* Compiles src with libtcc into a shared object at path (in process: no fork). This is the
 * fast tier's cacheable form; without a cache tcc_build relocates in memory instead. */
static int tcc_build_so(const char *src, const char *path, wasitls_error *err)
{
    tcc_err te = {{0}};
    pthread_mutex_lock(&tcc_lock);
    TCCState *s = tcc_new();
    if (!s) {
        pthread_mutex_unlock(&tcc_lock);
        return wasitls_error_set(err, WASITLS_E_NOMEM, "libtcc: cannot create a compiler state");
    }
    tcc_set_error_func(s, &te, on_tcc_error);
    tcc_set_output_type(s, TCC_OUTPUT_DLL);
    tcc_set_options(s, "-w");
    int rc = tcc_compile_string(s, src);
    if (rc == 0) rc = tcc_add_library(s, "m");
    if (rc == 0) rc = tcc_output_file(s, path);
    tcc_delete(s);
    pthread_mutex_unlock(&tcc_lock);
    if (rc)
        return wasitls_error_set(err, WASITLS_E_COMPILE, "libtcc: %s",
                                 te.msg[0] ? te.msg : "compilation failed");
    return 0;
}

static int so_load(const char *path, wasitls__code *out, wasitls_error *err)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return wasitls_error_set(err, WASITLS_E_COMPILE, "cannot load compiled module: %s",
                                 dlerror());
    void *entry = dlsym(h, WASITLS__ENTRY_NAME);
    if (!entry) {
        dlclose(h);
        return wasitls_error_set(err, WASITLS_E_COMPILE, "compiled module has no entry point");
    }
    out->dl = h;
    ((wasitls__entry_fn)entry)(&wasitls__rt_impl, &out->glue);
    return 0;
}

/* Removes our temporary directory and the files in it (it has no subdirectories). */
static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        char p[4600];
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Appends wasm2c's code, rewriting float negation "x = -(y);" into a sign-bit flip: tcc
 * compiles unary minus as -0.0 - y, which quiets NaNs and loses their sign, where Wasm's
 * f32.neg / f64.neg must only flip the sign bit. (Stack temporaries are w2c_f<n> / w2c_d<n>.) */
static void put_code(wasitls__buf *b, const char *s, bool tcc)
{
    /* tcc has no __builtin_memcpy: a 4-byte load would be a call into libc. Little-endian
     * x86-64 allows unaligned typed accesses, so the load/store helpers use them instead. */
    static const struct {
        const char *from, *to;
    } subst[] = {
        {"wasm_rt_memcpy(&result, &mem->data[addr], sizeof(t1));",
         "result = *(t1 *)&mem->data[addr];"},
        {"wasm_rt_memcpy(&mem->data[addr], &wrapped, sizeof(t1));",
         "*(t1 *)&mem->data[addr] = wrapped;"},
    };
    for (size_t i = 0; tcc && i < sizeof subst / sizeof *subst; i++) {
        const char *at = strstr(s, subst[i].from);
        if (!at) continue;
        wasitls__buf_put(b, s, (size_t)(at - s));
        wasitls__buf_puts(b, subst[i].to);
        s = at + strlen(subst[i].from);
    }
    /* tcc does not inline either: after the helpers are defined, make every load and store a
     * macro with the helper's exact conversions, so an access is a few instructions, not a call */
    static const char last_helper[] = "DEFINE_STORE(i64_store32, u32, u64)\n";
    const char *at = tcc ? strstr(s, last_helper) : NULL;
    if (at) {
        at += strlen(last_helper);
        wasitls__buf_put(b, s, (size_t)(at - s));
        s = at;
        static const char *const loads[][4] = {
            {"i32_load", "u32", "u32", "u32"},     {"i64_load", "u64", "u64", "u64"},
            {"f32_load", "f32", "f32", "f32"},     {"f64_load", "f64", "f64", "f64"},
            {"i32_load8_s", "s8", "s32", "u32"},   {"i64_load8_s", "s8", "s64", "u64"},
            {"i32_load8_u", "u8", "u32", "u32"},   {"i64_load8_u", "u8", "u64", "u64"},
            {"i32_load16_s", "s16", "s32", "u32"}, {"i64_load16_s", "s16", "s64", "u64"},
            {"i32_load16_u", "u16", "u32", "u32"}, {"i64_load16_u", "u16", "u64", "u64"},
            {"i64_load32_s", "s32", "s64", "u64"}, {"i64_load32_u", "u32", "u64", "u64"},
        };
        static const char *const stores[][2] = {
            {"i32_store", "u32"}, {"i64_store", "u64"},   {"f32_store", "f32"},
            {"f64_store", "f64"}, {"i32_store8", "u8"},   {"i32_store16", "u16"},
            {"i64_store8", "u8"}, {"i64_store16", "u16"}, {"i64_store32", "u32"},
        };
        for (size_t i = 0; i < sizeof loads / sizeof *loads; i++)
            wasitls__buf_printf(b, "#define %s(m, a) ((%s)(%s) * (%s *)&(m)->data[a])\n",
                                loads[i][0], loads[i][3], loads[i][2], loads[i][1]);
        for (size_t i = 0; i < sizeof stores / sizeof *stores; i++)
            wasitls__buf_printf(b, "#define %s(m, a, v) ((void)(*(%s *)&(m)->data[a] = (%s)(v)))\n",
                                stores[i][0], stores[i][1], stores[i][1]);
    }
    for (;;) {
        const char *d = strstr(s, " = -(w2c_");
        while (d && d[9] != 'd' && d[9] != 'f')
            d = strstr(d + 1, " = -(w2c_");
        if (!d) {
            wasitls__buf_puts(b, s);
            return;
        }
        wasitls__buf_put(b, s, (size_t)(d - s));
        wasitls__buf_puts(b, d[9] == 'd' ? " = wasitls__negd(" : " = wasitls__negf(");
        s = d + 5;
    }
}

/* Prelude + wasm2c's header (hpath) + its code (cpath, which includes the header as hname), as
 * the start of one translation unit. */
static int assemble(const char *hpath, const char *cpath, const char *hname, bool tcc,
                    wasitls__buf *src, wasitls_error *err)
{
    uint8_t *h = NULL, *c = NULL;
    size_t hl, cl;
    if (read_file(hpath, &h, &hl) != 0 || read_file(cpath, &c, &cl) != 0) {
        free(h);
        return wasitls_error_set(err, WASITLS_E_IO, "cannot read wasm2c's output");
    }
    /* names with NUL bytes are copied into wasm2c's comments; a C string cannot hold them */
    for (size_t i = 0; i < hl; i++)
        if (!h[i]) h[i] = ' ';
    for (size_t i = 0; i < cl; i++)
        if (!c[i]) c[i] = ' ';
    wasitls__gen_prelude(src);
    /* drop the two includes we replace: wasm-rt.h (by the prelude) and the header (inlined) */
    const char *hs = (const char *)h, *inc = strstr(hs, "#include \"wasm-rt.h\"");
    if (inc) {
        wasitls__buf_put(src, hs, (size_t)(inc - hs));
        wasitls__buf_puts(src, (const char *)inc + strlen("#include \"wasm-rt.h\""));
    } else {
        wasitls__buf_puts(src, hs);
    }
    char incl[128];
    snprintf(incl, sizeof incl, "#include \"%s\"", hname);
    const char *cs = (const char *)c, *inc2 = strstr(cs, incl);
    if (inc2) {
        wasitls__buf_put(src, cs, (size_t)(inc2 - cs));
        put_code(src, inc2 + strlen(incl), tcc);
    } else {
        put_code(src, cs, tcc);
    }
    free(h);
    free(c);
    return 0;
}

/* wasm2c's output, glued: prelude + header + code + glue, as one translation unit. */
static int translate(const wasitls__modinfo *mi, const uint8_t *bytes, size_t len, const char *dir,
                     bool tcc, wasitls__progress *pr, wasitls__buf *src, wasitls_error *err)
{
    char in[4096], outc[4096], outh[4096], log[4096];
    snprintf(in, sizeof in, "%s/in.wasm", dir);
    snprintf(outc, sizeof outc, "%s/m.c", dir);
    snprintf(outh, sizeof outh, "%s/m.h", dir);
    snprintf(log, sizeof log, "%s/wasm2c.log", dir);
    if (write_file(in, bytes, len, NULL, 0) != 0)
        return wasitls_error_set(err, WASITLS_E_IO, "cannot write %s: %s", in, strerror(errno));
    progress_phase(pr, "translating with wasm2c", outc);
    char *argv[] = {"wasm2c", "--no-debug-names", "-n", WASITLS__W2C_NAME, in, "-o", outc, NULL};
    int st = run(argv, log);
    if (st < 0)
        return wasitls_error_set(err, WASITLS_E_COMPILE, "cannot run wasm2c (is wabt installed?)");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char msg[400];
        tool_message(log, msg, sizeof msg);
        /* "/tmp/wasitls-XXXX/in.wasm:000008f: error: ..." -> "offset 0x8f: error: ..." */
        for (char *at; (at = strstr(msg, in)) != NULL;) {
            const char *rest = at + strlen(in) + (at[strlen(in)] == ':');
            while (*rest == '0' && rest[1] != ':' && rest[1])
                rest++;
            char tmp[400];
            snprintf(tmp, sizeof tmp, "offset 0x%s", rest);
            memmove(at, tmp, strlen(tmp) + 1);
        }
        if (WIFSIGNALED(st))
            return wasitls_error_set(
                err, WASITLS_E_UNSUPPORTED_FEATURE,
                "wasm2c cannot translate this module (it died with signal %d)%s%s", WTERMSIG(st),
                msg[0] ? ": " : "", msg);
        return wasitls_error_set(err, WASITLS_E_INVALID, "invalid module: %s",
                                 msg[0] ? msg : "rejected by wasm2c");
    }
    int rc = assemble(outh, outc, "m.h", tcc, src, err);
    if (rc) return rc;
    return wasitls__gen_glue(mi, NULL, src, err);
}

/* ---- the fast tier for large modules: parts translated and compiled in parallel ---- */

/* Below this many defined functions wasm2c's quadratic part is small and one process is as fast
 * (12,000 functions cost it 4 s, 3,000 0.2 s). */
#define SPLIT_MIN_FUNCS 2000
/* Parts per online CPU: more parts shrink the quadratic part further and balance the load
 * (parts are not equally fast to translate), at a small fixed cost each; and at most this many
 * functions per part. On 2 CPUs the 12,582-function StarlingMonkey module compiled in 7.2 s
 * with 8 parts of 1,573, 7.0 s with 16 of 800 and 8.1 s with 32 of 400 (15-17 s with 8 parts
 * balanced by code bytes instead). */
#define SPLIT_PARTS_PER_CPU 4
#define SPLIT_MAX_PER_PART 800

/* WASITLS_SPLIT_FUNCS (see engine.h): unset = automatic, 0 = never, N = at most N functions
 * per part for every module the fast tier compiles. Read here only. */
static long split_forced(void)
{
    const char *env = getenv("WASITLS_SPLIT_FUNCS");
    if (!env || !*env) return -1;
    char *end;
    long v = strtol(env, &end, 10);
    if (*end || v < 0) return -1;
    return v > 1000000 ? 1000000 : v;
}

static long online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : n;
}

/* Functions per part for the automatic split of a module defining ndef functions. */
static uint32_t split_auto_per_part(uint32_t ndef)
{
    uint64_t want = (uint64_t)online_cpus() * SPLIT_PARTS_PER_CPU;
    uint64_t per = (ndef + want - 1) / want;
    return per > SPLIT_MAX_PER_PART ? SPLIT_MAX_PER_PART : per < 1 ? 1 : (uint32_t)per;
}

/* The split parameters, for the cache key (the plan itself follows from them and the bytes).
 * The "split-N" tag names the way split.c cuts a module: bump it when that changes. */
static void split_desc(const wasitls_engine *e, char *out, size_t len)
{
    long f = split_forced();
    if (e->cfg.tier == WASITLS_TIER_OPT || f == 0)
        snprintf(out, len, "split off");
    else if (f > 0)
        snprintf(out, len, "split-2 per %ld", f);
    else
        snprintf(out, len, "split-2 auto min %d parts/cpu %d max %d cpus %ld", SPLIT_MIN_FUNCS,
                 SPLIT_PARTS_PER_CPU, SPLIT_MAX_PER_PART, online_cpus());
}

typedef struct part_jobs {
    const wasitls__modinfo *mi;
    const wasitls__split *sp;
    const char *dir;
    bool objects; /* parts compiled to objects by the tcc program, else sources kept */
    wasitls__buf *srcs;
    pthread_mutex_t mu;
    uint32_t next;
    int rc;
    wasitls_error err;
} part_jobs;

/* Replaces every `from` in b by `to`; returns how many. */
static size_t replace_all(wasitls__buf *b, const char *from, const char *to)
{
    size_t n = 0, fl = strlen(from);
    if (!b->p || !strstr(b->p, from)) return 0;
    wasitls__buf out = {0};
    const char *s = b->p;
    for (const char *at; (at = strstr(s, from)) != NULL; s = at + fl, n++) {
        wasitls__buf_put(&out, s, (size_t)(at - s));
        wasitls__buf_puts(&out, to);
    }
    wasitls__buf_puts(&out, s);
    if (out.oom) {
        wasitls__buf_free(&out);
        b->oom = true;
        return n;
    }
    wasitls__buf_free(b);
    *b = out;
    return n;
}

static int part_one(part_jobs *J, uint32_t k, wasitls_error *err)
{
    char name[64], in[4200], outc[4200], outh[4200], hname[80], log[4200], srcp[4200], obj[4200];
    if (k == 0)
        snprintf(name, sizeof name, "%s", WASITLS__W2C_NAME);
    else
        snprintf(name, sizeof name, "%s%u", WASITLS__PART_PREFIX, k);
    snprintf(in, sizeof in, "%s/p%u.wasm", J->dir, k);
    snprintf(outc, sizeof outc, "%s/p%u.c", J->dir, k);
    snprintf(outh, sizeof outh, "%s/p%u.h", J->dir, k);
    snprintf(hname, sizeof hname, "p%u.h", k);
    snprintf(log, sizeof log, "%s/p%u.log", J->dir, k);
    snprintf(srcp, sizeof srcp, "%s/p%u.src.c", J->dir, k);
    snprintf(obj, sizeof obj, "%s/p%u.o", J->dir, k);
    const wasitls__buf *m = &J->sp->mods[k];
    if (write_file(in, m->p, m->len, NULL, 0) != 0)
        return wasitls_error_set(err, WASITLS_E_IO, "cannot write %s: %s", in, strerror(errno));
    char *argv[] = {"wasm2c", "--no-debug-names", "-n", name, in, "-o", outc, NULL};
    int st = run(argv, log);
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char msg[400];
        tool_message(log, msg, sizeof msg);
        return wasitls_error_set(err, WASITLS_E_COMPILE, "wasm2c rejected part %u: %s", k, msg);
    }
    wasitls__buf src = {0};
    int rc = assemble(outh, outc, hname, true, &src, err);
    unlink(outc);
    if (rc) goto out;
    if (k == 0) {
        /* wasm2c 1.0.32 gives a function an elem segment puts in a table the address of its
         * module's instance field, not the field's value (see gen.c). The original imports
         * cope (their fields point at themselves); for the parts, mark those offsets (odd:
         * the fields are pointers) and make the table initialiser load the field. */
        static const char field[] =
            "offsetof(Z_" WASITLS__W2C_NAME "_instance_t, Z_" WASITLS__PART_PREFIX;
        if (replace_all(&src, field,
                        "1 + offsetof(Z_" WASITLS__W2C_NAME
                        "_instance_t, Z_" WASITLS__PART_PREFIX) &&
            replace_all(&src, "(char*)module_instance + src_expr->module_offset};",
                        "(src_expr->module_offset & 1) ? *(void **)((char*)module_instance + "
                        "src_expr->module_offset - 1) : (char*)module_instance + "
                        "src_expr->module_offset};") != 1) {
            rc = wasitls_error_set(err, WASITLS_E_INTERNAL, "unexpected table initialiser");
            goto out;
        }
        rc = wasitls__gen_glue(J->mi, J->sp, &src, err);
        if (rc) goto out;
    } else {
        wasitls__gen_part_tail(J->sp, k, &src);
    }
    if (src.oom) {
        rc = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory assembling generated code");
        goto out;
    }
    if (!J->objects) {
        J->srcs[k] = src;
        return 0;
    }
    if (write_file(srcp, src.p, src.len, NULL, 0) != 0) {
        rc = wasitls_error_set(err, WASITLS_E_IO, "cannot write %s", srcp);
        goto out;
    }
    wasitls__buf_free(&src);
    char *cc[] = {"tcc", "-c", "-w", "-o", obj, srcp, NULL};
    st = run(cc, log);
    unlink(srcp);
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char msg[400];
        tool_message(log, msg, sizeof msg);
        rc = wasitls_error_set(err, WASITLS_E_COMPILE, "tcc failed on part %u: %s", k,
                               msg[0] ? msg : "cannot run tcc");
    }
out:
    wasitls__buf_free(&src);
    return rc;
}

static void *part_worker(void *arg)
{
    part_jobs *J = arg;
    for (;;) {
        pthread_mutex_lock(&J->mu);
        uint32_t k = J->next++;
        bool stop = J->rc != 0 || k >= J->sp->nparts;
        pthread_mutex_unlock(&J->mu);
        if (stop) break;
        wasitls_error e;
        wasitls_error_clear(&e);
        int rc = part_one(J, k, &e);
        if (rc) {
            pthread_mutex_lock(&J->mu);
            if (!J->rc) {
                J->rc = rc;
                J->err = e;
            }
            pthread_mutex_unlock(&J->mu);
        }
    }
    return NULL;
}

/* Is the tcc program there (to compile parts in parallel processes)? */
static bool have_tcc_program(void)
{
    static char id[256];
    pthread_mutex_lock(&ver_lock);
    bool ok = strcmp(tool_identity("tcc", id, sizeof id), "unknown") != 0;
    pthread_mutex_unlock(&ver_lock);
    return ok;
}

/* The split fast tier: translate and compile the parts in parallel, then link them into one
 * shared object at so (or, without one, in memory when load). */
static int compile_split(const wasitls__modinfo *mi, const uint8_t *bytes, size_t len,
                         uint32_t per_part, const char *dir, wasitls__progress *pr, const char *so,
                         bool load, wasitls__code *out, wasitls_error *err)
{
    wasitls__split sp;
    progress_phase(pr, "splitting", NULL);
    int rc = wasitls__split_make(bytes, len, mi, per_part, &sp, err);
    if (rc) return rc;
    part_jobs J;
    memset(&J, 0, sizeof J);
    J.mi = mi;
    J.sp = &sp;
    J.dir = dir;
    J.objects = have_tcc_program();
    J.srcs = calloc(sp.nparts, sizeof *J.srcs);
    pthread_mutex_init(&J.mu, NULL);
    if (!J.srcs) {
        rc = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
        goto out;
    }
    char phase[96];
    snprintf(phase, sizeof phase, "translating with wasm2c and compiling (%u parts)", sp.nparts);
    progress_phase(pr, phase, NULL);
    long nth = online_cpus();
    if (nth > (long)sp.nparts) nth = sp.nparts;
    pthread_t th[64];
    long started = 0;
    for (; started < nth; started++)
        if (pthread_create(&th[started], NULL, part_worker, &J) != 0) break;
    if (started == 0) part_worker(&J);
    for (long i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (J.rc) {
        rc = J.rc;
        *err = J.err;
        goto out;
    }
    if (!so && !load) goto out;
    progress_phase(pr, "linking with libtcc", NULL);
    tcc_err te = {{0}};
    pthread_mutex_lock(&tcc_lock);
    TCCState *s = tcc_new();
    if (!s) {
        pthread_mutex_unlock(&tcc_lock);
        rc = wasitls_error_set(err, WASITLS_E_NOMEM, "libtcc: cannot create a compiler state");
        goto out;
    }
    tcc_set_error_func(s, &te, on_tcc_error);
    tcc_set_output_type(s, so ? TCC_OUTPUT_DLL : TCC_OUTPUT_MEMORY);
    tcc_set_options(s, "-w");
    int trc = 0;
    for (uint32_t k = 0; k < sp.nparts && trc == 0; k++) {
        if (J.objects) {
            char obj[4200];
            snprintf(obj, sizeof obj, "%s/p%u.o", dir, k);
            trc = tcc_add_file(s, obj);
        } else {
            trc = tcc_compile_string(s, J.srcs[k].p);
            wasitls__buf_free(&J.srcs[k]);
        }
    }
    if (trc == 0) trc = tcc_add_library(s, "m");
    void *entry = NULL;
    if (trc == 0 && so) trc = tcc_output_file(s, so);
    if (trc == 0 && !so) {
        trc = tcc_relocate(s, TCC_RELOCATE_AUTO);
        if (trc == 0) entry = tcc_get_symbol(s, WASITLS__ENTRY_NAME);
        if (!entry) trc = -1;
    }
    if (trc || so) tcc_delete(s);
    pthread_mutex_unlock(&tcc_lock);
    if (trc) {
        rc = wasitls_error_set(err, WASITLS_E_COMPILE, "libtcc: %s",
                               te.msg[0] ? te.msg : "linking the parts failed");
        goto out;
    }
    if (!so) {
        out->tcc = s;
        ((wasitls__entry_fn)entry)(&wasitls__rt_impl, &out->glue);
    }
out:
    if (J.srcs)
        for (uint32_t k = 0; k < sp.nparts; k++)
            wasitls__buf_free(&J.srcs[k]);
    free(J.srcs);
    pthread_mutex_destroy(&J.mu);
    wasitls__split_free(&sp);
    return rc;
}

static void cache_key(wasitls_engine *e, const uint8_t *bytes, size_t len, uint8_t key[32])
{
    uint8_t mod[32];
    wasitls_sha256_oneshot(bytes, len, mod);

    pthread_mutex_lock(&ver_lock);
    static uint8_t presum[32];
    static bool have_presum;
    if (!have_presum) { /* the prelude is fixed for the process: hash it once */
        wasitls__buf pre = {0};
        wasitls__gen_prelude(&pre);
        wasitls_sha256_oneshot(pre.p ? pre.p : "", pre.len, presum);
        wasitls__buf_free(&pre);
        have_presum = true;
    }
    const char *w2c = tool_identity("wasm2c", wasm2c_ver, sizeof wasm2c_ver);
    const char *comp = e->cfg.tier == WASITLS_TIER_OPT ? tool_identity("cc", cc_ver, sizeof cc_ver)
                                                       : WASITLS_TCC_ID;
    pthread_mutex_unlock(&ver_lock);

    char split[128], tccprog[256] = "";
    split_desc(e, split, sizeof split);
    if (e->cfg.tier != WASITLS_TIER_OPT) { /* split parts are compiled by the tcc program */
        pthread_mutex_lock(&ver_lock);
        static char tcc_ver[256];
        snprintf(tccprog, sizeof tccprog, "%s", tool_identity("tcc", tcc_ver, sizeof tcc_ver));
        pthread_mutex_unlock(&ver_lock);
    }
    wasitls_sha256 s;
    wasitls_sha256_init(&s);
    char line[2048];
    snprintf(line, sizeof line, "wasitls %s|%s|tier %s|compiler %s|wasm2c %s|%s|tcc %s|",
             WASITLS_VERSION, GLUE_GEN_VERSION, e->cfg.tier == WASITLS_TIER_OPT ? "opt" : "fast",
             comp, w2c, split, tccprog);
    wasitls_sha256_update(&s, line, strlen(line));
    wasitls_sha256_update(&s, presum, 32);
    wasitls_sha256_update(&s, mod, 32);
    wasitls_sha256_final(&s, key);
}

int wasitls__compile(wasitls_engine *e, const wasitls__modinfo *mi, const uint8_t *bytes,
                     size_t len, const char *name, bool load, wasitls__code *out,
                     wasitls_error *err)
{
    memset(out, 0, sizeof *out);
    out->tier = e->cfg.tier;
    bool opt = e->cfg.tier == WASITLS_TIER_OPT;
    uint8_t key[32];
    char path[4096] = "";
    if (e->cache_dir) {
        cache_key(e, bytes, len, key);
        char hex[65];
        wasitls_hex(key, 32, hex);
        snprintf(path, sizeof path, "%s/%s.%s", e->cache_dir, hex, opt ? "so" : "tcc.so");
        uint8_t *data;
        size_t n, plen;
        if (read_file(path, &data, &n) == 0) {
            bool ok = entry_ok(data, n, key, &plen);
            int rc = WASITLS_E_CACHE;
            if (ok && !load) {
                free(data);
                return 0;
            }
            if (ok) rc = so_load(path, out, err);
            free(data);
            if (rc == 0) return 0;
            /* a bad entry is rebuilt below */
            wasitls_error_clear(err);
        }
    }

    wasitls__progress pr;
    progress_start(&pr, e->cfg.progress != 0, name, e->cfg.tier);
    char dir[] = "/tmp/wasitls-XXXXXX";
    const char *tmpdir = getenv("TMPDIR");
    char dirbuf[4096];
    if (tmpdir && *tmpdir)
        snprintf(dirbuf, sizeof dirbuf, "%s/wasitls-XXXXXX", tmpdir);
    else
        snprintf(dirbuf, sizeof dirbuf, "%s", dir);
    int rc = 0;
    wasitls__buf src = {0};
    /* a split that fails for any reason leaves the whole-module path to compile the module or
     * to report what is wrong with it; when the split was forced, a module that compiles whole
     * but not split is an error (so that tests see it) */
    bool split_failed = false, split_was_forced = false;
    wasitls_error split_err;
    wasitls_error_clear(&split_err);
    char srcpath[4200], so[4200], log[4200];
    if (!mkdtemp(dirbuf)) {
        rc = wasitls_error_set(err, WASITLS_E_IO, "cannot create a temporary directory: %s",
                               strerror(errno));
        goto out;
    }
    snprintf(srcpath, sizeof srcpath, "%s/src.c", dirbuf);
    snprintf(so, sizeof so, "%s/m.so", dirbuf);
    snprintf(log, sizeof log, "%s/cc.log", dirbuf);
    if (!opt) {
        long forced = split_forced();
        uint32_t ndef = mi->nfuncs - mi->nimported_funcs;
        if (forced > 0 ? ndef >= 1 : forced < 0 && ndef > SPLIT_MIN_FUNCS) {
            uint32_t per = forced > 0 ? (uint32_t)forced : split_auto_per_part(ndef);
            rc = compile_split(mi, bytes, len, per, dirbuf, &pr, path[0] ? so : NULL, load, out,
                               &split_err);
            if (rc == 0) {
                if (path[0]) goto store;
                goto out;
            }
            split_failed = true;
            split_was_forced = forced > 0;
            rc = 0;
            memset(out, 0, sizeof *out);
            out->tier = e->cfg.tier;
        }
    }
    rc = translate(mi, bytes, len, dirbuf, !opt, &pr, &src, err);
    if (rc) goto out;
    if (src.oom) {
        rc = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory assembling generated code");
        goto out;
    }
    if (!opt) {
        progress_phase(&pr, "compiling with libtcc", NULL);
        if (!path[0]) {
            if (load) rc = tcc_build(src.p, out, err);
            goto out;
        }
        rc = tcc_build_so(src.p, so, err);
        if (rc) goto out;
        goto store;
    }
    if (write_file(srcpath, src.p, src.len, NULL, 0) != 0) {
        rc = wasitls_error_set(err, WASITLS_E_IO, "cannot write %s", srcpath);
        goto out;
    }
    wasitls__buf_free(&src);
    progress_phase(&pr, "compiling with cc -O2", NULL);
    /* No sibling calls: infinite guest recursion must reach the stack guard, not become a
     * loop. Signaling NaNs and rounding math: keep x - 0.0 and friends, which Wasm defines
     * to quiet a NaN, from being folded away. */
    char *argv[] = {"cc",
                    "-O2",
                    "-shared",
                    "-fPIC",
                    "-fvisibility=hidden",
                    "-fno-strict-aliasing",
                    "-fno-optimize-sibling-calls",
                    "-fsignaling-nans",
                    "-frounding-math",
                    "-w",
                    "-o",
                    so,
                    srcpath,
                    "-lm",
                    NULL};
    int st = run(argv, log);
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char msg[400];
        tool_message(log, msg, sizeof msg);
        rc = wasitls_error_set(err, WASITLS_E_COMPILE, "cc failed: %s",
                               msg[0] ? msg : "cannot run cc");
        goto out;
    }
store:
    if (path[0]) {
        uint8_t *data;
        size_t n;
        if (read_file(so, &data, &n) == 0) {
            entry_store(e->cache_dir, path, key, data, n);
            free(data);
        }
    }
    if (load) rc = so_load(so, out, err); /* the mapping stays valid after the file is removed */
out:
    if (rc == 0 && split_failed && split_was_forced) {
        wasitls__code_free(out);
        out->tier = e->cfg.tier;
        rc = wasitls_error_set(err, WASITLS_E_INTERNAL,
                               "the module compiles whole but not split (WASITLS_SPLIT_FUNCS): %s",
                               split_err.msg);
    }
    progress_stop(&pr);
    wasitls__buf_free(&src);
    if (dirbuf[0] && strcmp(dirbuf, dir) != 0) rm_tree(dirbuf);
    return rc;
}

void wasitls__code_free(wasitls__code *c)
{
    if (c->tcc) {
        pthread_mutex_lock(&tcc_lock);
        tcc_delete(c->tcc);
        pthread_mutex_unlock(&tcc_lock);
    }
    if (c->dl) dlclose(c->dl);
    memset(c, 0, sizeof *c);
}

int wasitls__validate_code(const uint8_t *bytes, size_t len, wasitls_error *err)
{
    char dir[4096];
    const char *tmpdir = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/wasitls-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir))
        return wasitls_error_set(err, WASITLS_E_IO, "cannot create a temporary directory: %s",
                                 strerror(errno));
    char in[4200], log[4200];
    snprintf(in, sizeof in, "%s/in.wasm", dir);
    snprintf(log, sizeof log, "%s/wasm2c.log", dir);
    int rc = 0;
    if (write_file(in, bytes, len, NULL, 0) != 0) {
        rc = wasitls_error_set(err, WASITLS_E_IO, "cannot write %s", in);
    } else {
        /* wabt's validator is the one wasm2c runs, so this agrees with wasitls_module_new */
        char *argv[] = {"wasm-validate", in, NULL};
        int st = run(argv, log);
        if (st < 0) {
            rc = wasitls_error_set(err, WASITLS_E_INTERNAL,
                                   "cannot run wasm-validate (is wabt installed?)");
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            char msg[400];
            tool_message(log, msg, sizeof msg);
            for (char *at; (at = strstr(msg, in)) != NULL;) {
                const char *rest = at + strlen(in) + (at[strlen(in)] == ':');
                char tmp[400];
                snprintf(tmp, sizeof tmp, "offset 0x%s", rest);
                memmove(at, tmp, strlen(tmp) + 1);
            }
            rc = wasitls_error_set(err, WASITLS_E_INVALID, "invalid module: %s", msg);
        }
    }
    rm_tree(dir);
    return rc;
}
