/* wasitls TLS module: TLS client connections over any pair of host streams, and the
 * `wasi:tls/types@0.2.0-draft` binding that hands them to guests.
 *
 * The module is independent of the rest of the runtime: it consumes only the public
 * stream/pollable API (wasitls/io.h) and, for the binding, the linker (wasitls/component.h).
 * Crypto lives in backends (OpenSSL by default, GnuTLS optionally) that do no I/O of their own;
 * this module moves ciphertext between a backend and the underlying streams.
 *
 * Objects and lifetimes
 *   wasitls_tls_ctx   host policy compiled for one backend: trust anchors, versions, timeout.
 *                     Reference counted: every connection made from it holds a reference, so
 *                     wasitls_tls_ctx_free may be called while connections are still alive.
 *   wasitls_tls_conn  one client connection. It takes ownership of the underlying input and
 *                     output streams at creation (they are freed with the connection) and is
 *                     reference counted: the creator holds one reference, and the plaintext
 *                     streams and pollables made from it hold their own, so the holders may be
 *                     dropped in any order. Key material is wiped when the last one goes.
 *
 * Bytes in flight
 *   Plaintext written to the output stream is encrypted at once; the resulting records wait
 *   in the connection until the underlying output stream accepts them. flush() on the
 *   plaintext stream completes only when every record has been handed to the underlying
 *   stream and that stream's own flush has completed. close_output sends close_notify after
 *   everything written before it. The underlying transport is never shut down by this module:
 *   the owner of the socket does that.
 *
 * Threads: a context may be shared by threads; a connection is used by one thread at a time.
 */
#ifndef WASITLS_TLS_H
#define WASITLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasitls/error.h"
#include "wasitls/io.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WASITLS_TLS_VERSION_1_2 0x0303
#define WASITLS_TLS_VERSION_1_3 0x0304
#define WASITLS_TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000

/* Host policy. Strings are copied by wasitls_tls_ctx_new; the caller keeps ownership. */
typedef struct wasitls_tls_config {
    const char *backend;         /* "openssl" (default when NULL) or "gnutls" */
    const char *const *ca_files; /* extra trusted PEM files (--tls-ca), n_ca_files of them */
    size_t n_ca_files;
    /* Trust only ca_files. The system store is the default; as with OpenSSL, SSL_CERT_FILE
     * replaces its bundle and SSL_CERT_DIR its directories (each must exist when set). */
    bool no_system_trust;
    uint32_t handshake_timeout_ms; /* 0: WASITLS_TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS */
    uint16_t min_version;          /* 0: TLS 1.2 */
    uint16_t max_version;          /* 0: TLS 1.3 */
    /* Appends the session secrets in the NSS key log format (for Wireshark) to this file.
     * NULL: $SSLKEYLOGFILE when set, else none. Anyone who can read the file can decrypt the
     * connections: for debugging only. */
    const char *keylog_file;
    /* A client certificate, offered only to servers that ask for one: a PEM file with the
     * certificate first, then its intermediates. Its private key (PEM, not encrypted) is in
     * client_key_file, or in the same file when that is NULL. NULL: no client certificate. */
    const char *client_cert_file;
    const char *client_key_file;
    /* Full handshakes only. By default a context remembers, per server name, the last session
     * each server let it resume (at most WASITLS_TLS_SESSION_CACHE_MAX names, each session
     * used once, held in memory and wiped when dropped), and a later connection to that name
     * offers it: the server may then skip sending and checking its certificate again, which
     * it verified for that name with this context's trust. */
    bool no_session_resumption;
} wasitls_tls_config;

#define WASITLS_TLS_SESSION_CACHE_MAX 256

/* Fills the defaults (all zero / NULL, i.e. OpenSSL, system trust, 10 s, TLS 1.2-1.3). */
void wasitls_tls_config_init(wasitls_tls_config *cfg);

/* ---- backends ---- */

/* Backends compiled in, in order of preference; i < wasitls_tls_backend_count(). */
size_t wasitls_tls_backend_count(void);
const char *wasitls_tls_backend_name(size_t i);
/* True when the named backend is compiled in and usable on this machine. */
bool wasitls_tls_backend_available(const char *name);

/* ---- contexts ---- */

typedef struct wasitls_tls_ctx wasitls_tls_ctx;

