/* Loopback tests: the TLS core over real TCP sockets (the wasi layer's fd streams and event
 * loop) against `openssl s_server` and tls_peer, with certificates from mkcerts.sh. */
#include "harness.h"

#include <openssl/evp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- servers ---- */

/* s_server with cert (+ chain) on a free port, answering HTTP GETs (-www). */
static int s_server(tt_server *s, const char *cert, const char *key, const char *chain,
                    const char *opt1, const char *opt2)
{
    char *argv[20];
    int n = 0;
    argv[n++] = "openssl";
    argv[n++] = "s_server";
    argv[n++] = "-accept";
    argv[n++] = "0";
    argv[n++] = "-www";
    argv[n++] = "-cert";
    argv[n++] = (char *)tt_pki(cert);
    argv[n++] = "-key";
    argv[n++] = (char *)tt_pki(key);
    if (chain) {
        argv[n++] = "-cert_chain";
        argv[n++] = (char *)tt_pki(chain);
    }
    if (opt1) argv[n++] = (char *)opt1;
    if (opt2) argv[n++] = (char *)opt2;
    argv[n] = NULL;
    return tt_spawn_server(s, argv, "ACCEPT [::]:");
}

static int peer(tt_server *s, const char *mode, const char *opt)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/tls_peer", tt_bindir());
    char *argv[] = {
        path,        (char *)mode, (char *)tt_pki("leaf-chain.pem"), (char *)tt_pki("leaf.key"),
        (char *)opt, NULL};
    return tt_spawn_server(s, argv, "PORT ");
}

/* Connect with a fresh context whose reference the connection then holds alone. */
static int connect_new(wasitls_tls_ctx *ctx, int port, const char *name, wasitls_tls_conn **out)
{
    int r = tt_tls_connect(ctx, port, name, out);
    wasitls_tls_ctx_free(ctx);
    return r;
}

static int client_new_ctx(wasitls_tls_ctx *ctx, const char *name, size_t len, wasitls_istream *in,
                          wasitls_ostream *out, wasitls_tls_conn **c)
{
    int r = wasitls_tls_client_new(ctx, name, len, in, out, c);
    wasitls_tls_ctx_free(ctx);
    return r;
}

/* gnutls-serv in echo mode on a free port (it cannot report the one it got). */
static int gnutls_serv(tt_server *s, const char *priority)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        char port[16];
        snprintf(port, sizeof port, "%d", tt_free_port());
        char *argv[] = {"gnutls-serv",
                        "--echo",
                        "-q",
                        "-p",
                        port,
                        "--x509certfile",
                        (char *)tt_pki("leaf-chain.pem"),
                        "--x509keyfile",
                        (char *)tt_pki("leaf.key"),
                        "--priority",
                        (char *)priority,
                        NULL};
        s->pid = tt_spawn(argv, -1);
        if (s->pid < 0) return -1;
        s->out_fd = -1;
        s->port = atoi(port);
        for (int i = 0; i < 100; i++) {
            int fd = tt_connect(s->port);
            if (fd >= 0) {
                close(fd);
                return 0;
            }
            usleep(20000);
        }
        tt_stop_server(s);
    }
    return -1;
}

/* ---- s_server: success and rejections ---- */

/* GET / from s_server -www over ctx (kept), reading to the server's close_notify (TLS 1.3
 * session tickets arrive on the way); *resumed: whether the handshake resumed a session. */
static int get_www_on(wasitls_tls_ctx *ctx, int port, const char *name, const char *want_version,
                      bool *resumed)
{
    wasitls_tls_conn *c;
    const char *msg;
    CHECK_OK(tt_tls_connect(ctx, port, name, &c));
    int r = tt_handshake(c, &msg);
    CHECKF(r == 0, "%s: %s", wasitls_err_name(r), msg);
    if (want_version)
        CHECKF(!strcmp(wasitls_tls_conn_version(c), want_version), "%s",
               wasitls_tls_conn_version(c));
    wasitls_istream *in = wasitls_tls_conn_input(c);
    wasitls_ostream *out = wasitls_tls_conn_output(c);
    const char *req = "GET / HTTP/1.0\r\n\r\n";
    CHECK_OK(tt_write_flush(out, req, strlen(req), &msg));
    static uint8_t buf[1 << 16];
    int end;
    size_t n = tt_read_some(in, buf, sizeof buf - 1, &end, &msg);
    buf[n] = '\0';
    CHECKF(strstr((char *)buf, "HTTP/1.0 200 ok"), "%s", buf);
    CHECKF(end == WASITLS_E_CLOSED, "%s %s", wasitls_err_name(end), msg);
    CHECK_OK(wasitls_ostream_free(out));
    CHECK_OK(wasitls_istream_free(in));
    if (resumed) *resumed = wasitls_tls_conn_resumed(c);
    wasitls_tls_conn_release(c);
    return 0;
}

static int get_www(wasitls_tls_ctx *ctx, int port, const char *name, const char *want_version)
{
    int r = get_www_on(ctx, port, name, want_version, NULL);
    wasitls_tls_ctx_free(ctx);
    return r;
}

/* Session resumption: a second connection to the same name resumes the first one's session
 * (each session is used once, and a resumed connection saves a new one), whatever the case of
 * the name; another name, another context, or a context without resumption does not. */
