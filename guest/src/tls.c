/* The wasi:tls handshake over a connection's streams: the only file of the SDK that calls
 * wasi:tls (see conn.h, struct wasitls__tls_hooks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

static int tls_advance(wasitls_conn *c);

static wit_handle tls_subscribe(wasitls_conn *c)
{
    return wit_tls_future_subscribe(c->future);
}

static void tls_close_output(wasitls_conn *c)
{
    wit_tls_close_output(c->tls);
}

static void tls_drop(wasitls_conn *c)
{
    if (c->tls != 0) wit_tls_connection_drop(c->tls);
    if (c->future != 0) wit_tls_future_drop(c->future);
    c->tls = c->future = 0;
}

static const struct wasitls__tls_hooks hooks = {tls_advance, tls_subscribe, tls_close_output,
                                                tls_drop};

int wasitls_tls_start(wasitls_conn *c, const char *server_name)
{
    int ret = wasitls__not_open(c, "TLS handshake");
    if (ret != WASITLS_OK) return ret == WASITLS_AGAIN ? WASITLS_ERR_INVALID : ret;
    if (c->tls != 0 || c->sock == 0)
        return wasitls__err(WASITLS_ERR_INVALID, "TLS handshake: not a plain TCP connection");
    if (c->output_closed)
        return wasitls__err(WASITLS_ERR_INVALID, "TLS handshake: output already closed");
    if (server_name == NULL || *server_name == 0)
        return wasitls__err(WASITLS_ERR_INVALID, "TLS handshake: no server name");
    if (!wasitls__utf8_valid(server_name))
        return wasitls__err(WASITLS_ERR_INVALID, "TLS handshake: server name is not UTF-8");
    char *name = strdup(server_name);
    if (name == NULL) return wasitls__err(WASITLS_ERR_NOMEM, "TLS handshake: out of memory");
    free(c->peer);
    c->peer = name;

    /* The constructor takes both streams by ownership; a host may refuse (trap) to take a
     * stream that still has a pollable, so those go first. */
    wasitls__drop_pollable(&c->p_in);
    wasitls__drop_pollable(&c->p_out);
    wit_handle hs = wit_tls_handshake_new(name, (uint32_t)strlen(name), c->in, c->out);
    c->in = c->out = 0;
    c->unflushed = 0; /* the TLS layer owns the TCP stream's flushing now */
    c->future = wit_tls_handshake_finish(hs);
    c->tls_hooks = &hooks;
    c->state = CONN_HANDSHAKING;
    return WASITLS_OK;
}

static int tls_advance(wasitls_conn *c)
{
    /* Some hosts only complete the future once its pollable has been seen ready, so look at
     * the pollable before asking for the result. */
    if (!wit_pollable_ready(wasitls__conn_state_pollable(c))) return WASITLS_AGAIN;
    struct wit_ret_tls_get r;
    memset(&r, 0, sizeof r);
    wit_tls_future_get(c->future, &r);
    if (!r.is_some) return WASITLS_AGAIN;
    wasitls__drop_pollable(&c->p_state);
    wit_tls_future_drop(c->future);
    c->future = 0;
    if (r.outer.is_err) {
        c->state = CONN_FAILED;
        return c->failed_status = wasitls__err(
                   WASITLS_ERR_TLS, "TLS handshake with %s: result already taken", c->peer);
    }
    if (r.outer.inner.is_err) {
        char prefix[300];
        snprintf(prefix, sizeof prefix, "TLS handshake with %s", c->peer);
        c->state = CONN_FAILED;
        return c->failed_status = wasitls__err_io(WASITLS_ERR_TLS, r.outer.inner.u.err, prefix);
    }
    c->tls = r.outer.inner.u.ok.conn;
    c->in = r.outer.inner.u.ok.in;
    c->out = r.outer.inner.u.ok.out;
    c->state = CONN_OPEN;
    return WASITLS_OK;
}

int wasitls_tls_handshake(wasitls_conn *c, const char *server_name)
{
    int ret = wasitls_tls_start(c, server_name);
    if (ret != WASITLS_OK) return ret;
    while ((ret = wasitls_conn_advance(c)) == WASITLS_AGAIN)
        wit_pollable_block(wasitls__conn_state_pollable(c));
    return ret;
}

int wasitls_tls_connect(const char *host, uint16_t port, const char *server_name,
                        wasitls_conn **out)
{
    wasitls_conn *c;
    int ret = wasitls_tcp_connect(host, port, &c);
    if (ret != WASITLS_OK) {
        *out = NULL;
        return ret;
    }
    if (server_name == NULL) {
        /* A bracketed IPv6 literal names no server; the host checks the IP instead. */
        size_t len = strlen(host);
        char name[64];
        if (len >= 2 && len < sizeof name && host[0] == '[' && host[len - 1] == ']') {
            memcpy(name, host + 1, len - 2);
            name[len - 2] = 0;
            ret = wasitls_tls_handshake(c, name);
            goto done;
        }
        server_name = host;
    }
    ret = wasitls_tls_handshake(c, server_name);
done:
    if (ret != WASITLS_OK) {
        wasitls_close(c);
        c = NULL;
    }
    *out = c;
    return ret;
}

int wasitls_tls_available(void)
{
    return wit_tls_is_available() != 0;
}
