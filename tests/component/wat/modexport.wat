;; A nested component exporting a core module that the outer component instantiates.
(component
  (component $C
    (core module $M (func (export "f") (result i32) (i32.const 42)))
    (export "m" (core module $M)))
  (instance $c (instantiate $C))
  (alias export $c "m" (core module $m))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $i "f")))
)
