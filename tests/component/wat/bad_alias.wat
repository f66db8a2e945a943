;; invalid: alias of an export the instance does not have
(component
  (type $t (record (field "x" u32)))
  (instance $i (export "t" (type $t)))
  (alias export $i "nope" (type $u))
)
