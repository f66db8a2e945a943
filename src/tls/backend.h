/* The TLS backend table. A backend turns ciphertext into plaintext and back and never touches a
 * file descriptor. Ciphertext moves one of two ways:
 *   - through the core's transport callbacks (wasitls__tls_io, version 2): the backend pulls
 *     records straight from the underlying stream into its own buffer and pushes the records
 *     it produced straight to it, with no copy in between. The core uses this for clients.
 *   - through put_cipher / get_cipher: the caller feeds received bytes in and drains records
 *     out. The test suite's in-memory servers use this (a session without io).
 * Adding a backend means writing one such table and listing it in backends.c; the core does not
 * change.
 *
 * The table only grows: append fields at the end and bump WASITLS__TLS_BACKEND_VERSION; the
 * core checks `version` before using a field added later.
 *
 * Return conventions: 0 or a count on success; WASITLS_E_AGAIN when the backend needs more
 * ciphertext input; WASITLS_E_CLOSED when the peer sent close_notify; any other negative
 * WASITLS_E_* with `err` filled in words a person can act on.
 */
#ifndef WASITLS__TLS_BACKEND_H
#define WASITLS__TLS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasitls/error.h"
#include "wasitls/tls.h"

#define WASITLS__TLS_BACKEND_VERSION 3

/* Options of a server context: used by the test suite (a server over buffers made with the
 * same library) and kept here for a later server side. */
typedef struct wasitls__tls_server_opts {
    const char *cert_chain_file; /* PEM: leaf first, then intermediates */
    const char *key_file;        /* PEM private key */
    uint16_t min_version, max_version;
} wasitls__tls_server_opts;

typedef struct wasitls__keylog wasitls__keylog;

/* The core's side of a session's transport (version 2). The backend calls these from inside
 * handshake / read / write / close_notify only. */
typedef struct wasitls__tls_io {
    void *ctx;
    /* Up to len bytes of received ciphertext into buf; 0 when none is available now. The end of
     * the stream and transport failures are the core's to track and report: to the backend
     * they look like "nothing yet". */
    size_t (*pull)(void *ctx, uint8_t *buf, size_t len);
    /* Takes all len bytes of records (the core sends what the stream accepts now and queues
     * the rest). false only when out of memory. */
    bool (*push)(void *ctx, const uint8_t *buf, size_t len);
    /* Version 3; NULL when the core does not resume sessions. A serialised session the server
     * would let this client resume (after the handshake for TLS 1.2, with each ticket for
     * TLS 1.3). The bytes hold secrets: the core copies them, the backend wipes its own. */
    void (*save_session)(void *ctx, const uint8_t *data, size_t len);
} wasitls__tls_io;

typedef struct wasitls__tls_backend {
    uint32_t version;
    const char *name;
    bool (*is_available)(void);

    /* Client policy: trust anchors, versions. cfg has been normalised (versions filled).
     * keylog (may be NULL) outlives the backend context. */
    int (*ctx_new)(const wasitls_tls_config *cfg, wasitls__keylog *keylog, void **ctx,
                   wasitls_error *err);
    int (*server_ctx_new)(const wasitls__tls_server_opts *opts, void **ctx, wasitls_error *err);
    void (*ctx_free)(void *ctx);

    /* A client session for server_name (already validated: a DNS name, or an IP literal when
     * is_ip, which gets no SNI and is checked against IP SANs). */
    int (*client_new)(void *ctx, const char *server_name, bool is_ip, void **sess,
                      wasitls_error *err);
    int (*server_new)(void *ctx, void **sess, wasitls_error *err);
    /* Frees the session and wipes its secrets. */
    void (*sess_free)(void *sess);

    /* Ciphertext in: the backend keeps all of it (it buffers until consumed). */
    int (*put_cipher)(void *sess, const uint8_t *buf, size_t len);
    /* Ciphertext out: bytes of records waiting to be sent, and taking up to len of them. */
    size_t (*cipher_pending)(void *sess);
    size_t (*get_cipher)(void *sess, uint8_t *buf, size_t len);

    /* One handshake step: 0 done, WASITLS_E_AGAIN needs input (records to send may be
     * pending), or a failure. */
    int (*handshake)(void *sess, wasitls_error *err);
    /* Plaintext out: > 0 bytes, WASITLS_E_AGAIN, WASITLS_E_CLOSED, or a failure. */
    int64_t (*read)(void *sess, uint8_t *buf, size_t len, wasitls_error *err);
    /* Plaintext in: encrypts all len bytes into pending records. 0 or a failure. */
    int (*write)(void *sess, const uint8_t *buf, size_t len, wasitls_error *err);
    /* Queues close_notify. */
    int (*close_notify)(void *sess, wasitls_error *err);
    /* "TLSv1.3" etc. once established. */
    const char *(*version_name)(void *sess);

    /* Version 2. Moves the session's ciphertext through io from now on (call it before the
     * first handshake step; io must outlive the session). put_cipher / cipher_pending /
     * get_cipher are not used on such a session. 0, or WASITLS_E_NOMEM. */
    int (*set_io)(void *sess, const wasitls__tls_io *io);

    /* Version 3. Offers a session saved through io->save_session for resumption, before the
     * first handshake step; data that do not parse, or a server that declines, mean a full
     * handshake (data is not kept). */
    void (*resume)(void *sess, const uint8_t *data, size_t len);
    /* True once the handshake completed by resuming a session. */
    bool (*resumed)(void *sess);
} wasitls__tls_backend;

