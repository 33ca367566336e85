/**
 * Speech / silence detector for the media engine's stream (16-bit linear PCM, 16 kHz, mono), fed
 * one frame at a time (20 ms = 320 samples). It is what Graph's recordResponse timers stand on:
 * `initialSilenceTimeoutInSeconds` (no speech since the recording started: `!speechSeen`) and
 * `maxSilenceTimeoutInSeconds` (silence after speech began: `silenceMs`). Allocates nothing per
 * frame: all state lives in typed arrays and fields created by the constructor.
 *
 * METHOD (band energies against adaptive noise floors; no fixed level threshold)
 *   1. Bands. A DC blocker, then 2nd-order Butterworth sections split each frame into 300–3400 Hz
 *      ("mid": high-pass ×2, low-pass ×2), where voiced speech is strongest, and 3400–8000 Hz
 *      ("high": high-pass ×2), where the fricatives are (s, f, sh, th). Each band gives a level per
 *      frame in dBFS (0 dBFS = a full-scale sine). The rumble below 300 Hz, which carries much of a
 *      line's noise and little of its speech, counts for nothing; a word-final "s" is seen in the
 *      high band instead of drowning in the noise of a wide one.
 *   2. Noise floor N per band (dB), tracking the background:
 *        - fast fall: N drops at once to the level averaged over the last 200 ms when that is below
 *          it (it sits at the background's lows, but not at single-frame dips);
 *        - slow rise otherwise: 3 dB/s between talk-spurts, 0.5 dB/s during them, so an utterance
 *          cannot pull the floor up to itself;
 *        - short stationarity rule: when the last 240 ms (12 frames) of a band's levels all lie
 *          within 4 dB, that band holds a steady background (speech swings by 10 dB and more from
 *          syllable to syllable: < 1 % of 240 ms windows of espeak-ng speech are that flat) and N
 *          jumps up to their lowest, by at most 15 dB. A step up in stationary noise is absorbed in
 *          ≈ 250 ms, not the seconds a slow rise would take;
 *        - long stationarity rule: when the mid band's 100 ms-smoothed level has stayed within 8 dB
 *          for 1 s, there is no talker in that second (speech at 20 dB S/N swings by ≥ 14 dB in
 *          99.9 % of 1 s windows), and both floors jump up to their lowest smoothed level of that
 *          second. This is what catches non-stationary backgrounds such as multi-talker babble.
 *   3. Background excursion E per band: how far the background alone rises above N (its 98th
 *      percentile, by an up/down step tracker), learnt only while the long rule holds. A band is
 *      speech-like in a frame when its level exceeds N by max(9 dB, E + 4 dB) to start a talk-spurt,
 *      or by max(3 dB, E + 1 dB) to continue one (hysteresis, so weak word endings are kept), and is
 *      at least −75 dBFS (digital silence and dither never count). For white or pink noise E is
 *      ≈ 1–2 dB and the 9 / 3 dB minimums apply; for babble E is ≈ 5–10 dB, which keeps its swells
 *      from passing for a talker. The frame is speech-like when either band is, and never while a
 *      stationarity rule says the recent past is background.
 *   4. Onset: 3 speech-like frames among the last 4 (≥ 60 ms; an isolated click does not count).
 *      The talk-spurt is dated from its first speech-like frame (`lastSpeechStartMs`). Offset: the
 *      talker is `speaking` until 240 ms (12 frames, the hangover) pass without a speech-like frame,
 *      which bridges the gaps inside words. `lastSpeechEndMs` is the end of the last speech-like
 *      frame, not of the hangover, so a silence timer measured from it (`silenceMs`) is not biased
 *      by the hangover. When a stationarity rule declares the recent past background, a spurt in
 *      progress ends at once (no hangover).
 *   5. Undo: a talk-spurt that lies wholly inside a window a stationarity rule has just declared
 *      background, that follows no other spurt within that window, and that never rose 16 dB above
 *      the floor was the background itself (a step up in the noise, a swell of babble): it is
 *      withdrawn, and `speechSeen`, `lastSpeechStartMs` and `lastSpeechEndMs` return to what they
 *      were before it. So noise steps do not cancel an initial-silence timeout nor restart a
 *      max-silence one (a timer that would have fired meanwhile fires late, at the withdrawal).
 *
 * KERNEL: for 320-sample frames the per-sample work of step 1 (DC blocker, six filter sections,
 * energies) runs in WebAssembly SIMD (vadKernel.wat: two sections per instruction, the stages
 * software-pipelined), with results bit-identical to the JavaScript path (filterJs), which serves
 * other frame sizes and runtimes without WebAssembly SIMD (test/media/vad-kernel.test.ts). It is
 * there because that loop is most of the detector's cost, and the media engine runs a detector
 * per call, 1,000 and more on one core: per 20 ms frame of speech with 1,000 detectors live
 * (bench/media/kernels.ts), about 1.7 µs with the kernel, 3.1 µs without. TELEGRAPH_VAD_KERNEL=0
 * turns it off.
 *
 * WHAT IT GUARANTEES (test/media/vad.test.ts: espeak-ng speech placed at known positions, clean
 * and in seeded white and pink noise at 20 dB S/N, S/N = active speech level over full-band noise
 * RMS; the truth is the placed speech, trimmed of espeak-ng's silences by its clean energy):
 *   - a recordResponse timer built on it (initial: fires when `!speechSeen` at the timeout; max:
 *     fires when `silenceMs` reaches the timeout) fires within ±100 ms of the true time for
 *     timeouts of 1 s and 2 s (measured: initial exact; max −38…+22 ms), and is not fooled by the
 *     pauses between words and sentences (≤ 700 ms) nor by speech that starts at t = 0;
 *   - stationary noise 20 dB below speech level is not speech once 500 ms have passed since the
 *     start or since a step in its level (measured: +10 dB step → 200 ms of "speech", then undone);
 *   - the decision depends on levels relative to the floors only: a talker 20 dB quieter
 *     (≈ −37 dBFS) is detected like a normal one, down to the −75 dBFS sanity minimum.
 * LIMITS (measured on a wider set: 36 utterances, 6 voices, 12 texts):
 *   - the end of speech is where the speech sinks into the noise. Tails more than ≈ 25 dB below
 *     the speech level (breathy decays, a final unvoiced burst) are under 20 dB S/N noise and are
 *     cut: with one voice (espeak-ng en+f2) ends are found 100–140 ms early (5 of 36 ends in white
 *     noise, 4 of 36 in pink; all others within ±100 ms). At 15 dB S/N, 19 of 36 ends in white
 *     noise and 8 of 36 in pink are 100–230 ms early;
 *   - below ≈ 12 dB S/N, continuous speech can look steady enough for the long rule, and stretches
 *     of it are taken for background (≈ 1 s at 12 dB, 2 s at 10 dB);
 *   - babble: learnt within ≈ 1 s when alone, but the end of speech in babble at 20 dB S/N is
 *     found within ±100 ms for 24 of 36 utterances; 3 end 0.1–0.15 s early, 9 run on 0.2–1.4 s
 *     into the babble. Music, a TV or a slammed door look like speech, as they do to any energy detector;
 *   - feed it from the start of the call (or of the prompt) and call restart() when the recording
 *     starts: it then begins the recording adapted to the line. After reset() (or new) it needs
 *     the first frames to place its floors (stationary noise: immediately; babble: ≈ 1 s).
 */

