/**
 * Speech / silence detector for the media engine's stream (16-bit linear PCM, 16 kHz, mono), fed
 * one frame at a time (20 ms = 320 samples). It is what Graph's recordResponse timers stand on:
 * `initialSilenceTimeoutInSeconds` (no speech since the recording started: `!speechSeen`) and
 * `maxSilenceTimeoutInSeconds` (silence after speech began: `silenceMs`). Allocates nothing per
 * frame: all state lives in its fields and in a slot of memory taken by the constructor.
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
 * turns it off. A detector's whole state (filter state, band numbers, rings) lies in a slot of the
 * kernel's memory, where the kernel works on it in place; only the frame is copied in.
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

import { KernelMemory, loadKernel } from '../KernelMemory.ts';
import { SharedSettings } from '../SharedSettings.ts';

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
/**
 * A frame of digital silence whose energy after the DC blocker (sum of squares, in samples²) is
 * below this puts the filters at rest: an RMS of 0.006 of the least sample step, and what would
 * still ring after it measures at most −114 dBFS, under the −100 dBFS where every level stops.
 */
const REST_ENERGY = 1e-2;
/** Levels are clamped here (−100 dBFS), which also makes digital silence finite. */
const MIN_LEVEL_DB = -100;
/** A talk-spurt that never rose this far (dB) above the floor may be undone as background. */
const RETRACT_BELOW_DB = 16;

/** Frame size the kernel is written for (vadKernel.wat). */
const KERNEL_FRAME = 320;
/** Where the detectors' slots begin in the kernel's memory (below: its frame, constants and scratch). */
const KERNEL_BASE = 4096;

/**
 * Where a detector's state lies: views of the kernel's memory (shared by every detector that uses
 * the kernel, each with a slot in it), or of the detector's own buffer. A detector reaches its
 * numbers through these views at its slot's index: no views of its own (at 1,000 calls every
 * object a frame touches is a likely cache miss, and these few are shared).
 */
interface StateMemory {
  f64: Float64Array;
  f32: Float32Array;
  /** (for copying a state bit for bit: see SpeechDetector.settle) */
  i32: Int32Array;
}

/** Views of all of `buffer` (every StateMemory is made here, so they share one shape). */
function stateMemory(buffer: ArrayBuffer): StateMemory {
  return { f64: new Float64Array(buffer), f32: new Float32Array(buffer), i32: new Int32Array(buffer) };
}

/**
 * The WebAssembly kernel (vadKernel.wat), one for the process, and its memory: filterFrame() copies
 * a frame in and runs the kernel on the detector's filter state where it lies, in its slot.
 */
class VadKernel {
  readonly run: (state: number) => void;
  readonly slots: KernelMemory;
  /** FRAME: the input. */
  frame: Int16Array;
  /** The whole memory, where the detectors' slots are (its views made again when it grows). */
  readonly state: StateMemory;

  constructor(bytes: Uint8Array<ArrayBuffer>) {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    this.run = inst.exports.frame as (state: number) => void;
    this.slots = new KernelMemory(inst.exports.memory as WebAssembly.Memory, KERNEL_BASE, (mem) => {
      this.frame = new Int16Array(mem, 0, KERNEL_FRAME);
      const views = stateMemory(mem);
      this.state.f64 = views.f64;
      this.state.f32 = views.f32;
      this.state.i32 = views.i32;
    });
    this.frame = new Int16Array(this.slots.buffer, 0, KERNEL_FRAME);
    this.state = stateMemory(this.slots.buffer);
    // COEF: (a1, h1) (a2, h2) (b1, b1) (b2, b2), the DC pole
    const c = FILTER;
    this.state.f64.set([c[0]!, c[4]!, c[1]!, c[5]!, c[2]!, c[2]!, c[3]!, c[3]!, DC_POLE], 800 / 8);
  }
}

/** Null where WebAssembly SIMD is missing (or TELEGRAPH_VAD_KERNEL=0): the JavaScript path then does the same work. */
const KERNEL: VadKernel | null = loadKernel('TELEGRAPH_VAD_KERNEL', new URL('./vadKernel.wasm', import.meta.url), (bytes) => new VadKernel(bytes));

