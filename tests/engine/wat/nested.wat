;; host -> guest "outer" -> host "h" -> guest "inner" -> ...
(module
  (import "host" "h" (func $h (param i32) (result i32)))
  (import "host" "fail" (func $fail))
  (func (export "outer") (param i32) (result i32) (i32.add (call $h (local.get 0)) (i32.const 1000)))
  (func (export "inner") (param i32) (result i32)
    (if (i32.eq (local.get 0) (i32.const 1)) (then unreachable))
    (if (i32.eq (local.get 0) (i32.const 2)) (then (call $fail)))
    (i32.mul (local.get 0) (i32.const 10)))
  (func (export "types") (param i32 i64 f32 f64) (result f64 i64)
    (f64.add (f64.convert_i32_s (local.get 0)) (local.get 3))
    (i64.add (local.get 1) (i64.trunc_f32_s (local.get 2))))
)
