/* OpenSSL backend. A client session's SSL object reads and writes ciphertext through a BIO of
 * our own whose read and write call the core's transport callbacks (backend.h: records go from
 * the underlying stream straight into OpenSSL's buffer and straight out of it); a session
 * without them (the test suite's servers) sits between two memory BIOs that put_cipher and
 * get_cipher fill and drain. OpenSSL itself never sees a socket.
 * Verification failures are captured in the verify callback (which certificate, which dates,
 * which names) so the error text can say what is wrong rather than only "verify failed". */
#include "../backend.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <time.h>

typedef struct ossl_sess {
    SSL *ssl;
    BIO *rbio, *wbio;
    bool is_ip;
    bool is_server;
    uint16_t min_version, max_version;
    char server_name[256];
    /* the first verification failure */
    int verify_err;
    int verify_depth;
    char subject[256], issuer[256];
    char not_before[48], not_after[48];
    char sans[512];
    int key_bits;
    char key_type[16];
    /* the first fatal alert received from the peer */
    int alert_in;
    bool cert_requested;       /* the server asked for a client certificate */
    const wasitls__tls_io *io; /* the core's transport, or NULL */
} ossl_sess;

typedef struct ossl_ctx {
    SSL_CTX *ctx;
    wasitls__keylog *keylog;
    uint16_t min_version, max_version;
} ossl_ctx;

static int sess_index = -1;

static bool ossl_available(void)
{
    return OPENSSL_init_ssl(0, NULL) == 1;
}

static int ossl_version(uint16_t v)
{
    return v == WASITLS_TLS_VERSION_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

/* The reason of the last queued OpenSSL error, as text (queue cleared). */
static void last_reason(char *buf, size_t len, unsigned long *code)
{
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = last ? last : e; /* the first is the root cause */
    if (code) *code = last;
    if (!last) {
        snprintf(buf, len, "unknown error");
        return;
    }
    const char *r = ERR_reason_error_string(last);
    if (r)
        snprintf(buf, len, "%s", r);
    else
        ERR_error_string_n(last, buf, len);
}

/* ---- the transport BIO: reads and writes go to the core's wasitls__tls_io ---- */

static BIO_METHOD *io_method;

static int io_bread(BIO *b, char *buf, size_t len, size_t *got)
{
    const wasitls__tls_io *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    *got = io->pull(io->ctx, (uint8_t *)buf, len);
    if (*got) return 1;
    BIO_set_retry_read(b); /* nothing yet: the core knows whether that is the end */
    return 0;
}

static int io_bwrite(BIO *b, const char *buf, size_t len, size_t *put)
{
    const wasitls__tls_io *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    *put = io->push(io->ctx, (const uint8_t *)buf, len) ? len : 0;
    return *put == len;
}

static long io_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH; /* pushed records are already on their way */
}

static void make_index(void)
{
    if (OPENSSL_init_ssl(0, NULL) != 1) return;
    io_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wasitls transport");
    if (!io_method || !BIO_meth_set_read_ex(io_method, io_bread) ||
        !BIO_meth_set_write_ex(io_method, io_bwrite) || !BIO_meth_set_ctrl(io_method, io_ctrl))
        return;
    sess_index = SSL_get_ex_new_index(0, (void *)"wasitls", NULL, NULL, NULL);
}

/* Contexts may be made from several threads: the index is made once. */
static int init_index(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_index);
    return sess_index;
}

static int load_trust(SSL_CTX *ctx, const wasitls_tls_config *cfg, wasitls_error *err)
{
    char reason[256];
    /* Honours SSL_CERT_FILE and SSL_CERT_DIR (OpenSSL reads them here): each replaces the
     * default file / directory of the system store. */
    if (!cfg->no_system_trust) {
        int r = wasitls__tls_check_env_trust(err);
        if (r < 0) return r;
    }
    if (!cfg->no_system_trust && SSL_CTX_set_default_verify_paths(ctx) != 1) {
        last_reason(reason, sizeof reason, NULL);
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "cannot load the system trust store: %s", reason);
    }
    for (size_t i = 0; i < cfg->n_ca_files; i++) {
        const char *f = cfg->ca_files[i];
        FILE *fp = fopen(f, "r");
        if (!fp)
            return wasitls_error_set(err, WASITLS_E_NOTFOUND, "cannot open CA file '%s': %m", f);
        fclose(fp);
        if (SSL_CTX_load_verify_locations(ctx, f, NULL) != 1) {
            last_reason(reason, sizeof reason, NULL);
            return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                     "cannot load CA file '%s' (expected PEM certificates): %s", f,
                                     reason);
        }
    }
    return 0;
}