/** Whether detectors use the WebAssembly kernel here (false: no WebAssembly SIMD, or TELEGRAPH_VAD_KERNEL=0). */
export const VAD_KERNEL_AVAILABLE = KERNEL !== null;
/** The kernel's memory, for tests and benchmarks that count its slots (null without the kernel). */
export const VAD_KERNEL_MEMORY: KernelMemory | null = KERNEL?.slots ?? null;

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
  /**
   * Skip the bands' bookkeeping in long digital silence, where it changes nothing (default true).
   * The results are the same either way; false is for tests.
   */
  restShortcut?: boolean;
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
  // derived (see bandParams): a band's layout in the detector's state
  pwLen: number; // frames of powers kept: max(smoothFrames, fallFrames)
  ringOff: number; // f32 index of the short ring from twice the band's f64 index (the long ring follows it)
  words: number; // f64 words the band takes
  restFrames: number; // frames of zero power after which the band's state is at its fixed point (see process()); REST_NEVER: it has none
}

/** The layout of a band's state, from its parameters (a band's numbers, then its rings; a multiple of 8 bytes). */
function bandParams(p: Omit<BandParams, 'pwLen' | 'ringOff' | 'words' | 'restFrames'>, shortcut: boolean): BandParams {
  const pwLen = Math.max(p.smoothFrames, p.fallFrames);
  const ringOff = 2 * (V_COUNT + pwLen);
  // After this many frames of zero power every ring holds only zeros (powers) or −100 (levels,
  // smoothed levels: the long ring's newest needs smoothFrames of them) and the floor sits at −100.
  // A fixed point only if no such frame can be speech-like (minDb above −100) and the floor cannot
  // sink below −100 (no negative rise).
  const fixed = shortcut && p.minDb > MIN_LEVEL_DB && p.riseIdle >= 0 && p.riseSpeech >= 0;
  const restFrames = fixed ? Math.max(pwLen, p.steadyFrames, p.smoothFrames + p.longFrames) : REST_NEVER;
  return { ...p, pwLen, ringOff, words: V_COUNT + pwLen + Math.ceil((p.steadyFrames + p.longFrames) / 2), restFrames };
}

/** restFrames of bands without a fixed point (a small integer, so the field stays unboxed). */
const REST_NEVER = 2 ** 30;

/** One BandParams object for every detector with the same parameters (see SharedSettings). */
const PARAMS = new SharedSettings<BandParams>();
function sharedParams(p: BandParams): BandParams {
  return PARAMS.get(Object.values(p).join(' '), () => p);
}

/** Initial background excursion (dB above the floor) before any has been measured. */
const INITIAL_EXCURSION_DB = 1;
/** Steps of the excursion tracker (dB per frame): up 49× the down step, so it settles at the 98th percentile. */
const EXCURSION_UP = 0.5;
const EXCURSION_DOWN = EXCURSION_UP / 49;
const MAX_EXCURSION_DB = 15;

// The detector's numbers in its state (f64 indices from its slot's), after the filter state (z, 15)
// and the energies (3): where the kernel reads and writes them.
const D_ENERGY = 15; // total (DC removed), mid band, high band
const D_BAND_SHARE = 18; // bandShare
const D_PEAK = 19; // highest excursion above the floor during the spurt, dB
const D_INV_POWER = 20; // 1 / (frameSamples · FULL_SCALE_POWER)
const D_QUIET = 21; // frames in a row (this one included) with zero power in both bands
const D_COUNT = 22; // (the bands' numbers and rings after them stay 16-byte aligned)

