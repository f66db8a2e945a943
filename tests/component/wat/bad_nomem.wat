;; invalid: a string parameter but no memory option
(component
  (core module $M (func (export "f") (param i32) (result i32) (local.get 0)))
  (core instance $m (instantiate $M))
  (func (export "f") (param "a" string) (result u32) (canon lift (core func $m "f")))
)
