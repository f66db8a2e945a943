/* tls_peer: a small TLS server for the loopback tests, written directly on OpenSSL (blocking
 * sockets, one thread per connection) so that it is independent of the module under test.
 * It does what `openssl s_server` cannot: misbehave on purpose.
 *
 *   tls_peer MODE CHAIN.pem KEY.pem [-tls12|-tls13] [-ca FILE] [-ca-names FILE]
 *
 * -ca FILE trusts FILE for client certificates; -ca-names FILE lists the names of the
 * certificates in FILE as the CAs whose client certificates the server accepts (a hint that
 * clients may follow when choosing one).
 *
 * Prints "PORT <n>" once listening on 127.0.0.1, then serves until killed. Modes:
 *   echo      echo everything; on the client's close_notify answer with ours and close
 *   silent    accept, never answer (a stalled handshake)
 *   notify    send "hello\n", close_notify, then close after the client's EOF
 *   truncate  send "hello\n", then close the TCP connection without close_notify
 *   bytes1    send a sentence one byte per TLS record, then close_notify
 *   sni       send "sni=<server name received or (none)>\n", then close_notify
 *   starttls  plaintext first: expect "STARTTLS\r\n", answer "READY\r\n", then TLS echo
 *   stall     complete the handshake, then never read again (until the client goes)
 *   needcert  require a client certificate, trusting none (the server sends an alert)
 *   clientcert  require a client certificate issued under -ca FILE; print "client=<CN>" on
 *             stdout for each client that passed, then echo
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static SSL_CTX *ctx;
static const char *mode;

#define BYTES1_TEXT "every byte of this sentence travels in a TLS record of its own\n"

static void serve_tls(int fd)
{
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (!strcmp(mode, "needcert") || !strcmp(mode, "clientcert"))
        SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    if (SSL_accept(ssl) != 1) {
        /* the alert is out; keep the connection until the client goes */
        char c;
        while (read(fd, &c, 1) > 0)
            ;
        goto done;
    }
    if (!strcmp(mode, "clientcert")) {
        X509 *peer = SSL_get1_peer_certificate(ssl);
        char cn[256] = "(none)";
        if (peer) X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
        X509_free(peer);
        printf("client=%s\n", cn);
        fflush(stdout);
    }
    if (!strcmp(mode, "echo") || !strcmp(mode, "starttls") || !strcmp(mode, "needcert") ||
        !strcmp(mode, "clientcert")) {
        char buf[65536];
        int n;
        while ((n = SSL_read(ssl, buf, sizeof buf)) > 0)
            if (SSL_write(ssl, buf, n) != n) goto done;
        if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN) SSL_shutdown(ssl);
    } else if (!strcmp(mode, "stall")) {
        struct pollfd p = {fd, POLLRDHUP, 0};
        while (poll(&p, 1, -1) >= 0 && !(p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            ;
    } else if (!strcmp(mode, "notify")) {
        SSL_write(ssl, "hello\n", 6);
        SSL_shutdown(ssl);
        char c;
        while (read(fd, &c, 1) > 0)
            ;
    } else if (!strcmp(mode, "truncate")) {
        SSL_write(ssl, "hello\n", 6);
        /* no close_notify; make the kernel send FIN now */
        shutdown(fd, SHUT_WR);
        char c;
        while (read(fd, &c, 1) > 0)
            ;
    } else if (!strcmp(mode, "bytes1")) {
        const char *t = BYTES1_TEXT;
        for (size_t i = 0; t[i]; i++)
            if (SSL_write(ssl, t + i, 1) != 1) goto done;
        SSL_shutdown(ssl);
    } else if (!strcmp(mode, "sni")) {
        const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        char line[300];
        int n = snprintf(line, sizeof line, "sni=%s\n", name ? name : "(none)");
        SSL_write(ssl, line, n);
        SSL_shutdown(ssl);
    }
done:
    SSL_free(ssl);
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    if (!strcmp(mode, "silent")) {
        char buf[4096];
        while (read(fd, buf, sizeof buf) > 0)
            ;
    } else if (!strcmp(mode, "starttls")) {
        char line[64];
        size_t len = 0;
        while (len < sizeof line - 1 && read(fd, line + len, 1) == 1 && line[len++] != '\n')
            ;
        line[len] = '\0';
        if (!strcmp(line, "STARTTLS\r\n")) {
            if (write(fd, "READY\r\n", 7) == 7) serve_tls(fd);
        } else {
            (void)!write(fd, "ERROR\r\n", 7);
        }
    } else {
        serve_tls(fd);
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: tls_peer MODE CHAIN KEY [-tls12|-tls13]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    mode = argv[1];
    ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_security_level(ctx, 0);
    if (SSL_CTX_use_certificate_chain_file(ctx, argv[2]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "-tls12"))
            SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
        else if (!strcmp(argv[i], "-tls13"))
            SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        else if (!strcmp(argv[i], "-ca") && i + 1 < argc &&
                 SSL_CTX_load_verify_locations(ctx, argv[++i], NULL) != 1) {
            ERR_print_errors_fp(stderr);
            return 1;
        } else if (!strcmp(argv[i], "-ca-names") && i + 1 < argc) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(argv[++i]);
            if (!names) {
                ERR_print_errors_fp(stderr);
                return 1;
            }
            SSL_CTX_set_client_CA_list(ctx, names);
        }
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!strcmp(mode, "stall")) {
        /* A small window (inherited by accepted sockets) so that a client's writes back up
         * soon and stay backed up. */
        int small = 4096;
        setsockopt(ls, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 512) < 0 ||
        getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
        perror("tls_peer: listen");
        return 1;
    }
    printf("PORT %d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 256 * 1024);
        if (pthread_create(&t, &at, conn_main, (void *)(intptr_t)fd) != 0) close(fd);
        pthread_attr_destroy(&at);
    }
}
