/* wasitls host stream / pollable API — the public surface of the wasi layer that other modules
 * (the TLS module first) build on. A stream is a host object behind a table of functions; a TCP
 * stream, a file stream, a pipe and a TLS stream all look the same to the guest and to each
 * other. Everything here is non-blocking; blocking is done by the event loop (wasitls_poll).
 *
 * Extending: embed the base struct first and point `ops` at a const table, e.g.
 *     struct tls_istream { wasitls_istream base; struct tls_conn *conn; };
 * Ops tables carry a version and only ever grow by appending fields.
 *
 * Lifetimes
 *   - A stream is owned by exactly one holder: a guest handle table (via the component layer)
 *     or a host module that took it over (e.g. the TLS module, which took the guest's TCP
 *     streams by ownership). The holder frees it with wasitls_istream_free/ostream_free.
 *   - A pollable made by subscribing to an object is that object's child: `children` counts
 *     them, and freeing a parent with live children is refused (wasi:io says the guest must
 *     drop children first; the wasi layer traps the guest).
 *   - wasitls_ioerr objects are owned by whoever holds the pointer; the wasi layer hands them to
 *     the guest as wasi:io/error.error resources.
 */
#ifndef WASITLS_IO_H
#define WASITLS_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasitls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WASITLS_IO_OPS_VERSION 1

/* ---- errors carried to the guest (wasi:io/error.error) ---- */

typedef struct wasitls_ioerr wasitls_ioerr;
/* code: a WASITLS_E_* code; socket_code: a wasi:sockets error-code ordinal + 1, or 0 when the
 * error is not a socket error (network-error-code returns none). NULL on allocation failure. */
wasitls_ioerr *wasitls_ioerr_new(int code, uint32_t socket_code, const char *fmt, ...)
    WASITLS_PRINTF(3, 4);
void wasitls_ioerr_free(wasitls_ioerr *e);
int wasitls_ioerr_code(const wasitls_ioerr *e);
uint32_t wasitls_ioerr_socket_code(const wasitls_ioerr *e);
/* What to-debug-string returns; never NULL. */
const char *wasitls_ioerr_message(const wasitls_ioerr *e);

/* ---- waiting ---- */

/* Collects what a not-ready object waits on: fds with poll(2) events, and a deadline. */
typedef struct wasitls_waitset wasitls_waitset;
void wasitls_waitset_fd(wasitls_waitset *ws, int fd, short events);
/* Absolute monotonic time in ns (wasitls_now_ns clock). The earliest one wins. */
void wasitls_waitset_deadline(wasitls_waitset *ws, uint64_t mono_ns);
/* The object became ready without any fd event (e.g. data buffered in user space): poll
 * returns at once. */
void wasitls_waitset_now(wasitls_waitset *ws);

uint64_t wasitls_now_ns(void); /* CLOCK_MONOTONIC */

/* ---- pollables ---- */

typedef struct wasitls_pollable wasitls_pollable;
typedef struct wasitls_pollable_ops {
    uint32_t version;
    /* True when ready now. May make progress (read from a socket into a buffer, run a TLS
     * handshake step); must not block. */
    bool (*ready)(wasitls_pollable *p);
    /* Called when not ready: add what to wait on. */
    void (*wait_on)(wasitls_pollable *p, wasitls_waitset *ws);
    /* Frees p (and releases its hold on its parent). */
    void (*destroy)(wasitls_pollable *p);
} wasitls_pollable_ops;
struct wasitls_pollable {
    const wasitls_pollable_ops *ops;
};

void wasitls_pollable_free(wasitls_pollable *p);
/* Blocks until p is ready. */
int wasitls_pollable_block(wasitls_pollable *p) WASITLS_MUST_CHECK;
/* wasi:io/poll.poll: blocks until at least one of ps[0..n) is ready; writes the indices of
 * the ready ones (ascending) to ready_out (room for n) and their count to *nready.
 * Scales to thousands of pollables (epoll for large sets). WASITLS_E_INVAL for n == 0;
 * WASITLS_E_INTERNAL when nothing can ever become ready (no pollable ready, none naming an fd
 * or deadline) or one waits on a closed fd — a wait that would otherwise never end or spin.
 * An fd named in a waitset is closed by its owner; the wasi layer's own fds are closed
 * through the loop so its epoll set forgets them. */
int wasitls_poll(wasitls_pollable *const *ps, size_t n, uint32_t *ready_out,
                 size_t *nready) WASITLS_MUST_CHECK;

/* Output that an object holds on its own (bytes a stream buffered, TLS records queued) goes on
 * while the guest waits on anything else: such an object lists itself here while it holds
 * some, and every wait of wasitls_poll on this thread makes it progress and waits on it too.
 * So a guest that writes, flushes and then only waits for the reply still gets its bytes
 * delivered. progress() must not block and returns true when nothing is left (the writer is
 * then unlisted); it may list or unlist other writers. The struct is the owner's; it must be
 * unlisted (wasitls_bg_writer_remove) before the owner is freed. Both calls are idempotent. */
typedef struct wasitls_bg_writer {
    bool (*progress)(struct wasitls_bg_writer *w);
    void (*wait_on)(struct wasitls_bg_writer *w, wasitls_waitset *ws);
    struct wasitls_bg_writer *prev, *next; /* the registry's */
    bool listed;
} wasitls_bg_writer;
/* The object of type `type` whose member `bg` is w. */
#define WASITLS_BG_OWNER(w, type) ((type *)(void *)((char *)(w)-offsetof(type, bg)))
void wasitls_bg_writer_add(wasitls_bg_writer *w);
void wasitls_bg_writer_remove(wasitls_bg_writer *w);

