/* wasi:cli (environment, exit, stdio, terminal-*), wasi:clocks and wasi:random. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

/* ---- environment ---- */

/* get-environment: func() -> list<tuple<string, string>>; */
static int env_get_environment(wasitls_ccall *call, void *env, const wasitls_cval *args,
                               size_t nargs, wasitls_cval *result)
{
    wasitls_wasi *w = env;
    wasitls_cval *items = wasitls_ccall_vals(call, w->nenv ? w->nenv : 1);
    if (!items) return WASITLS_E_NOMEM;
    for (size_t i = 0; i < w->nenv; i++) {
        wasitls_cval *t = wasitls__aggregate(call, &items[i], WASITLS_CV_TUPLE, 2);
        if (!t) return WASITLS_E_NOMEM;
        t[0] = cv_str(w->env_names[i], strlen(w->env_names[i]));
        t[1] = cv_str(w->env_values[i], strlen(w->env_values[i]));
    }
    *result = cv_kind(WASITLS_CV_LIST);
    result->of.list.items = items;
    result->of.list.len = w->nenv;
    return 0;
}

/* get-arguments: func() -> list<string>; */
static int env_get_arguments(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                             wasitls_cval *result)
{
    wasitls_wasi *w = env;
    wasitls_cval *items = wasitls_ccall_vals(call, w->nargs ? w->nargs : 1);
    if (!items) return WASITLS_E_NOMEM;
    for (size_t i = 0; i < w->nargs; i++)
        items[i] = cv_str(w->args[i], strlen(w->args[i]));
    *result = cv_kind(WASITLS_CV_LIST);
    result->of.list.items = items;
    result->of.list.len = w->nargs;
    return 0;
}

/* initial-cwd: func() -> option<string>; */
static int env_initial_cwd(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                           wasitls_cval *result)
{
    wasitls_wasi *w = env;
    if (!w->cwd) {
        *result = cv_none();
        return 0;
    }
    return wasitls__some(call, result, cv_str(w->cwd, strlen(w->cwd)));
}

/* ---- exit ---- */

/* exit: func(status: result); */
static int exit_exit(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                     wasitls_cval *result)
{
    NARGS(1);
    wasitls_wasi *w = env;
    w->exited = true;
    w->exit_code = args[0].of.var.tag == 0 ? 0 : 1;
    wasitls_ccall_trap(call, "guest exited with status %d", w->exit_code);
    return WASITLS_E_EXIT;
}

/* exit-with-code: func(status-code: u8); */
static int exit_exit_with_code(wasitls_ccall *call, void *env, const wasitls_cval *args,
                               size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    wasitls_wasi *w = env;
    w->exited = true;
    w->exit_code = (int)(args[0].of.u & 0xff);
    wasitls_ccall_trap(call, "guest exited with status %d", w->exit_code);
    return WASITLS_E_EXIT;
}

/* ---- stdio ---- */

/* An fd of our own behind an absent stdio stream: /dev/null reads EOF and discards writes. */
static int null_fd(int flags)
{
    return open("/dev/null", flags | O_CLOEXEC);
}

/* get-stdin: func() -> input-stream; */
static int stdin_get(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                     wasitls_cval *result)
{
    wasitls_wasi *w = env;
    wasitls_istream *s = w->stdin_fd >= 0 ? wasitls_istream_fd(w->stdin_fd, true)
                                          : wasitls_istream_fd(null_fd(O_RDONLY), false);
    if (!s) return wasitls_ccall_trap(call, "get-stdin: cannot make a stream");
    *result = wasitls_cv_own(s);
    return 0;
}

static int ostd_get(wasitls_ccall *call, int fd, wasitls_cval *result)
{
    wasitls_ostream *s =
        fd >= 0 ? wasitls_ostream_fd(fd, true) : wasitls_ostream_fd(null_fd(O_WRONLY), false);
    if (!s) return wasitls_ccall_trap(call, "get-stdout/stderr: cannot make a stream");
    *result = wasitls_cv_own(s);
    return 0;
}

/* get-stdout: func() -> output-stream; */
static int stdout_get(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                      wasitls_cval *result)
{
    return ostd_get(call, ((wasitls_wasi *)env)->stdout_fd, result);
}

