/* The event loop and the generic parts of the host stream/pollable API: stream errors,
 * waitsets, wasitls_poll, deadline and child pollables, the blocking helpers.
 *
 * wasitls_poll checks every pollable, and only when none is ready waits on the union of what
 * they name. Small sets wait with ppoll(2); large ones with a per-thread epoll instance that
 * persists between calls, so a guest polling the same thousand sockets again and again costs
 * epoll_ctl calls only for what changed. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "wasitls/io.h"

/* ---- errors ---- */

struct wasitls_ioerr {
    int code;
    uint32_t socket_code;
    int os_errno; /* 0 when not from a system call */
    bool is_file; /* from a file stream: filesystem-error-code answers */
    char msg[];
};

wasitls_ioerr *wasitls_ioerr_new(int code, uint32_t socket_code, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = fmt ? vsnprintf(tmp, sizeof tmp, fmt, ap) : -1;
    va_end(ap);
    if (n < 0) n = snprintf(tmp, sizeof tmp, "%s", wasitls_strerror(code));
    size_t len = strlen(tmp);
    wasitls_ioerr *e = malloc(sizeof *e + len + 1);
    if (!e) return NULL;
    e->code = code;
    e->socket_code = socket_code;
    e->os_errno = 0;
    e->is_file = false;
    memcpy(e->msg, tmp, len + 1);
    return e;
}

void wasitls_ioerr_free(wasitls_ioerr *e)
{
    free(e);
}

int wasitls_ioerr_code(const wasitls_ioerr *e)
{
    return e ? e->code : WASITLS_E_IO;
}

uint32_t wasitls_ioerr_socket_code(const wasitls_ioerr *e)
{
    return e ? e->socket_code : 0;
}

const char *wasitls_ioerr_message(const wasitls_ioerr *e)
{
    return e ? e->msg : "input/output error";
}

int wasitls__errno_code(int e)
{
    switch (e) {
    case 0:
        return WASITLS_OK;
    case ENOMEM:
    case ENOBUFS:
        return WASITLS_E_NOMEM;
    case EINVAL:
    case EFAULT:
    case EDESTADDRREQ:
        return WASITLS_E_INVAL;
    case EMFILE:
    case ENFILE:
    case EFBIG:
    case ENAMETOOLONG:
    case EOVERFLOW:
        return WASITLS_E_LIMIT;
    case ENOTSUP:
    case ENOSYS:
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
        return WASITLS_E_UNSUPPORTED;
    case ENOENT:
        return WASITLS_E_NOTFOUND;
    case EAGAIN:
    case EINPROGRESS:
        return WASITLS_E_AGAIN;
    case ETIMEDOUT:
        return WASITLS_E_TIMEOUT;
    case EPIPE:
        return WASITLS_E_CLOSED;
    case EBUSY:
        return WASITLS_E_BUSY;
    case EACCES:
    case EPERM:
        return WASITLS_E_ACCESS;
    default:
        return WASITLS_E_IO;
    }
}

uint32_t wasitls__errno_sock(int e)
{
    switch (e) {
    case EACCES:
    case EPERM:
        return WASITLS__SE_ACCESS_DENIED;
    case ENOTSUP:
    case ENOPROTOOPT:
    case EPFNOSUPPORT:
    case EPROTONOSUPPORT:
    case ESOCKTNOSUPPORT:
    case ENOSYS:
        return WASITLS__SE_NOT_SUPPORTED;
    case EINVAL:
    case EFAULT:
    case EDESTADDRREQ:
    case EAFNOSUPPORT:
        return WASITLS__SE_INVALID_ARGUMENT;
    case ENOMEM:
    case ENOBUFS:
        return WASITLS__SE_OUT_OF_MEMORY;
    case ETIMEDOUT:
        return WASITLS__SE_TIMEOUT;
    case EALREADY:
        return WASITLS__SE_CONCURRENCY_CONFLICT;
    case EAGAIN:
    case EINPROGRESS:
        return WASITLS__SE_WOULD_BLOCK;
    case EISCONN:
    case ENOTCONN:
        return WASITLS__SE_INVALID_STATE;
    case EMFILE:
    case ENFILE:
        return WASITLS__SE_NEW_SOCKET_LIMIT;
    case EADDRNOTAVAIL:
        return WASITLS__SE_ADDRESS_NOT_BINDABLE;
    case EADDRINUSE:
        return WASITLS__SE_ADDRESS_IN_USE;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
        return WASITLS__SE_REMOTE_UNREACHABLE;
    case ECONNREFUSED:
        return WASITLS__SE_CONNECTION_REFUSED;
    case ECONNRESET:
    case EPIPE:
        return WASITLS__SE_CONNECTION_RESET;
    case ECONNABORTED:
        return WASITLS__SE_CONNECTION_ABORTED;
    case EMSGSIZE:
        return WASITLS__SE_DATAGRAM_TOO_LARGE;
    default:
        return WASITLS__SE_UNKNOWN;
    }
}

