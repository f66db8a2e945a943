;; invalid: realloc with the wrong signature
(component
  (core module $M
    (memory (export "mem") 1)
    (func (export "realloc") (param i32) (result i32) (local.get 0))
    (func (export "f") (param i32 i32)))
  (core instance $m (instantiate $M))
  (alias core export $m "mem" (core memory $mem))
  (alias core export $m "realloc" (core func $r))
  (func (export "f") (param "s" string)
    (canon lift (core func $m "f") (memory $mem) (realloc $r)))
)
