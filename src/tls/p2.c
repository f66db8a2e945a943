/* wasi:tls 0.2 resources over the connection core (see p2.h). */
#include "p2.h"

#include <stdio.h>
#include <stdlib.h>

/* Frees a stream known to have no children (so the free cannot be refused). */
static void drop_in(wasitls_istream *s)
{
    if (wasitls_istream_free(s) < 0) return;
}

static void drop_out(wasitls_ostream *s)
{
    if (wasitls_ostream_free(s) < 0) return;
}

int wasitls__p2_handshake_new(wasitls_tls_ctx *ctx, const char *name, size_t len,
                              wasitls_istream *in, wasitls_ostream *out, wasitls__p2_handshake **hs,
                              char *why, size_t why_len)
{
    if (in->children || out->children) {
        snprintf(why, why_len,
                 "wasi:tls client-handshake: the %s handed over still has a pollable (from "
                 "subscribe); drop the pollable before passing the stream",
                 in->children ? "input-stream" : "output-stream");
        /* Freeing a stream under a live child would leave the child dangling. */
        if (!in->children) drop_in(in);
        if (!out->children) drop_out(out);
        return WASITLS_E_BUSY;
    }
    wasitls__p2_handshake *h = calloc(1, sizeof *h);
    if (!h || wasitls_tls_client_new(ctx, name, len, in, out, &h->conn) < 0) {
        free(h);
        drop_in(in);
        drop_out(out);
        snprintf(why, why_len, "wasi:tls client-handshake: out of memory");
        return WASITLS_E_NOMEM;
    }
    *hs = h;
    return 0;
}

void wasitls__p2_handshake_drop(wasitls__p2_handshake *hs)
{
    if (!hs) return;
    wasitls_tls_conn_release(hs->conn);
    free(hs);
}

wasitls__p2_future *wasitls__p2_finish(wasitls__p2_handshake *hs)
{
    wasitls__p2_future *f = calloc(1, sizeof *f);
    if (!f) {
        wasitls__p2_handshake_drop(hs);
        return NULL;
    }
    f->conn = hs->conn; /* the handshake's reference moves to the future */
    free(hs);
    return f;
}

wasitls_pollable *wasitls__p2_subscribe(wasitls__p2_future *f)
{
    return wasitls_tls_conn_subscribe(f->conn, &f->children);
}

int wasitls__p2_get(wasitls__p2_future *f, wasitls__p2_connection **conn, wasitls_istream **in,
                    wasitls_ostream **out, wasitls_ioerr **err)
{
    if (f->taken) return WASITLS__P2_TAKEN;
    int r = wasitls_tls_conn_handshake(f->conn, err);
    if (r == WASITLS_E_AGAIN) return WASITLS__P2_PENDING;
    if (r < 0) {
        f->taken = true;
        return WASITLS__P2_FAILED;
    }
    wasitls__p2_connection *c = calloc(1, sizeof *c);
    wasitls_istream *i = c ? wasitls_tls_conn_input(f->conn) : NULL;
    wasitls_ostream *o = i ? wasitls_tls_conn_output(f->conn) : NULL;
    if (!o) {
        /* The core hands each stream out once; a retry after this failure could not get
         * them again, so the result is consumed as a failure instead. */
        free(c);
        if (i) drop_in(i);
        f->taken = true;
        *err = wasitls_ioerr_new(WASITLS_E_NOMEM, 0, "out of memory creating the TLS streams");
        return WASITLS__P2_FAILED;
    }
    c->conn = f->conn;
    wasitls_tls_conn_ref(f->conn);
    f->taken = true;
    *conn = c;
    *in = i;
    *out = o;
    return WASITLS__P2_READY;
}

int wasitls__p2_future_drop(wasitls__p2_future *f, wasitls_error *err)
{
    if (!f) return 0;
    if (f->children)
        return wasitls_error_set(err, WASITLS_E_BUSY,
                                 "future-client-streams dropped while %u pollable(s) from its "
                                 "subscribe are alive; drop them first",
                                 f->children);
    wasitls_tls_conn_release(f->conn);
    free(f);
    return 0;
}

void wasitls__p2_close_output(wasitls__p2_connection *c)
{
    wasitls_ioerr *e = NULL;
    /* close-output has no result: a failure to send close_notify surfaces on the next write
     * or read of the streams. */
    if (wasitls_tls_conn_close_output(c->conn, &e) < 0) wasitls_ioerr_free(e);
}

void wasitls__p2_connection_drop(wasitls__p2_connection *c)
{
    if (!c) return;
    wasitls_tls_conn_release(c->conn);
    free(c);
}