wasitls_ioerr *wasitls__ioerr_errno(int e, bool is_socket, const char *what)
{
    wasitls_ioerr *r =
        wasitls_ioerr_new(wasitls__errno_code(e), is_socket ? wasitls__errno_sock(e) + 1 : 0,
                          "%s: %s", what, strerror(e));
    if (r) r->os_errno = e;
    return r;
}

wasitls_ioerr *wasitls__ioerr_file(int e, const char *what)
{
    wasitls_ioerr *r = wasitls__ioerr_errno(e, false, what);
    if (r) r->is_file = true;
    return r;
}

int wasitls__ioerr_os_errno(const wasitls_ioerr *e, bool *is_file)
{
    *is_file = e && e->is_file;
    return e ? e->os_errno : 0;
}

/* ---- waitsets ---- */

struct wasitls_waitset {
    struct pollfd *fds;
    size_t n, cap;
    uint64_t deadline; /* UINT64_MAX: none */
    bool now;
    bool oom; /* an fd could not be recorded: wait briefly and look again */
};

void wasitls_waitset_fd(wasitls_waitset *ws, int fd, short events)
{
    if (fd < 0) return;
    if (ws->n == ws->cap) {
        size_t cap = ws->cap ? ws->cap * 2 : 16;
        struct pollfd *p = realloc(ws->fds, cap * sizeof *p);
        if (!p) {
            ws->oom = true;
            return;
        }
        ws->fds = p;
        ws->cap = cap;
    }
    ws->fds[ws->n].fd = fd;
    ws->fds[ws->n].events = events;
    ws->fds[ws->n].revents = 0;
    ws->n++;
}

void wasitls_waitset_deadline(wasitls_waitset *ws, uint64_t mono_ns)
{
    if (mono_ns < ws->deadline) ws->deadline = mono_ns;
}

void wasitls_waitset_now(wasitls_waitset *ws)
{
    ws->now = true;
}

uint64_t wasitls_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

short wasitls__fd_revents(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        int r = poll(&p, 1, 0);
        if (r >= 0) return r ? p.revents : 0;
        if (errno != EINTR) return POLLERR;
    }
}

/* ---- the persistent epoll set (large waits) ---- */

#define EPOLL_THRESHOLD 64

struct ep_slot {
    uint32_t reg;  /* events registered with the kernel; 0 = not registered */
    uint32_t want; /* events wanted by the wait being prepared */
};

static _Thread_local struct {
    bool inited;
    int epfd; /* -1 when epoll is unavailable */
    struct ep_slot *tab;
    size_t cap;
    int *regd; /* fds with reg != 0 (may hold stale entries with reg == 0) */
    size_t nregd, capregd;
    struct epoll_event *evs;
    size_t capevs;
} ep;

void wasitls__fd_close(int fd)
{
    if (fd < 0) return;
    if (ep.inited && ep.epfd >= 0 && (size_t)fd < ep.cap && ep.tab[fd].reg) {
        epoll_ctl(ep.epfd, EPOLL_CTL_DEL, fd, NULL);
        ep.tab[fd].reg = 0;
    }
    close(fd);
}

static uint32_t to_epoll(short ev)
{
    uint32_t r = 0;
    if (ev & POLLIN) r |= EPOLLIN;
    if (ev & POLLOUT) r |= EPOLLOUT;
    if (ev & POLLPRI) r |= EPOLLPRI;
    if (ev & POLLRDHUP) r |= EPOLLRDHUP;
    return r ? r : EPOLLERR;
}

static bool ep_grow(int maxfd)
{
    if ((size_t)maxfd < ep.cap) return true;
    size_t cap = ep.cap ? ep.cap : 256;
    while (cap <= (size_t)maxfd)
        cap *= 2;
    struct ep_slot *t = realloc(ep.tab, cap * sizeof *t);
    if (!t) return false;
    memset(t + ep.cap, 0, (cap - ep.cap) * sizeof *t);
    ep.tab = t;
    ep.cap = cap;
    return true;
}

