;; invalid: the core function's type does not match the lifted function type
(component
  (core module $M (func (export "f") (param i32) (result i32) (local.get 0)))
  (core instance $m (instantiate $M))
  (func (export "f") (param "a" u64) (result u32) (canon lift (core func $m "f")))
)
