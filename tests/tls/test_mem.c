/* In-memory tests: the TLS core over in-memory pipes against a server made with the same
 * backend library, driven step by step by the test (no sockets, no threads). */
#include "harness.h"
#include "memlink.h"

#include <time.h>
#include <unistd.h>

static int expect_ok(const char *backend, wasitls_tls_ctx *ctx, const char *chain, const char *key,
                     const char *name, const char *version)
{
    memlink m;
    char msg[1024];
    if (ml_open(&m, backend, ctx, chain, key, name, 0, 0)) return 1;
    int r = ml_handshake(&m, msg, sizeof msg);
    CHECKF(r == 0, "%s: %s (server: %s)", wasitls_err_name(r), msg, m.server_msg);
    if (version)
        CHECKF(strcmp(wasitls_tls_conn_version(m.conn), version) == 0, "version %s",
               wasitls_tls_conn_version(m.conn));
    ml_close(&m);
    return 0;
}

/* The handshake fails with code and a message containing w1 and w2 (if not NULL). */
static int expect_fail(const char *backend, wasitls_tls_ctx *ctx, const char *chain,
                       const char *key, const char *name, int code, const char *w1, const char *w2)
{
    memlink m;
    char msg[1024];
    if (ml_open(&m, backend, ctx, chain, key, name, 0, 0)) return 1;
    int r = ml_handshake(&m, msg, sizeof msg);
    fprintf(stderr, "  -> %s: %s\n", wasitls_err_name(r), msg);
    CHECKF(r == code, "got %s, wanted %s", wasitls_err_name(r), wasitls_err_name(code));
    if (w1) CHECK_HAS(msg, w1);
    if (w2) CHECK_HAS(msg, w2);
    /* The failure is sticky and the streams are still safe to take and use. */
    wasitls_istream *in = wasitls_tls_conn_input(m.conn);
    uint8_t b[8];
    wasitls_ioerr *e = NULL;
    CHECK(in->ops->read(in, b, sizeof b, &e) == code);
    CHECK(e && strcmp(wasitls_ioerr_message(e), msg) == 0);
    wasitls_ioerr_free(e);
    CHECK_OK(wasitls_istream_free(in));
    ml_close(&m);
    return 0;
}

/* ---- cases ---- */

static int t_handshake13(const char *be)
{
    return expect_ok(be, tt_ctx(be, NULL, 0, 0, 0), "leaf-chain.pem", "leaf.key", "localhost",
                     "TLS 1.3");
}

static int t_handshake12(const char *be)
{
    return expect_ok(be, tt_ctx(be, NULL, 0, 0, WASITLS_TLS_VERSION_1_2), "leaf-chain.pem",
                     "leaf.key", "localhost", "TLS 1.2");
}

static int t_wrong_host(const char *be)
{
    return expect_fail(be, tt_ctx(be, NULL, 0, 0, 0), "leaf-chain.pem", "leaf.key", "wrong.example",
                       WASITLS_E_TLS_VERIFY, "'wrong.example'", "DNS:localhost");
}

static int t_expired(const char *be)
{
    return expect_fail(be, tt_ctx(be, NULL, 0, 0, 0), "expired-chain.pem", "expired.key",
                       "localhost", WASITLS_E_TLS_VERIFY, "expired", "2021-01-01");
}

static int t_notyet(const char *be)
{
    return expect_fail(be, tt_ctx(be, NULL, 0, 0, 0), "notyet-chain.pem", "notyet.key", "localhost",
                       WASITLS_E_TLS_VERIFY, "not yet valid", "2090-01-01");
}

static int t_selfsigned(const char *be)
{
    return expect_fail(be, tt_ctx(be, NULL, 0, 0, 0), "self.pem", "self.key", "localhost",
                       WASITLS_E_TLS_VERIFY, "self-signed", NULL);
}

static int t_unknown_ca(const char *be)
{
    return expect_fail(be, tt_ctx(be, NULL, 0, 0, 0), "other-chain.pem", "other.key", "localhost",
                       WASITLS_E_TLS_VERIFY, "wasitls Other Root CA", "--tls-ca");
}

static int t_missing_intermediate(const char *be)
{
    return expect_fail(be, tt_ctx(be, NULL, 0, 0, 0), "leaf.pem", "leaf.key", "localhost",
                       WASITLS_E_TLS_VERIFY, "wasitls Test Intermediate CA", "intermediate");
}

static int t_weak_key(const char *be)
{
    return expect_fail(be, tt_ctx(be, NULL, 0, 0, 0), "weak-chain.pem", "weak.key", "localhost",
                       WASITLS_E_TLS_VERIFY, "weak key", "1024");
}

static int t_ca_file(const char *be)
{
    const char *extra[] = {tt_pki("other-root.pem"), NULL};
    return expect_ok(be, tt_ctx(be, extra, 0, 0, 0), "other-chain.pem", "other.key", "localhost",
                     NULL);
}

