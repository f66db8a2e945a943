/* Resolves NAME with wasi:sockets/ip-name-lookup and prints every address.  s_lookup NAME */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2.h"

int main(int argc, char **argv)
{
    if (argc != 2) w2_exit(2);
    h32 net = w2_instance_network();
    struct w2_ret_handle rh;
    w2_resolve_addresses(net, argv[1], (uint32_t)strlen(argv[1]), &rh);
    if (rh.is_err) {
        printf("lookup error: %s\n", w2_sock_error_name(rh.u.code));
        w2_exit(3);
    }
    int n = 0;
    for (;;) {
        struct w2_ret_next_address r;
        w2_resolve_next_address(rh.u.ok, &r);
        if (r.is_err) {
            if (r.u.code == 8) {
                w2_wait(w2_resolve_subscribe(rh.u.ok));
                continue;
            }
            printf("lookup error: %s\n", w2_sock_error_name(r.u.code));
            w2_exit(3);
        }
        if (!r.u.ok.is_some) break;
        if (r.u.ok.addr.tag == 0) {
            const uint8_t *a = r.u.ok.addr.u.v4;
            printf("address %u.%u.%u.%u\n", a[0], a[1], a[2], a[3]);
        } else {
            const uint16_t *a = r.u.ok.addr.u.v6;
            printf("address %x:%x:%x:%x:%x:%x:%x:%x\n", a[0], a[1], a[2], a[3], a[4], a[5], a[6],
                   a[7]);
        }
        n++;
    }
    w2_resolve_drop(rh.u.ok);
    w2_network_drop(net);
    printf("%d addresses\n", n);
    w2_exit(n ? 0 : 1);
}
