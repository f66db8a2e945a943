/* GnuTLS backend. A client session's push callback hands records straight to the core's
 * transport (backend.h), and its pull callback reads ahead from it into `in` (GnuTLS asks for a
 * record header, then its body: two small reads of the underlying stream per record otherwise).
 * A session without the core's transport (the test suite's servers) uses two byte buffers: push
 * appends records to `out` for the caller to drain, pull serves what the caller put into `in`.
 * Pull says EAGAIN when it runs dry. The certificate check is ours (a verify function
 * calling gnutls_certificate_verify_peers3) so that the failure can be explained. */
#include "../backend.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct gbuf {
    uint8_t *p;
    size_t off, len, cap;
} gbuf;

typedef struct gt_ctx {
    gnutls_certificate_credentials_t cred;
    wasitls__keylog *keylog;
    gnutls_priority_t prio;
    uint16_t min_version, max_version;
    bool server;
    bool client_cert; /* a client certificate is configured */
    /* It, as the retrieve callback hands it out: to every server that asks (GnuTLS itself
     * would withhold one whose issuer is not among the CA names the server listed). */
    gnutls_pcert_st chain[16];
    unsigned nchain;
    gnutls_privkey_t key;
} gt_ctx;

typedef struct gt_sess {
    gnutls_session_t s;
    gt_ctx *ctx;
    gbuf in, out;
    const wasitls__tls_io *io; /* the core's transport, or NULL */
    uint64_t served;           /* bytes pull_cb has handed to GnuTLS */
    bool is_ip, done;
    char name[256];
    char *verify_msg; /* why our verify function refused the peer */
} gt_sess;

static bool gt_available(void)
{
    return gnutls_check_version("3.6.0") != NULL;
}

/* ---- buffers ---- */

static int gbuf_put(gbuf *b, const uint8_t *p, size_t n)
{
    if (b->off > 0 && b->off + b->len + n > b->cap) {
        memmove(b->p, b->p + b->off, b->len);
        b->off = 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->off + b->len, p, n);
    b->len += n;
    return 0;
}

static size_t gbuf_take(gbuf *b, uint8_t *p, size_t n)
{
    if (n > b->len) n = b->len;
    if (n == 0) return 0;
    memcpy(p, b->p + b->off, n);
    b->off += n;
    b->len -= n;
    if (b->len == 0) b->off = 0;
    return n;
}

/* The buffers hold only ciphertext, which crossed the wire anyway: freed without a wipe
 * (wiping the whole 64 KiB read-ahead would make every closing connection touch it all). */
static void gbuf_free(gbuf *b)
{
    free(b->p);
}

/* How much one read of the underlying stream may bring in ahead of what GnuTLS asked for. */
#define READ_AHEAD (64 * 1024)

static ssize_t push_cb(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
    gt_sess *s = ptr;
    if (s->io ? !s->io->push(s->io->ctx, data, len) : gbuf_put(&s->out, data, len) < 0) {
        gnutls_transport_set_errno(s->s, ENOMEM);
        return -1;
    }
    return (ssize_t)len;
}

static ssize_t pull_cb(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
    gt_sess *s = ptr;
    if (s->in.len == 0 && s->io) {
        if (s->in.cap < READ_AHEAD) {
            uint8_t *p = realloc(s->in.p, READ_AHEAD);
            if (!p) {
                gnutls_transport_set_errno(s->s, ENOMEM);
                return -1;
            }
            s->in.p = p;
            s->in.cap = READ_AHEAD;
        }
        s->in.off = 0;
        s->in.len = s->io->pull(s->io->ctx, s->in.p, s->in.cap);
    }
    if (s->in.len == 0) {
        gnutls_transport_set_errno(s->s, EAGAIN);
        return -1;
    }
    size_t n = gbuf_take(&s->in, data, len);
    s->served += n;
    return (ssize_t)n;
}

static int pull_timeout_cb(gnutls_transport_ptr_t ptr, unsigned int ms)
{
    gt_sess *s = ptr;
    (void)ms;
    /* with the core's transport, only a pull can tell: "maybe", and pull says EAGAIN if not */
    return s->in.len > 0 || s->io ? 1 : 0;
}

/* ---- certificates, for messages ---- */