static int t_ip_san(const char *be)
{
    if (expect_ok(be, tt_ctx(be, NULL, 0, 0, 0), "leaf-chain.pem", "leaf.key", "127.0.0.1", NULL))
        return 1;
    if (expect_ok(be, tt_ctx(be, NULL, 0, 0, 0), "leaf-chain.pem", "leaf.key", "::1", NULL))
        return 1;
    return expect_fail(be, tt_ctx(be, NULL, 0, 0, 0), "leaf-chain.pem", "leaf.key", "127.0.0.2",
                       WASITLS_E_TLS_VERIFY, "127.0.0.2", "IP:127.0.0.1");
}

static int t_bad_names(const char *be)
{
    static const struct {
        const char *name;
        const char *word;
    } cases[] = {
        {"", "empty"},           {"bad name", "' '"},           {"-lead.example", "'-'"},
        {"a..b", "empty label"}, {"x\xc3\xa9.example", "xn--"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (expect_fail(be, tt_ctx(be, NULL, 0, 0, 0), "leaf-chain.pem", "leaf.key", cases[i].name,
                        WASITLS_E_TLS_CONFIG, "invalid server name", cases[i].word))
            return 1;
    return 0;
}

/* Client and server share no TLS version, in both directions. The client names the versions it
 * allows; when the server's alert says so (OpenSSL does), it is a protocol version mismatch. */
static int t_version_mismatch(const char *be)
{
    static const uint16_t v12 = WASITLS_TLS_VERSION_1_2, v13 = WASITLS_TLS_VERSION_1_3;
    for (int dir = 0; dir < 2; dir++) {
        memlink m;
        char msg[1024];
        uint16_t cv = dir ? v13 : v12, sv = dir ? v12 : v13;
        if (ml_open(&m, be, tt_ctx(be, NULL, 0, cv, cv), "leaf-chain.pem", "leaf.key", "localhost",
                    sv, sv))
            return 1;
        int r = ml_handshake(&m, msg, sizeof msg);
        fprintf(stderr, "  -> %s: %s (server: %s)\n", wasitls_err_name(r), msg, m.server_msg);
        CHECK(r == WASITLS_E_TLS_PROTOCOL || r == WASITLS_E_TLS_ALERT);
        CHECK_HAS(msg, dir ? "this side allows TLS 1.3 to TLS 1.3"
                           : "this side allows TLS 1.2 to TLS 1.2");
        if (!strcmp(be, "openssl")) CHECK_HAS(msg, "protocol version mismatch");
        ml_close(&m);
    }
    return 0;
}

static int t_timeout(const char *be)
{
    memlink m;
    if (ml_open(&m, be, tt_ctx(be, NULL, 300, 0, 0), "leaf-chain.pem", "leaf.key", "localhost", 0,
                0))
        return 1;
    uint64_t t0 = wasitls_now_ns();
    /* The server never answers: block on the handshake pollable. */
    wasitls_pollable *p = wasitls_tls_conn_subscribe(m.conn, NULL);
    CHECK_OK(wasitls_pollable_block(p));
    wasitls_pollable_free(p);
    double secs = (wasitls_now_ns() - t0) / 1e9;
    wasitls_ioerr *e = NULL;
    int r = wasitls_tls_conn_handshake(m.conn, &e);
    CHECK(r == WASITLS_E_TIMEOUT);
    CHECK_HAS(wasitls_ioerr_message(e), "TLS handshake timed out after 0.3 s");
    wasitls_ioerr_free(e);
    CHECKF(secs >= 0.29 && secs < 3, "took %.2f s", secs);
    ml_close(&m);
    return 0;
}

/* A connection to the usual server (leaf-chain.pem as localhost), its handshake done. */
static int open_ready(memlink *m, const char *be)
{
    char msg[1024];
    if (ml_open(m, be, tt_ctx(be, NULL, 0, 0, 0), "leaf-chain.pem", "leaf.key", "localhost", 0, 0))
        return 1;
    CHECK_OK(ml_handshake(m, msg, sizeof msg));
    return 0;
}

static int t_data(const char *be)
{
    memlink m;
    char msg[1024];
    if (open_ready(&m, be)) return 1;
    wasitls_istream *in = wasitls_tls_conn_input(m.conn);
    wasitls_ostream *out = wasitls_tls_conn_output(m.conn);
    CHECK(in && out);
    CHECK(!wasitls_tls_conn_input(m.conn) && !wasitls_tls_conn_output(m.conn));
    size_t total = 1 << 20, sent = 0, got = 0;
    uint8_t *src = malloc(total), *dst = malloc(total);
    for (size_t i = 0; i < total; i++)
        src[i] = (uint8_t)(i * 7 + (i >> 9));
    while (sent < total || got < total) {
        wasitls_ioerr *e = NULL;
        int64_t room = out->ops->check_write(out, &e);
        CHECK(room >= 0);
        if (room > 0 && sent < total) {
            size_t k = total - sent < (size_t)room ? total - sent : (size_t)room;
            if (k > 10000) k = 10000;
            CHECK_OK(out->ops->write(out, src + sent, k, &e));
            sent += k;
        }
        int end;
        got += ml_server_read(&m, dst + got, total - got, &end);
        CHECK(end == 0);
    }
    CHECK(memcmp(src, dst, total) == 0);
    /* and back, echoing what the server received */
    for (size_t off = 0; off < total; off += 12345)
        if (ml_server_write(&m, dst + off, total - off < 12345 ? total - off : 12345)) return 1;
    memset(dst, 0, total);
    int end;
    size_t back = ml_client_read(&m, in, dst, total, &end, msg, sizeof msg);
    CHECKF(back == total, "%zu", back);
    CHECK(memcmp(src, dst, total) == 0);
    free(src);
    free(dst);
    CHECK_OK(wasitls_istream_free(in));
    CHECK_OK(wasitls_ostream_free(out));
    ml_close(&m);
    return 0;
}

static int t_close_notify(const char *be)
{
    memlink m;
    char msg[1024];
    if (open_ready(&m, be)) return 1;
    wasitls_istream *in = wasitls_tls_conn_input(m.conn);
    if (ml_server_write(&m, "bye", 3)) return 1;
    wasitls_error e;
    CHECK_OK(m.be->close_notify(m.ssess, &e));
    ml_server_step(&m);
    m.s2c->eof = true; /* and the transport closes */
    uint8_t buf[16];
    int end;
    size_t n = ml_client_read(&m, in, buf, sizeof buf, &end, msg, sizeof msg);
    CHECK(n == 3 && memcmp(buf, "bye", 3) == 0);
    CHECKF(end == WASITLS_E_CLOSED, "%s %s", wasitls_err_name(end), msg);
    /* Closed stays closed, also for a zero-length read. */
    wasitls_ioerr *ie = NULL;
    CHECK(in->ops->read(in, buf, 0, &ie) == WASITLS_E_CLOSED && !ie);
    CHECK(in->ops->ready(in));
    CHECK_OK(wasitls_istream_free(in));
    ml_close(&m);
    return 0;
}

static int t_truncation(const char *be)
{
    memlink m;
    char msg[1024];
    if (open_ready(&m, be)) return 1;
    wasitls_istream *in = wasitls_tls_conn_input(m.conn);
    if (ml_server_write(&m, "partial", 7)) return 1;
    m.s2c->eof = true; /* the transport ends without close_notify */
    uint8_t buf[16];
    int end;
    size_t n = ml_client_read(&m, in, buf, sizeof buf, &end, msg, sizeof msg);
    CHECK(n == 7);
    CHECKF(end == WASITLS_E_TLS_TRUNCATED, "%s", wasitls_err_name(end));
    CHECK_HAS(msg, "without sending TLS close_notify");
    CHECK_OK(wasitls_istream_free(in));
    ml_close(&m);
    return 0;
}

static int t_one_byte_records(const char *be)
{
    memlink m;
    char msg[1024];
    if (open_ready(&m, be)) return 1;
    wasitls_istream *in = wasitls_tls_conn_input(m.conn);
    const char *text = "every byte of this sentence travels in a TLS record of its own";
    size_t len = strlen(text);
    for (size_t i = 0; i < len; i++)
        if (ml_server_write(&m, text + i, 1)) return 1;
    char buf[128];
    int end;
    size_t n = ml_client_read(&m, in, (uint8_t *)buf, len, &end, msg, sizeof msg);
    CHECK(n == len && memcmp(buf, text, len) == 0);
    CHECK_OK(wasitls_istream_free(in));
    ml_close(&m);
    return 0;
}

static int t_flush(const char *be)
{
    memlink m;
    if (open_ready(&m, be)) return 1;
    m.c2s->limit = 100; /* the transport takes 100 bytes at a time */
    wasitls_ostream *out = wasitls_tls_conn_output(m.conn);
    wasitls_ioerr *e = NULL;
    CHECK(out->ops->check_write(out, &e) > 1000);
    uint8_t data[1000];
    memset(data, 'f', sizeof data);
    CHECK_OK(out->ops->write(out, data, sizeof data, &e));
    CHECK_OK(out->ops->flush(out, &e));
    /* The records are not all out yet: check-write says 0 until they are. */
    CHECK(out->ops->check_write(out, &e) == 0);
    CHECK(!out->ops->ready(out));
    uint8_t got[2000];
    size_t n = 0;
    int end, rounds = 0;
    while (out->ops->check_write(out, &e) == 0 && rounds++ < 1000)
        n += ml_server_read(&m, got + n, sizeof got - n, &end);
    CHECK(out->ops->check_write(out, &e) > 0);
    n += ml_server_read(&m, got + n, sizeof got - n, &end);
    CHECKF(n == sizeof data, "%zu", n);
    CHECK(memcmp(got, data, n) == 0);
    CHECK(rounds > 3);
    CHECK_OK(wasitls_ostream_free(out));
    ml_close(&m);
    return 0;
}

/* The end of a transfer case: the server got all want bytes as they were sent; frees it all. */
static int transfer_done(memlink *m, wasitls_ostream *out, uint8_t *data, uint8_t *back, size_t got,
                         size_t want)
{
    CHECKF(got == want, "%zu of %zu", got, want);
    CHECK(memcmp(data, back, want) == 0);
    free(data);
    free(back);
    CHECK_OK(wasitls_ostream_free(out));
    ml_close(m);
    return 0;
}

/* A write of several records reaches the underlying stream as one write while it has room,
 * and in order, in as many writes as it takes, when it has not. */
static int t_coalesce(const char *be)
{
    memlink m;
    if (open_ready(&m, be)) return 1;
    wasitls_ostream *out = wasitls_tls_conn_output(m.conn);
    wasitls_ioerr *e = NULL;
    size_t total = 0, got = 0, cap = 1 << 20;
    uint8_t *data = malloc(cap), *back = malloc(cap);
    for (size_t i = 0; i < cap; i++)
        data[i] = (uint8_t)(i * 13 + (i >> 11));
    int end;
    /* room everywhere: one write of each size, whatever its number of records */
    static const size_t sizes[] = {65536, 16385, 40000, 5, 16384};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        CHECK(out->ops->check_write(out, &e) >= (int64_t)sizes[i]);
        size_t before = m.c2s->writes;
        CHECK_OK(out->ops->write(out, data + total, sizes[i], &e));
        total += sizes[i];
        CHECKF(m.c2s->writes == before + 1, "%zu bytes: %zu writes", sizes[i],
               m.c2s->writes - before);
        CHECKF(m.c2s->last_write > sizes[i] && m.c2s->last_write < sizes[i] + 5 * 64, "%zu: %zu",
               sizes[i], m.c2s->last_write);
        got += ml_server_read(&m, back + got, cap - got, &end);
    }
    /* a transport that takes 1000 bytes at a time: the records wait, in order */
    m.c2s->limit = 1000;
    size_t before = m.c2s->writes;
    for (int i = 0; i < 3; i++) {
        int rounds = 0;
        while (out->ops->check_write(out, &e) == 0 && rounds++ < 10000)
            got += ml_server_read(&m, back + got, cap - got, &end);
        CHECK(out->ops->check_write(out, &e) >= 65536);
        CHECK_OK(out->ops->write(out, data + total, 65536, &e));
        total += 65536;
    }
    CHECK_OK(out->ops->flush(out, &e));
    for (int rounds = 0; got < total && rounds < 100000; rounds++) {
        got += ml_server_read(&m, back + got, cap - got, &end);
        (void)out->ops->check_write(out, &e); /* makes progress */
    }
    CHECK(m.c2s->writes - before > 3 * 65536 / 1000);
    return transfer_done(&m, out, data, back, got, total);
}

/* n bytes of a pattern that repeats rarely (k varies it), for transfers checked at the end. */
static uint8_t *patterned(size_t n, unsigned k)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; p && i < n; i++)
        p[i] = (uint8_t)(i * k + (i >> 10));
    return p;
}

