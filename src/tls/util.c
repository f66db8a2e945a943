/* Small helpers shared by the TLS core and its backends. */
#include "backend.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void wasitls__tls_fmt_tm(char *buf, size_t len, const void *tm_utc)
{
    const struct tm *tm = tm_utc;
    if (!tm || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", tm) == 0)
        snprintf(buf, len, "(unknown date)");
}

bool wasitls__tls_is_ip(const char *s)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

int wasitls__tls_check_dns_name(const char *s, size_t len, wasitls_error *err)
{
    if (len == 0)
        return wasitls_error_set(err, WASITLS_E_INVAL, "invalid server name: it is empty");
    if (memchr(s, '\0', len))
        return wasitls_error_set(err, WASITLS_E_INVAL,
                                 "invalid server name: it contains a NUL character");
    if (len > 1 && s[len - 1] == '.') len--; /* an absolute name */
    if (len > 253)
        return wasitls_error_set(err, WASITLS_E_INVAL,
                                 "invalid server name: %zu characters (at most 253 allowed)", len);
    size_t label = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (label == 0)
                return wasitls_error_set(err, WASITLS_E_INVAL,
                                         "invalid server name '%.*s': empty label", (int)len, s);
            if (label > 63)
                return wasitls_error_set(err, WASITLS_E_INVAL,
                                         "invalid server name '%.*s': a label is longer than 63 "
                                         "characters",
                                         (int)len, s);
            if (s[i - label] == '-' || s[i - 1] == '-')
                return wasitls_error_set(err, WASITLS_E_INVAL,
                                         "invalid server name '%.*s': a label starts or ends with "
                                         "'-'",
                                         (int)len, s);
            label = 0;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok) {
            if (c >= 0x20 && c < 0x7f)
                return wasitls_error_set(err, WASITLS_E_INVAL,
                                         "invalid server name '%.*s': character '%c' is not "
                                         "allowed in a host name",
                                         (int)len, s, c);
            return wasitls_error_set(err, WASITLS_E_INVAL,
                                     "invalid server name: byte 0x%02x is not allowed in a host "
                                     "name (internationalised names must be given in their "
                                     "xn-- form)",
                                     c);
        }
        label++;
    }
    return 0;
}

const char *wasitls__tls_version_str(uint16_t v)
{
    switch (v) {
    case WASITLS_TLS_VERSION_1_2:
        return "TLS 1.2";
    case WASITLS_TLS_VERSION_1_3:
        return "TLS 1.3";
    default:
        return "an unsupported TLS version";
    }
}

const char *wasitls__tls_alert_name(int desc)
{
    /* RFC 8446 section 6 (and RFC 5246 for the ones TLS 1.3 dropped). */
    switch (desc) {
    case 0:
        return "close notify";
    case 10:
        return "unexpected message";
    case 20:
        return "bad record mac";
    case 21:
        return "decryption failed";
    case 22:
        return "record overflow";
    case 40:
        return "handshake failure";
    case 42:
        return "bad certificate";
    case 43:
        return "unsupported certificate";
    case 44:
        return "certificate revoked";
    case 45:
        return "certificate expired";
    case 46:
        return "certificate unknown";
    case 47:
        return "illegal parameter";
    case 48:
        return "unknown CA";
    case 49:
        return "access denied";
    case 50:
        return "decode error";
    case 51:
        return "decrypt error";
    case 70:
        return "protocol version";
    case 71:
        return "insufficient security";
    case 80:
        return "internal error";
    case 86:
        return "inappropriate fallback";
    case 90:
        return "user canceled";
    case 100:
        return "no renegotiation";
    case 109:
        return "missing extension";
    case 110:
        return "unsupported extension";
    case 112:
        return "unrecognized name";
    case 113:
        return "bad certificate status response";
    case 115:
        return "unknown PSK identity";
    case 116:
        return "certificate required";
    case 120:
        return "no application protocol";
    default:
        return "unknown alert";
    }
}

int wasitls__tls_check_env_trust(wasitls_error *err)
{
    const char *f = getenv("SSL_CERT_FILE"), *d = getenv("SSL_CERT_DIR");
    if (f && *f) {
        FILE *fp = fopen(f, "r");
        if (!fp) return wasitls_error_set(err, WASITLS_E_TLS_CONFIG, "SSL_CERT_FILE=%s: %m", f);
        fclose(fp);
    }
    if (d && *d) {
        /* OpenSSL takes a colon-separated list; each must be a directory. */
        char *copy = strdup(d), *save = NULL;
        if (!copy) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
        for (char *one = strtok_r(copy, ":", &save); one; one = strtok_r(NULL, ":", &save)) {
            DIR *dir = opendir(one);
            if (!dir) {
                /* the one at fault, and the whole list only when it has several */
                int r = strcmp(one, d) == 0
                            ? wasitls_error_set(err, WASITLS_E_TLS_CONFIG, "SSL_CERT_DIR=%s: %m", d)
                            : wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                                "SSL_CERT_DIR=%s: %s: %m", d, one);
                free(copy);
                return r;
            }
            closedir(dir);
        }
        free(copy);
    }
    return 0;
}

