/* wasi:io — error, poll, streams — as host functions over the host stream/pollable API. */
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* The WIT caps a blocking-write-and-flush (and the zeroes variant) at 4096 bytes. */
#define BLOCKING_WRITE_MAX 4096

/* ---- error ---- */

static int error_dtor(void *env, void *rep, wasitls_error *err)
{
    wasitls_ioerr_free(rep);
    return 0;
}

/* to-debug-string: func() -> string; */
static int error_to_debug_string(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                 size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    const char *m = wasitls_ioerr_message(ARG_REP(0));
    *result = cv_str(m, strlen(m));
    return 0;
}

/* ---- poll ---- */

static const char *wait_failure(int rc)
{
    return rc == WASITLS_E_INTERNAL
               ? "none of the pollables can ever become ready (a deadlock, or a closed fd)"
               : wasitls_strerror(rc);
}

static int pollable_dtor(void *env, void *rep, wasitls_error *err)
{
    wasitls_pollable_free(rep);
    return 0;
}

/* ready: func() -> bool; */
static int pollable_ready(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                          wasitls_cval *result)
{
    NARGS(1);
    wasitls_pollable *p = ARG_REP(0);
    *result = wasitls_cv_bool(p->ops->ready(p));
    return 0;
}

/* block: func(); */
static int pollable_block(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                          wasitls_cval *result)
{
    NARGS(1);
    int rc = wasitls_pollable_block(ARG_REP(0));
    if (rc) return wasitls_ccall_trap(call, "pollable.block: %s", wait_failure(rc));
    return 0;
}

/* poll: func(in: list<borrow<pollable>>) -> list<u32>; */
static int poll_poll(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                     wasitls_cval *result)
{
    NARGS(1);
    size_t n = args[0].of.list.len;
    if (n == 0) return wasitls_ccall_trap(call, "poll: empty list of pollables");
    if (n > UINT32_MAX) return wasitls_ccall_trap(call, "poll: too many pollables");
    wasitls_pollable **ps = wasitls_ccall_alloc(call, n * sizeof *ps);
    uint32_t *ready = wasitls_ccall_alloc(call, n * sizeof *ready);
    if (!ps || !ready) return WASITLS_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        ps[i] = args[0].of.list.items[i].of.res.rep;
    size_t nr;
    int rc = wasitls_poll(ps, n, ready, &nr);
    if (rc) return wasitls_ccall_trap(call, "poll: %s", wait_failure(rc));
    wasitls_cval *items = wasitls_ccall_vals(call, nr);
    if (!items) return WASITLS_E_NOMEM;
    for (size_t i = 0; i < nr; i++)
        items[i] = cv_u32(ready[i]);
    *result = cv_kind(WASITLS_CV_LIST);
    result->of.list.items = items;
    result->of.list.len = nr;
    return 0;
}

/* ---- input-stream ---- */

static void istream_force_free(void *rep)
{
    wasitls_istream *s = rep;
    s->children = 0;
    s->ops->destroy(s);
}

static int istream_dtor(void *env, void *rep, wasitls_error *err)
{
    int rc = wasitls_istream_free(rep);
    if (rc == WASITLS_E_BUSY) {
        wasitls__orphan_add(env, rep, istream_force_free);
        return wasitls_error_set(err, rc,
                                 "input-stream dropped while a pollable subscribed to it is alive");
    }
    wasitls__orphan_forget(env, rep);
    return rc;
}

static int64_t clamp_len(uint64_t len)
{
    return len > WASI_READ_MAX ? WASI_READ_MAX : (int64_t)len;
}

static int do_read(wasitls_ccall *call, wasitls_wasi *w, wasitls_istream *s, uint64_t len,
                   bool blocking, wasitls_cval *result)
{
    size_t n = (size_t)clamp_len(len);
    uint8_t *buf = wasitls__scratch(w, n ? n : 1);
    if (!buf) return WASITLS_E_NOMEM;
    wasitls_ioerr *e = NULL;
    int64_t r =
        blocking ? wasitls_istream_read_blocking(s, buf, n, &e) : s->ops->read(s, buf, n, &e);
    if (r == WASITLS_E_INTERNAL && blocking)
        return wasitls_ccall_trap(call, "blocking-read: the stream can never become ready");
    wasitls_cval bytes;
    if (r >= 0) {
        int rc = wasitls__guest_copy(call, buf, (size_t)r, &bytes);
        if (rc) return rc;
    }
    return wasitls__stream_result(call, result, r, e, &bytes);
}

