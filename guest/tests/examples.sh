#!/usr/bin/env bash
# Runs one example guest against a real local server from Debian's packages.
#
#   guest/tests/examples.sh BUILD_DIR TEST
#
# TEST is one of the names in the case at the bottom. WASITLS_TLS_BACKEND (e.g. gnutls) picks the
# host's TLS backend for the runs made through `guest`. Each run makes its own throwaway CA and
# server certificate (for localhost, 127.0.0.1 and ::1) in a temporary directory, starts what it
# needs on free loopback ports, and removes everything on exit. Exit 0 = pass.
set -euo pipefail

BUILD=$(cd "$1" && pwd)
TEST=$2
WASITLS=${WASITLS:-$BUILD/wasitls}
EX="$BUILD/examples"
T=$(mktemp -d "${TMPDIR:-/tmp}/wasitls-ex.XXXXXX")
chmod 755 "$T" # servers that drop privileges must be able to read their files
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -n "${PGBIN:-}" ] && [ -f "$T/pg/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$T/pg" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A port nothing listens on, below the kernel's ephemeral range so that no outgoing connection
# of a test running beside this one holds it.
free_port() {
    local p low=32768
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    [ "$low" -gt 12000 ] || low=32768
    for _ in $(seq 1 100); do
        p=$((10000 + RANDOM % (low - 10000)))
        port_in_use "$p" || { echo "$p"; return; }
    done
    fail "no free port"
}
wait_port() { # PORT PID
    for _ in $(seq 1 200); do
        kill -0 "$2" 2>/dev/null || return 1
        port_in_use "$1" && return 0
        sleep 0.05
    done
    return 1
}

# start_s_server PORT ARGS...: openssl s_server on 127.0.0.1:PORT, waited for by its "ACCEPT"
# line (probing the port would use up its only accept). Sets S_SERVER_PID.
start_s_server() {
    local port=$1
    shift
    openssl s_server -accept "127.0.0.1:$port" -cert "$T/server.pem" -key "$T/server.key" \
        -naccept 1 "$@" >"$T/s_server.log" 2>&1 &
    S_SERVER_PID=$!
    pids+=($S_SERVER_PID)
    for _ in $(seq 1 200); do
        grep -q '^ACCEPT' "$T/s_server.log" 2>/dev/null && return 0
        kill -0 "$S_SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$T/s_server.log" >&2
    fail "s_server did not start"
}

# start_py_server NAME ARGS...: tests/NAME.py DIR ARGS... in the background (its pid in srv),
# once it has written DIR/NAME.port.
start_py_server() {
    local name=$1
    shift
    python3 "$(dirname "$0")/$name.py" "$T" "$@" >"$T/$name.log" 2>&1 &
    srv=$!
    pids+=($srv)
    for _ in $(seq 1 200); do
        [ -f "$T/$name.port" ] && return 0
        kill -0 "$srv" 2>/dev/null || break
        sleep 0.05
    done
    cat "$T/$name.log" >&2
    fail "$name did not start"
}

mkcerts() {
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days 1 \
        -subj "/CN=wasitls test CA" -keyout "$T/ca.key" -out "$T/ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
        2>/dev/null
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 \
        -subj "/CN=localhost" -keyout "$T/server.key" -out "$T/server.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
        >"$T/server.ext"
    openssl x509 -req -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
        -days 1 -sha256 -extfile "$T/server.ext" -out "$T/server.pem" 2>/dev/null
    chmod 644 "$T/server.key"
}

# guest NAME ARGS...: runs an example with every grant and the test CA.
guest() {
    local name=$1
    shift
    [ -f "$T/ca.pem" ] || mkcerts
    "$WASITLS" run -S tls,inherit-network,allow-ip-name-lookup --tls-ca "$T/ca.pem" \
        ${WASITLS_TLS_BACKEND:+--tls-backend "$WASITLS_TLS_BACKEND"} "$EX/$name.wasm" "$@"
}

# expect_status WANT CMD...: runs CMD with stdout in $T/out, stderr in $T/err.
expect_status() {
    local want=$1 got=0
    shift
    "$@" >"$T/out" 2>"$T/err" || got=$?
    if [ "$got" != "$want" ]; then
        echo "--- stderr:" >&2
        head -c 4000 "$T/err" >&2
        fail "exit status $got, want $want: $*"
    fi
}

expect_err() { grep -qiE "$1" "$T/err" || { cat "$T/err" >&2; fail "stderr lacks /$1/"; }; }

have_ipv6() { grep -qs '^00000000000000000000000000000001 ' /proc/net/if_inet6; }

# ---- nginx ----------------------------------------------------------------------------------
NGINX_PORT=
start_nginx() {
    local nginx
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    mkdir -p "$T/www/chunked" "$T/www/close" "$T/logs"
    local try
    for try in 1 2 3; do # another test may take the port between the check and the bind
    NGINX_PORT=$(free_port)
    NGINX_PLAIN_PORT=$(free_port) # the same site in clear, for http:// URLs
    # /chunked/ and /close/: sub_filter rewrites the body, so nginx cannot send a
    # Content-Length; with chunked encoding off it ends the body by closing the connection.
    cat >"$T/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $T/nginx.pid;
error_log $T/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log $T/logs/access.log;
    client_body_temp_path $T/body;
    proxy_temp_path $T/proxy;
    fastcgi_temp_path $T/fastcgi;
    uwsgi_temp_path $T/uwsgi;
    scgi_temp_path $T/scgi;
    types { text/plain txt; application/octet-stream bin; }
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        $(have_ipv6 && echo "listen [::1]:$NGINX_PORT ssl;")
        listen 127.0.0.1:$NGINX_PLAIN_PORT;
        server_name localhost;
        ssl_certificate $T/server.pem;
        ssl_certificate_key $T/server.key;
        root $T/www;
        location /chunked/ { sub_filter_types *; sub_filter 'cat' 'dog'; sub_filter_once off; }
        location /close/ {
            sub_filter_types *; sub_filter 'cat' 'dog'; sub_filter_once off;
            chunked_transfer_encoding off;
        }
    }
}
EOF
    "$nginx" -p "$T" -e "$T/logs/error.log" -c "$T/nginx.conf" &
    pids+=($!)
    wait_port "$NGINX_PORT" "$!" && return 0
    grep -q "Address already in use" "$T/logs/error.log" || break
    done
    cat "$T/logs/error.log" >&2
    fail "nginx did not start"
}

