;; invalid: own of a type that is not a resource
(component
  (type $u u32)
  (type (own $u))
)
