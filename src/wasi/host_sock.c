/* wasi:sockets — network, instance-network, tcp, tcp-create-socket, udp, udp-create-socket,
 * ip-name-lookup — over non-blocking host sockets.
 *
 * Nothing is granted by default: without -S inherit-network, creating a socket returns
 * access-denied; without -S allow-ip-name-lookup, so does resolve-addresses. Calls made in the
 * wrong state of the WIT's state machine return the error code the WIT documents for them
 * (invalid-state, not-in-progress, concurrency-conflict, would-block) rather than trapping.
 *
 * Name lookups run on a thread each (getaddrinfo blocks); see resolve-addresses.
 *
 * A socket's fd is shared by the socket resource and the streams it hands out: it is closed
 * when the last of them goes, so a guest may drop the socket before its streams. Pollables made
 * by subscribe are children of the socket (dropping the socket first traps).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdstream.h"
#include "host.h"

enum {
    ST_UNBOUND,
    ST_BIND_STARTED,
    ST_BOUND,
    ST_LISTEN_STARTED,
    ST_LISTENING,
    ST_CONNECTING,
    ST_CONNECTED,
    ST_CLOSED, /* a connect failed: the socket is unusable */
};

typedef struct sock {
    int fd;
    int family; /* AF_INET or AF_INET6 */
    bool tcp;
    uint8_t state;
    bool connect_ready; /* connect() completed at once */
    bool udp_remote;    /* udp: stream() connected it */
    uint32_t children;  /* live pollables */
    int refs;           /* the resource + live streams */
    uint64_t backlog;
    uint64_t udp_permit; /* outgoing-datagram-stream: what check-send allowed */
    wasitls_wasi *w;
} sock;

typedef struct network {
    int unused;
} network;

#define SE(x) WASITLS__SE_##x

/* Closing a TCP socket whose receive queue holds unread bytes makes the kernel reset the
 * connection instead of ending it (RFC 2525 2.17), and drop what it had not sent yet: the tail
 * of what the guest wrote would never arrive. Guests that stop reading are common (a TLS 1.3
 * client that only writes never reads the server's session tickets), so what is unread now is
 * discarded first (the guest can no longer read it anyway), and the close is an ordinary FIN
 * after the data. Bounded: a peer that keeps sending still gets its reset. */
static void discard_unread(int fd)
{
    char buf[16384];
    for (int i = 0; i < 64; i++) {
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
    }
}

static void sock_unref(void *p)
{
    sock *s = p;
    if (--s->refs == 0) {
        if (s->tcp && s->state == ST_CONNECTED) discard_unread(s->fd);
        wasitls__fd_close(s->fd);
        free(s);
    }
}

static int sock_err(wasitls_ccall *call, wasitls_cval *result, uint32_t code)
{
    return wasitls__err_code(call, result, code);
}

static int sock_errno(wasitls_ccall *call, wasitls_cval *result, int e)
{
    return wasitls__err_code(call, result, wasitls__errno_sock(e));
}

static int ok_unit(wasitls_ccall *call, wasitls_cval *result)
{
    return wasitls__ok(call, result, NULL);
}

/* ---- addresses ---- */

static int sockaddr_from_cval(const wasitls_cval *v, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    const wasitls_cval *rec = v->of.var.payload;
    if (!rec) return -1;
    const wasitls_cval *f = rec->of.list.items;
    if (v->of.var.tag == 0) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)f[0].of.u);
        const wasitls_cval *o = f[1].of.list.items;
        uint8_t b[4];
        for (int i = 0; i < 4; i++)
            b[i] = (uint8_t)o[i].of.u;
        memcpy(&a->sin_addr, b, 4);
        *len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)f[0].of.u);
        a->sin6_flowinfo = htonl((uint32_t)f[1].of.u);
        const wasitls_cval *o = f[2].of.list.items;
        for (int i = 0; i < 8; i++) {
            uint16_t x = htons((uint16_t)o[i].of.u);
            memcpy(&a->sin6_addr.s6_addr[2 * i], &x, 2);
        }
        a->sin6_scope_id = (uint32_t)f[3].of.u;
        *len = sizeof *a;
    }
    return 0;
}

static int ip_cval(wasitls_ccall *call, wasitls_cval *out, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const uint8_t *b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        wasitls_cval *pl = wasitls_ccall_vals(call, 1);
        if (!pl) return WASITLS_E_NOMEM;
        wasitls_cval *t = wasitls__aggregate(call, pl, WASITLS_CV_TUPLE, 4);
        if (!t) return WASITLS_E_NOMEM;
        for (int i = 0; i < 4; i++)
            t[i] = wasitls_cv_u64(WASITLS_CV_U8, b[i]);
        *out = wasitls_cv_var(WASITLS_CV_VARIANT, 0, pl);
    } else {
        const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        wasitls_cval *pl = wasitls_ccall_vals(call, 1);
        if (!pl) return WASITLS_E_NOMEM;
        wasitls_cval *t = wasitls__aggregate(call, pl, WASITLS_CV_TUPLE, 8);
        if (!t) return WASITLS_E_NOMEM;
        for (int i = 0; i < 8; i++)
            t[i] = wasitls_cv_u64(WASITLS_CV_U16, (uint64_t)(b[2 * i] << 8 | b[2 * i + 1]));
        *out = wasitls_cv_var(WASITLS_CV_VARIANT, 1, pl);
    }
    return 0;
}

static int sockaddr_cval(wasitls_ccall *call, wasitls_cval *out, const struct sockaddr *sa)
{
    wasitls_cval ip;
    if (ip_cval(call, &ip, sa)) return WASITLS_E_NOMEM;
    wasitls_cval *pl = wasitls_ccall_vals(call, 1);
    if (!pl) return WASITLS_E_NOMEM;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        wasitls_cval *f = wasitls__aggregate(call, pl, WASITLS_CV_RECORD, 2);
        if (!f) return WASITLS_E_NOMEM;
        f[0] = wasitls_cv_u64(WASITLS_CV_U16, ntohs(a->sin_port));
        f[1] = *ip.of.var.payload;
        *out = wasitls_cv_var(WASITLS_CV_VARIANT, 0, pl);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        wasitls_cval *f = wasitls__aggregate(call, pl, WASITLS_CV_RECORD, 4);
        if (!f) return WASITLS_E_NOMEM;
        f[0] = wasitls_cv_u64(WASITLS_CV_U16, ntohs(a->sin6_port));
        f[1] = cv_u32(ntohl(a->sin6_flowinfo));
        f[2] = *ip.of.var.payload;
        f[3] = cv_u32(a->sin6_scope_id);
        *out = wasitls_cv_var(WASITLS_CV_VARIANT, 1, pl);
    }
    return 0;
}

