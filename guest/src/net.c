/* Name resolution and TCP connect over wasi:sockets. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

wit_handle wasitls__network(void)
{
    /* One network resource for the process: it is only a capability token. */
    static wit_handle net;
    if (net == 0) net = wit_instance_network();
    return net;
}

int wasitls__utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p++;
        int extra;
        unsigned min;
        if (c < 0x80) continue;
        if (c >= 0xc2 && c <= 0xdf)
            extra = 1, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef)
            extra = 2, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
            extra = 3, min = 0x10000;
        else
            return 0;
        unsigned cp = c & (0x3fu >> extra);
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (*p & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    }
    return 1;
}

static int parse_literal(const char *host, uint16_t port, struct wasitls_addr *a)
{
    char buf[64];
    size_t len = strlen(host);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
    }
    if (len >= sizeof buf) return 0;
    memcpy(buf, host, len);
    buf[len] = 0;
    memset(a, 0, sizeof *a);
    a->port = port;
    if (inet_pton(AF_INET, buf, a->bytes) == 1) {
        a->family = 4;
        return 1;
    }
    if (inet_pton(AF_INET6, buf, a->bytes) == 1) {
        a->family = 6;
        return 1;
    }
    return 0;
}

static int resolve_error(const char *host, uint8_t code)
{
    wasitls__socket_error(code, "name lookup"); /* records the code */
    return wasitls__err(
        WASITLS_ERR_RESOLVE, "cannot resolve %s: %s%s", host, wasitls_socket_error_name(code),
        code == WIT_EC_ACCESS_DENIED
            ? " (the host did not grant name lookup; grant it with -S allow-ip-name-lookup)"
            : "");
}

int wasitls_resolve(const char *host, uint16_t port, struct wasitls_addr *out, size_t cap,
                    size_t *n)
{
    *n = 0;
    if (host == NULL || *host == 0 || cap == 0)
        return wasitls__err(WASITLS_ERR_INVALID, "resolve: empty host name");
    if (!wasitls__utf8_valid(host))
        return wasitls__err(WASITLS_ERR_INVALID, "resolve: host name is not UTF-8");
    if (parse_literal(host, port, &out[0])) {
        *n = 1;
        return WASITLS_OK;
    }
    if (host[0] == '[') /* brackets only ever hold an IPv6 literal (scope ids unsupported) */
        return wasitls__err(WASITLS_ERR_INVALID, "resolve: bad IPv6 literal %s", host);

    struct wit_ret_sock_handle r;
    wit_resolve_addresses(wasitls__network(), host, (uint32_t)strlen(host), &r);
    if (r.is_err) {
        return resolve_error(host, r.u.code);
    }
    wit_handle stream = r.u.ok;
    wit_handle pollable = 0;
    int ret = WASITLS_OK;
    for (;;) {
        struct wit_ret_next_address a;
        wit_resolve_next_address(stream, &a);
        if (a.is_err) {
            if (a.u.code == WIT_EC_WOULD_BLOCK) {
                if (pollable == 0) pollable = wit_resolve_subscribe(stream);
                wit_pollable_block(pollable);
                continue;
            }
            ret = resolve_error(host, a.u.code);
            goto exit;
        }
        if (!a.u.ok.is_some) break;
        if (*n == cap) continue; /* drain the stream; keep the first cap */
        struct wasitls_addr *o = &out[*n];
        memset(o, 0, sizeof *o);
        o->port = port;
        if (a.u.ok.addr.tag == WIT_IPV4) {
            o->family = 4;
            memcpy(o->bytes, a.u.ok.addr.u.v4, 4);
        } else {
            o->family = 6;
            for (int i = 0; i < 8; i++) {
                o->bytes[2 * i] = (uint8_t)(a.u.ok.addr.u.v6[i] >> 8);
                o->bytes[2 * i + 1] = (uint8_t)a.u.ok.addr.u.v6[i];
            }
        }
        (*n)++;
    }
    if (*n == 0) ret = wasitls__err(WASITLS_ERR_RESOLVE, "cannot resolve %s: no addresses", host);
exit:
    if (pollable != 0) wit_pollable_drop(pollable);
    wit_resolve_drop(stream);
    return ret;
}

