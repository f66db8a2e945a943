/* parallel-get [-plain] HOST PORT PATH N — N HTTP/1.1 GETs at once, every step non-blocking:
 * connect, TLS handshake, request, response, all driven by one wasitls_poll loop. Checks that
 * each response starts with "HTTP/1.x 200" and that all have the same length, then prints
 * "N responses of L bytes". Exit 0 on success, 1 on any failure, 64 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasitls_guest.h"

enum phase { CONNECTING, HANDSHAKING, SENDING, RECEIVING, DONE };

struct job {
    wasitls_conn *c;
    enum phase phase;
    size_t sent;
    size_t received;
    char head[16];
};

static char request[1024];
static size_t request_len;
static const char *host;
static int plain;

static _Noreturn void fail(int i, const char *what)
{
    fprintf(stderr, "parallel-get: connection %d: %s: %s\n", i, what, wasitls_errmsg());
    wasitls_exit(1);
}

/* One step of job i after its connection reported readiness. */
static void step(struct job *j, int i)
{
    int ret;
    switch (j->phase) {
    case CONNECTING:
        if ((ret = wasitls_conn_advance(j->c)) == WASITLS_AGAIN) return;
        if (ret != WASITLS_OK) fail(i, "connect");
        if (plain) {
            j->phase = SENDING;
            return;
        }
        if (wasitls_tls_start(j->c, host) != WASITLS_OK) fail(i, "TLS start");
        j->phase = HANDSHAKING;
        return;
    case HANDSHAKING:
        if ((ret = wasitls_conn_advance(j->c)) == WASITLS_AGAIN) return;
        if (ret != WASITLS_OK) fail(i, "handshake");
        j->phase = SENDING;
        return;
    case SENDING: {
        ssize_t n = wasitls_try_write(j->c, request + j->sent, request_len - j->sent);
        if (n == WASITLS_AGAIN) return;
        if (n < 0) fail(i, "write");
        j->sent += (size_t)n;
        if (j->sent == request_len) {
            if (wasitls_try_flush(j->c) != WASITLS_OK) fail(i, "flush");
            j->phase = RECEIVING;
        }
        return;
    }
    case RECEIVING:
        for (;;) {
            char buf[16384];
            ssize_t n = wasitls_try_read(j->c, buf, sizeof buf);
            if (n == WASITLS_AGAIN) return;
            if (n == WASITLS_CLOSED) {
                j->phase = DONE;
                wasitls_close(j->c);
                j->c = NULL;
                return;
            }
            if (n < 0) fail(i, "read");
            if (j->received < sizeof j->head - 1) {
                size_t take = sizeof j->head - 1 - j->received;
                memcpy(j->head + j->received, buf, (size_t)n < take ? (size_t)n : take);
            }
            j->received += (size_t)n;
        }
    case DONE:
        return;
    }
}

int main(int argc, char **argv)
{
    int a = 1;
    if (a < argc && strcmp(argv[a], "-plain") == 0) plain = 1, a++;
    if (argc - a != 4) {
        fprintf(stderr, "usage: parallel-get [-plain] HOST PORT PATH N\n");
        wasitls_exit(64);
    }
    host = argv[a];
    int port = atoi(argv[a + 1]);
    const char *path = argv[a + 2];
    int n = atoi(argv[a + 3]);
    if (port <= 0 || port > 65535 || n <= 0 || n > 10000) wasitls_exit(64);
    request_len =
        (size_t)snprintf(request, sizeof request,
                         "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);

    struct wasitls_addr addr;
    size_t naddr;
    if (wasitls_resolve(host, (uint16_t)port, &addr, 1, &naddr) != WASITLS_OK) fail(-1, "resolve");

    struct job *jobs = calloc((size_t)n, sizeof *jobs);
    struct wasitls_pollitem *items = calloc((size_t)n, sizeof *items);
    int *index = calloc((size_t)n, sizeof *index);
    if (jobs == NULL || items == NULL || index == NULL) wasitls_exit(1);
    for (int i = 0; i < n; i++) {
        int ret = wasitls_tcp_connect_start(&addr, &jobs[i].c);
        if (ret != WASITLS_OK && ret != WASITLS_AGAIN) fail(i, "connect");
        jobs[i].phase = CONNECTING;
        step(&jobs[i], i); /* the connect may already be done */
    }

    for (;;) {
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (jobs[i].phase == DONE) continue;
            items[k].conn = jobs[i].c;
            items[k].events = jobs[i].phase == SENDING ? WASITLS_POLLOUT : WASITLS_POLLIN;
            index[k++] = i;
        }
        if (k == 0) break;
        int ready = wasitls_poll(items, (size_t)k, 30000);
        if (ready < 0) fail(-1, "poll");
        if (ready == 0) {
            fprintf(stderr, "parallel-get: nothing happened for 30 s (%d pending)\n", k);
            wasitls_exit(1);
        }
        for (int m = 0; m < k; m++) {
            if (items[m].revents) step(&jobs[index[m]], index[m]);
        }
    }

    for (int i = 0; i < n; i++) {
        if (strncmp(jobs[i].head, "HTTP/1.", 7) != 0 || strncmp(jobs[i].head + 8, " 200", 4) != 0) {
            fprintf(stderr, "parallel-get: connection %d: response starts \"%s\"\n", i,
                    jobs[i].head);
            wasitls_exit(1);
        }
        if (jobs[i].received != jobs[0].received) {
            fprintf(stderr, "parallel-get: connection %d: %zu bytes, connection 0: %zu\n", i,
                    jobs[i].received, jobs[0].received);
            wasitls_exit(1);
        }
    }
    printf("%d responses of %zu bytes\n", n, jobs[0].received);
    return 0;
}
