/**
 * Sample-rate conversion by polyphase windowed-sinc interpolation (Kaiser window).
 *
 * The ratio outRate/inRate is reduced to L/M. Output sample j sits at input time t = j·M/L and is
 * the sum of the input samples around t weighted by a low-pass kernel h(t − i) whose cut-off lies
 * below the lower of the two Nyquist frequencies, so downsampling does not alias and upsampling
 * leaves no images. The kernel is tabulated once per phase (t − ⌊t⌋ takes L values); for ratios
 * with more than MAX_PHASES phases (odd rates such as 44 056 Hz) the table holds MAX_PHASES + 1
 * phases and coefficients are interpolated linearly between the two nearest.
 *
 * Defaults (fractions of the lower Nyquist frequency): passband 0.85, stopband 0.93, 80 dB
 * stopband attenuation. 48 kHz → 16 kHz therefore passes 0–6.8 kHz flat and removes everything
 * from 7.44 kHz up by ≥ 80 dB.
 *
 * The same object serves whole buffers (Resampler.convert) and streams: process() may be called
 * with chunks of any length; its history buffer is allocated up front (grown only if a chunk
 * exceeds `maxInput`), and it allocates nothing per call. Output is time-aligned with the input
 * (output j corresponds exactly to input time j·inRate/outRate); a stream's output lags by
 * `latency` input samples until flush() supplies the tail.
 */

export interface ResamplerOptions {
  /** Passband edge, as a fraction of the lower Nyquist frequency. Default 0.85. */
  passband?: number;
  /** Stopband edge, as a fraction of the lower Nyquist frequency. Default 0.93. */
  stopband?: number;
  /** Stopband attenuation in dB. Default 80. */
  attenuationDb?: number;
  /** Largest chunk process() is expected to receive (sizes the history buffer). Default 4096. */
  maxInput?: number;
}

const MAX_PHASES = 1024;

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** Zeroth-order modified Bessel function of the first kind (series), for the Kaiser window. */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function kaiserBeta(attDb: number): number {
  if (attDb > 50) return 0.1102 * (attDb - 8.7);
  if (attDb >= 21) return 0.5842 * Math.pow(attDb - 21, 0.4) + 0.07886 * (attDb - 21);
  return 0;
}

function checkRates(inRate: number, outRate: number): void {
  if (!Number.isInteger(inRate) || !Number.isInteger(outRate) || inRate <= 0 || outRate <= 0) {
    throw new RangeError(`sample rates must be positive integers (got ${inRate} → ${outRate})`);
  }
}

/** A filter's shape: what its table is made from, and the table's dimensions. */
interface Design {
  key: string;
  up: number;
  down: number;
  taps: number; // K: input samples per output (even; 1 for a passthrough)
  half: number;
  phases: number;
  rows: number;
  exact: boolean;
  fc: number; // cut-off, cycles per input sample
  beta: number;
  i0b: number;
}

function design(up: number, down: number, passband: number, stopband: number, att: number): Design {
  if (!(passband > 0 && stopband > passband && stopband <= 1)) {
    throw new RangeError('resampler needs 0 < passband < stopband ≤ 1');
  }
  // Kernel in units of input samples: cut-off and transition in cycles per input sample.
  const scale = Math.min(1, up / down);
  const fc = 0.5 * scale * (passband + stopband) / 2;
  const tw = 0.5 * scale * (stopband - passband);
  const span = (att - 7.95) / (2.285 * 2 * Math.PI * tw); // Kaiser length estimate
  const half = 2 * Math.max(1, Math.ceil(span / 4)); // even, so K is a multiple of 4
  const taps = up === down ? 1 : 2 * half;
  const exact = up <= MAX_PHASES;
  const phases = exact ? up : MAX_PHASES;
  const beta = kaiserBeta(att);
  return { key: `${up}/${down}/${passband}/${stopband}/${att}`, up, down, taps, half, phases, rows: exact ? phases : phases + 1, exact, fc, beta, i0b: besselI0(beta) };
}

/** Fills rows [from, to) of a design's table: the windowed sinc at each phase, normalised to unity gain at DC. */
function fillRows(d: Design, table: Float64Array, from: number, to: number): void {
  const { taps: K, half, fc, beta, i0b } = d;
  for (let p = from; p < to; p++) {
    const frac = p / d.phases;
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const t = frac + half - 1 - k;
      let v = 0;
      if (Math.abs(t) < half) {
        const x = 2 * fc * t;
        const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
        const r = t / half;
        v = (2 * fc * sinc * besselI0(beta * Math.sqrt(1 - r * r))) / i0b;
      }
      table[p * K + k] = v;
      sum += v;
    }
    for (let k = 0; k < K; k++) table[p * K + k] /= sum;
  }
}

/**
 * Tables built so far, shared by every resampler of the same design (read-only), least recently
 * used first, and kept while they add up to TABLE_CACHE_BYTES: a process converts prompts of a few
 * rates over and over.
 */
