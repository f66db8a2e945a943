(module
  (memory (export "memory") 16)
  (table 10 funcref)
  (global $g (mut i32) (i32.const 0))
  (func (export "touch") (param i32) (result i32)
    (i32.store (local.get 0) (i32.const 1)) (i32.load (local.get 0)))
)
