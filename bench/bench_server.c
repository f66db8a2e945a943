/* Loopback TLS server for the benchmarks (OpenSSL, epoll, non-blocking, one thread).
 *
 *   bench_server CERT KEY PORTFILE
 *
 * Listens on 127.0.0.1 on a free port (written to PORTFILE), TLS 1.3 only with one cipher suite
 * (TLS_AES_128_GCM_SHA256) so the guest and the native client negotiate the same thing. After the
 * handshake a client sends one line:
 *   "SEND n\n"  the server sends n bytes, then close_notify;
 *   "RECV n\n"  the server reads n bytes, then answers "OK\n" and sends close_notify;
 *   "PING\n"    the server answers "PONG\n" and keeps the connection until the client closes.
 * A client that closes after the handshake without a line is fine too (handshake benchmark).
 * Runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { ST_HANDSHAKE, ST_LINE, ST_SEND, ST_RECV, ST_REPLY, ST_HOLD, ST_SHUTDOWN };

struct conn {
    int fd, state;
    SSL *ssl;
    char line[64];
    size_t linelen;
    unsigned long long left;
    const char *reply;
    size_t replylen;
};

static char chunk[16384];

static void conn_free(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    SSL_free(c->ssl);
    close(c->fd);
    free(c);
}

/* Advances one connection as far as it can go; returns 0 to keep it, -1 to free it. */
static int step(struct conn *c)
{
    for (;;) {
        int n = 0, err;
        switch (c->state) {
        case ST_HANDSHAKE:
            n = SSL_accept(c->ssl);
            if (n == 1) {
                c->state = ST_LINE;
                continue;
            }
            goto want;
        case ST_LINE:
            n = SSL_read(c->ssl, c->line + c->linelen, 1); /* one byte: never over-read data */
            if (n <= 0)
                goto want;
            c->linelen++;
            if (c->line[c->linelen - 1] != '\n') {
                if (c->linelen == sizeof c->line)
                    return -1;
                continue;
            }
            c->line[c->linelen - 1] = '\0';
            if (!strncmp(c->line, "SEND ", 5)) {
                c->left = strtoull(c->line + 5, NULL, 10);
                c->state = ST_SEND;
            } else if (!strncmp(c->line, "RECV ", 5)) {
                c->left = strtoull(c->line + 5, NULL, 10);
                c->state = ST_RECV;
            } else if (!strcmp(c->line, "PING")) {
                c->reply = "PONG\n", c->replylen = 5;
                c->state = ST_REPLY;
            } else {
                return -1;
            }
            continue;
        case ST_SEND:
            if (!c->left) {
                c->state = ST_SHUTDOWN;
                continue;
            }
            n = SSL_write(c->ssl, chunk, (int)(c->left < sizeof chunk ? c->left : sizeof chunk));
            if (n <= 0)
                goto want;
            c->left -= (unsigned long long)n;
            continue;
        case ST_RECV: {
            static char sink[65536];
            if (!c->left) {
                c->reply = "OK\n", c->replylen = 3;
                c->state = ST_REPLY;
                continue;
            }
            n = SSL_read(c->ssl, sink, (int)(c->left < sizeof sink ? c->left : sizeof sink));
            if (n <= 0)
                goto want;
            c->left -= (unsigned long long)n;
            continue;
        }
        case ST_REPLY:
            n = SSL_write(c->ssl, c->reply, (int)c->replylen);
            if (n <= 0)
                goto want;
            c->state = !strcmp(c->reply, "PONG\n") ? ST_HOLD : ST_SHUTDOWN;
            continue;
        case ST_HOLD: {
            char b[256];
            n = SSL_read(c->ssl, b, sizeof b);
            if (n > 0)
                continue;
            goto want;
        }
        case ST_SHUTDOWN:
            n = SSL_shutdown(c->ssl);
            if (n >= 0) {
                /* close_notify sent; wait for the client's EOF so no RST cuts data in flight */
                char b[256];
                n = SSL_read(c->ssl, b, sizeof b);
                if (n > 0)
                    continue;
                goto want;
            }
            goto want;
        }
    want:
        err = SSL_get_error(c->ssl, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            return 0;
        ERR_clear_error();
        return -1; /* EOF, close_notify from the client, or an error: done with it */
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s CERT KEY PORTFILE\n", argv[0]);
        return 64;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl)) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    memset(chunk, 'x', sizeof chunk);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256");
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0); /* every handshake in the benchmark is a full one */
    if (SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 4096) ||
        getsockname(ls, (struct sockaddr *)&sa, &sl)) {
        perror("listen");
        return 1;
    }
    FILE *pf = fopen(argv[3], "w");
    if (!pf) {
        perror(argv[3]);
        return 1;
    }
    fprintf(pf, "%u\n", ntohs(sa.sin_port));
    fclose(pf);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    c->ssl = SSL_new(ctx);
                    SSL_set_fd(c->ssl, fd);
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
                    if (step(c))
                        conn_free(ep, c);
                }
                continue;
            }
            if (step(c))
                conn_free(ep, c);
        }
    }
}
