/* Opens N TCP connections to an echo server at once and waits for all of them with single
 * wasi:io/poll calls over N pollables: first for the connects, then for the echoes.
 *   s_many ADDR PORT N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "w2.h"

struct conn {
    h32 sock, in, out;
    int state; /* 0 connecting, 1 waiting for echo, 2 done */
    char msg[17];
    size_t got;
};

int main(int argc, char **argv)
{
    if (argc != 4) w2_exit(2);
    struct w2_sockaddr_mem addr;
    if (w2_parse_addr(argv[1], (uint16_t)atoi(argv[2]), &addr) != 0) w2_exit(2);
    int n = atoi(argv[3]);
    struct conn *c = calloc((size_t)n, sizeof *c);
    h32 *ps = calloc((size_t)n, sizeof *ps);
    int *idx = calloc((size_t)n, sizeof *idx);
    if (!c || !ps || !idx) w2_exit(2);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    h32 net = w2_instance_network();
    for (int i = 0; i < n; i++) {
        struct w2_ret_handle rh;
        w2_create_tcp_socket(addr.tag, &rh);
        if (rh.is_err) {
            printf("socket %d: %s\n", i, w2_sock_error_name(rh.u.code));
            w2_exit(3);
        }
        c[i].sock = rh.u.ok;
        struct w2_ret_unit ru;
        w2_start_connect(c[i].sock, net, &addr, &ru);
        if (ru.is_err) {
            printf("connect %d: %s\n", i, w2_sock_error_name(ru.code));
            w2_exit(3);
        }
        snprintf(c[i].msg, sizeof c[i].msg, "conn %06d .....", i);
    }
    int done = 0, rounds = 0, max_batch = 0;
    while (done < n) {
        /* one poll over every connection not yet finished */
        uint32_t np = 0;
        for (int i = 0; i < n; i++) {
            if (c[i].state == 0)
                ps[np] = w2_tcp_subscribe(c[i].sock);
            else if (c[i].state == 1)
                ps[np] = w2_input_subscribe(c[i].in);
            else
                continue;
            idx[np++] = i;
        }
        if ((int)np > max_batch) max_batch = (int)np;
        struct w2_list ready;
        w2_poll(ps, np, &ready);
        for (uint32_t k = 0; k < np; k++)
            w2_pollable_drop(ps[k]);
        rounds++;
        const uint32_t *r = ready.ptr;
        for (uint32_t k = 0; k < ready.len; k++) {
            struct conn *x = &c[idx[r[k]]];
            if (x->state == 0) {
                struct w2_ret_streams rs;
                w2_tcp_finish_connect(x->sock, &rs);
                if (rs.is_err) {
                    if (rs.u.code == 8) continue;
                    printf("finish-connect: %s\n", w2_sock_error_name(rs.u.code));
                    w2_exit(3);
                }
                x->in = rs.u.ok.in;
                x->out = rs.u.ok.out;
                struct w2_ret_sunit wr;
                w2_blocking_write_and_flush(x->out, x->msg, 16, &wr);
                if (wr.is_err) {
                    printf("write failed\n");
                    w2_exit(4);
                }
                x->state = 1;
            } else {
                struct w2_ret_read rr;
                w2_read(x->in, 16 - x->got, &rr);
                if (rr.is_err) {
                    printf("read failed on %d\n", idx[r[k]]);
                    w2_exit(4);
                }
                if (memcmp(rr.u.ok.ptr, x->msg + x->got, rr.u.ok.len) != 0) {
                    printf("wrong echo on %d\n", idx[r[k]]);
                    w2_exit(5);
                }
                x->got += rr.u.ok.len;
                free(rr.u.ok.ptr);
                if (x->got == 16) {
                    x->state = 2;
                    done++;
                }
            }
        }
        free(ready.ptr);
    }
    for (int i = 0; i < n; i++) {
        w2_input_drop(c[i].in);
        w2_output_drop(c[i].out);
        w2_tcp_drop(c[i].sock);
    }
    w2_network_drop(net);
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("many ok: %d connections, %d polls, largest poll %d pollables, %.0f ms\n", n, rounds,
           max_batch, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    return 0;
}
