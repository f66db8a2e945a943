/* Native baseline client for the benchmarks: the same work as bench_guest.c, with OpenSSL called
 * directly. Both verify the server's chain against CA and the name "localhost".
 *
 *   bench_native CA recv PORT BYTES        receive BYTES, print the seconds taken
 *   bench_native CA send PORT BYTES        send BYTES (until the server's OK), print seconds
 *   bench_native CA handshakes PORT SECS   full handshakes in a row for SECS, print the count
 *   bench_native CA concurrent PORT N      N connections at once, each handshake + PING/PONG,
 *                                          all held open together; print how many completed
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static SSL_CTX *ctx;
static struct sockaddr_in srv;

static int tcp_connect(int nonblock)
{
    /* Default socket options, as the guest's sockets get from the host (wasi:sockets 0.2 has
     * no TCP_NODELAY), so both clients put the same segments on the wire. */
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (connect(fd, (struct sockaddr *)&srv, sizeof srv) && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static SSL *tls_new(int fd)
{
    SSL *s = SSL_new(ctx);
    SSL_set_fd(s, fd);
    SSL_set_tlsext_host_name(s, "localhost");
    SSL_set1_host(s, "localhost");
    return s;
}

static SSL *tls_connect(void)
{
    int fd = tcp_connect(0);
    if (fd < 0)
        return NULL;
    SSL *s = tls_new(fd);
    if (SSL_connect(s) != 1) {
        ERR_print_errors_fp(stderr);
        SSL_free(s);
        close(fd);
        return NULL;
    }
    return s;
}

static void tls_close(SSL *s)
{
    int fd = SSL_get_fd(s);
    SSL_shutdown(s);
    SSL_free(s);
    close(fd);
}

static int bulk(int receiving, unsigned long long bytes)
{
    static char buf[65536];
    SSL *s = tls_connect();
    if (!s)
        return 1;
    char line[64];
    int n = snprintf(line, sizeof line, "%s %llu\n", receiving ? "SEND" : "RECV", bytes);
    double t0 = now();
    if (SSL_write(s, line, n) != n)
        return 1;
    unsigned long long done = 0;
    if (receiving) {
        while ((n = SSL_read(s, buf, sizeof buf)) > 0)
            done += (unsigned long long)n;
        if (SSL_get_error(s, n) != SSL_ERROR_ZERO_RETURN || done != bytes) {
            fprintf(stderr, "received %llu of %llu bytes\n", done, bytes);
            return 1;
        }
    } else {
        memset(buf, 'y', sizeof buf);
        while (done < bytes) {
            size_t want = bytes - done < sizeof buf ? (size_t)(bytes - done) : sizeof buf;
            if ((n = SSL_write(s, buf, (int)want)) <= 0)
                return 1;
            done += (unsigned long long)n;
        }
        char ok[4];
        if (SSL_read(s, ok, 3) != 3 || memcmp(ok, "OK\n", 3))
            return 1;
    }
    printf("%.6f\n", now() - t0);
    tls_close(s);
    return 0;
}

static int handshakes(double secs)
{
    double t0 = now();
    long count = 0;
    while (now() - t0 < secs) {
        SSL *s = tls_connect();
        if (!s)
            return 1;
        tls_close(s);
        count++;
    }
    printf("%ld %.6f\n", count, now() - t0);
    return 0;
}

struct cc {
    SSL *ssl;
    int state; /* 0 handshake, 1 send ping, 2 read pong, 3 done, -1 failed */
    size_t got;
};

static int concurrent(int n)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    struct cc *c = calloc((size_t)n, sizeof *c);
    struct pollfd *p = calloc((size_t)n, sizeof *p);
    double t0 = now();
    for (int i = 0; i < n; i++) {
        int fd = tcp_connect(1);
        if (fd < 0) {
            c[i].state = -1;
            continue;
        }
        c[i].ssl = tls_new(fd);
    }
    int pending = n, done = 0;
    for (int i = 0; i < n; i++)
        if (c[i].state < 0)
            pending--;
    while (pending > 0) {
        for (int i = 0; i < n; i++) {
            p[i].fd = -1;
            for (;;) {
                if (c[i].state < 0 || c[i].state == 3)
                    break;
                int r, want;
                if (c[i].state == 0)
                    r = SSL_connect(c[i].ssl);
                else if (c[i].state == 1)
                    r = SSL_write(c[i].ssl, "PING\n", 5);
                else {
                    char b[8];
                    r = SSL_read(c[i].ssl, b, (int)(5 - c[i].got));
                    if (r > 0) {
                        c[i].got += (size_t)r;
                        if (c[i].got < 5)
                            continue;
                    }
                }
                if (r > 0) {
                    if (++c[i].state == 3)
                        done++, pending--;
                    continue;
                }
                want = SSL_get_error(c[i].ssl, r);
                if (want == SSL_ERROR_WANT_READ || want == SSL_ERROR_WANT_WRITE) {
                    p[i].fd = SSL_get_fd(c[i].ssl);
                    p[i].events = want == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                } else {
                    c[i].state = -1, pending--;
                }
                break;
            }
        }
        if (pending > 0 && poll(p, (nfds_t)n, 30000) <= 0)
            break;
    }
    printf("%d %.6f\n", done, now() - t0);
    fflush(stdout);
    for (int i = 0; i < n; i++)
        if (c[i].ssl)
            tls_close(c[i].ssl);
    return done == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s CA recv|send|handshakes|concurrent PORT ARG\n", argv[0]);
        return 64;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, argv[1], NULL) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    srv.sin_family = AF_INET;
    srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv.sin_port = htons((uint16_t)atoi(argv[3]));
    if (!strcmp(argv[2], "recv") || !strcmp(argv[2], "send"))
        return bulk(argv[2][0] == 'r', strtoull(argv[4], NULL, 10));
    if (!strcmp(argv[2], "handshakes"))
        return handshakes(atof(argv[4]));
    if (!strcmp(argv[2], "concurrent"))
        return concurrent(atoi(argv[4]));
    return 64;
}
