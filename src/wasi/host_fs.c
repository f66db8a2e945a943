/* wasi:filesystem — types and preopens — confined to the preopened directories.
 *
 * Every path a guest names is resolved beneath the descriptor it is relative to: absolute
 * paths, `..` above the descriptor and symbolic links leading out are refused with
 * `not-permitted`. The kernel does it with openat2(RESOLVE_BENEATH) where available; otherwise
 * (or with WASITLS_NO_OPENAT2 set, which the tests use to cover it) a component-by-component
 * walk with O_NOFOLLOW expands symlinks itself. Operations that change a directory entry
 * resolve the parent directory that way and then act on a single plain name with the *at call.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host.h"
#include "wasitls/cursor.h"

/* descriptor-flags bits */
enum {
    DF_READ = 1 << 0,
    DF_WRITE = 1 << 1,
    DF_FILE_SYNC = 1 << 2,
    DF_DATA_SYNC = 1 << 3,
    DF_RSYNC = 1 << 4,
    DF_MUTATE = 1 << 5,
};
/* open-flags bits */
enum { OF_CREATE = 1, OF_DIRECTORY = 2, OF_EXCLUSIVE = 4, OF_TRUNCATE = 8 };
/* descriptor-type */
enum {
    DT_T_UNKNOWN,
    DT_T_BLOCK,
    DT_T_CHAR,
    DT_T_DIR,
    DT_T_FIFO,
    DT_T_SYMLINK,
    DT_T_REGULAR,
    DT_T_SOCKET,
};
/* error-code ordinals used directly */
enum {
    FE_ACCESS = 0,
    FE_BAD_DESCRIPTOR = 3,
    FE_INVALID = 12,
    FE_IO = 13,
    FE_IS_DIRECTORY = 14,
    FE_NAME_TOO_LONG = 18,
    FE_NOT_PERMITTED = 31,
};

typedef struct fs_desc {
    int fd;
    bool is_dir;
    uint64_t flags; /* descriptor-flags */
} fs_desc;

uint32_t wasitls__errno_fs(int e)
{
    switch (e) {
    case EACCES:
        return 0;
    case EAGAIN:
        return 1;
    case EALREADY:
        return 2;
    case EBADF:
        return 3;
    case EBUSY:
        return 4;
    case EDEADLK:
        return 5;
    case EDQUOT:
        return 6;
    case EEXIST:
        return 7;
    case EFBIG:
        return 8;
    case EILSEQ:
        return 9;
    case EINPROGRESS:
        return 10;
    case EINTR:
        return 11;
    case EINVAL:
        return 12;
    case EIO:
        return 13;
    case EISDIR:
        return 14;
    case ELOOP:
        return 15;
    case EMLINK:
        return 16;
    case EMSGSIZE:
        return 17;
    case ENAMETOOLONG:
        return 18;
    case ENODEV:
        return 19;
    case ENOENT:
        return 20;
    case ENOLCK:
        return 21;
    case ENOMEM:
        return 22;
    case ENOSPC:
        return 23;
    case ENOTDIR:
        return 24;
    case ENOTEMPTY:
        return 25;
    case ENOTRECOVERABLE:
        return 26;
    case ENOTSUP:
        return 27;
    case ENOTTY:
        return 28;
    case ENXIO:
        return 29;
    case EOVERFLOW:
        return 30;
    case EPERM:
        return 31;
    case EPIPE:
        return 32;
    case EROFS:
        return 33;
    case ESPIPE:
        return 34;
    case ETXTBSY:
        return 35;
    case EXDEV:
        return 36;
    default:
        return FE_IO;
    }
}

/* ---- confined path resolution ---- */

#define MAX_SYMLINKS 40
#define MAX_DEPTH 256

static int openat2_state; /* 0 unknown, 1 available, -1 not */

static bool use_openat2(void)
{
    if (openat2_state == 0) openat2_state = getenv("WASITLS_NO_OPENAT2") ? -1 : 1;
    return openat2_state > 0;
}