/* A pollable that is ready at an absolute monotonic time (monotonic-clock.subscribe-*). */
wasitls_pollable *wasitls_pollable_deadline(uint64_t mono_ns);

/* A generic pollable over a parent object: ready/wait_on call the given functions with
 * `parent`, and the parent's `*children` count is incremented now and decremented on free. */
wasitls_pollable *wasitls_pollable_child(void *parent, uint32_t *children,
                                         bool (*ready)(void *parent),
                                         void (*wait_on)(void *parent, wasitls_waitset *ws));

/* ---- streams ---- */

typedef struct wasitls_istream wasitls_istream;
typedef struct wasitls_ostream wasitls_ostream;

typedef struct wasitls_istream_ops {
    uint32_t version;
    /* Reads up to len bytes. Returns n > 0; 0 when nothing is available now; WASITLS_E_CLOSED
     * at end of stream; another negative code on failure, with *err set to a new error
     * (caller owns it) when details exist. */
    int64_t (*read)(wasitls_istream *s, uint8_t *buf, size_t len, wasitls_ioerr **err);
    /* True when read would return something other than 0 (data, EOF or error). May progress. */
    bool (*ready)(wasitls_istream *s);
    void (*wait_on)(wasitls_istream *s, wasitls_waitset *ws);
    void (*destroy)(wasitls_istream *s);
} wasitls_istream_ops;

struct wasitls_istream {
    const wasitls_istream_ops *ops;
    uint32_t children; /* live pollables subscribed to this stream */
};

typedef struct wasitls_ostream_ops {
    uint32_t version;
    /* How many bytes write() accepts now: > 0; 0 when none now (buffer full or a flush in
     * progress); WASITLS_E_CLOSED; or another negative code with *err set. */
    int64_t (*check_write)(wasitls_ostream *s, wasitls_ioerr **err);
    /* Writes len bytes, len <= the last check_write. Returns 0 or a negative code (+ *err). */
    int (*write)(wasitls_ostream *s, const uint8_t *buf, size_t len, wasitls_ioerr **err);
    /* Starts flushing everything written so far to its final destination (for TLS: records
     * handed to the underlying stream). check_write returns 0 until the flush completes. */
    int (*flush)(wasitls_ostream *s, wasitls_ioerr **err);
    /* True when check_write would return non-zero (room, closed or error). May progress. */
    bool (*ready)(wasitls_ostream *s);
    void (*wait_on)(wasitls_ostream *s, wasitls_waitset *ws);
    void (*destroy)(wasitls_ostream *s);
} wasitls_ostream_ops;

struct wasitls_ostream {
    const wasitls_ostream_ops *ops;
    uint32_t children;
};

/* Refuse (WASITLS_E_BUSY) while children are alive; otherwise ops->destroy. */
int wasitls_istream_free(wasitls_istream *s) WASITLS_MUST_CHECK;
int wasitls_ostream_free(wasitls_ostream *s) WASITLS_MUST_CHECK;
/* subscribe: a child pollable ready when ops->ready is. */
wasitls_pollable *wasitls_istream_subscribe(wasitls_istream *s);
wasitls_pollable *wasitls_ostream_subscribe(wasitls_ostream *s);

/* Streams over an fd (closed on destroy unless `borrowed`), used for sockets, pipes and stdio.
 * They never block: sockets use MSG_DONTWAIT; an fd the caller gives up is made O_NONBLOCK; a
 * borrowed blocking pipe or terminal (the host's stdio, shared with other processes) is left
 * as it is and read only after poll(2) reports POLLIN, written PIPE_BUF bytes at a time after
 * POLLOUT. Output is buffered (64 KiB) so that write accepts everything check_write promised;
 * a failure is reported once (then WASITLS_E_CLOSED); a reader that went away (EPIPE) is
 * WASITLS_E_CLOSED. Creating an output stream over a non-socket sets SIGPIPE to SIG_IGN if it
 * was SIG_DFL, so that such a write becomes a stream error instead of killing the host. */
wasitls_istream *wasitls_istream_fd(int fd, bool borrowed);
wasitls_ostream *wasitls_ostream_fd(int fd, bool borrowed);

/* Blocking helpers on the event loop. read_blocking waits until read returns non-zero (data,
 * WASITLS_E_CLOSED or an error; len 0 returns 0 at once). write_all writes every byte, waiting
 * on check_write as needed, without flushing; flush_blocking flushes and waits until the flush
 * completed (blocking-write-and-flush = write_all + flush_blocking). A wait that can never end
 * (an object not ready that names nothing to wait on) returns WASITLS_E_INTERNAL. */
int64_t wasitls_istream_read_blocking(wasitls_istream *s, uint8_t *buf, size_t len,
                                      wasitls_ioerr **err);
int wasitls_ostream_write_all(wasitls_ostream *s, const uint8_t *buf, size_t len,
                              wasitls_ioerr **err) WASITLS_MUST_CHECK;
int wasitls_ostream_flush_blocking(wasitls_ostream *s, wasitls_ioerr **err) WASITLS_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
