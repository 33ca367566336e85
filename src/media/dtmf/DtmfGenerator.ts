/**
 * DTMF generator for the media engine (16-bit linear PCM, 16 kHz mono by default).
 *
 * Keys are queued with enqueue(); generate(out) then fills one caller-supplied frame at a time
 * (any length, normally 320 samples) with tones, gaps and, once the queue is empty, silence. It
 * allocates nothing per frame: the queue lives in typed arrays (grown only by enqueue()), the two
 * oscillators are second-order recursions, and events go to listener methods given once.
 *
 * Defaults follow ITU-T Q.23 / Q.24 practice: 100 ms tone, 100 ms gap (configurable), each tone
 * at −10 dBFS (0 dBFS = a full-scale sine, amplitude 32767), no twist. Consecutive keys are always
 * separated by the gap, also across enqueue() calls, so that a receiver sees separate key presses.
 */

const LOW = [697, 770, 852, 941] as const;
const HIGH = [1209, 1336, 1477, 1633] as const;
const LAYOUT = '123A456B789C*0#D';
const KEYS = ['1', '2', '3', 'A', '4', '5', '6', 'B', '7', '8', '9', 'C', '*', '0', '#', 'D'] as const;

export interface DtmfToneOptions {
  /** Tone duration, ms. Default 100. */
  toneMs?: number;
  /** Silence before the next key, ms. Default 100. */
  gapMs?: number;
  /** Level of the low-group tone, dBFS. Default −10. */
  lowDbfs?: number;
  /** Level of the high-group tone, dBFS. Default −10. */
  highDbfs?: number;
}

export interface DtmfGeneratorListener {
  /** A key's tone starts at stream sample `sample` (samples generated since construction/reset). */
  keyStarted?(key: string, sample: number): void;
  /** A key's tone ends (its last sample is `sample` − 1). */
  keyEnded?(key: string, sample: number): void;
  /** The last queued key has ended. */
  queueDone?(sample: number): void;
}

export interface DtmfGeneratorOptions extends DtmfToneOptions {
  /** Default 16000. */
  sampleRate?: number;
  listener?: DtmfGeneratorListener;
}

/** Index (0–15) of a key in the keypad layout, −1 if it is not a DTMF key. */
export function dtmfKeyIndex(key: string): number {
  return key.length === 1 ? LAYOUT.indexOf(key.toUpperCase()) : -1;
}

export class DtmfGenerator {
  readonly sampleRate: number;
  private readonly defaults: Required<DtmfToneOptions>;
  private readonly listener: DtmfGeneratorListener | undefined;

  // queue (ring), grown by enqueue()
  private qKey = new Int8Array(32);
  private qTone = new Int32Array(32); // samples
  private qGap = new Int32Array(32);
  private qLowAmp = new Float64Array(32);
  private qHighAmp = new Float64Array(32);
  private qHead = 0;
  private qLen = 0;

  // state
  private sample = 0; // stream position
  private current = -1; // key index playing, −1 when none
  private remaining = 0; // samples left in the current tone
  private gapLeft = 0; // silence still owed before the next tone
  private gapAfter = 0; // gap owed after the current tone
  // oscillators: y[n] = k·y[n−1] − y[n−2]
  private lk = 0;
  private l1 = 0;
  private l2 = 0;
  private hk = 0;
  private h1 = 0;
  private h2 = 0;

  constructor(opts: DtmfGeneratorOptions = {}) {
    this.sampleRate = opts.sampleRate ?? 16000;
    if (!Number.isInteger(this.sampleRate) || this.sampleRate < 8000) throw new RangeError(`unsupported sample rate ${this.sampleRate}`);
    this.defaults = {
      toneMs: opts.toneMs ?? 100,
      gapMs: opts.gapMs ?? 100,
      lowDbfs: opts.lowDbfs ?? -10,
      highDbfs: opts.highDbfs ?? -10,
    };
    this.listener = opts.listener;
  }

  /** True while a tone is playing or keys are queued. */
  get busy(): boolean {
    return this.current >= 0 || this.qLen > 0;
  }

  /** Keys queued and not yet started. */
  get pending(): number {
    return this.qLen;
  }

  /** Samples generated so far. */
  get position(): number {
    return this.sample;
  }

  /** Queues keys ('0'–'9', '*', '#', 'A'–'D'); throws RangeError on any other character. */
  enqueue(keys: string, opts: DtmfToneOptions = {}): void {
    const toneMs = opts.toneMs ?? this.defaults.toneMs;
    const gapMs = opts.gapMs ?? this.defaults.gapMs;
    const lowDb = opts.lowDbfs ?? this.defaults.lowDbfs;
    const highDb = opts.highDbfs ?? this.defaults.highDbfs;
    if (!(toneMs > 0) || !(gapMs >= 0)) throw new RangeError('tone duration must be > 0 and gap ≥ 0');
    for (const ch of keys) {
      if (dtmfKeyIndex(ch) < 0) throw new RangeError(`not a DTMF key: ${JSON.stringify(ch)}`);
    }
    const tone = Math.max(1, Math.round((toneMs * this.sampleRate) / 1000));
    const gap = Math.round((gapMs * this.sampleRate) / 1000);
    const la = 32767 * Math.pow(10, lowDb / 20);
    const ha = 32767 * Math.pow(10, highDb / 20);
    for (const ch of keys) {
      if (this.qLen === this.qKey.length) this.grow();
      const i = (this.qHead + this.qLen) % this.qKey.length;
      this.qKey[i] = dtmfKeyIndex(ch);
      this.qTone[i] = tone;
      this.qGap[i] = gap;
      this.qLowAmp[i] = la;
      this.qHighAmp[i] = ha;
      this.qLen++;
    }
  }