static int resume_case(const char *be, const char *opt, const char *version)
{
    tt_server s;
    CHECK_OK(s_server(&s, "leaf.pem", "leaf.key", "int.pem", opt, NULL));
    wasitls_tls_ctx *ctx = tt_ctx_resume(be, true);
    static const struct {
        const char *name;
        bool resumed;
    } steps[] = {{"localhost", false}, {"localhost", true}, {"LocalHost", true},
                 {"127.0.0.1", false}, {"127.0.0.1", true}, {"localhost", true}};
    int r = 0;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0] && r == 0; i++) {
        bool resumed = !steps[i].resumed;
        r = get_www_on(ctx, s.port, steps[i].name, version, &resumed);
        if (r == 0 && resumed != steps[i].resumed) {
            fprintf(stderr, "step %zu (%s): resumed %d, want %d\n", i, steps[i].name, resumed,
                    steps[i].resumed);
            r = 1;
        }
    }
    wasitls_tls_ctx_free(ctx);
    /* A new context has its own cache; one without resumption never resumes. */
    for (int k = 0; k < 2 && r == 0; k++) {
        ctx = tt_ctx_resume(be, k == 0);
        for (int i = 0; i < 2 && r == 0; i++) {
            bool resumed = true;
            r = get_www_on(ctx, s.port, "localhost", version, &resumed);
            bool want = k == 0 && i == 1;
            if (r == 0 && resumed != want) {
                fprintf(stderr, "context %d, connection %d: resumed %d\n", k, i, resumed);
                r = 1;
            }
        }
        wasitls_tls_ctx_free(ctx);
    }
    tt_stop_server(&s);
    return r;
}

/* GET / from s_server -www serving leaf.pem (+ int.pem) with option opt, as name. */
static int www_case(const char *be, const char *opt, const char *name, const char *version)
{
    tt_server s;
    CHECK_OK(s_server(&s, "leaf.pem", "leaf.key", "int.pem", opt, NULL));
    int r = get_www(tt_ctx(be, NULL, 0, 0, 0), s.port, name, version);
    tt_stop_server(&s);
    return r;
}

/* A fully qualified name with the root's dot is the same server, same certificate. */
static int t_trailing_dot(const char *be)
{
    return www_case(be, NULL, "localhost.", NULL);
}

/* The key log has a line for every connection, resumed ones included (GnuTLS logs none for a
 * resumed TLS 1.2 handshake itself). */
static int t_keylog_resumed(const char *be)
{
    char path[] = "/tmp/wasitls-keylog-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    const char *ca;
    wasitls_tls_config cfg;
    tt_config(&cfg, be, &ca);
    cfg.keylog_file = path;
    wasitls_tls_ctx *ctx;
    wasitls_error err;
    CHECKF(wasitls_tls_ctx_new(&cfg, &ctx, &err) == 0, "%s", err.msg);
    tt_server s;
    CHECK_OK(s_server(&s, "leaf.pem", "leaf.key", "int.pem", "-tls1_2", NULL));
    bool resumed[3];
    for (int i = 0; i < 3; i++)
        CHECK_OK(get_www_on(ctx, s.port, "localhost", "TLS 1.2", &resumed[i]));
    tt_stop_server(&s);
    wasitls_tls_ctx_free(ctx);
    CHECK(!resumed[0] && resumed[1] && resumed[2]);
    FILE *f = fopen(path, "r");
    CHECK(f);
    char line[512], randoms[3][80];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char label[64], rnd[80], secret[200];
        CHECKF(sscanf(line, "%63s %79s %199s", label, rnd, secret) == 3 &&
                   !strcmp(label, "CLIENT_RANDOM") && strlen(rnd) == 64 && strlen(secret) == 96,
               "%s", line);
        CHECK(n < 3);
        snprintf(randoms[n++], sizeof randoms[0], "%s", rnd);
    }
    fclose(f);
    unlink(path);
    CHECKF(n == 3, "%d lines", n);
    CHECK(strcmp(randoms[0], randoms[1]) && strcmp(randoms[1], randoms[2]));
    return 0;
}

static int t_resume12(const char *be)
{
    return resume_case(be, "-tls1_2", "TLS 1.2");
}

static int t_resume13(const char *be)
{
    return resume_case(be, "-tls1_3", "TLS 1.3");
}

static int t_chain12(const char *be)
{
    return www_case(be, "-tls1_2", "localhost", "TLS 1.2");
}

static int t_chain13(const char *be)
{
    return www_case(be, "-tls1_3", "localhost", "TLS 1.3");
}

static int t_ip_san(const char *be)
{
    return www_case(be, NULL, "127.0.0.1", NULL);
}

static int t_ca_file(const char *be)
{
    tt_server s;
    CHECK_OK(s_server(&s, "other.pem", "other.key", NULL, NULL, NULL));
    const char *extra[] = {tt_pki("other-root.pem"), NULL};
    int r = get_www(tt_ctx(be, extra, 0, 0, 0), s.port, "localhost", NULL);
    tt_stop_server(&s);
    return r;
}

static int reject(const char *be, wasitls_tls_ctx *ctx, const char *cert, const char *key,
                  const char *chain, const char *opt, const char *opt2, const char *name, int code,
                  const char *w1, const char *w2)
{
    tt_server s;
    CHECK_OK(s_server(&s, cert, key, chain, opt, opt2));
    wasitls_tls_conn *c;
    const char *msg;
    CHECK_OK(tt_tls_connect(ctx, s.port, name, &c));
    int r = tt_handshake(c, &msg);
    fprintf(stderr, "  -> %s: %s\n", wasitls_err_name(r), msg);
    tt_stop_server(&s);
    CHECKF(r == code, "got %s", wasitls_err_name(r));
    CHECK_HAS(msg, w1);
    if (w2) CHECK_HAS(msg, w2);
    wasitls_tls_conn_release(c);
    wasitls_tls_ctx_free(ctx);
    return 0;
}

