/* Unit tests of the host stream/pollable layer (wasitls_io) over pipes, socketpairs and
 * loopback TCP. One test per process: `wasi_test_io NAME`. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "wasitls/io.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    CHECK(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
}

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)((i * 2654435761u) >> 13);
}

/* ---- errors ---- */

static void t_errors(void)
{
    wasitls_ioerr *e = wasitls_ioerr_new(WASITLS_E_IO, 16, "connect to %s failed", "x");
    CHECK(e);
    CHECK(wasitls_ioerr_code(e) == WASITLS_E_IO);
    CHECK(wasitls_ioerr_socket_code(e) == 16);
    CHECK(strcmp(wasitls_ioerr_message(e), "connect to x failed") == 0);
    wasitls_ioerr_free(e);
    CHECK(wasitls__errno_sock(ECONNREFUSED) == WASITLS__SE_CONNECTION_REFUSED);
    CHECK(wasitls__errno_sock(ECONNRESET) == WASITLS__SE_CONNECTION_RESET);
    CHECK(wasitls__errno_sock(EADDRINUSE) == WASITLS__SE_ADDRESS_IN_USE);
    CHECK(wasitls__errno_code(EPIPE) == WASITLS_E_CLOSED);
    CHECK(wasitls__errno_code(EACCES) == WASITLS_E_ACCESS);
    e = wasitls__ioerr_errno(ECONNRESET, true, "read");
    CHECK(wasitls_ioerr_socket_code(e) == WASITLS__SE_CONNECTION_RESET + 1);
    CHECK(strstr(wasitls_ioerr_message(e), "read: "));
    wasitls_ioerr_free(e);
    e = wasitls__ioerr_errno(EIO, false, "write");
    CHECK(wasitls_ioerr_socket_code(e) == 0);
    wasitls_ioerr_free(e);
}

/* ---- deadline ---- */

static bool never_ready(void *p)
{
    return false;
}

static void wait_on_bad_fd(void *p, wasitls_waitset *ws)
{
    wasitls_waitset_fd(ws, 100000 + *(int *)p, POLLIN);
}

static void wait_on_nothing(void *p, wasitls_waitset *ws) {}

static void t_deadline(void)
{
    uint64_t t0 = wasitls_now_ns();
    wasitls_pollable *a = wasitls_pollable_deadline(t0 + 30 * 1000000ull);
    wasitls_pollable *b = wasitls_pollable_deadline(t0 + 2000 * 1000000ull);
    wasitls_pollable *ps[] = {b, a, b};
    uint32_t ready[3];
    size_t n;
    /* not ready yet, unless a loaded machine took 30 ms since t0 (seen under ASan) */
    CHECK(!a->ops->ready(a) || wasitls_now_ns() - t0 >= 30 * 1000000ull);
    CHECK(wasitls_poll(ps, 3, ready, &n) == 0);
    uint64_t el = wasitls_now_ns() - t0;
    CHECK(n == 1 && ready[0] == 1);
    CHECK(el >= 30 * 1000000ull && el < 1000 * 1000000ull);
    CHECK(a->ops->ready(a));
    /* a past deadline is ready at once */
    wasitls_pollable *c = wasitls_pollable_deadline(0);
    CHECK(wasitls_pollable_block(c) == 0);
    /* a pollable over a closed fd fails the wait instead of spinning */
    int pp[2];
    CHECK(pipe(pp) == 0);
    wasitls_istream *dead = wasitls_istream_fd(pp[0], true);
    wasitls_pollable *dp = wasitls_istream_subscribe(dead);
    close(pp[0]);
    close(pp[1]);
    /* the fd is closed: ready() reports it (read will fail), so poll returns at once */
    CHECK(wasitls_pollable_block(dp) == 0);
    wasitls_pollable_free(dp);
    CHECK(wasitls_istream_free(dead) == 0);
    /* waits that could never end are errors, not hangs or spins: a closed fd (poll(2) and,
     * with many, epoll), nothing to wait on at all */
    static int ids[100];
    static wasitls_pollable *bad[100];
    for (int i = 0; i < 100; i++) {
        ids[i] = i;
        bad[i] = wasitls_pollable_child(&ids[i], NULL, never_ready, wait_on_bad_fd);
    }
    uint32_t rdy[100];
    CHECK(wasitls_poll(bad, 1, rdy, &n) == WASITLS_E_INTERNAL);
    CHECK(wasitls_poll(bad, 100, rdy, &n) == WASITLS_E_INTERNAL);
    for (int i = 0; i < 100; i++)
        wasitls_pollable_free(bad[i]);
    wasitls_pollable *nothing = wasitls_pollable_child(ids, NULL, never_ready, wait_on_nothing);
    CHECK(wasitls_pollable_block(nothing) == WASITLS_E_INTERNAL);
    wasitls_pollable_free(nothing);
    /* an empty list is an error (the wasi layer traps) */
    CHECK(wasitls_poll(ps, 0, ready, &n) == WASITLS_E_INVAL);
    wasitls_pollable_free(a);
    wasitls_pollable_free(b);
    wasitls_pollable_free(c);
}