static void crt_dn(gnutls_x509_crt_t c, bool issuer, char *buf, size_t len)
{
    gnutls_datum_t d = {NULL, 0};
    int r = issuer ? gnutls_x509_crt_get_issuer_dn3(c, &d, 0) : gnutls_x509_crt_get_dn3(c, &d, 0);
    if (r < 0 || !d.data)
        snprintf(buf, len, "(no name)");
    else
        snprintf(buf, len, "%.*s", (int)d.size, (const char *)d.data);
    gnutls_free(d.data);
}

static void crt_time(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (t == (time_t)-1 || !gmtime_r(&t, &tm))
        snprintf(buf, len, "(unknown date)");
    else
        wasitls__tls_fmt_tm(buf, len, &tm);
}

static void crt_sans(gnutls_x509_crt_t c, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (unsigned i = 0; off + 1 < len; i++) {
        char v[256];
        size_t vs = sizeof v;
        int type = gnutls_x509_crt_get_subject_alt_name(c, i, v, &vs, NULL);
        if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) break;
        char item[300] = "";
        if (type == GNUTLS_SAN_DNSNAME) {
            snprintf(item, sizeof item, "DNS:%.*s", (int)vs, v);
        } else if (type == GNUTLS_SAN_IPADDRESS) {
            char a[64];
            if ((vs == 4 && inet_ntop(AF_INET, v, a, sizeof a)) ||
                (vs == 16 && inet_ntop(AF_INET6, v, a, sizeof a)))
                snprintf(item, sizeof item, "IP:%s", a);
        }
        if (item[0]) {
            int n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", item);
            if (n < 0) break;
            off += (size_t)n;
        }
    }
    if (!buf[0]) snprintf(buf, len, "no subject alternative names");
}

static int set_verify_msg(gt_sess *s, const char *fmt, ...) WASITLS_PRINTF(2, 3);
static int set_verify_msg(gt_sess *s, const char *fmt, ...)
{
    free(s->verify_msg);
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s->verify_msg, fmt, ap) < 0) s->verify_msg = NULL;
    va_end(ap);
    return -1;
}

/* Minimum key sizes (those of OpenSSL's security level 2). */
static bool key_weak(gnutls_x509_crt_t c, unsigned *bits, const char **type)
{
    unsigned b = 0;
    int alg = gnutls_x509_crt_get_pk_algorithm(c, &b);
    *bits = b;
    switch (alg) {
    case GNUTLS_PK_RSA:
    case GNUTLS_PK_RSA_PSS:
        *type = "RSA";
        return b < 2048;
    case GNUTLS_PK_DSA:
        *type = "DSA";
        return b < 2048;
    case GNUTLS_PK_EC:
        *type = "EC";
        return b < 224;
    default:
        *type = "public";
        return false;
    }
}

