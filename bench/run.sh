#!/usr/bin/env bash
# wasitls benchmarks: every figure is set against a native baseline measured in the same run on
# the same machine. Prints a table and writes it into bench/RESULTS.md (between the results
# markers; the hand-written sections around them are kept).
#
#   bench/run.sh BUILD_DIR        (make bench)
# Environment: BENCH_BYTES (bulk size, default 1 GiB), BENCH_SECS (one handshake round, default
#              3), BENCH_CONNS (default 10000), BENCH_ROUNDS (alternating native/guest rounds
#              for handshakes, default 11), BENCH_BULK_ROUNDS (the same for bulk, each direction,
#              default 9), BENCH_QUICK=1 (small sizes, a smoke run),
#              BENCH_OPT_BIG=1 (also compile the 10 MB StarlingMonkey module with the opt tier:
#              minutes and several GB), BENCH_OUT (results file, default bench/RESULTS.md).
#
# On a shared machine wall times swing with the load: bulk and handshake rounds alternate
# native and guest and the ratio reported is the median of the per-round ratios; start-up is the
# median of 21 runs, in wall time and in CPU time (user + system, which waiting for a core does
# not inflate).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
W="$build/wasitls"
B="$build/bench"
bytes=${BENCH_BYTES:-1073741824}
secs=${BENCH_SECS:-3}
conns=${BENCH_CONNS:-10000}
rounds=${BENCH_ROUNDS:-11}
brounds=${BENCH_BULK_ROUNDS:-9}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  bytes=67108864 secs=2 conns=200 rounds=${BENCH_ROUNDS:-1} brounds=${BENCH_BULK_ROUNDS:-1}
fi
out=${BENCH_OUT:-$root/bench/RESULTS.md}
for f in "$W" "$B/bench_server" "$B/bench_native" "$B/bench_time" "$B/bench_cpu_native" \
         "$B/bench-guest.wasm" "$B/bench-cpu.wasm" "$B/bench-hello.wasm"; do
  [ -e "$f" ] || { echo "bench: $f is missing (build first: make build)" >&2; exit 1; }
done

tmp=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# A private compiled-code cache: the warm figures use entries this run made.
export WASITLS_CACHE_DIR="$tmp/cache"

# The fd limit for the concurrency run: the hard limit. (Both clients and the server raise their
# own soft limit too; the concurrency rows run the clients with a soft limit of 1024 to show it.)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt $((conns + 64)) ]; then
  echo "bench: the hard fd limit ($(ulimit -Hn)) is below $conns connections" >&2
fi

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

# args... (opt tier, TLS granted, the bench CA trusted, full handshakes only: the native client
# caches no sessions either)
run_guest_full() {
  "$W" run --tier opt -S tls,inherit-network --tls-ca "$tmp/ca.pem" --tls-no-resume \
    "$B/bench-guest.wasm" "$@"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
  if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

rows=() round_ratios=()
# verdict WASITLS RATIO GOAL -> " (met)" / " (missed)" for goals this script can check
verdict() {
  awk -v w="$1" -v r="$2" -v g="$3" 'BEGIN {
    n = split(g, p, " "); v = ""
    if ((p[1] == ">=" || p[1] == "<=") && n == 2) { x = r + 0; y = p[2] + 0 }
    else if ((p[1] == ">=" || p[1] == "<=") && n == 3) { x = w + 0; y = p[2] + 0 }
    else if (p[1] == ">") { x = r + 0; y = p[2] + 0 }
    else if (g == "all complete") { p[1] = ">="; x = r + 0; y = 1 }
    else exit
    ok = (p[1] == ">=") ? x >= y : (p[1] == "<=") ? x <= y : x > y
    printf " (%s)", ok ? "met" : "missed" }'
}
row() {
  local goal="$5$(verdict "$2" "$4" "$5")"
  rows+=("| $1 | $2 | $3 | $4 | $goal |")
  printf '%-66s %16s %16s %8s  %s\n' "$1" "$2" "$3" "$4" "$goal"
}
printf '%-66s %16s %16s %8s  %s\n' "benchmark" "wasitls" "native" "ratio" "goal"