static bool is_v4_mapped(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 &&
           IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static bool is_unspecified(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port)
                                    : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* Checks an address argument against the socket: same family, and no IPv4-mapped IPv6 (the
 * WIT keeps the families apart). Returns 0 or an error-code ordinal + 1. */
static uint32_t check_addr(const sock *s, const wasitls_cval *v, struct sockaddr_storage *ss,
                           socklen_t *len, bool remote)
{
    if (sockaddr_from_cval(v, ss, len)) return SE(INVALID_ARGUMENT) + 1;
    if (ss->ss_family != s->family || is_v4_mapped(ss)) return SE(INVALID_ARGUMENT) + 1;
    if (remote && (is_unspecified(ss) || port_of(ss) == 0)) return SE(INVALID_ARGUMENT) + 1;
    return 0;
}

/* ---- network ---- */

static int network_dtor(void *env, void *rep, wasitls_error *err)
{
    free(rep);
    return 0;
}

/* instance-network: func() -> network; */
static int instance_network(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                            wasitls_cval *result)
{
    network *n = calloc(1, sizeof *n);
    if (!n) return WASITLS_E_NOMEM;
    *result = wasitls_cv_own(n);
    return 0;
}

/* network-error-code: func(err: borrow<error>) -> option<error-code>; */
static int network_error_code(wasitls_ccall *call, void *env, const wasitls_cval *args,
                              size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    uint32_t c = wasitls_ioerr_socket_code(ARG_REP(0));
    if (!c) {
        *result = cv_none();
        return 0;
    }
    return wasitls__some(call, result, cv_enum(c - 1));
}

/* ---- socket creation ---- */

static sock *sock_new(wasitls_wasi *w, int fd, int family, bool tcp, uint8_t state)
{
    sock *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->fd = fd;
    s->family = family;
    s->tcp = tcp;
    s->state = state;
    s->refs = 1;
    s->backlog = 128;
    s->w = w;
    return s;
}

static int create_socket(wasitls_ccall *call, wasitls_wasi *w, const wasitls_cval *args,
                         size_t nargs, bool tcp, wasitls_cval *result)
{
    NARGS(1);
    if (!w->net) return sock_err(call, result, SE(ACCESS_DENIED));
    int family = args[0].of.var.tag == 0 ? AF_INET : AF_INET6;
    int fd = socket(family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return sock_errno(call, result, errno);
    if (family == AF_INET6) {
        int one = 1;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) {
            int e = errno;
            close(fd);
            return sock_errno(call, result, e);
        }
    }
    sock *s = sock_new(w, fd, family, tcp, ST_UNBOUND);
    if (!s) {
        close(fd);
        return WASITLS_E_NOMEM;
    }
    wasitls_cval v = wasitls_cv_own(s);
    return wasitls__ok(call, result, &v);
}

/* create-tcp-socket: func(address-family: ip-address-family) -> result<tcp-socket, error-code>; */
static int create_tcp_socket(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                             wasitls_cval *result)
{
    return create_socket(call, env, args, nargs, true, result);
}

/* create-udp-socket: func(address-family: ip-address-family) -> result<udp-socket, error-code>; */
static int create_udp_socket(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                             wasitls_cval *result)
{
    return create_socket(call, env, args, nargs, false, result);
}

static void sock_force_free(void *rep)
{
    sock *s = rep;
    s->children = 0;
    sock_unref(s);
}

static int sock_dtor(void *env, void *rep, wasitls_error *err)
{
    sock *s = rep;
    if (s->children) {
        wasitls__orphan_add(env, rep, sock_force_free);
        return wasitls_error_set(err, WASITLS_E_BUSY,
                                 "socket dropped while a pollable subscribed to it is alive");
    }
    wasitls__orphan_forget(env, rep);
    sock_unref(s);
    return 0;
}

#define SOCK(i) ((sock *)args[i].of.res.rep)

/* ---- bind (tcp and udp) ---- */

/* start-bind: func(network: borrow<network>, local-address: ip-socket-address)
 *             -> result<_, error-code>; */
static int start_bind(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                      wasitls_cval *result)
{
    NARGS(3);
    sock *s = SOCK(0);
    if (s->state != ST_UNBOUND) return sock_err(call, result, SE(INVALID_STATE));
    struct sockaddr_storage ss;
    socklen_t len;
    uint32_t bad = check_addr(s, &args[2], &ss, &len, false);
    if (bad) return sock_err(call, result, bad - 1);
    if (s->tcp) {
        /* Lets a server restart on its port while old connections sit in TIME_WAIT; it does
         * not allow two live listeners on one port on Linux. */
        int one = 1;
        setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (bind(s->fd, (struct sockaddr *)&ss, len) < 0) {
        int e = errno;
        return sock_err(call, result,
                        e == EADDRNOTAVAIL ? SE(ADDRESS_NOT_BINDABLE) : wasitls__errno_sock(e));
    }
    s->state = ST_BIND_STARTED;
    return ok_unit(call, result);
}

/* finish-bind: func() -> result<_, error-code>; */
static int finish_bind(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                       wasitls_cval *result)
{
    NARGS(1);
    sock *s = SOCK(0);
    if (s->state != ST_BIND_STARTED) return sock_err(call, result, SE(NOT_IN_PROGRESS));
    s->state = ST_BOUND;
    return ok_unit(call, result);
}

/* ---- tcp ---- */

static int stream_pair(wasitls_ccall *call, sock *s, wasitls_cval *out2)
{
    wasitls_istream *in = wasitls__istream_fd_ex(s->fd, true, sock_unref, s);
    if (!in) return WASITLS_E_NOMEM;
    s->refs++;
    wasitls_ostream *o = wasitls__ostream_fd_ex(s->fd, true, sock_unref, s);
    if (!o) {
        if (wasitls_istream_free(in) != 0) abort(); /* no children yet: cannot be refused */
        return WASITLS_E_NOMEM;
    }
    s->refs++;
    out2[0] = wasitls_cv_own(in);
    out2[1] = wasitls_cv_own(o);
    return 0;
}

/* start-connect: func(network: borrow<network>, remote-address: ip-socket-address)
 *                -> result<_, error-code>; */
static int tcp_start_connect(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                             wasitls_cval *result)
{
    NARGS(3);
    sock *s = SOCK(0);
    switch (s->state) {
    case ST_UNBOUND:
    case ST_BOUND:
        break;
    case ST_BIND_STARTED:
    case ST_LISTEN_STARTED:
    case ST_CONNECTING:
        return sock_err(call, result, SE(CONCURRENCY_CONFLICT));
    default:
        return sock_err(call, result, SE(INVALID_STATE));
    }
    struct sockaddr_storage ss;
    socklen_t len;
    uint32_t bad = check_addr(s, &args[2], &ss, &len, true);
    if (bad) return sock_err(call, result, bad - 1);
    int r;
    do
        r = connect(s->fd, (struct sockaddr *)&ss, len);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
        s->state = ST_CONNECTING;
        s->connect_ready = true;
        return ok_unit(call, result);
    }
    if (errno == EINPROGRESS) {
        s->state = ST_CONNECTING;
        s->connect_ready = false;
        return ok_unit(call, result);
    }
    int e = errno;
    s->state = ST_CLOSED;
    return sock_errno(call, result, e);
}

static bool connect_done(sock *s)
{
    return s->connect_ready || (wasitls__fd_revents(s->fd, POLLOUT) != 0);
}

/* finish-connect: func() -> result<tuple<input-stream, output-stream>, error-code>; */
static int tcp_finish_connect(wasitls_ccall *call, void *env, const wasitls_cval *args,
                              size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    sock *s = SOCK(0);
    if (s->state != ST_CONNECTING) return sock_err(call, result, SE(NOT_IN_PROGRESS));
    if (!connect_done(s)) return sock_err(call, result, SE(WOULD_BLOCK));
    int e = 0;
    socklen_t el = sizeof e;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0) e = errno;
    if (e) {
        s->state = ST_CLOSED;
        return sock_errno(call, result, e);
    }
    s->state = ST_CONNECTED;
    wasitls_cval tup;
    wasitls_cval *t = wasitls__aggregate(call, &tup, WASITLS_CV_TUPLE, 2);
    if (!t) return WASITLS_E_NOMEM;
    int rc = stream_pair(call, s, t);
    if (rc) return rc;
    return wasitls__ok(call, result, &tup);
}

