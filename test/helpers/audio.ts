// Audio for tests and benches: speech from espeak-ng, deterministic noise, DTMF tone pairs, and
// measurements (energy, Goertzel tone amplitude, tone runs, WAV channels). Signals are 16-bit
// samples; levels are dBFS, 0 dBFS being a full-scale sine (peak 32767). The rate is 16 kHz unless
// a function takes another.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseWav, readWavFormat } from '../../src/media/audio/Wav.ts';

const exec = promisify(execFile);
const RATE = 16000;
const FRAME = 320; // 20 ms
const FRAME_MS = 20;

// ------------------------------------------------------------------------------ levels, samples

/** Peak amplitude of a sine at `dbfs`. */
export const dbfsAmplitude = (dbfs: number): number => 32767 * Math.pow(10, dbfs / 20);

/** Rounds to 16-bit samples, clipping at full scale. */
export function toInt16(buf: Float64Array): Int16Array {
  const out = new Int16Array(buf.length);
  for (let i = 0; i < buf.length; i++) {
    const v = Math.round(buf[i]!);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}

/** Sum of squares of x[start, start + n). */
export function energy(x: ArrayLike<number>, start: number, n: number): number {
  let e = 0;
  for (let i = start; i < start + n; i++) e += x[i]! * x[i]!;
  return e;
}

/** RMS of the 20 ms frame `k` of x. */
export const frameRms = (x: Int16Array, k: number): number => Math.sqrt(energy(x, k * FRAME, FRAME) / FRAME);

/** Whether every sample is zero. */
export const isSilent = (x: Int16Array): boolean => x.every((v) => v === 0);

// ------------------------------------------------------------------------------ noise (deterministic)

/**
 * xorshift32, a deterministic uniform source: values in [0, 1), or with `open` in (0, 1) (never 0,
 * for logarithms). A zero seed stands for 0x9e3779b9.
 */
export function prng(seed: number, opts: { open?: boolean } = {}): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  const offset = opts.open ? 0.5 : 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + offset) / 4294967296;
  };
}

/** One standard normal value from a uniform source (Box–Muller, two draws). */
export function gaussian(rnd: () => number): number {
  let u = rnd();
  while (u < 1e-12) u = rnd();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
}

/** Adds Gaussian white noise of RMS `rms` to every sample of `buf`. */
export function addGaussianNoise(buf: Float64Array, rms: number, rnd: () => number): void {
  for (let i = 0; i < buf.length; i++) buf[i] += rms * gaussian(rnd);
}

/** `seconds` of Gaussian white noise with the RMS of a sine at `dbfs`. */
export function whiteNoiseAt(dbfs: number, seconds: number, rnd: () => number, rate = RATE): Int16Array {
  const b = new Float64Array(seconds * rate);
  addGaussianNoise(b, dbfsAmplitude(dbfs) / Math.SQRT2, rnd);
  return toInt16(b);
}

/** `seconds` of `speech` (silence after its end) with Gaussian white noise of RMS `rms` added while it lasts. */
export function speechInNoise(speech: Int16Array, seconds: number, rms: number, rnd: () => number, rate = RATE): Int16Array {
  const b = new Float64Array(seconds * rate);
  for (let i = 0; i < b.length && i < speech.length; i++) b[i] = speech[i]! + rms * gaussian(rnd);
  return toInt16(b);
}

/** Scales `x` in place to unit RMS. */
export function unitRms(x: Float64Array): Float64Array {
  let e = 0;
  for (const v of x) e += v * v;
  const k = 1 / Math.sqrt(e / x.length);
  for (let i = 0; i < x.length; i++) x[i]! *= k;
  return x;
}

/** Gaussian white noise, unit RMS (Box–Muller pairs from `prng(seed, { open: true })`). */
export function whiteNoise(n: number, seed: number): Float64Array {
  const r = prng(seed, { open: true });
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const m = Math.sqrt(-2 * Math.log(r()));
    const a = 2 * Math.PI * r();
    out[i] = m * Math.cos(a);
    if (i + 1 < n) out[i + 1] = m * Math.sin(a);
  }
  return unitRms(out);
}

/**
 * Pink (1/f) noise, unit RMS: a sum of independent white noises, each through a one-pole low-pass
 * with corners an octave apart (10 Hz … 5 kHz), weighted 1/√corner. Each low-pass contributes a flat
 * spectrum up to its corner; the weighting makes the sum fall 3 dB per octave.
 */
