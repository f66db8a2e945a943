/* Runs the wasi layer's guest programs through `wasitls run` and checks what they do from the
 * outside: exit status, output, files left behind, bytes seen by loopback servers.
 *
 *   guest_driver CASE WASITLS [GUEST.wasm] [ARGS...]
 *
 * Each case is one ctest test. The driver raises its open-file limit (inherited by wasitls)
 * so that a thousand sockets fit. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_S 240

static const char *wasitls_bin, *guest;
static pid_t child = -1; /* the wasitls being run, killed if the driver gives up */

static _Noreturn void die(const char *fmt, ...)
{
    if (child > 0)
        kill(child, SIGKILL);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) die("%s:%d: %s", __FILE__, __LINE__, #c);                                        \
    } while (0)

/* ---- running a child ---- */

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        CHECK(b->p);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}

struct result {
    int status; /* exit code, or 128+signal */
    struct buf out, err;
    double secs;
};

/* Called whenever stdout grows; may act on what the guest printed. */
typedef void (*on_output)(struct buf *out, void *ctx);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run(const char *const *argv, const uint8_t *in, size_t inlen, struct result *r,
                on_output cb, void *ctx)
{
    int pi[2], po[2], pe[2];
    CHECK(pipe(pi) == 0 && pipe(po) == 0 && pipe(pe) == 0);
    double t0 = now_s();
    pid_t pid = fork();
    CHECK(pid >= 0);
    child = pid;
    if (pid == 0) {
        dup2(pi[0], 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        for (int fd = 3; fd < 64; fd++)
            close(fd);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pi[0]);
    close(po[1]);
    close(pe[1]);
    fcntl(pi[1], F_SETFL, O_NONBLOCK);
    memset(r, 0, sizeof *r);
    size_t off = 0;
    int fin = in ? pi[1] : -1;
    if (!in) close(pi[1]);
    int fo = po[0], fe = pe[0];
    char tmp[65536];
    while (fo >= 0 || fe >= 0) {
        struct pollfd p[3] = {{fin, POLLOUT, 0}, {fo, POLLIN, 0}, {fe, POLLIN, 0}};
        int pr = poll(p, 3, 1000);
        if (pr < 0 && errno != EINTR) die("poll: %s", strerror(errno));
        if (now_s() - t0 > TIMEOUT_S) {
            kill(pid, SIGKILL);
            die("%s timed out; stdout so far:\n%s\nstderr:\n%s", argv[0], r->out.p ? r->out.p : "",
                r->err.p ? r->err.p : "");
        }
        if (fin >= 0 && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(fin, in + off, inlen - off > 65536 ? 65536 : inlen - off);
            if (w > 0) off += (size_t)w;
            if (w < 0 && errno != EAGAIN) /* the guest stopped reading */
                off = inlen;
            if (off == inlen) {
                close(fin);
                fin = -1;
            }
        }
        if (fo >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(fo, tmp, sizeof tmp);
            if (n <= 0) {
                close(fo);
                fo = -1;
            } else {
                buf_add(&r->out, tmp, (size_t)n);
                if (cb) cb(&r->out, ctx);
            }
        }
        if (fe >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(fe, tmp, sizeof tmp);
            if (n <= 0) {
                close(fe);
                fe = -1;
            } else {
                buf_add(&r->err, tmp, (size_t)n);
            }
        }
    }
    if (fin >= 0) close(fin);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    child = -1;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r->secs = now_s() - t0;
    if (!r->out.p) buf_add(&r->out, "", 0);
    if (!r->err.p) buf_add(&r->err, "", 0);
}

static void expect(const struct result *r, int status, const char *out_has, const char *err_has)
{
    if (r->status != status || (out_has && !strstr(r->out.p, out_has)) ||
        (err_has && !strstr(r->err.p, err_has)))
        die("expected status %d%s%s%s%s, got %d\n--- stdout:\n%s\n--- stderr:\n%s", status,
            out_has ? ", stdout containing " : "", out_has ? out_has : "",
            err_has ? ", stderr containing " : "", err_has ? err_has : "", r->status, r->out.p,
            r->err.p);
}

static void free_result(struct result *r)
{
    free(r->out.p);
    free(r->err.p);
}

/* argv builder: wasitls run OPTS... GUEST ARGS... (NULL-terminated lists) */
static const char **cmd(const char *const *opts, const char *const *args)
{
    static const char *v[64];
    int n = 0;
    v[n++] = wasitls_bin;
    v[n++] = "run";
    /* WASITLS_TEST_TIER=opt runs the case on the optimizing tier */
    const char *tier = getenv("WASITLS_TEST_TIER");
    if (tier && *tier) {
        v[n++] = "--tier";
        v[n++] = tier;
    }
    for (; opts && *opts; opts++)
        v[n++] = *opts;
    v[n++] = guest;
    for (; args && *args; args++)
        v[n++] = *args;
    v[n] = NULL;
    return v;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- a loopback echo server (one thread, poll loop, any number of connections) ---- */

struct echo {
    int lfd, wake[2];
    uint16_t port;
    uint64_t in_bytes, out_bytes;
    uint64_t in_hash; /* FNV-1a 64 of every byte received (meaningful with one connection) */
    int accepted;
    pthread_t th;
};

struct econn {
    int fd;
    uint8_t buf[65536];
    size_t off, len;
    bool eof;
};

static void *echo_main(void *p)
{
    struct echo *e = p;
    size_t cap = 2048, n = 0;
    struct econn **cs = calloc(cap, sizeof *cs);
    struct pollfd *pf = calloc(cap + 2, sizeof *pf);
    CHECK(cs && pf);
    for (;;) {
        pf[0] = (struct pollfd){e->wake[0], POLLIN, 0};
        pf[1] = (struct pollfd){e->lfd, POLLIN, 0};
        for (size_t i = 0; i < n; i++)
            pf[2 + i] = (struct pollfd){cs[i]->fd, (short)(cs[i]->len ? POLLOUT : POLLIN), 0};
        if (poll(pf, n + 2, -1) < 0 && errno != EINTR) die("echo poll: %s", strerror(errno));
        if (pf[0].revents) break;
        if (pf[1].revents & POLLIN) {
            int fd;
            while ((fd = accept4(e->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                CHECK(n < cap);
                cs[n] = calloc(1, sizeof **cs);
                cs[n]->fd = fd;
                n++;
                __atomic_add_fetch(&e->accepted, 1, __ATOMIC_SEQ_CST);
            }
        }
        for (size_t i = 0; i < n; i++) {
            struct econn *c = cs[i];
            short re = pf[2 + i].revents;
            if (!re) continue;
            if (c->len == 0 && !c->eof) {
                ssize_t r = read(c->fd, c->buf, sizeof c->buf);
                if (r > 0) {
                    c->off = 0;
                    c->len = (size_t)r;
                    for (ssize_t k = 0; k < r; k++)
                        e->in_hash = (e->in_hash ^ c->buf[k]) * 1099511628211ull;
                    __atomic_add_fetch(&e->in_bytes, (uint64_t)r, __ATOMIC_SEQ_CST);
                } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    c->eof = true;
                }
            }
            if (c->len) {
                ssize_t w = send(c->fd, c->buf + c->off, c->len, MSG_NOSIGNAL);
                if (w > 0) {
                    c->off += (size_t)w;
                    c->len -= (size_t)w;
                    __atomic_add_fetch(&e->out_bytes, (uint64_t)w, __ATOMIC_SEQ_CST);
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    c->len = 0;
                    c->eof = true;
                }
            }
            if (c->eof && c->len == 0) {
                close(c->fd);
                free(c);
                cs[i] = cs[--n];
                pf[2 + i] = pf[2 + n];
                i--;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        close(cs[i]->fd);
        free(cs[i]);
    }
    free(cs);
    free(pf);
    return NULL;
}

static void echo_start(struct echo *e, int family)
{
    memset(e, 0, sizeof *e);
    e->in_hash = 14695981039346656037ull;
    e->lfd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(e->lfd >= 0);
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        sl = sizeof *a;
    }
    CHECK(bind(e->lfd, (struct sockaddr *)&ss, sl) == 0);
    CHECK(listen(e->lfd, 4096) == 0);
    CHECK(getsockname(e->lfd, (struct sockaddr *)&ss, &sl) == 0);
    e->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                      : ((struct sockaddr_in6 *)&ss)->sin6_port);
    CHECK(pipe(e->wake) == 0);
    CHECK(pthread_create(&e->th, NULL, echo_main, e) == 0);
}

static void echo_stop(struct echo *e)
{
    CHECK(write(e->wake[1], "x", 1) == 1);
    pthread_join(e->th, NULL);
    close(e->lfd);
    close(e->wake[0]);
    close(e->wake[1]);
}

/* A loopback port nobody listens on. */
static uint16_t closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof a;
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &sl) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- cases ---- */

static void c_args(void)
{
    struct result r;
    run(cmd(NULL, L("a", "b c", "", "ünï", "--dir", "-S")), NULL, 0, &r, NULL, NULL);
    expect(&r, 0, "argc=7\narg1=[a]\narg2=[b c]\narg3=[]\narg4=[ünï]\narg5=[--dir]\narg6=[-S]\n",
           NULL);
    free_result(&r);
}

static void c_env(void)
{
    setenv("WASITLS_PASSED", "through", 1);
    unsetenv("WASITLS_UNSET");
    struct result r;
    run(cmd(L("--env", "FOO=bar", "--env", "EMPTY=", "--env=WASITLS_PASSED", "--env",
              "WASITLS_UNSET", "--env", "EQ=a=b"),
            NULL),
        NULL, 0, &r, NULL, NULL);
    expect(&r, 0,
           "env[EMPTY=]\nenv[EQ=a=b]\nenv[FOO=bar]\nenv[WASITLS_PASSED=through]\ncount=4\nend\n",
           NULL);
    free_result(&r);
    /* nothing of the host's environment leaks by default */
    run(cmd(NULL, NULL), NULL, 0, &r, NULL, NULL);
    expect(&r, 0, "count=0\nend\n", NULL);
    free_result(&r);
}

static void c_exit(void)
{
    struct result r;
    run(cmd(NULL, L("0")), NULL, 0, &r, NULL, NULL);
    expect(&r, 0, NULL, NULL);
    free_result(&r);
    run(cmd(NULL, L("7")), NULL, 0, &r, NULL, NULL); /* preview1: failure collapses to 1 */
    expect(&r, 1, NULL, NULL);
    CHECK(!strstr(r.err.p, "error:"));
    free_result(&r);
    run(cmd(NULL, L("code", "42")), NULL, 0, &r, NULL, NULL);
    expect(&r, 42, "exit-with-code 42", NULL);
    CHECK(!strstr(r.err.p, "error:"));
    free_result(&r);
    run(cmd(NULL, L("code", "0")), NULL, 0, &r, NULL, NULL);
    expect(&r, 0, NULL, NULL);
    free_result(&r);
    run(cmd(NULL, L("err")), NULL, 0, &r, NULL, NULL);
    expect(&r, 1, NULL, "failing on purpose");
    free_result(&r);
    run(cmd(NULL, L("drop-parent")), NULL, 0, &r, NULL, NULL);
    if (r.status == 0 || !strstr(r.err.p, "error: ") || !strstr(r.err.p, "pollable") ||
        strstr(r.out.p, "still running"))
        die("drop-parent: expected a trap naming the pollable, got %d\n%s\n%s", r.status, r.out.p,
            r.err.p);
    free_result(&r);
    run(cmd(NULL, L("trap")), NULL, 0, &r, NULL, NULL);
    if (r.status == 0 || !strstr(r.err.p, "error: ") || !strstr(r.out.p, "about to trap"))
        die("trap: expected a non-zero status and `error: ...`, got %d\n%s\n%s", r.status, r.out.p,
            r.err.p);
    free_result(&r);
}

static void c_pipe(size_t size)
{
    uint8_t *data = malloc(size);
    CHECK(data);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data[i] = (uint8_t)x;
    }
    struct result r;
    run(cmd(NULL, NULL), data, size, &r, NULL, NULL);
    expect(&r, 0, NULL, "copied");
    if (r.out.len != size || memcmp(r.out.p, data, size) != 0)
        die("stdout differs from stdin: %zu bytes in, %zu out", size, r.out.len);
    fprintf(stderr, "piped %zu bytes through the guest in %.2f s\n", size, r.secs);
    free_result(&r);
    free(data);
}

static void c_clocks(void)
{
    struct result r;
    run(cmd(NULL, NULL), NULL, 0, &r, NULL, NULL);
    expect(&r, 0, "clocks and random ok", NULL);
    free_result(&r);
}

static char tmpdir_path[128];

static void rm_tmp(void)
{
    char c[256];
    snprintf(c, sizeof c, "rm -rf '%s'", tmpdir_path);
    if (system(c) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir_path);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char b[4096];
    size_t n = fread(b, 1, sizeof b - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

static void c_files(void)
{
    snprintf(tmpdir_path, sizeof tmpdir_path, "/tmp/wasitls-files-XXXXXX");
    CHECK(mkdtemp(tmpdir_path));
    atexit(rm_tmp);
    char root[256], out[256], p[512], q[512];
    snprintf(root, sizeof root, "%s/root", tmpdir_path);
    snprintf(out, sizeof out, "%s/outside", tmpdir_path);
    CHECK(mkdir(root, 0755) == 0 && mkdir(out, 0755) == 0);
    snprintf(p, sizeof p, "%s/secret", out);
    FILE *f = fopen(p, "w");
    CHECK(f && fputs("the secret\n", f) >= 0 && fclose(f) == 0);
    snprintf(q, sizeof q, "%s/link_out", root);
    CHECK(symlink("../outside", q) == 0);
    snprintf(q, sizeof q, "%s/abs_link", root);
    CHECK(symlink(p, q) == 0);
    char dir[600];
    snprintf(dir, sizeof dir, "%s::/data", root);
    struct result r;
    run(cmd(L("--dir", dir), NULL), NULL, 0, &r, NULL, NULL);
    expect(&r, 0, "files ok", NULL);
    free_result(&r);
    snprintf(p, sizeof p, "%s/sub/keep.txt", root);
    char *k = slurp(p);
    CHECK(k && strcmp(k, "kept by the guest\n") == 0);
    snprintf(p, sizeof p, "%s/secret", out);
    k = slurp(p);
    CHECK(k && strcmp(k, "the secret\n") == 0);
    const char *absent[] = {"outside/created",      "escaped",     "stolen", "root/evil",
                            "root/sub/renamed.txt", "root/new.txt"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir_path, absent[i]);
        if (access(p, F_OK) == 0) die("%s exists after the guest ran", p);
    }
    /* no --dir: nothing is reachable */
    run(cmd(NULL, NULL), NULL, 0, &r, NULL, NULL);
    if (r.status == 0) die("the file guest succeeded without a preopen");
    free_result(&r);
}

static void c_echo(int family, const char *addr, const char *size)
{
    struct echo e;
    echo_start(&e, family);
    char port[16];
    snprintf(port, sizeof port, "%u", e.port);
    struct result r;
    run(cmd(L("-S", "inherit-network"), L(addr, port, size)), NULL, 0, &r, NULL, NULL);
    echo_stop(&e);
    expect(&r, 0, "echo ok", NULL);
    uint64_t n = strtoull(size, NULL, 10);
    if (e.in_bytes != n || e.out_bytes != n)
        die("the server saw %llu bytes in, %llu out; expected %llu", (unsigned long long)e.in_bytes,
            (unsigned long long)e.out_bytes, (unsigned long long)n);
    char want[64];
    snprintf(want, sizeof want, "hash=%016llx\n", (unsigned long long)e.in_hash);
    if (!strstr(r.out.p, want))
        die("the server's hash of what it received (%s) is not the guest's:\n%s", want, r.out.p);
    fprintf(stderr, "%s", r.out.p);
    fprintf(stderr, "%llu bytes each way in %.2f s\n", (unsigned long long)n, r.secs);
    free_result(&r);
}

static void c_many(const char *n)
{
    struct echo e;
    echo_start(&e, AF_INET);
    char port[16];
    snprintf(port, sizeof port, "%u", e.port);
    struct result r;
    run(cmd(L("-S", "inherit-network"), L("127.0.0.1", port, n)), NULL, 0, &r, NULL, NULL);
    echo_stop(&e);
    expect(&r, 0, "many ok", NULL);
    CHECK(e.accepted == atoi(n));
    fprintf(stderr, "%s", r.out.p);
    free_result(&r);
}

struct srv_ctx {
    int family;
    bool started;
    pthread_t th;
    uint16_t port;
    char reply[256];
};

static void *srv_client(void *p)
{
    struct srv_ctx *s = p;
    int fd = socket(s->family, SOCK_STREAM, 0);
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (s->family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons(s->port);
        sl = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons(s->port);
        sl = sizeof *a;
    }
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(s->reply, sizeof s->reply, "connect: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    CHECK(write(fd, "world\n", 6) == 6);
    size_t got = 0;
    ssize_t n;
    while ((n = read(fd, s->reply + got, sizeof s->reply - 1 - got)) > 0)
        got += (size_t)n;
    s->reply[got] = 0;
    close(fd);
    return NULL;
}

static void srv_on_output(struct buf *out, void *ctx)
{
    struct srv_ctx *s = ctx;
    unsigned port;
    if (!s->started && sscanf(out->p, "port %u\n", &port) == 1 && strchr(out->p, '\n')) {
        s->port = (uint16_t)port;
        s->started = true;
        CHECK(pthread_create(&s->th, NULL, srv_client, s) == 0);
    }
}

static void c_server(int family, const char *addr)
{
    struct srv_ctx s = {.family = family};
    struct result r;
    run(cmd(L("-S", "inherit-network"), L(addr)), NULL, 0, &r, srv_on_output, &s);
    if (s.started) pthread_join(s.th, NULL);
    expect(&r, 0, "served world", NULL);
    if (strcmp(s.reply, "hello world\n") != 0) die("the host client got '%s'", s.reply);
    free_result(&r);
}

static void c_refused(void)
{
    char port[16];
    snprintf(port, sizeof port, "%u", closed_port());
    struct result r;
    run(cmd(L("-S", "inherit-network"), L("127.0.0.1", port, "10")), NULL, 0, &r, NULL, NULL);
    expect(&r, 3, "socket error: connection-refused", NULL);
    CHECK(!strstr(r.err.p, "error:"));
    free_result(&r);
}

static void c_denied(const char *lookup_guest)
{
    struct echo e;
    echo_start(&e, AF_INET);
    char port[16];
    snprintf(port, sizeof port, "%u", e.port);
    struct result r;
    run(cmd(NULL, L("127.0.0.1", port, "10")), NULL, 0, &r, NULL, NULL);
    expect(&r, 3, "socket error: access-denied", NULL);
    CHECK(!strstr(r.err.p, "error:")); /* reported by the guest, not a trap */
    free_result(&r);
    /* name lookup is its own grant */
    guest = lookup_guest;
    run(cmd(L("-S", "inherit-network"), L("localhost")), NULL, 0, &r, NULL, NULL);
    expect(&r, 3, "lookup error: access-denied", NULL);
    free_result(&r);
    echo_stop(&e);
    CHECK(e.accepted == 0);
}

static void c_lookup(void)
{
    struct result r;
    run(cmd(L("-S", "allow-ip-name-lookup"), L("localhost")), NULL, 0, &r, NULL, NULL);
    expect(&r, 0, "address", NULL);
    if (!strstr(r.out.p, "address 127.0.0.1\n") && !strstr(r.out.p, "address 0:0:0:0:0:0:0:1\n"))
        die("localhost did not resolve to a loopback address:\n%s", r.out.p);
    free_result(&r);
    run(cmd(L("-S", "allow-ip-name-lookup"), L("bad..name")), NULL, 0, &r, NULL, NULL);
    expect(&r, 3, "lookup error: invalid-argument", NULL);
    free_result(&r);
    /* offline machines answer within ~1 s instead of the resolver's default 5 s x 2 */
    setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
    run(cmd(L("-S", "allow-ip-name-lookup"), L("no-such-host.invalid")), NULL, 0, &r, NULL, NULL);
    if (!strstr(r.out.p, "lookup error: name-unresolvable") &&
        !strstr(r.out.p, "lookup error: temporary-resolver-failure"))
        die("no-such-host.invalid: %d\n%s\n%s", r.status, r.out.p, r.err.p);
    expect(&r, 3, NULL, NULL);
    free_result(&r);
}

static void c_udp(const char *addr)
{
    struct result r;
    run(cmd(L("-S", "inherit-network"), L(addr)), NULL, 0, &r, NULL, NULL);
    expect(&r, 0, "udp ok", NULL);
    free_result(&r);
    run(cmd(NULL, L(addr)), NULL, 0, &r, NULL, NULL);
    expect(&r, 3, "socket error: access-denied", NULL);
    free_result(&r);
}

/* A copy of a component with every "@0.2.12" (the WIT version it was built against) replaced
 * by "@" + ver (same length), as a guest built against another WASI 0.2.x would import. */
static char *with_version(const char *path, const char *ver)
{
    FILE *f = fopen(path, "rb");
    CHECK(f);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    CHECK(n > 0 && fseek(f, 0, SEEK_SET) == 0);
    char *b = malloc((size_t)n);
    CHECK(b && fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    CHECK(strlen(ver) == 6);
    int hits = 0;
    for (long i = 0; i + 7 <= n; i++)
        if (memcmp(b + i, "@0.2.12", 7) == 0) {
            memcpy(b + i + 1, ver, 6);
            hits++;
        }
    CHECK(hits > 0);
    static char out[256];
    snprintf(out, sizeof out, "/tmp/wasitls-semver-%d-%s.wasm", (int)getpid(), ver);
    f = fopen(out, "wb");
    CHECK(f && fwrite(b, 1, (size_t)n, f) == (size_t)n && fclose(f) == 0);
    free(b);
    return out;
}

/* Imports of any wasi:*@0.2.x are served by the host's 0.2.12; 0.3 is refused by name. */
static void c_semver(const char *client)
{
    const char *args_guest = guest;
    const char *vers[] = {"0.2.10", "0.2.99"};
    struct result r;
    for (int i = 0; i < 2; i++) {
        guest = with_version(args_guest, vers[i]);
        run(cmd(NULL, L("x")), NULL, 0, &r, NULL, NULL);
        unlink(guest);
        expect(&r, 0, "argc=2\narg1=[x]\n", NULL);
        free_result(&r);
    }
    guest = with_version(args_guest, "0.3.12");
    run(cmd(NULL, L("x")), NULL, 0, &r, NULL, NULL);
    unlink(guest);
    expect(&r, 1, NULL, "@0.3.12");
    free_result(&r);
    /* sockets through an older minor */
    guest = with_version(client, "0.2.10");
    struct echo e;
    echo_start(&e, AF_INET);
    char port[16];
    snprintf(port, sizeof port, "%u", e.port);
    run(cmd(L("-S", "inherit-network"), L("127.0.0.1", port, "100000")), NULL, 0, &r, NULL, NULL);
    unlink(guest);
    echo_stop(&e);
    expect(&r, 0, "echo ok", NULL);
    free_result(&r);
}

/* The CLI contract that needs no guest. */
static void c_cli(void)
{
    struct result r;
    const char *help[] = {wasitls_bin, "run", "--help", NULL};
    run(help, NULL, 0, &r, NULL, NULL);
    expect(&r, 0, "usage: wasitls run", NULL);
    const char *opts[] = {
        "-S tls",   "-S inherit-network", "-S allow-ip-name-lookup", "--dir", "--env", "--tier",
        "--tls-ca", "--tls-backend",      "--tls-handshake-timeout"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (!strstr(r.out.p, opts[i])) die("--help does not mention %s", opts[i]);
    free_result(&r);
    const char *unknown[] = {wasitls_bin, "run", "--dri", "x", "y.wasm", NULL};
    run(unknown, NULL, 0, &r, NULL, NULL);
    expect(&r, 2, NULL, "unknown option '--dri' (did you mean '--dir'?)");
    CHECK(strstr(r.err.p, "--help"));
    free_result(&r);
    const char *bad_s[] = {wasitls_bin, "run", "-S", "tls,inherit-netwrk", "y.wasm", NULL};
    run(bad_s, NULL, 0, &r, NULL, NULL);
    expect(&r, 2, NULL, "unknown -S value 'inherit-netwrk'");
    CHECK(strstr(r.err.p, "tls, inherit-network, allow-ip-name-lookup"));
    free_result(&r);
    const char *missing[] = {wasitls_bin, "run", NULL};
    run(missing, NULL, 0, &r, NULL, NULL);
    expect(&r, 2, NULL, "missing COMPONENT.wasm");
    free_result(&r);
    const char *nofile[] = {wasitls_bin, "run", "/nonexistent/x.wasm", NULL};
    run(nofile, NULL, 0, &r, NULL, NULL);
    expect(&r, 1, NULL, "error: cannot read /nonexistent/x.wasm");
    free_result(&r);
    const char *tier[] = {wasitls_bin, "run", "--tier", "slow", "x.wasm", NULL};
    run(tier, NULL, 0, &r, NULL, NULL);
    expect(&r, 2, NULL, "--tier is fast or opt");
    free_result(&r);
    const char *notwasm[] = {wasitls_bin, "run", "/etc/hostname", NULL};
    run(notwasm, NULL, 0, &r, NULL, NULL);
    if (r.status == 0 || !strstr(r.err.p, "error: "))
        die("a non-wasm file: expected `error: ...`, got %d: %s", r.status, r.err.p);
    free_result(&r);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: guest_driver CASE WASITLS [GUEST] [ARGS...]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    const char *c = argv[1];
    wasitls_bin = argv[2];
    guest = argc > 3 ? argv[3] : NULL;
    if (strcmp(c, "cli") == 0)
        c_cli();
    else if (!guest)
        die("case %s needs a guest", c);
    else if (strcmp(c, "args") == 0)
        c_args();
    else if (strcmp(c, "env") == 0)
        c_env();
    else if (strcmp(c, "exit") == 0)
        c_exit();
    else if (strcmp(c, "pipe") == 0 && argc > 4)
        c_pipe(strtoull(argv[4], NULL, 10));
    else if (strcmp(c, "clocks") == 0)
        c_clocks();
    else if (strcmp(c, "files") == 0)
        c_files();
    else if (strcmp(c, "echo4") == 0 && argc > 4)
        c_echo(AF_INET, "127.0.0.1", argv[4]);
    else if (strcmp(c, "echo6") == 0 && argc > 4)
        c_echo(AF_INET6, "::1", argv[4]);
    else if (strcmp(c, "many") == 0 && argc > 4)
        c_many(argv[4]);
    else if (strcmp(c, "server4") == 0)
        c_server(AF_INET, "127.0.0.1");
    else if (strcmp(c, "server6") == 0)
        c_server(AF_INET6, "::1");
    else if (strcmp(c, "refused") == 0)
        c_refused();
    else if (strcmp(c, "denied") == 0 && argc > 4)
        c_denied(argv[4]);
    else if (strcmp(c, "lookup") == 0)
        c_lookup();
    else if (strcmp(c, "semver") == 0 && argc > 4)
        c_semver(argv[4]);
    else if (strcmp(c, "udp4") == 0)
        c_udp("127.0.0.1");
    else if (strcmp(c, "udp6") == 0)
        c_udp("::1");
    else
        die("unknown case %s", c);
    return 0;
}
