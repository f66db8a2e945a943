/* Helpers for the test guests' hand-lowered WASI 0.2 imports. */
#include "w2.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The host allocates returned lists and strings in our memory through the cabi_realloc that
 * wasitls_add_guest links into every guest (guest/src/realloc.c). */

const char *w2_sock_error_name(int code)
{
    static const char *const names[] = {
        "unknown",
        "access-denied",
        "not-supported",
        "invalid-argument",
        "out-of-memory",
        "timeout",
        "concurrency-conflict",
        "not-in-progress",
        "would-block",
        "invalid-state",
        "new-socket-limit",
        "address-not-bindable",
        "address-in-use",
        "remote-unreachable",
        "connection-refused",
        "connection-reset",
        "connection-aborted",
        "datagram-too-large",
        "name-unresolvable",
        "temporary-resolver-failure",
        "permanent-resolver-failure",
    };
    return code >= 0 && code < (int)(sizeof names / sizeof names[0]) ? names[code] : "?";
}

int w2_parse_addr(const char *s, uint16_t port, struct w2_sockaddr_mem *out)
{
    memset(out, 0, sizeof *out);
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        out->tag = 0;
        out->u.v4.port = port;
        memcpy(out->u.v4.addr, &a4, 4);
        return 0;
    }
    if (inet_pton(AF_INET6, s, &a6) == 1) {
        out->tag = 1;
        out->u.v6.port = port;
        for (int i = 0; i < 8; i++)
            out->u.v6.addr[i] = (uint16_t)(a6.s6_addr[2 * i] << 8 | a6.s6_addr[2 * i + 1]);
        return 0;
    }
    return -1;
}

/* Flattening an ip-socket-address: ipv4 is (port, a, b, c, d), ipv6 is (port, flow, 8 x u16,
 * scope); the join pads the shorter case with zeros. */
static void flat(const struct w2_sockaddr_mem *a, int32_t v[11])
{
    memset(v, 0, 11 * sizeof *v);
    if (a->tag == 0) {
        v[0] = a->u.v4.port;
        for (int i = 0; i < 4; i++)
            v[1 + i] = a->u.v4.addr[i];
    } else {
        v[0] = a->u.v6.port;
        v[1] = (int32_t)a->u.v6.flow;
        for (int i = 0; i < 8; i++)
            v[2 + i] = a->u.v6.addr[i];
        v[10] = (int32_t)a->u.v6.scope;
    }
}

void w2_start_connect(h32 sock, h32 net, const struct w2_sockaddr_mem *a, struct w2_ret_unit *r)
{
    int32_t v[11];
    flat(a, v);
    w2_tcp_start_connect(sock, net, a->tag, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8],
                         v[9], v[10], r);
}

void w2_start_bind(h32 sock, h32 net, const struct w2_sockaddr_mem *a, struct w2_ret_unit *r)
{
    int32_t v[11];
    flat(a, v);
    w2_tcp_start_bind(sock, net, a->tag, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9],
                      v[10], r);
}

void w2_udp_bind(h32 sock, h32 net, const struct w2_sockaddr_mem *a, struct w2_ret_unit *r)
{
    int32_t v[11];
    flat(a, v);
    w2_udp_start_bind(sock, net, a->tag, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9],
                      v[10], r);
}

void w2_udp_open(h32 sock, const struct w2_sockaddr_mem *a, struct w2_ret_streams *r)
{
    int32_t v[11] = {0};
    if (a) flat(a, v);
    w2_udp_stream(sock, a != NULL, a ? a->tag : 0, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
                  v[8], v[9], v[10], r);
}

void w2_wait(h32 pollable)
{
    w2_pollable_block(pollable);
    w2_pollable_drop(pollable);
}

_Noreturn void w2_exit(int code)
{
    fflush(stdout);
    fflush(stderr);
    if (code == 0) exit(0);
    w2_exit_with_code(code);
}