// A band's numbers in the detector's state (f64 indices from the band's `v`), then its rings: the
// powers of the last pwLen frames (f64), then as f32 the last steadyFrames levels (the short
// ring) and the last longFrames smoothed levels (the long ring). In the state, not in the fields
// of an object per band: that was two more objects to fetch per frame, and a fractional number in
// a field is itself an object.
const V_LEVEL = 0; // level of the last frame, dBFS
const V_SLOW = 1; // level smoothed over the fall window (200 ms), dBFS: what the floor falls to
const V_FLOOR = 2; // noise floor, dBFS
const V_EXCURSION = 3; // how far the background alone rises above the floor (its 98th percentile), dB
const V_STEADY_LO = 4; // measureBand()'s lowest level of the short window, for commitBand()
const V_LONG_LO = 5; // measureBand()'s lowest smoothed level of the long window, for commitBand()
const V_POWER = 6; // measureBand()'s input: the frame's power in the band, relative to full scale
const V_SHORT = 7; // the short ring's write position, fill, least and greatest value (R_*: see slide())
const V_LONG = 11; // the same for the long ring
const V_PW_POS = 15; // the powers' ring: its write position and fill
const V_PW_FILL = 16;
const V_INIT = 17; // 1 once the floor has been placed
const V_ACTIVE = 18; // 1 when the last frame was speech-like in this band
/**
 * Set when the last frame found the recent past to be steady background: the floor was raised by
 * the short rule (then `steadyFrames` frames are background), or the long window is steady (then
 * `longFrames` frames are). 0 otherwise.
 */
const V_BACKGROUND = 19;
const V_STEADY = 20; // measureBand(): 1 when the short window is steady
const V_LONG_STEADY = 21; // measureBand(): 1 when the 100 ms-smoothed level stayed within the long spread over the long window
const V_COUNT = 22; // (a multiple of 2: the rings after them stay 16-byte aligned)

// A stationarity rule's ring: four numbers at `r` (these offsets), its values in s32[at, at + len).
const R_POS = 0; // where the next value goes
const R_FILL = 1; // how many it holds
const R_MIN = 2; // the least and greatest value it holds
const R_MAX = 3;

/**
 * Writes `x` (as f32) into the ring (see R_*) and returns how many values it now holds, keeping the
 * least and greatest of them: the same numbers a scan of the ring gives, for a scan's cost only
 * when the value pushed out was the least or the greatest and the new one does not take its place
 * (the rule windows are 12 and 50 frames, two bands, every frame: a scan each time was most of the
 * detector's bookkeeping).
 */
