/* Errors, memory for host-returned lists, stdio, exit and polling. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

/* ---- cabi_realloc ------------------------------------------------------------------------ */

/* start.c must be this program's _start (see there): linking the SDK pulls it in, and without
 * -nostartfiles the link fails instead of building a program whose every cabi_realloc call
 * re-runs the C library's destructors. */
extern const char wasitls__start_linked;
__attribute__((used)) static const char *const need_start = &wasitls__start_linked;

static void *realloc_target;
static size_t realloc_target_cap;
/* realloc.c */
extern unsigned char wasitls__cabi_empty[16];
void *wasitls__cabi_alloc(void *ptr, size_t align, size_t size);

void wasitls__realloc_target(void *buf, size_t cap)
{
    realloc_target = buf;
    realloc_target_cap = cap;
}

/* The host calls this (canon lower's realloc option) to place the lists and strings it returns
 * in our memory. A read armed with wasitls__realloc_target gets its bytes straight into the
 * caller's buffer instead of a heap copy. */
__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *ptr, size_t old_size,
                                                                size_t align, size_t new_size)
{
    (void)old_size;
    if (ptr == NULL && realloc_target != NULL && align == 1 && new_size <= realloc_target_cap) {
        void *p = realloc_target;
        realloc_target = NULL;
        return new_size ? p : wasitls__cabi_empty;
    }
    return wasitls__cabi_alloc(ptr, align, new_size);
}

void wasitls__free_list(struct wit_list *l)
{
    if (l->ptr != NULL && l->ptr != wasitls__cabi_empty && l->len != 0) free(l->ptr);
    l->ptr = NULL;
    l->len = 0;
}

/* ---- errors ------------------------------------------------------------------------------ */

static char errbuf[1024];
static int last_socket_error = -1;

const char *wasitls_errmsg(void)
{
    return errbuf;
}

int wasitls_last_socket_error(void)
{
    return last_socket_error;
}

int wasitls__err(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return status;
}

int wasitls__err_io(int status, wit_handle error, const char *prefix)
{
    struct wit_list s = {0};
    wit_error_to_debug_string(error, &s);
    wit_error_drop(error);
    const char *text = s.len ? (const char *)s.ptr : "(the host gave no details)";
    int len = s.len ? (int)s.len : (int)strlen(text);
    wasitls__err(status, "%s: %.*s", prefix, len, text);
    wasitls__free_list(&s);
    return status;
}

int wasitls__stream_error(const struct wit_stream_error *e, const char *what)
{
    if (e->tag == WIT_STREAM_ERROR_CLOSED)
        return wasitls__err(WASITLS_CLOSED, "%s: stream closed", what);
    return wasitls__err_io(WASITLS_ERR_IO, e->error, what);
}

static const char *const socket_error_names[] = {
    "unknown",
    "access-denied",
    "not-supported",
    "invalid-argument",
    "out-of-memory",
    "timeout",
    "concurrency-conflict",
    "not-in-progress",
    "would-block",
    "invalid-state",
    "new-socket-limit",
    "address-not-bindable",
    "address-in-use",
    "remote-unreachable",
    "connection-refused",
    "connection-reset",
    "connection-aborted",
    "datagram-too-large",
    "name-unresolvable",
    "temporary-resolver-failure",
    "permanent-resolver-failure",
};

const char *wasitls_socket_error_name(int code)
{
    if (code < 0 || (size_t)code >= sizeof socket_error_names / sizeof socket_error_names[0])
        return "invalid error-code";
    return socket_error_names[code];
}

int wasitls__socket_error(uint8_t code, const char *what)
{
    last_socket_error = code;
    const char *hint = "";
    if (code == WIT_EC_ACCESS_DENIED)
        hint = strcmp(what, "name lookup") == 0
                   ? " (the host did not grant name lookup; grant it with -S allow-ip-name-lookup)"
                   : " (the host did not grant network access; grant it with -S inherit-network)";
    return wasitls__err(WASITLS_ERR_SOCKET, "%s: %s%s", what, wasitls_socket_error_name(code),
                        hint);
}