#define CTX tt_ctx(be, NULL, 0, 0, 0)
static int t_wrong_host(const char *be)
{
    return reject(be, CTX, "leaf.pem", "leaf.key", "int.pem", NULL, NULL, "wrong.example",
                  WASITLS_E_TLS_VERIFY, "'wrong.example'", "DNS:localhost");
}
static int t_expired(const char *be)
{
    return reject(be, CTX, "expired.pem", "expired.key", "int.pem", NULL, NULL, "localhost",
                  WASITLS_E_TLS_VERIFY, "expired", "2021-01-01");
}
static int t_notyet(const char *be)
{
    return reject(be, CTX, "notyet.pem", "notyet.key", "int.pem", NULL, NULL, "localhost",
                  WASITLS_E_TLS_VERIFY, "not yet valid", "2090-01-01");
}
static int t_selfsigned(const char *be)
{
    return reject(be, CTX, "self.pem", "self.key", NULL, NULL, NULL, "localhost",
                  WASITLS_E_TLS_VERIFY, "self-signed", NULL);
}
static int t_unknown_ca(const char *be)
{
    return reject(be, CTX, "other.pem", "other.key", NULL, NULL, NULL, "localhost",
                  WASITLS_E_TLS_VERIFY, "wasitls Other Root CA", "--tls-ca");
}
static int t_missing_int(const char *be)
{
    return reject(be, CTX, "leaf.pem", "leaf.key", NULL, NULL, NULL, "localhost",
                  WASITLS_E_TLS_VERIFY, "wasitls Test Intermediate CA", "intermediate");
}
static int t_weak_key(const char *be)
{
    return reject(be, CTX, "weak.pem", "weak.key", "int.pem", "-cipher", "DEFAULT:@SECLEVEL=0",
                  "localhost", WASITLS_E_TLS_VERIFY, "weak key", "1024");
}
static int t_ip_mismatch(const char *be)
{
    return reject(be, CTX, "leaf.pem", "leaf.key", "int.pem", NULL, NULL, "127.0.0.2",
                  WASITLS_E_TLS_VERIFY, "IP address 127.0.0.2", "IP:127.0.0.1");
}
static int t_version_mismatch(const char *be)
{
    return reject(be, tt_ctx(be, NULL, 0, WASITLS_TLS_VERSION_1_3, 0), "leaf.pem", "leaf.key",
                  "int.pem", "-tls1_2", NULL, "localhost", WASITLS_E_TLS_PROTOCOL,
                  "protocol version", NULL);
}

/* ---- tls_peer: behaviours ---- */

static int t_timeout(const char *be)
{
    tt_server s;
    CHECK_OK(peer(&s, "silent", NULL));
    wasitls_tls_conn *c;
    const char *msg;
    CHECK_OK(connect_new(tt_ctx(be, NULL, 500, 0, 0), s.port, "localhost", &c));
    uint64_t t0 = wasitls_now_ns();
    int r = tt_handshake(c, &msg);
    double secs = (wasitls_now_ns() - t0) / 1e9;
    tt_stop_server(&s);
    CHECKF(r == WASITLS_E_TIMEOUT, "%s %s", wasitls_err_name(r), msg);
    CHECK_HAS(msg, "TLS handshake timed out after 0.5 s");
    CHECKF(secs > 0.45 && secs < 3, "%.2f s", secs);
    wasitls_tls_conn_release(c);
    return 0;
}

/* Connects to a tls_peer in `mode` and reads everything it sends. */
static int read_peer(const char *be, const char *mode, const char *name, char *buf, size_t cap,
                     int *end, const char **msg)
{
    tt_server s;
    CHECK_OK(peer(&s, mode, NULL));
    wasitls_tls_conn *c;
    CHECK_OK(connect_new(tt_ctx(be, NULL, 0, 0, 0), s.port, name, &c));
    int r = tt_handshake(c, msg);
    CHECKF(r == 0, "%s", *msg);
    wasitls_istream *in = wasitls_tls_conn_input(c);
    size_t n = tt_read_some(in, (uint8_t *)buf, cap - 1, end, msg);
    buf[n] = '\0';
    CHECK_OK(wasitls_istream_free(in));
    wasitls_tls_conn_release(c);
    tt_stop_server(&s);
    return 0;
}

static int t_close_notify(const char *be)
{
    char buf[256];
    int end;
    const char *msg;
    if (read_peer(be, "notify", "localhost", buf, sizeof buf, &end, &msg)) return 1;
    CHECK(!strcmp(buf, "hello\n"));
    CHECKF(end == WASITLS_E_CLOSED, "%s: %s", wasitls_err_name(end), msg);
    return 0;
}

static int t_truncation(const char *be)
{
    char buf[256];
    int end;
    const char *msg;
    if (read_peer(be, "truncate", "localhost", buf, sizeof buf, &end, &msg)) return 1;
    CHECK(!strcmp(buf, "hello\n"));
    CHECKF(end == WASITLS_E_TLS_TRUNCATED, "%s", wasitls_err_name(end));
    CHECK_HAS(msg, "without sending TLS close_notify");
    return 0;
}

static int t_one_byte_records(const char *be)
{
    char buf[256];
    int end;
    const char *msg;
    if (read_peer(be, "bytes1", "localhost", buf, sizeof buf, &end, &msg)) return 1;
    CHECK(!strcmp(buf, "every byte of this sentence travels in a TLS record of its own\n"));
    CHECK(end == WASITLS_E_CLOSED);
    return 0;
}