static void ossl_ctx_free(void *p)
{
    ossl_ctx *c = p;
    if (!c) return;
    SSL_CTX_free(c->ctx);
    free(c);
}

static int verify_cb(int ok, X509_STORE_CTX *xs);

static void keylog_cb(const SSL *ssl, const char *line)
{
    ossl_ctx *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (c) wasitls__keylog_write(c->keylog, line, NULL, 0, NULL, 0);
}

/* Called on a client when the server asks for a certificate (whether or not one is set). */
static int cert_requested_cb(SSL *ssl, void *arg)
{
    (void)arg;
    ossl_sess *s = SSL_get_ex_data(ssl, sess_index);
    if (s) s->cert_requested = true;
    return 1;
}

/* An encrypted key fails to load instead of prompting on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static int load_client_cert(SSL_CTX *ctx, const wasitls_tls_config *cfg, wasitls_error *err)
{
    char reason[256];
    unsigned long code;
    const char *cert = cfg->client_cert_file, *key = cfg->client_key_file;
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        last_reason(reason, sizeof reason, NULL);
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "cannot use the client certificate in '%s' (expected PEM: the "
                                 "certificate first, then its intermediates): %s",
                                 cert, reason);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        last_reason(reason, sizeof reason, &code);
        if (ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH)
            return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                     "the client key in '%s' does not belong to the client "
                                     "certificate in '%s'",
                                     key, cert);
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "cannot use the client key in '%s' (expected a PEM private key "
                                 "that is not encrypted): %s",
                                 key, reason);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        last_reason(reason, sizeof reason, NULL);
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "the client key in '%s' does not belong to the client "
                                 "certificate in '%s'",
                                 key, cert);
    }
    return 0;
}

/* A session the server lets us resume (TLS 1.2: at the end of the handshake; TLS 1.3: each
 * NewSessionTicket): serialised for the core's cache. 0: OpenSSL keeps no reference. */
static void save_session(ossl_sess *s, SSL_SESSION *sess)
{
    if (!s || !s->io || !s->io->save_session || !SSL_SESSION_is_resumable(sess)) return;
    int len = i2d_SSL_SESSION(sess, NULL);
    unsigned char *buf = len > 0 ? malloc((size_t)len) : NULL, *p = buf;
    if (buf && i2d_SSL_SESSION(sess, &p) == len) s->io->save_session(s->io->ctx, buf, (size_t)len);
    if (buf) OPENSSL_clear_free(buf, (size_t)len);
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    save_session(SSL_get_ex_data(ssl, sess_index), sess);
    return 0;
}