/* start-listen: func() -> result<_, error-code>; */
static int tcp_start_listen(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                            wasitls_cval *result)
{
    NARGS(1);
    sock *s = SOCK(0);
    if (s->state == ST_BIND_STARTED || s->state == ST_LISTEN_STARTED || s->state == ST_CONNECTING)
        return sock_err(call, result, SE(CONCURRENCY_CONFLICT));
    if (s->state != ST_BOUND) return sock_err(call, result, SE(INVALID_STATE));
    int bl = s->backlog > INT_MAX ? INT_MAX : (int)s->backlog;
    if (listen(s->fd, bl) < 0) return sock_errno(call, result, errno);
    s->state = ST_LISTEN_STARTED;
    return ok_unit(call, result);
}

/* finish-listen: func() -> result<_, error-code>; */
static int tcp_finish_listen(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                             wasitls_cval *result)
{
    NARGS(1);
    sock *s = SOCK(0);
    if (s->state != ST_LISTEN_STARTED) return sock_err(call, result, SE(NOT_IN_PROGRESS));
    s->state = ST_LISTENING;
    return ok_unit(call, result);
}

/* accept: func() -> result<tuple<tcp-socket, input-stream, output-stream>, error-code>; */
static int tcp_accept(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                      wasitls_cval *result)
{
    NARGS(1);
    sock *s = SOCK(0);
    if (s->state != ST_LISTENING) return sock_err(call, result, SE(INVALID_STATE));
    int fd;
    do
        fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        /* Transient network errors on the accepted connection are worth a retry by the guest. */
        if (e == EAGAIN || e == EWOULDBLOCK) return sock_err(call, result, SE(WOULD_BLOCK));
        return sock_errno(call, result, e);
    }
    sock *c = sock_new(s->w, fd, s->family, true, ST_CONNECTED);
    if (!c) {
        close(fd);
        return WASITLS_E_NOMEM;
    }
    wasitls_cval tup;
    wasitls_cval *t = wasitls__aggregate(call, &tup, WASITLS_CV_TUPLE, 3);
    if (!t) {
        sock_unref(c);
        return WASITLS_E_NOMEM;
    }
    t[0] = wasitls_cv_own(c);
    int rc = stream_pair(call, c, t + 1);
    if (rc) {
        sock_unref(c);
        return rc;
    }
    return wasitls__ok(call, result, &tup);
}

/* local-address: func() -> result<ip-socket-address, error-code>; (tcp and udp) */
static int local_address(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    NARGS(1);
    sock *s = SOCK(0);
    if (s->state == ST_UNBOUND || s->state == ST_CLOSED)
        return sock_err(call, result, SE(INVALID_STATE));
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(s->fd, (struct sockaddr *)&ss, &len) < 0)
        return sock_errno(call, result, errno);
    wasitls_cval v;
    if (sockaddr_cval(call, &v, (struct sockaddr *)&ss)) return WASITLS_E_NOMEM;
    return wasitls__ok(call, result, &v);
}

/* remote-address: func() -> result<ip-socket-address, error-code>; (tcp and udp) */
static int remote_address(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                          wasitls_cval *result)
{
    NARGS(1);
    sock *s = SOCK(0);
    if (s->tcp ? s->state != ST_CONNECTED : !s->udp_remote)
        return sock_err(call, result, SE(INVALID_STATE));
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(s->fd, (struct sockaddr *)&ss, &len) < 0)
        return sock_errno(call, result, errno);
    wasitls_cval v;
    if (sockaddr_cval(call, &v, (struct sockaddr *)&ss)) return WASITLS_E_NOMEM;
    return wasitls__ok(call, result, &v);
}

