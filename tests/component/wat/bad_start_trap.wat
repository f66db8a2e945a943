;; a core start function that traps during instantiation
(component
  (core module $M (func $s unreachable) (start $s))
  (core instance $m (instantiate $M))
)