static int t_no_sni_for_ip(const char *be)
{
    char buf[256];
    int end;
    const char *msg;
    if (read_peer(be, "sni", "127.0.0.1", buf, sizeof buf, &end, &msg)) return 1;
    CHECKF(!strcmp(buf, "sni=(none)\n"), "%s", buf);
    if (read_peer(be, "sni", "localhost", buf, sizeof buf, &end, &msg)) return 1;
    CHECKF(!strcmp(buf, "sni=localhost\n"), "%s", buf);
    return 0;
}

static int echo_once(wasitls_tls_conn *c, const char *text)
{
    const char *msg;
    wasitls_istream *in = wasitls_tls_conn_input(c);
    wasitls_ostream *out = wasitls_tls_conn_output(c);
    CHECK(in && out);
    CHECK_OK(tt_write_flush(out, text, strlen(text), &msg));
    char buf[256];
    int end;
    size_t n = tt_read_some(in, (uint8_t *)buf, strlen(text), &end, &msg);
    CHECKF(n == strlen(text) && !memcmp(buf, text, n), "%zu %s", n, msg);
    /* close-output: the echo server answers our close_notify with its own */
    wasitls_ioerr *e = NULL;
    CHECK_OK(wasitls_tls_conn_close_output(c, &e));
    CHECK_OK(wasitls_tls_conn_close_output(c, &e));
    n = tt_read_some(in, (uint8_t *)buf, sizeof buf, &end, &msg);
    CHECKF(n == 0 && end == WASITLS_E_CLOSED, "%zu %s %s", n, wasitls_err_name(end), msg);
    CHECK_OK(wasitls_ostream_free(out));
    CHECK_OK(wasitls_istream_free(in));
    return 0;
}

static int t_close_output(const char *be)
{
    tt_server s;
    CHECK_OK(peer(&s, "echo", NULL));
    wasitls_tls_conn *c;
    const char *msg;
    CHECK_OK(connect_new(tt_ctx(be, NULL, 0, 0, 0), s.port, "localhost", &c));
    CHECK_OK(tt_handshake(c, &msg));
    int r = echo_once(c, "ping\n");
    wasitls_tls_conn_release(c);
    tt_stop_server(&s);
    return r;
}

static int t_starttls(const char *be)
{
    tt_server s;
    CHECK_OK(peer(&s, "starttls", NULL));
    int fd = tt_connect(s.port);
    CHECK(fd >= 0);
    wasitls_istream *in = wasitls_istream_fd(fd, false);
    wasitls_ostream *out = wasitls_ostream_fd(dup(fd), false);
    const char *msg;
    CHECK_OK(tt_write_flush(out, "STARTTLS\r\n", 10, &msg));
    char buf[16];
    int end;
    size_t n = tt_read_some(in, (uint8_t *)buf, 7, &end, &msg);
    CHECK(n == 7 && !memcmp(buf, "READY\r\n", 7));
    /* The same streams now carry TLS. */
    wasitls_tls_conn *c;
    CHECK_OK(client_new_ctx(tt_ctx(be, NULL, 0, 0, 0), "localhost", 9, in, out, &c));
    int r = tt_handshake(c, &msg);
    CHECKF(r == 0, "%s", msg);
    r = echo_once(c, "secret after STARTTLS\n");
    wasitls_tls_conn_release(c);
    tt_stop_server(&s);
    return r;
}

static int t_close_output_after_tcp_shutdown(const char *be)
{
    tt_server s;
    CHECK_OK(peer(&s, "echo", NULL));
    int fd = tt_connect(s.port);
    CHECK(fd >= 0);
    wasitls_tls_conn *c;
    CHECK_OK(client_new_ctx(tt_ctx(be, NULL, 0, 0, 0), "localhost", 9,
                            wasitls_istream_fd(fd, false), wasitls_ostream_fd(dup(fd), false), &c));
    const char *msg;
    CHECK_OK(tt_handshake(c, &msg));
    shutdown(fd, SHUT_WR);
    uint64_t t0 = wasitls_now_ns();
    wasitls_ioerr *e = NULL;
    int r = wasitls_tls_conn_close_output(c, &e);
    double secs = (wasitls_now_ns() - t0) / 1e9;
    fprintf(stderr, "  -> %s %s (%.3f s)\n", wasitls_err_name(r), e ? wasitls_ioerr_message(e) : "",
            secs);
    wasitls_ioerr_free(e);
    CHECK(secs < 1);
    CHECK_OK(wasitls_tls_conn_close_output(c, NULL));
    wasitls_tls_conn_release(c);
    tt_stop_server(&s);
    return 0;
}

/* The handshake completes even when every poll also reports another, always-ready pollable. */
static int t_poll_with_ready_pollable(const char *be)
{
    tt_server s;
    CHECK_OK(peer(&s, "echo", NULL));
    wasitls_tls_conn *c;
    CHECK_OK(connect_new(tt_ctx(be, NULL, 0, 0, 0), s.port, "localhost", &c));
    wasitls_pollable *ps[2] = {wasitls_pollable_deadline(0), wasitls_tls_conn_subscribe(c, NULL)};
    bool done = false;
    for (int i = 0; i < 100000 && !done; i++) {
        uint32_t idx[2];
        size_t nr;
        CHECK_OK(wasitls_poll(ps, 2, idx, &nr));
        for (size_t k = 0; k < nr; k++)
            done |= idx[k] == 1;
        if (!done) usleep(50);
    }
    CHECK(done);
    CHECK_OK(wasitls_tls_conn_handshake(c, NULL));
    wasitls_pollable_free(ps[0]);
    wasitls_pollable_free(ps[1]);
    int r = echo_once(c, "after polling\n");
    wasitls_tls_conn_release(c);
    tt_stop_server(&s);
    return r;
}

