/* tls-probe: a guest that calls wasi:tls/types@0.2.0-draft directly (the raw imports the SDK
 * lowers in guest/src/wit.h), to hold the host to the semantics the WIT leaves open.
 *
 *   tls-probe api PORT               against an echo server for "localhost"
 *   tls-probe many PORT N            N concurrent handshakes polled together, then echoes
 *   tls-probe pending PORT           against a silent server: get is none until the end
 *   tls-probe fail PORT NAME         a handshake that must fail: prints the io-error text
 *   tls-probe future-pollable PORT   drops the future while its pollable lives (host traps)
 *   tls-probe finish-twice PORT      finishes a consumed handshake (host traps)
 *   tls-probe stream-pollable PORT   hands over a stream that has a live pollable (host traps)
 *
 * Prints "probe ok" and exits 0 when every expectation held; otherwise says which did not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasitls_guest.h"
#include "wit.h"

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("probe: line %d: expected %s\n", __LINE__, #cond);                              \
            wasitls_exit(1);                                                                       \
        }                                                                                          \
    } while (0)

static void tcp_connect(int port, wit_handle *in, wit_handle *out, wit_handle *sock)
{
    struct wit_ret_sock_handle s;
    wit_create_tcp_socket(0 /* ipv4 */, &s);
    EXPECT(!s.is_err);
    *sock = s.u.ok;
    struct wit_ret_sock_unit r;
    wit_tcp_start_connect(*sock, wasitls__network(), WIT_IPV4, port, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                          &r);
    EXPECT(!r.is_err);
    wit_handle p = wit_tcp_subscribe(*sock);
    struct wit_ret_finish_connect f;
    for (;;) {
        wit_pollable_block(p);
        wit_tcp_finish_connect(*sock, &f);
        if (!f.is_err || f.u.code != 8 /* would-block */) break;
    }
    wit_pollable_drop(p);
    EXPECT(!f.is_err);
    *in = f.u.ok.in;
    *out = f.u.ok.out;
}

static void debug_string(wit_handle err, char *buf, size_t len)
{
    struct wit_list s = {0, 0};
    wit_error_to_debug_string(err, &s);
    snprintf(buf, len, "%.*s", (int)s.len, (const char *)s.ptr);
    free(s.ptr);
}

static void api(int port)
{
    EXPECT(wit_tls_is_available() == 1);
    wit_handle in, out, sock;
    tcp_connect(port, &in, &out, &sock);
    wit_handle hs = wit_tls_handshake_new("localhost", 9, in, out);
    wit_handle fut = wit_tls_handshake_finish(hs);
    struct wit_ret_tls_get g;
    /* Spinning on get without ever polling completes (get makes progress). A fast server may
     * even finish within the first call; `pending` checks none before the end. */
    wit_tls_future_get(fut, &g);
    uint64_t t0 = wit_clock_now();
    while (!g.is_some && wit_clock_now() - t0 < 10000000000ull)
        wit_tls_future_get(fut, &g);
    EXPECT(g.is_some && !g.outer.is_err);
    if (g.outer.inner.is_err) {
        char msg[512];
        debug_string(g.outer.inner.u.err, msg, sizeof msg);
        printf("probe: handshake failed: %s\n", msg);
        wasitls_exit(1);
    }
    wit_handle conn = g.outer.inner.u.ok.conn, tin = g.outer.inner.u.ok.in,
               tout = g.outer.inner.u.ok.out;
    /* Once only: later calls return some(err). */
    wit_tls_future_get(fut, &g);
    EXPECT(g.is_some && g.outer.is_err);
    wit_tls_future_get(fut, &g);
    EXPECT(g.is_some && g.outer.is_err);
    /* The streams are ordinary wasi:io streams. */
    struct wit_ret_unit w;
    wit_output_blocking_write_and_flush(tout, "ping\n", 5, &w);
    EXPECT(!w.is_err);
    char got[16];
    size_t n = 0;
    while (n < 5) {
        struct wit_ret_read r;
        wit_input_blocking_read(tin, sizeof got - n, &r);
        EXPECT(!r.is_err);
        memcpy(got + n, r.u.ok.ptr, r.u.ok.len);
        n += r.u.ok.len;
        free(r.u.ok.ptr);
    }
    EXPECT(memcmp(got, "ping\n", 5) == 0);
    wit_handle pin = wit_input_subscribe(tin);
    wit_handle pout = wit_output_subscribe(tout);
    /* close-output: close_notify after pending data, idempotent; output says closed after. */
    wit_tls_close_output(conn);
    wit_tls_close_output(conn);
    struct wit_ret_u64 cw;
    wit_output_check_write(tout, &cw);
    EXPECT(cw.is_err && cw.u.err.tag == WIT_STREAM_ERROR_CLOSED);
    /* The echo server answers our close_notify with its own: closed, not an error. */
    wit_pollable_block(pin);
    struct wit_ret_read r;
    wit_input_blocking_read(tin, 16, &r);
    EXPECT(r.is_err && r.u.err.tag == WIT_STREAM_ERROR_CLOSED);
    /* Drop the connection before its streams and the future last: defined, no trap. */
    wit_tls_connection_drop(conn);
    wit_pollable_drop(pin);
    wit_pollable_drop(pout);
    wit_input_drop(tin);
    wit_output_drop(tout);
    wit_tls_future_drop(fut);
    wit_tcp_drop(sock);
}