/* ---- pipes ---- */

static void t_pipe_rw(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    wasitls_istream *in = wasitls_istream_fd(p[0], false);
    wasitls_ostream *out = wasitls_ostream_fd(p[1], false);
    CHECK(in && out);
    uint8_t buf[64];
    wasitls_ioerr *err = NULL;
    CHECK(in->ops->read(in, buf, sizeof buf, &err) == 0);
    wasitls_pollable *pi = wasitls_istream_subscribe(in);
    wasitls_pollable *po = wasitls_ostream_subscribe(out);
    CHECK(!pi->ops->ready(pi));
    CHECK(po->ops->ready(po));
    int64_t room = out->ops->check_write(out, &err);
    CHECK(room >= 5);
    CHECK(out->ops->write(out, (const uint8_t *)"hello", 5, &err) == 0);
    CHECK(out->ops->flush(out, &err) == 0);
    wasitls_pollable *ps[] = {pi};
    uint32_t ready[1];
    size_t n;
    CHECK(wasitls_poll(ps, 1, ready, &n) == 0 && n == 1 && ready[0] == 0);
    CHECK(in->ops->read(in, buf, 3, &err) == 3 && memcmp(buf, "hel", 3) == 0);
    CHECK(in->ops->read(in, buf, sizeof buf, &err) == 2 && memcmp(buf, "lo", 2) == 0);
    CHECK(in->ops->read(in, buf, 0, &err) == 0);
    wasitls_pollable_free(pi);
    wasitls_pollable_free(po);
    CHECK(wasitls_istream_free(in) == 0);
    CHECK(wasitls_ostream_free(out) == 0);
}

static void t_pipe_eof(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    wasitls_istream *in = wasitls_istream_fd(p[0], false);
    CHECK(write(p[1], "ab", 2) == 2);
    close(p[1]);
    uint8_t buf[8];
    wasitls_ioerr *err = NULL;
    CHECK(in->ops->read(in, buf, sizeof buf, &err) == 2);
    CHECK(in->ops->ready(in));
    CHECK(in->ops->read(in, buf, sizeof buf, &err) == WASITLS_E_CLOSED);
    CHECK(in->ops->read(in, buf, sizeof buf, &err) == WASITLS_E_CLOSED);
    CHECK(err == NULL);
    CHECK(wasitls_istream_read_blocking(in, buf, sizeof buf, &err) == WASITLS_E_CLOSED);
    CHECK(wasitls_istream_free(in) == 0);
}

static void t_pipe_epipe(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    wasitls_ostream *out = wasitls_ostream_fd(p[1], false);
    close(p[0]);
    wasitls_ioerr *err = NULL;
    int64_t room = out->ops->check_write(out, &err);
    CHECK(room > 0);
    /* the failure surfaces on this write or at the latest on the next check-write */
    int rc = out->ops->write(out, (const uint8_t *)"x", 1, &err);
    CHECK(rc == 0 || rc == WASITLS_E_CLOSED);
    CHECK(out->ops->check_write(out, &err) == WASITLS_E_CLOSED);
    CHECK(out->ops->write(out, (const uint8_t *)"x", 1, &err) == WASITLS_E_CLOSED);
    CHECK(out->ops->flush(out, &err) == WASITLS_E_CLOSED);
    CHECK(out->ops->ready(out));
    CHECK(wasitls_ostream_write_all(out, (const uint8_t *)"y", 1, &err) == WASITLS_E_CLOSED);
    CHECK(err == NULL);
    CHECK(wasitls_ostream_free(out) == 0);
}

/* check-write after flush: 0 until everything written before the flush reached the kernel,
 * even with room left in the stream's buffer. */
