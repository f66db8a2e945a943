/* pg-starttls [-U USER] [-d DATABASE] [-n SERVER-NAME] HOST PORT QUERY
 *
 * A PostgreSQL client that upgrades its connection in place: it sends SSLRequest in clear, and
 * on the server's 'S' runs the TLS handshake over the same TCP connection (wasi:tls takes the
 * socket's streams), then speaks the v3 protocol over TLS: startup, authentication (trust, or a
 * cleartext password from PGPASSWORD), one simple query. Rows go to stdout, one per line,
 * columns separated by tabs, NULL as an empty field.
 *
 * Exit status: 0 on success; 1 on a connection, TLS or protocol failure or a refused login;
 * 2 if the server reports an error for the query; 64 on bad usage.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasitls_guest.h"

static const char *prog = "pg-starttls";
static wasitls_conn *conn;

static _Noreturn void die(int code, const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    wasitls_close(conn);
    wasitls_exit(code);
}

static _Noreturn void die_conn(void)
{
    die(1, "%s", wasitls_errmsg());
}

static _Noreturn void usage(void)
{
    fprintf(stderr, "usage: %s [-U USER] [-d DATABASE] [-n SERVER-NAME] HOST PORT QUERY\n", prog);
    wasitls_exit(64);
}

/* ---- messages ---------------------------------------------------------------------------- */

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (q == NULL) die(1, "out of memory%s", "");
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put32(struct buf *b, uint32_t v)
{
    unsigned char x[4] = {v >> 24, v >> 16, v >> 8, v};
    put(b, x, 4);
}

static void put_str(struct buf *b, const char *s)
{
    put(b, s, strlen(s) + 1);
}

