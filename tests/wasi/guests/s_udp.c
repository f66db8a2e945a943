/* UDP over wasi:sockets inside one guest: two sockets on ADDR, one unconnected and one
 * connected to the other; datagrams both ways with their sender's address checked.
 *   s_udp ADDR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2.h"

static _Noreturn void fail(const char *what, int code)
{
    printf("socket error: %s (%s)\n", w2_sock_error_name(code), what);
    w2_exit(3);
}

static uint16_t port_of(const struct w2_sockaddr_mem *a)
{
    return a->tag == 0 ? a->u.v4.port : a->u.v6.port;
}

/* Waits for and receives exactly one datagram on `in`. */
static void recv_one(h32 in, const char *expect, uint16_t from_port)
{
    for (;;) {
        struct w2_ret_list rl;
        w2_udp_receive(in, 4, &rl);
        if (rl.is_err) fail("receive", rl.u.code);
        if (rl.u.ok.len == 0) {
            w2_wait(w2_udp_in_subscribe(in));
            continue;
        }
        struct w2_in_datagram *d = rl.u.ok.ptr;
        if (rl.u.ok.len != 1 || d->data.len != strlen(expect) ||
            memcmp(d->data.ptr, expect, d->data.len) != 0 || port_of(&d->addr) != from_port) {
            printf("unexpected datagram (%u of them, %u bytes, from port %u)\n", rl.u.ok.len,
                   d->data.len, port_of(&d->addr));
            w2_exit(5);
        }
        free(d->data.ptr);
        free(d);
        return;
    }
}

static void send_one(h32 out, const char *msg, const struct w2_sockaddr_mem *to)
{
    struct w2_ret_count c;
    w2_udp_check_send(out, &c);
    if (c.is_err) fail("check-send", c.u.code);
    if (c.u.ok < 1) {
        printf("check-send granted nothing\n");
        w2_exit(5);
    }
    struct w2_out_datagram d = {{(void *)msg, (uint32_t)strlen(msg)}, to != NULL, {0}};
    if (to) d.addr = *to;
    w2_udp_send(out, &d, 1, &c);
    if (c.is_err) fail("send", c.u.code);
    if (c.u.ok != 1) {
        printf("send took %llu datagrams\n", (unsigned long long)c.u.ok);
        w2_exit(5);
    }
}

int main(int argc, char **argv)
{
    struct w2_sockaddr_mem any;
    if (argc != 2 || w2_parse_addr(argv[1], 0, &any) != 0) w2_exit(2);
    h32 net = w2_instance_network();
    h32 s[2], in[2], out[2];
    struct w2_sockaddr_mem addr[2];
    for (int i = 0; i < 2; i++) {
        struct w2_ret_handle rh;
        w2_create_udp_socket(any.tag, &rh);
        if (rh.is_err) fail("create-udp-socket", rh.u.code);
        s[i] = rh.u.ok;
        struct w2_ret_streams rs;
        w2_udp_open(s[i], NULL, &rs);
        if (!rs.is_err || rs.u.code != 9)
            fail("stream before bind should be invalid-state", rs.is_err ? rs.u.code : 0);
        struct w2_ret_unit ru;
        w2_udp_bind(s[i], net, &any, &ru);
        if (ru.is_err) fail("start-bind", ru.code);
        w2_udp_finish_bind(s[i], &ru);
        if (ru.is_err) fail("finish-bind", ru.code);
        struct w2_ret_sockaddr la;
        w2_udp_local_address(s[i], &la);
        if (la.is_err) fail("local-address", la.u.code);
        addr[i] = la.u.ok;
    }
    /* socket 0 unconnected, socket 1 connected to socket 0 */
    struct w2_ret_streams rs;
    w2_udp_open(s[0], NULL, &rs);
    if (rs.is_err) fail("stream", rs.u.code);
    in[0] = rs.u.ok.in;
    out[0] = rs.u.ok.out;
    w2_udp_open(s[1], &addr[0], &rs);
    if (rs.is_err) fail("stream (connected)", rs.u.code);
    in[1] = rs.u.ok.in;
    out[1] = rs.u.ok.out;
    send_one(out[0], "ping over udp", &addr[1]);
    recv_one(in[1], "ping over udp", port_of(&addr[0]));
    send_one(out[1], "pong", NULL);
    recv_one(in[0], "pong", port_of(&addr[1]));
    /* an unconnected socket needs an address */
    struct w2_out_datagram d = {{"x", 1}, 0, {0}};
    struct w2_ret_count c;
    w2_udp_check_send(out[0], &c);
    w2_udp_send(out[0], &d, 1, &c);
    if (!c.is_err || c.u.code != 3) {
        printf("send without an address on an unconnected socket: expected invalid-argument\n");
        w2_exit(5);
    }
    for (int i = 0; i < 2; i++) {
        w2_udp_in_drop(in[i]);
        w2_udp_out_drop(out[i]);
        w2_udp_drop(s[i]);
    }
    w2_network_drop(net);
    printf("udp ok: ports %u and %u\n", port_of(&addr[0]), port_of(&addr[1]));
    return 0;
}