import { readFileSync } from 'node:fs';

const SAMPLE_RATE = 16000;

/**
 * The band filters: a1 a2 of each section pair (high-pass 300 Hz, low-pass 3400 Hz, high-pass
 * 3400 Hz), then the squared gains of the mid and high cascades (see filterFrame).
 */
const FILTER = (() => {
  const hp300 = butterworth('hp', 300);
  const lp3400 = butterworth('lp', 3400);
  const hp3400 = butterworth('hp', 3400);
  return new Float64Array([
    hp300.a1, hp300.a2, lp3400.a1, lp3400.a2, hp3400.a1, hp3400.a2,
    (hp300.gain * hp300.gain * lp3400.gain * lp3400.gain) ** 2,
    (hp3400.gain * hp3400.gain) ** 2,
  ]);
})();
/** The DC blocker's pole (20 Hz corner). */
const DC_POLE = Math.exp((-2 * Math.PI * 20) / SAMPLE_RATE);
/** Mean square of a full-scale sine: the 0 dBFS reference. */
const FULL_SCALE_POWER = (32767 * 32767) / 2;
/** Levels are clamped here (−100 dBFS), which also makes digital silence finite. */
const MIN_LEVEL_DB = -100;
/** A talk-spurt that never rose this far (dB) above the floor may be undone as background. */
const RETRACT_BELOW_DB = 16;

/** Frame size the kernel is written for (vadKernel.wat). */
const KERNEL_FRAME = 320;

/**
 * The WebAssembly kernel (vadKernel.wat), one for the process: filterFrame() copies a frame and its
 * detector's filter state into the kernel's scratch, runs it, and copies the state and energies
 * back. Its memory is one page and never grows, so these views stay valid.
 */
interface VadKernel {
  readonly run: () => void;
  readonly frame: Int16Array; // FRAME: the input
  readonly state: Float64Array; // STATE: the 15 filter state doubles, as SpeechDetector's `z`
  readonly energy: Float64Array; // ENERGY: total, mid, high (before the cascades' gains)
}

/** Null where WebAssembly SIMD is missing (or TELEGRAPH_VAD_KERNEL=0): the JavaScript path then does the same work. */
const KERNEL: VadKernel | null = (() => {
  if (process.env.TELEGRAPH_VAD_KERNEL === '0') return null;
  try {
    const bytes = new Uint8Array(readFileSync(new URL('./vadKernel.wasm', import.meta.url)));
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    const mem = (inst.exports.memory as WebAssembly.Memory).buffer;
    // COEF: (a1, h1) (a2, h2) (b1, b1) (b2, b2), the DC pole
    const c = FILTER;
    new Float64Array(mem, 800, 9).set([c[0]!, c[4]!, c[1]!, c[5]!, c[2]!, c[2]!, c[3]!, c[3]!, DC_POLE]);
    return {
      run: inst.exports.frame as () => void,
      frame: new Int16Array(mem, 0, KERNEL_FRAME),
      state: new Float64Array(mem, 640, 15),
      energy: new Float64Array(mem, 768, 3),
    };
  } catch {
    return null;
  }
})();

/** Whether detectors use the WebAssembly kernel here (false: no WebAssembly SIMD, or TELEGRAPH_VAD_KERNEL=0). */
export const VAD_KERNEL_AVAILABLE = KERNEL !== null;

