/* TCP server over wasi:sockets: binds ADDR port 0, prints "port N", accepts one connection,
 * reads one line and answers "hello <line>".   s_server ADDR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2.h"

static _Noreturn void fail(const char *what, int code)
{
    printf("socket error: %s (%s)\n", w2_sock_error_name(code), what);
    fflush(stdout);
    w2_exit(3);
}

int main(int argc, char **argv)
{
    struct w2_sockaddr_mem addr;
    if (argc != 2 || w2_parse_addr(argv[1], 0, &addr) != 0) w2_exit(2);
    h32 net = w2_instance_network();
    struct w2_ret_handle rh;
    w2_create_tcp_socket(addr.tag, &rh);
    if (rh.is_err) fail("create-tcp-socket", rh.u.code);
    h32 s = rh.u.ok;
    struct w2_ret_unit ru;
    struct w2_ret_accept early;
    w2_tcp_accept(s, &early); /* before listen: the WIT's invalid-state */
    if (!early.is_err || early.u.code != 9) {
        printf("accept before listen: expected invalid-state\n");
        w2_exit(5);
    }
    w2_start_bind(s, net, &addr, &ru);
    if (ru.is_err) fail("start-bind", ru.code);
    w2_tcp_finish_bind(s, &ru);
    if (ru.is_err) fail("finish-bind", ru.code);
    w2_tcp_start_listen(s, &ru);
    if (ru.is_err) fail("start-listen", ru.code);
    w2_tcp_finish_listen(s, &ru);
    if (ru.is_err) fail("finish-listen", ru.code);
    struct w2_ret_sockaddr la;
    w2_tcp_local_address(s, &la);
    if (la.is_err) fail("local-address", la.u.code);
    unsigned port = la.u.ok.tag == 0 ? la.u.ok.u.v4.port : la.u.ok.u.v6.port;
    printf("port %u\n", port);
    fflush(stdout);
    struct w2_ret_accept ra;
    for (;;) {
        w2_tcp_accept(s, &ra);
        if (!ra.is_err) break;
        if (ra.u.code != 8) fail("accept", ra.u.code);
        w2_wait(w2_tcp_subscribe(s));
    }
    char line[256];
    size_t got = 0;
    while (got < sizeof line - 1 && (got == 0 || line[got - 1] != '\n')) {
        w2_wait(w2_input_subscribe(ra.u.ok.in));
        struct w2_ret_read rr;
        w2_read(ra.u.ok.in, sizeof line - 1 - got, &rr);
        if (rr.is_err) break;
        memcpy(line + got, rr.u.ok.ptr, rr.u.ok.len);
        got += rr.u.ok.len;
        free(rr.u.ok.ptr);
    }
    line[got] = 0;
    char reply[300];
    int n = snprintf(reply, sizeof reply, "hello %s", line);
    struct w2_ret_sunit wr;
    w2_blocking_write_and_flush(ra.u.ok.out, reply, (uint32_t)n, &wr);
    if (wr.is_err) w2_exit(4);
    w2_tcp_shutdown(ra.u.ok.sock, 2, &ru);
    w2_input_drop(ra.u.ok.in);
    w2_output_drop(ra.u.ok.out);
    w2_tcp_drop(ra.u.ok.sock);
    w2_tcp_drop(s);
    w2_network_drop(net);
    printf("served %s", line);
    return 0;
}
