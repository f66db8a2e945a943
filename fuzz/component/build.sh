#!/bin/sh
# Builds the component fuzz target with clang's libFuzzer (ASan + UBSan) and runs it on the
# seed corpus for a while:   fuzz/component/build.sh [SECONDS]
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-/tmp/wasitls-fuzz-component}
mkdir -p "$out/corpus"
cp "$here"/corpus/* "$out/corpus/" 2>/dev/null || true
CC=${CC:-clang-14}
$CC -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I"$root/include" \
    "$here/fuzz_component.c" "$root"/src/component/arena.c "$root"/src/component/types.c \
    "$root"/src/component/binary.c "$root"/src/component/canon.c "$root"/src/component/wit.c \
    "$root"/src/component/linker.c "$root"/src/util/cursor.c \
    "$root"/src/util/error.c -lm -o "$out/fuzz_component"
"$out/fuzz_component" -max_total_time="${1:-60}" "$out/corpus"