export interface SpeechDetectorOptions {
  /** Samples per frame (default 320 = 20 ms at 16 kHz). process() takes frames of exactly this size. */
  frameSamples?: number;
  /** Least dB above a band's noise floor for the band to count as speech-like when not speaking. Default 9. */
  onsetDb?: number;
  /** Least dB above a band's noise floor for the band to count as speech-like while speaking. Default 4. */
  continueDb?: number;
  /** Margins (dB) over the background's own excursion (its 98th percentile above the floor), to start and to continue. Default 4 and 1. */
  onsetOverBackgroundDb?: number;
  continueOverBackgroundDb?: number;
  /** Absolute minimum level of speech in a band, dBFS. Default −75. */
  minSpeechDbfs?: number;
  /** Hangover: ms without speech-like frames before speaking ends. Default 240. */
  hangoverMs?: number;
  /** Onset: speech-like frames needed among the last `onsetWindow` frames. Default 3 of 4. */
  onsetFrames?: number;
  onsetWindow?: number;
  /** Short stationarity rule: window (ms) and largest spread (dB) of the frame levels. Default 240 ms, 4 dB. */
  steadyMs?: number;
  steadySpreadDb?: number;
  /** The short rule lifts the floor by at most this much (dB); larger steps wait for the long rule. Default 15. */
  steadyMaxStepDb?: number;
  /**
   * Long stationarity rule: window (ms) and largest spread (dB) of the mid band's 100 ms-smoothed
   * level. Default 1000 ms, 8 dB; a window of 0 turns the rule off.
   */
  longSteadyMs?: number;
  longSteadySpreadDb?: number;
  /** The floor falls to the level smoothed over this long (ms). Default 200. */
  fallMs?: number;
  /** Slow rise of the floor, dB per second, outside and inside speech-like frames. Default 3 and 0.5. */
  riseIdleDbPerS?: number;
  riseSpeechDbPerS?: number;
  /**
   * Filter 320-sample frames in the WebAssembly kernel when the runtime has it (default true). The
   * results are the same either way (bit for bit); false is for tests and benchmarks.
   */
  kernel?: boolean;
}

interface BandParams {
  onsetDb: number;
  continueDb: number;
  onsetOverBg: number;
  continueOverBg: number;
  minDb: number;
  steadyFrames: number;
  steadySpread: number;
  steadyMaxStep: number;
  smoothFrames: number;
  fallFrames: number;
  longFrames: number;
  longSpread: number;
  riseIdle: number; // dB per frame
  riseSpeech: number; // dB per frame
}

/**
 * One BandParams object for every detector with the same parameters (nearly all use the defaults):
 * a frame reads it, and one object shared by 1,000 calls stays in the caches where 1,000 copies
 * would not.
 */
const PARAMS = new Map<string, BandParams>();
function sharedParams(p: BandParams): BandParams {
  const key = Object.values(p).join(' ');
  const shared = PARAMS.get(key);
  if (shared) return shared;
  if (PARAMS.size < 64) PARAMS.set(key, p); // (bounded: parameters come from configuration, not from calls)
  return p;
}

/** Initial background excursion (dB above the floor) before any has been measured. */
const INITIAL_EXCURSION_DB = 1;
/** Steps of the excursion tracker (dB per frame): up 49× the down step, so it settles at the 98th percentile. */
const EXCURSION_UP = 0.5;
const EXCURSION_DOWN = EXCURSION_UP / 49;
const MAX_EXCURSION_DB = 15;

// The detector's numbers in its buffer (s64 indices), after the filter state (z, 15) and the energies (3).
const D_BAND_SHARE = 18; // bandShare
const D_PEAK = 19; // highest excursion above the floor during the spurt, dB
const D_INV_POWER = 20; // 1 / (frameSamples · FULL_SCALE_POWER)
const D_COUNT = 22; // (the bands' numbers and rings after them stay 16-byte aligned)

// A band's numbers in the detector's buffer (s64 indices from the band's `v`).
const V_LEVEL = 0; // level of the last frame, dBFS
const V_SLOW = 1; // level smoothed over the fall window (200 ms), dBFS: what the floor falls to
const V_FLOOR = 2; // noise floor, dBFS
const V_EXCURSION = 3; // how far the background alone rises above the floor (its 98th percentile), dB
const V_STEADY_LO = 4; // measure()'s lowest level of the short window, for commit()
const V_LONG_LO = 5; // measure()'s lowest smoothed level of the long window, for commit()
const V_POWER = 6; // measure()'s input: the frame's power in the band, relative to full scale
const V_SHORT_MIN = 7; // the least and greatest level in the short ring (two numbers: see slide())
const V_LONG_MIN = 9; // the same for the long ring
const V_COUNT = 12; // (a multiple of 2: the rings after them stay 16-byte aligned)

/**
 * Writes `x` (as f32) at `pos` of the ring s32[at, at + len), which held `count` values, and keeps
 * the least and greatest value the ring holds in s64[mm] and s64[mm + 1]. The same numbers a scan of
 * the ring gives, for a scan's cost only when the value pushed out was the least or the greatest
 * and the new one does not take its place (the rule windows are 12 and 50 frames, two bands, every
 * frame: a scan each time was most of the detector's bookkeeping).
 */
