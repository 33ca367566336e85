/**
 * In-band DTMF detector for the media engine's stream (16-bit linear PCM, 16 kHz, mono), fed one
 * frame at a time (normally 20 ms = 320 samples; any length works). Allocates nothing per frame.
 *
 * STANDARD MET: ITU-T Q.23 (frequencies) and Q.24 (reception) with the figures spandsp states for
 * its receiver and ETSI ES 201 235-3 timing. Each clause has its own test in
 * test/media/dtmf.test.ts:
 *   - all 16 keys: 697/770/852/941 Hz × 1209/1336/1477/1633 Hz;
 *   - frequency: each tone within ±1.5 % of nominal detected, beyond ±3.5 % rejected (the limit
 *     is ±2 % of the measured frequency of each tone);
 *   - twist: low group up to 8 dB stronger ("normal") and high group up to 4 dB stronger
 *     ("reverse") detected; beyond 8.5 dB / 4.5 dB rejected;
 *   - timing: a 40 ms tone detected, a 20 ms tone rejected, at any alignment to the frames
 *     (the decision threshold is a measured 30 ms); keys separated by pauses of 40 ms are each
 *     reported (tone on 40 ms / off 40 ms, 12.5 keys per second);
 *   - level: nominal −10 dBFS per tone; detected from −3 dBFS down to 26 dB below nominal
 *     (−36 dBFS) and on to −40 dBFS (37 dB of dynamic range; spandsp asks 35); floor −43 dBFS;
 *   - noise: detected at 15 dB S/N in white noise, S/N taken the hard way: the power of ONE tone
 *     over the noise power in the 0–4 kHz band;
 *   - talk-off: no false key in ≥ 10 minutes of speech (espeak-ng: several languages, voices,
 *     pitches, rates and gains) and noise.
 * 0 dBFS is a full-scale sine (amplitude 32767).
 *
 * METHOD
 *   1. A half-band FIR (23 taps) decimates 16 kHz → 8 kHz (DTMF lies below 1.7 kHz).
 *   2. Every 5 ms, a 20 ms (160-sample) Hann window is analysed with eight Goertzel filters at the
 *      nominal frequencies, giving a complex DFT value X_k per tone. Steps 1 and 2 run in f32
 *      (ample: 160 steps of a stable recurrence on 16-bit input, judged in decibels), the rest in f64.
 *   3. The strongest row and column tones are kept. For each, the actual frequency is estimated
 *      from the phase advance of X_k between consecutive windows (5 ms apart, so unambiguous over
 *      ±100 Hz, the Hann main lobe; a fixed Goertzel bin alone cannot tell 1.5 % from 3.5 %).
 *      The tone power is corrected for the window's response at that offset, so level and twist
 *      are measured, not scalloped.
 *   4. A window is valid for a key when: both tones ≥ −43 dBFS; each measured frequency within
 *      ±2 %; twist within +8.5 / −4.5 dB; each tone ≥ 6 dB above the other tones of its group;
 *      the two tones hold ≥ 90 % of the window's energy; and the spectrum is ≥ 20 dB below the
 *      stronger tone where the neighbouring harmonics would be if the pair were two harmonics of
 *      a voice (f_low − Δ, f_high + Δ, f_low + Δ/2, f_low + Δ/3, f_low + 2Δ/3 with Δ = f_high −
 *      f_low). While a key is held, a window that fails only narrowly (looser limits, no
 *      harmonic probes) keeps it held (hysteresis), so a marginal tone is not split in two.
 *   5. Duration is measured, not counted in frames: Hann windows at a hop of a quarter of their
 *      length add up to a constant (COLA), so Σ|X| over every window touching a tone, divided by
 *      the |X| of a window wholly inside it, equals the tone's duration in hops whatever its
 *      alignment. The rising and falling windows around the run of valid windows count while they
 *      are monotonic. A key is reported once, as soon as it has 3 consecutive valid windows, a
 *      measured duration ≥ 30 ms (a 20 ms tone measures ≤ 20.3 ms, a 40 ms one 40 ms), and has
 *      been steady: each tone's frequency within a 1 % spread and the twist within 3 dB over the
 *      valid windows (speech that passes for a key drifts in pitch and formant balance).
 *      The key ends after 3 consecutive invalid windows (15 ms); a 40 ms pause holds ≥ 4.
 *
 *      The high-group filters of a window are computed only when needed (its row test passed, a
 *      key is in progress, or a later window needs its phase or magnitude): most speech windows
 *      fail the row test. The buffer keeps the last 4 windows' samples so this is exact.
 *
 * KERNEL: for whole 20 ms frames, steps 1 and 2's low group, the low group's spectra and the
 * first tests of step 4 run in WebAssembly SIMD (dtmfKernel.wat: four decimator outputs per
 * instruction; the frame's four windows side by side, one per lane), and so does a window's high
 * group when it is needed, with the results bit-identical to the JavaScript path (Math.fround
 * after each f32 operation), which handles every other case (test/media/dtmf-kernel.test.ts).
 * Each detector's input, decimated signal and state live in the kernel's memory; the decisions
 * (steps 3–5) stay here, and a run of windows that cannot lead to a key is only remembered: by the
 * kernel itself when that is the whole frame (nearly every frame of speech).
 *
 * Cost per 20 ms frame of speech, 1,000 detectors live (bench/media/kernels.ts): about 1.2–1.4 µs
 * with the kernel (4 µs in 0.3.1, 6.5 µs in 0.3.0); the JavaScript path, written for exactness
 * rather than speed, about 12.5 µs; more while a key is held.
 *
 * Usage: `const key = det.process(frame)` returns '' or the key ('0'–'9', '*', '#', 'A'–'D';
 * constant strings). After a key, `digitAtMs` is the stream time of the decision and
 * `digitStartMs` the estimated onset of the tone (ms since the first sample fed), and
 * `lowLevelDbfs` / `highLevelDbfs` the measured tone levels.
 */

import { KernelMemory, loadKernel } from '../KernelMemory.ts';
import { SharedSettings } from '../SharedSettings.ts';

const FS = 16000;
const FSD = 8000; // analysis rate after decimation
const N = 160; // window: 20 ms at 8 kHz
const HOP = 40; // 5 ms
/**
 * The decimated signal is appended to a linear buffer of CAP samples; when it is full, its last KEEP
 * samples move to the front. KEEP: the current window and the 3 before it (their high group is
 * computed on demand).
 */
const KEEP = N + 3 * HOP;
const CAP = KEEP + 160; // shifted every frame: a small buffer stays in the caches, which matters more
const LIN = 22 + 320; // the decimator's input: HB_TAPS − 1 samples of history, then a frame
const BIN_HZ = FSD / N; // 50 Hz
const SUM_W = N / 2; // Σ Hann
const SUM_W2 = (3 * N) / 8; // Σ Hann²
const HZ_PER_RAD = FSD / (2 * Math.PI * HOP);

