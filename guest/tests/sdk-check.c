/* sdk-check CASE ARGS... — checks of the guest SDK's own contract, run by tests/examples.sh
 * against local servers. Prints "ok CASE" and exits 0 when every expectation holds; otherwise
 * says which one failed and exits 1.
 *
 *   refused PORT            connect to 127.0.0.1:PORT (nothing listening): ERR_SOCKET,
 *                           connection-refused, a message naming the address
 *   timeout PORT            plain TCP to a server that stays silent: a 300 ms poll returns 0
 *                           after at least 300 ms; try_read says AGAIN
 *   plain-redis PORT        redis without TLS: PING/+PONG with non-blocking writes, read_full,
 *                           then shutdown(send) via close_output and CLOSED from the server
 *   tls-misuse PORT         TLS to localhost:PORT: a second handshake and calls on a NULL
 *                           connection are refused with ERR_INVALID, not traps
 *   fread-poll DIR          writes DIR/fread-poll.bin, reads it back with fread in 32 KiB steps
 *                           and a wasitls_poll between them (the host then calls cabi_realloc,
 *                           which must not disturb the C library): every byte is checked
 *   send-close plain|tls PORT TOTAL
 *                           writes TOTAL bytes (byte i is i % 251) to 127.0.0.1:PORT, closes
 *                           the output and the connection and exits, never reading what the
 *                           server said (tests/slow-sink.py checks that everything arrived)
 *   sessions PORT N         N connections in turn to `openssl s_server -www` on localhost:PORT,
 *                           each reading the whole page: prints "new" or "reused" for each, as
 *                           the page says (the host decides whether sessions are resumed)
 *   names                   non-UTF-8 and malformed names are refused before reaching the host
 *   shortreads plain|tls PORT TOTAL
 *                           a server that sends TOTAL bytes (byte i is i % 251) in odd-sized
 *                           chunks with pauses, then closes: 64 KiB reads come back short many
 *                           times, mixed with small and non-blocking reads; every byte, the
 *                           total and the untouched rest of the buffer are checked
 *
 * Built twice: sdk-check, and sdk-check-plain with -DSDK_CHECK_NO_TLS (no tls-misuse, no
 * shortreads tls), which calls no wasitls_tls_* function, so its component imports no
 * wasi:tls and runs without -S tls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasitls_guest.h"

static const char *which;

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "sdk-check %s: line %d: expected %s (last error: %s)\n", which,        \
                    __LINE__, #cond, wasitls_errmsg());                                            \
            wasitls_exit(1);                                                                       \
        }                                                                                          \
    } while (0)

static uint16_t port_arg(int argc, char **argv)
{
    EXPECT(argc >= 3);
    int p = atoi(argv[2]);
    EXPECT(p > 0 && p < 65536);
    return (uint16_t)p;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void refused(uint16_t port)
{
    wasitls_conn *c = (wasitls_conn *)1;
    int r = wasitls_tcp_connect("127.0.0.1", port, &c);
    EXPECT(r == WASITLS_ERR_SOCKET);
    EXPECT(c == NULL);
    EXPECT(strcmp(wasitls_socket_error_name(wasitls_last_socket_error()), "connection-refused") ==
           0);
    EXPECT(strstr(wasitls_errmsg(), "127.0.0.1") != NULL);
    EXPECT(strstr(wasitls_errmsg(), "connection-refused") != NULL);
}

static void timeout(uint16_t port)
{
    wasitls_conn *c;
    EXPECT(wasitls_tcp_connect("127.0.0.1", port, &c) == WASITLS_OK);
    char b[16];
    EXPECT(wasitls_try_read(c, b, sizeof b) == WASITLS_AGAIN);
    struct wasitls_pollitem it = {c, WASITLS_POLLIN, 0};
    double t0 = now_ms();
    EXPECT(wasitls_poll(&it, 1, 300) == 0);
    double dt = now_ms() - t0;
    EXPECT(dt >= 290);
    EXPECT(it.revents == 0);
    wasitls_close(c);
}

static void plain_redis(uint16_t port)
{
    wasitls_conn *c;
    EXPECT(wasitls_tcp_connect("localhost", port, &c) == WASITLS_OK);
    EXPECT(!wasitls_conn_is_tls(c));
    static const char ping[] = "PING\r\n";
    size_t sent = 0;
    while (sent < sizeof ping - 1) {
        ssize_t n = wasitls_try_write(c, ping + sent, sizeof ping - 1 - sent);
        if (n == WASITLS_AGAIN) {
            struct wasitls_pollitem it = {c, WASITLS_POLLOUT, 0};
            EXPECT(wasitls_poll(&it, 1, 5000) == 1);
            continue;
        }
        EXPECT(n > 0);
        sent += (size_t)n;
    }
    EXPECT(wasitls_flush(c) == WASITLS_OK);
    char pong[7];
    EXPECT(wasitls_read_full(c, pong, 7) == WASITLS_OK);
    EXPECT(memcmp(pong, "+PONG\r\n", 7) == 0);
    EXPECT(wasitls_close_output(c) == WASITLS_OK);
    EXPECT(wasitls_close_output(c) == WASITLS_OK); /* idempotent */
    EXPECT(wasitls_write_all(c, "x", 1) == WASITLS_ERR_INVALID);
    char b[16];
    EXPECT(wasitls_read(c, b, sizeof b) == WASITLS_CLOSED); /* redis closes after our FIN */
    wasitls_close(c);
}