static int ossl_ctx_new(const wasitls_tls_config *cfg, wasitls__keylog *keylog, void **out,
                        wasitls_error *err)
{
    int ret;
    ossl_ctx *c = calloc(1, sizeof *c);
    if (!c || init_index() < 0) {
        ret = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory initialising OpenSSL");
        goto fail;
    }
    c->min_version = cfg->min_version;
    c->max_version = cfg->max_version;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx) {
        ret = wasitls_error_set(err, WASITLS_E_NOMEM, "cannot create an OpenSSL context");
        goto fail;
    }
    SSL_CTX_set_min_proto_version(c->ctx, ossl_version(cfg->min_version));
    SSL_CTX_set_max_proto_version(c->ctx, ossl_version(cfg->max_version));
    /* Level 2: RSA/DH keys of at least 2048 bits, no SHA-1 signatures. */
    SSL_CTX_set_security_level(c->ctx, 2);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, verify_cb);
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Sessions to resume go to the core's cache (io->save_session), none to OpenSSL's. */
    if (cfg->no_session_resumption) {
        SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
    } else {
        SSL_CTX_set_session_cache_mode(c->ctx,
                                       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c->ctx, new_session_cb);
    }
    if (keylog) {
        c->keylog = keylog;
        SSL_CTX_set_app_data(c->ctx, c);
        SSL_CTX_set_keylog_callback(c->ctx, keylog_cb);
    }
    if ((ret = load_trust(c->ctx, cfg, err)) < 0) goto fail;
    if (cfg->client_cert_file && (ret = load_client_cert(c->ctx, cfg, err)) < 0) goto fail;
    SSL_CTX_set_cert_cb(c->ctx, cert_requested_cb, NULL);
    *out = c;
    return 0;
fail:
    ossl_ctx_free(c);
    return ret;
}

