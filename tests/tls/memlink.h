/* In-memory TLS link for tests: the core's client over tt_pipes, the server a session of the
 * same backend, stepped by hand. */
#ifndef WASITLS_TESTS_TLS_MEMLINK_H
#define WASITLS_TESTS_TLS_MEMLINK_H

#include "harness.h"

#include "../../src/tls/backend.h"

typedef struct memlink {
    const wasitls__tls_backend *be;
    void *sctx, *ssess;
    bool server_done;
    int server_err;
    char server_msg[512];
    tt_pipe *c2s, *s2c;
    wasitls_tls_ctx *ctx;
    wasitls_tls_conn *conn;
    /* server -> client damage: xor the byte at offset corrupt_at with corrupt_xor (if not 0);
     * deliver only cut_at bytes then end the stream (if not 0) */
    size_t s2c_total, corrupt_at, cut_at;
    uint8_t corrupt_xor;
} memlink;

/* Server side and pipes only (m->conn stays NULL; client streams: s2c in, c2s out). */
int ml_open_server(memlink *m, const char *backend, wasitls_tls_ctx *ctx, const char *chain,
                   const char *key, uint16_t smin, uint16_t smax);
int ml_open(memlink *m, const char *backend, wasitls_tls_ctx *ctx, const char *chain,
            const char *key, const char *name, uint16_t smin, uint16_t smax);
void ml_close(memlink *m);
/* Moves client records into the server, runs its handshake, moves its records back. */
void ml_server_step(memlink *m);
/* Runs the handshake to its end; returns the client's status and its message. */
int ml_handshake(memlink *m, char *msg, size_t len);
/* Server reads all plaintext available now. */
size_t ml_server_read(memlink *m, uint8_t *buf, size_t cap, int *end);
int ml_server_write(memlink *m, const void *buf, size_t len);
/* Client reads what is available (steps the server in between). */
size_t ml_client_read(memlink *m, wasitls_istream *in, uint8_t *buf, size_t cap, int *end,
                      char *msg, size_t mlen);

#endif
