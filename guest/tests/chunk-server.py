#!/usr/bin/env python3
"""chunk-server.py DIR plain|tls: serves one connection on a free 127.0.0.1 port.

Writes "PORT TOTAL" to DIR/chunk-server.port, then sends TOTAL bytes (byte i is i % 251) in
odd-sized chunks with short pauses between them, so that a reader with a large buffer gets
short reads of every size, and closes (under TLS with close_notify). tls uses DIR/server.pem
and DIR/server.key.
"""
import os
import socket
import ssl
import sys
import time

CHUNKS = [1, 4095, 4097, 10000, 65535, 65537, 1, 3, 131072, 7, 4096, 65536, 100000, 2, 511] * 3


def main():
    d, mode = sys.argv[1], sys.argv[2]
    total = sum(CHUNKS)
    pattern = bytes(range(251))
    data = (pattern * (total // 251 + 1))[:total]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    tmp = os.path.join(d, "chunk-server.port.tmp")
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (ls.getsockname()[1], total))
    os.rename(tmp, os.path.join(d, "chunk-server.port"))
    ls.settimeout(60)
    conn, _ = ls.accept()
    conn.settimeout(60)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if mode == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
        conn = ctx.wrap_socket(conn, server_side=True)
    pos = 0
    for n in CHUNKS:
        conn.sendall(data[pos:pos + n])
        pos += n
        time.sleep(0.02)
    if mode == "tls":
        conn.settimeout(10)
        try:
            conn.unwrap()  # sends close_notify; the peer's answer is not what is tested
        except (OSError, ssl.SSLError):
            pass
    else:
        conn.shutdown(socket.SHUT_WR)
        time.sleep(0.2)
    conn.close()


if __name__ == "__main__":
    main()
