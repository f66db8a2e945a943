/* Connection streams (read, write, flush, close) and the wasi:tls handshake. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

int wasitls__tcp_advance(wasitls_conn *c); /* net.c */

/* Reads and writes are capped so that one host call never asks for an unbounded allocation. */
#define MAX_IO (1u << 20)

static void drop_pollable(wit_handle *p)
{
    if (*p != 0) {
        wit_pollable_drop(*p);
        *p = 0;
    }
}

static int not_open(wasitls_conn *c, const char *what)
{
    if (c == NULL) return wasitls__err(WASITLS_ERR_INVALID, "%s: no connection", what);
    switch (c->state) {
    case CONN_CONNECTING:
        return wasitls__err(WASITLS_AGAIN, "%s: still connecting", what);
    case CONN_HANDSHAKING:
        return wasitls__err(WASITLS_AGAIN, "%s: TLS handshake in progress", what);
    case CONN_FAILED:
        return c->failed_status;
    case CONN_OPEN:
        break;
    }
    return WASITLS_OK;
}

wit_handle wasitls__conn_state_pollable(wasitls_conn *c)
{
    if (c->p_state == 0) {
        if (c->state == CONN_CONNECTING)
            c->p_state = wit_tcp_subscribe(c->sock);
        else if (c->state == CONN_HANDSHAKING)
            c->p_state = wit_tls_future_subscribe(c->future);
    }
    return c->p_state;
}

wit_handle wasitls__conn_pollable(wasitls_conn *c, int which)
{
    if (which == WASITLS_POLLIN) {
        if (c->p_in == 0 && c->in != 0) c->p_in = wit_input_subscribe(c->in);
        return c->p_in;
    }
    if (c->p_out == 0 && c->out != 0) c->p_out = wit_output_subscribe(c->out);
    return c->p_out;
}

/* ---- TLS --------------------------------------------------------------------------------- */