/* The fallback: walks path beneath dirfd one component at a time. Returns an fd or -errno. */
static int walk_beneath(int dirfd, const char *path, int oflags, mode_t mode, bool follow)
{
    int stack[MAX_DEPTH];
    int depth = 0; /* stack[0..depth) are owned fds; the base is dirfd */
    int links = 0;
    size_t cap = strlen(path) + PATH_MAX + 2;
    char *rest = malloc(cap), *comp = malloc(NAME_MAX + 2), *tgt = malloc(PATH_MAX + 1);
    int ret;
    if (!rest || !comp || !tgt) {
        ret = -ENOMEM;
        goto out;
    }
    strcpy(rest, path);
    for (;;) {
        char *p = rest;
        while (*p == '/')
            p++;
        if (!*p) {
            /* nothing named last (empty, "." or ".."): the directory reached itself */
            int top = depth ? stack[depth - 1] : dirfd;
            ret = openat(top, ".", oflags | O_CLOEXEC, mode);
            ret = ret < 0 ? -errno : ret;
            goto out;
        }
        size_t n = strcspn(p, "/");
        if (n > NAME_MAX) {
            ret = -ENAMETOOLONG;
            goto out;
        }
        memcpy(comp, p, n);
        comp[n] = 0;
        char *after = p + n;
        memmove(rest, after, strlen(after) + 1);
        bool last = rest[strspn(rest, "/")] == 0;
        int top = depth ? stack[depth - 1] : dirfd;
        if (strcmp(comp, ".") == 0) continue;
        if (strcmp(comp, "..") == 0) {
            if (depth == 0) {
                ret = -EPERM; /* would leave the preopen */
                goto out;
            }
            close(stack[--depth]);
            continue;
        }
        struct stat st;
        bool is_link = fstatat(top, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
        if (is_link && (!last || follow)) {
            if (++links > MAX_SYMLINKS) {
                ret = -ELOOP;
                goto out;
            }
            ssize_t tl = readlinkat(top, comp, tgt, PATH_MAX);
            if (tl < 0) {
                ret = -errno;
                goto out;
            }
            tgt[tl] = 0;
            if (tgt[0] == '/') {
                ret = -EPERM; /* absolute target: outside by definition */
                goto out;
            }
            size_t rl = strlen(rest);
            if ((size_t)tl + 1 + rl + 1 > cap) {
                ret = -ENAMETOOLONG;
                goto out;
            }
            memmove(rest + tl + 1, rest, rl + 1);
            memcpy(rest, tgt, (size_t)tl);
            rest[tl] = '/';
            continue;
        }
        if (last) {
            ret = openat(top, comp, oflags | O_CLOEXEC | O_NOFOLLOW, mode);
            ret = ret < 0 ? -errno : ret;
            goto out;
        }
        if (depth == MAX_DEPTH) {
            ret = -ENAMETOOLONG;
            goto out;
        }
        int fd = openat(top, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            ret = -errno;
            goto out;
        }
        stack[depth++] = fd;
    }
out:
    while (depth)
        close(stack[--depth]);
    free(rest);
    free(comp);
    free(tgt);
    return ret;
}

/* Opens path beneath dirfd; follow says whether a symlink as the last component is followed.
 * Returns an fd or -errno (EPERM for any attempt to leave). */
static int open_beneath(int dirfd, const char *path, int oflags, mode_t mode, bool follow)
{
    if (path[0] == '/') return -EPERM;
    if (!follow) oflags |= O_NOFOLLOW;
    if (use_openat2()) {
        struct open_how how = {
            .flags = (uint64_t)(oflags | O_CLOEXEC),
            .mode = ((oflags & O_CREAT) || (oflags & O_TMPFILE) == O_TMPFILE) ? mode : 0,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        for (int tries = 0; tries < 8; tries++) {
            long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
            if (fd >= 0) return (int)fd;
            if (errno == EAGAIN) continue;
            if (errno == EXDEV) return -EPERM;
            if (errno == ENOSYS || errno == E2BIG) {
                openat2_state = -1;
                break;
            }
            return -errno;
        }
        if (openat2_state > 0) return -EAGAIN;
    }
    return walk_beneath(dirfd, path, oflags & ~O_NOFOLLOW, mode, follow);
}

/* A guest path (not NUL-terminated, guest memory) as a C string in the call arena. */
static int guest_path(wasitls_ccall *call, const wasitls_cval *v, char **out)
{
    size_t n = v->of.str.len;
    if (n > PATH_MAX) return -ENAMETOOLONG;
    if (memchr(v->of.str.ptr, 0, n)) return -EILSEQ;
    char *s = wasitls_ccall_alloc(call, n + 1);
    if (!s) return -ENOMEM;
    memcpy(s, v->of.str.ptr, n);
    s[n] = 0;
    *out = s;
    return 0;
}

/* Splits path into its parent directory (opened beneath dirfd as O_PATH, *pfd, to be closed
 * unless it equals dirfd) and the last name (a pointer into path). A last name of "." or ".."
 * cannot be the subject of an entry operation: EINVAL. */
static int open_parent(int dirfd, char *path, int *pfd, const char **base)
{
    if (path[0] == '/') return -EPERM;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        path[--n] = 0;
    if (n == 0) return -ENOENT;
    char *slash = strrchr(path, '/');
    const char *b = slash ? slash + 1 : path;
    if (strcmp(b, ".") == 0 || strcmp(b, "..") == 0) return -EINVAL;
    *base = b;
    if (!slash) {
        *pfd = dirfd;
        return 0;
    }
    *slash = 0;
    int fd = open_beneath(dirfd, slash == path ? "." : path, O_PATH | O_DIRECTORY, 0, true);
    *slash = '/';
    if (fd < 0) return fd;
    *pfd = fd;
    return 0;
}

static void close_parent(int pfd, int dirfd)
{
    if (pfd >= 0 && pfd != dirfd) close(pfd);
}

/* ---- results ---- */

/* neg_errno: a negative errno (never a WASITLS_E_* code: -EPERM is -1 like WASITLS_E_NOMEM). */
static int fs_err(wasitls_ccall *call, wasitls_cval *result, int neg_errno)
{
    return wasitls__err_code(call, result, wasitls__errno_fs(-neg_errno));
}

static int fs_ok(wasitls_ccall *call, wasitls_cval *result)
{
    return wasitls__ok(call, result, NULL);
}

static uint32_t mode_type(mode_t m)
{
    if (S_ISREG(m)) return DT_T_REGULAR;
    if (S_ISDIR(m)) return DT_T_DIR;
    if (S_ISLNK(m)) return DT_T_SYMLINK;
    if (S_ISCHR(m)) return DT_T_CHAR;
    if (S_ISBLK(m)) return DT_T_BLOCK;
    if (S_ISFIFO(m)) return DT_T_FIFO;
    if (S_ISSOCK(m)) return DT_T_SOCKET;
    return DT_T_UNKNOWN;
}

static int some_datetime(wasitls_ccall *call, wasitls_cval *out, const struct timespec *ts)
{
    wasitls_cval dt;
    wasitls_cval *f = wasitls__aggregate(call, &dt, WASITLS_CV_RECORD, 2);
    if (!f) return WASITLS_E_NOMEM;
    f[0] = cv_u64(ts->tv_sec < 0 ? 0 : (uint64_t)ts->tv_sec);
    f[1] = cv_u32((uint32_t)ts->tv_nsec);
    return wasitls__some(call, out, dt);
}

static int stat_result(wasitls_ccall *call, wasitls_cval *result, const struct stat *st)
{
    wasitls_cval rec;
    wasitls_cval *f = wasitls__aggregate(call, &rec, WASITLS_CV_RECORD, 6);
    if (!f) return WASITLS_E_NOMEM;
    f[0] = cv_enum(mode_type(st->st_mode));
    f[1] = cv_u64((uint64_t)st->st_nlink);
    f[2] = cv_u64((uint64_t)st->st_size);
    if (some_datetime(call, &f[3], &st->st_atim) || some_datetime(call, &f[4], &st->st_mtim) ||
        some_datetime(call, &f[5], &st->st_ctim))
        return WASITLS_E_NOMEM;
    return wasitls__ok(call, result, &rec);
}

static int hash_result(wasitls_ccall *call, wasitls_cval *result, const struct stat *st)
{
    /* Only identity goes in: equal for the same object, different for different ones. */
    uint64_t a = (uint64_t)st->st_dev, b = (uint64_t)st->st_ino;
    uint64_t lo = b * 0x9E3779B97F4A7C15ull ^ a, hi = a * 0xC2B2AE3D27D4EB4Full ^ b;
    wasitls_cval rec;
    wasitls_cval *f = wasitls__aggregate(call, &rec, WASITLS_CV_RECORD, 2);
    if (!f) return WASITLS_E_NOMEM;
    f[0] = cv_u64(lo);
    f[1] = cv_u64(hi);
    return wasitls__ok(call, result, &rec);
}

static fs_desc *desc_new(int fd, uint64_t flags)
{
    fs_desc *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    struct stat st;
    d->fd = fd;
    d->flags = flags;
    d->is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    return d;
}

static int desc_dtor(void *env, void *rep, wasitls_error *err)
{
    fs_desc *d = rep;
    wasitls__fd_close(d->fd);
    free(d);
    return 0;
}

/* ---- file streams: pread/pwrite at their own position ---- */

typedef struct {
    wasitls_istream base;
    int fd;
    uint64_t pos;
    bool closed;
} file_istream;

static int64_t fi_read(wasitls_istream *b, uint8_t *buf, size_t len, wasitls_ioerr **err)
{
    file_istream *s = (file_istream *)b;
    if (s->closed) return WASITLS_E_CLOSED;
    if (len == 0) return 0;
    for (;;) {
        ssize_t n = pread(s->fd, buf, len, (off_t)s->pos);
        if (n > 0) {
            s->pos += (uint64_t)n;
            return n;
        }
        if (n == 0) {
            s->closed = true;
            return WASITLS_E_CLOSED;
        }
        if (errno == EINTR) continue;
        int e = errno;
        s->closed = true;
        if (err) *err = wasitls__ioerr_file(e, "read");
        return WASITLS_E_IO;
    }
}

static bool fi_ready(wasitls_istream *b)
{
    return true;
}

static void fi_wait_on(wasitls_istream *b, wasitls_waitset *ws)
{
    wasitls_waitset_now(ws);
}

static void fi_destroy(wasitls_istream *b)
{
    file_istream *s = (file_istream *)b;
    wasitls__fd_close(s->fd);
    free(s);
}

static const wasitls_istream_ops fi_ops = {
    .version = WASITLS_IO_OPS_VERSION,
    .read = fi_read,
    .ready = fi_ready,
    .wait_on = fi_wait_on,
    .destroy = fi_destroy,
};

typedef struct {
    wasitls_ostream base;
    int fd;
    uint64_t pos;
    bool append;
    uint8_t state; /* 0 open, 1 failed (fail pending), 2 closed */
    wasitls_ioerr *fail;
} file_ostream;

#define FILE_WRITE_PERMIT (1u << 20)

static int64_t fo_status(file_ostream *s, wasitls_ioerr **err)
{
    if (s->state == 2) return WASITLS_E_CLOSED;
    s->state = 2;
    if (err)
        *err = s->fail;
    else
        wasitls_ioerr_free(s->fail);
    s->fail = NULL;
    return WASITLS_E_IO;
}

static int64_t fo_check_write(wasitls_ostream *b, wasitls_ioerr **err)
{
    file_ostream *s = (file_ostream *)b;
    if (s->state) return fo_status(s, err);
    return FILE_WRITE_PERMIT;
}

static int fo_write(wasitls_ostream *b, const uint8_t *p, size_t n, wasitls_ioerr **err)
{
    file_ostream *s = (file_ostream *)b;
    if (s->state) return (int)fo_status(s, err);
    if (n > FILE_WRITE_PERMIT) return WASITLS_E_INVAL;
    if (s->append) {
        struct stat st;
        if (fstat(s->fd, &st) == 0) s->pos = (uint64_t)st.st_size;
    }
    while (n) {
        ssize_t w = pwrite(s->fd, p, n, (off_t)s->pos);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            s->state = 1;
            s->fail = wasitls__ioerr_file(w < 0 ? errno : EIO, "write");
            return 0; /* reported by the next check-write */
        }
        s->pos += (uint64_t)w;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fo_flush(wasitls_ostream *b, wasitls_ioerr **err)
{
    file_ostream *s = (file_ostream *)b;
    return s->state ? (int)fo_status(s, err) : 0;
}

static bool fo_ready(wasitls_ostream *b)
{
    return true;
}

static void fo_wait_on(wasitls_ostream *b, wasitls_waitset *ws)
{
    wasitls_waitset_now(ws);
}

static void fo_destroy(wasitls_ostream *b)
{
    file_ostream *s = (file_ostream *)b;
    wasitls_ioerr_free(s->fail);
    wasitls__fd_close(s->fd);
    free(s);
}

static const wasitls_ostream_ops fo_ops = {
    .version = WASITLS_IO_OPS_VERSION,
    .check_write = fo_check_write,
    .write = fo_write,
    .flush = fo_flush,
    .ready = fo_ready,
    .wait_on = fo_wait_on,
    .destroy = fo_destroy,
};

/* ---- descriptor methods ---- */

#define DESC(i) ((fs_desc *)args[i].of.res.rep)

/* read-via-stream: func(offset: filesize) -> result<input-stream, error-code>; */
static int d_read_via_stream(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                             wasitls_cval *result)
{
    NARGS(2);
    fs_desc *d = DESC(0);
    if (d->is_dir) return wasitls__err_code(call, result, FE_IS_DIRECTORY);
    if (!(d->flags & DF_READ)) return wasitls__err_code(call, result, FE_BAD_DESCRIPTOR);
    int fd = fcntl(d->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return fs_err(call, result, -errno);
    file_istream *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return WASITLS_E_NOMEM;
    }
    s->base.ops = &fi_ops;
    s->fd = fd;
    s->pos = args[1].of.u;
    wasitls_cval v = wasitls_cv_own(s);
    return wasitls__ok(call, result, &v);
}

static int make_ostream(wasitls_ccall *call, fs_desc *d, uint64_t pos, bool append,
                        wasitls_cval *result)
{
    if (d->is_dir) return wasitls__err_code(call, result, FE_IS_DIRECTORY);
    if (!(d->flags & DF_WRITE)) return wasitls__err_code(call, result, FE_BAD_DESCRIPTOR);
    int fd = fcntl(d->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return fs_err(call, result, -errno);
    file_ostream *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return WASITLS_E_NOMEM;
    }
    s->base.ops = &fo_ops;
    s->fd = fd;
    s->pos = pos;
    s->append = append;
    wasitls_cval v = wasitls_cv_own(s);
    return wasitls__ok(call, result, &v);
}

/* write-via-stream: func(offset: filesize) -> result<output-stream, error-code>; */
static int d_write_via_stream(wasitls_ccall *call, void *env, const wasitls_cval *args,
                              size_t nargs, wasitls_cval *result)
{
    NARGS(2);
    return make_ostream(call, DESC(0), args[1].of.u, false, result);
}

/* append-via-stream: func() -> result<output-stream, error-code>; */
static int d_append_via_stream(wasitls_ccall *call, void *env, const wasitls_cval *args,
                               size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    return make_ostream(call, DESC(0), 0, true, result);
}

/* advise: func(offset: filesize, length: filesize, advice: advice) -> result<_, error-code>; */
static int d_advise(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                    wasitls_cval *result)
{
    NARGS(4);
    static const int adv[] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                              POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE};
    uint32_t a = args[3].of.var.tag;
    if (a >= 6) return wasitls__err_code(call, result, FE_INVALID);
    if (args[1].of.u > INT64_MAX || args[2].of.u > INT64_MAX)
        return wasitls__err_code(call, result, FE_INVALID);
    int r = posix_fadvise(DESC(0)->fd, (off_t)args[1].of.u, (off_t)args[2].of.u, adv[a]);
    return r ? fs_err(call, result, -r) : fs_ok(call, result);
}

/* sync-data: func() -> result<_, error-code>; sync likewise */
static int d_sync_data(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                       wasitls_cval *result)
{
    NARGS(1);
    return fdatasync(DESC(0)->fd) ? fs_err(call, result, -errno) : fs_ok(call, result);
}

static int d_sync(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                  wasitls_cval *result)
{
    NARGS(1);
    return fsync(DESC(0)->fd) ? fs_err(call, result, -errno) : fs_ok(call, result);
}

/* get-flags: func() -> result<descriptor-flags, error-code>; */
static int d_get_flags(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                       wasitls_cval *result)
{
    NARGS(1);
    wasitls_cval v = cv_flags(DESC(0)->flags);
    return wasitls__ok(call, result, &v);
}

/* get-type: func() -> result<descriptor-type, error-code>; */
static int d_get_type(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                      wasitls_cval *result)
{
    NARGS(1);
    struct stat st;
    if (fstat(DESC(0)->fd, &st)) return fs_err(call, result, -errno);
    wasitls_cval v = cv_enum(mode_type(st.st_mode));
    return wasitls__ok(call, result, &v);
}

/* set-size: func(size: filesize) -> result<_, error-code>; */
static int d_set_size(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                      wasitls_cval *result)
{
    NARGS(2);
    fs_desc *d = DESC(0);
    if (d->is_dir) return wasitls__err_code(call, result, FE_IS_DIRECTORY);
    if (!(d->flags & DF_WRITE)) return wasitls__err_code(call, result, FE_BAD_DESCRIPTOR);
    if (args[1].of.u > INT64_MAX) return wasitls__err_code(call, result, FE_INVALID);
    return ftruncate(d->fd, (off_t)args[1].of.u) ? fs_err(call, result, -errno)
                                                 : fs_ok(call, result);
}

/* new-timestamp: no-change | now | timestamp(datetime) */
static void new_ts(const wasitls_cval *v, struct timespec *ts)
{
    switch (v->of.var.tag) {
    case 0:
        ts->tv_sec = 0;
        ts->tv_nsec = UTIME_OMIT;
        break;
    case 1:
        ts->tv_sec = 0;
        ts->tv_nsec = UTIME_NOW;
        break;
    default: {
        const wasitls_cval *f = v->of.var.payload->of.list.items;
        ts->tv_sec = f[0].of.u > INT64_MAX ? INT64_MAX : (time_t)f[0].of.u;
        ts->tv_nsec = (long)f[1].of.u;
    }
    }
}

static bool ts_valid(const struct timespec *ts)
{
    return ts->tv_nsec == UTIME_OMIT || ts->tv_nsec == UTIME_NOW ||
           (ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000);
}

/* set-times: func(data-access-timestamp: new-timestamp,
 *                 data-modification-timestamp: new-timestamp) -> result<_, error-code>; */
static int d_set_times(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                       wasitls_cval *result)
{
    NARGS(3);
    struct timespec ts[2];
    new_ts(&args[1], &ts[0]);
    new_ts(&args[2], &ts[1]);
    if (!ts_valid(&ts[0]) || !ts_valid(&ts[1])) return wasitls__err_code(call, result, FE_INVALID);
    return futimens(DESC(0)->fd, ts) ? fs_err(call, result, -errno) : fs_ok(call, result);
}

/* read: func(length: filesize, offset: filesize)
 *       -> result<tuple<list<u8>, bool>, error-code>; */
static int d_read(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                  wasitls_cval *result)
{
    NARGS(3);
    fs_desc *d = DESC(0);
    if (d->is_dir) return wasitls__err_code(call, result, FE_IS_DIRECTORY);
    if (!(d->flags & DF_READ)) return wasitls__err_code(call, result, FE_BAD_DESCRIPTOR);
    uint64_t len = args[1].of.u, off = args[2].of.u;
    if (off > INT64_MAX) return wasitls__err_code(call, result, FE_INVALID);
    size_t n = len > WASI_READ_MAX ? WASI_READ_MAX : (size_t)len;
    uint8_t *buf = wasitls__scratch(env, n ? n : 1);
    if (!buf) return WASITLS_E_NOMEM;
    ssize_t r;
    do
        r = pread(d->fd, buf, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    if (r < 0) return fs_err(call, result, -errno);
    wasitls_cval tup;
    wasitls_cval *t = wasitls__aggregate(call, &tup, WASITLS_CV_TUPLE, 2);
    if (!t) return WASITLS_E_NOMEM;
    int rc = wasitls__guest_copy(call, buf, (size_t)r, &t[0]);
    if (rc) return rc;
    t[1] = wasitls_cv_bool(n > 0 && (size_t)r < n);
    if (n == 0) {
        struct stat st;
        t[1] = wasitls_cv_bool(fstat(d->fd, &st) == 0 && off >= (uint64_t)st.st_size);
    }
    return wasitls__ok(call, result, &tup);
}

/* write: func(buffer: list<u8>, offset: filesize) -> result<filesize, error-code>; */
static int d_write(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                   wasitls_cval *result)
{
    NARGS(3);
    fs_desc *d = DESC(0);
    if (d->is_dir) return wasitls__err_code(call, result, FE_IS_DIRECTORY);
    if (!(d->flags & DF_WRITE)) return wasitls__err_code(call, result, FE_BAD_DESCRIPTOR);
    uint64_t off = args[2].of.u;
    if (off > INT64_MAX) return wasitls__err_code(call, result, FE_INVALID);
    ssize_t r;
    do
        r = pwrite(d->fd, args[1].of.bytes.ptr, args[1].of.bytes.len, (off_t)off);
    while (r < 0 && errno == EINTR);
    if (r < 0) return fs_err(call, result, -errno);
    wasitls_cval v = cv_u64((uint64_t)r);
    return wasitls__ok(call, result, &v);
}

/* directory-entry-stream */

typedef struct {
    DIR *dir;
} dir_stream;

static int dirstream_dtor(void *env, void *rep, wasitls_error *err)
{
    dir_stream *s = rep;
    if (s->dir) closedir(s->dir);
    free(s);
    return 0;
}

/* read-directory: func() -> result<directory-entry-stream, error-code>; */
static int d_read_directory(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                            wasitls_cval *result)
{
    NARGS(1);
    fs_desc *d = DESC(0);
    if (!d->is_dir) return wasitls__err_code(call, result, wasitls__errno_fs(ENOTDIR));
    /* A fresh open file description: the listing position is the stream's own. */
    int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fs_err(call, result, -errno);
    dir_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = fdopendir(fd))) {
        int e = errno;
        close(fd);
        free(s);
        return fs_err(call, result, -e);
    }
    wasitls_cval v = wasitls_cv_own(s);
    return wasitls__ok(call, result, &v);
}

/* read-directory-entry: func() -> result<option<directory-entry>, error-code>; */
static int ds_read_entry(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    NARGS(1);
    dir_stream *s = ARG_REP(0);
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(s->dir);
        if (!de) {
            if (errno) return fs_err(call, result, -errno);
            wasitls_cval none = cv_none();
            return wasitls__ok(call, result, &none);
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        uint32_t type;
        switch (de->d_type) {
        case DT_REG:
            type = DT_T_REGULAR;
            break;
        case DT_DIR:
            type = DT_T_DIR;
            break;
        case DT_LNK:
            type = DT_T_SYMLINK;
            break;
        case DT_CHR:
            type = DT_T_CHAR;
            break;
        case DT_BLK:
            type = DT_T_BLOCK;
            break;
        case DT_FIFO:
            type = DT_T_FIFO;
            break;
        case DT_SOCK:
            type = DT_T_SOCKET;
            break;
        default: {
            struct stat st;
            type = fstatat(dirfd(s->dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
                       ? mode_type(st.st_mode)
                       : DT_T_UNKNOWN;
        }
        }
        size_t nl = strlen(de->d_name);
        /* WIT strings are Unicode; a name that is not UTF-8 cannot cross */
        if (!wasitls_utf8_valid((const uint8_t *)de->d_name, nl))
            return wasitls__err_code(call, result, wasitls__errno_fs(EILSEQ));
        char *name = wasitls_ccall_alloc(call, nl + 1);
        if (!name) return WASITLS_E_NOMEM;
        memcpy(name, de->d_name, nl + 1);
        wasitls_cval ent, opt;
        wasitls_cval *f = wasitls__aggregate(call, &ent, WASITLS_CV_RECORD, 2);
        if (!f) return WASITLS_E_NOMEM;
        f[0] = cv_enum(type);
        f[1] = cv_str(name, nl);
        if (wasitls__some(call, &opt, ent)) return WASITLS_E_NOMEM;
        return wasitls__ok(call, result, &opt);
    }
}

/* The guest path argument i as a C string; on failure the result is already set. */
#define PATH_ARG(var, i)                                                                           \
    char *var;                                                                                     \
    do {                                                                                           \
        int prc_ = guest_path(call, &args[i], &var);                                               \
        if (prc_) return fs_err(call, result, prc_);                                               \
    } while (0)

#define NEED_MUTATE(d)                                                                             \
    do {                                                                                           \
        if (!((d)->flags & DF_MUTATE)) return wasitls__err_code(call, result, FE_NOT_PERMITTED);   \
    } while (0)

/* create-directory-at: func(path: string) -> result<_, error-code>; */
static int d_create_directory_at(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                 size_t nargs, wasitls_cval *result)
{
    NARGS(2);
    fs_desc *d = DESC(0);
    NEED_MUTATE(d);
    PATH_ARG(path, 1);
    int pfd;
    const char *base;
    int r = open_parent(d->fd, path, &pfd, &base);
    if (r == -EINVAL) r = -EEXIST; /* "." and ".." exist */
    if (r) return fs_err(call, result, r);
    r = mkdirat(pfd, base, 0777) ? -errno : 0;
    close_parent(pfd, d->fd);
    return r ? fs_err(call, result, r) : fs_ok(call, result);
}

/* stat: func() -> result<descriptor-stat, error-code>; */
static int d_stat(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                  wasitls_cval *result)
{
    NARGS(1);
    struct stat st;
    if (fstat(DESC(0)->fd, &st)) return fs_err(call, result, -errno);
    return stat_result(call, result, &st);
}

/* stat-at: func(path-flags: path-flags, path: string) -> result<descriptor-stat, error-code>; */
static int d_stat_at(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                     wasitls_cval *result)
{
    NARGS(3);
    fs_desc *d = DESC(0);
    PATH_ARG(path, 2);
    int fd = open_beneath(d->fd, path, O_PATH, 0, args[1].of.flags & 1);
    if (fd < 0) return fs_err(call, result, fd);
    struct stat st;
    int r = fstat(fd, &st) ? -errno : 0;
    close(fd);
    return r ? fs_err(call, result, r) : stat_result(call, result, &st);
}

/* set-times-at: func(path-flags: path-flags, path: string, data-access-timestamp: new-timestamp,
 *                    data-modification-timestamp: new-timestamp) -> result<_, error-code>; */
static int d_set_times_at(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                          wasitls_cval *result)
{
    NARGS(5);
    fs_desc *d = DESC(0);
    PATH_ARG(path, 2);
    struct timespec ts[2];
    new_ts(&args[3], &ts[0]);
    new_ts(&args[4], &ts[1]);
    if (!ts_valid(&ts[0]) || !ts_valid(&ts[1])) return wasitls__err_code(call, result, FE_INVALID);
    int r;
    if (args[1].of.flags & 1) {
        int fd = open_beneath(d->fd, path, O_PATH, 0, true);
        if (fd < 0) return fs_err(call, result, fd);
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        r = utimensat(AT_FDCWD, proc, ts, 0) ? -errno : 0;
        close(fd);
    } else {
        int pfd;
        const char *base;
        r = open_parent(d->fd, path, &pfd, &base);
        if (r) return fs_err(call, result, r);
        r = utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
        close_parent(pfd, d->fd);
    }
    return r ? fs_err(call, result, r) : fs_ok(call, result);
}

/* link-at: func(old-path-flags: path-flags, old-path: string, new-descriptor: borrow<descriptor>,
 *               new-path: string) -> result<_, error-code>; */
static int d_link_at(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                     wasitls_cval *result)
{
    NARGS(5);
    fs_desc *d = DESC(0), *nd = DESC(3);
    NEED_MUTATE(nd);
    if (args[1].of.flags & 1)
        return wasitls__err_code(call, result, FE_INVALID); /* linking through a symlink */
    PATH_ARG(oldp, 2);
    PATH_ARG(newp, 4);
    int opfd, npfd;
    const char *ob, *nb;
    int r = open_parent(d->fd, oldp, &opfd, &ob);
    if (r) return fs_err(call, result, r);
    r = open_parent(nd->fd, newp, &npfd, &nb);
    if (r) {
        close_parent(opfd, d->fd);
        return fs_err(call, result, r);
    }
    r = linkat(opfd, ob, npfd, nb, 0) ? -errno : 0;
    close_parent(opfd, d->fd);
    close_parent(npfd, nd->fd);
    return r ? fs_err(call, result, r) : fs_ok(call, result);
}

/* open-at: func(path-flags: path-flags, path: string, open-flags: open-flags,
 *               %flags: descriptor-flags) -> result<descriptor, error-code>; */
static int d_open_at(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                     wasitls_cval *result)
{
    NARGS(5);
    fs_desc *d = DESC(0);
    if (!d->is_dir) return wasitls__err_code(call, result, wasitls__errno_fs(ENOTDIR));
    PATH_ARG(path, 2);
    uint64_t of = args[3].of.flags, df = args[4].of.flags;
    /* A child never gets more than its directory had. */
    if ((df & DF_MUTATE) && !(d->flags & DF_MUTATE))
        return wasitls__err_code(call, result, FE_NOT_PERMITTED);
    if ((df & DF_WRITE || of & (OF_CREATE | OF_TRUNCATE)) && !(d->flags & DF_MUTATE))
        return wasitls__err_code(call, result, FE_NOT_PERMITTED);
    int oflags = (df & DF_WRITE) ? ((df & DF_READ) ? O_RDWR : O_WRONLY) : O_RDONLY;
    if (of & OF_CREATE) oflags |= O_CREAT;
    if (of & OF_DIRECTORY) oflags |= O_DIRECTORY;
    if (of & OF_EXCLUSIVE) oflags |= O_EXCL;
    if (of & OF_TRUNCATE) oflags |= O_TRUNC;
    if (df & DF_FILE_SYNC) oflags |= O_SYNC;
    if (df & DF_DATA_SYNC) oflags |= O_DSYNC;
    if (df & DF_RSYNC) oflags |= O_RSYNC;
    if ((of & OF_DIRECTORY) && (df & DF_WRITE))
        return wasitls__err_code(call, result, FE_IS_DIRECTORY);
    int fd = open_beneath(d->fd, path, oflags, 0666, args[1].of.flags & 1);
    if (fd < 0) return fs_err(call, result, fd);
    fs_desc *nd = desc_new(fd, df);
    if (!nd) {
        close(fd);
        return WASITLS_E_NOMEM;
    }
    /* Directories opened for reading keep the mutate permission they asked for. */
    wasitls_cval v = wasitls_cv_own(nd);
    return wasitls__ok(call, result, &v);
}

/* readlink-at: func(path: string) -> result<string, error-code>; */
static int d_readlink_at(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    NARGS(2);
    fs_desc *d = DESC(0);
    PATH_ARG(path, 1);
    int pfd;
    const char *base;
    int r = open_parent(d->fd, path, &pfd, &base);
    if (r) return fs_err(call, result, r);
    char *buf = wasitls_ccall_alloc(call, PATH_MAX + 1);
    if (!buf) {
        close_parent(pfd, d->fd);
        return WASITLS_E_NOMEM;
    }
    ssize_t n = readlinkat(pfd, base, buf, PATH_MAX);
    r = n < 0 ? -errno : 0;
    close_parent(pfd, d->fd);
    if (r) return fs_err(call, result, r);
    if (!wasitls_utf8_valid((const uint8_t *)buf, (size_t)n))
        return wasitls__err_code(call, result, wasitls__errno_fs(EILSEQ));
    wasitls_cval v = cv_str(buf, (size_t)n);
    return wasitls__ok(call, result, &v);
}

static int entry_op(wasitls_ccall *call, fs_desc *d, const wasitls_cval *arg, int flags,
                    wasitls_cval *result)
{
    char *path;
    int rc = guest_path(call, arg, &path);
    if (rc) return fs_err(call, result, rc);
    int pfd;
    const char *base;
    int r = open_parent(d->fd, path, &pfd, &base);
    if (r) return fs_err(call, result, r);
    r = unlinkat(pfd, base, flags) ? -errno : 0;
    close_parent(pfd, d->fd);
    return r ? fs_err(call, result, r) : fs_ok(call, result);
}

/* remove-directory-at: func(path: string) -> result<_, error-code>; */
static int d_remove_directory_at(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                 size_t nargs, wasitls_cval *result)
{
    NARGS(2);
    NEED_MUTATE(DESC(0));
    return entry_op(call, DESC(0), &args[1], AT_REMOVEDIR, result);
}

/* unlink-file-at: func(path: string) -> result<_, error-code>; */
static int d_unlink_file_at(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                            wasitls_cval *result)
{
    NARGS(2);
    NEED_MUTATE(DESC(0));
    return entry_op(call, DESC(0), &args[1], 0, result);
}

/* rename-at: func(old-path: string, new-descriptor: borrow<descriptor>, new-path: string)
 *            -> result<_, error-code>; */
static int d_rename_at(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                       wasitls_cval *result)
{
    NARGS(4);
    fs_desc *d = DESC(0), *nd = DESC(2);
    NEED_MUTATE(d);
    NEED_MUTATE(nd);
    PATH_ARG(oldp, 1);
    PATH_ARG(newp, 3);
    int opfd, npfd;
    const char *ob, *nb;
    int r = open_parent(d->fd, oldp, &opfd, &ob);
    if (r) return fs_err(call, result, r);
    r = open_parent(nd->fd, newp, &npfd, &nb);
    if (r) {
        close_parent(opfd, d->fd);
        return fs_err(call, result, r);
    }
    r = renameat(opfd, ob, npfd, nb) ? -errno : 0;
    close_parent(opfd, d->fd);
    close_parent(npfd, nd->fd);
    return r ? fs_err(call, result, r) : fs_ok(call, result);
}

/* symlink-at: func(old-path: string, new-path: string) -> result<_, error-code>; */
static int d_symlink_at(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                        wasitls_cval *result)
{
    NARGS(3);
    fs_desc *d = DESC(0);
    NEED_MUTATE(d);
    PATH_ARG(target, 1);
    PATH_ARG(newp, 2);
    if (target[0] == '/') return wasitls__err_code(call, result, FE_NOT_PERMITTED);
    int pfd;
    const char *base;
    int r = open_parent(d->fd, newp, &pfd, &base);
    if (r) return fs_err(call, result, r);
    r = symlinkat(target, pfd, base) ? -errno : 0;
    close_parent(pfd, d->fd);
    return r ? fs_err(call, result, r) : fs_ok(call, result);
}

/* is-same-object: func(other: borrow<descriptor>) -> bool; */
static int d_is_same_object(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                            wasitls_cval *result)
{
    NARGS(2);
    struct stat a, b;
    bool same = fstat(DESC(0)->fd, &a) == 0 && fstat(DESC(1)->fd, &b) == 0 &&
                a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    *result = wasitls_cv_bool(same);
    return 0;
}

/* metadata-hash: func() -> result<metadata-hash-value, error-code>; */
static int d_metadata_hash(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                           wasitls_cval *result)
{
    NARGS(1);
    struct stat st;
    if (fstat(DESC(0)->fd, &st)) return fs_err(call, result, -errno);
    return hash_result(call, result, &st);
}

/* metadata-hash-at: func(path-flags: path-flags, path: string)
 *                   -> result<metadata-hash-value, error-code>; */
static int d_metadata_hash_at(wasitls_ccall *call, void *env, const wasitls_cval *args,
                              size_t nargs, wasitls_cval *result)
{
    NARGS(3);
    PATH_ARG(path, 2);
    int fd = open_beneath(DESC(0)->fd, path, O_PATH, 0, args[1].of.flags & 1);
    if (fd < 0) return fs_err(call, result, fd);
    struct stat st;
    int r = fstat(fd, &st) ? -errno : 0;
    close(fd);
    return r ? fs_err(call, result, r) : hash_result(call, result, &st);
}

/* filesystem-error-code: func(err: borrow<error>) -> option<error-code>; */
static int fs_error_code(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    NARGS(1);
    bool is_file;
    int e = wasitls__ioerr_os_errno(ARG_REP(0), &is_file);
    if (!is_file || !e) {
        *result = cv_none();
        return 0;
    }
    return wasitls__some(call, result, cv_enum(wasitls__errno_fs(e)));
}

/* preopens.get-directories: func() -> list<tuple<descriptor, string>>; */
static int get_directories(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                           wasitls_cval *result)
{
    wasitls_wasi *w = env;
    wasitls_cval *items = wasitls_ccall_vals(call, w->npre ? w->npre : 1);
    if (!items) return WASITLS_E_NOMEM;
    size_t made = 0;
    for (size_t i = 0; i < w->npre; i++) {
        int fd = fcntl(w->pre[i].fd, F_DUPFD_CLOEXEC, 0);
        fs_desc *d = fd >= 0 ? desc_new(fd, DF_READ | DF_MUTATE) : NULL;
        wasitls_cval *t = d ? wasitls__aggregate(call, &items[i], WASITLS_CV_TUPLE, 2) : NULL;
        if (!t) {
            if (d)
                desc_dtor(NULL, d, NULL);
            else if (fd >= 0)
                close(fd);
            for (size_t j = 0; j < made; j++)
                desc_dtor(NULL, items[j].of.list.items[0].of.res.rep, NULL);
            return WASITLS_E_NOMEM;
        }
        t[0] = wasitls_cv_own(d);
        t[1] = cv_str(w->pre[i].guest_path, strlen(w->pre[i].guest_path));
        made++;
    }
    *result = cv_kind(WASITLS_CV_LIST);
    result->of.list.items = items;
    result->of.list.len = w->npre;
    return 0;
}

#define T "wasi:filesystem/types"
static const wasitls__hres fs_res[] = {
    {T, "descriptor", desc_dtor},
    {T, "directory-entry-stream", dirstream_dtor},
};

static const wasitls__hfunc fs_funcs[] = {
    {T, "[method]descriptor.read-via-stream", d_read_via_stream},
    {T, "[method]descriptor.write-via-stream", d_write_via_stream},
    {T, "[method]descriptor.append-via-stream", d_append_via_stream},
    {T, "[method]descriptor.advise", d_advise},
    {T, "[method]descriptor.sync-data", d_sync_data},
    {T, "[method]descriptor.get-flags", d_get_flags},
    {T, "[method]descriptor.get-type", d_get_type},
    {T, "[method]descriptor.set-size", d_set_size},
    {T, "[method]descriptor.set-times", d_set_times},
    {T, "[method]descriptor.read", d_read},
    {T, "[method]descriptor.write", d_write},
    {T, "[method]descriptor.read-directory", d_read_directory},
    {T, "[method]descriptor.sync", d_sync},
    {T, "[method]descriptor.create-directory-at", d_create_directory_at},
    {T, "[method]descriptor.stat", d_stat},
    {T, "[method]descriptor.stat-at", d_stat_at},
    {T, "[method]descriptor.set-times-at", d_set_times_at},
    {T, "[method]descriptor.link-at", d_link_at},
    {T, "[method]descriptor.open-at", d_open_at},
    {T, "[method]descriptor.readlink-at", d_readlink_at},
    {T, "[method]descriptor.remove-directory-at", d_remove_directory_at},
    {T, "[method]descriptor.rename-at", d_rename_at},
    {T, "[method]descriptor.symlink-at", d_symlink_at},
    {T, "[method]descriptor.unlink-file-at", d_unlink_file_at},
    {T, "[method]descriptor.is-same-object", d_is_same_object},
    {T, "[method]descriptor.metadata-hash", d_metadata_hash},
    {T, "[method]descriptor.metadata-hash-at", d_metadata_hash_at},
    {T, "[method]directory-entry-stream.read-directory-entry", ds_read_entry},
    {T, "filesystem-error-code", fs_error_code},
    {"wasi:filesystem/preopens", "get-directories", get_directories},
};
#undef T

int wasitls__fs_register(wasitls_wasi *w, wasitls_linker *l, wasitls_error *err)
{
    return wasitls__register(w, l, fs_funcs, sizeof fs_funcs / sizeof fs_funcs[0], fs_res,
                             sizeof fs_res / sizeof fs_res[0], err);
}

/* For tests: resolve a path beneath dirfd the way the guest's paths are. */
int wasitls__fs_open_beneath(int dirfd, const char *path, int oflags, bool follow)
{
    return open_beneath(dirfd, path, oflags, 0666, follow);
}
