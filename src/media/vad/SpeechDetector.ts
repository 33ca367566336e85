/**
 * Speech / silence detector for the media engine's stream (16-bit linear PCM, 16 kHz, mono), fed
 * one frame at a time (20 ms = 320 samples). It is what Graph's recordResponse timers stand on:
 * `initialSilenceTimeoutInSeconds` (no speech since the recording started) and
 * `maxSilenceTimeoutInSeconds` (silence after speech began). Allocates nothing per frame.
 *
 * METHOD (energy against an adaptive noise floor; no fixed level threshold)
 *   1. Each sample passes a DC blocker and a 300–3400 Hz band-pass (two 2nd-order Butterworth
 *      high-passes at 300 Hz, one 2nd-order low-pass at 3400 Hz). The frame's level is the band
 *      energy in dB (0 dBFS = a full-scale sine). Band-limiting keeps the formant region, where
 *      speech is strongest, and drops the low rumble and the hiss above 3.4 kHz, which carry much
 *      of a line's noise but little of its speech. The share of the frame's energy that lies in the
 *      band is also computed (`bandShare`, for diagnostics).
 *   2. The noise floor N (dB) follows the background:
 *        - it falls at once to any frame level below it (fast fall, so it sits at the minima);
 *        - it rises slowly otherwise, 3 dB/s while the frame is not speech-like and 0.5 dB/s while it
 *          is, so speech never pulls it up within an utterance;
 *        - "stationarity" rule: when the last 240 ms (12 frames) of levels all lie within 4 dB of
 *          each other, the signal is a steady background, not speech (whose level swings by 10 dB and
 *          more from syllable to syllable), and N jumps up to the lowest of those 12 levels. A step up
 *          in the noise is thus absorbed in ≈ 300 ms instead of the seconds a slow rise would need.
 *   3. A frame is speech-like when its level exceeds N by 9 dB (6 dB while speaking: hysteresis) and
 *      is above an absolute sanity minimum of −75 dBFS (digital silence and dither never count).
 *   4. Onset: 3 speech-like frames among the last 4 (≥ 60 ms). The talk-spurt is dated from its
 *      first speech-like frame. Offset: the talker is "speaking" until 12 frames (240 ms, the
 *      hangover) pass without a speech-like frame; the gaps inside and between words are bridged.
 *      The end of speech (`lastSpeechEndMs`) is the end of the last speech-like frame, not of the
 *      hangover, so a silence timer measured from it is not biased by the hangover. When the
 *      stationarity rule fires while "speaking", the spurt was a noise step, and it ends at once.
 *
 * WHAT IT GUARANTEES (verified by test/media/vad.test.ts on espeak-ng speech placed at known
 * positions, clean and in seeded white and pink noise at 20 dB S/N):
 *   - a recordResponse timer built on it (fire when no speech for the timeout) fires within
 *     ±100 ms of the true time, for initial-silence and max-silence timeouts of 1 s and 2 s;
 *   - pauses between words and sentences (≤ 400 ms) are not taken for the end of speech;
 *   - stationary noise 20 dB below speech level is never speech once 500 ms have passed from the
 *     start or from a step in its level (±10 dB);
 *   - speech 20 dB quieter (−40 dBFS) is detected as well as normal speech: only level relative to
 *     the floor matters.
 * What it does not promise: telling speech from other non-stationary sounds (music, babble close
 * to speech level, a slammed door); those look like speech to any energy detector.
 */

const SAMPLE_RATE = 16000;
/** Mean square of a full-scale sine: the 0 dBFS reference. */
const FULL_SCALE_POWER = (32767 * 32767) / 2;
/** Levels are clamped here (−100 dBFS), which also makes digital silence finite. */
const MIN_LEVEL_DB = -100;