function slide(s32: Float32Array, at: number, len: number, pos: number, count: number, x: number, s64: Float64Array, mm: number): void {
  const f = Math.fround(x);
  const old = count < len ? f : s32[at + pos]!; // (while filling, nothing is pushed out)
  s32[at + pos] = f;
  if (count === 0) {
    s64[mm] = f;
    s64[mm + 1] = f;
    return;
  }
  let mn = s64[mm]!;
  let mx = s64[mm + 1]!;
  let rescan = false;
  if (f <= mn) mn = f;
  else if (old === mn) rescan = true;
  if (f >= mx) mx = f;
  else if (old === mx) rescan = true;
  if (rescan) {
    mn = f;
    mx = f;
    for (let i = at, end = at + (count < len ? count + 1 : len); i < end; i++) {
      const y = s32[i]!;
      if (y < mn) mn = y;
      if (y > mx) mx = y;
    }
  }
  s64[mm] = mn;
  s64[mm + 1] = mx;
}

/**
 * Noise floor, background excursion and the speech-like test for one band. Everything it needs is
 * allocated by the constructor.
 */
class BandTracker {
  // Its numbers (level, floor, …) lie in the detector's buffer too, at `v` (V_* offsets), not in
  // fields: a field holding a fractional number holds it in an object of its own, one more to
  // fetch per number and frame.
  /** Level of the last frame, dBFS. */
  get level(): number {
    return this.s64[this.v + V_LEVEL]!;
  }
  /** Noise floor, dBFS. */
  get floor(): number {
    return this.s64[this.v + V_FLOOR]!;
  }
  /** Where measure()'s input goes: the frame's power in the band, relative to full scale. */
  readonly powerAt: number;
  /** Whether the last frame was speech-like in this band. */
  active = false;
  /**
   * Set when the last frame found the recent past to be steady background: the floor was raised by
   * the short rule (then `steadyFrames` frames are background), or the long window is steady (then
   * `longFrames` frames are). 0 otherwise.
   */
  backgroundFrames = 0;
  private init = false;
  private readonly v: number;
  // Its rings lie in the detector's one buffer, reached through the detector's two views of it
  // (s64, s32) at these indices: no views of their own (at 1,000 calls every object a frame
  // touches is a likely cache miss).
  private readonly s64: Float64Array;
  private readonly s32: Float32Array;
  private readonly ringAt: number; // s32: the last steadyFrames levels
  private readonly ringLen: number;
  private pos = 0;
  private count = 0;
  private readonly pwAt: number; // s64: the powers of the last max(smoothFrames, fallFrames) frames
  private readonly pwLen: number;
  private pwPos = 0;
  private pwCount = 0;
  private readonly longAt: number; // s32: the last longFrames smoothed levels
  private readonly longLen: number;
  private longPos = 0;
  private longCount = 0;
  // results of measure(), for commit() (and V_STEADY_LO, V_LONG_LO)
  private steady = false;
  /** Whether the 100 ms-smoothed level has stayed within the long spread over the long window. */
  longSteady = false;

  /** Bytes of `store` a tracker with these parameters takes (see the constructor). */
  static bytes(p: BandParams): number {
    return 8 * V_COUNT + 8 * Math.max(p.smoothFrames, p.fallFrames) + 8 * Math.ceil((p.steadyFrames + p.longFrames) / 2); // (a multiple of 8)
  }

  /** Its arrays lie in the buffer `s64` and `s32` view, from byte `at` (8-aligned), BandTracker.bytes(p) of it. */
  constructor(private readonly p: BandParams, s64: Float64Array, s32: Float32Array, at: number) {
    this.s64 = s64;
    this.s32 = s32;
    this.pwLen = Math.max(p.smoothFrames, p.fallFrames);
    this.v = at / 8;
    this.powerAt = this.v + V_POWER;
    this.pwAt = this.v + V_COUNT;
    this.ringLen = p.steadyFrames;
    this.ringAt = 2 * (this.pwAt + this.pwLen);
    this.longLen = p.longFrames;
    this.longAt = this.ringAt + this.ringLen;
  }

  reset(): void {
    const s64 = this.s64, v = this.v;
    s64[v + V_LEVEL] = MIN_LEVEL_DB;
    s64[v + V_SLOW] = MIN_LEVEL_DB;
    s64[v + V_FLOOR] = MIN_LEVEL_DB;
    s64[v + V_EXCURSION] = INITIAL_EXCURSION_DB;
    s64[v + V_STEADY_LO] = 0;
    s64[v + V_LONG_LO] = 0;
    s64[v + V_POWER] = 0;
    this.active = false;
    this.backgroundFrames = 0;
    this.init = false;
    this.s32.fill(0, this.ringAt, this.ringAt + this.ringLen);
    this.pos = 0;
    this.count = 0;
    this.s64.fill(0, this.pwAt, this.pwAt + this.pwLen);
    this.pwPos = 0;
    this.pwCount = 0;
    this.s32.fill(0, this.longAt, this.longAt + this.longLen);
    this.longPos = 0;
    this.longCount = 0;
    this.steady = false;
    this.longSteady = false;
  }