/* A writer that never flushes: once check-write said 0 (records waiting in the connection),
 * it says more again as soon as the transport takes them, without a flush in between. */
static int t_backpressure(const char *be)
{
    memlink m;
    if (open_ready(&m, be)) return 1;
    wasitls_ostream *out = wasitls_tls_conn_output(m.conn);
    wasitls_ioerr *e = NULL;
    size_t total = 4 << 20, sent = 0, got = 0;
    uint8_t *data = patterned(total, 7), *back = malloc(total);
    m.c2s->limit = 1000; /* the transport takes 1000 bytes at a time */
    int end, zeros = 0;
    while (sent < total) {
        int64_t room = out->ops->check_write(out, &e);
        CHECK(room >= 0);
        if (room == 0) {
            zeros++;
            int rounds = 0;
            while (out->ops->check_write(out, &e) == 0 && rounds++ < 10000)
                got += ml_server_read(&m, back + got, total - got, &end); /* room again */
            CHECKF(rounds < 10000, "check-write stays 0 after %zu of %zu bytes", sent, total);
            continue;
        }
        size_t k = total - sent < (size_t)room ? total - sent : (size_t)room;
        CHECK_OK(out->ops->write(out, data + sent, k, &e));
        sent += k;
    }
    CHECK(zeros > 0); /* the case is about a full connection: make sure it was */
    CHECK_OK(out->ops->flush(out, &e));
    for (int rounds = 0; got < total && rounds < 100000; rounds++) {
        got += ml_server_read(&m, back + got, total - got, &end);
        (void)out->ops->check_write(out, &e);
    }
    return transfer_done(&m, out, data, back, got, total);
}

