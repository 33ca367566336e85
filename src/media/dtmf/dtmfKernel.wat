;; The DTMF detector's per-sample arithmetic for one 20 ms frame (320 samples at 16 kHz), in
;; WebAssembly SIMD: the half-band decimation to 8 kHz and the low-group Goertzel filters of the
;; four analysis windows that end in the frame. DtmfDetector.ts drives it and does everything else.
;;
;; Every lane computes exactly what the detector's JavaScript path computes, operation for
;; operation and in the same precision (no fused multiply-add): results are bit-identical, which
;; test/media/dtmf-kernel.test.ts checks. All in f32, four at a time: the decimator's outputs, and
;; the four windows' Goertzel filters side by side (one window per lane: four chains of dependent
;; operations in flight, whose latency, not their count, bounds that loop); the spectra in f64.
;;
;; Memory (laid out by DtmfDetector.ts, which must agree on these offsets): each detector's slot,
;; from 16384 up, holds its history (and its JavaScript path's buffers, the same layout):
;;   IN    22 int16    the decimator's last input samples (room for 342: the JavaScript path's)
;;   X     280 f32     at 688: the last 280 decimated samples, from $shift (room for 440);
;; and below 16384, the kernel's own, shared by every detector (hot in the caches; a frame touches
;; only 1.2 KB of its slot, read once and written back):
;;   WIN_IN 4096  342 int16   the work input: the slot's 22 samples of history, then the frame
;;                            (put there by the detector)
;;   WX     4800  440 f32     the work signal: the slot's 280 decimated samples, then the frame's 160
;;   EVEN  1024   172 f32     IN[2i]   (the half-band filter's centre taps)
;;   ODD   2400   172 f32     IN[2i+1] (its odd taps)
;;   WIN   8192   160 f32     the Hann window (rounded to f32, as the detector's WIN32)
;;   HB    9728   c0..c6 (half-band: centre, then the odd taps ±1 … ±11, f32): 7 f32
;;   K     9696   k0..k7 (2·cos ω of the eight tones, f32): 8 f32
;;   RES   10240  per window i = 0..3: s1[0..3], s2[0..3] (Goertzel states), energy: 9 f64
;;   TONE  10560  cos ω and sin ω of the four low-group tones: 8 f64
;;   GRES  11360  goertzel()'s results: s1[0..3], s2[0..3], energy: 9 f64
;;   TMP   11200  the four windows' filter states and energies, as vectors (144 bytes)
;;   SPEC  10624  per window i = 0..3 (136 bytes each): re[0..3], im[0..3], pw[0..3], mag[0..3] of the
;;                low group (the detector's spectrum()), then 1 if the window passes validate()'s first
;;                tests, else 0: the strongest row tone pr ≥ $floor, the others $nb times weaker, and
;;                energy ≤ pr·$bound.
;;   STATE at $st: the detector's `state` (f64; DtmfDetector.ts's ST_*): prevRe[0..7] at 0, prevIm
;;                 at 64, histMag[3][0..7] at 128, histT[3] at 320, histHi[3] at 344
;; After the frame, the slot's history is the work area's last 22 input and 280 decimated samples.
;; When no key is in progress and no window can start one (each fails the row test, or is the
;; first window and the detector has no previous one), the frame returns 1 having remembered the
;; four windows in STATE itself, as the detector's remember() would (nearly every frame of speech);
;; otherwise 0, and STATE is untouched.
;; Build: npm run build:wasm (wabt's wat2wasm, with SIMD).
(module
  (memory (export "memory") 1)

  ;; $slot: the detector's slot; $shift: where its last 280 decimated samples start in its X;
  ;; $k0: how many decimated samples of the frame come before the end of its first window (1..40).
  ;; $st: the detector's STATE; $idle: 0 while a key is in progress, else 1, or 3 when the
  ;; detector has a previous window; $end0: the end of the frame's first window, in decimated
  ;; samples since the start (histT's unit is two of them).
  (func (export "frame") (param $slot i32) (param $k0 i32) (param $shift i32)
    (param $floor f64) (param $nb f64) (param $bound f64)
    (param $st i32) (param $idle i32) (param $end0 f64) (result i32)
    (local $i i32) (local $a i32) (local $v v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $c4 v128) (local $c5 v128) (local $c6 v128)
    (local $in i32) (local $x i32)
    (local.set $in (i32.const 4096))
    (local.set $x (i32.const 5280)) ;; WX[120]: the frame's windows start from here on

    ;; 0. the slot's history into the work area: 22 input samples (44 bytes), 280 decimated (1,120)
    (local.set $i (i32.const 0))
    (loop $hist
      (i32.store offset=4096 (local.get $i) (i32.load (i32.add (local.get $slot) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $hist (i32.lt_u (local.get $i) (i32.const 44))))
    (local.set $a (i32.add (i32.add (local.get $slot) (i32.const 688)) (i32.shl (local.get $shift) (i32.const 2))))
    (local.set $i (i32.const 0))
    (loop $move
      (v128.store offset=4800 (local.get $i) (v128.load (i32.add (local.get $a) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $move (i32.lt_u (local.get $i) (i32.const 1120))))

    ;; 1. split the input into even and odd samples, as f32 (exact), four of each per instruction
    ;; (the last step reads 2 samples past the input: the slot's padding, into entries never used)
    (local.set $i (i32.const 0))
    (loop $split
      (local.set $v (i8x16.shuffle 0 1 4 5 8 9 12 13 2 3 6 7 10 11 14 15
        (v128.load (i32.add (local.get $in) (local.get $i))) (local.get $v)))
      (v128.store offset=1024 (local.get $i) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))
      (v128.store offset=2400 (local.get $i) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $split (i32.lt_u (local.get $i) (i32.const 688))))

    ;; 2. half-band decimation in f32, four outputs at a time. Output j is centred on IN[12 + 2j] =
    ;; EVEN[6 + j]; its tap pair ±(2k − 1) is ODD[6 + j − k] + ODD[5 + j + k]. Written to X[160 + j].
    (local.set $c0 (v128.load32_splat offset=9728 (i32.const 0)))
    (local.set $c1 (v128.load32_splat offset=9732 (i32.const 0)))
    (local.set $c2 (v128.load32_splat offset=9736 (i32.const 0)))
    (local.set $c3 (v128.load32_splat offset=9740 (i32.const 0)))
    (local.set $c4 (v128.load32_splat offset=9744 (i32.const 0)))
    (local.set $c5 (v128.load32_splat offset=9748 (i32.const 0)))
    (local.set $c6 (v128.load32_splat offset=9752 (i32.const 0)))
    (local.set $a (i32.const 0))
    (loop $dec
      (v128.store offset=640 (i32.add (local.get $x) (local.get $a))
        (f32x4.add
          (f32x4.add
            (f32x4.add
              (f32x4.add
                (f32x4.add
                  (f32x4.add
                    (f32x4.mul (local.get $c0) (v128.load offset=1048 (local.get $a)))
                    (f32x4.mul (local.get $c1)
                      (f32x4.add (v128.load offset=2420 (local.get $a)) (v128.load offset=2424 (local.get $a)))))
                  (f32x4.mul (local.get $c2)
                    (f32x4.add (v128.load offset=2416 (local.get $a)) (v128.load offset=2428 (local.get $a)))))
                (f32x4.mul (local.get $c3)
                  (f32x4.add (v128.load offset=2412 (local.get $a)) (v128.load offset=2432 (local.get $a)))))
              (f32x4.mul (local.get $c4)
                (f32x4.add (v128.load offset=2408 (local.get $a)) (v128.load offset=2436 (local.get $a)))))
            (f32x4.mul (local.get $c5)
              (f32x4.add (v128.load offset=2404 (local.get $a)) (v128.load offset=2440 (local.get $a)))))
          (f32x4.mul (local.get $c6)
            (f32x4.add (v128.load offset=2400 (local.get $a)) (v128.load offset=2444 (local.get $a))))))
      (local.set $a (i32.add (local.get $a) (i32.const 16)))
      (br_if $dec (i32.lt_u (local.get $a) (i32.const 640))))

    ;; 3. the four windows' low-group Goertzel filters in f32, one window per lane; then their
    ;; spectra (in f64, two windows per instruction) and row tests
    (call $quad (i32.add (local.get $x) (i32.shl (local.get $k0) (i32.const 2))))
    (call $spec (i32.const 10624) (i32.const 10240) (i32.const 0))
    (call $spec (i32.const 10624) (i32.const 10240) (i32.const 1))
    (call $spec (i32.const 10624) (i32.const 10240) (i32.const 2))
    (call $spec (i32.const 10624) (i32.const 10240) (i32.const 3))
    (call $spec (i32.const 10896) (i32.const 10384) (i32.const 0))
    (call $spec (i32.const 10896) (i32.const 10384) (i32.const 1))
    (call $spec (i32.const 10896) (i32.const 10384) (i32.const 2))
    (call $spec (i32.const 10896) (i32.const 10384) (i32.const 3))
    (call $row (i32.const 10624) (i32.const 10240) (local.get $floor) (local.get $nb) (local.get $bound))
    (call $row (i32.const 10760) (i32.const 10312) (local.get $floor) (local.get $nb) (local.get $bound))
    (call $row (i32.const 10896) (i32.const 10384) (local.get $floor) (local.get $nb) (local.get $bound))
    (call $row (i32.const 11032) (i32.const 10456) (local.get $floor) (local.get $nb) (local.get $bound))

    ;; 6. the history back to the slot: the input's last 22 samples, the last 280 decimated
    (local.set $i (i32.const 0))
    (loop $tail
      (i32.store (i32.add (local.get $slot) (local.get $i)) (i32.load offset=4736 (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $tail (i32.lt_u (local.get $i) (i32.const 44))))
    (local.set $a (i32.add (local.get $slot) (i32.const 688)))
    (local.set $i (i32.const 0))
    (loop $back
      (v128.store (i32.add (local.get $a) (local.get $i)) (v128.load offset=5440 (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $back (i32.lt_u (local.get $i) (i32.const 1120))))

    ;; 7. remember the four windows, if none can lead to a key (SPEC's row test results: 1.0 or 0.0)
    (if (i32.or
          (i32.eqz (local.get $idle))
          (i32.or
            (i32.and (i32.eq (local.get $idle) (i32.const 3)) (f64.ne (f64.load offset=10752 (i32.const 0)) (f64.const 0)))
            (f64.ne
              (f64.add (f64.add (f64.load offset=10888 (i32.const 0)) (f64.load offset=11024 (i32.const 0)))
                (f64.load offset=11160 (i32.const 0)))
              (f64.const 0))))
      (then (return (i32.const 0))))
    (call $remember (local.get $st) (local.get $end0))
    (i32.const 1))

  ;; remember() of the frame's four windows (from 0 to 4): each history slot j = 0..2 takes window
  ;; 3 − j's low-group magnitudes, no high group (histHi 0; slots 1 and 2 keep slot 0's high
  ;; entries, unread, as remember() leaves them) and its centre; prevRe/prevIm take window 3's.
  (func $remember (param $st i32) (param $end0 f64)
    ;; slots 1 and 2 take slot 0's high entries (unread while histHi is 0), as remember() leaves them
    (v128.store offset=224 (local.get $st) (v128.load offset=160 (local.get $st)))
    (v128.store offset=240 (local.get $st) (v128.load offset=176 (local.get $st)))
    (v128.store offset=288 (local.get $st) (v128.load offset=160 (local.get $st)))
    (v128.store offset=304 (local.get $st) (v128.load offset=176 (local.get $st)))
    ;; magnitudes: window w's mag[0..3] at SPEC + 136·w + 96
    (v128.store offset=128 (local.get $st) (v128.load offset=11128 (i32.const 0)))
    (v128.store offset=144 (local.get $st) (v128.load offset=11144 (i32.const 0)))
    (v128.store offset=192 (local.get $st) (v128.load offset=10992 (i32.const 0)))
    (v128.store offset=208 (local.get $st) (v128.load offset=11008 (i32.const 0)))
    (v128.store offset=256 (local.get $st) (v128.load offset=10856 (i32.const 0)))
    (v128.store offset=272 (local.get $st) (v128.load offset=10872 (i32.const 0)))
    ;; centres: 2·(end of window 3 − j − N/2), as remember() computes them
    (f64.store offset=320 (local.get $st)
      (f64.mul (f64.const 2) (f64.sub (f64.add (local.get $end0) (f64.const 120)) (f64.const 80))))
    (f64.store offset=328 (local.get $st)
      (f64.mul (f64.const 2) (f64.sub (f64.add (local.get $end0) (f64.const 80)) (f64.const 80))))
    (f64.store offset=336 (local.get $st)
      (f64.mul (f64.const 2) (f64.sub (f64.add (local.get $end0) (f64.const 40)) (f64.const 80))))
    (v128.store offset=344 (local.get $st) (v128.const i64x2 0 0))
    (f64.store offset=360 (local.get $st) (f64.const 0))
    ;; window 3's phase: re[0..3] at SPEC + 408, im at + 440
    (v128.store offset=0 (local.get $st) (v128.load offset=11032 (i32.const 0)))
    (v128.store offset=16 (local.get $st) (v128.load offset=11048 (i32.const 0)))
    (v128.store offset=64 (local.get $st) (v128.load offset=11064 (i32.const 0)))
    (v128.store offset=80 (local.get $st) (v128.load offset=11080 (i32.const 0))))

  ;; Tone $k of two windows (lane 0: the window whose SPEC is at $at and RES at $res, lane 1: the
  ;; next, 136 and 72 bytes on) from their Goertzel states: re = s1 − cos ω·s2, im = sin ω·s2,
  ;; pw = re² + im², mag = √pw, as spectrum() computes them (f64).
  (func $spec (param $at i32) (param $res i32) (param $k i32)
    (local $s1 v128) (local $s2 v128) (local $re v128) (local $im v128) (local $pw v128) (local $m v128) (local $o i32)
    (local.set $o (i32.shl (local.get $k) (i32.const 3)))
    (local.set $res (i32.add (local.get $res) (local.get $o)))
    (local.set $s1 (f64x2.replace_lane 1 (v128.load64_splat (local.get $res)) (f64.load offset=72 (local.get $res))))
    (local.set $s2 (f64x2.replace_lane 1 (v128.load64_splat offset=32 (local.get $res)) (f64.load offset=104 (local.get $res))))
    (local.set $re (f64x2.sub (local.get $s1)
      (f64x2.mul (v128.load64_splat offset=10560 (local.get $o)) (local.get $s2))))
    (local.set $im (f64x2.mul (v128.load64_splat offset=10592 (local.get $o)) (local.get $s2)))
    (local.set $pw (f64x2.add (f64x2.mul (local.get $re) (local.get $re)) (f64x2.mul (local.get $im) (local.get $im))))
    (local.set $m (f64x2.sqrt (local.get $pw)))
    (local.set $o (i32.add (local.get $at) (local.get $o)))
    (f64.store offset=0 (local.get $o) (f64x2.extract_lane 0 (local.get $re)))
    (f64.store offset=32 (local.get $o) (f64x2.extract_lane 0 (local.get $im)))
    (f64.store offset=64 (local.get $o) (f64x2.extract_lane 0 (local.get $pw)))
    (f64.store offset=96 (local.get $o) (f64x2.extract_lane 0 (local.get $m)))
    (f64.store offset=136 (local.get $o) (f64x2.extract_lane 1 (local.get $re)))
    (f64.store offset=168 (local.get $o) (f64x2.extract_lane 1 (local.get $im)))
    (f64.store offset=200 (local.get $o) (f64x2.extract_lane 1 (local.get $pw)))
    (f64.store offset=232 (local.get $o) (f64x2.extract_lane 1 (local.get $m))))

  ;; validate()'s first tests on the window whose spectrum is at $at and results at $res: the
  ;; strongest row tone (the first of equals) is at least $floor, every other row tone times $nb
  ;; stays at or below it, and the window's energy is at most $bound times it. Stores 1 or 0.
  (func $row (param $at i32) (param $res i32) (param $floor f64) (param $nb f64) (param $bound f64)
    (local $p0 f64) (local $p1 f64) (local $p2 f64) (local $p3 f64) (local $best f64) (local $r i32)
    (local.set $p0 (f64.load offset=64 (local.get $at)))
    (local.set $p1 (f64.load offset=72 (local.get $at)))
    (local.set $p2 (f64.load offset=80 (local.get $at)))
    (local.set $p3 (f64.load offset=88 (local.get $at)))
    (local.set $best (local.get $p0))
    (if (f64.gt (local.get $p1) (local.get $best)) (then (local.set $best (local.get $p1)) (local.set $r (i32.const 1))))
    (if (f64.gt (local.get $p2) (local.get $best)) (then (local.set $best (local.get $p2)) (local.set $r (i32.const 2))))
    (if (f64.gt (local.get $p3) (local.get $best)) (then (local.set $best (local.get $p3)) (local.set $r (i32.const 3))))
    (f64.store offset=128 (local.get $at)
      (f64.convert_i32_u
        (i32.and
          (i32.and
            (i32.eqz (f64.lt (local.get $best) (local.get $floor)))
            (i32.eqz (f64.gt (f64.load offset=64 (local.get $res)) (f64.mul (local.get $best) (local.get $bound)))))
          (i32.and
            (i32.and
              (i32.or (i32.eq (local.get $r) (i32.const 0)) (i32.eqz (f64.gt (f64.mul (local.get $p0) (local.get $nb)) (local.get $best))))
              (i32.or (i32.eq (local.get $r) (i32.const 1)) (i32.eqz (f64.gt (f64.mul (local.get $p1) (local.get $nb)) (local.get $best)))))
            (i32.and
              (i32.or (i32.eq (local.get $r) (i32.const 2)) (i32.eqz (f64.gt (f64.mul (local.get $p2) (local.get $nb)) (local.get $best))))
              (i32.or (i32.eq (local.get $r) (i32.const 3)) (i32.eqz (f64.gt (f64.mul (local.get $p3) (local.get $nb)) (local.get $best))))))))))

;; The four windows' low-group filters, window i in lane i (window 0 starts at $a, the others 40
  ;; samples apart), as goertzel() computes them, in f32: s = (v − s2) + k·s1 with v = x·w. Their
  ;; states and energies go to RES (as f64), by way of TMP.
  (func $quad (param $a i32)
    (local $n i32) (local $i i32) (local $v v128) (local $t v128) (local $e v128)
    (local $g0 v128) (local $g1 v128) (local $g2 v128) (local $g3 v128)
    (local $a1 v128) (local $a2 v128) (local $b1 v128) (local $b2 v128)
    (local $c1 v128) (local $c2 v128) (local $d1 v128) (local $d2 v128)
    (local.set $g0 (v128.load32_splat offset=9696 (i32.const 0)))
    (local.set $g1 (v128.load32_splat offset=9700 (i32.const 0)))
    (local.set $g2 (v128.load32_splat offset=9704 (i32.const 0)))
    (local.set $g3 (v128.load32_splat offset=9708 (i32.const 0)))
    (loop $win
      (local.set $v (f32x4.mul
        (f32x4.replace_lane 3
          (f32x4.replace_lane 2
            (f32x4.replace_lane 1 (v128.load32_zero (local.get $a)) (f32.load offset=160 (local.get $a)))
            (f32.load offset=320 (local.get $a)))
          (f32.load offset=480 (local.get $a)))
        (v128.load32_splat offset=8192 (i32.shl (local.get $n) (i32.const 2)))))
      (local.set $e (f32x4.add (local.get $e) (f32x4.mul (local.get $v) (local.get $v))))
      (local.set $t (f32x4.add (f32x4.sub (local.get $v) (local.get $a2)) (f32x4.mul (local.get $g0) (local.get $a1))))
      (local.set $a2 (local.get $a1)) (local.set $a1 (local.get $t))
      (local.set $t (f32x4.add (f32x4.sub (local.get $v) (local.get $b2)) (f32x4.mul (local.get $g1) (local.get $b1))))
      (local.set $b2 (local.get $b1)) (local.set $b1 (local.get $t))
      (local.set $t (f32x4.add (f32x4.sub (local.get $v) (local.get $c2)) (f32x4.mul (local.get $g2) (local.get $c1))))
      (local.set $c2 (local.get $c1)) (local.set $c1 (local.get $t))
      (local.set $t (f32x4.add (f32x4.sub (local.get $v) (local.get $d2)) (f32x4.mul (local.get $g3) (local.get $d1))))
      (local.set $d2 (local.get $d1)) (local.set $d1 (local.get $t))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $win (i32.lt_u (local.get $n) (i32.const 160))))
    ;; TMP: s1[tone 0..3], s2[tone 0..3], energy: nine vectors of the four windows
    (v128.store offset=11200 (i32.const 0) (local.get $a1))
    (v128.store offset=11216 (i32.const 0) (local.get $b1))
    (v128.store offset=11232 (i32.const 0) (local.get $c1))
    (v128.store offset=11248 (i32.const 0) (local.get $d1))
    (v128.store offset=11264 (i32.const 0) (local.get $a2))
    (v128.store offset=11280 (i32.const 0) (local.get $b2))
    (v128.store offset=11296 (i32.const 0) (local.get $c2))
    (v128.store offset=11312 (i32.const 0) (local.get $d2))
    (v128.store offset=11328 (i32.const 0) (local.get $e))
    ;; RES[window i][j] = TMP[j][i]
    (loop $lane
      (local.set $n (i32.const 0))
      (loop $item
        (f64.store offset=10240
          (i32.add (i32.mul (local.get $i) (i32.const 72)) (i32.shl (local.get $n) (i32.const 3)))
          (f64.promote_f32 (f32.load offset=11200
            (i32.add (i32.shl (local.get $n) (i32.const 4)) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br_if $item (i32.lt_u (local.get $n) (i32.const 9))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $lane (i32.lt_u (local.get $i) (i32.const 4)))))
  ;; One window's filters for four tones (the high group, when the detector needs it), as the
  ;; detector's goertzel() computes them: the window starts at $a, the tones' coefficients at $k.
  ;; One tone per lane; results to GRES.
  (func (export "goertzel") (param $a i32) (param $k i32)
    (local $n i32) (local $v f32) (local $e f32) (local $g v128) (local $s1 v128) (local $s2 v128) (local $t v128)
    (local.set $g (v128.load (local.get $k)))
    (loop $win
      (local.set $v (f32.mul (f32.load (local.get $a)) (f32.load offset=8192 (i32.shl (local.get $n) (i32.const 2)))))
      (local.set $e (f32.add (local.get $e) (f32.mul (local.get $v) (local.get $v))))
      (local.set $t (f32x4.add (f32x4.sub (f32x4.splat (local.get $v)) (local.get $s2)) (f32x4.mul (local.get $g) (local.get $s1))))
      (local.set $s2 (local.get $s1)) (local.set $s1 (local.get $t))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $win (i32.lt_u (local.get $n) (i32.const 160))))
    (f64.store offset=11360 (i32.const 0) (f64.promote_f32 (f32x4.extract_lane 0 (local.get $s1))))
    (f64.store offset=11368 (i32.const 0) (f64.promote_f32 (f32x4.extract_lane 1 (local.get $s1))))
    (f64.store offset=11376 (i32.const 0) (f64.promote_f32 (f32x4.extract_lane 2 (local.get $s1))))
    (f64.store offset=11384 (i32.const 0) (f64.promote_f32 (f32x4.extract_lane 3 (local.get $s1))))
    (f64.store offset=11392 (i32.const 0) (f64.promote_f32 (f32x4.extract_lane 0 (local.get $s2))))
    (f64.store offset=11400 (i32.const 0) (f64.promote_f32 (f32x4.extract_lane 1 (local.get $s2))))
    (f64.store offset=11408 (i32.const 0) (f64.promote_f32 (f32x4.extract_lane 2 (local.get $s2))))
    (f64.store offset=11416 (i32.const 0) (f64.promote_f32 (f32x4.extract_lane 3 (local.get $s2))))
    (f64.store offset=11424 (i32.const 0) (f64.promote_f32 (local.get $e)))))