const char *wasitls_status_name(int status)
{
    switch (status) {
    case WASITLS_OK:
        return "ok";
    case WASITLS_AGAIN:
        return "again";
    case WASITLS_CLOSED:
        return "closed";
    case WASITLS_ERR_SOCKET:
        return "socket";
    case WASITLS_ERR_IO:
        return "io";
    case WASITLS_ERR_TLS:
        return "tls";
    case WASITLS_ERR_RESOLVE:
        return "resolve";
    case WASITLS_ERR_INVALID:
        return "invalid";
    case WASITLS_ERR_NOMEM:
        return "nomem";
    case WASITLS_ERR_TIMEOUT:
        return "timeout";
    case WASITLS_ERR_UNAVAILABLE:
        return "unavailable";
    default:
        return "unknown status";
    }
}

/* ---- process ----------------------------------------------------------------------------- */

_Noreturn void wasitls_exit(int code)
{
    if (code == 0) exit(0);
    fflush(NULL);
    /* `code & 0xff` would turn 256 into 0: out of range is a failure, not a wrap-around */
    wit_exit_with_code(code > 0 && code <= 255 ? (uint8_t)code : 1);
}

/* ---- polling ----------------------------------------------------------------------------- */

int wasitls_poll(struct wasitls_pollitem *items, size_t n, int timeout_ms)
{
    /* One wasi:io poll over up to two pollables per item plus the timer; index[k] says which
     * item (and which event) pollable k stands for. */
    size_t cap = 2 * n + 1;
    wit_handle *list = malloc(cap * sizeof *list);
    size_t *index = malloc(cap * sizeof *index);
    int *event = malloc(cap * sizeof *event);
    wit_handle timer = 0;
    int ret = WASITLS_OK;
    size_t count = 0;

    if (list == NULL || index == NULL || event == NULL) {
        ret = wasitls__err(WASITLS_ERR_NOMEM, "poll: out of memory");
        goto exit;
    }
    for (size_t i = 0; i < n; i++) {
        items[i].revents = 0;
        wasitls_conn *c = items[i].conn;
        if (c == NULL || items[i].events == 0) continue;
        if (c->state != CONN_OPEN) {
            wit_handle p = wasitls__conn_state_pollable(c);
            if (p == 0) { /* failed: report it so the caller sees the error on advance */
                items[i].revents = items[i].events;
                continue;
            }
            list[count] = p, index[count] = i, event[count++] = items[i].events;
            continue;
        }
        if (items[i].events & WASITLS_POLLIN) {
            wit_handle p = wasitls__conn_pollable(c, WASITLS_POLLIN);
            if (p != 0)
                list[count] = p, index[count] = i, event[count++] = WASITLS_POLLIN;
            else
                items[i].revents |= WASITLS_POLLIN; /* no stream: reading reports why */
        }
        if (items[i].events & WASITLS_POLLOUT) {
            wit_handle p = wasitls__conn_pollable(c, WASITLS_POLLOUT);
            if (p != 0)
                list[count] = p, index[count] = i, event[count++] = WASITLS_POLLOUT;
            else
                items[i].revents |= WASITLS_POLLOUT;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i].revents) ret++;
    }
    if (ret > 0) goto exit; /* something is already known to be ready: do not wait */
    if (timeout_ms >= 0) {
        timer = wit_clock_subscribe_duration((uint64_t)timeout_ms * 1000000u);
        list[count] = timer, index[count] = n, event[count++] = 0;
    }
    if (count == 0) {
        ret = wasitls__err(WASITLS_ERR_INVALID, "poll: nothing to wait for");
        goto exit;
    }

    struct wit_list ready = {0};
    wit_poll(list, (uint32_t)count, &ready);
    const uint32_t *r = ready.ptr;
    for (uint32_t k = 0; k < ready.len; k++) {
        if (r[k] >= count) continue; /* a host bug; ignore rather than index out of range */
        size_t i = index[r[k]];
        if (i == n) continue; /* the timer */
        if (items[i].revents == 0) ret++;
        items[i].revents |= event[r[k]];
    }
    wasitls__free_list(&ready);

exit:
    if (timer != 0) wit_pollable_drop(timer);
    free(list);
    free(index);
    free(event);
    return ret;
}
