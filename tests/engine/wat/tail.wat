(module
  (func $f (param i32) (result i32) (local.get 0))
  (func (export "g") (param i32) (result i32) (return_call $f (local.get 0)))
)