  /**
   * First half of a frame: takes `power`, decides speech-like against the floor as it stood, and
   * measures the steadiness of the recent levels.
   */
  measure(speaking: boolean): void {
    const p = this.p;
    const s64 = this.s64, v = this.v;
    const power = s64[v + V_POWER]!;
    const level = toDb(power);
    s64[v + V_LEVEL] = level;

    // 100 ms smoothing (mean power), for the floor's fall and the long rule
    const pwAt = this.pwAt, pwLen = this.pwLen;
    s64[pwAt + this.pwPos] = power;
    this.pwPos = this.pwPos + 1 === pwLen ? 0 : this.pwPos + 1;
    if (this.pwCount < pwLen) this.pwCount++;
    // newest first: pw[pwPos − 1], pw[pwPos − 2], …
    let sumShort = 0;
    let sumLong = 0;
    const nShort = Math.min(p.smoothFrames, this.pwCount);
    const nLong = Math.min(p.fallFrames, this.pwCount);
    for (let k = 0, i = this.pwPos; k < nLong; k++) {
      i = i === 0 ? pwLen - 1 : i - 1;
      const pw = s64[pwAt + i]!;
      sumLong += pw;
      if (k < nShort) sumShort += pw;
    }
    const smoothed = toDb(sumShort / nShort);
    s64[v + V_SLOW] = toDb(sumLong / nLong);

    if (!this.init) {
      this.init = true;
      s64[v + V_FLOOR] = level;
    }
    const exc = s64[v + V_EXCURSION]!;
    const threshold = speaking ? Math.max(p.continueDb, exc + p.continueOverBg) : Math.max(p.onsetDb, exc + p.onsetOverBg);
    this.active = level >= p.minDb && level > s64[v + V_FLOOR]! + threshold;

    // short rule: spread of the last steadyFrames levels (the ring's, and this level's own
    // unrounded value, as they always were)
    const ringLen = this.ringLen;
    slide(this.s32, this.ringAt, ringLen, this.pos, this.count, level, s64, v + V_SHORT_MIN);
    this.pos = this.pos + 1 === ringLen ? 0 : this.pos + 1;
    if (this.count < ringLen) this.count++;
    this.steady = false;
    s64[v + V_STEADY_LO] = level;
    if (this.count === ringLen) {
      const mn = s64[v + V_SHORT_MIN]!, mx = s64[v + V_SHORT_MIN + 1]!;
      const lo = mn < level ? mn : level;
      const hi = mx > level ? mx : level;
      this.steady = hi - lo <= p.steadySpread;
      s64[v + V_STEADY_LO] = lo;
    }

    // long rule: spread of the smoothed level over the last longFrames
    this.longSteady = false;
    s64[v + V_LONG_LO] = smoothed;
    const longLen = this.longLen;
    if (longLen > 0) {
      slide(this.s32, this.longAt, longLen, this.longPos, this.longCount, smoothed, s64, v + V_LONG_MIN);
      this.longPos = this.longPos + 1 === longLen ? 0 : this.longPos + 1;
      if (this.longCount < longLen) this.longCount++;
      if (this.longCount === longLen) {
        const mn = s64[v + V_LONG_MIN]!, mx = s64[v + V_LONG_MIN + 1]!;
        const lo = mn < smoothed ? mn : smoothed;
        const hi = mx > smoothed ? mx : smoothed;
        this.longSteady = hi - lo <= p.longSpread;
        s64[v + V_LONG_LO] = lo;
      }
    }
  }

  /**
   * Second half: updates the floor (fast fall to the smoothed level; a jump when the recent past is
   * steady; slow rise otherwise) and, in known background, the excursion. `longBackground`: the
   * long rule holds, judged on the mid band for both bands (the high band alone can look steady
   * under speech: vowels carry little above 3.4 kHz; and babble's high band is never steady).
   * Returns whether the frame stays speech-like in this band.
   */
  commit(longBackground: boolean, speaking: boolean): boolean {
    const p = this.p;
    const s64 = this.s64, v = this.v;
    const floor = s64[v + V_FLOOR]!;
    const smoothed = s64[v + V_SLOW]!;
    const longLo = s64[v + V_LONG_LO]!;
    const steadyLo = s64[v + V_STEADY_LO]!;
    let next: number;
    this.backgroundFrames = 0;
    if (smoothed < floor) next = smoothed;
    else if (longBackground && longLo > floor) next = longLo;
    else if (this.steady && steadyLo > floor && steadyLo - floor <= p.steadyMaxStep) {
      next = steadyLo;
      this.backgroundFrames = this.ringLen;
    } else next = floor + (speaking || this.active ? p.riseSpeech : p.riseIdle);
    if (next > smoothed) next = smoothed;
    s64[v + V_FLOOR] = next;
    if (longBackground) this.backgroundFrames = this.longLen;
    // What a steady window holds is background: nothing in it is speech-like.
    if (this.backgroundFrames > 0) this.active = false;

    if (longBackground && !speaking) {
      const e = s64[v + V_LEVEL]! - next;
      const exc = s64[v + V_EXCURSION]!;
      s64[v + V_EXCURSION] = e > exc ? Math.min(MAX_EXCURSION_DB, exc + EXCURSION_UP) : Math.max(0, exc - EXCURSION_DOWN);
    }
    return this.active;
  }
}

export class SpeechDetector {
  readonly frameSamples: number;
  readonly frameMs: number;

  // --- public state (read-only for callers) ---
  /** Speaking now (after onset and hangover smoothing). Same as process()'s last result. */
  speaking = false;
  /**
   * Whether speech has been detected since the start (or the last restart()/reset()). A talk-spurt
   * later found to be background is withdrawn, and this may then return to false.
   */
  speechSeen = false;
  /** Frames processed since the start (or the last restart()/reset()). */
  frames = 0;
  /** Time processed, ms (frames × frameMs). */
  nowMs = 0;
  /** Start of the current (or last) talk-spurt, ms from the start; −1 if none yet. */
  lastSpeechStartMs = -1;
  /** End of the last speech-like frame of the current or last talk-spurt, ms; −1 if none yet. */
  lastSpeechEndMs = -1;
  /** Whether the last frame alone was speech-like (before onset/hangover smoothing). */
  frameActive = false;
  /** Share (0…1) of the last frame's energy (DC removed) that lies in 300–3400 Hz. */
  get bandShare(): number {
    return this.s64[D_BAND_SHARE]!;
  }

