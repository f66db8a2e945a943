(module
  (func (export "f") (param i32) (result i32)
    (i32x4.extract_lane 0 (i32x4.splat (local.get 0))))
)
