#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void on_alarm(int sig);

int tt_main(int argc, char **argv, const tt_case *cases, size_t n)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s BACKEND CASE\ncases:", argv[0]);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %s", cases[i].name);
        fputc('\n', stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Below every ctest TIMEOUT of this suite, so the servers are stopped by us. */
    const char *lim = getenv("WASITLS_TEST_LIMIT");
    signal(SIGALRM, on_alarm);
    alarm(lim ? (unsigned)atoi(lim) : 50);
    if (!wasitls_tls_backend_available(argv[1])) {
        fprintf(stderr, "backend '%s' is not compiled in or not usable\n", argv[1]);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(cases[i].name, argv[2]) == 0) {
            int r = cases[i].fn(argv[1]);
            fprintf(stderr, "%s [%s]: %s\n", argv[2], argv[1], r ? "FAILED" : "ok");
            return r ? 1 : 0;
        }
    fprintf(stderr, "unknown case %s\n", argv[2]);
    return 2;
}

const char *tt_pki(const char *file)
{
    static char bufs[8][PATH_MAX];
    static int slot;
    const char *dir = getenv("WASITLS_TEST_PKI");
    if (!dir) {
        fprintf(stderr, "WASITLS_TEST_PKI is not set (run through ctest)\n");
        exit(2);
    }
    char *b = bufs[slot++ & 7];
    snprintf(b, PATH_MAX, "%s/%s", dir, file);
    return b;
}

wasitls_tls_ctx *tt_ctx(const char *backend, const char *const *extra_ca, uint32_t timeout_ms,
                        uint16_t min_v, uint16_t max_v)
{
    return tt_ctx_client(backend, extra_ca, timeout_ms, min_v, max_v, NULL, NULL);
}

void tt_config(wasitls_tls_config *cfg, const char *backend, const char **ca)
{
    *ca = tt_pki("root.pem");
    wasitls_tls_config_init(cfg);
    cfg->backend = backend;
    cfg->ca_files = ca;
    cfg->n_ca_files = 1;
    cfg->no_system_trust = true;
}

static bool no_resume;

wasitls_tls_ctx *tt_ctx_resume(const char *backend, bool resume)
{
    no_resume = !resume;
    wasitls_tls_ctx *ctx = tt_ctx(backend, NULL, 0, 0, 0);
    no_resume = false;
    return ctx;
}

wasitls_tls_ctx *tt_ctx_client(const char *backend, const char *const *extra_ca,
                               uint32_t timeout_ms, uint16_t min_v, uint16_t max_v,
                               const char *cert, const char *key)
{
    const char *cas[8];
    size_t n = 0;
    cas[n++] = tt_pki("root.pem");
    for (size_t i = 0; extra_ca && extra_ca[i] && n < 8; i++)
        cas[n++] = extra_ca[i];
    wasitls_tls_config cfg;
    wasitls_tls_config_init(&cfg);
    cfg.backend = backend;
    cfg.ca_files = cas;
    cfg.n_ca_files = n;
    cfg.no_system_trust = true;
    cfg.handshake_timeout_ms = timeout_ms;
    cfg.min_version = min_v;
    cfg.max_version = max_v;
    cfg.client_cert_file = cert;
    cfg.client_key_file = key;
    cfg.no_session_resumption = no_resume;
    wasitls_tls_ctx *ctx;
    wasitls_error err;
    if (wasitls_tls_ctx_new(&cfg, &ctx, &err) < 0) {
        fprintf(stderr, "tls ctx: %s\n", err.msg);
        exit(1);
    }
    return ctx;
}

/* ---- pipes ---- */

tt_pipe *tt_pipe_new(size_t limit)
{
    tt_pipe *p = calloc(1, sizeof *p);
    p->limit = limit;
    p->refs = 1;
    return p;
}

void tt_pipe_unref(tt_pipe *p)
{
    if (p && --p->refs == 0) {
        free(p->buf);
        free(p);
    }
}

size_t tt_pipe_take(tt_pipe *p, uint8_t *buf, size_t len)
{
    size_t k = p->len < len ? p->len : len;
    if (k == 0) return 0;
    memcpy(buf, p->buf, k);
    memmove(p->buf, p->buf + k, p->len - k);
    p->len -= k;
    return k;
}

