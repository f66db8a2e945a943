/* WASI 0.2 imports used by the wasi layer's test guests, lowered by hand per the Canonical ABI
 * for wasm32 (flattened parameters; results of more than one flat value through a return
 * area passed as the last parameter; lists returned through our cabi_realloc). Layouts are
 * pinned with static asserts. The world is tests/wasi/guests/wit/world.wit. */
#ifndef WASITLS_TEST_W2_H
#define WASITLS_TEST_W2_H

#include <stddef.h>
#include <stdint.h>

#define W2_IMPORT(m, n) __attribute__((import_module(m), import_name(n)))
#define W2_IO_POLL "wasi:io/poll@0.2.12"
#define W2_IO_STREAMS "wasi:io/streams@0.2.12"
#define W2_IO_ERROR "wasi:io/error@0.2.12"
#define W2_NET "wasi:sockets/network@0.2.12"
#define W2_INET "wasi:sockets/instance-network@0.2.12"
#define W2_TCP "wasi:sockets/tcp@0.2.12"
#define W2_TCP_CREATE "wasi:sockets/tcp-create-socket@0.2.12"
#define W2_UDP "wasi:sockets/udp@0.2.12"
#define W2_UDP_CREATE "wasi:sockets/udp-create-socket@0.2.12"
#define W2_LOOKUP "wasi:sockets/ip-name-lookup@0.2.12"
#define W2_EXIT "wasi:cli/exit@0.2.12"
#define W2_STDIN "wasi:cli/stdin@0.2.12"

typedef int32_t h32;

struct w2_list {
    void *ptr;
    uint32_t len;
};

/* result<_, error-code> */
struct w2_ret_unit {
    uint8_t is_err, code;
};
/* result<own<T>, error-code> */
struct w2_ret_handle {
    uint8_t is_err;
    union {
        h32 ok;
        uint8_t code;
    } u;
};
_Static_assert(offsetof(struct w2_ret_handle, u) == 4, "layout");
/* result<tuple<input-stream, output-stream>, error-code> */
struct w2_ret_streams {
    uint8_t is_err;
    union {
        struct {
            h32 in, out;
        } ok;
        uint8_t code;
    } u;
};
_Static_assert(offsetof(struct w2_ret_streams, u) == 4, "layout");
/* result<tuple<tcp-socket, input-stream, output-stream>, error-code> */
struct w2_ret_accept {
    uint8_t is_err;
    union {
        struct {
            h32 sock, in, out;
        } ok;
        uint8_t code;
    } u;
};
_Static_assert(offsetof(struct w2_ret_accept, u) == 4 && sizeof(struct w2_ret_accept) == 16,
               "layout");
/* ip-socket-address as stored in memory: variant (u8 tag) with payload at 4. */
struct w2_sockaddr_mem {
    uint8_t tag;
    union {
        struct {
            uint16_t port;
            uint8_t addr[4];
        } v4;
        struct {
            uint16_t port;
            uint32_t flow;
            uint16_t addr[8];
            uint32_t scope;
        } v6;
    } u;
};
_Static_assert(offsetof(struct w2_sockaddr_mem, u) == 4 && sizeof(struct w2_sockaddr_mem) == 32,
               "layout");
/* result<ip-socket-address, error-code> */
struct w2_ret_sockaddr {
    uint8_t is_err;
    union {
        struct w2_sockaddr_mem ok;
        uint8_t code;
    } u;
};
_Static_assert(offsetof(struct w2_ret_sockaddr, u) == 4, "layout");
/* result<option<ip-address>, error-code>; ip-address = variant { tuple<u8x4>, tuple<u16x8> } */
struct w2_ret_next_address {
    uint8_t is_err;
    union {
        struct {
            uint8_t is_some;
            struct {
                uint8_t tag;
                union {
                    uint8_t v4[4];
                    uint16_t v6[8];
                } u;
            } addr;
        } ok;
        uint8_t code;
    } u;
};
_Static_assert(offsetof(struct w2_ret_next_address, u.ok.addr.u) == 6, "layout");
/* stream-error { last-operation-failed(own<error>), closed } inside result<T, stream-error> */
struct w2_stream_error {
    uint8_t tag;
    h32 error;
};
struct w2_ret_read {
    uint8_t is_err;
    union {
        struct w2_list ok;
        struct w2_stream_error err;
    } u;
};
_Static_assert(offsetof(struct w2_ret_read, u) == 4, "layout");
struct w2_ret_u64 {
    uint8_t is_err;
    union {
        uint64_t ok;
        struct w2_stream_error err;
    } u;
};
_Static_assert(offsetof(struct w2_ret_u64, u) == 8, "layout");
struct w2_ret_sunit {
    uint8_t is_err;
    struct w2_stream_error err;
};
_Static_assert(offsetof(struct w2_ret_sunit, err) == 4, "layout");

