#!/bin/sh
# The fast tier's automatic split (modules of over 2,000 functions), without WASITLS_SPLIT_FUNCS:
#  1. a module of 2,400 functions calling each other, through a table too, runs correctly;
#  2. a module the split refuses (an export named like the internal ones) compiles whole
#     instead, and with the split forced it fails and says why;
#  3. an invalid module of that size gets the same error as with the split turned off.
# usage: split_auto.sh WASITLS WAT2WASM WORKDIR
set -u
W=$1 WAT2WASM=$2 D=$3
rm -rf "$D" && mkdir -p "$D" || exit 1
unset WASITLS_SPLIT_FUNCS
fail() { echo "FAIL: $*"; exit 1; }

gen() { # gen N EXTRA-EXPORT BAD
    awk -v n="$1" -v extra="$2" -v bad="$3" 'BEGIN {
        print "(module (type $t (func (param i32) (result i32)))"
        print "  (table " n " funcref) (global $g (mut i32) (i32.const 0)) (memory 1)"
        print "  (func $f0 (type $t) (global.set $g (i32.add (global.get $g) (i32.const 1))) (local.get 0))"
        for (i = 1; i < n; i++)
            printf "  (func $f%d (type $t) (i32.add (call $f%d (local.get 0)) (i32.const 1)))\n", i, i - 1
        if (bad) print "  (func (result i32) (i64.const 1))"
        printf "  (elem (i32.const 0)"
        for (i = 0; i < n; i++) printf " $f%d", i
        print ")"
        printf "  (func (export \"last\") (param i32) (result i32) (call $f%d (local.get 0)))\n", n - 1
        print "  (func (export \"ind\") (param i32 i32) (result i32) (call_indirect (type $t) (local.get 1) (local.get 0)))"
        print "  (func (export \"calls\") (result i32) (global.get $g))"
        if (extra != "") printf "  (func (export \"%s\") (result i32) (i32.const 7))\n", extra
        print ")"
    }'
}

n=2400
gen $n "" 0 >"$D/big.wat" && "$WAT2WASM" "$D/big.wat" -o "$D/big.wasm" || fail "wat2wasm big"
cat >"$D/big.wast" <<EOF
(module binary "$(od -An -v -tx1 "$D/big.wasm" | tr -d ' \n' | sed 's/../\\&/g')")
(assert_return (invoke "last" (i32.const 5)) (i32.const $((5 + n - 1))))
(assert_return (invoke "ind" (i32.const 0) (i32.const 5)) (i32.const 5))
(assert_return (invoke "ind" (i32.const 1234) (i32.const 1)) (i32.const 1235))
(assert_return (invoke "ind" (i32.const $((n - 1))) (i32.const 0)) (i32.const $((n - 1))))
(assert_return (invoke "calls") (i32.const 4))
(assert_trap (invoke "ind" (i32.const $n) (i32.const 0)) "undefined element")
EOF
out=$("$W" wast "$D/big.wast" --tier fast --cache-dir "$D/c1" 2>&1)
echo "$out" | tail -n 3
echo "$out" | grep -q "^7 passed, 0 failed" || fail "big module"

gen $n "wasitls:x" 0 >"$D/clash.wat" && "$WAT2WASM" "$D/clash.wat" -o "$D/clash.wasm" ||
    fail "wat2wasm clash"
"$W" compile -q --tier fast --cache-dir "$D/c2" "$D/clash.wasm" || fail "automatic fallback"
out=$(WASITLS_SPLIT_FUNCS=300 "$W" compile -q --tier fast --cache-dir "$D/c3" "$D/clash.wasm" 2>&1)
rc=$?
echo "$out"
[ $rc -ne 0 ] || fail "a forced split that cannot work must fail"
echo "$out" | grep -q "compiles whole but not split" || fail "forced split message"

gen $n "" 1 >"$D/bad.wat" && "$WAT2WASM" --no-check "$D/bad.wat" -o "$D/bad.wasm" ||
    fail "wat2wasm bad"
a=$("$W" compile -q --tier fast --cache-dir "$D/c4" "$D/bad.wasm" 2>&1) && fail "invalid accepted"
b=$(WASITLS_SPLIT_FUNCS=0 "$W" compile -q --tier fast --cache-dir "$D/c5" "$D/bad.wasm" 2>&1) &&
    fail "invalid accepted whole"
echo "split: $a"
echo "whole: $b"
[ "$a" = "$b" ] || fail "the split changed the error"
echo ok