static int ossl_server_ctx_new(const wasitls__tls_server_opts *o, void **out, wasitls_error *err)
{
    int ret;
    char reason[256];
    ossl_ctx *c = calloc(1, sizeof *c);
    if (!c || init_index() < 0) {
        ret = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory initialising OpenSSL");
        goto fail;
    }
    c->min_version = o->min_version;
    c->max_version = o->max_version;
    c->ctx = SSL_CTX_new(TLS_server_method());
    if (!c->ctx) {
        ret = wasitls_error_set(err, WASITLS_E_NOMEM, "cannot create an OpenSSL context");
        goto fail;
    }
    SSL_CTX_set_min_proto_version(
        c->ctx, ossl_version(o->min_version ? o->min_version : WASITLS_TLS_VERSION_1_2));
    SSL_CTX_set_max_proto_version(
        c->ctx, ossl_version(o->max_version ? o->max_version : WASITLS_TLS_VERSION_1_3));
    /* A test server may serve deliberately weak keys; the client is the one that must refuse. */
    SSL_CTX_set_security_level(c->ctx, 0);
    if (SSL_CTX_use_certificate_chain_file(c->ctx, o->cert_chain_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(c->ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c->ctx) != 1) {
        last_reason(reason, sizeof reason, NULL);
        ret = wasitls_error_set(err, WASITLS_E_TLS_CONFIG, "cannot load '%s' / '%s': %s",
                                o->cert_chain_file, o->key_file, reason);
        goto fail;
    }
    *out = c;
    return 0;
fail:
    ossl_ctx_free(c);
    return ret;
}

static void ossl_sess_free(void *p)
{
    ossl_sess *s = p;
    if (!s) return;
    SSL_free(s->ssl); /* frees both BIOs and cleanses the keys */
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

static void info_cb(const SSL *ssl, int where, int ret)
{
    if (!(where & SSL_CB_ALERT) || !(where & SSL_CB_READ)) return;
    ossl_sess *s = SSL_get_ex_data(ssl, sess_index);
    /* ret: level << 8 | description; 0 is close_notify, which is not a failure. */
    if (s && (ret & 0xff) != 0 && !s->alert_in) s->alert_in = ret;
}

static int sess_new(ossl_ctx *c, bool server, ossl_sess **out, wasitls_error *err)
{
    ossl_sess *s = calloc(1, sizeof *s);
    if (!s) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    s->ssl = SSL_new(c->ctx);
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    if (!s->ssl || !s->rbio || !s->wbio) {
        BIO_free(s->rbio); /* not yet owned by the SSL object */
        BIO_free(s->wbio);
        SSL_free(s->ssl);
        free(s);
        return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory creating a TLS session");
    }
    /* An empty read BIO means "no data yet", never end of file: the core tracks EOF. */
    BIO_set_mem_eof_return(s->rbio, -1);
    SSL_set_bio(s->ssl, s->rbio, s->wbio);
    SSL_set_ex_data(s->ssl, sess_index, s);
    SSL_set_info_callback(s->ssl, info_cb);
    s->is_server = server;
    s->min_version = c->min_version;
    s->max_version = c->max_version;
    if (server)
        SSL_set_accept_state(s->ssl);
    else
        SSL_set_connect_state(s->ssl);
    *out = s;
    return 0;
}

static int ossl_client_new(void *ctx, const char *name, bool is_ip, void **out, wasitls_error *err)
{
    ossl_sess *s;
    int ret = sess_new(ctx, false, &s, err);
    if (ret < 0) return ret;
    snprintf(s->server_name, sizeof s->server_name, "%s", name);
    s->is_ip = is_ip;
    X509_VERIFY_PARAM *vp = SSL_get0_param(s->ssl);
    if (is_ip) {
        /* RFC 6066 section 3: literal IP addresses are not permitted in SNI. */
        if (X509_VERIFY_PARAM_set1_ip_asc(vp, name) != 1) goto nomem;
    } else {
        if (SSL_set_tlsext_host_name(s->ssl, name) != 1 || SSL_set1_host(s->ssl, name) != 1)
            goto nomem;
        /* A certificate for *.example.com must not match a.b.example.com. */
        SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    *out = s;
    return 0;
nomem:
    ossl_sess_free(s);
    return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory setting the server name");
}

static int ossl_server_new(void *ctx, void **out, wasitls_error *err)
{
    ossl_sess *s;
    int ret = sess_new(ctx, true, &s, err);
    if (ret == 0) *out = s;
    return ret;
}

static void name_str(const X509_NAME *n, char *buf, size_t len)
{
    buf[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (!b) return;
    if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        int r = BIO_read(b, buf, (int)len - 1);
        buf[r > 0 ? r : 0] = '\0';
    }
    BIO_free(b);
}

static void time_str(const ASN1_TIME *t, char *buf, size_t len)
{
    struct tm tm;
    if (t && ASN1_TIME_to_tm(t, &tm) == 1)
        wasitls__tls_fmt_tm(buf, len, &tm);
    else
        snprintf(buf, len, "(unknown date)");
}

static void sans_str(X509 *cert, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && off + 1 < len; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char item[300];
        item[0] = '\0';
        if (g->type == GEN_DNS) {
            const ASN1_IA5STRING *d = g->d.dNSName;
            snprintf(item, sizeof item, "DNS:%.*s", d->length, (const char *)d->data);
        } else if (g->type == GEN_IPADD) {
            const ASN1_OCTET_STRING *ip = g->d.iPAddress;
            char a[64];
            if (ip->length == 4 && inet_ntop(AF_INET, ip->data, a, sizeof a))
                snprintf(item, sizeof item, "IP:%s", a);
            else if (ip->length == 16 && inet_ntop(AF_INET6, ip->data, a, sizeof a))
                snprintf(item, sizeof item, "IP:%s", a);
        }
        if (item[0]) {
            int n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", item);
            if (n < 0) break;
            off += (size_t)n;
        }
    }
    GENERAL_NAMES_free(gens);
    if (!buf[0]) {
        /* No SAN: name the subject CN, which modern verifiers ignore. */
        char cn[200];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) >
            0)
            snprintf(buf, len,
                     "no subject alternative names; only CN=%s, which is not used for "
                     "name checks",
                     cn);
        else
            snprintf(buf, len, "no names at all");
    }
}

static int verify_cb(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    ossl_sess *s = ssl ? SSL_get_ex_data(ssl, sess_index) : NULL;
    if (ok || !s || s->verify_err) return ok;
    s->verify_err = X509_STORE_CTX_get_error(xs);
    s->verify_depth = X509_STORE_CTX_get_error_depth(xs);
    X509 *cert = X509_STORE_CTX_get_current_cert(xs);
    if (!cert) {
        STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(xs);
        cert = chain && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : NULL;
    }
    if (cert) {
        name_str(X509_get_subject_name(cert), s->subject, sizeof s->subject);
        name_str(X509_get_issuer_name(cert), s->issuer, sizeof s->issuer);
        time_str(X509_get0_notBefore(cert), s->not_before, sizeof s->not_before);
        time_str(X509_get0_notAfter(cert), s->not_after, sizeof s->not_after);
        sans_str(cert, s->sans, sizeof s->sans);
        EVP_PKEY *pk = X509_get0_pubkey(cert);
        if (pk) {
            s->key_bits = EVP_PKEY_get_bits(pk);
            int id = EVP_PKEY_get_base_id(pk);
            snprintf(s->key_type, sizeof s->key_type, "%s",
                     id == EVP_PKEY_RSA   ? "RSA"
                     : id == EVP_PKEY_EC  ? "EC"
                     : id == EVP_PKEY_DSA ? "DSA"
                                          : "public");
        }
    }
    return ok;
}