/* wasi:io */
W2_IMPORT(W2_IO_POLL, "poll") void w2_poll(const h32 *in, uint32_t n, struct w2_list *ret);
W2_IMPORT(W2_IO_POLL, "[method]pollable.block") void w2_pollable_block(h32 self);
W2_IMPORT(W2_IO_POLL, "[resource-drop]pollable") void w2_pollable_drop(h32);
W2_IMPORT(W2_IO_ERROR, "[resource-drop]error") void w2_error_drop(h32);
W2_IMPORT(W2_IO_ERROR, "[method]error.to-debug-string")
void w2_error_to_debug_string(h32 self, struct w2_list *ret);
W2_IMPORT(W2_IO_STREAMS, "[method]input-stream.read")
void w2_read(h32 self, uint64_t len, struct w2_ret_read *ret);
W2_IMPORT(W2_IO_STREAMS, "[method]input-stream.subscribe") h32 w2_input_subscribe(h32 self);
W2_IMPORT(W2_IO_STREAMS, "[resource-drop]input-stream") void w2_input_drop(h32);
W2_IMPORT(W2_IO_STREAMS, "[method]output-stream.check-write")
void w2_check_write(h32 self, struct w2_ret_u64 *ret);
W2_IMPORT(W2_IO_STREAMS, "[method]output-stream.write")
void w2_write(h32 self, const void *p, uint32_t n, struct w2_ret_sunit *ret);
W2_IMPORT(W2_IO_STREAMS, "[method]output-stream.flush")
void w2_flush(h32 self, struct w2_ret_sunit *ret);
W2_IMPORT(W2_IO_STREAMS, "[method]output-stream.blocking-write-and-flush")
void w2_blocking_write_and_flush(h32 self, const void *p, uint32_t n, struct w2_ret_sunit *ret);
W2_IMPORT(W2_IO_STREAMS, "[method]output-stream.subscribe") h32 w2_output_subscribe(h32 self);
W2_IMPORT(W2_IO_STREAMS, "[resource-drop]output-stream") void w2_output_drop(h32);

/* wasi:sockets */
W2_IMPORT(W2_INET, "instance-network") h32 w2_instance_network(void);
W2_IMPORT(W2_NET, "[resource-drop]network") void w2_network_drop(h32);
W2_IMPORT(W2_TCP_CREATE, "create-tcp-socket")
void w2_create_tcp_socket(int32_t family, struct w2_ret_handle *ret);
/* The 12 flat values of an ip-socket-address: tag, then the join of both cases. */
#define W2_SOCKADDR_FLAT                                                                           \
    int32_t tag, int32_t a0, int32_t a1, int32_t a2, int32_t a3, int32_t a4, int32_t a5,           \
        int32_t a6, int32_t a7, int32_t a8, int32_t a9, int32_t a10
W2_IMPORT(W2_TCP, "[method]tcp-socket.start-bind")
void w2_tcp_start_bind(h32 self, h32 net, W2_SOCKADDR_FLAT, struct w2_ret_unit *ret);
W2_IMPORT(W2_TCP, "[method]tcp-socket.finish-bind")
void w2_tcp_finish_bind(h32 self, struct w2_ret_unit *ret);
W2_IMPORT(W2_TCP, "[method]tcp-socket.start-connect")
void w2_tcp_start_connect(h32 self, h32 net, W2_SOCKADDR_FLAT, struct w2_ret_unit *ret);
W2_IMPORT(W2_TCP, "[method]tcp-socket.finish-connect")
void w2_tcp_finish_connect(h32 self, struct w2_ret_streams *ret);
W2_IMPORT(W2_TCP, "[method]tcp-socket.start-listen")
void w2_tcp_start_listen(h32 self, struct w2_ret_unit *ret);
W2_IMPORT(W2_TCP, "[method]tcp-socket.finish-listen")
void w2_tcp_finish_listen(h32 self, struct w2_ret_unit *ret);
W2_IMPORT(W2_TCP, "[method]tcp-socket.accept")
void w2_tcp_accept(h32 self, struct w2_ret_accept *ret);
W2_IMPORT(W2_TCP, "[method]tcp-socket.local-address")
void w2_tcp_local_address(h32 self, struct w2_ret_sockaddr *ret);
W2_IMPORT(W2_TCP, "[method]tcp-socket.subscribe") h32 w2_tcp_subscribe(h32 self);
W2_IMPORT(W2_TCP, "[method]tcp-socket.shutdown")
void w2_tcp_shutdown(h32 self, int32_t how, struct w2_ret_unit *ret);
W2_IMPORT(W2_TCP, "[resource-drop]tcp-socket") void w2_tcp_drop(h32);
W2_IMPORT(W2_LOOKUP, "resolve-addresses")
void w2_resolve_addresses(h32 net, const char *name, uint32_t len, struct w2_ret_handle *ret);
W2_IMPORT(W2_LOOKUP, "[method]resolve-address-stream.resolve-next-address")
void w2_resolve_next_address(h32 self, struct w2_ret_next_address *ret);
W2_IMPORT(W2_LOOKUP, "[method]resolve-address-stream.subscribe") h32 w2_resolve_subscribe(h32);
W2_IMPORT(W2_LOOKUP, "[resource-drop]resolve-address-stream") void w2_resolve_drop(h32);