/* Explains `status` (a gnutls_certificate_status_t) using the peer's chain. */
static int explain(gt_sess *s, unsigned status, gnutls_x509_crt_t *crts, unsigned n)
{
    char subj[256], iss[256], when[48], sans[512];
    time_t now = time(NULL);
    gnutls_x509_crt_t leaf = crts[0];
    crt_dn(leaf, false, subj, sizeof subj);
    if (status & GNUTLS_CERT_EXPIRED)
        for (unsigned i = 0; i < n; i++) {
            time_t t = gnutls_x509_crt_get_expiration_time(crts[i]);
            if (t != (time_t)-1 && t < now) {
                crt_dn(crts[i], false, subj, sizeof subj);
                crt_time(t, when, sizeof when);
                return set_verify_msg(
                    s, "certificate expired: %s (%s) expired on %s",
                    i ? "a CA certificate in the chain" : "the server certificate", subj, when);
            }
        }
    if (status & GNUTLS_CERT_NOT_ACTIVATED)
        for (unsigned i = 0; i < n; i++) {
            time_t t = gnutls_x509_crt_get_activation_time(crts[i]);
            if (t != (time_t)-1 && t > now) {
                crt_dn(crts[i], false, subj, sizeof subj);
                crt_time(t, when, sizeof when);
                return set_verify_msg(
                    s,
                    "certificate not yet valid: %s (%s) is valid only from %s "
                    "(check the clock)",
                    i ? "a CA certificate in the chain" : "the server certificate", subj, when);
            }
        }
    if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        gnutls_x509_crt_t top = crts[n - 1];
        bool self = gnutls_x509_crt_check_issuer(top, top) != 0;
        crt_dn(top, false, subj, sizeof subj);
        crt_dn(top, true, iss, sizeof iss);
        if (self && n == 1)
            return set_verify_msg(s,
                                  "self-signed certificate: the server presented a self-signed "
                                  "certificate (%s) that is not trusted; trust it with --tls-ca "
                                  "if that is intended",
                                  subj);
        if (self)
            return set_verify_msg(s,
                                  "unknown CA: the chain ends in the self-signed root (%s), "
                                  "which is not trusted; add it with --tls-ca if you trust it",
                                  subj);
        if (n == 1)
            return set_verify_msg(
                s,
                "unknown issuer: no trusted certificate for issuer (%s) of the server "
                "certificate (%s): the server did not send its intermediate certificate, or the "
                "CA is not trusted (add it with --tls-ca)",
                iss, subj);
        return set_verify_msg(s,
                              "unknown issuer: the chain's CA (%s), issuer of (%s), is not "
                              "trusted; add it with --tls-ca if you trust it",
                              iss, subj);
    }
    if (status & GNUTLS_CERT_UNEXPECTED_OWNER) {
        crt_sans(leaf, sans, sizeof sans);
        if (s->is_ip)
            return set_verify_msg(s,
                                  "certificate address mismatch: the server certificate (%s) is "
                                  "not valid for IP address %s; it is valid for: %s",
                                  subj, s->name, sans);
        return set_verify_msg(s,
                              "certificate name mismatch: the server certificate (%s) is not "
                              "valid for '%s'; it is valid for: %s",
                              subj, s->name, sans);
    }
    if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
        return set_verify_msg(s,
                              "weak signature: a certificate of the chain of (%s) uses an "
                              "algorithm that is too weak (such as SHA-1 or MD5)",
                              subj);
    if (status & GNUTLS_CERT_SIGNER_NOT_CA)
        return set_verify_msg(s, "invalid CA: the issuer of (%s) is not marked as a CA", subj);
    if (status & GNUTLS_CERT_REVOKED) return set_verify_msg(s, "certificate revoked: (%s)", subj);
    gnutls_datum_t d = {NULL, 0};
    gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &d, 0);
    set_verify_msg(s, "certificate verification failed for (%s): %s", subj,
                   d.data ? (const char *)d.data : "unknown reason");
    gnutls_free(d.data);
    return -1;
}

static int verify_cb(gnutls_session_t session)
{
    gt_sess *s = gnutls_session_get_ptr(session);
    unsigned n = 0;
    const gnutls_datum_t *raw = gnutls_certificate_get_peers(session, &n);
    if (!raw || n == 0) return set_verify_msg(s, "the server sent no certificate");
    gnutls_x509_crt_t crts[16];
    if (n > 16) n = 16;
    unsigned ok = 0;
    int ret = -1;
    for (; ok < n; ok++) {
        if (gnutls_x509_crt_init(&crts[ok]) < 0) break;
        if (gnutls_x509_crt_import(crts[ok], &raw[ok], GNUTLS_X509_FMT_DER) < 0) {
            gnutls_x509_crt_deinit(crts[ok]);
            break;
        }
    }
    if (ok == 0) {
        ret = set_verify_msg(s, "the server certificate cannot be parsed");
        goto out;
    }
    unsigned status = 0;
    if (gnutls_certificate_verify_peers3(session, s->name, &status) < 0) {
        ret = set_verify_msg(s, "the server certificate could not be verified");
        goto out;
    }
    /* Key sizes first: GnuTLS may report a weak key only as a generic failure. */
    for (unsigned i = 0; i < ok; i++) {
        unsigned bits;
        const char *type;
        if (key_weak(crts[i], &bits, &type)) {
            char subj[256];
            crt_dn(crts[i], false, subj, sizeof subj);
            ret = set_verify_msg(s,
                                 "weak key: %s (%s) has a %u-bit %s key, too small to be safe "
                                 "(at least 2048-bit RSA or 224-bit EC required)",
                                 i ? "a CA certificate in the chain" : "the server certificate",
                                 subj, bits, type);
            goto out;
        }
    }
    ret = status ? explain(s, status, crts, ok) : 0;
out:
    for (unsigned i = 0; i < ok; i++)
        gnutls_x509_crt_deinit(crts[i]);
    return ret;
}

