/* Streams over file descriptors: sockets, pipes, terminals, stdio, regular files.
 *
 * Reading and writing never block the event loop. How that is achieved depends on the fd:
 *   socket    recv/send with MSG_DONTWAIT (and MSG_NOSIGNAL), whatever O_NONBLOCK says;
 *   nonblock  an fd with O_NONBLOCK (set here when the caller gave the fd up);
 *   gated     a borrowed blocking pipe/tty (the host's stdio, shared with other processes, so
 *             O_NONBLOCK must not be flipped): read only after poll says POLLIN, write at most
 *             PIPE_BUF bytes after POLLOUT, which the kernel then accepts without blocking;
 *   regular   files and block devices never report EAGAIN; they are always ready.
 *
 * Output goes through a bounded buffer so that `write` can accept everything check-write
 * promised even when the kernel takes only part of it; the rest drains as the fd allows.
 * Errors follow wasi:io: the first failure is reported once (last-operation-failed), then the
 * stream is closed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdstream.h"
#include "internal.h"

enum { K_SOCKET, K_NONBLOCK, K_GATED, K_REGULAR };
enum { S_OPEN, S_FAILED, S_CLOSED };

/* What check-write grants on an empty stream (and the most it buffers): more than 64 KiB, so
 * that the records of a 64 KiB TLS write (64 KiB plus the record overheads) go out in one send. */
#define OBUF_CAP (128 * 1024)

static int classify(int fd, bool borrowed)
{
    struct stat st;
    if (fstat(fd, &st) == 0) {
        if (S_ISSOCK(st.st_mode)) return K_SOCKET;
        if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) return K_REGULAR;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) return K_NONBLOCK;
    if (!borrowed && fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0) return K_NONBLOCK;
    return K_GATED;
}

/* ---- input ---- */

typedef struct {
    wasitls_istream base;
    int fd;
    bool borrowed;
    uint8_t kind;
    uint8_t state;
    int fail_code;
    wasitls_ioerr *fail;
    void (*release)(void *ctx);
    void *ctx;
} fd_istream;

static int64_t take_failure(uint8_t *state, int *code, wasitls_ioerr **fail, wasitls_ioerr **err)
{
    *state = S_CLOSED;
    if (err)
        *err = *fail;
    else
        wasitls_ioerr_free(*fail);
    *fail = NULL;
    return *code;
}

