/* The wasi:tls 0.2 resources (p2.h) over in-memory links: the semantics the WIT leaves open. */
#include "harness.h"
#include "memlink.h"

#include "../../src/tls/p2.h"

static int open_hs(memlink *m, const char *be, const char *chain, const char *key, const char *name,
                   wasitls__p2_handshake **hs)
{
    if (ml_open_server(m, be, tt_ctx(be, NULL, 0, 0, 0), chain, key, 0, 0)) return 1;
    char why[256];
    CHECK_OK(wasitls__p2_handshake_new(m->ctx, name, strlen(name), tt_pipe_istream(m->s2c),
                                       tt_pipe_ostream(m->c2s), hs, why, sizeof why));
    return 0;
}

/* get() makes progress by itself: a guest that never polls still gets its streams. */
static int t_get_without_poll(const char *be)
{
    memlink m;
    wasitls__p2_handshake *hs;
    if (open_hs(&m, be, "leaf-chain.pem", "leaf.key", "localhost", &hs)) return 1;
    wasitls__p2_future *f = wasitls__p2_finish(hs);
    CHECK(f);
    wasitls__p2_connection *conn = NULL;
    wasitls_istream *in = NULL;
    wasitls_ostream *out = NULL;
    wasitls_ioerr *e = NULL;
    int st = wasitls__p2_get(f, &conn, &in, &out, &e);
    CHECK(st == WASITLS__P2_PENDING); /* nothing from the server yet: none */
    int spins = 0;
    while (st == WASITLS__P2_PENDING && spins++ < 1000) {
        ml_server_step(&m);
        st = wasitls__p2_get(f, &conn, &in, &out, &e);
    }
    CHECKF(st == WASITLS__P2_READY, "%d %s", st, e ? wasitls_ioerr_message(e) : "");
    CHECK(conn && in && out && !e);
    /* once only: later calls say some(err) */
    wasitls__p2_connection *c2 = NULL;
    CHECK(wasitls__p2_get(f, &c2, &in, &out, &e) == WASITLS__P2_TAKEN && !c2);
    CHECK(wasitls__p2_get(f, &c2, &in, &out, &e) == WASITLS__P2_TAKEN);
    /* the streams work; close-output twice */
    CHECK(out->ops->check_write(out, &e) > 0);
    CHECK_OK(out->ops->write(out, (const uint8_t *)"hi", 2, &e));
    wasitls__p2_close_output(conn);
    wasitls__p2_close_output(conn);
    uint8_t buf[8];
    int end;
    CHECK(ml_server_read(&m, buf, sizeof buf, &end) == 2 && end == WASITLS_E_CLOSED);
    CHECK(out->ops->check_write(out, &e) == WASITLS_E_CLOSED);
    /* drop the connection before its streams: they stay usable */
    wasitls__p2_connection_drop(conn);
    if (ml_server_write(&m, "ok", 2)) return 1;
    size_t n = ml_client_read(&m, in, buf, 2, &end, NULL, 0);
    CHECK(n == 2 && !memcmp(buf, "ok", 2));
    CHECK_OK(wasitls__p2_future_drop(f, NULL));
    CHECK_OK(wasitls_ostream_free(out));
    CHECK_OK(wasitls_istream_free(in));
    ml_close(&m);
    return 0;
}

static int t_failure_once(const char *be)
{
    memlink m;
    wasitls__p2_handshake *hs;
    if (open_hs(&m, be, "leaf-chain.pem", "leaf.key", "wrong.example", &hs)) return 1;
    wasitls__p2_future *f = wasitls__p2_finish(hs);
    uint32_t before = f->children;
    wasitls_pollable *p = wasitls__p2_subscribe(f);
    CHECK(f->children == before + 1);
    wasitls__p2_connection *conn = NULL;
    wasitls_istream *in = NULL;
    wasitls_ostream *out = NULL;
    wasitls_ioerr *e = NULL;
    int st = WASITLS__P2_PENDING;
    for (int i = 0; i < 1000 && st == WASITLS__P2_PENDING; i++) {
        ml_server_step(&m);
        if (p->ops->ready(p)) st = wasitls__p2_get(f, &conn, &in, &out, &e);
    }
    CHECK(st == WASITLS__P2_FAILED && e && !conn);
    CHECK_HAS(wasitls_ioerr_message(e), "'wrong.example'");
    CHECK(wasitls_ioerr_code(e) == WASITLS_E_TLS_VERIFY);
    wasitls_ioerr_free(e);
    e = NULL;
    CHECK(wasitls__p2_get(f, &conn, &in, &out, &e) == WASITLS__P2_TAKEN && !e);
    /* the future cannot go while its pollable lives */
    wasitls_error err;
    wasitls_error_clear(&err);
    CHECK(wasitls__p2_future_drop(f, &err) == WASITLS_E_BUSY);
    CHECK_HAS(err.msg, "pollable");
    wasitls_pollable_free(p);
    CHECK_OK(wasitls__p2_future_drop(f, &err));
    ml_close(&m);
    return 0;
}