/* ---- contexts ---- */

static void gt_ctx_free(void *p)
{
    gt_ctx *c = p;
    if (!c) return;
    if (c->cred) gnutls_certificate_free_credentials(c->cred);
    if (c->prio) gnutls_priority_deinit(c->prio);
    for (unsigned i = 0; i < c->nchain; i++)
        gnutls_pcert_deinit(&c->chain[i]);
    if (c->key) gnutls_privkey_deinit(c->key);
    free(c);
}

static int make_prio(gt_ctx *c, uint16_t minv, uint16_t maxv, wasitls_error *err)
{
    char prio[160];
    snprintf(prio, sizeof prio, "NORMAL:-VERS-ALL%s%s",
             maxv >= WASITLS_TLS_VERSION_1_3 ? ":+VERS-TLS1.3" : "",
             minv <= WASITLS_TLS_VERSION_1_2 ? ":+VERS-TLS1.2" : "");
    const char *pos = NULL;
    int r = gnutls_priority_init(&c->prio, prio, &pos);
    if (r < 0)
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG, "GnuTLS priority '%s': %s", prio,
                                 gnutls_strerror(r));
    c->min_version = minv;
    c->max_version = maxv;
    return 0;
}

static int keylog_cb(gnutls_session_t session, const char *label, const gnutls_datum_t *secret)
{
    gt_sess *s = gnutls_session_get_ptr(session);
    gnutls_datum_t client, server;
    gnutls_session_get_random(session, &client, &server);
    wasitls__keylog_write(s->ctx->keylog, label, client.data, client.size, secret->data,
                          secret->size);
    return 0;
}

static int no_keylog_cb(gnutls_session_t session, const char *label, const gnutls_datum_t *secret)
{
    return 0;
}

static int retrieve_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                       gnutls_pcert_st **pcert, unsigned int *pcert_length,
                       gnutls_privkey_t *privkey)
{
    (void)req_ca_dn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
    gt_sess *s = gnutls_session_get_ptr(session);
    /* GnuTLS neither frees nor changes what this hands out */
    *pcert = s->ctx->chain;
    *pcert_length = s->ctx->nchain;
    *privkey = s->ctx->key;
    return 0;
}

/* The client certificate (the core has checked that both files are there and hold PEM): the key
 * and the chain are loaded on their own first, so that an error names the file at fault, then
 * into the credentials too, for GnuTLS's check that they are a pair. */
static int load_client_cert(gt_ctx *c, const wasitls_tls_config *cfg, wasitls_error *err)
{
    const char *cert = cfg->client_cert_file, *key = cfg->client_key_file;
    gnutls_datum_t d = {NULL, 0};
    int r = gnutls_privkey_init(&c->key);
    if (r >= 0) r = gnutls_load_file(key, &d);
    if (r >= 0) r = gnutls_privkey_import_x509_raw(c->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (d.data) {
        gnutls_memset(d.data, 0, d.size);
        gnutls_free(d.data);
    }
    if (r < 0)
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "cannot use the client key in '%s' (expected a PEM private key "
                                 "that is not encrypted): %s",
                                 key, gnutls_strerror(r));
    c->nchain = sizeof c->chain / sizeof c->chain[0];
    r = gnutls_pcert_list_import_x509_file(c->chain, &c->nchain, cert, GNUTLS_X509_FMT_PEM, NULL,
                                           NULL, 0);
    if (r < 0) {
        c->nchain = 0;
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "cannot use the client certificate in '%s' (expected PEM: the "
                                 "certificate first, then at most 15 intermediates): %s",
                                 cert, gnutls_strerror(r));
    }
    r = gnutls_certificate_set_x509_key_file2(c->cred, cert, key, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (r == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "the client key in '%s' does not belong to the client "
                                 "certificate in '%s'",
                                 key, cert);
    if (r < 0)
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "the client key in '%s' and the client certificate in '%s' "
                                 "cannot be used together: %s",
                                 key, cert, gnutls_strerror(r));
    gnutls_certificate_set_retrieve_function2(c->cred, retrieve_cb);
    c->client_cert = true;
    return 0;
}