/* Sends a message: type byte (0 for the untyped startup ones), length, body. */
static void send_msg(char type, const struct buf *body)
{
    struct buf m = {0};
    if (type) put(&m, &type, 1);
    put32(&m, (uint32_t)(4 + body->len));
    if (body->len) put(&m, body->p, body->len);
    if (wasitls_write_all(conn, m.p, m.len) != WASITLS_OK) die_conn();
    free(m.p);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

struct msg {
    char type;
    unsigned char *body;
    size_t len;
};

static void recv_msg(struct msg *m)
{
    unsigned char head[5];
    int ret = wasitls_read_full(conn, head, 5);
    if (ret == WASITLS_CLOSED) die(1, "server closed the connection%s", "");
    if (ret != WASITLS_OK) die_conn();
    uint32_t len = get32(head + 1);
    if (len < 4 || len > (64u << 20)) die(1, "bad message length from the server%s", "");
    free(m->body);
    m->type = (char)head[0];
    m->len = len - 4;
    m->body = malloc(m->len + 1);
    if (m->body == NULL) die(1, "out of memory%s", "");
    if (m->len && (ret = wasitls_read_full(conn, m->body, m->len)) != WASITLS_OK)
        ret == WASITLS_CLOSED ? die(1, "server closed the connection%s", "") : die_conn();
    m->body[m->len] = 0;
}

/* ErrorResponse / NoticeResponse: fields of (code byte, string) up to a 0 byte. */
static void print_fields(const struct msg *m, const char *what)
{
    const char *severity = "", *text = "", *detail = NULL;
    size_t i = 0;
    while (i < m->len && m->body[i] != 0) {
        char code = (char)m->body[i++];
        const char *s = (const char *)m->body + i;
        i += strnlen(s, m->len - i) + 1;
        if (code == 'S')
            severity = s;
        else if (code == 'M')
            text = s;
        else if (code == 'D')
            detail = s;
    }
    fprintf(stderr, "%s: %s %s: %s\n", prog, what, severity, text);
    if (detail) fprintf(stderr, "%s: DETAIL: %s\n", prog, detail);
}

/* ---- protocol ---------------------------------------------------------------------------- */

static void start_tls(const char *server_name)
{
    /* SSLRequest: length 8, code 1234.5679 */
    struct buf b = {0};
    put32(&b, 80877103);
    send_msg(0, &b);
    free(b.p);
    unsigned char answer;
    int ret = wasitls_read_full(conn, &answer, 1);
    if (ret != WASITLS_OK)
        ret == WASITLS_CLOSED ? die(1, "server closed the connection%s", "") : die_conn();
    if (answer == 'N') die(1, "the server does not accept TLS (ssl = off)%s", "");
    if (answer != 'S') die(1, "unexpected answer to SSLRequest%s", "");
    /* Nothing more may have arrived in clear: the server waits for our ClientHello. */
    if (wasitls_tls_handshake(conn, server_name) != WASITLS_OK) die_conn();
}

static void login(const char *user, const char *db)
{
    struct buf b = {0};
    put32(&b, 196608); /* protocol 3.0 */
    put_str(&b, "user");
    put_str(&b, user);
    put_str(&b, "database");
    put_str(&b, db);
    put_str(&b, "application_name");
    put_str(&b, prog);
    put(&b, "", 1);
    send_msg(0, &b);
    free(b.p);

    struct msg m = {0};
    for (;;) {
        recv_msg(&m);
        switch (m.type) {
        case 'R': {
            if (m.len < 4) die(1, "short authentication message%s", "");
            uint32_t kind = get32(m.body);
            if (kind == 0) break; /* AuthenticationOk */
            if (kind == 3) {      /* cleartext password: safe here, the channel is TLS */
                const char *pw = getenv("PGPASSWORD");
                if (pw == NULL) die(1, "the server wants a password; set PGPASSWORD%s", "");
                struct buf p = {0};
                put_str(&p, pw);
                send_msg('p', &p);
                free(p.p);
                break;
            }
            char k[16];
            snprintf(k, sizeof k, "%u", (unsigned)kind);
            die(1, "unsupported authentication method %s (use trust or password)", k);
        }
        case 'E':
            print_fields(&m, "login failed:");
            die(1, "%s", "giving up");
        case 'N':
            print_fields(&m, "notice:");
            break;
        case 'Z':
            free(m.body);
            return; /* ReadyForQuery */
        default:
            break; /* ParameterStatus, BackendKeyData, ... */
        }
    }
}

static int query(const char *sql)
{
    struct buf b = {0};
    put_str(&b, sql);
    send_msg('Q', &b);
    free(b.p);

    int status = 0;
    struct msg m = {0};
    for (;;) {
        recv_msg(&m);
        switch (m.type) {
        case 'D': { /* DataRow: int16 count, then (int32 length or -1, bytes) each */
            if (m.len < 2) die(1, "short DataRow%s", "");
            uint16_t cols = get16(m.body);
            size_t at = 2;
            for (uint16_t c = 0; c < cols; c++) {
                if (at + 4 > m.len) die(1, "short DataRow%s", "");
                int32_t len = (int32_t)get32(m.body + at);
                at += 4;
                if (c) fputc('\t', stdout);
                if (len < 0) continue;
                if ((size_t)len > m.len - at) die(1, "short DataRow%s", "");
                fwrite(m.body + at, 1, (size_t)len, stdout);
                at += (size_t)len;
            }
            fputc('\n', stdout);
            break;
        }
        case 'E':
            print_fields(&m, "query failed:");
            status = 2;
            break;
        case 'N':
            print_fields(&m, "notice:");
            break;
        case 'Z':
            free(m.body);
            return status;
        default:
            break; /* RowDescription, CommandComplete, EmptyQueryResponse */
        }
    }
}

int main(int argc, char **argv)
{
    const char *user = "postgres", *db = NULL, *server_name = NULL;
    int i = 1;
    while (i < argc && argv[i][0] == '-' && argv[i][1] != 0) {
        if (i + 1 >= argc) usage();
        if (strcmp(argv[i], "-U") == 0)
            user = argv[i + 1];
        else if (strcmp(argv[i], "-d") == 0)
            db = argv[i + 1];
        else if (strcmp(argv[i], "-n") == 0)
            server_name = argv[i + 1];
        else
            usage();
        i += 2;
    }
    if (argc - i != 3) usage();
    const char *host = argv[i];
    char *end;
    errno = 0;
    unsigned long port = strtoul(argv[i + 1], &end, 10);
    if (*end != 0 || port == 0 || port > 65535 || errno) usage();
    const char *sql = argv[i + 2];
    if (db == NULL) db = user;
    if (server_name == NULL) server_name = host;

    if (wasitls_tcp_connect(host, (uint16_t)port, &conn) != WASITLS_OK) die_conn();
    start_tls(server_name);
    login(user, db);
    int status = query(sql);

    struct buf none = {0};
    send_msg('X', &none); /* Terminate */
    (void)wasitls_close_output(conn);
    if (fflush(stdout) != 0) die(1, "cannot write to stdout%s", "");
    wasitls_close(conn);
    wasitls_exit(status);
}
