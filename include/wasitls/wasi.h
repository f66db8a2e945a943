/* wasitls WASI 0.2 host: configuration of a WASI context (arguments, environment, preopened
 * directories, stdio, grants) and the registration of every WASI interface into a linker.
 *
 * Served interfaces (WIT of wasi 0.2.12; a guest importing any 0.2.x is matched by the linker):
 *   wasi:io/{error,poll,streams}  wasi:clocks/{monotonic-clock,wall-clock}
 *   wasi:random/{random,insecure,insecure-seed}
 *   wasi:cli/{environment,exit,stdin,stdout,stderr,terminal-*}
 *   wasi:filesystem/{types,preopens}
 *   wasi:sockets/{network,instance-network,tcp,tcp-create-socket,udp,udp-create-socket,
 *                 ip-name-lookup}
 *
 * Deny by default: without grants a socket operation returns the WIT's access-denied error
 * code (it does not trap), name lookup likewise, and there are no preopened directories.
 *
 * Resource representations (what another host module sees as the rep of an own/borrow value):
 *   wasi:io/error.error            wasitls_ioerr *
 *   wasi:io/poll.pollable          wasitls_pollable *
 *   wasi:io/streams.input-stream   wasitls_istream *
 *   wasi:io/streams.output-stream  wasitls_ostream *
 * A host module taking an own<input-stream> from the guest owns the wasitls_istream from then
 * on and frees it with wasitls_istream_free; an own<...> result it returns hands a stream it
 * built (e.g. a TLS stream) to the guest.
 *
 * Lifetimes
 *   wasitls_wasi_config   plain data owned by the caller; wasitls_wasi_new copies what it keeps.
 *   wasitls_wasi          one guest run's context. Registered functions refer to it, so it must
 *                         outlive the linker's instances (free instances first, then it).
 *   Parents and children  a pollable is a child of what it subscribed to (stream, socket,
 *                         datagram stream, lookup); a guest dropping the parent first traps. A
 *                         parent whose drop was refused is freed by a later destructor call
 *                         (instance teardown) or, at the latest, by wasitls_wasi_free.
 *   Sockets               a TCP socket and the two streams it hands out share the fd: the
 *                         last of them to go closes it, so streams may outlive the socket (and a
 *                         TLS connection that took the streams keeps the connection open).
 */
#ifndef WASITLS_WASI_H
#define WASITLS_WASI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasitls/component.h"
#include "wasitls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wasitls_wasi wasitls_wasi;

typedef struct wasitls_wasi_preopen {
    const char *host_path;  /* a directory on the host */
    const char *guest_path; /* the name the guest sees (get-directories) */
} wasitls_wasi_preopen;

typedef struct wasitls_wasi_config {
    /* argv as get-arguments returns it; args[0] is the program name by convention. */
    const char *const *args;
    size_t nargs;
    /* "NAME=VALUE" strings (get-environment). */
    const char *const *env;
    size_t nenv;
    const wasitls_wasi_preopen *preopens;
    size_t npreopens;
    /* Host fds behind stdin/stdout/stderr (borrowed, never closed); -1 = an empty stdin, or an
     * output stream that discards. */
    int stdin_fd, stdout_fd, stderr_fd;
    /* Grants */
    bool inherit_network;      /* -S inherit-network: wasi:sockets to host networks */
    bool allow_ip_name_lookup; /* -S allow-ip-name-lookup */
    /* What initial-cwd returns (NULL: none). */
    const char *initial_cwd;
} wasitls_wasi_config;

/* Zero grants, no args/env/preopens, stdio = fds 0, 1, 2. */
void wasitls_wasi_config_default(wasitls_wasi_config *cfg);

/* Opens the preopened directories (an unopenable one fails with its name in err). */
int wasitls_wasi_new(const wasitls_wasi_config *cfg, wasitls_wasi **out,
                     wasitls_error *err) WASITLS_MUST_CHECK;
void wasitls_wasi_free(wasitls_wasi *w);

/* Declares the WASI WIT packages in l and defines every function and resource type of the
 * interfaces listed above, bound to w. Also sets linker hints naming the flags that grant
 * things. */
int wasitls_wasi_add_to_linker(wasitls_wasi *w, wasitls_linker *l,
                               wasitls_error *err) WASITLS_MUST_CHECK;

/* The embedded WIT text of one WASI package ("io", "clocks", "random", "cli", "filesystem",
 * "sockets"), for other host modules whose WIT uses these types; NULL if unknown. */
const char *wasitls_wasi_wit(const char *package, size_t *len);

/* After a guest call returned an error: true when the guest called wasi:cli/exit, with the
 * status it asked for in *code (0 for exit(ok), 1 for exit(err), N for exit-with-code(N)). */
bool wasitls_wasi_exited(const wasitls_wasi *w, int *code);

/* Runs wasi:cli/run@0.2.x#run of inst and turns the outcome into a process exit status:
 * 0 for ok, 1 for err, the code of wasi:cli/exit, or a negative WASITLS_E_* code with err
 * filled for a trap or host error. */
int wasitls_wasi_run(wasitls_wasi *w, wasitls_cinstance *inst, wasitls_error *err);

#ifdef __cplusplus
}
#endif
#endif