/* Records the connection queued go out while the application waits on something else (here a
 * timer), with no call on the connection or its streams in between. */
static int t_background(const char *be)
{
    memlink m;
    if (open_ready(&m, be)) return 1;
    wasitls_ostream *out = wasitls_tls_conn_output(m.conn);
    wasitls_ioerr *e = NULL;
    size_t cap = 1 << 20, sent = 0, got = 0;
    uint8_t *data = patterned(cap, 11), *back = malloc(cap);
    m.c2s->limit = 1000;
    int64_t room;
    while (sent + 65536 <= cap && (room = out->ops->check_write(out, &e)) > 0) {
        size_t k = (size_t)room < 65536 ? (size_t)room : 65536;
        CHECK_OK(out->ops->write(out, data + sent, k, &e));
        sent += k;
    }
    CHECK(sent > 256 * 1024); /* records wait in the connection now */
    int end;
    for (int round = 0; round < 100000 && got < sent; round++) {
        got += ml_server_read(&m, back + got, cap - got, &end);
        wasitls_pollable *d = wasitls_pollable_deadline(wasitls_now_ns() + 100000);
        CHECK_OK(wasitls_pollable_block(d));
        wasitls_pollable_free(d);
    }
    return transfer_done(&m, out, data, back, got, sent);
}