#ifndef SDK_CHECK_NO_TLS
static void tls_misuse(uint16_t port)
{
    wasitls_conn *c;
    EXPECT(wasitls_tls_connect("localhost", port, NULL, &c) == WASITLS_OK);
    EXPECT(wasitls_conn_is_tls(c));
    EXPECT(wasitls_tls_handshake(c, "localhost") == WASITLS_ERR_INVALID);
    EXPECT(wasitls_conn_advance(c) == WASITLS_OK);
    EXPECT(wasitls_close_output(c) == WASITLS_OK);
    EXPECT(wasitls_close_output(c) == WASITLS_OK);
    wasitls_close(c);
    char b[4];
    EXPECT(wasitls_read(NULL, b, sizeof b) == WASITLS_ERR_INVALID);
    EXPECT(wasitls_write_all(NULL, b, sizeof b) == WASITLS_ERR_INVALID);
    EXPECT(wasitls_conn_advance(NULL) == WASITLS_ERR_INVALID);
    wasitls_close(NULL);
}

static void sessions(uint16_t port, int n)
{
    for (int i = 0; i < n; i++) {
        wasitls_conn *c;
        EXPECT(wasitls_tls_connect("localhost", port, NULL, &c) == WASITLS_OK);
        static const char req[] = "GET / HTTP/1.0\r\n\r\n";
        EXPECT(wasitls_write_all(c, req, sizeof req - 1) == WASITLS_OK);
        static char page[64 * 1024];
        size_t got = 0;
        ssize_t r;
        while ((r = wasitls_read(c, page + got, sizeof page - 1 - got)) > 0)
            got += (size_t)r;
        EXPECT(r == WASITLS_CLOSED && got > 0);
        page[got] = 0;
        /* s_server -www reports the session as "New, TLSv1.3, ..." or "Reused, ..." */
        int reused = strstr(page, "\nReused, ") != NULL;
        EXPECT(reused || strstr(page, "\nNew, ") != NULL);
        printf("%s\n", reused ? "reused" : "new");
        wasitls_close(c);
    }
}
#endif

/* The connection of a case with arguments plain|tls PORT TOTAL (argv[2..4]): plain TCP to
 * 127.0.0.1, or TLS to it as localhost. */
