/* Connection streams (read, write, flush, close). Nothing here calls wasi:tls: what a TLS
 * connection needs goes through c->tls_hooks (tls.c), so a program that never starts TLS
 * links no wasi:tls import and runs without -S tls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

int wasitls__tcp_advance(wasitls_conn *c); /* net.c */

/* Reads and writes are capped so that one host call never asks for an unbounded allocation. */
#define MAX_IO (1u << 20)

void wasitls__drop_pollable(wit_handle *p)
{
    if (*p != 0) {
        wit_pollable_drop(*p);
        *p = 0;
    }
}

int wasitls__not_open(wasitls_conn *c, const char *what)
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
            c->p_state = c->tls_hooks->subscribe(c);
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

int wasitls_conn_advance(wasitls_conn *c)
{
    if (c == NULL) return wasitls__err(WASITLS_ERR_INVALID, "advance: no connection");
    switch (c->state) {
    case CONN_CONNECTING:
        return wasitls__tcp_advance(c);
    case CONN_HANDSHAKING:
        return c->tls_hooks->advance(c);
    case CONN_FAILED:
        return c->failed_status;
    case CONN_OPEN:
        break;
    }
    return WASITLS_OK;
}

int wasitls_conn_is_tls(const wasitls_conn *c)
{
    return c != NULL && (c->tls != 0 || c->state == CONN_HANDSHAKING);
}

/* ---- reading ----------------------------------------------------------------------------- */

static ssize_t do_read(wasitls_conn *c, void *buf, size_t len, int blocking)
{
    int ret = wasitls__not_open(c, "read");
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
    int ret = wasitls__not_open(c, what);
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
    int ret = wasitls__not_open(c, "close output");
    if (ret != WASITLS_OK) return ret;
    if (c->output_closed) return WASITLS_OK;
    if (c->unflushed && (ret = wasitls_flush(c)) != WASITLS_OK) return ret;
    c->output_closed = 1;
    if (c->tls != 0) {
        c->tls_hooks->close_output(c);
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
    wasitls__drop_pollable(&c->p_out);
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
    wasitls__drop_pollable(&c->p_in);
    wasitls__drop_pollable(&c->p_out);
    wasitls__drop_pollable(&c->p_state);
    if (c->in != 0) wit_input_drop(c->in);
    if (c->out != 0) wit_output_drop(c->out);
    if (c->tls != 0 || c->future != 0) c->tls_hooks->drop(c);
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