static int t_concurrent(const char *be)
{
    enum { N = 100 };
    tt_server s;
    CHECK_OK(peer(&s, "echo", NULL));
    wasitls_tls_ctx *ctx = tt_ctx(be, NULL, 0, 0, 0);
    wasitls_tls_conn *c[N];
    wasitls_pollable *ps[N];
    size_t idx[N], live = N;
    for (size_t i = 0; i < N; i++) {
        CHECK_OK(tt_tls_connect(ctx, s.port, "localhost", &c[i]));
        ps[i] = wasitls_tls_conn_subscribe(c[i], NULL);
        idx[i] = i;
    }
    uint64_t t0 = wasitls_now_ns();
    /* All handshakes progress together on one event loop. */
    while (live > 0) {
        uint32_t ready[N];
        size_t nr;
        CHECK_OK(wasitls_poll(ps, live, ready, &nr));
        for (size_t k = nr; k-- > 0;) {
            size_t j = ready[k];
            const char *msg = "";
            wasitls_ioerr *e = NULL;
            int r = wasitls_tls_conn_handshake(c[idx[j]], &e);
            if (e) msg = wasitls_ioerr_message(e);
            CHECKF(r == 0, "connection %zu: %s", idx[j], msg);
            wasitls_ioerr_free(e);
            wasitls_pollable_free(ps[j]);
            ps[j] = ps[live - 1];
            idx[j] = idx[live - 1];
            live--;
        }
    }
    fprintf(stderr, "  100 handshakes in %.3f s\n", (wasitls_now_ns() - t0) / 1e9);
    for (size_t i = 0; i < N; i++) {
        char text[32];
        snprintf(text, sizeof text, "connection %zu\n", i);
        if (echo_once(c[i], text)) return 1;
        wasitls_tls_conn_release(c[i]);
    }
    wasitls_tls_ctx_free(ctx);
    tt_stop_server(&s);
    return 0;
}

static int t_bulk(const char *be)
{
    const size_t total = (size_t)100 << 20;
    enum { PATTERN = (1 << 20) + 7 };
    tt_server s;
    CHECK_OK(peer(&s, "echo", NULL));
    wasitls_tls_conn *c;
    const char *msg;
    CHECK_OK(connect_new(tt_ctx(be, NULL, 0, 0, 0), s.port, "localhost", &c));
    CHECK_OK(tt_handshake(c, &msg));
    wasitls_istream *in = wasitls_tls_conn_input(c);
    wasitls_ostream *out = wasitls_tls_conn_output(c);
    uint8_t *pat = malloc(PATTERN + 65536), *buf = malloc(65536);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < PATTERN + 65536; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        pat[i] = (uint8_t)x;
    }
    EVP_MD_CTX *hs = EVP_MD_CTX_new(), *hr = EVP_MD_CTX_new();
    EVP_DigestInit_ex(hs, EVP_sha256(), NULL);
    EVP_DigestInit_ex(hr, EVP_sha256(), NULL);
    wasitls_pollable *pin = wasitls_istream_subscribe(in), *pout = wasitls_ostream_subscribe(out);
    size_t sent = 0, got = 0;
    uint64_t t0 = wasitls_now_ns();
    while (got < total) {
        wasitls_pollable *ps[2] = {pin, pout};
        uint32_t ready[2];
        size_t nr;
        CHECK_OK(wasitls_poll(ps, sent < total ? 2 : 1, ready, &nr));
        wasitls_ioerr *e = NULL;
        if (sent < total) {
            int64_t room = out->ops->check_write(out, &e);
            CHECKF(room >= 0, "%s", e ? wasitls_ioerr_message(e) : "");
            size_t k = total - sent < (size_t)room ? total - sent : (size_t)room;
            if (k > 65536) k = 65536;
            if (k) {
                const uint8_t *p = pat + sent % PATTERN;
                CHECK_OK(out->ops->write(out, p, k, &e));
                EVP_DigestUpdate(hs, p, k);
                sent += k;
                if (sent == total) CHECK_OK(out->ops->flush(out, &e));
            }
        }
        int64_t n = in->ops->read(in, buf, 65536, &e);
        CHECKF(n >= 0, "%s after %zu bytes: %s", wasitls_err_name((int)n), got,
               e ? wasitls_ioerr_message(e) : "");
        EVP_DigestUpdate(hr, buf, (size_t)n);
        got += (size_t)n;
    }
    double secs = (wasitls_now_ns() - t0) / 1e9;
    unsigned char d1[32], d2[32];
    EVP_DigestFinal_ex(hs, d1, NULL);
    EVP_DigestFinal_ex(hr, d2, NULL);
    CHECK(memcmp(d1, d2, 32) == 0);
    fprintf(stderr, "  100 MiB each way in %.2f s (%.0f MiB/s each way), SHA-256 equal\n", secs,
            100 / secs);
    EVP_MD_CTX_free(hs);
    EVP_MD_CTX_free(hr);
    free(pat);
    free(buf);
    wasitls_pollable_free(pin);
    wasitls_pollable_free(pout);
    CHECK_OK(wasitls_ostream_free(out));
    CHECK_OK(wasitls_istream_free(in));
    wasitls_tls_conn_release(c);
    tt_stop_server(&s);
    return 0;
}