export function pinkNoise(n: number, seed: number, rate = RATE): Float64Array {
  const r = prng(seed, { open: true });
  const K = 10;
  const pole = new Float64Array(K);
  const gain = new Float64Array(K);
  const state = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const fc = 10 * 2 ** k;
    pole[k] = Math.exp((-2 * Math.PI * fc) / rate);
    gain[k] = 1 / Math.sqrt(fc);
  }
  const out = new Float64Array(n);
  let spare = NaN;
  const gauss = () => {
    if (!Number.isNaN(spare)) {
      const v = spare;
      spare = NaN;
      return v;
    }
    const m = Math.sqrt(-2 * Math.log(r()));
    const a = 2 * Math.PI * r();
    spare = m * Math.sin(a);
    return m * Math.cos(a);
  };
  for (let i = 0; i < n; i++) {
    let y = 0;
    for (let k = 0; k < K; k++) {
      state[k] = pole[k]! * state[k]! + (1 - pole[k]!) * gauss();
      y += gain[k]! * state[k]!;
    }
    out[i] = y;
  }
  return unitRms(out);
}

// ------------------------------------------------------------------------------ DTMF

export const DTMF_KEYS = '123A456B789C*0#D';
export const DTMF_LOW = [697, 770, 852, 941];
export const DTMF_HIGH = [1209, 1336, 1477, 1633];
/** Nominal level of each tone of a pair, dBFS. */
export const DTMF_NOMINAL_DBFS = -10;

export interface DtmfLevels {
  /** dBFS per tone (default −10). */
  lowDb?: number;
  highDb?: number;
  /** Frequency deviation, fraction of nominal (0.015 = +1.5 %). */
  lowDev?: number;
  highDev?: number;
}

/** Adds `key`'s tone pair to samples [n0, n1) of `buf`, both tones at phase 0 at n0. */
export function addDtmfTone(buf: Float64Array, key: string, n0: number, n1: number, t: DtmfLevels = {}, rate = RATE): void {
  const k = DTMF_KEYS.indexOf(key);
  const fl = DTMF_LOW[k >> 2]! * (1 + (t.lowDev ?? 0));
  const fh = DTMF_HIGH[k & 3]! * (1 + (t.highDev ?? 0));
  const al = dbfsAmplitude(t.lowDb ?? DTMF_NOMINAL_DBFS);
  const ah = dbfsAmplitude(t.highDb ?? DTMF_NOMINAL_DBFS);
  const end = Math.min(buf.length, n1);
  for (let n = n0; n < end; n++) {
    const s = (n - n0) / rate;
    buf[n] += al * Math.sin(2 * Math.PI * fl * s) + ah * Math.sin(2 * Math.PI * fh * s);
  }
}

/** White-noise RMS for `snrDb` = power of one tone at `toneDbfs` over the noise power in 0–4 kHz (at 16 kHz). */
export function dtmfNoiseRms(toneDbfs: number, snrDb: number): number {
  const tonePower = dbfsAmplitude(toneDbfs) ** 2 / 2;
  const bandPower = tonePower / Math.pow(10, snrDb / 10); // wanted in 0–4 kHz
  return Math.sqrt(bandPower * 2); // white noise at 16 kHz spreads over 0–8 kHz
}

// ------------------------------------------------------------------------------ tone analysis

/** Amplitude of the `hz` component of x[start, start + n) (Goertzel). A full sine of amplitude A gives ≈ A. */
export function toneAmplitude(x: Int16Array, start: number, n: number, hz: number, rate = RATE): number {
  const w = (2 * Math.PI * hz) / rate;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = x[start + i]! + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const re = s1 - s2 * Math.cos(w);
  const im = s2 * Math.sin(w);
  return (2 * Math.sqrt(re * re + im * im)) / n;
}

/** A run of 20 ms frames, [start, end). */
export interface Run {
  start: number;
  end: number;
}
export const runMs = (r: Run): number => (r.end - r.start) * FRAME_MS;

