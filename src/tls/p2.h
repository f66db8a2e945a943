/* The resources of wasi:tls/types@0.2.0-draft as plain C objects, without the component
 * model: binding_p2.c converts values around them, and the tests drive them directly.
 *
 *   resource client-handshake        wasitls__p2_handshake    (owns a connection reference)
 *   resource future-client-streams   wasitls__p2_future       (owns one; pollables are children)
 *   resource client-connection       wasitls__p2_connection   (owns one)
 *   the input-stream / output-stream it hands out are the core's plaintext streams, each with
 *   its own reference, so every drop order is fine: the last holder frees the TLS state.
 */
#ifndef WASITLS__TLS_P2_H
#define WASITLS__TLS_P2_H

#include "wasitls/tls.h"

typedef struct wasitls__p2_handshake {
    wasitls_tls_conn *conn;
} wasitls__p2_handshake;

typedef struct wasitls__p2_future {
    wasitls_tls_conn *conn;
    uint32_t children; /* live pollables from subscribe */
    bool taken;        /* get has returned the result */
} wasitls__p2_future;

typedef struct wasitls__p2_connection {
    wasitls_tls_conn *conn;
} wasitls__p2_connection;

/* constructor(server-name, input, output). Takes ownership of in/out. Fails with
 * WASITLS_E_BUSY (message in why: the guest must be trapped) when a stream still has a
 * pollable child — Wasmtime traps there too; the streams are then kept alive forever rather
 * than freed under their children. */
int wasitls__p2_handshake_new(wasitls_tls_ctx *ctx, const char *name, size_t len,
                              wasitls_istream *in, wasitls_ostream *out, wasitls__p2_handshake **hs,
                              char *why, size_t why_len);
void wasitls__p2_handshake_drop(wasitls__p2_handshake *hs);
/* finish: static func(this: client-handshake) -> future-client-streams. Consumes hs (also on
 * failure, NULL = out of memory). */
wasitls__p2_future *wasitls__p2_finish(wasitls__p2_handshake *hs);

wasitls_pollable *wasitls__p2_subscribe(wasitls__p2_future *f);

enum {
    WASITLS__P2_PENDING, /* none */
    WASITLS__P2_READY,   /* some(ok(ok((connection, input, output)))) */
    WASITLS__P2_FAILED,  /* some(ok(err(io-error))) */
    WASITLS__P2_TAKEN,   /* some(err) */
};
/* get: makes handshake progress first (no polling needed). On READY the three objects are
 * new and the caller owns them; on FAILED *err is new (or NULL when out of memory). Returns
 * WASITLS_E_NOMEM if the result objects cannot be made (the result is then not consumed). */
int wasitls__p2_get(wasitls__p2_future *f, wasitls__p2_connection **conn, wasitls_istream **in,
                    wasitls_ostream **out, wasitls_ioerr **err);
/* Refuses (WASITLS_E_BUSY, message in err) while pollables are alive. */
int wasitls__p2_future_drop(wasitls__p2_future *f, wasitls_error *err);

void wasitls__p2_close_output(wasitls__p2_connection *c);
void wasitls__p2_connection_drop(wasitls__p2_connection *c);

#endif
