/* Helpers of the TLS tests: a case registry run as `tls_test BACKEND CASE` (one process per
 * case, registered with ctest per backend), checks that print where they failed, the test PKI
 * (made by mkcerts.sh; its folder in WASITLS_TEST_PKI), in-memory stream pairs, and spawning
 * loopback servers (`openssl s_server`, tls_peer) on a free port. */
#ifndef WASITLS_TESTS_TLS_HARNESS_H
#define WASITLS_TESTS_TLS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "wasitls/io.h"
#include "wasitls/tls.h"

typedef int (*tt_fn)(const char *backend);
typedef struct tt_case {
    const char *name;
    tt_fn fn;
} tt_case;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)
#define CHECKF(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)
#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        int r_ = (expr);                                                                           \
        CHECKF(r_ == 0, "%s returned %s", #expr, wasitls_err_name(r_));                            \
    } while (0)
/* msg contains every one of the given words (case-sensitive). */
static inline const char *tt_str(const char *s)
{
    return s ? s : "(null)";
}
#define CHECK_HAS(msg, word)                                                                       \
    CHECKF(strstr(tt_str(msg), (word)), "expected \"%s\" in: %s", (word), tt_str(msg))

/* Runs the case argv[2] for backend argv[1]. An internal time limit (WASITLS_TEST_LIMIT
 * seconds, default 50) kills the servers the case started and fails it. */
int tt_main(int argc, char **argv, const tt_case *cases, size_t n);

/* Path of a file of the test PKI, in a static buffer rotated over 8 slots. */
const char *tt_pki(const char *file);

/* A client context for backend with the test root trusted (and extra CA files), no system
 * trust, given timeout (0: default), versions (0: default). Exits the test on failure. */
wasitls_tls_ctx *tt_ctx(const char *backend, const char *const *extra_ca, uint32_t timeout_ms,
                        uint16_t min_v, uint16_t max_v);
/* The same with a client certificate (cert, key: paths; key NULL: in the cert file). */
wasitls_tls_ctx *tt_ctx_client(const char *backend, const char *const *extra_ca,
                               uint32_t timeout_ms, uint16_t min_v, uint16_t max_v,
                               const char *cert, const char *key);

/* A client configuration for backend trusting only the test root (*ca holds its path and must
 * outlive cfg); everything else default. */
void tt_config(wasitls_tls_config *cfg, const char *backend, const char **ca);
/* tt_ctx with default versions and timeout, and session resumption on or off. */
wasitls_tls_ctx *tt_ctx_resume(const char *backend, bool resume);

/* ---- in-memory byte pipes as host streams ---- */

typedef struct tt_pipe {
    uint8_t *buf;
    size_t len, cap;
    bool eof;     /* writer finished: reads return CLOSED once drained */
    bool broken;  /* reader gone: writes fail */
    size_t limit; /* check-write grants at most this much buffered (0: unlimited) */
    size_t writes, last_write; /* non-empty writes to the output stream, the last one's length */
    uint32_t refs;
} tt_pipe;

tt_pipe *tt_pipe_new(size_t limit);
void tt_pipe_unref(tt_pipe *p);
size_t tt_pipe_take(tt_pipe *p, uint8_t *buf, size_t len);
void tt_pipe_put(tt_pipe *p, const uint8_t *buf, size_t len);
/* Streams over pipes; each holds a reference to its pipe. Ready always: they never block, so
 * tests drive both ends by hand. */
wasitls_istream *tt_pipe_istream(tt_pipe *p);
wasitls_ostream *tt_pipe_ostream(tt_pipe *p);

/* ---- processes and sockets ---- */

typedef struct tt_server {
    pid_t pid;
    int port;
    int out_fd; /* its stdout (after the port line) */
} tt_server;

/* Starts argv (searched in PATH) with stdin from /dev/null and stdout to out_fd (-1: stdout
 * and stderr to /dev/null). The child dies with this process. */
pid_t tt_spawn(char *const argv[], int out_fd);
/* Spawns argv (argv[0] searched in PATH) with stdout piped, and waits (5 s at most) for a line
 * containing `marker` followed by a port number ("ACCEPT [::]:" for s_server, "PORT " for
 * tls_peer). */
int tt_spawn_server(tt_server *s, char *const argv[], const char *marker);
void tt_stop_server(tt_server *s);
/* A TCP port on 127.0.0.1 that was free a moment ago (for servers that cannot report theirs). */
int tt_free_port(void);
/* A connected, non-blocking TCP socket to 127.0.0.1:port, or -1. */
int tt_connect(int port);
/* The directory of this executable (for sibling programs such as tls_peer). */
const char *tt_bindir(void);

/* A TLS client connected over TCP: the connection owns the socket's streams. */
int tt_tls_connect(wasitls_tls_ctx *ctx, int port, const char *name, wasitls_tls_conn **out);
/* Blocks on the handshake pollable, then returns the handshake status; *msg gets the error
 * text (static buffer) on failure. */
int tt_handshake(wasitls_tls_conn *c, const char **msg);

/* Reads until `want` bytes or end; returns bytes read, sets *end (0 more possible, CLOSED, or
 * error code) and *msg on error. */
size_t tt_read_some(wasitls_istream *in, uint8_t *buf, size_t want, int *end, const char **msg);
/* Writes all and flushes. */
int tt_write_flush(wasitls_ostream *out, const void *buf, size_t len, const char **msg);

#endif
