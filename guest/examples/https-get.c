/* https-get URL — fetches URL with HTTP/1.1 GET (Connection: close) over wasi:tls (https://)
 * or plain wasi:sockets TCP (http://) and writes the body to stdout.
 *
 * Exit status: 0 on a 2xx response, 1 on a connection, TLS or protocol failure (the host's error
 * text on stderr), 2 on any other status (the status line on stderr), 64 on bad usage.
 * Bodies: Content-Length, chunked, or delimited by the server closing (which, under TLS, must
 * be a close_notify: a cut connection is reported as truncation).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wasitls_guest.h"

#define EXIT_USAGE 64
#define MAX_HEADER (64 * 1024)

static const char *prog = "https-get";

static _Noreturn void fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    wasitls_exit(1);
}

static _Noreturn void fail_conn(void)
{
    fail("%s", wasitls_errmsg());
}

/* ---- URL --------------------------------------------------------------------------------- */

struct url {
    int tls;
    char host[256]; /* as in the URL: a name, an IPv4 literal or "[v6]" */
    unsigned port;
    const char *path; /* points into argv; "/" if the URL has none */
    char authority[300];
};

static int parse_url(const char *s, struct url *u)
{
    memset(u, 0, sizeof *u);
    if (strncasecmp(s, "https://", 8) == 0) {
        u->tls = 1;
        u->port = 443;
        s += 8;
    } else if (strncasecmp(s, "http://", 7) == 0) {
        u->port = 80;
        s += 7;
    } else {
        return -1;
    }
    const char *end = s + strcspn(s, "/?#");
    const char *at = memchr(s, '@', (size_t)(end - s));
    if (at != NULL) return -1; /* userinfo is not supported */
    const char *hend;
    if (*s == '[') {
        hend = memchr(s, ']', (size_t)(end - s));
        if (hend == NULL) return -1;
        hend++;
    } else {
        hend = memchr(s, ':', (size_t)(end - s));
        if (hend == NULL) hend = end;
    }
    size_t hlen = (size_t)(hend - s);
    if (hlen == 0 || hlen >= sizeof u->host) return -1;
    memcpy(u->host, s, hlen);
    if (hend < end) {
        if (*hend != ':' || hend + 1 == end) return -1;
        char *pend;
        errno = 0;
        unsigned long p = strtoul(hend + 1, &pend, 10);
        if (pend != end || p == 0 || p > 65535 || errno) return -1;
        u->port = (unsigned)p;
    }
    u->path = *end == '/' ? end : "/";
    if (*end == '?') /* "https://h?q" means path "/?q"; rare enough to refuse plainly */
        return -1;
    int dflt = u->port == (u->tls ? 443u : 80u);
    snprintf(u->authority, sizeof u->authority, dflt ? "%s" : "%s:%u", u->host, u->port);
    return 0;
}

/* ---- buffered reading -------------------------------------------------------------------- */

struct reader {
    wasitls_conn *c;
    size_t pos, len;
    int eof;
    unsigned char buf[64 * 1024];
};

static struct reader rd;

/* Makes at least one more byte available; 0 at end of stream. Failures exit. */
static int fill(void)
{
    if (rd.pos == rd.len) rd.pos = rd.len = 0;
    if (rd.len == sizeof rd.buf) {
        memmove(rd.buf, rd.buf + rd.pos, rd.len - rd.pos);
        rd.len -= rd.pos;
        rd.pos = 0;
    }
    ssize_t n = wasitls_read(rd.c, rd.buf + rd.len, sizeof rd.buf - rd.len);
    if (n == WASITLS_CLOSED) {
        rd.eof = 1;
        return 0;
    }
    if (n < 0) fail_conn();
    rd.len += (size_t)n;
    return 1;
}

/* Reads one line (CRLF or LF, stripped) into line; fails on end of stream or overlong lines. */
static void read_line(char *line, size_t size, const char *what)
{
    size_t n = 0;
    for (;;) {
        if (rd.pos == rd.len && !fill()) fail("connection closed while reading %s", what);
        unsigned char ch = rd.buf[rd.pos++];
        if (ch == '\n') break;
        if (n + 1 >= size) fail("%s too long", what);
        line[n++] = (char)ch;
    }
    if (n > 0 && line[n - 1] == '\r') n--;
    line[n] = 0;
}

static void out(const void *p, size_t n)
{
    if (n != 0 && fwrite(p, 1, n, stdout) != n) fail("cannot write to stdout%s", "");
}

/* Copies n bytes of body (or, with n < 0, everything up to the end of the stream) to stdout. */
static void copy_body(long long n)
{
    while (n != 0) {
        if (rd.pos == rd.len && !fill()) {
            if (n < 0) return;
            fail("connection closed before the end of the body%s", "");
        }
        size_t avail = rd.len - rd.pos;
        size_t take = n < 0 || (unsigned long long)n > avail ? avail : (size_t)n;
        out(rd.buf + rd.pos, take);
        rd.pos += take;
        if (n > 0) n -= (long long)take;
    }
}

