/* The WASI 0.2 / wasi:tls imports the SDK calls, lowered by hand per the Canonical ABI
 * (component-model design/mvp/CanonicalABI.md) for wasm32:
 *
 * - Handles (own and borrow) are i32. A `self` parameter is a borrow.
 * - Parameters are flattened; up to 16 flat values are passed directly.
 * - A result that flattens to more than one value is written by the host into a caller-provided
 *   return area whose address is appended as a last i32 parameter; the function returns nothing.
 * - Lists and strings the host returns are allocated in our memory through our exported
 *   cabi_realloc (wasi.c) and become ours to free.
 * - Layouts: a variant/result/option is a discriminant (u8 here: fewer than 256 cases) followed by
 *   the payload at the payload's alignment. The C structs below reproduce those layouts on wasm32
 *   and the static asserts pin every offset.
 *
 * Versions: the world in guest/wit imports wasi:*@0.2.12 (jco's WIT) and
 * wasi:tls@0.2.0-draft; hosts match 0.2.x semver-compatibly.
 */
#ifndef WASITLS_GUEST_WIT_H
#define WASITLS_GUEST_WIT_H

#include <stddef.h>
#include <stdint.h>

#define WIT_IMPORT(module, name) __attribute__((import_module(module), import_name(name)))

#define WIT_IO_ERROR "wasi:io/error@0.2.12"
#define WIT_IO_POLL "wasi:io/poll@0.2.12"
#define WIT_IO_STREAMS "wasi:io/streams@0.2.12"
#define WIT_CLOCK "wasi:clocks/monotonic-clock@0.2.12"
#define WIT_CLI_EXIT "wasi:cli/exit@0.2.12"
#define WIT_CLI_STDIN "wasi:cli/stdin@0.2.12"
#define WIT_CLI_STDOUT "wasi:cli/stdout@0.2.12"
#define WIT_CLI_STDERR "wasi:cli/stderr@0.2.12"
#define WIT_NETWORK "wasi:sockets/network@0.2.12"
#define WIT_INSTANCE_NETWORK "wasi:sockets/instance-network@0.2.12"
#define WIT_TCP "wasi:sockets/tcp@0.2.12"
#define WIT_TCP_CREATE "wasi:sockets/tcp-create-socket@0.2.12"
#define WIT_NAME_LOOKUP "wasi:sockets/ip-name-lookup@0.2.12"
#define WIT_TLS "wasi:tls/types@0.2.0-draft"

typedef int32_t wit_handle;

/* ---- return areas ----------------------------------------------------------------------- */

/* string / list<T> as returned: (ptr, len) */
struct wit_list {
    void *ptr;
    uint32_t len;
};
_Static_assert(sizeof(struct wit_list) == 8, "list layout");

/* variant stream-error { last-operation-failed(error), closed } */
enum { WIT_STREAM_ERROR_FAILED = 0, WIT_STREAM_ERROR_CLOSED = 1 };
struct wit_stream_error {
    uint8_t tag;
    wit_handle error; /* own<error> when tag == FAILED */
};
_Static_assert(offsetof(struct wit_stream_error, error) == 4, "stream-error layout");

/* result<list<u8>, stream-error> */
struct wit_ret_read {
    uint8_t is_err;
    union {
        struct wit_list ok;
        struct wit_stream_error err;
    } u;
};
_Static_assert(offsetof(struct wit_ret_read, u) == 4 && sizeof(struct wit_ret_read) == 12,
               "result<list<u8>, stream-error> layout");

/* result<u64, stream-error> */
struct wit_ret_u64 {
    uint8_t is_err;
    union {
        uint64_t ok;
        struct wit_stream_error err;
    } u;
};
_Static_assert(offsetof(struct wit_ret_u64, u) == 8 && sizeof(struct wit_ret_u64) == 16,
               "result<u64, stream-error> layout");

/* result<_, stream-error> */
struct wit_ret_unit {
    uint8_t is_err;
    struct wit_stream_error err;
};
_Static_assert(offsetof(struct wit_ret_unit, err) == 4 && sizeof(struct wit_ret_unit) == 12,
               "result<_, stream-error> layout");