const FREQS = [697, 770, 852, 941, 1209, 1336, 1477, 1633] as const;
const KEYS = ['1', '2', '3', 'A', '4', '5', '6', 'B', '7', '8', '9', 'C', '*', '0', '#', 'D'] as const;
export const DTMF_KEYS = '123A456B789C*0#D';

// Half-band decimator
const HB_Q = 6; // non-zero odd taps per side
const HB_TAPS = 4 * HB_Q - 1; // 23
const HB_C = (HB_TAPS - 1) / 2; // 11: centre, group delay in input samples
const HB_COEF = (() => {
  const beta = 5.5;
  const i0 = (x: number) => {
    let s = 1;
    let t = 1;
    for (let k = 1; k < 60; k++) {
      t *= (x * x) / 4 / (k * k);
      s += t;
    }
    return s;
  };
  const c = new Float64Array(HB_Q);
  let sum = 0.5;
  for (let q = 1; q <= HB_Q; q++) {
    const n = 2 * q - 1;
    const ideal = Math.sin((Math.PI * n) / 2) / (Math.PI * n); // 0.5·sinc(n/2)
    const r = n / (HB_C + 1);
    const w = i0(beta * Math.sqrt(1 - r * r)) / i0(beta);
    c[q - 1] = ideal * w;
    sum += 2 * c[q - 1]!;
  }
  for (let q = 0; q < HB_Q; q++) c[q]! /= sum; // unity DC gain
  return { c, centre: 0.5 / sum };
})();

/** Per tone: cos ω, sin ω, 2·cos ω (the Goertzel coefficient), and e^{−j·ω·HOP} (cos, −sin). */
const TONE_COS = new Float64Array(FREQS.map((f) => Math.cos((2 * Math.PI * f) / FSD)));
const TONE_SIN = new Float64Array(FREQS.map((f) => Math.sin((2 * Math.PI * f) / FSD)));
const TONE_COEF = new Float64Array(FREQS.map((f) => 2 * Math.cos((2 * Math.PI * f) / FSD)));
const ADV_COS = new Float64Array(FREQS.map((f) => Math.cos(((2 * Math.PI * f) / FSD) * HOP)));
const ADV_SIN = new Float64Array(FREQS.map((f) => -Math.sin(((2 * Math.PI * f) / FSD) * HOP)));

/** The Hann window, shared by every detector (read-only). */
const WIN = (() => {
  const w = new Float64Array(N);
  for (let n = 0; n < N; n++) w[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N);
  return w;
})();
/** The half-band decimator's taps as its f32 arithmetic uses them: centre, then ±1 … ±11. */
const HB_COEF32 = new Float32Array([HB_COEF.centre, ...HB_COEF.c]);
/** The window and the Goertzel coefficients as the f32 filters use them. */
const WIN32 = new Float32Array(WIN);
const TONE_COEF32 = new Float32Array(TONE_COEF);
const f32 = Math.fround;

/**
 * Where feed() has its next output once whole 320-sample frames have been fed (the state the
 * kernel is written for: its first output is centred on the 13th sample of its input).
 */
const KERNEL_NEXT_OUT = HB_C + 12;

/** Byte offset of a slot's decimated signal (after its 342 input samples, 16-byte aligned). */
const BUF_AT = 688;
/** Byte offset of a slot's `state` (see the detector's views of it): after its decimated signal, on a cache line of its own. */
const STATE_AT = Math.ceil((BUF_AT + CAP * 4) / 64) * 64;
// The detector's `state` (f64 indices): first what remember() writes, together (the kernel does
// it for a whole frame: dtmfKernel.wat must agree on these), then the rest.
const ST_PREV_RE = 0; // the previous window's re, im [0..7]
const ST_PREV_IM = 8;
const ST_HIST_MAG = 16; // the last 3 windows' |X| [0..7], newest first
const ST_HIST_T = 40; // their centres (input samples)
const ST_HIST_HI = 43; // 1 where their high group was computed
const ST_G1 = 46; // the current window's Goertzel states s[N−1], s[N−2], re, im, pw, mag [0..7]
const ST_G2 = 54;
const ST_RE = 62;
const ST_IM = 70;
const ST_PW = 78;
const ST_MAG = 86;
const ST_PROBE_HZ = 94; // 5: validate()'s probes
const ST_ON_T = 99; // 16 + 16: the run's first windows (time, amplitude)
const ST_ON_A = 115;
const ST_Q_AT = 131; // 4 × 8: keys decided but not yet returned
const ST_Q_START = 139;
const ST_Q_LOW = 147;
const ST_Q_HIGH = 155;
const ST_WORDS = 163;
const SLOT_BYTES = STATE_AT + ST_WORDS * 8;

/** f64 per window in the kernel's SPEC: re, im, pw, mag of the low group, then the row test's result. */
const SPEC_WINDOW = 17;
/** The kernel's work area (WIN_IN, WX): a frame is processed there, its slot holding only history. */
const WORK_IN = 4096;
const WORK_X = 4800;
/** Slots start here; below is the kernel's own scratch. */
const HEAP_BASE = 16384;

/**
 * The WebAssembly kernel (dtmfKernel.wat) and its memory, one for every detector in the process:
 * each detector has a slot in it for its input and decimated signal (see KernelMemory). Growing the
 * memory detaches every view of it: a detector checks its views at each frame and makes them again
 * when that has happened.
 */
class KernelHeap {
  /** Returns 1 when it remembered the frame's windows in the state at `st` itself (see dtmfKernel.wat), else 0. */
  readonly frame: (slot: number, first: number, shift: number, floor: number, neighbour: number, shareBound: number, st: number, idle: number, end0: number) => number;
  input!: Int16Array; // WIN_IN: the frame goes to [22, 342)
  work!: Float32Array; // WX: the work signal, laid out as a slot's X after a shift (pos = KEEP before the frame)
  /** One window's filters for tones k..k+3: goertzel(window's address, 9696 + 4k); results in gres. */
  readonly goertzel: (x: number, coef: number) => void;
  gres!: Float64Array; // GRES: s1[0..3], s2[0..3], energy
  res!: Float64Array; // RES: 4 windows × (s1[0..3], s2[0..3], energy)
  f64!: Float64Array; // the whole memory
  spec!: Float64Array; // SPEC: 4 windows × (re, im, pw, mag [0..3], row test passed)
  readonly slots: KernelMemory;