const TABLES = new Map<string, Float64Array>();
const TABLE_CACHE_BYTES = 16 << 20;
/** Table entries prepare() fills between pauses (~2 ms of work). */
const PREPARE_SLICE = 16384;

/** Empties the cache of tables (tests: a table built cold). */
export function forgetResamplerTables(): void {
  TABLES.clear();
}

function remember(key: string, table: Float64Array): void {
  TABLES.set(key, table);
  let bytes = 0;
  for (const t of TABLES.values()) bytes += t.byteLength;
  for (const [k, t] of TABLES) {
    if (bytes <= TABLE_CACHE_BYTES || k === key) break;
    TABLES.delete(k);
    bytes -= t.byteLength;
  }
}

export class Resampler {
  readonly inRate: number;
  readonly outRate: number;
  /** Output rate / input rate = up / down (reduced). */
  readonly up: number;
  readonly down: number;
  /** Input samples a streamed output lags behind its input until flush(). */
  readonly latency: number;

  private readonly taps: number; // K: input samples per output
  private readonly phases: number; // table rows
  private readonly exact: boolean; // one table row per phase (no interpolation)
  private readonly table: Float64Array; // (phases [+1]) × taps
  private readonly stepInt: number; // ⌊M/L⌋
  private readonly stepRem: number; // M mod L
  private readonly passthrough: boolean;

  // stream state
  private hist: Float64Array;
  private histLen = 0; // valid samples in hist
  private histStart = 0; // absolute input index of hist[0]
  private ipos = 0; // absolute ⌊t⌋ of the next output
  private phase = 0; // (t − ⌊t⌋)·L of the next output
  private inputCount = 0; // real input samples pushed so far
  private flushed = false;

  constructor(inRate: number, outRate: number, opts: ResamplerOptions = {}) {
    checkRates(inRate, outRate);
    this.inRate = inRate;
    this.outRate = outRate;
    const g = gcd(inRate, outRate);
    this.up = outRate / g;
    this.down = inRate / g;
    this.passthrough = this.up === this.down;
    const passband = opts.passband ?? 0.85;
    const stopband = opts.stopband ?? 0.93;

    const d = design(this.up, this.down, passband, stopband, opts.attenuationDb ?? 80);
    this.taps = d.taps;
    this.latency = this.passthrough ? 0 : d.taps / 2;
    this.exact = d.exact;
    this.phases = d.phases;
    const key = d.key;
    let table = TABLES.get(key);
    if (table) {
      TABLES.delete(key); // (to the end: the most recently used)
    } else {
      table = new Float64Array(d.rows * d.taps);
      if (!this.passthrough) fillRows(d, table, 0, d.rows);
    }
    remember(key, table);
    this.table = table;
    this.stepInt = Math.floor(this.down / this.up);
    this.stepRem = this.down % this.up;

    const maxInput = Math.max(1, opts.maxInput ?? 4096);
    this.hist = new Float64Array(this.taps + maxInput + 8);
    this.reset();
  }

  /** Restarts the stream (history cleared, time back to zero). */
  reset(): void {
    this.hist.fill(0);
    // Zeros before input index 0 so the first outputs see silence on their left.
    this.histLen = this.passthrough ? 0 : this.taps / 2 - 1;
    this.histStart = -this.histLen;
    this.ipos = 0;
    this.phase = 0;
    this.inputCount = 0;
    this.flushed = false;
  }

  /** An upper bound on the samples process() can return for `inputLength` more input. */
  maxOutputLength(inputLength: number): number {
    const pendingIn = this.histStart + this.histLen - this.ipos + inputLength;
    return Math.ceil((Math.max(0, pendingIn) * this.up) / this.down) + 2;
  }

  /** Exact output length of a whole buffer of `inputLength` samples (convert()). */
  static outputLength(inputLength: number, inRate: number, outRate: number): number {
    const g = gcd(inRate, outRate);
    return Math.ceil((inputLength * (outRate / g)) / (inRate / g));
  }

  /**
   * Builds the filter table for these rates and options ahead of a constructor, a few rows at a time,
   * awaiting `pause()` between them: the table of an odd rate (such as 44 056 Hz → 16 kHz: 1,025 rows
   * of 348 taps) takes ~30 ms in one piece, which the thread the media clock runs on must not spend
   * at once. The constructor then finds it in the cache of tables.
   */
  static async prepare(inRate: number, outRate: number, opts: ResamplerOptions, pause: () => Promise<void>): Promise<void> {
    checkRates(inRate, outRate);
    const g = gcd(inRate, outRate);
    const d = design(outRate / g, inRate / g, opts.passband ?? 0.85, opts.stopband ?? 0.93, opts.attenuationDb ?? 80);
    if (d.up === d.down || TABLES.has(d.key)) return;
    const table = new Float64Array(d.rows * d.taps);
    const step = Math.max(1, Math.floor(PREPARE_SLICE / d.taps));
    for (let p = 0; p < d.rows; p += step) {
      fillRows(d, table, p, Math.min(d.rows, p + step));
      await pause();
    }
    if (!TABLES.has(d.key)) remember(d.key, table); // (another may have built it meanwhile)
  }