static const char *which(const ossl_sess *s)
{
    return s->verify_depth == 0 ? "the server certificate" : "a CA certificate in the chain";
}

static int verify_error(ossl_sess *s, wasitls_error *err)
{
    const int E = WASITLS_E_TLS_VERIFY;
    const char *subj = s->subject[0] ? s->subject : "(no subject)";
    switch (s->verify_err) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
        return wasitls_error_set(err, E,
                                 "certificate name mismatch: the server certificate (%s) is not "
                                 "valid for '%s'; it is valid for: %s",
                                 subj, s->server_name, s->sans);
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return wasitls_error_set(err, E,
                                 "certificate address mismatch: the server certificate (%s) is not "
                                 "valid for IP address %s; it is valid for: %s",
                                 subj, s->server_name, s->sans);
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return wasitls_error_set(err, E, "certificate expired: %s (%s) expired on %s", which(s),
                                 subj, s->not_after);
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return wasitls_error_set(err, E,
                                 "certificate not yet valid: %s (%s) is valid only from %s "
                                 "(check the clock)",
                                 which(s), subj, s->not_before);
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        return wasitls_error_set(err, E,
                                 "self-signed certificate: the server presented a self-signed "
                                 "certificate (%s) that is not trusted; trust it with --tls-ca "
                                 "if that is intended",
                                 subj);
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return wasitls_error_set(err, E,
                                 "unknown CA: the chain ends in the self-signed root (%s), which "
                                 "is not trusted; add it with --tls-ca if you trust it",
                                 subj);
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        if (s->verify_depth == 0)
            return wasitls_error_set(
                err, E,
                "unknown issuer: no trusted certificate for issuer (%s) of the server certificate "
                "(%s): the server did not send its intermediate certificate, or the CA is not "
                "trusted (add it with --tls-ca)",
                s->issuer, subj);
        return wasitls_error_set(err, E,
                                 "unknown issuer: the chain's CA (%s), issuer of (%s), is not "
                                 "trusted; add it with --tls-ca if you trust it",
                                 s->issuer, subj);
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL:
        return wasitls_error_set(err, E,
                                 "weak key: %s (%s) has a %d-bit %s key, too small to be safe "
                                 "(at least 2048-bit RSA or 224-bit EC required)",
                                 which(s), subj, s->key_bits, s->key_type);
    case X509_V_ERR_CA_MD_TOO_WEAK:
        return wasitls_error_set(err, E,
                                 "weak signature: %s (%s) is signed with a digest that is too "
                                 "weak (such as SHA-1 or MD5)",
                                 which(s), subj);
    case X509_V_ERR_INVALID_CA:
        return wasitls_error_set(
            err, E, "invalid CA: (%s) issued a certificate but is not marked as a CA", subj);
    default:
        return wasitls_error_set(err, E, "certificate verification failed for %s (%s): %s",
                                 which(s), subj, X509_verify_cert_error_string(s->verify_err));
    }
}

