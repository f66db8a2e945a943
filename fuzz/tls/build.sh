#!/bin/sh
# Builds the TLS client fuzz target with clang's libFuzzer (ASan + UBSan), both backends, and
# runs it on the seed corpus for a while:   fuzz/tls/build.sh [SECONDS]
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-/tmp/wasitls-fuzz-tls}
mkdir -p "$out/corpus"
cp "$here"/corpus/* "$out/corpus/" 2>/dev/null || true
CC=${CC:-clang-14}
$CC -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -DWASITLS_HAVE_GNUTLS \
    -I"$root/include" "$here/fuzz_tls_client.c" \
    "$root"/src/tls/conn.c "$root"/src/tls/backends.c "$root"/src/tls/util.c \
    "$root"/src/tls/openssl/openssl.c "$root"/src/tls/gnutls/gnutls.c \
    "$root"/src/wasi/io.c "$root"/src/wasi/fdstream.c "$root"/src/util/error.c \
    -lssl -lcrypto -lgnutls -o "$out/fuzz_tls_client"
"$out/fuzz_tls_client" -max_total_time="${1:-60}" "$out/corpus"