struct wasitls__keylog {
    FILE *f;
    pthread_mutex_t lock; /* contexts are shared by threads */
};

int wasitls__keylog_open(const char *path, const char *from, wasitls__keylog **out,
                         wasitls_error *err)
{
    *out = NULL;
    if (!path || !*path) return 0;
    wasitls__keylog *k = calloc(1, sizeof *k);
    if (!k) return wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    k->f = fopen(path, "a");
    if (!k->f) {
        int r = wasitls_error_set(err, WASITLS_E_TLS_CONFIG, "cannot open the key log '%s'%s: %m",
                                  path, from ? from : "");
        free(k);
        return r;
    }
    pthread_mutex_init(&k->lock, NULL);
    *out = k;
    return 0;
}

void wasitls__keylog_close(wasitls__keylog *k)
{
    if (!k) return;
    fclose(k->f);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

static void hex(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

void wasitls__keylog_write(wasitls__keylog *k, const char *label, const uint8_t *random,
                           size_t random_len, const uint8_t *secret, size_t secret_len)
{
    if (!k) return;
    pthread_mutex_lock(&k->lock);
    if (random) {
        fprintf(k->f, "%s ", label);
        hex(k->f, random, random_len);
        fputc(' ', k->f);
        hex(k->f, secret, secret_len);
        fputc('\n', k->f);
    } else {
        fprintf(k->f, "%s\n", label);
    }
    fflush(k->f);
    pthread_mutex_unlock(&k->lock);
}

const char *wasitls__tls_client_cert_hint(bool requested, bool have_cert, int desc)
{
    if (!requested) return "";
    if (!have_cert)
        return "; the server asked for a client certificate and none is configured "
               "(--tls-client-cert)";
    switch (desc) {
    case 40:  /* handshake failure */
    case 42:  /* bad certificate */
    case 43:  /* unsupported certificate */
    case 44:  /* certificate revoked */
    case 45:  /* certificate expired */
    case 46:  /* certificate unknown */
    case 48:  /* unknown CA */
    case 49:  /* access denied */
    case 116: /* certificate required */
        return "; the server asked for a client certificate and did not accept the one given";
    default:
        return "";
    }
}

int wasitls__tls_read_pem(const char *path, const char *what, char **out, wasitls_error *err)
{
    *out = NULL;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below) */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return wasitls_error_set(err, WASITLS_E_NOTFOUND, "cannot open the %s '%s': %m", what,
                                 path);
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) < 0)
        r = wasitls_error_set(err, WASITLS_E_IO, "cannot read the %s '%s': %m", what, path);
    else if (S_ISDIR(st.st_mode))
        r = wasitls_error_set(err, WASITLS_E_TLS_CONFIG, "the %s '%s' is a directory", what, path);
    else if (!S_ISREG(st.st_mode))
        r = wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                              "the %s '%s' is not a regular file (a device, FIFO or socket)",
                              what, path);
    else if (st.st_size == 0)
        r = wasitls_error_set(err, WASITLS_E_TLS_CONFIG, "the %s '%s' is empty", what, path);
    else if (st.st_size > WASITLS__TLS_PEM_MAX)
        r = wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                              "the %s '%s' is larger than %d MiB: that is no PEM file of "
                              "certificates or keys",
                              what, path, WASITLS__TLS_PEM_MAX >> 20);
    char *buf = r ? NULL : malloc((size_t)st.st_size + 1);
    if (!r && !buf) r = wasitls_error_set(err, WASITLS_E_NOMEM, "out of memory");
    size_t have = 0;
    while (!r && have < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            r = wasitls_error_set(err, WASITLS_E_IO, "cannot read the %s '%s': %s", what, path,
                                  n < 0 ? strerror(errno) : "it became shorter");
            break;
        }
        have += (size_t)n;
    }
    close(fd);
    if (r) {
        free(buf);
        return r;
    }
    buf[have] = '\0';
    if (!strstr(buf, "-----BEGIN ")) {
        free(buf);
        return wasitls_error_set(err, WASITLS_E_TLS_CONFIG,
                                 "the %s '%s' holds no PEM text (\"-----BEGIN ...\"); if it is "
                                 "DER, convert it (e.g. `openssl x509 -inform DER` for a "
                                 "certificate, `openssl pkey -inform DER` for a key)",
                                 what, path);
    }
    *out = buf;
    return 0;
}