/* read: func(len: u64) -> result<list<u8>, stream-error>; */
static int istream_read(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                        wasitls_cval *result)
{
    NARGS(2);
    return do_read(call, env, ARG_REP(0), args[1].of.u, false, result);
}

/* blocking-read: func(len: u64) -> result<list<u8>, stream-error>; */
static int istream_blocking_read(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                 size_t nargs, wasitls_cval *result)
{
    NARGS(2);
    return do_read(call, env, ARG_REP(0), args[1].of.u, true, result);
}

static int do_skip(wasitls_ccall *call, wasitls_wasi *w, wasitls_istream *s, uint64_t len,
                   bool blocking, wasitls_cval *result)
{
    size_t n = (size_t)clamp_len(len);
    uint8_t *buf = wasitls__scratch(w, n ? n : 1);
    if (!buf) return WASITLS_E_NOMEM;
    wasitls_ioerr *e = NULL;
    int64_t r =
        blocking ? wasitls_istream_read_blocking(s, buf, n, &e) : s->ops->read(s, buf, n, &e);
    wasitls_cval v = cv_u64(r > 0 ? (uint64_t)r : 0);
    return wasitls__stream_result(call, result, r, e, &v);
}

/* skip: func(len: u64) -> result<u64, stream-error>; */
static int istream_skip(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                        wasitls_cval *result)
{
    NARGS(2);
    return do_skip(call, env, ARG_REP(0), args[1].of.u, false, result);
}

static int istream_blocking_skip(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                 size_t nargs, wasitls_cval *result)
{
    NARGS(2);
    return do_skip(call, env, ARG_REP(0), args[1].of.u, true, result);
}

/* subscribe: func() -> pollable; */
static int istream_subscribe(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                             wasitls_cval *result)
{
    NARGS(1);
    wasitls_pollable *p = wasitls_istream_subscribe(ARG_REP(0));
    if (!p) return WASITLS_E_NOMEM;
    *result = wasitls_cv_own(p);
    return 0;
}

/* ---- output-stream ---- */

static void ostream_force_free(void *rep)
{
    wasitls_ostream *s = rep;
    s->children = 0;
    s->ops->destroy(s);
}

static int ostream_dtor(void *env, void *rep, wasitls_error *err)
{
    int rc = wasitls_ostream_free(rep);
    if (rc == WASITLS_E_BUSY) {
        wasitls__orphan_add(env, rep, ostream_force_free);
        return wasitls_error_set(
            err, rc, "output-stream dropped while a pollable subscribed to it is alive");
    }
    wasitls__orphan_forget(env, rep);
    return rc;
}

/* check-write: func() -> result<u64, stream-error>; */
static int ostream_check_write(wasitls_ccall *call, void *env, const wasitls_cval *args,
                               size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    wasitls_ostream *s = ARG_REP(0);
    wasitls_ioerr *e = NULL;
    int64_t r = s->ops->check_write(s, &e);
    wasitls_cval v = cv_u64(r > 0 ? (uint64_t)r : 0);
    return wasitls__stream_result(call, result, r, e, &v);
}

static int write_checked(wasitls_ccall *call, wasitls_ostream *s, const uint8_t *p, size_t n,
                         wasitls_ioerr **e)
{
    int rc = s->ops->write(s, p, n, e);
    if (rc == WASITLS_E_INVAL)
        return wasitls_ccall_trap(call,
                                  "output-stream.write: %zu bytes exceed the check-write "
                                  "permit",
                                  n);
    return rc;
}

/* write: func(contents: list<u8>) -> result<_, stream-error>; */
static int ostream_write(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    NARGS(2);
    wasitls_ostream *s = ARG_REP(0);
    wasitls_ioerr *e = NULL;
    int rc = write_checked(call, s, args[1].of.bytes.ptr, args[1].of.bytes.len, &e);
    if (rc == WASITLS_E_TRAP) return rc;
    return wasitls__stream_result(call, result, rc, e, NULL);
}