static int t_close_output(const char *be)
{
    memlink m;
    char msg[1024];
    if (open_ready(&m, be)) return 1;
    wasitls_ostream *out = wasitls_tls_conn_output(m.conn);
    wasitls_istream *in = wasitls_tls_conn_input(m.conn);
    wasitls_ioerr *e = NULL;
    CHECK(out->ops->check_write(out, &e) > 0);
    CHECK_OK(out->ops->write(out, (const uint8_t *)"last words", 10, &e));
    CHECK_OK(wasitls_tls_conn_close_output(m.conn, &e));
    CHECK_OK(wasitls_tls_conn_close_output(m.conn, &e)); /* idempotent */
    CHECK(out->ops->check_write(out, &e) == WASITLS_E_CLOSED);
    CHECK(out->ops->ready(out));
    uint8_t buf[32];
    int end;
    size_t n = ml_server_read(&m, buf, sizeof buf, &end);
    CHECK(n == 10 && memcmp(buf, "last words", 10) == 0);
    CHECKF(end == WASITLS_E_CLOSED, "%s", wasitls_err_name(end));
    /* Reading still works after close-output (half-close). */
    if (ml_server_write(&m, "reply", 5)) return 1;
    n = ml_client_read(&m, in, buf, 5, &end, msg, sizeof msg);
    CHECK(n == 5 && memcmp(buf, "reply", 5) == 0);
    CHECK(!m.c2s->eof); /* the transport itself stays open */
    CHECK_OK(wasitls_ostream_free(out));
    CHECK_OK(wasitls_istream_free(in));
    ml_close(&m);
    return 0;
}

/* Every order of dropping the connection, its streams and a handshake pollable. */
static int t_drop_orders(const char *be)
{
    for (int order = 0; order < 24; order++) {
        memlink m;
        char msg[1024];
        if (ml_open(&m, be, tt_ctx(be, NULL, 0, 0, 0), "leaf-chain.pem", "leaf.key", "localhost", 0,
                    0))
            return 1;
        uint32_t children = 0;
        wasitls_pollable *p = wasitls_tls_conn_subscribe(m.conn, &children);
        CHECK(children == 1);
        CHECK_OK(ml_handshake(&m, msg, sizeof msg));
        CHECK(p->ops->ready(p));
        wasitls_istream *in = wasitls_tls_conn_input(m.conn);
        wasitls_ostream *out = wasitls_tls_conn_output(m.conn);
        if (ml_server_write(&m, "x", 1)) return 1;
        /* 4 holders: conn, in, out, pollable; drop them in permutation `order`. */
        int perm[4] = {0, 1, 2, 3}, k = order;
        for (int i = 0; i < 4; i++) {
            int f = 1;
            for (int j = 1; j < 4 - i; j++)
                f *= j;
            int pick = i + k / f;
            k %= f;
            int t = perm[pick];
            memmove(perm + i + 1, perm + i, (size_t)(pick - i) * sizeof *perm);
            perm[i] = t;
        }
        wasitls_tls_conn *conn = m.conn;
        m.conn = NULL;
        for (int i = 0; i < 4; i++) {
            /* Whatever is still alive keeps working. */
            uint8_t b[4];
            wasitls_ioerr *e = NULL;
            if (in) {
                int64_t r = in->ops->read(in, b, sizeof b, &e);
                CHECK(r >= 0);
            }
            if (out) CHECK(out->ops->check_write(out, &e) > 0);
            switch (perm[i]) {
            case 0:
                wasitls_tls_conn_release(conn);
                conn = NULL;
                break;
            case 1:
                CHECK_OK(wasitls_istream_free(in));
                in = NULL;
                break;
            case 2:
                CHECK_OK(wasitls_ostream_free(out));
                out = NULL;
                break;
            case 3:
                wasitls_pollable_free(p);
                CHECK(children == 0);
                p = NULL;
                break;
            }
        }
        ml_close(&m);
    }
    return 0;
}