/* get-stderr: func() -> output-stream; */
static int stderr_get(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                      wasitls_cval *result)
{
    return ostd_get(call, ((wasitls_wasi *)env)->stderr_fd, result);
}

/* terminal-*: the host does not expose terminals; every getter says none. */
static int terminal_none(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    *result = cv_none();
    return 0;
}

static int terminal_dtor(void *env, void *rep, wasitls_error *err)
{
    return 0;
}

/* ---- clocks ---- */

/* monotonic-clock.now: func() -> instant; */
static int mono_now(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                    wasitls_cval *result)
{
    *result = cv_u64(wasitls_now_ns());
    return 0;
}

static uint64_t res_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_getres(id, &ts) != 0) return 1;
    uint64_t r = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return r ? r : 1;
}

/* monotonic-clock.resolution: func() -> duration; */
static int mono_resolution(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                           wasitls_cval *result)
{
    *result = cv_u64(res_ns(CLOCK_MONOTONIC));
    return 0;
}

static int deadline_result(wasitls_ccall *call, uint64_t at, wasitls_cval *result)
{
    wasitls_pollable *p = wasitls_pollable_deadline(at);
    if (!p) return WASITLS_E_NOMEM;
    *result = wasitls_cv_own(p);
    return 0;
}

/* subscribe-instant: func(when: instant) -> pollable; */
static int mono_subscribe_instant(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                  size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    return deadline_result(call, args[0].of.u, result);
}

/* subscribe-duration: func(when: duration) -> pollable; */
static int mono_subscribe_duration(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                   size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    uint64_t now = wasitls_now_ns(), d = args[0].of.u;
    return deadline_result(call, d > UINT64_MAX - now ? UINT64_MAX : now + d, result);
}

static int datetime(wasitls_ccall *call, wasitls_cval *out, uint64_t s, uint32_t ns)
{
    wasitls_cval *f = wasitls__aggregate(call, out, WASITLS_CV_RECORD, 2);
    if (!f) return WASITLS_E_NOMEM;
    f[0] = cv_u64(s);
    f[1] = cv_u32(ns);
    return 0;
}

/* wall-clock.now: func() -> datetime; */
static int wall_now(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                    wasitls_cval *result)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec < 0) ts.tv_sec = 0, ts.tv_nsec = 0;
    return datetime(call, result, (uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec);
}

/* wall-clock.resolution: func() -> datetime; */
static int wall_resolution(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                           wasitls_cval *result)
{
    uint64_t r = res_ns(CLOCK_REALTIME);
    return datetime(call, result, r / 1000000000u, (uint32_t)(r % 1000000000u));
}

/* timezone (unstable in the WIT): the host reports UTC rather than reveal its zone. */
static int tz_display(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                      wasitls_cval *result)
{
    wasitls_cval *f = wasitls__aggregate(call, result, WASITLS_CV_RECORD, 3);
    if (!f) return WASITLS_E_NOMEM;
    f[0] = wasitls_cv_u64(WASITLS_CV_S32, 0);
    f[0].of.s = 0;
    f[1] = cv_str("UTC", 3);
    f[2] = wasitls_cv_bool(false);
    return 0;
}

static int tz_utc_offset(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    *result = cv_kind(WASITLS_CV_S32);
    result->of.s = 0;
    return 0;
}

/* ---- random ---- */

/* The WIT lets an implementation trap on absurd lengths; 64 MiB is far above any real use. */
#define RANDOM_MAX (64u << 20)