static void t_flush_rule(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    set_nonblock(p[1]);
    wasitls_ostream *out = wasitls_ostream_fd(p[1], false);
    wasitls_ioerr *err = NULL;
    static uint8_t fill[1 << 20];
    /* fill the kernel pipe directly, so the stream's next bytes stay buffered */
    while (write(p[1], fill, sizeof fill) > 0)
        ;
    CHECK(out->ops->check_write(out, &err) > 100);
    CHECK(out->ops->write(out, (const uint8_t *)"0123456789", 10, &err) == 0);
    int64_t room = out->ops->check_write(out, &err);
    CHECK(room > 0); /* buffered, not flushing: more may be written */
    CHECK(out->ops->flush(out, &err) == 0);
    CHECK(out->ops->check_write(out, &err) == 0);
    CHECK(!out->ops->ready(out));
    CHECK(out->ops->write(out, (const uint8_t *)"x", 1, &err) == WASITLS_E_INVAL);
    /* the reader drains: the flush completes and the permit comes back */
    static uint8_t sink[1 << 16];
    while (read(p[0], sink, sizeof sink) == (ssize_t)sizeof sink)
        if (out->ops->ready(out)) break;
    wasitls_pollable *pl = wasitls_ostream_subscribe(out);
    CHECK(wasitls_pollable_block(pl) == 0);
    wasitls_pollable_free(pl);
    CHECK(out->ops->check_write(out, &err) > 0);
    CHECK(wasitls_ostream_free(out) == 0);
    close(p[0]);
}

/* ---- socketpair: partial writes, readiness, a full transfer ---- */

struct reader_arg {
    int fd;
    uint64_t total;
    uint64_t got;
    int slow; /* usleep between reads */
    int bad;
};

static void *reader_thread(void *p)
{
    struct reader_arg *a = p;
    static _Thread_local uint8_t buf[65536];
    while (a->got < a->total) {
        ssize_t n = read(a->fd, buf, a->slow ? 1000 : sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern(a->got + (uint64_t)i)) a->bad = 1;
        a->got += (uint64_t)n;
        if (a->slow) usleep(a->slow);
    }
    return NULL;
}

static void t_socketpair_partial(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    set_nonblock(sv[0]);
    wasitls_ostream *out = wasitls_ostream_fd(sv[0], false);
    wasitls_ioerr *err = NULL;
    /* Fill until the stream says no: write must accept what check-write promised even though
     * the kernel takes only part of it. */
    static uint8_t chunk[1 << 20];
    uint64_t sent = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t room = out->ops->check_write(out, &err);
        CHECK(room >= 0);
        if (room == 0) break;
        size_t k = (size_t)room < sizeof chunk ? (size_t)room : sizeof chunk;
        for (size_t j = 0; j < k; j++)
            chunk[j] = pattern(sent + j);
        CHECK(out->ops->write(out, chunk, k, &err) == 0);
        sent += k;
    }
    CHECK(out->ops->check_write(out, &err) == 0);
    CHECK(!out->ops->ready(out));
    wasitls_pollable *po = wasitls_ostream_subscribe(out);
    CHECK(!po->ops->ready(po));
    /* drain with a reader; the pollable becomes ready */
    struct reader_arg a = {.fd = sv[1], .total = 8u << 20, .slow = 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, reader_thread, &a) == 0);
    CHECK(wasitls_pollable_block(po) == 0);
    wasitls_pollable_free(po);
    /* then the rest of 8 MiB through the blocking helper */
    while (sent < a.total) {
        size_t k = a.total - sent < sizeof chunk ? (size_t)(a.total - sent) : sizeof chunk;
        for (size_t j = 0; j < k; j++)
            chunk[j] = pattern(sent + j);
        CHECK(wasitls_ostream_write_all(out, chunk, k, &err) == 0);
        sent += k;
    }
    CHECK(wasitls_ostream_flush_blocking(out, &err) == 0);
    pthread_join(th, NULL);
    CHECK(a.got == a.total && !a.bad);
    CHECK(wasitls_ostream_free(out) == 0);
    close(sv[1]);
}

/* ---- loopback TCP ---- */

static int tcp_listener(uint16_t *port)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(l >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(l, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK(listen(l, 16) == 0);
    socklen_t sl = sizeof sa;
    CHECK(getsockname(l, (struct sockaddr *)&sa, &sl) == 0);
    *port = ntohs(sa.sin_port);
    return l;
}

static void tcp_pair(int *a, int *b)
{
    uint16_t port;
    int l = tcp_listener(&port);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)};
    CHECK(connect(c, (struct sockaddr *)&sa, sizeof sa) == 0);
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0);
    close(l);
    *a = c;
    *b = s;
}