static int64_t fdi_read(wasitls_istream *base, uint8_t *buf, size_t len, wasitls_ioerr **err)
{
    fd_istream *s = (fd_istream *)base;
    if (s->state == S_CLOSED) return WASITLS_E_CLOSED;
    if (s->state == S_FAILED) return take_failure(&s->state, &s->fail_code, &s->fail, err);
    if (len == 0) return 0;
    if (s->kind == K_GATED && !wasitls__fd_revents(s->fd, POLLIN)) return 0;
    if (len > SSIZE_MAX) len = SSIZE_MAX;
    for (;;) {
        ssize_t n =
            s->kind == K_SOCKET ? recv(s->fd, buf, len, MSG_DONTWAIT) : read(s->fd, buf, len);
        if (n > 0) return n;
        if (n == 0) {
            s->state = S_CLOSED;
            return WASITLS_E_CLOSED;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        int e = errno;
        s->state = S_CLOSED;
        if (err) *err = wasitls__ioerr_errno(e, s->kind == K_SOCKET, "read");
        return wasitls__errno_code(e) == WASITLS_E_CLOSED ? WASITLS_E_IO : wasitls__errno_code(e);
    }
}

static bool fdi_ready(wasitls_istream *base)
{
    fd_istream *s = (fd_istream *)base;
    if (s->state != S_OPEN || s->kind == K_REGULAR) return true;
    return wasitls__fd_revents(s->fd, POLLIN) != 0;
}

static void fdi_wait_on(wasitls_istream *base, wasitls_waitset *ws)
{
    fd_istream *s = (fd_istream *)base;
    if (s->state != S_OPEN || s->kind == K_REGULAR)
        wasitls_waitset_now(ws);
    else
        wasitls_waitset_fd(ws, s->fd, POLLIN);
}

static void fdi_destroy(wasitls_istream *base)
{
    fd_istream *s = (fd_istream *)base;
    wasitls_ioerr_free(s->fail);
    if (!s->borrowed) wasitls__fd_close(s->fd);
    if (s->release) s->release(s->ctx);
    free(s);
}

static const wasitls_istream_ops fdi_ops = {
    .version = WASITLS_IO_OPS_VERSION,
    .read = fdi_read,
    .ready = fdi_ready,
    .wait_on = fdi_wait_on,
    .destroy = fdi_destroy,
};

wasitls_istream *wasitls__istream_fd_ex(int fd, bool borrowed, void (*release)(void *ctx),
                                        void *ctx)
{
    if (fd < 0) return NULL;
    fd_istream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.ops = &fdi_ops;
    s->fd = fd;
    s->borrowed = borrowed;
    s->kind = (uint8_t)classify(fd, borrowed);
    s->release = release;
    s->ctx = ctx;
    return &s->base;
}

wasitls_istream *wasitls_istream_fd(int fd, bool borrowed)
{
    return wasitls__istream_fd_ex(fd, borrowed, NULL, NULL);
}

/* ---- output ---- */

typedef struct {
    wasitls_ostream base;
    int fd;
    bool borrowed;
    uint8_t kind;
    uint8_t state;
    bool flushing;
    int fail_code;
    wasitls_ioerr *fail;
    uint8_t *buf; /* OBUF_CAP bytes, allocated on first need */
    size_t off, len;
    void (*release)(void *ctx);
    void *ctx;
    wasitls_bg_writer bg; /* listed while buf holds bytes: they drain while the guest waits */
} fd_ostream;

static void fdo_set_failed(fd_ostream *s, int e)
{
    s->off = s->len = 0;
    s->flushing = false;
    if (e == EPIPE) {
        /* The reader went away: wasi:io's `closed`, not a failure. */
        s->state = S_CLOSED;
        return;
    }
    s->state = S_FAILED;
    int code = wasitls__errno_code(e);
    s->fail_code = code == WASITLS_E_CLOSED ? WASITLS_E_IO : code;
    s->fail = wasitls__ioerr_errno(e, s->kind == K_SOCKET, "write");
}

/* Writes from p (n bytes) as far as the fd takes without blocking. Returns bytes taken, or -1
 * with the stream marked failed/closed. */
static ssize_t fdo_push(fd_ostream *s, const uint8_t *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done;
        if (s->kind == K_GATED) {
            short re = wasitls__fd_revents(s->fd, POLLOUT);
            if (!(re & (POLLOUT | POLLERR | POLLHUP | POLLNVAL)))
                break; /* (an invalid fd goes on to fail in write) */
            if (chunk > PIPE_BUF) chunk = PIPE_BUF;
        }
        if (chunk > SSIZE_MAX) chunk = SSIZE_MAX;
        ssize_t w = s->kind == K_SOCKET ? send(s->fd, p + done, chunk, MSG_DONTWAIT | MSG_NOSIGNAL)
                                        : write(s->fd, p + done, chunk);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        fdo_set_failed(s, w < 0 ? errno : EIO);
        return -1;
    }
    return (ssize_t)done;
}

/* Pushes buffered bytes as far as the fd takes them; true when none is left to push (drained,
 * or the stream failed), and the stream is then no background writer any more. */
static bool fdo_drain(fd_ostream *s)
{
    ssize_t w = s->state == S_OPEN && s->len ? fdo_push(s, s->buf + s->off, s->len) : 0;
    if (w > 0) {
        s->off += (size_t)w;
        s->len -= (size_t)w;
        if (s->len == 0) {
            s->off = 0;
            s->flushing = false;
        }
    }
    bool done = s->state != S_OPEN || s->len == 0;
    if (done) wasitls_bg_writer_remove(&s->bg);
    return done;
}

static bool fdo_bg_progress(wasitls_bg_writer *w)
{
    return fdo_drain(WASITLS_BG_OWNER(w, fd_ostream));
}

static void fdo_wait_on(wasitls_ostream *base, wasitls_waitset *ws);

static void fdo_bg_wait_on(wasitls_bg_writer *w, wasitls_waitset *ws)
{
    fdo_wait_on(&WASITLS_BG_OWNER(w, fd_ostream)->base, ws);
}

static int64_t fdo_status(fd_ostream *s, wasitls_ioerr **err)
{
    if (s->state == S_CLOSED) return WASITLS_E_CLOSED;
    return take_failure(&s->state, &s->fail_code, &s->fail, err);
}

static int64_t fdo_check_write(wasitls_ostream *base, wasitls_ioerr **err)
{
    fd_ostream *s = (fd_ostream *)base;
    fdo_drain(s);
    if (s->state != S_OPEN) return fdo_status(s, err);
    if (s->flushing) return 0;
    return (int64_t)(OBUF_CAP - s->len);
}