static int fill_random(uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return WASITLS_E_IO;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* get-random-bytes: func(len: u64) -> list<u8>; */
static int random_bytes(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                        wasitls_cval *result)
{
    NARGS(1);
    uint64_t len = args[0].of.u;
    if (len > RANDOM_MAX)
        return wasitls_ccall_trap(call, "get-random-bytes: %llu bytes is too many",
                                  (unsigned long long)len);
    uint8_t *dst;
    int rc = wasitls_ccall_guest_bytes(call, (size_t)len, false, &dst, result);
    if (rc) return rc;
    if (fill_random(dst, (size_t)len))
        return wasitls_ccall_trap(call, "get-random-bytes: the system random source failed");
    return 0;
}

/* get-random-u64: func() -> u64; */
static int random_u64(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                      wasitls_cval *result)
{
    uint64_t v;
    if (fill_random((uint8_t *)&v, sizeof v))
        return wasitls_ccall_trap(call, "get-random-u64: the system random source failed");
    *result = cv_u64(v);
    return 0;
}

static uint64_t xorshift(wasitls_wasi *w)
{
    uint64_t s1 = w->insecure[0];
    const uint64_t s0 = w->insecure[1];
    w->insecure[0] = s0;
    s1 ^= s1 << 23;
    w->insecure[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return w->insecure[1] + s0;
}

/* insecure.get-insecure-random-bytes: func(len: u64) -> list<u8>; */
static int insecure_bytes(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                          wasitls_cval *result)
{
    NARGS(1);
    uint64_t len = args[0].of.u;
    if (len > RANDOM_MAX)
        return wasitls_ccall_trap(call, "get-insecure-random-bytes: %llu bytes is too many",
                                  (unsigned long long)len);
    uint8_t *dst;
    int rc = wasitls_ccall_guest_bytes(call, (size_t)len, false, &dst, result);
    if (rc) return rc;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = xorshift(env);
        memcpy(dst + i, &v, len - i < 8 ? len - i : 8);
    }
    return 0;
}

/* insecure.get-insecure-random-u64: func() -> u64; */
static int insecure_u64(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                        wasitls_cval *result)
{
    *result = cv_u64(xorshift(env));
    return 0;
}

/* insecure-seed: func() -> tuple<u64, u64>; fixed for the run, as the WIT intends. */
static int insecure_seed(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    wasitls_wasi *w = env;
    wasitls_cval *t = wasitls__aggregate(call, result, WASITLS_CV_TUPLE, 2);
    if (!t) return WASITLS_E_NOMEM;
    t[0] = cv_u64(w->seed[0]);
    t[1] = cv_u64(w->seed[1]);
    return 0;
}

static const wasitls__hres cli_res[] = {
    {"wasi:cli/terminal-input", "terminal-input", terminal_dtor},
    {"wasi:cli/terminal-output", "terminal-output", terminal_dtor},
};

static const wasitls__hfunc cli_funcs[] = {
    {"wasi:cli/environment", "get-environment", env_get_environment},
    {"wasi:cli/environment", "get-arguments", env_get_arguments},
    {"wasi:cli/environment", "initial-cwd", env_initial_cwd},
    {"wasi:cli/exit", "exit", exit_exit},
    {"wasi:cli/exit", "exit-with-code", exit_exit_with_code},
    {"wasi:cli/stdin", "get-stdin", stdin_get},
    {"wasi:cli/stdout", "get-stdout", stdout_get},
    {"wasi:cli/stderr", "get-stderr", stderr_get},
    {"wasi:cli/terminal-stdin", "get-terminal-stdin", terminal_none},
    {"wasi:cli/terminal-stdout", "get-terminal-stdout", terminal_none},
    {"wasi:cli/terminal-stderr", "get-terminal-stderr", terminal_none},
    {"wasi:clocks/monotonic-clock", "now", mono_now},
    {"wasi:clocks/monotonic-clock", "resolution", mono_resolution},
    {"wasi:clocks/monotonic-clock", "subscribe-instant", mono_subscribe_instant},
    {"wasi:clocks/monotonic-clock", "subscribe-duration", mono_subscribe_duration},
    {"wasi:clocks/wall-clock", "now", wall_now},
    {"wasi:clocks/wall-clock", "resolution", wall_resolution},
    {"wasi:clocks/timezone", "display", tz_display},
    {"wasi:clocks/timezone", "utc-offset", tz_utc_offset},
    {"wasi:random/random", "get-random-bytes", random_bytes},
    {"wasi:random/random", "get-random-u64", random_u64},
    {"wasi:random/insecure", "get-insecure-random-bytes", insecure_bytes},
    {"wasi:random/insecure", "get-insecure-random-u64", insecure_u64},
    {"wasi:random/insecure-seed", "insecure-seed", insecure_seed},
};

int wasitls__cli_register(wasitls_wasi *w, wasitls_linker *l, wasitls_error *err)
{
    return wasitls__register(w, l, cli_funcs, sizeof cli_funcs / sizeof cli_funcs[0], cli_res,
                             sizeof cli_res / sizeof cli_res[0], err);
}
