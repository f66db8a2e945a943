;; A nested component exporting a core module that the outer component instantiates, and one
;; that takes a core module and a type from its parent by outer aliases.
(component $top
  (core module $M2 (func (export "g") (result i32) (i32.const 7)))
  (type $ft (func (result u32)))
  (component $D
    (alias outer $top $M2 (core module $m))
    (alias outer $top $ft (type $t))
    (core instance $i (instantiate $m))
    (func (export "g") (type $t) (canon lift (core func $i "g"))))
  (instance $d (instantiate $D))
  (export "d" (instance $d))
  (component $C
    (core module $M (func (export "f") (result i32) (i32.const 42)))
    (export "m" (core module $M)))
  (instance $c (instantiate $C))
  (alias export $c "m" (core module $m))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $i "f")))
)