/* Both blocking variants: write-all (or zeroes) then flush, waiting as needed. */
static int blocking_write_flush(wasitls_ccall *call, wasitls_ostream *s, const uint8_t *p, size_t n,
                                const char *what, wasitls_cval *result)
{
    if (n > BLOCKING_WRITE_MAX)
        return wasitls_ccall_trap(call, "%s: %zu bytes exceed the limit of %d", what, n,
                                  BLOCKING_WRITE_MAX);
    wasitls_ioerr *e = NULL;
    int rc = wasitls_ostream_write_all(s, p, n, &e);
    if (!rc) rc = wasitls_ostream_flush_blocking(s, &e);
    if (rc == WASITLS_E_INTERNAL)
        return wasitls_ccall_trap(call, "%s: the stream can never become ready", what);
    return wasitls__stream_result(call, result, rc, e, NULL);
}

/* blocking-write-and-flush: func(contents: list<u8>) -> result<_, stream-error>; */
static int ostream_blocking_write_and_flush(wasitls_ccall *call, void *env,
                                            const wasitls_cval *args, size_t nargs,
                                            wasitls_cval *result)
{
    NARGS(2);
    return blocking_write_flush(call, ARG_REP(0), args[1].of.bytes.ptr, args[1].of.bytes.len,
                                "blocking-write-and-flush", result);
}

/* flush: func() -> result<_, stream-error>; */
static int ostream_flush(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                         wasitls_cval *result)
{
    NARGS(1);
    wasitls_ostream *s = ARG_REP(0);
    wasitls_ioerr *e = NULL;
    int rc = s->ops->flush(s, &e);
    return wasitls__stream_result(call, result, rc, e, NULL);
}

/* blocking-flush: func() -> result<_, stream-error>; */
static int ostream_blocking_flush(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                  size_t nargs, wasitls_cval *result)
{
    NARGS(1);
    wasitls_ioerr *e = NULL;
    int rc = wasitls_ostream_flush_blocking(ARG_REP(0), &e);
    if (rc == WASITLS_E_INTERNAL)
        return wasitls_ccall_trap(call, "blocking-flush: the stream can never become ready");
    return wasitls__stream_result(call, result, rc, e, NULL);
}

/* subscribe: func() -> pollable; */
static int ostream_subscribe(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                             wasitls_cval *result)
{
    NARGS(1);
    wasitls_pollable *p = wasitls_ostream_subscribe(ARG_REP(0));
    if (!p) return WASITLS_E_NOMEM;
    *result = wasitls_cv_own(p);
    return 0;
}

static const uint8_t zeroes[BLOCKING_WRITE_MAX];

/* write-zeroes: func(len: u64) -> result<_, stream-error>; */
static int ostream_write_zeroes(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                size_t nargs, wasitls_cval *result)
{
    NARGS(2);
    wasitls_ostream *s = ARG_REP(0);
    uint64_t len = args[1].of.u;
    wasitls_ioerr *e = NULL;
    int rc = 0;
    /* Like write: at most the permit; written in pieces of a static zero block. */
    while (len && !rc) {
        size_t k = len < sizeof zeroes ? (size_t)len : sizeof zeroes;
        rc = write_checked(call, s, zeroes, k, &e);
        len -= k;
    }
    if (rc == WASITLS_E_TRAP) return rc;
    return wasitls__stream_result(call, result, rc, e, NULL);
}

/* blocking-write-zeroes-and-flush: func(len: u64) -> result<_, stream-error>; */
static int ostream_blocking_write_zeroes_and_flush(wasitls_ccall *call, void *env,
                                                   const wasitls_cval *args, size_t nargs,
                                                   wasitls_cval *result)
{
    NARGS(2);
    uint64_t len = args[1].of.u;
    if (len > BLOCKING_WRITE_MAX)
        return wasitls_ccall_trap(call,
                                  "blocking-write-zeroes-and-flush: %llu bytes exceed the "
                                  "limit of %d",
                                  (unsigned long long)len, BLOCKING_WRITE_MAX);
    return blocking_write_flush(call, ARG_REP(0), zeroes, (size_t)len,
                                "blocking-write-zeroes-and-flush", result);
}

