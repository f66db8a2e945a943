/* The guest side of the TLS benchmarks: bench_native.c's work through wasi:sockets + wasi:tls
 * (the guest SDK). The CA is host policy: pass it with `wasitls run --tls-ca`.
 *
 *   bench-guest recv PORT BYTES | send PORT BYTES | handshakes PORT SECS | concurrent PORT N
 *
 * Output lines are those of bench_native, so bench/run.sh reads both the same way.
 */
#include "wasitls_guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench-guest: %s: %s\n", what, wasitls_errmsg());
    return 1;
}

static uint16_t port;

static int bulk(int receiving, unsigned long long bytes)
{
    static char buf[65536];
    wasitls_conn *c;
    if (wasitls_tls_connect("127.0.0.1", port, "localhost", &c))
        return fail("connect");
    char line[64];
    int n = snprintf(line, sizeof line, "%s %llu\n", receiving ? "SEND" : "RECV", bytes);
    double t0 = now();
    if (wasitls_write_all(c, line, (size_t)n))
        return fail("write");
    unsigned long long done = 0;
    if (receiving) {
        ssize_t r;
        while ((r = wasitls_read(c, buf, sizeof buf)) > 0)
            done += (unsigned long long)r;
        if (r != WASITLS_CLOSED || done != bytes) {
            fprintf(stderr, "received %llu of %llu bytes\n", done, bytes);
            return fail("read");
        }
    } else {
        memset(buf, 'y', sizeof buf);
        while (done < bytes) {
            size_t want = bytes - done < sizeof buf ? (size_t)(bytes - done) : sizeof buf;
            if (wasitls_write_all(c, buf, want))
                return fail("write");
            done += want;
        }
        char ok[3];
        if (wasitls_read_full(c, ok, 3) || memcmp(ok, "OK\n", 3))
            return fail("read OK");
    }
    printf("%.6f\n", now() - t0);
    if (wasitls_close_output(c))
        return fail("close");
    wasitls_close(c);
    return 0;
}

static int handshakes(double secs)
{
    double t0 = now();
    long count = 0;
    while (now() - t0 < secs) {
        wasitls_conn *c;
        if (wasitls_tls_connect("127.0.0.1", port, "localhost", &c))
            return fail("connect");
        if (wasitls_close_output(c))
            return fail("close");
        wasitls_close(c);
        count++;
    }
    printf("%ld %.6f\n", count, now() - t0);
    return 0;
}

enum { C_CONNECT, C_HANDSHAKE, C_PING, C_PONG, C_DONE, C_FAILED };

static int concurrent(int n)
{
    struct wasitls_addr addr;
    size_t naddr;
    if (wasitls_resolve("127.0.0.1", port, &addr, 1, &naddr) || naddr != 1)
        return fail("resolve");
    wasitls_conn **c = calloc((size_t)n, sizeof *c);
    int *st = calloc((size_t)n, sizeof *st);
    size_t *got = calloc((size_t)n, sizeof *got);
    struct wasitls_pollitem *items = calloc((size_t)n, sizeof *items);
    if (!c || !st || !got || !items)
        return fail("out of memory");
    double t0 = now();
    int pending = n, done = 0;
    for (int i = 0; i < n; i++) {
        int r = wasitls_tcp_connect_start(&addr, &c[i]);
        if (r && r != WASITLS_AGAIN)
            st[i] = C_FAILED, pending--;
    }
    while (pending > 0) {
        size_t np = 0;
        for (int i = 0; i < n; i++) {
            int r = WASITLS_OK;
            while (r == WASITLS_OK && st[i] != C_DONE && st[i] != C_FAILED) {
                switch (st[i]) {
                case C_CONNECT:
                    if ((r = wasitls_conn_advance(c[i])) == WASITLS_OK) {
                        r = wasitls_tls_start(c[i], "localhost");
                        if (r == WASITLS_OK || r == WASITLS_AGAIN)
                            st[i] = C_HANDSHAKE, r = WASITLS_OK;
                    }
                    break;
                case C_HANDSHAKE:
                    if ((r = wasitls_conn_advance(c[i])) == WASITLS_OK)
                        st[i] = C_PING;
                    break;
                case C_PING: {
                    ssize_t w = wasitls_try_write(c[i], "PING\n", 5);
                    if (w == 5 && (r = wasitls_flush(c[i])) == WASITLS_OK)
                        st[i] = C_PONG;
                    else if (w >= 0 && w != 5)
                        r = WASITLS_ERR_IO;
                    else if (w < 0)
                        r = (int)w;
                    break;
                }
                case C_PONG: {
                    char b[8];
                    ssize_t rd = wasitls_try_read(c[i], b, 5 - got[i]);
                    if (rd > 0 && (got[i] += (size_t)rd) == 5)
                        st[i] = C_DONE, done++, pending--;
                    else if (rd <= 0)
                        r = (int)rd;
                    break;
                }
                }
            }
            if (r == WASITLS_AGAIN) {
                items[np].conn = c[i];
                items[np].events = st[i] == C_PING ? WASITLS_POLLOUT : WASITLS_POLLIN;
                np++;
            } else if (r != WASITLS_OK) {
                fprintf(stderr, "connection %d: %s\n", i, wasitls_errmsg());
                st[i] = C_FAILED, pending--;
            }
        }
        if (pending > 0 && wasitls_poll(items, np, 30000) <= 0)
            break;
    }
    printf("%d %.6f\n", done, now() - t0);
    fflush(stdout);
    for (int i = 0; i < n; i++)
        wasitls_close(c[i]);
    return done == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench-guest recv|send|handshakes|concurrent PORT ARG\n");
        return 64;
    }
    port = (uint16_t)atoi(argv[2]);
    if (!strcmp(argv[1], "recv") || !strcmp(argv[1], "send"))
        return bulk(argv[1][0] == 'r', strtoull(argv[3], NULL, 10));
    if (!strcmp(argv[1], "handshakes"))
        return handshakes(atof(argv[3]));
    if (!strcmp(argv[1], "concurrent"))
        return concurrent(atoi(argv[3]));
    return 64;
}
