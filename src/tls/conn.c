/* The TLS connection state machine: moves ciphertext between a backend session and the
 * underlying host streams, runs the handshake whenever someone asks for progress (a pollable's
 * ready(), a read, a status query), and exposes the plaintext side as ordinary host streams.
 * Nothing here knows about the component model, so a 0.3 binding can drive the same object.
 *
 * Errors are sticky and kept as text: every caller that asks after a failure gets a new
 * wasitls_ioerr with the same words.
 *   fail   fatal (handshake failure, timeout, TLS protocol error, alert): both directions
 *   rd     read side ended: WASITLS_E_CLOSED after close_notify, truncation, transport error
 *   wr     write side: transport write error
 */
#include "backend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOK_CAP (16 * 1024)    /* plaintext read ahead by ready() (one record at most) */
#define PLAIN_ROOM (64 * 1024)  /* what check-write grants at a time */
#define OUT_HIGH (256 * 1024)   /* records waiting beyond this: check-write says 0 */
#define CORK_MIN (16 * 1024)    /* a write of more than one record: its records go out together */
#define CORK_MAX (128 * 1024)   /* ... in sends of at most this much (records are ~16 KiB) */

/* A session a server let us resume, by server name (lower case). Secret: wiped when dropped. */
typedef struct saved_session {
    char *name;
    uint8_t *data;
    size_t len;
    uint64_t stamp; /* the least recent goes when the cache is full */
} saved_session;

struct wasitls_tls_ctx {
    atomic_uint refs;
    const wasitls__tls_backend *be;
    void *bctx;
    uint32_t timeout_ms;
    wasitls__keylog *keylog;
    bool resume; /* connections offer saved sessions and save new ones */
    /* Connections of one context may live on several threads. */
    pthread_mutex_t lock;
    saved_session saved[WASITLS_TLS_SESSION_CACHE_MAX];
    size_t n_saved;
    uint64_t clock;
};

enum { ST_HANDSHAKE, ST_OPEN, ST_FAILED };

struct wasitls_tls_conn {
    uint32_t refs;
    wasitls_tls_ctx *ctx;
    const wasitls__tls_backend *be;
    void *sess;
    wasitls_istream *tin;
    wasitls_ostream *tout;
    int state;
    uint64_t deadline;
    int fail_code;
    char *fail_msg;
    int rd_code;
    char *rd_msg;
    int wr_code;
    char *wr_msg;
    bool tin_eof;
    bool out_closed;
    bool flushing;  /* the plaintext stream asked for a flush that has not completed */
    bool tout_busy; /* the underlying stream still holds records (its check-write was 0) */
    bool in_taken, out_taken;
    uint8_t *look;
    size_t look_off, look_len, look_hi; /* look_hi: bytes of look ever written (to wipe) */
    wasitls__tls_io io;                 /* how the backend reaches tin / tout */
    uint8_t *q;                         /* records the underlying stream has not taken yet */
    size_t q_off, q_len, q_cap;
    wasitls_bg_writer bg; /* listed while q holds records: they go out while the guest waits */
    bool corked; /* records are queued in q, and sent when the write that made them returns */
    bool q_keep; /* bulk writes: q is kept when empty instead of freed */
    char version[16];
    char *name; /* the server name in lower case: the key of its saved session */
    bool resumed;
};

/* ---- contexts ---- */

void wasitls_tls_config_init(wasitls_tls_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
}

/* The files the user named, checked here so that every backend says the same words (and none
 * waits on a FIFO or reads a device): CA files, and the client certificate and key. Fills in
 * the key file when it is the certificate's. */
static int check_files(wasitls_tls_config *n, wasitls_error *err)
{
    char *text = NULL;
    int r = 0;
    for (size_t i = 0; i < n->n_ca_files && r == 0; i++) {
        r = wasitls__tls_read_pem(n->ca_files[i], "CA file", &text, err);
        free(text);
    }
    if (r || (!n->client_cert_file && !n->client_key_file)) return r;
    if (!n->client_cert_file)
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "a client key ('%s') needs its client certificate as well",
                                 n->client_key_file);
    bool key_given = n->client_key_file != NULL;
    if (!key_given) n->client_key_file = n->client_cert_file;
    if ((r = wasitls__tls_read_pem(n->client_cert_file, "client certificate file", &text, err)))
        return r;
    bool has_cert = strstr(text, "-----BEGIN CERTIFICATE-----") != NULL;
    free(text);
    if (!has_cert)
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG, "no certificate in '%s'",
                                 n->client_cert_file);
    if ((r = wasitls__tls_read_pem(n->client_key_file, "client key file", &text, err))) return r;
    /* Said plainly, the same for every backend: there is nobody to ask for a passphrase. */
    bool encrypted = strstr(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
                     strstr(text, "Proc-Type: 4,ENCRYPTED");
    bool has_key = strstr(text, "PRIVATE KEY-----") != NULL;
    free(text);
    if (encrypted)
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "the client key in '%s' is encrypted, and there is no way to "
                                 "give its passphrase: decrypt it first (e.g. `openssl pkey "
                                 "-in KEY -out PLAIN.key`)",
                                 n->client_key_file);
    if (!has_key)
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG, "no private key in '%s'%s",
                                 n->client_key_file,
                                 key_given ? "" : " (give the key's file with --tls-client-key)");
    return 0;
}