static void copy_chunked(void)
{
    char line[1024];
    for (;;) {
        read_line(line, sizeof line, "a chunk size");
        char *end;
        errno = 0;
        unsigned long long size = strtoull(line, &end, 16);
        if (end == line || errno || (*end != 0 && *end != ';' && *end != ' ' && *end != '\t'))
            fail("bad chunk size line \"%s\"", line);
        if (size == 0) break;
        if (size > (1ull << 40)) fail("chunk size %s too large", line);
        copy_body((long long)size);
        read_line(line, sizeof line, "a chunk end");
        if (line[0] != 0) fail("missing CRLF after a chunk%s", "");
    }
    for (;;) { /* trailers, up to the empty line */
        read_line(line, sizeof line, "the trailer");
        if (line[0] == 0) break;
    }
}

/* ---- HTTP -------------------------------------------------------------------------------- */

struct response {
    int status;
    char status_line[512];
    long long content_length; /* -1: none */
    int chunked;
};

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    return s;
}

static void read_head(struct response *r)
{
    char line[8192];
    size_t total = 0;
    memset(r, 0, sizeof *r);
    r->content_length = -1;
    read_line(r->status_line, sizeof r->status_line, "the status line");
    int major, minor, status;
    if (sscanf(r->status_line, "HTTP/%d.%d %3d", &major, &minor, &status) != 3 || status < 100 ||
        status > 999)
        fail("not an HTTP response: \"%s\"", r->status_line);
    r->status = status;
    for (;;) {
        read_line(line, sizeof line, "a header");
        total += strlen(line) + 2;
        if (total > MAX_HEADER) fail("response header larger than %s", "64 KiB");
        if (line[0] == 0) break;
        char *colon = strchr(line, ':');
        if (colon == NULL) fail("bad header line \"%s\"", line);
        *colon = 0;
        char *name = trim(line), *value = trim(colon + 1);
        if (strcasecmp(name, "content-length") == 0) {
            char *end;
            errno = 0;
            long long n = strtoll(value, &end, 10);
            if (end == value || *end != 0 || n < 0 || errno)
                fail("bad Content-Length \"%s\"", value);
            r->content_length = n;
        } else if (strcasecmp(name, "transfer-encoding") == 0) {
            /* chunked must be the last coding; anything else in the list we cannot decode */
            size_t n = strlen(value);
            if (n >= 7 && strcasecmp(value + n - 7, "chunked") == 0) r->chunked = 1;
            if (strcasecmp(value, "chunked") != 0)
                fail("unsupported Transfer-Encoding \"%s\"", value);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s URL   (https://host[:port]/path or http://...)\n", prog);
        wasitls_exit(EXIT_USAGE);
    }
    struct url u;
    if (parse_url(argv[1], &u) != 0) {
        fprintf(stderr, "%s: bad URL \"%s\" (want https://host[:port]/path or http://...)\n", prog,
                argv[1]);
        wasitls_exit(EXIT_USAGE);
    }
    for (const char *p = u.path; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            fprintf(stderr, "%s: bad character in the URL's path\n", prog);
            wasitls_exit(EXIT_USAGE);
        }
    }

    int ret = u.tls ? wasitls_tls_connect(u.host, (uint16_t)u.port, NULL, &rd.c)
                    : wasitls_tcp_connect(u.host, (uint16_t)u.port, &rd.c);
    if (ret != WASITLS_OK) fail_conn();

    char req[4096];
    int len = snprintf(req, sizeof req,
                       "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: wasitls-https-get/0.1\r\n"
                       "Accept: */*\r\nConnection: close\r\n\r\n",
                       u.path, u.authority);
    if (len < 0 || (size_t)len >= sizeof req) fail("URL too long: %s", argv[1]);
    if (wasitls_write_all(rd.c, req, (size_t)len) != WASITLS_OK) fail_conn();

    struct response r;
    do { /* interim 1xx responses precede the real one */
        read_head(&r);
    } while (r.status >= 100 && r.status < 200 && r.status != 101);

    if (r.status < 200 || r.status > 299) {
        fprintf(stderr, "%s: %s\n", prog, r.status_line);
        wasitls_close(rd.c);
        wasitls_exit(2);
    }
    if (r.status == 204 || r.status == 304)
        ; /* no body */
    else if (r.chunked)
        copy_chunked();
    else if (r.content_length >= 0)
        copy_body(r.content_length);
    else
        copy_body(-1);

    if (fflush(stdout) != 0) fail("cannot write to stdout%s", "");
    wasitls_close(rd.c);
    return 0;
}