static int t_misuse(const char *be)
{
    /* Dropping a connection in the middle of its handshake, with a pollable outliving it. */
    memlink m;
    if (ml_open(&m, be, tt_ctx(be, NULL, 0, 0, 0), "leaf-chain.pem", "leaf.key", "localhost", 0, 0))
        return 1;
    wasitls_pollable *p = wasitls_tls_conn_subscribe(m.conn, NULL);
    CHECK(!p->ops->ready(p)); /* ClientHello sent, nothing back yet */
    CHECK(wasitls_tls_conn_handshake(m.conn, NULL) == WASITLS_E_AGAIN);
    wasitls_istream *in = wasitls_tls_conn_input(m.conn);
    wasitls_ostream *out = wasitls_tls_conn_output(m.conn);
    /* Streams taken before the handshake completed just are not ready yet. */
    uint8_t b[4];
    wasitls_ioerr *e = NULL;
    CHECK(in->ops->read(in, b, 4, &e) == 0 && !e);
    CHECK(out->ops->check_write(out, &e) == 0 && !e);
    CHECK(out->ops->write(out, b, 4, &e) == WASITLS_E_INVAL);
    wasitls_ioerr_free(e);
    e = NULL;
    wasitls_tls_conn_release(m.conn);
    m.conn = NULL;
    ml_server_step(&m);
    CHECK(p->ops->ready(p) || true);
    wasitls_pollable_free(p);
    CHECK_OK(wasitls_ostream_free(out));
    CHECK_OK(wasitls_istream_free(in));
    /* close_output before the handshake finished: no close_notify, idempotent, no crash. */
    ml_close(&m);
    if (ml_open(&m, be, tt_ctx(be, NULL, 0, 0, 0), "leaf-chain.pem", "leaf.key", "localhost", 0, 0))
        return 1;
    CHECK_OK(wasitls_tls_conn_close_output(m.conn, NULL));
    CHECK_OK(wasitls_tls_conn_close_output(m.conn, NULL));
    ml_close(&m);
    return 0;
}

static int t_backends(const char *be)
{
    bool found = false;
    for (size_t i = 0; i < wasitls_tls_backend_count(); i++)
        found |= strcmp(wasitls_tls_backend_name(i), be) == 0;
    CHECK(found);
    CHECK(strcmp(wasitls_tls_backend_name(0), "openssl") == 0);
    CHECK(!wasitls_tls_backend_available("nonesuch"));
    wasitls_tls_config cfg;
    wasitls_tls_config_init(&cfg);
    cfg.backend = "nonesuch";
    wasitls_tls_ctx *ctx;
    wasitls_error err;
    CHECK(wasitls_tls_ctx_new(&cfg, &ctx, &err) == WASITLS_E_TLS_CONFIG);
    CHECK_HAS(err.msg, "unknown TLS backend 'nonesuch'");
    cfg.backend = be;
    const char *missing[] = {"/nonexistent/ca.pem"};
    cfg.ca_files = missing;
    cfg.n_ca_files = 1;
    CHECK(wasitls_tls_ctx_new(&cfg, &ctx, &err) < 0);
    CHECK_HAS(err.msg, "/nonexistent/ca.pem");
    const char *notpem[] = {tt_pki("ca/openssl.cnf")};
    cfg.ca_files = notpem;
    CHECK(wasitls_tls_ctx_new(&cfg, &ctx, &err) < 0);
    CHECK_HAS(err.msg, "openssl.cnf");
    cfg.n_ca_files = 0;
    cfg.min_version = WASITLS_TLS_VERSION_1_3;
    cfg.max_version = WASITLS_TLS_VERSION_1_2;
    CHECK(wasitls_tls_ctx_new(&cfg, &ctx, &err) == WASITLS_E_TLS_CONFIG);
    /* The system store loads (honouring SSL_CERT_FILE). */
    setenv("SSL_CERT_FILE", tt_pki("other-root.pem"), 1);
    wasitls_tls_config_init(&cfg);
    cfg.backend = be;
    CHECK_OK(wasitls_tls_ctx_new(&cfg, &ctx, &err));
    CHECK(expect_ok(be, ctx, "other-chain.pem", "other.key", "localhost", NULL) == 0);
    return 0;
}

