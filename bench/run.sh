#!/usr/bin/env bash
# wasitls benchmarks: every figure is a ratio against a native baseline measured in the same run
# on the same machine. Prints a table and writes bench/RESULTS.md.
#
#   bench/run.sh BUILD_DIR        (make bench)
# Environment: BENCH_BYTES (default 1 GiB), BENCH_SECS (handshake run, default 10),
#              BENCH_CONNS (default 10000), BENCH_QUICK=1 (small sizes, for a smoke run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
W="$build/wasitls"
B="$build/bench"
bytes=${BENCH_BYTES:-1073741824}
secs=${BENCH_SECS:-10}
conns=${BENCH_CONNS:-10000}
if [ "${BENCH_QUICK:-0}" = 1 ]; then bytes=67108864 secs=2 conns=200; fi

tmp=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# The fd limit for the concurrency run: as high as this process may go.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Throwaway CA and a P-256 server certificate; both clients verify against the CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
  -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout "$tmp/srv.key" -out "$tmp/srv.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/srv.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
  -days 2 -extfile "$tmp/ext" -out "$tmp/srv.pem" 2>/dev/null

"$B/bench_server" "$tmp/srv.pem" "$tmp/srv.key" "$tmp/port" &
server_pid=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")

run_guest() { # tier, args...
  local tier=$1; shift
  "$W" run --tier "$tier" -S tls,inherit-network --tls-ca "$tmp/ca.pem" "$B/bench-guest.wasm" "$@"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
maxrss() { # command... -> prints "peakKB" on fd 3, command output on stdout
  /usr/bin/time -f '%M' -o "$tmp/rss" "$@"
}

rows=()
row() { rows+=("| $1 | $2 | $3 | $4 | $5 |"); printf '%-44s %14s %14s %8s  %s\n' "$1" "$2" "$3" "$4" "$5"; }
printf '%-44s %14s %14s %8s  %s\n' "benchmark" "wasitls" "native" "ratio" "goal"

# Warm the cache for the guest (opt tier) so compile time is not in the figures.
"$W" compile --tier opt "$B/bench-guest.wasm" >/dev/null 2>&1 || true
"$W" compile --tier fast "$B/bench-hello.wasm" >/dev/null 2>&1 || true

# 1. bulk throughput, both directions (MB/s; ratio = guest/native throughput)
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }')
for dir in recv send; do
  n=$("$B/bench_native" "$tmp/ca.pem" "$dir" "$port" "$bytes")
  g=$(run_guest opt "$dir" "$port" "$bytes")
  nt=$(awk -v s="$n" -v m="$mb" 'BEGIN { printf "%.1f", m / s }')
  gt=$(awk -v s="$g" -v m="$mb" 'BEGIN { printf "%.1f", m / s }')
  row "TLS $dir ${mb} MiB (MiB/s)" "$gt" "$nt" "$(ratio "$gt" "$nt")" ">= 0.95"
done

# 2. full handshakes in a row (per second)
read -r nc ns < <("$B/bench_native" "$tmp/ca.pem" handshakes "$port" "$secs")
read -r gc gs < <(run_guest opt handshakes "$port" "$secs")
nh=$(awk -v c="$nc" -v s="$ns" 'BEGIN { printf "%.1f", c / s }')
gh=$(awk -v c="$gc" -v s="$gs" 'BEGIN { printf "%.1f", c / s }')
row "full handshakes (per s, ${secs} s)" "$gh" "$nh" "$(ratio "$gh" "$nh")" ">= 0.95"