/* result<_, error-code> (error-code is an enum: u8) */
struct wit_ret_sock_unit {
    uint8_t is_err;
    uint8_t code;
};
_Static_assert(offsetof(struct wit_ret_sock_unit, code) == 1, "result<_, error-code> layout");

/* result<own<T>, error-code> */
struct wit_ret_sock_handle {
    uint8_t is_err;
    union {
        wit_handle ok;
        uint8_t code;
    } u;
};
_Static_assert(offsetof(struct wit_ret_sock_handle, u) == 4, "result<own, error-code> layout");

/* result<tuple<input-stream, output-stream>, error-code> */
struct wit_ret_finish_connect {
    uint8_t is_err;
    union {
        struct {
            wit_handle in, out;
        } ok;
        uint8_t code;
    } u;
};
_Static_assert(offsetof(struct wit_ret_finish_connect, u) == 4 &&
                   sizeof(struct wit_ret_finish_connect) == 12,
               "finish-connect result layout");

/* variant ip-address { ipv4(tuple<u8 x4>), ipv6(tuple<u16 x8>) } */
enum { WIT_IPV4 = 0, WIT_IPV6 = 1 };
struct wit_ip_address {
    uint8_t tag;
    union {
        uint8_t v4[4];
        uint16_t v6[8];
    } u;
};
_Static_assert(offsetof(struct wit_ip_address, u) == 2 && sizeof(struct wit_ip_address) == 18,
               "ip-address layout");

/* result<option<ip-address>, error-code> */
struct wit_ret_next_address {
    uint8_t is_err;
    union {
        struct {
            uint8_t is_some;
            struct wit_ip_address addr;
        } ok;
        uint8_t code;
    } u;
};
_Static_assert(offsetof(struct wit_ret_next_address, u) == 2 &&
                   offsetof(struct wit_ret_next_address, u.ok.addr) == 4 &&
                   offsetof(struct wit_ret_next_address, u.ok.addr.u) == 6 &&
                   sizeof(struct wit_ret_next_address) == 22,
               "resolve-next-address result layout");

/* option<result<result<tuple<client-connection, input-stream, output-stream>, io-error>>> */
struct wit_ret_tls_get {
    uint8_t is_some;
    struct {
        uint8_t is_err; /* outer result<_, _>: err = already taken */
        struct {
            uint8_t is_err;
            union {
                struct {
                    wit_handle conn, in, out;
                } ok;
                wit_handle err; /* own<io-error> */
            } u;
        } inner;
    } outer;
};
_Static_assert(offsetof(struct wit_ret_tls_get, outer) == 4 &&
                   offsetof(struct wit_ret_tls_get, outer.inner) == 8 &&
                   offsetof(struct wit_ret_tls_get, outer.inner.u) == 12 &&
                   sizeof(struct wit_ret_tls_get) == 24,
               "future-client-streams.get layout");

/* ---- wasi:io ---------------------------------------------------------------------------- */

WIT_IMPORT(WIT_IO_ERROR, "[method]error.to-debug-string")
void wit_error_to_debug_string(wit_handle self, struct wit_list *ret);
WIT_IMPORT(WIT_IO_ERROR, "[resource-drop]error") void wit_error_drop(wit_handle);

WIT_IMPORT(WIT_IO_POLL, "[method]pollable.ready") int32_t wit_pollable_ready(wit_handle self);
WIT_IMPORT(WIT_IO_POLL, "[method]pollable.block") void wit_pollable_block(wit_handle self);
/* poll: func(in: list<borrow<pollable>>) -> list<u32> */
WIT_IMPORT(WIT_IO_POLL, "poll")
void wit_poll(const wit_handle *in, uint32_t n, struct wit_list *ret);
WIT_IMPORT(WIT_IO_POLL, "[resource-drop]pollable") void wit_pollable_drop(wit_handle);