static void t_socket_reset(void)
{
    int a, b;
    tcp_pair(&a, &b);
    set_nonblock(a);
    wasitls_istream *in = wasitls_istream_fd(a, false);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    CHECK(setsockopt(b, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
    close(b); /* RST */
    wasitls_pollable *p = wasitls_istream_subscribe(in);
    CHECK(wasitls_pollable_block(p) == 0);
    wasitls_pollable_free(p);
    uint8_t buf[16];
    wasitls_ioerr *err = NULL;
    int64_t r = in->ops->read(in, buf, sizeof buf, &err);
    CHECK(r < 0 && r != WASITLS_E_CLOSED);
    CHECK(err && wasitls_ioerr_socket_code(err) == WASITLS__SE_CONNECTION_RESET + 1);
    wasitls_ioerr_free(err);
    err = NULL;
    CHECK(in->ops->read(in, buf, sizeof buf, &err) == WASITLS_E_CLOSED);
    CHECK(wasitls_istream_free(in) == 0);
}

struct pump {
    wasitls_istream *in;
    wasitls_ostream *out;
    uint64_t total, sent, got, hash_out, hash_in;
    uint64_t partial_writes; /* times the permit was smaller than what we wanted to write */
};

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Both directions of a TCP connection at once, in one thread, on the event loop. */
static void t_tcp_loopback(void)
{
    int a, b;
    tcp_pair(&a, &b);
    set_nonblock(a);
    set_nonblock(b);
    struct pump pa = {wasitls_istream_fd(a, true), wasitls_ostream_fd(a, true)};
    struct pump pb = {wasitls_istream_fd(b, true), wasitls_ostream_fd(b, true)};
    struct pump *ps[2] = {&pa, &pb};
    const uint64_t total = 16u << 20;
    for (int i = 0; i < 2; i++) {
        ps[i]->total = total;
        ps[i]->hash_out = ps[i]->hash_in = 14695981039346656037ull;
    }
    static uint8_t buf[200000];
    wasitls_ioerr *err = NULL;
    int rounds = 0;
    while (pa.got < total || pb.got < total) {
        wasitls_pollable *pl[4];
        size_t np = 0;
        for (int i = 0; i < 2; i++) {
            if (ps[i]->got < total) pl[np++] = wasitls_istream_subscribe(ps[i]->in);
            if (ps[i]->sent < total) pl[np++] = wasitls_ostream_subscribe(ps[i]->out);
        }
        uint32_t ready[4];
        size_t nr;
        CHECK(wasitls_poll(pl, np, ready, &nr) == 0 && nr >= 1);
        for (size_t i = 0; i < np; i++)
            wasitls_pollable_free(pl[i]);
        for (int i = 0; i < 2; i++) {
            struct pump *p = ps[i];
            if (p->sent < total) {
                int64_t room = p->out->ops->check_write(p->out, &err);
                CHECK(room >= 0);
                size_t want =
                    (size_t)(total - p->sent) < 150000 ? (size_t)(total - p->sent) : 150000;
                if ((size_t)room < want) p->partial_writes++;
                size_t k = (size_t)room < want ? (size_t)room : want;
                for (size_t j = 0; j < k; j++)
                    buf[j] = pattern(p->sent + j + (uint64_t)i);
                if (k) {
                    CHECK(p->out->ops->write(p->out, buf, k, &err) == 0);
                    p->hash_out = fnv(p->hash_out, buf, k);
                    p->sent += k;
                }
            }
            if (p->got < total) {
                int64_t r = p->in->ops->read(p->in, buf, sizeof buf, &err);
                CHECK(r >= 0);
                p->hash_in = fnv(p->hash_in, buf, (size_t)r);
                p->got += (uint64_t)r;
            }
        }
        rounds++;
    }
    CHECK(wasitls_ostream_flush_blocking(pa.out, &err) == 0);
    CHECK(pa.hash_out == pb.hash_in && pb.hash_out == pa.hash_in);
    CHECK(pa.partial_writes > 0 || pb.partial_writes > 0);
    fprintf(stderr, "tcp_loopback: 2x%llu bytes in %d rounds, partial writes %llu/%llu\n",
            (unsigned long long)total, rounds, (unsigned long long)pa.partial_writes,
            (unsigned long long)pb.partial_writes);
    CHECK(wasitls_istream_free(pa.in) == 0 && wasitls_ostream_free(pa.out) == 0);
    CHECK(wasitls_istream_free(pb.in) == 0 && wasitls_ostream_free(pb.out) == 0);
    /* EOF after the peer shuts down its side */
    CHECK(shutdown(b, SHUT_WR) == 0);
    wasitls_istream *in = wasitls_istream_fd(a, false);
    uint8_t c;
    CHECK(wasitls_istream_read_blocking(in, &c, 1, &err) == WASITLS_E_CLOSED);
    CHECK(wasitls_istream_free(in) == 0);
    close(b);
}

/* ---- 1,000 pollables in one poll ---- */

static void t_many_pollables(void)
{
    enum { N = 1000 };
    static int sv[N][2];
    static wasitls_istream *ins[N];
    static wasitls_pollable *pl[N + 1];
    static uint32_t ready[N + 1];
    for (int i = 0; i < N; i++) {
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv[i]) == 0);
        ins[i] = wasitls_istream_fd(sv[i][0], false);
        pl[i] = wasitls_istream_subscribe(ins[i]);
        CHECK(ins[i] && pl[i]);
    }
    size_t nr;
    uint64_t t0 = wasitls_now_ns();
    pl[N] = wasitls_pollable_deadline(t0 + 50 * 1000000ull);
    CHECK(wasitls_poll(pl, N + 1, ready, &nr) == 0);
    CHECK(nr == 1 && ready[0] == N);
    CHECK(wasitls_now_ns() - t0 >= 50 * 1000000ull);
    wasitls_pollable_free(pl[N]);
    pl[N] = wasitls_pollable_deadline(wasitls_now_ns() + 10ull * 1000000000ull);
    for (int round = 0; round < 20; round++) {
        /* one peer writes: exactly that pollable is reported */
        int k = (round * 397 + 11) % N;
        CHECK(write(sv[k][1], "z", 1) == 1);
        CHECK(wasitls_poll(pl, N + 1, ready, &nr) == 0);
        CHECK(nr == 1 && ready[0] == (uint32_t)k);
        uint8_t c;
        wasitls_ioerr *err = NULL;
        CHECK(ins[k]->ops->read(ins[k], &c, 1, &err) == 1);
    }
    /* several at once come back ascending */
    int ks[] = {999, 3, 500, 0, 250};
    for (int i = 0; i < 5; i++)
        CHECK(write(sv[ks[i]][1], "z", 1) == 1);
    CHECK(wasitls_poll(pl, N + 1, ready, &nr) == 0);
    CHECK(nr == 5 && ready[0] == 0 && ready[1] == 3 && ready[2] == 250 && ready[3] == 500 &&
          ready[4] == 999);
    /* closing a peer makes the reader ready (EOF) */
    for (int i = 0; i < 5; i++) {
        uint8_t c;
        wasitls_ioerr *err = NULL;
        CHECK(ins[ks[i]]->ops->read(ins[ks[i]], &c, 1, &err) == 1);
    }
    close(sv[42][1]);
    CHECK(wasitls_poll(pl, N + 1, ready, &nr) == 0);
    CHECK(nr == 1 && ready[0] == 42);
    /* fd numbers reused by new files after a close must still be watched */
    wasitls_pollable_free(pl[42]);
    CHECK(wasitls_istream_free(ins[42]) == 0);
    int nv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, nv) == 0);
    ins[42] = wasitls_istream_fd(nv[0], false);
    pl[42] = wasitls_istream_subscribe(ins[42]);
    sv[42][1] = nv[1];
    wasitls_pollable *dl = wasitls_pollable_deadline(wasitls_now_ns() + 20 * 1000000ull);
    wasitls_pollable *saved = pl[N];
    pl[N] = dl;
    CHECK(wasitls_poll(pl, N + 1, ready, &nr) == 0 && nr == 1 && ready[0] == N);
    CHECK(write(nv[1], "z", 1) == 1);
    pl[N] = saved;
    CHECK(wasitls_poll(pl, N + 1, ready, &nr) == 0);
    CHECK(nr == 1 && ready[0] == 42);
    uint64_t t1 = wasitls_now_ns();
    for (int i = 0; i < 100; i++)
        CHECK(wasitls_poll(pl, N + 1, ready, &nr) == 0 && nr == 1);
    fprintf(stderr, "many_pollables: a ready poll over %d pollables takes %.1f us\n", N + 1,
            (double)(wasitls_now_ns() - t1) / 100 / 1000);
    wasitls_pollable_free(dl);
    for (int i = 0; i <= N; i++)
        wasitls_pollable_free(pl[i]);
    for (int i = 0; i < N; i++) {
        CHECK(wasitls_istream_free(ins[i]) == 0);
        close(sv[i][1]);
    }
}