static int do_splice(wasitls_ccall *call, wasitls_wasi *w, wasitls_ostream *dst,
                     wasitls_istream *src, uint64_t len, bool blocking, wasitls_cval *result)
{
    wasitls_ioerr *e = NULL;
    int64_t room;
    for (;;) {
        room = dst->ops->check_write(dst, &e);
        if (room != 0 || !blocking) break;
        wasitls_pollable *p = wasitls_ostream_subscribe(dst);
        if (!p) return WASITLS_E_NOMEM;
        int rc = wasitls_pollable_block(p);
        wasitls_pollable_free(p);
        if (rc) return wasitls_ccall_trap(call, "blocking-splice: %s", wasitls_strerror(rc));
    }
    if (room < 0) return wasitls__stream_result(call, result, room, e, NULL);
    uint64_t want = len < (uint64_t)room ? len : (uint64_t)room;
    size_t n = (size_t)clamp_len(want);
    int64_t r = 0;
    if (n) {
        uint8_t *buf = wasitls__scratch(w, n);
        if (!buf) return WASITLS_E_NOMEM;
        r = blocking ? wasitls_istream_read_blocking(src, buf, n, &e)
                     : src->ops->read(src, buf, n, &e);
        if (r == WASITLS_E_INTERNAL && blocking)
            return wasitls_ccall_trap(call, "blocking-splice: the input can never become ready");
        if (r > 0) {
            int rc = write_checked(call, dst, buf, (size_t)r, &e);
            if (rc == WASITLS_E_TRAP) return rc;
            if (rc) r = rc;
        }
    }
    wasitls_cval v = cv_u64(r > 0 ? (uint64_t)r : 0);
    return wasitls__stream_result(call, result, r, e, &v);
}

/* splice: func(src: borrow<input-stream>, len: u64) -> result<u64, stream-error>; */
static int ostream_splice(wasitls_ccall *call, void *env, const wasitls_cval *args, size_t nargs,
                          wasitls_cval *result)
{
    NARGS(3);
    return do_splice(call, env, ARG_REP(0), ARG_REP(1), args[2].of.u, false, result);
}

/* blocking-splice: func(src: borrow<input-stream>, len: u64) -> result<u64, stream-error>; */
static int ostream_blocking_splice(wasitls_ccall *call, void *env, const wasitls_cval *args,
                                   size_t nargs, wasitls_cval *result)
{
    NARGS(3);
    return do_splice(call, env, ARG_REP(0), ARG_REP(1), args[2].of.u, true, result);
}

static const wasitls__hres io_res[] = {
    {"wasi:io/error", "error", error_dtor},
    {"wasi:io/poll", "pollable", pollable_dtor},
    {"wasi:io/streams", "input-stream", istream_dtor},
    {"wasi:io/streams", "output-stream", ostream_dtor},
};

static const wasitls__hfunc io_funcs[] = {
    {"wasi:io/error", "[method]error.to-debug-string", error_to_debug_string},
    {"wasi:io/poll", "[method]pollable.ready", pollable_ready},
    {"wasi:io/poll", "[method]pollable.block", pollable_block},
    {"wasi:io/poll", "poll", poll_poll},
    {"wasi:io/streams", "[method]input-stream.read", istream_read},
    {"wasi:io/streams", "[method]input-stream.blocking-read", istream_blocking_read},
    {"wasi:io/streams", "[method]input-stream.skip", istream_skip},
    {"wasi:io/streams", "[method]input-stream.blocking-skip", istream_blocking_skip},
    {"wasi:io/streams", "[method]input-stream.subscribe", istream_subscribe},
    {"wasi:io/streams", "[method]output-stream.check-write", ostream_check_write},
    {"wasi:io/streams", "[method]output-stream.write", ostream_write},
    {"wasi:io/streams", "[method]output-stream.blocking-write-and-flush",
     ostream_blocking_write_and_flush},
    {"wasi:io/streams", "[method]output-stream.flush", ostream_flush},
    {"wasi:io/streams", "[method]output-stream.blocking-flush", ostream_blocking_flush},
    {"wasi:io/streams", "[method]output-stream.subscribe", ostream_subscribe},
    {"wasi:io/streams", "[method]output-stream.write-zeroes", ostream_write_zeroes},
    {"wasi:io/streams", "[method]output-stream.blocking-write-zeroes-and-flush",
     ostream_blocking_write_zeroes_and_flush},
    {"wasi:io/streams", "[method]output-stream.splice", ostream_splice},
    {"wasi:io/streams", "[method]output-stream.blocking-splice", ostream_blocking_splice},
};

int wasitls__io_register(wasitls_wasi *w, wasitls_linker *l, wasitls_error *err)
{
    return wasitls__register(w, l, io_funcs, sizeof io_funcs / sizeof io_funcs[0], io_res,
                             sizeof io_res / sizeof io_res[0], err);
}