# 3. concurrent connections: completed, wall time, memory per connection (peak RSS of a run with
# N connections minus that of a run with 10, divided by N-10)
conc() { # kind N -> "done secs rssKB"
  local out
  if [ "$1" = native ]; then
    out=$(maxrss "$B/bench_native" "$tmp/ca.pem" concurrent "$port" "$2" || true)
  else
    out=$(maxrss "$W" run --tier opt -S tls,inherit-network --tls-ca "$tmp/ca.pem" \
          "$B/bench-guest.wasm" concurrent "$port" "$2" || true)
  fi
  echo "${out:-0 0} $(tail -n1 "$tmp/rss")"
}
read -r nd nw nr < <(conc native "$conns")
read -r _ _ nr0 < <(conc native 10)
read -r gd gw gr < <(conc guest "$conns")
read -r _ _ gr0 < <(conc guest 10)
row "concurrent connections completed (of $conns)" "$gd" "$nd" "$(ratio "$gd" "$nd")" "all complete"
row "concurrent: wall time (s)" "$gw" "$nw" "$(ratio "$gw" "$nw")" "-"
npc=$(awk -v a="$nr" -v b="$nr0" -v n="$conns" 'BEGIN { printf "%.1f", (a - b) / (n - 10) }')
gpc=$(awk -v a="$gr" -v b="$gr0" -v n="$conns" 'BEGIN { printf "%.1f", (a - b) / (n - 10) }')
row "concurrent: KiB per connection" "$gpc" "$npc" "$(ratio "$gpc" "$npc")" "<= 1.1"

# 4. start-up: a cached hello component, start to exit (median of 21), and cold compiles
startup() {
  local ts=()
  for _ in $(seq 21); do
    local t0 t1
    t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
    ts+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${ts[@]}" | sort -n | sed -n 11p
}
hs=$(startup "$W" run "$B/bench-hello.wasm")
row "warm start, hello component (ms)" "$(awk -v u="$hs" 'BEGIN { printf "%.2f", u / 1000 }')" "-" "-" "<= 10 ms"
sm=$(ls "$root"/node_modules/@bytecodealliance/componentize-js/lib/starlingmonkey_embedding.wasm 2>/dev/null | head -n1 || true)
for tier in fast opt; do
  for m in "$B/bench-hello.wasm" ${sm:+"$sm"}; do
    [ "$tier" = opt ] && [ "$m" = "$sm" ] && [ "${BENCH_OPT_BIG:-0}" != 1 ] && continue
    /usr/bin/time -f '%e %M' -o "$tmp/ct" "$W" compile --tier "$tier" --no-cache "$m" >/dev/null 2>&1 || echo "fail fail" >"$tmp/ct"
    read -r cs ck <"$tmp/ct"
    goal="-"; [ "$m" = "$sm" ] && [ "$tier" = fast ] && goal="<= 15 s"
    row "cold compile $tier: $(basename "$m") (s / MiB)" "$cs / $(awk -v k="$ck" 'BEGIN { printf "%.0f", k / 1024 }')" "-" "-" "$goal"
  done
done

# 5. CPU-bound guest: both tiers vs native vs jco on Node
read -r nd ns < <("$B/bench_cpu_native")
for tier in fast opt; do
  read -r gd gs < <("$W" run --tier "$tier" "$B/bench-cpu.wasm")
  [ "$gd" = "$nd" ] || gs="wrong-digest"
  row "sha256 4x64 MiB, $tier tier (s)" "$gs" "$ns" "$(ratio "$ns" "$gs")" "-"
done
if [ -x "$root/node_modules/.bin/jco" ]; then
  read -r jd js < <("$root/node_modules/.bin/jco" run "$B/bench-cpu.wasm" 2>/dev/null)
  read -r od os < <("$W" run --tier opt "$B/bench-cpu.wasm")
  row "sha256: jco/Node (s) vs wasitls opt" "$os" "$js (node)" "$(ratio "$js" "$os")" "> 1 (faster)"
fi

{
  echo "# wasitls benchmark results"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "- OpenSSL: $(openssl version)"
  echo "- sizes: bulk $mb MiB, handshakes ${secs} s, $conns concurrent connections"
  echo
  echo "Ratios are wasitls/native for throughput and rates (higher is better), native/wasitls for"
  echo "times (higher is better), wasitls/native for memory (lower is better)."
  echo
  echo "| benchmark | wasitls | native | ratio | goal |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$root/bench/RESULTS.md"
echo "wrote bench/RESULTS.md"