static wasitls_conn *connect_mode(int argc, char **argv, int *tls, long *total)
{
    EXPECT(argc >= 5);
    *tls = strcmp(argv[2], "tls") == 0;
    EXPECT(*tls || strcmp(argv[2], "plain") == 0);
    int p = atoi(argv[3]);
    EXPECT(p > 0 && p < 65536);
    *total = atol(argv[4]);
    EXPECT(*total > 0);
    wasitls_conn *c = NULL;
#ifdef SDK_CHECK_NO_TLS
    EXPECT(!*tls);
#else
    if (*tls) EXPECT(wasitls_tls_connect("127.0.0.1", (uint16_t)p, "localhost", &c) == WASITLS_OK);
#endif
    if (!*tls) EXPECT(wasitls_tcp_connect("127.0.0.1", (uint16_t)p, &c) == WASITLS_OK);
    return c;
}

static void send_close(int argc, char **argv)
{
    int tls;
    long total;
    wasitls_conn *c = connect_mode(argc, argv, &tls, &total);
    static unsigned char buf[251 * 256];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i % 251);
    for (long pos = 0; pos < total;) {
        size_t n = total - pos < (long)sizeof buf ? (size_t)(total - pos) : sizeof buf;
        EXPECT(wasitls_write_all(c, buf, n) == WASITLS_OK); /* whole periods: i % 251 holds */
        pos += (long)n;
    }
    EXPECT(wasitls_close_output(c) == WASITLS_OK);
    wasitls_close(c);
}

static void fread_poll(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fread-poll.bin", dir);
    enum { TOTAL = 3 * 1024 * 1024 + 12345, STEP = 32768 };
    FILE *f = fopen(path, "wb");
    EXPECT(f != NULL);
    for (long i = 0; i < TOTAL; i++)
        EXPECT(fputc((int)(i % 251), f) != EOF);
    EXPECT(fclose(f) == 0);
    f = fopen(path, "rb");
    EXPECT(f != NULL);
    static unsigned char buf[STEP];
    long pos = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < n; i++)
            if (buf[i] != (unsigned char)((pos + (long)i) % 251)) {
                fprintf(stderr, "sdk-check fread-poll: byte %ld is %u, want %u\n", pos + (long)i,
                        buf[i], (unsigned)((pos + (long)i) % 251));
                wasitls_exit(1);
            }
        pos += (long)n;
        EXPECT(wasitls_poll(NULL, 0, 0) == 0); /* the host returns a list: cabi_realloc */
    }
    EXPECT(pos == TOTAL);
    fclose(f);
    remove(path);
}

static void names(void)
{
    wasitls_conn *c;
    struct wasitls_addr a;
    size_t n;
    EXPECT(wasitls_tcp_connect("caf\xe9.example", 443, &c) == WASITLS_ERR_INVALID);
    EXPECT(wasitls_tcp_connect("\xed\xa0\x80.example", 443, &c) == WASITLS_ERR_INVALID);
    EXPECT(wasitls_resolve("[not-an-address]", 1, &a, 1, &n) == WASITLS_ERR_INVALID);
    EXPECT(wasitls_resolve("", 1, &a, 1, &n) == WASITLS_ERR_INVALID);
    EXPECT(wasitls_resolve("192.0.2.7", 8443, &a, 1, &n) == WASITLS_OK && n == 1);
    EXPECT(a.family == 4 && a.port == 8443 && a.bytes[3] == 7);
    EXPECT(wasitls_resolve("[2001:db8::1]", 1, &a, 1, &n) == WASITLS_OK && a.family == 6);
    char text[64];
    wasitls_addr_format(&a, text, sizeof text);
    EXPECT(strcmp(text, "[2001:db8::1]:1") == 0);
}

/* A read's bytes may land straight in the caller's buffer (wasitls__realloc_target) or be
 * copied there; either way a short read must fill exactly the first n bytes. */