/* ---- parent/child lifetimes ---- */

/* Bytes a stream buffered go on to the kernel while the caller waits on something else: a
 * writer that flushed and then waits only for the reply must not wait forever. */
static void t_background_drain(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    wasitls_ostream *out = wasitls_ostream_fd(sv[0], false);
    wasitls_ioerr *err = NULL;
    static uint8_t chunk[16384];
    memset(chunk, 'b', sizeof chunk);
    /* fill the socket, then the stream's own buffer */
    size_t written = 0;
    for (int i = 0; i < 100000; i++) {
        int64_t room = out->ops->check_write(out, &err);
        CHECK(room >= 0);
        if (room < (int64_t)sizeof chunk) break;
        CHECK(out->ops->write(out, chunk, sizeof chunk, &err) == 0);
        written += sizeof chunk;
    }
    CHECK(out->ops->flush(out, &err) == 0);
    CHECK(out->ops->check_write(out, &err) == 0); /* bytes are held in the stream */
    /* the reader takes everything the kernel has, touching nothing of the writer's */
    static uint8_t sink[1 << 16];
    size_t got = 0;
    ssize_t r;
    while ((r = read(sv[1], sink, sizeof sink)) > 0)
        got += (size_t)r;
    CHECK(got < written);
    /* a wait on something unrelated: the held bytes move meanwhile */
    for (int round = 0; round < 1000 && got < written; round++) {
        wasitls_pollable *d = wasitls_pollable_deadline(wasitls_now_ns() + 2000000);
        CHECK(wasitls_pollable_block(d) == 0);
        wasitls_pollable_free(d);
        while ((r = read(sv[1], sink, sizeof sink)) > 0)
            got += (size_t)r;
    }
    CHECK(got == written);
    CHECK(out->ops->check_write(out, &err) > 0); /* the flush completed on its own */
    CHECK(wasitls_ostream_free(out) == 0);
    close(sv[1]);
}