static int ep_register(int fd, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.fd = fd};
    int op = ep.tab[fd].reg ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(ep.epfd, op, fd, &e) < 0) {
        /* The kernel forgot it (closed behind our back) or knows it already: flip the op. */
        if (errno == ENOENT && op == EPOLL_CTL_MOD)
            op = EPOLL_CTL_ADD;
        else if (errno == EEXIST && op == EPOLL_CTL_ADD)
            op = EPOLL_CTL_MOD;
        else
            return -errno;
        if (epoll_ctl(ep.epfd, op, fd, &e) < 0) return -errno;
    }
    if (!ep.tab[fd].reg) {
        if (ep.nregd == ep.capregd) {
            size_t cap = ep.capregd ? ep.capregd * 2 : 256;
            int *r = realloc(ep.regd, cap * sizeof *r);
            if (!r) {
                epoll_ctl(ep.epfd, EPOLL_CTL_DEL, fd, NULL);
                return -ENOMEM;
            }
            ep.regd = r;
            ep.capregd = cap;
        }
        ep.regd[ep.nregd++] = fd;
    }
    ep.tab[fd].reg = ev;
    return 0;
}

/* Waits with epoll for the fds of ws; returns 0 (woken or timed out), or a negative code when
 * epoll cannot be used (the caller falls back to poll). */
static int ep_wait(wasitls_waitset *ws, int timeout_ms, bool *force_now)
{
    if (!ep.inited) {
        ep.epfd = epoll_create1(EPOLL_CLOEXEC);
        ep.inited = true;
    }
    if (ep.epfd < 0) return WASITLS_E_UNSUPPORTED;
    int maxfd = -1;
    for (size_t i = 0; i < ws->n; i++)
        if (ws->fds[i].fd > maxfd) maxfd = ws->fds[i].fd;
    if (maxfd >= 0 && !ep_grow(maxfd)) return WASITLS_E_NOMEM;
    for (size_t i = 0; i < ws->n; i++)
        ep.tab[ws->fds[i].fd].want |= to_epoll(ws->fds[i].events);
    /* Drop what this wait does not want: level-triggered leftovers would wake us forever. */
    size_t k = 0;
    for (size_t i = 0; i < ep.nregd; i++) {
        int fd = ep.regd[i];
        if (!ep.tab[fd].reg) continue;
        if (!ep.tab[fd].want) {
            epoll_ctl(ep.epfd, EPOLL_CTL_DEL, fd, NULL);
            ep.tab[fd].reg = 0;
            continue;
        }
        ep.regd[k++] = fd;
    }
    ep.nregd = k;
    int rc = 0;
    for (size_t i = 0; i < ws->n; i++) {
        int fd = ws->fds[i].fd;
        uint32_t want = ep.tab[fd].want;
        if (!want) continue; /* a duplicate, already handled */
        ep.tab[fd].want = 0;
        if (ep.tab[fd].reg == want) continue;
        int r = ep_register(fd, want);
        if (r == -EPERM) {
            *force_now = true; /* regular files are always ready */
        } else if (r == -EBADF && !rc) {
            rc = WASITLS_E_INTERNAL; /* waiting on a closed fd would never end */
        } else if (r < 0 && !rc) {
            rc = wasitls__errno_code(-r);
        }
    }
    if (rc) {
        for (size_t i = 0; i < ws->n; i++)
            ep.tab[ws->fds[i].fd].want = 0;
        return rc;
    }
    if (*force_now) return 0;
    size_t want_evs = ws->n < 1024 ? (ws->n ? ws->n : 1) : 1024;
    if (ep.capevs < want_evs) {
        struct epoll_event *e = realloc(ep.evs, want_evs * sizeof *e);
        if (!e) return WASITLS_E_NOMEM;
        ep.evs = e;
        ep.capevs = want_evs;
    }
    int r = epoll_wait(ep.epfd, ep.evs, (int)want_evs, timeout_ms);
    if (r < 0 && errno != EINTR) return wasitls__errno_code(errno);
    return 0;
}

