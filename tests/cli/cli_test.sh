#!/usr/bin/env bash
# cli_test.sh CASE WASITLS EXAMPLES_DIR: one check of the `wasitls` command as a user meets it.
# Exit 0 = pass. Every command runs under `timeout`, so a command that hangs fails the case.
set -uo pipefail

CASE=$1
W=$2
EX=$3
T=$(mktemp -d "${TMPDIR:-/tmp}/wasitls-cli.XXXXXX")
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
# A cache of our own: never the user's, never shared with a test running beside this one.
export WASITLS_CACHE_DIR="$T/cache"

fail() {
    echo "FAIL ($CASE): $*" >&2
    echo "--- stdout:" >&2
    head -c 3000 "$T/out" >&2
    echo "--- stderr:" >&2
    head -c 3000 "$T/err" >&2
    exit 1
}
# expect WANT_STATUS CMD...: runs CMD (at most 60 s) with stdout in $T/out, stderr in $T/err.
expect() {
    local want=$1 got=0
    shift
    timeout 60 "$@" >"$T/out" 2>"$T/err" </dev/null || got=$?
    [ "$got" = "$want" ] || fail "exit status $got, wanted $want: $*"
}
err_has() { grep -qF -- "$1" "$T/err" || fail "stderr lacks '$1'"; }
err_lacks() { ! grep -qF -- "$1" "$T/err" || fail "stderr has '$1'"; }
out_has() { grep -qF -- "$1" "$T/out" || fail "stdout lacks '$1'"; }

case $CASE in
input_files)
    # Devices, FIFOs and directories are refused at once (not read until memory runs out),
    # empty files are named as such, and every message names the file.
    mkfifo "$T/fifo"
    : >"$T/empty.wasm"
    for cmd in run compile wast; do
        expect 1 "$W" $cmd /dev/zero
        err_has "error: /dev/zero is not a regular file"
        expect 1 "$W" $cmd "$T/fifo"
        err_has "error: $T/fifo is not a regular file"
        expect 1 "$W" $cmd "$T"
        err_has "error: $T is a directory"
        expect 1 "$W" $cmd "$T/empty.wasm"
        err_has "error: $T/empty.wasm is empty"
        expect 1 "$W" $cmd "$T/missing.wasm"
        err_has "error: cannot read $T/missing.wasm: No such file or directory"
    done
    # over the 1 GiB limit (a sparse file: no disk used)
    truncate -s 1100M "$T/huge.wasm"
    expect 1 "$W" compile "$T/huge.wasm"
    err_has "error: $T/huge.wasm is too large"
    err_has "1 GiB"
    ;;