# A text of about 1 MiB where 'cat' occurs many times (rewritten to 'dog' by nginx).
make_text() {
    for i in $(seq 1 20000); do echo "line $i: the cat sat on the mat, cat number $i"; done
}

# ---- tests ----------------------------------------------------------------------------------
case "$TEST" in
https-get-big)
    mkcerts
    start_nginx
    head -c $((10 * 1024 * 1024)) /dev/urandom >"$T/www/big.bin"
    expect_status 0 guest https-get "https://localhost:$NGINX_PORT/big.bin"
    [ "$(sha256sum <"$T/out" | cut -d' ' -f1)" = "$(sha256sum <"$T/www/big.bin" | cut -d' ' -f1)" ] ||
        fail "10 MiB body differs ($(wc -c <"$T/out") bytes received)"
    ;;
https-get-chunked | https-get-close)
    mkcerts
    start_nginx
    dir=${TEST#https-get-}
    make_text >"$T/www/$dir/text.txt"
    sed 's/cat/dog/g' "$T/www/$dir/text.txt" >"$T/want"
    expect_status 0 guest https-get "https://localhost:$NGINX_PORT/$dir/text.txt"
    cmp -s "$T/out" "$T/want" || fail "$dir body differs ($(wc -c <"$T/out") bytes received)"
    ;;
https-get-plain)
    # http:// goes over plain wasi:sockets TCP, no TLS
    mkcerts
    start_nginx
    make_text >"$T/www/chunked/text.txt"
    sed 's/cat/dog/g' "$T/www/chunked/text.txt" >"$T/want"
    expect_status 0 guest https-get "http://localhost:$NGINX_PLAIN_PORT/chunked/text.txt"
    cmp -s "$T/out" "$T/want" || fail "body differs ($(wc -c <"$T/out") bytes received)"
    ;;
https-get-ipv6)
    have_ipv6 || fail "this machine has no IPv6 loopback (::1)"
    mkcerts
    start_nginx
    echo "over IPv6" >"$T/www/v6.txt"
    expect_status 0 guest https-get "https://[::1]:$NGINX_PORT/v6.txt"
    grep -q "over IPv6" "$T/out" || fail "wrong body"
    ;;
https-get-404)
    mkcerts
    start_nginx
    expect_status 2 guest https-get "https://localhost:$NGINX_PORT/missing"
    expect_err "404"
    ;;
https-get-untrusted)
    mkcerts
    start_nginx
    echo hi >"$T/www/hi.txt"
    expect_status 1 "$WASITLS" run -S tls,inherit-network,allow-ip-name-lookup \
        "$EX/https-get.wasm" "https://localhost:$NGINX_PORT/hi.txt"
    expect_err "certificate|verif|issuer|trust"
    ;;