static void t_children(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    wasitls_istream *in = wasitls_istream_fd(p[0], false);
    wasitls_ostream *out = wasitls_ostream_fd(p[1], false);
    wasitls_pollable *a = wasitls_istream_subscribe(in);
    wasitls_pollable *b = wasitls_istream_subscribe(in);
    wasitls_pollable *c = wasitls_ostream_subscribe(out);
    CHECK(in->children == 2 && out->children == 1);
    CHECK(wasitls_istream_free(in) == WASITLS_E_BUSY);
    CHECK(wasitls_ostream_free(out) == WASITLS_E_BUSY);
    wasitls_pollable_free(a);
    CHECK(wasitls_istream_free(in) == WASITLS_E_BUSY);
    wasitls_pollable_free(b);
    wasitls_pollable_free(c);
    CHECK(in->children == 0 && out->children == 0);
    CHECK(wasitls_istream_free(in) == 0);
    CHECK(wasitls_ostream_free(out) == 0);
    wasitls_pollable_free(NULL);
}

/* ---- blocking helpers ---- */

static void *late_writer(void *p)
{
    usleep(30000);
    CHECK(write(*(int *)p, "late", 4) == 4);
    return NULL;
}

static void t_blocking_helpers(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    wasitls_istream *in = wasitls_istream_fd(sv[0], false);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, late_writer, &sv[1]) == 0);
    uint8_t buf[16];
    wasitls_ioerr *err = NULL;
    uint64_t t0 = wasitls_now_ns();
    CHECK(wasitls_istream_read_blocking(in, buf, sizeof buf, &err) == 4);
    CHECK(wasitls_now_ns() - t0 >= 20 * 1000000ull);
    CHECK(memcmp(buf, "late", 4) == 0);
    pthread_join(th, NULL);
    CHECK(wasitls_istream_free(in) == 0);
    close(sv[1]);
}

/* A borrowed blocking pipe (how the host's stdio usually looks): gated mode must neither block
 * nor flip O_NONBLOCK on the shared file. */
