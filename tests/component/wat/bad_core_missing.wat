;; invalid: the instance passed does not export what the module imports
(component
  (core module $A (func (export "g")))
  (core module $B (import "a" "f" (func)))
  (core instance $a (instantiate $A))
  (core instance $b (instantiate $B (with "a" (instance $a))))
)