export interface SpeechDetectorOptions {
  /** Samples per frame (default 320 = 20 ms at 16 kHz). process() takes frames of exactly this size. */
  frameSamples?: number;
  /** dB above a band's noise floor for the band to count as speech-like when not speaking. Default 9. */
  onsetDb?: number;
  /** dB above a band's noise floor for the band to count as speech-like while speaking. Default 6. */
  continueDb?: number;
  /** Absolute minimum level of speech in a band, dBFS. Default −75. */
  minSpeechDbfs?: number;
  /** Hangover: ms without speech-like frames before speaking ends. Default 240. */
  hangoverMs?: number;
  /** Onset: speech-like frames needed among the last `onsetWindow` frames. Default 3 of 4. */
  onsetFrames?: number;
  onsetWindow?: number;
  /** Stationarity rule: window (ms) and largest level spread (dB) of a steady background. Default 240 ms, 4 dB. */
  steadyMs?: number;
  steadySpreadDb?: number;
  /** Slow rise of the floor, dB per second, outside and inside speech-like frames. Default 3 and 0.5. */
  riseIdleDbPerS?: number;
  riseSpeechDbPerS?: number;
}

/** Noise-floor tracking and the speech-like test for one band. Preallocated; no per-frame allocation. */
class BandTracker {
  /** Level of the last frame, dBFS. */
  level = MIN_LEVEL_DB;
  /** Noise floor, dBFS. */
  floor = MIN_LEVEL_DB;
  /** Whether the last frame was speech-like in this band. */
  active = false;
  /** Whether the last frame's update raised the floor by the stationarity rule. */
  jumped = false;
  private init = false;
  private readonly ring: Float32Array;
  private pos = 0;
  private count = 0;

  constructor(
    steadyFrames: number,
    private readonly onsetDb: number,
    private readonly continueDb: number,
    private readonly minDb: number,
    private readonly steadySpread: number,
    private readonly riseIdle: number,
    private readonly riseSpeech: number,
  ) {
    this.ring = new Float32Array(steadyFrames);
  }

  reset(): void {
    this.level = MIN_LEVEL_DB;
    this.floor = MIN_LEVEL_DB;
    this.active = false;
    this.jumped = false;
    this.init = false;
    this.ring.fill(0);
    this.pos = 0;
    this.count = 0;
  }