/* is-listening: func() -> bool; */
static int tcp_is_listening(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                            wasitls_cval *result)
{
    NARGS(1);
    *result = wasitls_cv_bool(SOCK(0)->state == ST_LISTENING);
    return 0;
}

/* address-family: func() -> ip-address-family; (tcp and udp) */
static int address_family(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                          wasitls_cval *result)
{
    NARGS(1);
    *result = cv_enum(SOCK(0)->family == AF_INET ? 0 : 1);
    return 0;
}

/* set-listen-backlog-size: func(value: u64) -> result<_, error-code>; */
static int tcp_set_listen_backlog_size(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                       size_t nargs, wasitls_cval *result)
{
    NARGS(2);
    sock *s = SOCK(0);
    uint64_t v = args[1].of.u;
    if (v == 0) return sock_err(call, result, SE(INVALID_ARGUMENT));
    if (s->state == ST_CONNECTING || s->state == ST_CONNECTED)
        return sock_err(call, result, SE(INVALID_STATE));
    s->backlog = v;
    if (s->state == ST_LISTENING || s->state == ST_LISTEN_STARTED) {
        if (listen(s->fd, v > INT_MAX ? INT_MAX : (int)v) < 0)
            return sock_errno(call, result, errno);
    }
    return ok_unit(call, result);
}

/* ---- socket options ---- */

static int get_int(sock *s, int level, int opt, int *out)
{
    socklen_t l = sizeof *out;
    return getsockopt(s->fd, level, opt, out, &l) < 0 ? errno : 0;
}

static int set_int(sock *s, int level, int opt, int v)
{
    return setsockopt(s->fd, level, opt, &v, sizeof v) < 0 ? errno : 0;
}

static int opt_result(wasitls_ccall *call, wasitls_cval *result, int e, wasitls_cval v)
{
    if (e) return sock_errno(call, result, e);
    return wasitls__ok(call, result, &v);
}

static int set_result(wasitls_ccall *call, wasitls_cval *result, int e)
{
    return e ? sock_errno(call, result, e) : ok_unit(call, result);
}

/* keep-alive-enabled: func() -> result<bool, error-code>; */
static int tcp_keep_alive_enabled(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                  size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    int v = 0, e = get_int(SOCK(0), SOL_SOCKET, SO_KEEPALIVE, &v);
    return opt_result(call, result, e, wasitls_cv_bool(v != 0));
}

/* set-keep-alive-enabled: func(value: bool) -> result<_, error-code>; */
static int tcp_set_keep_alive_enabled(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                      size_t nargs, wasitls_cval *result)
{
    NARGS(2);
    return set_result(call, result, set_int(SOCK(0), SOL_SOCKET, SO_KEEPALIVE, args[1].of.b));
}

/* Durations are nanoseconds in the WIT, seconds in the kernel (at most 32767). */
static int ns_to_secs(uint64_t ns)
{
    uint64_t s = (ns + 999999999u) / 1000000000u;
    if (s < 1) s = 1;
    return s > 32767 ? 32767 : (int)s;
}

static int get_secs(wasitls_ccall *call, wasitls_cval *result, sock *s, int opt)
{
    int v = 0, e = get_int(s, IPPROTO_TCP, opt, &v);
    return opt_result(call, result, e, cv_u64((uint64_t)v * 1000000000u));
}

static int set_secs(wasitls_ccall *call, wasitls_cval *result, sock *s, int opt, uint64_t ns)
{
    if (ns == 0) return sock_err(call, result, SE(INVALID_ARGUMENT));
    return set_result(call, result, set_int(s, IPPROTO_TCP, opt, ns_to_secs(ns)));
}

/* keep-alive-idle-time: func() -> result<duration, error-code>; and the setter */
static int tcp_keep_alive_idle_time(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                    size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    return get_secs(call, result, SOCK(0), TCP_KEEPIDLE);
}

static int tcp_set_keep_alive_idle_time(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                        size_t nargs, wasitls_cval *result)
{
    NARGS(2);
    return set_secs(call, result, SOCK(0), TCP_KEEPIDLE, args[1].of.u);
}

/* keep-alive-interval: func() -> result<duration, error-code>; and the setter */
static int tcp_keep_alive_interval(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                   size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    return get_secs(call, result, SOCK(0), TCP_KEEPINTVL);
}

static int tcp_set_keep_alive_interval(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                       size_t nargs, wasitls_cval *result)
{
    NARGS(2);
    return set_secs(call, result, SOCK(0), TCP_KEEPINTVL, args[1].of.u);
}

/* keep-alive-count: func() -> result<u32, error-code>; and the setter (1..127 in Linux) */
static int tcp_keep_alive_count(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    int v = 0, e = get_int(SOCK(0), IPPROTO_TCP, TCP_KEEPCNT, &v);
    return opt_result(call, result, e, cv_u32((uint32_t)v));
}

static int tcp_set_keep_alive_count(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                    size_t nargs, wasitls_cval *result)
{
    NARGS(2);
    uint64_t v = args[1].of.u;
    if (v == 0) return sock_err(call, result, SE(INVALID_ARGUMENT));
    return set_result(call, result,
                      set_int(SOCK(0), IPPROTO_TCP, TCP_KEEPCNT, v > 127 ? 127 : (int)v));
}

/* hop-limit / unicast-hop-limit: func() -> result<u8, error-code>; and the setters */
static int hop_limit(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                     wasitls_cval *result)
{
    NARGS(1);
    sock *s = SOCK(0);
    int v = 0, e = s->family == AF_INET ? get_int(s, IPPROTO_IP, IP_TTL, &v)
                                        : get_int(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &v);
    return opt_result(call, result, e, wasitls_cv_u64(WASITLS_CV_U8, (uint64_t)(v & 0xff)));
}

static int set_hop_limit(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    NARGS(2);
    sock *s = SOCK(0);
    int v = (int)(args[1].of.u & 0xff);
    if (v == 0) return sock_err(call, result, SE(INVALID_ARGUMENT));
    int e = s->family == AF_INET ? set_int(s, IPPROTO_IP, IP_TTL, v)
                                 : set_int(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, v);
    return set_result(call, result, e);
}