/* Builds the failure of a handshake/read/write step whose SSL_get_error was not a retry. */
static int failure(ossl_sess *s, bool handshaking, wasitls_error *err)
{
    char reason[256];
    unsigned long code;
    last_reason(reason, sizeof reason, &code);
    if (handshaking && !s->is_server && s->verify_err && SSL_get_verify_result(s->ssl) != X509_V_OK)
        return verify_error(s, err);
    int r = ERR_GET_REASON(code);
    if (s->alert_in) {
        int desc = s->alert_in & 0xff;
        if (handshaking && desc == TLS1_AD_PROTOCOL_VERSION)
            return wasitls_error_set(
                err, WASITLS_E_TLS_PROTOCOL,
                "protocol version mismatch: the peer sent alert 'protocol version' "
                "(this side allows %s to %s)",
                wasitls__tls_version_str(s->min_version ? s->min_version : 0x0303),
                wasitls__tls_version_str(s->max_version ? s->max_version : 0x0304));
        const char *hint = wasitls__tls_client_cert_hint(
            s->cert_requested, SSL_get_certificate(s->ssl) != NULL, desc);
        if (handshaking && desc == SSL3_AD_HANDSHAKE_FAILURE && !hint[0])
            return wasitls_error_set(
                err, WASITLS_E_TLS_ALERT,
                "the peer sent fatal alert 'handshake failure' during the handshake: it may "
                "require a client certificate, or accept none of the TLS versions or cipher "
                "suites offered (this side allows %s to %s)",
                wasitls__tls_version_str(s->min_version ? s->min_version : 0x0303),
                wasitls__tls_version_str(s->max_version ? s->max_version : 0x0304));
        return wasitls_error_set(err, WASITLS_E_TLS_ALERT, "the peer sent fatal alert '%s'%s%s",
                                 wasitls__tls_alert_name(desc),
                                 handshaking ? " during the handshake" : "", hint);
    }
    if (r == SSL_R_UNSUPPORTED_PROTOCOL || r == SSL_R_VERSION_TOO_LOW ||
        r == SSL_R_VERSION_TOO_HIGH || r == SSL_R_NO_PROTOCOLS_AVAILABLE ||
        r == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)
        return wasitls_error_set(
            err, WASITLS_E_TLS_PROTOCOL,
            "protocol version mismatch: %s (this side allows %s to %s)", reason,
            wasitls__tls_version_str(s->min_version ? s->min_version : 0x0303),
            wasitls__tls_version_str(s->max_version ? s->max_version : 0x0304));
    if (r == SSL_R_WRONG_VERSION_NUMBER || r == SSL_R_PACKET_LENGTH_TOO_LONG)
        return wasitls_error_set(err, WASITLS_E_TLS_PROTOCOL,
                                 "the peer does not speak TLS (%s): is this a TLS port?", reason);
    return wasitls_error_set(err, handshaking ? WASITLS_E_TLS_HANDSHAKE : WASITLS_E_TLS_PROTOCOL,
                             "%s%s",
                             handshaking ? "TLS handshake failed: " : "TLS error: ", reason);
}

/* With read-ahead, one pull takes as many records as this buffer holds (one read of the
 * underlying stream per several records, instead of two per record). */
#define READ_BUF_LEN (64 * 1024)

static int ossl_set_io(void *p, const wasitls__tls_io *io)
{
    ossl_sess *s = p;
    BIO *b = BIO_new(io_method);
    if (!b) return WASITLS_E_NOMEM;
    BIO_set_data(b, (void *)io);
    BIO_set_init(b, 1);
    s->io = io;
    SSL_set_bio(s->ssl, b, b); /* frees the memory BIOs; one reference serves both ways */
    s->rbio = s->wbio = NULL;
    SSL_set_read_ahead(s->ssl, 1);
    SSL_set_default_read_buffer_len(s->ssl, READ_BUF_LEN);
    return 0;
}

static void ossl_resume(void *p, const uint8_t *data, size_t len)
{
    ossl_sess *s = p;
    const unsigned char *q = data;
    SSL_SESSION *ss = len <= LONG_MAX ? d2i_SSL_SESSION(NULL, &q, (long)len) : NULL;
    if (ss) {
        SSL_set_session(s->ssl, ss); /* takes its own reference */
        SSL_SESSION_free(ss);
    }
    ERR_clear_error();
}

static bool ossl_resumed(void *p)
{
    return SSL_session_reused(((ossl_sess *)p)->ssl) == 1;
}

