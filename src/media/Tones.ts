// Generated sounds: the record beep, test tones and noise (for virtual users). A Sound makes its
// samples as they are played, so a virtual user's ten minutes of tone or noise take no memory;
// sineTone() and whiteNoise() render one whole.
import { SAMPLE_RATE } from './MediaFormat.ts';

/** Samples made on demand, in order: `fill(out, at, n)` writes samples at…at+n−1 of the sound into out[0…n−1]. */
export interface Sound {
  readonly samples: number;
  fill(out: Int16Array, at: number, n: number): void;
  /** Back to the start (a sound with state, such as noise, starts its sequence again). */
  rewind(): void;
}

/** A sine tone with 5 ms raised-cosine edges (no clicks). */
export class ToneSound implements Sound {
  readonly samples: number;
  private readonly amp: number;
  private readonly ramp: number;

  constructor(private readonly frequency: number, durationMs: number, dbfs = -12) {
    this.samples = Math.round((SAMPLE_RATE * durationMs) / 1000);
    this.amp = 32767 * Math.pow(10, dbfs / 20);
    this.ramp = Math.min(Math.round(SAMPLE_RATE * 0.005), Math.floor(this.samples / 2));
  }

  fill(out: Int16Array, at: number, n: number): void {
    const last = this.samples - 1, ramp = this.ramp, amp = this.amp, f = this.frequency;
    for (let k = 0; k < n; k++) {
      const i = at + k;
      let g = 1;
      if (i < ramp) g = 0.5 - 0.5 * Math.cos((Math.PI * i) / ramp);
      else if (i > last - ramp) g = 0.5 - 0.5 * Math.cos((Math.PI * (last - i)) / ramp);
      out[k] = Math.round(amp * g * Math.sin((2 * Math.PI * f * i) / SAMPLE_RATE));
    }
  }

  rewind(): void {}
}

/** White noise from a seeded PRNG (xorshift32; deterministic for tests), uniform, at an RMS of `dbfs`. */
export class NoiseSound implements Sound {
  readonly samples: number;
  private readonly a: number;
  private state: number;

  constructor(durationMs: number, dbfs = -40, private readonly seed = 1) {
    this.samples = Math.round((SAMPLE_RATE * durationMs) / 1000);
    // RMS of a uniform [-a, a] signal is a/√3.
    this.a = 32767 * Math.pow(10, dbfs / 20) * Math.sqrt(3);
    this.state = seed >>> 0 || 1;
  }

  fill(out: Int16Array, _at: number, n: number): void {
    const a = this.a;
    let s = this.state;
    for (let k = 0; k < n; k++) {
      s ^= s << 13; s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5; s >>>= 0;
      out[k] = Math.round(((s / 0xffffffff) * 2 - 1) * a);
    }
    this.state = s;
  }

  rewind(): void {
    this.state = this.seed >>> 0 || 1;
  }
}

function render(sound: Sound): Int16Array {
  const out = new Int16Array(sound.samples);
  sound.fill(out, 0, out.length);
  return out;
}

/** A sine tone with 5 ms raised-cosine edges, whole. */
export function sineTone(frequency: number, durationMs: number, dbfs = -12): Int16Array {
  return render(new ToneSound(frequency, durationMs, dbfs));
}

/** The beep before recordResponse records: 1 kHz, 300 ms. */
export const RECORD_BEEP = sineTone(1000, 300, -12);

/** White noise from a seeded PRNG (deterministic for tests), whole. */
export function whiteNoise(durationMs: number, dbfs = -40, seed = 1): Int16Array {
  return render(new NoiseSound(durationMs, dbfs, seed));
}