int wasitls_tls_ctx_new(const wasitls_tls_config *cfg, wasitls_tls_ctx **out, wasitls_error *err)
{
    wasitls_tls_config n = *cfg;
    const wasitls__tls_backend *be = wasitls__tls_backend_find(cfg->backend);
    *out = NULL;
    if (!be) {
        char names[128] = "";
        for (size_t i = 0; i < wasitls__tls_backend_count(); i++) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", i ? ", " : "",
                     wasitls__tls_backend_at(i)->name);
        }
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "unknown TLS backend '%s' (this build has: %s)", cfg->backend,
                                 names);
    }
    if (be->version < 2 || !be->set_io || !be->is_available())
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "the TLS backend '%s' is not usable on this machine", be->name);
    if (!n.min_version) n.min_version = WASITLS_TLS_VERSION_1_2;
    if (!n.max_version) n.max_version = WASITLS_TLS_VERSION_1_3;
    if ((n.min_version != WASITLS_TLS_VERSION_1_2 && n.min_version != WASITLS_TLS_VERSION_1_3) ||
        (n.max_version != WASITLS_TLS_VERSION_1_2 && n.max_version != WASITLS_TLS_VERSION_1_3) ||
        n.min_version > n.max_version)
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "unsupported TLS version range 0x%04x..0x%04x (TLS 1.2 and 1.3 "
                                 "are supported)",
                                 n.min_version, n.max_version);
    if (!n.handshake_timeout_ms) n.handshake_timeout_ms = WASITLS_TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    int ret = check_files(&n, err);
    if (ret < 0) return ret;
    wasitls_tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    const char *kl = n.keylog_file ? n.keylog_file : getenv("SSLKEYLOGFILE");
    ret = wasitls__keylog_open(kl, n.keylog_file ? NULL : " (named by $SSLKEYLOGFILE)",
                               &ctx->keylog, err);
    if (ret == 0) ret = be->ctx_new(&n, ctx->keylog, &ctx->bctx, err);
    if (ret < 0) {
        wasitls__keylog_close(ctx->keylog);
        free(ctx);
        return ret;
    }
    atomic_init(&ctx->refs, 1);
    ctx->be = be;
    ctx->timeout_ms = n.handshake_timeout_ms;
    ctx->resume = !n.no_session_resumption && be->version >= 3 && be->resume && be->resumed;
    pthread_mutex_init(&ctx->lock, NULL);
    *out = ctx;
    return 0;
}

static void saved_drop(saved_session *e)
{
    if (e->data) explicit_bzero(e->data, e->len);
    free(e->data);
    free(e->name);
    *e = (saved_session){0};
}

/* Keeps a copy of data as name's session to resume, in place of the one it had. */
static void session_save(wasitls_tls_ctx *ctx, const char *name, const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    char *key = strdup(name);
    if (!copy || !key) {
        free(copy);
        free(key);
        return; /* nothing lost but a shorter next handshake */
    }
    memcpy(copy, data, len);
    pthread_mutex_lock(&ctx->lock);
    size_t i = 0, oldest = 0;
    while (i < ctx->n_saved && strcmp(ctx->saved[i].name, name) != 0) {
        if (ctx->saved[i].stamp < ctx->saved[oldest].stamp) oldest = i;
        i++;
    }
    if (i == ctx->n_saved) {
        if (ctx->n_saved < WASITLS_TLS_SESSION_CACHE_MAX)
            ctx->n_saved++;
        else
            i = oldest;
    }
    saved_drop(&ctx->saved[i]);
    ctx->saved[i] = (saved_session){key, copy, len, ++ctx->clock};
    pthread_mutex_unlock(&ctx->lock);
}

/* Takes name's saved session out of the cache (each is offered once, RFC 8446 appendix C.4),
 * or returns false. The caller wipes and frees *data. */
