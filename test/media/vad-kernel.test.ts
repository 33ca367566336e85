/**
 * The speech detector's WebAssembly kernel (src/media/vad/vadKernel.wat) against its JavaScript
 * path: two detectors, one with the kernel and one without, fed the same frames, report the same
 * levels, floors, band share, decisions and times, and hold the same filter state and energies,
 * bit for bit, after every frame: on speech (espeak-ng; a synthetic talker where it is missing),
 * white and pink noise, sine sweeps, full-scale square waves (the int16 extremes), digital silence
 * before and after sound (the at-rest shortcut, coming to rest as a tail dies out), minutes of all of
 * it mixed, and arbitrary filter states (denormal, signed zero, huge). The bands' shortcut in long
 * digital silence is checked here too, against detectors without it. That the committed
 * vadKernel.wasm is what vadKernel.wat compiles to is checked with the other kernels, in
 * dtmf-kernel.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpeechDetector, VAD_KERNEL_AVAILABLE } from '../../src/media/vad/SpeechDetector.ts';
import { dbfsAmplitude, espeakVersion, openSpeechSynth, pinkNoise, prng, toInt16, whiteNoise } from '../helpers/audio.ts';

const FS = 16000;
const FRAME = 320;

/** Where the detector's private state lies: its filter state (z, 15 numbers), then its energies (3). */
interface Internals {
  kernel: boolean;
  mem: { f64: Float64Array };
  at: number;
}
const internals = (d: SpeechDetector) => d as unknown as Internals;
/** The detector's filter state and energies, as views of where they lie now (the kernel's memory may have grown since). */
function zOf(d: SpeechDetector): Float64Array {
  const { mem, at } = internals(d);
  return mem.f64.subarray(at, at + 15);
}
function energyOf(d: SpeechDetector): Float64Array {
  const { mem, at } = internals(d);
  return mem.f64.subarray(at + 15, at + 18);
}

/** Everything the detector reports or keeps about a frame, in order. */
function snapshot(d: SpeechDetector, speaking: boolean): unknown[] {
  const z = zOf(d), energy = energyOf(d);
  return [
    speaking, d.speaking, d.speechSeen, d.frameActive, d.frames, d.nowMs, d.lastSpeechStartMs, d.lastSpeechEndMs,
    d.silenceMs, d.levelDb, d.noiseFloorDb, d.highLevelDb, d.highNoiseFloorDb, d.bandShare, ...energy, ...z,
  ];
}
const FIELDS = [
  'process()', 'speaking', 'speechSeen', 'frameActive', 'frames', 'nowMs', 'lastSpeechStartMs', 'lastSpeechEndMs',
  'silenceMs', 'levelDb', 'noiseFloorDb', 'highLevelDb', 'highNoiseFloorDb', 'bandShare', 'energy[0]', 'energy[1]', 'energy[2]',
  ...Array.from({ length: 15 }, (_, i) => `z[${i}]`),
];

/** A detector with the kernel and one without. */
function pair(): { kernel: SpeechDetector; js: SpeechDetector } {
  const kernel = new SpeechDetector();
  assert.equal(internals(kernel).kernel, VAD_KERNEL_AVAILABLE);
  const js = new SpeechDetector({ kernel: false });
  assert.equal(internals(js).kernel, false);
  return { kernel, js };
}

/** Feeds `x` to both, frame by frame; they must agree exactly (Object.is) after every frame. Returns the frames fed. */
function feed(p: { kernel: SpeechDetector; js: SpeechDetector }, x: Int16Array, what: string): number {
  let n = 0;
  for (let at = 0; at + FRAME <= x.length; at += FRAME, n++) {
    const frame = x.subarray(at, at + FRAME);
    const a = snapshot(p.kernel, p.kernel.process(frame));
    const b = snapshot(p.js, p.js.process(frame));
    for (let i = 0; i < a.length; i++) {
      if (!Object.is(a[i], b[i])) assert.fail(`${what}, frame ${n}: ${FIELDS[i]} is ${a[i]} with the kernel, ${b[i]} without`);
    }
  }
  return n;
}