void tt_pipe_put(tt_pipe *p, const uint8_t *buf, size_t len)
{
    if (len == 0) return;
    if (p->len + len > p->cap) {
        p->cap = (p->len + len) * 2 + 64;
        p->buf = realloc(p->buf, p->cap);
    }
    memcpy(p->buf + p->len, buf, len);
    p->len += len;
}

typedef struct {
    wasitls_istream base;
    tt_pipe *p;
} pipe_in;
typedef struct {
    wasitls_ostream base;
    tt_pipe *p;
} pipe_out;

static int64_t pi_read(wasitls_istream *s, uint8_t *buf, size_t len, wasitls_ioerr **err)
{
    tt_pipe *p = ((pipe_in *)s)->p;
    if (p->len == 0) return p->eof ? WASITLS_E_CLOSED : 0;
    return (int64_t)tt_pipe_take(p, buf, len);
}
static bool pi_ready(wasitls_istream *s)
{
    tt_pipe *p = ((pipe_in *)s)->p;
    return p->len > 0 || p->eof;
}
static void any_wait(wasitls_waitset *ws)
{
    /* Pipes are driven by hand: make a blocking wait return at once (after a short nap so
     * that a test stuck in one spins slowly until its timeout). */
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
    wasitls_waitset_now(ws);
}
static void pi_wait(wasitls_istream *s, wasitls_waitset *ws)
{
    any_wait(ws);
}
static void pi_destroy(wasitls_istream *s)
{
    tt_pipe *p = ((pipe_in *)s)->p;
    p->broken = true;
    tt_pipe_unref(p);
    free(s);
}
static const wasitls_istream_ops pi_ops = {WASITLS_IO_OPS_VERSION, pi_read, pi_ready, pi_wait,
                                           pi_destroy};

static int64_t po_check(wasitls_ostream *s, wasitls_ioerr **err)
{
    tt_pipe *p = ((pipe_out *)s)->p;
    if (p->broken) return WASITLS_E_CLOSED;
    if (!p->limit) return 1 << 20;
    return p->len >= p->limit ? 0 : (int64_t)(p->limit - p->len);
}
static int po_write(wasitls_ostream *s, const uint8_t *buf, size_t len, wasitls_ioerr **err)
{
    tt_pipe *p = ((pipe_out *)s)->p;
    if (p->broken) return WASITLS_E_CLOSED;
    if (p->limit && len > (p->len >= p->limit ? 0 : p->limit - p->len))
        return WASITLS_E_INVAL; /* more than check-write granted */
    if (len) p->writes++, p->last_write = len;
    tt_pipe_put(p, buf, len);
    return 0;
}
static int po_flush(wasitls_ostream *s, wasitls_ioerr **err)
{
    return 0;
}
static bool po_ready(wasitls_ostream *s)
{
    return po_check(s, NULL) != 0;
}
static void po_wait(wasitls_ostream *s, wasitls_waitset *ws)
{
    any_wait(ws);
}
static void po_destroy(wasitls_ostream *s)
{
    tt_pipe *p = ((pipe_out *)s)->p;
    p->eof = true;
    tt_pipe_unref(p);
    free(s);
}
static const wasitls_ostream_ops po_ops = {
    WASITLS_IO_OPS_VERSION, po_check, po_write, po_flush, po_ready, po_wait, po_destroy};

wasitls_istream *tt_pipe_istream(tt_pipe *p)
{
    pipe_in *s = calloc(1, sizeof *s);
    s->base.ops = &pi_ops;
    s->p = p;
    p->refs++;
    return &s->base;
}

wasitls_ostream *tt_pipe_ostream(tt_pipe *p)
{
    pipe_out *s = calloc(1, sizeof *s);
    s->base.ops = &po_ops;
    s->p = p;
    p->refs++;
    return &s->base;
}

/* ---- processes and sockets ---- */

/* Servers this process started: killed if the test runs out of time, and (PDEATHSIG) if the
 * test process dies however it dies, so no server outlives its test. */
static pid_t spawned[64];

static void forget(pid_t pid)
{
    for (size_t i = 0; i < sizeof spawned / sizeof spawned[0]; i++)
        if (spawned[i] == pid) spawned[i] = 0;
}