static int ossl_put_cipher(void *p, const uint8_t *buf, size_t len)
{
    ossl_sess *s = p;
    while (len > 0) {
        int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
        int n = BIO_write(s->rbio, buf, chunk);
        if (n <= 0) return WASITLS_E_NOMEM;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static size_t ossl_cipher_pending(void *p)
{
    ossl_sess *s = p;
    return BIO_ctrl_pending(s->wbio);
}

static size_t ossl_get_cipher(void *p, uint8_t *buf, size_t len)
{
    ossl_sess *s = p;
    int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
    int n = chunk > 0 ? BIO_read(s->wbio, buf, chunk) : 0;
    return n > 0 ? (size_t)n : 0;
}

static int ossl_handshake(void *p, wasitls_error *err)
{
    ossl_sess *s = p;
    ERR_clear_error();
    int r = SSL_do_handshake(s->ssl);
    if (r == 1) {
        /* A resumed TLS 1.2 session makes no new one, and stays resumable: saved again (the
         * core hands each saved session out once). */
        if (SSL_session_reused(s->ssl) && SSL_version(s->ssl) == TLS1_2_VERSION)
            save_session(s, SSL_get_session(s->ssl));
        return 0;
    }
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return WASITLS_E_AGAIN;
    return failure(s, true, err);
}

static int64_t ossl_read(void *p, uint8_t *buf, size_t len, wasitls_error *err)
{
    ossl_sess *s = p;
    size_t n = 0;
    ERR_clear_error();
    if (SSL_read_ex(s->ssl, buf, len, &n) == 1) return (int64_t)n;
    int e = SSL_get_error(s->ssl, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return WASITLS_E_AGAIN;
    if (e == SSL_ERROR_ZERO_RETURN) return WASITLS_E_CLOSED;
    return failure(s, false, err);
}

static int ossl_write(void *p, const uint8_t *buf, size_t len, wasitls_error *err)
{
    ossl_sess *s = p;
    while (len > 0) {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_write_ex(s->ssl, buf, len, &n) != 1) {
            int e = SSL_get_error(s->ssl, 0);
            if (e == SSL_ERROR_ZERO_RETURN)
                return wasitls_error_set(err, WASITLS_E_CLOSED, "the TLS connection is closed");
            return failure(s, false, err);
        }
        buf += n;
        len -= n;
    }
    return 0;
}

static int ossl_close_notify(void *p, wasitls_error *err)
{
    ossl_sess *s = p;
    ERR_clear_error();
    /* 0: our close_notify is queued and the peer's has not arrived; both are fine here. */
    int r = SSL_shutdown(s->ssl);
    if (r < 0) {
        int e = SSL_get_error(s->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return failure(s, false, err);
    }
    return 0;
}

static const char *ossl_version_name(void *p)
{
    ossl_sess *s = p;
    if (!SSL_is_init_finished(s->ssl)) return "";
    switch (SSL_version(s->ssl)) {
    case TLS1_3_VERSION:
        return "TLS 1.3";
    case TLS1_2_VERSION:
        return "TLS 1.2";
    default:
        return SSL_get_version(s->ssl);
    }
}

const wasitls__tls_backend wasitls__tls_openssl = {
    .version = WASITLS__TLS_BACKEND_VERSION,
    .name = "openssl",
    .is_available = ossl_available,
    .ctx_new = ossl_ctx_new,
    .server_ctx_new = ossl_server_ctx_new,
    .ctx_free = ossl_ctx_free,
    .client_new = ossl_client_new,
    .server_new = ossl_server_new,
    .sess_free = ossl_sess_free,
    .put_cipher = ossl_put_cipher,
    .cipher_pending = ossl_cipher_pending,
    .get_cipher = ossl_get_cipher,
    .handshake = ossl_handshake,
    .read = ossl_read,
    .write = ossl_write,
    .close_notify = ossl_close_notify,
    .version_name = ossl_version_name,
    .set_io = ossl_set_io,
    .resume = ossl_resume,
    .resumed = ossl_resumed,
};