  constructor(bytes: Uint8Array<ArrayBuffer>) {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    this.frame = inst.exports.frame as KernelHeap['frame'];
    this.goertzel = inst.exports.goertzel as KernelHeap['goertzel'];
    this.slots = new KernelMemory(inst.exports.memory as WebAssembly.Memory, HEAP_BASE, (mem) => this.views(mem));
    const mem = this.slots.buffer;
    new Float32Array(mem, 8192, N).set(WIN32);
    new Float32Array(mem, 9728, 7).set(HB_COEF32);
    new Float32Array(mem, 9696, 8).set(TONE_COEF32);
    new Float64Array(mem, 10560, 4).set(TONE_COS.subarray(0, 4));
    new Float64Array(mem, 10592, 4).set(TONE_SIN.subarray(0, 4));
    this.views(mem);
  }

  private views(mem: ArrayBuffer): void {
    this.f64 = new Float64Array(mem);
    this.res = new Float64Array(mem, 10240, 36);
    this.spec = new Float64Array(mem, 10624, 4 * SPEC_WINDOW);
    this.gres = new Float64Array(mem, 11360, 9);
    this.input = new Int16Array(mem, WORK_IN, LIN);
    this.work = new Float32Array(mem, WORK_X, CAP);
  }

  /** How many times the memory grew (each time detaching every view of it). */
  get generation(): number {
    return this.slots.generation;
  }

  /** A slot for `owner` (see KernelMemory.alloc), or −1 when the memory cannot grow. */
  tryAlloc(owner: object): number {
    return this.slots.alloc(owner, SLOT_BYTES);
  }

  lin(slot: number): Int16Array {
    return new Int16Array(this.slots.buffer, slot, LIN);
  }

  buf(slot: number): Float32Array {
    return new Float32Array(this.slots.buffer, slot + BUF_AT, CAP);
  }

  state(slot: number): Float64Array {
    return new Float64Array(this.slots.buffer, slot + STATE_AT, ST_WORDS);
  }
}

/** Null where WebAssembly SIMD is missing (or TELEGRAPH_DTMF_KERNEL=0): the JavaScript path then does the same work. */
const KERNEL: KernelHeap | null = loadKernel('TELEGRAPH_DTMF_KERNEL', new URL('./dtmfKernel.wasm', import.meta.url), (bytes) => new KernelHeap(bytes));

/** Whether detectors use the WebAssembly kernel here (false: no WebAssembly SIMD, or TELEGRAPH_DTMF_KERNEL=0). */
export const DTMF_KERNEL_AVAILABLE = KERNEL !== null;
/** The kernel's memory, for tests and benchmarks that count its slots (null without the kernel). */
export const DTMF_KERNEL_MEMORY: KernelMemory | null = KERNEL?.slots ?? null;

const DBFS_AMP = 32767;
/** Goertzel |X|² of a full-scale sine. */
const FULL_SCALE_X2 = ((DBFS_AMP * SUM_W) / 2) ** 2;
/** Harmonic probes must stay this far (power ratio: −20 dB) below the stronger tone. */
const PROBE_LIMIT = 0.01;
const PROBE_MIN_HZ = 150;
const PROBE_MAX_HZ = 3800;
const PROBE_MIN_SPACING_HZ = 150;
/** Rising (falling) windows around a key may exceed the next (previous) one by 5 % (noise). */
const EDGE_SLACK = 1.05;
/** Largest spread of a tone's measured frequency over a key (fraction of nominal). */
const MAX_DRIFT = 0.01;
/** Largest spread of the measured twist over a key (power ratio: 3 dB). */
const MAX_TWIST_SPREAD = Math.pow(10, 3 / 10);
/** Tone power (A²/2) of a sine at `dbfs`. */
function tonePower(dbfs: number): number {
  const a = DBFS_AMP * Math.pow(10, dbfs / 20);
  return (a * a) / 2;
}

export interface DtmfDetectorOptions {
  /** Lowest level per tone, dBFS. Default −43. */
  minLevelDbfs?: number;
  /** Frequency acceptance, fraction of nominal. Default 0.02. */
  frequencyTolerance?: number;
  /** Largest normal twist (low group stronger), dB. Default 8.5. */
  normalTwistDb?: number;
  /** Largest reverse twist (high group stronger), dB. Default 4.5. */
  reverseTwistDb?: number;
  /** Shortest tone reported, ms (measured). Default 30. */
  minDurationMs?: number;
  /**
   * Use the WebAssembly kernel for whole 20 ms frames when the runtime has it (default true). The
   * results are the same either way (bit for bit); false is for tests and benchmarks.
   */
  kernel?: boolean;
}

interface Limits {
  minPow: number; // per tone, in Goertzel |X|² units
  tol: number;
  twistN: number; // power ratios
  twistR: number;
  neighbour: number;
  share: number;
  /**
   * A window whose energy exceeds its row tone's |X|² times this fails the share test whatever its
   * column: the column tone is at most twistR times the row's, and the window loses at most g² of a
   * tone within tolerance. Checked before the high group is computed (most speech windows that pass
   * the row test fail here); 1e-6 over the exact bound, so rounding never rejects a window the
   * share test would pass.
   */
  shareBound: number;
  /** validate()'s first threshold (minPow × 0.4), for the kernel's row test. */
  rowFloor: number;
  probe: boolean;
}

/** |X|² (Goertzel units) of a tone at `dbfs`. */
const toPow = (dbfs: number): number => tonePower(dbfs) * (SUM_W * SUM_W) / 2;

/** The strict and relaxed limits for these options, one set per options (see SharedSettings). */
const LIMITS = new SharedSettings<{ strict: Limits; relaxed: Limits }>();
function sharedLimits(minDb: number, tol: number, tn: number, tr: number): { strict: Limits; relaxed: Limits } {
  return LIMITS.get(`${minDb} ${tol} ${tn} ${tr}`, () => ({
    strict: limits(minDb, tol, tn, tr, 6, 0.9, true),
    // to hold a key in progress: 3 dB lower, 1 % wider, 2 dB more twist, the other tones 3 dB weaker (not 6)
    relaxed: limits(minDb - 3, tol + 0.01, tn + 2, tr + 2, 3, 0.6, false),
  }));
}

function limits(minDb: number, tol: number, tnDb: number, trDb: number, neighbourDb: number, share: number, probe: boolean): Limits {
  const twistR = Math.pow(10, trDb / 10);
  return {
    minPow: toPow(minDb),
    tol,
    twistN: Math.pow(10, tnDb / 10),
    twistR,
    neighbour: Math.pow(10, neighbourDb / 10),
    share,
    shareBound: shareBound(tol, twistR, share),
    rowFloor: toPow(minDb) * 0.4,
    probe,
  };
}