  /** Owes at least `ms` of silence before the next tone (added to nothing already owed: the longer counts). */
  pause(ms: number): void {
    this.gapLeft = Math.max(this.gapLeft, Math.round((ms * this.sampleRate) / 1000));
  }

  /** Drops queued keys and stops the current tone at once. */
  clear(): void {
    this.qLen = 0;
    this.qHead = 0;
    if (this.current >= 0) {
      const key = KEYS[this.current]!;
      this.current = -1;
      this.gapLeft = this.gapAfter;
      this.listener?.keyEnded?.(key, this.sample);
      this.listener?.queueDone?.(this.sample);
    }
  }

  /** Back to an idle generator at stream position 0. */
  reset(): void {
    this.qLen = 0;
    this.qHead = 0;
    this.current = -1;
    this.remaining = 0;
    this.gapLeft = 0;
    this.gapAfter = 0;
    this.sample = 0;
  }

  /**
   * Fills `out` with the next out.length samples (tones, gaps, silence). Returns true if any tone
   * sample was written.
   */
  generate(out: Int16Array): boolean {
    const n = out.length;
    let i = 0;
    let toned = false;
    while (i < n) {
      if (this.current >= 0) {
        const m = Math.min(n - i, this.remaining);
        let l1 = this.l1, l2 = this.l2, h1 = this.h1, h2 = this.h2;
        const lk = this.lk, hk = this.hk;
        for (let j = 0; j < m; j++) {
          const l0 = lk * l1 - l2;
          l2 = l1;
          l1 = l0;
          const h0 = hk * h1 - h2;
          h2 = h1;
          h1 = h0;
          const v = Math.round(l0 + h0);
          out[i + j] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
        }
        this.l1 = l1;
        this.l2 = l2;
        this.h1 = h1;
        this.h2 = h2;
        i += m;
        this.sample += m;
        this.remaining -= m;
        toned = true;
        if (this.remaining === 0) {
          const key = KEYS[this.current]!;
          this.current = -1;
          this.gapLeft = this.gapAfter;
          this.listener?.keyEnded?.(key, this.sample);
          if (this.qLen === 0) this.listener?.queueDone?.(this.sample);
        }
      } else if (this.gapLeft > 0) {
        const m = Math.min(n - i, this.gapLeft);
        out.fill(0, i, i + m);
        i += m;
        this.sample += m;
        this.gapLeft -= m;
      } else if (this.qLen > 0) {
        this.startNext();
      } else {
        out.fill(0, i, n);
        this.sample += n - i;
        i = n;
      }
    }
    return toned;
  }

  private startNext(): void {
    const q = this.qHead;
    this.qHead = (this.qHead + 1) % this.qKey.length;
    this.qLen--;
    const k = this.qKey[q]!;
    this.current = k;
    this.remaining = this.qTone[q]!;
    this.gapAfter = this.qGap[q]!;
    const wl = (2 * Math.PI * LOW[k >> 2]!) / this.sampleRate;
    const wh = (2 * Math.PI * HIGH[k & 3]!) / this.sampleRate;
    // sin(ω·n) from n = 0: seed y[−1] = sin(−ω), y[−2] = sin(−2ω)
    const la = this.qLowAmp[q]!;
    const ha = this.qHighAmp[q]!;
    this.lk = 2 * Math.cos(wl);
    this.l1 = -la * Math.sin(wl);
    this.l2 = -la * Math.sin(2 * wl);
    this.hk = 2 * Math.cos(wh);
    this.h1 = -ha * Math.sin(wh);
    this.h2 = -ha * Math.sin(2 * wh);
    this.listener?.keyStarted?.(KEYS[k]!, this.sample);
  }

  private grow(): void {
    const cap = this.qKey.length * 2;
    const reorder = <T extends Int8Array | Int32Array | Float64Array>(a: T, b: T): T => {
      for (let j = 0; j < this.qLen; j++) b[j] = a[(this.qHead + j) % a.length]!;
      return b;
    };
    this.qKey = reorder(this.qKey, new Int8Array(cap));
    this.qTone = reorder(this.qTone, new Int32Array(cap));
    this.qGap = reorder(this.qGap, new Int32Array(cap));
    this.qLowAmp = reorder(this.qLowAmp, new Float64Array(cap));
    this.qHighAmp = reorder(this.qHighAmp, new Float64Array(cap));
    this.qHead = 0;
  }
}