WIT_IMPORT(WIT_IO_STREAMS, "[method]input-stream.read")
void wit_input_read(wit_handle self, uint64_t len, struct wit_ret_read *ret);
WIT_IMPORT(WIT_IO_STREAMS, "[method]input-stream.blocking-read")
void wit_input_blocking_read(wit_handle self, uint64_t len, struct wit_ret_read *ret);
WIT_IMPORT(WIT_IO_STREAMS, "[method]input-stream.subscribe")
wit_handle wit_input_subscribe(wit_handle self);
WIT_IMPORT(WIT_IO_STREAMS, "[resource-drop]input-stream") void wit_input_drop(wit_handle);

WIT_IMPORT(WIT_IO_STREAMS, "[method]output-stream.check-write")
void wit_output_check_write(wit_handle self, struct wit_ret_u64 *ret);
WIT_IMPORT(WIT_IO_STREAMS, "[method]output-stream.write")
void wit_output_write(wit_handle self, const void *buf, uint32_t len, struct wit_ret_unit *ret);
WIT_IMPORT(WIT_IO_STREAMS, "[method]output-stream.blocking-write-and-flush")
void wit_output_blocking_write_and_flush(wit_handle self, const void *buf, uint32_t len,
                                         struct wit_ret_unit *ret);
WIT_IMPORT(WIT_IO_STREAMS, "[method]output-stream.flush")
void wit_output_flush(wit_handle self, struct wit_ret_unit *ret);
WIT_IMPORT(WIT_IO_STREAMS, "[method]output-stream.blocking-flush")
void wit_output_blocking_flush(wit_handle self, struct wit_ret_unit *ret);
WIT_IMPORT(WIT_IO_STREAMS, "[method]output-stream.subscribe")
wit_handle wit_output_subscribe(wit_handle self);
WIT_IMPORT(WIT_IO_STREAMS, "[resource-drop]output-stream") void wit_output_drop(wit_handle);

/* ---- wasi:clocks, wasi:cli -------------------------------------------------------------- */

WIT_IMPORT(WIT_CLOCK, "now") uint64_t wit_clock_now(void);
WIT_IMPORT(WIT_CLOCK, "subscribe-duration") wit_handle wit_clock_subscribe_duration(uint64_t ns);

WIT_IMPORT(WIT_CLI_STDIN, "get-stdin") wit_handle wit_get_stdin(void);
WIT_IMPORT(WIT_CLI_STDOUT, "get-stdout") wit_handle wit_get_stdout(void);
WIT_IMPORT(WIT_CLI_STDERR, "get-stderr") wit_handle wit_get_stderr(void);
/* exit-with-code: func(status-code: u8) */
WIT_IMPORT(WIT_CLI_EXIT, "exit-with-code") _Noreturn void wit_exit_with_code(int32_t code);

/* ---- wasi:sockets ----------------------------------------------------------------------- */

WIT_IMPORT(WIT_INSTANCE_NETWORK, "instance-network") wit_handle wit_instance_network(void);
WIT_IMPORT(WIT_NETWORK, "[resource-drop]network") void wit_network_drop(wit_handle);

/* create-tcp-socket: func(address-family: ip-address-family) -> result<tcp-socket, error-code> */
WIT_IMPORT(WIT_TCP_CREATE, "create-tcp-socket")
void wit_create_tcp_socket(int32_t family, struct wit_ret_sock_handle *ret);

/* start-connect(network: borrow<network>, remote-address: ip-socket-address).
 * ip-socket-address flattens to a discriminant + the join of both cases = 12 i32:
 *   ipv4: a0 = port, a1..a4 = octets, a5..a10 unused (0)
 *   ipv6: a0 = port, a1 = flow-info, a2..a9 = segments, a10 = scope-id
 * With self and network that is 14 flat parameters (<= 16), plus the return area. */
WIT_IMPORT(WIT_TCP, "[method]tcp-socket.start-connect")
void wit_tcp_start_connect(wit_handle self, wit_handle network, int32_t tag, int32_t a0, int32_t a1,
                           int32_t a2, int32_t a3, int32_t a4, int32_t a5, int32_t a6, int32_t a7,
                           int32_t a8, int32_t a9, int32_t a10, struct wit_ret_sock_unit *ret);
