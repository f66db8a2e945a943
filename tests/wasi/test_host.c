/* The WASI host functions called directly (through a stand-in for the component layer):
 * filesystem confinement and operations, sockets and their state machine, grants, io streams,
 * cli, clocks and random. One test per process: `wasi_test_host NAME`. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "mock_component.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s (trap: %s)\n", __FILE__, __LINE__, #c,        \
                    mock_trap_message());                                                          \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define IO "wasi:io/streams@0.2.12"
#define POLL "wasi:io/poll@0.2.12"
#define FS "wasi:filesystem/types@0.2.12"
#define TCP "wasi:sockets/tcp@0.2.12"
#define UDP "wasi:sockets/udp@0.2.12"

static wasitls_wasi *W;
static wasitls_linker *L;

static void setup(wasitls_wasi_config *cfg)
{
    wasitls_error err;
    CHECK(wasitls_wasi_new(cfg, &W, &err) == 0);
    CHECK(wasitls_linker_new(&L) == 0);
    CHECK(wasitls_wasi_add_to_linker(W, L, &err) == 0);
}

static void teardown(void)
{
    wasitls_linker_free(L);
    wasitls_wasi_free(W);
    mock_free_all();
}

/* ---- value builders ---- */

static wasitls_cval B(void *rep)
{
    wasitls_cval v = {.kind = WASITLS_CV_BORROW};
    v.of.res.rep = rep;
    return v;
}
static wasitls_cval U(uint64_t u)
{
    return wasitls_cv_u64(WASITLS_CV_U64, u);
}
static wasitls_cval S(const char *s)
{
    wasitls_cval v = {.kind = WASITLS_CV_STRING};
    v.of.str.ptr = s;
    v.of.str.len = strlen(s);
    return v;
}
static wasitls_cval BYTES(const void *p, size_t n)
{
    wasitls_cval v = {.kind = WASITLS_CV_BYTES};
    v.of.bytes.ptr = p;
    v.of.bytes.len = n;
    return v;
}
static wasitls_cval FL(uint64_t f)
{
    wasitls_cval v = {.kind = WASITLS_CV_FLAGS};
    v.of.flags = f;
    return v;
}
static wasitls_cval EN(uint32_t t)
{
    return wasitls_cv_var(WASITLS_CV_ENUM, t, NULL);
}

static bool is_ok(const wasitls_cval *r)
{
    return r->kind == WASITLS_CV_RESULT && r->of.var.tag == 0;
}
/* The enum error code of an err(error-code) result, or -1. */
static int err_code(const wasitls_cval *r)
{
    if (r->kind != WASITLS_CV_RESULT || r->of.var.tag != 1 || !r->of.var.payload) return -1;
    return (int)r->of.var.payload->of.var.tag;
}
static void *ok_rep(const wasitls_cval *r)
{
    CHECK(is_ok(r));
    return r->of.var.payload->of.res.rep;
}

/* ---- filesystem ---- */

enum {
    FE_EXIST = 7,
    FE_IS_DIRECTORY = 14,
    FE_LOOP = 15,
    FE_NO_ENTRY = 20,
    FE_NOT_EMPTY = 25,
    FE_NOT_PERMITTED = 31
};

static char root[256], outside[300], top[64];

static void remove_tree(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", top);
}

static void make_tree(void)
{
    char tmpl[] = "/tmp/wasitls-fs-XXXXXX";
    CHECK(mkdtemp(tmpl));
    snprintf(top, sizeof top, "%s", tmpl);
    atexit(remove_tree);
    snprintf(root, sizeof root, "%s/root", tmpl);
    snprintf(outside, sizeof outside, "%s/outside", tmpl);
    CHECK(mkdir(root, 0755) == 0 && mkdir(outside, 0755) == 0);
    char p[512];
    snprintf(p, sizeof p, "%s/secret", outside);
    FILE *f = fopen(p, "w");
    CHECK(f && fputs("secret", f) >= 0 && fclose(f) == 0);
    snprintf(p, sizeof p, "%s/sub", root);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/sub/file", root);
    f = fopen(p, "w");
    CHECK(f && fputs("inside", f) >= 0 && fclose(f) == 0);
    snprintf(p, sizeof p, "%s/link_out", root);
    CHECK(symlink("../outside", p) == 0);
    snprintf(p, sizeof p, "%s/abs_link", root);
    CHECK(symlink(outside, p) == 0);
    snprintf(p, sizeof p, "%s/in_link", root);
    CHECK(symlink("sub/file", p) == 0);
    snprintf(p, sizeof p, "%s/sub/up_link", root);
    CHECK(symlink("../sub/file", p) == 0);
}

static void confine_cases(void)
{
    int d = open(root, O_RDONLY | O_DIRECTORY);
    CHECK(d >= 0);
    int fd;
    CHECK((fd = wasitls__fs_open_beneath(d, "sub/file", O_RDONLY, true)) >= 0);
    close(fd);
    CHECK((fd = wasitls__fs_open_beneath(d, "sub/../sub/./file", O_RDONLY, true)) >= 0);
    close(fd);
    CHECK((fd = wasitls__fs_open_beneath(d, "in_link", O_RDONLY, true)) >= 0);
    close(fd);
    CHECK((fd = wasitls__fs_open_beneath(d, "sub/up_link", O_RDONLY, true)) >= 0);
    close(fd);
    CHECK((fd = wasitls__fs_open_beneath(d, ".", O_RDONLY, true)) >= 0);
    close(fd);
    CHECK(wasitls__fs_open_beneath(d, "../outside/secret", O_RDONLY, true) == -EPERM);
    CHECK(wasitls__fs_open_beneath(d, "sub/../../outside/secret", O_RDONLY, true) == -EPERM);
    CHECK(wasitls__fs_open_beneath(d, "..", O_RDONLY, true) == -EPERM);
    CHECK(wasitls__fs_open_beneath(d, "/etc/passwd", O_RDONLY, true) == -EPERM);
    CHECK(wasitls__fs_open_beneath(d, "link_out/secret", O_RDONLY, true) == -EPERM);
    CHECK(wasitls__fs_open_beneath(d, "abs_link/secret", O_RDONLY, true) == -EPERM);
    CHECK(wasitls__fs_open_beneath(d, "link_out", O_RDONLY, true) == -EPERM);
    /* not following the last link: opening the link itself for reading is a loop */
    CHECK(wasitls__fs_open_beneath(d, "in_link", O_RDONLY, false) == -ELOOP);
    CHECK((fd = wasitls__fs_open_beneath(d, "link_out", O_PATH, false)) >= 0);
    close(fd);
    CHECK(wasitls__fs_open_beneath(d, "nope", O_RDONLY, true) == -ENOENT);
    close(d);
}

static void t_fs_confine(void)
{
    make_tree();
    confine_cases();
}

static void t_fs_confine_fallback(void)
{
    setenv("WASITLS_NO_OPENAT2", "1", 1);
    make_tree();
    confine_cases();
}

static void *preopen_desc(void)
{
    wasitls_cval r;
    CHECK(mock_call("wasi:filesystem/preopens@0.2.12", "get-directories", NULL, 0, &r) == 0);
    CHECK(r.kind == WASITLS_CV_LIST && r.of.list.len == 1);
    wasitls_cval *t = r.of.list.items[0].of.list.items;
    CHECK(t[1].of.str.len == 4 && memcmp(t[1].of.str.ptr, "/dir", 4) == 0);
    return t[0].of.res.rep;
}