https-get-refused)
    port=$(free_port)
    expect_status 1 guest https-get "https://127.0.0.1:$port/"
    expect_err "connection-refused"
    ;;
https-get-denied)
    port=$(free_port)
    # wasi:tls granted (the component imports it), the network not.
    expect_status 1 "$WASITLS" run -S tls "$EX/https-get.wasm" "https://127.0.0.1:$port/"
    expect_err "access-denied"
    expect_err "grant it with -S inherit-network"
    # Name lookup is its own grant, and the message names its flag.
    expect_status 1 "$WASITLS" run -S tls,inherit-network "$EX/https-get.wasm" \
        "https://localhost:$port/"
    expect_err "access-denied"
    expect_err "grant it with -S allow-ip-name-lookup"
    ;;
https-get-usage)
    expect_status 64 guest https-get
    expect_status 64 guest https-get "ftp://localhost/"
    ;;
tls-cat-redis)
    mkcerts
    port=$(free_port)
    redis-server --port 0 --tls-port "$port" --tls-cert-file "$T/server.pem" \
        --tls-key-file "$T/server.key" --tls-ca-cert-file "$T/ca.pem" --tls-auth-clients no \
        --save "" --appendonly no --dir "$T" >"$T/redis.log" 2>&1 &
    pids+=($!)
    wait_port "$port" "$!" || { cat "$T/redis.log" >&2; fail "redis did not start"; }
    # stdin stays open: the session must end by redis's QUIT and its close_notify. (Were
    # stdin to end first, tls-cat would send close_notify, to which redis 7.0 answers with a
    # bare TCP close, which tls-cat rightly reports as truncation.)
    mkfifo "$T/fifo"
    (printf 'PING\r\n'; sleep 0.5; printf 'QUIT\r\n'; sleep 10) >"$T/fifo" &
    pids+=($!)
    expect_status 0 guest tls-cat localhost "$port" <"$T/fifo"
    grep -q '^+PONG' "$T/out" || fail "no +PONG in: $(cat "$T/out")"
    ;;
tls-cat-s_server)
    mkcerts
    port=$(free_port)
    # -rev answers each line reversed and ends the session with close_notify on "CLOSE".
    start_s_server "$port" -rev
    # Keep stdin open until the server has closed: exit 0 must come from its close_notify.
    mkfifo "$T/fifo"
    (printf 'hello wasi:tls\n'; sleep 1; printf 'CLOSE\n'; sleep 5) >"$T/fifo" &
    pids+=($!)
    expect_status 0 guest tls-cat localhost "$port" <"$T/fifo"
    grep -q 'slt:isaw olleh' "$T/out" || fail "no reversed line in: $(cat "$T/out")"
    ;;
tls-cat-eof)
    # At the end of stdin tls-cat sends close_notify; s_server answers with its own.
    mkcerts
    port=$(free_port)
    start_s_server "$port" -rev
    printf 'end of input\n' >"$T/in"
    expect_status 0 guest tls-cat localhost "$port" <"$T/in"
    grep -q 'tupni fo dne' "$T/out" || fail "no reversed line in: $(cat "$T/out")"
    ;;
tls-cat-bulk)
    # 3 MB each way through one poll loop: s_server -rev answers every line while tls-cat is
    # still sending, so neither side may block the other.
    mkcerts
    port=$(free_port)
    start_s_server "$port" -rev
    seq 1 40000 | sed 's/.*/line & abcdefghijklmnopqrstuvwxyz 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ/' \
        >"$T/in"
    expect_status 0 guest tls-cat localhost "$port" <"$T/in"
    rev "$T/in" | cmp -s - "$T/out" || fail "echo differs ($(wc -c <"$T/out") bytes received)"
    ;;
tls-cat-truncated)
    mkcerts
    port=$(free_port)
    start_s_server "$port" -rev
    srv=$S_SERVER_PID
    mkfifo "$T/fifo"
    (printf 'hello\n'; sleep 10) >"$T/fifo" &
    pids+=($!)
    status=0
    guest tls-cat localhost "$port" <"$T/fifo" >"$T/out" 2>"$T/err" &
    cat_pid=$!
    for _ in $(seq 1 100); do grep -q olleh "$T/out" 2>/dev/null && break; sleep 0.05; done
    kill -9 "$srv" # the TCP connection ends without close_notify
    wait "$cat_pid" || status=$?
    [ "$status" = 1 ] || { cat "$T/err" >&2; fail "exit status $status after truncation, want 1"; }
    [ -s "$T/err" ] || fail "no error text on stderr"
    ;;