/** `x` (unit RMS) scaled to the RMS of a sine at `dbfs`. */
const scaled = (dbfs: number, x: Float64Array): Float64Array => x.map((v) => (v * dbfsAmplitude(dbfs)) / Math.SQRT2);
const samples = (seconds: number): number => Math.round(seconds * FS);
const silence = (seconds: number): Int16Array => new Int16Array(samples(seconds));

/** A logarithmic sine sweep from `f0` to `f1` Hz, of peak `amp` (clipped at full scale when above). */
function sweep(seconds: number, f0: number, f1: number, amp: number): Int16Array {
  const n = samples(seconds);
  const x = new Float64Array(n);
  const k = Math.log(f1 / f0);
  for (let i = 0; i < n; i++) {
    const t = i / FS;
    x[i] = amp * Math.sin(((2 * Math.PI * f0 * seconds) / k) * (Math.exp((t / seconds) * k) - 1));
  }
  return toInt16(x);
}

/** A full-scale square wave: `period` samples, half at 32767, half at −32768 (and DC steps for odd periods). */
function square(seconds: number, period: number): Int16Array {
  const x = new Int16Array(samples(seconds));
  for (let i = 0; i < x.length; i++) x[i] = i % period < period / 2 ? 32767 : -32768;
  return x;
}

/**
 * Where espeak-ng is missing: a synthetic talker, syllables of a 90–220 Hz pulse train through two
 * formant resonators, with noise bursts for fricatives and pauses between words.
 */
function syntheticSpeech(seconds: number, seed: number): Int16Array {
  const rnd = prng(seed);
  const x = new Float64Array(samples(seconds));
  let i = 0;
  while (i < x.length) {
    const len = Math.round((0.08 + 0.25 * rnd()) * FS);
    const kind = rnd();
    const f0 = 90 + 130 * rnd();
    const [fa, fb] = [300 + 600 * rnd(), 900 + 1600 * rnd()];
    const ra = Math.exp((-2 * Math.PI * 80) / FS), rb = Math.exp((-2 * Math.PI * 120) / FS);
    const ca = 2 * ra * Math.cos((2 * Math.PI * fa) / FS), cb = 2 * rb * Math.cos((2 * Math.PI * fb) / FS);
    let a1 = 0, a2 = 0, b1 = 0, b2 = 0, phase = 0;
    const gain = 200 + 3000 * rnd();
    for (let k = 0; k < len && i < x.length; k++, i++) {
      const env = Math.sin((Math.PI * k) / len);
      if (kind < 0.6) {
        phase += f0 / FS;
        const pulse = phase >= 1 ? ((phase -= 1), 1) : 0;
        const a = pulse + ca * a1 - ra * ra * a2;
        a2 = a1; a1 = a;
        const b = a + cb * b1 - rb * rb * b2;
        b2 = b1; b1 = b;
        x[i] = gain * env * b * 0.05;
      } else if (kind < 0.8) {
        x[i] = gain * env * (rnd() - rnd()); // fricative: differenced noise, mostly high
      } // else: a pause
    }
  }
  return toInt16(x);
}

let speechOnce: Promise<Int16Array> | undefined;
const speech = (): Promise<Int16Array> => (speechOnce ??= makeSpeech());