function slide(s32: Float32Array, at: number, len: number, s64: Float64Array, r: number, x: number): number {
  const pos = s64[r + R_POS]!;
  const count = s64[r + R_FILL]!;
  s64[r + R_POS] = pos + 1 === len ? 0 : pos + 1;
  const filled = count < len ? count + 1 : count;
  s64[r + R_FILL] = filled;
  const mm = r + R_MIN;
  const f = Math.fround(x);
  const old = count < len ? f : s32[at + pos]!; // (while filling, nothing is pushed out)
  s32[at + pos] = f;
  if (count === 0) {
    s64[mm] = f;
    s64[mm + 1] = f;
    return filled;
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
  return filled;
}

// Noise floor, background excursion and the speech-like test for one band, whose state lies at `v`
// of `s64` (and its rings in `s32`, the same memory).

function resetBand(p: BandParams, s64: Float64Array, v: number): void {
  s64.fill(0, v, v + p.words);
  s64[v + V_LEVEL] = MIN_LEVEL_DB;
  s64[v + V_SLOW] = MIN_LEVEL_DB;
  s64[v + V_FLOOR] = MIN_LEVEL_DB;
  s64[v + V_EXCURSION] = INITIAL_EXCURSION_DB;
}

/**
 * First half of a frame: takes the power at V_POWER, decides speech-like against the floor as it
 * stood, and measures the steadiness of the recent levels.
 */
function measureBand(p: BandParams, s64: Float64Array, s32: Float32Array, v: number, speaking: boolean): void {
  const power = s64[v + V_POWER]!;
  const level = toDb(power);
  s64[v + V_LEVEL] = level;

  // 100 ms smoothing (mean power), for the floor's fall and the long rule
  const pwAt = v + V_COUNT, pwLen = p.pwLen;
  const pwPos0 = s64[v + V_PW_POS]!;
  s64[pwAt + pwPos0] = power;
  const pwPos = pwPos0 + 1 === pwLen ? 0 : pwPos0 + 1;
  s64[v + V_PW_POS] = pwPos;
  let pwCount = s64[v + V_PW_FILL]!;
  if (pwCount < pwLen) s64[v + V_PW_FILL] = ++pwCount;
  // newest first: pw[pwPos − 1], pw[pwPos − 2], …
  let sumShort = 0;
  let sumLong = 0;
  const nShort = Math.min(p.smoothFrames, pwCount);
  const nLong = Math.min(p.fallFrames, pwCount);
  for (let k = 0, i = pwPos; k < nLong; k++) {
    i = i === 0 ? pwLen - 1 : i - 1;
    const pw = s64[pwAt + i]!;
    sumLong += pw;
    if (k < nShort) sumShort += pw;
  }
  const smoothed = toDb(sumShort / nShort);
  s64[v + V_SLOW] = toDb(sumLong / nLong);

  if (s64[v + V_INIT] === 0) {
    s64[v + V_INIT] = 1;
    s64[v + V_FLOOR] = level;
  }
  const exc = s64[v + V_EXCURSION]!;
  const threshold = speaking ? Math.max(p.continueDb, exc + p.continueOverBg) : Math.max(p.onsetDb, exc + p.onsetOverBg);
  s64[v + V_ACTIVE] = level >= p.minDb && level > s64[v + V_FLOOR]! + threshold ? 1 : 0;

  // short rule: spread of the last steadyFrames levels (the ring's, and this level's own
  // unrounded value, as they always were)
  const ringAt = 2 * v + p.ringOff, ringLen = p.steadyFrames;
  let steady = 0;
  s64[v + V_STEADY_LO] = level;
  if (slide(s32, ringAt, ringLen, s64, v + V_SHORT, level) === ringLen) {
    const mn = s64[v + V_SHORT + R_MIN]!, mx = s64[v + V_SHORT + R_MAX]!;
    const lo = mn < level ? mn : level;
    const hi = mx > level ? mx : level;
    steady = hi - lo <= p.steadySpread ? 1 : 0;
    s64[v + V_STEADY_LO] = lo;
  }
  s64[v + V_STEADY] = steady;

  // long rule: spread of the smoothed level over the last longFrames (the short rule's shape; one
  // function for both, taking and giving back doubles, boxed them and was 2–5 % slower in 0.3.4)
  let longSteady = 0;
  s64[v + V_LONG_LO] = smoothed;
  const longLen = p.longFrames;
  if (longLen > 0 && slide(s32, ringAt + ringLen, longLen, s64, v + V_LONG, smoothed) === longLen) {
    const mn = s64[v + V_LONG + R_MIN]!, mx = s64[v + V_LONG + R_MAX]!;
    const lo = mn < smoothed ? mn : smoothed;
    const hi = mx > smoothed ? mx : smoothed;
    longSteady = hi - lo <= p.longSpread ? 1 : 0;
    s64[v + V_LONG_LO] = lo;
  }
  s64[v + V_LONG_STEADY] = longSteady;
}

/**
 * Second half: updates the floor (fast fall to the smoothed level; a jump when the recent past is
 * steady; slow rise otherwise) and, in known background, the excursion. `longBackground`: the
 * long rule holds, judged on the mid band for both bands (the high band alone can look steady
 * under speech: vowels carry little above 3.4 kHz; and babble's high band is never steady).
 * Returns whether the frame stays speech-like in this band.
 */
function commitBand(p: BandParams, s64: Float64Array, v: number, longBackground: boolean, speaking: boolean): boolean {
  const floor = s64[v + V_FLOOR]!;
  const smoothed = s64[v + V_SLOW]!;
  const longLo = s64[v + V_LONG_LO]!;
  const steadyLo = s64[v + V_STEADY_LO]!;
  let active = s64[v + V_ACTIVE] !== 0;
  let next: number;
  let background = 0;
  if (smoothed < floor) next = smoothed;
  else if (longBackground && longLo > floor) next = longLo;
  else if (s64[v + V_STEADY] !== 0 && steadyLo > floor && steadyLo - floor <= p.steadyMaxStep) {
    next = steadyLo;
    background = p.steadyFrames;
  } else next = floor + (speaking || active ? p.riseSpeech : p.riseIdle);
  if (next > smoothed) next = smoothed;
  s64[v + V_FLOOR] = next;
  if (longBackground) background = p.longFrames;
  s64[v + V_BACKGROUND] = background;
  // What a steady window holds is background: nothing in it is speech-like.
  if (background > 0) {
    active = false;
    s64[v + V_ACTIVE] = 0;
  }

  if (longBackground && !speaking) {
    const e = s64[v + V_LEVEL]! - next;
    const exc = s64[v + V_EXCURSION]!;
    s64[v + V_EXCURSION] = e > exc ? Math.min(MAX_EXCURSION_DB, exc + EXCURSION_UP) : Math.max(0, exc - EXCURSION_DOWN);
  }
  return active;
}

/**
 * Both bands' bookkeeping for a frame whose powers are at V_POWER: floors, excursions, the
 * stationarity rules. Returns whether the frame is speech-like.
 */
function stepBands(p: BandParams, s64: Float64Array, s32: Float32Array, mid: number, high: number, speaking: boolean): boolean {
  measureBand(p, s64, s32, mid, speaking);
  measureBand(p, s64, s32, high, speaking);
  const longBackground = s64[mid + V_LONG_STEADY] !== 0;
  const midActive = commitBand(p, s64, mid, longBackground, speaking);
  const highActive = commitBand(p, s64, high, longBackground, speaking);
  return midActive || highActive;
}

/**
 * The bands' state (both bands, as 32-bit words) after 0, 1, … restFrames frames of digital
 * silence from reset(), for detectors with these parameters (see SpeechDetector.settle): computed
 * once, by the same steps a detector takes. Null for bands without a fixed point.
 */
const QUIET_STATES = new WeakMap<BandParams, Int32Array>();
function quietStates(p: BandParams): Int32Array | null {
  if (p.restFrames === REST_NEVER) return null;
  let table = QUIET_STATES.get(p);
  if (table !== undefined) return table;
  const buffer = new ArrayBuffer(16 * p.words);
  const s64 = new Float64Array(buffer), s32 = new Float32Array(buffer), i32 = new Int32Array(buffer);
  resetBand(p, s64, 0);
  resetBand(p, s64, p.words);
  table = new Int32Array((p.restFrames + 1) * i32.length);
  table.set(i32, 0);
  for (let k = 1; k <= p.restFrames; k++) {
    stepBands(p, s64, s32, 0, p.words, false); // (V_POWER: 0 in both bands, as reset left it)
    table.set(i32, k * i32.length);
  }
  QUIET_STATES.set(p, table);
  return table;
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
    this.settle();
    return this.mem.f64[this.at + D_BAND_SHARE]!;
  }

  // --- parameters ---
  private readonly hangoverFrames: number;
  private readonly onsetFrames: number;
  private readonly onsetMask: number;
  /** Whether filterFrame() runs in the WebAssembly kernel. */
  private kernel: boolean;

  private readonly p: BandParams;
  /**
   * Where its state lies (see StateMemory): the kernel's memory, or a buffer of its own. From f64
   * index `at` of it: the filter state (z: each section's last two outputs, mid band ×4 and high
   * band ×2, then the DC blocker's last input and last two outputs), the last frame's energies,
   * the detector's numbers (D_*), then the mid band's (300–3400 Hz: voiced speech) and the high
   * band's (3400–8000 Hz: fricatives such as s, f, sh, th) numbers and rings.
   */
  private mem: StateMemory;
  private at: number;
  /** quietStates() of its parameters (null: its bands have no fixed point). */
  private readonly quiet: Int32Array | null;
  /**
   * Frames of digital silence heard since reset() and not yet applied to its state, while every
   * frame since has been silent; −1 once a frame was not (the state is then up to date). See settle().
   */
  private fresh = -1;

  // --- detector state ---
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
    const params = sharedParams(bandParams({
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
    }, opts.restShortcut ?? true));
    this.p = params;
    this.quiet = quietStates(params);
    // a slot in the kernel's memory, unless it cannot grow any more (then this one runs in JavaScript)
    const slot = this.kernel ? KERNEL!.slots.alloc(this, this.stateBytes()) : -1;
    if (slot < 0) {
      this.kernel = false;
      this.mem = this.ownMemory();
      this.at = 0;
    } else {
      this.mem = KERNEL!.state;
      this.at = slot / 8;
    }
    this.mem.f64[this.at + D_INV_POWER] = 1 / (fs * FULL_SCALE_POWER);
    this.reset();
  }

  /**
   * Gives its slot in the kernel's memory back now (when its call ends), not when it is collected.
   * Still safe to use afterwards (it then starts again, in JavaScript, in memory of its own): a
   * frame that reaches it late must not write into a slot that another detector holds by then.
   */
  release(): void {
    if (!this.kernel) return;
    KERNEL!.slots.release(this, this.at * 8, this.stateBytes());
    this.kernel = false;
    this.mem = this.ownMemory();
    this.at = 0;
    this.mem.f64[D_INV_POWER] = 1 / (this.frameSamples * FULL_SCALE_POWER);
    this.reset();
  }

  private stateBytes(): number {
    return 8 * (D_COUNT + 2 * this.p.words);
  }

  private ownMemory(): StateMemory {
    return stateMemory(new ArrayBuffer(this.stateBytes()));
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
    this.mem.f64[this.at + D_PEAK] = 0;
    this.prevSeen = false;
    this.prevStartMs = -1;
    this.prevEndMs = -1;
  }

  /** Back to the initial state: counters, floors, filters; as if new. */
  reset(): void {
    this.restart();
    const s64 = this.mem.f64, at = this.at;
    s64[at + D_BAND_SHARE] = 0;
    s64[at + D_QUIET] = 0;
    s64.fill(0, at, at + 15);
    if (this.quiet !== null) {
      this.fresh = 0; // (the bands are written by settle(), from the table's first entry on)
    } else {
      resetBand(this.p, s64, at + D_COUNT);
      resetBand(this.p, s64, at + D_COUNT + this.p.words);
    }
  }


  /** Level of the last frame in 300–3400 Hz, dBFS (0 dBFS = full-scale sine). */
  get levelDb(): number {
    this.settle();
    return this.mem.f64[this.at + D_COUNT + V_LEVEL]!;
  }
  /** Noise-floor estimate in 300–3400 Hz, dBFS. */
  get noiseFloorDb(): number {
    this.settle();
    return this.mem.f64[this.at + D_COUNT + V_FLOOR]!;
  }
  /** Level of the last frame in 3400–8000 Hz, dBFS. */
  get highLevelDb(): number {
    this.settle();
    return this.mem.f64[this.at + D_COUNT + this.p.words + V_LEVEL]!;
  }
  /** Noise-floor estimate in 3400–8000 Hz, dBFS. */
  get highNoiseFloorDb(): number {
    this.settle();
    return this.mem.f64[this.at + D_COUNT + this.p.words + V_FLOOR]!;
  }

  /**
   * How long the line has been silent at the end of the frames processed so far, ms: 0 while
   * speaking; since the end of the last speech once speech was seen; since the start otherwise.
   */
  get silenceMs(): number {
    if (this.speaking) return 0;
    return this.speechSeen ? this.nowMs - this.lastSpeechEndMs : this.nowMs;
  }

  /** See FrameSource.warm (media/MediaFormat): the object, and its state's numbers. */
  warm(): number {
    return this.fresh >= 0 ? this.frames : this.mem.f64[this.at + D_COUNT]! + this.frames;
  }

  /**
   * Applies the silent frames heard since reset() (`fresh`) to its state. From reset(), frames of
   * digital silence take every detector with the same parameters through the same states, which
   * quietStates() holds, up to the bands' fixed point (restFrames); past it only the excursions
   * decay (see process()). So such frames (a silent caller during the prompt, the beep and the
   * time to answer) only count time, and the state is written once, from the table, when a frame
   * is not silent or something reads it: its lines stay out of the caches meanwhile. The same
   * state, bit for bit, as processing each frame (test/media/vad-kernel.test.ts).
   */
  private settle(): void {
    const k = this.fresh;
    if (k < 0) return;
    this.fresh = -1;
    const p = this.p, s64 = this.mem.f64, i32 = this.mem.i32, at = this.at;
    const table = this.quiet!;
    const mid = at + D_COUNT, high = mid + p.words;
    const n = 4 * p.words; // 32-bit words of both bands
    for (let i = 0, from = Math.min(k, p.restFrames) * n, to = 2 * mid; i < n; i++) i32[to + i] = table[from + i]!;
    // past the fixed point: process()'s rest branch (never speaking: nothing was heard)
    for (let j = p.restFrames; j < k && s64[mid + V_LONG_STEADY] !== 0; j++) {
      const em = s64[mid + V_EXCURSION]!, eh = s64[high + V_EXCURSION]!;
      if (em === 0 && eh === 0) break; // (and so they stay)
      s64[mid + V_EXCURSION] = Math.max(0, em - EXCURSION_DOWN);
      s64[high + V_EXCURSION] = Math.max(0, eh - EXCURSION_DOWN);
    }
    s64[at + D_QUIET] = k;
    if (k > 0) {
      // what a silent frame leaves in the energies (reset() does not clear them)
      s64[at + D_ENERGY] = 0;
      s64[at + D_ENERGY + 1] = 0;
      s64[at + D_ENERGY + 2] = 0;
    }
  }

  /**
   * Analyses one frame; returns whether the talker is speaking now (smoothed). `silent`: the caller
   * knows the frame is all zero (a mixer's silence), so the detector need not look.
   */
  process(frame: Int16Array, silent = false): boolean {
    if (frame.length !== this.frameSamples) throw new RangeError(`frame of ${frame.length} samples, expected ${this.frameSamples}`);
    if (this.fresh >= 0) {
      if (silent || allZero(frame, this.frameSamples)) {
        // Digital silence since reset(): only time passes (see settle()). Nothing is speech-like,
        // so the onset/hangover state below stays as reset() or restart() left it.
        this.fresh++;
        const frameEnd = (this.frames + 1) * this.frameMs;
        this.frames++;
        this.nowMs = frameEnd;
        this.frameActive = false;
        return false;
      }
      this.settle();
    }
    const mem = this.mem;
    const s64 = mem.f64, s32 = mem.f32, at = this.at;
    filterFrame(frame, silent, this.frameSamples, this.kernel, s64, at);
    const eTotal = s64[at + D_ENERGY]!;
    const eMid = s64[at + D_ENERGY + 1]!;
    const eHigh = s64[at + D_ENERGY + 2]!;

    s64[at + D_BAND_SHARE] = eTotal > 0 ? Math.min(1, eMid / eTotal) : 0;
    const speaking = this.speaking;
    const p = this.p;
    const mid = at + D_COUNT;
    const high = mid + p.words;
    const inv = s64[at + D_INV_POWER]!;
    const quiet = eMid === 0 && eHigh === 0 ? s64[at + D_QUIET]! + 1 : 0;
    s64[at + D_QUIET] = quiet;
    let active = false;
    if (quiet > p.restFrames) {
      // Long digital silence: the bands are at their fixed point (see bandParams), where a frame of
      // zero power leaves every number as it is but the excursions, which decay in known
      // background. The rings' positions stay: they hold one value throughout, so where the next
      // one goes changes nothing. (A line muted or on hold; in an IVR answer, the rare long pause.)
      if (s64[mid + V_LONG_STEADY] !== 0 && !speaking) {
        s64[mid + V_EXCURSION] = Math.max(0, s64[mid + V_EXCURSION]! - EXCURSION_DOWN);
        s64[high + V_EXCURSION] = Math.max(0, s64[high + V_EXCURSION]! - EXCURSION_DOWN);
      }
    } else {
      s64[mid + V_POWER] = eMid * inv;
      s64[high + V_POWER] = eHigh * inv;
      active = stepBands(p, s64, s32, mid, high, speaking);
    }
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
    let peak = s64[at + D_PEAK]!;
    let prevSeen = this.prevSeen;
    let prevStart = this.prevStartMs;
    let prevEnd = this.prevEndMs;
    const over = Math.max(s64[mid + V_LEVEL]! - s64[mid + V_FLOOR]!, s64[high + V_LEVEL]! - s64[high + V_FLOOR]!);
    if (speakingNow && over > peak) peak = over;
    const bgFrames = active ? 0 : Math.max(s64[mid + V_BACKGROUND]!, s64[high + V_BACKGROUND]!);
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
    s64[at + D_PEAK] = peak;
    this.prevSeen = prevSeen;
    this.prevStartMs = prevStart;
    this.prevEndMs = prevEnd;
    return speakingNow;
  }
}

