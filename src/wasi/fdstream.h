/* Internal constructors of fd streams with a release hook: the sockets code uses them so that a
 * TCP socket's streams keep the socket's fd alive (borrowed) and tell the socket when they go. */
#ifndef WASITLS_WASI_FDSTREAM_H
#define WASITLS_WASI_FDSTREAM_H

#include "wasitls/io.h"

/* release(ctx), when given, runs after the stream is destroyed. */
wasitls_istream *wasitls__istream_fd_ex(int fd, bool borrowed, void (*release)(void *ctx),
                                        void *ctx);
wasitls_ostream *wasitls__ostream_fd_ex(int fd, bool borrowed, void (*release)(void *ctx),
                                        void *ctx);
/* Bytes accepted by write but not yet taken by the kernel. */
size_t wasitls__ostream_fd_pending(wasitls_ostream *s);

#endif
