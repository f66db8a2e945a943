/* The connection object shared by the SDK's source files. */
#ifndef WASITLS_GUEST_CONN_H
#define WASITLS_GUEST_CONN_H

#include "wasitls_guest.h"
#include "wit.h"

enum { WIT_EC_ACCESS_DENIED = 1, WIT_EC_WOULD_BLOCK = 8 };

enum conn_state {
    CONN_CONNECTING,  /* start-connect done, finish-connect pending */
    CONN_OPEN,        /* in/out are usable (TCP, or TLS when tls != 0) */
    CONN_HANDSHAKING, /* streams moved into the host's TLS handshake; future pending */
    CONN_FAILED,      /* a connect or handshake failed; only wasitls_close is useful */
};

/* Handles are 0 when absent: index 0 of a component's handle table is never a valid handle. */
struct wasitls_conn {
    enum conn_state state;
    wit_handle sock;   /* own tcp-socket (0 for stdio) */
    wit_handle in;     /* own input-stream: TCP's, TLS's, or stdin */
    wit_handle out;    /* own output-stream */
    wit_handle tls;    /* own client-connection once TLS is up; parent of in/out then */
    wit_handle future; /* own future-client-streams while handshaking */
    /* Pollables, made once and kept: children of the handle they watch, so they are dropped
     * before it (and before streams are handed to the TLS handshake). */
    wit_handle p_in, p_out, p_state;
    int output_closed;
    int unflushed;     /* bytes written since the last completed flush */
    int failed_status; /* the error a CONN_FAILED connection reports again */
    char *peer;        /* "host:port" or "server-name", for error texts */
    const struct wasitls__tls_hooks *tls_hooks; /* set when TLS starts (tls.c) */
};

/* What conn.c asks of tls.c for a connection that started TLS. Reached only through the
 * connection, so that tls.c (and with it every wasi:tls import) is linked only into programs
 * that call a wasitls_tls_* function. */
struct wasitls__tls_hooks {
    int (*advance)(wasitls_conn *c);          /* CONN_HANDSHAKING: take the result if ready */
    wit_handle (*subscribe)(wasitls_conn *c); /* the handshake future's pollable */
    void (*close_output)(wasitls_conn *c);    /* c->tls: queue close_notify */
    void (*drop)(wasitls_conn *c);            /* drops c->tls and c->future (0 when absent) */
};

/* WASITLS_OK when c is open; else its error (AGAIN while connecting or handshaking). */
int wasitls__not_open(wasitls_conn *c, const char *what);
/* Drops *p if it is a pollable and sets it to 0. */
void wasitls__drop_pollable(wit_handle *p);

/* The pollable for a connecting/handshaking connection (0 if it has none, e.g. failed). */
wit_handle wasitls__conn_state_pollable(wasitls_conn *c);
/* The pollable for reading (WASITLS_POLLIN) or writing of an open connection, or 0. */
wit_handle wasitls__conn_pollable(wasitls_conn *c, int which);

#endif