static bool session_take(wasitls_tls_ctx *ctx, const char *name, uint8_t **data, size_t *len)
{
    bool found = false;
    pthread_mutex_lock(&ctx->lock);
    for (size_t i = 0; i < ctx->n_saved; i++) {
        if (strcmp(ctx->saved[i].name, name) != 0) continue;
        *data = ctx->saved[i].data;
        *len = ctx->saved[i].len;
        free(ctx->saved[i].name);
        ctx->saved[i] = ctx->saved[--ctx->n_saved];
        ctx->saved[ctx->n_saved] = (saved_session){0};
        found = true;
        break;
    }
    pthread_mutex_unlock(&ctx->lock);
    return found;
}

void wasitls_tls_ctx_free(wasitls_tls_ctx *ctx)
{
    if (!ctx || atomic_fetch_sub(&ctx->refs, 1) != 1) return;
    for (size_t i = 0; i < ctx->n_saved; i++)
        saved_drop(&ctx->saved[i]);
    pthread_mutex_destroy(&ctx->lock);
    ctx->be->ctx_free(ctx->bctx);
    wasitls__keylog_close(ctx->keylog);
    free(ctx);
}

const char *wasitls_tls_ctx_backend(const wasitls_tls_ctx *ctx)
{
    return ctx->be->name;
}

/* ---- errors ---- */

static void set_msg(int *code, char **msg, int c, const char *fmt, ...) WASITLS_PRINTF(4, 5);
static void set_msg(int *code, char **msg, int c, const char *fmt, ...)
{
    if (*code) return; /* the first failure is the one that explains the rest */
    *code = c;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(msg, fmt, ap) < 0) *msg = NULL;
    va_end(ap);
}

static void fail(wasitls_tls_conn *c, int code, const char *msg)
{
    set_msg(&c->fail_code, &c->fail_msg, code, "%s", msg && *msg ? msg : wasitls_strerror(code));
    c->state = ST_FAILED;
}

static int report(int code, const char *msg, wasitls_ioerr **err)
{
    if (err) *err = wasitls_ioerr_new(code, 0, "%s", msg ? msg : wasitls_strerror(code));
    return code;
}

/* ---- moving ciphertext ----
 * The backend pulls records from the underlying input stream straight into its own buffer and
 * pushes the records it made straight to the underlying output stream: no copy in between (two
 * fewer copies of every byte each way than feeding and draining buffers). What the output
 * stream does not take at once waits in q, in order. */

/* Sends p (n bytes) as far as the underlying stream takes it now, flushing after each write:
 * records go out at once (plaintext buffering is the application's business), and a flushing
 * stream's check-write of 0 tells us it still holds bytes, which it only pushes out when asked
 * again (tout_busy). Returns the bytes taken; a failure sets wr. With n == 0 it only learns
 * whether the stream is still busy. */
static size_t send_now(wasitls_tls_conn *c, const uint8_t *p, size_t n)
{
    size_t done = 0;
    while (!c->wr_code) {
        wasitls_ioerr *e = NULL;
        int64_t room = c->tout->ops->check_write(c->tout, &e);
        int r = (int)room;
        if (room == 0) {
            c->tout_busy = true;
            break;
        }
        if (room > 0) {
            c->tout_busy = false;
            if (done == n) break;
            size_t k = n - done < (uint64_t)room ? n - done : (size_t)room;
            r = c->tout->ops->write(c->tout, p + done, k, &e);
            if (r == 0) r = c->tout->ops->flush(c->tout, &e);
            c->tout_busy = true;
            if (r == 0) {
                done += k;
                continue;
            }
        }
        set_msg(&c->wr_code, &c->wr_msg, r == WASITLS_E_CLOSED ? WASITLS_E_IO : r,
                "cannot send to the server: %s",
                e ? wasitls_ioerr_message(e)
                  : (r == WASITLS_E_CLOSED ? "the connection's output is closed"
                                           : wasitls_strerror(r)));
        wasitls_ioerr_free(e);
    }
    return done;
}

/* Hands queued records to the underlying stream as far as it takes them now. */
static void drain_out(wasitls_tls_conn *c)
{
    size_t k = send_now(c, c->q ? c->q + c->q_off : NULL, c->q_len);
    c->q_off += k;
    c->q_len -= k;
    if (c->q_len == 0) c->q_off = 0;
    if (c->q_len == 0 || c->wr_code) wasitls_bg_writer_remove(&c->bg);
    if ((c->q_len == 0 && !c->q_keep) || c->wr_code) {
        /* ciphertext only: no wipe; freed so that idle connections hold no buffer */
        free(c->q);
        c->q = NULL;
        c->q_off = c->q_len = c->q_cap = 0;
    }
}