/* receive-buffer-size / send-buffer-size: func() -> result<u64, error-code>; and setters */
static int buf_size(wasitls_ccall *call, wasitls_cval *result, sock *s, int opt)
{
    int v = 0, e = get_int(s, SOL_SOCKET, opt, &v);
    return opt_result(call, result, e, cv_u64((uint64_t)(v < 0 ? 0 : v)));
}

static int set_buf_size(wasitls_ccall *call, wasitls_cval *result, sock *s, int opt, uint64_t v)
{
    if (v == 0) return sock_err(call, result, SE(INVALID_ARGUMENT));
    /* The kernel doubles what it is given and clamps it; the WIT allows that. */
    return set_result(call, result,
                      set_int(s, SOL_SOCKET, opt, v > INT_MAX / 2 ? INT_MAX / 2 : (int)v));
}

static int receive_buffer_size(wasitls_ccall *call, void *env, const wasitls_cval *args,
                               size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    return buf_size(call, result, SOCK(0), SO_RCVBUF);
}

static int set_receive_buffer_size(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                   size_t nargs, wasitls_cval *result)
{
    NARGS(2);
    return set_buf_size(call, result, SOCK(0), SO_RCVBUF, args[1].of.u);
}

static int send_buffer_size(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                            wasitls_cval *result)
{
    NARGS(1);
    return buf_size(call, result, SOCK(0), SO_SNDBUF);
}

static int set_send_buffer_size(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                size_t nargs, wasitls_cval *result)
{
    NARGS(2);
    return set_buf_size(call, result, SOCK(0), SO_SNDBUF, args[1].of.u);
}

/* ---- subscribe ---- */

static bool sock_ready(void *p)
{
    sock *s = p;
    switch (s->state) {
    case ST_CONNECTING:
        return connect_done(s);
    case ST_LISTENING:
        return wasitls__fd_revents(s->fd, POLLIN) != 0;
    default:
        return true;
    }
}

static void sock_wait_on(void *p, wasitls_waitset *ws)
{
    sock *s = p;
    if (s->state == ST_CONNECTING)
        wasitls_waitset_fd(ws, s->fd, POLLOUT);
    else if (s->state == ST_LISTENING)
        wasitls_waitset_fd(ws, s->fd, POLLIN);
    else
        wasitls_waitset_now(ws);
}

/* subscribe: func() -> pollable; (tcp and udp) */
static int sock_subscribe(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                          wasitls_cval *result)
{
    NARGS(1);
    sock *s = SOCK(0);
    wasitls_pollable *p = wasitls_pollable_child(s, &s->children, sock_ready, sock_wait_on);
    if (!p) return WASITLS_E_NOMEM;
    *result = wasitls_cv_own(p);
    return 0;
}

/* shutdown: func(shutdown-type: shutdown-type) -> result<_, error-code>; */
static int tcp_shutdown(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                        wasitls_cval *result)
{
    NARGS(2);
    sock *s = SOCK(0);
    if (s->state != ST_CONNECTED) return sock_err(call, result, SE(INVALID_STATE));
    static const int how[] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
    uint32_t t = args[1].of.var.tag;
    if (t > 2) return sock_err(call, result, SE(INVALID_ARGUMENT));
    if (shutdown(s->fd, how[t]) < 0 && errno != ENOTCONN) return sock_errno(call, result, errno);
    return ok_unit(call, result);
}

/* ---- udp ---- */

typedef struct {
    sock *s;
    uint32_t children;
} dgram_stream;

#define DGRAM_MAX 65535
#define SEND_PERMIT 64

static void dgram_unref(dgram_stream *d)
{
    sock_unref(d->s);
    free(d);
}

static void dgram_force_free(void *rep)
{
    dgram_stream *d = rep;
    d->children = 0;
    dgram_unref(d);
}

static int dgram_dtor(void *env, void *rep, wasitls_error *err)
{
    dgram_stream *d = rep;
    if (d->children) {
        wasitls__orphan_add(env, rep, dgram_force_free);
        return wasitls_error_set(err, WASITLS_E_BUSY,
                                 "datagram stream dropped while a pollable subscribed to it is "
                                 "alive");
    }
    wasitls__orphan_forget(env, rep);
    dgram_unref(d);
    return 0;
}

/* %stream: func(remote-address: option<ip-socket-address>)
 *          -> result<tuple<incoming-datagram-stream, outgoing-datagram-stream>, error-code>; */
static int udp_stream(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                      wasitls_cval *result)
{
    NARGS(2);
    sock *s = SOCK(0);
    if (s->state != ST_BOUND) return sock_err(call, result, SE(INVALID_STATE));
    if (args[1].of.var.tag == 1) {
        struct sockaddr_storage ss;
        socklen_t len;
        uint32_t bad = check_addr(s, args[1].of.var.payload, &ss, &len, true);
        if (bad) return sock_err(call, result, bad - 1);
        if (connect(s->fd, (struct sockaddr *)&ss, len) < 0) return sock_errno(call, result, errno);
        s->udp_remote = true;
    } else if (s->udp_remote) {
        struct sockaddr sa = {.sa_family = AF_UNSPEC};
        connect(s->fd, &sa, sizeof sa);
        s->udp_remote = false;
    }
    dgram_stream *in = calloc(1, sizeof *in), *out = calloc(1, sizeof *out);
    wasitls_cval tup;
    wasitls_cval *t = wasitls__aggregate(call, &tup, WASITLS_CV_TUPLE, 2);
    if (!in || !out || !t) {
        free(in);
        free(out);
        return WASITLS_E_NOMEM;
    }
    in->s = out->s = s;
    s->refs += 2;
    s->udp_permit = 0;
    t[0] = wasitls_cv_own(in);
    t[1] = wasitls_cv_own(out);
    return wasitls__ok(call, result, &tup);
}