/* Interoperability with GnuTLS's own server, in TLS 1.2 and 1.3. */
static int t_gnutls_serv(const char *be)
{
    static const struct {
        const char *prio, *version;
    } v[] = {{"NORMAL:-VERS-ALL:+VERS-TLS1.2", "TLS 1.2"},
             {"NORMAL:-VERS-ALL:+VERS-TLS1.3", "TLS 1.3"}};
    for (int i = 0; i < 2; i++) {
        tt_server s;
        CHECK_OK(gnutls_serv(&s, v[i].prio));
        wasitls_tls_conn *c;
        const char *msg;
        CHECK_OK(connect_new(tt_ctx(be, NULL, 0, 0, 0), s.port, "localhost", &c));
        int r = tt_handshake(c, &msg);
        CHECKF(r == 0, "%s", msg);
        CHECK(!strcmp(wasitls_tls_conn_version(c), v[i].version));
        wasitls_istream *in = wasitls_tls_conn_input(c);
        wasitls_ostream *out = wasitls_tls_conn_output(c);
        const char *text = "echo through gnutls-serv\n";
        CHECK_OK(tt_write_flush(out, text, strlen(text), &msg));
        char buf[64];
        int end;
        size_t n = tt_read_some(in, (uint8_t *)buf, strlen(text), &end, &msg);
        CHECKF(n == strlen(text) && !memcmp(buf, text, n), "%zu %s", n, msg);
        CHECK_OK(wasitls_tls_conn_close_output(c, NULL));
        CHECK_OK(wasitls_ostream_free(out));
        CHECK_OK(wasitls_istream_free(in));
        wasitls_tls_conn_release(c);
        tt_stop_server(&s);
    }
    return 0;
}

/* Against a server that demands a client certificate and trusts none: the status and text of
 * the failure, whether it ends the handshake (TLS 1.2) or comes with the first read (in 1.3
 * our handshake completes first). cert/key: the client certificate offered, or NULL. */
static int needcert_failure(const char *be, bool tls13, const char *cert, const char *key,
                            char *msg, size_t len)
{
    tt_server s;
    CHECK_OK(peer(&s, "needcert", tls13 ? "-tls13" : "-tls12"));
    wasitls_tls_conn *c;
    const char *m = "";
    CHECK_OK(connect_new(tt_ctx_client(be, NULL, 0, 0, 0, cert, key), s.port, "localhost", &c));
    int r = tt_handshake(c, &m);
    if (r == 0) {
        wasitls_istream *in = wasitls_tls_conn_input(c);
        uint8_t buf[256];
        int end;
        tt_read_some(in, buf, sizeof buf, &end, &m);
        r = end;
        CHECK_OK(wasitls_istream_free(in));
    }
    snprintf(msg, len, "%s", m);
    fprintf(stderr, "  -> TLS 1.%d: %s: %s\n", tls13 ? 3 : 2, wasitls_err_name(r), msg);
    wasitls_tls_conn_release(c);
    tt_stop_server(&s);
    return r;
}

/* The peer's alert is named: a server demanding a client certificate we do not have. */
static int t_peer_alert(const char *be)
{
    for (int v = 0; v < 2; v++) {
        char msg[1024];
        CHECK(needcert_failure(be, v, NULL, NULL, msg, sizeof msg) == WASITLS_E_TLS_ALERT);
        CHECK_HAS(msg, "the peer sent fatal alert");
        if (v) CHECK(strcasestr(msg, "certificate") && strstr(msg, "required"));
        CHECK_HAS(msg, "the server asked for a client certificate and none is configured");
    }
    return 0;
}

/* A server of another protocol (it greets first, as SSH and SMTP servers do): the error says
 * the peer does not speak TLS, with both backends. */
static int t_not_tls(const char *be)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    CHECK(ls >= 0 && bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 4) == 0 &&
          getsockname(ls, (struct sockaddr *)&a, &alen) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(20);
        int fd = accept(ls, NULL, NULL);
        static const char hello[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";
        if (fd >= 0 && write(fd, hello, sizeof hello - 1) > 0) {
            char c;
            while (read(fd, &c, 1) > 0)
                ;
        }
        _exit(0);
    }
    close(ls);
    wasitls_tls_conn *c;
    const char *msg = "";
    CHECK_OK(connect_new(tt_ctx(be, NULL, 0, 0, 0), ntohs(a.sin_port), "localhost", &c));
    int r = tt_handshake(c, &msg);
    fprintf(stderr, "  -> %s: %s\n", wasitls_err_name(r), msg);
    wasitls_tls_conn_release(c);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    CHECK(r == WASITLS_E_TLS_PROTOCOL);
    CHECK_HAS(msg, "does not speak TLS");
    return 0;
}