  /** Feeds float samples; writes what is ready into `output` and returns the count written. */
  process(input: Float32Array, output: Float32Array): number {
    this.push(input, input.length);
    return this.produce(output, 0);
  }

  /** Feeds 16-bit samples; writes rounded, clipped 16-bit output; returns the count written. */
  processInt16(input: Int16Array, output: Int16Array): number {
    this.push(input, input.length);
    return this.produceInt16(output, 0);
  }

  /** Ends the stream: emits the outputs still held back by the filter's look-ahead. */
  flush(output: Float32Array): number {
    this.pushTail();
    return this.produce(output, 0);
  }

  flushInt16(output: Int16Array): number {
    this.pushTail();
    return this.produceInt16(output, 0);
  }

  /** Converts a whole buffer; output length is ⌈n·outRate/inRate⌉, time-aligned with the input. */
  static convert(input: Float32Array, inRate: number, outRate: number, opts: ResamplerOptions = {}): Float32Array {
    const r = new Resampler(inRate, outRate, { ...opts, maxInput: input.length + 1 });
    const out = new Float32Array(Resampler.outputLength(input.length, inRate, outRate));
    let n = r.process(input, out);
    if (n < out.length) n += r.flush(out.subarray(n));
    return out;
  }

  // ---------------------------------------------------------------------------------------------

  private push(input: ArrayLike<number>, len: number): void {
    if (this.flushed) throw new Error('resampler already flushed; call reset() first');
    this.ensure(len);
    const h = this.hist;
    let w = this.histLen;
    for (let i = 0; i < len; i++) h[w++] = input[i]!;
    this.histLen = w;
    this.inputCount += len;
  }

  private pushTail(): void {
    if (this.flushed) return;
    const n = this.passthrough ? 0 : this.taps / 2 + 1;
    this.ensure(n);
    this.hist.fill(0, this.histLen, this.histLen + n);
    this.histLen += n;
    this.flushed = true;
  }

  private ensure(extra: number): void {
    if (this.histLen + extra <= this.hist.length) return;
    const bigger = new Float64Array(Math.max(this.hist.length * 2, this.histLen + extra + 8));
    bigger.set(this.hist.subarray(0, this.histLen));
    this.hist = bigger;
  }

  /** Discards history no future output needs. */
  private compact(): void {
    const keepFrom = this.passthrough ? this.ipos : this.ipos - this.taps / 2 + 1; // absolute
    const drop = keepFrom - this.histStart;
    if (drop <= 0) return;
    const d = Math.min(drop, this.histLen);
    this.hist.copyWithin(0, d, this.histLen);
    this.histLen -= d;
    this.histStart += d;
  }

  /** Whether the inputs of the next output are all held (and it is one the input has). */
  private ready(): boolean {
    const held = this.histStart + this.histLen;
    return (this.passthrough ? this.ipos < held : this.ipos + this.taps / 2 < held) && this.ipos < this.inputCount;
  }

  /** The next output sample (ready() must hold); moves past it. */
  private next(): number {
    const h = this.hist;
    if (this.passthrough) return h[this.ipos++ - this.histStart]!;
    const K = this.taps;
    const table = this.table;
    const base = this.ipos - K / 2 + 1 - this.histStart;
    let acc = 0;
    if (this.exact) {
      const row = this.phase * K;
      // K is a multiple of 4: independent accumulators let the chains run in parallel
      let acc1 = 0, acc2 = 0, acc3 = 0;
      for (let k = 0; k < K; k += 4) {
        const b = base + k, t = row + k;
        acc += h[b]! * table[t]!;
        acc1 += h[b + 1]! * table[t + 1]!;
        acc2 += h[b + 2]! * table[t + 2]!;
        acc3 += h[b + 3]! * table[t + 3]!;
      }
      acc += acc1 + acc2 + acc3;
    } else {
      const pos = (this.phase / this.up) * this.phases;
      const p0 = Math.floor(pos);
      const mu = pos - p0;
      const r0 = p0 * K;
      const r1 = r0 + K;
      for (let k = 0; k < K; k++) {
        const c0 = table[r0 + k]!;
        acc += h[base + k]! * (c0 + mu * (table[r1 + k]! - c0));
      }
    }
    this.ipos += this.stepInt;
    this.phase += this.stepRem;
    if (this.phase >= this.up) {
      this.phase -= this.up;
      this.ipos++;
    }
    return acc;
  }

  // (one loop per output type: each stays monomorphic)
  private produce(out: Float32Array, o: number): number {
    const start = o;
    while (o < out.length && this.ready()) out[o++] = this.next();
    this.compact();
    return o - start;
  }

  private produceInt16(out: Int16Array, o: number): number {
    const start = o;
    while (o < out.length && this.ready()) out[o++] = clip16(this.next());
    this.compact();
    return o - start;
  }
}

function clip16(v: number): number {
  const r = Math.round(v);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}
