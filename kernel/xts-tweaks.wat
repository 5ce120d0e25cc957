;; The tweak XOR of AES-XTS (kernel/hyp-crypto.ts) in WebAssembly SIMD: a v128 per 16-byte block
;; instead of four 32-bit words in JavaScript. Build: wat2wasm kernel/xts-tweaks.wat -o - | base64 -w0,
;; into XTS_TWEAKS_WASM in kernel/xts-tweaks.ts.
;;
;; Each block's tweak is the one before it times α, so one unit's blocks are a chain of
;; doublings, each waiting for the last; four units are worked on side by side, their chains
;; independent, so that the processor overlaps them.
(module
  (memory (export "memory") 2)
  ;; XORs `units` units of `blocks` 16-byte blocks at `src` into `dst` (which may be `src`), block
  ;; j of unit i with T_i·α^j in GF(2^128): T_i the i-th 16 bytes at `tw`, α the polynomial x,
  ;; each block a 128-bit little-endian number (IEEE 1619-2007 §5.1). All offsets in bytes.
  ;;
  ;; t·α: each 64-bit half shifted left by one; the low half's top bit carried into the high
  ;; half, the high half's top bit (x^128) reduced into the low half as 0x87 — the two top bits
  ;; as masks (each 32-bit lane's sign), moved to those places and cut to 0x87 and 1 ($poly).
  (func (export "xorTweaks") (param $dst i32) (param $src i32) (param $tw i32) (param $units i32) (param $blocks i32)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $poly v128)
    (local $d i32) (local $unit i32) (local $p i32) (local $q i32) (local $j i32)
    (local.set $poly (v128.const i32x4 0x87 0 1 0))
    (local.set $d (i32.sub (local.get $dst) (local.get $src)))
    (local.set $unit (i32.shl (local.get $blocks) (i32.const 4)))
    ;; Four units at a time: block j of each, then block j + 1 of each.
    (block $fours_done
      (loop $fours
        (br_if $fours_done (i32.lt_u (local.get $units) (i32.const 4)))
        (local.set $t0 (v128.load offset=0 (local.get $tw)))
        (local.set $t1 (v128.load offset=16 (local.get $tw)))
        (local.set $t2 (v128.load offset=32 (local.get $tw)))
        (local.set $t3 (v128.load offset=48 (local.get $tw)))
        (local.set $p (local.get $src))
        (local.set $j (local.get $blocks))
        (loop $block
          (v128.store (i32.add (local.get $p) (local.get $d)) (v128.xor (v128.load (local.get $p)) (local.get $t0)))
          (local.set $q (i32.add (local.get $p) (local.get $unit)))
          (v128.store (i32.add (local.get $q) (local.get $d)) (v128.xor (v128.load (local.get $q)) (local.get $t1)))
          (local.set $q (i32.add (local.get $q) (local.get $unit)))
          (v128.store (i32.add (local.get $q) (local.get $d)) (v128.xor (v128.load (local.get $q)) (local.get $t2)))
          (local.set $q (i32.add (local.get $q) (local.get $unit)))
          (v128.store (i32.add (local.get $q) (local.get $d)) (v128.xor (v128.load (local.get $q)) (local.get $t3)))
          (local.set $t0
            (v128.xor (i64x2.shl (local.get $t0) (i32.const 1))
              (v128.and (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7 (i32x4.shr_s (local.get $t0) (i32.const 31)) (local.get $t0))
                (local.get $poly))))
          (local.set $t1
            (v128.xor (i64x2.shl (local.get $t1) (i32.const 1))
              (v128.and (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7 (i32x4.shr_s (local.get $t1) (i32.const 31)) (local.get $t1))
                (local.get $poly))))
          (local.set $t2
            (v128.xor (i64x2.shl (local.get $t2) (i32.const 1))
              (v128.and (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7 (i32x4.shr_s (local.get $t2) (i32.const 31)) (local.get $t2))
                (local.get $poly))))
          (local.set $t3
            (v128.xor (i64x2.shl (local.get $t3) (i32.const 1))
              (v128.and (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7 (i32x4.shr_s (local.get $t3) (i32.const 31)) (local.get $t3))
                (local.get $poly))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $block (local.tee $j (i32.sub (local.get $j) (i32.const 1)))))
        (local.set $src (i32.add (local.get $src) (i32.shl (local.get $unit) (i32.const 2))))
        (local.set $tw (i32.add (local.get $tw) (i32.const 64)))
        (local.set $units (i32.sub (local.get $units) (i32.const 4)))
        (br $fours)))
    ;; The units left over, one at a time.
    (block $done
      (loop $one
        (br_if $done (i32.eqz (local.get $units)))
        (local.set $t0 (v128.load (local.get $tw)))
        (local.set $j (local.get $blocks))
        (loop $block
          (v128.store (i32.add (local.get $src) (local.get $d)) (v128.xor (v128.load (local.get $src)) (local.get $t0)))
          (local.set $t0
            (v128.xor (i64x2.shl (local.get $t0) (i32.const 1))
              (v128.and (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7 (i32x4.shr_s (local.get $t0) (i32.const 31)) (local.get $t0))
                (local.get $poly))))
          (local.set $src (i32.add (local.get $src) (i32.const 16)))
          (br_if $block (local.tee $j (i32.sub (local.get $j) (i32.const 1)))))
        (local.set $tw (i32.add (local.get $tw) (i32.const 16)))
        (local.set $units (i32.sub (local.get $units) (i32.const 1)))
        (br $one)))))