/* receive: func(max-results: u64) -> result<list<incoming-datagram>, error-code>; */
static int dgram_receive(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    NARGS(2);
    dgram_stream *d = ARG_REP(0);
    uint64_t max = args[1].of.u;
    if (max > 64) max = 64;
    wasitls_cval *items = wasitls_ccall_vals(call, max ? (size_t)max : 1);
    uint8_t *buf = wasitls__scratch(env, DGRAM_MAX);
    if (!items || !buf) return WASITLS_E_NOMEM;
    size_t n = 0;
    while (n < max) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        ssize_t r = recvfrom(d->s->fd, buf, DGRAM_MAX, MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (n) break;
            return sock_errno(call, result, errno);
        }
        wasitls_cval *f = wasitls__aggregate(call, &items[n], WASITLS_CV_RECORD, 2);
        if (!f) return WASITLS_E_NOMEM;
        int rc = wasitls__guest_copy(call, buf, (size_t)r, &f[0]);
        if (rc) return rc;
        if (sockaddr_cval(call, &f[1], (struct sockaddr *)&ss)) return WASITLS_E_NOMEM;
        n++;
    }
    wasitls_cval list = cv_kind(WASITLS_CV_LIST);
    list.of.list.items = items;
    list.of.list.len = n;
    return wasitls__ok(call, result, &list);
}

static bool in_ready(void *p)
{
    return wasitls__fd_revents(((dgram_stream *)p)->s->fd, POLLIN) != 0;
}

static void in_wait_on(void *p, wasitls_waitset *ws)
{
    wasitls_waitset_fd(ws, ((dgram_stream *)p)->s->fd, POLLIN);
}

static bool out_ready(void *p)
{
    return wasitls__fd_revents(((dgram_stream *)p)->s->fd, POLLOUT) != 0;
}

static void out_wait_on(void *p, wasitls_waitset *ws)
{
    wasitls_waitset_fd(ws, ((dgram_stream *)p)->s->fd, POLLOUT);
}

static int dgram_subscribe(wasitls_ccall *call, const wasitls_cval *args, size_t nargs, bool in,
                           wasitls_cval *result)
{
    NARGS(1);
    dgram_stream *d = ARG_REP(0);
    wasitls_pollable *p = wasitls_pollable_child(d, &d->children, in ? in_ready : out_ready,
                                                 in ? in_wait_on : out_wait_on);
    if (!p) return WASITLS_E_NOMEM;
    *result = wasitls_cv_own(p);
    return 0;
}

static int in_subscribe(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                        wasitls_cval *result)
{
    return dgram_subscribe(call, args, nargs, true, result);
}

static int out_subscribe(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    return dgram_subscribe(call, args, nargs, false, result);
}

/* check-send: func() -> result<u64, error-code>; */
static int dgram_check_send(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                            wasitls_cval *result)
{
    NARGS(1);
    dgram_stream *d = ARG_REP(0);
    d->s->udp_permit = out_ready(d) ? SEND_PERMIT : 0;
    wasitls_cval v = cv_u64(d->s->udp_permit);
    return wasitls__ok(call, result, &v);
}

/* send: func(datagrams: list<outgoing-datagram>) -> result<u64, error-code>; */
static int dgram_send(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                      wasitls_cval *result)
{
    NARGS(2);
    dgram_stream *d = ARG_REP(0);
    sock *s = d->s;
    size_t n = args[1].of.list.len;
    if (n == 0) return wasitls__ok(call, result, &(wasitls_cval){.kind = WASITLS_CV_U64});
    if (n > s->udp_permit)
        return wasitls_ccall_trap(call,
                                  "outgoing-datagram-stream.send: %zu datagrams exceed the "
                                  "check-send permit",
                                  n);
    s->udp_permit -= n;
    size_t sent = 0;
    for (; sent < n; sent++) {
        const wasitls_cval *dg = &args[1].of.list.items[sent];
        const wasitls_cval *data = &dg->of.list.items[0], *ra = &dg->of.list.items[1];
        struct sockaddr_storage ss;
        socklen_t len = 0;
        uint32_t bad = 0;
        if (ra->of.var.tag == 1) {
            bad = check_addr(s, ra->of.var.payload, &ss, &len, true);
            if (!bad && s->udp_remote) {
                struct sockaddr_storage peer;
                socklen_t pl = sizeof peer;
                if (getpeername(s->fd, (struct sockaddr *)&peer, &pl) < 0 || pl != len ||
                    memcmp(&peer, &ss, len) != 0)
                    bad = SE(INVALID_ARGUMENT) + 1;
            }
        } else if (!s->udp_remote) {
            bad = SE(INVALID_ARGUMENT) + 1;
        }
        if (bad) {
            if (sent) break;
            return sock_err(call, result, bad - 1);
        }
        ssize_t r;
        do
            r = len && !s->udp_remote
                    ? sendto(s->fd, data->of.bytes.ptr, data->of.bytes.len,
                             MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&ss, len)
                    : send(s->fd, data->of.bytes.ptr, data->of.bytes.len,
                           MSG_DONTWAIT | MSG_NOSIGNAL);
        while (r < 0 && errno == EINTR);
        if (r < 0) {
            if (sent) break;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return sock_err(call, result, SE(WOULD_BLOCK));
            return sock_errno(call, result, errno);
        }
    }
    wasitls_cval v = cv_u64(sent);
    return wasitls__ok(call, result, &v);
}

/* ---- ip-name-lookup ----
 *
 * getaddrinfo blocks, so each lookup runs on a detached thread; the stream reports
 * would-block until it is done and its pollable waits on an eventfd the thread signals. The
 * eventfd belongs to the guest's thread (which alone closes it, keeping the event loop's fd
 * bookkeeping right); a lookup abandoned before it finished only frees memory when done. */

typedef struct {
    pthread_mutex_t mu;
    int refs;  /* the stream + the worker */
    int efd;   /* -1 once abandoned */
    bool done; /* read and written under mu */
    int gai;   /* getaddrinfo's result */
    struct sockaddr_storage *addrs;
    size_t n, next;
    uint32_t children;
    char name[256];
} resolve_stream;

static void resolve_unref(resolve_stream *r)
{
    pthread_mutex_lock(&r->mu);
    int left = --r->refs;
    pthread_mutex_unlock(&r->mu);
    if (left) return;
    pthread_mutex_destroy(&r->mu);
    free(r->addrs);
    free(r);
}