/** The Hann window's amplitude response to a tone `d` bins (50 Hz) from a filter: sinc(d)/(1 − d²), as validate() undoes it. */
function hannGain(d: number): number {
  return d < 1e-6 ? 1 : Math.abs(Math.sin(Math.PI * d) / (Math.PI * d) / (1 - d * d));
}

/** Limits.shareBound for these limits (the largest row tolerance is the highest row tone's). */
function shareBound(tol: number, twistR: number, share: number): number {
  const g = hannGain((tol * FREQS[3]!) / BIN_HZ);
  return (((1 + twistR) * 2 * SUM_W2) / (g * g * SUM_W * SUM_W * share)) * (1 + 1e-6);
}

export class DtmfDetector {
  /** Stream time (ms) at which the last returned key was decided. */
  digitAtMs = 0;
  /** Estimated onset (ms) of the last returned key's tone. */
  digitStartMs = 0;
  /** Measured levels (dBFS) of the last returned key's low and high tones. */
  lowLevelDbfs = 0;
  highLevelDbfs = 0;

  // (shared by every detector with the same options: a frame reads them, and numbers in objects
  // are themselves objects; one set for 1,000 calls stays in the caches where 1,000 would not)
  private readonly strict: Limits;
  private readonly relaxed: Limits;
  private readonly durUnits: number;
  private kernel: boolean;

  // The small per-window arrays below are views of one buffer, `state` (see ST_*): a detector's
  // state then lies in a few cache lines, not in a score of separate allocations (at 1,000 calls,
  // most of a tick's time beyond the arithmetic goes into fetching each call's state from memory).
  // With the kernel, `state` lies in the detector's slot, after its signal, where the kernel
  // remembers a frame's windows itself (see feedKernel); without, it is a buffer of its own.
  private state!: Float64Array;

  // decimator: its input as it came (int16: a third of the cache lines a float copy would take).
  // With the kernel, lin and buf are views of this detector's slot in the kernel's memory (`slot`,
  // a byte offset; −1 without): the JavaScript path works in them; the kernel keeps only the
  // history there (see feedKernel) and processes each frame in its shared work area.
  private slot: number;
  /** The kernel heap's generation this detector's views were made in. */
  private generation = 0;
  private lin!: Int16Array;
  private buf!: Float32Array;
  /** Where buf lies in the kernel's memory (its slot's X, or the work area during feedKernel()). */
  private bufAt: number;
  private linLen = HB_TAPS - 1; // zeros stand for the samples before the stream
  private nextOut = 0; // lin index of the newest sample of the next output

  // analysis buffer: buf[pos − N, pos) is the current window, and the 3 before it lie just before
  // and the 3 before it, whose high-group filters may be needed later (see ensureHigh). In f32, as
  // the decimator computes it: half the memory an f64 signal would move per frame (at 1,000 calls
  // that is what costs), and 24 bits are far beyond what 16-bit input holds.
  private pos = KEEP;
  private decCount = 0; // decimated samples produced
  private centre = 0; // centre of the current window, in input samples (a field: see measureOffset)

  // per window
  private g1!: Float64Array; // Goertzel states s[N−1], s[N−2]
  private g2!: Float64Array;
  private re!: Float64Array;
  private im!: Float64Array;
  private pw!: Float64Array;
  private mag!: Float64Array;
  private prevRe!: Float64Array;
  private prevIm!: Float64Array;
  private havePrev = false;
  /** The high group (bins 4–7) of the current window has been computed. */
  private hiCur = false;
  /** The same for the windows in histMag (newest first; slot 0 is also prevRe/prevIm). */
  private histHi!: Float64Array;
  private energy = 0;
  private winEnergy = 0; // goertzel()'s
  // measured by validate()
  private offset = 0;
  private probeHz!: Float64Array;
  private probeCount = 0;
  private probeLimit = 0;
  private mDevR = 0; // measured deviation, fraction of nominal
  private mDevC = 0;
  private mPr = 0;
  private mPc = 0;

  // magnitudes of the last 3 windows (pre-roll), newest first, and their centre times
  private histMag!: Float64Array;
  private histT!: Float64Array;
  private histCount = 0;

  // current run
  private cand = -1;
  private candR = 0;
  private candC = 0;
  private sum = 0;
  private amax = 0;
  private consec = 0;
  private maxConsec = 0;
  private miss = 0;
  private lastA = 0;
  private tailOpen = true;
  private reported = false;
  private peakPr = 0;
  private peakPc = 0;
  private devRMin = 0;
  private devRMax = 0;
  private devCMin = 0;
  private devCMax = 0;
  private twMin = 0;
  private twMax = 0;
  // onset estimation: (time, amplitude) of the run's first windows
  private onT!: Float64Array;
  private onA!: Float64Array;
  private onCount = 0;

  // keys decided but not yet returned
  private readonly qKey = new Int8Array(8);
  private qAt!: Float64Array;
  private qStart!: Float64Array;
  private qLow!: Float64Array;
  private qHigh!: Float64Array;
  private qHead = 0;
  private qLen = 0;

  constructor(opts: DtmfDetectorOptions = {}) {
    const minDb = opts.minLevelDbfs ?? -43;
    const tol = opts.frequencyTolerance ?? 0.02;
    const tn = opts.normalTwistDb ?? 8.5;
    const tr = opts.reverseTwistDb ?? 4.5;
    const limits = sharedLimits(minDb, tol, tn, tr);
    this.strict = limits.strict;
    this.relaxed = limits.relaxed;
    this.durUnits = (opts.minDurationMs ?? 30) / ((HOP / FSD) * 1000);
    // a slot in the kernel's memory, unless it cannot grow any more (then this one runs in JavaScript)
    const slot = (opts.kernel ?? true) && KERNEL !== null ? KERNEL.tryAlloc(this) : -1;
    this.kernel = slot >= 0;
    if (slot >= 0) {
      this.slot = slot;
      this.bufAt = slot + BUF_AT;
      this.generation = -1; // (reset()'s bind() makes the views of the slot)
    } else {
      this.slot = -1;
      this.bufAt = -1;
      this.ownMemory();
    }
    this.reset();
  }

  /**
   * Gives its slot in the kernel's memory back now (when its call ends), not when it is collected.
   * Still safe to use afterwards (it then starts again, in JavaScript, in memory of its own): a
   * frame that reaches it late must not write into a slot that another detector holds by then.
   */
  release(): void {
    if (this.slot < 0) return;
    KERNEL!.slots.release(this, this.slot, SLOT_BYTES);
    this.kernel = false;
    this.slot = -1;
    this.bufAt = -1;
    this.ownMemory();
    this.reset();
  }