static void shortreads(int argc, char **argv)
{
    int tls;
    long total;
    wasitls_conn *c = connect_mode(argc, argv, &tls, &total);
    EXPECT(!!wasitls_conn_is_tls(c) == tls);

    enum { BIG = 64 * 1024, GUARD = 256 };
    static unsigned char buf[BIG + 1 + GUARD];
    long pos = 0;
    unsigned reads = 0, short_big = 0;
    for (;;) {
        /* Every fourth read asks for a few bytes; the others for 64 KiB, some at an odd
         * address, some non-blocking. */
        size_t off = (reads % 3 == 1) ? 1 : 0;
        size_t len = (reads % 4 == 3) ? 1 + (reads * 37) % 300 : BIG;
        memset(buf, 0xA5, sizeof buf);
        ssize_t n;
        if (reads % 4 == 1) {
            n = wasitls_try_read(c, buf + off, len);
            if (n == WASITLS_AGAIN) {
                struct wasitls_pollitem it = {c, WASITLS_POLLIN, 0};
                EXPECT(wasitls_poll(&it, 1, 10000) == 1);
                reads++;
                continue;
            }
        } else {
            n = wasitls_read(c, buf + off, len);
        }
        reads++;
        if (n == WASITLS_CLOSED) break;
        EXPECT(n > 0 && (size_t)n <= len);
        EXPECT(pos + n <= total);
        if (len == BIG && (size_t)n < len) short_big++;
        for (size_t i = 0; i < off; i++)
            EXPECT(buf[i] == 0xA5);
        for (ssize_t i = 0; i < n; i++) {
            if (buf[off + i] != (unsigned char)((pos + i) % 251)) {
                fprintf(stderr, "sdk-check shortreads: byte %ld is %u, want %u (read %u of %zu)\n",
                        pos + (long)i, buf[off + i], (unsigned)((pos + i) % 251), reads, len);
                wasitls_exit(1);
            }
        }
        for (size_t i = off + (size_t)n; i < sizeof buf; i++)
            EXPECT(buf[i] == 0xA5);
        pos += n;
    }
    EXPECT(pos == total);
    EXPECT(short_big >= 10); /* the case is about short reads: make sure they happened */
    /* Still closed when asked again. */
    EXPECT(wasitls_read(c, buf, BIG) == WASITLS_CLOSED);
    EXPECT(wasitls_close_output(c) == WASITLS_OK);
    wasitls_close(c);
    fprintf(stderr, "sdk-check shortreads %s: %ld bytes in %u reads, %u short 64 KiB reads\n",
            argv[2], pos, reads, short_big);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sdk-check CASE ARGS...\n");
        wasitls_exit(64);
    }
    which = argv[1];
    if (strcmp(which, "refused") == 0)
        refused(port_arg(argc, argv));
    else if (strcmp(which, "timeout") == 0)
        timeout(port_arg(argc, argv));
    else if (strcmp(which, "plain-redis") == 0)
        plain_redis(port_arg(argc, argv));
#ifndef SDK_CHECK_NO_TLS
    else if (strcmp(which, "tls-misuse") == 0)
        tls_misuse(port_arg(argc, argv));
    else if (strcmp(which, "sessions") == 0 && argc > 3)
        sessions(port_arg(argc, argv), atoi(argv[3]));
#endif
    else if (strcmp(which, "names") == 0)
        names();
    else if (strcmp(which, "shortreads") == 0)
        shortreads(argc, argv);
    else if (strcmp(which, "send-close") == 0)
        send_close(argc, argv);
    else if (strcmp(which, "fread-poll") == 0 && argc > 2)
        fread_poll(argv[2]);
    else if (strcmp(which, "exit") == 0 && argc > 2)
        wasitls_exit(atoi(argv[2])); /* the host's exit status is checked from outside */
    else {
        fprintf(stderr, "sdk-check: unknown case %s\n", which);
        wasitls_exit(64);
    }
    printf("ok %s\n", which);
    return 0;
}