# Fill the cache for the guests so compile time is in no figure but the cold-compile rows.
"$W" compile -q --tier opt "$B/bench-guest.wasm"
"$W" compile -q --tier opt "$B/bench-cpu.wasm"
"$W" compile -q --tier fast "$B/bench-cpu.wasm"
"$W" compile -q --tier fast "$B/bench-hello.wasm"

# 1. bulk throughput, both directions (MiB/s; ratio = guest/native, median over rounds). The
# client's CPU time (user + system) is shown as well: waiting for a core, which the server and
# anything else on the machine cause, does not inflate it. The clients time the transfer alone,
# but CPU time is the whole process's, so each client's CPU for a 1 KiB transfer (start-up,
# trust store, handshake: ~0.05 s for wasitls, which loads the system store too) is subtracted.
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }')
cpu_of() { awk -v base="${1:-0}" '{ printf "%.2f", $1 + $2 - base }' "$tmp/cpu"; }
native_bulk() { /usr/bin/time -f '%U %S' -o "$tmp/cpu" "$B/bench_native" "$tmp/ca.pem" "$@"; }
guest_bulk() {
  /usr/bin/time -f '%U %S' -o "$tmp/cpu" "$W" run --tier opt -S tls,inherit-network \
    --tls-ca "$tmp/ca.pem" "$B/bench-guest.wasm" "$@"
}
for dir in recv send; do
  nb=() gb=()
  for _ in 1 2 3; do
    native_bulk "$dir" "$port" 1024 >/dev/null && nb+=("$(cpu_of)")
    guest_bulk "$dir" "$port" 1024 >/dev/null && gb+=("$(cpu_of)")
  done
  nbase=$(median "${nb[@]}") gbase=$(median "${gb[@]}")
  nts=() gts=() rs=() ncs=() gcs=() crs=()
  for i in $(seq "$brounds"); do
    # odd rounds run the guest first, even rounds the native client: what one leaves behind
    # (the server's state, the caches) favours neither
    if ((i % 2)); then
      g=$(guest_bulk "$dir" "$port" "$bytes")
      gc=$(cpu_of "$gbase")
      n=$(native_bulk "$dir" "$port" "$bytes")
      nc=$(cpu_of "$nbase")
    else
      n=$(native_bulk "$dir" "$port" "$bytes")
      nc=$(cpu_of "$nbase")
      g=$(guest_bulk "$dir" "$port" "$bytes")
      gc=$(cpu_of "$gbase")
    fi
    nt=$(awk -v s="$n" -v m="$mb" 'BEGIN { printf "%.1f", m / s }')
    gt=$(awk -v s="$g" -v m="$mb" 'BEGIN { printf "%.1f", m / s }')
    nts+=("$nt") gts+=("$gt") rs+=("$(ratio "$gt" "$nt")")
    ncs+=("$nc") gcs+=("$gc") crs+=("$(ratio "$nc" "$gc")")
  done
  row "TLS $dir ${mb} MiB, opt tier (MiB/s)" "$(median "${gts[@]}")" "$(median "${nts[@]}")" \
    "$(median "${rs[@]}")" ">= 0.95"
  round_ratios+=("$dir: ${rs[*]}")
  row "TLS $dir ${mb} MiB: client CPU user+sys, less start-up (s)" "$(median "${gcs[@]}")" \
    "$(median "${ncs[@]}")" "$(median "${crs[@]}")" "-"
done

# 2. full handshakes in a row (per second, median over rounds of $secs s each)
nhs=() ghs=() rs=()
for i in $(seq "$rounds"); do
  if ((i % 2)); then
    read -r gc gs < <(run_guest_full handshakes "$port" "$secs")
    read -r nc ns < <("$B/bench_native" "$tmp/ca.pem" handshakes "$port" "$secs")
  else
    read -r nc ns < <("$B/bench_native" "$tmp/ca.pem" handshakes "$port" "$secs")
    read -r gc gs < <(run_guest_full handshakes "$port" "$secs")
  fi
  nh=$(awk -v c="$nc" -v s="$ns" 'BEGIN { printf "%.1f", c / s }')
  gh=$(awk -v c="$gc" -v s="$gs" 'BEGIN { printf "%.1f", c / s }')
  nhs+=("$nh") ghs+=("$gh") rs+=("$(ratio "$gh" "$nh")")
