// Generated sounds: the record beep, test tones and noise (for virtual users).
import { SAMPLE_RATE } from './MediaFormat.ts';

/** A sine tone with 5 ms raised-cosine edges (no clicks). */
export function sineTone(frequency: number, durationMs: number, dbfs = -12): Int16Array {
  const n = Math.round((SAMPLE_RATE * durationMs) / 1000);
  const out = new Int16Array(n);
  const amp = 32767 * Math.pow(10, dbfs / 20);
  const ramp = Math.min(Math.round(SAMPLE_RATE * 0.005), Math.floor(n / 2));
  for (let i = 0; i < n; i++) {
    let g = 1;
    if (i < ramp) g = 0.5 - 0.5 * Math.cos((Math.PI * i) / ramp);
    else if (i >= n - ramp) g = 0.5 - 0.5 * Math.cos((Math.PI * (n - 1 - i)) / ramp);
    out[i] = Math.round(amp * g * Math.sin((2 * Math.PI * frequency * i) / SAMPLE_RATE));
  }
  return out;
}

/** The beep before recordResponse records: 1 kHz, 300 ms. */
export const RECORD_BEEP = sineTone(1000, 300, -12);

/** White noise from a seeded PRNG (deterministic for tests). */
export function whiteNoise(durationMs: number, dbfs = -40, seed = 1): Int16Array {
  const n = Math.round((SAMPLE_RATE * durationMs) / 1000);
  const out = new Int16Array(n);
  // RMS of a uniform [-a, a] signal is a/√3.
  const a = 32767 * Math.pow(10, dbfs / 20) * Math.sqrt(3);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = Math.round(((s / 0xffffffff) * 2 - 1) * a);
  }
  return out;
}