/* One wait on the union; returns 0 after something may have changed. */
static int wait_union(wasitls_waitset *ws)
{
    if (ws->now) return 0;
    if (ws->oom) {
        ws->deadline = wasitls_now_ns() + 1000000; /* 1 ms: retry without the lost fds */
    }
    if (ws->n == 0 && ws->deadline == UINT64_MAX)
        return WASITLS_E_INTERNAL; /* nothing can ever become ready: a deadlock */
    uint64_t now = wasitls_now_ns();
    if (ws->deadline <= now) return 0;
    if (ws->n > EPOLL_THRESHOLD) {
        int timeout_ms = -1;
        if (ws->deadline != UINT64_MAX) {
            uint64_t ms = (ws->deadline - now + 999999) / 1000000;
            timeout_ms = ms > INT32_MAX ? INT32_MAX : (int)ms;
        }
        bool force_now = false;
        int rc = ep_wait(ws, timeout_ms, &force_now);
        if (rc == 0 || rc == WASITLS_E_INTERNAL) return rc;
        /* epoll unavailable or out of memory: poll(2) below still works */
    }
    struct timespec ts, *tsp = NULL;
    if (ws->deadline != UINT64_MAX) {
        uint64_t d = ws->deadline - now;
        ts.tv_sec = (time_t)(d / 1000000000u);
        ts.tv_nsec = (long)(d % 1000000000u);
        tsp = &ts;
    }
    int r = ppoll(ws->fds, ws->n, tsp, NULL);
    if (r < 0 && errno != EINTR) return wasitls__errno_code(errno);
    for (size_t i = 0; r > 0 && i < ws->n; i++)
        if (ws->fds[i].revents & POLLNVAL)
            return WASITLS_E_INTERNAL; /* a closed fd: waiting again would spin forever */
    return 0;
}

static void waitset_reset(wasitls_waitset *ws)
{
    ws->n = 0;
    ws->deadline = UINT64_MAX;
    ws->now = false;
    ws->oom = false;
}

/* ---- pollables ---- */

void wasitls_pollable_free(wasitls_pollable *p)
{
    if (p) p->ops->destroy(p);
}

/* ---- background writers ---- */

static _Thread_local wasitls_bg_writer *bg_head;
static _Thread_local uint64_t bg_gen; /* changes with every add and remove */

void wasitls_bg_writer_add(wasitls_bg_writer *w)
{
    if (w->listed) return;
    w->prev = NULL;
    w->next = bg_head;
    if (bg_head) bg_head->prev = w;
    bg_head = w;
    w->listed = true;
    bg_gen++;
}

void wasitls_bg_writer_remove(wasitls_bg_writer *w)
{
    if (!w->listed) return;
    if (w->prev)
        w->prev->next = w->next;
    else
        bg_head = w->next;
    if (w->next) w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->listed = false;
    bg_gen++;
}

/* Lets every listed writer push what it can. A progress() may (un)list others, so the walk
 * starts over after a change; the bound only guards against writers that relist each other. */
static void bg_progress(void)
{
    for (int pass = 0; pass < 64; pass++) {
        uint64_t gen = bg_gen;
        wasitls_bg_writer *w = bg_head;
        while (w && gen == bg_gen) {
            wasitls_bg_writer *next = w->next;
            if (w->progress(w)) wasitls_bg_writer_remove(w);
            w = next;
        }
        if (gen == bg_gen) return;
    }
}

static void bg_wait_on(wasitls_waitset *ws)
{
    for (wasitls_bg_writer *w = bg_head; w; w = w->next)
        w->wait_on(w, ws);
}

int wasitls_poll(wasitls_pollable *const *ps, size_t n, uint32_t *ready_out, size_t *nready)
{
    *nready = 0;
    if (n == 0 || n > UINT32_MAX) return WASITLS_E_INVAL;
    wasitls_waitset ws = {0};
    int rc = 0;
    for (;;) {
        bg_progress();
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (ps[i]->ops->ready(ps[i])) ready_out[k++] = (uint32_t)i;
        if (k) {
            *nready = k;
            break;
        }
        waitset_reset(&ws);
        for (size_t i = 0; i < n; i++)
            ps[i]->ops->wait_on(ps[i], &ws);
        bg_wait_on(&ws);
        rc = wait_union(&ws);
        if (rc) break;
    }
    free(ws.fds);
    return rc;
}

int wasitls_pollable_block(wasitls_pollable *p)
{
    uint32_t idx;
    size_t n;
    return wasitls_poll(&p, 1, &idx, &n);
}

/* deadline */

typedef struct {
    wasitls_pollable base;
    uint64_t at;
} deadline_pollable;

static bool deadline_ready(wasitls_pollable *p)
{
    return wasitls_now_ns() >= ((deadline_pollable *)p)->at;
}

static void deadline_wait_on(wasitls_pollable *p, wasitls_waitset *ws)
{
    wasitls_waitset_deadline(ws, ((deadline_pollable *)p)->at);
}

static void plain_destroy(wasitls_pollable *p)
{
    free(p);
}

static const wasitls_pollable_ops deadline_ops = {
    .version = WASITLS_IO_OPS_VERSION,
    .ready = deadline_ready,
    .wait_on = deadline_wait_on,
    .destroy = plain_destroy,
};

wasitls_pollable *wasitls_pollable_deadline(uint64_t mono_ns)
{
    deadline_pollable *p = malloc(sizeof *p);
    if (!p) return NULL;
    p->base.ops = &deadline_ops;
    p->at = mono_ns;
    return &p->base;
}

