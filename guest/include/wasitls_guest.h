/* wasitls guest SDK: TCP and TLS connections for C programs compiled to wasm32-wasi and run as
 * WASI 0.2 components (wasi:sockets + wasi:tls@0.2.0-draft).
 *
 * Build: link guest/src into the program (CMake: wasitls_add_guest(... LIBS wasitls_guest)) and
 * embed the world `wasitls-guest` from guest/wit; only the imports a program really calls end up
 * in its component. Run with the grants the program needs, e.g.
 *     wasitls run -S tls,inherit-network,allow-ip-name-lookup prog.wasm ...
 *
 * Model. A wasitls_conn owns one TCP socket and the stream pair over it; after a TLS handshake it
 * owns the TLS connection and its plaintext streams instead (the TCP streams then belong to the
 * host's TLS layer, the socket stays ours). Every function is either blocking (waits inside the
 * host until done) or non-blocking (returns WASITLS_AGAIN; wait with wasitls_poll, then retry).
 *
 * Errors. Functions return WASITLS_OK (0) or a count >= 0, or a negative wasitls_status. The
 * text of the last failure — including the host's own words from io-error.to-debug-string,
 * e.g. why a certificate was refused — is in wasitls_errmsg() until the next failure.
 *
 * Guests are single-threaded; the SDK keeps one error buffer and one network handle.
 */
#ifndef WASITLS_GUEST_H
#define WASITLS_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WASITLS_MUST_CHECK __attribute__((warn_unused_result))

enum wasitls_status {
    WASITLS_OK = 0,
    WASITLS_AGAIN = -1,       /* non-blocking call: nothing can be done now; poll and retry */
    WASITLS_CLOSED = -2,      /* end of stream: the peer closed (cleanly, under TLS) */
    WASITLS_ERR_SOCKET = -3,  /* a wasi:sockets error-code (wasitls_last_socket_error) */
    WASITLS_ERR_IO = -4,      /* a stream failed; the host's text is in wasitls_errmsg() */
    WASITLS_ERR_TLS = -5,     /* the TLS handshake failed; the host's text likewise */
    WASITLS_ERR_RESOLVE = -6, /* the name did not resolve to any address */
    WASITLS_ERR_INVALID = -7, /* bad argument, or a call in the wrong state */
    WASITLS_ERR_NOMEM = -8,
    WASITLS_ERR_TIMEOUT = -9,
    WASITLS_ERR_UNAVAILABLE = -10 /* the host says wasi:tls is not available */
};

/* Text of the last failure; static storage, valid until the next SDK call that fails. */
const char *wasitls_errmsg(void);
/* Short name of a status ("closed", "tls", ...). */
const char *wasitls_status_name(int status);
/* wasi:sockets error-code (0 unknown ... 20 permanent-resolver-failure) of the last
 * WASITLS_ERR_SOCKET / WASITLS_ERR_RESOLVE, or -1; and its WIT name. */
int wasitls_last_socket_error(void);
const char *wasitls_socket_error_name(int code);

/* ---- addresses --------------------------------------------------------------------------- */

struct wasitls_addr {
    int family;        /* 4 or 6 */
    uint8_t bytes[16]; /* network order; IPv4 uses the first 4 */
    uint16_t port;
    uint32_t flow_info, scope_id; /* IPv6 only */
};

/* Resolves host (a name, an IPv4 literal, or an IPv6 literal with or without brackets) to at most
 * cap addresses with the given port; *n gets how many. Literals need no name-lookup grant. */
WASITLS_MUST_CHECK int wasitls_resolve(const char *host, uint16_t port, struct wasitls_addr *out,
                                       size_t cap, size_t *n);
/* "1.2.3.4:443" or "[::1]:443"; returns the length snprintf would. */
int wasitls_addr_format(const struct wasitls_addr *a, char *buf, size_t size);

/* ---- connections ------------------------------------------------------------------------- */

typedef struct wasitls_conn wasitls_conn;

/* Blocking: resolves host, tries each address in turn, returns an open TCP connection. */
WASITLS_MUST_CHECK int wasitls_tcp_connect(const char *host, uint16_t port, wasitls_conn **out);
/* Blocking: wasitls_tcp_connect, then wasitls_tls_handshake with server_name (NULL = host). */
WASITLS_MUST_CHECK int wasitls_tls_connect(const char *host, uint16_t port, const char *server_name,
                                           wasitls_conn **out);

/* Non-blocking connect: *out is a connection in the connecting state (also on WASITLS_AGAIN;
 * it is NULL only on other failures). Drive it with wasitls_conn_advance after polling. */
WASITLS_MUST_CHECK int wasitls_tcp_connect_start(const struct wasitls_addr *addr,
                                                 wasitls_conn **out);
/* Non-blocking: starts a TLS handshake on an open TCP connection (STARTTLS too: any bytes
 * exchanged in clear before stay exchanged). Its result is reported by wasitls_conn_advance. */
