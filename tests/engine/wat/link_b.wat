(module
  (import "a" "count" (func $count (result i32)))
  (import "a" "add" (func $add (param i64 i64) (result i64)))
  (func (export "twice") (result i32) (drop (call $count)) (call $count))
  (func (export "sum") (param i64) (result i64) (call $add (local.get 0) (i64.const 100)))
  (func (export "loop") (param i32) (result i64)
    (local $acc i64)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get 0)))
      (local.set $acc (call $add (local.get $acc) (i64.const 3)))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br $l)))
    (local.get $acc))
)
