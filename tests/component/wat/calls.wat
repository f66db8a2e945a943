;; Call-path costs: the guest calls a host import N times (scalars, and a list<u8> view), the
;; host calls a small export many times.
(component
  (import "test:host/calls@1.0.0" (instance $host
    (export "tick" (func (param "x" u32) (result u32)))
    (export "feed" (func (param "b" (list u8)) (result u32)))
    (type $many (tuple u32 u32 u32 u32 u32 u32 u32 u32 u32 u32 u32 u32 u32 u32 u32 u32 u32))
    (export "many" (func (param "a" $many) (result $many)))
  ))
  (alias export $host "tick" (func $tick))
  (alias export $host "feed" (func $feed))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $tick-core (canon lower (func $tick)))
  (core func $feed-core (canon lower (func $feed) (memory $memory)))
  (alias export $host "many" (func $many))
  (core module $Alloc
    (import "m" "mem" (memory 1))
    (global $bump (mut i32) (i32.const 8192))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (local $p i32)
      (local.set $p (global.get $bump))
      (global.set $bump (i32.add (global.get $bump) (i32.add (local.get 3) (i32.const 8))))
      (local.get $p)))
  (core instance $mi0 (export "mem" (memory $memory)))
  (core instance $alloc (instantiate $Alloc (with "m" (instance $mi0))))
  (alias core export $alloc "realloc" (core func $realloc))
  (core func $many-core (canon lower (func $many) (memory $memory) (realloc $realloc)))
  (core module $M
    (import "m" "mem" (memory 1))
    (import "h" "tick" (func $tick (param i32) (result i32)))
    (import "h" "feed" (func $feed (param i32 i32) (result i32)))
    ;; 17 flat parameters: the arguments travel in memory, and so does the tuple result
    (import "h" "many" (func $many (param i32 i32)))
    (func (export "sum17") (param $p i32) (result i32) (local $i i32) (local $s i32)
      (block $done
        (loop $l
          (br_if $done (i32.ge_u (local.get $i) (i32.const 17)))
          (local.set $s (i32.add (local.get $s)
                                 (i32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l)))
      (local.get $s))
    ;; pass 1..17 to the host's `many` (more than 16 flat values: an argument tuple in memory),
    ;; which reverses them; return the sum of weights i*x
    (func (export "call-many") (result i32) (local $i i32) (local $s i32)
      (block $filled
        (loop $f
          (br_if $filled (i32.ge_u (local.get $i) (i32.const 17)))
          (i32.store (i32.add (i32.const 512) (i32.shl (local.get $i) (i32.const 2)))
                     (i32.add (local.get $i) (i32.const 1)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $f)))
      (local.set $i (i32.const 0))
      (call $many (i32.const 512) (i32.const 256))
      (block $done
        (loop $l
          (br_if $done (i32.ge_u (local.get $i) (i32.const 17)))
          (local.set $s (i32.add (local.get $s)
                                 (i32.mul (i32.add (local.get $i) (i32.const 1))
                                          (i32.load (i32.add (i32.const 256) (i32.shl (local.get $i) (i32.const 2)))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l)))
      (local.get $s))
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
  (core instance $hi (export "tick" (func $tick-core)) (export "feed" (func $feed-core))
    (export "many" (func $many-core)))
  (core instance $mi (export "mem" (memory $memory)))
  (core instance $m (instantiate $M (with "m" (instance $mi)) (with "h" (instance $hi))))
  (func (export "loop-tick") (param "n" u32) (result u32) (canon lift (core func $m "loop-tick")))
  (func (export "loop-feed") (param "n" u32) (param "len" u32) (result u32)
    (canon lift (core func $m "loop-feed")))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $m "add")))
  (func (export "sum17")
    (param "a" u32) (param "b" u32) (param "c" u32) (param "d" u32) (param "e" u32) (param "f" u32)
    (param "g" u32) (param "h" u32) (param "i" u32) (param "j" u32) (param "k" u32) (param "l" u32)
    (param "m" u32) (param "n" u32) (param "o" u32) (param "p" u32) (param "q" u32) (result u32)
    (canon lift (core func $m "sum17") (memory $memory) (realloc $realloc)))
  (func (export "call-many") (result u32) (canon lift (core func $m "call-many")))
)