pg-starttls)
    mkcerts
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -x "$PGBIN/initdb" ] || fail "PostgreSQL server binaries not found"
    # PostgreSQL refuses to run as root: use the package's postgres user then.
    if [ "$(id -u)" = 0 ]; then
        as_pg() { runuser -u postgres -- "$@"; }
        chown postgres "$T"
    else
        as_pg() { "$@"; }
    fi
    port=$(free_port)
    cp "$T/server.pem" "$T/pg.crt"
    cp "$T/server.key" "$T/pg.key"
    chmod 600 "$T/pg.key"
    [ "$(id -u)" = 0 ] && chown postgres "$T/pg.crt" "$T/pg.key"
    as_pg "$PGBIN/initdb" -D "$T/pg" -U postgres --auth=trust -E UTF8 >"$T/initdb.log" 2>&1 ||
        { cat "$T/initdb.log" >&2; fail "initdb failed"; }
    cat >>"$T/pg/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$T'
ssl = on
ssl_cert_file = '$T/pg.crt'
ssl_key_file = '$T/pg.key'
EOF
    # TLS connections only: a client that did not upgrade gets no session.
    printf 'hostssl all all 127.0.0.1/32 trust\n' >"$T/pg/pg_hba.conf"
    as_pg "$PGBIN/pg_ctl" -D "$T/pg" -l "$T/pg.log" -w -t 30 start >/dev/null ||
        { cat "$T/pg.log" >&2; fail "postgres did not start"; }
    expect_status 0 guest pg-starttls localhost "$port" \
        "SELECT 6 * 7 AS answer, 'wasi' || ':tls' AS name"
    [ "$(cat "$T/out")" = "$(printf '42\twasi:tls')" ] || fail "unexpected rows: $(cat "$T/out")"
    expect_status 2 guest pg-starttls localhost "$port" "SELECT * FROM no_such_table"
    expect_err "no_such_table"
    ;;
parallel-get)
    mkcerts
    start_nginx
    echo "one of many" >"$T/www/small.txt"
    expect_status 0 "$WASITLS" run -S tls,inherit-network,allow-ip-name-lookup \
        --tls-ca "$T/ca.pem" "$BUILD/guests/parallel-get.wasm" localhost "$NGINX_PORT" /small.txt 64
    grep -q "^64 responses of" "$T/out" || fail "unexpected output: $(cat "$T/out")"
    ;;
sdk-refused | sdk-timeout | sdk-plain-redis | sdk-tls-misuse | sdk-names)
    case=${TEST#sdk-}
    port=$(free_port)
    mkcerts
    case $case in
    timeout | tls-misuse)
        # s_server waits for a ClientHello: silent for plain TCP, a real server for TLS.
        # (-rev keeps it off its stdin, which would end the session at EOF.)
        start_s_server "$port" -rev
        ;;
    plain-redis)
        redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$T" \
            >"$T/redis.log" 2>&1 &
        pids+=($!)
        wait_port "$port" "$!" || { cat "$T/redis.log" >&2; fail "redis did not start"; }
        ;;
    esac
    if [ "$case" = tls-misuse ]; then
        expect_status 0 "$WASITLS" run -S tls,inherit-network,allow-ip-name-lookup \
            --tls-ca "$T/ca.pem" "$BUILD/guests/sdk-check.wasm" "$case" "$port"
    else
        # The plain cases from the build that never starts TLS: no wasi:tls import, so no
        # -S tls either (deny by default holds for what a program does not use).
        expect_status 0 "$WASITLS" run -S inherit-network,allow-ip-name-lookup \
            "$BUILD/guests/sdk-check-plain.wasm" "$case" "$port"
    fi
    grep -q "^ok $case" "$T/out" || fail "unexpected output: $(cat "$T/out")"
    ;;
sdk-fread-poll)
    # Buffered file reads with host calls that return lists in between (guest/src/start.c).
    mkdir -p "$T/files"
    expect_status 0 "$WASITLS" run --dir "$T/files::/files" "$BUILD/guests/sdk-check-plain.wasm" \
        fread-poll /files
    grep -q "^ok fread-poll" "$T/out" || fail "unexpected output: $(cat "$T/out")"
    ;;