/* Reads the server's stdout until a line starting with prefix arrives (5 s at most). */
static int peer_line(tt_server *s, const char *prefix, char *line, size_t len)
{
    size_t have = 0;
    uint64_t until = wasitls_now_ns() + 5000000000ull;
    while (wasitls_now_ns() < until && have + 1 < len) {
        struct pollfd p = {s->out_fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t n = read(s->out_fd, line + have, 1);
        if (n <= 0) break;
        if (line[have] == '\n') {
            line[have] = '\0';
            if (!strncmp(line, prefix, strlen(prefix))) return 0;
            have = 0;
            continue;
        }
        have++;
    }
    line[have] = '\0';
    return 1;
}

/* A client certificate, to a server that requires one and trusts its issuer: accepted in
 * TLS 1.2 and 1.3, the server saw who it was, data flows. Also with certificate and key in
 * one file, and (v 3, 4) when the server names only other CAs as acceptable: the certificate is
 * still offered (the user chose it; GnuTLS on its own would send none). */
static int t_client_cert(const char *be)
{
    for (int v = 0; v < 5; v++) {
        tt_server s;
        char path[4200];
        snprintf(path, sizeof path, "%s/tls_peer", tt_bindir());
        char *argv[] = {path,
                        "clientcert",
                        (char *)tt_pki("leaf-chain.pem"),
                        (char *)tt_pki("leaf.key"),
                        v == 1 || v == 4 ? "-tls13" : "-tls12",
                        "-ca",
                        (char *)tt_pki("root.pem"),
                        v >= 3 ? "-ca-names" : NULL,
                        (char *)tt_pki("other-root.pem"),
                        NULL};
        CHECK_OK(tt_spawn_server(&s, argv, "PORT "));
        const char *cert = tt_pki(v == 2 ? "client-full.pem" : "client-chain.pem");
        const char *key = v == 2 ? NULL : tt_pki("client.key");
        wasitls_tls_conn *c;
        const char *msg = "";
        CHECK_OK(connect_new(tt_ctx_client(be, NULL, 0, 0, 0, cert, key), s.port, "localhost",
                             &c));
        int r = tt_handshake(c, &msg);
        CHECKF(r == 0, "%s", msg);
        wasitls_istream *in = wasitls_tls_conn_input(c);
        wasitls_ostream *out = wasitls_tls_conn_output(c);
        CHECK_OK(tt_write_flush(out, "ping\n", 5, &msg));
        uint8_t buf[16];
        int end = 0;
        size_t n = tt_read_some(in, buf, 5, &end, &msg);
        CHECKF(n == 5 && !memcmp(buf, "ping\n", 5), "read %zu bytes: %s", n, msg);
        char line[256];
        CHECKF(peer_line(&s, "client=", line, sizeof line) == 0, "server said '%s'", line);
        CHECK(!strcmp(line, "client=wasitls test client"));
        CHECK_OK(wasitls_istream_free(in));
        CHECK_OK(wasitls_ostream_free(out));
        wasitls_tls_conn_release(c);
        tt_stop_server(&s);
    }
    return 0;
}

/* A client certificate the server does not trust: its alert, and that it was ours it refused. */
static int t_client_cert_refused(const char *be)
{
    for (int v = 0; v < 2; v++) {
        char msg[1024];
        CHECK(needcert_failure(be, v, tt_pki("client-chain.pem"), tt_pki("client.key"), msg,
                               sizeof msg) == WASITLS_E_TLS_ALERT);
        CHECK_HAS(msg, "the peer sent fatal alert");
        CHECK_HAS(msg, "did not accept the one given");
    }
    return 0;
}

/* Client certificate settings that cannot work are refused when the context is made, with
 * the file named. */
static int t_client_cert_config(const char *be)
{
    /* Files that are not what they should be, made here: names starting with '@' are in dir. */
    char dir[] = "/tmp/wasitls-certcfg-XXXXXX", path[4200];
    CHECK(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/empty.pem", dir);
    FILE *f = fopen(path, "w");
    CHECK(f && fclose(f) == 0);
    snprintf(path, sizeof path, "%s/der.pem", dir);
    CHECK((f = fopen(path, "w")) && fwrite("\x30\x82\x01\x0a\x02\x01", 1, 6, f) == 6 &&
          fclose(f) == 0);
    snprintf(path, sizeof path, "%s/fifo.pem", dir);
    CHECK(mkfifo(path, 0600) == 0);
    static const struct {
        const char *cert, *key, *ca;
        int code;
        const char *text;
    } cases[] = {
        {NULL, "client.key", NULL, WASITLS_E_TLS_CONFIG, "needs its client certificate"},
        {"no-such-file.pem", NULL, NULL, WASITLS_E_NOTFOUND,
         "cannot open the client certificate file"},
        {"client-chain.pem", "no-such.key", NULL, WASITLS_E_NOTFOUND,
         "cannot open the client key file"},
        {"client-chain.pem", "leaf.key", NULL, WASITLS_E_TLS_CONFIG, "does not belong to"},
        {"client-chain.pem", "client-enc.key", NULL, WASITLS_E_TLS_CONFIG, "is encrypted"},
        {"client.key", "client.key", NULL, WASITLS_E_TLS_CONFIG, "no certificate in"},
        {"client-chain.pem", "client-chain.pem", NULL, WASITLS_E_TLS_CONFIG,
         "no private key in"},
        {"client-chain.pem", NULL, NULL, WASITLS_E_TLS_CONFIG, "give the key's file with"},
        {"client-chain.pem", "@fifo.pem", NULL, WASITLS_E_TLS_CONFIG, "not a regular file"},
        {"@fifo.pem", "client.key", NULL, WASITLS_E_TLS_CONFIG, "not a regular file"},
        {"client-chain.pem", "/dev/zero", NULL, WASITLS_E_TLS_CONFIG, "not a regular file"},
        {"@empty.pem", "client.key", NULL, WASITLS_E_TLS_CONFIG, "is empty"},
        {"client-chain.pem", "@der.pem", NULL, WASITLS_E_TLS_CONFIG, "if it is DER"},
        {"/tmp", "client.key", NULL, WASITLS_E_TLS_CONFIG, "is a directory"},
        {NULL, NULL, "@fifo.pem", WASITLS_E_TLS_CONFIG, "the CA file"},
        {NULL, NULL, "/dev/zero", WASITLS_E_TLS_CONFIG, "not a regular file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *in[3] = {cases[i].cert, cases[i].key, cases[i].ca};
        char p[3][4200];
        for (int k = 0; k < 3; k++) {
            if (!in[k])
                continue;
            else if (in[k][0] == '@')
                snprintf(p[k], sizeof p[k], "%s/%s", dir, in[k] + 1);
            else if (in[k][0] == '/')
                snprintf(p[k], sizeof p[k], "%s", in[k]);
            else
                snprintf(p[k], sizeof p[k], "%s", tt_pki(in[k]));
        }
        const char *cas[1] = {p[2]};
        wasitls_tls_config cfg;
        wasitls_tls_config_init(&cfg);
        cfg.backend = be;
        cfg.no_system_trust = true;
        cfg.client_cert_file = in[0] ? p[0] : NULL;
        cfg.client_key_file = in[1] ? p[1] : NULL;
        cfg.ca_files = in[2] ? cas : NULL;
        cfg.n_ca_files = in[2] ? 1 : 0;
        wasitls_tls_ctx *ctx = NULL;
        wasitls_error err;
        wasitls_error_clear(&err);
        int r = wasitls_tls_ctx_new(&cfg, &ctx, &err);
        fprintf(stderr, "  -> %s + %s + ca %s: %s: %s\n", in[0] ? in[0] : "-",
                in[1] ? in[1] : "-", in[2] ? in[2] : "-", wasitls_err_name(r), err.msg);
        CHECKF(r == cases[i].code, "case %zu", i);
        CHECK_HAS(err.msg, cases[i].text);
        CHECK(ctx == NULL);
    }
    static const char *made[] = {"empty.pem", "der.pem", "fifo.pem"};
    for (size_t k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, made[k]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

/* A server that stops reading: writes back up, check-write says 0 (never a host buffer that
 * grows without bound), and close-output gives up after the configured time instead of
 * blocking the guest forever. */
static int t_stalled_peer(const char *be)
{
    tt_server s;
    CHECK_OK(peer(&s, "stall", NULL));
    wasitls_tls_conn *c;
    const char *msg;
    CHECK_OK(connect_new(tt_ctx(be, NULL, 500, 0, 0), s.port, "localhost", &c));
    CHECK_OK(tt_handshake(c, &msg));
    wasitls_ostream *out = wasitls_tls_conn_output(c);
    static uint8_t chunk[65536];
    size_t written = 0;
    int zeros = 0;
    uint64_t t0 = wasitls_now_ns();
    while (zeros < 200 && wasitls_now_ns() - t0 < 20000000000ull) {
        wasitls_ioerr *e = NULL;
        int64_t room = out->ops->check_write(out, &e);
        CHECK(room >= 0);
        if (room == 0) {
            zeros++;
            usleep(2000);
            continue;
        }
        zeros = 0;
        size_t k = (size_t)room < sizeof chunk ? (size_t)room : sizeof chunk;
        CHECK_OK(out->ops->write(out, chunk, k, &e));
        written += k;
    }
    fprintf(stderr, "  backed up after %zu bytes\n", written);
    CHECK(zeros >= 200);
    CHECK(written < (size_t)64 << 20);
    t0 = wasitls_now_ns();
    wasitls_ioerr *e = NULL;
    int r = wasitls_tls_conn_close_output(c, &e);
    double secs = (wasitls_now_ns() - t0) / 1e9;
    fprintf(stderr, "  close-output: %s %s after %.2f s\n", wasitls_err_name(r),
            e ? wasitls_ioerr_message(e) : "", secs);
    CHECK(r == WASITLS_E_TIMEOUT);
    CHECK(secs > 0.4 && secs < 3);
    wasitls_ioerr_free(e);
    CHECK(out->ops->check_write(out, &e) == WASITLS_E_CLOSED);
    CHECK_OK(wasitls_ostream_free(out));
    wasitls_tls_conn_release(c);
    tt_stop_server(&s);
    return 0;
}

static const tt_case cases[] = {
    {"loop.stalled_peer", t_stalled_peer},
    {"loop.peer_alert", t_peer_alert},
    {"loop.client_cert", t_client_cert},
    {"loop.not_tls", t_not_tls},
    {"loop.client_cert_refused", t_client_cert_refused},
    {"loop.client_cert_config", t_client_cert_config},
    {"loop.gnutls_serv", t_gnutls_serv},
    {"loop.chain12", t_chain12},
    {"loop.resume12", t_resume12},
    {"loop.keylog_resumed", t_keylog_resumed},
    {"loop.trailing_dot", t_trailing_dot},
    {"loop.resume13", t_resume13},
    {"loop.chain13", t_chain13},
    {"loop.ip_san", t_ip_san},
    {"loop.ca_file", t_ca_file},
    {"loop.wrong_host", t_wrong_host},
    {"loop.expired", t_expired},
    {"loop.not_yet_valid", t_notyet},
    {"loop.self_signed", t_selfsigned},
    {"loop.unknown_ca", t_unknown_ca},
    {"loop.missing_intermediate", t_missing_int},
    {"loop.weak_key", t_weak_key},
    {"loop.ip_mismatch", t_ip_mismatch},
    {"loop.version_mismatch", t_version_mismatch},
    {"loop.timeout", t_timeout},
    {"loop.close_notify", t_close_notify},
    {"loop.truncation", t_truncation},
    {"loop.one_byte_records", t_one_byte_records},
    {"loop.no_sni_for_ip", t_no_sni_for_ip},
    {"loop.close_output", t_close_output},
    {"loop.starttls", t_starttls},
    {"loop.close_output_after_tcp_shutdown", t_close_output_after_tcp_shutdown},
    {"loop.poll_with_ready_pollable", t_poll_with_ready_pollable},
    {"loop.concurrent", t_concurrent},
    {"loop.bulk", t_bulk},
};

int main(int argc, char **argv)
{
    return tt_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