static void resolve_run(resolve_stream *r)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(r->name, NULL, &hints, &res);
    struct sockaddr_storage *addrs = NULL;
    size_t n = 0;
    if (!g) {
        size_t cnt = 0;
        for (struct addrinfo *a = res; a; a = a->ai_next)
            cnt++;
        addrs = calloc(cnt ? cnt : 1, sizeof *addrs);
        if (!addrs) g = EAI_MEMORY;
        for (struct addrinfo *a = res; addrs && a; a = a->ai_next) {
            if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
                a->ai_addrlen > sizeof *addrs)
                continue;
            bool dup = false;
            for (size_t i = 0; i < n && !dup; i++)
                dup = addrs[i].ss_family == a->ai_family &&
                      memcmp(&addrs[i], a->ai_addr, a->ai_addrlen) == 0;
            if (!dup) memcpy(&addrs[n++], a->ai_addr, a->ai_addrlen);
        }
        freeaddrinfo(res);
    }
    pthread_mutex_lock(&r->mu);
    r->gai = g;
    r->addrs = addrs;
    r->n = n;
    r->done = true;
    if (r->efd >= 0) {
        uint64_t one = 1;
        if (write(r->efd, &one, sizeof one) < 0) {
            /* the counter cannot overflow with one write; nothing to do */
        }
    }
    pthread_mutex_unlock(&r->mu);
}

static void *resolve_thread(void *p)
{
    resolve_run(p);
    resolve_unref(p);
    return NULL;
}

static bool resolve_done(resolve_stream *r)
{
    pthread_mutex_lock(&r->mu);
    bool d = r->done;
    pthread_mutex_unlock(&r->mu);
    return d;
}

static void resolve_release(resolve_stream *r);

static void resolve_force_free(void *rep)
{
    resolve_release(rep);
}

static int resolve_dtor(void *env, void *rep, wasitls_error *err)
{
    resolve_stream *r = rep;
    if (r->children) {
        wasitls__orphan_add(env, rep, resolve_force_free);
        return wasitls_error_set(err, WASITLS_E_BUSY,
                                 "resolve-address-stream dropped while a pollable subscribed to "
                                 "it is alive");
    }
    wasitls__orphan_forget(env, rep);
    resolve_release(r);
    return 0;
}

/* The guest's side lets go: close the eventfd here (the guest's thread), drop the reference. */
static void resolve_release(resolve_stream *r)
{
    pthread_mutex_lock(&r->mu);
    int efd = r->efd;
    r->efd = -1;
    pthread_mutex_unlock(&r->mu);
    wasitls__fd_close(efd);
    resolve_unref(r);
}

static bool resolve_ready(void *p)
{
    return resolve_done(p);
}

static void resolve_wait_on(void *p, wasitls_waitset *ws)
{
    resolve_stream *r = p;
    wasitls_waitset_fd(ws, r->efd, POLLIN);
}

/* The WIT's invalid-argument: "a syntactically invalid domain name or IP address". IP
 * literals pass; a name is dot-separated labels of 1..63 letters, digits, '-' or '_' (bytes
 * above 0x7f are left to the resolver), at most 253 bytes, with an optional final dot. */
static bool valid_name(const char *name, size_t nl)
{
    if (nl == 0 || nl > 253 || memchr(name, 0, nl)) return false;
    char buf[254];
    memcpy(buf, name, nl);
    buf[nl] = 0;
    struct in6_addr a6;
    if (inet_pton(AF_INET, buf, &a6) == 1 || inet_pton(AF_INET6, buf, &a6) == 1) return true;
    if (buf[nl - 1] == '.') buf[--nl] = 0;
    size_t label = 0;
    for (size_t i = 0; i <= nl; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '.' || c == 0) {
            if (label == 0 || label > 63) return false;
            label = 0;
            continue;
        }
        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
        label++;
    }
    return true;
}

/* resolve-addresses: func(network: borrow<network>, name: string)
 *                    -> result<resolve-address-stream, error-code>; */
static int resolve_addresses(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                             wasitls_cval *result)
{
    NARGS(2);
    wasitls_wasi *w = env;
    if (!w->lookup) return sock_err(call, result, SE(ACCESS_DENIED));
    size_t nl = args[1].of.str.len;
    const char *name = args[1].of.str.ptr;
    /* An IPv6 literal may come in brackets, as in a URL. */
    if (nl >= 2 && name[0] == '[' && name[nl - 1] == ']') {
        name++;
        nl -= 2;
    }
    if (!valid_name(name, nl)) return sock_err(call, result, SE(INVALID_ARGUMENT));
    resolve_stream *r = calloc(1, sizeof *r);
    if (!r) return WASITLS_E_NOMEM;
    memcpy(r->name, name, nl);
    r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->efd < 0) {
        free(r);
        return sock_errno(call, result, errno);
    }
    pthread_mutex_init(&r->mu, NULL);
    r->refs = 2;
    pthread_attr_t attr;
    pthread_t th;
    bool started = pthread_attr_init(&attr) == 0 &&
                   pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
                   pthread_create(&th, &attr, resolve_thread, r) == 0;
    pthread_attr_destroy(&attr);
    if (!started) {
        resolve_run(r); /* no thread to spare: answer now */
        r->refs = 1;
    }
    wasitls_cval v = wasitls_cv_own(r);
    return wasitls__ok(call, result, &v);
}

/* resolve-next-address: func() -> result<option<ip-address>, error-code>; */
static int resolve_next_address(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    resolve_stream *r = ARG_REP(0);
    if (!resolve_done(r)) return sock_err(call, result, SE(WOULD_BLOCK));
    if (r->gai) {
        int g = r->gai;
        uint32_t code = g == EAI_NONAME || g == EAI_NODATA ? SE(NAME_UNRESOLVABLE)
                        : g == EAI_AGAIN                   ? SE(TEMPORARY_RESOLVER_FAILURE)
                        : g == EAI_MEMORY                  ? SE(OUT_OF_MEMORY)
                                                           : SE(PERMANENT_RESOLVER_FAILURE);
        return sock_err(call, result, code);
    }
    wasitls_cval opt = cv_none();
    if (r->next < r->n) {
        wasitls_cval ip;
        if (ip_cval(call, &ip, (struct sockaddr *)&r->addrs[r->next++])) return WASITLS_E_NOMEM;
        if (wasitls__some(call, &opt, ip)) return WASITLS_E_NOMEM;
    }
    return wasitls__ok(call, result, &opt);
}

