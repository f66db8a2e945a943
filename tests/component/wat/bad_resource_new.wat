;; invalid: resource.new of a resource this component does not define
(component
  (import "test:host/res@1.0.0" (instance $h (export "thing" (type (sub resource)))))
  (alias export $h "thing" (type $t))
  (core func (canon resource.new $t))
)
