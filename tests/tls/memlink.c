/* A client connection over in-memory pipes to a server session made with the same backend. */
#include "memlink.h"

int ml_open_server(memlink *m, const char *backend, wasitls_tls_ctx *ctx, const char *chain,
                   const char *key, uint16_t smin, uint16_t smax)
{
    memset(m, 0, sizeof *m);
    m->be = wasitls__tls_backend_find(backend);
    CHECK(m->be);
    wasitls__tls_server_opts o = {tt_pki(chain), tt_pki(key), smin, smax};
    wasitls_error err;
    wasitls_error_clear(&err);
    CHECKF(m->be->server_ctx_new(&o, &m->sctx, &err) == 0, "%s", err.msg);
    CHECKF(m->be->server_new(m->sctx, &m->ssess, &err) == 0, "%s", err.msg);
    m->c2s = tt_pipe_new(0);
    m->s2c = tt_pipe_new(0);
    m->ctx = ctx;
    return 0;
}

int ml_open(memlink *m, const char *backend, wasitls_tls_ctx *ctx, const char *chain,
            const char *key, const char *name, uint16_t smin, uint16_t smax)
{
    if (ml_open_server(m, backend, ctx, chain, key, smin, smax)) return 1;
    CHECK_OK(wasitls_tls_client_new(ctx, name, strlen(name), tt_pipe_istream(m->s2c),
                                    tt_pipe_ostream(m->c2s), &m->conn));
    return 0;
}

void ml_close(memlink *m)
{
    if (m->conn) wasitls_tls_conn_release(m->conn);
    m->be->sess_free(m->ssess);
    m->be->ctx_free(m->sctx);
    tt_pipe_unref(m->c2s);
    tt_pipe_unref(m->s2c);
    wasitls_tls_ctx_free(m->ctx);
}

/* Moves client records into the server, runs its handshake, moves its records back. */
void ml_server_step(memlink *m)
{
    uint8_t buf[16384];
    size_t n;
    while ((n = tt_pipe_take(m->c2s, buf, sizeof buf)) > 0)
        m->be->put_cipher(m->ssess, buf, n);
    if (!m->server_done && !m->server_err) {
        wasitls_error e;
        wasitls_error_clear(&e);
        int r = m->be->handshake(m->ssess, &e);
        if (r == 0)
            m->server_done = true;
        else if (r != WASITLS_E_AGAIN) {
            m->server_err = r;
            snprintf(m->server_msg, sizeof m->server_msg, "%s", e.msg);
        }
    }
    while ((n = m->be->get_cipher(m->ssess, buf, sizeof buf)) > 0) {
        /* Damage on the way, when a test asks for it. */
        if (m->corrupt_xor && m->corrupt_at >= m->s2c_total && m->corrupt_at < m->s2c_total + n)
            buf[m->corrupt_at - m->s2c_total] ^= m->corrupt_xor;
        if (m->cut_at && m->s2c_total + n >= m->cut_at) {
            n = m->cut_at > m->s2c_total ? m->cut_at - m->s2c_total : 0;
            m->s2c->eof = true;
        }
        if (!(m->cut_at && m->s2c_total >= m->cut_at)) tt_pipe_put(m->s2c, buf, n);
        m->s2c_total += n;
    }
}

/* Runs the handshake to its end; returns the client's status and its message. */
int ml_handshake(memlink *m, char *msg, size_t len)
{
    int r = WASITLS_E_AGAIN;
    msg[0] = '\0';
    for (int i = 0; i < 10000 && r == WASITLS_E_AGAIN; i++) {
        ml_server_step(m);
        wasitls_ioerr *e = NULL;
        r = wasitls_tls_conn_handshake(m->conn, &e);
        if (e) {
            snprintf(msg, len, "%s", wasitls_ioerr_message(e));
            wasitls_ioerr_free(e);
        }
    }
    ml_server_step(m);
    return r;
}

/* Server reads all plaintext available now. */
size_t ml_server_read(memlink *m, uint8_t *buf, size_t cap, int *end)
{
    size_t got = 0;
    *end = 0;
    ml_server_step(m);
    while (got < cap) {
        wasitls_error e;
        int64_t n = m->be->read(m->ssess, buf + got, cap - got, &e);
        if (n <= 0) {
            if (n != WASITLS_E_AGAIN) *end = (int)n;
            break;
        }
        got += (size_t)n;
    }
    ml_server_step(m);
    return got;
}

int ml_server_write(memlink *m, const void *buf, size_t len)
{
    wasitls_error e;
    CHECK_OK(m->be->write(m->ssess, buf, len, &e));
    ml_server_step(m);
    return 0;
}

/* Client reads what is available (steps the server in between). */
size_t ml_client_read(memlink *m, wasitls_istream *in, uint8_t *buf, size_t cap, int *end,
                      char *msg, size_t mlen)
{
    size_t got = 0;
    *end = 0;
    if (msg) msg[0] = '\0';
    for (int idle = 0; got < cap && idle < 3;) {
        ml_server_step(m);
        wasitls_ioerr *e = NULL;
        int64_t n = in->ops->read(in, buf + got, cap - got, &e);
        if (e) {
            if (msg) snprintf(msg, mlen, "%s", wasitls_ioerr_message(e));
            wasitls_ioerr_free(e);
        }
        if (n < 0) {
            *end = (int)n;
            break;
        }
        if (n == 0) idle++;
        got += (size_t)n;
    }
    return got;
}
