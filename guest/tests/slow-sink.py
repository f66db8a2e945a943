#!/usr/bin/env python3
"""slow-sink.py DIR plain|tls TOTAL: takes one connection on a free 127.0.0.1 port and checks
that exactly TOTAL bytes (byte i is i % 251) arrive before the end of the stream.

Writes the port to DIR/slow-sink.port. Says something first that the client never reads (under
TLS, Python's server sends its session tickets; in clear, a banner), then reads slowly, so that
much of what the client wrote still waits in its socket's send queue when the client closes.
A close that resets the connection instead of ending it loses that tail. Exit 0 when all of it
arrived; tls uses DIR/server.pem and DIR/server.key.
"""
import os
import socket
import ssl
import sys
import time


def main():
    d, mode, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    tmp = os.path.join(d, "slow-sink.port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, os.path.join(d, "slow-sink.port"))
    ls.settimeout(60)
    conn, _ = ls.accept()
    conn.settimeout(60)
    if mode == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
        conn = ctx.wrap_socket(conn, server_side=True)
    else:
        conn.sendall(b"220 hello; nobody reads this\r\n")
    time.sleep(0.3)  # the client fills its send queue meanwhile
    pattern = bytes(range(251))
    pos = 0
    while True:
        try:
            b = conn.recv(65536)
        except (ConnectionResetError, ssl.SSLError) as e:
            print("slow-sink: after %d bytes: %s" % (pos, e), file=sys.stderr)
            return 1
        if not b:
            break
        want = (pattern * (len(b) // 251 + 2))[pos % 251:pos % 251 + len(b)]
        if b != want:
            print("slow-sink: wrong bytes at %d" % pos, file=sys.stderr)
            return 1
        pos += len(b)
        time.sleep(0.002)
    if pos != total:
        print("slow-sink: %d of %d bytes arrived" % (pos, total), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