  /** Takes the frame's level; decides speech-like against the floor as it stood; updates the floor. */
  update(level: number, speaking: boolean): boolean {
    this.level = level;
    if (!this.init) {
      this.init = true;
      this.floor = level;
    }
    const floor = this.floor;
    let active = level >= this.minDb && level > floor + (speaking ? this.continueDb : this.onsetDb);

    const ring = this.ring;
    ring[this.pos] = level;
    this.pos = this.pos + 1 === ring.length ? 0 : this.pos + 1;
    if (this.count < ring.length) this.count++;
    let steady = false;
    let lo = level;
    if (this.count === ring.length) {
      let hi = level;
      for (let i = 0; i < ring.length; i++) {
        const v = ring[i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      steady = hi - lo <= this.steadySpread;
    }

    let next: number;
    this.jumped = false;
    if (level < floor) next = level;
    else if (steady && lo > floor) {
      next = lo;
      this.jumped = true;
      // The level sits within steadySpread of the new floor: a steady background, not speech.
      active = false;
    } else next = floor + (active ? this.riseSpeech : this.riseIdle);
    if (next > level) next = level;
    this.floor = next;
    this.active = active;
    return active;
  }
}

export class SpeechDetector {
  readonly frameSamples: number;
  readonly frameMs: number;

  // --- public state (read-only for callers) ---
  /** Speaking now (after onset and hangover smoothing). Same as process()'s last result. */
  speaking = false;
  /** Whether speech has been detected since the start (or the last reset()). */
  speechSeen = false;
  /** Frames processed since the start (or the last reset()). */
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
  bandShare = 0;

  // --- parameters ---
  private readonly hangoverFrames: number;
  private readonly onsetFrames: number;
  private readonly onsetMask: number;
  private readonly invPower: number; // 1 / (frameSamples · FULL_SCALE_POWER)

  // --- filters: [b0, b1, b2, a1, a2] per section, a0 = 1: HP300, HP300, LP3400, LP3400, HP3400, HP3400 ---
  private readonly coef: Float64Array;
  private readonly dcPole: number;
  private dcX = 0;
  private dcY = 0;
  private readonly z: Float64Array; // two state variables per section (transposed direct form II)

  // --- detector state ---
  private readonly mid: BandTracker; // 300–3400 Hz: voiced speech
  private readonly high: BandTracker; // 3400–8000 Hz: fricatives (s, f, sh, th)
  private activeHist = 0; // bit i = frame (now − i) was speech-like
  private hang = 0;

  constructor(opts: SpeechDetectorOptions = {}) {
    const fs = opts.frameSamples ?? 320;
    if (!Number.isInteger(fs) || fs < 16) throw new RangeError(`frameSamples must be an integer ≥ 16, got ${fs}`);
    this.frameSamples = fs;
    this.frameMs = (fs * 1000) / SAMPLE_RATE;
    const perFrame = (ms: number) => Math.max(1, Math.round(ms / this.frameMs));
    this.hangoverFrames = perFrame(opts.hangoverMs ?? 240);
    const win = opts.onsetWindow ?? 4;
    const need = opts.onsetFrames ?? 3;
    if (!(Number.isInteger(win) && win >= 1 && win <= 30 && Number.isInteger(need) && need >= 1 && need <= win)) {
      throw new RangeError(`onset must be 1 ≤ onsetFrames ≤ onsetWindow ≤ 30 (got ${need} of ${win})`);
    }
    this.onsetFrames = need;
    this.onsetMask = (1 << win) - 1;
    this.invPower = 1 / (fs * FULL_SCALE_POWER);
    const band = () =>
      new BandTracker(
        Math.max(3, perFrame(opts.steadyMs ?? 240)),
        opts.onsetDb ?? 9,
        opts.continueDb ?? 6,
        opts.minSpeechDbfs ?? -75,
        opts.steadySpreadDb ?? 4,
        ((opts.riseIdleDbPerS ?? 3) * this.frameMs) / 1000,
        ((opts.riseSpeechDbPerS ?? 0.5) * this.frameMs) / 1000,
      );
    this.mid = band();
    this.high = band();

    this.coef = new Float64Array(30);
    setBiquad(this.coef, 0, 'hp', 300);
    setBiquad(this.coef, 5, 'hp', 300);
    setBiquad(this.coef, 10, 'lp', 3400);
    setBiquad(this.coef, 15, 'lp', 3400);
    setBiquad(this.coef, 20, 'hp', 3400);
    setBiquad(this.coef, 25, 'hp', 3400);
    this.dcPole = Math.exp((-2 * Math.PI * 20) / SAMPLE_RATE); // DC blocker, 20 Hz corner
    this.z = new Float64Array(12);
    this.reset();
  }

  /** Back to the initial state (new recording): counters, floors, filters. */
  reset(): void {
    this.speaking = false;
    this.speechSeen = false;
    this.frames = 0;
    this.nowMs = 0;
    this.lastSpeechStartMs = -1;
    this.lastSpeechEndMs = -1;
    this.frameActive = false;
    this.bandShare = 0;
    this.dcX = 0;
    this.dcY = 0;
    this.z.fill(0);
    this.mid.reset();
    this.high.reset();
    this.activeHist = 0;
    this.hang = 0;
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
    const n = this.frameSamples;
    if (frame.length !== n) throw new RangeError(`frame of ${frame.length} samples, expected ${n}`);
    const c = this.coef;
    const z = this.z;
    const b00 = c[0]!, b01 = c[1]!, b02 = c[2]!, a01 = c[3]!, a02 = c[4]!;
    const b10 = c[5]!, b11 = c[6]!, b12 = c[7]!, a11 = c[8]!, a12 = c[9]!;
    const b20 = c[10]!, b21 = c[11]!, b22 = c[12]!, a21 = c[13]!, a22 = c[14]!;
    const b30 = c[15]!, b31 = c[16]!, b32 = c[17]!, a31 = c[18]!, a32 = c[19]!;
    const b40 = c[20]!, b41 = c[21]!, b42 = c[22]!, a41 = c[23]!, a42 = c[24]!;
    const b50 = c[25]!, b51 = c[26]!, b52 = c[27]!, a51 = c[28]!, a52 = c[29]!;
    let z00 = z[0]!, z01 = z[1]!, z10 = z[2]!, z11 = z[3]!, z20 = z[4]!, z21 = z[5]!;
    let z30 = z[6]!, z31 = z[7]!, z40 = z[8]!, z41 = z[9]!, z50 = z[10]!, z51 = z[11]!;
    const p = this.dcPole;
    let dx = this.dcX;
    let dy = this.dcY;
    let eTotal = 0;
    let eMid = 0;
    let eHigh = 0;
    for (let i = 0; i < n; i++) {
      const x = frame[i]!;
      // DC blocker: d = x − x[−1] + p·d[−1]
      const d = x - dx + p * dy;
      dx = x;
      dy = d;
      eTotal += d * d;
      // mid band: high-pass 300 Hz ×2, low-pass 3400 Hz ×2 (transposed direct form II)
      const y0 = b00 * d + z00;
      z00 = b01 * d - a01 * y0 + z01;
      z01 = b02 * d - a02 * y0;
      const y1 = b10 * y0 + z10;
      z10 = b11 * y0 - a11 * y1 + z11;
      z11 = b12 * y0 - a12 * y1;
      const y2 = b20 * y1 + z20;
      z20 = b21 * y1 - a21 * y2 + z21;
      z21 = b22 * y1 - a22 * y2;
      const y3 = b30 * y2 + z30;
      z30 = b31 * y2 - a31 * y3 + z31;
      z31 = b32 * y2 - a32 * y3;
      eMid += y3 * y3;
      // high band: high-pass 3400 Hz ×2
      const h0 = b40 * d + z40;
      z40 = b41 * d - a41 * h0 + z41;
      z41 = b42 * d - a42 * h0;
      const h1 = b50 * h0 + z50;
      z50 = b51 * h0 - a51 * h1 + z51;
      z51 = b52 * h0 - a52 * h1;
      eHigh += h1 * h1;
    }
    this.dcX = dx;
    this.dcY = Math.abs(dy) < 1e-30 ? 0 : dy;
    z[0] = z00; z[1] = z01; z[2] = z10; z[3] = z11; z[4] = z20; z[5] = z21;
    z[6] = z30; z[7] = z31; z[8] = z40; z[9] = z41; z[10] = z50; z[11] = z51;
    if (eTotal < 1e-6) z.fill(0); // long digital silence: let no denormals linger

    this.bandShare = eTotal > 0 ? Math.min(1, eMid / eTotal) : 0;
    const speaking = this.speaking;
    const midActive = this.mid.update(toDb(eMid * this.invPower), speaking);
    const highActive = this.high.update(toDb(eHigh * this.invPower), speaking);
    const active = midActive || highActive;
    this.frameActive = active;

    // --- onset / hangover ---
    this.frames++;
    const frameEnd = this.frames * this.frameMs;
    this.nowMs = frameEnd;
    const hist = ((this.activeHist << 1) | (active ? 1 : 0)) & this.onsetMask;
    this.activeHist = hist;
    if (speaking) {
      if (active) {
        this.hang = this.hangoverFrames;
        this.lastSpeechEndMs = frameEnd;
      } else if (this.mid.jumped || this.high.jumped) {
        // The floor caught up with a steady background: what kept "speech" going was a step up
        // in the noise, so there is nothing to bridge.
        this.speaking = false;
        this.hang = 0;
        this.activeHist = 0;
      } else if (--this.hang <= 0) {
        this.speaking = false;
      }
    } else if (active && popcount(hist) >= this.onsetFrames) {
      this.speaking = true;
      this.speechSeen = true;
      this.hang = this.hangoverFrames;
      // Dated from the oldest speech-like frame of the onset window.
      let first = 0;
      for (let b = hist; b > 1; b >>>= 1) first++;
      this.lastSpeechStartMs = frameEnd - (first + 1) * this.frameMs;
      this.lastSpeechEndMs = frameEnd;
    }
    return this.speaking;
  }
}

function toDb(power: number): number {
  return power > 1e-10 ? 10 * Math.log10(power) : MIN_LEVEL_DB;
}

function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** RBJ-cookbook 2nd-order Butterworth (Q = 1/√2) section at `hz`, written as b0 b1 b2 a1 a2. */
function setBiquad(out: Float64Array, at: number, kind: 'hp' | 'lp', hz: number): void {
  const w = (2 * Math.PI * hz) / SAMPLE_RATE;
  const cw = Math.cos(w);
  const alpha = Math.sin(w) / Math.SQRT2; // sin(w) / (2Q), Q = 1/√2
  const a0 = 1 + alpha;
  const k = kind === 'hp' ? (1 + cw) / 2 : (1 - cw) / 2;
  out[at] = k / a0;
  out[at + 1] = (kind === 'hp' ? -2 * k : 2 * k) / a0;
  out[at + 2] = k / a0;
  out[at + 3] = (-2 * cw) / a0;
  out[at + 4] = (1 - alpha) / a0;
}