done
round_ratios+=("handshakes: ${rs[*]}")
row "full handshakes, P-256, TLS 1.3 (per s)" "$(median "${ghs[@]}")" "$(median "${nhs[@]}")" \
  "$(median "${rs[@]}")" ">= 0.95"

# 3. concurrent connections in one process: each does a handshake and PING/PONG, all held open
# together. Completed, wall time, and memory per connection: (peak RSS with N connections -
# peak RSS with 10) / (N - 10). Soft fd limit 1024: each client must raise its own. The guest
# gets a handshake timeout like the native client's (none): with 10,000 handshakes queued on a
# one-thread server, the last ones finish after the host's default of 10 s.
conc() { # kind N -> "done secs peakKB"
  local o
  if [ "$1" = native ]; then
    o=$( (ulimit -Sn 1024; /usr/bin/time -f '%M' -o "$tmp/rss" \
          "$B/bench_native" "$tmp/ca.pem" concurrent "$port" "$2") 2>"$tmp/conc.err" || true)
  else
    o=$( (ulimit -Sn 1024; /usr/bin/time -f '%M' -o "$tmp/rss" \
          "$W" run --tier opt -S tls,inherit-network --tls-ca "$tmp/ca.pem" \
          --tls-handshake-timeout 600s "$B/bench-guest.wasm" concurrent "$port" "$2") \
          2>"$tmp/conc.err" || true)
  fi
  if [ -s "$tmp/conc.err" ]; then
    echo "bench: $1 concurrent $2 said:" >&2
    sed 's/connection [0-9]*/connection N/' "$tmp/conc.err" | sort | uniq -c | sort -rn | head -n3 >&2
  fi
  echo "${o:-0 0} $(tail -n1 "$tmp/rss")"
}
read -r nd nw nr < <(conc native "$conns")
read -r _ _ nr0 < <(conc native 10)
read -r gd gw gr < <(conc guest "$conns")
read -r _ _ gr0 < <(conc guest 10)
row "concurrent connections completed (of $conns)" "$gd" "$nd" "$(ratio "$gd" "$nd")" "all complete"
row "concurrent: wall time (s)" "$(printf %.2f "$gw")" "$(printf %.2f "$nw")" "$(ratio "$nw" "$gw")" "-"
row "concurrent: peak RSS, $conns / 10 conns (MiB)" "$(mib "$gr") / $(mib "$gr0")" \
  "$(mib "$nr") / $(mib "$nr0")" "-" "-"
npc=$(awk -v a="$nr" -v b="$nr0" -v n="$conns" 'BEGIN { printf "%.1f", (a - b) / (n - 10) }')
gpc=$(awk -v a="$gr" -v b="$gr0" -v n="$conns" 'BEGIN { printf "%.1f", (a - b) / (n - 10) }')
row "concurrent: KiB per connection" "$gpc" "$npc" "$(ratio "$gpc" "$npc")" "<= 1.1"