/* Makes room in q for len more bytes after what it holds. */
static bool q_reserve(wasitls_tls_conn *c, size_t len)
{
    if (c->q_off + c->q_len + len <= c->q_cap) return true;
    if (c->q_off) {
        memmove(c->q, c->q + c->q_off, c->q_len);
        c->q_off = 0;
    }
    if (c->q_len + len <= c->q_cap) return true;
    size_t cap = c->q_cap ? c->q_cap : 16 * 1024;
    while (cap < c->q_len + len)
        cap *= 2;
    uint8_t *q = realloc(c->q, cap);
    if (!q) return false;
    c->q = q;
    c->q_cap = cap;
    return true;
}

static bool io_push(void *ctx, const uint8_t *buf, size_t len)
{
    wasitls_tls_conn *c = ctx;
    if (c->q_len && (!c->corked || c->q_len + len > CORK_MAX)) drain_out(c);
    if (!c->q_len && !c->corked) {
        size_t k = send_now(c, buf, len);
        buf += k;
        len -= k;
    }
    /* after a transport failure records go nowhere; the streams report the failure */
    if (len == 0 || c->wr_code) return true;
    if (!q_reserve(c, len)) return false;
    memcpy(c->q + c->q_off + c->q_len, buf, len);
    c->q_len += len;
    wasitls_bg_writer_add(&c->bg);
    return true;
}

static bool conn_bg_progress(wasitls_bg_writer *w)
{
    wasitls_tls_conn *c = WASITLS_BG_OWNER(w, wasitls_tls_conn);
    drain_out(c);
    return c->q_len == 0 || c->wr_code;
}

static void conn_bg_wait_on(wasitls_bg_writer *w, wasitls_waitset *ws)
{
    wasitls_tls_conn *c = WASITLS_BG_OWNER(w, wasitls_tls_conn);
    c->tout->ops->wait_on(c->tout, ws);
}

/* True while records wait in q or in the underlying stream. */
static bool out_blocked(wasitls_tls_conn *c)
{
    return !c->wr_code && (c->tout_busy || c->q_len > 0);
}

static void io_save_session(void *ctx, const uint8_t *data, size_t len)
{
    wasitls_tls_conn *c = ctx;
    session_save(c->ctx, c->name, data, len);
}

static size_t io_pull(void *ctx, uint8_t *buf, size_t len)
{
    wasitls_tls_conn *c = ctx;
    if (c->tin_eof || (c->rd_code && c->rd_code != WASITLS_E_CLOSED)) return 0;
    wasitls_ioerr *e = NULL;
    int64_t n = c->tin->ops->read(c->tin, buf, len, &e);
    if (n > 0) return (size_t)n;
    if (n == WASITLS_E_CLOSED)
        c->tin_eof = true;
    else if (n < 0)
        set_msg(&c->rd_code, &c->rd_msg, (int)n, "cannot receive from the server: %s",
                e ? wasitls_ioerr_message(e) : wasitls_strerror((int)n));
    wasitls_ioerr_free(e);
    return 0;
}

/* Why the backend, which wants more input, got none: 0 nothing yet, WASITLS_E_CLOSED at the end
 * of the stream, another negative code on a transport error (rd set). */
static int64_t input_state(wasitls_tls_conn *c)
{
    if (c->tin_eof) return WASITLS_E_CLOSED;
    if (c->rd_code && c->rd_code != WASITLS_E_CLOSED) return c->rd_code;
    return 0;
}

static void handshake_step(wasitls_tls_conn *c)
{
    while (c->state == ST_HANDSHAKE) {
        if (wasitls_now_ns() >= c->deadline) {
            char msg[96];
            snprintf(msg, sizeof msg, "TLS handshake timed out after %g s",
                     c->ctx->timeout_ms / 1000.0);
            fail(c, WASITLS_E_TIMEOUT, msg);
            break;
        }
        wasitls_error e;
        wasitls_error_clear(&e);
        int r = c->be->handshake(c->sess, &e);
        drain_out(c); /* also on failure: our alert tells the server why */
        if (r == 0) {
            c->state = ST_OPEN;
            snprintf(c->version, sizeof c->version, "%s", c->be->version_name(c->sess));
            c->resumed = c->ctx->resume && c->be->resumed(c->sess);
            break;
        }
        if (r != WASITLS_E_AGAIN) {
            fail(c, r, e.msg);
            break;
        }
        if (c->wr_code) {
            fail(c, c->wr_code, c->wr_msg);
            break;
        }
        int64_t n = input_state(c);
        if (n == WASITLS_E_CLOSED)
            fail(c, WASITLS_E_TLS_HANDSHAKE,
                 "the server closed the connection during the TLS handshake (is it a TLS "
                 "server? does it accept this client's TLS versions and ciphers?)");
        else if (n < 0)
            fail(c, c->rd_code ? c->rd_code : (int)n,
                 c->rd_msg ? c->rd_msg : "the connection failed during the TLS handshake");
        break;
    }
}