static int t_bad_name_via_get(const char *be)
{
    memlink m;
    wasitls__p2_handshake *hs;
    if (open_hs(&m, be, "leaf-chain.pem", "leaf.key", "", &hs)) return 1;
    wasitls__p2_future *f = wasitls__p2_finish(hs);
    wasitls__p2_connection *conn = NULL;
    wasitls_istream *in = NULL;
    wasitls_ostream *out = NULL;
    wasitls_ioerr *e = NULL;
    CHECK(wasitls__p2_get(f, &conn, &in, &out, &e) == WASITLS__P2_FAILED);
    CHECK_HAS(wasitls_ioerr_message(e), "invalid server name: it is empty");
    wasitls_ioerr_free(e);
    CHECK_OK(wasitls__p2_future_drop(f, NULL));
    ml_close(&m);
    return 0;
}

static int t_drop_handshake_unfinished(const char *be)
{
    memlink m;
    wasitls__p2_handshake *hs;
    if (open_hs(&m, be, "leaf-chain.pem", "leaf.key", "localhost", &hs)) return 1;
    wasitls__p2_handshake_drop(hs); /* frees the streams it took */
    CHECK(m.c2s->eof && m.s2c->broken);
    ml_close(&m);
    return 0;
}

static int t_streams_with_children(const char *be)
{
    memlink m;
    if (ml_open_server(&m, be, tt_ctx(be, NULL, 0, 0, 0), "leaf-chain.pem", "leaf.key", 0, 0))
        return 1;
    wasitls_istream *in = tt_pipe_istream(m.s2c);
    wasitls_ostream *out = tt_pipe_ostream(m.c2s);
    wasitls_pollable *p = wasitls_istream_subscribe(in);
    wasitls__p2_handshake *hs = NULL;
    char why[256];
    CHECK(wasitls__p2_handshake_new(m.ctx, "localhost", 9, in, out, &hs, why, sizeof why) ==
          WASITLS_E_BUSY);
    CHECK_HAS(why, "input-stream handed over still has a pollable");
    CHECK(m.c2s->eof);        /* the output stream (no children) was freed */
    wasitls_pollable_free(p); /* the input stream was kept alive for its child */
    CHECK_OK(wasitls_istream_free(in));
    ml_close(&m);
    return 0;
}

/* Every order of dropping future, connection, input, output after a successful get. */
static int t_drop_orders(const char *be)
{
    for (int order = 0; order < 24; order++) {
        memlink m;
        wasitls__p2_handshake *hs;
        if (open_hs(&m, be, "leaf-chain.pem", "leaf.key", "localhost", &hs)) return 1;
        wasitls__p2_future *f = wasitls__p2_finish(hs);
        wasitls__p2_connection *conn = NULL;
        wasitls_istream *in = NULL;
        wasitls_ostream *out = NULL;
        wasitls_ioerr *e = NULL;
        int st = WASITLS__P2_PENDING;
        for (int i = 0; i < 1000 && st == WASITLS__P2_PENDING; i++) {
            ml_server_step(&m);
            st = wasitls__p2_get(f, &conn, &in, &out, &e);
        }
        CHECK(st == WASITLS__P2_READY);
        int perm[4] = {0, 1, 2, 3}, k = order;
        for (int i = 0; i < 4; i++) {
            int fct = 1;
            for (int j = 1; j < 4 - i; j++)
                fct *= j;
            int pick = i + k / fct;
            k %= fct;
            int t = perm[pick];
            memmove(perm + i + 1, perm + i, (size_t)(pick - i) * sizeof *perm);
            perm[i] = t;
        }
        wasitls__p2_close_output(conn);
        for (int i = 0; i < 4; i++) {
            if (out) CHECK(out->ops->check_write(out, &e) == WASITLS_E_CLOSED);
            if (conn) wasitls__p2_close_output(conn);
            if (in) {
                uint8_t b[4];
                CHECK(in->ops->read(in, b, sizeof b, &e) == 0);
            }
            switch (perm[i]) {
            case 0:
                CHECK_OK(wasitls__p2_future_drop(f, NULL));
                break;
            case 1:
                wasitls__p2_connection_drop(conn);
                conn = NULL;
                break;
            case 2:
                CHECK_OK(wasitls_istream_free(in));
                in = NULL;
                break;
            case 3:
                CHECK_OK(wasitls_ostream_free(out));
                out = NULL;
                break;
            }
        }
        ml_close(&m);
    }
    return 0;
}

static const tt_case cases[] = {
    {"p2.get_without_poll", t_get_without_poll},
    {"p2.failure_once", t_failure_once},
    {"p2.bad_name_via_get", t_bad_name_via_get},
    {"p2.drop_handshake_unfinished", t_drop_handshake_unfinished},
    {"p2.streams_with_children", t_streams_with_children},
    {"p2.drop_orders", t_drop_orders},
};

int main(int argc, char **argv)
{
    return tt_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