static void fail(int port, const char *name)
{
    wit_handle in, out, sock;
    tcp_connect(port, &in, &out, &sock);
    wit_handle hs = wit_tls_handshake_new(name, (uint32_t)strlen(name), in, out);
    wit_handle fut = wit_tls_handshake_finish(hs);
    wit_handle p = wit_tls_future_subscribe(fut);
    /* Polled together with an always-ready pollable: the result must not get lost. */
    wit_handle now = wit_clock_subscribe_duration(0);
    struct wit_ret_tls_get g = {0};
    uint64_t t0 = wit_clock_now();
    while (!g.is_some && wit_clock_now() - t0 < 10000000000ull) {
        wit_handle ps[2] = {now, p};
        struct wit_list ready;
        wit_poll(ps, 2, &ready);
        free(ready.ptr);
        wit_tls_future_get(fut, &g);
    }
    EXPECT(g.is_some && !g.outer.is_err && g.outer.inner.is_err);
    char msg[1024];
    debug_string(g.outer.inner.u.err, msg, sizeof msg);
    wit_error_drop(g.outer.inner.u.err);
    printf("probe: io-error: %s\n", msg);
    EXPECT(msg[0] != '\0');
    wit_tls_future_get(fut, &g);
    EXPECT(g.is_some && g.outer.is_err);
    wit_pollable_drop(now);
    wit_pollable_drop(p);
    wit_tls_future_drop(fut);
    wit_tcp_drop(sock);
}

/* Against a server that never answers: get says none, again and again, without polling; then
 * everything is dropped while the handshake is still pending. */
static void pending(int port)
{
    wit_handle in, out, sock;
    tcp_connect(port, &in, &out, &sock);
    wit_handle fut = wit_tls_handshake_finish(wit_tls_handshake_new("localhost", 9, in, out));
    for (int i = 0; i < 1000; i++) {
        struct wit_ret_tls_get g;
        memset(&g, 0x55, sizeof g);
        wit_tls_future_get(fut, &g);
        EXPECT(g.is_some == 0);
    }
    wit_handle p = wit_tls_future_subscribe(fut);
    EXPECT(wit_pollable_ready(p) == 0);
    wit_pollable_drop(p);
    wit_tls_future_drop(fut);
    wit_tcp_drop(sock);
}