static int gt_ctx_new(const wasitls_tls_config *cfg, wasitls__keylog *keylog, void **out,
                      wasitls_error *err)
{
    int ret;
    gt_ctx *c = calloc(1, sizeof *c);
    if (!c || gnutls_certificate_allocate_credentials(&c->cred) < 0) {
        ret = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory initialising GnuTLS");
        goto fail;
    }
    if ((ret = make_prio(c, cfg->min_version, cfg->max_version, err)) < 0) goto fail;
    if (!cfg->no_system_trust) {
        /* As OpenSSL does: SSL_CERT_FILE replaces the system bundle and SSL_CERT_DIR the
         * system directory; the system store stays in use unless both are given. */
        const char *f = getenv("SSL_CERT_FILE"), *d = getenv("SSL_CERT_DIR");
        bool hf = f && *f, hd = d && *d;
        int r = wasitls__tls_check_env_trust(err);
        if (r < 0) {
            ret = r;
            goto fail;
        }
        if (hf) r = gnutls_certificate_set_x509_trust_file(c->cred, f, GNUTLS_X509_FMT_PEM);
        if (r >= 0 && hd) {
            char *copy = strdup(d), *save = NULL;
            for (char *one = copy ? strtok_r(copy, ":", &save) : NULL; one && r >= 0;
                 one = strtok_r(NULL, ":", &save))
                r = gnutls_certificate_set_x509_trust_dir(c->cred, one, GNUTLS_X509_FMT_PEM);
            free(copy);
        }
        if (r >= 0 && !(hf && hd)) r = gnutls_certificate_set_x509_system_trust(c->cred);
        if (r < 0) {
            ret = wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                    "cannot load the system trust store: %s", gnutls_strerror(r));
            goto fail;
        }
    }
    for (size_t i = 0; i < cfg->n_ca_files; i++) {
        const char *f = cfg->ca_files[i];
        FILE *fp = fopen(f, "r");
        if (!fp) {
            ret = wasitls_error_set(err, WASITLS_E_NOTFOUND, "cannot open CA file '%s': %m", f);
            goto fail;
        }
        fclose(fp);
        int r = gnutls_certificate_set_x509_trust_file(c->cred, f, GNUTLS_X509_FMT_PEM);
        if (r <= 0) {
            ret = wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                    "cannot load CA file '%s' (expected PEM certificates): %s", f,
                                    r < 0 ? gnutls_strerror(r) : "no certificate found");
            goto fail;
        }
    }
    if (cfg->client_cert_file && (ret = load_client_cert(c, cfg, err)) < 0) goto fail;
    gnutls_certificate_set_verify_function(c->cred, verify_cb);
    c->keylog = keylog;
    *out = c;
    return 0;
fail:
    gt_ctx_free(c);
    return ret;
}

static int gt_server_ctx_new(const wasitls__tls_server_opts *o, void **out, wasitls_error *err)
{
    int ret;
    gt_ctx *c = calloc(1, sizeof *c);
    if (!c || gnutls_certificate_allocate_credentials(&c->cred) < 0) {
        ret = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory initialising GnuTLS");
        goto fail;
    }
    c->server = true;
    if ((ret = make_prio(c, o->min_version ? o->min_version : WASITLS_TLS_VERSION_1_2,
                         o->max_version ? o->max_version : WASITLS_TLS_VERSION_1_3, err)) < 0)
        goto fail;
    int r = gnutls_certificate_set_x509_key_file(c->cred, o->cert_chain_file, o->key_file,
                                                 GNUTLS_X509_FMT_PEM);
    if (r < 0) {
        ret = wasitls_error_set(err, WASITLS_E_TLS_CONFIG, "cannot load '%s' / '%s': %s",
                                o->cert_chain_file, o->key_file, gnutls_strerror(r));
        goto fail;
    }
    *out = c;
    return 0;
fail:
    gt_ctx_free(c);
    return ret;
}

/* ---- sessions ---- */

static void gt_sess_free(void *p)
{
    gt_sess *s = p;
    if (!s) return;
    if (s->s) gnutls_deinit(s->s);
    gbuf_free(&s->in);
    gbuf_free(&s->out);
    free(s->verify_msg);
    free(s);
}