static int fdo_write(wasitls_ostream *base, const uint8_t *p, size_t n, wasitls_ioerr **err)
{
    fd_ostream *s = (fd_ostream *)base;
    if (s->state != S_OPEN) return (int)fdo_status(s, err);
    if (n == 0) return 0;
    if (s->flushing || n > OBUF_CAP - s->len)
        return WASITLS_E_INVAL; /* more than check-write permitted */
    if (s->len == 0) {
        ssize_t w = fdo_push(s, p, n);
        if (w < 0) return 0; /* reported by the next check-write, as wasi:io prescribes */
        p += w;
        n -= (size_t)w;
        if (n == 0) return 0;
    }
    if (!s->buf) {
        s->buf = malloc(OBUF_CAP);
        if (!s->buf) return WASITLS_E_NOMEM;
    }
    if (s->off + s->len + n > OBUF_CAP) {
        memmove(s->buf, s->buf + s->off, s->len);
        s->off = 0;
    }
    memcpy(s->buf + s->off + s->len, p, n);
    s->len += n;
    wasitls_bg_writer_add(&s->bg);
    return 0;
}

static int fdo_flush(wasitls_ostream *base, wasitls_ioerr **err)
{
    fd_ostream *s = (fd_ostream *)base;
    if (s->state != S_OPEN) return (int)fdo_status(s, err);
    if (s->len) s->flushing = true;
    fdo_drain(s);
    return 0;
}

static bool fdo_ready(wasitls_ostream *base)
{
    fd_ostream *s = (fd_ostream *)base;
    fdo_drain(s);
    if (s->state != S_OPEN || s->len == 0) return true;
    return !s->flushing && s->len < OBUF_CAP;
}

static void fdo_wait_on(wasitls_ostream *base, wasitls_waitset *ws)
{
    fd_ostream *s = (fd_ostream *)base;
    if (s->state != S_OPEN || s->kind == K_REGULAR)
        wasitls_waitset_now(ws);
    else
        wasitls_waitset_fd(ws, s->fd, POLLOUT);
}

/* How long dropping a borrowed (stdio) stream waits for its buffered output to drain. */
#define STDIO_DRAIN_MS 30000

static void fdo_destroy(wasitls_ostream *base)
{
    fd_ostream *s = (fd_ostream *)base;
    fdo_drain(s);
    /* Output the guest wrote to the host's stdout/stderr without flushing must still arrive
     * (the guest may exit right after); a socket's owner decides for itself. */
    uint64_t give_up = wasitls_now_ns() + (uint64_t)STDIO_DRAIN_MS * 1000000u;
    while (s->borrowed && s->kind != K_SOCKET && s->state == S_OPEN && s->len &&
           wasitls_now_ns() < give_up) {
        struct pollfd p = {.fd = s->fd, .events = POLLOUT};
        if (poll(&p, 1, 100) < 0 && errno != EINTR) break;
        fdo_drain(s);
    }
    wasitls_bg_writer_remove(&s->bg);
    wasitls_ioerr_free(s->fail);
    free(s->buf);
    if (!s->borrowed) wasitls__fd_close(s->fd);
    if (s->release) s->release(s->ctx);
    free(s);
}

static const wasitls_ostream_ops fdo_ops = {
    .version = WASITLS_IO_OPS_VERSION,
    .check_write = fdo_check_write,
    .write = fdo_write,
    .flush = fdo_flush,
    .ready = fdo_ready,
    .wait_on = fdo_wait_on,
    .destroy = fdo_destroy,
};

wasitls_ostream *wasitls__ostream_fd_ex(int fd, bool borrowed, void (*release)(void *ctx),
                                        void *ctx)
{
    if (fd < 0) return NULL;
    fd_ostream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.ops = &fdo_ops;
    s->bg.progress = fdo_bg_progress;
    s->bg.wait_on = fdo_bg_wait_on;
    s->fd = fd;
    s->borrowed = borrowed;
    s->kind = (uint8_t)classify(fd, borrowed);
    s->release = release;
    s->ctx = ctx;
    if (s->kind != K_SOCKET) {
        /* A write to a pipe whose reader left must become a stream error, not kill the host. */
        struct sigaction sa;
        if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL &&
            !(sa.sa_flags & SA_SIGINFO))
            signal(SIGPIPE, SIG_IGN);
    }
    return &s->base;
}

wasitls_ostream *wasitls_ostream_fd(int fd, bool borrowed)
{
    return wasitls__ostream_fd_ex(fd, borrowed, NULL, NULL);
}

size_t wasitls__ostream_fd_pending(wasitls_ostream *base)
{
    return ((fd_ostream *)base)->len;
}