WIT_IMPORT(WIT_TCP, "[method]tcp-socket.finish-connect")
void wit_tcp_finish_connect(wit_handle self, struct wit_ret_finish_connect *ret);
WIT_IMPORT(WIT_TCP, "[method]tcp-socket.subscribe") wit_handle wit_tcp_subscribe(wit_handle self);
/* shutdown-type: receive = 0, send = 1, both = 2 */
WIT_IMPORT(WIT_TCP, "[method]tcp-socket.shutdown")
void wit_tcp_shutdown(wit_handle self, int32_t how, struct wit_ret_sock_unit *ret);
WIT_IMPORT(WIT_TCP, "[resource-drop]tcp-socket") void wit_tcp_drop(wit_handle);

WIT_IMPORT(WIT_NAME_LOOKUP, "resolve-addresses")
void wit_resolve_addresses(wit_handle network, const char *name, uint32_t len,
                           struct wit_ret_sock_handle *ret);
WIT_IMPORT(WIT_NAME_LOOKUP, "[method]resolve-address-stream.resolve-next-address")
void wit_resolve_next_address(wit_handle self, struct wit_ret_next_address *ret);
WIT_IMPORT(WIT_NAME_LOOKUP, "[method]resolve-address-stream.subscribe")
wit_handle wit_resolve_subscribe(wit_handle self);
WIT_IMPORT(WIT_NAME_LOOKUP, "[resource-drop]resolve-address-stream")
void wit_resolve_drop(wit_handle);

/* ---- wasi:tls --------------------------------------------------------------------------- */

WIT_IMPORT(WIT_TLS, "is-available") int32_t wit_tls_is_available(void);
/* constructor(server-name: string, input: input-stream, output: output-stream): both streams
 * are passed by ownership. */
WIT_IMPORT(WIT_TLS, "[constructor]client-handshake")
wit_handle wit_tls_handshake_new(const char *name, uint32_t len, wit_handle in, wit_handle out);
WIT_IMPORT(WIT_TLS, "[static]client-handshake.finish")
wit_handle wit_tls_handshake_finish(wit_handle hs);
WIT_IMPORT(WIT_TLS, "[resource-drop]client-handshake") void wit_tls_handshake_drop(wit_handle);
WIT_IMPORT(WIT_TLS, "[method]client-connection.close-output")
void wit_tls_close_output(wit_handle self);
WIT_IMPORT(WIT_TLS, "[resource-drop]client-connection") void wit_tls_connection_drop(wit_handle);
WIT_IMPORT(WIT_TLS, "[method]future-client-streams.subscribe")
wit_handle wit_tls_future_subscribe(wit_handle self);
WIT_IMPORT(WIT_TLS, "[method]future-client-streams.get")
void wit_tls_future_get(wit_handle self, struct wit_ret_tls_get *ret);
WIT_IMPORT(WIT_TLS, "[resource-drop]future-client-streams") void wit_tls_future_drop(wit_handle);

/* ---- SDK internals shared between the source files ------------------------------------- */

/* Sets the text wasitls_errmsg() returns and returns status, so `return err_set(...)` works. */
int wasitls__err(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Consumes an own<io-error>: its to-debug-string becomes the error text after prefix. */
int wasitls__err_io(int status, wit_handle error, const char *prefix);
/* Maps a stream-error (consuming the error handle it may hold). */
int wasitls__stream_error(const struct wit_stream_error *e, const char *what);
/* Maps a wasi:sockets error-code. */
int wasitls__socket_error(uint8_t code, const char *what);
/* Arms cabi_realloc so the host's next list allocation (align 1, at most cap bytes) lands in buf.
 */
void wasitls__realloc_target(void *buf, size_t cap);
void wasitls__free_list(struct wit_list *l);
wit_handle wasitls__network(void);
/* Strings cross the boundary as UTF-8 and a host traps on anything else: check first. */
int wasitls__utf8_valid(const char *s);

#endif