/* N handshakes at once in one guest: all futures polled together, then an echo on each. */
static void many(int port, int n)
{
    enum { MAX = 128 };
    EXPECT(n > 0 && n <= MAX);
    static wit_handle sock[MAX], fut[MAX], pol[MAX], conn[MAX], tin[MAX], tout[MAX];
    static int idx[MAX];
    for (int i = 0; i < n; i++) {
        wit_handle in, out;
        tcp_connect(port, &in, &out, &sock[i]);
        fut[i] = wit_tls_handshake_finish(wit_tls_handshake_new("localhost", 9, in, out));
        pol[i] = wit_tls_future_subscribe(fut[i]);
        idx[i] = i;
    }
    int live = n;
    uint64_t t0 = wit_clock_now();
    while (live > 0) {
        EXPECT(wit_clock_now() - t0 < 30000000000ull);
        wit_handle ps[MAX];
        for (int k = 0; k < live; k++)
            ps[k] = pol[idx[k]];
        struct wit_list ready;
        wit_poll(ps, (uint32_t)live, &ready);
        const uint32_t *r = ready.ptr;
        /* remove from the highest index down so the others stay valid */
        for (uint32_t k = ready.len; k-- > 0;) {
            int i = idx[r[k]];
            struct wit_ret_tls_get g;
            wit_tls_future_get(fut[i], &g);
            EXPECT(g.is_some && !g.outer.is_err);
            if (g.outer.inner.is_err) {
                char msg[512];
                debug_string(g.outer.inner.u.err, msg, sizeof msg);
                printf("probe: connection %d: %s\n", i, msg);
                wasitls_exit(1);
            }
            conn[i] = g.outer.inner.u.ok.conn;
            tin[i] = g.outer.inner.u.ok.in;
            tout[i] = g.outer.inner.u.ok.out;
            wit_pollable_drop(pol[i]);
            wit_tls_future_drop(fut[i]);
            idx[r[k]] = idx[--live];
        }
        free(ready.ptr);
    }
    printf("probe: %d handshakes in %.3f s\n", n, (wit_clock_now() - t0) / 1e9);
    for (int i = 0; i < n; i++) {
        char text[32];
        int len = snprintf(text, sizeof text, "connection %d\n", i);
        struct wit_ret_unit w;
        wit_output_blocking_write_and_flush(tout[i], text, (uint32_t)len, &w);
        EXPECT(!w.is_err);
        char got[32];
        int have = 0;
        while (have < len) {
            struct wit_ret_read rd;
            wit_input_blocking_read(tin[i], (uint64_t)(len - have), &rd);
            EXPECT(!rd.is_err);
            memcpy(got + have, rd.u.ok.ptr, rd.u.ok.len);
            have += (int)rd.u.ok.len;
            free(rd.u.ok.ptr);
        }
        EXPECT(memcmp(got, text, (size_t)len) == 0);
        wit_input_drop(tin[i]);
        wit_output_drop(tout[i]);
        wit_tls_connection_drop(conn[i]);
        wit_tcp_drop(sock[i]);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        printf("usage: tls-probe MODE PORT [NAME]\n");
        wasitls_exit(64);
    }
    int port = atoi(argv[2]);
    if (!strcmp(argv[1], "api")) {
        api(port);
    } else if (!strcmp(argv[1], "many") && argc > 3) {
        many(port, atoi(argv[3]));
    } else if (!strcmp(argv[1], "pending")) {
        pending(port);
    } else if (!strcmp(argv[1], "fail") && argc > 3) {
        fail(port, argv[3]);
    } else if (!strcmp(argv[1], "future-pollable")) {
        wit_handle in, out, sock;
        tcp_connect(port, &in, &out, &sock);
        wit_handle fut = wit_tls_handshake_finish(wit_tls_handshake_new("localhost", 9, in, out));
        wit_handle p = wit_tls_future_subscribe(fut);
        (void)p;
        wit_tls_future_drop(fut); /* the host must trap here */
        printf("probe: no trap\n");
        wasitls_exit(1);
    } else if (!strcmp(argv[1], "finish-twice")) {
        wit_handle in, out, sock;
        tcp_connect(port, &in, &out, &sock);
        wit_handle hs = wit_tls_handshake_new("localhost", 9, in, out);
        wit_handle fut = wit_tls_handshake_finish(hs);
        (void)fut;
        wit_tls_handshake_finish(hs); /* consumed: the host must trap here */
        printf("probe: no trap\n");
        wasitls_exit(1);
    } else if (!strcmp(argv[1], "stream-pollable")) {
        wit_handle in, out, sock;
        tcp_connect(port, &in, &out, &sock);
        wit_handle p = wit_input_subscribe(in);
        (void)p;
        wit_tls_handshake_new("localhost", 9, in, out); /* the host must trap here */
        printf("probe: no trap\n");
        wasitls_exit(1);
    } else {
        printf("unknown mode %s\n", argv[1]);
        wasitls_exit(64);
    }
    printf("probe ok\n");
    wasitls_exit(0);
}