  // --- parameters ---
  private readonly hangoverFrames: number;
  private readonly onsetFrames: number;
  private readonly onsetMask: number;
  /** Whether filterFrame() runs in the WebAssembly kernel. */
  private readonly kernel: boolean;

  // The arrays below and the band trackers' are views of one buffer: a detector's state lies in a
  // few cache lines, not in separate allocations (at 1,000 calls, fetching each call's state from
  // memory costs as much as the arithmetic).
  /**
   * Filter state: each section's last two outputs (mid band ×4, high band ×2), then the DC
   * blocker's last input and its last two outputs.
   */
  private readonly z: Float64Array;
  /** The whole buffer; the detector's own numbers at D_* (see BandTracker for why not in fields). */
  private readonly s64: Float64Array;
  /** The last frame's energies: total (DC removed), mid band, high band. */
  private readonly energy: Float64Array;

  // --- detector state ---
  private readonly mid: BandTracker; // 300–3400 Hz: voiced speech
  private readonly high: BandTracker; // 3400–8000 Hz: fricatives (s, f, sh, th)
  private activeHist = 0; // bit i = frame (now − i) was speech-like
  private hang = 0;
  // the last talk-spurt, for undoing it if it proves to be background
  private retractable = false;
  private prevSeen = false;
  private prevStartMs = -1;
  private prevEndMs = -1;

  constructor(opts: SpeechDetectorOptions = {}) {
    const fs = opts.frameSamples ?? 320;
    if (!Number.isInteger(fs) || fs < 16) throw new RangeError(`frameSamples must be an integer ≥ 16, got ${fs}`);
    this.frameSamples = fs;
    this.frameMs = (fs * 1000) / SAMPLE_RATE;
    this.kernel = (opts.kernel ?? true) && KERNEL !== null && fs === KERNEL_FRAME;
    const perFrame = (ms: number) => Math.max(1, Math.round(ms / this.frameMs));
    this.hangoverFrames = perFrame(opts.hangoverMs ?? 240);
    const win = opts.onsetWindow ?? 4;
    const need = opts.onsetFrames ?? 3;
    if (!(Number.isInteger(win) && win >= 1 && win <= 30 && Number.isInteger(need) && need >= 1 && need <= win)) {
      throw new RangeError(`onset must be 1 ≤ onsetFrames ≤ onsetWindow ≤ 30 (got ${need} of ${win})`);
    }
    this.onsetFrames = need;
    this.onsetMask = (1 << win) - 1;
    const params = sharedParams({
      onsetDb: opts.onsetDb ?? 9,
      continueDb: opts.continueDb ?? 3,
      onsetOverBg: opts.onsetOverBackgroundDb ?? 4,
      continueOverBg: opts.continueOverBackgroundDb ?? 1,
      minDb: opts.minSpeechDbfs ?? -75,
      steadyFrames: Math.max(3, perFrame(opts.steadyMs ?? 240)),
      steadySpread: opts.steadySpreadDb ?? 4,
      steadyMaxStep: opts.steadyMaxStepDb ?? 15,
      smoothFrames: perFrame(100),
      fallFrames: perFrame(opts.fallMs ?? 200),
      longFrames: (opts.longSteadyMs ?? 1000) > 0 ? Math.max(3, perFrame(opts.longSteadyMs ?? 1000)) : 0,
      longSpread: opts.longSteadySpreadDb ?? 8,
      riseIdle: ((opts.riseIdleDbPerS ?? 3) * this.frameMs) / 1000,
      riseSpeech: ((opts.riseSpeechDbPerS ?? 0.5) * this.frameMs) / 1000,
    });
    const band = BandTracker.bytes(params);
    const store = new ArrayBuffer(8 * D_COUNT + 2 * band);
    this.z = new Float64Array(store, 0, 15);
    this.energy = new Float64Array(store, 8 * 15, 3);
    const s64 = new Float64Array(store);
    this.s64 = s64;
    s64[D_INV_POWER] = 1 / (fs * FULL_SCALE_POWER);
    const s32 = new Float32Array(store);
    this.mid = new BandTracker(params, s64, s32, 8 * D_COUNT);
    this.high = new BandTracker(params, s64, s32, 8 * D_COUNT + band);
    this.reset();
  }

  /**
   * A new recording on the same line: clears what was heard (speech marks, `speechSeen`, the clock)
   * but keeps the model of the background (floors, excursions, filter state). Prefer it to reset()
   * when the detector has been listening already (e.g. during the prompt), so the new recording
   * starts adapted.
   */
  restart(): void {
    this.speaking = false;
    this.speechSeen = false;
    this.frames = 0;
    this.nowMs = 0;
    this.lastSpeechStartMs = -1;
    this.lastSpeechEndMs = -1;
    this.frameActive = false;
    this.activeHist = 0;
    this.hang = 0;
    this.retractable = false;
    this.s64[D_PEAK] = 0;
    this.prevSeen = false;
    this.prevStartMs = -1;
    this.prevEndMs = -1;
  }

  /** Back to the initial state: counters, floors, filters; as if new. */
  reset(): void {
    this.restart();
    this.s64[D_BAND_SHARE] = 0;
    this.z.fill(0);
    this.mid.reset();
    this.high.reset();
  }