WASITLS_MUST_CHECK int wasitls_tls_start(wasitls_conn *c, const char *server_name);
/* Blocking: wasitls_tls_start, then wait until the handshake has finished. */
WASITLS_MUST_CHECK int wasitls_tls_handshake(wasitls_conn *c, const char *server_name);
/* Drives a connecting or handshaking connection one step without blocking: WASITLS_OK once open
 * (TCP connected, or TLS established), WASITLS_AGAIN while pending, else an error. On an open
 * connection it returns WASITLS_OK at once. */
WASITLS_MUST_CHECK int wasitls_conn_advance(wasitls_conn *c);
int wasitls_conn_is_tls(const wasitls_conn *c);

/* Blocking read: > 0 bytes read (at most len), WASITLS_CLOSED at end of stream, or an error.
 * Under TLS, end of stream means the peer's close_notify; a cut without it is an error. */
WASITLS_MUST_CHECK ssize_t wasitls_read(wasitls_conn *c, void *buf, size_t len);
/* Non-blocking read: > 0 bytes, WASITLS_AGAIN if none are available yet, WASITLS_CLOSED, error. */
WASITLS_MUST_CHECK ssize_t wasitls_try_read(wasitls_conn *c, void *buf, size_t len);
/* Blocking: reads exactly len bytes; WASITLS_CLOSED if the stream ends first. */
WASITLS_MUST_CHECK int wasitls_read_full(wasitls_conn *c, void *buf, size_t len);

/* Blocking: writes all len bytes and flushes them. */
WASITLS_MUST_CHECK int wasitls_write_all(wasitls_conn *c, const void *buf, size_t len);
/* Non-blocking: accepts as many bytes as the stream can take now (> 0), or WASITLS_AGAIN.
 * Call wasitls_flush (or wasitls_try_flush) before expecting them on the wire. */
WASITLS_MUST_CHECK ssize_t wasitls_try_write(wasitls_conn *c, const void *buf, size_t len);
/* Blocking flush. */
WASITLS_MUST_CHECK int wasitls_flush(wasitls_conn *c);
/* Non-blocking: asks the stream to send what it holds; completion shows as the connection
 * becoming writable again (WASITLS_POLLOUT). */
WASITLS_MUST_CHECK int wasitls_try_flush(wasitls_conn *c);
/* Blocking: ends our direction. TLS: close_notify after pending data (the socket stays open
 * for reading the peer's answer); plain TCP: shutdown(send). Idempotent. */
WASITLS_MUST_CHECK int wasitls_close_output(wasitls_conn *c);
/* Frees everything the connection holds, children before parents. NULL is fine. Does not send
 * close_notify: call wasitls_close_output first for an orderly TLS close. */
void wasitls_close(wasitls_conn *c);

/* A connection over the process's stdin (reads) and stdout (writes), for programs that poll
 * stdin together with sockets. Close it with wasitls_close like any other. */
WASITLS_MUST_CHECK int wasitls_stdio(wasitls_conn **out);

/* ---- polling ----------------------------------------------------------------------------- */

enum { WASITLS_POLLIN = 1, WASITLS_POLLOUT = 2 };

struct wasitls_pollitem {
    wasitls_conn *conn;
    int events;  /* WASITLS_POLLIN and/or WASITLS_POLLOUT */
    int revents; /* set by wasitls_poll */
};

/* Waits until one of the items is ready or timeout_ms passes (< 0: no timeout). Returns how many
 * items have revents set (0 on timeout) or an error. A connection that is still connecting or
 * handshaking reports its requested events when wasitls_conn_advance can make progress.
 * Readiness is a hint: a ready TLS stream may still yield WASITLS_AGAIN (e.g. it only consumed
 * a handshake record). */
WASITLS_MUST_CHECK int wasitls_poll(struct wasitls_pollitem *items, size_t n, int timeout_ms);

/* ---- raw handles, process ---------------------------------------------------------------- */

/* The connection's current wasi:io input/output stream and wasi:sockets tcp-socket handles
 * (borrowed: they stay owned by the connection), for programs that make their own WIT calls. */
uint32_t wasitls_conn_input_handle(const wasitls_conn *c);
uint32_t wasitls_conn_output_handle(const wasitls_conn *c);
uint32_t wasitls_conn_socket_handle(const wasitls_conn *c);

/* wasi:tls is-available (jco's addition to the draft WIT: a host without it fails to
 * instantiate a program that calls this). */
int wasitls_tls_available(void);

/* Flushes stdio and exits with code (0..255) through wasi:cli/exit exit-with-code, so codes
 * other than 0 and 1 survive (a preview1 exit() can only say success or failure). A code
 * outside 0..255 exits with 1: it is a failure that must not wrap around to success. */
_Noreturn void wasitls_exit(int code);

#ifdef __cplusplus
}
#endif
#endif