  /** Its state in buffers of its own (not a slot in the kernel's memory). */
  private ownMemory(): void {
    this.lin = new Int16Array(LIN);
    this.buf = new Float32Array(CAP);
    this.views(new Float64Array(ST_WORDS));
  }

  /**
   * See FrameSource.warm (media/MediaFormat): the object, and with the kernel a line of its state
   * a frame reads (through the heap's view of the whole memory: an element read through the
   * detector's own view of its slot, here where the call is not inlined, came back boxed, 16 bytes
   * a frame).
   */
  warm(): number {
    return this.slot >= 0 ? KERNEL!.f64[(this.slot + STATE_AT) / 8 + ST_HIST_T]! + this.pos : this.pos;
  }

  /** Forgets all state; the next sample fed is time 0. */
  reset(): void {
    this.bind();
    this.lin.fill(0);
    this.linLen = HB_TAPS - 1;
    this.nextOut = HB_TAPS - 1 + HB_C; // first output centred on input sample 0
    this.buf.fill(0);
    this.state.fill(0); // (a slot may have been another detector's)
    this.pos = KEEP;
    this.decCount = 0;
    this.havePrev = false;
    this.hiCur = false;
    this.histCount = 0;
    this.cand = -1;
    this.qLen = 0;
    this.qHead = 0;
  }

  /**
   * Feeds one frame of 16 kHz samples. Returns '' or the key that has just been recognised
   * (each key press is reported once, when recognised).
   */
  process(frame: Int16Array): string {
    this.bind();
    const n = frame.length;
    for (let off = 0; off < n; off += 320) {
      this.feed(frame, off, Math.min(n, off + 320));
    }
    if (this.qLen === 0) return '';
    const i = this.qHead;
    this.qHead = (this.qHead + 1) & 7;
    this.qLen--;
    this.digitAtMs = this.qAt[i]!;
    this.digitStartMs = this.qStart[i]!;
    this.lowLevelDbfs = this.qLow[i]!;
    this.highLevelDbfs = this.qHigh[i]!;
    return KEYS[this.qKey[i]!]!;
  }

  /**
   * Makes the views of this detector's slot: first from reset(), then again whenever the kernel's
   * memory grew (which detaches them).
   * (Told by the heap's generation, not by a view's length: that would fetch the view every frame.)
   */
  private bind(): void {
    if (this.slot >= 0 && this.generation !== KERNEL!.generation) {
      this.generation = KERNEL!.generation;
      this.lin = KERNEL!.lin(this.slot);
      this.buf = KERNEL!.buf(this.slot);
      this.views(KERNEL!.state(this.slot));
    }
  }

  /** Makes the per-window arrays views of `state` (see ST_*). */
  private views(state: Float64Array): void {
    this.state = state;
    const v = (at: number, n: number) => state.subarray(at, at + n);
    this.g1 = v(ST_G1, 8);
    this.g2 = v(ST_G2, 8);
    this.re = v(ST_RE, 8);
    this.im = v(ST_IM, 8);
    this.pw = v(ST_PW, 8);
    this.mag = v(ST_MAG, 8);
    this.prevRe = v(ST_PREV_RE, 8);
    this.prevIm = v(ST_PREV_IM, 8);
    this.histMag = v(ST_HIST_MAG, 24);
    this.histT = v(ST_HIST_T, 3);
    this.histHi = v(ST_HIST_HI, 3);
    this.probeHz = v(ST_PROBE_HZ, 5);
    this.onT = v(ST_ON_T, 16);
    this.onA = v(ST_ON_A, 16);
    this.qAt = v(ST_Q_AT, 8);
    this.qStart = v(ST_Q_START, 8);
    this.qLow = v(ST_Q_LOW, 8);
    this.qHigh = v(ST_Q_HIGH, 8);
  }

  // --- decimation --------------------------------------------------------------------------------

  private feed(src: Int16Array, from: number, to: number): void {
    if (to - from === 320 && this.kernel && this.nextOut === KERNEL_NEXT_OUT && this.decCount >= N) {
      this.feedKernel(src, from);
      return;
    }
    const lin = this.lin;
    let len = this.linLen;
    for (let i = from; i < to; i++) lin[len++] = src[i]!;
    const c = HB_COEF32;
    const buf = this.buf;
    const c0 = c[0]!, c1 = c[1]!, c2 = c[2]!, c3 = c[3]!, c4 = c[4]!, c5 = c[5]!, c6 = c[6]!;
    let p = this.nextOut;
    while (p < len) {
      // produce outputs up to the next analysis point in a tight loop (state in locals), then analyse
      let dec = this.decCount;
      const next = dec < N ? N : dec - (dec % HOP) + HOP;
      const avail = (len - p + 1) >> 1;
      const m = avail < next - dec ? avail : next - dec;
      let w = this.pos;
      for (let j = 0; j < m; j++, p += 2) {
        const q = p - HB_C; // centre
        // in f32, as the kernel (the sums of two int16 and their products with an f32 are exact in
        // f64, so rounding each to f32 gives the f32 operation's result)
        let y = f32(f32(c0 * lin[q]!) + f32(c1 * (lin[q - 1]! + lin[q + 1]!)));
        y = f32(y + f32(c2 * (lin[q - 3]! + lin[q + 3]!)));
        y = f32(y + f32(c3 * (lin[q - 5]! + lin[q + 5]!)));
        y = f32(y + f32(c4 * (lin[q - 7]! + lin[q + 7]!)));
        y = f32(y + f32(c5 * (lin[q - 9]! + lin[q + 9]!)));
        y = f32(y + f32(c6 * (lin[q - 11]! + lin[q + 11]!)));
        if (w === CAP) w = this.shift(w);
        buf[w++] = y;
      }
      dec += m;
      this.pos = w;
      this.decCount = dec;
      if (dec === next) this.analyse();
    }
    // keep the last HB_TAPS − 1 samples
    const keep = HB_TAPS - 1;
    const drop = len - keep;
    lin.copyWithin(0, drop, len);
    this.linLen = keep;
    this.nextOut = p - drop;
  }