async function makeSpeech(): Promise<Int16Array> {
  if (espeakVersion() === null) return syntheticSpeech(12, 5);
  const synth = openSpeechSynth('telegraph-vad-kernel-', 'speech for the kernel test');
  try {
    const parts = await Promise.all([
      synth.speak('Hello, I am calling about the delivery that was due on Tuesday.', { voice: 'en-us', wpm: 170 }),
      synth.speak('Sixteen sharp fricatives: she sells sea shells, fish and chips.', { voice: 'en+f3', wpm: 150, pitch: 70 }),
      synth.speak('Yes. No. Maybe later, thanks.', { voice: 'en-gb-scotland', wpm: 190 }),
    ]);
    const out = new Int16Array(parts.reduce((n, p) => n + p.length + FS / 2, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length + FS / 2;
    }
    return out;
  } finally {
    synth.close();
  }
}

test('the kernel is used for 320-sample frames where WebAssembly SIMD is (and not for other sizes)', () => {
  if (process.env.TELEGRAPH_VAD_KERNEL !== '0') assert.equal(VAD_KERNEL_AVAILABLE, true, 'Node 20 has WebAssembly SIMD');
  assert.equal(internals(new SpeechDetector()).kernel, VAD_KERNEL_AVAILABLE);
  assert.equal(internals(new SpeechDetector({ kernel: false })).kernel, false);
  const d = new SpeechDetector({ frameSamples: 160 });
  assert.equal(internals(d).kernel, false);
  const x = sweep(1, 500, 1500, 8000);
  for (let i = 0; i + 160 <= x.length; i += 160) d.process(x.subarray(i, i + 160));
  assert.ok(d.levelDb > -20, `the JavaScript path measures a 160-sample frame: ${d.levelDb} dBFS`);
});

test('speech, noise, sweeps and full-scale squares: the same, bit for bit, after every frame', async () => {
  const p = pair();
  const s = await speech();
  feed(p, s, 'speech');
  assert.ok(p.js.speechSeen, 'the speech was detected');
  feed(p, toInt16(scaled(-30, whiteNoise(5 * FS, 11))), 'white noise, −30 dBFS');
  feed(p, toInt16(scaled(-50, pinkNoise(5 * FS, 12))), 'pink noise, −50 dBFS');
  feed(p, toInt16(scaled(6, whiteNoise(2 * FS, 13))), 'white noise, clipped');
  feed(p, sweep(4, 20, 7900, 16000), 'sine sweep, −6 dBFS');
  feed(p, sweep(2, 7900, 50, 40000), 'sine sweep, clipped');
  for (const period of [2, 3, 7, 40, 333, 4000]) feed(p, square(1, period), `full-scale square, period ${period}`);
  const both = new Int16Array(2 * FS).fill(-32768);
  both.fill(32767, FS);
  feed(p, both, 'full-scale steps');
  // speech in pink noise at 20 dB S/N
  const noise = scaled(-45, pinkNoise(s.length, 14));
  feed(p, toInt16(noise.map((v, i) => v + s[i]!)), 'speech in pink noise');
});

test('digital silence before and after sound: the at-rest shortcut, and rest within a few frames of the end of a sound', () => {
  const p = pair();
  feed(p, silence(1), 'silence at rest');
  assert.ok(zOf(p.kernel).every((v) => v === 0), 'at rest');
  const clicks = new Int16Array(FS / 2);
  clicks[100] = 1;
  clicks[3000] = -1;
  clicks[5000] = 32767;
  clicks[5001] = -32768;
  for (const [what, x] of [
    ['one-LSB clicks', clicks],
    ['speech-like burst', syntheticSpeech(2, 3)],
    ['full-scale square', square(0.5, 50)],
    ['dither', toInt16(scaled(-96, whiteNoise(FS, 15)))],
  ] as const) {
    feed(p, x, `${what}, then silence`);
    // the tail rings out in digital silence until a frame's energy is below REST_ENERGY: the
    // filters then come to rest (≤ 7 frames after a full-scale square), and the shortcut takes over
    let frames = 0;
    while (!(zOf(p.kernel).every((v) => v === 0) && zOf(p.js).every((v) => v === 0))) {
      assert.ok(++frames <= 8, `at rest within 8 frames of silence after ${what}`);
      feed(p, silence(FRAME / FS), `silence after ${what}`);
    }
    feed(p, silence(1), `silence at rest after ${what}`);
    assert.ok(zOf(p.kernel).every((v) => v === 0) && zOf(p.js).every((v) => v === 0), `still at rest after ${what}`);
  }
});

// Every number a band keeps but its rings' positions (which hold one value throughout at the fixed
// point): level, smoothed level, floor, excursion, windows' lows, power, fills, flags.
const BAND = [0, 1, 2, 3, 4, 5, 6, 16, 17, 18, 19, 20, 21];
/** Those numbers of both bands, as they lie in the detector's state (read after snapshot(), whose getters bring it up to date). */
function bands(d: SpeechDetector): number[] {
  const { mem, at } = internals(d);
  const words = (d as unknown as { p: { words: number } }).p.words;
  return [22, 22 + words].flatMap((b) => BAND.map((k) => mem.f64[at + b + k]!));
}

test('long digital silence: the bands at their fixed point skip their bookkeeping, and a frame known silent is not looked at, with the same results', async () => {
  const s = await speech();
  for (const opts of [{}, { kernel: false }, { longSteadyMs: 0, hangoverMs: 300 }, { riseIdleDbPerS: 0, minSpeechDbfs: -90 }]) {
    const fast = new SpeechDetector(opts);
    const full = new SpeechDetector({ ...opts, restShortcut: false });
    let skipped = 0;
    const run = (x: Int16Array, what: string) => {
      for (let at = 0, n = 0; at + FRAME <= x.length; at += FRAME, n++) {
        const frame = x.subarray(at, at + FRAME);
        // (told when the frame is all zero, as a mixer tells its sinks; the other looks for itself)
        const a = [...snapshot(fast, fast.process(frame, frame.every((v) => v === 0))), ...bands(fast)];
        const b = [...snapshot(full, full.process(frame)), ...bands(full)];
        for (let i = 0; i < a.length; i++) {
          if (!Object.is(a[i], b[i])) assert.fail(`${JSON.stringify(opts)}, ${what}, frame ${n}: value ${i} (${FIELDS[i] ?? 'band'}) is ${a[i]} with the shortcut, ${b[i]} without`);
        }
        const { mem, at: base } = internals(fast);
        if (mem.f64[base + 21]! > (fast as unknown as { p: { restFrames: number } }).p.restFrames) skipped++;
      }
    };
    run(s, 'speech');
    run(silence(4), 'silence after speech');
    run(toInt16(scaled(-40, pinkNoise(3 * FS, 21))), 'pink noise');
    run(silence(2.5), 'silence after noise');
    run(s.subarray(0, 3 * FS), 'speech again');
    fast.restart();
    full.restart();
    run(silence(3), 'silence after restart()');
    run(toInt16(scaled(-70, whiteNoise(FS, 22))), 'faint noise');
    run(silence(1.3), 'silence, about as long as the rings');
    run(s.subarray(FS, 4 * FS), 'speech after it');
    fast.reset();
    full.reset();
    run(silence(2), 'silence after reset()');
    run(s.subarray(0, 2 * FS), 'speech after reset()');
    assert.ok(skipped > 300, `${JSON.stringify(opts)}: the shortcut was taken (${skipped} frames)`);
  }
  // a band that could call −100 dBFS speech-like has no fixed point: never skipped
  const d = new SpeechDetector({ minSpeechDbfs: -100 });
  assert.equal((d as unknown as { p: { restFrames: number } }).p.restFrames, 2 ** 30);
});

test('digital silence after reset() only counts time until a frame is not silent, with the same results', async () => {
  const s = await speech();
  const fresh = (d: SpeechDetector) => (d as unknown as { fresh: number }).fresh;
  const compare = (fast: SpeechDetector, full: SpeechDetector, a0: boolean, b0: boolean, what: string) => {
    // (then the frames of silence in a row: D_QUIET)
    const a = [...snapshot(fast, a0), ...bands(fast), internals(fast).mem.f64[internals(fast).at + 21]];
    const b = [...snapshot(full, b0), ...bands(full), internals(full).mem.f64[internals(full).at + 21]];
    for (let i = 0; i < a.length; i++) {
      if (!Object.is(a[i], b[i])) assert.fail(`${what}: value ${i} (${FIELDS[i] ?? 'band'}) is ${a[i]} counted, ${b[i]} processed`);
    }
  };
  for (const opts of [{}, { kernel: false }, { longSteadyMs: 0, hangoverMs: 300 }, { steadyMs: 400, fallMs: 300 }]) {
    // counts of silent frames around each rule's window and the bands' fixed point (55 frames by
    // default), and well past it (the excursions' decay)
    for (const quiet of [0, 1, 2, 11, 12, 13, 49, 50, 51, 54, 55, 56, 57, 100, 160, 400]) for (const read of [false, true]) {
      const what = `${JSON.stringify(opts)}, ${quiet} silent frames${read ? ', read' : ''}`;
      const fast = new SpeechDetector(opts);
      const full = new SpeechDetector({ ...opts, restShortcut: false });
      // a line with a past (noise, speech), so that reset() has something to clear
      const past = s.subarray(0, FS);
      const noise = toInt16(scaled(-45, pinkNoise(FS, 31)));
      for (const x of [noise, past]) {
        for (let at = 0; at + FRAME <= x.length; at += FRAME) {
          fast.process(x.subarray(at, at + FRAME));
          full.process(x.subarray(at, at + FRAME));
        }
      }
      fast.reset();
      full.reset();
      const zero = new Int16Array(FRAME);
      for (let n = 0; n < quiet; n++) {
        // (as a job does: reset() when it starts, restart() when its recording does)
        if (n === quiet >> 1) {
          fast.restart();
          full.restart();
        }
        // told it is silent, or left to look, in turn
        const a = fast.process(zero, n % 2 === 0);
        const b = full.process(zero);
        for (const k of ['speaking', 'speechSeen', 'frameActive', 'frames', 'nowMs', 'lastSpeechStartMs', 'lastSpeechEndMs', 'silenceMs'] as const) {
          assert.equal(fast[k], full[k], `${what}, frame ${n}: ${k}`);
        }
        assert.equal(a, b, `${what}, frame ${n}: process()`);
      }
      assert.equal(fresh(fast), quiet, `${what}: counted, not yet applied`);
      // read in the silence (the getters bring the state up to date), or not
      if (read) compare(fast, full, fast.speaking, full.speaking, `${what}, at its end`);
      // the first frame of sound brings the state up to date, then processes the frame
      const x = s.subarray(2 * FS, 3 * FS);
      for (let at = 0, n = 0; at + FRAME <= x.length; at += FRAME, n++) {
        const frame = x.subarray(at, at + FRAME);
        compare(fast, full, fast.process(frame), full.process(frame), `${what}, then speech frame ${n}`);
        assert.equal(fresh(fast), -1);
      }
    }
    // read in the silence (a getter brings the state up to date), then silent on: the same as well
    const fast = new SpeechDetector(opts);
    const full = new SpeechDetector({ ...opts, restShortcut: false });
    const zero = new Int16Array(FRAME);
    for (let n = 0; n < 120; n++) {
      const a = fast.process(zero, true);
      const b = full.process(zero);
      if (n === 30 || n === 70) compare(fast, full, a, b, `${JSON.stringify(opts)}, read at silent frame ${n}`);
    }
    compare(fast, full, fast.process(s.subarray(0, FRAME)), full.process(s.subarray(0, FRAME)), `${JSON.stringify(opts)}, speech after 120 silent frames read twice`);
  }
  // bands without a fixed point never count: they process every frame
  const d = new SpeechDetector({ minSpeechDbfs: -100 });
  d.process(new Int16Array(FRAME), true);
  assert.equal(fresh(d), -1);
});

test('detectors sharing the kernel, interleaved frame by frame, each stay exact', () => {
  const signals = [syntheticSpeech(6, 21), toInt16(scaled(-20, pinkNoise(6 * FS, 22))), sweep(6, 50, 6000, 20000)];
  const kernels = signals.map(() => new SpeechDetector());
  const jss = signals.map(() => new SpeechDetector({ kernel: false }));
  for (let at = 0; at + FRAME <= 6 * FS; at += FRAME) {
    for (let k = 0; k < signals.length; k++) {
      const frame = signals[k]!.subarray(at, at + FRAME);
      const a = snapshot(kernels[k]!, kernels[k]!.process(frame));
      const b = snapshot(jss[k]!, jss[k]!.process(frame));
      assert.deepEqual(a, b, `detector ${k}, sample ${at}`); // (deepEqual compares numbers with Object.is)
    }
  }
});

test('detectors made while others run (their slots grow the kernel memory, which detaches its views) stay exact', () => {
  const x = syntheticSpeech(6, 41);
  const half = Math.floor(x.length / FRAME / 2) * FRAME;
  const p = pair();
  feed(p, x.subarray(0, half), 'before the growth');
  const kernel = internals(p.kernel).mem;
  const before = kernel.f64;
  // about 1.2 KB each: hundreds of them grow the memory several times
  const others = Array.from({ length: 400 }, () => new SpeechDetector());
  for (const o of others) o.process(x.subarray(0, FRAME));
  assert.notEqual(kernel.f64, before, 'the memory grew');
  feed(p, x.subarray(half), 'after the growth');
  // reset() after it grew: as new
  p.kernel.reset();
  p.js.reset();
  feed(p, x, 'after reset()');
  assert.equal(others.length, 400);
});

test('any filter state (denormal, signed zero, huge): the same state and energies after a frame', () => {
  const rnd = prng(31);
  const values = [0, -0, 5e-324, -5e-324, 2.2e-308, 1e-300, -3e-200, 1e-30, 1, -1, 123.456, 32767, -32768, 1e100, -1e150, 1e200];
  const frames = [new Int16Array(FRAME), toInt16(scaled(-10, whiteNoise(FRAME, 32))), square(FRAME / FS, 4)];
  for (let trial = 0; trial < 300; trial++) {
    const p = pair();
    const z = zOf(p.kernel);
    for (let i = 0; i < 15; i++) z[i] = rnd() < 0.3 ? 0 : values[Math.floor(rnd() * values.length)]! * (rnd() < 0.5 ? 1 : rnd());
    zOf(p.js).set(z);
    const from = Array.from(z).join(', ');
    const frame = frames[trial % frames.length]!;
    const a = snapshot(p.kernel, p.kernel.process(frame));
    const b = snapshot(p.js, p.js.process(frame));
    assert.deepEqual(a, b, `trial ${trial}: from state ${from}`);
  }
});

test('a long run (4 minutes of mixed audio, with restart() and reset()): the same after every frame', async () => {
  const s = await speech();
  const rnd = prng(41);
  const p = pair();
  let frames = 0;
  let seg = 0;
  while (frames < (4 * 60 * FS) / FRAME) {
    const seconds = 0.5 + Math.floor(rnd() * 8) / 2;
    const db = -70 + 70 * rnd();
    const kind = Math.floor(rnd() * 7);
    const x =
      kind === 0 ? s.subarray(Math.floor(rnd() * (s.length / 2)))
      : kind === 1 ? toInt16(scaled(db, whiteNoise(samples(seconds), 100 + seg)))
      : kind === 2 ? toInt16(scaled(db, pinkNoise(samples(seconds), 200 + seg)))
      : kind === 3 ? sweep(seconds, 30 + 300 * rnd(), 7000 * rnd() + 100, dbfsAmplitude(db + 10))
      : kind === 4 ? square(seconds, 2 + Math.floor(rnd() * 200))
      : kind === 5 ? silence(seconds)
      : syntheticSpeech(seconds, 300 + seg);
    frames += feed(p, x, `segment ${seg} (kind ${kind}, ${seconds} s)`);
    if (seg % 17 === 16) {
      p.kernel.restart();
      p.js.restart();
    }
    if (seg % 29 === 28) {
      p.kernel.reset();
      p.js.reset();
    }
    seg++;
  }
  assert.ok(frames >= 12000);
});
