#!/usr/bin/env bash
# The main job end to end: a WebAssembly guest fetches a page over wasi:tls from a local HTTPS
# server whose certificate comes from a throwaway CA that only this run trusts.
#
#   scripts/demo.sh [BUILD_DIR]      (make demo does set-up and build first)
#
# Makes the CA and a certificate for localhost in a temporary directory, starts nginx there on a
# free loopback port, runs
#   BUILD/wasitls run -S tls,inherit-network,allow-ip-name-lookup --tls-ca CA.pem \
#       BUILD/examples/https-get.wasm https://localhost:PORT/
# shows the page, stops nginx, removes the directory, and exits with the guest's exit code.
set -euo pipefail

BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
WASITLS="$BUILD/wasitls"
GUEST="$BUILD/examples/https-get.wasm"
for f in "$WASITLS" "$GUEST"; do
    [ -e "$f" ] || { echo "demo: $f is missing; build first (make demo does)" >&2; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "demo: nginx not found (Debian package nginx-light)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wasitls-demo.XXXXXX")
nginx_pid=
cleanup() {
    if [ -n "$nginx_pid" ]; then
        kill "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 2 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
step() { printf '%s== %s%s\n' "$bold" "$*" "$plain" >&2; }

# ---- a throwaway CA and a server certificate for localhost ----------------------------------
step "making a throwaway CA and a certificate for localhost in $tmp"
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days 1 \
    -subj "/CN=wasitls demo CA" -keyout "$tmp/ca.key" -out "$tmp/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    2>/dev/null
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 \
    -subj "/CN=localhost" -keyout "$tmp/server.key" -out "$tmp/server.csr" 2>/dev/null
cat >"$tmp/server.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EOF
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
    -CAcreateserial -days 1 -sha256 -extfile "$tmp/server.ext" -out "$tmp/server.pem" 2>/dev/null

# ---- the page and nginx ---------------------------------------------------------------------
mkdir -p "$tmp/www" "$tmp/logs"
cat >"$tmp/www/index.html" <<'EOF'
<!doctype html>
<title>wasitls demo</title>
<h1>Hello from nginx, fetched over wasi:tls by a WebAssembly guest.</h1>
<p>This page was served with a certificate from a CA that only this demo run trusts.</p>
EOF

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Below the kernel's ephemeral range, so no outgoing connection holds it.
low=32768
read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
[ "$low" -gt 12000 ] || low=32768
port=
for _ in $(seq 1 50); do
    p=$((10000 + RANDOM % (low - 10000)))
    if ! port_in_use "$p"; then port=$p; break; fi
done
[ -n "$port" ] || { echo "demo: no free loopback port found" >&2; exit 1; }

# master_process off: one process, so no worker user switch that could not read the temp dir.
cat >"$tmp/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log warn;
events { worker_connections 64; }
http {
    access_log $tmp/logs/access.log;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    types { text/html html; }
    server {
        listen 127.0.0.1:$port ssl;
        server_name localhost;
        ssl_certificate $tmp/server.pem;
        ssl_certificate_key $tmp/server.key;
        root $tmp/www;
    }
}
EOF

step "starting nginx on https://localhost:$port/"
"$NGINX" -p "$tmp" -e "$tmp/logs/error.log" -c "$tmp/nginx.conf" &
nginx_pid=$!
for _ in $(seq 1 100); do
    if ! kill -0 "$nginx_pid" 2>/dev/null; then
        echo "demo: nginx did not start:" >&2
        cat "$tmp/logs/error.log" >&2 || true
        nginx_pid=
        exit 1
    fi
    port_in_use "$port" && break
    sleep 0.05
done

# ---- the guest ------------------------------------------------------------------------------
cmd=("$WASITLS" run -S tls,inherit-network,allow-ip-name-lookup --tls-ca "$tmp/ca.pem"
     "$GUEST" "https://localhost:$port/")
step "running: ${cmd[*]}"
status=0
"${cmd[@]}" || status=$?
if [ "$status" -eq 0 ]; then
    step "the guest fetched the page above over TLS (exit 0)"
else
    step "the guest exited with status $status"
fi
exit "$status"