/** Runs of 20 ms frames in which `hz` is strong (amplitude ≥ 2000) and dominant (most of the frame's energy). */
export function toneRuns(x: Int16Array, hz: number): Run[] {
  const frames = Math.floor(x.length / FRAME);
  const out: Run[] = [];
  let cur: Run | null = null;
  for (let k = 0; k < frames; k++) {
    const amp = toneAmplitude(x, k * FRAME, FRAME, hz);
    if (amp > 2000 && amp > 0.6 * Math.SQRT2 * frameRms(x, k)) {
      if (cur && cur.end === k) cur.end = k + 1;
      else out.push((cur = { start: k, end: k + 1 }));
    }
  }
  return out;
}

/** Sum of the tone's runs, ms. */
export const toneMs = (x: Int16Array, hz: number): number => toneRuns(x, hz).reduce((a, r) => a + runMs(r), 0);

export function assertNear(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ±${tolerance} of ${expected}`);
}

// ------------------------------------------------------------------------------ WAV

/** A 16-bit WAV's channels, de-interleaved, and its rate (asserted equal to `rate` when given). */
export function readChannels(bytes: Uint8Array, rate?: number): { channels: Int16Array[]; rate: number } {
  const f = readWavFormat(bytes);
  if (rate !== undefined) assert.equal(f.sampleRate, rate);
  assert.equal(f.bitsPerSample, 16);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + f.dataOffset, f.dataLength);
  const out = Array.from({ length: f.channels }, () => new Int16Array(f.frames));
  for (let i = 0; i < f.frames; i++) for (let c = 0; c < f.channels; c++) out[c]![i] = dv.getInt16((i * f.channels + c) * 2, true);
  return { channels: out, rate: f.sampleRate };
}

// ------------------------------------------------------------------------------ speech (espeak-ng)

/** espeak-ng's version line, or null when it is not installed (or does not run). */
export function espeakVersion(): string | null {
  const probe = spawnSync('espeak-ng', ['--version'], { encoding: 'utf8' });
  return probe.error || probe.status !== 0 ? null : probe.stdout.trim();
}

/** Throws, saying how to install it, unless espeak-ng runs; `need` says what needs it. Returns its version line. */
export function requireEspeak(need: string): string {
  const probe = spawnSync('espeak-ng', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `espeak-ng is not installed (or does not run): ${need}. ` +
        'Install the Debian package with `apt-get update && apt-get install -y espeak-ng` (scripts/test.sh installs it). ' +
        `(${probe.error ? probe.error.message : `exit status ${probe.status}: ${probe.stderr}`})`,
    );
  }
  return probe.stdout.trim();
}

export interface Voice {
  /** espeak-ng voice (-v), e.g. 'en-us' or 'en+f3'. */
  voice: string;
  /** Words per minute (-s). */
  wpm: number;
  /** Pitch 0–99 (-p); espeak-ng's default when absent. */
  pitch?: number;
}

/** What to say: a text, or a text file (for long texts; see SpeechSynth.writeText). */
export type Speech = string | { file: string };

/** espeak-ng speaking into a temporary directory of its own; close() removes it. */
export class SpeechSynth {
  readonly dir: string;
  private files = 0;

  /** Checks nothing: see openSpeechSynth(). */
  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
  }

  /** Writes a text into the directory, to be spoken as `{ file }`. */
  async writeText(name: string, text: string): Promise<{ file: string }> {
    const file = join(this.dir, `${name}.txt`);
    await writeFile(file, text);
    return { file };
  }

  /** The speech as 16 kHz mono samples, read through Wav.ts as Telegraph reads WAVs. */
  async speak(what: Speech, v: Voice): Promise<Int16Array> {
    const wav = join(this.dir, `${this.files++}.wav`);
    const args = ['-v', v.voice, '-s', String(v.wpm), ...(v.pitch === undefined ? [] : ['-p', String(v.pitch)]), '-w', wav];
    await exec('espeak-ng', typeof what === 'string' ? [...args, what] : [...args, '-f', what.file]);
    return parseWav(await readFile(wav)).samples;
  }

  /** speak() for every job, at most `concurrency` espeak-ng processes at a time; the results in the jobs' order. */
  async speakAll(jobs: (Voice & { what: Speech })[], concurrency: number): Promise<Int16Array[]> {
    const out: Int16Array[] = [];
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await this.speak(jobs[i]!.what, jobs[i]!);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return out;
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** requireEspeak(need), then a SpeechSynth. */
export function openSpeechSynth(prefix: string, need: string): SpeechSynth {
  requireEspeak(need);
  return new SpeechSynth(prefix);
}
