;; invalid: a core import satisfied by a function of another type
(component
  (core module $A (func (export "f") (param i32)))
  (core module $B (import "a" "f" (func (param i64))))
  (core instance $a (instantiate $A))
  (core instance $b (instantiate $B (with "a" (instance $a))))
)
