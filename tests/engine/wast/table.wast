;; Tables and call_indirect: null entries, out-of-range indices, signature mismatches, tables
;; shared across modules (function types are compared structurally across modules).
(module $A
  (type $ii (func (param i32) (result i32)))
  (type $v (func))
  (table $t (export "tab") 4 8 funcref)
  (func $double (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func $nop (type $v))
  (elem (i32.const 0) $double $inc $nop)
  (func (export "call") (param i32 i32) (result i32)
    (call_indirect (type $ii) (local.get 1) (local.get 0)))
  (func (export "size") (result i32) (table.size $t))
  (func (export "grow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0)))
  (func (export "is_null") (param i32) (result i32) (ref.is_null (table.get $t (local.get 0))))
)
(assert_return (invoke "call" (i32.const 0) (i32.const 21)) (i32.const 42))
(assert_return (invoke "call" (i32.const 1) (i32.const 41)) (i32.const 42))
(assert_trap (invoke "call" (i32.const 2) (i32.const 0)) "indirect call type mismatch")
(assert_trap (invoke "call" (i32.const 3) (i32.const 0)) "uninitialized element")
(assert_trap (invoke "call" (i32.const 4) (i32.const 0)) "undefined element")
(assert_trap (invoke "call" (i32.const -1) (i32.const 0)) "undefined element")
(assert_return (invoke "is_null" (i32.const 3)) (i32.const 1))
(assert_return (invoke "is_null" (i32.const 0)) (i32.const 0))
(assert_trap (invoke "is_null" (i32.const 4)) "out of bounds table access")
(assert_return (invoke "size") (i32.const 4))
(assert_return (invoke "grow" (i32.const 2)) (i32.const 4))
(assert_return (invoke "size") (i32.const 6))
(assert_return (invoke "grow" (i32.const 3)) (i32.const -1))
(assert_trap (invoke "call" (i32.const 5) (i32.const 0)) "uninitialized element")
(register "A" $A)

;; Another module writes its own function into A's table; A calls it (types match structurally).
(module $B
  (type $ii (func (param i32) (result i32)))
  (import "A" "tab" (table 4 funcref))
  (func $sq (type $ii) (i32.mul (local.get 0) (local.get 0)))
  (elem (i32.const 3) $sq)
  (func (export "via_b") (param i32 i32) (result i32) (call_indirect (type $ii) (local.get 1) (local.get 0)))
)
(assert_return (invoke $A "call" (i32.const 3) (i32.const 9)) (i32.const 81))
(assert_return (invoke $B "via_b" (i32.const 0) (i32.const 5)) (i32.const 10))
(assert_return (invoke $B "via_b" (i32.const 3) (i32.const 5)) (i32.const 25))
(assert_unlinkable (module (import "A" "tab" (table 10 funcref))) "incompatible import type")
(assert_unlinkable (module (import "A" "tab" (table 4 externref))) "incompatible import type")

;; an element segment out of bounds fails instantiation
(assert_trap (module (table 1 funcref) (func $f) (elem (i32.const 1) $f)) "out of bounds table access")

;; imported functions in tables, called indirectly
(module $C
  (import "A" "call" (func $acall (param i32 i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $acall)
  (func (export "ind") (param i32 i32) (result i32)
    (call_indirect (param i32 i32) (result i32) (local.get 0) (local.get 1) (i32.const 0)))
)
(assert_return (invoke $C "ind" (i32.const 1) (i32.const 1)) (i32.const 2))
