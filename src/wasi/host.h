/* Internal to the wasi layer: the run context and helpers shared by the host functions of the
 * WASI interfaces (io, cli, clocks, random, filesystem, sockets). */
#ifndef WASITLS_WASI_HOST_H
#define WASITLS_WASI_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "wasitls/component.h"
#include "wasitls/io.h"
#include "wasitls/wasi.h"

/* Versions of the WIT text the host declares (jco's copy); guests at any 0.2.x match. */
#define WASI_V "@0.2.12"

struct wasitls__preopen {
    int fd; /* O_RDONLY|O_DIRECTORY, owned */
    char *guest_path;
};

/* A resource whose destructor refused (children still alive). See wasitls__orphan_add. */
struct wasitls__orphan {
    void *rep;
    void (*force_free)(void *rep);
};

struct wasitls_wasi {
    char **args;
    size_t nargs;
    char **env_names, **env_values;
    size_t nenv;
    struct wasitls__preopen *pre;
    size_t npre;
    int stdin_fd, stdout_fd, stderr_fd;
    bool net, lookup;
    char *cwd;
    bool exited;
    int exit_code;
    uint8_t *scratch; /* reads land here before they are copied into guest memory */
    size_t scratch_cap;
    uint64_t insecure[2]; /* xorshift128+ state of wasi:random/insecure */
    uint64_t seed[2];     /* what insecure-seed returns, fixed for the run */
    struct wasitls__orphan *orphans;
    size_t norphans, caporphans;
};

/* Largest read (of a stream or a file) handed to the guest in one call. */
#define WASI_READ_MAX (256 * 1024)

/* A destructor refusing because children are alive records its rep here. The component layer
 * then either calls the destructor again at teardown (it succeeds, and must call
 * wasitls__orphan_forget) or never again (the guest's handle is gone, the guest trapped):
 * wasitls_wasi_free frees what is left with force_free, after the instances are gone. */
void wasitls__orphan_add(wasitls_wasi *w, void *rep, void (*force_free)(void *rep));
void wasitls__orphan_forget(wasitls_wasi *w, void *rep);

/* ---- values ---- */

static inline wasitls_cval cv_kind(uint8_t kind)
{
    wasitls_cval v;
    memset(&v, 0, sizeof v);
    v.kind = kind;
    return v;
}
static inline wasitls_cval cv_u64(uint64_t u)
{
    return wasitls_cv_u64(WASITLS_CV_U64, u);
}
static inline wasitls_cval cv_u32(uint32_t u)
{
    return wasitls_cv_u64(WASITLS_CV_U32, u);
}
static inline wasitls_cval cv_str(const char *s, size_t len)
{
    wasitls_cval v = cv_kind(WASITLS_CV_STRING);
    v.of.str.ptr = s;
    v.of.str.len = len;
    return v;
}
static inline wasitls_cval cv_enum(uint32_t tag)
{
    return wasitls_cv_var(WASITLS_CV_ENUM, tag, NULL);
}
static inline wasitls_cval cv_none(void)
{
    return wasitls_cv_var(WASITLS_CV_OPTION, 0, NULL);
}
static inline wasitls_cval cv_flags(uint64_t f)
{
    wasitls_cval v = cv_kind(WASITLS_CV_FLAGS);
    v.of.flags = f;
    return v;
}

/* A boxed copy of v in the call arena (NULL on exhaustion). */
wasitls_cval *wasitls__box(wasitls_ccall *c, wasitls_cval v);
/* ok(payload) / err(payload); payload may be NULL (no payload). Return 0 or NOMEM. */
int wasitls__ok(wasitls_ccall *c, wasitls_cval *result, const wasitls_cval *payload);
int wasitls__err(wasitls_ccall *c, wasitls_cval *result, const wasitls_cval *payload);
/* err(enum-code), the usual error of filesystem and sockets functions. */
int wasitls__err_code(wasitls_ccall *c, wasitls_cval *result, uint32_t code);
/* some(payload) */
int wasitls__some(wasitls_ccall *c, wasitls_cval *result, wasitls_cval payload);
/* A record/tuple of n fields in the arena; fields to be filled by the caller. */
wasitls_cval *wasitls__aggregate(wasitls_ccall *c, wasitls_cval *out, uint8_t kind, size_t n);

/* A stream operation's outcome as result<T, stream-error>: rc >= 0 is ok(payload), CLOSED is
 * err(closed), anything else err(last-operation-failed(e)) (e made from rc when NULL). */
int wasitls__stream_result(wasitls_ccall *c, wasitls_cval *result, int64_t rc, wasitls_ioerr *e,
                           const wasitls_cval *payload);

/* Copies n bytes into guest memory as a list<u8> value. */
int wasitls__guest_copy(wasitls_ccall *c, const uint8_t *p, size_t n, wasitls_cval *out);

/* Scratch buffer of at least n bytes (n <= WASI_READ_MAX). */
uint8_t *wasitls__scratch(wasitls_wasi *w, size_t n);

/* ---- registration ---- */

typedef struct wasitls__hfunc {
    const char *iface; /* without version: "wasi:io/streams" */
    const char *name;
    wasitls_cfunc fn;
} wasitls__hfunc;

typedef struct wasitls__hres {
    const char *iface;
    const char *name;
    wasitls_cdtor dtor;
} wasitls__hres;

int wasitls__register(wasitls_wasi *w, wasitls_linker *l, const wasitls__hfunc *fs, size_t nf,
                      const wasitls__hres *rs, size_t nr, wasitls_error *err);

int wasitls__io_register(wasitls_wasi *w, wasitls_linker *l, wasitls_error *err);
int wasitls__cli_register(wasitls_wasi *w, wasitls_linker *l, wasitls_error *err);
int wasitls__fs_register(wasitls_wasi *w, wasitls_linker *l, wasitls_error *err);
int wasitls__sock_register(wasitls_wasi *w, wasitls_linker *l, wasitls_error *err);

/* Embedded WIT (generated). */
const char *wasitls__wit_text(const char *name, size_t *len);

/* Opens path beneath dirfd as guest paths are (fd or -errno); exposed for tests. */
int wasitls__fs_open_beneath(int dirfd, const char *path, int oflags, bool follow);

/* errno -> wasi:filesystem/types.error-code ordinal. */
uint32_t wasitls__errno_fs(int e);

#define ARG_REP(i) (args[i].of.res.rep)
#define NARGS(n)                                                                                   \
    do {                                                                                           \
        if (nargs != (n))                                                                          \
            return wasitls_ccall_trap(call, "%s: expected %d arguments", __func__, (n));           \
    } while (0)

#endif