int wasitls_addr_format(const struct wasitls_addr *a, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->bytes, ip, sizeof ip);
    return snprintf(buf, size, a->family == 4 ? "%s:%u" : "[%s]:%u", ip, (unsigned)a->port);
}

int wasitls_tcp_connect_start(const struct wasitls_addr *addr, wasitls_conn **out)
{
    *out = NULL;
    if (addr == NULL || (addr->family != 4 && addr->family != 6))
        return wasitls__err(WASITLS_ERR_INVALID, "connect: bad address");
    char peer[64];
    wasitls_addr_format(addr, peer, sizeof peer);

    wasitls_conn *c = calloc(1, sizeof *c);
    if (c == NULL || (c->peer = strdup(peer)) == NULL) {
        free(c);
        return wasitls__err(WASITLS_ERR_NOMEM, "connect: out of memory");
    }
    char what[96];
    snprintf(what, sizeof what, "connect to %s", peer);

    struct wit_ret_sock_handle s;
    wit_create_tcp_socket(addr->family == 4 ? 0 : 1, &s);
    if (s.is_err) {
        int ret = wasitls__socket_error(s.u.code, what);
        wasitls_close(c);
        return ret;
    }
    c->sock = s.u.ok;

    int32_t f[11] = {0};
    f[0] = addr->port;
    if (addr->family == 4) {
        for (int i = 0; i < 4; i++)
            f[1 + i] = addr->bytes[i];
    } else {
        f[1] = (int32_t)addr->flow_info;
        for (int i = 0; i < 8; i++)
            f[2 + i] = (addr->bytes[2 * i] << 8) | addr->bytes[2 * i + 1];
        f[10] = (int32_t)addr->scope_id;
    }
    struct wit_ret_sock_unit r;
    wit_tcp_start_connect(c->sock, wasitls__network(), addr->family == 4 ? WIT_IPV4 : WIT_IPV6,
                          f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], &r);
    if (r.is_err) {
        int ret = wasitls__socket_error(r.code, what);
        wasitls_close(c);
        return ret;
    }
    c->state = CONN_CONNECTING;
    *out = c;
    return wasitls_conn_advance(c);
}

/* Called by wasitls_conn_advance for CONN_CONNECTING. */
int wasitls__tcp_advance(wasitls_conn *c)
{
    struct wit_ret_finish_connect r;
    wit_tcp_finish_connect(c->sock, &r);
    if (r.is_err) {
        if (r.u.code == WIT_EC_WOULD_BLOCK) return WASITLS_AGAIN;
        char what[96];
        snprintf(what, sizeof what, "connect to %s", c->peer);
        c->failed_status = wasitls__socket_error(r.u.code, what);
        c->state = CONN_FAILED;
        return c->failed_status;
    }
    if (c->p_state != 0) {
        wit_pollable_drop(c->p_state);
        c->p_state = 0;
    }
    c->in = r.u.ok.in;
    c->out = r.u.ok.out;
    c->state = CONN_OPEN;
    return WASITLS_OK;
}

int wasitls_tcp_connect(const char *host, uint16_t port, wasitls_conn **out)
{
    struct wasitls_addr addrs[16];
    size_t n;
    *out = NULL;
    int ret = wasitls_resolve(host, port, addrs, sizeof addrs / sizeof addrs[0], &n);
    if (ret < 0) return ret;
    for (size_t i = 0; i < n; i++) {
        wasitls_conn *c;
        ret = wasitls_tcp_connect_start(&addrs[i], &c);
        while (ret == WASITLS_AGAIN) {
            wit_pollable_block(wasitls__conn_state_pollable(c));
            ret = wasitls_conn_advance(c);
        }
        if (ret == WASITLS_OK) {
            *out = c;
            return WASITLS_OK;
        }
        wasitls_close(c);
        if (ret == WASITLS_ERR_SOCKET && wasitls_last_socket_error() == WIT_EC_ACCESS_DENIED)
            break; /* the next address will not be granted either */
    }
    return ret;
}