run_usage_exit_codes)
    # A bad option value is a usage error (2) that lists what is valid.
    expect 2 "$W" run --tls-backend boringssl x.wasm
    err_has "unknown --tls-backend 'boringssl'"
    err_has "openssl"
    expect 2 "$W" run --tls-handshake-timeout 25h x.wasm
    err_has "ms, s, m or h"
    err_has "24h"
    expect 2 "$W" run --tls-handshake-timeout 10x x.wasm
    err_has "ms, s, m or h"
    for t in nan inf 0x10 0x1p-1 -1s 1e3 ' 5' ''; do
        expect 2 "$W" run --tls-handshake-timeout "$t" x.wasm
    done
    expect 1 "$W" run -S tls --tls-handshake-timeout 1.5s "$T/missing.wasm"
    expect 2 "$W" run --tier slow x.wasm
    # accepted: units up to hours (the run then fails on the missing file, with 1)
    expect 1 "$W" run -S tls --tls-handshake-timeout 1h "$T/missing.wasm"
    err_has "cannot read $T/missing.wasm"
    expect 1 "$W" run -S tls --tls-handshake-timeout 250ms "$T/missing.wasm"
    expect 1 "$W" run -S tls --tls-handshake-timeout 2 "$T/missing.wasm"
    # one client certificate and one key
    expect 2 "$W" run -S tls --tls-client-cert a.pem --tls-client-cert b.pem x.wasm
    err_has "--tls-client-cert is given twice"
    expect 2 "$W" run -S tls --tls-client-key a.key --tls-client-key= x.wasm
    err_has "--tls-client-key"
    # a directory given as a CA file
    expect 2 "$W" run -S tls --tls-ca "$T" x.wasm
    err_has "$T: is a directory, not a PEM file"
    expect 2 "$W" run -S tls --tls-client-cert "$T" x.wasm
    err_has "--tls-client-cert $T: is a directory, not a PEM file"
    expect 2 "$W" run -S tls --tls-client-cert a.pem --tls-client-key "$T" x.wasm
    err_has "--tls-client-key $T: is a directory"
    expect 2 "$W" run -S tls --tls-client-key a.key x.wasm
    err_has "needs --tls-client-cert as well"
    # --tls-no-resume takes no value
    expect 2 "$W" run -S tls --tls-no-resume=yes x.wasm
    err_has "takes no value"
    # --help documents the new option and units
    expect 0 "$W" run --help
    out_has "--cache-dir DIR"
    out_has "ms, s, m"
    out_has "seconds without one"
    out_has "--tls-client-cert FILE"
    out_has "--tls-client-key FILE"
    ;;
run_hints)
    expect 2 "$W" run -s tls x.wasm
    err_has "unknown option '-s' (did you mean '-S'?)"
    expect 2 "$W" run --S tls x.wasm
    err_has "unknown option '--S' (did you mean '-S'?)"
    expect 2 "$W" run --net x.wasm
    err_has "(did you mean '-S inherit-network'?)"
    expect 2 "$W" run --network x.wasm
    err_has "(did you mean '-S inherit-network'?)"
    expect 2 "$W" run --tls x.wasm
    err_has "(did you mean '-S tls'?)"
    expect 2 "$W" run --dri x y.wasm
    err_has "(did you mean '--dir'?)"
    expect 2 "$W" run --cache-dri x y.wasm
    err_has "(did you mean '--cache-dir'?)"
    ;;
compile_usage)
    expect 2 "$W" compile --tier slow x.wasm
    expect 2 "$W" compile a.wasm b.wasm
    expect 2 "$W" compile --bogus x.wasm
    err_has "unknown option '--bogus'"
    expect 0 "$W" compile --help
    out_has "cache directory cannot be written"
    # a missing value is named as such, for compile and wast alike
    for cmd in compile wast; do
        expect 2 "$W" $cmd --tier
        err_has "error: --tier needs a value"
        expect 2 "$W" $cmd x --cache-dir
        err_has "error: --cache-dir needs a value"
        # NAME=VALUE works as it does for run (the missing file is then the error)
        expect 1 "$W" $cmd --tier=opt --cache-dir="$T/c" "$T/missing"
        err_has "cannot read $T/missing"
    done
    ;;
wast_multiple)
    # Every file given runs, and the summary covers all of them.
    cat >"$T/a.wast" <<'W'
(module (func (export "one") (result i32) (i32.const 1)))
(assert_return (invoke "one") (i32.const 1))
W
    cat >"$T/b.wast" <<'W'
(module (func (export "two") (result i32) (i32.const 2)))
(assert_return (invoke "two") (i32.const 2))
(assert_return (invoke "two") (i32.const 3))
W
    expect 1 "$W" wast --cache-dir "$T/c" "$T/a.wast" "$T/b.wast"
    # (a module definition counts as a passed command)
    out_has "$T/a.wast: 2 passed, 0 failed"
    out_has "$T/b.wast: 2 passed, 1 failed"
    [ "$(tail -n 1 "$T/out")" = "4 passed, 1 failed" ] || fail "last line is not the total"
    expect 0 "$W" wast --cache-dir "$T/c" "$T/a.wast" "$T/a.wast"
    [ "$(tail -n 1 "$T/out")" = "4 passed, 0 failed" ] || fail "last line is not the total"
    # a file that cannot be read counts as a failure, and the others still run
    expect 1 "$W" wast --cache-dir "$T/c" "$T/missing.wast" "$T/a.wast"
    out_has "$T/a.wast: 2 passed, 0 failed"
    [ "$(tail -n 1 "$T/out")" = "2 passed, 1 failed" ] || fail "last line is not the total"
    ;;