/* The client against a server of every other backend compiled in. */
static int t_cross(const char *be)
{
    int tried = 0;
    for (size_t i = 0; i < wasitls_tls_backend_count(); i++) {
        const char *sb = wasitls_tls_backend_name(i);
        for (int v = 0; v < 2; v++) {
            memlink m;
            char msg[1024];
            uint16_t ver = v ? WASITLS_TLS_VERSION_1_3 : WASITLS_TLS_VERSION_1_2;
            if (ml_open(&m, sb, tt_ctx(be, NULL, 0, 0, 0), "leaf-chain.pem", "leaf.key",
                        "localhost", ver, ver))
                return 1;
            int r = ml_handshake(&m, msg, sizeof msg);
            CHECKF(r == 0, "client %s, server %s: %s", be, sb, msg);
            CHECK(!strcmp(wasitls_tls_conn_version(m.conn), v ? "TLS 1.3" : "TLS 1.2"));
            wasitls_istream *in = wasitls_tls_conn_input(m.conn);
            wasitls_ostream *out = wasitls_tls_conn_output(m.conn);
            wasitls_ioerr *e = NULL;
            CHECK(out->ops->check_write(out, &e) > 0);
            CHECK_OK(out->ops->write(out, (const uint8_t *)"to server", 9, &e));
            uint8_t buf[32];
            int end;
            CHECK(ml_server_read(&m, buf, sizeof buf, &end) == 9 && !memcmp(buf, "to server", 9));
            if (ml_server_write(&m, "to client", 9)) return 1;
            CHECK(ml_client_read(&m, in, buf, 9, &end, msg, sizeof msg) == 9);
            CHECK(!memcmp(buf, "to client", 9));
            CHECK_OK(wasitls_tls_conn_close_output(m.conn, &e));
            CHECK(ml_server_read(&m, buf, sizeof buf, &end) == 0 && end == WASITLS_E_CLOSED);
            CHECK_OK(wasitls_istream_free(in));
            CHECK_OK(wasitls_ostream_free(out));
            ml_close(&m);
            tried++;
        }
    }
    CHECK(tried == 2 * (int)wasitls_tls_backend_count());
    return 0;
}

/* Damaged server bytes: every flipped or cut position ends in an error with words (or, for the
 * rare harmless position, success), never a crash, a hang or an empty message. */
static int t_damage(const char *be)
{
    uint32_t x = 12345;
    int failed = 0, total = 0;
    for (int round = 0; round < 300; round++) {
        memlink m;
        char msg[1024];
        if (ml_open(&m, be, tt_ctx(be, NULL, 0, 0, 0), "leaf-chain.pem", "leaf.key", "localhost", 0,
                    0))
            return 1;
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        size_t pos = x % 1400; /* the server's first flight is about this long */
        if (round % 3 == 2)
            m.cut_at = pos + 1;
        else
            m.corrupt_at = pos, m.corrupt_xor = (uint8_t)(1u << (x >> 29));
        int r = ml_handshake(&m, msg, sizeof msg);
        if (r == 0) {
            /* past the handshake: damage an application record instead */
            wasitls_istream *in = wasitls_tls_conn_input(m.conn);
            m.corrupt_at = m.s2c_total + 10 + x % 20;
            m.corrupt_xor = 0x40;
            m.cut_at = 0;
            if (ml_server_write(&m, "some application data", 21)) return 1;
            uint8_t buf[64];
            int end;
            ml_client_read(&m, in, buf, sizeof buf, &end, msg, sizeof msg);
            CHECKF(end < 0 && end != WASITLS_E_CLOSED, "round %d: %s", round,
                   wasitls_err_name(end));
            r = end;
            CHECK_OK(wasitls_istream_free(in));
        }
        CHECKF(r == WASITLS_E_AGAIN || msg[0], "round %d: %s without a message", round,
               wasitls_err_name(r));
        if (r == WASITLS_E_AGAIN) {
            /* a cut in the middle of a record: waiting for more that never comes */
            CHECK(m.cut_at || m.corrupt_xor);
        } else {
            failed++;
        }
        total++;
        ml_close(&m);
    }
    fprintf(stderr, "  %d of %d damaged exchanges failed with a message\n", failed, total);
    CHECK(failed > total / 2);
    return 0;
}