static uint8_t gated_big[1 << 20];

static void *gated_writer(void *p)
{
    int fd = *(int *)p;
    size_t off = 0;
    while (off < sizeof gated_big) {
        ssize_t n = write(fd, gated_big + off, sizeof gated_big - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    close(fd);
    return NULL;
}

static void t_stdio_gated(void)
{
    for (size_t i = 0; i < sizeof gated_big; i++)
        gated_big[i] = pattern(i);
    int p[2];
    CHECK(pipe(p) == 0);
    wasitls_ostream *out = wasitls_ostream_fd(p[1], true);
    wasitls_istream *in = wasitls_istream_fd(p[0], true);
    CHECK(!(fcntl(p[1], F_GETFL) & O_NONBLOCK));
    CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
    uint8_t buf[4096];
    wasitls_ioerr *err = NULL;
    CHECK(in->ops->read(in, buf, sizeof buf, &err) == 0); /* nothing there: no blocking */
    /* Fill pipe and stream buffer; every call returns at once. */
    uint64_t sent = 0;
    int zero_permits = 0;
    for (int i = 0; i < 1000 && sent < sizeof gated_big; i++) {
        int64_t room = out->ops->check_write(out, &err);
        CHECK(room >= 0);
        if (room == 0) {
            zero_permits++;
            break;
        }
        size_t k = (size_t)room < sizeof gated_big - sent ? (size_t)room : sizeof gated_big - sent;
        CHECK(out->ops->write(out, gated_big + sent, k, &err) == 0);
        sent += k;
    }
    CHECK(zero_permits == 1 && sent < sizeof gated_big);
    CHECK(!out->ops->ready(out));
    /* The reader drains; the rest goes through the blocking helper. */
    uint64_t got = 0;
    while (sent < sizeof gated_big || got < sent) {
        int64_t r = in->ops->read(in, buf, sizeof buf, &err);
        CHECK(r >= 0);
        CHECK(memcmp(buf, gated_big + got, (size_t)r) == 0);
        got += (uint64_t)r;
        if (sent < sizeof gated_big) {
            int64_t room = out->ops->check_write(out, &err);
            CHECK(room >= 0);
            size_t k =
                (size_t)room < sizeof gated_big - sent ? (size_t)room : sizeof gated_big - sent;
            CHECK(out->ops->write(out, gated_big + sent, k, &err) == 0);
            sent += k;
        } else {
            CHECK(out->ops->flush(out, &err) == 0);
            (void)out->ops->check_write(out, &err);
        }
    }
    CHECK(got == sizeof gated_big);
    CHECK(wasitls_istream_free(in) == 0);
    CHECK(wasitls_ostream_free(out) == 0);
    close(p[0]);
    close(p[1]);

    /* reading a blocking pipe fed by a plain writer, to EOF */
    int q[2];
    CHECK(pipe(q) == 0);
    in = wasitls_istream_fd(q[0], true);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, gated_writer, &q[1]) == 0);
    got = 0;
    for (;;) {
        int64_t r = wasitls_istream_read_blocking(in, buf, sizeof buf, &err);
        if (r == WASITLS_E_CLOSED) break;
        CHECK(r > 0);
        CHECK(memcmp(buf, gated_big + got, (size_t)r) == 0);
        got += (uint64_t)r;
    }
    pthread_join(th, NULL);
    CHECK(got == sizeof gated_big);
    CHECK(wasitls_istream_free(in) == 0);
    close(q[0]);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"errors", t_errors},
        {"deadline", t_deadline},
        {"pipe_rw", t_pipe_rw},
        {"pipe_eof", t_pipe_eof},
        {"pipe_epipe", t_pipe_epipe},
        {"flush_rule", t_flush_rule},
        {"socketpair_partial", t_socketpair_partial},
        {"socket_reset", t_socket_reset},
        {"tcp_loopback", t_tcp_loopback},
        {"many_pollables", t_many_pollables},
        {"children", t_children},
        {"background_drain", t_background_drain},
        {"blocking_helpers", t_blocking_helpers},
        {"stdio_gated", t_stdio_gated},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (argc < 2 || strcmp(argv[1], tests[i].name) == 0) {
            tests[i].fn();
            if (argc >= 2) return 0;
        }
    }
    if (argc >= 2) {
        fprintf(stderr, "unknown test %s\n", argv[1]);
        return 2;
    }
    return 0;
}
