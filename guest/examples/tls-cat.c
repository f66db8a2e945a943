/* tls-cat [-n SERVER-NAME] HOST PORT — like `openssl s_client -quiet`: a TLS connection to
 * HOST:PORT with stdin sent to the server and the server's bytes written to stdout, both
 * directions polled together. At the end of stdin it sends close_notify and keeps reading.
 *
 * Exit status: 0 once the server has closed with close_notify; 1 on a connection or TLS error,
 * including a connection cut without close_notify (truncation); 64 on bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasitls_guest.h"

static const char *prog = "tls-cat";

static _Noreturn void fail(void)
{
    fprintf(stderr, "%s: %s\n", prog, wasitls_errmsg());
    wasitls_exit(1);
}

static _Noreturn void usage(void)
{
    fprintf(stderr, "usage: %s [-n SERVER-NAME] HOST PORT\n", prog);
    wasitls_exit(64);
}

int main(int argc, char **argv)
{
    const char *server_name = NULL;
    int i = 1;
    if (i < argc && strcmp(argv[i], "-n") == 0) {
        if (i + 1 >= argc) usage();
        server_name = argv[i + 1];
        i += 2;
    }
    if (argc - i != 2) usage();
    const char *host = argv[i];
    char *end;
    errno = 0;
    unsigned long port = strtoul(argv[i + 1], &end, 10);
    if (*end != 0 || port == 0 || port > 65535 || errno) usage();

    wasitls_conn *srv, *io;
    if (wasitls_tls_connect(host, (uint16_t)port, server_name, &srv) != WASITLS_OK) fail();
    if (wasitls_stdio(&io) != WASITLS_OK) fail();

    /* Bytes from stdin wait in `up` until the server takes them. While any wait, stdin is not
     * read but the server still is: blocking on a write to a server that is itself blocked
     * writing to us would deadlock. */
    static unsigned char buf[64 * 1024], up[64 * 1024];
    size_t up_len = 0, up_off = 0;
    int stdin_open = 1, want_close = 0;
    for (;;) {
        int pending = up_off < up_len;
        struct wasitls_pollitem items[2] = {
            {srv, WASITLS_POLLIN | (pending ? WASITLS_POLLOUT : 0), 0},
            {io, stdin_open && !pending ? WASITLS_POLLIN : 0, 0},
        };
        if (wasitls_poll(items, 2, -1) < 0) fail();

        if (items[0].revents & WASITLS_POLLIN) {
            for (;;) { /* drain what the server has sent */
                ssize_t n = wasitls_try_read(srv, buf, sizeof buf);
                if (n == WASITLS_AGAIN) break;
                if (n == WASITLS_CLOSED) {
                    wasitls_close(srv);
                    wasitls_close(io);
                    wasitls_exit(0);
                }
                if (n < 0) fail();
                if (wasitls_write_all(io, buf, (size_t)n) != WASITLS_OK) fail();
            }
        }
        if (items[1].revents) {
            ssize_t n = wasitls_try_read(io, up, sizeof up);
            if (n > 0) {
                up_off = 0;
                up_len = (size_t)n;
            } else if (n == WASITLS_CLOSED) {
                stdin_open = 0;
                want_close = 1;
            } else if (n != WASITLS_AGAIN) {
                fail();
            }
        }
        if (up_off < up_len) {
            ssize_t n = wasitls_try_write(srv, up + up_off, up_len - up_off);
            if (n > 0) {
                up_off += (size_t)n;
                if (wasitls_try_flush(srv) != WASITLS_OK) fail();
            } else if (n != WASITLS_AGAIN) {
                fail();
            }
        }
        if (want_close && up_off == up_len) {
            want_close = 0;
            /* A failure here (say the server already closed) is not the verdict: the next
             * read says whether the server ended cleanly. */
            (void)wasitls_close_output(srv);
        }
    }
}