static int sess_new(gt_ctx *c, gt_sess **out, wasitls_error *err)
{
    gt_sess *s = calloc(1, sizeof *s);
    if (!s) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    s->ctx = c;
    int r = gnutls_init(&s->s, (c->server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK);
    if (r >= 0) r = gnutls_priority_set(s->s, c->prio);
    if (r >= 0) r = gnutls_credentials_set(s->s, GNUTLS_CRD_CERTIFICATE, c->cred);
    if (r < 0) {
        gt_sess_free(s);
        return wasitls_error_set(err, WASITLS_E_NOMEM, "cannot create a GnuTLS session: %s",
                                 gnutls_strerror(r));
    }
    gnutls_session_set_ptr(s->s, s);
    gnutls_transport_set_ptr(s->s, s);
    gnutls_transport_set_push_function(s->s, push_cb);
    gnutls_transport_set_pull_function(s->s, pull_cb);
    gnutls_transport_set_pull_timeout_function(s->s, pull_timeout_cb);
    /* Ours or none: GnuTLS would otherwise follow $SSLKEYLOGFILE on its own. */
    gnutls_session_set_keylog_function(s->s, c->keylog ? keylog_cb : no_keylog_cb);
    *out = s;
    return 0;
}

static int gt_client_new(void *ctx, const char *name, bool is_ip, void **out, wasitls_error *err)
{
    gt_sess *s;
    int r = sess_new(ctx, &s, err);
    if (r < 0) return r;
    snprintf(s->name, sizeof s->name, "%s", name);
    s->is_ip = is_ip;
    /* RFC 6066 section 3: literal IP addresses are not permitted in SNI. */
    if (!is_ip && gnutls_server_name_set(s->s, GNUTLS_NAME_DNS, name, strlen(name)) < 0) {
        gt_sess_free(s);
        return wasitls_error_set(err, WASITLS_E_NOMEM, "cannot set the server name");
    }
    *out = s;
    return 0;
}

static int gt_server_new(void *ctx, void **out, wasitls_error *err)
{
    gt_sess *s;
    int r = sess_new(ctx, &s, err);
    if (r == 0) *out = s;
    return r;
}

/* A session the server lets us resume, for the core's cache. */
static void save_session(gt_sess *s)
{
    gnutls_datum_t d = {NULL, 0};
    if (gnutls_session_get_data2(s->s, &d) == 0 && d.size > 0)
        s->io->save_session(s->io->ctx, d.data, d.size);
    if (d.data) {
        gnutls_memset(d.data, 0, d.size);
        gnutls_free(d.data);
    }
}

/* TLS 1.3: the session becomes resumable with each NewSessionTicket, after the handshake
 * (asking for it before one arrived would wait for it). */
static int ticket_hook(gnutls_session_t session, unsigned htype, unsigned when, unsigned incoming,
                       const gnutls_datum_t *msg)
{
    (void)htype, (void)when, (void)incoming, (void)msg;
    gt_sess *s = gnutls_session_get_ptr(session);
    if (s && (gnutls_session_get_flags(session) & GNUTLS_SFLAGS_SESSION_TICKET)) save_session(s);
    return 0;
}

static int gt_set_io(void *p, const wasitls__tls_io *io)
{
    gt_sess *s = p;
    s->io = io;
    if (io->save_session)
        gnutls_handshake_set_hook_function(s->s, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET,
                                           GNUTLS_HOOK_POST, ticket_hook);
    return 0;
}

static void gt_resume(void *p, const uint8_t *data, size_t len)
{
    (void)gnutls_session_set_data(((gt_sess *)p)->s, data, len); /* else a full handshake */
}

static bool gt_resumed(void *p)
{
    return gnutls_session_is_resumed(((gt_sess *)p)->s) != 0;
}

static int gt_put_cipher(void *p, const uint8_t *buf, size_t len)
{
    gt_sess *s = p;
    return gbuf_put(&s->in, buf, len) < 0 ? WASITLS_E_NOMEM : 0;
}

static size_t gt_cipher_pending(void *p)
{
    return ((gt_sess *)p)->out.len;
}

static size_t gt_get_cipher(void *p, uint8_t *buf, size_t len)
{
    return gbuf_take(&((gt_sess *)p)->out, buf, len);
}

static const char *vstr(uint16_t v, uint16_t dflt)
{
    return wasitls__tls_version_str(v ? v : dflt);
}

static int explain_failure(gt_sess *s, int r, bool handshaking, wasitls_error *err);

/* GnuTLS leaves telling the peer to the application: send the alert that fits, so the other
 * side can report why (it lands in `out`, which the core drains). */
static int failure(gt_sess *s, int r, bool handshaking, wasitls_error *err)
{
    if (r != GNUTLS_E_FATAL_ALERT_RECEIVED && gnutls_error_is_fatal(r))
        gnutls_alert_send_appropriate(s->s, r);
    return explain_failure(s, r, handshaking, err);
}

static int explain_failure(gt_sess *s, int r, bool handshaking, wasitls_error *err)
{
    if ((r == GNUTLS_E_CERTIFICATE_ERROR || r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) &&
        s->verify_msg)
        return wasitls_error_set(err, WASITLS_E_TLS_VERIFY, "%s", s->verify_msg);
    if (r == GNUTLS_E_FATAL_ALERT_RECEIVED) {
        gnutls_alert_description_t a = gnutls_alert_get(s->s);
        const char *hint = wasitls__tls_client_cert_hint(
            !s->ctx->server && gnutls_certificate_client_get_request_status(s->s),
            s->ctx->client_cert, (int)a);
        if (handshaking && a == GNUTLS_A_PROTOCOL_VERSION)
            return wasitls_error_set(err, WASITLS_E_TLS_PROTOCOL,
                                     "protocol version mismatch: the peer sent alert 'protocol "
                                     "version' (this side allows %s to %s)",
                                     vstr(s->ctx->min_version, WASITLS_TLS_VERSION_1_2),
                                     vstr(s->ctx->max_version, WASITLS_TLS_VERSION_1_3));
        if (handshaking && a == GNUTLS_A_HANDSHAKE_FAILURE && !hint[0])
            return wasitls_error_set(
                err, WASITLS_E_TLS_ALERT,
                "the peer sent fatal alert 'handshake failure' during the handshake: it may "
                "require a client certificate, or accept none of the TLS versions or cipher "
                "suites offered (this side allows %s to %s)",
                vstr(s->ctx->min_version, WASITLS_TLS_VERSION_1_2),
                vstr(s->ctx->max_version, WASITLS_TLS_VERSION_1_3));
        return wasitls_error_set(err, WASITLS_E_TLS_ALERT, "the peer sent fatal alert '%s'%s%s",
                                 wasitls__tls_alert_name((int)a),
                                 handshaking ? " during the handshake" : "", hint);
    }
    if (r == GNUTLS_E_UNSUPPORTED_VERSION_PACKET || r == GNUTLS_E_NO_PRIORITIES_WERE_SET ||
        r == GNUTLS_E_INSUFFICIENT_CREDENTIALS)
        return wasitls_error_set(err, WASITLS_E_TLS_PROTOCOL,
                                 "protocol version mismatch: %s (this side allows %s to %s)",
                                 gnutls_strerror(r),
                                 vstr(s->ctx->min_version, WASITLS_TLS_VERSION_1_2),
                                 vstr(s->ctx->max_version, WASITLS_TLS_VERSION_1_3));
    /* Garbage before any handshake message means another protocol; after the server's hello
     * it is a TLS server whose message GnuTLS could not take (e.g. GnuTLS 3.7 fails on a
     * TLS 1.3 certificate request that names no CAs). */
    unsigned last_in = (unsigned)gnutls_handshake_get_last_in(s->s);
    bool spoke_tls = !handshaking || (last_in >= GNUTLS_HANDSHAKE_SERVER_HELLO && last_in < 256);
    if ((r == GNUTLS_E_UNEXPECTED_PACKET_LENGTH || r == GNUTLS_E_UNEXPECTED_PACKET) && !spoke_tls)
        return wasitls_error_set(err, WASITLS_E_TLS_PROTOCOL,
                                 "the peer does not speak TLS (%s): is this a TLS port?",
                                 gnutls_strerror(r));
    return wasitls_error_set(
        err, handshaking ? WASITLS_E_TLS_HANDSHAKE : WASITLS_E_TLS_PROTOCOL, "%s%s",
        handshaking ? "TLS handshake failed: " : "TLS error: ", gnutls_strerror(r));
}

static int gt_handshake(void *p, wasitls_error *err)
{
    gt_sess *s = p;
    if (s->done) return 0;
    int r;
    size_t before;
    do {
        before = s->in.len;
        r = gnutls_handshake(s->s);
    } while (r == GNUTLS_E_WARNING_ALERT_RECEIVED || r == GNUTLS_E_GOT_APPLICATION_DATA ||
             ((r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) && s->in.len > 0 &&
              s->in.len < before));
    if (r == 0) {
        s->done = true;
        bool tls12 = gnutls_protocol_get_version(s->s) == GNUTLS_TLS1_2;
        /* GnuTLS logs no key for a resumed TLS 1.2 handshake (there is no key exchange); the
         * line is ours to write, as OpenSSL does: the client random and the master secret. */
        if (tls12 && s->ctx->keylog && gnutls_session_is_resumed(s->s)) {
            gnutls_datum_t client, server, master;
            gnutls_session_get_random(s->s, &client, &server);
            gnutls_session_get_master_secret(s->s, &master);
            wasitls__keylog_write(s->ctx->keylog, "CLIENT_RANDOM", client.data, client.size,
                                  master.data, master.size);
        }
        /* TLS 1.2: resumable now (session ID or ticket); TLS 1.3: see ticket_hook. */
        if (s->io && s->io->save_session && tls12) save_session(s);
        return 0;
    }
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) return WASITLS_E_AGAIN;
    return failure(s, r, true, err);
}

