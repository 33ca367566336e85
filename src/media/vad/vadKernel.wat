;; The speech detector's per-sample arithmetic for one 20 ms frame (320 samples at 16 kHz), in
;; WebAssembly SIMD: the DC blocker and the six Butterworth sections of SpeechDetector.ts's
;; filterJs(), with the frame's three energies. The detector does everything else.
;;
;; Every value comes from the same IEEE operations, in the same order, as in the JavaScript path
;; (f64 throughout, no fused multiply-add, each energy summed in sample order): results are
;; bit-identical, which test/media/vad-kernel.test.ts checks.
;;
;; Two sections run per instruction, in three vectors: A = (u0, v0), both bands' first high-pass;
;; B = (u1, v1), the second high-passes; C = (u2, u3), the mid band's low-passes. A and B are
;; high-passes in both lanes, C low-passes in both, so each vector has one numerator form. A
;; section is a recursion (its output depends on the last through a multiply and two subtractions,
;; 9 cycles), and if every stage worked on the same sample a step would be one chain about 50
;; cycles deep (DC blocker → A → B → C → energies), too deep for the processor to overlap enough
;; steps. So the stages are software-pipelined, each behind the one that feeds it, and within a
;; step they are independent. Step s computes
;;   d, hd    sample s       (scalar: d = x − x[−1] + p·d[−1]; hd = d + d[−2] − 2·d[−1])
;;   A        sample s − 1   from hd of the step before
;;   B        sample s − 2   from A of the three steps before
;;   C        (u2 of sample s − 3, u3 of sample s − 5): u3's input is u2 two steps old and more
;;   energies += (v1, u3)² from the B and C of the step before
;; for s = 0 … 325. The pipeline fills during steps 0–5, where outputs for samples before the
;; frame are replaced by the state's (and no energy is counted for them), and drains during steps
;; 319–325, where each stage's last two outputs and each energy are stored out at the step that
;; completes sample 319 (what later steps compute, for samples beyond the frame, is not used).
;;
;; Memory (SpeechDetector.ts must agree on these offsets):
;;   FRAME   0     320 int16   the frame
;;   COEF    800   f64 pairs (a1, h1) (a2, h2) (b1, b1) (b2, b2), then the DC blocker's pole:
;;                 high-pass 300 Hz a1 a2, high-pass 3400 Hz h1 h2, low-pass 3400 Hz b1 b2
;;   XD      1024  326 f64     x[s] − x[s−1] (exact; 0 beyond the frame), replaced by hd[s] once
;;                             read; at 1016, hd[−1] (0: only step 0 reads it, for an output replaced)
;;   above 4096, the detectors' own state (SpeechDetector.ts's slots), each at the address `st`
;;   given to frame():
;;   st + 0    15 f64          the filter state, laid out as the detector's `z` (read and written):
;;                             u0 u0' u1 u1' u2 u2' u3 u3' v0 v0' v1 v1' (' = two samples back),
;;                             then the DC blocker's last input and its last two outputs
;;   st + 120  3 f64           out: total (DC removed), mid, high, before the cascades' gains
;; Build: npm run build:wasm (wabt's wat2wasm, with SIMD).
(module
  (memory (export "memory") 1)

  (func (export "frame") (param $st i32)
    (local $i i32) (local $s i32)
    (local $d f64) (local $d1 f64) (local $d2 f64) (local $p f64) (local $eT f64)
    (local $ka1 v128) (local $ka2 v128) (local $kb1 v128) (local $kb2 v128)
    (local $x v128) (local $xp v128)
    (local $a v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b v128) (local $b1 v128) (local $b2 v128)
    (local $c v128) (local $c1 v128) (local $c2 v128)
    (local $q v128) (local $q1 v128) (local $q2 v128)
    (local $e v128)

    ;; XD, two samples at a time; x[−1] is the state's
    (local.set $xp (f64x2.replace_lane 1 (local.get $xp) (f64.load offset=96 (local.get $st))))
    (loop $diff
      (local.set $x (f64x2.convert_low_i32x4_s (i32x4.extend_low_i16x8_s (v128.load32_zero (local.get $i)))))
      (v128.store offset=1024 (i32.shl (local.get $i) (i32.const 2))
        (f64x2.sub (local.get $x) (i8x16.shuffle 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 (local.get $xp) (local.get $x))))
      (local.set $xp (local.get $x))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $diff (i32.lt_u (local.get $i) (i32.const 640))))
    ;; XD[320 … 325], read by the draining steps for samples beyond the frame
    (v128.store offset=3584 (i32.const 0) (v128.const i64x2 0 0))
    (v128.store offset=3600 (i32.const 0) (v128.const i64x2 0 0))
    (v128.store offset=3616 (i32.const 0) (v128.const i64x2 0 0))

    (local.set $ka1 (v128.load offset=800 (i32.const 0)))
    (local.set $ka2 (v128.load offset=816 (i32.const 0)))
    (local.set $kb1 (v128.load offset=832 (i32.const 0)))
    (local.set $kb2 (v128.load offset=848 (i32.const 0)))
    (local.set $p (f64.load offset=864 (i32.const 0)))
    (local.set $d1 (f64.load offset=104 (local.get $st)))
    (local.set $d2 (f64.load offset=112 (local.get $st)))
    ;; A of sample −2, which step 1 reads as A two samples back (the rest starts at 0, and is
    ;; replaced before it counts)
    (local.set $a1 (f64x2.replace_lane 1 (v128.load64_zero offset=8 (local.get $st)) (f64.load offset=72 (local.get $st))))

    (local.set $i (i32.const 0))
    (loop $step
      ;; A = hd − k1·A[−1] − k2·A[−2]
      (local.set $a (f64x2.sub
        (f64x2.sub (v128.load64_splat offset=1016 (local.get $i)) (f64x2.mul (local.get $ka1) (local.get $a1)))
        (f64x2.mul (local.get $ka2) (local.get $a2))))
      ;; the DC blocker, and hd (over x[s] − x[s−1] in XD)
      (local.set $d (f64.add (f64.load offset=1024 (local.get $i)) (f64.mul (local.get $p) (local.get $d1))))
      (local.set $eT (f64.add (local.get $eT) (f64.mul (local.get $d) (local.get $d))))
      (f64.store offset=1024 (local.get $i)
        (f64.sub (f64.add (local.get $d) (local.get $d2)) (f64.add (local.get $d1) (local.get $d1))))
      (local.set $d2 (local.get $d1))
      (local.set $d1 (local.get $d))
      ;; B = A + A[−2] − 2·A[−1] − k1·B[−1] − k2·B[−2]  (A one step older)
      (local.set $b (f64x2.sub
        (f64x2.sub
          (f64x2.sub (f64x2.add (local.get $a1) (local.get $a3)) (f64x2.add (local.get $a2) (local.get $a2)))
          (f64x2.mul (local.get $ka1) (local.get $b1)))
        (f64x2.mul (local.get $ka2) (local.get $b2))))
      ;; C = q + q[−2] + 2·q[−1] − b1·C[−1] − b2·C[−2], q = (u1 one step old, u2 two steps old)
      (local.set $q (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $b1) (local.get $c2)))
      (local.set $c (f64x2.sub
        (f64x2.sub
          (f64x2.add (f64x2.add (local.get $q) (local.get $q2)) (f64x2.add (local.get $q1) (local.get $q1)))
          (f64x2.mul (local.get $kb1) (local.get $c1)))
        (f64x2.mul (local.get $kb2) (local.get $c2))))
      ;; energies += (v1, u3)² of the step before
      (local.set $x (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $b1) (local.get $c1)))
      (local.set $e (f64x2.add (local.get $e) (f64x2.mul (local.get $x) (local.get $x))))
      (local.set $a3 (local.get $a2))
      (local.set $a2 (local.get $a1))
      (local.set $a1 (local.get $a))
      (local.set $b2 (local.get $b1))
      (local.set $b1 (local.get $b))
      (local.set $q2 (local.get $q1))
      (local.set $q1 (local.get $q))
      (local.set $c2 (local.get $c1))
      (local.set $c1 (local.get $c))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      ;; on to the next step unless this one fills or drains the pipeline (steps 0–5, 319–325)
      (br_if $step (i32.lt_u (i32.sub (local.get $i) (i32.const 56)) (i32.const 2504)))
      (local.set $s (i32.sub (i32.shr_u (local.get $i) (i32.const 3)) (i32.const 1)))
      (block $done
      (block $s325 (block $s324 (block $s322 (block $s321 (block $s320 (block $s319
      (block $s5 (block $s4 (block $s3 (block $s2 (block $s1 (block $s0
        (br_table $s0 $s1 $s2 $s3 $s4 $s5 $s319 $s320 $s321 $s322 $done $s324 $s325
          (select (local.get $s) (i32.sub (local.get $s) (i32.const 313)) (i32.lt_u (local.get $s) (i32.const 6)))))
        ;; step 0: A of sample −1, B of sample −2 are the state's; nothing counted yet
        (local.set $a1 (f64x2.replace_lane 1 (v128.load64_zero offset=0 (local.get $st)) (f64.load offset=64 (local.get $st))))
        (local.set $b1 (f64x2.replace_lane 1 (v128.load64_zero offset=24 (local.get $st)) (f64.load offset=88 (local.get $st))))
        (local.set $e (v128.const i64x2 0 0))
        (br $done))
        ;; step 1: B of sample −1, u2 of sample −2
        (local.set $b1 (f64x2.replace_lane 1 (v128.load64_zero offset=16 (local.get $st)) (f64.load offset=80 (local.get $st))))
        (local.set $c1 (f64x2.replace_lane 0 (local.get $c1) (f64.load offset=40 (local.get $st))))
        (local.set $e (v128.const i64x2 0 0))
        (br $done))
        ;; step 2: u2 of sample −1
        (local.set $c1 (f64x2.replace_lane 0 (local.get $c1) (f64.load offset=32 (local.get $st))))
        (local.set $e (v128.const i64x2 0 0))
        (br $done))
        ;; step 3: u3 of sample −2; v1 of sample 0 was the first counted
        (local.set $c1 (f64x2.replace_lane 1 (local.get $c1) (f64.load offset=56 (local.get $st))))
        (local.set $e (f64x2.replace_lane 1 (local.get $e) (f64.const 0)))
        (br $done))
        ;; step 4: u3 of sample −1
        (local.set $c1 (f64x2.replace_lane 1 (local.get $c1) (f64.load offset=48 (local.get $st))))
        (local.set $e (f64x2.replace_lane 1 (local.get $e) (f64.const 0)))
        (br $done))
        ;; step 5: u3 of sample 0 is computed; counted from step 6
        (local.set $e (f64x2.replace_lane 1 (local.get $e) (f64.const 0)))
        (br $done))
        ;; step 319: the DC blocker and the total energy are done
        (f64.store offset=104 (local.get $st) (local.get $d1))
        (f64.store offset=112 (local.get $st) (local.get $d2))
        (f64.store offset=120 (local.get $st) (local.get $eT))
        (br $done))
        ;; step 320: A
        (f64.store offset=0 (local.get $st) (f64x2.extract_lane 0 (local.get $a1)))
        (f64.store offset=8 (local.get $st) (f64x2.extract_lane 0 (local.get $a2)))
        (f64.store offset=64 (local.get $st) (f64x2.extract_lane 1 (local.get $a1)))
        (f64.store offset=72 (local.get $st) (f64x2.extract_lane 1 (local.get $a2)))
        (br $done))
        ;; step 321: B
        (f64.store offset=16 (local.get $st) (f64x2.extract_lane 0 (local.get $b1)))
        (f64.store offset=24 (local.get $st) (f64x2.extract_lane 0 (local.get $b2)))
        (f64.store offset=80 (local.get $st) (f64x2.extract_lane 1 (local.get $b1)))
        (f64.store offset=88 (local.get $st) (f64x2.extract_lane 1 (local.get $b2)))
        (br $done))
        ;; step 322: u2, and the high band's energy
        (f64.store offset=32 (local.get $st) (f64x2.extract_lane 0 (local.get $c1)))
        (f64.store offset=40 (local.get $st) (f64x2.extract_lane 0 (local.get $c2)))
        (f64.store offset=136 (local.get $st) (f64x2.extract_lane 0 (local.get $e)))
        (br $done))
        ;; step 324: u3
        (f64.store offset=48 (local.get $st) (f64x2.extract_lane 1 (local.get $c1)))
        (f64.store offset=56 (local.get $st) (f64x2.extract_lane 1 (local.get $c2)))
        (br $done))
        ;; step 325: the mid band's energy
        (f64.store offset=128 (local.get $st) (f64x2.extract_lane 1 (local.get $e))))
      (br_if $step (i32.lt_u (local.get $i) (i32.const 2608))))

    (f64.store offset=96 (local.get $st) (f64.convert_i32_s (i32.load16_s offset=638 (i32.const 0))))))