/* wasi:sockets/udp */
/* result<u64, error-code> */
struct w2_ret_count {
    uint8_t is_err;
    union {
        uint64_t ok;
        uint8_t code;
    } u;
};
_Static_assert(offsetof(struct w2_ret_count, u) == 8, "layout");
/* outgoing-datagram { data: list<u8>, remote-address: option<ip-socket-address> } */
struct w2_out_datagram {
    struct w2_list data;
    uint8_t has_addr;
    struct w2_sockaddr_mem addr;
};
_Static_assert(offsetof(struct w2_out_datagram, addr) == 12 && sizeof(struct w2_out_datagram) == 44,
               "layout");
/* incoming-datagram { data: list<u8>, remote-address: ip-socket-address } */
struct w2_in_datagram {
    struct w2_list data;
    struct w2_sockaddr_mem addr;
};
_Static_assert(sizeof(struct w2_in_datagram) == 40, "layout");
/* result<list<incoming-datagram>, error-code> */
struct w2_ret_list {
    uint8_t is_err;
    union {
        struct w2_list ok;
        uint8_t code;
    } u;
};
W2_IMPORT(W2_UDP_CREATE, "create-udp-socket")
void w2_create_udp_socket(int32_t family, struct w2_ret_handle *ret);
W2_IMPORT(W2_UDP, "[method]udp-socket.start-bind")
void w2_udp_start_bind(h32 self, h32 net, W2_SOCKADDR_FLAT, struct w2_ret_unit *ret);
W2_IMPORT(W2_UDP, "[method]udp-socket.finish-bind")
void w2_udp_finish_bind(h32 self, struct w2_ret_unit *ret);
/* %stream(remote-address: option<ip-socket-address>): option tag, then the address's 12 */
W2_IMPORT(W2_UDP, "[method]udp-socket.stream")
void w2_udp_stream(h32 self, int32_t is_some, W2_SOCKADDR_FLAT, struct w2_ret_streams *ret);
W2_IMPORT(W2_UDP, "[method]udp-socket.local-address")
void w2_udp_local_address(h32 self, struct w2_ret_sockaddr *ret);
W2_IMPORT(W2_UDP, "[resource-drop]udp-socket") void w2_udp_drop(h32);
W2_IMPORT(W2_UDP, "[method]incoming-datagram-stream.receive")
void w2_udp_receive(h32 self, uint64_t max, struct w2_ret_list *ret);
W2_IMPORT(W2_UDP, "[method]incoming-datagram-stream.subscribe") h32 w2_udp_in_subscribe(h32);
W2_IMPORT(W2_UDP, "[resource-drop]incoming-datagram-stream") void w2_udp_in_drop(h32);
W2_IMPORT(W2_UDP, "[method]outgoing-datagram-stream.check-send")
void w2_udp_check_send(h32 self, struct w2_ret_count *ret);
W2_IMPORT(W2_UDP, "[method]outgoing-datagram-stream.send")
void w2_udp_send(h32 self, const struct w2_out_datagram *d, uint32_t n, struct w2_ret_count *ret);
W2_IMPORT(W2_UDP, "[resource-drop]outgoing-datagram-stream") void w2_udp_out_drop(h32);

/* wasi:cli/stdin */
W2_IMPORT(W2_STDIN, "get-stdin") h32 w2_get_stdin(void);

/* wasi:cli/exit.exit-with-code */
W2_IMPORT(W2_EXIT, "exit-with-code") _Noreturn void w2_exit_with_code(int32_t code);

/* ---- helpers (w2.c) ---- */

/* The WIT name of a wasi:sockets error-code. */
const char *w2_sock_error_name(int code);
/* Parses "1.2.3.4" or "::1" into a memory ip-socket-address with port; 0 or -1. */
int w2_parse_addr(const char *s, uint16_t port, struct w2_sockaddr_mem *out);
/* Calls start-connect / start-bind with a memory address, flattening it. */
void w2_start_connect(h32 sock, h32 net, const struct w2_sockaddr_mem *a, struct w2_ret_unit *r);
void w2_start_bind(h32 sock, h32 net, const struct w2_sockaddr_mem *a, struct w2_ret_unit *r);
void w2_udp_bind(h32 sock, h32 net, const struct w2_sockaddr_mem *a, struct w2_ret_unit *r);
/* %stream with a remote address (a) or none (a == NULL). */
void w2_udp_open(h32 sock, const struct w2_sockaddr_mem *a, struct w2_ret_streams *r);
/* Flushes stdio and exits with code through exit-with-code (a preview1 exit or a return from
 * main keeps only success/failure). */
_Noreturn void w2_exit(int code);
/* Blocks until the pollable-producing object is ready (subscribe + block + drop). */
void w2_wait(h32 pollable);

#endif