/* Loads trust anchors etc. Errors (unknown backend, unreadable CA file, bad version range)
 * are WASITLS_E_TLS_CONFIG / WASITLS_E_NOTFOUND with the reason in err. */
int wasitls_tls_ctx_new(const wasitls_tls_config *cfg, wasitls_tls_ctx **out,
                        wasitls_error *err) WASITLS_MUST_CHECK;
/* Drops the caller's reference (connections keep the context alive). NULL is a no-op. */
void wasitls_tls_ctx_free(wasitls_tls_ctx *ctx);
const char *wasitls_tls_ctx_backend(const wasitls_tls_ctx *ctx);

/* ---- connections ---- */

typedef struct wasitls_tls_conn wasitls_tls_conn;

/* Starts a client connection to server_name (a DNS name, or an IPv4/IPv6 literal which is then
 * verified against IP SANs and not sent as SNI). Takes ownership of `in` and `out` on success
 * AND on failure with a connection returned: an invalid server name does not fail here but
 * makes the handshake fail with a message, so the binding can report it through `get`.
 * Returns WASITLS_E_NOMEM (streams not taken) or 0. The handshake makes progress whenever the
 * connection is polled, read or asked for its status. */
int wasitls_tls_client_new(wasitls_tls_ctx *ctx, const char *server_name, size_t name_len,
                           wasitls_istream *in, wasitls_ostream *out,
                           wasitls_tls_conn **conn) WASITLS_MUST_CHECK;

/* Adds a reference / drops one; the last drop frees everything including the underlying
 * streams (sending close_notify first, without blocking, if the output was never closed). */
void wasitls_tls_conn_ref(wasitls_tls_conn *c);
void wasitls_tls_conn_release(wasitls_tls_conn *c);

/* Makes as much handshake progress as possible without blocking. Returns 0 when the handshake
 * has completed, WASITLS_E_AGAIN while it is in progress, or the failure code (then *err, if
 * err is not NULL, is set to a new error describing it; the caller owns it). */
int wasitls_tls_conn_handshake(wasitls_tls_conn *c, wasitls_ioerr **err) WASITLS_MUST_CHECK;

/* A pollable ready when the handshake has completed or failed (including by timeout). It holds
 * a reference to the connection; `children` (may be NULL) is incremented now and decremented
 * when the pollable is freed (the wasi:io parent/child rule of the caller's object). */
wasitls_pollable *wasitls_tls_conn_subscribe(wasitls_tls_conn *c, uint32_t *children);

/* The plaintext streams (ordinary wasitls streams). Each may be taken once (NULL after that or
 * on allocation failure); each holds a reference to the connection until freed. */
wasitls_istream *wasitls_tls_conn_input(wasitls_tls_conn *c);
wasitls_ostream *wasitls_tls_conn_output(wasitls_tls_conn *c);

/* Sends close_notify after all data written so far and waits (on the event loop, at most the
 * handshake timeout) until the records have been handed to the underlying stream. Idempotent;
 * the output stream reports closed afterwards. Does not shut the transport down. */
int wasitls_tls_conn_close_output(wasitls_tls_conn *c, wasitls_ioerr **err) WASITLS_MUST_CHECK;

/* Facts about an established connection: "TLSv1.3" etc.; "" before the handshake finished. */
const char *wasitls_tls_conn_version(const wasitls_tls_conn *c);
/* True when the handshake resumed a session saved by an earlier connection to the same server
 * name (see wasitls_tls_config.no_session_resumption); false before it finished. */
bool wasitls_tls_conn_resumed(const wasitls_tls_conn *c);

/* ---- the wasi:tls 0.2 binding ---- */

struct wasitls_linker;

/* Registers wasi:tls/types@0.2.0-draft (and its WIT) into the linker with this policy;
 * cfg == NULL means TLS is not granted: only a hint is registered, so that instantiating a
 * guest that imports wasi:tls fails with a message naming `-S tls`. The context made here
 * lives until the process exits (or wasitls_tls_unregister_all). The wasi layer must have
 * registered wasi:io (streams, poll, error) in the same linker first. */
int wasitls_tls_register(struct wasitls_linker *l, const wasitls_tls_config *cfg,
                         wasitls_error *err) WASITLS_MUST_CHECK;
/* Frees the contexts made by wasitls_tls_register; only after the linkers are gone. */
void wasitls_tls_unregister_all(void);

#ifdef __cplusplus
}
#endif
#endif
