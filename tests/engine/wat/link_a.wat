(module
  (memory (export "memory") 1)
  (global $counter (mut i32) (i32.const 0))
  (func (export "count") (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1))) (global.get $counter))
  (func (export "add") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
)