wast_crash)
    # wast2json (wabt 1.0.32) overflows its stack on deep nesting: say it crashed.
    python3 -c "print('(module (func ' + '(block ' * 20000 + ')' * 20000 + '))')" >"$T/deep.wast"
    expect 1 "$W" wast "$T/deep.wast"
    if grep -q "wast2json failed" "$T/err"; then
        fail "a crash reported as an ordinary failure"
    fi
    grep -qE "wast2json crashed on $T/deep.wast \(signal [0-9]+" "$T/err" ||
        fail "the crash is not reported as one"
    [ "$(tail -n 1 "$T/out")" = "0 passed, 1 failed" ] || fail "the script is not one failure"
    ;;
cache_unwritable)
    # compile exists to fill the cache: failing to write it is an error.
    echo x >"$T/file"
    for tier in fast opt; do
        expect 1 "$W" compile --tier $tier --cache-dir "$T/file" "$EX/hello.wasm"
        err_has "error: cannot write cache directory $T/file: not a directory"
        err_lacks "compiled"
        expect 1 "$W" compile --tier $tier --cache-dir "$T/file/sub" "$EX/hello.wasm"
        err_has "error: cannot write cache directory $T/file/sub: Not a directory"
    done
    # the default directory from the environment is checked the same way
    WASITLS_CACHE_DIR="$T/file" expect 1 "$W" compile "$EX/hello.wasm"
    err_has "cannot write cache directory $T/file"
    # run only warns, once, and runs without the cache
    expect 0 "$W" run --cache-dir "$T/file" "$EX/hello.wasm"
    [ "$(grep -c "warning: cannot write cache directory $T/file" "$T/err")" = 1 ] ||
        fail "run should warn exactly once"
    out_has "hello"
    # a writable directory: compile succeeds and fills it
    expect 0 "$W" compile -q --cache-dir "$T/ok" "$EX/hello.wasm"
    [ -n "$(ls -A "$T/ok")" ] || fail "compile left the cache empty"
    ;;
run_cache_dir)
    expect 0 "$W" run --cache-dir "$T/rc" "$EX/hello.wasm"
    out_has "hello"
    [ -n "$(ls -A "$T/rc")" ] || fail "run --cache-dir did not use the directory"
    [ ! -e "$T/cache" ] || fail "run --cache-dir still wrote the default cache"
    expect 0 "$W" run --cache-dir="$T/rc" "$EX/hello.wasm"
    ;;
run_backend_case)
    # backend names in any case
    expect 0 "$W" run -S tls --tls-backend OpenSSL "$EX/hello.wasm"
    out_has "hello"
    expect 0 "$W" run -S tls --tls-backend OPENSSL "$EX/hello.wasm"
    ;;
run_options_after_component)
    # `-S tls` after the component is a guest argument: say so when the grant is then missing.
    expect 1 "$W" run "$EX/https-get.wasm" -S tls https://127.0.0.1:9/
    err_has "error: "
    err_has "hint: '-S' comes after $EX/https-get.wasm"
    err_has "options go before COMPONENT.wasm"
    # without options after it, no such hint
    expect 1 "$W" run "$EX/https-get.wasm" https://127.0.0.1:9/
    err_lacks "hint: '"
    ;;
*)
    echo "unknown case $CASE" >&2
    exit 2
    ;;
esac
echo "ok $CASE"