/* SSL_CERT_DIR names the system store's directory (a hashed one, as OpenSSL's rehash makes). */
static int t_cert_dir(const char *be)
{
    unsetenv("SSL_CERT_FILE");
    setenv("SSL_CERT_DIR", tt_pki("certdir"), 1);
    wasitls_tls_config cfg;
    wasitls_tls_config_init(&cfg);
    cfg.backend = be;
    wasitls_tls_ctx *ctx;
    wasitls_error err;
    CHECKF(wasitls_tls_ctx_new(&cfg, &ctx, &err) == 0, "%s", err.msg);
    if (expect_ok(be, ctx, "leaf-chain.pem", "leaf.key", "localhost", NULL)) return 1;
    /* a trust location that does not exist is an error, not a silent fallback */
    setenv("SSL_CERT_DIR", "/nonexistent/certs", 1);
    CHECK(wasitls_tls_ctx_new(&cfg, &ctx, &err) == WASITLS_E_TLS_CONFIG);
    CHECK_HAS(err.msg, "SSL_CERT_DIR=/nonexistent/certs");
    unsetenv("SSL_CERT_DIR");
    setenv("SSL_CERT_FILE", "/nonexistent/ca.pem", 1);
    CHECK(wasitls_tls_ctx_new(&cfg, &ctx, &err) == WASITLS_E_TLS_CONFIG);
    CHECK_HAS(err.msg, "SSL_CERT_FILE=/nonexistent/ca.pem");
    /* and without it, the test root is unknown to the system store */
    unsetenv("SSL_CERT_DIR");
    setenv("SSL_CERT_FILE", tt_pki("other-root.pem"), 1);
    CHECK_OK(wasitls_tls_ctx_new(&cfg, &ctx, &err));
    return expect_fail(be, ctx, "leaf-chain.pem", "leaf.key", "localhost", WASITLS_E_TLS_VERIFY,
                       "wasitls Test Root CA", NULL);
}

/* NSS key log lines, from the config or $SSLKEYLOGFILE, in both TLS versions. */
static int t_keylog(const char *be)
{
    char path[] = "/tmp/wasitls-keylog-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    for (int v = 0; v < 2; v++) {
        uint16_t ver = v ? WASITLS_TLS_VERSION_1_3 : WASITLS_TLS_VERSION_1_2;
        const char *ca;
        wasitls_tls_config cfg;
        tt_config(&cfg, be, &ca);
        cfg.min_version = cfg.max_version = ver;
        if (v)
            cfg.keylog_file = path;
        else
            setenv("SSLKEYLOGFILE", path, 1);
        wasitls_tls_ctx *ctx;
        wasitls_error err;
        CHECKF(wasitls_tls_ctx_new(&cfg, &ctx, &err) == 0, "%s", err.msg);
        unsetenv("SSLKEYLOGFILE");
        if (expect_ok(be, ctx, "leaf-chain.pem", "leaf.key", "localhost", NULL)) return 1;
    }
    FILE *f = fopen(path, "r");
    CHECK(f);
    char line[512];
    int tls12 = 0, tls13 = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        char label[64], rnd[80], secret[200];
        if (sscanf(line, "%63s %79s %199s", label, rnd, secret) != 3 || strlen(rnd) != 64)
            bad++;
        else if (!strcmp(label, "CLIENT_RANDOM"))
            tls12++;
        else if (!strcmp(label, "CLIENT_HANDSHAKE_TRAFFIC_SECRET") ||
                 !strcmp(label, "CLIENT_TRAFFIC_SECRET_0"))
            tls13++;
    }
    fclose(f);
    unlink(path);
    CHECKF(tls12 >= 1 && tls13 >= 2 && bad == 0, "tls12 %d tls13 %d bad %d", tls12, tls13, bad);
    return 0;
}

static const tt_case cases[] = {
    {"mem.keylog", t_keylog},
    {"mem.cert_dir", t_cert_dir},
    {"mem.cross", t_cross},
    {"mem.damage", t_damage},
    {"mem.backends", t_backends},
    {"mem.handshake13", t_handshake13},
    {"mem.handshake12", t_handshake12},
    {"mem.wrong_host", t_wrong_host},
    {"mem.expired", t_expired},
    {"mem.not_yet_valid", t_notyet},
    {"mem.self_signed", t_selfsigned},
    {"mem.unknown_ca", t_unknown_ca},
    {"mem.missing_intermediate", t_missing_intermediate},
    {"mem.weak_key", t_weak_key},
    {"mem.ca_file", t_ca_file},
    {"mem.ip_san", t_ip_san},
    {"mem.bad_names", t_bad_names},
    {"mem.version_mismatch", t_version_mismatch},
    {"mem.timeout", t_timeout},
    {"mem.data", t_data},
    {"mem.close_notify", t_close_notify},
    {"mem.truncation", t_truncation},
    {"mem.one_byte_records", t_one_byte_records},
    {"mem.flush", t_flush},
    {"mem.coalesce", t_coalesce},
    {"mem.backpressure", t_backpressure},
    {"mem.background", t_background},
    {"mem.close_output", t_close_output},
    {"mem.drop_orders", t_drop_orders},
    {"mem.misuse", t_misuse},
};

int main(int argc, char **argv)
{
    return tt_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