  /**
   * A whole frame through the WebAssembly kernel: it decimates the frame, runs the four windows'
   * low-group filters and spectra, and tells which windows pass the row test. The windows are then
   * decided in order, each with the ring and the counters as they stand at its end, exactly as
   * feed()'s own loop leaves them; but a run of windows that can lead to nothing (no key in
   * progress, and the row test failed or there is no previous window) is only remembered, in one
   * step: on speech that is most windows, and their decide() was most of the detector's JavaScript.
   * When all four are such a run, the kernel has remembered them itself (6–9 % off the IVR bench's
   * tick against doing it here: a JavaScript frame then only sets four fields).
   */
  private feedKernel(src: Int16Array, from: number): void {
    const heap = KERNEL!;
    const keep = HB_TAPS - 1;
    const input = heap.input;
    if (from === 0 && src.length === 320) input.set(src, keep);
    else for (let i = 0; i < 320; i++) input[keep + i] = src[from + i]!;
    // The frame is processed in the kernel's work area, which holds this slot's history (its last
    // 280 samples, wherever they start: the kernel's shift) and then the frame's: the windows'
    // decisions read it there (buf, bufAt: see decideWindows), and the slot gets its new history back.
    const dec0 = this.decCount;
    const first = HOP - (dec0 % HOP); // decimated samples before the first window's end: 1..40
    const lim = this.strict;
    const idle = this.cand >= 0 ? 0 : this.havePrev ? 3 : 1;
    const remembered = heap.frame(this.slot, first, this.pos - KEEP, lim.rowFloor, lim.neighbour, lim.shareBound, this.slot + STATE_AT, idle, dec0 + first);
    this.linLen = keep; // (the slot's IN: its last 22 samples)
    if (remembered !== 0) {
      // the kernel did remember(spec, 0, 4, dec0 + first) in the state; these are its fields
      this.havePrev = true;
      this.hiCur = false;
      this.histCount = 3;
    } else {
      this.decideWindows(dec0, first);
    }
    this.pos = KEEP; // (the slot's X: its last 280 samples at its front)
    this.decCount = dec0 + 160;
  }

  /** feedKernel()'s windows one by one, in the kernel's work area (see there). */
  private decideWindows(dec0: number, first: number): void {
    const heap = KERNEL!;
    const pos0 = KEEP;
    const slotBuf = this.buf;
    this.buf = heap.work;
    this.bufAt = WORK_X;
    const res = heap.res;
    const spec = heap.spec;
    for (let w = 0; w < 4; ) {
      if (this.cand < 0) {
        let end = w;
        let prev = this.havePrev;
        while (end < 4 && !(prev && spec[end * SPEC_WINDOW + 16] !== 0)) {
          end++;
          prev = true;
        }
        if (end > w) {
          this.remember(spec, w, end, dec0 + first);
          w = end;
          continue;
        }
      }
      const ahead = first + w * HOP;
      this.pos = pos0 + ahead;
      this.decCount = dec0 + ahead;
      const g1 = this.g1, g2 = this.g2, at = w * 9;
      for (let f = 0; f < 4; f++) {
        g1[f] = res[at + f]!;
        g2[f] = res[at + 4 + f]!;
      }
      this.energy = res[at + 8]!;
      this.decide();
      w++;
    }
    this.buf = slotBuf;
    this.bufAt = this.slot + BUF_AT;
  }

  /**
   * What decide() leaves of the kernel's windows [from, to) when none can lead to a key: each is
   * remembered (its low group's phase and magnitudes; its high group not computed) and the history
   * moves on by to − from windows. `end0`: the first window's end, in decimated samples.
   */
  private remember(spec: Float64Array, from: number, to: number, end0: number): void {
    const m = to - from;
    // (through `state` itself, at the views' offsets: one object to fetch, not four)
    const st = this.state;
    // slots m.. take the older ones (whole: their high groups too); slots below m the new windows,
    // whose high group is not computed (histHi 0; their high entries, unread, keep slot 0's as
    // decide()'s shifting leaves them)
    for (let j = 2; j >= m; j--) {
      const o = ST_HIST_MAG + (j - m) * 8;
      for (let k = 0; k < 8; k++) st[ST_HIST_MAG + j * 8 + k] = st[o + k]!;
      st[ST_HIST_HI + j] = st[ST_HIST_HI + j - m]!;
      st[ST_HIST_T + j] = st[ST_HIST_T + j - m]!;
    }
    for (let j = Math.min(m, 3) - 1; j >= 0; j--) {
      const at = (to - 1 - j) * SPEC_WINDOW;
      for (let k = 0; k < 4; k++) st[ST_HIST_MAG + j * 8 + k] = spec[at + 12 + k]!;
      if (j > 0) for (let k = 4; k < 8; k++) st[ST_HIST_MAG + j * 8 + k] = st[ST_HIST_MAG + k]!;
      st[ST_HIST_HI + j] = 0;
      st[ST_HIST_T + j] = 2 * (end0 + (to - 1 - j) * HOP - N / 2);
    }
    const at = (to - 1) * SPEC_WINDOW;
    for (let k = 0; k < 4; k++) {
      st[ST_PREV_RE + k] = spec[at + k]!;
      st[ST_PREV_IM + k] = spec[at + 4 + k]!;
    }
    this.havePrev = true;
    this.hiCur = false;
    this.histCount = Math.min(3, this.histCount + m);
  }

  /** Moves the KEEP samples before `end` (the write position) to the buffer's front; returns the new one. */
  private shift(end: number): number {
    this.buf.copyWithin(0, end - KEEP, end);
    this.pos = KEEP;
    return KEEP;
  }

  // --- analysis ----------------------------------------------------------------------------------

  private analyse(): void {
    this.goertzel(0, 0);
    this.energy = this.winEnergy;
    this.decide();
  }

  /** The rest of a window's analysis, once its low-group filters (g1, g2 [0..3]) and energy are in. */
  private decide(): void {
    this.spectrum(0);

    // window centre and decision time, in 16 kHz samples of the input stream
    const centre = 2 * (this.decCount - N / 2);
    this.centre = centre;
    this.hiCur = false; // the high group waits until something needs it (most windows fail the row test)
    const strictDigit = this.havePrev ? this.validate(this.strict, -1) : -1;
    this.track(strictDigit);

    // remember this window (its high group only if it was computed: histHi says)
    const re = this.re, im = this.im;
    const kEnd = this.hiCur ? 8 : 4;
    for (let k = 0; k < kEnd; k++) {
      this.prevRe[k] = re[k]!;
      this.prevIm[k] = im[k]!;
    }
    this.havePrev = true;
    const h = this.histMag;
    for (let k = 15; k >= 0; k--) h[k + 8] = h[k]!; // (a loop: copyWithin is a call into the runtime)
    for (let k = 0; k < kEnd; k++) h[k] = this.mag[k]!;
    const hh = this.histHi;
    hh[2] = hh[1]!;
    hh[1] = hh[0]!;
    hh[0] = this.hiCur ? 1 : 0;
    this.histT[2] = this.histT[1]!;
    this.histT[1] = this.histT[0]!;
    this.histT[0] = centre;
    if (this.histCount < 3) this.histCount++;
  }

