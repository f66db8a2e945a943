/* TCP client over wasi:sockets (hand-lowered 0.2 imports): connects to ADDR PORT, sends SIZE
 * bytes of a known pattern while reading the echo back, all non-blocking on wasi:io/poll, and
 * checks every byte. Counts partial writes (check-write granting less than asked) and short
 * reads. On a socket error prints "socket error: <code>" and exits 3.
 *   s_client ADDR PORT SIZE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2.h"

/* FNV-1a, 64 bit: the driver compares it with the hash the echo server computed. */
static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)((i * 2654435761u) >> 13);
}

static _Noreturn void sock_fail(const char *what, int code)
{
    printf("socket error: %s (%s)\n", w2_sock_error_name(code), what);
    fflush(stdout);
    w2_exit(3);
}

static _Noreturn void stream_fail(const char *what, const struct w2_stream_error *e)
{
    if (e->tag == 1) {
        printf("stream closed during %s\n", what);
    } else {
        struct w2_list s;
        w2_error_to_debug_string(e->error, &s);
        printf("stream error during %s: %.*s\n", what, (int)s.len, (char *)s.ptr);
        w2_error_drop(e->error);
    }
    fflush(stdout);
    w2_exit(4);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: s_client ADDR PORT SIZE\n");
        w2_exit(2);
    }
    struct w2_sockaddr_mem addr;
    if (w2_parse_addr(argv[1], (uint16_t)atoi(argv[2]), &addr) != 0) {
        fprintf(stderr, "bad address %s\n", argv[1]);
        w2_exit(2);
    }
    uint64_t size = strtoull(argv[3], NULL, 10);
    h32 net = w2_instance_network();
    struct w2_ret_handle rh;
    w2_create_tcp_socket(addr.tag, &rh);
    if (rh.is_err) sock_fail("create-tcp-socket", rh.u.code);
    h32 sock = rh.u.ok;
    struct w2_ret_unit ru;
    w2_start_connect(sock, net, &addr, &ru);
    if (ru.is_err) sock_fail("start-connect", ru.code);
    struct w2_ret_streams rs;
    for (;;) {
        w2_tcp_finish_connect(sock, &rs);
        if (!rs.is_err) break;
        if (rs.u.code != 8 /* would-block */) sock_fail("finish-connect", rs.u.code);
        w2_wait(w2_tcp_subscribe(sock));
    }
    h32 in = rs.u.ok.in, out = rs.u.ok.out;

    enum { CHUNK = 256 * 1024 };
    static uint8_t buf[CHUNK];
    uint64_t sent = 0, recvd = 0, partial_writes = 0, short_reads = 0, polls = 0;
    uint64_t hash_sent = 14695981039346656037ull, hash_recv = hash_sent;
    int flushed = 0;
    while (recvd < size) {
        int progress = 0;
        if (sent < size) {
            struct w2_ret_u64 cw;
            w2_check_write(out, &cw);
            if (cw.is_err) stream_fail("check-write", &cw.u.err);
            uint64_t want = size - sent < CHUNK ? size - sent : CHUNK;
            uint64_t n = cw.u.ok < want ? cw.u.ok : want;
            if (n < want) partial_writes++;
            if (n) {
                for (uint64_t i = 0; i < n; i++)
                    buf[i] = pattern(sent + i);
                struct w2_ret_sunit wr;
                hash_sent = fnv(hash_sent, buf, (size_t)n);
                w2_write(out, buf, (uint32_t)n, &wr);
                if (wr.is_err) stream_fail("write", &wr.err);
                sent += n;
                progress = 1;
            }
        } else if (!flushed) {
            struct w2_ret_sunit fl;
            w2_flush(out, &fl);
            if (fl.is_err) stream_fail("flush", &fl.err);
            flushed = 1;
        }
        struct w2_ret_read rr;
        w2_read(in, CHUNK, &rr);
        if (rr.is_err) stream_fail("read", &rr.u.err);
        if (rr.u.ok.len) {
            const uint8_t *p = rr.u.ok.ptr;
            for (uint32_t i = 0; i < rr.u.ok.len; i++)
                if (p[i] != pattern(recvd + i)) {
                    printf("mismatch at byte %llu\n", (unsigned long long)(recvd + i));
                    w2_exit(5);
                }
            hash_recv = fnv(hash_recv, p, rr.u.ok.len);
            if (rr.u.ok.len < CHUNK) short_reads++;
            recvd += rr.u.ok.len;
            progress = 1;
        }
        free(rr.u.ok.ptr);
        if (!progress) {
            h32 ps[2];
            uint32_t np = 0;
            ps[np++] = w2_input_subscribe(in);
            if (sent < size) ps[np++] = w2_output_subscribe(out);
            struct w2_list ready;
            w2_poll(ps, np, &ready);
            free(ready.ptr);
            for (uint32_t i = 0; i < np; i++)
                w2_pollable_drop(ps[i]);
            polls++;
        }
    }
    struct w2_ret_unit sh;
    w2_tcp_shutdown(sock, 2, &sh);
    w2_input_drop(in);
    w2_output_drop(out);
    w2_tcp_drop(sock);
    w2_network_drop(net);
    if (hash_recv != hash_sent) {
        printf("hash mismatch\n");
        w2_exit(5);
    }
    printf("hash=%016llx\n", (unsigned long long)hash_sent);
    printf("echo ok: sent=%llu received=%llu partial_writes=%llu short_reads=%llu polls=%llu\n",
           (unsigned long long)sent, (unsigned long long)recvd, (unsigned long long)partial_writes,
           (unsigned long long)short_reads, (unsigned long long)polls);
    if (size >= (1u << 20) && (partial_writes == 0 || short_reads == 0)) {
        printf("expected partial writes and short reads on a transfer this large\n");
        w2_exit(6);
    }
    return 0;
}