/**
 * The per-sample work: DC blocker and band filters, in the kernel or in filterJs(); leaves the
 * frame's energies (total, mid, high) at D_ENERGY of the detector's state (from `at` of `s64`). A
 * function of its own, so that it stays optimised whatever happens to the decision logic.
 */
function filterFrame(frame: Int16Array, silent: boolean, n: number, kernel: boolean, s64: Float64Array, at: number): void {
  const e = at + D_ENERGY;
  if (atRest(s64, at) && (silent || allZero(frame, n))) {
    // Digital silence into filters at rest: every output and energy would be 0, and the state
    // would stay 0 (cleared below anyway). Nothing to compute.
    s64[e] = 0;
    s64[e + 1] = 0;
    s64[e + 2] = 0;
    return;
  }
  if (kernel) {
    const k = KERNEL!;
    k.frame.set(frame);
    k.run(8 * at);
  } else {
    filterJs(frame, n, s64, at);
  }
  // (the state and energies as the loop left them)
  if (s64[e]! < REST_ENERGY && (silent || allZero(frame, n))) {
    // The tail of a sound, into digital silence: what still rings is below every level the
    // detector reports (see REST_ENERGY), and left alone it would take ~25 more frames to die out
    // below 1e-30, each through the whole filter. Come to rest now: the next silent frame is
    // nothing to compute. (This frame's energies stand as computed.)
    s64.fill(0, at, at + 15);
  } else {
    if (Math.abs(s64[at + 13]!) < 1e-30) s64[at + 13] = 0;
    if (Math.abs(s64[at + 14]!) < 1e-30) s64[at + 14] = 0;
    if (s64[e]! < 1e-6) s64.fill(0, at, at + 12); // long silence: let no denormals linger in the band filters (the DC blocker keeps its state: the input may be a steady offset)
  }
  s64[e + 1] = s64[e + 1]! * FILTER[6]!;
  s64[e + 2] = s64[e + 2]! * FILTER[7]!;
}

