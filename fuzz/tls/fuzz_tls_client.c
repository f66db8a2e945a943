/* libFuzzer target: the TLS client core and a backend fed arbitrary server bytes. The input is
 * a sequence of chunks (1 length byte, then that many bytes); chunks reach the client one at a
 * time between its steps, and the output side takes a varying number of bytes per step, so the
 * pump sees every split of records it can. The first byte picks the backend and the read size.
 * Build and run: fuzz/tls/build.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wasitls/tls.h"

typedef struct {
    wasitls_istream base;
    const uint8_t *p, *end;
    size_t chunk; /* bytes of the current chunk still to deliver */
    bool step;    /* one chunk per step: set by the driver */
} fin;
typedef struct {
    wasitls_ostream base;
    uint8_t room;
} fout;

static int64_t fin_read(wasitls_istream *s, uint8_t *buf, size_t len, wasitls_ioerr **err)
{
    fin *f = (fin *)s;
    if (f->chunk == 0) {
        if (f->p >= f->end) return WASITLS_E_CLOSED;
        if (!f->step) return 0;
        f->step = false;
        f->chunk = *f->p++;
        if ((size_t)(f->end - f->p) < f->chunk) f->chunk = (size_t)(f->end - f->p);
        if (f->chunk == 0) return 0;
    }
    size_t k = f->chunk < len ? f->chunk : len;
    memcpy(buf, f->p, k);
    f->p += k;
    f->chunk -= k;
    return (int64_t)k;
}
static bool fin_ready(wasitls_istream *s)
{
    return true;
}
static void fin_wait(wasitls_istream *s, wasitls_waitset *ws)
{
    wasitls_waitset_now(ws);
}
static void fin_destroy(wasitls_istream *s)
{
    free(s);
}
static const wasitls_istream_ops fin_ops = {WASITLS_IO_OPS_VERSION, fin_read, fin_ready, fin_wait,
                                            fin_destroy};

static int64_t fout_check(wasitls_ostream *s, wasitls_ioerr **err)
{
    fout *o = (fout *)s;
    o->room = (uint8_t)(o->room * 37 + 11);
    return o->room % 7 == 0 ? 0 : 1 + o->room * 17;
}
static int fout_write(wasitls_ostream *s, const uint8_t *b, size_t n, wasitls_ioerr **err)
{
    return 0;
}
static int fout_flush(wasitls_ostream *s, wasitls_ioerr **err)
{
    return 0;
}
static bool fout_ready(wasitls_ostream *s)
{
    return true;
}
static void fout_wait(wasitls_ostream *s, wasitls_waitset *ws)
{
    wasitls_waitset_now(ws);
}
static void fout_destroy(wasitls_ostream *s)
{
    free(s);
}
static const wasitls_ostream_ops fout_ops = {WASITLS_IO_OPS_VERSION,
                                             fout_check,
                                             fout_write,
                                             fout_flush,
                                             fout_ready,
                                             fout_wait,
                                             fout_destroy};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wasitls_tls_ctx *ctx[2];
    if (size < 1) return 0;
    size_t nb = wasitls_tls_backend_count();
    size_t b = data[0] % nb;
    if (!ctx[b]) {
        wasitls_tls_config cfg;
        wasitls_tls_config_init(&cfg);
        cfg.backend = wasitls_tls_backend_name(b);
        cfg.no_system_trust = true;
        cfg.handshake_timeout_ms = 60000;
        wasitls_error err;
        if (wasitls_tls_ctx_new(&cfg, &ctx[b], &err) < 0) abort();
    }
    size_t rd = 1 + (data[0] >> 1) * 97;
    fin *in = calloc(1, sizeof *in);
    fout *out = calloc(1, sizeof *out);
    in->base.ops = &fin_ops;
    in->p = data + 1;
    in->end = data + size;
    out->base.ops = &fout_ops;
    wasitls_tls_conn *c;
    if (wasitls_tls_client_new(ctx[b], "fuzz.example", 12, &in->base, &out->base, &c) < 0) abort();
    wasitls_istream *pin = wasitls_tls_conn_input(c);
    wasitls_ostream *pout = wasitls_tls_conn_output(c);
    uint8_t *buf = malloc(rd);
    for (int i = 0; i < 4096; i++) {
        in->step = true;
        wasitls_ioerr *e = NULL;
        int r = wasitls_tls_conn_handshake(c, &e);
        wasitls_ioerr_free(e);
        e = NULL;
        if (r == 0) {
            /* unreachable without a trusted certificate, but keep the data path fuzzable if a
             * backend ever lets one through */
            int64_t n = pin->ops->read(pin, buf, rd, &e);
            wasitls_ioerr_free(e);
            e = NULL;
            if (pout->ops->check_write(pout, &e) > 0) (void)pout->ops->write(pout, buf, 3, &e);
            wasitls_ioerr_free(e);
            if (n < 0) break;
        } else if (r != WASITLS_E_AGAIN) {
            break;
        }
        if (in->p >= in->end && in->chunk == 0 && r == WASITLS_E_AGAIN && i > 8) break;
    }
    free(buf);
    if (wasitls_istream_free(pin) < 0 || wasitls_ostream_free(pout) < 0) abort();
    wasitls_tls_conn_release(c);
    return 0;
}