/* What every not-ready object of this connection waits on. */
static void conn_wait(wasitls_tls_conn *c, wasitls_waitset *ws, bool for_output)
{
    if (c->state == ST_FAILED) {
        wasitls_waitset_now(ws);
        return;
    }
    bool blocked = c->sess && out_blocked(c);
    if (c->state == ST_HANDSHAKE) {
        wasitls_waitset_deadline(ws, c->deadline);
        if (!c->tin_eof && !c->rd_code) c->tin->ops->wait_on(c->tin, ws);
    } else if (for_output) {
        if (c->wr_code || c->out_closed || !blocked) wasitls_waitset_now(ws);
    } else {
        if (c->rd_code || c->tin_eof)
            wasitls_waitset_now(ws);
        else
            c->tin->ops->wait_on(c->tin, ws);
    }
    if (blocked) c->tout->ops->wait_on(c->tout, ws);
}

/* ---- connections ---- */

int wasitls_tls_client_new(wasitls_tls_ctx *ctx, const char *name, size_t len, wasitls_istream *in,
                           wasitls_ostream *out, wasitls_tls_conn **conn)
{
    wasitls_tls_conn *c = calloc(1, sizeof *c);
    char *z = malloc(len + 1);
    if (!c || !z) {
        free(c);
        free(z);
        return WASITLS_E_NOMEM;
    }
    memcpy(z, name, len);
    z[len] = '\0';
    /* Names are case-insensitive (RFC 4343): one spelling for SNI, the certificate check and
     * the key of a saved session (OpenSSL resumes only under the same SNI). */
    for (char *p = z; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    c->refs = 1;
    c->bg = (wasitls_bg_writer){.progress = conn_bg_progress, .wait_on = conn_bg_wait_on};
    c->ctx = ctx;
    atomic_fetch_add(&ctx->refs, 1);
    c->be = ctx->be;
    c->tin = in;
    c->tout = out;
    c->state = ST_HANDSHAKE;
    c->deadline = wasitls_now_ns() + (uint64_t)ctx->timeout_ms * 1000000u;

    wasitls_error e;
    wasitls_error_clear(&e);
    bool is_ip = len > 0 && !memchr(name, '\0', len) && wasitls__tls_is_ip(z);
    int r = is_ip ? 0 : wasitls__tls_check_dns_name(name, len, &e);
    /* "example.org." is the same name, but neither SNI (RFC 6066 section 3) nor a certificate
     * spells it with the root's dot. */
    if (r == 0 && !is_ip && len > 1 && z[len - 1] == '.') z[len - 1] = '\0';
    if (r == 0) r = c->be->client_new(ctx->bctx, z, is_ip, &c->sess, &e);
    if (r == 0) {
        c->io = (wasitls__tls_io){.ctx = c, .pull = io_pull, .push = io_push};
        if (ctx->resume) {
            c->name = z;
            z = NULL;
            c->io.save_session = io_save_session;
        }
        r = c->be->set_io(c->sess, &c->io);
        if (r < 0) wasitls_error_set(&e, r, "out of memory creating a TLS session");
    }
    uint8_t *saved;
    size_t saved_len;
    if (r == 0 && c->name && session_take(ctx, c->name, &saved, &saved_len)) {
        c->be->resume(c->sess, saved, saved_len);
        explicit_bzero(saved, saved_len);
        free(saved);
    }
    if (r < 0) fail(c, r == WASITLS_E_INVAL ? WASITLS_E_TLS_CONFIG : r, e.msg);
    free(z);
    *conn = c;
    return 0;
}

void wasitls_tls_conn_ref(wasitls_tls_conn *c)
{
    c->refs++;
}

void wasitls_tls_conn_release(wasitls_tls_conn *c)
{
    if (!c || --c->refs > 0) return;
    if (c->sess && c->state == ST_OPEN && !c->out_closed && !c->wr_code) {
        /* A polite goodbye if the stream takes it now; never wait here. */
        wasitls_error e;
        if (c->be->close_notify(c->sess, &e) == 0) drain_out(c);
    }
    if (c->sess) c->be->sess_free(c->sess);
    wasitls_bg_writer_remove(&c->bg);
    free(c->q);
    /* The underlying streams were handed over without children (the binding checks); if one
     * has them anyway it is left alive rather than freed under them. */
    if (wasitls_istream_free(c->tin) < 0 || wasitls_ostream_free(c->tout) < 0) {
        /* leaked on purpose */
    }
    /* Wipe only the plaintext bytes look ever held (q holds only ciphertext): touching whole
     * buffers here made every connection cost 80 KiB of RSS at teardown. */
    if (c->look) {
        explicit_bzero(c->look, c->look_hi);
        free(c->look);
    }
    free(c->fail_msg);
    free(c->rd_msg);
    free(c->wr_msg);
    free(c->name);
    wasitls_tls_ctx_free(c->ctx);
    free(c);
}

int wasitls_tls_conn_handshake(wasitls_tls_conn *c, wasitls_ioerr **err)
{
    handshake_step(c);
    if (c->state == ST_OPEN) return 0;
    if (c->state == ST_FAILED) return report(c->fail_code, c->fail_msg, err);
    return WASITLS_E_AGAIN;
}

const char *wasitls_tls_conn_version(const wasitls_tls_conn *c)
{
    return c->version;
}

bool wasitls_tls_conn_resumed(const wasitls_tls_conn *c)
{
    return c->resumed;
}

/* ---- the handshake pollable ---- */

typedef struct hs_pollable {
    wasitls_pollable base;
    wasitls_tls_conn *c;
    uint32_t *children;
} hs_pollable;

static bool hs_ready(wasitls_pollable *p)
{
    wasitls_tls_conn *c = ((hs_pollable *)p)->c;
    handshake_step(c);
    return c->state != ST_HANDSHAKE;
}

static void hs_wait_on(wasitls_pollable *p, wasitls_waitset *ws)
{
    conn_wait(((hs_pollable *)p)->c, ws, false);
}

static void hs_destroy(wasitls_pollable *p)
{
    hs_pollable *h = (hs_pollable *)p;
    if (h->children) (*h->children)--;
    wasitls_tls_conn_release(h->c);
    free(h);
}

static const wasitls_pollable_ops hs_ops = {
    .version = WASITLS_IO_OPS_VERSION,
    .ready = hs_ready,
    .wait_on = hs_wait_on,
    .destroy = hs_destroy,
};

wasitls_pollable *wasitls_tls_conn_subscribe(wasitls_tls_conn *c, uint32_t *children)
{
    hs_pollable *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->base.ops = &hs_ops;
    h->c = c;
    h->children = children;
    c->refs++;
    if (children) (*children)++;
    return &h->base;
}

/* ---- plaintext input ---- */

typedef struct tls_istream {
    wasitls_istream base;
    wasitls_tls_conn *c;
} tls_istream;

static int64_t conn_read(wasitls_tls_conn *c, uint8_t *buf, size_t len, wasitls_ioerr **err)
{
    if (c->state == ST_HANDSHAKE) handshake_step(c);
    if (c->state == ST_HANDSHAKE) return 0;
    for (;;) {
        if (c->state == ST_FAILED) return report(c->fail_code, c->fail_msg, err);
        if (c->rd_code == WASITLS_E_CLOSED) return WASITLS_E_CLOSED;
        if (c->rd_code) return report(c->rd_code, c->rd_msg, err);
        wasitls_error e;
        wasitls_error_clear(&e);
        int64_t r = c->be->read(c->sess, buf, len, &e);
        drain_out(c); /* e.g. a TLS 1.3 key update answered */
        if (r > 0) return r;
        if (r == WASITLS_E_CLOSED) {
            c->rd_code = WASITLS_E_CLOSED;
            continue;
        }
        if (r != WASITLS_E_AGAIN) {
            fail(c, (int)r, e.msg);
            continue;
        }
        int64_t n = input_state(c);
        if (n == 0) return 0;
        if (n == WASITLS_E_CLOSED)
            set_msg(&c->rd_code, &c->rd_msg, WASITLS_E_TLS_TRUNCATED,
                    "the server closed the connection without sending TLS close_notify: the "
                    "data received may be truncated");
    }
}

static bool look_fill(wasitls_tls_conn *c)
{
    if (c->look_off < c->look_len) return true;
    if (!c->look && !(c->look = malloc(LOOK_CAP))) {
        fail(c, WASITLS_E_NOMEM, "out of memory");
        return true;
    }
    wasitls_ioerr *e = NULL;
    int64_t n = conn_read(c, c->look, LOOK_CAP, &e);
    wasitls_ioerr_free(e); /* sticky: the next read reports it again */
    if (n > 0) {
        c->look_off = 0;
        c->look_len = (size_t)n;
        if (c->look_hi < c->look_len) c->look_hi = c->look_len;
        return true;
    }
    return n != 0;
}

/* Fills buf with as much as is available now (several records), so that a guest asking for
 * 64 KiB is not answered 16 KiB at a time. An end or error after some data is reported by the
 * next call (it is sticky). */
static int64_t read_available(wasitls_tls_conn *c, uint8_t *buf, size_t len, size_t have,
                              wasitls_ioerr **err)
{
    while (have < len) {
        wasitls_ioerr *e = NULL;
        int64_t n = conn_read(c, buf + have, len - have, &e);
        if (n > 0) {
            have += (size_t)n;
            continue;
        }
        if (n < 0 && have == 0) {
            if (err)
                *err = e;
            else
                wasitls_ioerr_free(e);
            return n;
        }
        wasitls_ioerr_free(e);
        break;
    }
    return (int64_t)have;
}

static int64_t tin_read(wasitls_istream *base, uint8_t *buf, size_t len, wasitls_ioerr **err)
{
    wasitls_tls_conn *c = ((tls_istream *)base)->c;
    size_t have = 0;
    if (c->look_off < c->look_len) {
        have = c->look_len - c->look_off;
        if (have > len) have = len;
        memcpy(buf, c->look + c->look_off, have);
        c->look_off += have;
        if (len == 0) return 0;
    }
    if (len == 0) {
        /* Report the end of the stream even to an empty read. */
        if (!look_fill(c) || c->look_off < c->look_len) return 0;
        return conn_read(c, buf, 0, err);
    }
    return read_available(c, buf, len, have, err);
}

static bool tin_ready(wasitls_istream *base)
{
    return look_fill(((tls_istream *)base)->c);
}

static void tin_wait_on(wasitls_istream *base, wasitls_waitset *ws)
{
    wasitls_tls_conn *c = ((tls_istream *)base)->c;
    if (c->look_off < c->look_len || c->rd_code)
        wasitls_waitset_now(ws);
    else
        conn_wait(c, ws, false);
}

static void tin_destroy(wasitls_istream *base)
{
    wasitls_tls_conn_release(((tls_istream *)base)->c);
    free(base);
}

static const wasitls_istream_ops tin_ops = {
    .version = WASITLS_IO_OPS_VERSION,
    .read = tin_read,
    .ready = tin_ready,
    .wait_on = tin_wait_on,
    .destroy = tin_destroy,
};

wasitls_istream *wasitls_tls_conn_input(wasitls_tls_conn *c)
{
    if (c->in_taken) return NULL;
    tls_istream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.ops = &tin_ops;
    s->c = c;
    c->refs++;
    c->in_taken = true;
    return &s->base;
}

/* ---- plaintext output ---- */

typedef struct tls_ostream {
    wasitls_ostream base;
    wasitls_tls_conn *c;
} tls_ostream;

/* 1 when a requested flush has completed (or none was requested), 0 while in progress,
 * negative on failure. */
static int flush_progress(wasitls_tls_conn *c)
{
    if (!c->flushing) return 1;
    drain_out(c);
    if (c->wr_code) return c->wr_code;
    if (out_blocked(c)) return 0;
    c->flushing = false;
    return 1;
}

static int64_t out_status(wasitls_tls_conn *c, wasitls_ioerr **err)
{
    if (c->state == ST_HANDSHAKE) handshake_step(c);
    if (c->state == ST_FAILED) return report(c->fail_code, c->fail_msg, err);
    if (c->out_closed) return WASITLS_E_CLOSED;
    if (c->wr_code) return report(c->wr_code, c->wr_msg, err);
    return 0;
}

static int64_t tout_check_write(wasitls_ostream *base, wasitls_ioerr **err)
{
    wasitls_tls_conn *c = ((tls_ostream *)base)->c;
    int64_t r = out_status(c, err);
    if (r < 0 || c->state == ST_HANDSHAKE) return r;
    int f = flush_progress(c);
    if (f < 0) return report(c->wr_code, c->wr_msg, err);
    if (f == 0) return 0;
    /* Records waiting go out as the stream takes them, flush or no flush: this is also the
     * output pollable's readiness, and a writer waiting for room must not wait forever. */
    if (c->q_len) drain_out(c);
    if (c->wr_code) return report(c->wr_code, c->wr_msg, err);
    return c->q_len >= OUT_HIGH ? 0 : PLAIN_ROOM;
}

static int tout_write(wasitls_ostream *base, const uint8_t *buf, size_t len, wasitls_ioerr **err)
{
    wasitls_tls_conn *c = ((tls_ostream *)base)->c;
    int64_t r = out_status(c, err);
    if (r < 0) return (int)r;
    if (c->state == ST_HANDSHAKE)
        return report(WASITLS_E_INVAL, "write before the TLS handshake completed", err);
    if (len == 0) return 0;
    /* A write of several records sends them with one write to the underlying stream instead
     * of one each (on a socket, a quarter of the sends for 64 KiB): they are queued in q,
     * room made up front for the plaintext plus a generous per-record overhead. Connections
     * that write this way keep q between writes; small writes go out at once, as before (and
     * so do writes of more than check-write grants, which nothing should send). */
    c->q_keep = len > CORK_MIN && len <= PLAIN_ROOM;
    c->corked = c->q_keep && q_reserve(c, len + (len / CORK_MIN + 1) * 512);
    wasitls_error e;
    wasitls_error_clear(&e);
    int w = c->be->write(c->sess, buf, len, &e);
    c->corked = false;
    if (w < 0) {
        drain_out(c); /* the records made before the failure, and the alert */
        fail(c, w, e.msg);
        return report(c->fail_code, c->fail_msg, err);
    }
    drain_out(c);
    return 0;
}

static int tout_flush(wasitls_ostream *base, wasitls_ioerr **err)
{
    wasitls_tls_conn *c = ((tls_ostream *)base)->c;
    int64_t r = out_status(c, err);
    if (r < 0) return (int)r;
    c->flushing = true;
    (void)flush_progress(c);
    return 0;
}

static bool tout_ready(wasitls_ostream *base)
{
    wasitls_ioerr *e = NULL;
    int64_t r = tout_check_write(base, &e);
    wasitls_ioerr_free(e);
    return r != 0;
}

static void tout_wait_on(wasitls_ostream *base, wasitls_waitset *ws)
{
    conn_wait(((tls_ostream *)base)->c, ws, true);
}

static void tout_destroy(wasitls_ostream *base)
{
    wasitls_tls_conn_release(((tls_ostream *)base)->c);
    free(base);
}

static const wasitls_ostream_ops tout_ops = {
    .version = WASITLS_IO_OPS_VERSION,
    .check_write = tout_check_write,
    .write = tout_write,
    .flush = tout_flush,
    .ready = tout_ready,
    .wait_on = tout_wait_on,
    .destroy = tout_destroy,
};

wasitls_ostream *wasitls_tls_conn_output(wasitls_tls_conn *c)
{
    if (c->out_taken) return NULL;
    tls_ostream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.ops = &tout_ops;
    s->c = c;
    c->refs++;
    c->out_taken = true;
    return &s->base;
}

/* ---- close_notify ---- */

typedef struct close_pollable {
    wasitls_pollable base;
    wasitls_tls_conn *c;
    uint64_t deadline;
} close_pollable;

static bool close_ready(wasitls_pollable *p)
{
    close_pollable *cp = (close_pollable *)p;
    return flush_progress(cp->c) != 0 || wasitls_now_ns() >= cp->deadline;
}

static void close_wait_on(wasitls_pollable *p, wasitls_waitset *ws)
{
    close_pollable *cp = (close_pollable *)p;
    wasitls_waitset_deadline(ws, cp->deadline);
    cp->c->tout->ops->wait_on(cp->c->tout, ws);
}

static void close_destroy(wasitls_pollable *p)
{
    (void)p; /* lives on the stack of close_output */
}

static const wasitls_pollable_ops close_ops = {
    .version = WASITLS_IO_OPS_VERSION,
    .ready = close_ready,
    .wait_on = close_wait_on,
    .destroy = close_destroy,
};

int wasitls_tls_conn_close_output(wasitls_tls_conn *c, wasitls_ioerr **err)
{
    if (c->out_closed) return 0;
    c->out_closed = true;
    if (c->state != ST_OPEN || c->wr_code)
        return 0; /* nothing to say to the server, or no way to say it */
    wasitls_error e;
    wasitls_error_clear(&e);
    int r = c->be->close_notify(c->sess, &e);
    if (r < 0) {
        fail(c, r, e.msg);
        return report(c->fail_code, c->fail_msg, err);
    }
    c->flushing = true;
    close_pollable cp = {.base.ops = &close_ops,
                         .c = c,
                         .deadline = wasitls_now_ns() + (uint64_t)c->ctx->timeout_ms * 1000000u};
    r = wasitls_pollable_block(&cp.base);
    if (r < 0) return report(r, "waiting to send close_notify failed", err);
    int f = flush_progress(c);
    if (f < 0) return report(c->wr_code, c->wr_msg, err);
    if (f == 0) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "close_notify not sent: the server accepted no data for %g s (%zu bytes of "
                 "records still waiting)",
                 c->ctx->timeout_ms / 1000.0, c->q_len);
        return report(WASITLS_E_TIMEOUT, msg, err);
    }
    return 0;
}