int wasitls_tls_start(wasitls_conn *c, const char *server_name)
{
    int ret = not_open(c, "TLS handshake");
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
    drop_pollable(&c->p_in);
    drop_pollable(&c->p_out);
    wit_handle hs = wit_tls_handshake_new(name, (uint32_t)strlen(name), c->in, c->out);
    c->in = c->out = 0;
    c->unflushed = 0; /* the TLS layer owns the TCP stream's flushing now */
    c->future = wit_tls_handshake_finish(hs);
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
    drop_pollable(&c->p_state);
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

int wasitls_conn_advance(wasitls_conn *c)
{
    if (c == NULL) return wasitls__err(WASITLS_ERR_INVALID, "advance: no connection");
    switch (c->state) {
    case CONN_CONNECTING:
        return wasitls__tcp_advance(c);
    case CONN_HANDSHAKING:
        return tls_advance(c);
    case CONN_FAILED:
        return c->failed_status;
    case CONN_OPEN:
        break;
    }
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

int wasitls_conn_is_tls(const wasitls_conn *c)
{
    return c != NULL && (c->tls != 0 || c->state == CONN_HANDSHAKING);
}

int wasitls_tls_available(void)
{
    return wit_tls_is_available() != 0;
}

/* ---- reading ----------------------------------------------------------------------------- */

static ssize_t do_read(wasitls_conn *c, void *buf, size_t len, int blocking)
{
    int ret = not_open(c, "read");
    if (ret != WASITLS_OK) return ret;
    if (c->in == 0)
        return wasitls__err(WASITLS_ERR_INVALID, "read: connection has no input stream");
    if (len == 0) return wasitls__err(WASITLS_ERR_INVALID, "read: zero-length buffer");
    if (len > MAX_IO) len = MAX_IO;
    for (;;) {
        struct wit_ret_read r;
        wasitls__realloc_target(buf, len);
        if (blocking)
            wit_input_blocking_read(c->in, len, &r);
        else
            wit_input_read(c->in, len, &r);
        wasitls__realloc_target(NULL, 0);
        if (r.is_err) {
            if (r.u.err.tag == WIT_STREAM_ERROR_CLOSED)
                return wasitls__err(WASITLS_CLOSED, "read from %s: end of stream",
                                    c->peer ? c->peer : "stdin");
            char prefix[300];
            snprintf(prefix, sizeof prefix, "read from %s", c->peer ? c->peer : "stdin");
            return wasitls__err_io(WASITLS_ERR_IO, r.u.err.error, prefix);
        }
        size_t n = r.u.ok.len;
        if (n > len) { /* the host broke the contract; do not overrun buf */
            wasitls__free_list(&r.u.ok);
            return wasitls__err(WASITLS_ERR_IO, "read: host returned more than asked");
        }
        if (n != 0 && r.u.ok.ptr != buf) {
            memcpy(buf, r.u.ok.ptr, n);
            wasitls__free_list(&r.u.ok);
        }
        if (n != 0) return (ssize_t)n;
        if (!blocking) return WASITLS_AGAIN;
        /* A blocking read may still come back empty (e.g. a TLS stream that only consumed a
         * handshake message): wait for the stream, then read again. */
        wit_pollable_block(wasitls__conn_pollable(c, WASITLS_POLLIN));
    }
}

ssize_t wasitls_read(wasitls_conn *c, void *buf, size_t len)
{
    return do_read(c, buf, len, 1);
}

ssize_t wasitls_try_read(wasitls_conn *c, void *buf, size_t len)
{
    return do_read(c, buf, len, 0);
}

int wasitls_read_full(wasitls_conn *c, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = wasitls_read(c, p, len);
        if (n < 0) return (int)n;
        p += n;
        len -= (size_t)n;
    }
    return WASITLS_OK;
}

/* ---- writing ----------------------------------------------------------------------------- */

static const char *peer_name(wasitls_conn *c)
{
    return c->peer ? c->peer : "stdout";
}

static int write_error(wasitls_conn *c, const struct wit_stream_error *e, const char *op)
{
    char what[300];
    snprintf(what, sizeof what, "%s %s", op, peer_name(c));
    return wasitls__stream_error(e, what);
}

/* check-write: how many bytes the stream takes now (0 = wait). */
static int64_t check_write(wasitls_conn *c)
{
    struct wit_ret_u64 r;
    wit_output_check_write(c->out, &r);
    if (r.is_err) return write_error(c, &r.u.err, "write to");
    return r.u.ok > MAX_IO ? MAX_IO : (int64_t)r.u.ok;
}

static int write_some(wasitls_conn *c, const void *buf, size_t n)
{
    struct wit_ret_unit r;
    wit_output_write(c->out, buf, (uint32_t)n, &r);
    if (r.is_err) return write_error(c, &r.err, "write to");
    c->unflushed = 1;
    return WASITLS_OK;
}

static int writable(wasitls_conn *c, const char *what)
{
    int ret = not_open(c, what);
    if (ret != WASITLS_OK) return ret;
    if (c->out == 0 || c->output_closed)
        return wasitls__err(WASITLS_ERR_INVALID, "%s: output already closed", what);
    return WASITLS_OK;
}

int wasitls_write_all(wasitls_conn *c, const void *buf, size_t len)
{
    int ret = writable(c, "write");
    if (ret != WASITLS_OK) return ret;
    const unsigned char *p = buf;
    while (len > 0) {
        int64_t room = check_write(c);
        if (room < 0) return (int)room;
        if (room == 0) {
            wit_pollable_block(wasitls__conn_pollable(c, WASITLS_POLLOUT));
            continue;
        }
        size_t n = len < (uint64_t)room ? len : (size_t)room;
        if ((ret = write_some(c, p, n)) != WASITLS_OK) return ret;
        p += n;
        len -= n;
    }
    return wasitls_flush(c);
}

ssize_t wasitls_try_write(wasitls_conn *c, const void *buf, size_t len)
{
    int ret = writable(c, "write");
    if (ret != WASITLS_OK) return ret;
    int64_t room = check_write(c);
    if (room < 0) return (ssize_t)room;
    if (room == 0) return WASITLS_AGAIN;
    size_t n = len < (uint64_t)room ? len : (size_t)room;
    if ((ret = write_some(c, buf, n)) != WASITLS_OK) return ret;
    return (ssize_t)n;
}

int wasitls_flush(wasitls_conn *c)
{
    int ret = writable(c, "flush");
    if (ret != WASITLS_OK) return ret;
    struct wit_ret_unit r;
    wit_output_blocking_flush(c->out, &r);
    if (r.is_err) return write_error(c, &r.err, "flush to");
    c->unflushed = 0;
    return WASITLS_OK;
}

int wasitls_try_flush(wasitls_conn *c)
{
    int ret = writable(c, "flush");
    if (ret != WASITLS_OK) return ret;
    struct wit_ret_unit r;
    wit_output_flush(c->out, &r);
    if (r.is_err) return write_error(c, &r.err, "flush to");
    return WASITLS_OK;
}

int wasitls_close_output(wasitls_conn *c)
{
    int ret = not_open(c, "close output");
    if (ret != WASITLS_OK) return ret;
    if (c->output_closed) return WASITLS_OK;
    if (c->unflushed && (ret = wasitls_flush(c)) != WASITLS_OK) return ret;
    c->output_closed = 1;
    if (c->tls != 0) {
        wit_tls_close_output(c->tls);
        /* close_notify may sit in the host's buffers until the stream is flushed; a stream that
         * reports itself closed after close-output has nothing left to send. */
        struct wit_ret_unit r;
        wit_output_blocking_flush(c->out, &r);
        if (r.is_err && r.err.tag != WIT_STREAM_ERROR_CLOSED)
            return write_error(c, &r.err, "close_notify to");
        return WASITLS_OK;
    }
    if (c->sock != 0) {
        struct wit_ret_sock_unit r;
        wit_tcp_shutdown(c->sock, 1 /* send */, &r);
        if (r.is_err) {
            char what[300];
            snprintf(what, sizeof what, "shutdown to %s", c->peer);
            return wasitls__socket_error(r.code, what);
        }
        return WASITLS_OK;
    }
    /* stdio: dropping stdout is how a component says it is done with it. */
    drop_pollable(&c->p_out);
    wit_output_drop(c->out);
    c->out = 0;
    return WASITLS_OK;
}

/* ---- lifetime ---------------------------------------------------------------------------- */

void wasitls_close(wasitls_conn *c)
{
    if (c == NULL) return;
    /* Children before parents: pollables, then streams (children of the TLS connection or of
     * the socket), then the TLS connection or pending future, then the socket. */
    drop_pollable(&c->p_in);
    drop_pollable(&c->p_out);
    drop_pollable(&c->p_state);
    if (c->in != 0) wit_input_drop(c->in);
    if (c->out != 0) wit_output_drop(c->out);
    if (c->tls != 0) wit_tls_connection_drop(c->tls);
    if (c->future != 0) wit_tls_future_drop(c->future);
    if (c->sock != 0) wit_tcp_drop(c->sock);
    free(c->peer);
    free(c);
}

int wasitls_stdio(wasitls_conn **out)
{
    wasitls_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        *out = NULL;
        return wasitls__err(WASITLS_ERR_NOMEM, "stdio: out of memory");
    }
    c->in = wit_get_stdin();
    c->out = wit_get_stdout();
    c->state = CONN_OPEN;
    *out = c;
    return WASITLS_OK;
}

uint32_t wasitls_conn_input_handle(const wasitls_conn *c)
{
    return c ? (uint32_t)c->in : 0;
}

uint32_t wasitls_conn_output_handle(const wasitls_conn *c)
{
    return c ? (uint32_t)c->out : 0;
}

uint32_t wasitls_conn_socket_handle(const wasitls_conn *c)
{
    return c ? (uint32_t)c->sock : 0;
}