  /** Level of the last frame in 300–3400 Hz, dBFS (0 dBFS = full-scale sine). */
  get levelDb(): number {
    return this.mid.level;
  }
  /** Noise-floor estimate in 300–3400 Hz, dBFS. */
  get noiseFloorDb(): number {
    return this.mid.floor;
  }
  /** Level of the last frame in 3400–8000 Hz, dBFS. */
  get highLevelDb(): number {
    return this.high.level;
  }
  /** Noise-floor estimate in 3400–8000 Hz, dBFS. */
  get highNoiseFloorDb(): number {
    return this.high.floor;
  }

  /**
   * How long the line has been silent at the end of the frames processed so far, ms: 0 while
   * speaking; since the end of the last speech once speech was seen; since the start otherwise.
   */
  get silenceMs(): number {
    if (this.speaking) return 0;
    return this.speechSeen ? this.nowMs - this.lastSpeechEndMs : this.nowMs;
  }

  /** Analyses one frame; returns whether the talker is speaking now (smoothed). */
  process(frame: Int16Array): boolean {
    if (frame.length !== this.frameSamples) throw new RangeError(`frame of ${frame.length} samples, expected ${this.frameSamples}`);
    this.filterFrame(frame);
    const energy = this.energy;
    const eTotal = energy[0]!;
    const eMid = energy[1]!;
    const eHigh = energy[2]!;

    const s64 = this.s64;
    s64[D_BAND_SHARE] = eTotal > 0 ? Math.min(1, eMid / eTotal) : 0;
    const speaking = this.speaking;
    const mid = this.mid;
    const high = this.high;
    const inv = s64[D_INV_POWER]!;
    s64[mid.powerAt] = eMid * inv;
    s64[high.powerAt] = eHigh * inv;
    mid.measure(speaking);
    high.measure(speaking);
    const longBackground = mid.longSteady;
    const midActive = mid.commit(longBackground, speaking);
    const highActive = high.commit(longBackground, speaking);
    const active = midActive || highActive;
    this.frameActive = active;

    // --- onset / hangover ---
    // The state is copied to locals and written back whole: every field is read and written on
    // every frame, so the optimiser has type feedback for all of them and the rare branches
    // (onset, undo) do not throw optimised code away each time they are taken.
    const frameMs = this.frameMs;
    const hangoverFrames = this.hangoverFrames;
    const frameEnd = (this.frames + 1) * frameMs;
    let speakingNow = speaking;
    let seen = this.speechSeen;
    let startMs = this.lastSpeechStartMs;
    let endMs = this.lastSpeechEndMs;
    let hang = this.hang;
    let hist = ((this.activeHist << 1) | (active ? 1 : 0)) & this.onsetMask;
    let retractable = this.retractable;
    let peak = s64[D_PEAK]!;
    let prevSeen = this.prevSeen;
    let prevStart = this.prevStartMs;
    let prevEnd = this.prevEndMs;
    const over = Math.max(mid.level - mid.floor, high.level - high.floor);
    if (speakingNow && over > peak) peak = over;
    const bgFrames = active ? 0 : Math.max(mid.backgroundFrames, high.backgroundFrames);
    const bgStart = frameEnd - bgFrames * frameMs;
    // (all conditions evaluated on every frame, for the same reason)
    const insideBg = bgFrames > 0;
    const alone = (startMs >= bgStart) && (prevEnd < bgStart);
    const low = peak < RETRACT_BELOW_DB;
    const onset = active && popcount(hist) >= this.onsetFrames;
    if (insideBg && retractable && alone && low) {
      // The last talk-spurt lies alone inside a window now known to be steady background, and never
      // rose far above it: it was the background (a step up in the noise, a swell of babble), not
      // the tail of an utterance. Undo it.
      speakingNow = false;
      hang = 0;
      hist = 0;
      seen = prevSeen;
      startMs = prevStart;
      endMs = prevEnd;
      retractable = false;
    } else if (speakingNow) {
      if (active) {
        hang = hangoverFrames;
        endMs = frameEnd;
      } else if (insideBg) {
        // The recent past is steady background: nothing to bridge.
        speakingNow = false;
        hang = 0;
        hist = 0;
      } else if (--hang <= 0) {
        speakingNow = false;
      }
    } else if (onset) {
      prevSeen = seen;
      prevStart = startMs;
      prevEnd = endMs;
      retractable = true;
      peak = over;
      speakingNow = true;
      seen = true;
      hang = hangoverFrames;
      // Dated from the oldest speech-like frame of the onset window.
      let first = 0;
      for (let b = hist; b > 1; b >>>= 1) first++;
      startMs = frameEnd - (first + 1) * frameMs;
      endMs = frameEnd;
    }
    this.frames++;
    this.nowMs = frameEnd;
    this.speaking = speakingNow;
    this.speechSeen = seen;
    this.lastSpeechStartMs = startMs;
    this.lastSpeechEndMs = endMs;
    this.hang = hang;
    this.activeHist = hist;
    this.retractable = retractable;
    s64[D_PEAK] = peak;
    this.prevSeen = prevSeen;
    this.prevStartMs = prevStart;
    this.prevEndMs = prevEnd;
    return speakingNow;
  }