static int64_t gt_read(void *p, uint8_t *buf, size_t len, wasitls_error *err)
{
    gt_sess *s = p;
    for (;;) {
        uint64_t before = s->served;
        ssize_t n = gnutls_record_recv(s->s, buf, len);
        if (n > 0) return n;
        if (n == 0) return len == 0 ? WASITLS_E_AGAIN : WASITLS_E_CLOSED;
        /* GnuTLS says AGAIN after a post-handshake message (a TLS 1.3 session ticket) even
         * when more records are buffered: go on while input is being consumed. */
        if ((n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) && s->in.len > 0 &&
            s->served != before)
            continue;
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) return WASITLS_E_AGAIN;
        if (n == GNUTLS_E_WARNING_ALERT_RECEIVED || n == GNUTLS_E_REHANDSHAKE)
            continue; /* renegotiation is refused by ignoring the request */
        return failure(s, (int)n, false, err);
    }
}

static int gt_write(void *p, const uint8_t *buf, size_t len, wasitls_error *err)
{
    gt_sess *s = p;
    while (len > 0) {
        ssize_t n = gnutls_record_send(s->s, buf, len);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) continue;
        if (n < 0) return failure(s, (int)n, false, err);
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int gt_close_notify(void *p, wasitls_error *err)
{
    gt_sess *s = p;
    int r = gnutls_bye(s->s, GNUTLS_SHUT_WR);
    if (r < 0 && r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED) return failure(s, r, false, err);
    return 0;
}

static const char *gt_version_name(void *p)
{
    gt_sess *s = p;
    if (!s->done) return "";
    switch (gnutls_protocol_get_version(s->s)) {
    case GNUTLS_TLS1_3:
        return "TLS 1.3";
    case GNUTLS_TLS1_2:
        return "TLS 1.2";
    default:
        return gnutls_protocol_get_name(gnutls_protocol_get_version(s->s));
    }
}

const wasitls__tls_backend wasitls__tls_gnutls = {
    .version = WASITLS__TLS_BACKEND_VERSION,
    .name = "gnutls",
    .is_available = gt_available,
    .ctx_new = gt_ctx_new,
    .server_ctx_new = gt_server_ctx_new,
    .ctx_free = gt_ctx_free,
    .client_new = gt_client_new,
    .server_new = gt_server_new,
    .sess_free = gt_sess_free,
    .put_cipher = gt_put_cipher,
    .cipher_pending = gt_cipher_pending,
    .get_cipher = gt_get_cipher,
    .handshake = gt_handshake,
    .read = gt_read,
    .write = gt_write,
    .close_notify = gt_close_notify,
    .version_name = gt_version_name,
    .set_io = gt_set_io,
    .resume = gt_resume,
    .resumed = gt_resumed,
};