/* Registry (backends.c). */
size_t wasitls__tls_backend_count(void);
const wasitls__tls_backend *wasitls__tls_backend_at(size_t i);
const wasitls__tls_backend *wasitls__tls_backend_find(const char *name);

/* Helpers shared by backends (util.c). */
/* "expired on 2024-01-02 03:04:05 UTC"-style dates from a struct tm in UTC. */
void wasitls__tls_fmt_tm(char *buf, size_t len, const void *tm_utc);
/* True when s is an IPv4 or IPv6 literal. */
bool wasitls__tls_is_ip(const char *s);
/* Checks a DNS server name (non-empty, <= 253, labels of [A-Za-z0-9-_] 1..63, no leading or
 * trailing hyphen, optional trailing dot). Fills err when invalid. */
int wasitls__tls_check_dns_name(const char *s, size_t len, wasitls_error *err);
/* The name of a TLS alert description (RFC 8446 section 6), e.g. 116 "certificate required";
 * the same words whichever backend received it. */
const char *wasitls__tls_alert_name(int desc);
/* When SSL_CERT_FILE / SSL_CERT_DIR are set, they must name a readable file / directories:
 * a typo there would otherwise silently fall back to other trust anchors. */
int wasitls__tls_check_env_trust(wasitls_error *err);
/* NSS key log: opened by the core per context (NULL when off); backends append lines. */
int wasitls__keylog_open(const char *path, const char *from, wasitls__keylog **out,
                         wasitls_error *err); /* from: " (named by ...)" for the message, or NULL */
void wasitls__keylog_close(wasitls__keylog *k);
/* Appends "LABEL CLIENT_RANDOM_HEX SECRET_HEX\n" (or a ready line when random is NULL). */
void wasitls__keylog_write(wasitls__keylog *k, const char *label, const uint8_t *random,
                           size_t random_len, const uint8_t *secret, size_t secret_len);
/* What to add to the text of a fatal alert (desc) from a server that asked for a client
 * certificate: "" when it did not ask, or when the alert is not about certificates. */
const char *wasitls__tls_client_cert_hint(bool requested, bool have_cert, int desc);
/* Reads a PEM file the user named (what: "CA file", "client key file", ...) into *out (NUL
 * terminated; the caller frees it), after checking that it is a regular, non-empty file of at
 * most WASITLS__TLS_PEM_MAX bytes that holds PEM text: a FIFO or a device is refused without
 * waiting on it or reading it. */
#define WASITLS__TLS_PEM_MAX (64 << 20)
int wasitls__tls_read_pem(const char *path, const char *what, char **out, wasitls_error *err);
/* Names of TLS protocol versions for messages ("TLS 1.2"). */
const char *wasitls__tls_version_str(uint16_t v);

#endif