  /**
   * Runs the four Goertzel filters of group `k` (0: low, 4: high) over the window `back` hops before
   * the current one, weighted by the Hann window, into g1/g2[k .. k + 3], and the window's energy
   * into winEnergy. In f32 (each operation rounded by Math.fround, as the kernel's f32x4 lanes
   * round it: the two agree bit for bit), and the same arithmetic whenever a window is computed
   * (now or later, here or in the kernel). f32 is ample here: 160 steps of a stable recurrence, on
   * input quantised to 16 bits, judged in decibels.
   */
  private goertzel(k: number, back: number): void {
    const base = this.pos - N - back * HOP;
    if (this.kernel) {
      const heap = KERNEL!;
      heap.goertzel(this.bufAt + base * 4, 9696 + 4 * k);
      const r = heap.gres, g1 = this.g1, g2 = this.g2;
      for (let i = 0; i < 4; i++) {
        g1[k + i] = r[i]!;
        g2[k + i] = r[4 + i]!;
      }
      this.winEnergy = r[8]!;
      return;
    }
    // (the JavaScript path, for runtimes without the kernel: written plainly, the four filters in a loop)
    const g1 = this.g1, g2 = this.g2;
    g1.fill(0, k, k + 4);
    g2.fill(0, k, k + 4);
    let e = 0;
    const buf = this.buf, win = WIN32;
    for (let n = 0; n < N; n++) {
      const v = f32(buf[base + n]! * win[n]!);
      e = f32(e + f32(v * v));
      for (let t = k; t < k + 4; t++) {
        const s1 = g1[t]!;
        g1[t] = f32(f32(v - g2[t]!) + f32(TONE_COEF32[t]! * s1));
        g2[t] = s1;
      }
    }
    this.winEnergy = e;
  }

  /** Computes the current window's high group (re, im, pw, mag [4..7]) unless already done. */
  private ensureHigh(): void {
    if (this.hiCur) return;
    this.goertzel(4, 0);
    this.spectrum(4);
    this.hiCur = true;
  }

  /**
   * The current window's re, im, pw, mag [k .. k + 3] from its Goertzel states: y = s1 − e^{−jω}·s2,
   * the DFT value up to a phase constant that is the same for every window.
   */
  private spectrum(k: number): void {
    for (const end = k + 4; k < end; k++) {
      const s1 = this.g1[k]!, s2 = this.g2[k]!;
      const r = s1 - TONE_COS[k]! * s2;
      const i = TONE_SIN[k]! * s2;
      this.re[k] = r;
      this.im[k] = i;
      const p = r * r + i * i;
      this.pw[k] = p;
      this.mag[k] = Math.sqrt(p);
    }
  }

  /**
   * Computes the high group of history slot j (the window j + 1 hops back) unless already done:
   * histMag, and for slot 0 also prevRe/prevIm. The slot must exist (j < histCount).
   */
  private ensureHistHigh(j: number): void {
    if (this.histHi[j] === 1) return;
    this.goertzel(4, j + 1);
    for (let k = 4; k < 8; k++) {
      const s1 = this.g1[k]!, s2 = this.g2[k]!;
      const r = s1 - TONE_COS[k]! * s2;
      const i = TONE_SIN[k]! * s2;
      if (j === 0) {
        this.prevRe[k] = r;
        this.prevIm[k] = i;
      }
      this.histMag[j * 8 + k] = Math.sqrt(r * r + i * i);
    }
    this.histHi[j] = 1;
  }

  /**
   * Frequency offset (Hz) of the tone in bin k, from the phase advance since the last window;
   * written to `this.offset` (hot-path methods take and return no doubles: V8 would box them).
   */
  private measureOffset(k: number): void {
    const r = this.re[k]!, i = this.im[k]!, pr = this.prevRe[k]!, pi = this.prevIm[k]!;
    const xr = r * pr + i * pi;
    const xi = i * pr - r * pi;
    const c = ADV_COS[k]!, s = ADV_SIN[k]!;
    this.offset = Math.atan2(xi * c + xr * s, xr * c - xi * s) * HZ_PER_RAD;
  }

  /**
   * Checks this window against `lim`. With `want` = −1 the strongest row and column decide the
   * key; otherwise the window is checked for that key (index) only. Returns the key index or −1.
   */
  private validate(lim: Limits, want: number): number {
    const pw = this.pw;
    let r: number;
    if (want < 0) {
      r = 0;
      for (let k = 1; k < 4; k++) if (pw[k]! > pw[r]!) r = k;
    } else {
      r = want >> 2;
    }
    const pr = pw[r]!;
    // a tone within tolerance loses at most ~4 dB to the window: cheap early rejection
    const floor = lim.rowFloor;
    if (pr < floor) return -1;
    for (let k = 0; k < 4; k++) if (k !== r && pw[k]! * lim.neighbour > pr) return -1;
    if (this.energy > pr * lim.shareBound) return -1;
    // the row test passed: only now is the high group needed
    this.ensureHigh();
    let c: number;
    if (want < 0) {
      c = 4;
      for (let k = 5; k < 8; k++) if (pw[k]! > pw[c]!) c = k;
    } else {
      c = 4 + (want & 3);
    }
    const pc = pw[c]!;
    if (pc < floor) return -1;
    for (let k = 4; k < 8; k++) if (k !== c && pw[k]! * lim.neighbour > pc) return -1;
    this.measureOffset(r);
    const dr = this.offset;
    if (Math.abs(dr) > lim.tol * FREQS[r]!) return -1;
    this.ensureHistHigh(0); // the previous window's phase at c
    this.measureOffset(c);
    const dc = this.offset;
    if (Math.abs(dc) > lim.tol * FREQS[c]!) return -1;
    // undo the window's loss at the measured offset (Hann main lobe: sinc(d)/(1 − d²), d in bins)
    const gr = hannGain(Math.abs(dr) / BIN_HZ);
    const gc = hannGain(Math.abs(dc) / BIN_HZ);
    const Pr = pr / (gr * gr);
    const Pc = pc / (gc * gc);
    if (Pr < lim.minPow || Pc < lim.minPow) return -1;
    if (Pr > Pc * lim.twistN || Pc > Pr * lim.twistR) return -1;
    // |X|² → tone power: 2|X|²/(Σw)²; windowed energy → power: e/Σw²
    if ((Pr + Pc) * (2 / (SUM_W * SUM_W)) < lim.share * (this.energy / SUM_W2)) return -1;
    if (lim.probe) {
      const fr = FREQS[r]! + dr;
      const fc = FREQS[c]! + dc;
      const d = fc - fr;
      const ph = this.probeHz;
      let np = 0;
      ph[np++] = fr + d / 2;
      if (fr - d >= PROBE_MIN_HZ) ph[np++] = fr - d;
      if (fc + d <= PROBE_MAX_HZ) ph[np++] = fc + d;
      if (d / 3 >= PROBE_MIN_SPACING_HZ) {
        ph[np++] = fr + d / 3;
        ph[np++] = fr + (2 * d) / 3;
      }
      this.probeCount = np;
      this.probeLimit = (pr > pc ? pr : pc) * PROBE_LIMIT;
      if (!this.probesQuiet()) return -1;
    }
    this.mPr = Pr;
    this.mPc = Pc;
    this.mDevR = dr / FREQS[r]!;
    this.mDevC = dc / FREQS[c]!;
    return r * 4 + (c - 4);
  }