static void on_alarm(int sig)
{
    static const char m[] = "test timed out (internal limit); stopping its servers\n";
    (void)!write(2, m, sizeof m - 1);
    for (size_t i = 0; i < sizeof spawned / sizeof spawned[0]; i++)
        if (spawned[i] > 0) kill(spawned[i], SIGKILL);
    _exit(1);
}

pid_t tt_spawn(char *const argv[], int out_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(out_fd >= 0 ? out_fd : null, 1);
        if (out_fd < 0) dup2(null, 2);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv);
        _exit(127);
    }
    for (size_t i = 0; i < sizeof spawned / sizeof spawned[0]; i++)
        if (spawned[i] == 0) {
            spawned[i] = pid;
            break;
        }
    return pid;
}

int tt_spawn_server(tt_server *s, char *const argv[], const char *marker)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) return -1;
    s->pid = tt_spawn(argv, pfd[1]);
    close(pfd[1]);
    if (s->pid < 0) {
        close(pfd[0]);
        fprintf(stderr, "cannot start %s\n", argv[0]);
        return -1;
    }
    s->out_fd = pfd[0];
    char line[512];
    size_t len = 0;
    for (;;) {
        struct pollfd p = {pfd[0], POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0) break;
        ssize_t n = read(pfd[0], line + len, 1);
        if (n <= 0) break;
        if (line[len] == '\n' || len + 2 >= sizeof line) {
            line[len] = '\0';
            char *m = strstr(line, marker);
            if (m) {
                s->port = atoi(m + strlen(marker));
                return 0;
            }
            len = 0;
            continue;
        }
        len++;
    }
    fprintf(stderr, "%s did not report its port\n", argv[0]);
    tt_stop_server(s);
    return -1;
}

void tt_stop_server(tt_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        forget(s->pid);
        s->pid = 0;
    }
    if (s->out_fd > 0) close(s->out_fd);
    s->out_fd = -1;
}

int tt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

int tt_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

const char *tt_bindir(void)
{
    static char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) return ".";
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    return dir;
}

int tt_tls_connect(wasitls_tls_ctx *ctx, int port, const char *name, wasitls_tls_conn **out)
{
    int fd = tt_connect(port);
    if (fd < 0) return WASITLS_E_IO;
    int fd2 = dup(fd);
    wasitls_istream *in = wasitls_istream_fd(fd, false);
    wasitls_ostream *os = wasitls_ostream_fd(fd2, false);
    if (!in || !os) return WASITLS_E_NOMEM;
    return wasitls_tls_client_new(ctx, name, strlen(name), in, os, out);
}

int tt_handshake(wasitls_tls_conn *c, const char **msg)
{
    static char text[1024];
    wasitls_pollable *p = wasitls_tls_conn_subscribe(c, NULL);
    int r = wasitls_pollable_block(p);
    wasitls_pollable_free(p);
    if (r < 0) return r;
    wasitls_ioerr *e = NULL;
    r = wasitls_tls_conn_handshake(c, &e);
    text[0] = '\0';
    if (e) {
        snprintf(text, sizeof text, "%s", wasitls_ioerr_message(e));
        wasitls_ioerr_free(e);
    }
    if (msg) *msg = text;
    return r;
}

size_t tt_read_some(wasitls_istream *in, uint8_t *buf, size_t want, int *end, const char **msg)
{
    static char text[1024];
    size_t got = 0;
    *end = 0;
    text[0] = '\0';
    if (msg) *msg = text;
    while (got < want) {
        wasitls_ioerr *e = NULL;
        int64_t n = wasitls_istream_read_blocking(in, buf + got, want - got, &e);
        if (e) {
            snprintf(text, sizeof text, "%s", wasitls_ioerr_message(e));
            wasitls_ioerr_free(e);
        }
        if (n < 0) {
            *end = (int)n;
            break;
        }
        got += (size_t)n;
    }
    return got;
}

int tt_write_flush(wasitls_ostream *out, const void *buf, size_t len, const char **msg)
{
    static char text[1024];
    wasitls_ioerr *e = NULL;
    int r = wasitls_ostream_write_all(out, buf, len, &e);
    if (r == 0) r = wasitls_ostream_flush_blocking(out, &e);
    text[0] = '\0';
    if (e) {
        snprintf(text, sizeof text, "%s", wasitls_ioerr_message(e));
        wasitls_ioerr_free(e);
    }
    if (msg) *msg = text;
    return r;
}
