;; The DTMF detector's per-sample arithmetic for one 20 ms frame (320 samples at 16 kHz), in
;; WebAssembly SIMD: the half-band decimation to 8 kHz and the low-group Goertzel filters of the
;; four analysis windows that end in the frame. DtmfDetector.ts drives it and does everything else.
;;
;; Every lane computes exactly what the detector's JavaScript path computes, operation for
;; operation, in f64 (no fused multiply-add): results are bit-identical, which
;; test/media/dtmf-kernel.test.ts checks. The gain is from doing two of them per instruction: two
;; consecutive decimator outputs, and two windows' filters, side by side.
;;
;; Memory (laid out by DtmfDetector.ts, which must agree on these offsets): each detector's slot,
;; from 16384 up, holds its input and its decimated signal, passed to frame() as
;;   IN    342 int16   the decimator's 22 samples of history, then the frame
;;   X     320 f64     the 160 decimated samples before the frame, then room for the frame's 160;
;; and below 16384, the kernel's own:
;;   EVEN  1024   171 f64     IN[2i]   (the half-band filter's centre taps)
;;   ODD   2400   171 f64     IN[2i+1] (its odd taps)
;;   WIN   8192   160 f64     the Hann window
;;   COEF  9600   c0..c6 (half-band: centre, then the odd taps ±1 … ±11), k0..k3 (2·cos ω of the
;;                four low-group tones): 11 f64
;;   RES   10240  per window i = 0..3: s1[0..3], s2[0..3] (Goertzel states), energy: 9 f64
;; Build: npm run build:wasm (wabt's wat2wasm, with SIMD).
(module
  (memory (export "memory") 1)

  ;; $k0: how many decimated samples of the frame come before the end of its first window (1..40).
  (func (export "frame") (param $in i32) (param $x i32) (param $k0 i32)
    (local $i i32) (local $a i32) (local $n i32)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $c4 v128) (local $c5 v128) (local $c6 v128)
    (local $g0 v128) (local $g1 v128) (local $g2 v128) (local $g3 v128)
    (local $w v128) (local $v01 v128) (local $v23 v128) (local $t v128)
    (local $e01 v128) (local $e23 v128)
    (local $a1 v128) (local $a2 v128) (local $b1 v128) (local $b2 v128)
    (local $c1s v128) (local $c2s v128) (local $d1 v128) (local $d2 v128)
    (local $p1 v128) (local $p2 v128) (local $q1 v128) (local $q2 v128)
    (local $r1 v128) (local $r2 v128) (local $s1 v128) (local $s2 v128)

    ;; 1. split the input into even and odd samples, as f64
    (local.set $i (i32.const 0))
    (loop $split
      (local.set $a (i32.add (local.get $in) (i32.shl (local.get $i) (i32.const 2))))
      (f64.store offset=1024 (i32.shl (local.get $i) (i32.const 3))
        (f64.convert_i32_s (i32.load16_s offset=0 (local.get $a))))
      (f64.store offset=2400 (i32.shl (local.get $i) (i32.const 3))
        (f64.convert_i32_s (i32.load16_s offset=2 (local.get $a))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $split (i32.lt_u (local.get $i) (i32.const 171))))

    ;; 2. half-band decimation, two outputs at a time. Output j is centred on IN[12 + 2j] = EVEN[6 + j];
    ;; its tap pair ±(2k − 1) is ODD[6 + j − k] + ODD[5 + j + k]. Written to X[160 + j].
    (local.set $c0 (f64x2.splat (f64.load offset=9600 (i32.const 0))))
    (local.set $c1 (f64x2.splat (f64.load offset=9608 (i32.const 0))))
    (local.set $c2 (f64x2.splat (f64.load offset=9616 (i32.const 0))))
    (local.set $c3 (f64x2.splat (f64.load offset=9624 (i32.const 0))))
    (local.set $c4 (f64x2.splat (f64.load offset=9632 (i32.const 0))))
    (local.set $c5 (f64x2.splat (f64.load offset=9640 (i32.const 0))))
    (local.set $c6 (f64x2.splat (f64.load offset=9648 (i32.const 0))))
    (local.set $i (i32.const 0))
    (loop $dec
      (local.set $a (i32.shl (local.get $i) (i32.const 3)))
      (v128.store offset=1280 (i32.add (local.get $x) (local.get $a))
        (f64x2.add
          (f64x2.add
            (f64x2.add
              (f64x2.add
                (f64x2.add
                  (f64x2.add
                    (f64x2.mul (local.get $c0) (v128.load offset=1072 (local.get $a)))
                    (f64x2.mul (local.get $c1)
                      (f64x2.add (v128.load offset=2440 (local.get $a)) (v128.load offset=2448 (local.get $a)))))
                  (f64x2.mul (local.get $c2)
                    (f64x2.add (v128.load offset=2432 (local.get $a)) (v128.load offset=2456 (local.get $a)))))
                (f64x2.mul (local.get $c3)
                  (f64x2.add (v128.load offset=2424 (local.get $a)) (v128.load offset=2464 (local.get $a)))))
              (f64x2.mul (local.get $c4)
                (f64x2.add (v128.load offset=2416 (local.get $a)) (v128.load offset=2472 (local.get $a)))))
            (f64x2.mul (local.get $c5)
              (f64x2.add (v128.load offset=2408 (local.get $a)) (v128.load offset=2480 (local.get $a)))))
          (f64x2.mul (local.get $c6)
            (f64x2.add (v128.load offset=2400 (local.get $a)) (v128.load offset=2488 (local.get $a))))))
      (local.set $i (i32.add (local.get $i) (i32.const 2)))
      (br_if $dec (i32.lt_u (local.get $i) (i32.const 160))))

    ;; 3. the four windows' low-group Goertzel filters in lockstep: lanes (window 0, window 1) and
    ;; (window 2, window 3); window i is X[k0 + 40i .. k0 + 40i + 160), weighted by the Hann window.
    ;; s = (v − s2) + k·s1, as the JavaScript path writes it.
    (local.set $g0 (f64x2.splat (f64.load offset=9656 (i32.const 0))))
    (local.set $g1 (f64x2.splat (f64.load offset=9664 (i32.const 0))))
    (local.set $g2 (f64x2.splat (f64.load offset=9672 (i32.const 0))))
    (local.set $g3 (f64x2.splat (f64.load offset=9680 (i32.const 0))))
    (local.set $n (i32.const 0))
    (local.set $a (i32.add (local.get $x) (i32.shl (local.get $k0) (i32.const 3))))
    (loop $win
      (local.set $w (v128.load64_splat offset=8192 (i32.shl (local.get $n) (i32.const 3))))
      (local.set $v01 (f64x2.mul (local.get $w)
        (f64x2.replace_lane 1 (v128.load64_splat (local.get $a)) (f64.load offset=320 (local.get $a)))))
      (local.set $v23 (f64x2.mul (local.get $w)
        (f64x2.replace_lane 1 (v128.load64_splat offset=640 (local.get $a)) (f64.load offset=960 (local.get $a)))))
      (local.set $e01 (f64x2.add (local.get $e01) (f64x2.mul (local.get $v01) (local.get $v01))))
      (local.set $e23 (f64x2.add (local.get $e23) (f64x2.mul (local.get $v23) (local.get $v23))))
      ;; tone 0
      (local.set $t (f64x2.add (f64x2.sub (local.get $v01) (local.get $a2)) (f64x2.mul (local.get $g0) (local.get $a1))))
      (local.set $a2 (local.get $a1)) (local.set $a1 (local.get $t))
      (local.set $t (f64x2.add (f64x2.sub (local.get $v23) (local.get $b2)) (f64x2.mul (local.get $g0) (local.get $b1))))
      (local.set $b2 (local.get $b1)) (local.set $b1 (local.get $t))
      ;; tone 1
      (local.set $t (f64x2.add (f64x2.sub (local.get $v01) (local.get $c2s)) (f64x2.mul (local.get $g1) (local.get $c1s))))
      (local.set $c2s (local.get $c1s)) (local.set $c1s (local.get $t))
      (local.set $t (f64x2.add (f64x2.sub (local.get $v23) (local.get $d2)) (f64x2.mul (local.get $g1) (local.get $d1))))
      (local.set $d2 (local.get $d1)) (local.set $d1 (local.get $t))
      ;; tone 2
      (local.set $t (f64x2.add (f64x2.sub (local.get $v01) (local.get $p2)) (f64x2.mul (local.get $g2) (local.get $p1))))
      (local.set $p2 (local.get $p1)) (local.set $p1 (local.get $t))
      (local.set $t (f64x2.add (f64x2.sub (local.get $v23) (local.get $q2)) (f64x2.mul (local.get $g2) (local.get $q1))))
      (local.set $q2 (local.get $q1)) (local.set $q1 (local.get $t))
      ;; tone 3
      (local.set $t (f64x2.add (f64x2.sub (local.get $v01) (local.get $r2)) (f64x2.mul (local.get $g3) (local.get $r1))))
      (local.set $r2 (local.get $r1)) (local.set $r1 (local.get $t))
      (local.set $t (f64x2.add (f64x2.sub (local.get $v23) (local.get $s2)) (f64x2.mul (local.get $g3) (local.get $s1))))
      (local.set $s2 (local.get $s1)) (local.set $s1 (local.get $t))
      (local.set $a (i32.add (local.get $a) (i32.const 8)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $win (i32.lt_u (local.get $n) (i32.const 160))))

    ;; 4. results: window 0 and 2 from lane 0, windows 1 and 3 from lane 1
    (call $put (i32.const 10240) (i32.const 0) (local.get $a1) (local.get $a2) (local.get $c1s) (local.get $c2s)
      (local.get $p1) (local.get $p2) (local.get $r1) (local.get $r2) (local.get $e01))
    (call $put (i32.const 10312) (i32.const 1) (local.get $a1) (local.get $a2) (local.get $c1s) (local.get $c2s)
      (local.get $p1) (local.get $p2) (local.get $r1) (local.get $r2) (local.get $e01))
    (call $put (i32.const 10384) (i32.const 0) (local.get $b1) (local.get $b2) (local.get $d1) (local.get $d2)
      (local.get $q1) (local.get $q2) (local.get $s1) (local.get $s2) (local.get $e23))
    (call $put (i32.const 10456) (i32.const 1) (local.get $b1) (local.get $b2) (local.get $d1) (local.get $d2)
      (local.get $q1) (local.get $q2) (local.get $s1) (local.get $s2) (local.get $e23)))

  ;; Stores one lane of a window's results at $at: s1[0..3], s2[0..3], energy.
  (func $put (param $at i32) (param $lane i32)
    (param $t0a v128) (param $t0b v128) (param $t1a v128) (param $t1b v128)
    (param $t2a v128) (param $t2b v128) (param $t3a v128) (param $t3b v128) (param $e v128)
    (if (local.get $lane)
      (then
        (f64.store offset=0 (local.get $at) (f64x2.extract_lane 1 (local.get $t0a)))
        (f64.store offset=8 (local.get $at) (f64x2.extract_lane 1 (local.get $t1a)))
        (f64.store offset=16 (local.get $at) (f64x2.extract_lane 1 (local.get $t2a)))
        (f64.store offset=24 (local.get $at) (f64x2.extract_lane 1 (local.get $t3a)))
        (f64.store offset=32 (local.get $at) (f64x2.extract_lane 1 (local.get $t0b)))
        (f64.store offset=40 (local.get $at) (f64x2.extract_lane 1 (local.get $t1b)))
        (f64.store offset=48 (local.get $at) (f64x2.extract_lane 1 (local.get $t2b)))
        (f64.store offset=56 (local.get $at) (f64x2.extract_lane 1 (local.get $t3b)))
        (f64.store offset=64 (local.get $at) (f64x2.extract_lane 1 (local.get $e))))
      (else
        (f64.store offset=0 (local.get $at) (f64x2.extract_lane 0 (local.get $t0a)))
        (f64.store offset=8 (local.get $at) (f64x2.extract_lane 0 (local.get $t1a)))
        (f64.store offset=16 (local.get $at) (f64x2.extract_lane 0 (local.get $t2a)))
        (f64.store offset=24 (local.get $at) (f64x2.extract_lane 0 (local.get $t3a)))
        (f64.store offset=32 (local.get $at) (f64x2.extract_lane 0 (local.get $t0b)))
        (f64.store offset=40 (local.get $at) (f64x2.extract_lane 0 (local.get $t1b)))
        (f64.store offset=48 (local.get $at) (f64x2.extract_lane 0 (local.get $t2b)))
        (f64.store offset=56 (local.get $at) (f64x2.extract_lane 0 (local.get $t3b)))
        (f64.store offset=64 (local.get $at) (f64x2.extract_lane 0 (local.get $e)))))))