# 4. start-up: a cached hello component (fast tier), start to exit, median of 21 runs
read -r hw hc < <("$B/bench_time" 21 "$W" run "$B/bench-hello.wasm")
read -r tw tc < <("$B/bench_time" 21 /bin/true)
row "warm start, cached hello: wall (ms)" "$hw" "$tw (true)" "-" "<= 10 ms"
row "warm start, cached hello: CPU user+sys (ms)" "$hc" "$tc (true)" "-" "<= 10 ms"
# Cold compiles into an empty cache: wall time and the peak RSS of the largest process (wasitls
# itself, or cc1 for the opt tier).
sm="$root/node_modules/@bytecodealliance/componentize-js/lib/starlingmonkey_embedding.wasm"
[ -f "$sm" ] || sm=""
for tier in fast opt; do
  for m in "$B/bench-hello.wasm" ${sm:+"$sm"}; do
    [ "$tier" = opt ] && [ "$m" = "$sm" ] && [ "${BENCH_OPT_BIG:-0}" != 1 ] && continue
    rm -rf "$tmp/cold"
    if /usr/bin/time -f '%e %M' -o "$tmp/ct" \
        "$W" compile -q --tier "$tier" --cache-dir "$tmp/cold" "$m" >/dev/null 2>"$tmp/ct.err"; then
      read -r cs ck <"$tmp/ct"
      fig="$cs s / $(mib "$ck") MiB"
    else
      fig="failed: $(head -c 120 "$tmp/ct.err" | tr '\n|' '  ')"
    fi
    goal="-"; [ "$m" = "$sm" ] && [ "$tier" = fast ] && goal="<= 15 s"
    size=$(awk -v b="$(stat -c %s "$m")" 'BEGIN { if (b < 1e6) printf "%.0f kB", b / 1e3; else printf "%.1f MB", b / 1e6 }')
    row "cold compile, $tier tier: $(basename "$m") ($size)" "$fig" "-" "-" "$goal"
  done
done
rm -rf "$tmp/cold"

# 5. CPU-bound guest (SHA-256, 4 x 64 MiB): both tiers vs the same C built natively (-O2), and vs
# the same component on Node through jco. Each prints the hashing time only (no start-up).
read -r cd_ cs < <("$B/bench_cpu_native")
declare -A tier_s
for tier in fast opt; do
  read -r gd gs < <("$W" run --tier "$tier" "$B/bench-cpu.wasm")
  [ "$gd" = "$cd_" ] || gs="wrong-digest"
  tier_s[$tier]=$gs
  row "sha256 4x64 MiB, $tier tier vs native (s)" "$gs" "$cs" "$(ratio "$cs" "$gs")" "-"
done
jco="$root/node_modules/.bin/jco"
if [ -x "$jco" ]; then
  if read -r jd js < <("$jco" run "$B/bench-cpu.wasm" 2>"$tmp/jco.err") && [ "$jd" = "$cd_" ]; then
    row "sha256: opt tier vs jco on Node $(node --version) (s)" "${tier_s[opt]}" "$js (jco)" \
      "$(ratio "$js" "${tier_s[opt]}")" "> 1 (faster)"
  else
    row "sha256: opt tier vs jco on Node (s)" "${tier_s[opt]}" "jco failed" "-" "> 1 (faster)"
  fi
fi

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "<!-- results:begin (written by bench/run.sh) -->"
  echo "## Figures"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD -- src cli bench 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(uname -sr)"
  echo "- load average (1/5/15 min) at start: $load_start; at end: $load_end"
  echo "- $(openssl version); $(cc --version | head -n1); $(tcc -v 2>&1 | head -n1); wasm2c $(wasm2c --version 2>&1 | head -n1); node $(node --version 2>/dev/null || echo none)"
  echo "- sizes: bulk $mb MiB x $brounds round(s) each way, handshakes $rounds x ${secs} s, $conns concurrent connections"
  echo
  echo "Ratios: wasitls/native for rates (higher is better), native/wasitls for times (higher is"
  echo "better), wasitls/native for memory (lower is better). Bulk and handshake figures are medians"
  echo "over alternating rounds (the guest first in odd rounds, the native client in even ones);"
  echo "the ratio is the median of the per-round ratios, which were:"
  echo
  printf -- '- %s\n' "${round_ratios[@]}"
  echo
  echo "| benchmark | wasitls | native | ratio | goal |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo "<!-- results:end -->"
} >"$tmp/block"
if [ -f "$out" ] && grep -q '^<!-- results:begin' "$out" && grep -q '^<!-- results:end' "$out"; then
  awk -v blk="$tmp/block" '
    /^<!-- results:begin/ { while ((getline l < blk) > 0) print l; skip = 1; next }
    /^<!-- results:end/ { skip = 0; next }
    !skip { print }' "$out" >"$tmp/out"
else
  { echo "# wasitls benchmark results"; echo; cat "$tmp/block"; } >"$tmp/out"
fi
cp "$tmp/out" "$out"
echo "wrote $out"