/**
 * filterFrame()'s loop in JavaScript (what the kernel computes, bit for bit): leaves the state it
 * ends with at `at` of `s64` (z) and the energies, before the cascades' gains, at D_ENERGY.
 */
function filterJs(frame: Int16Array, n: number, z: Float64Array, at: number): void {
  const c = FILTER;
  const a1 = c[0]!, a2 = c[1]!, b1 = c[2]!, b2 = c[3]!, h1 = c[4]!, h2 = c[5]!;
  // section outputs one and two samples back (u: mid cascade, v: high cascade)
  let u01 = z[at]!, u02 = z[at + 1]!, u11 = z[at + 2]!, u12 = z[at + 3]!, u21 = z[at + 4]!, u22 = z[at + 5]!;
  let u31 = z[at + 6]!, u32 = z[at + 7]!, v01 = z[at + 8]!, v02 = z[at + 9]!, v11 = z[at + 10]!, v12 = z[at + 11]!;
  const p = DC_POLE;
  let dx = z[at + 12]!;
  let d1 = z[at + 13]!;
  let d2 = z[at + 14]!;
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
  z[at + 12] = dx;
  z[at + 13] = d1;
  z[at + 14] = d2;
  z[at] = u01; z[at + 1] = u02; z[at + 2] = u11; z[at + 3] = u12; z[at + 4] = u21; z[at + 5] = u22;
  z[at + 6] = u31; z[at + 7] = u32; z[at + 8] = v01; z[at + 9] = v02; z[at + 10] = v11; z[at + 11] = v12;
  z[at + D_ENERGY] = eTotal;
  z[at + D_ENERGY + 1] = eMid;
  z[at + D_ENERGY + 2] = eHigh;
}

/** Whether every filter state (and the DC blocker's) is zero: the 15 numbers from `at`. */
function atRest(z: Float64Array, at: number): boolean {
  for (let i = at; i < at + 15; i++) if (z[i] !== 0) return false;
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