  /**
   * The per-sample work: DC blocker and band filters, in the kernel or in filterJs(); leaves the
   * frame's energies (total, mid, high) in `energy`. A method of its own, so that it stays
   * optimised whatever happens to the decision logic, and it hands its results over in a typed
   * array, not as (boxed) numbers.
   */
  private filterFrame(frame: Int16Array): void {
    const z = this.z;
    const energy = this.energy;
    if (atRest(z) && allZero(frame, this.frameSamples)) {
      // Digital silence into filters at rest: every output and energy would be 0, and the state
      // would stay 0 (cleared below anyway). Nothing to compute.
      energy.fill(0);
      return;
    }
    if (this.kernel) {
      const k = KERNEL!;
      k.frame.set(frame);
      k.state.set(z);
      k.run();
      z.set(k.state);
      energy.set(k.energy);
    } else {
      this.filterJs(frame);
    }
    // (z and energy as the loop left them)
    if (Math.abs(z[13]!) < 1e-30) z[13] = 0;
    if (Math.abs(z[14]!) < 1e-30) z[14] = 0;
    if (energy[0]! < 1e-6) z.fill(0, 0, 12); // long silence: let no denormals linger in the band filters (the DC blocker keeps its state)
    energy[1] = energy[1]! * FILTER[6]!;
    energy[2] = energy[2]! * FILTER[7]!;
  }

  /**
   * filterFrame()'s loop in JavaScript (what the kernel computes, bit for bit): leaves the state it
   * ends with in `z` and the energies, before the cascades' gains, in `energy`.
   */
  private filterJs(frame: Int16Array): void {
    const n = this.frameSamples;
    const c = FILTER;
    const z = this.z;
    const a1 = c[0]!, a2 = c[1]!, b1 = c[2]!, b2 = c[3]!, h1 = c[4]!, h2 = c[5]!;
    // section outputs one and two samples back (u: mid cascade, v: high cascade)
    let u01 = z[0]!, u02 = z[1]!, u11 = z[2]!, u12 = z[3]!, u21 = z[4]!, u22 = z[5]!;
    let u31 = z[6]!, u32 = z[7]!, v01 = z[8]!, v02 = z[9]!, v11 = z[10]!, v12 = z[11]!;
    const p = DC_POLE;
    let dx = z[12]!;
    let d1 = z[13]!;
    let d2 = z[14]!;
    let eTotal = 0;
    let eMid = 0;
    let eHigh = 0;
    // Butterworth sections have numerators g·(1, ∓2, 1): each section runs without its gain g (direct
    // form I: 2 multiplies instead of 5) and the cascades' gains are applied once, to the energies.
    for (let i = 0; i < n; i++) {
      const x = frame[i]!;
      // DC blocker: d = x − x[−1] + p·d[−1]
      const d = x - dx + p * d1;
      dx = x;
      eTotal += d * d;
      const hd = d + d2 - (d1 + d1); // the high-pass numerator, shared by both bands' first section
      d2 = d1;
      d1 = d;
      // mid band: high-pass 300 Hz ×2, low-pass 3400 Hz ×2
      const u0 = hd - a1 * u01 - a2 * u02;
      const u1 = u0 + u02 - (u01 + u01) - a1 * u11 - a2 * u12;
      const u2 = u1 + u12 + (u11 + u11) - b1 * u21 - b2 * u22;
      const u3 = u2 + u22 + (u21 + u21) - b1 * u31 - b2 * u32;
      u02 = u01; u01 = u0;
      u12 = u11; u11 = u1;
      u22 = u21; u21 = u2;
      u32 = u31; u31 = u3;
      eMid += u3 * u3;
      // high band: high-pass 3400 Hz ×2
      const v0 = hd - h1 * v01 - h2 * v02;
      const v1 = v0 + v02 - (v01 + v01) - h1 * v11 - h2 * v12;
      v02 = v01; v01 = v0;
      v12 = v11; v11 = v1;
      eHigh += v1 * v1;
    }
    z[12] = dx;
    z[13] = d1;
    z[14] = d2;
    z[0] = u01; z[1] = u02; z[2] = u11; z[3] = u12; z[4] = u21; z[5] = u22;
    z[6] = u31; z[7] = u32; z[8] = v01; z[9] = v02; z[10] = v11; z[11] = v12;
    const energy = this.energy;
    energy[0] = eTotal;
    energy[1] = eMid;
    energy[2] = eHigh;
  }
}

/** Whether every filter state (and the DC blocker's) is zero. */
function atRest(z: Float64Array): boolean {
  for (let i = 0; i < z.length; i++) if (z[i] !== 0) return false;
  return true;
}

/** Whether the first `n` samples are all zero (digital silence: no packets, or a line muted). */
function allZero(frame: Int16Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (frame[i] !== 0) return false;
  return true;
}

function toDb(power: number): number {
  return power > 1e-10 ? 10 * Math.log10(power) : MIN_LEVEL_DB;
}

function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * RBJ-cookbook 2nd-order Butterworth (Q = 1/√2) section at `hz`: H(z) = gain·(1 ∓ 2z⁻¹ + z⁻²) /
 * (1 + a1·z⁻¹ + a2·z⁻²), minus for the high-pass.
 */
function butterworth(kind: 'hp' | 'lp', hz: number): { gain: number; a1: number; a2: number } {
  const w = (2 * Math.PI * hz) / SAMPLE_RATE;
  const cw = Math.cos(w);
  const alpha = Math.sin(w) / Math.SQRT2; // sin(w) / (2Q), Q = 1/√2
  const a0 = 1 + alpha;
  const k = kind === 'hp' ? (1 + cw) / 2 : (1 - cw) / 2;
  return { gain: k / a0, a1: (-2 * cw) / a0, a2: (1 - alpha) / a0 };
}