static void drop_desc(void *d)
{
    CHECK(mock_drop(FS, "descriptor", d, NULL, 0) == 0);
}

static void *open_at(void *dir, const char *path, uint64_t oflags, uint64_t dflags, int *code)
{
    wasitls_cval a[] = {B(dir), FL(1), S(path), FL(oflags), FL(dflags)}, r;
    CHECK(mock_call(FS, "[method]descriptor.open-at", a, 5, &r) == 0);
    *code = err_code(&r);
    return is_ok(&r) ? r.of.var.payload->of.res.rep : NULL;
}

static void fs_ops(void)
{
    void *dir = preopen_desc();
    wasitls_cval r;
    int code;
    /* create + write through a stream */
    void *f = open_at(dir, "a.txt", 1 /* create */, 2 /* write */, &code);
    CHECK(f);
    wasitls_cval a1[] = {B(f), U(0)};
    CHECK(mock_call(FS, "[method]descriptor.write-via-stream", a1, 2, &r) == 0);
    wasitls_ostream *os = ok_rep(&r);
    wasitls_cval a2[] = {B(os), BYTES("hello world", 11)};
    CHECK(mock_call(IO, "[method]output-stream.blocking-write-and-flush", a2, 2, &r) == 0);
    CHECK(is_ok(&r));
    CHECK(mock_drop(IO, "output-stream", os, NULL, 0) == 0);
    drop_desc(f);
    /* read back through descriptor.read and a stream */
    f = open_at(dir, "a.txt", 0, 1 /* read */, &code);
    CHECK(f);
    wasitls_cval a3[] = {B(f), U(100), U(6)};
    CHECK(mock_call(FS, "[method]descriptor.read", a3, 3, &r) == 0 && is_ok(&r));
    wasitls_cval *t = r.of.var.payload->of.list.items;
    CHECK(t[0].of.bytes.len == 5 && memcmp(t[0].of.bytes.ptr, "world", 5) == 0 && t[1].of.b);
    wasitls_cval a4[] = {B(f), U(0)};
    CHECK(mock_call(FS, "[method]descriptor.read-via-stream", a4, 2, &r) == 0);
    wasitls_istream *is = ok_rep(&r);
    wasitls_cval a5[] = {B(is), U(5)};
    CHECK(mock_call(IO, "[method]input-stream.blocking-read", a5, 2, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.bytes.len == 5);
    wasitls_cval a6[] = {B(is), U(100)};
    CHECK(mock_call(IO, "[method]input-stream.read", a6, 2, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.bytes.len == 6);
    CHECK(mock_call(IO, "[method]input-stream.read", a6, 2, &r) == 0);
    CHECK(r.of.var.tag == 1 && r.of.var.payload->of.var.tag == 1); /* closed */
    CHECK(mock_drop(IO, "input-stream", is, NULL, 0) == 0);
    /* writing through a read-only descriptor */
    wasitls_cval a7[] = {B(f), BYTES("x", 1), U(0)};
    CHECK(mock_call(FS, "[method]descriptor.write", a7, 3, &r) == 0 && err_code(&r) == 3);
    /* stat */
    wasitls_cval a8[] = {B(f)};
    CHECK(mock_call(FS, "[method]descriptor.stat", a8, 1, &r) == 0 && is_ok(&r));
    t = r.of.var.payload->of.list.items;
    CHECK(t[0].of.var.tag == 6 /* regular-file */ && t[2].of.u == 11 && t[4].of.var.tag == 1);
    drop_desc(f);
    /* rename, stat-at, readdir */
    wasitls_cval a9[] = {B(dir), S("a.txt"), B(dir), S("sub/b.txt")};
    CHECK(mock_call(FS, "[method]descriptor.rename-at", a9, 4, &r) == 0 && is_ok(&r));
    wasitls_cval a10[] = {B(dir), FL(1), S("sub/b.txt")};
    CHECK(mock_call(FS, "[method]descriptor.stat-at", a10, 3, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.list.items[2].of.u == 11);
    wasitls_cval a11[] = {B(dir), FL(1), S("a.txt")};
    CHECK(mock_call(FS, "[method]descriptor.stat-at", a11, 3, &r) == 0);
    CHECK(err_code(&r) == FE_NO_ENTRY);
    wasitls_cval a12[] = {B(dir), S("newdir")};
    CHECK(mock_call(FS, "[method]descriptor.create-directory-at", a12, 2, &r) == 0 && is_ok(&r));
    CHECK(mock_call(FS, "[method]descriptor.create-directory-at", a12, 2, &r) == 0);
    CHECK(err_code(&r) == FE_EXIST);
    void *sub = open_at(dir, "sub", 2 /* directory */, 1 | 32, &code);
    if (!sub) fprintf(stderr, "open-at sub: error code %d\n", code);
    CHECK(sub);
    wasitls_cval a13[] = {B(sub)};
    CHECK(mock_call(FS, "[method]descriptor.read-directory", a13, 1, &r) == 0);
    void *ds = ok_rep(&r);
    int seen_b = 0, seen_file = 0, n = 0;
    for (;;) {
        wasitls_cval a14[] = {B(ds)};
        CHECK(mock_call(FS, "[method]directory-entry-stream.read-directory-entry", a14, 1, &r) ==
              0);
        CHECK(is_ok(&r));
        wasitls_cval *opt = r.of.var.payload;
        if (opt->of.var.tag == 0) break;
        wasitls_cval *e = opt->of.var.payload->of.list.items;
        if (e[1].of.str.len == 5 && memcmp(e[1].of.str.ptr, "b.txt", 5) == 0)
            seen_b = e[0].of.var.tag == 6;
        if (e[1].of.str.len == 4 && memcmp(e[1].of.str.ptr, "file", 4) == 0) seen_file = 1;
        n++;
    }
    CHECK(seen_b && seen_file && n == 3); /* b.txt, file, up_link */
    CHECK(mock_drop(FS, "directory-entry-stream", ds, NULL, 0) == 0);
    /* is-same-object / metadata-hash */
    void *sub2 = open_at(dir, "sub/../sub", 2, 1, &code);
    CHECK(sub2);
    wasitls_cval a15[] = {B(sub), B(sub2)};
    CHECK(mock_call(FS, "[method]descriptor.is-same-object", a15, 2, &r) == 0 && r.of.b);
    wasitls_cval a16[] = {B(sub), B(dir)};
    CHECK(mock_call(FS, "[method]descriptor.is-same-object", a16, 2, &r) == 0 && !r.of.b);
    drop_desc(sub2);
    /* a directory descriptor without mutate-directory cannot change entries */
    void *ro = open_at(dir, "sub", 2, 1, &code);
    wasitls_cval a17[] = {B(ro), S("b.txt")};
    CHECK(mock_call(FS, "[method]descriptor.unlink-file-at", a17, 2, &r) == 0);
    CHECK(err_code(&r) == FE_NOT_PERMITTED);
    drop_desc(ro);
    /* unlink, rmdir */
    wasitls_cval a18[] = {B(sub), S("b.txt")};
    CHECK(mock_call(FS, "[method]descriptor.unlink-file-at", a18, 2, &r) == 0 && is_ok(&r));
    CHECK(mock_call(FS, "[method]descriptor.unlink-file-at", a18, 2, &r) == 0);
    CHECK(err_code(&r) == FE_NO_ENTRY);
    wasitls_cval a19[] = {B(dir), S("newdir")};
    CHECK(mock_call(FS, "[method]descriptor.remove-directory-at", a19, 2, &r) == 0 && is_ok(&r));
    wasitls_cval a20[] = {B(dir), S("sub")};
    CHECK(mock_call(FS, "[method]descriptor.remove-directory-at", a20, 2, &r) == 0);
    CHECK(err_code(&r) == FE_NOT_EMPTY);
    /* symlinks: readlink, create, absolute target refused */
    wasitls_cval a21[] = {B(dir), S("in_link")};
    CHECK(mock_call(FS, "[method]descriptor.readlink-at", a21, 2, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.str.len == 8);
    wasitls_cval a22[] = {B(dir), S("/etc/passwd"), S("evil")};
    CHECK(mock_call(FS, "[method]descriptor.symlink-at", a22, 3, &r) == 0);
    CHECK(err_code(&r) == FE_NOT_PERMITTED);
    wasitls_cval a23[] = {B(dir), S("../outside/x"), S("sneaky")};
    CHECK(mock_call(FS, "[method]descriptor.symlink-at", a23, 3, &r) == 0 && is_ok(&r));
    /* escapes */
    CHECK(!open_at(dir, "../outside/secret", 0, 1, &code) && code == FE_NOT_PERMITTED);
    CHECK(!open_at(dir, "/etc/passwd", 0, 1, &code) && code == FE_NOT_PERMITTED);
    CHECK(!open_at(dir, "link_out/secret", 0, 1, &code) && code == FE_NOT_PERMITTED);
    CHECK(!open_at(dir, "sneaky", 1, 2, &code) && code == FE_NOT_PERMITTED);
    wasitls_cval a24[] = {B(dir), S("../escaped")};
    CHECK(mock_call(FS, "[method]descriptor.create-directory-at", a24, 2, &r) == 0);
    CHECK(err_code(&r) == FE_NOT_PERMITTED);
    wasitls_cval a25[] = {B(dir), S("sub/file"), B(dir), S("../stolen")};
    CHECK(mock_call(FS, "[method]descriptor.rename-at", a25, 4, &r) == 0);
    CHECK(err_code(&r) == FE_NOT_PERMITTED);
    wasitls_cval a26[] = {B(dir), S("..")};
    CHECK(mock_call(FS, "[method]descriptor.remove-directory-at", a26, 2, &r) == 0);
    CHECK(err_code(&r) > 0);
    char p[512];
    snprintf(p, sizeof p, "%s/../escaped", root);
    CHECK(access(p, F_OK) != 0);
    snprintf(p, sizeof p, "%s/../stolen", root);
    CHECK(access(p, F_OK) != 0);
    /* the remaining descriptor methods */
    void *g = open_at(dir, "g.txt", 1, 1 | 2, &code);
    CHECK(g);
    wasitls_cval b1[] = {B(g), BYTES("abcdef", 6), U(0)};
    CHECK(mock_call(FS, "[method]descriptor.write", b1, 3, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.u == 6);
    wasitls_cval b2[] = {B(g)};
    CHECK(mock_call(FS, "[method]descriptor.append-via-stream", b2, 1, &r) == 0);
    wasitls_ostream *ap = ok_rep(&r);
    wasitls_cval b3[] = {B(ap), BYTES("XYZ", 3)};
    CHECK(mock_call(IO, "[method]output-stream.blocking-write-and-flush", b3, 2, &r) == 0);
    CHECK(mock_drop(IO, "output-stream", ap, NULL, 0) == 0);
    wasitls_cval b4[] = {B(g), U(4)};
    CHECK(mock_call(FS, "[method]descriptor.set-size", b4, 2, &r) == 0 && is_ok(&r));
    wasitls_cval b5[] = {B(g), U(100), U(0)};
    CHECK(mock_call(FS, "[method]descriptor.read", b5, 3, &r) == 0 && is_ok(&r));
    t = r.of.var.payload->of.list.items;
    CHECK(t[0].of.bytes.len == 4 && memcmp(t[0].of.bytes.ptr, "abcd", 4) == 0 && t[1].of.b);
    CHECK(mock_call(FS, "[method]descriptor.get-flags", b2, 1, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.flags == 3);
    CHECK(mock_call(FS, "[method]descriptor.get-type", b2, 1, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.var.tag == 6);
    CHECK(mock_call(FS, "[method]descriptor.sync", b2, 1, &r) == 0 && is_ok(&r));
    CHECK(mock_call(FS, "[method]descriptor.sync-data", b2, 1, &r) == 0 && is_ok(&r));
    wasitls_cval b6[] = {B(g), U(0), U(0), EN(1)};
    CHECK(mock_call(FS, "[method]descriptor.advise", b6, 4, &r) == 0 && is_ok(&r));
    /* set-times: an explicit mtime, atime unchanged */
    wasitls_cval dtf[2] = {U(1000000000), wasitls_cv_u64(WASITLS_CV_U32, 5)};
    wasitls_cval dt = {.kind = WASITLS_CV_RECORD};
    dt.of.list.items = dtf;
    dt.of.list.len = 2;
    wasitls_cval b7[] = {B(g), wasitls_cv_var(WASITLS_CV_VARIANT, 0, NULL),
                         wasitls_cv_var(WASITLS_CV_VARIANT, 2, &dt)};
    CHECK(mock_call(FS, "[method]descriptor.set-times", b7, 3, &r) == 0 && is_ok(&r));
    CHECK(mock_call(FS, "[method]descriptor.stat", b2, 1, &r) == 0 && is_ok(&r));
    wasitls_cval *mt = r.of.var.payload->of.list.items[4].of.var.payload->of.list.items;
    CHECK(mt[0].of.u == 1000000000 && mt[1].of.u == 5);
    wasitls_cval b8[] = {B(dir), FL(0), S("g.txt"), wasitls_cv_var(WASITLS_CV_VARIANT, 1, NULL),
                         wasitls_cv_var(WASITLS_CV_VARIANT, 2, &dt)};
    CHECK(mock_call(FS, "[method]descriptor.set-times-at", b8, 5, &r) == 0 && is_ok(&r));
    dtf[1] = wasitls_cv_u64(WASITLS_CV_U32, 2000000000u);
    CHECK(mock_call(FS, "[method]descriptor.set-times-at", b8, 5, &r) == 0);
    CHECK(err_code(&r) == 12); /* invalid: nanoseconds out of range */
    /* hard link, metadata hashes agree for the same object */
    wasitls_cval b9[] = {B(dir), FL(0), S("g.txt"), B(dir), S("g2.txt")};
    CHECK(mock_call(FS, "[method]descriptor.link-at", b9, 5, &r) == 0 && is_ok(&r));
    CHECK(mock_call(FS, "[method]descriptor.metadata-hash", b2, 1, &r) == 0 && is_ok(&r));
    uint64_t h1 = r.of.var.payload->of.list.items[0].of.u;
    wasitls_cval b10[] = {B(dir), FL(1), S("g2.txt")};
    CHECK(mock_call(FS, "[method]descriptor.metadata-hash-at", b10, 3, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.list.items[0].of.u == h1);
    wasitls_cval b11[] = {B(dir), FL(1), S("sub/file")};
    CHECK(mock_call(FS, "[method]descriptor.metadata-hash-at", b11, 3, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.list.items[0].of.u != h1);
    drop_desc(g);

    /* directory as file */
    wasitls_cval a27[] = {B(dir), U(0)};
    CHECK(mock_call(FS, "[method]descriptor.read-via-stream", a27, 2, &r) == 0);
    CHECK(err_code(&r) == FE_IS_DIRECTORY);
    drop_desc(sub);
    drop_desc(dir);
}

static void t_fs_ops(void)
{
    make_tree();
    wasitls_wasi_config cfg;
    wasitls_wasi_config_default(&cfg);
    wasitls_wasi_preopen pre = {root, "/dir"};
    cfg.preopens = &pre;
    cfg.npreopens = 1;
    setup(&cfg);
    fs_ops();
    teardown();
}

static void t_fs_ops_fallback(void)
{
    setenv("WASITLS_NO_OPENAT2", "1", 1);
    t_fs_ops();
}

static void t_fs_none(void)
{
    wasitls_wasi_config cfg;
    wasitls_wasi_config_default(&cfg);
    setup(&cfg);
    wasitls_cval r;
    CHECK(mock_call("wasi:filesystem/preopens@0.2.12", "get-directories", NULL, 0, &r) == 0);
    CHECK(r.kind == WASITLS_CV_LIST && r.of.list.len == 0);
    teardown();
}

/* ---- sockets ---- */

enum {
    SE_ACCESS_DENIED = 1,
    SE_INVALID_ARGUMENT = 3,
    SE_NOT_IN_PROGRESS = 7,
    SE_WOULD_BLOCK = 8,
    SE_INVALID_STATE = 9,
    SE_CONNECTION_REFUSED = 14
};

static wasitls_cval addr4(const uint8_t ip[4], uint16_t port)
{
    wasitls_cval *f = wasitls_ccall_vals(NULL, 2), *o = wasitls_ccall_vals(NULL, 4),
                 *rec = wasitls_ccall_vals(NULL, 1);
    for (int i = 0; i < 4; i++)
        o[i] = wasitls_cv_u64(WASITLS_CV_U8, ip[i]);
    f[0] = wasitls_cv_u64(WASITLS_CV_U16, port);
    f[1].kind = WASITLS_CV_TUPLE;
    f[1].of.list.items = o;
    f[1].of.list.len = 4;
    rec->kind = WASITLS_CV_RECORD;
    rec->of.list.items = f;
    rec->of.list.len = 2;
    return wasitls_cv_var(WASITLS_CV_VARIANT, 0, rec);
}

static wasitls_cval addr6_loopback(uint16_t port)
{
    wasitls_cval *f = wasitls_ccall_vals(NULL, 4), *o = wasitls_ccall_vals(NULL, 8),
                 *rec = wasitls_ccall_vals(NULL, 1);
    for (int i = 0; i < 8; i++)
        o[i] = wasitls_cv_u64(WASITLS_CV_U16, i == 7);
    f[0] = wasitls_cv_u64(WASITLS_CV_U16, port);
    f[1] = wasitls_cv_u64(WASITLS_CV_U32, 0);
    f[2].kind = WASITLS_CV_TUPLE;
    f[2].of.list.items = o;
    f[2].of.list.len = 8;
    f[3] = wasitls_cv_u64(WASITLS_CV_U32, 0);
    rec->kind = WASITLS_CV_RECORD;
    rec->of.list.items = f;
    rec->of.list.len = 4;
    return wasitls_cv_var(WASITLS_CV_VARIANT, 1, rec);
}

static void *network(void)
{
    wasitls_cval r;
    CHECK(mock_call("wasi:sockets/instance-network@0.2.12", "instance-network", NULL, 0, &r) == 0);
    return r.of.res.rep;
}

static int create_tcp(int family, void **out)
{
    wasitls_cval a[] = {EN((uint32_t)family)}, r;
    CHECK(mock_call("wasi:sockets/tcp-create-socket@0.2.12", "create-tcp-socket", a, 1, &r) == 0);
    *out = is_ok(&r) ? r.of.var.payload->of.res.rep : NULL;
    return err_code(&r);
}

static int tcp0(void *s, const char *m)
{
    wasitls_cval a[] = {B(s)}, r;
    char name[128];
    snprintf(name, sizeof name, "[method]tcp-socket.%s", m);
    CHECK(mock_call(TCP, name, a, 1, &r) == 0);
    return err_code(&r);
}

static int tcp_addr(void *s, void *net, const char *m, wasitls_cval addr)
{
    wasitls_cval a[] = {B(s), B(net), addr}, r;
    char name[128];
    snprintf(name, sizeof name, "[method]tcp-socket.%s", m);
    CHECK(mock_call(TCP, name, a, 3, &r) == 0);
    return err_code(&r);
}

static void block_on_socket(void *s)
{
    wasitls_cval a[] = {B(s)}, r;
    CHECK(mock_call(TCP, "[method]tcp-socket.subscribe", a, 1, &r) == 0);
    wasitls_pollable *p = r.of.res.rep;
    wasitls_cval b[] = {B(p)};
    CHECK(mock_call(POLL, "[method]pollable.block", b, 1, &r) == 0);
    CHECK(mock_drop("wasi:io/poll@0.2.12", "pollable", p, NULL, 0) == 0);
}

static uint16_t local_port(void *s)
{
    wasitls_cval a[] = {B(s)}, r;
    CHECK(mock_call(TCP, "[method]tcp-socket.local-address", a, 1, &r) == 0 && is_ok(&r));
    wasitls_cval *rec = r.of.var.payload->of.var.payload;
    return (uint16_t)rec->of.list.items[0].of.u;
}

static void t_sock_denied(void)
{
    wasitls_wasi_config cfg;
    wasitls_wasi_config_default(&cfg);
    setup(&cfg);
    void *s;
    CHECK(create_tcp(0, &s) == SE_ACCESS_DENIED && !s);
    CHECK(create_tcp(1, &s) == SE_ACCESS_DENIED);
    wasitls_cval a[] = {EN(0)}, r;
    CHECK(mock_call("wasi:sockets/udp-create-socket@0.2.12", "create-udp-socket", a, 1, &r) == 0);
    CHECK(err_code(&r) == SE_ACCESS_DENIED);
    void *net = network();
    wasitls_cval b[] = {B(net), S("localhost")};
    CHECK(mock_call("wasi:sockets/ip-name-lookup@0.2.12", "resolve-addresses", b, 2, &r) == 0);
    CHECK(err_code(&r) == SE_ACCESS_DENIED);
    CHECK(mock_drop("wasi:sockets/network@0.2.12", "network", net, NULL, 0) == 0);
    teardown();
}

/* A full connection through the host functions: listen, connect, accept, data both ways. */
static void tcp_roundtrip(int family)
{
    static const uint8_t lo[4] = {127, 0, 0, 1}, any[4] = {0, 0, 0, 0};
    void *net = network(), *srv, *cli;
    CHECK(create_tcp(family, &srv) == -1);
    CHECK(create_tcp(family, &cli) == -1);
    /* wrong-state calls */
    CHECK(tcp0(srv, "finish-bind") == SE_NOT_IN_PROGRESS);
    CHECK(tcp0(srv, "start-listen") == SE_INVALID_STATE);
    CHECK(tcp0(srv, "accept") == SE_INVALID_STATE);
    CHECK(tcp0(srv, "finish-connect") == SE_NOT_IN_PROGRESS);
    CHECK(tcp0(srv, "local-address") == SE_INVALID_STATE);
    CHECK(tcp0(srv, "remote-address") == SE_INVALID_STATE);
    /* family mismatch */
    CHECK(tcp_addr(srv, net, "start-bind", family ? addr4(lo, 0) : addr6_loopback(0)) ==
          SE_INVALID_ARGUMENT);
    wasitls_cval bind_addr = family ? addr6_loopback(0) : addr4(lo, 0);
    CHECK(tcp_addr(srv, net, "start-bind", bind_addr) == -1);
    CHECK(tcp_addr(srv, net, "start-bind", bind_addr) == SE_INVALID_STATE);
    CHECK(tcp0(srv, "finish-bind") == -1);
    CHECK(tcp0(srv, "start-listen") == -1);
    CHECK(tcp0(srv, "finish-listen") == -1);
    CHECK(tcp0(srv, "accept") == SE_WOULD_BLOCK);
    uint16_t port = local_port(srv);
    CHECK(port != 0);
    /* connecting to the unspecified address or port 0 is an invalid argument */
    if (!family) {
        CHECK(tcp_addr(cli, net, "start-connect", addr4(any, port)) == SE_INVALID_ARGUMENT);
        CHECK(tcp_addr(cli, net, "start-connect", addr4(lo, 0)) == SE_INVALID_ARGUMENT);
    }
    CHECK(tcp_addr(cli, net, "start-connect", family ? addr6_loopback(port) : addr4(lo, port)) ==
          -1);
    CHECK(tcp_addr(cli, net, "start-connect", addr4(lo, port)) != -1); /* again: refused */
    block_on_socket(cli);
    wasitls_cval a[] = {B(cli)}, r;
    CHECK(mock_call(TCP, "[method]tcp-socket.finish-connect", a, 1, &r) == 0 && is_ok(&r));
    wasitls_istream *cin = r.of.var.payload->of.list.items[0].of.res.rep;
    wasitls_ostream *cout = r.of.var.payload->of.list.items[1].of.res.rep;
    block_on_socket(srv);
    wasitls_cval b[] = {B(srv)};
    CHECK(mock_call(TCP, "[method]tcp-socket.accept", b, 1, &r) == 0 && is_ok(&r));
    void *conn = r.of.var.payload->of.list.items[0].of.res.rep;
    wasitls_istream *sin = r.of.var.payload->of.list.items[1].of.res.rep;
    wasitls_ostream *sout = r.of.var.payload->of.list.items[2].of.res.rep;
    wasitls_cval c[] = {B(conn)};
    CHECK(mock_call(TCP, "[method]tcp-socket.remote-address", c, 1, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.var.tag == (uint32_t)family);
    /* data: client -> server, then server -> client, then EOF after shutdown */
    wasitls_cval w1[] = {B(cout), BYTES("ping", 4)};
    CHECK(mock_call(IO, "[method]output-stream.blocking-write-and-flush", w1, 2, &r) == 0);
    CHECK(is_ok(&r));
    wasitls_cval r1[] = {B(sin), U(100)};
    CHECK(mock_call(IO, "[method]input-stream.blocking-read", r1, 2, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.bytes.len == 4);
    wasitls_cval w2[] = {B(sout), BYTES("pong", 4)};
    CHECK(mock_call(IO, "[method]output-stream.blocking-write-and-flush", w2, 2, &r) == 0);
    wasitls_cval r2[] = {B(cin), U(100)};
    CHECK(mock_call(IO, "[method]input-stream.blocking-read", r2, 2, &r) == 0 && is_ok(&r));
    CHECK(memcmp(r.of.var.payload->of.bytes.ptr, "pong", 4) == 0);
    wasitls_cval sh[] = {B(cli), EN(1) /* send */};
    CHECK(mock_call(TCP, "[method]tcp-socket.shutdown", sh, 2, &r) == 0 && is_ok(&r));
    CHECK(mock_call(IO, "[method]input-stream.blocking-read", r1, 2, &r) == 0);
    CHECK(r.of.var.tag == 1 && r.of.var.payload->of.var.tag == 1); /* closed */
    /* options */
    wasitls_cval o1[] = {B(cli), wasitls_cv_bool(true)};
    CHECK(mock_call(TCP, "[method]tcp-socket.set-keep-alive-enabled", o1, 2, &r) == 0 && is_ok(&r));
    CHECK(mock_call(TCP, "[method]tcp-socket.keep-alive-enabled", a, 1, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.b);
    wasitls_cval o2[] = {B(cli), U(5000000000ull)};
    CHECK(mock_call(TCP, "[method]tcp-socket.set-keep-alive-idle-time", o2, 2, &r) == 0 &&
          is_ok(&r));
    CHECK(mock_call(TCP, "[method]tcp-socket.keep-alive-idle-time", a, 1, &r) == 0);
    CHECK(r.of.var.payload->of.u == 5000000000ull);
    wasitls_cval o3[] = {B(cli), wasitls_cv_u64(WASITLS_CV_U8, 0)};
    CHECK(mock_call(TCP, "[method]tcp-socket.set-hop-limit", o3, 2, &r) == 0);
    CHECK(err_code(&r) == SE_INVALID_ARGUMENT);
    wasitls_cval o4[] = {B(cli), wasitls_cv_u64(WASITLS_CV_U8, 42)};
    CHECK(mock_call(TCP, "[method]tcp-socket.set-hop-limit", o4, 2, &r) == 0 && is_ok(&r));
    CHECK(mock_call(TCP, "[method]tcp-socket.hop-limit", a, 1, &r) == 0);
    CHECK(r.of.var.payload->of.u == 42);
    wasitls_cval o5[] = {B(cli), U(65536)};
    CHECK(mock_call(TCP, "[method]tcp-socket.set-receive-buffer-size", o5, 2, &r) == 0 &&
          is_ok(&r));
    CHECK(mock_call(TCP, "[method]tcp-socket.receive-buffer-size", a, 1, &r) == 0);
    CHECK(r.of.var.payload->of.u >= 65536);
    /* lifetimes: a socket with a live pollable cannot go; its streams outlive it */
    CHECK(mock_call(TCP, "[method]tcp-socket.subscribe", a, 1, &r) == 0);
    void *pl = r.of.res.rep;
    char msg[256];
    CHECK(mock_drop(TCP, "tcp-socket", cli, msg, sizeof msg) != 0 && strstr(msg, "pollable"));
    CHECK(mock_drop("wasi:io/poll@0.2.12", "pollable", pl, NULL, 0) == 0);
    CHECK(mock_drop(TCP, "tcp-socket", cli, NULL, 0) == 0);
    wasitls_cval w3[] = {B(cout), BYTES("late", 4)};
    CHECK(mock_call(IO, "[method]output-stream.write", w3, 2, &r) == 0);
    CHECK(mock_call(IO, "[method]output-stream.check-write", w3, 1, &r) == 0);
    CHECK(r.of.var.tag == 1 && r.of.var.payload->of.var.tag == 1); /* shut down: closed */
    CHECK(mock_drop(IO, "input-stream", cin, NULL, 0) == 0);
    CHECK(mock_drop(IO, "output-stream", cout, NULL, 0) == 0);
    CHECK(mock_drop(IO, "input-stream", sin, NULL, 0) == 0);
    CHECK(mock_drop(IO, "output-stream", sout, NULL, 0) == 0);
    CHECK(mock_drop(TCP, "tcp-socket", conn, NULL, 0) == 0);
    CHECK(mock_drop(TCP, "tcp-socket", srv, NULL, 0) == 0);
    CHECK(mock_drop("wasi:sockets/network@0.2.12", "network", net, NULL, 0) == 0);
}

static wasitls_wasi_config net_cfg(void)
{
    wasitls_wasi_config cfg;
    wasitls_wasi_config_default(&cfg);
    cfg.inherit_network = true;
    cfg.allow_ip_name_lookup = true;
    return cfg;
}

static void t_sock_tcp4(void)
{
    wasitls_wasi_config cfg = net_cfg();
    setup(&cfg);
    tcp_roundtrip(0);
    teardown();
}

static void t_sock_tcp6(void)
{
    wasitls_wasi_config cfg = net_cfg();
    setup(&cfg);
    tcp_roundtrip(1);
    teardown();
}

static void t_sock_refused(void)
{
    wasitls_wasi_config cfg = net_cfg();
    setup(&cfg);
    /* a port nobody listens on: bind one, note it, close it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    close(fd);
    static const uint8_t lo[4] = {127, 0, 0, 1};
    void *net = network(), *s;
    CHECK(create_tcp(0, &s) == -1);
    int c = tcp_addr(s, net, "start-connect", addr4(lo, ntohs(sa.sin_port)));
    if (c == -1) {
        block_on_socket(s);
        c = tcp0(s, "finish-connect");
    }
    CHECK(c == SE_CONNECTION_REFUSED);
    CHECK(tcp0(s, "finish-connect") == SE_NOT_IN_PROGRESS);
    CHECK(tcp_addr(s, net, "start-connect", addr4(lo, 1)) == SE_INVALID_STATE);
    CHECK(mock_drop(TCP, "tcp-socket", s, NULL, 0) == 0);
    CHECK(mock_drop("wasi:sockets/network@0.2.12", "network", net, NULL, 0) == 0);
    teardown();
}

static void t_sock_lookup(void)
{
    /* A machine without a reachable DNS server answers the unresolvable name within ~1 s. */
    setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
    wasitls_wasi_config cfg = net_cfg();
    setup(&cfg);
    void *net = network();
    wasitls_cval a[] = {B(net), S("localhost")}, r;
    CHECK(mock_call("wasi:sockets/ip-name-lookup@0.2.12", "resolve-addresses", a, 2, &r) == 0);
    void *rs = ok_rep(&r);
    int n = 0, lo4 = 0, lo6 = 0, waits = 0;
    for (;;) {
        wasitls_cval b[] = {B(rs)};
        CHECK(mock_call("wasi:sockets/ip-name-lookup@0.2.12",
                        "[method]resolve-address-stream.resolve-next-address", b, 1, &r) == 0);
        if (err_code(&r) == SE_WOULD_BLOCK) {
            CHECK(mock_call("wasi:sockets/ip-name-lookup@0.2.12",
                            "[method]resolve-address-stream.subscribe", b, 1, &r) == 0);
            wasitls_pollable *p = r.of.res.rep;
            CHECK(wasitls_pollable_block(p) == 0);
            wasitls_pollable_free(p);
            CHECK(++waits < 3);
            continue;
        }
        CHECK(is_ok(&r));
        if (r.of.var.payload->of.var.tag == 0) break;
        wasitls_cval *ip = r.of.var.payload->of.var.payload;
        wasitls_cval *t = ip->of.var.payload->of.list.items;
        if (ip->of.var.tag == 0 && t[0].of.u == 127) lo4 = 1;
        if (ip->of.var.tag == 1 && t[7].of.u == 1 && t[0].of.u == 0) lo6 = 1;
        n++;
    }
    CHECK(n >= 1 && (lo4 || lo6));
    CHECK(mock_drop("wasi:sockets/ip-name-lookup@0.2.12", "resolve-address-stream", rs, NULL, 0) ==
          0);
    const char *bad[] = {"", "bad..name", "a b", ".x", "x/y", "[::1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wasitls_cval c[] = {B(net), S(bad[i])};
        CHECK(mock_call("wasi:sockets/ip-name-lookup@0.2.12", "resolve-addresses", c, 2, &r) == 0);
        CHECK(err_code(&r) == SE_INVALID_ARGUMENT);
    }
    /* dropped while the lookup may still run: the worker finishes on its own */
    wasitls_cval d[] = {B(net), S("[::1]")};
    CHECK(mock_call("wasi:sockets/ip-name-lookup@0.2.12", "resolve-addresses", d, 2, &r) == 0);
    CHECK(is_ok(&r));
    CHECK(mock_drop("wasi:sockets/ip-name-lookup@0.2.12", "resolve-address-stream",
                    r.of.var.payload->of.res.rep, NULL, 0) == 0);
    /* an unresolvable name is reported by resolve-next-address */
    wasitls_cval e[] = {B(net), S("no-such-host.invalid")};
    CHECK(mock_call("wasi:sockets/ip-name-lookup@0.2.12", "resolve-addresses", e, 2, &r) == 0);
    rs = ok_rep(&r);
    for (;;) {
        wasitls_cval b[] = {B(rs)};
        CHECK(mock_call("wasi:sockets/ip-name-lookup@0.2.12",
                        "[method]resolve-address-stream.resolve-next-address", b, 1, &r) == 0);
        if (err_code(&r) != SE_WOULD_BLOCK) break;
        usleep(1000);
    }
    CHECK(err_code(&r) == 18 || err_code(&r) == 19 || err_code(&r) == 20);
    CHECK(mock_drop("wasi:sockets/ip-name-lookup@0.2.12", "resolve-address-stream", rs, NULL, 0) ==
          0);
    usleep(20000); /* let the abandoned worker finish before the process checks for leaks */
    CHECK(mock_drop("wasi:sockets/network@0.2.12", "network", net, NULL, 0) == 0);
    teardown();
}

static void t_sock_udp(void)
{
    wasitls_wasi_config cfg = net_cfg();
    setup(&cfg);
    static const uint8_t lo[4] = {127, 0, 0, 1};
    void *net = network();
    void *u[2];
    uint16_t port[2];
    for (int i = 0; i < 2; i++) {
        wasitls_cval a[] = {EN(0)}, r;
        CHECK(mock_call("wasi:sockets/udp-create-socket@0.2.12", "create-udp-socket", a, 1, &r) ==
              0);
        u[i] = ok_rep(&r);
        wasitls_cval s0[] = {B(u[i]), wasitls_cv_var(WASITLS_CV_OPTION, 0, NULL)};
        CHECK(mock_call(UDP, "[method]udp-socket.stream", s0, 2, &r) == 0);
        CHECK(err_code(&r) == SE_INVALID_STATE); /* not bound */
        wasitls_cval b[] = {B(u[i]), B(net), addr4(lo, 0)};
        CHECK(mock_call(UDP, "[method]udp-socket.start-bind", b, 3, &r) == 0 && is_ok(&r));
        wasitls_cval c[] = {B(u[i])};
        CHECK(mock_call(UDP, "[method]udp-socket.finish-bind", c, 1, &r) == 0 && is_ok(&r));
        CHECK(mock_call(UDP, "[method]udp-socket.local-address", c, 1, &r) == 0 && is_ok(&r));
        port[i] = (uint16_t)r.of.var.payload->of.var.payload->of.list.items[0].of.u;
    }
    wasitls_cval r;
    wasitls_cval s0[] = {B(u[0]), wasitls_cv_var(WASITLS_CV_OPTION, 0, NULL)};
    CHECK(mock_call(UDP, "[method]udp-socket.stream", s0, 2, &r) == 0 && is_ok(&r));
    void *in0 = r.of.var.payload->of.list.items[0].of.res.rep;
    void *out0 = r.of.var.payload->of.list.items[1].of.res.rep;
    wasitls_cval dst = addr4(lo, port[1]);
    wasitls_cval s2[] = {B(u[1]), wasitls_cv_var(WASITLS_CV_OPTION, 0, NULL)};
    CHECK(mock_call(UDP, "[method]udp-socket.stream", s2, 2, &r) == 0 && is_ok(&r));
    void *in1 = r.of.var.payload->of.list.items[0].of.res.rep;
    void *out1 = r.of.var.payload->of.list.items[1].of.res.rep;
    /* send one datagram 0 -> 1 */
    wasitls_cval cs[] = {B(out0)};
    CHECK(mock_call(UDP, "[method]outgoing-datagram-stream.check-send", cs, 1, &r) == 0);
    CHECK(is_ok(&r) && r.of.var.payload->of.u > 0);
    wasitls_cval dg_fields[2] = {BYTES("datagram", 8), wasitls_cv_var(WASITLS_CV_OPTION, 1, &dst)};
    wasitls_cval dg = {.kind = WASITLS_CV_RECORD};
    dg.of.list.items = dg_fields;
    dg.of.list.len = 2;
    wasitls_cval list = {.kind = WASITLS_CV_LIST};
    list.of.list.items = &dg;
    list.of.list.len = 1;
    wasitls_cval sd[] = {B(out0), list};
    CHECK(mock_call(UDP, "[method]outgoing-datagram-stream.send", sd, 2, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.u == 1);
    /* receive on 1 */
    wasitls_cval sub[] = {B(in1)};
    CHECK(mock_call(UDP, "[method]incoming-datagram-stream.subscribe", sub, 1, &r) == 0);
    void *p = r.of.res.rep;
    wasitls_cval blk[] = {B(p)};
    CHECK(mock_call(POLL, "[method]pollable.block", blk, 1, &r) == 0);
    CHECK(mock_drop("wasi:io/poll@0.2.12", "pollable", p, NULL, 0) == 0);
    wasitls_cval rc[] = {B(in1), U(10)};
    CHECK(mock_call(UDP, "[method]incoming-datagram-stream.receive", rc, 2, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.list.len == 1);
    wasitls_cval *got = r.of.var.payload->of.list.items[0].of.list.items;
    CHECK(got[0].of.bytes.len == 8 && memcmp(got[0].of.bytes.ptr, "datagram", 8) == 0);
    CHECK(got[1].of.var.payload->of.list.items[0].of.u == port[0]);
    /* sending more than check-send allowed traps */
    wasitls_cval many[65];
    for (int i = 0; i < 65; i++)
        many[i] = dg;
    wasitls_cval sd2[] = {B(out0), list};
    sd2[1].of.list.items = many;
    sd2[1].of.list.len = 65;
    CHECK(mock_call(UDP, "[method]outgoing-datagram-stream.check-send", cs, 1, &r) == 0);
    CHECK(mock_call(UDP, "[method]outgoing-datagram-stream.send", sd2, 2, &r) == WASITLS_E_TRAP);
    void *ss[] = {in0, out0, in1, out1};
    const char *names[] = {"incoming-datagram-stream", "outgoing-datagram-stream",
                           "incoming-datagram-stream", "outgoing-datagram-stream"};
    for (int i = 0; i < 4; i++)
        CHECK(mock_drop(UDP, names[i], ss[i], NULL, 0) == 0);
    for (int i = 0; i < 2; i++)
        CHECK(mock_drop(UDP, "udp-socket", u[i], NULL, 0) == 0);
    CHECK(mock_drop("wasi:sockets/network@0.2.12", "network", net, NULL, 0) == 0);
    teardown();
}

/* ---- io, cli, clocks, random ---- */

static void t_io_streams(void)
{
    int in[2], out[2];
    CHECK(pipe(in) == 0 && pipe(out) == 0);
    wasitls_wasi_config cfg;
    wasitls_wasi_config_default(&cfg);
    cfg.stdin_fd = in[0];
    cfg.stdout_fd = out[1];
    setup(&cfg);
    wasitls_cval r;
    CHECK(mock_call("wasi:cli/stdin@0.2.12", "get-stdin", NULL, 0, &r) == 0);
    wasitls_istream *is = r.of.res.rep;
    CHECK(mock_call("wasi:cli/stdout@0.2.12", "get-stdout", NULL, 0, &r) == 0);
    wasitls_ostream *os = r.of.res.rep;
    /* nothing to read yet: an empty list, not an error */
    wasitls_cval rd[] = {B(is), U(10)};
    CHECK(mock_call(IO, "[method]input-stream.read", rd, 2, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.bytes.len == 0);
    /* splice stdin -> stdout */
    CHECK(write(in[1], "spliced!", 8) == 8);
    wasitls_cval sp[] = {B(os), B(is), U(100)};
    CHECK(mock_call(IO, "[method]output-stream.blocking-splice", sp, 3, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.u == 8);
    wasitls_cval fl[] = {B(os)};
    CHECK(mock_call(IO, "[method]output-stream.blocking-flush", fl, 1, &r) == 0 && is_ok(&r));
    char buf[64];
    CHECK(read(out[0], buf, sizeof buf) == 8 && memcmp(buf, "spliced!", 8) == 0);
    /* write-zeroes */
    wasitls_cval wz[] = {B(os), U(5)};
    CHECK(mock_call(IO, "[method]output-stream.blocking-write-zeroes-and-flush", wz, 2, &r) == 0);
    CHECK(is_ok(&r));
    CHECK(read(out[0], buf, sizeof buf) == 5 && buf[0] == 0 && buf[4] == 0);
    /* check-write, write within the permit; beyond it traps */
    CHECK(mock_call(IO, "[method]output-stream.check-write", fl, 1, &r) == 0 && is_ok(&r));
    uint64_t permit = r.of.var.payload->of.u;
    CHECK(permit >= 4096);
    uint8_t *big = calloc(1, permit + 1);
    wasitls_cval w1[] = {B(os), BYTES(big, permit + 1)};
    CHECK(mock_call(IO, "[method]output-stream.write", w1, 2, &r) == WASITLS_E_TRAP);
    wasitls_cval w2[] = {B(os), BYTES(big, 4097)};
    CHECK(mock_call(IO, "[method]output-stream.blocking-write-and-flush", w2, 2, &r) ==
          WASITLS_E_TRAP);
    free(big);
    /* a stream cannot be dropped before its pollable */
    CHECK(mock_call(IO, "[method]input-stream.subscribe", rd, 1, &r) == 0);
    wasitls_pollable *p = r.of.res.rep;
    char msg[256];
    CHECK(mock_drop(IO, "input-stream", is, msg, sizeof msg) != 0 && strstr(msg, "pollable"));
    /* poll: not ready, then ready after a write; empty list traps */
    wasitls_cval pr[] = {B(p)};
    CHECK(mock_call(POLL, "[method]pollable.ready", pr, 1, &r) == 0 && !r.of.b);
    CHECK(write(in[1], "x", 1) == 1);
    wasitls_cval items[2] = {B(p), B(p)};
    wasitls_cval lst = {.kind = WASITLS_CV_LIST};
    lst.of.list.items = items;
    lst.of.list.len = 2;
    CHECK(mock_call(POLL, "poll", &lst, 1, &r) == 0);
    CHECK(r.of.list.len == 2 && r.of.list.items[0].of.u == 0 && r.of.list.items[1].of.u == 1);
    lst.of.list.len = 0;
    CHECK(mock_call(POLL, "poll", &lst, 1, &r) == WASITLS_E_TRAP);
    CHECK(mock_drop("wasi:io/poll@0.2.12", "pollable", p, NULL, 0) == 0);
    /* skip, then EOF */
    wasitls_cval sk[] = {B(is), U(10)};
    CHECK(mock_call(IO, "[method]input-stream.skip", sk, 2, &r) == 0 && is_ok(&r));
    CHECK(r.of.var.payload->of.u == 1);
    close(in[1]);
    CHECK(mock_call(IO, "[method]input-stream.blocking-skip", sk, 2, &r) == 0);
    CHECK(r.of.var.tag == 1 && r.of.var.payload->of.var.tag == 1);
    CHECK(mock_drop(IO, "input-stream", is, NULL, 0) == 0);
    /* a reader gone: writes end in closed */
    close(out[0]);
    wasitls_cval w3[] = {B(os), BYTES("gone", 4)};
    CHECK(mock_call(IO, "[method]output-stream.write", w3, 2, &r) == 0);
    CHECK(mock_call(IO, "[method]output-stream.check-write", fl, 1, &r) == 0);
    CHECK(r.of.var.tag == 1 && r.of.var.payload->of.var.tag == 1);
    CHECK(mock_drop(IO, "output-stream", os, NULL, 0) == 0);
    /* a refused drop that is never retried (the guest trapped, its handle is gone): the stream
     * is freed with the context (LeakSanitizer checks) */
    CHECK(mock_call("wasi:cli/stdin@0.2.12", "get-stdin", NULL, 0, &r) == 0);
    wasitls_istream *orphan = r.of.res.rep;
    wasitls_cval os1[] = {B(orphan)};
    CHECK(mock_call(IO, "[method]input-stream.subscribe", os1, 1, &r) == 0);
    CHECK(mock_drop(IO, "input-stream", orphan, NULL, 0) != 0);
    CHECK(mock_drop("wasi:io/poll@0.2.12", "pollable", r.of.res.rep, NULL, 0) == 0);
    teardown();
    close(in[0]);
    close(out[1]);
}

static void t_cli(void)
{
    const char *args[] = {"prog", "a b", "ünï"};
    const char *env[] = {"A=1", "EMPTY=", "X=y=z"};
    wasitls_wasi_config cfg;
    wasitls_wasi_config_default(&cfg);
    cfg.args = args;
    cfg.nargs = 3;
    cfg.env = env;
    cfg.nenv = 3;
    setup(&cfg);
    CHECK(mock_wit_bytes > 10000);
    CHECK(mock_count() > 130);
    wasitls_cval r;
    CHECK(mock_call("wasi:cli/environment@0.2.12", "get-arguments", NULL, 0, &r) == 0);
    CHECK(r.of.list.len == 3 && r.of.list.items[1].of.str.len == 3);
    CHECK(mock_call("wasi:cli/environment@0.2.12", "get-environment", NULL, 0, &r) == 0);
    CHECK(r.of.list.len == 3);
    wasitls_cval *t = r.of.list.items[2].of.list.items;
    CHECK(t[0].of.str.len == 1 && t[1].of.str.len == 3 && memcmp(t[1].of.str.ptr, "y=z", 3) == 0);
    CHECK(mock_call("wasi:cli/environment@0.2.12", "initial-cwd", NULL, 0, &r) == 0);
    CHECK(r.kind == WASITLS_CV_OPTION && r.of.var.tag == 0);
    CHECK(mock_call("wasi:cli/terminal-stdout@0.2.12", "get-terminal-stdout", NULL, 0, &r) == 0);
    CHECK(r.of.var.tag == 0);
    int code = -1;
    CHECK(!wasitls_wasi_exited(W, &code));
    wasitls_cval ex = wasitls_cv_u64(WASITLS_CV_U8, 42);
    CHECK(mock_call("wasi:cli/exit@0.2.12", "exit-with-code", &ex, 1, &r) == WASITLS_E_EXIT);
    CHECK(wasitls_wasi_exited(W, &code) && code == 42);
    wasitls_cval st = wasitls_cv_var(WASITLS_CV_RESULT, 1, NULL);
    CHECK(mock_call("wasi:cli/exit@0.2.12", "exit", &st, 1, &r) == WASITLS_E_EXIT);
    CHECK(wasitls_wasi_exited(W, &code) && code == 1);
    teardown();
}

static void t_clocks_random(void)
{
    wasitls_wasi_config cfg;
    wasitls_wasi_config_default(&cfg);
    setup(&cfg);
    wasitls_cval r;
    CHECK(mock_call("wasi:clocks/monotonic-clock@0.2.12", "now", NULL, 0, &r) == 0);
    uint64_t t0 = r.of.u;
    wasitls_cval d = U(20000000);
    CHECK(mock_call("wasi:clocks/monotonic-clock@0.2.12", "subscribe-duration", &d, 1, &r) == 0);
    wasitls_pollable *p = r.of.res.rep;
    wasitls_cval b[] = {B(p)};
    CHECK(mock_call(POLL, "[method]pollable.block", b, 1, &r) == 0);
    CHECK(mock_call("wasi:clocks/monotonic-clock@0.2.12", "now", NULL, 0, &r) == 0);
    CHECK(r.of.u - t0 >= 20000000);
    CHECK(mock_drop("wasi:io/poll@0.2.12", "pollable", p, NULL, 0) == 0);
    CHECK(mock_call("wasi:clocks/wall-clock@0.2.12", "now", NULL, 0, &r) == 0);
    CHECK(r.of.list.items[0].of.u > 1700000000u && r.of.list.items[1].of.u < 1000000000u);
    wasitls_cval n = U(32);
    CHECK(mock_call("wasi:random/random@0.2.12", "get-random-bytes", &n, 1, &r) == 0);
    CHECK(r.of.bytes.len == 32);
    int nz = 0;
    for (int i = 0; i < 32; i++)
        nz += r.of.bytes.ptr[i] != 0;
    CHECK(nz > 16);
    CHECK(mock_call("wasi:random/insecure@0.2.12", "get-insecure-random-bytes", &n, 1, &r) == 0);
    CHECK(r.of.bytes.len == 32);
    wasitls_cval s1, s2;
    CHECK(mock_call("wasi:random/insecure-seed@0.2.12", "insecure-seed", NULL, 0, &s1) == 0);
    CHECK(mock_call("wasi:random/insecure-seed@0.2.12", "insecure-seed", NULL, 0, &s2) == 0);
    CHECK(s1.of.list.items[0].of.u == s2.of.list.items[0].of.u);
    wasitls_cval huge = U(1ull << 40);
    CHECK(mock_call("wasi:random/random@0.2.12", "get-random-bytes", &huge, 1, &r) ==
          WASITLS_E_TRAP);
    teardown();
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"fs_confine", t_fs_confine},
        {"fs_confine_fallback", t_fs_confine_fallback},
        {"fs_ops", t_fs_ops},
        {"fs_ops_fallback", t_fs_ops_fallback},
        {"fs_none", t_fs_none},
        {"sock_denied", t_sock_denied},
        {"sock_tcp4", t_sock_tcp4},
        {"sock_tcp6", t_sock_tcp6},
        {"sock_refused", t_sock_refused},
        {"sock_lookup", t_sock_lookup},
        {"sock_udp", t_sock_udp},
        {"io_streams", t_io_streams},
        {"cli", t_cli},
        {"clocks_random", t_clocks_random},
    };
    if (argc != 2) {
        fprintf(stderr, "usage: %s TEST\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (strcmp(argv[1], tests[i].name) == 0) {
            tests[i].fn();
            return 0;
        }
    fprintf(stderr, "unknown test %s\n", argv[1]);
    return 2;
}