sdk-send-close-plain | sdk-send-close-tls)
    # Write a lot, close, exit, never read what the server sent: everything must still arrive
    # (a socket closed with unread input is reset by the kernel, which drops its send queue).
    mode=${TEST#sdk-send-close-}
    mkcerts
    total=16000000
    start_py_server slow-sink "$mode" "$total"
    read -r port <"$T/slow-sink.port"
    if [ "$mode" = tls ]; then
        expect_status 0 "$WASITLS" run -S tls,inherit-network --tls-ca "$T/ca.pem" \
            ${WASITLS_TLS_BACKEND:+--tls-backend "$WASITLS_TLS_BACKEND"} \
            "$BUILD/guests/sdk-check.wasm" send-close tls "$port" "$total"
    else
        expect_status 0 "$WASITLS" run -S inherit-network "$BUILD/guests/sdk-check-plain.wasm" \
            send-close plain "$port" "$total"
    fi
    wait "$srv" || { cat "$T/slow-sink.log" >&2; fail "the server did not get everything"; }
    ;;
sdk-sessions)
    # Session resumption through `wasitls run`: the second and later connections of one run
    # resume the session the server gave the one before (s_server's page says so), and none
    # does with --tls-no-resume. TLS 1.3 (tickets after the handshake) and TLS 1.2.
    mkcerts
    for v in -tls1_3 -tls1_2; do
        port=$(free_port)
        start_s_server "$port" -www "$v" -naccept 8
        be=${WASITLS_TLS_BACKEND:+--tls-backend "$WASITLS_TLS_BACKEND"}
        expect_status 0 "$WASITLS" run -S tls,inherit-network,allow-ip-name-lookup \
            --tls-ca "$T/ca.pem" $be "$BUILD/guests/sdk-check.wasm" sessions "$port" 4
        got=$(tr '\n' ' ' <"$T/out")
        [ "$got" = "new reused reused reused ok sessions " ] || fail "$v: sessions: $got"
        expect_status 0 "$WASITLS" run -S tls,inherit-network,allow-ip-name-lookup \
            --tls-ca "$T/ca.pem" $be --tls-no-resume "$BUILD/guests/sdk-check.wasm" sessions \
            "$port" 4
        got=$(tr '\n' ' ' <"$T/out")
        [ "$got" = "new new new new ok sessions " ] || fail "$v: --tls-no-resume: $got"
        wait "$S_SERVER_PID" || true
    done
    ;;
sdk-shortreads-plain | sdk-shortreads-tls)
    # 64 KiB reads that come back short, many times, from a server that writes odd-sized
    # chunks with pauses (tests/chunk-server.py); the guest checks every byte and the total.
    mode=${TEST#sdk-shortreads-}
    mkcerts
    start_py_server chunk-server "$mode"
    read -r port total <"$T/chunk-server.port"
    if [ "$mode" = tls ]; then
        expect_status 0 "$WASITLS" run -S tls,inherit-network,allow-ip-name-lookup \
            --tls-ca "$T/ca.pem" ${WASITLS_TLS_BACKEND:+--tls-backend "$WASITLS_TLS_BACKEND"} \
            "$BUILD/guests/sdk-check.wasm" shortreads "$mode" "$port" "$total"
    else
        expect_status 0 "$WASITLS" run -S inherit-network "$BUILD/guests/sdk-check-plain.wasm" \
            shortreads "$mode" "$port" "$total"
    fi
    grep -q "^ok shortreads" "$T/out" || fail "unexpected output: $(cat "$T/out") $(cat "$T/err")"
    cat "$T/err"
    wait "$srv" || { cat "$T/chunk-server.log" >&2; fail "chunk-server failed"; }
    ;;
sdk-exit)
    # wasitls_exit's code is the host's exit status; out of range is a failure (1), never a
    # wrap-around to 0.
    for c in 3 255; do
        expect_status $c "$WASITLS" run "$BUILD/guests/sdk-check-plain.wasm" exit $c
    done
    for c in 256 512 -1 -256 100000; do
        expect_status 1 "$WASITLS" run "$BUILD/guests/sdk-check-plain.wasm" exit $c
    done
    # The build that can start TLS imports wasi:tls: without the grant it does not start,
    # and the error names the flag.
    expect_status 1 "$WASITLS" run "$BUILD/guests/sdk-check.wasm" exit 3
    grep -q -- "-S tls" "$T/err" || fail "no hint at -S tls: $(cat "$T/err")"
    ;;
demo)
    out=$("$(dirname "$0")/../../scripts/demo.sh" "$BUILD" 2>"$T/err") ||
        { cat "$T/err" >&2; fail "demo failed"; }
    grep -q "Hello from nginx, fetched over wasi:tls" <<<"$out" || fail "page not shown: $out"
    ;;
*)
    fail "unknown test $TEST"
    ;;
esac
echo "PASS $TEST"