  /**
   * Voiced speech that imitates a key does it with two harmonics of one pitch; the harmonics
   * around them are then present too. Checks that the spectrum is quiet where those would be
   * (`probeHz`, set by validate()): below the low tone and above the high tone by their spacing
   * Δ, midway between them (Δ = 2·f0) and at thirds (Δ = 3·f0). A real key leaves only noise there.
   */
  private probesQuiet(): boolean {
    const buf = this.buf, win = WIN;
    const base = this.pos - N; // the current window
    for (let j = 0; j < this.probeCount; j++) {
      const k = 2 * Math.cos((2 * Math.PI * this.probeHz[j]!) / FSD);
      let s1 = 0, s2 = 0;
      for (let n = 0; n < N; n++) {
        const s0 = buf[base + n]! * win[n]! + k * s1 - s2;
        s2 = s1;
        s1 = s0;
      }
      if (s1 * s1 + s2 * s2 - k * s1 * s2 > this.probeLimit) return false;
    }
    return true;
  }

  // --- key tracking ------------------------------------------------------------------------------

  private track(strictDigit: number): void {
    const centre = this.centre;
    if (this.cand >= 0) {
      this.ensureHigh();
      const a = this.mag[this.candR]! + this.mag[this.candC]!;
      const strict = strictDigit === this.cand;
      const held = strict || (strictDigit < 0 && this.validate(this.relaxed, this.cand) === this.cand);
      if (held) {
        this.sum += a;
        if (a > this.amax) {
          this.amax = a;
          this.peakPr = this.mPr;
          this.peakPc = this.mPc;
        }
        if (strict) {
          this.consec++;
          if (this.consec > this.maxConsec) this.maxConsec = this.consec;
          this.noteStats();
        } else {
          this.consec = 0;
        }
        this.miss = 0;
        this.lastA = a;
        this.tailOpen = true;
        if (this.onCount < 16) {
          this.onT[this.onCount] = centre;
          this.onA[this.onCount++] = a;
        }
      } else {
        this.miss++;
        this.consec = 0;
        if (this.tailOpen && a <= this.lastA * EDGE_SLACK) {
          this.sum += a;
          this.lastA = a;
        } else {
          this.tailOpen = false;
        }
      }
      this.maybeReport();
      if (!held && (strictDigit >= 0 || this.miss >= 3)) this.cand = -1;
    }
    if (this.cand < 0 && strictDigit >= 0) this.startRun(strictDigit);
  }

  private startRun(d: number): void {
    const centre = this.centre;
    this.cand = d;
    this.candR = d >> 2;
    this.candC = 4 + (d & 3);
    const a = this.mag[this.candR]! + this.mag[this.candC]!;
    this.onCount = 0;
    // pre-roll: the rising windows just before this one
    let sum = a;
    let prev = a;
    let firstPre = 0;
    for (let j = 0; j < this.histCount; j++) {
      this.ensureHistHigh(j);
      const h = this.histMag[j * 8 + this.candR]! + this.histMag[j * 8 + this.candC]!;
      if (h > prev * EDGE_SLACK) break;
      sum += h;
      prev = h;
      firstPre = j + 1;
    }
    for (let j = firstPre - 1; j >= 0; j--) {
      this.onT[this.onCount] = this.histT[j]!;
      this.onA[this.onCount++] = this.histMag[j * 8 + this.candR]! + this.histMag[j * 8 + this.candC]!;
    }
    this.onT[this.onCount] = centre;
    this.onA[this.onCount++] = a;
    this.sum = sum;
    this.amax = a;
    this.peakPr = this.mPr;
    this.peakPc = this.mPc;
    this.consec = 1;
    this.maxConsec = 1;
    this.devRMin = this.devRMax = this.mDevR;
    this.devCMin = this.devCMax = this.mDevC;
    this.twMin = this.twMax = this.mPr / this.mPc;
    this.miss = 0;
    this.lastA = a;
    this.tailOpen = true;
    this.reported = false;
    this.maybeReport();
  }

  /** Spread of the measured frequencies and twist over the strictly valid windows. */
  private noteStats(): void {
    const r = this.mDevR, c = this.mDevC, t = this.mPr / this.mPc;
    if (r < this.devRMin) this.devRMin = r;
    if (r > this.devRMax) this.devRMax = r;
    if (c < this.devCMin) this.devCMin = c;
    if (c > this.devCMax) this.devCMax = c;
    if (t < this.twMin) this.twMin = t;
    if (t > this.twMax) this.twMax = t;
  }

  private maybeReport(): void {
    if (this.reported || this.maxConsec < 3 || this.sum < this.durUnits * this.amax) return;
    // a key is steady: speech that happens to match drifts in pitch and formant balance
    if (this.devRMax - this.devRMin > MAX_DRIFT || this.devCMax - this.devCMin > MAX_DRIFT) return;
    if (this.twMax > this.twMin * MAX_TWIST_SPREAD) return;
    this.reported = true;
    // onset: where the amplitude first reaches half its peak (window centre on the tone's edge)
    const half = 0.5 * this.amax;
    let start = this.onT[0]!;
    for (let i = 0; i < this.onCount; i++) {
      if (this.onA[i]! >= half) {
        if (i === 0) {
          start = this.onT[0]!;
        } else {
          const a0 = this.onA[i - 1]!, a1 = this.onA[i]!;
          const f = a1 > a0 ? (half - a0) / (a1 - a0) : 1;
          start = this.onT[i - 1]! + f * (this.onT[i]! - this.onT[i - 1]!);
        }
        break;
      }
    }
    if (this.qLen === 8) return; // the caller is not reading; drop rather than allocate
    const slot = (this.qHead + this.qLen) & 7;
    this.qKey[slot] = this.cand;
    // the decision used input up to the newest sample behind the decimator
    this.qAt[slot] = (2 * this.decCount + HB_C - 1) / (FS / 1000);
    this.qStart[slot] = Math.max(0, start) / (FS / 1000);
    // tone power (A²/2) relative to a full-scale sine
    this.qLow[slot] = 10 * Math.log10(this.peakPr / FULL_SCALE_X2);
    this.qHigh[slot] = 10 * Math.log10(this.peakPc / FULL_SCALE_X2);
    this.qLen++;
  }
}
