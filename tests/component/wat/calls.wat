;; Call-path costs: the guest calls a host import N times (scalars, and a list<u8> view), the
;; host calls a small export many times.
(component
  (import "test:host/calls@1.0.0" (instance $host
    (export "tick" (func (param "x" u32) (result u32)))
    (export "feed" (func (param "b" (list u8)) (result u32)))
  ))
  (alias export $host "tick" (func $tick))
  (alias export $host "feed" (func $feed))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $tick-core (canon lower (func $tick)))
  (core func $feed-core (canon lower (func $feed) (memory $memory)))
  (core module $M
    (import "m" "mem" (memory 1))
    (import "h" "tick" (func $tick (param i32) (result i32)))
    (import "h" "feed" (func $feed (param i32 i32) (result i32)))
    (func (export "loop-tick") (param $n i32) (result i32) (local $acc i32)
      (block $done
        (loop $l
          (br_if $done (i32.eqz (local.get $n)))
          (local.set $acc (i32.add (local.get $acc) (call $tick (local.get $n))))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $l)))
      (local.get $acc))
    (func (export "loop-feed") (param $n i32) (param $len i32) (result i32) (local $acc i32)
      (block $done
        (loop $l
          (br_if $done (i32.eqz (local.get $n)))
          (local.set $acc (i32.add (local.get $acc) (call $feed (i32.const 0) (local.get $len))))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $l)))
      (local.get $acc))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  )
  (core instance $hi (export "tick" (func $tick-core)) (export "feed" (func $feed-core)))
  (core instance $mi (export "mem" (memory $memory)))
  (core instance $m (instantiate $M (with "m" (instance $mi)) (with "h" (instance $hi))))
  (func (export "loop-tick") (param "n" u32) (result u32) (canon lift (core func $m "loop-tick")))
  (func (export "loop-feed") (param "n" u32) (param "len" u32) (result u32)
    (canon lift (core func $m "loop-feed")))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $m "add")))
)
