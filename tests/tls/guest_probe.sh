#!/usr/bin/env bash
# Runs the tls-probe guest through `wasitls run` against tls_peer (one case per call).
#   guest_probe.sh WASITLS PROBE.wasm TLS_PEER PKI_DIR BACKEND CASE
set -u
wasitls=$1 probe=$2 peer=$3 pki=$4 backend=$5 case=$6
T=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
  echo "FAIL ($case, $backend): $*" >&2
  echo "--- stdout" >&2; cat "$T/out" >&2
  echo "--- stderr" >&2; cat "$T/err" >&2
  exit 1
}

start_peer() { # MODE [tls_peer options...]
  # bounded, so that it cannot outlive this script even if the script is killed
  local mode=$1
  shift
  timeout 110 "$peer" "$mode" "$pki/leaf-chain.pem" "$pki/leaf.key" "$@" >"$T/port" 2>"$T/peer.err" &
  pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/^PORT //p' "$T/port")
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  echo "tls_peer did not start" >&2
  exit 1
}

# run [wasitls run options...] -- probe args...
run() {
  local opts=()
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  timeout 60 "$wasitls" run "${opts[@]}" --tls-backend "$backend" "$probe" "$@" >"$T/out" 2>"$T/err"
  rc=$?
}
has() { grep -qF -- "$2" "$T/$1" || fail "$1 lacks: $2"; }

GRANT=(-S tls,inherit-network --tls-ca "$pki/root.pem")
case "$case" in
  api)
    start_peer echo
    run "${GRANT[@]}" -- api "$port"
    [ "$rc" = 0 ] || fail "exit status $rc"
    has out "probe ok" ;;
  many)
    start_peer echo
    run "${GRANT[@]}" -- many "$port" 100
    [ "$rc" = 0 ] || fail "exit status $rc"
    has out "probe: 100 handshakes"
    has out "probe ok" ;;
  pending)
    start_peer silent
    run "${GRANT[@]}" -- pending "$port"
    [ "$rc" = 0 ] || fail "exit status $rc"
    has out "probe ok" ;;
  wrong-name)
    start_peer echo
    run "${GRANT[@]}" -- fail "$port" wrong.example
    [ "$rc" = 0 ] || fail "exit status $rc"
    has out "not valid for 'wrong.example'" ;;
  untrusted)
    start_peer echo
    run -S tls,inherit-network -- fail "$port" localhost
    [ "$rc" = 0 ] || fail "exit status $rc"
    has out "wasitls Test Root CA"
    has out "--tls-ca" ;;
  bad-name)
    start_peer echo
    run "${GRANT[@]}" -- fail "$port" "bad name"
    [ "$rc" = 0 ] || fail "exit status $rc"
    has out "invalid server name 'bad name'" ;;
  timeout)
    start_peer silent
    start=$(date +%s%N)
    run "${GRANT[@]}" --tls-handshake-timeout 1 -- fail "$port" localhost
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$rc" = 0 ] || fail "exit status $rc"
    has out "TLS handshake timed out after 1 s"
    [ "$ms" -lt 5000 ] || fail "took $ms ms" ;;
  future-pollable)
    start_peer echo
    run "${GRANT[@]}" -- future-pollable "$port"
    [ "$rc" != 0 ] || fail "no trap"
    has err "pollable" ;;
  finish-twice)
    start_peer echo
    run "${GRANT[@]}" -- finish-twice "$port"
    [ "$rc" != 0 ] || fail "no trap"
    has err "client-handshake" ;;
  stream-pollable)
    start_peer echo
    run "${GRANT[@]}" -- stream-pollable "$port"
    [ "$rc" != 0 ] || fail "no trap"
    has err "still has a pollable" ;;
  client-cert)
    # through the command line, to a server that requires a certificate issued under the root
    start_peer clientcert -ca "$pki/root.pem"
    run "${GRANT[@]}" --tls-client-cert "$pki/client-chain.pem" --tls-client-key "$pki/client.key" \
      -- api "$port"
    [ "$rc" = 0 ] || fail "exit status $rc"
    has out "probe ok"
    has port "client=wasitls test client" ;;
  client-cert-none)
    # TLS 1.2, where the refusal ends the handshake (in 1.3 it comes with the first read; the
    # tls.*.loop.peer_alert test covers both)
    start_peer clientcert -tls12 -ca "$pki/root.pem"
    run "${GRANT[@]}" -- fail "$port" localhost
    [ "$rc" = 0 ] || fail "exit status $rc"
    has out "none is configured (--tls-client-cert)" ;;
  client-cert-bad)
    # a key without its certificate (a usage error), and a key that is not the certificate's:
    # wasitls stops before the guest runs, naming the files
    start_peer clientcert -ca "$pki/root.pem"
    run "${GRANT[@]}" --tls-client-key "$pki/client.key" -- api "$port"
    [ "$rc" = 2 ] || fail "exit status $rc"
    has err "needs --tls-client-cert as well"
    run "${GRANT[@]}" --tls-client-cert "$pki/client-chain.pem" --tls-client-key "$pki/leaf.key" \
      -- api "$port"
    [ "$rc" = 1 ] || fail "exit status $rc"
    has err "leaf.key' does not belong to the client certificate in"
    ! grep -q "probe" "$T/out" || fail "the guest ran" ;;
  not-granted)
    start_peer echo
    run -S inherit-network -- api "$port"
    [ "$rc" != 0 ] || fail "ran without -S tls"
    has err "-S tls" ;;
  *)
    echo "unknown case $case" >&2; exit 2 ;;
esac
echo "ok ($case, $backend)"