static int resolve_subscribe(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                             wasitls_cval *result)
{
    NARGS(1);
    resolve_stream *r = ARG_REP(0);
    wasitls_pollable *p = wasitls_pollable_child(r, &r->children, resolve_ready, resolve_wait_on);
    if (!p) return WASITLS_E_NOMEM;
    *result = wasitls_cv_own(p);
    return 0;
}

#define NET "wasi:sockets/network"
#define TCP "wasi:sockets/tcp"
#define UDP "wasi:sockets/udp"
#define LOOKUP "wasi:sockets/ip-name-lookup"
#define M(r, m) "[method]" r "." m

static const wasitls__hres sock_res[] = {
    {NET, "network", network_dtor},
    {TCP, "tcp-socket", sock_dtor},
    {UDP, "udp-socket", sock_dtor},
    {UDP, "incoming-datagram-stream", dgram_dtor},
    {UDP, "outgoing-datagram-stream", dgram_dtor},
    {LOOKUP, "resolve-address-stream", resolve_dtor},
};

static const wasitls__hfunc sock_funcs[] = {
    {NET, "network-error-code", network_error_code},
    {"wasi:sockets/instance-network", "instance-network", instance_network},
    {"wasi:sockets/tcp-create-socket", "create-tcp-socket", create_tcp_socket},
    {"wasi:sockets/udp-create-socket", "create-udp-socket", create_udp_socket},
    {TCP, M("tcp-socket", "start-bind"), start_bind},
    {TCP, M("tcp-socket", "finish-bind"), finish_bind},
    {TCP, M("tcp-socket", "start-connect"), tcp_start_connect},
    {TCP, M("tcp-socket", "finish-connect"), tcp_finish_connect},
    {TCP, M("tcp-socket", "start-listen"), tcp_start_listen},
    {TCP, M("tcp-socket", "finish-listen"), tcp_finish_listen},
    {TCP, M("tcp-socket", "accept"), tcp_accept},
    {TCP, M("tcp-socket", "local-address"), local_address},
    {TCP, M("tcp-socket", "remote-address"), remote_address},
    {TCP, M("tcp-socket", "is-listening"), tcp_is_listening},
    {TCP, M("tcp-socket", "address-family"), address_family},
    {TCP, M("tcp-socket", "set-listen-backlog-size"), tcp_set_listen_backlog_size},
    {TCP, M("tcp-socket", "keep-alive-enabled"), tcp_keep_alive_enabled},
    {TCP, M("tcp-socket", "set-keep-alive-enabled"), tcp_set_keep_alive_enabled},
    {TCP, M("tcp-socket", "keep-alive-idle-time"), tcp_keep_alive_idle_time},
    {TCP, M("tcp-socket", "set-keep-alive-idle-time"), tcp_set_keep_alive_idle_time},
    {TCP, M("tcp-socket", "keep-alive-interval"), tcp_keep_alive_interval},
    {TCP, M("tcp-socket", "set-keep-alive-interval"), tcp_set_keep_alive_interval},
    {TCP, M("tcp-socket", "keep-alive-count"), tcp_keep_alive_count},
    {TCP, M("tcp-socket", "set-keep-alive-count"), tcp_set_keep_alive_count},
    {TCP, M("tcp-socket", "hop-limit"), hop_limit},
    {TCP, M("tcp-socket", "set-hop-limit"), set_hop_limit},
    {TCP, M("tcp-socket", "receive-buffer-size"), receive_buffer_size},
    {TCP, M("tcp-socket", "set-receive-buffer-size"), set_receive_buffer_size},
    {TCP, M("tcp-socket", "send-buffer-size"), send_buffer_size},
    {TCP, M("tcp-socket", "set-send-buffer-size"), set_send_buffer_size},
    {TCP, M("tcp-socket", "subscribe"), sock_subscribe},
    {TCP, M("tcp-socket", "shutdown"), tcp_shutdown},
    {UDP, M("udp-socket", "start-bind"), start_bind},
    {UDP, M("udp-socket", "finish-bind"), finish_bind},
    {UDP, M("udp-socket", "stream"), udp_stream},
    {UDP, M("udp-socket", "local-address"), local_address},
    {UDP, M("udp-socket", "remote-address"), remote_address},
    {UDP, M("udp-socket", "address-family"), address_family},
    {UDP, M("udp-socket", "unicast-hop-limit"), hop_limit},
    {UDP, M("udp-socket", "set-unicast-hop-limit"), set_hop_limit},
    {UDP, M("udp-socket", "receive-buffer-size"), receive_buffer_size},
    {UDP, M("udp-socket", "set-receive-buffer-size"), set_receive_buffer_size},
    {UDP, M("udp-socket", "send-buffer-size"), send_buffer_size},
    {UDP, M("udp-socket", "set-send-buffer-size"), set_send_buffer_size},
    {UDP, M("udp-socket", "subscribe"), sock_subscribe},
    {UDP, M("incoming-datagram-stream", "receive"), dgram_receive},
    {UDP, M("incoming-datagram-stream", "subscribe"), in_subscribe},
    {UDP, M("outgoing-datagram-stream", "check-send"), dgram_check_send},
    {UDP, M("outgoing-datagram-stream", "send"), dgram_send},
    {UDP, M("outgoing-datagram-stream", "subscribe"), out_subscribe},
    {LOOKUP, "resolve-addresses", resolve_addresses},
    {LOOKUP, M("resolve-address-stream", "resolve-next-address"), resolve_next_address},
    {LOOKUP, M("resolve-address-stream", "subscribe"), resolve_subscribe},
};

int wasitls__sock_register(wasitls_wasi *w, wasitls_linker *l, wasitls_error *err)
{
    return wasitls__register(w, l, sock_funcs, sizeof sock_funcs / sizeof sock_funcs[0], sock_res,
                             sizeof sock_res / sizeof sock_res[0], err);
}
