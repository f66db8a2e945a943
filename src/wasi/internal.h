/* Internal to the wasi layer: error mapping shared by streams, sockets and the filesystem,
 * and the fd bookkeeping the event loop needs. */
#ifndef WASITLS_WASI_INTERNAL_H
#define WASITLS_WASI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasitls/io.h"

/* wasi:sockets/network.error-code, in declaration order (the WIT ordinal). */
enum wasitls__sock_err {
    WASITLS__SE_UNKNOWN,
    WASITLS__SE_ACCESS_DENIED,
    WASITLS__SE_NOT_SUPPORTED,
    WASITLS__SE_INVALID_ARGUMENT,
    WASITLS__SE_OUT_OF_MEMORY,
    WASITLS__SE_TIMEOUT,
    WASITLS__SE_CONCURRENCY_CONFLICT,
    WASITLS__SE_NOT_IN_PROGRESS,
    WASITLS__SE_WOULD_BLOCK,
    WASITLS__SE_INVALID_STATE,
    WASITLS__SE_NEW_SOCKET_LIMIT,
    WASITLS__SE_ADDRESS_NOT_BINDABLE,
    WASITLS__SE_ADDRESS_IN_USE,
    WASITLS__SE_REMOTE_UNREACHABLE,
    WASITLS__SE_CONNECTION_REFUSED,
    WASITLS__SE_CONNECTION_RESET,
    WASITLS__SE_CONNECTION_ABORTED,
    WASITLS__SE_DATAGRAM_TOO_LARGE,
    WASITLS__SE_NAME_UNRESOLVABLE,
    WASITLS__SE_TEMPORARY_RESOLVER_FAILURE,
    WASITLS__SE_PERMANENT_RESOLVER_FAILURE,
};

/* errno -> a WASITLS_E_* code. */
int wasitls__errno_code(int e);
/* errno -> wasi:sockets error-code ordinal (WASITLS__SE_*). */
uint32_t wasitls__errno_sock(int e);
/* A stream error for errno e: an ioerr carrying the socket code (+1) when the fd is a socket. */
wasitls_ioerr *wasitls__ioerr_errno(int e, bool is_socket, const char *what);

wasitls_ioerr *wasitls__ioerr_file(int e, const char *what);
int wasitls__ioerr_os_errno(const wasitls_ioerr *e, bool *is_file);

/* Closes fd after telling the event loop to forget it: the loop keeps a persistent epoll set,
 * and a number reused by a new file must not be mistaken for the old registration. Every fd
 * the wasi layer has ever put in a waitset is closed through here. */
void wasitls__fd_close(int fd);

/* Zero-timeout poll(2) of one fd: the revents (0 when nothing is pending). */
short wasitls__fd_revents(int fd, short events);

#endif