/* child */

typedef struct {
    wasitls_pollable base;
    void *parent;
    uint32_t *children; /* NULL for the on-stack pollables of the blocking helpers */
    bool (*ready)(void *parent);
    void (*wait_on)(void *parent, wasitls_waitset *ws);
} child_pollable;

static bool child_ready(wasitls_pollable *p)
{
    child_pollable *c = (child_pollable *)p;
    return c->ready(c->parent);
}

static void child_wait_on(wasitls_pollable *p, wasitls_waitset *ws)
{
    child_pollable *c = (child_pollable *)p;
    c->wait_on(c->parent, ws);
}

static void child_destroy(wasitls_pollable *p)
{
    child_pollable *c = (child_pollable *)p;
    if (c->children && *c->children) --*c->children;
    free(c);
}

static const wasitls_pollable_ops child_ops = {
    .version = WASITLS_IO_OPS_VERSION,
    .ready = child_ready,
    .wait_on = child_wait_on,
    .destroy = child_destroy,
};

wasitls_pollable *wasitls_pollable_child(void *parent, uint32_t *children,
                                         bool (*ready)(void *parent),
                                         void (*wait_on)(void *parent, wasitls_waitset *ws))
{
    child_pollable *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->base.ops = &child_ops;
    c->parent = parent;
    c->children = children;
    c->ready = ready;
    c->wait_on = wait_on;
    if (children) ++*children;
    return &c->base;
}

/* ---- streams ---- */

static bool is_ready_i(void *s)
{
    return ((wasitls_istream *)s)->ops->ready(s);
}
static void wait_on_i(void *s, wasitls_waitset *ws)
{
    ((wasitls_istream *)s)->ops->wait_on(s, ws);
}
static bool is_ready_o(void *s)
{
    return ((wasitls_ostream *)s)->ops->ready(s);
}
static void wait_on_o(void *s, wasitls_waitset *ws)
{
    ((wasitls_ostream *)s)->ops->wait_on(s, ws);
}

int wasitls_istream_free(wasitls_istream *s)
{
    if (!s) return 0;
    if (s->children) return WASITLS_E_BUSY;
    s->ops->destroy(s);
    return 0;
}

int wasitls_ostream_free(wasitls_ostream *s)
{
    if (!s) return 0;
    if (s->children) return WASITLS_E_BUSY;
    s->ops->destroy(s);
    return 0;
}

wasitls_pollable *wasitls_istream_subscribe(wasitls_istream *s)
{
    return wasitls_pollable_child(s, &s->children, is_ready_i, wait_on_i);
}

wasitls_pollable *wasitls_ostream_subscribe(wasitls_ostream *s)
{
    return wasitls_pollable_child(s, &s->children, is_ready_o, wait_on_o);
}

static int block_on(void *parent, bool (*ready)(void *), void (*wait_on)(void *, wasitls_waitset *))
{
    child_pollable c = {
        .base.ops = &child_ops, .parent = parent, .ready = ready, .wait_on = wait_on};
    return wasitls_pollable_block(&c.base);
}

int64_t wasitls_istream_read_blocking(wasitls_istream *s, uint8_t *buf, size_t len,
                                      wasitls_ioerr **err)
{
    for (;;) {
        int64_t r = s->ops->read(s, buf, len, err);
        if (r != 0 || len == 0) return r;
        int rc = block_on(s, is_ready_i, wait_on_i);
        if (rc) return rc;
    }
}

int wasitls_ostream_write_all(wasitls_ostream *s, const uint8_t *buf, size_t len,
                              wasitls_ioerr **err)
{
    size_t off = 0;
    while (off < len) {
        int64_t room = s->ops->check_write(s, err);
        if (room < 0) return (int)room;
        if (room == 0) {
            int rc = block_on(s, is_ready_o, wait_on_o);
            if (rc) return rc;
            continue;
        }
        size_t k = len - off < (uint64_t)room ? len - off : (size_t)room;
        int rc = s->ops->write(s, buf + off, k, err);
        if (rc) return rc;
        off += k;
    }
    return 0;
}

int wasitls_ostream_flush_blocking(wasitls_ostream *s, wasitls_ioerr **err)
{
    int rc = s->ops->flush(s, err);
    if (rc) return rc;
    for (;;) {
        int64_t room = s->ops->check_write(s, err);
        if (room != 0) return room < 0 ? (int)room : 0;
        rc = block_on(s, is_ready_o, wait_on_o);
        if (rc) return rc;
    }
}
